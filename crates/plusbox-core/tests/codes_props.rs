//! Property tests: the code parsers never panic, agree with the reference rules, and
//! encoders round-trip through their decoders.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use plusbox_core::codes::emv::{self, EmvObject};
use plusbox_core::codes::gpld::{self, GpldObject, GpldPayload, GpldSubObject};
use plusbox_core::codes::*;
use proptest::prelude::*;

/// The §3 classifier written independently, straight from the regular expressions.
fn oracle(digits: &str) -> CodeFamily {
    let len = digits.len();
    let b = digits.as_bytes();
    let starts_25_30 = len >= 2 && {
        let p = &digits[..2];
        ("25".."31").contains(&p) && p <= "30"
    };
    if !(17..=32).contains(&len) {
        return CodeFamily::NotAlipayPlus;
    }
    if len == 24 && starts_25_30 {
        return CodeFamily::Cgcp24;
    }
    if len == 19 && digits.starts_with("289") && b[13] == b'6' {
        return CodeFamily::AlipayPlus19;
    }
    if (17..=19).contains(&len) && starts_25_30 {
        return CodeFamily::AlipayCnHk;
    }
    if (20..=23).contains(&len) || (25..=32).contains(&len) {
        return CodeFamily::ReservedLength;
    }
    CodeFamily::NotAlipayPlus
}

