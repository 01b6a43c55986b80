//! The catalogue matrix: every case against the reference acquirer. The correct acquirer must
//! PASS every case; each fault switch a case targets must FAIL it, naming the check that caught
//! it; every fault switch must be targeted by some case. Real sandbox and acquirer on ephemeral
//! ports, wired only over HTTP; the runner drives the acquirer's POS-driver API.
//!
//! Time is compressed: the sandbox runs on a clock `SCALE` times faster than the wall clock and
//! the acquirer on the sandbox's time line, with the reference's own timing (8 s pay timeout,
//! 60 s expiry, 2–10 s polls) in sandbox time. Steps that jump the clock (the T+1 cancel window,
//! an expired code) move the sandbox clock through its store; the acquirer follows, as a real
//! ACQP's clock and Alipay+'s agree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;

use acquirer_common::Env;
use plusbox_acquirer::{Fault, Timing};
use plusbox_core::catalogue::{Case, Catalogue, Outcome};
use plusbox_runner::{CaseReport, Quiet, Runner, RunnerConfig};

/// How much faster than the wall clock sandbox time runs.
const SCALE: u32 = 20;

fn catalogue() -> Catalogue {
    plusbox_runner::embedded::catalogue().unwrap()
}

async fn env(faults: &[Fault]) -> Env {
    Env::start_compressed(faults, Timing::default(), SCALE).await
}

async fn run(env: &Env, case: &Case) -> CaseReport {
    let mut config = RunnerConfig::new(env.base_url.clone(), "buyer-1", env.sandbox.clock());
    // The buyer's actions go straight to the store: wake the notification worker at once, as
    // the companion API does, instead of at its next re-read (5 s of compressed time).
    config.poke = Some(env.sandbox.poker());
    let runner = Runner::new(env.sandbox.store(), config).unwrap();
    runner.run_case(case, &Quiet).await
}

fn explain(r: &CaseReport) -> String {
    let mut out = format!("{} {}: {} ({} ms)\n", r.id, r.title, r.verdict, r.duration_ms);
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
async fn correct_acquirer_passes_every_case() {
    let catalogue = catalogue();
    let env = env(&[]).await;
    let mut failures = Vec::new();
    for case in catalogue.cases() {
        let report = run(&env, case).await;
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
    for case in catalogue.cases() {
        for target in &case.targets {
            let fault =
                Fault::from_name(target).unwrap_or_else(|| panic!("{}: unknown fault {target}", case.id));
            let env = env(&[fault]).await;
            let report = run(&env, case).await;
            env.stop().await;
            println!("{}", explain(&report));
            let failed = report.failed().join(", ");
            table.push(format!("{target} | {} → {failed} | {}", case.id, report.verdict));
            if report.verdict != Outcome::Fail || failed.is_empty() {
                problems.push(format!("{target} was not caught by {}:\n{}", case.id, explain(&report)));
            }
        }
    }
    table.sort();
    println!("fault | case → failed checks | verdict\n{}", table.join("\n"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_fault_is_targeted_by_a_case() {
    let catalogue = catalogue();
    let gaps: Vec<&str> = Fault::ALL
        .iter()
        .map(|f| f.name())
        .filter(|name| !catalogue.cases().any(|c| c.targets.iter().any(|t| t == name)))
        .collect();
    assert!(gaps.is_empty(), "faults no case targets (gaps): {gaps:?}");
}

#[test]
fn bench_suite_reports_each_case_and_the_total() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_plusbox"))
        .args(["bench", "suite", "UPM-PAY-001", "UPM-CODE-001", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["scale"], 20);
    assert_eq!(report["passed"], 2);
    let ids: Vec<&str> =
        report["cases"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["UPM-PAY-001", "UPM-CODE-001"]);
    assert!(report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["durationMs"].is_u64() && c["verdict"] == "PASS"));
    assert!(report["totalMs"].is_u64());
}

#[test]
fn plusbox_run_works_from_any_directory_and_fails_fast_on_a_dead_pos() {
    let cwd = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_plusbox"))
            .current_dir(cwd.path())
            .args(["run", "--pos", &format!("http://127.0.0.1:{port}"), "--data"])
            .arg(data.path())
            .args(extra)
            .output()
            .unwrap()
    };
    // The built-in catalogue: no testcases/ directory needed; an unknown id is named.
    let out = run(&["UPM-NOPE-001"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no case UPM-NOPE-001"));
    // A known case against a POS that is down: one clear error, before any case runs.
    let out = run(&["UPM-PAY-001"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("POS-driver API is not reachable"), "{err}");
    assert!(!data.path().join("runs").exists());
    // --testcases overrides the built-in catalogue.
    let out = run(&["--testcases", "/nonexistent-plusbox-cases", "UPM-PAY-001"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nonexistent-plusbox-cases"));
}
