//! Flow settings (`title:`, `audience:`, `send_at:`, `zone:`, ...): known
//! keys, values of the right kind, zones that exist, defaults applied.

use std::collections::BTreeMap;

use super::scope::{FlowInfo, Scope};
use super::Context;
use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::program::{FlowSettings, Lateness, LeapDay, Reentry, ZoneSetting};
use crate::project::schema::FieldType;
use crate::source::SourceId;
use crate::syntax::ast::{ExprKind, Literal, Setting, SettingValue};
use crate::syntax::Span;

/// Every setting a flow accepts, with what its value looks like.
pub const SETTINGS: &[(&str, &str)] = &[
    ("title", "text, e.g. `title: \"Birthday offer\"`"),
    (
        "audience",
        "a condition, e.g. `audience: consent email and country == \"FR\"`",
    ),
    ("send_at", "a time of day, e.g. `send_at: 08:00`"),
    (
        "zone",
        "a time-zone field or an IANA zone, e.g. `zone: time_zone` or `zone: \"Europe/Paris\"`",
    ),
    (
        "default_zone",
        "an IANA zone, e.g. `default_zone: \"Europe/Paris\"`",
    ),
    ("lateness", "`same_day` or a duration, e.g. `lateness: 4h`"),
    (
        "reentry",
        "`once`, `never` or a duration, e.g. `reentry: 30d`",
    ),
    ("leap_day", "`feb28` or `mar1`"),
    (
        "kind",
        "`marketing`, `transactional` or a kind the project declares under `[kinds]`, e.g. `kind: transactional`",
    ),
];

