//! Byte offsets (what the compiler's spans hold) ↔ LSP positions (line and
//! UTF-16 code unit, what the protocol's default encoding counts), and
//! `file://` URIs ↔ paths.

use std::path::{Path, PathBuf};

use flowc_compiler::syntax::Span;
use lsp_types::{Position, Range, Uri};

/// The start of every line of a text, for converting in both directions.
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> LineIndex<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    /// The position of a byte offset (clamped to the text, and to the
    /// character it falls inside).
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let character: usize = self.text[start..offset].chars().map(char::len_utf16).sum();
        Position::new(to_u32(line), to_u32(character))
    }

    pub fn range(&self, span: Span) -> Range {
        Range::new(self.position(span.start), self.position(span.end))
    }

    /// The byte offset of a position. A line past the end gives the end of
    /// the text; a character past the end of its line gives the line's end
    /// (before its line break), as the protocol asks.
    pub fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return self.text.len();
        };
        let line = &self.text[start..];
        let line = &line[..line.find('\n').unwrap_or(line.len())];
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut units = 0usize;
        for (i, c) in line.char_indices() {
            if units >= position.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        start + line.len()
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The local path of a `file://` URI (percent-decoded); `None` for other
/// schemes such as `untitled:`.
pub fn uri_to_path(uri: &Uri) -> Option<PathBuf> {
    let rest = uri.as_str().strip_prefix("file://")?;
    // `file:///home/x` (empty authority) or `file://localhost/home/x`.
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return None;
    }
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).ok().map(PathBuf::from)
}

/// The `file://` URI of an absolute path, with every byte outside the
/// unreserved set (and `/`) percent-encoded.
pub fn path_to_uri(path: &Path) -> Option<Uri> {
    let mut uri = String::from("file://");
    for &byte in path.to_str()?.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            uri.push(byte as char);
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_positions_round_trip() {
        let text = "when birthday\non birthday send x\n";
        let index = LineIndex::new(text);
        assert_eq!(index.position(0), Position::new(0, 0));
        assert_eq!(index.position(14), Position::new(1, 0));
        assert_eq!(index.position(17), Position::new(1, 3));
        for offset in 0..=text.len() {
            assert_eq!(index.offset(index.position(offset)), offset);
        }
    }

    #[test]
    fn non_ascii_counts_utf16_units() {
        // `é` is 2 bytes and 1 UTF-16 unit; `🎂` is 4 bytes and 2 units.
        let text = "set prénom = \"🎂 x\"\nsend y";
        let index = LineIndex::new(text);
        let x = text.find(" x").unwrap() + 1;
        assert_eq!(index.position(x), Position::new(0, 17));
        assert_eq!(index.offset(Position::new(0, 17)), x);
        let after_e = text.find("nom").unwrap();
        assert_eq!(index.position(after_e), Position::new(0, 7));
        assert_eq!(index.offset(Position::new(0, 7)), after_e);
        // Inside a character: the offset is clamped to its start.
        let cake = text.find('🎂').unwrap();
        assert_eq!(index.position(cake + 2), Position::new(0, 14));
        assert_eq!(index.position(text.len()), Position::new(1, 6));
    }

    #[test]
    fn positions_past_the_end_are_clamped() {
        let text = "ab\r\ncd";
        let index = LineIndex::new(text);
        assert_eq!(index.offset(Position::new(0, 99)), 2, "before the CR LF");
        assert_eq!(index.offset(Position::new(7, 0)), text.len());
        assert_eq!(index.position(999), Position::new(1, 2));
    }

    #[test]
    fn uris_and_paths() {
        let path = Path::new("/tmp/my flows/prénom #1.flow");
        let uri = path_to_uri(path).unwrap();
        assert_eq!(
            uri.as_str(),
            "file:///tmp/my%20flows/pr%C3%A9nom%20%231.flow"
        );
        assert_eq!(uri_to_path(&uri).unwrap(), path);
        let vscode: Uri = "file:///c%3A/x/a.flow".parse().unwrap();
        assert_eq!(uri_to_path(&vscode).unwrap(), Path::new("/c:/x/a.flow"));
        let untitled: Uri = "untitled:Untitled-1".parse().unwrap();
        assert_eq!(uri_to_path(&untitled), None);
    }
}
