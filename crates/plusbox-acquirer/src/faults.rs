//! Fault switches: each one breaks exactly one rule of the Alipay+ ACQP reference, so a test case
//! can prove that it catches that broken integration. Faults are data: a name, the rule it
//! breaks, and the reference section the rule comes from.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! faults {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $section:literal, $rule:literal, $broken:literal; )*) => {
        /// One named fault switch.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Fault {
            $( $(#[$doc])* $variant, )*
        }

        impl Fault {
            /// Every fault, in catalogue order.
            pub const ALL: &'static [Fault] = &[$(Fault::$variant,)*];

            /// The switch name used on the command line and in configuration files.
            pub const fn name(self) -> &'static str {
                match self { $(Fault::$variant => $name,)* }
            }

            /// The reference section (`alipayplus-api.md`) the broken rule comes from.
            pub const fn section(self) -> &'static str {
                match self { $(Fault::$variant => $section,)* }
            }

            /// The rule a correct acquirer follows.
            pub const fn rule(self) -> &'static str {
                match self { $(Fault::$variant => $rule,)* }
            }

            /// What the acquirer does instead with this fault switched on.
            pub const fn behaviour(self) -> &'static str {
                match self { $(Fault::$variant => $broken,)* }
            }
        }
    };
}

faults! {
    /// Never polls `inquiryPayment`; waits for a notification only.
    NoInquiry = "no-inquiry", "§3, §7",
        "On U, poll inquiryPayment; both notifyPayment and inquiryPayment must be integrated.",
        "Never calls inquiryPayment; waits for notifyPayment until expiry, then cancels.";
    /// Polls at a fixed, very short interval.
    PollTooFast = "poll-too-fast", "§7, §12",
        "Poll inquiryPayment with increasing intervals (about every 3 s), not in a tight loop.",
        "Polls at a fixed short interval (timing.too_fast_interval_ms) with no back-off.";
    /// Keeps polling past the payment expiry and never cancels.
    PollForever = "poll-forever", "§7, §12",
        "Stop inquiring at the payment expiry or the maximum number of inquiries, then cancel.",
        "Keeps inquiring past expiry and the inquiry limit (up to timing.poll_forever_limit_ms) and never cancels.";
    /// Gives up without cancelling.
    NoCancel = "no-cancel", "§8, §12",
        "Still U after expiry or the maximum inquiries: call cancelPayment, retried until S; fail the order only after the cancel succeeds.",
        "Marks the order failed locally without calling cancelPayment.";
    /// Retries `pay` under a fresh `paymentRequestId`.
    NewRequestIdOnRetry = "new-request-id-on-retry", "§4.2, §12",
        "On a timeout or U, re-send pay with the same paymentRequestId (the idempotency key).",
        "Re-sends pay with a new paymentRequestId, which can charge the buyer twice.";
    /// Acknowledges notifications but does not use them.
    IgnoreNotify = "ignore-notify", "§3, §10",
        "Apply notifyPayment to the order table (first final result wins) and stop polling once final.",
        "Acknowledges notifyPayment but ignores its result; keeps polling.";
    /// Acknowledges without a signature.
    UnsignedAck = "unsigned-ack", "§1.5, §10",
        "Sign the notifyPayment acknowledgement.",
        "Answers notifyPayment with no Signature header.";
    /// Acknowledges with a signature that does not verify.
    BadAckSignature = "bad-ack-signature", "§1.5, §10",
        "Sign the notifyPayment acknowledgement over the exact bytes sent.",
        "Signs the acknowledgement over different content, so the signature does not verify.";
    /// Trusts responses without checking their signatures.
    SkipResponseVerification = "skip-response-verification", "§1.4, §1.5",
        "Verify the signature of every response before acting on it.",
        "Accepts responses without verifying their signature (a tampered response is trusted).";
    /// Signs requests with a key the sandbox does not know.
    WrongKey = "wrong-key", "§1.5, §1.7",
        "Sign requests with the private key whose public key is registered for the Client-Id.",
        "Signs requests with a different, unregistered private key.";
    /// Refunds more than was paid.
    RefundOverAmount = "refund-over-amount", "§9",
        "The total of refunds must not exceed the payment amount.",
        "Sends refunds without checking the remaining refundable amount.";
    /// Reports a void as done when Alipay+ refused it for the cancel window.
    CancelAfterWindow = "cancel-after-window", "§8, §9",
        "Cancel only until 00:15 UTC+8 on T+1; a cancel refused with CANCEL_WINDOW_EXCEED did not happen: tell the cashier and refund instead.",
        "Marks the order cancelled and reports the void as done when cancelPayment is refused with CANCEL_WINDOW_EXCEED.";
    /// Computes the cancel window in UTC instead of UTC+8.
    CancelWindowUtc = "cancel-window-utc", "§8",
        "The cancel window ends 00:15 UTC+8 on the day after the payment's UTC+8 date.",
        "Computes the window end as 00:15 UTC on the day after the payment's UTC date, so a void of a sale made between 00:00 and 08:00 UTC+8 is refused locally hours before the window closes.";
    /// Sends numbers and booleans where strings are required.
    NumbersNotStrings = "numbers-not-strings", "§2, §2.1",
        "Every non-array field is a JSON string: amounts as \"1250\", flags as \"true\".",
        "Sends amount values as JSON numbers and isInStorePayment as a JSON boolean.";
    /// Leaves out `order.merchant.store`.
    OmitStore = "omit-store", "§4.2",
        "UPM pay requires order.merchant.store.",
        "Sends pay without order.merchant.store.";
    /// Leaves out the terminal fields.
    OmitTerminal = "omit-terminal", "§4.2",
        "UPM pay should carry env.storeTerminalId and env.storeTerminalRequestTime.",
        "Sends pay without env.storeTerminalId and env.storeTerminalRequestTime.";
    /// Acts on notifications whose signature it never checked.
    AcceptForgedNotify = "accept-forged-notify", "§1.5, §10",
        "Verify notifyPayment's signature before acting on it; an unverified notification changes nothing.",
        "Applies notifyPayment without verifying its signature, so a forged notification settles the order.";
    /// Answers a failed payment's notification with F.
    AckMirrorsResult = "ack-mirrors-result", "§10",
        "Acknowledge every received notification with a signed S, whatever the payment's result.",
        "Answers a notification of a failed payment with F, so Alipay+ keeps redelivering it.";
    /// Sends one cancel and never retries it.
    CancelOnce = "cancel-once", "§8, §12",
        "Retry a cancelPayment answered U or timed out, with the same paymentRequestId, until S.",
        "Sends cancelPayment once; a U or a timeout leaves the payment open.";
    /// Multiplies every amount by 100 whatever the currency.
    AmountTimes100 = "amount-times-100", "§2.1",
        "Amounts are in the currency's minor unit: JPY 500 is \"500\", KWD 1.234 is \"1234\".",
        "Sends every amount as major units × 100, whatever the currency (JPY 500 as \"50000\").";
    /// Converts amounts through a binary float.
    FloatAmount = "float-amount", "§2.1",
        "Convert the decimal amount to minor units exactly (19.99 USD is \"1999\").",
        "Converts through a binary float and truncates: int(19.99 * 100) sends \"1998\".";
    /// Takes an inquiry answered U for a failure.
    InquiryUnknownFails = "inquiry-unknown-fails", "§7, §12",
        "An inquiry answered U (or timing out) says nothing about the payment: inquire again.",
        "Fails the sale at the first inquiry answered U or timing out.";
    /// Writes UTC+8 wall time with a Z in Request-Time.
    RequestTimeLocalZ = "request-time-local-z", "§1.3, §2",
        "Request-Time is the real time with its real offset.",
        "Writes UTC+8 wall time with a Z offset, 8 hours off the real time.";
    /// Signs the UTF-8 body but sends it ASCII-escaped.
    SignUtf8SendEscaped = "sign-utf8-send-escaped", "§1.5",
        "Sign the exact bytes sent.",
        "Signs the body as UTF-8 but sends non-ASCII characters \\u-escaped, so any non-ASCII order text breaks verification.";
    /// An expiry watchdog that cancels even a paid payment.
    WatchdogCancelsPaid = "watchdog-cancels-paid", "§3, §8",
        "Once paid, only a merchant void cancels: a timer armed while pay was U must stand down when the payment succeeds.",
        "Arms an expiry watchdog on pay's U that calls cancelPayment at the expiry even after the payment succeeded.";
    /// Sends the order-code `pay` without `order.env.userAgent`.
    OmitUserAgent = "omit-user-agent", "§5",
        "An order-code pay carries order.env.userAgent (required for OrderCode and EntryCode).",
        "Sends the order-code pay without order.env.userAgent, which Alipay+ refuses with PARAM_ILLEGAL.";
    /// Drops an expired order code without cancelling it.
    OrderCodeNoCancel = "order-code-no-cancel", "§8, §11, §12",
        "An order code still U when its 180 s window (its expiry) ends is cancelled with cancelPayment, retried until S.",
        "Takes the order code off the display at the end of the window and marks the sale failed without calling cancelPayment.";
    /// Polls an order code too rarely.
    OrderCodePollTooSlow = "order-code-poll-too-slow", "§11, §12",
        "While an order code is U, inquire 30 to 60 times within 180 s (every 3-6 s), then cancel.",
        "Inquires at a third of the pace (timing.order_code_poll_interval_ms × 3, 10.5 s): 17 inquiries in 180 s.";
    /// Answers `userInitiatedPay` without a signature.
    PocUnsignedAnswer = "poc-unsigned-answer", "§1.5, §11",
        "Sign the userInitiatedPay answer (Alipay+ → ACQP calls are answered signed).",
        "Answers userInitiatedPay with no Signature header, so Alipay+ cannot trust the decoded order.";
    /// Answers `userInitiatedPay` with a signature that does not verify.
    PocBadAnswerSignature = "poc-bad-answer-signature", "§1.5, §11",
        "Sign the userInitiatedPay answer over the exact bytes sent.",
        "Signs the userInitiatedPay answer over different content, so the signature does not verify.";
    /// Answers `userInitiatedPay` after Alipay+'s 8 s timeout.
    PocSlowAnswer = "poc-slow-answer", "§11, §12",
        "Answer userInitiatedPay within 8 s (Alipay+'s timeout for this call).",
        "Answers userInitiatedPay after 15 s, when Alipay+ has given up on it.";
    /// Leaves the amount out of the `userInitiatedPay` answer.
    PocMissingAmount = "poc-missing-amount", "§11",
        "The userInitiatedPay answer carries the order's amount (paymentAmount).",
        "Answers userInitiatedPay S without paymentAmount (or amount), so no payment can be made from it.";
    /// Sends a merchant update while the earlier registration is still under review.
    ReregisterWithin30Minutes = "reregister-within-30-minutes", "§13.1",
        "An update of a registration (same merchant, store and product) is sent only when the earlier request is more than 30 minutes old or processed: inquire its status first and hold the update while it is PROCESSING.",
        "Sends the update at once, so Alipay+ refuses it (F PROCESS_FAIL) while the earlier registration is under review.";
    /// Re-sends a declaration under a new id.
    NewDeclarationIdOnRetry = "new-declaration-id-on-retry", "§12, §13.2",
        "A declare answered U or not at all is re-sent with the same customsDeclarationRequestId (the idempotency key).",
        "Re-sends the declaration under a new customsDeclarationRequestId, so the customs may get the same goods declared twice.";
    /// The entry-code page does not tell wallets by their User-Agent.
    EntryPageIgnoresUserAgent = "entry-page-ignores-user-agent", "§6",
        "The merchant page tells an Alipay+ wallet by its User-Agent (AlipayConnect, AlipayClient) and sends that User-Agent in pay's order.env.userAgent.",
        "Serves the amount form to any browser and sends the POS's own agent string in pay instead of the wallet's.";
    /// Reconciliation expects cancelled payments in the clearing file.
    ReconCountsCancelled = "recon-counts-cancelled", "reconciliation.md §1.3, §2.1",
        "Cancelled payments are not settled and are not in the clearing file: reconcile only successful payments and refunds.",
        "Counts its cancelled sales as settled and expects them in the file, so a correct file shows differences.";
    /// Reconciliation reads only PAYMENT rows.
    ReconIgnoresRefunds = "recon-ignores-refunds", "reconciliation.md §2.4, §2.5",
        "Refunds are settled too: REFUND rows of the file match the refunds of the order table and reduce the net amount.",
        "Skips the REFUND rows of the file, so its refunds look unsettled.";
    /// Leaves the Agent-Token header off while calling for an ACQP in TSP mode.
    MissingAgentToken = "missing-agent-token", "§14",
        "A TSP calling Alipay+ on behalf of an ACQP sends the Agent-Token of the ACQP's authorization as the Agent-Token header on every call.",
        "Sends no Agent-Token header (even with agent_token configured), so Alipay+ refuses every call of a TSP-managed application with F ACCESS_DENIED.";
    /// Acknowledges a retrieval and never answers it.
    NoRetrievalAnswer = "no-retrieval-answer", "§13.3",
        "After acknowledging initiateRetrieval, answer it with responseRetrieval carrying the order's details before the responseDeadline.",
        "Acknowledges initiateRetrieval (S) but never sends responseRetrieval, so the wallet gets no transaction information and the dispute expires.";
    /// Answers a dispute under a new paymentRequestId.
    AnswerUnrelatedPayment = "answer-unrelated-payment", "§13.3",
        "Answer a dispute with the disputeRequestId and the disputed payment's own paymentRequestId.",
        "Answers the dispute under a newly made paymentRequestId, so Alipay+ refuses it (F REPEAT_REQ_INCONSISTENT) and the dispute stays unanswered.";
}

