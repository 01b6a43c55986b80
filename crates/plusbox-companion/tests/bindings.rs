//! The committed TypeScript bindings match the Rust declarations: regenerate into a temporary
//! directory and compare every file with `ui/src/lib/bindings/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn bindings_are_current() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings");
    let fresh = tempfile::tempdir().unwrap();
    plusbox_companion::commands::write_bindings(fresh.path()).unwrap();
    let mut names: Vec<_> =
        std::fs::read_dir(fresh.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert!(!names.is_empty());
    for name in names {
        let want = std::fs::read_to_string(fresh.path().join(&name)).unwrap();
        let have = std::fs::read_to_string(committed.join(&name)).unwrap_or_default();
        assert!(
            want == have,
            "ui/src/lib/bindings/{} is stale; run `cargo run -p plusbox-companion --example write_bindings`",
            name.to_string_lossy()
        );
    }
}

#[test]
fn every_command_and_error_code_is_in_the_bindings() {
    let text = plusbox_companion::commands::typescript_bindings();
    for name in plusbox_companion::commands::COMMANDS {
        assert!(text.contains(&format!("  {name}: {{ args: ")), "{name} missing from Commands");
    }
    for code in plusbox_companion::error::ErrorCode::ALL {
        assert!(text.contains(&format!("\"{code}\"")), "{code} missing");
    }
}
