//! Hover: what a name under the cursor stands for, from the project: a
//! field's type and where it is declared, a template's channels, subject,
//! variables and links, an event's attributes, and for a trigger the next
//! dates it is due for the project's sample contact.

use flowc_compiler::project::declaration_span;
use flowc_compiler::syntax::ast::File;
use flowc_compiler::syntax::Span;
use flowc_compiler::ZoneDb;

use super::locate::{self, Role, Target};
use super::workspace::Analysis;

/// The hover text (Markdown) for the name at `offset`, if any.
pub fn hover(
    analysis: &Analysis,
    file: &File,
    offset: usize,
    zones: &ZoneDb,
) -> Option<(String, Span)> {
    let hover = match locate::at(file, offset)? {
        Target::Link(found) => {
            let template = analysis
                .project
                .templates
                .as_ref()?
                .get(&found.message.node)?;
            let url = template
                .variants
                .values()
                .find_map(|v| v.link_urls.get(&found.link.node))?;
            let text = format!(
                "link `{}` of `{}`: <{url}>",
                found.link.node, found.message.node
            );
            (text, found.link.span)
        }
        Target::Name(found) => {
            let mut text = match &found.role {
                Role::Template(_) | Role::Message => template(analysis, found.name)
                    .unwrap_or_else(|| format!("message `{}` of this flow", found.name)),
                Role::Field => field(analysis, found.name)?,
                Role::Event => event(analysis, found.name)?,
                Role::EventAttribute(event) => {
                    let event = event.as_deref()?;
                    let ty = analysis
                        .project
                        .schema
                        .events
                        .get(event)?
                        .attributes
                        .get(found.name)?;
                    format!("`{event}.{}`: {}", found.name, ty.name())
                }
                Role::Name | Role::Trigger => field(analysis, found.name)
                    .or_else(|| event(analysis, found.name))
                    .or_else(|| template(analysis, found.name))?,
                Role::Flow => format!("flow `{}`", found.name),
                Role::Webhook => format!(
                    "webhook `{}`{}",
                    found.name,
                    declared_at(analysis, &["webhooks", found.name])
                ),
            };
            if let (Role::Trigger, Some(rule)) = (&found.role, found.rule) {
                if let Some(dates) = super::sample::next_dates(analysis, rule, zones) {
                    text.push_str(&format!("\n\n{dates}"));
                }
            }
            (text, found.span)
        }
    };
    Some(hover)
}

/// `birthday: date, yearly (flow.toml:10)`
fn field(analysis: &Analysis, name: &str) -> Option<String> {
    let def = analysis.project.schema.fields.get(name)?;
    let mut kind = def.ty.name().to_string();
    if def.yearly {
        kind.push_str(", yearly");
    }
    if let Some(channel) = def.consent {
        kind.push_str(&format!(", consent for {}", channel.name()));
    }
    let origin = match analysis.project.source {
        Some(_) => declared_at(analysis, &["contact", name]),
        None => " (standard contact schema)".to_string(),
    };
    Some(format!("`{name}: {kind}`{origin}\n\ncontact field"))
}

fn event(analysis: &Analysis, name: &str) -> Option<String> {
    let def = analysis.project.schema.events.get(name)?;
    let attributes: Vec<String> = def
        .attributes
        .iter()
        .map(|(a, ty)| format!("`{a}: {}`", ty.name()))
        .collect();
    let origin = if def.builtin {
        " (recorded by flowc)".to_string()
    } else {
        declared_at(analysis, &["events", name])
    };
    Some(format!(
        "event `{name}`{origin}\n\nattributes: {}",
        if attributes.is_empty() {
            "none".to_string()
        } else {
            attributes.join(", ")
        }
    ))
}

fn template(analysis: &Analysis, name: &str) -> Option<String> {
    let template = analysis.project.templates.as_ref()?.get(name)?;
    let mut text = format!("template `{name}`");
    for (channel, variant) in &template.variants {
        text.push_str(&format!(
            "\n\n**{}**: `{}`",
            channel.name(),
            relative(analysis, variant.source)
        ));
        if let Some(subject) = &variant.subject {
            text.push_str(&format!("  \nsubject: {subject}"));
        }
        if !variant.variables.is_empty() {
            let vars: Vec<&str> = variant.variables.iter().map(String::as_str).collect();
            text.push_str(&format!("  \nvariables: {}", vars.join(", ")));
        }
        if !variant.links.is_empty() {
            let links: Vec<&str> = variant.links.iter().map(String::as_str).collect();
            text.push_str(&format!("  \nlinks: {}", links.join(", ")));
        }
        if let Some(coupon) = &variant.coupon {
            text.push_str(&format!("  \ncoupon valid {coupon}"));
        }
    }
    Some(text)
}

/// ` (flow.toml:8)`: where the project file declares `path`, or nothing.
fn declared_at(analysis: &Analysis, path: &[&str]) -> String {
    let Some(source) = analysis.project.source else {
        return String::new();
    };
    match declaration_span(analysis.sources.text(source), path) {
        Some(span) => {
            let (line, _) = analysis.sources.line_col(source, span.start);
            format!(" ({}:{line})", relative(analysis, source))
        }
        None => String::new(),
    }
}

/// A source's path relative to the project folder (`templates/offer.email.html`).
pub fn relative(analysis: &Analysis, id: flowc_compiler::source::SourceId) -> String {
    let path = analysis.path_of(id);
    let shown = match &analysis.project_dir {
        Some(dir) => path.strip_prefix(dir).unwrap_or(&path),
        None => &path,
    };
    shown.display().to_string()
}
