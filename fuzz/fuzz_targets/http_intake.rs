//! The Alipay+ API's HTTP intake as the gateway sees it: raw HTTP/1.1 requests (method, path,
//! framing, headers, body — signed with the registered ACQP key when the input says so, so the
//! fuzzer reaches body intake and the business calls) sent over loopback to a real sandbox.
//!
//! The rule checked: whatever arrives, the server answers (or closes a request it cannot parse)
//! without a 5xx; every answer on an Alipay+ path is HTTP 200, signed, with a catalogue result
//! code; every error under `/app/v1` is `{code, message}` JSON.
#![no_main]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use plusbox_core::result_code::ResultCode;
use plusbox_core::signing::{MessageParts, PrivateKey};
use plusbox_sandbox::{Sandbox, SandboxConfig};

#[derive(Arbitrary, Debug)]
struct Input {
    path: u8,
    post: bool,
    sign: bool,
    framing: u8,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct Target {
    addr: SocketAddr,
    client_id: String,
    key: PrivateKey,
    _runtime: tokio::runtime::Runtime,
    _sandbox: Sandbox,
}

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = std::env::temp_dir().join(format!("plusbox-fuzz-http-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sandbox = runtime
            .block_on(Sandbox::start(SandboxConfig::new(&dir, "127.0.0.1:0".parse().unwrap())))
            .unwrap();
        let store = sandbox.store();
        // Magic amounts would hold answers back for seconds; the fuzzer wants quick answers.
        store.set_magic_amounts(false).unwrap();
        let key = PrivateKey::generate().unwrap();
        store.set_acqp_key(&key.public_key().unwrap().to_base64(), 1, time::OffsetDateTime::now_utc()).unwrap();
        let client_id = store.app().unwrap().client_id;
        Target { addr: sandbox.local_addr(), client_id, key, _runtime: runtime, _sandbox: sandbox }
    })
}

const PATHS: &[&str] = &[
    "/aps/api/v1/payments/pay",
    "/aps/api/v1/payments/inquiryPayment",
    "/aps/api/v1/payments/cancelPayment",
    "/aps/api/v1/payments/refund",
    "/aps/api/v1/payments/unknown",
    "/app/v1/accounts",
];

fn token(text: &str) -> String {
    text.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(40).collect()
}

fn value(text: &str) -> String {
    text.chars().filter(|c| *c != '\r' && *c != '\n' && *c != '\0').take(200).collect()
}

fuzz_target!(|input: Input| {
    let target = target();
    let path = PATHS[usize::from(input.path) % PATHS.len()];
    let method = if input.post { "POST" } else { "GET" };
    let time = plusbox_core::protocol::time::format_instant(time::OffsetDateTime::now_utc());
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\nContent-Type: application/json\r\nClient-Id: {}\r\nRequest-Time: {time}\r\n",
        target.client_id
    );
    if input.sign {
        let parts = MessageParts { method: "POST", uri: path, client_id: &target.client_id, time: &time, body: &input.body };
        head.push_str(&format!("Signature: {}\r\n", target.key.sign_message(&parts, Some(1)).unwrap()));
    }
    for (name, v) in input.headers.iter().take(8) {
        let name = token(name);
        if !name.is_empty() {
            head.push_str(&format!("{name}: {}\r\n", value(v)));
        }
    }
    let mut request = head.into_bytes();
    match input.framing % 3 {
        0 => {
            request.extend_from_slice(format!("Content-Length: {}\r\n\r\n", input.body.len()).as_bytes());
            request.extend_from_slice(&input.body);
        }
        1 => {
            request.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for chunk in input.body.chunks(7) {
                request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                request.extend_from_slice(chunk);
                request.extend_from_slice(b"\r\n");
            }
            request.extend_from_slice(b"0\r\n\r\n");
        }
        _ => {
            // The body with no framing at all: a request without a body, then garbage.
            request.extend_from_slice(b"\r\n");
            request.extend_from_slice(&input.body);
        }
    }
    let mut stream = TcpStream::connect(target.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = stream.write_all(&request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let Some(status_line) = answer.lines().next() else { return };
    let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    assert!(status != 0 && status < 500, "no 5xx: {status_line:?} for {input:?}");
    let (headers, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let headers = headers.to_ascii_lowercase();
    if path.starts_with("/aps/") && status == 200 {
        assert!(headers.contains("\r\nsignature:"), "signed: {answer}");
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("JSON ({e}): {answer}"));
        let code = json["result"]["resultCode"].as_str().unwrap_or_default();
        assert!(ResultCode::from_wire(code).is_some(), "catalogue code: {answer}");
    } else if path.starts_with("/aps/") {
        // Only hyper's own refusal of an unparsable request (before the gateway sees it).
        assert!(status == 400 || status == 431, "gateway answers are HTTP 200: {answer}");
    } else if status >= 400 && !body.is_empty() {
        assert!(headers.contains("content-type: application/json"), "JSON error: {answer}");
    }
});
