//! Disputes (alipayplus-api.md §13.3): retrievals and escalations the TSP starts against a
//! recorded payment, the queued signed `initiateRetrieval` / `initiateEscalation` to the ACQP's
//! dispute URL, and the ACQP's answers (`responseRetrieval` / `responseEscalation`).
//!
//! Rules, all on the sandbox clock (docs/registration-customs-disputes.md):
//! - Only a `SUCCESS` payment is disputable.
//! - Retrievals: at most [`MAX_RETRIEVALS`] per payment, one open at a time, within
//!   [`DISPUTE_WINDOW`] of the payment.
//! - Escalations: at most [`MAX_ESCALATIONS`] per payment, one open at a time; the first within
//!   [`DISPUTE_WINDOW`], the second within [`SECOND_ESCALATION_WINDOW`] of the first being
//!   answered or closed; the amount at most the disputable amount (the payment amount minus
//!   successful refunds).
//! - Plusbox decisions: a dispute is `OPEN` until answered (`ANSWERED`), closed by the TSP
//!   (`CLOSED`), or left unanswered past its deadline ([`RESPONSE_DEADLINE`], `EXPIRED`); only
//!   `OPEN` counts as open. An answer is idempotent by `disputeRequestId`: the same body again →
//!   the first answer; another body, or another `paymentRequestId` than the dispute's → F
//!   `REPEAT_REQ_INCONSISTENT`; an answer to a closed or expired dispute → F `DISPUTE_CLOSED`;
//!   an unknown id (or one of the other kind) → F `DISPUTE_NOT_EXIST`.

use super::*;

/// Retrievals per payment (§13.3).
pub const MAX_RETRIEVALS: i64 = 5;

/// Escalations per payment (§13.3).
pub const MAX_ESCALATIONS: i64 = 2;

/// How long after the payment a retrieval or the first escalation may start (§13.3).
pub const DISPUTE_WINDOW: Duration = Duration::days(360);

/// How long after the first escalation is answered or closed the second may start (§13.3).
pub const SECOND_ESCALATION_WINDOW: Duration = Duration::days(25);

/// How long the ACQP has to answer a dispute (Plusbox decision; sandbox time).
pub const RESPONSE_DEADLINE: Duration = Duration::days(7);

/// A retrieval (a request for the transaction's information) or an escalation (a chargeback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DisputeKind {
    /// `initiateRetrieval` / `responseRetrieval`.
    Retrieval,
    /// `initiateEscalation` / `responseEscalation`.
    Escalation,
}

impl DisputeKind {
    /// `RETRIEVAL` or `ESCALATION`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            DisputeKind::Retrieval => "RETRIEVAL",
            DisputeKind::Escalation => "ESCALATION",
        }
    }

    /// Lower-case word for messages.
    pub fn word(self) -> &'static str {
        match self {
            DisputeKind::Retrieval => "retrieval",
            DisputeKind::Escalation => "escalation",
        }
    }

    /// The API that starts it (sandbox → ACQP).
    pub fn initiate_api(self) -> &'static str {
        match self {
            DisputeKind::Retrieval => "initiateRetrieval",
            DisputeKind::Escalation => "initiateEscalation",
        }
    }

    /// The API that answers it (ACQP → sandbox).
    pub fn response_api(self) -> &'static str {
        match self {
            DisputeKind::Retrieval => "responseRetrieval",
            DisputeKind::Escalation => "responseEscalation",
        }
    }

    /// The path the initiate call is sent to, under the ACQP's dispute URL.
    pub fn initiate_path(self) -> &'static str {
        match self {
            DisputeKind::Retrieval => plusbox_core::protocol::INITIATE_RETRIEVAL_PATH,
            DisputeKind::Escalation => plusbox_core::protocol::INITIATE_ESCALATION_PATH,
        }
    }

    fn parse(text: &str) -> DisputeKind {
        if text == "ESCALATION" {
            DisputeKind::Escalation
        } else {
            DisputeKind::Retrieval
        }
    }
}

