//! The instruction set of conditions and values: a small stack machine.
//! Triggers and actions are declarative (see `program.rs`); only what a
//! flow computes (conditions, filters, variables, senders) is code.

use serde::{Deserialize, Serialize};

use crate::calendar::Offset;

/// Index into the program's string table.
pub type StrId = u32;

/// Index into a flow's message table (`FlowCode::messages`).
pub type MessageId = u16;

/// A channel of delivery. (Serialized by name in JSON, by index in the
/// bytecode: postcard encodes a variant's index, so the order is part of
/// the format.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
    Push,
}

impl Channel {
    pub fn name(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }

    /// The channel a word of the language names (`email`, `sms`, `push`).
    pub fn from_name(name: &str) -> Option<Channel> {
        match name {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            "push" => Some(Channel::Push),
            _ => None,
        }
    }
}

/// One instruction. The comment after each is its stack effect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Push a constant boolean. `( -- bool)`
    Bool(bool),
    /// Push a constant number. `( -- number)`
    Number(f64),
    /// Push a constant text from the string table. `( -- text)`
    Text(StrId),
    /// Push a constant duration. `( -- duration)`
    Duration(Offset),
    /// Push a constant date (year, month, day). `( -- date)`
    Date(i16, i8, i8),
    /// Push a constant time of day, in minutes after midnight. `( -- time)`
    Time(u16),
    /// Pop `n` values, push them as a list (first pushed first). `(v1 .. vn -- list)`
    List(u16),
    /// Push a contact field's value, or nothing when it is empty. `( -- value)`
    Field(StrId),
    /// Push an attribute of the trigger's event (`event.x`, in a filter
    /// too). `( -- value)`
    EventAttribute(StrId),
    /// Push an attribute of the event a `where` filter is testing (a bare
    /// name in the filter). `( -- value)`
    FilteredAttribute(StrId),
    /// Push the anniversary number `n`. `( -- number)`
    Anniversary,
    /// Replace a value by whether it is present (not empty). `(value -- bool)`
    IsSet,
    /// Logical not. `(bool -- bool)`
    Not,
    /// Arithmetic negation. `(number -- number)`
    Neg,
    /// Equality. `(a b -- bool)`
    Eq,
    /// Inequality. `(a b -- bool)`
    Ne,
    /// Less than. `(a b -- bool)`
    Lt,
    /// Less than or equal. `(a b -- bool)`
    Le,
    /// Greater than. `(a b -- bool)`
    Gt,
    /// Greater than or equal. `(a b -- bool)`
    Ge,
    /// Membership of `a` in list `b` (or substring of text `b`). `(a b -- bool)`
    In,
    /// Addition (numbers, durations to dates, texts). `(a b -- c)`
    Add,
    /// Subtraction (numbers, durations from dates, date minus date). `(a b -- c)`
    Sub,
    /// Multiplication. `(a b -- number)`
    Mul,
    /// Division; by zero gives nothing. `(a b -- number)`
    Div,
    /// Remainder; by zero gives nothing. `(a b -- number)`
    Rem,
    /// `and`: if the top is false, jump to the target keeping it; else pop
    /// it and go on. `(bool -- bool | )`
    JumpIfFalseElsePop(u32),
    /// `or`: if the top is true (or a text that is not blank: `or` between
    /// texts is a fallback), jump to the target keeping it; else pop it and
    /// go on. `(bool -- bool | )`, `(text -- text | )`
    JumpIfTrueElsePop(u32),
    /// Whether a message of the flow was sent for this occurrence. `( -- bool)`
    Sent(MessageId),
    /// Whether it was opened. `( -- bool)`
    Opened(MessageId),
    /// Whether it was clicked, optionally on the named link. `( -- bool)`
    Clicked(MessageId, Option<StrId>),
    /// Whether the coupon it carried was redeemed. `( -- bool)`
    Used(MessageId),
    /// Whether it was issued for this occurrence and its coupon is not
    /// redeemed: an offer never issued is not "unused". `( -- bool)`
    Unused(MessageId),
    /// Whether the contact consents to the channel. `( -- bool)`
    Consent(Channel),
    /// Whether the contact has the tag. `( -- bool)`
    Tagged(StrId),
    /// Whether an event of this kind, passing the filter (an index into the
    /// flow's filters), happened since the message was sent. `( -- bool)`
    HappenedSince {
        event: StrId,
        filter: Option<u16>,
        message: MessageId,
    },
    /// Whether such an event happened within the duration before now. `( -- bool)`
    HappenedWithin {
        event: StrId,
        filter: Option<u16>,
        within: Offset,
    },
}
