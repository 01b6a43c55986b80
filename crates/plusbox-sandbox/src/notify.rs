//! The background worker: closes expired payments, finishes due registration reviews, and
//! delivers `notifyPayment`, `notifyRegistrationStatus`, `initiateRetrieval` and
//! `initiateEscalation` from the persisted outbox on the retry schedule of alipayplus-api.md §10
//! (the same schedule for all: §13.1 and §13.3 publish none), each signed and its
//! acknowledgement verified.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use plusbox_core::signing::{MessageParts, PublicKey, SignatureHeader};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::store::{OutboxItem, TrafficRecord};
use crate::Shared;
use plusbox_core::protocol::time::format_instant;

/// Largest acknowledgement body read.
const MAX_ACK_BYTES: usize = 64 * 1024;

pub(crate) async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let client = match reqwest::Client::builder()
        .timeout(shared.config.notify_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the HTTP client; notifications are disabled");
            return;
        }
    };
    let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now = shared.now();
        let work = shared
            .blocking(move |store| {
                store.expire_due(now)?;
                store.resolve_registrations(now)?;
                store.due_notifications(now, 64)
            })
            .await;
        match work {
            Ok(items) => {
                for item in items {
                    let fresh = in_flight.lock().unwrap_or_else(|e| e.into_inner()).insert(item.id);
                    if !fresh {
                        continue;
                    }
                    let shared = Arc::clone(&shared);
                    let client = client.clone();
                    let in_flight = Arc::clone(&in_flight);
                    tokio::spawn(async move {
                        let id = item.id;
                        deliver(&shared, &client, item).await;
                        in_flight.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                        shared.wake.notify_one();
                    });
                }
            }
            Err(error) => tracing::error!(%error, "outbox scan failed"),
        }
        let next = shared.blocking(|store| store.next_wakeup()).await.ok().flatten();
        let now = shared.now();
        let clock_wait = match next {
            Some(at) if at > now => shared.config.clock.sleep_until(at),
            // Due now but in flight (or nothing due): wait for a wake-up or the poll.
            _ => Box::pin(std::future::pending()),
        };
        tokio::select! {
            _ = clock_wait => {}
            _ = shared.wake.notified() => {}
            // Other processes (the CLI) change the database too; look again now and then.
            _ = tokio::time::sleep(shared.config.poll_interval) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// The notify URL as it goes on the wire, and its Request-URI (path and query, what the ACQP
/// sees and verifies, §1.5). Parsed once with the WHATWG rules the HTTP client uses — dot
/// segments resolved, non-ASCII percent-encoded, the fragment dropped — so the signature covers
/// exactly the request-target that is sent.
pub(crate) fn wire_url(configured: &str) -> Result<(reqwest::Url, String), String> {
    let mut url = reqwest::Url::parse(configured)
        .map_err(|e| format!("the notify URL {configured:?} is not a URL: {e}"))?;
    url.set_fragment(None);
    let target = url[url::Position::BeforePath..url::Position::AfterQuery].to_string();
    Ok((url, target))
}

async fn deliver(shared: &Arc<Shared>, client: &reqwest::Client, item: OutboxItem) {
    let started = Instant::now();
    let at = shared.now();
    let app_id = item.app_id;
    let (id, attempts) = (item.id, item.attempts);
    let keys = shared
        .blocking(move |store| {
            if !store.still_due(id, attempts)? {
                return Ok((None, None));
            }
            let app = store.app_by_id(app_id)?;
            let acqp = store.acqp_key(app_id, None)?;
            Ok((app, acqp))
        })
        .await;
    let (app, acqp_key) = match keys {
        Ok((Some(app), key)) => (app, key),
        // Already handled by a concurrent attempt, or the application is gone.
        Ok((None, _)) | Err(_) => return,
    };
    let (url, uri) = match wire_url(&item.url) {
        Ok(parsed) => parsed,
        Err(error) => {
            // Validated when configured; an old or hand-edited row: give up on it, say why.
            let now = shared.now();
            let id = item.id;
            let _ = shared.blocking(move |store| store.record_attempt(id, false, Some(&error), now)).await;
            return;
        }
    };
    let request_time = format_instant(shared.now());
    let signature = shared
        .private_key(app.sandbox_private_key.expose())
        .map_err(crate::store::StoreError::from)
        .and_then(|key| {
            let parts = MessageParts {
                method: "POST",
                uri: &uri,
                client_id: &app.client_id,
                time: &request_time,
                body: item.body.as_bytes(),
            };
            Ok(key.sign_message(&parts, Some(app.sandbox_key_version))?)
        });
    let signature = match signature {
        Ok(signature) => signature,
        Err(error) => {
            tracing::error!(%error, "cannot sign a notification");
            return;
        }
    };
    let request_headers = vec![
        ("content-type".to_string(), "application/json; charset=UTF-8".to_string()),
        ("client-id".to_string(), app.client_id.clone()),
        ("request-time".to_string(), request_time.clone()),
        ("signature".to_string(), signature.clone()),
    ];
    let mut record = TrafficRecord {
        at: Some(at),
        direction: "outbound",
        api: item.api.clone(),
        client_id: Some(app.client_id.clone()),
        payment_request_id: item.payment_request_id.clone(),
        payment_id: item.payment_id.clone(),
        method: "POST".into(),
        uri: url.to_string(),
        request_headers: request_headers.clone(),
        request_body: item.body.clone().into_bytes(),
        signature: "not-checked".into(),
        ..TrafficRecord::default()
    };
    let mut builder = client.post(url);
    for (name, value) in &request_headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let sent = builder.body(item.body.clone()).send().await;
    let (acknowledged, error) = match sent {
        Err(error) => (false, Some(format!("no answer: {error}"))),
        Ok(response) => {
            let status = response.status().as_u16();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            let recorded: Vec<(String, String)> =
                headers.iter().map(|(n, v)| (n.clone(), crate::text::mask_header(n, v))).collect();
            let body = read_limited(response).await;
            record.response_status = Some(status);
            record.response_headers = recorded;
            record.response_body = body.clone();
            judge_ack(shared, &mut record, &app.client_id, &uri, acqp_key, status, &headers, &body)
        }
    };
    record.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        api = %item.api,
        ack = record.result_code.as_deref().unwrap_or("-"),
        acknowledged,
        ms = format_args!("{:.1}", record.duration_ms),
        payment_request_id = %crate::text::for_log(item.payment_request_id.as_deref().unwrap_or("-")),
        "notification attempt"
    );
    let now = shared.now();
    let id = item.id;
    let error_for_store = error.clone();
    let api = item.api.clone();
    let result = shared
        .blocking(move |store| {
            let status = store.record_attempt(id, acknowledged, error_for_store.as_deref(), now)?;
            if acknowledged && api.starts_with("initiate") {
                // initiateRetrieval / initiateEscalation: the dispute records the signed ack.
                store.dispute_acknowledged(id, now)?;
            }
            record.note = Some(match &error_for_store {
                None => format!("acknowledged; outbox status {status}"),
                Some(e) => format!("not acknowledged ({e}); outbox status {status}"),
            });
            store.record_traffic(&record)?;
            Ok(status)
        })
        .await;
    if let Err(error) = result {
        tracing::error!(%error, "cannot record a notification attempt");
    }
}

