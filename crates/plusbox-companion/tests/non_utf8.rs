//! QR codes whose content is not UTF-8 text are found codes too: binary (8-bit mode) content
//! comes back with its exact bytes and no text, Shift_JIS (kanji mode) content with its bytes and
//! its Japanese text. Codes made by `qrencode`; `zbarimg` cross-checks what we read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use plusbox_companion::scan::{scan_file, ScanOptions, TextEncoding};

fn qrencode(args: &[&str], input: &[u8], out: &Path) {
    use std::io::Write as _;
    let mut child = Command::new("qrencode")
        .args(args)
        .args(["-s", "4", "-o"])
        .arg(out)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("qrencode is installed (apt-get install qrencode)");
    child.stdin.take().unwrap().write_all(input).unwrap();
    assert!(child.wait().unwrap().success());
}

/// What zbarimg reads, as raw bytes (`-Sbinary`: no charset conversion) or as text.
fn zbar(path: &Path, binary: bool) -> Vec<u8> {
    let mut command = Command::new("zbarimg");
    command.args(["--raw", "--quiet"]);
    if binary {
        command.arg("-Sbinary");
    }
    let output = command.arg(path).output().expect("zbarimg is installed (apt-get install zbar-tools)");
    assert!(output.status.success(), "zbarimg: {}", String::from_utf8_lossy(&output.stderr));
    let mut bytes = output.stdout;
    // Text mode ends the symbol with a newline.
    if !binary && bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    bytes
}

#[test]
fn binary_content_is_a_found_code_with_its_bytes_and_no_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("binary.png");
    // Every byte value but 0, in an order that is not UTF-8.
    let content: Vec<u8> = (1..=255u8).rev().take(120).collect();
    assert!(std::str::from_utf8(&content).is_err());
    qrencode(&["-8"], &content, &path);
    let found = scan_file(&path, &ScanOptions::fast()).unwrap();
    assert_eq!(found.len(), 1, "the code is found");
    assert_eq!(found[0].bytes, content);
    assert_eq!(found[0].exact_text(), None);
    assert_eq!(found[0].encoding, None);
    assert_eq!(found[0].bytes_hex(), content.iter().map(|b| format!("{b:02x}")).collect::<String>());
    assert_eq!(zbar(&path, true), content, "zbarimg reads the same bytes");
}

#[test]
fn kanji_mode_content_reads_as_shift_jis_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kanji.png");
    let text = "お支払い合計金額日本円";
    let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!unmappable);
    qrencode(&["-k"], &sjis, &path);
    let found = scan_file(&path, &ScanOptions::fast()).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].bytes, sjis.as_ref(), "the bytes as the code holds them");
    assert_eq!(found[0].exact_text(), Some(text));
    assert_eq!(found[0].encoding, Some(TextEncoding::ShiftJis));
    assert_eq!(zbar(&path, true), sjis.as_ref(), "zbarimg reads the same bytes");
    assert_eq!(zbar(&path, false), text.as_bytes(), "and the same text");
}

#[test]
fn utf8_byte_mode_content_reads_as_utf8_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("utf8.png");
    let text = "Café 支付 ✓ https://example.com/é";
    qrencode(&["-8"], text.as_bytes(), &path);
    let found = scan_file(&path, &ScanOptions::fast()).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].exact_text(), Some(text));
    assert_eq!(found[0].encoding, Some(TextEncoding::Utf8));
    assert_eq!(zbar(&path, false), text.as_bytes());
}

#[test]
fn found_codes_serialise_their_bytes_as_hex() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("binary.png");
    qrencode(&["-8"], &[0xff, 0xfe, 0x80, 0x41], &path);
    let found = scan_file(&path, &ScanOptions::fast()).unwrap();
    let json = serde_json::to_value(&found[0]).unwrap();
    assert_eq!(json["bytesHex"], "fffe8041");
    assert_eq!(json["encoding"], serde_json::Value::Null);
}
