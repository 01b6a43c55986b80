//! Invitations and the results upload queue (issue 14), on the companion's side.
//!
//! Linking: [`link_invite`] reads `#invite=<token>` from a link, pasted text or a scanned QR,
//! makes the device's Ed25519 key when its host keeps one ([`Host::signs_uploads`]: the app, a
//! `--device-dir`), and trades the token and the public key for a device token scoped to the
//! invite. A browser (the `/rpc` host) sends no key.
//!
//! Upload: each finished run of a linked, key-holding device is bundled — its RunResult (steps,
//! checks with reasons, traffic, answers, diagram) and its photos as Base64 — under a bundle id
//! fixed at bundling time, signed, and queued in the results store. A worker per device sends
//! due bundles; while the sandbox is unreachable (or busy: 5xx, 408, 429) it retries with
//! exponential backoff ([`backoff`]: 2 s doubling, capped at 5 minutes, with jitter); a refusal
//! (another 4xx) marks the bundle `failed` with the collector's reason, retried only by
//! `upload_now`. A 200 `stored:false` (sent before, its answer lost) counts as uploaded. Every
//! change is an `upload` event with the [`UploadStatus`].
//!
//! A browser device's runs are recorded by the sandbox itself (the recorder `plusbox serve`
//! installs with [`crate::runs::Runs::set_recorder`]) and show as uploaded at once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{broadcast, Notify};
use ts_rs::TS;

use crate::client::{CompanionClient, UploadAnswer};
use crate::commands::Empty;
use crate::device_key::DeviceKey;
use crate::error::{CommandError, ErrorCode};
use crate::host::Host;
use crate::results::{ResultsStore, RunRecord, UploadRow};
use crate::runs::Runs;

// ---------------------------------------------------------------------------------------------
// Types the UI sees
// ---------------------------------------------------------------------------------------------

/// The invitation a device is linked through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LinkedInvite {
    /// `inv_…`.
    pub invite_id: String,
    /// The merchant's name.
    pub merchant: String,
    /// Its merchant id.
    pub mid: String,
    /// `upm`, `mpm`.
    pub products: Vec<String>,
    /// The cases it must pass.
    pub cases: Vec<String>,
    /// Its buyer accounts on the sandbox.
    pub accounts: Vec<String>,
}

/// `link_invite` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkInviteArgs {
    /// The invite link (`…/#invite=<token>`), or text containing it.
    pub link: String,
    /// A name for this device.
    #[ts(optional)]
    #[serde(default)]
    pub device_name: Option<String>,
}

/// Where one queued upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum UploadState {
    /// Queued; sent at `nextAttemptAt`.
    Waiting,
    /// Being sent now.
    Uploading,
    /// The sandbox has it.
    Uploaded,
    /// The collector refused it; `error` says why (`upload_now` tries again).
    Failed,
}

/// One run in the upload queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UploadItem {
    /// Run id.
    pub run_id: String,
    /// Case id.
    pub case_id: String,
    /// The run's verdict.
    pub verdict: String,
    /// Where its upload is.
    pub state: UploadState,
    /// Attempts so far.
    pub attempts: u32,
    /// The bundle carrying it.
    pub bundle_id: Option<String>,
    /// When the sandbox got it.
    pub uploaded_at: Option<String>,
    /// The last attempt's error.
    pub error: Option<String>,
}

/// The upload queue of this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UploadStatus {
    /// This device is linked through an invitation.
    pub linked: bool,
    /// Runs waiting to be sent.
    pub waiting: u32,
    /// Runs the sandbox has.
    pub uploaded: u32,
    /// Runs the collector refused.
    pub failed: u32,
    /// A bundle is being sent now.
    pub uploading: bool,
    /// The last attempt's error, while runs are waiting or failed.
    pub last_error: Option<String>,
    /// The next attempt (RFC 3339), while runs are waiting.
    pub next_attempt_at: Option<String>,
    /// Every run of the queue, newest first.
    pub items: Vec<UploadItem>,
}

