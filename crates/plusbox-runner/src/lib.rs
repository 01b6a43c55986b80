//! The Plusbox acceptance-test engine.
//!
//! A run binds a catalogue case to a sandbox (reached through a [`SandboxPort`]: buyer account,
//! scenario, traffic log)
//! and a POS reached over HTTP through the POS-driver contract (`docs/pos-driver.md`). It
//! arranges the scenario, walks the steps — driving the POS, playing the buyer, waiting for
//! traffic, states or time — then gathers the run's traffic and final states and judges them
//! with [`plusbox_core::catalogue::evaluate`]. The engine never talks to the acquirer except
//! through the POS-driver contract, so any acquirer's test POS can be run.
//!
//! Waits are in the sandbox's clock (compressed time shortens them); the engine polls the sandbox
//! at a small real-time interval. The engine never moves any clock: a case that needs time to
//! have passed ages its own objects (a code issued already lapsed, a payment backdated behind the
//! cancel window), so the ACQP's own clock stays right and other merchants see nothing.
//!
//! What a case arranges is its own: mock and tamper rules are scoped to the run's buyer account,
//! notifications are held back only for that buyer, and everything is taken back when the case
//! ends. So cases run in any order, and [`Runner::run_parallel`] runs several at once on separate
//! buyer accounts. After the last case the engine waits until every payment of the run is past
//! its expiry and judges each case again, so a late effect (a stale timer's cancel a minute
//! later) fails the case that caused it.

mod entry;
mod http_port;
mod manual;
mod mpm;
pub mod port;
mod pos;
mod report;

/// The acceptance catalogue compiled into the binary (`testcases/` at build time).
pub mod embedded {
    include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));

    /// The embedded catalogue, validated (errors name the file, line and field).
    pub fn catalogue() -> Result<plusbox_core::catalogue::Catalogue, String> {
        plusbox_core::catalogue::Catalogue::from_sources(EMBEDDED.iter().copied()).map_err(|e| e.to_string())
    }
}

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use plusbox_clock::SharedClock;
use plusbox_core::catalogue::{
    evaluate, AcquirerClock, Api, Capability, Case, CaseAmount, CodeKind, DisputeStart, Outcome,
    PaymentSnapshot, PaymentState, PosAction, PosOutcome, RefundAmount, RefundSnapshot, ResultStatus,
    RunInput, RunMode, Step, TrafficEntry, Verdict, Wait, WalletAction,
};
use plusbox_core::money::Amount;
use plusbox_core::protocol::time::format_instant;
use plusbox_core::result_code::ResultCode;
use serde_json::Value;
use tokio::task::JoinHandle;

pub use http_port::HttpPort;
pub use manual::{Person, Photo, WalletPrompt};
pub use port::{OrderRefusal, PortError, SandboxPort, ScannedOrder, SharedPort, ORDER_REFUSALS};
pub use pos::{PosAnswer, PosClient};
pub use report::{CaseReport, CheckReport, Report, StepReport};

/// Errors setting the runner up (a run itself never fails: problems become ERROR verdicts).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The HTTP client could not be built.
    #[error("cannot build the POS-driver client: {0}")]
    Http(#[from] reqwest::Error),
}

/// The store every merchant a case registers is registered with (`storeInfo.referenceStoreId`).
const REGISTERED_STORE: &str = "S01";

/// Real time between showings of the run's traffic to a guided run's person.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(300);

/// PIN of the buyer accounts the sandbox provisions (and of the buyers made like them).
pub const BUYER_PIN: &str = "1234";

/// How to run cases.
#[derive(Clone)]
pub struct RunnerConfig {
    /// Base URL of the POS-driver API.
    pub pos_url: String,
    /// The buyer account the cases pay with.
    pub account: String,
    /// Real time between looks at the sandbox while waiting.
    pub poll: std::time::Duration,
    /// Real-time limit of one POS-driver call (`/charge` blocks until final).
    pub pos_timeout: std::time::Duration,
    /// Sandbox-clock time to wait after the last step for trailing traffic (notifications).
    pub settle: time::Duration,
    /// After the last case, wait until every payment of the run is this far past its expiry
    /// and judge every case again (late effects: a stale timer's cancel, a late retry). `None`
    /// skips the audit.
    pub late_audit: Option<time::Duration>,
    /// A PEM certificate the buyer's web view trusts for merchant pages (entry codes are HTTPS,
    /// alipayplus-api.md §6; a test acquirer's page has a self-signed certificate).
    pub merchant_page_ca: Option<Vec<u8>>,
}

impl std::fmt::Debug for RunnerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerConfig")
            .field("pos_url", &self.pos_url)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl RunnerConfig {
    /// Defaults: 10 ms polling, 5 min per POS call, 2 s settle.
    pub fn new(pos_url: impl Into<String>, account: impl Into<String>) -> RunnerConfig {
        RunnerConfig {
            pos_url: pos_url.into(),
            account: account.into(),
            poll: std::time::Duration::from_millis(10),
            pos_timeout: std::time::Duration::from_secs(300),
            settle: time::Duration::seconds(2),
            late_audit: Some(time::Duration::seconds(5)),
            merchant_page_ca: None,
        }
    }
}

/// Progress callbacks (the CLI draws bars; tests ignore them).
pub trait Observer: Send + Sync {
    /// A case starts.
    fn case_started(&self, _case: &Case) {}
    /// A step starts (0-based index).
    fn step_started(&self, _case: &Case, _index: usize, _step: &Step) {}
    /// A step ended.
    fn step_finished(&self, _case: &Case, _index: usize, _report: &StepReport) {}
    /// A case ended.
    fn case_finished(&self, _report: &CaseReport) {}
}

/// An observer that does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Observer for Quiet {}

/// Runs cases.
pub struct Runner {
    port: SharedPort,
    /// The sandbox's clock, from the port.
    clock: SharedClock,
    config: RunnerConfig,
    pos: PosClient,
    /// For the forged notifications a case may send the ACQP.
    http: reqwest::Client,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").field("config", &self.config).finish_non_exhaustive()
    }
}

/// What the buyer managed to do.
enum WalletDone {
    /// Confirmed, declined or walked away.
    Acted(String),
    /// No payment of the run was waiting.
    NothingWaiting,
}

/// What the late-effects audit needs to judge a case again: its buyer, start and run state.
struct Trace {
    account: String,
    started: time::OffsetDateTime,
    state: RunState,
}

/// Cases that present a fixed sample code: the sandbox routes those to the wallet's default test
/// buyer whoever runs them, so in a parallel run they must not share that buyer with another case.
/// A case that sets the acquirer's clock runs alone too: the clock is the whole acquirer's.
fn runs_alone(case: &Case) -> bool {
    (case.setup.code.sample().is_some() && case.setup.code != CodeKind::Invalid) || !case.requires.is_empty()
}

