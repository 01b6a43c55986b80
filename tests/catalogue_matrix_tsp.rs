//! The catalogue matrix for TSP mode (suite `tsp`, alipayplus-api.md §14, docs/tsp.md): a real
//! sandbox and a reference acquirer on ephemeral ports, wired only over HTTP, at a compressed
//! clock. The acquirer's application has authorized the TSP (upm and mpm) and so is in TSP mode;
//! the acquirer sends that authorization's Agent-Token. The correct acquirer passes every TSP
//! case, serially and all at once on the one sandbox; the `missing-agent-token` fault fails each
//! case that targets it on the same named check every time.
//!
//! TSP mode belongs to the application, not to the sandbox: a TSP run needs no global switch,
//! so it never disturbs another application's runs on the same sandbox. The last test proves
//! that with a directly integrated acquirer paying through a second application at the same
//! time, without any Agent-Token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod matrix_common;

use matrix_common::{assert_caught, explain, fault_runs, suite_cases, targeted, verdicts};

use std::sync::Arc;
use std::time::Duration;

use plusbox_acquirer::{server, Acquirer, AcquirerConfig, Fault, MerchantConfig, Timing};
use plusbox_core::catalogue::{Case, Outcome, Product};
use plusbox_core::signing::PrivateKey;
use plusbox_runner::{Quiet, Runner, RunnerConfig};
use plusbox_runner_local::LocalPort;
use plusbox_sandbox::store::TspProduct;
use plusbox_sandbox::{Sandbox, SandboxConfig, ScaledClock, SharedClock};

/// Sandbox and acquirer time run this much faster than the wall clock.
const SCALE: u32 = 10;

/// Runs per (case, fault): the verdict must not depend on timing.
const REPEATS: usize = 2;

struct Env {
    sandbox: Sandbox,
    pos_url: String,
    _acquirers: Vec<tokio::task::JoinHandle<Result<(), plusbox_acquirer::AcquirerError>>>,
    _dir: tempfile::TempDir,
}

/// An acquirer for application `app_id` (its own key and notify URL registered there), sending
/// `agent_token` when given.
async fn acquirer_for(
    sandbox: &Sandbox,
    dir: &std::path::Path,
    app_id: i64,
    agent_token: Option<String>,
    faults: &[Fault],
) -> (String, tokio::task::JoinHandle<Result<(), plusbox_acquirer::AcquirerError>>) {
    let store = sandbox.store();
    let key = PrivateKey::generate().unwrap();
    let key_file = dir.join(format!("acquirer_{app_id}_key.pem"));
    std::fs::write(&key_file, key.to_pkcs8_pem().expose()).unwrap();
    let now = time::OffsetDateTime::now_utc();
    store.set_acqp_key_for(app_id, &key.public_key().unwrap().to_base64(), 1, now).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let notify_url = format!("http://{addr}/notify");
    store.set_notify_url_for(app_id, Some(&notify_url)).unwrap();
    let app = store.app_view_of(app_id).unwrap();
    let real = |ms: u64| (ms / u64::from(SCALE)).max(1);
    let base = Timing::default();
    let timing = Timing {
        pay_timeout_ms: real(base.pay_timeout_ms),
        refund_timeout_ms: real(base.refund_timeout_ms),
        cancel_timeout_ms: real(base.cancel_timeout_ms),
        inquiry_timeout_ms: real(base.inquiry_timeout_ms),
        ..base
    };
    let config = AcquirerConfig {
        gateway_url: sandbox.base_url().to_owned(),
        client_id: app.client_id.clone(),
        acquirer_id: Some(app.acquirer_id.clone()),
        private_key_file: key_file,
        key_version: 1,
        gateway_public_key: app.sandbox_public_key.clone(),
        notify_url,
        listen: addr.to_string(),
        database: dir.join(format!("acquirer_{app_id}.sqlite3")),
        faults: Default::default(),
        agent_token,
        sftp: None,
        merchant: MerchantConfig::default(),
        timing,
    };
    let clock: plusbox_acquirer::SharedClock = Arc::new(plusbox_acquirer::ScaledClock::anchored(
        plusbox_sandbox::Clock::now(&sandbox.clock()),
        std::time::Instant::now(),
        f64::from(SCALE),
    ));
    let acquirer = Acquirer::new(config, faults.iter().copied(), clock).unwrap();
    (format!("http://{addr}"), tokio::spawn(server::serve(acquirer, listener)))
}

