// Guided test runs end to end, in Debian's Chromium against the real `plusbox serve` and the
// reference acquirer as the POS driver: UPM-PIN-001 run from the phone (the PIN prompt appears,
// 1234 is entered on the runner's keypad) gives PASS with reasons and a sequence diagram; the
// same case against the acquirer with `--fault no-inquiry` gives FAIL naming the check; the
// exported HTML report opens offline in headless Chromium; results filter by verdict and case; a
// run survives a reload and is cancelled; every new screen passes axe and the phone layout rules
// at 360×640 in light and dark, with screenshots under test-results/screens/.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { axeSerious, launch, layoutProblems, pairOnLoopback, plusboxAsync, RESULTS, screenshot, startStack } from './harness.mjs';

const PHONE = { width: 360, height: 640 };
const SCHEMES = /** @type {const} */ (['light', 'dark']);
/** Longest a whole guided run may take here (UPM-PIN-001 waits 10 s by design, then polls). */
const RUN_DEADLINE_MS = 150_000;

/** @type {Awaited<ReturnType<typeof startStack>>} */
let stack;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').BrowserContext} */
let context;
/** @type {import('playwright-core').Page} */
let page;
/** Serious/critical axe findings and layout problems of the new screens. */
const findings = /** @type {string[]} */ ([]);
/** Whether a yes/no question has been screenshotted yet. */
let questionShot = false;
/** Ids of the runs the tests made: the passing one, then the failing one. */
const runIds = /** @type {{pass?: string, fail?: string}} */ ({});

/**
 * Screenshots, axe and the layout rules of what the page shows now, at 360×640 light and dark.
 * @param {import('playwright-core').Page} p
 * @param {string} name
 */
