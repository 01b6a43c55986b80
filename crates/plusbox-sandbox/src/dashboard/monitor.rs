//! The traffic monitor (as iMonitor shows production) and the dashboard's live event stream.
//!
//! The monitor counts the inbound Alipay+ API calls of the traffic log (the ACQP's requests to
//! the sandbox) over a window of whole minutes of the sandbox clock: requests, success rate,
//! latency p50/p99 (nearest rank, of the sandbox's own answer time) and result codes, in total
//! and per minute. A call succeeded when it was answered `S`, or `U PAYMENT_IN_PROCESS` (a pay
//! accepted and waiting for the buyer); `F`, any other `U` and no answer count against.
//!
//! `events` (server-sent events) tells an open dashboard what changed, found by re-reading the
//! store every poll interval (other processes write the same file): `results` when runs were
//! stored, `invite` when an invite's status changed, `traffic` (the last hour's figures) when a
//! minute of the sandbox clock has passed. The stream ends when the session does.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream::Stream;
use plusbox_core::secret::SecretString;
use serde_json::{json, Map, Value};

use super::{millis, rfc3339, session_token, DashError, DashResult, Dashboard};
use crate::store::TrafficSample;

/// The default window, in minutes.
const DEFAULT_MINUTES: i64 = 60;

/// The longest window, in minutes (a day).
const MAX_MINUTES: i64 = 1440;

const MINUTE_MS: i64 = 60_000;

pub(super) fn router() -> Router<Arc<Dashboard>> {
    Router::new().route("/traffic", get(traffic)).route("/events", get(events))
}

/// Whether a call counts as a success (see the module docs).
fn succeeded(sample: &TrafficSample) -> bool {
    match sample.result_status.as_deref() {
        Some("S") => true,
        Some("U") => sample.result_code.as_deref() == Some("PAYMENT_IN_PROCESS"),
        _ => false,
    }
}

/// The key a call is counted under in `resultCodes`: its result code, else its HTTP status,
/// else `NO_ANSWER`.
fn code_of(sample: &TrafficSample) -> String {
    match (&sample.result_code, sample.response_status) {
        (Some(code), _) => code.clone(),
        (None, Some(status)) => format!("HTTP {status}"),
        (None, None) => "NO_ANSWER".to_owned(),
    }
}

/// Nearest-rank percentile of sorted values (`q` in 0..=1); `None` when there are none.
fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    // ceil(q·n) as an index from 1, kept within 1..=n.
    let rank = (q * n as f64).ceil();
    let index = if rank.is_finite() && rank >= 1.0 { (rank as usize).min(n) - 1 } else { 0 };
    sorted.get(index).map(|v| (v * 1000.0).round() / 1000.0)
}

/// Figures of a set of calls: requests, successes, p50, p99, result codes.
struct Figures {
    requests: usize,
    success: usize,
    durations: Vec<f64>,
    codes: BTreeMap<String, usize>,
}

impl Figures {
    fn new() -> Self {
        Figures { requests: 0, success: 0, durations: Vec::new(), codes: BTreeMap::new() }
    }

    fn add(&mut self, sample: &TrafficSample, success: bool, code: &str) {
        self.requests += 1;
        if success {
            self.success += 1;
        }
        self.durations.push(sample.duration_ms);
        match self.codes.get_mut(code) {
            Some(count) => *count += 1,
            None => {
                self.codes.insert(code.to_owned(), 1);
            }
        }
    }

    fn finish(mut self) -> (usize, usize, Option<f64>, Option<f64>, Value) {
        self.durations.sort_by(f64::total_cmp);
        let codes: Map<String, Value> = self.codes.into_iter().map(|(k, v)| (k, json!(v))).collect();
        (
            self.requests,
            self.success,
            percentile(&self.durations, 0.50),
            percentile(&self.durations, 0.99),
            Value::Object(codes),
        )
    }
}

