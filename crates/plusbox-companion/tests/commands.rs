//! Every companion command without a window: a `TestHost` (the token in memory, events into a
//! list) against a real sandbox on an ephemeral port, with a signing acquirer for payments.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../plusbox-sandbox/tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::{pay_body, Harness};
use plusbox_companion::commands::{dispatch, handlers, *};
use plusbox_companion::error::ErrorCode;
use plusbox_companion::host::Host;
use plusbox_companion::render;
use plusbox_core::secret::SecretString;
use plusbox_sandbox::Scenario;
use serde_json::json;

#[derive(Clone)]
struct TestHost {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    http: reqwest::Client,
    token: Mutex<Option<SecretString>>,
    loopback: bool,
    events: Mutex<Vec<CompanionEvent>>,
}

impl TestHost {
    fn new(url: &str, loopback: bool) -> TestHost {
        TestHost {
            inner: Arc::new(Inner {
                url: url.to_string(),
                http: plusbox_companion::client::http_client().unwrap(),
                token: Mutex::new(None),
                loopback,
                events: Mutex::new(Vec::new()),
            }),
        }
    }

    fn with_token(url: &str, token: Option<SecretString>) -> TestHost {
        let host = TestHost::new(url, false);
        *host.inner.token.lock().unwrap() = token;
        host
    }

    /// A host paired from loopback.
    async fn paired(h: &Harness) -> TestHost {
        let host = TestHost::new(h.sandbox.base_url(), true);
        let session = handlers::pair_loopback(host.clone(), PairLoopbackArgs::default()).await.unwrap();
        assert!(session.paired);
        host
    }

    fn token(&self) -> Option<SecretString> {
        self.inner.token.lock().unwrap().clone()
    }

    fn events(&self) -> Vec<CompanionEvent> {
        self.inner.events.lock().unwrap().clone()
    }
}

impl Host for TestHost {
    fn sandbox_url(&self) -> String {
        self.inner.url.clone()
    }
    fn http(&self) -> reqwest::Client {
        self.inner.http.clone()
    }
    fn device_token(&self) -> Option<SecretString> {
        self.token()
    }
    fn store_device_token(&self, token: Option<SecretString>) {
        *self.inner.token.lock().unwrap() = token;
    }
    fn on_loopback(&self) -> bool {
        self.inner.loopback
    }
    fn data_dir(&self) -> Option<PathBuf> {
        None
    }
    fn emit(&self, event: CompanionEvent) {
        self.inner.events.lock().unwrap().push(event);
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if check() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn loopback_pairs_without_ceremony_and_other_peers_need_a_code() {
    let h = Harness::start().await;
    let far = TestHost::new(h.sandbox.base_url(), false);
    let unpaired = handlers::session(far.clone(), Empty {}).await.unwrap();
    assert!(!unpaired.paired && !unpaired.loopback);
    assert_eq!(unpaired.sandbox.client_id, h.client_id);
    let refused = handlers::pair_loopback(far.clone(), PairLoopbackArgs::default()).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::PairingNotLoopback);
    assert_eq!(handlers::accounts(far.clone(), Empty {}).await.unwrap_err().code, ErrorCode::NotPaired);

    let near = TestHost::new(h.sandbox.base_url(), true);
    let session =
        handlers::pair_loopback(near.clone(), PairLoopbackArgs { device_name: Some("till 2".into()) })
            .await
            .unwrap();
    assert!(session.paired && session.loopback);
    assert_eq!(session.device.unwrap().name, "till 2");
    assert!(near.token().is_some());
}

#[tokio::test]
async fn a_short_code_or_link_pairs_once_and_wrong_codes_are_refused() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    let ticket = store.create_pairing("phone", h.clock_now()).unwrap();
    let host = TestHost::new(h.sandbox.base_url(), false);
    let code = ticket.short_code.expose().to_lowercase();
    let typed = format!("{}-{}", &code[..4], &code[4..]);
    let session =
        handlers::pair_with_code(host.clone(), PairWithCodeArgs { code: typed.clone(), device_name: None })
            .await
            .unwrap();
    assert!(session.paired);
    assert_eq!(session.device.unwrap().name, "phone");

    let again = TestHost::new(h.sandbox.base_url(), false);
    let used = handlers::pair_with_code(again.clone(), PairWithCodeArgs { code: typed, device_name: None })
        .await
        .unwrap_err();
    assert_eq!(used.code, ErrorCode::PairingCodeInvalid);
    assert!(again.token().is_none());

