//! The companion's own results store: every guided run (its steps, prompts' answers, photos and
//! verdict) in a SQLite file beside the companion's data (`<data_dir>/results.sqlite`), keyed by
//! the device that ran it, so one `/rpc` host shared by several browsers keeps each device's runs
//! apart. Everything is written here before it is shown; a run still `running` when the host
//! starts was interrupted (the host died) and becomes `incomplete`, with what it recorded.
//!
//! The schema is versioned with `PRAGMA user_version`; [`ResultsStore::open`] migrates forward.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 2;

/// Migrations, in order: entry `n` takes the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL UNIQUE,
        device INTEGER NOT NULL,
        case_id TEXT NOT NULL,
        title TEXT NOT NULL,
        proves TEXT NOT NULL,
        state TEXT NOT NULL,
        verdict TEXT,
        pos_driven INTEGER NOT NULL,
        account TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        duration_ms INTEGER,
        steps TEXT NOT NULL,
        errors TEXT NOT NULL,
        wallet TEXT NOT NULL DEFAULT '[]',
        report TEXT
    );
    CREATE INDEX runs_device ON runs (device, seq);
    CREATE TABLE answers (
        run_id TEXT NOT NULL,
        check_name TEXT NOT NULL,
        answer INTEGER NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (run_id, check_name)
    );
    CREATE TABLE photos (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        check_name TEXT NOT NULL,
        name TEXT NOT NULL,
        media_type TEXT NOT NULL,
        bytes BLOB NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX photos_run ON photos (run_id, id);
    CREATE TABLE settings (
        device INTEGER PRIMARY KEY,
        pos_url TEXT
    );
",
    "
    -- The upload queue (upload.rs): one signed bundle per finished run of a device linked through
    -- an invitation. The bundle's id and bytes are fixed when it is made, so every retry sends the
    -- same bundle and the collector stores it once. next_at is unix milliseconds.
    CREATE TABLE uploads (
        run_id TEXT PRIMARY KEY,
        device INTEGER NOT NULL,
        bundle_id TEXT NOT NULL UNIQUE,
        body BLOB NOT NULL,
        signature TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        last_error TEXT,
        uploaded_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX uploads_device ON uploads (device, state, next_at);
    -- The invitation a device linked through (LinkedInvite JSON), for bundling while offline.
    CREATE TABLE links (
        device INTEGER PRIMARY KEY,
        invite TEXT NOT NULL
    );
",
];

/// A results-store failure.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// SQLite failed.
    #[error("the results store failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON column does not parse.
    #[error("the results store holds unreadable JSON in {what}: {detail}")]
    Json {
        /// Which column.
        what: &'static str,
        /// The parser's message.
        detail: String,
    },
    /// The file was written by a newer Plusbox.
    #[error("the results store has schema version {0}, newer than this Plusbox ({SCHEMA_VERSION})")]
    TooNew(i64),
}

/// One stored run (one case).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Run id.
    pub run_id: String,
    /// The device that ran it.
    pub device: i64,
    /// Case id.
    pub case_id: String,
    /// Case title.
    pub title: String,
    /// What the case proves.
    pub proves: String,
    /// `running`, `finished`, `cancelled`, `incomplete`.
    pub state: String,
    /// `PASS`, `FAIL`, … once decided.
    pub verdict: Option<String>,
    /// A POS driver drove the POS.
    pub pos_driven: bool,
    /// The buyer account.
    pub account: String,
    /// Started (ISO 8601).
    pub started_at: String,
    /// Finished (ISO 8601).
    pub finished_at: Option<String>,
    /// Wall-clock duration.
    pub duration_ms: Option<i64>,
    /// Steps as JSON (`StepView[]`).
    pub steps: String,
    /// Errors as JSON (`string[]`).
    pub errors: String,
    /// Wallet events as JSON.
    pub wallet: String,
    /// The engine's report with its full input (`CaseReport::stored`), once judged.
    pub report: Option<String>,
}

/// A stored photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoRow {
    /// Row id.
    pub id: i64,
    /// The evidence check.
    pub check: String,
    /// File name.
    pub name: String,
    /// MIME type.
    pub media_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// The results store.
#[derive(Debug)]
pub struct ResultsStore {
    conn: Connection,
}

const RUN_COLUMNS: &str = "run_id, device, case_id, title, proves, state, verdict, pos_driven, account, \
     started_at, finished_at, duration_ms, steps, errors, wallet, report";

