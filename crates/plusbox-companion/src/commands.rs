//! The companion's commands, declared once: each has a snake_case name, typed arguments and a
//! typed result (camelCase JSON), and runs against any [`Host`]. [`dispatch`] runs one by name
//! from JSON (what `/rpc/<command>` and a Tauri `invoke` do); [`typescript_bindings`] writes the
//! UI's TypeScript types from the same declarations.

use std::collections::BTreeMap;

use base64::Engine as _;
use futures_util::StreamExt;
use plusbox_core::codes::group_digits;
use plusbox_core::money::{Amount, Currency};
use plusbox_core::secret::SecretString;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::classify;
use crate::client::{WireAccount, WireBalance, WireDecision, WireDevice, WireEvent, WirePending};
use crate::error::{CommandError, ErrorCode};
use crate::host::Host;
use crate::mpm::{ConfirmOrderCodeArgs, OrderCodeArgs, OrderCodeOrder};
use crate::render::{render_svg, RenderSize, Symbology};
use crate::runs::{
    AnswerView, CheckView, ExportArgs, ExportFile, ExportFormat, LiveEntry, PhotoView, Prompt, ResultsArgs,
    RunAnswerArgs, RunArgs, RunCheckArgs, RunPhase, RunPhotoArgs, RunResult, RunSettings, RunStartArgs,
    RunSummary, RunView, SignatureView, StepStatus, StepView, TestCaseInfo, TrafficView, Verdict,
};
use crate::scan;
use crate::upload::{LinkInviteArgs, LinkedInvite, UploadItem, UploadState, UploadStatus};

// ---------------------------------------------------------------------------------------------
// Types the UI sees
// ---------------------------------------------------------------------------------------------

/// An amount: integer minor units as a string (may be negative) and the currency's exponent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Money {
    /// ISO 4217 code, e.g. `USD`.
    pub currency: String,
    /// Minor units, e.g. `"1250"` for 12.50 USD.
    pub value: String,
    /// Digits after the decimal point (JPY 0, USD 2, KWD 3).
    pub exponent: u8,
}

impl Money {
    /// From a currency code and minor units as text; unknown currencies get exponent 2.
    pub fn new(currency: &str, value: impl Into<String>) -> Money {
        let exponent = Currency::from_code(currency).map(|c| c.exponent()).unwrap_or(2);
        Money { currency: currency.to_string(), value: value.into(), exponent }
    }
}

/// The device this client is paired as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    /// Device id (what `revoke_device` takes).
    pub id: i64,
    /// Name.
    pub name: String,
    /// When it was paired.
    pub created_at: String,
}

/// The sandbox this client is linked to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SandboxInfo {
    /// The sandbox's advertised base URL (what acquirers and phones use).
    pub url: String,
    /// Client-Id of the sandbox application.
    pub client_id: String,
    /// acquirerId.
    pub acquirer_id: String,
    /// Plusbox version of the sandbox.
    pub version: String,
}

/// Whether this client is paired, and with what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// Paired: the wallet may be shown.
    pub paired: bool,
    /// The client runs on the sandbox's machine (may use `pair_loopback`).
    pub loopback: bool,
    /// The device token this client had was revoked.
    pub revoked: bool,
    /// This device, when paired.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceInfo>,
    /// The sandbox.
    pub sandbox: SandboxInfo,
    /// The invitation this device is linked through, if it was linked with one.
    pub invite: Option<LinkedInvite>,
}

/// A buyer account with its balances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Account {
    /// Id, e.g. `buyer-1`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What the wallet does with its next payments.
    pub scenario: String,
    /// One balance per currency.
    pub balances: Vec<Money>,
}

impl From<WireAccount> for Account {
    fn from(a: WireAccount) -> Self {
        Account {
            id: a.id,
            name: a.name,
            scenario: a.scenario,
            balances: a.balances.into_iter().map(|b| Money::new(&b.currency, b.value)).collect(),
        }
    }
}

/// A wallet scenario with a one-line explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ScenarioInfo {
    /// Name, as `set_scenario` takes it.
    pub name: String,
    /// What happens next under it.
    pub summary: String,
}

/// A payment code's form (payment-codes.md §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub enum CodeFormArg {
    /// The 24-digit CGCP code (standard).
    #[default]
    #[serde(rename = "24")]
    Digits24,
    /// Legacy 17-digit form.
    #[serde(rename = "17")]
    Digits17,
    /// Legacy 18-digit form.
    #[serde(rename = "18")]
    Digits18,
    /// Alipay+ 19-digit form.
    #[serde(rename = "19")]
    Digits19,
}