/// The report of a case the POS driver cannot run: SKIPPED with the reason, no checks judged.
fn skipped(case: &Case, reason: String) -> CaseReport {
    let verdict = Verdict {
        id: case.id.to_string(),
        title: case.title.clone(),
        verdict: Outcome::Skipped,
        checks: Vec::new(),
        errors: Vec::new(),
    };
    let step = StepReport {
        step: 0,
        instruction: "before the case: check what the POS driver supports".into(),
        note: reason,
        timed_out: false,
    };
    CaseReport::new(&verdict, 0, vec![step], RunInput { finished: true, ..RunInput::default() })
}

/// The request-target of a URL: path and query (what a receiver verifies a signature over).
fn request_target(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    match rest.find('/') {
        Some(i) => rest.get(i..).unwrap_or("/").split('#').next().unwrap_or("/").to_owned(),
        None => "/".to_owned(),
    }
}

/// A POS call in flight.
struct PosTask {
    step: u32,
    action: &'static str,
    handle: JoinHandle<PosAnswer>,
}

/// State of one run.
struct RunState {
    /// Traffic ids at or below this belong to earlier runs.
    after: i64,
    codes: Vec<String>,
    labels: BTreeMap<String, String>,
    tasks: Vec<PosTask>,
    done: Vec<(u32, &'static str, PosAnswer)>,
    errors: Vec<String>,
    stamp: String,
    /// Mock and tamper rules this run added.
    mocks: Vec<i64>,
    /// This run holds back its buyer's notifications.
    held: bool,
    /// The buyer's scenario before the run set its own (put back afterwards).
    scenario_before: Option<String>,
    /// The wallet persona the buyer paid as before the case set one (`setup.wallet`).
    wallet_before: Option<String>,
    /// A POS call failed on its side (unreachable, 5xx): waiting for its traffic is pointless.
    pos_failed: bool,
    /// What the run last set the acquirer's clock to (`acquirer_clock` steps); the clock is put
    /// back when the case ends.
    acquirer_clock: Option<time::OffsetDateTime>,
    /// paymentRequestIds the POS reported when a sale started (order codes, `mpm.rs`).
    prids: BTreeSet<String>,
    /// The person of a guided run, asked between polls whether they stopped (cancel).
    person: Option<Arc<dyn Person>>,
    /// When the person was last shown the run's traffic.
    progressed: Option<Instant>,
}

impl RunState {
    /// True when the person of a guided run has stopped it (waits end early).
    fn stopped(&self) -> bool {
        self.person.as_ref().is_some_and(|p| p.stopped())
    }

    fn new(now: time::OffsetDateTime) -> RunState {
        RunState {
            after: 0,
            codes: Vec::new(),
            labels: BTreeMap::new(),
            tasks: Vec::new(),
            done: Vec::new(),
            errors: Vec::new(),
            mocks: Vec::new(),
            held: false,
            scenario_before: None,
            wallet_before: None,
            pos_failed: false,
            acquirer_clock: None,
            prids: BTreeSet::new(),
            person: None,
            progressed: None,
            stamp: format!("{:x}", now.unix_timestamp_nanos() / 1_000_000),
        }
    }
}

impl Runner {
    /// A runner against the sandbox behind `port` (the sandbox the POS's acquirer talks to).
    pub fn new(port: SharedPort, config: RunnerConfig) -> Result<Runner, RunnerError> {
        let pos = PosClient::new(&config.pos_url, config.pos_timeout)?;
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build()?;
        let clock = port.clock();
        Ok(Runner { port, clock, config, pos, http })
    }

    /// The same runner paying with another buyer account (parallel runs give each its own).
    pub fn with_account(&self, account: &str) -> Runner {
        let mut config = self.config.clone();
        config.account = account.to_owned();
        Runner {
            port: Arc::clone(&self.port),
            clock: Arc::clone(&self.clock),
            config,
            pos: self.pos.clone(),
            http: self.http.clone(),
        }
    }

    /// Checks that the POS answers at all; `plusbox run` calls it first so a POS that is down
    /// is one clear error instead of a timed-out wait in every case.
    pub async fn check_pos(&self) -> Result<(), String> {
        self.pos.probe().await.map_err(|e| format!("the POS-driver API is not reachable: {e}"))
    }

    /// Runs cases one after another, then audits the run for late effects.
    pub async fn run_all(&self, cases: &[&Case], observer: &dyn Observer) -> Report {
        let mut traced = Vec::new();
        for case in cases {
            traced.push(self.run_traced(case, observer).await);
        }
        self.audit(cases, traced).await
    }

    /// Runs up to `accounts.len()` cases at once, each worker paying with its own buyer account
    /// (what a case arranges is scoped to its buyer, so they cannot meet), then audits the run for
    /// late effects. Cases that present a fixed sample code (the sandbox routes those to the
    /// wallet's default buyer, whoever runs them) run alone at the end. The report lists the
    /// cases in the order given.
    pub async fn run_parallel(
        &self,
        cases: &[&Case],
        accounts: &[String],
        observer: &dyn Observer,
    ) -> Report {
        // Workers' buyers are made like the run's own buyer (same wallet persona and PIN).
        for account in accounts {
            if let Err(e) = self.port.ensure_buyer_like(account, &self.config.account).await {
                let mut report = Report::default();
                for case in cases {
                    let input = RunInput {
                        finished: true,
                        errors: vec![format!("buyer {account}: {e}")],
                        ..RunInput::default()
                    };
                    report.cases.push(CaseReport::new(&evaluate(case, &input), 0, Vec::new(), input));
                }
                return report;
            }
        }
        let workers: Vec<Runner> = if accounts.is_empty() {
            vec![self.with_account(&self.config.account)]
        } else {
            accounts.iter().map(|a| self.with_account(a)).collect()
        };
        let (alone, shared): (Vec<usize>, Vec<usize>) =
            (0..cases.len()).partition(|i| cases.get(*i).is_some_and(|c| runs_alone(c)));
        let queue = std::sync::Mutex::new(std::collections::VecDeque::from(shared));
        let results: std::sync::Mutex<Vec<Option<(CaseReport, Trace)>>> =
            std::sync::Mutex::new(cases.iter().map(|_| None).collect());
        let work = workers.iter().map(|worker| {
            let (queue, results) = (&queue, &results);
            async move {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some(index) = next else { break };
                    let Some(case) = cases.get(index) else { continue };
                    let done = worker.run_traced(case, observer).await;
                    if let Some(slot) = results.lock().unwrap_or_else(|e| e.into_inner()).get_mut(index) {
                        *slot = Some(done);
                    }
                }
            }
        });
        futures_util::future::join_all(work).await;
        for index in alone {
            if let Some(case) = cases.get(index) {
                let done = self.run_traced(case, observer).await;
                if let Some(slot) = results.lock().unwrap_or_else(|e| e.into_inner()).get_mut(index) {
                    *slot = Some(done);
                }
            }
        }
        let traced: Vec<(CaseReport, Trace)> =
            results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().flatten().collect();
        self.audit(cases, traced).await
    }

