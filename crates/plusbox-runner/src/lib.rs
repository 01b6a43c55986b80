//! The Plusbox acceptance-test engine.
//!
//! A run binds a catalogue case to a sandbox (its store: buyer account, scenario, traffic log)
//! and a POS reached over HTTP through the POS-driver contract (`docs/pos-driver.md`). It
//! arranges the scenario, walks the steps — driving the POS, playing the buyer, waiting for
//! traffic, states or time — then gathers the run's traffic and final states and judges them
//! with [`plusbox_core::catalogue::evaluate`]. The engine never talks to the acquirer except
//! through the POS-driver contract, so any acquirer's test POS can be run.
//!
//! Waits are in the sandbox's clock (compressed time shortens them); the engine polls the store
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

mod manual;
mod mpm;
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
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use plusbox_core::catalogue::{
    evaluate, Api, Case, CaseAmount, CodeKind, Outcome, PaymentSnapshot, PaymentState, PosAction, PosOutcome,
    RefundAmount, RefundSnapshot, ResultStatus, RunInput, RunMode, Step, TrafficEntry, Wait, WalletAction,
};
use plusbox_core::money::Amount;
use plusbox_core::protocol::time::format_instant;
use plusbox_sandbox::store::{MockAction, MockScope, Tamper, DEFAULT_PIN};
use plusbox_sandbox::{Clock, OffsetClock, ResultCode, Scenario, Store};
use serde_json::Value;
use tokio::task::JoinHandle;

pub use manual::Person;
pub use pos::{PosAnswer, PosClient};
pub use report::{CaseReport, CheckReport, Report, StepReport};

/// Errors setting the runner up (a run itself never fails: problems become ERROR verdicts).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The HTTP client could not be built.
    #[error("cannot build the POS-driver client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Wakes the sandbox's background worker after the store or the clock changed.
pub type Poke = Arc<dyn Fn() + Send + Sync>;

/// How to run cases.
#[derive(Clone)]
pub struct RunnerConfig {
    /// Base URL of the POS-driver API.
    pub pos_url: String,
    /// The buyer account the cases pay with.
    pub account: String,
    /// The sandbox's clock: waits and timestamps run on it. The runner only reads it.
    pub clock: OffsetClock,
    /// Wakes the sandbox worker (in-process sandboxes); external ones poll the store themselves.
    pub poke: Option<Poke>,
    /// Real time between looks at the store while waiting.
    pub poll: std::time::Duration,
    /// Real-time limit of one POS-driver call (`/charge` blocks until final).
    pub pos_timeout: std::time::Duration,
    /// Sandbox-clock time to wait after the last step for trailing traffic (notifications).
    pub settle: time::Duration,
    /// After the last case, wait until every payment of the run is this far past its expiry
    /// and judge every case again (late effects: a stale timer's cancel, a late retry). `None`
    /// skips the audit.
    pub late_audit: Option<time::Duration>,
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
    pub fn new(pos_url: impl Into<String>, account: impl Into<String>, clock: OffsetClock) -> RunnerConfig {
        RunnerConfig {
            pos_url: pos_url.into(),
            account: account.into(),
            clock,
            poke: None,
            poll: std::time::Duration::from_millis(10),
            pos_timeout: std::time::Duration::from_secs(300),
            settle: time::Duration::seconds(2),
            late_audit: Some(time::Duration::seconds(5)),
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
    store: Arc<Store>,
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
fn runs_alone(case: &Case) -> bool {
    case.setup.code.sample().is_some() && case.setup.code != CodeKind::Invalid
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
    /// A POS call failed on its side (unreachable, 5xx): waiting for its traffic is pointless.
    pos_failed: bool,
    /// paymentRequestIds the POS reported when a sale started (order codes, `mpm.rs`).
    prids: BTreeSet<String>,
}

impl RunState {
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
            pos_failed: false,
            prids: BTreeSet::new(),
            stamp: format!("{:x}", now.unix_timestamp_nanos() / 1_000_000),
        }
    }
}

impl Runner {
    /// A runner against `store` (the sandbox the POS's acquirer talks to).
    pub fn new(store: Arc<Store>, config: RunnerConfig) -> Result<Runner, RunnerError> {
        let pos = PosClient::new(&config.pos_url, config.pos_timeout)?;
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build()?;
        Ok(Runner { store, config, pos, http })
    }

