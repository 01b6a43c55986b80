//! Merchant-presented mode in the engine (order codes, alipayplus-api.md §5, and private order
//! codes, §11): the POS action that rings up an order-code sale through the POS-driver contract
//! (`POST /order-code` or `POST /private-order-code`, which answer
//! at once with the code to display, then `GET /payments/{id}` until the sale has ended), and the
//! buyer's step "scan the order code the POS shows, then confirm or decline" played through the
//! sandbox's wallet side.

use plusbox_core::catalogue::{Case, CaseAmount, WalletAction};
use serde_json::{json, Value};

use crate::pos::PosAnswer;
use crate::{PosTask, RunState, Runner, WalletDone};

/// The states of a POS record after which nothing changes.
const FINAL: [&str; 3] = ["SUCCESS", "FAILED", "CANCELLED"];

impl Runner {
    /// `POST /order-code`; the shown code becomes the run's code (what the buyer scans), the
    /// sale's `paymentRequestId` the run's, and a task follows the sale to its end as the step's
    /// POS outcome (reported like a charge, so refunds and cancels find it).
    pub(crate) async fn order_code_action(
        &self,
        case: &Case,
        step: u32,
        amount: Option<CaseAmount>,
        request_id: Option<&str>,
        description: Option<&str>,
        state: &mut RunState,
    ) -> Result<String, String> {
        self.merchant_code_sale("order-code", case, step, amount, request_id, description, state).await
    }

    /// `POST /private-order-code`: as [`Runner::order_code_action`], for a private order code the
    /// ACQP issued (alipayplus-api.md §11); the buyer's scan then has the sandbox ask the ACQP
    /// to decode it.
    pub(crate) async fn private_order_code_action(
        &self,
        case: &Case,
        step: u32,
        amount: Option<CaseAmount>,
        request_id: Option<&str>,
        description: Option<&str>,
        state: &mut RunState,
    ) -> Result<String, String> {
        self.merchant_code_sale("private-order-code", case, step, amount, request_id, description, state)
            .await
    }