    let ticket = store.create_pairing("tablet", h.clock_now()).unwrap();
    let link = format!("{}/#pair={}", h.sandbox.base_url(), ticket.link_token.expose());
    let session = handlers::pair_with_code(
        again.clone(),
        PairWithCodeArgs { code: link, device_name: Some("iPad".into()) },
    )
    .await
    .unwrap();
    assert_eq!(session.device.unwrap().name, "iPad");

    let empty =
        handlers::pair_with_code(host, PairWithCodeArgs { code: "  ".into(), device_name: None }).await;
    assert_eq!(empty.unwrap_err().code, ErrorCode::PairingCodeInvalid);
}

#[tokio::test]
async fn ten_wrong_codes_a_minute_lock_pairing_with_too_many_attempts() {
    let h = Harness::start().await;
    let host = TestHost::new(h.sandbox.base_url(), false);
    for _ in 0..10 {
        let e = handlers::pair_with_code(
            host.clone(),
            PairWithCodeArgs { code: "ZZZZ-ZZZZ".into(), device_name: None },
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::PairingCodeInvalid);
    }
    let ticket = h.sandbox.store().create_pairing("phone", h.clock_now()).unwrap();
    let locked = handlers::pair_with_code(
        host,
        PairWithCodeArgs { code: ticket.short_code.expose().to_string(), device_name: None },
    )
    .await
    .unwrap_err();
    assert_eq!(locked.code, ErrorCode::TooManyAttempts);
}

#[tokio::test]
async fn a_revoked_device_gets_device_revoked_and_devices_mark_the_current_one() {
    let h = Harness::start().await;
    let phone = TestHost::paired(&h).await;
    let laptop = TestHost::paired(&h).await;
    let devices = handlers::devices(laptop.clone(), Empty {}).await.unwrap();
    assert_eq!(devices.len(), 2);
    assert_eq!(devices.iter().filter(|d| d.current).count(), 1);
    let phone_id = handlers::session(phone.clone(), Empty {}).await.unwrap().device.unwrap().id;
    let kept = phone.token();

    handlers::revoke_device(laptop.clone(), RevokeDeviceArgs { device_id: phone_id }).await.unwrap();
    let stale = TestHost::with_token(h.sandbox.base_url(), kept);
    assert_eq!(handlers::accounts(stale.clone(), Empty {}).await.unwrap_err().code, ErrorCode::DeviceRevoked);
    let session = handlers::session(stale.clone(), Empty {}).await.unwrap();
    assert!(!session.paired && session.revoked);
    assert!(stale.token().is_none(), "a revoked token is forgotten");

    let gone =
        handlers::revoke_device(laptop.clone(), RevokeDeviceArgs { device_id: 999 }).await.unwrap_err();
    assert_eq!(gone.code, ErrorCode::NotFound);
    handlers::unpair(laptop.clone(), Empty {}).await.unwrap();
    assert!(laptop.token().is_none());
    let listed = h.sandbox.store().devices().unwrap();
    assert!(listed.iter().all(|d| d.revoked_at.is_some()));
}

