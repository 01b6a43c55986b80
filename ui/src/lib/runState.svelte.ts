// The guided run this device follows, shared by the shell (which keeps the Confirm sheet out of
// the runner's way) and the test screens. Attached once paired: `run_active` finds a run that
// survived a reload or a closed tab, the `run` event brings every change after that, and coming
// back to a hidden tab asks again (phones suspend background tabs and their event streams); while
// a run is running it is also asked for every few seconds, so a missed event never strands it.
import { needsPairing } from './labels';
import { follow, isRunView, staleEarlier, type Followed } from './runs';
import { call, subscribe } from './transport';
import type { RunView } from './types';

export const runs = $state<{ followed: Followed; attached: boolean; onRunner: boolean }>({
  followed: { run: null, earlier: [] },
  attached: false,
  onRunner: false,
});

/** When the last update from an event or a command arrived (performance.now()). */
let lastUpdate = 0;

/** Shows a run the screens got from a command (start, answer, cancel…) or an event. */
export function showRun(run: RunView): void {
  lastUpdate = performance.now();
  apply(run);
}

function apply(run: RunView): void {
  runs.followed = follow(runs.followed, run);
  // A series moved on before its previous case's final update arrived: ask for it.
  for (const runId of staleEarlier(runs.followed)) {
    call('run_view', { runId })
      .then((view) => {
        if (view.state !== 'running') apply(view);
      })
      .catch(() => {
        /* its verdict is still one tap away in Results */
      });
  }
}

/** Forgets what was followed (after unpairing). */
export function forgetRuns(): void {
  runs.followed = { run: null, earlier: [] };
  runs.attached = false;
}

/** Asks the host for this device's live run and follows it. */
export async function reattach(onUnpaired: (error?: unknown) => void): Promise<void> {
  try {
    const active = await call('run_active', {});
    if (active) showRun(active);
  } catch (e) {
    if (needsPairing(e)) onUnpaired(e);
    // Anything else: the screens still work from the events and their own calls.
  } finally {
    runs.attached = true;
  }
}

/** How often a running run is asked for, in case events were missed (a reconnecting stream). */
const POLL_MS = 3000;

/**
 * Asks for the running run's view. Events stay the source: the answer is used only when no
 * event or command updated the screen while it was on its way, so it never puts back an older
 * prompt.
 */
async function poll(onUnpaired: (error?: unknown) => void): Promise<void> {
  const run = runs.followed.run;
  if (!run || run.state !== 'running') return;
  const sent = performance.now();
  try {
    const view = await call('run_view', { runId: run.runId });
    if (lastUpdate <= sent) apply(view);
  } catch (e) {
    if (needsPairing(e)) onUnpaired(e);
  }
}

/** Follows the device's run: attaches now and on return to the tab; returns the stopper. */
export function followRuns(onUnpaired: (error?: unknown) => void): () => void {
  const stop = subscribe('run', (run) => {
    if (isRunView(run)) showRun(run); // a malformed event is dropped; the next one replaces it
  });
  void reattach(onUnpaired);
  const onVisible = (): void => {
    if (document.visibilityState === 'visible') void reattach(onUnpaired);
  };
  document.addEventListener('visibilitychange', onVisible);
  const timer = setInterval(() => void poll(onUnpaired), POLL_MS);
  return () => {
    stop();
    clearInterval(timer);
    document.removeEventListener('visibilitychange', onVisible);
  };
}