impl CodeFormArg {
    fn as_str(self) -> &'static str {
        match self {
            CodeFormArg::Digits24 => "24",
            CodeFormArg::Digits17 => "17",
            CodeFormArg::Digits18 => "18",
            CodeFormArg::Digits19 => "19",
        }
    }
}

/// A one-time payment code, ready to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCode {
    /// The digits.
    pub code: String,
    /// The digits in groups of four, as printed under the barcode.
    pub grouped: String,
    /// Its form.
    pub form: CodeFormArg,
    /// Issued at (ISO 8601 with offset).
    pub issued_at: String,
    /// Expires at; show a new code before then.
    pub expires_at: String,
    /// The QR code as an SVG document.
    pub qr_svg: String,
    /// The Code 128 barcode as an SVG document.
    pub barcode_svg: String,
}

/// One line of an account's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// Stable id.
    pub id: String,
    /// `payment`, `refund`, `topup` or `cancel`.
    pub kind: String,
    /// `SUCCESS`, `FAILED`, `PROCESSING`, `CLOSED`, `CANCELLED`.
    pub state: String,
    /// Signed: what it does (or would do) to the balance.
    pub amount: Money,
    /// paymentId or refundId.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Merchant.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_name: Option<String>,
    /// Why it failed (result code).
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_code: Option<String>,
    /// When.
    pub at: String,
}

/// A payment waiting for the buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PendingPayment {
    /// paymentId (what `confirm_payment` takes).
    pub payment_id: String,
    /// Buyer account.
    pub account_id: String,
    /// Merchant name (or `Merchant` when the order gives none).
    pub merchant_name: String,
    /// Store name.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_name: Option<String>,
    /// Amount.
    pub amount: Money,
    /// When the payment arrived.
    pub created_at: String,
    /// When it expires.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Confirming needs the PIN.
    pub needs_pin: bool,
}

impl From<WirePending> for PendingPayment {
    fn from(p: WirePending) -> Self {
        PendingPayment {
            amount: Money::new(&p.currency, p.value),
            payment_id: p.payment_id,
            account_id: p.account_id,
            merchant_name: p.merchant_name.unwrap_or_else(|| "Merchant".into()),
            store_name: p.store_name,
            created_at: p.created_at,
            expires_at: Some(p.expires_at),
            needs_pin: p.needs_pin,
        }
    }
}

/// How a confirmed or declined payment ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PaymentOutcome {
    /// paymentId.
    pub payment_id: String,
    /// Alipay+ result code, e.g. `SUCCESS`, `PROCESS_FAIL`.
    pub result_code: String,
    /// `S`, `F` or `U`.
    pub result_status: String,
    /// Message.
    pub result_message: String,
}

impl From<WireDecision> for PaymentOutcome {
    fn from(d: WireDecision) -> Self {
        PaymentOutcome {
            payment_id: d.payment_id,
            result_code: d.payment_result.result_code,
            result_status: d.payment_result.result_status,
            result_message: d.payment_result.result_message,
        }
    }
}

/// What a scanned code is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum ScannedKind {
    /// A user-presented Alipay+ payment code.
    AlipayplusCode,
    /// A merchant's order code.
    OrderCode,
    /// A merchant's entry code (any other HTTPS URL).
    EntryCode,
    /// A private order code.
    PrivateOrderCode,
    /// An EMVCo merchant-presented payload.
    Emvco,
    /// A Plusbox pairing link.
    PlusboxPairing,
    /// A Plusbox invitation link.
    PlusboxInvite,
    /// Text that is none of the above.
    NotAPaymentCode,
    /// A QR code whose content is not UTF-8 text.
    Binary,
}

/// One code found in an image, classified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScannedCode {
    /// What it is.
    pub kind: ScannedKind,
    /// Its text, when it is UTF-8.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Its raw content, Base64.
    pub bytes_base64: String,
    /// A short title, e.g. `Alipay+ payment code`.
    pub title: String,
    /// What it is and why, in one or two sentences.
    pub explanation: String,
    /// Facts found in it (family, wallet, accountId, merchant name, …).
    pub details: BTreeMap<String, String>,
}

/// The codes found in one image or frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ScanReport {
    /// Every code found (none is not an error).
    pub codes: Vec<ScannedCode>,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
}

