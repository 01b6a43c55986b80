//! The results side of the dashboard: the matrix of invited merchants × cases with the latest
//! verdict of each (as Alipay+'s Test Data page), the runs list, a run's detail with its
//! diagram and photos, and the CSV export. Reads only: the collector writes (`collector.rs`).
//!
//! A merchant's assigned cases are its invite's list, or, when the invite names none, every
//! required case of its products in the catalogue. It is ready for UAT once the latest run of
//! every assigned case passed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::{rfc3339, DashError, DashResult, Dashboard};
use crate::store::{DashboardInvite, DashboardRun};

/// Most runs one `runs` answer lists (newest first).
const RUNS_LIMIT: u32 = 1000;

/// Media types a photo is served as; anything else (an SVG could carry script) is a download.
const IMAGE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/webp", "image/gif"];

pub(super) fn router() -> Router<Arc<Dashboard>> {
    Router::new()
        .route("/matrix", get(matrix))
        .route("/runs", get(runs))
        .route("/runs/{run_id}", get(run))
        .route("/runs/{run_id}/diagram.svg", get(diagram))
        .route("/photos/{id}", get(photo))
        .route("/export.csv", get(export))
}

/// A case column.
struct CaseCol {
    id: String,
    title: String,
    product: &'static str,
    required: bool,
}

impl CaseCol {
    fn json(&self) -> Value {
        json!({"id": self.id, "title": self.title, "product": self.product, "required": self.required})
    }
}

/// What the matrix and the export are made of.
struct Results {
    cases: Vec<CaseCol>,
    merchants: Vec<Merchant>,
}

struct Merchant {
    invite: DashboardInvite,
    assigned: Vec<String>,
    /// The latest run per case.
    latest: BTreeMap<String, DashboardRun>,
}

impl Merchant {
    fn passed(&self) -> usize {
        self.assigned.iter().filter(|c| self.latest.get(*c).is_some_and(|r| r.verdict == "PASS")).count()
    }

    fn ready(&self) -> bool {
        !self.assigned.is_empty() && self.passed() == self.assigned.len()
    }
}

impl Dashboard {
    /// The column for a case id (the catalogue's title, product and flag; an id the catalogue
    /// does not know keeps its id as the title).
    fn case_col(&self, id: &str) -> CaseCol {
        match self.shared.config.catalogue.as_ref().and_then(|c| c.get(id)) {
            Some(case) => CaseCol {
                id: id.to_owned(),
                title: case.title.clone(),
                product: case.product.suite(),
                required: case.required,
            },
            None => CaseCol {
                id: id.to_owned(),
                title: id.to_owned(),
                product: if id.to_ascii_uppercase().starts_with("UPM") { "upm" } else { "mpm" },
                required: false,
            },
        }
    }

    /// An invite's assigned cases (see the module docs).
    fn assigned(&self, invite: &DashboardInvite) -> Vec<String> {
        if let Some(cases) = &invite.cases {
            return cases.clone();
        }
        let Some(catalogue) = &self.shared.config.catalogue else { return Vec::new() };
        catalogue
            .cases()
            .filter(|c| {
                c.required && invite.products.iter().any(|p| p.eq_ignore_ascii_case(c.product.suite()))
            })
            .map(|c| c.id.as_str().to_owned())
            .collect()
    }

    async fn results(&self) -> Result<Results, DashError> {
        let (invites, latest) =
            self.store(|store| Ok((store.dashboard_invites()?, store.latest_collected_runs()?))).await?;
        let mut by_invite: BTreeMap<String, BTreeMap<String, DashboardRun>> = BTreeMap::new();
        for run in latest {
            by_invite.entry(run.invite_id.clone()).or_default().insert(run.case_id.clone(), run);
        }
        let merchants: Vec<Merchant> = invites
            .into_iter()
            .map(|invite| Merchant {
                assigned: self.assigned(&invite),
                latest: by_invite.remove(&invite.id).unwrap_or_default(),
                invite,
            })
            .collect();
        let mut ids: BTreeSet<String> = BTreeSet::new();
        for m in &merchants {
            ids.extend(m.assigned.iter().cloned());
            ids.extend(m.latest.keys().cloned());
        }
        if merchants.is_empty() {
            if let Some(catalogue) = &self.shared.config.catalogue {
                ids.extend(catalogue.cases().filter(|c| c.required).map(|c| c.id.as_str().to_owned()));
            }
        }
        let cases = ids.iter().map(|id| self.case_col(id)).collect();
        Ok(Results { cases, merchants })
    }
}

