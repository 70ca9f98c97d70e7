//! Contacts from a CSV file, streamed one row at a time and typed by the
//! program's schema. A bad row is an error naming its line and cause; the
//! rows after it are still read.

use std::io::{Read, Seek};

use crate::bytecode::{FieldKind, Program};
use crate::vm::Contact;

use super::values::parse_cell;
use super::{InputError, RowError};

/// Reads contacts; the `id` column is required, columns the schema does not
/// know are left out (see `ignored_columns`).
pub struct ContactReader<R: Read> {
    rows: csv::Reader<R>,
    record: csv::StringRecord,
    /// Per column: the field it fills and how to read it.
    columns: Vec<Option<(std::sync::Arc<str>, FieldKind)>>,
    id_column: usize,
    ignored: Vec<String>,
}

impl<R: Read> ContactReader<R> {
    pub fn new(program: &Program, input: R) -> Result<ContactReader<R>, InputError> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
        let header = reader
            .headers()
            .map_err(|e| InputError::Header(e.to_string()))?
            .clone();
        let mut columns = Vec::new();
        let mut ignored = Vec::new();
        let mut id_column = None;
        for (i, name) in header.iter().enumerate() {
            let name = name.trim().trim_start_matches('\u{feff}');
            if name == "id" {
                id_column = Some(i);
            }
            let spec = program
                .fields
                .iter()
                .find(|f| program.string(f.name) == name);
            match spec {
                Some(spec) => columns.push(Some((name.into(), spec.kind))),
                None => {
                    if name != "id" {
                        ignored.push(name.to_string());
                    }
                    columns.push(None);
                }
            }
        }
        let id_column = id_column.ok_or_else(|| {
            InputError::Header(
                "there is no `id` column; the first line must name the columns, one of them `id`"
                    .into(),
            )
        })?;
        Ok(ContactReader {
            rows: reader,
            record: csv::StringRecord::new(),
            columns,
            id_column,
            ignored,
        })
    }

    /// Columns that are not fields of the schema (read, then left out).
    pub fn ignored_columns(&self) -> &[String] {
        &self.ignored
    }
}

impl<R: Read + Seek> ContactReader<R> {
    /// The row that starts at byte `offset` (line `line`), as
    /// [`Iterator::next`] would read it there: a persisted index of the
    /// file reads only the rows it needs.
    pub fn read_at(&mut self, offset: u64, line: u64) -> Option<Result<Contact, RowError>> {
        let mut position = csv::Position::new();
        position.set_byte(offset).set_line(line);
        if let Err(error) = self.rows.seek(position) {
            return Some(Err(RowError {
                line,
                offset,
                reason: format!("cannot read the row: {error}"),
            }));
        }
        self.next()
    }
}

impl<R: Read> Iterator for ContactReader<R> {
    type Item = Result<Contact, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let read = self.rows.read_record(&mut self.record);
        let record = &self.record;
        let (line, offset) = record.position().map_or((0, 0), |p| (p.line(), p.byte()));
        match read {
            Ok(true) => {}
            Ok(false) => return None,
            Err(error) => {
                let (line, offset) = error
                    .position()
                    .map_or((line, offset), |p| (p.line(), p.byte()));
                return Some(Err(RowError {
                    line,
                    offset,
                    reason: format!("unreadable row: {error}"),
                }));
            }
        }
        let id = record.get(self.id_column).unwrap_or("").trim();
        if id.is_empty() {
            return Some(Err(RowError {
                line,
                offset,
                reason: "the `id` is empty".into(),
            }));
        }
        let mut contact = Contact::new(id);
        contact.line = line;
        contact.offset = offset;
        contact.fields.reserve(self.columns.len());
        for (cell, column) in record.iter().zip(&self.columns) {
            let Some((name, kind)) = column else { continue };
            match parse_cell(*kind, cell) {
                Ok(Some(value)) => {
                    contact.fields.insert(name.clone(), value);
                }
                Ok(None) => {}
                Err(reason) => {
                    return Some(Err(RowError {
                        line,
                        offset,
                        reason: format!("contact `{id}`, column `{name}`: {reason}"),
                    }))
                }
            }
        }
        Some(Ok(contact))
    }
}
