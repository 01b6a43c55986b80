//! Store side of the results collector (issue 14): a checked result bundle is written with its
//! runs and photos in ONE transaction — all of it or nothing — and at most once: the same bundle
//! id with the same SHA-256 is a duplicate (nothing written), with other content a conflict.
//! The checks themselves (signature, invite, merchant, shape, images) are the server's
//! (`collector.rs`); this module only stores what passed them, and lists what was collected.

use super::*;

/// A photo of a run, already checked to be an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundlePhoto {
    /// The evidence check it belongs to.
    pub check: String,
    /// `image/png`, `image/jpeg`, … (from the bytes).
    pub media_type: String,
    /// The image.
    pub bytes: Vec<u8>,
}

/// A run of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRun {
    /// The companion's run id.
    pub id: String,
    /// Case id.
    pub case_id: String,
    /// `PASS`, `FAIL`, `ERROR`, `SKIPPED`, `INCOMPLETE`.
    pub verdict: String,
    /// Started (ms, sandbox clock as the device reported it).
    pub started_at: i64,
    /// Ended (ms).
    pub ended_at: Option<i64>,
    /// The run as the companion's RunResult JSON, photos' bytes removed.
    pub body: String,
    /// Its photos.
    pub photos: Vec<BundlePhoto>,
}

/// A bundle to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectedBundle {
    /// The bundle id the device chose when it made the bundle.
    pub id: String,
    /// The invite of the uploading device.
    pub invite_id: String,
    /// The uploading device.
    pub device_id: i64,
    /// SHA-256 (hex) of the exact bytes uploaded.
    pub sha256: String,
    /// Their size.
    pub size: i64,
    /// Its runs.
    pub runs: Vec<BundleRun>,
}

/// What storing a bundle did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleOutcome {
    /// Stored now, with this many runs.
    Stored(usize),
    /// The same bundle (id and content) was stored before; nothing written.
    Duplicate(usize),
    /// A bundle with this id but other content was stored before, or a run id of it belongs to
    /// another bundle; nothing written.
    Conflict(String),
    /// The invite was revoked meanwhile; nothing written.
    Revoked,
}

/// One collected run, as `plusbox results list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectedRow {
    /// Bundle id.
    pub bundle_id: String,
    /// Invite id.
    pub invite_id: String,
    /// Merchant name.
    pub merchant: String,
    /// Merchant id.
    pub mid: String,
    /// Run id.
    pub run_id: String,
    /// Case id.
    pub case_id: String,
    /// Verdict.
    pub verdict: String,
    /// Photos kept with it.
    pub photos: i64,
    /// When the sandbox received it.
    pub uploaded_at: String,
}

/// How many rows each collector table holds (tests prove a refused upload wrote nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CollectorCounts {
    /// `result_bundle` rows.
    pub bundles: i64,
    /// `result_run` rows.
    pub runs: i64,
    /// `result_photo` rows.
    pub photos: i64,
}

impl Store {
    /// Stores a checked bundle with its runs and photos in one transaction (see the module doc).
    pub fn store_bundle(&self, bundle: &CollectedBundle, now: OffsetDateTime) -> Result<BundleOutcome> {
        let now_ms = to_millis(now);
        self.write(|tx| {
            let revoked: Option<Option<i64>> = tx
                .query_row_cached("SELECT revoked_at FROM invite WHERE id = ?1", params![bundle.invite_id], |r| {
                    r.get(0)
                })
                .optional()?;
            match revoked {
                None => return Err(StoreError::NotFound(format!("no invite {:?}", bundle.invite_id))),
                Some(Some(_)) => return Ok(BundleOutcome::Revoked),
                Some(None) => {}
            }
            let before: Option<String> = tx
                .query_row_cached("SELECT sha256 FROM result_bundle WHERE id = ?1", params![bundle.id], |r| {
                    r.get(0)
                })
                .optional()?;
            if let Some(sha) = before {
                if sha == bundle.sha256 {
                    let runs: i64 = tx.query_row_cached(
                        "SELECT COUNT(*) FROM result_run WHERE bundle_id = ?1",
                        params![bundle.id],
                        |r| r.get(0),
                    )?;
                    return Ok(BundleOutcome::Duplicate(usize::try_from(runs).unwrap_or(0)));
                }
                return Ok(BundleOutcome::Conflict(format!(
                    "bundle {} was stored before with other content; a bundle is never replaced",
                    bundle.id
                )));
            }
            for run in &bundle.runs {
                let owner: Option<String> = tx
                    .query_row_cached("SELECT bundle_id FROM result_run WHERE id = ?1", params![run.id], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if let Some(owner) = owner {
                    return Ok(BundleOutcome::Conflict(format!(
                        "run {} was stored before in bundle {owner}; a run is never replaced",
                        run.id
                    )));
                }
            }
            tx.execute_cached(
                "INSERT INTO result_bundle (id, invite_id, device_id, sha256, uploaded_at, size) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![bundle.id, bundle.invite_id, bundle.device_id, bundle.sha256, now_ms, bundle.size],
            )?;
            for run in &bundle.runs {
                tx.execute_cached(
                    "INSERT INTO result_run (id, bundle_id, invite_id, case_id, verdict, started_at, ended_at, uploaded_at, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        run.id,
                        bundle.id,
                        bundle.invite_id,
                        run.case_id,
                        run.verdict,
                        run.started_at,
                        run.ended_at,
                        now_ms,
                        run.body
                    ],
                )?;
                for photo in &run.photos {
                    tx.execute_cached(
                        "INSERT INTO result_photo (run_id, check_id, media_type, bytes) VALUES (?1, ?2, ?3, ?4)",
                        params![run.id, photo.check, photo.media_type, photo.bytes],
                    )?;
                }
            }
            Ok(BundleOutcome::Stored(bundle.runs.len()))
        })
    }

