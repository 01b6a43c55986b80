//! Entry codes end to end (alipayplus-api.md §6, payment-codes.md §4.2): the reference acquirer's
//! merchant page, served over HTTPS, tells the wallet by its User-Agent, calls `pay` with
//! `EntryCode` and the wallet's agent string, and sends the buyer to the sandbox's cashier page
//! (`paymentUrl`), where the buyer pays — in the page itself, or with the companion commands,
//! which decode the cashier URL like an order code. An ordinary browser starts no payment. Real
//! sandbox, acquirer and companion client on ephemeral ports, on time compressed 12 times.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;

use std::time::Duration;

use acquirer_common::Env;
use plusbox_acquirer::{Fault, OrderState, PaymentRecord, PosDriver, Timing};
use plusbox_companion::mpm::{confirm_order_code, decode_order_code, ConfirmOrderCodeArgs, OrderCodeArgs};
use serde_json::Value;

const WALLET: &str = "Mozilla/5.0 (Linux; Android 14) Mobile AlipayConnect/1.0";
const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0";

fn timing() -> Timing {
    Timing { order_code_window_ms: 36_000, order_code_poll_interval_ms: 1_000, ..Timing::default() }
}

/// A web view that trusts the test acquirer's certificate and does not follow redirects.
fn web_view(env: &Env) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&env.entry_ca_pem).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn ended(driver: &PosDriver, prid: &str) -> PaymentRecord {
    for _ in 0..800 {
        let record = driver.payment(prid).await.unwrap();
        if record.state.is_final() {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("sale {prid} did not end");
}

/// Opens the merchant page as `agent` and pays `amount`: (status, cashier URL, paymentRequestId).
async fn pay_on_page(env: &Env, agent: &str, amount: &str) -> (u16, Option<String>, Option<String>) {
    let view = web_view(env);
    let answer = view
        .post(&env.entry_url)
        .header("user-agent", agent)
        .form(&[("amount", amount)])
        .send()
        .await
        .unwrap();
    let header = |name: &str| answer.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    (answer.status().as_u16(), header("location"), header("x-payment-request-id"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallet_pays_the_merchant_page_on_the_sandbox_cashier() {
    let env = Env::start_compressed(&[], timing(), 12).await;
    let driver = PosDriver::new(&env.base_url, Duration::from_secs(60)).unwrap();
    // The POS shows the static entry code: the page's HTTPS URL.
    let code = driver.entry_code().await.unwrap();
    assert_eq!(code.code_value, env.entry_url);
    assert!(code.code_value.starts_with("https://"));

    // The page, opened by the wallet over HTTPS, asks for the amount.
    let page = web_view(&env).get(&env.entry_url).header("user-agent", WALLET).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("name=\"amount\""));
    let (status, cashier, prid) = pay_on_page(&env, WALLET, "12.50").await;
    assert_eq!(status, 303);
    let cashier = cashier.unwrap();
    let prid = prid.unwrap();
    assert!(cashier.starts_with(&format!("{}/cashier/", env.sandbox.base_url())), "{cashier}");

    // The pay: EntryCode, the store, and the wallet's own User-Agent (§6).
    let pay = &env.calls("pay")[0];
    let body: Value = serde_json::from_str(&pay.request_body).unwrap();
    assert_eq!(body["paymentFactor"]["inStorePaymentScenario"], "EntryCode");
    assert_eq!(body["order"]["env"]["userAgent"], WALLET);
    assert_eq!(body["order"]["merchant"]["store"]["referenceStoreId"], "S0001");
    let answer: Value = serde_json::from_str(&pay.response_body).unwrap();
    assert_eq!(answer["result"]["resultCode"], "PAYMENT_IN_PROCESS");
    assert_eq!(answer["paymentUrl"], cashier);

    // The sandbox's cashier page shows the order; the buyer pays there.
    let http = reqwest::Client::new();
    let shown = http.get(&cashier).send().await.unwrap().text().await.unwrap();
    assert!(shown.contains("12.50 USD") && shown.contains("Plusbox Demo Store"), "{shown}");
    let done = http
        .post(&cashier)
        .form(&[("account", "buyer-1"), ("pin", ""), ("action", "pay")])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("Payment successful"));
    env.sandbox.poke();
    let record = ended(&driver, &prid).await;
    assert_eq!(record.state, OrderState::Success, "{record:?}");
    assert!(env.calls("cancelPayment").is_empty());
    // Paid: the cashier link now says so and takes no second payment.
    let again = http.get(&cashier).send().await.unwrap();
    assert_eq!(again.status(), 410);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_companion_pays_the_cashier_url_with_its_commands_and_a_browser_starts_nothing() {
    let env = Env::start_compressed(&[], timing(), 12).await;
    let driver = PosDriver::new(&env.base_url, Duration::from_secs(60)).unwrap();
    // An ordinary browser: "open it in your wallet", no pay.
    let page = web_view(&env).get(&env.entry_url).header("user-agent", BROWSER).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("Open this code in your wallet app"));
    let (status, cashier, _) = pay_on_page(&env, BROWSER, "9.00").await;
    assert_eq!((status, cashier), (403, None));
    assert!(env.calls("pay").is_empty());

    let (_, cashier, prid) = pay_on_page(&env, WALLET, "9.00").await;
    let (cashier, prid) = (cashier.unwrap(), prid.unwrap());
    let phone = acquirer_common::paired_phone(&env).await;
    let order = decode_order_code(
        phone.clone(),
        OrderCodeArgs { code: cashier.clone(), account_id: "buyer-1".into() },
    )
    .await
    .unwrap();
    assert_eq!((order.amount.value.as_str(), order.payment_request_id.as_str()), ("900", prid.as_str()));
    let outcome = confirm_order_code(
        phone,
        ConfirmOrderCodeArgs { code: cashier, account_id: "buyer-1".into(), pin: None },
    )
    .await
    .unwrap();
    assert_eq!(outcome.result_code, "SUCCESS");
    env.sandbox.poke();
    assert_eq!(ended(&driver, &prid).await.state, OrderState::Success);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_ignores_the_user_agent_pays_for_any_browser_with_its_own_agent_string() {
    let env = Env::start_compressed(&[Fault::EntryPageIgnoresUserAgent], timing(), 12).await;
    let (status, cashier, _) = pay_on_page(&env, BROWSER, "4.00").await;
    assert_eq!(status, 303);
    assert!(cashier.is_some());
    let pay = &env.calls("pay")[0];
    let body: Value = serde_json::from_str(&pay.request_body).unwrap();
    assert!(body["order"]["env"]["userAgent"].as_str().unwrap().starts_with("PlusboxPOS/"), "{body}");
    env.stop().await;
}
