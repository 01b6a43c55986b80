//! Reconciliation files end to end (reconciliation.md §2): a day of payments, a refund and a
//! cancel through the real gateway; the 08:00 T+1 run makes the file by itself; the file holds
//! exactly the settled transactions and matches the wallet ledger to the minor unit; HTTP and a
//! real OpenSSH `sftp` client download the same bytes, and neither lets a stranger in or out of
//! the tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;

use base64::Engine as _;
use common::{eventually, pay_body, Harness};
use plusbox_core::recon::{self, TransactionType};
use plusbox_sandbox::store::StoredReconFile;
use serde_json::json;
use time::macros::{date, datetime};

async fn start() -> Harness {
    Harness::start_with(|mut c| {
        c.sftp = Some("127.0.0.1:0".parse().unwrap());
        c
    })
    .await
}

/// Pays `value` in `currency` from buyer-1; returns the paymentId.
async fn pay(h: &Harness, id: &str, currency: &str, value: &str, settle_in: Option<&str>) -> String {
    let mut body = pay_body(id, &h.code("buyer-1"), currency, value);
    if let Some(settle) = settle_in {
        body["settlementStrategy"] = json!({"settlementCurrency": settle});
    }
    let answer = h.call("pay", &body).await;
    assert_eq!(answer.code(), "SUCCESS", "{}", answer.raw);
    answer.body["paymentId"].as_str().unwrap().to_owned()
}

/// The day of 2025-03-10 (the harness clock starts at 10:00 UTC+8): three payments, one of them
/// cancelled, one converted to USD, a partial refund. Returns the files once the 08:00 run on
/// 2025-03-11 has made them.
async fn trading_day(h: &Harness) -> Vec<StoredReconFile> {
    let p1 = pay(h, "pay-hkd", "HKD", "50000", None).await;
    h.advance(60);
    pay(h, "pay-usd", "USD", "2500", None).await;
    h.advance(60);
    pay(h, "pay-cancel", "HKD", "1000", None).await;
    let cancel = h.call("cancelPayment", &json!({"paymentRequestId": "pay-cancel"})).await;
    assert_eq!(cancel.code(), "SUCCESS", "{}", cancel.raw);
    h.advance(60);
    pay(h, "pay-fx", "HKD", "7800", Some("USD")).await;
    h.advance(3600);
    let refund = h
        .call(
            "refund",
            &json!({"paymentRequestId": "pay-hkd", "paymentId": p1, "refundRequestId": "refund-1",
                    "refundAmount": {"currency": "HKD", "value": "10000"}}),
        )
        .await;
    assert_eq!(refund.code(), "SUCCESS", "{}", refund.raw);

    // Before the cycle ends, the day cannot be generated.
    let store = h.sandbox.store();
    let app = store.app().unwrap();
    let early = plusbox_sandbox::recon::generate(&store, &app, date!(2025 - 03 - 10), h.clock_now());
    assert!(matches!(early, Err(plusbox_sandbox::recon::GenerateError::NotPast { .. })), "{early:?}");
    assert!(!store.recon_generated(app.id, "20250310").unwrap());

    // 07:59 on T+1: not yet due. 08:00: the background run makes it.
    let now = h.clock_now();
    let until = datetime!(2025-03-11 07:59 +08:00) - now;
    h.advance(until.whole_seconds());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!store.recon_generated(app.id, "20250310").unwrap(), "not before 08:00 on T+1");
    h.advance(61);
    assert!(
        eventually(|| store.recon_generated(app.id, "20250310").unwrap()).await,
        "the 08:00 run made the file"
    );
    store.recon_files(app.id).unwrap()
}

