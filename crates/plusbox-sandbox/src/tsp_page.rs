//! The page behind a TSP authorization URL (`GET /tsp/authorize/{id}`, alipayplus-api.md §14):
//! what the ACQP sees when it opens the link the TSP sent. In Developer Center the ACQP logs in
//! and clicks Authorize; the sandbox has no ACQP login, so the page shows the request (TSP scope,
//! application, status) and the command that authorizes it on the sandbox's machine, and never
//! the Agent-Token (that is the TSP's to read with `plusbox tsp list`). Without this page a
//! browser opening the link fell through to the Alipay+ gateway and was logged as a failed call.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::cashier::{escape, html, page_shell};
use crate::store::StoreError;
use crate::Shared;

fn page(title: &str, inner: &str) -> String {
    page_shell("Alipay+ Developer Center", "Developer Center · sandbox", title, inner)
}

/// `GET /tsp/authorize/{id}`.
pub(crate) async fn authorization(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let asked = id.clone();
    let found = shared
        .blocking(move |store| match crate::store::authorization_id_of(&id) {
            Ok(id) => store.tsp_authorization(&id).map(Some),
            Err(_) => Ok(None),
        })
        .await;
    let authorization = match found {
        Ok(Some(authorization)) => authorization,
        Ok(None) | Err(StoreError::NotFound(_)) => {
            let inner = format!(
                "<h1 id=\"result\">No such authorization</h1><p id=\"detail\">This sandbox made no authorization <code>{}</code>. Ask the TSP for a new link (<code>plusbox tsp authorize-url</code>).</p>",
                escape(&asked)
            );
            return html(StatusCode::NOT_FOUND, &page("No such authorization", &inner));
        }
        Err(error) => {
            tracing::error!(%error, "TSP authorization page failed");
            let inner = "<h1 id=\"result\">Try again</h1><p id=\"detail\">The sandbox store is unavailable; reload the page.</p>";
            return html(StatusCode::SERVICE_UNAVAILABLE, &page("Try again", inner));
        }
    };
    let products: Vec<&str> = authorization.products.iter().map(|p| p.as_str()).collect();
    let next = match authorization.status.as_str() {
        "PENDING" => format!(
            "<p>To authorize, as the ACQP, run on the sandbox's machine:</p><pre id=\"command\"><code>plusbox tsp authorize {}</code></pre><p>The TSP then finds its Agent-Token with <code>plusbox tsp list</code>.</p>",
            escape(&authorization.authorization_id)
        ),
        "ACTIVE" => "<p>Authorized. The TSP finds its Agent-Token with <code>plusbox tsp list</code>; <code>plusbox tsp cancel</code> withdraws it.</p>".to_string(),
        _ => "<p>This authorization was cancelled; its Agent-Token is refused with <code>ACCESS_DENIED</code>. Ask the TSP for a new link.</p>".to_string(),
    };
    let inner = format!(
        "<h1>Authorize a TSP</h1><p>A TSP asks to call Alipay+ on behalf of this ACQP application.</p><dl><dt>Application</dt><dd id=\"app\">{app} (<code>{client}</code>)</dd><dt>Products</dt><dd id=\"products\">{products}</dd><dt>Status</dt><dd id=\"status\">{status}</dd><dt>Requested</dt><dd>{created}</dd></dl>{next}",
        app = escape(&authorization.app_name),
        client = escape(&authorization.client_id),
        products = escape(&products.join(", ").to_uppercase()),
        status = escape(authorization.display_status),
        created = escape(&authorization.created_at),
    );
    html(StatusCode::OK, &page("Authorize a TSP", &inner))
}
