// The upload queue as Results shows it: states in words and tone, progress, the next attempt.
import { describe, expect, it } from 'vitest';
import { isUploadStatus, itemsByRun, secondsUntil, uploadLook, uploadProgress } from './upload';
import type { UploadStatus } from './types';

const STATUS: UploadStatus = {
  linked: true,
  waiting: 2,
  uploaded: 5,
  failed: 1,
  uploading: false,
  lastError: 'the sandbox is not answering',
  nextAttemptAt: '2026-12-07T10:00:30Z',
  items: [
    { runId: 'r1', caseId: 'UPM-PAY-001', verdict: 'PASS', state: 'uploaded', attempts: 1, bundleId: 'b1', uploadedAt: '2026-12-07T09:00:00Z', error: null },
    { runId: 'r2', caseId: 'UPM-CAN-001', verdict: 'FAIL', state: 'failed', attempts: 4, bundleId: null, uploadedAt: null, error: 'TOO_LARGE' },
  ],
};

describe('upload queue', () => {
  it('each state has its own words and tone; an unknown state reads as waiting', () => {
    expect(uploadLook('uploaded')).toEqual({ key: 'upload.state.uploaded', tone: 'good', icon: '✓' });
    expect(uploadLook('failed').tone).toBe('bad');
    expect(uploadLook('uploading').key).toBe('upload.state.uploading');
    expect(uploadLook('queued').key).toBe('upload.state.waiting');
  });

  it('progress is uploaded of all known runs; an empty queue is complete', () => {
    expect(uploadProgress(STATUS)).toEqual({ done: 5, total: 8, percent: 62 });
    expect(uploadProgress({ waiting: 0, uploaded: 0, failed: 0 })).toEqual({ done: 0, total: 0, percent: 100 });
  });

  it('finds each run’s item by id', () => {
    expect(itemsByRun(STATUS).get('r2')?.state).toBe('failed');
    expect(itemsByRun(null).size).toBe(0);
  });

  it('accepts only event data shaped like the queue', () => {
    expect(isUploadStatus(STATUS)).toBe(true);
    expect(isUploadStatus({ linked: true })).toBe(false);
    expect(isUploadStatus(null)).toBe(false);
  });

  it('counts whole seconds to the next attempt, 0 once due, null when none is planned', () => {
    const now = Date.parse('2026-12-07T10:00:00Z');
    expect(secondsUntil('2026-12-07T10:00:30Z', now)).toBe(30);
    expect(secondsUntil('2026-12-07T10:00:00.200Z', now)).toBe(1);
    expect(secondsUntil('2026-12-07T09:59:00Z', now)).toBe(0);
    expect(secondsUntil(null, now)).toBeNull();
    expect(secondsUntil('later', now)).toBeNull();
  });
});
