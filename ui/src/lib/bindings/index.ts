// Generated from the Rust command declarations in crates/plusbox-companion (commands.rs,
// error.rs) by `cargo run -p plusbox-companion --example write_bindings`. Do not edit:
// the test `bindings_are_current` fails when this file is stale.

/**
 * What went wrong, as the UI branches on it.
 */
export type ErrorCode = "NOT_PAIRED" | "DEVICE_REVOKED" | "PAIRING_CODE_INVALID" | "PAIRING_NOT_LOOPBACK" | "TOO_MANY_ATTEMPTS" | "SANDBOX_UNREACHABLE" | "NOT_FOUND" | "BAD_REQUEST" | "BAD_AMOUNT" | "AMOUNT_TOO_LARGE" | "UNKNOWN_SCENARIO" | "INVALID_STATE" | "WRONG_PIN" | "ALREADY_DECIDED" | "PAYMENT_EXPIRED" | "BAD_IMAGE" | "IMAGE_TOO_LARGE" | "ORDER_CODE_INVALID" | "ORDER_CODE_EXPIRED" | "ORDER_CLOSED" | "PIN_REQUIRED" | "ACQUIRER_DECLINED_CODE" | "ACQUIRER_ANSWER_UNSIGNED" | "ACQUIRER_ANSWER_BAD_SIGNATURE" | "ACQUIRER_TIMEOUT" | "ACQUIRER_ANSWER_INCOMPLETE" | "ACQUIRER_UNREACHABLE" | "INTERNAL";

/**
 * A command's error: `{code, message}` on the wire.
 */
export type CommandError = { 
/**
 * What went wrong, for the UI to branch on.
 */
code: ErrorCode, 
/**
 * What went wrong, in English, for people and logs.
 */
message: string, };

/**
 * An amount: integer minor units as a string (may be negative) and the currency's exponent.
 */
export type Money = { 
/**
 * ISO 4217 code, e.g. `USD`.
 */
currency: string, 
/**
 * Minor units, e.g. `"1250"` for 12.50 USD.
 */
value: string, 
/**
 * Digits after the decimal point (JPY 0, USD 2, KWD 3).
 */
exponent: number, };

/**
 * The device this client is paired as.
 */
export type DeviceInfo = { 
/**
 * Device id (what `revoke_device` takes).
 */
id: number, 
/**
 * Name.
 */
name: string, 
/**
 * When it was paired.
 */
createdAt: string, };

/**
 * The sandbox this client is linked to.
 */
export type SandboxInfo = { 
/**
 * The sandbox's advertised base URL (what acquirers and phones use).
 */
url: string, 
/**
 * Client-Id of the sandbox application.
 */
clientId: string, 
/**
 * acquirerId.
 */
acquirerId: string, 
/**
 * Plusbox version of the sandbox.
 */
version: string, };

/**
 * Whether this client is paired, and with what.
 */
export type Session = { 
/**
 * Paired: the wallet may be shown.
 */
paired: boolean, 
/**
 * The client runs on the sandbox's machine (may use `pair_loopback`).
 */
loopback: boolean, 
/**
 * The device token this client had was revoked.
 */
revoked: boolean, 
/**
 * This device, when paired.
 */
device?: DeviceInfo, 
/**
 * The sandbox.
 */
sandbox: SandboxInfo, };

/**
 * A buyer account with its balances.
 */
export type Account = { 
/**
 * Id, e.g. `buyer-1`.
 */
id: string, 
/**
 * Display name.
 */
name: string, 
/**
 * What the wallet does with its next payments.
 */
scenario: string, 
/**
 * One balance per currency.
 */
balances: Array<Money>, };

/**
 * A wallet scenario with a one-line explanation.
 */
export type ScenarioInfo = { 
/**
 * Name, as `set_scenario` takes it.
 */
name: string, 
/**
 * What happens next under it.
 */
summary: string, };

/**
 * A payment code's form (payment-codes.md §2.2).
 */
export type CodeFormArg = "24" | "17" | "18" | "19";

