//! Alipay+ message signatures: content to sign, the `Signature` header, RSA keys.
//!
//! The rules follow `alipayplus-api.md` §1.5–§1.7:
//! - content to sign is `<METHOD> <Request-URI>\n<Client-Id>.<Time>.<Body>` over the exact bytes
//!   sent or received (never re-serialised JSON);
//! - `algorithm=RSA256` is SHA256withRSA (RSASSA-PKCS1-v1_5, SHA-256);
//! - the signature value is standard Base64, then URL-encoded as Java's `URLEncoder` does;
//! - keys travel as bare Base64 (PKCS#8 private, SPKI public) or PEM.
//!
//! The RSA backend is `aws-lc-rs` (constant-time, the library rustls already uses); it stays behind
//! this module so it can change. The README's Performance section has the measurements behind it.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use zeroize::Zeroizing;

use crate::secret::SecretString;

/// Smallest RSA modulus accepted, in bits. Alipay's key tool makes 2048-bit pairs.
pub const MIN_KEY_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (the backend's own ceiling).
pub const MAX_KEY_BITS: usize = 8192;

/// Everything that can go wrong with keys, signature headers and signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// The `Signature` header is missing or empty.
    #[error("the Signature header is missing")]
    MissingHeader,
    /// The `Signature` header has a part that is not `key=value`, or no `signature=` part.
    #[error("malformed Signature header: {0}")]
    MalformedHeader(String),
    /// The same key appears twice in the `Signature` header.
    #[error("malformed Signature header: `{0}` is given twice")]
    DuplicateHeaderKey(String),
    /// The header names an algorithm other than RSA256.
    #[error("unsupported signature algorithm `{0}`: only RSA256 (SHA256withRSA) is implemented")]
    UnsupportedAlgorithm(String),
    /// `keyVersion` is not a plain number.
    #[error("keyVersion `{0}` is not a number")]
    BadKeyVersion(String),
    /// The signature value has a broken `%XX` escape.
    #[error("signature value has a bad %-escape: {0}")]
    BadPercentEncoding(String),
    /// Base64 that does not decode (signature value or key).
    #[error("bad base64 in {what}: {detail}")]
    BadBase64 {
        /// Which value was being decoded.
        what: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// A PEM block with a missing or mismatched armour line.
    #[error("malformed PEM: {0}")]
    MalformedPem(String),
    /// A public key given where a private key is needed, or the other way round.
    #[error("wrong key kind: expected a {expected} key, found a {found} key")]
    WrongKeyKind {
        /// The kind that was needed.
        expected: &'static str,
        /// The kind that was given.
        found: &'static str,
    },
    /// An RSA key whose modulus is outside 2048–8192 bits.
    #[error(
        "RSA key is {bits} bits; keys must be {MIN_KEY_BITS} to {MAX_KEY_BITS} bits (Alipay+ uses 2048)"
    )]
    WrongKeySize {
        /// The modulus length found.
        bits: usize,
    },
    /// Bytes that are not an RSA key in any accepted encoding.
    #[error("not an RSA key in PKCS#8, PKCS#1 or SPKI form: {0}")]
    InvalidKey(String),
    /// An encrypted PKCS#8 key; export it unencrypted first.
    #[error("encrypted private keys are not supported; export the key without a passphrase")]
    EncryptedKey,
    /// The signature does not verify with the given key and content.
    #[error("signature does not match the content and public key")]
    SignatureMismatch,
    /// The cryptographic backend failed to generate or use a key.
    #[error("cryptographic backend failure: {0}")]
    Backend(&'static str),
}

/// Builds the exact bytes that are signed: `<method> <uri>\n<clientId>.<time>.<body>`.
///
/// For a response (and for any message signed by the receiving side) `method` is `POST` and `uri` is
/// the Request-URI of the call being answered, and `time` is the `Response-Time` header.
pub fn content_to_sign(method: &str, uri: &str, client_id: &str, time: &str, body: &[u8]) -> Vec<u8> {
    let mut content =
        Vec::with_capacity(method.len() + uri.len() + client_id.len() + time.len() + body.len() + 4);
    content.extend_from_slice(method.as_bytes());
    content.push(b' ');
    content.extend_from_slice(uri.as_bytes());
    content.push(b'\n');
    content.extend_from_slice(client_id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(time.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

/// Characters Java's `URLEncoder` leaves alone: letters, digits and `.-*_`.
const JAVA_URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'.').remove(b'-').remove(b'*').remove(b'_');

/// Base64 that accepts input with or without padding (people paste both).
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A signature algorithm named in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// SHA256withRSA, RSASSA-PKCS1-v1_5.
    Rsa256,
}

impl Algorithm {
    /// The name as written in the header.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rsa256 => "RSA256",
        }
    }
}

