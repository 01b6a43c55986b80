//! The sandbox applications and their keys: first-start provisioning of the default
//! application, further ACQP applications (`plusbox app create`, TSP mode, docs/tsp.md), the
//! ACQP key, the notification URL, magic amounts, the gateway URL and the clock offset kept in
//! `meta`. Every setter has a `…_for(app_id, …)` form; the plain form acts on the default
//! (first) application, which is what a sandbox with one application means.

use super::*;

/// Default PIN of provisioned buyer accounts.
pub const DEFAULT_PIN: &str = "1234";

/// The sandbox application an ACQP integrates against.
#[derive(Debug, Clone)]
pub struct AppRecord {
    /// Row id.
    pub id: i64,
    /// `SANDBOX_…` Client-Id.
    pub client_id: String,
    /// Participant ID, sent as `acquirerId`.
    pub acquirer_id: String,
    /// The sandbox's own ("Alipay+") private key, PKCS#8 Base64.
    pub sandbox_private_key: SecretString,
    /// Key version the sandbox signs with.
    pub sandbox_key_version: u32,
    /// The application's notification URL, if configured.
    pub notify_url: Option<String>,
    /// Whether magic amounts (testing-practice.md §10.2) choose outcomes.
    pub magic_amounts: bool,
}

impl AppRecord {
    /// Parses the sandbox private key.
    pub fn private_key(&self) -> Result<PrivateKey> {
        Ok(PrivateKey::parse(self.sandbox_private_key.expose())?)
    }

    /// The sandbox public key, bare Base64 (what the ACQP configures).
    pub fn public_key_base64(&self) -> Result<String> {
        Ok(self.private_key()?.public_key()?.to_base64())
    }
}

/// What [`Store::envelope`] found.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The application whose Client-Id the request carries.
    pub caller: Option<AppRecord>,
    /// The caller, or else the first application (signs answers to unidentified callers).
    pub default: Option<AppRecord>,
    /// The caller's ACQP public key: `(keyVersion, base64)`.
    pub key: Option<(u32, String)>,
    /// Whether a mock rule for the API is active.
    pub mock_active: bool,
}

/// What `plusbox app show --json` prints.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    /// The application's name (`default` for the first one).
    pub name: String,
    /// Client-Id.
    pub client_id: String,
    /// Participant ID.
    pub acquirer_id: String,
    /// Base URL of the gateway.
    pub gateway_url: String,
    /// Sandbox public key, bare Base64.
    pub sandbox_public_key: String,
    /// Notification URL or null.
    pub notify_url: Option<String>,
}

/// What first-start provisioning created.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The application.
    pub app: AppView,
    /// The buyer accounts.
    pub accounts: Vec<AccountView>,
    /// Merchant id and store id.
    pub merchant: (String, String),
}

/// The buyers provisioned on first start: id, name, balances (currency, minor units).
type Buyer = (&'static str, &'static str, &'static [(&'static str, i64)]);
const BUYERS: &[Buyer] = &[
    ("buyer-1", "Alice (USD)", &[("USD", 100_000), ("HKD", 800_000), ("JPY", 150_000)]),
    ("buyer-2", "Bao (HKD)", &[("HKD", 500_000), ("USD", 50_000), ("JPY", 50_000)]),
    ("buyer-3", "Chiyo (JPY)", &[("JPY", 1_000_000), ("USD", 20_000), ("HKD", 100_000)]),
];