#[tokio::test]
async fn the_days_file_holds_payments_and_refunds_not_the_cancel_and_matches_the_ledger() {
    let h = start().await;
    let files = trading_day(&h).await;
    let store = h.sandbox.store();
    let app = store.app().unwrap();
    let pid = &app.acquirer_id;
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            format!("transactionItems_{pid}_HKD_20250310001_AGRHKD_000.csv"),
            format!("transactionItems_{pid}_USD_20250310001_AGRUSD_000.csv"),
        ]
    );
    assert!(files
        .iter()
        .all(|f| f.path.starts_with(&format!("/sandbox/settlements/clearing/{pid}/20250311/"))));

    let read = |f: &StoredReconFile| store.recon_file(app.id, &f.generation_date, &f.name).unwrap().unwrap();
    let hkd = recon::parse(&read(&files[0])).unwrap();
    let usd = recon::parse(&read(&files[1])).unwrap();

    // HKD: the payment and its refund; the cancelled payment is absent.
    let kinds: Vec<(TransactionType, &str, i64)> = hkd
        .rows
        .iter()
        .map(|(_, r)| (r.transaction_type, r.transaction_request_id.as_str(), r.settlement_amount.value))
        .collect();
    assert_eq!(
        kinds,
        vec![(TransactionType::Payment, "pay-hkd", 50_000), (TransactionType::Refund, "refund-1", 10_000)]
    );
    assert_eq!((hkd.summary.total_count, hkd.summary.net_total_amount), (2, 40_000));
    let refund = &hkd.rows[1].1;
    assert_eq!(refund.original_transaction_request_id, "pay-hkd");
    assert_eq!(refund.original_transaction_id, hkd.rows[0].1.transaction_id);
    assert_eq!(refund.reference_merchant_id, "M0001");
    assert_eq!(refund.store_terminal_id, "T01");

    // USD: the USD payment as is, the HKD one converted at the fixed 0.128 with its quote.
    let usd_rows: Vec<(&str, i64, i64, Option<&str>)> = usd
        .rows
        .iter()
        .map(|(_, r)| {
            (
                r.transaction_request_id.as_str(),
                r.transaction_amount.value,
                r.settlement_amount.value,
                r.quote.as_ref().map(|q| q.price.as_str()),
            )
        })
        .collect();
    assert_eq!(usd_rows, vec![("pay-usd", 2_500, 2_500, None), ("pay-fx", 7_800, 998, Some("0.128"))]);
    assert_eq!(usd.summary.total_payment_amount, 3_498);

    // Every row matches the buyer's ledger to the minor unit, and the ledger's settled payments
    // and refunds of the day are all in the files.
    let ledger = store.history("buyer-1", 1000).unwrap();
    let mut net_by_reference: HashMap<String, (String, i64)> = HashMap::new();
    for entry in &ledger {
        if let Some(reference) = &entry.reference {
            let e = net_by_reference.entry(reference.clone()).or_insert((entry.currency.clone(), 0));
            e.1 += entry.delta.parse::<i64>().unwrap();
        }
    }
    let rows: Vec<_> = hkd.rows.iter().chain(usd.rows.iter()).map(|(_, r)| r).collect();
    for row in &rows {
        let (currency, net) = &net_by_reference[&row.transaction_id];
        assert_eq!(currency, row.transaction_amount.currency.code());
        let expected = match row.transaction_type {
            TransactionType::Payment => -row.transaction_amount.value,
            TransactionType::Refund => row.transaction_amount.value,
        };
        assert_eq!(*net, expected, "ledger of {}", row.transaction_id);
    }
    let settled_in_ledger =
        net_by_reference.iter().filter(|(r, (_, net))| *net != 0 && *r != "provisioning").count();
    assert_eq!(
        settled_in_ledger,
        rows.len(),
        "the cancelled payment nets to zero in the ledger and is absent"
    );

    // Regenerating gives byte-identical files.
    let before: Vec<Vec<u8>> = files.iter().map(read).collect();
    let again = plusbox_sandbox::recon::generate(&store, &app, date!(2025 - 03 - 10), h.clock_now()).unwrap();
    assert_eq!(again.iter().map(read).collect::<Vec<_>>(), before);
}

#[tokio::test]
async fn a_day_without_transactions_gets_the_documented_empty_file() {
    let h = start().await;
    h.advance(2 * 86_400);
    let store = h.sandbox.store();
    let app = store.app().unwrap();
    assert!(eventually(|| store.recon_generated(app.id, "20250311").unwrap()).await);
    let files = store.recon_files(app.id).unwrap();
    let empty = files.iter().find(|f| f.clearing_date == "20250311").unwrap();
    let text =
        String::from_utf8(store.recon_file(app.id, &empty.generation_date, &empty.name).unwrap().unwrap())
            .unwrap();
    let pid = &app.acquirer_id;
    assert_eq!(
        text,
        format!(
            "{}\n{pid},USD,20250311001,AGRUSD,20250311,0,0,0,0,0,0\n\n{}\n",
            recon::SUMMARY_HEADER.join(","),
            recon::DETAIL_HEADER.join(",")
        )
    );
}

