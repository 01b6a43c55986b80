//! Store side of the test-control API (`/app/v1/test/…`): what a paired device may see and
//! arrange, and the one active test run per buyer.
//!
//! A device's scope is chosen when it is paired (`plusbox app pair --token --merchant M --account
//! A [--clock]`) or later (`plusbox app scope`). A scoped device sees only traffic, payments and
//! mock rules of its merchant (`order.merchant.referenceMerchantId`) or its buyer account, and
//! arranges only its own buyer. A device with neither (every device paired before scopes existed)
//! is the sandbox owner's and sees everything, as the rest of the companion API always did.

use super::*;

/// What a device may see and arrange through the test-control API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceScope {
    /// Its merchant (`referenceMerchantId`): calls about this merchant's payments are its own.
    pub merchant: Option<String>,
    /// Its buyer account: the one it arranges and pays with.
    pub account: Option<String>,
    /// May jump the sandbox clock (which moves time for everyone; see the API docs).
    pub clock_control: bool,
}

impl DeviceScope {
    /// No merchant and no buyer: the sandbox owner's device, which sees everything.
    pub fn is_owner(&self) -> bool {
        self.merchant.is_none() && self.account.is_none()
    }

    /// Whether something about `merchant` and `account` is this device's to see.
    pub fn covers(&self, merchant: Option<&str>, account: Option<&str>) -> bool {
        self.is_owner()
            || (self.merchant.is_some() && self.merchant.as_deref() == merchant)
            || (self.account.is_some() && self.account.as_deref() == account)
    }

    /// Whether the device may arrange this buyer account (scenario, balance, rules, runs).
    pub fn may_arrange(&self, account: &str) -> bool {
        self.is_owner() || self.account.as_deref() == Some(account)
    }
}

/// A run that already holds a buyer (see [`Store::begin_test_run`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveRun {
    /// Run id.
    pub id: i64,
    /// The device running it.
    pub device_id: i64,
    /// The buyer it pays with.
    pub account: String,
    /// When it started.
    pub started_at: String,
}

/// How long a run that nobody touches keeps its buyer (a runner that died mid-run does not lock
/// the buyer forever).
pub const TEST_RUN_STALE_AFTER: Duration = Duration::minutes(10);

impl Store {
    /// Sets a device's scope. The buyer account must exist (see [`Store::ensure_buyer_like`]).
    pub fn set_device_scope(&self, device_id: i64, scope: &DeviceScope) -> Result<()> {
        self.write(|tx| {
            let known: Option<i64> = tx
                .query_row("SELECT id FROM device WHERE id = ?1", params![device_id], |r| r.get(0))
                .optional()?;
            if known.is_none() {
                return Err(StoreError::NotFound(format!("no device {device_id}; see `plusbox app devices`")));
            }
            if let Some(account) = &scope.account {
                ensure_account(tx, account)?;
            }
            if scope.merchant.as_deref().is_some_and(|m| m.trim().is_empty() || m.len() > 64) {
                return Err(StoreError::Invalid("a merchant id is 1 to 64 characters".into()));
            }
            tx.execute(
                "INSERT INTO device_scope (device_id, merchant, account, clock_control) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (device_id) DO UPDATE SET merchant = excluded.merchant, account = excluded.account,
                    clock_control = excluded.clock_control",
                params![device_id, scope.merchant, scope.account, scope.clock_control],
            )?;
            Ok(())
        })
    }

