//! The stack machine that runs a piece of code (a condition, a filter, a
//! variable) for one contact at one instant.

use jiff::Timestamp;

use super::contact::{Contact, Event, SentMessage};
use super::value::{arithmetic, Arith, Value};
use super::VmError;
use crate::bytecode::{Channel, Code, FlowCode, MessageId, Op, Program};
use crate::calendar::Offset;

/// The most instructions one evaluation of a contact may run.
pub const INSTRUCTION_BUDGET: u64 = 1_000_000;

/// Instructions left for the current contact.
pub struct Budget {
    pub remaining: u64,
}

/// What code can see.
pub struct Scope<'a> {
    pub program: &'a Program,
    pub flow: &'a FlowCode,
    pub contact: &'a Contact,
    /// Messages of every flow sent to the contact (known and planned).
    pub messages: &'a [SentMessage],
    pub events: &'a [Event],
    /// The instant the code is evaluated for (the due instant).
    pub now: Timestamp,
    /// The occurrence being evaluated; messages are matched within it.
    pub occurrence: &'a str,
    /// The trigger's event: what `event.x` reads, in filters too.
    pub event: Option<&'a Event>,
    /// Inside a `where` filter: the event being tested, whose attributes a
    /// filter names bare (`purchase where amount > 10`).
    pub candidate: Option<&'a Event>,
    pub anniversary: Option<i32>,
}

pub fn run(code: &Code, scope: &Scope, budget: &mut Budget) -> Result<Value, VmError> {
    let mut stack: Vec<Value> = Vec::with_capacity(8);
    let mut pc = 0usize;
    while let Some(op) = code.ops.get(pc) {
        if budget.remaining == 0 {
            return Err(VmError::Budget);
        }
        budget.remaining -= 1;
        pc += 1;
        match op {
            Op::JumpIfFalseElsePop(target) => {
                if !top(&stack)?.truthy() {
                    pc = *target as usize;
                } else {
                    stack.pop();
                }
                continue;
            }
            Op::JumpIfTrueElsePop(target) => {
                if top(&stack)?.settles_or() {
                    pc = *target as usize;
                } else {
                    stack.pop();
                }
                continue;
            }
            _ => {}
        }
        let value = match op {
            Op::Bool(b) => Value::Bool(*b),
            Op::Number(n) => Value::Number(*n),
            Op::Text(s) => Value::Text(scope.program.string(*s).to_string()),
            Op::Duration(o) => Value::Duration(*o),
            Op::Date(y, m, d) => jiff::civil::Date::new(*y, *m, *d)
                .map(Value::Date)
                .unwrap_or(Value::Null),
            Op::Time(t) => Value::Time(*t),
            Op::List(n) => {
                let n = *n as usize;
                if stack.len() < n {
                    return Err(VmError::Malformed("list longer than the stack"));
                }
                Value::List(stack.split_off(stack.len() - n))
            }
            Op::Field(name) => scope.contact.field(scope.program.string(*name)).clone(),
            Op::EventAttribute(name) => scope
                .event
                .and_then(|e| e.attributes.get(scope.program.string(*name)))
                .cloned()
                .unwrap_or(Value::Null),
            Op::FilteredAttribute(name) => scope
                .candidate
                .and_then(|e| e.attributes.get(scope.program.string(*name)))
                .cloned()
                .unwrap_or(Value::Null),
            Op::Anniversary => scope
                .anniversary
                .map(|n| Value::Number(f64::from(n)))
                .unwrap_or(Value::Null),
            Op::IsSet => Value::Bool(pop(&mut stack)?.is_set()),
            Op::Not => match pop(&mut stack)? {
                Value::Bool(b) => Value::Bool(!b),
                _ => Value::Bool(true),
            },
            Op::Neg => match pop(&mut stack)? {
                Value::Number(n) => Value::Number(-n),
                _ => Value::Null,
            },
            Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::In => {
                let b = pop(&mut stack)?;
                let a = pop(&mut stack)?;
                Value::Bool(compare(op, &a, &b))
            }
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Rem => {
                let b = pop(&mut stack)?;
                let a = pop(&mut stack)?;
                let arith = match op {
                    Op::Add => Arith::Add,
                    Op::Sub => Arith::Sub,
                    Op::Mul => Arith::Mul,
                    Op::Div => Arith::Div,
                    _ => Arith::Rem,
                };
                arithmetic(arith, a, b)
            }
            Op::Sent(m) => Value::Bool(matching(scope, *m).next().is_some()),
            Op::Opened(m) => {
                Value::Bool(matching(scope, *m).any(|s| s.opened.is_some_and(|t| t <= scope.now)))
            }
            Op::Clicked(m, link) => {
                let link = link.map(|l| scope.program.string(l));
                Value::Bool(matching(scope, *m).any(|s| {
                    s.clicks
                        .iter()
                        .any(|(name, t)| *t <= scope.now && link.is_none_or(|l| l == name))
                }))
            }
            Op::Unused(m) => Value::Bool(unused(scope, *m)),
            Op::Used(m) => {
                Value::Bool(matching(scope, *m).any(|s| s.redeemed.is_some_and(|t| t <= scope.now)))
            }
            Op::Consent(channel) => Value::Bool(consents_for(scope, *channel)),
            Op::Tagged(tag) => {
                let tag = Value::Text(scope.program.string(*tag).to_string());
                Value::Bool(tag.contained_in(scope.contact.field("tags")))
            }
            Op::HappenedSince {
                event,
                filter,
                message,
            } => {
                let since = matching(scope, *message).map(|s| s.at).min();
                match since {
                    Some(since) => Value::Bool(happened(scope, *event, *filter, since, budget)?),
                    None => Value::Bool(false),
                }
            }
            Op::HappenedWithin {
                event,
                filter,
                within,
            } => {
                let back = Offset::new(-within.amount, within.unit);
                let since = back
                    .apply_to_instant(scope.now, &jiff::tz::TimeZone::UTC)
                    .unwrap_or(Timestamp::MIN);
                Value::Bool(happened(scope, *event, *filter, since, budget)?)
            }
            Op::JumpIfFalseElsePop(_) | Op::JumpIfTrueElsePop(_) => unreachable!("handled above"),
        };
        stack.push(value);
    }
    match (stack.pop(), stack.is_empty()) {
        (Some(value), true) => Ok(value),
        _ => Err(VmError::Malformed("code does not leave exactly one value")),
    }
}

