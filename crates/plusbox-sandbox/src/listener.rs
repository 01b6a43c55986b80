//! The HTTP listener for everything served on the sandbox's port (the Alipay+ API, the companion
//! API and any routes the CLI adds): hyper's HTTP/1.1 connection with a header-read timeout, an
//! idle timeout, a cap on open connections and optional TLS.
//!
//! - **Header timeout** (hyper's `header_read_timeout`): a request head must arrive in full
//!   within this time of the connection becoming ready for one — a client sending headers a byte
//!   at a time, or holding a keep-alive connection open without a request, is closed.
//! - **Idle timeout**: a connection on which no byte moved for this long while no request is
//!   being handled is shut down (gracefully; after a second idle period, dropped). A handler that
//!   is still working (`slow:N`, `no-answer`) keeps its connection; a response the client stops
//!   reading does not.
//! - **Connection cap**: a semaphore permit per open connection; at the cap the listener stops
//!   accepting (new connections wait in the kernel backlog) until one closes.
//! - **TLS**: a rustls handshake that must also finish within the header timeout.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// The listener's limits (from [`crate::SandboxConfig`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) header_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connections: usize,
}

/// Accepts connections until `stop` turns true, then lets open connections finish their
/// in-flight requests and returns once every connection is closed.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    let max = limits.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max));
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stop.wait_for(|stopped| *stopped) => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stopped| *stopped) => break,
        };
        let stream = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors (or a similar transient failure): keep serving the
                // connections we have and try again shortly, as hyper's own examples do.
                tracing::warn!(%error, "cannot accept a connection; retrying shortly");
                drop(permit);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                    _ = stop.wait_for(|stopped| *stopped) => break,
                }
                continue;
            }
        };
        let (stream, peer) = stream;
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let tls = tls.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            connection(stream, peer, router, limits, tls, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    // Every connection holds a permit until it closes: having them all back means all are done.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    router: Router,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = Tracked { inner: stream, activity: Arc::clone(&activity) };
    match tls {
        None => http(io, peer, router, limits, activity, stop).await,
        Some(acceptor) => match tokio::time::timeout(limits.header_timeout, acceptor.accept(io)).await {
            Ok(Ok(stream)) => http(stream, peer, router, limits, activity, stop).await,
            Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
            Err(_) => tracing::debug!("TLS handshake timed out"),
        },
    }
}

/// Serves HTTP/1.1 on one connection under the limits (see the module docs).
async fn http<I>(
    io: I,
    peer: std::net::SocketAddr,
    router: Router,
    limits: Limits,
    activity: Arc<Activity>,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let requests = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let router = router.clone();
        let busy = requests.begin();
        async move {
            // The TCP peer, as axum's `ConnectInfo` gives it: the companion decides "loopback"
            // (pairing without ceremony) from this, never from anything the client says.
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            let response = router.oneshot(request).await;
            drop(busy);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let stopped = async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    tokio::pin!(stopped);
    let mut closing = false;
    let mut idle_strikes = 0;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection closed with an error");
                }
                return;
            }
            () = &mut stopped, if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            () = activity.idle(limits.idle_timeout) => {
                idle_strikes += 1;
                if idle_strikes > 1 {
                    // Graceful shutdown did not finish (a client that stopped reading): drop it.
                    tracing::debug!("closing a connection that stayed idle after shutdown");
                    return;
                }
                conn.as_mut().graceful_shutdown();
                closing = true;
                // The second idle period starts now.
                activity.touch();
            }
        }
    }
}

/// When bytes last moved on a connection, and how many of its requests are being handled.
struct Activity {
    origin: Instant,
    last_ms: AtomicU64,
    busy: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity { origin: Instant::now(), last_ms: AtomicU64::new(0), busy: AtomicUsize::new(0) }
    }

    fn touch(&self) {
        let now = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(now, Ordering::Relaxed);
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::SeqCst);
        self.touch();
        Busy(Arc::clone(self))
    }

    /// Resolves once nothing has moved for `limit` while no request was being handled.
    async fn idle(&self, limit: Duration) {
        loop {
            let now = self.origin.elapsed();
            let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let quiet = now.saturating_sub(last);
            if quiet >= limit && self.busy.load(Ordering::SeqCst) == 0 {
                return;
            }
            let wait = if quiet >= limit { limit } else { limit - quiet };
            tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
        }
    }
}

/// A request being handled; dropping it ends the request.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A stream that records when bytes moved (see [`Activity`]).
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
