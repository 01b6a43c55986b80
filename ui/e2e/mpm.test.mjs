// Merchant-presented mode in Debian's Chromium against the real `plusbox serve` and the reference
// acquirer: `plusbox pos entry-code` shows the merchant's static entry code, Chromium's fake camera
// scans it on the companion's Scan screen, and the buyer — in a wallet web view, whose
// User-Agent carries `AlipayConnect` (alipayplus-api.md §6) — opens the merchant page over HTTPS,
// types the amount, is sent to the sandbox's cashier and pays there; the POS gets SUCCESS.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launch, pairOnLoopback, plusboxAsync, pngToY4m, RESULTS, screenshot, startStack } from './harness.mjs';

/** The companion wallet's web view (an Alipay+ wallet persona). */
const WALLET_UA =
  'Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36 AlipayConnect/1.0 (Plusbox companion)';

/** @type {Awaited<ReturnType<typeof startStack>>} */
let stack;
/** @type {import('playwright-core').Browser} */
let browser;

before(async () => {
  mkdirSync(join(RESULTS, 'screens'), { recursive: true });
  stack = await startStack();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  stack?.stop();
});

/**
 * @param {import('playwright-core').Page} p
 * @param {string} name
 */
async function open(p, name) {
  await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
  await p.getByRole('heading', { level: 2, name, exact: true }).waitFor();
}

describe('paying a merchant’s entry code', { timeout: 300_000 }, () => {
  it('the fake camera scans the entry code, the wallet pays on the merchant page and the cashier, the POS gets SUCCESS', async () => {
    const png = join(stack.dir, 'entry-code.png');
    const y4m = join(stack.dir, 'entry-code.y4m');
    const sale = plusboxAsync(
      ['pos', 'entry-code', '--acquirer', stack.acquirer, '--json', '--png', png, '--wait', '240'],
      stack.dir,
    );
    for (let i = 0; i < 300 && !existsSync(png); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 200));
    await pngToY4m(browser, png, y4m);
    const camera = await launch({ fakeVideo: y4m });
    try {
      // The merchant page's certificate is the acquirer's own self-signed one.
      const context = await camera.newContext({
        viewport: { width: 390, height: 844 },
        locale: 'en-US',
        userAgent: WALLET_UA,
        ignoreHTTPSErrors: true,
      });
      await context.grantPermissions(['camera'], { origin: stack.sandbox });
      const p = await context.newPage();
      await pairOnLoopback(p, stack.sandbox);
      await open(p, 'Scan');
      await p.getByRole('button', { name: 'Start camera' }).click();
      const card = p.locator('article[data-kind="entry-code"]');
      await card.waitFor({ timeout: 30_000 });
      const link = card.getByRole('link', { name: 'Open the merchant page' });
      assert.match(/** @type {string} */ (await link.getAttribute('href')), /^https:\/\/127\.0\.0\.1:\d+\/entry$/);
      await screenshot(p, 'entry-code-scanned');
      const [merchant] = await Promise.all([context.waitForEvent('page'), link.click()]);
      await merchant.waitForLoadState();
      await merchant.locator('#amount').fill('12.50');
      await merchant.locator('#pay').click();
      // The page sent the wallet on to the sandbox's cashier (paymentUrl).
      await merchant.waitForURL(/\/cashier\/[A-Za-z0-9]{32}$/);
      assert.match(await merchant.locator('#amount').innerText(), /12\.50 USD/);
      await merchant.locator('#account').fill('buyer-1');
      await merchant.locator('#pay').click();
      await merchant.locator('#result').waitFor();
      assert.equal(await merchant.locator('#result').innerText(), 'Payment successful');
      await screenshot(merchant, 'entry-code-paid');
      const result = await sale;
      assert.equal(result.code, 0, result.stderr);
      const record = JSON.parse(result.stdout);
      assert.equal(record.state, 'SUCCESS', result.stdout);
      assert.match(record.code, /\/cashier\//);
    } finally {
      await camera.close();
    }
  });
});
