// The traffic monitor's charts as plain SVG geometry (no chart library: the CSP allows no inline
// styles, and these are three small charts): a "nice" axis, bars per minute (stacked by result
// code or by success), latency lines with gaps where a minute had no call, and the figures.
import type { TrafficPoint } from './types';

/** The smallest 1, 2 or 5 × 10ⁿ at or above `value` (at least 1): a readable axis top. */
export function niceMax(value: number): number {
  if (!Number.isFinite(value) || value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

/** Evenly spaced axis values from 0 to `max`, `count` steps (whole numbers when `max` allows). */
export function ticks(max: number, count = 4): number[] {
  const out: number[] = [];
  if (count < 1) return [0, max];
  for (let i = 0; i <= count; i++) {
    const v = (max * i) / count;
    out.push(Number.isInteger(max / count) ? v : Math.round(v * 100) / 100);
  }
  return out;
}

/**
 * Axis values for a count (calls): whole steps only, as many of 4, 5, 2 or 1 as divide the top
 * evenly (`niceMax` tops always allow one), so no axis reads "2.5 calls".
 */
export function countTicks(max: number): number[] {
  const count = [4, 5, 2, 1].find((c) => Number.isInteger(max / c)) ?? 1;
  return ticks(max, max < count ? 1 : count);
}

/** The text anchor of an x label: the last labels end at their slot so they stay inside the chart. */
export function labelAnchor(f: Frame, x: number): 'middle' | 'end' {
  return x + 30 > f.width ? 'end' : 'middle';
}

/** The chart's drawing box inside its SVG. */
export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** A frame of `width`×`height` with room for the axis labels. */
export function frame(width: number, height: number): Frame {
  return { width: Math.max(width, 120), height, left: 44, right: 8, top: 8, bottom: 22 };
}

/** y of a value on an axis from 0 to `max`. */
export function yOf(f: Frame, max: number, value: number): number {
  const inner = f.height - f.top - f.bottom;
  const clamped = Math.min(Math.max(value, 0), max);
  return f.top + inner - (max === 0 ? 0 : (clamped / max) * inner);
}

/** x of the left edge of slot `i` of `n`, and the slot's width. */
export function slotOf(f: Frame, n: number, i: number): { x: number; w: number } {
  const inner = f.width - f.left - f.right;
  const w = n === 0 ? inner : inner / n;
  return { x: f.left + i * w, w };
}

/** One bar piece: where, its series (for its CSS class) and its value. */
export interface Bar {
  x: number;
  y: number;
  w: number;
  h: number;
  series: number;
  value: number;
}

/**
 * Stacked bars: `values[i][s]` is series `s` at minute `i`. Pieces of zero are left out; a bar
 * has a gap of a fifth of its slot (at most 6 px) so neighbours stay apart.
 */
export function stackedBars(f: Frame, values: number[][], max: number): Bar[] {
  const bars: Bar[] = [];
  values.forEach((stack, i) => {
    const slot = slotOf(f, values.length, i);
    const gap = Math.min(6, slot.w / 5);
    let base = 0;
    stack.forEach((value, series) => {
      if (value <= 0) return;
      const y0 = yOf(f, max, base);
      const y1 = yOf(f, max, base + value);
      bars.push({ x: slot.x + gap / 2, y: y1, w: Math.max(slot.w - gap, 1), h: Math.max(y0 - y1, 0), series, value });
      base += value;
    });
  });
  return bars;
}

/** An SVG path through the points (x at slot centres); a null value breaks the line. */
export function linePath(f: Frame, values: (number | null)[], max: number): string {
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    const slot = slotOf(f, values.length, i);
    const x = slot.x + slot.w / 2;
    d += `${pen ? 'L' : 'M'}${x.toFixed(1)} ${yOf(f, max, v).toFixed(1)}`;
    pen = true;
  });
  return d;
}

/** The result codes most seen (up to `n`), most first; the rest go under `OTHER`. */
export function topCodes(total: Record<string, number>, n = 5): string[] {
  const sorted = Object.entries(total)
    .filter(([, c]) => c > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([code]) => code);
  return sorted.length <= n ? sorted : [...sorted.slice(0, n - 1), OTHER];
}

/** The series name of the result codes not shown by name. */
export const OTHER = 'OTHER';

/** Per minute, the calls of each of `codes` (with `OTHER` collecting the rest). */
export function codeStacks(series: TrafficPoint[], codes: string[]): number[][] {
  const named = new Set(codes.filter((c) => c !== OTHER));
  return series.map((p) =>
    codes.map((code) =>
      code === OTHER
        ? Object.entries(p.resultCodes).reduce((sum, [c, n]) => (named.has(c) ? sum : sum + n), 0)
        : (p.resultCodes[code] ?? 0),
    ),
  );
}

/** Per minute: calls that succeeded and calls that did not. */
export function successStacks(series: TrafficPoint[]): number[][] {
  return series.map((p) => [p.success, Math.max(0, p.requests - p.success)]);
}

/** The x labels: about `wanted` evenly spaced minutes (index and time), always the last one. */
export function timeLabels(series: TrafficPoint[], wanted: number): { i: number; at: string }[] {
  if (series.length === 0) return [];
  const step = Math.max(1, Math.ceil(series.length / Math.max(1, wanted)));
  const out: { i: number; at: string }[] = [];
  for (let i = series.length - 1; i >= 0; i -= step) out.unshift({ i, at: series[i]?.at ?? '' });
  return out;
}

/** A success rate (0…1) for people: `99.5 %`; `–` when there were no calls. */
export function formatRate(rate: number | null): string {
  if (rate === null || !Number.isFinite(rate)) return '–';
  const pct = Math.round(rate * 1000) / 10;
  return `${pct} %`;
}

/** A latency for people: `850 ms`, `1.25 s`; `–` when unknown. */
export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(Math.round(ms / 10) / 100).toString()} s`;
}

/** The highest latency of a series (p99 when present), for the latency axis. */
export function maxLatency(series: TrafficPoint[]): number {
  return series.reduce((m, p) => Math.max(m, p.p99Ms ?? 0, p.p50Ms ?? 0), 0);
}

const CODE_CLASSES = ['series-0', 'series-3', 'series-4', 'series-1', 'series-2'];

/**
 * The CSS class of a result code's series: SUCCESS always in the success colour, OTHER grey, the
 * rest from a palette in order (so a code keeps its colour while the set of codes stays the same).
 */
export function codeClasses(codes: string[]): string[] {
  let next = 0;
  return codes.map((code) => {
    if (code === 'SUCCESS') return 'series-ok';
    if (code === OTHER) return 'series-5';
    const cls = CODE_CLASSES[next % CODE_CLASSES.length] ?? 'series-0';
    next++;
    return cls;
  });
}
