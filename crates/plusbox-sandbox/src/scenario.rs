//! What the simulated wallet does with a payment: the account's scenario (issue 3's list plus
//! `stuck`) or a magic amount (testing-practice.md §10.2), each turned into a [`Plan`].
//!
//! Precedence (§10.2): a mock rule (handled by the gateway before any payment exists) → the
//! wallet's scenario, when it is not the default `success` → a magic amount, when the application
//! has them on → the default (pay at once).

use std::fmt;
use std::str::FromStr;

use time::Duration;

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
    /// Answer `pay` with U `UNKNOWN_EXCEPTION` while the payment succeeds behind it (inquiry shows
    /// S, notify S), as magic amount 907: an ACQP must inquire and must not fail the sale.
    UnknownException,
    /// Hold the payment at U `PAYMENT_IN_PROCESS` past its expiry until the ACQP cancels it
    /// (alipayplus-api.md §4.4 "stuck"; magic amount 902).
    Stuck,
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
        "stuck",
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

impl Scenario {
    /// What the wallet does with a payment under this scenario.
    pub fn plan(self) -> Plan {
        let source = format!("scenario {self}");
        match self {
            Scenario::Success => Plan::new(source, Start::Pay),
            Scenario::Pin => Plan { awaits_buyer: true, ..Plan::new(source, Start::Hold) },
            Scenario::Slow(seconds) => Plan {
                answer: Answer::After(Duration::seconds(i64::from(seconds))),
                ..Plan::new(source, Start::Pay)
            },
            Scenario::NoAnswer => Plan { answer: Answer::Never, ..Plan::new(source, Start::Hold) },
            Scenario::UnknownException => {
                Plan { answer: Answer::Forced(ResultCode::UnknownException), ..Plan::new(source, Start::Pay) }
            }
            Scenario::Stuck => Plan { stuck: true, ..Plan::new(source, Start::Hold) },
            refusal => {
                let (code, message) = refusal.refusal().unwrap_or((ResultCode::ProcessFail, "refused"));
                Plan::new(source, Start::Refuse(code, message.to_string()))
            }
        }
    }
}

/// How the wallet starts a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Take the money now (S, or F `USER_BALANCE_NOT_ENOUGH`).
    Pay,
    /// Keep the payment at U `PAYMENT_IN_PROCESS`.
    Hold,
    /// Refuse with this code and message.
    Refuse(ResultCode, String),
}

/// When and how `pay` is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// At once, with the payment's state.
    Now,
    /// After this much clock time, with the payment's state.
    After(Duration),
    /// Never (the client times out).
    Never,
    /// At once, with this result instead of the payment's state.
    Forced(ResultCode),
}

/// Everything the sandbox does differently for one payment, fixed at `pay`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// What chose the plan, for the traffic log: `scenario pin`, `magic amount 901`, `default`.
    pub source: String,
    /// How the payment starts.
    pub start: Start,
    /// How `pay` is answered.
    pub answer: Answer,
    /// A held payment settles by itself after this long: S (`None`) or F with the code.
    pub resolve: Option<(Duration, Option<ResultCode>)>,
    /// A held payment does not close at expiry; only `cancelPayment` ends it.
    pub stuck: bool,
    /// The buyer confirms or declines it (listed as pending for the wallet).
    pub awaits_buyer: bool,
    /// No `notifyPayment` is sent (inquiry is the only channel).
    pub withhold_notify: bool,
    /// This many `inquiryPayment` calls answer U `UNKNOWN_EXCEPTION` first.
    pub inquiry_faults: u32,
    /// This many `refund` calls answer U `UNKNOWN_EXCEPTION` first.
    pub refund_faults: u32,
    /// This many `cancelPayment` calls answer U `UNKNOWN_EXCEPTION` first.
    pub cancel_faults: u32,
}

impl Plan {
    fn new(source: String, start: Start) -> Plan {
        Plan {
            source,
            start,
            answer: Answer::Now,
            resolve: None,
            stuck: false,
            awaits_buyer: false,
            withhold_notify: false,
            inquiry_faults: 0,
            refund_faults: 0,
            cancel_faults: 0,
        }
    }

    /// The default: pay at once.
    pub fn default_plan() -> Plan {
        Plan::new("default".into(), Start::Pay)
    }

    /// The plan of a magic amount (testing-practice.md §10.2): the last three digits of the
    /// minor-units value in 901–913; `None` for any other value.
    pub fn magic(value: i64) -> Option<Plan> {
        let suffix = value.rem_euclid(1000);
        let source = format!("magic amount {suffix}");
        let ten_seconds = Duration::seconds(10);
        let refuse = |code: ResultCode| {
            Plan::new(
                source.clone(),
                Start::Refuse(code, format!("{} (magic amount {suffix})", code.default_message())),
            )
        };
        Some(match suffix {
            901 => Plan { resolve: Some((ten_seconds, None)), ..Plan::new(source, Start::Hold) },
            902 => Plan { stuck: true, ..Plan::new(source, Start::Hold) },
            903 => refuse(ResultCode::UserBalanceNotEnough),
            904 => refuse(ResultCode::RiskReject),
            905 => Plan {
                resolve: Some((ten_seconds, Some(ResultCode::UserPaymentVerificationFailed))),
                ..Plan::new(source, Start::Hold)
            },
            906 => Plan { answer: Answer::After(Duration::seconds(9)), ..Plan::new(source, Start::Pay) },
            907 => {
                Plan { answer: Answer::Forced(ResultCode::UnknownException), ..Plan::new(source, Start::Pay) }
            }
            908 => refuse(ResultCode::PaymentAmountExceedLimit),
            909 => Plan::new(source, Start::Hold),
            910 => Plan { withhold_notify: true, ..Plan::new(source, Start::Pay) },
            911 => Plan { inquiry_faults: 2, ..Plan::new(source, Start::Pay) },
            912 => Plan { refund_faults: 1, ..Plan::new(source, Start::Pay) },
            913 => Plan { stuck: true, cancel_faults: 1, ..Plan::new(source, Start::Hold) },
            _ => return None,
        })
    }

    /// Chooses the plan for a payment by the precedence of §10.2 (mock rules are applied by the
    /// gateway before this): a non-default scenario, then a magic amount, then the default.
    pub fn choose(scenario: Scenario, value: i64, magic_amounts: bool) -> Plan {
        if scenario != Scenario::Success {
            return scenario.plan();
        }
        magic_amounts.then(|| Plan::magic(value)).flatten().unwrap_or_else(Plan::default_plan)
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
            Scenario::Stuck => f.write_str("stuck"),
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
            "stuck" => Scenario::Stuck,
            other => match other.strip_prefix("slow:").map(str::parse::<u32>) {
                Some(Ok(seconds)) if seconds <= 3600 => Scenario::Slow(seconds),
                _ => {
                    return Err(format!("unknown scenario {other:?}; one of {}", Scenario::NAMES.join(", ")))
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_scenario_then_magic_then_default() {
        assert_eq!(Plan::choose(Scenario::Pin, 10_903, true).source, "scenario pin");
        assert_eq!(Plan::choose(Scenario::Success, 10_903, true).source, "magic amount 903");
        assert_eq!(Plan::choose(Scenario::Success, 10_903, false).source, "default");
        assert_eq!(Plan::choose(Scenario::Success, 10_900, true).source, "default");
        assert_eq!(Plan::choose(Scenario::Success, 10_914, true).source, "default");
        assert!(Plan::magic(1_913).is_some_and(|p| p.stuck && p.cancel_faults == 1));
    }
}