fn pop(stack: &mut Vec<Value>) -> Result<Value, VmError> {
    stack.pop().ok_or(VmError::Malformed("stack underflow"))
}

fn top(stack: &[Value]) -> Result<&Value, VmError> {
    stack.last().ok_or(VmError::Malformed("stack underflow"))
}

fn compare(op: &Op, a: &Value, b: &Value) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Eq => a.equals(b) == Some(true),
        Op::Ne => a.equals(b) == Some(false),
        Op::In => a.contained_in(b),
        _ => match a.compare(b) {
            Some(ordering) => match op {
                Op::Lt => ordering == Less,
                Op::Le => ordering != Greater,
                Op::Gt => ordering == Greater,
                _ => ordering != Less,
            },
            None => false,
        },
    }
}

/// An offer issued for this occurrence whose coupon nobody redeemed yet.
fn unused(scope: &Scope, message: MessageId) -> bool {
    let mut issued = false;
    for sent in matching(scope, message) {
        if sent.redeemed.is_some_and(|t| t <= scope.now) {
            return false;
        }
        issued = true;
    }
    issued
}

/// Whether the message was issued for this occurrence by now (`unused`
/// of a message never issued is false, and the skip says why).
pub(super) fn issued(scope: &Scope, message: MessageId) -> bool {
    matching(scope, message).next().is_some()
}

/// Messages of this flow, sent by the referenced rules, for this occurrence,
/// by now.
fn matching<'s>(
    scope: &'s Scope,
    message: MessageId,
) -> impl Iterator<Item = &'s SentMessage> + 's {
    let flow_name = scope.program.string(scope.flow.name);
    let rules: Vec<&str> = scope
        .flow
        .messages
        .get(message as usize)
        .map(|m| {
            m.rules
                .iter()
                .filter_map(|&r| scope.flow.rules.get(r as usize))
                .map(|r| scope.program.string(r.name))
                .collect()
        })
        .unwrap_or_default();
    scope.messages.iter().filter(move |s| {
        s.flow == flow_name
            && s.occurrence == scope.occurrence
            && s.at <= scope.now
            && rules.contains(&s.rule.as_str())
    })
}

/// Why a message on `channel` may not go to the contact, if it may not:
/// an address that bounced, a withdrawal (`consent.rs`), or, for a
/// marketing message, a consent field of the project that is not true.
pub fn consent(scope: &Scope, channel: Channel) -> Option<super::Skip> {
    let transactional = scope.flow.transactional;
    let kind = scope.flow.message_kind(scope.program);
    match super::consent::withdrawal(scope.events, channel.name(), kind, scope.now) {
        Some(w) if w.bounce => return Some(super::Skip::Bounced(channel)),
        Some(_) => return Some(super::Skip::NoConsent(channel)),
        None => {}
    }
    let field_ok = transactional
        || scope
            .program
            .consent_fields
            .iter()
            .filter(|(c, _)| *c == channel)
            .all(|(_, field)| scope.contact.field(scope.program.string(*field)).truthy());
    (!field_ok).then_some(super::Skip::NoConsent(channel))
}

/// `consent CHANNEL` in a condition.
pub fn consents_for(scope: &Scope, channel: Channel) -> bool {
    consent(scope, channel).is_none()
}

/// Whether an event of `kind` passing `filter` happened in [since, now].
fn happened(
    scope: &Scope,
    kind: u32,
    filter: Option<u16>,
    since: Timestamp,
    budget: &mut Budget,
) -> Result<bool, VmError> {
    let kind = scope.program.string(kind);
    for event in scope.events {
        if event.kind != kind || event.at < since || event.at > scope.now {
            continue;
        }
        let passes = match filter.and_then(|f| scope.flow.filters.get(f as usize)) {
            None => true,
            Some(code) => {
                let inner = Scope {
                    candidate: Some(event),
                    ..*scope
                };
                run(code, &inner, budget)?.truthy()
            }
        };
        if passes {
            return Ok(true);
        }
    }
    Ok(false)
}
