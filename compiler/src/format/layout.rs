//! A row of pieces laid out in lines no wider than `WIDTH` where it can:
//! on one line if it fits; otherwise a rule breaks before `if`, before its
//! first action and before each `then` (parts indented by two), and a part
//! still too long breaks before `and`/`or` as late as possible. Comments
//! met on the way keep their place and end the line they are on.

use super::comments::{newline_between, Comment};
use super::pieces::Piece;

/// The widest line the formatter aims for, in characters.
pub const WIDTH: usize = 100;

/// The comments of a file, handed out in order.
pub struct CommentQueue<'c> {
    pub comments: &'c [Comment],
    pub next: usize,
}

impl<'c> CommentQueue<'c> {
    /// The next comment if it starts before `offset`.
    pub fn before(&self, offset: usize) -> Option<&'c Comment> {
        self.comments
            .get(self.next)
            .filter(|c| c.span.start < offset)
    }

    pub fn take(&mut self) {
        self.next += 1;
    }
}

fn token_width(piece: &Piece) -> usize {
    match piece {
        Piece::Token { text, space, .. } => text.chars().count() + usize::from(*space),
        _ => 0,
    }
}

/// The width of `pieces` on one line.
fn width(pieces: &[Piece]) -> usize {
    pieces.iter().map(token_width).sum()
}

fn token_start(piece: &Piece) -> Option<usize> {
    match piece {
        Piece::Token { start, .. } => Some(*start),
        _ => None,
    }
}

/// The width of `pieces` starting a line: no space before the first.
fn line_width(pieces: &[Piece]) -> usize {
    let first_space = match pieces.iter().find(|p| matches!(p, Piece::Token { .. })) {
        Some(Piece::Token { space: true, .. }) => 1,
        _ => 0,
    };
    width(pieces) - first_space
}

/// Whether a comment lies between the first and the last token of `pieces`.
fn has_comment_inside(pieces: &[Piece], comments: &CommentQueue) -> bool {
    let last = pieces.iter().rev().find_map(token_start);
    last.is_some_and(|last| comments.before(last).is_some())
}

/// The pieces up to the next break of the kinds `stop` accepts.
fn until(pieces: &[Piece], stop: impl Fn(&Piece) -> bool) -> &[Piece] {
    let end = pieces.iter().position(stop).unwrap_or(pieces.len());
    &pieces[..end]
}

struct Lines<'s> {
    text: &'s str,
    lines: Vec<String>,
    line: String,
    /// The indentation of the next line started.
    indent: usize,
    previous_end: usize,
}

impl Lines<'_> {
    fn start_line(&mut self, indent: usize) {
        if !self.line.is_empty() {
            self.lines.push(std::mem::take(&mut self.line));
        }
        self.indent = indent;
    }

    fn current_width(&self) -> usize {
        self.line.chars().count()
    }

    fn push_token(&mut self, text: &str, space: bool) {
        if self.line.is_empty() {
            self.line = " ".repeat(self.indent);
        } else if space {
            self.line.push(' ');
        }
        self.line.push_str(text);
    }

    /// A comment before a token: at the end of the current line when it
    /// stood after the previous token on its line, else on a line of its
    /// own. Either way the token that follows starts a new line.
    fn comment(&mut self, comment: &Comment, continuation: usize) {
        let trailing = !self.line.is_empty()
            && !newline_between(self.text, self.previous_end, comment.span.start);
        if trailing {
            self.line.push(' ');
            self.line.push_str(&comment.text);
            self.lines.push(std::mem::take(&mut self.line));
            self.indent = continuation;
        } else {
            let was_mid_line = !self.line.is_empty();
            self.start_line(self.indent);
            self.lines
                .push(format!("{}{}", " ".repeat(self.indent), comment.text));
            if was_mid_line {
                self.indent = continuation;
            }
        }
        self.previous_end = comment.span.end;
    }
}

/// Lays out one item at `indent`; comments before its last token are
/// taken from `comments` and printed in place.
pub fn layout(
    text: &str,
    pieces: &[Piece],
    indent: usize,
    comments: &mut CommentQueue,
) -> Vec<String> {
    let flat = !has_comment_inside(pieces, comments) && indent + line_width(pieces) <= WIDTH;
    let mut out = Lines {
        text,
        lines: Vec::new(),
        line: String::new(),
        indent,
        previous_end: token_start(&pieces[0]).unwrap_or(0),
    };
    // The part being laid out: the indentation of its continuation lines,
    // and whether it fits on one line.
    let mut continuation = indent + 4;
    let mut part_flat = flat || part_fits(pieces, indent, comments);
    for (i, piece) in pieces.iter().enumerate() {
        // Comments before the next token go first, on the line they
        // followed, before any break.
        if let Some(start) = pieces[i..].iter().find_map(token_start) {
            while let Some(comment) = comments.before(start) {
                out.comment(comment, continuation);
                comments.take();
            }
        }
        match piece {
            Piece::Part if !flat => {
                let part_indent = indent + 2;
                let rest = &pieces[i + 1..];
                continuation = part_indent + continuation_offset(rest);
                part_flat = part_fits(rest, part_indent, comments);
                out.start_line(part_indent);
            }
            Piece::Operator if !part_flat => {
                let chunk = until(&pieces[i + 1..], |p| !matches!(p, Piece::Token { .. }));
                if !out.line.is_empty() && out.current_width() + width(chunk) > WIDTH {
                    out.start_line(continuation);
                }
            }
            Piece::Token {
                text, end, space, ..
            } => {
                let space = *space && !out.line.is_empty();
                out.push_token(text, space);
                out.previous_end = *end;
            }
            _ => {}
        }
    }
    out.start_line(indent);
    out.lines
}

/// Whether the part starting at `pieces` (up to the next `Part`) fits on
/// one line at `indent` with no comment inside.
fn part_fits(pieces: &[Piece], indent: usize, comments: &CommentQueue) -> bool {
    let part = until(pieces, |p| *p == Piece::Part);
    indent + line_width(part) <= WIDTH && !has_comment_inside(part, comments)
}

/// Continuation lines of `if CONDITION` line up after `if `.
fn continuation_offset(part: &[Piece]) -> usize {
    match part.first() {
        Some(Piece::Token { text, .. }) if text == "if" => 3,
        _ => 4,
    }
}
