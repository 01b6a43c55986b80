// The dashboard's one way to the server: JSON over `fetch` to `/dashboard/api/…` with the admin
// session cookie (same origin), `{code, message}` errors as an `ApiError` (with the wait of a
// rate-limited login), and the live event stream.
import type { DashboardEvents } from './types';

/** Base path of every dashboard API route. */
export const API = '/dashboard/api';

/** A failed call: the contract's code, the server's words, the HTTP status and any wait. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  /** Seconds to wait before trying again (`Retry-After`), when the server said. */
  readonly retryAfter: number | null;

  constructor(code: string, message: string, status: number, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** `Retry-After` in seconds: delta-seconds or an HTTP date (relative to `now`); null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  // An HTTP date names its day and month in letters; anything else is not one.
  if (!/[a-z]/i.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** The error a non-2xx answer stands for: its `{code, message}` body, else the status. */
export function errorOf(status: number, body: string, retryAfter: string | null): ApiError {
  let code = `HTTP_${status}`;
  let message = body.slice(0, 200) || `HTTP ${status}`;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null) {
      const p = parsed as { code?: unknown; message?: unknown };
      if (typeof p.code === 'string' && p.code !== '') code = p.code;
      if (typeof p.message === 'string') message = p.message;
    }
  } catch {
    /* not JSON: the status speaks */
  }
  return new ApiError(code, message, status, parseRetryAfter(retryAfter));
}

/** The URL of an API path with its query (empty values left out). */
export function apiUrl(path: string, query: Record<string, string | number | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== '') params.set(k, String(v));
  }
  const q = params.toString();
  return `${API}/${path}${q ? `?${q}` : ''}`;
}

/** The CSV export's link (an attachment the browser downloads with the cookie). */
export function csvUrl(): string {
  return apiUrl('export.csv');
}

/** Sends one request; resolves with the JSON body (undefined for 204) or rejects with an `ApiError`. */
export async function api<T>(path: string, options: { method?: 'GET' | 'POST'; body?: unknown; query?: Record<string, string | number | undefined> } = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(apiUrl(path, options.query), {
      method: options.method ?? 'GET',
      credentials: 'same-origin',
      headers: options.body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch (e) {
    throw new ApiError('SERVER_UNREACHABLE', e instanceof Error ? e.message : String(e), 0);
  }
  const text = await response.text();
  if (!response.ok) throw errorOf(response.status, text, response.headers.get('retry-after'));
  if (text === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError('BAD_RESPONSE', `HTTP ${response.status}: ${text.slice(0, 200)}`, response.status);
  }
}

/** Whether an error means the admin must log in (again). */
export function needsLogin(error: unknown): boolean {
  return error instanceof ApiError && (error.code === 'LOGIN_REQUIRED' || error.status === 401);
}

type Listener<E extends keyof DashboardEvents> = (data: DashboardEvents[E]) => void;

/**
 * Follows the live event stream; `onState` hears whether it is connected. The browser
 * reconnects by itself; when it gives up (e.g. the session ended) a new stream is opened after a
 * growing wait. Returns the function that stops it.
 */
export function follow(
  listeners: { [E in keyof DashboardEvents]?: Listener<E> },
  onState: (connected: boolean) => void,
): () => void {
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let backoff = 1000;
  let stopped = false;
  const open = (): void => {
    if (stopped) return;
    const s = new EventSource(apiUrl('events'), { withCredentials: true });
    for (const [name, listener] of Object.entries(listeners)) {
      s.addEventListener(name, (e) => {
        let data: unknown;
        try {
          data = JSON.parse((e as MessageEvent<string>).data || 'null');
        } catch {
          return; // a malformed event is dropped: the next reload is complete anyway
        }
        (listener as (d: unknown) => void)(data);
      });
    }
    s.onopen = () => {
      backoff = 1000;
      onState(true);
    };
    s.onerror = () => {
      onState(false);
      if (s.readyState === EventSource.CLOSED) {
        source = null;
        timer = setTimeout(open, backoff);
        backoff = Math.min(backoff * 2, 30_000);
      }
    };
    source = s;
  };
  open();
  return () => {
    stopped = true;
    source?.close();
    if (timer) clearTimeout(timer);
  };
}
