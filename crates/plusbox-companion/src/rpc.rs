//! `/rpc/<command>` for browsers: the companion commands over HTTP, mounted by `plusbox serve`
//! beside the sandbox. Each request runs its command with a host whose device token comes from
//! the HttpOnly, SameSite=Strict cookie `plusbox_device` (or `Authorization: Bearer`), whose
//! loopback flag comes from the TCP peer address, and whose client reaches the sandbox through
//! the companion API at the sandbox's own loopback URL. `GET /rpc/events` relays the live
//! events as server-sent events. Every error is `{code, message}` JSON with a fitting status.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use futures_util::Stream;
use plusbox_core::secret::SecretString;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::commands::{self, CompanionEvent};
use crate::error::{CommandError, ErrorCode};
use crate::host::Host;
use crate::runs::Runs;

/// The device cookie's name.
pub const COOKIE: &str = "plusbox_device";

/// Largest `/rpc` request body (a Base64 photo of [`commands::MAX_IMAGE_BYTES`] fits).
pub const MAX_BODY: usize = commands::MAX_IMAGE_BYTES / 3 * 4 + 64 * 1024;

/// How long the device cookie lives (a year; revoking the device ends it sooner).
const COOKIE_MAX_AGE: u32 = 365 * 24 * 3600;

/// The `/rpc` endpoint: shared by every request.
#[derive(Clone)]
pub struct Rpc {
    inner: Arc<Inner>,
}

struct Inner {
    sandbox_url: RwLock<Option<String>>,
    http: reqwest::Client,
    secure_cookie: bool,
    data_dir: Option<PathBuf>,
    runs: Runs,
}

impl std::fmt::Debug for Rpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rpc").field("secure_cookie", &self.inner.secure_cookie).finish_non_exhaustive()
    }
}

impl Rpc {
    /// An endpoint whose sandbox URL is set later ([`Rpc::set_sandbox_url`]) — the router is
    /// built before the sandbox binds its port. `secure_cookie` marks the cookie `Secure` (HTTPS).
    pub fn new(secure_cookie: bool, data_dir: Option<PathBuf>) -> Result<Rpc, CommandError> {
        let http = crate::client::http_client()?;
        let runs = Runs::open(data_dir.as_deref())?;
        Ok(Rpc {
            inner: Arc::new(Inner { sandbox_url: RwLock::new(None), http, secure_cookie, data_dir, runs }),
        })
    }

    /// For a sandbox served over HTTPS with a self-signed certificate (`plusbox serve --tls`):
    /// the cookie is `Secure`, and the commands' client trusts exactly that certificate (PEM) on
    /// its loopback connection to the sandbox.
    pub fn with_trusted_certificate(data_dir: Option<PathBuf>, cert_pem: &[u8]) -> Result<Rpc, CommandError> {
        let certificate = reqwest::Certificate::from_pem(cert_pem).map_err(|e| {
            CommandError::internal(format!("the sandbox's TLS certificate is unreadable: {e}"))
        })?;
        let http = reqwest::Client::builder()
            .connect_timeout(crate::client::CONNECT_TIMEOUT)
            .add_root_certificate(certificate)
            .build()
            .map_err(|e| CommandError::internal(format!("cannot build the HTTP client: {e}")))?;
        let runs = Runs::open(data_dir.as_deref())?;
        Ok(Rpc {
            inner: Arc::new(Inner {
                sandbox_url: RwLock::new(None),
                http,
                secure_cookie: true,
                data_dir,
                runs,
            }),
        })
    }

    /// The guided runs of this host (its results store and the runs under way).
    pub fn runs(&self) -> Runs {
        self.inner.runs.clone()
    }

    /// Where commands reach the sandbox (its own loopback URL).
    pub fn set_sandbox_url(&self, url: impl Into<String>) {
        *self.inner.sandbox_url.write().unwrap_or_else(|e| e.into_inner()) = Some(url.into());
    }

