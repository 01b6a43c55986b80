//! Private order codes (merchant-presented mode, issued by the ACQP; alipayplus-api.md §11,
//! payment-codes.md §4.3): the application's registration — its `userInitiatedPay` URL and its
//! private-order-code domains, each either the fixed-domain form (the first path segment starts
//! with 12 digits shaped `281***04****`) or any path on a registered domain — which application
//! a scanned URL belongs to, and the payment made from the ACQP's verified answer.
//!
//! A payment made from a private order code becomes an `order_code` row of kind `private`, so the
//! buyer confirms or declines it exactly as an Alipay+ order code (`store/order_codes.rs`), and
//! the ACQP inquires, cancels and refunds it by its own `paymentRequestId`.

use plusbox_core::codes::mpm::{parse_https_url, private_order_digits, MpmContext};
use plusbox_core::money::Amount;
use plusbox_core::result_code::ResultCode;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use time::OffsetDateTime;

use super::{
    find_payment, persona_of, to_millis, validate_url, AppRecord, Cached, OrderCodeRefusal, Result, Store,
    StoreError,
};

/// `codeValue` is at most 512 characters (§11).
pub const MAX_PRIVATE_CODE: usize = 512;

/// One registered private-order-code domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateDomain {
    /// Host name, lower-case.
    pub domain: String,
    /// Fixed-domain form: the first path segment must start with `281***04****`.
    pub digits: bool,
}

/// The application's private-order-code registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateCodeRegistration {
    /// Where `userInitiatedPay` goes.
    pub user_initiated_pay_url: String,
    /// The domains, in name order.
    pub domains: Vec<PrivateDomain>,
}

/// Where a scanned private order code goes.
#[derive(Debug, Clone)]
pub struct PrivateCodeTarget {
    /// The application that registered the domain.
    pub app: AppRecord,
    /// Its `userInitiatedPay` URL.
    pub url: String,
    /// Its ACQP public key (latest version), to verify the answer.
    pub acqp_key: Option<(u32, String)>,
}

/// What a scanned text is to the private-order-code registry.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // short-lived, one per scan
pub enum PrivateCodeMatch {
    /// Not on any registered domain.
    NoMatch,
    /// On a registered domain but not a valid private order code there (why, for the buyer).
    Refused(String),
    /// A private order code of this application.
    Target(PrivateCodeTarget),
}

/// The payment the ACQP's verified `userInitiatedPay` answer describes.
#[derive(Debug, Clone)]
pub struct PrivateCodePayment {
    /// `paymentRequestId`.
    pub payment_request_id: String,
    /// `paymentAmount` (or `amount`).
    pub amount: Amount,
    /// `paymentExpiryTime`, else the order-code default.
    pub expiry: Option<OffsetDateTime>,
    /// `paymentNotifyUrl`.
    pub notify_url: Option<String>,
    /// The answer body (merchant, store and order shown to the buyer).
    pub body: String,
}

impl Store {
    /// Registers the application's `userInitiatedPay` URL and its private-order-code domains
    /// (replacing earlier ones). Refused, naming why: a URL that is not http(s), a domain that is
    /// not a host name, the order-code domain, or a domain another application registered.
    pub fn set_private_order_codes(
        &self,
        url: &str,
        domains: &[PrivateDomain],
        now: OffsetDateTime,
    ) -> Result<PrivateCodeRegistration> {
        self.set_private_order_codes_for(self.app()?.id, url, domains, now)
    }

