//! The reference ACQP's entry code (merchant-presented mode, static, issued by the ACQP;
//! alipayplus-api.md §6, payment-codes.md §4.2): the QR holds the HTTPS URL of the merchant's
//! page. The page tells the wallet by its User-Agent — `AlipayConnect` (Alipay+ wallets) or
//! `AlipayClient` (Alipay CN) — and only then takes the amount and calls `pay` with
//! `inStorePaymentScenario = EntryCode`, `order.merchant.store` and the wallet's own
//! `order.env.userAgent`; `pay` answers U with a `paymentUrl` and the page sends the buyer there.
//! The sale is then followed like an order code: inquiries on a steady grid within its window,
//! the first final result from notify or inquiry, `cancelPayment` (until S) at the end.
//!
//! Plusbox decision for this reference ACQP: a page request whose User-Agent names no Alipay+
//! wallet (the reference leaves it to the ACQP) is shown "open this code in your wallet app" and
//! never reaches `pay`. Fault `entry-page-ignores-user-agent` breaks that: any browser gets the
//! amount form, and `pay` carries the POS's own agent string instead of the wallet's. The faults
//! `omit-store` and `omit-user-agent` apply here too (§6 requires both fields).

use serde_json::{json, Value};
use time::Duration;

use super::order_code::OrderCodeShown;
use super::{expiry_guard, new_id, Acquirer};
use crate::client::{wire_time, Api, Outcome};
use crate::config::ms_to_duration;
use crate::error::AcquirerError;
use crate::faults::Fault;
use crate::store::{NewPayment, PaymentRecord, Source};

/// Path of the merchant page on the acquirer.
pub const ENTRY_PAGE_PATH: &str = "/entry";

/// User-Agent markers of the wallets that pay by `pay` (§6): Alipay+ wallets, Alipay (CN).
pub const WALLET_MARKERS: [&str; 2] = ["AlipayConnect", "AlipayClient"];

/// Whether a User-Agent names an Alipay+ wallet (§6).
pub fn is_wallet(user_agent: Option<&str>) -> bool {
    user_agent.is_some_and(|ua| WALLET_MARKERS.iter().any(|m| ua.contains(m)))
}

/// What the merchant page answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryPage {
    /// An HTML page (status, body).
    Html(u16, String),
    /// The sale was not started at Alipay+ (pay refused or unanswered): a page saying why.
    NotStarted {
        /// The page.
        body: String,
        /// The sale's `paymentRequestId`.
        payment_request_id: String,
    },
    /// Send the browser to this URL (the wallet's cashier, `paymentUrl`), for this sale.
    Redirect {
        /// `paymentUrl`.
        to: String,
        /// The sale's `paymentRequestId`.
        payment_request_id: String,
    },
}

impl Acquirer {
    /// The entry code: the merchant page's public HTTPS URL (what the QR holds), if configured.
    pub fn entry_code(&self) -> Option<OrderCodeShown> {
        let url = self.inner.config.merchant.entry_code_url.clone()?;
        Some(OrderCodeShown { code_value: url, expire_time: None, images: Vec::new() })
    }

    /// `GET /entry`: the amount form for a wallet; "open it in your wallet" for anything else.
    pub fn entry_page(&self, user_agent: Option<&str>) -> EntryPage {
        if !is_wallet(user_agent) && !self.has(Fault::EntryPageIgnoresUserAgent) {
            return EntryPage::Html(200, not_a_wallet_page());
        }
        let m = &self.inner.config.merchant;
        EntryPage::Html(200, amount_page(&m.merchant_name, &m.store_name, &m.entry_code_currency, None))
    }

    /// `POST /entry` with the amount the buyer typed: `pay` with `EntryCode`, then off to the
    /// `paymentUrl`; the sale is followed in the background.
    pub async fn entry_pay(
        &self,
        user_agent: Option<&str>,
        amount: &str,
    ) -> Result<EntryPage, AcquirerError> {
        let wallet = is_wallet(user_agent);
        if !wallet && !self.has(Fault::EntryPageIgnoresUserAgent) {
            return Ok(EntryPage::Html(403, not_a_wallet_page()));
        }
        let m = self.inner.config.merchant.clone();
        let text = format!("{} {}", amount.trim(), m.entry_code_currency);
        let amount = match super::parse_amount(&text) {
            Ok(amount) => amount,
            Err(e) => {
                let note = format!("Enter an amount such as 12.50 ({e}).");
                return Ok(EntryPage::Html(
                    400,
                    amount_page(&m.merchant_name, &m.store_name, &m.entry_code_currency, Some(&note)),
                ));
            }
        };
        let created = self.now();
        let prid = new_id("pay", created);
        let timing = self.inner.config.timing.clone();
        let mut expires = created + ms_to_duration(timing.order_code_window_ms);
        if expires.nanosecond() > 0 {
            expires = expires.replace_nanosecond(0).unwrap_or(expires) + Duration::SECOND;
        }
        self.inner.store.insert_payment(&NewPayment {
            payment_request_id: &prid,
            code: "",
            amount,
            created_at: created,
            expires_at: expires,
        })?;
        // §6: the wallet's own User-Agent; the broken page sends the terminal's instead.
        let agent = if wallet && !self.has(Fault::EntryPageIgnoresUserAgent) {
            user_agent.map(str::to_owned)
        } else {
            Some(format!("PlusboxPOS/{} (reference acquirer)", env!("CARGO_PKG_VERSION")))
        };
        let body = self.entry_code_body(&prid, amount, expires, agent.as_deref());
        let give_up_at = expires - expiry_guard(&timing);
        let mut url = None;
        for attempt in 0..timing.pay_attempts {
            if attempt > 0 {
                self.sleep_until((self.now() + ms_to_duration(timing.retry_interval_ms)).min(give_up_at))
                    .await;
                if self.is_final(&prid)? || self.now() >= give_up_at {
                    break;
                }
            }
            if let Outcome::Answered(answer) =
                self.call(Api::Pay, &body, timing.pay_timeout_ms, &prid, &prid).await
            {
                let result = (answer.status, answer.code.as_str(), answer.message.as_str());
                self.apply_answer(&prid, &answer, result, Source::Pay)?;
                if answer.status.is_final() {
                    break;
                }
                if let Some(to) =
                    answer.body.get("paymentUrl").and_then(Value::as_str).filter(|u| !u.is_empty())
                {
                    self.inner.store.set_code(&prid, to, self.now())?;
                    url = Some(to.to_owned());
                    break;
                }
            }
        }
        let payment = self.payment(&prid)?;
        if !payment.state.is_final() {
            let follower = self.clone();
            let follow_prid = prid.clone();
            tokio::spawn(async move { follower.follow_order_code(&follow_prid, give_up_at).await });
        }
        Ok(match url {
            Some(to) => EntryPage::Redirect { to, payment_request_id: prid },
            None => EntryPage::NotStarted { body: sale_failed_page(&payment), payment_request_id: prid },
        })
    }

