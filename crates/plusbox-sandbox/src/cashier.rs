//! The sandbox's cashier page for entry-code payments (alipayplus-api.md §6): `pay` with
//! `EntryCode` answers with `paymentUrl` = `<sandbox>/cashier/<token>`, the merchant's page sends
//! the buyer's wallet there, and the buyer confirms (with the PIN when the buyer's scenario asks
//! for one) or declines. The page is plain HTML with one form, so it works in any web view and
//! in a browser driven by a test.
//!
//! Plusbox decision: the unguessable token in the URL is the key to the payment's page (as a
//! wallet's in-app cashier link is); the buyer names their sandbox account and, when their
//! scenario asks, the PIN. The companion app can pay the same payment through its API by
//! decoding the `paymentUrl` like an order code (`POST /app/v1/order-codes/decode`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::store::{BuyerDecision, OrderCodeRefusal, OrderCodeView, StoreError};
use crate::Shared;

/// Longest form body read.
const MAX_FORM: usize = 4096;

/// `GET /cashier/{token}`: the order and the pay form.
pub(crate) async fn page(State(shared): State<Arc<Shared>>, Path(token): Path<String>) -> Response {
    let now = shared.now();
    let looked = shared
        .blocking(move |store| match store.cashier_code(&token)? {
            Some(code) => store.peek_order_code(&code, now).map(Some),
            None => Ok(None),
        })
        .await;
    match looked {
        Ok(Some(Ok(order))) => html(StatusCode::OK, &form_page(&order, None, "")),
        Ok(Some(Err(refusal))) => {
            html(StatusCode::GONE, &message_page("This payment cannot be made", &refusal.message))
        }
        Ok(None) => html(
            StatusCode::NOT_FOUND,
            &message_page("No such payment", "This cashier link is not one this sandbox issued."),
        ),
        Err(error) => unavailable(&error),
    }
}

/// `POST /cashier/{token}` (form `account`, `pin`, `action` = `pay` or `decline`).
pub(crate) async fn submit(
    State(shared): State<Arc<Shared>>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    if body.len() > MAX_FORM {
        return html(
            StatusCode::PAYLOAD_TOO_LARGE,
            &message_page("Form too large", "Send the account, the PIN and the action only."),
        );
    }
    let mut account = String::new();
    let mut pin = String::new();
    let mut action = String::new();
    for (key, value) in url::form_urlencoded::parse(&body) {
        match &*key {
            "account" => account = value.trim().to_owned(),
            "pin" => pin = value.trim().to_owned(),
            "action" => action = value.trim().to_owned(),
            _ => {}
        }
    }
    let decision = match action.as_str() {
        "pay" => true,
        "decline" => false,
        other => {
            return html(
                StatusCode::BAD_REQUEST,
                &message_page("Unknown action", &format!("action must be pay or decline, not {other:?}")),
            )
        }
    };
    let now = shared.now();
    let (form_account, form_pin) = (account.clone(), pin.clone());
    let outcome = shared
        .blocking(move |store| {
            let Some(code) = store.cashier_code(&token)? else { return Ok(None) };
            if form_account.is_empty() {
                let order = store.peek_order_code(&code, now)?;
                return Ok(Some((order, None)));
            }
            let pin = (!form_pin.is_empty()).then_some(form_pin.as_str());
            let choice = if decision { BuyerDecision::Confirm(pin) } else { BuyerDecision::Decline };
            let answered = store.answer_order_code(&code, &form_account, choice, now)?;
            let order = store.peek_order_code(&code, now)?;
            Ok(Some((order, Some(answered))))
        })
        .await;
    shared.changed();
    match outcome {
        Ok(None) => html(
            StatusCode::NOT_FOUND,
            &message_page("No such payment", "This cashier link is not one this sandbox issued."),
        ),
        Ok(Some((Ok(order), None))) => html(
            StatusCode::BAD_REQUEST,
            &form_page(&order, Some("Enter your sandbox buyer account."), &account),
        ),
        Ok(Some((_, Some(Ok(payment))))) => {
            let result = payment.payment_result();
            let (title, words) = match result.result_status.as_str() {
                "S" => (
                    "Payment successful",
                    format!("Paid {} with Alipay+. You can return to the merchant's page.", payment.amount),
                ),
                "U" => {
                    ("Payment in process", format!("{} — the payment is being processed.", payment.amount))
                }
                _ => (
                    "Payment failed",
                    format!("{}: {}", result.result_code, result.result_message.unwrap_or_default()),
                ),
            };
            html(StatusCode::OK, &message_page(title, &words))
        }
        Ok(Some((Ok(order), Some(Err(refusal))))) if refusal.code == "PIN_REQUIRED" => {
            html(StatusCode::BAD_REQUEST, &form_page(&order, Some(&refusal.message), &account))
        }
        Ok(Some((_, Some(Err(refusal)))) | Some((Err(refusal), None))) => {
            html(StatusCode::GONE, &message_page("This payment cannot be made", &refusal_words(&refusal)))
        }
        Err(StoreError::NotFound(message)) => {
            html(StatusCode::BAD_REQUEST, &message_page("Unknown buyer", &message))
        }
        Err(error) => unavailable(&error),
    }
}

