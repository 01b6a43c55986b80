//! The companion's [`Host`] inside the app: the sandbox URL of the current mode, the device token
//! of that mode kept in an owner-only file under the app's data dir, and live events sent to the
//! webview with `app.emit`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use plusbox_companion::commands::CompanionEvent;
pub use plusbox_companion::device_key::write_private;
use plusbox_companion::host::Host;
use plusbox_companion::runs::Runs;
use plusbox_core::secret::SecretString;
use tauri::{AppHandle, Emitter as _, Runtime};

use crate::modes::Shell;

/// The host one command runs with: the app handle and the shell's state at the time of the call.
pub struct AppHost<R: Runtime> {
    app: AppHandle<R>,
    shell: Arc<Shell>,
    /// The mode's sandbox URL, fixed for the whole command (a mode switch does not change a
    /// command halfway).
    sandbox_url: String,
    /// The mode's own directory (token file, and the embedded sandbox's data).
    mode_dir: PathBuf,
    /// The embedded sandbox runs in this process: the app is on its machine.
    loopback: bool,
}

// By hand: a derive would ask for `R: Clone`, which runtimes are not.
impl<R: Runtime> Clone for AppHost<R> {
    fn clone(&self) -> Self {
        AppHost {
            app: self.app.clone(),
            shell: Arc::clone(&self.shell),
            sandbox_url: self.sandbox_url.clone(),
            mode_dir: self.mode_dir.clone(),
            loopback: self.loopback,
        }
    }
}

impl<R: Runtime> AppHost<R> {
    /// A host for the shell's current mode.
    pub fn new(app: AppHandle<R>, shell: Arc<Shell>) -> AppHost<R> {
        let current = shell.current();
        AppHost {
            app,
            sandbox_url: current.sandbox_url,
            mode_dir: shell.mode_dir(current.mode),
            loopback: current.mode == crate::modes::Mode::Embedded,
            shell,
        }
    }

    /// The shell behind it.
    pub fn shell(&self) -> &Arc<Shell> {
        &self.shell
    }
}

impl<R: Runtime> Host for AppHost<R> {
    fn sandbox_url(&self) -> String {
        self.sandbox_url.clone()
    }

    fn http(&self) -> reqwest::Client {
        self.shell.http()
    }

    fn device_token(&self) -> Option<SecretString> {
        read_token(&self.mode_dir)
    }

    fn store_device_token(&self, token: Option<SecretString>) {
        if let Err(e) = write_token(&self.mode_dir, token.as_ref()) {
            // The command still succeeds for this run; the next start asks to pair again.
            eprintln!("plusbox-app: cannot keep the device token in {}: {e}", self.mode_dir.display());
        }
    }

    fn on_loopback(&self) -> bool {
        self.loopback
    }

    fn data_dir(&self) -> Option<PathBuf> {
        Some(self.mode_dir.clone())
    }

    /// The app signs its uploads with a device key of its own.
    fn signs_uploads(&self) -> bool {
        true
    }

    /// The app keeps that key in the platform keystore (Keychain, Android Keystore, Secret
    /// Service) when it answers, else owner-only in the mode's directory.
    fn key_storage(&self) -> plusbox_companion::keystore::KeyStorage {
        plusbox_companion::keystore::KeyStorage::Auto
    }

    fn runs(&self) -> Option<Runs> {
        let (runs, fresh) = match self.shell.runs(&self.mode_dir) {
            Ok(opened) => opened,
            Err(e) => {
                eprintln!("plusbox-app: cannot open the results store in {}: {e}", self.mode_dir.display());
                return None;
            }
        };
        if fresh {
            // The mode's upload queue is this app's own too: relay every `upload` event.
            let (host, mut uploads) = (self.clone(), runs.subscribe_uploads());
            tauri::async_runtime::spawn(async move {
                loop {
                    match uploads.recv().await {
                        Ok(event) => host.emit(CompanionEvent::Upload(Box::new(event.status))),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    }
                }
            });
            // The mode's runs are this app's own: relay every `run` event to the webview.
            let (host, mut events) = (self.clone(), runs.subscribe());
            tauri::async_runtime::spawn(async move {
                loop {
                    match events.recv().await {
                        Ok(event) => host.emit(CompanionEvent::Run(Box::new(event.view))),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    }
                }
            });
        }
        Some(runs)
    }

    fn emit(&self, event: CompanionEvent) {
        let result = match &event {
            CompanionEvent::Pending(list) => self.app.emit(event.name(), list),
            CompanionEvent::Payment(change) => self.app.emit(event.name(), change),
            CompanionEvent::Run(view) => self.app.emit(event.name(), view),
            CompanionEvent::Upload(status) => self.app.emit(event.name(), status),
        };
        if let Err(e) = result {
            eprintln!("plusbox-app: cannot send the {} event: {e}", event.name());
        }
    }
}

/// The token file of a mode.
fn token_path(mode_dir: &Path) -> PathBuf {
    mode_dir.join("device-token")
}

/// The mode's device token, if it has paired.
pub fn read_token(mode_dir: &Path) -> Option<SecretString> {
    let text = std::fs::read_to_string(token_path(mode_dir)).ok()?;
    let token = text.trim();
    (!token.is_empty()).then(|| SecretString::new(token.to_string()))
}

/// Keeps (or, with `None`, removes) the mode's device token; the file is readable by its owner only.
pub fn write_token(mode_dir: &Path, token: Option<&SecretString>) -> std::io::Result<()> {
    let path = token_path(mode_dir);
    let Some(token) = token else {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    };
    std::fs::create_dir_all(mode_dir)?;
    write_private(&path, token.expose().as_bytes())
}
