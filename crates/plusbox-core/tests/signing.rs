//! Signing tests, cross-checked against independent implementations: the `openssl` command and
//! Python's `cryptography` package. Those tools are required; a missing one fails the test with
//! the package to install.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use plusbox_core::signing::{
    content_to_sign, encode_signature_value, Leniency, MessageParts, PrivateKey, PublicKey, SignatureHeader,
    SigningError,
};
use proptest::prelude::*;

const PAY_BODY: &str = r#"{"paymentRequestId":"pay_1089760038715669_102775745075669","paymentAmount":{"currency":"HKD","value":"50000"},"paymentMethod":{"paymentMethodType":"CONNECT_WALLET","paymentMethodId":"281006020000000000125733"},"paymentFactor":{"isInStorePayment":"true","inStorePaymentScenario":"PaymentCode"},"order":{"referenceOrderId":"102775745075669","orderDescription":"Mi Band 3 Wrist Strap","orderAmount":{"currency":"HKD","value":"50000"},"merchant":{"referenceMerchantId":"M0001","merchantName":"cup Hu","merchantMCC":"1234","store":{"referenceStoreId":"S0000000001","storeName":"UGG-2","storeMCC":"1405"}},"env":{"storeTerminalId":"T01"}}}"#;

/// Key generation is the slow part; one key serves the tests that only need "a key".
fn shared_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate().unwrap())
}

fn pay_message(body: &[u8]) -> MessageParts<'_> {
    MessageParts {
        method: "POST",
        uri: "/aps/api/v1/payments/pay",
        client_id: "SANDBOX_5YC47N2ZQHJ004124",
        time: "2025-02-20T08:51:49.09Z",
        body,
    }
}

