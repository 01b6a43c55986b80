// The real Plusbox app end to end: tauri-driver + WebKitWebDriver (Debian webkit2gtk-driver)
// under Xvfb launch the built app on a fresh data dir, so it starts in embedded mode and pairs
// itself; the Pay screen shows a code; the reference acquirer started from the app (Settings →
// This app; plusbox-acquirer in-process, wired to the built-in sandbox over HTTP and signatures
// like any acquirer) charges it from the app's POS form; History shows the payment as a success.
// Screenshots of the real window are kept in target/app-e2e/.
//
// Run: PLUSBOX_APP_BIN=target/debug/plusbox-app node --test src-tauri/e2e/app.test.mjs

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ensureDisplay, Session, startDriver } from './webdriver.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const APP = resolve(ROOT, process.env.PLUSBOX_APP_BIN ?? 'target/debug/plusbox-app');
const RESULTS = resolve(ROOT, 'target/app-e2e');

/** @type {{display: string, stop: () => void}} */ let display;
/** @type {{url: string, stop: () => void}} */ let driver;
/** @type {Session} */ let session;
const dir = mkdtempSync(join(tmpdir(), 'plusbox-app-e2e-'));
const data = join(dir, 'app-data');

/** Opens a screen from the navigation and waits for its heading. @param {string} id */
async function open(id) {
  await session.click(`nav a[href="#/${id}"]`);
  await session.waitFor(`nav a[href="#/${id}"][aria-current=page]`);
}

before(async () => {
  assert.ok(existsSync(APP), `the app binary is missing at ${APP}; build it first (cargo build -p plusbox-app)`);
  mkdirSync(RESULTS, { recursive: true });
  display = await ensureDisplay();
  driver = await startDriver({ ...process.env, DISPLAY: display.display, PLUSBOX_APP_DATA: data, RUST_LOG: 'warn' });
  session = await Session.start(driver.url, APP);
});

after(async () => {
  await session?.close();
  driver?.stop();
  display?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the Plusbox app (Tauri, WebKitGTK) in embedded mode', { timeout: 300_000 }, () => {
  it('starts paired with its own sandbox and shows the six screens', async () => {
    await session.waitFor('nav a[href="#/wallet"]');
    const names = await session.execute(
      'return [...document.querySelectorAll("nav a")].map((a) => a.textContent.trim())',
    );
    assert.deepEqual(names, ['Wallet', 'Pay', 'Scan', 'History', 'Tests', 'Settings']);
    assert.ok(existsSync(join(data, 'embedded/sandbox')), 'the sandbox data lives in the app data dir');
    assert.equal(await session.execute('return typeof window.__TAURI_INTERNALS__'), 'object', 'the UI runs inside Tauri');
  });

  it('a code shown on Pay, charged by the reference acquirer started in the app, appears in History as a success', async () => {
    await open('pay');
    const code = await session.attribute('.digits[data-code]', 'data-code');
    assert.match(code, /^\d{24}$/);
    writeFileSync(join(RESULTS, 'pay.png'), await session.screenshot());

    // Settings → This app: the reference acquirer (plusbox-acquirer, in-process, its key and
    // notify URL registered with the built-in sandbox) and its POS form charge the code.
    await open('settings');
    await session.click('button.start-acquirer');
    await session.waitFor('input[name=charge-code]');
    writeFileSync(join(RESULTS, 'settings.png'), await session.screenshot());
    await session.type('input[name=charge-code]', code);
    await session.clear('input[name=charge-amount]');
    await session.type('input[name=charge-amount]', '12.50 USD');
    await session.click('form.pos button[type=submit]');
    const result = await session.waitFor('p.charged', 120_000);
    assert.match(await session.call('GET', `/element/${result}/text`), /SUCCESS/);

    await open('history');
    const entry = await session.waitFor('li.entry[data-kind=payment]');
    const text = await session.call('GET', `/element/${entry}/text`);
    assert.match(text, /-12\.50 USD/);
    assert.match(text, /Succeeded/);
    writeFileSync(join(RESULTS, 'history.png'), await session.screenshot());
  });
});
