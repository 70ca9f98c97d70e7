//! Comments, found by scanning the text the way the grammar skips them:
//! `#` or `//` to the end of the line, anywhere outside a string. The
//! syntax tree does not hold them, so the formatter puts them back by
//! position.

use crate::syntax::Span;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub span: Span,
    /// As written, trailing blanks removed.
    pub text: String,
}

/// Every comment of `text`, in order. Only called on text that parsed, so
/// strings are well formed.
pub fn comments(text: &str) -> Vec<Comment> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' | b'\n' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b'#' || (b == b'/' && bytes.get(i + 1) == Some(&b'/')) {
            let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
            found.push(Comment {
                span: Span::new(i, end),
                text: text[i..end].trim_end().to_string(),
            });
            i = end;
            continue;
        }
        i += 1;
    }
    found
}

/// The offset of the punctuation `wanted` at or after `from`, skipping
/// blanks and comments: where an unnamed token of the grammar (`{`, `,`,
/// `=`...) stands, so that comments around it keep their place.
pub fn find_punctuation(text: &str, from: usize, wanted: char) -> usize {
    let mut i = from;
    while let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) {
        if c == wanted {
            return i;
        }
        if c == '#' || text[i..].starts_with("//") {
            i += text[i..].find('\n').unwrap_or(text.len() - i);
            continue;
        }
        if !c.is_whitespace() && c != '\u{FEFF}' && c != ';' {
            break;
        }
        i += c.len_utf8();
    }
    from
}

/// Whether a line break separates `from` and `to`.
pub fn newline_between(text: &str, from: usize, to: usize) -> bool {
    text.get(from.min(to)..to).is_some_and(|s| s.contains('\n'))
}

/// Whether an empty line separates `from` and `to`.
pub fn blank_line_between(text: &str, from: usize, to: usize) -> bool {
    text.get(from.min(to)..to)
        .is_some_and(|s| s.matches('\n').count() >= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_outside_strings_only() {
        let text = "# a\nwhen b send c # d\ntitle: \"# not // one\" // e\n";
        let texts: Vec<String> = comments(text).into_iter().map(|c| c.text).collect();
        assert_eq!(texts, ["# a", "# d", "// e"]);
    }

    #[test]
    fn escaped_quote_does_not_end_a_string() {
        let text = "title: \"a \\\" # b\" # c";
        let texts: Vec<String> = comments(text).into_iter().map(|c| c.text).collect();
        assert_eq!(texts, ["# c"]);
    }

    #[test]
    fn punctuation_after_comments() {
        let text = "flow x # {\n  {";
        assert_eq!(find_punctuation(text, 6, '{'), text.len() - 1);
    }
}
