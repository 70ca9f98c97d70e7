//! The texts the editor has open: the editor's version wins over the disk
//! for every file it holds. Changes come incrementally (ranges in UTF-16
//! positions) or as a whole text.

use std::collections::HashMap;

use lsp_types::{TextDocumentContentChangeEvent, Uri};

use super::convert::LineIndex;

pub struct Document {
    pub uri: Uri,
    pub text: String,
    pub version: i32,
}

#[derive(Default)]
pub struct Documents {
    by_uri: HashMap<String, Document>,
}

impl Documents {
    pub fn open(&mut self, uri: Uri, text: String, version: i32) {
        let key = uri.as_str().to_string();
        self.by_uri.insert(key, Document { uri, text, version });
    }

    pub fn close(&mut self, uri: &Uri) {
        self.by_uri.remove(uri.as_str());
    }

    pub fn get(&self, uri: &Uri) -> Option<&Document> {
        self.by_uri.get(uri.as_str())
    }

    /// Applies the editor's changes in order. Unknown documents are ignored
    /// (a change can race a close).
    pub fn change(
        &mut self,
        uri: &Uri,
        version: i32,
        changes: Vec<TextDocumentContentChangeEvent>,
    ) {
        let Some(document) = self.by_uri.get_mut(uri.as_str()) else {
            return;
        };
        for change in changes {
            apply(&mut document.text, change);
        }
        document.version = version;
    }

    pub fn iter(&self) -> impl Iterator<Item = &Document> {
        self.by_uri.values()
    }
}

/// One change: a range replaced, or the whole text when there is no range.
pub fn apply(text: &mut String, change: TextDocumentContentChangeEvent) {
    match change.range {
        Some(range) => {
            let index = LineIndex::new(text);
            let start = index.offset(range.start);
            let end = index.offset(range.end).max(start);
            text.replace_range(start..end, &change.text);
        }
        None => *text = change.text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsp_types::{Position, Range};

    fn edit(line: u32, from: u32, to: u32, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: Some(Range::new(
                Position::new(line, from),
                Position::new(line, to),
            )),
            range_length: None,
            text: text.to_string(),
        }
    }

    #[test]
    fn incremental_edits_count_utf16_units() {
        let mut text = "set prénom = \"🎂\"\non birthday send offer\n".to_string();
        // After the emoji (2 units) and its closing quote: column 17.
        apply(&mut text, edit(0, 17, 17, " x"));
        assert_eq!(text, "set prénom = \"🎂\" x\non birthday send offer\n");
        apply(&mut text, edit(1, 17, 22, "ofer"));
        assert_eq!(text, "set prénom = \"🎂\" x\non birthday send ofer\n");
        apply(
            &mut text,
            TextDocumentContentChangeEvent {
                range: None,
                range_length: None,
                text: "new".into(),
            },
        );
        assert_eq!(text, "new");
    }
}
