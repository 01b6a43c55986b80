//! The [`SandboxPort`] over the sandbox's test-control API (`/app/v1/test/…`,
//! `docs/test-control-api.md`) with a device token: how `plusbox run --sandbox URL --token T` and
//! the companion app reach a sandbox on another machine. The device's scope (merchant, buyer) is
//! enforced by the sandbox, so a run sees only its own traffic.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use plusbox_clock::{ScaledClock, SharedClock};
use plusbox_core::catalogue::TrafficEntry;
use plusbox_core::money::Amount;
use plusbox_core::protocol::time::parse_instant;
use reqwest::Method;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use crate::port::{
    BuyerState, OrderRefusal, PaymentState, PendingPayment, PortError, PortResult, Rule, SandboxApp,
    SandboxPort, ScannedOrder, ORDER_REFUSALS,
};

/// Real time between the two readings of the sandbox's clock that give its pace.
const PACE_PROBE: std::time::Duration = std::time::Duration::from_millis(300);

/// Real-time limit of one test-control call.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// A sandbox reached over HTTP.
#[derive(Debug, Clone)]
pub struct HttpPort {
    base: String,
    auth: String,
    http: reqwest::Client,
    clock: Arc<ScaledClock>,
}

impl HttpPort {
    /// Connects to the sandbox at `base` (e.g. `http://127.0.0.1:8787`) with a device token, and
    /// sets the run's clock from the sandbox's: its time now, running at the wall clock's pace
    /// from here (the sandbox's compressed time is not followed over HTTP).
    pub async fn connect(base: &str, token: &str) -> PortResult<HttpPort> {
        let http =
            reqwest::Client::builder().timeout(CALL_TIMEOUT).build().map_err(|e| PortError::Unreachable {
                at: base.to_owned(),
                detail: format!("cannot build the HTTP client: {e}"),
            })?;
        HttpPort::connect_with(base, token, http).await
    }

    /// Like [`HttpPort::connect`] with a client of the caller's (the companion's, which may
    /// trust the sandbox's own certificate); each call still has its time limit.
    pub async fn connect_with(base: &str, token: &str, http: reqwest::Client) -> PortResult<HttpPort> {
        let base = base.trim_end_matches('/').to_owned();
        let mut port = HttpPort {
            base,
            auth: format!("Bearer {token}"),
            http,
            clock: Arc::new(ScaledClock::anchored(OffsetDateTime::now_utc(), Instant::now(), 1.0)),
        };
        // Two readings of the sandbox's time a moment apart give its pace (compressed time runs
        // faster than the wall clock); the run's clock starts from the second at that pace.
        let (first, first_at, told) = port.sandbox_ms().await?;
        // The sandbox says its pace (`timeScale`); measured from two readings only when an older
        // sandbox does not, since on a busy machine the probe's jitter skews the measurement.
        let (second, second_at, scale) = match told {
            Some(scale) => (first, first_at, scale),
            None => {
                tokio::time::sleep(PACE_PROBE).await;
                let (second, second_at, _) = port.sandbox_ms().await?;
                let real = second_at.duration_since(first_at).as_secs_f64() * 1000.0;
                let measured = second.saturating_sub(first) as f64 / real.max(1.0);
                // Paces are whole numbers in practice (`serve --time-scale 10`).
                let scale = if (measured - measured.round()).abs() < 0.1 * measured.max(1.0) {
                    measured.round()
                } else {
                    measured
                };
                (second, second_at, scale)
            }
        };
        let scale = if scale.is_finite() && scale >= 1.0 { scale } else { 1.0 };
        let now = OffsetDateTime::from_unix_timestamp_nanos(i128::from(second) * 1_000_000)
            .map_err(|e| garbage("GET /sandbox", &format!("nowMs out of range: {e}")))?;
        port.clock = Arc::new(ScaledClock::anchored(now, second_at, scale));
        Ok(port)
    }

