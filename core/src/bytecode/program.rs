//! A compiled program: flows with their settings, declarative triggers and
//! actions, and stack code (with a source location per instruction) for
//! everything a flow computes.

use serde::{Deserialize, Serialize};

use super::op::{Channel, Op, StrId};
use crate::calendar::{LeapDayRule, Offset};

/// Where something came from: a source (index into `Program::sources`),
/// 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loc {
    pub source: u16,
    pub line: u32,
    pub column: u32,
}

/// Straight-line code with jumps; `locs[i]` is where `ops[i]` came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Code {
    pub ops: Vec<Op>,
    pub locs: Vec<Loc>,
}

impl Code {
    pub fn push(&mut self, op: Op, loc: Loc) -> usize {
        self.ops.push(op);
        self.locs.push(loc);
        self.ops.len() - 1
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Program {
    /// The source files, by path, in the order `Loc::source` indexes them.
    pub sources: Vec<String>,
    /// Hash of the sources (paths and texts) the program was built from.
    pub source_hash: u64,
    /// Every name and text constant, indexed by `StrId`.
    pub strings: Vec<String>,
    pub flows: Vec<FlowCode>,
    pub policy: PolicyCode,
    /// The contact fields that record consent, per channel. A channel with
    /// none needs no field (only the absence of an unsubscription).
    pub consent_fields: Vec<(Channel, StrId)>,
    /// The contact schema: how to read each field of a contacts file.
    pub fields: Vec<FieldSpec>,
    /// The event catalogue: each event's attributes and their kinds.
    pub events: Vec<EventSpec>,
    /// The message templates, so that a program runs on its own.
    pub templates: Vec<TemplateCode>,
    /// The webhooks declared in `flow.toml`, with where a run finds their
    /// endpoints.
    pub webhooks: Vec<WebhookSpec>,
    /// The kinds of marketing message the project declares (`[kinds]`),
    /// with the words the preference page shows for each.
    pub kinds: Vec<(StrId, StrId)>,
    /// What `flowc report` attributes to the messages (`[attribution]`).
    pub attribution: Option<AttributionSpec>,
}

/// A conversion is an `event` that follows a message delivered to the
/// same contact within `window` seconds; it counts, with its `amount`
/// (a number attribute), for the last such message's flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributionSpec {
    pub event: StrId,
    pub amount: Option<StrId>,
    pub window: i64,
}

impl FlowCode {
    /// What the flow's messages are, for consent.
    pub fn message_kind<'a>(&self, program: &'a Program) -> crate::vm::consent::MessageKind<'a> {
        use crate::vm::consent::MessageKind;
        if self.transactional {
            MessageKind::Transactional
        } else {
            MessageKind::Marketing(self.kind.map(|k| program.string(k)))
        }
    }
}

/// A named webhook and the environment variables that configure it at run
/// time. Only the variables' names are compiled in: the URL (which may
/// carry a token) and the secret never reach a `.flowb` file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSpec {
    pub name: StrId,
    /// The variable holding the endpoint URL; none: calls go to the outbox file.
    pub url_env: Option<String>,
    /// The variable holding the signing secret; none: `FLOWC_WEBHOOK_SECRET`.
    pub secret_env: Option<String>,
}

/// One channel's version of a template: minijinja source text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateCode {
    pub name: StrId,
    pub channel: Channel,
    pub subject: Option<String>,
    pub body: String,
    /// An HTML body, rendered with HTML escaping.
    pub html: bool,
    /// Link name → URL.
    pub links: Vec<(String, String)>,
    /// The template issues a coupon with every message; its validity as
    /// written in the front matter (`"30d"`).
    pub coupon: Option<String>,
}

/// A field (or event attribute) and the kind of its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    pub name: StrId,
    pub kind: FieldKind,
    /// A contact field whose column every contacts file must have (the
    /// schema does not mark it `optional`). False for event attributes.
    pub required: bool,
}

/// The type of a contact field or an event attribute, from the schema
/// (`flow.toml`) to the reading of a contacts file. (Serialized by name in
/// JSON, by index in the bytecode.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Text,
    Number,
    Bool,
    Date,
    DateTime,
    TimeZone,
    Email,
    Phone,
    List,
}