#[tokio::test]
async fn http_download_needs_a_login_and_refuses_traversal() {
    let h = start().await;
    let files = trading_day(&h).await;
    let store = h.sandbox.store();
    let app = store.app().unwrap();
    let login = store.sftp_login(app.id).unwrap();
    let file = &files[0];
    let url =
        h.url(&format!("/app/v1/recon/files/{}/{}/{}", file.participant_id, file.generation_date, file.name));
    let expected = store.recon_file(app.id, &file.generation_date, &file.name).unwrap().unwrap();

    let basic = |user: &str, password: &str| {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
    };
    let get = |url: String, auth: Option<String>| {
        let mut request = h.http.get(url);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    // The SFTP login as HTTP Basic, and a device token, both download the exact bytes.
    let ok = get(url.clone(), Some(basic(&login.username, login.password.expose()))).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.bytes().await.unwrap().to_vec(), expected);
    let token = store.create_device("dashboard", h.clock_now()).unwrap();
    let ok = get(url.clone(), Some(format!("Bearer {}", token.expose()))).await.unwrap();
    assert_eq!(ok.bytes().await.unwrap().to_vec(), expected);
    let listed = get(h.url("/app/v1/recon/files"), Some(format!("Bearer {}", token.expose()))).await.unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.bytes().await.unwrap()).unwrap();
    assert_eq!(listed["files"].as_array().unwrap().len(), files.len());

    // No login, a wrong password: nothing.
    assert_eq!(get(url.clone(), None).await.unwrap().status(), 401);
    assert_eq!(get(url.clone(), Some(basic(&login.username, "wrong"))).await.unwrap().status(), 401);
    // Traversal in any segment is refused before any lookup.
    for bad in ["..%2F..%2Fplusbox.sqlite", "..", ".hidden", "a%2Fb.csv"] {
        let url =
            h.url(&format!("/app/v1/recon/files/{}/{}/{bad}", file.participant_id, file.generation_date));
        let answer = get(url, Some(basic(&login.username, login.password.expose()))).await.unwrap();
        assert!(answer.status() == 400 || answer.status() == 404, "{bad}: {}", answer.status());
        assert_ne!(answer.bytes().await.unwrap().to_vec(), expected);
    }
    let url = h.url(&format!(
        "/app/v1/recon/files/{}/..%2F{}/{}",
        file.participant_id, file.generation_date, file.name
    ));
    assert_eq!(get(url, Some(basic(&login.username, login.password.expose()))).await.unwrap().status(), 400);
}