    /// Waits until every payment of the run is past its expiry (plus `late_audit`), then judges
    /// every case again from its traffic so far. A case whose verdict got worse (a cancel a stale
    /// timer sent after the case ended, a late retry) takes the new verdict, with a note.
    async fn audit(&self, cases: &[&Case], traced: Vec<(CaseReport, Trace)>) -> Report {
        let Some(grace) = self.config.late_audit else {
            return Report { cases: traced.into_iter().map(|(r, _)| r).collect() };
        };
        let mut latest: Option<time::OffsetDateTime> = None;
        for (report, _) in &traced {
            for p in &report.run.payments {
                if let Ok(Some(record)) = self.port.payment(&p.payment_id).await {
                    latest = Some(
                        latest.map_or(record.expires_at, |l: time::OffsetDateTime| l.max(record.expires_at)),
                    );
                }
            }
        }
        if let Some(latest) = latest {
            // Bounded: a payment expiring far in the future is not worth a wait of hours.
            let until = (latest + grace).min(self.clock.now() + time::Duration::minutes(5));
            self.clock.sleep_until(until).await;
        }
        let mut out = Report::default();
        for (mut report, trace) in traced {
            if report.verdict == Outcome::Skipped {
                // Never ran: nothing to audit.
                out.cases.push(report);
                continue;
            }
            let Some(case) = cases.iter().find(|c| c.id.as_str() == report.id) else {
                out.cases.push(report);
                continue;
            };
            let runner = self.with_account(&trace.account);
            let mut state = trace.state;
            let mut input = runner.gather(case, &mut state, trace.started).await;
            input.errors.clone_from(&report.run.errors);
            let verdict = evaluate(case, &input);
            if verdict.verdict > report.verdict && verdict.verdict == Outcome::Fail {
                let before = report.verdict;
                let steps = std::mem::take(&mut report.steps);
                let duration = report.duration_ms;
                report = CaseReport::new(&verdict, duration, steps, input);
                report.steps.push(StepReport {
                    step: u32::try_from(report.steps.len() + 1).unwrap_or(u32::MAX),
                    instruction: "after the run: watch the case's payments until past their expiry".into(),
                    note: format!(
                        "late effect: the verdict changed from {before} to FAIL on traffic that arrived after the case ended ({})",
                        report.failed().join(", ")
                    ),
                    timed_out: false,
                });
            }
            out.cases.push(report);
        }
        out
    }

    /// Runs one case headless and judges it. Never fails: our own problems become ERROR.
    /// Late effects are not audited here (see [`Runner::run_all`]).
    pub async fn run_case(&self, case: &Case, observer: &dyn Observer) -> CaseReport {
        self.run_traced(case, observer).await.0
    }

    async fn run_traced(&self, case: &Case, observer: &dyn Observer) -> (CaseReport, Trace) {
        observer.case_started(case);
        let started = Instant::now();
        let now = self.clock.now();
        let mut state = RunState::new(now);
        if let Some(missing) = self.missing_capability(case).await {
            let report = skipped(case, missing);
            observer.case_finished(&report);
            let trace = Trace { account: self.config.account.clone(), started: now, state };
            return (report, trace);
        }
        let mut steps = Vec::new();
        let run = self.hold_buyer(&mut state).await;
        let arranged = match run {
            Some(_) => self.arrange(case, &mut state).await,
            None => Err(String::new()),
        };
        match arranged {
            Ok(after) => {
                state.after = after;
                for (index, step) in case.steps.iter().enumerate() {
                    observer.step_started(case, index, step);
                    let report = self.step(case, index, step, &mut state).await;
                    observer.step_finished(case, index, &report);
                    steps.push(report);
                    if !state.errors.is_empty() || state.pos_failed {
                        break;
                    }
                }
                self.finish_tasks(&mut state).await;
                // Trailing traffic (notifications) only matters when the run went through.
                if state.errors.is_empty() && !state.pos_failed {
                    self.clock.sleep(self.config.settle).await;
                }
            }
            Err(e) if e.is_empty() => {}
            Err(e) => state.errors.push(e),
        }
        self.unarrange(&mut state).await;
        self.let_go(run, &mut state).await;
        if state.acquirer_clock.take().is_some() {
            if let Err(e) = self.pos.reset_clock().await {
                state.errors.push(format!("POS driver: put the acquirer's clock back: {e}"));
            }
        }
        let input = self.gather(case, &mut state, now).await;
        let verdict = evaluate(case, &input);
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let report = CaseReport::new(&verdict, duration_ms, steps, input);
        observer.case_finished(&report);
        let trace = Trace { account: self.config.account.clone(), started: now, state };
        (report, trace)
    }

    /// Sets the buyer's scenario and balance, switches magic amounts on when the case uses one,
    /// adds the case's mock and tamper rules (their ids go to `state.mocks`, so they are taken
    /// back afterwards); returns the traffic high-water mark.
    async fn arrange(&self, case: &Case, state: &mut RunState) -> Result<i64, String> {
        let setup = &case.setup;
        let port_err = |what: &str, e: PortError| format!("sandbox: {what}: {e}");
        if setup.magic {
            // Magic amounts are on by default but switchable per application (§10.2).
            self.port.magic_amounts_on().await.map_err(|e| port_err("switch magic amounts on", e))?;
        }
        let account = &self.config.account;
        let before = self.port.buyer(account).await.map_err(|e| port_err("read the buyer", e))?.scenario;
        self.port
            .set_scenario(account, setup.scenario.name())
            .await
            .map_err(|e| port_err("set the scenario", e))?;
        state.scenario_before = Some(before);
        if let Some(wallet) = &setup.wallet {
            let before =
                self.port.set_wallet(account, wallet).await.map_err(|e| port_err("set the wallet", e))?;
            state.wallet_before = Some(before);
        }
        let currency = setup.amount.0.currency.code();
        let target = setup.balance.map(|b| b.0.value).unwrap_or(setup.amount.0.value.saturating_mul(10));
        let view = self.port.buyer(account).await.map_err(|e| port_err("read the buyer", e))?;
        let have: i64 = view.balances.iter().find(|(c, _)| c == currency).map(|(_, v)| *v).unwrap_or(0);
        if have < target {
            let money = Amount::from_minor(setup.amount.0.currency, target.saturating_sub(have));
            self.port.topup(account, money).await.map_err(|e| port_err("top up", e))?;
        }
        for mock in &setup.mocks {
            let code = ResultCode::from_wire(mock.result.0.as_str())
                .ok_or_else(|| format!("the sandbox does not know result code {}", mock.result.0.as_str()))?;
            let rule = port::Rule::Force(code.as_str().to_owned());
            let id = self
                .port
                .add_rule(account, mock.api.name(), rule, mock.count, 30)
                .await
                .map_err(|e| port_err("add a mock rule", e))?;
            state.mocks.push(id);
        }
        if let Some(api) = setup.tamper {
            // The body is altered after signing (the result flipped): an ACQP that skips
            // verification acts on it, one that verifies must find the real result.
            let id = self
                .port
                .add_rule(account, api.name(), port::Rule::TamperBody, 1, 30)
                .await
                .map_err(|e| port_err("add a tamper rule", e))?;
            state.mocks.push(id);
        }
        if let Some(delay) = setup.notify_delay {
            // Held for the case's own buyer only, and taken back when the case ends.
            self.port
                .hold_notifications(account, to_time(delay.0), 30)
                .await
                .map_err(|e| port_err("hold notifications", e))?;
            state.held = true;
        }
        self.poke();
        self.port.traffic_mark().await.map_err(|e| port_err("traffic", e))
    }

