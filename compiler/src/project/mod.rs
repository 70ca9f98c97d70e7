//! The project a flow is checked against: its `flow.toml` (default zone,
//! contact schema, events, webhooks) and its templates. Parsed from text;
//! the CLI finds and reads the files.
//!
//! ```toml
//! [project]
//! default_zone = "Europe/Paris"   # for contacts whose zone field is empty
//! templates = "templates"         # folder of NAME.CHANNEL[.EXT] files
//!
//! [contact]                       # field = type, or a table
//! email = "email"
//! birthday = { type = "date", yearly = true }
//! email_optin = { type = "bool", consent = "email" }
//!
//! [events.purchase]               # event = its attributes
//! product = "text"
//!
//! [webhooks.crm]                  # webhooks flows may call
//! url_env = "CRM_WEBHOOK_URL"       # where `flowc run` finds the endpoint URL
//! secret_env = "CRM_WEBHOOK_SECRET" # and the signing secret (optional)
//!
//! [kinds]                         # kinds of marketing message, each of
//! offers = "Offers and coupons"   # which a contact can stop on its own
//!                                 # (flows say `kind: offers`)
//!
//! [attribution]                   # `flowc report`: revenue of the
//! event = "purchase"              # purchases that follow a message
//! amount = "amount"               # (a number attribute of the event)
//! window = "7d"                   # within this long (last message wins)
//!
//! [editor]                        # for `flowc lsp`: hovering a trigger
//! sample_contact = "contacts.csv#c001"   # shows when it is next due for c001
//! ```

pub mod schema;
pub mod templates;

use std::collections::{BTreeMap, BTreeSet};

use schema::{EventDef, FieldDef, FieldType, Schema};
use templates::Templates;

use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::source::{SourceId, Sources};
use crate::syntax::ast::Channel;
use crate::syntax::Span;

/// The file name `flowc` looks for, upward from the checked files.
pub const PROJECT_FILE: &str = "flow.toml";

#[derive(Clone, Debug)]
pub struct Project {
    /// The project file, when there is one.
    pub source: Option<SourceId>,
    pub schema: Schema,
    /// Zone for contacts without one; `UTC` unless the project says.
    pub default_zone: String,
    /// The templates folder, relative to the project file.
    pub templates_dir: String,
    /// `None` when no templates folder exists: template names are then
    /// accepted unchecked.
    pub templates: Option<Templates>,
    /// `None` when the project declares no webhooks: any name is accepted.
    pub webhooks: Option<BTreeSet<String>>,
    /// Where a run finds each declared webhook's endpoint and secret.
    pub webhook_settings: BTreeMap<String, WebhookSettings>,
    /// The kinds of marketing message (`[kinds]`), each with the words the
    /// preference page shows for it.
    pub kinds: BTreeMap<String, String>,
    /// What `flowc report` attributes to the messages (`[attribution]`).
    pub attribution: Option<Attribution>,
    /// The contact an editor computes trigger dates for (`[editor]`).
    pub sample_contact: Option<SampleContact>,
    /// The project file is not TOML: its schema is unknown, so flows are
    /// only parsed — checking them against the standard schema instead
    /// would report every field as unknown.
    pub unreadable: bool,
}

/// The names of the environment variables configuring a webhook. The
/// values are read by `flowc run`, never stored in the program: a URL may
/// carry a token, and the secret must stay out of files and logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookSettings {
    pub url_env: Option<String>,
    pub secret_env: Option<String>,
}

/// `sample_contact = "contacts.csv#c001"`: a CSV file of contacts (relative
/// to the project file) and the `id` of one of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleContact {
    pub file: String,
    pub id: String,
}

impl Default for Project {
    /// No project file: the standard contact schema, UTC, no templates.
    fn default() -> Project {
        Project {
            source: None,
            schema: Schema::standard(),
            default_zone: "UTC".to_string(),
            templates_dir: "templates".to_string(),
            templates: None,
            webhooks: None,
            webhook_settings: BTreeMap::new(),
            kinds: BTreeMap::new(),
            attribution: None,
            sample_contact: None,
            unreadable: false,
        }
    }
}

