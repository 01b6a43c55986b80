//! The companion's live pending list (`/app/v1/pending/stream`), rendered once per change and
//! shared by every subscriber: one database read and one JSON rendering per change, whatever
//! the number of phones and dashboards listening, instead of one per subscriber.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use crate::Shared;

/// Renders at most this often, so a burst of pays costs one read, not one per pay.
const MIN_GAP: Duration = Duration::from_millis(50);

/// How often the list is rendered even without a change signal: payments expire with time, and
/// the CLI changes the database from another process.
const REFRESH: Duration = Duration::from_secs(1);

/// The shared rendering as one scoped subscriber may see it: only the entries of JSON array
/// `list` whose `key` is `own` (a device tied to one buyer sees that buyer's payments only).
/// Unscoped subscribers get the shared text as it is.
pub(crate) fn only_buyer(list: &str, key: &str, own: Option<&str>) -> String {
    let Some(own) = own else { return list.to_owned() };
    let mut entries: Vec<serde_json::Value> = serde_json::from_str(list).unwrap_or_default();
    entries.retain(|entry| entry.get(key).and_then(serde_json::Value::as_str) == Some(own));
    serde_json::to_string(&entries).unwrap_or_else(|_| "[]".into())
}

/// Whether a payment-change event (JSON object with `key`) belongs to `own` (always, unscoped).
pub(crate) fn is_buyers(event: &str, key: &str, own: Option<&str>) -> bool {
    let Some(own) = own else { return true };
    serde_json::from_str::<serde_json::Value>(event)
        .ok()
        .is_some_and(|entry| entry.get(key).and_then(serde_json::Value::as_str) == Some(own))
}

/// The pending list now, as the JSON text an SSE `pending` event carries.
pub(crate) async fn render_now(shared: &Arc<Shared>) -> Arc<str> {
    let now = shared.now();
    let text = shared
        .blocking(move |store| store.pending(now))
        .await
        .map(|list| serde_json::to_string(&list).unwrap_or_else(|_| "[]".into()))
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot read the pending list for live subscribers");
            "[]".into()
        });
    Arc::from(text)
}

/// Keeps [`Shared::pending_feed`] current while anyone listens, until shutdown.
pub(crate) async fn render(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut changes = shared.changes.subscribe();
    loop {
        tokio::select! {
            received = changes.recv() => {
                if matches!(received, Err(broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            _ = tokio::time::sleep(REFRESH) => {}
            _ = shutdown.wait_for(|stopped| *stopped) => return,
        }
        if shared.pending_feed.receiver_count() == 0 {
            continue;
        }
        // Let a burst finish, then take every signal it left as one.
        tokio::time::sleep(MIN_GAP).await;
        while !matches!(
            changes.try_recv(),
            Err(broadcast::error::TryRecvError::Empty | broadcast::error::TryRecvError::Closed)
        ) {}
        let text = render_now(&shared).await;
        shared.pending_feed.send_if_modified(|current| {
            if current.as_deref() == Some(&*text) {
                return false;
            }
            *current = Some(text);
            true
        });
    }
}
