//! Exports of stored runs: JSON (every run in full plus the engine's report), JUnit XML for CI
//! (the engine's own JUnit writer, so a companion run reads like `plusbox run --junit`), and a
//! self-contained HTML report — verdicts, reasons, steps, traffic, the sequence diagrams and the
//! photos as `data:` URLs, no script and no external resource — that opens offline anywhere.

use std::fmt::Write as _;

use plusbox_core::catalogue::Outcome;
use plusbox_runner::{CaseReport, Report};

use crate::diagram::xml_escape;
use crate::error::CommandError;
use crate::runs::{ExportFile, ExportFormat, RunResult, Verdict};

fn outcome(v: Verdict) -> Outcome {
    match v {
        Verdict::Pass => Outcome::Pass,
        Verdict::Fail => Outcome::Fail,
        Verdict::Error => Outcome::Error,
        Verdict::Skipped => Outcome::Skipped,
        Verdict::Incomplete => Outcome::Incomplete,
    }
}

/// The engine's report of each run; a run the engine never judged (interrupted) as INCOMPLETE
/// with its errors.
fn report(results: &[(RunResult, Option<CaseReport>)]) -> Report {
    Report {
        cases: results
            .iter()
            .map(|(result, report)| {
                let mut case = report.clone().unwrap_or_else(|| CaseReport {
                    id: result.summary.case_id.clone(),
                    title: result.summary.title.clone(),
                    verdict: Outcome::Incomplete,
                    duration_ms: 0,
                    checks: Vec::new(),
                    steps: Vec::new(),
                    errors: result.errors.clone(),
                    run: Default::default(),
                });
                // The stored verdict decides (a cancelled run is INCOMPLETE whatever was seen).
                case.verdict = outcome(result.summary.verdict);
                case
            })
            .collect(),
    }
}

fn stamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Exports `results` (each run with the engine's report, when it has one).
pub fn export(
    results: &[(RunResult, Option<CaseReport>)],
    format: ExportFormat,
) -> Result<ExportFile, CommandError> {
    let name = format!("plusbox-results-{}", stamp());
    Ok(match format {
        ExportFormat::Json => {
            let runs: Vec<&RunResult> = results.iter().map(|(r, _)| r).collect();
            let body = serde_json::json!({"runs": runs, "report": report(results)});
            ExportFile {
                file_name: format!("{name}.json"),
                media_type: "application/json".into(),
                content: serde_json::to_string_pretty(&body)
                    .map_err(|e| CommandError::internal(format!("cannot write the JSON export: {e}")))?,
            }
        }
        ExportFormat::Junit => ExportFile {
            file_name: format!("{name}.xml"),
            media_type: "application/xml".into(),
            content: report(results).junit("companion"),
        },
        ExportFormat::Html => ExportFile {
            file_name: format!("{name}.html"),
            media_type: "text/html".into(),
            content: html(results.iter().map(|(r, _)| r)),
        },
    })
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Error => "error",
        Verdict::Skipped | Verdict::Incomplete => "other",
    }
}

/// Only `data:image/...;base64,` URLs of the photo types the store accepts get into the report.
fn safe_data_url(url: &str) -> Option<&str> {
    let ok = [
        "data:image/png;base64,",
        "data:image/jpeg;base64,",
        "data:image/gif;base64,",
        "data:image/webp;base64,",
    ]
    .iter()
    .any(|p| url.starts_with(p))
        && url.bytes().skip(5).all(|b| b.is_ascii_alphanumeric() || b"+/=;,:-".contains(&b) || b == b'/');
    ok.then_some(url)
}

