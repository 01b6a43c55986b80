// Loads the accounts and makes sure a valid one is selected. A device linked through a merchant's
// invitation works with that merchant's own buyer account(s) only (the sandbox refuses it any
// other), so the list is narrowed to them.
import { selectAccount, shared } from './shared.svelte';
import { call } from './transport';
import type { Account } from './types';

/** The accounts this device may use: those of its invitation when it has one (all when none match). */
export function usable(accounts: Account[], scope: string[] | null): Account[] {
  if (!scope || scope.length === 0) return accounts;
  const mine = accounts.filter((a) => scope.includes(a.id));
  return mine.length > 0 ? mine : accounts;
}

/** The accounts this device uses; selects the first when the remembered one is not among them. */
export async function loadAccounts(): Promise<Account[]> {
  const accounts = usable(await call('accounts', {}), shared.scope);
  const first = accounts[0];
  if (first && !accounts.some((a) => a.id === shared.accountId)) selectAccount(first.id);
  return accounts;
}