    /// [`Store::set_private_order_codes`] for application `app_id`.
    pub fn set_private_order_codes_for(
        &self,
        app_id: i64,
        url: &str,
        domains: &[PrivateDomain],
        now: OffsetDateTime,
    ) -> Result<PrivateCodeRegistration> {
        validate_url(url).map_err(|e| StoreError::Invalid(format!("userInitiatedPay URL: {e}")))?;
        if domains.is_empty() {
            return Err(StoreError::Invalid("register at least one private-order-code domain".into()));
        }
        let mut context = MpmContext::default();
        let mut checked = Vec::new();
        for domain in domains {
            context
                .register_private_domain(&domain.domain)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let name = domain.domain.trim().to_ascii_lowercase();
            if !checked.iter().any(|d: &PrivateDomain| d.domain == name) {
                checked.push(PrivateDomain { domain: name, digits: domain.digits });
            }
        }
        let app = self
            .app_by_id(app_id)?
            .ok_or_else(|| StoreError::NotFound(format!("no application with row id {app_id}")))?;
        self.write(|tx| {
            for domain in &checked {
                let owner: Option<i64> = tx
                    .query_row_cached(
                        "SELECT app_id FROM poc_domain WHERE domain = ?1",
                        params![domain.domain],
                        |r| r.get(0),
                    )
                    .optional()?;
                if owner.is_some_and(|o| o != app.id) {
                    return Err(StoreError::Invalid(format!(
                        "{} is already another application's private-order-code domain",
                        domain.domain
                    )));
                }
            }
            tx.execute_cached("DELETE FROM poc_domain WHERE app_id = ?1", params![app.id])?;
            for domain in &checked {
                tx.execute_cached(
                    "INSERT INTO poc_domain (domain, app_id, digits) VALUES (?1, ?2, ?3)",
                    params![domain.domain, app.id, domain.digits],
                )?;
            }
            tx.execute_cached(
                "INSERT INTO poc_registration (app_id, url, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(app_id) DO UPDATE SET url = excluded.url, updated_at = excluded.updated_at",
                params![app.id, url, to_millis(now)],
            )?;
            Ok(())
        })?;
        self.private_order_codes_for(app.id)?
            .ok_or_else(|| StoreError::Invalid("the registration was not stored".into()))
    }

    /// Removes the application's private-order-code registration; its codes are then unknown.
    pub fn clear_private_order_codes(&self) -> Result<()> {
        self.clear_private_order_codes_for(self.app()?.id)
    }