fn run_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        run_id: row.get(0)?,
        device: row.get(1)?,
        case_id: row.get(2)?,
        title: row.get(3)?,
        proves: row.get(4)?,
        state: row.get(5)?,
        verdict: row.get(6)?,
        pos_driven: row.get(7)?,
        account: row.get(8)?,
        started_at: row.get(9)?,
        finished_at: row.get(10)?,
        duration_ms: row.get(11)?,
        steps: row.get(12)?,
        errors: row.get(13)?,
        wallet: row.get(14)?,
        report: row.get(15)?,
    })
}

impl ResultsStore {
    /// Opens (creating and migrating) the store at `path`. Writes are durable when they return
    /// (WAL, `synchronous=FULL`): a host killed a moment later keeps them.
    pub fn open(path: &Path) -> Result<ResultsStore, ResultsError> {
        if let Some(dir) = path.parent() {
            // A missing directory shows up as SQLite's own "unable to open" error.
            let _ = std::fs::create_dir_all(dir);
        }
        ResultsStore::init(Connection::open(path)?)
    }

    /// A store in memory (a host without a data directory).
    pub fn open_in_memory() -> Result<ResultsStore, ResultsError> {
        ResultsStore::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<ResultsStore, ResultsError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(ResultsError::TooNew(version));
        }
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            let to = i64::try_from(index).unwrap_or(i64::MAX).saturating_add(1);
            if version < to {
                let tx = conn.unchecked_transaction()?;
                tx.execute_batch(migration)?;
                tx.pragma_update(None, "user_version", to)?;
                tx.commit()?;
            }
        }
        Ok(ResultsStore { conn })
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, ResultsError> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Marks every run still `running` as `incomplete` (the host that ran it is gone); how many.
    pub fn mark_interrupted(&self, at: &str) -> Result<usize, ResultsError> {
        let errors = serde_json::json!(["the companion stopped while this run was running"]).to_string();
        Ok(self.conn.execute(
            "UPDATE runs SET state = 'incomplete', verdict = 'INCOMPLETE', finished_at = ?1,
                 errors = CASE WHEN errors = '[]' THEN ?2 ELSE errors END
             WHERE state = 'running'",
            params![at, errors],
        )?)
    }

    /// Records a new run.
    pub fn insert_run(&self, run: &RunRecord) -> Result<(), ResultsError> {
        self.conn.execute(
            &format!(
                "INSERT INTO runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
            ),
            params![
                run.run_id,
                run.device,
                run.case_id,
                run.title,
                run.proves,
                run.state,
                run.verdict,
                run.pos_driven,
                run.account,
                run.started_at,
                run.finished_at,
                run.duration_ms,
                run.steps,
                run.errors,
                run.wallet,
                run.report
            ],
        )?;
        Ok(())
    }

    /// Records a running run's progress (steps, errors, wallet events).
    pub fn progress(
        &self,
        run_id: &str,
        steps: &str,
        errors: &str,
        wallet: &str,
    ) -> Result<(), ResultsError> {
        self.conn.execute(
            "UPDATE runs SET steps = ?2, errors = ?3, wallet = ?4 WHERE run_id = ?1",
            params![run_id, steps, errors, wallet],
        )?;
        Ok(())
    }

    /// Records a run's end: state, verdict and the engine's report.
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        &self,
        run_id: &str,
        state: &str,
        verdict: &str,
        finished_at: &str,
        duration_ms: i64,
        steps: &str,
        errors: &str,
        wallet: &str,
        report: Option<&str>,
    ) -> Result<(), ResultsError> {
        self.conn.execute(
            "UPDATE runs SET state = ?2, verdict = ?3, finished_at = ?4, duration_ms = ?5, steps = ?6,
                 errors = ?7, wallet = ?8, report = ?9
             WHERE run_id = ?1",
            params![run_id, state, verdict, finished_at, duration_ms, steps, errors, wallet, report],
        )?;
        Ok(())
    }

    /// A run by id.
    pub fn run(&self, run_id: &str) -> Result<Option<RunRecord>, ResultsError> {
        Ok(self
            .conn
            .query_row(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?1"), [run_id], run_row)
            .optional()?)
    }

    /// A device's runs, newest first, optionally of one verdict and one case.
    pub fn list(
        &self,
        device: i64,
        verdict: Option<&str>,
        case_id: Option<&str>,
    ) -> Result<Vec<RunRecord>, ResultsError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE device = ?1 AND (?2 IS NULL OR verdict = ?2)
                 AND (?3 IS NULL OR case_id = ?3) ORDER BY seq DESC"
        ))?;
        let rows = statement.query_map(params![device, verdict, case_id], run_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Keeps the person's answer to a manual check.
    pub fn answer(&self, run_id: &str, check: &str, answer: bool, at: &str) -> Result<(), ResultsError> {
        self.conn.execute(
            "INSERT INTO answers (run_id, check_name, answer, at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (run_id, check_name) DO UPDATE SET answer = excluded.answer, at = excluded.at",
            params![run_id, check, answer, at],
        )?;
        Ok(())
    }

    /// A run's answers, by check.
    pub fn answers(&self, run_id: &str) -> Result<BTreeMap<String, bool>, ResultsError> {
        let mut statement = self.conn.prepare("SELECT check_name, answer FROM answers WHERE run_id = ?1")?;
        let rows = statement.query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<BTreeMap<_, _>, _>>()?)
    }

    /// Keeps a photo; its row id.
    pub fn add_photo(
        &self,
        run_id: &str,
        check: &str,
        name: &str,
        media_type: &str,
        bytes: &[u8],
        at: &str,
    ) -> Result<i64, ResultsError> {
        self.conn.execute(
            "INSERT INTO photos (run_id, check_name, name, media_type, bytes, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![run_id, check, name, media_type, bytes, at],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// How many photos a run has for a check.
    pub fn photo_count(&self, run_id: &str, check: &str) -> Result<i64, ResultsError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM photos WHERE run_id = ?1 AND check_name = ?2",
            params![run_id, check],
            |r| r.get(0),
        )?)
    }

    /// A run's photos, in the order they were taken.
    pub fn photos(&self, run_id: &str) -> Result<Vec<PhotoRow>, ResultsError> {
        let mut statement = self.conn.prepare(
            "SELECT id, check_name, name, media_type, bytes FROM photos WHERE run_id = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map([run_id], |r| {
            Ok(PhotoRow {
                id: r.get(0)?,
                check: r.get(1)?,
                name: r.get(2)?,
                media_type: r.get(3)?,
                bytes: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The device's POS-driver URL, if set.
    pub fn pos_url(&self, device: i64) -> Result<Option<String>, ResultsError> {
        Ok(self
            .conn
            .query_row("SELECT pos_url FROM settings WHERE device = ?1", [device], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// Sets (or, with `None`, clears) the device's POS-driver URL.
    pub fn set_pos_url(&self, device: i64, url: Option<&str>) -> Result<(), ResultsError> {
        self.conn.execute(
            "INSERT INTO settings (device, pos_url) VALUES (?1, ?2)
             ON CONFLICT (device) DO UPDATE SET pos_url = excluded.pos_url",
            params![device, url],
        )?;
        Ok(())
    }
}

/// A queued upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    /// The run it carries.
    pub run_id: String,
    /// The device.
    pub device: i64,
    /// Bundle id (fixed when bundled).
    pub bundle_id: String,
    /// The exact bytes signed and sent.
    pub body: Vec<u8>,
    /// Base64 Ed25519 signature of `body`.
    pub signature: String,
    /// `waiting`, `uploaded` or `failed`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Next attempt, unix ms.
    pub next_at: i64,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When it was uploaded (ISO 8601).
    pub uploaded_at: Option<String>,
}

const UPLOAD_COLUMNS: &str =
    "run_id, device, bundle_id, body, signature, state, attempts, next_at, last_error, uploaded_at";

fn upload_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UploadRow> {
    Ok(UploadRow {
        run_id: r.get(0)?,
        device: r.get(1)?,
        bundle_id: r.get(2)?,
        body: r.get(3)?,
        signature: r.get(4)?,
        state: r.get(5)?,
        attempts: r.get(6)?,
        next_at: r.get(7)?,
        last_error: r.get(8)?,
        uploaded_at: r.get(9)?,
    })
}

impl ResultsStore {
    /// Queues a run's signed bundle; a run already queued keeps its first bundle (false).
    #[allow(clippy::too_many_arguments)]
    pub fn queue_upload(
        &self,
        run_id: &str,
        device: i64,
        bundle_id: &str,
        body: &[u8],
        signature: &str,
        now_ms: i64,
        at: &str,
    ) -> Result<bool, ResultsError> {
        let inserted = self.conn.execute(
            "INSERT OR IGNORE INTO uploads (run_id, device, bundle_id, body, signature, state, next_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'waiting', ?6, ?7)",
            params![run_id, device, bundle_id, body, signature, now_ms, at],
        )?;
        Ok(inserted == 1)
    }

    /// A device's queued uploads, oldest first.
    pub fn uploads(&self, device: i64) -> Result<Vec<UploadRow>, ResultsError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE device = ?1 ORDER BY created_at, rowid"
        ))?;
        let rows = statement.query_map([device], upload_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Records an upload's outcome.
    pub fn upload_outcome(
        &self,
        run_id: &str,
        state: &str,
        attempts: i64,
        next_at: i64,
        error: Option<&str>,
        uploaded_at: Option<&str>,
    ) -> Result<(), ResultsError> {
        self.conn.execute(
            "UPDATE uploads SET state = ?2, attempts = ?3, next_at = ?4, last_error = ?5, uploaded_at = ?6 WHERE run_id = ?1",
            params![run_id, state, attempts, next_at, error, uploaded_at],
        )?;
        Ok(())
    }

    /// Puts a device's failed uploads back in the queue, due now (`upload_now`).
    pub fn retry_failed(&self, device: i64, now_ms: i64) -> Result<usize, ResultsError> {
        Ok(self.conn.execute(
            "UPDATE uploads SET state = 'waiting', next_at = ?2 WHERE device = ?1 AND state = 'failed'",
            params![device, now_ms],
        )?)
    }

    /// Keeps the invitation a device linked through (LinkedInvite JSON).
    pub fn set_link(&self, device: i64, invite: &str) -> Result<(), ResultsError> {
        self.conn.execute(
            "INSERT INTO links (device, invite) VALUES (?1, ?2) ON CONFLICT (device) DO UPDATE SET invite = excluded.invite",
            params![device, invite],
        )?;
        Ok(())
    }

    /// Every device linked through an invitation in this store, with its invite JSON.
    pub fn linked_devices(&self) -> Result<Vec<(i64, String)>, ResultsError> {
        let mut statement = self.conn.prepare("SELECT device, invite FROM links ORDER BY device")?;
        let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The invitation a device linked through, if any (LinkedInvite JSON).
    pub fn link(&self, device: i64) -> Result<Option<String>, ResultsError> {
        Ok(self
            .conn
            .query_row("SELECT invite FROM links WHERE device = ?1", [device], |r| r.get(0))
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record(id: &str, state: &str) -> RunRecord {
        RunRecord {
            run_id: id.into(),
            device: 7,
            case_id: "UPM-PIN-001".into(),
            title: "t".into(),
            proves: "p".into(),
            state: state.into(),
            verdict: None,
            pos_driven: true,
            account: "buyer-1".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: None,
            duration_ms: None,
            steps: "[]".into(),
            errors: "[]".into(),
            wallet: "[]".into(),
            report: None,
        }
    }

    #[test]
    fn a_run_left_running_becomes_incomplete_when_the_store_is_opened_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.sqlite");
        {
            let store = ResultsStore::open(&path).unwrap();
            store.insert_run(&record("r1", "running")).unwrap();
            store.progress("r1", r#"[{"number":1}]"#, "[]", "[]").unwrap();
            store.add_photo("r1", "receipt", "a.png", "image/png", &[1, 2, 3], "now").unwrap();
        }
        let store = ResultsStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.mark_interrupted("later").unwrap(), 1);
        let run = store.run("r1").unwrap().unwrap();
        assert_eq!((run.state.as_str(), run.verdict.as_deref()), ("incomplete", Some("INCOMPLETE")));
        assert_eq!(run.steps, r#"[{"number":1}]"#, "the recorded steps are kept");
        assert_eq!(store.photos("r1").unwrap()[0].bytes, vec![1, 2, 3]);
        assert_eq!(store.list(7, Some("INCOMPLETE"), None).unwrap().len(), 1);
        assert!(store.list(8, None, None).unwrap().is_empty(), "another device sees none of it");
    }

    #[test]
    fn a_store_from_a_newer_plusbox_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.sqlite");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(ResultsStore::open(&path), Err(ResultsError::TooNew(99))));
    }
}
