//! The reference evaluator: the checked AST interpreted directly, with no
//! bytecode, to test the compiler and the VM against (see
//! `tests/differential.rs`). It follows the language's documented meaning
//! and is kept simple rather than fast.
//!
//! It covers date, anniversary, fixed-date and event triggers and every
//! expression except the message tests (`sent`, `opened`, `clicked`,
//! `used`, `happened ... since`); rules with other triggers are left out.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use flowc_core::calendar::{
    after_instant, anniversary_occurrences, once_occurrence, yearly_occurrences, LeapDayRule,
    OccurrenceKey, Offset, Window, ZoneDb,
};
use flowc_core::vm::{Contact, Event, History, Value};

use crate::program::{Flow, LeapDay, Program, Trigger};
use crate::syntax::ast::{BinaryOp, Direction, Expr, ExprKind, Literal, TriggerKind, UnaryOp};

/// One rule occurrence due in the window, and whether its condition held.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReferenceDue {
    pub instant: Timestamp,
    pub flow: String,
    pub rule: String,
    pub occurrence: String,
    pub fires: bool,
}

/// What is due for `contact` in `window`, sorted like the VM's output.
pub fn reference_dues(
    program: &Program,
    zones: &ZoneDb,
    contact: &Contact,
    history: &History,
    window: &Window,
) -> Vec<ReferenceDue> {
    let mut dues = Vec::new();
    for flow in &program.flows {
        let zone_name = flow
            .settings
            .zone
            .field
            .as_deref()
            .and_then(|f| match contact.field(f) {
                Value::Text(t) if !t.trim().is_empty() => Some(t.trim().to_string()),
                _ => None,
            })
            .unwrap_or_else(|| flow.settings.zone.default.clone());
        let Ok(tz) = zones.get(&zone_name) else {
            continue;
        };
        for rule in &flow.rules {
            let binding = match &rule.trigger {
                Trigger::Anniversary { binding, .. } => binding.as_deref(),
                _ => None,
            };
            for (occurrence, instant, event, n) in
                occurrences(flow, rule, contact, history, &tz, window)
            {
                let context = Context {
                    contact,
                    event,
                    n,
                    binding,
                    in_filter: false,
                };
                let fires = rule
                    .ast
                    .condition
                    .as_ref()
                    .is_none_or(|c| eval(c, &context).truthy());
                dues.push(ReferenceDue {
                    instant,
                    flow: flow.name.clone(),
                    rule: rule.name.clone(),
                    occurrence,
                    fires,
                });
            }
        }
    }
    dues.sort();
    dues
}

type Found<'h> = (String, Timestamp, Option<&'h Event>, Option<i32>);

fn occurrences<'h>(
    flow: &Flow,
    rule: &crate::program::Rule,
    contact: &Contact,
    history: &'h History,
    tz: &TimeZone,
    window: &Window,
) -> Vec<Found<'h>> {
    let minutes = rule
        .ast
        .send_time
        .as_ref()
        .map(|t| t.node)
        .unwrap_or(flow.settings.send_at);
    let time =
        Time::new(minutes.hour as i8, minutes.minute as i8, 0, 0).unwrap_or(Time::midnight());
    let offset = rule
        .ast
        .trigger
        .offset
        .as_ref()
        .map(|o| o.amount.node.to_offset(o.direction))
        .unwrap_or(Offset::ZERO);
    let leap = match flow.settings.leap_day {
        LeapDay::Feb28 => LeapDayRule::Feb28,
        LeapDay::Mar1 => LeapDayRule::Mar1,
    };
    let date_field = |field: &str| match contact.field(field) {
        Value::Date(d) => Some(*d),
        _ => None,
    };
    let mut found = Vec::new();
    match &rule.trigger {
        Trigger::Date {
            field, recurrence, ..
        } => {
            let Some(date) = date_field(field) else {
                return found;
            };
            if *recurrence == crate::syntax::ast::Recurrence::Yearly {
                for o in
                    yearly_occurrences(date, offset, time, tz, leap, window).unwrap_or_default()
                {
                    if let OccurrenceKey::Year(y) = o.key {
                        found.push((format!("{field}/{y}"), o.instant, None, None));
                    }
                }
            } else if let Ok(Some(o)) = once_occurrence(date, offset, time, tz, window) {
                found.push((format!("{field}/{date}"), o.instant, None, None));
            }
        }
        Trigger::Anniversary { field, .. } => {
            let Some(date) = date_field(field) else {
                return found;
            };
            for o in
                anniversary_occurrences(date, offset, time, tz, leap, window).unwrap_or_default()
            {
                if let OccurrenceKey::Anniversary(n) = o.key {
                    found.push((format!("anniversary/{n}"), o.instant, None, Some(n)));
                }
            }
        }
        Trigger::FixedDate => {
            if let TriggerKind::FixedDate(d) = &rule.ast.trigger.kind {
                if let Ok(date) = Date::new(d.node.year, d.node.month as i8, d.node.day as i8) {
                    if let Ok(Some(o)) = once_occurrence(date, offset, time, tz, window) {
                        found.push((format!("date/{date}"), o.instant, None, None));
                    }
                }
            }
        }
        Trigger::Event { event } => {
            let at_send_time = (offset.amount != 0 && !offset.is_sub_day()).then_some(time);
            for e in history.events.iter().filter(|e| &e.kind == event) {
                let passes = rule.ast.trigger.filter.as_ref().is_none_or(|f| {
                    eval(
                        f,
                        &Context {
                            contact,
                            event: Some(e),
                            n: None,
                            binding: None,
                            in_filter: true,
                        },
                    )
                    .truthy()
                });
                if !passes {
                    continue;
                }
                if let Ok(Some(o)) = after_instant(e.at, offset, at_send_time, tz, window) {
                    found.push((format!("{event}/{}", e.id), o.instant, Some(e), None));
                }
            }
        }
        _ => {}
    }
    found
}

