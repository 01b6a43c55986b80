//! Merchant-presented mode, order codes (alipayplus-api.md §5, payment-codes.md §4.1), over HTTP
//! against a real sandbox: `pay` with `OrderCode` answers U with an `orderCodeForm` whose image
//! endpoint serves a QR PNG of the code; the buyer's wallet decodes, confirms (PIN per scenario)
//! or declines through the companion API; notify, inquiry, cancel and refund work as for any
//! payment; expired, cancelled and paid codes are refused when scanned.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use plusbox_sandbox::Scenario;
use serde_json::{json, Value};

fn order_code_body(request_id: &str, value: &str, notify: Option<&str>) -> Value {
    let mut body = json!({
        "paymentRequestId": request_id,
        "paymentAmount": {"currency": "USD", "value": value},
        "paymentMethod": {"paymentMethodType": "CONNECT_WALLET"},
        "paymentFactor": {"isInStorePayment": "true", "inStorePaymentScenario": "OrderCode"},
        "order": {
            "referenceOrderId": format!("order-{request_id}"),
            "orderDescription": "Flat white",
            "orderAmount": {"currency": "USD", "value": value},
            "merchant": {"referenceMerchantId": "M0001", "merchantName": "Test Cafe",
                         "store": {"referenceStoreId": "S0001", "storeName": "Main St"}},
            "env": {"storeTerminalId": "T01", "userAgent": "PlusboxPOS/1.0"}
        }
    });
    if let Some(url) = notify {
        body["paymentNotifyUrl"] = json!(url);
    }
    body
}

/// The companion API as a paired phone calls it.
struct Wallet<'a> {
    h: &'a Harness,
    auth: String,
}

impl<'a> Wallet<'a> {
    fn new(h: &'a Harness) -> Self {
        let token = h.sandbox.store().create_device("phone", h.clock_now()).unwrap();
        Wallet { h, auth: format!("Bearer {}", token.expose()) }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .h
            .http
            .post(self.h.url(&format!("/app/v1/order-codes/{path}")))
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, serde_json::from_str(&response.text().await.unwrap()).unwrap())
    }
}

