//! Order codes (merchant-presented mode, issued by Alipay+; alipayplus-api.md §5,
//! payment-codes.md §4.1): `pay` with `OrderCode` creates a payment that no buyer owns yet and an
//! order code for it; the buyer's wallet scans the code, sees the order, and confirms (with the
//! PIN when the buyer's scenario asks for one) or declines. The payment then follows the same
//! rules as any other: expiry, notification, inquiry, cancel and refund.
//!
//! A scan is refused, naming why, when the code is unknown (`INVALID_CODE`), expired
//! (`EXPIRED_CODE`), cancelled, paid, refused or already taken by a buyer (`ORDER_IS_CLOSED`).

use plusbox_core::codes::mpm::{new_order_code, DEFAULT_ORDER_CODE_DOMAIN};
use plusbox_core::money::Amount;
use plusbox_core::protocol::time::format_instant;
use plusbox_core::result_code::ResultCode;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::{
    debit_or_fail, fail_payment, find_payment, from_millis, get_meta, load_payment_by_row, persona_of,
    settle_if_due, to_millis, AppRecord, BalanceView, Cached, PayState, PaymentRecord, Result, Store,
    StoreError, PAYMENT_COLUMNS,
};
use crate::scenario::{Plan, Scenario, Start};

/// Order-code expiry when `pay` gives no `paymentExpiryTime`: 14 minutes (§5, the family sample).
pub const ORDER_CODE_EXPIRY: Duration = Duration::minutes(14);

/// Entry-code payment expiry when `pay` gives no `paymentExpiryTime`: 10 minutes, the Alipay+
/// cashier cap (§6).
pub const ENTRY_CODE_EXPIRY: Duration = Duration::minutes(10);

/// Path of the sandbox's cashier page for an entry-code payment (`paymentUrl`, §6).
pub const CASHIER_PATH: &str = "/cashier/";

/// Random letters/digits in a cashier URL: the URL is the only key to the payment's page.
pub const CASHIER_TOKEN_LEN: usize = 32;

/// Which merchant-presented `pay` a payment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MerchantCodeKind {
    /// `OrderCode`: the sandbox issues an order code (§5).
    Order,
    /// `EntryCode`: the sandbox answers with a `paymentUrl` to its cashier page (§6).
    Entry,
}

impl MerchantCodeKind {
    /// The `order_code.kind` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            MerchantCodeKind::Order => "order",
            MerchantCodeKind::Entry => "entry",
        }
    }
}

/// Input to [`Store::pay_order_code`], validated by the gateway.
#[derive(Debug, Clone)]
pub struct OrderCodeInput {
    /// The ACQP's idempotency key.
    pub payment_request_id: String,
    /// Canonical JSON of the key fields compared on repeats.
    pub key_fields: String,
    /// Amount.
    pub amount: Amount,
    /// Requested expiry (`paymentExpiryTime`).
    pub expiry: Option<OffsetDateTime>,
    /// Requested notification URL.
    pub notify_url: Option<String>,
    /// `order.env.userAgent`.
    pub user_agent: String,
    /// Order code or entry code.
    pub kind: MerchantCodeKind,
    /// The raw request body (merchant, store and order shown to the buyer).
    pub request_body: String,
}

/// An order code as issued: its value and expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedOrderCode {
    /// The code value (`https://global.alipay.com/28100204…`).
    pub code: String,
    /// When it expires.
    pub expires_at: OffsetDateTime,
    /// The sandbox's base URL, for the image endpoint in `codeDetails`.
    pub base_url: String,
}

/// What `pay` with `OrderCode` produced.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // short-lived, one per request
pub enum OrderCodeOutcome {
    /// A payment and its order code (new, or the current state of a repeat).
    Issued {
        /// The payment.
        payment: PaymentRecord,
        /// Its order code.
        code: IssuedOrderCode,
        /// Whether this repeated an earlier request.
        repeat: bool,
    },
    /// Refused without a payment (e.g. `REPEAT_REQ_INCONSISTENT`).
    Refused(ResultCode, String),
}

