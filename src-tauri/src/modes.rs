//! The app's two modes and what runs in-process.
//!
//! - **Embedded** (first-launch default): a sandbox runs inside the app, its SQLite under
//!   `<app data>/embedded/sandbox`, listening on loopback only; the app pairs itself with it.
//!   "Share on this Wi-Fi" re-listens on all interfaces (same data, same port when free) so a
//!   real acquirer on the LAN can reach it; the reference acquirer can run in-process too.
//! - **Linked**: the app uses a shared `plusbox serve` at a URL, paired with a link or code.
//!
//! Each mode keeps its own directory (device token, data), so switching loses nothing.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use plusbox_acquirer::{Acquirer, AcquirerConfig, ChargeRequest, MerchantConfig, SystemClock, Timing};
use plusbox_companion::commands::CompanionEvent;
use plusbox_companion::error::{CommandError, ErrorCode};
use plusbox_companion::host::Host;
use plusbox_companion::render::{render_svg, RenderSize, Symbology};
use plusbox_core::signing::PrivateKey;
use plusbox_sandbox::{Sandbox, SandboxConfig};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// Which sandbox the app uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// The sandbox inside the app.
    Embedded,
    /// A shared `plusbox serve`.
    Linked,
}

impl Mode {
    fn dir_name(self) -> &'static str {
        match self {
            Mode::Embedded => "embedded",
            Mode::Linked => "linked",
        }
    }
}

/// The mode in use and its sandbox URL.
#[derive(Debug, Clone)]
pub struct Current {
    /// Mode.
    pub mode: Mode,
    /// Where the companion reaches the sandbox (loopback for the embedded one).
    pub sandbox_url: String,
}

/// What the app-mode screen shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppState {
    /// The mode in use.
    pub mode: Mode,
    /// The embedded sandbox, when it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedded: Option<EmbeddedInfo>,
    /// The shared sandbox's URL, once linked (kept while embedded mode is in use).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_url: Option<String>,
    /// The in-process reference acquirer's POS-driver URL, when it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acquirer_url: Option<String>,
}

/// What an acquirer must configure to use the embedded sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbeddedInfo {
    /// Listening on the LAN (otherwise loopback only).
    pub sharing: bool,
    /// Gateway URL to configure (the LAN address while sharing).
    pub gateway_url: String,
    /// Client-Id.
    pub client_id: String,
    /// acquirerId.
    pub acquirer_id: String,
    /// Sandbox public key (bare Base64 SPKI).
    pub sandbox_public_key: String,
    /// The three above as one QR code (SVG), `plusbox:gateway?url=…&clientId=…&publicKey=…`.
    pub qr_svg: String,
}

/// The result of a charge made by the in-process POS simulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeResult {
    /// Order state (`SUCCESS`, `FAIL`, …).
    pub state: String,
    /// Result code of the deciding message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_code: Option<String>,
    /// Its message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_message: Option<String>,
    /// Alipay+ paymentId.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
}

/// Running parts, changed one at a time under the lock.
#[derive(Default)]
struct Running {
    sandbox: Option<Sandbox>,
    sharing: bool,
    acquirer: Option<(Acquirer, String, tokio::task::JoinHandle<()>)>,
    /// Stops the in-process acquirer's HTTPS merchant page when dropped or sent `true`.
    entry_page: Option<tokio::sync::watch::Sender<bool>>,
    events: Option<tokio::task::JoinHandle<()>>,
}

/// The shell's state: one per app.
pub struct Shell {
    data_dir: PathBuf,
    http: reqwest::Client,
    current: RwLock<Current>,
    running: Mutex<Running>,
    /// The guided-run registry of each mode directory (its own results store).
    runs: std::sync::Mutex<std::collections::BTreeMap<PathBuf, plusbox_companion::runs::Runs>>,
    /// Merchant-page certificates the wallet web view trusts, by `host:port`: the in-process
    /// acquirer's own, and those the person chose to trust after comparing fingerprints.
    trusted_pages: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

impl std::fmt::Debug for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell").field("data_dir", &self.data_dir).finish_non_exhaustive()
    }
}

