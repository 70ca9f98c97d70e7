//! From a due rule to what leaves: templates rendered with the contact's
//! data (minijinja; HTML-escaped in HTML templates), e-mails built by
//! lettre (headers encoded, so contact data can never add a header), and
//! the outboxes that deliver them: a folder (`.eml` files, JSON Lines),
//! an SMTP server, signed HTTP webhooks.
//!
//! Rendering happens once, when the send is recorded: the payload stored
//! in the state is what every delivery attempt writes, byte for byte.

mod jsonl;
mod outbox;
mod render;
mod smtp;
mod webhook;

pub use outbox::{jsonl_name, Attempt, FileOutbox, Outbox, Progress};
pub use render::{render_due, stamp_date, RenderSettings};
pub use smtp::{SmtpOutbox, SmtpSettings, TlsMode, SMTP_TIMEOUT};
pub use webhook::{
    sign, ChannelUrls, Endpoints, HttpSender, Timeouts, WebhookOutbox, DEFAULT_SECRET_ENV,
};

#[derive(Debug)]
pub struct DeliveryError(pub String);

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for DeliveryError {}
