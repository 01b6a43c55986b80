//! Writes the UI's TypeScript bindings (`ui/src/lib/bindings/index.ts`) from the Rust command
//! declarations. Run after changing a command, an argument or a result type:
//! `cargo run -p plusbox-companion --example write_bindings`.

fn main() -> std::process::ExitCode {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings");
    match plusbox_companion::commands::write_bindings(&dir) {
        Ok(()) => {
            println!("wrote {}", dir.join("index.ts").display());
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot write the bindings into {}: {error}", dir.display());
            std::process::ExitCode::FAILURE
        }
    }
}
