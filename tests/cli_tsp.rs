//! `plusbox app create|list|--app` and `plusbox tsp …` (docs/tsp.md): applications are made
//! and listed, every app command acts on the one `--app` names (the default one without it),
//! and the TSP authorization flow — URL, Authorize, list, scope change, cancel — is driven from
//! the CLI with bad input refused and named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_plusbox");

fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN).args(args).arg("--data").arg(data).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn json(data: &Path, args: &[&str]) -> Value {
    let out = run(data, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&out)))
}

fn refused(data: &Path, args: &[&str], named: &str) {
    let out = run(data, args);
    assert!(!out.status.success(), "{args:?} was accepted: {}", text(&out));
    assert!(text(&out).contains(named), "{args:?} does not name {named:?}: {}", text(&out));
}

#[test]
fn applications_are_created_listed_and_picked_with_app() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let default = json(data, &["app", "show", "--json"]);
    assert_eq!(default["name"], "default");

    let made = json(data, &["app", "create", "--name", "acqp-b", "--json"]);
    assert_eq!(made["name"], "acqp-b");
    let client_b = made["clientId"].as_str().unwrap().to_owned();
    assert!(client_b.starts_with("SANDBOX_") && client_b.len() == 25, "{client_b}");
    assert_ne!(made["clientId"], default["clientId"]);
    assert_ne!(made["acquirerId"], default["acquirerId"]);
    assert_ne!(made["sandboxPublicKey"], default["sandboxPublicKey"]);
    assert_eq!(made["sftp"]["username"], made["acquirerId"], "its own SFTP login");
    assert_ne!(made["sftp"]["password"], default["sftp"]["password"]);

    let list = json(data, &["app", "list", "--json"]);
    let names: Vec<(&str, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["default"].as_bool().unwrap()))
        .collect();
    assert_eq!(names, [("default", true), ("acqp-b", false)]);

    // --app by name or by Client-Id, before or after the subcommand.
    assert_eq!(json(data, &["app", "show", "--app", "acqp-b", "--json"])["clientId"], client_b.as_str());
    assert_eq!(json(data, &["app", "--app", &client_b, "show", "--json"])["name"], "acqp-b");

    // Settings go to the application named, and only to it.
    let set = run(data, &["app", "set-notify-url", "--app", "acqp-b", "http://127.0.0.1:9999/b-notify"]);
    assert!(set.status.success(), "{}", text(&set));
    assert!(run(data, &["app", "set-magic-amounts", "--app", "acqp-b", "off"]).status.success());
    assert_eq!(
        json(data, &["app", "show", "--app", "acqp-b", "--json"])["notifyUrl"],
        "http://127.0.0.1:9999/b-notify"
    );
    assert_eq!(json(data, &["app", "show", "--json"])["notifyUrl"], Value::Null);
    let key = plusbox_core::signing::PrivateKey::generate().unwrap();
    let key_file = data.join("b.pub");
    std::fs::write(&key_file, key.public_key().unwrap().to_base64()).unwrap();
    let stored =
        run(data, &["app", "set-key", "--app", "acqp-b", "--public-key", key_file.to_str().unwrap()]);
    assert!(stored.status.success(), "{}", text(&stored));
    let list = json(data, &["app", "list", "--json"]);
    assert_eq!(list[0]["acqpKeys"], 0);
    assert_eq!(list[1]["acqpKeys"], 1);
    let store = plusbox_sandbox::Store::open(data).unwrap();
    let b = store.resolve_app(Some("acqp-b")).unwrap();
    assert!(!b.magic_amounts);
    assert!(store.app().unwrap().magic_amounts, "the default application is untouched");
    assert!(store.acqp_key(b.id, Some(1)).unwrap().is_some());
    drop(store);

    // Its traffic is its own (none yet).
    assert_eq!(json(data, &["traffic", "list", "--app", "acqp-b", "--json"]), serde_json::json!([]));

    refused(data, &["app", "create", "--name", "acqp-b"], "already exists");
    refused(data, &["app", "create", "--name", "bad name"], "letters");
    refused(data, &["app", "show", "--app", "nobody"], "nobody");
    refused(data, &["traffic", "list", "--app", "nobody"], "nobody");
    refused(data, &["app", "devices", "--app", "acqp-b"], "--app");
}

