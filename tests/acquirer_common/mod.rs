//! Shared harness for the acquirer tests: a real sandbox on an ephemeral port (its own SQLite in a
//! tempdir) and a reference acquirer wired to it only over HTTP, with compressed timing.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;
use std::time::Duration;

use plusbox_acquirer::{
    server, Acquirer, AcquirerConfig, ChargeRequest, Fault, MerchantConfig, PaymentRecord, Timing,
};
use plusbox_core::signing::PrivateKey;
use plusbox_sandbox::store::TrafficView;
use plusbox_sandbox::{Sandbox, SandboxConfig, ScaledClock, Scenario, SharedClock as SandboxClock};

/// Timing compressed so a whole flow, expiry and cancel included, takes about three seconds.
pub fn fast_timing() -> Timing {
    Timing {
        pay_timeout_ms: 1_500,
        refund_timeout_ms: 1_500,
        cancel_timeout_ms: 1_500,
        inquiry_timeout_ms: 1_000,
        payment_expiry_ms: 3_000,
        poll_intervals_ms: vec![200, 300, 400, 500],
        max_inquiries: 30,
        pay_attempts: 3,
        retry_interval_ms: 150,
        max_cancel_attempts: 5,
        refund_attempts: 3,
        too_fast_interval_ms: 10,
        poll_forever_limit_ms: 4_000,
        order_code_window_ms: 9_000,
        order_code_poll_interval_ms: 200,
    }
}

pub struct Env {
    pub sandbox: Sandbox,
    pub acquirer: Acquirer,
    pub client_id: String,
    server: tokio::task::JoinHandle<Result<(), plusbox_acquirer::AcquirerError>>,
    pub base_url: String,
    /// The acquirer's merchant page (the entry code, HTTPS, alipayplus-api.md §6).
    pub entry_url: String,
    /// The PEM certificate of that page (self-signed), for the buyer's web view to trust.
    pub entry_ca_pem: Vec<u8>,
    _entry_stop: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Env {
    pub async fn start(faults: &[Fault], timing: Timing) -> Env {
        Env::start_with(faults, timing, None, Arc::new(plusbox_acquirer::SystemClock), None).await
    }

    /// A sandbox on time compressed `scale` times (a [`ScaledClock`]) and an acquirer on its own
    /// clock compressed the same way (a separate [`plusbox_acquirer::ScaledClock`] set from the
    /// sandbox's at the start): the two agree as a real ACQP's and Alipay+'s clocks do, and the acquirer
    /// never follows a jump of the sandbox's clock. `timing` is in that compressed time; its HTTP
    /// timeouts, which run in real time, are divided by `scale`.
    pub async fn start_compressed(faults: &[Fault], timing: Timing, scale: u32) -> Env {
        let real = |ms: u64| (ms / u64::from(scale.max(1))).max(1);
        let timing = Timing {
            pay_timeout_ms: real(timing.pay_timeout_ms),
            refund_timeout_ms: real(timing.refund_timeout_ms),
            cancel_timeout_ms: real(timing.cancel_timeout_ms),
            inquiry_timeout_ms: real(timing.inquiry_timeout_ms),
            ..timing
        };
        let scaled = Arc::new(ScaledClock::new(f64::from(scale)));
        // Set once from the sandbox's time (two scaled clocks started apart would drift apart by
        // the scale times the gap), then on its own.
        let own: plusbox_acquirer::SharedClock = Arc::new(plusbox_acquirer::ScaledClock::anchored(
            plusbox_sandbox::Clock::now(scaled.as_ref()),
            std::time::Instant::now(),
            f64::from(scale),
        ));
        let clock: SandboxClock = scaled;
        Env::start_inner(faults, timing, Some(clock), own, None).await
    }

    /// A sandbox (optionally on a given clock) and an acquirer (on `acq_clock`) wired together
    /// the way `plusbox acquirer init` does it: new key pair, public key and notify URL
    /// registered with the sandbox, sandbox public key in the acquirer's configuration.
    pub async fn start_with(
        faults: &[Fault],
        timing: Timing,
        sandbox_clock: Option<SandboxClock>,
        acq_clock: plusbox_acquirer::SharedClock,
        gateway_override: Option<String>,
    ) -> Env {
        Env::start_inner(faults, timing, sandbox_clock, acq_clock, gateway_override).await
    }

    async fn start_inner(
        faults: &[Fault],
        timing: Timing,
        sandbox_clock: Option<SandboxClock>,
        acq_clock: plusbox_acquirer::SharedClock,
        gateway_override: Option<String>,
    ) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let mut config = SandboxConfig::new(dir.path().join("sandbox"), "127.0.0.1:0".parse().unwrap());
        if let Some(clock) = sandbox_clock {
            config = config.with_clock(clock);
        }
        // Notification attempts time out like Alipay+'s 5 s, compressed.
        config.notify_timeout = Duration::from_millis(1_000);
        // The clearing files over SFTP too, as the acquirer's back office downloads them.
        config.sftp = Some("127.0.0.1:0".parse().unwrap());
        let sandbox = Sandbox::start(config).await.unwrap();
        let store = sandbox.store();
        let key = PrivateKey::generate().unwrap();
        let key_file = dir.path().join("acquirer_key.pem");
        std::fs::write(&key_file, key.to_pkcs8_pem().expose()).unwrap();
        store
            .set_acqp_key(&key.public_key().unwrap().to_base64(), 1, time::OffsetDateTime::now_utc())
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let notify_url = format!("http://{addr}/notify");
        store.set_notify_url(Some(&notify_url)).unwrap();
        // Private order codes (§11): the acquirer's domain, decoded by its userInitiatedPay.
        store
            .set_private_order_codes(
                &format!("http://{addr}{}", plusbox_acquirer::acquirer::USER_INITIATED_PAY_PATH),
                &[plusbox_sandbox::store::PrivateDomain {
                    domain: plusbox_acquirer::config::DEFAULT_PRIVATE_ORDER_CODE_DOMAIN.to_owned(),
                    digits: true,
                }],
                time::OffsetDateTime::now_utc(),
            )
            .unwrap();
        let app = store.app_view().unwrap();
        // The merchant page is HTTPS (§6): its own listener with a self-signed certificate.
        let entry_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let entry_url = format!("https://{}/entry", entry_listener.local_addr().unwrap());
        let identity = plusbox_sandbox::tls::TlsIdentity::load_or_create(
            &dir.path().join("entry-tls"),
            &["127.0.0.1".to_owned(), "localhost".to_owned()],
        )
        .unwrap();
        let entry_ca_pem = std::fs::read(&identity.cert_path).unwrap();
        let config = AcquirerConfig {
            gateway_url: gateway_override.unwrap_or_else(|| sandbox.base_url().to_owned()),
            client_id: app.client_id.clone(),
            acquirer_id: Some(app.acquirer_id.clone()),
            private_key_file: key_file,
            key_version: 1,
            gateway_public_key: app.sandbox_public_key.clone(),
            notify_url,
            listen: addr.to_string(),
            database: dir.path().join("acquirer.sqlite3"),
            faults: Default::default(),
            agent_token: None,
            sftp: Some(sftp_login(&sandbox)),
            merchant: MerchantConfig { entry_code_url: Some(entry_url.clone()), ..MerchantConfig::default() },
            timing,
        };
        let acquirer = Acquirer::new(config, faults.iter().copied(), acq_clock).unwrap();
        let server = tokio::spawn(server::serve(acquirer.clone(), listener));
        let (entry_stop, stopped) = tokio::sync::watch::channel(false);
        let page = server::router(acquirer.clone()).unwrap();
        tokio::spawn(async move {
            plusbox_sandbox::tls::serve_https(entry_listener, page, &identity, stopped).await
        });
        Env {
            sandbox,
            acquirer,
            client_id: app.client_id,
            server,
            base_url: format!("http://{addr}"),
            entry_url,
            entry_ca_pem,
            _entry_stop: entry_stop,
            _dir: dir,
        }
    }

