//! What a scanned code is, and why, for the Scan screen: the wallet's identification order from
//! `plusbox_core::codes` (payment codes, order/entry/private order codes, MPM v3, EMVCo), plus
//! Plusbox's own pairing and invitation links, and content that is not text. For a payment code
//! this sandbox issued, the sandbox is asked whose account it belongs to.

use std::collections::BTreeMap;

use base64::Engine as _;
use plusbox_core::codes::{identify_scanned, MpmContext, ScannedCode as Core};

use crate::commands::{ScannedCode, ScannedKind};
use crate::host::Host;

/// Classifies every decoded content, asking the sandbox about payment codes (best effort: when
/// it cannot say, the code is still described from its digits alone).
pub async fn classify_all<'a, H: Host>(
    host: &H,
    contents: impl Iterator<Item = &'a [u8]>,
) -> Vec<ScannedCode> {
    let mut out = Vec::new();
    // The registered private-order-code domains, asked for once and only when an HTTPS URL that
    // is not an order code turns up (best effort: without them it reads as an entry code).
    let mut context: Option<Option<MpmContext>> = None;
    for bytes in contents {
        let mut code = classify(bytes);
        if code.kind == ScannedKind::EntryCode {
            if context.is_none() {
                context = Some(host.client().merchant_code_context().await.ok());
            }
            if let Some(Some(known)) = &context {
                code = classify_in(bytes, known);
            }
        }
        if code.kind == ScannedKind::AlipayplusCode {
            if let Some(digits) = code.details.get("code").cloned() {
                if let Ok(Some(owner)) = host.client().code_owner(&digits).await {
                    code.details.insert("accountId".into(), owner.account_id.clone());
                    code.details.insert("accountName".into(), owner.account_name.clone());
                    code.explanation.push_str(&format!(
                        " This sandbox issued it to {} ({}){}.",
                        owner.account_name,
                        owner.account_id,
                        if owner.used { "; a payment already used it" } else { "" }
                    ));
                }
            }
        }
        out.push(code);
    }
    out
}

/// Classifies one decoded content without asking anyone.
pub fn classify(bytes: &[u8]) -> ScannedCode {
    classify_in(bytes, &MpmContext::default())
}