async function inspect(p, name) {
  const size = p.viewportSize();
  await p.setViewportSize(PHONE);
  for (const colorScheme of SCHEMES) {
    await p.emulateMedia({ colorScheme });
    await p.waitForTimeout(100);
    const tag = `${name}-360x640-${colorScheme}`;
    await screenshot(p, tag);
    for (const v of await axeSerious(p)) {
      findings.push(`${tag}: axe ${v.impact} ${v.id} (${v.help}) at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    }
    for (const problem of await layoutProblems(p)) findings.push(`${tag}: ${problem}`);
  }
  await p.emulateMedia({ colorScheme: 'light' });
  if (size) await p.setViewportSize(size);
}

/**
 * Opens a screen of the Tests area from the main navigation and its own tabs.
 * @param {import('playwright-core').Page} p
 * @param {'Cases' | 'Run' | 'Results'} tab
 */
async function openTests(p, tab) {
  await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tests', exact: true }).click();
  await p.getByRole('navigation', { name: 'Guided tests' }).getByRole('link', { name: tab }).click();
}

/**
 * Sets (or clears, with '') the POS-driver URL in Settings.
 * @param {import('playwright-core').Page} p
 * @param {string} url
 */
async function setPosDriver(p, url) {
  await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings', exact: true }).click();
  const field = p.getByLabel('POS-driver URL');
  await field.waitFor();
  await p.waitForFunction(() => document.querySelector('[data-pos-mode]') !== null);
  if (url) {
    await field.fill(url);
    await p.getByRole('button', { name: 'Save', exact: true }).click();
    await p.locator('[data-pos-mode=driven]').waitFor();
    assert.equal(await field.inputValue(), url);
  } else if ((await p.locator('[data-pos-mode=driven]').count()) > 0) {
    await p.getByRole('button', { name: 'Remove', exact: true }).click();
    await p.locator('[data-pos-mode=manual]').waitFor();
  }
}

/**
 * Waits for a locator; when it does not come, fails with what the screen shows instead.
 * @param {import('playwright-core').Page} p
 * @param {import('playwright-core').Locator} locator
 * @param {number} timeout
 */
async function expectShown(p, locator, timeout) {
  try {
    await locator.waitFor({ timeout });
  } catch (e) {
    const shown = await p.locator('main').innerText().catch(() => '(no main)');
    throw new Error(`${e instanceof Error ? e.message : e}\n--- the screen shows:\n${shown.slice(0, 3000)}`, { cause: e });
  }
}

/**
 * Starts one case from the catalogue and waits for the runner to show it.
 * @param {import('playwright-core').Page} p
 * @param {string} caseId
 * @returns {Promise<string>} the run id
 */
async function startCase(p, caseId) {
  await openTests(p, 'Cases');
  // A checked choice is named with its tick ("✓ UPM").
  await p.getByRole('radio', { name: caseId.startsWith('MPM-') ? /\bMPM$/ : /\bUPM$/ }).check();
  const card = p.locator(`li.case[data-case="${caseId}"]`);
  await card.waitFor();
  await card.getByRole('button', { name: `Run ${caseId}` }).click();
  const head = p.locator(`header.run-head[data-state]`);
  await head.waitFor();
  assert.match(await head.innerText(), new RegExp(caseId));
  return /** @type {string} */ (await head.getAttribute('data-run'));
}

/**
 * UPM-PIN-001 as a person follows it: waits for the step that asks for the PIN, types 1234 on
 * the runner's keypad, answers the manual questions with yes (and skips photos) until the run
 * ends. Returns the shown verdict.
 * @param {import('playwright-core').Page} p
 * @param {string} [screens] name prefix for the PIN prompt's screenshots (none when undefined)
 */
async function followPinCase(p, screens) {
  const pinPanel = p.locator('section.prompt[data-prompt=pin]');
  await expectShown(p, pinPanel, 60_000);
  await expectShown(p, p.locator('li.step[data-status=active]', { hasText: 'Enter the PIN' }), 60_000);
  assert.match(await pinPanel.innerText(), /12\.50 USD/);
  assert.equal(await p.getByRole('dialog', { name: 'Confirm payment' }).count(), 0, 'the runner, not the Confirm sheet, asks for this PIN');
  if (screens) await inspect(p, screens);
  for (const digit of ['1', '2', '3', '4']) await pinPanel.getByRole('button', { name: digit, exact: true }).click();
  await pinPanel.getByRole('button', { name: 'Pay', exact: true }).click();
  // The wallet accepted the PIN: the prompt moves on and no refusal is shown.
  await expectShown(p, p.locator('section.prompt:not([data-prompt=pin]), main .outcome'), 30_000);
  assert.equal(await p.locator('main [role=alert]').count(), 0, await p.locator('main').innerText());
  return finish(p);
}

/**
 * Answers whatever the runner asks until the run ends (bounded); returns the verdict shown.
 * @param {import('playwright-core').Page} p
 */
async function finish(p) {
  const deadline = Date.now() + RUN_DEADLINE_MS;
  const head = p.locator('header.run-head');
  while (Date.now() < deadline) {
    if ((await head.getAttribute('data-state')) !== 'running') break;
    const prompt = await p.locator('section.prompt').getAttribute('data-prompt', { timeout: 1000 }).catch(() => null);
    const panel = p.locator('section.prompt');
    if (prompt === 'question') {
      if (!questionShot) {
        questionShot = true;
        await inspect(p, 'runner-question');
      }
      await panel.getByRole('button', { name: 'Yes', exact: true }).click();
    }
    else if (prompt === 'proceed') await panel.getByRole('button', { name: 'Done', exact: true }).click();
    else if (prompt === 'photo') await panel.getByRole('button', { name: 'Skip the photo' }).click();
    await p.waitForTimeout(300);
  }
  assert.notEqual(await head.getAttribute('data-state'), 'running', 'the run ended within the deadline');
  return /** @type {string} */ (await p.locator('main .outcome [data-verdict]').first().getAttribute('data-verdict'));
}

before(async () => {
  mkdirSync(join(RESULTS, 'screens'), { recursive: true });
  stack = await startStack();
  browser = await launch();
  context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US', acceptDownloads: true, bypassCSP: true });
  page = await context.newPage();
  await pairOnLoopback(page, stack.sandbox);
});

after(async () => {
  writeFileSync(join(RESULTS, 'findings-runs.txt'), findings.join('\n'));
  await browser?.close();
  stack?.stop();
});

describe('guided test runs against the reference acquirer', { timeout: 600_000 }, () => {
  it('Settings takes the POS-driver URL (a bad one is explained) and says what it changes', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings', exact: true }).click();
    const field = page.getByLabel('POS-driver URL');
    await page.locator('[data-pos-mode=manual]').waitFor();
    assert.match(await page.locator('[data-pos-mode]').innerText(), /you work the real POS yourself/);
    await field.fill('127.0.0.1:8788');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('The address must start with http:// or https://').waitFor();
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    await setPosDriver(page, stack.acquirer);
    await page.getByRole('heading', { name: 'Guided test runs' }).scrollIntoViewIfNeeded();
    await inspect(page, 'settings-pos-driver');
  });

  it('the catalogue lists cases by product, required and optional, each with its last verdict', async () => {
    await openTests(page, 'Cases');
    const card = page.locator('li.case[data-case="UPM-PIN-001"]');
    await card.waitFor();
    assert.match(await card.innerText(), /Not run yet/);
    assert.ok((await page.locator('section', { has: page.getByRole('heading', { name: /^Required/ }) }).locator('li.case').count()) > 0);
    assert.match(await page.locator('[data-pos-driven]').innerText(), new RegExp(`driven by ${stack.acquirer.replace(/[.]/g, '\\.')}`));
    await inspect(page, 'tests-upm');
    await page.getByRole('radio', { name: 'MPM', exact: true }).check();
    await page.locator('li.case[data-case^="MPM-"]').first().waitFor();
    assert.equal(await page.locator('li.case[data-case^="UPM-"]').count(), 0, 'only the chosen product is listed');
    await inspect(page, 'tests-mpm');
    await page.getByRole('radio', { name: 'UPM', exact: true }).check();
  });

  it('UPM-PIN-001: the PIN prompt appears, 1234 is entered, PASS with reasons and a sequence diagram', async () => {
    runIds.pass = await startCase(page, 'UPM-PIN-001');
    await page.locator('ol.live li').first().waitFor({ timeout: 60_000 });
    const verdict = await followPinCase(page, 'runner-pin');
    assert.equal(verdict, 'PASS', await page.locator('main').innerText());
    assert.ok((await page.locator('ol.live li[data-api=inquiryPayment]').count()) > 0, 'live traffic shows the POS inquiring');
    await inspect(page, 'runner-ended');

    await page.getByRole('link', { name: 'See the verdict' }).click();
    const head = page.locator(`header.run-head[data-run="${runIds.pass}"]`);
    await head.waitFor();
    assert.equal(await head.getAttribute('data-verdict'), 'PASS');
    const checks = page.locator('li.check');
    assert.ok((await checks.count()) >= 5, 'every check of the case is listed');
    for (const check of await checks.all()) {
      assert.ok((await check.locator('.reason').innerText()).trim().length > 0, 'each check has its reason');
    }
    assert.equal(await page.locator('li.check[data-verdict=FAIL]').count(), 0);

    // A reason's traffic entry opens in place with headers, bodies and its signature verdict.
    const inquiry = page.locator('li.check[data-check=inquiry-while-processing]');
    const link = inquiry.locator('button.link').first();
    await link.click();
    assert.equal(await link.getAttribute('aria-expanded'), 'true');
    const entry = inquiry.locator('.traffic-entry');
    await entry.waitFor();
    assert.match(await entry.innerText(), /inquiryPayment|inquiry/i);
    assert.ok((await entry.locator('[data-signature]').count()) === 1, 'the signature verdict is shown');
    assert.match(await entry.locator('pre.body').first().innerText(), /^\{\n {2}"/, 'JSON bodies are pretty-printed');

    // The diagram is there and fits the phone.
    const diagram = page.locator('img[data-diagram]');
    await diagram.scrollIntoViewIfNeeded();
    const fit = await diagram.evaluate((img) => ({
      loaded: /** @type {HTMLImageElement} */ (img).naturalWidth > 0,
      width: img.getBoundingClientRect().width,
      viewport: document.documentElement.clientWidth,
    }));
    assert.ok(fit.loaded, 'the sequence diagram renders');
    assert.ok(fit.width <= fit.viewport, `diagram ${fit.width}px within ${fit.viewport}px`);
    await inspect(page, 'verdict-pass');
    await page.setViewportSize(PHONE);
    await diagram.evaluate((img) => img.scrollIntoView({ block: 'center' }));
    await page.screenshot({ path: join(RESULTS, 'screens', 'verdict-pass-diagram-360x640-light.png') });
    // At full size the diagram scrolls sideways inside its own box, never the page.
    await page.getByRole('button', { name: 'Show at full size' }).click();
    const box = page.getByRole('region', { name: 'Sequence diagram at full size: scroll sideways' });
    await box.waitFor();
    assert.ok(await box.evaluate((el) => el.scrollWidth > el.clientWidth), 'the full-size diagram is wider than the phone');
    assert.deepEqual(await layoutProblems(page), []);
    await box.evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await page.screenshot({ path: join(RESULTS, 'screens', 'verdict-pass-diagram-full-360x640-light.png') });
    await page.getByRole('button', { name: 'Fit to the screen' }).click();
    await page.setViewportSize({ width: 390, height: 844 });
  });

  it('the same case against --fault no-inquiry gives FAIL naming the check', async () => {
    await stack.restartAcquirer(['no-inquiry']);
    runIds.fail = await startCase(page, 'UPM-PIN-001');
    const verdict = await followPinCase(page);
    assert.equal(verdict, 'FAIL');
    await page.getByRole('link', { name: 'See the verdict' }).click();
    const failed = page.locator('li.check[data-check=inquiry-while-processing]');
    await failed.waitFor();
    assert.equal(await failed.getAttribute('data-verdict'), 'FAIL');
    assert.match(await failed.innerText(), /inquiry-while-processing[\s\S]*FAIL/);
    assert.match(await page.locator('.failed-checks').innerText(), /inquiry-while-processing/, 'the top names the failed check');
    await inspect(page, 'verdict-fail');
    await stack.restartAcquirer([]);
  });

  it('results filter by verdict and case, open a verdict, and export JSON, JUnit and an offline HTML report', async () => {
    await openTests(page, 'Results');
    const rows = page.locator('ol.results > li');
    await rows.first().waitFor();
    assert.deepEqual(await rows.evaluateAll((li) => li.map((l) => l.getAttribute('data-run'))), [runIds.fail, runIds.pass], 'newest first');
    await inspect(page, 'results');

    await page.getByLabel('Verdict').selectOption('FAIL');
    await page.waitForFunction((id) => {
      const shown = [...document.querySelectorAll('ol.results > li')].map((l) => l.getAttribute('data-run'));
      return shown.length === 1 && shown[0] === id;
    }, runIds.fail);
    await page.getByLabel('Verdict').selectOption('SKIPPED');
    await page.getByText('No run matches this filter.').waitFor();
    await page.getByLabel('Verdict').selectOption('');
    await page.getByLabel('Case').selectOption('UPM-PIN-001');
    await page.waitForFunction(() => document.querySelectorAll('ol.results > li').length === 2);
    await page.getByLabel('Case').selectOption('');
    await page.waitForFunction(() => document.querySelectorAll('ol.results > li').length === 2);

    // JSON and JUnit of every run.
    const saved = async (/** @type {string} */ button) => {
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: button }).click()]);
      return { name: download.suggestedFilename(), text: readFileSync(/** @type {string} */ (await download.path()), 'utf8') };
    };
    const json = await saved('JSON');
    assert.match(json.name, /\.json$/);
    const parsed = JSON.stringify(JSON.parse(json.text));
    assert.ok(parsed.includes(/** @type {string} */ (runIds.pass)) && parsed.includes(/** @type {string} */ (runIds.fail)), 'the JSON holds both runs');
    const junit = await saved('JUnit XML');
    assert.match(junit.name, /\.xml$/);
    assert.match(junit.text, /<testsuites?[\s>]/);
    assert.match(junit.text, /<failure/);
    const html = await saved('HTML report');
    assert.match(html.name, /\.html?$/);
    writeFileSync(join(RESULTS, 'report.html'), html.text);

    // The report opens with the network cut off: everything it shows is inside the file.
    const offline = await browser.newContext({ viewport: PHONE, offline: true });
    try {
      const report = await offline.newPage();
      const requests = /** @type {string[]} */ ([]);
      report.on('request', (r) => {
        if (!r.url().startsWith('data:') && r.url() !== 'about:blank') requests.push(r.url());
      });
      await report.setContent(html.text, { waitUntil: 'load' });
      const text = await report.locator('body').innerText();
      assert.match(text, /UPM-PIN-001/);
      assert.match(text, /PASS/);
      assert.match(text, /FAIL/);
      assert.match(text, /inquiry-while-processing/);
      assert.ok((await report.locator('svg').count()) > 0, 'the report embeds the sequence diagrams');
      assert.deepEqual(requests, [], 'the report loads nothing from outside');
      await report.screenshot({ path: join(RESULTS, 'screens', 'report-360x640.png') });
      await report.screenshot({ path: join(RESULTS, 'screens', 'report-360x640-full.png'), fullPage: true });
    } finally {
      await offline.close();
    }

    // A row opens its verdict.
    await page.locator(`ol.results > li[data-run="${runIds.pass}"] a`).click();
    await page.locator(`header.run-head[data-run="${runIds.pass}"]`).waitFor();
  });

  it('the catalogue shows the last verdict of the case, linked to its run', async () => {
    await openTests(page, 'Cases');
    const card = page.locator('li.case[data-case="UPM-PIN-001"]');
    await card.waitFor();
    assert.equal(await card.getAttribute('data-last-verdict'), 'FAIL');
    await card.getByRole('link', { name: /UPM-PIN-001: last verdict FAIL/ }).click();
    await page.locator(`header.run-head[data-run="${runIds.fail}"]`).waitFor();
  });

  it('MPM-OC-001: the order code the POS shows opens from the runner, is paid, and the run passes', async () => {
    await startCase(page, 'MPM-OC-001');
    const panel = page.locator('section.prompt[data-prompt=scanOrder]');
    await expectShown(page, panel, 60_000);
    await panel.getByRole('button', { name: 'Open the order without scanning' }).click();
    const order = panel.locator('section[data-order-code]');
    await expectShown(page, order.locator('[data-field=amount]'), 30_000);
    await inspect(page, 'runner-order');
    if (await order.getByLabel('PIN').isVisible()) {
      for (const digit of ['1', '2', '3', '4']) await order.getByRole('button', { name: digit, exact: true }).click();
      await order.getByRole('button', { name: 'Pay', exact: true }).click();
    } else {
      await order.getByRole('button', { name: 'Approve', exact: true }).click();
    }
    assert.equal(await finish(page), 'PASS', await page.locator('main').innerText());
  });

  it('without a POS driver the runner shows the code to present; a reload re-attaches; cancel asks first and keeps the run as INCOMPLETE', async () => {
    await setPosDriver(page, '');
    const runId = await startCase(page, 'UPM-PIN-001');
    const code = page.locator('section.prompt[data-prompt=showCode] .digits[data-code]');
    await expectShown(page, code, 60_000);
    assert.match(/** @type {string} */ (await code.getAttribute('data-code')), /^\d{16,24}$/);
    assert.match(await page.locator('header.run-head').innerText(), /You work the real POS/);
    await inspect(page, 'runner-code');

    await page.reload();
    const head = page.locator(`header.run-head[data-run="${runId}"]`);
    await head.waitFor();
    assert.equal(await head.getAttribute('data-state'), 'running', 'the reloaded page follows the same run');

    await page.getByRole('button', { name: 'Cancel the run' }).click();
    await page.getByText('Everything recorded so far is kept').waitFor();
    await inspect(page, 'runner-cancel-question');
    await page.getByRole('button', { name: 'Keep running' }).click();
    assert.equal(await head.getAttribute('data-state'), 'running');
    await page.getByRole('button', { name: 'Cancel the run' }).click();
    await page.getByRole('button', { name: 'Yes, cancel' }).click();
    await page.waitForFunction(() => document.querySelector('header.run-head')?.getAttribute('data-state') !== 'running');
    assert.equal(await page.locator('main .outcome [data-verdict]').first().getAttribute('data-verdict'), 'INCOMPLETE');
    await openTests(page, 'Results');
    await page.locator(`ol.results > li[data-run="${runId}"][data-verdict=INCOMPLETE]`).waitFor();
  });

  it('at a real POS (no driver) the person charges the shown code, enters the PIN, answers the question: PASS', async () => {
    const runId = await startCase(page, 'UPM-PIN-001');
    const shown = page.locator('section.prompt[data-prompt=showCode] .digits[data-code]');
    await expectShown(page, shown, 60_000);
    const code = /** @type {string} */ (await shown.getAttribute('data-code'));
    // The cashier rings up the sale on the POS and scans the code (the reference POS's CLI).
    const sale = plusboxAsync(['pos', 'charge', '--acquirer', stack.acquirer, '--code', code, '--amount', '12.50 USD', '--json'], stack.dir);
    const verdict = await followPinCase(page);
    const charged = await sale;
    assert.equal(charged.code, 0, charged.stderr);
    assert.equal(JSON.parse(charged.stdout).state, 'SUCCESS', charged.stdout);
    assert.equal(verdict, 'PASS', await page.locator('main').innerText());
    await page.getByRole('link', { name: 'See the verdict' }).click();
    const answered = page.locator('li.check[data-check=pos-shows-success]');
    await answered.waitFor();
    assert.equal(await answered.getAttribute('data-verdict'), 'PASS', 'the manual question counts when a person answers it');
    assert.equal(await page.locator(`header.run-head[data-run="${runId}"]`).getAttribute('data-verdict'), 'PASS');
  });

  it('the new screens pass axe and the phone layout rules in light and dark, and in Chinese', async () => {
    await openTests(page, 'Run');
    await page.locator('header.run-head, .button.primary').first().waitFor();
    await inspect(page, 'runner-none-or-last');
    await page.goto(`${stack.sandbox}/#/settings`);
    await page.getByRole('radio', { name: '简体中文' }).check();
    for (const [hash, name] of [
      ['#/tests', 'tests'],
      ['#/tests/results', 'results'],
      [`#/tests/results/${runIds.fail}`, 'verdict-fail'],
    ]) {
      await page.goto(`${stack.sandbox}/${hash}`);
      await page.waitForTimeout(800);
      await screenshot(page, `${name}-zh-CN-390x844-light`);
      for (const problem of await layoutProblems(page)) findings.push(`${name} zh-CN: ${problem}`);
    }
    await page.goto(`${stack.sandbox}/#/settings`);
    await page.getByRole('radio', { name: 'English' }).check();
    assert.deepEqual(findings, []);
  });
});