impl Fault {
    /// Looks a fault up by its switch name.
    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.iter().copied().find(|f| f.name() == name.trim())
    }
}

/// A name that is not a fault switch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault {0:?}; `plusbox acquirer faults` lists them")]
pub struct UnknownFault(pub String);

impl FromStr for Fault {
    type Err = UnknownFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::from_name(s).ok_or_else(|| UnknownFault(s.to_owned()))
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Fault {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Fault {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Fault::from_str(&s).map_err(serde::de::Error::custom)
    }
}

/// The set of faults switched on for one acquirer. Empty means a correct acquirer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Faults(BTreeSet<Fault>);

impl Faults {
    /// No faults: the correct acquirer.
    pub fn none() -> Self {
        Faults::default()
    }

    /// Switches `fault` on.
    pub fn insert(&mut self, fault: Fault) {
        self.0.insert(fault);
    }

    /// True if `fault` is on.
    pub fn has(&self, fault: Fault) -> bool {
        self.0.contains(&fault)
    }

    /// True if no fault is on.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The faults that are on.
    pub fn iter(&self) -> impl Iterator<Item = Fault> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Fault> for Faults {
    fn from_iter<T: IntoIterator<Item = Fault>>(iter: T) -> Self {
        Faults(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = BTreeSet::new();
        for fault in Fault::ALL {
            assert!(seen.insert(fault.name()), "duplicate {}", fault.name());
            assert_eq!(Fault::from_name(fault.name()), Some(*fault));
            assert!(!fault.rule().is_empty() && !fault.section().is_empty());
        }
        assert_eq!(Fault::ALL.len(), 40);
        assert!(Fault::from_name("nope").is_none());
    }

    #[test]
    fn faults_deserialize_from_names() {
        let faults: Faults = serde_json::from_str(r#"["no-cancel","wrong-key"]"#).unwrap_or_default();
        assert!(faults.has(Fault::NoCancel) && faults.has(Fault::WrongKey));
        assert!(serde_json::from_str::<Faults>(r#"["bogus"]"#).is_err());
    }
}
