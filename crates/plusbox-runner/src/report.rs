//! Run reports: the JSON report (`{cases: [{id, title, verdict, durationMs, checks: [{name,
//! verdict, reason}]}]}`), JUnit XML for CI, and a plain summary table.

use std::fmt::Write as _;

use plusbox_core::catalogue::{Outcome, RunInput, Verdict};
use serde::{Deserialize, Serialize};

/// One check in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// Stable check name.
    pub name: String,
    /// Verdict.
    pub verdict: Outcome,
    /// Why, naming traffic entries as `#id`.
    pub reason: String,
    /// The traffic entries the reason refers to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<i64>,
}

/// What happened in one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    /// 1-based step number.
    pub step: u32,
    /// The instruction.
    pub instruction: String,
    /// What the engine saw, e.g. "pay answered U (#12)" or "waited 10s".
    pub note: String,
    /// True when the step's wait ran out before its event happened (the checks judge it).
    pub timed_out: bool,
}

/// One case in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseReport {
    /// Case id.
    pub id: String,
    /// Case title.
    pub title: String,
    /// Verdict.
    pub verdict: Outcome,
    /// Wall-clock duration of the run in milliseconds.
    pub duration_ms: u64,
    /// One entry per check.
    pub checks: Vec<CheckReport>,
    /// One entry per step.
    #[serde(default)]
    pub steps: Vec<StepReport>,
    /// Failures on our side.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Everything the verdict was computed from (stored with the run; not in the summary JSON).
    #[serde(skip)]
    pub run: RunInput,
}

impl CaseReport {
    /// Builds the report from a verdict.
    pub fn new(verdict: &Verdict, duration_ms: u64, steps: Vec<StepReport>, run: RunInput) -> CaseReport {
        CaseReport {
            id: verdict.id.clone(),
            title: verdict.title.clone(),
            verdict: verdict.verdict,
            duration_ms,
            checks: verdict
                .checks
                .iter()
                .map(|c| CheckReport {
                    name: c.name.clone(),
                    verdict: c.verdict,
                    reason: c.reason.clone(),
                    entries: c.entries.clone(),
                })
                .collect(),
            steps,
            errors: verdict.errors.clone(),
            run,
        }
    }

    /// The names of the failed checks.
    pub fn failed(&self) -> Vec<&str> {
        self.checks.iter().filter(|c| c.verdict == Outcome::Fail).map(|c| c.name.as_str()).collect()
    }

    /// The stored form of a run: the report plus its full input, to explain the verdict later.
    pub fn stored(&self) -> serde_json::Value {
        serde_json::json!({"report": self, "input": self.run})
    }
}

/// A whole run of several cases.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The cases, in run order.
    pub cases: Vec<CaseReport>,
}

