//! The sandbox's one SQLite file: configuration, wallet accounts and ledger, payment codes,
//! payments and refunds, the notification outbox, mock rules, the traffic log and device tokens.
//!
//! Every business rule that changes money runs inside one `BEGIN IMMEDIATE` transaction, so
//! concurrent requests (and CLI commands in other processes) serialise on the database and a
//! balance can never go negative. Nothing is cached between calls: the CLI edits the same file
//! while the server runs, and the next request sees the change.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use plusbox_core::secret::SecretString;
use plusbox_core::signing::{PrivateKey, PublicKey};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::Serialize;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use plusbox_core::codes::{generate_payment_code, CodeForm, Wallet, WalletTable};
use plusbox_core::money::{Amount, Currency};
use plusbox_core::protocol::time::{format_instant, format_instant_millis, PLUSBOX_OFFSET};
use plusbox_core::protocol::WireResult;
use plusbox_core::result_code::ResultCode;

use crate::ids;
use crate::scenario::{Answer, Plan, Scenario, Start};

// The store is split by domain; each submodule adds its records and `impl Store` methods, takes
// the imports above and the store's helpers with `use super::*`, and is re-exported here so the
// public paths stay `store::Name`.

mod companion_app;
pub use companion_app::*;
mod arrange;
pub use arrange::MockScope;
mod application;
pub use application::*;
mod wallet;
pub use wallet::*;
mod payments;
pub use payments::*;
mod refunds;
pub use refunds::*;
mod outbox;
pub use outbox::*;
mod mocks;
pub use mocks::*;
mod traffic;
pub use traffic::*;
mod dashboard;
pub use dashboard::*;
mod devices;
mod test_control;
pub use test_control::*;
mod order_codes;
pub use order_codes::*;
mod private_codes;
pub use private_codes::*;
mod registrations;
pub use registrations::*;
mod customs;
pub use customs::*;
mod disputes;
pub use disputes::*;
mod recon;
pub use recon::{ReconSettings, SettledTransaction, SftpKey, SftpLogin, StoredReconFile};
mod invite;
pub use invite::*;
mod collector;
pub use collector::*;
mod tsp;
pub use tsp::*;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "plusbox.sqlite";

/// WAL size past which [`Store::checkpoint`] empties the log (16 MiB: a few seconds of
/// sustained load, far under the 64 MiB bound the soak benchmark holds it to).
pub const WAL_TRUNCATE_BYTES: u64 = 16 * 1024 * 1024;

/// How long a truncating checkpoint waits for readers (and holds new writers) before giving up
/// until the next round.
pub const TRUNCATE_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Filesystem error around the data directory.
    #[error("data directory error: {0}")]
    Io(#[from] std::io::Error),
    /// A key could not be generated or parsed.
    #[error("key error: {0}")]
    Key(#[from] plusbox_core::signing::SigningError),
    /// The database is newer than this build.
    #[error("the database schema version {0} is newer than this plusbox understands; upgrade plusbox")]
    TooNew(i64),
    /// Something the caller asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is not valid in the current state.
    #[error("{0}")]
    Invalid(String),
    /// No application is provisioned yet.
    #[error("no sandbox application is provisioned yet; run `plusbox serve` once")]
    NotProvisioned,
    /// A value (an amount, a balance, a clock jump) is outside the range Plusbox can hold; the
    /// change was refused and nothing was written.
    #[error("{0}")]
    OutOfRange(String),
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The SQLite store. Cheap to share behind an `Arc`; all methods are blocking.
///
/// One writer connection (behind a mutex: SQLite allows one writer at a time anyway) and a small
/// pool of read-only connections, so lookups (inquiries, keys, mock checks) run concurrently
/// with writes under WAL. Every connection caches its prepared statements.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    traffic_queue: TrafficQueue,
    /// Pays waiting for a group commit (see [`Store::pay`]).
    pay_queue: Mutex<Vec<PayJob>>,
    /// Source of payment/refund IDs, codes and provisioned identifiers (seedable, §15).
    ids: Mutex<ids::IdRng>,
    /// The connection background checkpoints run on (see [`Store::checkpoint`]).
    checkpointer: Mutex<Option<Connection>>,
    path: PathBuf,
    /// What opening changed that the operator should hear about (see [`Store::notices`]).
    notices: Vec<String>,
    /// WAL size past which [`Store::checkpoint`] truncates; 0 = never (see [`Store::set_wal_bound`]).
    wal_bound: std::sync::atomic::AtomicU64,
}

/// Where a queued job's committed result is left for its caller (see [`Store::record_traffic`]
/// and [`Store::pay`]).
#[derive(Debug)]
struct Slot<T>(Mutex<Option<T>>);

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot(Mutex::new(None))
    }
}

