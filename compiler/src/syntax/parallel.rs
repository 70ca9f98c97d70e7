//! A big file parsed on two threads, with the result the one-thread parse
//! gives.
//!
//! The file is cut at the start of one item (a rule or a setting inside a
//! `flow` block, or any item at top level), found by a scan of lines. Each
//! half is parsed by the full grammar in a copy of the text as long as the
//! original, where the other half is turned into a comment: every span stays
//! an offset into the real text. The first half keeps the item at the cut
//! too, so that it sees the text just after its own last item as it is; the
//! second half keeps the `flow ... {` header of the block it continues.
//!
//! The halves are used only when both parse and agree: the item at the cut
//! is the same in both and starts where the scan said, inside the same
//! block. A grammar decision that looked past the cut would show there,
//! because no rule but an item itself can run over an item's start
//! (`label:`, `when`, `on`, `name:`). Otherwise (a syntax error, a cut the
//! scan got wrong) the caller parses on one thread, so diagnostics and
//! recovery are exactly those of the one-thread parse.

use pest::error::{Error, InputLocation};
use pest::Parser;

use super::ast::{File, FlowDecl, Item};
use super::build::Builder;
use super::grammar::{FlowParser, Rule};
use super::span::Span;
use crate::diagnostics::Diagnostic;
use crate::source::SourceId;

/// Below this size a file is parsed on one thread: starting a thread and
/// copying the text would cost about what the second thread saves.
pub const MIN_BYTES: usize = 16 * 1024;

/// The stack of the second thread: the parser and the builder recurse once
/// per bracket (at most `MAX_NESTING`), like on the caller's thread.
const STACK_BYTES: usize = 64 * 1024 * 1024;

/// What the two halves tell about the whole text.
pub enum Outcome {
    /// It parses: its tree and the builder's diagnostics.
    Parsed(File, Vec<Diagnostic>),
    /// It does not parse, and this is the error a one-thread parse gives.
    Failed(Error<Rule>),
    /// Too small, no place to cut, or the halves cannot tell: parse it on
    /// one thread.
    Unknown,
}

/// Parses `text` on two threads if it has `min_bytes` or more.
pub fn parse(source: SourceId, text: &str, min_bytes: usize) -> Outcome {
    if text.len() < min_bytes {
        return Outcome::Unknown;
    }
    let middle = text.len() / 2;
    match cuts(text)
        .into_iter()
        .min_by_key(|cut| cut.at.abs_diff(middle))
    {
        Some(cut) => parse_at(source, text, &cut),
        None => Outcome::Unknown,
    }
}

/// Parses the two halves of `text` cut at `cut` and merges them.
///
/// When a half fails, its error is the whole text's in two cases. The first
/// half fails before its blanked part: it read only real text, since
/// getting past the item at the cut means attempting the next item there. Or the first half parses up to the item at the cut
/// and the second fails after the cut: the whole parse arrives at the cut
/// in the same state as the second half, and the attempts that make its
/// error are all made after the cut, where the texts are the same.
fn parse_at(source: SourceId, text: &str, cut: &Cut) -> Outcome {
    let halves = std::thread::scope(|scope| {
        let second = std::thread::Builder::new()
            .name("flowc-parse".into())
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, || parse_whole(source, &second_half(text, cut)))
            .ok()?;
        let first = parse_whole(source, &first_half(text, cut));
        Some((first, second.join().ok()?))
    });
    match halves {
        Some((Ok(first), Ok(second))) => match merge(first, second, cut) {
            Some((file, diagnostics)) => Outcome::Parsed(file, diagnostics),
            None => Outcome::Unknown,
        },
        Some((Err(error), _)) if error_position(&error) < cut.overlap_end => Outcome::Failed(error),
        Some((Ok(first), Err(error)))
            if error_position(&error) > cut.at && reaches_cut(&first.0, cut) =>
        {
            Outcome::Failed(error)
        }
        _ => Outcome::Unknown,
    }
}

fn error_position(error: &Error<Rule>) -> usize {
    match error.location {
        InputLocation::Pos(at) => at,
        InputLocation::Span((at, _)) => at,
    }
}

/// Whether the first half ends with the item at the cut, in the block
/// the cut falls in: the whole parse gets there in the same state.
fn reaches_cut(first: &File, cut: &Cut) -> bool {
    match (cut.block, first.items.last()) {
        (None, Some(item)) => item_start(item) == cut.at,
        (Some(block), Some(Item::Flow(flow))) => {
            let last_rule = flow.rules.last().map(|r| r.span.start);
            let last_setting = flow.settings.last().map(|s| s.span.start);
            flow.span == Span::new(block.start, block.close + 1)
                && last_rule.max(last_setting) == Some(cut.at)
        }
        _ => false,
    }
}

