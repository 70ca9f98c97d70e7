//! `flowc fmt`: one canonical layout for `.flow` files.
//!
//! The formatter prints the concrete syntax tree (`syntax::tree`) token by
//! token, so every token keeps its spelling; it decides only the spaces,
//! line breaks and indentation, drops the optional `;` separators, and
//! puts every comment back where it stood. Blank lines between items are
//! kept (one at most).
//!
//! Before it returns, it parses its own output and checks that the tokens
//! and the comments are the same as the input's: a formatting that would
//! change what a file means is refused, never written.

mod comments;
mod layout;
mod pieces;

use comments::{blank_line_between, comments, newline_between, Comment};
use layout::{layout, CommentQueue};
use pieces::Pieces;

use crate::diagnostics::Diagnostic;
use crate::source::SourceId;
use crate::syntax::{tree, SyntaxKind as K, SyntaxNode};

pub use layout::WIDTH;

/// Why a text was not formatted.
#[derive(Debug)]
pub enum FormatError {
    /// The text does not parse: its syntax errors, as `flowc check` gives them.
    Syntax(Vec<Diagnostic>),
    /// The formatted text would not mean the same (a formatter bug).
    Changed(String),
}

/// The canonical layout of `text`, or why it has none.
pub fn format_source(source: SourceId, text: &str) -> Result<String, FormatError> {
    let root = tree(source, text).map_err(FormatError::Syntax)?;
    let found = comments(text);
    let formatted = Printer::new(text, &found).file(&root);
    let again = tree(source, &formatted).map_err(|errors| {
        FormatError::Changed(format!(
            "the formatted text does not parse ({} errors)",
            errors.len()
        ))
    })?;
    if let Some(difference) = first_difference(text, &root, &formatted, &again) {
        return Err(FormatError::Changed(difference));
    }
    Ok(formatted)
}

/// Where two texts differ in tokens or comments, if they do.
fn first_difference(
    text: &str,
    root: &SyntaxNode,
    formatted: &str,
    again: &SyntaxNode,
) -> Option<String> {
    let before = root.tokens();
    let after = again.tokens();
    for (i, (a, b)) in before.iter().zip(&after).enumerate() {
        let (a_text, b_text) = (
            &text[a.span.start..a.span.end],
            &formatted[b.span.start..b.span.end],
        );
        // Blanks inside a duration (`15   days`) are layout, not meaning.
        let same = |x: &str, y: &str| {
            if a.kind == K::duration {
                x.split_whitespace().eq(y.split_whitespace())
            } else {
                x == y
            }
        };
        if a.kind != b.kind || !same(a_text, b_text) {
            return Some(format!(
                "token {i} changed: {:?} `{a_text}` became {:?} `{b_text}`",
                a.kind, b.kind
            ));
        }
    }
    if before.len() != after.len() {
        return Some(format!("{} tokens became {}", before.len(), after.len()));
    }
    let texts = |found: Vec<Comment>| found.into_iter().map(|c| c.text).collect::<Vec<_>>();
    if texts(comments(text)) != texts(comments(formatted)) {
        return Some("a comment was lost or changed".into());
    }
    None
}

const INDENT: usize = 2;

/// Comments at the end of consecutive lines start in one column, one
/// space after the longest code among them. `trailing` holds each such
/// line and the byte length of its code.
fn align(lines: &mut [String], trailing: &[(usize, usize)]) {
    let width =
        |lines: &[String], (line, code): (usize, usize)| lines[line][..code].chars().count();
    let mut i = 0;
    while i < trailing.len() {
        let mut j = i + 1;
        while j < trailing.len() && trailing[j].0 == trailing[j - 1].0 + 1 {
            j += 1;
        }
        let column = trailing[i..j]
            .iter()
            .map(|&t| width(lines, t))
            .max()
            .unwrap_or(0);
        for &(line, code) in &trailing[i..j] {
            let padding = " ".repeat(column - width(lines, (line, code)));
            lines[line].insert_str(code, &padding);
        }
        i = j;
    }
}

struct Printer<'t> {
    text: &'t str,
    comments: CommentQueue<'t>,
    lines: Vec<String>,
    /// Lines ending with an item's comment: (line, width of the code).
    trailing_comments: Vec<(usize, usize)>,
    /// The end in the source of what was printed last: blank lines are
    /// kept where the source had one after it.
    last_end: usize,
}

