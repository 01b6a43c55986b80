//! Invitations, signed uploads and the collector end to end (issue 14): a real sandbox on an
//! ephemeral port and its SQLite, the companion's commands and upload queue on a key-holding
//! test host, raw HTTP for the attacks, and Python's `cryptography` as an independent Ed25519
//! verifier of what the device signs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use plusbox_companion::commands::{handlers, CompanionEvent, Empty};
use plusbox_companion::device_key::DeviceKey;
use plusbox_companion::error::ErrorCode;
use plusbox_companion::host::Host;
use plusbox_companion::runs::Runs;
use plusbox_companion::upload::{self, LinkInviteArgs, UploadState};
use plusbox_core::secret::SecretString;
use plusbox_sandbox::store::{CollectorCounts, NewInvite, Store};
use plusbox_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

/// A companion host that keeps its token in memory and its key and results in a directory.
#[derive(Clone)]
struct KeyHost {
    url: String,
    dir: PathBuf,
    signs: bool,
    http: reqwest::Client,
    token: Arc<Mutex<Option<SecretString>>>,
    runs: Runs,
}

impl KeyHost {
    fn new(url: &str, dir: &Path, signs: bool) -> KeyHost {
        KeyHost {
            url: url.to_string(),
            dir: dir.to_path_buf(),
            signs,
            http: plusbox_companion::client::http_client().unwrap(),
            token: Arc::new(Mutex::new(None)),
            runs: Runs::open(Some(dir)).unwrap(),
        }
    }

    fn token(&self) -> String {
        self.token.lock().unwrap().as_ref().unwrap().expose().to_string()
    }
}

impl Host for KeyHost {
    fn sandbox_url(&self) -> String {
        self.url.clone()
    }
    fn http(&self) -> reqwest::Client {
        self.http.clone()
    }
    fn device_token(&self) -> Option<SecretString> {
        self.token.lock().unwrap().clone()
    }
    fn store_device_token(&self, token: Option<SecretString>) {
        *self.token.lock().unwrap() = token;
    }
    fn on_loopback(&self) -> bool {
        false
    }
    fn signs_uploads(&self) -> bool {
        self.signs
    }
    fn data_dir(&self) -> Option<PathBuf> {
        Some(self.dir.clone())
    }
    fn emit(&self, _event: CompanionEvent) {}
    fn runs(&self) -> Option<Runs> {
        Some(self.runs.clone())
    }
}

async fn start(data: &Path, listen: SocketAddr) -> Sandbox {
    Sandbox::start(SandboxConfig::new(data, listen)).await.unwrap()
}

fn invite(store: &Store, merchant: &str, mid: &str) -> (String, String) {
    let new = NewInvite {
        merchant: merchant.into(),
        mid: mid.into(),
        email: "ops@merchant.example".into(),
        products: vec!["upm".into()],
        cases: vec!["UPM-PAY-001".into(), "UPM-PIN-001".into()],
    };
    let (invite, token) = store.create_invite(&new, time::OffsetDateTime::now_utc()).unwrap();
    (invite.id, token.expose().to_string())
}

async fn link(host: &KeyHost, base: &str, token: &str) -> plusbox_companion::upload::LinkedInvite {
    let args =
        LinkInviteArgs { link: format!("{base}/#invite={token}"), device_name: Some("test phone".into()) };
    upload::link_invite(host.clone(), args).await.unwrap()
}

fn png() -> Vec<u8> {
    plusbox_companion::render::render_png(
        "receipt",
        plusbox_companion::render::Symbology::Qr,
        plusbox_companion::render::RenderSize::Phone,
    )
    .unwrap()
}

