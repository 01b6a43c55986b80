// The real Plusbox app end to end: tauri-driver + WebKitWebDriver (Debian webkit2gtk-driver)
// under Xvfb launch the built app on a fresh data dir, so it starts in embedded mode and pairs
// itself; the Pay screen shows a code; the reference acquirer (`plusbox acquirer serve`, set up
// from the app's own sandbox data) charges it with `plusbox pos charge`; History shows the
// payment as a success. Screenshots of the real window are kept in target/app-e2e/.
//
// Run: PLUSBOX_APP_BIN=target/debug/plusbox-app PLUSBOX_BIN=target/debug/plusbox \
//        node --test src-tauri/e2e/app.test.mjs

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { ensureDisplay, freePort, Session, startDriver } from './webdriver.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const APP = resolve(ROOT, process.env.PLUSBOX_APP_BIN ?? 'target/debug/plusbox-app');
const PLUSBOX = resolve(ROOT, process.env.PLUSBOX_BIN ?? 'target/debug/plusbox');
const RESULTS = resolve(ROOT, 'target/app-e2e');

/** @type {{display: string, stop: () => void}} */ let display;
/** @type {{url: string, stop: () => void}} */ let driver;
/** @type {Session} */ let session;
/** @type {import('node:child_process').ChildProcess | undefined} */ let acquirer;
const dir = mkdtempSync(join(tmpdir(), 'plusbox-app-e2e-'));
const data = join(dir, 'app-data');

/** Runs the plusbox CLI in the test dir. @param {string[]} args */
function plusbox(args) {
  return execFileSync(PLUSBOX, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Opens a screen from the navigation and waits for its heading. @param {string} id */
async function open(id) {
  await session.click(`nav a[href="#/${id}"]`);
  await session.waitFor(`nav a[href="#/${id}"][aria-current=page]`);
}

before(async () => {
  for (const [what, path] of [['app', APP], ['plusbox', PLUSBOX]]) {
    assert.ok(existsSync(path), `the ${what} binary is missing at ${path}; build it first (cargo build -p plusbox-app -p plusbox)`);
  }
  mkdirSync(RESULTS, { recursive: true });
  display = await ensureDisplay();
  driver = await startDriver({ ...process.env, DISPLAY: display.display, PLUSBOX_APP_DATA: data, RUST_LOG: 'warn' });
  session = await Session.start(driver.url, APP);
});

after(async () => {
  await session?.close();
  driver?.stop();
  display?.stop();
  acquirer?.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe('the Plusbox app (Tauri, WebKitGTK) in embedded mode', { timeout: 300_000 }, () => {
  it('starts paired with its own sandbox and shows the five screens', async () => {
    await session.waitFor('nav a[href="#/wallet"]');
    const names = await session.execute(
      'return [...document.querySelectorAll("nav a")].map((a) => a.textContent.trim())',
    );
    assert.deepEqual(names, ['Wallet', 'Pay', 'Scan', 'History', 'Settings']);
    assert.ok(existsSync(join(data, 'embedded/sandbox')), 'the sandbox data lives in the app data dir');
    assert.equal(await session.execute('return typeof window.__TAURI_INTERNALS__'), 'object', 'the UI runs inside Tauri');
  });

  it('a code shown on Pay, charged by the reference acquirer, appears in History as a success', async () => {
    await open('pay');
    const code = await session.attribute('.digits[data-code]', 'data-code');
    assert.match(code, /^\d{24}$/);
    writeFileSync(join(RESULTS, 'pay.png'), await session.screenshot());

    // The reference acquirer, configured from the app's own sandbox data (key and notify URL
    // registered there), charges the code over HTTP like any acquirer on the machine would.
    const port = await freePort();
    plusbox([
      'acquirer', 'init', '--from-sandbox', join(data, 'embedded/sandbox'),
      '--notify-url', `http://127.0.0.1:${port}/notify`, '--out', 'acq.toml',
    ]);
    acquirer = spawn(PLUSBOX, ['acquirer', 'serve', '--config', 'acq.toml'], { cwd: dir, stdio: 'ignore' });
    const acquirerUrl = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i += 1) {
      if (await fetch(`${acquirerUrl}/health`).then((r) => r.ok, () => false)) break;
      await sleep(100);
    }
    const charged = JSON.parse(
      plusbox(['pos', 'charge', '--acquirer', acquirerUrl, '--code', code, '--amount', '12.50 USD', '--json']),
    );
    assert.equal(charged.state, 'SUCCESS', JSON.stringify(charged));

    await open('history');
    const entry = await session.waitFor('li.entry[data-kind=payment]');
    const text = await session.call('GET', `/element/${entry}/text`);
    assert.match(text, /-12\.50 USD/);
    assert.match(text, /Succeeded/);
    writeFileSync(join(RESULTS, 'history.png'), await session.screenshot());
  });
});
