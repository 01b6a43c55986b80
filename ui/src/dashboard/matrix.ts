// The Test Data page's logic, kept pure for its tests: which merchants and case columns a filter
// shows, what each cell says (a verdict, not run, or not assigned), progress per merchant and per
// case, and the page's summary line.
import type { Key } from '../lib/i18n/index.svelte';
import type { Tone } from '../lib/labels';
import { verdictLook } from '../lib/runs';
import type { CaseCol, InviteStatus, MerchantRow } from './types';

/** The filters of the Test Data page ('' = any). */
export interface MatrixFilter {
  status: InviteStatus | '';
  product: 'upm' | 'mpm' | '';
  ready: 'ready' | 'notReady' | '';
  /** Part of a merchant's name, MID or e-mail (any case). */
  text: string;
}

export const NO_FILTER: MatrixFilter = { status: '', product: '', ready: '', text: '' };
export const STATUSES: InviteStatus[] = ['Inactive', 'Active', 'Revoked'];

/** The merchants a filter shows, in the server's order. */
export function filterMerchants(rows: MerchantRow[], filter: MatrixFilter): MerchantRow[] {
  const text = filter.text.trim().toLowerCase();
  return rows.filter((r) => {
    if (filter.status && r.status !== filter.status) return false;
    if (filter.product && !r.products.some((p) => p.toLowerCase() === filter.product)) return false;
    if (filter.ready === 'ready' && !r.readyForUat) return false;
    if (filter.ready === 'notReady' && r.readyForUat) return false;
    if (text && ![r.merchant, r.mid, r.email].some((s) => s.toLowerCase().includes(text))) return false;
    return true;
  });
}

/** The case columns a filter shows: its product's (all when none), required first, then by id. */
export function visibleCases(cases: CaseCol[], filter: MatrixFilter): CaseCol[] {
  return cases
    .filter((c) => !filter.product || c.product === filter.product)
    .sort((a, b) => Number(b.required) - Number(a.required) || a.id.localeCompare(b.id));
}

/** Whether any part of a filter is set. */
export function isFiltered(filter: MatrixFilter): boolean {
  return filter.status !== '' || filter.product !== '' || filter.ready !== '' || filter.text.trim() !== '';
}

/** What a cell of the matrix shows. */
export interface CellLook {
  /** `PASS`…`INCOMPLETE`, `notRun` or `notAssigned`. */
  state: string;
  key: Key;
  tone: Tone | 'none';
  icon: string;
  /** The run it opens, when there is one. */
  runId: string | null;
  at: string | null;
}

/** The cell of a merchant and a case: its latest verdict, not run yet, or a case not assigned. */
export function cellOf(row: MerchantRow, caseId: string): CellLook {
  if (!row.assigned.includes(caseId)) {
    return { state: 'notAssigned', key: 'dash.cell.notAssigned', tone: 'none', icon: '', runId: null, at: null };
  }
  const cell = row.cells[caseId];
  if (!cell) return { state: 'notRun', key: 'dash.cell.notRun', tone: 'neutral', icon: '–', runId: null, at: null };
  const look = verdictLook(cell.verdict);
  return { state: cell.verdict, key: look.key, tone: look.tone, icon: look.icon, runId: cell.runId, at: cell.at };
}

/** A merchant's progress: required cases passed, of how many, as a whole percentage (rounded down). */
export function progressOf(row: Pick<MerchantRow, 'passed' | 'required'>): { passed: number; required: number; percent: number } {
  const required = Math.max(0, row.required);
  const passed = Math.min(Math.max(0, row.passed), required);
  return { passed, required, percent: required === 0 ? 0 : Math.floor((passed * 100) / required) };
}

/** The verdict counts of a merchant's assigned cases (not run counted as such). */
export function countsOf(row: MerchantRow): { pass: number; fail: number; other: number; notRun: number } {
  const counts = { pass: 0, fail: 0, other: 0, notRun: 0 };
  for (const id of row.assigned) {
    const verdict = row.cells[id]?.verdict;
    if (!verdict) counts.notRun++;
    else if (verdict === 'PASS') counts.pass++;
    else if (verdict === 'FAIL' || verdict === 'ERROR') counts.fail++;
    else counts.other++;
  }
  return counts;
}

/** How many of the merchants a case is assigned to last passed it. */
export function columnOf(rows: MerchantRow[], caseId: string): { passed: number; assigned: number } {
  const mine = rows.filter((r) => r.assigned.includes(caseId));
  return { passed: mine.filter((r) => r.cells[caseId]?.verdict === 'PASS').length, assigned: mine.length };
}

/** The page's summary: merchants by status and how many are ready for UAT. */
export function summaryOf(rows: MerchantRow[]): Record<InviteStatus, number> & { total: number; ready: number } {
  const out = { total: rows.length, ready: 0, Inactive: 0, Active: 0, Revoked: 0 };
  for (const r of rows) {
    if (r.readyForUat) out.ready++;
    if (r.status in out) out[r.status]++;
  }
  return out;
}

/** The look of an invite's status (icon and word with the colour). */
export function statusLook(status: string): { key: Key; tone: Tone; icon: string } {
  switch (status) {
    case 'Active':
      return { key: 'dash.status.Active', tone: 'good', icon: '●' };
    case 'Revoked':
      return { key: 'dash.status.Revoked', tone: 'bad', icon: '⊘' };
    default:
      return { key: 'dash.status.Inactive', tone: 'neutral', icon: '○' };
  }
}

/** A merchant's assigned cases with their cells, required first then by id (the merchant page). */
export function casesOfMerchant(row: MerchantRow, cases: CaseCol[]): { col: CaseCol; cell: CellLook }[] {
  const known = new Map(cases.map((c) => [c.id, c]));
  return row.assigned
    .map((id) => ({ col: known.get(id) ?? { id, title: id, product: id.startsWith('MPM-') ? 'mpm' : 'upm', required: true } as CaseCol, cell: cellOf(row, id) }))
    .sort((a, b) => Number(b.col.required) - Number(a.col.required) || a.col.id.localeCompare(b.col.id));
}