/// A finished run of `case` in the host's results store (judged on no traffic: what matters
/// here is that it travels whole), with a receipt photo.
fn finished_run(host: &KeyHost, device: i64, case_id: &str) -> String {
    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let case = catalogue.get(case_id).unwrap();
    let input = plusbox_core::catalogue::RunInput { finished: true, ..Default::default() };
    let verdict = plusbox_core::catalogue::evaluate(case, &input);
    let report = plusbox_runner::CaseReport::new(&verdict, 5, Vec::new(), input);
    let run_id = host.runs.record_finished(device, case, &report, "buyer", true).unwrap();
    host.runs.results().add_photo(&run_id, "receipt", "receipt.png", "image/png", &png(), "now").unwrap();
    run_id
}

fn counts(store: &Store) -> CollectorCounts {
    store.collector_counts().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_made_offline_upload_when_the_sandbox_comes_back_and_a_duplicate_is_stored_once() {
    let data = tempfile::tempdir().unwrap();
    let device_dir = tempfile::tempdir().unwrap();
    let sandbox = start(data.path(), "127.0.0.1:0".parse().unwrap()).await;
    let (base, addr) = (sandbox.base_url().to_string(), sandbox.local_addr());
    let (invite_id, token) = invite(&sandbox.store(), "Kopi Corner", "M123");

    let host = KeyHost::new(&base, device_dir.path(), true);
    let linked = link(&host, &base, &token).await;
    assert_eq!((linked.invite_id.as_str(), linked.mid.as_str()), (invite_id.as_str(), "M123"));
    let session = handlers::session(host.clone(), Empty {}).await.unwrap();
    assert_eq!(session.invite.as_ref().map(|i| i.invite_id.as_str()), Some(invite_id.as_str()));
    let device = session.device.unwrap().id;
    // The private key stays on the device, owner-only; the sandbox has only the public key.
    let key = DeviceKey::load(device_dir.path()).unwrap().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(DeviceKey::path(device_dir.path())).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let registered = sandbox.store().device_invite(device).unwrap().unwrap().1;
    assert_eq!(registered.as_deref(), Some(key.public_key_spki().as_str()));

    // The sandbox goes away; two runs finish meanwhile.
    sandbox.shutdown().await;
    let first = finished_run(&host, device, "UPM-PAY-001");
    let second = finished_run(&host, device, "UPM-PIN-001");
    for run_id in [&first, &second] {
        let record = host.runs.results().run(run_id).unwrap().unwrap();
        assert!(upload::enqueue(&host.runs.results(), &record, &linked, &key).unwrap());
        assert!(!upload::enqueue(&host.runs.results(), &record, &linked, &key).unwrap(), "queued once");
    }
    let client = host.client();
    upload::flush(&host.runs, &client, device, false).await.unwrap();
    let status = upload::upload_status(host.clone(), Empty {}).await.unwrap();
    assert_eq!((status.waiting, status.uploaded, status.failed), (2, 0, 0), "{status:?}");
    assert!(status.linked, "known offline from the device's own store");
    assert!(
        status.last_error.as_deref().is_some_and(|e| e.contains("cannot reach the sandbox")),
        "{status:?}"
    );
    assert!(status.next_attempt_at.is_some());
    let tried = status.items.iter().find(|i| i.attempts == 1).expect("one attempt made");
    assert_eq!(tried.state, UploadState::Waiting);

    // It comes back on the same address: the retry waits for its backoff, `upload_now` does not.
    let sandbox = start(data.path(), addr).await;
    upload::flush(&host.runs, &client, device, false).await.unwrap();
    assert_eq!(counts(&sandbox.store()).bundles, 0, "not due yet: the backoff holds the retry");
    let status = upload::upload_now(host.clone(), Empty {}).await.unwrap();
    assert_eq!((status.waiting, status.uploaded, status.failed), (0, 2, 0), "{status:?}");
    assert!(status.items.iter().all(|i| i.state == UploadState::Uploaded && i.uploaded_at.is_some()));
    let after = counts(&sandbox.store());
    assert_eq!((after.bundles, after.runs, after.photos), (2, 2, 2));
    let collected = sandbox.store().collected().unwrap();
    assert!(collected.iter().all(|r| r.mid == "M123" && r.invite_id == invite_id));

    // The same bundle again (its answer lost, say): stored:false, nothing new.
    let row = host.runs.results().uploads(device).unwrap().remove(0);
    let again = client.upload_bundle(row.body.clone(), &row.signature).await;
    assert_eq!(again, plusbox_companion::client::UploadAnswer::Stored { new: false });
    assert_eq!(counts(&sandbox.store()), after);

    // An independent verifier agrees with the signature: Python's `cryptography`.
    let work = tempfile::tempdir().unwrap();
    let der = base64::engine::general_purpose::STANDARD.decode(key.public_key_spki()).unwrap();
    std::fs::write(work.path().join("key.der"), der).unwrap();
    std::fs::write(work.path().join("body"), &row.body).unwrap();
    let signature = base64::engine::general_purpose::STANDARD.decode(&row.signature).unwrap();
    std::fs::write(work.path().join("sig"), signature).unwrap();
    let script = "import sys\n\
        from cryptography.hazmat.primitives.serialization import load_der_public_key\n\
        d = sys.argv[1]\n\
        key = load_der_public_key(open(d + '/key.der', 'rb').read())\n\
        key.verify(open(d + '/sig', 'rb').read(), open(d + '/body', 'rb').read())\n\
        try:\n    key.verify(open(d + '/sig', 'rb').read(), open(d + '/body', 'rb').read() + b' ')\n    print('tampered verified')\n\
        except Exception:\n    print('ok')\n";
    let out = std::process::Command::new("python3").arg("-c").arg(script).arg(work.path()).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok", "{}", String::from_utf8_lossy(&out.stderr));
    sandbox.shutdown().await;
}

/// A bundle as the companion makes it, by hand: one run of `case`, with these photos.
fn bundle(id: &str, invite: &str, mid: &str, run: &str, photos: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "bundleId": id,
        "inviteId": invite,
        "mid": mid,
        "runs": [{
            "result": {
                "summary": {"runId": run, "caseId": "UPM-PAY-001", "title": "t", "verdict": "PASS",
                            "startedAt": "2026-12-07T10:00:00+08:00", "finishedAt": "2026-12-07T10:01:00+08:00",
                            "durationMs": 60000, "posDriven": true},
                "proves": "p", "steps": [], "checks": [], "traffic": [], "diagramSvg": "", "photos": [],
                "answers": [], "errors": []
            },
            "photos": photos,
        }],
    }))
    .unwrap()
}

