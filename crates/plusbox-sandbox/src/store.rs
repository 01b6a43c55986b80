//! The sandbox's one SQLite file: configuration, wallet accounts and ledger, payment codes,
//! payments and refunds, the notification outbox, mock rules, the traffic log and device tokens.
//!
//! Every business rule that changes money runs inside one `BEGIN IMMEDIATE` transaction, so
//! concurrent requests (and CLI commands in other processes) serialise on the database and a
//! balance can never go negative. Nothing is cached between calls: the CLI edits the same file
//! while the server runs, and the next request sees the change.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use plusbox_core::secret::SecretString;
use plusbox_core::signing::{PrivateKey, PublicKey};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::Serialize;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use plusbox_core::codes::{generate_payment_code, CodeForm, Wallet, WalletTable};
use plusbox_core::money::{Amount, Currency};
use plusbox_core::protocol::time::{format_instant, format_instant_millis, PLUSBOX_OFFSET};
use plusbox_core::protocol::WireResult;
use plusbox_core::result_code::ResultCode;

use crate::ids;
use crate::scenario::{Answer, Plan, Scenario, Start};

mod companion_app;
pub use companion_app::*;
mod arrange;
pub use arrange::MockScope;
mod recon;
pub use recon::{ReconSettings, SettledTransaction, SftpLogin, StoredReconFile};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "plusbox.sqlite";

/// Retry delays after failed notification attempts (alipayplus-api.md §10): 14 retries.
pub const NOTIFY_RETRY_SCHEDULE: [Duration; 14] = [
    Duration::seconds(4),
    Duration::seconds(4),
    Duration::seconds(30),
    Duration::seconds(60),
    Duration::seconds(60),
    Duration::seconds(60),
    Duration::minutes(5),
    Duration::minutes(5),
    Duration::minutes(15),
    Duration::minutes(30),
    Duration::hours(1),
    Duration::hours(2),
    Duration::hours(6),
    Duration::hours(14),
];

/// Default payment expiry after `pay` when the request gives none (§4.4).
pub const DEFAULT_PAYMENT_EXPIRY: Duration = Duration::seconds(60);

/// WAL size past which [`Store::checkpoint`] empties the log (16 MiB: a few seconds of
/// sustained load, far under the 64 MiB bound the soak benchmark holds it to).
pub const WAL_TRUNCATE_BYTES: u64 = 16 * 1024 * 1024;

/// How long a truncating checkpoint waits for readers (and holds new writers) before giving up
/// until the next round.
pub const TRUNCATE_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// Default PIN of provisioned buyer accounts.
pub const DEFAULT_PIN: &str = "1234";

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Filesystem error around the data directory.
    #[error("data directory error: {0}")]
    Io(#[from] std::io::Error),
    /// A key could not be generated or parsed.
    #[error("key error: {0}")]
    Key(#[from] plusbox_core::signing::SigningError),
    /// The database is newer than this build.
    #[error("the database schema version {0} is newer than this plusbox understands; upgrade plusbox")]
    TooNew(i64),
    /// Something the caller asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is not valid in the current state.
    #[error("{0}")]
    Invalid(String),
    /// No application is provisioned yet.
    #[error("no sandbox application is provisioned yet; run `plusbox serve` once")]
    NotProvisioned,
    /// A value (an amount, a balance, a clock jump) is outside the range Plusbox can hold; the
    /// change was refused and nothing was written.
    #[error("{0}")]
    OutOfRange(String),
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The SQLite store. Cheap to share behind an `Arc`; all methods are blocking.
///
/// One writer connection (behind a mutex: SQLite allows one writer at a time anyway) and a small
/// pool of read-only connections, so lookups (inquiries, keys, mock checks) run concurrently
/// with writes under WAL. Every connection caches its prepared statements.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    traffic_queue: TrafficQueue,
    /// Pays waiting for a group commit (see [`Store::pay`]).
    pay_queue: Mutex<Vec<PayJob>>,
    /// Source of payment/refund IDs, codes and provisioned identifiers (seedable, §15).
    ids: Mutex<ids::IdRng>,
    /// The connection background checkpoints run on (see [`Store::checkpoint`]).
    checkpointer: Mutex<Option<Connection>>,
    path: PathBuf,
    /// What opening changed that the operator should hear about (see [`Store::notices`]).
    notices: Vec<String>,
    /// WAL size past which [`Store::checkpoint`] truncates; 0 = never (see [`Store::set_wal_bound`]).
    wal_bound: std::sync::atomic::AtomicU64,
}

/// Where a queued job's committed result is left for its caller (see [`Store::record_traffic`]
/// and [`Store::pay`]).
#[derive(Debug)]
struct Slot<T>(Mutex<Option<T>>);

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot(Mutex::new(None))
    }
}

impl<T> Slot<T> {
    fn take(&self) -> Option<T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn fill(&self, result: T) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
    }
}

/// A traffic record's slot.
type TrafficSlot = Slot<Result<i64>>;

/// Traffic records waiting for a group commit, each with its caller's slot.
type TrafficQueue = Mutex<Vec<(TrafficRecord, Arc<TrafficSlot>)>>;

/// Inserts a batch of queued traffic records; their row ids in order.
fn insert_batch(tx: &Connection, batch: &[(TrafficRecord, Arc<TrafficSlot>)]) -> Result<Vec<i64>> {
    batch.iter().map(|(record, _)| insert_traffic(tx, record)).collect()
}

/// Hands each queued caller its result once the batch is committed (or failed); returns the
/// result for `own`, which its caller takes directly.
fn settle_batch(
    batch: &[(TrafficRecord, Arc<TrafficSlot>)],
    written: Result<Vec<i64>>,
    own: Option<&Arc<TrafficSlot>>,
) -> Option<Result<i64>> {
    let mine = |slot: &Arc<TrafficSlot>| own.is_some_and(|o| Arc::ptr_eq(o, slot));
    let mut result = None;
    match written {
        Ok(ids) => {
            for ((_, slot), id) in batch.iter().zip(ids) {
                if mine(slot) {
                    result = Some(Ok(id));
                } else {
                    slot.fill(Ok(id));
                }
            }
        }
        Err(error) => {
            let message = error.to_string();
            for (_, slot) in batch {
                if !mine(slot) {
                    slot.fill(Err(StoreError::Invalid(format!("traffic log write failed: {message}"))));
                }
            }
            if own.is_some() {
                result = Some(Err(error));
            }
        }
    }
    result
}

/// Read-only connections kept open; more are opened under load and closed when returned.
const READERS: usize = 4;

/// Page cache per connection, in KiB as SQLite's negative `cache_size` means (16 MiB).
const CACHE_KIB: i64 = -16 * 1024;

/// Prepared statements kept per connection (the store has about 70 distinct statements).
const STATEMENT_CACHE: usize = 128;

/// `query_row` and `execute` through the connection's prepared-statement cache, so hot SQL is
/// parsed once per connection rather than once per call.
trait Cached {
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl Cached for Connection {
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

/// Versioned migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE app (
    id INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    acquirer_id TEXT NOT NULL,
    sandbox_private_key TEXT NOT NULL,
    sandbox_key_version INTEGER NOT NULL DEFAULT 1,
    notify_url TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE acqp_key (
    app_id INTEGER NOT NULL REFERENCES app(id),
    key_version INTEGER NOT NULL,
    public_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, key_version)
);
CREATE TABLE merchant (
    id TEXT PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES app(id),
    name TEXT NOT NULL,
    store_id TEXT NOT NULL,
    store_name TEXT NOT NULL
);
CREATE TABLE account (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scenario TEXT NOT NULL DEFAULT 'success',
    pin TEXT NOT NULL,
    wallet TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE balance (
    account_id TEXT NOT NULL REFERENCES account(id),
    currency TEXT NOT NULL,
    value INTEGER NOT NULL CHECK (value >= 0),
    PRIMARY KEY (account_id, currency)
);
CREATE TABLE ledger (
    id INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    delta INTEGER NOT NULL,
    kind TEXT NOT NULL,
    reference TEXT,
    at INTEGER NOT NULL
);
CREATE TABLE code (
    code TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_by TEXT
);
CREATE TABLE payment (
    id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL,
    payment_request_id TEXT NOT NULL,
    payment_id TEXT NOT NULL UNIQUE,
    key_fields TEXT NOT NULL,
    account_id TEXT,
    code TEXT,
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL,
    state TEXT NOT NULL,
    fail_code TEXT,
    fail_message TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    paid_at INTEGER,
    closed_at INTEGER,
    notify_url TEXT,
    psp_id TEXT NOT NULL,
    wallet_brand_name TEXT NOT NULL,
    customer_id TEXT,
    request_body TEXT,
    UNIQUE (app_id, payment_request_id)
);
CREATE INDEX payment_processing ON payment(state, expires_at);
CREATE TABLE refund (
    id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL,
    refund_request_id TEXT NOT NULL,
    refund_id TEXT NOT NULL UNIQUE,
    payment_row INTEGER NOT NULL REFERENCES payment(id),
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL,
    result_code TEXT NOT NULL,
    reason TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (app_id, refund_request_id)
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    payment_row INTEGER NOT NULL REFERENCES payment(id),
    url TEXT,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox(status, next_at);
CREATE TABLE mock (
    id INTEGER PRIMARY KEY,
    api TEXT NOT NULL,
    result_code TEXT NOT NULL,
    remaining INTEGER,
    until INTEGER,
    hits INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE traffic (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    direction TEXT NOT NULL,
    api TEXT NOT NULL,
    client_id TEXT,
    payment_request_id TEXT,
    payment_id TEXT,
    method TEXT NOT NULL,
    uri TEXT NOT NULL,
    request_headers TEXT NOT NULL,
    request_body BLOB NOT NULL,
    response_status INTEGER,
    response_headers TEXT NOT NULL,
    response_body BLOB NOT NULL,
    result_code TEXT,
    result_status TEXT,
    signature TEXT NOT NULL,
    findings TEXT NOT NULL,
    mock_id INTEGER,
    duration_ms REAL NOT NULL,
    note TEXT
);
CREATE INDEX traffic_payment ON traffic(payment_request_id);
CREATE TABLE device (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
"#,
    r#"
ALTER TABLE app ADD COLUMN magic_amounts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE payment ADD COLUMN plan TEXT;
ALTER TABLE payment ADD COLUMN resolve_at INTEGER;
ALTER TABLE payment ADD COLUMN resolve_code TEXT;
ALTER TABLE payment ADD COLUMN stuck INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payment ADD COLUMN awaits_buyer INTEGER NOT NULL DEFAULT 1;
ALTER TABLE payment ADD COLUMN withhold_notify INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payment ADD COLUMN inquiry_faults INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payment ADD COLUMN refund_faults INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payment ADD COLUMN cancel_faults INTEGER NOT NULL DEFAULT 0;
CREATE INDEX payment_resolve ON payment(state, resolve_at);
ALTER TABLE mock ADD COLUMN tamper TEXT;
"#,
    // Lookups by payment (notification dedupe, cancel, transactions[]) and an account's
    // history would otherwise scan tables that grow with every payment.
    r#"
CREATE INDEX outbox_payment ON outbox(payment_row);
CREATE INDEX refund_payment ON refund(payment_row);
CREATE INDEX ledger_account ON ledger(account_id, id);
"#,
    // Money is an integer of minor units. Past the 64-bit range SQLite silently stores a REAL,
    // which every later read refuses; these triggers refuse it at the write instead (SQLite
    // cannot add a CHECK constraint to an existing table). Rust checks the arithmetic first;
    // this is the backstop for every other writer of the file.
    r#"
CREATE TRIGGER balance_value_integer_insert BEFORE INSERT ON balance
    WHEN typeof(NEW.value) <> 'integer' OR NEW.value < 0
    BEGIN SELECT RAISE(ABORT, 'balance.value must be a non-negative integer of minor units'); END;
CREATE TRIGGER balance_value_integer_update BEFORE UPDATE OF value ON balance
    WHEN typeof(NEW.value) <> 'integer' OR NEW.value < 0
    BEGIN SELECT RAISE(ABORT, 'balance.value must be a non-negative integer of minor units'); END;
CREATE TRIGGER ledger_delta_integer_insert BEFORE INSERT ON ledger
    WHEN typeof(NEW.delta) <> 'integer'
    BEGIN SELECT RAISE(ABORT, 'ledger.delta must be an integer of minor units'); END;
CREATE TRIGGER ledger_delta_integer_update BEFORE UPDATE OF delta ON ledger
    WHEN typeof(NEW.delta) <> 'integer'
    BEGIN SELECT RAISE(ABORT, 'ledger.delta must be an integer of minor units'); END;
CREATE TRIGGER payment_amount_integer_insert BEFORE INSERT ON payment
    WHEN typeof(NEW.amount) <> 'integer'
    BEGIN SELECT RAISE(ABORT, 'payment.amount must be an integer of minor units'); END;
CREATE TRIGGER payment_amount_integer_update BEFORE UPDATE OF amount ON payment
    WHEN typeof(NEW.amount) <> 'integer'
    BEGIN SELECT RAISE(ABORT, 'payment.amount must be an integer of minor units'); END;
CREATE TRIGGER refund_amount_integer_insert BEFORE INSERT ON refund
    WHEN typeof(NEW.amount) <> 'integer'
    BEGIN SELECT RAISE(ABORT, 'refund.amount must be an integer of minor units'); END;
CREATE TRIGGER refund_amount_integer_update BEFORE UPDATE OF amount ON refund
    WHEN typeof(NEW.amount) <> 'integer'
    BEGIN SELECT RAISE(ABORT, 'refund.amount must be an integer of minor units'); END;
"#,
    // Companion app: revocable devices with a last-seen time, pairing tickets (link token and
    // short code, both hashed) and a log of wrong pairing codes for rate limiting.
    r#"
ALTER TABLE device ADD COLUMN revoked_at INTEGER;
ALTER TABLE device ADD COLUMN last_seen_at INTEGER;
CREATE TABLE pairing (
    id INTEGER PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    link_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    device_id INTEGER
);
CREATE TABLE pairing_failure (at INTEGER NOT NULL);
"#,
    // What a test run arranges stays its own (store/arrange.rs): mock rules scoped to a
    // merchant or buyer, and notifications held back per buyer.
    r#"
ALTER TABLE mock ADD COLUMN scope_merchant TEXT;
ALTER TABLE mock ADD COLUMN scope_account TEXT;
CREATE TABLE notify_hold (account_id TEXT PRIMARY KEY, delay_ms INTEGER NOT NULL, until INTEGER NOT NULL);
"#,
    // Reconciliation (store/recon.rs): settlement settings and the SFTP password per
    // application, configured settlement currencies, and the generated clearing files (kept, so
    // SFTP and HTTP serve exactly what was generated). The indexes find a cycle's transactions.
    r#"
CREATE TABLE recon_setting (
    app_id INTEGER PRIMARY KEY REFERENCES app(id),
    default_currency TEXT,
    sftp_password TEXT
);
CREATE TABLE recon_currency (
    app_id INTEGER NOT NULL REFERENCES app(id),
    currency TEXT NOT NULL,
    agreement_id TEXT NOT NULL,
    PRIMARY KEY (app_id, currency)
);
CREATE TABLE recon_file (
    app_id INTEGER NOT NULL REFERENCES app(id),
    clearing_date TEXT NOT NULL,
    generation_date TEXT NOT NULL,
    currency TEXT NOT NULL,
    name TEXT NOT NULL,
    content BLOB NOT NULL,
    generated_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, generation_date, name)
);
CREATE INDEX recon_file_date ON recon_file(app_id, clearing_date);
CREATE INDEX payment_paid ON payment(app_id, paid_at);
CREATE INDEX refund_created ON refund(app_id, created_at);
"#,
];

// ---------------------------------------------------------------------------------------------
// Public records
// ---------------------------------------------------------------------------------------------

/// The sandbox application an ACQP integrates against.
#[derive(Debug, Clone)]
pub struct AppRecord {
    /// Row id.
    pub id: i64,
    /// `SANDBOX_…` Client-Id.
    pub client_id: String,
    /// Participant ID, sent as `acquirerId`.
    pub acquirer_id: String,
    /// The sandbox's own ("Alipay+") private key, PKCS#8 Base64.
    pub sandbox_private_key: SecretString,
    /// Key version the sandbox signs with.
    pub sandbox_key_version: u32,
    /// The application's notification URL, if configured.
    pub notify_url: Option<String>,
    /// Whether magic amounts (testing-practice.md §10.2) choose outcomes.
    pub magic_amounts: bool,
}

impl AppRecord {
    /// Parses the sandbox private key.
    pub fn private_key(&self) -> Result<PrivateKey> {
        Ok(PrivateKey::parse(self.sandbox_private_key.expose())?)
    }

    /// The sandbox public key, bare Base64 (what the ACQP configures).
    pub fn public_key_base64(&self) -> Result<String> {
        Ok(self.private_key()?.public_key()?.to_base64())
    }
}

/// What [`Store::envelope`] found.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The application whose Client-Id the request carries.
    pub caller: Option<AppRecord>,
    /// The caller, or else the first application (signs answers to unidentified callers).
    pub default: Option<AppRecord>,
    /// The caller's ACQP public key: `(keyVersion, base64)`.
    pub key: Option<(u32, String)>,
    /// Whether a mock rule for the API is active.
    pub mock_active: bool,
}

/// What `plusbox app show --json` prints.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    /// Client-Id.
    pub client_id: String,
    /// Participant ID.
    pub acquirer_id: String,
    /// Base URL of the gateway.
    pub gateway_url: String,
    /// Sandbox public key, bare Base64.
    pub sandbox_public_key: String,
    /// Notification URL or null.
    pub notify_url: Option<String>,
}

/// A balance as the CLI and companion show it: `value` is a string of minor units, as on the wire.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BalanceView {
    /// ISO 4217 code.
    pub currency: String,
    /// Minor units as a decimal string.
    pub value: String,
}

