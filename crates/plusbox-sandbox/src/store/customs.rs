//! Customs declarations (alipayplus-api.md §13.2): `declare` for successful Alipay (CN)
//! payments, idempotent by `customsDeclarationRequestId`, and the records
//! `inquireDeclarationRequests` reports, whose status follows from their age on the sandbox clock.
//!
//! Plusbox decisions (docs/registration-customs-disputes.md). The reference says a declaration
//! stays `WAITING_FOR_PROCESSING`; issue 16 asks for status changes over sandbox time, so it moves
//! on: `WAITING_FOR_PROCESSING` for [`WAITING`], then `PROCESSING` until [`DECIDED`], then
//! `SUCCESS` (customs result code `2`) — or `FAIL` (code `100`) when the merchant customs code
//! contains [`FAIL_MARKER`]. Declarations of one CNY payment may not total more than it.

use super::*;

/// The `pspId` of the Alipay (CN) persona: the only wallet whose payments are declared.
pub const ALIPAY_CN_PSP_ID: &str = "1022088000000000001";

/// How long a declaration waits before customs picks it up (sandbox time).
pub const WAITING: Duration = Duration::minutes(5);

/// When customs has decided, counted from the declaration (sandbox time).
pub const DECIDED: Duration = Duration::minutes(10);

/// A merchant customs code containing this (any case) is refused by customs.
pub const FAIL_MARKER: &str = "FAIL";

/// What the gateway hands the store for a `declare`.
#[derive(Debug, Clone)]
pub struct DeclareInput {
    /// `customsDeclarationRequestId`.
    pub customs_declaration_request_id: String,
    /// Canonical JSON of the body (a repeat must match it).
    pub key_fields: String,
    /// `paymentRequestId` of the declared payment.
    pub payment_request_id: String,
    /// `customs.customsCode`.
    pub customs_code: String,
    /// `customs.region`.
    pub region: String,
    /// `merchantCustomsInfo.merchantCustomsCode`.
    pub merchant_customs_code: String,
    /// `merchantCustomsInfo.merchantCustomsName`.
    pub merchant_customs_name: String,
    /// `declarationAmount` (CNY).
    pub amount: Amount,
    /// `isSplit`.
    pub is_split: Option<String>,
    /// `referenceOrderId`.
    pub reference_order_id: Option<String>,
}

/// One declaration as stored.
#[derive(Debug, Clone)]
pub struct DeclarationRecord {
    /// `customsDeclarationRequestId`.
    pub customs_declaration_request_id: String,
    /// The sandbox's own id for it.
    pub psp_declaration_request_id: String,
    /// The declared payment's `paymentId`.
    pub payment_id: String,
    /// `customs.customsCode`.
    pub customs_code: String,
    /// `customs.region`.
    pub region: String,
    /// `merchantCustomsInfo.merchantCustomsCode`.
    pub merchant_customs_code: String,
    /// `merchantCustomsInfo.merchantCustomsName`.
    pub merchant_customs_name: String,
    /// `declarationAmount`.
    pub amount: Amount,
    /// `isSplit`.
    pub is_split: Option<String>,
    /// `referenceOrderId`.
    pub reference_order_id: Option<String>,
    /// When it was accepted.
    pub created_at: OffsetDateTime,
}

