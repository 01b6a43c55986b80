//! A client for the POS-driver API of a running `acquirer serve` (see `docs/pos-driver.md`):
//! what `plusbox pos … --acquirer URL`, demos and test runners use to drive an acquirer.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::error::AcquirerError;
use crate::store::{PaymentRecord, RefundRecord};

/// An error answer from the acquirer: `{code, message}` with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message} (HTTP {status})")]
pub struct DriverError {
    /// HTTP status.
    pub status: u16,
    /// Stable code.
    pub code: String,
    /// Explanation.
    pub message: String,
}

/// The POS-driver client.
#[derive(Debug, Clone)]
pub struct PosDriver {
    http: reqwest::Client,
    base_url: String,
}

impl PosDriver {
    /// A client for the acquirer at `base_url` (e.g. `http://127.0.0.1:8788`). `timeout` bounds a
    /// whole charge, which can last the payment expiry plus the cancel retries.
    pub fn new(base_url: &str, timeout: Duration) -> Result<PosDriver, AcquirerError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| AcquirerError::Network(format!("cannot build HTTP client: {e}")))?;
        Ok(PosDriver { http, base_url: base_url.trim_end_matches('/').to_owned() })
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, DriverError> {
        let network =
            |e: reqwest::Error| DriverError { status: 0, code: "NETWORK".to_owned(), message: e.to_string() };
        let response = request.send().await.map_err(network)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(network)?;
        if status != 200 {
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            return Err(DriverError { status, code: s("code"), message: s("message") });
        }
        serde_json::from_slice(&bytes).map_err(|e| DriverError {
            status,
            code: "BAD_RESPONSE".to_owned(),
            message: format!("cannot read the acquirer's answer: {e}"),
        })
    }

    /// `POST /charge`: runs a charge to its final state.
    pub async fn charge(&self, code: &str, amount: &str) -> Result<PaymentRecord, DriverError> {
        let body = json!({"code": code, "amount": amount});
        self.send(self.http.post(format!("{}/charge", self.base_url)).json(&body)).await
    }

    /// `POST /order-code`: starts an order-code sale; answers at once with the code to display.
    pub async fn order_code(&self, amount: &str) -> Result<crate::OrderCodeSale, DriverError> {
        let body = json!({"amount": amount});
        self.send(self.http.post(format!("{}/order-code", self.base_url)).json(&body)).await
    }

    /// `POST /private-order-code`: starts a private-order-code sale; answers at once with the
    /// code to display.
    pub async fn private_order_code(&self, amount: &str) -> Result<crate::OrderCodeSale, DriverError> {
        let body = json!({"amount": amount});
        self.send(self.http.post(format!("{}/private-order-code", self.base_url)).json(&body)).await
    }

    /// `GET /entry-code`: the merchant's static entry code (its page's HTTPS URL).
    pub async fn entry_code(&self) -> Result<crate::OrderCodeShown, DriverError> {
        self.send(self.http.get(format!("{}/entry-code", self.base_url))).await
    }

    /// `GET /payments`: the most recent sales, newest first.
    pub async fn recent(&self) -> Result<Vec<PaymentRecord>, DriverError> {
        self.send(self.http.get(format!("{}/payments", self.base_url))).await
    }

    /// `POST /refund`.
    pub async fn refund(
        &self,
        payment: &str,
        amount: &str,
        reason: Option<&str>,
    ) -> Result<RefundRecord, DriverError> {
        let mut body = json!({"payment": payment, "amount": amount});
        if let Some(reason) = reason {
            body["reason"] = json!(reason);
        }
        self.send(self.http.post(format!("{}/refund", self.base_url)).json(&body)).await
    }

    /// `POST /cancel`.
    pub async fn cancel(&self, payment: &str) -> Result<PaymentRecord, DriverError> {
        let body = json!({"payment": payment});
        self.send(self.http.post(format!("{}/cancel", self.base_url)).json(&body)).await
    }

    /// `GET /payments/{id}`.
    pub async fn payment(&self, id: &str) -> Result<PaymentRecord, DriverError> {
        let id: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect();
        self.send(self.http.get(format!("{}/payments/{id}", self.base_url))).await
    }
}