/// The monitor's answer for the `minutes` whole minutes up to `now_ms` (the current minute
/// included), from the inbound calls in that window.
pub(crate) fn summarize(samples: &[TrafficSample], now_ms: i64, minutes: i64) -> Value {
    let minutes = minutes.clamp(1, MAX_MINUTES);
    let this_minute = now_ms.div_euclid(MINUTE_MS).saturating_mul(MINUTE_MS);
    let from = this_minute.saturating_sub((minutes - 1).saturating_mul(MINUTE_MS));
    let mut total = Figures::new();
    let mut buckets: Vec<Figures> = (0..minutes).map(|_| Figures::new()).collect();
    for sample in samples.iter().filter(|s| s.at >= from && s.at <= now_ms) {
        let (success, code) = (succeeded(sample), code_of(sample));
        total.add(sample, success, &code);
        let index = usize::try_from(sample.at.saturating_sub(from) / MINUTE_MS).unwrap_or(usize::MAX);
        if let Some(bucket) = buckets.get_mut(index) {
            bucket.add(sample, success, &code);
        }
    }
    let series: Vec<Value> = buckets
        .into_iter()
        .enumerate()
        .map(|(i, bucket)| {
            let at = from.saturating_add(i64::try_from(i).unwrap_or(0).saturating_mul(MINUTE_MS));
            let (requests, success, p50, p99, codes) = bucket.finish();
            json!({"at": rfc3339(at), "requests": requests, "success": success, "p50Ms": p50, "p99Ms": p99, "resultCodes": codes})
        })
        .collect();
    let (requests, success, p50, p99, codes) = total.finish();
    let rate = (requests > 0).then(|| success as f64 / requests as f64);
    json!({
        "from": rfc3339(from),
        "to": rfc3339(now_ms),
        "requests": requests,
        "successRate": rate,
        "p50Ms": p50,
        "p99Ms": p99,
        "resultCodes": codes,
        "series": series,
    })
}

impl Dashboard {
    /// The monitor's figures for the last `minutes` minutes of the sandbox clock.
    async fn traffic_figures(&self, minutes: i64) -> Result<Value, DashError> {
        self.shared.sync_clock();
        let now = millis(self.shared.now());
        let from =
            now.div_euclid(MINUTE_MS).saturating_mul(MINUTE_MS).saturating_sub((minutes - 1) * MINUTE_MS);
        let samples = self.store(move |store| store.inbound_traffic(from, now)).await?;
        Ok(summarize(&samples, now, minutes))
    }
}

/// `GET traffic?minutes=60` → the monitor's figures.
async fn traffic(
    State(dash): State<Arc<Dashboard>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> DashResult {
    dash.require(&headers).await?;
    let mut minutes = DEFAULT_MINUTES;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key == "minutes" {
            minutes =
                value.parse::<i64>().ok().filter(|m| (1..=MAX_MINUTES).contains(m)).ok_or_else(|| {
                    DashError::invalid(format!(
                        "minutes must be a whole number from 1 to {MAX_MINUTES}; got {value:?}"
                    ))
                })?;
        }
    }
    Ok(Json(dash.traffic_figures(minutes).await?).into_response())
}

/// What one subscriber has seen.
struct Watch {
    dash: Arc<Dashboard>,
    token: SecretString,
    last_run: i64,
    statuses: BTreeMap<String, &'static str>,
    minute: i64,
    queue: VecDeque<Event>,
}

impl Watch {
    /// Re-reads the store; queues what changed. `false` when the session is over.
    async fn look(&mut self) -> Result<bool, DashError> {
        let now = self.dash.admin_now();
        let token = SecretString::new(self.token.expose().to_owned());
        let (valid, (newest, runs), invites) = self
            .dash
            .store({
                let after = self.last_run;
                move |store| {
                    Ok((
                        store.admin_session_valid(token.expose(), now)?,
                        store.collected_since(after)?,
                        store.invite_statuses()?,
                    ))
                }
            })
            .await?;
        if !valid {
            return Ok(false);
        }
        self.last_run = newest;
        let mut by_invite: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (invite, run) in runs {
            by_invite.entry(invite).or_default().push(run);
        }
        for (invite, runs) in by_invite {
            let data = json!({"inviteId": invite, "runIds": runs}).to_string();
            self.queue.push_back(Event::default().event("results").data(data));
        }
        for (invite, status) in invites {
            if self.statuses.get(&invite) != Some(&status) {
                let data = json!({"inviteId": invite, "status": status}).to_string();
                self.queue.push_back(Event::default().event("invite").data(data));
                self.statuses.insert(invite, status);
            }
        }
        self.dash.shared.sync_clock();
        let minute = millis(self.dash.shared.now()).div_euclid(MINUTE_MS);
        if minute != self.minute {
            self.minute = minute;
            let figures = self.dash.traffic_figures(DEFAULT_MINUTES).await?;
            self.queue.push_back(Event::default().event("traffic").data(figures.to_string()));
        }
        Ok(true)
    }
}

