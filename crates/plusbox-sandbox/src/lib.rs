//! The Plusbox Alipay+ sandbox: an HTTP server speaking the ACQP-facing Alipay+ API
//! (`/aps/api/v1/payments/{pay,inquiryPayment,cancelPayment,refund}`), a simulated buyer wallet,
//! a persisted `notifyPayment` outbox, iMock-style mock rules, a companion API under `/app/v1/`
//! and a traffic log — all kept in one SQLite file under the data directory.
//!
//! ```no_run
//! # async fn demo() -> Result<(), plusbox_sandbox::SandboxError> {
//! let config = plusbox_sandbox::SandboxConfig::new("/tmp/plusbox-data", "127.0.0.1:0".parse().unwrap());
//! let sandbox = plusbox_sandbox::Sandbox::start(config).await?;
//! println!("gateway at {}", sandbox.base_url());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod cashier;
pub mod clock;
pub mod collector;
mod companion;
mod customs;
pub mod dashboard;
mod disputes;
mod edge;
mod gateway;
pub mod ids;
pub mod invite;
mod listener;
mod live;
mod merchants;
mod mpm;
mod notify;
pub mod private_code;
pub mod recon;
pub mod scenario;
pub mod sftp;
pub mod store;
mod supervise;
pub mod text;
pub mod tls;
mod tsp_page;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::JoinHandle;

pub use clock::{Clock, OffsetClock, ScaledClock, SharedClock, SystemClock, TestClock};

/// Threads the runtime keeps for blocking work (SQLite calls). Tokio's default is 512: under a
/// latency spike every waiting store call got its own thread, and a soak at 200 pairs/s held 309
/// threads and their stacks and allocator arenas for good (RSS 67 → 145 MB). At 32 a 30-minute
/// soak still stepped up with the thread count (24 → 34 threads, RSS +23 %). The store cannot
/// use more than its writer, its pooled readers and the checkpointer at once, so a few spare
/// threads past those are enough; past the cap, calls queue for a thread.
pub const MAX_BLOCKING_THREADS: usize = 6;

/// How long an idle blocking thread lives. Long, so the pool does not shrink and regrow (each
/// regrowth lands in a new place in the allocator) between bursts.
const BLOCKING_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(3600);

/// The multi-threaded runtime a sandbox runs on (`plusbox serve`, the benchmarks), with blocking
/// threads capped at [`MAX_BLOCKING_THREADS`] and all of them started up front, so memory is
/// flat from the first minute rather than stepping up at each new load peak.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .thread_keep_alive(BLOCKING_KEEP_ALIVE)
        .build()?;
    prestart_blocking_pool(&runtime);
    Ok(runtime)
}

/// Starts every blocking thread now: tasks that each wait until all have started, so none can
/// reuse another's thread.
fn prestart_blocking_pool(runtime: &tokio::runtime::Runtime) {
    let barrier = Arc::new(std::sync::Barrier::new(MAX_BLOCKING_THREADS));
    let handles: Vec<_> = (0..MAX_BLOCKING_THREADS)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            runtime.spawn_blocking(move || {
                barrier.wait();
            })
        })
        .collect();
    runtime.block_on(async {
        for handle in handles {
            // A task that only waits on a barrier cannot fail; a join error would mean the
            // runtime is shutting down, and the pool then starts threads on demand as before.
            let _ = handle.await;
        }
    });
}
pub use plusbox_core::result_code::ResultCode;
pub use scenario::Scenario;
pub use store::{Provisioned, Store, StoreError};
pub use tls::TlsIdentity;

/// Errors starting or running the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The store could not be opened or provisioned.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Some other I/O failure.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The TLS certificate or key could not be used.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The SFTP server could not start.
    #[error(transparent)]
    Sftp(#[from] sftp::SftpError),
}

