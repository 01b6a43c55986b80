//! The acquirer's own order table (SQLite, WAL), the way a real ACQP keeps one (§3): every
//! payment starts at `INIT` and moves once to a final state on whichever final result arrives
//! first; after a cancel was requested, only the cancel can decide.
//!
//! The "first final result wins" rule lives in the SQL itself (`... WHERE state = 'INIT'`), so it
//! holds even when the POS flow, the notify endpoint and another process share the file.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use plusbox_core::money::{Amount, Currency};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::AcquirerError;

/// Versioned migrations; `PRAGMA user_version` holds how many have run.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE payments (
    payment_request_id TEXT PRIMARY KEY,
    code               TEXT NOT NULL,
    currency           TEXT NOT NULL,
    amount_minor       INTEGER NOT NULL,
    state              TEXT NOT NULL,
    result_code        TEXT,
    result_message     TEXT,
    final_source       TEXT,
    payment_id         TEXT,
    psp_id             TEXT,
    customer_id        TEXT,
    wallet_brand_name  TEXT,
    payment_time       TEXT,
    cancel_requested   INTEGER NOT NULL DEFAULT 0,
    cancel_result      TEXT,
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    note               TEXT
);
CREATE INDEX payments_payment_id ON payments(payment_id);
CREATE TABLE refunds (
    refund_request_id  TEXT PRIMARY KEY,
    payment_request_id TEXT NOT NULL,
    currency           TEXT NOT NULL,
    amount_minor       INTEGER NOT NULL,
    state              TEXT NOT NULL,
    result_code        TEXT,
    result_message     TEXT,
    refund_id          TEXT,
    refund_time        TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX refunds_payment ON refunds(payment_request_id);
CREATE TABLE notifications (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_request_id TEXT,
    received_at        TEXT NOT NULL,
    signature_valid    INTEGER NOT NULL,
    result_status      TEXT,
    result_code        TEXT,
    applied            INTEGER NOT NULL,
    note               TEXT,
    body               TEXT NOT NULL
);
CREATE TABLE calls (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_request_id TEXT NOT NULL,
    api                TEXT NOT NULL,
    request_id         TEXT NOT NULL,
    at                 TEXT NOT NULL,
    outcome            TEXT NOT NULL
);
CREATE INDEX calls_payment ON calls(payment_request_id);
"#,
    r#"
CREATE TABLE registrations (
    registration_request_id TEXT PRIMARY KEY,
    merchant_id        TEXT NOT NULL,
    store_id           TEXT NOT NULL,
    merchant_name      TEXT NOT NULL,
    status             TEXT NOT NULL,
    result_code        TEXT,
    result_message     TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX registrations_merchant ON registrations(merchant_id, store_id, created_at);
"#,
];

/// One merchant registration as the acquirer keeps it (§13.1). `status`: `SENDING` (not yet
/// answered), `PROCESSING` (accepted, under review), `COMPLETED`, `REJECTED`, `REFUSED` (F by
/// Alipay+), `UNKNOWN` (no final answer after the retries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationRow {
    /// `registrationRequestId`.
    pub registration_request_id: String,
    /// `referenceMerchantId`.
    pub merchant_id: String,
    /// `referenceStoreId`.
    pub store_id: String,
    /// `merchantDisplayName`.
    pub merchant_name: String,
    /// Status (see the type).
    pub status: String,
    /// Last result code.
    pub result_code: Option<String>,
    /// Last result message.
    pub result_message: Option<String>,
    /// When it was first sent (RFC 3339).
    pub created_at: String,
}

fn registration_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RegistrationRow> {
    Ok(RegistrationRow {
        registration_request_id: r.get(0)?,
        merchant_id: r.get(1)?,
        store_id: r.get(2)?,
        merchant_name: r.get(3)?,
        status: r.get(4)?,
        result_code: r.get(5)?,
        result_message: r.get(6)?,
        created_at: r.get(7)?,
    })
}

