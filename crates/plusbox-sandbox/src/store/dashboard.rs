//! The TSP dashboard's tables and reads: the admin password (an Argon2id PHC string made by the
//! CLI; this module never sees a password), admin sessions stored as the SHA-256 of their token
//! with an expiry, failed logins for rate limiting, and the read side of the invitations and
//! the results collector (the tables of migration 0012, written by `store/invite.rs` and
//! `store/collector.rs`) and of the traffic log, as the dashboard shows them.
//!
//! Admin times (sessions, failures) are real time, passed in by the caller: a test run that
//! jumps the sandbox clock must neither log the admin out nor reset the rate limit.

use super::*;

/// How long an admin session lasts from login (absolute; there is no sliding renewal).
pub const ADMIN_SESSION_TTL: Duration = Duration::hours(12);

/// Failed logins from one client address within [`LOGIN_WINDOW`] before it is refused.
pub const LOGIN_FAILURES_PER_CLIENT: i64 = 5;

/// Failed logins from all addresses together within [`LOGIN_WINDOW`] before every login is
/// refused (a guesser spread over many addresses).
pub const LOGIN_FAILURES_GLOBAL: i64 = 50;

/// The window the failure limits count over.
pub const LOGIN_WINDOW: Duration = Duration::minutes(15);

/// Whether a login may be tried now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginGate {
    /// Under both limits.
    Open,
    /// Over a limit: try again after this long (at least a second).
    Limited {
        /// Until the oldest counted failure leaves the window.
        retry_after: Duration,
        /// The limit hit was the global one (else this client's own).
        global: bool,
    },
}

/// An invitation as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardInvite {
    /// `inv_…`.
    pub id: String,
    /// Merchant name.
    pub merchant: String,
    /// Merchant id.
    pub mid: String,
    /// Contact e-mail.
    pub email: String,
    /// Products (`upm`, `mpm`).
    pub products: Vec<String>,
    /// The assigned cases; `None` = every required case of the products.
    pub cases: Option<Vec<String>>,
    /// Created (ms).
    pub created_at: i64,
    /// Linked (ms).
    pub linked_at: Option<i64>,
    /// Revoked (ms).
    pub revoked_at: Option<i64>,
    /// The newest bundle's upload time (ms).
    pub last_upload_at: Option<i64>,
}

impl DashboardInvite {
    /// `Revoked`, `Active` (linked) or `Inactive`.
    pub fn status(&self) -> &'static str {
        if self.revoked_at.is_some() {
            "Revoked"
        } else if self.linked_at.is_some() {
            "Active"
        } else {
            "Inactive"
        }
    }
}

/// A collected run as listed (no body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardRun {
    /// The companion's run id.
    pub run_id: String,
    /// The invite it was uploaded under.
    pub invite_id: String,
    /// Merchant name (empty when the invite is gone).
    pub merchant: String,
    /// Merchant id.
    pub mid: String,
    /// Case id.
    pub case_id: String,
    /// `PASS`, `FAIL`, `ERROR`, `SKIPPED`, `INCOMPLETE`.
    pub verdict: String,
    /// Started (ms).
    pub started_at: i64,
    /// Ended (ms).
    pub ended_at: Option<i64>,
    /// Uploaded (ms).
    pub uploaded_at: i64,
    /// The bundle it came in.
    pub bundle_id: String,
}

impl DashboardRun {
    /// When the run counts as happening: its end, else its start.
    pub fn at(&self) -> i64 {
        self.ended_at.unwrap_or(self.started_at)
    }
}

/// A collected run with its stored body and its photos' ids.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardRunDetail {
    /// The listing fields.
    pub run: DashboardRun,
    /// The companion's `RunResult` JSON as stored.
    pub body: Value,
    /// Photos: (id, check, media type).
    pub photos: Vec<(i64, String, String)>,
}

/// One inbound Alipay+ call, as the traffic monitor counts it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficSample {
    /// When (ms, sandbox clock).
    pub at: i64,
    /// How long the sandbox took to answer (ms).
    pub duration_ms: f64,
    /// HTTP status of the answer.
    pub response_status: Option<u16>,
    /// `result.resultStatus`.
    pub result_status: Option<String>,
    /// `result.resultCode`.
    pub result_code: Option<String>,
}

const RUN_COLUMNS: &str =
    "r.id, r.invite_id, COALESCE(i.merchant, ''), COALESCE(i.mid, ''), r.case_id, r.verdict, \
     r.started_at, r.ended_at, r.uploaded_at, r.bundle_id";

