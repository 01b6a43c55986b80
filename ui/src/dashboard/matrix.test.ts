// The Test Data page's rules: filters, columns, cells (verdict, not run, not assigned), progress
// per merchant and per case, and the summary.
import { describe, expect, it } from 'vitest';
import { casesOfMerchant, cellOf, columnOf, countsOf, filterMerchants, isFiltered, NO_FILTER, progressOf, statusLook, summaryOf, visibleCases } from './matrix';
import type { CaseCol, MerchantRow } from './types';

const CASES: CaseCol[] = [
  { id: 'UPM-PAY-001', title: 'Pays', product: 'upm', required: true },
  { id: 'MPM-OC-001', title: 'Order code', product: 'mpm', required: true },
  { id: 'UPM-AMT-001', title: 'JPY', product: 'upm', required: false },
  { id: 'UPM-CAN-001', title: 'Cancel', product: 'upm', required: true },
];

function row(over: Partial<MerchantRow>): MerchantRow {
  return {
    inviteId: 'inv_A',
    merchant: 'Lotus Tea House',
    mid: 'M100',
    email: 'ops@lotus.example',
    products: ['upm'],
    status: 'Active',
    createdAt: '2026-12-07T08:00:00Z',
    linkedAt: '2026-12-07T08:05:00Z',
    lastUploadAt: null,
    assigned: ['UPM-PAY-001', 'UPM-CAN-001'],
    passed: 0,
    required: 2,
    readyForUat: false,
    cells: {},
    ...over,
  };
}

const lotus = row({
  passed: 2,
  readyForUat: true,
  cells: {
    'UPM-PAY-001': { verdict: 'PASS', runId: 'run-1', at: '2026-12-07T09:00:00Z' },
    'UPM-CAN-001': { verdict: 'PASS', runId: 'run-2', at: '2026-12-07T09:05:00Z' },
  },
});
const kopi = row({
  inviteId: 'inv_B',
  merchant: 'Kopi Corner',
  mid: 'M200',
  email: 'kopi@example.com',
  products: ['upm', 'mpm'],
  status: 'Inactive',
  linkedAt: null,
  assigned: ['UPM-PAY-001', 'MPM-OC-001', 'UPM-CAN-001'],
  required: 3,
  passed: 1,
  cells: {
    'UPM-PAY-001': { verdict: 'FAIL', runId: 'run-3', at: '2026-12-07T09:10:00Z' },
    'MPM-OC-001': { verdict: 'PASS', runId: 'run-4', at: '2026-12-07T09:11:00Z' },
    'UPM-CAN-001': null,
  },
});
const gone = row({ inviteId: 'inv_C', merchant: 'Closed Shop', mid: 'M300', email: 'closed@shop.example', status: 'Revoked' });
const ALL = [lotus, kopi, gone];

describe('filters of the Test Data page', () => {
  it('no filter shows every merchant in the server order', () => {
    expect(filterMerchants(ALL, NO_FILTER).map((r) => r.inviteId)).toEqual(['inv_A', 'inv_B', 'inv_C']);
    expect(isFiltered(NO_FILTER)).toBe(false);
  });

  it('status, product and readiness each narrow the rows', () => {
    expect(filterMerchants(ALL, { ...NO_FILTER, status: 'Inactive' }).map((r) => r.inviteId)).toEqual(['inv_B']);
    expect(filterMerchants(ALL, { ...NO_FILTER, product: 'mpm' }).map((r) => r.inviteId)).toEqual(['inv_B']);
    expect(filterMerchants(ALL, { ...NO_FILTER, ready: 'ready' }).map((r) => r.inviteId)).toEqual(['inv_A']);
    expect(filterMerchants(ALL, { ...NO_FILTER, ready: 'notReady' }).map((r) => r.inviteId)).toEqual(['inv_B', 'inv_C']);
  });

  it('the text matches name, MID or e-mail in any case, and blanks around it are ignored', () => {
    expect(filterMerchants(ALL, { ...NO_FILTER, text: '  kopi ' }).map((r) => r.inviteId)).toEqual(['inv_B']);
    expect(filterMerchants(ALL, { ...NO_FILTER, text: 'm300' }).map((r) => r.inviteId)).toEqual(['inv_C']);
    expect(filterMerchants(ALL, { ...NO_FILTER, text: 'LOTUS.EXAMPLE' }).map((r) => r.inviteId)).toEqual(['inv_A']);
    expect(isFiltered({ ...NO_FILTER, text: ' x ' })).toBe(true);
    expect(isFiltered({ ...NO_FILTER, text: '   ' })).toBe(false);
  });

  it('the columns are the product filter’s cases, required first, then by id', () => {
    expect(visibleCases(CASES, NO_FILTER).map((c) => c.id)).toEqual(['MPM-OC-001', 'UPM-CAN-001', 'UPM-PAY-001', 'UPM-AMT-001']);
    expect(visibleCases(CASES, { ...NO_FILTER, product: 'upm' }).map((c) => c.id)).toEqual(['UPM-CAN-001', 'UPM-PAY-001', 'UPM-AMT-001']);
  });
});

