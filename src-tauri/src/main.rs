//! Desktop entry point of the Plusbox companion app.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    plusbox_app_lib::run();
}
