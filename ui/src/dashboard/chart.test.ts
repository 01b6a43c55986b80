// The traffic charts' geometry: a readable axis top, bars that stack inside the frame, lines that
// break where a minute had no call, result codes grouped, and figures for people.
import { describe, expect, it } from 'vitest';
import { codeClasses, codeStacks, countTicks, formatMs, labelAnchor, formatRate, frame, linePath, maxLatency, niceMax, OTHER, slotOf, stackedBars, successStacks, ticks, timeLabels, topCodes, yOf } from './chart';
import type { TrafficPoint } from './types';

function point(at: string, requests: number, success: number, codes: Record<string, number>, p50: number | null = null, p99: number | null = null): TrafficPoint {
  return { at, requests, success, p50Ms: p50, p99Ms: p99, resultCodes: codes };
}

const SERIES = [
  point('2026-12-07T10:00:00Z', 4, 3, { SUCCESS: 3, PAYMENT_IN_PROCESS: 1 }, 40, 90),
  point('2026-12-07T10:01:00Z', 0, 0, {}),
  point('2026-12-07T10:02:00Z', 6, 2, { SUCCESS: 2, USER_BALANCE_NOT_ENOUGH: 3, RISK_REJECT: 1 }, 55, 1200),
];

describe('axis', () => {
  it('rounds the top up to 1, 2 or 5 × 10ⁿ', () => {
    expect([0, 1, 3, 7, 10, 11, 26, 99, 101, 4500].map(niceMax)).toEqual([1, 1, 5, 10, 10, 20, 50, 100, 200, 5000]);
    expect(niceMax(Number.NaN)).toBe(1);
  });

  it('ticks run from 0 to the top in equal steps', () => {
    expect(ticks(20)).toEqual([0, 5, 10, 15, 20]);
    expect(ticks(1)).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });

  it('a count axis has whole steps only, for every nice top', () => {
    expect(countTicks(10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(countTicks(1)).toEqual([0, 1]);
    expect(countTicks(2)).toEqual([0, 1, 2]);
    expect(countTicks(5)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const top of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]) {
      expect(countTicks(top).every(Number.isInteger), String(top)).toBe(true);
      expect(countTicks(top).at(-1)).toBe(top);
    }
  });

  it('the last x labels end at the chart’s right edge instead of running past it', () => {
    const f = frame(300, 180);
    expect(labelAnchor(f, 150)).toBe('middle');
    expect(labelAnchor(f, 290)).toBe('end');
  });

  it('y maps 0 to the bottom and the top to the top, clamping what lies outside', () => {
    const f = frame(300, 180);
    expect(yOf(f, 10, 0)).toBe(180 - f.bottom);
    expect(yOf(f, 10, 10)).toBe(f.top);
    expect(yOf(f, 10, 25)).toBe(f.top);
    expect(yOf(f, 10, -3)).toBe(180 - f.bottom);
  });

  it('slots share the inner width evenly; a frame is never narrower than 120 px', () => {
    const f = frame(344, 180);
    const inner = 344 - f.left - f.right;
    expect(slotOf(f, 4, 0)).toEqual({ x: f.left, w: inner / 4 });
    expect(slotOf(f, 4, 3).x + slotOf(f, 4, 3).w).toBeCloseTo(344 - f.right);
    expect(frame(10, 100).width).toBe(120);
  });
});

describe('bars', () => {
  it('stack each minute’s series inside the frame, leaving out zeros', () => {
    const f = frame(300, 180);
    const bars = stackedBars(f, successStacks(SERIES), 10);
    expect(bars.map((b) => [b.series, b.value])).toEqual([
      [0, 3],
      [1, 1],
      [0, 2],
      [1, 4],
    ]);
    for (const b of bars) {
      expect(b.y).toBeGreaterThanOrEqual(f.top);
      expect(b.y + b.h).toBeLessThanOrEqual(180 - f.bottom + 1e-9);
    }
    // The second piece sits right on top of the first.
    expect((bars[1]?.y ?? 0) + (bars[1]?.h ?? 0)).toBeCloseTo(bars[0]?.y ?? -1);
  });

  it('failures are requests minus successes, never negative', () => {
    expect(successStacks([point('t', 2, 5, {})])).toEqual([[5, 0]]);
  });
});

describe('latency lines', () => {
  it('break where a minute has no value instead of dropping to zero', () => {
    const f = frame(300, 180);
    const d = linePath(f, [40, null, 55], 100);
    expect(d.match(/M/g)?.length).toBe(2);
    expect(d).not.toContain('L');
    expect(linePath(f, [10, 20, 30], 100).match(/L/g)?.length).toBe(2);
    expect(linePath(f, [null, null], 100)).toBe('');
  });

  it('the axis top covers the highest p99 (or p50)', () => {
    expect(maxLatency(SERIES)).toBe(1200);
    expect(maxLatency([])).toBe(0);
  });
});

describe('result codes', () => {
  it('keeps the most seen codes and groups the rest as OTHER', () => {
    const total = { SUCCESS: 5, USER_BALANCE_NOT_ENOUGH: 3, RISK_REJECT: 1, PAYMENT_IN_PROCESS: 1, ZERO: 0 };
    expect(topCodes(total, 5)).toEqual(['SUCCESS', 'USER_BALANCE_NOT_ENOUGH', 'PAYMENT_IN_PROCESS', 'RISK_REJECT']);
    expect(topCodes(total, 3)).toEqual(['SUCCESS', 'USER_BALANCE_NOT_ENOUGH', OTHER]);
  });

  it('SUCCESS is always in the success colour, OTHER grey, other codes from the palette in order', () => {
    expect(codeClasses(['METHOD_NOT_SUPPORTED', 'SUCCESS', 'RISK_REJECT', OTHER])).toEqual(['series-0', 'series-ok', 'series-3', 'series-5']);
    expect(new Set(codeClasses(['A', 'B', 'C', 'D', 'E'])).size).toBe(5);
  });

  it('stacks each minute by code with OTHER collecting the codes not named', () => {
    expect(codeStacks(SERIES, ['SUCCESS', OTHER])).toEqual([
      [3, 1],
      [0, 0],
      [2, 4],
    ]);
  });
});

describe('labels and figures', () => {
  it('time labels are evenly spaced and always end on the last minute', () => {
    const many = Array.from({ length: 60 }, (_, i) => point(`m${i}`, 0, 0, {}));
    const labels = timeLabels(many, 4);
    expect(labels.at(-1)).toEqual({ i: 59, at: 'm59' });
    expect(labels.length).toBeLessThanOrEqual(5);
    expect(timeLabels([], 4)).toEqual([]);
  });

  it('rates and latencies read as people write them', () => {
    expect(formatRate(0.995)).toBe('99.5 %');
    expect(formatRate(1)).toBe('100 %');
    expect(formatRate(null)).toBe('–');
    expect(formatMs(850.4)).toBe('850 ms');
    expect(formatMs(1250)).toBe('1.25 s');
    expect(formatMs(null)).toBe('–');
  });
});
