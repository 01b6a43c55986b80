//! The catalogue matrix: every case against the reference acquirer. The correct acquirer must
//! PASS every case, in any order and with cases running in parallel; each fault switch a case
//! targets must FAIL it, naming the check that caught it, the same way every time; every fault
//! switch must be targeted by some case. Real sandbox and acquirer on ephemeral ports, wired
//! only over HTTP; the runner drives the acquirer's POS-driver API.
//!
//! Time is compressed, as users may compress it: the sandbox runs on a clock `SCALE` times faster
//! than the wall clock, and the acquirer on its own clock compressed the same way, with the
//! reference's own timing (8 s pay timeout, 60 s expiry, 2–10 s polls) in that time. The acquirer
//! never follows the sandbox's clock, and the runner never moves it: cases age their own objects
//! (a code issued already lapsed, a sale backdated behind the cancel window).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;
mod matrix_common;

use matrix_common::{assert_caught, explain, fault_runs, targeted, verdicts};

use acquirer_common::Env;
use plusbox_acquirer::{Fault, Timing};
use std::sync::Arc;

use plusbox_core::catalogue::{Case, Catalogue, Outcome, Product};
use plusbox_runner::{HttpPort, Quiet, Report, Runner, RunnerConfig};
use plusbox_runner_local::LocalPort;
use plusbox_sandbox::store::DeviceScope;

/// How much faster than the wall clock sandbox (and acquirer) time runs. 10× rather than the
/// benchmark's 20×: the tightest races then keep about 200 ms of real-time margin on a busy CI
/// machine.
const SCALE: u32 = 10;

/// How many times each fault is run against the case that targets it: the verdict must not
/// depend on which message arrives first.
const REPEATS: usize = 3;

fn catalogue() -> Catalogue {
    plusbox_runner::embedded::catalogue().unwrap()
}

async fn env(faults: &[Fault]) -> Env {
    Env::start_compressed(faults, Timing::default(), SCALE).await
}

/// How the runner reaches the sandbox: its store, or its test-control API with a device token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Store,
    Api,
}

fn runner(env: &Env) -> Runner {
    // The buyer's actions go straight to the store: wake the notification worker at once, as
    // the companion API does, instead of at its next re-read (5 s of compressed time).
    let port = LocalPort::new(env.sandbox.store(), env.sandbox.clock()).with_poke(env.sandbox.poker());
    Runner::new(Arc::new(port), RunnerConfig::new(env.base_url.clone(), "buyer-1")).unwrap()
}

/// A device token with `scope` (the owner's, unscoped, when default).
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

/// A runner over the sandbox's HTTP test-control API, as `plusbox run --sandbox URL --token T`.
async fn runner_over_api(env: &Env, pos_url: &str, token: &str, account: &str) -> Runner {
    let port = HttpPort::connect(env.sandbox.base_url(), token).await.unwrap();
    Runner::new(Arc::new(port), RunnerConfig::new(pos_url.to_owned(), account.to_owned())).unwrap()
}

async fn runner_via(env: &Env, via: Via) -> Runner {
    match via {
        Via::Store => runner(env),
        Via::Api => {
            let token = device(
                env,
                &format!("owner-{}", env.sandbox.store().devices().unwrap().len()),
                &DeviceScope::default(),
            );
            runner_over_api(env, &env.base_url, &token, "buyer-1").await
        }
    }
}

/// Runs cases the way `plusbox run` does: one after another, then the late-effects audit.
async fn run_all(env: &Env, cases: &[&Case], via: Via) -> Report {
    runner_via(env, via).await.run_all(cases, &Quiet).await
}

