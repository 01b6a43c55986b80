// Generated from the Rust command declarations in crates/plusbox-companion (commands.rs,
// error.rs) by `cargo run -p plusbox-companion --example write_bindings`. Do not edit:
// the test `bindings_are_current` fails when this file is stale.

/**
 * What went wrong, as the UI branches on it.
 */
export type ErrorCode = "NOT_PAIRED" | "DEVICE_REVOKED" | "PAIRING_CODE_INVALID" | "PAIRING_NOT_LOOPBACK" | "TOO_MANY_ATTEMPTS" | "SANDBOX_UNREACHABLE" | "NOT_FOUND" | "BAD_REQUEST" | "BAD_AMOUNT" | "AMOUNT_TOO_LARGE" | "UNKNOWN_SCENARIO" | "INVALID_STATE" | "WRONG_PIN" | "ALREADY_DECIDED" | "PAYMENT_EXPIRED" | "BAD_IMAGE" | "IMAGE_TOO_LARGE" | "ORDER_CODE_INVALID" | "ORDER_CODE_EXPIRED" | "ORDER_CLOSED" | "PIN_REQUIRED" | "CASE_NOT_ASSIGNED" | "UNKNOWN_CASE" | "RUN_ACTIVE" | "ACQUIRER_DECLINED_CODE" | "ACQUIRER_ANSWER_UNSIGNED" | "ACQUIRER_ANSWER_BAD_SIGNATURE" | "ACQUIRER_TIMEOUT" | "ACQUIRER_ANSWER_INCOMPLETE" | "ACQUIRER_UNREACHABLE" | "INVITE_UNKNOWN" | "INVITE_REVOKED" | "NOT_IN_SCOPE" | "INVALID_ARGUMENT" | "INTERNAL";

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
sandbox: SandboxInfo, 
/**
 * The invitation this device is linked through, if it was linked with one.
 */
invite: LinkedInvite | null, };

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
 * A verdict, of a case or of one check.
 */
export type Verdict = "PASS" | "FAIL" | "ERROR" | "SKIPPED" | "INCOMPLETE";

/**
 * A catalogue case as the test-case list shows it.
 */
export type TestCaseInfo = { 
/**
 * Case id, e.g. `UPM-PIN-001`.
 */
id: string, 
/**
 * Title.
 */
title: string, 
/**
 * `upm` or `mpm`.
 */
product: string, 
/**
 * Must pass before go-live.
 */
required: boolean, 
/**
 * The rule it proves.
 */
proves: string, 
/**
 * Number of steps.
 */
stepCount: number, 
/**
 * POS-driver capabilities it needs (e.g. `acquirer-clock`).
 */
requires: Array<string>, 
/**
 * The verdict of this device's last run of it.
 */
lastVerdict: Verdict | null, 
/**
 * That run.
 */
lastRunId: string | null, 
/**
 * When it started.
 */
lastRunAt: string | null, };

/**
 * Run settings of this device.
 */
export type RunSettings = { 
/**
 * Base URL of a POS-driver API (docs/pos-driver.md) that drives the POS; `null`: the person
 * works the real POS.
 */
posUrl: string | null, };

/**
 * Where a run is.
 */
export type RunPhase = "running" | "finished" | "cancelled" | "incomplete";

/**
 * Where a step is.
 */
export type StepStatus = "pending" | "active" | "done" | "timedOut";

/**
 * One step of a run.
 */
export type StepView = { 
/**
 * 1-based.
 */
number: number, 
/**
 * What the person does.
 */
instruction: string, 
/**
 * What they should see.
 */
expect: string | null, 
/**
 * Where it is.
 */
status: StepStatus, 
/**
 * What the engine saw.
 */
note: string | null, };

/**
 * What the person must do now.
 */