const PROJECT_KEYS: &[&str] = &["default_zone", "templates"];
const WEBHOOK_KEYS: &[&str] = &["url_env", "secret_env"];
const SECTIONS: &[&str] = &[
    "project",
    "contact",
    "events",
    "webhooks",
    "kinds",
    "attribution",
    "editor",
];
const ATTRIBUTION_KEYS: &[&str] = &["event", "amount", "window"];
const EDITOR_KEYS: &[&str] = &["sample_contact"];

impl Project {
    /// Reads a `flow.toml`. Problems become diagnostics; what is valid is kept.
    pub fn parse(sources: &Sources, source: SourceId) -> (Project, Vec<Diagnostic>) {
        let text = sources.text(source);
        let mut diagnostics = Vec::new();
        let mut project = Project {
            source: Some(source),
            ..Project::default()
        };
        let table = match text.parse::<toml::Table>() {
            Ok(table) => table,
            Err(error) => {
                let span = error
                    .span()
                    .map(|r| Span::new(r.start, r.end))
                    .unwrap_or_default();
                let d = Diagnostic::new(Code::InvalidProject, source, span, error.message().trim())
                    .with_message(format!("`{}` is not valid TOML", sources.path(source)))
                    .with_note(
                        "the flows are checked once the project file reads: the \
                             fields and events they use are declared in it",
                    );
                diagnostics.push(match unquoted_key(text, span) {
                    Some(key) => d.with_help(format!(
                        "TOML keys with accents or other non-ASCII letters are quoted: \
                         `\"{key}\" = ...`"
                    )),
                    None => d,
                });
                project.unreadable = true;
                return (project, diagnostics);
            }
        };
        let mut problem = |key: &str, label: String, help: Option<String>| {
            let d = Diagnostic::new(Code::InvalidProject, source, key_span(text, key), label);
            diagnostics.push(match help {
                Some(h) => d.with_help(h),
                None => d,
            });
        };
        for key in table.keys() {
            if !SECTIONS.contains(&key.as_str()) {
                let help = suggest::closest(key, SECTIONS.iter().copied())
                    .map(|s| format!("did you mean `[{s}]`?"))
                    .unwrap_or_else(|| format!("the sections are {}", SECTIONS.join(", ")));
                problem(key, format!("unknown section `{key}`"), Some(help));
            }
        }
        if let Some(settings) = table.get("project").and_then(|v| v.as_table()) {
            for (key, value) in settings {
                match (key.as_str(), value.as_str()) {
                    ("default_zone", Some(zone)) => project.default_zone = zone.to_string(),
                    ("templates", Some(dir)) => project.templates_dir = dir.to_string(),
                    (k, None) if PROJECT_KEYS.contains(&k) => {
                        problem(key, format!("`{key}` must be a string"), None)
                    }
                    _ => problem(
                        key,
                        format!("unknown project setting `{key}`"),
                        suggest::closest(key, PROJECT_KEYS.iter().copied())
                            .map(|s| format!("did you mean `{s}`?")),
                    ),
                }
            }
        }
        if let Some(contact) = table.get("contact").and_then(|v| v.as_table()) {
            project.schema.fields.clear();
            for (name, value) in contact {
                match field_def(value) {
                    Ok(def) => {
                        project.schema.fields.insert(name.clone(), def);
                    }
                    Err((label, help)) => problem(name, label, help),
                }
            }
        }
        if let Some(events) = table.get("events").and_then(|v| v.as_table()) {
            project.schema.events.retain(|_, e| e.builtin);
            for (name, value) in events {
                let mut event = EventDef::default();
                for (attribute, ty) in value.as_table().into_iter().flatten() {
                    match field_def(ty) {
                        Ok(def) => {
                            event.attributes.insert(attribute.clone(), def.ty);
                        }
                        Err((label, help)) => problem(attribute, label, help),
                    }
                }
                project.schema.events.insert(name.clone(), event);
            }
        }
        if let Some(webhooks) = table.get("webhooks").and_then(|v| v.as_table()) {
            project.webhooks = Some(webhooks.keys().cloned().collect());
            for (name, value) in webhooks {
                let Some(keys) = value.as_table() else {
                    problem(
                        name,
                        format!("webhook `{name}` must be a table"),
                        Some(format!(
                            "write `[webhooks.{name}]` then `url_env = \"...\"`"
                        )),
                    );
                    continue;
                };
                let mut settings = WebhookSettings::default();
                for (key, value) in keys {
                    let slot = match key.as_str() {
                        "url_env" => &mut settings.url_env,
                        "secret_env" => &mut settings.secret_env,
                        // A URL or secret written here would be compiled into
                        // the program and copied around: only a variable's name.
                        "url" | "secret" => {
                            problem(
                                key,
                                format!("`{key}` cannot be written in flow.toml"),
                                Some(format!(
                                    "name the environment variable that holds it: `{key}_env = \"{}\"`",
                                    env_example(name, key)
                                )),
                            );
                            continue;
                        }
                        _ => {
                            problem(
                                key,
                                format!("unknown webhook setting `{key}`"),
                                Some(
                                    suggest::closest(key, WEBHOOK_KEYS.iter().copied())
                                        .map(|s| format!("did you mean `{s}`?"))
                                        .unwrap_or_else(|| {
                                            format!("the settings are {}", WEBHOOK_KEYS.join(", "))
                                        }),
                                ),
                            );
                            continue;
                        }
                    };
                    match value.as_str() {
                        Some(variable) if is_env_name(variable) => {
                            *slot = Some(variable.to_string())
                        }
                        _ => problem(
                            key,
                            format!("`{key}` must name an environment variable"),
                            Some(format!(
                                "write e.g. `{key} = \"{}\"`: the value itself is read at run time",
                                env_example(name, key.trim_end_matches("_env"))
                            )),
                        ),
                    }
                }
                project.webhook_settings.insert(name.clone(), settings);
            }
        }
        if let Some(kinds) = table.get("kinds").and_then(|v| v.as_table()) {
            for (name, value) in kinds {
                let words = value.as_str().map(str::trim).unwrap_or("");
                if matches!(name.as_str(), "marketing" | "transactional") {
                    problem(
                        name,
                        format!("`{name}` is a kind of every project"),
                        Some("declare only the kinds of marketing message a contact can stop one by one".into()),
                    );
                } else if !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    || !name.starts_with(|c: char| c.is_ascii_lowercase())
                {
                    problem(
                        name,
                        format!("`{name}` cannot be the name of a kind"),
                        Some(
                            "a kind is a word of lowercase letters, digits and `_`, e.g. `offers`"
                                .into(),
                        ),
                    );
                } else if words.is_empty() {
                    problem(
                        name,
                        format!("kind `{name}` needs the words its contacts read"),
                        Some(format!("write e.g. `{name} = \"Offers and coupons\"`: the preference page shows them")),
                    );
                } else {
                    project.kinds.insert(name.clone(), words.to_string());
                }
            }
        }
        if let Some(section) = table.get("attribution").and_then(|v| v.as_table()) {
            let (found, problems) = attribution(section, &project.schema);
            project.attribution = found;
            for (key, label, help) in problems {
                problem(&format!("attribution.{key}"), label, Some(help));
            }
        }
        if let Some(editor) = table.get("editor").and_then(|v| v.as_table()) {
            for (key, value) in editor {
                match (key.as_str(), value.as_str().map(sample_contact)) {
                    ("sample_contact", Some(Some(sample))) => project.sample_contact = Some(sample),
                    ("sample_contact", _) => problem(
                        key,
                        "`sample_contact` is a CSV file and a contact id".to_string(),
                        Some("write e.g. `sample_contact = \"contacts.csv#c001\"`".to_string()),
                    ),
                    _ => problem(
                        key,
                        format!("unknown editor setting `{key}`"),
                        suggest::closest(key, EDITOR_KEYS.iter().copied())
                            .map(|s| format!("did you mean `{s}`?")),
                    ),
                }
            }
        }
        crate::diagnostics::sort(&mut diagnostics);
        (project, diagnostics)
    }
}