impl<T> Slot<T> {
    fn take(&self) -> Option<T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn fill(&self, result: T) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
    }
}

/// A traffic record's slot.
type TrafficSlot = Slot<Result<i64>>;

/// Traffic records waiting for a group commit, each with its caller's slot.
type TrafficQueue = Mutex<Vec<(TrafficRecord, Arc<TrafficSlot>)>>;

/// Inserts a batch of queued traffic records; their row ids in order.
fn insert_batch(tx: &Connection, batch: &[(TrafficRecord, Arc<TrafficSlot>)]) -> Result<Vec<i64>> {
    batch.iter().map(|(record, _)| insert_traffic(tx, record)).collect()
}

/// Hands each queued caller its result once the batch is committed (or failed); returns the
/// result for `own`, which its caller takes directly.
fn settle_batch(
    batch: &[(TrafficRecord, Arc<TrafficSlot>)],
    written: Result<Vec<i64>>,
    own: Option<&Arc<TrafficSlot>>,
) -> Option<Result<i64>> {
    let mine = |slot: &Arc<TrafficSlot>| own.is_some_and(|o| Arc::ptr_eq(o, slot));
    let mut result = None;
    match written {
        Ok(ids) => {
            for ((_, slot), id) in batch.iter().zip(ids) {
                if mine(slot) {
                    result = Some(Ok(id));
                } else {
                    slot.fill(Ok(id));
                }
            }
        }
        Err(error) => {
            let message = error.to_string();
            for (_, slot) in batch {
                if !mine(slot) {
                    slot.fill(Err(StoreError::Invalid(format!("traffic log write failed: {message}"))));
                }
            }
            if own.is_some() {
                result = Some(Err(error));
            }
        }
    }
    result
}

/// Read-only connections kept open; more are opened under load and closed when returned.
const READERS: usize = 4;

/// Page cache per connection, in KiB as SQLite's negative `cache_size` means (2 MiB: the hot
/// pages — index interiors, the newest rows — fit; the rest comes from the OS's file cache).
const CACHE_KIB: i64 = -2 * 1024;

/// SQLite's process-wide soft heap limit (8 MiB): past it, page caches recycle their least
/// recently used pages instead of growing. Without it the writer and every pooled or
/// load-opened reader each filled its own cache as the database grew, and a 20-minute soak
/// saw RSS climb 43 → 103 MB. At 48 MiB the caches were still filling half an hour into a
/// soak (RSS +61 % from the first minute); at 16 MiB they filled over the first quarter hour
/// (heaptrack: the whole heap peaks at 7 MB at 40 pairs/s, so the climb was these caches
/// filling, RSS 36 → 45 MB); at 8 MiB they are full within the first minutes. Pages past the
/// limit still come from the OS's file cache, not the disk.
const SOFT_HEAP_LIMIT_BYTES: i64 = 8 * 1024 * 1024;

/// Prepared statements kept per connection (the store has about 70 distinct statements).
const STATEMENT_CACHE: usize = 128;