    /// Holds the run's buyer for this case alone (a second run on it is refused); `None`, with
    /// the reason in the run's errors, when it cannot.
    async fn hold_buyer(&self, state: &mut RunState) -> Option<i64> {
        match self.port.begin_run(&self.config.account).await {
            Ok(run) => Some(run),
            Err(e) => {
                state.errors.push(format!("cannot start the run on buyer {}: {e}", self.config.account));
                None
            }
        }
    }

    /// Lets go of the buyer held by [`Runner::hold_buyer`].
    async fn let_go(&self, run: Option<i64>, state: &mut RunState) {
        if let Some(run) = run {
            if let Err(e) = self.port.end_run(run).await {
                state.errors.push(format!("cannot end run {run}: {e}"));
            }
        }
    }

    /// Takes back what this run arranged (rules used or not, a notification hold), so nothing
    /// leaks into the next case.
    async fn unarrange(&self, state: &mut RunState) {
        for id in std::mem::take(&mut state.mocks) {
            if let Err(e) = self.port.remove_rule(id).await {
                state.errors.push(format!("sandbox: remove mock rule {id}: {e}"));
            }
        }
        if let Some(before) = state.scenario_before.take() {
            if let Err(e) = self.port.set_scenario(&self.config.account, &before).await {
                state.errors.push(format!("sandbox: put back the buyer's scenario {before}: {e}"));
            }
        }
        if let Some(before) = state.wallet_before.take() {
            if let Err(e) = self.port.set_wallet(&self.config.account, &before).await {
                state.errors.push(format!("sandbox: put back the buyer's wallet {before}: {e}"));
            }
        }
        if std::mem::take(&mut state.held) {
            if let Err(e) = self.port.release_notifications(&self.config.account).await {
                state.errors.push(format!("sandbox: release the notification hold: {e}"));
            }
        }
    }

    fn poke(&self) {
        self.port.poke();
    }

    async fn step(&self, case: &Case, index: usize, step: &Step, state: &mut RunState) -> StepReport {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let mut notes = Vec::new();
        let mut wallet_missed = false;
        match self.before_step(case, step, state).await {
            Ok(done) => notes.extend(done),
            Err(e) => state.errors.push(format!("step {number}: {e}")),
        }
        let mark = self.port.traffic_mark().await.unwrap_or(state.after);
        if let Some(action) = &step.pos {
            match self.pos_action(case, number, action, state).await {
                Ok(note) => notes.push(note),
                Err(e) => state.errors.push(format!("step {number}: {e}")),
            }
        }
        if let Some(action) = step.wallet {
            let done = if matches!(action, WalletAction::OpenEntryCode | WalletAction::OpenEntryCodeInBrowser)
            {
                self.open_entry_code(case, action, state).await
            } else {
                self.wallet_action(action, state).await
            };
            match done {
                Ok(WalletDone::Acted(note)) => notes.push(note),
                // The ACQP may already have ended the payment (e.g. cancelled it): the checks
                // judge that; it is not a failure on our side.
                Ok(WalletDone::NothingWaiting) => {
                    notes.push("no payment of this run was waiting for the buyer".into());
                    wallet_missed = true;
                }
                Err(e) => state.errors.push(format!("step {number}: {e}")),
            }
        }
        let (note, timed_out) = self.wait(&step.wait, mark, state).await;
        notes.push(note);
        StepReport {
            step: number,
            instruction: step.instruction.clone(),
            note: notes.join("; "),
            timed_out: timed_out || wallet_missed,
        }
    }

    /// Why the POS driver cannot run `case` (a capability it lacks), or `None` when it can.
    async fn missing_capability(&self, case: &Case) -> Option<String> {
        for capability in &case.requires {
            match capability {
                Capability::AcquirerClock => {
                    if let Err(why) = self.pos.clock().await {
                        return Some(format!(
                            "not run: the case needs the POS driver's acquirer-clock capability (PUT /clock, docs/pos-driver.md) and {why}"
                        ));
                    }
                }
                Capability::AcquirerReconcile => {
                    if let Err(why) = self.pos.reconcile_supported().await {
                        return Some(format!(
                            "not run: the case needs the POS driver's acquirer-reconcile capability (POST /reconcile and /orders/age, docs/pos-driver.md) and {why}"
                        ));
                    }
                }
            }
        }
        None
    }

    /// Sets the acquirer's clock as the step says (today's date in UTC at a time of day, or the
    /// last setting plus a duration).
    async fn set_acquirer_clock(&self, clock: AcquirerClock, state: &mut RunState) -> Result<String, String> {
        let at = match clock {
            AcquirerClock::Utc(t) => {
                let time = time::Time::from_hms(t.hour, t.minute, t.second)
                    .map_err(|e| format!("acquirer_clock {t}: {e}"))?;
                time::OffsetDateTime::now_utc().date().with_time(time).assume_utc()
            }
            AcquirerClock::Advance(by) => state
                .acquirer_clock
                .ok_or("acquirer_clock.advance: no earlier step set the acquirer's clock")?
                .checked_add(to_time(by.0))
                .ok_or("acquirer_clock.advance: out of range")?,
        };
        // Set before the call: if the driver took it and the answer was lost, the case end still
        // puts the clock back.
        state.acquirer_clock = Some(at);
        let now = self.pos.set_clock(at).await?;
        Ok(format!("acquirer clock set to {at} (the acquirer reads {now})"))
    }