/**
 * A one-time payment code, ready to show.
 */
export type PaymentCode = { 
/**
 * The digits.
 */
code: string, 
/**
 * The digits in groups of four, as printed under the barcode.
 */
grouped: string, 
/**
 * Its form.
 */
form: CodeFormArg, 
/**
 * Issued at (ISO 8601 with offset).
 */
issuedAt: string, 
/**
 * Expires at; show a new code before then.
 */
expiresAt: string, 
/**
 * The QR code as an SVG document.
 */
qrSvg: string, 
/**
 * The Code 128 barcode as an SVG document.
 */
barcodeSvg: string, };

/**
 * One line of an account's history.
 */
export type HistoryEntry = { 
/**
 * Stable id.
 */
id: string, 
/**
 * `payment`, `refund`, `topup` or `cancel`.
 */
kind: string, 
/**
 * `SUCCESS`, `FAILED`, `PROCESSING`, `CLOSED`, `CANCELLED`.
 */
state: string, 
/**
 * Signed: what it does (or would do) to the balance.
 */
amount: Money, 
/**
 * paymentId or refundId.
 */
reference?: string, 
/**
 * Merchant.
 */
merchantName?: string, 
/**
 * Why it failed (result code).
 */
resultCode?: string, 
/**
 * When.
 */
at: string, };

/**
 * A payment waiting for the buyer.
 */
export type PendingPayment = { 
/**
 * paymentId (what `confirm_payment` takes).
 */
paymentId: string, 
/**
 * Buyer account.
 */
accountId: string, 
/**
 * Merchant name (or `Merchant` when the order gives none).
 */
merchantName: string, 
/**
 * Store name.
 */
storeName?: string, 
/**
 * Amount.
 */
amount: Money, 
/**
 * When the payment arrived.
 */
createdAt: string, 
/**
 * When it expires.
 */
expiresAt?: string, 
/**
 * Confirming needs the PIN.
 */
needsPin: boolean, };

/**
 * How a confirmed or declined payment ended.
 */
export type PaymentOutcome = { 
/**
 * paymentId.
 */
paymentId: string, 
/**
 * Alipay+ result code, e.g. `SUCCESS`, `PROCESS_FAIL`.
 */
resultCode: string, 
/**
 * `S`, `F` or `U`.
 */
resultStatus: string, 
/**
 * Message.
 */
resultMessage: string, };

/**
 * What a scanned code is.
 */
export type ScannedKind = "alipayplus-code" | "order-code" | "entry-code" | "private-order-code" | "emvco" | "plusbox-pairing" | "plusbox-invite" | "not-a-payment-code" | "binary";

/**
 * One code found in an image, classified.
 */
export type ScannedCode = { 
/**
 * What it is.
 */
kind: ScannedKind, 
/**
 * Its text, when it is UTF-8.
 */
text?: string, 
/**
 * Its raw content, Base64.
 */
bytesBase64: string, 
/**
 * A short title, e.g. `Alipay+ payment code`.
 */
title: string, 
/**
 * What it is and why, in one or two sentences.
 */
explanation: string, 
/**
 * Facts found in it (family, wallet, accountId, merchant name, …).
 */
details: { [key in string]: string }, };

/**
 * The codes found in one image or frame.
 */
export type ScanReport = { 
/**
 * Every code found (none is not an error).
 */
codes: Array<ScannedCode>, 
/**
 * Image width in pixels.
 */
width: number, 
/**
 * Image height in pixels.
 */
height: number, };

/**
 * A paired device.
 */
export type Device = { 
/**
 * Id.
 */
id: number, 
/**
 * Name.
 */
name: string, 
/**
 * Paired at.
 */
createdAt: string, 
/**
 * Last use (minute resolution).
 */
lastSeenAt?: string, 
/**
 * Revoked at; a revoked device cannot call the sandbox.
 */
revokedAt?: string, 
/**
 * This is the device making the call.
 */
current: boolean, };

/**
 * Versions and where things are.
 */
