//! The TSP dashboard's server side against a real sandbox on an ephemeral port, wired as
//! `plusbox serve` wires it (the UI router, the embedded catalogue, the companion's diagram),
//! on a real SQLite file, with the admin password set by the real binary: every route needs a
//! login, wrong passwords are rate limited, the cookie's flags (Secure over TLS), the matrix's
//! latest-verdict and ready-for-UAT rules, the CSV's quoting and formula guard, traffic figures
//! against known traffic rows, photos with their media type, garbage ids, and live events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use plusbox_sandbox::store::{
    BundleOutcome, BundlePhoto, BundleRun, CollectedBundle, LinkOutcome, NewInvite, TrafficRecord,
};
use plusbox_sandbox::{Sandbox, SandboxConfig, Store, TestClock};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const BIN: &str = env!("CARGO_BIN_EXE_plusbox");
const PASSWORD: &str = "correct horse battery staple";
const START: OffsetDateTime = datetime!(2026-12-07 10:00:30 UTC);

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00,
    0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05,
    0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42,
    0x60, 0x82,
];

struct Harness {
    sandbox: Sandbox,
    clock: TestClock,
    http: Client,
    base: String,
    _dir: tempfile::TempDir,
}

/// Sets the admin password through the real binary (`--stdin`, as a script would).
fn set_password(data: &Path, password: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(["admin", "set-password", "--stdin", "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{password}").unwrap();
    }
    child.wait_with_output().unwrap()
}

async fn start(password: Option<&str>, tls: bool) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    if let Some(password) = password {
        let out = set_password(&data, password);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let clock = TestClock::new(START);
    let mut config =
        SandboxConfig::new(&data, "127.0.0.1:0".parse().unwrap()).with_clock(Arc::new(clock.clone()));
    config.poll_interval = StdDuration::from_millis(50);
    config.catalogue = Some(Arc::new(plusbox_runner::embedded::catalogue().unwrap()));
    config.diagram = Some(Arc::new(plusbox_companion::diagram::run_result_svg));
    let mut http = Client::builder().timeout(StdDuration::from_secs(20));
    if tls {
        let identity =
            plusbox_sandbox::TlsIdentity::load_or_create(&data, &["127.0.0.1".to_owned()]).unwrap();
        let pem = std::fs::read(&identity.cert_path).unwrap();
        http = http.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        config = config.with_tls(identity);
    }
    let config = config.with_routes(plusbox_ui::router());
    let sandbox = Sandbox::start(config).await.unwrap();
    let base = sandbox.base_url().to_owned();
    Harness { sandbox, clock, http: http.build().unwrap(), base, _dir: dir }
}

impl Harness {
    fn store(&self) -> Arc<Store> {
        self.sandbox.store()
    }