    /// The sandbox's time in epoch milliseconds, the real instant it was read (the middle of
    /// the call), and the pace the sandbox reports, when it does.
    async fn sandbox_ms(&self) -> PortResult<(i64, Instant, Option<f64>)> {
        let sent = Instant::now();
        let answer = self.call(Method::GET, "/sandbox", None, "GET /sandbox").await?;
        let middle = sent + sent.elapsed() / 2;
        let pace = answer.get("timeScale").and_then(Value::as_f64).filter(|p| p.is_finite() && *p > 0.0);
        Ok((int(&answer, "nowMs", "GET /sandbox")?, middle, pace))
    }

    /// The device's scope as the sandbox reports it (`GET /scope`).
    pub async fn scope(&self) -> PortResult<Value> {
        self.call(Method::GET, "/scope", None, "GET /scope").await
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>, what: &str) -> PortResult<Value> {
        self.call_app(method, &format!("/test{path}"), body, what).await
    }

    /// A call to the companion API outside the test-control part (`/app/v1{path}`), e.g. the
    /// buyer's wallet scanning an order code.
    async fn call_app(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        what: &str,
    ) -> PortResult<Value> {
        let url = format!("{}/app/v1{path}", self.base);
        let mut request =
            self.http.request(method, &url).timeout(CALL_TIMEOUT).header("authorization", &self.auth);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request
            .send()
            .await
            .map_err(|e| PortError::Unreachable { at: self.base.clone(), detail: format!("{what}: {e}") })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| PortError::Unreachable { at: self.base.clone(), detail: format!("{what}: {e}") })?;
        if status.as_u16() == 204 {
            return Ok(Value::Null);
        }
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            garbage(
                what,
                &format!("HTTP {status}, not JSON ({e}): {}", text.chars().take(120).collect::<String>()),
            )
        })?;
        if status.is_success() {
            return Ok(value);
        }
        match (value.get("code").and_then(Value::as_str), value.get("message").and_then(Value::as_str)) {
            (Some(code), Some(message)) => Err(PortError::Refused {
                what: what.to_owned(),
                code: code.to_owned(),
                message: message.to_owned(),
            }),
            _ => Err(garbage(what, &format!("HTTP {status} without {{code, message}}: {value}"))),
        }
    }
}

/// A wallet refusal of an order code, told apart from a failure of the port.
fn order_refusal(result: PortResult<Value>) -> PortResult<Result<Value, OrderRefusal>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(PortError::Refused { code, message, .. }) if ORDER_REFUSALS.contains(&code.as_str()) => {
            Ok(Err(OrderRefusal { code, message }))
        }
        Err(other) => Err(other),
    }
}

fn garbage(what: &str, detail: &str) -> PortError {
    PortError::Garbage { what: what.to_owned(), detail: detail.to_owned() }
}

fn seg(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn text(value: &Value, field: &str, what: &str) -> PortResult<String> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| garbage(what, &format!("no `{field}`")))
}

fn int(value: &Value, field: &str, what: &str) -> PortResult<i64> {
    value.get(field).and_then(Value::as_i64).ok_or_else(|| garbage(what, &format!("no integer `{field}`")))
}

/// True for the refusal codes of the sandbox's dispute rules (store/disputes.rs).
fn dispute_rule(code: &str) -> bool {
    ["DISPUTE_", "RETRIEVAL_", "ESCALATION_"].iter().any(|p| code.starts_with(p))
        || matches!(
            code,
            "PAYMENT_NOT_FOUND"
                | "PAYMENT_AMBIGUOUS"
                | "PAYMENT_NOT_DISPUTABLE"
                | "NO_DISPUTE_URL"
                | "AMOUNT_INVALID"
        )
}

#[async_trait]
impl SandboxPort for HttpPort {
    fn clock(&self) -> SharedClock {
        Arc::clone(&self.clock) as SharedClock
    }

