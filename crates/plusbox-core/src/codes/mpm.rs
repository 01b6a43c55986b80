//! Merchant-presented codes: URL shape checks for order codes, entry codes and private order
//! codes, and the companion wallet's identification order for any scanned text
//! (payment-codes.md §4.1–§4.5).

use serde::Serialize;

use super::emv::{self, EmvPayload};
use super::gpld::{self, GpldPayload};
use super::upm::Identification;
use super::wallets::WalletTable;
use super::{random_alphanumeric, RandomSource};

/// Default domain of Alipay+ order codes.
pub const DEFAULT_ORDER_CODE_DOMAIN: &str = "global.alipay.com";
/// Path prefix of an order code (CII `281002` + `04`).
pub const ORDER_CODE_PREFIX: &str = "28100204";
/// Random letters/digits after the order-code prefix.
pub const ORDER_CODE_TOKEN_LEN: usize = 28;
/// Longest code value accepted (`identifyCode` limit, §4.5).
pub const MAX_CODE_VALUE: usize = 8192;

/// What is wrong with a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Longer than [`MAX_CODE_VALUE`].
    #[error("URL is {length} characters; at most {max} are accepted")]
    TooLong {
        /// Its length.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// Scheme other than `https://`.
    #[error("not an HTTPS URL (scheme {scheme:?})")]
    NotHttps {
        /// The scheme found, or the start of the text.
        scheme: String,
    },
    /// No host after `https://`.
    #[error("URL has no host")]
    EmptyHost,
    /// A character that cannot appear in a host name.
    #[error("bad character {found:?} at position {position} in the host")]
    BadHostChar {
        /// 1-based position in the URL.
        position: usize,
        /// The character.
        found: char,
    },
    /// Port that is not a number 1–65535.
    #[error("bad port {found:?}")]
    BadPort {
        /// The text after `:`.
        found: String,
    },
    /// Whitespace or a control character.
    #[error("whitespace or control character at position {position}")]
    ControlChar {
        /// 1-based position.
        position: usize,
    },
}

/// The parts of an HTTPS URL the code checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsUrl<'a> {
    /// Host, lower-cased.
    pub host: String,
    /// Port, if given.
    pub port: Option<u16>,
    /// Path including the leading `/` (empty when the URL has none).
    pub path: &'a str,
    /// Query without `?`.
    pub query: Option<&'a str>,
    /// Fragment without `#`.
    pub fragment: Option<&'a str>,
}

/// Parses an `https://` URL (scheme case-insensitive). Rejects user info, IP literals in
/// brackets, whitespace and control characters.
pub fn parse_https_url(url: &str) -> Result<HttpsUrl<'_>, UrlError> {
    let length = url.chars().count();
    if length > MAX_CODE_VALUE {
        return Err(UrlError::TooLong { length, max: MAX_CODE_VALUE });
    }
    if let Some(index) = url.chars().position(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlError::ControlChar { position: index + 1 });
    }
    const SCHEME: &str = "https://";
    let rest = match url.get(..SCHEME.len()) {
        Some(head) if head.eq_ignore_ascii_case(SCHEME) => &url[SCHEME.len()..],
        _ => {
            return Err(UrlError::NotHttps {
                scheme: url.split("://").next().unwrap_or(url).chars().take(16).collect(),
            })
        }
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => {
            let number = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0 && port.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| UrlError::BadPort { found: port.to_string() })?;
            (host, Some(number))
        }
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(UrlError::EmptyHost);
    }
    for (index, ch) in host.chars().enumerate() {
        if !(ch.is_ascii_alphanumeric() || ch == '-' || ch == '.') {
            return Err(UrlError::BadHostChar { position: SCHEME.len() + index + 1, found: ch });
        }
    }
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((a, b)) => (a, Some(b)),
        None => (tail, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((a, b)) => (a, Some(b)),
        None => (before_fragment, None),
    };
    Ok(HttpsUrl { host: host.to_ascii_lowercase(), port, path, query, fragment })
}

/// What is wrong with an order-code URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderCodeError {
    /// Not a valid HTTPS URL.
    #[error("bad URL: {0}")]
    Url(#[from] UrlError),
    /// Host is not the order-code domain.
    #[error("host {found} is not the order-code domain {expected}")]
    WrongHost {
        /// The configured domain.
        expected: String,
        /// The host found.
        found: String,
    },
    /// The path is not `/28100204` + 28 letters/digits.
    #[error(
        "path {path:?} is not /{ORDER_CODE_PREFIX} followed by {ORDER_CODE_TOKEN_LEN} letters or digits"
    )]
    BadPath {
        /// The path (and query) found.
        path: String,
    },
}