/// A payment's state in the order table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderState {
    /// No final result yet.
    Init,
    /// Paid.
    Success,
    /// Failed (final F from pay, inquiry or notify; or given up under the `no-cancel` fault).
    Failed,
    /// Cancelled by a successful `cancelPayment`.
    Cancelled,
}

impl OrderState {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Init => "INIT",
            OrderState::Success => "SUCCESS",
            OrderState::Failed => "FAILED",
            OrderState::Cancelled => "CANCELLED",
        }
    }

    fn parse(s: &str) -> OrderState {
        match s {
            "SUCCESS" => OrderState::Success,
            "FAILED" => OrderState::Failed,
            "CANCELLED" => OrderState::Cancelled,
            _ => OrderState::Init,
        }
    }

    /// True once the state can no longer change by pay, inquiry or notify.
    pub fn is_final(self) -> bool {
        self != OrderState::Init
    }
}

/// Which channel decided a payment's final state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The synchronous `pay` response.
    Pay,
    /// An `inquiryPayment` response.
    Inquiry,
    /// A `notifyPayment` from the gateway.
    Notify,
    /// A successful `cancelPayment`.
    Cancel,
    /// The acquirer itself (only under the `no-cancel` fault).
    Local,
}

impl Source {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Pay => "pay",
            Source::Inquiry => "inquiry",
            Source::Notify => "notify",
            Source::Cancel => "cancel",
            Source::Local => "local",
        }
    }
}

/// Details the gateway tells about a payment (any response may carry some of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentDetails {
    /// Alipay+ `paymentId`.
    pub payment_id: Option<String>,
    /// `pspId`.
    pub psp_id: Option<String>,
    /// `customerId`.
    pub customer_id: Option<String>,
    /// `walletBrandName`.
    pub wallet_brand_name: Option<String>,
    /// `paymentTime`.
    pub payment_time: Option<String>,
}

/// One row of the order table, as the POS-driver API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRecord {
    /// Our idempotency key.
    pub payment_request_id: String,
    /// The scanned payment code.
    pub code: String,
    /// Amount in text form, `12.50 USD`.
    pub amount: String,
    /// Currency code.
    pub currency: String,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// Order state.
    pub state: OrderState,
    /// Result code of the deciding message (or the latest one seen while INIT).
    pub result_code: Option<String>,
    /// Its message.
    pub result_message: Option<String>,
    /// Which channel decided the final state.
    pub final_source: Option<String>,
    /// Alipay+ payment ID.
    pub payment_id: Option<String>,
    /// MPP ID.
    pub psp_id: Option<String>,
    /// Buyer ID at the MPP.
    pub customer_id: Option<String>,
    /// Wallet brand.
    pub wallet_brand_name: Option<String>,
    /// Payment time as the gateway wrote it.
    pub payment_time: Option<String>,
    /// A cancel was asked for (the order may then only become cancelled).
    pub cancel_requested: bool,
    /// Outcome of the last cancel attempt: `SUCCESS`, or a result code, or `PENDING`.
    pub cancel_result: Option<String>,
    /// Created (UTC, RFC 3339).
    pub created_at: String,
    /// Payment expiry (UTC, RFC 3339).
    pub expires_at: String,
    /// Last change.
    pub updated_at: String,
    /// A note from the acquirer, e.g. why it gave up.
    pub note: Option<String>,
    /// `pay` calls sent for this order.
    pub pay_calls: u32,
    /// `inquiryPayment` calls sent.
    pub inquiry_calls: u32,
    /// `cancelPayment` calls sent.
    pub cancel_calls: u32,
    /// Notifications received for this order.
    pub notifications: u32,
    /// Refunds, oldest first.
    pub refunds: Vec<RefundRecord>,
}

impl PaymentRecord {
    /// The amount as a money value, if the stored currency is known.
    pub fn money(&self) -> Option<Amount> {
        Currency::from_code(&self.currency).ok().map(|c| Amount::from_minor(c, self.amount_minor))
    }
}

