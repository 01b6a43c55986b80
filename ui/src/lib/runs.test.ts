// The guided-run screens' pure logic: the catalogue by product, verdict looks, prompt → panel,
// following a run through a queue, times, bodies, result filters and the POS-driver URL.
import { describe, expect, it } from 'vitest';
import {
  casesOf,
  caseChoices,
  checkPosUrl,
  entriesOf,
  entryLine,
  follow,
  formatDuration,
  formatRel,
  groupCode,
  isFiltered,
  isRunView,
  prettyBody,
  promptPanel,
  requiredIds,
  requiredPassed,
  resultsArgs,
  safeFileName,
  signatureLook,
  staleEarlier,
  stepLook,
  verdictLook,
} from './runs';
import type { Prompt, RunView, TestCaseInfo, TrafficView } from './types';

function tc(id: string, product: 'upm' | 'mpm', required: boolean, lastVerdict: TestCaseInfo['lastVerdict'] = null): TestCaseInfo {
  return { id, title: id, product, required, proves: '', stepCount: 1, requires: [], lastVerdict, lastRunId: null, lastRunAt: null };
}

function view(runId: string, state: RunView['state'], verdict: RunView['verdict'] = null): RunView {
  return {
    runId,
    caseId: `case-${runId}`,
    title: '',
    proves: '',
    state,
    queue: [],
    posDriven: true,
    steps: [],
    prompt: null,
    live: [],
    verdict,
    errors: [],
  };
}

function traffic(id: number, extra: Partial<TrafficView> = {}): TrafficView {
  return {
    id,
    at: '2026-12-07T08:00:00Z',
    relMs: 0,
    direction: 'inbound',
    from: 'ACQP',
    to: 'SANDBOX',
    api: 'pay',
    method: 'POST',
    path: '/aps/api/v1/payments/pay',
    status: 200,
    resultStatus: null,
    resultCode: null,
    requestHeaders: [],
    requestBody: '',
    responseHeaders: [],
    responseBody: '',
    signature: 'valid',
    ...extra,
  };
}

describe('the catalogue by product', () => {
  const cases = [
    tc('UPM-PIN-001', 'upm', true, 'PASS'),
    tc('MPM-OC-001', 'mpm', true),
    tc('UPM-BASIC-002', 'upm', false),
    tc('UPM-BASIC-001', 'upm', true, 'FAIL'),
  ];

  it('splits a product into required then optional, each sorted by id, leaving the other product out', () => {
    const upm = casesOf(cases, 'upm');
    expect(upm.required.map((c) => c.id)).toEqual(['UPM-BASIC-001', 'UPM-PIN-001']);
    expect(upm.optional.map((c) => c.id)).toEqual(['UPM-BASIC-002']);
    expect(casesOf(cases, 'mpm').required.map((c) => c.id)).toEqual(['MPM-OC-001']);
  });

  it('"Run all required" takes only the product’s required cases, in catalogue order', () => {
    expect(requiredIds(cases, 'upm')).toEqual(['UPM-BASIC-001', 'UPM-PIN-001']);
    expect(requiredIds([], 'upm')).toEqual([]);
  });

  it('counts the required cases whose last verdict is PASS', () => {
    expect(requiredPassed(cases, 'upm')).toEqual({ passed: 1, total: 2 });
    expect(requiredPassed(cases, 'mpm')).toEqual({ passed: 0, total: 1 });
  });
});

describe('looks never rely on colour alone', () => {
  it('gives every verdict its own word key and icon, and an unknown verdict a neutral look', () => {
    const looks = (['PASS', 'FAIL', 'ERROR', 'SKIPPED', 'INCOMPLETE'] as const).map(verdictLook);
    expect(looks.map((l) => l.key)).toEqual(['verdict.PASS', 'verdict.FAIL', 'verdict.ERROR', 'verdict.SKIPPED', 'verdict.INCOMPLETE']);
    expect(new Set(looks.map((l) => l.icon)).size).toBe(5);
    expect(verdictLook('PASS').tone).toBe('good');
    expect(verdictLook('FAIL').tone).toBe('bad');
    expect(verdictLook('MAYBE')).toEqual({ key: 'verdict.unknown', tone: 'neutral', icon: '•' });
  });

  it('maps step statuses and signature verdicts, unknown ones to the quiet look', () => {
    expect(stepLook('timedOut').key).toBe('runner.step.timedOut');
    expect(stepLook('active').tone).toBe('wait');
    expect(stepLook('weird').key).toBe('runner.step.pending');
    expect(signatureLook('invalid').tone).toBe('bad');
    expect(signatureLook('missing').key).toBe('traffic.sig.missing');
    expect(signatureLook('???').key).toBe('traffic.sig.notChecked');
  });
});

