//! `plusbox run`: runs acceptance test cases (the catalogue built into plusbox, or `--testcases
//! DIR`) headless against a POS that implements the POS-driver contract (`docs/pos-driver.md`),
//! or guided (`--manual`) for a person at a real POS, judging each from the sandbox's traffic log. Progress per step, a summary table, JSON and JUnit reports, and every run stored
//! under `<data>/runs/` with everything needed to explain its verdict later.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use plusbox_companion::render::Symbology;
use plusbox_core::catalogue::{Case, Catalogue, Outcome, Step};
use plusbox_runner::{
    CaseReport, HttpPort, Observer, Person, Report, Runner, RunnerConfig, SharedPort, StepReport,
};
use plusbox_runner_local::LocalPort;
use plusbox_sandbox::OffsetClock;

use super::sandbox::DataArg;

/// `plusbox run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Case ids to run (e.g. UPM-PAY-001); all cases of the suite when none are given.
    #[arg(value_name = "CASE")]
    pub cases: Vec<String>,
    /// Run every case of a suite (`upm`, `mpm` for the order-code cases, `merchant` for
    /// merchant registration and customs declaration, `recon` for reconciliation, `dispute` for
    /// retrievals and escalations (set the dispute URL first: `plusbox dispute set-url`), and
    /// the others of the catalogue).
    #[arg(long)]
    pub suite: Option<String>,
    /// Base URL of the POS-driver API (e.g. http://127.0.0.1:8788 from `plusbox acquirer serve`).
    #[arg(long, value_name = "URL", required_unless_present = "manual")]
    pub pos: Option<String>,
    #[command(flatten)]
    pub data: DataArg,
    /// Directory holding the case files, instead of the catalogue built into plusbox.
    #[arg(long, value_name = "DIR")]
    pub testcases: Option<PathBuf>,
    /// The sandbox buyer account that pays (default: the device's buyer with --sandbox, else
    /// buyer-1).
    #[arg(long)]
    pub account: Option<String>,
    /// Reach the sandbox over its test-control API at this URL (e.g. http://192.168.1.20:8787)
    /// instead of opening its data directory; needs --token. --data then only says where runs
    /// are stored.
    #[arg(long, value_name = "URL", requires = "token", conflicts_with = "device_dir")]
    pub sandbox: Option<String>,
    /// Device token for --sandbox, from `plusbox app pair --token [--merchant M --account A]`.
    #[arg(long, value_name = "TOKEN", env = "PLUSBOX_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Run up to N cases at once, each paying with its own buyer account (the --account buyer,
    /// then <account>-2 … <account>-N, made like it when missing), so the real-clock suite takes
    /// about as long as its longest case. What a case arranges is scoped to its buyer.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16), conflicts_with = "manual")]
    pub parallel: u32,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Guided run for a person at a real POS: instructions and the payment code in the terminal,
    /// the engine waits for the POS's traffic, then asks the manual questions and for photos.
    #[arg(long, conflicts_with = "pos")]
    pub manual: bool,
    /// Run as the device linked in DIR (`plusbox device link URL --device-dir DIR`): its sandbox,
    /// its token, its merchant's buyer; each run is kept in DIR/results.sqlite.
    #[arg(long, value_name = "DIR", conflicts_with = "token")]
    pub device_dir: Option<PathBuf>,
    /// With --device-dir: bundle each finished run, sign it with the device's key and upload it
    /// through the device's queue (what is not uploaded now waits for `plusbox device upload`).
    #[arg(long, requires = "device_dir")]
    pub upload: bool,
}

/// Loads every `*.toml` in `dir` into a catalogue; all file errors at once.
pub fn load_catalogue(dir: &Path) -> anyhow::Result<Catalogue> {
    let mut files = Vec::new();
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("reading the case directory {}", dir.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "toml") {
            let text =
                std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            files.push((name, text));
        }
    }
    files.sort();
    Catalogue::from_sources(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .map_err(|e| anyhow!("the catalogue has errors:\n{e}"))
}

fn select<'a>(catalogue: &'a Catalogue, args: &'a RunArgs) -> anyhow::Result<Vec<&'a Case>> {
    if !args.cases.is_empty() {
        return args
            .cases
            .iter()
            .map(|id| catalogue.get(id).ok_or_else(|| anyhow!("no case {id} in the catalogue")))
            .collect();
    }
    let suite = args.suite.as_deref().unwrap_or("upm");
    let cases: Vec<&Case> = catalogue.suite(suite).collect();
    if cases.is_empty() {
        bail!("no cases in suite {suite:?}");
    }
    Ok(cases)
}

/// One progress bar per case, advanced per step.
struct Bars {
    style: ProgressStyle,
    current: std::sync::Mutex<Option<ProgressBar>>,
}

