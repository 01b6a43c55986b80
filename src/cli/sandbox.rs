//! `plusbox serve`, `app`, `wallet`, `mock` and `traffic`: the sandbox server and the commands
//! that act on its data directory (directly on the SQLite file, so they work while it runs).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};
use plusbox_core::money::Amount;
use plusbox_sandbox::store::{MockAction, MockRule, MockScope, Store, Tamper, TrafficView};
use plusbox_sandbox::{ResultCode, Sandbox, SandboxConfig, ScaledClock, Scenario};
use time::OffsetDateTime;

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DataArg {
    /// Data directory (default: $PLUSBOX_DATA, else $XDG_DATA_HOME/plusbox or ~/.local/share/plusbox).
    #[arg(long, value_name = "DIR", env = "PLUSBOX_DATA")]
    pub data: Option<PathBuf>,
}

impl DataArg {
    /// The directory to use.
    pub fn dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(dir) = &self.data {
            return Ok(dir.clone());
        }
        if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(xdg).join("plusbox"));
        }
        let home = std::env::var_os("HOME").ok_or_else(|| anyhow!("no --data given and $HOME is not set"))?;
        Ok(PathBuf::from(home).join(".local/share/plusbox"))
    }

    /// Opens the store, provisioning it if this is the first use.
    pub fn open(&self) -> anyhow::Result<Store> {
        let dir = self.dir()?;
        let store =
            Store::open(&dir).with_context(|| format!("opening the sandbox data in {}", dir.display()))?;
        for notice in store.notices() {
            eprintln!("note: {notice}");
        }
        if let Some(provisioned) = store.provision_if_empty(now(), "http://127.0.0.1:8787")? {
            eprintln!(
                "provisioned a new sandbox in {} (client {})",
                dir.display(),
                provisioned.app.client_id
            );
        }
        Ok(store)
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`: one line per exchange with its API,
/// result code and milliseconds). The sandbox never logs keys, tokens, headers or bodies.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second call (e.g. in a test binary) finds a subscriber already set; that is fine.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// serve
// ---------------------------------------------------------------------------------------------

/// `plusbox serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; 0.0.0.0:8787 serves a shop LAN.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub data: DataArg,
    /// Base URL to advertise to acquirers (default: http://<listen address>).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Run sandbox time this many times faster (expiry, retries, windows), for demos.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Strict mode: reject a Request-Time more than this many seconds off (PARAM_ILLEGAL).
    #[arg(long)]
    pub max_skew_seconds: Option<i64>,
    /// Strict mode: numbers/booleans where the spec wants strings are PARAM_ILLEGAL.
    #[arg(long)]
    pub strict_types: bool,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,
    /// Seed identifiers (paymentId, refundId, codes this server issues, first-start Client-Id and
    /// acquirerId) so a repeated run gives the same IDs.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Serve HTTPS with a self-signed certificate kept in the data directory (made on first
    /// start, reused later); prints its SHA-256 fingerprint and the phone URL as a QR code.
    #[arg(long)]
    pub tls: bool,
    /// Also serve the clearing files over SFTP on this address, e.g. 127.0.0.1:2222 (login per
    /// application: `plusbox app show`).
    #[arg(long, value_name = "ADDR")]
    pub sftp: Option<SocketAddr>,
    /// Most connections open at once (the Alipay+ API, the companion API and the UI together).
    #[arg(long, default_value_t = 256)]
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers (and a keep-alive connection may wait
    /// for its next request).
    #[arg(long, default_value_t = 10)]
    pub header_timeout_seconds: u64,
    /// Seconds a connection may stay idle (nothing sent either way, no request in progress).
    #[arg(long, default_value_t = 75)]
    pub idle_timeout_seconds: u64,
}

/// Largest `--time-scale`: a year of sandbox time in about half a minute of real time.
const MAX_TIME_SCALE: f64 = 1_000_000.0;

/// Runs the sandbox until Ctrl-C (or SIGTERM).
pub fn run_serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let runtime = plusbox_sandbox::runtime()?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if !(args.time_scale.is_finite() && args.time_scale > 0.0 && args.time_scale <= MAX_TIME_SCALE) {
        return Err(anyhow!(
            "--time-scale must be a number above 0 and at most {MAX_TIME_SCALE}; got {}",
            args.time_scale
        ));
    }
    if args.max_connections == 0 {
        return Err(anyhow!("--max-connections must be at least 1"));
    }
    if args.header_timeout_seconds == 0 || args.idle_timeout_seconds == 0 {
        return Err(anyhow!("--header-timeout-seconds and --idle-timeout-seconds must be at least 1"));
    }
    let dir = args.data.dir()?;
    let mut config = SandboxConfig::new(&dir, args.listen);
    config.max_connections = args.max_connections;
    config.header_timeout = std::time::Duration::from_secs(args.header_timeout_seconds);
    config.idle_timeout = std::time::Duration::from_secs(args.idle_timeout_seconds);
    let identity = if args.tls {
        // Made before the store: it also creates the data directory with owner-only modes.
        let names = plusbox_sandbox::tls::names_for(args.listen);
        let identity = plusbox_sandbox::TlsIdentity::load_or_create(&dir, &names)
            .with_context(|| format!("preparing the TLS certificate in {}", dir.display()))?;
        config = config.with_tls(identity.clone());
        Some(identity)
    } else {
        None
    };
    config.public_url = args.public_url.clone();
    config.strict_types = args.strict_types;
    config.max_body_bytes = args.max_body_bytes;
    config.max_clock_skew = args.max_skew_seconds.map(time::Duration::seconds);
    config.seed = args.seed;
    config.sftp = args.sftp;
    if (args.time_scale - 1.0).abs() > f64::EPSILON {
        config.clock = Arc::new(ScaledClock::new(args.time_scale));
    }
    // The companion UI at `/` and its commands at `/rpc`, on the sandbox's own port.
    let rpc = match &identity {
        Some(identity) => {
            let pem = std::fs::read(&identity.cert_path)
                .with_context(|| format!("reading {}", identity.cert_path.display()))?;
            plusbox_companion::rpc::Rpc::with_trusted_certificate(Some(dir.clone()), &pem)
        }
        None => plusbox_companion::rpc::Rpc::new(false, Some(dir.clone())),
    }
    .map_err(|e| anyhow!(e))?;
    let mut config = config.with_routes(rpc.router().merge(plusbox_ui::router()));
    // The TSP dashboard (`/dashboard`): the catalogue for its case columns, and the companion's
    // diagram, drawn by the sandbox from a collected run's traffic.
    let catalogue =
        plusbox_runner::embedded::catalogue().map_err(|e| anyhow!("the embedded catalogue: {e}"))?;
    config.catalogue = Some(Arc::new(catalogue));
    config.diagram = Some(Arc::new(plusbox_companion::diagram::run_result_svg));
    let sandbox = Sandbox::start(config).await?;
    let ui_url = companion_ui_url(sandbox.local_addr(), identity.is_some());
    rpc.set_sandbox_url(ui_url.clone());
    let store = sandbox.store();
    // A browser linked through an invitation holds no key: the sandbox records its finished
    // runs itself, with the collector's checks (docs/invitations.md).
    let (recorder_store, recorder_clock) = (Arc::clone(&store), sandbox.clock());
    rpc.runs().set_recorder(Arc::new(move |device, run| {
        use plusbox_sandbox::Clock as _;
        plusbox_sandbox::collector::record_browser_run(&recorder_store, device, run, recorder_clock.now())
    }));
    for notice in store.notices() {
        println!("Note: {notice}");
    }
    let app = store.app_view()?;
    if sandbox.provisioned().is_some() {
        println!("First start: provisioned a sandbox application in {}", dir.display());
    }
    println!("Plusbox sandbox is ready.");
    println!("Gateway URL:        {}", sandbox.base_url());
    println!("Client-Id:          {}", app.client_id);
    println!("acquirerId:         {}", app.acquirer_id);
    println!("Sandbox public key: {}", app.sandbox_public_key);
    println!(
        "Notify URL:         {}",
        app.notify_url.as_deref().unwrap_or("(not set; pay's paymentNotifyUrl is used)")
    );
    if let Some(sftp) = sandbox.sftp_addr() {
        let login = store.sftp_login(store.app()?.id)?;
        println!(
            "SFTP:               sftp -P {} {}@{} (password: plusbox app show)",
            sftp.port(),
            login.username,
            sftp.ip()
        );
    }
    println!("Data:               {}", store.path().display());
    println!("Companion UI:       {ui_url}/ (open it in a browser on this machine)");
    if store.admin_password_hash()?.is_some() {
        println!("TSP dashboard:      {ui_url}/dashboard (admin login)");
    } else {
        println!(
            "TSP dashboard:      {ui_url}/dashboard (set its admin password first: plusbox admin set-password --data {})",
            shell_quote(&dir)
        );
    }
    if let Some(identity) = &identity {
        print_tls(identity, &sandbox, args.listen);
    }
    if let Some(provisioned) = sandbox.provisioned() {
        println!("Merchant / store:   {} / {}", provisioned.merchant.0, provisioned.merchant.1);
        for account in &provisioned.accounts {
            let balances: Vec<String> = account.balances.iter().map(ToString::to_string).collect();
            println!("Buyer {:<8}      {} — {}", account.id, account.name, balances.join(", "));
        }
    }
    let data = format!("--data {}", shell_quote(&dir));
    println!();
    println!("Next steps for the acquirer:");
    println!("  1. Point your Alipay+ client at the gateway URL with the Client-Id above.");
    println!("  2. Upload your public key:   plusbox app set-key {data} --public-key acqp_public.pem");
    println!("  3. Trust the sandbox public key above for response and notification signatures.");
    println!("  4. Optionally set a notify URL: plusbox app set-notify-url {data} https://your-host/notify");
    println!("  5. Get a buyer code and charge it: plusbox wallet code {data} --account buyer-1");
    println!("     or open the companion UI above: it is the buyer's wallet (codes, PIN, history).");
    println!(
        "  A phone on the shop Wi-Fi: serve with --listen 0.0.0.0:8787, then `plusbox app pair {data}`."
    );
    println!("Press Ctrl-C to stop; pending notifications are kept and resume on the next start.");

    wait_for_stop().await;
    println!("Stopping: finishing in-flight requests…");
    sandbox.shutdown().await;
    println!("Stopped.");
    Ok(ExitCode::SUCCESS)
}

