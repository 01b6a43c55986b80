// The screens behind the address bar's hash: the five wallet screens and the guided-test area
// (`#/tests`, `#/tests/run`, `#/tests/results`, `#/tests/results/<runId>`), all four of which sit
// under the one "Tests" entry of the navigation.

/** An entry of the navigation. */
export type NavId = 'wallet' | 'pay' | 'scan' | 'history' | 'tests' | 'settings';

/** A screen and what it needs. */
export type Route =
  | { screen: 'wallet' | 'pay' | 'scan' | 'history' | 'settings' }
  | { screen: 'tests' }
  | { screen: 'run' }
  | { screen: 'results' }
  | { screen: 'result'; runId: string };

const PLAIN = ['wallet', 'pay', 'scan', 'history', 'settings'] as const;

/** The route of a hash; anything unknown is the Wallet. */
export function parseRoute(hash: string): Route {
  const parts = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((p) => p.length > 0);
  const [first, second, third] = parts;
  if (first === 'tests') {
    if (second === undefined) return { screen: 'tests' };
    if (second === 'run' && third === undefined) return { screen: 'run' };
    if (second === 'results' && third === undefined) return { screen: 'results' };
    if (second === 'results' && third !== undefined && parts.length === 3) {
      let runId: string;
      try {
        runId = decodeURIComponent(third);
      } catch {
        return { screen: 'results' };
      }
      return runId.length > 0 ? { screen: 'result', runId } : { screen: 'results' };
    }
    return { screen: 'tests' };
  }
  const plain = PLAIN.find((s) => s === first);
  return plain && parts.length === 1 ? { screen: plain } : { screen: 'wallet' };
}

/** The hash that opens a route. */
export function routeHash(route: Route): string {
  switch (route.screen) {
    case 'tests':
      return '#/tests';
    case 'run':
      return '#/tests/run';
    case 'results':
      return '#/tests/results';
    case 'result':
      return `#/tests/results/${encodeURIComponent(route.runId)}`;
    default:
      return `#/${route.screen}`;
  }
}

/** The navigation entry a route belongs to. */
export function navOf(route: Route): NavId {
  switch (route.screen) {
    case 'tests':
    case 'run':
    case 'results':
    case 'result':
      return 'tests';
    default:
      return route.screen;
  }
}
