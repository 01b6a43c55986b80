// Words for the dashboard API's error codes; anything else shows the server's own message.
import { t, type Key } from '../lib/i18n/index.svelte';
import { ApiError } from './api';

const KEYS: Record<string, Key> = {
  LOGIN_REQUIRED: 'dash.error.LOGIN_REQUIRED',
  NOT_FOUND: 'dash.error.NOT_FOUND',
  WRONG_PASSWORD: 'dash.login.wrong',
  NO_ADMIN_PASSWORD: 'dash.login.noPassword',
  SERVER_UNREACHABLE: 'error.SERVER_UNREACHABLE',
  BAD_RESPONSE: 'error.BAD_RESPONSE',
};

/** A failure in words and its technical line. */
export function describeApiError(error: unknown): { code: string; text: string; technical: string } {
  const e = error instanceof ApiError ? error : new ApiError('INTERNAL', error instanceof Error ? error.message : String(error), 0);
  const key = KEYS[e.code];
  return { code: e.code, text: key ? t(key) : e.message, technical: t('error.technical', { code: e.code, message: e.message }) };
}