/// A refund row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRecord {
    /// Our idempotency key.
    pub refund_request_id: String,
    /// The payment refunded.
    pub payment_request_id: String,
    /// Amount in text form.
    pub amount: String,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// `PENDING`, `SUCCESS`, `FAILED` or `UNKNOWN` (gave up on U / timeouts).
    pub state: String,
    /// Result code.
    pub result_code: Option<String>,
    /// Result message.
    pub result_message: Option<String>,
    /// Alipay+ `refundId`.
    pub refund_id: Option<String>,
    /// `refundTime`.
    pub refund_time: Option<String>,
    /// Created (UTC).
    pub created_at: String,
}

/// A notification as recorded by the notify endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRecord {
    /// `paymentRequestId` from the body, if it parsed.
    pub payment_request_id: Option<String>,
    /// When it arrived.
    pub received_at: String,
    /// Whether the signature verified.
    pub signature_valid: bool,
    /// `paymentResult.resultStatus`.
    pub result_status: Option<String>,
    /// `paymentResult.resultCode`.
    pub result_code: Option<String>,
    /// Whether it decided the order.
    pub applied: bool,
    /// Why it was not applied, if it was not.
    pub note: Option<String>,
}

/// A new order to insert.
#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    /// Idempotency key.
    pub payment_request_id: &'a str,
    /// Scanned code.
    pub code: &'a str,
    /// Amount.
    pub amount: Amount,
    /// Now.
    pub created_at: OffsetDateTime,
    /// Payment expiry.
    pub expires_at: OffsetDateTime,
}

/// The order table. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// RFC 3339 text of an instant (UTC).
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// Parses RFC 3339 text written by [`rfc3339`].
pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

impl Store {
    /// Opens (creating if needed) the order table at `path`, in WAL mode with a busy timeout.
    pub fn open(path: &Path) -> Result<Store, AcquirerError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| AcquirerError::Store(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Store::init(conn)
    }

    /// An order table in memory (tests, one-shot runs).
    pub fn open_in_memory() -> Result<Store, AcquirerError> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store, AcquirerError> {
        // The POS process and `acquirer serve` may share the file; wait rather than fail.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let done = usize::try_from(version).unwrap_or(0);
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
            conn.execute_batch(sql)?;
            conn.pragma_update(None, "user_version", i as i64 + 1)?;
        }
        Ok(Store { conn: Arc::new(Mutex::new(conn)) })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (each statement is atomic).
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a registration request before it is sent (status `SENDING`).
    pub fn insert_registration(&self, r: &RegistrationRow) -> Result<(), AcquirerError> {
        self.lock().execute(
            "INSERT INTO registrations (registration_request_id, merchant_id, store_id, merchant_name, status, result_code, result_message, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            params![r.registration_request_id, r.merchant_id, r.store_id, r.merchant_name, r.status, r.result_code, r.result_message, r.created_at],
        )?;
        Ok(())
    }