    /// Sets a buyer's scenario and issues a fresh payment code for them.
    pub fn code_for(&self, account: &str, scenario: &str) -> String {
        let store = self.sandbox.store();
        store.set_scenario(account, &scenario.parse::<Scenario>().unwrap()).unwrap();
        store.issue_code(account, self.sandbox_now()).unwrap().code
    }

    /// Like [`Env::code_for`] with the sandbox clock at `now` (for tests on a test clock).
    pub fn code_at(&self, account: &str, scenario: &str, now: time::OffsetDateTime) -> String {
        let store = self.sandbox.store();
        store.set_scenario(account, &scenario.parse::<Scenario>().unwrap()).unwrap();
        store.issue_code(account, now).unwrap().code
    }

    pub fn sandbox_now(&self) -> time::OffsetDateTime {
        // The sandbox's own clock decides code validity; the store helpers take it explicitly.
        time::OffsetDateTime::now_utc()
    }

    pub async fn charge(&self, code: &str, amount: &str) -> PaymentRecord {
        self.acquirer
            .charge(ChargeRequest {
                code: code.to_owned(),
                amount: amount.to_owned(),
                payment_request_id: None,
                description: None,
            })
            .await
            .unwrap()
    }

    /// Every traffic entry, oldest first.
    pub fn traffic(&self) -> Vec<TrafficView> {
        let mut all = self.sandbox.store().traffic(0, 10_000).unwrap();
        all.sort_by_key(|t| t.id);
        all
    }

    /// Inbound calls of one API.
    pub fn calls(&self, api: &str) -> Vec<TrafficView> {
        self.traffic().into_iter().filter(|t| t.direction == "inbound" && t.api == api).collect()
    }

    /// Confirms the buyer's pending payment with the PIN as soon as it appears (the tester's
    /// thumb on the wallet), in the background.
    pub fn confirm_soon(&self, delay: Duration) -> tokio::task::JoinHandle<bool> {
        let store = self.sandbox.store();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            for _ in 0..200 {
                let now = time::OffsetDateTime::now_utc();
                if let Some(p) = store.pending(now).unwrap().into_iter().next() {
                    return store.confirm(&p.payment_id, plusbox_sandbox::store::DEFAULT_PIN, now).is_ok();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            false
        })
    }

