// End-to-end harness: starts the real `plusbox serve` (which serves the built UI and /rpc) and
// the reference acquirer on ephemeral ports from the built binary, and launches Debian's Chromium
// through playwright-core. Everything runs in a fresh temporary directory and is stopped after.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const UI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The plusbox binary under test: $PLUSBOX_BIN, else the worktree's debug build. */
export const BIN = process.env.PLUSBOX_BIN ?? resolve(UI_DIR, '..', 'target', 'debug', 'plusbox');
/** Debian's Chromium (or $CHROMIUM). */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** Where screenshots and the benchmark figures go (ignored by git). */
export const RESULTS = join(UI_DIR, 'test-results');

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Fails early with the command that fixes a missing prerequisite. */
export function checkPrerequisites() {
  if (!existsSync(BIN)) {
    throw new Error(`${BIN} is missing: build it first with \`cargo build -p plusbox\` (or set PLUSBOX_BIN)`);
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install it with \`sudo apt-get install -y chromium fonts-noto-cjk\` (or set CHROMIUM)`,
    );
  }
}

/**
 * Runs plusbox to completion and returns its stdout; throws with stderr when it fails.
 * @param {string[]} args
 * @param {string} cwd
 */
export function plusbox(args, cwd) {
  const r = spawnSync(BIN, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    throw new Error(`plusbox ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

/**
 * Starts plusbox in the background; resolves with its result when it exits.
 * @param {string[]} args
 * @param {string} cwd
 * @returns {Promise<{code: number | null, stdout: string, stderr: string}>}
 */
export function plusboxAsync(args, cwd) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(BIN, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/** A free TCP port on 127.0.0.1 (bound and released; the acquirer binds it right after). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Polls a URL until it answers 2xx (bounded).
 * @param {string} url
 */
export async function waitHealthy(url, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become healthy within ${timeoutMs} ms`);
}

/**
 * The sandbox (`plusbox serve` on an ephemeral port, UI at `/`) and the reference acquirer.
 * `restartAcquirer(faults)` replaces the acquirer by one with those fault switches on, at the
 * same address with the same configuration and order table.
 * @returns {Promise<{dir: string, sandbox: string, acquirer: string, stop: () => void,
 *   restartAcquirer: (faults?: string[]) => Promise<void>}>}
 */
export async function startStack() {
  checkPrerequisites();
  const dir = mkdtempSync(join(tmpdir(), 'plusbox-ui-e2e-'));
  /** @type {import('node:child_process').ChildProcess[]} */
  const children = [];
  const stop = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const serve = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data', 'sb'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(serve);
    let serveErr = '';
    serve.stderr?.on('data', (d) => (serveErr += d));
    const sandbox = await new Promise((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve printed no gateway URL: ${serveErr}`)), 60_000);
      const lines = createInterface({ input: /** @type {import('node:stream').Readable} */ (serve.stdout) });
      lines.on('line', (line) => {
        const m = /^Gateway URL:\s*(\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolveUrl(m[1]);
        }
      });
      serve.on('exit', (code) => reject(new Error(`serve exited (${code}): ${serveErr}`)));
    });
    await waitHealthy(`${sandbox}/healthz`);

    const port = await freePort();
    const acquirer = `http://127.0.0.1:${port}`;
    plusbox(['acquirer', 'init', '--from-sandbox', 'sb', '--notify-url', `${acquirer}/notify`, '--out', 'acq.toml'], dir);
    /** @param {string[]} faults */
    const startAcquirer = async (faults) => {
      const args = ['acquirer', 'serve', '--config', 'acq.toml', '--listen', `127.0.0.1:${port}`];
      for (const f of faults) args.push('--fault', f);
      const child = spawn(BIN, args, { cwd: dir, stdio: 'ignore' });
      children.push(child);
      await waitHealthy(`${acquirer}/health`);
      return child;
    };
    let acq = await startAcquirer([]);
    /** @param {string[]} [faults] */
    const restartAcquirer = async (faults = []) => {
      if (acq.exitCode === null) {
        const exited = new Promise((r) => acq.once('exit', r));
        acq.kill('SIGTERM');
        await exited;
      }
      acq = await startAcquirer(faults);
    };
    return { dir, sandbox: /** @type {string} */ (sandbox), acquirer, stop, restartAcquirer };
  } catch (e) {
    stop();
    throw e;
  }
}

/**
 * Launches Chromium (fresh profile per launch), optionally with a fake camera playing a y4m file.
 * @param {{ fakeVideo?: string }} [options]
 */
export async function launch(options = {}) {
  const args = [...CHROMIUM_FLAGS];
  if (options.fakeVideo) {
    args.push(
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-video-capture=${options.fakeVideo}`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/**
 * Turns a PNG into a y4m video (4:2:0, grey chroma) of `frames` identical 640×480 frames with the
 * picture centred on white, decoding the PNG with the browser's own image decoder.
 * @param {import('playwright-core').Browser} browser
 * @param {string} png path of the PNG
 * @param {string} out path of the y4m to write
 */
export async function pngToY4m(browser, png, out, frames = 10) {
  const page = await browser.newPage();
  const { readFileSync } = await import('node:fs');
  const dataUrl = `data:image/png;base64,${readFileSync(png).toString('base64')}`;
  const W = 640;
  const H = 480;
  const luma = await page.evaluate(
    async ({ dataUrl, W, H }) => {
      const img = new Image();
      img.src = dataUrl;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = W;
      canvas.height = H;
      const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, W, H);
      const scale = Math.min((W * 0.9) / img.width, (H * 0.9) / img.height);
      const w = img.width * scale;
      const h = img.height * scale;
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(img, (W - w) / 2, (H - h) / 2, w, h);
      const rgba = ctx.getImageData(0, 0, W, H).data;
      const y = new Array(W * H);
      for (let i = 0; i < W * H; i++) {
        y[i] = Math.round(0.299 * rgba[i * 4] + 0.587 * rgba[i * 4 + 1] + 0.114 * rgba[i * 4 + 2]);
      }
      return y;
    },
    { dataUrl, W, H },
  );
  await page.close();
  // Full-range luma into the limited range of y4m's default (BT.601, 16..235).
  const yPlane = Buffer.from(luma.map((v) => Math.round(16 + (v * 219) / 255)));
  const chroma = Buffer.alloc((W / 2) * (H / 2), 128);
  const header = Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`, 'ascii');
  const parts = [header];
  for (let f = 0; f < frames; f++) parts.push(Buffer.from('FRAME\n', 'ascii'), yPlane, chroma, chroma);
  writeFileSync(out, Buffer.concat(parts));
}

/**
 * Pairs the page's browser on loopback through the pairing screen.
 * @param {import('playwright-core').Page} page
 * @param {string} base
 */
export async function pairOnLoopback(page, base) {
  await page.goto(`${base}/`);
  await page.getByRole('button', { name: 'Use this browser as a wallet' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/**
 * Runs axe-core in the page; returns serious and critical violations.
 * @param {import('playwright-core').Page} page
 */
export async function axeSerious(page) {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  /** @type {{id: string, impact: string, help: string, nodes: {target: string[]}[]}[]} */
  const violations = await page.evaluate(async () => {
    // @ts-expect-error axe is the global added by the script tag above
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((/** @type {any} */ v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((/** @type {any} */ n) => ({ target: n.target })),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/**
 * Layout rules for phones: no horizontal scroll, every visible control at least 44 px tall
 * and wide. Returns what breaks them.
 * @param {import('playwright-core').Page} page
 */
export async function layoutProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > doc.clientWidth) problems.push(`horizontal scroll: ${doc.scrollWidth} > ${doc.clientWidth}`);
    const targets = document.querySelectorAll(
      'button, a[href], select, input[type=text], input[type=password], label.choice, .segmented label, label.file',
    );
    for (const el of targets) {
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (r.width === 0 || style.visibility === 'hidden' || el.closest('.skip')) continue;
      if (el.classList.contains('skip')) continue;
      if (r.height < 43.5 || r.width < 43.5) {
        problems.push(`small target ${el.tagName.toLowerCase()} "${(el.textContent ?? '').trim().slice(0, 30)}" ${Math.round(r.width)}×${Math.round(r.height)}`);
      }
    }
    return problems;
  });
}

/**
 * Saves what the phone shows under test-results/screens/: the top of the screen, and for a
 * screen taller than the viewport also its end (`-end`), scrolled as a person would.
 * @param {import('playwright-core').Page} page
 * @param {string} name
 */
export async function screenshot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(RESULTS, 'screens', `${name}.png`) });
  const scrollable = await page.evaluate(() => {
    const sheet = document.querySelector('.sheet');
    if (sheet && sheet.scrollHeight > sheet.clientHeight) {
      sheet.scrollTop = sheet.scrollHeight;
      return true;
    }
    if (document.documentElement.scrollHeight > window.innerHeight + 1) {
      window.scrollTo(0, document.documentElement.scrollHeight);
      return true;
    }
    return false;
  });
  if (scrollable) {
    await page.waitForTimeout(50);
    await page.screenshot({ path: join(RESULTS, 'screens', `${name}-end.png`) });
    await page.evaluate(() => {
      window.scrollTo(0, 0);
      const sheet = document.querySelector('.sheet');
      if (sheet) sheet.scrollTop = 0;
    });
  }
}
