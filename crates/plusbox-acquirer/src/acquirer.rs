//! The reference ACQP: charge (UPM `pay`, inquiry polling, cancel), refund, cancel, and the
//! notify handler, all around one order table. Each rule it follows is named by the fault that
//! breaks it (see [`crate::Fault`]).

use std::sync::Arc;

use plusbox_core::money::Amount;
use plusbox_core::result_code::Status;
use plusbox_core::signing::{MessageParts, PrivateKey, PublicKey};
use serde::Deserialize;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use crate::client::{read_result, wire_time, Answer, Api, Gateway, Outcome};
use crate::clock::{to_std, SharedClock};
use crate::clock_control::ShiftedClock;
use crate::config::{ms_to_duration, AcquirerConfig};
use crate::error::AcquirerError;
use crate::faults::{Fault, Faults};
mod order_code;
pub use order_code::{CodeImage, OrderCodeRequest, OrderCodeSale, OrderCodeShown, StartedSale};
mod entry_code;
pub use entry_code::{is_wallet, EntryPage, ENTRY_PAGE_PATH, WALLET_MARKERS};
mod customs;
mod private_order_code;
pub use customs::{DeclareOutcome, DeclareRequest};
mod registration;
pub use private_order_code::USER_INITIATED_PAY_PATH;
mod disputes;
pub use disputes::{DisputeKind, INITIATE_ESCALATION_PATH, INITIATE_RETRIEVAL_PATH};
pub use registration::{RegisterOutcome, RegisterRequest, REGISTRATION_NOTIFY_PATH};

use crate::store::{
    rfc3339, NewPayment, NotificationRecord, OrderState, PaymentDetails, PaymentRecord, RefundRecord, Source,
    Store,
};

/// A charge asked for by the POS.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChargeRequest {
    /// The scanned payment code.
    pub code: String,
    /// Amount in text form, `"12.50 USD"`.
    pub amount: String,
    /// Our idempotency key; generated when absent.
    #[serde(default)]
    pub payment_request_id: Option<String>,
    /// `orderDescription`; the configured default when absent.
    #[serde(default)]
    pub description: Option<String>,
}

/// A refund asked for by the POS.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundRequest {
    /// `paymentRequestId` or Alipay+ `paymentId` of the payment.
    pub payment: String,
    /// Amount in text form.
    pub amount: String,
    /// Our idempotency key; generated when absent.
    #[serde(default)]
    pub refund_request_id: Option<String>,
    /// `refundReason`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A cancel asked for by the POS.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelRequest {
    /// `paymentRequestId` or Alipay+ `paymentId`.
    pub payment: String,
}

/// The HTTP answer to a `notifyPayment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyAck {
    /// Headers to send (name, value).
    pub headers: Vec<(String, String)>,
    /// Body bytes, exactly as signed.
    pub body: String,
}

/// Incoming notification parts, borrowed from the HTTP request.
#[derive(Debug, Clone, Copy)]
pub struct IncomingNotify<'a> {
    /// The request-target (path and query) as received.
    pub uri: &'a str,
    /// `Client-Id` header.
    pub client_id: Option<&'a str>,
    /// `Request-Time` header.
    pub request_time: Option<&'a str>,
    /// `Signature` header.
    pub signature: Option<&'a str>,
    /// Body bytes as received.
    pub body: &'a [u8],
}

struct Inner {
    config: AcquirerConfig,
    faults: Faults,
    store: Store,
    gateway: Gateway,
    clock: SharedClock,
    /// The same clock as `clock`, with the shift the POS driver's `/clock` sets.
    shifted: Arc<ShiftedClock>,
    key: Arc<PrivateKey>,
    gateway_key: PublicKey,
    /// Disputes received (idempotency of initiateRetrieval / initiateEscalation).
    disputes: disputes::DisputeBook,
}

/// The reference acquirer. Cheap to clone.
#[derive(Clone)]
pub struct Acquirer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Acquirer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acquirer")
            .field("client_id", &self.inner.config.client_id)
            .field("faults", &self.inner.faults)
            .finish()
    }
}

/// A fresh ID: `prefix` + UTC+8 timestamp + 12 random hex digits (≤ 64 characters).
pub fn new_id(prefix: &str, now: OffsetDateTime) -> String {
    let mut random = [0u8; 6];
    // If the system RNG fails, the nanosecond clock still keeps IDs apart within one process.
    if aws_lc_rs::rand::fill(&mut random).is_err() {
        random.copy_from_slice(&now.nanosecond().to_be_bytes().repeat(2)[..6]);
    }
    let stamp: String = wire_time(now).chars().filter(char::is_ascii_digit).take(14).collect();
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}_{stamp}_{hex}")
}

