//! Syntax errors: pest's error turned into a friendly diagnostic, and the
//! recovery that lets one parse report several of them.

use pest::error::{Error, ErrorVariant, InputLocation};

use pest::Parser;

use super::grammar::{FlowParser, Rule};
use super::rule_names::human_name;
use super::span::Span;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::SourceId;

/// "unexpected X" at the failing position, "expected A, B or C" as label.
pub fn syntax_diagnostic(source: SourceId, text: &str, error: &Error<Rule>) -> Diagnostic {
    let at = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let found = token_at(text, at);
    let span = Span::new(at, at + found.len());
    let positives = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { message } => {
            return Diagnostic::new(Code::TooDeep, source, span, "parsing gave up here")
                .with_message("this file is too complex to parse")
                .with_note(message.clone())
                .with_help("split long conditions into several rules");
        }
    };
    let mut expected: Vec<&str> = Vec::new();
    for positive in positives {
        if let Some(name) = human_name(positive) {
            if !expected.contains(&name) {
                expected.push(name);
            }
        }
    }
    let found_text = if found.is_empty() {
        "end of file".to_string()
    } else {
        format!("`{}`", found.escape_debug())
    };
    // The next line's first word (or the end of the file) where more of
    // this line was expected: the mistake is the line left unfinished, so
    // point at its end rather than at the innocent next line.
    let before = text[..at].trim_end();
    let starts_an_item = matches!(found, "" | "when" | "on" | "flow" | "policy" | "}")
        || text[at + found.len()..].trim_start().starts_with(':');
    if starts_an_item
        && !expected.is_empty()
        && !before.is_empty()
        && text[before.len()..at].contains('\n')
    {
        let last = before.chars().next_back().map_or(1, char::len_utf8);
        let span = Span::new(before.len() - last, before.len());
        let wanted = one_of(&expected);
        return Diagnostic::new(
            Code::Syntax,
            source,
            span,
            format!("I was expecting {wanted} after this"),
        )
        .with_message(format!("this line ends too early: {wanted} is missing"))
        .with_help(if expected.iter().any(|e| e.starts_with("an action")) {
            "a rule ends with what to do, e.g. `send offer`".to_string()
        } else {
            format!("complete the line, or remove it (the next line starts with {found_text})")
        });
    }
    let label = if expected.is_empty() {
        format!("I did not expect {found_text} here")
    } else {
        format!("I was expecting {}", one_of(&expected))
    };
    let diagnostic = Diagnostic::new(Code::Syntax, source, span.max_len(text), label)
        .with_message(format!("unexpected {found_text}"));
    match hint(text, at, found, &expected) {
        Some(help) => diagnostic.with_help(help),
        None => diagnostic,
    }
}

trait MaxLen {
    fn max_len(self, text: &str) -> Span;
}

impl MaxLen for Span {
    /// An empty span at the end of the file still needs a place to point.
    fn max_len(self, text: &str) -> Span {
        if self.is_empty() && self.start >= text.len() {
            Span::new(text.len(), text.len())
        } else {
            self
        }
    }
}

fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] if init.len() < 6 => format!("{} or {last}", init.join(", ")),
        _ => format!("{}, or ...", names[..6].join(", ")),
    }
}

/// The word or the single character at `at`.
fn token_at(text: &str, at: usize) -> &str {
    let rest = text.get(at..).unwrap_or("");
    let word_len = rest
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    if word_len > 0 {
        &rest[..word_len]
    } else {
        rest.chars()
            .next()
            .map(|c| &rest[..c.len_utf8()])
            .unwrap_or("")
    }
}

/// Whether the whole word `word` is reserved, asked of the grammar's own
/// `keyword` rule so that this never drifts from `grammar/flow.pest`. (Each
/// keyword ends with `!XID_CONTINUE`, so a match covers the whole word.)
pub fn is_reserved(word: &str) -> bool {
    FlowParser::parse(Rule::keyword, word).is_ok()
}

/// A targeted suggestion for the commonest mistakes.
fn hint(text: &str, at: usize, found: &str, expected: &[&str]) -> Option<String> {
    let wants_name = expected.contains(&"a name");
    if wants_name && is_reserved(found) {
        return Some(format!(
            "`{found}` is a reserved word of the flow language; use another name"
        ));
    }
    let unit = found.trim_start_matches(|c: char| c.is_ascii_digit());
    // `15 jours`: a number, a blank, then a word that is not a unit.
    let spaced_unit = (unit.is_empty() && !found.is_empty())
        .then(|| token_at(text, at + found.len() + blanks(&text[at + found.len()..])))
        .filter(|word| word.chars().next().is_some_and(char::is_alphabetic));
    if let Some(word) = spaced_unit.filter(|_| wants_duration(expected)) {
        return Some(unit_hint(found, word));
    }
    if unit.len() < found.len() && !unit.is_empty() {
        return Some(match unit {
            "m" => "`m` is ambiguous: write `min` for minutes or `mo` for months".to_string(),
            "s" | "sec" | "secs" | "seconds" => "the smallest unit is minutes (`min`)".to_string(),
            _ => format!(
                "`{unit}` is not a unit: durations are written `30min`, `4h`, `15d`, `2w`, `3mo`, `1y`"
            ),
        });
    }
    if found == "=" && text[at..].starts_with("=") && !text[at..].starts_with("==") {
        return Some("to compare, write `==`".to_string());
    }
    if found == "&" || found == "|" || found == "!" {
        return Some("write `and`, `or` and `not`".to_string());
    }
    if found == "'" {
        return Some("strings are written between double quotes: \"...\"".to_string());
    }
    if expected.contains(&"an action (`send`, `task`, `webhook`, `set`, `tag`, `untag`, `exit`)") {
        return Some("a rule ends with what to do, e.g. `send offer`".to_string());
    }
    None
}