struct Context<'a> {
    contact: &'a Contact,
    event: Option<&'a Event>,
    n: Option<i32>,
    /// The name the anniversary number is bound to.
    binding: Option<&'a str>,
    /// In an event filter, bare names are the event's attributes.
    in_filter: bool,
}

/// An expression's value; an empty field is `Null`, which no comparison
/// matches; `and`/`or` give the deciding operand.
fn eval(expr: &Expr, context: &Context) -> Value {
    match &expr.kind {
        ExprKind::Invalid => Value::Null,
        ExprKind::Literal(literal) => match literal {
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Number(n) => Value::Number(*n),
            Literal::String(s) => Value::Text(s.clone()),
            Literal::Duration(d) => Value::Duration(d.to_offset(Direction::After)),
            Literal::Date(d) => Date::new(d.year, d.month as i8, d.day as i8)
                .map(Value::Date)
                .unwrap_or(Value::Null),
            Literal::Time(t) => Value::Time(u16::from(t.hour) * 60 + u16::from(t.minute)),
        },
        ExprKind::List(items) => Value::List(items.iter().map(|i| eval(i, context)).collect()),
        ExprKind::Path(path) => {
            let first = path[0].node.as_str();
            if path.len() == 2 {
                return context
                    .event
                    .and_then(|e| e.attributes.get(&path[1].node))
                    .cloned()
                    .unwrap_or(Value::Null);
            }
            if let (Some(name), Some(n)) = (context.binding, context.n) {
                if name == first {
                    return Value::Number(f64::from(n));
                }
            }
            if context.in_filter {
                if let Some(value) = context.event.and_then(|e| e.attributes.get(first)) {
                    return value.clone();
                }
            }
            context.contact.field(first).clone()
        }
        ExprKind::Unary(UnaryOp::Not, inner) => match eval(inner, context) {
            Value::Bool(b) => Value::Bool(!b),
            _ => Value::Bool(true),
        },
        ExprKind::Unary(UnaryOp::Neg, inner) => match eval(inner, context) {
            Value::Number(n) => Value::Number(-n),
            _ => Value::Null,
        },
        ExprKind::Binary(BinaryOp::And, a, b) => {
            let left = eval(a, context);
            if left.truthy() {
                eval(b, context)
            } else {
                left
            }
        }
        ExprKind::Binary(BinaryOp::Or, a, b) => {
            let left = eval(a, context);
            // A true condition, or a text that is not blank (a fallback).
            let settled = match &left {
                Value::Bool(b) => *b,
                Value::Text(t) => !t.trim().is_empty(),
                _ => false,
            };
            if settled {
                left
            } else {
                eval(b, context)
            }
        }
        ExprKind::Binary(op, a, b) => binary(*op, eval(a, context), eval(b, context)),
        ExprKind::IsSet { expr, negated } => Value::Bool(eval(expr, context).is_set() != *negated),
        ExprKind::Tagged(tag) => Value::Bool(
            matches!(context.contact.field("tags"), Value::List(items) if items.contains(&Value::Text(tag.node.clone()))),
        ),
        // Message tests, consent and `happened` are outside the reference.
        _ => Value::Null,
    }
}

fn binary(op: BinaryOp, a: Value, b: Value) -> Value {
    use Value::*;
    let known = !matches!(a, Null) && !matches!(b, Null);
    match op {
        BinaryOp::Eq => Bool(known && a == b),
        BinaryOp::Ne => Bool(known && a != b),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            let ordering = match (&a, &b) {
                (Number(x), Number(y)) => x.partial_cmp(y),
                (Text(x), Text(y)) => Some(x.cmp(y)),
                (Date(x), Date(y)) => Some(x.cmp(y)),
                _ => None,
            };
            Bool(ordering.is_some_and(|o| match op {
                BinaryOp::Lt => o.is_lt(),
                BinaryOp::Le => o.is_le(),
                BinaryOp::Gt => o.is_gt(),
                _ => o.is_ge(),
            }))
        }
        BinaryOp::In | BinaryOp::NotIn => {
            let inside = match (&a, &b) {
                (Null, _) => false,
                (_, List(items)) => items.contains(&a),
                (Text(needle), Text(hay)) => hay.contains(needle.as_str()),
                _ => false,
            };
            Bool(if op == BinaryOp::In { inside } else { !inside })
        }
        BinaryOp::Add => match (a, b) {
            (Number(x), Number(y)) => Number(x + y),
            (Text(x), Text(y)) => Text(x + &y),
            (Text(x), y @ Number(_)) => Text(x + &y.to_text()),
            (x @ Number(_), Text(y)) => Text(x.to_text() + &y),
            _ => Null,
        },
        BinaryOp::Sub => match (a, b) {
            (Number(x), Number(y)) => Number(x - y),
            _ => Null,
        },
        BinaryOp::Mul => match (a, b) {
            (Number(x), Number(y)) => Number(x * y),
            _ => Null,
        },
        BinaryOp::Div => match (a, b) {
            (Number(x), Number(y)) if y != 0.0 => Number(x / y),
            _ => Null,
        },
        BinaryOp::Rem => match (a, b) {
            (Number(x), Number(y)) if y != 0.0 => Number(x % y),
            _ => Null,
        },
        BinaryOp::And | BinaryOp::Or => unreachable!("evaluated lazily above"),
    }
}
