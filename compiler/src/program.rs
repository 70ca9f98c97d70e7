//! The checked program: flows with their names resolved, settings typed
//! and defaults applied, and the policy merged from every file. This is
//! what lowering to bytecode reads.

use std::collections::BTreeMap;

use crate::project::schema::FieldType;
use crate::source::SourceId;
pub use crate::syntax::ast::CapWindow;
use crate::syntax::ast::{self, Channel, Duration, Expr, Recurrence, TimeOfDay};
use crate::syntax::Span;

#[derive(Clone, Debug, Default)]
pub struct Program {
    pub flows: Vec<Flow>,
    pub policy: Policy,
}

#[derive(Clone, Debug)]
pub struct Flow {
    pub name: String,
    pub source: SourceId,
    pub span: Span,
    pub settings: FlowSettings,
    pub rules: Vec<Rule>,
    /// Message names (templates sent, rule labels) → the rules sending them.
    pub messages: BTreeMap<String, Vec<usize>>,
    /// The rules that may issue an offer: what a bare `unused` refers to.
    pub offer_rules: Vec<usize>,
}

#[derive(Clone, Debug)]
pub struct Rule {
    /// Stable identity of the rule within its flow: its label, else the
    /// template it sends (or its first action). Part of the exactly-once key.
    pub name: String,
    pub trigger: Trigger,
    pub ast: ast::Rule,
}

/// What a rule's trigger resolved to.
#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    /// A date field, yearly or once.
    Date {
        field: String,
        ty: FieldType,
        recurrence: Recurrence,
    },
    /// The N-th anniversary of a date field.
    Anniversary {
        field: String,
        binding: Option<String>,
    },
    /// An event of the catalogue.
    Event { event: String },
    /// A message sent by other rules of the same flow (by index).
    Message { rules: Vec<usize> },
    /// No event of this kind for a period.
    Inactivity { event: String },
    /// A field took a value.
    Becomes { field: String },
    /// A field changed.
    Changes { field: String },
    /// A fixed calendar date.
    FixedDate,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FlowSettings {
    pub title: Option<String>,
    /// Who may enter the flow; `None` is everyone.
    pub audience: Option<Expr>,
    /// Default local send time.
    pub send_at: TimeOfDay,
    pub zone: ZoneSetting,
    pub lateness: Lateness,
    pub reentry: Reentry,
    pub leap_day: LeapDay,
    /// `kind: transactional`: messages the contact asked for (a receipt, a
    /// parcel ready): no marketing consent, caps or quiet hours apply.
    pub transactional: bool,
    /// `kind: offers`: a kind of marketing message the project declares.
    pub kind: Option<String>,
}

impl FlowSettings {
    pub fn defaults(zone: ZoneSetting) -> FlowSettings {
        FlowSettings {
            title: None,
            audience: None,
            send_at: TimeOfDay { hour: 8, minute: 0 },
            zone,
            lateness: Lateness::SameDay,
            reentry: Reentry::Once,
            leap_day: LeapDay::Feb28,
            transactional: false,
            kind: None,
        }
    }
}

/// Where a contact's time zone comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneSetting {
    /// The contact field holding the zone, if any.
    pub field: Option<String>,
    /// The zone for contacts whose field is empty (an IANA name).
    pub default: String,
}

/// How late a due send may still go out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lateness {
    /// Until the end of the local day it is due (the default).
    SameDay,
    /// Until this long after the due instant.
    Within(Duration),
}

/// Whether a contact may go through an event flow again.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reentry {
    /// Once per occurrence (the default): every purchase, every birthday.
    Once,
    /// At most once per period.
    After(Duration),
    /// Never again after the first time.
    Never,
}

/// Where a yearly 29 February falls in other years.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeapDay {
    Feb28,
    Mar1,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policy {
    pub caps: Vec<Cap>,
    /// Flow names, highest priority first.
    pub priority: Vec<String>,
    pub quiet_hours: Option<QuietHours>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cap {
    pub count: u32,
    /// `None` counts every message; else one channel.
    pub channel: Option<Channel>,
    pub tasks: bool,
    pub window: CapWindow,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuietHours {
    pub from: TimeOfDay,
    pub to: TimeOfDay,
}

impl QuietHours {
    /// Whether a local time falls in the quiet period (which may wrap midnight).
    pub fn contains(&self, time: TimeOfDay) -> bool {
        let minutes = |t: TimeOfDay| u16::from(t.hour) * 60 + u16::from(t.minute);
        flowc_core::calendar::in_daily_period(minutes(self.from), minutes(self.to), minutes(time))
    }
}
