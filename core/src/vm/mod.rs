//! The VM: for one contact, its history and a window `[from, to)`, which
//! actions of a program are due, at which instant, for which occurrence —
//! and why anything due is skipped.
//!
//! Pure: no IO, no clock (the window is the clock), deterministic order
//! (by instant, then flow, then rule, then occurrence). Sends planned in the
//! window count as sent for the conditions and follow-ups after them, so a
//! long window (a missed night, a year of simulation) gives what consecutive
//! short windows give. What history already holds as sent for a (flow,
//! rule, occurrence) is not due again.

pub mod consent;
mod contact;
mod decide;
mod eval;
mod first_due;
mod schedule;
mod tables;
mod value;

pub use contact::{Contact, Event, FieldChange, History, SentMessage};
pub use eval::INSTRUCTION_BUDGET;
pub use first_due::RowDues;
pub use schedule::{evaluate, Evaluator};
pub use value::Value;

use jiff::civil::{Date, Time};
use jiff::Timestamp;

use crate::bytecode::Channel;
use crate::calendar::Offset;

/// The most dues one evaluation may produce for one contact: a program
/// whose follow-ups chain without end stops here with an error.
pub const DUE_BUDGET: usize = 10_000;

/// One rule due for the contact.
#[derive(Clone, Debug, PartialEq)]
pub struct Due {
    pub flow: String,
    pub rule: String,
    /// `birthday/2027`, `anniversary/10`, `purchase/<event id>`, ...
    pub occurrence: String,
    /// The instant it is due (UTC).
    pub instant: Timestamp,
    /// The local date and wall-clock time that instant represents for the
    /// contact (before a spring-forward gap moved it: see `shifted_by_gap`).
    pub local_date: Date,
    pub local_time: Time,
    pub shifted_by_gap: bool,
    /// The contact's zone (IANA name) the local date and time are in.
    pub zone: String,
    /// The last instant it may still be delivered (lateness bound).
    pub deadline: Timestamp,
    /// When quiet hours hold the delivery back: not before this instant.
    pub not_before: Option<Timestamp>,
    pub outcome: Outcome,
    /// The event that triggered it (`on purchase ...`): its attributes are
    /// the `event` of the rule's templates.
    pub event: Option<Event>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// What to do, in order; each action may itself be skipped (consent).
    Planned(Vec<Planned>),
    /// Nothing is done, and why.
    Skipped(Skip),
}

impl Outcome {
    /// Whether it takes the contact out of its flow: an `exit` not skipped.
    pub fn exits_flow(&self) -> bool {
        matches!(self, Outcome::Planned(actions)
            if actions.iter().any(|p| p.skipped.is_none() && matches!(p.action, Action::Exit)))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub action: Action,
    pub skipped: Option<Skip>,
}

/// An action with its values computed for the contact.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Send {
        channel: Channel,
        template: String,
        sender: Option<String>,
        /// A coupon to issue, with its validity when the flow gives one.
        coupon: Option<Option<Offset>>,
        vars: Vec<(String, Value)>,
        /// The attributes of the redemption of this flow's coupon for this
        /// occurrence, when there is one (`{{ redemption.product }}`).
        redemption: Vec<(String, Value)>,
    },
    Task {
        kind: String,
        assignee: Option<String>,
        note: Option<String>,
        due: Option<Offset>,
    },
    Webhook {
        name: String,
        vars: Vec<(String, Value)>,
    },
    SetField {
        field: String,
        value: Value,
    },
    Tag(String),
    Untag(String),
    Exit,
}

/// Why something due is not done.
#[derive(Clone, Debug, PartialEq)]
pub enum Skip {
    /// The contact is not in the flow's audience.
    Audience,
    /// The rule's condition is false.
    Condition,
    /// Its condition asks whether an offer is unused, and none was issued
    /// for this occurrence (the name written, or "offer").
    NotIssued(String),
    /// No consent for the channel (or unsubscribed).
    NoConsent(Channel),
    /// The contact's address for the channel bounced for good.
    Bounced(Channel),
    /// The flow's re-entry setting keeps the contact out.
    Reentry,
    /// The contact left the flow by `exit`.
    Exited,
    /// Quiet hours would hold it past its deadline.
    QuietHours,
    /// A pressure cap (`3 messages per 7d`) is reached; a flow of higher
    /// priority, or an earlier message, came first.
    Pressure(String),
}

/// Why, in plain words (reports and the simulator show this).
impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Audience => write!(f, "not in the audience"),
            Skip::Condition => write!(f, "condition false"),
            Skip::NotIssued(offer) => {
                write!(
                    f,
                    "no {offer} was issued for this occurrence, so none is unused"
                )
            }
            Skip::NoConsent(channel) => write!(f, "no consent for {}", channel.name()),
            Skip::Bounced(channel) => write!(f, "the {} address bounced", channel.name()),
            Skip::Reentry => write!(f, "re-entry not allowed yet"),
            Skip::Exited => write!(f, "left the flow"),
            Skip::QuietHours => write!(f, "quiet hours last past its deadline"),
            Skip::Pressure(cap) => write!(f, "pressure cap reached: {cap}"),
        }
    }
}

/// A problem with the contact's data that holds a flow's sends for it.
#[derive(Clone, Debug, PartialEq)]
pub enum ContactProblem {
    /// The zone field holds a name the zone database does not know.
    UnknownZone { flow: String, zone: String },
    /// A trigger's date field holds something that is not a date.
    NotADate {
        flow: String,
        field: String,
        value: String,
    },
    /// The calendar failed on a trigger's date (a date moved past the
    /// years it knows is not a failure: it is never due, see
    /// `calendar::occurrences::keep_in_window`): held and said, not
    /// "nothing due".
    Unschedulable {
        flow: String,
        field: String,
        reason: String,
    },
}

/// What `simulate` and the language server say of a contact's problem.
impl std::fmt::Display for ContactProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContactProblem::UnknownZone { flow, zone } => write!(
                f,
                "unknown time zone `{zone}`: flow `{flow}` holds its sends for this contact"
            ),
            ContactProblem::NotADate { flow, field, value } => write!(
                f,
                "`{field}` is `{value}`, not a date: flow `{flow}` cannot schedule it"
            ),
            ContactProblem::Unschedulable {
                flow,
                field,
                reason,
            } => write!(
                f,
                "`{field}` cannot be scheduled ({reason}): flow `{flow}` holds its sends for this contact"
            ),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    pub dues: Vec<Due>,
    pub problems: Vec<ContactProblem>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmError {
    /// The evaluation ran out of its instruction or due budget.
    Budget,
    /// The program is inconsistent (a bug in the compiler or a damaged file).
    Malformed(&'static str),
}

impl std::fmt::Display for VmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VmError::Budget => write!(
                f,
                "evaluation stopped: more than {INSTRUCTION_BUDGET} instructions or {DUE_BUDGET} due actions for one contact"
            ),
            VmError::Malformed(what) => write!(f, "malformed program: {what}; rebuild it with `flowc build`"),
        }
    }
}

impl std::error::Error for VmError {}
