//! The issuer/routing table: which digit patterns make which code family, and which wallet
//! persona (pspId, walletBrandName) a routing number belongs to.
//!
//! The table is data (`data/wallets.json`, embedded at build time) so that changing a routing
//! number or a rule is an edit to JSON, not to Rust. Other tables can be loaded with
//! [`WalletTable::from_json`], e.g. a reference acquirer's own direct-integration rules.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::upm::CodeFamily;

/// The built-in table, embedded from `crates/plusbox-core/data/wallets.json`.
pub const BUILTIN_TABLE_JSON: &str = include_str!("../../data/wallets.json");

/// A wallet persona: one row of the wallet identifier table (payment-codes.md §7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wallet {
    /// The enum name, e.g. `ALIPAY_HK`.
    #[serde(rename = "enum")]
    pub wallet_enum: String,
    /// The brand name Alipay+ reports, e.g. `AlipayHK`.
    pub wallet_brand_name: String,
    /// The participant id (`pspId`, `counterParticipantId` in reconciliation files).
    pub psp_id: String,
    /// The 3-digit routing number used in 24-digit codes (a Plusbox decision per persona).
    pub routing_number: String,
    /// Whether the wallet supports user-presented mode (`None` = not stated).
    #[serde(default)]
    pub upm: Option<bool>,
    /// Whether the wallet supports merchant-presented mode (`None` = not stated).
    #[serde(default)]
    pub mpm: Option<bool>,
}

/// One classification rule: a family and the digit pattern that selects it.
///
/// A code matches when its length is within `lengths`, it starts with `prefix` (if given), its
/// leading digits fall within `prefix_range` (if given, compared as numbers of the same width),
/// and every `digit_at` position holds one of the listed digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeRule {
    /// The family a matching code belongs to.
    pub family: CodeFamily,
    /// Inclusive minimum and maximum length.
    pub lengths: [usize; 2],
    /// A literal prefix.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Inclusive range of the leading digits, e.g. `["25", "30"]`.
    #[serde(default)]
    pub prefix_range: Option<[String; 2]>,
    /// 1-based position → allowed digits, e.g. `{"14": "6"}`.
    #[serde(default)]
    pub digit_at: BTreeMap<String, String>,
    /// 1-based position of the agreement ID digit (CGCP).
    #[serde(default)]
    pub agreement_position: Option<usize>,
    /// 1-based inclusive positions of the routing number (CGCP).
    #[serde(default)]
    pub routing_positions: Option<[usize; 2]>,
    /// 1-based inclusive positions of the business type identifier.
    #[serde(default)]
    pub bti_positions: Option<[usize; 2]>,
    /// Wallet enum used when the code carries no routing number.
    #[serde(default)]
    pub default_wallet: Option<String>,
    /// Free text: where the rule comes from.
    #[serde(default)]
    pub note: Option<String>,
}

impl CodeRule {
    /// Whether `digits` (already normalised, all ASCII digits) matches this rule.
    pub fn matches(&self, digits: &str) -> bool {
        let len = digits.len();
        if len < self.lengths[0] || len > self.lengths[1] {
            return false;
        }
        if let Some(prefix) = &self.prefix {
            if !digits.starts_with(prefix.as_str()) {
                return false;
            }
        }
        if let Some([low, high]) = &self.prefix_range {
            let Some(head) = digits.get(..low.len()) else {
                return false;
            };
            // Same-width digit strings compare like numbers.
            if head < low.as_str() || head > high.as_str() {
                return false;
            }
        }
        self.digit_at.iter().all(|(position, allowed)| {
            position
                .parse::<usize>()
                .ok()
                .and_then(|p| p.checked_sub(1))
                .and_then(|index| digits.as_bytes().get(index))
                .is_some_and(|digit| allowed.as_bytes().contains(digit))
        })
    }

    /// Returns the digits at 1-based inclusive positions, if the code is long enough.
    pub(crate) fn slice(digits: &str, positions: [usize; 2]) -> Option<&str> {
        digits.get(positions[0].checked_sub(1)?..positions[1])
    }

