//! The companion's order-code commands (merchant-presented mode) against a real sandbox on an
//! ephemeral port: the POS's order-code image is scanned, classified as an order code, decoded
//! (merchant, store, amount), and confirmed or declined; each refusal comes back as its own error
//! code with words the UI shows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../plusbox-sandbox/tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::Harness;
use plusbox_companion::commands::{
    dispatch, handlers, CompanionEvent, PairLoopbackArgs, ScanImageArgs, ScannedKind,
};
use plusbox_companion::error::ErrorCode;
use plusbox_companion::host::Host;
use plusbox_companion::mpm::{ConfirmOrderCodeArgs, OrderCodeArgs};
use plusbox_core::secret::SecretString;
use plusbox_sandbox::Scenario;
use serde_json::{json, Value};

#[derive(Clone)]
struct TestHost {
    url: String,
    http: reqwest::Client,
    token: Arc<Mutex<Option<SecretString>>>,
}

impl Host for TestHost {
    fn sandbox_url(&self) -> String {
        self.url.clone()
    }
    fn http(&self) -> reqwest::Client {
        self.http.clone()
    }
    fn device_token(&self) -> Option<SecretString> {
        self.token.lock().unwrap().clone()
    }
    fn store_device_token(&self, token: Option<SecretString>) {
        *self.token.lock().unwrap() = token;
    }
    fn on_loopback(&self) -> bool {
        true
    }
    fn data_dir(&self) -> Option<PathBuf> {
        None
    }
    fn emit(&self, _: CompanionEvent) {}
}

async fn paired(h: &Harness) -> TestHost {
    let host = TestHost {
        url: h.sandbox.base_url().to_string(),
        http: plusbox_companion::client::http_client().unwrap(),
        token: Arc::default(),
    };
    assert!(handlers::pair_loopback(host.clone(), PairLoopbackArgs::default()).await.unwrap().paired);
    host
}

fn order_code_pay(request_id: &str, value: &str) -> Value {
    json!({
        "paymentRequestId": request_id,
        "paymentAmount": {"currency": "USD", "value": value},
        "paymentMethod": {"paymentMethodType": "CONNECT_WALLET"},
        "paymentFactor": {"isInStorePayment": "true", "inStorePaymentScenario": "OrderCode"},
        "order": {
            "referenceOrderId": request_id,
            "orderDescription": "Two flat whites",
            "orderAmount": {"currency": "USD", "value": value},
            "merchant": {"referenceMerchantId": "M0001", "merchantName": "Test Cafe",
                         "store": {"referenceStoreId": "S0001", "storeName": "Main St"}},
            "env": {"userAgent": "PlusboxPOS/1.0"}
        }
    })
}

fn args(code: &str) -> OrderCodeArgs {
    OrderCodeArgs { code: code.to_owned(), account_id: "buyer-1".into() }
}

fn confirm(code: &str, pin: Option<&str>) -> ConfirmOrderCodeArgs {
    ConfirmOrderCodeArgs { code: code.to_owned(), account_id: "buyer-1".into(), pin: pin.map(str::to_owned) }
}

#[tokio::test]
async fn the_pos_image_scans_as_an_order_code_and_the_buyer_pays_it() {
    let h = Harness::start().await;
    let host = paired(&h).await;
    let pay = h.call("pay", &order_code_pay("oc-1", "1250")).await;
    let image_url = pay.body["orderCodeForm"]["codeDetails"][2]["codeValue"].as_str().unwrap().to_owned();
    let png = reqwest::get(&image_url).await.unwrap().bytes().await.unwrap();
    let image = base64::engine::general_purpose::STANDARD.encode(&png);
    let report = handlers::scan_image(host.clone(), ScanImageArgs { image }).await.unwrap();
    assert_eq!(report.codes.len(), 1);
    let scanned = &report.codes[0];
    assert_eq!(scanned.kind, ScannedKind::OrderCode, "{scanned:?}");
    let code = scanned.text.clone().unwrap();

    let order = handlers::decode_order_code(host.clone(), args(&code)).await.unwrap();
    assert_eq!(order.merchant_name, "Test Cafe");
    assert_eq!(order.store_name.as_deref(), Some("Main St"));
    assert_eq!(order.description.as_deref(), Some("Two flat whites"));
    assert_eq!(
        (order.amount.currency.as_str(), order.amount.value.as_str(), order.amount.exponent),
        ("USD", "1250", 2)
    );
    assert!(!order.needs_pin);
    assert_eq!(order.payment_request_id, "oc-1");

    let paid = handlers::confirm_order_code(host.clone(), confirm(&code, None)).await.unwrap();
    assert_eq!((paid.result_status.as_str(), paid.result_code.as_str()), ("S", "SUCCESS"));
    // Paid: scanning it again is refused, in words.
    let again = handlers::decode_order_code(host.clone(), args(&code)).await.unwrap_err();
    assert_eq!(again.code, ErrorCode::OrderClosed);
    assert!(again.message.contains("already paid"), "{}", again.message);
}

