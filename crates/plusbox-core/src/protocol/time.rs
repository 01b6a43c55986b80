//! ISO 8601 instants as Alipay+ writes them (§2, §1.3).
//!
//! Input: `2020-01-01T12:01:01+08:30`, `2021-01-01T12:08:55Z`, fractional seconds
//! (`2025-02-20T08:51:49.09Z`), lower-case `t`/`z`, and the basic offset `+0800` that the Java
//! SDK's `yyyy-MM-dd'T'HH:mm:ssZZZ` formatter produces. An offset is always required: a local
//! time without one is ambiguous.
//!
//! Output: offset `+08:00` (Plusbox decision, §1.4), second precision, e.g.
//! `2025-02-20T16:51:49+08:00`. Inside Plusbox instants are UTC `OffsetDateTime`s.

use time::format_description::well_known::Rfc3339;
use time::macros::{format_description, offset};
use time::{OffsetDateTime, UtcOffset};

/// The offset Plusbox writes on the wire: UTC+8.
pub const PLUSBOX_OFFSET: UtcOffset = offset!(+8);

/// A string that is not an ISO 8601 date-time with offset (or epoch milliseconds, where allowed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not an ISO 8601 date-time with offset (e.g. 2020-01-01T12:01:01+08:00)")]
pub struct TimeError {
    /// The offending input.
    pub input: String,
}

/// Parses an ISO 8601 date-time with offset; the result keeps the offset that was written.
pub fn parse_instant(input: &str) -> Result<OffsetDateTime, TimeError> {
    // RFC 3339 also allows a space between date and time; ISO 8601 (and Alipay+) use `T`.
    if !matches!(input.as_bytes().get(10), Some(b'T' | b't')) {
        return Err(TimeError { input: input.to_owned() });
    }
    if let Ok(t) = OffsetDateTime::parse(input, &Rfc3339) {
        return Ok(t);
    }
    // `+0800`/`-0530`: valid ISO 8601 basic offsets, produced by Java's `ZZZ` pattern.
    let basic = format_description!(
        version = 2,
        "[year]-[month]-[day][first [T] [t]][hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory][offset_minute]"
    );
    OffsetDateTime::parse(input, &basic).map_err(|_| TimeError { input: input.to_owned() })
}

/// Parses a `Request-Time`/`Response-Time` header value: ISO 8601 with offset, or epoch
/// milliseconds as current Java SDK releases send (§1.3).
pub fn parse_request_time(input: &str) -> Result<OffsetDateTime, TimeError> {
    if !input.is_empty() && input.bytes().all(|b| b.is_ascii_digit()) {
        let err = || TimeError { input: input.to_owned() };
        let millis: i128 = input.parse().map_err(|_| err())?;
        return OffsetDateTime::from_unix_timestamp_nanos(millis.checked_mul(1_000_000).ok_or_else(err)?)
            .map_err(|_| err());
    }
    parse_instant(input)
}

/// Formats an instant in `+08:00` with second precision: `2025-02-20T16:51:49+08:00`.
pub fn format_instant(t: OffsetDateTime) -> String {
    format_instant_at(t, PLUSBOX_OFFSET)
}

/// Formats an instant at `+08:00` with millisecond precision (`2025-02-20T16:51:49.090+08:00`), for
/// logs where the order and spacing of events matter (the traffic log), not for wire fields.
pub fn format_instant_millis(t: OffsetDateTime) -> String {
    let seconds = format_instant_at(t, PLUSBOX_OFFSET);
    // `format_instant_at` always ends in `±hh:mm`, six ASCII characters after the seconds.
    let (head, offset) = seconds.split_at(seconds.len() - 6);
    format!("{head}.{:03}{offset}", t.millisecond())
}

/// Formats an instant at a given offset with second precision (`Z` is never used; UTC is
/// written `+00:00`). If the instant cannot be shown at that offset (the edge of the supported
/// year range) it is written at its own offset instead.
pub fn format_instant_at(t: OffsetDateTime, offset: UtcOffset) -> String {
    let t = t.checked_to_offset(offset).unwrap_or(t);
    // Built by hand rather than with a format description: this cannot fail, so no Result.
    let (h, m, _) = t.offset().as_hms();
    let sign = if t.offset().is_negative() { '-' } else { '+' };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        h.unsigned_abs(),
        m.unsigned_abs()
    )
}