/// An `upload` event: the device it is for and its status.
#[derive(Debug, Clone)]
pub struct UploadEvent {
    /// The device.
    pub device: i64,
    /// Its queue.
    pub status: UploadStatus,
}

/// Records a browser device's finished run on the sandbox directly: `(device id, run)` where
/// run is `{result, photos}` as in a bundle.
pub type Recorder = Arc<dyn Fn(i64, Value) -> Result<Option<String>, String> + Send + Sync>;

// ---------------------------------------------------------------------------------------------
// Shared state (held by the run registry)
// ---------------------------------------------------------------------------------------------

/// Upload state of one companion host, kept in its [`Runs`].
pub(crate) struct UploadShared {
    events: broadcast::Sender<UploadEvent>,
    workers: Mutex<HashMap<i64, Arc<Notify>>>,
    uploading: Mutex<HashSet<String>>,
    flushing: tokio::sync::Mutex<()>,
    recorder: Mutex<Option<Recorder>>,
}

impl Default for UploadShared {
    fn default() -> Self {
        UploadShared {
            events: broadcast::channel(64).0,
            workers: Mutex::new(HashMap::new()),
            uploading: Mutex::new(HashSet::new()),
            flushing: tokio::sync::Mutex::new(()),
            recorder: Mutex::new(None),
        }
    }
}

impl UploadShared {
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<UploadEvent> {
        self.events.subscribe()
    }

    pub(crate) fn set_recorder(&self, recorder: Recorder) {
        *self.recorder.lock().unwrap_or_else(|e| e.into_inner()) = Some(recorder);
    }