/// A form of the header that verifies but is not what Alipay+'s own SDK writes. The traffic log
/// records these so a test case can report them (reference §1.6 rule 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leniency {
    /// Spaces or tabs around the comma-separated pairs.
    SpacesAroundPairs,
    /// The algorithm is not written in upper case (`rsa256`).
    AlgorithmCase(String),
    /// A key name is not written as documented (`KeyVersion`, `SIGNATURE`).
    KeyNameCase(String),
    /// No `algorithm=` part; RSA256 was assumed.
    AlgorithmMissing,
    /// The signature value contains raw `+`, `/` or `=`: Base64 sent without URL-encoding.
    SignatureNotUrlEncoded,
    /// The Base64 signature has no `=` padding.
    SignatureUnpadded,
    /// A value was wrapped in double quotes.
    QuotedValue(String),
}

impl fmt::Display for Leniency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Leniency::SpacesAroundPairs => f.write_str("spaces around Signature header pairs"),
            Leniency::AlgorithmCase(a) => write!(f, "algorithm written as `{a}`, not `RSA256`"),
            Leniency::KeyNameCase(k) => write!(f, "header key written as `{k}`"),
            Leniency::AlgorithmMissing => f.write_str("no algorithm given; RSA256 assumed"),
            Leniency::SignatureNotUrlEncoded => f.write_str("signature value is not URL-encoded"),
            Leniency::SignatureUnpadded => f.write_str("signature Base64 has no padding"),
            Leniency::QuotedValue(k) => write!(f, "value of `{k}` is quoted"),
        }
    }
}

/// A parsed `Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// The algorithm (only RSA256 is accepted).
    pub algorithm: Algorithm,
    /// `keyVersion`, if given; absent means the latest key of the Client-Id.
    pub key_version: Option<u32>,
    /// The raw signature bytes after URL- and Base64-decoding.
    pub signature: Vec<u8>,
    /// Non-canonical forms that were accepted.
    pub leniencies: Vec<Leniency>,
}

impl SignatureHeader {
    /// Parses a header value tolerantly, by the rules of reference §1.6.
    pub fn parse(value: &str) -> Result<Self, SigningError> {
        if value.trim().is_empty() {
            return Err(SigningError::MissingHeader);
        }
        let mut leniencies = Vec::new();
        let mut algorithm_raw: Option<String> = None;
        let mut key_version_raw: Option<String> = None;
        let mut signature_raw: Option<String> = None;
        let mut spaces = false;
        for part in value.split(',') {
            let trimmed = part.trim_matches([' ', '\t']);
            if trimmed.len() != part.len() {
                spaces = true;
            }
            if trimmed.is_empty() {
                continue;
            }
            let Some((key, raw_value)) = trimmed.split_once('=') else {
                return Err(SigningError::MalformedHeader(format!(
                    "part `{}` is not key=value",
                    truncate(trimmed, 40)
                )));
            };
            let key_trimmed = key.trim_matches([' ', '\t']);
            let mut val = raw_value.trim_matches([' ', '\t']);
            if val.len() >= 2 && val.starts_with('"') && val.ends_with('"') {
                val = &val[1..val.len() - 1];
                leniencies.push(Leniency::QuotedValue(key_trimmed.to_owned()));
            }
            let slot = match key_trimmed.to_ascii_lowercase().as_str() {
                "algorithm" => (&mut algorithm_raw, "algorithm"),
                "keyversion" => (&mut key_version_raw, "keyVersion"),
                "signature" => (&mut signature_raw, "signature"),
                // Unknown keys are ignored, as the reference asks.
                _ => continue,
            };
            if key_trimmed != slot.1 {
                leniencies.push(Leniency::KeyNameCase(key_trimmed.to_owned()));
            }
            if slot.0.is_some() {
                return Err(SigningError::DuplicateHeaderKey(slot.1.to_owned()));
            }
            *slot.0 = Some(val.to_owned());
        }
        if spaces {
            leniencies.insert(0, Leniency::SpacesAroundPairs);
        }
        let algorithm = match algorithm_raw {
            None => {
                leniencies.push(Leniency::AlgorithmMissing);
                Algorithm::Rsa256
            }
            Some(a) if a == "RSA256" => Algorithm::Rsa256,
            Some(a) if a.eq_ignore_ascii_case("RSA256") => {
                leniencies.push(Leniency::AlgorithmCase(a));
                Algorithm::Rsa256
            }
            Some(a) => return Err(SigningError::UnsupportedAlgorithm(a)),
        };
        let key_version = match key_version_raw {
            None => None,
            Some(v) => Some(v.parse::<u32>().map_err(|_| SigningError::BadKeyVersion(v))?),
        };
        let Some(signature_text) = signature_raw else {
            return Err(SigningError::MalformedHeader("no signature= part".to_owned()));
        };
        if signature_text.is_empty() {
            return Err(SigningError::MalformedHeader("signature= is empty".to_owned()));
        }
        let signature = decode_signature_value(&signature_text, &mut leniencies)?;
        Ok(SignatureHeader { algorithm, key_version, signature, leniencies })
    }