    /// Whether a bundle id was stored (the companion's browser devices ask before recording).
    pub fn bundle_stored(&self, id: &str) -> Result<bool> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached("SELECT 1 FROM result_bundle WHERE id = ?1", params![id], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    /// Every collected run, newest upload first.
    pub fn collected(&self) -> Result<Vec<CollectedRow>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT r.bundle_id, r.invite_id, i.merchant, i.mid, r.id, r.case_id, r.verdict,
                        (SELECT COUNT(*) FROM result_photo p WHERE p.run_id = r.id), r.uploaded_at
                 FROM result_run r JOIN invite i ON i.id = r.invite_id
                 ORDER BY r.uploaded_at DESC, r.rowid DESC",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(CollectedRow {
                        bundle_id: r.get(0)?,
                        invite_id: r.get(1)?,
                        merchant: r.get(2)?,
                        mid: r.get(3)?,
                        run_id: r.get(4)?,
                        case_id: r.get(5)?,
                        verdict: r.get(6)?,
                        photos: r.get(7)?,
                        uploaded_at: format_instant(from_millis(r.get(8)?)),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Row counts of the collector tables.
    pub fn collector_counts(&self) -> Result<CollectorCounts> {
        self.read(|tx| {
            let count = |table: &str| -> Result<i64> {
                Ok(tx.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?)
            };
            Ok(CollectorCounts {
                bundles: count("result_bundle")?,
                runs: count("result_run")?,
                photos: count("result_photo")?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use time::macros::datetime;

    fn bundle(invite: &str, id: &str, sha: &str, run: &str) -> CollectedBundle {
        CollectedBundle {
            id: id.into(),
            invite_id: invite.into(),
            device_id: 1,
            sha256: sha.into(),
            size: 10,
            runs: vec![BundleRun {
                id: run.into(),
                case_id: "UPM-PAY-001".into(),
                verdict: "PASS".into(),
                started_at: 1,
                ended_at: Some(2),
                body: "{}".into(),
                photos: vec![BundlePhoto {
                    check: "receipt".into(),
                    media_type: "image/png".into(),
                    bytes: vec![1],
                }],
            }],
        }
    }

    #[test]
    fn a_bundle_is_stored_once_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = datetime!(2026-01-01 00:00 UTC);
        store.provision_if_empty(now, "http://127.0.0.1:1").unwrap();
        let new = NewInvite {
            merchant: "M".into(),
            mid: "M1".into(),
            email: "a@b.example".into(),
            products: vec!["upm".into()],
            cases: vec![],
        };
        let (invite, _) = store.create_invite(&new, now).unwrap();
        let first = bundle(&invite.id, "bnd_1", "aa", "run-1");
        assert_eq!(store.store_bundle(&first, now).unwrap(), BundleOutcome::Stored(1));
        assert_eq!(store.store_bundle(&first, now).unwrap(), BundleOutcome::Duplicate(1));
        let counts = store.collector_counts().unwrap();
        assert_eq!((counts.bundles, counts.runs, counts.photos), (1, 1, 1));
        assert!(matches!(
            store.store_bundle(&bundle(&invite.id, "bnd_1", "bb", "run-2"), now).unwrap(),
            BundleOutcome::Conflict(_)
        ));
        assert!(matches!(
            store.store_bundle(&bundle(&invite.id, "bnd_2", "cc", "run-1"), now).unwrap(),
            BundleOutcome::Conflict(_)
        ));
        assert_eq!(store.collector_counts().unwrap(), counts, "a conflict writes nothing");
        store.revoke_invite(&invite.id, now).unwrap();
        assert_eq!(
            store.store_bundle(&bundle(&invite.id, "bnd_3", "dd", "run-3"), now).unwrap(),
            BundleOutcome::Revoked
        );
        assert_eq!(store.collector_counts().unwrap(), counts);
        let rows = store.collected().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].mid.as_str(), rows[0].photos), ("M1", 1));
    }
}
