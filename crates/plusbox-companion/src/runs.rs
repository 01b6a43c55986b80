//! Guided test runs in the companion: the run session (a spawned task in the companion host —
//! the `/rpc` server of `plusbox serve`, or the app — that survives a closed tab), its state
//! machine as the UI sees it ([`RunView`]: steps, the prompt of the moment, live traffic), the
//! [`Person`] the engine talks to over that state, and the run commands. The engine is
//! `plusbox_runner` itself reaching the sandbox through its test-control API ([`HttpPort`]) with
//! this device's token, so a run judges exactly as `plusbox run` does.
//!
//! With a POS-driver URL set (`set_run_settings`), the engine drives the POS and the person plays
//! the buyer: the run shows a `pin` (or `decline`) prompt for the run's waiting payment, the
//! person answers it with the wallet's own `confirm_payment` / `decline_payment`, and the engine
//! sees the answer in the sandbox. Without one, the person works the real POS: the run shows the
//! payment code, waits for the POS's traffic, then asks the case's questions and for photos.
//!
//! Every change is written to the results store ([`crate::results`]) before it is emitted as a
//! `run` event; a host that dies mid-run leaves the run `running` in the store, and the next
//! host marks it `incomplete` when it opens the store.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use plusbox_core::catalogue::{Case, Catalogue, Check, Evidence, Outcome, Step, TrafficEntry};
use plusbox_core::protocol::time::format_instant;
use plusbox_runner::port::{PortError, SandboxPort, SharedPort};
use plusbox_runner::{CaseReport, HttpPort, Person, Photo, Runner, RunnerConfig, StepReport, WalletPrompt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use ts_rs::TS;

use crate::client::CompanionClient;
use crate::commands::{Empty, Money};
use crate::diagram::{self, Lane, Message};
use crate::error::{CommandError, ErrorCode};
use crate::host::Host;
use crate::render::{render_svg, RenderSize, Symbology};
use crate::results::{ResultsError, ResultsStore, RunRecord};

// ---------------------------------------------------------------------------------------------
// Types the UI sees
// ---------------------------------------------------------------------------------------------

/// A verdict, of a case or of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// The case (check) holds.
    Pass,
    /// The integration broke the rule.
    Fail,
    /// Our side failed; says nothing about the integration.
    Error,
    /// Not run or not applicable.
    Skipped,
    /// Stopped or interrupted before everything was seen.
    Incomplete,
}

impl Verdict {
    /// `PASS`, `FAIL`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Error => "ERROR",
            Verdict::Skipped => "SKIPPED",
            Verdict::Incomplete => "INCOMPLETE",
        }
    }

    /// From its wire name.
    pub fn parse(text: &str) -> Option<Verdict> {
        [Verdict::Pass, Verdict::Fail, Verdict::Error, Verdict::Skipped, Verdict::Incomplete]
            .into_iter()
            .find(|v| v.as_str() == text)
    }
}

impl From<Outcome> for Verdict {
    fn from(o: Outcome) -> Verdict {
        match o {
            Outcome::Pass => Verdict::Pass,
            Outcome::Fail => Verdict::Fail,
            Outcome::Error => Verdict::Error,
            Outcome::Skipped => Verdict::Skipped,
            Outcome::Incomplete => Verdict::Incomplete,
        }
    }
}

/// A catalogue case as the test-case list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TestCaseInfo {
    /// Case id, e.g. `UPM-PIN-001`.
    pub id: String,
    /// Title.
    pub title: String,
    /// `upm` or `mpm`.
    pub product: String,
    /// Must pass before go-live.
    pub required: bool,
    /// The rule it proves.
    pub proves: String,
    /// Number of steps.
    pub step_count: u32,
    /// POS-driver capabilities it needs (e.g. `acquirer-clock`).
    pub requires: Vec<String>,
    /// The verdict of this device's last run of it.
    pub last_verdict: Option<Verdict>,
    /// That run.
    pub last_run_id: Option<String>,
    /// When it started.
    pub last_run_at: Option<String>,
}

/// Run settings of this device.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunSettings {
    /// Base URL of a POS-driver API (docs/pos-driver.md) that drives the POS; `null`: the person
    /// works the real POS.
    pub pos_url: Option<String>,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum RunPhase {
    /// The engine is working (or waiting for the person).
    Running,
    /// Judged.
    Finished,
    /// The person cancelled it.
    Cancelled,
    /// The companion stopped while it ran.
    Incomplete,
}

impl RunPhase {
    fn as_str(self) -> &'static str {
        match self {
            RunPhase::Running => "running",
            RunPhase::Finished => "finished",
            RunPhase::Cancelled => "cancelled",
            RunPhase::Incomplete => "incomplete",
        }
    }

    fn parse(text: &str) -> RunPhase {
        match text {
            "running" => RunPhase::Running,
            "finished" => RunPhase::Finished,
            "cancelled" => RunPhase::Cancelled,
            _ => RunPhase::Incomplete,
        }
    }
}

/// Where a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum StepStatus {
    /// Not started.
    Pending,
    /// Under way.
    Active,
    /// Done.
    Done,
    /// Its wait ran out before its event happened.
    TimedOut,
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    /// 1-based.
    pub number: u32,
    /// What the person does.
    pub instruction: String,
    /// What they should see.
    pub expect: Option<String>,
    /// Where it is.
    pub status: StepStatus,
    /// What the engine saw.
    pub note: Option<String>,
}

/// What the person must do now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Prompt {
    /// Present this payment code at the POS.
    ShowCode {
        /// The digits.
        code: String,
        /// As a QR code (SVG).
        qr_svg: String,
        /// As a Code 128 barcode (SVG).
        barcode_svg: String,
    },
    /// Confirm this payment with the PIN (`confirm_payment`).
    Pin {
        /// paymentId.
        payment_id: String,
        /// Merchant.
        merchant_name: String,
        /// Amount.
        amount: Money,
    },
    /// Decline this payment (`decline_payment`).
    Decline {
        /// paymentId.
        payment_id: String,
        /// Merchant.
        merchant_name: String,
        /// Amount.
        amount: Money,
    },
    /// Scan the order code the POS shows with the Scan flow, then confirm (or decline) it with
    /// `confirm_order_code` (`decline_order_code`).
    ScanOrder {
        /// Confirm (else decline) the order.
        confirm: bool,
        /// The code the POS shows, when a POS driver told the engine (else scan the POS).
        code: Option<String>,
    },
    /// Press Done when the step is done (`run_proceed`).
    Proceed {
        /// What to do.
        text: String,
    },
    /// Answer a yes/no question (`run_answer`).
    Question {
        /// The manual check.
        check: String,
        /// The question.
        question: String,
    },
    /// Attach a photo (`run_photo`) or skip (`run_skip_photo`).
    Photo {
        /// The evidence check.
        check: String,
        /// What it shows.
        what: String,
        /// How many it needs.
        min: u32,
        /// How many it has.
        have: u32,
    },
}

/// A traffic entry as the live list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LiveEntry {
    /// Traffic id.
    pub id: i64,
    /// When (sandbox time).
    pub at: String,
    /// Milliseconds after the run's first message.
    pub rel_ms: i64,
    /// `ACQP`, `SANDBOX` or `WALLET`.
    pub from: String,
    /// Receiver.
    pub to: String,
    /// API name.
    pub api: String,
    /// E.g. `pay → U PAYMENT_IN_PROCESS`.
    pub summary: String,
}

