//! The app's commands through the Tauri shell (mock runtime, the app's own config and
//! capabilities) against its real embedded sandbox, compared with `POST /rpc/<command>` served by
//! `plusbox_companion::rpc` against the same sandbox: same JSON, same `{code, message}` errors.
//! Also the shell's own commands: LAN sharing, the in-process acquirer and POS, linked mode.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use plusbox_app_lib::modes::Shell;
use plusbox_companion::commands::COMMANDS;
use plusbox_companion::render::{render_image, render_png, RenderSize, Symbology};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{Manager as _, WebviewWindow};

struct Fixture {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    _app: tauri::App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    shell: Arc<Shell>,
    rpc_url: String,
    cookie: String,
    http: reqwest::Client,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let data = dir.path().join("app");
    let mut app = plusbox_app_lib::configure(mock_builder(), Some(data.clone()))
        .build(tauri::generate_context!())
        .unwrap_or_else(|e| panic!("the app does not build: {e}"));
    // Setup (the config's "main" window, the embedded sandbox, self-pairing) runs with the first
    // event-loop iteration, as in the real app.
    #[allow(deprecated)]
    app.run_iteration(|_, _| {});
    let window = app.get_webview_window("main").unwrap_or_else(|| panic!("no main window"));
    let shell = Arc::clone(&*app.state::<Arc<Shell>>());
    let sandbox_url = shell.current().sandbox_url;

    // `/rpc` for a browser on this machine, against the app's own embedded sandbox.
    let rpc = plusbox_companion::rpc::Rpc::new(false, None).unwrap_or_else(|e| panic!("rpc: {e}"));
    rpc.set_sandbox_url(sandbox_url);
    let router = rpc.router();
    let listener = tauri::async_runtime::block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
    tauri::async_runtime::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await;
    });
    let rpc_url = format!("http://{addr}");
    let http = reqwest::Client::new();
    let paired = tauri::async_runtime::block_on(
        http.post(format!("{rpc_url}/rpc/pair_loopback")).json(&json!({"deviceName": "browser"})).send(),
    )
    .unwrap_or_else(|e| panic!("pair over /rpc: {e}"));
    assert_eq!(paired.status(), 200, "pairing a loopback browser over /rpc");
    let cookie = paired
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no device cookie"));
    Fixture { _dir: dir, data, _app: app, window, shell, rpc_url, cookie, http }
}

impl Fixture {
    /// `invoke(command, {args})` through the shell, as the UI's transport does.
    fn ipc(&self, command: &str, args: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: command.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap_or_else(|e| panic!("url: {e}")),
            body: InvokeBody::Json(json!({ "args": args })),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        get_ipc_response(&self.window, request)
            .map(|body| body.deserialize::<Value>().unwrap_or_else(|e| panic!("{command}: {e}")))
    }

    /// `POST /rpc/<command>` with the browser's device cookie.
    fn rpc(&self, command: &str, args: Value) -> Result<Value, Value> {
        tauri::async_runtime::block_on(async {
            let response = self
                .http
                .post(format!("{}/rpc/{command}", self.rpc_url))
                .header("cookie", &self.cookie)
                .json(&args)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{command} over /rpc: {e}"));
            let ok = response.status().is_success();
            let body: Value = response.json().await.unwrap_or_else(|e| panic!("{command}: {e}"));
            if ok {
                Ok(body)
            } else {
                Err(body)
            }
        })
    }

    /// Both paths, asserted equal after `normalise` (which removes what is per-device).
    fn same(&self, command: &str, args: Value, normalise: impl Fn(&mut Value)) -> Result<Value, Value> {
        let mut ipc = self.ipc(command, args.clone());
        let mut rpc = self.rpc(command, args);
        for side in [&mut ipc, &mut rpc] {
            match side {
                Ok(v) => normalise(v),
                Err(v) => assert!(v.get("code").is_some(), "{command}: an error without a code: {v}"),
            }
        }
        assert_eq!(ipc, rpc, "{command}: invoke and /rpc differ");
        ipc
    }
}

fn remove(keys: &'static [&'static str]) -> impl Fn(&mut Value) {
    move |v| {
        if let Some(map) = v.as_object_mut() {
            for key in keys {
                map.remove(*key);
            }
        }
    }
}

fn nothing(_: &mut Value) {}

fn minor_units(money: &Value) -> i64 {
    money["value"].as_str().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("not money: {money}"))
}