fn run(cmd: &mut Command, install_hint: &str) -> std::process::Output {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}; install it with: {install_hint}"));
    assert!(output.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

fn openssl(args: &[&str], dir: &Path) -> std::process::Output {
    run(Command::new("openssl").args(args).current_dir(dir), "apt-get install openssl")
}

fn python(script: &str, dir: &Path) -> std::process::Output {
    run(
        Command::new("python3").arg("-c").arg(script).current_dir(dir),
        "apt-get install python3 python3-cryptography (or pip install cryptography)",
    )
}

#[test]
fn content_to_sign_matches_the_documented_layout() {
    let content = content_to_sign(
        "POST",
        "/aps/api/v1/payments/pay",
        "TEST_5X00000000000000",
        "2019-05-28T12:12:12+08:00",
        b"{\"a\":\"1\"}",
    );
    assert_eq!(
        content,
        b"POST /aps/api/v1/payments/pay\nTEST_5X00000000000000.2019-05-28T12:12:12+08:00.{\"a\":\"1\"}"
    );
}

#[test]
fn sign_then_verify_and_tampering_is_caught() {
    let key = shared_key();
    let public = key.public_key().unwrap();
    let header = key.sign_message(&pay_message(PAY_BODY.as_bytes()), Some(1)).unwrap();
    assert!(header.starts_with("algorithm=RSA256, keyVersion=1, signature="));
    let parsed = public.verify_message(&header, &pay_message(PAY_BODY.as_bytes())).unwrap();
    assert_eq!(parsed.key_version, Some(1));

    let tampered = PAY_BODY.replace("50000", "50001");
    assert_eq!(
        public.verify_message(&header, &pay_message(tampered.as_bytes())),
        Err(SigningError::SignatureMismatch)
    );
    let mut other_time = pay_message(PAY_BODY.as_bytes());
    other_time.time = "2025-02-20T08:51:50Z";
    assert_eq!(public.verify_message(&header, &other_time), Err(SigningError::SignatureMismatch));

    let other_key = PrivateKey::generate().unwrap().public_key().unwrap();
    assert_eq!(
        other_key.verify_message(&header, &pay_message(PAY_BODY.as_bytes())),
        Err(SigningError::SignatureMismatch)
    );
}

#[test]
fn keys_round_trip_through_every_export_form() {
    let key = shared_key();
    let public = key.public_key().unwrap();
    assert_eq!(key.bits(), 2048);
    for text in [
        key.to_base64().expose().to_owned(),
        key.to_pkcs8_pem().expose().to_owned(),
        key.to_pkcs1_pem().unwrap().expose().to_owned(),
        // CRLF line ends and leading blanks, as pasted from a Windows editor.
        format!("\r\n  {}", key.to_pkcs8_pem().expose().replace('\n', "\r\n")),
    ] {
        let back = PrivateKey::parse(&text).unwrap();
        assert_eq!(back.public_key().unwrap(), public);
    }
    for text in [public.to_base64(), public.to_pem(), public.to_pkcs1_pem().unwrap()] {
        assert_eq!(PublicKey::parse(&text).unwrap(), public);
    }
    // Bare base64 SPKI is what Alipay+ shows; it starts with the SPKI/RSA prefix.
    assert!(public.to_base64().starts_with("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"));
}

#[test]
fn secrets_never_appear_in_debug_or_display() {
    let key = shared_key();
    let base64 = key.to_base64().expose().to_owned();
    let shown = format!("{key:?} {key} {:?} {}", key.to_base64(), key.to_pkcs8_pem());
    assert!(!shown.contains(&base64[40..80]), "key material leaked: {shown}");
}

#[test]
fn openssl_verifies_our_signature_and_we_verify_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let key = shared_key();
    std::fs::write(dir.path().join("key.pem"), key.to_pkcs8_pem().expose()).unwrap();
    std::fs::write(dir.path().join("pub.pem"), key.public_key().unwrap().to_pem()).unwrap();
    let content = pay_message(PAY_BODY.as_bytes()).content();
    std::fs::write(dir.path().join("content"), &content).unwrap();

    // Ours → openssl.
    std::fs::write(dir.path().join("ours.sig"), key.sign(&content).unwrap()).unwrap();
    let out =
        openssl(&["dgst", "-sha256", "-verify", "pub.pem", "-signature", "ours.sig", "content"], dir.path());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Verified OK"));

    // openssl → ours, through the Signature header as a peer would send it.
    openssl(&["dgst", "-sha256", "-sign", "key.pem", "-out", "theirs.sig", "content"], dir.path());
    let theirs = std::fs::read(dir.path().join("theirs.sig")).unwrap();
    let header = format!("algorithm=RSA256,keyVersion=1,signature={}", encode_signature_value(&theirs));
    let public = key.public_key().unwrap();
    public.verify_message(&header, &pay_message(PAY_BODY.as_bytes())).unwrap();
    // A signature over different bytes must not verify.
    assert_eq!(public.verify(b"POST /other\nx.y.z", &theirs), Err(SigningError::SignatureMismatch));
}

#[test]
fn openssl_keys_in_every_form_are_read() {
    let dir = tempfile::tempdir().unwrap();
    openssl(
        &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "k8.pem"],
        dir.path(),
    );
    openssl(&["rsa", "-in", "k8.pem", "-traditional", "-out", "k1.pem"], dir.path());
    openssl(&["pkey", "-in", "k8.pem", "-pubout", "-out", "spki.pem"], dir.path());
    openssl(&["rsa", "-in", "k8.pem", "-RSAPublicKey_out", "-out", "pk1.pem"], dir.path());
    openssl(&["pkey", "-in", "k8.pem", "-outform", "DER", "-out", "k8.der"], dir.path());
    openssl(&["pkey", "-in", "k8.pem", "-pubout", "-outform", "DER", "-out", "spki.der"], dir.path());
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    let text = |name: &str| String::from_utf8(read(name)).unwrap();

    let from_pkcs8 = PrivateKey::parse(&text("k8.pem")).unwrap();
    assert!(text("k1.pem").contains("BEGIN RSA PRIVATE KEY"));
    let from_pkcs1 = PrivateKey::parse(&text("k1.pem")).unwrap();
    let from_bare = PrivateKey::parse(&STANDARD.encode(read("k8.der"))).unwrap();
    let spki = PublicKey::parse(&text("spki.pem")).unwrap();
    let pkcs1_public = PublicKey::parse(&text("pk1.pem")).unwrap();
    let bare_public = PublicKey::parse(&STANDARD.encode(read("spki.der"))).unwrap();
    for key in [&from_pkcs8, &from_pkcs1, &from_bare] {
        assert_eq!(key.public_key().unwrap(), spki);
    }
    assert_eq!(pkcs1_public, spki);
    assert_eq!(bare_public, spki);
    // Our bare export is byte-identical to openssl's DER (PKCS#8 and SPKI are canonical DER).
    assert_eq!(STANDARD.decode(spki.to_base64()).unwrap(), read("spki.der"));
}

