//! `plusbox device …` (issue 14): the companion's device, headless, for a merchant's CI. A device
//! directory holds what the app keeps in its data directory: the device token (owner-only), the
//! device's Ed25519 key (owner-only, never sent), the sandbox URL and the invite it linked
//! through (`device.json`), and `results.sqlite` with its runs and upload queue. The same
//! companion code runs it: [`DirHost`] is a companion host over the directory.
//!
//! `plusbox device link URL --device-dir DIR` links it with an invite link; `plusbox run
//! --device-dir DIR … --upload` runs cases as this device and uploads them signed through the
//! queue; `device upload` sends what is still waiting, `device status` shows the queue.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};
use plusbox_companion::commands::{CompanionEvent, Empty};
use plusbox_companion::device_key::write_private;
use plusbox_companion::host::Host;
use plusbox_companion::runs::Runs;
use plusbox_companion::upload::{LinkInviteArgs, UploadStatus};
use plusbox_core::secret::SecretString;
use serde::{Deserialize, Serialize};

/// `--device-dir DIR`.
#[derive(Debug, Clone, Args)]
pub struct DeviceDirArg {
    /// The device's directory (token, key, results and upload queue).
    #[arg(long, value_name = "DIR")]
    pub device_dir: PathBuf,
}

/// `plusbox device …`.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Link this device with an invite link (`http://HOST:PORT/#invite=…`): makes its key pair,
    /// registers the public key and keeps the device token in the directory.
    Link {
        /// The invite link from `plusbox invite create`.
        url: String,
        #[command(flatten)]
        dir: DeviceDirArg,
        /// A name for the device (default: "CI device").
        #[arg(long, default_value = "CI device")]
        name: String,
        /// Where the device's private key goes: `file` (owner-only, in the directory), `auto`
        /// (the platform keystore if it answers, else the file) or `platform` (the keystore or
        /// fail). Secret Service on Linux, the Keychain on macOS.
        #[arg(long, value_name = "WHERE", default_value = "file")]
        key_store: plusbox_companion::keystore::KeyStorage,
    },
    /// Send every bundle still waiting in the upload queue now.
    Upload {
        #[command(flatten)]
        dir: DeviceDirArg,
        /// JSON output (the UploadStatus).
        #[arg(long)]
        json: bool,
    },
    /// Show the upload queue.
    Status {
        #[command(flatten)]
        dir: DeviceDirArg,
        /// JSON output (the UploadStatus).
        #[arg(long)]
        json: bool,
    },
}

/// What `device.json` keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceFile {
    /// The sandbox's base URL.
    pub sandbox_url: String,
    /// The device id the sandbox gave.
    pub device_id: i64,
    /// The device's name.
    pub device_name: String,
    /// The invite it linked through.
    pub invite: plusbox_companion::upload::LinkedInvite,
}

const DEVICE_FILE: &str = "device.json";
const TOKEN_FILE: &str = "device-token";

/// A companion host over a device directory.
#[derive(Clone)]
pub struct DirHost {
    dir: PathBuf,
    sandbox_url: String,
    http: reqwest::Client,
    runs: Runs,
    token: Arc<Mutex<Option<SecretString>>>,
    key_storage: plusbox_companion::keystore::KeyStorage,
}

impl DirHost {
    /// The host of `dir` reaching the sandbox at `sandbox_url`.
    pub fn new(dir: &Path, sandbox_url: &str) -> anyhow::Result<DirHost> {
        create_private_dir(dir)?;
        let http = plusbox_companion::client::http_client().map_err(|e| anyhow!("{e}"))?;
        let runs = Runs::open(Some(dir)).map_err(|e| anyhow!("{e}"))?;
        let token = std::fs::read_to_string(dir.join(TOKEN_FILE))
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .map(SecretString::new);
        Ok(DirHost {
            dir: dir.to_path_buf(),
            sandbox_url: sandbox_url.trim_end_matches('/').to_string(),
            http,
            runs,
            token: Arc::new(Mutex::new(token)),
            key_storage: plusbox_companion::keystore::KeyStorage::File,
        })
    }

    /// Where a key made by linking goes (`--key-store`).
    pub fn with_key_storage(mut self, storage: plusbox_companion::keystore::KeyStorage) -> DirHost {
        self.key_storage = storage;
        self
    }

    /// The host of a linked device directory (its sandbox URL from `device.json`).
    pub fn open(dir: &Path) -> anyhow::Result<(DirHost, DeviceFile)> {
        let path = dir.join(DEVICE_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("{} is not a linked device directory (no {DEVICE_FILE}); run `plusbox device link URL --device-dir {}` first", dir.display(), dir.display())
        })?;
        let file: DeviceFile =
            serde_json::from_str(&text).with_context(|| format!("{} is unreadable", path.display()))?;
        let host = DirHost::new(dir, &file.sandbox_url)?;
        if host.device_token().is_none() {
            anyhow::bail!("{} has no device token; link it again with `plusbox device link`", dir.display());
        }
        Ok((host, file))
    }

    /// Its run registry (results store and upload queue).
    pub fn registry(&self) -> Runs {
        self.runs.clone()
    }
}