fn internal(what: &str, e: impl std::fmt::Display) -> CommandError {
    CommandError::internal(format!("{what}: {e}"))
}

impl Shell {
    /// A shell keeping everything under `data_dir` (the app's data dir); nothing runs yet.
    pub fn new(data_dir: PathBuf) -> Result<Arc<Shell>, CommandError> {
        let http = plusbox_companion::client::http_client()?;
        let mode = match std::fs::read_to_string(data_dir.join("mode")).as_deref().map(str::trim) {
            Ok("linked") => Mode::Linked,
            _ => Mode::Embedded,
        };
        let sandbox_url = match mode {
            Mode::Linked => read_line(&data_dir.join("linked").join("url")).unwrap_or_default(),
            // Unroutable until the sandbox has started: a call fails as SANDBOX_UNREACHABLE.
            Mode::Embedded => "http://127.0.0.1:9".into(),
        };
        Ok(Arc::new(Shell {
            data_dir,
            http,
            current: RwLock::new(Current { mode, sandbox_url }),
            running: Mutex::new(Running::default()),
            runs: std::sync::Mutex::new(std::collections::BTreeMap::new()),
            trusted_pages: std::sync::Mutex::new(std::collections::BTreeMap::new()),
        }))
    }

    /// Trusts `fingerprint` (SHA-256, as `openssl x509 -fingerprint -sha256` prints it) as the
    /// merchant-page certificate of `authority` (`host:port`).
    pub fn trust_page(&self, authority: &str, fingerprint: &str) {
        let mut trusted = self.trusted_pages.lock().unwrap_or_else(|e| e.into_inner());
        trusted.insert(authority.to_owned(), fingerprint.to_ascii_uppercase());
    }

    /// Whether the wallet web view trusts `fingerprint` for `authority`.
    pub fn trusts_page(&self, authority: &str, fingerprint: &str) -> bool {
        let trusted = self.trusted_pages.lock().unwrap_or_else(|e| e.into_inner());
        trusted.get(authority).is_some_and(|known| known.eq_ignore_ascii_case(fingerprint))
    }

