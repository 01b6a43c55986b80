// The real app under WebDriver: Xvfb (when there is no display), `tauri-driver` in front of
// Debian's WebKitWebDriver (webkit2gtk-driver), and a minimal W3C WebDriver client over fetch.
// Shared by the end-to-end test and the benchmark.

import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** W3C element reference key. */
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

/** A free loopback TCP port (bound and released; the driver binds it right after). */
export async function freePort() {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts Xvfb on a free display unless DISPLAY is set; returns the display and a stop function.
 * @returns {Promise<{display: string, stop: () => void}>}
 */
export async function ensureDisplay() {
  if (process.env.DISPLAY) return { display: process.env.DISPLAY, stop: () => {} };
  const xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
  });
  const display = await new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('Xvfb did not report a display in 20 s')), 20_000);
    xvfb.once('error', (e) => reject(new Error(`cannot start Xvfb (apt-get install xvfb): ${e.message}`)));
    xvfb.stdio[3].on('data', (chunk) => {
      text += chunk;
      if (text.includes('\n')) {
        clearTimeout(timer);
        resolve(`:${text.trim()}`);
      }
    });
  });
  return { display, stop: () => xvfb.kill() };
}

/**
 * Starts `tauri-driver` (which starts WebKitWebDriver) on free ports with `env`.
 * @param {NodeJS.ProcessEnv} env
 */
export async function startDriver(env) {
  // Software rendering: under Xvfb (no GPU) WebKitGTK's DMA-BUF renderer leaves the window blank.
  env = { WEBKIT_DISABLE_DMABUF_RENDERER: '1', ...env };
  const port = await freePort();
  const nativePort = await freePort();
  const driver = spawn('tauri-driver', ['--port', String(port), '--native-port', String(nativePort)], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const failed = new Promise((_, reject) =>
    driver.once('error', (e) => reject(new Error(`cannot start tauri-driver (cargo install tauri-driver --locked): ${e.message}`))),
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i += 1) {
    const up = await Promise.race([
      fetch(`${url}/status`).then((r) => r.ok, () => false),
      failed,
    ]);
    if (up) return { url, stop: () => driver.kill() };
    await sleep(100);
  }
  driver.kill();
  throw new Error('tauri-driver did not answer /status within 10 s');
}

/** A WebDriver session on the app. */
export class Session {
  /** @param {string} driver @param {string} id */
  constructor(driver, id) {
    this.base = `${driver}/session/${id}`;
    this.id = id;
  }

  /**
   * Launches `application` through the driver.
   * @param {string} driver @param {string} application
   */
  static async start(driver, application) {
    const value = await request('POST', `${driver}/session`, {
      capabilities: { alwaysMatch: { 'tauri:options': { application } } },
    });
    return new Session(driver, value.sessionId);
  }

  /** @param {string} method @param {string} path @param {unknown} [body] */
  call(method, path, body) {
    return request(method, `${this.base}${path}`, body);
  }

  /** The first element matching a CSS selector, or null. @param {string} css */
  async find(css) {
    try {
      const value = await this.call('POST', '/element', { using: 'css selector', value: css });
      return /** @type {string} */ (value[ELEMENT]);
    } catch (e) {
      if (e instanceof WebDriverError && e.code === 'no such element') return null;
      throw e;
    }
  }

  /** Waits until a CSS selector matches (polling; bounded). @param {string} css @param {number} [ms] */
  async waitFor(css, ms = 30_000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const element = await this.find(css);
      if (element) return element;
      await sleep(100);
    }
    throw new Error(`nothing matched ${css} within ${ms} ms; page text: ${await this.text('body').catch(() => '?')}`);
  }

  /** @param {string} css */
  async click(css) {
    const element = await this.waitFor(css);
    // Out of view or under the fixed navigation bar, a click lands on something else.
    await this.execute('document.querySelector(arguments[0]).scrollIntoView({ block: "center" })', [css]);
    await this.call('POST', `/element/${element}/click`, {});
  }

  /** Types text into a field. @param {string} css @param {string} text */
  async type(css, text) {
    await this.call('POST', `/element/${await this.waitFor(css)}/value`, { text });
  }

  /** Empties a field. @param {string} css */
  async clear(css) {
    await this.call('POST', `/element/${await this.waitFor(css)}/clear`, {});
  }

  /** @param {string} css @param {string} name */
  async attribute(css, name) {
    return await this.call('GET', `/element/${await this.waitFor(css)}/attribute/${name}`);
  }

  /** @param {string} css */
  async text(css) {
    return await this.call('GET', `/element/${await this.waitFor(css, 5_000)}/text`);
  }

  /** @param {string} script @param {unknown[]} [args] */
  async execute(script, args = []) {
    return await this.call('POST', '/execute/sync', { script, args });
  }

  /**
   * Runs an async script; it settles by calling its last argument.
   * @param {string} script @param {unknown[]} [args]
   */
  async executeAsync(script, args = []) {
    return await this.call('POST', '/execute/async', { script, args });
  }

  /**
   * Calls an app command the way the UI does (Tauri `invoke`): `{value}`, or `{rejected: {code,
   * message}}` (not `error`, which a WebDriver answer reserves for its own failures).
   * @param {string} command @param {Record<string, unknown>} args
   */
  async invoke(command, args) {
    return await this.executeAsync(
      'const done = arguments[arguments.length - 1];' +
        'window.__TAURI_INTERNALS__.invoke(arguments[0], { args: arguments[1] })' +
        '.then((value) => done({ value }), (rejected) => done({ rejected }));',
      [command, args],
    );
  }

  /** The window as PNG bytes. */
  async screenshot() {
    return Buffer.from(await this.call('GET', '/screenshot'), 'base64');
  }

  async close() {
    await this.call('DELETE', '').catch(() => {});
  }
}

/** A WebDriver error answer. */
export class WebDriverError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

/** @param {string} method @param {string} url @param {unknown} [body] */
async function request(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok || (json.value && json.value.error)) {
    throw new WebDriverError(json.value?.error ?? `HTTP ${response.status}`, json.value?.message ?? '');
  }
  return json.value;
}

/**
 * Resident memory (kB) of the process running `exe` and of its WebKit child processes.
 * @param {string} exe absolute path of the app binary
 */
export function residentMemory(exe) {
  const procs = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  const read = (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  const field = (text, name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  const app = procs.find((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/exe`) === exe;
    } catch {
      return false;
    }
  });
  if (!app) return null;
  const children = procs.filter((pid) => field(read(`/proc/${pid}/status`), 'PPid') === Number(app));
  // RSS counts a shared library's pages in every process that maps it, so the sum over the app
  // and its WebKit processes counts libwebkit2gtk three times. PSS shares them out; USS is what
  // each process alone holds (private pages).
  const measure = (pid) => {
    const rollup = read(`/proc/${pid}/smaps_rollup`);
    return {
      pid: Number(pid),
      name: read(`/proc/${pid}/comm`).trim(),
      rssKb: field(rollup, 'Rss'),
      pssKb: field(rollup, 'Pss'),
      ussKb: field(rollup, 'Private_Clean') + field(rollup, 'Private_Dirty'),
      anonKb: field(rollup, 'Anonymous'),
    };
  };
  const processes = [app, ...children].map(measure);
  const sum = (key) => processes.reduce((total, p) => total + p[key], 0);
  const appKb = processes[0].rssKb;
  return {
    pid: Number(app),
    processes,
    appKb,
    webkitKb: sum('rssKb') - appKb,
    totalKb: sum('rssKb'),
    pssKb: sum('pssKb'),
    ussKb: sum('ussKb'),
    anonKb: sum('anonKb'),
  };
}