/// Why a scanned order code cannot be paid: a result code and words for the buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCodeRefusal {
    /// `INVALID_CODE`, `EXPIRED_CODE` or `ORDER_IS_CLOSED` (result codes, §16.2), or
    /// `PIN_REQUIRED` (a confirmation without the PIN this buyer needs; nothing changed).
    pub code: &'static str,
    /// What the wallet tells the buyer.
    pub message: String,
}

impl OrderCodeRefusal {
    /// A refusal with a result code's name and words for the buyer.
    pub fn new(code: ResultCode, message: impl Into<String>) -> Self {
        OrderCodeRefusal { code: code.as_str(), message: message.into() }
    }
}

/// What the buyer's wallet shows after scanning an order code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCodeView {
    /// The code value scanned.
    pub code: String,
    /// Alipay+ paymentId.
    pub payment_id: String,
    /// The ACQP's paymentRequestId.
    pub payment_request_id: String,
    /// Merchant name (`merchantDisplayName`, else `merchantName`), when the order gives one.
    pub merchant: Option<String>,
    /// `referenceMerchantId`.
    pub merchant_id: Option<String>,
    /// Store name, when given.
    pub store: Option<String>,
    /// `referenceStoreId`, when given.
    pub store_id: Option<String>,
    /// `orderDescription`, when given.
    pub description: Option<String>,
    /// Amount on the wire.
    pub amount: BalanceView,
    /// Human amount, e.g. `12.50 USD`.
    pub display_amount: String,
    /// Expiry, ISO 8601.
    pub expires_at: String,
    /// Whether confirming needs this buyer's PIN (the buyer's scenario is `pin`).
    pub pin_required: bool,
}

/// The buyer's answer to a scanned order code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuyerDecision<'a> {
    /// Pay, with the PIN when one is asked for.
    Confirm(Option<&'a str>),
    /// Refuse to pay.
    Decline,
}