    pub(crate) fn recorder(&self) -> Option<Recorder> {
        self.recorder.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn uploading(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.uploading.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// ---------------------------------------------------------------------------------------------
// Bundles
// ---------------------------------------------------------------------------------------------

/// First retry after this long; each retry doubles it up to [`BACKOFF_CAP`].
pub const BACKOFF_BASE: Duration = Duration::from_secs(2);

/// Longest wait between retries.
pub const BACKOFF_CAP: Duration = Duration::from_secs(300);

/// The wait before retry number `attempts` (1 = after the first failure): `BACKOFF_BASE ×
/// 2^(attempts-1)` capped at [`BACKOFF_CAP`], times a jitter factor from 0.5 to 1 (`jitter` in
/// [0, 1)) so devices that lost the sandbox together do not come back together.
pub fn backoff(attempts: u32, jitter: f64) -> Duration {
    let exponent = attempts.saturating_sub(1).min(16);
    let full = BACKOFF_BASE.saturating_mul(1u32 << exponent).min(BACKOFF_CAP);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn at_text(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn jitter() -> f64 {
    (crate::system_random()() >> 11) as f64 / (1u64 << 53) as f64
}

fn internal(e: impl std::fmt::Display) -> CommandError {
    CommandError::internal(e.to_string())
}

/// A stored run as a bundle carries it: `{result, photos}` — the RunResult with the photos'
/// bytes taken out, and the photos as `{check, name, mediaType, data}` (Base64).
pub fn run_value(store: &ResultsStore, record: &RunRecord) -> Result<Value, CommandError> {
    let mut result = crate::runs::result_of(store, record)?;
    for photo in &mut result.photos {
        photo.data_url = String::new();
    }
    let photos: Vec<Value> = store
        .photos(&record.run_id)
        .map_err(internal)?
        .into_iter()
        .map(|p| {
            json!({
                "check": p.check,
                "name": p.name,
                "mediaType": p.media_type,
                "data": base64::engine::general_purpose::STANDARD.encode(&p.bytes),
            })
        })
        .collect();
    Ok(json!({"result": result, "photos": photos}))
}

/// A new bundle id: `bnd_` + 24 hex digits.
pub fn new_bundle_id() -> String {
    let mut random = crate::system_random();
    format!("bnd_{:012x}{:012x}", random() & 0xFFFF_FFFF_FFFF, random() & 0xFFFF_FFFF_FFFF)
}

/// The bundle of one run (its id and exact bytes).
pub fn bundle_of(
    store: &ResultsStore,
    record: &RunRecord,
    invite: &LinkedInvite,
) -> Result<(String, Vec<u8>), CommandError> {
    let bundle_id = new_bundle_id();
    let bundle = json!({
        "bundleId": bundle_id,
        "inviteId": invite.invite_id,
        "mid": invite.mid,
        "createdAt": at_text(now_ms()),
        "runs": [run_value(store, record)?],
    });
    let body = serde_json::to_vec(&bundle).map_err(internal)?;
    Ok((bundle_id, body))
}

/// Bundles, signs and queues a finished run (a run queued before keeps its first bundle).
pub fn enqueue(
    store: &ResultsStore,
    record: &RunRecord,
    invite: &LinkedInvite,
    key: &DeviceKey,
) -> Result<bool, CommandError> {
    let (bundle_id, body) = bundle_of(store, record, invite)?;
    let signature = key.sign(&body);
    let now = now_ms();
    store
        .queue_upload(&record.run_id, record.device, &bundle_id, &body, &signature, now, &at_text(now))
        .map_err(internal)
}

// ---------------------------------------------------------------------------------------------
// The queue
// ---------------------------------------------------------------------------------------------

/// The device's queue as the UI shows it.
pub fn status(runs: &Runs, device: i64, linked: bool) -> Result<UploadStatus, CommandError> {
    let store = runs.results();
    let rows = store.uploads(device).map_err(internal)?;
    let in_flight = runs.uploads().uploading().clone();
    let mut items = Vec::with_capacity(rows.len());
    let (mut waiting, mut uploaded, mut failed) = (0u32, 0u32, 0u32);
    let mut next: Option<i64> = None;
    let mut last_error: Option<(i64, String)> = None;
    for row in rows.iter().rev() {
        let record = store.run(&row.run_id).map_err(internal)?;
        let state = match row.state.as_str() {
            _ if in_flight.contains(&row.run_id) => UploadState::Uploading,
            "uploaded" => UploadState::Uploaded,
            "failed" => UploadState::Failed,
            _ => UploadState::Waiting,
        };
        match state {
            UploadState::Waiting | UploadState::Uploading => {
                waiting = waiting.saturating_add(1);
                next = Some(next.map_or(row.next_at, |n| n.min(row.next_at)));
            }
            UploadState::Uploaded => uploaded = uploaded.saturating_add(1),
            UploadState::Failed => failed = failed.saturating_add(1),
        }
        if state != UploadState::Uploaded {
            if let Some(error) = &row.last_error {
                if last_error.as_ref().is_none_or(|(at, _)| row.next_at > *at) {
                    last_error = Some((row.next_at, error.clone()));
                }
            }
        }
        items.push(UploadItem {
            run_id: row.run_id.clone(),
            case_id: record.as_ref().map(|r| r.case_id.clone()).unwrap_or_default(),
            verdict: record.as_ref().and_then(|r| r.verdict.clone()).unwrap_or_else(|| "INCOMPLETE".into()),
            state,
            attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
            bundle_id: Some(row.bundle_id.clone()),
            uploaded_at: row.uploaded_at.clone(),
            error: row.last_error.clone(),
        });
    }
    Ok(UploadStatus {
        linked,
        waiting,
        uploaded,
        failed,
        uploading: !in_flight.is_empty(),
        last_error: last_error.map(|(_, e)| e),
        next_attempt_at: next.map(at_text),
        items,
    })
}

fn publish(runs: &Runs, device: i64) {
    if let Ok(status) = status(runs, device, true) {
        let _ = runs.uploads().events.send(UploadEvent { device, status });
    }
}

/// Sends the device's due bundles (every waiting one with `force`), one at a time, and records
/// each outcome. Returns when the queue has nothing more due.
pub async fn flush(
    runs: &Runs,
    client: &CompanionClient,
    device: i64,
    force: bool,
) -> Result<(), CommandError> {
    let _one_at_a_time = runs.uploads().flushing.lock().await;
    let now = now_ms();
    let due: Vec<UploadRow> = runs
        .results()
        .uploads(device)
        .map_err(internal)?
        .into_iter()
        .filter(|row| row.state == "waiting" && (force || row.next_at <= now))
        .collect();
    for row in due {
        runs.uploads().uploading().insert(row.run_id.clone());
        publish(runs, device);
        let answer = client.upload_bundle(row.body.clone(), &row.signature).await;
        runs.uploads().uploading().remove(&row.run_id);
        let attempts = row.attempts.saturating_add(1);
        let now = now_ms();
        let store = runs.results();
        let written = match &answer {
            UploadAnswer::Stored { .. } => {
                store.upload_outcome(&row.run_id, "uploaded", attempts, now, None, Some(&at_text(now)))
            }
            UploadAnswer::Retry(error) => {
                let wait = backoff(u32::try_from(attempts).unwrap_or(u32::MAX), jitter());
                let next = now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
                store.upload_outcome(&row.run_id, "waiting", attempts, next, Some(error), None)
            }
            UploadAnswer::Refused(error) => {
                store.upload_outcome(&row.run_id, "failed", attempts, now, Some(error), None)
            }
        };
        drop(store);
        written.map_err(internal)?;
        publish(runs, device);
        if matches!(answer, UploadAnswer::Retry(_)) {
            // The sandbox is away: the rest waits for the next round rather than each timing out.
            let queued = runs.results().uploads(device).map_err(internal)?;
            for other in queued {
                if other.state == "waiting" && other.run_id != row.run_id && other.next_at <= now {
                    let store = runs.results();
                    let next = now.saturating_add(i64::try_from(BACKOFF_BASE.as_millis()).unwrap_or(0));
                    store
                        .upload_outcome(
                            &other.run_id,
                            "waiting",
                            other.attempts,
                            next,
                            other.last_error.as_deref(),
                            None,
                        )
                        .map_err(internal)?;
                }
            }
            break;
        }
    }
    Ok(())
}

/// Starts (once per device) the worker that sends the device's bundles when they are due, and
/// wakes it now.
pub fn kick(runs: &Runs, client: CompanionClient, device: i64) {
    let notify = {
        let mut workers = runs.uploads().workers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(notify) = workers.get(&device) {
            notify.notify_one();
            return;
        }
        let notify = Arc::new(Notify::new());
        workers.insert(device, Arc::clone(&notify));
        notify
    };
    let runs = runs.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = flush(&runs, &client, device, false).await {
                eprintln!("plusbox: the upload queue failed: {e}");
            }
            let next = runs
                .results()
                .uploads(device)
                .ok()
                .into_iter()
                .flatten()
                .filter(|row| row.state == "waiting")
                .map(|row| row.next_at)
                .min();
            let wait =
                next.map(|at| Duration::from_millis(u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0)));
            match wait {
                Some(wait) => {
                    tokio::select! {
                        _ = notify.notified() => {}
                        _ = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
                    }
                }
                None => notify.notified().await,
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/// The token of an invite link (`…#invite=<token>`), from a link, pasted text or a QR's text.
pub fn invite_token_of(text: &str) -> Option<String> {
    let (_, rest) = text.trim().split_once("invite=")?;
    let token: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    (token.len() >= 8 && token.len() <= 200).then_some(token)
}

fn runs_of<H: Host>(host: &H) -> Result<Runs, CommandError> {
    host.runs().ok_or_else(|| CommandError::internal("this companion host keeps no test runs"))
}

/// Links this device through an invitation: a device token scoped to the invite's merchant,
/// buyer and cases; a key-holding device registers its public key for signed uploads.
pub async fn link_invite<H: Host>(host: H, args: LinkInviteArgs) -> Result<LinkedInvite, CommandError> {
    Ok(link_device(host, args).await?.0)
}

/// [`link_invite`], also saying where the device's key is kept (and, when a keystore was asked
/// for and did not answer, why the key went to the owner-only file instead).
pub async fn link_device<H: Host>(
    host: H,
    args: LinkInviteArgs,
) -> Result<(LinkedInvite, Option<crate::keystore::KeyHome>), CommandError> {
    let token = invite_token_of(&args.link).ok_or_else(|| {
        CommandError::new(ErrorCode::InvalidArgument, "that is not an invite link (it has no #invite=…)")
    })?;
    let key = if host.signs_uploads() {
        let dir = host
            .data_dir()
            .ok_or_else(|| CommandError::internal("this companion host has no place to keep a device key"))?;
        Some(DeviceKey::load_or_create_in(&dir, host.key_storage())?)
    } else {
        None
    };
    let client = CompanionClient::new(host.http(), host.sandbox_url(), None);
    let public_key = key.as_ref().map(DeviceKey::public_key_spki);
    let linked = client.link_invite(&token, args.device_name.as_deref(), public_key.as_deref()).await?;
    host.store_device_token(Some(plusbox_core::secret::SecretString::new(linked.token)));
    if let Some(runs) = host.runs() {
        let text = serde_json::to_string(&linked.invite).map_err(internal)?;
        runs.results().set_link(linked.device.id, &text).map_err(internal)?;
    }
    Ok((linked.invite, key.map(|key| key.home().clone())))
}

/// The device (and its invite) for the upload commands. Offline, a device linked in this
/// host's data is still known.
async fn linked_device<H: Host>(host: &H, runs: &Runs) -> Result<(i64, Option<LinkedInvite>), CommandError> {
    match host.client().session_with_invite().await {
        Ok((device, invite)) => {
            if let Some(invite) = &invite {
                let text = serde_json::to_string(invite).map_err(internal)?;
                runs.results().set_link(device.id, &text).map_err(internal)?;
            }
            Ok((device.id, invite))
        }
        Err(e) if e.code == ErrorCode::SandboxUnreachable => {
            let linked = runs.results().linked_devices().map_err(internal)?;
            match linked.as_slice() {
                [(device, invite)] => Ok((*device, serde_json::from_str(invite).ok())),
                _ => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// A browser device's runs are recorded by the sandbox as they finish: each finished run shows
/// as uploaded.
fn recorded_status(runs: &Runs, device: i64, linked: bool) -> Result<UploadStatus, CommandError> {
    let list = runs.results().list(device, None, None).map_err(internal)?;
    let items: Vec<UploadItem> = if linked {
        list.into_iter()
            .filter(|r| r.state != "running")
            .map(|r| UploadItem {
                bundle_id: Some(browser_bundle_id(&r.run_id)),
                uploaded_at: r.finished_at.clone(),
                run_id: r.run_id,
                case_id: r.case_id,
                verdict: r.verdict.unwrap_or_else(|| "INCOMPLETE".into()),
                state: UploadState::Uploaded,
                attempts: 1,
                error: None,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(UploadStatus {
        linked,
        waiting: 0,
        uploaded: u32::try_from(items.len()).unwrap_or(u32::MAX),
        failed: 0,
        uploading: false,
        last_error: None,
        next_attempt_at: None,
        items,
    })
}

/// The bundle id the sandbox records a browser device's run under.
pub fn browser_bundle_id(run_id: &str) -> String {
    format!("srv-{run_id}")
}

/// This device's upload queue.
pub async fn upload_status<H: Host>(host: H, _: Empty) -> Result<UploadStatus, CommandError> {
    let runs = runs_of(&host)?;
    let (device, invite) = linked_device(&host, &runs).await?;
    if !host.signs_uploads() {
        return recorded_status(&runs, device, invite.is_some());
    }
    status(&runs, device, invite.is_some())
}

/// Sends every waiting bundle now (and retries the refused ones); the queue afterwards.
pub async fn upload_now<H: Host>(host: H, _: Empty) -> Result<UploadStatus, CommandError> {
    let runs = runs_of(&host)?;
    let (device, invite) = linked_device(&host, &runs).await?;
    if !host.signs_uploads() {
        return recorded_status(&runs, device, invite.is_some());
    }
    runs.results().retry_failed(device, now_ms()).map_err(internal)?;
    flush(&runs, &host.client(), device, true).await?;
    kick(&runs, host.client(), device);
    status(&runs, device, invite.is_some())
}

/// What a finished run does about uploading: a key-holding linked device queues its signed
/// bundle and wakes its worker; a browser device's run goes to the host's recorder.
pub(crate) fn after_run(
    runs: &Runs,
    uploader: Option<&Uploader>,
    device: i64,
    run_id: &str,
) -> Option<String> {
    let record = runs.results().run(run_id).ok().flatten()?;
    match uploader {
        Some(uploader) => {
            let queued = enqueue(&runs.results(), &record, &uploader.invite, &uploader.key);
            if let Err(e) = queued {
                return Some(format!("cannot queue the run's upload: {e}"));
            }
            publish(runs, device);
            kick(runs, uploader.client.clone(), device);
            None
        }
        None => {
            let recorder = runs.uploads().recorder()?;
            let value = run_value(&runs.results(), &record).ok()?;
            recorder(device, value).err().map(|e| format!("the sandbox did not record the run: {e}"))
        }
    }
}

/// What a key-holding linked device's session needs to queue its runs.
#[derive(Clone)]
pub(crate) struct Uploader {
    key: Arc<DeviceKey>,
    invite: LinkedInvite,
    client: CompanionClient,
}

/// The uploader of a device, when its host keeps a key and the device is linked. A linked
/// device whose key cannot be read now (a locked keystore) is an error, so a run does not start
/// whose result could never be signed and uploaded.
pub(crate) fn uploader_for<H: Host>(
    host: &H,
    runs: &Runs,
    device: i64,
) -> Result<Option<Uploader>, CommandError> {
    if !host.signs_uploads() {
        return Ok(None);
    }
    let Some(invite) = runs
        .results()
        .link(device)
        .ok()
        .flatten()
        .and_then(|text| serde_json::from_str::<LinkedInvite>(&text).ok())
    else {
        return Ok(None);
    };
    let Some(dir) = host.data_dir() else { return Ok(None) };
    let Some(key) = DeviceKey::load(&dir)? else { return Ok(None) };
    Ok(Some(Uploader { key: Arc::new(key), invite, client: host.client() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_two_seconds_up_to_five_minutes_with_jitter() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(2, 1.0), Duration::from_secs(4));
        assert_eq!(backoff(5, 1.0), Duration::from_secs(32));
        assert_eq!(backoff(30, 1.0), BACKOFF_CAP);
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(u32::MAX, 0.0), BACKOFF_CAP / 2);
    }

    #[test]
    fn an_invite_token_is_read_from_a_link_or_pasted_text() {
        assert_eq!(
            invite_token_of("http://10.0.0.2:8787/#invite=invite_abcDEF123").as_deref(),
            Some("invite_abcDEF123")
        );
        assert_eq!(
            invite_token_of("open this: http://h/#invite=invite_abcdefgh&x=1").as_deref(),
            Some("invite_abcdefgh")
        );
        assert_eq!(invite_token_of("http://h/#pair=pair_abc"), None);
        assert_eq!(invite_token_of("#invite=short"), None);
    }

    proptest::proptest! {
        #[test]
        fn any_text_gives_no_token_or_a_clean_one(text in ".{0,120}") {
            if let Some(token) = invite_token_of(&text) {
                proptest::prop_assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                proptest::prop_assert!(token.len() >= 8);
            }
        }
    }
}
