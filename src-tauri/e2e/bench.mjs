// Benchmark of the real app (release build): cold start to interactive, idle RSS, binary size.
//
// Start to interactive: from asking tauri-driver for a session (which launches the app) until
// the wallet's navigation is on screen with the accounts loaded — so it includes starting the
// embedded sandbox, self-pairing and the first commands, plus the driver's own overhead (an upper
// bound). "First launch" is on a fresh data dir (the sandbox provisions its keys); "next
// launches" reuse it. Idle RSS: 5 s after interactive, the app process and its WebKit child
// processes. Targets (issue 12): start ≤ 1.5 s, idle RSS ≤ 200 MB, binary ≤ 25 MB.
//
// Run: bash scripts/bench-app.sh (builds the release app first).

import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { ensureDisplay, residentMemory, Session, startDriver } from './webdriver.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const APP = resolve(ROOT, process.env.PLUSBOX_APP_BIN ?? 'target/release/plusbox-app');
const RUNS = Number(process.env.RUNS ?? 5);

const dir = mkdtempSync(join(tmpdir(), 'plusbox-app-bench-'));
const data = join(dir, 'data');
const display = await ensureDisplay();
const driver = await startDriver({ ...process.env, DISPLAY: display.display, PLUSBOX_APP_DATA: data, RUST_LOG: 'warn' });

/** One launch: ms to interactive, and the session (left open). */
async function launch() {
  const start = performance.now();
  const session = await Session.start(driver.url, APP);
  await session.waitFor('nav a[href="#/wallet"][aria-current=page]', 60_000);
  await session.waitFor('.account', 60_000);
  return { ms: performance.now() - start, session };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
let first;
const next = [];
let rss;
try {
  for (let i = 0; i <= RUNS; i += 1) {
    const { ms, session } = await launch();
    if (i === 0) {
      first = ms;
    } else {
      next.push(ms);
    }
    if (i === RUNS) {
      await sleep(5_000);
      rss = residentMemory(APP);
    }
    await session.close();
    await sleep(500);
  }
} finally {
  driver.stop();
  display.stop();
}

const size = statSync(APP).size;
const stripped = join(dir, 'stripped');
copyFileSync(APP, stripped);
execFileSync('strip', [stripped]);
const strippedSize = statSync(stripped).size;
rmSync(dir, { recursive: true, force: true });

const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1);
console.log(`binary            ${APP}`);
console.log(`start→interactive first launch ${first.toFixed(0)} ms; next launches median ${median(next).toFixed(0)} ms (min ${Math.min(...next).toFixed(0)}, max ${Math.max(...next).toFixed(0)}, n=${next.length})  [target ≤ 1500 ms]`);
if (rss) {
  console.log(`idle RSS          app ${mb(rss.appKb * 1024)} MB + WebKit processes ${mb(rss.webkitKb * 1024)} MB = ${mb(rss.totalKb * 1024)} MB  [target ≤ 200 MB]`);
  console.log(`idle PSS / USS    ${mb(rss.pssKb * 1024)} MB proportional / ${mb(rss.ussKb * 1024)} MB private (anonymous ${mb(rss.anonKb * 1024)} MB): shared libraries counted once`);
  for (const p of rss.processes) {
    console.log(`  ${p.name.padEnd(16)} RSS ${mb(p.rssKb * 1024)}  PSS ${mb(p.pssKb * 1024)}  USS ${mb(p.ussKb * 1024)}  anonymous ${mb(p.anonKb * 1024)} MB`);
  }
} else {
  console.log('idle RSS          (the app process was not found)');
}
console.log(`binary size       ${mb(size)} MB as built, ${mb(strippedSize)} MB stripped  [target ≤ 25 MB]`);
