//! Signing and verifying a typical `pay` request: the chosen backend (aws-lc-rs, behind
//! `plusbox_core::signing`) beside the pure-Rust `rsa` + `sha2` alternative, on the same content.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use plusbox_core::signing::{MessageParts, PrivateKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use sha2::Sha256;

const PAY_BODY: &str = r#"{"paymentRequestId":"pay_1089760038715669_102775745075669","paymentAmount":{"currency":"HKD","value":"50000"},"paymentMethod":{"paymentMethodType":"CONNECT_WALLET","paymentMethodId":"281006020000000000125733"},"paymentFactor":{"isInStorePayment":"true","inStorePaymentScenario":"PaymentCode"},"paymentNotifyUrl":"https://acqp.example/notify","order":{"referenceOrderId":"102775745075669","orderDescription":"Mi Band 3 Wrist Strap","orderAmount":{"currency":"HKD","value":"50000"},"merchant":{"referenceMerchantId":"M0001","merchantName":"cup Hu","merchantMCC":"1234","store":{"referenceStoreId":"S0000000001","storeName":"UGG-2","storeMCC":"1405"}},"env":{"storeTerminalId":"T01","storeTerminalRequestTime":"2020-01-01T12:00:00+08:00"}}}"#;

fn signing(c: &mut Criterion) {
    let key = PrivateKey::generate().unwrap();
    let public = key.public_key().unwrap();
    let message = MessageParts {
        method: "POST",
        uri: "/aps/api/v1/payments/pay",
        client_id: "SANDBOX_5YC47N2ZQHJ004124",
        time: "2025-02-20T08:51:49+08:00",
        body: PAY_BODY.as_bytes(),
    };
    let header = key.sign_message(&message, Some(1)).unwrap();
    let content = message.content();

    let mut group = c.benchmark_group("pay-request");
    group.bench_function("aws-lc-rs/sign (header)", |b| {
        b.iter(|| key.sign_message(&message, Some(1)).unwrap())
    });
    group.bench_function("aws-lc-rs/verify (header)", |b| {
        b.iter(|| public.verify_message(&header, &message).unwrap())
    });

    let rsa_key = rsa::RsaPrivateKey::from_pkcs8_der(&key.to_pkcs8_der()).unwrap();
    let rsa_signer = SigningKey::<Sha256>::new(rsa_key.clone());
    let rsa_verifier = VerifyingKey::<Sha256>::new(rsa_key.to_public_key());
    let rsa_signature: Signature = rsa_signer.sign(&content);
    // Same key, same deterministic PKCS#1 v1.5 padding: both backends must agree byte for byte.
    assert_eq!(rsa_signature.to_vec(), key.sign(&content).unwrap());
    group.bench_function("rsa+sha2/sign", |b| b.iter(|| rsa_signer.sign(&content)));
    group.bench_function("rsa+sha2/verify", |b| {
        b.iter(|| rsa_verifier.verify(&content, &rsa_signature).unwrap())
    });
    group.finish();
}

criterion_group!(benches, signing);
criterion_main!(benches);