    /// The router: `GET /rpc/events` and `POST /rpc/{command}`. No fallback, so it merges into
    /// the sandbox's router.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/rpc/events", get(events))
            .route("/rpc/{command}", any(command))
            .with_state(self.clone())
    }

    fn host(&self, headers: &HeaderMap, request_peer: Option<SocketAddr>) -> RpcHost {
        RpcHost {
            sandbox_url: self.inner.sandbox_url.read().unwrap_or_else(|e| e.into_inner()).clone(),
            http: self.inner.http.clone(),
            token: Arc::new(Mutex::new(device_token(headers))),
            token_changed: Arc::new(Mutex::new(false)),
            loopback: request_peer.is_some_and(|peer| peer.ip().is_loopback()),
            data_dir: self.inner.data_dir.clone(),
            runs: self.inner.runs.clone(),
            events: None,
        }
    }
}

/// The host for one browser request.
#[derive(Clone)]
pub struct RpcHost {
    sandbox_url: Option<String>,
    http: reqwest::Client,
    token: Arc<Mutex<Option<SecretString>>>,
    token_changed: Arc<Mutex<bool>>,
    loopback: bool,
    data_dir: Option<PathBuf>,
    runs: Runs,
    events: Option<mpsc::Sender<(&'static str, String)>>,
}

impl Host for RpcHost {
    fn sandbox_url(&self) -> String {
        // Before the sandbox has bound its port nothing listens; an unroutable URL makes every
        // call fail as SANDBOX_UNREACHABLE rather than panic.
        self.sandbox_url.clone().unwrap_or_else(|| "http://127.0.0.1:9".into())
    }

    fn http(&self) -> reqwest::Client {
        self.http.clone()
    }

    fn device_token(&self) -> Option<SecretString> {
        self.token.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn store_device_token(&self, token: Option<SecretString>) {
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = token;
        *self.token_changed.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }

    fn on_loopback(&self) -> bool {
        self.loopback
    }

    fn data_dir(&self) -> Option<PathBuf> {
        self.data_dir.clone()
    }

    fn runs(&self) -> Option<Runs> {
        Some(self.runs.clone())
    }

    fn emit(&self, event: CompanionEvent) {
        if let Some(events) = &self.events {
            // A full or closed channel means the browser is gone or slow; the next `pending`
            // event carries the whole list again, so nothing is lost by dropping this one.
            let _ = events.try_send((event.name(), event.data_json()));
        }
    }
}

/// The token from the `plusbox_device` cookie, else from `Authorization: Bearer` (any case).
fn device_token(headers: &HeaderMap) -> Option<SecretString> {
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty());
    let from_header = || {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.trim_start().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string()).filter(|t| !t.is_empty())
    };
    from_cookie.or_else(from_header).map(SecretString::new)
}

fn peer(request: &Request) -> Option<SocketAddr> {
    request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| *addr)
}