impl Store {
    /// Provisions the sandbox application, merchant and buyers if the database is empty.
    /// Returns what was created, or `None` when it already existed.
    pub fn provision_if_empty(&self, now: OffsetDateTime, gateway_url: &str) -> Result<Option<Provisioned>> {
        // Generate the key outside the lock: RSA-2048 generation takes a while.
        let exists = self.read(|tx| {
            Ok(tx.query_row_cached("SELECT COUNT(*) FROM app", [], |r| r.get::<_, i64>(0))? > 0)
        })?;
        if exists {
            return Ok(None);
        }
        let key = PrivateKey::generate()?;
        let key_b64 = key.to_base64();
        // Lock order everywhere: the writer, then the id source; here only the id source.
        let (client_id, acquirer_id) = {
            let mut rng = self.id_source();
            (ids::client_id(&mut *rng), ids::participant_id(&mut *rng))
        };
        let created = self.write(|tx| {
            if tx.query_row_cached("SELECT COUNT(*) FROM app", [], |r| r.get::<_, i64>(0))? > 0 {
                return Ok(false);
            }
            let at = to_millis(now);
            tx.execute_cached(
                "INSERT INTO app (name, client_id, acquirer_id, sandbox_private_key, sandbox_key_version, created_at)
                 VALUES ('default', ?1, ?2, ?3, 1, ?4)",
                params![client_id, acquirer_id, key_b64.expose(), at],
            )?;
            let app_id = tx.last_insert_rowid();
            tx.execute_cached(
                "INSERT INTO merchant (id, app_id, name, store_id, store_name) VALUES ('M0001', ?1, 'Plusbox Test Merchant', 'S0001', 'Plusbox Test Store')",
                params![app_id],
            )?;
            let persona = persona_of(None)?;
            for (index, (id, name, balances)) in BUYERS.iter().enumerate() {
                tx.execute_cached(
                    "INSERT INTO account (id, name, scenario, pin, wallet, customer_id, created_at) VALUES (?1, ?2, 'success', ?3, ?4, ?5, ?6)",
                    params![id, name, DEFAULT_PIN, persona.wallet_enum, format!("21880000000000{:02}", index + 1), at],
                )?;
                for (currency, value) in balances.iter() {
                    tx.execute_cached(
                        "INSERT INTO balance (account_id, currency, value) VALUES (?1, ?2, ?3)",
                        params![id, currency, value],
                    )?;
                    tx.execute_cached(
                        "INSERT INTO ledger (account_id, currency, delta, kind, reference, at) VALUES (?1, ?2, ?3, 'topup', 'provisioning', ?4)",
                        params![id, currency, value, at],
                    )?;
                }
            }
            set_meta(tx, "gateway_url", gateway_url)?;
            Ok(true)
        })?;
        if !created {
            return Ok(None);
        }
        Ok(Some(Provisioned {
            app: self.app_view()?,
            accounts: self.accounts()?,
            merchant: ("M0001".into(), "S0001".into()),
        }))
    }

    /// The (first) sandbox application.
    pub fn app(&self) -> Result<AppRecord> {
        self.read(|tx| {
            tx.query_row_cached(
                "SELECT id, client_id, acquirer_id, sandbox_private_key, sandbox_key_version, notify_url, magic_amounts FROM app ORDER BY id LIMIT 1",
                [],
                app_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotProvisioned)
        })
    }