impl Report {
    /// Number of cases with each verdict: (pass, fail, incomplete, error).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let n = |o: Outcome| self.cases.iter().filter(|c| c.verdict == o).count();
        (n(Outcome::Pass), n(Outcome::Fail), n(Outcome::Incomplete), n(Outcome::Error))
    }

    /// Number of cases the POS driver could not run (SKIPPED; never counted as passed).
    pub fn skipped(&self) -> usize {
        self.cases.iter().filter(|c| c.verdict == Outcome::Skipped).count()
    }

    /// True when every case that ran passed (a SKIPPED case did not run: it neither passes nor
    /// fails the run, and the summary names it).
    pub fn all_passed(&self) -> bool {
        self.cases.iter().all(|c| matches!(c.verdict, Outcome::Pass | Outcome::Skipped))
    }

    /// A plain-text table: id, verdict, duration, failed checks.
    pub fn summary_table(&self) -> String {
        let width = self.cases.iter().map(|c| c.id.len()).max().unwrap_or(2).max(4);
        let mut out =
            format!("{:<width$}  {:<10}  {:>8}  {}\n", "case", "verdict", "ms", "title / failed checks");
        for c in &self.cases {
            let failed = c.failed();
            let tail = if failed.is_empty() {
                c.title.clone()
            } else {
                format!("{} — failed: {}", c.title, failed.join(", "))
            };
            let _ =
                writeln!(out, "{:<width$}  {:<10}  {:>8}  {tail}", c.id, c.verdict.as_str(), c.duration_ms);
        }
        let (p, f, i, e) = self.counts();
        let skipped = match self.skipped() {
            0 => String::new(),
            n => format!(", {n} skipped (not run)"),
        };
        let _ = writeln!(
            out,
            "{} cases: {p} passed, {f} failed, {i} incomplete, {e} errors{skipped}",
            self.cases.len()
        );
        out
    }

    /// JUnit XML: one testcase per case; FAIL → `<failure>`, ERROR → `<error>`, INCOMPLETE →
    /// `<skipped>`; every check's reason in the body.
    pub fn junit(&self, suite: &str) -> String {
        let (_, f, i, e) = self.counts();
        let i = i + self.skipped();
        let total_ms: u64 = self.cases.iter().map(|c| c.duration_ms).sum();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{i}\" time=\"{:.3}\">",
            xml(suite),
            self.cases.len(),
            total_ms as f64 / 1000.0
        );
        for c in &self.cases {
            let _ = write!(
                out,
                "  <testcase classname=\"plusbox.{}\" name=\"{} {}\" time=\"{:.3}\"",
                xml(suite),
                xml(&c.id),
                xml(&c.title),
                c.duration_ms as f64 / 1000.0
            );
            let body: String = c
                .checks
                .iter()
                .map(|k| format!("[{}] {}: {}\n", k.verdict.as_str(), k.name, k.reason))
                .chain(c.errors.iter().map(|e| format!("[ERROR] {e}\n")))
                .collect();
            let failed = c.failed().join(", ");
            match c.verdict {
                Outcome::Pass => {
                    let _ = writeln!(out, ">\n    <system-out>{}</system-out>\n  </testcase>", xml(&body));
                }
                Outcome::Skipped => {
                    let why: String = c.steps.iter().map(|s| s.note.as_str()).collect::<Vec<_>>().join("; ");
                    let _ = writeln!(
                        out,
                        ">\n    <skipped message=\"not run\">{}</skipped>\n  </testcase>",
                        xml(&why)
                    );
                }
                Outcome::Fail => {
                    let _ = writeln!(
                        out,
                        ">\n    <failure message=\"failed: {}\">{}</failure>\n  </testcase>",
                        xml(&failed),
                        xml(&body)
                    );
                }
                Outcome::Error => {
                    let _ = writeln!(
                        out,
                        ">\n    <error message=\"our side failed\">{}</error>\n  </testcase>",
                        xml(&body)
                    );
                }
                Outcome::Incomplete => {
                    let _ = writeln!(
                        out,
                        ">\n    <skipped message=\"incomplete\">{}</skipped>\n  </testcase>",
                        xml(&body)
                    );
                }
            }
        }
        out.push_str("</testsuite>\n");
        out
    }
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(verdict: Outcome) -> CaseReport {
        CaseReport {
            id: "UPM-X-001".into(),
            title: "A <b> & \"c\"".into(),
            verdict,
            duration_ms: 1234,
            checks: vec![CheckReport {
                name: "pay-once".into(),
                verdict,
                reason: "#1 \u{1}".into(),
                entries: vec![1],
            }],
            steps: vec![],
            errors: vec![],
            run: RunInput::default(),
        }
    }

    #[test]
    fn json_report_has_the_documented_shape() {
        let r = Report { cases: vec![report(Outcome::Fail)] };
        let v = serde_json::to_value(&r).unwrap_or_default();
        let case = &v["cases"][0];
        assert_eq!(case["id"], "UPM-X-001");
        assert_eq!(case["verdict"], "FAIL");
        assert_eq!(case["durationMs"], 1234);
        assert_eq!(case["checks"][0]["name"], "pay-once");
        assert_eq!(case["checks"][0]["verdict"], "FAIL");
        assert!(case.get("run").is_none());
    }

    #[test]
    fn junit_escapes_and_classifies() {
        let r = Report {
            cases: vec![
                report(Outcome::Fail),
                report(Outcome::Error),
                report(Outcome::Incomplete),
                report(Outcome::Pass),
            ],
        };
        let x = r.junit("upm");
        assert!(x.contains("tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\""));
        assert!(x.contains("A &lt;b&gt; &amp; &quot;c&quot;"));
        assert!(x.contains("<failure message=\"failed: pay-once\">"));
        assert!(!x.contains('\u{1}'));
        assert_eq!(r.counts(), (1, 1, 1, 1));
        assert!(r.summary_table().contains("4 cases: 1 passed, 1 failed, 1 incomplete, 1 errors"));
    }
}