fn cell(run: &DashboardRun) -> Value {
    json!({"verdict": run.verdict, "runId": run.run_id, "at": rfc3339(run.at())})
}

/// `GET matrix` → `{cases, merchants}`.
async fn matrix(State(dash): State<Arc<Dashboard>>, headers: HeaderMap) -> DashResult {
    dash.require(&headers).await?;
    let results = dash.results().await?;
    let merchants: Vec<Value> = results
        .merchants
        .iter()
        .map(|m| {
            let cells: Map<String, Value> = results
                .cases
                .iter()
                .map(|c| (c.id.clone(), m.latest.get(&c.id).map(cell).unwrap_or(Value::Null)))
                .collect();
            let i = &m.invite;
            json!({
                "inviteId": i.id,
                "merchant": i.merchant,
                "mid": i.mid,
                "email": i.email,
                "products": i.products,
                "status": i.status(),
                "createdAt": rfc3339(i.created_at),
                "linkedAt": i.linked_at.map(rfc3339),
                "lastUploadAt": i.last_upload_at.map(rfc3339),
                "assigned": m.assigned,
                "passed": m.passed(),
                "required": m.assigned.len(),
                "readyForUat": m.ready(),
                "cells": cells,
            })
        })
        .collect();
    let cases: Vec<Value> = results.cases.iter().map(CaseCol::json).collect();
    Ok(Json(json!({"cases": cases, "merchants": merchants})).into_response())
}

/// A path parameter; one that does not even decode (bad percent-encoding) names nothing here.
fn path_param(param: Result<Path<String>, PathRejection>) -> Result<String, DashError> {
    param.map(|Path(p)| p).map_err(|_| DashError::not_found("no such item"))
}

fn run_row(run: &DashboardRun) -> Value {
    json!({
        "runId": run.run_id,
        "inviteId": run.invite_id,
        "merchant": run.merchant,
        "mid": run.mid,
        "caseId": run.case_id,
        "verdict": run.verdict,
        "startedAt": rfc3339(run.started_at),
        "endedAt": run.ended_at.map(rfc3339),
        "uploadedAt": rfc3339(run.uploaded_at),
        "bundleId": run.bundle_id,
    })
}

/// `GET runs?inviteId=&caseId=` → runs, newest first (an empty filter is no filter; other
/// parameters are ignored).
async fn runs(
    State(dash): State<Arc<Dashboard>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> DashResult {
    dash.require(&headers).await?;
    let (mut invite, mut case) = (None, None);
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let value = Some(value.into_owned()).filter(|v| !v.is_empty());
        match key.as_ref() {
            "inviteId" => invite = value,
            "caseId" => case = value,
            _ => {}
        }
    }
    let list =
        dash.store(move |store| store.collected_runs(invite.as_deref(), case.as_deref(), RUNS_LIMIT)).await?;
    Ok(Json(list.iter().map(run_row).collect::<Vec<_>>()).into_response())
}