/// Checks an order-code URL (§4.1) and returns the part after the domain (`28100204…`).
pub fn check_order_code_url(url: &str, domain: &str) -> Result<String, OrderCodeError> {
    let parsed = parse_https_url(url)?;
    if !parsed.host.eq_ignore_ascii_case(domain) || parsed.port.is_some() {
        return Err(OrderCodeError::WrongHost { expected: domain.to_ascii_lowercase(), found: parsed.host });
    }
    let bad = || OrderCodeError::BadPath {
        path: url[url.len() - parsed.path.len() - after_path_len(&parsed)..].to_string(),
    };
    if parsed.query.is_some() || parsed.fragment.is_some() {
        return Err(bad());
    }
    let code = parsed.path.strip_prefix('/').ok_or_else(bad)?;
    let token = code.strip_prefix(ORDER_CODE_PREFIX).ok_or_else(bad)?;
    if token.len() != ORDER_CODE_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad());
    }
    Ok(code.to_string())
}

fn after_path_len(url: &HttpsUrl<'_>) -> usize {
    url.query.map_or(0, |q| q.len() + 1) + url.fragment.map_or(0, |f| f.len() + 1)
}

/// Makes a Plusbox order code: `https://<domain>/28100204` + 28 random letters/digits (§4.1).
pub fn new_order_code<R: RandomSource + ?Sized>(domain: &str, rng: &mut R) -> String {
    format!("https://{domain}/{ORDER_CODE_PREFIX}{}", random_alphanumeric(rng, ORDER_CODE_TOKEN_LEN))
}

/// Checks the fixed-domain private-order-code path: the first segment starts with 12 digits
/// shaped `281***04****` (§4.3). Returns those 12 digits.
pub fn private_order_digits(path: &str) -> Option<&str> {
    let segment = path.strip_prefix('/')?.split('/').next()?;
    let digits = segment.get(..12)?;
    let b = digits.as_bytes();
    let ok = b.iter().all(u8::is_ascii_digit) && digits.starts_with("281") && &b[6..8] == b"04";
    ok.then_some(digits)
}

/// Why a merchant-code context could not be changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// The order-code domain is reserved for Alipay+ order codes (§4.3).
    #[error("{0} is the order-code domain and cannot be a private-order-code domain")]
    OrderCodeDomain(String),
    /// Not a host name.
    #[error("{domain:?} is not a host name: {reason}")]
    BadDomain {
        /// The domain given.
        domain: String,
        /// Why.
        reason: String,
    },
}

/// What the wallet knows when it identifies a scanned code: the order-code domain and the
/// private-order-code domains registered by sandbox applications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpmContext {
    order_code_domain: String,
    private_domains: Vec<String>,
}

impl Default for MpmContext {
    fn default() -> Self {
        MpmContext { order_code_domain: DEFAULT_ORDER_CODE_DOMAIN.to_string(), private_domains: Vec::new() }
    }
}

impl MpmContext {
    /// A context with another order-code domain.
    pub fn with_order_code_domain(domain: &str) -> Result<Self, ContextError> {
        Ok(MpmContext { order_code_domain: check_domain(domain)?, private_domains: Vec::new() })
    }

    /// The order-code domain, lower-cased.
    pub fn order_code_domain(&self) -> &str {
        &self.order_code_domain
    }

    /// Registers a private-order-code domain; the order-code domain is refused.
    pub fn register_private_domain(&mut self, domain: &str) -> Result<(), ContextError> {
        let domain = check_domain(domain)?;
        if domain == self.order_code_domain {
            return Err(ContextError::OrderCodeDomain(domain));
        }
        if !self.private_domains.contains(&domain) {
            self.private_domains.push(domain);
        }
        Ok(())
    }

    /// Whether `host` is a registered private-order-code domain.
    pub fn is_private_domain(&self, host: &str) -> bool {
        self.private_domains.iter().any(|d| d.eq_ignore_ascii_case(host))
    }
}

