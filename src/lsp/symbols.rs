//! Document symbols: the outline of a file. Each flow (a `flow` block, or
//! the file's loose rules, named after the file) with its rules as
//! children, named by their label or their trigger as written; policies.

use flowc_compiler::check::flow_name_from_path;
use flowc_compiler::syntax::ast::{File, Item, Rule};
use flowc_compiler::syntax::Span;
use lsp_types::{DocumentSymbol, SymbolKind};

use super::convert::LineIndex;

pub fn symbols(path: &str, text: &str, file: &File) -> Vec<DocumentSymbol> {
    let index = LineIndex::new(text);
    let mut out = Vec::new();
    let mut loose: Vec<DocumentSymbol> = Vec::new();
    let mut loose_span: Option<Span> = None;
    for item in &file.items {
        match item {
            Item::Flow(flow) => out.push(symbol(
                &index,
                flow.name.node.clone(),
                flow.title.as_ref().map(|t| t.node.clone()),
                SymbolKind::MODULE,
                flow.span,
                flow.name.span,
                flow.rules.iter().map(|r| rule(&index, text, r)).collect(),
            )),
            Item::Policy(policy) => out.push(symbol(
                &index,
                policy
                    .name
                    .as_ref()
                    .map_or_else(|| "policy".to_string(), |n| format!("policy {}", n.node)),
                None,
                SymbolKind::OBJECT,
                policy.span,
                policy.name.as_ref().map_or(policy.span, |n| n.span),
                Vec::new(),
            )),
            Item::Rule(r) => {
                loose_span = Some(loose_span.map_or(r.span, |s| s.to(r.span)));
                loose.push(rule(&index, text, r));
            }
            Item::Setting(setting) => {
                loose_span = Some(loose_span.map_or(setting.span, |s| s.to(setting.span)));
            }
        }
    }
    if let Some(span) = loose_span {
        let name = flow_name_from_path(path);
        let first = Span::new(span.start, span.start);
        out.insert(
            0,
            symbol(&index, name, None, SymbolKind::MODULE, span, first, loose),
        );
    }
    out
}

/// A rule: its label, else its trigger as written (`when birthday - 15d`).
fn rule(index: &LineIndex, text: &str, rule: &Rule) -> DocumentSymbol {
    let start = match &rule.label {
        Some(_) => rule.trigger.span.start,
        None => rule.span.start,
    };
    let trigger = text.get(start..rule.trigger.span.end).unwrap_or("rule");
    let trigger = trigger.split_whitespace().collect::<Vec<_>>().join(" ");
    let (name, detail, selection) = match &rule.label {
        Some(label) => (label.node.clone(), Some(trigger), label.span),
        None => (trigger, None, rule.trigger.span),
    };
    symbol(
        index,
        name,
        detail,
        SymbolKind::FUNCTION,
        rule.span,
        selection,
        Vec::new(),
    )
}

#[allow(deprecated)] // `deprecated` is a field every literal must give
fn symbol(
    index: &LineIndex,
    name: String,
    detail: Option<String>,
    kind: SymbolKind,
    span: Span,
    selection: Span,
    children: Vec<DocumentSymbol>,
) -> DocumentSymbol {
    DocumentSymbol {
        name: if name.is_empty() { "?".into() } else { name },
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: index.range(span),
        selection_range: index.range(selection),
        children: (!children.is_empty()).then_some(children),
    }
}
