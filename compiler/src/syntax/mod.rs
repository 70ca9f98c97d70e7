//! Text → AST. pest stays inside this module: `parse` returns the spanned
//! AST and diagnostics, never pest types.

pub mod ast;
mod build;
mod grammar;
pub mod keywords;
mod parallel;
mod recovery;
mod rule_names;
mod span;
mod tree;

pub use span::{Span, Spanned};
pub use tree::{tree, SyntaxKind, SyntaxNode};

/// Whether `name` can be written as a name: not a reserved word, and made
/// of letters, digits and `_` (starting with a letter or `_`).
pub fn is_plain_name(name: &str) -> bool {
    FlowParser::parse(Rule::ident, name)
        .is_ok_and(|mut pairs| pairs.next().is_some_and(|p| p.as_str().len() == name.len()))
}

use pest::Parser;

use crate::diagnostics::{Code, Diagnostic};
use crate::source::SourceId;
use grammar::{FlowParser, Rule};

/// The deepest nesting of `(` and `[` accepted. Deeper input is refused
/// before pest sees it, so that no input can exhaust the stack.
pub const MAX_NESTING: usize = 64;

/// How many syntax errors one file reports before giving up on it.
const MAX_SYNTAX_ERRORS: usize = 20;

/// Parses one file. Every syntax error is reported (up to a limit): after
/// each one the parser skips to the next rule or setting and goes on. The
/// returned AST holds every item that parsed. A big file that parses is
/// parsed on two threads (`parallel`), with the same result.
pub fn parse(source: SourceId, text: &str) -> (ast::File, Vec<Diagnostic>) {
    if let Some(d) = too_deep(source, text) {
        return (ast::File { items: Vec::new() }, vec![d]);
    }
    parse_with_recovery(source, text, parallel::MIN_BYTES)
}

/// `parse` without the nesting check and the two threads.
#[cfg(test)]
fn parse_on_one_thread(source: SourceId, text: &str) -> (ast::File, Vec<Diagnostic>) {
    parse_with_recovery(source, text, usize::MAX)
}

/// The parse and recovery loop. A text of `min_parallel_bytes` or more is
/// first parsed on two threads, which give the tree of a text that parses,
/// and the error of one that does not when they can tell it exactly (see
/// `parallel`); otherwise it is parsed on one thread. So diagnostics and
/// recovery never depend on the threads. After the second error, two
/// threads are tried again only once the errors are past the middle.
fn parse_with_recovery(
    source: SourceId,
    text: &str,
    min_parallel_bytes: usize,
) -> (ast::File, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut text = text.to_string();
    let mut last_error = None;
    let mut on_two_threads = true;
    let mut errors = 0;
    for _ in 0..MAX_SYNTAX_ERRORS {
        let error = if on_two_threads {
            match parallel::parse(source, &text, min_parallel_bytes) {
                parallel::Outcome::Parsed(file, mut found) => {
                    diagnostics.append(&mut found);
                    return (file, diagnostics);
                }
                parallel::Outcome::Failed(error) => Some(error),
                parallel::Outcome::Unknown => None,
            }
        } else {
            None
        };
        let error = match error {
            Some(error) => error,
            None => match FlowParser::parse(Rule::file, &text) {
                Ok(mut pairs) => {
                    let file_pair = pairs.next().expect("grammar: file");
                    let mut builder = build::Builder {
                        source,
                        diagnostics: &mut diagnostics,
                    };
                    let file = builder.file(file_pair);
                    return (file, diagnostics);
                }
                Err(error) => error,
            },
        };
        let diagnostic = recovery::syntax_diagnostic(source, &text, &error);
        let at = diagnostic.primary().span.start;
        // A blanked region that fails at the same place again means
        // recovery made no progress: stop rather than repeat.
        if last_error == Some(at) {
            break;
        }
        last_error = Some(at);
        // The next error, if any, comes after this one: before the middle,
        // one thread finds it sooner than two finish their halves. After a
        // first error, the text is most likely right (a file being edited).
        errors += 1;
        on_two_threads = errors == 1 || at >= text.len() / 2;
        diagnostics.push(diagnostic);
        if !recovery::blank_failed_item(&mut text, at) {
            break;
        }
    }
    (ast::File { items: Vec::new() }, diagnostics)
}

/// Refuses nesting deeper than `MAX_NESTING`, outside strings and comments.
/// Works on bytes: every character it looks for is ASCII, and no byte of a
/// longer UTF-8 character is.
pub(crate) fn too_deep(source: SourceId, text: &str) -> Option<Diagnostic> {
    // No nesting is deeper than the number of opening brackets: a text with
    // few of them (most files, however long) needs no scan of its strings
    // and comments. Counting bytes is vectorised.
    let openers = text.bytes().filter(|&c| c == b'(' || c == b'[').count();
    if openers <= MAX_NESTING {
        return None;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut in_comment = false;
    let mut escaped = false;
    let mut previous = 0u8;
    for (i, &c) in text.as_bytes().iter().enumerate() {
        if in_comment {
            in_comment = c != b'\n';
        } else if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' || c == b'\n' {
                in_string = false;
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'#' => in_comment = true,
                b'/' if previous == b'/' => in_comment = true,
                b'(' | b'[' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Some(
                            Diagnostic::new(
                                Code::TooDeep,
                                source,
                                Span::new(i, i + 1),
                                format!("brackets nested more than {MAX_NESTING} deep here"),
                            )
                            .with_help("split the condition into simpler parts"),
                        );
                    }
                }
                b')' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        previous = c;
    }
    None
}

#[cfg(test)]
mod tests;
