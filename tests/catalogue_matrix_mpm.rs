//! The catalogue matrix for merchant-presented mode (order codes and private order codes, suite
//! `mpm`), in the
//! style of `catalogue_matrix.rs`: the correct reference acquirer passes every MPM case, serially
//! in a random order and four at a time on separate buyers; every fault an MPM case targets fails
//! that case, on the same named check every time. Real sandbox and acquirer on ephemeral ports,
//! wired only over HTTP; the runner drives the acquirer's POS-driver API (`POST /order-code`,
//! `POST /private-order-code`) and plays the buyer who scans the code the POS shows (a private
//! order code is decoded by the acquirer's `userInitiatedPay`, under the 8 s timeout on the
//! sandbox's compressed clock).
//!
//! Time runs 12 times faster than the wall clock for both, with the reference timing in that
//! time: the 180 s order-code window is 15 s of real time, and one 3.5 s inquiry slot is 290 ms,
//! room for a loaded machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;
mod matrix_common;

use matrix_common::{assert_caught, explain, fault_runs, targeted, verdicts};

use std::sync::Arc;

use acquirer_common::Env;
use plusbox_acquirer::{Fault, Timing};
use plusbox_core::catalogue::{Case, Catalogue, Outcome, Product};
use plusbox_runner::{Quiet, Runner, RunnerConfig};
use plusbox_runner_local::LocalPort;

const SCALE: u32 = 12;

/// Runs per (case, fault): the verdict must not depend on which message arrives first.
const REPEATS: usize = 2;

fn catalogue() -> Catalogue {
    plusbox_runner::embedded::catalogue().unwrap()
}

fn mpm(catalogue: &Catalogue) -> Vec<&Case> {
    catalogue.cases().filter(|c| c.product.suite() == "mpm").collect()
}

async fn env(faults: &[Fault]) -> Env {
    Env::start_compressed(faults, Timing::default(), SCALE).await
}

fn runner(env: &Env) -> Runner {
    // The buyer's actions go straight to the store: wake the notification worker at once.
    let port = LocalPort::new(env.sandbox.store(), env.sandbox.clock()).with_poke(env.sandbox.poker());
    let mut config = RunnerConfig::new(env.base_url.clone(), "buyer-1");
    // The merchant page of an entry code is HTTPS with a self-signed certificate.
    config.merchant_page_ca = Some(env.entry_ca_pem.clone());
    Runner::new(Arc::new(port), config).unwrap()
}

/// A rotation of the cases by the time (the order must not matter); printed for a replay.
fn rotated<'a>(cases: &[&'a Case]) -> Vec<&'a Case> {
    let seed = std::env::var("PLUSBOX_MATRIX_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u64);
    println!("case order seed: {seed} (replay with PLUSBOX_MATRIX_SEED={seed})");
    let mut out = cases.to_vec();
    if !out.is_empty() {
        let by = (seed % out.len() as u64) as usize;
        out.rotate_left(by);
        if seed & 1 == 1 {
            out.reverse();
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn correct_acquirer_passes_every_order_code_case_serial_and_parallel() {
    let catalogue = catalogue();
    let cases = mpm(&catalogue);
    assert!(cases.len() >= 20, "the MPM suite: {}", cases.len());
    assert!(
        cases.iter().filter(|c| c.product == Product::PrivateOrderCode).count() >= 10,
        "the private-order-code cases are in the MPM suite"
    );
    let env = env(&[]).await;
    let serial = runner(&env).run_all(&rotated(&cases), &Quiet).await;
    let accounts: Vec<String> = ["buyer-1", "buyer-2", "buyer-3", "buyer-4"].map(String::from).to_vec();
    let parallel = runner(&env).run_parallel(&rotated(&cases), &accounts, &Quiet).await;
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
        "MPM cases that did not pass against the correct acquirer:\n{}",
        failures.join("\n")
    );
    assert_eq!(serial.cases.len(), cases.len());
    assert_eq!(verdicts(&serial), verdicts(&parallel), "the verdicts depend on the order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fault_an_order_code_case_targets_fails_it_on_a_named_check() {
    let catalogue = catalogue();
    let pairs = targeted(mpm(&catalogue));
    // The new merchant-presented faults are each targeted here.
    for fault in [
        Fault::OmitUserAgent,
        Fault::OrderCodeNoCancel,
        Fault::OrderCodePollTooSlow,
        Fault::PocUnsignedAnswer,
        Fault::PocBadAnswerSignature,
        Fault::PocSlowAnswer,
        Fault::PocMissingAmount,
        Fault::EntryPageIgnoresUserAgent,
    ] {
        assert!(pairs.iter().any(|(_, f)| *f == fault), "no MPM case targets {fault}");
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
