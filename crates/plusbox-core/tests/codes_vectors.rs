//! Reference vectors and error cases for `plusbox_core::codes` (payment-codes.md §2–§8).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use plusbox_core::codes::emv::{self, EmvError, EmvObject};
use plusbox_core::codes::gpld::{self, GpldError};
use plusbox_core::codes::mpm::{self, check_order_code_url, new_order_code, OrderCodeError};
use plusbox_core::codes::*;
use time::macros::datetime;

/// A deterministic source: SplitMix64.
fn seeded(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

// ---------- §3 classification table ----------

#[test]
fn classification_table_of_section_3() {
    let cases: &[(&str, CodeFamily, Option<&str>, Option<&str>)] = &[
        ("251001020123456789012345", CodeFamily::Cgcp24, Some("001"), Some("02")),
        ("281010897274821897274821", CodeFamily::Cgcp24, Some("010"), Some("89")),
        ("281006020000000000125733", CodeFamily::Cgcp24, Some("006"), Some("02")),
        ("2893612204263667830", CodeFamily::AlipayPlus19, None, None),
        ("28024456785672301", CodeFamily::AlipayCnHk, None, None),
        ("280244567856723012", CodeFamily::AlipayCnHk, None, None),
        ("2891234567890123456", CodeFamily::AlipayCnHk, None, None),
        ("2502445678567230123456", CodeFamily::ReservedLength, None, None),
        ("12345678901234567", CodeFamily::NotAlipayPlus, None, None),
    ];
    for (code, family, routing, bti) in cases {
        let id = identify_payment_code(code);
        assert_eq!(id.family, *family, "{code}: {id:?}");
        assert_eq!(id.routing_number.as_deref(), *routing, "{code}");
        assert_eq!(id.bti.as_deref(), *bti, "{code}");
        assert_eq!(id.valid, family.is_payable(), "{code}");
        assert_eq!(id.reason.is_some(), !family.is_payable(), "{code}");
    }
    let first = identify_payment_code("251001020123456789012345");
    assert_eq!(first.agreement_id.as_deref(), Some("1"));
    assert_eq!(first.wallet.as_deref(), Some("TEST_WALLET"));
    assert_eq!(first.psp_id.as_deref(), Some("1022000000000000000"));
    assert_eq!(first.wallet_brand_name.as_deref(), Some("Test Wallet"));

    let hk = identify_payment_code("281006020000000000125733");
    assert_eq!(hk.wallet.as_deref(), Some("ALIPAY_HK"));
    assert_eq!(hk.psp_id.as_deref(), Some("1022160000000000000"));
    assert_eq!(hk.wallet_brand_name.as_deref(), Some("AlipayHK"));

    assert_eq!(
        identify_payment_code("12345678901234567").reason.as_deref(),
        Some("17 digits starting 12: does not start with 25–30")
    );
    assert_eq!(
        identify_payment_code("2502445678567230123456").reason.as_deref(),
        Some("length 22 is reserved for future use")
    );
}

#[test]
fn normalisation_drops_spaces_and_hyphens() {
    let a = parse_payment_code("2510 0102 0123-4567 8901 2345").unwrap();
    assert_eq!(a.digits, "251001020123456789012345");
    assert_eq!(a.family, CodeFamily::Cgcp24);
}

#[test]
fn payment_code_errors_are_typed() {
    assert_eq!(parse_payment_code(""), Err(PaymentCodeError::Empty));
    assert_eq!(parse_payment_code(" - "), Err(PaymentCodeError::Empty));
    assert_eq!(parse_payment_code("2510 01x2"), Err(PaymentCodeError::NonDigit { position: 8, found: 'x' }));
    assert_eq!(
        parse_payment_code("2510010201234"),
        Err(PaymentCodeError::Length { length: 13, min: 17, max: 32 })
    );
    assert_eq!(
        parse_payment_code(&"2".repeat(33)),
        Err(PaymentCodeError::Length { length: 33, min: 17, max: 32 })
    );
    assert_eq!(parse_payment_code(&"2".repeat(30)), Err(PaymentCodeError::ReservedLength { length: 30 }));
    // 24 digits not starting 25–30 is neither CGCP nor reserved: no family.
    assert!(matches!(
        parse_payment_code("241001020123456789012345"),
        Err(PaymentCodeError::NoFamily { length: 24, .. })
    ));
    // 19 digits starting 31.
    let err = parse_payment_code("3193612204263667830").unwrap_err();
    assert_eq!(err.to_string(), "19 digits starting 31: does not start with 25–30");
}

#[test]
fn unassigned_routing_number_is_valid_without_wallet() {
    let id = identify_payment_code("251899020123456789012345");
    assert!(id.valid);
    assert_eq!(id.family, CodeFamily::Cgcp24);
    assert_eq!(id.routing_number.as_deref(), Some("899"));
    assert_eq!(id.wallet, None);
    assert!(id.note.unwrap().contains("899"));
}

#[test]
fn builtin_table_loads_and_is_consistent() {
    let table = WalletTable::builtin();
    assert_eq!(table.min_length, 17);
    assert_eq!(table.max_length, 32);
    assert_eq!(table.default_persona().unwrap().psp_id, "1022000000000000000");
    assert_eq!(table.default_persona().unwrap().routing_number, "001");
    assert_eq!(table.find("ALIPAY_HK").unwrap().routing_number, "006");
    assert_eq!(table.find("alipayhk").unwrap().wallet_enum, "ALIPAY_HK");
    assert_eq!(table.find("1022088000000000001").unwrap().wallet_enum, "ALIPAY_CN");
    // Every published wallet of §7 plus the test wallet.
    assert_eq!(table.wallets.len(), 26);
}

#[test]
fn table_rejects_inconsistent_data() {
    let base: serde_json::Value =
        serde_json::from_str(plusbox_core::codes::wallets::BUILTIN_TABLE_JSON).unwrap();
    let mut dup = base.clone();
    dup["wallets"][1]["routingNumber"] = "001".into();
    assert!(matches!(WalletTable::from_json(&dup.to_string()), Err(WalletTableError::BadWallet { .. })));
    let mut bad_rule = base.clone();
    bad_rule["rules"][0]["routingPositions"] = serde_json::json!([4, 40]);
    assert!(matches!(
        WalletTable::from_json(&bad_rule.to_string()),
        Err(WalletTableError::BadRule { index: 0, .. })
    ));
    assert!(matches!(WalletTable::from_json("{"), Err(WalletTableError::Json(_))));
}

#[test]
fn direct_rules_take_precedence() {
    let rule: CodeRule = serde_json::from_value(serde_json::json!({
        "family": "DIRECT", "lengths": [24, 24], "prefix": "281006"
    }))
    .unwrap();
    let table = WalletTable::builtin().with_direct_rules(vec![rule]).unwrap();
    assert_eq!(table.identify("281006020000000000125733").family, CodeFamily::Direct);
    assert_eq!(table.identify("251001020123456789012345").family, CodeFamily::Cgcp24);
}

// ---------- generation (§2.5) ----------

#[test]
fn generated_codes_have_the_documented_shape_and_classify_back() {
    let now = datetime!(2025-01-02 03:04:05 UTC);
    let table = WalletTable::builtin();
    let mut rng = seeded(7);
    for wallet in &table.wallets {
        let code = generate_payment_code(CodeForm::Digits24, wallet, now, &mut rng);
        assert_eq!(code.value.len(), 24);
        assert_eq!(&code.value[..3], "251");
        assert_eq!(&code.value[3..6], wallet.routing_number);
        assert_eq!(&code.value[6..8], "02");
        let id = identify_payment_code(&code.value);
        assert_eq!(id.family, CodeFamily::Cgcp24);
        assert_eq!(id.wallet.as_deref(), Some(wallet.wallet_enum.as_str()));
        assert_eq!(id.psp_id.as_deref(), Some(wallet.psp_id.as_str()));
    }
    let wallet = table.default_persona().unwrap();
    for _ in 0..200 {
        let c17 = generate_payment_code(CodeForm::Legacy17, wallet, now, &mut rng);
        let c18 = generate_payment_code(CodeForm::Legacy18, wallet, now, &mut rng);
        let c19 = generate_payment_code(CodeForm::Legacy19, wallet, now, &mut rng);
        assert_eq!(c17.value.len(), 17);
        assert_eq!(c18.value.len(), 18);
        assert_eq!(c19.value.len(), 19);
        assert_eq!(identify_payment_code(&c17.value).family, CodeFamily::AlipayCnHk);
        assert_eq!(identify_payment_code(&c18.value).family, CodeFamily::AlipayCnHk);
        assert_eq!(identify_payment_code(&c19.value).family, CodeFamily::AlipayPlus19);
        assert!(c19.value.starts_with("289"));
        assert_eq!(c19.value.as_bytes()[13], b'6');
    }
}

#[test]
fn generation_is_deterministic_per_seed_and_expires_after_60s() {
    let now = datetime!(2025-01-02 03:04:05 UTC);
    let wallet = WalletTable::builtin().default_persona().unwrap();
    let a = generate_payment_code(CodeForm::Digits24, wallet, now, &mut seeded(1));
    let b = generate_payment_code(CodeForm::Digits24, wallet, now, &mut seeded(1));
    let c = generate_payment_code(CodeForm::Digits24, wallet, now, &mut seeded(2));
    assert_eq!(a.value, b.value);
    assert_ne!(a.value, c.value);
    assert_eq!(a.expires_at, datetime!(2025-01-02 03:05:05 UTC));
    assert!(!a.is_expired(datetime!(2025-01-02 03:05:05 UTC)));
    assert!(a.is_expired(datetime!(2025-01-02 03:05:06 UTC)));
}

#[test]
fn random_digits_are_roughly_uniform() {
    let mut rng = seeded(42);
    let digits = random_digits(&mut rng, 100_000);
    let mut counts = [0u32; 10];
    for b in digits.bytes() {
        counts[usize::from(b - b'0')] += 1;
    }
    for count in counts {
        assert!((9_500..10_500).contains(&count), "{counts:?}");
    }
}

#[test]
fn code_form_parses() {
    assert_eq!("24".parse::<CodeForm>(), Ok(CodeForm::Digits24));
    assert_eq!("19".parse::<CodeForm>(), Ok(CodeForm::Legacy19));
    assert!("20".parse::<CodeForm>().is_err());
}

// ---------- §8 Code 128 ----------

#[test]
fn code128_vectors_of_section_8() {
    let cases: &[(&str, &[u8], u8)] = &[
        ("251001020123456789012345", &[105, 25, 10, 1, 2, 1, 23, 45, 67, 89, 1, 23, 45], 81),
        ("281006020000000000125733", &[105, 28, 10, 6, 2, 0, 0, 0, 0, 0, 12, 57, 33], 86),
        ("2893612204263667830", &[105, 28, 93, 61, 22, 4, 26, 36, 67, 83, 100, 16], 78),
        ("28024456785672301", &[105, 28, 2, 44, 56, 78, 56, 72, 30, 100, 17], 46),
    ];
    for (code, values, checksum) in cases {
        let symbols = code128_symbols(code).unwrap();
        assert_eq!(symbols.values, *values, "{code}");
        assert_eq!(symbols.checksum, *checksum, "{code}");
    }
    assert_eq!(code128_symbols(""), Err(Code128Error::Empty));
    assert_eq!(code128_symbols("12a"), Err(Code128Error::NonDigit { position: 3, found: 'a' }));
    assert_eq!(group_digits("251001020123456789012345"), "2510 0102 0123 4567 8901 2345");
}

// ---------- §5 EMV ----------

const EMV_VECTORS: [(&str, &str); 8] = [
    ("00020126330014BR.GOV.BCB.PIX011197212482404520400005303986540530.005802BR5918Victor Julio Rocha6006RECIFE62110507VIPSURF630425A1", "25A1"),
    ("00020101021252044131153137210116372101160123456789ABCDE6010Phnom Penh5913Merchant Shop5802KH540510.005303840622501081234567802090124444446304A0BA", "A0BA"),
    ("00020126410014br.gov.bcb.pix0119rayane@alvoz.com.br5204000053039865802BR5901N6001C62070503***63043A81", "3A81"),
    ("00020126330014BR.GOV.BCB.PIX01111234567890052040000530398654041.005802BR5914Nome Sobrenome6015Cidade Ficticia62100506LOJA016304C8E4", "C8E4"),
    ("00020101021252044131153137210116372101160123456789ABCDE6016Banteay Meanchey5913Kuntheas Shop5802KH540510.005303840621201081234567863041FF2", "1FF2"),
    ("00020101021226770014BR.GOV.BCB.PIX2555pix.example.com/qr/93598be0-1bd0-4997-8318-81776a1d8a995204000053039865802BR5907EMPRESA6009SAO PAULO62070503***6304EEAB", "EEAB"),
    ("0002010102121313JCB12345678900416MASTER12345678905204531153033925407999.1235802JP5906DONGRI6005TOKYO62240104hoge0504fuga0704piyo6304C343", "C343"),
    ("00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A", "A13A"),
];

#[test]
fn crc_check_value() {
    assert_eq!(crc16_ccitt_false(b"123456789"), 0x29B1);
    assert_eq!(emv::format_crc(0x0A1), "00A1");
}

#[test]
fn every_public_emv_vector_decodes_and_reencodes_exactly() {
    for (index, (payload, crc)) in EMV_VECTORS.iter().enumerate() {
        let decoded = emv::decode(payload).unwrap_or_else(|e| panic!("vector {}: {e}", index + 1));
        assert_eq!(decoded.crc, *crc, "vector {}", index + 1);
        assert!(decoded.warnings.is_empty(), "vector {}", index + 1);
        let again = emv::encode(&decoded.objects).unwrap();
        assert_eq!(again, *payload, "vector {}", index + 1);
    }
}

#[test]
fn emv_vector_2_fields() {
    let p = emv::decode(EMV_VECTORS[1].0).unwrap();
    let v = |id: &str| p.get(id).unwrap().value.clone();
    assert_eq!(v("00"), "01");
    assert_eq!(v("01"), "12");
    assert_eq!(v("52"), "4131");
    assert_eq!(v("15"), "37210116372101160123456789ABCDE");
    assert_eq!(v("60"), "Phnom Penh");
    assert_eq!(v("59"), "Merchant Shop");
    assert_eq!(v("58"), "KH");
    assert_eq!(v("54"), "10.00");
    assert_eq!(v("53"), "840");
    assert_eq!(v("62"), "0108123456780209012444444");
    let adf = p.get("62").unwrap();
    assert_eq!(adf.child("01").unwrap().value, "12345678");
    assert_eq!(adf.child("02").unwrap().value, "012444444");
    // Vector 8: character lengths and UTF-8 CRC.
    let p8 = emv::decode(EMV_VECTORS[7].0).unwrap();
    let lang = p8.get("64").unwrap();
    assert_eq!(lang.child("01").unwrap().value, "最佳运输");
    assert_eq!(lang.child("02").unwrap().value, "北京");
}

#[test]
fn emv_negative_checks() {
    let v2 = EMV_VECTORS[1].0;
    let changed = v2.replace("Merchant Shop", "Merchant Shoq");
    assert_eq!(
        emv::decode(&changed),
        Err(EmvError::CrcMismatch {
            expected: emv::format_crc(crc16_ccitt_false(&changed.as_bytes()[..changed.len() - 4])),
            found: "A0BA".into()
        })
    );
    // Lower-case CRC.
    let lower = format!("{}a0ba", &v2[..v2.len() - 4]);
    assert!(matches!(emv::decode(&lower), Err(EmvError::BadCrcFormat { .. })));
    // Truncated.
    assert!(matches!(emv::decode(&v2[..v2.len() - 2]), Err(EmvError::Truncated { .. })));
    assert!(matches!(emv::decode("0002010"), Err(EmvError::Truncated { offset: 6, .. })));
    assert!(matches!(emv::decode("00020"), Err(EmvError::Truncated { offset: 4, .. })));
    assert!(matches!(emv::decode("000X01"), Err(EmvError::BadLength { offset: 2, .. })));
    assert!(matches!(emv::decode("X00201"), Err(EmvError::BadId { offset: 0, .. })));
    assert_eq!(emv::decode(""), Err(EmvError::Empty));
    // No CRC.
    assert_eq!(emv::decode("000201520441115303840"), Err(EmvError::MissingCrc));
}

fn with_crc(body: &str) -> String {
    let text = format!("{body}6304");
    format!("{text}{}", emv::format_crc(crc16_ccitt_false(text.as_bytes())))
}

#[test]
fn emv_validation_rules() {
    let mai = "26330014BR.GOV.BCB.PIX011112345678900";
    let rest = "5204000053039865802BR5907EMPRESA6009SAO PAULO";
    assert!(emv::decode(&with_crc(&format!("000201{mai}{rest}"))).is_ok());
    // Duplicated ID.
    assert_eq!(
        emv::decode(&with_crc(&format!("000201{mai}{rest}5802BR"))),
        Err(EmvError::DuplicateId { id: "58".into() })
    );
    // Reserved ID 65–79.
    assert_eq!(
        emv::decode(&with_crc(&format!("000201{mai}{rest}6502XY"))),
        Err(EmvError::ReservedId { id: "65".into() })
    );
    // No merchant account information.
    assert_eq!(emv::decode(&with_crc(&format!("000201{rest}"))), Err(EmvError::NoMerchantAccount));
    // Template without GUI first.
    assert_eq!(
        emv::decode(&with_crc(&format!("0002012615011112345678900{rest}"))),
        Err(EmvError::MissingGui { id: "26".into() })
    );
    // Missing mandatory 59.
    assert!(matches!(
        emv::decode(&with_crc(&format!(
            "000201{mai}5204000053039865802BR6009SAO PAULO"
        ))),
        Err(EmvError::MissingField { ref id, .. }) if id == "59"
    ));
    // Malformed 52 / 53 / 58.
    assert!(matches!(
        emv::decode(&with_crc(&format!("000201{mai}52030005303986{}", "5802BR5907EMPRESA6009SAO PAULO"))),
        Err(EmvError::BadField { ref id, .. }) if id == "52"
    ));
    assert!(matches!(
        emv::decode(&with_crc(&format!("000201{mai}520400005303986{}", "5802br5907EMPRESA6009SAO PAULO"))),
        Err(EmvError::BadField { ref id, .. }) if id == "58"
    ));
    // Payload format indicator.
    assert!(matches!(
        emv::decode(&with_crc(&format!("000202{mai}{rest}"))),
        Err(EmvError::BadField { ref id, .. }) if id == "00"
    ));
    // Order other than 00 first is a warning only.
    let reordered = emv::decode(&with_crc(&format!("{mai}000201{rest}"))).unwrap();
    assert_eq!(reordered.warnings.len(), 1);
    // Duplicated sub-ID inside a template.
    assert_eq!(
        emv::decode(&with_crc(&format!("000201{mai}{rest}62140503***0503***"))),
        Err(EmvError::DuplicateId { id: "62.05".into() })
    );
}

#[test]
fn emv_encoder_builds_templates_and_checks_a_given_crc() {
    let objects = vec![
        EmvObject::new("00", "01"),
        EmvObject::template(
            "26",
            vec![EmvObject::new("00", "BR.GOV.BCB.PIX"), EmvObject::new("01", "97212482404")],
        ),
        EmvObject::new("52", "0000"),
        EmvObject::new("53", "986"),
        EmvObject::new("54", "30.00"),
        EmvObject::new("58", "BR"),
        EmvObject::new("59", "Victor Julio Rocha"),
        EmvObject::new("60", "RECIFE"),
        EmvObject::template("62", vec![EmvObject::new("05", "VIPSURF")]),
    ];
    assert_eq!(emv::encode(&objects).unwrap(), EMV_VECTORS[0].0);
    let mut with_wrong_crc = objects.clone();
    with_wrong_crc.push(EmvObject::new("63", "0000"));
    assert_eq!(
        emv::encode(&with_wrong_crc),
        Err(EmvError::CrcMismatch { expected: "25A1".into(), found: "0000".into() })
    );
    let mut too_long = objects.clone();
    too_long[6] = EmvObject::new("59", &"x".repeat(100));
    assert!(matches!(emv::encode(&too_long), Err(EmvError::ValueTooLong { .. })));
}

// ---------- §4.4 GPLD ----------

const MPM_URL: &str = "HTTPS://QR.SAMPLEDOMAIN.COM/MPM/3/R1BMRDA5NVBMVlMwMDIwMUNEU0QwMzMwMTE0U0FNUExFUExBVEZPUk0wMjExU0FNUExFTUVSSURDSVJEMDM5MDExMlNBTVBMRUlTU1VFUjAyMDIxMjAzMTNNSU5JUFJPR1JBTUlE";
const GPLD: &str =
    "GPLD095PLVS00201CDSD0330114SAMPLEPLATFORM0211SAMPLEMERIDCIRD0390112SAMPLEISSUER0202120313MINIPROGRAMID";

#[test]
fn gpld_sample_decodes_and_reencodes_exactly() {
    let code = gpld::decode_mpm_url(MPM_URL).unwrap();
    assert_eq!(code.domain, "qr.sampledomain.com");
    assert_eq!(code.general_payload, GPLD);
    let objects = &code.payload.objects;
    assert_eq!(objects.len(), 3);
    assert_eq!(objects[0].id, "PLVS");
    assert_eq!(objects[0].value, "01");
    assert_eq!(objects[1].id, "CDSD");
    let cdsd = objects[1].children.as_ref().unwrap();
    assert_eq!((cdsd[0].id.as_str(), cdsd[0].value.as_str()), ("01", "SAMPLEPLATFORM"));
    assert_eq!((cdsd[1].id.as_str(), cdsd[1].value.as_str()), ("02", "SAMPLEMERID"));
    let cird = objects[2].children.as_ref().unwrap();
    assert_eq!(cird.len(), 3);
    assert_eq!(cird[1].value, "12");
    assert_eq!(cird[2].value, "MINIPROGRAMID");
    assert_eq!(gpld::encode_payload(&code.payload).unwrap(), GPLD);
    assert_eq!(gpld::encode_mpm_url("QR.SAMPLEDOMAIN.COM", &code.payload).unwrap(), MPM_URL);
    // Case-insensitive scheme and host, lower-case path segment.
    let lower = MPM_URL.replace("HTTPS://QR.SAMPLEDOMAIN.COM/MPM", "https://qr.sampledomain.com/mpm");
    assert_eq!(gpld::decode_mpm_url(&lower).unwrap().payload, code.payload);
}

#[test]
fn gpld_padding_is_optional_and_escaped_when_encoded() {
    let payload = gpld::decode_payload("GPLD009PLVS00201").unwrap();
    let url = gpld::encode_mpm_url("qr.example.com", &payload).unwrap();
    // 16 bytes → Base64 with "==", which must be escaped in the URL.
    assert!(url.ends_with("%3D%3D"), "{url}");
    assert_eq!(gpld::decode_mpm_url(&url).unwrap().payload, payload);
    let unpadded = url.trim_end_matches("%3D");
    assert_eq!(gpld::decode_mpm_url(unpadded).unwrap().payload, payload);
}

#[test]
fn gpld_errors_are_typed() {
    assert!(matches!(gpld::decode_payload("GPLX000"), Err(GpldError::MissingGpld { .. })));
    assert!(matches!(gpld::decode_payload("GPLD"), Err(GpldError::Truncated { offset: 4, .. })));
    assert!(matches!(gpld::decode_payload("GPLD0a9PLVS00201"), Err(GpldError::BadLength { offset: 4, .. })));
    assert_eq!(
        gpld::decode_payload("GPLD010PLVS00201"),
        Err(GpldError::LengthMismatch { declared: 10, actual: 9 })
    );
    assert!(matches!(gpld::decode_payload("GPLD009PLVS00301"), Err(GpldError::Truncated { offset: 14, .. })));
    assert!(matches!(gpld::decode_payload("GPLD009plvs00201"), Err(GpldError::BadId { offset: 7, .. })));
    assert_eq!(
        gpld::decode_payload("GPLD018PLVS00201PLVS00201"),
        Err(GpldError::DuplicateId { id: "PLVS".into() })
    );
    assert!(matches!(gpld::decode_payload("GPLD012CDSD0050199X"), Err(GpldError::BadTemplate { .. })));
    assert!(matches!(
        gpld::decode_mpm_url("https://qr.example.com/MPM/2/R1BMRA"),
        Err(GpldError::NotMpmV3 { .. })
    ));
    assert!(matches!(gpld::decode_mpm_url("https://qr.example.com/MPM/3/!!!"), Err(GpldError::Encoding(_))));
    assert!(matches!(
        gpld::decode_mpm_url("http://qr.example.com/MPM/3/R1BMRA"),
        Err(GpldError::Url(mpm::UrlError::NotHttps { .. }))
    ));
}

// ---------- §4.1–4.5 merchant codes ----------

#[test]
fn order_code_urls() {
    let domain = mpm::DEFAULT_ORDER_CODE_DOMAIN;
    for url in [
        "https://global.alipay.com/2810020400949jph9gDWC1kpeZ1jBICv4qqu",
        "https://global.alipay.com/281002040090bbmmzTC4BzSex92tUglv31de",
    ] {
        assert_eq!(check_order_code_url(url, domain).unwrap(), &url[26..]);
    }
    let made = new_order_code(domain, &mut seeded(3));
    assert!(check_order_code_url(&made, domain).is_ok(), "{made}");
    assert!(matches!(
        check_order_code_url("https://example.com/2810020400949jph9gDWC1kpeZ1jBICv4qqu", domain),
        Err(OrderCodeError::WrongHost { .. })
    ));
    assert!(matches!(
        check_order_code_url("https://global.alipay.com/2810020400949jph9gDWC1kpeZ1jBICv4qq", domain),
        Err(OrderCodeError::BadPath { .. })
    ));
    assert!(matches!(
        check_order_code_url("https://global.alipay.com/2810020400949jph9gDWC1kpeZ1jBICv4qqu?x=1", domain),
        Err(OrderCodeError::BadPath { .. })
    ));
    assert!(matches!(
        check_order_code_url("https://glo bal.alipay.com/", domain),
        Err(OrderCodeError::Url(mpm::UrlError::ControlChar { position: 12 }))
    ));
}

#[test]
fn url_errors_are_typed() {
    use mpm::{parse_https_url, UrlError};
    assert!(matches!(parse_https_url("ftp://x"), Err(UrlError::NotHttps { .. })));
    assert_eq!(parse_https_url("https://"), Err(UrlError::EmptyHost));
    assert_eq!(parse_https_url("https://a_b.com/"), Err(UrlError::BadHostChar { position: 10, found: '_' }));
    assert!(matches!(parse_https_url("https://a.com:0/"), Err(UrlError::BadPort { .. })));
    assert!(matches!(parse_https_url("https://u@a.com/"), Err(UrlError::BadHostChar { found: '@', .. })));
    let long = format!("https://a.com/{}", "x".repeat(9000));
    assert!(matches!(parse_https_url(&long), Err(UrlError::TooLong { .. })));
    let ok = parse_https_url("HTTPS://A.Example.COM:8443/p/q?x=1#f").unwrap();
    assert_eq!(ok.host, "a.example.com");
    assert_eq!(ok.port, Some(8443));
    assert_eq!(ok.path, "/p/q");
    assert_eq!(ok.query, Some("x=1"));
    assert_eq!(ok.fragment, Some("f"));
}

#[test]
fn wallet_identification_order_of_section_4_5() {
    let mut ctx = MpmContext::default();
    ctx.register_private_domain("pay.acquirer.test").unwrap();
    assert!(ctx.register_private_domain("GLOBAL.alipay.com").is_err());
    assert!(ctx.register_private_domain("bad host").is_err());

    let kind = |text: &str| serde_json::to_value(identify_scanned(text, &ctx)).unwrap()["kind"].clone();
    assert_eq!(kind("https://global.alipay.com/2810020400949jph9gDWC1kpeZ1jBICv4qqu"), "ORDER_CODE");
    assert_eq!(kind("https://global.alipay.com/nope"), "UNSUPPORTED");
    match identify_scanned("https://pay.acquirer.test/281123040001/abc", &ctx) {
        ScannedCode::PrivateOrderCode { order_digits, .. } => {
            assert_eq!(order_digits.as_deref(), Some("281123040001"))
        }
        other => panic!("{other:?}"),
    }
    match identify_scanned(MPM_URL, &ctx) {
        ScannedCode::MpmV3 { payable, domain, .. } => {
            assert!(!payable);
            assert_eq!(domain, "qr.sampledomain.com");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(kind("https://shop.example.com/pay?id=1"), "ENTRY_CODE");
    assert_eq!(kind("http://shop.example.com/"), "UNSUPPORTED");
    assert_eq!(kind(EMV_VECTORS[0].0), "EMV");
    assert_eq!(kind(&EMV_VECTORS[0].0.replace("RECIFE", "RECIFF")), "UNSUPPORTED");
    match identify_scanned("2510 0102 0123 4567 8901 2345", &ctx) {
        ScannedCode::PaymentCode { identification } => {
            assert_eq!(identification.family, CodeFamily::Cgcp24)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(kind("hello"), "UNSUPPORTED");
    assert_eq!(kind(""), "UNSUPPORTED");
    assert_eq!(identify_scanned("https://shop.example.com/", &ctx).action(), Some("OPEN_URL"));
    assert_eq!(identify_scanned("https://pay.acquirer.test/x", &ctx).action(), Some("DECODE"));
}
