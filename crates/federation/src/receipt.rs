//! Deletion receipts: "I deleted what you sent me". The receiver of a partner's data sends
//! one back (a `deletion-receipt` message, signed like every envelope) when the data is
//! deleted, at the end of the agreement's retention or on request; the origin logs it and
//! flags what has no receipt past its retention date.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::envelope::MessageId;

/// The message type of a deletion receipt (a protocol message, exempt from agreements).
pub const DELETION_RECEIPT: &str = "deletion-receipt";

/// The most messages one receipt names; more are split over several receipts.
pub const MAX_RECEIPT_MESSAGES: usize = 5_000;

/// Why the data was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeletionReason {
    /// The agreement's retention ran out.
    Retention,
    /// A data subject's erasure request, or the data-protection officer's order.
    Erasure,
    /// The origin asked for it to be deleted.
    OriginRequest,
}

/// The payload of a `deletion-receipt` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletionReceipt {
    /// The messages whose data was deleted (ids the origin gave them).
    pub messages: Vec<MessageId>,
    pub reason: DeletionReason,
    pub deleted_at: DateTime<Utc>,
}

/// Why a receipt's payload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("not a deletion receipt: {0}")]
    Malformed(String),
    #[error("a deletion receipt names 1 to {MAX_RECEIPT_MESSAGES} messages, not {0}")]
    Count(usize),
}

impl DeletionReceipt {
    /// Reads a payload, refusing an empty or oversized list.
    pub fn parse(payload: &[u8]) -> Result<Self, ReceiptError> {
        let r: DeletionReceipt = serde_json::from_slice(payload).map_err(|e| ReceiptError::Malformed(e.to_string()))?;
        if r.messages.is_empty() || r.messages.len() > MAX_RECEIPT_MESSAGES {
            return Err(ReceiptError::Count(r.messages.len()));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_round_trip_and_hostile_payloads_are_refused() {
        let r = DeletionReceipt {
            messages: vec![MessageId::random().unwrap()],
            reason: DeletionReason::Retention,
            deleted_at: Utc::now(),
        };
        assert_eq!(DeletionReceipt::parse(&serde_json::to_vec(&r).unwrap()).unwrap(), r);
        for bad in [
            &b""[..],
            b"{}",
            b"{\"messages\": [], \"reason\": \"retention\", \"deleted_at\": \"2026-01-01T00:00:00Z\"}",
            b"{\"messages\": [\"zz\"], \"reason\": \"retention\", \"deleted_at\": \"2026-01-01T00:00:00Z\"}",
            b"{\"messages\": [\"0123456789abcdef0123456789abcdef\"], \"reason\": \"whim\", \"deleted_at\": \"2026-01-01T00:00:00Z\"}",
            b"{\"messages\": [\"0123456789abcdef0123456789abcdef\"], \"reason\": \"retention\", \"deleted_at\": \"2026-01-01T00:00:00Z\", \"x\": 1}",
            b"\xff\xfe",
        ] {
            assert!(DeletionReceipt::parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let many = format!(
            "{{\"messages\": [{}], \"reason\": \"retention\", \"deleted_at\": \"2026-01-01T00:00:00Z\"}}",
            vec!["\"0123456789abcdef0123456789abcdef\""; MAX_RECEIPT_MESSAGES + 1].join(",")
        );
        assert_eq!(DeletionReceipt::parse(many.as_bytes()), Err(ReceiptError::Count(MAX_RECEIPT_MESSAGES + 1)));
    }
}