    /// What a step does before its POS and wallet actions: set the acquirer's clock, age the
    /// run's payments, send a forged notification.
    async fn before_step(
        &self,
        case: &Case,
        step: &Step,
        state: &mut RunState,
    ) -> Result<Vec<String>, String> {
        let mut notes = Vec::new();
        if let Some(clock) = step.acquirer_clock {
            notes.push(self.set_acquirer_clock(clock, state).await?);
        }
        if let Some(by) = step.age_payments {
            // The charge must have reached its end, so the sandbox holds the payment to age.
            let charges: Vec<PosTask> = {
                let (charges, rest): (Vec<_>, Vec<_>) =
                    state.tasks.drain(..).partition(|t| t.action == "charge");
                state.tasks = rest;
                charges
            };
            for task in charges {
                let answer = self.join(task.handle).await;
                state.done.push((task.step, task.action, answer));
            }
            let pids: Vec<String> = self.run_ids(state).await.1.into_iter().collect();
            if pids.is_empty() {
                return Err("no payment of this run to age".into());
            }
            let aged = self
                .port
                .age_payments(&pids, to_time(by.0))
                .await
                .map_err(|e| format!("sandbox: age payments: {e}"))?;
            self.poke();
            notes.push(format!(
                "aged {aged} payment(s) of this run by {by}: made {by} ago as far as the sandbox knows"
            ));
            if case.requires.contains(&Capability::AcquirerReconcile) {
                // The order table follows, so it and the clearing file agree on the day. The POS
                // actions before must have ended first (a refund's time is recorded when it ends).
                self.finish_tasks(state).await;
                let prids: Vec<String> = self.run_ids(state).await.0.into_iter().collect();
                let aged = self.pos.age_orders(&prids, to_time(by.0).whole_seconds()).await?;
                notes.push(format!("the acquirer aged {aged} order(s) of this run by {by}"));
            }
        }
        if let Some(status) = step.forge_notify {
            notes.push(self.forge_notify(status, state).await?);
        }
        if let Some(dispute) = step.dispute {
            notes.push(self.open_dispute(dispute, state).await?);
        }
        Ok(notes)
    }

    /// Has the sandbox start a dispute against the run's (first) paid payment, as the TSP does;
    /// the sandbox then sends the ACQP its signed initiate call. A refusal by the sandbox's
    /// dispute rules is a note (the checks judge what followed), not an error of the run.
    async fn open_dispute(&self, dispute: DisputeStart, state: &mut RunState) -> Result<String, String> {
        // The charge must have ended, so the sandbox holds the paid payment.
        let charges: Vec<PosTask> = {
            let (charges, rest): (Vec<_>, Vec<_>) = state.tasks.drain(..).partition(|t| t.action == "charge");
            state.tasks = rest;
            charges
        };
        for task in charges {
            let answer = self.join(task.handle).await;
            state.done.push((task.step, task.action, answer));
        }
        let mut paid = None;
        for pid in self.run_ids(state).await.1 {
            let record = self.port.payment(&pid).await.map_err(|e| format!("sandbox: payment {pid}: {e}"))?;
            if record.is_some_and(|r| r.state == "SUCCESS") {
                paid = Some(pid);
                break;
            }
        }
        let pid = paid.ok_or("no payment of this run was paid, so there is nothing to dispute")?;
        let kind = dispute.kind.name();
        let opened = self
            .port
            .open_dispute(kind, &pid, dispute.amount.map(|a| a.0))
            .await
            .map_err(|e| format!("sandbox: start a {kind}: {e}"))?;
        self.poke();
        Ok(match opened {
            Ok(id) => format!("the sandbox started {kind} {id} against payment {pid}"),
            Err((code, message)) => {
                format!("the sandbox refused a {kind} of payment {pid}: {code}: {message}")
            }
        })
    }

    /// Sends the ACQP's notify URL a `notifyPayment` for the run's latest payment claiming
    /// `status`, signed with a fresh key that is not the sandbox's. It is not in the sandbox's
    /// traffic log (the sandbox did not send it); the step note says what the ACQP answered.
    async fn forge_notify(&self, status: ResultStatus, state: &RunState) -> Result<String, String> {
        let ours = self.run_ids(state).await;
        let pay = self
            .traffic_since(state.after)
            .await?
            .into_iter()
            .rfind(|e| e.api == Api::Pay.name() && e.payment_id.is_some() && belongs(e, &ours, &state.codes))
            .ok_or(
                "no pay of this run reached the sandbox, so there is nothing to forge a notification for",
            )?;
        let request = pay.request_json();
        let app = self.port.app().await.map_err(|e| format!("sandbox: app: {e}"))?;
        let url = request
            .get("paymentNotifyUrl")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or(app.notify_url.clone())
            .ok_or("the ACQP gave no paymentNotifyUrl and the sandbox has no notification URL")?;
        let result = match status {
            ResultStatus::S => {
                serde_json::json!({"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"})
            }
            ResultStatus::F => {
                serde_json::json!({"resultCode": "PROCESS_FAIL", "resultStatus": "F", "resultMessage": "process fail"})
            }
            ResultStatus::U => {
                serde_json::json!({"resultCode": "PAYMENT_IN_PROCESS", "resultStatus": "U", "resultMessage": "payment in process"})
            }
        };
        let body = serde_json::json!({
            "paymentResult": result,
            "paymentRequestId": pay.payment_request_id,
            "paymentId": pay.payment_id,
            "acquirerId": app.acquirer_id,
            "paymentAmount": request.get("paymentAmount"),
        })
        .to_string();
        let client_id = pay.client_id.clone().unwrap_or(app.client_id);
        let time = format_instant(self.clock.now());
        let uri = request_target(&url);
        let forger =
            plusbox_core::signing::PrivateKey::generate().map_err(|e| format!("cannot make a key: {e}"))?;
        let parts = plusbox_core::signing::MessageParts {
            method: "POST",
            uri: &uri,
            client_id: &client_id,
            time: &time,
            body: body.as_bytes(),
        };
        let signature = forger.sign_message(&parts, Some(1)).map_err(|e| format!("cannot sign: {e}"))?;
        let sent = self
            .http
            .post(&url)
            .header("Content-Type", "application/json; charset=UTF-8")
            .header("Client-Id", &client_id)
            .header("Request-Time", &time)
            .header("Signature", signature)
            .body(body)
            .send()
            .await;
        let answer = match sent {
            Ok(response) => {
                let code = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                let result: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let r = |k: &str| {
                    result.pointer(&format!("/result/{k}")).and_then(Value::as_str).unwrap_or("-").to_owned()
                };
                format!("HTTP {code}, {} {}", r("resultStatus"), r("resultCode"))
            }
            Err(e) => format!("no answer ({e})"),
        };
        Ok(format!(
            "forged notifyPayment ({}) for {} sent to {url}, signed with a key that is not the sandbox's; the ACQP answered {answer}",
            status.as_str(),
            pay.payment_request_id.as_deref().unwrap_or("?")
        ))
    }