/// A run as the runner screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RunView {
    /// Run id (one per case).
    pub run_id: String,
    /// Case id.
    pub case_id: String,
    /// Case title.
    pub title: String,
    /// What the case proves.
    pub proves: String,
    /// Where it is.
    pub state: RunPhase,
    /// Case ids still to run after this one.
    pub queue: Vec<String>,
    /// A POS-driver URL drives the POS (else the person works it).
    pub pos_driven: bool,
    /// Its steps.
    pub steps: Vec<StepView>,
    /// What the person must do now; `null` while the engine works.
    pub prompt: Option<Prompt>,
    /// Its traffic so far, oldest first (at most [`LIVE_CAP`]).
    pub live: Vec<LiveEntry>,
    /// Once decided.
    pub verdict: Option<Verdict>,
    /// Problems on our side.
    pub errors: Vec<String>,
}

/// A stored run in the results list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// Run id.
    pub run_id: String,
    /// Case id.
    pub case_id: String,
    /// Case title.
    pub title: String,
    /// Verdict (`INCOMPLETE` while running).
    pub verdict: Verdict,
    /// Started.
    pub started_at: String,
    /// Finished.
    pub finished_at: Option<String>,
    /// Wall-clock duration.
    pub duration_ms: Option<i64>,
    /// A POS driver drove the POS.
    pub pos_driven: bool,
}

/// One check of a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CheckView {
    /// Check name.
    pub name: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Why, naming traffic entries as `#id`.
    pub reason: String,
    /// The traffic entries it rests on.
    pub entries: Vec<i64>,
}

/// The signature verdict of a traffic entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum SignatureView {
    /// Verified.
    Valid,
    /// Did not verify.
    Invalid,
    /// Absent.
    Missing,
    /// Not checked.
    NotChecked,
}

/// A traffic entry in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TrafficView {
    /// Traffic id.
    pub id: i64,
    /// When (sandbox time).
    pub at: String,
    /// Milliseconds after the run's first message.
    pub rel_ms: i64,
    /// `inbound` (ACQP → sandbox) or `outbound`.
    pub direction: String,
    /// Sender lane.
    pub from: String,
    /// Receiver lane.
    pub to: String,
    /// API.
    pub api: String,
    /// HTTP method.
    pub method: String,
    /// Path or URL.
    pub path: String,
    /// HTTP status of the answer.
    pub status: Option<u16>,
    /// `result.resultStatus`.
    pub result_status: Option<String>,
    /// `result.resultCode`.
    pub result_code: Option<String>,
    /// Request headers.
    pub request_headers: Vec<(String, String)>,
    /// Request body.
    pub request_body: String,
    /// Response headers.
    pub response_headers: Vec<(String, String)>,
    /// Response body.
    pub response_body: String,
    /// Signature verdict.
    pub signature: SignatureView,
}

/// A photo of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PhotoView {
    /// The evidence check.
    pub check: String,
    /// File name.
    pub name: String,
    /// MIME type.
    pub media_type: String,
    /// `data:` URL.
    pub data_url: String,
}

/// An answer to a manual check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AnswerView {
    /// The check.
    pub check: String,
    /// Yes or no.
    pub answer: bool,
}

/// Everything about one stored run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    /// The summary.
    pub summary: RunSummary,
    /// What the case proves.
    pub proves: String,
    /// Steps.
    pub steps: Vec<StepView>,
    /// Checks with reasons.
    pub checks: Vec<CheckView>,
    /// The run's traffic.
    pub traffic: Vec<TrafficView>,
    /// Sequence diagram (SVG, text escaped).
    pub diagram_svg: String,
    /// Photos.
    pub photos: Vec<PhotoView>,
    /// Answers.
    pub answers: Vec<AnswerView>,
    /// Problems on our side.
    pub errors: Vec<String>,
}

/// `run_start` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunStartArgs {
    /// Cases to run, in order (the first runs now, the rest queue).
    pub case_ids: Vec<String>,
    /// Buyer account (default: the device's buyer, else `buyer-1`).
    #[ts(optional)]
    #[serde(default)]
    pub account_id: Option<String>,
}

/// Arguments naming a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunArgs {
    /// Run id.
    pub run_id: String,
}

/// `run_answer` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunAnswerArgs {
    /// Run id.
    pub run_id: String,
    /// The manual check.
    pub check: String,
    /// Yes or no.
    pub answer: bool,
}

/// `run_photo` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunPhotoArgs {
    /// Run id.
    pub run_id: String,
    /// The evidence check.
    pub check: String,
    /// The image bytes, Base64.
    pub image: String,
    /// What the browser says it is (the bytes decide).
    #[ts(optional)]
    #[serde(default)]
    pub media_type: Option<String>,
}

/// Arguments naming a run and a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunCheckArgs {
    /// Run id.
    pub run_id: String,
    /// The check.
    pub check: String,
}

/// `results` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResultsArgs {
    /// Only runs with this verdict.
    #[ts(optional)]
    #[serde(default)]
    pub verdict: Option<Verdict>,
    /// Only runs of this case.
    #[ts(optional)]
    #[serde(default)]
    pub case_id: Option<String>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum ExportFormat {
    /// The results as JSON (`RunResult[]` plus the engine's report).
    Json,
    /// JUnit XML for CI.
    Junit,
    /// A self-contained HTML report.
    Html,
}

/// `export_results` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportArgs {
    /// Runs to export; empty: every run of this device.
    pub run_ids: Vec<String>,
    /// Format.
    pub format: ExportFormat,
}

/// A file to save.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExportFile {
    /// Suggested file name.
    pub file_name: String,
    /// MIME type.
    pub media_type: String,
    /// The content.
    pub content: String,
}

// ---------------------------------------------------------------------------------------------
// The run registry of one host
// ---------------------------------------------------------------------------------------------

/// Most live entries a [`RunView`] carries.
pub const LIVE_CAP: usize = 200;

/// Largest photo `run_photo` keeps, in bytes.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

/// Most traffic entries a session keeps from the live list as evidence.
const SEEN_CAP: usize = 2_000;

/// Real time between the engine's looks at the sandbox.
const ENGINE_POLL: Duration = Duration::from_millis(25);

/// A `run` event: the device it is for and the view.
#[derive(Debug, Clone)]
pub struct RunEvent {
    /// The device whose run it is.
    pub device: i64,
    /// The view.
    pub view: RunView,
}

/// The guided runs of one companion host: its results store, the sessions under way, and the
/// `run` events. Cheap to clone; every clone is the same registry.
#[derive(Clone)]
pub struct Runs {
    inner: Arc<RunsInner>,
}

impl std::fmt::Debug for Runs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runs").finish_non_exhaustive()
    }
}

struct RunsInner {
    store: Mutex<ResultsStore>,
    sessions: Mutex<Vec<Arc<Session>>>,
    events: broadcast::Sender<RunEvent>,
    catalogue: Catalogue,
    /// Device tokens the sandbox confirmed on this host, and their device ids.
    known: Mutex<std::collections::HashMap<String, i64>>,
    /// The upload queue's workers, events and the browser-run recorder (upload.rs).
    uploads: crate::upload::UploadShared,
}

fn store_error(e: ResultsError) -> CommandError {
    CommandError::internal(e.to_string())
}

fn now_text() -> String {
    format_instant(time::OffsetDateTime::now_utc())
}

