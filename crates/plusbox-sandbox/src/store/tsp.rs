//! TSP mode (alipayplus-api.md §14): the authorizations an ACQP application gives a TSP, their
//! Agent-Tokens, and the per-application TSP-mode switch the gateway consults on every call.
//!
//! Plusbox decision: TSP mode belongs to an application, not to the whole sandbox, so one
//! sandbox can serve TSP-managed and directly integrated ACQPs at once (several merchants share
//! one sandbox). An application enters TSP mode when it authorizes a TSP (or with `plusbox tsp
//! enable`); from then on every call made with its Client-Id must carry the Agent-Token of one
//! of its ACTIVE authorizations. Cancelling an authorization leaves the mode on: the TSP's token
//! stops working, which is what the ACQP meant by cancelling.

use std::fmt;
use std::str::FromStr;

use super::*;

/// A product an authorization covers (the products in the ACQP's Alipay+ contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum TspProduct {
    /// User-presented Mode payments: `pay` with a payment code.
    #[serde(rename = "upm")]
    Upm,
    /// Merchant-presented Mode payments: `pay` with an order code or an entry code.
    #[serde(rename = "mpm")]
    Mpm,
}

impl TspProduct {
    /// Every product, in display order.
    pub const ALL: [TspProduct; 2] = [TspProduct::Upm, TspProduct::Mpm];

    /// The short name used on the command line and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            TspProduct::Upm => "upm",
            TspProduct::Mpm => "mpm",
        }
    }
}

impl fmt::Display for TspProduct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TspProduct {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "upm" => Ok(TspProduct::Upm),
            "mpm" => Ok(TspProduct::Mpm),
            other => Err(StoreError::Invalid(format!(
                "{:?} is not a product a TSP can be authorized for; use upm (User-presented Mode) or mpm (Merchant-presented Mode)",
                crate::text::for_log(other)
            ))),
        }
    }
}

/// Parses a comma-separated product list (`upm,mpm`): at least one, no repeats.
pub fn parse_products(text: &str) -> Result<Vec<TspProduct>> {
    let mut products = Vec::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let product: TspProduct = part.parse()?;
        if products.contains(&product) {
            return Err(StoreError::Invalid(format!("product {product} is listed twice")));
        }
        products.push(product);
    }
    if products.is_empty() {
        return Err(StoreError::Invalid("name at least one product (upm, mpm)".into()));
    }
    products.sort();
    Ok(products)
}

fn products_text(products: &[TspProduct]) -> String {
    products.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",")
}

fn products_from(text: &str) -> Vec<TspProduct> {
    text.split(',').filter_map(|p| p.parse().ok()).collect()
}

/// One authorization as `plusbox tsp list` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TspAuthorization {
    /// Its id (the last part of the authorization URL).
    pub authorization_id: String,
    /// The ACQP application's Client-Id.
    pub client_id: String,
    /// The ACQP application's name.
    pub app_name: String,
    /// The products it covers.
    pub products: Vec<TspProduct>,
    /// `PENDING` (not yet authorized), `ACTIVE` or `INACTIVE` (cancelled).
    pub status: String,
    /// Displayed as Developer Center does: `Active` once authorized, else `Inactive`.
    pub display_status: &'static str,
    /// The Agent-Token (issued when the ACQP authorizes).
    pub agent_token: Option<String>,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Authorized, if it was.
    pub authorized_at: Option<String>,
    /// Cancelled, if it was.
    pub cancelled_at: Option<String>,
    /// Whether the application is in TSP mode.
    pub tsp_mode: bool,
}

/// What the Agent-Token of a call allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentTokenCheck {
    /// The application is not in TSP mode: the header is ignored.
    NotTspMode,
    /// The token belongs to an ACTIVE authorization of the application, for these products.
    Granted(Vec<TspProduct>),
    /// Refused (F `ACCESS_DENIED`), with why.
    Denied(String),
}

const AUTH_COLUMNS: &str = "a.authorization_id, app.client_id, COALESCE(app.name, app.client_id), a.products, a.status, a.agent_token, a.created_at, a.authorized_at, a.cancelled_at, app.tsp_mode";

