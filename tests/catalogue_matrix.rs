//! The catalogue matrix: every runnable case against the reference acquirer. The correct
//! acquirer must PASS; each fault switch a case targets must FAIL it, naming the check that caught
//! it. Real sandbox and acquirer on ephemeral ports, wired only over HTTP; the runner drives the
//! acquirer's POS-driver API.
//!
//! Cases that need what the sandbox cannot arrange yet (magic amounts, a tampered answer, a
//! movable clock) or that take minutes of wall-clock time are listed in `NOT_RUN` with the reason,
//! so the gap is visible.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;

use std::path::PathBuf;
use std::sync::Arc;

use acquirer_common::Env;
use plusbox_acquirer::{Fault, Timing};
use plusbox_core::catalogue::{Case, Catalogue, Outcome};
use plusbox_runner::{CaseReport, Quiet, Runner, RunnerConfig};

/// Cases not in the matrix yet, and why.
const NOT_RUN: &[(&str, &str)] = &[
    ("UPM-EXP-001", "needs magic amount 902 in the sandbox"),
    ("UPM-UNK-001", "needs magic amount 907 in the sandbox"),
    ("UPM-REF-004", "needs magic amount 912 in the sandbox"),
    ("UPM-TMP-001", "needs the sandbox to tamper with a signed answer"),
    ("UPM-CAN-002", "needs a clock shared by sandbox and acquirer that the runner can move"),
    ("UPM-CODE-001", "waits 61 s of wall-clock time without a movable clock"),
    ("UPM-TMO-001", "takes the full 60 s payment expiry plus pay timeouts in wall-clock time"),
];

fn catalogue() -> Catalogue {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testcases");
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    Catalogue::from_sources(files.iter().map(|(n, t)| (n.as_str(), t.as_str()))).unwrap()
}

fn runnable(catalogue: &Catalogue) -> Vec<Case> {
    catalogue.cases().filter(|c| !NOT_RUN.iter().any(|(id, _)| *id == c.id.as_str())).cloned().collect()
}

async fn run(env: &Env, case: &Case) -> CaseReport {
    let mut config =
        RunnerConfig::new(env.base_url.clone(), "buyer-1", Arc::new(plusbox_sandbox::SystemClock));
    // No poke: the sandbox worker re-reads the store every 250 ms on its own.
    let sandbox_store = env.sandbox.store();
    config.settle = time::Duration::milliseconds(500);
    let runner = Runner::new(sandbox_store, config).unwrap();
    runner.run_case(case, &Quiet).await
}

fn explain(r: &CaseReport) -> String {
    let mut out = format!("{} {}: {}\n", r.id, r.title, r.verdict);
    for c in &r.checks {
        out.push_str(&format!("  [{}] {}: {}\n", c.verdict, c.name, c.reason));
    }
    for s in &r.steps {
        out.push_str(&format!(
            "  step {}: {}{}\n",
            s.step,
            s.note,
            if s.timed_out { " (timed out)" } else { "" }
        ));
    }
    for e in &r.errors {
        out.push_str(&format!("  error: {e}\n"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn correct_acquirer_passes_every_runnable_case() {
    let catalogue = catalogue();
    let env = Env::start(&[], Timing::default()).await;
    let mut failures = Vec::new();
    for case in runnable(&catalogue) {
        let report = run(&env, &case).await;
        println!("{}", explain(&report));
        if report.verdict != Outcome::Pass {
            failures.push(explain(&report));
        }
    }
    env.stop().await;
    assert!(
        failures.is_empty(),
        "cases that did not pass against the correct acquirer:\n{}",
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_targeted_fault_fails_its_case() {
    let catalogue = catalogue();
    let mut problems = Vec::new();
    let mut table = Vec::new();
    for case in runnable(&catalogue) {
        for target in &case.targets {
            let fault =
                Fault::from_name(target).unwrap_or_else(|| panic!("{}: unknown fault {target}", case.id));
            let env = Env::start(&[fault], Timing::default()).await;
            let report = run(&env, &case).await;
            env.stop().await;
            println!("{}", explain(&report));
            let failed = report.failed().join(", ");
            table.push(format!("{} × {target}: {} ({failed})", case.id, report.verdict));
            if report.verdict != Outcome::Fail || failed.is_empty() {
                problems.push(format!("{target} was not caught:\n{}", explain(&report)));
            }
        }
    }
    println!("{}", table.join("\n"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn not_run_lists_real_cases() {
    let catalogue = catalogue();
    for (id, why) in NOT_RUN {
        assert!(catalogue.get(id).is_some(), "{id} ({why}) is not in the catalogue");
    }
}
