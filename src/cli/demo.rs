//! `plusbox demo`: a sandbox and a reference acquirer on ephemeral ports with a temporary data
//! directory, one payment per wallet scenario, a progress line each and a final table. The two
//! meet only over HTTP, exactly as `plusbox serve` and `plusbox acquirer serve` would.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use plusbox_acquirer::receipt::verdict;
use plusbox_acquirer::{
    server, Acquirer, AcquirerConfig, ChargeRequest, Fault, MerchantConfig, OrderState, PaymentRecord,
    SystemClock, Timing,
};
use plusbox_core::signing::PrivateKey;
use plusbox_sandbox::{Sandbox, SandboxConfig, Scenario};

/// The scenarios the demo runs, with what the reference says should come of each.
const SCENARIOS: &[(&str, &str)] = &[
    ("success", "paid at once"),
    ("pin", "buyer confirms with a PIN; paid"),
    ("insufficient-balance", "declined"),
    ("risk-reject", "declined"),
    ("user-not-exist", "declined"),
    ("user-abnormal", "declined"),
    ("over-limit", "declined"),
    ("slow:3", "pay answer too late; paid"),
    ("unknown-exception", "U; polled, then closed or cancelled"),
    ("no-answer", "no answer; polled, then closed or cancelled"),
];

/// `plusbox demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Amount charged in each payment.
    #[arg(long, default_value = "12.50 USD")]
    pub amount: String,
    /// Run the acquirer with a fault switched on (repeatable; `plusbox acquirer faults`).
    #[arg(long = "fault", value_name = "NAME")]
    pub fault: Vec<Fault>,
    /// Only these scenarios (repeatable); default: all.
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenario: Vec<String>,
    /// Keep the data directory (sandbox database, acquirer order table, keys) here instead of a
    /// temporary one that is removed at the end.
    #[arg(long)]
    pub keep: Option<PathBuf>,
}