/// Where to cut: the item that both halves parse.
#[derive(Debug, Clone, PartialEq)]
struct Cut {
    /// The first token of the item at the cut.
    at: usize,
    /// The start of the line after that item's lines: the first half ends here.
    overlap_end: usize,
    /// The `flow` block the cut falls in, if it is not at top level.
    block: Option<Block>,
}

/// A `flow NAME "title" { ... }` block, by the positions of `flow`, `{`, `}`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Block {
    start: usize,
    open: usize,
    close: usize,
}

/// A line that starts an item: a candidate for the cut.
struct Start {
    at: usize,
    line: usize,
    /// Index into the blocks found so far; `None` at top level.
    block: Option<usize>,
}

/// Every place the text could be cut: the start of an item that is
/// followed by another in the same block, and is short (the first half
/// parses it too). The scan knows strings and comments only so far as to
/// count braces; the parse checks the rest.
fn cuts(text: &str) -> Vec<Cut> {
    let mut starts: Vec<Start> = Vec::new();
    let mut blocks: Vec<(Block, bool)> = Vec::new();
    // The `flow` (true) or other block keyword waiting for its `{`.
    let mut header: Option<(usize, bool)> = None;
    let mut depth = 0usize;
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches([' ', '\t', '\r']).len();
        let at = line_start + indent;
        let word = leading_word(&line[indent..]);
        if depth == 0 && !word.is_empty() {
            header = (word == "flow" || word == "policy").then_some((at, word == "flow"));
        }
        let in_flow = depth == 1 && blocks.last().is_some_and(|(_, is_flow)| *is_flow);
        if (depth == 0 || in_flow) && starts_item(&line[indent..], word) {
            starts.push(Start {
                at,
                line: line_start,
                block: in_flow.then(|| blocks.len() - 1),
            });
        }
        for (offset, brace) in braces(line) {
            let position = line_start + offset;
            if brace == '{' {
                depth += 1;
                if depth == 1 {
                    let (start, is_flow) = header.take().unwrap_or((position, false));
                    let block = Block {
                        start,
                        open: position,
                        close: usize::MAX,
                    };
                    blocks.push((block, is_flow));
                }
            } else if depth > 0 {
                depth -= 1;
                if depth == 0 {
                    if let Some((block, _)) = blocks.last_mut() {
                        block.close = position;
                    }
                }
            }
        }
        line_start += line.len();
    }
    let longest_overlap = (text.len() / 8).max(1024);
    starts
        .windows(2)
        .filter(|pair| pair[0].block == pair[1].block)
        .filter(|pair| pair[1].line - pair[0].at <= longest_overlap)
        .filter_map(|pair| {
            let block = match pair[0].block {
                Some(index) => {
                    let (block, _) = blocks[index];
                    (block.close != usize::MAX).then_some(block)?;
                    Some(block)
                }
                None => None,
            };
            Some(Cut {
                at: pair[0].at,
                overlap_end: pair[1].line,
                block,
            })
        })
        .filter(|cut| cut.at > 0)
        .collect()
}

/// The name at the start of `rest` (ASCII letters, digits and `_`).
fn leading_word(rest: &str) -> &str {
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Whether a line starting with `word` (then `rest`) starts an item:
/// `when`/`on` (a rule), `flow`/`policy` (a block), or `name:` (a label or
/// a setting). Only a guess: the parse decides.
fn starts_item(rest: &str, word: &str) -> bool {
    if word.is_empty() || word.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    matches!(word, "when" | "on" | "flow" | "policy")
        || rest[word.len()..]
            .trim_start_matches([' ', '\t'])
            .starts_with(':')
}

/// The braces of one line outside strings and comments, with their offsets.
/// On bytes: every character it looks for is ASCII.
fn braces(line: &str) -> Vec<(usize, char)> {
    let mut found = Vec::new();
    // Most lines have no brace at all, which a vectorised count tells
    // without following strings and comments.
    if line.bytes().filter(|&c| c == b'{' || c == b'}').count() == 0 {
        return found;
    }
    let mut in_string = false;
    let mut escaped = false;
    let mut previous = 0u8;
    for (i, &c) in line.as_bytes().iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'#' => break,
                b'/' if previous == b'/' => break,
                b'{' | b'}' => found.push((i, char::from(c))),
                _ => {}
            }
        }
        previous = c;
    }
    found
}

/// The text the first half parses: up to the end of the item at the cut,
/// and the block's closing brace. As long as `text`.
fn first_half(text: &str, cut: &Cut) -> String {
    let mut first = String::with_capacity(text.len());
    first.push_str(&text[..cut.overlap_end]);
    match cut.block {
        Some(block) => {
            blank(&mut first, block.close - cut.overlap_end);
            first.push('}');
            blank(&mut first, text.len() - block.close - 1);
        }
        None => blank(&mut first, text.len() - cut.overlap_end),
    }
    first
}