fn seeded(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn classifier_never_panics(input in ".{0,80}") {
        let id = identify_payment_code(&input);
        prop_assert_eq!(id.valid, id.reason.is_none());
        let _ = parse_payment_code(&input);
    }

    #[test]
    fn classifier_matches_the_reference_rules(digits in "[0-9]{1,40}") {
        let id = identify_payment_code(&digits);
        prop_assert_eq!(id.family, oracle(&digits), "{}", digits);
    }

    #[test]
    fn classifier_on_likely_prefixes(prefix in "2[4-9]|30|31|289", rest in "[0-9]{14,30}") {
        let digits = format!("{prefix}{rest}");
        prop_assert_eq!(identify_payment_code(&digits).family, oracle(&digits));
    }

    #[test]
    fn non_digits_are_reported_at_their_position(head in "[0-9]{0,20}", bad in "[a-zA-Z_.+]", tail in "[0-9]{0,10}") {
        let input = format!("{head}{bad}{tail}");
        let err = parse_payment_code(&input).unwrap_err();
        prop_assert_eq!(err, PaymentCodeError::NonDigit { position: head.len() + 1, found: bad.chars().next().unwrap() });
    }

    #[test]
    fn generated_codes_always_classify_to_their_family(seed in any::<u64>(), form in 0usize..4, wallet in 0usize..26) {
        let table = WalletTable::builtin();
        let wallet = &table.wallets[wallet];
        let form = CodeForm::ALL[form];
        let now = time::OffsetDateTime::UNIX_EPOCH;
        let code = generate_payment_code(form, wallet, now, &mut seeded(seed | 1));
        let id = identify_payment_code(&code.value);
        prop_assert!(id.valid);
        prop_assert_eq!(code.value.len(), form.length());
        let expected = match form {
            CodeForm::Digits24 => CodeFamily::Cgcp24,
            CodeForm::Legacy19 => CodeFamily::AlipayPlus19,
            _ => CodeFamily::AlipayCnHk,
        };
        prop_assert_eq!(id.family, expected);
        if form == CodeForm::Digits24 {
            prop_assert_eq!(id.psp_id.as_deref(), Some(wallet.psp_id.as_str()));
        }
    }

    #[test]
    fn code128_symbols_count_and_checksum(digits in "[0-9]{1,40}") {
        let symbols = code128_symbols(&digits).unwrap();
        let expected_len = 1 + digits.len() / 2 + if digits.len() % 2 == 1 { 2 } else { 0 };
        prop_assert_eq!(symbols.values.len(), expected_len);
        prop_assert!(symbols.checksum < 103);
    }

    #[test]
    fn gpld_decoder_never_panics(input in ".{0,200}") {
        let _ = gpld::decode_payload(&input);
        let _ = gpld::decode_payload(&format!("GPLD{input}"));
        let _ = gpld::decode_mpm_url(&format!("HTTPS://QR.X.COM/MPM/3/{input}"));
    }

    #[test]
    fn gpld_decoder_never_panics_on_base64_of_anything(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        use base64::Engine as _;
        let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let _ = gpld::decode_mpm_url(&format!("HTTPS://QR.X.COM/MPM/3/{text}"));
    }

    #[test]
    fn gpld_round_trips(objects in gpld_objects()) {
        let payload = GpldPayload { objects };
        match gpld::encode_payload(&payload) {
            Ok(text) => {
                let decoded = gpld::decode_payload(&text).unwrap();
                prop_assert_eq!(&decoded, &payload);
                let url = gpld::encode_mpm_url("qr.example.com", &payload).unwrap();
                prop_assert_eq!(gpld::decode_mpm_url(&url).unwrap().payload, payload);
            }
            // Only a payload too long for the 3-digit GPLD length may be refused.
            Err(e) => prop_assert!(matches!(e, GpldError::ValueTooLong { .. }), "{e}"),
        }
    }

    #[test]
    fn emv_decoder_never_panics(input in ".{0,300}") {
        let _ = emv::decode(&input);
        let _ = emv::decode(&format!("000201{input}"));
    }

    #[test]
    fn emv_decoder_never_panics_on_tlv_like_text(input in "([0-9]{2}[0-9]{2}[ -~]{0,12}){0,20}") {
        let _ = emv::decode(&input);
        let _ = identify_scanned(&input, &MpmContext::default());
    }

    #[test]
    fn emv_round_trips_and_detects_any_single_change(
        name in "[ -~]{1,25}",
        city in "[ -~]{1,15}",
        gui in "[A-Za-z.]{4,20}",
        key in "[ -~]{1,40}",
        amount in proptest::option::of("[0-9]{1,7}\\.[0-9]{2}"),
        label in proptest::option::of("[ -~\u{4e00}-\u{4e20}]{1,20}"),
        position in any::<prop::sample::Index>(),
        replacement in "[ -~]",
    ) {
        prop_assume!(!name.trim().is_empty() && !city.trim().is_empty());
        let mut objects = vec![
            EmvObject::new("00", "01"),
            EmvObject::new("01", "12"),
            EmvObject::template("26", vec![EmvObject::new("00", &gui), EmvObject::new("01", &key)]),
            EmvObject::new("52", "5812"),
            EmvObject::new("53", "344"),
        ];
        if let Some(amount) = &amount {
            objects.push(EmvObject::new("54", amount));
        }
        objects.push(EmvObject::new("58", "HK"));
        objects.push(EmvObject::new("59", &name));
        objects.push(EmvObject::new("60", &city));
        if let Some(label) = &label {
            objects.push(EmvObject::template("62", vec![EmvObject::new("05", label)]));
        }
        let text = emv::encode(&objects).unwrap();
        let decoded = emv::decode(&text).unwrap();
        prop_assert_eq!(emv::encode(&decoded.objects).unwrap(), text.clone());
        prop_assert_eq!(decoded.get("59").unwrap().value.as_str(), name.as_str());

        // Change one character before the CRC to a different ASCII character: never accepted.
        let chars: Vec<char> = text.chars().collect();
        let index = position.index(chars.len() - 4);
        let new = replacement.chars().next().unwrap();
        prop_assume!(chars[index] != new);
        let mut mutated = chars.clone();
        mutated[index] = new;
        let mutated: String = mutated.into_iter().collect();
        prop_assert!(emv::decode(&mutated).is_err(), "{}", mutated);
    }

    #[test]
    fn scanned_text_identification_never_panics(input in "(https?://)?.{0,120}") {
        let mut ctx = MpmContext::default();
        ctx.register_private_domain("pay.example.com").unwrap();
        let scanned = identify_scanned(&input, &ctx);
        let _ = serde_json::to_string(&scanned).unwrap();
    }
}

fn gpld_objects() -> impl Strategy<Value = Vec<GpldObject>> {
    let sub = ("[0-9]{2}", ".{0,30}").prop_map(|(id, value)| GpldSubObject { id, value });
    let template = (prop::sample::select(vec!["CDSD", "CIRD"]), proptest::collection::vec(sub, 0..4))
        .prop_map(|(id, mut children)| {
            children.sort_by(|a, b| a.id.cmp(&b.id));
            children.dedup_by(|a, b| a.id == b.id);
            GpldObject {
                id: id.to_string(),
                value: children
                    .iter()
                    .map(|c| format!("{}{:02}{}", c.id, c.value.chars().count(), c.value))
                    .collect(),
                children: Some(children),
            }
        });
    let primitive = ("[A-Z0-9]{4}", ".{0,60}")
        .prop_filter("not a template ID", |(id, _)| id != "CDSD" && id != "CIRD")
        .prop_map(|(id, value)| GpldObject { id, value, children: None });
    proptest::collection::vec(prop_oneof![primitive, template], 0..6).prop_map(|mut objects| {
        let mut seen = std::collections::HashSet::new();
        objects.retain(|o| seen.insert(o.id.clone()));
        objects
    })
}
