//! A POS that is down: the probe says so, and a run stops at the first failed POS call instead
//! of waiting out every step.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use plusbox_core::catalogue::Outcome;
use plusbox_runner::{Quiet, Runner, RunnerConfig};
use plusbox_runner_local::LocalPort;
use plusbox_sandbox::{OffsetClock, Store, SystemClock};

/// A port nothing listens on: bind, note it, close.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn a_dead_pos_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    store.provision_if_empty(time::OffsetDateTime::now_utc(), "http://127.0.0.1:8787").unwrap();
    let clock = OffsetClock::new(Arc::new(SystemClock), Arc::clone(&store));
    let port = Arc::new(LocalPort::new(Arc::clone(&store), clock));
    let runner = Runner::new(port, RunnerConfig::new(dead_url(), "buyer-1")).unwrap();

    let probe = runner.check_pos().await.unwrap_err();
    assert!(probe.contains("not reachable"), "{probe}");

    // Without the probe, the case ends as ERROR after the first step, naming the POS failure.
    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let case = catalogue.get("UPM-REF-002").unwrap();
    let report = runner.run_case(case, &Quiet).await;
    assert_eq!(report.verdict, Outcome::Error);
    assert_eq!(report.steps.len(), 1, "{:?}", report.steps);
    assert!(report.steps[0].note.contains("the POS call failed"), "{}", report.steps[0].note);
    assert!(report.errors.iter().any(|e| e.contains("could not charge")), "{:?}", report.errors);
}
