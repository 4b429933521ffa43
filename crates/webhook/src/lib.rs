//! Outbound webhooks: the node POSTs each new alert to configured receivers, signed, in
//! order, retried until it is accepted.
//!
//! Each `[[webhooks]]` entry ([`WebhookConfig`]) runs as one task ([`spawn`]) with a durable
//! position in the alerts, its *cursor* (the store's `webhook_cursors`): the id of the last
//! alert it is done with. The task reads the alerts after its cursor from the store, POSTs
//! each as JSON (the alert as `GET /api/v1/alerts` shows it), and moves the cursor only when
//! the receiver answered 2xx (or the entry's filter passed the alert over). A failed attempt
//! (refused connection, no answer within `timeout_ms`, any other status) is retried after a
//! pause that doubles from `retry_initial_ms` to `retry_max_ms`, with jitter, for as long as
//! it takes: alerts are delivered at least once, in id order, and a restart resumes from the
//! saved cursor (saved at least once a second and when the backlog is drained).
//!
//! Ingest never waits for a webhook: alerts are committed first (their ids only grow, see
//! `limes-store`), and the task only reads them. It wakes on the node's alert broadcast, which
//! it does not hold while delivering.
//!
//! Every request carries `X-Limes-Event: alert`, `X-Limes-Delivery` (the alert id, the same on
//! every retry), `X-Limes-Timestamp` (Unix seconds) and `X-Limes-Signature:
//! sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`; a receiver checks them with
//! [`verify`] (or its own HMAC) and rejects old timestamps to refuse replays.
//!
//! ```
//! let secret = b"a secret of at least 16 bytes";
//! let body = br#"{"id":41,"plate":"B123ABC"}"#;
//! let signature = limes_webhook::sign(secret, 1_800_000_000, body);
//! assert!(limes_webhook::verify(secret, "1800000000", &signature, body, 1_800_000_010, 300).is_ok());
//! ```

mod config;
mod signature;
mod worker;

pub use config::{ConfigError, MIN_SECRET_BYTES, WebhookConfig, check};
pub use signature::{
    DEFAULT_TOLERANCE_S, DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, VerifyError, sign, verify,
};
pub use worker::{Running, StartError, spawn};
