//! The companion API under `/app/v1/`.

use std::sync::Arc;

use axum::Router;

use crate::Shared;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
}
