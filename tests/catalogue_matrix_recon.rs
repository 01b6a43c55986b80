//! The catalogue matrix for reconciliation (suite `recon`, reconciliation.md §2), in the style of
//! `catalogue_matrix.rs`: the correct reference acquirer passes every RECON case, serially and
//! several at once on one sandbox, while another acquirer's merchant has sold on the same
//! clearing day (its rows are in the same file); each reconciliation fault a case targets fails
//! it on the check `acquirer-reconciled` every time. Real sandbox and acquirers on ephemeral
//! ports, wired only over HTTP; the runner drives the acquirer's POS-driver `/charge`, `/refund`,
//! `/cancel`, `/orders/age` and `/reconcile`; no clock moves.
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

/// The check every reconciliation fault must fail.
const RECONCILED: &str = "acquirer-reconciled";

async fn env(faults: &[Fault]) -> Env {
    Env::start_compressed(faults, Timing::default(), SCALE).await
}

fn runner(env: &Env) -> Runner {
    let port = LocalPort::new(env.sandbox.store(), env.sandbox.clock()).with_poke(env.sandbox.poker());
    Runner::new(Arc::new(port), RunnerConfig::new(env.base_url.clone(), "buyer-1")).unwrap()
}

/// Another acquirer (merchant M0002) sells on the same application, and its sale is aged into the
/// clearing day the RECON cases age theirs into: its row shares their file.
async fn another_merchant_sells_that_day(env: &Env) {
    let other = env.add_acquirer("M0002", &[], Timing::default(), SCALE).await;
    let code = env.code_for("buyer-3", "success");
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{other}/charge"))
        .json(&serde_json::json!({"code": code, "amount": "7.77 USD"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["state"], "SUCCESS", "{answer}");
    let pid = answer["paymentId"].as_str().unwrap().to_owned();
    let aged = env.sandbox.store().age_payments(&[pid], time::Duration::hours(48)).unwrap();
    assert_eq!(aged, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn correct_acquirer_reconciles_every_recon_case_serial_and_parallel_beside_another_merchant() {
    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let cases = suite_cases(&catalogue, "recon");
    assert!(cases.iter().filter(|c| c.product == Product::Reconciliation).count() >= 2, "the RECON cases");
    let env = env(&[]).await;
    another_merchant_sells_that_day(&env).await;
    let serial = runner(&env).run_all(&cases, &Quiet).await;
    // Again on the same sandbox, in the other order and all at once.
    let reversed: Vec<&Case> = cases.iter().rev().copied().collect();
    let accounts: Vec<String> = ["buyer-1", "buyer-2"].map(String::from).to_vec();
    let parallel = runner(&env).run_parallel(&reversed, &accounts, &Quiet).await;
    let offset = env.sandbox.clock().offset();
    // The file the cases reconciled holds the other merchant's row too.
    let store = env.sandbox.store();
    let app = store.app().unwrap();
    let merchants: std::collections::BTreeSet<String> = store
        .recon_files(app.id)
        .unwrap()
        .iter()
        .flat_map(|f| {
            let bytes = store.recon_file(app.id, &f.generation_date, &f.name).unwrap().unwrap();
            plusbox_core::recon::parse(&bytes).unwrap().rows.into_iter().map(|(_, r)| r.reference_merchant_id)
        })
        .collect();
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
        "RECON cases that did not pass against the correct acquirer:\n{}",
        failures.join("\n")
    );
    assert!(
        merchants.contains("M0001") && merchants.contains("M0002"),
        "one file, both merchants: {merchants:?}"
    );
    assert_eq!(serial.cases.len(), cases.len());
    assert_eq!(verdicts(&serial), verdicts(&parallel), "the verdicts depend on the order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fault_a_recon_case_targets_fails_it_on_acquirer_reconciled() {
    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let pairs = targeted(suite_cases(&catalogue, "recon"));
    for fault in [Fault::ReconCountsCancelled, Fault::ReconIgnoresRefunds] {
        assert!(pairs.iter().any(|(_, f)| *f == fault), "no case of the recon suite targets {fault}");
    }
    let outcomes = fault_runs(&pairs, REPEATS, pairs.len(), |case, fault, _| async move {
        let env = env(&[fault]).await;
        let mut report = runner(&env).run_all(&[case], &Quiet).await;
        env.stop().await;
        report.cases.remove(0)
    })
    .await;
    assert_caught(&outcomes, Some(RECONCILED));
}