    /// The mode in use.
    pub fn current(&self) -> Current {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_current(&self, current: Current) -> Result<(), CommandError> {
        std::fs::create_dir_all(&self.data_dir).map_err(|e| internal("cannot create the data dir", e))?;
        std::fs::write(self.data_dir.join("mode"), current.mode.dir_name())
            .map_err(|e| internal("cannot keep the mode", e))?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = current;
        Ok(())
    }

    /// The directory of a mode (token file; the embedded sandbox's data below it).
    pub fn mode_dir(&self, mode: Mode) -> PathBuf {
        self.data_dir.join(mode.dir_name())
    }

    /// The guided-run registry of a mode directory (results in `<mode_dir>/results.sqlite`),
    /// opened on first use; `true` when it was opened just now (the caller relays its events).
    pub fn runs(
        &self,
        mode_dir: &std::path::Path,
    ) -> Result<(plusbox_companion::runs::Runs, bool), CommandError> {
        let mut all = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(runs) = all.get(mode_dir) {
            return Ok((runs.clone(), false));
        }
        let runs = plusbox_companion::runs::Runs::open(Some(mode_dir))?;
        all.insert(mode_dir.to_owned(), runs.clone());
        Ok((runs, true))
    }

    /// The shared HTTP client.
    pub fn http(&self) -> reqwest::Client {
        self.http.clone()
    }

    fn sandbox_dir(&self) -> PathBuf {
        self.mode_dir(Mode::Embedded).join("sandbox")
    }

    /// Starts the embedded sandbox (loopback only) if it does not run; in embedded mode its URL
    /// becomes the current one.
    pub async fn start_embedded(&self) -> Result<String, CommandError> {
        let mut running = self.running.lock().await;
        if let Some(sandbox) = &running.sandbox {
            return Ok(loopback_url(sandbox.local_addr()));
        }
        let url = self.bind_sandbox(&mut running, false).await?;
        if self.current().mode == Mode::Embedded {
            self.set_current(Current { mode: Mode::Embedded, sandbox_url: url.clone() })?;
        }
        Ok(url)
    }

    /// Binds the sandbox on loopback or (sharing) all interfaces, on the port it had before when
    /// that is free.
    async fn bind_sandbox(&self, running: &mut Running, sharing: bool) -> Result<String, CommandError> {
        let port_file = self.mode_dir(Mode::Embedded).join("port");
        let previous: u16 = read_line(&port_file).and_then(|p| p.parse().ok()).unwrap_or(0);
        let ip = if sharing { IpAddr::V4(Ipv4Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::LOCALHOST) };
        let mut last_error = None;
        for port in [previous, 0] {
            let mut config = SandboxConfig::new(self.sandbox_dir(), SocketAddr::new(ip, port));
            if sharing {
                let lan = lan_address().ok_or_else(|| {
                    CommandError::new(
                        ErrorCode::InvalidState,
                        "this device has no Wi-Fi or LAN address; connect to a network first",
                    )
                })?;
                // The port is only known after binding: bind first, then advertise it.
                let probe = std::net::TcpListener::bind(SocketAddr::new(ip, port))
                    .map_err(|e| internal("cannot listen on the LAN", e));
                let Ok(probe) = probe else { continue };
                let bound = probe.local_addr().map_err(|e| internal("cannot read the port", e))?;
                drop(probe);
                config.listen = bound;
                config.public_url = Some(format!("http://{}", SocketAddr::new(lan, bound.port())));
            }
            match Sandbox::start(config).await {
                Ok(sandbox) => {
                    let addr = sandbox.local_addr();
                    let _ = std::fs::write(&port_file, addr.port().to_string());
                    running.sandbox = Some(sandbox);
                    running.sharing = sharing;
                    return Ok(loopback_url(addr));
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(internal(
            "cannot start the embedded sandbox",
            last_error.map(|e| e.to_string()).unwrap_or_else(|| "no free port".into()),
        ))
    }

    /// Switches LAN sharing of the embedded sandbox on or off (restarts its listener; the data,
    /// device tokens and pending work stay).
    pub async fn set_sharing(&self, on: bool) -> Result<(), CommandError> {
        let mut running = self.running.lock().await;
        if running.sandbox.is_some() && running.sharing == on {
            return Ok(());
        }
        if let Some(sandbox) = running.sandbox.take() {
            sandbox.shutdown().await;
        }
        let url = match self.bind_sandbox(&mut running, on).await {
            Ok(url) => url,
            Err(e) => {
                // Never leave the app without its sandbox: fall back to loopback.
                self.bind_sandbox(&mut running, false).await?;
                return Err(e);
            }
        };
        if self.current().mode == Mode::Embedded {
            self.set_current(Current { mode: Mode::Embedded, sandbox_url: url })?;
        }
        Ok(())
    }

    /// Uses the embedded sandbox (starting it if needed).
    pub async fn use_embedded(&self) -> Result<(), CommandError> {
        let url = self.start_embedded().await?;
        self.set_current(Current { mode: Mode::Embedded, sandbox_url: url })
    }

    /// Uses the shared sandbox linked before.
    pub fn use_linked(&self) -> Result<(), CommandError> {
        let url = read_line(&self.mode_dir(Mode::Linked).join("url")).ok_or_else(|| {
            CommandError::new(
                ErrorCode::NotPaired,
                "no shared sandbox linked yet: scan or type its pairing link",
            )
        })?;
        self.set_current(Current { mode: Mode::Linked, sandbox_url: url })
    }

    /// Remembers a shared sandbox's URL and makes linked mode current (pairing follows).
    pub fn link(&self, url: &str) -> Result<(), CommandError> {
        let url = sandbox_base_url(url)?;
        let dir = self.mode_dir(Mode::Linked);
        std::fs::create_dir_all(&dir).map_err(|e| internal("cannot create the linked-mode dir", e))?;
        std::fs::write(dir.join("url"), &url).map_err(|e| internal("cannot keep the URL", e))?;
        self.set_current(Current { mode: Mode::Linked, sandbox_url: url })
    }

    /// The shared sandbox's URL, once linked.
    pub fn linked_url(&self) -> Option<String> {
        read_line(&self.mode_dir(Mode::Linked).join("url"))
    }

    /// Puts back the linked URL known before a failed link (none: forgets it).
    pub fn restore_linked_url(&self, url: Option<&str>) -> Result<(), CommandError> {
        let path = self.mode_dir(Mode::Linked).join("url");
        let result = match url {
            Some(url) => std::fs::write(&path, url),
            None => std::fs::remove_file(&path).or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(e),
            }),
        };
        result.map_err(|e| internal("cannot restore the linked sandbox URL", e))
    }

    /// What the app-mode screen shows.
    pub async fn state(&self) -> Result<AppState, CommandError> {
        let running = self.running.lock().await;
        let embedded = match &running.sandbox {
            Some(sandbox) => {
                let app = sandbox.store().app_view().map_err(|e| internal("cannot read the sandbox", e))?;
                let payload = format!(
                    "plusbox:gateway?url={}&clientId={}&publicKey={}",
                    app.gateway_url, app.client_id, app.sandbox_public_key
                );
                let qr_svg = render_svg(&payload, Symbology::Qr, RenderSize::Phone)
                    .map_err(|e| internal("cannot draw the QR code", e))?;
                Some(EmbeddedInfo {
                    sharing: running.sharing,
                    gateway_url: app.gateway_url,
                    client_id: app.client_id,
                    acquirer_id: app.acquirer_id,
                    sandbox_public_key: app.sandbox_public_key,
                    qr_svg,
                })
            }
            None => None,
        };
        Ok(AppState {
            mode: self.current().mode,
            embedded,
            linked_url: self.linked_url(),
            acquirer_url: running.acquirer.as_ref().map(|(_, url, _)| url.clone()),
        })
    }

    /// Starts the reference acquirer in-process against the embedded sandbox (its key registered
    /// there, its notify endpoint and POS-driver API on loopback); returns its URL.
    pub async fn start_acquirer(&self) -> Result<String, CommandError> {
        let mut running = self.running.lock().await;
        if let Some((_, url, _)) = &running.acquirer {
            return Ok(url.clone());
        }
        let Some(sandbox) = &running.sandbox else {
            return Err(CommandError::new(ErrorCode::InvalidState, "the embedded sandbox is not running"));
        };
        let store = sandbox.store();
        let dir = self.mode_dir(Mode::Embedded).join("acquirer");
        std::fs::create_dir_all(&dir).map_err(|e| internal("cannot create the acquirer dir", e))?;
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| internal("cannot listen for the acquirer", e))?;
        let addr = listener.local_addr().map_err(|e| internal("cannot read the acquirer port", e))?;
        let url = format!("http://{addr}");
        let notify_url = format!("{url}/notify");
        let key = PrivateKey::generate().map_err(|e| internal("cannot make the acquirer key", e))?;
        let key_file = dir.join("acquirer_key.pem");
        crate::host::write_private(&key_file, key.to_pkcs8_pem().expose().as_bytes())
            .map_err(|e| internal("cannot keep the acquirer key", e))?;
        let public = key.public_key().map_err(|e| internal("cannot derive the acquirer public key", e))?;
        let now = time::OffsetDateTime::now_utc();
        store
            .set_acqp_key(&public.to_base64(), 1, now)
            .map_err(|e| internal("cannot register the acquirer key", e))?;
        store
            .set_notify_url(Some(notify_url.as_str()))
            .map_err(|e| internal("cannot set the notify URL", e))?;
        // Private order codes (alipayplus-api.md §11): the acquirer's fixed domain, decoded by
        // its userInitiatedPay.
        store
            .set_private_order_codes(
                &format!("{url}{}", plusbox_acquirer::acquirer::USER_INITIATED_PAY_PATH),
                &[plusbox_sandbox::store::PrivateDomain {
                    domain: plusbox_acquirer::config::DEFAULT_PRIVATE_ORDER_CODE_DOMAIN.to_owned(),
                    digits: true,
                }],
                now,
            )
            .map_err(|e| internal("cannot register the private-order-code domain", e))?;
        // The entry code's merchant page is HTTPS only (§6): its own loopback listener with a
        // self-signed certificate that the wallet web view trusts for that address alone.
        let entry_listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| internal("cannot listen for the merchant page", e))?;
        let entry_addr =
            entry_listener.local_addr().map_err(|e| internal("cannot read the merchant page's port", e))?;
        let identity = plusbox_sandbox::tls::TlsIdentity::load_or_create(
            &dir.join("entry-tls"),
            &["127.0.0.1".to_owned(), "localhost".to_owned()],
        )
        .map_err(|e| internal("cannot make the merchant page's certificate", e))?;
        let entry_authority = format!("127.0.0.1:{}", entry_addr.port());
        self.trust_page(&entry_authority, &identity.fingerprint());
        let entry_url = format!("https://{entry_authority}{}", plusbox_acquirer::acquirer::ENTRY_PAGE_PATH);
        let app = store.app_view().map_err(|e| internal("cannot read the sandbox", e))?;
        let config = AcquirerConfig {
            // The acquirer talks to the sandbox on loopback whatever the sandbox advertises.
            gateway_url: loopback_url(sandbox.local_addr()),
            client_id: app.client_id,
            acquirer_id: Some(app.acquirer_id),
            private_key_file: key_file,
            key_version: 1,
            gateway_public_key: app.sandbox_public_key,
            notify_url,
            listen: addr.to_string(),
            database: dir.join("acquirer.sqlite3"),
            faults: Default::default(),
            agent_token: None,
            sftp: None,
            merchant: MerchantConfig { entry_code_url: Some(entry_url), ..MerchantConfig::default() },
            timing: Timing::default(),
        };
        let acquirer = Acquirer::new(config, Vec::<plusbox_acquirer::Fault>::new(), Arc::new(SystemClock))
            .map_err(|e| internal("cannot start the acquirer", e))?;
        let serving = acquirer.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = plusbox_acquirer::server::serve(serving, listener).await {
                eprintln!("plusbox-app: the acquirer stopped: {e}");
            }
        });
        let page = plusbox_acquirer::server::router(acquirer.clone())
            .map_err(|e| internal("cannot build the merchant page", e))?;
        let (entry_stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            plusbox_sandbox::tls::serve_https(entry_listener, page, &identity, stopped).await
        });
        running.entry_page = Some(entry_stop);
        running.acquirer = Some((acquirer, url.clone(), task));
        Ok(url)
    }

    /// The POS simulator: charges a scanned code through the in-process acquirer.
    pub async fn pos_charge(&self, code: &str, amount: &str) -> Result<ChargeResult, CommandError> {
        let acquirer = {
            let running = self.running.lock().await;
            match &running.acquirer {
                Some((acquirer, _, _)) => acquirer.clone(),
                None => {
                    return Err(CommandError::new(
                        ErrorCode::InvalidState,
                        "start the reference acquirer first",
                    ))
                }
            }
        };
        let request = ChargeRequest {
            code: code.trim().to_string(),
            amount: amount.trim().to_string(),
            payment_request_id: None,
            description: None,
        };
        let record = acquirer
            .charge(request)
            .await
            .map_err(|e| CommandError::new(ErrorCode::BadRequest, format!("the charge was refused: {e}")))?;
        let state = serde_json::to_value(record.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{:?}", record.state));
        Ok(ChargeResult {
            state,
            result_code: record.result_code,
            result_message: record.result_message,
            payment_id: record.payment_id,
        })
    }

    /// Follows the current sandbox's live events for `host` (restarted after a mode switch or
    /// a broken stream, with a growing pause).
    pub async fn watch_events<H: Host + Send + Sync + 'static>(
        self: &Arc<Self>,
        make_host: impl Fn() -> H + Send + 'static,
    ) {
        let mut running = self.running.lock().await;
        if let Some(task) = running.events.take() {
            task.abort();
        }
        running.events = Some(tokio::spawn(async move {
            let mut pause = Duration::from_millis(250);
            loop {
                let host = make_host();
                let paired = host.device_token().is_some();
                if paired {
                    // A stream that ended cleanly (sandbox restarted) reconnects at once; a
                    // broken one (sandbox down) waits longer each time.
                    if plusbox_companion::commands::watch_events(host.clone()).await.is_ok() {
                        pause = Duration::from_millis(250);
                    }
                    // Whatever changed while disconnected: the pending list again.
                    if let Ok(list) = host.client().pending().await {
                        host.emit(CompanionEvent::Pending(
                            list.into_iter().map(plusbox_companion::commands::PendingPayment::from).collect(),
                        ));
                    }
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }));
    }

    /// Stops what runs in-process (on exit).
    pub async fn shutdown(&self) {
        let mut running = self.running.lock().await;
        if let Some(task) = running.events.take() {
            task.abort();
        }
        if let Some((_, _, task)) = running.acquirer.take() {
            task.abort();
        }
        if let Some(stop) = running.entry_page.take() {
            let _ = stop.send(true);
        }
        if let Some(sandbox) = running.sandbox.take() {
            sandbox.shutdown().await;
        }
    }
}

fn loopback_url(addr: SocketAddr) -> String {
    format!("http://127.0.0.1:{}", addr.port())
}

fn read_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.trim();
    (!line.is_empty()).then(|| line.to_string())
}

