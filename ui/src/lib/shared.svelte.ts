// State shared between screens: the account the person is working with (remembered per device),
// a short status message announced to screen readers, and an invitation link scanned on the Scan
// screen (the shell then opens the linking screen with it).
const KEY = 'plusbox.account';

export const shared = $state<{
  accountId: string | null;
  toast: string | null;
  historyStamp: number;
  invite: string | null;
  /** The buyer accounts of this device's invitation (it may use no other), or null. */
  scope: string[] | null;
}>({
  accountId: typeof localStorage !== 'undefined' ? localStorage.getItem(KEY) : null,
  toast: null,
  historyStamp: 0,
  invite: null,
  scope: null,
});

/** Limits the screens to an invitation's buyer accounts (or lifts the limit with null). */
export function setScope(accounts: string[] | null): void {
  shared.scope = accounts && accounts.length > 0 ? accounts : null;
  const first = shared.scope?.[0];
  if (first && !shared.scope?.includes(shared.accountId ?? '')) selectAccount(first);
}

/** Selects the account the screens show, and remembers it on this device. */
export function selectAccount(id: string): void {
  shared.accountId = id;
  if (typeof localStorage !== 'undefined') localStorage.setItem(KEY, id);
}

let toastTimer: ReturnType<typeof setTimeout> | null = null;

/** Shows a short message for a few seconds (also announced by the live region). */
export function toast(message: string): void {
  shared.toast = message;
  if (toastTimer) clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    shared.toast = null;
  }, 5000);
}
