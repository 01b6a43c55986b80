// The invitation-to-dashboard loop end to end, in Debian's Chromium against the real
// `plusbox serve` and the reference acquirer: the admin password is set with
// `plusbox admin set-password --stdin` and a merchant invited with `plusbox invite create --json`;
// the admin logs in (a wrong password first) and sees the merchant Inactive; the merchant's phone
// (a second browser) opens the invitation link and is linked, and the admin's page turns the
// merchant Active by itself (live events); the phone runs UPM-PAY-001 while `plusbox pos charge`
// pays its code at the reference acquirer, adding a receipt photo, and the run reaches the
// dashboard; the admin opens the run with its photo and sequence diagram, exports the CSV, whose
// lines are checked, and sees the run's calls on the traffic monitor. The admin's browser keeps
// the server's CSP (a violation fails the test). Every dashboard screen passes axe and the layout
// rules at 360×640 in light and dark; screenshots at 360×640 and 1280×800 go to
// test-results/screens/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, launch, layoutProblems, plusboxAsync, RESULTS, screenshot, startStack } from './harness.mjs';

const PHONE = { width: 360, height: 640 };
const LAPTOP = { width: 1280, height: 800 };
const PASSWORD = 'correct horse battery staple';
const MERCHANT = { name: 'Lotus Tea House', mid: 'M2188000123', email: 'ops@lotus.example' };
const CASE = 'UPM-PAY-001';
/** Longest the guided run may take here. */
const RUN_DEADLINE_MS = 150_000;

/** @type {Awaited<ReturnType<typeof startStack>>} */
let stack;
/** @type {import('playwright-core').Browser} */
let browser;
/** The admin's browser (with the server's CSP) and the merchant's phone. */
/** @type {import('playwright-core').Page} */
let admin;
/** @type {import('playwright-core').Page} */
let phone;
/** @type {{id: string, url: string, status: string}} */
let invite;
/** The run the phone made. */
let runId = '';
/** Serious/critical axe findings and layout problems of the dashboard's screens. */
const findings = /** @type {string[]} */ ([]);
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs plusbox with `input` on standard input; returns stdout, throws with stderr on failure.
 * @param {string[]} args
 * @param {string} [input]
 */
