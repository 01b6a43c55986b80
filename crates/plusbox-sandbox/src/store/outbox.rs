//! The notification outbox (§10, §13.1): due notifications, attempts and retries, status counts.

use super::*;

/// Retry delays after failed notification attempts (alipayplus-api.md §10): 14 retries.
pub const NOTIFY_RETRY_SCHEDULE: [Duration; 14] = [
    Duration::seconds(4),
    Duration::seconds(4),
    Duration::seconds(30),
    Duration::seconds(60),
    Duration::seconds(60),
    Duration::seconds(60),
    Duration::minutes(5),
    Duration::minutes(5),
    Duration::minutes(15),
    Duration::minutes(30),
    Duration::hours(1),
    Duration::hours(2),
    Duration::hours(6),
    Duration::hours(14),
];

/// A notification waiting to be sent: `notifyPayment` of a payment, or
/// `notifyRegistrationStatus` of a registration (§13.1).
#[derive(Debug, Clone)]
pub struct OutboxItem {
    /// Row id.
    pub id: i64,
    /// The API sent: `notifyPayment` or `notifyRegistrationStatus`.
    pub api: String,
    /// Target URL.
    pub url: String,
    /// JSON body, exactly as it will be sent and signed.
    pub body: String,
    /// Attempts so far.
    pub attempts: i64,
    /// The application of the payment or registration.
    pub app_id: i64,
    /// paymentRequestId, for the traffic log (payments only).
    pub payment_request_id: Option<String>,
    /// paymentId, for the traffic log (payments only).
    pub payment_id: Option<String>,
}

impl Store {
    /// Notifications due at `now`, oldest first.
    pub fn due_notifications(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<OutboxItem>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT o.id, o.url, o.body, o.attempts, COALESCE(p.app_id, r.app_id), p.payment_request_id, p.payment_id, o.api
                 FROM outbox o LEFT JOIN payment p ON p.id = o.payment_row
                 LEFT JOIN registration r ON r.id = o.registration_row
                 WHERE o.status = 'pending' AND o.next_at <= ?1 ORDER BY o.next_at, o.id LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![to_millis(now), limit], |r| {
                    Ok(OutboxItem {
                        id: r.get(0)?,
                        url: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        body: r.get(2)?,
                        attempts: r.get(3)?,
                        app_id: r.get(4)?,
                        payment_request_id: r.get(5)?,
                        payment_id: r.get(6)?,
                        api: r.get(7)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Whether an outbox row is still pending at the attempt count it was read with: guards
    /// against sending twice when a scan raced with a finishing delivery.
    pub fn still_due(&self, id: i64, attempts: i64) -> Result<bool> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT 1 FROM outbox WHERE id = ?1 AND attempts = ?2 AND status = 'pending'",
                    params![id, attempts],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                .is_some())
        })
    }

    /// Records one delivery attempt: delivered, or scheduled for retry (or given up after 15).
    /// Returns the new status.
    pub fn record_attempt(
        &self,
        id: i64,
        delivered: bool,
        error: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<String> {
        self.write(|tx| {
            let (attempts, status): (i64, String) = tx.query_row_cached(
                "SELECT attempts, status FROM outbox WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if status != "pending" {
                // Cancelled while the attempt was in flight: keep the newer status.
                return Ok(status);
            }
            let attempts = attempts + 1;
            let at = to_millis(now);
            let (status, next) = if delivered {
                ("delivered", at)
            } else {
                match usize::try_from(attempts - 1).ok().and_then(|i| NOTIFY_RETRY_SCHEDULE.get(i)) {
                    Some(delay) => ("pending", to_millis(crate::clock::add_saturating(now, *delay))),
                    None => ("undelivered", at),
                }
            };
            tx.execute_cached(
                "UPDATE outbox SET attempts = ?1, status = ?2, next_at = ?3, last_error = ?4, updated_at = ?5 WHERE id = ?6",
                params![attempts, status, next, error, at, id],
            )?;
            Ok(status.to_string())
        })
    }

    /// The next instant something is due: a notification retry or a payment expiry.
    pub fn next_wakeup(&self) -> Result<Option<OffsetDateTime>> {
        self.read(|tx| {
            let next: Option<i64> = tx.query_row_cached(
                "SELECT MIN(t) FROM (
                    SELECT MIN(next_at) AS t FROM outbox WHERE status = 'pending'
                    UNION ALL SELECT MIN(expires_at) FROM payment WHERE state = 'PROCESSING' AND stuck = 0
                    UNION ALL SELECT MIN(resolve_at) FROM payment WHERE state = 'PROCESSING'
                    UNION ALL SELECT MIN(resolve_at) FROM registration WHERE status = 'PROCESSING')",
                [],
                |r| r.get(0),
            )?;
            Ok(next.map(from_millis))
        })
    }

    /// Outbox rows for a payment: `(status, attempts)`, for tests and the CLI.
    pub fn notification_status(&self, payment_id: &str) -> Result<Option<(String, i64)>> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT o.status, o.attempts FROM outbox o JOIN payment p ON p.id = o.payment_row WHERE p.payment_id = ?1 AND o.api = 'notifyPayment'",
                    params![payment_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?)
        })
    }

    /// Counts outbox rows by status.
    pub fn outbox_counts(&self) -> Result<std::collections::BTreeMap<String, i64>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached("SELECT status, COUNT(*) FROM outbox GROUP BY status")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }
}
