//! Payments: `pay` (with its group commit), inquiries, cancellation, expiry and settlement of
//! what is due, and the notification each final state queues.

use super::*;

/// Default payment expiry after `pay` when the request gives none (§4.4).
pub const DEFAULT_PAYMENT_EXPIRY: Duration = Duration::seconds(60);

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
    /// The state as the sandbox stores and shows it (`SUCCESS`, …), as serialised.
    pub fn as_str(self) -> &'static str {
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

pub(super) const PAYMENT_COLUMNS: &str = "id, app_id, payment_request_id, payment_id, key_fields, account_id, currency, amount, state, fail_code, fail_message, created_at, expires_at, paid_at, notify_url, psp_id, wallet_brand_name, customer_id, plan, resolve_at, resolve_code, stuck, awaits_buyer, withhold_notify, inquiry_faults, refund_faults, cancel_faults, request_body";
pub(super) const PAYMENT_COLUMN_COUNT: usize = 27;

pub(super) fn payment_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PaymentRecord> {
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
pub(super) fn amount_from_row(
    r: &rusqlite::Row<'_>,
    currency: usize,
    value: usize,
) -> rusqlite::Result<Amount> {
    let code: String = r.get(currency)?;
    let currency = Currency::from_code(&code).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(currency, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Amount::from_minor(currency, r.get(value)?))
}

/// The wallet persona with this enum name, or the default persona (Test Wallet).
pub(super) fn persona_of(name: Option<&str>) -> Result<Wallet> {
    let table = WalletTable::builtin();
    name.and_then(|n| table.find(n))
        .or_else(|| table.default_persona())
        .cloned()
        .ok_or_else(|| StoreError::Invalid("the wallet table has no default persona".into()))
}

pub(super) fn load_payment_by_row(tx: &Connection, row: i64) -> Result<PaymentRecord> {
    Ok(tx.query_row_cached(
        &format!("SELECT {PAYMENT_COLUMNS} FROM payment WHERE id = ?1"),
        params![row],
        payment_from_row,
    )?)
}

/// Finds a payment by paymentRequestId and/or paymentId. Both given but different → `Err(Illegal)`.
pub(super) fn find_payment(
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
pub(super) fn settle_if_due(
    tx: &Connection,
    payment: PaymentRecord,
    now: OffsetDateTime,
) -> Result<PaymentRecord> {
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
pub(super) fn mark_failed(
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

pub(super) fn fail_payment(
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
pub(super) fn debit_or_fail(tx: &Connection, payment: &PaymentRecord, now: OffsetDateTime) -> Result<()> {
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
        // Only notifyPayment rows: the outbox also carries a payment's dispute calls.
        "SELECT COUNT(*) FROM outbox WHERE payment_row = ?1 AND api = 'notifyPayment'",
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
pub(super) struct PayJob {
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
                "UPDATE outbox SET status = 'superseded', updated_at = ?1 WHERE payment_row = ?2 AND status = 'pending' AND api = 'notifyPayment'",
                params![at, payment.row],
            )?;
            let cancelled = load_payment_by_row(tx, payment.row)?;
            Ok(outcome(ResultCode::Success, "the payment is cancelled", Some(cancelled)))
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

pub(super) fn outcome(code: ResultCode, message: &str, payment: Option<PaymentRecord>) -> CallOutcome {
    CallOutcome { code, message: message.to_string(), payment, refund: None }
}

/// End of the cancel window: 00:15:00 UTC+8 on the day after the payment's UTC+8 date (§8).
pub fn cancel_deadline(created: OffsetDateTime) -> OffsetDateTime {
    let local = created.to_offset(PLUSBOX_OFFSET);
    let next = local.date().next_day().unwrap_or(local.date());
    next.with_hms(0, 15, 0).map(|t| t.assume_offset(PLUSBOX_OFFSET)).unwrap_or(local)
}
