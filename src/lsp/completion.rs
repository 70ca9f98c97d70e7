//! Completion from what precedes the cursor, read as words (the text being
//! typed rarely parses): templates after `send`, a channel's templates
//! after `send sms`, link names after `clicked X link`, units after a
//! number, date fields and events after `when`/`on`, fields and the
//! grammar's keywords elsewhere.

use flowc_compiler::check::flow_name_from_path;
use flowc_compiler::project::schema::FieldType;
use flowc_compiler::syntax::ast::{Channel, Item, Unit};
use flowc_compiler::syntax::keywords::keywords;
use lsp_types::{CompletionItem, CompletionItemKind};

use super::workspace::Analysis;

const CHANNELS: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Push];
const UNITS: [(Unit, &str); 6] = [
    (Unit::Days, "days"),
    (Unit::Weeks, "weeks"),
    (Unit::Months, "months"),
    (Unit::Years, "years"),
    (Unit::Hours, "hours"),
    (Unit::Minutes, "minutes"),
];

/// The completions at byte `offset` of the analysed document.
pub fn complete(analysis: &Analysis, offset: usize) -> Vec<CompletionItem> {
    let text = analysis.text();
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let partial_start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .last()
        .map_or(offset, |(i, _)| i);
    let partial = &before[partial_start..];
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..partial_start];
    // Inside a string: `clicked offer link "` completes the link names.
    if line.matches('"').count() % 2 == 1 {
        let opening = line.rfind('"').unwrap_or(0);
        let words = words(&line[..opening]);
        return match words.as_slice() {
            [.., "clicked", message, "link"] => links(analysis, message, false),
            _ => Vec::new(),
        };
    }
    if partial.starts_with(|c: char| c.is_ascii_digit()) {
        let digits: String = partial.chars().take_while(char::is_ascii_digit).collect();
        return UNITS
            .iter()
            .map(|(unit, name)| {
                item(
                    format!("{digits}{}", unit.suffix()),
                    CompletionItemKind::UNIT,
                    name,
                )
            })
            .collect();
    }
    // The last few hundred bytes hold the words that matter.
    let mut from = partial_start.saturating_sub(400);
    while !before.is_char_boundary(from) {
        from -= 1;
    }
    let context = &before[from..partial_start];
    if context.ends_with("event.") {
        return event_attributes(analysis, context);
    }
    let words = words(context);
    match words.as_slice() {
        [.., "send"] => {
            let mut items = templates(analysis, None);
            items.extend(
                CHANNELS
                    .iter()
                    .map(|c| item(c.name(), CompletionItemKind::KEYWORD, "channel")),
            );
            items
        }
        [.., "send", channel] if Channel::from_name(channel).is_some() => {
            templates(analysis, Channel::from_name(channel))
        }
        [.., "clicked", message, "link"] => links(analysis, message, true),
        [.., "sent" | "opened" | "clicked" | "used" | "unused" | "since"] => {
            templates(analysis, None)
        }
        [.., "anniversary", "of"] => date_fields(analysis),
        [.., "no"] => events(analysis),
        [.., "consent"] => CHANNELS
            .iter()
            .map(|c| item(c.name(), CompletionItemKind::KEYWORD, "channel"))
            .collect(),
        [.., "webhook"] => analysis
            .project
            .webhooks
            .iter()
            .flatten()
            .map(|w| item(w, CompletionItemKind::FUNCTION, "webhook"))
            .collect(),
        [.., "priority" | ">"] => flows(analysis),
        [.., "when" | "on" | "before" | "after" | "yearly" | "once"] => {
            let mut items = date_fields(analysis);
            items.extend(events(analysis));
            items.push(item(
                "anniversary of",
                CompletionItemKind::KEYWORD,
                "a yearly date field",
            ));
            for word in ["yearly", "once", "no"] {
                items.push(item(word, CompletionItemKind::KEYWORD, "keyword"));
            }
            items
        }
        _ => {
            let mut items: Vec<CompletionItem> = analysis
                .project
                .schema
                .fields
                .iter()
                .map(|(name, def)| item(name, CompletionItemKind::FIELD, def.ty.name()))
                .collect();
            items.extend(
                keywords()
                    .iter()
                    .map(|k| item(*k, CompletionItemKind::KEYWORD, "keyword")),
            );
            items
        }
    }
}