export type About = { 
/**
 * Plusbox version of this companion.
 */
plusbox: string, 
/**
 * Plusbox version of the sandbox, when reachable.
 */
sandboxVersion?: string, 
/**
 * Git commit, when the build recorded one.
 */
commit?: string, 
/**
 * The sandbox URL.
 */
sandboxUrl: string, 
/**
 * Whether the sandbox is reached over HTTPS.
 */
tls: boolean, 
/**
 * The companion's data directory, when the host has one.
 */
dataDir?: string, };

/**
 * An empty argument or result object (`{}`).
 */
export type Empty = Record<symbol, never>;

/**
 * Arguments with an optional device name.
 */
export type PairLoopbackArgs = { 
/**
 * A name for this device (default: `this computer`).
 */
deviceName?: string, };

/**
 * `pair_with_code` arguments.
 */
export type PairWithCodeArgs = { 
/**
 * The short code typed in, or the token from the pairing link.
 */
code: string, 
/**
 * A name for this device.
 */
deviceName?: string, };

/**
 * `top_up` arguments.
 */
export type TopUpArgs = { 
/**
 * Account id.
 */
accountId: string, 
/**
 * Amount with currency, e.g. `"100.00 USD"`.
 */
amount: string, };

/**
 * `set_scenario` arguments.
 */
export type SetScenarioArgs = { 
/**
 * Account id.
 */
accountId: string, 
/**
 * Scenario name (see `scenarios`).
 */
scenario: string, };

/**
 * `new_code` arguments.
 */
export type NewCodeArgs = { 
/**
 * Account id.
 */
accountId: string, 
/**
 * Code form (default `24`).
 */
form?: CodeFormArg, };

/**
 * Arguments naming an account.
 */
export type AccountArgs = { 
/**
 * Account id.
 */
accountId: string, };

/**
 * `confirm_payment` arguments.
 */
export type ConfirmPaymentArgs = { 
/**
 * paymentId.
 */
paymentId: string, 
/**
 * The buyer's PIN.
 */
pin: string, };

/**
 * Arguments naming a payment.
 */
export type PaymentArgs = { 
/**
 * paymentId.
 */
paymentId: string, };

/**
 * `scan_image` arguments.
 */
export type ScanImageArgs = { 
/**
 * PNG or JPEG bytes, Base64.
 */
image: string, };

/**
 * `scan_frame` arguments.
 */
export type ScanFrameArgs = { 
/**
 * Frame width in pixels.
 */
width: number, 
/**
 * Frame height in pixels.
 */
height: number, 
/**
 * `width × height` luma bytes (0 = black), row-major, Base64.
 */
grey: string, };

/**
 * `revoke_device` arguments.
 */
export type RevokeDeviceArgs = { 
/**
 * Device id (see `devices`).
 */
deviceId: number, };

/**
 * The order behind a scanned order code, as the confirm screen shows it.
 */
export type OrderCodeOrder = { 
/**
 * The code value scanned (what `confirm_order_code` takes back).
 */
code: string, 
/**
 * Alipay+ paymentId.
 */
paymentId: string, 
/**
 * The ACQP's paymentRequestId.
 */
paymentRequestId: string, 
/**
 * Merchant name (or `Merchant` when the order gives none).
 */
merchantName: string, 
/**
 * The merchant's id at the acquirer.
 */
merchantId?: string, 
/**
 * Store name.
 */
storeName?: string, 
/**
 * What is being bought (`orderDescription`).
 */
description?: string, 
/**
 * Amount.
 */
amount: Money, 
/**
 * When the code expires.
 */
expiresAt: string, 
/**
 * Confirming needs the buyer's PIN.
 */
needsPin: boolean, };

/**
 * `decode_order_code` and `decline_order_code` arguments.
 */
export type OrderCodeArgs = { 
/**
 * The scanned text.
 */
code: string, 
/**
 * The buyer account paying.
 */
accountId: string, };

/**
 * `confirm_order_code` arguments.
 */
export type ConfirmOrderCodeArgs = { 
/**
 * The scanned text.
 */
code: string, 
/**
 * The buyer account paying.
 */
accountId: string, 
/**
 * The buyer's PIN, when the order asks for one.
 */
pin?: string, };

