// Loads the accounts and makes sure a valid one is selected.
import { selectAccount, shared } from './shared.svelte';
import { call } from './transport';
import type { Account } from './types';

/** All accounts; selects the first when the remembered one is gone. */
export async function loadAccounts(): Promise<Account[]> {
  const accounts = await call('accounts', {});
  const first = accounts[0];
  if (first && !accounts.some((a) => a.id === shared.accountId)) selectAccount(first.id);
  return accounts;
}