    fn describe(&self) -> String {
        self.base.clone()
    }

    async fn begin_run(&self, account: &str) -> PortResult<i64> {
        let what = "POST /runs";
        int(&self.call(Method::POST, "/runs", Some(json!({"account": account})), what).await?, "runId", what)
    }

    async fn end_run(&self, run: i64) -> PortResult<()> {
        self.call(Method::DELETE, &format!("/runs/{run}"), None, "DELETE /runs").await.map(drop)
    }

    async fn ensure_buyer_like(&self, id: &str, like: &str) -> PortResult<bool> {
        let answer =
            self.call(Method::POST, "/buyers", Some(json!({"id": id, "like": like})), "POST /buyers").await?;
        Ok(answer.get("created").and_then(Value::as_bool).unwrap_or(false))
    }

    async fn magic_amounts_on(&self) -> PortResult<()> {
        self.call(Method::PUT, "/magic-amounts", Some(json!({"on": true})), "PUT /magic-amounts")
            .await
            .map(drop)
    }

    async fn buyer(&self, account: &str) -> PortResult<BuyerState> {
        let what = "GET /accounts/{id}";
        let view = self.call(Method::GET, &format!("/accounts/{}", seg(account)), None, what).await?;
        let balances = view
            .get("balances")
            .and_then(Value::as_array)
            .ok_or_else(|| garbage(what, "no `balances`"))?
            .iter()
            .map(|b| {
                let currency = text(b, "currency", what)?;
                let value = text(b, "value", what)?
                    .parse()
                    .map_err(|_| garbage(what, "a balance is not minor units"))?;
                Ok((currency, value))
            })
            .collect::<PortResult<Vec<_>>>()?;
        Ok(BuyerState { scenario: text(&view, "scenario", what)?, balances })
    }

    async fn set_scenario(&self, account: &str, scenario: &str) -> PortResult<()> {
        let path = format!("/accounts/{}/scenario", seg(account));
        self.call(Method::PUT, &path, Some(json!({"scenario": scenario})), "PUT /accounts/{id}/scenario")
            .await
            .map(drop)
    }