    /// Writes the header as Alipay+ documents it: `algorithm=RSA256, keyVersion=1, signature=…`.
    pub fn format(key_version: Option<u32>, signature: &[u8]) -> String {
        let encoded = encode_signature_value(signature);
        match key_version {
            Some(version) => format!("algorithm=RSA256, keyVersion={version}, signature={encoded}"),
            None => format!("algorithm=RSA256, signature={encoded}"),
        }
    }
}

/// Base64, then URL-encode like Java's `URLEncoder` (`+`→`%2B`, `/`→`%2F`, `=`→`%3D`).
pub fn encode_signature_value(signature: &[u8]) -> String {
    utf8_percent_encode(&STANDARD.encode(signature), JAVA_URL_ENCODE).to_string()
}

/// URL-decode (keeping a literal `+` as `+`), then Base64-decode with or without padding.
fn decode_signature_value(text: &str, leniencies: &mut Vec<Leniency>) -> Result<Vec<u8>, SigningError> {
    if text.contains(['+', '/', '=']) {
        leniencies.push(Leniency::SignatureNotUrlEncoded);
    }
    check_percent_escapes(text)?;
    let decoded = percent_decode_str(text)
        .decode_utf8()
        .map_err(|e| SigningError::BadPercentEncoding(e.to_string()))?;
    let base64_text = decoded.trim();
    if !base64_text.ends_with('=') && base64_text.len() % 4 != 0 {
        leniencies.push(Leniency::SignatureUnpadded);
    }
    BASE64_LENIENT
        .decode(base64_text)
        .map_err(|e| SigningError::BadBase64 { what: "signature", detail: e.to_string() })
}

/// `percent_decode_str` passes a broken escape through silently; a payment engineer wants to hear
/// about it, so check first.
fn check_percent_escapes(text: &str) -> Result<(), SigningError> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let valid = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !valid {
                let end = (i + 3).min(bytes.len());
                return Err(SigningError::BadPercentEncoding(format!(
                    "`{}` at position {i}",
                    String::from_utf8_lossy(&bytes[i..end])
                )));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// An RSA private key. `Debug` and `Display` never show key material.
pub struct PrivateKey {
    pair: KeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
}

/// An RSA public key, kept as X.509 SubjectPublicKeyInfo DER.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    spki: Vec<u8>,
    bits: usize,
}

/// How a PEM block or Base64 text was labelled, which tells the kind of key it claims to be.
enum KeyText {
    Pem { label: String, der: Zeroizing<Vec<u8>> },
    Bare(Zeroizing<Vec<u8>>),
}

