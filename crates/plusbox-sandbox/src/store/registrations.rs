//! Merchant registration (alipayplus-api.md §13.1): accepted requests, the update rule,
//! idempotency by `registrationRequestId`, review over sandbox time, the queued
//! `notifyRegistrationStatus`, and whether `pay` may serve a merchant.
//!
//! Plusbox decisions (docs/registration-customs-disputes.md):
//! - A registration is accepted S and stays `PROCESSING` for the application's review time
//!   (default 10 minutes of sandbox time), then becomes `COMPLETED` (every wallet `APPROVED`), or
//!   `REJECTED` when `merchantInfo.merchantDisplayName` contains [`REJECT_MARKER`].
//! - An update (same merchant and product code; for `IN_STORE_PAYMENT` also the same store) is
//!   refused F `PROCESS_FAIL` while the earlier request is under 30 minutes old **and** still
//!   `PROCESSING`; a refused request is not recorded.
//! - Same `registrationRequestId` and the same body → the first answer again; a different body →
//!   F `REPEAT_REQ_INCONSISTENT`.

use super::*;

/// A merchant name containing this (any case) is rejected at review.
pub const REJECT_MARKER: &str = "REJECT";

/// How long an earlier, still-processing request blocks an update (§13.1).
pub const UPDATE_WINDOW: Duration = Duration::minutes(30);

/// Default review time of a registration (sandbox time).
pub const DEFAULT_REVIEW: Duration = Duration::minutes(10);

/// Registration status: `PROCESSING`, `COMPLETED` or `REJECTED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RegistrationStatus {
    /// Under review.
    Processing,
    /// Approved by every wallet.
    Completed,
    /// Refused at review.
    Rejected,
}

impl RegistrationStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationStatus::Processing => "PROCESSING",
            RegistrationStatus::Completed => "COMPLETED",
            RegistrationStatus::Rejected => "REJECTED",
        }
    }

    fn parse(text: &str) -> RegistrationStatus {
        match text {
            "COMPLETED" => RegistrationStatus::Completed,
            "REJECTED" => RegistrationStatus::Rejected,
            _ => RegistrationStatus::Processing,
        }
    }
}

/// One accepted registration request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationRecord {
    /// Row id.
    #[serde(skip)]
    pub row: i64,
    /// Application row.
    #[serde(skip)]
    pub app_id: i64,
    /// `registrationRequestId`.
    pub registration_request_id: String,
    /// `merchantInfo.referenceMerchantId`.
    pub reference_merchant_id: String,
    /// `storeInfo.referenceStoreId`.
    pub reference_store_id: Option<String>,
    /// `merchantInfo.merchantDisplayName`.
    pub merchant_name: String,
    /// `productCodes[]`.
    pub product_codes: Vec<String>,
    /// `passThroughInfo`, echoed in the answer.
    pub pass_through_info: Option<String>,
    /// Status now.
    pub status: RegistrationStatus,
    /// Why it was rejected.
    pub reject_reason: Option<String>,
    /// When it was accepted.
    #[serde(serialize_with = "wire_instant")]
    pub created_at: OffsetDateTime,
    /// When its review ends.
    #[serde(serialize_with = "wire_instant")]
    pub resolve_at: OffsetDateTime,
}