impl Store {
    /// `pay` with `inStorePaymentScenario = OrderCode`: idempotency, then a PROCESSING payment
    /// without a buyer and its order code, expiring at `paymentExpiryTime` or after 14 minutes.
    pub fn pay_order_code(
        &self,
        app: &AppRecord,
        input: &OrderCodeInput,
        now: OffsetDateTime,
    ) -> Result<OrderCodeOutcome> {
        self.write(|tx| {
            let base_url = base_url(tx)?;
            if let Some(existing) =
                find_payment(tx, app.id, Some(&input.payment_request_id), None)?.ok().flatten()
            {
                if existing.key_fields != input.key_fields {
                    return Ok(OrderCodeOutcome::Refused(
                        ResultCode::RepeatReqInconsistent,
                        "paymentRequestId was used before with a different paymentAmount, paymentFactor, settlementStrategy or paymentMethodType".into(),
                    ));
                }
                let payment = settle_if_due(tx, existing, now)?;
                let Some((code, expires_at)) = code_of_payment(tx, payment.row)? else {
                    return Ok(OrderCodeOutcome::Refused(
                        ResultCode::RepeatReqInconsistent,
                        "paymentRequestId was used before for a payment that is not an order code".into(),
                    ));
                };
                let code = IssuedOrderCode { code, expires_at, base_url };
                return Ok(OrderCodeOutcome::Issued { payment, code, repeat: true });
            }
            let default_expiry = match input.kind {
                MerchantCodeKind::Order => ORDER_CODE_EXPIRY,
                MerchantCodeKind::Entry => ENTRY_CODE_EXPIRY,
            };
            let expires = input.expiry.unwrap_or_else(|| crate::clock::add_saturating(now, default_expiry));
            if expires <= now {
                return Ok(OrderCodeOutcome::Refused(
                    ResultCode::ParamIllegal,
                    format!("paymentExpiryTime {} is not in the future", format_instant(expires)),
                ));
            }
            let mut rng = self.id_source();
            let payment_id = crate::ids::payment_id(now, &mut *rng);
            // The 28 random characters make a collision astronomically unlikely; retry anyway.
            let mut code = None;
            for _ in 0..5 {
                let candidate = match input.kind {
                    MerchantCodeKind::Order => new_order_code(DEFAULT_ORDER_CODE_DOMAIN, &mut *rng),
                    MerchantCodeKind::Entry => format!(
                        "{}{CASHIER_PATH}{}",
                        base_url.trim_end_matches('/'),
                        plusbox_core::codes::random_alphanumeric(&mut *rng, CASHIER_TOKEN_LEN)
                    ),
                };
                let taken: Option<i64> = tx
                    .query_row_cached("SELECT 1 FROM order_code WHERE code = ?1", params![candidate], |r| r.get(0))
                    .optional()?;
                if taken.is_none() {
                    code = Some(candidate);
                    break;
                }
            }
            drop(rng);
            let code = code.ok_or_else(|| StoreError::Invalid("could not generate a unique order code".into()))?;
            // Until a buyer scans it, the payment belongs to no buyer and no wallet persona.
            let persona = persona_of(None)?;
            tx.execute_cached(
                "INSERT INTO payment (app_id, payment_request_id, payment_id, key_fields, account_id, code, currency, amount, state, created_at, expires_at, notify_url, psp_id, wallet_brand_name, customer_id, request_body, plan, awaits_buyer)
                 VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, 'PROCESSING', ?8, ?9, ?10, ?11, ?12, NULL, ?13, ?14, 1)",
                params![
                    app.id,
                    input.payment_request_id,
                    payment_id,
                    input.key_fields,
                    code,
                    input.amount.currency.code(),
                    input.amount.value,
                    to_millis(now),
                    to_millis(expires),
                    input.notify_url,
                    persona.psp_id,
                    persona.wallet_brand_name,
                    input.request_body,
                    match input.kind {
                        MerchantCodeKind::Order => "order code: waiting for a buyer to scan it",
                        MerchantCodeKind::Entry => "entry code: waiting for the buyer on the cashier page",
                    },
                ],
            )?;
            let row = tx.last_insert_rowid();
            tx.execute_cached(
                "INSERT INTO order_code (code, payment_row, user_agent, created_at, expires_at, kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![code, row, input.user_agent, to_millis(now), to_millis(expires), input.kind.as_str()],
            )?;
            let payment = load_payment_by_row(tx, row)?;
            Ok(OrderCodeOutcome::Issued {
                payment,
                code: IssuedOrderCode { code, expires_at: expires, base_url },
                repeat: false,
            })
        })
    }

    /// The buyer's wallet decodes a scanned order code: the order to show, or why it cannot be
    /// paid. Settles what is due first, so a code past its expiry reads as expired.
    pub fn decode_order_code(
        &self,
        code: &str,
        account: &str,
        now: OffsetDateTime,
    ) -> Result<std::result::Result<OrderCodeView, OrderCodeRefusal>> {
        self.write(|tx| {
            let payment = match payable(tx, code, now)? {
                Ok(payment) => payment,
                Err(refusal) => return Ok(Err(refusal)),
            };
            let (scenario, magic) = buyer_scenario(tx, account, payment.app_id)?;
            let plan = Plan::choose(scenario, payment.amount.value, magic);
            Ok(Ok(view(tx, code, &payment, plan.awaits_buyer)?))
        })
    }

    /// The buyer confirms or declines a scanned order code. Confirming binds the payment to the
    /// buyer and runs the buyer's scenario (or magic amount): pay, ask for the PIN, refuse, or
    /// hold; a wrong PIN fails the payment (`USER_PAYMENT_VERIFICATION_FAILED`), a missing one
    /// changes nothing. Declining fails it (`PROCESS_FAIL`). Either way the one notification
    /// of the final state is queued.
    pub fn answer_order_code(
        &self,
        code: &str,
        account: &str,
        decision: BuyerDecision<'_>,
        now: OffsetDateTime,
    ) -> Result<std::result::Result<PaymentRecord, OrderCodeRefusal>> {
        self.write(|tx| {
            let payment = match payable(tx, code, now)? {
                Ok(payment) => payment,
                Err(refusal) => return Ok(Err(refusal)),
            };
            let (wallet, customer_id, pin): (String, String, String) = tx
                .query_row_cached(
                    "SELECT wallet, customer_id, pin FROM account WHERE id = ?1",
                    params![account],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("no buyer account {account:?}")))?;
            let (scenario, magic) = buyer_scenario(tx, account, payment.app_id)?;
            let plan = Plan::choose(scenario, payment.amount.value, magic);
            if let BuyerDecision::Confirm(None) = decision {
                if plan.awaits_buyer {
                    return Ok(Err(OrderCodeRefusal {
                        code: "PIN_REQUIRED",
                        message: "this buyer confirms with a PIN: enter the PIN to pay".into(),
                    }));
                }
            }
            let persona = persona_of(Some(&wallet))?;
            let (resolve_at, resolve_code) = match plan.resolve {
                Some((after, code)) => (
                    Some(to_millis(crate::clock::add_saturating(now, after))),
                    Some(code.unwrap_or(ResultCode::Success).as_str()),
                ),
                None => (None, None),
            };
            tx.execute_cached(
                "UPDATE payment SET account_id = ?1, customer_id = ?2, psp_id = ?3, wallet_brand_name = ?4, plan = ?5, resolve_at = ?6, resolve_code = ?7, stuck = ?8, awaits_buyer = 0, withhold_notify = ?9, inquiry_faults = ?10, refund_faults = ?11, cancel_faults = ?12 WHERE id = ?13",
                params![
                    account,
                    customer_id,
                    persona.psp_id,
                    persona.wallet_brand_name,
                    format!("order code, {}", plan.source),
                    resolve_at,
                    resolve_code,
                    plan.stuck,
                    plan.withhold_notify,
                    plan.inquiry_faults,
                    plan.refund_faults,
                    plan.cancel_faults,
                    payment.row,
                ],
            )?;
            tx.execute_cached(
                "UPDATE order_code SET scanned_by = ?1, scanned_at = ?2 WHERE code = ?3",
                params![account, to_millis(now), code],
            )?;
            let bound = load_payment_by_row(tx, payment.row)?;
            match decision {
                BuyerDecision::Decline => {
                    fail_payment(tx, &bound, ResultCode::ProcessFail, "the buyer declined the payment", now)?
                }
                BuyerDecision::Confirm(given) => match &plan.start {
                    Start::Refuse(code, message) => fail_payment(tx, &bound, *code, message, now)?,
                    _ if plan.awaits_buyer && given != Some(pin.as_str()) => fail_payment(
                        tx,
                        &bound,
                        ResultCode::UserPaymentVerificationFailed,
                        "the buyer entered a wrong PIN",
                        now,
                    )?,
                    Start::Pay => debit_or_fail(tx, &bound, now)?,
                    // A PIN scenario pays once the PIN matched; other holds (magic amounts 901,
                    // 902, 905, 909, 913) settle by themselves or wait for the ACQP's cancel.
                    Start::Hold if plan.awaits_buyer => debit_or_fail(tx, &bound, now)?,
                    Start::Hold => {}
                },
            }
            Ok(Ok(load_payment_by_row(tx, payment.row)?))
        })
    }

    /// The order behind a merchant-presented code as the cashier page shows it before a buyer
    /// is known (no PIN decision yet), or why it cannot be paid.
    pub fn peek_order_code(
        &self,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<std::result::Result<OrderCodeView, OrderCodeRefusal>> {
        self.write(|tx| {
            let payment = match payable(tx, code, now)? {
                Ok(payment) => payment,
                Err(refusal) => return Ok(Err(refusal)),
            };
            Ok(Ok(view(tx, code, &payment, false)?))
        })
    }

    /// The cashier URL (the `paymentUrl`) of an entry-code payment from its token, if any.
    pub fn cashier_code(&self, token: &str) -> Result<Option<String>> {
        if token.len() != CASHIER_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let suffix = format!("{CASHIER_PATH}{token}");
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT code FROM order_code WHERE kind = 'entry' AND substr(code, -?2) = ?1",
                    params![suffix, i64::try_from(suffix.len()).unwrap_or(i64::MAX)],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    /// Whether this sandbox issued `code` (for the image endpoint).
    pub fn order_code_exists(&self, code: &str) -> Result<bool> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT 1 FROM order_code WHERE code = ?1 AND kind = 'order'",
                    params![code],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                .is_some())
        })
    }
}

