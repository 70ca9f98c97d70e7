//! W0007: two flows that send the same template to the same contacts for
//! the same occurrence. Each flow keeps its own send log (the exactly-once
//! key is flow, rule, contact, occurrence), so both sends go out and every
//! contact gets the message twice — the mistake of a project that holds a
//! full flow and a one-line draft of it side by side.

use std::collections::HashMap;

use crate::diagnostics::{Code, Diagnostic};
use crate::program::{Flow, Trigger};
use crate::source::Sources;
use crate::syntax::ast::{Action, Channel, TriggerKind};
use crate::syntax::Span;

/// What a rule's occurrence is counted on: the same key in two flows is the
/// same birthday, the same purchase, the same fixed date.
fn occurrence(rule: &crate::program::Rule, text: &str) -> Option<String> {
    let ast = &rule.ast;
    if ast.trigger.filter.is_some() {
        return None;
    }
    Some(match (&rule.trigger, &ast.trigger.kind) {
        (Trigger::Date { field, .. }, _) => format!("the same `{field}`"),
        (Trigger::Anniversary { field, .. }, _) => format!("the same anniversary of `{field}`"),
        (Trigger::Event { event }, _) => format!("the same `{event}` event"),
        (Trigger::FixedDate, TriggerKind::FixedDate(date)) => {
            format!(
                "the same date, {}",
                text.get(date.span.start..date.span.end)?
            )
        }
        _ => return None,
    })
}

/// The audience's text with its whitespace collapsed; `None` is everyone.
fn audience(flow: &Flow, sources: &Sources) -> Option<String> {
    let expr = flow.settings.audience.as_ref()?;
    let text = sources
        .text(flow.source)
        .get(expr.span.start..expr.span.end)?;
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Whether every contact one of the two flows reaches is reached by the
/// other: one of them has no audience, or both have the same one.
fn audiences_overlap(a: &Option<String>, b: &Option<String>) -> bool {
    a.is_none() || b.is_none() || a == b
}

pub fn duplicate_sends(flows: &[Flow], sources: &Sources, diagnostics: &mut Vec<Diagnostic>) {
    // (occurrence, template, channel) → the first flow and rule sending it
    // unconditionally. Only rules without a condition are compared: a
    // condition may well split the contacts between the two flows.
    let mut first: HashMap<(String, String, Option<Channel>), (usize, Span)> = HashMap::new();
    let audiences: Vec<Option<String>> = flows.iter().map(|f| audience(f, sources)).collect();
    for (f, flow) in flows.iter().enumerate() {
        let text = sources.text(flow.source);
        for rule in &flow.rules {
            if rule.ast.condition.is_some() {
                continue;
            }
            let Some(occurrence) = occurrence(rule, text) else {
                continue;
            };
            for action in &rule.ast.actions {
                let Action::Send(send) = action else { continue };
                let key = (
                    occurrence.clone(),
                    send.template.node.clone(),
                    send.channel.as_ref().map(|c| c.node),
                );
                let Some(&(f0, earlier_span)) = first.get(&key) else {
                    first.insert(key, (f, rule.ast.trigger.span.to(send.span)));
                    continue;
                };
                if f0 == f || !audiences_overlap(&audiences[f0], &audiences[f]) {
                    continue;
                }
                let earlier = &flows[f0];
                let template = &send.template.node;
                diagnostics.push(
                    Diagnostic::new(
                        Code::DuplicateSend,
                        flow.source,
                        send.template.span,
                        format!("`{template}` again, from flow `{}`", flow.name),
                    )
                    .with_message(format!(
                        "flows `{}` and `{}` both send `{template}` for {occurrence}: \
                         their contacts get it twice",
                        earlier.name, flow.name
                    ))
                    .with_context(
                        earlier.source,
                        earlier_span,
                        format!("flow `{}` sends it here", earlier.name),
                    )
                    .with_help(
                        "keep one of the two rules, or give one a condition (or its flow an \
                         audience) that leaves out the other's contacts",
                    ),
                );
            }
        }
    }
}
