//! The catalogue matrix for disputes (suite `dispute`, alipayplus-api.md §13.3), in the style of
//! `catalogue_matrix_merchant.rs`: the correct reference acquirer passes every DSP case, serially
//! and several at once on one sandbox; every fault a DSP case targets fails that case on the same
//! named check every time. Real sandbox and acquirer on ephemeral ports, wired only over HTTP:
//! the runner charges through the POS driver, has the sandbox start the dispute (as the TSP
//! does), and the sandbox sends the signed initiate call to the acquirer's dispute URL. The
//! suite passes through the test-control API's port as well (`plusbox run --sandbox`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;
mod matrix_common;

use matrix_common::{assert_caught, explain, fault_runs, suite_cases, targeted, verdicts};

use std::sync::Arc;

use acquirer_common::Env;
use plusbox_acquirer::{Fault, Timing};
use plusbox_core::catalogue::{Case, Outcome, Product};
use plusbox_runner::{Quiet, Runner, RunnerConfig};
use plusbox_runner_local::LocalPort;

/// Sandbox and acquirer time run this much faster than the wall clock.
const SCALE: u32 = 10;

/// Runs per (case, fault): the verdict must not depend on timing.
const REPEATS: usize = 2;

/// A sandbox and acquirer, the application's dispute URL pointing at the acquirer.
async fn env(faults: &[Fault]) -> Env {
    let env = Env::start_compressed(faults, Timing::default(), SCALE).await;
    let store = env.sandbox.store();
    let app = store.app().unwrap();
    store.set_dispute_url(app.id, Some(&env.base_url)).unwrap();
    env
}

fn runner(env: &Env) -> Runner {
    let port = LocalPort::new(env.sandbox.store(), env.sandbox.clock()).with_poke(env.sandbox.poker());
    Runner::new(Arc::new(port), RunnerConfig::new(env.base_url.clone(), "buyer-1")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn correct_acquirer_passes_every_dispute_case_serial_and_parallel() {
    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let cases = suite_cases(&catalogue, "dispute");
    assert!(cases.iter().filter(|c| c.product == Product::Dispute).count() >= 3, "the DSP cases");
    let env = env(&[]).await;
    let serial = runner(&env).run_all(&cases, &Quiet).await;
    // Again on the same sandbox, in the other order and all at once: each run disputes its own
    // sale, and the earlier runs' disputes of other sales do not count against it.
    let reversed: Vec<&Case> = cases.iter().rev().copied().collect();
    let accounts: Vec<String> = ["buyer-1", "buyer-2", "buyer-3"].map(String::from).to_vec();
    let parallel = runner(&env).run_parallel(&reversed, &accounts, &Quiet).await;
    let offset = env.sandbox.clock().offset();
    // Answered disputes never expire, so the wall clock reads them as well as the sandbox clock.
    let disputes = env.sandbox.store().disputes(None, time::OffsetDateTime::now_utc()).unwrap();
    env.stop().await;
    let mut failures = Vec::new();
    for report in serial.cases.iter().chain(parallel.cases.iter()) {
        println!("{}", explain(report));
        if report.verdict != Outcome::Pass {
            failures.push(explain(report));
        }
    }
    assert_eq!(offset, time::Duration::ZERO, "the runner moved the sandbox clock");
    assert!(
        failures.is_empty(),
        "DSP cases that did not pass against the correct acquirer:\n{}",
        failures.join("\n")
    );
    assert_eq!(serial.cases.len(), cases.len());
    assert_eq!(verdicts(&serial), verdicts(&parallel), "the verdicts depend on the order");
    // The sandbox recorded every dispute answered, with the acquirer's order as its material.
    assert!(
        disputes.len() >= 2 * 4,
        "two runs of DSP-001, -002 and DSP-003's two retrievals: {}",
        disputes.len()
    );
    for d in &disputes {
        assert_eq!(d.status, "ANSWERED", "{} {}", d.kind.word(), d.dispute_request_id);
        assert!(d.acknowledged_at.is_some(), "{} was acknowledged", d.dispute_request_id);
        let response = d.response.as_ref().unwrap();
        assert_eq!(response["paymentRequestId"], d.payment_request_id.as_str());
        assert!(response.pointer("/order/orderAmount/value").is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fault_a_dispute_case_targets_fails_it_on_a_named_check() {
    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let pairs = targeted(suite_cases(&catalogue, "dispute"));
    for fault in [Fault::NoRetrievalAnswer, Fault::AnswerUnrelatedPayment] {
        assert!(pairs.iter().any(|(_, f)| *f == fault), "no case of the dispute suite targets {fault}");
    }
    let outcomes = fault_runs(&pairs, REPEATS, pairs.len(), |case, fault, _| async move {
        let env = env(&[fault]).await;
        let mut report = runner(&env).run_all(&[case], &Quiet).await;
        env.stop().await;
        report.cases.remove(0)
    })
    .await;
    assert_caught(&outcomes, None);
}

/// A device token that sees every payment (`plusbox app pair --token`).
fn owner_token(env: &Env) -> String {
    let store = env.sandbox.store();
    let token = store.create_device("owner", time::OffsetDateTime::now_utc()).unwrap();
    token.expose().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dispute_cases_pass_over_the_test_control_api_too() {
    // `plusbox run --sandbox URL --token T`: the runner starts each dispute with
    // POST /app/v1/test/disputes instead of the local store.
    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let cases = suite_cases(&catalogue, "dispute");
    let env = env(&[]).await;
    let port = plusbox_runner::HttpPort::connect(env.sandbox.base_url(), &owner_token(&env)).await.unwrap();
    let runner = Runner::new(Arc::new(port), RunnerConfig::new(env.base_url.clone(), "buyer-1")).unwrap();
    let report = runner.run_all(&cases, &Quiet).await;
    env.stop().await;
    let failures: Vec<String> =
        report.cases.iter().filter(|r| r.verdict != Outcome::Pass).map(explain).collect();
    assert!(failures.is_empty(), "over the test-control API:\n{}", failures.join("\n"));
    assert_eq!(report.cases.len(), cases.len());
}
