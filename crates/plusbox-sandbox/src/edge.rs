//! The app edge's error shape: every error answer under `/app/v1` is `{code, message}` JSON, the
//! ones axum makes itself included — a wrong method (405), a body over the limit (413), a body
//! that is not readable (400), an unsupported media type (415) — so the UI can branch on `code`.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

/// Largest framework error text kept as the message.
const MESSAGE_MAX: usize = 4096;

/// Turns a non-JSON error response into `{code, message}` JSON, keeping its status and, as the
/// message, the text axum gave (e.g. "Failed to buffer the request body: length limit exceeded").
pub(crate) async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MESSAGE_MAX).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let (code, fallback) = describe(status);
    let message = if text.is_empty() { fallback.to_string() } else { text };
    let body = serde_json::json!({"code": code, "message": message}).to_string();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// The `code` for a status, and a message for when the framework gave none.
fn describe(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            ("METHOD_NOT_ALLOWED", "this companion API does not take that HTTP method; see the Allow header")
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("BODY_TOO_LARGE", "the request body is larger than this API accepts")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("UNSUPPORTED_MEDIA_TYPE", "send the body as application/json"),
        StatusCode::NOT_FOUND => ("NOT_FOUND", "no such companion API"),
        StatusCode::UNAUTHORIZED => ("UNAUTHORIZED", "send Authorization: Bearer <device token>"),
        StatusCode::UNPROCESSABLE_ENTITY => ("BAD_REQUEST", "the request could not be processed"),
        s if s.is_server_error() => ("INTERNAL", "the sandbox failed to answer; retry"),
        _ => ("BAD_REQUEST", "the request is malformed"),
    }
}
