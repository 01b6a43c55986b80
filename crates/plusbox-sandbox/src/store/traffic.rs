//! The traffic log: every exchange recorded, group-committed with business writes, listed for
//! the CLI, the companion and the test engine.

use super::*;

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

fn headers_json(headers: &[(String, String)]) -> String {
    let map: serde_json::Map<String, Value> =
        headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    Value::Object(map).to_string()
}

pub(super) fn insert_traffic(tx: &Connection, record: &TrafficRecord) -> Result<i64> {
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
        self.traffic_of(None, after, limit)
    }

    /// Like [`Store::traffic`], only one application's entries (by Client-Id) when given.
    pub fn traffic_of(&self, client_id: Option<&str>, after: i64, limit: u32) -> Result<Vec<TrafficView>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT id, at, direction, api, client_id, payment_request_id, payment_id, method, uri, request_headers, request_body,
                        response_status, response_headers, response_body, result_code, result_status, signature, findings, mock_id, duration_ms, note
                 FROM traffic WHERE id > ?1 AND (?3 IS NULL OR client_id = ?3) ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![after, limit, client_id], |r| {
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