    fn check(&self, index: usize) -> Result<(), WalletTableError> {
        let bad = |reason: String| WalletTableError::BadRule { index, reason };
        let [min, max] = self.lengths;
        if min == 0 || min > max {
            return Err(bad(format!("lengths [{min}, {max}] are not a range")));
        }
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if let Some(prefix) = &self.prefix {
            if !all_digits(prefix) {
                return Err(bad(format!("prefix {prefix:?} is not digits")));
            }
        }
        if let Some([low, high]) = &self.prefix_range {
            if !all_digits(low) || !all_digits(high) || low.len() != high.len() || low > high {
                return Err(bad(format!("prefixRange [{low:?}, {high:?}] is not a range")));
            }
        }
        for (position, allowed) in &self.digit_at {
            let p: usize = position
                .parse()
                .map_err(|_| bad(format!("digitAt position {position:?} is not a number")))?;
            if p == 0 || p > max || !all_digits(allowed) {
                return Err(bad(format!("digitAt {position:?} = {allowed:?} is invalid")));
            }
        }
        let fits = |p: usize| p >= 1 && p <= min;
        if let Some(p) = self.agreement_position {
            if !fits(p) {
                return Err(bad(format!("agreementPosition {p} is outside the code")));
            }
        }
        for [a, b] in [self.routing_positions, self.bti_positions].into_iter().flatten() {
            if !fits(a) || !fits(b) || a > b {
                return Err(bad(format!("positions [{a}, {b}] are outside the code")));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TableFile {
    version: String,
    min_length: usize,
    max_length: usize,
    rules: Vec<CodeRule>,
    default_wallet: String,
    wallets: Vec<Wallet>,
}

/// Why a routing table could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletTableError {
    /// The text is not the expected JSON shape.
    #[error("wallet table is not valid JSON of the expected shape: {0}")]
    Json(String),
    /// A rule is inconsistent.
    #[error("wallet table rule #{index}: {reason}")]
    BadRule {
        /// Index of the rule in `rules`.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// A wallet row is inconsistent.
    #[error("wallet table wallet {wallet}: {reason}")]
    BadWallet {
        /// The wallet enum.
        wallet: String,
        /// What is wrong.
        reason: String,
    },
}

/// The loaded issuer/routing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletTable {
    /// Version string of the data file.
    pub version: String,
    /// Shortest payment code (17).
    pub min_length: usize,
    /// Longest payment code (32).
    pub max_length: usize,
    /// Rules tried first, in order: a reference acquirer's direct integrations (§3 step 2).
    pub direct_rules: Vec<CodeRule>,
    /// Classification rules, tried in order after the direct rules.
    pub rules: Vec<CodeRule>,
    /// The default persona's enum (`TEST_WALLET`).
    pub default_wallet: String,
    /// Every wallet persona.
    pub wallets: Vec<Wallet>,
}

impl WalletTable {
    /// Parses and checks a table in the `data/wallets.json` format.
    pub fn from_json(text: &str) -> Result<Self, WalletTableError> {
        let file: TableFile =
            serde_json::from_str(text).map_err(|e| WalletTableError::Json(e.to_string()))?;
        let table = WalletTable {
            version: file.version,
            min_length: file.min_length,
            max_length: file.max_length,
            direct_rules: Vec::new(),
            rules: file.rules,
            default_wallet: file.default_wallet,
            wallets: file.wallets,
        };
        table.check()?;
        Ok(table)
    }

    /// The built-in table, parsed once.
    pub fn builtin() -> &'static WalletTable {
        static TABLE: OnceLock<WalletTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            // The JSON is compiled into the binary and covered by a unit test, so a failure here
            // is a build defect, not bad input.
            #[allow(clippy::expect_used)]
            WalletTable::from_json(BUILTIN_TABLE_JSON).expect("embedded data/wallets.json is valid")
        })
    }

    /// Returns a copy of this table with direct-integration rules tried before the others.
    pub fn with_direct_rules(&self, rules: Vec<CodeRule>) -> Result<Self, WalletTableError> {
        let mut table = self.clone();
        table.direct_rules = rules;
        table.check()?;
        Ok(table)
    }

    /// The wallet whose routing number is `routing`.
    pub fn by_routing_number(&self, routing: &str) -> Option<&Wallet> {
        self.wallets.iter().find(|w| w.routing_number == routing)
    }

    /// The wallet with this enum, brand name or pspId (case-insensitive for names).
    pub fn find(&self, name: &str) -> Option<&Wallet> {
        self.wallets.iter().find(|w| {
            w.wallet_enum.eq_ignore_ascii_case(name)
                || w.wallet_brand_name.eq_ignore_ascii_case(name)
                || w.psp_id == name
        })
    }

    /// The default persona (Test Wallet).
    pub fn default_persona(&self) -> Option<&Wallet> {
        self.find(&self.default_wallet)
    }

    fn check(&self) -> Result<(), WalletTableError> {
        for (index, rule) in self.direct_rules.iter().chain(&self.rules).enumerate() {
            rule.check(index)?;
            if let Some(wallet) = &rule.default_wallet {
                if self.find(wallet).is_none() {
                    return Err(WalletTableError::BadRule {
                        index,
                        reason: format!("defaultWallet {wallet} is not in wallets"),
                    });
                }
            }
        }
        let mut routing = HashSet::new();
        let mut names = HashSet::new();
        for wallet in &self.wallets {
            let bad = |reason: &str| WalletTableError::BadWallet {
                wallet: wallet.wallet_enum.clone(),
                reason: reason.to_string(),
            };
            if wallet.routing_number.len() != 3 || !wallet.routing_number.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad("routingNumber must be 3 digits"));
            }
            if !routing.insert(wallet.routing_number.as_str()) {
                return Err(bad("routingNumber is used twice"));
            }
            if !names.insert(wallet.wallet_enum.as_str()) {
                return Err(bad("enum is used twice"));
            }
        }
        if self.find(&self.default_wallet).is_none() {
            return Err(WalletTableError::BadWallet {
                wallet: self.default_wallet.clone(),
                reason: "defaultWallet is not in wallets".into(),
            });
        }
        Ok(())
    }
}