/// How to run a sandbox.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Directory holding the SQLite file.
    pub data_dir: PathBuf,
    /// Address to listen on (`127.0.0.1:0` picks an ephemeral port).
    pub listen: SocketAddr,
    /// Base URL to advertise; defaults to `http://<listen address>` (0.0.0.0 shown as 127.0.0.1).
    pub public_url: Option<String>,
    /// The clock every deadline runs on.
    pub clock: SharedClock,
    /// Largest request body accepted; larger ones get F `PARAM_ILLEGAL`.
    pub max_body_bytes: usize,
    /// Strict mode: reject a `Request-Time` further than this from the clock (§1.3). `None` = off.
    pub max_clock_skew: Option<time::Duration>,
    /// Strict mode: numbers/booleans where strings belong are `PARAM_ILLEGAL` instead of findings.
    pub strict_types: bool,
    /// Accept notification acknowledgements with a missing or bad signature (with a warning).
    pub lenient_ack_signature: bool,
    /// Timeout of one notifyPayment attempt (real time; §12 says 5 s).
    pub notify_timeout: std::time::Duration,
    /// How often the background worker re-reads the database for changes made by other
    /// processes (the CLI). Real time; tests never need to wait for it.
    pub poll_interval: std::time::Duration,
    /// Seed for identifiers (paymentId, refundId, codes issued by this server, provisioned
    /// Client-Id/acquirerId): the same requests in the same order give the same IDs (§15).
    /// `None` = OS randomness.
    pub seed: Option<u64>,
    /// A request head must arrive in full within this time (real time); also how long a
    /// keep-alive connection may wait for its next request.
    pub header_timeout: std::time::Duration,
    /// A connection on which nothing moved for this long while no request was being handled is
    /// closed (real time).
    pub idle_timeout: std::time::Duration,
    /// Most connections open at once; at the cap new ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// Serve HTTPS with this certificate (`plusbox serve --tls`).
    pub tls: Option<TlsIdentity>,
    /// Also serve the clearing files over SFTP on this address (`plusbox serve --sftp`).
    pub sftp: Option<SocketAddr>,
    /// More routes served on the same port under the same timeouts and limits (the CLI mounts
    /// the companion UI and `/rpc` here). Paths they do not match go to the Alipay+ gateway,
    /// which answers `INVALID_API`; a fallback set on them is replaced by the gateway's.
    pub extra_routes: Option<axum::Router>,
    /// The acceptance catalogue (the CLI passes the embedded one): the dashboard's case titles,
    /// products and required flags, and the cases of an invite that names none.
    pub catalogue: Option<Arc<plusbox_core::catalogue::Catalogue>>,
    /// Draws a stored run's sequence diagram for the dashboard (see [`dashboard::DiagramFn`]).
    pub diagram: Option<dashboard::DiagramFn>,
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_clock_skew", &self.max_clock_skew)
            .field("strict_types", &self.strict_types)
            .field("seed", &self.seed)
            .field("header_timeout", &self.header_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl SandboxConfig {
    /// Defaults: wall clock, 256 KiB bodies, no skew check, lenient types, 5 s notify timeout.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        SandboxConfig {
            data_dir: data_dir.into(),
            listen,
            public_url: None,
            clock: Arc::new(SystemClock),
            max_body_bytes: 256 * 1024,
            max_clock_skew: None,
            strict_types: false,
            lenient_ack_signature: false,
            notify_timeout: std::time::Duration::from_secs(5),
            poll_interval: std::time::Duration::from_millis(250),
            seed: None,
            header_timeout: std::time::Duration::from_secs(10),
            idle_timeout: std::time::Duration::from_secs(75),
            max_connections: 256,
            tls: None,
            sftp: None,
            extra_routes: None,
            catalogue: None,
            diagram: None,
        }
    }

    /// Replaces the clock.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Adds routes served beside the sandbox's own (see [`SandboxConfig::extra_routes`]).
    pub fn with_routes(mut self, routes: axum::Router) -> Self {
        self.extra_routes = Some(routes);
        self
    }

    /// Serves HTTPS with this identity (see [`tls::TlsIdentity::load_or_create`]).
    pub fn with_tls(mut self, identity: TlsIdentity) -> Self {
        self.tls = Some(identity);
        self
    }
}