    /// The same runner paying with another buyer account (parallel runs give each its own).
    pub fn with_account(&self, account: &str) -> Runner {
        let mut config = self.config.clone();
        config.account = account.to_owned();
        Runner { store: Arc::clone(&self.store), config, pos: self.pos.clone(), http: self.http.clone() }
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
            if let Err(e) =
                self.store.ensure_buyer_like(account, &self.config.account, self.config.clock.now())
            {
                let mut report = Report::default();
                for case in cases {
                    let input = RunInput {
                        finished: true,
                        errors: vec![format!("sandbox store: buyer {account}: {e}")],
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
                if let Ok(Some(record)) = self.store.payment_by_id(&p.payment_id) {
                    latest = Some(
                        latest.map_or(record.expires_at, |l: time::OffsetDateTime| l.max(record.expires_at)),
                    );
                }
            }
        }
        if let Some(latest) = latest {
            // Bounded: a payment expiring far in the future is not worth a wait of hours.
            let until = (latest + grace).min(self.config.clock.now() + time::Duration::minutes(5));
            self.config.clock.sleep_until(until).await;
        }
        let mut out = Report::default();
        for (mut report, trace) in traced {
            let Some(case) = cases.iter().find(|c| c.id.as_str() == report.id) else {
                out.cases.push(report);
                continue;
            };
            let runner = self.with_account(&trace.account);
            let mut state = trace.state;
            let mut input = runner.gather(case, &mut state, trace.started);
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
        let now = self.config.clock.now();
        let mut state = RunState::new(now);
        let mut steps = Vec::new();
        match self.arrange(case, &mut state) {
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
                    self.config.clock.sleep(self.config.settle).await;
                }
            }
            Err(e) => state.errors.push(e),
        }
        self.unarrange(&mut state);
        let input = self.gather(case, &mut state, now);
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
    fn arrange(&self, case: &Case, state: &mut RunState) -> Result<i64, String> {
        let setup = &case.setup;
        let store_err = |what: &str, e: plusbox_sandbox::StoreError| format!("sandbox store: {what}: {e}");
        if setup.magic {
            // Magic amounts are on by default but switchable per application (§10.2).
            self.store.set_magic_amounts(true).map_err(|e| store_err("switch magic amounts on", e))?;
        }
        let account = &self.config.account;
        let scenario = Scenario::from_str(setup.scenario.name())
            .map_err(|e| format!("scenario {}: {e}", setup.scenario.name()))?;
        let before = self.store.account(account).map_err(|e| store_err("read account", e))?.scenario;
        self.store.set_scenario(account, &scenario).map_err(|e| store_err("set scenario", e))?;
        state.scenario_before = Some(before);
        let currency = setup.amount.0.currency.code();
        let target = setup.balance.map(|b| b.0.value).unwrap_or(setup.amount.0.value.saturating_mul(10));
        let view = self.store.account(account).map_err(|e| store_err("read account", e))?;
        let have: i64 = view
            .balances
            .iter()
            .find(|b| b.currency == currency)
            .and_then(|b| b.value.parse().ok())
            .unwrap_or(0);
        if have < target {
            let money = Amount::from_minor(setup.amount.0.currency, target - have);
            self.store.topup(account, &money, self.config.clock.now()).map_err(|e| store_err("top up", e))?;
        }
        for mock in &setup.mocks {
            let code = ResultCode::from_wire(mock.result.0.as_str())
                .ok_or_else(|| format!("the sandbox does not know result code {}", mock.result.0.as_str()))?;
            let rule = self
                .store
                .add_scoped_mock(
                    mock.api.name(),
                    MockAction::Force(code),
                    Some(mock.count),
                    Some(30),
                    &MockScope::account(account),
                    self.config.clock.now(),
                )
                .map_err(|e| store_err("add mock rule", e))?;
            state.mocks.push(rule.id);
        }
        if let Some(api) = setup.tamper {
            // The body is altered after signing (the result flipped): an ACQP that skips
            // verification acts on it, one that verifies must find the real result.
            let rule = self
                .store
                .add_scoped_mock(
                    api.name(),
                    MockAction::Tamper(Tamper::Body),
                    Some(1),
                    Some(30),
                    &MockScope::account(account),
                    self.config.clock.now(),
                )
                .map_err(|e| store_err("add tamper rule", e))?;
            state.mocks.push(rule.id);
        }
        if let Some(delay) = setup.notify_delay {
            // Held for the case's own buyer only, and taken back when the case ends.
            let until = self.config.clock.now() + time::Duration::minutes(30);
            self.store
                .hold_notifications(account, to_time(delay.0), until)
                .map_err(|e| store_err("hold notifications", e))?;
            state.held = true;
        }
        self.poke();
        self.store.traffic_max_id().map_err(|e| store_err("traffic", e))
    }

    /// Takes back what this run arranged (rules used or not, a notification hold), so nothing
    /// leaks into the next case.
    fn unarrange(&self, state: &mut RunState) {
        for id in std::mem::take(&mut state.mocks) {
            if let Err(e) = self.store.remove_mock(id) {
                state.errors.push(format!("sandbox store: remove mock rule {id}: {e}"));
            }
        }
        if let Some(before) = state.scenario_before.take() {
            let restored = Scenario::from_str(&before)
                .map_err(|e| e.to_string())
                .and_then(|s| self.store.set_scenario(&self.config.account, &s).map_err(|e| e.to_string()));
            if let Err(e) = restored {
                state.errors.push(format!("sandbox store: put back the buyer's scenario {before}: {e}"));
            }
        }
        if std::mem::take(&mut state.held) {
            if let Err(e) = self.store.release_notifications(&self.config.account) {
                state.errors.push(format!("sandbox store: release the notification hold: {e}"));
            }
        }
    }

    fn poke(&self) {
        if let Some(poke) = &self.config.poke {
            poke();
        }
    }

    async fn step(&self, case: &Case, index: usize, step: &Step, state: &mut RunState) -> StepReport {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let mut notes = Vec::new();
        let mut wallet_missed = false;
        match self.before_step(step, state).await {
            Ok(done) => notes.extend(done),
            Err(e) => state.errors.push(format!("step {number}: {e}")),
        }
        let mark = self.store.traffic_max_id().unwrap_or(state.after);
        if let Some(action) = &step.pos {
            match self.pos_action(case, number, action, state).await {
                Ok(note) => notes.push(note),
                Err(e) => state.errors.push(format!("step {number}: {e}")),
            }
        }
        if let Some(action) = step.wallet {
            match self.wallet_action(action, state).await {
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

    /// What a step does before its POS and wallet actions: age the run's payments, send a
    /// forged notification.
    async fn before_step(&self, step: &Step, state: &mut RunState) -> Result<Vec<String>, String> {
        let mut notes = Vec::new();
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
            let pids: Vec<String> = self.run_ids(state).1.into_iter().collect();
            if pids.is_empty() {
                return Err("no payment of this run to age".into());
            }
            let aged = self
                .store
                .age_payments(&pids, to_time(by.0))
                .map_err(|e| format!("sandbox store: age payments: {e}"))?;
            self.poke();
            notes.push(format!(
                "aged {aged} payment(s) of this run by {by}: made {by} ago as far as the sandbox knows"
            ));
        }
        if let Some(status) = step.forge_notify {
            notes.push(self.forge_notify(status, state).await?);
        }
        Ok(notes)
    }

    /// Sends the ACQP's notify URL a `notifyPayment` for the run's latest payment claiming
    /// `status`, signed with a fresh key that is not the sandbox's. It is not in the sandbox's
    /// traffic log (the sandbox did not send it); the step note says what the ACQP answered.
    async fn forge_notify(&self, status: ResultStatus, state: &RunState) -> Result<String, String> {
        let ours = self.run_ids(state);
        let pay = self
            .traffic_since(state.after)?
            .into_iter()
            .rfind(|e| e.api == Api::Pay.name() && e.payment_id.is_some() && belongs(e, &ours, &state.codes))
            .ok_or(
                "no pay of this run reached the sandbox, so there is nothing to forge a notification for",
            )?;
        let request = pay.request_json();
        let app = self.store.app_view().map_err(|e| format!("sandbox store: app: {e}"))?;
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
        let time = format_instant(self.config.clock.now());
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
            PosAction::Cancel => {
                let payment = self.charged_payment(state).await?;
                let pos = self.pos.clone();
                let note = format!("POS cancel of {payment}");
                let handle = tokio::spawn(async move { pos.cancel(&payment).await });
                state.tasks.push(PosTask { step, action: "cancel", handle });
                Ok(note)
            }
        }
    }

    fn charged_amount(&self, case: &Case) -> CaseAmount {
        case.steps
            .iter()
            .find_map(|s| match &s.pos {
                Some(PosAction::Charge { amount, .. } | PosAction::OrderCode { amount, .. }) => {
                    Some(amount.unwrap_or(case.setup.amount))
                }
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
                let issued_at = if kind == CodeKind::Expired {
                    self.config.clock.now() - time::Duration::seconds(61)
                } else {
                    self.config.clock.now()
                };
                let issued = self
                    .store
                    .issue_code(&self.config.account, issued_at)
                    .map_err(|e| format!("sandbox store: issue code: {e}"))?;
                issued.code
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
        let deadline = self.config.clock.now() + time::Duration::seconds(15);
        loop {
            let now = self.config.clock.now();
            let pending = self.store.pending(now).map_err(|e| format!("sandbox store: pending: {e}"))?;
            let ours = self.run_ids(state);
            if let Some(p) = pending
                .iter()
                .find(|p| p.account == self.config.account && ours.0.contains(&p.payment_request_id))
            {
                let result = match action {
                    WalletAction::ConfirmPin => self.store.confirm(&p.payment_id, DEFAULT_PIN, now),
                    _ => self.store.decline(&p.payment_id, now),
                };
                self.poke();
                let verb = if action == WalletAction::ConfirmPin { "confirmed" } else { "declined" };
                return result
                    .map(|_| WalletDone::Acted(format!("buyer {verb} {}", p.payment_id)))
                    .map_err(|e| format!("sandbox store: buyer action: {e}"));
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
                let deadline = self.config.clock.now() + to_time(duration.0);
                while self.config.clock.now() < deadline {
                    if self.reap(state).await {
                        return (format!("stopped waiting {duration}: the POS call failed"), true);
                    }
                    let slice = (self.config.clock.now() + to_time(self.config.poll)).min(deadline);
                    self.config.clock.sleep_until(slice).await;
                }
                return (format!("waited {duration}"), false);
            }
            Wait::Api { within, api, .. } => (within, format!("{api}")),
            Wait::State { within, state, .. } => (within, format!("payment {state}")),
        };
        let deadline = self.config.clock.now() + to_time(within.0).max(floor);
        loop {
            if let Some(note) = self.wait_met(wait, mark, state) {
                return (note, false);
            }
            if self.reap(state).await {
                return (format!("stopped waiting for {what}: the POS call failed"), true);
            }
            if self.config.clock.now() >= deadline {
                return (format!("no {what} within {within}"), true);
            }
            tokio::time::sleep(self.config.poll).await;
        }
    }

    fn wait_met(&self, wait: &Wait, mark: i64, state: &RunState) -> Option<String> {
        match wait {
            Wait::Api { api, result_status, .. } => {
                let entries = self.traffic_since(mark).ok()?;
                let ours = self.run_ids(state);
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
                let ours = self.run_ids(state);
                ours.1.iter().find_map(|pid| {
                    let record = self.store.payment_by_id(pid).ok()??;
                    let text = serde_json::to_value(record.state).ok()?.as_str()?.to_owned();
                    (PaymentState::parse(&text) == Some(*want)).then(|| format!("payment {pid} is {text}"))
                })
            }
            Wait::Confirmation | Wait::Timeout { .. } => Some(String::new()),
        }
    }

    /// Traffic after `mark`, as the core's entries.
    fn traffic_since(&self, mark: i64) -> Result<Vec<TrafficEntry>, String> {
        let mut out = Vec::new();
        let mut after = mark;
        loop {
            let page = self.store.traffic(after, 500).map_err(|e| format!("sandbox store: traffic: {e}"))?;
            let Some(last) = page.last() else { break };
            after = last.id;
            let full = page.len() == 500;
            out.extend(page);
            if !full {
                break;
            }
        }
        Ok(out)
    }

    /// (paymentRequestIds, paymentIds) of this run: pays that carried one of the run's codes.
    fn run_ids(&self, state: &RunState) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut prids = BTreeSet::new();
        let mut pids = BTreeSet::new();
        for e in self.traffic_since(state.after).unwrap_or_default() {
            if e.api != Api::Pay.name() {
                continue;
            }
            let body = e.request_json();
            let code = body.pointer("/paymentMethod/paymentMethodId").and_then(Value::as_str).unwrap_or("");
            let reported = e.payment_request_id.as_ref().is_some_and(|id| state.prids.contains(id));
            if reported || state.codes.iter().any(|c| c == code) {
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

    fn gather(&self, case: &Case, state: &mut RunState, started: time::OffsetDateTime) -> RunInput {
        let (prids, pids) = self.run_ids(state);
        let mut errors = std::mem::take(&mut state.errors);
        let all = match self.traffic_since(state.after) {
            Ok(all) => all,
            Err(e) => {
                errors.push(e);
                Vec::new()
            }
        };
        let ours = (prids, pids);
        let traffic: Vec<TrafficEntry> =
            all.into_iter().filter(|e| belongs(e, &ours, &state.codes)).collect();

        // Payments in the order their first pay appeared.
        let mut order: Vec<String> = Vec::new();
        for e in &traffic {
            if let Some(pid) = &e.payment_id {
                if e.api == Api::Pay.name() && !order.contains(pid) {
                    order.push(pid.clone());
                }
            }
        }
        let mut payments = Vec::new();
        for pid in order {
            match self.store.payment_by_id(&pid) {
                Ok(Some(record)) => {
                    let state_text = serde_json::to_value(record.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| "UNKNOWN".into());
                    payments.push(PaymentSnapshot {
                        payment_request_id: record.payment_request_id.clone(),
                        payment_id: record.payment_id.clone(),
                        state: state_text,
                        fail_code: record.fail_code.map(|c| c.as_str().to_owned()),
                        value: record.amount.value,
                        currency: record.amount.currency.code().to_owned(),
                        refunds: refunds_from(&traffic, &record.payment_request_id, &record.payment_id),
                    });
                }
                Ok(None) => {}
                Err(e) => errors.push(format!("sandbox store: payment {pid}: {e}")),
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
