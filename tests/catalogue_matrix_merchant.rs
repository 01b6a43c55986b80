//! The catalogue matrix for merchant registration and customs declaration (suite `merchant`,
//! alipayplus-api.md §13.1–§13.2), in the style of `catalogue_matrix.rs`: the correct reference
//! acquirer passes every REG and CUS case,
//! serially and several at once on one sandbox (each run registers merchants of its own); every
//! fault a REG case targets fails that case on the same named check every time. Real sandbox and
//! acquirer on ephemeral ports, wired only over HTTP; the runner drives the acquirer's POS-driver
//! `POST /register`, `POST /charge` and `POST /declare` (the buyer paying as Alipay (CN)).
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

async fn env(faults: &[Fault]) -> Env {
    Env::start_compressed(faults, Timing::default(), SCALE).await
}

fn runner(env: &Env) -> Runner {
    let port = LocalPort::new(env.sandbox.store(), env.sandbox.clock()).with_poke(env.sandbox.poker());
    Runner::new(Arc::new(port), RunnerConfig::new(env.base_url.clone(), "buyer-1")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn correct_acquirer_passes_every_registration_case_serial_and_parallel() {
    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let cases = suite_cases(&catalogue, "merchant");
    assert!(cases.iter().filter(|c| c.product == Product::Registration).count() >= 2, "the REG cases");
    assert!(cases.iter().any(|c| c.product == Product::Customs), "the CUS cases");
    let env = env(&[]).await;
    let serial = runner(&env).run_all(&cases, &Quiet).await;
    // Again on the same sandbox, in the other order and all at once: runs never share merchants.
    let reversed: Vec<&Case> = cases.iter().rev().copied().collect();
    let accounts: Vec<String> = ["buyer-1", "buyer-2"].map(String::from).to_vec();
    let parallel = runner(&env).run_parallel(&reversed, &accounts, &Quiet).await;
    let offset = env.sandbox.clock().offset();
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
        "REG cases that did not pass against the correct acquirer:\n{}",
        failures.join("\n")
    );
    assert_eq!(serial.cases.len(), cases.len());
    assert_eq!(verdicts(&serial), verdicts(&parallel), "the verdicts depend on the order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fault_a_registration_case_targets_fails_it_on_a_named_check() {
    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let pairs = targeted(suite_cases(&catalogue, "merchant"));
    for fault in [Fault::ReregisterWithin30Minutes, Fault::NewDeclarationIdOnRetry] {
        assert!(pairs.iter().any(|(_, f)| *f == fault), "no case of the merchant suite targets {fault}");
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
