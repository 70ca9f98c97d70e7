//! Which rows of the contacts file a run reads, and the row index it
//! leaves for the next run (see `row_index.rs`).

use std::collections::HashMap;
use std::io::{Read, Seek};
use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};

use super::candidates::{id_hash, Candidates};
use super::row_index::{Entry, Fingerprint, IndexReader, IndexWriter};
use super::RunError;
use crate::calendar::Window;
use crate::input::{ContactReader, RowError};
use crate::vm::Contact;

/// How far ahead a row's next due instant is looked for: a year, so that
/// every yearly rule has its next occurrence in it. Rows with nothing due
/// that soon are read again when the horizon has passed.
pub(super) const HORIZON: SignedDuration = SignedDuration::from_hours(366 * 24);

/// Where the row index of a run's contacts file lives.
#[derive(Clone, Debug)]
pub struct RowIndexOptions {
    /// The index file (the CLI puts it beside the state: `flow.db.rows`).
    pub path: PathBuf,
    /// The contacts file the run reads (the same bytes as its reader).
    pub contacts: PathBuf,
}

/// The rows a run reads.
pub(super) enum Rows<R: Read + Seek> {
    /// Every row, in file order.
    All(ContactReader<R>),
    /// The rows the index selected, in file order.
    At(ContactReader<R>, std::vec::IntoIter<Entry>),
    /// None (an empty window).
    Nothing,
}

impl<R: Read + Seek> Iterator for Rows<R> {
    type Item = Result<Contact, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Rows::All(reader) => reader.next(),
            Rows::At(reader, entries) => {
                let entry = entries.next()?;
                reader.read_at(entry.offset, entry.line)
            }
            Rows::Nothing => None,
        }
    }
}

/// The index side of a run.
pub(super) enum Plan {
    /// No index: none configured, or every contact's state is read anyway.
    Without,
    /// The whole file is read; a new index is written as rows go by.
    Full(IndexWriter),
    /// Only selected rows are read; their entries are updated.
    Indexed {
        options: RowIndexOptions,
        fingerprint: Fingerprint,
        start: Timestamp,
        contacts: u64,
        updated: HashMap<u64, Entry>,
    },
}

impl Plan {
    /// Decides how `window` is read, and opens the rows accordingly.
    pub(super) fn start<R: Read + Seek>(
        options: Option<&RowIndexOptions>,
        program_hash: u64,
        zones: &str,
        window: Option<&Window>,
        candidates: Option<&Candidates>,
        reader: ContactReader<R>,
        note: &mut String,
    ) -> Result<(Plan, Rows<R>), RunError> {
        let (Some(window), Some(candidates)) = (window, candidates) else {
            return Ok((Plan::Without, Rows::Nothing));
        };
        let Some(options) = options else {
            *note = "every row read (no row index)".into();
            return Ok((Plan::Without, Rows::All(reader)));
        };
        if candidates.every() {
            *note = "every row read (watched fields compare every row)".into();
            return Ok((Plan::Without, Rows::All(reader)));
        }
        let fingerprint = Fingerprint::of(program_hash, zones, &options.contacts)
            .map_err(|e| RunError(format!("cannot read {}: {e}", options.contacts.display())))?;
        let Some(index) = IndexReader::open_valid(&options.path, &fingerprint, window.start())
        else {
            let why = match options.path.exists() {
                true => "the contacts, program or zone rules changed since the row index",
                false => "no row index yet",
            };
            *note = format!("every row read ({why}); row index written");
            return match IndexWriter::create(&options.path, &fingerprint, window.end()) {
                Ok(writer) => Ok((Plan::Full(writer), Rows::All(reader))),
                Err(e) => {
                    *note = format!("every row read; row index not written: {e}");
                    Ok((Plan::Without, Rows::All(reader)))
                }
            };
        };
        let contacts = index.contacts;
        let mut selected = Vec::new();
        for entry in index {
            let entry = entry.map_err(|e| {
                RunError(format!(
                    "cannot read the row index {}: {e}",
                    options.path.display()
                ))
            })?;
            if entry.due_before(window.end()) || candidates.active(entry.id_hash) {
                selected.push(entry);
            }
        }
        *note = format!("{} of {contacts} rows read (row index)", selected.len());
        Ok((
            Plan::Indexed {
                options: options.clone(),
                fingerprint,
                start: window.start(),
                contacts,
                updated: HashMap::new(),
            },
            Rows::At(reader, selected.into_iter()),
        ))
    }

    /// Writes no index after all: a file with a duplicate id is read
    /// whole by every run, so every run reports the duplicate (a read by
    /// index could not tell which row came first).
    pub(super) fn forgo(&mut self, note: &mut String, why: &str) {
        if let Plan::Full(_) = self {
            if let Plan::Full(writer) = std::mem::replace(self, Plan::Without) {
                writer.abandon();
            }
            *note = format!("every row read; no row index ({why})");
        }
    }

    /// Whether the run must work out each row's next due instant.
    pub(super) fn wants_entries(&self) -> bool {
        !matches!(self, Plan::Without)
    }

    /// Records a row as read: `first_due` is a lower bound of the first
    /// instant the VM finds due for it from its row alone after the window
    /// (`Evaluator::first_due_bound`; `None` for a
    /// row that is not a contact, or whose zone or dates the VM cannot
    /// use; such rows are read by every run).
    pub(super) fn row(
        &mut self,
        row: &Result<Contact, RowError>,
        first_due: Option<Option<Timestamp>>,
        lookahead: &Window,
    ) -> Result<(), RunError> {
        let (offset, line, id) = match row {
            Ok(contact) => (contact.offset, contact.line, id_hash(&contact.id)),
            Err(error) => (error.offset, error.line, 0),
        };
        let next_due = match first_due {
            Some(first) => first.unwrap_or(lookahead.end()).as_second(),
            None => Entry::ALWAYS,
        };
        let entry = Entry {
            offset,
            line,
            id_hash: id,
            next_due,
        };
        match self {
            Plan::Without => {}
            Plan::Full(writer) => {
                writer.contacts += u64::from(row.is_ok());
                writer
                    .push(entry)
                    .map_err(|e| RunError(format!("cannot write the row index: {e}")))?;
            }
            Plan::Indexed { updated, .. } => {
                updated.insert(offset, entry);
            }
        }
        Ok(())
    }

    /// The contacts of the file when not every row was read.
    pub(super) fn contacts(&self) -> Option<u64> {
        match self {
            Plan::Indexed { contacts, .. } => Some(*contacts),
            _ => None,
        }
    }

    /// Puts the new index in place, once the run's records are durable.
    /// `Err` says why it was not (the next run reads every row).
    pub(super) fn finish(self, built_to: Timestamp) -> Result<(), String> {
        match self {
            Plan::Without => Ok(()),
            Plan::Full(writer) => writer.finish().map_err(|e| e.to_string()),
            Plan::Indexed {
                options,
                fingerprint,
                start,
                contacts,
                updated,
            } => {
                let old = IndexReader::open_valid(&options.path, &fingerprint, start)
                    .ok_or("the row index changed during the run")?;
                let mut writer = IndexWriter::create(&options.path, &fingerprint, built_to)
                    .map_err(|e| e.to_string())?;
                writer.contacts = contacts;
                for entry in old {
                    let entry = entry.map_err(|e| e.to_string())?;
                    let entry = updated.get(&entry.offset).copied().unwrap_or(entry);
                    writer.push(entry).map_err(|e| e.to_string())?;
                }
                writer.finish().map_err(|e| e.to_string())
            }
        }
    }
}