fn authorization_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TspAuthorization> {
    let status: String = r.get(4)?;
    let instant = |v: Option<i64>| v.map(|ms| format_instant(from_millis(ms)));
    Ok(TspAuthorization {
        authorization_id: r.get(0)?,
        client_id: r.get(1)?,
        app_name: r.get(2)?,
        products: products_from(&r.get::<_, String>(3)?),
        display_status: if status == "ACTIVE" { "Active" } else { "Inactive" },
        status,
        agent_token: r.get(5)?,
        created_at: format_instant(from_millis(r.get(6)?)),
        authorized_at: instant(r.get(7)?),
        cancelled_at: instant(r.get(8)?),
        tsp_mode: r.get(9)?,
    })
}

/// `len` characters of `alphabet` from the system's secure random source (tokens are
/// credentials: never from the seedable id source).
fn secure_random(alphabet: &[u8], len: usize) -> Result<String> {
    let mut out = String::with_capacity(len);
    let limit = (256 / alphabet.len()) * alphabet.len();
    while out.len() < len {
        let mut bytes = [0_u8; 32];
        aws_lc_rs::rand::fill(&mut bytes)
            .map_err(|_| StoreError::Invalid("no randomness for a TSP token".into()))?;
        for byte in bytes {
            // Rejection sampling keeps every character equally likely.
            if usize::from(byte) < limit && out.len() < len {
                out.push(char::from(alphabet[usize::from(byte) % alphabet.len()]));
            }
        }
    }
    Ok(out)
}

