//! The texts the compiler reads, each named by the path it came from. The
//! CLI (or a test, or the language server) loads them; the compiler does no
//! IO of its own.

use serde::Serialize;

/// Index of a source in a `Sources`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SourceId(pub usize);

#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path as the user should see it (relative where possible).
    pub path: String,
    pub text: String,
    /// The byte offset where each line starts: `line_col` is a binary
    /// search, not a scan from the start of the file (which made `flowc
    /// build`, one lookup per instruction, quadratic in the file's size).
    line_starts: Vec<usize>,
}

/// Every text a check has read: flow files, the project file, templates.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }

    pub fn add(&mut self, path: impl Into<String>, text: impl Into<String>) -> SourceId {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        self.files.push(SourceFile {
            path: path.into(),
            text,
            line_starts,
        });
        SourceId(self.files.len() - 1)
    }

    pub fn get(&self, id: SourceId) -> &SourceFile {
        &self.files[id.0]
    }

    pub fn path(&self, id: SourceId) -> &str {
        &self.get(id).path
    }

    pub fn text(&self, id: SourceId) -> &str {
        &self.get(id).text
    }

    pub fn iter(&self) -> impl Iterator<Item = (SourceId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (SourceId(i), f))
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, id: SourceId, offset: usize) -> (usize, usize) {
        let file = self.get(id);
        let text = file.text.as_str();
        let offset = floor_char_boundary(text, offset.min(text.len()));
        // The last line start at or before the offset.
        let line = file.line_starts.partition_point(|&start| start <= offset);
        let line_start = file.line_starts[line - 1];
        let col = text[line_start..offset].chars().count() + 1;
        (line, col)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan the line index replaced: the reference.
    fn scanned(text: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        (line, text[line_start..offset].chars().count() + 1)
    }

    #[test]
    fn line_col_agrees_with_a_scan_at_every_offset() {
        for text in [
            "",
            "\n",
            "a",
            "on birthday send hello\n",
            "été\r\nà 08:00\n\n  ✓ send x\nlast",
            "\n\n\nx",
        ] {
            let mut sources = Sources::new();
            let id = sources.add("t.flow", text);
            for offset in 0..=text.len() + 2 {
                assert_eq!(
                    sources.line_col(id, offset),
                    scanned(text, offset),
                    "{text:?} at {offset}"
                );
            }
        }
    }
}
