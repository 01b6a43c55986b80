//! The two-command path a TSP follows, through the real binary: `plusbox serve`, then
//! `plusbox acquirer init --from-sandbox` and `plusbox acquirer serve`, then `plusbox pos charge`
//! and `pos refund` against it; the sandbox's traffic log shows signed traffic both ways.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_common;

use cli_common::*;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn serve_init_serve_charge_refund_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let (_sandbox, gateway) = serve_sandbox(dir.path());
    wait_healthy(&format!("{gateway}/healthz"));

    let port = free_port();
    let acquirer_url = format!("http://127.0.0.1:{port}");
    let notify_url = format!("{acquirer_url}/notify");
    ok(
        &["acquirer", "init", "--from-sandbox", "sb", "--notify-url", &notify_url, "--out", "acq.toml"],
        dir.path(),
    );
    // init registered the acquirer's notify URL and key with the running sandbox.
    let app: Value =
        serde_json::from_str(&ok(&["app", "show", "--data", "sb", "--json"], dir.path())).unwrap();
    assert_eq!(app["notifyUrl"], notify_url.as_str());
    let config = std::fs::read_to_string(dir.path().join("acq.toml")).unwrap();
    assert!(config.contains(app["clientId"].as_str().unwrap()), "{config}");

    let _acquirer = Running(
        Command::new(BIN)
            .args(["acquirer", "serve", "--config", "acq.toml"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_healthy(&format!("{acquirer_url}/health"));

    let code = ok(&["wallet", "code", "--data", "sb", "--account", "buyer-1"], dir.path()).trim().to_owned();
    let charged: Value = serde_json::from_str(&ok(
        &["pos", "charge", "--acquirer", &acquirer_url, "--code", &code, "--amount", "12.50 USD", "--json"],
        dir.path(),
    ))
    .unwrap();
    assert_eq!(charged["state"], "SUCCESS", "{charged}");
    let payment_request_id = charged["paymentRequestId"].as_str().unwrap().to_owned();

    let receipt =
        ok(&["pos", "show", "--acquirer", &acquirer_url, "--payment", &payment_request_id], dir.path());
    assert!(receipt.contains("12.50 USD"), "{receipt}");

    // A reader that hangs up (`plusbox pos show … | head`): a network command ends quietly, no
    // panic, although it keeps SIGPIPE ignored for its connections.
    let mut child = Command::new(BIN)
        .args(["pos", "show", "--acquirer", &acquirer_url, "--payment", &payment_request_id, "--json"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(status.code(), Some(101), "exit code of a panic: {stderr}");

    let refunded = ok(
        &[
            "pos",
            "refund",
            "--acquirer",
            &acquirer_url,
            "--payment",
            &payment_request_id,
            "--amount",
            "2.50 USD",
        ],
        dir.path(),
    );
    assert!(refunded.contains("SUCCESS"), "{refunded}");

    // A POS that scans: a bound code rendered as a PNG, read back by `pos charge --scan`.
    let bound: Value = serde_json::from_str(&ok(
        &["code", "new", "--data", "sb", "--account", "buyer-2", "--form", "24", "--json"],
        dir.path(),
    ))
    .unwrap();
    assert_eq!(bound["account"], "buyer-2");
    let bound_code = bound["code"].as_str().unwrap();
    ok(&["code", "render", bound_code, "--format", "png", "--out", "code.png"], dir.path());
    let scanned: Value = serde_json::from_str(&ok(
        &[
            "pos",
            "charge",
            "--acquirer",
            &acquirer_url,
            "--scan",
            "code.png",
            "--amount",
            "3.00 HKD",
            "--json",
        ],
        dir.path(),
    ))
    .unwrap();
    assert_eq!(scanned["state"], "SUCCESS", "{scanned}");
    let wallets: Value =
        serde_json::from_str(&ok(&["wallet", "list", "--data", "sb", "--json"], dir.path())).unwrap();
    let hkd = wallets
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "buyer-2")
        .and_then(|w| w["balances"].as_array().unwrap().iter().find(|b| b["currency"] == "HKD"))
        .unwrap()["value"]
        .clone();
    assert_eq!(hkd, "499700", "buyer-2 paid 3.00 HKD from 5000.00 HKD");

    // The sandbox saw a signed pay and refund, and its notification was acknowledged with a
    // signed S.
    let traffic: Vec<Value> =
        serde_json::from_str(&ok(&["traffic", "list", "--data", "sb", "--json"], dir.path())).unwrap();
    let entry = |api: &str| {
        traffic.iter().find(|t| t["api"] == api).unwrap_or_else(|| panic!("no {api} in {traffic:?}")).clone()
    };
    assert_eq!(entry("pay")["signature"], "valid");
    assert_eq!(entry("refund")["signature"], "valid");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let traffic: Vec<Value> =
            serde_json::from_str(&ok(&["traffic", "list", "--data", "sb", "--json"], dir.path())).unwrap();
        if let Some(notify) = traffic.iter().find(|t| t["api"] == "notifyPayment") {
            assert_eq!(notify["resultStatus"], "S", "{notify}");
            assert_eq!(notify["signature"], "valid", "{notify}");
            break;
        }
        assert!(Instant::now() < deadline, "no notifyPayment recorded");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn faults_list_names_every_switch_with_its_rule() {
    let dir = tempfile::tempdir().unwrap();
    let listing = ok(&["acquirer", "faults"], dir.path());
    for name in [
        "no-inquiry",
        "poll-too-fast",
        "poll-forever",
        "no-cancel",
        "new-request-id-on-retry",
        "ignore-notify",
        "unsigned-ack",
        "bad-ack-signature",
        "skip-response-verification",
        "wrong-key",
        "refund-over-amount",
        "cancel-after-window",
        "cancel-window-utc",
        "numbers-not-strings",
        "omit-store",
        "omit-terminal",
        "accept-forged-notify",
        "ack-mirrors-result",
        "cancel-once",
        "amount-times-100",
        "float-amount",
        "inquiry-unknown-fails",
        "request-time-local-z",
        "sign-utf8-send-escaped",
        "watchdog-cancels-paid",
        "omit-user-agent",
        "order-code-no-cancel",
        "order-code-poll-too-slow",
        "poc-unsigned-answer",
        "poc-bad-answer-signature",
        "poc-slow-answer",
        "poc-missing-amount",
        "entry-page-ignores-user-agent",
        "reregister-within-30-minutes",
        "new-declaration-id-on-retry",
        "missing-agent-token",
    ] {
        assert!(listing.lines().any(|l| l.starts_with(name)), "{name} missing from:\n{listing}");
    }
    // Every switch of the one board is listed (each helper's faults join it).
    assert_eq!(listing.matches("rule:").count(), plusbox_acquirer::Fault::ALL.len());
}

#[test]
fn pos_charge_against_a_dead_acquirer_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let out = run(
        &["pos", "charge", "--acquirer", &url, "--code", "281006020000000000125733", "--amount", "1.00 USD"],
        dir.path(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("127.0.0.1"), "the error names the acquirer it could not reach: {stderr}");
}

#[test]
fn pos_charge_scan_refuses_images_without_exactly_one_payment_code() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    ok(
        &[
            "code",
            "render",
            "https://global.alipay.com/281002040090bbmmzTC4BzSex92tUglv31de",
            "--format",
            "png",
            "--out",
            "url.png",
        ],
        dir.path(),
    );
    std::fs::write(dir.path().join("not-an-image.png"), b"hello").unwrap();
    for (image, expected) in
        [("url.png", "no Alipay+ payment code"), ("not-an-image.png", "cannot scan not-an-image.png")]
    {
        let out =
            run(&["pos", "charge", "--acquirer", &url, "--scan", image, "--amount", "1.00 USD"], dir.path());
        assert!(!out.status.success(), "{image}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{image}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
