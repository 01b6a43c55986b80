//! `plusbox scan --json` on QR codes whose content is not UTF-8: the code is found (exit 0) and
//! reported with `bytesHex`, `encoding`, and `text` (null for binary content). Codes made by
//! `qrencode`; `zbarimg` reads the same bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_plusbox");

fn qrencode(mode: &str, content: &[u8], out: &Path) {
    let mut child = Command::new("qrencode")
        .args([mode, "-s", "4", "-o"])
        .arg(out)
        .stdin(Stdio::piped())
        .spawn()
        .expect("qrencode is installed (apt-get install qrencode)");
    child.stdin.take().unwrap().write_all(content).unwrap();
    assert!(child.wait().unwrap().success());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn scan_json_reports_binary_and_shift_jis_codes_with_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let binary: Vec<u8> = vec![0x00, 0xff, 0x80, 0xc3, 0x28, 0x41, 0xfe, 0x10];
    // "領収書" (receipt) in Shift_JIS.
    let sjis: Vec<u8> = vec![0x97, 0xcc, 0x8e, 0xfb, 0x8f, 0x91];
    qrencode("-8", &binary, &dir.path().join("binary.png"));
    qrencode("-k", &sjis, &dir.path().join("kanji.png"));

    let out = Command::new(BIN)
        .args(["scan", "--json", "binary.png", "kanji.png"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "both codes are found: {}", String::from_utf8_lossy(&out.stderr));
    let entries: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");

    assert_eq!(entries[0]["file"], "binary.png");
    assert_eq!(entries[0]["bytesHex"], hex(&binary));
    assert_eq!(entries[0]["text"], Value::Null);
    assert_eq!(entries[0]["encoding"], Value::Null);
    assert_eq!(entries[0]["classification"], Value::Null, "binary content is no payment code");

    assert_eq!(entries[1]["bytesHex"], hex(&sjis));
    assert_eq!(entries[1]["text"], "領収書");
    assert_eq!(entries[1]["encoding"], "Shift_JIS");
    assert!(entries[1]["classification"].is_object(), "text is classified: {}", entries[1]);

    // zbarimg, raw bytes without charset conversion, agrees.
    let zbar = Command::new("zbarimg")
        .args(["--raw", "--quiet", "-Sbinary", "binary.png"])
        .current_dir(dir.path())
        .output()
        .expect("zbarimg is installed (apt-get install zbar-tools)");
    assert_eq!(zbar.stdout, binary);

    // Without --json the binary code is described by its bytes.
    let out = Command::new(BIN).args(["scan", "binary.png"]).current_dir(dir.path()).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("binary content, 8 bytes: {}", hex(&binary))), "{text}");
}
