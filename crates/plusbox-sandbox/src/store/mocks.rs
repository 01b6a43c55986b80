//! Mock rules (iMock-style): forced result codes and tampered signatures on sandbox APIs.

use super::*;

/// A mock rule (iMock-style): forces `result_code` on `api`, or tampers with its signed answer,
/// for `remaining` calls or until `until`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MockRule {
    /// Row id.
    pub id: i64,
    /// API name, e.g. `pay`.
    pub api: String,
    /// Forced result code (`None` for a tamper rule).
    pub result_code: Option<String>,
    /// How the answer is tampered with (`signature` or `body`), for a tamper rule.
    pub tamper: Option<String>,
    /// Calls left, when counted.
    pub remaining: Option<i64>,
    /// Expiry, when timed.
    pub until: Option<String>,
    /// How many calls it has answered.
    pub hits: i64,
    /// Whether it still applies.
    pub active: bool,
    /// Scope: only calls about this merchant's (`referenceMerchantId`) payments; `None`: any.
    pub merchant: Option<String>,
    /// Scope: only calls about this buyer account's payments; `None`: any.
    pub account: Option<String>,
}

/// APIs a mock rule can target.
pub const MOCKABLE_APIS: &[&str] = &[
    "pay",
    "inquiryPayment",
    "cancelPayment",
    "refund",
    "registration",
    "inquiryRegistrationStatus",
    "declare",
    "inquireDeclarationRequests",
];

/// How a tamper rule spoils a signed answer, so a test can prove the ACQP verifies responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tamper {
    /// The body is signed as it truly is, then a character of the signature is changed.
    Signature,
    /// The body is signed as it truly is, then altered (the payment's result flipped).
    Body,
}

impl Tamper {
    /// `signature` or `body`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tamper::Signature => "signature",
            Tamper::Body => "body",
        }
    }
}

impl std::str::FromStr for Tamper {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        match text {
            "signature" => Ok(Tamper::Signature),
            "body" => Ok(Tamper::Body),
            other => Err(format!("unknown tamper mode {other:?}; one of signature, body")),
        }
    }
}

/// What a mock rule does to the call it catches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MockAction {
    /// Answer with this result; the business logic does not run.
    Force(ResultCode),
    /// Run the call, then spoil its signed answer.
    Tamper(Tamper),
}

impl Store {
    /// Adds a mock rule forcing `code`. Without `count` and `minutes` it applies to one call.
    pub fn add_mock(
        &self,
        api: &str,
        code: ResultCode,
        count: Option<u32>,
        minutes: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<MockRule> {
        self.insert_mock(api, MockAction::Force(code), count, minutes, &MockScope::default(), now)
    }

    /// Adds a tamper rule: the next answers of `api` go out with a signature that does not match
    /// the body. Without `count` and `minutes` it applies to one call.
    pub fn add_tamper_mock(
        &self,
        api: &str,
        tamper: Tamper,
        count: Option<u32>,
        minutes: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<MockRule> {
        self.insert_mock(api, MockAction::Tamper(tamper), count, minutes, &MockScope::default(), now)
    }

    pub(super) fn insert_mock(
        &self,
        api: &str,
        action: MockAction,
        count: Option<u32>,
        minutes: Option<u32>,
        scope: &MockScope,
        now: OffsetDateTime,
    ) -> Result<MockRule> {
        if !MOCKABLE_APIS.contains(&api) {
            return Err(StoreError::Invalid(format!(
                "unknown API {api:?}; one of {}",
                MOCKABLE_APIS.join(", ")
            )));
        }
        let remaining = match (count, minutes) {
            (None, None) => Some(1),
            (count, _) => count.map(i64::from),
        };
        let until =
            minutes.map(|m| to_millis(crate::clock::add_saturating(now, Duration::minutes(i64::from(m)))));
        let id = self.write(|tx| {
            // result_code is NOT NULL in the first schema; a tamper rule stores '' there.
            let (code, tamper) = match action {
                MockAction::Force(code) => (code.as_str(), None),
                MockAction::Tamper(tamper) => ("", Some(tamper.as_str())),
            };
            // Rule and scope in one insert: a scoped rule is never global, not even for a moment.
            tx.execute_cached(
                "INSERT INTO mock (api, result_code, tamper, remaining, until, created_at, scope_merchant, scope_account)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![api, code, tamper, remaining, until, to_millis(now), scope.merchant, scope.account],
            )?;
            Ok(tx.last_insert_rowid())
        })?;
        self.mocks(now)?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| StoreError::NotFound("mock rule vanished".into()))
    }

    /// All mock rules, active or spent.
    pub fn mocks(&self, now: OffsetDateTime) -> Result<Vec<MockRule>> {
        let now_ms = to_millis(now);
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT id, api, result_code, remaining, until, hits, tamper, scope_merchant, scope_account
                 FROM mock ORDER BY id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    let remaining: Option<i64> = r.get(3)?;
                    let until: Option<i64> = r.get(4)?;
                    Ok(MockRule {
                        id: r.get(0)?,
                        api: r.get(1)?,
                        result_code: Some(r.get::<_, String>(2)?).filter(|c| !c.is_empty()),
                        tamper: r.get(6)?,
                        remaining,
                        until: until.map(|u| format_instant(from_millis(u))),
                        hits: r.get(5)?,
                        active: remaining.is_none_or(|n| n > 0) && until.is_none_or(|u| now_ms < u),
                        merchant: r.get(7)?,
                        account: r.get(8)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Deletes one mock rule (a test run takes back what it arranged); false if it was gone.
    pub fn remove_mock(&self, id: i64) -> Result<bool> {
        self.write(|tx| Ok(tx.execute_cached("DELETE FROM mock WHERE id = ?1", params![id])? > 0))
    }

    /// Deletes every mock rule.
    pub fn clear_mocks(&self) -> Result<usize> {
        self.write(|tx| Ok(tx.execute_cached("DELETE FROM mock", [])?))
    }
}
