//! Go to definition: a template name to its file(s), a flow named in a
//! priority to its declaration, a field, event or webhook to its line in
//! `flow.toml`, a link to its line in the template's front matter.

use flowc_compiler::check::flow_name_from_path;
use flowc_compiler::project::declaration_span;
use flowc_compiler::source::SourceId;
use flowc_compiler::syntax::ast::{File, Item};
use flowc_compiler::syntax::Span;
use lsp_types::Location;

use super::convert::LineIndex;
use super::diagnostics::uri_of;
use super::locate::{self, Role, Target};
use super::workspace::Analysis;

pub fn definition(analysis: &Analysis, file: &File, offset: usize) -> Vec<Location> {
    let places: Vec<(SourceId, Span)> = match locate::at(file, offset) {
        None => Vec::new(),
        Some(Target::Link(found)) => templates(analysis, &found.message.node)
            .into_iter()
            .filter_map(|(id, _)| {
                let span =
                    declaration_span(analysis.sources.text(id), &["links", &found.link.node])?;
                Some((id, span))
            })
            .collect(),
        Some(Target::Name(found)) => match found.role {
            Role::Template(_) | Role::Message => templates(analysis, found.name),
            Role::Field => in_project(analysis, &["contact", found.name]),
            Role::Event => in_project(analysis, &["events", found.name]),
            Role::Webhook => in_project(analysis, &["webhooks", found.name]),
            Role::EventAttribute(Some(event)) => {
                in_project(analysis, &["events", &event, found.name])
            }
            Role::EventAttribute(None) => Vec::new(),
            Role::Flow => flow(analysis, found.name),
            Role::Name | Role::Trigger => {
                let schema = &analysis.project.schema;
                if schema.fields.contains_key(found.name) {
                    in_project(analysis, &["contact", found.name])
                } else if schema.events.contains_key(found.name) {
                    in_project(analysis, &["events", found.name])
                } else {
                    templates(analysis, found.name)
                }
            }
        },
    };
    places
        .into_iter()
        .filter_map(|(id, span)| {
            let range = LineIndex::new(analysis.sources.text(id)).range(span);
            Some(Location::new(uri_of(analysis, id)?, range))
        })
        .collect()
}

/// Each channel's file of a template (its start).
fn templates(analysis: &Analysis, name: &str) -> Vec<(SourceId, Span)> {
    let Some(template) = analysis
        .project
        .templates
        .as_ref()
        .and_then(|t| t.get(name))
    else {
        return Vec::new();
    };
    template
        .variants
        .values()
        .map(|v| (v.source, Span::new(0, 0)))
        .collect()
}

fn in_project(analysis: &Analysis, path: &[&str]) -> Vec<(SourceId, Span)> {
    let Some(source) = analysis.project.source else {
        return Vec::new();
    };
    declaration_span(analysis.sources.text(source), path)
        .map(|span| vec![(source, span)])
        .unwrap_or_default()
}

/// A `flow NAME { }` block of the project, or the file whose loose rules
/// make the flow `NAME`.
fn flow(analysis: &Analysis, name: &str) -> Vec<(SourceId, Span)> {
    let mut whole_files = Vec::new();
    for &id in &analysis.flow_files {
        let (file, _) = flowc_compiler::syntax::parse(id, analysis.sources.text(id));
        for item in &file.items {
            if let Item::Flow(flow) = item {
                if flow.name.node == name {
                    return vec![(id, flow.name.span)];
                }
            }
        }
        let loose = file
            .items
            .iter()
            .any(|i| matches!(i, Item::Rule(_) | Item::Setting(_)));
        if loose && flow_name_from_path(analysis.sources.path(id)) == name {
            whole_files.push((id, Span::new(0, 0)));
        }
    }
    whole_files
}