/// A sandbox whose default application authorized the TSP for upm and mpm, and the TSP's
/// acquirer sending that Agent-Token (with `faults`).
async fn env(faults: &[Fault]) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let clock: SharedClock = Arc::new(ScaledClock::new(f64::from(SCALE)));
    let mut config =
        SandboxConfig::new(dir.path().join("sandbox"), "127.0.0.1:0".parse().unwrap()).with_clock(clock);
    config.notify_timeout = Duration::from_millis(1_000);
    let sandbox = Sandbox::start(config).await.unwrap();
    let store = sandbox.store();
    let app = store.app().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let url = store.create_tsp_authorization(app.id, &[TspProduct::Upm, TspProduct::Mpm], now).unwrap();
    let active = store.authorize_tsp(&url.authorization_id, now).unwrap();
    assert!(active.tsp_mode, "authorizing puts the ACQP's application in TSP mode");
    let (pos_url, server) = acquirer_for(&sandbox, dir.path(), app.id, active.agent_token, faults).await;
    Env { sandbox, pos_url, _acquirers: vec![server], _dir: dir }
}

fn runner(env: &Env) -> Runner {
    let port = LocalPort::new(env.sandbox.store(), env.sandbox.clock()).with_poke(env.sandbox.poker());
    Runner::new(Arc::new(port), RunnerConfig::new(env.pos_url.clone(), "buyer-1")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn correct_tsp_acquirer_passes_every_tsp_case_serial_and_parallel() {
    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let cases = suite_cases(&catalogue, "tsp");
    assert!(cases.len() >= 2 && cases.iter().all(|c| c.product == Product::Tsp), "the TSP cases");
    let env = env(&[]).await;
    let serial = runner(&env).run_all(&cases, &Quiet).await;
    let reversed: Vec<&Case> = cases.iter().rev().copied().collect();
    let accounts: Vec<String> = ["buyer-1", "buyer-2"].map(String::from).to_vec();
    let parallel = runner(&env).run_parallel(&reversed, &accounts, &Quiet).await;
    let mut failures = Vec::new();
    for report in serial.cases.iter().chain(parallel.cases.iter()) {
        println!("{}", explain(report));
        if report.verdict != Outcome::Pass {
            failures.push(explain(report));
        }
    }
    assert!(
        failures.is_empty(),
        "TSP cases that did not pass against the correct acquirer:\n{}",
        failures.join("\n")
    );
    assert_eq!(serial.cases.len(), cases.len());
    assert_eq!(verdicts(&serial), verdicts(&parallel), "the verdicts depend on the order");
    // Every call the acquirer made was accepted in TSP mode with its token.
    let traffic = env.sandbox.store().traffic(0, 10_000).unwrap();
    assert!(traffic.iter().filter(|t| t.direction == "inbound").count() >= 4);
    assert!(!traffic.iter().any(|t| t.result_code.as_deref() == Some("ACCESS_DENIED")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn missing_agent_token_fails_every_tsp_case_on_the_same_named_check() {
    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let pairs = targeted(suite_cases(&catalogue, "tsp"));
    assert!(
        pairs.iter().filter(|(_, f)| *f == Fault::MissingAgentToken).count() >= 2,
        "both TSP cases target it"
    );
    let outcomes = fault_runs(&pairs, REPEATS, pairs.len(), |case, fault, _| async move {
        let env = env(&[fault]).await;
        let mut report = runner(&env).run_all(&[case], &Quiet).await;
        report.cases.remove(0)
    })
    .await;
    assert_caught(&outcomes, Some("agent-token-on-every-call"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tsp_run_leaves_another_application_on_the_same_sandbox_alone() {
    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let cases = suite_cases(&catalogue, "tsp");
    let upm = catalogue.cases().find(|c| c.id.as_str() == "UPM-PAY-001").unwrap();
    let mut env = env(&[]).await;
    // A directly integrated ACQP on its own application of the same sandbox: no TSP, no token.
    let store = env.sandbox.store();
    let direct = store.create_app("direct-acqp", time::OffsetDateTime::now_utc()).unwrap();
    let (direct_url, server) = acquirer_for(&env.sandbox, env._dir.path(), direct.id, None, &[]).await;
    env._acquirers.push(server);
    let port = LocalPort::new(env.sandbox.store(), env.sandbox.clock()).with_poke(env.sandbox.poker());
    let direct_runner = Runner::new(Arc::new(port), RunnerConfig::new(direct_url, "buyer-3")).unwrap();
    let tsp_runner = runner(&env);
    let direct_cases = [upm];
    let (tsp, other) =
        tokio::join!(tsp_runner.run_all(&cases, &Quiet), direct_runner.run_all(&direct_cases, &Quiet));
    for report in tsp.cases.iter().chain(other.cases.iter()) {
        println!("{}", explain(report));
    }
    assert!(tsp.cases.iter().all(|c| c.verdict == Outcome::Pass), "the TSP cases pass");
    let direct_pays: Vec<_> = store
        .traffic_of(Some(&direct.client_id), 0, 10_000)
        .unwrap()
        .into_iter()
        .filter(|t| t.api == "pay")
        .collect();
    assert!(!direct_pays.is_empty(), "the direct ACQP paid through its own application");
    assert!(
        direct_pays.iter().all(|t| t.result_code.as_deref() == Some("SUCCESS")),
        "the other application needs no Agent-Token: {:?}",
        direct_pays.iter().map(|t| &t.result_code).collect::<Vec<_>>()
    );
}
