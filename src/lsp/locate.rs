//! What is under the cursor: the name at a byte offset of a parsed file and
//! the part it plays (a template sent, a field read, an event, a flow named
//! in a priority...), for hover and go to definition.

use flowc_compiler::syntax::ast::{
    Action, Channel, Expr, ExprKind, File, Ident, Item, Point, PolicyItem, Rule, SettingValue,
    TriggerKind,
};
use flowc_compiler::syntax::{Span, Spanned};

/// The part a name plays where it is written.
#[derive(Clone, Debug, PartialEq)]
pub enum Role {
    /// `send [channel] NAME`
    Template(Option<Channel>),
    /// A name that reads a contact field (or a binding, or an attribute of
    /// the event being filtered): resolved against the schema by the caller.
    Name,
    /// A date field, an event or a message: what a rule is triggered by.
    Trigger,
    Field,
    Event,
    /// `event.ATTRIBUTE` in a rule triggered by an event, if known.
    EventAttribute(Option<String>),
    /// A message of the flow (`sent offer`, `since mail`).
    Message,
    Flow,
    Webhook,
}

pub struct Found<'a> {
    pub name: &'a str,
    pub span: Span,
    pub role: Role,
    /// The rule the name is in, if any.
    pub rule: Option<&'a Rule>,
}

/// The link name of `clicked MESSAGE link "NAME"` under the cursor.
pub struct FoundLink<'a> {
    pub message: &'a Ident,
    pub link: &'a Spanned<String>,
}

pub enum Target<'a> {
    Name(Found<'a>),
    Link(FoundLink<'a>),
}

pub fn at(file: &File, offset: usize) -> Option<Target<'_>> {
    let mut finder = Finder {
        offset,
        found: None,
        rule: None,
    };
    for item in &file.items {
        match item {
            Item::Flow(flow) => {
                finder.name(&flow.name, Role::Flow);
                for setting in &flow.settings {
                    finder.setting_value(&setting.value);
                }
                for rule in &flow.rules {
                    finder.rule(rule);
                }
            }
            Item::Policy(policy) => {
                for item in &policy.items {
                    if let PolicyItem::Priority { flows, .. } = item {
                        for flow in flows {
                            finder.name(flow, Role::Flow);
                        }
                    }
                }
            }
            Item::Rule(rule) => finder.rule(rule),
            Item::Setting(setting) => finder.setting_value(&setting.value),
        }
    }
    finder.found
}

fn contains(span: Span, offset: usize) -> bool {
    span.start <= offset && offset <= span.end
}

struct Finder<'a> {
    offset: usize,
    found: Option<Target<'a>>,
    rule: Option<&'a Rule>,
}

impl<'a> Finder<'a> {
    fn name(&mut self, ident: &'a Ident, role: Role) {
        if self.found.is_none() && contains(ident.span, self.offset) && !ident.span.is_empty() {
            self.found = Some(Target::Name(Found {
                name: &ident.node,
                span: ident.span,
                role,
                rule: self.rule,
            }));
        }
    }

    fn setting_value(&mut self, value: &'a SettingValue) {
        match value {
            SettingValue::Expr(expr) => self.expr(expr, None),
            SettingValue::Word(word) => self.name(word, Role::Name),
        }
    }

    fn rule(&mut self, rule: &'a Rule) {
        if !contains(rule.span, self.offset) {
            return;
        }
        self.rule = Some(rule);
        let event = match &rule.trigger.kind {
            TriggerKind::Named { name, .. } => {
                self.name(name, Role::Trigger);
                Some(name.node.clone())
            }
            TriggerKind::Anniversary { field, .. } => {
                self.name(field, Role::Field);
                None
            }
            TriggerKind::Inactivity { event, .. } => {
                self.name(event, Role::Event);
                None
            }
            TriggerKind::Becomes { field, value } => {
                self.name(field, Role::Field);
                self.expr(value, None);
                None
            }
            TriggerKind::Changes { field } => {
                self.name(field, Role::Field);
                None
            }
            TriggerKind::FixedDate(_) => None,
        };
        if let Some(filter) = &rule.trigger.filter {
            self.expr(filter, event.as_deref());
        }
        if let Some(condition) = &rule.condition {
            self.expr(condition, event.as_deref());
        }
        for action in &rule.actions {
            self.action(action, event.as_deref());
        }
        self.rule = None;
    }

