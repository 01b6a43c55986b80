//! Wire compatibility beyond our own code: a Python `cryptography` client signs the requests and
//! verifies the sandbox's response signatures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_cryptography_client_drives_pay_inquiry_refund() {
    let h = Harness::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("acqp.pem");
    std::fs::write(&key_path, h.acqp_key.to_pkcs8_pem().expose()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/independent_signer.py");
    let code = h.code("buyer-1");
    // The Python client stamps wall-clock epoch millis; the sandbox has no skew check by default.
    let output = tokio::process::Command::new("python3")
        .arg(script)
        .arg(h.sandbox.base_url())
        .arg(&h.client_id)
        .arg(&key_path)
        .arg(h.sandbox_public.to_base64())
        .arg(&code)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "python failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("pay, inquiryPayment, refund OK"));
    // Our side saw valid signatures in the Java-SDK style (epoch ms, no spaces).
    let inbound: Vec<_> = h.traffic().into_iter().filter(|t| t.direction == "inbound").collect();
    assert_eq!(inbound.len(), 3);
    assert!(inbound.iter().all(|t| t.signature == "valid"));
}
