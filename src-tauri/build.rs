//! Generates the Tauri context (config, capabilities, icons) and the app's command permissions:
//! one `allow-<command>` per command, so a capability must name each command a window may call.

/// Every command the app handles: the companion's (`plusbox_companion::commands::COMMANDS`) and
/// the shell's (`SHELL_COMMANDS`). A test checks this list against both.
const APP_COMMANDS: &[&str] = &[
    "session",
    "pair_loopback",
    "pair_with_code",
    "unpair",
    "accounts",
    "top_up",
    "scenarios",
    "set_scenario",
    "new_code",
    "history",
    "pending",
    "confirm_payment",
    "decline_payment",
    "decode_order_code",
    "confirm_order_code",
    "decline_order_code",
    "scan_image",
    "scan_frame",
    "devices",
    "revoke_device",
    "about",
    "test_cases",
    "run_settings",
    "set_run_settings",
    "run_start",
    "run_view",
    "run_active",
    "run_proceed",
    "run_answer",
    "run_photo",
    "run_skip_photo",
    "run_cancel",
    "results",
    "result",
    "export_results",
    "link_invite",
    "upload_status",
    "upload_now",
    "app_state",
    "set_sharing",
    "use_mode",
    "link_sandbox",
    "start_acquirer",
    "pos_charge",
    "open_merchant_page",
];

/// The newest modification time under `dir` (files only).
fn newest(dir: &std::path::Path) -> Option<std::time::SystemTime> {
    let mut latest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let time =
            if path.is_dir() { newest(&path) } else { entry.metadata().ok().and_then(|m| m.modified().ok()) };
        latest = latest.max(time);
    }
    latest
}

/// The app embeds `ui/dist`: refuse to build without it, and say so when `ui/src` is newer.
fn check_ui() {
    let ui = std::path::Path::new("../ui");
    let index = ui.join("dist/index.html");
    println!("cargo:rerun-if-changed=../ui/dist");
    println!("cargo:rerun-if-changed=../ui/src");
    let Ok(built) = std::fs::metadata(&index).and_then(|m| m.modified()) else {
        eprintln!(
            "the companion UI is not built ({} is missing); run: npm --prefix ui ci && npm --prefix ui run build",
            index.display()
        );
        std::process::exit(1);
    };
    if newest(&ui.join("src")).is_some_and(|source| source > built) {
        println!(
            "cargo:warning=ui/src is newer than ui/dist: the app would embed a stale UI; run npm --prefix ui run build"
        );
    }
}

fn main() {
    check_ui();
    println!("cargo:rustc-env=PLUSBOX_APP_COMMANDS={}", APP_COMMANDS.join(","));
    let attributes =
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(APP_COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        eprintln!("cannot build the Tauri context: {e:#}");
        std::process::exit(1);
    }
}
