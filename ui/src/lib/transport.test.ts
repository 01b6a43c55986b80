// Transport: the browser path is tested at the network boundary (fetch), the Tauri path at the
// IPC boundary (`window.__TAURI_INTERNALS__`, which @tauri-apps/api calls into).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { call, CommandError, inTauri, subscribe, toCommandError } from './transport';

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('browser transport', () => {
  it('posts the args as JSON to /rpc/<command> and resolves with the JSON result', async () => {
    const fetchMock = vi.fn(async () => jsonResponse(200, { code: '2810', grouped: '2810' }));
    vi.stubGlobal('fetch', fetchMock);
    const result = await call('new_code', { accountId: 'buyer-1', form: '24' });
    expect(result).toEqual({ code: '2810', grouped: '2810' });
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/rpc/new_code');
    expect(init.method).toBe('POST');
    expect(init.credentials).toBe('same-origin');
    expect(new Headers(init.headers).get('content-type')).toBe('application/json');
    expect(JSON.parse(String(init.body))).toEqual({ accountId: 'buyer-1', form: '24' });
  });

  it('sends {} for a command without args and accepts an empty 200 body as {}', async () => {
    const fetchMock = vi.fn(async () => new Response('', { status: 200 }));
    vi.stubGlobal('fetch', fetchMock);
    await expect(call('unpair', {})).resolves.toEqual({});
    const [, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(init.body).toBe('{}');
  });

  it('keeps a JSON null result as null (a command with nothing to report), not {}', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse(200, null)));
    await expect(call('run_active', {})).resolves.toBeNull();
  });

  it('turns a {code, message} error answer into a CommandError with that code, message and status', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse(409, { code: 'ALREADY_DECIDED', message: 'payment P1 was confirmed' })));
    const error = await call('confirm_payment', { paymentId: 'P1', pin: '1234' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandError);
    expect(error).toMatchObject({ code: 'ALREADY_DECIDED', message: 'payment P1 was confirmed', status: 409 });
  });

  it('reports a non-JSON error page (e.g. a proxy) as BAD_RESPONSE with the status', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('<html>Bad Gateway</html>', { status: 502 })));
    const error = await call('accounts', {}).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BAD_RESPONSE', status: 502 });
    expect((error as Error).message).toContain('502');
  });

  it('reports a JSON error without a code as BAD_RESPONSE, not as success', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse(500, { error: 'boom' })));
    await expect(call('accounts', {})).rejects.toMatchObject({ code: 'BAD_RESPONSE', status: 500 });
  });

  it('reports an unreachable server as SERVER_UNREACHABLE with status 0', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    await expect(call('session', {})).rejects.toMatchObject({ code: 'SERVER_UNREACHABLE', status: 0, message: 'Failed to fetch' });
  });
});

describe('Tauri transport', () => {
  it('is chosen when window.__TAURI_INTERNALS__ exists and invokes the same command name with {args}', async () => {
    const invoke = vi.fn(async () => ({ paired: true }));
    vi.stubGlobal('window', { __TAURI_INTERNALS__: { invoke } });
    const fetchMock = vi.fn();
    vi.stubGlobal('fetch', fetchMock);
    expect(inTauri()).toBe(true);
    await expect(call('pair_with_code', { code: 'ABCD-1234' })).resolves.toEqual({ paired: true });
    expect(invoke).toHaveBeenCalledWith('pair_with_code', { args: { code: 'ABCD-1234' } }, undefined);
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it('maps a rejected invoke carrying {code, message} (object or JSON string) to CommandError', async () => {
    const invoke = vi
      .fn()
      .mockRejectedValueOnce({ code: 'WRONG_PIN', message: 'PIN does not match' })
      .mockRejectedValueOnce('{"code":"NOT_PAIRED","message":"no device"}');
    vi.stubGlobal('window', { __TAURI_INTERNALS__: { invoke } });
    await expect(call('confirm_payment', { paymentId: 'P', pin: '0000' })).rejects.toMatchObject({
      code: 'WRONG_PIN',
      message: 'PIN does not match',
    });
    await expect(call('accounts', {})).rejects.toMatchObject({ code: 'NOT_PAIRED', message: 'no device' });
  });

  it('delivers Tauri events to the subscriber and stops on unsubscribe', async () => {
    const callbacks = new Map<number, (e: unknown) => void>();
    let next = 1;
    const invoke = vi.fn(async (cmd: string, args: { handler?: number; event?: string }) => {
      if (cmd === 'plugin:event|listen') return 7;
      if (cmd === 'plugin:event|unlisten') return null;
      throw new Error(`unexpected ${cmd} ${JSON.stringify(args)}`);
    });
    const transformCallback = (cb: (e: unknown) => void): number => {
      const id = next++;
      callbacks.set(id, cb);
      return id;
    };
    vi.stubGlobal('window', {
      __TAURI_INTERNALS__: { invoke, transformCallback },
      __TAURI_EVENT_PLUGIN_INTERNALS__: { unregisterListener: () => {} },
    });
    const seen: unknown[] = [];
    const stop = subscribe('pending', (list) => seen.push(list));
    await vi.waitFor(() => expect(invoke).toHaveBeenCalledWith('plugin:event|listen', expect.objectContaining({ event: 'pending' }), undefined));
    const handler = [...callbacks.values()][0];
    handler?.({ event: 'pending', id: 7, payload: [{ paymentId: 'P1' }] });
    expect(seen).toEqual([[{ paymentId: 'P1' }]]);
    stop();
    await vi.waitFor(() => expect(invoke).toHaveBeenCalledWith('plugin:event|unlisten', expect.objectContaining({ event: 'pending', eventId: 7 }), undefined));
  });
});

describe('toCommandError', () => {
  it('keeps a CommandError, reads {code, message}, and falls back to BAD_RESPONSE', () => {
    const e = new CommandError('NOT_FOUND', 'x', 404);
    expect(toCommandError(e)).toBe(e);
    expect(toCommandError({ code: 'BAD_AMOUNT' })).toMatchObject({ code: 'BAD_AMOUNT', message: 'BAD_AMOUNT' });
    expect(toCommandError('plain text')).toMatchObject({ code: 'BAD_RESPONSE', message: 'plain text' });
    expect(toCommandError(42)).toMatchObject({ code: 'BAD_RESPONSE', message: '42' });
  });
});