fn photo(bytes: &[u8]) -> Value {
    json!({"check": "receipt", "name": "r.png", "mediaType": "image/png",
           "data": base64::engine::general_purpose::STANDARD.encode(bytes)})
}

async fn post(base: &str, token: &str, body: Vec<u8>, signature: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/app/v1/results"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("Bundle-Signature", format!("algorithm=Ed25519, signature={signature}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Declares a body of `length` bytes and sends none of it: the collector must refuse it from the
/// header alone. The raw answer.
async fn oversized(addr: SocketAddr, token: &str, length: usize) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /app/v1/results HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nBundle-Signature: algorithm=Ed25519, signature=AAAA\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_attack_is_refused_with_its_code_and_writes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let sandbox = start(data.path(), "127.0.0.1:0".parse().unwrap()).await;
    let base = sandbox.base_url().to_string();
    let store = sandbox.store();
    let (a_invite, a_token) = invite(&store, "Kopi Corner", "M123");
    let (b_invite, b_token) = invite(&store, "Teh Tarik", "M456");
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = KeyHost::new(&base, a_dir.path(), true);
    let b = KeyHost::new(&base, b_dir.path(), true);
    link(&a, &base, &a_token).await;
    link(&b, &base, &b_token).await;
    let a_key = DeviceKey::load(a_dir.path()).unwrap().unwrap();
    let b_key = DeviceKey::load(b_dir.path()).unwrap().unwrap();

    // Linking refusals.
    let unknown = upload::link_invite(
        KeyHost::new(&base, tempfile::tempdir().unwrap().path(), true),
        LinkInviteArgs { link: format!("{base}/#invite=invite_NoSuchInviteToken0000"), device_name: None },
    )
    .await
    .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::InviteUnknown);
    let garbage = upload::link_invite(a.clone(), LinkInviteArgs { link: "hello".into(), device_name: None })
        .await
        .unwrap_err();
    assert_eq!(garbage.code, ErrorCode::InvalidArgument);

    let good = bundle("bnd_good0001", &a_invite, "M123", "run-good-1", vec![photo(&png())]);
    let good_sig = a_key.sign(&good);
    let empty = counts(&store);

    // A tampered bundle: one byte changed after signing.
    let mut tampered = good.clone();
    let at = tampered.windows(4).position(|w| w == b"PASS").unwrap();
    tampered[at..at + 4].copy_from_slice(b"FAIL");
    let (status, answer) = post(&base, &a.token(), tampered, Some(&good_sig)).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("BAD_SIGNATURE")), "{answer}");
    let (status, answer) = post(&base, &a.token(), good.clone(), None).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("BAD_SIGNATURE")), "{answer}");
    assert_eq!(counts(&store), empty);

    // The real one, then the same again: stored once.
    let (status, answer) = post(&base, &a.token(), good.clone(), Some(&good_sig)).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer, json!({"bundleId": "bnd_good0001", "runs": 1, "stored": true}));
    let stored = counts(&store);
    assert_eq!((stored.bundles, stored.runs, stored.photos), (1, 1, 1));
    let (status, answer) = post(&base, &a.token(), good.clone(), Some(&good_sig)).await;
    assert_eq!((status, &answer["stored"]), (200, &json!(false)), "{answer}");
    assert_eq!(counts(&store), stored);

    // A replayed bundle id with other content, properly signed.
    let other = bundle("bnd_good0001", &a_invite, "M123", "run-other-1", vec![]);
    let (status, answer) = post(&base, &a.token(), other.clone(), Some(&a_key.sign(&other))).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("BUNDLE_CONFLICT")), "{answer}");
    // Merchant A's bundle replayed with merchant B's token: B's key does not verify A's signature.
    let replay = bundle("bnd_replay01", &a_invite, "M123", "run-replay-1", vec![]);
    let (status, answer) = post(&base, &b.token(), replay.clone(), Some(&a_key.sign(&replay))).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("BAD_SIGNATURE")), "{answer}");
    // B's token and key for a bundle naming A's merchant.
    let (status, answer) = post(&base, &b.token(), replay.clone(), Some(&b_key.sign(&replay))).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("WRONG_MERCHANT")), "{answer}");
    let wrong_mid = bundle("bnd_wrongmid", &b_invite, "M123", "run-wrong-1", vec![]);
    let (status, answer) = post(&base, &b.token(), wrong_mid.clone(), Some(&b_key.sign(&wrong_mid))).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("WRONG_MERCHANT")), "{answer}");
    assert_eq!(counts(&store), stored);

    // Oversized: refused by its declared length before it is read.
    let answer =
        oversized(sandbox.local_addr(), &a.token(), plusbox_sandbox::collector::MAX_BUNDLE_BYTES + 1).await;
    assert!(answer.starts_with("HTTP/1.1 413") && answer.contains("TOO_LARGE"), "{answer}");
    // Malformed JSON and a missing field, properly signed: the error names what is wrong.
    let malformed = b"{\"bundleId\": \"bnd_x\", ".to_vec();
    let (status, answer) = post(&base, &a.token(), malformed.clone(), Some(&a_key.sign(&malformed))).await;
    assert_eq!((status, answer["code"].as_str()), (400, Some("INVALID_BUNDLE")), "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("not JSON"), "{answer}");
    let mut value: Value = serde_json::from_slice(&good).unwrap();
    value["bundleId"] = json!("bnd_nocase01");
    value["runs"][0]["result"]["summary"].as_object_mut().unwrap().remove("caseId");
    let missing = serde_json::to_vec(&value).unwrap();
    let (status, answer) = post(&base, &a.token(), missing.clone(), Some(&a_key.sign(&missing))).await;
    assert_eq!((status, answer["code"].as_str()), (400, Some("INVALID_BUNDLE")), "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("bundle.runs[0].result.summary.caseId"), "{answer}");
    // A photo that is not an image.
    let pdf =
        bundle("bnd_notimage", &a_invite, "M123", "run-pdf-1", vec![photo(b"%PDF-1.7 a receipt, honest")]);
    let (status, answer) = post(&base, &a.token(), pdf.clone(), Some(&a_key.sign(&pdf))).await;
    assert_eq!((status, answer["code"].as_str()), (400, Some("INVALID_IMAGE")), "{answer}");
    assert_eq!(counts(&store), stored);

    // A revoked invite: its device's uploads and new links are refused.
    store.revoke_invite(&a_invite, time::OffsetDateTime::now_utc()).unwrap();
    let late = bundle("bnd_late0001", &a_invite, "M123", "run-late-1", vec![]);
    let (status, answer) = post(&base, &a.token(), late.clone(), Some(&a_key.sign(&late))).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("INVITE_REVOKED")), "{answer}");
    let relink = upload::link_invite(
        KeyHost::new(&base, tempfile::tempdir().unwrap().path(), true),
        LinkInviteArgs { link: format!("{base}/#invite={a_token}"), device_name: None },
    )
    .await
    .unwrap_err();
    assert_eq!(relink.code, ErrorCode::InviteRevoked);
    assert_eq!(counts(&store), stored, "no refusal wrote anything");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_device_is_recorded_by_the_sandbox_and_cannot_upload_unsigned() {
    let data = tempfile::tempdir().unwrap();
    let sandbox = start(data.path(), "127.0.0.1:0".parse().unwrap()).await;
    let base = sandbox.base_url().to_string();
    let (invite_id, token) = invite(&sandbox.store(), "Kopi Corner", "M123");
    let dir = tempfile::tempdir().unwrap();
    let browser = KeyHost::new(&base, dir.path(), false);
    link(&browser, &base, &token).await;
    assert!(!DeviceKey::path(dir.path()).exists(), "a browser makes no key");
    let device = handlers::session(browser.clone(), Empty {}).await.unwrap().device.unwrap().id;
    assert_eq!(sandbox.store().device_invite(device).unwrap().unwrap().1, None);

    let run_id = finished_run(&browser, device, "UPM-PAY-001");
    let record = browser.runs.results().run(&run_id).unwrap().unwrap();
    let value = upload::run_value(&browser.runs.results(), &record).unwrap();
    let recorded = plusbox_sandbox::collector::record_browser_run(
        &sandbox.store(),
        device,
        value.clone(),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert_eq!(recorded, Some(upload::browser_bundle_id(&run_id)));
    let rows = sandbox.store().collected().unwrap();
    assert_eq!((rows.len(), rows[0].invite_id.as_str(), rows[0].photos), (1, invite_id.as_str(), 1));
    let status = upload::upload_status(browser.clone(), Empty {}).await.unwrap();
    assert_eq!((status.linked, status.uploaded, status.waiting), (true, 1, 0));

    let body = bundle("bnd_unsigned", &invite_id, "M123", "run-unsigned", vec![]);
    let (status, answer) = post(&base, &browser.token(), body, Some("AAAA")).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("BAD_SIGNATURE")), "{answer}");
    assert_eq!(counts(&sandbox.store()).bundles, 1);
    sandbox.shutdown().await;
}