impl DeclarationRecord {
    /// The record as `inquireDeclarationRequests` reports it at `now`.
    pub fn wire(&self, now: OffsetDateTime) -> Value {
        let waited = crate::clock::add_saturating(self.created_at, WAITING);
        let decided = crate::clock::add_saturating(self.created_at, DECIDED);
        let refused = self.merchant_customs_code.to_ascii_uppercase().contains(FAIL_MARKER);
        let (status, modified) = if now >= decided {
            (if refused { "FAIL" } else { "SUCCESS" }, decided)
        } else if now >= waited {
            ("PROCESSING", waited)
        } else {
            ("WAITING_FOR_PROCESSING", self.created_at)
        };
        let mut record = json!({
            "customsDeclarationRequestId": self.customs_declaration_request_id,
            "pspDeclarationRequestId": self.psp_declaration_request_id,
            "pspPaymentId": self.payment_id,
            "customs": {"customsCode": self.customs_code, "region": self.region},
            "merchantCustomsInfo": {"merchantCustomsCode": self.merchant_customs_code, "merchantCustomsName": self.merchant_customs_name},
            "declarationAmount": self.amount.to_wire(),
            "declarationRequestStatus": status,
            "modifiedTime": format_instant(modified),
        });
        if let Some(split) = &self.is_split {
            record["isSplit"] = json!(split);
        }
        if let Some(order) = &self.reference_order_id {
            record["referenceOrderId"] = json!(order);
        }
        if now >= decided {
            let (code, description) = if refused {
                ("100", "the customs refused the declaration (the merchant customs code carries the sandbox's FAIL marker)")
            } else {
                ("2", "the customs accepted the declaration")
            };
            record["customsResultCode"] = json!(code);
            record["customsResultDescription"] = json!(description);
            record["customsResultReturnedTime"] = json!(format_instant(decided));
        }
        record
    }
}

/// What became of a `declare`.
#[derive(Debug, Clone)]
pub enum DeclareOutcome {
    /// Accepted now, or the identical repeat of an accepted declaration.
    Accepted {
        /// The declaration (boxed: a record is large beside a refusal).
        record: Box<DeclarationRecord>,
        /// True for a repeat.
        repeat: bool,
    },
    /// Refused: the code and message to answer with.
    Refused(ResultCode, String),
}

const DECLARATION_COLUMNS: &str = "d.customs_declaration_request_id, d.psp_declaration_request_id, p.payment_id, d.customs_code, d.region, d.merchant_customs_code, d.merchant_customs_name, d.currency, d.amount, d.is_split, d.reference_order_id, d.created_at";

fn declaration_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeclarationRecord> {
    Ok(DeclarationRecord {
        customs_declaration_request_id: r.get(0)?,
        psp_declaration_request_id: r.get(1)?,
        payment_id: r.get(2)?,
        customs_code: r.get(3)?,
        region: r.get(4)?,
        merchant_customs_code: r.get(5)?,
        merchant_customs_name: r.get(6)?,
        amount: amount_from_row(r, 7, 8)?,
        is_split: r.get(9)?,
        reference_order_id: r.get(10)?,
        created_at: from_millis(r.get(11)?),
    })
}