impl<'t> Printer<'t> {
    fn new(text: &'t str, comments: &'t [Comment]) -> Printer<'t> {
        Printer {
            text,
            comments: CommentQueue { comments, next: 0 },
            lines: Vec::new(),
            trailing_comments: Vec::new(),
            last_end: 0,
        }
    }

    fn file(mut self, root: &SyntaxNode) -> String {
        let mut first = true;
        for item in &root.children {
            self.item(item, 0, !first);
            first = false;
        }
        self.leading(usize::MAX, 0, !first);
        align(&mut self.lines, &self.trailing_comments);
        let mut out = self.lines.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        out
    }

    /// A blank line if the source had one before `offset`.
    fn blank_line(&mut self, offset: usize, allowed: bool) {
        let already = self.lines.last().is_some_and(String::is_empty);
        if allowed && !already && blank_line_between(self.text, self.last_end, offset) {
            self.lines.push(String::new());
        }
    }

    /// The comments on lines of their own before `offset`. Returns whether
    /// a blank line may come next.
    fn leading(&mut self, offset: usize, indent: usize, blank_allowed: bool) -> bool {
        let mut blank_allowed = blank_allowed;
        while let Some(comment) = self.comments.before(offset) {
            self.blank_line(comment.span.start, blank_allowed);
            self.lines
                .push(format!("{}{}", " ".repeat(indent), comment.text));
            self.last_end = comment.span.end;
            self.comments.take();
            blank_allowed = true;
        }
        blank_allowed
    }

    /// A comment on the same line after `offset` ends the last line.
    fn trailing(&mut self, offset: usize) {
        let Some(comment) = self.comments.before(usize::MAX) else {
            return;
        };
        if comment.span.start >= offset && !newline_between(self.text, offset, comment.span.start) {
            let index = self.lines.len().saturating_sub(1);
            if let Some(line) = self.lines.get_mut(index) {
                self.trailing_comments.push((index, line.len()));
                line.push(' ');
                line.push_str(&comment.text);
            }
            self.last_end = comment.span.end;
            self.comments.take();
        }
    }

    /// An item with the comments before it and the one after it.
    fn item(&mut self, item: &SyntaxNode, indent: usize, blank_allowed: bool) {
        let blank_allowed = self.leading(item.span.start, indent, blank_allowed);
        self.blank_line(item.span.start, blank_allowed);
        match item.kind {
            K::flow_block | K::policy_block => self.block(item, indent),
            _ => {
                let mut pieces = Pieces::new(self.text, item.span.start);
                pieces.node(item);
                self.lay_out(&pieces, indent);
            }
        }
        // A block ends with its `}`, which is not a token of the tree.
        let end = match item.kind {
            K::flow_block | K::policy_block => item.span.end,
            _ => item.end(),
        };
        self.last_end = end;
        self.trailing(end);
    }

    fn lay_out(&mut self, pieces: &Pieces, indent: usize) {
        if pieces.list.is_empty() {
            return;
        }
        let lines = layout(self.text, &pieces.list, indent, &mut self.comments);
        self.lines.extend(lines);
    }

    /// `flow NAME "title" {` items `}`
    fn block(&mut self, block: &SyntaxNode, indent: usize) {
        let is_item = |n: &SyntaxNode| {
            matches!(
                n.kind,
                K::rule_decl | K::setting | K::cap | K::priority | K::quiet_hours
            )
        };
        let mut header = Pieces::new(self.text, block.span.start);
        for child in block.children.iter().take_while(|c| !is_item(c)) {
            header.node(child);
        }
        header.punctuation('{', true);
        self.lay_out(&header, indent);
        let open = match header.list.last() {
            Some(pieces::Piece::Token { end, .. }) => *end,
            _ => block.span.start,
        };
        self.last_end = open;
        self.trailing(open);
        let close = block.span.end.saturating_sub(1);
        let mut first = true;
        for item in block.children.iter().filter(|c| is_item(c)) {
            self.item(item, indent + INDENT, !first);
            first = false;
        }
        self.leading(close, indent + INDENT, !first);
        self.lines.push(format!("{}}}", " ".repeat(indent)));
        self.last_end = block.span.end;
    }
}

#[cfg(test)]
mod tests;
