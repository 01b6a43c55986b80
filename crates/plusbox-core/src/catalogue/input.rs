//! What a run hands to [`super::evaluate`]: the traffic log of the run, the final states the
//! engine gathered, the POS driver's answers and the person's answers and photos.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::protocol::time::parse_instant;

/// One traffic-log entry as `plusbox traffic list --json` prints it (the sandbox's
/// `TrafficView`). Unknown fields are ignored and missing ones default, so the engine keeps
/// working while the log grows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TrafficEntry {
    /// Row id (monotonic); reasons point at these.
    pub id: i64,
    /// When, ISO 8601 with offset (the sandbox clock).
    pub at: String,
    /// `inbound` (ACQP → sandbox) or `outbound` (sandbox → ACQP).
    pub direction: String,
    /// API name, e.g. `pay`, `notifyPayment`.
    pub api: String,
    /// The Client-Id header.
    pub client_id: Option<String>,
    /// `paymentRequestId` of the message.
    pub payment_request_id: Option<String>,
    /// `paymentId` of the message.
    pub payment_id: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Request URI (inbound) or URL (outbound).
    pub uri: String,
    /// Request headers.
    pub request_headers: Value,
    /// Request body as text.
    pub request_body: String,
    /// HTTP status of the answer; none when there was no answer.
    pub response_status: Option<u16>,
    /// Response headers.
    pub response_headers: Value,
    /// Response body as text.
    pub response_body: String,
    /// `result.resultCode` of the answer.
    pub result_code: Option<String>,
    /// `result.resultStatus` of the answer.
    pub result_status: Option<String>,
    /// Signature verdict: `valid`, `valid-lenient`, `invalid`, `missing`, `not-checked`.
    /// Inbound: the ACQP's request; outbound: the ACQP's acknowledgement.
    pub signature: String,
    /// Findings: hygiene (`{"path","kind",…}`) and signature leniencies.
    pub findings: Value,
    /// The mock rule that forced the answer, if any.
    pub mock_id: Option<i64>,
    /// Duration in milliseconds.
    pub duration_ms: Option<f64>,
    /// Free-text note from the sandbox.
    pub note: Option<String>,
}

impl TrafficEntry {
    /// The instant, if `at` parses.
    pub fn instant(&self) -> Option<OffsetDateTime> {
        parse_instant(&self.at).ok()
    }

    /// The request body as JSON (`Null` when it is not JSON).
    pub fn request_json(&self) -> Value {
        serde_json::from_str(&self.request_body).unwrap_or(Value::Null)
    }

    /// The findings as a list (empty when absent or not a list).
    pub fn finding_list(&self) -> &[Value] {
        self.findings.as_array().map(Vec::as_slice).unwrap_or(&[])
    }

    /// Hygiene findings: every finding except those about headers and signatures (which the
    /// signature checks judge).
    pub fn hygiene_findings(&self) -> Vec<&Value> {
        self.finding_list()
            .iter()
            .filter(|f| {
                let kind = f.get("kind").and_then(Value::as_str).unwrap_or("");
                let path = f.get("path").and_then(Value::as_str).unwrap_or("");
                !kind.contains("signature") && !path.starts_with("header.")
            })
            .collect()
    }
}

/// A refund of a payment, as the engine read it from the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundSnapshot {
    /// The ACQP's `refundRequestId`.
    pub refund_request_id: String,
    /// Alipay+ `refundId`, when one was given.
    #[serde(default)]
    pub refund_id: Option<String>,
    /// Amount in minor units.
    pub value: i64,
    /// Result code of the refund (`SUCCESS` when it went through).
    pub result_code: String,
}

/// A payment of the run, as the engine read it from the sandbox at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentSnapshot {
    /// The ACQP's `paymentRequestId`.
    pub payment_request_id: String,
    /// Alipay+ `paymentId`.
    pub payment_id: String,
    /// Sandbox state: `PROCESSING`, `SUCCESS`, `FAILED`, `CLOSED`, `CANCELLED`.
    pub state: String,
    /// Failure code when FAILED.
    #[serde(default)]
    pub fail_code: Option<String>,
    /// Amount in minor units.
    pub value: i64,
    /// ISO 4217 currency.
    pub currency: String,
    /// Refunds, in order.
    #[serde(default)]
    pub refunds: Vec<RefundSnapshot>,
}

/// What the POS driver answered for one step's action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PosOutcome {
    /// 1-based step number.
    pub step: u32,
    /// `charge`, `refund` or `cancel`.
    pub action: String,
    /// The status the POS reported (e.g. `SUCCESS`, `FAILED`, `CANCELLED`).
    pub status: String,
    /// The POS's reference (paymentRequestId / refundRequestId), if any.
    #[serde(default)]
    pub reference: Option<String>,
    /// What the POS said, for the report.
    #[serde(default)]
    pub detail: Option<String>,
}

/// A photo (or other file) attached by the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// File name or storage key.
    pub name: String,
    /// MIME type.
    #[serde(default)]
    pub media_type: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub bytes: u64,
}

/// Who drives the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RunMode {
    /// The runner drives a POS through the POS-driver contract and plays the buyer; manual
    /// questions and photos are skipped.
    #[default]
    Headless,
    /// A person at a real POS follows the steps; POS-driver results are not available.
    Manual,
}

/// Everything `evaluate` looks at.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RunInput {
    /// Headless or manual.
    pub mode: RunMode,
    /// True once every step has been walked through; an unfinished run gives INCOMPLETE
    /// instead of FAIL for things that have not happened yet.
    pub finished: bool,
    /// When the run started (sandbox clock, ISO 8601); windows without `after` start here.
    pub started_at: Option<String>,
    /// The run's traffic, in log order.
    pub traffic: Vec<TrafficEntry>,
    /// The run's payments in the sandbox, in creation order.
    pub payments: Vec<PaymentSnapshot>,
    /// POS-driver answers per step (headless runs).
    pub pos: Vec<PosOutcome>,
    /// Answers to manual checks, by check name.
    pub answers: BTreeMap<String, bool>,
    /// Attachments for evidence checks, by check name.
    pub evidence: BTreeMap<String, Vec<Evidence>>,
    /// Failures on our side (sandbox, runner, POS driver unreachable); any makes the verdict ERROR.
    pub errors: Vec<String>,
}