describe('cells', () => {
  it('an assigned case shows its latest verdict and opens that run', () => {
    const cell = cellOf(kopi, 'UPM-PAY-001');
    expect(cell).toMatchObject({ state: 'FAIL', tone: 'bad', icon: '✕', runId: 'run-3', key: 'verdict.FAIL' });
  });

  it('an assigned case without a run (missing or null) is "not run", opening nothing', () => {
    expect(cellOf(kopi, 'UPM-CAN-001')).toMatchObject({ state: 'notRun', runId: null, icon: '–' });
    expect(cellOf(row({}), 'UPM-PAY-001')).toMatchObject({ state: 'notRun', runId: null });
  });

  it('a case not assigned to the merchant is blank even when a run of it exists', () => {
    const stray = row({ cells: { 'MPM-OC-001': { verdict: 'PASS', runId: 'run-9', at: '2026-12-07T09:00:00Z' } } });
    expect(cellOf(stray, 'MPM-OC-001')).toMatchObject({ state: 'notAssigned', runId: null, tone: 'none' });
  });
});

describe('progress', () => {
  it('is required cases passed of all, rounded down to a whole percentage', () => {
    expect(progressOf({ passed: 1, required: 3 })).toEqual({ passed: 1, required: 3, percent: 33 });
    expect(progressOf({ passed: 2, required: 2 })).toEqual({ passed: 2, required: 2, percent: 100 });
  });

  it('no required case is 0 %, and a count out of range is clamped', () => {
    expect(progressOf({ passed: 0, required: 0 })).toEqual({ passed: 0, required: 0, percent: 0 });
    expect(progressOf({ passed: 5, required: 3 })).toEqual({ passed: 3, required: 3, percent: 100 });
    expect(progressOf({ passed: -1, required: 3 })).toEqual({ passed: 0, required: 3, percent: 0 });
  });

  it('counts a merchant’s verdicts over its assigned cases only', () => {
    expect(countsOf(kopi)).toEqual({ pass: 1, fail: 1, other: 0, notRun: 1 });
    expect(countsOf(lotus)).toEqual({ pass: 2, fail: 0, other: 0, notRun: 0 });
  });

  it('a column counts the merchants it is assigned to and those who last passed it', () => {
    expect(columnOf(ALL, 'UPM-PAY-001')).toEqual({ passed: 1, assigned: 3 });
    expect(columnOf(ALL, 'MPM-OC-001')).toEqual({ passed: 1, assigned: 1 });
    expect(columnOf(ALL, 'UPM-AMT-001')).toEqual({ passed: 0, assigned: 0 });
  });

  it('the summary counts merchants by status and those ready for UAT', () => {
    expect(summaryOf(ALL)).toEqual({ total: 3, ready: 1, Active: 1, Inactive: 1, Revoked: 1 });
    expect(summaryOf([])).toEqual({ total: 0, ready: 0, Active: 0, Inactive: 0, Revoked: 0 });
  });
});

describe('looks and the merchant page', () => {
  it('each status has its own word key, tone and icon; an unknown one reads as Inactive', () => {
    expect(statusLook('Active')).toEqual({ key: 'dash.status.Active', tone: 'good', icon: '●' });
    expect(statusLook('Revoked')).toEqual({ key: 'dash.status.Revoked', tone: 'bad', icon: '⊘' });
    expect(statusLook('Inactive').key).toBe('dash.status.Inactive');
    expect(statusLook('Paused').key).toBe('dash.status.Inactive');
  });

  it('lists a merchant’s assigned cases required first, with a column made up for an unknown case', () => {
    const lines = casesOfMerchant(row({ assigned: ['UPM-AMT-001', 'UPM-PAY-001', 'MPM-NEW-001'] }), CASES);
    expect(lines.map((l) => l.col.id)).toEqual(['MPM-NEW-001', 'UPM-PAY-001', 'UPM-AMT-001']);
    expect(lines[0]?.col).toMatchObject({ product: 'mpm', required: true, title: 'MPM-NEW-001' });
  });
});