/// The seed of the random case order: `PLUSBOX_MATRIX_SEED` to replay one, else the time.
fn seed() -> u64 {
    std::env::var("PLUSBOX_MATRIX_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u64)
}

/// A Fisher–Yates shuffle driven by xorshift64* (a test order, not cryptography).
fn shuffled<'a>(cases: &[&'a Case], seed: u64) -> Vec<&'a Case> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut out = cases.to_vec();
    for i in (1..out.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        out.swap(i, j);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn correct_acquirer_passes_every_case_in_any_order_serial_and_parallel() {
    let catalogue = catalogue();
    // The order-code cases are proven at a higher time scale in catalogue_matrix_mpm.rs.
    let all: Vec<&Case> = catalogue.cases().filter(|c| c.product == Product::Upm).collect();
    let seed = seed();
    println!("case order seed: {seed} (replay with PLUSBOX_MATRIX_SEED={seed})");
    let env = env(&[]).await;

    // First pass: one case after another, in a random order.
    let first = shuffled(&all, seed);
    println!("serial order: {}", first.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(" "));
    let serial = run_all(&env, &first, Via::Store).await;
    // Second pass on the same sandbox: another order, up to four cases at once on separate buyers.
    let second = shuffled(&all, seed.rotate_left(17) ^ 0x9E37_79B9_7F4A_7C15);
    println!("parallel order: {}", second.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(" "));
    let accounts: Vec<String> = ["buyer-1", "buyer-2", "buyer-3", "buyer-4"].map(String::from).to_vec();
    // Over the test-control API (the owner's device, which may arrange every buyer): the same
    // verdicts as through the store.
    let parallel = runner_via(&env, Via::Api).await.run_parallel(&second, &accounts, &Quiet).await;
    // Nothing the runner did moved the sandbox's clock.
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
        "cases that did not pass against the correct acquirer (seed {seed}):\n{}",
        failures.join("\n")
    );
    assert_eq!(serial.cases.len(), all.len());
    assert_eq!(verdicts(&serial), verdicts(&parallel), "the verdicts depend on the order (seed {seed})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_targeted_fault_fails_its_case_the_same_way_every_time() {
    let catalogue = catalogue();
    let pairs: Vec<(&Case, Fault)> = targeted(catalogue.cases().filter(|c| c.product == Product::Upm))
        .into_iter()
        // `PLUSBOX_MATRIX_FAULT=name` runs one fault only (while working on it).
        .filter(|(_, fault)| std::env::var("PLUSBOX_MATRIX_FAULT").map_or(true, |only| only == fault.name()))
        .collect();
    // Each (case, fault) in its own sandbox and acquirer, three pairs at a time; every other
    // repeat over the test-control API: the same verdict either way.
    let outcomes = fault_runs(&pairs, REPEATS, 3, |case, fault, repeat| async move {
        let via = if repeat % 2 == 1 { Via::Api } else { Via::Store };
        let env = env(&[fault]).await;
        let mut report = run_all(&env, &[case], via).await;
        env.stop().await;
        report.cases.remove(0)
    })
    .await;
    assert_caught(&outcomes, None);
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

/// Drives `plusbox run --manual CASE --data DATA` with a scripted person: `stdin` is typed up
/// front (it is only read at confirmations, questions and photo prompts); when the payment code
/// appears, the "person" charges it at the POS at `pos`. Returns (exit ok, stdout).
fn guided(data: &std::path::Path, pos: &str, case: &str, amount: &str, stdin: &str) -> (bool, String) {
    use std::io::{BufRead, Write};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_plusbox"))
        .args(["run", "--manual", case, "--data"])
        .arg(data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let stdout = child.stdout.take().unwrap();
    let (codes, seen) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(at) = line.find("Payment code: ") {
                let _ = codes.send(line[at + "Payment code: ".len()..].trim().to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let code = seen.recv_timeout(std::time::Duration::from_secs(60)).unwrap();
    // The person at the POS: ring up the sale and scan the code.
    reqwest::blocking::Client::new()
        .post(format!("{pos}/charge"))
        .json(&serde_json::json!({"code": code, "amount": amount}))
        .send()
        .unwrap();
    let status = child.wait().unwrap();
    (status.success(), reader.join().unwrap())
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_run_guides_a_person_and_judges_their_answers() {
    let env = Env::start(&[], acquirer_common::fast_timing()).await;
    let data = env.sandbox.store().path().parent().unwrap().to_path_buf();
    let photo_dir = tempfile::tempdir().unwrap();
    let photo = photo_dir.path().join("receipt.jpg");
    std::fs::write(&photo, b"not really a jpeg").unwrap();
    let run = |script: String| {
        let (data, pos) = (data.clone(), env.base_url.clone());
        tokio::task::spawn_blocking(move || guided(&data, &pos, "UPM-PAY-001", "12.50 USD", &script))
    };

    // Enter at the confirmation step, "y" to the question, then the receipt photo.
    let (ok, out) = run(format!("\ny\n{}\n", photo.display())).await.unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("Step 1/2: Ring up 12.50 USD"), "{out}");
    assert!(out.contains("[PASS] pos-shows-success"), "{out}");
    assert!(out.contains("[PASS] receipt-photo"), "{out}");
    assert!(out.contains("[PASS] payment-success"), "{out}");
    let copied = files_under(&data.join("runs"));
    assert!(copied.iter().any(|p| p.ends_with("UPM-PAY-001-receipt-photo-1.jpg")), "{copied:?}");

    // "n": the person saw no success on the POS; the check that asked says so.
    let (ok, out) = run("\nn\n\n".to_owned()).await.unwrap();
    assert!(!ok);
    assert!(out.contains("[FAIL] pos-shows-success"), "{out}");

    // The person stops before answering: INCOMPLETE, not FAIL.
    let (ok, out) = run("\n".to_owned()).await.unwrap();
    assert!(!ok);
    assert!(out.contains("UPM-PAY-001: INCOMPLETE"), "{out}");
    env.stop().await;
}

/// One suite's cases and where its POS is.
struct Suite {
    merchant: &'static str,
    buyer: &'static str,
    pos: String,
    cases: &'static [&'static str],
}

async fn run_suite(env: &Env, suite: &Suite, catalogue: &Catalogue) -> Report {
    let token = device(
        env,
        &format!("{}-{}", suite.merchant, env.sandbox.store().devices().unwrap().len()),
        &DeviceScope {
            merchant: Some(suite.merchant.into()),
            account: Some(suite.buyer.into()),
            clock_control: false,
        },
    );
    let cases: Vec<&Case> = suite.cases.iter().map(|id| catalogue.get(id).unwrap()).collect();
    runner_over_api(env, &suite.pos, &token, suite.buyer).await.run_all(&cases, &Quiet).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_merchants_run_suites_at_once_on_one_sandbox_and_get_the_verdicts_they_get_alone() {
    let catalogue = catalogue();
    let env = env(&[]).await;
    // Merchant B's acquirer skips verifying the sandbox's signatures: its tamper case FAILs.
    let pos_b = env.add_acquirer("M-B", &[Fault::SkipResponseVerification], Timing::default(), SCALE).await;
    // Both suites carry mock rules (forced UNKNOWN_EXCEPTION, a tampered answer, a held
    // notification) scoped to their own buyer; each would break the other's cases if it leaked.
    let a = Suite {
        merchant: "M0001",
        buyer: "shop-a",
        pos: env.base_url.clone(),
        cases: &["UPM-INQ-001", "UPM-TMP-001", "UPM-PAY-001", "UPM-NTF-001"],
    };
    let b = Suite {
        merchant: "M-B",
        buyer: "shop-b",
        pos: pos_b,
        cases: &["UPM-UNK-002", "UPM-TMP-001", "UPM-PIN-001", "UPM-CAN-002"],
    };
    let alone_a = run_suite(&env, &a, &catalogue).await;
    let alone_b = run_suite(&env, &b, &catalogue).await;
    let (together_a, together_b) =
        tokio::join!(run_suite(&env, &a, &catalogue), run_suite(&env, &b, &catalogue));
    // Nobody's run moved the shared clock.
    let offset = env.sandbox.clock().offset();
    env.stop().await;

    for report in [&alone_a, &alone_b, &together_a, &together_b] {
        for case in &report.cases {
            println!("{}", explain(case));
        }
    }
    assert_eq!(offset, time::Duration::ZERO);
    assert!(alone_a.cases.iter().all(|c| c.verdict == Outcome::Pass), "merchant A's correct acquirer passes");
    let tamper_b = alone_b.cases.iter().find(|c| c.id == "UPM-TMP-001").unwrap();
    assert_eq!(tamper_b.verdict, Outcome::Fail, "merchant B's acquirer does not verify signatures");
    assert!(alone_b.cases.iter().filter(|c| c.id != "UPM-TMP-001").all(|c| c.verdict == Outcome::Pass));
    assert_eq!(verdicts(&together_a), verdicts(&alone_a), "merchant A's verdicts changed beside B's run");
    assert_eq!(verdicts(&together_b), verdicts(&alone_b), "merchant B's verdicts changed beside A's run");
}
