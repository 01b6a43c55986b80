// The command contract (see /work/CONTRACT-UI.md): every command's arguments and result, keyed by
// its name, so `call('new_code', …)` is checked end to end. The entity shapes mirror the Rust
// types of plusbox-companion; the Rust side generates them into ./bindings with ts-rs.

/** An amount in integer minor units, as a string so huge values never pass through a float. */
export interface Money {
  currency: string;
  value: string;
  exponent: number;
}

export interface DeviceInfo {
  id: number;
  name: string;
  createdAt: string;
}

export interface SandboxInfo {
  url: string;
  clientId: string;
  acquirerId: string;
  version: string;
}

export interface Session {
  paired: boolean;
  loopback: boolean;
  revoked: boolean;
  device?: DeviceInfo | null;
  sandbox: SandboxInfo;
}

export interface Account {
  id: string;
  name: string;
  scenario: string;
  balances: Money[];
}

export interface ScenarioInfo {
  name: string;
  summary: string;
}

export type CodeForm = '24' | '17' | '18' | '19';

export interface PaymentCode {
  code: string;
  grouped: string;
  form: CodeForm;
  issuedAt: string;
  expiresAt: string;
  qrSvg: string;
  barcodeSvg: string;
}

export interface HistoryEntry {
  id: string;
  kind: string;
  state: string;
  amount: Money;
  reference?: string;
  merchantName?: string;
  resultCode?: string;
  at: string;
}

export interface PendingPayment {
  paymentId: string;
  accountId: string;
  merchantName: string;
  storeName?: string | null;
  amount: Money;
  createdAt: string;
  expiresAt?: string | null;
  needsPin: boolean;
}

export interface PaymentOutcome {
  paymentId: string;
  resultCode: string;
  resultStatus: string;
  resultMessage: string;
}

export type ScannedKind =
  | 'alipayplus-code'
  | 'order-code'
  | 'entry-code'
  | 'private-order-code'
  | 'emvco'
  | 'plusbox-pairing'
  | 'plusbox-invite'
  | 'not-a-payment-code'
  | 'binary';

export interface ScannedCode {
  kind: ScannedKind | string;
  text?: string | null;
  bytesBase64: string;
  title: string;
  explanation: string;
  details: Record<string, string>;
}

export interface ScanReport {
  codes: ScannedCode[];
  width: number;
  height: number;
}

export interface Device {
  id: number;
  name: string;
  createdAt: string;
  lastSeenAt?: string;
  revokedAt?: string;
  current: boolean;
}

export interface About {
  plusbox: string;
  sandboxVersion?: string;
  commit?: string | null;
  sandboxUrl: string;
  tls: boolean;
  dataDir?: string | null;
}

/** Error codes a command can answer with (plus client-side ones for transport failures). */
export type ErrorCode =
  | 'NOT_PAIRED'
  | 'DEVICE_REVOKED'
  | 'PAIRING_CODE_INVALID'
  | 'PAIRING_NOT_LOOPBACK'
  | 'TOO_MANY_ATTEMPTS'
  | 'SANDBOX_UNREACHABLE'
  | 'NOT_FOUND'
  | 'BAD_REQUEST'
  | 'BAD_AMOUNT'
  | 'AMOUNT_TOO_LARGE'
  | 'UNKNOWN_SCENARIO'
  | 'INVALID_STATE'
  | 'WRONG_PIN'
  | 'ALREADY_DECIDED'
  | 'PAYMENT_EXPIRED'
  | 'BAD_IMAGE'
  | 'IMAGE_TOO_LARGE'
  | 'INTERNAL'
  /** Client side: the Plusbox server itself could not be reached. */
  | 'SERVER_UNREACHABLE'
  /** Client side: the server answered something that is not the contract's JSON. */
  | 'BAD_RESPONSE';

type Empty = Record<string, never>;

/** Every command: its arguments and its result. */
export interface Commands {
  session: { args: Empty; result: Session };
  pair_loopback: { args: { deviceName?: string }; result: Session };
  pair_with_code: { args: { code: string; deviceName?: string }; result: Session };
  unpair: { args: Empty; result: Empty };
  accounts: { args: Empty; result: Account[] };
  top_up: { args: { accountId: string; amount: string }; result: Money };
  scenarios: { args: Empty; result: ScenarioInfo[] };
  set_scenario: { args: { accountId: string; scenario: string }; result: Account };
  new_code: { args: { accountId: string; form: CodeForm }; result: PaymentCode };
  history: { args: { accountId: string }; result: HistoryEntry[] };
  pending: { args: Empty; result: PendingPayment[] };
  confirm_payment: { args: { paymentId: string; pin: string }; result: PaymentOutcome };
  decline_payment: { args: { paymentId: string }; result: PaymentOutcome };
  scan_image: { args: { image: string }; result: ScanReport };
  scan_frame: { args: { width: number; height: number; grey: string }; result: ScanReport };
  devices: { args: Empty; result: Device[] };
  revoke_device: { args: { deviceId: number }; result: Empty };
  about: { args: Empty; result: About };
}

export type CommandName = keyof Commands;

/** Live events and their data. */
export interface Events {
  pending: PendingPayment[];
  payment: { paymentId: string; accountId: string; state: string };
}

export type EventName = keyof Events;
