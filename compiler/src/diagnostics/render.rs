//! Renders diagnostics: ariadne reports for people, JSON for tools, and
//! GitHub Actions workflow commands for CI annotations.

use std::io::{self, Write};

use ariadne::{CharSet, Color, Config, IndexType, Label as AriadneLabel, Report, ReportKind};
use serde::Serialize;

use super::{Diagnostic, Severity};
use crate::source::{SourceId, Sources};

/// Writes diagnostics for a person, each with the source lines it points
/// at. The sources they point into are indexed once for all of them (only
/// those: indexing a 10,000-line file nobody needs costs more than checking
/// it clean).
pub fn human(
    sources: &Sources,
    diagnostics: &[Diagnostic],
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let used: std::collections::BTreeSet<SourceId> = diagnostics
        .iter()
        .flat_map(|d| d.labels.iter().map(|l| l.source))
        .collect();
    let mut cache = ariadne::sources(
        sources
            .iter()
            .filter(|(id, _)| used.contains(id))
            .map(|(_, file)| (file.path.clone(), file.text.as_str())),
    );
    // The first few of each code in full; the rest of a code counted, so
    // that a file with the same mistake on 30,000 lines prints a page, not
    // 30,000 reports (each with its source line, which may be long).
    // ariadne writes a report in many small pieces: one system call each
    // on an unbuffered stderr (8 s of 10 for 20 reports of a 1.5 MB line).
    let mut out = io::BufWriter::with_capacity(64 * 1024, out);
    let mut shown: std::collections::BTreeMap<super::Code, usize> = Default::default();
    for diagnostic in diagnostics {
        let count = shown.entry(diagnostic.code).or_default();
        *count += 1;
        if *count <= SHOWN_PER_CODE {
            report(sources, diagnostic, color).write(&mut cache, &mut out)?;
        }
    }
    for (code, count) in shown {
        if count > SHOWN_PER_CODE {
            let more = count - SHOWN_PER_CODE;
            let what = match code.severity() {
                Severity::Error if more == 1 => "error",
                Severity::Error => "errors",
                Severity::Warning if more == 1 => "warning",
                Severity::Warning => "warnings",
            };
            writeln!(
                out,
                "... and {more} more [{}] {what} ({}) not shown: `--error-format json` lists them all",
                code.id(),
                code.title()
            )?;
        }
    }
    out.flush()
}

/// How many diagnostics of one code `human` shows in full.
pub const SHOWN_PER_CODE: usize = 20;

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// The ariadne report of one diagnostic.
fn report<'a>(
    sources: &Sources,
    diagnostic: &'a Diagnostic,
    color: bool,
) -> Report<'a, (String, std::ops::Range<usize>)> {
    let kind = match diagnostic.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let primary = diagnostic.primary();
    let path = |id: SourceId| sources.path(id).to_string();
    // Within the text, and on character boundaries: a span computed
    // from another tool's positions (a template engine's byte offsets) may
    // cut through an `é`, and ariadne slices the line there.
    let clamp = |id: SourceId, span: crate::syntax::Span| {
        let text = sources.text(id);
        let start = floor_boundary(text, span.start.min(text.len()));
        let end = ceil_boundary(text, span.end.min(text.len())).max(start);
        start..end
    };
    let mut report = Report::build(
        kind,
        (path(primary.source), clamp(primary.source, primary.span)),
    )
    .with_code(diagnostic.code.id())
    .with_message(&diagnostic.message)
    .with_config(
        Config::default()
            .with_color(color)
            .with_index_type(IndexType::Byte)
            .with_char_set(if color {
                CharSet::Unicode
            } else {
                CharSet::Ascii
            }),
    );
    // ariadne starts a new block (headed with the primary location) whenever
    // a label's line precedes the previous one: show labels in source order,
    // the primary's source first, so each source is one block.
    let mut ordered: Vec<&super::Label> = diagnostic.labels.iter().collect();
    ordered.sort_by_key(|l| (l.source != primary.source, l.source, l.span.start));
    for (order, label) in ordered.into_iter().enumerate() {
        let mut l = AriadneLabel::new((path(label.source), clamp(label.source, label.span)))
            .with_message(&label.message)
            .with_order(order as i32);
        if color {
            l = l.with_color(if label.primary {
                match diagnostic.severity {
                    Severity::Error => Color::Red,
                    Severity::Warning => Color::Yellow,
                }
            } else {
                Color::Blue
            });
        }
        report = report.with_label(l);
    }
    if let Some(help) = &diagnostic.help {
        report = report.with_help(help);
    }
    for note in &diagnostic.notes {
        report = report.with_note(note);
    }
    report.finish()
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    start: usize,
    end: usize,
    message: &'a str,
    primary: bool,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: Severity,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    labels: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
    notes: &'a [String],
}

