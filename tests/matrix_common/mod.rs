//! What every catalogue matrix test shares (`catalogue_matrix*.rs`): the cases of a suite, the
//! pairs of a case and a fault it targets, running each pair several times on fresh sandboxes,
//! and judging that the fault failed the case on the same named check every time.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::future::Future;

use plusbox_acquirer::Fault;
use plusbox_core::catalogue::{Case, Catalogue, Outcome};
use plusbox_runner::{CaseReport, Report};

/// The cases of suite `suite` (`--suite` on the command line).
pub fn suite_cases<'a>(catalogue: &'a Catalogue, suite: &str) -> Vec<&'a Case> {
    catalogue.cases().filter(|c| c.product.suite() == suite).collect()
}

/// Each case with each fault it targets (a target that names no fault fails the test).
pub fn targeted<'a>(cases: impl IntoIterator<Item = &'a Case>) -> Vec<(&'a Case, Fault)> {
    cases
        .into_iter()
        .flat_map(|case| {
            case.targets.iter().map(move |t| {
                (case, Fault::from_name(t).unwrap_or_else(|| panic!("{}: unknown fault {t}", case.id)))
            })
        })
        .collect()
}

/// A case report as a person reads it: verdict, each check with its reason, steps and errors.
pub fn explain(r: &CaseReport) -> String {
    let mut out = format!("{} {}: {} ({} ms)\n", r.id, r.title, r.verdict, r.duration_ms);
    for c in &r.checks {
        out.push_str(&format!("  [{}] {}: {}\n", c.verdict, c.name, c.reason));
    }
    for s in &r.steps {
        out.push_str(&format!(
            "  step {}: {}{}\n",
            s.step,
            s.note,
            if s.timed_out { " (timed out)" } else { "" }
        ));
    }
    for e in &r.errors {
        out.push_str(&format!("  error: {e}\n"));
    }
    out
}

/// Each case's verdict.
pub fn verdicts(report: &Report) -> BTreeMap<String, Outcome> {
    report.cases.iter().map(|c| (c.id.clone(), c.verdict)).collect()
}

/// One (case, fault) pair's reports, one per repeat.
pub struct FaultOutcome {
    /// The fault switched on.
    pub fault: Fault,
    /// The case that targets it.
    pub case: String,
    /// One report per repeat.
    pub reports: Vec<CaseReport>,
}

impl FaultOutcome {
    /// The checks that failed in every repeat (others may trip on the fault's consequences,
    /// depending on timing).
    pub fn failed_every_time(&self) -> Vec<&str> {
        self.reports[0]
            .failed()
            .into_iter()
            .filter(|name| self.reports.iter().all(|r| r.failed().contains(name)))
            .collect()
    }
}

/// Runs every pair `repeats` times, `at_once` pairs at a time; `run_once(case, fault, repeat)`
/// runs the case once on a fresh sandbox and acquirer with the fault switched on.
pub async fn fault_runs<'a, F, Fut>(
    pairs: &[(&'a Case, Fault)],
    repeats: usize,
    at_once: usize,
    run_once: F,
) -> Vec<FaultOutcome>
where
    F: Fn(&'a Case, Fault, usize) -> Fut,
    Fut: Future<Output = CaseReport>,
{
    let mut outcomes = Vec::new();
    for chunk in pairs.chunks(at_once.max(1)) {
        let runs = chunk.iter().map(|&(case, fault)| {
            let run_once = &run_once;
            async move {
                let mut reports = Vec::with_capacity(repeats);
                for repeat in 0..repeats {
                    reports.push(run_once(case, fault, repeat).await);
                }
                FaultOutcome { fault, case: case.id.to_string(), reports }
            }
        });
        outcomes.extend(futures_util::future::join_all(runs).await);
    }
    outcomes
}

/// Prints every report and the table `fault | case → checks failed every time | verdict`, and
/// asserts that each fault failed its case every time on the same check: on `check` when one is
/// named, else on any one.
pub fn assert_caught(outcomes: &[FaultOutcome], check: Option<&str>) {
    let mut problems = Vec::new();
    let mut table = Vec::new();
    for outcome in outcomes {
        let (fault, case) = (outcome.fault.name(), &outcome.case);
        for r in &outcome.reports {
            println!("{fault}:\n{}", explain(r));
        }
        let every = outcome.failed_every_time();
        table.push(format!("{fault} | {case} → {} | {}", every.join(", "), outcome.reports[0].verdict));
        let always_fails = outcome.reports.iter().all(|r| r.verdict == Outcome::Fail);
        let on_the_check = match check {
            Some(name) => every.contains(&name),
            None => !every.is_empty(),
        };
        if !always_fails || !on_the_check {
            let shown: Vec<String> = outcome.reports.iter().map(explain).collect();
            problems.push(format!(
                "{fault} was not caught by {case} on {} every time:\n{}",
                check.unwrap_or("the same check"),
                shown.join("\n")
            ));
        }
    }
    table.sort();
    println!("fault | case → failed checks | verdict\n{}", table.join("\n"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