describe('prompt mapping', () => {
  const money = { currency: 'USD', value: '1250', exponent: 2 };
  const prompts: [Prompt | null, string, string][] = [
    [null, 'working', 'runner.prompt.working'],
    [{ kind: 'showCode', code: '281012345678901234567890', qrSvg: '', barcodeSvg: '' }, 'code', 'runner.prompt.code'],
    [{ kind: 'pin', paymentId: 'p1', merchantName: 'Shop', amount: money }, 'pin', 'runner.prompt.pin'],
    [{ kind: 'decline', paymentId: 'p2', merchantName: 'Shop', amount: money }, 'decline', 'runner.prompt.decline'],
    [{ kind: 'scanOrder', confirm: true, code: null }, 'scan', 'runner.prompt.scan'],
    [{ kind: 'proceed', text: 'Press Done' }, 'proceed', 'runner.prompt.proceed'],
    [{ kind: 'question', check: 'c', question: 'Did it?' }, 'question', 'runner.prompt.question'],
    [{ kind: 'photo', check: 'c', what: 'receipt', min: 1, have: 0 }, 'photo', 'runner.prompt.photo'],
  ];

  for (const [prompt, panel, title] of prompts) {
    it(`${prompt?.kind ?? 'no prompt'} → the ${panel} panel`, () => {
      expect(promptPanel(prompt, false)).toEqual({ panel, title });
    });
  }

  it('says the POS driver charges the code when the POS is driven', () => {
    const code: Prompt = { kind: 'showCode', code: '1', qrSvg: '', barcodeSvg: '' };
    expect(promptPanel(code, true).title).toBe('runner.prompt.codeDriven');
  });

  it('an unknown prompt kind from a newer engine shows the working panel, not a crash', () => {
    expect(promptPanel({ kind: 'hologram' } as unknown as Prompt, false).panel).toBe('working');
  });
});

describe('following the live run', () => {
  it('replaces the run with its own update', () => {
    const s = follow({ run: view('a', 'running'), earlier: [] }, view('a', 'finished', 'PASS'));
    expect(s.run?.verdict).toBe('PASS');
    expect(s.earlier).toEqual([]);
  });

  it('moves an ended run to "earlier" when the queue starts the next case', () => {
    const s1 = follow({ run: null, earlier: [] }, { ...view('a', 'running'), queue: ['case-b'] });
    const s2 = follow(s1, { ...view('a', 'finished', 'FAIL'), queue: ['case-b'] });
    const s3 = follow(s2, view('b', 'running'));
    expect(s3.run?.runId).toBe('b');
    expect(s3.earlier.map((r) => [r.runId, r.verdict])).toEqual([['a', 'FAIL']]);
  });

  it('a new start after a series begins with nothing earlier', () => {
    const series = { run: view('b', 'finished', 'PASS'), earlier: [view('a', 'finished', 'FAIL')] };
    const s = follow(series, view('c', 'running'));
    expect(s.run?.runId).toBe('c');
    expect(s.earlier).toEqual([]);
  });

  it('the next case of the series ends the current one even when its final update was missed', () => {
    const first = { ...view('a', 'running'), queue: ['case-b'] };
    const s = follow({ run: first, earlier: [] }, view('b', 'running'));
    expect(s.run?.runId).toBe('b');
    expect(s.earlier.map((r) => r.runId)).toEqual(['a']);
    expect(staleEarlier(s)).toEqual(['a']);
    expect(staleEarlier(follow(s, view('a', 'finished', 'PASS')))).toEqual([]);
  });

  it('a late update of an earlier run updates it there and keeps the current run', () => {
    const s = follow({ run: view('b', 'running'), earlier: [view('a', 'finished', 'PASS')] }, view('a', 'finished', 'FAIL'));
    expect(s.run?.runId).toBe('b');
    expect(s.earlier[0]?.verdict).toBe('FAIL');
  });

  it('a new run replacing a still-running one (started elsewhere) does not list it as ended', () => {
    const s = follow({ run: view('a', 'running'), earlier: [] }, view('c', 'running'));
    expect(s.run?.runId).toBe('c');
    expect(s.earlier).toEqual([]);
  });

  it('accepts only event data shaped like a run', () => {
    expect(isRunView(view('a', 'running'))).toBe(true);
    expect(isRunView(null)).toBe(false);
    expect(isRunView({ runId: 'a' })).toBe(false);
    expect(isRunView('run')).toBe(false);
  });
});

