//! `plusbox serve --tls`: a self-signed certificate made on first start (key 0600) and reused
//! on the next, the printed SHA-256 fingerprint matching what `openssl` sees on the wire and in
//! the file, and the companion and Alipay+ APIs answering over HTTPS to a client that trusts
//! only that certificate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use plusbox_core::signing::{MessageParts, PublicKey};

const BIN: &str = env!("CARGO_BIN_EXE_plusbox");

struct Served {
    child: Child,
    url: String,
    fingerprint: String,
    cert: String,
    made_now: bool,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_tls(data: &Path) -> Served {
    let mut child = Command::new(BIN)
        .args(["serve", "--tls", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let (mut url, mut fingerprint, mut cert, mut made_now) = (None, None, None, false);
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.strip_prefix("Gateway URL:") {
            url = Some(rest.trim().to_string());
        }
        if let Some(rest) = line.strip_prefix("SHA-256 fingerprint:") {
            fingerprint = Some(rest.trim().to_string());
        }
        if let Some(rest) = line.strip_prefix("TLS certificate:") {
            made_now = rest.contains("(made now)");
            cert = Some(rest.trim().split(" (").next().unwrap().to_string());
        }
        if line.starts_with("Press Ctrl-C") {
            break;
        }
        line.clear();
    }
    std::thread::spawn(move || for _ in reader.lines() {});
    Served {
        child,
        url: url.expect("gateway URL"),
        fingerprint: fingerprint.expect("fingerprint"),
        cert: cert.expect("certificate path"),
        made_now,
    }
}

fn openssl(args: &[&str], stdin: Option<Vec<u8>>) -> String {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl is installed");
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        std::io::Write::write_all(&mut input, &bytes).unwrap();
    }
    drop(input);
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

fn fingerprint_in(openssl_output: &str) -> String {
    openssl_output.trim().rsplit('=').next().unwrap().to_string()
}

#[test]
fn serve_tls_makes_a_certificate_once_and_serves_both_apis_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve_tls(dir.path());
    assert!(served.url.starts_with("https://127.0.0.1:"), "{}", served.url);
    assert!(served.made_now);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = dir.path().join("tls/key.pem");
        assert_eq!(std::fs::metadata(key).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // The printed fingerprint is the file's and the one the server presents.
    let from_file = openssl(&["x509", "-in", &served.cert, "-noout", "-fingerprint", "-sha256"], None);
    assert_eq!(fingerprint_in(&from_file), served.fingerprint);
    let port = served.url.rsplit(':').next().unwrap().to_string();
    let wire = openssl(
        &["s_client", "-connect", &format!("127.0.0.1:{port}"), "-servername", "localhost"],
        Some(Vec::new()),
    );
    let presented = openssl(&["x509", "-noout", "-fingerprint", "-sha256"], Some(wire.into_bytes()));
    assert_eq!(fingerprint_in(&presented), served.fingerprint);
    let text = openssl(&["x509", "-in", &served.cert, "-noout", "-text"], None);
    assert!(text.contains("DNS:localhost") && text.contains("IP Address:127.0.0.1"), "{text}");

    // A client trusting only this certificate: the health check and a signed Alipay+ answer.
    let pem = std::fs::read(&served.cert).unwrap();
    let http = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    for base in [served.url.clone(), format!("https://localhost:{port}")] {
        assert_eq!(http.get(format!("{base}/healthz")).send().unwrap().text().unwrap(), "ok");
    }
    let app: serde_json::Value = serde_json::from_slice(
        &Command::new(BIN).args(["app", "show", "--json", "--data"]).arg(dir.path()).output().unwrap().stdout,
    )
    .unwrap();
    let client_id = app["clientId"].as_str().unwrap();
    let path = "/aps/api/v1/payments/inquiryPayment";
    let response = http
        .post(format!("{}{path}", served.url))
        .header("content-type", "application/json")
        .header("client-id", client_id)
        .body(r#"{"paymentRequestId":"x"}"#)
        .send()
        .unwrap();
    let header = |n: &str| response.headers()[n].to_str().unwrap().to_string();
    let (client, time, signature) = (header("client-id"), header("response-time"), header("signature"));
    let body = response.text().unwrap();
    assert!(body.contains("KEY_NOT_FOUND"), "{body}");
    let sandbox_key = PublicKey::parse(app["sandboxPublicKey"].as_str().unwrap()).unwrap();
    let parts =
        MessageParts { method: "POST", uri: path, client_id: &client, time: &time, body: body.as_bytes() };
    sandbox_key.verify_message(&signature, &parts).unwrap();
    drop(served);

    // The next start reuses the certificate: the phone's trust stays valid.
    let again = serve_tls(dir.path());
    assert!(!again.made_now);
    assert_eq!(again.fingerprint, fingerprint_in(&from_file));
}
