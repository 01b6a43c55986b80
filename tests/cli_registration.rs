//! `plusbox app registration`: the registration notify URL, the "registered merchants only"
//! switch and the review time are stored and shown (also as JSON), bad values are refused with
//! the option named, and the store obeys the settings the CLI wrote.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_plusbox");

fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN).args(["app", "registration"]).args(args).arg("--data").arg(data).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn registration_settings_are_stored_shown_and_refused_when_bad() {
    let dir = tempfile::tempdir().unwrap();
    let shown = run(dir.path(), &["--json"]);
    assert!(shown.status.success(), "{}", text(&shown));
    let json: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(
        json["settings"],
        serde_json::json!({"notifyUrl": null, "requireRegistration": false, "reviewSeconds": 600})
    );
    assert_eq!(json["registrations"], serde_json::json!([]));

    let set =
        run(dir.path(), &["--notify-url", "http://127.0.0.1:8788/reg", "--require", "on", "--review", "2m"]);
    assert!(set.status.success(), "{}", text(&set));
    assert!(text(&set).contains("on (pay refuses others: MERCHANT_NOT_REGISTERED)"), "{}", text(&set));
    let json: serde_json::Value = serde_json::from_slice(&run(dir.path(), &["--json"]).stdout).unwrap();
    assert_eq!(
        json["settings"],
        serde_json::json!({"notifyUrl": "http://127.0.0.1:8788/reg", "requireRegistration": true, "reviewSeconds": 120})
    );

    for (args, named) in [
        (vec!["--review", "soon"], "--review"),
        (vec!["--notify-url", "ftp://x/reg"], "registration notify URL"),
        (vec!["--review", "721h"], "outside 0 s to 30 days"),
        (vec!["--require", "maybe"], "--require"),
    ] {
        let out = run(dir.path(), &args);
        assert!(!out.status.success(), "{args:?} was accepted: {}", text(&out));
        assert!(text(&out).contains(named), "{args:?}: {}", text(&out));
    }
    // `none` clears the URL; the other settings stay.
    assert!(run(dir.path(), &["--notify-url", "none"]).status.success());
    let json: serde_json::Value = serde_json::from_slice(&run(dir.path(), &["--json"]).stdout).unwrap();
    assert_eq!(json["settings"]["notifyUrl"], serde_json::Value::Null);
    assert_eq!(json["settings"]["requireRegistration"], true);

    // The store reads what the CLI wrote.
    let store = plusbox_sandbox::Store::open(dir.path()).unwrap();
    let settings = store.registration_settings(store.app().unwrap().id).unwrap();
    assert!(settings.require_registration);
    assert_eq!(settings.review_seconds, 120);
}
