//! Alipay+ wire messages (in progress).

use serde::{Deserialize, Serialize};

/// Wire amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireAmount {
    /// ISO 4217 code.
    pub currency: String,
    /// Minor units as a decimal string.
    pub value: String,
}