    async fn pos_action(
        &self,
        case: &Case,
        step: u32,
        action: &PosAction,
        state: &mut RunState,
    ) -> Result<String, String> {
        match action {
            PosAction::Charge { amount, request_id, same_code, description } => {
                let code = if *same_code {
                    state.codes.last().cloned().ok_or("no earlier code to re-use")?
                } else {
                    self.new_code(case.setup.code, state).await?
                };
                let amount = amount.unwrap_or(case.setup.amount).to_string();
                let prid = request_id.as_ref().map(|label| self.label(case, label, state));
                let pos = self.pos.clone();
                let shown = code.clone();
                let description = description.clone();
                let handle = tokio::spawn(async move {
                    pos.charge(&code, &amount, prid.as_deref(), description.as_deref()).await
                });
                state.tasks.push(PosTask { step, action: "charge", handle });
                Ok(format!("POS charge with code {shown}"))
            }
            PosAction::Refund { amount, request_id } => {
                let payment = self.charged_payment(state).await?;
                let amount = match amount {
                    RefundAmount::Full => self.charged_amount(case),
                    RefundAmount::Amount(a) => *a,
                }
                .to_string();
                let rrid = request_id.as_ref().map(|label| self.label(case, label, state));
                let pos = self.pos.clone();
                let note = format!("POS refund {amount} of {payment}");
                let handle =
                    tokio::spawn(async move { pos.refund(&payment, &amount, rrid.as_deref()).await });
                state.tasks.push(PosTask { step, action: "refund", handle });
                Ok(note)
            }
            PosAction::OrderCode { amount, request_id, description } => {
                self.order_code_action(
                    case,
                    step,
                    *amount,
                    request_id.as_deref(),
                    description.as_deref(),
                    state,
                )
                .await
            }
            PosAction::PrivateOrderCode { amount, request_id, description } => {
                self.private_order_code_action(
                    case,
                    step,
                    *amount,
                    request_id.as_deref(),
                    description.as_deref(),
                    state,
                )
                .await
            }
            PosAction::EntryCode => self.entry_code_action(state).await,
            PosAction::Reconcile => self.reconcile_action(step, state).await,
            PosAction::Declare { amount, request_id } => {
                let payment = self.charged_payment(state).await?;
                let amount = amount.unwrap_or(self.charged_amount(case)).to_string();
                let drid = request_id.as_ref().map(|label| self.label(case, label, state));
                let pos = self.pos.clone();
                let note = format!("POS declare {amount} of {payment} to the customs");
                let handle =
                    tokio::spawn(async move { pos.declare(&payment, &amount, drid.as_deref()).await });
                state.tasks.push(PosTask { step, action: "declare", handle });
                Ok(note)
            }
            PosAction::Register { merchant, name, request_id } => {
                // The merchant id is the run's own; traffic naming it is the run's traffic.
                let merchant = self.label(case, merchant, state);
                if !state.codes.contains(&merchant) {
                    state.codes.push(merchant.clone());
                }
                let rrid = request_id.as_ref().map(|label| self.label(case, label, state));
                let name = name.clone().unwrap_or_else(|| "Plusbox Test Merchant".to_owned());
                let pos = self.pos.clone();
                let note = format!("POS register merchant {merchant} ({name})");
                let handle = tokio::spawn(async move {
                    pos.register(&merchant, REGISTERED_STORE, &name, rrid.as_deref()).await
                });
                state.tasks.push(PosTask { step, action: "register", handle });
                Ok(note)
            }
            PosAction::Cancel { charge } => {
                let first = self.charged_payment(state).await?;
                // A labelled charge's paymentRequestId is the run's id for that label.
                let payment = match charge {
                    Some(label) => self.label(case, label, state),
                    None => first,
                };
                let pos = self.pos.clone();
                let note = format!("POS cancel of {payment}");
                let handle = tokio::spawn(async move { pos.cancel(&payment).await });
                state.tasks.push(PosTask { step, action: "cancel", handle });
                Ok(note)
            }
        }
    }

    /// `POST /reconcile` of the day of the run's first charge.
    async fn reconcile_action(&self, step: u32, state: &mut RunState) -> Result<String, String> {
        let payment = self.charged_payment(state).await?;
        let pos = self.pos.clone();
        let note = format!("the acquirer's back office reconciles the clearing day of {payment}");
        let handle = tokio::spawn(async move { pos.reconcile(&payment).await });
        state.tasks.push(PosTask { step, action: "reconcile", handle });
        Ok(note)
    }

    fn charged_amount(&self, case: &Case) -> CaseAmount {
        case.steps
            .iter()
            .find_map(|s| match &s.pos {
                Some(
                    PosAction::Charge { amount, .. }
                    | PosAction::OrderCode { amount, .. }
                    | PosAction::PrivateOrderCode { amount, .. },
                ) => Some(amount.unwrap_or(case.setup.amount)),
                _ => None,
            })
            .unwrap_or(case.setup.amount)
    }

    /// A per-run id for a label, so repeated runs never collide (≤ 64 characters).
    fn label(&self, case: &Case, label: &str, state: &mut RunState) -> String {
        let stamp = state.stamp.clone();
        state
            .labels
            .entry(label.to_owned())
            .or_insert_with(|| {
                let mut id = format!(
                    "pbx_{}_{}_{}",
                    case.id.as_str().to_ascii_lowercase().replace('-', ""),
                    label,
                    stamp
                );
                id.truncate(64);
                id
            })
            .clone()
    }

    async fn new_code(&self, kind: CodeKind, state: &mut RunState) -> Result<String, String> {
        let code = match kind.sample() {
            Some(sample) => sample.to_owned(),
            None => {
                // Codes are valid for 60 s (alipayplus-api.md §4.1): an expired one is issued
                // 61 s ago, so it has lapsed without any clock moving.
                let age = if kind == CodeKind::Expired {
                    time::Duration::seconds(61)
                } else {
                    time::Duration::ZERO
                };
                self.port
                    .issue_code(&self.config.account, age)
                    .await
                    .map_err(|e| format!("sandbox: issue code: {e}"))?
            }
        };
        state.codes.push(code.clone());
        Ok(code)
    }

    /// Waits for the earlier charges to end and returns the first one's paymentRequestId.
    async fn charged_payment(&self, state: &mut RunState) -> Result<String, String> {
        let charges: Vec<PosTask> = {
            let (charges, rest): (Vec<_>, Vec<_>) = state.tasks.drain(..).partition(|t| t.action == "charge");
            state.tasks = rest;
            charges
        };
        for task in charges {
            let answer = self.join(task.handle).await;
            state.done.push((task.step, task.action, answer));
        }
        state
            .done
            .iter()
            .find(|(_, action, a)| *action == "charge" && a.reference.is_some())
            .and_then(|(_, _, a)| a.reference.clone())
            .ok_or_else(|| "no charge gave a paymentRequestId to refund or cancel".to_owned())
    }