impl Runs {
    /// The registry over the results store at `<dir>/results.sqlite` (in memory without a
    /// directory). Runs the store left `running` (its host died) become `incomplete` now.
    pub fn open(dir: Option<&std::path::Path>) -> Result<Runs, CommandError> {
        let store = match dir {
            Some(dir) => ResultsStore::open(&dir.join("results.sqlite")),
            None => ResultsStore::open_in_memory(),
        }
        .map_err(store_error)?;
        store.mark_interrupted(&now_text()).map_err(store_error)?;
        let catalogue = plusbox_runner::embedded::catalogue()
            .map_err(|e| CommandError::internal(format!("the built-in catalogue has errors: {e}")))?;
        let (events, _) = broadcast::channel(256);
        Ok(Runs {
            inner: Arc::new(RunsInner {
                store: Mutex::new(store),
                sessions: Mutex::new(Vec::new()),
                events,
                catalogue,
                known: Mutex::new(std::collections::HashMap::new()),
                uploads: crate::upload::UploadShared::default(),
            }),
        })
    }

    /// Live `run` events of every device (filter by [`RunEvent::device`]).
    pub fn subscribe(&self) -> broadcast::Receiver<RunEvent> {
        self.inner.events.subscribe()
    }

    fn store(&self) -> MutexGuard<'_, ResultsStore> {
        self.inner.store()
    }

    /// The results store (the upload queue lives in it too).
    pub fn results(&self) -> MutexGuard<'_, ResultsStore> {
        self.inner.store()
    }

    pub(crate) fn uploads(&self) -> &crate::upload::UploadShared {
        &self.inner.uploads
    }

    /// Live `upload` events of every device (filter by [`crate::upload::UploadEvent::device`]).
    pub fn subscribe_uploads(&self) -> broadcast::Receiver<crate::upload::UploadEvent> {
        self.inner.uploads.subscribe()
    }

    /// Records the finished runs of devices without a key (browsers on the `/rpc` host) on the
    /// sandbox directly; `plusbox serve` installs it.
    pub fn set_recorder(&self, recorder: crate::upload::Recorder) {
        self.inner.uploads.set_recorder(recorder);
    }

    /// Records a run the engine ran outside a session (`plusbox run --device-dir`): a finished
    /// run with its steps, verdict and the engine's report, as a guided run would have it.
    pub fn record_finished(
        &self,
        device: i64,
        case: &Case,
        report: &CaseReport,
        account: &str,
        pos_driven: bool,
    ) -> Result<String, CommandError> {
        let run_id = new_run_id();
        let mut record = record_of(&run_id, device, case, pos_driven, account);
        let mut steps = steps_of(case);
        for step in &report.steps {
            if let Some(view) = steps.iter_mut().find(|s| s.number == step.step) {
                view.status = if step.timed_out { StepStatus::TimedOut } else { StepStatus::Done };
                view.note = Some(step.note.clone());
            }
        }
        record.state = RunPhase::Finished.as_str().to_owned();
        record.verdict = Some(Verdict::from(report.verdict).as_str().to_owned());
        record.finished_at = Some(now_text());
        record.duration_ms = Some(i64::try_from(report.duration_ms).unwrap_or(i64::MAX));
        record.steps = json_text(&steps);
        record.errors = json_text(&report.errors);
        record.report = Some(report.stored().to_string());
        self.store().insert_run(&record).map_err(store_error)?;
        Ok(run_id)
    }
}

impl RunsInner {
    fn store(&self) -> MutexGuard<'_, ResultsStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sessions(&self) -> Vec<Arc<Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn session_of(&self, device: i64) -> Option<Arc<Session>> {
        self.sessions().into_iter().find(|s| s.device == device)
    }
}

// ---------------------------------------------------------------------------------------------
// A session: one run_start, one case after another
// ---------------------------------------------------------------------------------------------

/// What a session holds while it runs.
struct Live {
    run_id: String,
    case: Case,
    queue: Vec<String>,
    phase: RunPhase,
    steps: Vec<StepView>,
    prompt: Option<Prompt>,
    live: Vec<LiveEntry>,
    /// The traffic entries the live list was made from (kept for a run whose engine could not
    /// read the traffic at the end, e.g. because the sandbox went away).
    seen: Vec<TrafficEntry>,
    verdict: Option<Verdict>,
    errors: Vec<String>,
    /// Wallet prompts and answers, for the diagram.
    wallet: Vec<WalletEvent>,
    cancelled: bool,
    proceeded: bool,
    answers: BTreeMap<String, bool>,
    photos: VecDeque<(String, Evidence)>,
    skip_photo: BTreeSet<String>,
}

/// A wallet prompt or answer, drawn in the diagram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WalletEvent {
    at: String,
    to_wallet: bool,
    label: String,
}

struct Session {
    runs: Arc<RunsInner>,
    device: i64,
    account: String,
    pos_driven: bool,
    live: Mutex<Live>,
    wake: Condvar,
    done: tokio::sync::watch::Sender<bool>,
    client: CompanionClient,
    clock: plusbox_clock::SharedClock,
    /// Queues each finished run's signed bundle (a linked, key-holding device).
    uploader: Option<crate::upload::Uploader>,
}

fn steps_of(case: &Case) -> Vec<StepView> {
    case.steps
        .iter()
        .enumerate()
        .map(|(i, s)| StepView {
            number: u32::try_from(i + 1).unwrap_or(u32::MAX),
            instruction: s.instruction.clone(),
            expect: s.expect.clone(),
            status: StepStatus::Pending,
            note: None,
        })
        .collect()
}

fn new_run_id() -> String {
    let ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    format!("run-{ms:x}-{:06x}", crate::system_random()() & 0xFF_FFFF)
}

fn json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