/// What the TSP asks for when it starts a dispute.
#[derive(Debug, Clone)]
pub struct DisputeInput {
    /// Retrieval or escalation.
    pub kind: DisputeKind,
    /// The disputed payment: its `paymentId` or `paymentRequestId`.
    pub payment: String,
    /// `disputeReasonCode` (a default per kind when absent).
    pub reason: Option<String>,
    /// The escalated amount (escalations; the disputable amount when absent).
    pub amount: Option<Amount>,
}

/// Why the sandbox refused to start a dispute: a stable code naming the rule and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DisputeRefusal {
    /// `PAYMENT_NOT_FOUND`, `PAYMENT_AMBIGUOUS`, `PAYMENT_NOT_DISPUTABLE`, `NO_DISPUTE_URL`, `RETRIEVAL_OPEN`,
    /// `RETRIEVAL_COUNT_EXCEEDED`, `ESCALATION_OPEN`, `ESCALATION_COUNT_EXCEEDED`,
    /// `DISPUTE_WINDOW_EXCEEDED`, `ESCALATION_WINDOW_EXCEEDED`, `ESCALATION_AMOUNT_EXCEEDED`,
    /// `AMOUNT_INVALID`, `REASON_INVALID`, `DISPUTE_NOT_FOUND`, `DISPUTE_NOT_OPEN`.
    pub code: &'static str,
    /// What is wrong, naming the rule.
    pub message: String,
}

fn refuse(code: &'static str, message: String) -> DisputeRefusal {
    DisputeRefusal { code, message }
}

/// Delivery of the initiate call, from the outbox.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DisputeDelivery {
    /// `pending`, `delivered`, `undelivered`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// One dispute as stored, with its status at the time it was read.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DisputeRecord {
    /// Row id.
    #[serde(skip)]
    pub row: i64,
    /// Application row.
    #[serde(skip)]
    pub app_id: i64,
    /// `disputeRequestId`.
    pub dispute_request_id: String,
    /// Retrieval or escalation.
    pub kind: DisputeKind,
    /// 1-based number among the payment's disputes of this kind.
    pub sequence: i64,
    /// The disputed payment's `paymentRequestId`.
    pub payment_request_id: String,
    /// The disputed payment's `paymentId`.
    pub payment_id: String,
    /// `disputeReasonCode`.
    pub reason_code: String,
    /// The escalated amount (escalations).
    #[serde(serialize_with = "opt_wire_amount")]
    pub amount: Option<Amount>,
    /// `OPEN`, `ANSWERED`, `CLOSED` or `EXPIRED` at the time of reading.
    pub status: String,
    /// When it started.
    #[serde(serialize_with = "instant")]
    pub created_at: OffsetDateTime,
    /// When the answer is due.
    #[serde(serialize_with = "instant")]
    pub respond_by: OffsetDateTime,
    /// When the ACQP acknowledged the initiate call (signed, S).
    #[serde(serialize_with = "opt_instant")]
    pub acknowledged_at: Option<OffsetDateTime>,
    /// When the ACQP's answer was accepted.
    #[serde(serialize_with = "opt_instant")]
    pub answered_at: Option<OffsetDateTime>,
    /// When the TSP closed it.
    #[serde(serialize_with = "opt_instant")]
    pub closed_at: Option<OffsetDateTime>,
    /// The answer's body (the response material), as received.
    pub response: Option<Value>,
    /// The initiate call's delivery.
    pub delivery: Option<DisputeDelivery>,
}

impl DisputeRecord {
    /// When it stopped being open (answered, closed or expired); `None` while open.
    pub fn ended_at(&self) -> Option<OffsetDateTime> {
        match self.status.as_str() {
            "ANSWERED" => self.answered_at,
            "CLOSED" => self.closed_at,
            "EXPIRED" => Some(self.respond_by),
            _ => None,
        }
    }
}

fn instant<S: serde::Serializer>(at: &OffsetDateTime, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&format_instant(*at))
}

