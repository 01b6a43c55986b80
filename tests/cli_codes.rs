//! `plusbox code …` and `plusbox scan` through the binary, cross-checked with `zbarimg`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_plusbox");

/// EMV test vector 2 of payment-codes.md §5.6.
const EMV_VECTOR: &str = "00020101021252044131153137210116372101160123456789ABCDE6010Phnom Penh5913Merchant Shop5802KH540510.005303840622501081234567802090124444446304A0BA";

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN).args(args).current_dir(dir).output().unwrap()
}

fn ok(args: &[&str], dir: &Path) -> String {
    let out = run(args, dir);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn json(args: &[&str], dir: &Path) -> Value {
    serde_json::from_str(&ok(args, dir)).unwrap()
}

#[test]
fn new_codes_of_every_form_identify_as_their_family() {
    let dir = tempfile::tempdir().unwrap();
    for (form, len, family) in [
        ("24", 24, "CGCP_24"),
        ("17", 17, "ALIPAY_CN_HK"),
        ("18", 18, "ALIPAY_CN_HK"),
        ("19", 19, "ALIPAY_PLUS_19"),
    ] {
        let made = json(&["code", "new", "--form", form, "--json"], dir.path());
        let code = made["code"].as_str().unwrap();
        assert_eq!(code.len(), len, "{made}");
        assert!(code.bytes().all(|b| b.is_ascii_digit()), "{made}");
        let identified = json(&["code", "identify", code, "--json"], dir.path());
        assert_eq!(identified["family"], family, "{identified}");
        assert_eq!(identified["valid"], true, "{identified}");
    }
    // An AlipayHK persona code carries that wallet's routing number and identifies as AlipayHK.
    let hk = json(&["code", "new", "--wallet", "AlipayHK", "--json"], dir.path());
    let identified = json(&["code", "identify", hk["code"].as_str().unwrap(), "--json"], dir.path());
    assert_eq!(identified["walletBrandName"], "AlipayHK");
    assert_eq!(identified["pspId"], hk["pspId"]);
}

#[test]
fn identify_follows_the_reference_classification_table() {
    let dir = tempfile::tempdir().unwrap();
    // payment-codes.md §3 classification test table.
    for (code, family, valid) in [
        ("251001020123456789012345", "CGCP_24", true),
        ("281010897274821897274821", "CGCP_24", true),
        ("281006020000000000125733", "CGCP_24", true),
        ("2893612204263667830", "ALIPAY_PLUS_19", true),
        ("28024456785672301", "ALIPAY_CN_HK", true),
        ("280244567856723012", "ALIPAY_CN_HK", true),
        ("2891234567890123456", "ALIPAY_CN_HK", true),
        ("2502445678567230123456", "RESERVED_LENGTH", false),
        ("12345678901234567", "NOT_ALIPAY_PLUS", false),
    ] {
        let out = run(&["code", "identify", code, "--json"], dir.path());
        assert_eq!(out.status.success(), valid, "{code}: exit status says whether it is acceptable");
        let identified: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(identified["family"], family, "{code}: {identified}");
        assert_eq!(identified["valid"], valid, "{code}");
        if !valid {
            assert!(identified["reason"].as_str().is_some_and(|r| !r.is_empty()), "{code}: {identified}");
        }
    }
}

#[test]
fn rendered_codes_scan_back_with_ours_and_zbar() {
    let dir = tempfile::tempdir().unwrap();
    let code = json(&["code", "new", "--json"], dir.path())["code"].as_str().unwrap().to_owned();
    ok(&["code", "render", &code, "--format", "png", "--out", "code.png"], dir.path());
    ok(&["code", "render", &code, "--format", "svg", "--out", "code.svg", "--size", "print"], dir.path());

    let scanned = json(&["scan", "code.png", "--json"], dir.path());
    let texts: Vec<&str> = scanned.as_array().unwrap().iter().filter_map(|e| e["text"].as_str()).collect();
    assert!(texts.contains(&code.as_str()), "{scanned}");

    let zbar = Command::new("zbarimg")
        .args(["--quiet", "--raw", "code.png"])
        .current_dir(dir.path())
        .output()
        .expect("zbarimg is required: apt-get install zbar-tools");
    let zbar_text = String::from_utf8_lossy(&zbar.stdout);
    // The PNG stacks a Code 128 barcode and a QR code: zbar reads both.
    assert_eq!(zbar_text.lines().filter(|l| *l == code).count(), 2, "{zbar_text}");

    let svg = std::fs::read_to_string(dir.path().join("code.svg")).unwrap();
    assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
    assert!(svg.contains("mm\""), "print SVGs are sized in millimetres");
    assert!(svg.trim_end().ends_with("</svg>"));

    let terminal = ok(&["code", "render", &code, "--format", "terminal"], dir.path());
    assert!(terminal.contains('█') || terminal.contains('▀') || terminal.contains('▄'), "{terminal}");
}

#[test]
fn emv_decode_encode_and_crc_errors() {
    let dir = tempfile::tempdir().unwrap();
    let decoded = json(&["code", "emv", "decode", EMV_VECTOR], dir.path());
    assert_eq!(decoded["valid"], true);
    assert_eq!(decoded["crc"], "A0BA");
    assert_eq!(decoded["fields"]["59"], "Merchant Shop");
    assert_eq!(decoded["fields"]["62"]["01"], "12345678");

    // Re-encoding the decoded fields gives the vector back byte for byte.
    std::fs::write(dir.path().join("fields.json"), decoded["fields"].to_string()).unwrap();
    let encoded = ok(&["code", "emv", "encode", "--json", "@fields.json"], dir.path());
    assert_eq!(encoded.trim(), EMV_VECTOR);

    let tampered = EMV_VECTOR.replace("Merchant Shop", "Merchant Shoq");
    let out = run(&["code", "emv", "decode", &tampered], dir.path());
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("expected") && error.contains("found A0BA"), "{error}");
}

#[test]
fn bad_input_gets_a_clear_error_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not an image").unwrap();
    for args in [
        vec!["scan", "notes.txt", "--json"],
        vec!["scan", "missing.png"],
        vec!["code", "emv", "decode", "0002"],
        vec!["code", "new", "--form", "20"],
        vec!["code", "new", "--wallet", "NoSuchWallet"],
    ] {
        let out = run(&args, dir.path());
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.trim().is_empty() || !out.stdout.is_empty(), "{args:?} said nothing");
    }
}

#[test]
fn a_reader_that_hangs_up_ends_the_output_quietly() {
    use std::io::Read as _;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    for args in [
        ["acquirer", "faults"].as_slice(),
        ["code", "render", "251001020123456789012345", "--format", "svg"].as_slice(),
    ] {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Like `| head` that has already exited: the reader is gone before the first write.
        drop(child.stdout.take());
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        child.wait().unwrap();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