/// A paired device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Paired at.
    pub created_at: String,
    /// Last use (minute resolution).
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<String>,
    /// Revoked at; a revoked device cannot call the sandbox.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// This is the device making the call.
    pub current: bool,
}

/// Versions and where things are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct About {
    /// Plusbox version of this companion.
    pub plusbox: String,
    /// Plusbox version of the sandbox, when reachable.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox_version: Option<String>,
    /// Git commit, when the build recorded one.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The sandbox URL.
    pub sandbox_url: String,
    /// Whether the sandbox is reached over HTTPS.
    pub tls: bool,
    /// The companion's data directory, when the host has one.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
}

/// An empty argument or result object (`{}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// Arguments with an optional device name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PairLoopbackArgs {
    /// A name for this device (default: `this computer`).
    #[ts(optional)]
    #[serde(default)]
    pub device_name: Option<String>,
}

/// `pair_with_code` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PairWithCodeArgs {
    /// The short code typed in, or the token from the pairing link.
    pub code: String,
    /// A name for this device.
    #[ts(optional)]
    #[serde(default)]
    pub device_name: Option<String>,
}

/// `top_up` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopUpArgs {
    /// Account id.
    pub account_id: String,
    /// Amount with currency, e.g. `"100.00 USD"`.
    pub amount: String,
}

/// `set_scenario` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetScenarioArgs {
    /// Account id.
    pub account_id: String,
    /// Scenario name (see `scenarios`).
    pub scenario: String,
}

/// `new_code` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewCodeArgs {
    /// Account id.
    pub account_id: String,
    /// Code form (default `24`).
    #[ts(optional)]
    #[serde(default)]
    pub form: Option<CodeFormArg>,
}

/// Arguments naming an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountArgs {
    /// Account id.
    pub account_id: String,
}

/// `confirm_payment` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmPaymentArgs {
    /// paymentId.
    pub payment_id: String,
    /// The buyer's PIN.
    pub pin: String,
}

/// Arguments naming a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentArgs {
    /// paymentId.
    pub payment_id: String,
}

/// `scan_image` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanImageArgs {
    /// PNG or JPEG bytes, Base64.
    pub image: String,
}

/// `scan_frame` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanFrameArgs {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// `width × height` luma bytes (0 = black), row-major, Base64.
    pub grey: String,
}

/// `revoke_device` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokeDeviceArgs {
    /// Device id (see `devices`).
    pub device_id: i64,
}

/// A payment of one of the wallet's accounts changed state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PaymentChange {
    /// paymentId.
    pub payment_id: String,
    /// Buyer account.
    pub account_id: String,
    /// New state.
    pub state: String,
}

/// A live event: the event name and its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "event", content = "data", rename_all = "camelCase")]
pub enum CompanionEvent {
    /// The whole list of payments waiting for the buyer (sent at once and on every change).
    Pending(Vec<PendingPayment>),
    /// A payment changed state.
    Payment(PaymentChange),
    /// This device's guided run changed (step, prompt, live traffic, verdict).
    Run(Box<RunView>),
    /// This device's upload queue changed.
    Upload(Box<UploadStatus>),
}

impl CompanionEvent {
    /// The event name (`pending`, `payment`).
    pub fn name(&self) -> &'static str {
        match self {
            CompanionEvent::Pending(_) => "pending",
            CompanionEvent::Payment(_) => "payment",
            CompanionEvent::Run(_) => "run",
            CompanionEvent::Upload(_) => "upload",
        }
    }

    /// The event's data as JSON text.
    pub fn data_json(&self) -> String {
        let data = match self {
            CompanionEvent::Pending(list) => serde_json::to_string(list),
            CompanionEvent::Payment(change) => serde_json::to_string(change),
            CompanionEvent::Run(view) => serde_json::to_string(view),
            CompanionEvent::Upload(status) => serde_json::to_string(status),
        };
        data.unwrap_or_else(|_| "null".into())
    }
}

// ---------------------------------------------------------------------------------------------
// The command table
// ---------------------------------------------------------------------------------------------