/// The length of the spaces and tabs that `text` starts with.
fn blanks(text: &str) -> usize {
    text.len() - text.trim_start_matches([' ', '\t']).len()
}

/// Whether a duration is among what the parser expected.
fn wants_duration(expected: &[&str]) -> bool {
    expected.iter().any(|e| e.contains("duration"))
}

/// Help for `15 jours`, `2 semanas`: the units, with the English word
/// that a French or Spanish one means.
fn unit_hint(number: &str, word: &str) -> String {
    let meant = match word.to_lowercase().as_str() {
        "jour" | "jours" | "día" | "días" | "dia" | "dias" | "tag" | "tage" | "giorni" => {
            Some("days")
        }
        "semaine" | "semaines" | "semana" | "semanas" | "woche" | "wochen" => Some("weeks"),
        "heure" | "heures" | "hora" | "horas" | "stunde" | "stunden" => Some("hours"),
        "mois" | "mes" | "meses" | "monat" | "monate" => Some("months"),
        "an" | "ans" | "année" | "années" | "año" | "años" | "jahr" | "jahre" => Some("years"),
        "seconde" | "secondes" | "segundo" | "segundos" | "s" | "sec" | "secs" | "seconds" => {
            return "the smallest unit is minutes (`min`)".to_string()
        }
        _ => None,
    };
    let units = "durations are written `30min`, `4h`, `15d`, `2w`, `3mo`, `1y`, or with the \
                 unit in words: `15 days`, `2 weeks`";
    match meant {
        Some(unit) => format!("units are English: write `{number} {unit}`; {units}"),
        None => format!("`{word}` is not a unit: {units}"),
    }
}

/// Blanks the item that failed at `at` (from the start of its rule or
/// setting to the start of the next one), keeping newlines and braces so
/// that offsets and block structure stay as they were. Returns false when
/// nothing could be blanked.
pub fn blank_failed_item(text: &mut String, at: usize) -> bool {
    let at = at.min(text.len());
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .filter(|&i| i <= text.len())
        .collect();
    let mut error_line = line_starts.partition_point(|&s| s <= at).saturating_sub(1);
    // An error at the first token of a line (`on` after a rule that lacks
    // its template) belongs to the item before it.
    if error_line > 0 && text[line_starts[error_line]..at].trim().is_empty() {
        error_line -= 1;
    }
    let mut start_line = error_line;
    for line in (0..=error_line).rev() {
        let this_line = line_text(text, &line_starts, line);
        if line == error_line && this_line.trim_start().starts_with('}') {
            continue;
        }
        match sync_kind(this_line) {
            Some(SyncKind::Item) => {
                start_line = line;
                break;
            }
            Some(SyncKind::Block) => break,
            None => {}
        }
    }
    let end_line = (error_line + 1..line_starts.len())
        .find(|&line| sync_kind(line_text(text, &line_starts, line)).is_some())
        .unwrap_or(line_starts.len());
    let start = line_starts[start_line];
    let end = line_starts.get(end_line).copied().unwrap_or(text.len());
    let mut changed = false;
    let blanked: String = text[start..end]
        .chars()
        .map(|c| match c {
            '\n' | '{' | '}' => c.to_string(),
            c if c.is_whitespace() && c.len_utf8() == 1 => c.to_string(),
            c => {
                changed = true;
                " ".repeat(c.len_utf8())
            }
        })
        .collect();
    text.replace_range(start..end, &blanked);
    changed
}

fn line_text<'a>(text: &'a str, starts: &[usize], line: usize) -> &'a str {
    let start = starts[line];
    let end = starts
        .get(line + 1)
        .copied()
        .unwrap_or(text.len())
        .min(text.len());
    &text[start..end]
}

enum SyncKind {
    /// A line that starts a rule or a setting.
    Item,
    /// A line that opens or closes a block.
    Block,
}

fn sync_kind(line: &str) -> Option<SyncKind> {
    let trimmed = line.trim_start();
    let word: String = trimmed
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    match word.as_str() {
        "when" | "on" | "priority" | "quiet" => return Some(SyncKind::Item),
        "at" if trimmed[2..].trim_start().starts_with("most") => return Some(SyncKind::Item),
        "flow" | "policy" => return Some(SyncKind::Block),
        "" if trimmed.starts_with('}') => return Some(SyncKind::Block),
        "" => return None,
        _ => {}
    }
    let after = trimmed[word.len()..].trim_start();
    (after.starts_with(':') && !after.starts_with("::")).then_some(SyncKind::Item)
}
