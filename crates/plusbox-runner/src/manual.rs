//! Guided runs (`plusbox run --manual`): a person at a real POS follows each step while the
//! engine arranges the sandbox, shows the payment code, plays the buyer's wallet, waits for the
//! traffic the step waits for, then asks the manual questions and collects photos. The verdict
//! comes from the same evaluation as headless runs, in [`RunMode::Manual`]: the person's answers
//! stand in for the POS driver.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use plusbox_core::catalogue::{evaluate, Case, Check, Evidence, PosAction, RunMode, Wait, WalletAction};

use crate::{CaseReport, RunState, Runner, StepReport, WalletDone};

/// How long a guided step waits for traffic at least: people are slower than a POS driver.
const HUMAN_WAIT: time::Duration = time::Duration::minutes(10);

/// The person at the POS (the CLI asks on a terminal; tests script it). Calls block until the
/// person answers; the engine calls them off the async threads.
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
}

async fn blocking<T: Send + 'static>(
    person: &Arc<dyn Person>,
    f: impl FnOnce(&dyn Person) -> T + Send + 'static,
) -> Option<T> {
    let person = Arc::clone(person);
    tokio::task::spawn_blocking(move || f(person.as_ref())).await.ok()
}

impl Runner {
    /// Runs one case guided: `person` follows the steps at a real POS; photos are copied into
    /// `evidence_dir`. Never fails: our own problems become ERROR, a person who stops midway
    /// INCOMPLETE.
    pub async fn run_case_manual(
        &self,
        case: &Case,
        person: Arc<dyn Person>,
        evidence_dir: &Path,
    ) -> CaseReport {
        let started = Instant::now();
        let now = self.clock.now();
        let mut state = RunState::new(now);
        let mut steps = Vec::new();
        let mut finished = true;
        person.say(&format!("{} — {}", case.id, case.title));
        person.say(&format!("Proves: {}", case.proves));
        if let Some(capability) = case.requires.first() {
            // A person at a real POS cannot set the acquirer's clock on cue.
            let why = format!(
                "not run: the case needs the POS driver's {} capability, which a guided run at a real POS does not have; run it headless with `plusbox run --pos URL`",
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
                    let report = self.manual_step(case, index, &person, &mut state).await;
                    let stopped = report.is_none();
                    if let Some(report) = report {
                        steps.push(report);
                    }
                    if stopped {
                        finished = false;
                        break;
                    }
                    if !state.errors.is_empty() {
                        break;
                    }
                }
                if finished && state.errors.is_empty() {
                    self.clock.sleep(self.config.settle).await;
                }
            }
            Err(e) if e.is_empty() => {}
            Err(e) => state.errors.push(e),
        }
        self.unarrange(&mut state).await;
        self.let_go(run, &mut state).await;

        let mut answers = BTreeMap::new();
        let mut evidence: BTreeMap<String, Vec<Evidence>> = BTreeMap::new();
        if finished && state.errors.is_empty() {
            for check in &case.checks {
                match check {
                    Check::Manual { name, question, .. } => {
                        let q = question.clone();
                        match blocking(&person, move |p| p.ask(&q)).await.flatten() {
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
                    }
                    _ => {}
                }
            }
        }

        let mut input = self.gather(case, &mut state, now).await;
        input.mode = RunMode::Manual;
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
    async fn manual_step(
        &self,
        case: &Case,
        index: usize,
        person: &Arc<dyn Person>,
        state: &mut RunState,
    ) -> Option<StepReport> {
        let step = case.steps.get(index)?;
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let mut notes = Vec::new();
        person.say(&format!("\nStep {number}/{}: {}", case.steps.len(), step.instruction));
        match self.before_step(step, state).await {
            Ok(done) => {
                for note in &done {
                    person.say(&format!("({note})"));
                }
                notes.extend(done);
            }
            Err(e) => state.errors.push(format!("step {number}: {e}")),
        }
        let mark = self.port.traffic_mark().await.unwrap_or(state.after);
        if let Some(PosAction::Charge { same_code, .. }) = &step.pos {
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
        if let Some(action) = step.wallet {
            person.say(&format!("The sandbox buyer will {} now.", describe(action)));
            match self.wallet_action(action, state).await {
                Ok(WalletDone::Acted(note)) => notes.push(note),
                Ok(WalletDone::NothingWaiting) => {
                    notes.push("no payment of this run was waiting for the buyer".into())
                }
                Err(e) => state.errors.push(format!("step {number}: {e}")),
            }
        }
        let timed_out = match &step.wait {
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
                person.say("Waiting for the POS…");
                let (note, timed_out) = self.wait_at_least(&step.wait, mark, state, HUMAN_WAIT).await;
                person.say(&format!("Seen: {note}"));
                notes.push(note);
                timed_out
            }
        };
        Some(StepReport {
            step: number,
            instruction: step.instruction.clone(),
            note: notes.join("; "),
            timed_out,
        })
    }

    /// Asks for photos until `min` were copied or the person skips; files are copied into
    /// `dir` as `<case>-<check>-<n>.<ext>`.
    async fn collect_evidence(
        &self,
        case: &Case,
        name: &str,
        what: &str,
        min: u32,
        person: &Arc<dyn Person>,
        dir: &Path,
    ) -> Vec<Evidence> {
        let mut files = Vec::new();
        while files.len() < min as usize {
            let asked = what.to_owned();
            let Some(path) = blocking(person, move |p| p.evidence(&asked)).await.flatten() else { break };
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