impl Observer for Bars {
    fn case_started(&self, case: &Case) {
        let bar = ProgressBar::new(case.steps.len() as u64).with_style(self.style.clone());
        bar.set_prefix(case.id.to_string());
        bar.set_message(case.title.clone());
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut slot) = self.current.lock() {
            *slot = Some(bar);
        }
    }

    fn step_started(&self, _case: &Case, index: usize, step: &Step) {
        if let Ok(slot) = self.current.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.set_position(index as u64);
                bar.set_message(format!("step {}: {}", index + 1, step.instruction));
            }
        }
    }

    fn step_finished(&self, _case: &Case, index: usize, report: &StepReport) {
        if let Ok(slot) = self.current.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.set_position(index as u64 + 1);
                bar.set_message(format!("step {}: {}", index + 1, report.note));
            }
        }
    }

    fn case_finished(&self, report: &CaseReport) {
        if let Ok(mut slot) = self.current.lock() {
            if let Some(bar) = slot.take() {
                let failed = report.failed();
                let tail = if failed.is_empty() {
                    String::new()
                } else {
                    format!(" — failed: {}", failed.join(", "))
                };
                bar.finish_with_message(format!("{} ({} ms){tail}", report.verdict, report.duration_ms));
            }
        }
    }
}

/// Parallel runs: one line per case as it ends (bars would interleave).
struct Lines;

impl Observer for Lines {
    fn case_finished(&self, report: &CaseReport) {
        let failed = report.failed();
        let tail =
            if failed.is_empty() { String::new() } else { format!(" — failed: {}", failed.join(", ")) };
        println!("{:<13} {} ({} ms){tail}", report.id, report.verdict, report.duration_ms);
    }
}

/// The person at the terminal: guidance on stdout, answers read line by line from stdin.
struct Terminal {
    input: std::sync::Mutex<Box<dyn BufRead + Send>>,
}

impl Terminal {
    /// The next line of input, trimmed; `None` at the end of input.
    fn line(&self, prompt: &str) -> Option<String> {
        print!("{prompt} ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        let mut input = self.input.lock().unwrap_or_else(|e| e.into_inner());
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim().to_owned()),
        }
    }
}

impl Person for Terminal {
    fn say(&self, text: &str) {
        println!("{text}");
    }

    fn show_code(&self, code: &str) {
        // A QR the POS scanner can read off the screen, and the digits for typing them in.
        if code.chars().all(|c| c.is_ascii_digit()) {
            if let Ok(qr) = plusbox_companion::render::render_terminal(code, Symbology::Qr, false) {
                println!("{qr}");
            }
        }
        println!("Payment code: {code}");
    }

    fn proceed(&self, prompt: &str) -> bool {
        self.line(prompt).is_some()
    }

    fn ask(&self, question: &str) -> Option<bool> {
        loop {
            match self.line(&format!("{question} [y/n]"))?.to_ascii_lowercase().as_str() {
                "y" | "yes" => return Some(true),
                "n" | "no" => return Some(false),
                _ => println!("Please answer y or n."),
            }
        }
    }

    fn evidence(&self, what: &str) -> Option<PathBuf> {
        let answer = self.line(&format!("Path to a photo of {what} (Enter to skip):"))?;
        (!answer.is_empty()).then(|| PathBuf::from(answer))
    }
}

/// Keeps each case's run in the device directory's results store, as the companion keeps a
/// guided run, and with `upload` bundles, signs and queues each one and sends the queue.
#[allow(clippy::too_many_arguments)]
fn record_as_device(
    runtime: &tokio::runtime::Runtime,
    host: &super::device::DirHost,
    file: &super::device::DeviceFile,
    cases: &[&Case],
    report: &Report,
    account: &str,
    pos_driven: bool,
    key: Option<&plusbox_companion::device_key::DeviceKey>,
) -> anyhow::Result<()> {
    let registry = host.registry();
    let upload = key.is_some();
    for case_report in &report.cases {
        let Some(case) = cases.iter().find(|c| c.id.as_str() == case_report.id) else { continue };
        let run_id = registry
            .record_finished(file.device_id, case, case_report, account, pos_driven)
            .map_err(|e| anyhow!("{e}"))?;
        if let Some(key) = key {
            let record = registry
                .results()
                .run(&run_id)
                .map_err(|e| anyhow!("{e}"))?
                .ok_or_else(|| anyhow!("the run {run_id} vanished from the results store"))?;
            plusbox_companion::upload::enqueue(&registry.results(), &record, &file.invite, key)
                .map_err(|e| anyhow!("{e}"))?;
        }
    }
    if upload {
        use plusbox_companion::host::Host as _;
        runtime
            .block_on(plusbox_companion::upload::flush(&registry, &host.client(), file.device_id, true))
            .map_err(|e| anyhow!("{e}"))?;
        let status =
            plusbox_companion::upload::status(&registry, file.device_id, true).map_err(|e| anyhow!("{e}"))?;
        println!(
            "Upload: {} uploaded, {} waiting, {} refused{}",
            status.uploaded,
            status.waiting,
            status.failed,
            status.last_error.as_deref().map(|e| format!(" (last error: {e})")).unwrap_or_default()
        );
        if status.waiting > 0 {
            println!(
                "What is waiting goes with `plusbox device upload --device-dir {}`.",
                file_dir(host).display()
            );
        }
    }
    Ok(())
}

fn file_dir(host: &super::device::DirHost) -> PathBuf {
    use plusbox_companion::host::Host as _;
    host.data_dir().unwrap_or_default()
}