fn run_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DashboardRun> {
    Ok(DashboardRun {
        run_id: r.get(0)?,
        invite_id: r.get(1)?,
        merchant: r.get(2)?,
        mid: r.get(3)?,
        case_id: r.get(4)?,
        verdict: r.get(5)?,
        started_at: r.get(6)?,
        ended_at: r.get(7)?,
        uploaded_at: r.get(8)?,
        bundle_id: r.get(9)?,
    })
}

/// A JSON list of strings; anything else (hand-edited rows) reads as empty rather than failing
/// the whole dashboard.
fn string_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

impl Store {
    /// Sets (or replaces) the admin password's PHC string and ends every admin session, so a
    /// changed password locks out whoever held the old one.
    pub fn set_admin_password(&self, phc: &str, now: OffsetDateTime) -> Result<()> {
        if !phc.starts_with("$argon2") {
            return Err(StoreError::Invalid(
                "the admin password must be stored as an Argon2 PHC string".into(),
            ));
        }
        self.write(|tx| {
            tx.execute_cached(
                "INSERT INTO admin (id, password_hash, set_at) VALUES (1, ?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET password_hash = excluded.password_hash, set_at = excluded.set_at",
                params![phc, to_millis(now)],
            )?;
            tx.execute_cached("DELETE FROM admin_session", [])?;
            Ok(())
        })
    }

