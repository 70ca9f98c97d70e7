//! Actions: templates exist for their channel and get every variable they
//! use, senders are addresses, tasks and fields are well-typed.

use std::collections::BTreeSet;

use super::scope::Scope;
use super::types::Ty;
use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::project::schema::FieldType;
use crate::project::templates::variable_span;
use crate::syntax::ast::{self, Action, BinaryOp, Channel, Expr, ExprKind, Send};
use crate::syntax::Span;

/// Names every template may use without the contact supplying them.
/// `redemption` holds the attributes of the redemption of this flow's coupon
/// (empty until one is redeemed): `{{ redemption.product }}`.
const BUILTIN_VARIABLES: &[&str] = &[
    "unsubscribe_url",
    "open_pixel_url",
    "links",
    "flow",
    "sender",
    "today",
    "redemption",
];

/// W0008: a sender read from data (`from sales_rep`) with no fallback and
/// no `if sales_rep is set`: a contact without one would make the send
/// fail at run time.
pub fn check_senders(scope: &mut Scope, rule: &ast::Rule) {
    for action in &rule.actions {
        let Action::Send(Send {
            sender: Some(sender),
            ..
        }) = action
        else {
            continue;
        };
        let Some((field, span)) = may_be_empty(sender) else {
            continue;
        };
        if rule
            .condition
            .as_ref()
            .is_some_and(|c| requires_set(c, &field))
        {
            continue;
        }
        scope.report(
            Diagnostic::new(
                Code::SenderMayBeEmpty,
                scope.source,
                span,
                format!("`{field}` may be empty"),
            )
            .with_message(format!(
                "a contact without `{field}` has no sender: the send would fail"
            ))
            .with_help(format!(
                "give a fallback, `from {field} or \"team@example.com\"`, or send only when \
                 there is one, `if {field} is set`"
            )),
        );
    }
}

/// The field (`sales_rep`, `event.owner`) whose emptiness would leave this
/// sender empty, if any, with where it is written: the last choice of an
/// `or` chain being data.
fn may_be_empty(sender: &Expr) -> Option<(String, Span)> {
    match &sender.kind {
        ExprKind::Path(names) => {
            let name: Vec<&str> = names.iter().map(|n| n.node.as_str()).collect();
            let span = names.first()?.span.to(names.last()?.span);
            Some((name.join("."), span))
        }
        ExprKind::Binary(BinaryOp::Or, _, last) => may_be_empty(last),
        _ => None,
    }
}

/// Whether `condition` holds only when `field is set` (a conjunct of it).
fn requires_set(condition: &Expr, field: &str) -> bool {
    match &condition.kind {
        ExprKind::Binary(BinaryOp::And, a, b) => requires_set(a, field) || requires_set(b, field),
        ExprKind::IsSet {
            expr,
            negated: false,
        } => may_be_empty(expr).is_some_and(|(name, _)| name == field),
        _ => false,
    }
}

pub fn check_actions(scope: &mut Scope, actions: &[Action]) {
    let mut exited = None;
    for action in actions {
        if let Some(exit_span) = exited {
            scope.report(
                Diagnostic::new(
                    Code::UnreachableAction,
                    scope.source,
                    action.span(),
                    "this never runs",
                )
                .with_context(
                    scope.source,
                    exit_span,
                    "the flow ends here for this contact",
                )
                .with_help("move `exit` to the end of the rule"),
            );
            exited = None;
        }
        match action {
            Action::Send(send) => check_send(scope, send),
            Action::Task { assignee, note, .. } => {
                if let Some(assignee) = assignee {
                    scope.expect_type(assignee, &Ty::Text, "the person a task is for");
                }
                if let Some(note) = note {
                    scope.expect_type(note, &Ty::Text, "a task's note");
                }
            }
            Action::Webhook { name, vars, .. } => {
                if let Some(known) = &scope.project.webhooks {
                    if !known.contains(&name.node) {
                        let suggestion =
                            suggest::closest(&name.node, known.iter().map(String::as_str));
                        scope.report(
                            Diagnostic::new(
                                Code::UnknownWebhook,
                                scope.source,
                                name.span,
                                "not declared in flow.toml",
                            )
                            .with_message(format!("unknown webhook `{}`", name.node))
                            .with_suggestion(suggestion)
                            .with_note("webhooks are declared in `[webhooks]` of flow.toml"),
                        );
                    }
                }
                for var in vars {
                    scope.type_of(&var.value);
                }
            }
            Action::SetField { field, value, .. } => {
                match scope.project.schema.fields.get(&field.node) {
                    Some(def) => {
                        let ty = Ty::of_field(def.ty);
                        scope.expect_type(value, &ty, &format!("the value of `{}`", field.node));
                    }
                    None => {
                        scope.resolve_path(std::slice::from_ref(field));
                        scope.type_of(value);
                    }
                }
            }
            Action::Tag { value, .. } | Action::Untag { value, .. } => {
                scope.expect_type(value, &Ty::Text, "a tag");
            }
            Action::Exit { span } => exited = Some(*span),
        }
    }
}