fn code_value(pay: &Answer) -> String {
    pay.body["orderCodeForm"]["codeDetails"][0]["codeValue"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn order_code_pay_answers_in_process_with_the_code_and_its_images() {
    let h = Harness::start().await;
    let pay = h.call("pay", &order_code_body("oc-1", "1250", None)).await;
    assert_eq!((pay.status_letter(), pay.code()), ("U", "PAYMENT_IN_PROCESS"), "{}", pay.raw);
    let form = &pay.body["orderCodeForm"];
    let details = form["codeDetails"].as_array().unwrap();
    let kinds: Vec<&str> = details.iter().map(|d| d["displayType"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["TEXT", "BIGIMAGE", "MIDDLEIMAGE", "SMALLIMAGE"]);
    let code = code_value(&pay);
    // §5 Plusbox decision: https://global.alipay.com/28100204 + 28 letters/digits.
    let token = code.strip_prefix("https://global.alipay.com/28100204").unwrap();
    assert_eq!(token.len(), 28);
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
    // Default expiry: 14 minutes after pay.
    let expire = plusbox_core::protocol::time::parse_instant(form["expireTime"].as_str().unwrap()).unwrap();
    assert_eq!(expire - h.clock_now(), time::Duration::minutes(14));
    assert!(pay.body["paymentId"].is_string());
    assert!(pay.body.get("pspId").is_none(), "no wallet fields before the buyer pays");

    // The image endpoint serves a QR PNG that zbarimg reads back as the code value.
    let image_url = details[1]["codeValue"].as_str().unwrap();
    assert!(image_url.starts_with(&h.url("/merchant/order/showQrImage.htm?code=")), "{image_url}");
    assert!(image_url.ends_with("&picSize=L"));
    let response = h.http.get(image_url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let png = response.bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("code.png");
    std::fs::write(&path, &png).unwrap();
    let out = std::process::Command::new("zbarimg").args(["-q", "--raw"]).arg(&path).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), code);
    // Sizes differ; unknown codes and sizes are refused in words.
    let small = h.http.get(details[3]["codeValue"].as_str().unwrap()).send().await.unwrap();
    assert!(small.bytes().await.unwrap().len() < png.len());
    let unknown = h
        .http
        .get(h.url(
            "/merchant/order/showQrImage.htm?code=https%3A%2F%2Fglobal.alipay.com%2F28100204x&picSize=L",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let bad_size =
        h.http.get(format!("{}&picSize=XL", &image_url[..image_url.len() - 10])).send().await.unwrap();
    assert_eq!(bad_size.status(), 400);
    assert!(bad_size.text().await.unwrap().contains("picSize"));

    // A repeat with the same ID answers the same code; a different amount is inconsistent.
    let again = h.call("pay", &order_code_body("oc-1", "1250", None)).await;
    assert_eq!(code_value(&again), code);
    assert_eq!(again.body["paymentId"], pay.body["paymentId"]);
    let changed = h.call("pay", &order_code_body("oc-1", "1300", None)).await;
    assert_eq!(changed.code(), "REPEAT_REQ_INCONSISTENT");
}

#[tokio::test]
async fn order_code_without_user_agent_is_param_illegal_naming_the_field() {
    let h = Harness::start().await;
    let mut body = order_code_body("oc-ua", "1250", None);
    body["order"]["env"].as_object_mut().unwrap().remove("userAgent");
    let pay = h.call("pay", &body).await;
    assert_eq!((pay.status_letter(), pay.code()), ("F", "PARAM_ILLEGAL"));
    assert!(
        pay.body["result"]["resultMessage"].as_str().unwrap().contains("order.env.userAgent"),
        "{}",
        pay.raw
    );
    let mut no_env = order_code_body("oc-env", "1250", None);
    no_env["order"].as_object_mut().unwrap().remove("env");
    assert_eq!(h.call("pay", &no_env).await.code(), "PARAM_ILLEGAL");
    // No payment was created.
    let inquiry = h.call("inquiryPayment", &json!({"paymentRequestId": "oc-ua"})).await;
    assert_eq!(inquiry.code(), "ORDER_NOT_EXIST");
}

#[tokio::test]
async fn buyer_scans_sees_the_order_confirms_and_the_acqp_is_notified() {
    let h = Harness::start().await;
    let receiver = receiver(&h).await;
    let wallet = Wallet::new(&h);
    let before = h.balance("buyer-1", "USD");
    let pay = h.call("pay", &order_code_body("oc-ok", "1250", Some(&receiver.url))).await;
    let code = code_value(&pay);

    let (status, order) = wallet.post("decode", json!({"code": code, "account": "buyer-1"})).await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["merchant"], "Test Cafe");
    assert_eq!(order["store"], "Main St");
    assert_eq!(order["displayAmount"], "12.50 USD");
    assert_eq!(order["paymentRequestId"], "oc-ok");
    assert_eq!(order["pinRequired"], false);

    // Still U for the ACQP until the buyer confirms.
    let inquiry = h.call("inquiryPayment", &json!({"paymentRequestId": "oc-ok"})).await;
    assert_eq!(inquiry.body["paymentResult"]["resultCode"], "PAYMENT_IN_PROCESS");

    let (status, paid) = wallet.post("confirm", json!({"code": code, "account": "buyer-1"})).await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["paymentResult"]["resultStatus"], "S");
    assert_eq!(h.balance("buyer-1", "USD"), before - 1250);

    let notes = receiver.wait_for(1).await;
    assert_eq!(notes.len(), 1);
    let (note, verified) = &notes[0];
    assert!(verified);
    assert_eq!(note["paymentRequestId"], "oc-ok");
    assert_eq!(note["paymentResult"]["resultStatus"], "S");
    assert!(note["customerId"].is_string() && note["pspId"].is_string());

    let inquiry = h.call("inquiryPayment", &json!({"paymentRequestId": "oc-ok"})).await;
    assert_eq!(inquiry.body["paymentResult"]["resultStatus"], "S");
    assert!(inquiry.body["walletBrandName"].is_string());

    // A paid code is refused when scanned again, in words.
    let (status, again) = wallet.post("decode", json!({"code": code, "account": "buyer-2"})).await;
    assert_eq!(status, 410);
    assert_eq!(again["code"], "ORDER_IS_CLOSED");
    assert!(again["message"].as_str().unwrap().contains("already paid"));

    // Refund as for any payment.
    let refund = h
        .call(
            "refund",
            &json!({"paymentRequestId": "oc-ok", "refundRequestId": "r-oc-ok",
                    "refundAmount": {"currency": "USD", "value": "1250"}}),
        )
        .await;
    assert_eq!(refund.code(), "SUCCESS", "{}", refund.raw);
    assert_eq!(h.balance("buyer-1", "USD"), before);
}

#[tokio::test]
async fn pin_buyer_must_enter_the_pin_and_a_wrong_pin_fails_the_order() {
    let h = Harness::start().await;
    let wallet = Wallet::new(&h);
    h.sandbox.store().set_scenario("buyer-2", &Scenario::Pin).unwrap();
    let code = code_value(&h.call("pay", &order_code_body("oc-pin", "500", None)).await);
    let (_, order) = wallet.post("decode", json!({"code": code, "account": "buyer-2"})).await;
    assert_eq!(order["pinRequired"], true);
    let (status, missing) = wallet.post("confirm", json!({"code": code, "account": "buyer-2"})).await;
    assert_eq!((status, missing["code"].as_str()), (400, Some("PIN_REQUIRED")));
    // Nothing changed: the right PIN still pays.
    let (status, paid) =
        wallet.post("confirm", json!({"code": code, "account": "buyer-2", "pin": "1234"})).await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["paymentResult"]["resultStatus"], "S");

    let code = code_value(&h.call("pay", &order_code_body("oc-pin-bad", "500", None)).await);
    let (_, failed) =
        wallet.post("confirm", json!({"code": code, "account": "buyer-2", "pin": "0000"})).await;
    assert_eq!(failed["paymentResult"]["resultCode"], "USER_PAYMENT_VERIFICATION_FAILED");
    let inquiry = h.call("inquiryPayment", &json!({"paymentRequestId": "oc-pin-bad"})).await;
    assert_eq!(inquiry.body["paymentResult"]["resultCode"], "USER_PAYMENT_VERIFICATION_FAILED");
}

#[tokio::test]
async fn declined_expired_cancelled_and_unknown_codes_are_refused_in_words() {
    let h = Harness::start().await;
    let receiver = receiver(&h).await;
    let wallet = Wallet::new(&h);

    // Decline: the payment fails; a second scan is refused.
    let declined = code_value(&h.call("pay", &order_code_body("oc-no", "700", None)).await);
    let (_, answer) = wallet.post("decline", json!({"code": declined, "account": "buyer-1"})).await;
    assert_eq!(answer["paymentResult"]["resultStatus"], "F");
    let inquiry = h.call("inquiryPayment", &json!({"paymentRequestId": "oc-no"})).await;
    assert_eq!(inquiry.body["paymentResult"]["resultCode"], "PROCESS_FAIL");
    let (status, again) = wallet.post("decode", json!({"code": declined, "account": "buyer-1"})).await;
    assert_eq!((status, again["code"].as_str()), (410, Some("ORDER_IS_CLOSED")));

    // Cancelled by the ACQP before anyone scanned it.
    let cancelled = code_value(&h.call("pay", &order_code_body("oc-cancel", "700", None)).await);
    let cancel = h.call("cancelPayment", &json!({"paymentRequestId": "oc-cancel"})).await;
    assert_eq!(cancel.code(), "SUCCESS");
    let (status, refused) = wallet.post("decode", json!({"code": cancelled, "account": "buyer-1"})).await;
    assert_eq!((status, refused["code"].as_str()), (410, Some("ORDER_IS_CLOSED")));
    assert!(refused["message"].as_str().unwrap().contains("cancelled"));

    // Expired: past paymentExpiryTime the order closes (F ORDER_IS_CLOSED, notified once) and
    // a scan says so.
    let mut body = order_code_body("oc-exp", "700", Some(&receiver.url));
    body["paymentExpiryTime"] =
        json!(plusbox_core::protocol::time::format_instant(h.clock_now() + time::Duration::seconds(120)));
    let pay = h.call("pay", &body).await;
    let expire = pay.body["orderCodeForm"]["expireTime"].as_str().unwrap().to_string();
    assert_eq!(
        plusbox_core::protocol::time::parse_instant(&expire).unwrap() - h.clock_now(),
        time::Duration::seconds(120)
    );
    let expired = code_value(&pay);
    h.advance(121);
    let notes = receiver.wait_for(1).await;
    assert_eq!(notes[0].0["paymentResult"]["resultCode"], "ORDER_IS_CLOSED");
    let (status, refused) = wallet.post("confirm", json!({"code": expired, "account": "buyer-1"})).await;
    assert_eq!((status, refused["code"].as_str()), (410, Some("EXPIRED_CODE")));
    assert!(refused["message"].as_str().unwrap().contains("expired"));
    let inquiry = h.call("inquiryPayment", &json!({"paymentRequestId": "oc-exp"})).await;
    assert_eq!(inquiry.body["paymentResult"]["resultCode"], "ORDER_IS_CLOSED");

    // Not issued here, or not sent at all.
    let (status, unknown) = wallet
        .post("decode", json!({"code": "https://global.alipay.com/28100204AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "account": "buyer-1"}))
        .await;
    assert_eq!((status, unknown["code"].as_str()), (404, Some("INVALID_CODE")));
    let (status, bad) = wallet.post("decode", json!({"account": "buyer-1"})).await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("BAD_REQUEST")));
    assert!(bad["message"].as_str().unwrap().contains("code is required"));
    let (status, nobody) = wallet.post("decode", json!({"code": declined, "account": "nobody"})).await;
    assert_eq!(status, 410, "the code is judged first: {nobody}");

    // Without a device token: 401.
    let response = h
        .http
        .post(h.url("/app/v1/order-codes/decode"))
        .body(json!({"code": declined, "account": "buyer-1"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn magic_amount_stuck_order_stays_processing_until_cancelled() {
    let h = Harness::start().await;
    let wallet = Wallet::new(&h);
    let code = code_value(&h.call("pay", &order_code_body("oc-stuck", "1902", None)).await);
    let (_, answer) = wallet.post("confirm", json!({"code": code, "account": "buyer-1"})).await;
    assert_eq!(answer["paymentResult"]["resultCode"], "PAYMENT_IN_PROCESS");
    // Another buyer cannot take it over.
    let (status, taken) = wallet.post("decode", json!({"code": code, "account": "buyer-2"})).await;
    assert_eq!((status, taken["code"].as_str()), (410, Some("ORDER_IS_CLOSED")));
    h.advance(15 * 60);
    let inquiry = h.call("inquiryPayment", &json!({"paymentRequestId": "oc-stuck"})).await;
    assert_eq!(inquiry.body["paymentResult"]["resultCode"], "PAYMENT_IN_PROCESS");
    assert_eq!(h.call("cancelPayment", &json!({"paymentRequestId": "oc-stuck"})).await.code(), "SUCCESS");
    let inquiry = h.call("inquiryPayment", &json!({"paymentRequestId": "oc-stuck"})).await;
    assert_eq!(inquiry.body["paymentResult"]["resultCode"], "ORDER_IS_CLOSED");
}

#[tokio::test]
async fn a_device_scoped_to_one_buyer_cannot_decode_or_answer_as_another() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    let token = store.create_device("buyer-1-phone", h.clock_now()).unwrap();
    let id = store.device_id_by_name("buyer-1-phone").unwrap().unwrap();
    let scope = plusbox_sandbox::store::DeviceScope {
        merchant: None,
        account: Some("buyer-1".into()),
        clock_control: false,
    };
    store.set_device_scope(id, &scope).unwrap();
    let wallet = Wallet { h: &h, auth: format!("Bearer {}", token.expose()) };
    let code = code_value(&h.call("pay", &order_code_body("oc-scope", "1250", None)).await);
    for path in ["decode", "confirm", "decline"] {
        let (status, refused) = wallet.post(path, json!({"code": code, "account": "buyer-2"})).await;
        assert_eq!((status, refused["code"].as_str()), (403, Some("NOT_IN_SCOPE")), "{path}: {refused}");
        assert!(refused["message"].as_str().unwrap().contains("buyer-1"), "{refused}");
    }
    // Nothing changed: the order is still open, and its own buyer pays it.
    let inquiry = h.call("inquiryPayment", &json!({"paymentRequestId": "oc-scope"})).await;
    assert_eq!(inquiry.body["paymentResult"]["resultCode"], "PAYMENT_IN_PROCESS");
    let (status, order) = wallet.post("decode", json!({"code": code, "account": "buyer-1"})).await;
    assert_eq!(status, 200, "{order}");
    let (status, paid) = wallet.post("confirm", json!({"code": code, "account": "buyer-1"})).await;
    assert_eq!((status, paid["paymentResult"]["resultCode"].as_str()), (200, Some("SUCCESS")), "{paid}");
}

fn entry_code_body(request_id: &str, value: &str) -> Value {
    let mut body = order_code_body(request_id, value, None);
    body["paymentFactor"]["inStorePaymentScenario"] = json!("EntryCode");
    body["order"]["env"]["userAgent"] = json!("Mozilla/5.0 AlipayConnect/1.0");
    body["order"]["merchant"]["merchantName"] = json!("<b>Cafe</b>");
    body
}

#[tokio::test]
async fn entry_code_pay_answers_a_cashier_url_whose_page_takes_the_buyers_payment() {
    let h = Harness::start().await;
    let pay = h.call("pay", &entry_code_body("ec-1", "1250")).await;
    assert_eq!((pay.status_letter(), pay.code()), ("U", "PAYMENT_IN_PROCESS"), "{}", pay.raw);
    assert!(pay.body.get("orderCodeForm").is_none());
    let url = pay.body["paymentUrl"].as_str().unwrap().to_string();
    let token = url.strip_prefix(&h.url("/cashier/")).unwrap();
    assert_eq!(token.len(), 32);
    // §6 Plusbox decision: 10 minutes without paymentExpiryTime.
    let inquiry = h.call("inquiryPayment", &json!({"paymentRequestId": "ec-1"})).await;
    assert_eq!(inquiry.body["paymentResult"]["resultCode"], "PAYMENT_IN_PROCESS");
    h.advance(9 * 60);
    let page = h.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("12.50 USD") && html.contains("&lt;b&gt;Cafe&lt;/b&gt;"), "{html}");
    // The form: an unknown buyer is named, a missing account asked for, then the buyer pays.
    let unknown = h.http.post(&url).form(&[("account", "nobody"), ("action", "pay")]).send().await.unwrap();
    assert_eq!(unknown.status(), 400);
    let empty = h.http.post(&url).form(&[("account", ""), ("action", "pay")]).send().await.unwrap();
    assert_eq!(empty.status(), 400);
    let paid = h.http.post(&url).form(&[("account", "buyer-1"), ("action", "pay")]).send().await.unwrap();
    assert_eq!(paid.status(), 200);
    assert!(paid.text().await.unwrap().contains("Payment successful"));
    let inquiry = h.call("inquiryPayment", &json!({"paymentRequestId": "ec-1"})).await;
    assert_eq!(inquiry.body["paymentResult"]["resultCode"], "SUCCESS");
    // Unknown links are 404; the order-code image endpoint does not draw cashier links.
    let missing = h.http.get(h.url("/cashier/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let encoded: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
    let image = h
        .http
        .get(h.url(&format!("/merchant/order/showQrImage.htm?code={encoded}&picSize=S")))
        .send()
        .await
        .unwrap();
    assert_eq!(image.status(), 404);
}

#[tokio::test]
async fn entry_code_pay_needs_the_store_and_expires_after_ten_minutes() {
    let h = Harness::start().await;
    let mut body = entry_code_body("ec-store", "1250");
    body["order"]["merchant"].as_object_mut().unwrap().remove("store");
    let refused = h.call("pay", &body).await;
    assert_eq!((refused.status_letter(), refused.code()), ("F", "PARAM_ILLEGAL"));
    assert!(refused.body["result"]["resultMessage"].as_str().unwrap().contains("store"), "{}", refused.raw);
    let pay = h.call("pay", &entry_code_body("ec-exp", "1250")).await;
    let url = pay.body["paymentUrl"].as_str().unwrap().to_string();
    h.advance(10 * 60 + 1);
    let inquiry = h.call("inquiryPayment", &json!({"paymentRequestId": "ec-exp"})).await;
    assert_eq!(inquiry.body["paymentResult"]["resultCode"], "ORDER_IS_CLOSED");
    assert_eq!(h.http.get(&url).send().await.unwrap().status(), 410);
}