impl std::fmt::Display for BalanceView {
    /// People's form, e.g. `12.50 USD`; the raw minor units if the row is not a valid amount.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let amount = Currency::from_code(&self.currency)
            .ok()
            .zip(self.value.parse::<i64>().ok())
            .map(|(currency, value)| Amount::from_minor(currency, value));
        match amount {
            Some(amount) => write!(f, "{amount}"),
            None => write!(f, "{} {} (minor units)", self.value, self.currency),
        }
    }
}

/// A buyer account.
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    /// Account id, e.g. `buyer-1`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Balances.
    pub balances: Vec<BalanceView>,
    /// Current scenario name.
    pub scenario: String,
}

/// A freshly issued payment code.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCodeView {
    /// The digits.
    pub code: String,
    /// Buyer account id.
    pub account: String,
    /// Expiry, ISO 8601 `+08:00`.
    pub expires_at: String,
}

/// A payment waiting for the buyer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PendingView {
    /// Alipay+ paymentId (what `wallet confirm --payment` takes).
    pub payment_id: String,
    /// The ACQP's paymentRequestId.
    pub payment_request_id: String,
    /// Buyer account.
    pub account: String,
    /// Amount on the wire.
    pub amount: BalanceView,
    /// Human amount, e.g. `12.50 USD`.
    pub display_amount: String,
    /// Expiry.
    pub expires_at: String,
    /// Merchant name from the order, when given.
    pub merchant: Option<String>,
}

/// The sandbox's payment states (§3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PayState {
    /// Waiting for the buyer or the wallet.
    Processing,
    /// Paid.
    Success,
    /// Refused by the wallet.
    Failed,
    /// Expired without a final result.
    Closed,
    /// Cancelled by `cancelPayment`.
    Cancelled,
}

impl PayState {
    fn as_str(self) -> &'static str {
        match self {
            PayState::Processing => "PROCESSING",
            PayState::Success => "SUCCESS",
            PayState::Failed => "FAILED",
            PayState::Closed => "CLOSED",
            PayState::Cancelled => "CANCELLED",
        }
    }

    fn parse(text: &str) -> PayState {
        match text {
            "SUCCESS" => PayState::Success,
            "FAILED" => PayState::Failed,
            "CLOSED" => PayState::Closed,
            "CANCELLED" => PayState::Cancelled,
            _ => PayState::Processing,
        }
    }
}

/// One payment as stored.
#[derive(Debug, Clone)]
pub struct PaymentRecord {
    /// Row id.
    pub row: i64,
    /// Application row.
    pub app_id: i64,
    /// ACQP's id.
    pub payment_request_id: String,
    /// Alipay+ paymentId.
    pub payment_id: String,
    /// Canonical JSON of the idempotency key fields.
    pub key_fields: String,
    /// Buyer account, when the code resolved to one.
    pub account_id: Option<String>,
    /// Amount.
    pub amount: Amount,
    /// State.
    pub state: PayState,
    /// Failure code (FAILED).
    pub fail_code: Option<ResultCode>,
    /// Failure message (FAILED).
    pub fail_message: Option<String>,
    /// When `pay` arrived.
    pub created_at: OffsetDateTime,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// When it succeeded.
    pub paid_at: Option<OffsetDateTime>,
    /// Notification URL from the request.
    pub notify_url: Option<String>,
    /// Wallet persona pspId.
    pub psp_id: String,
    /// Wallet persona brand.
    pub wallet_brand_name: String,
    /// Buyer's wallet user id.
    pub customer_id: Option<String>,
    /// What chose the wallet's behaviour (`scenario pin`, `magic amount 901`, `default`).
    pub plan: Option<String>,
    /// When a held payment settles by itself (magic amounts 901, 905).
    pub resolve_at: Option<OffsetDateTime>,
    /// How it settles: `SUCCESS` or the failure code.
    pub resolve_code: Option<String>,
    /// Stays processing past expiry until cancelled.
    pub stuck: bool,
    /// Waits for the buyer to confirm or decline.
    pub awaits_buyer: bool,
    /// No notifyPayment is sent for it.
    pub withhold_notify: bool,
    /// inquiryPayment calls still to answer U UNKNOWN_EXCEPTION.
    pub inquiry_faults: i64,
    /// refund calls still to answer U UNKNOWN_EXCEPTION.
    pub refund_faults: i64,
    /// cancelPayment calls still to answer U UNKNOWN_EXCEPTION.
    pub cancel_faults: i64,
}

impl PaymentRecord {
    /// The `paymentResult` object for this payment's state.
    pub fn payment_result(&self) -> WireResult {
        match self.state {
            PayState::Processing => WireResult::from_code(ResultCode::PaymentInProcess),
            PayState::Success => WireResult::success(),
            PayState::Failed => {
                let code = self.fail_code.unwrap_or(ResultCode::ProcessFail);
                WireResult::with_message(code, self.fail_message.as_deref().unwrap_or(code.default_message()))
            }
            PayState::Closed => WireResult::with_message(
                ResultCode::OrderIsClosed,
                "the payment expired without a final result",
            ),
            PayState::Cancelled => {
                WireResult::with_message(ResultCode::OrderIsClosed, "the payment was cancelled")
            }
        }
    }

    /// The notifyPayment body for a final state.
    fn notify_body(&self, acquirer_id: &str) -> Value {
        let mut body = json!({
            "paymentResult": self.payment_result(),
            "paymentRequestId": self.payment_request_id,
            "paymentId": self.payment_id,
            "acquirerId": acquirer_id,
            "paymentAmount": self.amount.to_wire(),
        });
        if self.state == PayState::Success {
            if let Some(map) = body.as_object_mut() {
                map.insert("pspId".into(), json!(self.psp_id));
                map.insert("paymentTime".into(), json!(self.paid_at.map(format_instant)));
                map.insert("customerId".into(), json!(self.customer_id));
                map.insert("walletBrandName".into(), json!(self.wallet_brand_name));
            }
        }
        body
    }
}

/// What an inquiry finds.
#[derive(Debug, Clone)]
pub enum Inquiry {
    /// The payment and its `transactions[]`.
    Found(PaymentRecord, Vec<Value>),
    /// The payment exists but this inquiry is planned to fail with U `UNKNOWN_EXCEPTION`
    /// (magic amount 911).
    Fault(PaymentRecord),
    /// No such payment.
    NotFound,
    /// The two IDs point at different payments.
    Conflict(String),
}

/// Input to [`Store::pay`], validated by the gateway.
#[derive(Debug, Clone)]
pub struct PayInput {
    /// ACQP's idempotency key.
    pub payment_request_id: String,
    /// Canonical JSON of the key fields compared on repeats.
    pub key_fields: String,
    /// Amount.
    pub amount: Amount,
    /// The scanned code.
    pub code: String,
    /// Requested expiry.
    pub expiry: Option<OffsetDateTime>,
    /// Requested notification URL.
    pub notify_url: Option<String>,
    /// The raw request body, kept for the companion's display of merchant and order.
    pub request_body: String,
}

/// What the gateway should do with the `pay` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayDelivery {
    /// Answer now.
    Now,
    /// Answer after this much clock time (`slow:N`).
    After(Duration),
    /// Never answer (`no-answer`).
    Never,
}

/// The outcome of [`Store::pay`].
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // short-lived, one per request
pub enum PayOutcome {
    /// A payment exists for the request (new or repeat).
    Payment {
        /// The payment in its current state.
        payment: PaymentRecord,
        /// A result forced onto this one answer (`unknown-exception` answers U UNKNOWN_EXCEPTION).
        forced: Option<ResultCode>,
        /// When to answer.
        delivery: PayDelivery,
        /// Whether this was a repeat of an earlier request.
        repeat: bool,
    },
    /// The request is refused without a payment record.
    Refused(ResultCode, String),
}

/// The outcome of cancel and refund calls: the result plus the payment they touched.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// Result code.
    pub code: ResultCode,
    /// Message.
    pub message: String,
    /// The payment, when found.
    pub payment: Option<PaymentRecord>,
    /// Refund details on success (refundId, refundTime, amount).
    pub refund: Option<RefundView>,
}

/// A refund as answered.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundView {
    /// refundRequestId.
    pub refund_request_id: String,
    /// refundId.
    pub refund_id: String,
    /// Amount.
    pub amount: Amount,
    /// When.
    pub refund_time: String,
    /// Result code.
    pub result_code: String,
}

/// A notification waiting to be sent.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    /// Row id.
    pub id: i64,
    /// Target URL.
    pub url: String,
    /// JSON body, exactly as it will be sent and signed.
    pub body: String,
    /// Attempts so far.
    pub attempts: i64,
    /// The payment's application.
    pub app_id: i64,
    /// paymentRequestId, for the traffic log.
    pub payment_request_id: String,
    /// paymentId, for the traffic log.
    pub payment_id: String,
}

/// A mock rule (iMock-style): forces `result_code` on `api`, or tampers with its signed answer,
/// for `remaining` calls or until `until`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MockRule {
    /// Row id.
    pub id: i64,
    /// API name, e.g. `pay`.
    pub api: String,
    /// Forced result code (`None` for a tamper rule).
    pub result_code: Option<String>,
    /// How the answer is tampered with (`signature` or `body`), for a tamper rule.
    pub tamper: Option<String>,
    /// Calls left, when counted.
    pub remaining: Option<i64>,
    /// Expiry, when timed.
    pub until: Option<String>,
    /// How many calls it has answered.
    pub hits: i64,
    /// Whether it still applies.
    pub active: bool,
}

