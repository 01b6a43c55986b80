// The companion UI end to end, in Debian's Chromium against the real `plusbox serve` and the
// reference acquirer: pairing, a charge seen in History and the balance, a PIN payment confirmed
// on the phone, scanning through a fake camera and a photo, a merchant's order code shown by
// `plusbox pos order-code` scanned through the fake camera and paid, axe-core and phone layout on
// every screen, with screenshots at 360×640 and 390×844 in light and dark.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  axeSerious,
  launch,
  layoutProblems,
  pairOnLoopback,
  plusbox,
  plusboxAsync,
  pngToY4m,
  RESULTS,
  screenshot,
  startStack,
} from './harness.mjs';

const VIEWPORTS = [
  { width: 360, height: 640 },
  { width: 390, height: 844 },
  { width: 820, height: 1180 }, // tablet
];
const SCHEMES = /** @type {const} */ (['light', 'dark']);
const SCREENS = ['wallet', 'pay', 'scan', 'history', 'settings'];
/** The navigation's entries in order (Tests: the guided runs, checked in e2e/runs.test.mjs). */
const NAV_ORDER = ['wallet', 'pay', 'scan', 'history', 'tests', 'settings'];

/** @type {Awaited<ReturnType<typeof startStack>>} */
let stack;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let page;
/** Serious/critical axe findings and layout problems, collected per screen and variant. */
const findings = /** @type {string[]} */ ([]);

/**
 * Screenshots, axe and layout checks of what the page shows now, in every viewport and scheme.
 * @param {import('playwright-core').Page} p
 * @param {string} name
 */
