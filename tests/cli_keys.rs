//! `plusbox keys`, `sign` and `verify` driven as a user would, cross-checked with `openssl`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn plusbox(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plusbox")).args(args).current_dir(dir).output().unwrap()
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn openssl(args: &[&str], dir: &Path) -> Output {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is required: apt-get install openssl");
    assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

const ARGS: [&str; 6] = [
    "--client-id",
    "SANDBOX_5YC47N2ZQHJ004124",
    "--time",
    "2025-02-20T08:51:49.09Z",
    "--uri",
    "/aps/api/v1/payments/pay",
];

#[test]
fn keys_new_writes_an_owner_only_private_key_and_prints_bare_spki() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = ok(plusbox(&["keys", "new", "--out", "k"], dir.path()));
    let public_b64 = stdout.trim();
    assert!(public_b64.starts_with("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A"), "{public_b64}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("k/private_key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // openssl reads both files, and the printed key is the same public key.
    let spki =
        openssl(&["pkey", "-in", "k/private_key.pem", "-pubout", "-outform", "DER"], dir.path()).stdout;
    use base64::Engine as _;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(public_b64).unwrap(), spki);

    // A second run refuses to overwrite the pair.
    let again = plusbox(&["keys", "new", "--out", "k"], dir.path());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));

    let shown: serde_json::Value =
        serde_json::from_str(&ok(plusbox(&["keys", "show", "k/private_key.pem", "--json"], dir.path())))
            .unwrap();
    assert_eq!(shown["kind"], "private");
    assert_eq!(shown["bits"], 2048);
    assert_eq!(shown["publicKey"], public_b64);
    let shown: serde_json::Value =
        serde_json::from_str(&ok(plusbox(&["keys", "show", "k/public_key.pem", "--json"], dir.path())))
            .unwrap();
    assert_eq!(shown["kind"], "public");
}

#[test]
fn sign_and_verify_by_hand_agree_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    ok(plusbox(&["keys", "new", "--out", "k"], dir.path()));
    let body = r#"{"paymentRequestId":"pay_1","paymentAmount":{"currency":"USD","value":"1250"}}"#;
    std::fs::write(dir.path().join("body.json"), body).unwrap();

    let mut sign_args = vec!["sign", "--key", "k/private_key.pem"];
    sign_args.extend(ARGS);
    sign_args.push("body.json");
    let header = ok(plusbox(&sign_args, dir.path())).trim().to_owned();
    assert!(header.starts_with("algorithm=RSA256, keyVersion=1, signature="), "{header}");

    let mut verify_args = vec!["verify", "--public-key", "k/public_key.pem", "--signature", &header];
    verify_args.extend(ARGS);
    verify_args.push("body.json");
    assert!(ok(plusbox(&verify_args, dir.path())).contains("signature OK"));

    // openssl verifies the same signature over the documented content to sign.
    let content =
        format!("POST /aps/api/v1/payments/pay\nSANDBOX_5YC47N2ZQHJ004124.2025-02-20T08:51:49.09Z.{body}");
    std::fs::write(dir.path().join("content"), content).unwrap();
    let encoded = header.rsplit_once("signature=").unwrap().1;
    let decoded = percent_decode(encoded);
    use base64::Engine as _;
    std::fs::write(
        dir.path().join("sig"),
        base64::engine::general_purpose::STANDARD.decode(decoded).unwrap(),
    )
    .unwrap();
    openssl(&["dgst", "-sha256", "-verify", "k/public_key.pem", "-signature", "sig", "content"], dir.path());

    // A changed body fails with exit 1 and shows the content that was verified.
    std::fs::write(dir.path().join("body.json"), body.replace("1250", "1251")).unwrap();
    let header_arg = format!("Signature: {header}");
    let mut verify_args = vec!["verify", "--public-key", "k/public_key.pem", "--signature", &header_arg];
    verify_args.extend(ARGS);
    verify_args.push("body.json");
    let failed = plusbox(&verify_args, dir.path());
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("signature NOT OK"), "{stderr}");
    assert!(stderr.contains("POST /aps/api/v1/payments/pay\nSANDBOX_5YC47N2ZQHJ004124."), "{stderr}");
}

#[test]
fn bad_key_files_get_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junk.pem"), "hello").unwrap();
    let output = plusbox(&["keys", "show", "junk.pem"], dir.path());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("junk.pem is not a usable key"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn percent_decode(text: &str) -> String {
    text.replace("%2B", "+").replace("%2F", "/").replace("%3D", "=")
}