impl RegistrationRecord {
    /// The `registrationResult` / `pspRegistrationResultList` an inquiry answer or a
    /// notification carries (no wallet list while processing: no wallet has answered yet).
    pub fn result_fields(&self) -> serde_json::Map<String, Value> {
        let mut body = serde_json::Map::new();
        body.insert("referenceMerchantId".into(), json!(self.reference_merchant_id));
        if let Some(store) = &self.reference_store_id {
            body.insert("referenceStoreId".into(), json!(store));
        }
        body.insert("registrationRequestId".into(), json!(self.registration_request_id));
        let mut result = json!({"registrationStatus": self.status.as_str()});
        if let Some(reason) = &self.reject_reason {
            result["rejectReason"] = json!(reason);
        }
        body.insert("registrationResult".into(), result);
        let wallet_status = match self.status {
            RegistrationStatus::Processing => None,
            RegistrationStatus::Completed => Some("APPROVED"),
            RegistrationStatus::Rejected => Some("REJECTED"),
        };
        if let Some(wallet_status) = wallet_status {
            let list: Vec<Value> = WalletTable::builtin()
                .wallets
                .iter()
                .map(|w| {
                    json!({
                        "pspName": w.wallet_enum,
                        "productCodes": self.product_codes,
                        "registrationResult": {"registrationStatus": wallet_status},
                    })
                })
                .collect();
            body.insert("pspRegistrationResultList".into(), Value::Array(list));
        }
        body
    }
}

/// What the gateway hands the store for a `registration`.
#[derive(Debug, Clone)]
pub struct RegistrationInput {
    /// `registrationRequestId`.
    pub registration_request_id: String,
    /// Canonical JSON of the whole body (a repeat must match it).
    pub key_fields: String,
    /// `merchantInfo.referenceMerchantId`.
    pub reference_merchant_id: String,
    /// `storeInfo.referenceStoreId`.
    pub reference_store_id: Option<String>,
    /// `merchantInfo.merchantDisplayName`.
    pub merchant_name: String,
    /// `productCodes[]`.
    pub product_codes: Vec<String>,
    /// `registrationNotifyUrl`.
    pub notify_url: Option<String>,
    /// `passThroughInfo`.
    pub pass_through_info: Option<String>,
}

/// What became of a `registration`.
#[derive(Debug, Clone)]
pub enum RegisterOutcome {
    /// Accepted now, or the identical repeat of an accepted request.
    Accepted {
        /// The registration.
        record: RegistrationRecord,
        /// True for a repeat.
        repeat: bool,
    },
    /// Refused: the code and message to answer with.
    Refused(ResultCode, String),
}

/// An application's registration settings (`plusbox app registration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationSettings {
    /// Where `notifyRegistrationStatus` goes when the request names no URL.
    pub notify_url: Option<String>,
    /// `pay` refuses merchants without a completed registration.
    pub require_registration: bool,
    /// How long a registration stays PROCESSING, in sandbox seconds.
    pub review_seconds: i64,
}

/// Instants as the wire writes them (ISO 8601, `+08:00`).
fn wire_instant<S: serde::Serializer>(
    at: &OffsetDateTime,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_instant(*at))
}

const REGISTRATION_COLUMNS: &str = "id, app_id, registration_request_id, reference_merchant_id, reference_store_id, merchant_name, product_codes, pass_through_info, status, reject_reason, created_at, resolve_at";

fn registration_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RegistrationRecord> {
    let codes: String = r.get(6)?;
    let status: String = r.get(8)?;
    Ok(RegistrationRecord {
        row: r.get(0)?,
        app_id: r.get(1)?,
        registration_request_id: r.get(2)?,
        reference_merchant_id: r.get(3)?,
        reference_store_id: r.get(4)?,
        merchant_name: r.get(5)?,
        product_codes: serde_json::from_str(&codes).unwrap_or_default(),
        pass_through_info: r.get(7)?,
        status: RegistrationStatus::parse(&status),
        reject_reason: r.get(9)?,
        created_at: from_millis(r.get(10)?),
        resolve_at: from_millis(r.get(11)?),
    })
}

fn settings(tx: &Connection, app_id: i64) -> Result<RegistrationSettings> {
    Ok(tx
        .query_row_cached(
            "SELECT notify_url, require_registration, review_seconds FROM registration_setting WHERE app_id = ?1",
            params![app_id],
            |r| {
                Ok(RegistrationSettings {
                    notify_url: r.get(0)?,
                    require_registration: r.get::<_, i64>(1)? != 0,
                    review_seconds: r.get(2)?,
                })
            },
        )
        .optional()?
        .unwrap_or(RegistrationSettings {
            notify_url: None,
            require_registration: false,
            review_seconds: DEFAULT_REVIEW.whole_seconds(),
        }))
}

