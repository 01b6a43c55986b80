//! What a test run arranges for itself in the sandbox, touching only its own buyer's (or
//! merchant's) objects, so runs of many merchants (and parallel cases on separate buyers) share
//! one sandbox without seeing each other:
//!
//! - mock and tamper rules scoped to a merchant (`referenceMerchantId`) or a buyer account: a
//!   scoped rule catches only calls about that merchant's or buyer's payments;
//! - payments aged into the past (their creation and payment times move back), so a case can put
//!   a sale behind the T+1 cancel window without moving the sandbox clock for everyone;
//! - notifications held back for a buyer, so a case that judges how the ACQP reads `pay`'s answer
//!   is not raced by the `notifyPayment` that follows it;
//! - a `pay` refused for its code (not an Alipay+ code, expired, already used) creates no
//!   notification: the wallet never processed a payment, and the synchronous F is the final word.
//!
//! It is not a second clock: nothing here moves time, only the run's own records.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::{to_millis, MockAction, MockRule, PaymentRecord, Result, Store, StoreError, Tamper};
use plusbox_core::result_code::ResultCode;

/// Whose calls a mock or tamper rule catches. Both `None`: every call (a dashboard rule).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MockScope {
    /// Only calls about payments of this merchant (`order.merchant.referenceMerchantId`).
    pub merchant: Option<String>,
    /// Only calls about payments of this buyer account.
    pub account: Option<String>,
}

impl MockScope {
    /// A scope covering one buyer account.
    pub fn account(account: &str) -> MockScope {
        MockScope { merchant: None, account: Some(account.to_owned()) }
    }

    /// True when the rule catches every call.
    pub fn is_global(&self) -> bool {
        self.merchant.is_none() && self.account.is_none()
    }
}

