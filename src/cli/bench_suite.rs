//! `plusbox bench suite`: the whole UPM catalogue against the reference acquirer on compressed
//! time, in one process — a sandbox on a clock `--scale` times faster than the wall clock, the
//! acquirer on its own clock compressed the same way (never following the sandbox's) with the
//! reference's real timing (8 s pay timeout, 60 s expiry, 2–10 s polls), and the runner driving
//! its POS-driver API. Reports the total and each case's duration; `--parallel N` runs up to N
//! cases at once on separate buyer accounts.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Args;
use plusbox_acquirer::{server, Acquirer, AcquirerConfig, Fault, MerchantConfig, Timing};
use plusbox_core::catalogue::{Case, Outcome};
use plusbox_core::signing::PrivateKey;
use plusbox_runner::{Quiet, Report, Runner, RunnerConfig};
use plusbox_sandbox::{Sandbox, SandboxConfig, ScaledClock};
use serde_json::json;

/// Options of `plusbox bench suite`.
#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// Case ids to run (default: the whole suite given by --suite).
    #[arg(value_name = "CASE")]
    pub cases: Vec<String>,
    /// The suite to run when no case ids are given: `upm`, or `mpm` (order codes, private order
    /// codes and entry codes).
    #[arg(long, default_value = "upm")]
    pub suite: String,
    /// How many times faster than the wall clock sandbox (and acquirer) time runs.
    #[arg(long, default_value_t = 20)]
    pub scale: u32,
    /// Switch a fault on in the reference acquirer (repeatable).
    #[arg(long, value_name = "NAME")]
    pub fault: Vec<Fault>,
    /// Print the result as JSON: {scale, totalMs, passed, cases: [{id, verdict, durationMs}]}.
    #[arg(long)]
    pub json: bool,
    /// Run up to N cases at once, each on its own buyer account (buyer-1 … buyer-N).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub parallel: u32,
}

