//! The TSP dashboard's server side under `/dashboard/api/` (the document itself, `/dashboard`,
//! is the UI build's, served by `plusbox-ui`): the admin login, the results of every invited
//! merchant (matrix, runs, a run's detail, its diagram and photos, CSV export), the traffic
//! monitor, a live event stream, and the disputes the TSP starts (`disputes`, §13.3). Everything is JSON (`{code, message}` on errors) and
//! everything but `session`, `login` and `logout` needs the admin session cookie.
//!
//! - **Password**: one admin password, set with `plusbox admin set-password`, stored as an
//!   Argon2id PHC string ([`hash_admin_password`]); the comparison is argon2's (constant time).
//! - **Session**: a random token in an `HttpOnly; SameSite=Strict; Path=/dashboard` cookie
//!   (`Secure` over TLS), stored only as its SHA-256, valid for
//!   [`crate::store::ADMIN_SESSION_TTL`]. Setting the password again ends every session.
//! - **Rate limit**: failed logins are counted per client address and over all addresses
//!   (`store::LOGIN_FAILURES_*`); over a limit every login — even with the right password — is
//!   refused `429 TOO_MANY_ATTEMPTS` with `Retry-After`. One password check runs at a time, so
//!   concurrent guesses cannot slip past the count (and cannot pile up Argon2's memory).
//! - **Time**: sessions and the rate limit run on real time (the configured clock without the
//!   sandbox's stored jump), so a test run jumping the sandbox clock neither logs the admin out
//!   nor resets the limit; results and traffic are shown on the sandbox clock they were made on.

mod disputes;
mod monitor;
mod results;

use std::net::SocketAddr;
use std::sync::Arc;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use plusbox_core::secret::SecretString;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::clock::SharedClock;
use crate::store::{LoginGate, StoreError};
use crate::Shared;

/// Draws a stored run's sequence diagram (SVG) from its `RunResult` JSON. The CLI passes the
/// companion's (`plusbox_companion::diagram::run_result_svg`): the sandbox does not depend on
/// the companion.
pub type DiagramFn = Arc<dyn Fn(&Value) -> String + Send + Sync>;

/// Name of the admin session cookie.
pub const SESSION_COOKIE: &str = "plusbox_admin";

/// Shortest admin password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Longest admin password accepted, in bytes (a login body is at most [`LOGIN_BODY_MAX`]).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Largest login request body.
const LOGIN_BODY_MAX: usize = 4096;

/// Why a password cannot be set.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than [`MIN_PASSWORD_CHARS`].
    #[error("the admin password must be at least {MIN_PASSWORD_CHARS} characters long (this one has {0})")]
    TooShort(usize),
    /// Longer than [`MAX_PASSWORD_BYTES`].
    #[error("the admin password must be at most {MAX_PASSWORD_BYTES} bytes long")]
    TooLong,
    /// Only spaces.
    #[error("the admin password must not be blank")]
    Blank,
    /// Argon2 failed (no randomness for the salt, out of memory).
    #[error("cannot hash the admin password: {0}")]
    Hash(String),
}

/// Checks an admin password's length and hashes it with Argon2id (default parameters, a random
/// salt) into a PHC string (`$argon2id$v=19$…`), what [`crate::Store::set_admin_password`] keeps.
pub fn hash_admin_password(password: &SecretString) -> Result<String, PasswordError> {
    let text = password.expose();
    if text.trim().is_empty() {
        return Err(PasswordError::Blank);
    }
    let chars = text.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort(chars));
    }
    if text.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    argon2::Argon2::default()
        .hash_password(text.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// The dashboard's state: the sandbox's, the real-time clock of sessions and the rate limit,
/// and the one-at-a-time password check.
pub(crate) struct Dashboard {
    shared: Arc<Shared>,
    admin_clock: SharedClock,
    verifying: tokio::sync::Semaphore,
}

impl Dashboard {
    fn admin_now(&self) -> OffsetDateTime {
        self.admin_clock.now()
    }

    /// Runs blocking store work off the async threads.
    async fn store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&crate::Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, DashError> {
        Ok(self.shared.blocking(f).await?)
    }

    /// Whether the request carries a live session cookie.
    async fn logged_in(&self, headers: &HeaderMap) -> Result<bool, DashError> {
        let Some(token) = session_token(headers) else { return Ok(false) };
        let now = self.admin_now();
        self.store(move |store| store.admin_session_valid(token.expose(), now)).await
    }

    /// `Ok` with a live session, else `401 LOGIN_REQUIRED`.
    async fn require(&self, headers: &HeaderMap) -> Result<(), DashError> {
        if self.logged_in(headers).await? {
            Ok(())
        } else {
            Err(DashError::new(
                StatusCode::UNAUTHORIZED,
                "LOGIN_REQUIRED",
                "log in to the dashboard first (POST /dashboard/api/login)",
            ))
        }
    }

    /// The cookie attributes: `Secure` when the sandbox serves HTTPS.
    fn cookie(&self, value: &str, max_age: i64) -> String {
        let secure = if self.shared.config.tls.is_some() { "; Secure" } else { "" };
        format!(
            "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/dashboard; Max-Age={max_age}{secure}"
        )
    }
}

/// A dashboard error: `{code, message}` with its status (and `Retry-After` when limited).
#[derive(Debug)]
pub(crate) struct DashError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<i64>,
}