/// What a phone needs to trust the HTTPS server: the fingerprint, the URL and a QR of it.
fn print_tls(identity: &plusbox_sandbox::TlsIdentity, sandbox: &Sandbox, listen: SocketAddr) {
    let port = sandbox.local_addr().port();
    println!(
        "TLS certificate:    {} ({})",
        identity.cert_path.display(),
        if identity.created { "made now" } else { "reused" }
    );
    println!("SHA-256 fingerprint: {}", identity.fingerprint());
    println!("Valid for:          {}", identity.names.join(", "));
    let host = if listen.ip().is_unspecified() {
        plusbox_sandbox::tls::lan_addresses().first().map(ToString::to_string)
    } else {
        Some(listen.ip().to_string())
    };
    let url = match host {
        Some(host) if host.contains(':') => format!("https://[{host}]:{port}/"),
        Some(host) => format!("https://{host}:{port}/"),
        None => format!("https://127.0.0.1:{port}/"),
    };
    println!("Phone URL:          {url}");
    if listen.ip().is_loopback() {
        println!("  (listening on loopback only; use --listen 0.0.0.0:{port} for phones on the LAN)");
    }
    if let Ok(qr) =
        plusbox_companion::render::render_terminal(&url, plusbox_companion::render::Symbology::Qr, false)
    {
        println!("{qr}");
    }
    println!("On the phone, check that the certificate's SHA-256 fingerprint matches the one above.");
}

