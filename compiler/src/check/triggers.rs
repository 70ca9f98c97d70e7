//! Triggers: what a rule's `when ...` names, and whether it can be a trigger.

use super::scope::Scope;
use super::types::Ty;
use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::program::Trigger;
use crate::project::schema::FieldType;
use crate::syntax::ast::{self, Direction, Recurrence, TriggerKind};

/// Offsets longer than this (in days) are refused: a yearly trigger would
/// fall into another occurrence.
const MAX_OFFSET_DAYS: u64 = 366;

pub fn check_trigger(scope: &mut Scope, trigger: &ast::Trigger, rule_index: usize) -> Trigger {
    if let Some(offset) = &trigger.offset {
        if offset.amount.max_days() > MAX_OFFSET_DAYS {
            scope.report(
                Diagnostic::new(
                    Code::OffsetTooLong,
                    scope.source,
                    offset.amount.span,
                    format!("{} is more than a year", offset.amount.node),
                )
                .with_help("an offset moves a send within one occurrence: keep it to a year (`1y`, `12mo`, `52w`, `365d`) or less"),
            );
        }
    }
    let resolved = match &trigger.kind {
        TriggerKind::Named { recurrence, name } => {
            named(scope, recurrence.as_ref(), name, rule_index)
        }
        TriggerKind::Anniversary { field, binding } => {
            date_field(scope, field, "an anniversary");
            scope.binding = binding.as_ref().map(|b| b.node.clone());
            Trigger::Anniversary {
                field: field.node.clone(),
                binding: binding.as_ref().map(|b| b.node.clone()),
            }
        }
        TriggerKind::Inactivity { event, .. } => {
            scope.event_ref(event);
            Trigger::Inactivity {
                event: event.node.clone(),
            }
        }
        TriggerKind::Becomes { field, value } => {
            if let Some(ty) = field_type(scope, field) {
                scope.expect_type(
                    value,
                    &Ty::of_field(ty),
                    &format!("the new value of `{}`", field.node),
                );
            }
            Trigger::Becomes {
                field: field.node.clone(),
            }
        }
        TriggerKind::Changes { field } => {
            field_type(scope, field);
            Trigger::Changes {
                field: field.node.clone(),
            }
        }
        TriggerKind::FixedDate(_) => Trigger::FixedDate,
    };

    if let Some(filter) = &trigger.filter {
        match &resolved {
            Trigger::Event { event } => {
                scope.filter_event = Some(event.clone());
                scope.condition(filter, "an event filter");
                scope.filter_event = None;
            }
            _ => scope.report(
                Diagnostic::new(
                    Code::FilterOnNonEvent,
                    scope.source,
                    filter.span,
                    "this trigger is not an event",
                )
                .with_help("put conditions on contact fields after `if`, e.g. `on birthday if vip send gift`"),
            ),
        }
    }
    if let (Some(offset), Trigger::Message { .. }) = (&trigger.offset, &resolved) {
        if offset.direction == Direction::Before {
            scope.report(
                Diagnostic::new(
                    Code::ReferenceBeforeSend,
                    scope.source,
                    offset.span,
                    "a message cannot be followed up before it is sent",
                )
                .with_message("this rule is scheduled before the message it follows")
                .with_help("write `after`, e.g. `3d after newsletter`"),
            );
        }
    }
    resolved
}