impl DashError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        DashError { status, code, message: message.into(), retry_after: None }
    }

    fn not_found(message: impl Into<String>) -> Self {
        DashError::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    fn invalid(message: impl Into<String>) -> Self {
        DashError::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
    }
}

impl From<StoreError> for DashError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(message) => DashError::not_found(message),
            other => {
                tracing::error!(error = %other, "dashboard store failure");
                DashError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "STORE_UNAVAILABLE",
                    "the sandbox store is unavailable; retry",
                )
            }
        }
    }
}

impl IntoResponse for DashError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, Json(json!({"code": self.code, "message": self.message}))).into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

type DashResult = Result<Response, DashError>;

/// The cookie's token, if the request has one (every `Cookie` header is looked at).
fn session_token(headers: &HeaderMap) -> Option<SecretString> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| SecretString::new(value.to_owned()))
}

/// A new session token: `pbxa_` and 43 random alphanumerics (about 256 bits).
fn new_token() -> SecretString {
    let mut rng = crate::ids::SystemRng::new();
    SecretString::new(format!("pbxa_{}", plusbox_core::codes::random_alphanumeric(&mut rng, 43)))
}

/// The dashboard API, to nest under `/dashboard/api`. `admin_clock` is the real-time clock of
/// sessions and the rate limit (see the module docs).
pub(crate) fn router<S>(shared: Arc<Shared>, admin_clock: SharedClock) -> Router<S> {
    let dash = Arc::new(Dashboard { shared, admin_clock, verifying: tokio::sync::Semaphore::new(1) });
    Router::new()
        .route("/session", get(session))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .merge(results::router())
        .merge(monitor::router())
        .merge(disputes::router())
        .fallback(fallback)
        .layer(axum::middleware::map_response(finish))
        .with_state(dash)
}

/// Unknown paths: 401 without a session (nothing about the API is told to a stranger), else 404.
async fn fallback(State(dash): State<Arc<Dashboard>>, headers: HeaderMap) -> DashResult {
    dash.require(&headers).await?;
    Err(DashError::not_found("no such dashboard API"))
}

