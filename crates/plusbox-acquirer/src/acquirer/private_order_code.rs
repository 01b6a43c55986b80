//! The reference ACQP's private order code (merchant-presented mode, issued by the ACQP;
//! alipayplus-api.md §11, payment-codes.md §4.3). The POS asks for a sale; the acquirer issues a
//! code on its registered domain in the fixed-domain form (`https://<domain>/281002040…`, the 12
//! digits shaped `281***04****`) and shows it. No `pay` is sent: when a buyer scans the code,
//! Alipay+ asks the acquirer to decode it with a signed `userInitiatedPay`, which the acquirer
//! verifies and answers — signed, at once — with the order, its `paymentRequestId`, amount,
//! expiry and notify URL. From then on the sale is followed like an order code: inquiries 30–60
//! times within the 180 s window (the older private-order-code guide's rule), the first final
//! result from notify or inquiry, and `cancelPayment` (until S) when the window ends still open.
//!
//! Faults that break these rules: `poc-unsigned-answer`, `poc-bad-answer-signature`,
//! `poc-slow-answer`, `poc-missing-amount` (see [`crate::Fault`]).

use plusbox_core::codes::{random_alphanumeric, random_digits};
use plusbox_core::signing::MessageParts;
use serde_json::{json, Value};
use time::Duration;

use super::order_code::{OrderCodeRequest, OrderCodeSale, OrderCodeShown, StartedSale};
use super::{check_id, expiry_guard, new_id, parse_amount, Acquirer, IncomingNotify, NotifyAck};
use crate::client::wire_time;
use crate::config::ms_to_duration;
use crate::error::AcquirerError;
use crate::faults::Fault;
use crate::store::{parse_rfc3339, NewPayment};

/// How long the `poc-slow-answer` fault holds the answer: well past Alipay+'s 8 s.
const SLOW_ANSWER: Duration = Duration::seconds(15);

/// Path of the `userInitiatedPay` endpoint on the acquirer (§1.2, §11).
pub const USER_INITIATED_PAY_PATH: &str = "/aps/api/v1/payments/userInitiatedPay";

impl Acquirer {
    /// Starts a private-order-code sale: issues the code, records the order (INIT), and follows
    /// it in the background until it is final or its window has ended (then cancels). Answers at
    /// once with the code to display.
    pub async fn start_private_order_code(
        &self,
        req: OrderCodeRequest,
    ) -> Result<StartedSale, AcquirerError> {
        let amount = parse_amount(&req.amount)?;
        if let Some(description) = &req.description {
            if description.chars().count() > 256 {
                return Err(AcquirerError::BadRequest("description must be at most 256 characters".into()));
            }
        }
        let created = self.now();
        let prid = match &req.payment_request_id {
            Some(id) => {
                check_id("paymentRequestId", id)?;
                if let Some(existing) = self.inner.store.payment(id)? {
                    if existing.amount_minor == amount.value && existing.currency == amount.currency.code() {
                        let order_code = (!existing.code.is_empty()).then(|| OrderCodeShown {
                            code_value: existing.code.clone(),
                            expire_time: Some(existing.expires_at.clone()),
                            images: Vec::new(),
                        });
                        return Ok((OrderCodeSale { payment: existing, order_code }, None));
                    }
                    return Err(AcquirerError::Refused {
                        code: "REPEAT_REQ_INCONSISTENT",
                        message: format!("paymentRequestId {id:?} was used for a sale with another amount"),
                    });
                }
                id.clone()
            }
            None => new_id("pay", created),
        };
        let timing = self.inner.config.timing.clone();
        let mut expires = created + ms_to_duration(timing.order_code_window_ms);
        if expires.nanosecond() > 0 {
            expires = expires.replace_nanosecond(0).unwrap_or(expires) + Duration::SECOND;
        }
        let code = self.new_private_code();
        self.inner.store.insert_payment(&NewPayment {
            payment_request_id: &prid,
            code: &code,
            amount,
            created_at: created,
            expires_at: expires,
        })?;
        let payment = self.payment(&prid)?;
        let shown =
            OrderCodeShown { code_value: code, expire_time: Some(wire_time(expires)), images: Vec::new() };
        let give_up_at = expires - expiry_guard(&timing);
        let follower = self.clone();
        let follow_prid = prid.clone();
        let handle = tokio::spawn(async move {
            follower.follow_order_code(&follow_prid, give_up_at).await?;
            follower.payment(&follow_prid)
        });
        Ok((OrderCodeSale { payment, order_code: Some(shown) }, Some(handle)))
    }

    /// Runs a private-order-code sale to its end (`plusbox pos private-order-code`).
    pub async fn private_order_code(
        &self,
        req: OrderCodeRequest,
        on_code: impl FnOnce(&OrderCodeSale),
    ) -> Result<crate::PaymentRecord, AcquirerError> {
        let (sale, follow) = self.start_private_order_code(req).await?;
        on_code(&sale);
        match follow {
            Some(handle) => handle.await.map_err(|e| {
                AcquirerError::Network(format!("the private-order-code follow-up stopped: {e}"))
            })?,
            None => Ok(sale.payment),
        }
    }