function plusboxIn(args, input) {
  const r = spawnSync(BIN, args, { cwd: stack.dir, input, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`plusbox ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/**
 * axe-core in the page without a script tag (the CSP refuses inline scripts: evaluate is not
 * subject to it); returns serious and critical violations.
 * @param {import('playwright-core').Page} p
 */
async function axeSerious(p) {
  await p.evaluate(AXE);
  /** @type {{id: string, impact: string, help: string, targets: string}[]} */
  const violations = await p.evaluate(async () => {
    // @ts-expect-error axe is the global the evaluated source defines
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((/** @type {any} */ v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((/** @type {any} */ n) => n.target.join(' ')).join(', '),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/**
 * Screenshots, axe and the layout rules of what a page shows now: 360×640 light and dark
 * (checked) and 1280×800 light (screenshot); the page's own size is restored after.
 * @param {import('playwright-core').Page} p
 * @param {string} name
 */
async function inspect(p, name, prefix = 'dashboard') {
  const size = p.viewportSize();
  for (const colorScheme of /** @type {const} */ (['light', 'dark'])) {
    await p.setViewportSize(PHONE);
    await p.emulateMedia({ colorScheme });
    await p.waitForTimeout(150);
    const tag = `${prefix}-${name}-360x640-${colorScheme}`;
    await screenshot(p, tag);
    for (const v of await axeSerious(p)) findings.push(`${tag}: axe ${v.impact} ${v.id} (${v.help}) at ${v.targets}`);
    for (const problem of await layoutProblems(p)) findings.push(`${tag}: ${problem}`);
  }
  await p.emulateMedia({ colorScheme: 'light' });
  await p.setViewportSize(LAPTOP);
  await p.waitForTimeout(150);
  await screenshot(p, `${prefix}-${name}-1280x800-light`);
  if (size) await p.setViewportSize(size);
}

/**
 * Waits for a locator; when it does not come, fails with what the page shows instead.
 * @param {import('playwright-core').Page} p
 * @param {import('playwright-core').Locator} locator
 * @param {number} timeout
 */
async function expectShown(p, locator, timeout) {
  try {
    await locator.waitFor({ timeout });
  } catch (e) {
    const shown = await p.locator('main').innerText().catch(() => '(no main)');
    throw new Error(`${e instanceof Error ? e.message : e}\n--- the page shows:\n${shown.slice(0, 3000)}`, { cause: e });
  }
}

before(async () => {
  mkdirSync(join(RESULTS, 'screens'), { recursive: true });
  stack = await startStack();
  plusboxIn(['admin', 'set-password', '--data', 'sb', '--stdin'], `${PASSWORD}\n`);
  invite = JSON.parse(
    plusboxIn(['invite', 'create', '--data', 'sb', '--merchant', MERCHANT.name, '--mid', MERCHANT.mid, '--email', MERCHANT.email, '--products', 'upm', '--json']),
  );
  browser = await launch();
  const adminContext = await browser.newContext({ viewport: LAPTOP, locale: 'en-US', acceptDownloads: true });
  // Any CSP violation on the dashboard is recorded and fails the last test.
  await adminContext.addInitScript(() => {
    // @ts-expect-error a test-only global
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      // @ts-expect-error a test-only global
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  admin = await adminContext.newPage();
  const phoneContext = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US', bypassCSP: true });
  phone = await phoneContext.newPage();
});

after(async () => {
  writeFileSync(join(RESULTS, 'findings-dashboard.txt'), findings.join('\n'));
  await browser?.close();
  stack?.stop();
});

describe('invitation to dashboard', { timeout: 600_000 }, () => {
  it('the invite is created Inactive with a link to this sandbox', () => {
    assert.match(invite.id, /^inv_[A-Z2-7]{16}$/);
    assert.equal(invite.status, 'Inactive');
    assert.ok(invite.url.startsWith(`${stack.sandbox}/#invite=`), invite.url);
  });

  it('the admin logs in (a wrong password is refused) and sees the merchant Inactive', async () => {
    await admin.goto(`${stack.sandbox}/dashboard`);
    const field = admin.getByLabel('Admin password');
    await field.waitFor();
    await inspect(admin, 'login');
    await field.fill('not the password');
    await admin.getByRole('button', { name: 'Log in' }).click();
    await admin.getByText('Wrong password. Try again.').waitFor();
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    await field.fill(PASSWORD);
    await admin.getByRole('button', { name: 'Log in' }).click();
    const row = admin.locator(`tr[data-invite="${invite.id}"]`);
    await expectShown(admin, row, 15_000);
    assert.equal(await row.getAttribute('data-status'), 'Inactive');
    assert.match(await row.innerText(), new RegExp(`${MERCHANT.name}[\\s\\S]*${MERCHANT.mid}[\\s\\S]*Inactive`));
    assert.equal(await row.getAttribute('data-ready'), 'false');
    assert.equal(await row.locator(`td[data-case="${CASE}"]`).getAttribute('data-cell'), 'notRun');
    const cookies = await admin.context().cookies();
    const session = cookies.find((c) => c.name === 'plusbox_admin');
    assert.ok(session?.httpOnly, 'the session cookie is HttpOnly');
    assert.equal(session?.sameSite, 'Strict');
    await admin.locator('[data-live=true]').waitFor({ timeout: 15_000 });
    await inspect(admin, 'matrix-inactive');
  });

  it('the phone links with the invitation link and the dashboard turns the merchant Active by itself', async () => {
    await phone.goto(invite.url);
    const linked = phone.locator(`.linked[data-invite="${invite.id}"]`);
    await expectShown(phone, linked, 30_000);
    assert.match(await linked.innerText(), new RegExp(`This device now tests for ${MERCHANT.name}[\\s\\S]*${MERCHANT.mid}`));
    assert.ok(!phone.url().includes('invite='), 'the token is removed from the address bar');
    await inspect(phone, 'invite-linked', 'companion');
    await phone.getByRole('button', { name: 'Start testing' }).click();
    await phone.getByRole('navigation', { name: 'Main' }).waitFor();
    // Settings names the merchant.
    await phone.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings', exact: true }).click();
    const card = phone.locator(`[data-linked="${invite.id}"]`);
    await card.waitFor();
    assert.match(await card.innerText(), new RegExp(`${MERCHANT.name}[\\s\\S]*${MERCHANT.mid}`));
    await card.scrollIntoViewIfNeeded();
    await inspect(phone, 'settings-merchant', 'companion');

    // No reload on the admin's side: the live `invite` event moves the row.
    await expectShown(admin, admin.locator(`tr[data-invite="${invite.id}"][data-status=Active]`), 30_000);
  });

  it('the phone runs UPM-PAY-001 at the POS with a receipt photo and the run shows as uploaded', async () => {
    // No POS driver: the cashier works the (reference) POS and the phone asks for the receipt photo.
    await phone.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tests', exact: true }).click();
    await phone.getByRole('navigation', { name: 'Guided tests' }).getByRole('link', { name: 'Cases' }).click();
    const caseCard = phone.locator(`li.case[data-case="${CASE}"]`);
    await expectShown(phone, caseCard, 15_000);
    await caseCard.getByRole('button', { name: `Run ${CASE}` }).click();
    const head = phone.locator('header.run-head[data-state]');
    await expectShown(phone, head, 30_000);
    runId = /** @type {string} */ (await head.getAttribute('data-run'));
    const shown = phone.locator('section.prompt[data-prompt=showCode] .digits[data-code]');
    await expectShown(phone, shown, 60_000);
    const code = /** @type {string} */ (await shown.getAttribute('data-code'));
    const sale = plusboxAsync(['pos', 'charge', '--acquirer', stack.acquirer, '--code', code, '--amount', '12.50 USD', '--json'], stack.dir);

    // A receipt photo: a real PNG (a screenshot of the phone itself).
    const receipt = await phone.screenshot({ type: 'png', clip: { x: 0, y: 0, width: 200, height: 120 } });
    const deadline = Date.now() + RUN_DEADLINE_MS;
    let photos = 0;
    // The prompt can move on between reading it and answering it (the engine does not wait for
    // the test): an answer that finds its button gone is simply tried again on the next round.
    /** @param {import('playwright-core').Locator} target */
    const answer = (target) => target.click({ timeout: 2000 }).then(() => true, () => false);
    while (Date.now() < deadline && (await head.getAttribute('data-state')) === 'running') {
      const prompt = await phone.locator('section.prompt').getAttribute('data-prompt', { timeout: 1000 }).catch(() => null);
      const panel = phone.locator('section.prompt');
      if (prompt === 'question') await answer(panel.getByRole('button', { name: 'Yes', exact: true }));
      else if (prompt === 'proceed') await answer(panel.getByRole('button', { name: 'Done', exact: true }));
      else if (prompt === 'photo' && photos === 0) {
        const file = { name: 'receipt.png', mimeType: 'image/png', buffer: receipt };
        if (await panel.locator('input[type=file]').setInputFiles(file, { timeout: 2000 }).then(() => true, () => false)) photos++;
      } else if (prompt === 'photo') await answer(panel.getByRole('button', { name: 'Skip the photo' }));
      await phone.waitForTimeout(300);
    }
    assert.notEqual(await head.getAttribute('data-state'), 'running', 'the run ended within the deadline');
    assert.equal(photos, 1, 'the run asked for the receipt photo');
    const charged = await sale;
    assert.equal(charged.code, 0, charged.stderr);
    assert.equal(JSON.parse(charged.stdout).state, 'SUCCESS', charged.stdout);

    await phone.getByRole('navigation', { name: 'Guided tests' }).getByRole('link', { name: 'Results' }).click();
    const item = phone.locator(`ol.results > li[data-run="${runId}"]`);
    await expectShown(phone, item.locator('[data-upload=uploaded]'), 30_000);
    assert.match(await item.innerText(), /Uploaded/);
    const queue = phone.locator('section.upload');
    assert.equal(await queue.getAttribute('data-uploaded'), '1', 'the queue counts the run as uploaded');
    assert.equal(await queue.getAttribute('data-waiting'), '0');
    await inspect(phone, 'results-uploaded', 'companion');
  });

  it('the admin sees the verdict, opens the run with its photo and diagram', async () => {
    const row = admin.locator(`tr[data-invite="${invite.id}"]`);
    const cell = row.locator(`td[data-case="${CASE}"]`);
    await expectShown(admin, admin.locator(`tr[data-invite="${invite.id}"] td[data-case="${CASE}"]:not([data-cell=notRun])`), 30_000);
    const verdict = /** @type {string} */ (await cell.getAttribute('data-cell'));
    assert.match(verdict, /^(PASS|FAIL|ERROR|SKIPPED|INCOMPLETE)$/);
    assert.match(await row.locator('.progress').innerText(), /of \d+ required passed/);
    await inspect(admin, 'matrix-active');

    await admin.locator(`tr[data-invite="${invite.id}"] a.merchant-name`).click();
    await admin.locator(`header[data-invite="${invite.id}"]`).waitFor();
    await admin.locator(`li.mcase[data-case="${CASE}"][data-cell="${verdict}"]`).waitFor();
    await inspect(admin, 'merchant');

    await admin.getByRole('link', { name: `Open the run of ${CASE}` }).click();
    const head = admin.locator(`header.run-head[data-run="${runId}"]`);
    await expectShown(admin, head, 15_000);
    assert.equal(await head.getAttribute('data-verdict'), verdict);
    assert.match(await head.innerText(), new RegExp(`${MERCHANT.name}[\\s\\S]*${MERCHANT.mid}`));
    assert.ok((await admin.locator('li.check').count()) >= 5, 'every check is listed');
    for (const check of await admin.locator('li.check .reason').all()) {
      assert.ok((await check.innerText()).trim().length > 0, 'each check has its reason');
    }
    const photo = admin.locator('figure.photo img').first();
    await photo.scrollIntoViewIfNeeded();
    await admin.waitForFunction(() => {
      const img = /** @type {HTMLImageElement | null} */ (document.querySelector('figure.photo img'));
      return img !== null && img.complete && img.naturalWidth > 0;
    });
    assert.equal(await photo.evaluate((img) => /** @type {HTMLImageElement} */ (img).naturalWidth), 200, 'the photo is the receipt the phone took');
    const diagram = admin.locator('img[data-diagram]');
    await diagram.scrollIntoViewIfNeeded();
    await admin.waitForFunction(() => {
      const img = /** @type {HTMLImageElement | null} */ (document.querySelector('img[data-diagram]'));
      return img !== null && img.complete && img.naturalWidth > 0;
    });
    assert.ok((await admin.locator('details.traffic').count()) > 0, 'the traffic is listed');
    await inspect(admin, 'run');

    await admin.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Runs' }).click();
    await admin.locator(`ol.results > li[data-run="${runId}"]`).waitFor();
    await inspect(admin, 'runs');
  });

  it('the CSV export has one line per assigned case with the run and its verdict', async () => {
    await admin.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Test data' }).click();
    const [download] = await Promise.all([admin.waitForEvent('download'), admin.getByRole('link', { name: 'Export CSV' }).click()]);
    assert.match(download.suggestedFilename(), /^plusbox-results-.*\.csv$/);
    const csv = readFileSync(/** @type {string} */ (await download.path()), 'utf8');
    const lines = csv.trim().split(/\r?\n/);
    assert.equal(lines[0], 'merchant,mid,status,case,required,verdict,run id,at,ready for UAT');
    const verdict = await admin.locator(`tr[data-invite="${invite.id}"] td[data-case="${CASE}"]`).getAttribute('data-cell');
    const mine = lines.filter((l) => l.startsWith(`${MERCHANT.name},${MERCHANT.mid},Active,`));
    assert.equal(mine.length, lines.length - 1, 'every line is this merchant’s');
    const required = await admin.locator(`tr[data-invite="${invite.id}"] .progress`).getAttribute('data-required');
    assert.equal(mine.filter((l) => l.split(',')[4] === 'yes').length, Number(required), 'one line per required case');
    const line = mine.find((l) => l.split(',')[3] === CASE);
    assert.ok(line, `a line for ${CASE}`);
    const [, , , , , v, id, at, ready] = line.split(',');
    assert.deepEqual([v, id, ready], [verdict, runId, 'no']);
    assert.ok(!Number.isNaN(Date.parse(at ?? '')), `an RFC 3339 time: ${at}`);
  });

  it('the traffic monitor shows the run’s calls, and nothing broke the CSP', async () => {
    await admin.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Traffic' }).click();
    const requests = admin.locator('[data-kpi=requests]');
    await requests.waitFor();
    assert.ok(Number(await requests.innerText()) >= 1, 'the pay call of the run is counted');
    assert.match(await admin.locator('[data-kpi=success]').innerText(), /%$/);
    await admin.locator('svg[data-chart=chart-requests] rect').first().waitFor();
    await admin.locator('tr[data-code=SUCCESS]').waitFor();
    await inspect(admin, 'traffic');

    // Chinese: the same screens, every string translated.
    await admin.getByLabel('Language').selectOption('zh-CN');
    await admin.getByRole('heading', { name: '流量监控' }).waitFor();
    await screenshot(admin, 'dashboard-traffic-zh-CN-1280x800-light');
    await admin.getByRole('navigation', { name: '看板' }).getByRole('link', { name: '测试数据' }).click();
    await admin.getByRole('heading', { name: '测试数据' }).waitFor();
    await admin.setViewportSize(PHONE);
    await screenshot(admin, 'dashboard-matrix-zh-CN-360x640-light');
    for (const problem of await layoutProblems(admin)) findings.push(`matrix zh-CN: ${problem}`);
    await admin.getByLabel('语言').selectOption('en');

    // Logging out ends the session: the login shows again.
    await admin.getByRole('button', { name: 'Log out' }).click();
    await admin.getByLabel('Admin password').waitFor();
    assert.equal((await admin.context().cookies()).filter((c) => c.name === 'plusbox_admin' && c.value !== '').length, 0, 'the cookie is gone');

    assert.deepEqual(await admin.evaluate(() => /** @type {any} */ (window).__csp), [], 'no CSP violation');
    assert.deepEqual(findings, []);
  });
});
