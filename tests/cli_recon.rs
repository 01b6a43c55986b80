//! `plusbox app set-sftp-key` and the key list of `plusbox app show`, driven as a user would,
//! with keys made by `ssh-keygen`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_plusbox");

fn app(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN).arg("app").args(args).arg("--data").arg(data).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn keygen(dir: &Path, name: &str, kind: &str) -> String {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", name, "-f"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let listed = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(path.with_extension("pub"))
        .output()
        .unwrap();
    String::from_utf8(listed.stdout).unwrap().split_whitespace().nth(1).unwrap().to_owned()
}

fn keys(data: &Path) -> Vec<serde_json::Value> {
    let shown = app(data, &["show", "--json"]);
    assert!(shown.status.success(), "{}", text(&shown));
    let json: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert!(json["sftp"]["username"].is_string() && json["sftp"]["password"].is_string(), "{json}");
    json["sftp"]["keys"].as_array().unwrap().clone()
}

#[test]
fn sftp_keys_are_set_listed_by_fingerprint_replaced_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert_eq!(keys(&data), Vec::<serde_json::Value>::new(), "no key until one is set");

    let ed = keygen(dir.path(), "ed", "ed25519");
    let ecdsa = keygen(dir.path(), "ec", "ecdsa");
    let both = dir.path().join("both.pub");
    let text_of = |n: &str| std::fs::read_to_string(dir.path().join(format!("{n}.pub"))).unwrap();
    std::fs::write(&both, format!("# keys of the back office\n{}\n{}", text_of("ed"), text_of("ec")))
        .unwrap();
    let set = app(&data, &["set-sftp-key", both.to_str().unwrap()]);
    assert!(set.status.success(), "{}", text(&set));
    assert!(text(&set).contains(&ed) && text(&set).contains(&ecdsa), "{}", text(&set));
    let listed = keys(&data);
    let fingerprints: Vec<&str> = listed.iter().map(|k| k["fingerprint"].as_str().unwrap()).collect();
    assert_eq!(fingerprints, vec![ed.as_str(), ecdsa.as_str()]);
    assert_eq!(listed[0]["algorithm"], "ssh-ed25519");
    assert_eq!(listed[1]["comment"], "ec");
    let plain = app(&data, &["show"]);
    assert!(text(&plain).contains(&format!("SFTP key:           ssh-ed25519 {ed}")), "{}", text(&plain));

    // Setting again replaces: only the ECDSA key is left.
    let one = dir.path().join("ec.pub");
    assert!(app(&data, &["set-sftp-key", one.to_str().unwrap()]).status.success());
    assert_eq!(keys(&data).len(), 1);

    // A bad line is refused naming it, and the keys stay as they were.
    let bad = dir.path().join("bad.pub");
    std::fs::write(&bad, format!("{}ssh-ed25519 !!!not-base64 x\n", text_of("ed"))).unwrap();
    let refused = app(&data, &["set-sftp-key", bad.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("line 2"), "{}", text(&refused));
    assert_eq!(keys(&data).len(), 1);
    let missing = app(&data, &["set-sftp-key", dir.path().join("nope.pub").to_str().unwrap()]);
    assert!(!missing.status.success() && text(&missing).contains("nope.pub"), "{}", text(&missing));
    let empty = dir.path().join("empty.pub");
    std::fs::write(&empty, "# nothing\n").unwrap();
    let refused = app(&data, &["set-sftp-key", empty.to_str().unwrap()]);
    assert!(!refused.status.success() && text(&refused).contains("no public key"), "{}", text(&refused));

    // `none` removes them all.
    let removed = app(&data, &["set-sftp-key", "none"]);
    assert!(removed.status.success(), "{}", text(&removed));
    assert!(keys(&data).is_empty());
}