#[test]
fn python_cryptography_interoperates() {
    let dir = tempfile::tempdir().unwrap();
    let key = shared_key();
    std::fs::write(dir.path().join("key.pem"), key.to_pkcs8_pem().expose()).unwrap();
    let content = pay_message(PAY_BODY.as_bytes()).content();
    std::fs::write(dir.path().join("content"), &content).unwrap();
    std::fs::write(dir.path().join("ours.b64"), STANDARD.encode(key.sign(&content).unwrap())).unwrap();
    let script = r#"
import base64
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
key = serialization.load_pem_private_key(open("key.pem", "rb").read(), password=None)
content = open("content", "rb").read()
ours = base64.b64decode(open("ours.b64").read())
key.public_key().verify(ours, content, padding.PKCS1v15(), hashes.SHA256())
theirs = key.sign(content, padding.PKCS1v15(), hashes.SHA256())
print(base64.b64encode(theirs).decode())
"#;
    let out = python(script, dir.path());
    let theirs = STANDARD.decode(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    key.public_key().unwrap().verify(&content, &theirs).unwrap();
}

#[test]
fn header_parsing_is_tolerant_and_reports_leniencies() {
    let signature = vec![0xfb_u8; 256];
    let b64 = STANDARD.encode(&signature);
    let encoded = encode_signature_value(&signature);
    assert!(encoded.contains("%2B") || encoded.contains("%2F"), "{encoded}");

    let canonical =
        SignatureHeader::parse(&format!("algorithm=RSA256,keyVersion=1,signature={encoded}")).unwrap();
    assert_eq!(canonical.signature, signature);
    assert!(canonical.leniencies.is_empty());

    let spaced =
        SignatureHeader::parse(&format!("algorithm=RSA256, keyVersion=2, signature={encoded}")).unwrap();
    assert_eq!(spaced.key_version, Some(2));
    assert_eq!(spaced.leniencies, vec![Leniency::SpacesAroundPairs]);

    let loose = SignatureHeader::parse(&format!(" Algorithm = rsa256 ,SIGNATURE=\"{b64}\"")).unwrap();
    assert_eq!(loose.signature, signature);
    assert_eq!(loose.key_version, None);
    assert!(loose.leniencies.contains(&Leniency::AlgorithmCase("rsa256".into())));
    assert!(loose.leniencies.contains(&Leniency::SignatureNotUrlEncoded));
    assert!(loose.leniencies.contains(&Leniency::QuotedValue("SIGNATURE".into())));

    let unpadded = SignatureHeader::parse(&format!("signature={}", b64.trim_end_matches('='))).unwrap();
    assert_eq!(unpadded.signature, signature);
    assert!(unpadded.leniencies.contains(&Leniency::AlgorithmMissing));
    // Unknown keys are ignored.
    assert!(SignatureHeader::parse(&format!("algorithm=RSA256,charset=UTF-8,signature={encoded}")).is_ok());
}

#[test]
fn header_errors_name_what_is_wrong() {
    let encoded = encode_signature_value(&[1, 2, 3]);
    let cases: Vec<(String, SigningError)> = vec![
        (String::new(), SigningError::MissingHeader),
        ("algorithm=RSA256,keyVersion=1".into(), SigningError::MalformedHeader("no signature= part".into())),
        (
            format!("algorithm=ECC224,signature={encoded}"),
            SigningError::UnsupportedAlgorithm("ECC224".into()),
        ),
        (
            format!("algorithm=RSA256,algorithm=RSA256,signature={encoded}"),
            SigningError::DuplicateHeaderKey("algorithm".into()),
        ),
        (format!("keyVersion=one,signature={encoded}"), SigningError::BadKeyVersion("one".into())),
        ("signature=abc%2".into(), SigningError::BadPercentEncoding("`%2` at position 3".into())),
    ];
    for (header, expected) in cases {
        assert_eq!(SignatureHeader::parse(&header), Err(expected), "header: {header:?}");
    }
    assert!(matches!(
        SignatureHeader::parse("signature=!!!notbase64"),
        Err(SigningError::BadBase64 { what: "signature", .. })
    ));
    assert!(matches!(SignatureHeader::parse("algorithm"), Err(SigningError::MalformedHeader(_))));
}

#[test]
fn key_errors_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    openssl(
        &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "small.pem"],
        dir.path(),
    );
    openssl(&["pkey", "-in", "small.pem", "-pubout", "-out", "small_pub.pem"], dir.path());
    openssl(
        &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem"],
        dir.path(),
    );
    let text = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();

    assert_eq!(PrivateKey::parse(&text("small.pem")).unwrap_err(), SigningError::WrongKeySize { bits: 1024 });
    assert_eq!(
        PublicKey::parse(&text("small_pub.pem")).unwrap_err(),
        SigningError::WrongKeySize { bits: 1024 }
    );
    assert!(matches!(PrivateKey::parse(&text("ec.pem")), Err(SigningError::InvalidKey(_))));

    let key = shared_key();
    let public = key.public_key().unwrap();
    let wrong_kind = SigningError::WrongKeyKind { expected: "private", found: "public" };
    assert_eq!(PrivateKey::parse(&public.to_pem()).unwrap_err(), wrong_kind);
    assert_eq!(PrivateKey::parse(&public.to_base64()).unwrap_err(), wrong_kind);
    let wrong_kind = SigningError::WrongKeyKind { expected: "public", found: "private" };
    assert_eq!(PublicKey::parse(key.to_pkcs8_pem().expose()).unwrap_err(), wrong_kind);
    assert_eq!(PublicKey::parse(key.to_base64().expose()).unwrap_err(), wrong_kind);

    assert!(matches!(PublicKey::parse("not base64 at all!"), Err(SigningError::BadBase64 { .. })));
    assert!(matches!(PublicKey::parse("AAAA"), Err(SigningError::InvalidKey(_))));
    assert!(matches!(PublicKey::parse(""), Err(SigningError::InvalidKey(_))));
    assert!(matches!(
        PublicKey::parse("-----BEGIN PUBLIC KEY-----\nAAAA\n"),
        Err(SigningError::MalformedPem(_))
    ));
}

proptest! {
    #[test]
    fn header_parser_never_panics(input in ".{0,300}") {
        let _ = SignatureHeader::parse(&input);
    }

    #[test]
    fn key_parsers_never_panic(input in "[A-Za-z0-9+/=\\-\\n ]{0,400}") {
        let _ = PublicKey::parse(&input);
        let _ = PrivateKey::parse(&input);
    }

    #[test]
    fn encoded_signatures_decode_to_the_same_bytes(bytes in proptest::collection::vec(any::<u8>(), 1..300)) {
        let header = SignatureHeader::format(Some(1), &bytes);
        let parsed = SignatureHeader::parse(&header).unwrap();
        prop_assert_eq!(parsed.signature, bytes);
    }
}