fn check_domain(domain: &str) -> Result<String, ContextError> {
    parse_https_url(&format!("https://{domain}"))
        .map_err(|e| ContextError::BadDomain { domain: domain.to_string(), reason: e.to_string() })
        .and_then(|url| {
            if url.port.is_some() || !url.path.is_empty() || url.query.is_some() {
                Err(ContextError::BadDomain {
                    domain: domain.to_string(),
                    reason: "only a host name is allowed".into(),
                })
            } else {
                Ok(url.host)
            }
        })
}

/// What a scanned text is, in the wallet's identification order (§4.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScannedCode {
    /// An order-code URL on the order-code domain; the sandbox looks it up (`DECODE`).
    OrderCode {
        /// The URL.
        url: String,
        /// `28100204…`.
        code: String,
    },
    /// A URL on a registered private-order-code domain (`DECODE` → `userInitiatedPay`).
    PrivateOrderCode {
        /// The URL.
        url: String,
        /// Its host.
        host: String,
        /// The 12 `281***04****` digits, for the fixed-domain form.
        order_digits: Option<String>,
    },
    /// An Alipay+ MPM v3 code.
    MpmV3 {
        /// The URL.
        url: String,
        /// Its domain.
        domain: String,
        /// Decoded objects.
        payload: GpldPayload,
        /// Payable only when its domain is a registered order-code or private domain.
        payable: bool,
    },
    /// Any other HTTPS URL: an entry code (`OPEN_URL`).
    EntryCode {
        /// The URL.
        url: String,
    },
    /// An EMVCo merchant-presented payload with a valid CRC: not an Alipay+ code.
    Emv {
        /// Parsed fields.
        payload: EmvPayload,
    },
    /// Digits only: a payment code, not a merchant code.
    PaymentCode {
        /// The classifier's verdict.
        identification: Identification,
    },
    /// Anything else.
    Unsupported {
        /// Why it is not supported.
        reason: String,
    },
}

impl ScannedCode {
    /// The `postCodeMatchActionType` a wallet would act on, if any.
    pub fn action(&self) -> Option<&'static str> {
        match self {
            ScannedCode::OrderCode { .. } | ScannedCode::PrivateOrderCode { .. } => Some("DECODE"),
            ScannedCode::MpmV3 { payable: true, .. } => Some("DECODE"),
            ScannedCode::EntryCode { .. } => Some("OPEN_URL"),
            _ => None,
        }
    }
}

/// Identifies any scanned text in the order of §4.5. Order codes are recognised by shape; the
/// sandbox then looks them up.
pub fn identify_scanned(text: &str, context: &MpmContext) -> ScannedCode {
    let text = text.trim();
    let unsupported = |reason: String| ScannedCode::Unsupported { reason };
    let is_https = text.get(..8).is_some_and(|head| head.eq_ignore_ascii_case("https://"));
    if is_https {
        let url = match parse_https_url(text) {
            Ok(url) => url,
            Err(e) => return unsupported(format!("bad URL: {e}")),
        };
        if url.host == context.order_code_domain {
            return match check_order_code_url(text, &context.order_code_domain) {
                Ok(code) => ScannedCode::OrderCode { url: text.to_string(), code },
                Err(e) => unsupported(format!("order-code domain, but {e}")),
            };
        }
        if context.is_private_domain(&url.host) {
            return ScannedCode::PrivateOrderCode {
                url: text.to_string(),
                host: url.host.clone(),
                order_digits: private_order_digits(url.path).map(str::to_string),
            };
        }
        if url.path.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("/MPM/")) {
            return match gpld::decode_mpm_url(text) {
                Ok(code) => ScannedCode::MpmV3 {
                    url: text.to_string(),
                    payable: code.domain == context.order_code_domain
                        || context.is_private_domain(&code.domain),
                    domain: code.domain,
                    payload: code.payload,
                },
                Err(e) => unsupported(format!("Alipay+ MPM code: {e}")),
            };
        }
        return ScannedCode::EntryCode { url: text.to_string() };
    }
    if text.get(..7).is_some_and(|head| head.eq_ignore_ascii_case("http://")) {
        return unsupported("plain http:// URL; entry codes must be HTTPS".into());
    }
    if text.starts_with("000201") {
        return match emv::decode(text) {
            Ok(payload) => ScannedCode::Emv { payload },
            Err(e) => unsupported(format!("EMVCo payload: {e}")),
        };
    }
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '-') {
        return ScannedCode::PaymentCode { identification: WalletTable::builtin().identify(text) };
    }
    unsupported("not a merchant code, payment code or EMVCo payload".into())
}
