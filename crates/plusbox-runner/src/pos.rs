//! A client for the POS-driver contract (`docs/pos-driver.md`): `/charge`, `/refund`, `/cancel`.
//! Any POS that speaks it can be driven; the reference acquirer is one.

use std::time::Duration;

use serde_json::{json, Value};

/// What the POS answered for one action, reduced to what a check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosAnswer {
    /// `SUCCESS`, `FAILED`, `CANCELLED`, `INIT`, `UNKNOWN` from a record; `REFUSED` when the
    /// POS refused the action by its own rules (HTTP 4xx); `ERROR` when it could not be reached
    /// or failed (5xx).
    pub status: String,
    /// The payment's `paymentRequestId` (charge, cancel) or the `refundRequestId` (refund).
    pub reference: Option<String>,
    /// The POS's code and message, for the report.
    pub detail: Option<String>,
    /// The full body, for the stored run.
    pub body: Value,
}

impl PosAnswer {
    /// True when the POS itself failed (unreachable, 5xx): our run cannot say anything.
    pub fn is_error(&self) -> bool {
        self.status == "ERROR"
    }
}

/// A POS-driver client.
#[derive(Debug, Clone)]
pub struct PosClient {
    base: String,
    http: reqwest::Client,
}

impl PosClient {
    /// A client for the POS at `base` (e.g. `http://127.0.0.1:8788`). `timeout` bounds one call;
    /// `/charge` blocks until the payment is final, so give it the payment expiry and more.
    pub fn new(base: &str, timeout: Duration) -> Result<PosClient, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(PosClient { base: base.trim_end_matches('/').to_owned(), http })
    }

    /// Checks that something answers HTTP at the base URL (any status will do: an unknown
    /// payment is a 404), so a run against a POS that is down fails at once, not after each
    /// step's wait.
    pub async fn probe(&self) -> Result<(), String> {
        let url = format!("{}/payments/plusbox-probe", self.base);
        let request = self.http.get(&url).timeout(Duration::from_secs(5));
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.is_connect() => Err(format!("nothing answers at {} ({e})", self.base)),
            Err(e) if e.is_timeout() => Err(format!("{} did not answer within 5 s", self.base)),
            Err(e) => Err(format!("{}: {e}", self.base)),
        }
    }

    /// `POST /charge`; `description` is the order text (the case's, or a plain default).
    pub async fn charge(
        &self,
        code: &str,
        amount: &str,
        payment_request_id: Option<&str>,
        description: Option<&str>,
    ) -> PosAnswer {
        let description = description.unwrap_or("Plusbox acceptance test");
        let mut body = json!({"code": code, "amount": amount, "description": description});
        if let Some(id) = payment_request_id {
            body["paymentRequestId"] = json!(id);
        }
        self.post("/charge", body, "paymentRequestId").await
    }

    /// `POST /refund`.
    pub async fn refund(&self, payment: &str, amount: &str, refund_request_id: Option<&str>) -> PosAnswer {
        let mut body = json!({"payment": payment, "amount": amount, "reason": "Plusbox acceptance test"});
        if let Some(id) = refund_request_id {
            body["refundRequestId"] = json!(id);
        }
        self.post("/refund", body, "refundRequestId").await
    }

    /// `POST /cancel`.
    /// `POST /declare`: declare a charged payment to the customs (alipayplus-api.md §13.2).
    pub async fn declare(
        &self,
        payment: &str,
        amount: &str,
        declaration_request_id: Option<&str>,
    ) -> PosAnswer {
        let mut body = json!({"payment": payment, "amount": amount});
        if let Some(id) = declaration_request_id {
            body["customsDeclarationRequestId"] = json!(id);
        }
        self.post("/declare", body, "customsDeclarationRequestId").await
    }

    /// `POST /register`: register a merchant and its store (alipayplus-api.md §13.1).
    pub async fn register(
        &self,
        merchant: &str,
        store: &str,
        name: &str,
        registration_request_id: Option<&str>,
    ) -> PosAnswer {
        let mut body = json!({"merchantId": merchant, "storeId": store, "merchantName": name});
        if let Some(id) = registration_request_id {
            body["registrationRequestId"] = json!(id);
        }
        self.post("/register", body, "registrationRequestId").await
    }

    /// `POST /reconcile {"payment"}`: the back office reconciles the clearing day of that sale.
    pub async fn reconcile(&self, payment: &str) -> PosAnswer {
        self.post("/reconcile", json!({"payment": payment}), "clearingDate").await
    }

    /// `POST /orders/age`: the acquirer's order table follows the sandbox's aging of the run's
    /// payments; how many orders it aged.
    pub async fn age_orders(&self, payment_request_ids: &[String], seconds: i64) -> Result<u64, String> {
        let url = format!("{}/orders/age", self.base);
        let body = json!({"paymentRequestIds": payment_request_ids, "seconds": seconds});
        let response = self
            .http
            .post(&url)
            .timeout(Duration::from_secs(10))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("POST {url} failed: {e}"))?;
        let status = response.status();
        let value: Value = response.json().await.map_err(|e| format!("POST {url}: not JSON: {e}"))?;
        if !status.is_success() {
            return Err(format!("POST {url}: HTTP {}: {value}", status.as_u16()));
        }
        value
            .get("aged")
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("POST {url}: no aged count in {value}"))
    }

    /// Whether the driver has the acquirer-reconcile capability: `POST /orders/age` with an
    /// empty body is refused as bad input (400) by a driver that has it, 404/405 without.
    pub async fn reconcile_supported(&self) -> Result<(), String> {
        let url = format!("{}/orders/age", self.base);
        let response = self
            .http
            .post(&url)
            .timeout(Duration::from_secs(5))
            .json(&json!({}))
            .send()
            .await
            .map_err(|e| format!("POST {url} failed: {e}"))?;
        match response.status().as_u16() {
            400 | 422 => Ok(()),
            other => Err(format!("POST {url} answered HTTP {other}")),
        }
    }

    pub async fn cancel(&self, payment: &str) -> PosAnswer {
        self.post("/cancel", json!({"payment": payment}), "paymentRequestId").await
    }

    /// `GET /clock`: the acquirer's clock as its time rules read it. An error says why the
    /// driver cannot be asked (no such endpoint: the capability is missing).
    pub async fn clock(&self) -> Result<String, String> {
        let url = format!("{}/clock", self.base);
        let response = self
            .http
            .get(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| format!("GET {url} failed: {e}"))?;
        clock_answer(&url, response).await
    }

    /// `PUT /clock {"at"}`: the acquirer's clock reads `at` from now on; returns what it reads.
    pub async fn set_clock(&self, at: time::OffsetDateTime) -> Result<String, String> {
        let url = format!("{}/clock", self.base);
        let at = plusbox_core::protocol::time::format_instant(at);
        let response = self
            .http
            .put(&url)
            .timeout(Duration::from_secs(5))
            .json(&json!({"at": at}))
            .send()
            .await
            .map_err(|e| format!("PUT {url} failed: {e}"))?;
        clock_answer(&url, response).await
    }

    /// `DELETE /clock`: the acquirer's clock back to its own time.
    pub async fn reset_clock(&self) -> Result<String, String> {
        let url = format!("{}/clock", self.base);
        let response = self
            .http
            .delete(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| format!("DELETE {url} failed: {e}"))?;
        clock_answer(&url, response).await
    }

    async fn post(&self, path: &str, body: Value, reference_key: &str) -> PosAnswer {
        let url = format!("{}{path}", self.base);
        let response = match self.http.post(&url).json(&body).send().await {
            Ok(r) => r,
            Err(e) => return error(format!("POST {url}: {e}")),
        };
        let status = response.status();
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => return error(format!("POST {url}: reading the answer: {e}")),
        };
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let s = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_owned);
        if status.is_success() && !value.is_object() {
            // Not the contract's answer (docs/pos-driver.md): say so rather than guess a state.
            let shown: String = match &value {
                Value::String(text) => text.chars().take(120).collect(),
                other => other.to_string().chars().take(120).collect(),
            };
            return error(format!(
                "POST {url}: HTTP {} but the answer is not a JSON object, so not a POS-driver answer: {shown}",
                status.as_u16()
            ));
        }
        if status.is_success() {
            let detail = match (s("resultCode"), s("resultMessage")) {
                (Some(c), Some(m)) => Some(format!("{c}: {m}")),
                (Some(c), None) => Some(c),
                _ => None,
            };
            PosAnswer {
                status: s("state").unwrap_or_else(|| "UNKNOWN".into()),
                reference: s(reference_key),
                detail,
                body: value,
            }
        } else if status.is_client_error() {
            let detail = format!(
                "HTTP {}: {} {}",
                status.as_u16(),
                s("code").unwrap_or_default(),
                s("message").unwrap_or_default()
            );
            PosAnswer {
                status: "REFUSED".into(),
                reference: None,
                detail: Some(detail.trim().to_owned()),
                body: value,
            }
        } else {
            error(format!("POST {url}: HTTP {}: {value}", status.as_u16()))
        }
    }
}

fn error(detail: String) -> PosAnswer {
    PosAnswer { status: "ERROR".into(), reference: None, detail: Some(detail), body: Value::Null }
}

/// Reads a `/clock` answer: `{now}` on 2xx; otherwise says what the driver answered.
async fn clock_answer(url: &str, response: reqwest::Response) -> Result<String, String> {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        return value
            .get("now")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("{url} answered {status} without a \"now\" field"));
    }
    let mut said: String = text.chars().take(200).collect();
    if said.is_empty() {
        said = "an empty body".into();
    }
    Err(format!("{url} answered HTTP {}: {said}", status.as_u16()))
}
