//! Issue 9 through the binary: an out-of-range clock jump, a top-up that would overflow, outside
//! text in `traffic` and `wallet pending` output, and directories made under `umask 000`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_plusbox");

fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN).args(args).arg("--data").arg(data).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn an_out_of_range_clock_jump_is_refused_and_nothing_is_saved() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["clock", "advance", "999999999h"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("at most 36525 days"), "{}", text(&out));
    assert!(!text(&out).contains("panicked"), "{}", text(&out));
    let show = run(dir.path(), &["clock", "show"]);
    assert!(show.status.success());
    assert!(text(&show).contains("(0s ahead"), "{}", text(&show));
    // A large but valid jump works and reads back.
    let out = run(dir.path(), &["clock", "advance", "8760h"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("8760h00m00s ahead"), "{}", text(&out));
}

#[test]
fn a_top_up_that_would_overflow_is_refused_and_accounts_still_list() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        run(dir.path(), &["wallet", "topup", "--account", "buyer-1", "--amount", "92233720368547758.07 USD"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("largest balance Plusbox can hold"), "{}", text(&out));
    let list = run(dir.path(), &["wallet", "list", "--json"]);
    assert!(list.status.success(), "{}", text(&list));
    let accounts: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let usd =
        accounts[0]["balances"].as_array().unwrap().iter().find(|b| b["currency"] == "USD").unwrap().clone();
    assert_eq!(usd["value"], "100000", "the balance is unchanged");
}

#[test]
fn traffic_output_escapes_control_and_bidi_characters() {
    let dir = tempfile::tempdir().unwrap();
    // Provision, then log an exchange whose IDs and note carry terminal controls, as a hostile
    // ACQP's request would.
    assert!(run(dir.path(), &["wallet", "list"]).status.success());
    let store = plusbox_sandbox::Store::open(dir.path()).unwrap();
    let hostile = "pay\u{1b}[2J\u{0}\nX\u{202e}gpj";
    store
        .record_traffic(&plusbox_sandbox::store::TrafficRecord {
            direction: "inbound",
            api: "pay".into(),
            method: "POST".into(),
            payment_request_id: Some(hostile.into()),
            note: Some(format!("note {hostile}")),
            ..Default::default()
        })
        .unwrap();
    let out = run(dir.path(), &["traffic", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{0}') && !stdout.contains('\u{202e}'),
        "{stdout:?}"
    );
    assert_eq!(stdout.lines().count(), 1, "one line per entry: {stdout:?}");
    assert!(stdout.contains("req=pay\\u{1b}[2J\\u{0}\\nX\\u{202e}gpj"), "{stdout:?}");

    // `traffic tail` prints through the same escaping; read its first line and stop it.
    let mut tail = Command::new(BIN)
        .args(["traffic", "tail", "--data"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(tail.stdout.take().unwrap()), &mut line)
        .unwrap();
    tail.kill().unwrap();
    let _ = tail.wait();
    assert!(line.contains("\\u{202e}") && !line.contains('\u{1b}'), "{line:?}");
}

#[cfg(unix)]
#[test]
fn directories_made_under_umask_000_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("x/y/data");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("umask 000 && exec \"$0\" wallet list --data '{}'", data.display()))
        .arg(BIN)
        .status()
        .unwrap();
    assert!(status.success());
    for path in [dir.path().join("x"), dir.path().join("x/y"), data.clone()] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
    }
    let db = std::fs::metadata(data.join("plusbox.sqlite")).unwrap().permissions().mode() & 0o777;
    assert_eq!(db, 0o600);

    // An existing directory open to everyone is tightened, and the operator is told why.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = run(&data, &["wallet", "list"]);
    assert!(out.status.success());
    assert!(text(&out).contains("tightened it to 0700"), "{}", text(&out));
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
}

#[test]
fn a_huge_rejected_id_is_logged_capped_and_escaped() {
    use plusbox_core::signing::{MessageParts, PrivateKey};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = PrivateKey::generate().unwrap();
    let key_file = dir.path().join("acqp.pub");
    std::fs::write(&key_file, key.public_key().unwrap().to_base64()).unwrap();
    let out = run(&data, &["app", "set-key", "--public-key", key_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let app: serde_json::Value =
        serde_json::from_slice(&run(&data, &["app", "show", "--json"]).stdout).unwrap();
    let client_id = app["clientId"].as_str().unwrap().to_string();

    let log = dir.path().join("serve.log");
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut url = None;
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0 {
        if let Some(rest) = line.strip_prefix("Gateway URL:") {
            url = Some(rest.trim().to_string());
            break;
        }
        line.clear();
    }
    std::thread::spawn(move || for _ in std::io::BufRead::lines(reader) {});
    let url = url.unwrap();

    // A 200 000-character paymentRequestId with a terminal escape in it: refused, signed.
    let id = format!("\u{1b}[31m{}", "x".repeat(200_000));
    let body = serde_json::json!({"paymentRequestId": id}).to_string();
    let path = "/aps/api/v1/payments/inquiryPayment";
    let time = "2025-03-10T10:00:00+08:00";
    let parts =
        MessageParts { method: "POST", uri: path, client_id: &client_id, time, body: body.as_bytes() };
    let signature = key.sign_message(&parts, Some(1)).unwrap();
    let answer = reqwest::blocking::Client::new()
        .post(format!("{url}{path}"))
        .header("content-type", "application/json")
        .header("client-id", &client_id)
        .header("request-time", time)
        .header("signature", signature)
        .body(body)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(answer.contains("PARAM_ILLEGAL"), "{}", &answer[..answer.len().min(300)]);
    let _ = child.kill();
    let _ = child.wait();

    let logged = std::fs::read_to_string(&log).unwrap();
    let exchange = logged.lines().find(|l| l.contains("exchange")).expect("an exchange log line");
    assert!(exchange.len() < 1_000, "capped: {} bytes", exchange.len());
    assert!(exchange.contains("(200005 chars)") && !exchange.contains('\u{1b}'), "{exchange}");
    assert!(logged.lines().all(|l| l.len() < 2_000), "no log line carries the whole ID");
}
