//! A case that needs a capability the POS driver lacks (UPM-CAN-004 needs `PUT /clock`) is
//! reported SKIPPED with the reason: not run, not passed, and not failing the run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use plusbox_core::catalogue::Outcome;
use plusbox_runner::{Quiet, Report, Runner, RunnerConfig};
use plusbox_runner_local::LocalPort;
use plusbox_sandbox::{OffsetClock, Store, SystemClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A POS driver that knows no `/clock`: every request is answered 404 with a JSON error.
async fn driver_without_clock() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = vec![0u8; 4096];
            let n = socket.read(&mut buffer).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buffer[..n]).lines().next().unwrap_or_default().to_owned();
            log.lock().unwrap().push(head);
            let body = r#"{"code":"NOT_FOUND","message":"no such endpoint"}"#;
            let answer = format!(
                "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    (url, seen)
}

#[tokio::test]
async fn a_case_needing_the_acquirer_clock_is_skipped_on_a_driver_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    store.provision_if_empty(time::OffsetDateTime::now_utc(), "http://127.0.0.1:8787").unwrap();
    let clock = OffsetClock::new(Arc::new(SystemClock), Arc::clone(&store));
    let (url, seen) = driver_without_clock().await;
    let port = Arc::new(LocalPort::new(Arc::clone(&store), clock));
    let runner = Runner::new(port, RunnerConfig::new(url, "buyer-1")).unwrap();

    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let case = catalogue.get("UPM-CAN-004").unwrap();
    let report = runner.run_case(case, &Quiet).await;
    assert_eq!(report.verdict, Outcome::Skipped);
    assert!(report.checks.is_empty(), "nothing was judged: {:?}", report.checks);
    let why = &report.steps[0].note;
    assert!(why.contains("acquirer-clock") && why.contains("HTTP 404"), "{why}");
    // Asked about the clock, never charged anything.
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests, vec!["GET /clock HTTP/1.1".to_owned()]);

    let run = Report { cases: vec![report] };
    assert!(run.all_passed(), "a skipped case does not fail the run");
    assert_eq!(run.counts(), (0, 0, 0, 0), "and is not counted as passed");
    assert!(run.summary_table().contains("1 skipped (not run)"), "{}", run.summary_table());
    assert!(run.junit("upm").contains("<skipped message=\"not run\">"), "{}", run.junit("upm"));
}