#[tokio::test]
async fn accounts_and_top_up_refuse_bad_and_overflowing_amounts() {
    let h = Harness::start().await;
    let host = TestHost::paired(&h).await;
    let accounts = handlers::accounts(host.clone(), Empty {}).await.unwrap();
    assert_eq!(accounts.len(), 3);
    let usd = accounts[0].balances.iter().find(|b| b.currency == "USD").unwrap();
    assert_eq!(usd.exponent, 2);
    let before: i64 = usd.value.parse().unwrap();

    let after = handlers::top_up(
        host.clone(),
        TopUpArgs { account_id: "buyer-1".into(), amount: "12.50 USD".into() },
    )
    .await
    .unwrap();
    assert_eq!(after, Money { currency: "USD".into(), value: (before + 1250).to_string(), exponent: 2 });

    for bad in ["ten dollars", "-5.00 USD", "0 USD", "1.234 USD", "5 XXX", ""] {
        let e =
            handlers::top_up(host.clone(), TopUpArgs { account_id: "buyer-1".into(), amount: bad.into() })
                .await
                .unwrap_err();
        assert_eq!(e.code, ErrorCode::BadAmount, "{bad:?}");
    }
    let huge = handlers::top_up(
        host.clone(),
        TopUpArgs { account_id: "buyer-1".into(), amount: "92233720368547758.07 USD".into() },
    )
    .await
    .unwrap_err();
    assert_eq!(huge.code, ErrorCode::AmountTooLarge);
    assert_eq!(h.balance("buyer-1", "USD"), before + 1250, "nothing was added");
    let nobody = handlers::top_up(host, TopUpArgs { account_id: "nobody".into(), amount: "1.00 USD".into() })
        .await
        .unwrap_err();
    assert_eq!(nobody.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn codes_come_in_every_form_and_scan_back_as_the_owners_code() {
    let h = Harness::start().await;
    let host = TestHost::paired(&h).await;
    for (form, len) in [
        (CodeFormArg::Digits24, 24),
        (CodeFormArg::Digits17, 17),
        (CodeFormArg::Digits18, 18),
        (CodeFormArg::Digits19, 19),
    ] {
        let code =
            handlers::new_code(host.clone(), NewCodeArgs { account_id: "buyer-2".into(), form: Some(form) })
                .await
                .unwrap();
        assert_eq!(code.code.len(), len);
        assert_eq!(code.grouped.replace(' ', ""), code.code);
        assert!(code.qr_svg.starts_with("<svg") && code.barcode_svg.starts_with("<svg"));
        assert!(code.issued_at < code.expires_at);
    }
    let code = handlers::new_code(host.clone(), NewCodeArgs { account_id: "buyer-2".into(), form: None })
        .await
        .unwrap();
    let png = render::render_png(&code.code, render::Symbology::Qr, render::RenderSize::Phone).unwrap();
    let report = handlers::scan_image(host.clone(), ScanImageArgs { image: b64(&png) }).await.unwrap();
    assert_eq!(report.codes.len(), 1);
    let scanned = &report.codes[0];
    assert_eq!(scanned.kind, ScannedKind::AlipayplusCode);
    assert_eq!(scanned.details.get("accountId").map(String::as_str), Some("buyer-2"));
    assert_eq!(scanned.text.as_deref(), Some(code.code.as_str()));

    let image = render::render_image(&code.code, render::Symbology::Qr, render::RenderSize::Phone).unwrap();
    let frame = ScanFrameArgs { width: image.width(), height: image.height(), grey: b64(image.as_raw()) };
    let report = handlers::scan_frame(host.clone(), frame).await.unwrap();
    assert_eq!(report.codes[0].details.get("accountId").map(String::as_str), Some("buyer-2"));

    let missing =
        handlers::new_code(host, NewCodeArgs { account_id: "nobody".into(), form: None }).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn scanning_refuses_huge_and_broken_images_and_finds_nothing_in_a_blank_one() {
    let h = Harness::start().await;
    let host = TestHost::paired(&h).await;
    let wide = image::GrayImage::from_pixel(9_000, 8, image::Luma([255]));
    let png = render::png_bytes(&wide).unwrap();
    let e = handlers::scan_image(host.clone(), ScanImageArgs { image: b64(&png) }).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ImageTooLarge);
    let e = handlers::scan_image(host.clone(), ScanImageArgs { image: "A".repeat(17 * 1024 * 1024) })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ImageTooLarge);

    let e = handlers::scan_image(host.clone(), ScanImageArgs { image: b64(b"not an image at all") })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::BadImage);
    let e = handlers::scan_image(host.clone(), ScanImageArgs { image: "***".into() }).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::BadImage);

    let blank = render::png_bytes(&image::GrayImage::from_pixel(320, 240, image::Luma([200]))).unwrap();
    let report = handlers::scan_image(host.clone(), ScanImageArgs { image: b64(&blank) }).await.unwrap();
    assert!(report.codes.is_empty());
    assert_eq!((report.width, report.height), (320, 240));

    let short = ScanFrameArgs { width: 100, height: 100, grey: b64(&[0u8; 10]) };
    assert_eq!(handlers::scan_frame(host.clone(), short).await.unwrap_err().code, ErrorCode::BadImage);
    let big = ScanFrameArgs { width: 4_000, height: 4_000, grey: String::new() };
    assert_eq!(handlers::scan_frame(host, big).await.unwrap_err().code, ErrorCode::ImageTooLarge);
}

#[tokio::test]
async fn scenarios_are_listed_and_set_and_unknown_ones_refused() {
    let h = Harness::start().await;
    let host = TestHost::paired(&h).await;
    let list = handlers::scenarios(host.clone(), Empty {}).await.unwrap();
    assert!(list.iter().any(|s| s.name == "pin" && !s.summary.is_empty()));
    for scenario in &list {
        let account = handlers::set_scenario(
            host.clone(),
            SetScenarioArgs { account_id: "buyer-1".into(), scenario: scenario.name.clone() },
        )
        .await
        .unwrap();
        assert_eq!(account.scenario, scenario.name, "every listed scenario can be set");
    }
    let e = handlers::set_scenario(
        host,
        SetScenarioArgs { account_id: "buyer-1".into(), scenario: "free money".into() },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownScenario);
}

