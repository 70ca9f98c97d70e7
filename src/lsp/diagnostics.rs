//! The compiler's diagnostics as LSP diagnostics, grouped by the file of
//! their primary label: the same code, severity and message as `flowc
//! check`, other labels as related information, help and notes appended.

use std::collections::{BTreeMap, HashMap};

use flowc_compiler::diagnostics::{Diagnostic, Severity};
use flowc_compiler::source::SourceId;
use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Uri};

use super::convert::{path_to_uri, LineIndex};
use super::workspace::Analysis;

/// Every diagnostic of an analysis, by the URI of the file it is about.
/// Every flow file of the analysis has an entry, empty when it is clean.
pub fn by_uri(analysis: &Analysis) -> BTreeMap<String, (Uri, Vec<lsp_types::Diagnostic>)> {
    let mut indexes: HashMap<SourceId, LineIndex> = HashMap::new();
    let mut out: BTreeMap<String, (Uri, Vec<lsp_types::Diagnostic>)> = BTreeMap::new();
    for &id in &analysis.flow_files {
        if let Some(uri) = uri_of(analysis, id) {
            out.entry(uri.as_str().to_string())
                .or_insert((uri, Vec::new()));
        }
    }
    for diagnostic in &analysis.diagnostics {
        let primary = diagnostic.primary();
        let Some(uri) = uri_of(analysis, primary.source) else {
            continue;
        };
        let converted = convert(analysis, diagnostic, &mut indexes);
        out.entry(uri.as_str().to_string())
            .or_insert((uri, Vec::new()))
            .1
            .push(converted);
    }
    out
}

/// The URI of a source: the editor's for the analysed document, else that
/// of the file it was read from.
pub fn uri_of(analysis: &Analysis, id: SourceId) -> Option<Uri> {
    if id == analysis.document {
        return Some(analysis.uri.clone());
    }
    path_to_uri(&analysis.path_of(id))
}

fn convert<'a>(
    analysis: &'a Analysis,
    diagnostic: &Diagnostic,
    indexes: &mut HashMap<SourceId, LineIndex<'a>>,
) -> lsp_types::Diagnostic {
    let mut range_of = |id: SourceId, span| {
        indexes
            .entry(id)
            .or_insert_with(|| LineIndex::new(analysis.sources.text(id)))
            .range(span)
    };
    let primary = diagnostic.primary();
    let mut message = format!("{}: {}", diagnostic.message, primary.message);
    if let Some(help) = &diagnostic.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    for note in &diagnostic.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = diagnostic
        .labels
        .iter()
        .filter(|l| !l.primary)
        .filter_map(|l| {
            Some(DiagnosticRelatedInformation {
                location: Location::new(uri_of(analysis, l.source)?, range_of(l.source, l.span)),
                message: l.message.clone(),
            })
        })
        .collect();
    lsp_types::Diagnostic {
        range: range_of(primary.source, primary.span),
        severity: Some(match diagnostic.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(diagnostic.code.id().to_string())),
        source: Some("flowc".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    }
}