/// The sandbox's advertised base URL (for the order-code image endpoint).
fn base_url(tx: &Connection) -> Result<String> {
    Ok(get_meta(tx, "gateway_url")?.unwrap_or_else(|| "http://127.0.0.1:8787".into()))
}

fn code_of_payment(tx: &Connection, row: i64) -> Result<Option<(String, OffsetDateTime)>> {
    Ok(tx
        .query_row_cached(
            "SELECT code, expires_at FROM order_code WHERE payment_row = ?1",
            params![row],
            |r| Ok((r.get::<_, String>(0)?, from_millis(r.get(1)?))),
        )
        .optional()?)
}

/// The payment behind a scanned code if a buyer may still pay it, else why not.
fn payable(
    tx: &Connection,
    code: &str,
    now: OffsetDateTime,
) -> Result<std::result::Result<PaymentRecord, OrderCodeRefusal>> {
    let found = tx
        .query_row_cached(
            &format!(
                "SELECT {PAYMENT_COLUMNS} FROM payment WHERE id = (SELECT payment_row FROM order_code WHERE code = ?1)"
            ),
            params![code],
            super::payment_from_row,
        )
        .optional()?;
    let Some(payment) = found else {
        return Ok(Err(OrderCodeRefusal::new(
            ResultCode::InvalidCode,
            "this is not an order code issued by this sandbox; ask the merchant for a new code",
        )));
    };
    let payment = settle_if_due(tx, payment, now)?;
    let expired_at = format_instant(payment.expires_at);
    let refusal = match payment.state {
        PayState::Processing if payment.account_id.is_none() && now < payment.expires_at => {
            return Ok(Ok(payment))
        }
        PayState::Processing if payment.account_id.is_none() => OrderCodeRefusal::new(
            ResultCode::ExpiredCode,
            format!("this order code expired at {expired_at}; ask the merchant for a new code"),
        ),
        PayState::Processing => OrderCodeRefusal::new(
            ResultCode::OrderIsClosed,
            "this order is already being paid by a buyer; it cannot be paid twice",
        ),
        PayState::Closed => OrderCodeRefusal::new(
            ResultCode::ExpiredCode,
            format!("this order code expired at {expired_at}; ask the merchant for a new code"),
        ),
        PayState::Cancelled => OrderCodeRefusal::new(
            ResultCode::OrderIsClosed,
            "the merchant cancelled this order; it cannot be paid",
        ),
        PayState::Success => OrderCodeRefusal::new(
            ResultCode::OrderIsClosed,
            "this order was already paid; it cannot be paid twice",
        ),
        PayState::Failed => OrderCodeRefusal::new(
            ResultCode::OrderIsClosed,
            format!(
                "this order was already refused ({}); ask the merchant for a new code",
                payment.fail_code.map(ResultCode::as_str).unwrap_or("PROCESS_FAIL")
            ),
        ),
    };
    Ok(Err(refusal))
}

