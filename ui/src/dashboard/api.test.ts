// The dashboard API client's pure parts: URLs (the CSV export's link among them), the wait of a
// rate-limited login from Retry-After, and errors from `{code, message}` bodies.
import { describe, expect, it } from 'vitest';
import { ApiError, apiUrl, csvUrl, errorOf, needsLogin, parseRetryAfter } from './api';

describe('dashboard API URLs', () => {
  it('the CSV export is the API’s export.csv on this origin', () => {
    expect(csvUrl()).toBe('/dashboard/api/export.csv');
  });

  it('a query leaves out empty values and encodes the rest', () => {
    expect(apiUrl('runs', { inviteId: 'inv_A', caseId: '' })).toBe('/dashboard/api/runs?inviteId=inv_A');
    expect(apiUrl('runs', { inviteId: 'a&b c' })).toBe('/dashboard/api/runs?inviteId=a%26b+c');
    expect(apiUrl('traffic', { minutes: 60 })).toBe('/dashboard/api/traffic?minutes=60');
    expect(apiUrl('matrix')).toBe('/dashboard/api/matrix');
  });
});

describe('Retry-After', () => {
  it('takes delta-seconds and HTTP dates (never negative)', () => {
    const now = Date.parse('2026-12-07T10:00:00Z');
    expect(parseRetryAfter('42', now)).toBe(42);
    expect(parseRetryAfter(' 7 ', now)).toBe(7);
    expect(parseRetryAfter('Mon, 07 Dec 2026 10:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Mon, 07 Dec 2026 09:59:00 GMT', now)).toBe(0);
  });

  it('is null when absent or unreadable', () => {
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter('-5')).toBeNull();
  });
});

describe('errors', () => {
  it('a contract error keeps its code, message, status and wait', () => {
    const e = errorOf(429, '{"code":"TOO_MANY_ATTEMPTS","message":"wait"}', '30');
    expect(e).toBeInstanceOf(ApiError);
    expect([e.code, e.message, e.status, e.retryAfter]).toEqual(['TOO_MANY_ATTEMPTS', 'wait', 429, 30]);
  });

  it('a body that is not the contract’s JSON is named by its status', () => {
    expect(errorOf(502, '<html>bad gateway</html>', null).code).toBe('HTTP_502');
    expect(errorOf(500, '', null).message).toBe('HTTP 500');
    expect(errorOf(400, '[1,2]', null).code).toBe('HTTP_400');
  });

  it('a missing or ended session means logging in again', () => {
    expect(needsLogin(errorOf(401, '{"code":"LOGIN_REQUIRED","message":"log in"}', null))).toBe(true);
    expect(needsLogin(errorOf(401, '{"code":"WRONG_PASSWORD","message":"no"}', null))).toBe(true);
    expect(needsLogin(errorOf(404, '{"code":"NOT_FOUND","message":"no"}', null))).toBe(false);
    expect(needsLogin(new Error('x'))).toBe(false);
  });
});
