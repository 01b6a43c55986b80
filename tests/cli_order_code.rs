//! `plusbox pos order-code` through the real binary: `plusbox serve`, `acquirer init`, `acquirer
//! serve`, then the POS shows an order code (terminal QR and a PNG that zbarimg reads back), the
//! buyer pays it in the sandbox, and the POS prints the paid sale.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use plusbox_sandbox::store::{BuyerDecision, Store};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_plusbox");

/// Kills the child when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ok(args: &[&str], dir: &Path) -> String {
    let out: Output = Command::new(BIN).args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn wait_healthy(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if reqwest::blocking::get(url).is_ok_and(|r| r.status().is_success()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{url} never became healthy");
}

#[test]
fn pos_order_code_shows_a_scannable_code_and_ends_paid() {
    let dir = tempfile::tempdir().unwrap();
    let mut sandbox = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data", "sb"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(sandbox.stdout.take().unwrap());
    let mut line = String::new();
    let mut gateway = None;
    while reader.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.strip_prefix("Gateway URL:") {
            gateway = Some(rest.trim().to_owned());
            break;
        }
        line.clear();
    }
    std::thread::spawn(move || for _ in reader.lines() {});
    let _sandbox = Running(sandbox);
    let gateway = gateway.expect("serve printed its gateway URL");
    wait_healthy(&format!("{gateway}/healthz"));

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let acquirer_url = format!("http://127.0.0.1:{port}");
    let notify_url = format!("{acquirer_url}/notify");
    ok(
        &["acquirer", "init", "--from-sandbox", "sb", "--notify-url", &notify_url, "--out", "acq.toml"],
        dir.path(),
    );
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

    let pos = Command::new(BIN)
        .args([
            "pos",
            "order-code",
            "--acquirer",
            &acquirer_url,
            "--amount",
            "12.50 USD",
            "--json",
            "--png",
            "oc.png",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let png = dir.path().join("oc.png");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !png.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Written in one go; give the write a moment to finish before scanning.
    std::thread::sleep(Duration::from_millis(200));
    let scanned = Command::new("zbarimg").args(["-q", "--raw"]).arg(&png).output().unwrap();
    let code = String::from_utf8(scanned.stdout).unwrap().trim().to_owned();
    assert!(code.starts_with("https://global.alipay.com/28100204"), "scanned {code:?}");

    // The buyer pays it: the sandbox process picks up the change from the shared database.
    let store = Store::open(&dir.path().join("sb")).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let order = store.decode_order_code(&code, "buyer-1", now).unwrap().unwrap();
    assert_eq!(order.display_amount, "12.50 USD");
    store.answer_order_code(&code, "buyer-1", BuyerDecision::Confirm(None), now).unwrap().unwrap();

    let out = pos.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("Order code {code}")), "{stderr}");
    assert!(
        stderr.contains('█') || stderr.contains('▀') || stderr.contains('▄'),
        "terminal QR drawn: {stderr}"
    );
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["state"], "SUCCESS");
    assert_eq!(record["code"], code.as_str());
}

#[test]
fn app_private_order_code_registers_shows_refuses_and_clears() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sb");
    let data = data.to_str().unwrap();
    let url = "http://127.0.0.1:9/aps/api/v1/payments/userInitiatedPay";
    let set: Value = serde_json::from_str(&ok(
        &[
            "app",
            "private-order-code",
            "--data",
            data,
            "--url",
            url,
            "--digits-domain",
            "QR.Shop.Example",
            "--domain",
            "pay.shop.example",
            "--json",
        ],
        dir.path(),
    ))
    .unwrap();
    assert_eq!(set["userInitiatedPayUrl"], url);
    assert_eq!(set["domains"][0]["domain"], "pay.shop.example");
    assert_eq!(set["domains"][1], serde_json::json!({"domain": "qr.shop.example", "digits": true}));
    let shown = ok(&["app", "private-order-code", "--data", data], dir.path());
    assert!(shown.contains("qr.shop.example (path starts with 281***04****)"), "{shown}");
    // The order-code domain is Alipay+'s, never a private one; a domain without a URL is refused.
    for args in [
        vec!["app", "private-order-code", "--data", data, "--url", url, "--domain", "global.alipay.com"],
        vec!["app", "private-order-code", "--data", data, "--domain", "x.example"],
    ] {
        let out = Command::new(BIN).args(&args).current_dir(dir.path()).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("order-code domain") || stderr.contains("needs --url"), "{stderr}");
    }
    ok(&["app", "private-order-code", "--data", data, "--clear"], dir.path());
    assert_eq!(ok(&["app", "private-order-code", "--data", data, "--json"], dir.path()).trim(), "null");
}

/// `plusbox serve` and `acquirer init` + `acquirer serve` in `dir`: (sandbox, acquirer, acquirer URL).
fn stack(dir: &Path) -> (Running, Running, String) {
    let mut sandbox = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data", "sb"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(sandbox.stdout.take().unwrap());
    let mut line = String::new();
    let mut gateway = None;
    while reader.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.strip_prefix("Gateway URL:") {
            gateway = Some(rest.trim().to_owned());
            break;
        }
        line.clear();
    }
    std::thread::spawn(move || for _ in reader.lines() {});
    let sandbox = Running(sandbox);
    wait_healthy(&format!("{}/healthz", gateway.expect("serve printed its gateway URL")));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let acquirer_url = format!("http://127.0.0.1:{port}");
    let notify_url = format!("{acquirer_url}/notify");
    ok(&["acquirer", "init", "--from-sandbox", "sb", "--notify-url", &notify_url, "--out", "acq.toml"], dir);
    let acquirer = Running(
        Command::new(BIN)
            .args(["acquirer", "serve", "--config", "acq.toml"])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_healthy(&format!("{acquirer_url}/health"));
    (sandbox, acquirer, acquirer_url)
}

#[test]
fn pos_private_order_code_shows_the_acquirers_code_which_the_sandbox_decodes_and_the_buyer_pays() {
    let dir = tempfile::tempdir().unwrap();
    let (_sandbox, _acquirer, acquirer_url) = stack(dir.path());
    let pos = Command::new(BIN)
        .args([
            "pos",
            "private-order-code",
            "--acquirer",
            &acquirer_url,
            "--amount",
            "25.00 USD",
            "--json",
            "--png",
            "poc.png",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let png = dir.path().join("poc.png");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !png.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let scanned = Command::new("zbarimg").args(["-q", "--raw"]).arg(&png).output().unwrap();
    let code = String::from_utf8(scanned.stdout).unwrap().trim().to_owned();
    assert!(code.starts_with("https://qr.plusbox-acquirer.example/28100204"), "scanned {code:?}");

    // The buyer's wallet decodes it through the sandbox (which asks the acquirer with a signed
    // userInitiatedPay, as `acquirer init` registered) and pays it.
    let store = std::sync::Arc::new(Store::open(&dir.path().join("sb")).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let clock: plusbox_sandbox::SharedClock = std::sync::Arc::new(plusbox_sandbox::SystemClock);
    let order = runtime
        .block_on(plusbox_sandbox::private_code::decode_scanned(
            std::sync::Arc::clone(&store),
            clock,
            code.clone(),
            "buyer-1".into(),
        ))
        .unwrap()
        .unwrap();
    assert_eq!(order.display_amount, "25.00 USD");
    let now = time::OffsetDateTime::now_utc();
    store.answer_order_code(&code, "buyer-1", BuyerDecision::Confirm(None), now).unwrap().unwrap();

    let out = pos.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("Order code {code}")));
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["state"], "SUCCESS");
    assert_eq!(record["paymentRequestId"], order.payment_request_id.as_str());
}
