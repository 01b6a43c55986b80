// Guided test runs: the pure logic the four screens share (the catalogue by product, verdict and
// step looks, which panel a prompt needs, following the live run through a queue, result filters,
// times, bodies and the POS-driver URL).
import type { Key } from './i18n/index.svelte';
import type { Tone } from './labels';
import type { CheckView, Commands, Prompt, RunView, TestCaseInfo, TrafficView, Verdict } from './types';

/** Whether an event's data has the shape of a RunView (a malformed event is dropped). */
export function isRunView(data: unknown): data is RunView {
  if (typeof data !== 'object' || data === null) return false;
  const r = data as Partial<RunView>;
  return typeof r.runId === 'string' && typeof r.caseId === 'string' && Array.isArray(r.steps) && Array.isArray(r.live);
}

/** The two products of the catalogue (`TestCaseInfo.product`). */
export type Product = 'upm' | 'mpm';
export const PRODUCTS: Product[] = ['upm', 'mpm'];

/** A product's cases: required first, then optional, each by id. */
export function casesOf(cases: TestCaseInfo[], product: Product): { required: TestCaseInfo[]; optional: TestCaseInfo[] } {
  const mine = cases.filter((c) => c.product.toLowerCase() === product).sort((a, b) => a.id.localeCompare(b.id));
  return { required: mine.filter((c) => c.required), optional: mine.filter((c) => !c.required) };
}

/** The ids "Run all required" starts for a product, in catalogue order. */
export function requiredIds(cases: TestCaseInfo[], product: Product): string[] {
  return casesOf(cases, product).required.map((c) => c.id);
}

/** How many of a product's required cases last passed. */
export function requiredPassed(cases: TestCaseInfo[], product: Product): { passed: number; total: number } {
  const { required } = casesOf(cases, product);
  return { passed: required.filter((c) => c.lastVerdict === 'PASS').length, total: required.length };
}

/** Words, tone and icon of a verdict: never colour alone. */
export interface Look {
  key: Key;
  tone: Tone;
  icon: string;
}

const VERDICT_LOOKS: Record<Verdict, Look> = {
  PASS: { key: 'verdict.PASS', tone: 'good', icon: '✓' },
  FAIL: { key: 'verdict.FAIL', tone: 'bad', icon: '✕' },
  ERROR: { key: 'verdict.ERROR', tone: 'bad', icon: '⚠' },
  SKIPPED: { key: 'verdict.SKIPPED', tone: 'neutral', icon: '⊘' },
  INCOMPLETE: { key: 'verdict.INCOMPLETE', tone: 'wait', icon: '◔' },
};

/** The look of a verdict; an unknown one is neutral. */
export function verdictLook(verdict: string): Look {
  return (VERDICT_LOOKS as Record<string, Look | undefined>)[verdict] ?? { key: 'verdict.unknown', tone: 'neutral', icon: '•' };
}

/** The verdicts a filter offers. */
export const VERDICTS: Verdict[] = ['PASS', 'FAIL', 'ERROR', 'SKIPPED', 'INCOMPLETE'];

const STEP_LOOKS: Record<string, Look> = {
  pending: { key: 'runner.step.pending', tone: 'neutral', icon: '○' },
  active: { key: 'runner.step.active', tone: 'wait', icon: '▶' },
  done: { key: 'runner.step.done', tone: 'good', icon: '✓' },
  timedOut: { key: 'runner.step.timedOut', tone: 'bad', icon: '⏱' },
};

/** The look of a step's status. */
export function stepLook(status: string): Look {
  return STEP_LOOKS[status] ?? { key: 'runner.step.pending', tone: 'neutral', icon: '○' };
}

const SIGNATURE_LOOKS: Record<TrafficView['signature'], Look> = {
  valid: { key: 'traffic.sig.valid', tone: 'good', icon: '✓' },
  invalid: { key: 'traffic.sig.invalid', tone: 'bad', icon: '✕' },
  missing: { key: 'traffic.sig.missing', tone: 'bad', icon: '⚠' },
  notChecked: { key: 'traffic.sig.notChecked', tone: 'neutral', icon: '–' },
};

/** The look of a traffic entry's signature verdict. */
export function signatureLook(signature: string): Look {
  return (SIGNATURE_LOOKS as Record<string, Look | undefined>)[signature] ?? SIGNATURE_LOOKS.notChecked;
}

/** Which panel a prompt needs, and its heading. */
export type Panel = 'code' | 'pin' | 'decline' | 'scan' | 'proceed' | 'question' | 'photo' | 'working';

/** Maps the engine's prompt to the panel that answers it and the panel's heading. */
export function promptPanel(prompt: Prompt | null, posDriven: boolean): { panel: Panel; title: Key } {
  if (!prompt) return { panel: 'working', title: 'runner.prompt.working' };
  switch (prompt.kind) {
    case 'showCode':
      return { panel: 'code', title: posDriven ? 'runner.prompt.codeDriven' : 'runner.prompt.code' };
    case 'pin':
      return { panel: 'pin', title: 'runner.prompt.pin' };
    case 'decline':
      return { panel: 'decline', title: 'runner.prompt.decline' };
    case 'scanOrder':
      return { panel: 'scan', title: 'runner.prompt.scan' };
    case 'proceed':
      return { panel: 'proceed', title: 'runner.prompt.proceed' };
    case 'question':
      return { panel: 'question', title: 'runner.prompt.question' };
    case 'photo':
      return { panel: 'photo', title: 'runner.prompt.photo' };
    default:
      return { panel: 'working', title: 'runner.prompt.working' };
  }
}