/// The buyer's scenario and whether the payment's application has magic amounts on.
fn buyer_scenario(tx: &Connection, account: &str, app_id: i64) -> Result<(Scenario, bool)> {
    let scenario: String = tx
        .query_row_cached("SELECT scenario FROM account WHERE id = ?1", params![account], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no buyer account {account:?}")))?;
    let magic: bool =
        tx.query_row_cached("SELECT magic_amounts FROM app WHERE id = ?1", params![app_id], |r| r.get(0))?;
    Ok((scenario.parse::<Scenario>().unwrap_or(Scenario::Success), magic))
}

fn view(tx: &Connection, code: &str, payment: &PaymentRecord, pin_required: bool) -> Result<OrderCodeView> {
    let body: Option<String> =
        tx.query_row_cached("SELECT request_body FROM payment WHERE id = ?1", params![payment.row], |r| {
            r.get(0)
        })?;
    let json: Value = body.as_deref().and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
    let text = |pointer: &str| json.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    Ok(OrderCodeView {
        code: code.to_string(),
        payment_id: payment.payment_id.clone(),
        payment_request_id: payment.payment_request_id.clone(),
        merchant: text("/order/merchant/merchantDisplayName")
            .or_else(|| text("/order/merchant/merchantName")),
        merchant_id: text("/order/merchant/referenceMerchantId"),
        store: text("/order/merchant/store/storeName"),
        store_id: text("/order/merchant/store/referenceStoreId"),
        description: text("/order/orderDescription"),
        amount: BalanceView {
            currency: payment.amount.currency.code().to_string(),
            value: payment.amount.value.to_string(),
        },
        display_amount: payment.amount.to_string(),
        expires_at: format_instant(payment.expires_at),
        pin_required,
    })
}