#[tokio::test]
async fn pin_payments_confirm_decline_wrong_pin_already_decided_and_expired() {
    let h = Harness::start().await;
    let host = TestHost::paired(&h).await;
    h.sandbox.store().set_scenario("buyer-1", &Scenario::Pin).unwrap();
    let watcher = tokio::spawn(watch_events(host.clone()));

    let h = &h;
    let pay = |id: &'static str| {
        let code = h.code("buyer-1");
        async move { h.call("pay", &pay_body(id, &code, "USD", "1234")).await }
    };
    assert_eq!(pay("p-1").await.code(), "PAYMENT_IN_PROCESS");
    let pending = handlers::pending(host.clone(), Empty {}).await.unwrap();
    assert_eq!(pending.len(), 1);
    let first = &pending[0];
    assert!(first.needs_pin);
    assert_eq!(first.amount, Money { currency: "USD".into(), value: "1234".into(), exponent: 2 });
    assert_eq!(first.account_id, "buyer-1");
    assert!(!first.merchant_name.is_empty());
    let p1 = first.payment_id.clone();
    assert!(
        eventually(|| host.events().iter().any(|e| matches!(e, CompanionEvent::Pending(l) if l.len() == 1)))
            .await,
        "the pending list arrives as an event"
    );

    let wrong = handlers::confirm_payment(
        host.clone(),
        ConfirmPaymentArgs { payment_id: p1.clone(), pin: "0000".into() },
    )
    .await
    .unwrap_err();
    assert_eq!(wrong.code, ErrorCode::WrongPin);
    let again = handlers::confirm_payment(
        host.clone(),
        ConfirmPaymentArgs { payment_id: p1.clone(), pin: "1234".into() },
    )
    .await
    .unwrap_err();
    assert_eq!(again.code, ErrorCode::AlreadyDecided);

    let before = h.balance("buyer-1", "USD");
    assert_eq!(pay("p-2").await.code(), "PAYMENT_IN_PROCESS");
    let p2 = handlers::pending(host.clone(), Empty {}).await.unwrap()[0].payment_id.clone();
    let ok = handlers::confirm_payment(
        host.clone(),
        ConfirmPaymentArgs { payment_id: p2.clone(), pin: "1234".into() },
    )
    .await
    .unwrap();
    assert_eq!((ok.result_code.as_str(), ok.result_status.as_str()), ("SUCCESS", "S"));
    assert_eq!(h.balance("buyer-1", "USD"), before - 1234);
    assert!(
        eventually(|| host
            .events()
            .iter()
            .any(|e| matches!(e, CompanionEvent::Payment(c) if c.payment_id == p2 && c.state == "SUCCESS")))
        .await,
        "the payment's new state arrives as an event"
    );
    let decided =
        handlers::decline_payment(host.clone(), PaymentArgs { payment_id: p2.clone() }).await.unwrap_err();
    assert_eq!(decided.code, ErrorCode::AlreadyDecided);

    assert_eq!(pay("p-3").await.code(), "PAYMENT_IN_PROCESS");
    let p3 = handlers::pending(host.clone(), Empty {}).await.unwrap()[0].payment_id.clone();
    let declined =
        handlers::decline_payment(host.clone(), PaymentArgs { payment_id: p3.clone() }).await.unwrap();
    assert_eq!(declined.result_status, "F");

    assert_eq!(pay("p-4").await.code(), "PAYMENT_IN_PROCESS");
    let p4 = handlers::pending(host.clone(), Empty {}).await.unwrap()[0].payment_id.clone();
    h.advance(3600);
    let late = handlers::confirm_payment(
        host.clone(),
        ConfirmPaymentArgs { payment_id: p4.clone(), pin: "1234".into() },
    )
    .await
    .unwrap_err();
    assert_eq!(late.code, ErrorCode::PaymentExpired);
    let unknown =
        handlers::decline_payment(host.clone(), PaymentArgs { payment_id: "nope".into() }).await.unwrap_err();
    assert_eq!(unknown.code, ErrorCode::NotFound);

    let history =
        handlers::history(host.clone(), AccountArgs { account_id: "buyer-1".into() }).await.unwrap();
    let payments: Vec<(&str, &str)> = history
        .iter()
        .filter(|e| e.kind == "payment")
        .map(|e| (e.reference.as_deref().unwrap_or(""), e.state.as_str()))
        .collect();
    assert_eq!(
        payments,
        vec![
            (p4.as_str(), "CLOSED"),
            (p3.as_str(), "FAILED"),
            (p2.as_str(), "SUCCESS"),
            (p1.as_str(), "FAILED")
        ],
        "newest first, every state"
    );
    let paid = history.iter().find(|e| e.reference.as_deref() == Some(p2.as_str())).unwrap();
    assert_eq!(paid.amount.value, "-1234");
    assert!(history.iter().any(|e| e.kind == "topup"));
    watcher.abort();
}

