// Countdown of a one-time payment code. The phone's clock may differ from the sandbox's (and
// sandbox time can be moved ahead), so the code's lifetime is taken from the server's own
// issuedAt/expiresAt and counted from the moment the code arrived on this device.

/** When a code expires on this device's clock, in ms since the epoch. */
export function localExpiry(issuedAt: string, expiresAt: string, receivedAtMs: number): number {
  const issued = Date.parse(issuedAt);
  const expires = Date.parse(expiresAt);
  if (Number.isNaN(issued) || Number.isNaN(expires) || expires <= issued) return receivedAtMs;
  return receivedAtMs + (expires - issued);
}

/** Whole seconds left (rounded up, never negative). */
export function secondsLeft(expiryMs: number, nowMs: number): number {
  return Math.max(0, Math.ceil((expiryMs - nowMs) / 1000));
}

/** `m:ss` for a number of seconds. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** How long before expiry a fresh code is fetched, so a cashier never scans a dead one. */
export const REFRESH_MARGIN_MS = 5_000;

/** Ms to wait from `nowMs` before fetching the next code (0 = now). */
export function refreshDelay(expiryMs: number, nowMs: number, margin = REFRESH_MARGIN_MS): number {
  return Math.max(0, expiryMs - margin - nowMs);
}
