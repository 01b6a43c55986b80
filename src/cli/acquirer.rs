//! `plusbox acquirer …`: the reference acquirer — write a configuration wired to a sandbox,
//! serve the POS-driver API and notify endpoint, and list the fault switches.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::Subcommand;
use plusbox_acquirer::config::write_private_file;
use plusbox_acquirer::{server, Acquirer, AcquirerConfig, Fault, MerchantConfig, SystemClock, Timing};
use plusbox_core::signing::PrivateKey;

/// `plusbox acquirer …`
#[derive(Debug, Subcommand)]
pub enum AcquirerCommand {
    /// Write an acquirer configuration wired to a sandbox: a new key pair (private key file mode
    /// 0600), the public key and the notify URL registered with the sandbox, the sandbox's
    /// gateway URL, Client-Id and public key in the file.
    Init {
        /// The sandbox's data directory (as given to `plusbox serve --data`).
        #[arg(long, value_name = "DATA_DIR")]
        from_sandbox: PathBuf,
        /// Where the sandbox should send notifyPayment, e.g. http://127.0.0.1:8788/notify.
        #[arg(long)]
        notify_url: String,
        /// Configuration file to write.
        #[arg(long, default_value = "acquirer.toml")]
        out: PathBuf,
        /// Address `acquirer serve` listens on (default: host and port of the notify URL).
        #[arg(long)]
        listen: Option<String>,
        /// Overwrite an existing configuration and key.
        #[arg(long)]
        force: bool,
        /// The sandbox application to wire (Client-Id or name, `plusbox app list`); default: the
        /// default application.
        #[arg(long, value_name = "CLIENT-ID|NAME")]
        app: Option<String>,
        /// The Agent-Token to send on every call, as a TSP calling for the application's ACQP
        /// (`plusbox tsp list`; docs/tsp.md).
        #[arg(long, value_name = "TOKEN")]
        agent_token: Option<String>,
    },
    /// Run the acquirer: POS-driver API (/charge, /refund, /cancel, /payments/{id}) and the
    /// notifyPayment endpoint, with its own SQLite order table.
    Serve {
        /// Acquirer configuration file.
        #[arg(long, env = "PLUSBOX_ACQUIRER_CONFIG", default_value = "acquirer.toml")]
        config: PathBuf,
        /// Address to listen on (default: `listen` from the configuration).
        #[arg(long)]
        listen: Option<String>,
        /// Switch a fault on (repeatable; `plusbox acquirer faults` lists them).
        #[arg(long = "fault", value_name = "NAME")]
        fault: Vec<Fault>,
    },
    /// Reconcile a clearing day: download the day's Transaction Detail Reports from the sandbox
    /// with the application's SFTP login (`plusbox app show`), compare them with the order table,
    /// print every difference. Exits 1 when the day does not reconcile.
    Reconcile {
        /// Acquirer configuration file (its order table and the sandbox's gateway URL).
        #[arg(long, env = "PLUSBOX_ACQUIRER_CONFIG", default_value = "acquirer.toml")]
        config: PathBuf,
        /// Clearing date T, YYYYMMDD or YYYY-MM-DD (UTC+8).
        #[arg(long)]
        date: String,
        /// SFTP username (the Participant ID); default: the configuration's `[sftp]` login.
        #[arg(long, env = "PLUSBOX_SFTP_USER")]
        username: Option<String>,
        /// SFTP password; default: the configuration's `[sftp]` login.
        #[arg(long, env = "PLUSBOX_SFTP_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Make a classic reconciliation mistake (recon-counts-cancelled, recon-ignores-refunds;
        /// the configuration's faults apply too).
        #[arg(long = "fault", value_name = "NAME")]
        fault: Vec<plusbox_acquirer::Fault>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the fault switches and the rule each one breaks.
    Faults {
        /// Print JSON: [{name, section, rule, behaviour}].
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `acquirer` command.
pub fn run(command: AcquirerCommand) -> anyhow::Result<ExitCode> {
    match command {
        AcquirerCommand::Init { from_sandbox, notify_url, out, listen, force, app, agent_token } => {
            init(&from_sandbox, &notify_url, &out, listen, force, app.as_deref(), agent_token)?;
            Ok(ExitCode::SUCCESS)
        }
        AcquirerCommand::Faults { json } => {
            print_faults(json)?;
            Ok(ExitCode::SUCCESS)
        }
        AcquirerCommand::Reconcile { config: config_path, date, username, password, fault, json } => {
            let config = AcquirerConfig::load(&config_path)?;
            let date = plusbox_core::recon::parse_date(&date)
                .ok_or_else(|| anyhow::anyhow!("--date {date:?} is not a date (YYYYMMDD or YYYY-MM-DD)"))?;
            let store = plusbox_acquirer::Store::open(&config.database)?;
            let configured = config.sftp.clone();
            let (username, password) = match (username, password, configured) {
                (Some(u), Some(p), _) => (u, p),
                (u, p, Some(login)) => (u.unwrap_or(login.username), p.unwrap_or(login.password)),
                _ => anyhow::bail!(
                    "no SFTP login: give --username and --password, or an [sftp] section in {} (plusbox app show prints the login)",
                    config_path.display()
                ),
            };
            let sftp = config.sftp.as_ref().and_then(|l| l.address.clone().map(|a| (a, l.host_key.clone())));
            let how = plusbox_acquirer::reconcile::Download {
                base_url: config.gateway_url.clone(),
                username,
                password,
                sftp,
            };
            let mut faults = config.faults.clone();
            for f in fault {
                faults.insert(f);
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let report = runtime.block_on(plusbox_acquirer::reconcile::reconcile(
                &store,
                &how,
                &config.merchant.reference_merchant_id,
                date,
                &faults,
            ))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "clearing date {} merchant {}: {} file(s), {} transaction(s) matched ({} payment(s), {} refund(s)), {} row(s) of other merchants",
                    report.clearing_date,
                    report.merchant,
                    report.files.len(),
                    report.matched,
                    report.matched_payments,
                    report.matched_refunds,
                    report.other_merchant_rows
                );
                for d in &report.differences {
                    println!(
                        "  {} {} {}: {}",
                        d.kind, d.transaction_type, d.transaction_request_id, d.detail
                    );
                }
                println!(
                    "{}",
                    if report.is_clean() { "reconciled: no differences" } else { "NOT reconciled" }
                );
            }
            Ok(if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        AcquirerCommand::Serve { config, listen, fault } => {
            let mut config = AcquirerConfig::load(&config)?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(serve(config, fault))
        }
    }
}

async fn serve(config: AcquirerConfig, faults: Vec<Fault>) -> anyhow::Result<ExitCode> {
    let acquirer = Acquirer::new(config, faults, Arc::new(SystemClock))?;
    let listen = acquirer.config().listen.clone();
    let (addr, task) = server::spawn(acquirer.clone(), &listen).await?;
    // Without its merchant page the acquirer still serves the POS and Alipay+; say why it is missing.
    let entry = spawn_entry_page(&acquirer).await.unwrap_or_else(|e| {
        eprintln!("warning: no entry-code merchant page: {e:#}");
        None
    });
    println!("acquirer listening on http://{addr}");
    if let (Some(url), Some(page)) = (&acquirer.config().merchant.entry_code_url, &entry) {
        println!("  entry code  {url} (merchant page, HTTPS; certificate {})", page.cert_path.display());
    }
    println!("  gateway     {}", acquirer.config().gateway_url);
    println!("  client id   {}", acquirer.config().client_id);
    println!("  notify url  {}", acquirer.config().notify_url);
    println!("  order table {}", acquirer.config().database.display());
    let faults: Vec<&str> = acquirer.faults().iter().map(Fault::name).collect();
    println!(
        "  faults      {}",
        if faults.is_empty() { "none (correct acquirer)".to_owned() } else { faults.join(", ") }
    );
    tokio::select! {
        result = task => match result {
            Ok(Ok(())) => Ok(ExitCode::SUCCESS),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => bail!("server task failed: {e}"),
        },
        _ = tokio::signal::ctrl_c() => Ok(ExitCode::SUCCESS),
    }
}

/// The merchant page of the entry code, served over HTTPS (alipayplus-api.md §6: an entry code
/// is an HTTPS URL) on the host and port of `merchant.entry_code_url`, with a self-signed
/// certificate kept next to the order table (`entry-tls/`). Dropping the handle stops it.
pub(crate) struct EntryPageServer {
    stop: tokio::sync::watch::Sender<bool>,
    /// The PEM certificate the page presents.
    pub cert_path: PathBuf,
}

impl Drop for EntryPageServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the merchant page if the configuration names an entry code.
pub(crate) async fn spawn_entry_page(acquirer: &Acquirer) -> anyhow::Result<Option<EntryPageServer>> {
    let Some(url) = acquirer.config().merchant.entry_code_url.clone() else { return Ok(None) };
    if !url.starts_with("https://") {
        bail!("merchant.entry_code_url {url:?} is not an https:// URL: an entry code is HTTPS only (alipayplus-api.md §6)");
    }
    let listen =
        authority(&url).context("cannot take the merchant page's address from merchant.entry_code_url")?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen for the merchant page on {listen}"))?;
    let addr = listener.local_addr()?;
    let dir = acquirer.config().database.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let identity = plusbox_sandbox::tls::TlsIdentity::load_or_create(
        &dir.join("entry-tls"),
        &plusbox_sandbox::tls::names_for(addr),
    )?;
    let cert_path = identity.cert_path.clone();
    let page = server::router(acquirer.clone())?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move { plusbox_sandbox::tls::serve_https(listener, page, &identity, stopped).await });
    Ok(Some(EntryPageServer { stop, cert_path }))
}

fn print_faults(json: bool) -> anyhow::Result<()> {
    if json {
        let list: Vec<_> = Fault::ALL
            .iter()
            .map(|f| serde_json::json!({"name": f.name(), "section": f.section(), "rule": f.rule(), "behaviour": f.behaviour()}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    for f in Fault::ALL {
        println!("{:<28} {}", f.name(), f.section());
        println!("  rule:  {}", f.rule());
        println!("  fault: {}", f.behaviour());
    }
    Ok(())
}

/// `host:port` of an http(s) URL (port defaulted from the scheme).
fn authority(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host_port = rest.split(['/', '?', '#']).next()?;
    if host_port.is_empty() {
        return None;
    }
    if host_port.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        Some(host_port.to_owned())
    } else {
        Some(format!("{host_port}:{}", if scheme == "https" { 443 } else { 80 }))
    }
}

fn init(
    data_dir: &std::path::Path,
    notify_url: &str,
    out: &std::path::Path,
    listen: Option<String>,
    force: bool,
    app: Option<&str>,
    agent_token: Option<String>,
) -> anyhow::Result<()> {
    if let Some(token) = &agent_token {
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            bail!("--agent-token: the Agent-Token as plusbox tsp list shows it (visible ASCII, no spaces)");
        }
    }
    plusbox_sandbox::store::validate_url(notify_url).map_err(|e| anyhow::anyhow!("--notify-url: {e}"))?;
    let path = plusbox_acquirer::config::uri_path(notify_url);
    if matches!(
        path.split('?').next(),
        Some(
            "/" | "/charge"
                | "/order-code"
                | "/private-order-code"
                | "/refund"
                | "/cancel"
                | "/health"
                | "/faults"
        )
    ) || path.starts_with("/payments")
        || path.starts_with("/aps/")
    {
        bail!("--notify-url path {path:?} collides with the acquirer's POS-driver API; use e.g. /notify");
    }
    let listen = match listen {
        Some(l) => l,
        None => {
            authority(notify_url).context("cannot take a listen address from --notify-url; pass --listen")?
        }
    };
    if out.exists() && !force {
        bail!("{} exists; pass --force to overwrite it", out.display());
    }
    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("acquirer").to_owned();
    let key_name = format!("{stem}_key.pem");
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;

    let store = plusbox_sandbox::Store::open(data_dir)
        .with_context(|| format!("opening the sandbox data in {}", data_dir.display()))?;
    let now = time::OffsetDateTime::now_utc();
    // A sandbox that was never served is provisioned here, with the default gateway address.
    store.provision_if_empty(now, "http://127.0.0.1:8787")?;
    let target = store.resolve_app(app)?.id;
    let key = PrivateKey::generate()?;
    write_private_file(&dir.join(&key_name), key.to_pkcs8_pem().expose().as_bytes())?;
    let fingerprint = store.set_acqp_key_for(target, &key.public_key()?.to_base64(), 1, now)?;
    store.set_notify_url_for(target, Some(notify_url))?;
    // Private order codes (§11): the acquirer's domain, in the fixed-domain form, decoded by its
    // userInitiatedPay endpoint on the same listener as notifications.
    let scheme = notify_url.split("://").next().unwrap_or("http");
    let host = authority(notify_url).context("cannot take the acquirer's address from --notify-url")?;
    let decode_url = format!("{scheme}://{host}{}", plusbox_acquirer::acquirer::USER_INITIATED_PAY_PATH);
    // The entry code's merchant page, HTTPS (§6): 8789 next to the default 8788; beside any other
    // port, a port that is free now (the next port up may well be another program's).
    let (listen_host, listen_port) = listen.rsplit_once(':').unwrap_or((listen.as_str(), "8788"));
    let entry_port = match listen_port.parse::<u16>() {
        Ok(8788) => 8789,
        _ => std::net::TcpListener::bind((listen_host.trim_matches(['[', ']']), 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .with_context(|| format!("cannot find a free port on {listen_host} for the merchant page"))?,
    };
    let mut merchant = MerchantConfig {
        entry_code_url: Some(format!("https://{listen_host}:{entry_port}/entry")),
        ..MerchantConfig::default()
    };
    // A private-order-code domain belongs to one application: a further application's acquirer
    // gets a sub-domain named after its Participant ID.
    if target != store.app()?.id {
        let participant = store.app_view_of(target)?.acquirer_id;
        merchant.private_order_code_domain = format!("p{participant}.{}", merchant.private_order_code_domain);
    }
    store.set_private_order_codes_for(
        target,
        &decode_url,
        &[plusbox_sandbox::store::PrivateDomain {
            domain: merchant.private_order_code_domain.clone(),
            digits: true,
        }],
        now,
    )?;
    // Disputes (§13.3): initiateRetrieval / initiateEscalation go to the acquirer's own origin,
    // where it serves both paths.
    let dispute_url = format!("{scheme}://{host}");
    store.set_dispute_url(target, Some(&dispute_url))?;
    let app = store.app_view_of(target)?;
    let sftp = store.sftp_login(target)?;
    let config = AcquirerConfig {
        gateway_url: app.gateway_url.clone(),
        client_id: app.client_id.clone(),
        acquirer_id: Some(app.acquirer_id.clone()),
        private_key_file: PathBuf::from(&key_name),
        key_version: 1,
        gateway_public_key: app.sandbox_public_key.clone(),
        notify_url: notify_url.to_owned(),
        listen,
        database: PathBuf::from(format!("{stem}.sqlite3")),
        faults: Default::default(),
        agent_token,
        sftp: Some(plusbox_acquirer::config::SftpLogin {
            username: sftp.username.clone(),
            password: sftp.password.expose().to_owned(),
            // Where `serve --sftp` last listened, with its host key pinned; else the HTTP mirror.
            address: store.sftp_address()?,
            host_key: match store.sftp_address()? {
                Some(_) => Some(plusbox_sandbox::sftp::load_or_create_host_key(data_dir)?.1),
                None => None,
            },
        }),
        merchant,
        timing: Timing::default(),
    };
    config.save(out)?;
    println!("wrote {} (private key {}, mode 0600)", out.display(), dir.join(&key_name).display());
    println!("  gateway     {}", app.gateway_url);
    println!("  client id   {}", app.client_id);
    println!("  key         registered with the sandbox (keyVersion 1, fingerprint {fingerprint})");
    println!("  notify url  {notify_url} (registered with the sandbox)");
    println!(
        "  private order codes  https://{}/281… decoded by {decode_url} (registered with the sandbox)",
        config.merchant.private_order_code_domain
    );
    if let Some(url) = &config.merchant.entry_code_url {
        println!("  entry code  {url} (merchant page, HTTPS, self-signed)");
    }
    println!("  disputes    {dispute_url}/aps/api/v1/disputes/initiate… (registered with the sandbox)");
    println!("next: plusbox acquirer serve --config {}", out.display());
    Ok(())
}