#[tokio::test]
async fn pin_buyers_need_the_pin_and_wrong_pins_fail_the_order() {
    let h = Harness::start().await;
    let host = paired(&h).await;
    h.sandbox.store().set_scenario("buyer-1", &Scenario::Pin).unwrap();
    let code = |pay: &common::Answer| {
        pay.body["orderCodeForm"]["codeDetails"][0]["codeValue"].as_str().unwrap().to_owned()
    };
    let first = code(&h.call("pay", &order_code_pay("oc-pin", "800")).await);
    assert!(handlers::decode_order_code(host.clone(), args(&first)).await.unwrap().needs_pin);
    let missing = handlers::confirm_order_code(host.clone(), confirm(&first, None)).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::PinRequired);
    let paid = handlers::confirm_order_code(host.clone(), confirm(&first, Some("1234"))).await.unwrap();
    assert_eq!(paid.result_code, "SUCCESS");

    let second = code(&h.call("pay", &order_code_pay("oc-pin-2", "800")).await);
    let wrong = handlers::confirm_order_code(host.clone(), confirm(&second, Some("9999"))).await.unwrap_err();
    assert_eq!(wrong.code, ErrorCode::WrongPin);
    assert!(wrong.message.contains("wrong PIN"));
}

#[tokio::test]
async fn declined_cancelled_expired_and_unknown_codes_each_have_their_error() {
    let h = Harness::start().await;
    let host = paired(&h).await;
    let code = |pay: &common::Answer| {
        pay.body["orderCodeForm"]["codeDetails"][0]["codeValue"].as_str().unwrap().to_owned()
    };

    let declined = code(&h.call("pay", &order_code_pay("oc-no", "300")).await);
    let outcome = handlers::decline_order_code(host.clone(), args(&declined)).await.unwrap();
    assert_eq!((outcome.result_status.as_str(), outcome.result_code.as_str()), ("F", "PROCESS_FAIL"));

    let cancelled = code(&h.call("pay", &order_code_pay("oc-cancel", "300")).await);
    assert_eq!(h.call("cancelPayment", &json!({"paymentRequestId": "oc-cancel"})).await.code(), "SUCCESS");
    let closed = handlers::decode_order_code(host.clone(), args(&cancelled)).await.unwrap_err();
    assert_eq!(closed.code, ErrorCode::OrderClosed);
    assert!(closed.message.contains("cancelled"));

    let expiring = code(&h.call("pay", &order_code_pay("oc-exp", "300")).await);
    h.advance(15 * 60);
    let expired = handlers::confirm_order_code(host.clone(), confirm(&expiring, None)).await.unwrap_err();
    assert_eq!(expired.code, ErrorCode::OrderCodeExpired);
    assert!(expired.message.contains("expired"));

    let unknown = handlers::decode_order_code(
        host.clone(),
        args("https://global.alipay.com/28100204ZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"),
    )
    .await
    .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::OrderCodeInvalid);

    // Bad arguments are refused before any call; through dispatch as the UI sends them.
    let empty = handlers::decode_order_code(host.clone(), args("  ")).await.unwrap_err();
    assert_eq!(empty.code, ErrorCode::BadRequest);
    let by_name =
        dispatch(host.clone(), "decode_order_code", json!({"code": declined, "accountId": "buyer-1"}))
            .await
            .unwrap_err();
    assert_eq!(by_name.code, ErrorCode::OrderClosed);
    let extra =
        dispatch(host.clone(), "confirm_order_code", json!({"code": "x", "accountId": "buyer-1", "nope": 1}))
            .await
            .unwrap_err();
    assert_eq!(extra.code, ErrorCode::BadRequest);
}

#[tokio::test]
async fn a_private_order_code_scans_as_one_once_its_domain_is_registered_and_its_decode_failure_is_named() {
    let h = Harness::start().await;
    let host = paired(&h).await;
    let code = "https://qr.shop.example/281002041234abcdef";
    let png = plusbox_companion::render::render_png(
        code,
        plusbox_companion::render::Symbology::Qr,
        plusbox_companion::render::RenderSize::Phone,
    )
    .unwrap();
    let image = base64::engine::general_purpose::STANDARD.encode(&png);
    // Unregistered: any other HTTPS URL is an entry code (payment-codes.md §4.5 row 4).
    let report = handlers::scan_image(host.clone(), ScanImageArgs { image: image.clone() }).await.unwrap();
    assert_eq!(report.codes[0].kind, ScannedKind::EntryCode, "{:?}", report.codes[0]);
    // Registered (row 2): a private order code, decoded through the sandbox.
    let unreachable = "http://127.0.0.1:9/aps/api/v1/payments/userInitiatedPay";
    let domain = plusbox_sandbox::store::PrivateDomain { domain: "qr.shop.example".into(), digits: true };
    h.sandbox.store().set_private_order_codes(unreachable, &[domain], h.clock_now()).unwrap();
    let report = handlers::scan_image(host.clone(), ScanImageArgs { image }).await.unwrap();
    let scanned = &report.codes[0];
    assert_eq!(scanned.kind, ScannedKind::PrivateOrderCode, "{scanned:?}");
    assert_eq!(scanned.details.get("orderDigits").map(String::as_str), Some("281002041234"));
    // Nobody answers userInitiatedPay there: no payment, and the buyer is told why.
    let refused = handlers::decode_order_code(host.clone(), args(code)).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::AcquirerUnreachable, "{refused}");
    assert!(refused.message.starts_with("this code cannot be paid"), "{refused}");
    assert!(refused.code.http_status() >= 500);
}