/// The HTML report.
pub fn html<'a>(results: impl Iterator<Item = &'a RunResult>) -> String {
    let results: Vec<&RunResult> = results.collect();
    let e = xml_escape;
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Plusbox test results</title><style>\
         body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#223;max-width:70rem}\
         h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2.5rem;border-top:1px solid #ccd;padding-top:1rem}\
         table{border-collapse:collapse;width:100%;margin:.5rem 0}td,th{border:1px solid #dde;padding:.25rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}\
         .pass{color:#0a6b2f;font-weight:700}.fail{color:#b00020;font-weight:700}.error{color:#8a4b00;font-weight:700}.other{color:#556;font-weight:700}\
         pre{white-space:pre-wrap;word-break:break-all;background:#f6f7f9;padding:.5rem;margin:0}\
         details{margin:.25rem 0}img{max-width:min(24rem,100%);border:1px solid #ccd}.diagram{overflow-x:auto}\
         @media (max-width:40rem){body{margin:.75rem}td,th{padding:.2rem .3rem}}\
         </style></head><body>\n<h1>Plusbox test results</h1>\n",
    );
    let count = |v: Verdict| results.iter().filter(|r| r.summary.verdict == v).count();
    let _ = writeln!(
        out,
        "<p>{} run(s): {} passed, {} failed, {} errors, {} incomplete, {} skipped.</p>",
        results.len(),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Error),
        count(Verdict::Incomplete),
        count(Verdict::Skipped)
    );
    out.push_str("<table><tr><th>Case</th><th>Verdict</th><th>Started</th><th>POS</th></tr>\n");
    for r in &results {
        let s = &r.summary;
        let _ = writeln!(
            out,
            "<tr><td><a href=\"#{id}\">{case}</a> {title}</td><td class=\"{class}\">{verdict}</td><td>{at}</td><td>{pos}</td></tr>",
            id = e(&s.run_id),
            case = e(&s.case_id),
            title = e(&s.title),
            class = verdict_class(s.verdict),
            verdict = s.verdict.as_str(),
            at = e(&s.started_at),
            pos = if s.pos_driven { "POS driver" } else { "person at the POS" }
        );
    }
    out.push_str("</table>\n");
    for r in &results {
        let s = &r.summary;
        let _ = writeln!(
            out,
            "<section id=\"{id}\"><h2>{case} — {title}: <span class=\"{class}\">{verdict}</span></h2>\
             <p><b>Proves:</b> {proves}</p><p>Run {id}, started {at}{dur}.</p>",
            id = e(&s.run_id),
            case = e(&s.case_id),
            title = e(&s.title),
            class = verdict_class(s.verdict),
            verdict = s.verdict.as_str(),
            proves = e(&r.proves),
            at = e(&s.started_at),
            dur = s.duration_ms.map(|d| format!(", {d} ms")).unwrap_or_default()
        );
        if !r.errors.is_empty() {
            out.push_str("<h3>Errors</h3><ul>");
            for error in &r.errors {
                let _ = write!(out, "<li>{}</li>", e(error));
            }
            out.push_str("</ul>");
        }
        out.push_str("<h3>Checks</h3><table><tr><th>Check</th><th>Verdict</th><th>Reason</th></tr>");
        for c in &r.checks {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
                e(&c.name),
                verdict_class(c.verdict),
                c.verdict.as_str(),
                e(&c.reason)
            );
        }
        out.push_str("</table><h3>Steps</h3><ol>");
        for step in &r.steps {
            let _ = write!(
                out,
                "<li>{}{}<br><small>{:?}{}</small></li>",
                e(&step.instruction),
                step.expect.as_deref().map(|x| format!(" <i>Expect: {}</i>", e(x))).unwrap_or_default(),
                step.status,
                step.note.as_deref().map(|n| format!(" — {}", e(n))).unwrap_or_default()
            );
        }
        out.push_str("</ol>");
        if !r.answers.is_empty() {
            out.push_str("<h3>Answers</h3><ul>");
            for a in &r.answers {
                let _ = write!(out, "<li>{}: {}</li>", e(&a.check), if a.answer { "yes" } else { "no" });
            }
            out.push_str("</ul>");
        }
        // The diagram is our own SVG with every text escaped; inline, it needs nothing else.
        let _ = write!(out, "<h3>Sequence</h3><div class=\"diagram\">{}</div>", r.diagram_svg);
        out.push_str("<h3>Traffic</h3>");
        for t in &r.traffic {
            let _ = write!(
                out,
                "<details id=\"{run}-t{id}\"><summary>#{id} +{rel} ms {from} → {to} {api} {method} {path} — HTTP {status} {rs} {rc} (signature {sig:?})</summary>\
                 <p>Request headers</p><pre>{rqh}</pre><p>Request body</p><pre>{rqb}</pre>\
                 <p>Response headers</p><pre>{rsh}</pre><p>Response body</p><pre>{rsb}</pre></details>",
                run = e(&s.run_id),
                id = t.id,
                rel = t.rel_ms,
                from = e(&t.from),
                to = e(&t.to),
                api = e(&t.api),
                method = e(&t.method),
                path = e(&t.path),
                status = t.status.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                rs = e(t.result_status.as_deref().unwrap_or("")),
                rc = e(t.result_code.as_deref().unwrap_or("")),
                sig = t.signature,
                rqh = e(&t.request_headers.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n")),
                rqb = e(&t.request_body),
                rsh = e(&t.response_headers.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n")),
                rsb = e(&t.response_body),
            );
        }
        if !r.photos.is_empty() {
            out.push_str("<h3>Photos</h3>");
            for p in &r.photos {
                if let Some(url) = safe_data_url(&p.data_url) {
                    let _ = write!(
                        out,
                        "<figure><img src=\"{}\" alt=\"{}\"><figcaption>{} ({})</figcaption></figure>",
                        e(url),
                        e(&p.name),
                        e(&p.name),
                        e(&p.check)
                    );
                }
            }
        }
        out.push_str("</section>\n");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::runs::{CheckView, PhotoView, RunSummary, SignatureView, TrafficView};

    fn hostile() -> RunResult {
        let evil = "<script>alert('x')</script><img src=http://evil.example/x.png>";
        RunResult {
            summary: RunSummary {
                run_id: "run-1\"><script>".into(),
                case_id: "UPM-PIN-001".into(),
                title: evil.into(),
                verdict: Verdict::Fail,
                started_at: "2026-01-01T00:00:00Z".into(),
                finished_at: None,
                duration_ms: Some(5),
                pos_driven: true,
            },
            proves: evil.into(),
            steps: Vec::new(),
            checks: vec![CheckView {
                name: "inquiry-while-processing".into(),
                verdict: Verdict::Fail,
                reason: evil.into(),
                entries: vec![3],
            }],
            traffic: vec![TrafficView {
                id: 3,
                at: "2026-01-01T00:00:00Z".into(),
                rel_ms: 0,
                direction: "inbound".into(),
                from: "ACQP".into(),
                to: "SANDBOX".into(),
                api: "pay".into(),
                method: "POST".into(),
                path: "/aps/api/v1/payments/pay".into(),
                status: Some(200),
                result_status: Some("U".into()),
                result_code: Some("PAYMENT_IN_PROCESS".into()),
                request_headers: vec![("x".into(), evil.into())],
                request_body: evil.into(),
                response_headers: Vec::new(),
                response_body: "{}".into(),
                signature: SignatureView::Valid,
            }],
            diagram_svg: crate::diagram::sequence_svg(&[]),
            photos: vec![
                PhotoView {
                    check: "receipt".into(),
                    name: "a.png".into(),
                    media_type: "image/png".into(),
                    data_url: "data:image/png;base64,iVBORw0KGgo=".into(),
                },
                PhotoView {
                    check: "receipt".into(),
                    name: "b".into(),
                    media_type: "text/html".into(),
                    data_url: "javascript:alert(1)".into(),
                },
            ],
            answers: Vec::new(),
            errors: vec![evil.into()],
        }
    }

    #[test]
    fn the_html_report_escapes_every_text_and_embeds_only_image_data_urls() {
        let page = html([hostile()].iter());
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<img src=http") && !page.contains("javascript:"), "{page}");
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("src=\"data:image/png;base64,iVBORw0KGgo=\""), "the real photo is embedded");
        assert!(page.contains("<svg") && page.contains("class=\"fail\""));
    }

    #[test]
    fn the_junit_export_is_the_engine_junit_with_the_stored_verdict() {
        let file = export(&[(hostile(), None)], ExportFormat::Junit).unwrap();
        assert!(file.content.contains("failures=\"1\""), "{}", file.content);
        assert!(file.file_name.ends_with(".xml"));
        let mut reader = quick_xml::Reader::from_str(&file.content);
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not XML: {e}"),
            }
        }
    }
}
