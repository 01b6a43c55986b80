//! Refunds (§9): the `refund` call, the refund window, and the refund lines an inquiry lists
//! under `transactions`.

use super::*;

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

impl Store {
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
}

pub(super) fn transactions(tx: &Connection, payment: &PaymentRecord) -> Result<Vec<Value>> {
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