    fn action(&mut self, action: &'a Action, event: Option<&str>) {
        match action {
            Action::Send(send) => {
                self.name(&send.template, Role::Template(send.channel.map(|c| c.node)));
                if let Some(sender) = &send.sender {
                    self.expr(sender, event);
                }
                for var in &send.vars {
                    self.expr(&var.value, event);
                }
            }
            Action::Task { assignee, note, .. } => {
                for expr in [assignee, note].into_iter().flatten() {
                    self.expr(expr, event);
                }
            }
            Action::Webhook { name, vars, .. } => {
                self.name(name, Role::Webhook);
                for var in vars {
                    self.expr(&var.value, event);
                }
            }
            Action::SetField { field, value, .. } => {
                self.name(field, Role::Field);
                self.expr(value, event);
            }
            Action::Tag { value, .. } | Action::Untag { value, .. } => self.expr(value, event),
            Action::Exit { .. } => {}
        }
    }

    fn expr(&mut self, expr: &'a Expr, event: Option<&str>) {
        if self.found.is_some() || !contains(expr.span, self.offset) {
            return;
        }
        match &expr.kind {
            ExprKind::Invalid | ExprKind::Literal(_) | ExprKind::Tagged(_) => {}
            ExprKind::List(items) => items.iter().for_each(|e| self.expr(e, event)),
            ExprKind::Path(path) => match path.as_slice() {
                [first, attribute] if first.node == "event" => {
                    self.name(attribute, Role::EventAttribute(event.map(str::to_string)))
                }
                [first, ..] => self.name(first, Role::Name),
                [] => {}
            },
            ExprKind::Unary(_, inner) | ExprKind::IsSet { expr: inner, .. } => {
                self.expr(inner, event)
            }
            ExprKind::Binary(_, left, right) => {
                self.expr(left, event);
                self.expr(right, event);
            }
            ExprKind::Sent(message) | ExprKind::Opened(message) => {
                self.name(message, Role::Message)
            }
            ExprKind::Clicked { message, link } => {
                self.name(message, Role::Message);
                if let Some(link) = link {
                    if self.found.is_none() && contains(link.span, self.offset) {
                        self.found = Some(Target::Link(FoundLink { message, link }));
                    }
                }
            }
            ExprKind::Used(message) | ExprKind::Unused(message) => {
                if let Some(message) = message {
                    self.name(message, Role::Message);
                }
            }
            ExprKind::Consent(_) => {}
            ExprKind::Happened {
                event: happened,
                filter,
                point,
            } => {
                self.name(happened, Role::Event);
                if let Some(filter) = filter {
                    self.expr(filter, event);
                }
                if let Point::Since(message) = point {
                    self.name(message, Role::Message);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowc_compiler::source::SourceId;

    fn role_at(text: &str, needle: &str) -> Option<(String, Role)> {
        let (file, _) = flowc_compiler::syntax::parse(SourceId(0), text);
        let offset = text.find(needle).unwrap() + 1;
        match at(&file, offset)? {
            Target::Name(found) => Some((found.name.to_string(), found.role)),
            Target::Link(link) => Some((link.link.node.clone(), Role::Message)),
        }
    }

    #[test]
    fn names_have_roles() {
        let text = "when birthday - 15d if first_name is set send sms offer\n\
                    on purchase if event.product == \"x\" and clicked offer link \"shop\" send thanks\n\
                    policy { priority a > b }";
        assert_eq!(
            role_at(text, "birthday"),
            Some(("birthday".into(), Role::Trigger))
        );
        assert_eq!(
            role_at(text, "first_name"),
            Some(("first_name".into(), Role::Name))
        );
        assert_eq!(
            role_at(text, "offer\n"),
            Some(("offer".into(), Role::Template(Some(Channel::Sms))))
        );
        assert_eq!(
            role_at(text, "product"),
            Some((
                "product".into(),
                Role::EventAttribute(Some("purchase".into()))
            ))
        );
        assert_eq!(
            role_at(text, "\"shop"),
            Some(("shop".into(), Role::Message))
        );
        assert_eq!(role_at(text, "b }"), Some(("b".into(), Role::Flow)));
        assert!(role_at(text, "15d").is_none());
    }
}
