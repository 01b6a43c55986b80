//! Common objects of the Alipay+ bodies (reference §2.3): one struct per
//! object, camelCase wire names, optional fields omitted when `None`, unknown fields kept in
//! `extra`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{WireAmount, WireBool, WireResult};

/// An order (§2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// `referenceOrderId`: the merchant's order ID (REQUIRED, ≤64).
    pub reference_order_id: String,
    /// `orderDescription`: summary shown to the buyer (REQUIRED, ≤256).
    pub order_description: String,
    /// `orderAmount`: order amount (REQUIRED).
    pub order_amount: WireAmount,
    /// `merchant`: the merchant; for UPM and Entry Code `merchant.store` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<Merchant>,
    /// `goods[]`: goods bought.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods: Option<Vec<Goods>>,
    /// `shipping`: shipping details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping: Option<Shipping>,
    /// `buyer`: the buyer as the merchant knows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Buyer>,
    /// `env`: terminal environment (`storeTerminalId`, `userAgent`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Env>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The merchant of an order (§2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Merchant {
    /// `referenceMerchantId`: the ACQP's merchant ID (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_merchant_id: Option<String>,
    /// `merchantMCC`: merchant category code.
    #[serde(rename = "merchantMCC", default, skip_serializing_if = "Option::is_none")]
    pub merchant_mcc: Option<String>,
    /// `merchantName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_name: Option<String>,
    /// `merchantDisplayName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_display_name: Option<String>,
    /// `merchantAddress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_address: Option<Address>,
    /// `merchantRegisterDate` (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_register_date: Option<String>,
    /// `store`: the store (required for UPM and Entry Code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<Store>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A merchant's store (§2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Store {
    /// `referenceStoreId`: the ACQP's store ID (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_store_id: Option<String>,
    /// `storeName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_name: Option<String>,
    /// `storeMCC`.
    #[serde(rename = "storeMCC", default, skip_serializing_if = "Option::is_none")]
    pub store_mcc: Option<String>,
    /// `storeDisplayName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_display_name: Option<String>,
    /// `storeTerminalId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_terminal_id: Option<String>,
    /// `storeOperatorId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_operator_id: Option<String>,
    /// `storePhoneNo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_phone_no: Option<String>,
    /// `storeAddress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_address: Option<Address>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A postal address (§2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// `region`: ISO 3166 two-letter code (mandatory when an address is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `state` (≤8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `city` (≤32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// `address1` (≤256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address1: Option<String>,
    /// `address2` (≤256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address2: Option<String>,
    /// `zipCode` (≤32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip_code: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The environment the order was placed from (§2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Env {
    /// `terminalType`: `WEB`, `WAP`, `APP`, `MINI_APP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_type: Option<String>,
    /// `osType`: `IOS`, `ANDROID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
    /// `userAgent` (required for Order Code and Entry Code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// `deviceTokenId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token_id: Option<String>,
    /// `clientIp` (≤32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// `cookieId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_id: Option<String>,
    /// `storeTerminalId` (≤64; recommended for UPM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_terminal_id: Option<String>,
    /// `storeTerminalRequestTime` (ISO 8601; recommended for UPM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_terminal_request_time: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A person's name (`buyerName`, `shippingName`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserName {
    /// `firstName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// `middleName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// `lastName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// `fullName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The buyer as the merchant knows them (§2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Buyer {
    /// `referenceBuyerId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_buyer_id: Option<String>,
    /// `buyerName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_name: Option<UserName>,
    /// `buyerPhoneNo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_phone_no: Option<String>,
    /// `buyerEmail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_email: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One line of goods (§2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Goods {
    /// `referenceGoodsId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_goods_id: Option<String>,
    /// `goodsName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_name: Option<String>,
    /// `goodsCategory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_category: Option<String>,
    /// `goodsBrand`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_brand: Option<String>,
    /// `goodsUnitAmount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_unit_amount: Option<WireAmount>,
    /// `goodsQuantity` (an integer, as a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_quantity: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Shipping details (§2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Shipping {
    /// `shippingName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_name: Option<UserName>,
    /// `shippingAddress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
    /// `shippingCarrier`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_carrier: Option<String>,
    /// `shippingPhoneNo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_phone_no: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How the buyer pays (§2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethod {
    /// `paymentMethodType`, e.g. `CONNECT_WALLET` (REQUIRED).
    pub payment_method_type: String,
    /// `paymentMethodId`: for UPM the scanned payment code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_id: Option<String>,
    /// `customerId` (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// `paymentMethodMetaData`: free-form object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_meta_data: Option<Map<String, Value>>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Payment factors: which product and scenario (§2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PaymentFactor {
    /// `isInStorePayment` (`"true"` for in-store payments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_in_store_payment: Option<WireBool>,
    /// `isCashierPayment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_cashier_payment: Option<WireBool>,
    /// `presentmentMode`, e.g. `TILE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presentment_mode: Option<String>,
    /// `inStorePaymentScenario`: `PaymentCode`, `OrderCode` or `EntryCode` (see [`crate::protocol::scenario`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_store_payment_scenario: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Settlement preferences (§2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SettlementStrategy {
    /// `settlementCurrency` (ISO 4217).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_currency: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An FX quote (`settlementQuote`, §2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    /// `quoteId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_id: Option<String>,
    /// `quoteCurrencyPair`, e.g. `USD/HKD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_currency_pair: Option<String>,
    /// `quotePrice`: a decimal, as a string (never parsed into a float).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_price: Option<String>,
    /// `quoteStartTime` (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_start_time: Option<String>,
    /// `quoteExpiryTime` (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_expiry_time: Option<String>,
    /// `baseCurrency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_currency: Option<String>,
    /// `quoteUnit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_unit: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A transaction on a payment (`transactions[]` of `inquiryPayment`, §2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    /// `transactionResult`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_result: Option<WireResult>,
    /// `transactionId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// `transactionType`: `PAYMENT`, `REFUND`, `AUTHORIZATION`, `CAPTURE`, `CANCEL`, `VOID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_type: Option<String>,
    /// `transactionStatus`: `SUCCESS`, `FAIL`, `PROCESSING`, `CANCELLED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_status: Option<String>,
    /// `transactionAmount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_amount: Option<WireAmount>,
    /// `transactionRequestId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_request_id: Option<String>,
    /// `transactionTime` (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_time: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The order code returned by `pay` in the Order Code flow (§5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct OrderCodeForm {
    /// `paymentMethodType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_type: Option<String>,
    /// `expireTime` (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    /// `codeDetails[]`: the code as text and as images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_details: Option<Vec<CodeDetail>>,
    /// `extendInfo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_info: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One rendering of an order code (§2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeDetail {
    /// `codeValueType`: `BARCODE` or `QRCODE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_value_type: Option<String>,
    /// `codeValue`: the code text or an image URL.
    pub code_value: String,
    /// `displayType`: `TEXT`, `MIDDLEIMAGE`, `SMALLIMAGE`, `BIGIMAGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_type: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
