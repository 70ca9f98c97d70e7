//! The contact schema (fields and their types) and the event catalogue:
//! what data a flow may use.

use std::collections::BTreeMap;

use crate::syntax::ast::Channel;

/// The type of a field: the core's, one type from the schema to the
/// reading of a contacts file.
pub use flowc_core::bytecode::FieldKind as FieldType;

/// One contact field.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldDef {
    pub ty: FieldType,
    /// A date that comes back every year (a birthday): date triggers on it
    /// are yearly unless the flow says `once`.
    pub yearly: bool,
    /// A bool field that records consent for a channel.
    pub consent: Option<Channel>,
    /// A contacts file may lack its column (`optional = true`); every
    /// other declared column must be there, or a run stops before sending.
    pub optional: bool,
}

/// One kind of event and its attributes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventDef {
    pub attributes: BTreeMap<String, FieldType>,
    /// Recorded by the runtime itself (opens, clicks, redemptions ...).
    pub builtin: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    pub fields: BTreeMap<String, FieldDef>,
    pub events: BTreeMap<String, EventDef>,
}

impl Schema {
    /// The schema used when a project declares none: a typical contact.
    pub fn standard() -> Schema {
        let mut schema = Schema::empty();
        for (name, ty) in [
            ("id", FieldType::Text),
            ("email", FieldType::Email),
            ("phone", FieldType::Phone),
            ("first_name", FieldType::Text),
            ("last_name", FieldType::Text),
            ("language", FieldType::Text),
            ("country", FieldType::Text),
            ("time_zone", FieldType::TimeZone),
            ("joined", FieldType::Date),
            ("tags", FieldType::List),
        ] {
            schema.add_field(name, ty);
        }
        // A typical contact, not a promise: any of its columns may be absent.
        for field in schema.fields.values_mut() {
            field.optional = true;
        }
        schema.fields.insert(
            "birthday".into(),
            FieldDef {
                ty: FieldType::Date,
                yearly: true,
                consent: None,
                optional: true,
            },
        );
        for (name, attributes) in [
            (
                "purchase",
                &[("product", FieldType::Text), ("amount", FieldType::Number)][..],
            ),
            ("visit", &[("page", FieldType::Text)][..]),
            (
                "cart_abandoned",
                &[("cart_url", FieldType::Text), ("amount", FieldType::Number)][..],
            ),
            ("survey_answered", &[("score", FieldType::Number)][..]),
        ] {
            schema.events.insert(
                name.into(),
                EventDef {
                    attributes: attributes
                        .iter()
                        .map(|(n, t)| (n.to_string(), *t))
                        .collect(),
                    builtin: false,
                },
            );
        }
        schema
    }

    /// Only the built-in events; fields come from the project.
    pub fn empty() -> Schema {
        let mut events = BTreeMap::new();
        for (name, attributes) in [
            // `machine`: made by a privacy proxy, not a reader (`flowc serve`
            // marks the opens that come within seconds of the hand-off).
            (
                "opened",
                &[("message", FieldType::Text), ("machine", FieldType::Bool)][..],
            ),
            (
                "clicked",
                &[("message", FieldType::Text), ("link", FieldType::Text)][..],
            ),
            ("redeemed", &[("coupon", FieldType::Text)][..]),
            // Of a channel, or of a kind of message the project declares.
            (
                "unsubscribed",
                &[("channel", FieldType::Text), ("kind", FieldType::Text)][..],
            ),
            // The undo of an unsubscribe, from the page `flowc serve` shows.
            (
                "resubscribed",
                &[("channel", FieldType::Text), ("kind", FieldType::Text)][..],
            ),
            // A spam complaint (an e-mail provider's feedback loop).
            ("complained", &[("channel", FieldType::Text)][..]),
            // A hard bounce (`"bounce": "soft"` is not) stops every message
            // to that address, transactional ones too.
            (
                "bounced",
                &[("channel", FieldType::Text), ("bounce", FieldType::Text)][..],
            ),
        ] {
            events.insert(
                name.to_string(),
                EventDef {
                    attributes: attributes
                        .iter()
                        .map(|(n, t)| (n.to_string(), *t))
                        .collect(),
                    builtin: true,
                },
            );
        }
        Schema {
            fields: BTreeMap::new(),
            events,
        }
    }

    pub fn add_field(&mut self, name: &str, ty: FieldType) {
        self.fields.insert(
            name.to_string(),
            FieldDef {
                ty,
                yearly: false,
                consent: None,
                optional: false,
            },
        );
    }

    /// The field that holds each contact's time zone, if any.
    pub fn zone_field(&self) -> Option<&str> {
        self.fields
            .iter()
            .find(|(_, f)| f.ty == FieldType::TimeZone)
            .map(|(n, _)| n.as_str())
    }
}