export type Prompt = { "kind": "showCode", 
/**
 * The digits.
 */
code: string, 
/**
 * As a QR code (SVG).
 */
qrSvg: string, 
/**
 * As a Code 128 barcode (SVG).
 */
barcodeSvg: string, } | { "kind": "pin", 
/**
 * paymentId.
 */
paymentId: string, 
/**
 * Merchant.
 */
merchantName: string, 
/**
 * Amount.
 */
amount: Money, } | { "kind": "decline", 
/**
 * paymentId.
 */
paymentId: string, 
/**
 * Merchant.
 */
merchantName: string, 
/**
 * Amount.
 */
amount: Money, } | { "kind": "scanOrder", 
/**
 * Confirm (else decline) the order.
 */
confirm: boolean, 
/**
 * The code the POS shows, when a POS driver told the engine (else scan the POS).
 */
code: string | null, } | { "kind": "proceed", 
/**
 * What to do.
 */
text: string, } | { "kind": "question", 
/**
 * The manual check.
 */
check: string, 
/**
 * The question.
 */
question: string, } | { "kind": "photo", 
/**
 * The evidence check.
 */
check: string, 
/**
 * What it shows.
 */
what: string, 
/**
 * How many it needs.
 */
min: number, 
/**
 * How many it has.
 */
have: number, };

/**
 * A traffic entry as the live list shows it.
 */
export type LiveEntry = { 
/**
 * Traffic id.
 */
id: number, 
/**
 * When (sandbox time).
 */
at: string, 
/**
 * Milliseconds after the run's first message.
 */
relMs: number, 
/**
 * `ACQP`, `SANDBOX` or `WALLET`.
 */
from: string, 
/**
 * Receiver.
 */
to: string, 
/**
 * API name.
 */
api: string, 
/**
 * E.g. `pay → U PAYMENT_IN_PROCESS`.
 */
summary: string, };

/**
 * A run as the runner screen shows it.
 */
export type RunView = { 
/**
 * Run id (one per case).
 */
runId: string, 
/**
 * Case id.
 */
caseId: string, 
/**
 * Case title.
 */
title: string, 
/**
 * What the case proves.
 */
proves: string, 
/**
 * Where it is.
 */
state: RunPhase, 
/**
 * Case ids still to run after this one.
 */
queue: Array<string>, 
/**
 * A POS-driver URL drives the POS (else the person works it).
 */
posDriven: boolean, 
/**
 * Its steps.
 */
steps: Array<StepView>, 
/**
 * What the person must do now; `null` while the engine works.
 */
prompt: Prompt | null, 
/**
 * Its traffic so far, oldest first (at most [`LIVE_CAP`]).
 */
live: Array<LiveEntry>, 
/**
 * Once decided.
 */
verdict: Verdict | null, 
/**
 * Problems on our side.
 */
errors: Array<string>, };

/**
 * A stored run in the results list.
 */
export type RunSummary = { 
/**
 * Run id.
 */
runId: string, 
/**
 * Case id.
 */
caseId: string, 
/**
 * Case title.
 */
title: string, 
/**
 * Verdict (`INCOMPLETE` while running).
 */
verdict: Verdict, 
/**
 * Started.
 */
startedAt: string, 
/**
 * Finished.
 */
finishedAt: string | null, 
/**
 * Wall-clock duration.
 */
durationMs: number | null, 
/**
 * A POS driver drove the POS.
 */
posDriven: boolean, };

/**
 * One check of a verdict.
 */
export type CheckView = { 
/**
 * Check name.
 */
name: string, 
/**
 * Its verdict.
 */
verdict: Verdict, 
/**
 * Why, naming traffic entries as `#id`.
 */
reason: string, 
/**
 * The traffic entries it rests on.
 */
entries: Array<number>, };

/**
 * The signature verdict of a traffic entry.
 */
export type SignatureView = "valid" | "invalid" | "missing" | "notChecked";

/**
 * A traffic entry in full.
 */
export type TrafficView = { 
/**
 * Traffic id.
 */
id: number, 
/**
 * When (sandbox time).
 */
at: string, 
/**
 * Milliseconds after the run's first message.
 */
relMs: number, 
/**
 * `inbound` (ACQP → sandbox) or `outbound`.
 */
direction: string, 
/**
 * Sender lane.
 */
from: string, 
/**
 * Receiver lane.
 */
to: string, 
/**
 * API.
 */
api: string, 
/**
 * HTTP method.
 */
method: string, 
/**
 * Path or URL.
 */
path: string, 
/**
 * HTTP status of the answer.
 */
status: number | null, 
/**
 * `result.resultStatus`.
 */
resultStatus: string | null, 
/**
 * `result.resultCode`.
 */
resultCode: string | null, 
/**
 * Request headers.
 */
requestHeaders: Array<[string, string]>, 
/**
 * Request body.
 */
requestBody: string, 
/**
 * Response headers.
 */
responseHeaders: Array<[string, string]>, 
/**
 * Response body.
 */
responseBody: string, 
/**
 * Signature verdict.
 */
signature: SignatureView, };