/// Every answer: not cached, not sniffed; axum's own error answers (a wrong method, a body too
/// large) become `{code, message}` JSON too.
async fn finish(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let mut response = if (status.is_client_error() || status.is_server_error()) && !is_json {
        let (code, message) = match status {
            StatusCode::METHOD_NOT_ALLOWED => {
                ("METHOD_NOT_ALLOWED", "this dashboard API does not take that HTTP method")
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("BODY_TOO_LARGE", "the request body is too large"),
            s if s.is_server_error() => ("INTERNAL", "the dashboard failed to answer; retry"),
            _ => ("BAD_REQUEST", "the request is malformed"),
        };
        let (mut parts, _) = response.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Response::from_parts(parts, Body::from(json!({"code": code, "message": message}).to_string()))
    } else {
        response
    };
    let headers = response.headers_mut();
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// `GET session` → `{loggedIn, passwordSet}`.
async fn session(State(dash): State<Arc<Dashboard>>, headers: HeaderMap) -> DashResult {
    let logged_in = dash.logged_in(&headers).await?;
    let password_set = dash.store(|store| store.admin_password_hash()).await?.is_some();
    Ok(Json(json!({"loggedIn": logged_in, "passwordSet": password_set})).into_response())
}

/// The client address a login counts against (the TCP peer; never a header the client sets).
fn client_of(request: &Request) -> String {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn limited(retry_after: time::Duration, global: bool) -> DashError {
    let seconds = retry_after.whole_seconds().max(1);
    let who = if global { "from all addresses" } else { "from this address" };
    let mut error = DashError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_ATTEMPTS",
        format!("too many wrong passwords {who}; try again in {seconds} s"),
    );
    error.retry_after = Some(seconds);
    error
}

/// `POST login {password}` → 204 and the session cookie.
async fn login(State(dash): State<Arc<Dashboard>>, request: Request) -> DashResult {
    let client = client_of(&request);
    let body = axum::body::to_bytes(request.into_body(), LOGIN_BODY_MAX).await.map_err(|_| {
        DashError::invalid(format!("the login body must be JSON of at most {LOGIN_BODY_MAX} bytes"))
    })?;
    let password = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("password").and_then(Value::as_str).map(str::to_owned))
        .map(SecretString::new)
        .ok_or_else(|| DashError::invalid("send {\"password\": \"…\"} as JSON"))?;
    let gate = |dash: Arc<Dashboard>, client: String| async move {
        let now = dash.admin_now();
        match dash.store(move |store| store.admin_login_gate(&client, now)).await? {
            LoginGate::Open => Ok(()),
            LoginGate::Limited { retry_after, global } => Err(limited(retry_after, global)),
        }
    };
    gate(Arc::clone(&dash), client.clone()).await?;
    let Some(phc) = dash.store(|store| store.admin_password_hash()).await? else {
        return Err(DashError::new(
            StatusCode::CONFLICT,
            "NO_ADMIN_PASSWORD",
            "no admin password is set; run `plusbox admin set-password --data <dir>` on the sandbox's machine",
        ));
    };
    let _turn = dash.verifying.acquire().await.map_err(|_| {
        DashError::new(StatusCode::SERVICE_UNAVAILABLE, "SHUTTING_DOWN", "the sandbox is stopping")
    })?;
    // Counted again in our turn: guesses that queued behind each other see each other's failures.
    gate(Arc::clone(&dash), client.clone()).await?;
    let checked = tokio::task::spawn_blocking(move || {
        argon2::Argon2::default().verify_password(password.expose().as_bytes(), phc.as_str())
    })
    .await
    .map_err(|_| {
        DashError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "STORE_UNAVAILABLE",
            "the password check failed; retry",
        )
    })?;
    let now = dash.admin_now();
    match checked {
        Ok(()) => {
            let token = new_token();
            let stored = SecretString::new(token.expose().to_owned());
            dash.store(move |store| store.create_admin_session(stored.expose(), &client, now)).await?;
            tracing::info!("dashboard admin logged in");
            let max_age = crate::store::ADMIN_SESSION_TTL.whole_seconds();
            let cookie = dash.cookie(token.expose(), max_age);
            let mut response = StatusCode::NO_CONTENT.into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            Ok(response)
        }
        Err(argon2::password_hash::Error::PasswordInvalid) => {
            let who = client.clone();
            dash.store(move |store| store.record_admin_login_failure(&who, now)).await?;
            tracing::warn!(client = %client, "dashboard login with a wrong password");
            Err(DashError::new(StatusCode::UNAUTHORIZED, "WRONG_PASSWORD", "wrong password"))
        }
        Err(error) => {
            tracing::error!(%error, "the stored admin password hash cannot be used");
            Err(DashError::new(
                StatusCode::CONFLICT,
                "NO_ADMIN_PASSWORD",
                "the stored admin password cannot be read; set it again with `plusbox admin set-password`",
            ))
        }
    }
}

/// `POST logout` → 204; the session (if any) ends and the cookie is cleared.
async fn logout(State(dash): State<Arc<Dashboard>>, headers: HeaderMap) -> DashResult {
    if let Some(token) = session_token(&headers) {
        dash.store(move |store| store.end_admin_session(token.expose())).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&dash.cookie("", 0)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// Unix milliseconds as an RFC 3339 instant (UTC).
pub(crate) fn rfc3339(ms: i64) -> String {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Milliseconds of an instant (saturating).
pub(crate) fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_password_is_hashed_to_an_argon2id_phc_string_that_verifies() {
        let phc = hash_admin_password(&SecretString::new("correct horse battery".into())).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        let argon = argon2::Argon2::default();
        assert!(argon.verify_password(b"correct horse battery", phc.as_str()).is_ok());
        assert!(matches!(
            argon.verify_password(b"correct horse batterY", phc.as_str()),
            Err(argon2::password_hash::Error::PasswordInvalid)
        ));
    }

    #[test]
    fn short_blank_and_huge_passwords_are_refused_by_name() {
        let short = hash_admin_password(&SecretString::new("elevenchars".into())).unwrap_err();
        assert!(short.to_string().contains("at least 12"), "{short}");
        assert!(matches!(hash_admin_password(&SecretString::new(" ".repeat(20))), Err(PasswordError::Blank)));
        assert!(matches!(
            hash_admin_password(&SecretString::new("x".repeat(2000))),
            Err(PasswordError::TooLong)
        ));
    }

    proptest! {
        #[test]
        fn any_cookie_header_gives_at_most_our_cookie_and_never_panics(text in ".{0,200}") {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(&text) {
                headers.insert(header::COOKIE, value);
            }
            if let Some(token) = session_token(&headers) {
                let pair = format!("{}={}", SESSION_COOKIE, token.expose());
                prop_assert!(text.contains(&pair), "{} not in {}", pair, text);
            }
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; plusbox_admin_x=2"));
        headers.append(header::COOKIE, HeaderValue::from_static("b=3;plusbox_admin=pbxa_abc ; c=4"));
        assert_eq!(session_token(&headers).map(|t| t.expose().to_owned()), Some("pbxa_abc".into()));
        headers.clear();
        headers.insert(header::COOKIE, HeaderValue::from_static("plusbox_admin="));
        assert!(session_token(&headers).is_none());
    }
}
