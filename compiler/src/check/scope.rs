//! What a name means where it stands: the names visible in one rule of one
//! flow (fields, the trigger's event, the anniversary number, the flow's
//! messages), and the references recorded for the timing checks.

use std::collections::BTreeMap;

use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::project::Project;
use crate::source::{SourceId, Sources};
use crate::syntax::ast::Ident;
use crate::syntax::{Span, Spanned};

use super::types::Ty;

/// Facts about a whole flow that every rule's scope needs.
#[derive(Debug, Default)]
pub struct FlowInfo {
    /// Message names (templates sent, rule labels) → the rules that send them.
    pub messages: BTreeMap<String, Vec<usize>>,
    /// Per rule: the template names it sends.
    pub templates_by_rule: Vec<Vec<String>>,
    /// Per rule: whether its sends issue a coupon. `Some(true)` surely (a
    /// coupon clause, or a template that declares one), `Some(false)` surely
    /// not, `None` when it cannot be known (no templates folder).
    pub issues_offer: Vec<Option<bool>>,
    /// The rules that may issue an offer (`issues_offer` not `Some(false)`):
    /// what a bare `unused` can refer to.
    pub offer_rules: Vec<usize>,
    /// Some rules of the flow failed to parse: absences are not reported.
    pub incomplete: bool,
}

/// A condition's reference to a message of the flow, checked for timing
/// once every rule is known.
#[derive(Clone, Debug)]
pub struct MessageRef {
    pub rules: Vec<usize>,
    pub name: String,
    pub span: Span,
    pub kind: RefKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    /// `sent`, `opened`, `clicked`, `since`: the message must come first.
    Message,
    /// `used` / `unused`: the message must also carry a coupon.
    Offer,
}

/// Names visible while checking one rule (or a flow setting).
pub struct Scope<'a> {
    pub sources: &'a Sources,
    pub source: SourceId,
    pub project: &'a Project,
    pub flow: &'a FlowInfo,
    /// The event that triggered the rule: `event.x` reads its attributes.
    pub trigger_event: Option<String>,
    /// Inside an event filter: bare names are that event's attributes.
    pub filter_event: Option<String>,
    /// The anniversary number, `n` in `anniversary of joined as n`.
    pub binding: Option<String>,
    pub binding_used: bool,
    /// Bare `unused` / `used` in this rule, for the timing check.
    pub refs: Vec<MessageRef>,
    pub diagnostics: &'a mut Vec<Diagnostic>,
}

