// Countdown of one-time codes: lifetime from the server, counted on the device's clock.
import { describe, expect, it } from 'vitest';
import { formatSeconds, localExpiry, refreshDelay, REFRESH_MARGIN_MS, secondsLeft } from './countdown';

describe('countdown', () => {
  it('counts the server lifetime from when the code arrived, whatever the device clock says', () => {
    // Sandbox time is a day ahead (clock advance); the code lives 60 s.
    const received = Date.parse('2026-01-01T00:00:00Z');
    const expiry = localExpiry('2026-01-02T10:00:00Z', '2026-01-02T10:01:00Z', received);
    expect(expiry - received).toBe(60_000);
    expect(secondsLeft(expiry, received)).toBe(60);
    expect(secondsLeft(expiry, received + 59_001)).toBe(1);
    expect(secondsLeft(expiry, received + 60_000)).toBe(0);
    expect(secondsLeft(expiry, received + 120_000)).toBe(0);
  });

  it('treats an unreadable or inverted validity as already expired', () => {
    expect(localExpiry('nonsense', '2026-01-02T10:01:00Z', 1000)).toBe(1000);
    expect(localExpiry('2026-01-02T10:01:00Z', '2026-01-02T10:00:00Z', 1000)).toBe(1000);
  });

  it('fetches the next code before expiry, at once when already inside the margin', () => {
    expect(refreshDelay(60_000, 0)).toBe(60_000 - REFRESH_MARGIN_MS);
    expect(refreshDelay(60_000, 58_000)).toBe(0);
    expect(refreshDelay(60_000, 90_000)).toBe(0);
  });

  it('formats m:ss', () => {
    expect(formatSeconds(0)).toBe('0:00');
    expect(formatSeconds(9)).toBe('0:09');
    expect(formatSeconds(60)).toBe('1:00');
    expect(formatSeconds(605.7)).toBe('10:05');
    expect(formatSeconds(-3)).toBe('0:00');
  });
});