    /// Sets a registration's status (from an answer, an inquiry or a notification). A review's
    /// result (`COMPLETED`, `REJECTED`) is never taken back by a later, slower answer that says
    /// less: the notification may arrive before the `registration` answer it follows.
    pub fn update_registration(
        &self,
        registration_request_id: &str,
        status: &str,
        code: Option<&str>,
        message: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<bool, AcquirerError> {
        let changed = self.lock().execute(
            "UPDATE registrations SET status = ?2, result_code = COALESCE(?3, result_code), result_message = COALESCE(?4, result_message), updated_at = ?5
             WHERE registration_request_id = ?1
               AND NOT (status IN ('COMPLETED', 'REJECTED') AND ?2 IN ('SENDING', 'PROCESSING', 'UNKNOWN'))",
            params![registration_request_id, status, code, message, rfc3339(now)],
        )?;
        Ok(changed > 0)
    }

    /// The merchant's (and store's) latest registration Alipay+ accepted or may have accepted
    /// (one still in flight included: it may be accepted any moment).
    pub fn latest_registration(
        &self,
        merchant_id: &str,
        store_id: &str,
    ) -> Result<Option<RegistrationRow>, AcquirerError> {
        let conn = self.lock();
        let row = conn
            .query_row(
                "SELECT registration_request_id, merchant_id, store_id, merchant_name, status, result_code, result_message, created_at
                 FROM registrations WHERE merchant_id = ?1 AND store_id = ?2 AND status <> 'REFUSED'
                 ORDER BY created_at DESC, rowid DESC LIMIT 1",
                params![merchant_id, store_id],
                registration_row,
            )
            .optional()?;
        Ok(row)
    }

    /// One registration by its request id.
    pub fn registration(
        &self,
        registration_request_id: &str,
    ) -> Result<Option<RegistrationRow>, AcquirerError> {
        let conn = self.lock();
        let row = conn
            .query_row(
                "SELECT registration_request_id, merchant_id, store_id, merchant_name, status, result_code, result_message, created_at
                 FROM registrations WHERE registration_request_id = ?1",
                params![registration_request_id],
                registration_row,
            )
            .optional()?;
        Ok(row)
    }

    /// Inserts a new `INIT` order.
    pub fn insert_payment(&self, p: &NewPayment<'_>) -> Result<(), AcquirerError> {
        let now = rfc3339(p.created_at);
        self.lock().execute(
            "INSERT INTO payments (payment_request_id, code, currency, amount_minor, state, created_at, expires_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'INIT', ?5, ?6, ?5)",
            params![p.payment_request_id, p.code, p.amount.currency.code(), p.amount.value, now, rfc3339(p.expires_at)],
        )?;
        Ok(())
    }

    /// Reads a payment by `paymentRequestId` or Alipay+ `paymentId`.
    pub fn payment(&self, id: &str) -> Result<Option<PaymentRecord>, AcquirerError> {
        let conn = self.lock();
        let row = conn
            .query_row(
                "SELECT * FROM payments WHERE payment_request_id = ?1 OR payment_id = ?1
                 ORDER BY payment_request_id = ?1 DESC LIMIT 1",
                params![id],
                payment_row,
            )
            .optional()?;
        let Some(mut record) = row else { return Ok(None) };
        fill_counts(&conn, &mut record)?;
        Ok(Some(record))
    }

    /// The payment whose code (the scanned payment code, or the merchant-presented code the
    /// acquirer issued) is `code`, newest first.
    pub fn payment_by_code(&self, code: &str) -> Result<Option<PaymentRecord>, AcquirerError> {
        let conn = self.lock();
        let row = conn
            .query_row(
                "SELECT * FROM payments WHERE code = ?1 AND code != '' ORDER BY created_at DESC LIMIT 1",
                params![code],
                payment_row,
            )
            .optional()?;
        let Some(mut record) = row else { return Ok(None) };
        fill_counts(&conn, &mut record)?;
        Ok(Some(record))
    }

    /// Moves the given orders `by` into the past: their payment time, and the refund time of
    /// their refunds. The counterpart of the sandbox's test aging (`POST /orders/age`, behind
    /// the `acquirer-reconcile` capability of `docs/pos-driver.md`): a test case that ages its
    /// sale in the sandbox into a past clearing cycle ages the order here the same, so the
    /// order table and the clearing file agree on the day. Returns how many orders were aged.
    pub fn age_orders(
        &self,
        payment_request_ids: &[String],
        by: time::Duration,
    ) -> Result<usize, AcquirerError> {
        use plusbox_core::protocol::time::{format_instant, parse_instant};
        if by.is_negative() {
            return Err(AcquirerError::BadRequest("orders can only be aged into the past".into()));
        }
        let shift = |text: Option<String>| -> Result<Option<String>, AcquirerError> {
            let Some(text) = text else { return Ok(None) };
            let at = parse_instant(&text)
                .map_err(|e| AcquirerError::Store(format!("stored time {text:?}: {e}")))?;
            let moved = at
                .checked_sub(by)
                .ok_or_else(|| AcquirerError::BadRequest(format!("{by} is too long to age an order by")))?;
            Ok(Some(format_instant(moved)))
        };
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut aged = 0;
        for id in payment_request_ids {
            let time: Option<Option<String>> = tx
                .query_row(
                    "SELECT payment_time FROM payments WHERE payment_request_id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(time) = time else { continue };
            tx.execute(
                "UPDATE payments SET payment_time = ?2 WHERE payment_request_id = ?1",
                params![id, shift(time)?],
            )?;
            let refunds: Vec<(String, Option<String>)> = tx
                .prepare("SELECT refund_request_id, refund_time FROM refunds WHERE payment_request_id = ?1")?
                .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            for (refund, time) in refunds {
                tx.execute(
                    "UPDATE refunds SET refund_time = ?2 WHERE refund_request_id = ?1",
                    params![refund, shift(time)?],
                )?;
            }
            aged += 1;
        }
        tx.commit()?;
        Ok(aged)
    }

    /// The most recent payments, newest first.
    pub fn recent_payments(&self, limit: u32) -> Result<Vec<PaymentRecord>, AcquirerError> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare("SELECT * FROM payments ORDER BY created_at DESC, rowid DESC LIMIT ?1")?;
        let mut records = stmt.query_map(params![limit], payment_row)?.collect::<Result<Vec<_>, _>>()?;
        for record in &mut records {
            fill_counts(&conn, record)?;
        }
        Ok(records)
    }

    /// The current state of an order (`None` if unknown).
    pub fn state(&self, payment_request_id: &str) -> Result<Option<OrderState>, AcquirerError> {
        let state: Option<String> = self
            .lock()
            .query_row(
                "SELECT state FROM payments WHERE payment_request_id = ?1",
                params![payment_request_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(state.map(|s| OrderState::parse(&s)))
    }

    /// Records details from any verified response, keeping values already known.
    pub fn update_details(
        &self,
        payment_request_id: &str,
        d: &PaymentDetails,
        now: OffsetDateTime,
    ) -> Result<(), AcquirerError> {
        self.lock().execute(
            "UPDATE payments SET payment_id = COALESCE(?2, payment_id), psp_id = COALESCE(?3, psp_id),
                customer_id = COALESCE(?4, customer_id), wallet_brand_name = COALESCE(?5, wallet_brand_name),
                payment_time = COALESCE(?6, payment_time), updated_at = ?7
             WHERE payment_request_id = ?1",
            params![
                payment_request_id,
                d.payment_id,
                d.psp_id,
                d.customer_id,
                d.wallet_brand_name,
                d.payment_time,
                rfc3339(now)
            ],
        )?;
        Ok(())
    }

    /// Records the latest non-final result code seen while the order is still `INIT`.
    pub fn note_pending(
        &self,
        payment_request_id: &str,
        code: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> Result<(), AcquirerError> {
        self.lock().execute(
            "UPDATE payments SET result_code = ?2, result_message = ?3, updated_at = ?4
             WHERE payment_request_id = ?1 AND state = 'INIT'",
            params![payment_request_id, code, message, rfc3339(now)],
        )?;
        Ok(())
    }

    /// Moves an order from `INIT` to a final state from `pay`, inquiry or notify. Returns false
    /// (and changes nothing) if the order is already final, or a cancel was requested — the
    /// first final result wins, and after a cancel request only the cancel decides (§3, §8).
    pub fn finalize(
        &self,
        payment_request_id: &str,
        state: OrderState,
        source: Source,
        code: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> Result<bool, AcquirerError> {
        let changed = self.lock().execute(
            "UPDATE payments SET state = ?2, final_source = ?3, result_code = ?4, result_message = ?5, updated_at = ?6
             WHERE payment_request_id = ?1 AND state = 'INIT' AND (cancel_requested = 0 OR ?3 IN ('cancel', 'local'))",
            params![payment_request_id, state.as_str(), source.as_str(), code, message, rfc3339(now)],
        )?;
        Ok(changed == 1)
    }

    /// Marks that a cancel was asked for; from now on only the cancel decides the order.
    pub fn mark_cancel_requested(
        &self,
        payment_request_id: &str,
        now: OffsetDateTime,
    ) -> Result<(), AcquirerError> {
        self.lock().execute(
            "UPDATE payments SET cancel_requested = 1, cancel_result = COALESCE(cancel_result, 'PENDING'), updated_at = ?2
             WHERE payment_request_id = ?1",
            params![payment_request_id, rfc3339(now)],
        )?;
        Ok(())
    }

    /// Records a cancel outcome. A successful cancel makes the order `CANCELLED` whatever it was
    /// (a paid payment is reversed in full, §8).
    pub fn record_cancel(
        &self,
        payment_request_id: &str,
        success: bool,
        code: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> Result<(), AcquirerError> {
        let conn = self.lock();
        if success {
            conn.execute(
                "UPDATE payments SET state = 'CANCELLED', final_source = 'cancel', result_code = 'ORDER_IS_CLOSED',
                    result_message = 'cancelled', cancel_result = 'SUCCESS', updated_at = ?2
                 WHERE payment_request_id = ?1",
                params![payment_request_id, rfc3339(now)],
            )?;
        } else {
            let _ = message;
            conn.execute(
                "UPDATE payments SET cancel_result = ?2, updated_at = ?3 WHERE payment_request_id = ?1",
                params![payment_request_id, code, rfc3339(now)],
            )?;
        }
        Ok(())
    }

    /// Records the code shown for the order (an order code, known once `pay` answered).
    pub fn set_code(
        &self,
        payment_request_id: &str,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<(), AcquirerError> {
        self.lock().execute(
            "UPDATE payments SET code = ?2, updated_at = ?3 WHERE payment_request_id = ?1",
            params![payment_request_id, code, rfc3339(now)],
        )?;
        Ok(())
    }

    /// Sets the order's note.
    pub fn set_note(
        &self,
        payment_request_id: &str,
        note: &str,
        now: OffsetDateTime,
    ) -> Result<(), AcquirerError> {
        self.lock().execute(
            "UPDATE payments SET note = ?2, updated_at = ?3 WHERE payment_request_id = ?1",
            params![payment_request_id, note, rfc3339(now)],
        )?;
        Ok(())
    }

    /// Logs one outgoing call (kept so a record shows how hard the acquirer worked).
    pub fn log_call(
        &self,
        payment_request_id: &str,
        api: &str,
        request_id: &str,
        outcome: &str,
        now: OffsetDateTime,
    ) -> Result<(), AcquirerError> {
        self.lock().execute(
            "INSERT INTO calls (payment_request_id, api, request_id, at, outcome) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![payment_request_id, api, request_id, rfc3339(now), outcome],
        )?;
        Ok(())
    }

    /// Records a notification.
    pub fn record_notification(&self, n: &NotificationRecord, body: &str) -> Result<(), AcquirerError> {
        self.lock().execute(
            "INSERT INTO notifications (payment_request_id, received_at, signature_valid, result_status, result_code, applied, note, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                n.payment_request_id,
                n.received_at,
                n.signature_valid,
                n.result_status,
                n.result_code,
                n.applied,
                n.note,
                body
            ],
        )?;
        Ok(())
    }

    /// Notifications for one payment, oldest first.
    pub fn notifications(&self, payment_request_id: &str) -> Result<Vec<NotificationRecord>, AcquirerError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT payment_request_id, received_at, signature_valid, result_status, result_code, applied, note
             FROM notifications WHERE payment_request_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![payment_request_id], |r| {
            Ok(NotificationRecord {
                payment_request_id: r.get(0)?,
                received_at: r.get(1)?,
                signature_valid: r.get(2)?,
                result_status: r.get(3)?,
                result_code: r.get(4)?,
                applied: r.get(5)?,
                note: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Inserts a `PENDING` refund, or returns the existing one with that ID.
    pub fn insert_refund(
        &self,
        refund_request_id: &str,
        payment_request_id: &str,
        amount: Amount,
        now: OffsetDateTime,
    ) -> Result<(), AcquirerError> {
        self.lock().execute(
            "INSERT OR IGNORE INTO refunds (refund_request_id, payment_request_id, currency, amount_minor, state, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'PENDING', ?5, ?5)",
            params![refund_request_id, payment_request_id, amount.currency.code(), amount.value, rfc3339(now)],
        )?;
        Ok(())
    }

    /// Records a refund outcome.
    #[allow(clippy::too_many_arguments)]
    pub fn update_refund(
        &self,
        refund_request_id: &str,
        state: &str,
        code: &str,
        message: &str,
        refund_id: Option<&str>,
        refund_time: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), AcquirerError> {
        self.lock().execute(
            "UPDATE refunds SET state = ?2, result_code = ?3, result_message = ?4, refund_id = COALESCE(?5, refund_id),
                refund_time = COALESCE(?6, refund_time), updated_at = ?7
             WHERE refund_request_id = ?1",
            params![refund_request_id, state, code, message, refund_id, refund_time, rfc3339(now)],
        )?;
        Ok(())
    }

    /// One refund.
    pub fn refund(&self, refund_request_id: &str) -> Result<Option<RefundRecord>, AcquirerError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT * FROM refunds WHERE refund_request_id = ?1",
                params![refund_request_id],
                refund_row,
            )
            .optional()?)
    }

    /// Total of refunds that succeeded or may still succeed (pending/unknown), in minor units.
    /// Counting the unsure ones too keeps the local check on the safe side.
    pub fn committed_refund_total(&self, payment_request_id: &str) -> Result<i64, AcquirerError> {
        Ok(self.lock().query_row(
            "SELECT COALESCE(SUM(amount_minor), 0) FROM refunds WHERE payment_request_id = ?1 AND state != 'FAILED'",
            params![payment_request_id],
            |r| r.get(0),
        )?)
    }
}

fn payment_row(r: &Row<'_>) -> rusqlite::Result<PaymentRecord> {
    let currency: String = r.get("currency")?;
    let amount_minor: i64 = r.get("amount_minor")?;
    let amount = Currency::from_code(&currency)
        .map(|c| Amount::from_minor(c, amount_minor).to_string())
        .unwrap_or_else(|_| format!("{amount_minor} (minor) {currency}"));
    let state: String = r.get("state")?;
    Ok(PaymentRecord {
        payment_request_id: r.get("payment_request_id")?,
        code: r.get("code")?,
        amount,
        currency,
        amount_minor,
        state: OrderState::parse(&state),
        result_code: r.get("result_code")?,
        result_message: r.get("result_message")?,
        final_source: r.get("final_source")?,
        payment_id: r.get("payment_id")?,
        psp_id: r.get("psp_id")?,
        customer_id: r.get("customer_id")?,
        wallet_brand_name: r.get("wallet_brand_name")?,
        payment_time: r.get("payment_time")?,
        cancel_requested: r.get("cancel_requested")?,
        cancel_result: r.get("cancel_result")?,
        created_at: r.get("created_at")?,
        expires_at: r.get("expires_at")?,
        updated_at: r.get("updated_at")?,
        note: r.get("note")?,
        pay_calls: 0,
        inquiry_calls: 0,
        cancel_calls: 0,
        notifications: 0,
        refunds: Vec::new(),
    })
}

fn refund_row(r: &Row<'_>) -> rusqlite::Result<RefundRecord> {
    let currency: String = r.get("currency")?;
    let amount_minor: i64 = r.get("amount_minor")?;
    let amount = Currency::from_code(&currency)
        .map(|c| Amount::from_minor(c, amount_minor).to_string())
        .unwrap_or_else(|_| format!("{amount_minor} (minor) {currency}"));
    Ok(RefundRecord {
        refund_request_id: r.get("refund_request_id")?,
        payment_request_id: r.get("payment_request_id")?,
        amount,
        amount_minor,
        state: r.get("state")?,
        result_code: r.get("result_code")?,
        result_message: r.get("result_message")?,
        refund_id: r.get("refund_id")?,
        refund_time: r.get("refund_time")?,
        created_at: r.get("created_at")?,
    })
}

fn fill_counts(conn: &Connection, record: &mut PaymentRecord) -> Result<(), AcquirerError> {
    let id = record.payment_request_id.clone();
    let count = |sql: &str| -> Result<u32, AcquirerError> {
        let n: i64 = conn.query_row(sql, params![id], |r| r.get(0))?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    };
    record.pay_calls = count("SELECT COUNT(*) FROM calls WHERE payment_request_id = ?1 AND api = 'pay'")?;
    record.inquiry_calls =
        count("SELECT COUNT(*) FROM calls WHERE payment_request_id = ?1 AND api = 'inquiryPayment'")?;
    record.cancel_calls =
        count("SELECT COUNT(*) FROM calls WHERE payment_request_id = ?1 AND api = 'cancelPayment'")?;
    record.notifications = count("SELECT COUNT(*) FROM notifications WHERE payment_request_id = ?1")?;
    let mut stmt =
        conn.prepare("SELECT * FROM refunds WHERE payment_request_id = ?1 ORDER BY created_at, rowid")?;
    record.refunds = stmt.query_map(params![id], refund_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_order() -> (Store, OffsetDateTime) {
        let store = Store::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        store
            .insert_payment(&NewPayment {
                payment_request_id: "p1",
                code: "281011",
                amount: Amount::from_minor(Currency::USD, 1250),
                created_at: now,
                expires_at: now + time::Duration::seconds(60),
            })
            .unwrap_or_else(|e| panic!("{e}"));
        (store, now)
    }

    #[test]
    fn first_final_result_wins() {
        let (store, now) = store_with_order();
        assert_eq!(
            store.finalize("p1", OrderState::Success, Source::Notify, "SUCCESS", "ok", now).ok(),
            Some(true)
        );
        // A later, different final result is ignored.
        assert_eq!(
            store.finalize("p1", OrderState::Failed, Source::Inquiry, "ORDER_IS_CLOSED", "x", now).ok(),
            Some(false)
        );
        let record = store.payment("p1").ok().flatten().unwrap_or_else(|| panic!("missing"));
        assert_eq!(record.state, OrderState::Success);
        assert_eq!(record.final_source.as_deref(), Some("notify"));
        assert_eq!(record.amount, "12.50 USD");
    }

    #[test]
    fn after_cancel_request_only_cancel_decides() {
        let (store, now) = store_with_order();
        store.mark_cancel_requested("p1", now).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            store.finalize("p1", OrderState::Success, Source::Notify, "SUCCESS", "ok", now).ok(),
            Some(false)
        );
        store.record_cancel("p1", true, "SUCCESS", "ok", now).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(store.state("p1").ok().flatten(), Some(OrderState::Cancelled));
    }

    #[test]
    fn refund_totals_ignore_failed() {
        let (store, now) = store_with_order();
        let usd = |v| Amount::from_minor(Currency::USD, v);
        store.insert_refund("r1", "p1", usd(500), now).unwrap_or_else(|e| panic!("{e}"));
        store.insert_refund("r2", "p1", usd(300), now).unwrap_or_else(|e| panic!("{e}"));
        store
            .update_refund("r2", "FAILED", "PROCESS_FAIL", "no", None, None, now)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(store.committed_refund_total("p1").ok(), Some(500));
        let record = store.payment("p1").ok().flatten().unwrap_or_else(|| panic!("missing"));
        assert_eq!(record.refunds.len(), 2);
    }

    #[test]
    fn lookup_by_payment_id() {
        let (store, now) = store_with_order();
        let d = PaymentDetails { payment_id: Some("2025".into()), ..Default::default() };
        store.update_details("p1", &d, now).unwrap_or_else(|e| panic!("{e}"));
        assert!(store.payment("2025").ok().flatten().is_some());
        assert!(store.payment("nope").ok().flatten().is_none());
    }
}