/// Where this machine reaches the server: the bound port on 127.0.0.1 when listening on all
/// addresses or loopback, else the bound address itself; `https` under `--tls`.
fn companion_ui_url(bound: SocketAddr, tls: bool) -> String {
    let mut shown = bound;
    if shown.ip().is_unspecified() {
        shown.set_ip(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    }
    format!("{}://{shown}", if tls { "https" } else { "http" })
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn shell_quote(path: &Path) -> String {
    let text = path.display().to_string();
    if text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-~".contains(c)) {
        text
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

// ---------------------------------------------------------------------------------------------
// app
// ---------------------------------------------------------------------------------------------

/// `plusbox app [--app CLIENT-ID|NAME] …`.
#[derive(Debug, clap::Args)]
pub struct AppArgs {
    /// The application to act on, by Client-Id or name (see `plusbox app list`); default: the
    /// default (first) application.
    #[arg(long, global = true, value_name = "CLIENT-ID|NAME")]
    pub app: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: AppCommand,
}

/// `plusbox app …`.
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Create a further ACQP application on this sandbox (TSP mode, docs/tsp.md): its own
    /// Client-Id, Participant ID (acquirerId), sandbox key pair, merchant and SFTP login.
    Create {
        #[command(flatten)]
        data: DataArg,
        /// Its name, for `--app` (letters, digits, '-', '_', '.').
        #[arg(long)]
        name: String,
        /// Print {name, clientId, acquirerId, gatewayUrl, sandboxPublicKey, notifyUrl, sftp}.
        #[arg(long)]
        json: bool,
    },
    /// List the applications of this sandbox.
    List {
        #[command(flatten)]
        data: DataArg,
        /// JSON output: [{name, clientId, acquirerId, notifyUrl, acqpKeys, tspMode, activeAuthorizations, default}].
        #[arg(long)]
        json: bool,
    },
    /// Show what an acquirer must configure.
    Show {
        #[command(flatten)]
        data: DataArg,
        /// Print {clientId, acquirerId, gatewayUrl, sandboxPublicKey, notifyUrl}.
        #[arg(long)]
        json: bool,
    },
    /// Upload the acquirer's public key (PEM or bare Base64).
    SetKey {
        #[command(flatten)]
        data: DataArg,
        /// File holding the public key.
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
        /// keyVersion it answers to.
        #[arg(long, default_value_t = 1)]
        key_version: u32,
    },
    /// Set the OpenSSH public keys the application logs in to SFTP with (reconciliation files):
    /// FILE holds one or more (`ssh-ed25519`, `ecdsa-sha2-nistp256/384/521`, `ssh-rsa` of 2048
    /// bits or more), one a line; they replace the keys before. `none` removes them.
    SetSftpKey {
        #[command(flatten)]
        data: DataArg,
        /// A `.pub` or `authorized_keys` file, or `none`.
        #[arg(value_name = "FILE")]
        file: String,
    },
    /// Set the application's notification URL (`none` clears it).
    SetNotifyUrl {
        #[command(flatten)]
        data: DataArg,
        /// The URL.
        url: String,
    },
    /// Switch magic amounts (values ending 901–913 choose the outcome) on or off.
    SetMagicAmounts {
        #[command(flatten)]
        data: DataArg,
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Pair a phone or browser: prints a link (as text and a terminal QR) and a short code,
    /// single use, valid 10 minutes. `--token` prints a device token directly instead (scripts).
    Pair {
        #[command(flatten)]
        data: DataArg,
        /// A name for the device.
        #[arg(long, default_value = "companion")]
        name: String,
        /// Base URL the phone opens (default: the sandbox's advertised URL), e.g.
        /// http://192.168.1.20:8787.
        #[arg(long)]
        url: Option<String>,
        /// Print a device token for `Authorization: Bearer` instead of a pairing link.
        #[arg(long)]
        token: bool,
        /// Print {link, shortCode, expiresAt} as JSON (no QR).
        #[arg(long)]
        json: bool,
        /// Test control: the device's merchant (referenceMerchantId); it sees only this
        /// merchant's traffic and payments (with --token).
        #[arg(long, requires = "token")]
        merchant: Option<String>,
        /// Test control: the device's buyer account (made like buyer-1 if new); the only buyer it
        /// arranges and runs with (with --token).
        #[arg(long, requires = "token")]
        account: Option<String>,
        /// Test control: the device may jump the sandbox clock (while no other device runs).
        #[arg(long, requires = "token")]
        clock: bool,
        /// The acceptance cases the device may run from the companion (e.g.
        /// UPM-PIN-001,UPM-PAY-001); others are refused CASE_NOT_ASSIGNED. Default: every case.
        #[arg(long, value_name = "ID,..", value_delimiter = ',')]
        cases: Vec<String>,
    },
    /// Private order codes (alipayplus-api.md §11): register the acquirer's `userInitiatedPay`
    /// URL and its private-order-code domains, show the registration (no options), or clear it.
    /// A scanned https:// URL on a registered domain is decoded by that URL.
    PrivateOrderCode {
        #[command(flatten)]
        data: DataArg,
        /// The acquirer's userInitiatedPay endpoint, e.g.
        /// http://127.0.0.1:8788/aps/api/v1/payments/userInitiatedPay.
        #[arg(long, conflicts_with = "clear")]
        url: Option<String>,
        /// A private-order-code domain (repeatable): any path on it is the acquirer's code.
        #[arg(long, value_name = "HOST")]
        domain: Vec<String>,
        /// A fixed-domain-form domain (repeatable): the first path segment must start with 12
        /// digits shaped 281***04**** (payment-codes.md §4.3).
        #[arg(long, value_name = "HOST")]
        digits_domain: Vec<String>,
        /// Remove the registration.
        #[arg(long)]
        clear: bool,
        /// JSON output: {userInitiatedPayUrl, domains: [{domain, digits}]} or null.
        #[arg(long)]
        json: bool,
    },
    /// Merchant registration (alipayplus-api.md §13.1): the registration notify URL, whether
    /// `pay` serves registered merchants only (F MERCHANT_NOT_REGISTERED otherwise), how long a
    /// review takes in sandbox time; without options, the settings and every registration.
    Registration {
        #[command(flatten)]
        data: DataArg,
        /// Where notifyRegistrationStatus goes when a registration names no
        /// registrationNotifyUrl (`none` clears it).
        #[arg(long, value_name = "URL")]
        notify_url: Option<String>,
        /// `on`: pay refuses a merchant (and store) without a COMPLETED IN_STORE_PAYMENT
        /// registration with F MERCHANT_NOT_REGISTERED.
        #[arg(long, value_parser = ["on", "off"])]
        require: Option<String>,
        /// How long a registration stays PROCESSING (sandbox time), e.g. 10m, 2h, 0s.
        #[arg(long, value_name = "DURATION")]
        review: Option<String>,
        /// JSON output: {settings: {notifyUrl, requireRegistration, reviewSeconds}, registrations: [...]}.
        #[arg(long)]
        json: bool,
    },
    /// List paired companion devices (revoked ones included).
    Devices {
        #[command(flatten)]
        data: DataArg,
        /// JSON output: [{id, name, createdAt, lastSeenAt, revokedAt}].
        #[arg(long)]
        json: bool,
    },
    /// Revoke a companion device: its token is refused from now on.
    Revoke {
        #[command(flatten)]
        data: DataArg,
        /// Device id (see `plusbox app devices`).
        id: i64,
    },
}

/// The application's SFTP login and where `serve --sftp` listens (host and port null when no
/// server was started with it), as Developer Center shows SFTP credentials.
fn sftp_view(store: &Store, app_id: i64) -> anyhow::Result<serde_json::Value> {
    let login = store.sftp_login(app_id)?;
    let keys = store.sftp_keys(login.app_id)?;
    let address = store.sftp_address()?.and_then(|a| a.parse::<SocketAddr>().ok());
    Ok(serde_json::json!({
        "keys": keys.iter().map(|k| serde_json::json!({
            "algorithm": k.algorithm, "fingerprint": k.fingerprint, "comment": k.comment,
        })).collect::<Vec<_>>(),
        "host": address.map(|a| a.ip().to_string()),
        "port": address.map(|a| a.port()),
        "username": login.username,
        "password": login.password.expose(),
    }))
}

/// The application `--app` names (the default one without it).
fn target(store: &Store, selector: Option<&str>) -> anyhow::Result<plusbox_sandbox::store::AppRecord> {
    Ok(store.resolve_app(selector)?)
}

/// Runs `plusbox app …`.
pub fn run_app(args: AppArgs) -> anyhow::Result<ExitCode> {
    let selector = args.app.as_deref();
    match args.command {
        AppCommand::Create { data, name, json } => {
            if selector.is_some() {
                anyhow::bail!(
                    "app create makes a new application; --app does not apply (name it with --name)"
                );
            }
            let store = data.open()?;
            let app = store.create_app(&name, now())?;
            let view = store.app_view_of(app.id)?;
            let mut value = serde_json::to_value(&view)?;
            value["sftp"] = sftp_view(&store, app.id)?;
            if json {
                return print_json(&value);
            }
            println!("Created application {:?}.", view.name);
            println!("Client-Id:          {}", view.client_id);
            println!("acquirerId:         {}", view.acquirer_id);
            println!("Sandbox public key: {}", view.sandbox_public_key);
            println!("SFTP user:          {}", value["sftp"]["username"].as_str().unwrap_or(""));
            println!(
                "Next: plusbox app set-key --app {} --public-key FILE; plusbox app set-notify-url --app {} URL",
                view.name, view.name
            );
        }
        AppCommand::List { data, json } => {
            if selector.is_some() {
                anyhow::bail!("app list shows every application; --app does not apply");
            }
            let apps = data.open()?.app_list()?;
            if json {
                return print_json(&apps);
            }
            for app in apps {
                println!(
                    "{} {:<20} {}  acquirerId {}  keys {}  tsp {}  notify {}",
                    if app.default { "*" } else { " " },
                    safe(&app.name),
                    app.client_id,
                    app.acquirer_id,
                    app.acqp_keys,
                    if app.tsp_mode {
                        format!("on ({} active)", app.active_authorizations)
                    } else {
                        "off".into()
                    },
                    app.notify_url.as_deref().map(safe).unwrap_or_else(|| "(not set)".into())
                );
            }
        }
        AppCommand::Show { data, json } => {
            let store = data.open()?;
            let app = target(&store, selector)?;
            let view = store.app_view_of(app.id)?;
            let sftp = sftp_view(&store, app.id)?;
            if json {
                let mut value = serde_json::to_value(&view)?;
                value["sftp"] = sftp;
                return print_json(&value);
            }
            println!(
                "SFTP:               {}:{} user {} password {}",
                sftp["host"].as_str().unwrap_or("(not serving; serve --sftp ADDR)"),
                sftp["port"],
                sftp["username"].as_str().unwrap_or(""),
                sftp["password"].as_str().unwrap_or("")
            );
            for key in sftp["keys"].as_array().into_iter().flatten() {
                println!(
                    "SFTP key:           {} {}",
                    key["algorithm"].as_str().unwrap_or(""),
                    key["fingerprint"].as_str().unwrap_or("")
                );
            }
            println!("Application:        {}", view.name);
            println!("Gateway URL:        {}", view.gateway_url);
            println!("Client-Id:          {}", view.client_id);
            println!("acquirerId:         {}", view.acquirer_id);
            println!("Sandbox public key: {}", view.sandbox_public_key);
            println!("Notify URL:         {}", view.notify_url.as_deref().unwrap_or("(not set)"));
        }
        AppCommand::SetKey { data, public_key, key_version } => {
            let text = std::fs::read_to_string(&public_key)
                .with_context(|| format!("reading {}", public_key.display()))?;
            let store = data.open()?;
            let app = target(&store, selector)?;
            let fingerprint = store.set_acqp_key_for(app.id, &text, key_version, now())?;
            println!("ACQP public key stored as keyVersion {key_version} (fingerprint {fingerprint}).");
        }
        AppCommand::SetSftpKey { data, file } => {
            let store = data.open()?;
            super::recon::set_sftp_key(&store, target(&store, selector)?.id, &file)?;
        }
        AppCommand::SetNotifyUrl { data, url } => {
            let url = (url != "none").then_some(url);
            let store = data.open()?;
            store.set_notify_url_for(target(&store, selector)?.id, url.as_deref())?;
            println!(
                "Notify URL {}.",
                url.as_deref().map(|u| format!("set to {u}")).unwrap_or("cleared".into())
            );
        }
        AppCommand::SetMagicAmounts { data, state } => {
            let on = state == "on";
            let store = data.open()?;
            store.set_magic_amounts_for(target(&store, selector)?.id, on)?;
            println!("magic amounts {}", if on { "on" } else { "off" });
        }
        AppCommand::Pair { data, name, url, token, json, merchant, account, clock, cases } => {
            if selector.is_some() {
                anyhow::bail!(
                    "companion devices are paired with the sandbox, not with one application; drop --app"
                );
            }
            let scope = plusbox_sandbox::store::DeviceScope { merchant, account, clock_control: clock };
            let cases = known_cases(cases)?;
            return pair(&data, &name, url, token, json, scope, &cases);
        }
        AppCommand::PrivateOrderCode { data, url, domain, digits_domain, clear, json } => {
            let store = data.open()?;
            let app_id = target(&store, selector)?.id;
            if clear {
                store.clear_private_order_codes_for(app_id)?;
                println!("Private-order-code registration cleared.");
                return Ok(ExitCode::SUCCESS);
            }
            let registration = match url {
                Some(url) => {
                    let domains: Vec<plusbox_sandbox::store::PrivateDomain> = domain
                        .iter()
                        .map(|d| plusbox_sandbox::store::PrivateDomain { domain: d.clone(), digits: false })
                        .chain(digits_domain.iter().map(|d| plusbox_sandbox::store::PrivateDomain {
                            domain: d.clone(),
                            digits: true,
                        }))
                        .collect();
                    Some(store.set_private_order_codes_for(app_id, &url, &domains, now())?)
                }
                None if !domain.is_empty() || !digits_domain.is_empty() => {
                    anyhow::bail!(
                        "--domain needs --url: the userInitiatedPay endpoint that decodes its codes"
                    )
                }
                None => store.private_order_codes_for(app_id)?,
            };
            if json {
                return print_json(&registration);
            }
            match registration {
                None => println!("No private-order-code registration (set one with --url and --domain)."),
                Some(r) => {
                    println!("userInitiatedPay URL: {}", r.user_initiated_pay_url);
                    for d in r.domains {
                        let form = if d.digits { " (path starts with 281***04****)" } else { "" };
                        println!("domain: {}{form}", d.domain);
                    }
                }
            }
        }
        AppCommand::Registration { data, notify_url, require, review, json } => {
            let store = data.open()?;
            let app = target(&store, selector)?;
            let review = review
                .map(|text| {
                    let parsed: plusbox_core::catalogue::CaseDuration =
                        text.parse().map_err(|e| anyhow!("--review: {e}"))?;
                    time::Duration::try_from(parsed.0).map_err(|e| anyhow!("--review: {e}"))
                })
                .transpose()?;
            let url = notify_url.as_deref().map(|u| (u != "none").then_some(u));
            let settings =
                store.update_registration_settings(app.id, url, require.map(|r| r == "on"), review)?;
            // Reviews run on sandbox time (the wall clock plus any jump ahead).
            let sandbox_now = plusbox_sandbox::clock::add_saturating(now(), store.clock_offset()?);
            let registrations = store.registrations(app.id, sandbox_now)?;
            if json {
                return print_json(
                    &serde_json::json!({"settings": settings, "registrations": registrations}),
                );
            }
            println!("Registration notify URL: {}", settings.notify_url.as_deref().unwrap_or("(not set)"));
            println!(
                "Registered merchants only: {}",
                if settings.require_registration {
                    "on (pay refuses others: MERCHANT_NOT_REGISTERED)"
                } else {
                    "off"
                }
            );
            println!("Review time:             {} s of sandbox time", settings.review_seconds);
            for r in registrations {
                println!(
                    "{}  {:<10} merchant {} store {}  {}  {}",
                    plusbox_core::protocol::time::format_instant(r.created_at),
                    r.status.as_str(),
                    r.reference_merchant_id,
                    r.reference_store_id.as_deref().unwrap_or("-"),
                    r.product_codes.join(","),
                    r.registration_request_id
                );
            }
        }
        AppCommand::Devices { data, json } => {
            if selector.is_some() {
                anyhow::bail!(
                    "companion devices are paired with the sandbox, not with one application; drop --app"
                );
            }
            let devices = data.open()?.devices()?;
            if json {
                return print_json(&devices);
            }
            if devices.is_empty() {
                println!("No companion devices are paired. Pair one with `plusbox app pair`.");
            }
            for d in devices {
                println!(
                    "{:>4}  {:<24} paired {}  last seen {}{}",
                    d.id,
                    d.name,
                    d.created_at,
                    d.last_seen_at.as_deref().unwrap_or("never"),
                    d.revoked_at.map(|at| format!("  REVOKED {at}")).unwrap_or_default()
                );
            }
        }
        AppCommand::Revoke { data, id } => {
            if selector.is_some() {
                anyhow::bail!(
                    "companion devices are paired with the sandbox, not with one application; drop --app"
                );
            }
            let device = data.open()?.revoke_device(id, now())?;
            println!("Device {} ({}) revoked; its token is refused from now on.", device.id, device.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `plusbox app pair`: a pairing link and short code (or, with `--token`, a device token).
/// The `--cases` ids, checked against the built-in catalogue (trimmed, de-duplicated).
fn known_cases(cases: Vec<String>) -> anyhow::Result<Vec<String>> {
    if cases.is_empty() {
        return Ok(cases);
    }
    let catalogue = plusbox_runner::embedded::catalogue()
        .map_err(|e| anyhow!("the built-in catalogue has errors:\n{e}"))?;
    let mut out: Vec<String> = Vec::new();
    for id in cases.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        let case =
            catalogue.get(id).ok_or_else(|| anyhow!("--cases: there is no case {id:?} in the catalogue"))?;
        if !out.iter().any(|c| c == case.id.as_str()) {
            out.push(case.id.to_string());
        }
    }
    Ok(out)
}

fn pair(
    data: &DataArg,
    name: &str,
    url: Option<String>,
    token: bool,
    json: bool,
    scope: plusbox_sandbox::store::DeviceScope,
    cases: &[String],
) -> anyhow::Result<ExitCode> {
    let store = data.open()?;
    if token {
        if let Some(account) = &scope.account {
            store.ensure_buyer_like(account, "buyer-1", now())?;
        }
        let token = store.create_device(name, now())?;
        if scope != plusbox_sandbox::store::DeviceScope::default() || !cases.is_empty() {
            let id =
                store.device_id_by_name(name)?.ok_or_else(|| anyhow!("the new device {name:?} vanished"))?;
            store.set_device_scope(id, &scope)?;
            store.set_device_cases(id, cases)?;
        }
        println!("{}", token.expose());
        eprintln!("Device token for {name:?}; send it as `Authorization: Bearer <token>` to /app/v1/. It is shown only once.");
        return Ok(ExitCode::SUCCESS);
    }
    let base = match url {
        Some(url) => {
            plusbox_sandbox::store::validate_url(&url).map_err(|e| anyhow!("--url: {e}"))?;
            url
        }
        None => store.app_view()?.gateway_url,
    };
    let base = base.trim_end_matches('/').to_string();
    let ticket = store.create_pairing(name, now())?;
    if !cases.is_empty() {
        store.set_pairing_cases(ticket.link_token.expose(), cases)?;
    }
    let link = format!("{base}/#pair={}", ticket.link_token.expose());
    let code = ticket.short_code.expose();
    let grouped = format!("{}-{}", &code[..4.min(code.len())], &code[4.min(code.len())..]);
    let expires = plusbox_core::protocol::time::format_instant(ticket.expires_at);
    if json {
        return print_json(&serde_json::json!({"link": link, "shortCode": grouped, "expiresAt": expires}));
    }
    let qr =
        plusbox_companion::render::render_terminal(&link, plusbox_companion::render::Symbology::Qr, false)
            .map_err(|e| anyhow!("cannot draw the QR code: {e}"))?;
    println!("{qr}");
    println!("Pairing link: {link}");
    println!("Short code:   {grouped}   (type it on the pairing screen at {base}/)");
    println!("Single use, valid until {expires}.");
    let host = base.split("://").nth(1).unwrap_or_default();
    if host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]") {
        eprintln!(
            "Note: {base} is this machine's loopback address; a phone cannot open it. Serve with \
             `--listen 0.0.0.0:8787 --public-url http://<this machine's LAN address>:8787`, or pass \
             `--url http://<LAN address>:8787`."
        );
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// wallet
// ---------------------------------------------------------------------------------------------

/// `plusbox wallet …`: the simulated buyer wallet.
#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// List buyer accounts: [{id, name, balances: [{currency, value}], scenario}] (value = minor units).
    List {
        #[command(flatten)]
        data: DataArg,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Add money, e.g. --amount "100.00 USD".
    Topup {
        #[command(flatten)]
        data: DataArg,
        /// Account id.
        #[arg(long)]
        account: String,
        /// Amount with currency.
        #[arg(long)]
        amount: String,
    },
    /// Set what the wallet does with this account's payments.
    Scenario {
        #[command(flatten)]
        data: DataArg,
        /// Account id.
        #[arg(long)]
        account: String,
        /// success, pin, insufficient-balance, risk-reject, user-not-exist, user-abnormal,
        /// over-limit, slow:SECONDS, no-answer, unknown-exception, stuck
        name: String,
    },
    /// Issue a one-time payment code (valid 60 s): {code, account, expiresAt}.
    Code {
        #[command(flatten)]
        data: DataArg,
        /// Account id.
        #[arg(long)]
        account: String,
        /// Code form: 24 (CGCP, default), 17 or 18 (legacy), 19 (Alipay+ 19-digit).
        #[arg(long, default_value = "24")]
        form: plusbox_core::codes::CodeForm,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Payments waiting for the buyer's PIN.
    Pending {
        #[command(flatten)]
        data: DataArg,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Confirm a waiting payment with the PIN (default PIN of provisioned buyers: 1234).
    Confirm {
        #[command(flatten)]
        data: DataArg,
        /// paymentId.
        #[arg(long)]
        payment: String,
        /// PIN.
        #[arg(long)]
        pin: String,
    },
    /// Decline a waiting payment.
    Decline {
        #[command(flatten)]
        data: DataArg,
        /// paymentId.
        #[arg(long)]
        payment: String,
    },
}

/// Runs `plusbox wallet …`.
pub fn run_wallet(command: WalletCommand) -> anyhow::Result<ExitCode> {
    match command {
        WalletCommand::List { data, json } => {
            let accounts = data.open()?.accounts()?;
            if json {
                return print_json(&accounts);
            }
            for account in accounts {
                let balances: Vec<String> = account.balances.iter().map(ToString::to_string).collect();
                println!(
                    "{:<10} {:<14} scenario={:<22} {}",
                    account.id,
                    account.name,
                    account.scenario,
                    balances.join(", ")
                );
            }
        }
        WalletCommand::Topup { data, account, amount } => {
            let money = Amount::parse_positive(&amount)?;
            let balance = data.open()?.topup(&account, &money, now())?;
            println!("{account}: +{money} → {balance}");
        }
        WalletCommand::Scenario { data, account, name } => {
            let scenario: Scenario = name.parse().map_err(|e: String| anyhow!(e))?;
            data.open()?.set_scenario(&account, &scenario)?;
            println!("{account}: scenario {scenario}");
        }
        WalletCommand::Code { data, account, form, json } => {
            let code = data.open()?.issue_code_in_form(&account, form, now())?;
            if json {
                return print_json(&code);
            }
            println!("{}", code.code);
            eprintln!("for {} — valid until {}", code.account, code.expires_at);
        }
        WalletCommand::Pending { data, json } => {
            let pending = data.open()?.pending(now())?;
            if json {
                return print_json(&pending);
            }
            if pending.is_empty() {
                println!("No payments are waiting for a buyer.");
            }
            for p in pending {
                // The merchant name comes from the ACQP's pay request.
                println!(
                    "{}  {}  {}  {}  expires {}",
                    safe(&p.payment_id),
                    safe(&p.account),
                    p.display_amount,
                    safe(p.merchant.as_deref().unwrap_or("-")),
                    p.expires_at
                );
            }
        }
        WalletCommand::Confirm { data, payment, pin } => {
            let record = data.open()?.confirm(&payment, &pin, now())?;
            let result = record.payment_result();
            println!("{payment}: {}", result.result_code);
            if result.result_status != plusbox_core::result_code::Status::Success {
                return Ok(ExitCode::FAILURE);
            }
        }
        WalletCommand::Decline { data, payment } => {
            data.open()?.decline(&payment, now())?;
            println!("{payment}: declined");
        }
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// mock
// ---------------------------------------------------------------------------------------------

/// `plusbox mock …`: iMock-style forced results.
#[derive(Debug, Subcommand)]
pub enum MockCommand {
    /// Force a result code on an API, or tamper with its signed answer, for the next N calls
    /// and/or M minutes (default: one call).
    Add {
        #[command(flatten)]
        data: DataArg,
        /// pay, inquiryPayment, cancelPayment or refund.
        #[arg(long)]
        api: String,
        /// A result code from the catalogue, e.g. UNKNOWN_EXCEPTION.
        #[arg(long, required_unless_present = "tamper", conflicts_with = "tamper")]
        result_code: Option<String>,
        /// Send the answer with a signature that does not match its body: `body` (altered after
        /// signing) or `signature` (signature corrupted).
        #[arg(long, value_parser = ["signature", "body"])]
        tamper: Option<String>,
        /// Number of calls.
        #[arg(long)]
        count: Option<u32>,
        /// Minutes from now.
        #[arg(long)]
        minutes: Option<u32>,
        /// Only calls about this merchant's payments (`order.merchant.referenceMerchantId`), so
        /// the rule cannot disturb other merchants testing on the same sandbox.
        #[arg(long, value_name = "REFERENCE_MERCHANT_ID")]
        merchant: Option<String>,
        /// Only calls about this buyer account's payments.
        #[arg(long, value_name = "ACCOUNT")]
        account: Option<String>,
    },
    /// List mock rules.
    List {
        #[command(flatten)]
        data: DataArg,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Delete every mock rule.
    Clear {
        #[command(flatten)]
        data: DataArg,
    },
}

/// What a rule does, for people: the forced code or `tamper:<mode>`.
fn mock_effect(rule: &MockRule) -> String {
    match (&rule.result_code, &rule.tamper) {
        (_, Some(tamper)) => format!("tamper:{tamper}"),
        (Some(code), None) => code.clone(),
        (None, None) => "?".into(),
    }
}

/// Whose calls a rule catches, for people: `for every call`, or the merchant and/or buyer.
fn mock_scope(rule: &MockRule) -> String {
    match (&rule.merchant, &rule.account) {
        (None, None) => "for every call".into(),
        (Some(m), None) => format!("for merchant {}", safe(m)),
        (None, Some(a)) => format!("for buyer {}", safe(a)),
        (Some(m), Some(a)) => {
            format!("for merchant {} and buyer {}", safe(m), safe(a))
        }
    }
}

/// Runs `plusbox mock …`.
pub fn run_mock(command: MockCommand) -> anyhow::Result<ExitCode> {
    match command {
        MockCommand::Add { data, api, result_code, tamper, count, minutes, merchant, account } => {
            let store = data.open()?;
            let action = match (result_code, tamper) {
                (_, Some(tamper)) => {
                    MockAction::Tamper(tamper.parse::<Tamper>().map_err(|e: String| anyhow!(e))?)
                }
                (Some(result_code), None) => MockAction::Force(
                    ResultCode::from_wire(&result_code)
                        .ok_or_else(|| anyhow!("{result_code:?} is not a result code Plusbox knows"))?,
                ),
                (None, None) => return Err(anyhow!("give --result-code CODE or --tamper signature|body")),
            };
            let scope = MockScope { merchant, account };
            let rule = store.add_scoped_mock(&api, action, count, minutes, &scope, now())?;
            println!(
                "mock #{}: {} → {} ({}{}), {}",
                rule.id,
                rule.api,
                mock_effect(&rule),
                rule.remaining
                    .map(|n| format!("{n} call(s)"))
                    .unwrap_or_else(|| "any number of calls".into()),
                rule.until.as_deref().map(|u| format!(", until {u}")).unwrap_or_default(),
                mock_scope(&rule)
            );
        }
        MockCommand::List { data, json } => {
            let rules = data.open()?.mocks(now())?;
            if json {
                return print_json(&rules);
            }
            for rule in rules {
                println!(
                    "#{} {} → {} remaining={} until={} hits={} {} {}",
                    rule.id,
                    rule.api,
                    mock_effect(&rule),
                    rule.remaining.map(|n| n.to_string()).unwrap_or("-".into()),
                    rule.until.as_deref().unwrap_or("-"),
                    rule.hits,
                    if rule.active { "active" } else { "spent" },
                    mock_scope(&rule)
                );
            }
        }
        MockCommand::Clear { data } => {
            let removed = data.open()?.clear_mocks()?;
            println!("removed {removed} mock rule(s)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// traffic
// ---------------------------------------------------------------------------------------------

/// `plusbox traffic …`: the log of every exchange.
#[derive(Debug, Subcommand)]
pub enum TrafficCommand {
    /// Follow the log live (human-readable) until Ctrl-C.
    Tail {
        #[command(flatten)]
        data: DataArg,
        /// Also show this many earlier entries.
        #[arg(long, default_value_t = 10)]
        last: u32,
    },
    /// List entries.
    List {
        #[command(flatten)]
        data: DataArg,
        /// JSON output (full headers and bodies).
        #[arg(long)]
        json: bool,
        /// Only entries after this id.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
        /// Only this application's traffic (Client-Id or name).
        #[arg(long, value_name = "CLIENT-ID|NAME")]
        app: Option<String>,
    },
}

/// Outside text for the terminal (IDs, codes, notes come from the ACQP's requests and answers).
fn safe(text: &str) -> String {
    plusbox_sandbox::text::escape_terminal(text).into_owned()
}

fn line(entry: &TrafficView) -> String {
    let arrow = if entry.direction == "outbound" { "→ACQP" } else { "ACQP→" };
    let mut text = format!(
        "#{:<5} {} {} {:<15} {}/{} sig={} {:.1}ms",
        entry.id,
        safe(&entry.at),
        arrow,
        safe(&entry.api),
        safe(entry.result_status.as_deref().unwrap_or("-")),
        safe(entry.result_code.as_deref().unwrap_or("-")),
        safe(&entry.signature),
        entry.duration_ms.unwrap_or_default()
    );
    if let Some(id) = &entry.payment_request_id {
        let id = plusbox_sandbox::text::clip(plusbox_sandbox::text::escape_terminal(id), 200);
        text.push_str(&format!(" req={id}"));
    }
    if let Some(mock) = entry.mock_id {
        text.push_str(&format!(" MOCK#{mock}"));
    }
    if let Some(findings) = entry.findings.as_array().filter(|f| !f.is_empty()) {
        text.push_str(&format!(" findings={}", findings.len()));
    }
    if let Some(note) = &entry.note {
        text.push_str(&format!(" — {}", safe(note)));
    }
    text
}

/// Runs `plusbox traffic …`.
pub fn run_traffic(command: TrafficCommand) -> anyhow::Result<ExitCode> {
    match command {
        TrafficCommand::List { data, json, after, limit, app } => {
            let store = data.open()?;
            let entries = match app {
                Some(selector) => {
                    let app = store.resolve_app(Some(&selector))?;
                    store.traffic_of(Some(&app.client_id), after, limit)?
                }
                None => store.traffic(after, limit)?,
            };
            if json {
                return print_json(&entries);
            }
            for entry in &entries {
                println!("{}", line(entry));
            }
        }
        TrafficCommand::Tail { data, last } => {
            let store = data.open()?;
            let latest = store.traffic_max_id()?;
            let mut after = latest.saturating_sub(i64::from(last));
            loop {
                let entries = store.traffic(after, 500)?;
                for entry in &entries {
                    println!("{}", line(entry));
                    after = entry.id;
                }
                if entries.is_empty() {
                    // A CLI following a file another process writes: polling is the simple way.
                    std::thread::sleep(std::time::Duration::from_millis(300));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
