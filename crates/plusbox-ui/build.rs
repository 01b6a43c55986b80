//! Builds the companion UI (`ui/` at the workspace root) when its sources changed, and embeds
//! the result. A fresh clone needs no extra step: `cargo build` runs `npm ci` (when
//! `ui/node_modules` is missing) and `npm run build`, then records the hash of the inputs in
//! `ui/dist/.source-hash`. When the hash matches, npm is not run. When npm is needed but missing,
//! the build fails saying what to install — a stale or missing UI cannot ship silently.
//!
//! Generates `$OUT_DIR/ui_files.rs`: `(path, content type, include_bytes!(file))` for every file
//! of `ui/dist`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// The inputs whose content decides the build (directories are walked).
const INPUTS: &[&str] = &[
    "src",
    "public",
    "index.html",
    "dashboard.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "svelte.config.js",
    "tsconfig.json",
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let ui = manifest.join("../../ui");
    let dist = ui.join("dist");
    for input in INPUTS {
        println!("cargo:rerun-if-changed={}", ui.join(input).display());
    }
    // A deleted or replaced build must be rebuilt, not embedded half-gone.
    println!("cargo:rerun-if-changed={}", dist.join("index.html").display());
    println!("cargo:rerun-if-changed={}", dist.join(".source-hash").display());
    println!("cargo:rerun-if-env-changed=PLUSBOX_NPM");

    let hash = source_hash(&ui);
    let recorded = std::fs::read_to_string(dist.join(".source-hash")).unwrap_or_default();
    if recorded.trim() != hash || !dist.join("index.html").is_file() {
        build(&ui, &hash);
    }
    embed(&dist);
}

/// SHA-256 over every input file's path and content, in path order.
fn source_hash(ui: &Path) -> String {
    let mut files = Vec::new();
    for input in INPUTS {
        collect(&ui.join(input), &mut files);
    }
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        let relative = file.strip_prefix(ui).unwrap_or(&file);
        hasher.update(relative.to_string_lossy().replace('\\', "/").as_bytes());
        hasher.update([0]);
        hasher.update(std::fs::read(&file).unwrap_or_default());
        hasher.update([0]);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
    } else if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            collect(&entry.path(), out);
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("\nerror: {message}\n");
    std::process::exit(1);
}

fn build(ui: &Path, hash: &str) {
    if !ui.join("package.json").is_file() {
        fail(&format!("the companion UI sources are missing ({} has no package.json)", ui.display()));
    }
    let npm = std::env::var("PLUSBOX_NPM").unwrap_or_else(|_| "npm".into());
    let works = Command::new(&npm).arg("--version").output().is_ok_and(|o| o.status.success());
    if !works {
        fail(
            "building Plusbox needs Node.js 20 (or newer) with npm to build the companion UI in ui/, \
             and `npm` was not found. Install it (Debian/Ubuntu: `apt-get install nodejs npm`; \
             or from https://nodejs.org), or point PLUSBOX_NPM at npm.",
        );
    }
    let run = |args: &[&str]| {
        println!("cargo:warning=building the companion UI: npm {}", args.join(" "));
        let status = Command::new(&npm).args(args).current_dir(ui).status();
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => fail(&format!("`npm {}` in {} failed ({status})", args.join(" "), ui.display())),
            Err(error) => fail(&format!("cannot run `npm {}`: {error}", args.join(" "))),
        }
    };
    if !ui.join("node_modules").is_dir() {
        run(&["ci", "--no-audit", "--no-fund"]);
    }
    run(&["run", "build"]);
    let dist = ui.join("dist");
    if !dist.join("index.html").is_file() {
        fail("`npm run build` did not write ui/dist/index.html");
    }
    if let Err(error) = std::fs::write(dist.join(".source-hash"), format!("{hash}\n")) {
        fail(&format!("cannot write ui/dist/.source-hash: {error}"));
    }
}

fn embed(dist: &Path) {
    let mut files = Vec::new();
    collect(dist, &mut files);
    files.sort();
    let mut out = String::from("/// The UI build: (path under `/`, content type, bytes).\n");
    out.push_str("pub const FILES: &[(&str, &str, &[u8])] = &[\n");
    for file in files {
        let relative = file.strip_prefix(dist).unwrap_or(&file).to_string_lossy().replace('\\', "/");
        if relative.starts_with('.') {
            continue;
        }
        let mime = mime_guess::from_path(&file).first_or_octet_stream();
        let mime = match mime.type_() {
            mime_guess::mime::TEXT | mime_guess::mime::APPLICATION
                if mime.get_param("charset").is_none()
                    && (mime.type_() == mime_guess::mime::TEXT
                        || mime.subtype() == "javascript"
                        || mime.subtype() == "json") =>
            {
                format!("{mime}; charset=utf-8")
            }
            _ => mime.to_string(),
        };
        let absolute = std::fs::canonicalize(&file).unwrap_or(file.clone());
        out.push_str(&format!(
            "    ({:?}, {mime:?}, include_bytes!({:?})),\n",
            format!("/{relative}"),
            absolute.display().to_string()
        ));
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("ui_files.rs");
    if let Err(error) = std::fs::write(&target, out) {
        fail(&format!("cannot write {}: {error}", target.display()));
    }
}