/// Splits pasted key text into PEM (label + DER) or bare Base64 DER.
///
/// Hand-written rather than a strict RFC 7468 parser because people paste keys with CRLF, odd line
/// lengths, leading blanks and trailing text, and all of those must work.
fn read_key_text(text: &str) -> Result<KeyText, SigningError> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix("-----BEGIN ") {
        let Some((label, after)) = rest.split_once("-----") else {
            return Err(SigningError::MalformedPem("BEGIN line has no closing dashes".to_owned()));
        };
        let end_line = format!("-----END {label}-----");
        let Some((body, _)) = after.split_once(&end_line) else {
            return Err(SigningError::MalformedPem(format!("no `{end_line}` line")));
        };
        if body.contains("Proc-Type:") || body.contains("DEK-Info:") {
            return Err(SigningError::EncryptedKey);
        }
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let der = BASE64_LENIENT
            .decode(compact)
            .map_err(|e| SigningError::BadBase64 { what: "PEM body", detail: e.to_string() })?;
        Ok(KeyText::Pem { label: label.to_owned(), der: Zeroizing::new(der) })
    } else {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            return Err(SigningError::InvalidKey("the key text is empty".to_owned()));
        }
        let der = BASE64_LENIENT
            .decode(compact)
            .map_err(|e| SigningError::BadBase64 { what: "key", detail: e.to_string() })?;
        Ok(KeyText::Bare(Zeroizing::new(der)))
    }
}

fn check_bits(bits: usize) -> Result<(), SigningError> {
    if (MIN_KEY_BITS..=MAX_KEY_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(SigningError::WrongKeySize { bits })
    }
}

fn rsa_der_is_public(der: &[u8]) -> bool {
    aws_lc_rs::rsa::PublicKey::from_der(der).is_ok() || modulus_bits(der).is_some_and(|(public, _)| public)
}

/// Reads `(is_public, modulus bits)` from RSA key DER in any of the four encodings. The backend
/// refuses small keys without saying how small, and the error should say.
fn modulus_bits(der: &[u8]) -> Option<(bool, usize)> {
    use pkcs8::der::Decode as _;
    let bits = |modulus: pkcs1::UintRef<'_>| modulus.as_bytes().len() * 8;
    if let Ok(info) = pkcs8::PrivateKeyInfo::from_der(der) {
        return pkcs1::RsaPrivateKey::from_der(info.private_key).ok().map(|k| (false, bits(k.modulus)));
    }
    if let Ok(key) = pkcs1::RsaPrivateKey::from_der(der) {
        return Some((false, bits(key.modulus)));
    }
    if let Ok(spki) = pkcs8::SubjectPublicKeyInfoRef::from_der(der) {
        let raw = spki.subject_public_key.as_bytes()?;
        return pkcs1::RsaPublicKey::from_der(raw).ok().map(|k| (true, bits(k.modulus)));
    }
    pkcs1::RsaPublicKey::from_der(der).ok().map(|k| (true, bits(k.modulus)))
}

fn key_rejected(e: aws_lc_rs::error::KeyRejected, der: &[u8]) -> SigningError {
    match e.description_() {
        "TooSmall" | "TooLarge" => match modulus_bits(der) {
            Some((_, bits)) => SigningError::WrongKeySize { bits },
            None => SigningError::InvalidKey(format!("key size rejected ({})", e.description_())),
        },
        "WrongAlgorithm" => SigningError::InvalidKey("the key is not an RSA key".to_owned()),
        other => SigningError::InvalidKey(other.to_owned()),
    }
}