fn save_settings(tx: &Connection, app_id: i64, s: &RegistrationSettings) -> Result<()> {
    tx.execute_cached(
        "INSERT INTO registration_setting (app_id, notify_url, require_registration, review_seconds) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (app_id) DO UPDATE SET notify_url = ?2, require_registration = ?3, review_seconds = ?4",
        params![app_id, s.notify_url, i64::from(s.require_registration), s.review_seconds],
    )?;
    Ok(())
}

/// True if a merchant name falls to the reject rule.
fn rejected(name: &str) -> bool {
    name.to_ascii_uppercase().contains(REJECT_MARKER)
}

impl Store {
    /// The application's registration settings.
    pub fn registration_settings(&self, app_id: i64) -> Result<RegistrationSettings> {
        self.read(|tx| settings(tx, app_id))
    }

    /// Changes the application's registration settings; `None` keeps a setting. A notify URL
    /// of `Some(None)` clears it. The review time must be between 0 s and 30 days.
    pub fn update_registration_settings(
        &self,
        app_id: i64,
        notify_url: Option<Option<&str>>,
        require_registration: Option<bool>,
        review: Option<Duration>,
    ) -> Result<RegistrationSettings> {
        if let Some(Some(url)) = notify_url {
            validate_url(url).map_err(|e| StoreError::Invalid(format!("registration notify URL: {e}")))?;
        }
        if let Some(review) = review {
            if review.is_negative() || review > Duration::days(30) {
                return Err(StoreError::OutOfRange(format!(
                    "a review time of {review} is outside 0 s to 30 days"
                )));
            }
        }
        self.write(|tx| {
            let mut s = settings(tx, app_id)?;
            if let Some(url) = notify_url {
                s.notify_url = url.map(str::to_string);
            }
            if let Some(on) = require_registration {
                s.require_registration = on;
            }
            if let Some(review) = review {
                s.review_seconds = review.whole_seconds();
            }
            save_settings(tx, app_id, &s)?;
            Ok(s)
        })
    }