/// One exchange for the traffic log.
#[derive(Debug, Clone, Default)]
pub struct TrafficRecord {
    /// When it started.
    pub at: Option<OffsetDateTime>,
    /// `inbound` (ACQP → sandbox) or `outbound` (sandbox → ACQP).
    pub direction: &'static str,
    /// API name (`pay`, `notifyPayment`, … or `unknown`).
    pub api: String,
    /// Client-Id involved.
    pub client_id: Option<String>,
    /// paymentRequestId.
    pub payment_request_id: Option<String>,
    /// paymentId.
    pub payment_id: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Request-URI (inbound) or URL (outbound).
    pub uri: String,
    /// Request headers, names lower-case.
    pub request_headers: Vec<(String, String)>,
    /// Raw request body.
    pub request_body: Vec<u8>,
    /// HTTP status of the answer, if any.
    pub response_status: Option<u16>,
    /// Response headers.
    pub response_headers: Vec<(String, String)>,
    /// Raw response body.
    pub response_body: Vec<u8>,
    /// `result.resultCode` of the answer.
    pub result_code: Option<String>,
    /// `result.resultStatus` of the answer.
    pub result_status: Option<String>,
    /// Signature verdict: `valid`, `valid-lenient`, `invalid`, `missing`, `not-checked`.
    pub signature: String,
    /// Findings: hygiene, signature leniencies, the content-to-sign on a mismatch.
    pub findings: Vec<Value>,
    /// The mock rule that forced the answer.
    pub mock_id: Option<i64>,
    /// Duration in milliseconds.
    pub duration_ms: f64,
    /// Free text.
    pub note: Option<String>,
}

/// A traffic entry as listed: the catalogue's own input type, so what `plusbox traffic list --json`
/// prints is exactly what the test engine judges.
pub use plusbox_core::catalogue::TrafficEntry as TrafficView;

/// A ledger line for the companion's history.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    /// Row id.
    pub id: i64,
    /// Currency.
    pub currency: String,
    /// Signed minor units as a string.
    pub delta: String,
    /// `topup`, `payment`, `refund`, `cancel`.
    pub kind: String,
    /// paymentId / refundId.
    pub reference: Option<String>,
    /// When.
    pub at: String,
}

/// Per-currency totals for the ledger invariant `balances + paid − refunded = top-ups`.
/// Sums are 128-bit: several balances near the 64-bit limit add up past it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LedgerTotals {
    /// Sum of balances.
    pub balances: i128,
    /// Sum of successful (not cancelled) payments.
    pub paid: i128,
    /// Sum of successful refunds.
    pub refunded: i128,
    /// Sum of top-ups (including provisioning).
    pub topups: i128,
}

/// What first-start provisioning created.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The application.
    pub app: AppView,
    /// The buyer accounts.
    pub accounts: Vec<AccountView>,
    /// Merchant id and store id.
    pub merchant: (String, String),
}

// ---------------------------------------------------------------------------------------------
// Opening and migrations
// ---------------------------------------------------------------------------------------------

impl Store {
    /// Opens (creating if needed) the database in `data_dir`, applies migrations, and restricts
    /// the file to its owner because it holds private keys.
    pub fn open(data_dir: &Path) -> Result<Store> {
        let notices: Vec<String> = create_private_dir(data_dir)?.into_iter().collect();
        let path = data_dir.join(DB_FILE);
        create_private_file(&path)?;
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // NORMAL in WAL mode: a commit survives a process crash (kill -9); FULL would also
        // survive power loss at an fsync per commit. PLUSBOX_SYNC=FULL opts in.
        let sync = match std::env::var("PLUSBOX_SYNC").ok().as_deref() {
            Some("FULL") | Some("full") => "FULL",
            _ => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "cache_size", CACHE_KIB)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        migrate(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            traffic_queue: Mutex::default(),
            pay_queue: Mutex::default(),
            ids: Mutex::new(ids::IdRng::System(ids::SystemRng::new())),
            checkpointer: Mutex::new(None),
            path,
            notices,
            wal_bound: std::sync::atomic::AtomicU64::new(WAL_TRUNCATE_BYTES),
        })
    }

    /// Sets the WAL size past which background checkpoints truncate the log (default
    /// [`WAL_TRUNCATE_BYTES`]); `None` turns the bound off, which is how the soak benchmark shows
    /// the unbounded growth it prevents.
    pub fn set_wal_bound(&self, bytes: Option<u64>) {
        self.wal_bound.store(bytes.unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
    }

    /// Things opening the store changed that the operator should be told (e.g. a data directory
    /// open to other users was tightened to 0700). The CLI prints them.
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// A read-only connection: WAL (set by the writer, persistent in the file) lets it read a
    /// consistent snapshot while the writer commits.
    fn open_reader(&self) -> Result<Connection> {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "cache_size", CACHE_KIB)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// Draws identifiers (paymentId, refundId, payment codes, provisioned Client-Id and
    /// acquirerId) from a seeded stream from now on, so a run that repeats the same requests in
    /// the same order gets the same IDs (alipayplus-api.md §15). Device tokens and keys stay
    /// random.
    pub fn seed_ids(&self, seed: u64) {
        *self.id_source() = ids::IdRng::Seeded(ids::SeededRng::new(seed));
    }

    fn id_source(&self) -> std::sync::MutexGuard<'_, ids::IdRng> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the writer from checkpointing the WAL inside commits; the caller then runs
    /// [`Store::checkpoint`] in the background. A checkpoint copies pages into the database file
    /// and fsyncs it, which inside a request's commit shows up as tail latency.
    pub fn use_background_checkpoints(&self) -> Result<()> {
        let conn = self.lock();
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // After a checkpoint resets the WAL, keep its file from staying at its peak size.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        Ok(())
    }

    /// A WAL checkpoint on its own connection. Normally passive: it copies what it can without
    /// waiting for (or blocking) readers and the writer. Under steady reads a passive checkpoint
    /// never gets to the end of the WAL, so SQLite can never start it over and the file grows
    /// without bound; once it passes [`WAL_TRUNCATE_BYTES`] a TRUNCATE checkpoint waits briefly
    /// (at most [`TRUNCATE_WAIT`]) for the readers of old frames, copies the rest and empties the
    /// file. If the readers do not let go in time it gives up and tries again on the next round.
    /// Returns whether the WAL was truncated.
    pub fn checkpoint(&self) -> Result<bool> {
        let mut slot = self.checkpointer.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            let conn = Connection::open(&self.path)?;
            conn.busy_timeout(TRUNCATE_WAIT)?;
            *slot = Some(conn);
        }
        let Some(conn) = slot.as_ref() else { return Ok(false) };
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        let bound = self.wal_bound.load(std::sync::atomic::Ordering::Relaxed);
        if bound == 0 || self.wal_bytes() <= bound {
            return Ok(false);
        }
        // Row: (busy, log frames, checkpointed frames); busy = 1 when it could not finish.
        let busy: i64 = match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0)) {
            Ok(busy) => busy,
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DatabaseBusy => 1,
            Err(e) => return Err(e.into()),
        };
        Ok(busy == 0)
    }

    /// Size of the write-ahead log file in bytes (0 when there is none).
    pub fn wal_bytes(&self) -> u64 {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back on
        // drop), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` in an IMMEDIATE transaction and commits it if `f` succeeds.
    ///
    /// Traffic records queued by [`Store::record_traffic`] ride along in the same commit, so
    /// under load a business write and other requests' traffic share one WAL commit.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = Transaction::new(&mut conn, TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        let batch = self.take_traffic_queue();
        let written = insert_batch(&tx, &batch).and_then(|ids| {
            tx.commit()?;
            Ok(ids)
        });
        // Slots are filled before the writer is released (see `record_traffic`).
        match written {
            Ok(ids) => {
                settle_batch(&batch, Ok(ids), None);
                Ok(value)
            }
            Err(error) => {
                settle_batch(&batch, Err(StoreError::Invalid(error.to_string())), None);
                Err(error)
            }
        }
    }

    fn take_traffic_queue(&self) -> Vec<(TrafficRecord, Arc<TrafficSlot>)> {
        std::mem::take(&mut *self.traffic_queue.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Runs `f` on a read transaction of a pooled read-only connection (a consistent snapshot;
    /// it never waits for the writer).
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => self.open_reader()?,
        };
        let value = (|| {
            let tx = Transaction::new(&mut conn, TransactionBehavior::Deferred)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < READERS {
            pool.push(conn);
        }
        value
    }
}

/// Creates the data directory (and missing parents) as 0700 whatever the umask, or tightens an
/// existing one that other users can read or change: it holds private keys. Returns a notice
/// when it tightened one.
fn create_private_dir(dir: &Path) -> Result<Option<String>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.exists() {
            // `mode` applies to every directory created, parents included, so a umask of 000
            // cannot leave them world-writable.
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            return Ok(None);
        }
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "the data directory {} has mode {mode:04o} (open to other users) and cannot be tightened to 0700: {e}; it holds private keys, so fix it with `chmod 700` or choose another --data",
                        dir.display()
                    ),
                )
            })?;
            return Ok(Some(format!(
                "the data directory {} had mode {mode:04o}, open to other users; tightened it to 0700 because it holds private keys",
                dir.display()
            )));
        }
        Ok(None)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)?;
        Ok(None)
    }
}

fn create_private_file(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if !path.exists() {
            std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path)?;
        }
        // SQLite gives the -wal and -shm files the main file's mode, so this covers them too.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = Transaction::new(conn, TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row_cached("PRAGMA user_version", [], |row| row.get(0))?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if version > known {
        return Err(StoreError::TooNew(version));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
    }
    tx.commit()?;
    Ok(())
}

/// Milliseconds since the epoch, the store's representation of instants.
fn to_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The inverse of [`to_millis`].
fn from_millis(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

// ---------------------------------------------------------------------------------------------
// Provisioning and configuration
// ---------------------------------------------------------------------------------------------

/// The buyers provisioned on first start: id, name, balances (currency, minor units).
type Buyer = (&'static str, &'static str, &'static [(&'static str, i64)]);
const BUYERS: &[Buyer] = &[
    ("buyer-1", "Alice (USD)", &[("USD", 100_000), ("HKD", 800_000), ("JPY", 150_000)]),
    ("buyer-2", "Bao (HKD)", &[("HKD", 500_000), ("USD", 50_000), ("JPY", 50_000)]),
    ("buyer-3", "Chiyo (JPY)", &[("JPY", 1_000_000), ("USD", 20_000), ("HKD", 100_000)]),
];

impl Store {
    /// Provisions the sandbox application, merchant and buyers if the database is empty.
    /// Returns what was created, or `None` when it already existed.
    pub fn provision_if_empty(&self, now: OffsetDateTime, gateway_url: &str) -> Result<Option<Provisioned>> {
        // Generate the key outside the lock: RSA-2048 generation takes a while.
        let exists = self.read(|tx| {
            Ok(tx.query_row_cached("SELECT COUNT(*) FROM app", [], |r| r.get::<_, i64>(0))? > 0)
        })?;
        if exists {
            return Ok(None);
        }
        let key = PrivateKey::generate()?;
        let key_b64 = key.to_base64();
        // Lock order everywhere: the writer, then the id source; here only the id source.
        let (client_id, acquirer_id) = {
            let mut rng = self.id_source();
            (ids::client_id(&mut *rng), ids::participant_id(&mut *rng))
        };
        let created = self.write(|tx| {
            if tx.query_row_cached("SELECT COUNT(*) FROM app", [], |r| r.get::<_, i64>(0))? > 0 {
                return Ok(false);
            }
            let at = to_millis(now);
            tx.execute_cached(
                "INSERT INTO app (client_id, acquirer_id, sandbox_private_key, sandbox_key_version, created_at)
                 VALUES (?1, ?2, ?3, 1, ?4)",
                params![client_id, acquirer_id, key_b64.expose(), at],
            )?;
            let app_id = tx.last_insert_rowid();
            tx.execute_cached(
                "INSERT INTO merchant (id, app_id, name, store_id, store_name) VALUES ('M0001', ?1, 'Plusbox Test Merchant', 'S0001', 'Plusbox Test Store')",
                params![app_id],
            )?;
            let persona = persona_of(None)?;
            for (index, (id, name, balances)) in BUYERS.iter().enumerate() {
                tx.execute_cached(
                    "INSERT INTO account (id, name, scenario, pin, wallet, customer_id, created_at) VALUES (?1, ?2, 'success', ?3, ?4, ?5, ?6)",
                    params![id, name, DEFAULT_PIN, persona.wallet_enum, format!("21880000000000{:02}", index + 1), at],
                )?;
                for (currency, value) in balances.iter() {
                    tx.execute_cached(
                        "INSERT INTO balance (account_id, currency, value) VALUES (?1, ?2, ?3)",
                        params![id, currency, value],
                    )?;
                    tx.execute_cached(
                        "INSERT INTO ledger (account_id, currency, delta, kind, reference, at) VALUES (?1, ?2, ?3, 'topup', 'provisioning', ?4)",
                        params![id, currency, value, at],
                    )?;
                }
            }
            set_meta(tx, "gateway_url", gateway_url)?;
            Ok(true)
        })?;
        if !created {
            return Ok(None);
        }
        Ok(Some(Provisioned {
            app: self.app_view()?,
            accounts: self.accounts()?,
            merchant: ("M0001".into(), "S0001".into()),
        }))
    }

    /// The (first) sandbox application.
    pub fn app(&self) -> Result<AppRecord> {
        self.read(|tx| {
            tx.query_row_cached(
                "SELECT id, client_id, acquirer_id, sandbox_private_key, sandbox_key_version, notify_url, magic_amounts FROM app ORDER BY id LIMIT 1",
                [],
                app_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotProvisioned)
        })
    }