impl PrivateKey {
    /// Generates a new 2048-bit RSA key pair.
    pub fn generate() -> Result<Self, SigningError> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| SigningError::Backend("RSA key generation failed"))?;
        Self::from_pair(pair)
    }

    fn from_pair(pair: KeyPair) -> Result<Self, SigningError> {
        let bits = pair.public_modulus_len() * 8;
        check_bits(bits)?;
        let pkcs8 = pair.as_der().map_err(|_| SigningError::Backend("PKCS#8 export failed"))?;
        Ok(Self { pkcs8: Zeroizing::new(pkcs8.as_ref().to_vec()), pair })
    }

    /// Parses a private key from PEM (`PRIVATE KEY` = PKCS#8, `RSA PRIVATE KEY` = PKCS#1) or bare
    /// Base64 DER (PKCS#8 as Alipay's key tool writes it, or PKCS#1).
    pub fn parse(text: &str) -> Result<Self, SigningError> {
        match read_key_text(text)? {
            KeyText::Pem { label, der } => match label.as_str() {
                "PRIVATE KEY" => Self::from_pkcs8_der(&der),
                "RSA PRIVATE KEY" => Self::from_pkcs1_der(&der),
                "ENCRYPTED PRIVATE KEY" => Err(SigningError::EncryptedKey),
                "PUBLIC KEY" | "RSA PUBLIC KEY" => {
                    Err(SigningError::WrongKeyKind { expected: "private", found: "public" })
                }
                "CERTIFICATE" => {
                    Err(SigningError::WrongKeyKind { expected: "private", found: "certificate" })
                }
                other => Err(SigningError::InvalidKey(format!("unexpected PEM label `{other}`"))),
            },
            KeyText::Bare(der) => Self::from_der_any(&der),
        }
    }

    /// Parses DER that may be PKCS#8 or PKCS#1.
    pub fn from_der_any(der: &[u8]) -> Result<Self, SigningError> {
        match Self::from_pkcs8_der(der) {
            Ok(key) => Ok(key),
            Err(pkcs8_error) => match Self::from_pkcs1_der(der) {
                Ok(key) => Ok(key),
                Err(_) if rsa_der_is_public(der) => {
                    Err(SigningError::WrongKeyKind { expected: "private", found: "public" })
                }
                Err(_) => Err(pkcs8_error),
            },
        }
    }

    /// Parses PKCS#8 `PrivateKeyInfo` DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, SigningError> {
        Self::from_pair(KeyPair::from_pkcs8(der).map_err(|e| key_rejected(e, der))?)
    }

    /// Parses PKCS#1 `RSAPrivateKey` DER.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, SigningError> {
        Self::from_pair(KeyPair::from_der(der).map_err(|e| key_rejected(e, der))?)
    }

    /// Modulus length in bits.
    pub fn bits(&self) -> usize {
        self.pair.public_modulus_len() * 8
    }

    /// The matching public key.
    pub fn public_key(&self) -> Result<PublicKey, SigningError> {
        let spki =
            self.pair.public_key().as_der().map_err(|_| SigningError::Backend("SPKI export failed"))?;
        Ok(PublicKey { spki: spki.as_ref().to_vec(), bits: self.bits() })
    }

    /// PKCS#8 DER bytes.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }

    /// Bare Base64 PKCS#8, the form Alipay's key tool writes.
    pub fn to_base64(&self) -> SecretString {
        SecretString::new(STANDARD.encode(self.pkcs8.as_slice()))
    }

    /// PEM `-----BEGIN PRIVATE KEY-----` (PKCS#8).
    pub fn to_pkcs8_pem(&self) -> SecretString {
        SecretString::new(pem("PRIVATE KEY", &self.pkcs8))
    }

    /// PEM `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1), for tools that still want it.
    pub fn to_pkcs1_pem(&self) -> Result<SecretString, SigningError> {
        let info = pkcs8::PrivateKeyInfo::try_from(self.pkcs8.as_slice())
            .map_err(|_| SigningError::Backend("PKCS#8 structure could not be read back"))?;
        Ok(SecretString::new(pem("RSA PRIVATE KEY", info.private_key)))
    }

    /// Signs `content` with SHA256withRSA (PKCS#1 v1.5).
    pub fn sign(&self, content: &[u8]) -> Result<Vec<u8>, SigningError> {
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.pair
            .sign(&signature::RSA_PKCS1_SHA256, &rng, content, &mut signature)
            .map_err(|_| SigningError::Backend("RSA signing failed"))?;
        Ok(signature)
    }

    /// Signs a message and returns the `Signature` header value.
    pub fn sign_message(
        &self,
        message: &MessageParts<'_>,
        key_version: Option<u32>,
    ) -> Result<String, SigningError> {
        let signature = self.sign(&message.content())?;
        Ok(SignatureHeader::format(key_version, &signature))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(RSA-{}, ***)", self.bits())
    }
}

impl fmt::Display for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RSA-{} private key (hidden)", self.bits())
    }
}