    /// The admin password's PHC string, if one is set.
    pub fn admin_password_hash(&self) -> Result<Option<String>> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached("SELECT password_hash FROM admin WHERE id = 1", [], |r| r.get(0))
                .optional()?)
        })
    }

    /// Whether `client` may try a login now (see [`LOGIN_FAILURES_PER_CLIENT`] and
    /// [`LOGIN_FAILURES_GLOBAL`]).
    pub fn admin_login_gate(&self, client: &str, now: OffsetDateTime) -> Result<LoginGate> {
        let now_ms = to_millis(now);
        let since = now_ms.saturating_sub(to_millis_duration(LOGIN_WINDOW));
        self.read(|tx| {
            let (own, own_oldest): (i64, Option<i64>) = tx.query_row_cached(
                "SELECT COUNT(*), MIN(at) FROM admin_login_failure WHERE client = ?1 AND at > ?2",
                params![client, since],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let (all, all_oldest): (i64, Option<i64>) = tx.query_row_cached(
                "SELECT COUNT(*), MIN(at) FROM admin_login_failure WHERE at > ?1",
                params![since],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let retry = |oldest: Option<i64>| {
                let until = oldest.unwrap_or(now_ms).saturating_add(to_millis_duration(LOGIN_WINDOW));
                let ms = until.saturating_sub(now_ms).max(1000);
                Duration::milliseconds(ms)
            };
            Ok(if own >= LOGIN_FAILURES_PER_CLIENT {
                LoginGate::Limited { retry_after: retry(own_oldest), global: false }
            } else if all >= LOGIN_FAILURES_GLOBAL {
                LoginGate::Limited { retry_after: retry(all_oldest), global: true }
            } else {
                LoginGate::Open
            })
        })
    }

    /// Counts a failed login from `client` (and forgets failures older than the window).
    pub fn record_admin_login_failure(&self, client: &str, now: OffsetDateTime) -> Result<()> {
        let now_ms = to_millis(now);
        let since = now_ms.saturating_sub(to_millis_duration(LOGIN_WINDOW));
        self.write(|tx| {
            tx.execute_cached("DELETE FROM admin_login_failure WHERE at <= ?1", params![since])?;
            tx.execute_cached(
                "INSERT INTO admin_login_failure (at, client) VALUES (?1, ?2)",
                params![now_ms, client],
            )?;
            Ok(())
        })
    }

    /// Stores a new admin session for `token` (only its SHA-256), valid for
    /// [`ADMIN_SESSION_TTL`]; expired sessions are removed on the way.
    pub fn create_admin_session(&self, token: &str, client: &str, now: OffsetDateTime) -> Result<()> {
        let now_ms = to_millis(now);
        let expires = to_millis(crate::clock::add_saturating(now, ADMIN_SESSION_TTL));
        let hash = ids::sha256_hex(token);
        self.write(|tx| {
            tx.execute_cached("DELETE FROM admin_session WHERE expires_at <= ?1", params![now_ms])?;
            tx.execute_cached(
                "INSERT INTO admin_session (token_hash, client, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![hash, client, now_ms, expires],
            )?;
            Ok(())
        })
    }

    /// Whether `token` names an admin session that has not expired.
    pub fn admin_session_valid(&self, token: &str, now: OffsetDateTime) -> Result<bool> {
        let hash = ids::sha256_hex(token);
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT 1 FROM admin_session WHERE token_hash = ?1 AND expires_at > ?2",
                    params![hash, to_millis(now)],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
    }

    /// Ends the admin session of `token` (nothing happens if there is none).
    pub fn end_admin_session(&self, token: &str) -> Result<()> {
        let hash = ids::sha256_hex(token);
        self.write(|tx| {
            tx.execute_cached("DELETE FROM admin_session WHERE token_hash = ?1", params![hash])?;
            Ok(())
        })
    }

    /// Every invitation, oldest first, with its newest upload time.
    pub fn dashboard_invites(&self) -> Result<Vec<DashboardInvite>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT i.id, i.merchant, i.mid, i.email, i.products, i.cases, i.created_at, i.linked_at, i.revoked_at,
                        (SELECT MAX(b.uploaded_at) FROM result_bundle b WHERE b.invite_id = i.id)
                 FROM invite i ORDER BY i.created_at, i.id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    let cases: Option<String> = r.get(5)?;
                    Ok(DashboardInvite {
                        id: r.get(0)?,
                        merchant: r.get(1)?,
                        mid: r.get(2)?,
                        email: r.get(3)?,
                        products: string_list(&r.get::<_, String>(4)?),
                        cases: cases.as_deref().map(string_list),
                        created_at: r.get(6)?,
                        linked_at: r.get(7)?,
                        revoked_at: r.get(8)?,
                        last_upload_at: r.get(9)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Every invite's id and status (`Inactive`, `Active`, `Revoked`): what the live event
    /// stream compares on each poll, so it reads no uploads.
    pub fn invite_statuses(&self) -> Result<Vec<(String, &'static str)>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT id, linked_at IS NOT NULL, revoked_at IS NOT NULL FROM invite ORDER BY created_at, id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    let (linked, revoked): (bool, bool) = (r.get(1)?, r.get(2)?);
                    let status = if revoked {
                        "Revoked"
                    } else if linked {
                        "Active"
                    } else {
                        "Inactive"
                    };
                    Ok((r.get(0)?, status))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// The latest run of each (invite, case): latest by its end (else its start), then by
    /// upload, so a FAIL followed by a PASS of the same case shows the PASS.
    pub fn latest_collected_runs(&self) -> Result<Vec<DashboardRun>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM (
                     SELECT *, ROW_NUMBER() OVER (
                         PARTITION BY invite_id, case_id
                         ORDER BY COALESCE(ended_at, started_at) DESC, uploaded_at DESC, rowid DESC) AS n
                     FROM result_run) r
                 LEFT JOIN invite i ON i.id = r.invite_id
                 WHERE r.n = 1"
            ))?;
            let rows = stmt.query_map([], run_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Collected runs, newest first, optionally of one invite and/or one case, at most `limit`.
    pub fn collected_runs(
        &self,
        invite: Option<&str>,
        case: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DashboardRun>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM result_run r LEFT JOIN invite i ON i.id = r.invite_id
                 WHERE (?1 IS NULL OR r.invite_id = ?1) AND (?2 IS NULL OR r.case_id = ?2)
                 ORDER BY COALESCE(r.ended_at, r.started_at) DESC, r.uploaded_at DESC, r.rowid DESC
                 LIMIT ?3"
            ))?;
            let rows = stmt
                .query_map(params![invite, case, limit], run_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// One collected run with its body and photo list.
    pub fn collected_run(&self, run_id: &str) -> Result<Option<DashboardRunDetail>> {
        self.read(|tx| {
            let found = tx
                .query_row_cached(
                    &format!(
                        "SELECT {RUN_COLUMNS}, r.body FROM result_run r LEFT JOIN invite i ON i.id = r.invite_id
                         WHERE r.id = ?1"
                    ),
                    params![run_id],
                    |r| Ok((run_from_row(r)?, r.get::<_, String>(10)?)),
                )
                .optional()?;
            let Some((run, body)) = found else { return Ok(None) };
            let body = serde_json::from_str(&body).unwrap_or(Value::Null);
            let mut stmt = tx.prepare_cached(
                "SELECT id, check_id, media_type FROM result_photo WHERE run_id = ?1 ORDER BY id",
            )?;
            let photos = stmt
                .query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(DashboardRunDetail { run, body, photos }))
        })
    }

    /// A collected photo: (media type, bytes).
    pub fn collected_photo(&self, id: i64) -> Result<Option<(String, Vec<u8>)>> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT media_type, bytes FROM result_photo WHERE id = ?1",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?)
        })
    }

    /// Collected runs stored after row `after` (the result_run rowid): the newest rowid and
    /// (invite id, run id) of each new run, in order.
    pub fn collected_since(&self, after: i64) -> Result<(i64, Vec<(String, String)>)> {
        self.read(|tx| {
            let newest: i64 =
                tx.query_row_cached("SELECT COALESCE(MAX(rowid), 0) FROM result_run", [], |r| r.get(0))?;
            let mut stmt = tx.prepare_cached(
                "SELECT invite_id, id FROM result_run WHERE rowid > ?1 AND rowid <= ?2 ORDER BY rowid",
            )?;
            let rows = stmt
                .query_map(params![after, newest], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((newest, rows))
        })
    }

    /// Inbound Alipay+ calls in `[from, to]` (ms, sandbox clock), oldest first.
    pub fn inbound_traffic(&self, from: i64, to: i64) -> Result<Vec<TrafficSample>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT at, duration_ms, response_status, result_status, result_code FROM traffic
                 WHERE at >= ?1 AND at <= ?2 AND direction = 'inbound' ORDER BY at",
            )?;
            let rows = stmt
                .query_map(params![from, to], |r| {
                    Ok(TrafficSample {
                        at: r.get(0)?,
                        duration_ms: r.get(1)?,
                        response_status: r.get(2)?,
                        result_status: r.get(3)?,
                        result_code: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}

/// A duration in whole milliseconds (saturating).
fn to_millis_duration(d: Duration) -> i64 {
    i64::try_from(d.whole_milliseconds()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_client_is_refused_after_its_failures_and_everyone_after_the_global_count() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = datetime!(2026-12-07 10:00 UTC);
        for _ in 0..LOGIN_FAILURES_PER_CLIENT {
            assert_eq!(store.admin_login_gate("10.0.0.1", now).unwrap(), LoginGate::Open);
            store.record_admin_login_failure("10.0.0.1", now).unwrap();
        }
        let later = now + Duration::minutes(5);
        match store.admin_login_gate("10.0.0.1", later).unwrap() {
            LoginGate::Limited { retry_after, global } => {
                assert!(!global);
                assert_eq!(retry_after, Duration::minutes(10));
            }
            LoginGate::Open => panic!("the client should be limited"),
        }
        // Another address is still open, until failures from many addresses reach the global count.
        assert_eq!(store.admin_login_gate("10.0.0.2", later).unwrap(), LoginGate::Open);
        for i in 0..(LOGIN_FAILURES_GLOBAL - LOGIN_FAILURES_PER_CLIENT) {
            store.record_admin_login_failure(&format!("10.1.{}.{}", i / 4, i % 4), later).unwrap();
        }
        assert!(matches!(
            store.admin_login_gate("10.0.0.2", later).unwrap(),
            LoginGate::Limited { global: true, .. }
        ));
        // Once the window has passed, all are open again.
        let after = now + LOGIN_WINDOW + Duration::minutes(6);
        assert_eq!(store.admin_login_gate("10.0.0.1", after).unwrap(), LoginGate::Open);
        assert_eq!(store.admin_login_gate("10.0.0.2", after).unwrap(), LoginGate::Open);
    }

    #[test]
    fn sessions_are_stored_hashed_expire_and_end_when_the_password_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = datetime!(2026-12-07 10:00 UTC);
        store.set_admin_password("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", now).unwrap();
        store.create_admin_session("pbxa_secret", "127.0.0.1", now).unwrap();
        assert!(store.admin_session_valid("pbxa_secret", now).unwrap());
        assert!(!store.admin_session_valid("pbxa_other", now).unwrap());
        let stored: String =
            store.lock().query_row("SELECT token_hash FROM admin_session", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, ids::sha256_hex("pbxa_secret"));
        assert!(!store.admin_session_valid("pbxa_secret", now + ADMIN_SESSION_TTL).unwrap());
        store.set_admin_password("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$b3RoZXI", now).unwrap();
        assert!(!store.admin_session_valid("pbxa_secret", now).unwrap());
        assert!(store.set_admin_password("plain text", now).is_err());
    }
}
