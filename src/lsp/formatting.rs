//! `textDocument/formatting`: the compiler's formatter (`flowc fmt`), as one
//! edit replacing the whole text. A text with syntax errors is left as it
//! is (its diagnostics already say why), so format-on-save never fails.

use flowc_compiler::format::{format_source, FormatError};
use flowc_compiler::source::SourceId;
use lsp_types::{Range, TextEdit};

use super::convert::LineIndex;

/// The edits that format `text`: none when it is already formatted or does
/// not parse; `Err` when the formatter refused its own output (a bug).
pub fn format(text: &str) -> Result<Vec<TextEdit>, String> {
    match format_source(SourceId(0), text) {
        Ok(formatted) if formatted == text => Ok(Vec::new()),
        Ok(formatted) => {
            let index = LineIndex::new(text);
            let whole = Range::new(index.position(0), index.position(text.len()));
            Ok(vec![TextEdit::new(whole, formatted)])
        }
        Err(FormatError::Syntax(_)) => Ok(Vec::new()),
        Err(FormatError::Changed(why)) => Err(format!("flowc fmt refused its output: {why}")),
    }
}
