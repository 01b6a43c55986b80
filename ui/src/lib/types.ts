// The command contract as the UI uses it. Every entity type, the command map and the event map are
// generated from the Rust declarations into ./bindings (ts-rs; a Rust test fails when they are
// stale). The UI adds only what never crosses the wire: two client-side error codes.

import type { ErrorCode as ServerErrorCode } from './bindings';

export type {
  About,
  Account,
  CodeFormArg as CodeForm,
  CommandName,
  Commands,
  Device,
  DeviceInfo,
  Events,
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
  Session,
  // Invitations and the upload queue.
  LinkedInvite,
  LinkInviteArgs,
  UploadItem,
  UploadState,
  UploadStatus,
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

/** The server's error codes plus the transport's own. */
export type ErrorCode =
  | ServerErrorCode
  /** Client side: the Plusbox server itself could not be reached. */
  | 'SERVER_UNREACHABLE'
  /** Client side: the server answered something that is not the contract's JSON. */
  | 'BAD_RESPONSE';

/** A live event name. */
export type EventName = keyof import('./bindings').Events;