/// `[attribution]`: a conversion is an `event` (with its `amount`) that
/// follows a message delivered to the same contact within `window`; it
/// counts for the last such message's flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribution {
    pub event: String,
    /// A number attribute of the event: the revenue. `None`: counts only.
    pub amount: Option<String>,
    /// In seconds.
    pub window: i64,
}

/// A problem of `[attribution]`: the key at fault, what is wrong, the fix.
type AttributionProblem = (String, String, String);

/// Reads `[attribution]`, and every problem in it.
fn attribution(
    section: &toml::Table,
    schema: &Schema,
) -> (Option<Attribution>, Vec<AttributionProblem>) {
    let mut problems = Vec::new();
    let found = attribution_settings(section, schema, &mut problems);
    (found.filter(|_| problems.is_empty()), problems)
}

fn attribution_settings(
    section: &toml::Table,
    schema: &Schema,
    problems: &mut Vec<AttributionProblem>,
) -> Option<Attribution> {
    let text = |key: &str| section.get(key).and_then(|v| v.as_str());
    for key in section
        .keys()
        .filter(|k| !ATTRIBUTION_KEYS.contains(&k.as_str()))
    {
        let help = suggest::closest(key, ATTRIBUTION_KEYS.iter().copied())
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("the settings are {}", ATTRIBUTION_KEYS.join(", ")));
        problems.push((
            key.clone(),
            format!("unknown attribution setting `{key}`"),
            help,
        ));
    }
    let window = text("window").unwrap_or("7d");
    let seconds = window
        .parse::<jiff::Span>()
        .ok()
        .and_then(|span| {
            span.total((
                jiff::Unit::Second,
                jiff::SpanRelativeTo::days_are_24_hours(),
            ))
            .ok()
        })
        .filter(|s| *s > 0.0 && *s <= 366.0 * 86_400.0);
    if seconds.is_none() {
        problems.push((
            "window".into(),
            format!("`{window}` is not a window of up to a year"),
            "write e.g. `window = \"7d\"` or `\"48h\"`".into(),
        ));
    }
    let Some(event) = text("event") else {
        problems.push((
            String::new(),
            "`[attribution]` needs the `event` that is a conversion".into(),
            "write e.g. `event = \"purchase\"`".into(),
        ));
        return None;
    };
    let Some(def) = schema.events.get(event) else {
        let help = suggest::closest(event, schema.events.keys().map(String::as_str))
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("declare it: `[events.{event}]`"));
        problems.push(("event".into(), format!("unknown event `{event}`"), help));
        return None;
    };
    let amount = match text("amount") {
        None => None,
        Some(amount) if def.attributes.get(amount) == Some(&FieldType::Number) => {
            Some(amount.to_string())
        }
        Some(amount) => {
            let numbers: Vec<&str> = def
                .attributes
                .iter()
                .filter(|(_, t)| **t == FieldType::Number)
                .map(|(n, _)| n.as_str())
                .collect();
            problems.push((
                "amount".into(),
                format!("`{amount}` is not a number attribute of `{event}`"),
                if numbers.is_empty() {
                    format!("declare one: `[events.{event}]` then `{amount} = \"number\"`")
                } else {
                    format!("its number attributes: {}", numbers.join(", "))
                },
            ));
            None
        }
    };
    Some(Attribution {
        event: event.to_string(),
        amount,
        window: seconds? as i64,
    })
}