/// `GET runs/{runId}` → the stored `RunResult` plus where it came from and its photos' URLs.
/// Its `diagramSvg` is the sandbox's own drawing of its traffic, never the device's markup.
async fn run(
    State(dash): State<Arc<Dashboard>>,
    headers: HeaderMap,
    run_id: Result<Path<String>, PathRejection>,
) -> DashResult {
    dash.require(&headers).await?;
    let run_id = path_param(run_id)?;
    let asked = run_id.clone();
    let detail = dash
        .store(move |store| store.collected_run(&asked))
        .await?
        .ok_or_else(|| DashError::not_found(format!("no collected run {run_id}")))?;
    let mut body = match detail.body {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let photos: Vec<Value> = detail
        .photos
        .iter()
        .map(|(id, check, media_type)| {
            json!({"id": id, "check": check, "mediaType": media_type, "url": format!("/dashboard/api/photos/{id}")})
        })
        .collect();
    match &dash.shared.config.diagram {
        Some(draw) => {
            let svg = draw(&Value::Object(body.clone()));
            body.insert("diagramSvg".into(), Value::String(svg));
        }
        None => {
            body.remove("diagramSvg");
        }
    }
    let r = &detail.run;
    body.insert("merchant".into(), json!(r.merchant));
    body.insert("mid".into(), json!(r.mid));
    body.insert("inviteId".into(), json!(r.invite_id));
    body.insert("bundleId".into(), json!(r.bundle_id));
    body.insert("uploadedAt".into(), json!(rfc3339(r.uploaded_at)));
    body.insert("photos".into(), Value::Array(photos));
    Ok(Json(Value::Object(body)).into_response())
}

/// `GET runs/{runId}/diagram.svg` → the run's sequence diagram, drawn by the sandbox.
async fn diagram(
    State(dash): State<Arc<Dashboard>>,
    headers: HeaderMap,
    run_id: Result<Path<String>, PathRejection>,
) -> DashResult {
    dash.require(&headers).await?;
    let run_id = path_param(run_id)?;
    let Some(draw) = dash.shared.config.diagram.clone() else {
        return Err(DashError::not_found("this sandbox was started without a diagram renderer"));
    };
    let asked = run_id.clone();
    let detail = dash
        .store(move |store| store.collected_run(&asked))
        .await?
        .ok_or_else(|| DashError::not_found(format!("no collected run {run_id}")))?;
    let svg = draw(&detail.body);
    let mut response = svg.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml; charset=utf-8"));
    // Opened on its own, the drawing may do nothing but be shown.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    Ok(response)
}

/// `GET photos/{id}` → the image with its stored media type.
async fn photo(
    State(dash): State<Arc<Dashboard>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> DashResult {
    dash.require(&headers).await?;
    let id = path_param(id)?;
    let Ok(number) = id.parse::<i64>() else {
        return Err(DashError::not_found(format!("no photo {id}")));
    };
    let (media_type, bytes) = dash
        .store(move |store| store.collected_photo(number))
        .await?
        .ok_or_else(|| DashError::not_found(format!("no photo {id}")))?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    let shown = IMAGE_TYPES.iter().find(|t| media_type.eq_ignore_ascii_case(t));
    match shown {
        Some(t) => {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(t));
        }
        None => {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
            headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
        }
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    Ok(response)
}

/// A cell a spreadsheet would not run as a formula: text starting with `=`, `+`, `-`, `@` (or a
/// tab or carriage return, which some spreadsheets skip first) gets a leading `'`.
pub(crate) fn spreadsheet_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// The CSV export: a header and one line per merchant × assigned case.
fn export_csv(results: &Results) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "merchant",
        "mid",
        "status",
        "case",
        "required",
        "verdict",
        "run id",
        "at",
        "ready for UAT",
    ])?;
    let cols: BTreeMap<&str, &CaseCol> = results.cases.iter().map(|c| (c.id.as_str(), c)).collect();
    for m in &results.merchants {
        let ready = if m.ready() { "yes" } else { "no" };
        for case in &m.assigned {
            let required = cols.get(case.as_str()).is_some_and(|c| c.required);
            let latest = m.latest.get(case);
            let record = [
                m.invite.merchant.as_str(),
                m.invite.mid.as_str(),
                m.invite.status(),
                case.as_str(),
                if required { "yes" } else { "no" },
                latest.map(|r| r.verdict.as_str()).unwrap_or(""),
                latest.map(|r| r.run_id.as_str()).unwrap_or(""),
                &latest.map(|r| rfc3339(r.at())).unwrap_or_default(),
                ready,
            ];
            out.write_record(record.iter().map(|cell| spreadsheet_safe(cell)))?;
        }
    }
    out.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// `GET export.csv` → the results as a CSV attachment.
async fn export(State(dash): State<Arc<Dashboard>>, headers: HeaderMap) -> DashResult {
    dash.require(&headers).await?;
    let results = dash.results().await?;
    let bytes = export_csv(&results).map_err(|e| {
        DashError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "EXPORT_FAILED",
            format!("cannot write the CSV: {e}"),
        )
    })?;
    let now = dash.shared.now();
    let name = format!(
        "attachment; filename=\"plusbox-results-{:04}{:02}{:02}-{:02}{:02}.csv\"",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute()
    );
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formula_cells_get_a_leading_quote_and_others_stay() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("+1"), "'+1");
        assert_eq!(spreadsheet_safe("-2"), "'-2");
        assert_eq!(spreadsheet_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_safe("\t=1"), "'\t=1");
        assert_eq!(spreadsheet_safe("Café = good"), "Café = good");
        assert_eq!(spreadsheet_safe(""), "");
    }

    proptest! {
        #[test]
        fn no_guarded_cell_starts_a_formula(text in ".{0,40}") {
            let safe = spreadsheet_safe(&text);
            prop_assert!(!safe.starts_with(['=', '+', '-', '@', '\t', '\r']));
            prop_assert!(safe.ends_with(&text));
        }
    }
}
