//! `plusbox run --device-dir DIR … --upload` (issue 14): a CI device linked with an invite link
//! runs a case as that device against the reference acquirer's POS driver, keeps the run in its
//! own results store and uploads it signed; the sandbox's collector holds it under the invite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;

use acquirer_common::Env;
use plusbox_acquirer::Timing;
use plusbox_sandbox::store::NewInvite;

fn plusbox(args: Vec<String>) -> tokio::task::JoinHandle<std::process::Output> {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_plusbox"))
            .args(args)
            .env_remove("PLUSBOX_TOKEN")
            .output()
            .unwrap()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_linked_ci_device_runs_a_case_and_uploads_it_signed() {
    let env = Env::start_compressed(&[], Timing::default(), 10).await;
    let store = env.sandbox.store();
    // The reference acquirer's POS sends referenceMerchantId M0001: the invite's MID.
    let new = NewInvite {
        merchant: "Reference shop".into(),
        mid: "M0001".into(),
        email: "ops@shop.example".into(),
        products: vec!["upm".into()],
        cases: vec!["UPM-PAY-001".into()],
    };
    let (invite, token) = store.create_invite(&new, time::OffsetDateTime::now_utc()).unwrap();
    let link = format!("{}/#invite={}", env.sandbox.base_url(), token.expose());
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("device").to_string_lossy().into_owned();
    let data = work.path().join("runs").to_string_lossy().into_owned();

    let linked = plusbox(vec!["device".into(), "link".into(), link, "--device-dir".into(), dir.clone()])
        .await
        .unwrap();
    assert!(linked.status.success(), "{}", String::from_utf8_lossy(&linked.stderr));
    let ran = plusbox(vec![
        "run".into(),
        "UPM-PAY-001".into(),
        "--device-dir".into(),
        dir.clone(),
        "--pos".into(),
        env.base_url.clone(),
        "--data".into(),
        data,
        "--upload".into(),
    ])
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&ran.stdout).into_owned();
    assert!(ran.status.success(), "{out}{}", String::from_utf8_lossy(&ran.stderr));
    assert!(out.contains("Upload: 1 uploaded, 0 waiting, 0 refused"), "{out}");

    let collected = store.collected().unwrap();
    assert_eq!(collected.len(), 1, "{collected:?}");
    assert_eq!(
        (collected[0].invite_id.as_str(), collected[0].case_id.as_str(), collected[0].verdict.as_str()),
        (invite.id.as_str(), "UPM-PAY-001", "PASS")
    );
    // The device's own queue says the same, and the stored run carries its checks and traffic.
    let status = plusbox(vec!["device".into(), "status".into(), "--device-dir".into(), dir, "--json".into()])
        .await
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!((&status["uploaded"], &status["waiting"]), (&serde_json::json!(1), &serde_json::json!(0)));
    env.stop().await;
}
