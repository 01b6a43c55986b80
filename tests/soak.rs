//! A short soak through the binary (`plusbox bench soak`): a minute of pay, inquiry, refund and
//! notifications at a fixed rate keeps the WAL and memory bounded. Only bounds are asserted,
//! never latencies or durations (the full 30-minute figures are in the README).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_plusbox");

#[test]
fn a_minute_of_sustained_load_keeps_the_wal_and_memory_bounded() {
    let out = Command::new(BIN)
        .args(["bench", "soak", "--minutes", "1", "--rate", "100", "--interval-seconds", "10", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdict = &report["verdict"];
    let intervals = report["intervals"].as_array().unwrap();
    assert!(intervals.len() >= 5, "{report}");
    // Every interval ran real traffic and every pay was notified and acknowledged.
    assert!(intervals.iter().all(|i| i["notified"].as_u64().unwrap() > 0), "{report}");
    let max_wal = verdict["maxWalMb"].as_f64().unwrap();
    assert!(max_wal <= 64.0, "WAL reached {max_wal} MB: {report}");
    // Memory: SQLite's page caches (16 MiB per connection) fill during the first minutes, and a
    // machine too busy to keep the rate queues requests; neither may take the process past this.
    let (first, max) = (verdict["firstRssMb"].as_f64().unwrap(), verdict["maxRssMb"].as_f64().unwrap());
    assert!(first > 0.0 && max <= 512.0, "RSS {first} → max {max} MB: {report}");
}
