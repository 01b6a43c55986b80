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
    "scan_image",
    "scan_frame",
    "devices",
    "revoke_device",
    "about",
    "app_state",
    "set_sharing",
    "use_mode",
    "link_sandbox",
    "start_acquirer",
    "pos_charge",
];

fn main() {
    println!("cargo:rustc-env=PLUSBOX_APP_COMMANDS={}", APP_COMMANDS.join(","));
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(APP_COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        eprintln!("cannot build the Tauri context: {e:#}");
        std::process::exit(1);
    }
}