    /// `https://<domain>/28100204` + 4 digits (the ACQP's order digits) + 16 letters/digits.
    fn new_private_code(&self) -> String {
        let fallback = self.now().unix_timestamp_nanos();
        let mut counter: u64 = 0;
        // The system RNG; should it fail, the clock and a counter still keep codes apart.
        let mut rng = move || {
            let mut bytes = [0u8; 8];
            if aws_lc_rs::rand::fill(&mut bytes).is_ok() {
                return u64::from_be_bytes(bytes);
            }
            counter = counter.wrapping_add(0x9E37_79B9_7F4A_7C15);
            (fallback as u64) ^ counter
        };
        let digits = random_digits(&mut rng, 4);
        let token = random_alphanumeric(&mut rng, 16);
        format!("https://{}/28100204{digits}{token}", self.inner.config.merchant.private_order_code_domain)
    }

    /// Answers Alipay+'s `userInitiatedPay` (§11): verify the request's signature, find the
    /// order behind `codeValue`, answer S with it (or F with why not), signed.
    pub async fn handle_user_initiated_pay(&self, n: IncomingNotify<'_>) -> NotifyAck {
        let checked = match (n.client_id, n.request_time, n.signature) {
            (Some(client_id), Some(time), Some(signature)) => {
                let parts = MessageParts { method: "POST", uri: n.uri, client_id, time, body: n.body };
                self.inner.gateway_key.verify_message(signature, &parts).is_ok()
            }
            _ => false,
        };
        let parsed: Option<Value> = serde_json::from_slice(n.body).ok();
        let code =
            parsed.as_ref().and_then(|v| v.get("codeValue")).and_then(Value::as_str).map(str::to_owned);
        let body = if !checked {
            failure("INVALID_SIGNATURE", "signature verification failed")
        } else if let Some(code) = code.filter(|c| !c.is_empty()) {
            self.decode_answer(&code)
        } else {
            failure("PARAM_ILLEGAL", "codeValue is required")
        };
        let prid = body.get("paymentRequestId").and_then(Value::as_str).unwrap_or("").to_owned();
        let status = body.pointer("/result/resultCode").and_then(Value::as_str).unwrap_or("").to_owned();
        if self.has(Fault::PocSlowAnswer) {
            self.sleep_until(self.now() + SLOW_ANSWER).await;
        }
        // Bookkeeping: the answer goes out even if the call log is busy.
        let _ = self.inner.store.log_call(&prid, "userInitiatedPay", &prid, &status, self.now());
        self.signed_answer(n.uri, body.to_string())
    }

    /// The answer body for a verified request about `code`.
    fn decode_answer(&self, code: &str) -> Value {
        let order = match self.inner.store.payment_by_code(code) {
            Ok(Some(order)) => order,
            Ok(None) => return failure("INVALID_CODE", "this acquirer issued no such private order code"),
            Err(_) => return failure("PROCESS_FAIL", "the order table is unavailable; scan again"),
        };
        let expires = parse_rfc3339(&order.expires_at);
        if order.state.is_final() || order.cancel_requested {
            return failure("ORDER_IS_CLOSED", "this order is closed");
        }
        if expires.is_none_or(|at| self.now() >= at) {
            return failure("EXPIRED_CODE", "this private order code has expired");
        }
        let cfg = &self.inner.config;
        let m = &cfg.merchant;
        let Some(amount) = order.money() else {
            return failure("PROCESS_FAIL", "the order's amount cannot be read");
        };
        let mut body = json!({
            "result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"},
            "codeType": "ORDER_CODE",
            "paymentRequestId": order.payment_request_id,
            "paymentFactor": {"isInStorePayment": "true"},
            "paymentNotifyUrl": cfg.notify_url,
            "order": {
                "referenceOrderId": order.payment_request_id.replacen("pay_", "ord_", 1),
                "orderDescription": m.order_description,
                "orderAmount": self.amount_json(amount),
                "merchant": {
                    "referenceMerchantId": m.reference_merchant_id,
                    "merchantName": m.merchant_name,
                    "merchantMCC": m.merchant_mcc,
                    "store": {"referenceStoreId": m.reference_store_id, "storeName": m.store_name, "storeMCC": m.store_mcc},
                },
            },
        });
        if let Some(at) = expires {
            body["paymentExpiryTime"] = json!(wire_time(at));
        }
        if !self.has(Fault::PocMissingAmount) {
            body["paymentAmount"] = self.amount_json(amount);
        }
        body
    }

    /// Headers and body of a signed answer to an Alipay+ → ACQP call (§1.5): `Client-Id`,
    /// `Response-Time` and a `Signature` over `POST <uri>\n<Client-Id>.<Response-Time>.<body>`.
    fn signed_answer(&self, uri: &str, body: String) -> NotifyAck {
        let time = wire_time(self.now());
        let client_id = self.inner.config.client_id.clone();
        let mut headers = vec![
            ("Content-Type".to_owned(), "application/json; charset=UTF-8".to_owned()),
            ("Client-Id".to_owned(), client_id.clone()),
            ("Response-Time".to_owned(), time.clone()),
        ];
        if !self.has(Fault::PocUnsignedAnswer) {
            // Under `poc-bad-answer-signature` the signature covers a different body.
            let signed =
                if self.has(Fault::PocBadAnswerSignature) { format!("{body} ") } else { body.clone() };
            let parts = MessageParts {
                method: "POST",
                uri,
                client_id: &client_id,
                time: &time,
                body: signed.as_bytes(),
            };
            if let Ok(signature) = self.inner.key.sign_message(&parts, Some(self.inner.config.key_version)) {
                headers.push(("Signature".to_owned(), signature));
            }
        }
        NotifyAck { headers, body }
    }
}

fn failure(code: &str, message: &str) -> Value {
    json!({"result": {"resultCode": code, "resultStatus": "F", "resultMessage": message}})
}