    async fn join(&self, handle: JoinHandle<PosAnswer>) -> PosAnswer {
        match handle.await {
            Ok(answer) => answer,
            Err(e) => PosAnswer {
                status: "ERROR".into(),
                reference: None,
                detail: Some(format!("POS task failed: {e}")),
                body: Value::Null,
            },
        }
    }

    async fn finish_tasks(&self, state: &mut RunState) {
        for task in std::mem::take(&mut state.tasks) {
            let answer = self.join(task.handle).await;
            state.done.push((task.step, task.action, answer));
        }
    }

    async fn wallet_action(&self, action: WalletAction, state: &RunState) -> Result<WalletDone, String> {
        if action == WalletAction::Abandon {
            return Ok(WalletDone::Acted("buyer walks away".into()));
        }
        if matches!(action, WalletAction::ScanConfirm | WalletAction::ScanDecline) {
            return self.scan_order_code(action, state).await;
        }
        // The payment may land a moment after the step starts; look for a while (sandbox time).
        let deadline = self.clock.now() + time::Duration::seconds(15);
        loop {
            let now = self.clock.now();
            let pending = self
                .port
                .pending(&self.config.account)
                .await
                .map_err(|e| format!("sandbox: pending: {e}"))?;
            let ours = self.run_ids(state).await;
            if let Some(p) = pending
                .iter()
                .find(|p| p.account == self.config.account && ours.0.contains(&p.payment_request_id))
            {
                let result = match action {
                    WalletAction::ConfirmPin => self.port.confirm(&p.payment_id, BUYER_PIN).await,
                    _ => self.port.decline(&p.payment_id).await,
                };
                self.poke();
                let verb = if action == WalletAction::ConfirmPin { "confirmed" } else { "declined" };
                return result
                    .map(|_| WalletDone::Acted(format!("buyer {verb} {}", p.payment_id)))
                    .map_err(|e| format!("sandbox: buyer action: {e}"));
            }
            if now >= deadline {
                return Ok(WalletDone::NothingWaiting);
            }
            tokio::time::sleep(self.config.poll).await;
        }
    }

    /// Collects POS calls that have ended; true if one failed on the POS's side.
    async fn reap(&self, state: &mut RunState) -> bool {
        let (ended, running): (Vec<PosTask>, Vec<PosTask>) =
            std::mem::take(&mut state.tasks).into_iter().partition(|t| t.handle.is_finished());
        state.tasks = running;
        for task in ended {
            let answer = self.join(task.handle).await;
            state.done.push((task.step, task.action, answer));
        }
        if state.done.iter().any(|(_, _, a)| a.is_error()) {
            state.pos_failed = true;
        }
        state.pos_failed
    }

    async fn wait(&self, wait: &Wait, mark: i64, state: &mut RunState) -> (String, bool) {
        self.wait_at_least(wait, mark, state, time::Duration::ZERO).await
    }

    /// Like [`Runner::wait`], waiting for traffic or a state at least `floor` (guided runs).
    async fn wait_at_least(
        &self,
        wait: &Wait,
        mark: i64,
        state: &mut RunState,
        floor: time::Duration,
    ) -> (String, bool) {
        let (within, what) = match wait {
            Wait::Confirmation => return ("headless: no confirmation needed".into(), false),
            Wait::Timeout { duration } => {
                // In slices, so a POS that fails meanwhile ends the wait early.
                let deadline = self.clock.now() + to_time(duration.0);
                while self.clock.now() < deadline {
                    if state.stopped() {
                        return (format!("stopped waiting {duration}: the person stopped the run"), true);
                    }
                    if self.reap(state).await {
                        return (format!("stopped waiting {duration}: the POS call failed"), true);
                    }
                    self.progress(state, false).await;
                    let slice = (self.clock.now() + to_time(self.config.poll)).min(deadline);
                    self.clock.sleep_until(slice).await;
                }
                return (format!("waited {duration}"), false);
            }
            Wait::Api { within, api, .. } => (within, format!("{api}")),
            Wait::State { within, state, .. } => (within, format!("payment {state}")),
        };
        let deadline = self.clock.now() + to_time(within.0).max(floor);
        loop {
            if let Some(note) = self.wait_met(wait, mark, state).await {
                return (note, false);
            }
            if self.reap(state).await {
                return (format!("stopped waiting for {what}: the POS call failed"), true);
            }
            if state.stopped() {
                return (format!("stopped waiting for {what}: the person stopped the run"), true);
            }
            self.progress(state, false).await;
            if self.clock.now() >= deadline {
                return (format!("no {what} within {within}"), true);
            }
            tokio::time::sleep(self.config.poll).await;
        }
    }

    /// Shows a guided run's person the run's own traffic so far (at most every
    /// [`PROGRESS_EVERY`] unless `now`); nothing for a headless run.
    async fn progress(&self, state: &mut RunState, now: bool) {
        let Some(person) = state.person.clone() else { return };
        if !now && state.progressed.is_some_and(|t| t.elapsed() < PROGRESS_EVERY) {
            return;
        }
        state.progressed = Some(Instant::now());
        let Ok(all) = self.traffic_since(state.after).await else { return };
        let ours = self.run_ids(state).await;
        let entries: Vec<TrafficEntry> =
            all.into_iter().filter(|e| belongs(e, &ours, &state.codes)).collect();
        person.traffic(&entries);
    }

    async fn wait_met(&self, wait: &Wait, mark: i64, state: &RunState) -> Option<String> {
        match wait {
            Wait::Api { api, result_status, .. } => {
                let entries = self.traffic_since(mark).await.ok()?;
                let ours = self.run_ids(state).await;
                entries
                    .iter()
                    .find(|e| {
                        e.api == api.name()
                            && belongs(e, &ours, &state.codes)
                            && result_status.is_none_or(|s| e.result_status.as_deref() == Some(s.as_str()))
                    })
                    .map(|e| {
                        format!("{} {} (#{})", api, e.result_status.as_deref().unwrap_or("unanswered"), e.id)
                    })
            }
            Wait::State { state: want, .. } => {
                let ours = self.run_ids(state).await;
                for pid in &ours.1 {
                    let Ok(Some(record)) = self.port.payment(pid).await else { continue };
                    if PaymentState::parse(&record.state) == Some(*want) {
                        return Some(format!("payment {pid} is {}", record.state));
                    }
                }
                None
            }
            Wait::Confirmation | Wait::Timeout { .. } => Some(String::new()),
        }
    }