/**
 * A payment of one of the wallet's accounts changed state.
 */
export type PaymentChange = { 
/**
 * paymentId.
 */
paymentId: string, 
/**
 * Buyer account.
 */
accountId: string, 
/**
 * New state.
 */
state: string, };

/**
 * A live event: the event name and its data.
 */
export type CompanionEvent = { "event": "pending", "data": Array<PendingPayment> } | { "event": "payment", "data": PaymentChange };

/** Every command: its arguments and its result. */
export type Commands = {
  session: { args: Empty; result: Session };
  pair_loopback: { args: PairLoopbackArgs; result: Session };
  pair_with_code: { args: PairWithCodeArgs; result: Session };
  unpair: { args: Empty; result: Empty };
  accounts: { args: Empty; result: Array<Account> };
  top_up: { args: TopUpArgs; result: Money };
  scenarios: { args: Empty; result: Array<ScenarioInfo> };
  set_scenario: { args: SetScenarioArgs; result: Account };
  new_code: { args: NewCodeArgs; result: PaymentCode };
  history: { args: AccountArgs; result: Array<HistoryEntry> };
  pending: { args: Empty; result: Array<PendingPayment> };
  confirm_payment: { args: ConfirmPaymentArgs; result: PaymentOutcome };
  decline_payment: { args: PaymentArgs; result: PaymentOutcome };
  decode_order_code: { args: OrderCodeArgs; result: OrderCodeOrder };
  confirm_order_code: { args: ConfirmOrderCodeArgs; result: PaymentOutcome };
  decline_order_code: { args: OrderCodeArgs; result: PaymentOutcome };
  scan_image: { args: ScanImageArgs; result: ScanReport };
  scan_frame: { args: ScanFrameArgs; result: ScanReport };
  devices: { args: Empty; result: Array<Device> };
  revoke_device: { args: RevokeDeviceArgs; result: Empty };
  about: { args: Empty; result: About };
};

/** A command name. */
export type CommandName = keyof Commands;

/** Every command name, in declaration order. */
export const COMMAND_NAMES: readonly CommandName[] = [
  "session",
  "pair_loopback",
  "pair_with_code",
  "unpair",
  "accounts",
  "top_up",
  "scenarios",
  "set_scenario",
  "new_code",
  "history",
  "pending",
  "confirm_payment",
  "decline_payment",
  "decode_order_code",
  "confirm_order_code",
  "decline_order_code",
  "scan_image",
  "scan_frame",
  "devices",
  "revoke_device",
  "about",
];

/** Every error code, in declaration order. */
export const ERROR_CODES: readonly ErrorCode[] = [
  "NOT_PAIRED",
  "DEVICE_REVOKED",
  "PAIRING_CODE_INVALID",
  "PAIRING_NOT_LOOPBACK",
  "TOO_MANY_ATTEMPTS",
  "SANDBOX_UNREACHABLE",
  "NOT_FOUND",
  "BAD_REQUEST",
  "BAD_AMOUNT",
  "AMOUNT_TOO_LARGE",
  "UNKNOWN_SCENARIO",
  "INVALID_STATE",
  "WRONG_PIN",
  "ALREADY_DECIDED",
  "PAYMENT_EXPIRED",
  "BAD_IMAGE",
  "IMAGE_TOO_LARGE",
  "ORDER_CODE_INVALID",
  "ORDER_CODE_EXPIRED",
  "ORDER_CLOSED",
  "PIN_REQUIRED",
  "ACQUIRER_DECLINED_CODE",
  "ACQUIRER_ANSWER_UNSIGNED",
  "ACQUIRER_ANSWER_BAD_SIGNATURE",
  "ACQUIRER_TIMEOUT",
  "ACQUIRER_ANSWER_INCOMPLETE",
  "ACQUIRER_UNREACHABLE",
  "INTERNAL",
];

/** Live event names and their data. */
export type Events = {
  pending: PendingPayment[];
  payment: PaymentChange;
};
