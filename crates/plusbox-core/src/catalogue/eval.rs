//! Judging a run: every check of a case against the run's traffic log and gathered states.
//!
//! Pure and deterministic: the same case and input always give the same verdict and the same
//! reasons. Reasons name traffic entries by their log id (`#12`) so a verdict can be explained
//! from the stored run alone.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::input::{PaymentSnapshot, RunInput, RunMode, TrafficEntry};
use super::model::{
    Api, Case, CaseDuration, Check, Code, EventRef, Occurrence, PaymentState, RefundAmount, ResultStatus,
    SignatureDirection, WhichPayment,
};
use crate::protocol::time::parse_instant;

/// The verdict of a case or of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// The check holds.
    Pass,
    /// Not applicable in this mode (manual questions in a headless run, POS answers in a
    /// manual run); never decides a case.
    Skipped,
    /// A person has not finished: an answer, a photo or a step is still missing.
    Incomplete,
    /// The integration broke the rule.
    Fail,
    /// Our side failed (sandbox, runner, unreadable log); the case says nothing about the ACQP.
    Error,
}

impl Outcome {
    /// `PASS`, `SKIPPED`, `INCOMPLETE`, `FAIL`, `ERROR`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Skipped => "SKIPPED",
            Outcome::Incomplete => "INCOMPLETE",
            Outcome::Fail => "FAIL",
            Outcome::Error => "ERROR",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    /// The check's stable name.
    pub name: String,
    /// The check kind (`called`, `notify-acked`, …).
    pub kind: String,
    /// The verdict.
    pub verdict: Outcome,
    /// Why, in words, naming entries as `#id`.
    pub reason: String,
    /// The traffic entries the reason refers to.
    pub entries: Vec<i64>,
}

/// The verdict of one run of one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    /// Case id.
    pub id: String,
    /// Case title.
    pub title: String,
    /// The case verdict: ERROR if our side failed, else FAIL if any check failed, else
    /// INCOMPLETE if anything is missing or the run did not finish, else PASS.
    pub verdict: Outcome,
    /// One result per check, in case order.
    pub checks: Vec<CheckResult>,
    /// Failures on our side, from the run.
    pub errors: Vec<String>,
}

impl Verdict {
    /// The checks that failed, by name.
    pub fn failed(&self) -> Vec<&str> {
        self.checks.iter().filter(|c| c.verdict == Outcome::Fail).map(|c| c.name.as_str()).collect()
    }

    /// A check's result by name.
    pub fn check(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// Judges a run of `case`.
pub fn evaluate(case: &Case, input: &RunInput) -> Verdict {
    let ctx = Ctx::new(input);
    let checks: Vec<CheckResult> = case
        .checks
        .iter()
        .map(|check| {
            let (verdict, reason, entries) = ctx.check(case, check);
            CheckResult {
                name: check.name().to_owned(),
                kind: check.kind().to_owned(),
                verdict,
                reason,
                entries,
            }
        })
        .collect();
    let worst =
        checks.iter().map(|c| c.verdict).filter(|v| *v != Outcome::Skipped).max().unwrap_or(Outcome::Pass);
    let verdict = if !input.errors.is_empty() {
        Outcome::Error
    } else if worst == Outcome::Pass && !input.finished {
        Outcome::Incomplete
    } else {
        worst
    };
    Verdict {
        id: case.id.to_string(),
        title: case.title.clone(),
        verdict,
        checks,
        errors: input.errors.clone(),
    }
}

type Judgement = (Outcome, String, Vec<i64>);

/// Traffic entries with their parsed instants.
type Timed<'a> = Vec<(&'a TrafficEntry, Option<OffsetDateTime>)>;

struct Ctx<'a> {
    input: &'a RunInput,
    /// Entries in log order with their parsed instants.
    entries: Timed<'a>,
    start: Option<OffsetDateTime>,
}

fn ids(list: &[(&TrafficEntry, Option<OffsetDateTime>)]) -> Vec<i64> {
    list.iter().map(|(e, _)| e.id).collect()
}

fn show_ids(ids: &[i64]) -> String {
    const SHOWN: usize = 12;
    let mut text: Vec<String> = ids.iter().take(SHOWN).map(|i| format!("#{i}")).collect();
    if ids.len() > SHOWN {
        text.push(format!("… {} more", ids.len() - SHOWN));
    }
    text.join(", ")
}

fn describe(api: Api, code: Option<Code>, status: Option<ResultStatus>) -> String {
    match (code, status) {
        (Some(c), _) => format!("{api} answered {}", c.0.as_str()),
        (None, Some(s)) => format!("{api} answered {}", s.as_str()),
        (None, None) => api.to_string(),
    }
}

fn describe_ref(r: &EventRef) -> String {
    let which = match r.occurrence {
        Occurrence::First => "the first",
        Occurrence::Last => "the last",
    };
    format!("{which} {}", describe(r.api, r.result_code, r.result_status))
}

fn ms(d: time::Duration) -> i128 {
    d.whole_milliseconds()
}

