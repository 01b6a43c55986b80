//! Wallet personas and payment-code routing, behind one small interface so the gateway does not
//! depend on how codes are generated and classified (payment-codes.md §2.5, §3, §7).

use crate::ids::{digits, SystemRng};

/// A wallet persona: what `pspId` and `walletBrandName` a payment reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persona {
    /// Enum name, e.g. `TEST_WALLET`.
    pub wallet_enum: String,
    /// Brand name.
    pub wallet_brand_name: String,
    /// pspId.
    pub psp_id: String,
    /// 3-digit routing number used in 24-digit codes.
    pub routing_number: String,
}

/// Plusbox's persona table (payment-codes.md §7; routing numbers are a Plusbox decision).
const PERSONAS: &[(&str, &str, &str, &str)] = &[
    ("TEST_WALLET", "Test Wallet", "1022000000000000000", "001"),
    ("ALIPAY_CN", "Alipay", "1022088000000000001", "002"),
    ("TRUEMONEY", "TrueMoney", "1022167000000000001", "003"),
    ("TNG", "Touch 'n Go eWallet", "1022171000000000001", "004"),
    ("GCASH", "GCash", "1022170000000000000", "005"),
    ("ALIPAY_HK", "AlipayHK", "1022160000000000000", "006"),
    ("KAKAOPAY", "Kakao Pay", "1022172000000000001", "007"),
];

fn persona(row: &(&str, &str, &str, &str)) -> Persona {
    Persona {
        wallet_enum: row.0.into(),
        wallet_brand_name: row.1.into(),
        psp_id: row.2.into(),
        routing_number: row.3.into(),
    }
}

/// The default persona (Test Wallet).
pub fn default_persona() -> Persona {
    persona(&PERSONAS[0])
}

/// The persona with this enum name, or the default.
pub fn by_enum(name: &str) -> Persona {
    PERSONAS.iter().find(|row| row.0 == name).map(persona).unwrap_or_else(default_persona)
}

/// Generates a 24-digit wallet code: `25` + agreement `1` + routing number + BTI `02` + 16 random digits.
pub fn generate_code(persona: &Persona, rng: &mut SystemRng) -> String {
    format!("251{}02{}", persona.routing_number, digits(rng, 16))
}

/// A payable code and the persona it routes to.
#[derive(Debug, Clone)]
pub struct Route {
    /// Normalised digits.
    pub digits: String,
    /// Persona.
    pub persona: Persona,
}

/// Classifies a scanned code (payment-codes.md §3): `None` when it is not an Alipay+ payment code.
pub fn route_code(input: &str) -> Option<Route> {
    let digits: String = input.chars().filter(|c| *c != ' ' && *c != '-').collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let len = digits.len();
    let prefix: u32 = digits.get(..2)?.parse().ok()?;
    let alipay_prefix = (25..=30).contains(&prefix);
    let persona = if len == 24 && alipay_prefix {
        // CGCP: routing number = digits 4–6.
        let routing = digits.get(3..6)?;
        PERSONAS.iter().find(|row| row.3 == routing).map(persona).unwrap_or_else(default_persona)
    } else if len == 19 && digits.starts_with("289") && digits.as_bytes().get(13) == Some(&b'6') {
        default_persona()
    } else if (17..=19).contains(&len) && alipay_prefix {
        // AlipayCN / AlipayHK family; route to the AlipayHK persona like the documented sample.
        by_enum("ALIPAY_HK")
    } else {
        return None;
    };
    Some(Route { digits, persona })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn classification_table() {
        assert_eq!(route_code("251001020123456789012345").unwrap().persona.wallet_enum, "TEST_WALLET");
        assert_eq!(route_code("281006020000000000125733").unwrap().persona.wallet_enum, "ALIPAY_HK");
        assert!(route_code("2893612204263667830").is_some());
        assert!(route_code("28024456785672301").is_some());
        assert!(route_code("2502445678567230123456").is_none());
        assert!(route_code("12345678901234567").is_none());
        assert!(route_code("abc").is_none());
    }
}