    async fn set_wallet(&self, account: &str, wallet: &str) -> PortResult<String> {
        let path = format!("/accounts/{}/wallet", seg(account));
        let answer = self
            .call(Method::PUT, &path, Some(json!({"wallet": wallet})), "PUT /accounts/{id}/wallet")
            .await?;
        answer.get("previous").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| PortError::Garbage {
            what: "set the wallet".into(),
            detail: "the answer has no previous wallet".into(),
        })
    }

    async fn topup(&self, account: &str, amount: Amount) -> PortResult<()> {
        let path = format!("/accounts/{}/topup", seg(account));
        let body = json!({"amount": amount.to_string()});
        self.call(Method::POST, &path, Some(body), "POST /accounts/{id}/topup").await.map(drop)
    }

    async fn issue_code(&self, account: &str, age: Duration) -> PortResult<String> {
        let what = "POST /accounts/{id}/codes";
        let path = format!("/accounts/{}/codes", seg(account));
        let answer =
            self.call(Method::POST, &path, Some(json!({"ageSeconds": age.whole_seconds()})), what).await?;
        text(&answer, "code", what)
    }

    async fn add_rule(
        &self,
        account: &str,
        api: &str,
        rule: Rule,
        count: u32,
        minutes: u32,
    ) -> PortResult<i64> {
        let what = "POST /mocks";
        let mut body =
            json!({"api": api, "count": count, "minutes": minutes, "scope": "account", "account": account});
        match rule {
            Rule::Force(code) => body["resultCode"] = json!(code),
            Rule::TamperBody => body["tamper"] = json!("body"),
        }
        int(&self.call(Method::POST, "/mocks", Some(body), what).await?, "id", what)
    }

    async fn remove_rule(&self, id: i64) -> PortResult<()> {
        self.call(Method::DELETE, &format!("/mocks/{id}"), None, "DELETE /mocks/{id}").await.map(drop)
    }

    async fn hold_notifications(&self, account: &str, delay: Duration, minutes: u32) -> PortResult<()> {
        let path = format!("/accounts/{}/notify-hold", seg(account));
        let body = json!({"delayMs": i64::try_from(delay.whole_milliseconds()).unwrap_or(i64::MAX), "minutes": minutes});
        self.call(Method::PUT, &path, Some(body), "PUT /accounts/{id}/notify-hold").await.map(drop)
    }

    async fn release_notifications(&self, account: &str) -> PortResult<()> {
        let path = format!("/accounts/{}/notify-hold", seg(account));
        self.call(Method::DELETE, &path, None, "DELETE /accounts/{id}/notify-hold").await.map(drop)
    }

    async fn age_payments(&self, payment_ids: &[String], by: Duration) -> PortResult<usize> {
        let what = "POST /payments/age";
        let body = json!({"paymentIds": payment_ids, "seconds": by.whole_seconds()});
        let aged = int(&self.call(Method::POST, "/payments/age", Some(body), what).await?, "aged", what)?;
        usize::try_from(aged).map_err(|_| garbage(what, "a negative count"))
    }

    async fn payment(&self, payment_id: &str) -> PortResult<Option<PaymentState>> {
        let what = "GET /payments/{id}";
        let answer = match self.call(Method::GET, &format!("/payments/{}", seg(payment_id)), None, what).await
        {
            Ok(answer) => answer,
            Err(PortError::Refused { code, .. }) if code == "NOT_FOUND" => return Ok(None),
            Err(e) => return Err(e),
        };
        let amount = answer.get("amount").ok_or_else(|| garbage(what, "no `amount`"))?;
        Ok(Some(PaymentState {
            payment_request_id: text(&answer, "paymentRequestId", what)?,
            payment_id: text(&answer, "paymentId", what)?,
            state: text(&answer, "state", what)?,
            fail_code: answer.get("failCode").and_then(Value::as_str).map(str::to_owned),
            currency: text(amount, "currency", what)?,
            value: text(amount, "value", what)?
                .parse()
                .map_err(|_| garbage(what, "the amount is not minor units"))?,
            expires_at: parse_instant(&text(&answer, "expiresAt", what)?)
                .map_err(|e| garbage(what, &format!("expiresAt: {e}")))?,
        }))
    }

    async fn pending(&self, account: &str) -> PortResult<Vec<PendingPayment>> {
        let what = "GET /pending";
        let answer = self.call(Method::GET, "/pending", None, what).await?;
        let list = answer.as_array().ok_or_else(|| garbage(what, "not a list"))?;
        let mut out = Vec::new();
        for p in list {
            let amount = p.get("amount").ok_or_else(|| garbage(what, "no `amount`"))?;
            let pending = PendingPayment {
                payment_id: text(p, "paymentId", what)?,
                payment_request_id: text(p, "paymentRequestId", what)?,
                account: text(p, "account", what)?,
                currency: text(amount, "currency", what)?,
                value: text(amount, "value", what)?
                    .parse()
                    .map_err(|_| garbage(what, "the amount is not minor units"))?,
            };
            if pending.account == account {
                out.push(pending);
            }
        }
        Ok(out)
    }

    async fn confirm(&self, payment_id: &str, pin: &str) -> PortResult<()> {
        let path = format!("/payments/{}/confirm", seg(payment_id));
        self.call(Method::POST, &path, Some(json!({"pin": pin})), "POST /payments/{id}/confirm")
            .await
            .map(drop)
    }

    async fn decline(&self, payment_id: &str) -> PortResult<()> {
        let path = format!("/payments/{}/decline", seg(payment_id));
        self.call(Method::POST, &path, None, "POST /payments/{id}/decline").await.map(drop)
    }

    async fn traffic_mark(&self) -> PortResult<i64> {
        let what = "GET /traffic";
        int(
            &self.call(Method::GET, "/traffic?limit=1&after=9223372036854775806", None, what).await?,
            "mark",
            what,
        )
    }

    async fn traffic(&self, after: i64, limit: u32) -> PortResult<(Vec<TrafficEntry>, i64)> {
        let what = "GET /traffic";
        let answer =
            self.call(Method::GET, &format!("/traffic?after={after}&limit={limit}"), None, what).await?;
        let entries = answer.get("entries").cloned().ok_or_else(|| garbage(what, "no `entries`"))?;
        let entries: Vec<TrafficEntry> =
            serde_json::from_value(entries).map_err(|e| garbage(what, &format!("entries: {e}")))?;
        Ok((entries, int(&answer, "next", what)?))
    }

    async fn app(&self) -> PortResult<SandboxApp> {
        let what = "GET /sandbox";
        let answer = self.call(Method::GET, "/sandbox", None, what).await?;
        Ok(SandboxApp {
            client_id: text(&answer, "clientId", what)?,
            acquirer_id: text(&answer, "acquirerId", what)?,
            notify_url: answer.get("notifyUrl").and_then(Value::as_str).map(str::to_owned),
        })
    }

    async fn open_dispute(
        &self,
        kind: &str,
        payment_id: &str,
        amount: Option<Amount>,
    ) -> PortResult<Result<String, (String, String)>> {
        let what = "POST /disputes";
        let mut body = json!({"kind": kind, "paymentId": payment_id});
        if let Some(amount) = amount {
            body["amount"] = json!({"currency": amount.currency.code(), "value": amount.value.to_string()});
        }
        match self.call(Method::POST, "/disputes", Some(body), what).await {
            Ok(answer) => answer
                .get("disputeRequestId")
                .and_then(Value::as_str)
                .map(|id| Ok(id.to_owned()))
                .ok_or_else(|| garbage(what, "no `disputeRequestId`")),
            // The sandbox's rules refused the dispute: a verdict, not a port failure.
            Err(PortError::Refused { code, message, .. }) if dispute_rule(&code) => Ok(Err((code, message))),
            Err(e) => Err(e),
        }
    }

    async fn decode_order_code(
        &self,
        account: &str,
        code: &str,
    ) -> PortResult<Result<ScannedOrder, OrderRefusal>> {
        let what = "POST /app/v1/order-codes/decode";
        let body = json!({"code": code, "account": account});
        let answer =
            order_refusal(self.call_app(Method::POST, "/order-codes/decode", Some(body), what).await)?;
        Ok(match answer {
            Ok(view) => Ok(ScannedOrder {
                merchant: view.get("merchant").and_then(Value::as_str).map(str::to_owned),
                display_amount: text(&view, "displayAmount", what)?,
                pin_required: view
                    .get("pinRequired")
                    .and_then(Value::as_bool)
                    .ok_or_else(|| garbage(what, "no `pinRequired`"))?,
            }),
            Err(refusal) => Err(refusal),
        })
    }

    async fn answer_order_code(
        &self,
        account: &str,
        code: &str,
        confirm: bool,
        pin: Option<&str>,
    ) -> PortResult<Result<String, OrderRefusal>> {
        let (path, what) = if confirm {
            ("/order-codes/confirm", "POST /app/v1/order-codes/confirm")
        } else {
            ("/order-codes/decline", "POST /app/v1/order-codes/decline")
        };
        let mut body = json!({"code": code, "account": account});
        if let Some(pin) = pin {
            body["pin"] = json!(pin);
        }
        let answer = order_refusal(self.call_app(Method::POST, path, Some(body), what).await)?;
        Ok(match answer {
            Ok(done) => Ok(done
                .pointer("/paymentResult/resultCode")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| garbage(what, "no `paymentResult.resultCode`"))?),
            Err(refusal) => Err(refusal),
        })
    }
}
