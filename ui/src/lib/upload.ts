// The upload queue of a linked device, as Results shows it: each run's upload state in words,
// icon and colour, the queue's progress, and when the next attempt is due.
import type { Key } from './i18n/index.svelte';
import type { Tone } from './labels';
import type { UploadItem, UploadStatus } from './types';

const LOOKS: Record<UploadItem['state'], { key: Key; tone: Tone; icon: string }> = {
  waiting: { key: 'upload.state.waiting', tone: 'wait', icon: '◔' },
  uploading: { key: 'upload.state.uploading', tone: 'wait', icon: '⇡' },
  uploaded: { key: 'upload.state.uploaded', tone: 'good', icon: '✓' },
  failed: { key: 'upload.state.failed', tone: 'bad', icon: '✕' },
};

/** The look of a run's upload state; an unknown state reads as waiting. */
export function uploadLook(state: string): { key: Key; tone: Tone; icon: string } {
  return (LOOKS as Record<string, (typeof LOOKS)['waiting'] | undefined>)[state] ?? LOOKS.waiting;
}

/** The queue's progress: runs uploaded of all runs the queue knows, as a whole percentage. */
export function uploadProgress(status: Pick<UploadStatus, 'waiting' | 'uploaded' | 'failed'>): { done: number; total: number; percent: number } {
  const done = Math.max(0, status.uploaded);
  const total = done + Math.max(0, status.waiting) + Math.max(0, status.failed);
  return { done, total, percent: total === 0 ? 100 : Math.floor((done * 100) / total) };
}

/** Each run's queue item by run id. */
export function itemsByRun(status: UploadStatus | null): Map<string, UploadItem> {
  return new Map((status?.items ?? []).map((i) => [i.runId, i]));
}

/** Whether an event's data has the shape of an UploadStatus (a malformed event is dropped). */
export function isUploadStatus(data: unknown): data is UploadStatus {
  if (typeof data !== 'object' || data === null) return false;
  const s = data as Partial<UploadStatus>;
  return typeof s.linked === 'boolean' && typeof s.waiting === 'number' && Array.isArray(s.items);
}

/** Whole seconds until the next attempt (0 when due or past), or null when none is planned. */
export function secondsUntil(iso: string | null, now: number): number | null {
  if (!iso) return null;
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}