    fn now(&self) -> OffsetDateTime {
        plusbox_sandbox::Clock::now(&self.clock)
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Response {
        let mut request = self.http.get(format!("{}/dashboard/api/{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.unwrap()
    }

    async fn login(&self, password: &str) -> Response {
        self.http
            .post(format!("{}/dashboard/api/login", self.base))
            .json(&json!({"password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Logs in and returns the `name=value` cookie to send back.
    async fn cookie(&self) -> String {
        let response = self.login(PASSWORD).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let set = response.headers()["set-cookie"].to_str().unwrap().to_owned();
        set.split(';').next().unwrap().to_owned()
    }

    async fn json(&self, path: &str, cookie: &str) -> Value {
        let response = self.get(path, Some(cookie)).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.json().await.unwrap()
    }

    /// An invite with `cases`; linked when `link`.
    fn invite(&self, merchant: &str, mid: &str, cases: &[&str], link: bool) -> String {
        let store = self.store();
        let new = NewInvite {
            merchant: merchant.into(),
            mid: mid.into(),
            email: "it@example.com".into(),
            products: vec!["upm".into()],
            cases: cases.iter().map(|c| (*c).to_owned()).collect(),
        };
        let (invite, token) = store.create_invite(&new, self.now()).unwrap();
        if link {
            let outcome = store.link_invite(token.expose(), "till 1", None, self.now()).unwrap();
            assert!(matches!(outcome, LinkOutcome::Linked { .. }), "{outcome:?}");
        }
        invite.id
    }

    /// Stores a bundle of one run (with `photos`) ending `ended` minutes after the start.
    fn upload(
        &self,
        invite: &str,
        run: &str,
        case: &str,
        verdict: &str,
        ended: i64,
        photos: Vec<BundlePhoto>,
    ) {
        let store = self.store();
        let device: i64 = 1;
        let at = START + Duration::minutes(ended);
        let ms = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap();
        let body = json!({
            "summary": {"runId": run, "caseId": case, "title": case, "verdict": verdict},
            "diagramSvg": "<svg><script>alert('device')</script></svg>",
            "traffic": [
                {"id": 41, "at": "2026-12-07T18:00:30.000+08:00", "direction": "inbound", "api": "pay",
                 "resultStatus": "S", "resultCode": "SUCCESS", "status": 200}
            ],
            "photos": [],
        });
        let bundle = CollectedBundle {
            id: format!("bnd_{run}"),
            invite_id: invite.into(),
            device_id: device,
            sha256: format!("{:0>64}", run.len()),
            size: 100,
            runs: vec![BundleRun {
                id: run.into(),
                case_id: case.into(),
                verdict: verdict.into(),
                started_at: ms - 30_000,
                ended_at: Some(ms),
                body: body.to_string(),
                photos,
            }],
        };
        let outcome = store.store_bundle(&bundle, self.now()).unwrap();
        assert!(matches!(outcome, BundleOutcome::Stored(1)), "{outcome:?}");
    }
}

fn cookie_attributes(response: &Response) -> Vec<String> {
    response.headers()["set-cookie"].to_str().unwrap().split(';').map(|p| p.trim().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_route_needs_a_login() {
    let h = start(None, false).await;
    let session: Value = h.get("session", None).await.json().await.unwrap();
    assert_eq!(session, json!({"loggedIn": false, "passwordSet": false}));
    // No password yet: a login is refused with what to do.
    let refused = h.login(PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "NO_ADMIN_PASSWORD");
    assert!(body["message"].as_str().unwrap().contains("plusbox admin set-password"));
    for path in [
        "matrix",
        "runs",
        "runs?inviteId=x",
        "runs/run-1",
        "runs/run-1/diagram.svg",
        "photos/1",
        "export.csv",
        "traffic",
        "traffic?minutes=abc",
        "events",
        "no-such-route",
    ] {
        for cookie in [None, Some("plusbox_admin=pbxa_forged"), Some("other=1")] {
            let response = h.get(path, cookie).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path} {cookie:?}");
            assert_eq!(response.headers()["cache-control"], "no-store");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["code"], "LOGIN_REQUIRED", "{path}");
        }
    }
    // Logout without a session is harmless.
    let out = h.http.post(format!("{}/dashboard/api/logout", h.base)).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    h.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_are_limited_and_then_even_the_right_one_is_refused() {
    let h = start(Some(PASSWORD), false).await;
    for attempt in 0..5 {
        let response = h.login("not the password at all").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert!(response.headers().get("set-cookie").is_none());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "WRONG_PASSWORD");
    }
    let limited = h.login(PASSWORD).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().get("set-cookie").is_none(), "nothing logged in");
    let retry: i64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["code"], "TOO_MANY_ATTEMPTS");
    let session: Value = h.get("session", None).await.json().await.unwrap();
    assert_eq!(session, json!({"loggedIn": false, "passwordSet": true}));
    // Malformed bodies are refused by name and are not counted as guesses.
    let bad = h.http.post(format!("{}/dashboard/api/login", h.base)).body("{").send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    // Once the window has passed (real time for the admin: the test clock here), it opens again.
    h.clock.advance(Duration::minutes(16));
    assert_eq!(h.login(PASSWORD).await.status(), StatusCode::NO_CONTENT);
    h.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_login_bodies_are_refused_by_name_and_not_counted_as_guesses() {
    let h = start(Some(PASSWORD), false).await;
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        br#"{"password": 12345678901234}"#.to_vec(),
        br#"{"pass": "x"}"#.to_vec(),
        vec![0xFF, 0xFE, 0x00],
        format!(r#"{{"password": "{}"}}"#, "a".repeat(5000)).into_bytes(),
    ];
    for body in bodies {
        let response =
            h.http.post(format!("{}/dashboard/api/login", h.base)).body(body.clone()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{:?}", String::from_utf8_lossy(&body));
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "INVALID_ARGUMENT");
        assert!(
            error["message"].as_str().unwrap().contains("password")
                || error["message"].as_str().unwrap().contains("bytes")
        );
    }
    let wrong_method = h.get("login", None).await;
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.json::<Value>().await.unwrap()["code"], "METHOD_NOT_ALLOWED");
    // Eight refused bodies, more than the limit of wrong passwords: the right one still works.
    assert_eq!(h.login(PASSWORD).await.status(), StatusCode::NO_CONTENT);
    h.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_a_strict_http_only_cookie_and_logout_ends_the_session() {
    let h = start(Some(PASSWORD), false).await;
    let response = h.login(PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let attributes = cookie_attributes(&response);
    assert!(attributes[0].starts_with("plusbox_admin=pbxa_"), "{attributes:?}");
    assert!(attributes[0].len() > "plusbox_admin=pbxa_".len() + 40);
    for wanted in ["HttpOnly", "SameSite=Strict", "Path=/dashboard", "Max-Age=43200"] {
        assert!(attributes.iter().any(|a| a == wanted), "{wanted} in {attributes:?}");
    }
    assert!(!attributes.iter().any(|a| a == "Secure"), "plain HTTP: {attributes:?}");
    let cookie = attributes[0].clone();
    // The token is stored only as its hash (neither in the file nor in its write-ahead log).
    let token = cookie.trim_start_matches("plusbox_admin=");
    let path = h.store().path().to_owned();
    for file in [path.clone(), path.with_extension("sqlite-wal")] {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()), "{}", file.display());
    }
    let session: Value = h.get("session", Some(&cookie)).await.json().await.unwrap();
    assert_eq!(session["loggedIn"], true);
    assert_eq!(h.get("matrix", Some(&cookie)).await.status(), StatusCode::OK);
    let out = h
        .http
        .post(format!("{}/dashboard/api/logout", h.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(cookie_attributes(&out).iter().any(|a| a == "Max-Age=0"));
    assert_eq!(h.get("matrix", Some(&cookie)).await.status(), StatusCode::UNAUTHORIZED);
    // A session ends by itself after 12 hours.
    let cookie = h.cookie().await;
    h.clock.advance(Duration::hours(12));
    assert_eq!(h.get("matrix", Some(&cookie)).await.status(), StatusCode::UNAUTHORIZED);
    h.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_the_cookie_is_secure() {
    let h = start(Some(PASSWORD), true).await;
    assert!(h.base.starts_with("https://"));
    let response = h.login(PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(cookie_attributes(&response).iter().any(|a| a == "Secure"));
    h.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matrix_shows_the_latest_verdict_and_ready_for_uat_once_every_case_passed() {
    let h = start(Some(PASSWORD), false).await;
    let cookie = h.cookie().await;
    let ready = h.invite("Ready Mart", "M001", &["UPM-PAY-001", "UPM-REF-001"], true);
    let waiting = h.invite("Waiting Deli", "M002", &["UPM-PAY-001"], false);
    // Ready Mart: a FAIL, then a PASS of the same case (the PASS is later), and a PASS.
    h.upload(&ready, "run-a1", "UPM-PAY-001", "FAIL", 1, vec![]);
    h.upload(&ready, "run-a2", "UPM-PAY-001", "PASS", 2, vec![]);
    h.upload(&ready, "run-b1", "UPM-REF-001", "PASS", 3, vec![]);
    // Waiting Deli: a PASS, then a FAIL of the same case uploaded later but run earlier, and
    // a later FAIL.
    h.upload(&waiting, "run-w1", "UPM-PAY-001", "PASS", 4, vec![]);
    h.upload(&waiting, "run-w0", "UPM-PAY-001", "FAIL", 0, vec![]);
    let matrix = h.json("matrix", &cookie).await;
    let cases: Vec<&str> =
        matrix["cases"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(cases, ["UPM-PAY-001", "UPM-REF-001"]);
    assert_eq!(matrix["cases"][0]["product"], "upm");
    assert_eq!(matrix["cases"][0]["required"], true);
    assert!(!matrix["cases"][0]["title"].as_str().unwrap().is_empty());
    let rows = matrix["merchants"].as_array().unwrap();
    let row = |id: &str| rows.iter().find(|r| r["inviteId"] == id).unwrap().clone();
    let r = row(&ready);
    assert_eq!(r["status"], "Active");
    assert_eq!(r["cells"]["UPM-PAY-001"]["verdict"], "PASS");
    assert_eq!(r["cells"]["UPM-PAY-001"]["runId"], "run-a2");
    assert_eq!(r["cells"]["UPM-PAY-001"]["at"], "2026-12-07T10:02:30Z");
    assert_eq!((r["passed"].as_u64(), r["required"].as_u64()), (Some(2), Some(2)));
    assert_eq!(r["readyForUat"], true);
    assert!(r["lastUploadAt"].is_string());
    let w = row(&waiting);
    assert_eq!(w["status"], "Inactive");
    assert_eq!(w["cells"]["UPM-PAY-001"]["runId"], "run-w1", "latest by when it ran");
    assert_eq!(w["cells"]["UPM-REF-001"], Value::Null);
    assert_eq!(w["readyForUat"], true);
    h.upload(&waiting, "run-w2", "UPM-PAY-001", "FAIL", 5, vec![]);
    let matrix = h.json("matrix", &cookie).await;
    let w =
        matrix["merchants"].as_array().unwrap().iter().find(|r| r["inviteId"] == waiting).unwrap().clone();
    assert_eq!((w["passed"].as_u64(), w["readyForUat"].as_bool()), (Some(0), Some(false)));
    // An invite that names no cases is assigned every required case of its products.
    let all = h.invite("All Cases Ltd", "M003", &[], false);
    {
        let db = rusqlite::Connection::open(h.store().path()).unwrap();
        db.busy_timeout(StdDuration::from_secs(5)).unwrap();
        db.execute("UPDATE invite SET cases = NULL WHERE id = ?1", [&all]).unwrap();
    }
    let matrix = h.json("matrix", &cookie).await;
    let a = matrix["merchants"].as_array().unwrap().iter().find(|r| r["inviteId"] == all).unwrap().clone();
    let required_upm =
        plusbox_runner::embedded::catalogue().unwrap().suite("upm").filter(|c| c.required).count();
    assert_eq!(a["required"].as_u64(), Some(u64::try_from(required_upm).unwrap()));
    assert_eq!(a["readyForUat"], false);
    // Revoked shows as such; the runs list is newest first and filters.
    h.store().revoke_invite(&waiting, h.now()).unwrap();
    let matrix = h.json("matrix", &cookie).await;
    let w =
        matrix["merchants"].as_array().unwrap().iter().find(|r| r["inviteId"] == waiting).unwrap().clone();
    assert_eq!(w["status"], "Revoked");
    let runs = h.json(&format!("runs?inviteId={waiting}&caseId=UPM-PAY-001"), &cookie).await;
    let ids: Vec<&str> = runs.as_array().unwrap().iter().map(|r| r["runId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["run-w2", "run-w1", "run-w0"]);
    assert_eq!(runs[0]["merchant"], "Waiting Deli");
    assert_eq!(runs[0]["bundleId"], "bnd_run-w2");
    assert_eq!(h.json("runs", &cookie).await.as_array().unwrap().len(), 6);
    h.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_export_quotes_fields_and_guards_against_formulas() {
    let h = start(Some(PASSWORD), false).await;
    let cookie = h.cookie().await;
    let hostile =
        h.invite("=HYPERLINK(\"http://evil\",\"x\"), Inc", "+M1", &["UPM-PAY-001", "UPM-REF-001"], true);
    h.upload(&hostile, "-run1", "UPM-PAY-001", "PASS", 1, vec![]);
    let response = h.get("export.csv", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment; filename=\"plusbox-results-"), "{disposition}");
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        ["merchant", "mid", "status", "case", "required", "verdict", "run id", "at", "ready for UAT"]
    );
    let rows: Vec<Vec<String>> =
        reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    assert_eq!(rows.len(), 2, "one line per merchant × assigned case: {text}");
    assert_eq!(rows[0][0], "'=HYPERLINK(\"http://evil\",\"x\"), Inc");
    assert_eq!(rows[0][1], "'+M1");
    assert_eq!(rows[0][2], "Active");
    assert_eq!(rows[0][3], "UPM-PAY-001");
    assert_eq!(rows[0][4], "yes");
    assert_eq!(rows[0][5], "PASS");
    assert_eq!(rows[0][6], "'-run1");
    assert_eq!(rows[0][7], "2026-12-07T10:01:30Z");
    assert_eq!(rows[0][8], "no");
    assert_eq!(rows[1][3], "UPM-REF-001");
    assert_eq!(rows[1][5], "");
    // The raw text quotes the field with a comma and doubles its quotes.
    assert!(text.contains("\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\"), Inc\""), "{text}");
    h.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_figures_match_known_traffic_rows() {
    let h = start(Some(PASSWORD), false).await;
    let cookie = h.cookie().await;
    // The clock stands at 10:00:30; the window of 3 minutes is 09:58, 09:59 and 10:00.
    let rows = [
        (datetime!(2026-12-07 09:58:10 UTC), "inbound", 10.0, Some("S"), Some("SUCCESS"), Some(200)),
        (
            datetime!(2026-12-07 09:58:20 UTC),
            "inbound",
            30.0,
            Some("U"),
            Some("PAYMENT_IN_PROCESS"),
            Some(200),
        ),
        (datetime!(2026-12-07 10:00:01 UTC), "inbound", 20.0, Some("F"), Some("PARAM_ILLEGAL"), Some(200)),
        (datetime!(2026-12-07 10:00:02 UTC), "inbound", 200.0, None, None, None),
        // Not counted: outbound, before the window, after now.
        (datetime!(2026-12-07 10:00:03 UTC), "outbound", 5.0, Some("S"), Some("SUCCESS"), Some(200)),
        (datetime!(2026-12-07 09:57:59 UTC), "inbound", 1.0, Some("S"), Some("SUCCESS"), Some(200)),
        (datetime!(2026-12-07 10:00:31 UTC), "inbound", 1.0, Some("S"), Some("SUCCESS"), Some(200)),
    ];
    let store = h.store();
    for (at, direction, ms, status, code, http) in rows {
        store
            .record_traffic(&TrafficRecord {
                at: Some(at),
                direction,
                api: "pay".into(),
                method: "POST".into(),
                uri: "/aps/api/v1/payments/pay".into(),
                response_status: http,
                result_status: status.map(str::to_owned),
                result_code: code.map(str::to_owned),
                signature: "valid".into(),
                duration_ms: ms,
                ..TrafficRecord::default()
            })
            .unwrap();
    }
    let t = h.json("traffic?minutes=3", &cookie).await;
    assert_eq!(t["from"], "2026-12-07T09:58:00Z");
    assert_eq!(t["to"], "2026-12-07T10:00:30Z");
    assert_eq!(t["requests"], 4);
    assert_eq!(t["successRate"], 0.5);
    assert_eq!(t["p50Ms"], 20.0);
    assert_eq!(t["p99Ms"], 200.0);
    assert_eq!(
        t["resultCodes"],
        json!({"NO_ANSWER": 1, "PARAM_ILLEGAL": 1, "PAYMENT_IN_PROCESS": 1, "SUCCESS": 1})
    );
    let series = t["series"].as_array().unwrap();
    assert_eq!(series.len(), 3);
    assert_eq!(series[0]["at"], "2026-12-07T09:58:00Z");
    assert_eq!((series[0]["requests"].as_u64(), series[0]["success"].as_u64()), (Some(2), Some(2)));
    assert_eq!((series[0]["p50Ms"].as_f64(), series[0]["p99Ms"].as_f64()), (Some(10.0), Some(30.0)));
    assert_eq!(series[1]["requests"], 0);
    assert_eq!(series[1]["p50Ms"], Value::Null);
    assert_eq!(series[2]["resultCodes"], json!({"NO_ANSWER": 1, "PARAM_ILLEGAL": 1}));
    for bad in ["traffic?minutes=0", "traffic?minutes=1441", "traffic?minutes=ten"] {
        let response = h.get(bad, Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains("minutes"), "{body}");
    }
    h.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_shows_its_origin_photos_with_their_media_type_and_a_diagram_the_sandbox_drew() {
    let h = start(Some(PASSWORD), false).await;
    let cookie = h.cookie().await;
    let invite = h.invite("Photo Shop", "M009", &["UPM-PAY-001"], true);
    let photo = BundlePhoto { check: "receipt".into(), media_type: "image/png".into(), bytes: PNG.to_vec() };
    h.upload(&invite, "run-p1", "UPM-PAY-001", "PASS", 1, vec![photo]);
    let run = h.json("runs/run-p1", &cookie).await;
    assert_eq!(run["summary"]["runId"], "run-p1");
    assert_eq!((run["merchant"].as_str(), run["mid"].as_str()), (Some("Photo Shop"), Some("M009")));
    assert_eq!(run["inviteId"], invite.as_str());
    assert_eq!(run["bundleId"], "bnd_run-p1");
    let svg = run["diagramSvg"].as_str().unwrap();
    assert!(!svg.contains("<script"), "{svg}");
    assert!(svg.contains("pay → S SUCCESS"), "{svg}");
    let photos = run["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 1);
    assert_eq!(
        (photos[0]["check"].as_str(), photos[0]["mediaType"].as_str()),
        (Some("receipt"), Some("image/png"))
    );
    let url = photos[0]["url"].as_str().unwrap();
    let image = h.http.get(format!("{}{url}", h.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert_eq!(image.headers()["x-content-type-options"], "nosniff");
    assert_eq!(image.bytes().await.unwrap().as_ref(), PNG);
    let diagram = h.get("runs/run-p1/diagram.svg", Some(&cookie)).await;
    assert_eq!(diagram.headers()["content-type"], "image/svg+xml; charset=utf-8");
    assert!(diagram.text().await.unwrap().starts_with("<svg"));
    // Garbage and traversal: 404 with a JSON error, never a 500.
    for path in [
        "runs/nope",
        "runs/..%2F..%2Fetc%2Fpasswd",
        "runs/%FF%FE",
        "runs/nope/diagram.svg",
        "photos/abc",
        "photos/99999999999999999999999",
        "photos/-1",
        "photos/..%2F1",
        "nope/deeper/still",
    ] {
        let response = h.get(path, Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "NOT_FOUND", "{path}");
    }
    h.sandbox.shutdown().await;
}

/// Reads server-sent events until every wanted name was seen (or the bound runs out).
async fn read_events(response: &mut Response, wanted: &[&str]) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(20);
    while !wanted.iter().all(|w| text.contains(&format!("event: {w}\n"))) {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("events ended before {wanted:?}: {other:?}\n{text}"),
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_tells_of_new_results_invite_changes_and_each_minute() {
    let h = start(Some(PASSWORD), false).await;
    let cookie = h.cookie().await;
    let invite = h.invite("Live Cafe", "M010", &["UPM-PAY-001"], false);
    let mut events = h.get("events", Some(&cookie)).await;
    assert_eq!(events.status(), StatusCode::OK);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    // A device links (in another process, as the CLI would): the invite turns Active.
    {
        let db = rusqlite::Connection::open(h.store().path()).unwrap();
        db.busy_timeout(StdDuration::from_secs(5)).unwrap();
        db.execute("UPDATE invite SET linked_at = 1 WHERE id = ?1", [&invite]).unwrap();
    }
    h.upload(&invite, "run-live", "UPM-PAY-001", "PASS", 0, vec![]);
    h.clock.advance(Duration::minutes(1));
    let text = read_events(&mut events, &["invite", "results", "traffic"]).await;
    assert!(text.contains(&format!("\"inviteId\":\"{invite}\",\"status\":\"Active\"")), "{text}");
    assert!(text.contains("\"runIds\":[\"run-live\"]"), "{text}");
    assert!(text.contains("\"series\":["), "{text}");
    // Logging out ends the stream.
    let out = h
        .http
        .post(format!("{}/dashboard/api/logout", h.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, events.chunk()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) => break,
            other => panic!("the stream did not end after logout: {other:?}"),
        }
    }
    h.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_document_is_served_with_the_ui_headers() {
    let h = start(None, false).await;
    for path in ["/dashboard", "/dashboard/"] {
        let response = h.http.get(format!("{}{path}", h.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(response.headers()["cache-control"], "no-cache");
        assert_eq!(response.headers()["content-security-policy"], plusbox_ui::CSP);
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let html = response.text().await.unwrap();
        assert!(html.contains("<script type=\"module\""), "{html}");
        assert_ne!(
            Some(html.as_bytes()),
            plusbox_ui::file("/index.html").map(|(_, b)| b),
            "not the companion"
        );
    }
    h.sandbox.shutdown().await;
}

#[test]
fn set_password_refuses_a_short_password_and_names_the_minimum() {
    let dir = tempfile::tempdir().unwrap();
    let out = set_password(&dir.path().join("data"), "short");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at least 12 characters"), "{stderr}");
}

/// Runs `plusbox admin set-password` on a pseudo-terminal (util-linux `script`), typing `input`.
fn set_password_on_a_terminal(data: &Path, input: &str) -> std::process::Output {
    let command = format!("'{BIN}' admin set-password --data '{}'", data.display());
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs the command on a pseudo-terminal");
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

#[test]
fn set_password_asks_twice_on_the_terminal_and_keeps_only_an_argon2id_hash() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let differ = set_password_on_a_terminal(&data, &format!("{PASSWORD}\n{PASSWORD}!\n"));
    assert!(!differ.status.success());
    assert!(String::from_utf8_lossy(&differ.stdout).contains("the two passwords differ"), "{differ:?}");
    assert!(!data.exists(), "nothing was written");
    let out = set_password_on_a_terminal(&data, &format!("{PASSWORD}\n{PASSWORD}\n"));
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("Repeat it"), "{shown}");
    let hash = Store::open(&data).unwrap().admin_password_hash().unwrap().unwrap();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(!std::fs::read(data.join("plusbox.sqlite"))
        .unwrap()
        .windows(PASSWORD.len())
        .any(|w| w == PASSWORD.as_bytes()));
}
