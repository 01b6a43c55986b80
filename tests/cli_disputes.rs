//! `plusbox dispute` through the real binary, as the example session of
//! docs/registration-customs-disputes.md: `plusbox serve`, the reference acquirer
//! (`acquirer init --from-sandbox`, `acquirer serve`), a charge, `dispute set-url`, then a
//! retrieval that the running sandbox sends signed and the acquirer answers; refusals exit non-zero
//! and name their rule, in text and as JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_common;

use cli_common::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn refused(args: &[&str], dir: &Path) -> String {
    let out = run(args, dir);
    assert!(!out.status.success(), "{args:?} was accepted: {}", String::from_utf8_lossy(&out.stdout));
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn a_retrieval_started_from_the_cli_is_sent_acknowledged_and_answered() {
    let dir = tempfile::tempdir().unwrap();
    let (_sandbox, gateway) = serve_sandbox(dir.path());
    wait_healthy(&format!("{gateway}/healthz"));
    let port = free_port();
    let acquirer_url = format!("http://127.0.0.1:{port}");
    let notify_url = format!("{acquirer_url}/notify");
    let init = ok(
        &["acquirer", "init", "--from-sandbox", "sb", "--notify-url", &notify_url, "--out", "acq.toml"],
        dir.path(),
    );
    assert!(init.contains(&format!("disputes    {acquirer_url}/aps/api/v1/disputes/")), "{init}");
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
    let prid = charged["paymentRequestId"].as_str().unwrap().to_owned();

    // init pointed the application's dispute URL at the acquirer; without one a dispute is
    // refused, naming the rule.
    let set = ok(&["dispute", "set-url", "none", "--data", "sb"], dir.path());
    assert!(set.contains("cleared"), "{set}");
    assert!(refused(&["dispute", "retrieve", "--data", "sb", "--payment", &prid], dir.path())
        .contains("NO_DISPUTE_URL"));
    let set = ok(&["dispute", "set-url", &acquirer_url, "--data", "sb"], dir.path());
    assert!(set.contains("/aps/api/v1/disputes/initiateRetrieval"), "{set}");

    let opened: Value = serde_json::from_str(&ok(
        &["dispute", "retrieve", "--data", "sb", "--payment", &prid, "--json"],
        dir.path(),
    ))
    .unwrap();
    assert_eq!(
        (opened["kind"].as_str(), opened["status"].as_str()),
        (Some("RETRIEVAL"), Some("OPEN")),
        "{opened}"
    );
    let id = opened["disputeRequestId"].as_str().unwrap().to_owned();

    // The running sandbox picks the queued call up, the acquirer acknowledges and answers.
    let deadline = Instant::now() + Duration::from_secs(30);
    let shown = loop {
        let shown: Value =
            serde_json::from_str(&ok(&["dispute", "show", &id, "--data", "sb", "--json"], dir.path()))
                .unwrap();
        if shown["status"] == "ANSWERED" || Instant::now() > deadline {
            break shown;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(shown["status"], "ANSWERED", "{shown}");
    assert!(shown["acknowledgedAt"].is_string(), "the signed acknowledgement is recorded: {shown}");
    assert_eq!(shown["delivery"]["status"], "delivered");
    assert_eq!(shown["response"]["paymentRequestId"], prid.as_str());
    assert_eq!(
        shown["response"]["order"]["orderAmount"],
        serde_json::json!({"currency": "USD", "value": "1250"})
    );
    let text = ok(&["dispute", "show", &id, "--data", "sb"], dir.path());
    assert!(text.contains("answered") && text.contains("responseRetrieval"), "{text}");

    // Refusals: exit 1, the rule's code in text and JSON.
    let over: Value = serde_json::from_str(&refused(
        &["dispute", "escalate", "--data", "sb", "--payment", &prid, "--amount", "12.51 USD", "--json"],
        dir.path(),
    ))
    .unwrap();
    assert_eq!(over["code"], "ESCALATION_AMOUNT_EXCEEDED", "{over}");
    assert!(refused(&["dispute", "retrieve", "--data", "sb", "--payment", "nope"], dir.path())
        .contains("PAYMENT_NOT_FOUND"));
    assert!(refused(
        &["dispute", "escalate", "--data", "sb", "--payment", &prid, "--amount", "lots"],
        dir.path()
    )
    .contains("--amount"));
    assert!(refused(&["dispute", "close", &id, "--data", "sb"], dir.path()).contains("DISPUTE_NOT_OPEN"));
    let listed: Value =
        serde_json::from_str(&ok(&["dispute", "list", "--data", "sb", "--json"], dir.path())).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "refused disputes are not recorded: {listed}");
}