/// Timing for the demo: the 60 s expiry shrunk to 4 s, the schedule and timeouts with it.
fn demo_timing() -> Timing {
    Timing {
        pay_timeout_ms: 2_000,
        refund_timeout_ms: 2_000,
        cancel_timeout_ms: 2_000,
        inquiry_timeout_ms: 1_500,
        payment_expiry_ms: 4_000,
        poll_intervals_ms: vec![300, 400, 500, 700],
        max_inquiries: 30,
        pay_attempts: 3,
        retry_interval_ms: 200,
        max_cancel_attempts: 5,
        refund_attempts: 3,
        too_fast_interval_ms: 20,
        poll_forever_limit_ms: 8_000,
        order_code_window_ms: 12_000,
        order_code_poll_interval_ms: 250,
    }
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (dir, temporary) = match &args.keep {
        Some(dir) => (dir.clone(), false),
        None => {
            let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
            (std::env::temp_dir().join(format!("plusbox-demo-{}-{nanos}", std::process::id())), true)
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = runtime.block_on(demo(&args, &dir));
    if temporary {
        // Best effort: a leftover temp dir is harmless.
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

struct Row {
    scenario: String,
    expected: &'static str,
    record: Option<PaymentRecord>,
    error: Option<String>,
}

async fn demo(args: &DemoArgs, dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let scenarios: Vec<(String, &'static str)> = if args.scenario.is_empty() {
        SCENARIOS.iter().map(|(s, e)| ((*s).to_owned(), *e)).collect()
    } else {
        args.scenario
            .iter()
            .map(|s| {
                s.parse::<Scenario>().map_err(|e| anyhow::anyhow!(e))?;
                Ok((s.clone(), SCENARIOS.iter().find(|(n, _)| n == s).map_or("", |(_, e)| *e)))
            })
            .collect::<anyhow::Result<_>>()?
    };

    let mut sandbox_config = SandboxConfig::new(dir.join("sandbox"), "127.0.0.1:0".parse()?);
    sandbox_config.notify_timeout = Duration::from_secs(2);
    let sandbox = Sandbox::start(sandbox_config).await.context("starting the sandbox")?;
    let store = sandbox.store();
    let now = time::OffsetDateTime::now_utc();

    // What `plusbox acquirer init` does: new key pair, registered with the sandbox.
    let key = PrivateKey::generate()?;
    let key_file = dir.join("acquirer_key.pem");
    plusbox_acquirer::config::write_private_file(&key_file, key.to_pkcs8_pem().expose().as_bytes())?;
    store.set_acqp_key(&key.public_key()?.to_base64(), 1, now)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let notify_url = format!("http://{addr}/notify");
    store.set_notify_url(Some(&notify_url))?;
    let app = store.app_view()?;
    let config = AcquirerConfig {
        gateway_url: sandbox.base_url().to_owned(),
        client_id: app.client_id.clone(),
        acquirer_id: Some(app.acquirer_id.clone()),
        private_key_file: key_file,
        key_version: 1,
        gateway_public_key: app.sandbox_public_key.clone(),
        notify_url: notify_url.clone(),
        listen: addr.to_string(),
        database: dir.join("acquirer.sqlite3"),
        faults: Default::default(),
        agent_token: None,
        sftp: None,
        merchant: MerchantConfig::default(),
        timing: demo_timing(),
    };
    let acquirer = Acquirer::new(config, args.fault.iter().copied(), Arc::new(SystemClock))?;
    let server = tokio::spawn(server::serve(acquirer.clone(), listener));

    println!("sandbox   {}  (client id {})", sandbox.base_url(), app.client_id);
    println!("acquirer  http://{addr}  (notify {notify_url})");
    let faults: Vec<&str> = acquirer.faults().iter().map(Fault::name).collect();
    if !faults.is_empty() {
        println!("faults    {}", faults.join(", "));
    }
    println!("time      compressed: payment expiry 4 s instead of 60 s\n");

    let style =
        ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut rows = Vec::new();
    for (scenario, expected) in scenarios {
        let bar = ProgressBar::new_spinner().with_style(style.clone());
        bar.enable_steady_tick(Duration::from_millis(100));
        bar.set_message(format!("{scenario:<22} charging {} …", args.amount));
        let row = run_one(&sandbox, &acquirer, &scenario, &args.amount).await;
        let line = match (&row.0, &row.1) {
            (Some(r), _) => format!(
                "{scenario:<22} {:<26} {:<26} by {:<8} {}",
                verdict(r),
                r.result_code.as_deref().unwrap_or("-"),
                r.final_source.as_deref().unwrap_or("-"),
                r.wallet_brand_name.as_deref().unwrap_or("")
            ),
            (None, Some(e)) => format!("{scenario:<22} error: {e}"),
            (None, None) => format!("{scenario:<22} no result"),
        };
        bar.finish_with_message(line);
        rows.push(Row { scenario, expected, record: row.0, error: row.1 });
    }
    server.abort();
    sandbox.shutdown().await;

    println!();
    println!(
        "{:<22} {:<10} {:<26} {:<8} {:>3} {:>3} {:>3} {:<24} expected",
        "scenario", "state", "result code", "by", "pay", "inq", "cxl", "payment id"
    );
    let mut errors = 0;
    for row in &rows {
        match &row.record {
            Some(r) => println!(
                "{:<22} {:<10} {:<26} {:<8} {:>3} {:>3} {:>3} {:<24} {}",
                row.scenario,
                r.state.as_str(),
                r.result_code.as_deref().unwrap_or("-"),
                r.final_source.as_deref().unwrap_or("-"),
                r.pay_calls,
                r.inquiry_calls,
                r.cancel_calls,
                r.payment_id.as_deref().unwrap_or("-"),
                row.expected
            ),
            None => {
                errors += 1;
                println!("{:<22} error: {}", row.scenario, row.error.as_deref().unwrap_or("unknown"));
            }
        }
    }
    let paid =
        rows.iter().filter(|r| r.record.as_ref().is_some_and(|p| p.state == OrderState::Success)).count();
    println!("\n{} payments, {paid} paid, {errors} errors", rows.len());
    Ok(if errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn run_one(
    sandbox: &Sandbox,
    acquirer: &Acquirer,
    scenario: &str,
    amount: &str,
) -> (Option<PaymentRecord>, Option<String>) {
    let store = sandbox.store();
    let prepared = scenario
        .parse::<Scenario>()
        .map_err(|e| e.to_string())
        .and_then(|s| store.set_scenario("buyer-1", &s).map_err(|e| e.to_string()))
        .and_then(|()| {
            store.issue_code("buyer-1", time::OffsetDateTime::now_utc()).map_err(|e| e.to_string())
        });
    let code = match prepared {
        Ok(issued) => issued.code,
        Err(e) => return (None, Some(e)),
    };
    // The PIN scenario needs a buyer: confirm on the sandbox wallet once the payment waits.
    let confirm = (scenario == "pin").then(|| {
        let store = sandbox.store();
        tokio::spawn(async move {
            for _ in 0..100 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let now = time::OffsetDateTime::now_utc();
                if let Ok(Some(p)) = store.pending(now).map(|v| v.into_iter().next()) {
                    let _ = store.confirm(&p.payment_id, plusbox_sandbox::store::DEFAULT_PIN, now);
                    return;
                }
            }
        })
    });
    let result = acquirer
        .charge(ChargeRequest {
            code,
            amount: amount.to_owned(),
            payment_request_id: None,
            description: None,
        })
        .await;
    if let Some(task) = confirm {
        task.abort();
    }
    match result {
        Ok(record) => (Some(record), None),
        Err(e) => (None, Some(e.to_string())),
    }
}