    fn entry_code_body(
        &self,
        prid: &str,
        amount: plusbox_core::money::Amount,
        expires: time::OffsetDateTime,
        user_agent: Option<&str>,
    ) -> Value {
        let cfg = &self.inner.config;
        let m = &cfg.merchant;
        let mut env = json!({"terminalType": "WAP"});
        if let Some(agent) = user_agent.filter(|_| !self.has(Fault::OmitUserAgent)) {
            env["userAgent"] = json!(agent);
        }
        let mut merchant = json!({
            "referenceMerchantId": m.reference_merchant_id,
            "merchantName": m.merchant_name,
            "merchantMCC": m.merchant_mcc,
        });
        if !self.has(Fault::OmitStore) {
            merchant["store"] = json!({"referenceStoreId": m.reference_store_id, "storeName": m.store_name, "storeMCC": m.store_mcc});
        }
        json!({
            "paymentRequestId": prid,
            "paymentAmount": self.amount_json(amount),
            "paymentMethod": {"paymentMethodType": "CONNECT_WALLET"},
            "paymentFactor": {"isInStorePayment": "true", "inStorePaymentScenario": "EntryCode"},
            "paymentExpiryTime": wire_time(expires),
            "paymentNotifyUrl": cfg.notify_url,
            "order": {
                "referenceOrderId": prid.replacen("pay_", "ord_", 1),
                "orderDescription": m.order_description,
                "orderAmount": self.amount_json(amount),
                "merchant": merchant,
                "env": env,
            },
        })
    }

    /// The newest sale started from the merchant page after `after` (RFC 3339), for the POS that
    /// shows the entry code and follows what the buyer pays.
    pub fn latest_entry_sale(&self, after: &str) -> Result<Option<PaymentRecord>, AcquirerError> {
        let recent = self.inner.store.recent_payments(20)?;
        Ok(recent.into_iter().find(|p| p.created_at.as_str() > after && p.code.contains("/cashier/")))
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn page(title: &str, inner: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"color-scheme\" content=\"light dark\"><title>{}</title><style>:root{{color-scheme:light dark}}body{{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}input,button{{font-size:1.2rem;padding:.5rem;margin-top:.5rem}}</style></head><body>{inner}</body></html>",
        escape(title)
    )
}

fn amount_page(merchant: &str, store: &str, currency: &str, note: Option<&str>) -> String {
    let note = note.map(|n| format!("<p id=\"note\">{}</p>", escape(n))).unwrap_or_default();
    page(
        merchant,
        &format!(
            "<h1>{}</h1><p>{} · pay with Alipay+</p>{note}<form method=\"post\"><label for=\"amount\">Amount ({})</label><br><input id=\"amount\" name=\"amount\" inputmode=\"decimal\" required autofocus><br><button id=\"pay\">Pay</button></form>",
            escape(merchant),
            escape(store),
            escape(currency)
        ),
    )
}

fn not_a_wallet_page() -> String {
    page(
        "Open in your wallet",
        "<h1 id=\"not-a-wallet\">Open this code in your wallet app</h1><p>Scan the QR code with an Alipay+ wallet to pay this merchant.</p>",
    )
}

fn sale_failed_page(payment: &PaymentRecord) -> String {
    page(
        "Payment not started",
        &format!(
            "<h1 id=\"failed\">The payment could not be started</h1><p>{} {}</p>",
            escape(payment.result_code.as_deref().unwrap_or("no answer")),
            escape(payment.result_message.as_deref().unwrap_or(""))
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::is_wallet;

    #[test]
    fn wallets_are_told_by_their_user_agent_markers() {
        assert!(is_wallet(Some("Mozilla/5.0 (Linux; Android 14) AlipayConnect/1.0")));
        assert!(is_wallet(Some("Mozilla/5.0 AlipayClient/10.5")));
        assert!(!is_wallet(Some("Mozilla/5.0 (X11; Linux x86_64) Chrome/120")));
        assert!(!is_wallet(None));
    }
}