#[tokio::test]
async fn a_sandbox_that_is_down_is_sandbox_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let host = TestHost::with_token(&url, Some(SecretString::new("pbx_whatever".into())));
    for command in ["session", "accounts", "pending", "devices"] {
        let e = dispatch(host.clone(), command, json!({})).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::SandboxUnreachable, "{command}");
    }
    let about = handlers::about(host, Empty {}).await.unwrap();
    assert_eq!(about.sandbox_url, url);
    assert!(about.sandbox_version.is_none() && !about.tls);
}

#[tokio::test]
async fn dispatch_runs_commands_by_name_and_refuses_unknown_names_and_bad_arguments() {
    let h = Harness::start().await;
    let host = TestHost::paired(&h).await;
    let accounts = dispatch(host.clone(), "accounts", json!(null)).await.unwrap();
    assert_eq!(accounts.as_array().unwrap().len(), 3);
    let code =
        dispatch(host.clone(), "new_code", json!({"accountId": "buyer-1", "form": "19"})).await.unwrap();
    assert_eq!(code["form"], "19");
    assert_eq!(code["code"].as_str().unwrap().len(), 19);
    let e = dispatch(host.clone(), "launch_rockets", json!({})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    for bad in [
        json!({"accountId": 5}),
        json!({"form": "24"}),
        json!({"accountId": "buyer-1", "form": "20"}),
        json!({"accountId": "buyer-1", "extra": 1}),
    ] {
        let e = dispatch(host.clone(), "new_code", bad.clone()).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest, "{bad}");
    }
    let about = dispatch(host, "about", json!({})).await.unwrap();
    assert_eq!(about["plusbox"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn history_shows_refunds_cancels_and_refused_payments_with_their_states() {
    let h = Harness::start().await;
    let host = TestHost::paired(&h).await;
    // A second between steps, as between real payments (the history is ordered by time).
    assert_eq!(h.call("pay", &pay_body("h-1", &h.code("buyer-3"), "JPY", "1000")).await.code(), "SUCCESS");
    h.advance(1);
    let refund = json!({"paymentRequestId": "h-1", "refundRequestId": "h-1r", "refundAmount": {"currency": "JPY", "value": "400"}});
    assert_eq!(h.call("refund", &refund).await.code(), "SUCCESS");
    h.advance(1);
    assert_eq!(h.call("pay", &pay_body("h-2", &h.code("buyer-3"), "JPY", "300")).await.code(), "SUCCESS");
    h.advance(1);
    assert_eq!(h.call("cancelPayment", &json!({"paymentRequestId": "h-2"})).await.code(), "SUCCESS");
    h.advance(1);
    h.sandbox.store().set_scenario("buyer-3", &Scenario::RiskReject).unwrap();
    assert_eq!(h.call("pay", &pay_body("h-3", &h.code("buyer-3"), "JPY", "200")).await.code(), "RISK_REJECT");

    let history = handlers::history(host, AccountArgs { account_id: "buyer-3".into() }).await.unwrap();
    let line = |kind: &str, state: &str, value: &str| {
        history.iter().any(|e| {
            e.kind == kind
                && e.state == state
                && e.amount.value == value
                && e.amount.currency == "JPY"
                && e.amount.exponent == 0
        })
    };
    assert!(line("payment", "SUCCESS", "-1000"), "{history:#?}");
    assert!(line("refund", "SUCCESS", "400"), "{history:#?}");
    assert!(line("payment", "CANCELLED", "-300"), "{history:#?}");
    assert!(line("cancel", "SUCCESS", "300"), "{history:#?}");
    assert!(line("payment", "FAILED", "-200"), "{history:#?}");
    let refused = history.iter().find(|e| e.state == "FAILED").unwrap();
    assert_eq!(refused.result_code.as_deref(), Some("RISK_REJECT"));
    assert!(refused.merchant_name.is_some());
    assert_eq!(history[0].state, "FAILED", "the newest line comes first");
}
