//! The UI build script's rules, run for real on a scratch workspace with a stand-in `npm` (a shell
//! script that records its calls and writes `dist/index.html`): npm runs when the sources changed
//! and not when they did not, `.source-hash` is written, and a changed UI without npm fails the
//! build with a message naming what to install — a stale UI cannot ship silently.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The compiled build script of this crate (a sibling of this crate's `OUT_DIR` parent).
fn build_script() -> PathBuf {
    let build_dir = Path::new(env!("OUT_DIR")).parent().unwrap().parent().unwrap().to_path_buf();
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(&build_dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("plusbox-ui-")))
        .map(|p| p.join("build-script-build"))
        .filter(|p| p.is_file())
        .collect();
    candidates.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    candidates.pop().expect("the build script was compiled")
}

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("crates/plusbox-ui")).unwrap();
        std::fs::create_dir_all(root.join("ui/src")).unwrap();
        std::fs::create_dir_all(root.join("ui/node_modules")).unwrap();
        std::fs::create_dir_all(root.join("out")).unwrap();
        std::fs::write(root.join("ui/package.json"), "{}").unwrap();
        std::fs::write(root.join("ui/src/main.ts"), "console.log(1)").unwrap();
        let npm = root.join("npm");
        std::fs::write(
            &npm,
            "#!/bin/sh\necho \"$@\" >> \"$(dirname \"$0\")/npm.log\"\n\
             if [ \"$1 $2\" = \"run build\" ]; then mkdir -p dist/assets && echo '<script src=\"/assets/a.js\"></script>' > dist/index.html && echo 'x' > dist/assets/a.js; fi\n",
        )
        .unwrap();
        std::fs::set_permissions(&npm, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch { dir }
    }

    fn run(&self, npm: &str) -> Output {
        let root = self.dir.path();
        Command::new(build_script())
            .env("CARGO_MANIFEST_DIR", root.join("crates/plusbox-ui"))
            .env("OUT_DIR", root.join("out"))
            .env("PLUSBOX_NPM", npm)
            .output()
            .unwrap()
    }

    fn npm(&self) -> String {
        self.dir.path().join("npm").display().to_string()
    }

    fn npm_calls(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("npm.log")).unwrap_or_default()
    }
}

#[test]
fn npm_builds_only_when_the_sources_changed_and_a_stale_ui_without_npm_fails() {
    let scratch = Scratch::new();
    let first = scratch.run(&scratch.npm());
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(scratch.npm_calls().contains("run build"));
    let hash = std::fs::read_to_string(scratch.dir.path().join("ui/dist/.source-hash")).unwrap();
    assert_eq!(hash.trim().len(), 64);
    let embedded = std::fs::read_to_string(scratch.dir.path().join("out/ui_files.rs")).unwrap();
    assert!(embedded.contains("\"/index.html\", \"text/html; charset=utf-8\""), "{embedded}");
    assert!(embedded.contains("\"/assets/a.js\""), "{embedded}");
    assert!(!embedded.contains(".source-hash"), "the marker is not served");

    // Unchanged sources: npm is not needed at all.
    let unchanged = scratch.run("/nonexistent/npm");
    assert!(unchanged.status.success(), "{}", String::from_utf8_lossy(&unchanged.stderr));

    // Changed sources and no npm: the build fails and says what to install.
    std::fs::write(scratch.dir.path().join("ui/src/main.ts"), "console.log(2)").unwrap();
    let stale = scratch.run("/nonexistent/npm");
    assert!(!stale.status.success());
    let message = String::from_utf8_lossy(&stale.stderr);
    assert!(message.contains("Node.js") && message.contains("npm"), "{message}");

    // With npm again, it rebuilds and records the new hash.
    let rebuilt = scratch.run(&scratch.npm());
    assert!(rebuilt.status.success());
    let new_hash = std::fs::read_to_string(scratch.dir.path().join("ui/dist/.source-hash")).unwrap();
    assert_ne!(new_hash, hash);
    assert_eq!(scratch.npm_calls().matches("run build").count(), 2);
    assert!(!scratch.npm_calls().contains("ci"), "node_modules exists, so no npm ci");
}

#[test]
fn missing_node_modules_are_installed_with_npm_ci() {
    let scratch = Scratch::new();
    std::fs::remove_dir(scratch.dir.path().join("ui/node_modules")).unwrap();
    let output = scratch.run(&scratch.npm());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let calls = scratch.npm_calls();
    let ci = calls.find("ci --no-audit").expect("npm ci ran");
    assert!(ci < calls.find("run build").unwrap(), "npm ci before the build: {calls}");
}
