// The dashboard's screens behind the address bar's hash: the Test Data matrix (`#/`), one
// merchant (`#/merchants/<inviteId>`), the collected runs (`#/runs`, filtered by
// `?inviteId=&caseId=`), one run (`#/runs/<runId>`) and the traffic monitor (`#/traffic`).

/** A screen and what it needs. */
export type DashRoute =
  | { screen: 'matrix' }
  | { screen: 'merchant'; inviteId: string }
  | { screen: 'runs'; inviteId: string; caseId: string }
  | { screen: 'run'; runId: string }
  | { screen: 'traffic' };

/** An entry of the dashboard's navigation. */
export type DashNav = 'matrix' | 'runs' | 'traffic';

function decode(part: string): string | null {
  try {
    const s = decodeURIComponent(part);
    return s.length > 0 ? s : null;
  } catch {
    return null;
  }
}

/** The route of a hash; anything unknown is the matrix. */
export function parseDashRoute(hash: string): DashRoute {
  const raw = hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = raw.split('?', 2);
  const parts = path.split('/').filter((p) => p.length > 0);
  const [first, second] = parts;
  if (first === 'traffic' && parts.length === 1) return { screen: 'traffic' };
  if (first === 'merchants' && second !== undefined && parts.length === 2) {
    const inviteId = decode(second);
    if (inviteId) return { screen: 'merchant', inviteId };
  }
  if (first === 'runs' && parts.length === 1) {
    const q = new URLSearchParams(query);
    return { screen: 'runs', inviteId: q.get('inviteId') ?? '', caseId: q.get('caseId') ?? '' };
  }
  if (first === 'runs' && second !== undefined && parts.length === 2) {
    const runId = decode(second);
    if (runId) return { screen: 'run', runId };
  }
  return { screen: 'matrix' };
}

/** The hash that opens a route. */
export function dashHash(route: DashRoute): string {
  switch (route.screen) {
    case 'matrix':
      return '#/';
    case 'traffic':
      return '#/traffic';
    case 'merchant':
      return `#/merchants/${encodeURIComponent(route.inviteId)}`;
    case 'run':
      return `#/runs/${encodeURIComponent(route.runId)}`;
    case 'runs': {
      const q = new URLSearchParams();
      if (route.inviteId) q.set('inviteId', route.inviteId);
      if (route.caseId) q.set('caseId', route.caseId);
      const s = q.toString();
      return s ? `#/runs?${s}` : '#/runs';
    }
  }
}

/** The navigation entry a route belongs to. */
export function dashNavOf(route: DashRoute): DashNav {
  switch (route.screen) {
    case 'traffic':
      return 'traffic';
    case 'runs':
    case 'run':
      return 'runs';
    default:
      return 'matrix';
  }
}