    /// `registration`: the idempotency rule, then the update rule, then a new PROCESSING row.
    pub fn register(
        &self,
        app: &AppRecord,
        input: &RegistrationInput,
        now: OffsetDateTime,
    ) -> Result<RegisterOutcome> {
        self.write(|tx| {
            resolve_due(tx, now)?;
            let earlier = tx
                .query_row_cached(
                    &format!("SELECT {REGISTRATION_COLUMNS}, key_fields FROM registration WHERE app_id = ?1 AND registration_request_id = ?2"),
                    params![app.id, input.registration_request_id],
                    |r| Ok((registration_from_row(r)?, r.get::<_, String>(12)?)),
                )
                .optional()?;
            if let Some((record, key_fields)) = earlier {
                if key_fields == input.key_fields {
                    return Ok(RegisterOutcome::Accepted { record, repeat: true });
                }
                return Ok(RegisterOutcome::Refused(
                    ResultCode::RepeatReqInconsistent,
                    format!(
                        "registrationRequestId {:?} was used for a different registration; re-send the original body or use a new registrationRequestId",
                        input.registration_request_id
                    ),
                ));
            }
            // The update rule, product code by product code.
            for code in &input.product_codes {
                let in_store = code == plusbox_core::protocol::IN_STORE_PAYMENT;
                let blocking = tx
                    .query_row_cached(
                        &format!(
                            "SELECT {REGISTRATION_COLUMNS} FROM registration r
                             WHERE app_id = ?1 AND reference_merchant_id = ?2
                               AND (?3 = 0 OR reference_store_id IS ?4)
                               AND EXISTS (SELECT 1 FROM json_each(r.product_codes) WHERE value = ?5)
                               AND status = 'PROCESSING' AND created_at > ?6
                             ORDER BY created_at DESC, id DESC LIMIT 1"
                        ),
                        params![
                            app.id,
                            input.reference_merchant_id,
                            i64::from(in_store),
                            input.reference_store_id,
                            code,
                            to_millis(now.checked_sub(UPDATE_WINDOW).unwrap_or(OffsetDateTime::UNIX_EPOCH)),
                        ],
                        registration_from_row,
                    )
                    .optional()?;
                if let Some(earlier) = blocking {
                    let open_at = crate::clock::add_saturating(earlier.created_at, UPDATE_WINDOW).min(earlier.resolve_at);
                    let store = earlier
                        .reference_store_id
                        .as_deref()
                        .filter(|_| in_store)
                        .map(|s| format!(", store {s:?}"))
                        .unwrap_or_default();
                    return Ok(RegisterOutcome::Refused(
                        ResultCode::ProcessFail,
                        format!(
                            "an update of merchant {:?}{store} for {code} is accepted only when the previous registration ({:?}, {}) is more than 30 minutes old or processed; it is still PROCESSING: inquire with inquiryRegistrationStatus and update after {}",
                            input.reference_merchant_id,
                            earlier.registration_request_id,
                            format_instant(earlier.created_at),
                            format_instant(open_at),
                        ),
                    ));
                }
            }
            let review = Duration::seconds(settings(tx, app.id)?.review_seconds);
            let resolve_at = crate::clock::add_saturating(now, review);
            let codes = serde_json::to_string(&input.product_codes).unwrap_or_else(|_| "[]".into());
            let name = input.merchant_name.clone();
            tx.execute_cached(
                "INSERT INTO registration (app_id, registration_request_id, key_fields, reference_merchant_id, reference_store_id, merchant_name, product_codes, notify_url, pass_through_info, status, created_at, resolve_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'PROCESSING', ?10, ?11)",
                params![
                    app.id,
                    input.registration_request_id,
                    input.key_fields,
                    input.reference_merchant_id,
                    input.reference_store_id,
                    name,
                    codes,
                    input.notify_url,
                    input.pass_through_info,
                    to_millis(now),
                    to_millis(resolve_at),
                ],
            )?;
            let row = tx.last_insert_rowid();
            // A zero review resolves at once.
            resolve_due(tx, now)?;
            let record = tx.query_row_cached(
                &format!("SELECT {REGISTRATION_COLUMNS} FROM registration WHERE id = ?1"),
                params![row],
                registration_from_row,
            )?;
            Ok(RegisterOutcome::Accepted { record, repeat: false })
        })
    }

