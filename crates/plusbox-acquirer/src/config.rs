//! The acquirer's configuration file (TOML): where the gateway is, who we are, our key, the
//! sandbox's public key, where notifications arrive, and timing (so tests and demos compress time).
//!
//! Relative paths in the file (`private_key_file`, `database`) are resolved against the
//! directory holding the file, so a config and its key can move together.

use std::path::{Path, PathBuf};

use plusbox_core::signing::{PrivateKey, PublicKey};
use serde::{Deserialize, Serialize};
use time::Duration;

use crate::error::AcquirerError;
use crate::faults::Faults;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcquirerConfig {
    /// Base URL of the Alipay+ gateway (the sandbox), e.g. `http://127.0.0.1:8787`.
    pub gateway_url: String,
    /// Our `Client-Id`.
    pub client_id: String,
    /// Our Participant ID (`acquirerId`), informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquirer_id: Option<String>,
    /// Our private key file (PEM PKCS#8/PKCS#1 or bare Base64), kept with mode 0600.
    pub private_key_file: PathBuf,
    /// `keyVersion` put in our Signature headers.
    #[serde(default = "default_key_version")]
    pub key_version: u32,
    /// The gateway's public key (bare Base64 SPKI or PEM), used to verify responses and notifications.
    pub gateway_public_key: String,
    /// Where the gateway sends `notifyPayment`; sent as `paymentNotifyUrl` in every `pay`.
    pub notify_url: String,
    /// Address `acquirer serve` listens on (POS-driver API and the notify endpoint).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The order table (SQLite).
    #[serde(default = "default_database")]
    pub database: PathBuf,
    /// Faults switched on by the file (the CLI can add more).
    #[serde(default, skip_serializing_if = "Faults::is_empty")]
    pub faults: Faults,
    /// The Agent-Token of the ACQP's authorization when this acquirer is a TSP calling on the
    /// ACQP's behalf (alipayplus-api.md §14): sent as the `Agent-Token` header on every call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_token: Option<String>,
    /// The application's SFTP login (`plusbox app show`), with which the back office downloads
    /// the clearing files to reconcile (`POST /reconcile`, `plusbox acquirer reconcile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sftp: Option<SftpLogin>,
    /// Merchant, store and terminal sent in `pay`.
    #[serde(default)]
    pub merchant: MerchantConfig,
    /// Timeouts, poll schedule, expiry and retry limits.
    #[serde(default)]
    pub timing: Timing,
}

fn default_key_version() -> u32 {
    1
}

fn default_listen() -> String {
    "127.0.0.1:8788".to_owned()
}

fn default_database() -> PathBuf {
    PathBuf::from("acquirer.sqlite3")
}

/// Default host of the acquirer's private order codes.
pub const DEFAULT_PRIVATE_ORDER_CODE_DOMAIN: &str = "qr.plusbox-acquirer.example";

/// A login of the sandbox's SFTP server (and its HTTP mirror).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftpLogin {
    /// The username: the application's Participant ID.
    pub username: String,
    /// The password `plusbox app show` prints.
    pub password: String,
    /// The SFTP server, `host:port` (`plusbox serve --sftp`): files are downloaded over SFTP.
    /// None: over the sandbox's HTTP mirror of the tree at the gateway URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The server's host key as its SHA-256 fingerprint (`SHA256:…`, as `serve` logs it); a
    /// server with another key is refused. None: any host key (a sandbox on this machine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<String>,
}

/// The merchant the acquirer charges for (sent in `order.merchant`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MerchantConfig {
    /// `referenceMerchantId`.
    pub reference_merchant_id: String,
    /// `merchantName`.
    pub merchant_name: String,
    /// `merchantMCC`.
    pub merchant_mcc: String,
    /// `store.referenceStoreId`.
    pub reference_store_id: String,
    /// `store.storeName`.
    pub store_name: String,
    /// `store.storeMCC`.
    pub store_mcc: String,
    /// `env.storeTerminalId`.
    pub terminal_id: String,
    /// `order.orderDescription` when the charge gives none.
    pub order_description: String,
    /// The host of the private order codes this acquirer issues (alipayplus-api.md §11,
    /// payment-codes.md §4.3), registered with Alipay+ as a fixed-domain-form domain.
    pub private_order_code_domain: String,
    /// The public HTTPS URL of the merchant page (the entry code the QR holds, §6): where the
    /// acquirer's `/entry` page is reached over HTTPS. None: no entry code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_code_url: Option<String>,
    /// The currency of amounts typed on the merchant page.
    pub entry_code_currency: String,
}