    /// [`Store::clear_private_order_codes`] for application `app_id`.
    pub fn clear_private_order_codes_for(&self, app_id: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute_cached("DELETE FROM poc_domain WHERE app_id = ?1", params![app_id])?;
            tx.execute_cached("DELETE FROM poc_registration WHERE app_id = ?1", params![app_id])?;
            Ok(())
        })
    }

    /// The application's registration, if any.
    pub fn private_order_codes(&self) -> Result<Option<PrivateCodeRegistration>> {
        self.private_order_codes_for(self.app()?.id)
    }

    /// [`Store::private_order_codes`] of application `app_id`.
    pub fn private_order_codes_for(&self, app_id: i64) -> Result<Option<PrivateCodeRegistration>> {
        self.read(|tx| {
            let url: Option<String> = tx
                .query_row_cached(
                    "SELECT url FROM poc_registration WHERE app_id = ?1",
                    params![app_id],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(url) = url else { return Ok(None) };
            let mut stmt =
                tx.prepare_cached("SELECT domain, digits FROM poc_domain WHERE app_id = ?1 ORDER BY domain")?;
            let domains = stmt
                .query_map(params![app_id], |r| Ok(PrivateDomain { domain: r.get(0)?, digits: r.get(1)? }))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(PrivateCodeRegistration { user_initiated_pay_url: url, domains }))
        })
    }

    /// Every registered private-order-code domain, of every application, in name order (what a
    /// wallet needs to identify scanned codes, §4.5).
    pub fn all_private_domains(&self) -> Result<Vec<PrivateDomain>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached("SELECT domain, digits FROM poc_domain ORDER BY domain")?;
            let domains = stmt
                .query_map([], |r| Ok(PrivateDomain { domain: r.get(0)?, digits: r.get(1)? }))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(domains)
        })
    }

    /// Which application a scanned text belongs to as a private order code (§4.3, §4.5 row 2).
    pub fn match_private_order_code(&self, code: &str) -> Result<PrivateCodeMatch> {
        let Ok(url) = parse_https_url(code) else { return Ok(PrivateCodeMatch::NoMatch) };
        let host = url.host.clone();
        let found = self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT d.app_id, d.digits, r.url FROM poc_domain d JOIN poc_registration r ON r.app_id = d.app_id WHERE d.domain = ?1",
                    params![host],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?, r.get::<_, String>(2)?)),
                )
                .optional()?)
        })?;
        let Some((app_id, digits, target)) = found else { return Ok(PrivateCodeMatch::NoMatch) };
        if code.chars().count() > MAX_PRIVATE_CODE {
            return Ok(PrivateCodeMatch::Refused(format!(
                "this code is {} characters long; a private order code has at most {MAX_PRIVATE_CODE}",
                code.chars().count()
            )));
        }
        if digits && private_order_digits(url.path).is_none() {
            return Ok(PrivateCodeMatch::Refused(format!(
                "{} issues private order codes whose path starts with 12 digits shaped 281***04****; this one does not",
                url.host
            )));
        }
        let Some(app) = self.app_by_id(app_id)? else { return Ok(PrivateCodeMatch::NoMatch) };
        let acqp_key = self.acqp_key(app_id, None)?;
        Ok(PrivateCodeMatch::Target(PrivateCodeTarget { app, url: target, acqp_key }))
    }

    /// `(pspId, customerId)` of a buyer, for the `userInitiatedPay` request.
    pub fn buyer_identity(&self, account: &str) -> Result<(String, String)> {
        let (wallet, customer_id): (String, String) = self.read(|tx| {
            tx.query_row_cached(
                "SELECT wallet, customer_id FROM account WHERE id = ?1",
                params![account],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("no buyer account {account:?}")))
        })?;
        Ok((persona_of(Some(&wallet))?.psp_id, customer_id))
    }

    /// Creates the payment a verified `userInitiatedPay` answer describes: PROCESSING, no buyer
    /// yet, and an `order_code` row of kind `private` for the scanned code, so the buyer then
    /// confirms or declines it like an order code. A `paymentRequestId` the application already
    /// used is refused (no second payment under one id).
    pub fn create_private_code_payment(
        &self,
        app: &AppRecord,
        code: &str,
        payment: &PrivateCodePayment,
        now: OffsetDateTime,
    ) -> Result<std::result::Result<String, OrderCodeRefusal>> {
        self.write(|tx| {
            if find_payment(tx, app.id, Some(&payment.payment_request_id), None)?.ok().flatten().is_some() {
                return Ok(Err(OrderCodeRefusal {
                    code: "ACQUIRER_ANSWER_INCOMPLETE",
                    message: format!(
                        "this code cannot be paid: the merchant's acquirer answered with paymentRequestId {} it already used for another payment",
                        payment.payment_request_id
                    ),
                }));
            }
            let expires = payment
                .expiry
                .unwrap_or_else(|| crate::clock::add_saturating(now, super::ORDER_CODE_EXPIRY));
            if expires <= now {
                return Ok(Err(OrderCodeRefusal::new(
                    ResultCode::ExpiredCode,
                    "this code cannot be paid: the merchant's acquirer says the order has already expired",
                )));
            }
            let key_fields = serde_json::json!({
                "paymentAmount": payment.amount.to_wire(),
                "codeValue": code,
            })
            .to_string();
            let mut rng = self.id_source();
            let payment_id = crate::ids::payment_id(now, &mut *rng);
            drop(rng);
            let persona = persona_of(None)?;
            tx.execute_cached(
                "INSERT INTO payment (app_id, payment_request_id, payment_id, key_fields, account_id, code, currency, amount, state, created_at, expires_at, notify_url, psp_id, wallet_brand_name, customer_id, request_body, plan, awaits_buyer)
                 VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, 'PROCESSING', ?8, ?9, ?10, ?11, ?12, NULL, ?13, 'private order code: waiting for the buyer to confirm', 1)",
                params![
                    app.id,
                    payment.payment_request_id,
                    payment_id,
                    key_fields,
                    code,
                    payment.amount.currency.code(),
                    payment.amount.value,
                    to_millis(now),
                    to_millis(expires),
                    payment.notify_url,
                    persona.psp_id,
                    persona.wallet_brand_name,
                    payment.body,
                ],
            )?;
            let row = tx.last_insert_rowid();
            tx.execute_cached(
                "INSERT INTO order_code (code, payment_row, user_agent, created_at, expires_at, kind) VALUES (?1, ?2, '', ?3, ?4, 'private')",
                params![code, row, to_millis(now), to_millis(expires)],
            )?;
            Ok(Ok(payment_id))
        })
    }
}
