//! Does the flow make sense in time? A reminder may only test a message
//! (or an offer) that an earlier rule of the same occurrence sends.
//!
//! Each rule gets an occurrence family (the date field, anniversary, event
//! ... its trigger counts occurrences of) and a position within one
//! occurrence (minutes from the family's base instant). Within a family,
//! earlier positions happen first.

use super::scope::{FlowInfo, MessageRef, RefKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::program::{Rule, Trigger};
use crate::source::SourceId;
use crate::syntax::ast::{Direction, TimeOfDay, TriggerKind};

#[derive(Clone, Debug, PartialEq)]
enum Family {
    Date(String),
    Anniversary(String),
    Event(String),
    Inactivity(String),
    Change(String),
    Fixed(String),
    Unknown,
}

impl Family {
    fn describe(&self) -> String {
        match self {
            Family::Date(f) => format!("each `{f}`"),
            Family::Anniversary(f) => format!("each anniversary of `{f}`"),
            Family::Event(e) => format!("each `{e}` event"),
            Family::Inactivity(e) => format!("each spell without `{e}`"),
            Family::Change(f) => format!("each change of `{f}`"),
            Family::Fixed(d) => format!("the date {d}"),
            Family::Unknown => "an unknown trigger".into(),
        }
    }
}

fn time_minutes(time: TimeOfDay) -> i64 {
    i64::from(time.hour) * 60 + i64::from(time.minute)
}

/// (family, position) of each rule.
fn positions(rules: &[Rule], default_send_at: TimeOfDay) -> Vec<(Family, i64)> {
    let mut result: Vec<Option<(Family, i64)>> = vec![None; rules.len()];
    for index in 0..rules.len() {
        position(rules, index, default_send_at, &mut result, 0);
    }
    result
        .into_iter()
        .map(|p| p.unwrap_or((Family::Unknown, 0)))
        .collect()
}

fn position(
    rules: &[Rule],
    index: usize,
    default_send_at: TimeOfDay,
    memo: &mut Vec<Option<(Family, i64)>>,
    depth: usize,
) -> (Family, i64) {
    if let Some(p) = &memo[index] {
        return p.clone();
    }
    let rule = &rules[index];
    let offset = rule
        .ast
        .trigger
        .offset
        .as_ref()
        .map(|o| {
            let m = o.amount.typical_minutes();
            if o.direction == Direction::Before {
                -m
            } else {
                m
            }
        })
        .unwrap_or(0);
    let send_at = time_minutes(
        rule.ast
            .send_time
            .as_ref()
            .map(|t| t.node)
            .unwrap_or(default_send_at),
    );
    let result = match &rule.trigger {
        Trigger::Date { field, .. } => (Family::Date(field.clone()), offset + send_at),
        Trigger::Anniversary { field, .. } => {
            (Family::Anniversary(field.clone()), offset + send_at)
        }
        Trigger::Event { event } => (Family::Event(event.clone()), offset),
        Trigger::Inactivity { event } => (Family::Inactivity(event.clone()), offset),
        Trigger::Becomes { field } | Trigger::Changes { field } => {
            (Family::Change(field.clone()), offset)
        }
        Trigger::FixedDate => match &rule.ast.trigger.kind {
            TriggerKind::FixedDate(d) => (Family::Fixed(d.node.to_string()), offset + send_at),
            _ => (Family::Unknown, 0),
        },
        Trigger::Message { rules: parents } => {
            // A chain of follow-ups: position after the first sender.
            match parents.iter().find(|&&p| p != index) {
                Some(&parent) if depth < rules.len() => {
                    let (family, at) = position(rules, parent, default_send_at, memo, depth + 1);
                    (family, at + offset.max(1))
                }
                _ => (Family::Unknown, 0),
            }
        }
    };
    memo[index] = Some(result.clone());
    result
}

pub fn check_timing(
    source: SourceId,
    rules: &[Rule],
    info: &FlowInfo,
    refs: &[Vec<MessageRef>],
    default_send_at: TimeOfDay,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let positions = positions(rules, default_send_at);
    for (index, rule_refs) in refs.iter().enumerate() {
        let (family, at) = &positions[index];
        for reference in rule_refs {
            match reference.kind {
                RefKind::Offer => {
                    let possible: Vec<usize> = reference
                        .rules
                        .iter()
                        .copied()
                        .filter(|&r| r != index && info.issues_offer[r] != Some(false))
                        .collect();
                    // A trigger already reported as unknown: no second guess.
                    if *family == Family::Unknown
                        || possible.iter().any(|&r| positions[r].0 == Family::Unknown)
                    {
                        continue;
                    }
                    let same_family: Vec<usize> = possible
                        .iter()
                        .copied()
                        .filter(|&r| positions[r].0 == *family)
                        .collect();
                    if same_family.iter().any(|&r| positions[r].1 < *at) {
                        continue;
                    }
                    let surely_later = same_family
                        .iter()
                        .copied()
                        .find(|&r| info.issues_offer[r] == Some(true));
                    let offers = possible;
                    if let Some(later) = surely_later {
                        diagnostics.push(
                            Diagnostic::new(
                                Code::ReferenceBeforeSend,
                                source,
                                reference.span,
                                "tested here",
                            )
                            .with_message("this rule tests an offer before it is issued")
                            .with_context(
                                source,
                                rules[later].ast.trigger.span,
                                "the offer is sent at or after this",
                            )
                            .with_help(
                                "schedule the offer earlier, e.g. `when birthday - 15d send offer`",
                            ),
                        );
                        continue;
                    }
                    if info.incomplete {
                        continue;
                    }
                    let what = if reference.name.is_empty() {
                        "no earlier rule of this flow issues an offer for the same occurrence"
                            .to_string()
                    } else {
                        format!(
                            "`{}` issues no coupon for the same occurrence",
                            reference.name
                        )
                    };
                    let mut d = Diagnostic::new(Code::OfferNotIssued, source, reference.span, what)
                        .with_help(
                            "issue one earlier in this flow: `when birthday - 15d send offer with coupon valid 30d`",
                        );
                    if let Some(&other) = offers.iter().find(|&&r| r != index) {
                        d = d
                            .with_context(
                                source,
                                rules[other].ast.trigger.span,
                                "this offer is for another occurrence",
                            )
                            .with_note(format!(
                                "this rule runs once for {}, the offer for {}",
                                family.describe(),
                                positions[other].0.describe()
                            ));
                    }
                    diagnostics.push(d);
                }
                RefKind::Message => {
                    for &sender in &reference.rules {
                        let (sender_family, sender_at) = &positions[sender];
                        if sender == index {
                            diagnostics.push(
                                Diagnostic::new(Code::ReferenceBeforeSend, source, reference.span, "this rule sends it itself")
                                    .with_message(format!("`{}` is tested before this rule sends it", reference.name))
                                    .with_help("test it in a later rule: `when 3d after offer if not opened offer send ...`"),
                            );
                        } else if sender_family == family
                            && sender_at >= at
                            && *family != Family::Unknown
                        {
                            diagnostics.push(
                                Diagnostic::new(
                                    Code::ReferenceBeforeSend,
                                    source,
                                    reference.span,
                                    "tested here",
                                )
                                .with_message(format!(
                                    "`{}` is tested before it is sent",
                                    reference.name
                                ))
                                .with_context(
                                    source,
                                    rules[sender].ast.trigger.span,
                                    "it is sent at or after this",
                                )
                                .with_help(
                                    "schedule this rule after the message, e.g. `3d after` it",
                                ),
                            );
                        }
                    }
                }
            }
        }
    }
}