/// Runs OpenSSH `sftp` against the sandbox with `password` (given through SSH_ASKPASS, as no
/// terminal is there to type it), the commands on stdin. Returns (success, stdout+stderr).
async fn sftp(
    h: &Harness,
    dir: &std::path::Path,
    user: &str,
    password: &str,
    commands: &str,
) -> (bool, String) {
    let askpass = dir.join("askpass.sh");
    std::fs::write(&askpass, format!("#!/bin/sh\nprintf '%s\\n' '{password}'\n")).unwrap();
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
    let addr = h.sandbox.sftp_addr().unwrap();
    let mut child = tokio::process::Command::new("sftp")
        .args([
            "-P",
            &addr.port().to_string(),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            &format!("UserKnownHostsFile={}", dir.join("known_hosts").display()),
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "NumberOfPasswordPrompts=1",
            "-o",
            "ConnectTimeout=10",
            &format!("{user}@{}", addr.ip()),
        ])
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncWriteExt as _;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(commands.as_bytes()).await.unwrap();
    drop(stdin);
    let output = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[tokio::test]
async fn a_real_sftp_client_downloads_the_days_file_read_only() {
    let h = start().await;
    let files = trading_day(&h).await;
    let store = h.sandbox.store();
    let app = store.app().unwrap();
    let login = store.sftp_login(app.id).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("downloaded.csv");
    let file = &files[0];

    let commands = format!(
        "ls -l /sandbox/settlements/clearing/{pid}/{day}\nget {path} {local}\nput {local} /sandbox/x.csv\nls /sandbox/settlements/clearing/1022000000000000\nget /sandbox/settlements/clearing/{pid}/../../../../../etc/passwd {dir}/passwd\n",
        pid = app.acquirer_id,
        day = file.generation_date,
        path = file.path,
        local = local.display(),
        dir = dir.path().display(),
    );
    let (_, output) = sftp(&h, dir.path(), &login.username, login.password.expose(), &commands).await;
    // The listing shows both files of the day, read-only.
    for f in &files {
        assert!(output.contains(&f.name), "listing has {}: {output}", f.name);
    }
    assert!(output.contains("-r--r--r--"), "{output}");
    // The download is the file as generated, and it matches the ledger (first test) byte for byte.
    let downloaded = std::fs::read(&local).unwrap();
    assert_eq!(downloaded, store.recon_file(app.id, &file.generation_date, &file.name).unwrap().unwrap());
    let report = recon::parse(&downloaded).unwrap();
    assert_eq!(report.summary.net_total_amount, 40_000);
    // Uploads, other applications' folders and traversal get nothing.
    assert!(output.contains("Permission denied"), "{output}");
    assert!(!dir.path().join("passwd").exists(), "traversal outside the tree");
    assert_eq!(store.recon_files(app.id).unwrap().len(), files.len(), "nothing was written");

    // A wrong password sees nothing at all.
    let local2 = dir.path().join("stolen.csv");
    let (ok, output) = sftp(
        &h,
        dir.path(),
        &login.username,
        "not-the-password",
        &format!("get {} {}\n", file.path, local2.display()),
    )
    .await;
    assert!(!ok, "{output}");
    assert!(!local2.exists());
    // Nor does a user that is no application.
    let (ok, _) = sftp(&h, dir.path(), "1022000000000000", login.password.expose(), "ls /\n").await;
    assert!(!ok);

    // The host key was made on first start and kept owner-only.
    let key = h.sandbox.store().path().parent().unwrap().join(plusbox_sandbox::sftp::HOST_KEY_FILE);
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
}

/// Makes an OpenSSH key pair with `ssh-keygen` (`kind`: ed25519, ecdsa, rsa; `bits` for the
/// latter two); returns the private key's path (the public key is beside it, `.pub`).
fn keygen(dir: &std::path::Path, name: &str, kind: &str, bits: Option<u32>) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut command = std::process::Command::new("ssh-keygen");
    command.args(["-q", "-t", kind, "-N", "", "-C", &format!("{name}@test"), "-f"]).arg(&path);
    if let Some(bits) = bits {
        command.args(["-b", &bits.to_string()]);
    }
    let status = command.status().unwrap();
    assert!(status.success(), "ssh-keygen -t {kind}");
    path
}

/// The key's SHA-256 fingerprint as `ssh-keygen -l` prints it.
fn openssh_fingerprint(public: &std::path::Path) -> String {
    let output = std::process::Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(public)
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap().split_whitespace().nth(1).unwrap().to_owned()
}

/// Runs OpenSSH `sftp` in batch mode (`-b`) logging in with the identity `key` only (no
/// password, no agent); `strict` pins the host key to what `known_hosts` already holds.
async fn sftp_key(
    addr: std::net::SocketAddr,
    dir: &std::path::Path,
    user: &str,
    key: &std::path::Path,
    batch: &str,
    strict: bool,
) -> (bool, String) {
    let batch_file = dir.join(format!("batch-{}", rand_suffix()));
    std::fs::write(&batch_file, batch).unwrap();
    let output = tokio::process::Command::new("sftp")
        .args(["-P", &addr.port().to_string(), "-b"])
        .arg(&batch_file)
        .arg("-i")
        .arg(key)
        .args([
            "-o",
            if strict { "StrictHostKeyChecking=yes" } else { "StrictHostKeyChecking=accept-new" },
            "-o",
            &format!("UserKnownHostsFile={}", dir.join("known_hosts").display()),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            "PreferredAuthentications=publickey",
            "-o",
            "PasswordAuthentication=no",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            &format!("{user}@{}", addr.ip()),
        ])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(30), output).await.unwrap().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test]