impl FieldKind {
    pub const NAMES: &'static [&'static str] = &[
        "text", "number", "bool", "date", "datetime", "timezone", "email", "phone", "list",
    ];

    /// The type a schema names (`"text"`, `"string"`, `"boolean"`, ...).
    pub fn from_name(name: &str) -> Option<FieldKind> {
        Some(match name {
            "text" | "string" => FieldKind::Text,
            "number" => FieldKind::Number,
            "bool" | "boolean" => FieldKind::Bool,
            "date" => FieldKind::Date,
            "datetime" => FieldKind::DateTime,
            "timezone" => FieldKind::TimeZone,
            "email" => FieldKind::Email,
            "phone" => FieldKind::Phone,
            "list" => FieldKind::List,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Number => "number",
            FieldKind::Bool => "bool",
            FieldKind::Date => "date",
            FieldKind::DateTime => "datetime",
            FieldKind::TimeZone => "timezone",
            FieldKind::Email => "email",
            FieldKind::Phone => "phone",
            FieldKind::List => "list",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSpec {
    pub name: StrId,
    pub attributes: Vec<FieldSpec>,
}

impl Program {
    /// The string `id` names (empty for an id out of range).
    pub fn string(&self, id: StrId) -> &str {
        self.strings.get(id as usize).map_or("", String::as_str)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowCode {
    pub name: StrId,
    pub title: Option<StrId>,
    pub loc: Loc,
    /// The contact field holding the time zone, if any.
    pub zone_field: Option<StrId>,
    /// The zone for contacts without one (an IANA name).
    pub default_zone: StrId,
    /// Default local send time, minutes after midnight.
    pub send_at: u16,
    pub lateness: Lateness,
    pub reentry: Reentry,
    pub leap_day: LeapDayRule,
    /// `kind: transactional`: no marketing consent, caps or quiet hours;
    /// only a hard bounce stops its messages.
    pub transactional: bool,
    /// `kind: offers`: the kind of marketing message, one the project
    /// declares, which a contact can stop on its own.
    pub kind: Option<StrId>,
    pub audience: Option<Code>,
    /// Messages referred to by conditions: a name and the rules sending it.
    pub messages: Vec<MessageRef>,
    /// Event filters of `happened` tests, referred to by index.
    pub filters: Vec<Code>,
    pub rules: Vec<RuleCode>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageRef {
    /// The name written (a template or rule label); empty for "any offer".
    pub name: StrId,
    /// Indexes into `FlowCode::rules`.
    pub rules: Vec<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Lateness {
    /// Until the end of the local day the send is due.
    SameDay,
    /// Until this long after the due instant.
    Within(Offset),
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Reentry {
    Once,
    After(Offset),
    Never,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleCode {
    /// Stable identity within the flow (part of the exactly-once key).
    pub name: StrId,
    pub loc: Loc,
    pub trigger: TriggerCode,
    /// Local send time, minutes after midnight, when the rule sets one.
    pub send_at: Option<u16>,
    pub condition: Option<Code>,
    pub actions: Vec<ActionCode>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TriggerCode {
    /// A date field moved by an offset, every year or once.
    Date {
        field: StrId,
        yearly: bool,
        offset: Offset,
    },
    /// The n-th anniversary (n >= 1) of a date field, moved by an offset.
    Anniversary { field: StrId, offset: Offset },
    /// Each event of a kind that passes the filter, moved by an offset.
    Event {
        event: StrId,
        offset: Offset,
        filter: Option<Code>,
    },
    /// After a message sent by one of these rules of the flow.
    AfterMessage { rules: Vec<u16>, offset: Offset },
    /// When no event of a kind happened for a period.
    Inactivity { event: StrId, period: Offset },
    /// When a field takes the value computed by `value`.
    Becomes {
        field: StrId,
        value: Code,
        offset: Offset,
    },
    /// When a field changes.
    Changes { field: StrId, offset: Offset },
    /// A fixed calendar date (year, month, day), moved by an offset.
    FixedDate { date: (i16, i8, i8), offset: Offset },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ActionCode {
    Send {
        loc: Loc,
        channel: Channel,
        template: StrId,
        sender: Option<Code>,
        /// A coupon issued with the message; its validity if the flow gives one.
        coupon: Option<Option<Offset>>,
        vars: Vec<(StrId, Code)>,
    },
    Task {
        loc: Loc,
        kind: StrId,
        assignee: Option<Code>,
        note: Option<Code>,
        due: Option<Offset>,
    },
    Webhook {
        loc: Loc,
        name: StrId,
        vars: Vec<(StrId, Code)>,
    },
    SetField {
        loc: Loc,
        field: StrId,
        value: Code,
    },
    Tag {
        loc: Loc,
        value: Code,
    },
    Untag {
        loc: Loc,
        value: Code,
    },
    Exit {
        loc: Loc,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyCode {
    pub caps: Vec<CapCode>,
    /// Flow names (`StrId`), highest priority first.
    pub priority: Vec<StrId>,
    /// Quiet hours (from, to) in minutes after midnight, local time.
    pub quiet_hours: Option<(u16, u16)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapCode {
    pub count: u32,
    /// `None`: every message; else one channel.
    pub channel: Option<Channel>,
    pub tasks: bool,
    pub window: CapPeriod,
}

/// What a pressure cap counts over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CapPeriod {
    /// `per day`: the local calendar day of the send, in the contact's zone.
    LocalDay,
    /// `per 24h`, `per 7d`: the period that ends at the send.
    Rolling(Offset),
}

impl std::fmt::Display for CapPeriod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CapPeriod::LocalDay => write!(f, "day"),
            CapPeriod::Rolling(o) => write!(f, "{o}"),
        }
    }
}