impl<'a> Ctx<'a> {
    fn new(input: &'a RunInput) -> Ctx<'a> {
        let mut entries: Vec<_> = input.traffic.iter().map(|e| (e, e.instant())).collect();
        entries.sort_by_key(|(e, _)| e.id);
        let start = input
            .started_at
            .as_deref()
            .and_then(|s| parse_instant(s).ok())
            .or_else(|| entries.iter().find_map(|(_, t)| *t));
        Ctx { input, entries, start }
    }

    /// FAIL once the run is finished; INCOMPLETE while the person may still make it happen.
    fn missing(&self) -> Outcome {
        if self.input.finished {
            Outcome::Fail
        } else {
            Outcome::Incomplete
        }
    }

    fn matches(e: &TrafficEntry, api: Api, code: Option<Code>, status: Option<ResultStatus>) -> bool {
        e.api == api.name()
            && (e.direction.is_empty() || e.direction == api.direction())
            && code.is_none_or(|c| e.result_code.as_deref() == Some(c.0.as_str()))
            && status.is_none_or(|s| e.result_status.as_deref() == Some(s.as_str()))
    }

    /// Index (into `entries`) of the referenced event.
    fn resolve(&self, r: &EventRef) -> Option<usize> {
        let mut found = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, (e, _))| Self::matches(e, r.api, r.result_code, r.result_status))
            .map(|(i, _)| i);
        match r.occurrence {
            Occurrence::First => found.next(),
            Occurrence::Last => found.next_back(),
        }
    }

    fn of_api(&self, api: Api) -> Timed<'a> {
        self.entries.iter().filter(|(e, _)| Self::matches(e, api, None, None)).copied().collect()
    }

    fn check(&self, case: &Case, check: &Check) -> Judgement {
        match check {
            Check::Called {
                api,
                result_code,
                result_status,
                min,
                max,
                after,
                before,
                from,
                within,
                min_gap,
                ..
            } => {
                let window =
                    Window { after: after.as_ref(), before: before.as_ref(), from: *from, within: *within };
                self.called(*api, *result_code, *result_status, min.unwrap_or(1), *max, &window, *min_gap)
            }
            Check::NotCalled { api, result_code, result_status, after, before, from, within, .. } => {
                let window =
                    Window { after: after.as_ref(), before: before.as_ref(), from: *from, within: *within };
                self.not_called(*api, *result_code, *result_status, &window)
            }
            Check::FollowedUp { after, within, .. } => self.followed_up(after, *within),
            Check::SameRequestId { api, min_calls, .. } => self.same_request_id(*api, min_calls.unwrap_or(1)),
            Check::RequestFields { api, strings_only, present, .. } => {
                self.request_fields(*api, *strings_only, present)
            }
            Check::AnswerFields { api, present, .. } => self.answer_fields(*api, present),
            Check::RequestValue { api, path, contains, .. } => self.request_value(*api, path, contains),
            Check::RequestHeader { header, .. } => self.request_header(header),
            Check::Signatures { direction, allow_lenient, .. } => self.signatures(*direction, *allow_lenient),
            Check::NotifyAcked { first_attempt, .. } => self.notify_acked(*first_attempt),
            Check::PaymentsCreated { count, include_failed, .. } => {
                self.payments_created(*count, *include_failed)
            }
            Check::PaymentState { state, result_code, which, .. } => {
                self.payment_state(*state, *result_code, *which)
            }
            Check::RefundState { succeeded, total, .. } => self.refund_state(*succeeded, *total),
            Check::PosResult { step, status, .. } => self.pos_result(case, *step, status),
            Check::AmountOnWire { api, amount, .. } => {
                self.amount_on_wire(*api, amount.map(|a| a.0).unwrap_or(case.setup.amount.0))
            }
            Check::RequestTime { max_skew, .. } => {
                self.request_time(max_skew.map(|d| d.0).unwrap_or(std::time::Duration::from_secs(300)))
            }
            Check::Manual { name, question, expect } => self.manual(name, question, *expect),
            Check::Evidence { name, what, min } => self.evidence(name, what, *min),
        }
    }

    /// The entries of `api` inside a window; `Err` when the window cannot be placed.
    fn windowed(
        &self,
        api: Api,
        code: Option<Code>,
        status: Option<ResultStatus>,
        window: &Window<'_>,
    ) -> Result<(Timed<'a>, String), WindowError> {
        let mut lo = 0usize;
        let mut hi = self.entries.len();
        let mut base = self.start;
        let mut words = String::new();
        if let Some(r) = window.after {
            let i = self.resolve(r).ok_or_else(|| WindowError::NoAnchor(describe_ref(r)))?;
            lo = i + 1;
            let (anchor, at) =
                self.entries.get(i).copied().ok_or_else(|| WindowError::NoAnchor(describe_ref(r)))?;
            base = at;
            words.push_str(&format!(" after {} (#{})", describe_ref(r), anchor.id));
        }
        if let Some(r) = window.before {
            if let Some(i) = self.resolve(r) {
                hi = i;
                if let Some((anchor, _)) = self.entries.get(i) {
                    words.push_str(&format!(" before {} (#{})", describe_ref(r), anchor.id));
                }
            }
        }
        let bounded = window.from.is_some() || window.within.is_some();
        if bounded {
            let anchor = if window.after.is_some() { "it" } else { "the start of the run" };
            match (window.from, window.within) {
                (Some(f), Some(w)) => words.push_str(&format!(" between {f} and {w} after {anchor}")),
                (Some(f), None) => words.push_str(&format!(" later than {f} after {anchor}")),
                (None, Some(w)) => words.push_str(&format!(" within {w} of {anchor}")),
                (None, None) => {}
            }
        }
        let mut kept = Vec::new();
        for (e, at) in self.entries.get(lo..hi.max(lo)).unwrap_or(&[]).iter().copied() {
            if !Self::matches(e, api, code, status) {
                continue;
            }
            if bounded {
                let (Some(base), Some(at)) = (base, at) else {
                    return Err(WindowError::NoTime(e.id));
                };
                let offset = ms(at - base);
                if window.from.is_some_and(|f| offset < f.0.as_millis() as i128) {
                    continue;
                }
                if window.within.is_some_and(|w| offset > w.0.as_millis() as i128) {
                    continue;
                }
            }
            kept.push((e, at));
        }
        Ok((kept, words))
    }

    #[allow(clippy::too_many_arguments)]
    fn called(
        &self,
        api: Api,
        code: Option<Code>,
        status: Option<ResultStatus>,
        min: u32,
        max: Option<u32>,
        window: &Window<'_>,
        min_gap: Option<CaseDuration>,
    ) -> Judgement {
        let what = describe(api, code, status);
        let (kept, words) = match self.windowed(api, code, status, window) {
            Ok(found) => found,
            Err(WindowError::NoAnchor(anchor)) => {
                return (
                    self.missing(),
                    format!("expected {what} after {anchor}, but there was no {anchor}"),
                    vec![],
                )
            }
            Err(WindowError::NoTime(id)) => {
                return (Outcome::Error, format!("traffic entry #{id} has an unreadable time"), vec![id])
            }
        };
        let n = kept.len() as u64;
        let found = ids(&kept);
        if n < u64::from(min) {
            let reason = if found.is_empty() {
                format!("expected at least {min} {what}{words}; found none")
            } else {
                format!("expected at least {min} {what}{words}; found {n} ({})", show_ids(&found))
            };
            return (self.missing(), reason, found);
        }
        if let Some(max) = max {
            if n > u64::from(max) {
                let extra: Vec<i64> = found.iter().skip(max as usize).copied().collect();
                return (
                    Outcome::Fail,
                    format!(
                        "expected at most {max} {what}{words}; found {n} ({}); over the limit: {}",
                        show_ids(&found),
                        show_ids(&extra)
                    ),
                    found,
                );
            }
        }
        if let Some(gap) = min_gap {
            for pair in kept.windows(2) {
                if let [(a, Some(ta)), (b, Some(tb))] = pair {
                    let d = ms(*tb - *ta);
                    if d < gap.0.as_millis() as i128 {
                        return (
                            Outcome::Fail,
                            format!(
                                "{what} #{} came {d} ms after #{}; calls must be at least {gap} apart",
                                b.id, a.id
                            ),
                            vec![a.id, b.id],
                        );
                    }
                } else if let [(a, _), (b, _)] = pair {
                    let id = if a.instant().is_none() { a.id } else { b.id };
                    return (Outcome::Error, format!("traffic entry #{id} has an unreadable time"), vec![id]);
                }
            }
        }
        let reason = if found.is_empty() {
            format!("no {what}{words}, as allowed")
        } else {
            format!("{n} × {what}{words} ({})", show_ids(&found))
        };
        (Outcome::Pass, reason, found)
    }

    fn not_called(
        &self,
        api: Api,
        code: Option<Code>,
        status: Option<ResultStatus>,
        window: &Window<'_>,
    ) -> Judgement {
        let what = describe(api, code, status);
        match self.windowed(api, code, status, window) {
            // No anchor: the window never opened, so nothing can be in it.
            Err(WindowError::NoAnchor(anchor)) => {
                (Outcome::Pass, format!("no {anchor}, so no {what} after it"), vec![])
            }
            Err(WindowError::NoTime(id)) => {
                (Outcome::Error, format!("traffic entry #{id} has an unreadable time"), vec![id])
            }
            Ok((kept, words)) if kept.is_empty() => (Outcome::Pass, format!("no {what}{words}"), vec![]),
            Ok((kept, words)) => {
                let found = ids(&kept);
                (Outcome::Fail, format!("{what}{words} must not happen; found {}", show_ids(&found)), found)
            }
        }
    }

    fn followed_up(&self, after: &EventRef, within: Option<CaseDuration>) -> Judgement {
        let Some(i) = self.resolve(after) else {
            return (self.missing(), format!("no {} to follow up", describe_ref(after)), vec![]);
        };
        let Some((anchor, anchor_at)) = self.entries.get(i).copied() else {
            return (Outcome::Error, "internal: anchor out of range".into(), vec![]);
        };
        let same = |e: &TrafficEntry| {
            (anchor.payment_request_id.is_some() && e.payment_request_id == anchor.payment_request_id)
                || (anchor.payment_id.is_some() && e.payment_id == anchor.payment_id)
        };
        let mut other_ids = Vec::new();
        for (e, at) in self.entries.iter().skip(i + 1) {
            let kind =
                Self::matches(e, Api::InquiryPayment, None, None) || Self::matches(e, Api::Pay, None, None);
            if !kind {
                continue;
            }
            if !same(e) {
                other_ids.push(e.id);
                continue;
            }
            if let Some(w) = within {
                match (anchor_at, at) {
                    (Some(a), Some(b)) if ms(*b - a) > w.0.as_millis() as i128 => continue,
                    (Some(_), Some(_)) => {}
                    _ => {
                        return (
                            Outcome::Error,
                            format!("traffic entry #{} has an unreadable time", e.id),
                            vec![e.id],
                        )
                    }
                }
            }
            return (
                Outcome::Pass,
                format!(
                    "{} (#{}) was followed up by {} #{} for the same payment",
                    describe_ref(after),
                    anchor.id,
                    e.api,
                    e.id
                ),
                vec![anchor.id, e.id],
            );
        }
        let window = within.map(|w| format!(" within {w}")).unwrap_or_default();
        let others = if other_ids.is_empty() {
            String::new()
        } else {
            format!("; calls under another id: {}", show_ids(&other_ids))
        };
        let mut entries = vec![anchor.id];
        entries.extend(other_ids);
        (
            self.missing(),
            format!(
                "{} (#{}) was never followed up{window} by inquiryPayment or a repeated pay with the same paymentRequestId{others}",
                describe_ref(after),
                anchor.id
            ),
            entries,
        )
    }

    fn same_request_id(&self, api: Api, min_calls: u32) -> Judgement {
        let calls = self.of_api(api);
        // The API's own idempotency key in the request body; payments by their request id.
        let body_key = api.idempotency_key();
        let key_name = body_key.unwrap_or("paymentRequestId");
        let mut keys: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (e, _) in &calls {
            let key = match body_key {
                Some(field) => e.request_json().get(field).and_then(Value::as_str).map(str::to_owned),
                None => e.payment_request_id.clone().or_else(|| e.payment_id.clone()),
            };
            keys.entry(key.unwrap_or_else(|| "(none)".into())).or_default().push(e.id);
        }
        let all = ids(&calls);
        if (calls.len() as u64) < u64::from(min_calls) {
            return (
                self.missing(),
                format!(
                    "expected at least {min_calls} {api} calls to compare {key_name}s; found {} ({})",
                    calls.len(),
                    show_ids(&all)
                ),
                all,
            );
        }
        if keys.len() > 1 {
            let list: Vec<String> = keys.iter().map(|(k, v)| format!("{k:?} on {}", show_ids(v))).collect();
            return (
                Outcome::Fail,
                format!(
                    "{api} was sent under {} different {key_name}s ({}); a retry must re-use the first one",
                    keys.len(),
                    list.join("; ")
                ),
                all,
            );
        }
        let key = keys.keys().next().cloned().unwrap_or_default();
        (
            Outcome::Pass,
            format!("all {} {api} calls carry {key_name} {key:?} ({})", calls.len(), show_ids(&all)),
            all,
        )
    }

    fn request_fields(&self, api: Api, strings_only: bool, present: &[String]) -> Judgement {
        let calls = self.of_api(api);
        let all = ids(&calls);
        if calls.is_empty() {
            return (self.missing(), format!("no {api} request to inspect"), vec![]);
        }
        let mut problems = Vec::new();
        let mut bad = Vec::new();
        for (e, _) in &calls {
            let before = problems.len();
            if strings_only {
                for f in e.hygiene_findings() {
                    let path = f.get("path").and_then(Value::as_str).unwrap_or("?");
                    let kind = f.get("kind").and_then(Value::as_str).unwrap_or("finding");
                    let found = f
                        .get("found")
                        .and_then(Value::as_str)
                        .map(|s| format!(", {s} sent"))
                        .unwrap_or_default();
                    problems
                        .push(format!("#{}: {path} ({kind}{found}); Alipay+ fields are JSON strings", e.id));
                }
            }
            if !present.is_empty() {
                let body = e.request_json();
                for path in present {
                    let value = path.split('.').try_fold(&body, |v, key| v.get(key));
                    let empty = match value {
                        None | Some(Value::Null) => true,
                        Some(Value::String(s)) => s.trim().is_empty(),
                        Some(Value::Object(m)) => m.is_empty(),
                        Some(_) => false,
                    };
                    if empty {
                        problems.push(format!("#{}: {path} is missing", e.id));
                    }
                }
            }
            if problems.len() > before {
                bad.push(e.id);
            }
        }
        if problems.is_empty() {
            let mut what = Vec::new();
            if strings_only {
                what.push("no hygiene findings".to_owned());
            }
            if !present.is_empty() {
                what.push(format!("{} present", present.join(", ")));
            }
            (
                Outcome::Pass,
                format!("{} {api} request(s) ({}): {}", calls.len(), show_ids(&all), what.join("; ")),
                all,
            )
        } else {
            (Outcome::Fail, problems.join("; "), bad)
        }
    }

    /// Every inbound request (the ACQP's own calls) carries `header` with a non-empty value.
    fn request_header(&self, header: &str) -> Judgement {
        let mut judged = Vec::new();
        let mut bad = Vec::new();
        for (e, _) in &self.entries {
            if e.direction != "inbound" {
                continue;
            }
            judged.push(e.id);
            let value = e
                .request_headers
                .as_object()
                .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(header)))
                .and_then(|(_, v)| v.as_str())
                .filter(|v| !v.trim().is_empty());
            if value.is_none() {
                bad.push(e.id);
            }
        }
        if judged.is_empty() {
            return (self.missing(), "no request of the ACQP to inspect".to_string(), vec![]);
        }
        if bad.is_empty() {
            (
                Outcome::Pass,
                format!("{} request(s) ({}) carry {header}", judged.len(), show_ids(&judged)),
                judged,
            )
        } else {
            let reason = format!(
                "{} of {} request(s) carry no {header} header: {}",
                bad.len(),
                judged.len(),
                show_ids(&bad)
            );
            (Outcome::Fail, reason, bad)
        }
    }

    fn request_value(&self, api: Api, path: &str, contains: &[String]) -> Judgement {
        let calls = self.of_api(api);
        let all = ids(&calls);
        if calls.is_empty() {
            return (self.missing(), format!("no {api} request to inspect"), vec![]);
        }
        let mut problems = Vec::new();
        let mut bad = Vec::new();
        for (e, _) in &calls {
            let body = e.request_json();
            let value = path.split('.').try_fold(&body, |v, key| v.get(key)).and_then(Value::as_str);
            match value {
                Some(text) if contains.iter().any(|c| text.contains(c.as_str())) => {}
                Some(text) => {
                    problems.push(format!(
                        "#{}: {path} is {text:?}, which has none of {}",
                        e.id,
                        contains.join(", ")
                    ));
                    bad.push(e.id);
                }
                None => {
                    problems.push(format!("#{}: {path} is missing", e.id));
                    bad.push(e.id);
                }
            }
        }
        if problems.is_empty() {
            (
                Outcome::Pass,
                format!(
                    "{} {api} request(s) ({}): {path} names {}",
                    calls.len(),
                    show_ids(&all),
                    contains.join(" or ")
                ),
                all,
            )
        } else {
            (Outcome::Fail, problems.join("; "), bad)
        }
    }

    fn answer_fields(&self, api: Api, present: &[String]) -> Judgement {
        let answered: Vec<&TrafficEntry> =
            self.of_api(api).into_iter().map(|(e, _)| e).filter(|e| e.response_status.is_some()).collect();
        let all: Vec<i64> = answered.iter().map(|e| e.id).collect();
        if answered.is_empty() {
            return (self.missing(), format!("no answer to a {api} call to inspect"), vec![]);
        }
        let mut problems = Vec::new();
        let mut bad = Vec::new();
        for e in &answered {
            let body: Value = serde_json::from_str(&e.response_body).unwrap_or(Value::Null);
            let before = problems.len();
            for alternatives in present {
                let found = alternatives.split('|').any(|path| {
                    match path.trim().split('.').try_fold(&body, |v, key| v.get(key)) {
                        None | Some(Value::Null) => false,
                        Some(Value::String(s)) => !s.trim().is_empty(),
                        Some(Value::Object(m)) => !m.is_empty(),
                        Some(_) => true,
                    }
                });
                if !found {
                    problems.push(format!("#{}: the {api} answer has no {alternatives}", e.id));
                }
            }
            if problems.len() > before {
                bad.push(e.id);
            }
        }
        if problems.is_empty() {
            (
                Outcome::Pass,
                format!(
                    "{} {api} answer(s) ({}): {} present",
                    answered.len(),
                    show_ids(&all),
                    present.join(", ")
                ),
                all,
            )
        } else {
            (Outcome::Fail, problems.join("; "), bad)
        }
    }

    fn signatures(&self, direction: SignatureDirection, allow_lenient: bool) -> Judgement {
        let want_requests = matches!(direction, SignatureDirection::Requests | SignatureDirection::Both);
        let want_acks = matches!(direction, SignatureDirection::Acks | SignatureDirection::Both);
        let want_decodes = direction == SignatureDirection::DecodeAnswers;
        let mut judged = Vec::new();
        let mut problems = Vec::new();
        let mut bad = Vec::new();
        let mut seen_requests = false;
        let mut seen_acks = false;
        let mut seen_decodes = false;
        for (e, _) in &self.entries {
            let request = e.direction == "inbound";
            let ack = e.direction == "outbound" && e.api == Api::NotifyPayment.name();
            let decode = e.direction == "outbound" && e.api == Api::UserInitiatedPay.name();
            if decode && want_decodes && e.response_status.is_none() {
                // No answer arrived (a timeout): nothing was signed or left unsigned.
                continue;
            }
            if !((request && want_requests) || (ack && want_acks) || (decode && want_decodes))
                || e.signature == "not-checked"
                || e.signature.is_empty()
            {
                continue;
            }
            seen_requests |= request;
            seen_acks |= ack;
            seen_decodes |= decode;
            judged.push(e.id);
            let ok = e.signature == "valid" || (allow_lenient && e.signature == "valid-lenient");
            if !ok {
                let whose = if request {
                    format!("{} request", e.api)
                } else if decode {
                    "userInitiatedPay answer".to_owned()
                } else {
                    "notifyPayment acknowledgement".to_owned()
                };
                let why = if e.signature == "valid-lenient" {
                    "verified only with a tolerant-parsing rule (see its findings)".to_owned()
                } else {
                    format!("signature {}", e.signature)
                };
                problems.push(format!("#{}: {whose}: {why}", e.id));
                bad.push(e.id);
            }
        }
        if !problems.is_empty() {
            return (Outcome::Fail, problems.join("; "), bad);
        }
        let mut missing = Vec::new();
        if want_requests && !seen_requests {
            missing.push("no signed request from the ACQP");
        }
        if want_acks && !seen_acks {
            missing.push("no notifyPayment acknowledgement");
        }
        if want_decodes && !seen_decodes {
            missing.push("no userInitiatedPay answer");
        }
        if !missing.is_empty() {
            return (self.missing(), format!("nothing to verify: {}", missing.join(", ")), judged);
        }
        (Outcome::Pass, format!("{} signature(s) verified ({})", judged.len(), show_ids(&judged)), judged)
    }

    fn notify_acked(&self, first_attempt: bool) -> Judgement {
        let notifies = self.of_api(Api::NotifyPayment);
        if notifies.is_empty() {
            return (self.missing(), "no notifyPayment was sent in this run".into(), vec![]);
        }
        let mut by_payment: BTreeMap<String, Vec<&TrafficEntry>> = BTreeMap::new();
        for (e, _) in &notifies {
            let key = e.payment_request_id.clone().or_else(|| e.payment_id.clone()).unwrap_or_default();
            by_payment.entry(key).or_default().push(e);
        }
        let mut problems = Vec::new();
        let mut bad = Vec::new();
        let mut good = Vec::new();
        for (payment, attempts) in &by_payment {
            let judged: Vec<&TrafficEntry> =
                if first_attempt { attempts.iter().take(1).copied().collect() } else { attempts.clone() };
            match judged.iter().find(|e| ack_problem(e).is_none()) {
                Some(e) => good.push(e.id),
                None => {
                    for e in &judged {
                        problems.push(format!(
                            "#{} (notify for {payment:?}): {}",
                            e.id,
                            ack_problem(e).unwrap_or_default()
                        ));
                        bad.push(e.id);
                    }
                }
            }
        }
        if problems.is_empty() {
            let first = if first_attempt { " on the first attempt" } else { "" };
            (
                Outcome::Pass,
                format!("notifyPayment acknowledged with a signed S{first} ({})", show_ids(&good)),
                good,
            )
        } else {
            (
                Outcome::Fail,
                format!("notifyPayment not acknowledged with a signed S: {}", problems.join("; ")),
                bad,
            )
        }
    }

    fn pay_entries_for(&self, payment_request_id: &str) -> Vec<i64> {
        self.entries
            .iter()
            .filter(|(e, _)| e.payment_request_id.as_deref() == Some(payment_request_id))
            .map(|(e, _)| e.id)
            .collect()
    }

    fn payments_created(&self, count: u32, include_failed: bool) -> Judgement {
        let payments: Vec<&PaymentSnapshot> = self
            .input
            .payments
            .iter()
            .filter(|p| include_failed || PaymentState::parse(&p.state) != Some(PaymentState::Failed))
            .collect();
        let list: Vec<&str> = payments.iter().map(|p| p.payment_request_id.as_str()).collect();
        let entries: Vec<i64> = self.of_api(Api::Pay).iter().map(|(e, _)| e.id).collect();
        if payments.len() as u64 == u64::from(count) {
            (Outcome::Pass, format!("{} payment(s) created ({})", payments.len(), list.join(", ")), entries)
        } else if (payments.len() as u64) < u64::from(count) {
            (
                self.missing(),
                format!(
                    "expected {count} payment(s); the sandbox has {} ({})",
                    payments.len(),
                    list.join(", ")
                ),
                entries,
            )
        } else {
            (
                Outcome::Fail,
                format!(
                    "expected {count} payment(s); the sandbox has {} ({}): the buyer could be charged twice",
                    payments.len(),
                    list.join(", ")
                ),
                entries,
            )
        }
    }

    fn pick(&self, which: WhichPayment) -> Vec<&'a PaymentSnapshot> {
        let all = &self.input.payments;
        match which {
            WhichPayment::First => all.first().into_iter().collect(),
            WhichPayment::Last => all.last().into_iter().collect(),
            WhichPayment::Every => all.iter().collect(),
        }
    }

    fn payment_state(&self, state: PaymentState, code: Option<Code>, which: WhichPayment) -> Judgement {
        let picked = self.pick(which);
        if picked.is_empty() {
            return (self.missing(), "the run created no payment".into(), vec![]);
        }
        let mut problems = Vec::new();
        let mut entries = Vec::new();
        let mut good = Vec::new();
        for p in picked {
            let related = self.pay_entries_for(&p.payment_request_id);
            let actual = PaymentState::parse(&p.state);
            let code_ok = code.is_none_or(|c| p.fail_code.as_deref() == Some(c.0.as_str()));
            if actual == Some(state) && code_ok {
                good.push(format!("{} is {}", p.payment_request_id, p.state));
            } else {
                let with = p.fail_code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
                let want = code.map(|c| format!(" ({})", c.0.as_str())).unwrap_or_default();
                problems.push(format!(
                    "payment {} is {}{with}, expected {state}{want} (messages {})",
                    p.payment_request_id,
                    p.state,
                    show_ids(&related)
                ));
            }
            entries.extend(related);
        }
        if problems.is_empty() {
            (Outcome::Pass, good.join("; "), entries)
        } else {
            // A payment still PROCESSING may yet finish while a person is mid-run.
            let outcome = if !self.input.finished && problems.iter().all(|p| p.contains(" is PROCESSING")) {
                Outcome::Incomplete
            } else {
                Outcome::Fail
            };
            (outcome, problems.join("; "), entries)
        }
    }

    fn refund_state(&self, succeeded: Option<u32>, total: Option<RefundAmount>) -> Judgement {
        let Some(p) = self.input.payments.first() else {
            return (self.missing(), "the run created no payment to refund".into(), vec![]);
        };
        let entries: Vec<i64> = self.of_api(Api::Refund).iter().map(|(e, _)| e.id).collect();
        let ok: Vec<_> = p.refunds.iter().filter(|r| r.result_code == "SUCCESS").collect();
        let sum: i64 = ok.iter().map(|r| r.value).sum();
        let mut problems = Vec::new();
        if let Some(n) = succeeded {
            if ok.len() as u64 != u64::from(n) {
                problems.push(format!("expected {n} successful refund(s), found {}", ok.len()));
            }
        }
        if let Some(total) = total {
            let want = match total {
                RefundAmount::Full => p.value,
                RefundAmount::Amount(a) => a.0.value,
            };
            if sum != want {
                problems.push(format!("refunds total {sum} minor units of {}, expected {want}", p.currency));
            }
        }
        let list: Vec<String> = ok.iter().map(|r| format!("{} ({})", r.refund_request_id, r.value)).collect();
        if problems.is_empty() {
            (
                Outcome::Pass,
                format!(
                    "{} successful refund(s) totalling {sum} of {} {}: {}",
                    ok.len(),
                    p.value,
                    p.currency,
                    list.join(", ")
                ),
                entries,
            )
        } else {
            (
                self.short_or_fail(sum, p, total),
                format!("payment {}: {}", p.payment_request_id, problems.join("; ")),
                entries,
            )
        }
    }

    /// Fewer refunds than expected may still come in an unfinished run; too many never fixes itself.
    fn short_or_fail(&self, sum: i64, p: &PaymentSnapshot, total: Option<RefundAmount>) -> Outcome {
        let want = match total {
            Some(RefundAmount::Full) => Some(p.value),
            Some(RefundAmount::Amount(a)) => Some(a.0.value),
            None => None,
        };
        match want {
            Some(w) if sum < w => self.missing(),
            None => self.missing(),
            _ => Outcome::Fail,
        }
    }

    fn pos_result(&self, case: &Case, step: u32, status: &[String]) -> Judgement {
        if self.input.mode == RunMode::Manual {
            return (
                Outcome::Skipped,
                "manual run: the person's answers stand in for the POS driver".into(),
                vec![],
            );
        }
        let action = (step as usize)
            .checked_sub(1)
            .and_then(|i| case.steps.get(i))
            .and_then(|s| s.pos.as_ref())
            .map(|a| a.name())
            .unwrap_or("action");
        let Some(outcome) = self.input.pos.iter().rev().find(|o| o.step == step) else {
            return if self.input.finished {
                (Outcome::Error, format!("no POS answer was recorded for step {step} ({action})"), vec![])
            } else {
                (Outcome::Incomplete, format!("step {step} ({action}) has not run yet"), vec![])
            };
        };
        let entries = outcome.reference.as_deref().map(|r| self.pay_entries_for(r)).unwrap_or_default();
        let detail = outcome.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
        if status.iter().any(|s| s.trim().eq_ignore_ascii_case(outcome.status.trim())) {
            (
                Outcome::Pass,
                format!("step {step}: the POS reported {} for the {action}{detail}", outcome.status),
                entries,
            )
        } else {
            (
                Outcome::Fail,
                format!(
                    "step {step}: the POS reported {} for the {action}{detail}; expected {}",
                    outcome.status,
                    status.join(" or ")
                ),
                entries,
            )
        }
    }

    fn amount_on_wire(&self, api: Api, want: crate::money::Amount) -> Judgement {
        let calls = self.of_api(api);
        if calls.is_empty() {
            return (self.missing(), format!("no {api} request to compare with {want}"), vec![]);
        }
        let paths: &[&str] = match api {
            Api::Pay => &["paymentAmount", "order.orderAmount"],
            Api::Refund => &["refundAmount"],
            _ => &["paymentAmount"],
        };
        let value = want.value.to_string();
        let currency = want.currency.code();
        let mut problems = Vec::new();
        let mut bad = Vec::new();
        for (e, _) in &calls {
            let body = e.request_json();
            for path in paths {
                let found = path.split('.').try_fold(&body, |v, key| v.get(key));
                let sent_value = found.and_then(|a| a.get("value"));
                let sent_currency = found.and_then(|a| a.get("currency")).and_then(Value::as_str);
                let shown = |v: Option<&Value>| v.map_or_else(|| "nothing".to_owned(), Value::to_string);
                if sent_value.and_then(Value::as_str) != Some(value.as_str())
                    || sent_currency != Some(currency)
                {
                    problems.push(format!(
                        "#{}: {path} is {} {}, expected \"{value}\" {currency} ({want} in minor units)",
                        e.id,
                        shown(sent_value),
                        sent_currency.unwrap_or("(no currency)")
                    ));
                    bad.push(e.id);
                }
            }
        }
        let all = ids(&calls);
        if problems.is_empty() {
            (
                Outcome::Pass,
                format!(
                    "{} {api} request(s) ({}) carry \"{value}\" {currency} = {want}",
                    calls.len(),
                    show_ids(&all)
                ),
                all,
            )
        } else {
            bad.dedup();
            (Outcome::Fail, problems.join("; "), bad)
        }
    }

    fn request_time(&self, max_skew: std::time::Duration) -> Judgement {
        let skew_ms = i128::try_from(max_skew.as_millis()).unwrap_or(i128::MAX);
        let mut judged = Vec::new();
        let mut problems = Vec::new();
        let mut bad = Vec::new();
        for (e, at) in &self.entries {
            if e.direction != "inbound" {
                continue;
            }
            judged.push(e.id);
            let header = e
                .request_headers
                .as_object()
                .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("request-time")))
                .and_then(|(_, v)| v.as_str());
            let Some(header) = header else {
                problems.push(format!("#{}: no Request-Time header", e.id));
                bad.push(e.id);
                continue;
            };
            let Some(received) = at else {
                return (
                    Outcome::Error,
                    format!("traffic entry #{} has an unreadable time", e.id),
                    vec![e.id],
                );
            };
            match crate::protocol::time::parse_request_time(header) {
                Ok(sent) => {
                    let off = ms(sent - *received);
                    if off.abs() > skew_ms {
                        problems.push(format!(
                            "#{}: Request-Time {header:?} is {} s {} the sandbox's receipt ({}); write the real time with its real offset",
                            e.id,
                            off.abs() / 1000,
                            if off > 0 { "ahead of" } else { "behind" },
                            e.at
                        ));
                        bad.push(e.id);
                    }
                }
                Err(_) => {
                    problems
                        .push(format!("#{}: Request-Time {header:?} is not ISO 8601 with an offset", e.id));
                    bad.push(e.id);
                }
            }
        }
        if !problems.is_empty() {
            return (Outcome::Fail, problems.join("; "), bad);
        }
        if judged.is_empty() {
            return (self.missing(), "no request from the ACQP to judge".into(), vec![]);
        }
        let skew = CaseDuration(max_skew);
        (
            Outcome::Pass,
            format!(
                "{} request(s) ({}) carry a Request-Time within {skew} of receipt",
                judged.len(),
                show_ids(&judged)
            ),
            judged,
        )
    }

    fn manual(&self, name: &str, question: &str, expect: bool) -> Judgement {
        if self.input.mode == RunMode::Headless {
            return (
                Outcome::Skipped,
                format!(
                    "not asked: a POS driver ran the POS, so its answers stand in for a person ({question})"
                ),
                vec![],
            );
        }
        let yn = |b: bool| if b { "yes" } else { "no" };
        match self.input.answers.get(name) {
            None => (Outcome::Incomplete, format!("not answered yet: {question}"), vec![]),
            Some(a) if *a == expect => (Outcome::Pass, format!("{question} — {}", yn(*a)), vec![]),
            Some(a) => {
                (Outcome::Fail, format!("{question} — answered {}, expected {}", yn(*a), yn(expect)), vec![])
            }
        }
    }

    fn evidence(&self, name: &str, what: &str, min: u32) -> Judgement {
        if self.input.mode == RunMode::Headless {
            return (Outcome::Skipped, format!("headless run: no photo of {what}"), vec![]);
        }
        let files = self.input.evidence.get(name).map(Vec::as_slice).unwrap_or(&[]);
        if (files.len() as u64) < u64::from(min) {
            (
                Outcome::Incomplete,
                format!("attach {min} photo(s) of {what}; {} attached", files.len()),
                vec![],
            )
        } else {
            let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
            (Outcome::Pass, format!("{what}: {}", names.join(", ")), vec![])
        }
    }
}

struct Window<'r> {
    after: Option<&'r EventRef>,
    before: Option<&'r EventRef>,
    from: Option<CaseDuration>,
    within: Option<CaseDuration>,
}

enum WindowError {
    NoAnchor(String),
    NoTime(i64),
}

/// Why a notify attempt does not count as acknowledged, or `None` if it does (§10).
fn ack_problem(e: &TrafficEntry) -> Option<String> {
    let mut why = Vec::new();
    match e.response_status {
        Some(200) => {}
        Some(s) => why.push(format!("HTTP {s}")),
        None => why.push("no answer".to_owned()),
    }
    if e.response_status.is_some() && e.result_status.as_deref() != Some("S") {
        why.push(format!("resultStatus {}", e.result_status.as_deref().unwrap_or("missing")));
    }
    if e.signature != "valid" {
        why.push(format!("signature {}", if e.signature.is_empty() { "not checked" } else { &e.signature }));
    }
    (!why.is_empty()).then(|| why.join(", "))
}
