//! `plusbox serve` as a browser sees it, through the real binary: the companion UI at `/` with
//! its headers, `/rpc/<command>` with the device cookie (loopback pairing, pairing link from
//! `plusbox app pair`, revocation by `plusbox app revoke`), `{code, message}` errors for wrong
//! methods, bodies and content types, live events, and the Alipay+ gateway still behind it all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_plusbox");

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path) -> (Running, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data", "sb"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
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
    (Running(child), ui.expect("serve printed the companion UI URL"))
}

fn cli(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn call(http: &Client, base: &str, command: &str, cookie: Option<&str>, args: Value) -> Response {
    let mut request = http.post(format!("{base}/rpc/{command}")).json(&args);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().unwrap()
}

/// The `name=value` part of the device cookie a response sets, and the whole header.
fn device_cookie(response: &Response) -> (String, String) {
    let header = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("plusbox_device="))
        .expect("a device cookie is set");
    (header.split(';').next().unwrap().to_string(), header)
}

fn error_of(response: Response, status: u16) -> String {
    assert_eq!(response.status().as_u16(), status);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = response.json().unwrap();
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    body["code"].as_str().unwrap().to_string()
}

#[test]
fn the_ui_is_served_at_the_root_with_strict_headers() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(dir.path());
    let http = Client::new();
    let index = http.get(format!("{base}/")).send().unwrap();
    assert_eq!(index.status(), 200);
    let headers = index.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let html = index.text().unwrap();
    let asset =
        html.split('"').find(|s| s.starts_with("/assets/") && s.ends_with(".js")).expect("a script asset");
    let script = http.get(format!("{base}{asset}")).send().unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"].to_str().unwrap().contains("javascript"));
    assert!(script.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    assert_eq!(http.get(format!("{base}/pay")).send().unwrap().text().unwrap(), html);

    // Everything else still belongs to the sandbox: the gateway answers Alipay+ errors.
    let pay = http.post(format!("{base}/aps/api/v1/payments/pay")).body("{}").send().unwrap();
    let body: Value = pay.json().unwrap();
    assert!(body["result"]["resultCode"].is_string(), "the gateway answered: {body}");
    assert_eq!(http.get(format!("{base}/healthz")).send().unwrap().text().unwrap(), "ok");
}

#[test]
fn rpc_pairs_loopback_with_an_http_only_cookie_and_refuses_the_unpaired() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(dir.path());
    let http = Client::new();
    assert_eq!(error_of(call(&http, &base, "accounts", None, json!({})), 401), "NOT_PAIRED");
    let session: Value = call(&http, &base, "session", None, json!({})).json().unwrap();
    assert_eq!((session["paired"].as_bool(), session["loopback"].as_bool()), (Some(false), Some(true)));

    let paired = call(&http, &base, "pair_loopback", None, json!({"deviceName": "till"}));
    assert_eq!(paired.status(), 200);
    let (cookie, header) = device_cookie(&paired);
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(header.contains(attribute), "{header}");
    }
    let accounts: Value = call(&http, &base, "accounts", Some(&cookie), json!({})).json().unwrap();
    assert_eq!(accounts.as_array().unwrap().len(), 3);

    // The same token as a bearer token, with the scheme in any case (RFC 9110).
    let token = cookie.trim_start_matches("plusbox_device=");
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = http
            .post(format!("{base}/rpc/accounts"))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "{scheme}");
        let direct = http
            .get(format!("{base}/app/v1/accounts"))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .unwrap();
        assert_eq!(direct.status(), 200, "/app/v1 with {scheme}");
    }

    let unpaired = call(&http, &base, "unpair", Some(&cookie), json!({}));
    assert_eq!(unpaired.status(), 200);
    let (cleared, header) = device_cookie(&unpaired);
    assert_eq!(cleared, "plusbox_device=");
    assert!(header.contains("Max-Age=0"));
    assert_eq!(error_of(call(&http, &base, "accounts", Some(&cookie), json!({})), 401), "DEVICE_REVOKED");
}