/// Classifies one decoded content knowing the registered merchant-code domains.
pub fn classify_in(bytes: &[u8], context: &MpmContext) -> ScannedCode {
    let bytes_base64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let Ok(text) = std::str::from_utf8(bytes) else {
        let hex: Vec<String> = bytes.iter().take(64).map(|b| format!("{b:02x}")).collect();
        let mut details = BTreeMap::new();
        details.insert("length".into(), bytes.len().to_string());
        details.insert("hex".into(), hex.join(" "));
        return ScannedCode {
            kind: ScannedKind::Binary,
            text: None,
            bytes_base64,
            title: "QR code with binary content".into(),
            explanation: "A QR code was found, but its content is not text, so it is not a payment code."
                .into(),
            details,
        };
    };
    let mut details = BTreeMap::new();
    let make = |kind, title: &str, explanation: String, details| ScannedCode {
        kind,
        text: Some(text.to_string()),
        bytes_base64: bytes_base64.clone(),
        title: title.to_string(),
        explanation,
        details,
    };
    if let Some(kind) = plusbox_link(text) {
        let (title, explanation) = match kind {
            ScannedKind::PlusboxPairing => (
                "Plusbox pairing link",
                "Opening it pairs a browser or app with a Plusbox sandbox (made by `plusbox app pair`).",
            ),
            _ => ("Plusbox invitation", "An invitation to run test cases against a Plusbox sandbox."),
        };
        return make(kind, title, explanation.into(), details);
    }
    match identify_scanned(text, context) {
        Core::PaymentCode { identification } => {
            details.insert("code".into(), identification.code.clone());
            details.insert("family".into(), identification.family.label().into());
            if let Some(wallet) = identification.wallet_brand_name.clone().or(identification.wallet.clone()) {
                details.insert("wallet".into(), wallet);
            }
            if identification.valid {
                let explanation = format!(
                    "A buyer's Alipay+ payment code ({}): a merchant scans it to charge the buyer.",
                    identification.family.label()
                );
                make(ScannedKind::AlipayplusCode, "Alipay+ payment code", explanation, details)
            } else {
                let why =
                    identification.reason.clone().unwrap_or_else(|| "it is not a valid Alipay+ code".into());
                make(
                    ScannedKind::NotAPaymentCode,
                    "Not a payment code",
                    format!("Digits only, but not an Alipay+ payment code: {why}."),
                    details,
                )
            }
        }
        Core::OrderCode { code, .. } => {
            details.insert("orderCode".into(), code);
            make(
                ScannedKind::OrderCode,
                "Merchant order code",
                "A merchant-presented order code: the wallet asks Alipay+ to decode it. Paying it comes with merchant-presented mode.".into(),
                details,
            )
        }
        Core::PrivateOrderCode { host, order_digits, .. } => {
            details.insert("host".into(), host);
            if let Some(digits) = order_digits {
                details.insert("orderDigits".into(), digits);
            }
            make(
                ScannedKind::PrivateOrderCode,
                "Private order code",
                "A merchant's private order code on a registered domain: the sandbox asks the merchant's acquirer to decode it (userInitiatedPay), then the wallet shows the order to pay.".into(),
                details,
            )
        }
        Core::MpmV3 { domain, payload, payable, .. } => {
            details.insert("domain".into(), domain);
            details.insert("objects".into(), payload.objects.len().to_string());
            let explanation = if payable {
                "An Alipay+ MPM v3 merchant code on a registered domain. Paying it comes with merchant-presented mode."
            } else {
                "An Alipay+ MPM v3 merchant code whose domain is not registered: a wallet would open it as an entry code. Merchant-presented mode comes later."
            };
            make(ScannedKind::OrderCode, "Alipay+ merchant code (MPM v3)", explanation.into(), details)
        }
        Core::EntryCode { url } => {
            details.insert("url".into(), url);
            make(
                ScannedKind::EntryCode,
                "Merchant entry code",
                "An HTTPS link: a wallet opens it as the merchant's page, with its own User-Agent (AlipayConnect), and pays the amount typed there on the Alipay+ cashier.".into(),
                details,
            )
        }
        Core::Emv { payload } => {
            let field = |id: &str| payload.get(id).map(|o| o.value.clone());
            if let Some(name) = field("59") {
                details.insert("merchantName".into(), name);
            }
            if let Some(city) = field("60") {
                details.insert("merchantCity".into(), city);
            }
            if let Some(currency) = field("53") {
                details.insert("currency".into(), currency);
            }
            if let Some(amount) = field("54") {
                details.insert("amount".into(), amount);
            }
            make(
                ScannedKind::Emvco,
                "EMVCo merchant QR",
                "An EMVCo merchant-presented payload with a valid checksum. It is not an Alipay+ code; a wallet pays it only through a scheme it belongs to.".into(),
                details,
            )
        }
        Core::Unsupported { reason } => {
            details.insert("reason".into(), reason.clone());
            make(
                ScannedKind::NotAPaymentCode,
                "Not a payment code",
                format!("This QR code holds text that is not a payment or merchant code: {reason}."),
                details,
            )
        }
    }
}

/// A Plusbox pairing (`…#pair=`) or invitation (`…#invite=`) link.
fn plusbox_link(text: &str) -> Option<ScannedKind> {
    let lower = text.trim().to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return None;
    }
    if lower.contains("#pair=") {
        Some(ScannedKind::PlusboxPairing)
    } else if lower.contains("#invite=") {
        Some(ScannedKind::PlusboxInvite)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_that_is_not_utf8_is_a_found_binary_code() {
        let code = classify(&[0x82, 0xa0, 0xff]);
        assert_eq!(code.kind, ScannedKind::Binary);
        assert_eq!(code.details.get("hex").map(String::as_str), Some("82 a0 ff"));
    }

    #[test]
    fn a_pairing_link_is_recognised_before_an_entry_code() {
        assert_eq!(classify(b"https://10.0.0.2:8787/#pair=pair_x").kind, ScannedKind::PlusboxPairing);
        assert_eq!(classify(b"http://10.0.0.2:8787/#pair=pair_x").kind, ScannedKind::PlusboxPairing);
        assert_eq!(classify(b"https://shop.example/menu").kind, ScannedKind::EntryCode);
        assert_eq!(classify(b"hello").kind, ScannedKind::NotAPaymentCode);
    }
}