impl Default for MerchantConfig {
    fn default() -> Self {
        MerchantConfig {
            reference_merchant_id: "M0001".to_owned(),
            merchant_name: "Plusbox Demo Store".to_owned(),
            merchant_mcc: "5812".to_owned(),
            reference_store_id: "S0001".to_owned(),
            store_name: "Plusbox Demo Store 1".to_owned(),
            store_mcc: "5812".to_owned(),
            terminal_id: "T01".to_owned(),
            order_description: "Plusbox POS sale".to_owned(),
            private_order_code_domain: DEFAULT_PRIVATE_ORDER_CODE_DOMAIN.to_owned(),
            entry_code_url: None,
            entry_code_currency: "USD".to_owned(),
        }
    }
}

/// Timing, all in milliseconds so a test can shrink a 60 s expiry to one second.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timing {
    /// Client timeout for `pay` (§12: 8 s).
    pub pay_timeout_ms: u64,
    /// Client timeout for `refund` (§12: 8 s).
    pub refund_timeout_ms: u64,
    /// Client timeout for `cancelPayment` (§12: 8 s).
    pub cancel_timeout_ms: u64,
    /// Client timeout for `inquiryPayment` (§12: 5 s).
    pub inquiry_timeout_ms: u64,
    /// Payment expiry after `pay` (sent as `paymentExpiryTime`; §4.4: 60 s).
    pub payment_expiry_ms: u64,
    /// Waits before each inquiry; the last one repeats. Must not decrease (§7: increasing intervals).
    pub poll_intervals_ms: Vec<u64>,
    /// Inquiries before giving up and cancelling.
    pub max_inquiries: u32,
    /// `pay` attempts (same `paymentRequestId`) on timeouts or U other than `PAYMENT_IN_PROCESS`.
    pub pay_attempts: u32,
    /// Pause between `pay`, `refund` or `cancelPayment` retries.
    pub retry_interval_ms: u64,
    /// `cancelPayment` attempts before reporting the cancel as pending (§8: retry until S).
    pub max_cancel_attempts: u32,
    /// `refund` attempts (same `refundRequestId`) on timeouts or U.
    pub refund_attempts: u32,
    /// Poll interval under the `poll-too-fast` fault.
    pub too_fast_interval_ms: u64,
    /// How long the `poll-forever` fault keeps inquiring before the process gives up anyway.
    pub poll_forever_limit_ms: u64,
    /// How long an order code stays on the display (sent as its `paymentExpiryTime`) while the
    /// sale is polled; still U at its end → `cancelPayment` (§11: 180 s).
    pub order_code_window_ms: u64,
    /// The pause between order-code inquiries (§11: 30–60 in 180 s, so 3–6 s; 3.5 s gives 51).
    pub order_code_poll_interval_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            pay_timeout_ms: 8_000,
            refund_timeout_ms: 8_000,
            cancel_timeout_ms: 8_000,
            inquiry_timeout_ms: 5_000,
            payment_expiry_ms: 60_000,
            poll_intervals_ms: vec![2_000, 3_000, 3_000, 3_000, 5_000, 5_000, 10_000],
            max_inquiries: 30,
            pay_attempts: 3,
            retry_interval_ms: 1_000,
            max_cancel_attempts: 10,
            refund_attempts: 3,
            too_fast_interval_ms: 100,
            poll_forever_limit_ms: 180_000,
            order_code_window_ms: 180_000,
            order_code_poll_interval_ms: 3_500,
        }
    }
}

impl Timing {
    /// Timing compressed for tests and demos: every duration divided by `factor` (at least 1 ms),
    /// counts unchanged.
    pub fn compressed(factor: u64) -> Timing {
        let factor = factor.max(1);
        let d = Timing::default();
        let c = |ms: u64| (ms / factor).max(1);
        Timing {
            pay_timeout_ms: c(d.pay_timeout_ms),
            refund_timeout_ms: c(d.refund_timeout_ms),
            cancel_timeout_ms: c(d.cancel_timeout_ms),
            inquiry_timeout_ms: c(d.inquiry_timeout_ms),
            payment_expiry_ms: c(d.payment_expiry_ms),
            poll_intervals_ms: d.poll_intervals_ms.iter().map(|ms| c(*ms)).collect(),
            retry_interval_ms: c(d.retry_interval_ms),
            too_fast_interval_ms: c(d.too_fast_interval_ms),
            poll_forever_limit_ms: c(d.poll_forever_limit_ms),
            order_code_window_ms: c(d.order_code_window_ms),
            order_code_poll_interval_ms: c(d.order_code_poll_interval_ms),
            ..d
        }
    }