/// `query_row` and `execute` through the connection's prepared-statement cache, so hot SQL is
/// parsed once per connection rather than once per call.
trait Cached {
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl Cached for Connection {
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

/// Versioned migrations, applied in order; `PRAGMA user_version` records how many ran. Each is a
/// file in `migrations/`; an applied migration never changes (a test holds their checksums), new
/// ones are appended.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_payment_plans.sql"),
    // Lookups by payment (notification dedupe, cancel, transactions[]) and an account's
    // history would otherwise scan tables that grow with every payment.
    include_str!("../migrations/0003_lookup_indexes.sql"),
    // Money is an integer of minor units. Past the 64-bit range SQLite silently stores a REAL,
    // which every later read refuses; these triggers refuse it at the write instead (SQLite
    // cannot add a CHECK constraint to an existing table). Rust checks the arithmetic first;
    // this is the backstop for every other writer of the file.
    include_str!("../migrations/0004_integer_money.sql"),
    // Companion app: revocable devices with a last-seen time, pairing tickets (link token and
    // short code, both hashed) and a log of wrong pairing codes for rate limiting.
    include_str!("../migrations/0005_companion_pairing.sql"),
    // What a test run arranges stays its own (store/arrange.rs): mock rules scoped to a
    // merchant or buyer, and notifications held back per buyer.
    include_str!("../migrations/0006_scoped_arrangements.sql"),
    // Test control over the companion API: what a device may see and arrange (a merchant, a
    // buyer, clock jumps), and the one active run per buyer.
    include_str!("../migrations/0007_device_scope.sql"),
    // Order codes (merchant-presented mode, store/order_codes.rs): one per order-code payment,
    // with who scanned it.
    include_str!("../migrations/0008_order_codes.sql"),
    // Reconciliation (store/recon.rs): settlement settings and the SFTP password per
    // application, configured settlement currencies, and the generated clearing files (kept, so
    // SFTP and HTTP serve exactly what was generated). The indexes find a cycle's transactions.
    include_str!("../migrations/0009_reconciliation.sql"),
    // Private order codes and entry codes (store/private_codes.rs): the application's
    // userInitiatedPay URL and private-order-code domains (with the 12-digit path rule for the
    // fixed-domain form), and what kind of merchant-presented code an order_code row is
    // (`order`, `private`, `entry`).
    include_str!("../migrations/0010_private_order_and_entry_codes.sql"),
    // The cases a device may run from the companion (`plusbox app pair --cases`).
    include_str!("../migrations/0011_device_cases.sql"),
    // Invitations, their linked devices and public keys, and the results collector
    // (store/invite.rs, store/collector.rs).
    include_str!("../migrations/0012_invitations_and_results.sql"),
    // The TSP dashboard's admin login (store/dashboard.rs): the password's PHC string, sessions
    // (hashed, expiring), failed logins for rate limiting; and the traffic monitor's time index.
    include_str!("../migrations/0013_admin.sql"),
    // Merchant registration (store/registrations.rs), customs declarations (store/customs.rs)
    // and an outbox that carries notifyRegistrationStatus beside notifyPayment.
    include_str!("../migrations/0014_registration_customs.sql"),
    // SFTP login by public key (store/recon.rs): the OpenSSH keys each application logs in
    // with, by SHA-256 fingerprint (`plusbox app set-sftp-key`).
    include_str!("../migrations/0015_sftp_keys.sql"),
    // TSP mode (store/tsp.rs): application names for `--app`, the per-application TSP-mode
    // switch and the authorizations with their Agent-Tokens.
    include_str!("../migrations/0016_tsp.sql"),
    // Disputes (store/disputes.rs): retrievals and escalations with their answers, the
    // per-application dispute URL, and the outbox column that links an initiate call to its
    // dispute.
    include_str!("../migrations/0017_disputes.sql"),
];

// ---------------------------------------------------------------------------------------------
// Opening and migrations
// ---------------------------------------------------------------------------------------------

impl Store {
    /// Opens (creating if needed) the database in `data_dir`, applies migrations, and restricts
    /// the file to its owner because it holds private keys.
    pub fn open(data_dir: &Path) -> Result<Store> {
        let notices: Vec<String> = create_private_dir(data_dir)?.into_iter().collect();
        let path = data_dir.join(DB_FILE);
        create_private_file(&path)?;
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // NORMAL in WAL mode: a commit survives a process crash (kill -9); FULL would also
        // survive power loss at an fsync per commit. PLUSBOX_SYNC=FULL opts in.
        let sync = match std::env::var("PLUSBOX_SYNC").ok().as_deref() {
            Some("FULL") | Some("full") => "FULL",
            _ => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "cache_size", CACHE_KIB)?;
        conn.pragma_update(None, "soft_heap_limit", SOFT_HEAP_LIMIT_BYTES)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        migrate(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            traffic_queue: Mutex::default(),
            pay_queue: Mutex::default(),
            ids: Mutex::new(ids::IdRng::System(ids::SystemRng::new())),
            checkpointer: Mutex::new(None),
            path,
            notices,
            wal_bound: std::sync::atomic::AtomicU64::new(WAL_TRUNCATE_BYTES),
        })
    }

