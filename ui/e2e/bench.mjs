// Benchmark: scan-to-result in Chromium (a camera frame is drawn → the result is on screen), over
// repeated scans of a rendered code played by the fake camera; and the UI bundle size gzipped.
// Prints the figures and writes test-results/bench.json.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { launch, pairOnLoopback, plusbox, pngToY4m, RESULTS, startStack } from './harness.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 25);
const DIST = resolve(RESULTS, '..', 'dist');

/** @param {string} dir @returns {string[]} */
function files(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/** @param {number[]} xs */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

const bundle = files(DIST).filter((f) => /\.(js|css|html)$/.test(f));
const gzipBytes = bundle.reduce((sum, f) => sum + gzipSync(readFileSync(f), { level: 9 }).length, 0);
const rawBytes = bundle.reduce((sum, f) => sum + statSync(f).size, 0);

const stack = await startStack();
const helper = await launch();
/** @type {number[]} */
const times = [];
try {
  const { code } = JSON.parse(plusbox(['wallet', 'code', '--data', 'sb', '--account', 'buyer-1', '--json'], stack.dir));
  const png = join(stack.dir, 'bench.png');
  const y4m = join(stack.dir, 'bench.y4m');
  plusbox(['code', 'render', code, '--format', 'png', '--out', png], stack.dir);
  await pngToY4m(helper, png, y4m);
  const camera = await launch({ fakeVideo: y4m });
  try {
    const context = await camera.newContext({ viewport: { width: 390, height: 844 } });
    await context.grantPermissions(['camera'], { origin: stack.sandbox });
    const page = await context.newPage();
    await pairOnLoopback(page, stack.sandbox);
    await page.goto(`${stack.sandbox}/#/scan`);
    await page.getByRole('button', { name: 'Start camera' }).click();
    for (let i = 0; i < RUNS; i++) {
      await page.locator('article.scanned').first().waitFor({ timeout: 30_000 });
      const ms = await page.waitForFunction(() => {
        const m = performance.getEntriesByName('plusbox:scan-to-result');
        return m.length > 0 ? m[m.length - 1]?.duration : undefined;
      });
      times.push(Number(await ms.jsonValue()));
      await page.evaluate(() => performance.clearMeasures('plusbox:scan-to-result'));
      await page.getByRole('button', { name: 'Scan another code' }).click();
    }
  } finally {
    await camera.close();
  }
} finally {
  await helper.close();
  stack.stop();
}

const figures = {
  scanToResultMs: { runs: times.length, median: Number(median(times).toFixed(1)), min: Math.min(...times), max: Math.max(...times) },
  bundle: { files: bundle.length, rawBytes, gzipBytes },
};
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, 'bench.json'), JSON.stringify(figures, null, 2));
console.log(`scan-to-result (Chromium, fake camera, ${times.length} scans): median ${figures.scanToResultMs.median} ms, min ${figures.scanToResultMs.min.toFixed(1)} ms, max ${figures.scanToResultMs.max.toFixed(1)} ms (target ≤ 300 ms)`);
console.log(`UI bundle: ${bundle.length} files, ${(rawBytes / 1024).toFixed(1)} KB raw, ${(gzipBytes / 1024).toFixed(1)} KB gzipped (target ≤ 200 KB)`);
