// The one way the UI talks to Plusbox. Inside the Tauri app a command is an `invoke` and events
// come from `listen`; in a browser a command is `POST /rpc/<command>` and events come from the
// server-sent event stream `/rpc/events`. Same names, same JSON, same `{code, message}` errors,
// which surface as a `CommandError` whatever the host.

import type { CommandName, Commands, ErrorCode, EventName, Events } from './types';

/** A command failed: `code` is the contract's error code, `message` the server's own words. */
export class CommandError extends Error {
  readonly code: ErrorCode | string;
  /** HTTP status in a browser (0 when the server was not reached), undefined under Tauri. */
  readonly status: number | undefined;

  constructor(code: ErrorCode | string, message: string, status?: number) {
    super(message);
    this.name = 'CommandError';
    this.code = code;
    this.status = status;
  }
}

interface TauriWindow {
  __TAURI_INTERNALS__?: unknown;
}

/** Whether the UI runs inside the Tauri shell. */
export function inTauri(): boolean {
  return typeof window !== 'undefined' && (window as TauriWindow).__TAURI_INTERNALS__ !== undefined;
}

/** Turns anything a host threw into a `CommandError` (the `{code, message}` shape when present). */
export function toCommandError(raw: unknown, status?: number): CommandError {
  if (raw instanceof CommandError) return raw;
  if (typeof raw === 'object' && raw !== null) {
    const { code, message } = raw as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && code.length > 0) {
      return new CommandError(code, typeof message === 'string' ? message : code, status);
    }
  }
  if (typeof raw === 'string') {
    // Tauri may hand back a JSON string.
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed === 'object' && parsed !== null) return toCommandError(parsed, status);
    } catch {
      /* not JSON: fall through */
    }
    return new CommandError('BAD_RESPONSE', raw, status);
  }
  return new CommandError('BAD_RESPONSE', String(raw), status);
}

/** Base path of the browser transport (same origin). */
const RPC = '/rpc';

async function callHttp(command: string, args: object): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${RPC}/${command}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify(args),
    });
  } catch (e) {
    throw new CommandError('SERVER_UNREACHABLE', e instanceof Error ? e.message : String(e), 0);
  }
  const text = await response.text();
  let body: unknown = undefined;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      throw new CommandError(
        'BAD_RESPONSE',
        `HTTP ${response.status}: ${text.slice(0, 200)}`,
        response.status,
      );
    }
  }
  if (!response.ok) {
    const err = toCommandError(body ?? `HTTP ${response.status}`, response.status);
    throw err.code === 'BAD_RESPONSE'
      ? new CommandError('BAD_RESPONSE', `HTTP ${response.status}`, response.status)
      : err;
  }
  // An empty body is `{}`; a JSON `null` is a result of its own (e.g. `run_active` with no run).
  return text.length > 0 ? body : {};
}

async function callTauri(command: string, args: object): Promise<unknown> {
  const { invoke } = await import('@tauri-apps/api/core');
  try {
    return await invoke(command, { args });
  } catch (e) {
    throw toCommandError(e);
  }
}

/**
 * Runs one of the app shell's own commands (app mode, the in-process acquirer, the wallet web
 * view): only inside the Tauri app, where they exist.
 */
export async function callShell<T>(command: string, args: object = {}): Promise<T> {
  if (!inTauri()) throw new CommandError('NOT_FOUND', `${command} exists only in the Plusbox app`);
  return (await callTauri(command, args)) as T;
}

/** Runs one command of the contract and resolves with its result, or rejects with a `CommandError`. */
export async function call<C extends CommandName>(
  command: C,
  args: Commands[C]['args'],
): Promise<Commands[C]['result']> {
  const result = inTauri() ? await callTauri(command, args) : await callHttp(command, args);
  return result as Commands[C]['result'];
}

type Handler<E extends EventName> = (data: Events[E]) => void;

/** Longest wait between reconnection attempts of the event stream. */
const MAX_BACKOFF_MS = 15_000;

/**
 * Browser events: one EventSource shared by all subscribers. The browser reconnects by itself
 * after a dropped connection; when it gives up (the server answered an error, e.g. while it
 * restarts) we open a new one with a growing delay.
 */
class HttpEvents {
  private source: EventSource | null = null;
  private readonly handlers = new Map<string, Set<(data: unknown) => void>>();
  private backoff = 500;
  private timer: ReturnType<typeof setTimeout> | null = null;

  add(event: string, handler: (data: unknown) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
      this.source?.addEventListener(event, this.dispatch);
    }
    set.add(handler);
    this.open();
    return () => {
      set.delete(handler);
      if ([...this.handlers.values()].every((s) => s.size === 0)) this.close();
    };
  }

  /** Drops the connection and opens a fresh one (e.g. after pairing set a new cookie). */
  restart(): void {
    this.close();
    if ([...this.handlers.values()].some((s) => s.size > 0)) this.open();
  }

  private readonly dispatch = (e: Event): void => {
    const message = e as MessageEvent<string>;
    let data: unknown;
    try {
      data = JSON.parse(message.data);
    } catch {
      return; // a malformed event is dropped; the next full list replaces it
    }
    for (const h of this.handlers.get(message.type) ?? []) h(data);
  };

  private open(): void {
    if (this.source || this.timer) return;
    const source = new EventSource(`${RPC}/events`, { withCredentials: true });
    for (const event of this.handlers.keys()) source.addEventListener(event, this.dispatch);
    source.onopen = () => {
      this.backoff = 500;
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        this.source = null;
        this.timer = setTimeout(() => {
          this.timer = null;
          this.open();
        }, this.backoff);
        this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
      }
    };
    this.source = source;
  }

  private close(): void {
    this.source?.close();
    this.source = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

let httpEvents: HttpEvents | null = null;

/** Listens to a live event; returns the function that stops listening. */
export function subscribe<E extends EventName>(event: E, handler: Handler<E>): () => void {
  if (inTauri()) {
    let stop: (() => void) | null = null;
    let stopped = false;
    void import('@tauri-apps/api/event').then(({ listen }) =>
      listen<Events[E]>(event, (e) => handler(e.payload)).then((unlisten) => {
        if (stopped) unlisten();
        else stop = unlisten;
      }),
    );
    return () => {
      stopped = true;
      stop?.();
    };
  }
  httpEvents ??= new HttpEvents();
  return httpEvents.add(event, handler as (data: unknown) => void);
}

/** Reopens the event stream so it carries the device cookie a pairing just set. */
export function reconnectEvents(): void {
  httpEvents?.restart();
}