/// The merchant and buyer a call is about, read from its body and the sandbox's records.
pub(super) fn call_scope(
    tx: &Connection,
    api: &str,
    body: &[u8],
) -> Result<(Option<String>, Option<String>)> {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |v: &Value, pointer: &str| v.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    if api == "pay" {
        let merchant = text(&json, "/order/merchant/referenceMerchantId");
        let account = match text(&json, "/paymentMethod/paymentMethodId") {
            Some(code) => {
                let digits: String = code.chars().filter(char::is_ascii_digit).collect();
                tx.query_row("SELECT account_id FROM code WHERE code = ?1", params![digits], |r| r.get(0))
                    .optional()?
            }
            None => None,
        };
        return Ok((merchant, account));
    }
    let prid = text(&json, "/paymentRequestId");
    let pid = text(&json, "/paymentId");
    if prid.is_none() && pid.is_none() {
        return Ok((None, None));
    }
    let found: Option<(Option<String>, Option<String>)> = tx
        .query_row(
            "SELECT account_id, request_body FROM payment
             WHERE (?1 IS NOT NULL AND payment_request_id = ?1) OR (?2 IS NOT NULL AND payment_id = ?2)
             ORDER BY id DESC LIMIT 1",
            params![prid, pid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match found {
        Some((account, request)) => {
            let request: Value = request.and_then(|b| serde_json::from_str(&b).ok()).unwrap_or(Value::Null);
            (text(&request, "/order/merchant/referenceMerchantId"), account)
        }
        None => (None, None),
    })
}

impl Store {
    /// Adds a mock rule (forced result or tamper) that catches only calls within `scope`.
    /// Without `count` and `minutes` it applies to one call.
    pub fn add_scoped_mock(
        &self,
        api: &str,
        action: MockAction,
        count: Option<u32>,
        minutes: Option<u32>,
        scope: &MockScope,
        now: OffsetDateTime,
    ) -> Result<MockRule> {
        if let Some(account) = &scope.account {
            // A rule for a buyer who does not exist would never catch anything.
            self.account(account)?;
        }
        if scope.merchant.as_deref().is_some_and(|m| m.trim().is_empty() || m.chars().count() > 64) {
            return Err(StoreError::Invalid(
                "a merchant scope is a referenceMerchantId of 1 to 64 characters".into(),
            ));
        }
        self.insert_mock(api, action, count, minutes, scope, now)
    }

    /// Consumes one use of the oldest active rule for `api` that covers this call: an unscoped
    /// rule, or one scoped to the call's merchant or buyer (read from `body` and the payment it
    /// names).
    pub fn take_mock_for(
        &self,
        api: &str,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<(i64, MockAction)>> {
        let now_ms = to_millis(now);
        self.write(|tx| {
            let (merchant, account) = call_scope(tx, api, body)?;
            let rule: Option<(i64, String, Option<String>)> = tx
                .query_row(
                    "SELECT id, result_code, tamper FROM mock
                     WHERE api = ?1 AND (remaining IS NULL OR remaining > 0) AND (until IS NULL OR until > ?2)
                       AND (scope_merchant IS NULL OR scope_merchant = ?3)
                       AND (scope_account IS NULL OR scope_account = ?4)
                     ORDER BY id LIMIT 1",
                    params![api, now_ms, merchant, account],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((id, code, tamper)) = rule else { return Ok(None) };
            tx.execute(
                "UPDATE mock SET hits = hits + 1, remaining = CASE WHEN remaining IS NULL THEN NULL ELSE remaining - 1 END WHERE id = ?1",
                params![id],
            )?;
            let action = match tamper.as_deref().map(str::parse::<Tamper>) {
                Some(Ok(tamper)) => Some(MockAction::Tamper(tamper)),
                _ => ResultCode::from_wire(&code).map(MockAction::Force),
            };
            Ok(action.map(|a| (id, a)))
        })
    }

    /// Moves the given payments `by` into the past: creation, expiry and payment times, and the
    /// times of their refunds. Returns how many payments were aged. Used by test runs to put a
    /// sale behind the T+1 cancel window (or the refund window, or into a past clearing cycle)
    /// without moving any clock. Clearing files already made for the days the records leave or
    /// enter are dropped, to be made again from the records (store/recon.rs).
    pub fn age_payments(&self, payment_ids: &[String], by: Duration) -> Result<usize> {
        if by.is_negative() {
            return Err(StoreError::Invalid("payments can only be aged into the past".into()));
        }
        let ms = i64::try_from(by.whole_milliseconds())
            .map_err(|_| StoreError::Invalid(format!("{by} is too long to age a payment by")))?;
        self.write(|tx| {
            let mut aged = 0;
            for id in payment_ids {
                super::recon::forget_files_of_aged(tx, id, ms)?;
                aged += tx.execute(
                    "UPDATE payment SET created_at = created_at - ?1, expires_at = expires_at - ?1,
                        paid_at = CASE WHEN paid_at IS NULL THEN NULL ELSE paid_at - ?1 END,
                        closed_at = CASE WHEN closed_at IS NULL THEN NULL ELSE closed_at - ?1 END
                     WHERE payment_id = ?2",
                    params![ms, id],
                )?;
                tx.execute(
                    "UPDATE refund SET created_at = created_at - ?1
                     WHERE payment_row = (SELECT id FROM payment WHERE payment_id = ?2)",
                    params![ms, id],
                )?;
            }
            Ok(aged)
        })
    }

    /// Creates buyer account `id` (if it does not exist yet) with the wallet persona and PIN of
    /// `like`, the default scenario and no balance: a separate buyer for a parallel test worker.
    /// True if it was created.
    pub fn ensure_buyer_like(&self, id: &str, like: &str, now: OffsetDateTime) -> Result<bool> {
        if id.is_empty()
            || id.len() > 64
            || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(StoreError::Invalid(format!(
                "{id:?} is not an account id (letters, digits, - and _)"
            )));
        }
        self.write(|tx| {
            let template: Option<(String, String, String)> = tx
                .query_row("SELECT pin, wallet, customer_id FROM account WHERE id = ?1", params![like], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            let (pin, wallet, customer) =
                template.ok_or_else(|| StoreError::NotFound(format!("no buyer account {like:?}")))?;
            // A wallet user id of its own: the template's with the new id's digits appended.
            let digits: String = id.chars().filter(char::is_ascii_digit).collect();
            let created = tx.execute(
                "INSERT OR IGNORE INTO account (id, name, scenario, pin, wallet, customer_id, created_at)
                 VALUES (?1, ?2, 'success', ?3, ?4, ?5, ?6)",
                params![
                    id,
                    format!("Test buyer {id}"),
                    pin,
                    wallet,
                    format!("{customer}{digits}"),
                    to_millis(now)
                ],
            )?;
            Ok(created == 1)
        })
    }

    /// Holds back the first delivery of notifications of `account`'s payments by `delay`, for
    /// payments that reach a final state before `until`.
    pub fn hold_notifications(&self, account: &str, delay: Duration, until: OffsetDateTime) -> Result<()> {
        let ms = i64::try_from(delay.whole_milliseconds())
            .map_err(|_| StoreError::Invalid(format!("{delay} is too long a notification delay")))?;
        if ms <= 0 {
            return Err(StoreError::Invalid("a notification delay must be longer than zero".into()));
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO notify_hold (account_id, delay_ms, until) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account_id) DO UPDATE SET delay_ms = excluded.delay_ms, until = excluded.until",
                params![account, ms, to_millis(until)],
            )?;
            Ok(())
        })
    }

    /// Ends a hold set by [`Store::hold_notifications`]; false if there was none.
    pub fn release_notifications(&self, account: &str) -> Result<bool> {
        self.write(
            |tx| Ok(tx.execute("DELETE FROM notify_hold WHERE account_id = ?1", params![account])? > 0),
        )
    }
}

/// When the first delivery of `payment`'s notification is due: now, or later while its buyer's
/// notifications are held back.
pub(super) fn notify_due(
    tx: &Connection,
    payment: &PaymentRecord,
    now: OffsetDateTime,
) -> Result<OffsetDateTime> {
    let Some(account) = &payment.account_id else { return Ok(now) };
    let delay: Option<i64> = tx
        .query_row(
            "SELECT delay_ms FROM notify_hold WHERE account_id = ?1 AND until > ?2",
            params![account, to_millis(now)],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match delay {
        Some(ms) => now.checked_add(Duration::milliseconds(ms)).unwrap_or(now),
        None => now,
    })
}

/// A `pay` refused for its code: the payment record keeps the refusal (so a repeat of the same
/// `paymentRequestId` and an inquiry give the same F), but no notification is queued — the wallet
/// never saw a payment, and `notifyPayment` reports the result of processing (alipayplus-api.md
/// §10: "sent once processing is final"); the synchronous F already is that result.
pub(super) fn refuse_code(
    tx: &Connection,
    payment: &PaymentRecord,
    code: ResultCode,
    message: &str,
    now: OffsetDateTime,
) -> Result<()> {
    super::mark_failed(tx, payment, code, message, now)
}