    /// Sets the WAL size past which background checkpoints truncate the log (default
    /// [`WAL_TRUNCATE_BYTES`]); `None` turns the bound off, which is how the soak benchmark shows
    /// the unbounded growth it prevents.
    pub fn set_wal_bound(&self, bytes: Option<u64>) {
        self.wal_bound.store(bytes.unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
    }

    /// Things opening the store changed that the operator should be told (e.g. a data directory
    /// open to other users was tightened to 0700). The CLI prints them.
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// A read-only connection: WAL (set by the writer, persistent in the file) lets it read a
    /// consistent snapshot while the writer commits.
    fn open_reader(&self) -> Result<Connection> {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "cache_size", CACHE_KIB)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// Draws identifiers (paymentId, refundId, payment codes, provisioned Client-Id and
    /// acquirerId) from a seeded stream from now on, so a run that repeats the same requests in
    /// the same order gets the same IDs (alipayplus-api.md §15). Device tokens and keys stay
    /// random.
    pub fn seed_ids(&self, seed: u64) {
        *self.id_source() = ids::IdRng::Seeded(ids::SeededRng::new(seed));
    }

    fn id_source(&self) -> std::sync::MutexGuard<'_, ids::IdRng> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the writer from checkpointing the WAL inside commits; the caller then runs
    /// [`Store::checkpoint`] in the background. A checkpoint copies pages into the database file
    /// and fsyncs it, which inside a request's commit shows up as tail latency.
    pub fn use_background_checkpoints(&self) -> Result<()> {
        let conn = self.lock();
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // After a checkpoint resets the WAL, keep its file from staying at its peak size.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        Ok(())
    }

    /// A WAL checkpoint on its own connection. Normally passive: it copies what it can without
    /// waiting for (or blocking) readers and the writer. Under steady reads a passive checkpoint
    /// never gets to the end of the WAL, so SQLite can never start it over and the file grows
    /// without bound; once it passes [`WAL_TRUNCATE_BYTES`] a TRUNCATE checkpoint waits briefly
    /// (at most [`TRUNCATE_WAIT`]) for the readers of old frames, copies the rest and empties the
    /// file. If the readers do not let go in time it gives up and tries again on the next round.
    /// Returns whether the WAL was truncated.
    pub fn checkpoint(&self) -> Result<bool> {
        let mut slot = self.checkpointer.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            let conn = Connection::open(&self.path)?;
            conn.busy_timeout(TRUNCATE_WAIT)?;
            *slot = Some(conn);
        }
        let Some(conn) = slot.as_ref() else { return Ok(false) };
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        let bound = self.wal_bound.load(std::sync::atomic::Ordering::Relaxed);
        if bound == 0 || self.wal_bytes() <= bound {
            return Ok(false);
        }
        // Row: (busy, log frames, checkpointed frames); busy = 1 when it could not finish.
        let busy: i64 = match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0)) {
            Ok(busy) => busy,
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DatabaseBusy => 1,
            Err(e) => return Err(e.into()),
        };
        Ok(busy == 0)
    }

    /// Size of the write-ahead log file in bytes (0 when there is none).
    pub fn wal_bytes(&self) -> u64 {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back on
        // drop), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` in an IMMEDIATE transaction and commits it if `f` succeeds.
    ///
    /// Traffic records queued by [`Store::record_traffic`] ride along in the same commit, so
    /// under load a business write and other requests' traffic share one WAL commit.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = Transaction::new(&mut conn, TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        let batch = self.take_traffic_queue();
        let written = insert_batch(&tx, &batch).and_then(|ids| {
            tx.commit()?;
            Ok(ids)
        });
        // Slots are filled before the writer is released (see `record_traffic`).
        match written {
            Ok(ids) => {
                settle_batch(&batch, Ok(ids), None);
                Ok(value)
            }
            Err(error) => {
                settle_batch(&batch, Err(StoreError::Invalid(error.to_string())), None);
                Err(error)
            }
        }
    }

    fn take_traffic_queue(&self) -> Vec<(TrafficRecord, Arc<TrafficSlot>)> {
        std::mem::take(&mut *self.traffic_queue.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Runs `f` on a read transaction of a pooled read-only connection (a consistent snapshot;
    /// it never waits for the writer).
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => self.open_reader()?,
        };
        let value = (|| {
            let tx = Transaction::new(&mut conn, TransactionBehavior::Deferred)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < READERS {
            pool.push(conn);
        }
        value
    }
}

/// Creates the data directory (and missing parents) as 0700 whatever the umask, or tightens an
/// existing one that other users can read or change: it holds private keys. Returns a notice
/// when it tightened one.
fn create_private_dir(dir: &Path) -> Result<Option<String>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.exists() {
            // `mode` applies to every directory created, parents included, so a umask of 000
            // cannot leave them world-writable.
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            return Ok(None);
        }
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "the data directory {} has mode {mode:04o} (open to other users) and cannot be tightened to 0700: {e}; it holds private keys, so fix it with `chmod 700` or choose another --data",
                        dir.display()
                    ),
                )
            })?;
            return Ok(Some(format!(
                "the data directory {} had mode {mode:04o}, open to other users; tightened it to 0700 because it holds private keys",
                dir.display()
            )));
        }
        Ok(None)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)?;
        Ok(None)
    }
}