async function inspectAllVariants(p, name) {
  for (const viewport of VIEWPORTS) {
    await p.setViewportSize(viewport);
    for (const colorScheme of SCHEMES) {
      await p.emulateMedia({ colorScheme });
      await p.waitForTimeout(100);
      const tag = `${name}-${viewport.width}x${viewport.height}-${colorScheme}`;
      await screenshot(p, tag);
      for (const v of await axeSerious(p)) {
        findings.push(`${tag}: axe ${v.impact} ${v.id} (${v.help}) at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      }
      for (const problem of await layoutProblems(p)) findings.push(`${tag}: ${problem}`);
    }
  }
  await p.setViewportSize({ width: 390, height: 844 });
  await p.emulateMedia({ colorScheme: 'light' });
}

/**
 * Opens a screen from the navigation and waits until it has loaded.
 * @param {import('playwright-core').Page} p
 * @param {string} name accessible name of the navigation entry
 */
async function open(p, name) {
  await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
  await p.getByRole('heading', { level: 2, name, exact: true }).waitFor();
  await p.waitForFunction(() => !document.querySelector('main [role=status]')?.textContent?.includes('Loading'));
}

/**
 * The USD balance of an account card on the Wallet screen, in minor units.
 * @param {import('playwright-core').Page} p
 * @param {string} accountId
 */
async function usdBalance(p, accountId) {
  await open(p, 'Wallet');
  const text = await p
    .locator('.account', { hasText: `Account ${accountId}` })
    .locator('.balance[data-currency=USD]')
    .innerText();
  return { text, minor: BigInt(text.replace(/[^0-9-]/g, '')) };
}

/**
 * The payment code the Pay screen shows.
 * @param {import('playwright-core').Page} p
 */
async function shownCode(p) {
  await open(p, 'Pay');
  const digits = p.locator('.digits[data-code]');
  await digits.waitFor();
  return /** @type {string} */ (await digits.getAttribute('data-code'));
}

before(async () => {
  mkdirSync(join(RESULTS, 'screens'), { recursive: true });
  stack = await startStack();
  browser = await launch();
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US', bypassCSP: true });
  page = await context.newPage();
});

after(async () => {
  writeFileSync(join(RESULTS, 'findings.txt'), findings.join('\n'));
  await browser?.close();
  stack?.stop();
});

describe('companion UI against plusbox serve', { timeout: 600_000 }, () => {
  it('an unpaired loopback browser sees only pairing, and pairs with one button', async () => {
    await page.goto(`${stack.sandbox}/`);
    await page.getByRole('heading', { name: 'Pair this browser' }).waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).count(), 0, 'no navigation before pairing');
    await inspectAllVariants(page, 'pairing');
    await pairOnLoopback(page, stack.sandbox);
    const names = await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allInnerTexts();
    assert.deepEqual(names.map((n) => n.trim()), ['Wallet', 'Pay', 'Scan', 'History', 'Tests', 'Settings']);
  });

  it('a shown code charged by the POS appears in History as a success and the balance drops', async () => {
    const before = await usdBalance(page, 'buyer-1');
    const code = await shownCode(page);
    assert.match(code, /^\d{24}$/);
    const charged = JSON.parse(
      plusbox(['pos', 'charge', '--acquirer', stack.acquirer, '--code', code, '--amount', '12.50 USD', '--json'], stack.dir),
    );
    assert.equal(charged.state, 'SUCCESS', JSON.stringify(charged));

    await open(page, 'History');
    const entry = page.locator('li.entry[data-kind=payment]').first();
    await entry.waitFor();
    const text = await entry.innerText();
    assert.match(text, /-12\.50 USD/);
    assert.match(text, /Succeeded/);

    const after = await usdBalance(page, 'buyer-1');
    assert.equal(after.minor, before.minor - 1250n, `${before.text} → ${after.text}`);
  });

  it('pin scenario: Confirm appears by itself, the PIN is entered, the POS gets SUCCESS', async () => {
    await open(page, 'Wallet');
    await page.getByRole('radio', { name: /^pin\b/ }).check();
    await page.getByText('Next payments: pin').waitFor();
    const code = await shownCode(page);
    const charge = plusboxAsync(
      ['pos', 'charge', '--acquirer', stack.acquirer, '--code', code, '--amount', '7.00 USD', '--json'],
      stack.dir,
    );
    const dialog = page.getByRole('dialog', { name: 'Confirm payment' });
    await dialog.waitFor({ timeout: 30_000 });
    assert.match(await dialog.innerText(), /7\.00 USD/);
    await inspectAllVariants(page, 'confirm');
    for (const digit of ['1', '2', '3', '4']) await dialog.getByRole('button', { name: digit, exact: true }).click();
    await dialog.getByRole('button', { name: 'Pay', exact: true }).click();
    await dialog.getByRole('heading', { name: 'Paid', exact: true }).waitFor();
    await inspectAllVariants(page, 'confirm-result');
    const result = await charge;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).state, 'SUCCESS', result.stdout);
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'detached' });

    // A wrong PIN: the phone says so in words, the POS gets a failure, not a hang.
    const second = await shownCode(page);
    const failing = plusboxAsync(
      ['pos', 'charge', '--acquirer', stack.acquirer, '--code', second, '--amount', '3.00 USD', '--json'],
      stack.dir,
    );
    await dialog.waitFor({ timeout: 30_000 });
    await dialog.getByLabel('PIN').fill('0000');
    await dialog.getByRole('button', { name: 'Pay', exact: true }).click();
    await dialog.getByRole('alert').filter({ hasText: 'Wrong PIN' }).waitFor();
    await screenshot(page, 'confirm-wrong-pin-390x844-light');
    const refused = await failing;
    const refusedState = JSON.parse(refused.stdout || '{}').state;
    assert.ok(typeof refusedState === 'string' && refusedState !== 'SUCCESS', refused.stdout + refused.stderr);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await open(page, 'Wallet');
    await page.getByRole('radio', { name: /^success\b/ }).check();
    await page.getByText('Next payments: success').waitFor();
  });

  it('the photo fallback reads a PNG, says "no code" for a picture without one, and explains a non-image', async () => {
    const { code } = JSON.parse(plusbox(['code', 'new', '--form', '19', '--json'], stack.dir));
    const png = join(stack.dir, 'photo.png');
    plusbox(['code', 'render', code, '--format', 'png', '--out', png], stack.dir);
    await open(page, 'Scan');
    await page.locator('input[type=file]').setInputFiles(png);
    const card = page.locator('article.scanned').first();
    await card.waitFor();
    assert.equal(await card.getAttribute('data-kind'), 'alipayplus-code');
    assert.match(await card.innerText(), new RegExp(code));
    await inspectAllVariants(page, 'scan-photo-result');

    const blank = join(stack.dir, 'blank.png');
    await page.screenshot({ path: blank, clip: { x: 0, y: 0, width: 200, height: 200 } });
    await page.locator('input[type=file]').setInputFiles(blank);
    await page.getByRole('heading', { name: /No code found/ }).waitFor();

    const notImage = join(stack.dir, 'notes.png');
    writeFileSync(notImage, 'this is not a picture');
    await page.locator('input[type=file]').setInputFiles(notImage);
    await page.getByRole('alert').filter({ hasText: 'not a picture we can read' }).waitFor();
  });

  it('a phone pairs by the link or the short code, a wrong code is explained, a revoked phone is sent back to pairing', async () => {
    const context = await browser.newContext({ viewport: { width: 360, height: 640 }, locale: 'en-US' });
    try {
      const byLink = await context.newPage();
      const link = JSON.parse(plusbox(['app', 'pair', '--data', 'sb', '--json', '--name', 'Link phone'], stack.dir));
      assert.match(link.link, /#pair=/);
      await byLink.goto(link.link);
      await byLink.getByRole('navigation', { name: 'Main' }).waitFor();
      assert.doesNotMatch(byLink.url(), /pair=/, 'the token leaves the address bar');

      const other = await browser.newContext({ viewport: { width: 360, height: 640 }, locale: 'en-US' });
      const byCode = await other.newPage();
      await byCode.goto(`${stack.sandbox}/`);
      await byCode.getByLabel('Pairing code').fill('WRNG-CODE');
      await byCode.getByRole('button', { name: 'Pair', exact: true }).click();
      await byCode.getByRole('alert').filter({ hasText: 'pairing code is wrong or used up' }).waitFor();
      const code = JSON.parse(plusbox(['app', 'pair', '--data', 'sb', '--json', '--name', 'Code phone'], stack.dir));
      await byCode.getByLabel('Name for this device (optional)').fill('Code phone');
      await byCode.getByLabel('Pairing code').fill(code.shortCode.toLowerCase());
      await byCode.getByRole('button', { name: 'Pair', exact: true }).click();
      await byCode.getByRole('navigation', { name: 'Main' }).waitFor();

      // Revoke the code-paired phone from the first browser's Settings.
      await open(page, 'Settings');
      await page.getByRole('button', { name: 'Revoke Code phone' }).click();
      await page.locator('.devices li', { hasText: 'Code phone' }).getByText('Revoked').waitFor();
      await byCode.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'History' }).click();
      await byCode.getByRole('heading', { name: 'Pair this browser' }).waitFor();
      await byCode.getByText('This device was unpaired').waitFor();
      await other.close();
    } finally {
      await context.close();
    }
  });

  it('Pay counts down and fetches a fresh code before the shown one expires', async () => {
    const context = await browser.newContext({ viewport: { width: 360, height: 640 }, locale: 'en-US' });
    try {
      const p = await context.newPage();
      await p.clock.install();
      await pairOnLoopback(p, stack.sandbox);
      const first = await shownCode(p);
      await p.getByText(/^Valid for 0:(59|60)$|^Valid for 1:00$/).waitFor();
      await p.clock.fastForward(30_000);
      await p.getByText(/^Valid for 0:(29|30)$/).waitFor();
      assert.equal(await p.locator('.digits').getAttribute('data-code'), first, 'same code mid-way');
      await p.clock.fastForward(26_000); // 56 s: inside the 5 s margin before expiry
      await p.waitForFunction(
        (old) => {
          const code = document.querySelector('.digits')?.getAttribute('data-code');
          return code !== undefined && code !== null && code !== old;
        },
        first,
      );
      await p.getByText(/^Valid for (0:59|1:00)$/).waitFor();
    } finally {
      await context.close();
    }
  });

  it('every screen passes axe (no serious or critical) and the phone layout rules, light and dark', async () => {
    for (const name of SCREENS) {
      const label = name[0]?.toUpperCase() + name.slice(1);
      await open(page, label);
      await inspectAllVariants(page, name);
    }
    // Chinese: the same screens render with CJK fonts; the navigation is translated.
    await open(page, 'Settings');
    await page.getByRole('radio', { name: '简体中文' }).check();
    const zhNames = await page.getByRole('navigation', { name: '主导航' }).getByRole('link').allInnerTexts();
    assert.deepEqual(zhNames.map((n) => n.trim()), ['钱包', '付款', '扫码', '记录', '测试', '设置']);
    for (const name of SCREENS) {
      await page.getByRole('navigation', { name: '主导航' }).getByRole('link').nth(NAV_ORDER.indexOf(name)).click();
      await page.waitForTimeout(300);
      await screenshot(page, `${name}-zh-CN-390x844-light`);
      for (const problem of await layoutProblems(page)) findings.push(`${name} zh-CN: ${problem}`);
    }
    await page.getByRole('navigation', { name: '主导航' }).getByRole('link').nth(NAV_ORDER.indexOf('settings')).click();
    await page.getByRole('radio', { name: 'English' }).check();
    assert.deepEqual(findings, []);
  });

  it('the axe and layout checks do catch a nameless tiny button and a too-wide element', async () => {
    await page.evaluate(() => {
      const bad = document.createElement('button');
      bad.id = 'planted';
      Object.assign(bad.style, { width: '20px', height: '20px', padding: '0', minHeight: '0' });
      const wide = document.createElement('div');
      wide.id = 'planted-wide';
      wide.style.width = '2000px';
      wide.style.height = '1px';
      document.querySelector('main')?.append(bad, wide);
    });
    const axe = await axeSerious(page);
    assert.ok(axe.some((v) => v.id === 'button-name'), JSON.stringify(axe));
    const layout = await layoutProblems(page);
    assert.ok(layout.some((p) => p.startsWith('horizontal scroll')), layout.join('; '));
    assert.ok(layout.some((p) => p.startsWith('small target button')), layout.join('; '));
    await page.evaluate(() => document.querySelectorAll('#planted, #planted-wide').forEach((e) => e.remove()));
  });
});

describe('scanning through a camera', { timeout: 300_000 }, () => {
  it('Chromium’s fake camera playing a rendered code gives the result with the code and its owner', async () => {
    const { code } = JSON.parse(plusbox(['wallet', 'code', '--data', 'sb', '--account', 'buyer-2', '--json'], stack.dir));
    const png = join(stack.dir, 'camera.png');
    const y4m = join(stack.dir, 'camera.y4m');
    plusbox(['code', 'render', code, '--format', 'png', '--out', png], stack.dir);
    await pngToY4m(browser, png, y4m);
    const camera = await launch({ fakeVideo: y4m });
    try {
      const context = await camera.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US', bypassCSP: true });
      await context.grantPermissions(['camera'], { origin: stack.sandbox });
      const p = await context.newPage();
      await pairOnLoopback(p, stack.sandbox);
      await open(p, 'Scan');
      await p.getByRole('button', { name: 'Start camera' }).click();
      const card = p.locator('article.scanned').first();
      await card.waitFor({ timeout: 30_000 });
      assert.equal(await card.getAttribute('data-kind'), 'alipayplus-code');
      const text = await card.innerText();
      assert.match(text, new RegExp(code));
      assert.match(text, /buyer-2/);
      await inspectAllVariants(p, 'scan-camera-result');
      assert.deepEqual(findings, []);
    } finally {
      await camera.close();
    }
  });
});

describe('paying a merchant’s order code', { timeout: 300_000 }, () => {
  it('the POS shows an order code, the fake camera scans it, the buyer pays, the POS gets SUCCESS', async () => {
    const png = join(stack.dir, 'order-code.png');
    const y4m = join(stack.dir, 'order-code.y4m');
    const sale = plusboxAsync(
      ['pos', 'order-code', '--acquirer', stack.acquirer, '--amount', '9.50 USD', '--json', '--png', png],
      stack.dir,
    );
    for (let i = 0; i < 300 && !existsSync(png); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 200));
    await pngToY4m(browser, png, y4m);
    const camera = await launch({ fakeVideo: y4m });
    try {
      const context = await camera.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US', bypassCSP: true });
      await context.grantPermissions(['camera'], { origin: stack.sandbox });
      const p = await context.newPage();
      await pairOnLoopback(p, stack.sandbox);
      await open(p, 'Scan');
      await p.getByRole('button', { name: 'Start camera' }).click();
      const order = p.locator('section[data-order-code]');
      await order.waitFor({ timeout: 30_000 });
      assert.match(/** @type {string} */ (await order.getAttribute('data-order-code')), /^https:\/\/global\.alipay\.com\/28100204/);
      await order.locator('[data-field=amount]').waitFor();
      assert.match(await order.locator('[data-field=amount]').innerText(), /9\.50/);
      assert.ok((await order.locator('[data-field=merchant]').innerText()).length > 0);
      await inspectAllVariants(p, 'order-code-confirm');
      if (await order.getByLabel('PIN').isVisible()) {
        for (const digit of ['1', '2', '3', '4']) await order.getByRole('button', { name: digit, exact: true }).click();
        await order.getByRole('button', { name: 'Pay', exact: true }).click();
      } else {
        await order.getByRole('button', { name: 'Approve', exact: true }).click();
      }
      await order.getByRole('heading', { name: 'Paid', exact: true }).waitFor();
      await inspectAllVariants(p, 'order-code-paid');
      const result = await sale;
      assert.equal(result.code, 0, result.stderr);
      assert.equal(JSON.parse(result.stdout).state, 'SUCCESS', result.stdout);
      assert.deepEqual(findings, []);
    } finally {
      await camera.close();
    }
  });
});