#[test]
fn every_command_through_the_shell_gives_the_same_json_as_rpc() {
    let f = fixture();
    let mut covered = BTreeSet::new();
    let mut check = |name: &'static str| {
        covered.insert(name);
    };

    // The app paired itself with its embedded sandbox on start.
    check("session");
    let session = f.same("session", json!({}), remove(&["device"])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(session["paired"], true);
    let me = f.ipc("session", json!({})).unwrap_or_else(|e| panic!("{e}"))["device"]["id"].clone();
    assert!(me.is_i64(), "the app's own device: {me}");

    check("accounts");
    let accounts = f.same("accounts", json!({}), nothing).unwrap_or_else(|e| panic!("{e}"));
    let account = accounts[0]["id"].as_str().unwrap_or_else(|| panic!("no account: {accounts}")).to_string();

    check("scenarios");
    let scenarios = f.same("scenarios", json!({}), nothing).unwrap_or_else(|e| panic!("{e}"));
    let scenario = scenarios[0]["name"].clone();

    check("set_scenario");
    f.same("set_scenario", json!({"accountId": account, "scenario": scenario}), nothing)
        .unwrap_or_else(|e| panic!("{e}"));
    let unknown = f.same("set_scenario", json!({"accountId": account, "scenario": "no-such"}), nothing);
    assert_eq!(unknown.err().map(|e| e["code"].clone()), Some(json!("UNKNOWN_SCENARIO")));

    // Top-ups change state, so each path adds 1.00 and sees the other's too.
    check("top_up");
    let first = f
        .ipc("top_up", json!({"accountId": account, "amount": "1.00 USD"}))
        .unwrap_or_else(|e| panic!("{e}"));
    let second = f
        .rpc("top_up", json!({"accountId": account, "amount": "1.00 USD"}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(minor_units(&second) - minor_units(&first), 100);
    assert_eq!((&first["currency"], &first["exponent"]), (&second["currency"], &second["exponent"]));
    let bad = f.same("top_up", json!({"accountId": account, "amount": "lots"}), nothing);
    assert_eq!(bad.err().map(|e| e["code"].clone()), Some(json!("BAD_AMOUNT")));
    let malformed = f.same("top_up", json!({"account": account}), nothing);
    assert_eq!(malformed.err().map(|e| e["code"].clone()), Some(json!("BAD_REQUEST")));

    check("history");
    let history = f.same("history", json!({"accountId": account}), nothing).unwrap_or_else(|e| panic!("{e}"));
    assert!(history.as_array().is_some_and(|h| h.len() >= 2), "both top-ups in history: {history}");

    check("new_code");
    let a = f.ipc("new_code", json!({"accountId": account, "form": "24"})).unwrap_or_else(|e| panic!("{e}"));
    let b = f.rpc("new_code", json!({"accountId": account, "form": "24"})).unwrap_or_else(|e| panic!("{e}"));
    let keys = |v: &Value| v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(&a), keys(&b));
    assert_eq!((a["form"].clone(), b["form"].clone()), (json!("24"), json!("24")));
    let code = a["code"].as_str().unwrap_or_else(|| panic!("no code: {a}")).to_string();
    assert_eq!(code.len(), 24);

    check("scan_image");
    let png = render_png(&code, Symbology::Qr, RenderSize::Phone).unwrap_or_else(|e| panic!("{e}"));
    let image = base64::engine::general_purpose::STANDARD.encode(&png);
    let scanned = f.same("scan_image", json!({"image": image}), nothing).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scanned["codes"][0]["kind"], "alipayplus-code", "{scanned}");
    let not_image = f.same("scan_image", json!({"image": "aGVsbG8="}), nothing);
    assert_eq!(not_image.err().map(|e| e["code"].clone()), Some(json!("BAD_IMAGE")));

    check("scan_frame");
    let frame = render_image(&code, Symbology::Qr, RenderSize::Phone).unwrap_or_else(|e| panic!("{e}"));
    let args = json!({
        "width": frame.width(),
        "height": frame.height(),
        "grey": base64::engine::general_purpose::STANDARD.encode(frame.as_raw()),
    });
    let scanned = f.same("scan_frame", args, nothing).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scanned["codes"][0]["text"], json!(code), "{scanned}");
    let huge = f.same("scan_frame", json!({"width": 5000, "height": 5000, "grey": ""}), nothing);
    assert_eq!(huge.err().map(|e| e["code"].clone()), Some(json!("IMAGE_TOO_LARGE")));

    check("pending");
    f.same("pending", json!({}), nothing).unwrap_or_else(|e| panic!("{e}"));

    check("confirm_payment");
    let missing = f.same("confirm_payment", json!({"paymentId": "no-such-payment", "pin": "1234"}), nothing);
    assert!(missing.is_err());
    check("decline_payment");
    assert!(f.same("decline_payment", json!({"paymentId": "no-such-payment"}), nothing).is_err());

    // An order code no sandbox issued: both paths refuse it the same way.
    let stranger =
        json!({"code": "https://global.alipay.com/28100204NOSUCHORDER000000000000", "accountId": account});
    for command in ["decode_order_code", "confirm_order_code", "decline_order_code"] {
        check(command);
        let refused = f.same(command, stranger.clone(), nothing);
        assert_eq!(refused.err().map(|e| e["code"].clone()), Some(json!("ORDER_CODE_INVALID")), "{command}");
    }

    check("devices");
    let devices = f.same("devices", json!({}), |v| {
        for d in v.as_array_mut().into_iter().flatten() {
            d.as_object_mut().map(|m| m.remove("current"));
        }
    });
    assert!(devices.is_ok_and(|d| d.as_array().is_some_and(|d| d.len() >= 2)));
    let mine = f.ipc("devices", json!({})).unwrap_or_else(|e| panic!("{e}"));
    let current: Vec<&Value> =
        mine.as_array().into_iter().flatten().filter(|d| d["current"] == true).map(|d| &d["id"]).collect();
    assert_eq!(current, vec![&me], "the app is the current device for invoke");

    check("revoke_device");
    assert!(f.same("revoke_device", json!({"deviceId": 987_654_321}), nothing).is_err());

    check("about");
    f.same("about", json!({}), remove(&["dataDir"])).unwrap_or_else(|e| panic!("{e}"));

    // Guided runs: each side is its own device with its own results store, so before any run
    // both give the same answers and the same refusals.
    check("test_cases");
    let cases = f.same("test_cases", json!({}), nothing).unwrap_or_else(|e| panic!("{e}"));
    assert!(cases.as_array().is_some_and(|c| c.iter().any(|c| c["id"] == "UPM-PIN-001")), "{cases}");
    check("run_settings");
    assert_eq!(f.same("run_settings", json!({}), nothing).ok(), Some(json!({"posUrl": null})));
    check("set_run_settings");
    let set = f.same("set_run_settings", json!({"posUrl": "http://127.0.0.1:9/"}), nothing);
    assert_eq!(set.ok(), Some(json!({"posUrl": "http://127.0.0.1:9"})));
    let bad = f.same("set_run_settings", json!({"posUrl": "ftp://pos"}), nothing);
    assert_eq!(bad.err().map(|e| e["code"].clone()), Some(json!("BAD_REQUEST")));
    f.same("set_run_settings", json!({"posUrl": null}), nothing).unwrap_or_else(|e| panic!("{e}"));
    check("run_start");
    let unknown = f.same("run_start", json!({"caseIds": ["UPM-NOPE-999"]}), nothing);
    assert_eq!(unknown.err().map(|e| e["code"].clone()), Some(json!("UNKNOWN_CASE")));
    check("run_active");
    assert_eq!(f.same("run_active", json!({}), nothing).ok(), Some(Value::Null));
    check("results");
    assert_eq!(f.same("results", json!({}), nothing).ok(), Some(json!([])));
    let no_run = json!({"runId": "run-none"});
    for command in ["run_view", "run_proceed", "run_cancel", "result"] {
        check(command);
        let missing = f.same(command, no_run.clone(), nothing);
        assert_eq!(missing.err().map(|e| e["code"].clone()), Some(json!("NOT_FOUND")), "{command}");
    }
    check("run_answer");
    let answer = f.same("run_answer", json!({"runId": "run-none", "check": "c", "answer": true}), nothing);
    assert_eq!(answer.err().map(|e| e["code"].clone()), Some(json!("NOT_FOUND")));
    check("run_skip_photo");
    let skip = f.same("run_skip_photo", json!({"runId": "run-none", "check": "c"}), nothing);
    assert_eq!(skip.err().map(|e| e["code"].clone()), Some(json!("NOT_FOUND")));
    check("run_photo");
    let photo = f.same("run_photo", json!({"runId": "run-none", "check": "c", "image": "aGVsbG8="}), nothing);
    assert_eq!(photo.err().map(|e| e["code"].clone()), Some(json!("BAD_IMAGE")));
    check("export_results");
    let export = f
        .same("export_results", json!({"runIds": [], "format": "json"}), remove(&["fileName"]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(export["mediaType"], "application/json");

    // Invitations and uploads: an invite link that is not one, and this unlinked device's queue.
    check("link_invite");
    let not_a_link = f.same("link_invite", json!({"link": "hello"}), nothing);
    assert_eq!(not_a_link.err().map(|e| e["code"].clone()), Some(json!("INVALID_ARGUMENT")));
    // No address in the link: both link with the sandbox they use, which knows no such invite.
    let unknown = f.same("link_invite", json!({"link": "#invite=invite_NoSuchInvite000"}), nothing);
    assert_eq!(unknown.err().map(|e| e["code"].clone()), Some(json!("INVITE_UNKNOWN")));
    check("upload_status");
    let status = f.ipc("upload_status", json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((status["linked"].clone(), status["waiting"].clone()), (json!(false), json!(0)), "{status}");
    let rpc_status = f.rpc("upload_status", json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rpc_status["linked"], false, "{rpc_status}");
    check("upload_now");
    let now = f.ipc("upload_now", json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(now["items"], json!([]), "{now}");
    f.rpc("upload_now", json!({})).unwrap_or_else(|e| panic!("{e}"));

    check("pair_with_code");
    let wrong = f.same("pair_with_code", json!({"code": "not-a-code"}), nothing);
    assert_eq!(wrong.err().map(|e| e["code"].clone()), Some(json!("PAIRING_CODE_INVALID")));

    check("pair_loopback");
    f.same("pair_loopback", json!({"deviceName": "again"}), remove(&["device"]))
        .unwrap_or_else(|e| panic!("{e}"));

    check("unpair");
    f.same("unpair", json!({}), nothing).unwrap_or_else(|e| panic!("{e}"));
    let after = f.ipc("session", json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(after["paired"], false, "unpair forgets the app's token: {after}");
    assert!(!f.data.join("embedded/device-token").exists());

    let all: BTreeSet<&str> = COMMANDS.iter().copied().collect();
    assert_eq!(covered, all, "every companion command is compared");
}

#[test]
fn the_device_token_is_kept_owner_only_per_mode() {
    let f = fixture();
    let path = f.data.join("embedded/device-token");
    let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    assert!(meta.len() > 16);
    // Linked mode has its own directory and no token until it pairs.
    assert!(!f.data.join("linked/device-token").exists());
    let refused = f.ipc("use_mode", json!({"mode": "linked"}));
    assert_eq!(refused.err().map(|e| e["code"].clone()), Some(json!("NOT_PAIRED")));
}

#[test]
fn the_app_charges_its_own_code_with_the_in_process_acquirer() {
    let f = fixture();
    let state = f.ipc("app_state", json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(state["mode"], "embedded");
    let gateway = state["embedded"]["gatewayUrl"].as_str().unwrap_or_default().to_string();
    assert!(gateway.starts_with("http://127.0.0.1:"), "loopback only by default: {state}");
    assert_eq!(state["embedded"]["sharing"], false);
    assert!(state["embedded"]["qrSvg"].as_str().is_some_and(|s| s.starts_with("<svg")));

    let refused = f.ipc("pos_charge", json!({"code": "1", "amount": "1.00 USD"}));
    assert_eq!(refused.err().map(|e| e["code"].clone()), Some(json!("INVALID_STATE")));
    let started = f.ipc("start_acquirer", json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert!(started["acquirerUrl"].as_str().is_some_and(|u| u.starts_with("http://127.0.0.1:")), "{started}");

    let code = f.ipc("new_code", json!({"accountId": "buyer-1"})).unwrap_or_else(|e| panic!("{e}"));
    let charged = f
        .ipc("pos_charge", json!({"code": code["code"], "amount": "3.25 USD"}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(charged["state"], "SUCCESS", "{charged}");
    let history = f.ipc("history", json!({"accountId": "buyer-1"})).unwrap_or_else(|e| panic!("{e}"));
    let payment = history
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["reference"] == charged["paymentId"])
        .unwrap_or_else(|| panic!("the charge is not in history: {history}"));
    assert_eq!((payment["kind"].clone(), payment["state"].clone()), (json!("payment"), json!("SUCCESS")));
    assert_eq!(payment["amount"]["value"], "-325");
}

#[test]
fn the_in_process_acquirer_serves_its_entry_page_over_https_and_its_private_order_codes_decode() {
    let f = fixture();
    let started = f.ipc("start_acquirer", json!({})).unwrap_or_else(|e| panic!("{e}"));
    let acquirer =
        started["acquirerUrl"].as_str().unwrap_or_else(|| panic!("no acquirer: {started}")).to_string();
    tauri::async_runtime::block_on(async {
        // The entry code is the merchant page's HTTPS URL on loopback, with the certificate the
        // app keeps (and trusts) under its data dir.
        let shown: Value = f
            .http
            .get(format!("{acquirer}/entry-code"))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("GET /entry-code: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("entry-code JSON: {e}"));
        let url = shown["codeValue"].as_str().unwrap_or_else(|| panic!("no codeValue: {shown}")).to_string();
        assert!(url.starts_with("https://127.0.0.1:") && url.ends_with("/entry"), "{url}");
        let pem = std::fs::read(f.data.join("embedded/acquirer/entry-tls/tls/cert.pem"))
            .unwrap_or_else(|e| panic!("the merchant page's certificate: {e}"));
        let https = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap_or_else(|e| panic!("{e}")))
            .user_agent(plusbox_app_lib::merchant_page::WALLET_USER_AGENT)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let page = https.get(&url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap_or_default();
        assert!(html.contains("name=\"amount\""), "the wallet's User-Agent gets the amount form: {html}");
        // Plain HTTP is refused before any window opens.
        let refused = f.ipc("open_merchant_page", json!({"url": url.replace("https:", "http:")}));
        assert_eq!(refused.err().map(|e| e["code"].clone()), Some(json!("BAD_REQUEST")));
        let bad_fingerprint = f.ipc("open_merchant_page", json!({"url": url, "trustFingerprint": "AB:CD"}));
        assert_eq!(bad_fingerprint.err().map(|e| e["code"].clone()), Some(json!("BAD_REQUEST")));

        // A private order code of the acquirer's registered domain decodes through the sandbox's
        // userInitiatedPay to the acquirer, as the Scan screen does it.
        let sale: Value = f
            .http
            .post(format!("{acquirer}/private-order-code"))
            .json(&json!({"amount": "4.20 USD"}))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("POST /private-order-code: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("sale JSON: {e}"));
        let code =
            sale["orderCode"]["codeValue"].as_str().unwrap_or_else(|| panic!("no code: {sale}")).to_string();
        let order = f
            .ipc("decode_order_code", json!({"code": code, "accountId": "buyer-1"}))
            .unwrap_or_else(|e| panic!("decode {code}: {e}"));
        assert_eq!(order["amount"]["value"], "420", "{order}");
        assert_eq!(order["paymentRequestId"], sale["paymentRequestId"], "{order} vs {sale}");
    });
}

#[test]
fn sharing_on_the_lan_advertises_the_lan_address_and_keeps_the_data() {
    let f = fixture();
    let before = f.ipc("accounts", json!({})).unwrap_or_else(|e| panic!("{e}"));
    let shared = f.ipc("set_sharing", json!({"on": true}));
    match plusbox_app_lib::modes::lan_address() {
        Some(ip) => {
            let state = shared.unwrap_or_else(|e| panic!("{e}"));
            let gateway = state["embedded"]["gatewayUrl"].as_str().unwrap_or_default().to_string();
            assert!(gateway.starts_with(&format!("http://{ip}:")), "{state}");
            assert_eq!(state["embedded"]["sharing"], true);
        }
        None => {
            assert_eq!(shared.err().map(|e| e["code"].clone()), Some(json!("INVALID_STATE")));
        }
    }
    // Same sandbox data and the app still paired, whichever way it went.
    assert_eq!(f.ipc("accounts", json!({})).unwrap_or_else(|e| panic!("{e}")), before);
    let back = f.ipc("set_sharing", json!({"on": false})).unwrap_or_else(|e| panic!("{e}"));
    assert!(back["embedded"]["gatewayUrl"].as_str().is_some_and(|u| u.starts_with("http://127.0.0.1:")));
    assert_eq!(f.ipc("accounts", json!({})).unwrap_or_else(|e| panic!("{e}")), before);
}

#[test]
fn a_bad_link_leaves_the_app_in_embedded_mode() {
    let f = fixture();
    let bad = f.ipc("link_sandbox", json!({"link": "not a url"}));
    assert_eq!(bad.err().map(|e| e["code"].clone()), Some(json!("BAD_REQUEST")));
    // A real address with a wrong code: pairing fails, the app stays where it was.
    let wrong = f.ipc("link_sandbox", json!({"link": f.shell.current().sandbox_url, "code": "WRONG-CODE"}));
    assert_eq!(wrong.err().map(|e| e["code"].clone()), Some(json!("PAIRING_CODE_INVALID")));
    let state = f.ipc("app_state", json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(state["mode"], "embedded");
    assert!(state.get("linkedUrl").is_none(), "a failed link is not remembered: {state}");
    assert_eq!(f.ipc("session", json!({})).unwrap_or_else(|e| panic!("{e}"))["paired"], true);
}

#[test]
fn the_permission_list_names_every_command_the_shell_handles() {
    let declared: BTreeSet<&str> = env!("PLUSBOX_APP_COMMANDS").split(',').collect();
    let handled: BTreeSet<&str> = COMMANDS.iter().chain(plusbox_app_lib::SHELL_COMMANDS).copied().collect();
    assert_eq!(declared, handled);
}

#[test]
fn a_command_outside_the_table_is_not_handled() {
    let f = fixture();
    assert!(f.ipc("open_shell", json!({})).is_err());
}

#[test]
fn linking_a_shared_sandbox_pairs_with_its_link_and_each_mode_keeps_its_pairing() {
    let f = fixture();
    // A second, shared sandbox (what `plusbox serve` runs), with a pairing ticket from its store.
    let shared_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let config = plusbox_sandbox::SandboxConfig::new(
        shared_dir.path(),
        "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
    );
    let shared = tauri::async_runtime::block_on(plusbox_sandbox::Sandbox::start(config))
        .unwrap_or_else(|e| panic!("shared sandbox: {e}"));
    let ticket = shared
        .store()
        .create_pairing("phone", time::OffsetDateTime::now_utc())
        .unwrap_or_else(|e| panic!("pairing ticket: {e}"));
    let link = format!("{}/#pair={}", shared.base_url(), ticket.link_token.expose());

    let linked = f.ipc("link_sandbox", json!({"link": link})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(linked["mode"], "linked");
    assert_eq!(linked["linkedUrl"], json!(shared.base_url()));
    let session = f.ipc("session", json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (session["paired"].clone(), session["sandbox"]["url"].clone()),
        (json!(true), json!(shared.base_url()))
    );
    assert!(f.data.join("linked/device-token").exists());

    // Back to the built-in sandbox: still paired there; and linked again: still paired there.
    f.ipc("use_mode", json!({"mode": "embedded"})).unwrap_or_else(|e| panic!("{e}"));
    let embedded = f.ipc("session", json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(embedded["paired"], true);
    assert_ne!(embedded["sandbox"]["url"], json!(shared.base_url()));
    f.ipc("use_mode", json!({"mode": "linked"})).unwrap_or_else(|e| panic!("{e}"));
    let again = f.ipc("session", json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (again["paired"].clone(), again["sandbox"]["url"].clone()),
        (json!(true), json!(shared.base_url()))
    );
    tauri::async_runtime::block_on(shared.shutdown());
}

#[test]
fn a_guided_run_in_the_app_sends_run_events_to_the_webview_and_keeps_its_result_in_the_mode_dir() {
    use tauri::Listener as _;
    let f = fixture();
    let (events, received) = std::sync::mpsc::channel::<String>();
    f._app.listen_any("run", move |event| {
        let _ = events.send(event.payload().to_owned());
    });
    let view = f.ipc("run_start", json!({"caseIds": ["UPM-PAY-001"]})).unwrap_or_else(|e| panic!("{e}"));
    let run_id = view["runId"].as_str().unwrap_or_else(|| panic!("no run id: {view}")).to_owned();
    assert_eq!(view["posDriven"], false, "no POS-driver URL: the person works the POS");
    // The webview hears the run show the payment code to present at the POS.
    let mut shown = None;
    for _ in 0..200 {
        match received.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok(payload) if payload.contains("\"showCode\"") => {
                shown = Some(payload);
                break;
            }
            _ => {}
        }
    }
    let shown: Value = serde_json::from_str(&shown.unwrap_or_else(|| panic!("no run event with the code")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(shown["runId"], run_id.as_str());
    let cancelled = f.ipc("run_cancel", json!({"runId": run_id})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (cancelled["state"].as_str(), cancelled["verdict"].as_str()),
        (Some("cancelled"), Some("INCOMPLETE"))
    );
    assert!(f.data.join("embedded/results.sqlite").exists(), "the app keeps results in the mode's directory");
    let listed = f.ipc("results", json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed[0]["runId"], run_id.as_str());
    // The browser on the same sandbox is another device: it sees none of the app's runs.
    assert_eq!(f.rpc("results", json!({})).ok(), Some(json!([])));
}