/// `GET events` → server-sent events (see the module docs).
async fn events(State(dash): State<Arc<Dashboard>>, headers: HeaderMap) -> DashResult {
    dash.require(&headers).await?;
    let token = session_token(&headers).ok_or_else(|| DashError::invalid("no session cookie"))?;
    let (newest, invites) =
        dash.store(|store| Ok((store.collected_since(i64::MAX)?.0, store.invite_statuses()?))).await?;
    dash.shared.sync_clock();
    let watch = Watch {
        minute: millis(dash.shared.now()).div_euclid(MINUTE_MS),
        statuses: invites.into_iter().collect(),
        last_run: newest,
        token,
        queue: VecDeque::new(),
        dash,
    };
    Ok(Sse::new(stream(watch)).keep_alive(KeepAlive::default()).into_response())
}

fn stream(watch: Watch) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(watch, |mut watch| async move {
        let mut stop = watch.dash.shared.shutdown.clone();
        let every = watch.dash.shared.config.poll_interval.max(std::time::Duration::from_millis(50));
        loop {
            if let Some(event) = watch.queue.pop_front() {
                return Some((Ok(event), watch));
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|stopped| *stopped) => return None,
            }
            match watch.look().await {
                Ok(true) => {}
                Ok(false) => return None,
                // The store is busy or gone for a moment: try again on the next round.
                Err(error) => tracing::debug!(?error, "dashboard events: store read failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample(at: i64, ms: f64, status: &str, code: &str) -> TrafficSample {
        TrafficSample {
            at,
            duration_ms: ms,
            response_status: Some(200),
            result_status: Some(status.into()).filter(|s: &String| !s.is_empty()),
            result_code: Some(code.into()).filter(|s: &String| !s.is_empty()),
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.50), Some(50.0));
        assert_eq!(percentile(&values, 0.99), Some(99.0));
        assert_eq!(percentile(&[7.0], 0.99), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn figures_count_per_minute_and_in_total() {
        let minute = 29_000_000 * MINUTE_MS;
        let samples = vec![
            sample(minute - MINUTE_MS + 5, 10.0, "S", "SUCCESS"),
            sample(minute - MINUTE_MS + 6, 30.0, "U", "PAYMENT_IN_PROCESS"),
            sample(minute + 1, 20.0, "F", "PARAM_ILLEGAL"),
            sample(minute + 2, 40.0, "U", "UNKNOWN_EXCEPTION"),
            // Before the window: not counted.
            sample(minute - 2 * MINUTE_MS, 1.0, "S", "SUCCESS"),
        ];
        let v = summarize(&samples, minute + 30_000, 2);
        assert_eq!(v["requests"], 4);
        assert_eq!(v["successRate"], 0.5);
        assert_eq!(v["p50Ms"], 20.0);
        assert_eq!(v["p99Ms"], 40.0);
        assert_eq!(v["resultCodes"]["PARAM_ILLEGAL"], 1);
        assert_eq!(v["series"].as_array().unwrap().len(), 2);
        assert_eq!(v["series"][0]["requests"], 2);
        assert_eq!(v["series"][0]["success"], 2);
        assert_eq!(v["series"][1]["p50Ms"], 20.0);
        assert_eq!(v["series"][1]["resultCodes"]["UNKNOWN_EXCEPTION"], 1);
        let empty = summarize(&[], minute, 3);
        assert_eq!(empty["successRate"], Value::Null);
        assert_eq!(empty["series"][2]["p99Ms"], Value::Null);
    }
}