impl<'a> Scope<'a> {
    pub fn new(
        sources: &'a Sources,
        source: SourceId,
        project: &'a Project,
        flow: &'a FlowInfo,
        diagnostics: &'a mut Vec<Diagnostic>,
    ) -> Scope<'a> {
        Scope {
            sources,
            source,
            project,
            flow,
            trigger_event: None,
            filter_event: None,
            binding: None,
            binding_used: false,
            refs: Vec::new(),
            diagnostics,
        }
    }

    pub fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// The type of a name or `event.attribute`.
    pub fn resolve_path(&mut self, path: &[Ident]) -> Ty {
        let Some(first) = path.first() else {
            return Ty::Error;
        };
        let name = first.node.as_str();
        if path.len() == 1 {
            if self.binding.as_deref() == Some(name) {
                self.binding_used = true;
                return Ty::Number;
            }
            if let Some(event) = &self.filter_event {
                if let Some(ty) = self.project.schema.events[event].attributes.get(name) {
                    return Ty::of_field(*ty);
                }
            }
            if let Some(field) = self.project.schema.fields.get(name) {
                return Ty::of_field(field.ty);
            }
            self.unknown_name(first);
            return Ty::Error;
        }
        if name == "event" && path.len() == 2 {
            let attribute = &path[1];
            let Some(event) = self.trigger_event.clone() else {
                self.report(
                    Diagnostic::new(
                        Code::UnknownName,
                        self.source,
                        first.span,
                        "this rule is not triggered by an event",
                    )
                    .with_message("`event` is only known in rules triggered by an event"),
                );
                return Ty::Error;
            };
            let attributes = &self.project.schema.events[&event].attributes;
            if let Some(ty) = attributes.get(&attribute.node) {
                return Ty::of_field(*ty);
            }
            let suggestion =
                suggest::closest(&attribute.node, attributes.keys().map(String::as_str));
            let known = attributes
                .keys()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>();
            let d = Diagnostic::new(
                Code::UnknownName,
                self.source,
                attribute.span,
                format!("`{event}` has no attribute `{}`", attribute.node),
            )
            .with_message(format!("unknown event attribute `{}`", attribute.node))
            .with_suggestion(suggestion);
            let d = if suggestion.is_none() && !known.is_empty() {
                d.with_note(format!("`{event}` has {}", known.join(", ")))
            } else {
                d
            };
            self.report(d);
            return Ty::Error;
        }
        let whole = first.span.to(path[path.len() - 1].span);
        self.report(
            Diagnostic::new(
                Code::UnknownName,
                self.source,
                whole,
                "fields have no parts",
            )
            .with_message(format!(
                "`{}` cannot be read",
                path.iter()
                    .map(|p| p.node.as_str())
                    .collect::<Vec<_>>()
                    .join(".")
            ))
            .with_help("only `event.ATTRIBUTE` has a dot; contact fields are plain names"),
        );
        Ty::Error
    }

    fn unknown_name(&mut self, name: &Ident) {
        let mut candidates: Vec<&str> = self
            .project
            .schema
            .fields
            .keys()
            .map(String::as_str)
            .collect();
        if let Some(binding) = &self.binding {
            candidates.push(binding);
        }
        if let Some(event) = &self.filter_event {
            candidates.extend(
                self.project.schema.events[event]
                    .attributes
                    .keys()
                    .map(String::as_str),
            );
        }
        let suggestion = suggest::closest(&name.node, candidates.iter().copied());
        let d = if name.node.len() == 1 && self.binding.is_none() {
            Diagnostic::new(
                Code::UnknownName,
                self.source,
                name.span,
                "not a field or a bound name",
            )
            .with_message(format!("unknown name `{}`", name.node))
            .with_help(format!(
                "to count anniversaries, bind the number: `on anniversary of joined as {}`",
                name.node
            ))
        } else {
            Diagnostic::new(
                Code::UnknownField,
                self.source,
                name.span,
                "not a field of the contact",
            )
            .with_message(format!("unknown field `{}`", name.node))
            .with_suggestion(suggestion)
        };
        let d = if suggestion.is_none() && name.node.len() > 1 {
            d.with_note(self.fields_note())
        } else {
            d
        };
        self.report(d);
    }

    pub fn fields_note(&self) -> String {
        match self.project.source {
            Some(_) => "the contact fields are declared in `[contact]` of flow.toml".to_string(),
            None => format!(
                "without a flow.toml the contact has the standard fields: {}",
                self.project
                    .schema
                    .fields
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Checks that an event exists; reports it if not.
    pub fn event_ref(&mut self, event: &Ident) -> bool {
        if self.project.schema.events.contains_key(&event.node) {
            return true;
        }
        let suggestion = suggest::closest(
            &event.node,
            self.project.schema.events.keys().map(String::as_str),
        );
        let d = Diagnostic::new(Code::UnknownEvent, self.source, event.span, "no such event")
            .with_message(format!("unknown event `{}`", event.node))
            .with_suggestion(suggestion);
        let d = match self.project.source {
            Some(_) => d.with_note("events are declared in `[events]` of flow.toml"),
            None => d.with_note(format!(
                "without a flow.toml the events are: {}",
                self.project
                    .schema
                    .events
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        self.report(d);
        false
    }

    /// A reference to a message of this flow (`opened offer`).
    pub fn message_ref(&mut self, message: &Ident, span: Span) {
        match self.flow.messages.get(&message.node) {
            Some(rules) => self.refs.push(MessageRef {
                rules: rules.clone(),
                name: message.node.clone(),
                span,
                kind: RefKind::Message,
            }),
            None => self.unknown_message(message),
        }
    }

    pub fn unknown_message(&mut self, message: &Ident) {
        if self.flow.incomplete {
            return;
        }
        let suggestion =
            suggest::closest(&message.node, self.flow.messages.keys().map(String::as_str));
        self.report(
            Diagnostic::new(
                Code::UnknownMessage,
                self.source,
                message.span,
                "this flow sends no message of that name",
            )
            .with_message(format!("no message `{}` in this flow", message.node))
            .with_suggestion(suggestion)
            .with_note("a message is named by the template a rule sends, or by the rule's label"),
        );
    }

    /// `used [offer]` / `unused [offer]`.
    pub fn offer_ref(&mut self, offer: Option<&Ident>, span: Span) {
        let rules = match offer {
            Some(name) => match self.flow.messages.get(&name.node) {
                Some(rules) => rules.clone(),
                None => return self.unknown_message(name),
            },
            None => self.flow.offer_rules.clone(),
        };
        self.refs.push(MessageRef {
            rules,
            name: offer.map(|o| o.node.clone()).unwrap_or_default(),
            span,
            kind: RefKind::Offer,
        });
    }

    /// `clicked presentation link "product_b"`: the template declares it.
    pub fn link_ref(&mut self, message: &Ident, link: &Spanned<String>) {
        let Some(templates) = &self.project.templates else {
            return;
        };
        let Some(rules) = self.flow.messages.get(&message.node) else {
            return;
        };
        let mut known = Vec::new();
        for &rule in rules {
            for name in &self.flow.templates_by_rule[rule] {
                if let Some(template) = templates.get(name) {
                    for variant in template.variants.values() {
                        known.extend(variant.links.iter().cloned());
                    }
                }
            }
        }
        if known.is_empty() || known.contains(&link.node) {
            return;
        }
        let suggestion = suggest::closest(&link.node, known.iter().map(String::as_str));
        self.report(
            Diagnostic::new(
                Code::UnknownLink,
                self.source,
                link.span,
                "the template declares no such link",
            )
            .with_message(format!("`{}` has no link `{}`", message.node, link.node))
            .with_suggestion(suggestion)
            .with_note(format!("its links are: {}", known.join(", "))),
        );
    }
}