impl Store {
    /// `declare`: idempotency first, then the payment (this application's, successful, Alipay
    /// (CN), enough left to declare for a CNY payment), then a new declaration.
    pub fn declare(
        &self,
        app: &AppRecord,
        input: &DeclareInput,
        now: OffsetDateTime,
    ) -> Result<DeclareOutcome> {
        let psp_id = {
            let mut rng = self.id_source();
            ids::payment_id(now, &mut *rng)
        };
        self.write(|tx| {
            let earlier = tx
                .query_row_cached(
                    &format!("SELECT {DECLARATION_COLUMNS}, d.key_fields FROM declaration d JOIN payment p ON p.id = d.payment_row WHERE d.app_id = ?1 AND d.customs_declaration_request_id = ?2"),
                    params![app.id, input.customs_declaration_request_id],
                    |r| Ok((declaration_from_row(r)?, r.get::<_, String>(12)?)),
                )
                .optional()?;
            if let Some((record, key_fields)) = earlier {
                if key_fields == input.key_fields {
                    return Ok(DeclareOutcome::Accepted { record: Box::new(record), repeat: true });
                }
                return Ok(DeclareOutcome::Refused(
                    ResultCode::RepeatReqInconsistent,
                    format!(
                        "customsDeclarationRequestId {:?} was used for a different declaration; re-send the original body or use a new customsDeclarationRequestId",
                        input.customs_declaration_request_id
                    ),
                ));
            }
            let payment = match find_payment(tx, app.id, Some(&input.payment_request_id), None)? {
                Ok(Some(payment)) => payment,
                _ => {
                    return Ok(DeclareOutcome::Refused(
                        ResultCode::OrderNotExist,
                        format!("no payment with paymentRequestId {:?}", input.payment_request_id),
                    ))
                }
            };
            if payment.psp_id != ALIPAY_CN_PSP_ID {
                return Ok(DeclareOutcome::Refused(
                    ResultCode::ProcessFail,
                    format!(
                        "customs declarations are for Alipay (CN) payments only; {} was paid with {} (pspId {})",
                        payment.payment_id, payment.wallet_brand_name, payment.psp_id
                    ),
                ));
            }
            if payment.state != PayState::Success {
                return Ok(DeclareOutcome::Refused(
                    ResultCode::ProcessFail,
                    format!("payment {} is {}; only a successful payment is declared", payment.payment_id, payment.state.as_str()),
                ));
            }
            if payment.amount.currency == input.amount.currency {
                let declared: i64 = tx.query_row_cached(
                    "SELECT COALESCE(SUM(amount), 0) FROM declaration WHERE payment_row = ?1",
                    params![payment.row],
                    |r| r.get(0),
                )?;
                let total = declared.checked_add(input.amount.value);
                if total.is_none_or(|t| t > payment.amount.value) {
                    return Ok(DeclareOutcome::Refused(
                        ResultCode::ProcessFail,
                        format!(
                            "declarations of {} would total more than its amount ({} CNY minor units already declared)",
                            payment.payment_id, declared
                        ),
                    ));
                }
            }
            tx.execute_cached(
                "INSERT INTO declaration (app_id, customs_declaration_request_id, key_fields, payment_row, psp_declaration_request_id, customs_code, region, merchant_customs_code, merchant_customs_name, currency, amount, is_split, reference_order_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    app.id,
                    input.customs_declaration_request_id,
                    input.key_fields,
                    payment.row,
                    psp_id,
                    input.customs_code,
                    input.region,
                    input.merchant_customs_code,
                    input.merchant_customs_name,
                    input.amount.currency.code(),
                    input.amount.value,
                    input.is_split,
                    input.reference_order_id,
                    to_millis(now),
                ],
            )?;
            let record = tx.query_row_cached(
                &format!("SELECT {DECLARATION_COLUMNS} FROM declaration d JOIN payment p ON p.id = d.payment_row WHERE d.id = ?1"),
                params![tx.last_insert_rowid()],
                declaration_from_row,
            )?;
            Ok(DeclareOutcome::Accepted { record: Box::new(record), repeat: false })
        })
    }

    /// The declarations with these ids (in the order asked), and the ids not found.
    pub fn declarations(&self, app_id: i64, ids: &[String]) -> Result<(Vec<DeclarationRecord>, Vec<String>)> {
        self.read(|tx| {
            let mut found = Vec::new();
            let mut missing = Vec::new();
            for id in ids {
                let record = tx
                    .query_row_cached(
                        &format!("SELECT {DECLARATION_COLUMNS} FROM declaration d JOIN payment p ON p.id = d.payment_row WHERE d.app_id = ?1 AND d.customs_declaration_request_id = ?2"),
                        params![app_id, id],
                        declaration_from_row,
                    )
                    .optional()?;
                match record {
                    Some(record) => found.push(record),
                    None => missing.push(id.clone()),
                }
            }
            Ok((found, missing))
        })
    }

    /// Makes an account pay as another wallet persona (e.g. `ALIPAY_CN`, whose payments are
    /// declared to customs); returns the persona it paid as before.
    pub fn set_wallet(&self, account: &str, wallet_enum: &str) -> Result<String> {
        let persona = WalletTable::builtin()
            .find(wallet_enum)
            .ok_or_else(|| StoreError::NotFound(format!("no wallet persona {wallet_enum:?}")))?
            .wallet_enum
            .clone();
        self.write(|tx| {
            let before: Option<String> = tx
                .query_row_cached("SELECT wallet FROM account WHERE id = ?1", params![account], |r| r.get(0))
                .optional()?;
            let Some(before) = before else {
                return Err(StoreError::NotFound(format!("no buyer account {account:?}")));
            };
            tx.execute_cached("UPDATE account SET wallet = ?1 WHERE id = ?2", params![persona, account])?;
            Ok(before)
        })
    }
}