    /// The wait before inquiry number `n` (0-based): the schedule entry, the last one repeating.
    pub fn poll_interval(&self, n: u32) -> Duration {
        let ms = self
            .poll_intervals_ms
            .get(n as usize)
            .or(self.poll_intervals_ms.last())
            .copied()
            .unwrap_or(3_000);
        ms_to_duration(ms)
    }

    /// Checks the values make sense (non-empty, non-decreasing schedule; positive limits).
    pub fn validate(&self) -> Result<(), AcquirerError> {
        if self.poll_intervals_ms.is_empty() {
            return Err(AcquirerError::Config("timing.poll_intervals_ms is empty".to_owned()));
        }
        if self.poll_intervals_ms.windows(2).any(|w| w[1] < w[0]) {
            return Err(AcquirerError::Config(
                "timing.poll_intervals_ms must not decrease (inquire with increasing intervals, §7)"
                    .to_owned(),
            ));
        }
        let zero = [
            ("pay_timeout_ms", self.pay_timeout_ms),
            ("refund_timeout_ms", self.refund_timeout_ms),
            ("cancel_timeout_ms", self.cancel_timeout_ms),
            ("inquiry_timeout_ms", self.inquiry_timeout_ms),
            ("payment_expiry_ms", self.payment_expiry_ms),
            ("order_code_window_ms", self.order_code_window_ms),
            ("order_code_poll_interval_ms", self.order_code_poll_interval_ms),
            ("max_inquiries", u64::from(self.max_inquiries)),
            ("pay_attempts", u64::from(self.pay_attempts)),
            ("max_cancel_attempts", u64::from(self.max_cancel_attempts)),
            ("refund_attempts", u64::from(self.refund_attempts)),
        ];
        if let Some((name, _)) = zero.iter().find(|(_, v)| *v == 0) {
            return Err(AcquirerError::Config(format!("timing.{name} must be greater than 0")));
        }
        Ok(())
    }
}

/// Milliseconds as a `time::Duration`, saturating.
pub fn ms_to_duration(ms: u64) -> Duration {
    Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX))
}

impl AcquirerConfig {
    /// Reads and checks a configuration file, resolving relative paths against its directory.
    pub fn load(path: &Path) -> Result<AcquirerConfig, AcquirerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AcquirerError::Config(format!("cannot read {}: {e}", path.display())))?;
        let mut config = AcquirerConfig::parse(&text)
            .map_err(|e| AcquirerError::Config(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        config.resolve_paths(base);
        Ok(config)
    }

    /// Parses and checks configuration text (paths left as written).
    pub fn parse(text: &str) -> Result<AcquirerConfig, AcquirerError> {
        let config: AcquirerConfig =
            toml::from_str(text).map_err(|e| AcquirerError::Config(e.to_string()))?;
        config.timing.validate()?;
        if config.client_id.trim().is_empty() {
            return Err(AcquirerError::Config("client_id is empty".to_owned()));
        }
        if !(config.gateway_url.starts_with("http://") || config.gateway_url.starts_with("https://")) {
            return Err(AcquirerError::Config(format!(
                "gateway_url {:?} is not an http(s) URL",
                config.gateway_url
            )));
        }
        if let Some(token) = &config.agent_token {
            // It travels as an HTTP header value: visible ASCII only, and not empty.
            if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(AcquirerError::Config(
                    "agent_token must be the Agent-Token as listed by the TSP (visible ASCII, no spaces)"
                        .to_owned(),
                ));
            }
        }
        Ok(config)
    }

    /// Makes relative paths absolute against `base`.
    pub fn resolve_paths(&mut self, base: &Path) {
        if self.private_key_file.is_relative() {
            self.private_key_file = base.join(&self.private_key_file);
        }
        if self.database.is_relative() {
            self.database = base.join(&self.database);
        }
    }

    /// The TOML text of this configuration.
    pub fn to_toml(&self) -> Result<String, AcquirerError> {
        toml::to_string_pretty(self).map_err(|e| AcquirerError::Config(e.to_string()))
    }

    /// Writes the configuration with owner-only permissions (it names our key file).
    pub fn save(&self, path: &Path) -> Result<(), AcquirerError> {
        write_private_file(path, self.to_toml()?.as_bytes())
    }

    /// Reads our private key.
    pub fn private_key(&self) -> Result<PrivateKey, AcquirerError> {
        let text = std::fs::read_to_string(&self.private_key_file).map_err(|e| {
            AcquirerError::Config(format!("cannot read private key {}: {e}", self.private_key_file.display()))
        })?;
        PrivateKey::parse(&text).map_err(|e| {
            AcquirerError::Config(format!("private key {}: {e}", self.private_key_file.display()))
        })
    }

    /// Parses the gateway's public key.
    pub fn gateway_public_key(&self) -> Result<PublicKey, AcquirerError> {
        PublicKey::parse(&self.gateway_public_key)
            .map_err(|e| AcquirerError::Config(format!("gateway_public_key: {e}")))
    }

    /// The path part of the notify URL (with query), which is also the Request-URI the gateway signs.
    pub fn notify_path(&self) -> String {
        uri_path(&self.notify_url)
    }
}