/**
 * A photo of a run.
 */
export type PhotoView = { 
/**
 * The evidence check.
 */
check: string, 
/**
 * File name.
 */
name: string, 
/**
 * MIME type.
 */
mediaType: string, 
/**
 * `data:` URL.
 */
dataUrl: string, };

/**
 * An answer to a manual check.
 */
export type AnswerView = { 
/**
 * The check.
 */
check: string, 
/**
 * Yes or no.
 */
answer: boolean, };

/**
 * Everything about one stored run.
 */
export type RunResult = { 
/**
 * The summary.
 */
summary: RunSummary, 
/**
 * What the case proves.
 */
proves: string, 
/**
 * Steps.
 */
steps: Array<StepView>, 
/**
 * Checks with reasons.
 */
checks: Array<CheckView>, 
/**
 * The run's traffic.
 */
traffic: Array<TrafficView>, 
/**
 * Sequence diagram (SVG, text escaped).
 */
diagramSvg: string, 
/**
 * Photos.
 */
photos: Array<PhotoView>, 
/**
 * Answers.
 */
answers: Array<AnswerView>, 
/**
 * Problems on our side.
 */
errors: Array<string>, };

/**
 * `run_start` arguments.
 */
export type RunStartArgs = { 
/**
 * Cases to run, in order (the first runs now, the rest queue).
 */
caseIds: Array<string>, 
/**
 * Buyer account (default: the device's buyer, else `buyer-1`).
 */
accountId?: string, };

/**
 * Arguments naming a run.
 */
export type RunArgs = { 
/**
 * Run id.
 */
runId: string, };

/**
 * `run_answer` arguments.
 */
export type RunAnswerArgs = { 
/**
 * Run id.
 */
runId: string, 
/**
 * The manual check.
 */
check: string, 
/**
 * Yes or no.
 */
answer: boolean, };

/**
 * `run_photo` arguments.
 */
export type RunPhotoArgs = { 
/**
 * Run id.
 */
runId: string, 
/**
 * The evidence check.
 */
check: string, 
/**
 * The image bytes, Base64.
 */
image: string, 
/**
 * What the browser says it is (the bytes decide).
 */
mediaType?: string, };

/**
 * Arguments naming a run and a check.
 */
export type RunCheckArgs = { 
/**
 * Run id.
 */
runId: string, 
/**
 * The check.
 */
check: string, };

/**
 * `results` arguments.
 */
export type ResultsArgs = { 
/**
 * Only runs with this verdict.
 */
verdict?: Verdict, 
/**
 * Only runs of this case.
 */
caseId?: string, };

/**
 * Export formats.
 */
export type ExportFormat = "json" | "junit" | "html";

/**
 * `export_results` arguments.
 */
export type ExportArgs = { 
/**
 * Runs to export; empty: every run of this device.
 */
runIds: Array<string>, 
/**
 * Format.
 */
format: ExportFormat, };

/**
 * A file to save.
 */
export type ExportFile = { 
/**
 * Suggested file name.
 */
fileName: string, 
/**
 * MIME type.
 */
mediaType: string, 
/**
 * The content.
 */
content: string, };

/**
 * The invitation a device is linked through.
 */
export type LinkedInvite = { 
/**
 * `inv_…`.
 */
inviteId: string, 
/**
 * The merchant's name.
 */
merchant: string, 
/**
 * Its merchant id.
 */
mid: string, 
/**
 * `upm`, `mpm`.
 */
products: Array<string>, 
/**
 * The cases it must pass.
 */
cases: Array<string>, 
/**
 * Its buyer accounts on the sandbox.
 */
accounts: Array<string>, };