describe('times and text', () => {
  it('relative times count tenths, then minutes', () => {
    expect(formatRel(0)).toBe('+0.0 s');
    expect(formatRel(1249)).toBe('+1.2 s');
    expect(formatRel(59_960)).toBe('+1:00.0');
    expect(formatRel(65_300)).toBe('+1:05.3');
    expect(formatRel(-5)).toBe('+0.0 s');
  });

  it('durations in ms, seconds, then minutes; nothing for unknown', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(4_240)).toBe('4.2 s');
    expect(formatDuration(125_000)).toBe('2 min 05 s');
    expect(formatDuration(null)).toBe('');
    expect(formatDuration(Number.NaN)).toBe('');
    expect(formatDuration(-1)).toBe('');
  });

  it('groups a code’s digits by four and leaves anything else alone', () => {
    expect(groupCode('281012345678901234567890')).toBe('2810 1234 5678 9012 3456 7890');
    expect(groupCode('28101234567890123')).toBe('2810 1234 5678 9012 3');
    expect(groupCode('https://x/y')).toBe('https://x/y');
  });

  it('pretty-prints JSON bodies and leaves other bodies as they came', () => {
    expect(prettyBody('{"a":1,"b":[true]}')).toBe('{\n  "a": 1,\n  "b": [\n    true\n  ]\n}');
    expect(prettyBody('{"broken":')).toBe('{"broken":');
    expect(prettyBody('plain text')).toBe('plain text');
    expect(prettyBody('')).toBe('');
  });

  it('a traffic entry’s line names the API and its result, else the HTTP status', () => {
    expect(entryLine(traffic(1, { resultStatus: 'U', resultCode: 'PAYMENT_IN_PROCESS' }))).toBe('pay → U PAYMENT_IN_PROCESS');
    expect(entryLine(traffic(2, { api: 'notifyPayment' }))).toBe('notifyPayment → 200');
    expect(entryLine(traffic(3, { api: '', status: null }))).toBe('/aps/api/v1/payments/pay → …');
  });

  it('a check’s entries come in the check’s order, unknown ids left out', () => {
    const all = [traffic(1), traffic(2), traffic(3)];
    expect(entriesOf({ name: 'c', verdict: 'PASS', reason: '', entries: [3, 9, 1] }, all).map((e) => e.id)).toEqual([3, 1]);
  });
});

describe('results filter', () => {
  it('leaves out what is not chosen', () => {
    expect(resultsArgs({ verdict: '', caseId: '' })).toEqual({});
    expect(resultsArgs({ verdict: 'FAIL', caseId: '' })).toEqual({ verdict: 'FAIL' });
    expect(resultsArgs({ verdict: '', caseId: 'UPM-PIN-001' })).toEqual({ caseId: 'UPM-PIN-001' });
    expect(isFiltered({ verdict: '', caseId: '' })).toBe(false);
    expect(isFiltered({ verdict: 'PASS', caseId: '' })).toBe(true);
  });

  it('offers every catalogue case and every case with results, once, sorted', () => {
    expect(caseChoices([{ id: 'B' }, { id: 'A' }], [{ caseId: 'C' }, { caseId: 'A' }])).toEqual(['A', 'B', 'C']);
  });
});

describe('the POS-driver URL', () => {
  it('accepts absolute http and https URLs (trimmed), and empty as "no driver"', () => {
    expect(checkPosUrl(' http://127.0.0.1:8788 ')).toEqual({ url: 'http://127.0.0.1:8788' });
    expect(checkPosUrl('https://pos.example/driver')).toEqual({ url: 'https://pos.example/driver' });
    expect(checkPosUrl('   ')).toEqual({ url: null });
  });

  it('names what is wrong with anything else', () => {
    expect(checkPosUrl('127.0.0.1:8788')).toEqual({ problem: 'settings.posUrl.scheme' });
    expect(checkPosUrl('not a url')).toEqual({ problem: 'settings.posUrl.scheme' });
    expect(checkPosUrl('http://exa mple:80')).toEqual({ problem: 'settings.posUrl.invalid' });
    expect(checkPosUrl('ftp://pos')).toEqual({ problem: 'settings.posUrl.scheme' });
    expect(checkPosUrl('http://')).toEqual({ problem: 'settings.posUrl.invalid' });
  });
});

describe('download names', () => {
  it('keep safe characters only and never start hidden', () => {
    expect(safeFileName('plusbox-results.html', 'x')).toBe('plusbox-results.html');
    expect(safeFileName('../../etc/passwd', 'x')).toBe('etc_passwd');
    expect(safeFileName('', 'fallback')).toBe('fallback');
  });
});