async fn key_login_takes_only_the_applications_own_keys_and_each_sees_only_its_own_tree() {
    let h = start().await;
    h.advance(2 * 86_400);
    let store = h.sandbox.store();
    let app = store.app().unwrap();
    assert!(eventually(|| store.recon_generated(app.id, "20250311").unwrap()).await);
    let file =
        store.recon_files(app.id).unwrap().into_iter().find(|f| f.clearing_date == "20250311").unwrap();
    let expected = store.recon_file(app.id, &file.generation_date, &file.name).unwrap().unwrap();
    let addr = h.sandbox.sftp_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();

    // The application registers three keys made by ssh-keygen, one of each kind.
    let ed25519 = keygen(dir.path(), "ed25519", "ed25519", None);
    let ecdsa = keygen(dir.path(), "ecdsa", "ecdsa", Some(384));
    let rsa = keygen(dir.path(), "rsa", "rsa", Some(2048));
    let stranger = keygen(dir.path(), "stranger", "ed25519", None);
    let other_key = keygen(dir.path(), "other", "ecdsa", Some(256));
    let pubs: String = [&ed25519, &ecdsa, &rsa]
        .iter()
        .map(|k| std::fs::read_to_string(k.with_extension("pub")).unwrap())
        .collect();
    let keys = plusbox_sandbox::sftp::parse_public_keys(&format!("# the ACQP's keys\n\n{pubs}")).unwrap();
    assert_eq!(
        keys.iter().map(|k| k.fingerprint.clone()).collect::<Vec<_>>(),
        [&ed25519, &ecdsa, &rsa].map(|k| openssh_fingerprint(&k.with_extension("pub"))).to_vec(),
        "fingerprints as ssh-keygen -l prints them"
    );
    assert_eq!(keys[0].comment, "ed25519@test");
    store.set_sftp_keys(app.id, &keys, h.clock_now()).unwrap();
    assert_eq!(store.sftp_keys(app.id).unwrap(), keys);

    // A second application with a key of its own.
    let other = store.create_app("other", h.clock_now()).unwrap();
    let theirs = plusbox_sandbox::sftp::parse_public_keys(
        &std::fs::read_to_string(other_key.with_extension("pub")).unwrap(),
    )
    .unwrap();
    store.set_sftp_keys(other.id, &theirs, h.clock_now()).unwrap();

    // Each of the application's keys logs in and downloads the day's file byte for byte.
    for (kind, key) in [("ed25519", &ed25519), ("ecdsa", &ecdsa), ("rsa", &rsa)] {
        let local = dir.path().join(format!("{kind}.csv"));
        let batch = format!(
            "ls -l {}\nget {} {}\n",
            file.path.rsplit_once('/').unwrap().0,
            file.path,
            local.display()
        );
        let (ok, output) = sftp_key(addr, dir.path(), &app.acquirer_id, key, &batch, false).await;
        assert!(ok, "{kind}: {output}");
        assert!(output.contains(&file.name), "{kind}: {output}");
        assert_eq!(std::fs::read(&local).unwrap(), expected, "{kind}");
    }

    // A key no application has, and another application's key under this user: refused.
    for (who, key) in [("stranger", &stranger), ("other application's", &other_key)] {
        let local = dir.path().join("stolen.csv");
        let batch = format!("get {} {}\n", file.path, local.display());
        let (ok, output) = sftp_key(addr, dir.path(), &app.acquirer_id, key, &batch, true).await;
        assert!(!ok, "{who} key logged in: {output}");
        assert!(output.contains("Permission denied"), "{who}: {output}");
        assert!(!local.exists(), "{who}");
    }
    // This application's key under the other application's user: refused too.
    let (ok, output) = sftp_key(addr, dir.path(), &other.acquirer_id, &ed25519, "ls /\n", true).await;
    assert!(!ok, "{output}");

    // The other application logs in with its own key and sees only its own folder.
    let (ok, output) = sftp_key(
        addr,
        dir.path(),
        &other.acquirer_id,
        &other_key,
        "ls /sandbox/settlements/clearing\n",
        true,
    )
    .await;
    assert!(ok, "{output}");
    assert!(output.contains(&other.acquirer_id) && !output.contains(&app.acquirer_id), "{output}");
    let (ok, output) = sftp_key(
        addr,
        dir.path(),
        &other.acquirer_id,
        &other_key,
        &format!("get {} {}/x.csv\n", file.path, dir.path().display()),
        true,
    )
    .await;
    assert!(!ok && !dir.path().join("x.csv").exists(), "another application's file: {output}");

    // Removing the keys ends key login.
    store.set_sftp_keys(app.id, &[], h.clock_now()).unwrap();
    let (ok, _) = sftp_key(addr, dir.path(), &app.acquirer_id, &ed25519, "ls /\n", true).await;
    assert!(!ok, "a removed key still logs in");
}

