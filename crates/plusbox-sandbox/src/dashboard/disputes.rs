//! The dashboard's dispute API (alipayplus-api.md §13.3), behind the admin session: the TSP lists
//! disputes, reads one, starts a retrieval or escalation against a recorded payment, and closes an
//! open dispute. The same rules as `plusbox dispute` (store/disputes.rs); a refusal is
//! `422 {code, message}` with the code naming the rule.
//!
//! - `GET disputes` → `{disputes: [...]}`, newest first
//! - `GET disputes/{disputeRequestId}` → the dispute
//! - `POST disputes` `{"kind": "retrieval"|"escalation", "payment": id, "reason"?, "amount"?: "12.00 USD"}`
//!   → `201` the dispute (its initiate call queued)
//! - `POST disputes/{disputeRequestId}/close` → the dispute, `CLOSED`

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{DashError, DashResult, Dashboard};
use crate::store::{DisputeInput, DisputeKind, DisputeRefusal};

/// Largest start body read.
const START_BODY_MAX: usize = 4096;

pub(super) fn router() -> Router<Arc<Dashboard>> {
    Router::new()
        .route("/disputes", get(list).post(start))
        .route("/disputes/{id}", get(show))
        .route("/disputes/{id}/close", post(close))
}

/// A `POST disputes` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Start {
    kind: String,
    payment: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    amount: Option<String>,
}

fn refused(refusal: DisputeRefusal) -> DashError {
    DashError::new(StatusCode::UNPROCESSABLE_ENTITY, refusal.code, refusal.message)
}

fn id_param(id: Result<Path<String>, PathRejection>) -> Result<String, DashError> {
    id.map(|Path(id)| id).map_err(|e| DashError::invalid(format!("the dispute id in the path: {e}")))
}

/// `GET disputes`.
async fn list(State(dash): State<Arc<Dashboard>>, headers: HeaderMap) -> DashResult {
    dash.require(&headers).await?;
    let now = dash.shared.now();
    let disputes = dash.store(move |store| store.disputes(None, now)).await?;
    Ok(Json(json!({"disputes": disputes})).into_response())
}

/// `GET disputes/{id}`.
async fn show(
    State(dash): State<Arc<Dashboard>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> DashResult {
    dash.require(&headers).await?;
    let id = id_param(id)?;
    let now = dash.shared.now();
    let asked = id.clone();
    let dispute = dash
        .store(move |store| store.dispute(&asked, now))
        .await?
        .ok_or_else(|| DashError::not_found(format!("no dispute {id}")))?;
    Ok(Json(dispute).into_response())
}

/// `POST disputes`.
async fn start(State(dash): State<Arc<Dashboard>>, headers: HeaderMap, body: Bytes) -> DashResult {
    dash.require(&headers).await?;
    if body.len() > START_BODY_MAX {
        return Err(DashError::invalid(format!("the body is over {START_BODY_MAX} bytes")));
    }
    let start: Start = serde_json::from_slice(&body).map_err(|e| {
        DashError::invalid(format!(
            "the body is not {{\"kind\": \"retrieval\"|\"escalation\", \"payment\": id, \"reason\"?, \"amount\"?}}: {e}"
        ))
    })?;
    let kind = match start.kind.as_str() {
        "retrieval" => DisputeKind::Retrieval,
        "escalation" => DisputeKind::Escalation,
        other => return Err(DashError::invalid(format!("kind {other:?}: retrieval or escalation"))),
    };
    let amount = start
        .amount
        .as_deref()
        .map(|text| {
            text.parse::<plusbox_core::money::Amount>()
                .map_err(|e| DashError::invalid(format!("amount {text:?}: {e} (write e.g. \"12.00 USD\")")))
        })
        .transpose()?;
    let input = DisputeInput { kind, payment: start.payment, reason: start.reason, amount };
    let now = dash.shared.now();
    let opened = dash.store(move |store| store.open_dispute(&input, now)).await?.map_err(refused)?;
    dash.shared.changed();
    Ok((StatusCode::CREATED, Json(opened)).into_response())
}

/// `POST disputes/{id}/close`.
async fn close(
    State(dash): State<Arc<Dashboard>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> DashResult {
    dash.require(&headers).await?;
    let id = id_param(id)?;
    let now = dash.shared.now();
    let closed = dash.store(move |store| store.close_dispute(&id, now)).await?.map_err(refused)?;
    Ok(Json(closed).into_response())
}
