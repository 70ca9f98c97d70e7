//! Reading contacts (CSV) and events (JSON Lines) into the VM's types,
//! typed by the schema the program carries. Bad rows are reported with
//! their line and cause; the others are read.

mod changes;
mod contacts;
mod events;
mod values;

pub use changes::{read_changes, Changes};
pub use contacts::{ContactReader, MAX_VALUE};
pub use events::{read_events, Events};
pub use values::{json_value, parse_cell};

/// A row (or line) that could not be read, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line in the file.
    pub line: u64,
    /// The byte the row starts at.
    pub offset: u64,
    pub reason: String,
    /// The row repeats an id read earlier in the file.
    pub duplicate: bool,
    /// The contact the row is for, when its id could be read: its flows
    /// are held until the row is fixed.
    pub contact: Option<String>,
}

impl RowError {
    pub fn new(line: u64, offset: u64, reason: String) -> RowError {
        RowError {
            line,
            offset,
            reason,
            duplicate: false,
            contact: None,
        }
    }

    /// The same error, for `contact`.
    pub fn of(self, contact: &str) -> RowError {
        RowError {
            contact: Some(contact.to_string()),
            ..self
        }
    }
}

/// A file that cannot be read at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputError {
    /// The header line is missing or unusable.
    Header(String),
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::Header(reason) => write!(f, "{reason}"),
        }
    }
}

impl std::error::Error for InputError {}
