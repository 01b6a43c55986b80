//! Store side of invitations (issue 14): a merchant invited to test (`plusbox invite create`),
//! with its own buyer account, the cases it must pass and a link token kept only as a SHA-256
//! hash; linking a device through the token (a device token scoped to the invite's merchant,
//! buyer and cases, with the device's Ed25519 public key); revoking an invite and its devices.
//!
//! Status: `revoked_at` → Revoked; `linked_at` → Active; else Inactive.

use plusbox_core::codes::RandomSource;

use super::companion_app::DeviceView;
use super::*;

/// An invite's status, as `invite list` and the dashboard show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InviteStatus {
    /// Created, no device linked yet.
    Inactive,
    /// A device linked through it.
    Active,
    /// Revoked: its link and devices are refused.
    Revoked,
}

impl std::fmt::Display for InviteStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InviteStatus::Inactive => "Inactive",
            InviteStatus::Active => "Active",
            InviteStatus::Revoked => "Revoked",
        })
    }
}

/// What `invite create` asks for (validated by the caller against the catalogue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvite {
    /// The merchant's name.
    pub merchant: String,
    /// Its merchant id (`referenceMerchantId` in its requests).
    pub mid: String,
    /// Who to send the link to.
    pub email: String,
    /// `upm` and/or `mpm`.
    pub products: Vec<String>,
    /// The cases it must pass.
    pub cases: Vec<String>,
}

/// An invite as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteView {
    /// `inv_` + 16 base32 characters.
    pub id: String,
    /// Merchant name.
    pub merchant: String,
    /// Merchant id.
    pub mid: String,
    /// Email.
    pub email: String,
    /// `upm`, `mpm`.
    pub products: Vec<String>,
    /// The cases it must pass.
    pub cases: Vec<String>,
    /// Its buyer accounts on this sandbox.
    pub accounts: Vec<String>,
    /// Inactive, Active or Revoked.
    pub status: InviteStatus,
    /// When it was created.
    pub created_at: String,
    /// When a device first linked.
    pub linked_at: Option<String>,
    /// When it was revoked.
    pub revoked_at: Option<String>,
}

/// What presenting an invite token gave.
#[derive(Debug, Clone)]
pub enum LinkOutcome {
    /// A new device, scoped to the invite; its token (shown once, stored hashed).
    Linked {
        /// The invite.
        invite: Box<InviteView>,
        /// The device.
        device: DeviceView,
        /// Its token.
        token: SecretString,
    },
    /// No invite has this token.
    Unknown,
    /// The invite was revoked.
    Revoked,
}

/// The base32 alphabet of invite ids (RFC 4648, upper case).
const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn random_base32(rng: &mut impl RandomSource, count: usize) -> String {
    let mut out = String::with_capacity(count);
    while out.len() < count {
        // 32 divides 2^64: every letter equally likely without rejection.
        let index = usize::try_from(rng.next_u64() % 32).unwrap_or(0);
        out.push(char::from(BASE32[index]));
    }
    out
}

const INVITE_COLUMNS: &str =
    "id, merchant, mid, email, products, cases, accounts, created_at, linked_at, revoked_at";