/// An e-mail goes to the contact's field of type `email`, an SMS to its
/// field of type `phone` (whatever their names): without one, every send
/// would fail at run time.
fn check_address(scope: &mut Scope, send: &Send) {
    let channel = send
        .channel
        .as_ref()
        .map(|c| c.node)
        .unwrap_or(Channel::Email);
    let (needed, example, what) = match channel {
        Channel::Email => (FieldType::Email, "email = \"email\"", "e-mail"),
        Channel::Sms => (FieldType::Phone, "phone = \"phone\"", "SMS"),
        Channel::Push => return,
    };
    if scope.project.schema.fields.values().any(|f| f.ty == needed) {
        return;
    }
    scope.report(
        Diagnostic::new(
            Code::NoAddressField,
            scope.source,
            send.template.span,
            format!("this {what} goes to no one"),
        )
        .with_message(format!(
            "no contact field is of type `{}`: this {what} has no address to go to",
            needed.name(),
        ))
        .with_help(format!(
            "declare the field that holds it in `[contact]` of flow.toml, e.g. `{example}` (any name: the field of type `{}` is the address)",
            needed.name()
        )),
    );
}

fn check_send(scope: &mut Scope, send: &Send) {
    if let Some(sender) = &send.sender {
        scope.expect_type(sender, &Ty::Text, "a sender");
    }
    let mut supplied: BTreeSet<String> = BTreeSet::new();
    for var in &send.vars {
        scope.type_of(&var.value);
        supplied.insert(var.name.node.clone());
    }
    check_address(scope, send);
    let Some(templates) = &scope.project.templates else {
        return;
    };
    let channel = send
        .channel
        .as_ref()
        .map(|c| c.node)
        .unwrap_or(Channel::Email);
    let Some(template) = templates.get(&send.template.node) else {
        let suggestion = suggest::closest(&send.template.node, templates.names());
        let d = Diagnostic::new(
            Code::UnknownTemplate,
            scope.source,
            send.template.span,
            "no template of this name",
        )
        .with_message(format!("unknown template `{}`", send.template.node))
        .with_suggestion(suggestion);
        let d = if suggestion.is_none() {
            d.with_note(format!(
                "templates are files `{}/NAME.CHANNEL`, e.g. `{}.{}.html`",
                scope.project.templates_dir,
                send.template.node,
                channel.name()
            ))
        } else {
            d
        };
        scope.report(d);
        return;
    };
    let Some(variant) = template.variants.get(&channel) else {
        let have: Vec<&str> = template.variants.keys().map(|c| c.name()).collect();
        let span = send
            .channel
            .as_ref()
            .map(|c| c.span)
            .unwrap_or(send.template.span);
        scope.report(
            Diagnostic::new(
                Code::NoChannelVersion,
                scope.source,
                span,
                format!("no {} version of `{}`", channel.name(), send.template.node),
            )
            .with_help(format!(
                "add `{}/{}.{}` or send it by {}",
                scope.project.templates_dir,
                send.template.node,
                channel.name(),
                have.join(" or ")
            )),
        );
        return;
    };
    let issues_coupon = send.coupon.is_some() || variant.coupon.is_some();
    for variable in &variant.variables {
        let known = supplied.contains(variable)
            || scope.project.schema.fields.contains_key(variable)
            || BUILTIN_VARIABLES.contains(&variable.as_str())
            || (variable == "coupon" && issues_coupon)
            || (variable == "event" && scope.trigger_event.is_some())
            || scope.binding.as_deref() == Some(variable.as_str());
        if known {
            if scope.binding.as_deref() == Some(variable.as_str()) {
                scope.binding_used = true;
            }
            continue;
        }
        let text = scope.sources.text(variant.source);
        let help = match variable.as_str() {
            "coupon" => "issue one with the message: `send offer with coupon valid 30d`".to_string(),
            "event" => "only rules triggered by an event can use `event`".to_string(),
            "n" => "bind the number: `on anniversary of joined as n`".to_string(),
            _ => match suggest::closest(variable, scope.project.schema.fields.keys().map(String::as_str)) {
                Some(s) => format!("did you mean the field `{s}`? or pass it: `send {} with {variable} = ...`", send.template.node),
                None => format!("pass it: `send {} with {variable} = ...`, or add the field to the contact schema", send.template.node),
            },
        };
        scope.report(
            Diagnostic::new(
                Code::MissingTemplateVariable,
                scope.source,
                send.template.span,
                format!("`{}` needs `{variable}`", send.template.node),
            )
            .with_message(format!(
                "template `{}` uses `{variable}`, which the contact cannot supply",
                send.template.node
            ))
            .with_context(variant.source, variable_span(text, variable), "used here")
            .with_help(help),
        );
    }
}