/// Runs `plusbox run`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let catalogue = match &args.testcases {
        Some(dir) => load_catalogue(dir)?,
        None => plusbox_runner::embedded::catalogue()
            .map_err(|e| anyhow!("the built-in catalogue has errors:\n{e}"))?,
    };
    let cases = select(&catalogue, &args)?;
    let dir = args.data.dir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let device = match &args.device_dir {
        Some(dir) => Some(super::device::DirHost::open(dir)?),
        None => None,
    };
    // The key is read before anything runs: a locked keystore stops the run here, not after
    // it, when its results could no longer be signed.
    let device_key = match (&device, args.upload) {
        (Some((host, _)), true) => Some(
            plusbox_companion::device_key::DeviceKey::load(&file_dir(host))
                .map_err(|e| anyhow!("{e}"))?
                .ok_or_else(|| anyhow!("the device directory has no device key; link it again"))?,
        ),
        _ => None,
    };
    let device_login = device.as_ref().and_then(|(host, file)| {
        use plusbox_companion::host::Host as _;
        Some((file.sandbox_url.clone(), host.device_token()?.expose().to_owned()))
    });
    let (port, account): (SharedPort, String) = match (
        device_login.as_ref().map(|(u, _)| u).or(args.sandbox.as_ref()),
        device_login.as_ref().map(|(_, t)| t).or(args.token.as_ref()),
    ) {
        (Some(url), Some(token)) => {
            let port =
                runtime.block_on(HttpPort::connect(url, token)).map_err(|e| anyhow!("--sandbox: {e}"))?;
            let scope = runtime.block_on(port.scope()).map_err(|e| anyhow!("--sandbox: {e}"))?;
            let account = match (&args.account, scope.get("account").and_then(serde_json::Value::as_str)) {
                (Some(account), _) => account.clone(),
                (None, Some(own)) => own.to_owned(),
                (None, None) => "buyer-1".to_owned(),
            };
            (Arc::new(port), account)
        }
        _ => {
            let store = Arc::new(args.data.open()?);
            // Sandbox time: the wall clock plus the jump ahead kept in the store, the same time
            // line a `plusbox serve` on this data directory runs on. The runner only reads it.
            let clock = OffsetClock::new(Arc::new(plusbox_sandbox::SystemClock), Arc::clone(&store));
            (Arc::new(LocalPort::new(store, clock)), args.account.clone().unwrap_or_else(|| "buyer-1".into()))
        }
    };
    let config = RunnerConfig::new(args.pos.clone().unwrap_or_default(), account.clone());
    let runner = Runner::new(port, config)?;
    let runs = dir.join("runs");
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();

    let report = if args.manual {
        let person: Arc<dyn Person> = Arc::new(Terminal {
            input: std::sync::Mutex::new(Box::new(std::io::BufReader::new(std::io::stdin()))),
        });
        println!("Guided run of {} case(s). The sandbox plays the buyer; you work the POS.", cases.len());
        let mut report = Report::default();
        for case in &cases {
            let evidence = runs.join(format!("{stamp}-{}", case.id));
            let case_report = runtime.block_on(runner.run_case_manual(case, Arc::clone(&person), &evidence));
            let stopped = case_report.verdict == Outcome::Incomplete;
            report.cases.push(case_report);
            if stopped {
                println!("Stopped; the remaining cases were not run.");
                break;
            }
        }
        report
    } else {
        runtime
            .block_on(runner.check_pos())
            .map_err(|e| anyhow!("{e}; start the POS (e.g. `plusbox acquirer serve`) or fix --pos"))?;
        let started = std::time::Instant::now();
        let report = if args.parallel > 1 {
            let accounts: Vec<String> = (1..=args.parallel)
                .map(|n| if n == 1 { account.clone() } else { format!("{account}-{n}") })
                .collect();
            println!(
                "Running {} case(s), up to {} at once on buyers {}.",
                cases.len(),
                args.parallel,
                accounts.join(", ")
            );
            runtime.block_on(runner.run_parallel(&cases, &accounts, &Lines))
        } else {
            let style =
                ProgressStyle::with_template("{spinner} {prefix:<13} [{bar:12}] {pos}/{len} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            let bars = Bars { style, current: std::sync::Mutex::new(None) };
            runtime.block_on(runner.run_all(&cases, &bars))
        };
        println!(
            "{} case(s) in {:.1} s, late effects audited until every payment of the run was past its expiry",
            report.cases.len(),
            started.elapsed().as_secs_f64()
        );
        report
    };

    if let Some((host, file)) = &device {
        record_as_device(&runtime, host, file, &cases, &report, &account, !args.manual, device_key.as_ref())?;
    }
    std::fs::create_dir_all(&runs).with_context(|| format!("creating {}", runs.display()))?;
    for case in &report.cases {
        let path = runs.join(format!("{stamp}-{}.json", case.id));
        std::fs::write(&path, serde_json::to_string_pretty(&case.stored())?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println!("\n{}", report.summary_table());
    println!("runs stored in {}", runs.display());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, report.junit(args.suite.as_deref().unwrap_or("upm")))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if report.all_passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
