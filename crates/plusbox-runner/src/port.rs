//! The runner's one way into a sandbox: the [`SandboxPort`] trait. Two implementations exist:
//! the sandbox's HTTP test-control API ([`crate::HttpPort`], `plusbox run --sandbox URL --token
//! T`, the companion app) and the sandbox's local store (`plusbox_runner_local::LocalPort`,
//! `plusbox run --data DIR`). The engine judges the same traffic the same way through either.
//!
//! The port speaks in the runner's terms (strings, minor units, the catalogue's traffic entries),
//! never in the sandbox's types, so the runner does not depend on the sandbox's internals.

use std::sync::Arc;

use async_trait::async_trait;
use plusbox_clock::SharedClock;
use plusbox_core::catalogue::TrafficEntry;
use plusbox_core::money::Amount;
use time::{Duration, OffsetDateTime};

/// Why a port call failed. Its message names the sandbox and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The sandbox could not be reached (gone, refused the connection, timed out).
    #[error("the sandbox at {at} is not reachable: {detail}")]
    Unreachable {
        /// The sandbox (URL or data directory).
        at: String,
        /// What failed.
        detail: String,
    },
    /// The sandbox refused the call; `code` is its error code (e.g. `RUN_ACTIVE`).
    #[error("the sandbox refused {what}: {code}: {message}")]
    Refused {
        /// The call.
        what: String,
        /// The sandbox's error code.
        code: String,
        /// The sandbox's explanation.
        message: String,
    },
    /// The sandbox answered something that is not what the API promises.
    #[error(
        "the sandbox answered {what} with something that is not the test-control API's answer: {detail}"
    )]
    Garbage {
        /// The call.
        what: String,
        /// What was wrong with the answer.
        detail: String,
    },
}

/// Result of a port call.
pub type PortResult<T> = Result<T, PortError>;

/// A buyer account as the runner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuyerState {
    /// Its scenario name (`success`, `pin`, …).
    pub scenario: String,
    /// Balances: (currency code, minor units).
    pub balances: Vec<(String, i64)>,
}

/// A payment's state in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentState {
    /// paymentRequestId.
    pub payment_request_id: String,
    /// paymentId.
    pub payment_id: String,
    /// `PROCESSING`, `SUCCESS`, `FAILED`, `CANCELLED`, `CLOSED`.
    pub state: String,
    /// The failure's result code.
    pub fail_code: Option<String>,
    /// Currency code.
    pub currency: String,
    /// Amount in minor units.
    pub value: i64,
    /// When it expires.
    pub expires_at: OffsetDateTime,
}

/// A payment waiting for the buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPayment {
    /// paymentId.
    pub payment_id: String,
    /// paymentRequestId.
    pub payment_request_id: String,
    /// The buyer.
    pub account: String,
    /// Currency code of the amount.
    pub currency: String,
    /// Amount in minor units.
    pub value: i64,
}

/// The sandbox application, for a forged notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxApp {
    /// Client-Id.
    pub client_id: String,
    /// acquirerId.
    pub acquirer_id: String,
    /// The ACQP's notification URL, when set.
    pub notify_url: Option<String>,
}

/// An order code as the buyer's wallet reads it when scanned (merchant-presented mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedOrder {
    /// The merchant's name, when the order gives one.
    pub merchant: Option<String>,
    /// The amount as shown, e.g. `12.50 USD`.
    pub display_amount: String,
    /// Whether confirming needs the buyer's PIN.
    pub pin_required: bool,
}

/// The wallet refused an order code: `INVALID_CODE`, `EXPIRED_CODE`, `ORDER_IS_CLOSED` or
/// `PIN_REQUIRED`, with what the buyer is told. A verdict on the ACQP, not a port failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRefusal {
    /// The refusal's code.
    pub code: String,
    /// What the wallet says.
    pub message: String,
}

/// The wallet's refusal codes for order codes (a refusal, not a failure of the port).
pub const ORDER_REFUSALS: [&str; 4] = ["INVALID_CODE", "EXPIRED_CODE", "ORDER_IS_CLOSED", "PIN_REQUIRED"];

/// What a rule does to the call it catches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Answer with this result code.
    Force(String),
    /// Alter the signed answer's body after signing.
    TamperBody,
}