fn json_list(text: Option<String>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

fn invite_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<InviteView> {
    let linked: Option<i64> = r.get(8)?;
    let revoked: Option<i64> = r.get(9)?;
    let status = match (revoked, linked) {
        (Some(_), _) => InviteStatus::Revoked,
        (None, Some(_)) => InviteStatus::Active,
        (None, None) => InviteStatus::Inactive,
    };
    Ok(InviteView {
        id: r.get(0)?,
        merchant: r.get(1)?,
        mid: r.get(2)?,
        email: r.get(3)?,
        products: json_list(r.get(4)?),
        cases: json_list(r.get(5)?),
        accounts: json_list(r.get(6)?),
        status,
        created_at: format_instant(from_millis(r.get(7)?)),
        linked_at: linked.map(|at| format_instant(from_millis(at))),
        revoked_at: revoked.map(|at| format_instant(from_millis(at))),
    })
}

fn invite_by_id(tx: &Connection, id: &str) -> Result<Option<InviteView>> {
    Ok(tx
        .query_row_cached(
            &format!("SELECT {INVITE_COLUMNS} FROM invite WHERE id = ?1"),
            params![id],
            invite_from_row,
        )
        .optional()?)
}

fn to_json(list: &[String]) -> Result<String> {
    serde_json::to_string(list).map_err(|e| StoreError::Invalid(e.to_string()))
}

impl Store {
    /// Creates an invite with its own buyer account (made like `buyer-1`, no balance: a run
    /// arranges what it needs) and a link token, returned once and stored only as a hash.
    pub fn create_invite(&self, new: &NewInvite, now: OffsetDateTime) -> Result<(InviteView, SecretString)> {
        let mut rng = ids::SystemRng::new();
        let id = format!("inv_{}", random_base32(&mut rng, 16));
        let token = SecretString::new(ids::device_token(&mut rng).replacen("pbx_", "invite_", 1));
        let account = format!("{id}-buyer");
        let now_ms = to_millis(now);
        let invite = self.write(|tx| {
            let template: Option<(String, String, String)> = tx
                .query_row_cached(
                    "SELECT pin, wallet, customer_id FROM account WHERE id = 'buyer-1'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let (pin, wallet, customer) = template.ok_or(StoreError::NotProvisioned)?;
            let digits: String = id.chars().filter(char::is_ascii_digit).collect();
            tx.execute_cached(
                "INSERT INTO account (id, name, scenario, pin, wallet, customer_id, created_at)
                 VALUES (?1, ?2, 'success', ?3, ?4, ?5, ?6)",
                params![account, format!("Test buyer of {}", new.merchant), pin, wallet, format!("{customer}{digits}"), now_ms],
            )?;
            tx.execute_cached(
                "INSERT INTO invite (id, merchant, mid, email, products, cases, token_hash, accounts, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    id,
                    new.merchant,
                    new.mid,
                    new.email,
                    to_json(&new.products)?,
                    to_json(&new.cases)?,
                    ids::sha256_hex(token.expose()),
                    to_json(std::slice::from_ref(&account))?,
                    now_ms
                ],
            )?;
            invite_by_id(tx, &id)?.ok_or_else(|| StoreError::NotFound(format!("the new invite {id} vanished")))
        })?;
        Ok((invite, token))
    }

    /// Every invite, oldest first.
    pub fn invites(&self) -> Result<Vec<InviteView>> {
        self.read(|tx| {
            let mut stmt = tx
                .prepare_cached(&format!("SELECT {INVITE_COLUMNS} FROM invite ORDER BY created_at, rowid"))?;
            let rows = stmt.query_map([], invite_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// One invite.
    pub fn invite(&self, id: &str) -> Result<InviteView> {
        self.read(|tx| invite_by_id(tx, id)?.ok_or_else(|| StoreError::NotFound(format!("no invite {id:?}"))))
    }

    /// Revokes an invite and every device linked through it. Revoking twice keeps the first time.
    pub fn revoke_invite(&self, id: &str, now: OffsetDateTime) -> Result<InviteView> {
        let now_ms = to_millis(now);
        self.write(|tx| {
            let changed = tx.execute_cached(
                "UPDATE invite SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2",
                params![now_ms, id],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!("no invite {id:?}; see `plusbox invite list`")));
            }
            tx.execute_cached(
                "UPDATE device SET revoked_at = COALESCE(revoked_at, ?1)
                 WHERE id IN (SELECT device_id FROM invite_device WHERE invite_id = ?2)",
                params![now_ms, id],
            )?;
            invite_by_id(tx, id)?.ok_or_else(|| StoreError::NotFound(format!("no invite {id:?}")))
        })
    }

    /// Links a new device through an invite token: the device is scoped to the invite's merchant
    /// (its MID), its buyer and its cases, and keeps `public_key` (SPKI DER, Base64; checked by
    /// the caller) to verify its uploads. The invite becomes Active.
    pub fn link_invite(
        &self,
        token: &str,
        device_name: &str,
        public_key: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<LinkOutcome> {
        let hash = ids::sha256_hex(token.trim());
        let mut rng = ids::SystemRng::new();
        let device_token = SecretString::new(ids::device_token(&mut rng));
        let now_ms = to_millis(now);
        self.write(|tx| {
            let invite = tx
                .query_row_cached(
                    &format!("SELECT {INVITE_COLUMNS} FROM invite WHERE token_hash = ?1"),
                    params![hash],
                    invite_from_row,
                )
                .optional()?;
            let Some(invite) = invite else { return Ok(LinkOutcome::Unknown) };
            if invite.status == InviteStatus::Revoked {
                return Ok(LinkOutcome::Revoked);
            }
            let name: String = device_name.trim().chars().filter(|c| !c.is_control()).take(64).collect();
            let name = if name.is_empty() { format!("{} device", invite.merchant) } else { name };
            tx.execute_cached(
                "INSERT INTO device (name, token_hash, created_at) VALUES (?1, ?2, ?3)",
                params![name, ids::sha256_hex(device_token.expose()), now_ms],
            )?;
            let device_id = tx.last_insert_rowid();
            tx.execute_cached(
                "INSERT INTO device_scope (device_id, merchant, account, clock_control) VALUES (?1, ?2, ?3, 0)",
                params![device_id, invite.mid, invite.accounts.first()],
            )?;
            if !invite.cases.is_empty() {
                tx.execute_cached(
                    "INSERT INTO device_cases (device_id, cases) VALUES (?1, ?2)",
                    params![device_id, to_json(&invite.cases)?],
                )?;
            }
            tx.execute_cached(
                "INSERT INTO invite_device (device_id, invite_id, public_key) VALUES (?1, ?2, ?3)",
                params![device_id, invite.id, public_key],
            )?;
            tx.execute_cached(
                "UPDATE invite SET linked_at = COALESCE(linked_at, ?1) WHERE id = ?2",
                params![now_ms, invite.id],
            )?;
            let device = tx.query_row_cached(
                "SELECT id, name, created_at, last_seen_at, revoked_at FROM device WHERE id = ?1",
                params![device_id],
                |r| {
                    Ok(DeviceView {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: format_instant(from_millis(r.get(2)?)),
                        last_seen_at: None,
                        revoked_at: None,
                    })
                },
            )?;
            let invite = invite_by_id(tx, &invite.id)?.unwrap_or(invite);
            Ok(LinkOutcome::Linked { invite: Box::new(invite), device, token: device_token.clone() })
        })
    }

    /// The invite a device was linked through, and its public key (None for a browser device).
    pub fn device_invite(&self, device_id: i64) -> Result<Option<(InviteView, Option<String>)>> {
        self.read(|tx| {
            let found: Option<(String, Option<String>)> = tx
                .query_row_cached(
                    "SELECT invite_id, public_key FROM invite_device WHERE device_id = ?1",
                    params![device_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((invite_id, key)) = found else { return Ok(None) };
            Ok(invite_by_id(tx, &invite_id)?.map(|invite| (invite, key)))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use time::macros::datetime;

    fn provisioned() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.provision_if_empty(datetime!(2026-01-01 00:00 UTC), "http://127.0.0.1:1").unwrap();
        (dir, store)
    }

    fn new_invite() -> NewInvite {
        NewInvite {
            merchant: "Kopi Corner".into(),
            mid: "M123".into(),
            email: "ops@kopi.example".into(),
            products: vec!["upm".into()],
            cases: vec!["UPM-PAY-001".into()],
        }
    }

    #[test]
    fn an_invite_goes_from_inactive_to_active_when_linked_and_revoking_revokes_its_devices() {
        let (_dir, store) = provisioned();
        let now = datetime!(2026-01-01 01:00 UTC);
        let (invite, token) = store.create_invite(&new_invite(), now).unwrap();
        assert!(invite.id.starts_with("inv_") && invite.id.len() == 20, "{}", invite.id);
        assert_eq!(invite.status, InviteStatus::Inactive);
        assert_eq!(store.account(&invite.accounts[0]).unwrap().id, invite.accounts[0]);
        let stored_hash: String = store
            .lock()
            .query_row("SELECT token_hash FROM invite WHERE id = ?1", [&invite.id], |r| r.get(0))
            .unwrap();
        assert_eq!(stored_hash, ids::sha256_hex(token.expose()), "only the hash is kept");

        let LinkOutcome::Linked { invite: linked, device, token: device_token } =
            store.link_invite(token.expose(), "phone", Some("KEY"), now).unwrap()
        else {
            panic!("not linked")
        };
        assert_eq!(linked.status, InviteStatus::Active);
        let scope = store.device_scope(device.id).unwrap();
        assert_eq!(scope.merchant.as_deref(), Some("M123"));
        assert_eq!(scope.account.as_deref(), Some(invite.accounts[0].as_str()));
        assert_eq!(store.device_cases(device.id).unwrap(), vec!["UPM-PAY-001".to_string()]);
        let (of_device, key) = store.device_invite(device.id).unwrap().unwrap();
        assert_eq!((of_device.id.as_str(), key.as_deref()), (invite.id.as_str(), Some("KEY")));

        assert!(matches!(store.link_invite("invite_nope", "x", None, now).unwrap(), LinkOutcome::Unknown));
        let revoked = store.revoke_invite(&invite.id, now).unwrap();
        assert_eq!(revoked.status, InviteStatus::Revoked);
        assert!(matches!(
            store.authenticate_device(device_token.expose(), now).unwrap(),
            DeviceAuth::Revoked(_)
        ));
        assert!(matches!(
            store.link_invite(token.expose(), "again", None, now).unwrap(),
            LinkOutcome::Revoked
        ));
        assert!(matches!(store.revoke_invite("inv_NOPE", now), Err(StoreError::NotFound(_))));
    }
}