    /// A device's scope (unscoped, the owner's, when none was set).
    pub fn device_scope(&self, device_id: i64) -> Result<DeviceScope> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT merchant, account, clock_control FROM device_scope WHERE device_id = ?1",
                    params![device_id],
                    |r| Ok(DeviceScope { merchant: r.get(0)?, account: r.get(1)?, clock_control: r.get(2)? }),
                )
                .optional()?
                .unwrap_or_default())
        })
    }

    /// The device id of the newest device with this name (the CLI scopes the device it just
    /// paired).
    pub fn device_id_by_name(&self, name: &str) -> Result<Option<i64>> {
        self.read(|tx| {
            Ok(tx
                .query_row("SELECT MAX(id) FROM device WHERE name = ?1", params![name], |r| r.get(0))
                .optional()?
                .flatten())
        })
    }

    /// The merchant and buyer a payment (by paymentId or paymentRequestId) is about; `None` when
    /// no payment has that id.
    pub fn payment_scope(&self, id: &str) -> Result<Option<(Option<String>, Option<String>)>> {
        self.read(|tx| {
            let found: Option<(Option<String>, Option<String>)> = tx
                .query_row_cached(
                    "SELECT account_id, request_body FROM payment WHERE payment_id = ?1 OR payment_request_id = ?1
                     ORDER BY id DESC LIMIT 1",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(found.map(|(account, body)| {
                let merchant = body
                    .and_then(|b| serde_json::from_str::<Value>(&b).ok())
                    .and_then(|v| v.pointer("/order/merchant/referenceMerchantId").and_then(Value::as_str).map(str::to_owned));
                (merchant, account)
            }))
        })
    }

    /// Up to `limit` traffic entries after `after` that `scope` covers, oldest first, and the id
    /// the next page starts after (the last entry looked at, seen or not).
    pub fn traffic_in_scope(
        &self,
        scope: &DeviceScope,
        after: i64,
        limit: u32,
    ) -> Result<(Vec<TrafficView>, i64)> {
        let mut out = Vec::new();
        let mut cursor = after;
        let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
        loop {
            let page = self.traffic(cursor, 500)?;
            let Some(last) = page.last() else { break };
            let next = last.id;
            let full = page.len() == 500;
            let visible = self.read(|tx| {
                let mut keep = Vec::new();
                for entry in page {
                    let (merchant, account) =
                        super::arrange::call_scope(tx, &entry.api, entry.request_body.as_bytes())?;
                    if scope.covers(merchant.as_deref(), account.as_deref()) {
                        keep.push(entry);
                    }
                }
                Ok(keep)
            })?;
            for entry in visible {
                if out.len() == wanted {
                    return Ok((out, cursor));
                }
                cursor = entry.id;
                out.push(entry);
            }
            cursor = cursor.max(next);
            if !full {
                break;
            }
        }
        Ok((out, cursor))
    }

    /// A mock rule's scope; `None` when there is no such rule.
    pub fn mock_scope(&self, id: i64) -> Result<Option<MockScope>> {
        self.read(|tx| {
            Ok(tx
                .query_row("SELECT scope_merchant, scope_account FROM mock WHERE id = ?1", params![id], |r| {
                    Ok(MockScope { merchant: r.get(0)?, account: r.get(1)? })
                })
                .optional()?)
        })
    }

    /// The mock rules `scope` covers, with their own scopes. A scoped device sees only rules
    /// scoped to its merchant or buyer (never another's, nor the owner's global rules).
    pub fn mocks_in_scope(
        &self,
        scope: &DeviceScope,
        now: OffsetDateTime,
    ) -> Result<Vec<(MockRule, MockScope)>> {
        let mut out = Vec::new();
        for rule in self.mocks(now)? {
            let Some(rule_scope) = self.mock_scope(rule.id)? else { continue };
            let global = rule_scope.merchant.is_none() && rule_scope.account.is_none();
            let visible = scope.is_owner()
                || (!global && scope.covers(rule_scope.merchant.as_deref(), rule_scope.account.as_deref()));
            if visible {
                out.push((rule, rule_scope));
            }
        }
        Ok(out)
    }

    /// Starts a test run on `account` for a device; `Ok(Err(run))` names the run that already
    /// holds the buyer. A run nobody touched for [`TEST_RUN_STALE_AFTER`] no longer holds it.
    pub fn begin_test_run(
        &self,
        device_id: i64,
        account: &str,
        now: OffsetDateTime,
    ) -> Result<std::result::Result<i64, ActiveRun>> {
        let stale = to_millis(crate::clock::add_saturating(now, -TEST_RUN_STALE_AFTER));
        self.write(|tx| {
            ensure_account(tx, account)?;
            let active: Option<ActiveRun> = tx
                .query_row(
                    "SELECT id, device_id, account_id, started_at FROM test_run
                     WHERE account_id = ?1 AND ended_at IS NULL AND touched_at > ?2 ORDER BY id LIMIT 1",
                    params![account, stale],
                    |r| {
                        Ok(ActiveRun {
                            id: r.get(0)?,
                            device_id: r.get(1)?,
                            account: r.get(2)?,
                            started_at: format_instant(from_millis(r.get(3)?)),
                        })
                    },
                )
                .optional()?;
            if let Some(active) = active {
                return Ok(Err(active));
            }
            tx.execute(
                "INSERT INTO test_run (device_id, account_id, started_at, touched_at) VALUES (?1, ?2, ?3, ?3)",
                params![device_id, account, to_millis(now)],
            )?;
            Ok(Ok(tx.last_insert_rowid()))
        })
    }

    /// Keeps a device's open runs alive (any test-control call does this).
    pub fn touch_test_runs(&self, device_id: i64, now: OffsetDateTime) -> Result<()> {
        self.write(|tx| {
            tx.execute_cached(
                "UPDATE test_run SET touched_at = ?1 WHERE device_id = ?2 AND ended_at IS NULL",
                params![to_millis(now), device_id],
            )?;
            Ok(())
        })
    }

    /// Ends a device's run; false when it has no such open run.
    pub fn end_test_run(&self, device_id: i64, run_id: i64, now: OffsetDateTime) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE test_run SET ended_at = ?1 WHERE id = ?2 AND device_id = ?3 AND ended_at IS NULL",
                params![to_millis(now), run_id, device_id],
            )? > 0)
        })
    }

    /// Runs that hold a buyer now.
    pub fn active_test_runs(&self, now: OffsetDateTime) -> Result<Vec<ActiveRun>> {
        let stale = to_millis(crate::clock::add_saturating(now, -TEST_RUN_STALE_AFTER));
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT id, device_id, account_id, started_at FROM test_run
                 WHERE ended_at IS NULL AND touched_at > ?1 ORDER BY id",
            )?;
            let rows = stmt
                .query_map(params![stale], |r| {
                    Ok(ActiveRun {
                        id: r.get(0)?,
                        device_id: r.get(1)?,
                        account: r.get(2)?,
                        started_at: format_instant(from_millis(r.get(3)?)),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// The refunds of a payment as the sandbox answered them, oldest first.
    pub fn refunds_of(&self, payment_id: &str) -> Result<Vec<RefundView>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT r.refund_request_id, r.refund_id, r.currency, r.amount, r.result_code, r.created_at
                 FROM refund r JOIN payment p ON p.id = r.payment_row WHERE p.payment_id = ?1 ORDER BY r.id",
            )?;
            let rows = stmt
                .query_map(params![payment_id], |r| {
                    Ok(RefundView {
                        refund_request_id: r.get(0)?,
                        refund_id: r.get(1)?,
                        amount: amount_from_row(r, 2, 3)?,
                        result_code: r.get(4)?,
                        refund_time: format_instant(from_millis(r.get(5)?)),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}