/// Everything the runner does to and reads from a sandbox.
#[async_trait]
pub trait SandboxPort: Send + Sync {
    /// The sandbox's time: waits and timestamps run on it. The runner only reads it.
    fn clock(&self) -> SharedClock;
    /// The sandbox this port reaches (a URL or a data directory), for messages.
    fn describe(&self) -> String;
    /// Wakes the sandbox's worker after an arrangement (in-process sandboxes; others poll).
    fn poke(&self) {}
    /// Holds `account` for one run; refused (`RUN_ACTIVE`) while another run holds it.
    async fn begin_run(&self, account: &str) -> PortResult<i64>;
    /// Lets go of the buyer.
    async fn end_run(&self, run: i64) -> PortResult<()>;
    /// Makes buyer `id` like buyer `like` (persona, PIN) if it does not exist; true if made.
    async fn ensure_buyer_like(&self, id: &str, like: &str) -> PortResult<bool>;
    /// Switches magic amounts on.
    async fn magic_amounts_on(&self) -> PortResult<()>;
    /// A buyer's scenario and balances.
    async fn buyer(&self, account: &str) -> PortResult<BuyerState>;
    /// Sets a buyer's scenario.
    async fn set_scenario(&self, account: &str, scenario: &str) -> PortResult<()>;
    /// Makes the buyer pay as this wallet persona (`walletEnum`); the persona it paid as before.
    async fn set_wallet(&self, account: &str, wallet: &str) -> PortResult<String>;
    /// Adds money to a buyer.
    async fn topup(&self, account: &str, amount: Amount) -> PortResult<()>;
    /// Issues a payment code for the buyer, `age` ago.
    async fn issue_code(&self, account: &str, age: Duration) -> PortResult<String>;
    /// Adds a rule scoped to the buyer for `count` calls within `minutes`; its id.
    async fn add_rule(
        &self,
        account: &str,
        api: &str,
        rule: Rule,
        count: u32,
        minutes: u32,
    ) -> PortResult<i64>;
    /// Removes a rule.
    async fn remove_rule(&self, id: i64) -> PortResult<()>;
    /// Holds the buyer's notifications back by `delay` for the next `minutes`.
    async fn hold_notifications(&self, account: &str, delay: Duration, minutes: u32) -> PortResult<()>;
    /// Ends the hold.
    async fn release_notifications(&self, account: &str) -> PortResult<()>;
    /// Ages payments into the past; how many were aged.
    async fn age_payments(&self, payment_ids: &[String], by: Duration) -> PortResult<usize>;
    /// A payment by paymentId; `None` when the sandbox has none.
    async fn payment(&self, payment_id: &str) -> PortResult<Option<PaymentState>>;
    /// The buyer's payments waiting for a confirmation.
    async fn pending(&self, account: &str) -> PortResult<Vec<PendingPayment>>;
    /// Confirms a waiting payment with the PIN.
    async fn confirm(&self, payment_id: &str, pin: &str) -> PortResult<()>;
    /// Declines a waiting payment.
    async fn decline(&self, payment_id: &str) -> PortResult<()>;
    /// The newest traffic id (a run's high-water mark).
    async fn traffic_mark(&self) -> PortResult<i64>;
    /// Up to `limit` traffic entries after `after` that this port may see, and where the next
    /// page starts.
    async fn traffic(&self, after: i64, limit: u32) -> PortResult<(Vec<TrafficEntry>, i64)>;
    /// The sandbox application.
    async fn app(&self) -> PortResult<SandboxApp>;
    /// Starts a dispute (`retrieval` or `escalation`) against the payment `payment_id`, as the
    /// TSP does (alipayplus-api.md §13.3; an escalation claims `amount`, or the disputable
    /// amount): its `disputeRequestId`, or the sandbox's refusal `(code, message)` naming the rule
    /// — a verdict on the case, not a failure of the port.
    async fn open_dispute(
        &self,
        kind: &str,
        payment_id: &str,
        amount: Option<Amount>,
    ) -> PortResult<Result<String, (String, String)>>;
    /// The buyer `account` scans order code `code`: the order, or the wallet's refusal.
    async fn decode_order_code(
        &self,
        account: &str,
        code: &str,
    ) -> PortResult<Result<ScannedOrder, OrderRefusal>>;
    /// The buyer confirms (with `pin` when asked) or declines a scanned order code: the payment's
    /// result code, or the wallet's refusal.
    async fn answer_order_code(
        &self,
        account: &str,
        code: &str,
        confirm: bool,
        pin: Option<&str>,
    ) -> PortResult<Result<String, OrderRefusal>>;
}

/// A shared port.
pub type SharedPort = Arc<dyn SandboxPort>;
