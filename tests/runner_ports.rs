//! The runner's bad days, through the sandbox's test-control API (`plusbox run --sandbox`) and
//! its store: a second run on a busy buyer, a sandbox that goes away mid-run, a POS-driver that
//! answers garbage, a case that does not exist. Each is a clear error; a run keeps what it did.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;

use std::sync::Arc;

use acquirer_common::Env;
use plusbox_acquirer::Timing;
use plusbox_core::catalogue::Outcome;
use plusbox_runner::{HttpPort, Quiet, Runner, RunnerConfig};
use plusbox_runner_local::LocalPort;
use plusbox_sandbox::store::DeviceScope;
use serde_json::Value;

const SCALE: u32 = 10;

async fn env() -> Env {
    Env::start_compressed(&[], Timing::default(), SCALE).await
}

fn device(env: &Env, name: &str, scope: &DeviceScope) -> String {
    let store = env.sandbox.store();
    if let Some(account) = &scope.account {
        store.ensure_buyer_like(account, "buyer-1", time::OffsetDateTime::now_utc()).unwrap();
    }
    let token = store.create_device(name, time::OffsetDateTime::now_utc()).unwrap();
    let id = store.device_id_by_name(name).unwrap().unwrap();
    store.set_device_scope(id, scope).unwrap();
    token.expose().to_owned()
}

async fn api_runner(env: &Env, token: &str, pos: &str, account: &str) -> Runner {
    let port = HttpPort::connect(env.sandbox.base_url(), token).await.unwrap();
    Runner::new(Arc::new(port), RunnerConfig::new(pos.to_owned(), account.to_owned())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_run_on_a_busy_buyer_is_an_error_naming_the_active_run_through_both_ports() {
    let env = env().await;
    let shop =
        device(&env, "shop", &DeviceScope { account: Some("shop-a".into()), ..DeviceScope::default() });
    let owner = device(&env, "owner", &DeviceScope::default());
    // The shop's phone holds its buyer for a run.
    let held: Value = reqwest::Client::new()
        .post(format!("{}/app/v1/test/runs", env.sandbox.base_url()))
        .header("authorization", format!("Bearer {shop}"))
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(held["account"], "shop-a");

    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let case = catalogue.get("UPM-PAY-001").unwrap();
    let over_api = api_runner(&env, &owner, &env.base_url, "shop-a").await.run_case(case, &Quiet).await;
    let local = LocalPort::new(env.sandbox.store(), env.sandbox.clock());
    let over_store = Runner::new(Arc::new(local), RunnerConfig::new(env.base_url.clone(), "shop-a"))
        .unwrap()
        .run_case(case, &Quiet)
        .await;
    env.stop().await;
    for report in [&over_api, &over_store] {
        assert_eq!(report.verdict, Outcome::Error, "{:?}", report.errors);
        let error = report.errors.join("\n");
        assert!(
            error.contains("RUN_ACTIVE") && error.contains("buyer shop-a already has an active run"),
            "{error}"
        );
        assert!(report.run.traffic.is_empty(), "nothing was paid on the busy buyer");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sandbox_that_goes_away_mid_run_is_an_error_and_the_run_keeps_its_steps() {
    let env = env().await;
    let token = device(&env, "owner", &DeviceScope::default());
    let runner = api_runner(&env, &token, &env.base_url, "buyer-1").await;
    let run = tokio::spawn(async move {
        let catalogue = plusbox_runner::embedded::catalogue().unwrap();
        let case = catalogue.get("UPM-EXP-001").unwrap();
        runner.run_case(case, &Quiet).await
    });
    // The payment is waiting for its expiry (tens of seconds of sandbox time) when it goes.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    env.stop().await;
    let report = run.await.unwrap();
    assert_eq!(report.verdict, Outcome::Error, "{:?}", report.errors);
    assert!(!report.steps.is_empty(), "the steps taken are kept");
    let error = report.errors.join("\n");
    assert!(error.contains("is not reachable"), "{error}");
}

/// A "POS-driver" that answers every call with an HTML page.
async fn garbage_pos() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { "<html><body>It works!</body></html>" });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pos_driver_answering_garbage_is_an_error_quoting_the_answer() {
    let env = env().await;
    let token = device(&env, "owner", &DeviceScope::default());
    let pos = garbage_pos().await;
    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let case = catalogue.get("UPM-PAY-001").unwrap();
    let report = api_runner(&env, &token, &pos, "buyer-1").await.run_case(case, &Quiet).await;
    env.stop().await;
    assert_eq!(report.verdict, Outcome::Error, "{:?}", report.errors);
    let error = report.errors.join("\n");
    assert!(error.contains("not a JSON object") && error.contains("It works!"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plusbox_run_over_the_api_refuses_an_unknown_case_and_a_bad_token() {
    let env = env().await;
    let token = device(&env, "owner", &DeviceScope::default());
    let url = env.sandbox.base_url().to_owned();
    let data = tempfile::tempdir().unwrap();
    let run = |args: Vec<String>| {
        let data = data.path().to_owned();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_plusbox"))
                .arg("run")
                .args(args)
                .arg("--data")
                .arg(data)
                .env_remove("PLUSBOX_TOKEN")
                .output()
                .unwrap()
        })
    };
    let unknown = run(vec![
        "UPM-NOPE-999".into(),
        "--sandbox".into(),
        url.clone(),
        "--token".into(),
        token,
        "--pos".into(),
        env.base_url.clone(),
    ])
    .await
    .unwrap();
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("no case UPM-NOPE-999"), "{stderr}");

    let bad_token = run(vec![
        "UPM-PAY-001".into(),
        "--sandbox".into(),
        url,
        "--token".into(),
        "pbx_not-a-token".into(),
        "--pos".into(),
        env.base_url.clone(),
    ])
    .await
    .unwrap();
    env.stop().await;
    assert!(!bad_token.status.success());
    let stderr = String::from_utf8_lossy(&bad_token.stderr);
    assert!(stderr.contains("UNAUTHORIZED") && stderr.contains("--sandbox"), "{stderr}");
}
