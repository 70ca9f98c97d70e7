//! What the VM knows of one contact: field values, and history (messages
//! sent with their opens, clicks and redemptions; events; field changes).

// Field names are few and come from our own files: a fast non-DoS-resistant
// hash is right here (the VM reads fields millions of times).
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use jiff::Timestamp;

use super::value::Value;
use crate::bytecode::Channel;

/// One contact's field values, by field name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Contact {
    pub id: String,
    /// Keys are shared with the reader's column names: a contact costs no
    /// allocation per field name (millions of contacts, a few columns).
    pub fields: HashMap<Arc<str>, Value>,
    /// The line of its row in the contacts file (0 when not from a file):
    /// what a report about the contact names.
    pub line: u64,
    /// The byte its row starts at in that file.
    pub offset: u64,
}

impl Contact {
    pub fn new(id: impl Into<String>) -> Contact {
        Contact {
            id: id.into(),
            fields: HashMap::default(),
            line: 0,
            offset: 0,
        }
    }

    pub fn with(mut self, field: &str, value: Value) -> Contact {
        self.fields.insert(Arc::from(field), value);
        self
    }

    /// The value of `field`, `Null` when absent.
    pub fn field(&self, field: &str) -> &Value {
        self.fields.get(field).unwrap_or(&Value::Null)
    }
}

/// A message of a flow sent to the contact, and what came back.
#[derive(Clone, Debug, PartialEq)]
pub struct SentMessage {
    pub flow: String,
    pub rule: String,
    /// The occurrence key (`birthday/2027`, `anniversary/10`, ...).
    pub occurrence: String,
    pub at: Timestamp,
    pub opened: Option<Timestamp>,
    /// (link name, when).
    pub clicks: Vec<(String, Timestamp)>,
    /// When its coupon was redeemed, and the attributes of the redemption.
    pub redeemed: Option<Timestamp>,
    /// Its channel, when known (channel pressure caps count it).
    pub channel: Option<Channel>,
}

impl SentMessage {
    pub fn new(flow: &str, rule: &str, occurrence: &str, at: Timestamp) -> SentMessage {
        SentMessage {
            flow: flow.to_string(),
            rule: rule.to_string(),
            occurrence: occurrence.to_string(),
            at,
            opened: None,
            clicks: Vec::new(),
            redeemed: None,
            channel: None,
        }
    }
}

/// Something the contact did or that happened to them.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Unique per event (idempotency, occurrence keys).
    pub id: String,
    pub kind: String,
    pub at: Timestamp,
    pub attributes: HashMap<String, Value>,
    /// Learned after the run before this one looked: a rule it triggers
    /// whose instant is already before the window is still due now, if
    /// its deadline has not passed (events arrive late; none is lost).
    pub late: bool,
}

impl Event {
    pub fn new(id: &str, kind: &str, at: Timestamp) -> Event {
        Event {
            id: id.to_string(),
            kind: kind.to_string(),
            at,
            attributes: HashMap::default(),
            late: false,
        }
    }

    pub fn with(mut self, attribute: &str, value: Value) -> Event {
        self.attributes.insert(attribute.to_string(), value);
        self
    }
}

/// A field that changed value (what "becomes" and "changes" see).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub at: Timestamp,
    pub old: Value,
    pub new: Value,
}

/// Everything known of the contact's past. Order does not matter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    pub messages: Vec<SentMessage>,
    pub events: Vec<Event>,
    pub changes: Vec<FieldChange>,
    /// (flow, when) the contact left a flow by `exit`.
    pub exits: Vec<(String, Timestamp)>,
}
