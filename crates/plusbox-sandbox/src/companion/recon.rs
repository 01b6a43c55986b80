//! Reconciliation files over HTTP (reconciliation.md §2.1), for the TSP dashboard and scripts:
//! list, download, and generate for a past date. The same tree as on SFTP:
//! `GET /app/v1/recon/files/<participantId>/<YYYYMMDD>/<name>`.
//!
//! Authenticated either by a device token (sees every application's files) or by an
//! application's SFTP login as HTTP Basic (sees only that application's). Files are looked up by
//! key in the store, never on disk; names that are not plain file names are refused anyway, so a
//! traversal attempt gets a clear 400 rather than a quiet 404.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};

use super::{authorize, bearer_token, body_json, ApiError, ApiResult};
use crate::store::AppRecord;
use crate::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/recon/files", get(list))
        .route("/recon/files/{participant}/{date}/{name}", get(download))
        .route("/recon/generate", post(generate))
}

/// Which applications the caller may see: `None` = all (a device), else one (an SFTP login).
async fn caller(shared: &Arc<Shared>, headers: &HeaderMap) -> Result<Option<AppRecord>, ApiError> {
    let value = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if bearer_token(value).is_none() {
        if let Some((scheme, encoded)) = value.trim_start().split_once(' ') {
            if scheme.eq_ignore_ascii_case("basic") {
                let unauthorized = || {
                    ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "wrong SFTP username or password")
                };
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(unauthorized)?;
                let (user, password) = decoded.split_once(':').ok_or_else(unauthorized)?;
                let (user, password) = (user.to_owned(), password.to_owned());
                let app = shared.blocking(move |store| store.sftp_authenticate(&user, &password)).await?;
                return app.map(Some).ok_or_else(unauthorized);
            }
        }
    }
    authorize(shared, headers).await?;
    Ok(None)
}

async fn apps_for(shared: &Arc<Shared>, headers: &HeaderMap) -> Result<Vec<AppRecord>, ApiError> {
    match caller(shared, headers).await? {
        Some(app) => Ok(vec![app]),
        None => Ok(shared.blocking(|store| store.apps()).await?),
    }
}

async fn list(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    let apps = apps_for(&shared, &headers).await?;
    let files = shared
        .blocking(move |store| {
            let mut all = Vec::new();
            for app in apps {
                all.extend(store.recon_files(app.id)?);
            }
            Ok(all)
        })
        .await?;
    Ok(Json(json!({ "files": files })).into_response())
}

/// A path segment that is a plain name: letters, digits, `_`, `-`, `.`, not starting with a dot.
fn plain(segment: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= 200
        && !segment.starts_with('.')
        && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

async fn download(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((participant, date, name)): Path<(String, String, String)>,
) -> ApiResult {
    if !plain(&participant) || !plain(&date) || !plain(&name) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_PATH",
            "a file is named by <participantId>/<YYYYMMDD>/<file name>; path separators, `..` and other characters are refused",
        ));
    }
    let apps = apps_for(&shared, &headers).await?;
    let not_found =
        || ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("no file {participant}/{date}/{name}"));
    let Some(app) = apps.into_iter().find(|a| a.acquirer_id == participant) else { return Err(not_found()) };
    let (d, n) = (date.clone(), name.clone());
    let content =
        shared.blocking(move |store| store.recon_file(app.id, &d, &n)).await?.ok_or_else(not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        content,
    )
        .into_response())
}

async fn generate(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let apps = apps_for(&shared, &headers).await?;
    let body = body_json(&body)?;
    let date = match body.get("date") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(plusbox_core::recon::parse_date(text).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("date {text:?} is not YYYYMMDD or YYYY-MM-DD"),
            )
        })?),
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("date must be a string, not {other}"),
            ))
        }
    };
    let worker = Arc::clone(&shared);
    let made = tokio::task::spawn_blocking(move || {
        worker.sync_clock();
        let now = worker.now();
        let mut made = Vec::new();
        match date {
            Some(date) => {
                for app in &apps {
                    made.extend(crate::recon::generate(&worker.store, app, date, now)?);
                }
            }
            None => made.extend(crate::recon::generate_due(&worker.store, now)?),
        }
        Ok::<_, crate::recon::GenerateError>(made)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE", e.to_string()))?;
    match made {
        Ok(files) => Ok(Json(json!({ "files": files })).into_response()),
        Err(crate::recon::GenerateError::Store(error)) => Err(error.into()),
        Err(error) => Err(ApiError::new(StatusCode::CONFLICT, "NOT_DUE", error.to_string())),
    }
}