fn named(
    scope: &mut Scope,
    recurrence: Option<&crate::syntax::Spanned<Recurrence>>,
    name: &ast::Ident,
    rule_index: usize,
) -> Trigger {
    let field = scope.project.schema.fields.get(&name.node).cloned();
    let is_event = scope.project.schema.events.contains_key(&name.node);
    let message_rules = scope.flow.messages.get(&name.node).cloned();
    if field.is_some() && is_event {
        scope.report(
            Diagnostic::new(
                Code::AmbiguousName,
                scope.source,
                name.span,
                "a field and an event have this name",
            )
            .with_message(format!(
                "`{}` is both a contact field and an event",
                name.node
            ))
            .with_help("rename one of them in flow.toml"),
        );
    }
    if let Some(field) = field {
        if !matches!(field.ty, FieldType::Date | FieldType::DateTime) {
            not_a_date(scope, name, field.ty, "a trigger");
            return Trigger::Date {
                field: name.node.clone(),
                ty: field.ty,
                recurrence: Recurrence::Once,
            };
        }
        let default = if field.yearly {
            Recurrence::Yearly
        } else {
            Recurrence::Once
        };
        return Trigger::Date {
            field: name.node.clone(),
            ty: field.ty,
            recurrence: recurrence.map(|r| r.node).unwrap_or(default),
        };
    }
    let resolved = if is_event {
        Trigger::Event {
            event: name.node.clone(),
        }
    } else if let Some(rules) = message_rules {
        if rules.contains(&rule_index) {
            scope.report(
                Diagnostic::new(
                    Code::ReferenceBeforeSend,
                    scope.source,
                    name.span,
                    "this rule sends it itself",
                )
                .with_message(format!(
                    "a rule cannot follow up its own message `{}`",
                    name.node
                ))
                .with_help("follow up in another rule: `when 3d after offer send reminder`"),
            );
        }
        Trigger::Message { rules }
    } else {
        let mut candidates: Vec<&str> = scope
            .project
            .schema
            .fields
            .keys()
            .map(String::as_str)
            .collect();
        candidates.extend(scope.project.schema.events.keys().map(String::as_str));
        candidates.extend(scope.flow.messages.keys().map(String::as_str));
        let suggestion = suggest::closest(&name.node, candidates);
        scope.report(
            Diagnostic::new(
                Code::UnknownName,
                scope.source,
                name.span,
                "not a date field, an event or a message of this flow",
            )
            .with_message(format!("unknown trigger `{}`", name.node))
            .with_suggestion(suggestion)
            .with_note(trigger_names_note(scope)),
        );
        return Trigger::FixedDate;
    };
    if let Some(recurrence) = recurrence {
        scope.report(
            Diagnostic::new(
                Code::RecurrenceOnNonDate,
                scope.source,
                recurrence.span,
                format!("`{}` is not a date field", name.node),
            )
            .with_help("events and messages happen when they happen; drop this word"),
        );
    }
    if let Trigger::Event { event } = &resolved {
        scope.trigger_event = Some(event.clone());
    }
    resolved
}

/// The field's type, reporting an unknown field.
fn field_type(scope: &mut Scope, field: &ast::Ident) -> Option<FieldType> {
    match scope.project.schema.fields.get(&field.node) {
        Some(def) => Some(def.ty),
        None => {
            scope.resolve_path(std::slice::from_ref(field));
            None
        }
    }
}

fn date_field(scope: &mut Scope, field: &ast::Ident, what: &str) {
    if let Some(ty) = field_type(scope, field) {
        if !matches!(ty, FieldType::Date | FieldType::DateTime) {
            not_a_date(scope, field, ty, what);
        }
    }
}

fn not_a_date(scope: &mut Scope, field: &ast::Ident, ty: FieldType, what: &str) {
    let dates: Vec<&str> = scope
        .project
        .schema
        .fields
        .iter()
        .filter(|(_, f)| matches!(f.ty, FieldType::Date | FieldType::DateTime))
        .map(|(n, _)| n.as_str())
        .collect();
    let d = Diagnostic::new(
        Code::NotADate,
        scope.source,
        field.span,
        format!("`{}` is {}", field.node, Ty::of_field(ty).describe()),
    )
    .with_message(format!("{what} needs a date field"));
    let d = if dates.is_empty() {
        d
    } else {
        d.with_note(format!("the date fields are: {}", dates.join(", ")))
    };
    scope.report(d);
}

/// What a trigger may name here: date fields, events, messages of the flow.
fn trigger_names_note(scope: &Scope) -> String {
    let schema = &scope.project.schema;
    let dates: Vec<&str> = schema
        .fields
        .iter()
        .filter(|(_, f)| matches!(f.ty, FieldType::Date | FieldType::DateTime))
        .map(|(n, _)| n.as_str())
        .collect();
    let events: Vec<&str> = schema.events.keys().map(String::as_str).collect();
    let mut note = format!(
        "date fields: {}; events: {}",
        or_none(&dates),
        or_none(&events)
    );
    if !scope.flow.messages.is_empty() {
        let messages: Vec<&str> = scope.flow.messages.keys().map(String::as_str).collect();
        note.push_str(&format!("; messages of this flow: {}", messages.join(", ")));
    }
    note
}

fn or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}