    /// Rings up a merchant-presented sale at `POST /<path>` and follows it (see above).
    #[allow(clippy::too_many_arguments)]
    async fn merchant_code_sale(
        &self,
        path: &str,
        case: &Case,
        step: u32,
        amount: Option<CaseAmount>,
        request_id: Option<&str>,
        description: Option<&str>,
        state: &mut RunState,
    ) -> Result<String, String> {
        let amount = amount.unwrap_or(case.setup.amount).to_string();
        let mut body = json!({
            "amount": amount,
            "description": description.unwrap_or("Plusbox acceptance test"),
        });
        if let Some(label) = request_id {
            body["paymentRequestId"] = json!(self.label(case, label, state));
        }
        let base = self.config.pos_url.trim_end_matches('/').to_owned();
        let url = format!("{base}/{path}");
        let started = self.http.post(&url).json(&body).send().await;
        let (status, value) = match started {
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                (status, serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)))
            }
            Err(e) => {
                let answer = error(format!("POST {url}: {e}"));
                state.tasks.push(PosTask { step, action: "charge", handle: tokio::spawn(async { answer }) });
                return Err(format!("the POS could not start a {path} sale: POST {url}: {e}"));
            }
        };
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        if status.is_client_error() {
            let detail = format!(
                "HTTP {}: {} {}",
                status.as_u16(),
                s(&value, "code").unwrap_or_default(),
                s(&value, "message").unwrap_or_default()
            );
            let answer = PosAnswer {
                status: "REFUSED".into(),
                reference: None,
                detail: Some(detail.clone()),
                body: value,
            };
            state.tasks.push(PosTask { step, action: "charge", handle: tokio::spawn(async { answer }) });
            return Ok(format!("POS refused the {path} sale ({detail})"));
        }
        if !status.is_success() {
            let answer = error(format!("POST {url}: HTTP {}: {value}", status.as_u16()));
            state.tasks.push(PosTask { step, action: "charge", handle: tokio::spawn(async { answer }) });
            return Err(format!("the POS failed to start a {path} sale (HTTP {})", status.as_u16()));
        }
        let prid = s(&value, "paymentRequestId");
        if let Some(prid) = &prid {
            state.prids.insert(prid.clone());
        }
        let shown = value.pointer("/orderCode/codeValue").and_then(Value::as_str).map(str::to_owned);
        if let Some(code) = &shown {
            state.codes.push(code.clone());
        }
        let http = self.http.clone();
        let poll = self.config.poll.max(std::time::Duration::from_millis(20));
        let limit = self.config.pos_timeout;
        let handle = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let mut record = value;
            loop {
                let state_now = s(&record, "state").unwrap_or_else(|| "UNKNOWN".into());
                if FINAL.contains(&state_now.as_str()) || started.elapsed() >= limit {
                    return answer_from(state_now, record);
                }
                let Some(prid) = s(&record, "paymentRequestId") else {
                    return answer_from(state_now, record);
                };
                tokio::time::sleep(poll).await;
                let url = format!("{base}/payments/{prid}");
                match http.get(&url).send().await {
                    Ok(response) if response.status().is_success() => {
                        if let Ok(next) = response.json::<Value>().await {
                            record = next;
                        }
                    }
                    Ok(response) if response.status().is_server_error() => {
                        return error(format!("GET {url}: HTTP {}", response.status().as_u16()));
                    }
                    // A 4xx or a dropped connection while polling: ask again.
                    _ => {}
                }
            }
        });
        state.tasks.push(PosTask { step, action: "charge", handle });
        Ok(match (shown, prid) {
            (Some(code), Some(prid)) => format!("POS shows order code {code} for {prid}"),
            (None, Some(prid)) => format!("POS shows no order code for {prid}: the sale ended at pay"),
            _ => "POS answered the order-code sale without a paymentRequestId".to_owned(),
        })
    }

    /// The buyer scans the order code the POS shows, reads the order, and confirms (with the PIN
    /// when the wallet asks for one) or declines it. A code the wallet refuses (expired,
    /// cancelled, paid) is reported in words; the checks judge what the ACQP did about it.
    pub(crate) async fn scan_order_code(
        &self,
        action: WalletAction,
        state: &RunState,
    ) -> Result<WalletDone, String> {
        // The latest merchant-presented code: an order code or private order code (HTTPS), or the
        // sandbox's cashier URL an entry-code page sent the buyer to (on the sandbox's own base
        // URL, http on loopback).
        let Some(code) =
            state.codes.iter().rev().find(|c| c.starts_with("https://") || c.starts_with("http://")).cloned()
        else {
            return Ok(WalletDone::NothingWaiting);
        };
        let account = self.config.account.clone();
        let order = match self.port.decode_order_code(&account, &code).await {
            Ok(Ok(order)) => order,
            Ok(Err(refusal)) => {
                self.poke();
                return Ok(WalletDone::Acted(format!(
                    "the wallet refused order code {code}: {} ({})",
                    refusal.message, refusal.code
                )));
            }
            Err(e) => return Err(format!("decode order code: {e}")),
        };
        let confirm = action != WalletAction::ScanDecline;
        let pin = (confirm && order.pin_required).then_some(crate::BUYER_PIN);
        let answered = self
            .port
            .answer_order_code(&account, &code, confirm, pin)
            .await
            .map_err(|e| format!("answer order code: {e}"))?;
        self.poke();
        let verb = if confirm { "confirmed" } else { "declined" };
        let shop = order.merchant.as_deref().unwrap_or("the merchant");
        Ok(WalletDone::Acted(match answered {
            Ok(result_code) => {
                format!(
                    "buyer scanned {code} ({shop}, {}) and {verb} it: {result_code}",
                    order.display_amount
                )
            }
            Err(refusal) => {
                format!("the wallet refused order code {code}: {} ({})", refusal.message, refusal.code)
            }
        }))
    }
}

fn answer_from(status: String, body: Value) -> PosAnswer {
    let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let detail = match (s("resultCode"), s("resultMessage")) {
        (Some(c), Some(m)) => Some(format!("{c}: {m}")),
        (Some(c), None) => Some(c),
        _ => None,
    };
    PosAnswer { status, reference: s("paymentRequestId"), detail, body }
}

fn error(detail: String) -> PosAnswer {
    PosAnswer { status: "ERROR".into(), reference: None, detail: Some(detail), body: Value::Null }
}