    /// The application with this Client-Id.
    pub fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRecord>> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT id, client_id, acquirer_id, sandbox_private_key, sandbox_key_version, notify_url, magic_amounts FROM app WHERE client_id = ?1",
                    params![client_id],
                    app_from_row,
                )
                .optional()?)
        })
    }

    /// The application with this row id.
    pub fn app_by_id(&self, id: i64) -> Result<Option<AppRecord>> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT id, client_id, acquirer_id, sandbox_private_key, sandbox_key_version, notify_url, magic_amounts FROM app WHERE id = ?1",
                    params![id],
                    app_from_row,
                )
                .optional()?)
        })
    }

    /// Everything the gateway needs before the body, in one read transaction: the calling
    /// application, the default one (it signs answers to callers it cannot identify), the
    /// caller's ACQP key for `key_version` (latest when `None`), and whether any mock rule for
    /// `api` is active (only then does [`Store::take_mock_for`] need the write lock).
    pub fn envelope(
        &self,
        client_id: Option<&str>,
        key_version: Option<u32>,
        api: &str,
        now: OffsetDateTime,
    ) -> Result<Envelope> {
        self.read(|tx| {
            const APP: &str = "SELECT id, client_id, acquirer_id, sandbox_private_key, sandbox_key_version, notify_url, magic_amounts FROM app";
            let caller = match client_id {
                Some(id) => tx
                    .query_row_cached(&format!("{APP} WHERE client_id = ?1"), params![id], app_from_row)
                    .optional()?,
                None => None,
            };
            let default = match &caller {
                Some(app) => Some(app.clone()),
                None => tx.query_row_cached(&format!("{APP} ORDER BY id LIMIT 1"), [], app_from_row).optional()?,
            };
            let key = match &caller {
                Some(app) => acqp_key(tx, app.id, key_version)?,
                None => None,
            };
            let mock_active = tx
                .query_row_cached(
                    "SELECT 1 FROM mock WHERE api = ?1 AND (remaining IS NULL OR remaining > 0) AND (until IS NULL OR until > ?2) LIMIT 1",
                    params![api, to_millis(now)],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                .is_some();
            Ok(Envelope { caller, default, key, mock_active })
        })
    }

    /// The ACQP public key for `key_version`, or the latest when `None`: `(version, base64)`.
    pub fn acqp_key(&self, app_id: i64, key_version: Option<u32>) -> Result<Option<(u32, String)>> {
        self.read(|tx| acqp_key(tx, app_id, key_version))
    }

    /// Stores the ACQP's public key (PEM or bare Base64) under `key_version`, for the default
    /// application.
    pub fn set_acqp_key(&self, public_key: &str, key_version: u32, now: OffsetDateTime) -> Result<String> {
        self.set_acqp_key_for(self.app()?.id, public_key, key_version, now)
    }

    /// Stores the ACQP's public key (PEM or bare Base64) under `key_version` for application `app_id`.
    pub fn set_acqp_key_for(
        &self,
        app_id: i64,
        public_key: &str,
        key_version: u32,
        now: OffsetDateTime,
    ) -> Result<String> {
        let key = PublicKey::parse(public_key)?;
        let b64 = key.to_base64();
        let app = self.app_by_id(app_id)?.ok_or_else(|| no_app(app_id))?;
        self.write(|tx| {
            tx.execute_cached(
                "INSERT INTO acqp_key (app_id, key_version, public_key, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (app_id, key_version) DO UPDATE SET public_key = excluded.public_key, created_at = excluded.created_at",
                params![app.id, key_version, b64, to_millis(now)],
            )?;
            Ok(())
        })?;
        Ok(key.fingerprint())
    }

    /// Sets (or clears, with `None`) the default application's notification URL.
    pub fn set_notify_url(&self, url: Option<&str>) -> Result<()> {
        self.set_notify_url_for(self.app()?.id, url)
    }

    /// Sets (or clears, with `None`) application `app_id`'s notification URL.
    pub fn set_notify_url_for(&self, app_id: i64, url: Option<&str>) -> Result<()> {
        if let Some(url) = url {
            validate_url(url).map_err(StoreError::Invalid)?;
        }
        self.write(|tx| {
            if tx.execute_cached("UPDATE app SET notify_url = ?1 WHERE id = ?2", params![url, app_id])? == 0 {
                return Err(no_app(app_id));
            }
            Ok(())
        })
    }

    /// Switches magic amounts (testing-practice.md §10.2) on or off for the default application.
    pub fn set_magic_amounts(&self, on: bool) -> Result<()> {
        self.set_magic_amounts_for(self.app()?.id, on)
    }

    /// Switches magic amounts on or off for application `app_id`.
    pub fn set_magic_amounts_for(&self, app_id: i64, on: bool) -> Result<()> {
        self.write(|tx| {
            if tx.execute_cached("UPDATE app SET magic_amounts = ?1 WHERE id = ?2", params![on, app_id])? == 0
            {
                return Err(no_app(app_id));
            }
            Ok(())
        })
    }

    /// Creates a further ACQP application named `name`: its own Client-Id, Participant ID
    /// (acquirerId, also its SFTP user name), sandbox key pair, merchant and SFTP password.
    pub fn create_app(&self, name: &str, now: OffsetDateTime) -> Result<AppRecord> {
        validate_app_name(name).map_err(StoreError::Invalid)?;
        if self.read(|tx| {
            Ok(tx.query_row_cached("SELECT COUNT(*) FROM app", [], |r| r.get::<_, i64>(0))? == 0)
        })? {
            return Err(StoreError::NotProvisioned);
        }
        // RSA-2048 generation takes a while: outside the write lock.
        let key = PrivateKey::generate()?;
        let key_b64 = key.to_base64();
        let app_id = self.write(|tx| {
            let taken = tx
                .query_row_cached("SELECT 1 FROM app WHERE name = ?1", params![name], |r| r.get::<_, i64>(0))
                .optional()?
                .is_some();
            if taken {
                return Err(StoreError::Invalid(format!("an application named {name:?} already exists")));
            }
            // Client-Id and Participant ID must be unique across applications (the Participant
            // ID is also the SFTP user name): draw again on the rare clash.
            let (client_id, acquirer_id) = loop {
                let (client_id, acquirer_id) = {
                    let mut rng = self.id_source();
                    (ids::client_id(&mut *rng), ids::participant_id(&mut *rng))
                };
                let clash = tx
                    .query_row_cached(
                        "SELECT 1 FROM app WHERE client_id = ?1 OR acquirer_id = ?2",
                        params![client_id, acquirer_id],
                        |r| r.get::<_, i64>(0),
                    )
                    .optional()?
                    .is_some();
                if !clash {
                    break (client_id, acquirer_id);
                }
            };
            tx.execute_cached(
                "INSERT INTO app (name, client_id, acquirer_id, sandbox_private_key, sandbox_key_version, created_at)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5)",
                params![name, client_id, acquirer_id, key_b64.expose(), to_millis(now)],
            )?;
            let app_id = tx.last_insert_rowid();
            tx.execute_cached(
                "INSERT INTO merchant (id, app_id, name, store_id, store_name) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    format!("M{app_id:04}"),
                    app_id,
                    format!("{name} Test Merchant"),
                    format!("S{app_id:04}"),
                    format!("{name} Test Store")
                ],
            )?;
            Ok(app_id)
        })?;
        // The SFTP login is made now, so `app create` can show it.
        self.sftp_login(app_id)?;
        self.app_by_id(app_id)?.ok_or_else(|| no_app(app_id))
    }

    /// Every application, oldest (the default) first.
    pub fn app_list(&self) -> Result<Vec<AppSummary>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT id, COALESCE(name, client_id), client_id, acquirer_id, notify_url, tsp_mode,
                        (SELECT COUNT(*) FROM acqp_key k WHERE k.app_id = app.id),
                        (SELECT COUNT(*) FROM tsp_authorization a WHERE a.app_id = app.id AND a.status = 'ACTIVE')
                 FROM app ORDER BY id",
            )?;
            let first = tx.query_row_cached("SELECT MIN(id) FROM app", [], |r| r.get::<_, Option<i64>>(0))?;
            let rows = stmt
                .query_map([], |r| {
                    let id: i64 = r.get(0)?;
                    Ok(AppSummary {
                        name: r.get(1)?,
                        client_id: r.get(2)?,
                        acquirer_id: r.get(3)?,
                        notify_url: r.get(4)?,
                        tsp_mode: r.get(5)?,
                        acqp_keys: r.get(6)?,
                        active_authorizations: r.get(7)?,
                        default: Some(id) == first,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// The application a `--app` option names, by Client-Id or name; `None` is the default
    /// application.
    pub fn resolve_app(&self, selector: Option<&str>) -> Result<AppRecord> {
        let Some(selector) = selector else { return self.app() };
        let by_client = self.app_by_client_id(selector)?;
        if let Some(app) = by_client {
            return Ok(app);
        }
        let id: Option<i64> = self.read(|tx| {
            Ok(tx
                .query_row_cached("SELECT id FROM app WHERE name = ?1", params![selector], |r| r.get(0))
                .optional()?)
        })?;
        match id {
            Some(id) => self.app_by_id(id)?.ok_or_else(|| no_app(id)),
            None => Err(StoreError::NotFound(format!(
                "no application has the Client-Id or name {:?} (see `plusbox app list`)",
                crate::text::for_log(selector)
            ))),
        }
    }

    /// An application's name (`default` for the first one).
    pub fn app_name(&self, app_id: i64) -> Result<String> {
        self.read(|tx| {
            tx.query_row_cached(
                "SELECT COALESCE(name, client_id) FROM app WHERE id = ?1",
                params![app_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| no_app(app_id))
        })
    }

    /// How far the sandbox clock has been moved ahead of its underlying clock (`plusbox clock
    /// advance`). Kept in the database so a running server, the CLI and a test runner in other
    /// processes share one time line (testing-practice.md §10.2: the clock "can jump ahead").
    /// A stored offset outside `0..=`[`MAX_CLOCK_OFFSET`] (written by an older build) reads as
    /// the nearest bound, so time arithmetic on it cannot fail.
    pub fn clock_offset(&self) -> Result<Duration> {
        let text = self.read(|tx| get_meta(tx, CLOCK_OFFSET_KEY))?;
        let millis = text.and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
        Ok(Duration::milliseconds(millis).clamp(Duration::ZERO, MAX_CLOCK_OFFSET))
    }

    /// Moves the sandbox clock `by` further ahead (negative moves it back, never before the
    /// underlying clock) and returns the new offset. One write transaction, so concurrent
    /// advances add up.
    ///
    /// The offset may not pass [`MAX_CLOCK_OFFSET`] (100 years): a larger jump is refused with
    /// [`StoreError::OutOfRange`] and nothing is saved.
    pub fn advance_clock(&self, by: Duration) -> Result<Duration> {
        let max_ms = i64::try_from(MAX_CLOCK_OFFSET.whole_milliseconds()).unwrap_or(i64::MAX);
        let refuse = || {
            StoreError::OutOfRange(format!(
                "the sandbox clock can be at most {} days ({} years) ahead of the wall clock; {} was asked for",
                MAX_CLOCK_OFFSET.whole_days(),
                MAX_CLOCK_OFFSET.whole_days() / 365,
                describe_jump(by)
            ))
        };
        let by_ms = i64::try_from(by.whole_milliseconds()).map_err(|_| refuse())?;
        self.write(|tx| {
            let old = get_meta(tx, CLOCK_OFFSET_KEY)?.and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
            let old = old.clamp(0, max_ms);
            let new = old.checked_add(by_ms).ok_or_else(refuse)?.max(0);
            if new > max_ms {
                return Err(refuse());
            }
            set_meta(tx, CLOCK_OFFSET_KEY, &new.to_string())?;
            Ok(Duration::milliseconds(new))
        })
    }

    /// Puts the sandbox clock back on its underlying clock (offset zero).
    pub fn reset_clock(&self) -> Result<()> {
        self.write(|tx| set_meta(tx, CLOCK_OFFSET_KEY, "0"))
    }

    /// Records the gateway's base URL (written by `serve` on start).
    pub fn set_gateway_url(&self, url: &str) -> Result<()> {
        self.write(|tx| set_meta(tx, "gateway_url", url))
    }

    /// What `plusbox app show` prints for the default application.
    pub fn app_view(&self) -> Result<AppView> {
        self.app_view_of(self.app()?.id)
    }

    /// What `plusbox app show --app …` prints.
    pub fn app_view_of(&self, app_id: i64) -> Result<AppView> {
        let app = self.app_by_id(app_id)?.ok_or_else(|| no_app(app_id))?;
        let name = self.app_name(app_id)?;
        let gateway_url =
            self.read(|tx| get_meta(tx, "gateway_url"))?.unwrap_or_else(|| "http://127.0.0.1:8787".into());
        Ok(AppView {
            name,
            client_id: app.client_id.clone(),
            acquirer_id: app.acquirer_id.clone(),
            gateway_url,
            sandbox_public_key: app.public_key_base64()?,
            notify_url: app.notify_url.clone(),
        })
    }
}

/// One line of `plusbox app list`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppSummary {
    /// Name (`default` for the first application).
    pub name: String,
    /// Client-Id.
    pub client_id: String,
    /// Participant ID.
    pub acquirer_id: String,
    /// Notification URL or null.
    pub notify_url: Option<String>,
    /// How many ACQP public keys (key versions) are registered.
    pub acqp_keys: i64,
    /// Whether the application is in TSP mode (Agent-Token required).
    pub tsp_mode: bool,
    /// How many of its TSP authorizations are Active.
    pub active_authorizations: i64,
    /// Whether it is the default application (the one commands act on without `--app`).
    pub default: bool,
}

fn no_app(app_id: i64) -> StoreError {
    StoreError::NotFound(format!("no application with row id {app_id}"))
}

/// An application name: 1–64 letters, digits, `-`, `_` or `.`, not shaped like a Client-Id
/// (so `--app` is never ambiguous).
pub fn validate_app_name(name: &str) -> std::result::Result<(), String> {
    let shown = crate::text::for_log(name);
    if name.is_empty() || name.len() > 64 {
        return Err(format!("application name {shown:?} must be 1 to 64 characters"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
        return Err(format!("application name {shown:?} may hold only letters, digits, '-', '_' and '.'"));
    }
    if name.to_ascii_uppercase().starts_with("SANDBOX_") {
        return Err(format!("application name {shown:?} looks like a Client-Id; choose another"));
    }
    Ok(())
}

/// Checks that a notification URL is an absolute http(s) URL.
///
/// Parsed with the same (WHATWG) rules the notification client uses, so what passes here is what
/// is sent; whitespace and control characters, which that parser would silently drop, are refused.
pub fn validate_url(url: &str) -> std::result::Result<(), String> {
    let shown = crate::text::for_log(url);
    if !url.starts_with("http://") && !url.starts_with("https://") {
        return Err(format!("{shown:?} is not an http:// or https:// URL"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{shown:?} contains whitespace or control characters"));
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("{shown:?} is not a valid URL: {e}"))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{shown:?} has no host"));
    }
    Ok(())
}

/// The ACQP public key for `key_version`, or the latest when `None`: `(version, base64)`.
fn acqp_key(tx: &Connection, app_id: i64, key_version: Option<u32>) -> Result<Option<(u32, String)>> {
    let row = match key_version {
        Some(version) => tx
            .query_row_cached(
                "SELECT key_version, public_key FROM acqp_key WHERE app_id = ?1 AND key_version = ?2",
                params![app_id, version],
                |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?,
        None => tx
            .query_row_cached(
                "SELECT key_version, public_key FROM acqp_key WHERE app_id = ?1 ORDER BY key_version DESC LIMIT 1",
                params![app_id],
                |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?,
    };
    Ok(row)
}

pub(super) fn app_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AppRecord> {
    Ok(AppRecord {
        id: row.get(0)?,
        client_id: row.get(1)?,
        acquirer_id: row.get(2)?,
        sandbox_private_key: SecretString::new(row.get(3)?),
        sandbox_key_version: row.get(4)?,
        notify_url: row.get(5)?,
        magic_amounts: row.get(6)?,
    })
}

/// The `meta` key holding the clock offset in milliseconds.
const CLOCK_OFFSET_KEY: &str = "clock_offset_ms";

/// How far ahead of its underlying clock the sandbox clock may run: 100 years (36 525 days) —
/// far past every window the sandbox has (the longest, refunds, is one year), and far from the
/// year 9999 where dates stop being representable.
pub const MAX_CLOCK_OFFSET: Duration = Duration::days(36_525);

/// A jump for people: `25h`, `-3s`, `41666666d`.
fn describe_jump(by: Duration) -> String {
    if by.whole_days().abs() >= 2 {
        format!("{}d", by.whole_days())
    } else if by.whole_hours().abs() >= 1 {
        format!("{}h", by.whole_hours())
    } else {
        format!("{}s", by.whole_seconds())
    }
}

pub(super) fn set_meta(tx: &Connection, key: &str, value: &str) -> Result<()> {
    tx.execute_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

pub(super) fn get_meta(tx: &Connection, key: &str) -> Result<Option<String>> {
    Ok(tx.query_row_cached("SELECT value FROM meta WHERE key = ?1", params![key], |r| r.get(0)).optional()?)
}
