// What several dashboard screens share: the matrix (reloaded on live `results` and `invite`
// events), whether the live stream is connected, and a stamp that moves on every live change so
// open screens reload what they show.
import { api } from './api';
import type { Matrix } from './types';

export const board = $state<{ matrix: Matrix | null; error: unknown; live: boolean; stamp: number; trafficStamp: number }>({
  matrix: null,
  error: null,
  live: false,
  stamp: 0,
  trafficStamp: 0,
});

let generation = 0;

/** Reloads the matrix; a late answer of an older load is dropped. */
export async function loadMatrix(): Promise<void> {
  const mine = ++generation;
  try {
    const next = await api<Matrix>('matrix');
    if (mine !== generation) return;
    board.matrix = next;
    board.error = null;
  } catch (e) {
    if (mine === generation) board.error = e;
  }
}