/// The words of a text, with `;`, `{`, `}`, `(`, `)` and `>` as words of
/// their own.
fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for chunk in text.split_whitespace() {
        let mut rest = chunk;
        while let Some(i) = rest.find([';', '{', '}', '(', ')', '>']) {
            if i > 0 {
                out.push(&rest[..i]);
            }
            out.push(&rest[i..i + 1]);
            rest = &rest[i + 1..];
        }
        if !rest.is_empty() {
            out.push(rest);
        }
    }
    out
}

fn item(label: impl Into<String>, kind: CompletionItemKind, detail: &str) -> CompletionItem {
    CompletionItem {
        label: label.into(),
        kind: Some(kind),
        detail: Some(detail.to_string()),
        ..CompletionItem::default()
    }
}

/// The templates (with a version for `channel`, when given).
fn templates(analysis: &Analysis, channel: Option<Channel>) -> Vec<CompletionItem> {
    let Some(templates) = &analysis.project.templates else {
        return Vec::new();
    };
    templates
        .by_name
        .iter()
        .filter(|(_, t)| channel.is_none_or(|c| t.variants.contains_key(&c)))
        .map(|(name, t)| {
            let channels: Vec<&str> = t.variants.keys().map(|c| c.name()).collect();
            item(
                name,
                CompletionItemKind::FILE,
                &format!("template ({})", channels.join(", ")),
            )
        })
        .collect()
}

fn links(analysis: &Analysis, message: &str, quoted: bool) -> Vec<CompletionItem> {
    let Some(template) = analysis
        .project
        .templates
        .as_ref()
        .and_then(|t| t.get(message))
    else {
        return Vec::new();
    };
    let mut names: Vec<&String> = template.variants.values().flat_map(|v| &v.links).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let label = if quoted {
                format!("\"{name}\"")
            } else {
                name.clone()
            };
            item(
                label,
                CompletionItemKind::VALUE,
                &format!("link of `{message}`"),
            )
        })
        .collect()
}

fn date_fields(analysis: &Analysis) -> Vec<CompletionItem> {
    analysis
        .project
        .schema
        .fields
        .iter()
        .filter(|(_, f)| matches!(f.ty, FieldType::Date | FieldType::DateTime))
        .map(|(name, f)| item(name, CompletionItemKind::FIELD, f.ty.name()))
        .collect()
}

fn events(analysis: &Analysis) -> Vec<CompletionItem> {
    analysis
        .project
        .schema
        .events
        .keys()
        .map(|name| item(name, CompletionItemKind::EVENT, "event"))
        .collect()
}

/// `event.` in a rule: the attributes of the event after its `on`/`when`.
fn event_attributes(analysis: &Analysis, context: &str) -> Vec<CompletionItem> {
    let words = words(context);
    let event = words
        .iter()
        .rposition(|w| *w == "on" || *w == "when")
        .and_then(|i| words.get(i + 1));
    let Some(def) = event.and_then(|e| analysis.project.schema.events.get(*e)) else {
        return Vec::new();
    };
    def.attributes
        .iter()
        .map(|(name, ty)| item(name, CompletionItemKind::FIELD, ty.name()))
        .collect()
}

/// The flows of the project: `flow` blocks and files of loose rules.
fn flows(analysis: &Analysis) -> Vec<CompletionItem> {
    let mut names = Vec::new();
    for &id in &analysis.flow_files {
        let (file, _) = flowc_compiler::syntax::parse(id, analysis.sources.text(id));
        let mut loose = false;
        for item in &file.items {
            match item {
                Item::Flow(flow) => names.push(flow.name.node.clone()),
                Item::Rule(_) | Item::Setting(_) => loose = true,
                Item::Policy(_) => {}
            }
        }
        if loose {
            names.push(flow_name_from_path(analysis.sources.path(id)));
        }
    }
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| item(name, CompletionItemKind::MODULE, "flow"))
        .collect()
}
