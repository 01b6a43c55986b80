//! Guided runs from the companion, through `/rpc` as a browser calls it, against a real sandbox
//! and the reference acquirer with its POS driver (time compressed ten times): UPM-PIN-001 shows
//! the PIN prompt, the person confirms with the wallet's own `confirm_payment`, and the run
//! passes with reasons and a diagram — and fails naming the check against `--fault no-inquiry`.
//! The stored input judged again gives the stored verdict, a headless run of the same case gives
//! the same checks, the exports parse, and bad input is refused with the run kept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use acquirer_common::Env;
use base64::Engine as _;
use plusbox_acquirer::{Fault, Timing};
use plusbox_companion::results::ResultsStore;
use plusbox_companion::rpc::Rpc;
use plusbox_core::catalogue::evaluate;
use plusbox_runner::{HttpPort, Quiet, Runner, RunnerConfig};
use serde_json::{json, Value};

const SCALE: u32 = 10;

/// A companion host (`/rpc`) on an ephemeral port over the env's sandbox, paired from loopback.
struct Companion {
    base: String,
    cookie: String,
    http: reqwest::Client,
    dir: tempfile::TempDir,
    _server: tokio::task::JoinHandle<()>,
}

impl Companion {
    async fn start(sandbox_url: &str, dir: tempfile::TempDir) -> Companion {
        let rpc = Rpc::new(false, Some(dir.path().to_owned())).unwrap();
        rpc.set_sandbox_url(sandbox_url);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = rpc.router().into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let http = reqwest::Client::new();
        let paired = http.post(format!("{base}/rpc/pair_loopback")).json(&json!({})).send().await.unwrap();
        let cookie = paired
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|v| v.starts_with("plusbox_device="))
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        Companion { base, cookie, http, dir, _server: server }
    }

    fn token(&self) -> &str {
        self.cookie.trim_start_matches("plusbox_device=")
    }

    async fn call(&self, command: &str, args: Value) -> Result<Value, (u16, String)> {
        let response = self
            .http
            .post(format!("{}/rpc/{command}", self.base))
            .header("cookie", &self.cookie)
            .json(&args)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        if status == 200 {
            Ok(body)
        } else {
            Err((status, format!("{}: {}", body["code"].as_str().unwrap(), body["message"])))
        }
    }

    async fn ok(&self, command: &str, args: Value) -> Value {
        self.call(command, args).await.unwrap_or_else(|e| panic!("{command}: {e:?}"))
    }

    /// Polls `run_active` until `want` holds (bounded: 60 s).
    async fn until(&self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..1200 {
            let view = self.ok("run_active", json!({})).await;
            if want(&view) {
                return view;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("never saw {what}");
    }

    /// Polls `run_view` until the run has left `running` (bounded: 60 s).
    async fn finished(&self, run_id: &str) -> Value {
        for _ in 0..1200 {
            let view = self.ok("run_view", json!({"runId": run_id})).await;
            if view["state"] != "running" {
                return view;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("run {run_id} never finished");
    }
}

/// Starts UPM-PIN-001 through the commands with the env's POS driver, waits for the PIN prompt,
/// confirms with PIN 1234 through `confirm_payment`, and returns the finished view.
async fn guided_pin_run(env: &Env, companion: &Companion) -> Value {
    let settings = companion.ok("set_run_settings", json!({"posUrl": format!("{}/", env.base_url)})).await;
    assert_eq!(settings["posUrl"], env.base_url.as_str(), "the URL is kept without its trailing slash");
    let view = companion.ok("run_start", json!({"caseIds": ["UPM-PIN-001"]})).await;
    assert_eq!((view["state"].as_str(), view["posDriven"].as_bool()), (Some("running"), Some(true)));
    assert_eq!(view["steps"].as_array().unwrap().len(), 3);
    let run_id = view["runId"].as_str().unwrap().to_owned();

    let prompted = companion.until("the PIN prompt", |v| v["prompt"]["kind"] == "pin").await;
    assert_eq!(prompted["runId"], run_id.as_str());
    assert_eq!(prompted["prompt"]["amount"]["value"], "1250");
    assert_eq!(prompted["steps"][2]["status"], "active", "{prompted}");
    assert!(
        prompted["live"].as_array().unwrap().iter().any(|e| e["api"] == "pay"),
        "the live list shows the pay: {prompted}"
    );
    let payment_id = prompted["prompt"]["paymentId"].as_str().unwrap().to_owned();
    let paid = companion.ok("confirm_payment", json!({"paymentId": payment_id, "pin": "1234"})).await;
    assert_eq!(paid["resultCode"], "SUCCESS");
    companion.finished(&run_id).await
}

fn check<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pin_001_from_the_companion_passes_after_the_person_confirms_and_agrees_with_plusbox_run() {
    let env = Env::start_compressed(&[], Timing::default(), SCALE).await;
    let companion = Companion::start(env.sandbox.base_url(), tempfile::tempdir().unwrap()).await;
    let done = guided_pin_run(&env, &companion).await;
    assert_eq!(
        (done["state"].as_str(), done["verdict"].as_str()),
        (Some("finished"), Some("PASS")),
        "{done}"
    );
    let run_id = done["runId"].as_str().unwrap().to_owned();

    let result = companion.ok("result", json!({"runId": run_id})).await;
    let paid = check(&result, "payment-success");
    assert_eq!(paid["verdict"], "PASS");
    let inquiry = check(&result, "inquiry-while-processing");
    assert_eq!(inquiry["verdict"], "PASS");
    let entries: Vec<i64> =
        inquiry["entries"].as_array().unwrap().iter().map(|e| e.as_i64().unwrap()).collect();
    assert!(!entries.is_empty());
    assert!(inquiry["reason"].as_str().unwrap().contains(&format!("#{}", entries[0])), "{inquiry}");
    let traffic = result["traffic"].as_array().unwrap();
    for id in &entries {
        assert!(traffic.iter().any(|t| t["id"] == *id), "reason entry #{id} is in the run's traffic");
    }
    let svg = result["diagramSvg"].as_str().unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("pay → U PAYMENT_IN_PROCESS"), "{svg}");
    assert!(svg.contains("PIN prompt for") && svg.contains("the buyer answered"), "the wallet lane is drawn");
    assert!(result["steps"].as_array().unwrap().iter().all(|s| s["status"] == "done"), "{}", result["steps"]);

    // One engine: the stored input judged again gives the stored verdict …
    let store = ResultsStore::open(&companion.dir.path().join("results.sqlite")).unwrap();
    let record = store.run(&run_id).unwrap().unwrap();
    let stored = plusbox_companion::runs::report_of(&record).unwrap();
    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    let case = catalogue.get("UPM-PIN-001").unwrap();
    let again = evaluate(case, &stored.run);
    assert_eq!(again.verdict, stored.verdict);
    assert_eq!(again.checks.len(), stored.checks.len());
    // … and `plusbox run` of the case against the same acquirer judges every check alike.
    let port = HttpPort::connect(env.sandbox.base_url(), companion.token()).await.unwrap();
    let runner = Runner::new(Arc::new(port), RunnerConfig::new(env.base_url.clone(), "buyer-1")).unwrap();
    let headless = runner.run_case(case, &Quiet).await;
    let outcomes = |checks: &[plusbox_runner::CheckReport]| -> Vec<(String, String)> {
        checks.iter().map(|c| (c.name.clone(), c.verdict.as_str().to_owned())).collect()
    };
    assert_eq!(outcomes(&headless.checks), outcomes(&stored.checks));
    println!(
        "UPM-PIN-001 at 10x: guided from the companion {} ms (person answers at once), headless {} ms",
        record.duration_ms.unwrap_or_default(),
        headless.duration_ms
    );

    // Exports: JSON through serde, JUnit through an XML parser, HTML self-contained.
    let json_file = companion.ok("export_results", json!({"runIds": [run_id], "format": "json"})).await;
    let exported: Value = serde_json::from_str(json_file["content"].as_str().unwrap()).unwrap();
    assert_eq!(exported["runs"][0]["summary"]["verdict"], "PASS");
    assert_eq!(exported["report"]["cases"][0]["id"], "UPM-PIN-001");
    let junit = companion.ok("export_results", json!({"runIds": [], "format": "junit"})).await;
    let xml = junit["content"].as_str().unwrap();
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut testcases = 0;
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) if e.name().0 == "testcase" => testcases += 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(testcases, 1);
    assert!(xml.contains("failures=\"0\" errors=\"0\""), "{xml}");
    let html = companion.ok("export_results", json!({"runIds": [run_id], "format": "html"})).await;
    let page = html["content"].as_str().unwrap();
    assert!(page.contains("<svg") && page.contains("pay → U PAYMENT_IN_PROCESS"));
    for external in ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "<script", "<link", "url(http"] {
        assert!(!page.contains(external), "the report references {external}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pin_001_against_an_acquirer_that_never_inquires_fails_naming_the_check() {
    let env = Env::start_compressed(&[Fault::NoInquiry], Timing::default(), SCALE).await;
    let companion = Companion::start(env.sandbox.base_url(), tempfile::tempdir().unwrap()).await;
    let done = guided_pin_run(&env, &companion).await;
    assert_eq!(done["verdict"], "FAIL", "{done}");
    let result = companion.ok("result", json!({"runId": done["runId"]})).await;
    let inquiry = check(&result, "inquiry-while-processing");
    assert_eq!(inquiry["verdict"], "FAIL", "{inquiry}");
    assert!(inquiry["reason"].as_str().unwrap().contains("inquiryPayment"), "{inquiry}");
    let summaries = companion.ok("results", json!({"verdict": "FAIL"})).await;
    assert_eq!(summaries.as_array().unwrap().len(), 1);
    let cases = companion.ok("test_cases", json!({})).await;
    let pin = cases.as_array().unwrap().iter().find(|c| c["id"] == "UPM-PIN-001").unwrap();
    assert_eq!((pin["lastVerdict"].as_str(), pin["required"].as_bool()), (Some("FAIL"), Some(true)));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_refused_by_name_and_a_cancelled_run_keeps_what_it_recorded() {
    let env = Env::start_compressed(&[], Timing::default(), SCALE).await;
    let companion = Companion::start(env.sandbox.base_url(), tempfile::tempdir().unwrap()).await;
    let code =
        |e: Result<Value, (u16, String)>| e.err().map(|(s, m)| (s, m.split(':').next().unwrap().to_owned()));
    assert_eq!(
        code(companion.call("run_start", json!({"caseIds": ["UPM-NOPE-999"]})).await),
        Some((404, "UNKNOWN_CASE".into()))
    );
    assert_eq!(
        code(companion.call("set_run_settings", json!({"posUrl": "ftp://pos"})).await),
        Some((400, "BAD_REQUEST".into()))
    );
    companion.ok("set_run_settings", json!({"posUrl": env.base_url})).await;
    let view = companion.ok("run_start", json!({"caseIds": ["UPM-PIN-001", "UPM-PAY-001"]})).await;
    assert_eq!(view["queue"], json!(["UPM-PAY-001"]));
    let run_id = view["runId"].as_str().unwrap().to_owned();
    assert_eq!(
        code(companion.call("run_start", json!({"caseIds": ["UPM-PAY-001"]})).await),
        Some((409, "RUN_ACTIVE".into()))
    );
    // Photos: not an image, too large — refused before anything is kept.
    let text = base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.7 a receipt");
    let args = json!({"runId": run_id, "check": "receipt", "image": text});
    assert_eq!(code(companion.call("run_photo", args).await), Some((400, "BAD_IMAGE".into())));
    let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 11 * 1024 * 1024]);
    let args = json!({"runId": run_id, "check": "receipt", "image": big});
    assert_eq!(code(companion.call("run_photo", args).await), Some((413, "IMAGE_TOO_LARGE".into())));

    companion.until("the PIN prompt", |v| v["prompt"]["kind"] == "pin").await;
    let cancelled = companion.ok("run_cancel", json!({"runId": run_id})).await;
    assert_eq!(
        (cancelled["state"].as_str(), cancelled["verdict"].as_str()),
        (Some("cancelled"), Some("INCOMPLETE"))
    );
    assert_eq!(cancelled["steps"][0]["status"], "done", "the steps taken are kept: {cancelled}");
    assert!(companion.ok("run_active", json!({})).await.is_null(), "the queued case does not run");
    let listed = companion.ok("results", json!({})).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // The buyer is free again: a new run starts.
    let next = companion.ok("run_start", json!({"caseIds": ["UPM-PIN-001"]})).await;
    companion.ok("run_cancel", json!({"runId": next["runId"]})).await;
    assert_eq!(
        code(companion.call("result", json!({"runId": "run-unknown"})).await),
        Some((404, "NOT_FOUND".into()))
    );

    // A buyer held by a run elsewhere (another device, `plusbox run`) is refused at once, naming it.
    let store = env.sandbox.store();
    store.ensure_buyer_like("shop-x", "buyer-1", time::OffsetDateTime::now_utc()).unwrap();
    let other = store.create_device("cli", time::OffsetDateTime::now_utc()).unwrap();
    let held = companion
        .http
        .post(format!("{}/app/v1/test/runs", env.sandbox.base_url()))
        .header("authorization", format!("Bearer {}", other.expose()))
        .body(r#"{"account":"shop-x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), 201);
    let busy = companion.call("run_start", json!({"caseIds": ["UPM-PAY-001"], "accountId": "shop-x"})).await;
    let (status, message) = busy.unwrap_err();
    assert_eq!(status, 409);
    assert!(message.starts_with("RUN_ACTIVE") && message.contains("shop-x"), "{message}");

    // A phone paired with a link from `plusbox app pair --cases UPM-PAY-001` may run only that.
    let ticket = store.create_pairing("shop phone", time::OffsetDateTime::now_utc()).unwrap();
    store.set_pairing_cases(ticket.link_token.expose(), &["UPM-PAY-001".to_owned()]).unwrap();
    let mut phone = Companion { cookie: String::new(), ..companion };
    let paired = phone
        .http
        .post(format!("{}/rpc/pair_with_code", phone.base))
        .json(&json!({"code": ticket.link_token.expose()}))
        .send()
        .await
        .unwrap();
    phone.cookie = paired.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let refused = phone.call("run_start", json!({"caseIds": ["UPM-PIN-001"]})).await;
    let (status, message) = refused.unwrap_err();
    assert_eq!(status, 403);
    assert!(message.starts_with("CASE_NOT_ASSIGNED") && message.contains("UPM-PAY-001"), "{message}");
    assert!(
        phone.ok("results", json!({})).await.as_array().unwrap().is_empty(),
        "another device's runs stay its own"
    );
    env.stop().await;
}

/// `plusbox serve` on an ephemeral port over `dir/sb`; its companion URL.
fn serve(dir: &std::path::Path) -> (std::process::Child, String) {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_plusbox"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data", "sb"])
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut ui = None;
    while reader.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.strip_prefix("Companion UI:") {
            ui = rest.split_whitespace().next().map(|u| u.trim_end_matches('/').to_owned());
            break;
        }
        line.clear();
    }
    std::thread::spawn(move || for _ in reader.lines() {});
    (child, ui.expect("serve printed the companion UI URL"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_whose_host_is_killed_mid_run_is_incomplete_after_restart_with_its_steps() {
    // A POS driver that takes the charge and never answers: the run waits in step 1.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let pos = format!("http://{}", listener.local_addr().unwrap());
    let (charged, mut charge_seen) = tokio::sync::mpsc::channel::<()>(4);
    let app = axum::Router::new().fallback(move || {
        let charged = charged.clone();
        async move {
            let _ = charged.send(()).await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "never"
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = serve(dir.path());
    let http = reqwest::Client::new();
    let paired = http.post(format!("{base}/rpc/pair_loopback")).json(&json!({})).send().await.unwrap();
    let cookie = paired
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("plusbox_device="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let call = |base: String, command: &'static str, args: Value| {
        let (http, cookie) = (http.clone(), cookie.clone());
        async move {
            let response = http
                .post(format!("{base}/rpc/{command}"))
                .header("cookie", cookie)
                .json(&args)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{command}");
            response.json::<Value>().await.unwrap()
        }
    };
    call(base.clone(), "set_run_settings", json!({"posUrl": pos})).await;
    let view = call(base.clone(), "run_start", json!({"caseIds": ["UPM-PAY-001"]})).await;
    let run_id = view["runId"].as_str().unwrap().to_owned();
    tokio::time::timeout(Duration::from_secs(30), charge_seen.recv()).await.unwrap();
    let active = call(base.clone(), "run_active", json!({})).await;
    assert_eq!(active["steps"][0]["status"], "active", "{active}");
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut again, base) = serve(dir.path());
    let listed = call(base.clone(), "results", json!({})).await;
    assert_eq!(listed[0]["runId"], run_id.as_str());
    assert_eq!(listed[0]["verdict"], "INCOMPLETE", "{listed}");
    let result = call(base.clone(), "result", json!({"runId": run_id})).await;
    assert_eq!(result["summary"]["verdict"], "INCOMPLETE");
    assert_eq!(result["steps"][0]["status"], "active", "the step it was in is kept: {}", result["steps"]);
    assert!(result["errors"][0].as_str().unwrap().contains("stopped while this run was running"));
    assert!(call(base.clone(), "run_active", json!({})).await.is_null());
    again.kill().unwrap();
    again.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_a_real_pos_the_person_presents_the_code_answers_and_attaches_the_receipt_photo() {
    let env = Env::start_compressed(&[], Timing::default(), SCALE).await;
    let companion = Companion::start(env.sandbox.base_url(), tempfile::tempdir().unwrap()).await;
    assert_eq!(companion.ok("run_settings", json!({})).await["posUrl"], Value::Null);
    let view = companion.ok("run_start", json!({"caseIds": ["UPM-PAY-001"]})).await;
    assert_eq!(view["posDriven"], false);
    let run_id = view["runId"].as_str().unwrap().to_owned();

    // The companion shows the code; the cashier scans it at the POS (here: the acquirer's charge).
    let shown = companion.until("the payment code", |v| v["prompt"]["kind"] == "showCode").await;
    let code = shown["prompt"]["code"].as_str().unwrap().to_owned();
    assert!(shown["prompt"]["qrSvg"].as_str().unwrap().starts_with("<svg"));
    let sale = env.charge(&code, "12.50 USD").await;
    assert_eq!(sale.state.as_str(), "SUCCESS");
    companion.until("Done", |v| v["prompt"]["kind"] == "proceed").await;
    let early =
        companion.call("run_answer", json!({"runId": run_id, "check": "pos-shows-success", "answer": true}));
    assert!(early.await.is_err(), "a question not asked yet is refused");
    companion.ok("run_proceed", json!({"runId": run_id})).await;

    let asked = companion.until("the question", |v| v["prompt"]["kind"] == "question").await;
    assert_eq!(asked["prompt"]["check"], "pos-shows-success");
    companion.ok("run_answer", json!({"runId": run_id, "check": "pos-shows-success", "answer": true})).await;
    let photo = companion.until("the photo", |v| v["prompt"]["kind"] == "photo").await;
    assert_eq!(
        (photo["prompt"]["check"].as_str(), photo["prompt"]["have"].as_u64()),
        (Some("receipt-photo"), Some(0))
    );
    let png = plusbox_companion::render::render_png(
        "receipt",
        plusbox_companion::render::Symbology::Qr,
        plusbox_companion::render::RenderSize::Phone,
    )
    .unwrap();
    let image = base64::engine::general_purpose::STANDARD.encode(&png);
    companion
        .ok(
            "run_photo",
            json!({"runId": run_id, "check": "receipt-photo", "image": image, "mediaType": "image/png"}),
        )
        .await;
    let done = companion.finished(&run_id).await;
    assert_eq!(done["verdict"], "PASS", "{done}");

    let result = companion.ok("result", json!({"runId": run_id})).await;
    assert_eq!(check(&result, "pos-shows-success")["verdict"], "PASS");
    assert_eq!(
        check(&result, "pos-success")["verdict"],
        "SKIPPED",
        "a person's answers stand in for the driver"
    );
    assert_eq!(check(&result, "receipt-photo")["verdict"], "PASS");
    assert_eq!(result["answers"], json!([{"check": "pos-shows-success", "answer": true}]));
    let photo = &result["photos"][0];
    assert_eq!(
        (photo["check"].as_str(), photo["mediaType"].as_str()),
        (Some("receipt-photo"), Some("image/png"))
    );
    let data = photo["dataUrl"].as_str().unwrap().strip_prefix("data:image/png;base64,").unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD.decode(data).unwrap(),
        png,
        "the photo is kept byte for byte"
    );
    let html = companion.ok("export_results", json!({"runIds": [run_id], "format": "html"})).await;
    assert!(
        html["content"].as_str().unwrap().contains(photo["dataUrl"].as_str().unwrap()),
        "the photo is embedded"
    );
    env.stop().await;
}

/// A "POS driver" that answers every call with an HTML page.
async fn garbage_pos() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { "<html><body>It works!</body></html>" });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pos_driver_answering_garbage_or_a_sandbox_going_away_is_an_error_with_the_run_kept() {
    let env = Env::start_compressed(&[], Timing::default(), SCALE).await;
    let companion = Companion::start(env.sandbox.base_url(), tempfile::tempdir().unwrap()).await;
    companion.ok("set_run_settings", json!({"posUrl": garbage_pos().await})).await;
    let view = companion.ok("run_start", json!({"caseIds": ["UPM-PAY-001"]})).await;
    let done = companion.finished(view["runId"].as_str().unwrap()).await;
    assert_eq!(done["verdict"], "ERROR", "{done}");
    let errors = done["errors"].to_string();
    assert!(errors.contains("not a JSON object") && errors.contains("It works!"), "{errors}");
    assert_eq!(done["steps"][0]["status"], "timedOut", "the step taken is kept: {done}");
    let listed = companion.ok("results", json!({"verdict": "ERROR"})).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // The sandbox goes away while the run waits for the buyer.
    companion.ok("set_run_settings", json!({"posUrl": env.base_url})).await;
    let view = companion.ok("run_start", json!({"caseIds": ["UPM-PIN-001"]})).await;
    let run_id = view["runId"].as_str().unwrap().to_owned();
    companion.until("the PIN prompt", |v| v["prompt"]["kind"] == "pin").await;
    env.stop().await;
    let done = companion.finished(&run_id).await;
    assert_eq!(done["verdict"], "ERROR", "{done}");
    assert!(done["errors"].to_string().contains("is not reachable"), "{}", done["errors"]);
    assert_eq!(done["steps"][0]["status"], "done", "{done}");
    let result = companion.ok("result", json!({"runId": run_id})).await;
    assert!(!result["traffic"].as_array().unwrap().is_empty(), "the traffic seen before is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_code_case_prompts_the_buyer_to_scan_then_the_queue_runs_on_with_run_events() {
    let env = Env::start_compressed(&[], Timing::default(), SCALE).await;
    let companion = Companion::start(env.sandbox.base_url(), tempfile::tempdir().unwrap()).await;
    // The browser's live events, collected as they come.
    let mut stream = companion
        .http
        .get(format!("{}/rpc/events", companion.base))
        .header("cookie", &companion.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let seen = Arc::new(std::sync::Mutex::new(String::new()));
    let sink = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok(Some(chunk)) = stream.chunk().await {
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&chunk));
        }
    });

    companion.ok("set_run_settings", json!({"posUrl": env.base_url})).await;
    let view = companion.ok("run_start", json!({"caseIds": ["MPM-OC-001", "UPM-PAY-001"]})).await;
    let first = view["runId"].as_str().unwrap().to_owned();
    let prompted = companion.until("the scan prompt", |v| v["prompt"]["kind"] == "scanOrder").await;
    assert_eq!(prompted["prompt"]["confirm"], true);
    let code = prompted["prompt"]["code"].as_str().unwrap().to_owned();
    // The buyer scans it with the wallet's own order-code commands.
    let order = companion.ok("decode_order_code", json!({"code": code, "accountId": "buyer-1"})).await;
    assert_eq!(order["amount"]["value"], "1250", "{order}");
    companion.ok("confirm_order_code", json!({"code": code, "accountId": "buyer-1"})).await;
    assert_eq!(companion.finished(&first).await["verdict"], "PASS");

    // The queued case runs on as a run of its own (a POS driver needs nobody for it).
    let next = companion.until("the queued case", |v| v["caseId"] == "UPM-PAY-001" || v.is_null()).await;
    let second = match next["runId"].as_str() {
        Some(id) => id.to_owned(),
        None => companion.ok("results", json!({})).await[0]["runId"].as_str().unwrap().to_owned(),
    };
    assert_ne!(second, first);
    assert_eq!(companion.finished(&second).await["verdict"], "PASS");
    let listed = companion.ok("results", json!({"verdict": "PASS"})).await;
    let cases: Vec<&str> = listed.as_array().unwrap().iter().map(|r| r["caseId"].as_str().unwrap()).collect();
    assert_eq!(cases, ["UPM-PAY-001", "MPM-OC-001"], "newest first");
    for _ in 0..100 {
        if seen.lock().unwrap().contains(&format!("\"runId\":\"{second}\"")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = seen.lock().unwrap().clone();
    assert!(events.contains("event: run"), "{events}");
    assert!(events.contains(&format!("\"runId\":\"{first}\"")) && events.contains("\"kind\":\"scanOrder\""));
    assert!(events.contains(&format!("\"runId\":\"{second}\"")), "the next case's run is announced");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_phone_paired_with_a_case_list_may_run_only_those_cases() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = serve(dir.path());
    let pair = |cases: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_plusbox"))
            .args(["app", "pair", "--data", "sb", "--name", "shop phone", "--json", "--cases", cases])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let unknown = pair("UPM-PAY-001,UPM-NOPE-999");
    assert!(!unknown.status.success());
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(said.contains("UPM-NOPE-999"), "{said}");
    let paired = pair("UPM-PAY-001, UPM-REF-001");
    assert!(paired.status.success(), "{}", String::from_utf8_lossy(&paired.stderr));
    let ticket: Value = serde_json::from_slice(&paired.stdout).unwrap();
    let http = reqwest::Client::new();
    let redeemed = http
        .post(format!("{base}/rpc/pair_with_code"))
        .json(&json!({"code": ticket["shortCode"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(redeemed.status(), 200);
    let cookie = redeemed.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let refused = http
        .post(format!("{base}/rpc/run_start"))
        .header("cookie", &cookie)
        .json(&json!({"caseIds": ["UPM-PIN-001"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "CASE_NOT_ASSIGNED");
    assert!(body["message"].as_str().unwrap().contains("UPM-PAY-001, UPM-REF-001"), "{body}");
    child.kill().unwrap();
    child.wait().unwrap();
}
