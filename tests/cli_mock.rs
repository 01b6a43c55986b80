//! `plusbox mock add --merchant/--account`: a rule scoped to one merchant or buyer, shown with its
//! scope by `mock list`, and catching only that merchant's calls, so an operator's rule does not
//! disturb other merchants testing on the same sandbox.
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

fn pay_for(merchant: &str) -> Vec<u8> {
    serde_json::json!({
        "order": {"merchant": {"referenceMerchantId": merchant}},
        "paymentMethod": {"paymentMethodType": "CONNECT_WALLET", "paymentMethodId": "281006020000000000000000"},
    })
    .to_string()
    .into_bytes()
}

#[test]
fn a_rule_scoped_to_a_merchant_is_listed_so_and_catches_only_that_merchant() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "mock",
            "add",
            "--api",
            "pay",
            "--result-code",
            "RISK_REJECT",
            "--count",
            "5",
            "--merchant",
            "M-ALPHA",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("for merchant M-ALPHA"), "{}", text(&out));
    let global = run(dir.path(), &["mock", "add", "--api", "refund", "--result-code", "UNKNOWN_EXCEPTION"]);
    assert!(text(&global).contains("for every call"), "{}", text(&global));

    let list = run(dir.path(), &["mock", "list", "--json"]);
    let rules: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(rules[0]["merchant"], "M-ALPHA", "{rules}");
    assert_eq!(rules[0]["account"], serde_json::Value::Null, "{rules}");
    assert_eq!(rules[1]["merchant"], serde_json::Value::Null, "{rules}");
    let human = text(&run(dir.path(), &["mock", "list"]));
    assert!(human.lines().next().unwrap().ends_with("for merchant M-ALPHA"), "{human}");

    // The sandbox's own matching: another merchant's pay is not caught, M-ALPHA's is.
    let store = plusbox_sandbox::Store::open(dir.path()).unwrap();
    let now = time::OffsetDateTime::now_utc();
    assert!(store.take_mock_for("pay", &pay_for("M-BETA"), now).unwrap().is_none());
    let caught = store.take_mock_for("pay", &pay_for("M-ALPHA"), now).unwrap();
    assert!(caught.is_some(), "M-ALPHA's pay is caught");
}

#[test]
fn a_scope_naming_no_buyer_or_an_impossible_merchant_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["mock", "add", "--api", "pay", "--result-code", "RISK_REJECT", "--account", "nobody"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("nobody"), "{}", text(&out));
    let long = "M".repeat(65);
    let out = run(
        dir.path(),
        &["mock", "add", "--api", "pay", "--result-code", "RISK_REJECT", "--merchant", &long],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("1 to 64 characters"), "{}", text(&out));
    let list = run(dir.path(), &["mock", "list", "--json"]);
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "[]", "nothing was stored");
}
