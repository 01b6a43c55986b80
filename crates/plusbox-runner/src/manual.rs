//! Guided runs: a person follows each step while the engine arranges the sandbox and judges the
//! run. Two ways to run the POS: a person at a real POS (`plusbox run --manual`, or the companion
//! without a POS-driver URL), where the engine shows the payment code and the person's answers
//! stand in for the POS driver ([`RunMode::Manual`]); or the POS driven through the POS-driver
//! contract while the person plays the buyer in the companion, judged exactly as a headless run
//! ([`RunMode::Headless`]: the same POS answers, no questions). The buyer's wallet step is the
//! person's when their [`Person`] can play it (the companion shows the PIN prompt and the person
//! confirms through the wallet; the engine sees the result through the port), else the engine
//! plays it (a terminal cannot). The verdict comes from the same evaluation as headless runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use plusbox_core::catalogue::{
    evaluate, Case, Check, Evidence, PaymentState, PosAction, RunMode, Step, TrafficEntry, Wait, WalletAction,
};

use crate::port::PendingPayment;
use crate::{CaseReport, RunState, Runner, StepReport, WalletDone};

/// How long a guided step waits for traffic at least: people are slower than a POS driver.
const HUMAN_WAIT: time::Duration = time::Duration::minutes(10);

/// Real time between looks at the sandbox while the person acts in the wallet.
const WALLET_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// What the buyer must do in the companion's wallet during a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletPrompt {
    /// Enter the PIN and confirm this payment.
    Pin(PendingPayment),
    /// Decline this payment.
    Decline(PendingPayment),
    /// Scan the order code the POS shows, then confirm (`true`) or decline it.
    ScanOrder {
        /// Confirm (else decline) once scanned.
        confirm: bool,
        /// The code, when the engine knows it (a POS driver told it what the POS shows).
        code: Option<String>,
    },
}

/// A photo for an evidence check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Photo {
    /// A file for the engine to copy into the run's evidence directory.
    File(PathBuf),
    /// A photo the person's side has already kept (validated and stored).
    Kept(Evidence),
    /// No photo (skipped, or the person stopped).
    Skip,
}

/// The person at the POS (the CLI asks on a terminal; the companion over its commands; tests
/// script it). Calls block until the person answers; the engine calls them off the async threads.
/// The provided methods let a richer person (the companion) follow the steps, play the wallet
/// and stop the run; a plain one gets the terminal's behaviour.
pub trait Person: Send + Sync {
    /// Shows a line of guidance.
    fn say(&self, text: &str);
    /// Shows the payment code to present at the POS.
    fn show_code(&self, code: &str);
    /// Waits until the person says the step is done; false when they stopped (end of input).
    fn proceed(&self, prompt: &str) -> bool;
    /// A yes/no question; `None` when they stopped.
    fn ask(&self, question: &str) -> Option<bool>;
    /// A path to a photo of `what`; `None` to skip (or when they stopped).
    fn evidence(&self, what: &str) -> Option<PathBuf>;

    /// A step starts (1-based number).
    fn step_started(&self, _number: u32, _step: &Step) {}
    /// A step ended.
    fn step_finished(&self, _report: &StepReport) {}
    /// True when the person acts as the buyer in a wallet of their own (the companion); the
    /// engine then prompts instead of confirming or declining itself.
    fn plays_wallet(&self) -> bool {
        false
    }
    /// Shows what the buyer must do now (only called when [`Person::plays_wallet`]); returns at
    /// once: the engine watches the sandbox for the person's answer.
    fn wallet(&self, _prompt: &WalletPrompt) {}
    /// The wallet step is over (answered, or no longer waiting): take the prompt down.
    fn wallet_done(&self) {}
    /// True once the person has stopped the run (cancel); waits end early.
    fn stopped(&self) -> bool {
        false
    }
    /// The run's own traffic so far, oldest first (shown as the run goes).
    fn traffic(&self, _entries: &[TrafficEntry]) {}
    /// The manual check `check` asks `question`; `None` when they stopped.
    fn ask_check(&self, _check: &str, question: &str) -> Option<bool> {
        self.ask(question)
    }
    /// A photo for evidence check `check` (`have` of `min` attached so far).
    fn photo(&self, _check: &str, what: &str, _have: u32, _min: u32) -> Photo {
        match self.evidence(what) {
            Some(path) => Photo::File(path),
            None => Photo::Skip,
        }
    }
}