#[test]
fn rpc_errors_are_json_for_wrong_methods_bodies_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(dir.path());
    let http = Client::new();
    let (cookie, _) = device_cookie(&call(&http, &base, "pair_loopback", None, json!({})));

    let get = http.get(format!("{base}/rpc/accounts")).header("cookie", &cookie).send().unwrap();
    assert_eq!(get.headers()["allow"], "POST");
    assert_eq!(error_of(get, 405), "BAD_REQUEST");
    // A 20 MB upload is refused from its Content-Length, before the body is sent.
    let address = base.trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(address).unwrap();
    write!(
        socket,
        "POST /rpc/scan_image HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"image\": \"",
        20 * 1024 * 1024
    )
    .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = socket.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"IMAGE_TOO_LARGE""#), "{answer}");
    let form = http
        .post(format!("{base}/rpc/top_up"))
        .header("cookie", &cookie)
        .header("content-type", "text/plain")
        .body(r#"{"accountId":"buyer-1","amount":"1.00 USD"}"#)
        .send()
        .unwrap();
    assert_eq!(error_of(form, 415), "BAD_REQUEST");
    let broken = http
        .post(format!("{base}/rpc/top_up"))
        .header("cookie", &cookie)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(error_of(broken, 400), "BAD_REQUEST");
    assert_eq!(error_of(call(&http, &base, "top_up", Some(&cookie), json!([1, 2])), 400), "BAD_REQUEST");
    assert_eq!(error_of(call(&http, &base, "launch", Some(&cookie), json!({})), 404), "NOT_FOUND");
    let amount = json!({"accountId": "buyer-1", "amount": "lots"});
    assert_eq!(error_of(call(&http, &base, "top_up", Some(&cookie), amount), 400), "BAD_AMOUNT");
    let huge = json!({"accountId": "buyer-1", "amount": "92233720368547758.07 USD"});
    assert_eq!(error_of(call(&http, &base, "top_up", Some(&cookie), huge), 400), "AMOUNT_TOO_LARGE");
    let pin = json!({"paymentId": "nope", "pin": "1234"});
    assert_eq!(error_of(call(&http, &base, "confirm_payment", Some(&cookie), pin), 404), "NOT_FOUND");
}

#[test]
fn app_pair_link_pairs_a_browser_and_app_revoke_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(dir.path());
    let http = Client::new();
    let pairing: Value =
        serde_json::from_str(&cli(dir.path(), &["app", "pair", "--data", "sb", "--name", "phone", "--json"]))
            .unwrap();
    let link = pairing["link"].as_str().unwrap();
    assert!(link.starts_with(&format!("{base}/#pair=pair_")), "{link}");
    assert_eq!(pairing["shortCode"].as_str().unwrap().len(), 9);

    let paired = call(&http, &base, "pair_with_code", None, json!({"code": link}));
    assert_eq!(paired.status(), 200);
    let (cookie, _) = device_cookie(&paired);
    let session: Value = paired.json().unwrap();
    assert_eq!(session["device"]["name"], "phone");
    let reused = call(&http, &base, "pair_with_code", None, json!({"code": link}));
    assert_eq!(error_of(reused, 400), "PAIRING_CODE_INVALID");

    let text = cli(dir.path(), &["app", "pair", "--data", "sb", "--url", "http://192.168.1.20:8787"]);
    assert!(text.contains("Pairing link: http://192.168.1.20:8787/#pair=pair_"), "{text}");
    assert!(text.contains('█') || text.contains('▀') || text.contains('▄'), "a terminal QR is printed");
    let code =
        text.lines().find_map(|l| l.strip_prefix("Short code:")).unwrap().split_whitespace().next().unwrap();
    let second = call(
        &http,
        &base,
        "pair_with_code",
        None,
        json!({"code": code.to_lowercase(), "deviceName": "tablet"}),
    );
    assert_eq!(second.status(), 200);

    let devices: Value =
        serde_json::from_str(&cli(dir.path(), &["app", "devices", "--data", "sb", "--json"])).unwrap();
    let phone = devices.as_array().unwrap().iter().find(|d| d["name"] == "phone").unwrap();
    let id = phone["id"].as_i64().unwrap().to_string();
    let listed: Value = call(&http, &base, "devices", Some(&cookie), json!({})).json().unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);

    cli(dir.path(), &["app", "revoke", "--data", "sb", &id]);
    assert_eq!(error_of(call(&http, &base, "accounts", Some(&cookie), json!({})), 401), "DEVICE_REVOKED");
    let session: Value = call(&http, &base, "session", Some(&cookie), json!({})).json().unwrap();
    assert_eq!((session["paired"].as_bool(), session["revoked"].as_bool()), (Some(false), Some(true)));
    let text = cli(dir.path(), &["app", "devices", "--data", "sb"]);
    assert!(text.contains("REVOKED"), "{text}");
    let missing = Command::new(BIN)
        .args(["app", "revoke", "--data", "sb", "999"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no device 999"));
}

#[test]
fn rpc_events_stream_the_pending_list_to_a_paired_browser() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(dir.path());
    let http = Client::new();
    let refused = http.get(format!("{base}/rpc/events")).send().unwrap();
    assert_eq!(error_of(refused, 401), "NOT_PAIRED");
    let (cookie, _) = device_cookie(&call(&http, &base, "pair_loopback", None, json!({})));
    let mut events = http.get(format!("{base}/rpc/events")).header("cookie", &cookie).send().unwrap();
    assert_eq!(events.status(), 200);
    assert!(events.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut seen = String::new();
    let mut buffer = [0u8; 1024];
    while !seen.contains("\n\n") {
        let n = events.read(&mut buffer).unwrap();
        assert!(n > 0, "the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    assert!(seen.contains("event: pending\ndata: []"), "{seen}");
}