impl Session {
    fn lock(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn view(&self, live: &Live) -> RunView {
        RunView {
            run_id: live.run_id.clone(),
            case_id: live.case.id.to_string(),
            title: live.case.title.clone(),
            proves: live.case.proves.clone(),
            state: live.phase,
            queue: live.queue.clone(),
            pos_driven: self.pos_driven,
            steps: live.steps.clone(),
            prompt: live.prompt.clone(),
            live: live.live.clone(),
            verdict: live.verdict,
            errors: live.errors.clone(),
        }
    }

    /// Writes the run's progress, then tells the UI (written before shown).
    fn publish(&self, live: &mut Live) {
        let written = self.runs.store().progress(
            &live.run_id,
            &json_text(&live.steps),
            &json_text(&live.errors),
            &json_text(&live.wallet),
        );
        if let Err(e) = written {
            live.errors.push(format!("cannot record the run's progress: {e}"));
        }
        self.emit(live);
    }

    /// Tells the UI without writing (live traffic and prompts, which the store does not keep).
    fn emit(&self, live: &Live) {
        let _ = self.runs.events.send(RunEvent { device: self.device, view: self.view(live) });
    }

    fn set_prompt(&self, prompt: Option<Prompt>) {
        let mut live = self.lock();
        live.prompt = prompt;
        self.emit(&live);
    }

    fn cancel(&self) {
        let mut live = self.lock();
        live.cancelled = true;
        live.prompt = None;
        self.wake.notify_all();
    }

    /// Waits (blocking; the engine calls from a blocking thread) until `ready` gives a value or
    /// the run is cancelled.
    fn wait_for<T>(&self, mut ready: impl FnMut(&mut Live) -> Option<T>) -> Option<T> {
        let mut live = self.lock();
        loop {
            if live.cancelled {
                return None;
            }
            if let Some(value) = ready(&mut live) {
                return Some(value);
            }
            live = match self.wake.wait_timeout(live, Duration::from_secs(1)) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    fn wallet_event(&self, live: &mut Live, to_wallet: bool, label: String) {
        let at = format_instant(self.clock.now());
        live.wallet.push(WalletEvent { at, to_wallet, label });
    }
}

/// The engine's person: the session's prompts, answered through the run commands.
struct CompanionPerson(Arc<Session>);

impl Person for CompanionPerson {
    fn say(&self, _text: &str) {}

    fn show_code(&self, code: &str) {
        let render = |symbology| render_svg(code, symbology, RenderSize::Phone).unwrap_or_default();
        let prompt = Prompt::ShowCode {
            code: code.to_owned(),
            qr_svg: render(Symbology::Qr),
            barcode_svg: if code.chars().all(|c| c.is_ascii_digit()) {
                render(Symbology::Code128)
            } else {
                String::new()
            },
        };
        self.0.set_prompt(Some(prompt));
    }

    fn proceed(&self, _prompt: &str) -> bool {
        {
            let mut live = self.0.lock();
            live.proceeded = false;
            live.prompt = Some(Prompt::Proceed { text: "Press Done when the POS shows the result.".into() });
            self.0.emit(&live);
        }
        let went_on = self.0.wait_for(|live| std::mem::take(&mut live.proceeded).then_some(())).is_some();
        self.0.set_prompt(None);
        went_on
    }

    fn ask(&self, question: &str) -> Option<bool> {
        self.ask_check(question, question)
    }

    fn evidence(&self, _what: &str) -> Option<PathBuf> {
        None
    }

    fn step_started(&self, number: u32, _step: &Step) {
        let mut live = self.0.lock();
        live.prompt = None;
        if let Some(step) = live.steps.iter_mut().find(|s| s.number == number) {
            step.status = StepStatus::Active;
        }
        self.0.publish(&mut live);
    }

    fn step_finished(&self, report: &StepReport) {
        let mut live = self.0.lock();
        live.prompt = None;
        if let Some(step) = live.steps.iter_mut().find(|s| s.number == report.step) {
            step.status = if report.timed_out { StepStatus::TimedOut } else { StepStatus::Done };
            step.note = Some(report.note.clone());
        }
        self.0.publish(&mut live);
    }

    fn plays_wallet(&self) -> bool {
        true
    }

    fn wallet(&self, prompt: &WalletPrompt) {
        let (shown, label, payment) = match prompt {
            WalletPrompt::Pin(p) => (
                Prompt::Pin {
                    payment_id: p.payment_id.clone(),
                    merchant_name: "Merchant".into(),
                    amount: Money::new(&p.currency, p.value.to_string()),
                },
                format!("PIN prompt for {}", p.payment_id),
                Some(p.payment_id.clone()),
            ),
            WalletPrompt::Decline(p) => (
                Prompt::Decline {
                    payment_id: p.payment_id.clone(),
                    merchant_name: "Merchant".into(),
                    amount: Money::new(&p.currency, p.value.to_string()),
                },
                format!("decline prompt for {}", p.payment_id),
                Some(p.payment_id.clone()),
            ),
            WalletPrompt::ScanOrder { confirm, code } => (
                Prompt::ScanOrder { confirm: *confirm, code: code.clone() },
                "scan the order code".into(),
                None,
            ),
        };
        {
            let mut live = self.0.lock();
            live.prompt = Some(shown);
            self.0.wallet_event(&mut live, true, label);
            self.0.publish(&mut live);
        }
        // The merchant's name is in the wallet's own view of the payment.
        if let Some(payment_id) = payment {
            let session = Arc::clone(&self.0);
            tokio::spawn(async move {
                let Ok(list) = session.client.pending().await else { return };
                let Some(name) =
                    list.into_iter().find(|p| p.payment_id == payment_id).and_then(|p| p.merchant_name)
                else {
                    return;
                };
                let mut live = session.lock();
                if let Some(
                    Prompt::Pin { payment_id: id, merchant_name, .. }
                    | Prompt::Decline { payment_id: id, merchant_name, .. },
                ) = live.prompt.as_mut()
                {
                    if *id == payment_id {
                        *merchant_name = name;
                        session.emit(&live);
                    }
                }
            });
        }
    }

    fn wallet_done(&self) {
        let mut live = self.0.lock();
        let was = live.prompt.take();
        if matches!(was, Some(Prompt::Pin { .. } | Prompt::Decline { .. } | Prompt::ScanOrder { .. }))
            && !live.cancelled
        {
            self.0.wallet_event(&mut live, false, "the buyer answered".into());
        }
        self.0.publish(&mut live);
    }

    fn stopped(&self) -> bool {
        self.0.lock().cancelled
    }

    fn traffic(&self, entries: &[TrafficEntry]) {
        let mut live = self.0.lock();
        let newest = entries.last().map(|e| e.id);
        if live.seen.len() == entries.len() && live.seen.last().map(|e| e.id) == newest {
            return;
        }
        let first = entries.first().map(|e| e.at.clone()).unwrap_or_default();
        live.live = entries.iter().rev().take(LIVE_CAP).rev().map(|e| live_entry(e, &first)).collect();
        live.seen = entries.iter().take(SEEN_CAP).cloned().collect();
        self.0.emit(&live);
    }

    fn ask_check(&self, check: &str, question: &str) -> Option<bool> {
        {
            let mut live = self.0.lock();
            live.prompt = Some(Prompt::Question { check: check.to_owned(), question: question.to_owned() });
            self.0.emit(&live);
        }
        let answer = self.0.wait_for(|live| live.answers.get(check).copied());
        self.0.set_prompt(None);
        answer
    }

    fn photo(&self, check: &str, what: &str, have: u32, min: u32) -> Photo {
        {
            let mut live = self.0.lock();
            live.skip_photo.remove(check);
            live.prompt = Some(Prompt::Photo { check: check.to_owned(), what: what.to_owned(), min, have });
            self.0.emit(&live);
        }
        let got = self.0.wait_for(|live| {
            if let Some(index) = live.photos.iter().position(|(c, _)| c == check) {
                return live.photos.remove(index).map(|(_, e)| Photo::Kept(e));
            }
            live.skip_photo.remove(check).then_some(Photo::Skip)
        });
        self.0.set_prompt(None);
        got.unwrap_or(Photo::Skip)
    }
}

// ---------------------------------------------------------------------------------------------
// Driving a session
// ---------------------------------------------------------------------------------------------

fn record_of(run_id: &str, device: i64, case: &Case, pos_driven: bool, account: &str) -> RunRecord {
    RunRecord {
        run_id: run_id.to_owned(),
        device,
        case_id: case.id.to_string(),
        title: case.title.clone(),
        proves: case.proves.clone(),
        state: RunPhase::Running.as_str().to_owned(),
        verdict: None,
        pos_driven,
        account: account.to_owned(),
        started_at: now_text(),
        finished_at: None,
        duration_ms: None,
        steps: json_text(&steps_of(case)),
        errors: "[]".into(),
        wallet: "[]".into(),
        report: None,
    }
}

/// Runs the session's cases one after another, recording each.
async fn drive(session: Arc<Session>, cases: Vec<Case>, port: SharedPort, pos_url: Option<String>) {
    let mut config = RunnerConfig::new(pos_url.clone().unwrap_or_default(), session.account.clone());
    config.poll = ENGINE_POLL;
    config.late_audit = None;
    let runner = Runner::new(Arc::clone(&port), config);
    for (index, case) in cases.iter().enumerate() {
        if index > 0 {
            // The next case of the queue: a run of its own.
            let run_id = new_run_id();
            let record = record_of(&run_id, session.device, case, session.pos_driven, &session.account);
            let mut live = session.lock();
            if live.cancelled {
                break;
            }
            if let Err(e) = session.runs.store().insert_run(&record) {
                live.errors.push(format!("cannot record the run: {e}"));
            }
            live.run_id = run_id;
            live.case = case.clone();
            live.queue = cases.iter().skip(index + 1).map(|c| c.id.to_string()).collect();
            live.phase = RunPhase::Running;
            live.steps = steps_of(case);
            live.prompt = None;
            live.live.clear();
            live.seen.clear();
            live.verdict = None;
            live.errors.clear();
            live.wallet.clear();
            live.answers.clear();
            live.photos.clear();
            live.skip_photo.clear();
            session.publish(&mut live);
        }
        let started = Instant::now();
        let person: Arc<dyn Person> = Arc::new(CompanionPerson(Arc::clone(&session)));
        let mut report = match &runner {
            Ok(runner) => {
                runner.run_case_guided(case, person, &std::env::temp_dir(), session.pos_driven).await
            }
            Err(e) => {
                let input = plusbox_core::catalogue::RunInput {
                    finished: true,
                    errors: vec![format!("cannot start the engine: {e}")],
                    ..Default::default()
                };
                CaseReport::new(&plusbox_core::catalogue::evaluate(case, &input), 0, Vec::new(), input)
            }
        };
        let duration = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let mut live = session.lock();
        if report.run.traffic.is_empty() && !report.run.errors.is_empty() && !live.seen.is_empty() {
            // The engine could not read the traffic at the end (the sandbox went away): keep what
            // the live list saw as the run's evidence. The errors keep the verdict ERROR.
            report.run.traffic = live.seen.clone();
        }
        let cancelled = live.cancelled;
        let verdict = if cancelled { Verdict::Incomplete } else { Verdict::from(report.verdict) };
        live.phase = if cancelled { RunPhase::Cancelled } else { RunPhase::Finished };
        live.verdict = Some(verdict);
        live.prompt = None;
        let new: Vec<String> = report.errors.iter().filter(|e| !live.errors.contains(e)).cloned().collect();
        live.errors.extend(new);
        for step in &mut live.steps {
            if step.status == StepStatus::Active {
                step.status = if cancelled { StepStatus::Pending } else { StepStatus::TimedOut };
            }
        }
        // The run's own traffic replaces the live list: what the verdict rests on.
        let first = report.run.traffic.first().map(|e| e.at.clone());
        live.live = report
            .run
            .traffic
            .iter()
            .rev()
            .take(LIVE_CAP)
            .rev()
            .map(|e| live_entry(e, first.as_deref().unwrap_or(&e.at)))
            .collect();
        let stored = report.stored().to_string();
        let written = session.runs.store().finish(
            &live.run_id,
            live.phase.as_str(),
            verdict.as_str(),
            &now_text(),
            duration,
            &json_text(&live.steps),
            &json_text(&live.errors),
            &json_text(&live.wallet),
            Some(&stored),
        );
        if let Err(e) = written {
            live.errors.push(format!("cannot record the verdict: {e}"));
        }
        if cancelled {
            live.queue.clear();
        }
        let run_id = live.run_id.clone();
        drop(live);
        let problem = crate::upload::after_run(
            &Runs { inner: Arc::clone(&session.runs) },
            session.uploader.as_ref(),
            session.device,
            &run_id,
        );
        let mut live = session.lock();
        if let Some(problem) = problem {
            live.errors.push(problem);
        }
        session.emit(&live);
        if cancelled {
            break;
        }
    }
    session.runs.sessions.lock().unwrap_or_else(|e| e.into_inner()).retain(|s| !Arc::ptr_eq(s, &session));
    let _ = session.done.send(true);
}

fn live_entry(e: &TrafficEntry, first: &str) -> LiveEntry {
    let (from, to) = diagram::lanes(e);
    LiveEntry {
        id: e.id,
        at: e.at.clone(),
        rel_ms: diagram::rel_ms(first, &e.at),
        from: from.code().to_owned(),
        to: to.code().to_owned(),
        api: e.api.clone(),
        summary: diagram::summary(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

fn runs_of<H: Host>(host: &H) -> Result<Runs, CommandError> {
    host.runs().ok_or_else(|| CommandError::internal("this companion host keeps no test runs"))
}

/// The device making the call, as the sandbox knows it. While the sandbox cannot be reached, a
/// token it confirmed before on this host still reads its own stored runs.
async fn device_of<H: Host>(host: &H) -> Result<i64, CommandError> {
    let token = host.device_token().map(|t| t.expose().to_owned());
    match host.client().session().await {
        Ok(device) => {
            if let (Some(token), Some(runs)) = (token, host.runs()) {
                runs.inner.known.lock().unwrap_or_else(|e| e.into_inner()).insert(token, device.id);
            }
            Ok(device.id)
        }
        Err(e) if e.code == ErrorCode::SandboxUnreachable => {
            let known = token.zip(host.runs()).and_then(|(token, runs)| {
                runs.inner.known.lock().unwrap_or_else(|e| e.into_inner()).get(&token).copied()
            });
            known.ok_or(e)
        }
        Err(e) => Err(e),
    }
}

fn not_found(run_id: &str) -> CommandError {
    CommandError::new(ErrorCode::NotFound, format!("there is no run {run_id:?} of this device"))
}

fn port_error(e: PortError) -> CommandError {
    match e {
        PortError::Unreachable { .. } => CommandError::new(ErrorCode::SandboxUnreachable, e.to_string()),
        PortError::Refused { ref code, .. } if code == "RUN_ACTIVE" => {
            CommandError::new(ErrorCode::RunActive, e.to_string())
        }
        PortError::Refused { ref code, .. } if code == "NOT_IN_SCOPE" => {
            CommandError::new(ErrorCode::NotInScope, e.to_string())
        }
        other => CommandError::new(ErrorCode::SandboxUnreachable, other.to_string()),
    }
}

fn verdict_of(record: &RunRecord) -> Verdict {
    record.verdict.as_deref().and_then(Verdict::parse).unwrap_or(Verdict::Incomplete)
}

fn summary_of(record: &RunRecord) -> RunSummary {
    RunSummary {
        run_id: record.run_id.clone(),
        case_id: record.case_id.clone(),
        title: record.title.clone(),
        verdict: verdict_of(record),
        started_at: record.started_at.clone(),
        finished_at: record.finished_at.clone(),
        duration_ms: record.duration_ms,
        pos_driven: record.pos_driven,
    }
}

/// The engine's report of a stored run, with its full input (what the verdict was judged from,
/// so it can be judged again).
pub fn report_of(record: &RunRecord) -> Option<CaseReport> {
    let stored: serde_json::Value = serde_json::from_str(record.report.as_deref()?).ok()?;
    let mut report: CaseReport = serde_json::from_value(stored.get("report")?.clone()).ok()?;
    report.run = serde_json::from_value(stored.get("input")?.clone()).ok()?;
    Some(report)
}

fn view_of_record(record: &RunRecord) -> RunView {
    let report = report_of(record);
    let traffic = report.as_ref().map(|r| r.run.traffic.as_slice()).unwrap_or(&[]);
    let first = traffic.first().map(|e| e.at.clone()).unwrap_or_default();
    RunView {
        run_id: record.run_id.clone(),
        case_id: record.case_id.clone(),
        title: record.title.clone(),
        proves: record.proves.clone(),
        state: RunPhase::parse(&record.state),
        queue: Vec::new(),
        pos_driven: record.pos_driven,
        steps: serde_json::from_str(&record.steps).unwrap_or_default(),
        prompt: None,
        live: traffic.iter().rev().take(LIVE_CAP).rev().map(|e| live_entry(e, &first)).collect(),
        verdict: record.verdict.as_deref().and_then(Verdict::parse),
        errors: serde_json::from_str(&record.errors).unwrap_or_default(),
    }
}

/// The messages of a stored run's diagram: its traffic and the wallet's prompts and answers, in
/// time order.
fn messages_of(record: &RunRecord, traffic: &[TrafficEntry]) -> Vec<Message> {
    let wallet: Vec<WalletEvent> = serde_json::from_str(&record.wallet).unwrap_or_default();
    let mut timed: Vec<(String, Message)> = traffic
        .iter()
        .map(|e| {
            let (from, to) = diagram::lanes(e);
            (e.at.clone(), Message { id: Some(e.id), rel_ms: 0, from, to, label: diagram::summary(e) })
        })
        .collect();
    for w in wallet {
        let (from, to) =
            if w.to_wallet { (Lane::Sandbox, Lane::Wallet) } else { (Lane::Wallet, Lane::Sandbox) };
        timed.push((w.at, Message { id: None, rel_ms: 0, from, to, label: w.label }));
    }
    timed.sort_by_key(|(at, _)| {
        plusbox_core::protocol::time::parse_instant(at).map(|t| t.unix_timestamp_nanos()).unwrap_or(0)
    });
    let first = timed.first().map(|(at, _)| at.clone()).unwrap_or_default();
    timed
        .into_iter()
        .map(|(at, mut m)| {
            m.rel_ms = diagram::rel_ms(&first, &at);
            m
        })
        .collect()
}

fn headers(value: &serde_json::Value) -> Vec<(String, String)> {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
            .collect(),
        serde_json::Value::Array(list) => list
            .iter()
            .filter_map(|pair| {
                let pair = pair.as_array()?;
                Some((pair.first()?.as_str()?.to_owned(), pair.get(1)?.as_str()?.to_owned()))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn traffic_view(e: &TrafficEntry, first: &str) -> TrafficView {
    let (from, to) = diagram::lanes(e);
    let path = match e.uri.split_once("://") {
        Some((_, rest)) => rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/").to_owned(),
        None => e.uri.clone(),
    };
    TrafficView {
        id: e.id,
        at: e.at.clone(),
        rel_ms: diagram::rel_ms(first, &e.at),
        direction: e.direction.clone(),
        from: from.code().to_owned(),
        to: to.code().to_owned(),
        api: e.api.clone(),
        method: e.method.clone(),
        path,
        status: e.response_status,
        result_status: e.result_status.clone(),
        result_code: e.result_code.clone(),
        request_headers: headers(&e.request_headers),
        request_body: e.request_body.clone(),
        response_headers: headers(&e.response_headers),
        response_body: e.response_body.clone(),
        signature: match e.signature.as_str() {
            s if s.starts_with("valid") => SignatureView::Valid,
            "invalid" => SignatureView::Invalid,
            "missing" => SignatureView::Missing,
            _ => SignatureView::NotChecked,
        },
    }
}

/// A stored run in full.
pub(crate) fn result_of(store: &ResultsStore, record: &RunRecord) -> Result<RunResult, CommandError> {
    let report = report_of(record);
    let traffic = report.as_ref().map(|r| r.run.traffic.clone()).unwrap_or_default();
    let first = traffic.first().map(|e| e.at.clone()).unwrap_or_default();
    let photos = store
        .photos(&record.run_id)
        .map_err(store_error)?
        .into_iter()
        .map(|p| PhotoView {
            data_url: format!(
                "data:{};base64,{}",
                p.media_type,
                base64::engine::general_purpose::STANDARD.encode(&p.bytes)
            ),
            check: p.check,
            name: p.name,
            media_type: p.media_type,
        })
        .collect();
    let answers = store
        .answers(&record.run_id)
        .map_err(store_error)?
        .into_iter()
        .map(|(check, answer)| AnswerView { check, answer })
        .collect();
    let mut errors: Vec<String> = serde_json::from_str(&record.errors).unwrap_or_default();
    if let Some(r) = &report {
        for e in &r.errors {
            if !errors.contains(e) {
                errors.push(e.clone());
            }
        }
    }
    Ok(RunResult {
        summary: summary_of(record),
        proves: record.proves.clone(),
        steps: serde_json::from_str(&record.steps).unwrap_or_default(),
        checks: report
            .as_ref()
            .map(|r| {
                r.checks
                    .iter()
                    .map(|c| CheckView {
                        name: c.name.clone(),
                        verdict: c.verdict.into(),
                        reason: c.reason.clone(),
                        entries: c.entries.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        diagram_svg: diagram::sequence_svg(&messages_of(record, &traffic)),
        traffic: traffic.iter().map(|e| traffic_view(e, &first)).collect(),
        photos,
        answers,
        errors,
    })
}

/// The catalogue's cases with this device's last verdict of each.
pub async fn test_cases<H: Host>(host: H, _: Empty) -> Result<Vec<TestCaseInfo>, CommandError> {
    let runs = runs_of(&host)?;
    let device = device_of(&host).await?;
    let list = runs.store().list(device, None, None).map_err(store_error)?;
    let mut last: BTreeMap<String, &RunRecord> = BTreeMap::new();
    for record in &list {
        last.entry(record.case_id.clone()).or_insert(record);
    }
    Ok(runs
        .inner
        .catalogue
        .cases()
        .map(|c| {
            let latest = last.get(c.id.as_str());
            TestCaseInfo {
                id: c.id.to_string(),
                title: c.title.clone(),
                product: c.product.suite().into(),
                required: c.required,
                proves: c.proves.clone(),
                step_count: u32::try_from(c.steps.len()).unwrap_or(u32::MAX),
                requires: c.requires.iter().map(|r| r.name().to_owned()).collect(),
                last_verdict: latest.map(|r| verdict_of(r)),
                last_run_id: latest.map(|r| r.run_id.clone()),
                last_run_at: latest.map(|r| r.started_at.clone()),
            }
        })
        .collect())
}

/// This device's run settings.
pub async fn run_settings<H: Host>(host: H, _: Empty) -> Result<RunSettings, CommandError> {
    let runs = runs_of(&host)?;
    let device = device_of(&host).await?;
    let pos_url = runs.store().pos_url(device).map_err(store_error)?;
    Ok(RunSettings { pos_url })
}

/// Checks a POS-driver URL: absolute http(s) with a host, no credentials, no fragment.
pub fn valid_pos_url(text: &str) -> Result<String, CommandError> {
    let text = text.trim();
    let bad = |why: &str| CommandError::bad_request(format!("the POS-driver URL {text:?} {why}"));
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(|| bad("must start with http:// or https://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.starts_with(':') {
        return Err(bad("has no host"));
    }
    if authority.contains('@') {
        return Err(bad("must not carry a user name or password"));
    }
    if text.contains('#') || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("must not contain spaces, control characters or a fragment"));
    }
    if let Some((_, port)) = authority.rsplit_once(':').filter(|_| !authority.ends_with(']')) {
        if port.parse::<u16>().is_err() {
            return Err(bad("has a port that is not a number from 0 to 65535"));
        }
    }
    if text.len() > 2048 {
        return Err(bad("is longer than 2048 characters"));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// Sets (or clears, with `null`) this device's POS-driver URL.
pub async fn set_run_settings<H: Host>(host: H, args: RunSettings) -> Result<RunSettings, CommandError> {
    let runs = runs_of(&host)?;
    let device = device_of(&host).await?;
    let pos_url = match args.pos_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(url) => Some(valid_pos_url(url)?),
    };
    runs.store().set_pos_url(device, pos_url.as_deref()).map_err(store_error)?;
    Ok(RunSettings { pos_url })
}

/// Starts a guided run of `caseIds` (the first now, the rest queued).
pub async fn run_start<H: Host>(host: H, args: RunStartArgs) -> Result<RunView, CommandError> {
    let runs = runs_of(&host)?;
    let device = device_of(&host).await?;
    if args.case_ids.is_empty() {
        return Err(CommandError::bad_request("choose at least one case to run"));
    }
    let mut cases = Vec::new();
    for id in &args.case_ids {
        let case = runs.inner.catalogue.get(id.trim()).ok_or_else(|| {
            CommandError::new(ErrorCode::UnknownCase, format!("there is no case {id:?} in the catalogue"))
        })?;
        cases.push(case.clone());
    }
    if let Some(active) = runs.inner.session_of(device) {
        let run_id = active.lock().run_id.clone();
        return Err(CommandError::new(
            ErrorCode::RunActive,
            format!("this device already has a run under way ({run_id}); finish or cancel it first"),
        ));
    }
    let token = host
        .device_token()
        .ok_or_else(|| CommandError::new(ErrorCode::NotPaired, "pair this device before running tests"))?;
    let port =
        HttpPort::connect_with(&host.sandbox_url(), token.expose(), host.http()).await.map_err(port_error)?;
    let scope = port.scope().await.map_err(port_error)?;
    let assigned: Option<Vec<String>> =
        scope.get("cases").and_then(|v| serde_json::from_value(v.clone()).ok());
    if let Some(assigned) = assigned.filter(|list| !list.is_empty()) {
        if let Some(other) = cases.iter().find(|c| !assigned.iter().any(|a| a == c.id.as_str())) {
            return Err(CommandError::new(
                ErrorCode::CaseNotAssigned,
                format!(
                    "case {} is not assigned to this device (it may run {})",
                    other.id,
                    assigned.join(", ")
                ),
            ));
        }
    }
    let account = match (
        args.account_id.as_deref().map(str::trim).filter(|a| !a.is_empty()),
        scope.get("account").and_then(|v| v.as_str()),
    ) {
        (Some(account), _) => account.to_owned(),
        (None, Some(own)) => own.to_owned(),
        (None, None) => "buyer-1".to_owned(),
    };
    if runs.inner.sessions().iter().any(|s| s.account == account) {
        return Err(CommandError::new(
            ErrorCode::RunActive,
            format!("buyer {account} already has a run under way on this companion"),
        ));
    }
    // A run elsewhere (another device, `plusbox run`) on the buyer refuses this one now, not
    // as an ERROR verdict a moment later.
    let probe = port.begin_run(&account).await.map_err(port_error)?;
    port.end_run(probe).await.map_err(port_error)?;
    let pos_url = runs.store().pos_url(device).map_err(store_error)?;
    let pos_driven = pos_url.is_some();
    let port: SharedPort = Arc::new(port);
    let first = cases.first().cloned().ok_or_else(|| CommandError::bad_request("no case"))?;
    // Before the run is recorded: a key that cannot be read now refuses the run, never its upload.
    let uploader = crate::upload::uploader_for(&host, &runs, device)?;
    let run_id = new_run_id();
    let record = record_of(&run_id, device, &first, pos_driven, &account);
    runs.store().insert_run(&record).map_err(store_error)?;
    let (done, _) = tokio::sync::watch::channel(false);
    let session = Arc::new(Session {
        runs: Arc::clone(&runs.inner),
        device,
        account,
        pos_driven,
        live: Mutex::new(Live {
            run_id,
            queue: cases.iter().skip(1).map(|c| c.id.to_string()).collect(),
            steps: steps_of(&first),
            case: first,
            phase: RunPhase::Running,
            prompt: None,
            live: Vec::new(),
            seen: Vec::new(),
            verdict: None,
            errors: Vec::new(),
            wallet: Vec::new(),
            cancelled: false,
            proceeded: false,
            answers: BTreeMap::new(),
            photos: VecDeque::new(),
            skip_photo: BTreeSet::new(),
        }),
        wake: Condvar::new(),
        done,
        client: host.client(),
        clock: port.clock(),
        uploader,
    });
    {
        let mut sessions = runs.inner.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.iter().any(|s| s.device == device || s.account == session.account) {
            return Err(CommandError::new(
                ErrorCode::RunActive,
                "a run started meanwhile on this device or buyer",
            ));
        }
        sessions.push(Arc::clone(&session));
    }
    let view = {
        let live = session.lock();
        session.emit(&live);
        session.view(&live)
    };
    tokio::spawn(drive(session, cases, port, pos_url));
    Ok(view)
}

/// The session of `run_id` if it is this device's run under way.
fn active_run(runs: &Runs, device: i64, run_id: &str) -> Option<Arc<Session>> {
    runs.inner.session_of(device).filter(|s| s.lock().run_id == run_id)
}

fn stored_view(runs: &Runs, device: i64, run_id: &str) -> Result<RunView, CommandError> {
    let record = runs.store().run(run_id).map_err(store_error)?.filter(|r| r.device == device);
    record.map(|r| view_of_record(&r)).ok_or_else(|| not_found(run_id))
}

fn finished_error(run_id: &str) -> CommandError {
    CommandError::new(ErrorCode::InvalidState, format!("run {run_id} is no longer running"))
}

/// A run: live while it runs, from the store afterwards.
pub async fn run_view<H: Host>(host: H, args: RunArgs) -> Result<RunView, CommandError> {
    let runs = runs_of(&host)?;
    let device = device_of(&host).await?;
    if let Some(session) = active_run(&runs, device, &args.run_id) {
        let live = session.lock();
        return Ok(session.view(&live));
    }
    stored_view(&runs, device, &args.run_id)
}

/// This device's run under way, if any.
pub async fn run_active<H: Host>(host: H, _: Empty) -> Result<Option<RunView>, CommandError> {
    let runs = runs_of(&host)?;
    let device = device_of(&host).await?;
    Ok(runs.inner.session_of(device).map(|s| {
        let live = s.lock();
        s.view(&live)
    }))
}

/// The person says the current step is done.
pub async fn run_proceed<H: Host>(host: H, args: RunArgs) -> Result<RunView, CommandError> {
    let runs = runs_of(&host)?;
    let device = device_of(&host).await?;
    let session = active_run(&runs, device, &args.run_id)
        .ok_or_else(|| finished_or_missing(&runs, device, &args.run_id))?;
    let mut live = session.lock();
    if !matches!(live.prompt, Some(Prompt::Proceed { .. })) {
        return Err(CommandError::new(ErrorCode::InvalidState, "the run is not waiting for Done now"));
    }
    live.proceeded = true;
    session.wake.notify_all();
    Ok(session.view(&live))
}

fn finished_or_missing(runs: &Runs, device: i64, run_id: &str) -> CommandError {
    match stored_view(runs, device, run_id) {
        Ok(_) => finished_error(run_id),
        Err(e) => e,
    }
}

/// Answers a manual check's question (kept before the run goes on).
pub async fn run_answer<H: Host>(host: H, args: RunAnswerArgs) -> Result<RunView, CommandError> {
    let runs = runs_of(&host)?;
    let device = device_of(&host).await?;
    let session = active_run(&runs, device, &args.run_id)
        .ok_or_else(|| finished_or_missing(&runs, device, &args.run_id))?;
    let mut live = session.lock();
    let asked = matches!(&live.prompt, Some(Prompt::Question { check, .. }) if *check == args.check);
    if !asked {
        return Err(CommandError::new(
            ErrorCode::InvalidState,
            format!("the run is not asking about {:?} now", args.check),
        ));
    }
    runs.store().answer(&args.run_id, &args.check, args.answer, &now_text()).map_err(store_error)?;
    live.answers.insert(args.check.clone(), args.answer);
    session.wake.notify_all();
    Ok(session.view(&live))
}

/// The image's type from its bytes: PNG, JPEG, GIF or WebP.
pub fn photo_type(bytes: &[u8]) -> Result<(&'static str, &'static str), CommandError> {
    let format = image::guess_format(bytes).map_err(|_| {
        CommandError::new(ErrorCode::BadImage, "the photo is not an image (PNG, JPEG, GIF or WebP)")
    })?;
    match format {
        image::ImageFormat::Png => Ok(("image/png", "png")),
        image::ImageFormat::Jpeg => Ok(("image/jpeg", "jpg")),
        image::ImageFormat::Gif => Ok(("image/gif", "gif")),
        image::ImageFormat::WebP => Ok(("image/webp", "webp")),
        other => Err(CommandError::new(
            ErrorCode::BadImage,
            format!("a {other:?} image cannot be shown in every browser; send PNG, JPEG, GIF or WebP"),
        )),
    }
}

/// Attaches a photo for an evidence check (validated, kept before the run goes on).
pub async fn run_photo<H: Host>(host: H, args: RunPhotoArgs) -> Result<RunView, CommandError> {
    if args.image.len() / 4 * 3 > MAX_PHOTO_BYTES {
        return Err(CommandError::new(
            ErrorCode::ImageTooLarge,
            format!("the photo is larger than {} MB", MAX_PHOTO_BYTES / (1024 * 1024)),
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(args.image.trim())
        .map_err(|e| CommandError::new(ErrorCode::BadImage, format!("the photo is not Base64: {e}")))?;
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(CommandError::new(
            ErrorCode::ImageTooLarge,
            format!("the photo is larger than {} MB", MAX_PHOTO_BYTES / (1024 * 1024)),
        ));
    }
    let (media_type, ext) = photo_type(&bytes)?;
    let runs = runs_of(&host)?;
    let device = device_of(&host).await?;
    let session = active_run(&runs, device, &args.run_id)
        .ok_or_else(|| finished_or_missing(&runs, device, &args.run_id))?;
    let mut live = session.lock();
    if !live.case.checks.iter().any(|c| matches!(c, Check::Evidence { name, .. } if *name == args.check)) {
        return Err(CommandError::bad_request(format!(
            "case {} has no photo check {:?}",
            live.case.id, args.check
        )));
    }
    let store = runs.store();
    let n = store.photo_count(&args.run_id, &args.check).map_err(store_error)?.saturating_add(1);
    let name = format!("{}-{}-{n}.{ext}", live.case.id, args.check);
    store
        .add_photo(&args.run_id, &args.check, &name, media_type, &bytes, &now_text())
        .map_err(store_error)?;
    drop(store);
    let evidence = Evidence {
        name,
        media_type: Some(media_type.to_owned()),
        bytes: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
    };
    live.photos.push_back((args.check.clone(), evidence));
    session.wake.notify_all();
    Ok(session.view(&live))
}

/// Skips the photo the run asks for.
pub async fn run_skip_photo<H: Host>(host: H, args: RunCheckArgs) -> Result<RunView, CommandError> {
    let runs = runs_of(&host)?;
    let device = device_of(&host).await?;
    let session = active_run(&runs, device, &args.run_id)
        .ok_or_else(|| finished_or_missing(&runs, device, &args.run_id))?;
    let mut live = session.lock();
    live.skip_photo.insert(args.check.clone());
    session.wake.notify_all();
    Ok(session.view(&live))
}

/// Cancels the run: it ends INCOMPLETE with everything it recorded.
pub async fn run_cancel<H: Host>(host: H, args: RunArgs) -> Result<RunView, CommandError> {
    let runs = runs_of(&host)?;
    let device = device_of(&host).await?;
    let Some(session) = active_run(&runs, device, &args.run_id) else {
        return stored_view(&runs, device, &args.run_id);
    };
    let mut done = session.done.subscribe();
    session.cancel();
    // The engine takes back what it arranged, then records the verdict.
    let _ = tokio::time::timeout(Duration::from_secs(30), done.wait_for(|d| *d)).await;
    stored_view(&runs, device, &args.run_id)
}

/// This device's stored runs, newest first.
pub async fn results<H: Host>(host: H, args: ResultsArgs) -> Result<Vec<RunSummary>, CommandError> {
    let runs = runs_of(&host)?;
    let device = device_of(&host).await?;
    let list = runs
        .store()
        .list(device, args.verdict.map(Verdict::as_str), args.case_id.as_deref())
        .map_err(store_error)?;
    Ok(list.iter().map(summary_of).collect())
}

/// One stored run in full.
pub async fn result<H: Host>(host: H, args: RunArgs) -> Result<RunResult, CommandError> {
    let runs = runs_of(&host)?;
    let device = device_of(&host).await?;
    let store = runs.store();
    let record = store.run(&args.run_id).map_err(store_error)?.filter(|r| r.device == device);
    let record = record.ok_or_else(|| not_found(&args.run_id))?;
    result_of(&store, &record)
}

/// Exports runs as JSON, JUnit XML or a self-contained HTML report.
pub async fn export_results<H: Host>(host: H, args: ExportArgs) -> Result<ExportFile, CommandError> {
    let runs = runs_of(&host)?;
    let device = device_of(&host).await?;
    let store = runs.store();
    let records = if args.run_ids.is_empty() {
        let mut all = store.list(device, None, None).map_err(store_error)?;
        all.reverse();
        all
    } else {
        let mut out = Vec::new();
        for id in &args.run_ids {
            let record = store.run(id).map_err(store_error)?.filter(|r| r.device == device);
            out.push(record.ok_or_else(|| not_found(id))?);
        }
        out
    };
    let mut results = Vec::new();
    for record in &records {
        results.push((result_of(&store, record)?, report_of(record)));
    }
    drop(store);
    crate::export::export(&results, args.format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pos_driver_url_must_be_absolute_http_without_credentials() {
        assert_eq!(valid_pos_url("http://127.0.0.1:8788/").ok().as_deref(), Some("http://127.0.0.1:8788"));
        assert!(valid_pos_url("https://pos.example/driver").is_ok());
        for bad in [
            "ftp://x",
            "127.0.0.1:8788",
            "http://",
            "http://u:p@host",
            "http://h:99999",
            "http://h/#x",
            "http://h /",
        ] {
            let e = valid_pos_url(bad).err();
            assert_eq!(e.map(|e| e.code), Some(ErrorCode::BadRequest), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_as_a_pos_url_is_refused_or_a_clean_absolute_http_url(text in ".{0,80}") {
            if let Ok(url) = valid_pos_url(&text) {
                proptest::prop_assert!(url.starts_with("http://") || url.starts_with("https://"));
                proptest::prop_assert!(!url.chars().any(|c| c.is_whitespace() || c.is_control()));
                proptest::prop_assert!(!url.contains('#') && !url.ends_with('/'));
            }
        }

        #[test]
        fn any_bytes_as_a_photo_are_refused_or_a_browser_image(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            if let Ok((media_type, _)) = photo_type(&bytes) {
                proptest::prop_assert!(media_type.starts_with("image/"));
                proptest::prop_assert!(image::guess_format(&bytes).is_ok());
            }
        }
    }

    #[test]
    fn a_photo_must_be_an_image_by_its_bytes() {
        let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0];
        assert_eq!(photo_type(&png).ok(), Some(("image/png", "png")));
        assert_eq!(photo_type(b"%PDF-1.7 not a photo").err().map(|e| e.code), Some(ErrorCode::BadImage));
        assert_eq!(photo_type(b"").err().map(|e| e.code), Some(ErrorCode::BadImage));
    }
}