/// State shared by the HTTP handlers and the background worker.
pub(crate) struct Shared {
    pub(crate) store: Arc<Store>,
    pub(crate) config: SandboxConfig,
    /// Wakes the worker when a request queued a notification or changed a deadline.
    pub(crate) wake: Notify,
    /// Tells the companion's SSE streams that wallet state may have changed.
    pub(crate) changes: broadcast::Sender<()>,
    /// The pending list as sent to SSE subscribers, rendered once per change (see [`live`]).
    pub(crate) pending_feed: watch::Sender<Option<Arc<str>>>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// The sandbox clock (also `config.clock`), for re-reading its offset per request.
    pub(crate) clock: OffsetClock,
    /// Parsed keys by their stored Base64 text. Keyed by content, so a key changed through the
    /// CLI is picked up on the next request; this only saves re-parsing the same bytes.
    pub(crate) keys: std::sync::Mutex<KeyCache>,
    /// Rate limits on linking through invitations (see [`invite`]).
    pub(crate) link_limiter: invite::LinkLimiter,
}

/// Parsed-key cache (see [`Shared::keys`]).
#[derive(Default)]
pub(crate) struct KeyCache {
    private: std::collections::HashMap<String, Arc<plusbox_core::signing::PrivateKey>>,
    public: std::collections::HashMap<String, Arc<plusbox_core::signing::PublicKey>>,
}

impl Shared {
    /// The parsed private key for this Base64 text.
    pub(crate) fn private_key(
        &self,
        b64: &str,
    ) -> Result<Arc<plusbox_core::signing::PrivateKey>, plusbox_core::signing::SigningError> {
        let mut cache = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = cache.private.get(b64) {
            return Ok(Arc::clone(key));
        }
        let key = Arc::new(plusbox_core::signing::PrivateKey::parse(b64)?);
        if cache.private.len() > 64 {
            cache.private.clear();
        }
        cache.private.insert(b64.to_string(), Arc::clone(&key));
        Ok(key)
    }

    /// The parsed public key for this Base64 text.
    pub(crate) fn public_key(
        &self,
        b64: &str,
    ) -> Result<Arc<plusbox_core::signing::PublicKey>, plusbox_core::signing::SigningError> {
        let mut cache = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = cache.public.get(b64) {
            return Ok(Arc::clone(key));
        }
        let key = Arc::new(plusbox_core::signing::PublicKey::parse(b64)?);
        if cache.public.len() > 64 {
            cache.public.clear();
        }
        cache.public.insert(b64.to_string(), Arc::clone(&key));
        Ok(key)
    }

    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.config.clock.now()
    }

    /// Re-reads the stored clock offset (each request starts with it, so a jump made by the CLI
    /// or a test runner a moment ago counts).
    pub(crate) fn sync_clock(&self) {
        self.clock.sync();
    }

    /// Runs blocking store work off the async threads.
    pub(crate) async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = Arc::clone(&self.store);
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(result) => result,
            Err(error) => Err(StoreError::Invalid(format!("background task failed: {error}"))),
        }
    }

    /// Signals that something changed (worker and SSE listeners).
    pub(crate) fn changed(&self) {
        self.wake.notify_one();
        self.announce();
    }

    /// Tells only the SSE listeners (balances or pending payments may have changed).
    pub(crate) fn announce(&self) {
        let _ = self.changes.send(());
    }
}

/// Companion requests start by re-reading the clock offset (see [`Shared::sync_clock`]).
async fn sync_clock_first(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    request: axum::extract::Request,
) -> axum::extract::Request {
    // The read is a few microseconds on a pooled connection; keep it off the async threads
    // anyway, as every other store access is.
    let worker = Arc::clone(&shared);
    let _ = tokio::task::spawn_blocking(move || worker.sync_clock()).await;
    request
}