/// `CRM_WEBHOOK_URL` for the `url` of webhook `crm`.
fn env_example(webhook: &str, what: &str) -> String {
    let name = webhook
        .to_uppercase()
        .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    format!("{name}_WEBHOOK_{}", what.to_uppercase())
}

/// `CRM_WEBHOOK_URL`: letters, digits and underscores, not starting with a digit.
fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `contacts.csv#c001`: both parts non-empty.
fn sample_contact(value: &str) -> Option<SampleContact> {
    let (file, id) = value.rsplit_once('#')?;
    let (file, id) = (file.trim(), id.trim());
    (!file.is_empty() && !id.is_empty()).then(|| SampleContact {
        file: file.to_string(),
        id: id.to_string(),
    })
}

/// `"date"` or `{ type = "date", yearly = true, consent = "email" }`.
fn field_def(value: &toml::Value) -> Result<FieldDef, (String, Option<String>)> {
    let (type_name, table) = match value {
        toml::Value::String(s) => (s.as_str(), None),
        toml::Value::Table(t) => match t.get("type").and_then(|t| t.as_str()) {
            Some(s) => (s, Some(t)),
            None => {
                return Err((
                    "this field has no `type`".to_string(),
                    Some("write e.g. `birthday = { type = \"date\", yearly = true }`".into()),
                ))
            }
        },
        _ => {
            return Err((
                "a field is a type name or a table".to_string(),
                Some(format!("the types are {}", FieldType::NAMES.join(", "))),
            ))
        }
    };
    let ty = FieldType::from_name(type_name).ok_or_else(|| {
        (
            format!("unknown type `{type_name}`"),
            Some(
                suggest::closest(type_name, FieldType::NAMES.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("the types are {}", FieldType::NAMES.join(", "))),
            ),
        )
    })?;
    let yearly = table
        .and_then(|t| t.get("yearly"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let consent = match table
        .and_then(|t| t.get("consent"))
        .and_then(|v| v.as_str())
    {
        Some(name) => Some(Channel::from_name(name).ok_or_else(|| {
            (
                format!("unknown channel `{name}`"),
                Some("the channels are email, sms, push".into()),
            )
        })?),
        None => None,
    };
    let optional = table
        .and_then(|t| t.get("optional"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    if yearly && !matches!(ty, FieldType::Date | FieldType::DateTime) {
        return Err(("only a date can be `yearly`".into(), None));
    }
    Ok(FieldDef {
        ty,
        yearly,
        consent,
        optional,
    })
}

/// Where a TOML text declares the key at `path` (`["contact", "birthday"]`
/// in `[contact]`, `["events", "purchase"]` as `[events.purchase]`): the
/// span of its last segment, for an editor's "go to definition" and hover.
/// A line scan (simple tables and headers, not inline or dotted keys).
pub fn declaration_span(text: &str, path: &[&str]) -> Option<Span> {
    let (last, parent) = path.split_last()?;
    let mut table: Vec<String> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(header) = trimmed.strip_prefix('[') {
            let header = header.split(']').next().unwrap_or("");
            table = header.split('.').map(|s| s.trim().to_string()).collect();
            if table.iter().map(String::as_str).eq(path.iter().copied()) {
                let start = offset + indent + 1 + header.rfind(last)?;
                return Some(Span::new(start, start + last.len()));
            }
        } else if table.iter().map(String::as_str).eq(parent.iter().copied()) {
            let key = trimmed.split('=').next().unwrap_or("").trim();
            let key = key.trim_matches('"');
            if key == *last && trimmed.contains('=') {
                let start = offset + indent + trimmed.find(last)?;
                return Some(Span::new(start, start + last.len()));
            }
        }
        offset += line.len();
    }
    None
}

/// The span of `key` where it is first defined in a TOML text (best effort:
/// the first line that assigns it, else the whole first line).
fn key_span(text: &str, key: &str) -> Span {
    // `attribution.window`: the key `window` of the table `[attribution]`.
    if let Some((table, inner)) = key.split_once('.') {
        let header = format!("[{table}]");
        let line_start = text.match_indices(&header).map(|(i, _)| i).find(|&i| {
            text[..i]
                .rsplit('\n')
                .next()
                .is_some_and(|l| l.trim().is_empty())
        });
        if let Some(start) = line_start {
            let after = start + header.len();
            let found = key_span(&text[after..], inner);
            if text[after..].contains(inner) {
                return Span::new(after + found.start, after + found.end);
            }
        }
    }
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(rest) = trimmed.strip_prefix(key) {
            let rest = rest.trim_start();
            if rest.starts_with('=') || rest.starts_with(']') {
                return Span::new(offset + indent, offset + indent + key.len());
            }
        }
        if let Some(inner) = trimmed.strip_prefix('[') {
            if inner.trim_start().starts_with(key) {
                let start = offset + indent + 1 + (inner.len() - inner.trim_start().len());
                return Span::new(start, start + key.len());
            }
        }
        offset += line.len();
    }
    Span::new(0, text.find('\n').unwrap_or(text.len()))
}

/// The bare key at the start of the line of `span`, when it holds a
/// character TOML does not allow unquoted (`prénom = "text"`).
fn unquoted_key(text: &str, span: Span) -> Option<String> {
    let start = text
        .get(..span.start.min(text.len()))?
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let bare = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
    (!key.is_empty() && !key.starts_with(['"', '\'', '[']) && !key.chars().all(bare))
        .then(|| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Project, Vec<Diagnostic>) {
        let mut sources = Sources::new();
        let id = sources.add("flow.toml", text);
        Project::parse(&sources, id)
    }

    #[test]
    fn reads_schema_events_and_settings() {
        let (project, diagnostics) = parse(
            "[project]\ndefault_zone = \"Europe/Paris\"\n[contact]\nemail = \"email\"\nbirthday = { type = \"date\", yearly = true }\nopt = { type = \"bool\", consent = \"sms\" }\n[events.purchase]\nproduct = \"text\"\n",
        );
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(project.default_zone, "Europe/Paris");
        assert!(project.schema.fields["birthday"].yearly);
        assert_eq!(project.schema.fields["opt"].consent, Some(Channel::Sms));
        assert!(project.schema.events.contains_key("purchase"));
        assert!(
            project.schema.events.contains_key("opened"),
            "built-ins stay"
        );
        assert!(!project.schema.events.contains_key("visit"), "defaults go");
    }

    #[test]
    fn reads_webhook_settings_and_reports_bad_ones() {
        let (project, diagnostics) = parse(
            "[webhooks.crm]\nurl_env = \"CRM_URL\"\nsecret_env = \"CRM_SECRET\"\n[webhooks.erp]\n",
        );
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(
            project.webhook_settings["crm"],
            WebhookSettings {
                url_env: Some("CRM_URL".into()),
                secret_env: Some("CRM_SECRET".into())
            }
        );
        assert_eq!(project.webhook_settings["erp"], WebhookSettings::default());
        let (_, diagnostics) =
            parse("[webhooks.crm]\nurl = \"https://x\"\nsecret_env = \"not a name\"\n");
        assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
        let helps: Vec<_> = diagnostics
            .iter()
            .filter_map(|d| d.help.as_deref())
            .collect();
        assert!(
            helps
                .iter()
                .any(|h| h.contains("`url_env = \"CRM_WEBHOOK_URL\"`")),
            "{helps:?}"
        );
        let labels: Vec<_> = diagnostics.iter().map(|d| format!("{d:?}")).collect();
        assert!(
            labels.iter().all(|l| !l.contains("https://x")),
            "a URL is not echoed: {labels:?}"
        );
        assert!(
            helps.iter().any(|h| h.contains("CRM_WEBHOOK_SECRET")),
            "{helps:?}"
        );
    }

    #[test]
    fn reads_the_sample_contact_and_reports_bad_values() {
        let (project, diagnostics) =
            parse("[editor]\nsample_contact = \"data/contacts.csv#c001\"\n");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let sample = project.sample_contact.unwrap();
        assert_eq!(
            (sample.file.as_str(), sample.id.as_str()),
            ("data/contacts.csv", "c001")
        );
        for bad in ["\"contacts.csv\"", "\"#c001\"", "3"] {
            let (project, diagnostics) = parse(&format!("[editor]\nsample_contact = {bad}\n"));
            assert_eq!(project.sample_contact, None);
            assert_eq!(diagnostics.len(), 1, "{bad}");
            assert_eq!(diagnostics[0].code, Code::InvalidProject);
            assert!(diagnostics[0]
                .help
                .as_deref()
                .unwrap()
                .contains("contacts.csv#c001"));
        }
        let (_, diagnostics) = parse("[editor]\nsample_contacts = \"x#1\"\n");
        assert_eq!(
            diagnostics[0].help.as_deref(),
            Some("did you mean `sample_contact`?")
        );
    }

    #[test]
    fn finds_declarations_by_table_and_key() {
        let text = "[contact]\nemail = \"email\"\n  birthday = \"date\"\n[events.purchase]\nbirthday = \"text\"\n";
        let span = declaration_span(text, &["contact", "birthday"]).unwrap();
        assert_eq!(&text[span.start..span.end], "birthday");
        assert_eq!(span.start, text.find("  birthday").unwrap() + 2);
        let span = declaration_span(text, &["events", "purchase"]).unwrap();
        assert_eq!(&text[span.start..span.end], "purchase");
        let span = declaration_span(text, &["events", "purchase", "birthday"]).unwrap();
        assert_eq!(span.start, text.rfind("birthday").unwrap());
        assert_eq!(declaration_span(text, &["contact", "phone"]), None);
    }

    #[test]
    fn reports_unknown_types_with_suggestions() {
        let (_, diagnostics) = parse("[contact]\nbirthday = \"dat\"\n[contacts]\n");
        assert_eq!(diagnostics.len(), 2);
        assert_eq!(diagnostics[0].help.as_deref(), Some("did you mean `date`?"));
        assert_eq!(
            diagnostics[1].help.as_deref(),
            Some("did you mean `[contact]`?")
        );
    }
}