/// The text the second half parses: the block's header, then everything
/// from the item at the cut. As long as `text`.
fn second_half(text: &str, cut: &Cut) -> String {
    let mut second = String::with_capacity(text.len());
    match cut.block {
        Some(block) => {
            blank(&mut second, block.start);
            second.push_str(&text[block.start..=block.open]);
            blank(&mut second, cut.at - block.open - 1);
        }
        None => blank(&mut second, cut.at),
    }
    second.push_str(&text[cut.at..]);
    second
}

/// `len` bytes the parser skips at once: one comment up to a newline.
fn blank(out: &mut String, len: usize) {
    const SPACES: &str = "                                                                ";
    match len {
        0 => {}
        1 => out.push(' '),
        _ => {
            out.push('#');
            let mut left = len - 2;
            while left > 0 {
                let n = left.min(SPACES.len());
                out.push_str(&SPACES[..n]);
                left -= n;
            }
            out.push('\n');
        }
    }
}

/// The tree and builder diagnostics of a whole text, or its syntax error.
fn parse_whole(source: SourceId, text: &str) -> Result<(File, Vec<Diagnostic>), Error<Rule>> {
    let mut diagnostics = Vec::new();
    let mut items = Vec::new();
    for file_pair in FlowParser::parse(Rule::file, text)? {
        let mut builder = Builder {
            source,
            diagnostics: &mut diagnostics,
        };
        items.extend(builder.file(file_pair).items);
    }
    Ok((File { items }, diagnostics))
}

/// One tree from the two halves, if they agree on the item at the cut.
fn merge(
    (mut first, first_diagnostics): (File, Vec<Diagnostic>),
    (second, second_diagnostics): (File, Vec<Diagnostic>),
    cut: &Cut,
) -> Option<(File, Vec<Diagnostic>)> {
    let mut rest = second.items.into_iter();
    match cut.block {
        None => {
            let shared = first.items.pop()?;
            let again = rest.next()?;
            if item_start(&shared) != cut.at || item_start(&again) != cut.at || shared != again {
                return None;
            }
            first.items.push(again);
        }
        Some(block) => {
            let Some(Item::Flow(mut head)) = first.items.pop() else {
                return None;
            };
            let Some(Item::Flow(tail)) = rest.next() else {
                return None;
            };
            let whole = Span::new(block.start, block.close + 1);
            if head.span != whole
                || tail.span != whole
                || head.name != tail.name
                || head.name.span != tail.name.span
                || head.title != tail.title
            {
                return None;
            }
            take_shared_item(&mut head, &tail, cut.at)?;
            head.settings.extend(tail.settings);
            head.rules.extend(tail.rules);
            first.items.push(Item::Flow(head));
        }
    }
    first.items.extend(rest);
    let mut diagnostics: Vec<Diagnostic> = first_diagnostics
        .into_iter()
        .filter(|d| d.primary().span.start < cut.at)
        .collect();
    diagnostics.extend(
        second_diagnostics
            .into_iter()
            .filter(|d| d.primary().span.start >= cut.at),
    );
    Some((first, diagnostics))
}

/// Removes from `head` its last item, which must start at `at` and equal
/// the first item of `tail` (which keeps it).
fn take_shared_item(head: &mut FlowDecl, tail: &FlowDecl, at: usize) -> Option<()> {
    let last_rule = head.rules.last().map(|r| r.span.start);
    let last_setting = head.settings.last().map(|s| s.span.start);
    let first_rule = tail.rules.first().map(|r| r.span.start);
    let first_setting = tail.settings.first().map(|s| s.span.start);
    if last_rule == Some(at) && first_rule == Some(at) {
        if last_setting.is_some_and(|s| s >= at) || first_setting.is_some_and(|s| s <= at) {
            return None;
        }
        let shared = head.rules.pop()?;
        (tail.rules.first() == Some(&shared)).then_some(())
    } else if last_setting == Some(at) && first_setting == Some(at) {
        if last_rule.is_some_and(|r| r >= at) || first_rule.is_some_and(|r| r <= at) {
            return None;
        }
        let shared = head.settings.pop()?;
        (tail.settings.first() == Some(&shared)).then_some(())
    } else {
        None
    }
}

fn item_start(item: &Item) -> usize {
    match item {
        Item::Flow(flow) => flow.span.start,
        Item::Policy(policy) => policy.span.start,
        Item::Rule(rule) => rule.span.start,
        Item::Setting(setting) => setting.span.start,
    }
}

#[cfg(test)]
mod tests;
