// The dashboard's hash routes: each screen round-trips through its hash, filters live in the
// query, and anything unknown or malformed falls back to the matrix.
import { describe, expect, it } from 'vitest';
import { dashHash, dashNavOf, parseDashRoute, type DashRoute } from './routes';

describe('dashboard routes', () => {
  const ROUTES: DashRoute[] = [
    { screen: 'matrix' },
    { screen: 'traffic' },
    { screen: 'merchant', inviteId: 'inv_ABC/DEF' },
    { screen: 'run', runId: 'run 1/2?x' },
    { screen: 'runs', inviteId: '', caseId: '' },
    { screen: 'runs', inviteId: 'inv_A', caseId: '' },
    { screen: 'runs', inviteId: 'inv_A', caseId: 'UPM-PAY-001' },
  ];

  for (const route of ROUTES) {
    it(`${JSON.stringify(route)} round-trips through ${dashHash(route)}`, () => {
      expect(parseDashRoute(dashHash(route))).toEqual(route);
    });
  }

  it('unknown, empty or malformed hashes open the matrix', () => {
    for (const hash of ['', '#', '#/', '#/nope', '#/merchants', '#/merchants/%E0%A4%A', '#/runs/a/b', '#/traffic/x']) {
      expect(parseDashRoute(hash), hash).toEqual({ screen: 'matrix' });
    }
  });

  it('the runs filters are read from the query, a missing one is empty', () => {
    expect(parseDashRoute('#/runs?caseId=MPM-OC-001')).toEqual({ screen: 'runs', inviteId: '', caseId: 'MPM-OC-001' });
  });

  it('a run belongs to the Runs entry of the navigation, a merchant to Test data', () => {
    expect(dashNavOf({ screen: 'run', runId: 'r' })).toBe('runs');
    expect(dashNavOf({ screen: 'merchant', inviteId: 'i' })).toBe('matrix');
    expect(dashNavOf({ screen: 'traffic' })).toBe('traffic');
  });
});