async fn read_limited(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ACK_BYTES {
            body.truncate(MAX_ACK_BYTES);
            break;
        }
    }
    body
}

/// Decides whether an answer acknowledges the notification (§10): HTTP 200, a parsable body with
/// `result.resultStatus = "S"`, and a valid signature by the ACQP's key.
#[allow(clippy::too_many_arguments)]
fn judge_ack(
    shared: &Arc<Shared>,
    record: &mut TrafficRecord,
    app_client_id: &str,
    uri: &str,
    acqp_key: Option<(u32, String)>,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> (bool, Option<String>) {
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let result_status = parsed
        .as_ref()
        .and_then(|v| v.get("result"))
        .and_then(|r| r.get("resultStatus"))
        .and_then(Value::as_str)
        .map(str::to_string);
    record.result_status = result_status.clone();
    record.result_code = parsed
        .as_ref()
        .and_then(|v| v.get("result"))
        .and_then(|r| r.get("resultCode"))
        .and_then(Value::as_str)
        .map(str::to_string);
    // The ack's signature: Client-Id from its header (else the application's), Response-Time.
    let signature_ok = match (find("signature"), acqp_key) {
        (None, _) => {
            record.signature = "missing".into();
            false
        }
        (Some(_), None) => {
            record.signature = "not-checked".into();
            record.findings.push(json!({"kind": "no-acqp-key", "detail": "no ACQP public key is configured, so the acknowledgement signature cannot be verified"}));
            false
        }
        (Some(header), Some((_, key))) => {
            let client_id = find("client-id").unwrap_or_else(|| app_client_id.to_string());
            let response_time = find("response-time").unwrap_or_default();
            let parts =
                MessageParts { method: "POST", uri, client_id: &client_id, time: &response_time, body };
            let verdict = PublicKey::parse(&key).and_then(|k| {
                let parsed = SignatureHeader::parse(&header)?;
                k.verify(&parts.content(), &parsed.signature)?;
                Ok(parsed)
            });
            match verdict {
                Ok(parsed) => {
                    record.signature = "valid".into();
                    for leniency in parsed.leniencies {
                        record.findings.push(json!({"kind": "signature-leniency", "path": "header.signature", "detail": format!("{leniency:?}")}));
                    }
                    true
                }
                Err(error) => {
                    record.signature = "invalid".into();
                    record.findings.push(json!({
                        "kind": "content-to-sign",
                        "path": "header.signature",
                        "detail": String::from_utf8_lossy(&parts.content()),
                        "error": error.to_string(),
                    }));
                    false
                }
            }
        }
    };
    if status != 200 {
        return (false, Some(format!("HTTP {status}")));
    }
    if result_status.as_deref() != Some("S") {
        return (false, Some("the acknowledgement's result.resultStatus is not S".into()));
    }
    if !signature_ok {
        if shared.config.lenient_ack_signature {
            record.findings.push(json!({"kind": "ack-signature-accepted-leniently", "detail": "accepted without a valid signature (lenient setting)"}));
            return (true, None);
        }
        return (false, Some(format!("acknowledgement signature {}", record.signature)));
    }
    (true, None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::wire_url;

    #[test]
    fn the_signed_target_is_the_normalized_path_and_query() {
        let target = |url: &str| wire_url(url).unwrap().1;
        assert_eq!(target("https://acqp.example/notify"), "/notify");
        assert_eq!(target("http://h:1/a/b?x=1"), "/a/b?x=1");
        assert_eq!(target("http://h:1"), "/");
        assert_eq!(target("http://h:1?via=q"), "/?via=q");
        assert_eq!(target("http://h:1/a/../notify#frag"), "/notify");
        assert_eq!(target("http://h:1/n\u{f6}tify?x=\u{e4}"), "/n%C3%B6tify?x=%C3%A4");
    }
}
