//! What the simulated wallet does with a payment for an account (issue 3's scenario list).

use std::fmt;
use std::str::FromStr;

use plusbox_core::result_code::ResultCode;

/// A buyer account's scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Pay at once if the balance allows.
    Success,
    /// Hold the payment at U `PAYMENT_IN_PROCESS` until the buyer confirms with a PIN or declines.
    Pin,
    /// Refuse with `USER_BALANCE_NOT_ENOUGH` whatever the balance.
    InsufficientBalance,
    /// Refuse with `RISK_REJECT`.
    RiskReject,
    /// Refuse with `USER_NOT_EXIST`.
    UserNotExist,
    /// Refuse with `USER_STATUS_ABNORMAL`.
    UserAbnormal,
    /// Refuse with `USER_AMOUNT_EXCEED_LIMIT`.
    OverLimit,
    /// Pay, but answer `pay` only after this many seconds (clock time).
    Slow(u32),
    /// Never answer `pay`; the payment stays U until it expires or is cancelled.
    NoAnswer,
    /// Answer `pay` with U `UNKNOWN_EXCEPTION`; the payment stays U until it expires or is cancelled.
    UnknownException,
}

impl Scenario {
    /// Every scenario name, as the CLI documents them.
    pub const NAMES: &'static [&'static str] = &[
        "success",
        "pin",
        "insufficient-balance",
        "risk-reject",
        "user-not-exist",
        "user-abnormal",
        "over-limit",
        "slow:SECONDS",
        "no-answer",
        "unknown-exception",
    ];

    /// The code and message of a refusing scenario.
    pub fn refusal(self) -> Option<(ResultCode, &'static str)> {
        Some(match self {
            Scenario::InsufficientBalance => (
                ResultCode::UserBalanceNotEnough,
                "the user balance is not enough (scenario insufficient-balance)",
            ),
            Scenario::RiskReject => {
                (ResultCode::RiskReject, "rejected by risk control (scenario risk-reject)")
            }
            Scenario::UserNotExist => {
                (ResultCode::UserNotExist, "the user does not exist (scenario user-not-exist)")
            }
            Scenario::UserAbnormal => {
                (ResultCode::UserStatusAbnormal, "the user status is abnormal (scenario user-abnormal)")
            }
            Scenario::OverLimit => (
                ResultCode::UserAmountExceedLimit,
                "the user's amount limit is exceeded (scenario over-limit)",
            ),
            _ => return None,
        })
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scenario::Success => f.write_str("success"),
            Scenario::Pin => f.write_str("pin"),
            Scenario::InsufficientBalance => f.write_str("insufficient-balance"),
            Scenario::RiskReject => f.write_str("risk-reject"),
            Scenario::UserNotExist => f.write_str("user-not-exist"),
            Scenario::UserAbnormal => f.write_str("user-abnormal"),
            Scenario::OverLimit => f.write_str("over-limit"),
            Scenario::Slow(seconds) => write!(f, "slow:{seconds}"),
            Scenario::NoAnswer => f.write_str("no-answer"),
            Scenario::UnknownException => f.write_str("unknown-exception"),
        }
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text.trim() {
            "success" => Scenario::Success,
            "pin" => Scenario::Pin,
            "insufficient-balance" => Scenario::InsufficientBalance,
            "risk-reject" => Scenario::RiskReject,
            "user-not-exist" => Scenario::UserNotExist,
            "user-abnormal" => Scenario::UserAbnormal,
            "over-limit" => Scenario::OverLimit,
            "no-answer" => Scenario::NoAnswer,
            "unknown-exception" => Scenario::UnknownException,
            other => match other.strip_prefix("slow:").map(str::parse::<u32>) {
                Some(Ok(seconds)) if seconds <= 3600 => Scenario::Slow(seconds),
                _ => {
                    return Err(format!("unknown scenario {other:?}; one of {}", Scenario::NAMES.join(", ")))
                }
            },
        })
    }
}