    /// The application with this Client-Id.
    pub fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRecord>> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT id, client_id, acquirer_id, sandbox_private_key, sandbox_key_version, notify_url, magic_amounts FROM app WHERE client_id = ?1",
                    params![client_id],
                    app_from_row,
                )
                .optional()?)
        })
    }

    /// The application with this row id.
    pub fn app_by_id(&self, id: i64) -> Result<Option<AppRecord>> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT id, client_id, acquirer_id, sandbox_private_key, sandbox_key_version, notify_url, magic_amounts FROM app WHERE id = ?1",
                    params![id],
                    app_from_row,
                )
                .optional()?)
        })
    }

    /// Everything the gateway needs before the body, in one read transaction: the calling
    /// application, the default one (it signs answers to callers it cannot identify), the
    /// caller's ACQP key for `key_version` (latest when `None`), and whether any mock rule for
    /// `api` is active (only then does [`Store::take_mock_for`] need the write lock).
    pub fn envelope(
        &self,
        client_id: Option<&str>,
        key_version: Option<u32>,
        api: &str,
        now: OffsetDateTime,
    ) -> Result<Envelope> {
        self.read(|tx| {
            const APP: &str = "SELECT id, client_id, acquirer_id, sandbox_private_key, sandbox_key_version, notify_url, magic_amounts FROM app";
            let caller = match client_id {
                Some(id) => tx
                    .query_row_cached(&format!("{APP} WHERE client_id = ?1"), params![id], app_from_row)
                    .optional()?,
                None => None,
            };
            let default = match &caller {
                Some(app) => Some(app.clone()),
                None => tx.query_row_cached(&format!("{APP} ORDER BY id LIMIT 1"), [], app_from_row).optional()?,
            };
            let key = match &caller {
                Some(app) => acqp_key(tx, app.id, key_version)?,
                None => None,
            };
            let mock_active = tx
                .query_row_cached(
                    "SELECT 1 FROM mock WHERE api = ?1 AND (remaining IS NULL OR remaining > 0) AND (until IS NULL OR until > ?2) LIMIT 1",
                    params![api, to_millis(now)],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                .is_some();
            Ok(Envelope { caller, default, key, mock_active })
        })
    }

    /// The ACQP public key for `key_version`, or the latest when `None`: `(version, base64)`.
    pub fn acqp_key(&self, app_id: i64, key_version: Option<u32>) -> Result<Option<(u32, String)>> {
        self.read(|tx| acqp_key(tx, app_id, key_version))
    }

    /// Stores the ACQP's public key (PEM or bare Base64) under `key_version`.
    pub fn set_acqp_key(&self, public_key: &str, key_version: u32, now: OffsetDateTime) -> Result<String> {
        let key = PublicKey::parse(public_key)?;
        let b64 = key.to_base64();
        let app = self.app()?;
        self.write(|tx| {
            tx.execute_cached(
                "INSERT INTO acqp_key (app_id, key_version, public_key, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (app_id, key_version) DO UPDATE SET public_key = excluded.public_key, created_at = excluded.created_at",
                params![app.id, key_version, b64, to_millis(now)],
            )?;
            Ok(())
        })?;
        Ok(key.fingerprint())
    }

    /// Sets (or clears, with `None`) the application's notification URL.
    pub fn set_notify_url(&self, url: Option<&str>) -> Result<()> {
        if let Some(url) = url {
            validate_url(url).map_err(StoreError::Invalid)?;
        }
        let app = self.app()?;
        self.write(|tx| {
            tx.execute_cached("UPDATE app SET notify_url = ?1 WHERE id = ?2", params![url, app.id])?;
            Ok(())
        })
    }

    /// Switches magic amounts (testing-practice.md §10.2) on or off for the application.
    pub fn set_magic_amounts(&self, on: bool) -> Result<()> {
        let app = self.app()?;
        self.write(|tx| {
            tx.execute_cached("UPDATE app SET magic_amounts = ?1 WHERE id = ?2", params![on, app.id])?;
            Ok(())
        })
    }

    /// How far the sandbox clock has been moved ahead of its underlying clock (`plusbox clock
    /// advance`). Kept in the database so a running server, the CLI and a test runner in other
    /// processes share one time line (testing-practice.md §10.2: the clock "can jump ahead").
    /// A stored offset outside `0..=`[`MAX_CLOCK_OFFSET`] (written by an older build) reads as
    /// the nearest bound, so time arithmetic on it cannot fail.
    pub fn clock_offset(&self) -> Result<Duration> {
        let text = self.read(|tx| get_meta(tx, CLOCK_OFFSET_KEY))?;
        let millis = text.and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
        Ok(Duration::milliseconds(millis).clamp(Duration::ZERO, MAX_CLOCK_OFFSET))
    }

    /// Moves the sandbox clock `by` further ahead (negative moves it back, never before the
    /// underlying clock) and returns the new offset. One write transaction, so concurrent
    /// advances add up.
    ///
    /// The offset may not pass [`MAX_CLOCK_OFFSET`] (100 years): a larger jump is refused with
    /// [`StoreError::OutOfRange`] and nothing is saved.
    pub fn advance_clock(&self, by: Duration) -> Result<Duration> {
        let max_ms = i64::try_from(MAX_CLOCK_OFFSET.whole_milliseconds()).unwrap_or(i64::MAX);
        let refuse = || {
            StoreError::OutOfRange(format!(
                "the sandbox clock can be at most {} days ({} years) ahead of the wall clock; {} was asked for",
                MAX_CLOCK_OFFSET.whole_days(),
                MAX_CLOCK_OFFSET.whole_days() / 365,
                describe_jump(by)
            ))
        };
        let by_ms = i64::try_from(by.whole_milliseconds()).map_err(|_| refuse())?;
        self.write(|tx| {
            let old = get_meta(tx, CLOCK_OFFSET_KEY)?.and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
            let old = old.clamp(0, max_ms);
            let new = old.checked_add(by_ms).ok_or_else(refuse)?.max(0);
            if new > max_ms {
                return Err(refuse());
            }
            set_meta(tx, CLOCK_OFFSET_KEY, &new.to_string())?;
            Ok(Duration::milliseconds(new))
        })
    }

    /// Puts the sandbox clock back on its underlying clock (offset zero).
    pub fn reset_clock(&self) -> Result<()> {
        self.write(|tx| set_meta(tx, CLOCK_OFFSET_KEY, "0"))
    }

    /// Records the gateway's base URL (written by `serve` on start).
    pub fn set_gateway_url(&self, url: &str) -> Result<()> {
        self.write(|tx| set_meta(tx, "gateway_url", url))
    }

    /// What `plusbox app show` prints.
    pub fn app_view(&self) -> Result<AppView> {
        let app = self.app()?;
        let gateway_url =
            self.read(|tx| get_meta(tx, "gateway_url"))?.unwrap_or_else(|| "http://127.0.0.1:8787".into());
        Ok(AppView {
            client_id: app.client_id.clone(),
            acquirer_id: app.acquirer_id.clone(),
            gateway_url,
            sandbox_public_key: app.public_key_base64()?,
            notify_url: app.notify_url.clone(),
        })
    }
}