fn opt_instant<S: serde::Serializer>(
    at: &Option<OffsetDateTime>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match at {
        Some(at) => s.serialize_str(&format_instant(*at)),
        None => s.serialize_none(),
    }
}

fn opt_wire_amount<S: serde::Serializer>(a: &Option<Amount>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match a {
        Some(a) => a.to_wire().serialize(s),
        None => s.serialize_none(),
    }
}

/// What the gateway hands the store for a `responseRetrieval` / `responseEscalation`.
#[derive(Debug, Clone)]
pub struct DisputeAnswerInput {
    /// Which API answered.
    pub kind: DisputeKind,
    /// `disputeRequestId`.
    pub dispute_request_id: String,
    /// `paymentRequestId`.
    pub payment_request_id: String,
    /// Canonical JSON of the body (a repeat must match it).
    pub key_fields: String,
    /// The body as received (kept as the response material).
    pub body: Value,
}

/// What became of an answer.
#[derive(Debug, Clone)]
pub enum DisputeAnswerOutcome {
    /// Accepted now, or the identical repeat of an accepted answer.
    Accepted {
        /// The dispute after the answer (boxed: large beside a refusal).
        record: Box<DisputeRecord>,
        /// True for a repeat.
        repeat: bool,
    },
    /// Refused: the code, the message, and the dispute when one was found (for the traffic log).
    Refused(ResultCode, String, Option<Box<DisputeRecord>>),
}

const DISPUTE_COLUMNS: &str = "d.id, d.app_id, d.dispute_request_id, d.kind, d.sequence, p.payment_request_id, p.payment_id, d.reason_code, d.currency, d.amount, d.status, d.created_at, d.respond_by, d.acknowledged_at, d.answered_at, d.closed_at, d.response_body, o.status, o.attempts, o.last_error";

const DISPUTE_FROM: &str =
    "dispute d JOIN payment p ON p.id = d.payment_row LEFT JOIN outbox o ON o.dispute_row = d.id";

fn dispute_from_row(r: &rusqlite::Row<'_>, now: OffsetDateTime) -> rusqlite::Result<DisputeRecord> {
    let amount = match r.get::<_, Option<String>>(8)? {
        Some(_) => Some(amount_from_row(r, 8, 9)?),
        None => None,
    };
    let respond_by = from_millis(r.get(12)?);
    let stored: String = r.get(10)?;
    let status = if stored == "OPEN" && now > respond_by { "EXPIRED".to_string() } else { stored };
    let response: Option<String> = r.get(16)?;
    let delivery = match r.get::<_, Option<String>>(17)? {
        Some(status) => Some(DisputeDelivery { status, attempts: r.get(18)?, last_error: r.get(19)? }),
        None => None,
    };
    Ok(DisputeRecord {
        row: r.get(0)?,
        app_id: r.get(1)?,
        dispute_request_id: r.get(2)?,
        kind: DisputeKind::parse(&r.get::<_, String>(3)?),
        sequence: r.get(4)?,
        payment_request_id: r.get(5)?,
        payment_id: r.get(6)?,
        reason_code: r.get(7)?,
        amount,
        status,
        created_at: from_millis(r.get(11)?),
        respond_by,
        acknowledged_at: r.get::<_, Option<i64>>(13)?.map(from_millis),
        answered_at: r.get::<_, Option<i64>>(14)?.map(from_millis),
        closed_at: r.get::<_, Option<i64>>(15)?.map(from_millis),
        response: response.and_then(|text| serde_json::from_str(&text).ok()),
        delivery,
    })
}

fn load_dispute(tx: &Connection, row: i64, now: OffsetDateTime) -> Result<DisputeRecord> {
    Ok(tx.query_row_cached(
        &format!("SELECT {DISPUTE_COLUMNS} FROM {DISPUTE_FROM} WHERE d.id = ?1"),
        params![row],
        |r| dispute_from_row(r, now),
    )?)
}

