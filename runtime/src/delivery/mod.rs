//! From a due rule to what leaves: templates rendered with the contact's
//! data (minijinja; HTML-escaped in HTML templates), e-mails built by
//! lettre (headers encoded, so contact data can never add a header), and
//! the outbox that delivers them.
//!
//! Rendering happens once, when the send is recorded: the payload stored
//! in the state is what every delivery attempt writes, byte for byte.

mod outbox;
mod render;
mod smtp;

pub use outbox::{Attempt, FileOutbox, Outbox, Progress};
pub use render::{render_due, RenderSettings};
pub use smtp::{SmtpOutbox, SmtpSettings, TlsMode};

#[derive(Debug)]
pub struct DeliveryError(pub String);

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for DeliveryError {}