/// How long before the payment expiry we send the ACQP stops polling and cancels: a tenth of
/// the expiry, at most 500 ms.
fn expiry_guard(timing: &crate::config::Timing) -> Duration {
    Duration::milliseconds(i64::try_from((timing.payment_expiry_ms / 10).min(500)).unwrap_or(500))
}

/// The end of the cancel window: 00:15 UTC+8 on the day after the payment's UTC+8 date (§8).
pub fn cancel_window_end(created: OffsetDateTime) -> OffsetDateTime {
    let plus8 = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let local = created.to_offset(plus8);
    let next = local.date().next_day().unwrap_or(local.date());
    next.with_hms(0, 15, 0).map(|t| t.assume_offset(plus8)).unwrap_or(local + Duration::days(1))
}

/// The `cancel-window-utc` mistake: the same rule computed in UTC (00:15 UTC the day after the
/// payment's UTC date).
fn cancel_window_end_in_utc(created: OffsetDateTime) -> OffsetDateTime {
    let utc = created.to_offset(time::UtcOffset::UTC);
    let next = utc.date().next_day().unwrap_or(utc.date());
    next.with_hms(0, 15, 0).map(|t| t.assume_utc()).unwrap_or(utc + Duration::days(1))
}

fn details_from(body: &Value) -> PaymentDetails {
    let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    PaymentDetails {
        payment_id: s("paymentId"),
        psp_id: s("pspId"),
        customer_id: s("customerId"),
        wallet_brand_name: s("walletBrandName"),
        payment_time: s("paymentTime"),
    }
}

pub(super) fn parse_amount(text: &str) -> Result<Amount, AcquirerError> {
    let amount =
        Amount::parse_positive(text).map_err(|e| AcquirerError::BadRequest(format!("amount: {e}")))?;
    amount.check_wire_rules().map_err(|e| AcquirerError::BadRequest(format!("amount: {e}")))?;
    Ok(amount)
}

fn check_id(name: &str, id: &str) -> Result<(), AcquirerError> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(AcquirerError::BadRequest(format!("{name} must be 1-64 printable ASCII characters")));
    }
    Ok(())
}

impl Acquirer {
    /// An acquirer from a loaded configuration: opens its order table and reads its keys.
    /// `extra_faults` are added to those in the file.
    pub fn new(
        config: AcquirerConfig,
        extra_faults: impl IntoIterator<Item = Fault>,
        clock: SharedClock,
    ) -> Result<Acquirer, AcquirerError> {
        let store = Store::open(&config.database)?;
        Acquirer::with_store(config, extra_faults, clock, store)
    }