/// The request-target of a URL: path plus `?query`, `/` if there is no path.
pub fn uri_path(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    match rest.find('/') {
        Some(i) => rest[i..].split('#').next().unwrap_or("/").to_owned(),
        None => "/".to_owned(),
    }
}

/// Writes a file readable by its owner only (keys, configs naming keys).
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), AcquirerError> {
    use std::io::Write as _;
    let io = |e: std::io::Error| AcquirerError::Config(format!("cannot write {}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    // An existing file keeps its old mode on open; tighten it explicitly.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    file.write_all(contents).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
gateway_url = "http://127.0.0.1:8787"
client_id = "SANDBOX_ABC"
private_key_file = "key.pem"
gateway_public_key = "AAAA"
notify_url = "http://127.0.0.1:8788/notify?x=1"
faults = ["no-cancel"]
[timing]
payment_expiry_ms = 1000
"#;

    #[test]
    fn parses_minimal_file_with_defaults() {
        let config = AcquirerConfig::parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.timing.payment_expiry_ms, 1000);
        assert_eq!(config.timing.pay_timeout_ms, 8000);
        assert_eq!(config.timing.inquiry_timeout_ms, 5000);
        assert!(config.faults.has(crate::Fault::NoCancel));
        assert_eq!(config.notify_path(), "/notify?x=1");
        assert_eq!(config.listen, "127.0.0.1:8788");
    }

    #[test]
    fn rejects_decreasing_schedule_and_unknown_fault() {
        let bad = MINIMAL.replace("payment_expiry_ms = 1000", "poll_intervals_ms = [3000, 1000]");
        assert!(AcquirerConfig::parse(&bad).is_err());
        let bad = MINIMAL.replace("no-cancel", "no-such-fault");
        assert!(AcquirerConfig::parse(&bad).is_err());
    }

    #[test]
    fn poll_schedule_increases_and_repeats_last() {
        let t = Timing::default();
        let waits: Vec<i64> = (0..10).map(|n| t.poll_interval(n).whole_milliseconds() as i64).collect();
        assert!(waits.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(waits[9], 10_000);
        // The default schedule fits about a dozen inquiries into the 60 s expiry.
        let mut total = 0;
        let mut count = 0;
        while total + waits.get(count).copied().unwrap_or(10_000) <= 60_000 {
            total += waits.get(count).copied().unwrap_or(10_000);
            count += 1;
        }
        assert!((8..=30).contains(&count), "{count}");
    }

    #[test]
    fn uri_path_forms() {
        assert_eq!(uri_path("http://h:1/a/b"), "/a/b");
        assert_eq!(uri_path("https://h"), "/");
        assert_eq!(uri_path("http://h/n?q=1#frag"), "/n?q=1");
    }

    #[test]
    fn round_trips_through_toml() {
        let config = AcquirerConfig::parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
        let text = config.to_toml().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(AcquirerConfig::parse(&text).ok(), Some(config));
    }
}