/// One JSON object per diagnostic (1-based lines and columns, byte offsets).
pub fn json_value(sources: &Sources, diagnostic: &Diagnostic) -> serde_json::Value {
    let primary = diagnostic.primary();
    let (line, column) = sources.line_col(primary.source, primary.span.start);
    let labels = diagnostic
        .labels
        .iter()
        .map(|l| {
            let (line, column) = sources.line_col(l.source, l.span.start);
            let (end_line, end_column) = sources.line_col(l.source, l.span.end);
            JsonLabel {
                file: sources.path(l.source),
                line,
                column,
                end_line,
                end_column,
                start: l.span.start,
                end: l.span.end,
                message: &l.message,
                primary: l.primary,
            }
        })
        .collect();
    serde_json::to_value(JsonDiagnostic {
        code: diagnostic.code.id(),
        severity: diagnostic.severity,
        message: &diagnostic.message,
        file: sources.path(primary.source),
        line,
        column,
        labels,
        help: diagnostic.help.as_deref(),
        notes: &diagnostic.notes,
    })
    .unwrap_or(serde_json::Value::Null)
}

/// `::error file=F,line=L,col=C,endLine=..,endColumn=..,title=CODE::message`
pub fn github(sources: &Sources, diagnostic: &Diagnostic) -> String {
    let primary = diagnostic.primary();
    let (line, col) = sources.line_col(primary.source, primary.span.start);
    let (end_line, end_col) = sources.line_col(primary.source, primary.span.end);
    let level = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut message = format!("{}: {}", diagnostic.message, primary.message);
    if let Some(help) = &diagnostic.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    format!(
        "::{level} file={},line={line},col={col},endLine={end_line},endColumn={end_col},title={}::{}",
        escape_property(sources.path(primary.source)),
        diagnostic.code.id(),
        escape_data(&message)
    )
}

/// Workflow-command escaping of a message.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Workflow-command escaping of a property value.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::Code;
    use crate::syntax::Span;

    #[test]
    fn repeated_diagnostics_are_shown_a_few_times_then_counted() {
        let mut sources = Sources::new();
        let text = "x\n".repeat(50);
        let id = sources.add("many.flow", text);
        let diagnostics: Vec<Diagnostic> = (0..50)
            .map(|i| {
                Diagnostic::new(
                    super::super::Code::Syntax,
                    id,
                    crate::syntax::Span::new(i * 2, i * 2 + 1),
                    "here",
                )
            })
            .collect();
        let mut out = Vec::new();
        human(&sources, &diagnostics, false, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out.matches("[E0001] Error").count(), SHOWN_PER_CODE);
        assert!(
            out.ends_with("... and 30 more [E0001] errors (syntax error) not shown: `--error-format json` lists them all\n"),
            "{out}"
        );
    }

    #[test]
    fn a_span_inside_a_multibyte_letter_is_widened_to_whole_letters() {
        let mut sources = Sources::new();
        let id = sources.add("t.txt", "Bonjour {{ prénom }}\n");
        // Byte 13 is inside `é` (bytes 13..15): another tool's position.
        for (start, end) in [(13, 14), (14, 14), (12, 14), (14, 99)] {
            let diagnostic =
                Diagnostic::new(Code::InvalidTemplate, id, Span { start, end }, "here");
            let mut out = Vec::new();
            human(&sources, std::slice::from_ref(&diagnostic), false, &mut out).expect("rendered");
            assert!(String::from_utf8_lossy(&out).contains("prénom"));
        }
    }
}