async fn blocking<T: Send + 'static>(
    person: &Arc<dyn Person>,
    f: impl FnOnce(&dyn Person) -> T + Send + 'static,
) -> Option<T> {
    let person = Arc::clone(person);
    tokio::task::spawn_blocking(move || f(person.as_ref())).await.ok()
}

impl Runner {
    /// Runs one case guided at a real POS (`plusbox run --manual`): see [`Runner::run_case_guided`].
    pub async fn run_case_manual(
        &self,
        case: &Case,
        person: Arc<dyn Person>,
        evidence_dir: &Path,
    ) -> CaseReport {
        self.run_case_guided(case, person, evidence_dir, false).await
    }

    /// Runs one case guided: `person` follows the steps; with `pos_driven` the POS is driven
    /// through the POS-driver contract (the runner's `pos_url`) and the run is judged as a
    /// headless one, else the person works a real POS and answers the manual questions. Photos
    /// given as files are copied into `evidence_dir`. Never fails: our own problems become
    /// ERROR, a person who stops midway INCOMPLETE.
    pub async fn run_case_guided(
        &self,
        case: &Case,
        person: Arc<dyn Person>,
        evidence_dir: &Path,
        pos_driven: bool,
    ) -> CaseReport {
        let started = Instant::now();
        let now = self.clock.now();
        let mut state = RunState::new(now);
        state.person = Some(Arc::clone(&person));
        let mut steps = Vec::new();
        let mut finished = true;
        person.say(&format!("{} — {}", case.id, case.title));
        person.say(&format!("Proves: {}", case.proves));
        if pos_driven {
            if let Some(missing) = self.missing_capability(case).await {
                person.say(&format!("{}: SKIPPED ({missing})", case.id));
                return crate::skipped(case, missing);
            }
        } else if let Some(capability) = case.requires.first() {
            // A person at a real POS cannot set the acquirer's clock on cue.
            let why = format!(
                "not run: the case needs the POS driver's {} capability, which a guided run at a real POS does not have; run it with a POS-driver URL (`plusbox run --pos URL`)",
                capability.name()
            );
            person.say(&format!("{}: SKIPPED ({why})", case.id));
            return crate::skipped(case, why);
        }
        let run = self.hold_buyer(&mut state).await;
        let arranged = match run {
            Some(_) => self.arrange(case, &mut state).await,
            None => Err(String::new()),
        };
        match arranged {
            Ok(after) => {
                state.after = after;
                for index in 0..case.steps.len() {
                    let report = self.guided_step(case, index, &person, &mut state, pos_driven).await;
                    let stopped = report.is_none() || person.stopped();
                    self.progress(&mut state, true).await;
                    if let Some(report) = report {
                        person.step_finished(&report);
                        steps.push(report);
                    }
                    if stopped {
                        finished = false;
                        break;
                    }
                    if !state.errors.is_empty() || state.pos_failed {
                        break;
                    }
                }
                if finished {
                    self.finish_tasks(&mut state).await;
                } else {
                    // Stopped: POS calls still running are abandoned, not waited for.
                    for task in std::mem::take(&mut state.tasks) {
                        task.handle.abort();
                    }
                }
                if finished && state.errors.is_empty() && !state.pos_failed {
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

        let mut answers = BTreeMap::new();
        let mut evidence: BTreeMap<String, Vec<Evidence>> = BTreeMap::new();
        // A driven POS answers for itself: the questions about what a person saw are not asked.
        if !pos_driven && finished && state.errors.is_empty() {
            for check in &case.checks {
                match check {
                    Check::Manual { name, question, .. } => {
                        let (n, q) = (name.clone(), question.clone());
                        match blocking(&person, move |p| p.ask_check(&n, &q)).await.flatten() {
                            Some(answer) => {
                                answers.insert(name.clone(), answer);
                            }
                            None => {
                                finished = false;
                                break;
                            }
                        }
                    }
                    Check::Evidence { name, what, min } => {
                        let files =
                            self.collect_evidence(case, name, what, *min, &person, evidence_dir).await;
                        evidence.insert(name.clone(), files);
                        if person.stopped() {
                            finished = false;
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }

        let mut input = self.gather(case, &mut state, now).await;
        input.mode = if pos_driven { RunMode::Headless } else { RunMode::Manual };
        input.finished = finished;
        input.answers = answers;
        input.evidence = evidence;
        let verdict = evaluate(case, &input);
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let report = CaseReport::new(&verdict, duration_ms, steps, input);
        person.say(&format!("{}: {}", report.id, report.verdict));
        for c in &report.checks {
            person.say(&format!("  [{}] {}: {}", c.verdict, c.name, c.reason));
        }
        report
    }

    /// One guided step; `None` when the person stopped.
    async fn guided_step(
        &self,
        case: &Case,
        index: usize,
        person: &Arc<dyn Person>,
        state: &mut RunState,
        pos_driven: bool,
    ) -> Option<StepReport> {
        let step = case.steps.get(index)?;
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let mut notes = Vec::new();
        person.step_started(number, step);
        person.say(&format!("\nStep {number}/{}: {}", case.steps.len(), step.instruction));
        match self.before_step(case, step, state).await {
            Ok(done) => {
                for note in &done {
                    person.say(&format!("({note})"));
                }
                notes.extend(done);
            }
            Err(e) => state.errors.push(format!("step {number}: {e}")),
        }
        let mark = self.port.traffic_mark().await.unwrap_or(state.after);
        if pos_driven {
            if let Some(action) = &step.pos {
                match self.pos_action(case, number, action, state).await {
                    Ok(note) => notes.push(note),
                    Err(e) => state.errors.push(format!("step {number}: {e}")),
                }
            }
        } else if let Some(PosAction::Charge { same_code, .. }) = &step.pos {
            // The person rings up the sale; we present the code the buyer shows.
            let code = if *same_code {
                state.codes.last().cloned()
            } else {
                match self.new_code(case.setup.code, state).await {
                    Ok(code) => Some(code),
                    Err(e) => {
                        state.errors.push(format!("step {number}: {e}"));
                        None
                    }
                }
            };
            if let Some(code) = code {
                person.show_code(&code);
                notes.push(format!("showed code {code}"));
            }
        }
        if let Some(expect) = &step.expect {
            person.say(&format!("Expect: {expect}"));
        }
        let mut wallet_missed = false;
        if let Some(action) = step.wallet {
            let by_person = person.plays_wallet() && action != WalletAction::Abandon;
            let entry_code =
                matches!(action, WalletAction::OpenEntryCode | WalletAction::OpenEntryCodeInBrowser);
            let done = if entry_code {
                // The wallet's web view and the User-Agent it sends are the engine's to play: a
                // person's phone browser cannot choose them.
                person.say(&format!("The sandbox buyer will {} now.", describe(action)));
                self.open_entry_code(case, action, state).await
            } else if by_person {
                self.person_wallet(action, person, state).await
            } else {
                person.say(&format!("The sandbox buyer will {} now.", describe(action)));
                self.wallet_action(action, state).await
            };
            match done {
                Ok(WalletDone::Acted(note)) => notes.push(note),
                Ok(WalletDone::NothingWaiting) => {
                    notes.push("no payment of this run was waiting for the buyer".into());
                    wallet_missed = pos_driven;
                }
                Err(e) => state.errors.push(format!("step {number}: {e}")),
            }
            if person.stopped() {
                return None;
            }
        }
        let timed_out = match &step.wait {
            Wait::Confirmation if pos_driven => false,
            Wait::Confirmation => {
                if !blocking(person, |p| p.proceed("Press Enter when done.")).await.unwrap_or(false) {
                    return None;
                }
                notes.push("the person confirmed".into());
                false
            }
            Wait::Timeout { .. } => {
                let (note, timed_out) = self.wait(&step.wait, mark, state).await;
                notes.push(note);
                timed_out
            }
            Wait::Api { .. } | Wait::State { .. } => {
                // A driven POS keeps the case's own limits, as headless; a person gets longer.
                let floor = if pos_driven { time::Duration::ZERO } else { HUMAN_WAIT };
                person.say("Waiting for the POS…");
                let (note, timed_out) = self.wait_at_least(&step.wait, mark, state, floor).await;
                person.say(&format!("Seen: {note}"));
                notes.push(note);
                timed_out
            }
        };
        if person.stopped() {
            return None;
        }
        Some(StepReport {
            step: number,
            instruction: step.instruction.clone(),
            note: notes.join("; "),
            timed_out: timed_out || wallet_missed,
        })
    }

    /// The person plays the buyer's wallet step in the companion: the engine finds the run's
    /// waiting payment, prompts, and watches the sandbox until the payment is no longer waiting
    /// (confirmed, declined, expired), the person stops, or [`HUMAN_WAIT`] passes.
    async fn person_wallet(
        &self,
        action: WalletAction,
        person: &Arc<dyn Person>,
        state: &mut RunState,
    ) -> Result<WalletDone, String> {
        let done = self.person_wallet_inner(action, person, state).await;
        person.wallet_done();
        done
    }

    async fn person_wallet_inner(
        &self,
        action: WalletAction,
        person: &Arc<dyn Person>,
        state: &mut RunState,
    ) -> Result<WalletDone, String> {
        if matches!(action, WalletAction::ScanConfirm | WalletAction::ScanDecline) {
            let confirm = action == WalletAction::ScanConfirm;
            let code = state.codes.iter().rev().find(|c| c.starts_with("https://")).cloned();
            person.wallet(&WalletPrompt::ScanOrder { confirm, code });
            let deadline = self.clock.now() + HUMAN_WAIT;
            loop {
                if state.stopped() {
                    return Ok(WalletDone::Acted("the person stopped before scanning".into()));
                }
                let ours = self.run_ids(state).await;
                for pid in &ours.1 {
                    if let Ok(Some(record)) = self.port.payment(pid).await {
                        if PaymentState::parse(&record.state) != Some(PaymentState::Processing) {
                            return Ok(WalletDone::Acted(format!(
                                "the buyer scanned the order code in the companion: payment {pid} is {}",
                                record.state
                            )));
                        }
                    }
                }
                if state.tasks.iter().all(|t| t.handle.is_finished()) && !state.tasks.is_empty() {
                    return Ok(WalletDone::Acted("the POS sale ended while waiting for the scan".into()));
                }
                if self.clock.now() >= deadline {
                    return Ok(WalletDone::Acted(format!("the buyer did not scan within {HUMAN_WAIT}")));
                }
                self.progress(state, false).await;
                tokio::time::sleep(WALLET_POLL).await;
            }
        }
        // The payment may land a moment after the step starts; look for a while (sandbox time).
        let deadline = self.clock.now() + time::Duration::seconds(15);
        let payment = loop {
            let pending = self
                .port
                .pending(&self.config.account)
                .await
                .map_err(|e| format!("sandbox: pending: {e}"))?;
            let ours = self.run_ids(state).await;
            if let Some(p) = pending
                .into_iter()
                .find(|p| p.account == self.config.account && ours.0.contains(&p.payment_request_id))
            {
                break p;
            }
            if self.clock.now() >= deadline {
                return Ok(WalletDone::NothingWaiting);
            }
            if state.stopped() {
                return Ok(WalletDone::Acted("the person stopped the run".into()));
            }
            tokio::time::sleep(self.config.poll.max(std::time::Duration::from_millis(20))).await;
        };
        let pid = payment.payment_id.clone();
        let asked = if action == WalletAction::ConfirmPin { "confirm with the PIN" } else { "decline" };
        person.wallet(&if action == WalletAction::ConfirmPin {
            WalletPrompt::Pin(payment)
        } else {
            WalletPrompt::Decline(payment)
        });
        let deadline = self.clock.now() + HUMAN_WAIT;
        loop {
            if state.stopped() {
                return Ok(WalletDone::Acted(format!("the person stopped before answering payment {pid}")));
            }
            let pending = self
                .port
                .pending(&self.config.account)
                .await
                .map_err(|e| format!("sandbox: pending: {e}"))?;
            if !pending.iter().any(|p| p.payment_id == pid) {
                let now = match self.port.payment(&pid).await {
                    Ok(Some(record)) => record.state,
                    Ok(None) => "unknown".into(),
                    Err(e) => return Err(format!("sandbox: payment {pid}: {e}")),
                };
                return Ok(WalletDone::Acted(format!(
                    "asked the buyer to {asked} payment {pid} in the companion; it is now {now}"
                )));
            }
            if self.clock.now() >= deadline {
                return Ok(WalletDone::Acted(format!(
                    "asked the buyer to {asked} payment {pid}; no answer within {HUMAN_WAIT}"
                )));
            }
            self.progress(state, false).await;
            tokio::time::sleep(WALLET_POLL).await;
        }
    }

    /// Asks for photos until `min` were attached or the person skips; files are copied into
    /// `dir` as `<case>-<check>-<n>.<ext>`, photos the person's side kept are taken as they are.
    async fn collect_evidence(
        &self,
        case: &Case,
        name: &str,
        what: &str,
        min: u32,
        person: &Arc<dyn Person>,
        dir: &Path,
    ) -> Vec<Evidence> {
        let mut files: Vec<Evidence> = Vec::new();
        while files.len() < min as usize {
            let (check, asked) = (name.to_owned(), what.to_owned());
            let have = u32::try_from(files.len()).unwrap_or(u32::MAX);
            let answer = blocking(person, move |p| p.photo(&check, &asked, have, min)).await;
            let path = match answer {
                Some(Photo::File(path)) => path,
                Some(Photo::Kept(evidence)) => {
                    files.push(evidence);
                    continue;
                }
                Some(Photo::Skip) | None => break,
            };
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("bin").to_ascii_lowercase();
            let target_name = format!("{}-{name}-{}.{ext}", case.id, files.len() + 1);
            let target = dir.join(&target_name);
            let copied = std::fs::create_dir_all(dir).and_then(|()| std::fs::copy(&path, &target));
            match copied {
                Ok(bytes) => {
                    person.say(&format!("Attached {} as {}", path.display(), target.display()));
                    files.push(Evidence { name: target_name, media_type: media_type(&ext), bytes });
                }
                Err(e) => person.say(&format!(
                    "Cannot attach {}: {e}; try again or press Enter to skip.",
                    path.display()
                )),
            }
        }
        files
    }
}

fn media_type(ext: &str) -> Option<String> {
    let t = match ext {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "heic" => "image/heic",
        "pdf" => "application/pdf",
        _ => return None,
    };
    Some(t.to_owned())
}

fn describe(action: WalletAction) -> &'static str {
    match action {
        WalletAction::ConfirmPin => "enter the PIN and confirm",
        WalletAction::Decline => "decline the payment",
        WalletAction::Abandon => "walk away without confirming",
        WalletAction::ScanConfirm => "scan the order code the POS shows and confirm the payment",
        WalletAction::ScanDecline => "scan the order code the POS shows and decline the payment",
        WalletAction::OpenEntryCode => {
            "scan the entry code the POS shows, enter the amount on the merchant page and go on to the cashier"
        }
        WalletAction::OpenEntryCodeInBrowser => {
            "open the entry code's link in an ordinary browser (not the wallet) and try to pay there"
        }
    }
}