/// How often the WAL is checkpointed in the background (real time).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Checkpoints the WAL off the request path until shutdown (see
/// [`Store::use_background_checkpoints`]).
async fn checkpoint_loop(store: Arc<Store>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CHECKPOINT_EVERY) => {}
            _ = shutdown.changed() => break,
        }
        let store = Arc::clone(&store);
        match tokio::task::spawn_blocking(move || store.checkpoint()).await {
            Ok(Ok(truncated)) => {
                if truncated {
                    tracing::debug!("WAL passed its size bound and was truncated");
                }
            }
            Ok(Err(error)) => tracing::warn!(%error, "WAL checkpoint failed; retrying later"),
            Err(error) => tracing::warn!(%error, "WAL checkpoint task failed"),
        }
        if *shutdown.borrow() {
            break;
        }
    }
}

/// A running sandbox.
pub struct Sandbox {
    local_addr: SocketAddr,
    base_url: String,
    shared: Arc<Shared>,
    clock: OffsetClock,
    provisioned: Option<Provisioned>,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    worker: JoinHandle<u32>,
    checkpoints: JoinHandle<u32>,
    sftp_addr: Option<SocketAddr>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("local_addr", &self.local_addr)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Opens (and on first start provisions) the store, binds the listener and starts serving.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| SandboxError::Bind { addr: config.listen, source })?;
        let local_addr = listener.local_addr()?;
        let acceptor = config.tls.as_ref().map(TlsIdentity::acceptor).transpose()?;
        let base_url = config.public_url.clone().unwrap_or_else(|| {
            let mut shown = local_addr;
            if shown.ip().is_unspecified() {
                shown.set_ip(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
            }
            let scheme = if acceptor.is_some() { "https" } else { "http" };
            format!("{scheme}://{shown}")
        });
        let data_dir = config.data_dir.clone();
        let now = config.clock.now();
        let url = base_url.clone();
        let seed = config.seed;
        let (store, provisioned) = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            let store = Store::open(&data_dir)?;
            if let Some(seed) = seed {
                store.seed_ids(seed);
            }
            let provisioned = store.provision_if_empty(now, &url)?;
            store.use_background_checkpoints()?;
            store.set_gateway_url(&url)?;
            Ok((store, provisioned))
        })
        .await
        .map_err(|e| SandboxError::Io(std::io::Error::other(e.to_string())))??;

        let (stop, shutdown) = watch::channel(false);
        let (changes, _) = broadcast::channel(64);
        let store = Arc::new(store);
        // Every deadline runs on sandbox time: the configured clock plus the stored jump ahead.
        let clock = OffsetClock::new(Arc::clone(&config.clock), Arc::clone(&store));
        let mut config = config;
        // Admin sessions and the login rate limit run on the configured clock without the jump.
        let admin_clock = Arc::clone(&config.clock);
        config.clock = Arc::new(clock.clone());
        let extra_routes = config.extra_routes.take();
        let limits = listener::Limits {
            header_timeout: config.header_timeout,
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections,
        };
        let shared = Arc::new(Shared {
            store,
            config,
            wake: Notify::new(),
            changes,
            pending_feed: watch::channel(None).0,
            clock: clock.clone(),
            shutdown: shutdown.clone(),
            keys: std::sync::Mutex::new(KeyCache::default()),
            link_limiter: invite::LinkLimiter::new(),
        });
        let mut router = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(mpm::IMAGE_PATH, get(mpm::image))
            .route("/cashier/{token}", get(cashier::page).post(cashier::submit))
            .route("/tsp/authorize/{id}", get(tsp_page::authorization))
            .nest(
                "/app/v1",
                companion::router()
                    .merge(invite::router())
                    .merge(collector::router())
                    .layer(axum::middleware::map_request_with_state(Arc::clone(&shared), sync_clock_first))
                    .layer(axum::middleware::map_response(edge::json_errors)),
            )
            .nest("/dashboard/api", dashboard::router(Arc::clone(&shared), admin_clock));
        if let Some(extra) = extra_routes {
            router = router.merge(extra.with_state::<Arc<Shared>>(()));
        }
        let router = router.fallback(gateway::handle).with_state(Arc::clone(&shared));
        let server = tokio::spawn(listener::serve(listener, router, limits, acceptor, shutdown.clone()));
        let worker_shared = Arc::clone(&shared);
        let worker_stop = shutdown.clone();
        let worker =
            tokio::spawn(supervise::supervise("notifications and expiry", shutdown.clone(), move || {
                notify::run(Arc::clone(&worker_shared), worker_stop.clone())
            }));
        let checkpoint_store = Arc::clone(&shared.store);
        let checkpoint_stop = shutdown.clone();
        let checkpoints =
            tokio::spawn(supervise::supervise("WAL checkpoints", shutdown.clone(), move || {
                checkpoint_loop(Arc::clone(&checkpoint_store), checkpoint_stop.clone())
            }));
        let recon_shared = Arc::clone(&shared);
        let recon_stop = shutdown.clone();
        tokio::spawn(supervise::supervise("daily reconciliation files", shutdown.clone(), move || {
            recon::run(Arc::clone(&recon_shared), recon_stop.clone())
        }));
        let sftp_addr = match shared.config.sftp {
            Some(addr) => {
                let (key, fingerprint) = sftp::load_or_create_host_key(&shared.config.data_dir)?;
                let listener = sftp::bind(addr).await?;
                let bound = listener.local_addr()?;
                let store = Arc::clone(&shared.store);
                let shown = bound.to_string();
                tokio::task::spawn_blocking(move || store.set_sftp_address(Some(&shown)))
                    .await
                    .map_err(|e| SandboxError::Io(std::io::Error::other(e.to_string())))??;
                tracing::info!(%bound, %fingerprint, "SFTP server listening");
                tokio::spawn(sftp::serve(listener, Arc::clone(&shared), key, shutdown.clone()));
                Some(bound)
            }
            None => {
                // A file served earlier with --sftp must not advertise a server that is gone.
                let store = Arc::clone(&shared.store);
                let _ = tokio::task::spawn_blocking(move || store.set_sftp_address(None)).await;
                None
            }
        };
        let feed_shared = Arc::clone(&shared);
        let feed_stop = shutdown.clone();
        tokio::spawn(supervise::supervise("live pending list", shutdown, move || {
            live::render(Arc::clone(&feed_shared), feed_stop.clone())
        }));
        Ok(Sandbox {
            local_addr,
            base_url,
            shared,
            clock,
            provisioned,
            stop,
            server,
            worker,
            checkpoints,
            sftp_addr,
        })
    }

    /// The bound address (with the real port when `:0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The advertised base URL, e.g. `http://127.0.0.1:8787`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Where the SFTP server listens, when started with [`SandboxConfig::sftp`].
    pub fn sftp_addr(&self) -> Option<SocketAddr> {
        self.sftp_addr
    }

    /// The store (blocking API; call from `spawn_blocking` in async code under load).
    pub fn store(&self) -> Arc<Store> {
        Arc::clone(&self.shared.store)
    }

    /// The sandbox's clock (the configured clock plus the stored jump ahead). Advancing it wakes
    /// the server's sleepers at once.
    pub fn clock(&self) -> OffsetClock {
        self.clock.clone()
    }

    /// What first-start provisioning created, if this start provisioned.
    pub fn provisioned(&self) -> Option<&Provisioned> {
        self.provisioned.as_ref()
    }

    /// Wakes the background worker (e.g. after advancing a [`TestClock`] or editing the store).
    pub fn poke(&self) {
        self.shared.changed();
    }

    /// A handle that does what [`Sandbox::poke`] does, for code that changes the store directly
    /// (a test runner playing the buyer) and must not wait for the worker's next re-read.
    pub fn poker(&self) -> Arc<dyn Fn() + Send + Sync> {
        let shared = Arc::clone(&self.shared);
        Arc::new(move || shared.changed())
    }

    /// Stops accepting connections, lets in-flight requests finish, stops the worker. The
    /// outbox stays in the database and is resumed by the next start.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        let _ = self.worker.await;
        let _ = self.checkpoints.await;
    }
}