/// Runs `plusbox bench suite`.
pub fn run(args: SuiteArgs) -> anyhow::Result<ExitCode> {
    if args.scale == 0 {
        bail!("--scale must be at least 1");
    }
    let catalogue = plusbox_runner::embedded::catalogue()
        .map_err(|e| anyhow!("the built-in catalogue has errors:\n{e}"))?;
    let cases: Vec<&Case> = if args.cases.is_empty() {
        let cases: Vec<&Case> = catalogue.suite(&args.suite).collect();
        if cases.is_empty() {
            bail!("no cases in suite {:?}; the suites are upm and mpm", args.suite);
        }
        cases
    } else {
        args.cases
            .iter()
            .map(|id| catalogue.get(id).ok_or_else(|| anyhow!("no case {id} in the catalogue")))
            .collect::<anyhow::Result<_>>()?
    };
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let dir = std::env::temp_dir().join(format!("plusbox-bench-suite-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(bench(&args, &cases, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    let (report, total) = result?;

    let passed = report.cases.iter().filter(|c| c.verdict == Outcome::Pass).count();
    if args.json {
        let cases: Vec<_> = report
            .cases
            .iter()
            .map(|c| json!({"id": c.id, "verdict": c.verdict.to_string(), "durationMs": c.duration_ms}))
            .collect();
        let out = json!({
            "scale": args.scale,
            "totalMs": total.as_millis() as u64,
            "passed": passed,
            "cases": cases,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{:<13} {:<8} {:>9}", "case", "verdict", "ms");
        let mut slowest: Vec<_> = report.cases.iter().collect();
        for c in &report.cases {
            println!("{:<13} {:<8} {:>9}", c.id, c.verdict.to_string(), c.duration_ms);
        }
        slowest.sort_by_key(|c| std::cmp::Reverse(c.duration_ms));
        let top: Vec<String> =
            slowest.iter().take(3).map(|c| format!("{} {} ms", c.id, c.duration_ms)).collect();
        println!(
            "\n{} cases, {passed} passed, total {:.1} s at {}x compressed time (slowest: {})",
            report.cases.len(),
            total.as_secs_f64(),
            args.scale,
            top.join(", ")
        );
    }
    Ok(if passed == report.cases.len() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn bench(
    args: &SuiteArgs,
    cases: &[&Case],
    dir: &std::path::Path,
) -> anyhow::Result<(Report, Duration)> {
    let scale = args.scale;
    let scaled = Arc::new(ScaledClock::new(f64::from(scale)));
    // The acquirer's own clock, set once from the sandbox's (two scaled clocks started apart would
    // drift apart by the scale times the gap), then running on its own.
    let acquirer_clock = Arc::new(plusbox_acquirer::ScaledClock::anchored(
        plusbox_sandbox::Clock::now(scaled.as_ref()),
        Instant::now(),
        f64::from(scale),
    ));
    let mut config = SandboxConfig::new(dir.join("sandbox"), "127.0.0.1:0".parse()?).with_clock(scaled);
    // Notification attempts time out after Alipay+'s 5 s of sandbox time.
    config.notify_timeout = Duration::from_millis(5_000 / u64::from(scale)).max(Duration::from_millis(200));
    let sandbox = Sandbox::start(config).await.context("starting the sandbox")?;
    let store = sandbox.store();
    let now = plusbox_sandbox::Clock::now(&sandbox.clock());

    let key = PrivateKey::generate()?;
    let key_file = dir.join("acquirer_key.pem");
    plusbox_acquirer::config::write_private_file(&key_file, key.to_pkcs8_pem().expose().as_bytes())?;
    store.set_acqp_key(&key.public_key()?.to_base64(), 1, now)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let notify_url = format!("http://{addr}/notify");
    store.set_notify_url(Some(&notify_url))?;
    // Private order codes (§11): the acquirer's domain, decoded by its userInitiatedPay.
    store.set_private_order_codes(
        &format!("http://{addr}{}", plusbox_acquirer::acquirer::USER_INITIATED_PAY_PATH),
        &[plusbox_sandbox::store::PrivateDomain {
            domain: plusbox_acquirer::config::DEFAULT_PRIVATE_ORDER_CODE_DOMAIN.to_owned(),
            digits: true,
        }],
        now,
    )?;
    let app = store.app_view()?;
    // The merchant page of the entry code is HTTPS (§6): its own listener, self-signed.
    let entry_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let entry_url = format!("https://{}/entry", entry_listener.local_addr()?);
    let identity = plusbox_sandbox::tls::TlsIdentity::load_or_create(
        &dir.join("entry-tls"),
        &["127.0.0.1".to_owned(), "localhost".to_owned()],
    )?;
    let entry_ca = std::fs::read(&identity.cert_path)?;
    // The reference timing in sandbox time; only the HTTP timeouts run in real time.
    let real = |ms: u64| (ms / u64::from(scale)).max(1);
    let d = Timing::default();
    let timing = Timing {
        pay_timeout_ms: real(d.pay_timeout_ms),
        refund_timeout_ms: real(d.refund_timeout_ms),
        cancel_timeout_ms: real(d.cancel_timeout_ms),
        inquiry_timeout_ms: real(d.inquiry_timeout_ms),
        ..d
    };
    let acquirer_config = AcquirerConfig {
        gateway_url: sandbox.base_url().to_owned(),
        client_id: app.client_id.clone(),
        acquirer_id: Some(app.acquirer_id.clone()),
        private_key_file: key_file,
        key_version: 1,
        gateway_public_key: app.sandbox_public_key.clone(),
        notify_url,
        listen: addr.to_string(),
        database: dir.join("acquirer.sqlite3"),
        faults: Default::default(),
        agent_token: None,
        sftp: None,
        merchant: MerchantConfig { entry_code_url: Some(entry_url), ..MerchantConfig::default() },
        timing,
    };
    let acquirer = Acquirer::new(acquirer_config, args.fault.iter().copied(), acquirer_clock)?;
    let page = server::router(acquirer.clone())?;
    let server = tokio::spawn(server::serve(acquirer, listener));
    let (entry_stop, stopped) = tokio::sync::watch::channel(false);
    let entry_server = tokio::spawn(async move {
        plusbox_sandbox::tls::serve_https(entry_listener, page, &identity, stopped).await
    });

    let mut runner_config = RunnerConfig::new(format!("http://{addr}"), "buyer-1");
    runner_config.merchant_page_ca = Some(entry_ca);
    let port =
        plusbox_runner_local::LocalPort::new(Arc::clone(&store), sandbox.clock()).with_poke(sandbox.poker());
    let runner = Runner::new(Arc::new(port), runner_config)?;
    let started = Instant::now();
    let report = if args.parallel > 1 {
        let accounts: Vec<String> = (1..=args.parallel).map(|n| format!("buyer-{n}")).collect();
        runner.run_parallel(cases, &accounts, &Quiet).await
    } else {
        runner.run_all(cases, &Quiet).await
    };
    let total = started.elapsed();
    server.abort();
    let _ = entry_stop.send(true);
    entry_server.abort();
    sandbox.shutdown().await;
    Ok((report, total))
}