/**
 * `link_invite` arguments.
 */
export type LinkInviteArgs = { 
/**
 * The invite link (`…/#invite=<token>`), or text containing it.
 */
link: string, 
/**
 * A name for this device.
 */
deviceName?: string, };

/**
 * Where one queued upload is.
 */
export type UploadState = "waiting" | "uploading" | "uploaded" | "failed";

/**
 * One run in the upload queue.
 */
export type UploadItem = { 
/**
 * Run id.
 */
runId: string, 
/**
 * Case id.
 */
caseId: string, 
/**
 * The run's verdict.
 */
verdict: string, 
/**
 * Where its upload is.
 */
state: UploadState, 
/**
 * Attempts so far.
 */
attempts: number, 
/**
 * The bundle carrying it.
 */
bundleId: string | null, 
/**
 * When the sandbox got it.
 */
uploadedAt: string | null, 
/**
 * The last attempt's error.
 */
error: string | null, };

/**
 * The upload queue of this device.
 */
export type UploadStatus = { 
/**
 * This device is linked through an invitation.
 */
linked: boolean, 
/**
 * Runs waiting to be sent.
 */
waiting: number, 
/**
 * Runs the sandbox has.
 */
uploaded: number, 
/**
 * Runs the collector refused.
 */
failed: number, 
/**
 * A bundle is being sent now.
 */
uploading: boolean, 
/**
 * The last attempt's error, while runs are waiting or failed.
 */
lastError: string | null, 
/**
 * The next attempt (RFC 3339), while runs are waiting.
 */
nextAttemptAt: string | null, 
/**
 * Every run of the queue, newest first.
 */
items: Array<UploadItem>, };

/**
 * A live event: the event name and its data.
 */
export type CompanionEvent = { "event": "pending", "data": Array<PendingPayment> } | { "event": "payment", "data": PaymentChange } | { "event": "run", "data": RunView } | { "event": "upload", "data": UploadStatus };

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
  test_cases: { args: Empty; result: Array<TestCaseInfo> };
  run_settings: { args: Empty; result: RunSettings };
  set_run_settings: { args: RunSettings; result: RunSettings };
  run_start: { args: RunStartArgs; result: RunView };
  run_view: { args: RunArgs; result: RunView };
  run_active: { args: Empty; result: RunView | null };
  run_proceed: { args: RunArgs; result: RunView };
  run_answer: { args: RunAnswerArgs; result: RunView };
  run_photo: { args: RunPhotoArgs; result: RunView };
  run_skip_photo: { args: RunCheckArgs; result: RunView };
  run_cancel: { args: RunArgs; result: RunView };
  results: { args: ResultsArgs; result: Array<RunSummary> };
  result: { args: RunArgs; result: RunResult };
  export_results: { args: ExportArgs; result: ExportFile };
  link_invite: { args: LinkInviteArgs; result: LinkedInvite };
  upload_status: { args: Empty; result: UploadStatus };
  upload_now: { args: Empty; result: UploadStatus };
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
  "test_cases",
  "run_settings",
  "set_run_settings",
  "run_start",
  "run_view",
  "run_active",
  "run_proceed",
  "run_answer",
  "run_photo",
  "run_skip_photo",
  "run_cancel",
  "results",
  "result",
  "export_results",
  "link_invite",
  "upload_status",
  "upload_now",
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
  "CASE_NOT_ASSIGNED",
  "UNKNOWN_CASE",
  "RUN_ACTIVE",
  "ACQUIRER_DECLINED_CODE",
  "ACQUIRER_ANSWER_UNSIGNED",
  "ACQUIRER_ANSWER_BAD_SIGNATURE",
  "ACQUIRER_TIMEOUT",
  "ACQUIRER_ANSWER_INCOMPLETE",
  "ACQUIRER_UNREACHABLE",
  "INVITE_UNKNOWN",
  "INVITE_REVOKED",
  "NOT_IN_SCOPE",
  "INVALID_ARGUMENT",
  "INTERNAL",
];

/** Live event names and their data. */
export type Events = {
  pending: PendingPayment[];
  payment: PaymentChange;
  run: RunView;
  upload: UploadStatus;
};