const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Takes an authorization id out of an authorization URL (`…/tsp/authorize/AUTH_…`,
/// `…?authorizationId=AUTH_…`) or returns the text itself when it is an id.
pub fn authorization_id_of(text: &str) -> Result<String> {
    let text = text.trim();
    let candidate = match url::Url::parse(text) {
        Ok(url) => url
            .query_pairs()
            .find(|(k, _)| k == "authorizationId")
            .map(|(_, v)| v.into_owned())
            .or_else(|| url.path_segments().and_then(|mut s| s.next_back().map(str::to_owned)))
            .unwrap_or_default(),
        Err(_) => text.to_owned(),
    };
    let valid = candidate.len() == 25
        && candidate.starts_with("AUTH_")
        && candidate[5..].bytes().all(|b| UPPER_DIGITS.contains(&b));
    if !valid {
        return Err(StoreError::Invalid(format!(
            "{:?} is neither an authorization URL nor an authorization id (AUTH_ and 20 letters or digits)",
            crate::text::for_log(text)
        )));
    }
    Ok(candidate)
}

impl Store {
    /// Switches TSP mode on or off for an application.
    pub fn set_tsp_mode(&self, app_id: i64, on: bool) -> Result<()> {
        self.write(|tx| {
            let changed =
                tx.execute_cached("UPDATE app SET tsp_mode = ?1 WHERE id = ?2", params![on, app_id])?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!("no application with row id {app_id}")));
            }
            Ok(())
        })
    }

    /// Whether an application is in TSP mode.
    pub fn tsp_mode(&self, app_id: i64) -> Result<bool> {
        self.read(|tx| {
            tx.query_row_cached("SELECT tsp_mode FROM app WHERE id = ?1", params![app_id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("no application with row id {app_id}")))
        })
    }

    /// The TSP makes an authorization (status PENDING) for an ACQP application and products;
    /// its id goes into the authorization URL the TSP sends to the ACQP.
    pub fn create_tsp_authorization(
        &self,
        app_id: i64,
        products: &[TspProduct],
        now: OffsetDateTime,
    ) -> Result<TspAuthorization> {
        if products.is_empty() {
            return Err(StoreError::Invalid("name at least one product (upm, mpm)".into()));
        }
        let id = format!("AUTH_{}", secure_random(UPPER_DIGITS, 20)?);
        self.write(|tx| {
            tx.execute_cached(
                "INSERT INTO tsp_authorization (authorization_id, app_id, products, status, created_at) VALUES (?1, ?2, ?3, 'PENDING', ?4)",
                params![id, app_id, products_text(products), to_millis(now)],
            )?;
            Ok(())
        })?;
        self.tsp_authorization(&id)
    }

    /// One authorization by id.
    pub fn tsp_authorization(&self, authorization_id: &str) -> Result<TspAuthorization> {
        self.read(|tx| {
            tx.query_row_cached(
                &format!("SELECT {AUTH_COLUMNS} FROM tsp_authorization a JOIN app ON app.id = a.app_id WHERE a.authorization_id = ?1"),
                params![authorization_id],
                authorization_from_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("no TSP authorization {authorization_id}")))
        })
    }

    /// Every authorization (of one application, or all), oldest first.
    pub fn tsp_authorizations(&self, app_id: Option<i64>) -> Result<Vec<TspAuthorization>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {AUTH_COLUMNS} FROM tsp_authorization a JOIN app ON app.id = a.app_id
                 WHERE ?1 IS NULL OR a.app_id = ?1 ORDER BY a.id"
            ))?;
            let rows = stmt
                .query_map(params![app_id], authorization_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// The ACQP clicks Authorize: a PENDING authorization becomes ACTIVE with a fresh
    /// Agent-Token, and the application enters TSP mode. Authorizing an ACTIVE one again
    /// changes nothing; a cancelled one cannot be revived (the TSP makes a new URL).
    pub fn authorize_tsp(&self, authorization_id: &str, now: OffsetDateTime) -> Result<TspAuthorization> {
        let token = secure_random(ALNUM, 48)?;
        self.write(|tx| {
            let row: Option<(i64, String)> = tx
                .query_row_cached(
                    "SELECT app_id, status FROM tsp_authorization WHERE authorization_id = ?1",
                    params![authorization_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((app_id, status)) = row else {
                return Err(StoreError::NotFound(format!("no TSP authorization {authorization_id}")));
            };
            match status.as_str() {
                "ACTIVE" => return Ok(()),
                "INACTIVE" => {
                    return Err(StoreError::Invalid(format!(
                        "authorization {authorization_id} was cancelled; the TSP must make a new authorization URL"
                    )))
                }
                _ => {}
            }
            tx.execute_cached(
                "UPDATE tsp_authorization SET status = 'ACTIVE', agent_token = ?1, authorized_at = ?2 WHERE authorization_id = ?3",
                params![token, to_millis(now), authorization_id],
            )?;
            tx.execute_cached("UPDATE app SET tsp_mode = 1 WHERE id = ?1", params![app_id])?;
            Ok(())
        })?;
        self.tsp_authorization(authorization_id)
    }

    /// The ACQP cancels an authorization: INACTIVE, its Agent-Token refused from now on.
    pub fn cancel_tsp_authorization(
        &self,
        authorization_id: &str,
        now: OffsetDateTime,
    ) -> Result<TspAuthorization> {
        self.write(|tx| {
            let changed = tx.execute_cached(
                "UPDATE tsp_authorization SET status = 'INACTIVE', cancelled_at = ?1 WHERE authorization_id = ?2 AND status <> 'INACTIVE'",
                params![to_millis(now), authorization_id],
            )?;
            if changed == 0 {
                let exists = tx
                    .query_row_cached(
                        "SELECT 1 FROM tsp_authorization WHERE authorization_id = ?1",
                        params![authorization_id],
                        |r| r.get::<_, i64>(0),
                    )
                    .optional()?
                    .is_some();
                if !exists {
                    return Err(StoreError::NotFound(format!("no TSP authorization {authorization_id}")));
                }
            }
            Ok(())
        })?;
        self.tsp_authorization(authorization_id)
    }

    /// The ACQP changes the scope (products) of a PENDING or ACTIVE authorization; the
    /// Agent-Token stays the same.
    pub fn change_tsp_scope(
        &self,
        authorization_id: &str,
        products: &[TspProduct],
    ) -> Result<TspAuthorization> {
        if products.is_empty() {
            return Err(StoreError::Invalid("name at least one product (upm, mpm)".into()));
        }
        self.write(|tx| {
            let status: Option<String> = tx
                .query_row_cached(
                    "SELECT status FROM tsp_authorization WHERE authorization_id = ?1",
                    params![authorization_id],
                    |r| r.get(0),
                )
                .optional()?;
            match status.as_deref() {
                None => Err(StoreError::NotFound(format!("no TSP authorization {authorization_id}"))),
                Some("INACTIVE") => Err(StoreError::Invalid(format!(
                    "authorization {authorization_id} was cancelled; its scope can no longer change"
                ))),
                Some(_) => {
                    tx.execute_cached(
                        "UPDATE tsp_authorization SET products = ?1 WHERE authorization_id = ?2",
                        params![products_text(products), authorization_id],
                    )?;
                    Ok(())
                }
            }
        })?;
        self.tsp_authorization(authorization_id)
    }

    /// What the `Agent-Token` of a call made with application `app_id`'s Client-Id allows
    /// (alipayplus-api.md §14). One read.
    pub fn check_agent_token(&self, app_id: i64, token: Option<&str>) -> Result<AgentTokenCheck> {
        self.read(|tx| {
            let tsp_mode: bool = tx
                .query_row_cached("SELECT tsp_mode FROM app WHERE id = ?1", params![app_id], |r| r.get(0))
                .optional()?
                .unwrap_or(false);
            if !tsp_mode {
                return Ok(AgentTokenCheck::NotTspMode);
            }
            let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
                return Ok(AgentTokenCheck::Denied(
                    "this application is in TSP mode: send the Agent-Token of an active authorization".into(),
                ));
            };
            let row: Option<(i64, String, String)> = tx
                .query_row_cached(
                    "SELECT app_id, status, products FROM tsp_authorization WHERE agent_token = ?1",
                    params![token],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            Ok(match row {
                None => AgentTokenCheck::Denied("the Agent-Token matches no authorization".into()),
                Some((owner, _, _)) if owner != app_id => AgentTokenCheck::Denied(
                    "the Agent-Token belongs to another application's authorization".into(),
                ),
                Some((_, status, _)) if status != "ACTIVE" => {
                    AgentTokenCheck::Denied("the Agent-Token's authorization was cancelled (Inactive)".into())
                }
                Some((_, _, products)) => AgentTokenCheck::Granted(products_from(&products)),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn products_parse_and_refuse_unknown_or_repeated_names() {
        assert_eq!(parse_products("mpm, UPM").unwrap(), vec![TspProduct::Upm, TspProduct::Mpm]);
        assert!(parse_products("upm,upm").is_err());
        assert!(parse_products("").is_err());
        let error = parse_products("upm,cashier").unwrap_err().to_string();
        assert!(error.contains("cashier"), "{error}");
    }

    #[test]
    fn authorization_ids_come_out_of_urls_and_bad_ones_are_named() {
        let id = "AUTH_0123456789ABCDEFGHIJ";
        assert_eq!(authorization_id_of(id).unwrap(), id);
        assert_eq!(authorization_id_of(&format!("http://127.0.0.1:8787/tsp/authorize/{id}")).unwrap(), id);
        assert_eq!(authorization_id_of(&format!("https://x.example/a?authorizationId={id}")).unwrap(), id);
        assert!(authorization_id_of("http://127.0.0.1/tsp/authorize/AUTH_x").is_err());
        assert!(authorization_id_of("AUTH_0123456789abcdefghij").is_err());
    }

    proptest::proptest! {
        /// Outside text (a pasted URL, a product list) never panics: it parses or is refused
        /// with a message that names it.
        #[test]
        fn any_authorization_text_or_product_list_parses_or_is_refused(text in "\\PC{0,80}") {
            match authorization_id_of(&text) {
                Ok(id) => proptest::prop_assert!(id.starts_with("AUTH_") && id.len() == 25),
                Err(error) => proptest::prop_assert!(error.to_string().contains("authorization")),
            }
            match parse_products(&text) {
                Ok(products) => proptest::prop_assert!(!products.is_empty()),
                Err(error) => proptest::prop_assert!(!error.to_string().is_empty()),
            }
        }
    }

    #[test]
    fn secure_tokens_have_the_length_and_alphabet_asked_for() {
        let token = secure_random(ALNUM, 48).unwrap();
        assert_eq!(token.len(), 48);
        assert!(token.bytes().all(|b| ALNUM.contains(&b)));
        assert_ne!(token, secure_random(ALNUM, 48).unwrap());
    }
}