pub fn check_settings(
    context: &Context,
    source: SourceId,
    settings: &[Setting],
    info: &FlowInfo,
    diagnostics: &mut Vec<Diagnostic>,
) -> FlowSettings {
    let schema = &context.project.schema;
    let mut result = FlowSettings::defaults(ZoneSetting {
        field: schema.zone_field().map(str::to_string),
        default: context.project.default_zone.clone(),
    });
    let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
    for setting in settings {
        let key = setting.key.node.as_str();
        let value = &setting.value;
        if let Some(first) = seen.get(key) {
            diagnostics.push(
                Diagnostic::new(
                    Code::DuplicateSetting,
                    source,
                    setting.key.span,
                    "set again here",
                )
                .with_message(format!("`{key}` is set twice"))
                .with_context(source, *first, "first set here")
                .with_help("keep one of them"),
            );
            continue;
        }
        seen.insert(key, setting.key.span);
        let mut invalid = |found: &str| {
            let wanted = SETTINGS
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, w)| *w)
                .unwrap_or("");
            diagnostics.push(
                Diagnostic::new(
                    Code::InvalidSettingValue,
                    source,
                    value.span(),
                    found.to_string(),
                )
                .with_message(format!("invalid value for `{key}`"))
                .with_help(format!("`{key}` takes {wanted}")),
            );
        };
        let literal = match value {
            SettingValue::Expr(e) => match &e.kind {
                ExprKind::Literal(l) => Some(l.clone()),
                _ => None,
            },
            SettingValue::Word(_) => None,
        };
        let word = match value {
            SettingValue::Word(w) => Some(w.node.as_str()),
            SettingValue::Expr(e) => match &e.kind {
                ExprKind::Path(p) if p.len() == 1 => Some(p[0].node.as_str()),
                _ => None,
            },
        };
        match key {
            "title" => match literal {
                Some(Literal::String(s)) => result.title = Some(s),
                _ => invalid("this is not text"),
            },
            "audience" => match value {
                SettingValue::Expr(e) => {
                    let mut scope = Scope::new(
                        context.sources,
                        source,
                        context.project,
                        info,
                        &mut *diagnostics,
                    );
                    scope.condition(e, "an audience");
                    result.audience = Some(e.clone());
                }
                SettingValue::Word(_) => invalid("this is not a condition"),
            },
            "send_at" => match literal {
                Some(Literal::Time(t)) => result.send_at = t,
                _ => invalid("this is not a time of day"),
            },
            "zone" => {
                match (literal, word) {
                    (Some(Literal::String(zone)), _) => {
                        if check_zone(context, source, &zone, value.span(), diagnostics) {
                            result.zone = ZoneSetting {
                                field: None,
                                default: zone,
                            };
                        }
                    }
                    (_, Some(field)) => {
                        match schema.fields.get(field) {
                            Some(def) if def.ty == FieldType::TimeZone => {
                                result.zone.field = Some(field.to_string())
                            }
                            Some(def) => invalid(&format!(
                                "`{field}` is a {} field, not a timezone",
                                def.ty.name()
                            )),
                            None => {
                                let suggestion = suggest::closest(
                                    field,
                                    schema.fields.keys().map(String::as_str),
                                );
                                diagnostics.push(
                            Diagnostic::new(Code::UnknownField, source, value.span(), "not a field of the contact")
                                .with_message(format!("unknown field `{field}`"))
                                .with_suggestion(suggestion)
                                .with_note("for a fixed zone write it as text: `zone: \"Europe/Paris\"`"),
                        );
                            }
                        }
                    }
                    _ => invalid("this is not a field or a zone name"),
                }
            }
            "default_zone" => match literal {
                Some(Literal::String(zone)) => {
                    if check_zone(context, source, &zone, value.span(), diagnostics) {
                        result.zone.default = zone;
                    }
                }
                _ => invalid("this is not a zone name"),
            },
            "lateness" => match (literal, word) {
                (Some(Literal::Duration(d)), _) => result.lateness = Lateness::Within(d),
                (_, Some("same_day")) => result.lateness = Lateness::SameDay,
                _ => invalid("this is not `same_day` or a duration"),
            },
            "reentry" => match (literal, word) {
                (Some(Literal::Duration(d)), _) => result.reentry = Reentry::After(d),
                (_, Some("once")) => result.reentry = Reentry::Once,
                (_, Some("never")) => result.reentry = Reentry::Never,
                _ => invalid("this is not `once`, `never` or a duration"),
            },
            "leap_day" => match word {
                Some("feb28") => result.leap_day = LeapDay::Feb28,
                Some("mar1") => result.leap_day = LeapDay::Mar1,
                _ => invalid("this is not `feb28` or `mar1`"),
            },
            "kind" => match word {
                Some("marketing") => result.transactional = false,
                Some("transactional") => result.transactional = true,
                Some(kind) if context.project.kinds.contains_key(kind) => {
                    result.kind = Some(kind.to_string());
                }
                Some(kind) => {
                    let kinds = &context.project.kinds;
                    let suggestion = suggest::closest(kind, kinds.keys().map(String::as_str));
                    let declared: Vec<&str> = kinds.keys().map(String::as_str).collect();
                    let d = Diagnostic::new(
                        Code::UnknownKind,
                        source,
                        value.span(),
                        "not a kind of message of the project",
                    )
                    .with_message(format!("unknown kind of message `{kind}`"))
                    .with_suggestion(suggestion);
                    diagnostics.push(if declared.is_empty() {
                        d.with_help(format!(
                            "declare it in flow.toml: `[kinds]` then `{kind} = \"what these messages are\"`, or write `marketing` or `transactional`"
                        ))
                    } else {
                        d.with_note(format!(
                            "the kinds are: marketing, transactional, {}",
                            declared.join(", ")
                        ))
                    });
                }
                None => invalid("this is not `marketing`, `transactional` or a declared kind"),
            },
            _ => {
                let suggestion = suggest::closest(key, SETTINGS.iter().map(|(k, _)| *k));
                let known: Vec<&str> = SETTINGS.iter().map(|(k, _)| *k).collect();
                diagnostics.push(
                    Diagnostic::new(
                        Code::UnknownSetting,
                        source,
                        setting.key.span,
                        "not a flow setting",
                    )
                    .with_message(format!("unknown setting `{key}`"))
                    .with_suggestion(suggestion)
                    .with_note(format!("the settings are: {}", known.join(", "))),
                );
            }
        }
    }
    result
}

/// Reports an unknown IANA zone; true when the zone is known.
fn check_zone(
    context: &Context,
    source: SourceId,
    zone: &str,
    span: Span,
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    match context.zones.get(zone) {
        Ok(_) => true,
        Err(error) => {
            let d = Diagnostic::new(
                Code::UnknownTimeZone,
                source,
                span,
                format!("not a zone of {}", error.source_description()),
            )
            .with_message(format!("unknown time zone `{zone}`"));
            let d = match error.suggestions() {
                [] => d.with_help(
                    "zones are IANA names such as \"Europe/Paris\" or \"America/New_York\"",
                ),
                [one, ..] => d.with_help(format!("did you mean \"{one}\"?")),
            };
            diagnostics.push(d);
            false
        }
    }
}