fn refusal_words(refusal: &OrderCodeRefusal) -> String {
    format!("{} ({})", refusal.message, refusal.code)
}

fn unavailable(error: &StoreError) -> Response {
    tracing::error!(%error, "cashier page failed");
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        &message_page("Try again", "The sandbox store is unavailable; reload the page."),
    )
}

/// An HTML answer that is never cached or sniffed.
pub(crate) fn html(status: StatusCode, body: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body.to_owned(),
    )
        .into_response()
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn shell(title: &str, inner: &str) -> String {
    page_shell("Alipay+ cashier", "sandbox cashier", title, inner)
}

/// A small page of the sandbox's own (the cashier, the TSP authorization page): phone-width,
/// light and dark, no script. `site` names it in the tab title, `brand` under the Alipay+ mark.
pub(crate) fn page_shell(site: &str, brand: &str, title: &str, inner: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} · {site} (Plusbox sandbox)</title><meta name=\"color-scheme\" content=\"light dark\"><style>:root{{color-scheme:light dark}}body{{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}.brand{{color:#1677ff;font-weight:700}}.amount{{font-size:2rem;margin:.5rem 0}}label{{display:block;margin:.75rem 0 .25rem}}input{{width:100%;padding:.5rem;font-size:1rem}}button{{margin:.75rem .5rem 0 0;padding:.6rem 1.2rem;font-size:1rem}}.note{{color:#a30}}pre{{white-space:pre-wrap;overflow-wrap:anywhere}}dt{{font-weight:600}}dd{{margin:0 0 .5rem}}@media (prefers-color-scheme:dark){{.brand{{color:#7db4ff}}.note{{color:#ff8a80}}}}</style></head><body><p class=\"brand\">Alipay+ <small>{brand}</small></p>{inner}</body></html>",
        title = escape(title),
        site = escape(site),
        brand = escape(brand)
    )
}

fn message_page(title: &str, words: &str) -> String {
    shell(title, &format!("<h1 id=\"result\">{}</h1><p id=\"detail\">{}</p>", escape(title), escape(words)))
}

fn form_page(order: &OrderCodeView, note: Option<&str>, account: &str) -> String {
    let line = |label: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| format!("<p>{label}: <strong>{}</strong></p>", escape(v)))
            .unwrap_or_default()
    };
    let inner = format!(
        "<h1>{merchant}</h1>{store}{description}<p class=\"amount\" id=\"amount\">{amount}</p><p>Pay before {expires}.</p>{note}<form method=\"post\"><label for=\"account\">Sandbox buyer account</label><input id=\"account\" name=\"account\" value=\"{account}\" autocomplete=\"username\" required><label for=\"pin\">PIN (when your wallet asks for one)</label><input id=\"pin\" name=\"pin\" type=\"password\" inputmode=\"numeric\" autocomplete=\"off\"><button name=\"action\" value=\"pay\" id=\"pay\">Pay {amount}</button><button name=\"action\" value=\"decline\" id=\"decline\" formnovalidate>Decline</button></form>",
        merchant = escape(order.merchant.as_deref().unwrap_or("Merchant")),
        store = line("Store", &order.store),
        description = line("Order", &order.description),
        amount = escape(&order.display_amount),
        expires = escape(&order.expires_at),
        note = note.map(|n| format!("<p class=\"note\" id=\"note\">{}</p>", escape(n))).unwrap_or_default(),
        account = escape(account),
    );
    shell("Confirm payment", &inner)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_in_order_text_is_escaped() {
        assert_eq!(
            escape("<script>\"a\"&'b'</script>"),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;"
        );
    }
}