    /// Like [`Acquirer::new`] with a given order table.
    pub fn with_store(
        config: AcquirerConfig,
        extra_faults: impl IntoIterator<Item = Fault>,
        clock: SharedClock,
        store: Store,
    ) -> Result<Acquirer, AcquirerError> {
        config.timing.validate()?;
        let mut faults = config.faults.clone();
        for fault in extra_faults {
            faults.insert(fault);
        }
        let key = Arc::new(config.private_key()?);
        let gateway_key = config.gateway_public_key()?;
        // Under `wrong-key` requests are signed by a key nobody registered.
        let signing_key =
            if faults.has(Fault::WrongKey) { Arc::new(PrivateKey::generate()?) } else { Arc::clone(&key) };
        let gateway = Gateway::new(
            &config.gateway_url,
            &config.client_id,
            config.key_version,
            signing_key,
            gateway_key.clone(),
            !faults.has(Fault::SkipResponseVerification),
        )?
        .with_wire_faults(faults.has(Fault::RequestTimeLocalZ), faults.has(Fault::SignUtf8SendEscaped))
        .with_agent_token(config.agent_token.clone().filter(|_| !faults.has(Fault::MissingAgentToken)));
        let shifted = ShiftedClock::new(clock);
        let clock: SharedClock = shifted.clone();
        Ok(Acquirer {
            inner: Arc::new(Inner {
                config,
                faults,
                store,
                gateway,
                clock,
                shifted,
                key,
                gateway_key,
                disputes: disputes::DisputeBook::default(),
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &AcquirerConfig {
        &self.inner.config
    }

    /// The faults switched on.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// The order table.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The acquirer's own clock (what its time rules read), shift included.
    pub fn clock_now(&self) -> OffsetDateTime {
        self.now()
    }

    /// Sets the acquirer's clock to read `at` now (the POS driver's `PUT /clock`); returns the
    /// shift from the base clock.
    pub fn set_clock(&self, at: OffsetDateTime) -> Result<Duration, AcquirerError> {
        self.inner.shifted.set(at)
    }

    /// Returns the acquirer's clock to its base (`DELETE /clock`).
    pub fn reset_clock(&self) {
        self.inner.shifted.reset();
    }

    /// The shift the POS driver set (zero when none).
    pub fn clock_shift(&self) -> Duration {
        self.inner.shifted.shift()
    }

    fn has(&self, fault: Fault) -> bool {
        self.inner.faults.has(fault)
    }

    fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    async fn sleep_until(&self, at: OffsetDateTime) {
        self.inner.clock.sleep_until(at).await;
    }

    /// One payment, or an error for a bad ID.
    pub fn payment(&self, id: &str) -> Result<PaymentRecord, AcquirerError> {
        self.inner.store.payment(id)?.ok_or_else(|| AcquirerError::NotFound(format!("no payment {id:?}")))
    }

    async fn call(&self, api: Api, body: &Value, timeout_ms: u64, order: &str, request_id: &str) -> Outcome {
        let outcome =
            self.inner.gateway.call(api, body, to_std(ms_to_duration(timeout_ms)), self.now()).await;
        // The call log is bookkeeping; a failure to write it must not change the payment flow.
        let _ = self.inner.store.log_call(order, api.name(), request_id, &outcome.label(), self.now());
        outcome
    }

    fn amount_json(&self, amount: Amount) -> Value {
        let value = self.wire_value(amount);
        if self.has(Fault::NumbersNotStrings) {
            json!({"currency": amount.currency.code(), "value": value})
        } else {
            json!({"currency": amount.currency.code(), "value": value.to_string()})
        }
    }

    /// The minor-units value put on the wire: exact, unless an amount fault is on.
    fn wire_value(&self, amount: Amount) -> i64 {
        let per = amount.currency.minor_per_major();
        if self.has(Fault::AmountTimes100) {
            // The broken rule: "cents" for every currency (JPY 500 → 50000, KWD 1.234 → 123).
            return amount.value.saturating_mul(100) / per.max(1);
        }
        if self.has(Fault::FloatAmount) {
            // The broken conversion: through a binary float, truncated (19.99 → 1998).
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
            let truncated = ((amount.value as f64 / per as f64) * per as f64) as i64;
            return truncated;
        }
        amount.value
    }

    fn pay_body(&self, prid: &str, req: &ChargeRequest, amount: Amount, expires: OffsetDateTime) -> Value {
        let cfg = &self.inner.config;
        let m = &cfg.merchant;
        let mut merchant = json!({
            "referenceMerchantId": m.reference_merchant_id,
            "merchantName": m.merchant_name,
            "merchantMCC": m.merchant_mcc,
        });
        if !self.has(Fault::OmitStore) {
            merchant["store"] = json!({
                "referenceStoreId": m.reference_store_id,
                "storeName": m.store_name,
                "storeMCC": m.store_mcc,
            });
        }
        let mut order = json!({
            "referenceOrderId": prid.replacen("pay_", "ord_", 1),
            "orderDescription": req.description.clone().unwrap_or_else(|| m.order_description.clone()),
            "orderAmount": self.amount_json(amount),
            "merchant": merchant,
        });
        if !self.has(Fault::OmitTerminal) {
            order["env"] = json!({
                "storeTerminalId": m.terminal_id,
                "storeTerminalRequestTime": wire_time(self.now()),
            });
        }
        let in_store = if self.has(Fault::NumbersNotStrings) { json!(true) } else { json!("true") };
        json!({
            "paymentRequestId": prid,
            "paymentAmount": self.amount_json(amount),
            "paymentMethod": {"paymentMethodType": "CONNECT_WALLET", "paymentMethodId": req.code},
            "paymentFactor": {"isInStorePayment": in_store, "inStorePaymentScenario": "PaymentCode"},
            "paymentExpiryTime": wire_time(expires),
            "paymentNotifyUrl": cfg.notify_url,
            "order": order,
        })
    }

    fn apply_answer(
        &self,
        prid: &str,
        answer: &Answer,
        result: (Status, &str, &str),
        source: Source,
    ) -> Result<(), AcquirerError> {
        let now = self.now();
        self.inner.store.update_details(prid, &details_from(&answer.body), now)?;
        let (status, code, message) = result;
        match status {
            Status::Success => {
                self.inner.store.finalize(prid, OrderState::Success, source, code, message, now)?;
            }
            Status::Failure => {
                self.inner.store.finalize(prid, OrderState::Failed, source, code, message, now)?;
            }
            Status::Unknown => self.inner.store.note_pending(prid, code, message, now)?,
        }
        Ok(())
    }

    fn is_final(&self, prid: &str) -> Result<bool, AcquirerError> {
        Ok(self.inner.store.state(prid)?.is_some_and(OrderState::is_final))
    }

    /// Runs one UPM charge to a final state (or as far as the rules allow) and returns the order.
    ///
    /// `pay`; on a timeout or a U other than `PAYMENT_IN_PROCESS`, `pay` again with the same
    /// `paymentRequestId`; on `PAYMENT_IN_PROCESS` (or no answer at all), poll `inquiryPayment`
    /// with increasing intervals until the expiry or the inquiry limit; then `cancelPayment`
    /// until S. A notification that arrives meanwhile ends the wait (first final result wins).
    pub async fn charge(&self, req: ChargeRequest) -> Result<PaymentRecord, AcquirerError> {
        let amount = parse_amount(&req.amount)?;
        let code = req.code.trim();
        if code.is_empty() || code.len() > 512 {
            return Err(AcquirerError::BadRequest("code must be 1-512 characters".to_owned()));
        }
        let req = ChargeRequest { code: code.to_owned(), ..req };
        let created = self.now();
        let mut prid = match &req.payment_request_id {
            Some(id) => {
                check_id("paymentRequestId", id)?;
                // Idempotent, like Alipay+'s pay: the same sale again gets the payment as it
                // stands (no second pay); the id with another code or amount is refused.
                if let Some(existing) = self.inner.store.payment(id)? {
                    if existing.code == req.code
                        && existing.amount_minor == amount.value
                        && existing.currency == amount.currency.code()
                    {
                        return Ok(existing);
                    }
                    return Err(AcquirerError::Refused {
                        code: "REPEAT_REQ_INCONSISTENT",
                        message: format!(
                            "paymentRequestId {id:?} was used for a sale with another code or amount"
                        ),
                    });
                }
                id.clone()
            }
            None => new_id("pay", created),
        };
        // Whole seconds, rounded up, so the wire value never undercuts our own deadline.
        let mut expires = created + ms_to_duration(self.inner.config.timing.payment_expiry_ms);
        if expires.nanosecond() > 0 {
            expires = expires.replace_nanosecond(0).unwrap_or(expires) + Duration::SECOND;
        }
        self.inner.store.insert_payment(&NewPayment {
            payment_request_id: &prid,
            code: &req.code,
            amount,
            created_at: created,
            expires_at: expires,
        })?;
        let mut body = self.pay_body(&prid, &req, amount, expires);
        // We stop asking a moment before the expiry we sent, so a payment still U is cancelled
        // while Alipay+ still holds it open, not raced against its own close at that instant.
        let give_up_at = expires - expiry_guard(&self.inner.config.timing);

        let timing = self.inner.config.timing.clone();
        for attempt in 0..timing.pay_attempts {
            if attempt > 0 {
                self.sleep_until((self.now() + ms_to_duration(timing.retry_interval_ms)).min(give_up_at))
                    .await;
                if self.is_final(&prid)? || self.now() >= give_up_at {
                    break;
                }
                if self.has(Fault::NewRequestIdOnRetry) {
                    // The broken behaviour: a new order under a new idempotency key.
                    let fresh = new_id("pay", self.now());
                    self.inner.store.insert_payment(&NewPayment {
                        payment_request_id: &fresh,
                        code: &req.code,
                        amount,
                        created_at: self.now(),
                        expires_at: expires,
                    })?;
                    self.inner.store.set_note(
                        &prid,
                        &format!("abandoned; retried as {fresh}"),
                        self.now(),
                    )?;
                    prid = fresh;
                    body = self.pay_body(&prid, &req, amount, expires);
                }
            }
            match self.call(Api::Pay, &body, timing.pay_timeout_ms, &prid, &prid).await {
                Outcome::Answered(answer) => {
                    let result = (answer.status, answer.code.as_str(), answer.message.as_str());
                    self.apply_answer(&prid, &answer, result, Source::Pay)?;
                    if answer.status.is_final() {
                        break;
                    }
                    if answer.code == "PAYMENT_IN_PROCESS" {
                        if self.has(Fault::WatchdogCancelsPaid) {
                            self.arm_watchdog(&prid, give_up_at);
                        }
                        break;
                    }
                }
                _ => continue,
            }
        }
        if !self.is_final(&prid)? {
            // PAYMENT_IN_PROCESS, or no answer after every attempt (as unknown as U): inquire.
            self.poll(&prid, created, give_up_at).await?;
        }
        if !self.is_final(&prid)? {
            self.give_up(&prid).await?;
        }
        self.payment(&prid)
    }

    /// The `watchdog-cancels-paid` fault: a timer armed on pay's U that cancels at the expiry
    /// whatever happened meanwhile (the correct flow cancels only while the order is still open).
    fn arm_watchdog(&self, prid: &str, at: OffsetDateTime) {
        let acquirer = self.clone();
        let prid = prid.to_owned();
        tokio::spawn(async move {
            acquirer.sleep_until(at).await;
            let body = json!({"paymentRequestId": prid});
            let timeout = acquirer.inner.config.timing.cancel_timeout_ms;
            let _ = acquirer.call(Api::CancelPayment, &body, timeout, &prid, &prid).await;
        });
    }

    async fn poll(
        &self,
        prid: &str,
        created: OffsetDateTime,
        expires: OffsetDateTime,
    ) -> Result<(), AcquirerError> {
        let timing = &self.inner.config.timing;
        let forever = self.has(Fault::PollForever);
        let forever_until = created + ms_to_duration(timing.poll_forever_limit_ms);
        if self.has(Fault::NoInquiry) {
            // Wait for a notification only, checking the order table at the schedule's pace.
            let mut n = 0;
            while self.now() < expires && !self.is_final(prid)? {
                self.sleep_until((self.now() + timing.poll_interval(n)).min(expires)).await;
                n = n.saturating_add(1);
            }
            return Ok(());
        }
        let mut n: u32 = 0;
        loop {
            if self.is_final(prid)? {
                return Ok(());
            }
            let now = self.now();
            if forever {
                if now >= forever_until {
                    self.inner.store.set_note(
                        prid,
                        "poll-forever: stopped at the safety limit without cancelling",
                        now,
                    )?;
                    return Ok(());
                }
            } else if n >= timing.max_inquiries || now >= expires {
                return Ok(());
            }
            let wait = if self.has(Fault::PollTooFast) {
                ms_to_duration(timing.too_fast_interval_ms)
            } else {
                timing.poll_interval(n)
            };
            let until = if forever { (now + wait).min(forever_until) } else { (now + wait).min(expires) };
            self.sleep_until(until).await;
            if self.is_final(prid)? {
                return Ok(());
            }
            if !forever && self.now() >= expires {
                // Still U at the expiry: no more inquiries, cancel (§7, §8).
                return Ok(());
            }
            n = n.saturating_add(1);
            let body = json!({"paymentRequestId": prid});
            match self.call(Api::InquiryPayment, &body, timing.inquiry_timeout_ms, prid, prid).await {
                Outcome::Answered(answer) if answer.status == Status::Success => {
                    match read_result(answer.body.get("paymentResult")) {
                        Some((status, code, message)) => {
                            self.apply_answer(prid, &answer, (status, &code, &message), Source::Inquiry)?;
                        }
                        None => continue,
                    }
                }
                Outcome::Answered(answer)
                    if answer.status == Status::Failure && answer.code != "ORDER_NOT_EXIST" =>
                {
                    // The inquiry itself was refused (signature, parameters): more of the same will
                    // not help, so go straight to the cancel.
                    self.inner.store.note_pending(prid, &answer.code, &answer.message, self.now())?;
                    if !forever {
                        return Ok(());
                    }
                }
                Outcome::Answered(answer)
                    if answer.status == Status::Unknown && self.has(Fault::InquiryUnknownFails) =>
                {
                    // The broken reading: an inquiry U taken for the payment's failure.
                    self.inner.store.finalize(
                        prid,
                        OrderState::Failed,
                        Source::Inquiry,
                        &answer.code,
                        &answer.message,
                        self.now(),
                    )?;
                    return Ok(());
                }
                Outcome::Timeout if self.has(Fault::InquiryUnknownFails) => {
                    self.inner.store.finalize(
                        prid,
                        OrderState::Failed,
                        Source::Inquiry,
                        "UNKNOWN_EXCEPTION",
                        "inquiry timed out",
                        self.now(),
                    )?;
                    return Ok(());
                }
                // U, ORDER_NOT_EXIST (pay may not have landed yet), timeouts: inquire again.
                _ => {}
            }
        }
    }

    async fn give_up(&self, prid: &str) -> Result<(), AcquirerError> {
        let now = self.now();
        if self.has(Fault::PollForever) {
            return Ok(());
        }
        if self.has(Fault::NoCancel) {
            self.inner.store.finalize(
                prid,
                OrderState::Failed,
                Source::Local,
                "NO_FINAL_RESULT",
                "gave up without cancelling",
                now,
            )?;
            return Ok(());
        }
        // A refusal is recorded on the order (its note and cancelResult); nobody waits on it here.
        self.cancel_until_done(prid).await.map(|_| ())
    }

    /// Marks the order as cancel-requested and calls `cancelPayment` until S (bounded by
    /// `max_cancel_attempts`), retrying timeouts and U with the same `paymentRequestId` (§8).
    /// Returns Alipay+'s refusal (code, message) when the cancel was answered F.
    async fn cancel_until_done(&self, prid: &str) -> Result<Option<(String, String)>, AcquirerError> {
        let timing = &self.inner.config.timing;
        self.inner.store.mark_cancel_requested(prid, self.now())?;
        let body = json!({"paymentRequestId": prid});
        let attempts = if self.has(Fault::CancelOnce) { 1 } else { timing.max_cancel_attempts };
        for attempt in 0..attempts {
            if attempt > 0 {
                self.sleep_until(self.now() + ms_to_duration(timing.retry_interval_ms)).await;
            }
            match self.call(Api::CancelPayment, &body, timing.cancel_timeout_ms, prid, prid).await {
                Outcome::Answered(a) if a.status == Status::Success => {
                    self.inner.store.update_details(prid, &details_from(&a.body), self.now())?;
                    self.inner.store.record_cancel(prid, true, &a.code, &a.message, self.now())?;
                    return Ok(None);
                }
                Outcome::Answered(a) if a.status == Status::Failure => {
                    self.inner.store.record_cancel(prid, false, &a.code, &a.message, self.now())?;
                    if a.code == "ORDER_NOT_EXIST" {
                        // The gateway never saw the payment, so nothing was charged.
                        self.inner.store.finalize(
                            prid,
                            OrderState::Failed,
                            Source::Cancel,
                            &a.code,
                            &a.message,
                            self.now(),
                        )?;
                    } else if a.code == "CANCEL_WINDOW_EXCEED" && self.has(Fault::CancelAfterWindow) {
                        // The broken reading: the void is reported done although Alipay+ refused it.
                        self.inner.store.record_cancel(prid, true, &a.code, &a.message, self.now())?;
                        return Ok(None);
                    } else {
                        self.inner.store.set_note(
                            prid,
                            &format!("cancel refused: {} {}", a.code, a.message),
                            self.now(),
                        )?;
                    }
                    return Ok(Some((a.code, a.message)));
                }
                other => {
                    self.inner.store.record_cancel(prid, false, "PENDING", &other.label(), self.now())?;
                }
            }
        }
        self.inner.store.set_note(
            prid,
            "cancel still pending after the retry limit; order left INIT",
            self.now(),
        )?;
        Ok(None)
    }

    /// Cancels a payment for the merchant (full amount, §8). Refused locally when our own clock
    /// says the cancel window has closed; refused with Alipay+'s code when Alipay+ refuses the
    /// cancel (e.g. `CANCEL_WINDOW_EXCEED`: the sale stays paid, refund instead).
    pub async fn cancel(&self, req: CancelRequest) -> Result<PaymentRecord, AcquirerError> {
        let record = self.payment(req.payment.trim())?;
        if record.state == OrderState::Cancelled {
            return Ok(record);
        }
        let created = crate::store::parse_rfc3339(&record.created_at).unwrap_or_else(|| self.now());
        let window_end = if self.has(Fault::CancelWindowUtc) {
            cancel_window_end_in_utc(created)
        } else {
            cancel_window_end(created)
        };
        if self.now() >= window_end {
            return Err(AcquirerError::Refused {
                code: "CANCEL_WINDOW_EXCEED",
                message: "the cancel window closed at 00:15 UTC+8 the day after the payment; refund instead"
                    .to_owned(),
            });
        }
        if let Some((code, message)) = self.cancel_until_done(&record.payment_request_id).await? {
            return Err(AcquirerError::GatewayRefused { code, message });
        }
        self.payment(&record.payment_request_id)
    }

    /// Refunds part or all of a paid payment, retrying timeouts and U with the same
    /// `refundRequestId` (§9). Refused locally when refunds would exceed the paid amount, unless
    /// the `refund-over-amount` fault is on.
    pub async fn refund(&self, req: RefundRequest) -> Result<RefundRecord, AcquirerError> {
        let amount = parse_amount(&req.amount)?;
        let payment = self.payment(req.payment.trim())?;
        if let Some(id) = &req.refund_request_id {
            check_id("refundRequestId", id)?;
            if let Some(existing) = self.inner.store.refund(id)? {
                if existing.payment_request_id != payment.payment_request_id
                    || existing.amount_minor != amount.value
                {
                    return Err(AcquirerError::Refused {
                        code: "REPEAT_REQ_INCONSISTENT",
                        message: format!("refund {id:?} exists with a different payment or amount"),
                    });
                }
                if existing.state == "SUCCESS" || existing.state == "FAILED" {
                    return Ok(existing);
                }
            }
        }
        if payment.state != OrderState::Success {
            return Err(AcquirerError::Refused {
                code: "PAYMENT_NOT_PAID",
                message: format!(
                    "payment is {}, only a paid payment can be refunded",
                    payment.state.as_str()
                ),
            });
        }
        if payment.currency != amount.currency.code() {
            return Err(AcquirerError::BadRequest(format!(
                "refund currency {} differs from the payment currency {}",
                amount.currency.code(),
                payment.currency
            )));
        }
        let refund_id = req.refund_request_id.clone().unwrap_or_else(|| new_id("refund", self.now()));
        let already = if self.inner.store.refund(&refund_id)?.is_some() {
            0
        } else {
            self.inner.store.committed_refund_total(&payment.payment_request_id)?
        };
        if already.saturating_add(amount.value) > payment.amount_minor && !self.has(Fault::RefundOverAmount) {
            return Err(AcquirerError::Refused {
                code: "REFUND_AMOUNT_EXCEED",
                message: format!(
                    "refunds would total more than the paid {} ({} already refunded or pending)",
                    payment.amount, already
                ),
            });
        }
        let prid = payment.payment_request_id.clone();
        self.inner.store.insert_refund(&refund_id, &prid, amount, self.now())?;
        let mut body = json!({
            "paymentRequestId": prid,
            "refundRequestId": refund_id,
            "refundAmount": self.amount_json(amount),
        });
        if let Some(reason) = req.reason.as_deref().filter(|r| !r.trim().is_empty()) {
            body["refundReason"] = json!(reason);
        }
        let timing = &self.inner.config.timing;
        let mut last = "UNKNOWN".to_owned();
        for attempt in 0..timing.refund_attempts {
            if attempt > 0 {
                self.sleep_until(self.now() + ms_to_duration(timing.retry_interval_ms)).await;
            }
            match self.call(Api::Refund, &body, timing.refund_timeout_ms, &prid, &refund_id).await {
                Outcome::Answered(a) if a.status.is_final() => {
                    let state = if a.status == Status::Success { "SUCCESS" } else { "FAILED" };
                    let s = |k: &str| a.body.get(k).and_then(Value::as_str);
                    self.inner.store.update_refund(
                        &refund_id,
                        state,
                        &a.code,
                        &a.message,
                        s("refundId"),
                        s("refundTime"),
                        self.now(),
                    )?;
                    return self.refund_record(&refund_id);
                }
                other => last = other.label(),
            }
        }
        self.inner.store.update_refund(
            &refund_id,
            "UNKNOWN",
            "UNKNOWN_EXCEPTION",
            &last,
            None,
            None,
            self.now(),
        )?;
        self.refund_record(&refund_id)
    }

    fn refund_record(&self, id: &str) -> Result<RefundRecord, AcquirerError> {
        self.inner.store.refund(id)?.ok_or_else(|| AcquirerError::NotFound(format!("no refund {id:?}")))
    }

    /// Handles one `notifyPayment`: verifies its signature, applies a final result to the order
    /// table (first final result wins), records it, and builds the signed acknowledgement.
    pub fn handle_notify(&self, n: IncomingNotify<'_>) -> NotifyAck {
        let now = self.now();
        let body_text = String::from_utf8_lossy(n.body).into_owned();
        let checked = match (n.client_id, n.request_time, n.signature) {
            (Some(client_id), Some(time), Some(signature)) => {
                let parts = MessageParts { method: "POST", uri: n.uri, client_id, time, body: n.body };
                self.inner.gateway_key.verify_message(signature, &parts).is_ok()
            }
            _ => false,
        };
        // Under `accept-forged-notify` the signature is never looked at.
        let verified = checked || self.has(Fault::AcceptForgedNotify);
        let parsed: Option<Value> = serde_json::from_slice(n.body).ok();
        let prid = parsed
            .as_ref()
            .and_then(|v| v.get("paymentRequestId"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let result = read_result(parsed.as_ref().and_then(|v| v.get("paymentResult")));
        let mut record = NotificationRecord {
            payment_request_id: prid.clone(),
            received_at: rfc3339(now),
            signature_valid: checked,
            result_status: result.as_ref().map(|r| r.0.as_str().to_owned()),
            result_code: result.as_ref().map(|r| r.1.clone()),
            applied: false,
            note: None,
        };
        let ack = if !verified {
            record.note = Some("signature missing or invalid".to_owned());
            ("F", "INVALID_SIGNATURE", "signature verification failed")
        } else if parsed.is_none() || prid.is_none() || result.is_none() {
            record.note = Some("body is not a notifyPayment".to_owned());
            ("F", "PARAM_ILLEGAL", "paymentRequestId and paymentResult are required")
        } else {
            record.note =
                self.apply_notify(prid.as_deref().unwrap_or(""), parsed.as_ref(), result.as_ref(), now);
            record.applied = record.note.is_none();
            match result.as_ref() {
                // The broken ack: it mirrors the payment's result instead of saying "received".
                Some((Status::Failure, _, _)) if self.has(Fault::AckMirrorsResult) => {
                    ("F", "PROCESS_FAIL", "the payment failed")
                }
                _ => ("S", "SUCCESS", "success"),
            }
        };
        // Recording is bookkeeping: the acknowledgement goes out even if the table is busy.
        let _ = self.inner.store.record_notification(&record, &body_text);
        self.ack(n.uri, ack)
    }

    /// Applies a verified notification; returns why it was not applied, if it was not.
    fn apply_notify(
        &self,
        prid: &str,
        body: Option<&Value>,
        result: Option<&(Status, String, String)>,
        now: OffsetDateTime,
    ) -> Option<String> {
        let (status, code, message) = result?;
        let body = body?;
        let order = match self.inner.store.payment(prid) {
            Ok(Some(order)) => order,
            Ok(None) => return Some("unknown paymentRequestId".to_owned()),
            Err(e) => return Some(format!("order table: {e}")),
        };
        if self.has(Fault::IgnoreNotify) {
            return Some("ignored (ignore-notify fault)".to_owned());
        }
        if let Some(wire) = body.get("paymentAmount") {
            let matches = wire.get("currency").and_then(Value::as_str) == Some(order.currency.as_str())
                && wire.get("value").and_then(Value::as_str) == Some(order.amount_minor.to_string().as_str());
            if !matches {
                return Some("paymentAmount does not match the order".to_owned());
            }
        }
        let state = match status {
            Status::Success => OrderState::Success,
            Status::Failure => OrderState::Failed,
            Status::Unknown => return Some("notification with U status".to_owned()),
        };
        let _ = self.inner.store.update_details(prid, &details_from(body), now);
        match self.inner.store.finalize(prid, state, Source::Notify, code, message, now) {
            Ok(true) => None,
            Ok(false) => Some("order already final or cancel requested; first final result wins".to_owned()),
            Err(e) => Some(format!("order table: {e}")),
        }
    }

    fn ack(&self, uri: &str, (status, code, message): (&str, &str, &str)) -> NotifyAck {
        let body = json!({"result": {"resultCode": code, "resultStatus": status, "resultMessage": message}})
            .to_string();
        let time = wire_time(self.now());
        let client_id = self.inner.config.client_id.clone();
        let mut headers = vec![
            ("Content-Type".to_owned(), "application/json; charset=UTF-8".to_owned()),
            ("Client-Id".to_owned(), client_id.clone()),
            ("Response-Time".to_owned(), time.clone()),
        ];
        if !self.has(Fault::UnsignedAck) {
            // Under `bad-ack-signature` the signature covers a different body than the one sent.
            let signed_body =
                if self.has(Fault::BadAckSignature) { format!("{body} ") } else { body.clone() };
            let parts = MessageParts {
                method: "POST",
                uri,
                client_id: &client_id,
                time: &time,
                body: signed_body.as_bytes(),
            };
            if let Ok(signature) = self.inner.key.sign_message(&parts, Some(self.inner.config.key_version)) {
                headers.push(("Signature".to_owned(), signature));
            }
        }
        NotifyAck { headers, body }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_utc_mistake_closes_the_window_hours_early_for_a_morning_sale() {
        // 07:59:30 UTC+8 on the 11th (23:59:30 UTC on the 10th): the window runs to 00:15 UTC+8
        // on the 12th; computed in UTC it would close at 00:15 UTC on the 11th.
        let created = datetime!(2025-03-10 23:59:30 UTC);
        assert_eq!(cancel_window_end(created), datetime!(2025-03-11 16:15 UTC));
        assert_eq!(cancel_window_end_in_utc(created), datetime!(2025-03-11 00:15 UTC));
    }

    #[test]
    fn cancel_window_closes_at_0015_next_day_utc8() {
        // 23:59 UTC+8 on the 10th → window ends 00:15 UTC+8 on the 11th.
        let created = datetime!(2025-03-10 15:59 UTC);
        assert_eq!(cancel_window_end(created), datetime!(2025-03-10 16:15 UTC));
        // 00:30 UTC+8 on the 11th (16:30 UTC on the 10th) → 00:15 on the 12th.
        let created = datetime!(2025-03-10 16:30 UTC);
        assert_eq!(cancel_window_end(created), datetime!(2025-03-11 16:15 UTC));
    }

    #[test]
    fn ids_are_short_and_distinct() {
        let now = datetime!(2025-03-10 15:59 UTC);
        let a = new_id("pay", now);
        let b = new_id("pay", now);
        assert_ne!(a, b);
        assert!(a.len() <= 64 && a.starts_with("pay_20250310235900_"), "{a}");
    }
}