impl PublicKey {
    /// Parses a public key from PEM (`PUBLIC KEY` = SPKI, `RSA PUBLIC KEY` = PKCS#1) or bare Base64
    /// DER (SPKI as Alipay+ shows it, or PKCS#1).
    pub fn parse(text: &str) -> Result<Self, SigningError> {
        match read_key_text(text)? {
            KeyText::Pem { label, der } => match label.as_str() {
                "PUBLIC KEY" | "RSA PUBLIC KEY" => Self::from_der(&der),
                "PRIVATE KEY" | "RSA PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => {
                    Err(SigningError::WrongKeyKind { expected: "public", found: "private" })
                }
                "CERTIFICATE" => Err(SigningError::WrongKeyKind { expected: "public", found: "certificate" }),
                other => Err(SigningError::InvalidKey(format!("unexpected PEM label `{other}`"))),
            },
            KeyText::Bare(der) => {
                let parsed = Self::from_der(&der);
                if parsed.is_err() && PrivateKey::from_der_any(&der).is_ok() {
                    return Err(SigningError::WrongKeyKind { expected: "public", found: "private" });
                }
                parsed
            }
        }
    }

    /// Parses SPKI or PKCS#1 `RSAPublicKey` DER.
    pub fn from_der(der: &[u8]) -> Result<Self, SigningError> {
        let key = aws_lc_rs::rsa::PublicKey::from_der(der).map_err(|e| key_rejected(e, der))?;
        let bits = key_bits(&key);
        check_bits(bits)?;
        let spki = key.as_der().map_err(|_| SigningError::Backend("SPKI export failed"))?;
        Ok(Self { spki: spki.as_ref().to_vec(), bits })
    }

    /// Modulus length in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// SubjectPublicKeyInfo DER.
    pub fn to_spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// SHA-256 of the SPKI DER in lower-case hex, the usual way to compare keys by eye.
    pub fn fingerprint(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.spki);
        digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Bare Base64 SPKI, the form Alipay+ Developer Center shows and accepts.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.spki)
    }

    /// PEM `-----BEGIN PUBLIC KEY-----` (SPKI).
    pub fn to_pem(&self) -> String {
        pem("PUBLIC KEY", &self.spki)
    }

    /// PEM `-----BEGIN RSA PUBLIC KEY-----` (PKCS#1).
    pub fn to_pkcs1_pem(&self) -> Result<String, SigningError> {
        let key = aws_lc_rs::rsa::PublicKey::from_der(&self.spki).map_err(|e| key_rejected(e, &self.spki))?;
        Ok(pem("RSA PUBLIC KEY", key.as_ref()))
    }

    /// Verifies a SHA256withRSA signature over `content`.
    pub fn verify(&self, content: &[u8], signature: &[u8]) -> Result<(), SigningError> {
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &self.spki)
            .verify(content, signature)
            .map_err(|_| SigningError::SignatureMismatch)
    }

    /// Parses a `Signature` header value and verifies it over the message. Returns the parsed header
    /// (with any leniencies) when the signature matches.
    pub fn verify_message(
        &self,
        header: &str,
        message: &MessageParts<'_>,
    ) -> Result<SignatureHeader, SigningError> {
        let parsed = SignatureHeader::parse(header)?;
        self.verify(&message.content(), &parsed.signature)?;
        Ok(parsed)
    }
}

fn key_bits(key: &aws_lc_rs::rsa::PublicKey) -> usize {
    key.modulus_len() * 8
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(RSA-{}, {})", self.bits, self.to_base64())
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    // Base64 is ASCII, so splitting on byte boundaries is safe.
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The parts of one signed message, borrowed from where they already live.
#[derive(Debug, Clone, Copy)]
pub struct MessageParts<'a> {
    /// HTTP method, `POST` for every Alipay+ call and response.
    pub method: &'a str,
    /// Request-URI of the call (for a response: of the call being answered).
    pub uri: &'a str,
    /// `Client-Id` header value.
    pub client_id: &'a str,
    /// `Request-Time` (request) or `Response-Time` (response), exactly as sent.
    pub time: &'a str,
    /// The body bytes exactly as sent.
    pub body: &'a [u8],
}

impl MessageParts<'_> {
    /// The bytes to sign.
    pub fn content(&self) -> Vec<u8> {
        content_to_sign(self.method, self.uri, self.client_id, self.time, self.body)
    }
}