impl Host for DirHost {
    fn sandbox_url(&self) -> String {
        self.sandbox_url.clone()
    }

    fn http(&self) -> reqwest::Client {
        self.http.clone()
    }

    fn device_token(&self) -> Option<SecretString> {
        self.token.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn store_device_token(&self, token: Option<SecretString>) {
        let path = self.dir.join(TOKEN_FILE);
        let written = match &token {
            Some(token) => write_private(&path, token.expose().as_bytes()),
            None => std::fs::remove_file(&path).or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            }),
        };
        if let Err(e) = written {
            eprintln!("plusbox: cannot keep the device token in {}: {e}", path.display());
        }
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = token;
    }

    fn on_loopback(&self) -> bool {
        false
    }

    fn signs_uploads(&self) -> bool {
        true
    }

    fn key_storage(&self) -> plusbox_companion::keystore::KeyStorage {
        self.key_storage
    }

    fn data_dir(&self) -> Option<PathBuf> {
        Some(self.dir.clone())
    }

    fn emit(&self, _event: CompanionEvent) {}

    fn runs(&self) -> Option<Runs> {
        Some(self.runs.clone())
    }
}

/// Where the device's key is, or why it cannot be read now.
fn key_home(dir: &Path) -> String {
    match plusbox_companion::device_key::DeviceKey::load(dir) {
        Ok(Some(key)) => key.home().to_string(),
        Ok(None) => "none yet (made when the device links)".into(),
        Err(e) => e.message,
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} owner-only", dir.display()))?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(())
}
/// The sandbox base URL of an invite link (what comes before `#`).
pub fn base_of_link(link: &str) -> anyhow::Result<String> {
    let link = link.trim();
    let (base, fragment) = link
        .split_once('#')
        .ok_or_else(|| anyhow!("{link:?} is not an invite link (it has no #invite=…)"))?;
    if !fragment.starts_with("invite=") {
        anyhow::bail!("{link:?} is not an invite link (it has no #invite=…)");
    }
    plusbox_sandbox::store::validate_url(base.trim_end_matches('/'))
        .map_err(|e| anyhow!("the invite link's address: {e}"))?;
    Ok(base.trim_end_matches('/').to_string())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// Prints an upload status; the exit code says whether everything is uploaded.
pub fn print_status(status: &UploadStatus, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(status)?);
    } else {
        for item in &status.items {
            println!(
                "{:<26} {:<14} {:<10} {:<9} attempts {}{}",
                item.run_id,
                item.case_id,
                item.verdict,
                format!("{:?}", item.state).to_lowercase(),
                item.attempts,
                item.error.as_deref().map(|e| format!("  ({e})")).unwrap_or_default()
            );
        }
        println!(
            "uploaded {}, waiting {}, failed {}{}",
            status.uploaded,
            status.waiting,
            status.failed,
            status.next_attempt_at.as_deref().map(|at| format!("; next attempt at {at}")).unwrap_or_default()
        );
    }
    Ok(if status.waiting == 0 && status.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Runs `plusbox device …`.
pub fn run(command: DeviceCommand) -> anyhow::Result<ExitCode> {
    let runtime = runtime()?;
    match command {
        DeviceCommand::Link { url, dir, name, key_store } => {
            let base = base_of_link(&url)?;
            let host = DirHost::new(&dir.device_dir, &base)?.with_key_storage(key_store);
            let args = LinkInviteArgs { link: url.clone(), device_name: Some(name.clone()) };
            let (invite, key) = runtime
                .block_on(plusbox_companion::upload::link_device(host.clone(), args))
                .map_err(|e| anyhow!("{e}"))?;
            let device = runtime.block_on(host.client().session()).map_err(|e| anyhow!("{e}"))?;
            let file =
                DeviceFile { sandbox_url: base, device_id: device.id, device_name: device.name, invite };
            std::fs::write(dir.device_dir.join(DEVICE_FILE), serde_json::to_string_pretty(&file)?)
                .with_context(|| format!("writing {}", dir.device_dir.join(DEVICE_FILE).display()))?;
            println!(
                "Linked as device {} to invite {} of {} (MID {}); cases: {}",
                file.device_id,
                file.invite.invite_id,
                file.invite.merchant,
                file.invite.mid,
                file.invite.cases.join(", ")
            );
            let home = key.map_or_else(|| key_home(&dir.device_dir), |home| home.to_string());
            println!("Device key (never sent): {home}");
            println!(
                "Run as this device: plusbox run --device-dir {} --pos URL --upload",
                dir.device_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        DeviceCommand::Upload { dir, json } => {
            let (host, _) = DirHost::open(&dir.device_dir)?;
            let status = runtime
                .block_on(plusbox_companion::upload::upload_now(host, Empty {}))
                .map_err(|e| anyhow!("{e}"))?;
            print_status(&status, json)
        }
        DeviceCommand::Status { dir, json } => {
            let (host, _) = DirHost::open(&dir.device_dir)?;
            let status = runtime
                .block_on(plusbox_companion::upload::upload_status(host, Empty {}))
                .map_err(|e| anyhow!("{e}"))?;
            if !json {
                println!("Device key: {}", key_home(&dir.device_dir));
            }
            print_status(&status, json)
        }
    }
}