    /// `inquiryRegistrationStatus`: by `registrationRequestId`, else the merchant's (and
    /// store's) latest registration. Reviews that are due are finished first.
    pub fn inquire_registration(
        &self,
        app_id: i64,
        registration_request_id: Option<&str>,
        merchant: Option<&str>,
        store: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Option<RegistrationRecord>> {
        self.resolve_registrations(now)?;
        self.read(|tx| {
            let found = match registration_request_id {
                Some(id) => tx
                    .query_row_cached(
                        &format!("SELECT {REGISTRATION_COLUMNS} FROM registration WHERE app_id = ?1 AND registration_request_id = ?2"),
                        params![app_id, id],
                        registration_from_row,
                    )
                    .optional()?
                    // Both given: they must name the same registration.
                    .filter(|r| merchant.is_none_or(|m| m == r.reference_merchant_id))
                    .filter(|r| store.is_none_or(|s| Some(s) == r.reference_store_id.as_deref())),
                None => tx
                    .query_row_cached(
                        &format!(
                            "SELECT {REGISTRATION_COLUMNS} FROM registration WHERE app_id = ?1 AND reference_merchant_id = ?2
                             AND (?3 IS NULL OR reference_store_id = ?3) ORDER BY created_at DESC, id DESC LIMIT 1"
                        ),
                        params![app_id, merchant.unwrap_or(""), store],
                        registration_from_row,
                    )
                    .optional()?,
            };
            Ok(found)
        })
    }

    /// Finishes every review that is due at `now` and queues its notification. Returns how many.
    pub fn resolve_registrations(&self, now: OffsetDateTime) -> Result<usize> {
        let any = self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT 1 FROM registration WHERE status = 'PROCESSING' AND resolve_at <= ?1 LIMIT 1",
                    params![to_millis(now)],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                .is_some())
        })?;
        if !any {
            return Ok(0);
        }
        self.write(|tx| resolve_due(tx, now))
    }

    /// True if `pay` may serve this merchant: it has a COMPLETED `IN_STORE_PAYMENT` registration
    /// for this store (alipayplus-api.md §13.1).
    pub fn merchant_registered(
        &self,
        app_id: i64,
        merchant: &str,
        store: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        self.resolve_registrations(now)?;
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT 1 FROM registration r WHERE app_id = ?1 AND reference_merchant_id = ?2 AND reference_store_id IS ?3
                     AND status = 'COMPLETED' AND EXISTS (SELECT 1 FROM json_each(r.product_codes) WHERE value = 'IN_STORE_PAYMENT') LIMIT 1",
                    params![app_id, merchant, store],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                .is_some())
        })
    }

    /// Every registration of the application, newest first (for the CLI).
    pub fn registrations(&self, app_id: i64, now: OffsetDateTime) -> Result<Vec<RegistrationRecord>> {
        self.resolve_registrations(now)?;
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {REGISTRATION_COLUMNS} FROM registration WHERE app_id = ?1 ORDER BY created_at DESC, id DESC"
            ))?;
            let rows = stmt.query_map(params![app_id], registration_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}

/// Resolves due reviews inside a write transaction and queues each one's notification.
fn resolve_due(tx: &Connection, now: OffsetDateTime) -> Result<usize> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {REGISTRATION_COLUMNS}, notify_url FROM registration WHERE status = 'PROCESSING' AND resolve_at <= ?1 ORDER BY resolve_at, id"
    ))?;
    let due = stmt
        .query_map(params![to_millis(now)], |r| {
            Ok((registration_from_row(r)?, r.get::<_, Option<String>>(12)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    drop(stmt);
    let count = due.len();
    for (mut record, request_url) in due {
        let (status, reason) = if rejected(&record.merchant_name) {
            (
                RegistrationStatus::Rejected,
                Some(format!("the merchant name contains {REJECT_MARKER:?} (the sandbox's reject rule)")),
            )
        } else {
            (RegistrationStatus::Completed, None)
        };
        tx.execute_cached(
            "UPDATE registration SET status = ?1, reject_reason = ?2, resolved_at = ?3 WHERE id = ?4",
            params![status.as_str(), reason, to_millis(record.resolve_at), record.row],
        )?;
        record.status = status;
        record.reject_reason = reason;
        let url = request_url.or(settings(tx, record.app_id)?.notify_url);
        let body = Value::Object(record.result_fields()).to_string();
        let at = to_millis(now);
        let outbox_status = if url.is_some() { "pending" } else { "no-url" };
        tx.execute_cached(
            "INSERT INTO outbox (api, registration_row, url, body, attempts, next_at, status, created_at, updated_at)
             VALUES ('notifyRegistrationStatus', ?1, ?2, ?3, 0, ?4, ?5, ?4, ?4)",
            params![record.row, url, body, at, outbox_status],
        )?;
        if url.is_none() {
            insert_traffic(
                tx,
                &TrafficRecord {
                    at: Some(now),
                    direction: "outbound",
                    api: "notifyRegistrationStatus".into(),
                    method: "POST".into(),
                    request_body: body.into_bytes(),
                    signature: "not-sent".into(),
                    note: Some("no registrationNotifyUrl in the registration and no registration notify URL configured: notifyRegistrationStatus not sent".into()),
                    ..TrafficRecord::default()
                },
            )?;
        }
    }
    Ok(count)
}