    /// Waits (bounded) until the sandbox's outbound notification for `payment_id` has a status.
    pub async fn notification_status(&self, payment_id: &str) -> Option<(String, i64)> {
        let store = self.sandbox.store();
        for _ in 0..100 {
            if let Some(s) = store.notification_status(payment_id).unwrap() {
                if s.1 > 0 {
                    return Some(s);
                }
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        store.notification_status(payment_id).unwrap()
    }

    /// A second reference acquirer on this sandbox for another merchant (`referenceMerchantId`
    /// `merchant`): the same application and key, its own order table, notify URL and clock (set
    /// from the sandbox's and running at `scale`). Returns its POS-driver base URL; it stops with
    /// the runtime.
    pub async fn add_acquirer(&self, merchant: &str, faults: &[Fault], timing: Timing, scale: u32) -> String {
        let real = |ms: u64| (ms / u64::from(scale.max(1))).max(1);
        let timing = Timing {
            pay_timeout_ms: real(timing.pay_timeout_ms),
            refund_timeout_ms: real(timing.refund_timeout_ms),
            cancel_timeout_ms: real(timing.cancel_timeout_ms),
            inquiry_timeout_ms: real(timing.inquiry_timeout_ms),
            ..timing
        };
        let clock: plusbox_acquirer::SharedClock = Arc::new(plusbox_acquirer::ScaledClock::anchored(
            plusbox_sandbox::Clock::now(&self.sandbox.clock()),
            std::time::Instant::now(),
            f64::from(scale),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = self.sandbox.store().app_view().unwrap();
        let config = AcquirerConfig {
            gateway_url: self.sandbox.base_url().to_owned(),
            client_id: app.client_id.clone(),
            acquirer_id: Some(app.acquirer_id.clone()),
            private_key_file: self._dir.path().join("acquirer_key.pem"),
            key_version: 1,
            gateway_public_key: app.sandbox_public_key.clone(),
            notify_url: format!("http://{addr}/notify"),
            listen: addr.to_string(),
            database: self._dir.path().join(format!("acquirer-{merchant}.sqlite3")),
            faults: Default::default(),
            agent_token: None,
            sftp: Some(sftp_login(&self.sandbox)),
            merchant: MerchantConfig {
                reference_merchant_id: merchant.to_owned(),
                ..MerchantConfig::default()
            },
            timing,
        };
        let acquirer = Acquirer::new(config, faults.iter().copied(), clock).unwrap();
        tokio::spawn(server::serve(acquirer, listener));
        format!("http://{addr}")
    }

    pub async fn stop(self) {
        self.server.abort();
        self.sandbox.shutdown().await;
    }
}

/// A phone running the companion's commands in process against the sandbox (loopback, token in
/// memory, no data directory, events dropped).
#[derive(Clone)]
pub struct Phone {
    url: String,
    http: reqwest::Client,
    token: std::sync::Arc<std::sync::Mutex<Option<plusbox_core::secret::SecretString>>>,
}

impl plusbox_companion::host::Host for Phone {
    fn sandbox_url(&self) -> String {
        self.url.clone()
    }
    fn http(&self) -> reqwest::Client {
        self.http.clone()
    }
    fn device_token(&self) -> Option<plusbox_core::secret::SecretString> {
        self.token.lock().unwrap().clone()
    }
    fn store_device_token(&self, token: Option<plusbox_core::secret::SecretString>) {
        *self.token.lock().unwrap() = token;
    }
    fn on_loopback(&self) -> bool {
        true
    }
    fn data_dir(&self) -> Option<std::path::PathBuf> {
        None
    }
    fn emit(&self, _: plusbox_companion::commands::CompanionEvent) {}
}

/// A [`Phone`] paired with the sandbox over loopback.
pub async fn paired_phone(env: &Env) -> Phone {
    let phone = Phone {
        url: env.sandbox.base_url().to_string(),
        http: plusbox_companion::client::http_client().unwrap(),
        token: std::sync::Arc::default(),
    };
    let session =
        plusbox_companion::commands::handlers::pair_loopback(phone.clone(), Default::default()).await;
    assert!(session.unwrap().paired);
    phone
}

/// The default application's SFTP login and the sandbox's SFTP server with its host key, as the
/// acquirer's configuration carries them.
pub fn sftp_login(sandbox: &Sandbox) -> plusbox_acquirer::config::SftpLogin {
    let store = sandbox.store();
    let login = store.sftp_login(store.app().unwrap().id).unwrap();
    let data_dir = store.path().parent().unwrap().to_owned();
    let (_, fingerprint) = plusbox_sandbox::sftp::load_or_create_host_key(&data_dir).unwrap();
    plusbox_acquirer::config::SftpLogin {
        username: login.username.clone(),
        password: login.password.expose().to_owned(),
        address: sandbox.sftp_addr().map(|a| a.to_string()),
        host_key: Some(fingerprint),
    }
}
