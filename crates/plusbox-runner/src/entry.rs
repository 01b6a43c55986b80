//! Entry codes in the engine (merchant-presented mode, static, issued by the ACQP;
//! alipayplus-api.md §6): the POS shows the merchant's static code (`GET /entry-code`, the merchant
//! page's HTTPS URL), and the buyer's wallet opens that page with its own User-Agent
//! (`AlipayConnect`), types the sale amount and follows the page's redirect to the cashier — the
//! `paymentUrl` the sandbox answered `pay` with. The cashier URL becomes the run's code, so a
//! following `scan-confirm` or `scan-decline` pays or declines it like an order code. The same
//! page opened by an ordinary browser must not start a payment.

use plusbox_core::catalogue::{Case, WalletAction};
use reqwest::header::{LOCATION, USER_AGENT};
use serde_json::Value;

use crate::{RunState, Runner, WalletDone};

/// The companion wallet's web-view User-Agent for an Alipay+ wallet persona (§6 Plusbox decision).
pub const WALLET_USER_AGENT: &str =
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 AlipayConnect/1.0 (Plusbox companion)";

/// An ordinary desktop browser.
pub const BROWSER_USER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

impl Runner {
    /// `GET /entry-code`: the code the POS shows becomes the run's code (what the buyer scans).
    pub(crate) async fn entry_code_action(&self, state: &mut RunState) -> Result<String, String> {
        let url = format!("{}/entry-code", self.config.pos_url.trim_end_matches('/'));
        let response = self.http.get(&url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!("the POS shows no entry code: GET {url}: HTTP {} {body}", status.as_u16()));
        }
        let code = body
            .get("codeValue")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("GET {url} answered without a codeValue: {body}"))?
            .to_owned();
        state.codes.push(code.clone());
        Ok(format!("POS shows entry code {code}"))
    }

    /// The buyer opens the entry code and pays the case's amount on the merchant page (as the
    /// wallet, or as an ordinary browser).
    pub(crate) async fn open_entry_code(
        &self,
        case: &Case,
        action: WalletAction,
        state: &mut RunState,
    ) -> Result<WalletDone, String> {
        let Some(url) = state.codes.iter().rev().find(|c| c.starts_with("https://")).cloned() else {
            return Ok(WalletDone::NothingWaiting);
        };
        let (agent, who) = if action == WalletAction::OpenEntryCodeInBrowser {
            (BROWSER_USER_AGENT, "an ordinary browser")
        } else {
            (WALLET_USER_AGENT, "the wallet")
        };
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30));
        if let Some(pem) = &self.config.merchant_page_ca {
            let ca = reqwest::Certificate::from_pem(pem).map_err(|e| format!("merchant page CA: {e}"))?;
            builder = builder.add_root_certificate(ca);
        }
        let browser = builder.build().map_err(|e| format!("web view: {e}"))?;
        let page = browser
            .get(&url)
            .header(USER_AGENT, agent)
            .send()
            .await
            .map_err(|e| format!("{who} could not open {url}: {e}"))?;
        let html = page.text().await.unwrap_or_default();
        if !html.contains("name=\"amount\"") {
            return Ok(WalletDone::Acted(format!("{who} opened {url}: the page offers no amount form")));
        }
        // The amount as typed on a keypad: major units, no currency.
        let typed = case.setup.amount.0.to_string();
        let typed = typed.split_whitespace().next().unwrap_or_default().to_owned();
        let answer = browser
            .post(&url)
            .header(USER_AGENT, agent)
            .form(&[("amount", typed.as_str())])
            .send()
            .await
            .map_err(|e| format!("{who} could not submit the amount on {url}: {e}"))?;
        let status = answer.status();
        let header = |name: &str| answer.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (cashier, prid) = (header(LOCATION.as_str()), header("x-payment-request-id"));
        if let Some(prid) = prid {
            state.prids.insert(prid);
        }
        match cashier.filter(|_| status.is_redirection()) {
            Some(cashier) => {
                state.codes.push(cashier.clone());
                Ok(WalletDone::Acted(format!(
                    "{who} paid {typed} on {url} and was sent to the cashier {cashier}"
                )))
            }
            None => Ok(WalletDone::Acted(format!(
                "{who} submitted {typed} on {url}: HTTP {}, no cashier to go to",
                status.as_u16()
            ))),
        }
    }
}