fn error_response(error: &CommandError) -> Response {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response =
        (status, axum::Json(json!({"code": error.code, "message": error.message}))).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn set_cookie(response: &mut Response, token: Option<&SecretString>, secure: bool) {
    let secure = if secure { "; Secure" } else { "" };
    let value = match token {
        Some(token) => format!(
            "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={COOKIE_MAX_AGE}{secure}",
            token.expose()
        ),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// `POST /rpc/{command}`.
async fn command(State(rpc): State<Rpc>, Path(name): Path<String>, request: Request) -> Response {
    if !commands::COMMANDS.contains(&name.as_str()) {
        return error_response(&CommandError::new(
            ErrorCode::NotFound,
            format!("there is no command {name:?}"),
        ));
    }
    if request.method() != Method::POST {
        let mut response = error_response(&CommandError::new(
            ErrorCode::BadRequest,
            format!("{} is not allowed; call commands with POST", request.method()),
        ));
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let host = rpc.host(request.headers(), peer(&request));
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
    // A declared length over the limit is refused before reading a byte of the body.
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let too_long = declared.is_some_and(|length| length > MAX_BODY as u64);
    let body = match axum::body::to_bytes(request.into_body(), if too_long { 0 } else { MAX_BODY }).await {
        Ok(body) if !too_long => body,
        _ => {
            let code = if name.starts_with("scan_") || name == "run_photo" {
                ErrorCode::ImageTooLarge
            } else {
                ErrorCode::BadRequest
            };
            let mut response = error_response(&CommandError::new(
                code,
                format!("the request is larger than {} MB", MAX_BODY / (1024 * 1024)),
            ));
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return response;
        }
    };
    let args = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else if !is_json {
        // Only JSON: a cross-site form cannot send it without a CORS preflight.
        let mut response =
            error_response(&CommandError::bad_request("send the arguments as application/json"));
        *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        return response;
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(value @ (Value::Object(_) | Value::Null)) => value,
            Ok(_) => {
                return error_response(&CommandError::bad_request("the arguments must be a JSON object"))
            }
            Err(e) => {
                return error_response(&CommandError::bad_request(format!("the body is not JSON: {e}")))
            }
        }
    };
    let outcome = commands::dispatch(host.clone(), &name, args).await;
    let mut response = match &outcome {
        Ok(value) => {
            let mut response = axum::Json(value).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => error_response(error),
    };
    if *host.token_changed.lock().unwrap_or_else(|e| e.into_inner()) {
        set_cookie(&mut response, host.device_token().as_ref(), rpc.inner.secure_cookie);
    }
    response
}

/// Aborts the relay task when the browser's stream is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `GET /rpc/events`: the sandbox's live events for this browser.
async fn events(State(rpc): State<Rpc>, request: Request) -> Response {
    let mut host = rpc.host(request.headers(), peer(&request));
    // Refuse an unpaired or revoked browser with a plain error before opening a stream.
    let device = match host.client().session().await {
        Ok(device) => device.id,
        Err(error) => return error_response(&error),
    };
    let (sender, receiver) = mpsc::channel(64);
    host.events = Some(sender.clone());
    // This device's guided runs, from the host's own run registry.
    let mut run_events = rpc.inner.runs.subscribe();
    let run_sender = sender.clone();
    let runs_relay = tokio::spawn(async move {
        loop {
            match run_events.recv().await {
                Ok(event) if event.device == device => {
                    let data = CompanionEvent::Run(Box::new(event.view)).data_json();
                    if run_sender.send(("run", data)).await.is_err() {
                        break;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    // This device's upload queue (a browser's runs are recorded by the sandbox; the events
    // come from a key-holding host sharing this registry, e.g. `plusbox run --device-dir`).
    let mut upload_events = rpc.inner.runs.subscribe_uploads();
    let upload_sender = sender.clone();
    let uploads_relay = tokio::spawn(async move {
        loop {
            match upload_events.recv().await {
                Ok(event) if event.device == device => {
                    let data = CompanionEvent::Upload(Box::new(event.status)).data_json();
                    if upload_sender.send(("upload", data)).await.is_err() {
                        break;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    let relay = tokio::spawn(async move {
        // When the sandbox's stream ends or breaks, say why in an `error` event and end this
        // stream; the browser's EventSource reconnects by itself.
        let error = match commands::watch_events(host).await {
            Ok(()) => CommandError::new(ErrorCode::SandboxUnreachable, "the sandbox closed the event stream"),
            Err(error) => error,
        };
        let data = json!({"code": error.code, "message": error.message}).to_string();
        let _ = sender.send(("error", data)).await;
    });
    let stream =
        relay_stream(receiver, (AbortOnDrop(relay), AbortOnDrop(runs_relay), AbortOnDrop(uploads_relay)));
    let mut response = Sse::new(stream).keep_alive(KeepAlive::default()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn relay_stream(
    receiver: mpsc::Receiver<(&'static str, String)>,
    guard: (AbortOnDrop, AbortOnDrop, AbortOnDrop),
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold((receiver, guard), |(mut receiver, guard)| async move {
        let (name, data) = receiver.recv().await?;
        let ended = name == "error";
        let sse = Event::default().event(name).data(data);
        // After the error event the channel's sender is gone; close the receiver so the next
        // poll ends the stream.
        if ended {
            receiver.close();
        }
        Some((Ok(sse), (receiver, guard)))
    })
}
