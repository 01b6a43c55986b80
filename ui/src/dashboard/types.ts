// The dashboard API's JSON as the contract of issue 14 fixes it (`/dashboard/api/…`). The Rust side
// does not generate these, so they are written here once and the screens use nothing else.
import type { RunResult, Verdict } from '../lib/types';

/** `GET session`. */
export interface AdminSession {
  loggedIn: boolean;
  passwordSet: boolean;
}

/** A required (or assigned optional) case: one column of the matrix. */
export interface CaseCol {
  id: string;
  title: string;
  product: 'upm' | 'mpm';
  required: boolean;
}

/** An invite's status. */
export type InviteStatus = 'Inactive' | 'Active' | 'Revoked';

/** The latest run of one case by one merchant. */
export interface Cell {
  verdict: Verdict;
  runId: string;
  at: string;
}

/** One invited merchant: one row of the matrix. */
export interface MerchantRow {
  inviteId: string;
  merchant: string;
  mid: string;
  email: string;
  products: string[];
  status: InviteStatus;
  createdAt: string;
  linkedAt: string | null;
  lastUploadAt: string | null;
  assigned: string[];
  passed: number;
  required: number;
  readyForUat: boolean;
  cells: Record<string, Cell | null>;
}

/** `GET matrix`. */
export interface Matrix {
  cases: CaseCol[];
  merchants: MerchantRow[];
}

/** `GET runs` rows, newest first. */
export interface RunRow {
  runId: string;
  inviteId: string;
  merchant: string;
  mid: string;
  caseId: string;
  verdict: Verdict;
  startedAt: string;
  endedAt: string | null;
  uploadedAt: string;
  bundleId: string;
}

/** A collected photo, served by `photos/{id}`. */
export interface CollectedPhoto {
  id: number;
  check: string;
  mediaType: string;
  url: string;
}

/** `GET runs/{runId}`: the companion's run plus where it came from (its photos as URLs). */
export type CollectedRun = Omit<RunResult, 'photos'> & {
  merchant: string;
  mid: string;
  inviteId: string;
  bundleId: string;
  uploadedAt: string;
  photos: CollectedPhoto[];
};

/** One minute of the traffic monitor. */
export interface TrafficPoint {
  at: string;
  requests: number;
  success: number;
  p50Ms: number | null;
  p99Ms: number | null;
  resultCodes: Record<string, number>;
}

/** `GET traffic?minutes=N`. */
export interface Traffic {
  from: string;
  to: string;
  requests: number;
  successRate: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  resultCodes: Record<string, number>;
  series: TrafficPoint[];
}

/** The dashboard's live events (`GET events`). */
export interface DashboardEvents {
  results: { inviteId: string; runIds: string[] };
  invite: { inviteId: string; status: InviteStatus };
  traffic: Record<string, never> | Traffic | null;
}
