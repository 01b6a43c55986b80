//! `plusbox invite`, `device` and `results` as a person types them (issue 14): the built binary
//! on a real data directory, a real sandbox on an ephemeral port for linking, zbarimg reading the
//! invite QR back, and a real .xlsx written by rust_xlsxwriter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn plusbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plusbox")).args(args).output().unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn list(data: &str) -> Vec<Value> {
    let out = plusbox(&["invite", "list", "--data", data, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn an_invite_link_and_its_qr_carry_the_same_url_and_a_revoked_invite_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let png = dir.path().join("invite.png");
    let out = plusbox(&[
        "invite",
        "create",
        "--data",
        data,
        "--merchant",
        "Kopi Corner",
        "--mid",
        "M123",
        "--email",
        "ops@kopi.example",
        "--products",
        "upm",
        "--cases",
        "UPM-PAY-001",
        "--url",
        "http://10.0.0.2:8787",
        "--png",
        png.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let invite: Value = serde_json::from_slice(&out.stdout).unwrap();
    let url = invite["url"].as_str().unwrap();
    assert!(url.starts_with("http://10.0.0.2:8787/#invite=invite_"), "{url}");
    assert_eq!((&invite["status"], &invite["mid"]), (&Value::from("Inactive"), &Value::from("M123")));
    let scanned = Command::new("zbarimg").args(["--quiet", "--raw"]).arg(&png).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&scanned.stdout).trim(), url);

    let refused = plusbox(&[
        "invite",
        "create",
        "--data",
        data,
        "--merchant",
        "X",
        "--mid",
        "M 1",
        "--email",
        "x",
        "--products",
        "upm",
        "--cases",
        "MPM-NOPE-1",
    ]);
    assert!(!refused.status.success());
    let why = text(&refused);
    for field in ["--mid", "--email", "--cases"] {
        assert!(why.contains(field), "{field} named in: {why}");
    }
    assert_eq!(list(data).len(), 1, "the refused invite was not created");

    let id = invite["id"].as_str().unwrap();
    let out = plusbox(&["invite", "revoke", "--data", data, id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(list(data)[0]["status"], "Revoked");
}

fn write_xlsx(path: &Path, rows: &[[&str; 4]]) {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            sheet.write_string(u32::try_from(r).unwrap(), u16::try_from(c).unwrap(), *cell).unwrap();
        }
    }
    workbook.save(path).unwrap();
}

#[test]
fn a_merchant_list_creates_its_good_rows_and_names_each_bad_field_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let csv = dir.path().join("merchants.csv");
    std::fs::write(
        &csv,
        "Name,MID,Email,Products\nKopi Corner,M123,ops@kopi.example,upm\nTeh Tarik,M456,ops-at-teh,card\n\nNasi,M789,n@nasi.example,\"upm, mpm\"\n",
    )
    .unwrap();
    let out = plusbox(&[
        "invite",
        "import",
        "--data",
        data,
        csv.to_str().unwrap(),
        "--url",
        "http://10.0.0.2:8787",
    ]);
    assert!(!out.status.success(), "a refused row fails the import: {}", text(&out));
    let said = text(&out);
    assert!(said.contains("line 2: created inv_"), "{said}");
    assert!(said.contains("line 3: email:") && said.contains("line 3: products:"), "{said}");
    assert!(said.contains("line 5: created inv_"), "{said}");
    assert!(said.contains("Created 2 invite(s); refused 1 row(s)."), "{said}");

    let xlsx = dir.path().join("merchants.xlsx");
    write_xlsx(
        &xlsx,
        &[
            ["merchant", "mid", "email", "products"],
            ["Roti Bakar", "R-001", "roti@bakar.example", "mpm"],
            ["Bad Mid", "", "bad@mid.example", "upm"],
        ],
    );
    let out = plusbox(&["invite", "import", "--data", data, xlsx.to_str().unwrap(), "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(report["created"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["created"][0]["line"], 2);
    assert_eq!(
        report["errors"],
        serde_json::json!([{"line": 3, "field": "MID", "message": "the merchant id is empty"}])
    );

    let invites = list(data);
    let mids: Vec<&str> = invites.iter().map(|i| i["mid"].as_str().unwrap()).collect();
    assert_eq!(mids, vec!["M123", "M789", "R-001"]);
    assert_eq!(invites[1]["products"], serde_json::json!(["upm", "mpm"]));
}

#[test]
fn a_ci_device_links_with_the_invite_link_and_keeps_its_key_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let sandbox = runtime
        .block_on(plusbox_sandbox::Sandbox::start(plusbox_sandbox::SandboxConfig::new(
            &data,
            "127.0.0.1:0".parse().unwrap(),
        )))
        .unwrap();
    let data = data.to_str().unwrap();
    let out = plusbox(&[
        "invite",
        "create",
        "--data",
        data,
        "--merchant",
        "Kopi Corner",
        "--mid",
        "M123",
        "--email",
        "ops@kopi.example",
        "--products",
        "upm",
        "--url",
        sandbox.base_url(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let invite: Value = serde_json::from_slice(&out.stdout).unwrap();
    let device_dir = dir.path().join("device");
    let out = plusbox(&[
        "device",
        "link",
        invite["url"].as_str().unwrap(),
        "--device-dir",
        device_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("MID M123"), "{}", text(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for file in ["device-key.p8", "device-token"] {
            let mode = std::fs::metadata(device_dir.join(file)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
    assert_eq!(list(data)[0]["status"], "Active");
    let out = plusbox(&["device", "status", "--device-dir", device_dir.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((&status["linked"], &status["waiting"]), (&Value::Bool(true), &Value::from(0)));
    let out = plusbox(&["results", "list", "--data", data, "--json"]);
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), serde_json::json!([]));
    let again = plusbox(&[
        "device",
        "link",
        "http://127.0.0.1:9/#pair=pair_x",
        "--device-dir",
        device_dir.to_str().unwrap(),
    ]);
    assert!(!again.status.success() && text(&again).contains("not an invite link"), "{}", text(&again));
    runtime.block_on(sandbox.shutdown());
}