/// The sandbox's base URL from what was scanned or typed: a pairing link
/// (`http://10.0.0.2:8787/#pair=…`) or a bare URL.
pub fn sandbox_base_url(text: &str) -> Result<String, CommandError> {
    let text = text.trim();
    let bad = || {
        CommandError::new(
            ErrorCode::BadRequest,
            format!("{text:?} is not a sandbox address; it looks like http://192.168.1.20:8787"),
        )
    };
    let (scheme, rest) = text.split_once("://").ok_or_else(bad)?;
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return Err(bad());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || authority.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    Ok(format!("{}://{authority}", scheme.to_ascii_lowercase()))
}

/// This device's address on the local network: the source address the OS would use to reach a
/// non-local host (a UDP "connect" sends nothing). `None` offline.
pub fn lan_address() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    // TEST-NET-1 (RFC 5737): never routed anywhere, only used to pick the outgoing interface.
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pairing_link_gives_the_sandbox_base_url() {
        assert_eq!(
            sandbox_base_url("http://10.0.0.2:8787/#pair=pair_abc").ok().as_deref(),
            Some("http://10.0.0.2:8787")
        );
        assert_eq!(
            sandbox_base_url(" HTTPS://box.local:8443/x?y ").ok().as_deref(),
            Some("https://box.local:8443")
        );
    }

    #[test]
    fn what_is_not_a_sandbox_url_is_refused_with_bad_request() {
        for text in ["", "10.0.0.2:8787", "ftp://x", "http://", "http://user@host", "javascript://x"] {
            let error = sandbox_base_url(text).err();
            assert_eq!(error.map(|e| e.code), Some(ErrorCode::BadRequest), "{text:?}");
        }
    }
}
