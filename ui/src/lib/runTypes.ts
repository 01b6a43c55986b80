// The guided-run commands as the UI uses them (CONTRACT-RUNS.md): the case catalogue, the live
// run with its prompt, stored results and exports. Mirrors the contract's shapes until the Rust
// side generates them into ./bindings.

import type { Money } from './types';

/** A run's (or a check's) outcome. */
export type Verdict = 'PASS' | 'FAIL' | 'ERROR' | 'SKIPPED' | 'INCOMPLETE';

/** One case of the catalogue with its last local verdict. */
export interface TestCaseInfo {
  id: string;
  title: string;
  product: 'upm' | 'mpm';
  required: boolean;
  proves: string;
  stepCount: number;
  requires: string[];
  lastVerdict: Verdict | null;
  lastRunId: string | null;
  lastRunAt: string | null;
}

/** Where the POS is driven from (null: the person works the real POS). */
export interface RunSettings {
  posUrl: string | null;
}

/** A step of a case as the runner shows it. */
export interface StepView {
  number: number;
  instruction: string;
  expect: string | null;
  status: 'pending' | 'active' | 'done' | 'timedOut';
  note: string | null;
}

/** What the person must do now. */
export type Prompt =
  | { kind: 'showCode'; code: string; qrSvg: string; barcodeSvg: string }
  | { kind: 'pin'; paymentId: string; merchantName: string; amount: Money }
  | { kind: 'decline'; paymentId: string; merchantName: string; amount: Money }
  | { kind: 'scanOrder' }
  | { kind: 'proceed'; text: string }
  | { kind: 'question'; check: string; question: string }
  | { kind: 'photo'; check: string; what: string; min: number; have: number };

/** One message of the run's traffic, as it happens. */
export interface LiveEntry {
  id: number;
  at: string;
  relMs: number;
  from: string;
  to: string;
  api: string;
  summary: string;
}

/** The live run. */
export interface RunView {
  runId: string;
  caseId: string;
  title: string;
  proves: string;
  state: 'running' | 'finished' | 'cancelled' | 'incomplete';
  queue: string[];
  posDriven: boolean;
  steps: StepView[];
  prompt: Prompt | null;
  live: LiveEntry[];
  verdict: Verdict | null;
  errors: string[];
}

/** A stored run in the results list. */
export interface RunSummary {
  runId: string;
  caseId: string;
  title: string;
  verdict: Verdict;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  posDriven: boolean;
}

/** One traffic entry in full. */
export interface TrafficView {
  id: number;
  at: string;
  relMs: number;
  direction: 'inbound' | 'outbound';
  from: string;
  to: string;
  api: string;
  method: string;
  path: string;
  status: number | null;
  resultStatus: string | null;
  resultCode: string | null;
  requestHeaders: [string, string][];
  requestBody: string;
  responseHeaders: [string, string][];
  responseBody: string;
  signature: 'valid' | 'invalid' | 'missing' | 'notChecked';
}

/** A check of the verdict, with the traffic it rests on. */
export interface CheckView {
  name: string;
  verdict: Verdict;
  reason: string;
  entries: number[];
}

/** A stored run in full. */
export interface RunResult {
  summary: RunSummary;
  proves: string;
  steps: StepView[];
  checks: CheckView[];
  traffic: TrafficView[];
  diagramSvg: string;
  photos: { check: string; name: string; mediaType: string; dataUrl: string }[];
  answers: { check: string; answer: boolean }[];
  errors: string[];
}

/** An exported report. */
export interface ExportFile {
  fileName: string;
  mediaType: string;
  content: string;
}

/** The export formats. */
export type ExportFormat = 'json' | 'junit' | 'html';

/** The run commands: args and result of each. */
export interface RunCommands {
  test_cases: { args: Record<string, never>; result: TestCaseInfo[] };
  run_settings: { args: Record<string, never>; result: RunSettings };
  set_run_settings: { args: { posUrl: string | null }; result: RunSettings };
  run_start: { args: { caseIds: string[]; accountId?: string }; result: RunView };
  run_view: { args: { runId: string }; result: RunView };
  run_active: { args: Record<string, never>; result: RunView | null };
  run_proceed: { args: { runId: string }; result: RunView };
  run_answer: { args: { runId: string; check: string; answer: boolean }; result: RunView };
  run_photo: { args: { runId: string; check: string; image: string; mediaType?: string }; result: RunView };
  run_skip_photo: { args: { runId: string; check: string }; result: RunView };
  run_cancel: { args: { runId: string }; result: RunView };
  results: { args: { verdict?: Verdict; caseId?: string }; result: RunSummary[] };
  result: { args: { runId: string }; result: RunResult };
  export_results: { args: { runIds: string[]; format: ExportFormat }; result: ExportFile };
}