/** Whether a run has ended (nothing more will happen to it). */
export function isOver(run: RunView): boolean {
  return run.state !== 'running';
}

/** What the runner shows: the run followed, and the runs of the same series that ended before it. */
export interface Followed {
  run: RunView | null;
  earlier: RunView[];
}

/**
 * Folds a run update into what the runner shows. An update of the same run replaces it; the next
 * case of a series takes its place and the one it replaces moves to `earlier`, so the series'
 * verdicts stay in view; a run of a new start begins with no `earlier`. A late update of an
 * earlier run of the series updates it there.
 */
export function follow(state: Followed, next: RunView): Followed {
  const current = state.run;
  if (!current || current.runId === next.runId) return { run: next, earlier: state.earlier };
  if (state.earlier.some((r) => r.runId === next.runId)) {
    return { run: current, earlier: state.earlier.map((r) => (r.runId === next.runId ? next : r)) };
  }
  // The next case of the same series (queued after this one) means this one ended, even if its
  // last update was missed; any other run is a new start, and a new series.
  if (!current.queue.includes(next.caseId)) return { run: next, earlier: [] };
  return { run: next, earlier: [...state.earlier.filter((r) => r.runId !== current.runId), current] };
}

/** Runs listed as earlier whose last update still says running (fetch their final view). */
export function staleEarlier(state: Followed): string[] {
  return state.earlier.filter((r) => !isOver(r)).map((r) => r.runId);
}

/** Relative time of a message from the run's start: `+1.2 s`, `+1:05.3`. */
export function formatRel(ms: number): string {
  const tenths = Math.max(0, Math.round(ms / 100));
  const seconds = Math.floor(tenths / 10);
  const tenth = tenths % 10;
  if (seconds < 60) return `+${seconds}.${tenth} s`;
  return `+${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}.${tenth}`;
}

/** A run's duration for people: `850 ms`, `4.2 s`, `2 min 05 s`; empty when unknown. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${Math.floor(tenths / 10)}.${tenths % 10} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}

/** A payment code's digits in groups of four, as a cashier reads them. */
export function groupCode(code: string): string {
  return /^\d+$/.test(code) ? (code.match(/.{1,4}/g) ?? []).join(' ') : code;
}

/** A message body for reading: JSON indented by two spaces, anything else as it came. */
export function prettyBody(body: string): string {
  const trimmed = body.trim();
  if (trimmed === '' || !/^[[{]/.test(trimmed)) return body;
  try {
    return JSON.stringify(JSON.parse(trimmed), null, 2);
  } catch {
    return body;
  }
}

/** The traffic entries a check rests on, in the check's order (ids no longer stored are left out). */
export function entriesOf(check: CheckView, traffic: TrafficView[]): TrafficView[] {
  const byId = new Map(traffic.map((e) => [e.id, e]));
  return check.entries.flatMap((id) => byId.get(id) ?? []);
}

/** The one-line title of a traffic entry: `pay → U PAYMENT_IN_PROCESS`, `notifyPayment → 200`. */
export function entryLine(entry: TrafficView): string {
  const outcome = [entry.resultStatus, entry.resultCode].filter((s): s is string => Boolean(s)).join(' ');
  const answer = outcome || (entry.status !== null ? String(entry.status) : '…');
  return `${entry.api || entry.path} → ${answer}`;
}

/** The results filter as chosen on screen ('' = any). */
export interface ResultsFilter {
  verdict: Verdict | '';
  caseId: string;
}

/** The `results` arguments for a filter (an unset part is left out). */
export function resultsArgs(filter: ResultsFilter): Commands['results']['args'] {
  const args: Commands['results']['args'] = {};
  if (filter.verdict) args.verdict = filter.verdict;
  if (filter.caseId) args.caseId = filter.caseId;
  return args;
}

/** Whether a filter narrows the list (then exports take the shown runs, else all). */
export function isFiltered(filter: ResultsFilter): boolean {
  return filter.verdict !== '' || filter.caseId !== '';
}

/** The case ids a results filter offers: every case of the catalogue and every case with a result. */
export function caseChoices(cases: { id: string }[], results: { caseId: string }[]): string[] {
  return [...new Set([...cases.map((c) => c.id), ...results.map((r) => r.caseId)])].sort((a, b) => a.localeCompare(b));
}

/** The POS-driver URL as typed: `null` to clear it, the trimmed URL, or the key of what is wrong. */
export function checkPosUrl(text: string): { url: string | null } | { problem: Key } {
  const trimmed = text.trim();
  if (trimmed === '') return { url: null };
  // The usual slip is an address without its scheme (`192.168.1.20:8788`): say so.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) return { problem: 'settings.posUrl.scheme' };
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    return { problem: 'settings.posUrl.invalid' };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return { problem: 'settings.posUrl.scheme' };
  if (!parsed.hostname) return { problem: 'settings.posUrl.invalid' };
  return { url: trimmed };
}

/** A download's file name kept to safe characters (the server names it; this only guards). */
export function safeFileName(name: string, fallback: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');
  return cleaned.length > 0 ? cleaned.slice(0, 120) : fallback;
}
