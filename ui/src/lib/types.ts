// The command contract as the UI uses it. Every entity type, the command map and the event map are
// generated from the Rust declarations into ./bindings (ts-rs; a Rust test fails when they are
// stale). The UI adds what never crosses the wire (two client-side error codes) and, for now, the
// shapes of issue 14's commands below.

import type {
  Commands as BoundCommands,
  Empty,
  ErrorCode as BoundErrorCode,
  Events as BoundEvents,
  Session as BoundSession,
} from './bindings';

export type {
  About,
  Account,
  CodeFormArg as CodeForm,
  Device,
  DeviceInfo,
  HistoryEntry,
  Money,
  OrderCodeOrder,
  PaymentCode,
  PaymentOutcome,
  PendingPayment,
  SandboxInfo,
  ScanReport,
  ScannedCode,
  ScannedKind,
  ScenarioInfo,
  // Guided test runs.
  AnswerView,
  CheckView,
  ExportFile,
  ExportFormat,
  LiveEntry,
  PhotoView,
  Prompt,
  RunPhase,
  RunResult,
  RunSettings,
  RunSummary,
  RunView,
  SignatureView,
  StepStatus,
  StepView,
  TestCaseInfo,
  TrafficView,
  Verdict,
} from './bindings';

// Issue 14 (invitations and the upload queue), as its contract fixes the shapes. They stand here
// until the Rust side generates them into ./bindings; the intersections below then add nothing.

/** The merchant an invitation linked this device to. */
export interface LinkedInvite {
  inviteId: string;
  merchant: string;
  mid: string;
  products: string[];
  cases: string[];
  accounts: string[];
}

/** One run in the upload queue. */
export interface UploadItem {
  runId: string;
  caseId: string;
  verdict: string;
  state: 'waiting' | 'uploading' | 'uploaded' | 'failed';
  attempts: number;
  bundleId: string | null;
  uploadedAt: string | null;
  error: string | null;
}

/** The upload queue: what waits, what went, what failed, and when the next attempt is. */
export interface UploadStatus {
  linked: boolean;
  waiting: number;
  uploaded: number;
  failed: number;
  uploading: boolean;
  lastError: string | null;
  nextAttemptAt: string | null;
  items: UploadItem[];
}

/** `link_invite` arguments: the invite link (or pasted text holding it) and a device name. */
export interface LinkInviteArgs {
  link: string;
  deviceName?: string;
}

/** Whether this client is paired, and with what (and, once linked, the merchant's invite). */
export type Session = BoundSession & { invite?: LinkedInvite | null };

/** Every command: its arguments and its result. */
export type Commands = Omit<BoundCommands, 'session'> & {
  session: { args: Empty; result: Session };
  link_invite: { args: LinkInviteArgs; result: LinkedInvite };
  upload_status: { args: Empty; result: UploadStatus };
  upload_now: { args: Empty; result: UploadStatus };
};

/** A command name. */
export type CommandName = keyof Commands;

/** Live event names and their data. */
export type Events = BoundEvents & { upload: UploadStatus };

/** The server's error codes plus the transport's own. */
export type ErrorCode =
  | BoundErrorCode
  /** Issue 14: the invitation was revoked, or no invitation has this link. */
  | 'INVITE_REVOKED'
  | 'INVITE_UNKNOWN'
  | 'INVALID_ARGUMENT'
  /** Client side: the Plusbox server itself could not be reached. */
  | 'SERVER_UNREACHABLE'
  /** Client side: the server answered something that is not the contract's JSON. */
  | 'BAD_RESPONSE';

/** A live event name. */
export type EventName = keyof Events;