/// The payment's disputes of one kind, oldest first.
fn disputes_of(
    tx: &Connection,
    payment_row: i64,
    kind: DisputeKind,
    now: OffsetDateTime,
) -> Result<Vec<DisputeRecord>> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {DISPUTE_COLUMNS} FROM {DISPUTE_FROM} WHERE d.payment_row = ?1 AND d.kind = ?2 ORDER BY d.sequence"
    ))?;
    let rows = stmt
        .query_map(params![payment_row, kind.as_str()], |r| dispute_from_row(r, now))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// A reason code: 1 to 64 of `A-Z`, `0-9`, `_`.
fn valid_reason(reason: &str) -> bool {
    !reason.is_empty()
        && reason.len() <= 64
        && reason.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The dispute URL of an application, and the URL an initiate call of `kind` goes to.
pub fn initiate_url(dispute_url: &str, kind: DisputeKind) -> String {
    format!("{}{}", dispute_url.trim_end_matches('/'), kind.initiate_path())
}

impl Store {
    /// The application's dispute URL: where `initiateRetrieval` / `initiateEscalation` go (the
    /// API path is appended to it).
    pub fn dispute_url(&self, app_id: i64) -> Result<Option<String>> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT dispute_url FROM dispute_setting WHERE app_id = ?1",
                    params![app_id],
                    |r| r.get::<_, Option<String>>(0),
                )
                .optional()?
                .flatten())
        })
    }

    /// Sets (or with `None` clears) the application's dispute URL.
    pub fn set_dispute_url(&self, app_id: i64, url: Option<&str>) -> Result<()> {
        if let Some(url) = url {
            validate_url(url).map_err(StoreError::Invalid)?;
        }
        self.write(|tx| {
            tx.execute_cached(
                "INSERT INTO dispute_setting (app_id, dispute_url) VALUES (?1, ?2)
                 ON CONFLICT(app_id) DO UPDATE SET dispute_url = excluded.dispute_url",
                params![app_id, url],
            )?;
            Ok(())
        })
    }

    /// Starts a retrieval or escalation against a recorded payment, enforcing the counts and
    /// windows, and queues its signed initiate call to the dispute URL of the payment's
    /// application (the payment names its application: no default is assumed). `Ok(Err(_))` is
    /// a refusal naming the rule; nothing is recorded then.
    pub fn open_dispute(
        &self,
        input: &DisputeInput,
        now: OffsetDateTime,
    ) -> Result<std::result::Result<DisputeRecord, DisputeRefusal>> {
        let dispute_request_id = {
            let mut rng = self.id_source();
            ids::payment_id(now, &mut *rng)
        };
        let kind = input.kind;
        if let Some(reason) = &input.reason {
            if !valid_reason(reason) {
                return Ok(Err(refuse(
                    "REASON_INVALID",
                    format!("reason {reason:?}: 1 to 64 of A-Z, 0-9 and _"),
                )));
            }
        }
        if kind == DisputeKind::Retrieval && input.amount.is_some() {
            return Ok(Err(refuse(
                "AMOUNT_INVALID",
                "a retrieval asks for the transaction's information and has no amount; --amount is for escalations".into(),
            )));
        }
        self.write(|tx| {
            let rows: Vec<i64> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id FROM payment WHERE payment_id = ?1 UNION SELECT id FROM payment WHERE payment_request_id = ?1",
                )?;
                let rows = stmt.query_map(params![input.payment], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
                rows
            };
            let payment = match rows.as_slice() {
                [row] => load_payment_by_row(tx, *row)?,
                [] => {
                    return Ok(Err(refuse(
                        "PAYMENT_NOT_FOUND",
                        format!("no payment has paymentId or paymentRequestId {:?}", input.payment),
                    )))
                }
                _ => {
                    return Ok(Err(refuse(
                        "PAYMENT_AMBIGUOUS",
                        format!("{} payments (of different applications) answer to {:?}; name the payment by its paymentId", rows.len(), input.payment),
                    )))
                }
            };
            let acquirer_id: String = tx.query_row_cached(
                "SELECT acquirer_id FROM app WHERE id = ?1",
                params![payment.app_id],
                |r| r.get(0),
            )?;
            let paid_at = match (payment.state, payment.paid_at) {
                (PayState::Success, Some(at)) => at,
                _ => {
                    return Ok(Err(refuse(
                        "PAYMENT_NOT_DISPUTABLE",
                        format!("payment {} is {}; only a successful payment can be disputed", payment.payment_id, payment.state.as_str()),
                    )))
                }
            };
            let url: Option<String> = tx
                .query_row_cached("SELECT dispute_url FROM dispute_setting WHERE app_id = ?1", params![payment.app_id], |r| r.get(0))
                .optional()?
                .flatten();
            let Some(url) = url else {
                return Ok(Err(refuse(
                    "NO_DISPUTE_URL",
                    "the application has no dispute URL: set one with `plusbox dispute set-url URL`".into(),
                )));
            };
            let earlier = disputes_of(tx, payment.row, kind, now)?;
            if let Some(open) = earlier.iter().find(|d| d.status == "OPEN") {
                let code = if kind == DisputeKind::Retrieval { "RETRIEVAL_OPEN" } else { "ESCALATION_OPEN" };
                return Ok(Err(refuse(
                    code,
                    format!(
                        "{} {} of payment {} is still open (answer due {}); one {} may be open at a time",
                        kind.word(), open.dispute_request_id, payment.payment_id, format_instant(open.respond_by), kind.word()
                    ),
                )));
            }
            let count = i64::try_from(earlier.len()).unwrap_or(i64::MAX);
            let (max, count_code) = match kind {
                DisputeKind::Retrieval => (MAX_RETRIEVALS, "RETRIEVAL_COUNT_EXCEEDED"),
                DisputeKind::Escalation => (MAX_ESCALATIONS, "ESCALATION_COUNT_EXCEEDED"),
            };
            if count >= max {
                return Ok(Err(refuse(
                    count_code,
                    format!("payment {} already had {count} {}s; at most {max} per transaction", payment.payment_id, kind.word()),
                )));
            }
            match earlier.last().and_then(DisputeRecord::ended_at) {
                // The second escalation: within 25 days of the first being answered or closed.
                Some(ended) if kind == DisputeKind::Escalation => {
                    let last_day = crate::clock::add_saturating(ended, SECOND_ESCALATION_WINDOW);
                    if now > last_day {
                        return Ok(Err(refuse(
                            "ESCALATION_WINDOW_EXCEEDED",
                            format!(
                                "the first escalation of payment {} ended {}; a second one must start within 25 days of that (by {})",
                                payment.payment_id, format_instant(ended), format_instant(last_day)
                            ),
                        )));
                    }
                }
                _ => {
                    let last_day = crate::clock::add_saturating(paid_at, DISPUTE_WINDOW);
                    if now > last_day {
                        return Ok(Err(refuse(
                            "DISPUTE_WINDOW_EXCEEDED",
                            format!(
                                "payment {} was paid {}; a {} must start within 360 days of the payment (by {})",
                                payment.payment_id, format_instant(paid_at), kind.word(), format_instant(last_day)
                            ),
                        )));
                    }
                }
            }
            let amount = if kind == DisputeKind::Escalation {
                let refunded: i64 = tx.query_row_cached(
                    "SELECT COALESCE(SUM(amount), 0) FROM refund WHERE payment_row = ?1 AND result_code = 'SUCCESS'",
                    params![payment.row],
                    |r| r.get(0),
                )?;
                let disputable = payment.amount.value.checked_sub(refunded).unwrap_or(0).max(0);
                let amount = input.amount.unwrap_or(Amount::from_minor(payment.amount.currency, disputable));
                if amount.currency != payment.amount.currency {
                    return Ok(Err(refuse(
                        "AMOUNT_INVALID",
                        format!("the escalation amount is in {}, the payment in {}", amount.currency.code(), payment.amount.currency.code()),
                    )));
                }
                if amount.value <= 0 || amount.value > disputable {
                    return Ok(Err(refuse(
                        "ESCALATION_AMOUNT_EXCEEDED",
                        format!(
                            "{} minor units of {}: an escalation may claim 1 to the disputable amount, {} (the payment's {} minus {} refunded)",
                            amount.value, amount.currency.code(), disputable, payment.amount.value, refunded
                        ),
                    )));
                }
                Some(amount)
            } else {
                None
            };
            let reason = input.reason.clone().unwrap_or_else(|| match kind {
                DisputeKind::Retrieval => "TRANSACTION_INFO_REQUEST".into(),
                DisputeKind::Escalation => "GOODS_NOT_RECEIVED".into(),
            });
            let respond_by = crate::clock::add_saturating(now, RESPONSE_DEADLINE);
            let sequence = count + 1;
            let at = to_millis(now);
            tx.execute_cached(
                "INSERT INTO dispute (app_id, dispute_request_id, kind, sequence, payment_row, reason_code, currency, amount, status, created_at, respond_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'OPEN', ?9, ?10)",
                params![
                    payment.app_id,
                    dispute_request_id,
                    kind.as_str(),
                    sequence,
                    payment.row,
                    reason,
                    amount.map(|a| a.currency.code()),
                    amount.map(|a| a.value),
                    at,
                    to_millis(respond_by),
                ],
            )?;
            let row = tx.last_insert_rowid();
            let mut body = json!({
                "disputeRequestId": dispute_request_id,
                "paymentRequestId": payment.payment_request_id,
                "paymentId": payment.payment_id,
                "acquirerId": acquirer_id,
                "pspId": payment.psp_id,
                "paymentAmount": payment.amount.to_wire(),
                "paymentTime": format_instant(paid_at),
                "disputeOccurTime": format_instant(now),
                "disputeReasonCode": reason,
                "responseDeadline": format_instant(respond_by),
            });
            if let Some(amount) = amount {
                body["disputeAmount"] = json!(amount.to_wire());
            }
            tx.execute_cached(
                "INSERT INTO outbox (api, payment_row, dispute_row, url, body, attempts, next_at, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, 'pending', ?6, ?6)",
                params![kind.initiate_api(), payment.row, row, initiate_url(&url, kind), body.to_string(), at],
            )?;
            Ok(Ok(load_dispute(tx, row, now)?))
        })
    }

    /// The application's disputes (every application's with `None`), newest first.
    pub fn disputes(&self, app_id: Option<i64>, now: OffsetDateTime) -> Result<Vec<DisputeRecord>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {DISPUTE_COLUMNS} FROM {DISPUTE_FROM} WHERE ?1 IS NULL OR d.app_id = ?1 ORDER BY d.created_at DESC, d.id DESC"
            ))?;
            let rows = stmt
                .query_map(params![app_id], |r| dispute_from_row(r, now))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// One dispute by `disputeRequestId`.
    pub fn dispute(&self, dispute_request_id: &str, now: OffsetDateTime) -> Result<Option<DisputeRecord>> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    &format!("SELECT {DISPUTE_COLUMNS} FROM {DISPUTE_FROM} WHERE d.dispute_request_id = ?1"),
                    params![dispute_request_id],
                    |r| dispute_from_row(r, now),
                )
                .optional()?)
        })
    }

    /// The TSP closes an open dispute (it no longer waits for an answer); a later answer is
    /// refused F `DISPUTE_CLOSED`.
    pub fn close_dispute(
        &self,
        dispute_request_id: &str,
        now: OffsetDateTime,
    ) -> Result<std::result::Result<DisputeRecord, DisputeRefusal>> {
        self.write(|tx| {
            let row: Option<i64> = tx
                .query_row_cached(
                    "SELECT id FROM dispute WHERE dispute_request_id = ?1",
                    params![dispute_request_id],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(row) = row else {
                return Ok(Err(refuse("DISPUTE_NOT_FOUND", format!("no dispute {dispute_request_id:?}"))));
            };
            let record = load_dispute(tx, row, now)?;
            if record.status != "OPEN" {
                return Ok(Err(refuse(
                    "DISPUTE_NOT_OPEN",
                    format!(
                        "dispute {dispute_request_id} is {}; only an open dispute is closed",
                        record.status
                    ),
                )));
            }
            tx.execute_cached(
                "UPDATE dispute SET status = 'CLOSED', closed_at = ?1 WHERE id = ?2",
                params![to_millis(now), row],
            )?;
            Ok(Ok(load_dispute(tx, row, now)?))
        })
    }

    /// Records that the ACQP acknowledged the initiate call of an outbox row (signed, S).
    pub fn dispute_acknowledged(&self, outbox_id: i64, now: OffsetDateTime) -> Result<()> {
        self.write(|tx| {
            tx.execute_cached(
                "UPDATE dispute SET acknowledged_at = ?1
                 WHERE id = (SELECT dispute_row FROM outbox WHERE id = ?2) AND acknowledged_at IS NULL",
                params![to_millis(now), outbox_id],
            )?;
            Ok(())
        })
    }

    /// The ACQP's `responseRetrieval` / `responseEscalation`: idempotency, the dispute's kind,
    /// payment and state, then the answer is recorded.
    pub fn answer_dispute(
        &self,
        app_id: i64,
        input: &DisputeAnswerInput,
        now: OffsetDateTime,
    ) -> Result<DisputeAnswerOutcome> {
        self.write(|tx| {
            let found: Option<(i64, Option<String>)> = tx
                .query_row_cached(
                    "SELECT id, response_key FROM dispute WHERE app_id = ?1 AND dispute_request_id = ?2 AND kind = ?3",
                    params![app_id, input.dispute_request_id, input.kind.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((row, response_key)) = found else {
                return Ok(DisputeAnswerOutcome::Refused(
                    ResultCode::DisputeNotExist,
                    format!("no {} has disputeRequestId {:?}", input.kind.word(), input.dispute_request_id),
                    None,
                ));
            };
            let record = load_dispute(tx, row, now)?;
            if record.payment_request_id != input.payment_request_id {
                let message = format!(
                    "disputeRequestId {:?} disputes paymentRequestId {:?}, not {:?}",
                    input.dispute_request_id, record.payment_request_id, input.payment_request_id
                );
                return Ok(DisputeAnswerOutcome::Refused(ResultCode::RepeatReqInconsistent, message, Some(Box::new(record))));
            }
            if let Some(key) = response_key {
                if key == input.key_fields {
                    return Ok(DisputeAnswerOutcome::Accepted { record: Box::new(record), repeat: true });
                }
                let message = format!(
                    "{} {} was already answered with a different body; re-send the original answer",
                    input.kind.word(),
                    input.dispute_request_id
                );
                return Ok(DisputeAnswerOutcome::Refused(ResultCode::RepeatReqInconsistent, message, Some(Box::new(record))));
            }
            if record.status != "OPEN" {
                let message = format!(
                    "{} {} is {} (answer was due {}); it takes no answer",
                    input.kind.word(),
                    input.dispute_request_id,
                    record.status,
                    format_instant(record.respond_by)
                );
                return Ok(DisputeAnswerOutcome::Refused(ResultCode::DisputeClosed, message, Some(Box::new(record))));
            }
            tx.execute_cached(
                "UPDATE dispute SET status = 'ANSWERED', answered_at = ?1, response_key = ?2, response_body = ?3 WHERE id = ?4",
                params![to_millis(now), input.key_fields, input.body.to_string(), row],
            )?;
            Ok(DisputeAnswerOutcome::Accepted { record: Box::new(load_dispute(tx, row, now)?), repeat: false })
        })
    }
}