#[tokio::test]
async fn the_host_key_made_on_first_start_is_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let clients = tempfile::tempdir().unwrap();
    let key = keygen(clients.path(), "id", "ed25519", None);
    let keys = plusbox_sandbox::sftp::parse_public_keys(
        &std::fs::read_to_string(key.with_extension("pub")).unwrap(),
    )
    .unwrap();
    let start = || async {
        let config = plusbox_sandbox::SandboxConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap())
            .with_clock(std::sync::Arc::new(plusbox_sandbox::TestClock::new(common::start_time())));
        let mut config = config;
        config.sftp = Some("127.0.0.1:0".parse().unwrap());
        plusbox_sandbox::Sandbox::start(config).await.unwrap()
    };
    let first = start().await;
    let store = first.store();
    let app = store.app().unwrap();
    store.set_sftp_keys(app.id, &keys, common::start_time()).unwrap();
    let host_key = dir.path().join(plusbox_sandbox::sftp::HOST_KEY_FILE);
    let made = std::fs::read(&host_key).unwrap();
    // First contact records the host key in known_hosts.
    let (ok, output) =
        sftp_key(first.sftp_addr().unwrap(), clients.path(), &app.acquirer_id, &key, "ls /\n", false).await;
    assert!(ok, "{output}");
    let known = std::fs::read_to_string(clients.path().join("known_hosts")).unwrap();
    drop(store);
    first.shutdown().await;

    // After a restart the same key answers: OpenSSH with StrictHostKeyChecking=yes connects
    // (the port differs, so the known_hosts line is copied to it).
    let second = start().await;
    assert_eq!(std::fs::read(&host_key).unwrap(), made, "the host key file was kept");
    let addr = second.sftp_addr().unwrap();
    let line = known.lines().next().unwrap();
    let (_, rest) = line.split_once(' ').unwrap();
    std::fs::write(clients.path().join("known_hosts"), format!("[{}]:{} {rest}\n", addr.ip(), addr.port()))
        .unwrap();
    let (ok, output) = sftp_key(addr, clients.path(), &app.acquirer_id, &key, "ls /\n", true).await;
    assert!(ok, "the restarted server's host key is the known one: {output}");
    second.shutdown().await;
}

#[tokio::test]
async fn ageing_a_payment_into_a_made_day_drops_that_days_file_to_be_made_again_with_it() {
    let h = start().await;
    // 2025-03-11's file is made (empty) on 2025-03-12 at 08:00.
    h.advance(2 * 86_400);
    let store = h.sandbox.store();
    let app = store.app().unwrap();
    assert!(eventually(|| store.recon_generated(app.id, "20250311").unwrap()).await);
    // A sale today (2025-03-12), refunded in part, then aged a day: it now belongs to 2025-03-11.
    let paid = pay(&h, "pay-aged", "USD", "1234", None).await;
    // A second later: rows of the same second are ordered by their (random) ids.
    h.advance(1);
    let refund = h
        .call(
            "refund",
            &json!({"paymentRequestId": "pay-aged", "paymentId": paid, "refundRequestId": "refund-aged",
                    "refundAmount": {"currency": "USD", "value": "234"}}),
        )
        .await;
    assert_eq!(refund.code(), "SUCCESS", "{}", refund.raw);
    assert_eq!(store.age_payments(std::slice::from_ref(&paid), time::Duration::days(1)).unwrap(), 1);
    // The day's run (what the 08:00 worker does: make what is due and not made) makes it again,
    // now with the sale; had the stale file stayed, the run would have skipped the day.
    plusbox_sandbox::recon::generate_due(&store, h.clock_now()).unwrap();
    let files: Vec<_> =
        store.recon_files(app.id).unwrap().into_iter().filter(|f| f.clearing_date == "20250311").collect();
    let usd = files.iter().find(|f| f.currency == "USD").unwrap();
    let report =
        recon::parse(&store.recon_file(app.id, &usd.generation_date, &usd.name).unwrap().unwrap()).unwrap();
    let rows: Vec<(&str, i64)> = report
        .rows
        .iter()
        .map(|(_, r)| (r.transaction_request_id.as_str(), r.transaction_amount.value))
        .collect();
    assert_eq!(rows, vec![("pay-aged", 1234), ("refund-aged", 234)]);
    assert_eq!(report.summary.net_total_amount, 1000);
}
