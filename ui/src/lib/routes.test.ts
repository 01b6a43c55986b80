// The hash routes: the five wallet screens and the four guided-test screens under "Tests".
import { describe, expect, it } from 'vitest';
import { navOf, parseRoute, routeHash, type Route } from './routes';

describe('routes', () => {
  it('reads every screen and writes it back the same', () => {
    const routes: Route[] = [
      { screen: 'wallet' },
      { screen: 'pay' },
      { screen: 'scan' },
      { screen: 'history' },
      { screen: 'settings' },
      { screen: 'tests' },
      { screen: 'run' },
      { screen: 'results' },
      { screen: 'result', runId: 'run_01 J/x' },
    ];
    for (const r of routes) expect(parseRoute(routeHash(r))).toEqual(r);
  });

  it('sends anything unknown to the Wallet, and unknown test paths to the catalogue', () => {
    expect(parseRoute('')).toEqual({ screen: 'wallet' });
    expect(parseRoute('#/nope')).toEqual({ screen: 'wallet' });
    expect(parseRoute('#/pay/extra')).toEqual({ screen: 'wallet' });
    expect(parseRoute('#/tests/nope')).toEqual({ screen: 'tests' });
    expect(parseRoute('#/tests/results/%E0%A4%A')).toEqual({ screen: 'results' });
    expect(parseRoute('#pay')).toEqual({ screen: 'pay' });
  });

  it('puts the four test screens under the Tests entry', () => {
    expect(navOf({ screen: 'run' })).toBe('tests');
    expect(navOf({ screen: 'result', runId: 'x' })).toBe('tests');
    expect(navOf({ screen: 'history' })).toBe('history');
  });
});