/// Declares the commands once: the name list, [`dispatch`] and the TypeScript command map.
macro_rules! commands {
    ($( $(#[$doc:meta])* $name:ident ( $args:ty ) -> $result:ty ; )*) => {
        /// Every command name, in declaration order.
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        /// Runs the command `name` with JSON arguments and returns its JSON result.
        pub async fn dispatch<H: Host>(host: H, name: &str, args: Value) -> Result<Value, CommandError> {
            match name {
                $(stringify!($name) => {
                    let args: $args = parse_args(name, args)?;
                    let result: $result = handlers::$name(host, args).await?;
                    to_json(&result)
                })*
                other => Err(CommandError::new(ErrorCode::NotFound, format!("there is no command {other:?}"))),
            }
        }

        fn command_map(cfg: &ts_rs::Config) -> String {
            let mut out = String::from("/** Every command: its arguments and its result. */\nexport type Commands = {\n");
            $(
                out.push_str(&format!(
                    "  {}: {{ args: {}; result: {} }};\n",
                    stringify!($name),
                    <$args as TS>::name(cfg),
                    <$result as TS>::name(cfg)
                ));
            )*
            out.push_str("};\n");
            out
        }
    };
}

commands! {
    session(Empty) -> Session;
    pair_loopback(PairLoopbackArgs) -> Session;
    pair_with_code(PairWithCodeArgs) -> Session;
    unpair(Empty) -> Empty;
    accounts(Empty) -> Vec<Account>;
    top_up(TopUpArgs) -> Money;
    scenarios(Empty) -> Vec<ScenarioInfo>;
    set_scenario(SetScenarioArgs) -> Account;
    new_code(NewCodeArgs) -> PaymentCode;
    history(AccountArgs) -> Vec<HistoryEntry>;
    pending(Empty) -> Vec<PendingPayment>;
    confirm_payment(ConfirmPaymentArgs) -> PaymentOutcome;
    decline_payment(PaymentArgs) -> PaymentOutcome;
    decode_order_code(OrderCodeArgs) -> OrderCodeOrder;
    confirm_order_code(ConfirmOrderCodeArgs) -> PaymentOutcome;
    decline_order_code(OrderCodeArgs) -> PaymentOutcome;
    scan_image(ScanImageArgs) -> ScanReport;
    scan_frame(ScanFrameArgs) -> ScanReport;
    devices(Empty) -> Vec<Device>;
    revoke_device(RevokeDeviceArgs) -> Empty;
    about(Empty) -> About;
    test_cases(Empty) -> Vec<TestCaseInfo>;
    run_settings(Empty) -> RunSettings;
    set_run_settings(RunSettings) -> RunSettings;
    run_start(RunStartArgs) -> RunView;
    run_view(RunArgs) -> RunView;
    run_active(Empty) -> Option<RunView>;
    run_proceed(RunArgs) -> RunView;
    run_answer(RunAnswerArgs) -> RunView;
    run_photo(RunPhotoArgs) -> RunView;
    run_skip_photo(RunCheckArgs) -> RunView;
    run_cancel(RunArgs) -> RunView;
    results(ResultsArgs) -> Vec<RunSummary>;
    result(RunArgs) -> RunResult;
    export_results(ExportArgs) -> ExportFile;
    link_invite(LinkInviteArgs) -> LinkedInvite;
    upload_status(Empty) -> UploadStatus;
    upload_now(Empty) -> UploadStatus;
}

fn parse_args<T: DeserializeOwned>(command: &str, args: Value) -> Result<T, CommandError> {
    // `null` (no body) means no arguments.
    let args = if args.is_null() { Value::Object(Default::default()) } else { args };
    serde_json::from_value(args)
        .map_err(|e| CommandError::bad_request(format!("arguments of {command}: {e}")))
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, CommandError> {
    serde_json::to_value(value).map_err(|e| CommandError::internal(format!("cannot encode the result: {e}")))
}

/// The TypeScript bindings for the UI: every type, the error-code union, the command map and the
/// command names, in one module (`ui/src/lib/bindings/index.ts`).
pub fn typescript_bindings() -> String {
    let cfg = ts_rs::Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from the Rust command declarations in crates/plusbox-companion (commands.rs,\n\
         // error.rs) by `cargo run -p plusbox-companion --example write_bindings`. Do not edit:\n\
         // the test `bindings_are_current` fails when this file is stale.\n\n",
    );
    macro_rules! declare {
        ($($t:ty),* $(,)?) => {$(
            if let Some(docs) = <$t as TS>::docs() {
                out.push_str(&docs);
            }
            out.push_str("export ");
            out.push_str(&<$t as TS>::decl(&cfg));
            out.push_str("\n\n");
        )*};
    }
    declare!(
        ErrorCode,
        CommandError,
        Money,
        DeviceInfo,
        SandboxInfo,
        Session,
        Account,
        ScenarioInfo,
        CodeFormArg,
        PaymentCode,
        HistoryEntry,
        PendingPayment,
        PaymentOutcome,
        ScannedKind,
        ScannedCode,
        ScanReport,
        Device,
        About,
        Empty,
        PairLoopbackArgs,
        PairWithCodeArgs,
        TopUpArgs,
        SetScenarioArgs,
        NewCodeArgs,
        AccountArgs,
        ConfirmPaymentArgs,
        PaymentArgs,
        ScanImageArgs,
        ScanFrameArgs,
        RevokeDeviceArgs,
        OrderCodeOrder,
        OrderCodeArgs,
        ConfirmOrderCodeArgs,
        PaymentChange,
        Verdict,
        TestCaseInfo,
        RunSettings,
        RunPhase,
        StepStatus,
        StepView,
        Prompt,
        LiveEntry,
        RunView,
        RunSummary,
        CheckView,
        SignatureView,
        TrafficView,
        PhotoView,
        AnswerView,
        RunResult,
        RunStartArgs,
        RunArgs,
        RunAnswerArgs,
        RunPhotoArgs,
        RunCheckArgs,
        ResultsArgs,
        ExportFormat,
        ExportArgs,
        ExportFile,
        LinkedInvite,
        LinkInviteArgs,
        UploadState,
        UploadItem,
        UploadStatus,
        CompanionEvent,
    );
    out.push_str(&command_map(&cfg));
    out.push_str("\n/** A command name. */\nexport type CommandName = keyof Commands;\n\n");
    out.push_str("/** Every command name, in declaration order. */\nexport const COMMAND_NAMES: readonly CommandName[] = [\n");
    for name in COMMANDS {
        out.push_str(&format!("  \"{name}\",\n"));
    }
    out.push_str("];\n\n/** Every error code, in declaration order. */\nexport const ERROR_CODES: readonly ErrorCode[] = [\n");
    for code in ErrorCode::ALL {
        out.push_str(&format!("  \"{code}\",\n"));
    }
    out.push_str("];\n\n/** Live event names and their data. */\nexport type Events = {\n  pending: PendingPayment[];\n  payment: PaymentChange;\n  run: RunView;\n  upload: UploadStatus;\n};\n");
    out
}

/// Writes [`typescript_bindings`] into `dir` as `index.ts` (creating the directory).
pub fn write_bindings(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("index.ts"), typescript_bindings())
}

/// Follows the sandbox's event stream and passes each event to `host.emit` until the stream
/// ends or breaks (the caller reconnects if it wants to). Events are filtered to nothing: every
/// paired device sees every buyer of this sandbox, as the wallet commands do.
pub async fn watch_events<H: Host>(host: H) -> Result<(), CommandError> {
    let stream = host.client().events().await?;
    futures_util::pin_mut!(stream);
    while let Some(event) = stream.next().await {
        match event? {
            WireEvent::Pending(list) => {
                host.emit(CompanionEvent::Pending(list.into_iter().map(PendingPayment::from).collect()))
            }
            WireEvent::Payment(change) => host.emit(CompanionEvent::Payment(PaymentChange {
                payment_id: change.payment_id,
                account_id: change.account_id,
                state: change.state,
            })),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

/// Largest image `scan_image` takes, in bytes (a phone photo is 2–8 MB).
pub const MAX_IMAGE_BYTES: usize = 12 * 1024 * 1024;

/// Largest image side `scan_image` decodes; larger photos are refused before decoding.
pub const MAX_IMAGE_SIDE: u32 = 8_192;

/// Largest image `scan_image` decodes, in pixels (a 48 MP phone photo).
pub const MAX_IMAGE_PIXELS: u64 = 48_000_000;

/// Largest camera frame `scan_frame` takes (the UI downscales to about 640×480).
pub const MAX_FRAME_PIXELS: u64 = 4_000_000;

/// The command bodies. Each takes the host and its typed arguments.
pub mod handlers {
    use super::*;
    pub use crate::mpm::{confirm_order_code, decline_order_code, decode_order_code};
    pub use crate::runs::{
        export_results, result, results, run_active, run_answer, run_cancel, run_photo, run_proceed,
        run_settings, run_skip_photo, run_start, run_view, set_run_settings, test_cases,
    };
    pub use crate::upload::{link_invite, upload_now, upload_status};

    async fn session_for<H: Host>(host: &H, revoked: bool) -> Result<Session, CommandError> {
        let client = host.client();
        let about = client.about().await?;
        let sandbox = SandboxInfo {
            url: about.gateway_url,
            client_id: about.client_id,
            acquirer_id: about.acquirer_id,
            version: about.version,
        };
        let mut session = Session {
            paired: false,
            loopback: host.on_loopback(),
            revoked,
            device: None,
            sandbox,
            invite: None,
        };
        if !client.has_token() {
            return Ok(session);
        }
        match client.session_with_invite().await {
            Ok((device, invite)) => {
                session.paired = true;
                if let (Some(invite), Some(runs)) = (&invite, host.runs()) {
                    if let Ok(text) = serde_json::to_string(invite) {
                        let _ = runs.results().set_link(device.id, &text);
                    }
                }
                session.invite = invite;
                session.device =
                    Some(DeviceInfo { id: device.id, name: device.name, created_at: device.created_at });
            }
            Err(error) if error.code == ErrorCode::DeviceRevoked => {
                session.revoked = true;
                host.store_device_token(None);
            }
            Err(error) if error.code == ErrorCode::NotPaired => host.store_device_token(None),
            Err(error) => return Err(error),
        }
        Ok(session)
    }

    /// Whether this client is paired, and the sandbox it is linked to. Works unpaired.
    pub async fn session<H: Host>(host: H, _: Empty) -> Result<Session, CommandError> {
        session_for(&host, false).await
    }

    /// Pairs without a code; only for a client on the sandbox's own machine.
    pub async fn pair_loopback<H: Host>(host: H, args: PairLoopbackArgs) -> Result<Session, CommandError> {
        if !host.on_loopback() {
            return Err(CommandError::new(
                ErrorCode::PairingNotLoopback,
                "pairing without a code works only on the machine that runs the sandbox; use the link, QR or short code from `plusbox app pair`",
            ));
        }
        let paired = host.client().pair_loopback(args.device_name.as_deref()).await?;
        host.store_device_token(Some(SecretString::new(paired.token)));
        session_for(&host, false).await
    }

    /// Pairs with a short code or the token from a pairing link.
    pub async fn pair_with_code<H: Host>(host: H, args: PairWithCodeArgs) -> Result<Session, CommandError> {
        let code = pairing_token_of(&args.code);
        if code.is_empty() {
            return Err(CommandError::new(ErrorCode::PairingCodeInvalid, "type the pairing code first"));
        }
        let paired = host.client().pair(&code, args.device_name.as_deref()).await?;
        host.store_device_token(Some(SecretString::new(paired.token)));
        session_for(&host, false).await
    }

    /// Revokes this device and forgets its token.
    pub async fn unpair<H: Host>(host: H, _: Empty) -> Result<Empty, CommandError> {
        let client = host.client();
        if client.has_token() {
            match client.session().await {
                Ok(device) => {
                    client.revoke(device.id).await?;
                }
                // Already unknown or revoked: forgetting the token is all that is left.
                Err(e) if matches!(e.code, ErrorCode::NotPaired | ErrorCode::DeviceRevoked) => {}
                Err(e) => return Err(e),
            }
        }
        host.store_device_token(None);
        Ok(Empty {})
    }

    /// Buyer accounts with balances.
    pub async fn accounts<H: Host>(host: H, _: Empty) -> Result<Vec<Account>, CommandError> {
        Ok(host.client().accounts().await?.into_iter().map(Account::from).collect())
    }

    /// Adds money to an account; the new balance in that currency.
    pub async fn top_up<H: Host>(host: H, args: TopUpArgs) -> Result<Money, CommandError> {
        let amount = Amount::parse_positive(&args.amount).map_err(|e| {
            CommandError::new(ErrorCode::BadAmount, format!("{:?} is not an amount to add: {e}", args.amount))
        })?;
        let WireBalance { currency, value } =
            host.client().top_up(&args.account_id, &amount.to_string()).await?;
        Ok(Money::new(&currency, value))
    }

    /// The wallet scenarios with a one-line summary each.
    pub async fn scenarios<H: Host>(host: H, _: Empty) -> Result<Vec<ScenarioInfo>, CommandError> {
        let list = host.client().scenarios().await?;
        Ok(list.into_iter().map(|s| ScenarioInfo { name: s.name, summary: s.summary }).collect())
    }

    /// Sets what the wallet does with an account's next payments.
    pub async fn set_scenario<H: Host>(host: H, args: SetScenarioArgs) -> Result<Account, CommandError> {
        Ok(host.client().set_scenario(&args.account_id, &args.scenario).await?.into())
    }

    /// Issues a one-time payment code, rendered as QR and Code 128.
    pub async fn new_code<H: Host>(host: H, args: NewCodeArgs) -> Result<PaymentCode, CommandError> {
        let form = args.form.unwrap_or_default();
        let code = host.client().issue_code(&args.account_id, form.as_str()).await?;
        let render = |symbology| {
            render_svg(&code.code, symbology, RenderSize::Phone)
                .map_err(|e| CommandError::internal(format!("cannot draw the code: {e}")))
        };
        Ok(PaymentCode {
            grouped: group_digits(&code.code),
            form,
            qr_svg: render(Symbology::Qr)?,
            barcode_svg: render(Symbology::Code128)?,
            issued_at: code.issued_at,
            expires_at: code.expires_at,
            code: code.code,
        })
    }

    /// An account's payments, refunds and top-ups with their states, newest first.
    pub async fn history<H: Host>(host: H, args: AccountArgs) -> Result<Vec<HistoryEntry>, CommandError> {
        let list = host.client().history(&args.account_id).await?;
        Ok(list
            .into_iter()
            .map(|h| HistoryEntry {
                amount: Money::new(&h.currency, h.delta),
                id: h.id,
                kind: h.kind,
                state: h.state,
                reference: h.reference,
                merchant_name: h.merchant_name,
                result_code: h.result_code,
                at: h.at,
            })
            .collect())
    }

    /// Payments waiting for the buyer.
    pub async fn pending<H: Host>(host: H, _: Empty) -> Result<Vec<PendingPayment>, CommandError> {
        Ok(host.client().pending().await?.into_iter().map(PendingPayment::from).collect())
    }

    /// Confirms a waiting payment with the PIN. A wrong PIN fails the payment: `WRONG_PIN`.
    pub async fn confirm_payment<H: Host>(
        host: H,
        args: ConfirmPaymentArgs,
    ) -> Result<PaymentOutcome, CommandError> {
        if args.pin.is_empty() || args.pin.len() > 32 {
            return Err(CommandError::bad_request("enter the PIN (1 to 32 characters)"));
        }
        let outcome: PaymentOutcome = host.client().confirm(&args.payment_id, &args.pin).await?.into();
        if outcome.result_code == "USER_PAYMENT_VERIFICATION_FAILED" {
            return Err(CommandError::new(
                ErrorCode::WrongPin,
                format!("wrong PIN: payment {} failed ({})", outcome.payment_id, outcome.result_message),
            ));
        }
        Ok(outcome)
    }

    /// Declines a waiting payment.
    pub async fn decline_payment<H: Host>(
        host: H,
        args: PaymentArgs,
    ) -> Result<PaymentOutcome, CommandError> {
        Ok(host.client().decline(&args.payment_id).await?.into())
    }

    /// Finds and classifies the codes in a PNG or JPEG photo.
    pub async fn scan_image<H: Host>(host: H, args: ScanImageArgs) -> Result<ScanReport, CommandError> {
        // Base64 is 4/3 of the bytes: refuse a too-long text before decoding it.
        if args.image.len() / 4 * 3 > MAX_IMAGE_BYTES {
            return Err(too_large(format!("the image is over {} MB", MAX_IMAGE_BYTES / (1024 * 1024))));
        }
        let bytes = decode_base64(&args.image, "image")?;
        let (width, height) = image_dimensions(&bytes)?;
        let found = scan::scan_bytes(&bytes, &scan::ScanOptions::default()).map_err(scan_error)?;
        let codes = classify::classify_all(
            &host,
            found.iter().map(|f| f.exact_text().map_or(f.bytes.as_slice(), str::as_bytes)),
        )
        .await;
        Ok(ScanReport { codes, width, height })
    }

    /// Finds and classifies the codes in one greyscale camera frame.
    pub async fn scan_frame<H: Host>(host: H, args: ScanFrameArgs) -> Result<ScanReport, CommandError> {
        let pixels = u64::from(args.width) * u64::from(args.height);
        if pixels > MAX_FRAME_PIXELS {
            return Err(too_large(format!(
                "a {}×{} frame is larger than {MAX_FRAME_PIXELS} pixels; downscale it",
                args.width, args.height
            )));
        }
        let grey = decode_base64(&args.grey, "grey")?;
        let found = scan::scan_frame(args.width, args.height, &grey, &scan::ScanOptions::fast())
            .map_err(scan_error)?;
        let codes = classify::classify_all(
            &host,
            found.iter().map(|f| f.exact_text().map_or(f.bytes.as_slice(), str::as_bytes)),
        )
        .await;
        Ok(ScanReport { codes, width: args.width, height: args.height })
    }

    /// Every device paired with the sandbox.
    pub async fn devices<H: Host>(host: H, _: Empty) -> Result<Vec<Device>, CommandError> {
        let client = host.client();
        let me = client.session().await?;
        let list = client.devices().await?;
        Ok(list.into_iter().map(|d: WireDevice| device(d, me.id)).collect())
    }

    /// Revokes a device; revoking this one is unpairing.
    pub async fn revoke_device<H: Host>(host: H, args: RevokeDeviceArgs) -> Result<Empty, CommandError> {
        let client = host.client();
        let me = client.session().await?;
        client.revoke(args.device_id).await?;
        if me.id == args.device_id {
            host.store_device_token(None);
        }
        Ok(Empty {})
    }

    /// Versions and where things are.
    pub async fn about<H: Host>(host: H, _: Empty) -> Result<About, CommandError> {
        let client = host.client();
        let sandbox_version = client.about().await.ok().map(|a| a.version);
        Ok(About {
            plusbox: env!("CARGO_PKG_VERSION").to_string(),
            sandbox_version,
            commit: option_env!("PLUSBOX_COMMIT").map(str::to_string),
            sandbox_url: client.base_url().to_string(),
            tls: host.tls(),
            data_dir: host.data_dir().map(|d| d.display().to_string()),
        })
    }

    fn device(d: WireDevice, me: i64) -> Device {
        Device {
            current: d.id == me,
            id: d.id,
            name: d.name,
            created_at: d.created_at,
            last_seen_at: d.last_seen_at,
            revoked_at: d.revoked_at,
        }
    }
}

/// The token in a pairing link (`…#pair=<token>`), or the typed code as it is.
pub fn pairing_token_of(text: &str) -> String {
    let text = text.trim();
    match text.split_once("pair=") {
        Some((_, rest)) => rest.split(['&', '#', ' ']).next().unwrap_or_default().to_string(),
        None => text.to_string(),
    }
}

fn too_large(message: String) -> CommandError {
    CommandError::new(ErrorCode::ImageTooLarge, message)
}

fn decode_base64(text: &str, field: &str) -> Result<Vec<u8>, CommandError> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| CommandError::new(ErrorCode::BadImage, format!("{field} is not Base64: {e}")))
}

/// Reads an image's size from its header, so a huge photo is refused before it is decoded.
fn image_dimensions(bytes: &[u8]) -> Result<(u32, u32), CommandError> {
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| CommandError::new(ErrorCode::BadImage, format!("cannot read the image: {e}")))?;
    if !matches!(reader.format(), Some(image::ImageFormat::Png | image::ImageFormat::Jpeg)) {
        return Err(CommandError::new(ErrorCode::BadImage, "the image is not a PNG or JPEG"));
    }
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| CommandError::new(ErrorCode::BadImage, format!("cannot read the image size: {e}")))?;
    if width > MAX_IMAGE_SIDE
        || height > MAX_IMAGE_SIDE
        || u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS
    {
        return Err(too_large(format!(
            "a {width}×{height} image is larger than {MAX_IMAGE_SIDE} pixels a side or {} megapixels",
            MAX_IMAGE_PIXELS / 1_000_000
        )));
    }
    Ok((width, height))
}

fn scan_error(error: scan::ScanError) -> CommandError {
    match error {
        scan::ScanError::Dimensions { .. } => too_large(error.to_string()),
        other => CommandError::new(ErrorCode::BadImage, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pairing_link_yields_its_token_and_a_typed_code_stays() {
        assert_eq!(pairing_token_of("http://10.0.0.2:8787/#pair=pair_abc"), "pair_abc");
        assert_eq!(pairing_token_of(" abcd-efgh "), "abcd-efgh");
    }

    #[test]
    fn money_takes_the_exponent_of_its_currency() {
        assert_eq!(Money::new("JPY", "500").exponent, 0);
        assert_eq!(Money::new("KWD", "1").exponent, 3);
    }
}