    /// Traffic after `mark`, as the core's entries.
    async fn traffic_since(&self, mark: i64) -> Result<Vec<TrafficEntry>, String> {
        let mut out = Vec::new();
        let mut after = mark;
        loop {
            let (page, next) =
                self.port.traffic(after, 500).await.map_err(|e| format!("sandbox: traffic: {e}"))?;
            let full = page.len() == 500;
            out.extend(page);
            if !full || next <= after {
                break;
            }
            after = next;
        }
        Ok(out)
    }

    /// (paymentRequestIds, paymentIds) of this run: pays that carried one of the run's codes, and
    /// decodes (`userInitiatedPay`) of one of its private order codes.
    async fn run_ids(&self, state: &RunState) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut prids = BTreeSet::new();
        let mut pids = BTreeSet::new();
        for e in self.traffic_since(state.after).await.unwrap_or_default() {
            // A payment is made by a pay, or for a private order code by the decode of its code.
            if e.api != Api::Pay.name() && e.api != Api::UserInitiatedPay.name() {
                continue;
            }
            let body = e.request_json();
            let code = body
                .pointer("/paymentMethod/paymentMethodId")
                .or_else(|| body.pointer("/codeValue"))
                .and_then(Value::as_str)
                .unwrap_or("");
            // An entry-code pay is known by the cashier URL it was answered with.
            let answer: Value = serde_json::from_str(&e.response_body).unwrap_or(Value::Null);
            let cashier = answer.get("paymentUrl").and_then(Value::as_str).unwrap_or("");
            let reported = e.payment_request_id.as_ref().is_some_and(|id| state.prids.contains(id));
            let known = |c: &str| !c.is_empty() && state.codes.iter().any(|s| s == c);
            if reported || known(code) || known(cashier) {
                prids.extend(e.payment_request_id.clone());
                pids.extend(e.payment_id.clone());
            }
        }
        // Ids the POS reported (a refused pay may carry no code we can read).
        for (_, _, answer) in &state.done {
            if let Some(Value::String(id)) = answer.body.get("paymentRequestId") {
                prids.insert(id.clone());
            }
        }
        (prids, pids)
    }

    async fn gather(&self, case: &Case, state: &mut RunState, started: time::OffsetDateTime) -> RunInput {
        let (prids, pids) = self.run_ids(state).await;
        let mut errors = std::mem::take(&mut state.errors);
        let all = match self.traffic_since(state.after).await {
            Ok(all) => all,
            Err(e) => {
                errors.push(e);
                Vec::new()
            }
        };
        let ours = (prids, pids);
        let traffic: Vec<TrafficEntry> =
            all.into_iter().filter(|e| belongs(e, &ours, &state.codes)).collect();

        // Payments in the order their first pay (or, for a private order code, the decode that
        // created it) appeared.
        let mut order: Vec<String> = Vec::new();
        for e in &traffic {
            if let Some(pid) = &e.payment_id {
                let creates = e.api == Api::Pay.name() || e.api == Api::UserInitiatedPay.name();
                if creates && !order.contains(pid) {
                    order.push(pid.clone());
                }
            }
        }
        let mut payments = Vec::new();
        for pid in order {
            match self.port.payment(&pid).await {
                Ok(Some(record)) => {
                    payments.push(PaymentSnapshot {
                        refunds: refunds_from(&traffic, &record.payment_request_id, &record.payment_id),
                        payment_request_id: record.payment_request_id,
                        payment_id: record.payment_id,
                        state: record.state,
                        fail_code: record.fail_code,
                        value: record.value,
                        currency: record.currency,
                    });
                }
                Ok(None) => {}
                Err(e) => errors.push(format!("sandbox: payment {pid}: {e}")),
            }
        }
        let mut pos: Vec<PosOutcome> = Vec::new();
        for (step, action, answer) in &state.done {
            if answer.is_error() {
                errors.push(format!(
                    "step {step}: the POS could not {action}: {}",
                    answer.detail.as_deref().unwrap_or("no detail")
                ));
            }
            pos.push(PosOutcome {
                step: *step,
                action: (*action).to_owned(),
                status: answer.status.clone(),
                reference: answer.reference.clone(),
                detail: answer.detail.clone(),
            });
        }
        pos.sort_by_key(|p| p.step);
        let _ = case;
        RunInput {
            mode: RunMode::Headless,
            finished: true,
            started_at: Some(format_instant(started)),
            traffic,
            payments,
            pos,
            answers: BTreeMap::new(),
            evidence: BTreeMap::new(),
            errors,
        }
    }
}

/// True if a traffic entry belongs to this run: it names one of the run's payments, or (for
/// requests refused before their ids were read) its body carries one of the run's codes.
fn belongs(e: &TrafficEntry, ours: &(BTreeSet<String>, BTreeSet<String>), codes: &[String]) -> bool {
    e.payment_request_id.as_ref().is_some_and(|id| ours.0.contains(id))
        || e.payment_id.as_ref().is_some_and(|id| ours.1.contains(id))
        || (e.payment_request_id.is_none()
            && e.payment_id.is_none()
            && codes.iter().any(|c| e.request_body.contains(c.as_str())))
}

/// Successful and refused refunds of a payment, from its refund answers (the refund API is
/// synchronous, so its answers are the refunds' states).
fn refunds_from(traffic: &[TrafficEntry], prid: &str, pid: &str) -> Vec<RefundSnapshot> {
    let mut out: Vec<RefundSnapshot> = Vec::new();
    for e in traffic.iter().filter(|e| e.api == Api::Refund.name()) {
        let body = e.request_json();
        let of_payment = body.get("paymentRequestId").and_then(Value::as_str) == Some(prid)
            || body.get("paymentId").and_then(Value::as_str) == Some(pid);
        if !of_payment {
            continue;
        }
        let Some(rrid) = body.get("refundRequestId").and_then(Value::as_str) else { continue };
        let value = body
            .pointer("/refundAmount/value")
            .and_then(Value::as_str)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let code = e.result_code.clone().unwrap_or_else(|| "UNKNOWN".into());
        let refund_id = serde_json::from_str::<Value>(&e.response_body)
            .ok()
            .and_then(|b| b.get("refundId").and_then(Value::as_str).map(str::to_owned));
        match out.iter_mut().find(|r| r.refund_request_id == rrid) {
            // A retry: the latest answer decides, unless an earlier one already succeeded.
            Some(r) if r.result_code != "SUCCESS" => {
                r.result_code = code;
                r.refund_id = refund_id.or(r.refund_id.take());
            }
            Some(_) => {}
            None => out.push(RefundSnapshot {
                refund_request_id: rrid.to_owned(),
                refund_id,
                value,
                result_code: code,
            }),
        }
    }
    out
}

fn to_time(d: std::time::Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}