fn create_private_file(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if !path.exists() {
            std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path)?;
        }
        // SQLite gives the -wal and -shm files the main file's mode, so this covers them too.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = Transaction::new(conn, TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row_cached("PRAGMA user_version", [], |row| row.get(0))?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if version > known {
        return Err(StoreError::TooNew(version));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
    }
    tx.commit()?;
    Ok(())
}

/// Milliseconds since the epoch, the store's representation of instants.
fn to_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The inverse of [`to_millis`].
fn from_millis(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use time::macros::datetime;

    /// SHA-256 of every migration that has shipped, in order. A database records only how many
    /// migrations it ran, so a shipped migration whose text changed would never reach existing
    /// databases: it must stay byte for byte. Append a line when a new migration ships.
    const SHIPPED_MIGRATIONS: &[(&str, &str)] = &[
        ("0001_initial", "f531fdacc4662936529b29b2ffc9f9ac99e5052e10d0f7da6b48cf8ca7d05475"),
        ("0002_payment_plans", "4f79206c0aee00d92d4fe7e4f37abed28a53d66c40e5570569e2b4ed5a23beae"),
        ("0003_lookup_indexes", "f67855926bdeb3c89b423fb281d10d803a4d2b2cffef8601683f3a7ec38e30f7"),
        ("0004_integer_money", "53e3d62d07df1272c9e645ae5e7e5559a2e66b21fc4d22e6d5d8ff7dfe01ca8a"),
        ("0005_companion_pairing", "9b69a980ead58c95f86a34db099cb47611d8d7ad373759d78ece39a1dac3f539"),
        ("0006_scoped_arrangements", "0dc1ac07fff0b6d5d33568a448445ce1ed85e90b9dcddec473f74054d49df521"),
        ("0007_device_scope", "71c214ee8b1c877a66adfcf57c40af2695fb6865790f89899cdae4f7dab80f81"),
        ("0008_order_codes", "cbdf47381d7bd08cc48e1db4c13faad263c21ec6e4213ae413054b95e7ea7d96"),
        ("0009_reconciliation", "e42c5bd041ba6c089b6ee6d39b0c8efa8f672a241d3d4d0df5d6c74b66d9e3ca"),
        (
            "0010_private_order_and_entry_codes",
            "c5b03b3e70284118592ae94b4bedef5131b8df06e3d2f52a4f0944c7c93e6e1c",
        ),
        ("0011_device_cases", "f72ee3f0b061d978b1bd51097c1b7f64a3ed975e1919f55b95504b41c19b0584"),
        ("0012_invitations_and_results", "8b05ceda58a04075f474c26d643104717e0c9aa0963bfdb82dcc5bca75343ac6"),
        ("0013_admin", "f60fdd6de5d6062cf7c17f671d957be42ab0674a8b22f6a0a93c6ed4766afa41"),
        ("0014_registration_customs", "2d5ff484f91e6ccb5cf6ed98cdde0ef1ecef1486c7359b8bbe4256b4cc642132"),
        ("0015_sftp_keys", "329f370f97848ad78a616375f72d652575c30f04cd2c3b8fcb5de18b2cdb47b6"),
        ("0016_tsp", "5db6728fd55d79d2b9f0de35539e1185cc3a2e5f8b0a1ea067deafdf3db8ff4b"),
        ("0017_disputes", "2d721daa73bf74a0a75ba6439977741be32d360561acb951cb733326e25999aa"),
    ];

    /// A database written by the last build that kept its migrations inline in this file
    /// (`plusbox demo --keep`, a device paired and a refund mock added): schema version 6.
    const PRE_SPLIT_FIXTURE: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/store-v6-presplit.sqlite");

    fn schema(conn: &Connection) -> Vec<(String, String, Option<String>)> {
        let mut stmt = conn.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
    }

    #[test]
    fn shipped_migrations_keep_their_text_and_order() {
        assert!(MIGRATIONS.len() >= SHIPPED_MIGRATIONS.len());
        for (index, (name, sum)) in SHIPPED_MIGRATIONS.iter().enumerate() {
            assert_eq!(&ids::sha256_hex(MIGRATIONS[index]), sum, "migration {} ({name}) changed", index + 1);
        }
    }

    #[test]
    fn migrations_rebuild_exactly_the_schema_the_pre_split_build_wrote() {
        let fixture =
            Connection::open_with_flags(PRE_SPLIT_FIXTURE, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let version: i64 = fixture.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, 6);
        let fresh = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..6] {
            fresh.execute_batch(sql).unwrap();
        }
        assert_eq!(schema(&fresh), schema(&fixture));
    }

    #[test]
    fn a_database_from_the_pre_split_build_opens_with_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        create_private_dir(&data).unwrap();
        std::fs::copy(PRE_SPLIT_FIXTURE, data.join(DB_FILE)).unwrap();
        let store = Store::open(&data).unwrap();
        let version: i64 = store.lock().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, i64::try_from(MIGRATIONS.len()).unwrap());
        assert_eq!(store.accounts().unwrap().len(), 3);
        let paid = store.payment_by_id("20261207253960125866189").unwrap().unwrap();
        assert_eq!(paid.state, PayState::Success);
        assert_eq!(store.traffic(0, 1000).unwrap().len(), 23);
        let mocks = store.mocks(datetime!(2026-12-07 04:10 UTC)).unwrap();
        assert_eq!(mocks.len(), 1);
        assert_eq!(mocks[0].api, "refund");
        assert_eq!(store.devices().unwrap().len(), 1);
        let totals = store.ledger_totals().unwrap();
        let usd = &totals["USD"];
        assert_eq!(usd.balances + usd.paid - usd.refunded, usd.topups);
        assert!(usd.paid > 0);
        // And it keeps working: a new code for a provisioned buyer.
        store.issue_code("buyer-1", datetime!(2026-12-07 05:00 UTC)).unwrap();
    }

    #[test]
    fn group_commit_returns_only_committed_distinct_ids() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(dir.path()).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = std::sync::Arc::clone(&store);
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| {
                            let record = TrafficRecord {
                                direction: "inbound",
                                api: "pay".into(),
                                note: Some(format!("{t}-{i}")),
                                ..TrafficRecord::default()
                            };
                            (store.record_traffic(&record).unwrap(), format!("{t}-{i}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let written: std::collections::BTreeMap<i64, String> =
            threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        assert_eq!(written.len(), 400, "distinct ids");
        // Each id names the row its caller wrote.
        let rows = store.traffic(0, 1000).unwrap();
        assert_eq!(rows.len(), 400);
        for row in rows {
            assert_eq!(row.note.as_ref(), written.get(&row.id));
        }
    }

    #[test]
    fn grouped_pays_each_get_their_own_committed_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(dir.path()).unwrap());
        let now = OffsetDateTime::now_utc();
        store.provision_if_empty(now, "http://127.0.0.1:1").unwrap();
        let app = store.app().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (store, app) = (std::sync::Arc::clone(&store), app.clone());
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let id = format!("p-{t}-{i}");
                        let code = store.issue_code("buyer-1", now).unwrap().code;
                        let input = PayInput {
                            payment_request_id: id.clone(),
                            key_fields: "{}".into(),
                            amount: Amount::from_minor(Currency::USD, 1),
                            code,
                            expiry: None,
                            notify_url: None,
                            request_body: "{}".into(),
                        };
                        match store.pay(&app, &input, now).unwrap() {
                            PayOutcome::Payment { payment, .. } => {
                                assert_eq!(payment.payment_request_id, id);
                                assert_eq!(payment.state, PayState::Success);
                            }
                            PayOutcome::Refused(code, message) => panic!("{id}: {code} {message}"),
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let totals = store.ledger_totals().unwrap();
        assert_eq!(totals["USD"].paid, 200);
        assert_eq!(totals["USD"].balances + totals["USD"].paid, totals["USD"].topups);
    }

    #[test]
    fn windows() {
        assert_eq!(cancel_deadline(datetime!(2025-03-10 23:59 +08:00)), datetime!(2025-03-11 00:15 +08:00));
        assert_eq!(cancel_deadline(datetime!(2025-03-10 15:59 UTC)), datetime!(2025-03-11 00:15 +08:00));
        assert_eq!(
            refund_deadline(datetime!(2025-03-10 12:00 +08:00)),
            datetime!(2026-03-10 23:59:59 +08:00)
        );
        assert_eq!(
            refund_deadline(datetime!(2024-02-29 12:00 +08:00)),
            datetime!(2025-02-28 23:59:59 +08:00)
        );
    }
}