#[test]
fn the_tsp_authorization_flow_runs_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    json(data, &["app", "create", "--name", "acqp-b", "--json"]);
    let made = json(data, &["tsp", "authorize-url", "--app", "acqp-b", "--products", "upm", "--json"]);
    let url = made["authorizationUrl"].as_str().unwrap().to_owned();
    let id = made["authorization"]["authorizationId"].as_str().unwrap().to_owned();
    assert!(url.ends_with(&format!("/tsp/authorize/{id}")), "{url}");
    assert_eq!(made["authorization"]["displayStatus"], "Inactive");
    assert_eq!(made["authorization"]["agentToken"], Value::Null);

    // The ACQP opens the URL and clicks Authorize.
    let active = json(data, &["tsp", "authorize", &url, "--json"]);
    assert_eq!(active["displayStatus"], "Active");
    assert_eq!(active["tspMode"], true);
    let token = active["agentToken"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 48);

    let listed = json(data, &["tsp", "list", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["agentToken"], token.as_str());
    assert_eq!(listed[0]["appName"], "acqp-b");
    assert_eq!(json(data, &["tsp", "list", "--app", "default", "--json"]), serde_json::json!([]));
    let apps = json(data, &["app", "list", "--json"]);
    assert_eq!(
        (apps[1]["tspMode"].as_bool(), apps[1]["activeAuthorizations"].as_i64()),
        (Some(true), Some(1))
    );
    assert_eq!(apps[0]["tspMode"], false, "the default application is not TSP-managed");

    // The TSP's acquirer for acqp-b: wired to that application, sending the token.
    let out = data.join("acq").join("b.toml");
    let init = Command::new(BIN)
        .args(["acquirer", "init", "--from-sandbox"])
        .arg(data)
        .args([
            "--app",
            "acqp-b",
            "--agent-token",
            &token,
            "--notify-url",
            "http://127.0.0.1:8790/notify",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", text(&init));
    let config = plusbox_acquirer::AcquirerConfig::load(&out).unwrap();
    let b = json(data, &["app", "show", "--app", "acqp-b", "--json"]);
    assert_eq!(config.client_id, b["clientId"].as_str().unwrap());
    assert_eq!(config.gateway_public_key, b["sandboxPublicKey"].as_str().unwrap());
    assert_eq!(config.agent_token.as_deref(), Some(token.as_str()));
    assert_eq!(b["notifyUrl"], "http://127.0.0.1:8790/notify");
    assert_eq!(
        json(data, &["app", "show", "--json"])["notifyUrl"],
        Value::Null,
        "the default application is untouched"
    );
    let bad = Command::new(BIN)
        .args(["acquirer", "init", "--from-sandbox"])
        .arg(data)
        .args(["--agent-token", "has space", "--notify-url", "http://127.0.0.1:8791/notify", "--out"])
        .arg(data.join("acq").join("c.toml"))
        .output()
        .unwrap();
    assert!(!bad.status.success() && text(&bad).contains("--agent-token"), "{}", text(&bad));

    let widened = json(data, &["tsp", "scope", &id, "--products", "upm,mpm", "--json"]);
    assert_eq!(widened["products"], serde_json::json!(["upm", "mpm"]));
    assert_eq!(widened["agentToken"], token.as_str(), "a scope change keeps the token");

    let cancelled = json(data, &["tsp", "cancel", &id, "--json"]);
    assert_eq!(
        (cancelled["status"].as_str(), cancelled["displayStatus"].as_str()),
        (Some("INACTIVE"), Some("Inactive"))
    );
    refused(data, &["tsp", "authorize", &id], "cancelled");

    // The switch itself.
    assert!(run(data, &["tsp", "disable", "--app", "acqp-b"]).status.success());
    assert_eq!(json(data, &["app", "list", "--json"])[1]["tspMode"], false);
    assert!(run(data, &["tsp", "enable"]).status.success());
    assert_eq!(json(data, &["app", "list", "--json"])[0]["tspMode"], true);

    refused(data, &["tsp", "authorize-url", "--products", "upm,cashier"], "cashier");
    refused(data, &["tsp", "authorize-url", "--products", ""], "at least one product");
    refused(data, &["tsp", "authorize", "http://127.0.0.1:8787/tsp/authorize/AUTH_nope"], "authorization id");
    refused(data, &["tsp", "authorize", "AUTH_00000000000000000000"], "no TSP authorization");
}