/// Checks that a notification URL is an absolute http(s) URL.
///
/// Parsed with the same (WHATWG) rules the notification client uses, so what passes here is what
/// is sent; whitespace and control characters, which that parser would silently drop, are refused.
pub fn validate_url(url: &str) -> std::result::Result<(), String> {
    let shown = crate::text::for_log(url);
    if !url.starts_with("http://") && !url.starts_with("https://") {
        return Err(format!("{shown:?} is not an http:// or https:// URL"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{shown:?} contains whitespace or control characters"));
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("{shown:?} is not a valid URL: {e}"))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{shown:?} has no host"));
    }
    Ok(())
}

/// The ACQP public key for `key_version`, or the latest when `None`: `(version, base64)`.
fn acqp_key(tx: &Connection, app_id: i64, key_version: Option<u32>) -> Result<Option<(u32, String)>> {
    let row = match key_version {
        Some(version) => tx
            .query_row_cached(
                "SELECT key_version, public_key FROM acqp_key WHERE app_id = ?1 AND key_version = ?2",
                params![app_id, version],
                |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?,
        None => tx
            .query_row_cached(
                "SELECT key_version, public_key FROM acqp_key WHERE app_id = ?1 ORDER BY key_version DESC LIMIT 1",
                params![app_id],
                |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?,
    };
    Ok(row)
}

fn app_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AppRecord> {
    Ok(AppRecord {
        id: row.get(0)?,
        client_id: row.get(1)?,
        acquirer_id: row.get(2)?,
        sandbox_private_key: SecretString::new(row.get(3)?),
        sandbox_key_version: row.get(4)?,
        notify_url: row.get(5)?,
        magic_amounts: row.get(6)?,
    })
}

/// The `meta` key holding the clock offset in milliseconds.
const CLOCK_OFFSET_KEY: &str = "clock_offset_ms";

/// How far ahead of its underlying clock the sandbox clock may run: 100 years (36 525 days) —
/// far past every window the sandbox has (the longest, refunds, is one year), and far from the
/// year 9999 where dates stop being representable.
pub const MAX_CLOCK_OFFSET: Duration = Duration::days(36_525);

/// A jump for people: `25h`, `-3s`, `41666666d`.
fn describe_jump(by: Duration) -> String {
    if by.whole_days().abs() >= 2 {
        format!("{}d", by.whole_days())
    } else if by.whole_hours().abs() >= 1 {
        format!("{}h", by.whole_hours())
    } else {
        format!("{}s", by.whole_seconds())
    }
}

fn set_meta(tx: &Connection, key: &str, value: &str) -> Result<()> {
    tx.execute_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

fn get_meta(tx: &Connection, key: &str) -> Result<Option<String>> {
    Ok(tx.query_row_cached("SELECT value FROM meta WHERE key = ?1", params![key], |r| r.get(0)).optional()?)
}

// ---------------------------------------------------------------------------------------------
// Wallet: accounts, codes, confirmations
// ---------------------------------------------------------------------------------------------

impl Store {
    /// All buyer accounts with balances.
    pub fn accounts(&self) -> Result<Vec<AccountView>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached("SELECT id, name, scenario FROM account ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut out = Vec::with_capacity(rows.len());
            for (id, name, scenario) in rows {
                out.push(AccountView { balances: balances(tx, &id)?, id, name, scenario });
            }
            Ok(out)
        })
    }

    /// One account.
    pub fn account(&self, id: &str) -> Result<AccountView> {
        self.accounts()?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("no buyer account {id:?}")))
    }

    /// Adds money to an account (a top-up in the ledger).
    pub fn topup(&self, account: &str, amount: &Amount, now: OffsetDateTime) -> Result<BalanceView> {
        self.write(|tx| {
            ensure_account(tx, account)?;
            // The sum is checked here, before SQL: past i64 SQLite would store a REAL.
            if let Err(message) = credit(tx, account, amount)? {
                return Err(StoreError::OutOfRange(format!("top-up refused: {message}")));
            }
            tx.execute_cached(
                "INSERT INTO ledger (account_id, currency, delta, kind, reference, at) VALUES (?1, ?2, ?3, 'topup', NULL, ?4)",
                params![account, amount.currency.code(), amount.value, to_millis(now)],
            )?;
            let value: i64 = tx.query_row_cached(
                "SELECT value FROM balance WHERE account_id = ?1 AND currency = ?2",
                params![account, amount.currency.code()],
                |r| r.get(0),
            )?;
            Ok(BalanceView {
                currency: amount.currency.code().to_string(),
                value: value.to_string(),
            })
        })
    }

    /// Sets an account's scenario.
    pub fn set_scenario(&self, account: &str, scenario: &Scenario) -> Result<()> {
        self.write(|tx| {
            ensure_account(tx, account)?;
            tx.execute_cached(
                "UPDATE account SET scenario = ?1 WHERE id = ?2",
                params![scenario.to_string(), account],
            )?;
            Ok(())
        })
    }

    /// Issues a one-time payment code for an account, valid for [`CODE_VALIDITY`].
    pub fn issue_code(&self, account: &str, now: OffsetDateTime) -> Result<IssuedCodeView> {
        self.issue_code_in_form(account, CodeForm::Digits24, now)
    }

    /// Issues a one-time code for a buyer in a given form: the 24-digit standard or one of the
    /// legacy 17/18/19-digit shapes (payment-codes.md §2.2), bound to the account like any other.
    pub fn issue_code_in_form(
        &self,
        account: &str,
        form: CodeForm,
        now: OffsetDateTime,
    ) -> Result<IssuedCodeView> {
        self.write(|tx| {
            let mut rng = self.id_source();
            let wallet: String = tx
                .query_row_cached("SELECT wallet FROM account WHERE id = ?1", params![account], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("no buyer account {account:?}")))?;
            let persona = persona_of(Some(&wallet))?;
            // A collision with an earlier code is astronomically unlikely; retry anyway.
            for _ in 0..5 {
                let issued = generate_payment_code(form, &persona, now, &mut *rng);
                let inserted = tx.execute_cached(
                    "INSERT OR IGNORE INTO code (code, account_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                    params![issued.value, account, to_millis(now), to_millis(issued.expires_at)],
                )?;
                if inserted == 1 {
                    return Ok(IssuedCodeView {
                        code: issued.value,
                        account: account.to_string(),
                        expires_at: format_instant(issued.expires_at),
                    });
                }
            }
            Err(StoreError::Invalid("could not generate a unique payment code".into()))
        })
    }

    /// Payments waiting for a buyer's confirmation.
    pub fn pending(&self, now: OffsetDateTime) -> Result<Vec<PendingView>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {PAYMENT_COLUMNS} FROM payment WHERE state = 'PROCESSING' AND account_id IS NOT NULL AND awaits_buyer = 1 AND expires_at > ?1 ORDER BY id"
            ))?;
            let rows = stmt
                .query_map(params![to_millis(now)], |r| Ok((payment_from_row(r)?, r.get::<_, Option<String>>(PAYMENT_COLUMN_COUNT)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows
                .into_iter()
                .map(|(p, body)| PendingView {
                    merchant: body.and_then(|b| merchant_name(&b)),
                    payment_id: p.payment_id,
                    payment_request_id: p.payment_request_id,
                    account: p.account_id.unwrap_or_default(),
                    display_amount: p.amount.to_string(),
                    amount: BalanceView {
                        currency: p.amount.currency.code().to_string(),
                        value: p.amount.value.to_string(),
                    },
                    expires_at: format_instant(p.expires_at),
                })
                .collect())
        })
    }

    /// The buyer confirms a waiting payment with a PIN. A wrong PIN fails the payment with
    /// `USER_PAYMENT_VERIFICATION_FAILED`; an insufficient balance with `USER_BALANCE_NOT_ENOUGH`.
    pub fn confirm(&self, payment_id: &str, pin: &str, now: OffsetDateTime) -> Result<PaymentRecord> {
        self.write(|tx| {
            let payment = waiting_payment(tx, payment_id, now)?;
            let account = payment.account_id.clone().unwrap_or_default();
            let expected: String =
                tx.query_row_cached("SELECT pin FROM account WHERE id = ?1", params![account], |r| r.get(0))?;
            if expected != pin {
                fail_payment(
                    tx,
                    &payment,
                    ResultCode::UserPaymentVerificationFailed,
                    "the buyer entered a wrong PIN",
                    now,
                )?;
            } else {
                debit_or_fail(tx, &payment, now)?;
            }
            load_payment_by_row(tx, payment.row)
        })
    }

    /// The buyer declines a waiting payment (`PROCESS_FAIL`, "the buyer declined").
    pub fn decline(&self, payment_id: &str, now: OffsetDateTime) -> Result<PaymentRecord> {
        self.write(|tx| {
            let payment = waiting_payment(tx, payment_id, now)?;
            fail_payment(tx, &payment, ResultCode::ProcessFail, "the buyer declined the payment", now)?;
            load_payment_by_row(tx, payment.row)
        })
    }

    /// An account's ledger, newest first.
    pub fn history(&self, account: &str, limit: u32) -> Result<Vec<LedgerEntry>> {
        self.read(|tx| {
            ensure_account(tx, account)?;
            let mut stmt = tx.prepare_cached(
                "SELECT id, currency, delta, kind, reference, at FROM ledger WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![account, limit], |r| {
                    Ok(LedgerEntry {
                        id: r.get(0)?,
                        currency: r.get(1)?,
                        delta: r.get::<_, i64>(2)?.to_string(),
                        kind: r.get(3)?,
                        reference: r.get(4)?,
                        at: format_instant(from_millis(r.get(5)?)),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Totals per currency for the ledger invariant.
    pub fn ledger_totals(&self) -> Result<std::collections::BTreeMap<String, LedgerTotals>> {
        self.read(|tx| {
            let mut out: std::collections::BTreeMap<String, LedgerTotals> = Default::default();
            // Summed in Rust as i128: SQLite's SUM fails with "integer overflow" past i64.
            let mut q = |sql: &str, f: fn(&mut LedgerTotals) -> &mut i128| -> Result<()> {
                let mut stmt = tx.prepare_cached(sql)?;
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    let total = f(out.entry(row.get::<_, String>(0)?).or_default());
                    *total = total.saturating_add(i128::from(row.get::<_, i64>(1)?));
                }
                Ok(())
            };
            q("SELECT currency, value FROM balance", |t| &mut t.balances)?;
            q("SELECT currency, amount FROM payment WHERE state = 'SUCCESS'", |t| &mut t.paid)?;
            q("SELECT currency, amount FROM refund WHERE result_code = 'SUCCESS'", |t| &mut t.refunded)?;
            q("SELECT currency, delta FROM ledger WHERE kind = 'topup'", |t| &mut t.topups)?;
            Ok(out)
        })
    }
}

fn merchant_name(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let merchant = value.get("order")?.get("merchant")?;
    merchant
        .get("merchantDisplayName")
        .or_else(|| merchant.get("merchantName"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

fn ensure_account(tx: &Connection, account: &str) -> Result<()> {
    let exists: Option<i64> = tx
        .query_row_cached("SELECT 1 FROM account WHERE id = ?1", params![account], |r| r.get(0))
        .optional()?;
    exists.map(|_| ()).ok_or_else(|| StoreError::NotFound(format!("no buyer account {account:?}")))
}

/// The balance an account would have after receiving `amount`, checked in Rust:
/// `Ok(Err(reason))` when it would pass the largest amount a balance can hold.
fn credited_balance(tx: &Connection, account: &str, amount: &Amount) -> Result<Result<i64, String>> {
    let current: Option<i64> = tx
        .query_row_cached(
            "SELECT value FROM balance WHERE account_id = ?1 AND currency = ?2",
            params![account, amount.currency.code()],
            |r| r.get(0),
        )
        .optional()?;
    let current = current.unwrap_or(0);
    Ok(current.checked_add(amount.value).filter(|v| *v >= 0).ok_or_else(|| {
        format!(
            "{account}'s {} balance {} plus {amount} is more than the largest balance Plusbox can hold ({})",
            amount.currency,
            Amount::from_minor(amount.currency, current),
            Amount::from_minor(amount.currency, i64::MAX)
        )
    }))
}

/// Whether `amount` can be credited to the account (see [`credited_balance`]).
fn fits(tx: &Connection, account: &str, amount: &Amount) -> Result<Result<(), String>> {
    Ok(credited_balance(tx, account, amount)?.map(|_| ()))
}

/// Credits `amount` to an account, creating the balance row if needed. The sum is computed with
/// checked arithmetic first; `Ok(Err(reason))` (nothing written) when it would overflow.
fn credit(tx: &Connection, account: &str, amount: &Amount) -> Result<Result<(), String>> {
    let value = match credited_balance(tx, account, amount)? {
        Ok(value) => value,
        Err(reason) => return Ok(Err(reason)),
    };
    tx.execute_cached(
        "INSERT INTO balance (account_id, currency, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (account_id, currency) DO UPDATE SET value = excluded.value",
        params![account, amount.currency.code(), value],
    )?;
    Ok(Ok(()))
}

fn balances(tx: &Connection, account: &str) -> Result<Vec<BalanceView>> {
    let mut stmt =
        tx.prepare_cached("SELECT currency, value FROM balance WHERE account_id = ?1 ORDER BY currency")?;
    let rows = stmt
        .query_map(params![account], |r| {
            Ok(BalanceView { currency: r.get(0)?, value: r.get::<_, i64>(1)?.to_string() })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn waiting_payment(tx: &Connection, payment_id: &str, now: OffsetDateTime) -> Result<PaymentRecord> {
    let payment = tx
        .query_row_cached(
            &format!("SELECT {PAYMENT_COLUMNS} FROM payment WHERE payment_id = ?1"),
            params![payment_id],
            payment_from_row,
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no payment {payment_id:?}")))?;
    let payment = settle_if_due(tx, payment, now)?;
    if payment.state != PayState::Processing || payment.account_id.is_none() || !payment.awaits_buyer {
        return Err(StoreError::Invalid(format!(
            "payment {payment_id} is not waiting for the buyer (state {})",
            payment.state.as_str()
        )));
    }
    Ok(payment)
}

// ---------------------------------------------------------------------------------------------
// Payments
// ---------------------------------------------------------------------------------------------

const PAYMENT_COLUMNS: &str = "id, app_id, payment_request_id, payment_id, key_fields, account_id, currency, amount, state, fail_code, fail_message, created_at, expires_at, paid_at, notify_url, psp_id, wallet_brand_name, customer_id, plan, resolve_at, resolve_code, stuck, awaits_buyer, withhold_notify, inquiry_faults, refund_faults, cancel_faults, request_body";
const PAYMENT_COLUMN_COUNT: usize = 27;

fn payment_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PaymentRecord> {
    Ok(PaymentRecord {
        row: r.get(0)?,
        app_id: r.get(1)?,
        payment_request_id: r.get(2)?,
        payment_id: r.get(3)?,
        key_fields: r.get(4)?,
        account_id: r.get(5)?,
        amount: amount_from_row(r, 6, 7)?,
        state: PayState::parse(&r.get::<_, String>(8)?),
        fail_code: r.get::<_, Option<String>>(9)?.and_then(|c| ResultCode::from_wire(&c)),
        fail_message: r.get(10)?,
        created_at: from_millis(r.get(11)?),
        expires_at: from_millis(r.get(12)?),
        paid_at: r.get::<_, Option<i64>>(13)?.map(from_millis),
        notify_url: r.get(14)?,
        psp_id: r.get(15)?,
        wallet_brand_name: r.get(16)?,
        customer_id: r.get(17)?,
        plan: r.get(18)?,
        resolve_at: r.get::<_, Option<i64>>(19)?.map(from_millis),
        resolve_code: r.get(20)?,
        stuck: r.get(21)?,
        awaits_buyer: r.get(22)?,
        withhold_notify: r.get(23)?,
        inquiry_faults: r.get(24)?,
        refund_faults: r.get(25)?,
        cancel_faults: r.get(26)?,
    })
}

/// An amount from a currency column and a minor-units column. A currency the table does not
/// know can only come from a hand-edited database; it surfaces as a conversion error, not a panic.
fn amount_from_row(r: &rusqlite::Row<'_>, currency: usize, value: usize) -> rusqlite::Result<Amount> {
    let code: String = r.get(currency)?;
    let currency = Currency::from_code(&code).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(currency, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Amount::from_minor(currency, r.get(value)?))
}

/// The wallet persona with this enum name, or the default persona (Test Wallet).
fn persona_of(name: Option<&str>) -> Result<Wallet> {
    let table = WalletTable::builtin();
    name.and_then(|n| table.find(n))
        .or_else(|| table.default_persona())
        .cloned()
        .ok_or_else(|| StoreError::Invalid("the wallet table has no default persona".into()))
}

fn load_payment_by_row(tx: &Connection, row: i64) -> Result<PaymentRecord> {
    Ok(tx.query_row_cached(
        &format!("SELECT {PAYMENT_COLUMNS} FROM payment WHERE id = ?1"),
        params![row],
        payment_from_row,
    )?)
}

/// Finds a payment by paymentRequestId and/or paymentId. Both given but different → `Err(Illegal)`.
fn find_payment(
    tx: &Connection,
    app_id: i64,
    payment_request_id: Option<&str>,
    payment_id: Option<&str>,
) -> Result<Result<Option<PaymentRecord>, String>> {
    let by_request = match payment_request_id {
        Some(id) => tx
            .query_row_cached(
                &format!(
                    "SELECT {PAYMENT_COLUMNS} FROM payment WHERE app_id = ?1 AND payment_request_id = ?2"
                ),
                params![app_id, id],
                payment_from_row,
            )
            .optional()?,
        None => None,
    };
    let by_id = match payment_id {
        Some(id) => tx
            .query_row_cached(
                &format!("SELECT {PAYMENT_COLUMNS} FROM payment WHERE app_id = ?1 AND payment_id = ?2"),
                params![app_id, id],
                payment_from_row,
            )
            .optional()?,
        None => None,
    };
    Ok(match (payment_request_id, payment_id) {
        (Some(_), Some(_)) => match (by_request, by_id) {
            (Some(a), Some(b)) if a.row == b.row => Ok(Some(a)),
            (None, None) => Ok(None),
            _ => Err("paymentRequestId and paymentId point at different payments".into()),
        },
        (Some(_), None) => Ok(by_request),
        (None, Some(_)) => Ok(by_id),
        (None, None) => Ok(None),
    })
}

/// Whether a PROCESSING payment has something due at `now`: settling by itself (magic amounts
/// 901/905, when that comes before its expiry) or closing at expiry (unless stuck).
fn is_due(payment: &PaymentRecord, now: OffsetDateTime) -> bool {
    payment.state == PayState::Processing
        && (payment.resolve_at.is_some_and(|at| now >= at && at <= payment.expires_at)
            || (!payment.stuck && now >= payment.expires_at))
}

/// Applies what is due on a PROCESSING payment (see [`is_due`]): it settles as planned (S, or F
/// with the planned code), or it moves to CLOSED; either queues its notification.
fn settle_if_due(tx: &Connection, payment: PaymentRecord, now: OffsetDateTime) -> Result<PaymentRecord> {
    if !is_due(&payment, now) {
        return Ok(payment);
    }
    if payment.resolve_at.is_some_and(|at| now >= at && at <= payment.expires_at) {
        let plan = payment.plan.clone().unwrap_or_default();
        match payment.resolve_code.as_deref().and_then(ResultCode::from_wire) {
            None | Some(ResultCode::Success) => debit_or_fail(tx, &payment, now)?,
            Some(code) => {
                fail_payment(tx, &payment, code, &format!("{} ({plan})", code.default_message()), now)?
            }
        }
        return load_payment_by_row(tx, payment.row);
    }
    tx.execute_cached(
        "UPDATE payment SET state = 'CLOSED', closed_at = ?1 WHERE id = ?2 AND state = 'PROCESSING'",
        params![to_millis(now), payment.row],
    )?;
    let closed = load_payment_by_row(tx, payment.row)?;
    enqueue_notification(tx, &closed, now)?;
    Ok(closed)
}

/// Closes a payment as failed with its result code; callers decide whether it is notified.
fn mark_failed(
    tx: &Connection,
    payment: &PaymentRecord,
    code: ResultCode,
    message: &str,
    now: OffsetDateTime,
) -> Result<()> {
    tx.execute_cached(
        "UPDATE payment SET state = 'FAILED', fail_code = ?1, fail_message = ?2, closed_at = ?3 WHERE id = ?4",
        params![code.as_str(), message, to_millis(now), payment.row],
    )?;
    Ok(())
}

fn fail_payment(
    tx: &Connection,
    payment: &PaymentRecord,
    code: ResultCode,
    message: &str,
    now: OffsetDateTime,
) -> Result<()> {
    mark_failed(tx, payment, code, message, now)?;
    let failed = load_payment_by_row(tx, payment.row)?;
    enqueue_notification(tx, &failed, now)
}

/// Takes the amount from the buyer's balance, or fails the payment for lack of funds.
fn debit_or_fail(tx: &Connection, payment: &PaymentRecord, now: OffsetDateTime) -> Result<()> {
    let account = payment.account_id.clone().unwrap_or_default();
    // The conditional UPDATE is the balance check: it cannot take a balance below zero, and the
    // IMMEDIATE transaction means no other writer runs between check and debit.
    let debited = tx.execute_cached(
        "UPDATE balance SET value = value - ?1 WHERE account_id = ?2 AND currency = ?3 AND value >= ?1",
        params![payment.amount.value, account, payment.amount.currency.code()],
    )?;
    if debited == 0 {
        return fail_payment(
            tx,
            payment,
            ResultCode::UserBalanceNotEnough,
            ResultCode::UserBalanceNotEnough.default_message(),
            now,
        );
    }
    let at = to_millis(now);
    tx.execute_cached(
        "INSERT INTO ledger (account_id, currency, delta, kind, reference, at) VALUES (?1, ?2, ?3, 'payment', ?4, ?5)",
        params![account, payment.amount.currency.code(), -payment.amount.value, payment.payment_id, at],
    )?;
    tx.execute_cached(
        "UPDATE payment SET state = 'SUCCESS', paid_at = ?1 WHERE id = ?2",
        params![at, payment.row],
    )?;
    let paid = load_payment_by_row(tx, payment.row)?;
    enqueue_notification(tx, &paid, now)
}

/// Queues the one notifyPayment of a payment's first final state (§10).
fn enqueue_notification(tx: &Connection, payment: &PaymentRecord, now: OffsetDateTime) -> Result<()> {
    let already: i64 = tx.query_row_cached(
        "SELECT COUNT(*) FROM outbox WHERE payment_row = ?1",
        params![payment.row],
        |r| r.get(0),
    )?;
    if already > 0 {
        return Ok(());
    }
    if payment.withhold_notify {
        // Magic amount 910: inquiry is the only channel. The row marks the one notification as
        // taken, so no later state change sends one either.
        let at = to_millis(now);
        tx.execute_cached(
            "INSERT INTO outbox (payment_row, url, body, attempts, next_at, status, created_at, updated_at) VALUES (?1, NULL, '', 0, ?2, 'withheld', ?2, ?2)",
            params![payment.row, at],
        )?;
        return Ok(());
    }
    let (acquirer_id, app_url): (String, Option<String>) = tx.query_row_cached(
        "SELECT acquirer_id, notify_url FROM app WHERE id = ?1",
        params![payment.app_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let url = payment.notify_url.clone().or(app_url);
    let body = payment.notify_body(&acquirer_id).to_string();
    let at = to_millis(now);
    let status = if url.is_some() { "pending" } else { "no-url" };
    let due = to_millis(arrange::notify_due(tx, payment, now)?);
    tx.execute_cached(
        "INSERT INTO outbox (payment_row, url, body, attempts, next_at, status, created_at, updated_at) VALUES (?1, ?2, ?3, 0, ?6, ?5, ?4, ?4)",
        params![payment.row, url, body, at, status, due],
    )?;
    if url.is_none() {
        insert_traffic(
            tx,
            &TrafficRecord {
                at: Some(now),
                direction: "outbound",
                api: "notifyPayment".into(),
                payment_request_id: Some(payment.payment_request_id.clone()),
                payment_id: Some(payment.payment_id.clone()),
                method: "POST".into(),
                uri: String::new(),
                request_body: body.into_bytes(),
                signature: "not-sent".into(),
                note: Some("no paymentNotifyUrl in the pay request and no notification URL configured: notifyPayment not sent".into()),
                ..TrafficRecord::default()
            },
        )?;
    }
    Ok(())
}

impl Store {
    /// Runs `pay` (UPM) for an application: idempotency, code checks, the buyer's scenario.
    ///
    /// Group commit: the pay joins a queue; whichever caller next holds the writer runs every
    /// queued pay in order in one transaction (each in its own savepoint, so one failing pay does
    /// not undo the others) together with queued traffic records, and commits once. Each caller
    /// returns only once its own pay is committed. Under load this turns many small commits, each
    /// rewriting the same hot pages (balances, indexes, the outbox), into one.
    pub fn pay(&self, app: &AppRecord, input: &PayInput, now: OffsetDateTime) -> Result<PayOutcome> {
        let slot: Arc<Slot<Result<PayOutcome>>> = Arc::default();
        let job = PayJob { app: app.clone(), input: input.clone(), now, slot: Arc::clone(&slot) };
        self.pay_queue.lock().unwrap_or_else(|e| e.into_inner()).push(job);
        let mut conn = self.lock();
        if let Some(done) = slot.take() {
            return done;
        }
        let jobs = std::mem::take(&mut *self.pay_queue.lock().unwrap_or_else(|e| e.into_inner()));
        let batch = self.take_traffic_queue();
        let run = |conn: &mut Connection| -> Result<Vec<Result<PayOutcome>>> {
            let mut tx = Transaction::new(conn, TransactionBehavior::Immediate)?;
            let mut outcomes = Vec::with_capacity(jobs.len());
            for job in &jobs {
                let savepoint = tx.savepoint()?;
                match pay_in(&savepoint, &job.app, &job.input, job.now, &mut self.id_source()) {
                    Ok(outcome) => {
                        savepoint.commit()?;
                        outcomes.push(Ok(outcome));
                    }
                    // Dropping the savepoint rolls back this pay only.
                    Err(error) => outcomes.push(Err(error)),
                }
            }
            let ids = insert_batch(&tx, &batch);
            let committed = ids.and_then(|ids| {
                tx.commit()?;
                Ok(ids)
            });
            match committed {
                Ok(ids) => {
                    settle_batch(&batch, Ok(ids), None);
                    Ok(outcomes)
                }
                Err(error) => {
                    settle_batch(&batch, Err(StoreError::Invalid(error.to_string())), None);
                    Err(error)
                }
            }
        };
        let results = run(&mut conn);
        // Slots are filled before the writer is released: a caller that gets the writer and
        // finds its slot empty knows its pay is still queued.
        let mut own = None;
        match results {
            Ok(outcomes) => {
                for (job, outcome) in jobs.iter().zip(outcomes) {
                    if Arc::ptr_eq(&job.slot, &slot) {
                        own = Some(outcome);
                    } else {
                        job.slot.fill(outcome);
                    }
                }
            }
            Err(error) => {
                let message = error.to_string();
                for job in &jobs {
                    if !Arc::ptr_eq(&job.slot, &slot) {
                        job.slot.fill(Err(StoreError::Invalid(format!("pay not committed: {message}"))));
                    }
                }
                own = Some(Err(error));
            }
        }
        drop(conn);
        own.unwrap_or_else(|| Err(StoreError::Invalid("the pay was not processed".into())))
    }
}

/// A pay waiting for a group commit (see [`Store::pay`]).
#[derive(Debug)]
struct PayJob {
    app: AppRecord,
    input: PayInput,
    now: OffsetDateTime,
    slot: Arc<Slot<Result<PayOutcome>>>,
}

/// `pay` inside a transaction: idempotency, code checks, the plan, the money.
fn pay_in(
    tx: &Connection,
    app: &AppRecord,
    input: &PayInput,
    now: OffsetDateTime,
    rng: &mut ids::IdRng,
) -> Result<PayOutcome> {
    {
        // Idempotency: the same paymentRequestId answers with the payment's current state.
        if let Some(existing) =
            find_payment(tx, app.id, Some(&input.payment_request_id), None)?.ok().flatten()
        {
            if existing.key_fields != input.key_fields {
                return Ok(PayOutcome::Refused(
                        ResultCode::RepeatReqInconsistent,
                        "paymentRequestId was used before with a different paymentAmount, paymentFactor, settlementStrategy or paymentMethodType".into(),
                    ));
            }
            let payment = settle_if_due(tx, existing, now)?;
            return Ok(PayOutcome::Payment {
                payment,
                forced: None,
                delivery: PayDelivery::Now,
                repeat: true,
            });
        }

        let payment_id = ids::payment_id(now, &mut *rng);
        let expires =
            input.expiry.unwrap_or_else(|| crate::clock::add_saturating(now, DEFAULT_PAYMENT_EXPIRY));
        // Code checks, in the order of §4.4.
        let route = WalletTable::builtin().parse_code(&input.code);
        let mut persona = persona_of(None)?;
        let mut outcome: std::result::Result<String, (ResultCode, String)> = match &route {
            Ok(_) => Ok(String::new()),
            Err(error) => Err((
                ResultCode::InvalidPaymentCode,
                format!("the payment code is not an Alipay+ payment code ({error})"),
            )),
        };
        if let Ok(route) = route {
            // A code whose routing number no persona owns still routes to the default persona.
            if let Some(wallet) = route.wallet.clone() {
                persona = wallet;
            }
            let issued: Option<(String, i64, Option<String>)> = tx
                .query_row_cached(
                    "SELECT account_id, expires_at, used_by FROM code WHERE code = ?1",
                    params![route.digits],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            outcome = match issued {
                Some((_, expires_at, _)) if to_millis(now) > expires_at => Err((
                    ResultCode::ExpiredCode,
                    "the payment code has expired; ask the buyer to refresh it".into(),
                )),
                Some((_, _, Some(_))) => Err((
                    ResultCode::InvalidCode,
                    "the payment code was already used; payment codes are single-use".into(),
                )),
                Some((account, _, None)) => {
                    tx.execute_cached(
                        "UPDATE code SET used_by = ?1 WHERE code = ?2",
                        params![input.payment_request_id, route.digits],
                    )?;
                    let wallet: String = tx.query_row_cached(
                        "SELECT wallet FROM account WHERE id = ?1",
                        params![account],
                        |r| r.get(0),
                    )?;
                    persona = persona_of(Some(&wallet))?;
                    Ok(account)
                }
                None => {
                    // A well-formed code Plusbox did not issue (e.g. a documented sample):
                    // the persona's default test buyer pays, so hand-typed codes work.
                    let account: Option<String> = tx
                        .query_row_cached(
                            "SELECT id FROM account WHERE wallet = ?1 ORDER BY id LIMIT 1",
                            params![persona.wallet_enum],
                            |r| r.get(0),
                        )
                        .optional()?;
                    let account = match account {
                        Some(a) => Some(a),
                        None => tx
                            .query_row_cached("SELECT id FROM account ORDER BY id LIMIT 1", [], |r| r.get(0))
                            .optional()?,
                    };
                    account.ok_or((ResultCode::UserNotExist, "no buyer account exists".into()))
                }
            };
        }

        let (account, customer_id, scenario) = match &outcome {
            Ok(account) => {
                let (customer, scenario): (String, String) = tx.query_row_cached(
                    "SELECT customer_id, scenario FROM account WHERE id = ?1",
                    params![account],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                (
                    Some(account.clone()),
                    Some(customer),
                    scenario.parse::<Scenario>().unwrap_or(Scenario::Success),
                )
            }
            Err(_) => (None, None, Scenario::Success),
        };
        // A refused code gets no plan: the wallet never sees the payment.
        let plan = match &outcome {
            Ok(_) => Plan::choose(scenario, input.amount.value, app.magic_amounts),
            Err(_) => Plan::default_plan(),
        };
        let (resolve_at, resolve_code) = match plan.resolve {
            Some((after, code)) => {
                let at = crate::clock::add_saturating(now, after);
                (Some(to_millis(at)), Some(code.unwrap_or(ResultCode::Success).as_str()))
            }
            None => (None, None),
        };
        tx.execute_cached(
                "INSERT INTO payment (app_id, payment_request_id, payment_id, key_fields, account_id, code, currency, amount, state, created_at, expires_at, notify_url, psp_id, wallet_brand_name, customer_id, request_body,
                    plan, resolve_at, resolve_code, stuck, awaits_buyer, withhold_notify, inquiry_faults, refund_faults, cancel_faults)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'PROCESSING', ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
                params![
                    app.id,
                    input.payment_request_id,
                    payment_id,
                    input.key_fields,
                    account,
                    input.code,
                    input.amount.currency.code(),
                    input.amount.value,
                    to_millis(now),
                    to_millis(expires),
                    input.notify_url,
                    persona.psp_id,
                    persona.wallet_brand_name,
                    customer_id,
                    input.request_body,
                    plan.source,
                    resolve_at,
                    resolve_code,
                    plan.stuck,
                    plan.awaits_buyer,
                    plan.withhold_notify,
                    plan.inquiry_faults,
                    plan.refund_faults,
                    plan.cancel_faults,
                ],
            )?;
        let row = tx.last_insert_rowid();
        let payment = load_payment_by_row(tx, row)?;
        match (&outcome, &plan.start) {
            (Err((code, message)), _) => arrange::refuse_code(tx, &payment, *code, message, now)?,
            (Ok(_), Start::Pay) => debit_or_fail(tx, &payment, now)?,
            (Ok(_), Start::Hold) => {}
            (Ok(_), Start::Refuse(code, message)) => fail_payment(tx, &payment, *code, message, now)?,
        }
        let (forced, delivery) = match plan.answer {
            Answer::Now => (None, PayDelivery::Now),
            Answer::After(delay) => (None, PayDelivery::After(delay)),
            Answer::Never => (None, PayDelivery::Never),
            Answer::Forced(code) => (Some(code), PayDelivery::Now),
        };
        Ok(PayOutcome::Payment { payment: load_payment_by_row(tx, row)?, forced, delivery, repeat: false })
    }
}

impl Store {
    /// `inquiryPayment`: the payment (after applying expiry), `Ok(None)` if unknown,
    /// `Err(message)` if the two IDs disagree.
    pub fn inquire(
        &self,
        app_id: i64,
        payment_request_id: Option<&str>,
        payment_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Inquiry> {
        // Most inquiries change nothing: answer from one read, and take the write lock only
        // when the payment has something due or a planned inquiry fault to use up.
        let run = |tx: &Connection, writable: bool| -> Result<Option<Inquiry>> {
            let found = match find_payment(tx, app_id, payment_request_id, payment_id)? {
                Ok(found) => found,
                Err(message) => return Ok(Some(Inquiry::Conflict(message))),
            };
            let Some(payment) = found else { return Ok(Some(Inquiry::NotFound)) };
            if !writable && (is_due(&payment, now) || payment.inquiry_faults > 0) {
                return Ok(None);
            }
            let payment = settle_if_due(tx, payment, now)?;
            if payment.inquiry_faults > 0 {
                tx.execute_cached(
                    "UPDATE payment SET inquiry_faults = inquiry_faults - 1 WHERE id = ?1",
                    params![payment.row],
                )?;
                return Ok(Some(Inquiry::Fault(payment)));
            }
            let transactions = transactions(tx, &payment)?;
            Ok(Some(Inquiry::Found(payment, transactions)))
        };
        if let Some(inquiry) = self.read(|tx| run(tx, false))? {
            return Ok(inquiry);
        }
        // With the write lock the answer is always complete; `NotFound` only if it vanished.
        Ok(self.write(|tx| run(tx, true))?.unwrap_or(Inquiry::NotFound))
    }

    /// `cancelPayment` (§8).
    pub fn cancel(
        &self,
        app_id: i64,
        payment_request_id: Option<&str>,
        payment_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<CallOutcome> {
        self.write(|tx| {
            let found = match find_payment(tx, app_id, payment_request_id, payment_id)? {
                Ok(found) => found,
                Err(message) => return Ok(outcome(ResultCode::ParamIllegal, &message, None)),
            };
            let Some(payment) = found else {
                return Ok(outcome(ResultCode::OrderNotExist, ResultCode::OrderNotExist.default_message(), None));
            };
            let payment = settle_if_due(tx, payment, now)?;
            if payment.state == PayState::Cancelled {
                return Ok(outcome(ResultCode::Success, "the payment is cancelled", Some(payment)));
            }
            if payment.cancel_faults > 0 {
                tx.execute_cached(
                    "UPDATE payment SET cancel_faults = cancel_faults - 1 WHERE id = ?1",
                    params![payment.row],
                )?;
                let message = format!(
                    "unknown exception ({}: this cancel is planned to fail); retry with the same IDs",
                    payment.plan.as_deref().unwrap_or("plan")
                );
                return Ok(outcome(ResultCode::UnknownException, &message, Some(payment)));
            }
            if now > cancel_deadline(payment.created_at) {
                return Ok(outcome(
                    ResultCode::CancelWindowExceed,
                    "cancel is possible until 00:15 (UTC+8) on the day after the payment; refund instead",
                    Some(payment),
                ));
            }
            let refunded: i64 = tx.query_row_cached(
                "SELECT COUNT(*) FROM refund WHERE payment_row = ?1 AND result_code = 'SUCCESS'",
                params![payment.row],
                |r| r.get(0),
            )?;
            if refunded > 0 {
                return Ok(outcome(
                    ResultCode::ProcessFail,
                    "the payment has a successful refund and can no longer be cancelled",
                    Some(payment),
                ));
            }
            let at = to_millis(now);
            if payment.state == PayState::Success {
                let account = payment.account_id.clone().unwrap_or_default();
                if let Err(message) = credit(tx, &account, &payment.amount)? {
                    let message = format!("the cancel cannot give the money back: {message}");
                    return Ok(outcome(ResultCode::ProcessFail, &message, Some(payment)));
                }
                tx.execute_cached(
                    "INSERT INTO ledger (account_id, currency, delta, kind, reference, at) VALUES (?1, ?2, ?3, 'cancel', ?4, ?5)",
                    params![account, payment.amount.currency.code(), payment.amount.value, payment.payment_id, at],
                )?;
            }
            tx.execute_cached(
                "UPDATE payment SET state = 'CANCELLED', closed_at = ?1 WHERE id = ?2",
                params![at, payment.row],
            )?;
            // The cancel response decides (§8): a notification not yet delivered would tell the
            // ACQP a different final state, so it is withdrawn.
            tx.execute_cached(
                "UPDATE outbox SET status = 'superseded', updated_at = ?1 WHERE payment_row = ?2 AND status = 'pending'",
                params![at, payment.row],
            )?;
            let cancelled = load_payment_by_row(tx, payment.row)?;
            Ok(outcome(ResultCode::Success, "the payment is cancelled", Some(cancelled)))
        })
    }

    /// `refund` (§9).
    #[allow(clippy::too_many_arguments)]
    pub fn refund(
        &self,
        app_id: i64,
        payment_request_id: Option<&str>,
        payment_id: Option<&str>,
        refund_request_id: &str,
        amount: &Amount,
        reason: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<CallOutcome> {
        self.write(|tx| {
            let mut rng = self.id_source();
            let found = match find_payment(tx, app_id, payment_request_id, payment_id)? {
                Ok(found) => found,
                Err(message) => return Ok(outcome(ResultCode::ParamIllegal, &message, None)),
            };
            let existing: Option<(i64, String, i64, String, String, i64)> = tx
                .query_row_cached(
                    "SELECT payment_row, currency, amount, result_code, refund_id, created_at FROM refund WHERE app_id = ?1 AND refund_request_id = ?2",
                    params![app_id, refund_request_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
                )
                .optional()?;
            if let Some((row, currency, value, code, refund_id, created)) = existing {
                let same_payment = found.as_ref().map(|p| p.row) == Some(row);
                if !same_payment || currency != amount.currency.code() || value != amount.value {
                    return Ok(outcome(
                        ResultCode::RepeatReqInconsistent,
                        "refundRequestId was used before with a different payment or refundAmount",
                        found,
                    ));
                }
                let code = ResultCode::from_wire(&code).unwrap_or(ResultCode::ProcessFail);
                let mut out = outcome(code, code.default_message(), found);
                if code == ResultCode::Success {
                    out.refund = Some(RefundView {
                        refund_request_id: refund_request_id.into(),
                        refund_id,
                        amount: *amount,
                        refund_time: format_instant(from_millis(created)),
                        result_code: code.as_str().into(),
                    });
                }
                return Ok(out);
            }
            let Some(payment) = found else {
                return Ok(outcome(ResultCode::OrderNotExist, ResultCode::OrderNotExist.default_message(), None));
            };
            if payment.refund_faults > 0 {
                // Nothing is recorded, so the retry with the same refundRequestId is processed.
                tx.execute_cached(
                    "UPDATE payment SET refund_faults = refund_faults - 1 WHERE id = ?1",
                    params![payment.row],
                )?;
                let message = format!(
                    "unknown exception ({}: this refund is planned to fail); retry with the same refundRequestId",
                    payment.plan.as_deref().unwrap_or("plan")
                );
                return Ok(outcome(ResultCode::UnknownException, &message, Some(payment)));
            }
            if amount.currency != payment.amount.currency {
                return Ok(outcome(
                    ResultCode::ParamIllegal,
                    &format!(
                        "refundAmount.currency: {} differs from the payment currency {}",
                        amount.currency, payment.amount.currency
                    ),
                    Some(payment),
                ));
            }
            let payment = settle_if_due(tx, payment, now)?;
            let refunded: i64 = tx.query_row_cached(
                "SELECT COALESCE(SUM(amount), 0) FROM refund WHERE payment_row = ?1 AND result_code = 'SUCCESS'",
                params![payment.row],
                |r| r.get(0),
            )?;
            let (code, message) = if payment.state != PayState::Success {
                (ResultCode::ProcessFail, format!("the payment is {}, not SUCCESS; only successful payments can be refunded", payment.state.as_str()))
            } else if payment.paid_at.is_some_and(|paid| now > refund_deadline(paid)) {
                (ResultCode::RefundWindowExceed, "refunds are possible for one calendar year after the payment".into())
            } else if refunded.saturating_add(amount.value) > payment.amount.value {
                (
                    ResultCode::RefundAmountExceed,
                    format!(
                        "refunds would total {}, more than the payment amount {}",
                        Amount::from_minor(amount.currency, refunded.saturating_add(amount.value)),
                        payment.amount
                    ),
                )
            } else {
                (ResultCode::Success, "success".into())
            };
            // The credit is checked before anything is written: a refund the buyer's balance
            // cannot hold is refused, never half-applied.
            let account = payment.account_id.clone().unwrap_or_default();
            let (code, message) = match code {
                ResultCode::Success => match fits(tx, &account, amount)? {
                    Ok(()) => (code, message),
                    Err(reason) => (ResultCode::ProcessFail, format!("the refund cannot be credited: {reason}")),
                },
                other => (other, message),
            };
            let refund_id = ids::payment_id(now, &mut *rng);
            let at = to_millis(now);
            tx.execute_cached(
                "INSERT INTO refund (app_id, refund_request_id, refund_id, payment_row, currency, amount, result_code, reason, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![app_id, refund_request_id, refund_id, payment.row, amount.currency.code(), amount.value, code.as_str(), reason, at],
            )?;
            let mut out = outcome(code, &message, Some(payment.clone()));
            if code == ResultCode::Success {
                if let Err(reason) = credit(tx, &account, amount)? {
                    return Err(StoreError::OutOfRange(reason));
                }
                tx.execute_cached(
                    "INSERT INTO ledger (account_id, currency, delta, kind, reference, at) VALUES (?1, ?2, ?3, 'refund', ?4, ?5)",
                    params![account, amount.currency.code(), amount.value, refund_id, at],
                )?;
                out.refund = Some(RefundView {
                    refund_request_id: refund_request_id.into(),
                    refund_id,
                    amount: *amount,
                    refund_time: format_instant(now),
                    result_code: code.as_str().into(),
                });
            }
            Ok(out)
        })
    }

    /// Settles every PROCESSING payment that has something due (see [`is_due`]); returns how
    /// many were looked at.
    pub fn expire_due(&self, now: OffsetDateTime) -> Result<usize> {
        // The worker scans after every change; most scans find nothing, so look first without
        // taking the write lock.
        let any = self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT 1 FROM payment WHERE state = 'PROCESSING' AND ((stuck = 0 AND expires_at <= ?1) OR resolve_at <= ?1) LIMIT 1",
                    params![to_millis(now)],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                .is_some())
        })?;
        if !any {
            return Ok(0);
        }
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {PAYMENT_COLUMNS} FROM payment WHERE state = 'PROCESSING' AND ((stuck = 0 AND expires_at <= ?1) OR resolve_at <= ?1)"
            ))?;
            let due = stmt
                .query_map(params![to_millis(now)], payment_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            drop(stmt);
            let count = due.len();
            for payment in due {
                settle_if_due(tx, payment, now)?;
            }
            Ok(count)
        })
    }

    /// A payment by paymentId (any application).
    pub fn payment_by_id(&self, payment_id: &str) -> Result<Option<PaymentRecord>> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    &format!("SELECT {PAYMENT_COLUMNS} FROM payment WHERE payment_id = ?1"),
                    params![payment_id],
                    payment_from_row,
                )
                .optional()?)
        })
    }
}

fn outcome(code: ResultCode, message: &str, payment: Option<PaymentRecord>) -> CallOutcome {
    CallOutcome { code, message: message.to_string(), payment, refund: None }
}

fn transactions(tx: &Connection, payment: &PaymentRecord) -> Result<Vec<Value>> {
    let mut stmt = tx.prepare_cached(
        "SELECT refund_request_id, refund_id, currency, amount, result_code, created_at FROM refund WHERE payment_row = ?1 ORDER BY id",
    )?;
    let mut out = stmt
        .query_map(params![payment.row], |r| {
            let code: String = r.get(4)?;
            let rc = ResultCode::from_wire(&code).unwrap_or(ResultCode::ProcessFail);
            Ok(json!({
                "transactionResult": WireResult::from_code(rc),
                "transactionId": r.get::<_, String>(1)?,
                "transactionType": "REFUND",
                "transactionStatus": if rc == ResultCode::Success { "SUCCESS" } else { "FAIL" },
                "transactionAmount": {"currency": r.get::<_, String>(2)?, "value": r.get::<_, i64>(3)?.to_string()},
                "transactionRequestId": r.get::<_, String>(0)?,
                "transactionTime": format_instant(from_millis(r.get(5)?)),
            }))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if payment.state == PayState::Cancelled {
        let closed: Option<i64> =
            tx.query_row_cached("SELECT closed_at FROM payment WHERE id = ?1", params![payment.row], |r| {
                r.get(0)
            })?;
        out.push(json!({
            "transactionResult": WireResult::success(),
            "transactionType": "CANCEL",
            "transactionStatus": "SUCCESS",
            "transactionAmount": payment.amount.to_wire(),
            "transactionRequestId": payment.payment_request_id,
            "transactionTime": closed.map(|c| format_instant(from_millis(c))),
        }));
    }
    Ok(out)
}

/// End of the cancel window: 00:15:00 UTC+8 on the day after the payment's UTC+8 date (§8).
pub fn cancel_deadline(created: OffsetDateTime) -> OffsetDateTime {
    let local = created.to_offset(PLUSBOX_OFFSET);
    let next = local.date().next_day().unwrap_or(local.date());
    next.with_hms(0, 15, 0).map(|t| t.assume_offset(PLUSBOX_OFFSET)).unwrap_or(local)
}

/// End of the refund window: 23:59:59 UTC+8 on the same calendar date one year later (§9).
pub fn refund_deadline(paid: OffsetDateTime) -> OffsetDateTime {
    let local = paid.to_offset(PLUSBOX_OFFSET).date();
    let year = local.year() + 1;
    let date = local
        .replace_year(year)
        .or_else(|_| time::Date::from_calendar_date(year, local.month(), 28))
        .unwrap_or(local);
    date.with_hms(23, 59, 59).map(|t| t.assume_offset(PLUSBOX_OFFSET)).unwrap_or(paid)
}

// ---------------------------------------------------------------------------------------------
// Outbox
// ---------------------------------------------------------------------------------------------

impl Store {
    /// Notifications due at `now`, oldest first.
    pub fn due_notifications(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<OutboxItem>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT o.id, o.url, o.body, o.attempts, p.app_id, p.payment_request_id, p.payment_id
                 FROM outbox o JOIN payment p ON p.id = o.payment_row
                 WHERE o.status = 'pending' AND o.next_at <= ?1 ORDER BY o.next_at, o.id LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![to_millis(now), limit], |r| {
                    Ok(OutboxItem {
                        id: r.get(0)?,
                        url: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        body: r.get(2)?,
                        attempts: r.get(3)?,
                        app_id: r.get(4)?,
                        payment_request_id: r.get(5)?,
                        payment_id: r.get(6)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Whether an outbox row is still pending at the attempt count it was read with: guards
    /// against sending twice when a scan raced with a finishing delivery.
    pub fn still_due(&self, id: i64, attempts: i64) -> Result<bool> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT 1 FROM outbox WHERE id = ?1 AND attempts = ?2 AND status = 'pending'",
                    params![id, attempts],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                .is_some())
        })
    }

    /// Records one delivery attempt: delivered, or scheduled for retry (or given up after 15).
    /// Returns the new status.
    pub fn record_attempt(
        &self,
        id: i64,
        delivered: bool,
        error: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<String> {
        self.write(|tx| {
            let (attempts, status): (i64, String) = tx.query_row_cached(
                "SELECT attempts, status FROM outbox WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if status != "pending" {
                // Cancelled while the attempt was in flight: keep the newer status.
                return Ok(status);
            }
            let attempts = attempts + 1;
            let at = to_millis(now);
            let (status, next) = if delivered {
                ("delivered", at)
            } else {
                match usize::try_from(attempts - 1).ok().and_then(|i| NOTIFY_RETRY_SCHEDULE.get(i)) {
                    Some(delay) => ("pending", to_millis(crate::clock::add_saturating(now, *delay))),
                    None => ("undelivered", at),
                }
            };
            tx.execute_cached(
                "UPDATE outbox SET attempts = ?1, status = ?2, next_at = ?3, last_error = ?4, updated_at = ?5 WHERE id = ?6",
                params![attempts, status, next, error, at, id],
            )?;
            Ok(status.to_string())
        })
    }

    /// The next instant something is due: a notification retry or a payment expiry.
    pub fn next_wakeup(&self) -> Result<Option<OffsetDateTime>> {
        self.read(|tx| {
            let next: Option<i64> = tx.query_row_cached(
                "SELECT MIN(t) FROM (
                    SELECT MIN(next_at) AS t FROM outbox WHERE status = 'pending'
                    UNION ALL SELECT MIN(expires_at) FROM payment WHERE state = 'PROCESSING' AND stuck = 0
                    UNION ALL SELECT MIN(resolve_at) FROM payment WHERE state = 'PROCESSING')",
                [],
                |r| r.get(0),
            )?;
            Ok(next.map(from_millis))
        })
    }

    /// Outbox rows for a payment: `(status, attempts)`, for tests and the CLI.
    pub fn notification_status(&self, payment_id: &str) -> Result<Option<(String, i64)>> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT o.status, o.attempts FROM outbox o JOIN payment p ON p.id = o.payment_row WHERE p.payment_id = ?1",
                    params![payment_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?)
        })
    }

    /// Counts outbox rows by status.
    pub fn outbox_counts(&self) -> Result<std::collections::BTreeMap<String, i64>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached("SELECT status, COUNT(*) FROM outbox GROUP BY status")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Mocks
// ---------------------------------------------------------------------------------------------

/// APIs a mock rule can target.
pub const MOCKABLE_APIS: &[&str] = &["pay", "inquiryPayment", "cancelPayment", "refund"];

/// How a tamper rule spoils a signed answer, so a test can prove the ACQP verifies responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tamper {
    /// The body is signed as it truly is, then a character of the signature is changed.
    Signature,
    /// The body is signed as it truly is, then altered (the payment's result flipped).
    Body,
}

impl Tamper {
    /// `signature` or `body`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tamper::Signature => "signature",
            Tamper::Body => "body",
        }
    }
}

impl std::str::FromStr for Tamper {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        match text {
            "signature" => Ok(Tamper::Signature),
            "body" => Ok(Tamper::Body),
            other => Err(format!("unknown tamper mode {other:?}; one of signature, body")),
        }
    }
}

/// What a mock rule does to the call it catches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MockAction {
    /// Answer with this result; the business logic does not run.
    Force(ResultCode),
    /// Run the call, then spoil its signed answer.
    Tamper(Tamper),
}

impl Store {
    /// Adds a mock rule forcing `code`. Without `count` and `minutes` it applies to one call.
    pub fn add_mock(
        &self,
        api: &str,
        code: ResultCode,
        count: Option<u32>,
        minutes: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<MockRule> {
        self.insert_mock(api, MockAction::Force(code), count, minutes, now)
    }

    /// Adds a tamper rule: the next answers of `api` go out with a signature that does not match
    /// the body. Without `count` and `minutes` it applies to one call.
    pub fn add_tamper_mock(
        &self,
        api: &str,
        tamper: Tamper,
        count: Option<u32>,
        minutes: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<MockRule> {
        self.insert_mock(api, MockAction::Tamper(tamper), count, minutes, now)
    }

    fn insert_mock(
        &self,
        api: &str,
        action: MockAction,
        count: Option<u32>,
        minutes: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<MockRule> {
        if !MOCKABLE_APIS.contains(&api) {
            return Err(StoreError::Invalid(format!(
                "unknown API {api:?}; one of {}",
                MOCKABLE_APIS.join(", ")
            )));
        }
        let remaining = match (count, minutes) {
            (None, None) => Some(1),
            (count, _) => count.map(i64::from),
        };
        let until =
            minutes.map(|m| to_millis(crate::clock::add_saturating(now, Duration::minutes(i64::from(m)))));
        let id = self.write(|tx| {
            // result_code is NOT NULL in the first schema; a tamper rule stores '' there.
            let (code, tamper) = match action {
                MockAction::Force(code) => (code.as_str(), None),
                MockAction::Tamper(tamper) => ("", Some(tamper.as_str())),
            };
            tx.execute_cached(
                "INSERT INTO mock (api, result_code, tamper, remaining, until, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![api, code, tamper, remaining, until, to_millis(now)],
            )?;
            Ok(tx.last_insert_rowid())
        })?;
        self.mocks(now)?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| StoreError::NotFound("mock rule vanished".into()))
    }

    /// All mock rules, active or spent.
    pub fn mocks(&self, now: OffsetDateTime) -> Result<Vec<MockRule>> {
        let now_ms = to_millis(now);
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT id, api, result_code, remaining, until, hits, tamper FROM mock ORDER BY id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    let remaining: Option<i64> = r.get(3)?;
                    let until: Option<i64> = r.get(4)?;
                    Ok(MockRule {
                        id: r.get(0)?,
                        api: r.get(1)?,
                        result_code: Some(r.get::<_, String>(2)?).filter(|c| !c.is_empty()),
                        tamper: r.get(6)?,
                        remaining,
                        until: until.map(|u| format_instant(from_millis(u))),
                        hits: r.get(5)?,
                        active: remaining.is_none_or(|n| n > 0) && until.is_none_or(|u| now_ms < u),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Deletes one mock rule (a test run takes back what it arranged); false if it was gone.
    pub fn remove_mock(&self, id: i64) -> Result<bool> {
        self.write(|tx| Ok(tx.execute_cached("DELETE FROM mock WHERE id = ?1", params![id])? > 0))
    }

    /// Deletes every mock rule.
    pub fn clear_mocks(&self) -> Result<usize> {
        self.write(|tx| Ok(tx.execute_cached("DELETE FROM mock", [])?))
    }
}

// ---------------------------------------------------------------------------------------------
// Traffic log
// ---------------------------------------------------------------------------------------------

fn headers_json(headers: &[(String, String)]) -> String {
    let map: serde_json::Map<String, Value> =
        headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    Value::Object(map).to_string()
}

fn insert_traffic(tx: &Connection, record: &TrafficRecord) -> Result<i64> {
    tx.execute_cached(
        "INSERT INTO traffic (at, direction, api, client_id, payment_request_id, payment_id, method, uri, request_headers, request_body,
            response_status, response_headers, response_body, result_code, result_status, signature, findings, mock_id, duration_ms, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
        params![
            to_millis(record.at.unwrap_or_else(OffsetDateTime::now_utc)),
            record.direction,
            record.api,
            record.client_id,
            record.payment_request_id,
            record.payment_id,
            record.method,
            record.uri,
            headers_json(&record.request_headers),
            record.request_body,
            record.response_status,
            headers_json(&record.response_headers),
            record.response_body,
            record.result_code,
            record.result_status,
            record.signature,
            Value::Array(record.findings.clone()).to_string(),
            record.mock_id,
            record.duration_ms,
            record.note,
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

impl Store {
    /// Appends an exchange to the traffic log (committed before this returns).
    ///
    /// Group commit: the record joins a queue; whichever caller next holds the writer commits
    /// every queued record in one transaction. Under load many answers share one commit, and
    /// each caller still returns only once its own record is committed.
    pub fn record_traffic(&self, record: &TrafficRecord) -> Result<i64> {
        let slot: Arc<TrafficSlot> = Arc::default();
        self.traffic_queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((record.clone(), Arc::clone(&slot)));
        let mut conn = self.lock();
        if let Some(done) = slot.take() {
            // A caller that held the writer before us committed our record.
            return done;
        }
        let batch = self.take_traffic_queue();
        let written = (|| {
            let tx = Transaction::new(&mut conn, TransactionBehavior::Immediate)?;
            let ids = insert_batch(&tx, &batch)?;
            tx.commit()?;
            Ok(ids)
        })();
        // Slots are filled before the writer is released: a caller that gets the writer and
        // finds its slot empty knows its record is still queued.
        let own = settle_batch(&batch, written, Some(&slot));
        drop(conn);
        own.unwrap_or_else(|| Err(StoreError::Invalid("the traffic record was not written".into())))
    }

    /// The id of the newest traffic entry (0 when empty).
    pub fn traffic_max_id(&self) -> Result<i64> {
        self.read(|tx| Ok(tx.query_row_cached("SELECT COALESCE(MAX(id), 0) FROM traffic", [], |r| r.get(0))?))
    }

    /// Traffic entries with id greater than `after`, oldest first.
    pub fn traffic(&self, after: i64, limit: u32) -> Result<Vec<TrafficView>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT id, at, direction, api, client_id, payment_request_id, payment_id, method, uri, request_headers, request_body,
                        response_status, response_headers, response_body, result_code, result_status, signature, findings, mock_id, duration_ms, note
                 FROM traffic WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![after, limit], |r| {
                    let parse = |text: String| serde_json::from_str::<Value>(&text).unwrap_or(Value::Null);
                    Ok(TrafficView {
                        id: r.get(0)?,
                        at: format_instant_millis(from_millis(r.get(1)?)),
                        direction: r.get(2)?,
                        api: r.get(3)?,
                        client_id: r.get(4)?,
                        payment_request_id: r.get(5)?,
                        payment_id: r.get(6)?,
                        method: r.get(7)?,
                        uri: r.get(8)?,
                        request_headers: parse(r.get(9)?),
                        request_body: String::from_utf8_lossy(&r.get::<_, Vec<u8>>(10)?).into_owned(),
                        response_status: r.get(11)?,
                        response_headers: parse(r.get(12)?),
                        response_body: String::from_utf8_lossy(&r.get::<_, Vec<u8>>(13)?).into_owned(),
                        result_code: r.get(14)?,
                        result_status: r.get(15)?,
                        signature: r.get(16)?,
                        findings: parse(r.get(17)?),
                        mock_id: r.get(18)?,
                        duration_ms: Some(r.get(19)?),
                        note: r.get(20)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Devices (companion API tokens)
// ---------------------------------------------------------------------------------------------

impl Store {
    /// Creates a device token for the companion API. The token is returned once and stored
    /// only as a SHA-256 hash.
    pub fn create_device(&self, name: &str, now: OffsetDateTime) -> Result<SecretString> {
        let mut rng = ids::SystemRng::new();
        let token = SecretString::new(ids::device_token(&mut rng));
        let hash = ids::sha256_hex(token.expose());
        self.write(|tx| {
            tx.execute_cached(
                "INSERT INTO device (name, token_hash, created_at) VALUES (?1, ?2, ?3)",
                params![name, hash, to_millis(now)],
            )?;
            Ok(())
        })?;
        Ok(token)
    }

    /// The device name for a presented token, if it is known.
    pub fn device_for_token(&self, token: &str) -> Result<Option<String>> {
        let hash = ids::sha256_hex(token);
        self.read(|tx| {
            Ok(tx
                .query_row_cached("SELECT name FROM device WHERE token_hash = ?1", params![hash], |r| {
                    r.get(0)
                })
                .optional()?)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn group_commit_returns_only_committed_distinct_ids() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(dir.path()).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = std::sync::Arc::clone(&store);
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| {
                            let record = TrafficRecord {
                                direction: "inbound",
                                api: "pay".into(),
                                note: Some(format!("{t}-{i}")),
                                ..TrafficRecord::default()
                            };
                            (store.record_traffic(&record).unwrap(), format!("{t}-{i}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let written: std::collections::BTreeMap<i64, String> =
            threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        assert_eq!(written.len(), 400, "distinct ids");
        // Each id names the row its caller wrote.
        let rows = store.traffic(0, 1000).unwrap();
        assert_eq!(rows.len(), 400);
        for row in rows {
            assert_eq!(row.note.as_ref(), written.get(&row.id));
        }
    }

    #[test]
    fn grouped_pays_each_get_their_own_committed_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(dir.path()).unwrap());
        let now = OffsetDateTime::now_utc();
        store.provision_if_empty(now, "http://127.0.0.1:1").unwrap();
        let app = store.app().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (store, app) = (std::sync::Arc::clone(&store), app.clone());
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let id = format!("p-{t}-{i}");
                        let code = store.issue_code("buyer-1", now).unwrap().code;
                        let input = PayInput {
                            payment_request_id: id.clone(),
                            key_fields: "{}".into(),
                            amount: Amount::from_minor(Currency::USD, 1),
                            code,
                            expiry: None,
                            notify_url: None,
                            request_body: "{}".into(),
                        };
                        match store.pay(&app, &input, now).unwrap() {
                            PayOutcome::Payment { payment, .. } => {
                                assert_eq!(payment.payment_request_id, id);
                                assert_eq!(payment.state, PayState::Success);
                            }
                            PayOutcome::Refused(code, message) => panic!("{id}: {code} {message}"),
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let totals = store.ledger_totals().unwrap();
        assert_eq!(totals["USD"].paid, 200);
        assert_eq!(totals["USD"].balances + totals["USD"].paid, totals["USD"].topups);
    }

    #[test]
    fn windows() {
        assert_eq!(cancel_deadline(datetime!(2025-03-10 23:59 +08:00)), datetime!(2025-03-11 00:15 +08:00));
        assert_eq!(cancel_deadline(datetime!(2025-03-10 15:59 UTC)), datetime!(2025-03-11 00:15 +08:00));
        assert_eq!(
            refund_deadline(datetime!(2025-03-10 12:00 +08:00)),
            datetime!(2026-03-10 23:59:59 +08:00)
        );
        assert_eq!(
            refund_deadline(datetime!(2024-02-29 12:00 +08:00)),
            datetime!(2025-02-28 23:59:59 +08:00)
        );
    }
}
