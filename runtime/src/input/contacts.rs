//! Contacts from a CSV file, streamed one row at a time and typed by the
//! program's schema. A bad row is an error naming its line and cause; the
//! rows after it are still read (guarantee 15):
//!
//! - a row with more or fewer fields than the header has columns is not
//!   read: its values would land in the wrong fields;
//! - a quote left open swallows the rest of the file into one field: the
//!   row is reported and reading starts again at the line after it;
//! - a value longer than [`MAX_VALUE`] bytes is refused (a mail header
//!   line is at most 998 characters, RFC 5322);
//! - an id already seen: the first row is the contact, each later one is
//!   reported with both lines and not used;
//! - a column the schema declares (not `optional`) but the header lacks
//!   stops everything before a row is read.

use std::io::{Read, Seek};

use rustc_hash::FxHashSet;

use crate::bytecode::{FieldKind, Program};
use crate::vm::Contact;

use super::values::parse_cell;
use super::{InputError, RowError};

/// The longest value a contact field may hold, in bytes: RFC 5322's limit
/// of a header line, which a name or an address may become.
pub const MAX_VALUE: usize = 998;

/// Reads contacts; the `id` column is required, columns the schema does not
/// know are left out (see `ignored_columns`).
pub struct ContactReader<R: Read> {
    rows: csv::Reader<R>,
    record: csv::StringRecord,
    /// Per column: the field it fills and how to read it.
    columns: Vec<Option<(std::sync::Arc<str>, FieldKind)>>,
    id_column: usize,
    ignored: Vec<String>,
    /// Each id read so far (a 64-bit hash: 9 bytes a contact, about 19 MB
    /// at a million; a map to lines took 58 MB there), when the file is
    /// read from the start: a later row with the same id is a duplicate.
    /// Rows read at an offset are not checked.
    seen: Option<FxHashSet<u64>>,
    /// Where the rows start (after the header), to find the first line of
    /// a duplicate id.
    data_start: csv::Position,
    /// How many first lines were looked for: a file full of duplicates
    /// does not cost a scan each.
    lookups: u32,
    /// Reading cannot go on where it was (a seek back failed): the row
    /// that says so is the last one, never rows read from a wrong place.
    lost: bool,
}

/// The duplicates whose first line is looked for (each costs a scan of
/// the rows before it); later ones say "an earlier line".
const FIRST_LINE_LOOKUPS: u32 = 20;

impl<R: Read> ContactReader<R> {
    pub fn new(program: &Program, input: R) -> Result<ContactReader<R>, InputError> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
        let header = reader
            .headers()
            .map_err(|e| InputError::Header(e.to_string()))?
            .clone();
        let data_start = reader.position().clone();
        let mut columns: Vec<Option<(std::sync::Arc<str>, FieldKind)>> = Vec::new();
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
        let present: std::collections::HashSet<&str> =
            columns.iter().flatten().map(|(name, _)| &**name).collect();
        let missing: Vec<&str> = program
            .fields
            .iter()
            .filter(|f| f.required)
            .map(|f| program.string(f.name))
            .filter(|name| *name != "id" && !present.contains(name))
            .collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|n| format!("`{n}`")).collect();
            return Err(InputError::Header(format!(
                "the schema (flow.toml) declares {} but the header has no such column: nothing was run. Add the column, or mark the field `optional = true` in flow.toml",
                names.join(", ")
            )));
        }
        Ok(ContactReader {
            rows: reader,
            record: csv::StringRecord::new(),
            columns,
            id_column,
            ignored,
            seen: Some(FxHashSet::default()),
            data_start,
            lookups: 0,
            lost: false,
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
        // Rows read at an offset are a selection: no duplicates to tell.
        self.seen = None;
        let mut position = csv::Position::new();
        position.set_byte(offset).set_line(line);
        if let Err(error) = self.rows.seek(position) {
            return Some(Err(RowError::new(
                line,
                offset,
                format!("cannot read the row: {error}"),
            )));
        }
        self.next()
    }

    /// The first line of `id`, read again from the start of the rows (up
    /// to `before`), then back where reading was. `None` past
    /// [`FIRST_LINE_LOOKUPS`] or when the file cannot be read again; a
    /// failed seek back ends the reading (`lost`).
    fn first_line_of(&mut self, id: &str, before: u64) -> Option<u64> {
        if self.lookups >= FIRST_LINE_LOOKUPS {
            return None;
        }
        self.lookups += 1;
        let back = self.rows.position().clone();
        if self.rows.seek(self.data_start.clone()).is_err() {
            return None;
        }
        let mut record = csv::StringRecord::new();
        let mut found = None;
        while let Ok(true) = self.rows.read_record(&mut record) {
            let line = record.position().map_or(0, |p| p.line());
            if line >= before {
                break;
            }
            if record.get(self.id_column).map(str::trim) == Some(id) {
                found = Some(line);
                break;
            }
        }
        self.lost = self.rows.seek(back).is_err();
        found
    }

    /// After a row that ran over several lines and did not have the
    /// header's fields (a quote left open): reading starts again at the
    /// line after its first, so one broken quote costs one row.
    fn resume_after_line(&mut self, offset: u64, line: u64) -> std::io::Result<()> {
        let mut position = csv::Position::new();
        position.set_byte(offset).set_line(line);
        self.rows
            .seek(position)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut next = offset;
        let mut buffer = [0u8; 4096];
        'scan: loop {
            let n = self.rows.get_mut().read(&mut buffer)?;
            if n == 0 {
                break;
            }
            for &byte in &buffer[..n] {
                next += 1;
                if byte == b'\n' {
                    break 'scan;
                }
            }
        }
        let mut position = csv::Position::new();
        position.set_byte(next).set_line(line + 1);
        self.rows
            .seek(position)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

impl<R: Read + Seek> Iterator for ContactReader<R> {
    type Item = Result<Contact, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.lost {
            return None;
        }
        let read = self.rows.read_record(&mut self.record);
        let (line, offset) = self
            .record
            .position()
            .map_or((0, 0), |p| (p.line(), p.byte()));
        match read {
            Ok(true) => {}
            Ok(false) => return None,
            Err(error) => {
                let (line, offset) = error
                    .position()
                    .map_or((line, offset), |p| (p.line(), p.byte()));
                return Some(Err(RowError::new(
                    line,
                    offset,
                    format!("unreadable row: {error}"),
                )));
            }
        }
        let fields = self.record.len();
        // The id, where the row has one: its contact's flows are held
        // while the row cannot be read.
        let named = |error: RowError, record: &csv::StringRecord, column: usize| match record
            .get(column)
            .map(str::trim)
        {
            Some(id) if !id.is_empty() && id.len() <= MAX_VALUE => error.of(id),
            _ => error,
        };
        if fields != self.columns.len() {
            let end_line = self.rows.position().line();
            let spans = end_line.saturating_sub(line);
            if spans > 1 {
                let reason = format!(
                    "a quote opened in this row is never closed (the row would run over {spans} lines); the row is not read, and reading goes on at line {}",
                    line + 1
                );
                let error = named(
                    RowError::new(line, offset, reason),
                    &self.record,
                    self.id_column,
                );
                if let Err(e) = self.resume_after_line(offset, line) {
                    self.lost = true;
                    return Some(Err(RowError {
                        reason: format!(
                            "a quote opened in this row is never closed, and the file cannot be read again after it ({e}): no later row is read"
                        ),
                        ..error
                    }));
                }
                return Some(Err(error));
            }
            let error = RowError::new(
                line,
                offset,
                format!(
                    "{fields} fields, but the header names {} columns: the row is not read (its values would land in the wrong fields)",
                    self.columns.len()
                ),
            );
            return Some(Err(named(error, &self.record, self.id_column)));
        }
        let record = &self.record;
        let id = record.get(self.id_column).unwrap_or("").trim();
        if id.is_empty() {
            return Some(Err(RowError::new(line, offset, "the `id` is empty".into())));
        }
        if id.len() > MAX_VALUE {
            return Some(Err(RowError::new(
                line,
                offset,
                format!("the `id` is {} bytes long (at most {MAX_VALUE})", id.len()),
            )));
        }
        if let Some(seen) = &mut self.seen {
            use std::hash::{Hash, Hasher};
            let mut hasher = rustc_hash::FxHasher::default();
            id.hash(&mut hasher);
            if !seen.insert(hasher.finish()) {
                let id = id.to_string();
                let first = match self.first_line_of(&id, line) {
                    Some(first) => format!("line {first}"),
                    None => "an earlier line".to_string(),
                };
                let after = match self.lost {
                    true => "; the file cannot be read again after it: no later row is read",
                    false => "",
                };
                return Some(Err(RowError {
                    duplicate: true,
                    ..RowError::new(
                        line,
                        offset,
                        format!(
                            "contact `{id}` is already on {first}: this row is not used (the first row with an id is the contact){after}"
                        ),
                    )
                }));
            }
        }
        let mut contact = Contact::new(id);
        contact.line = line;
        contact.offset = offset;
        contact.fields.reserve(self.columns.len());
        for (cell, column) in record.iter().zip(&self.columns) {
            let Some((name, kind)) = column else { continue };
            if cell.len() > MAX_VALUE {
                return Some(Err(RowError::new(
                    line,
                    offset,
                    format!(
                        "contact `{id}`, column `{name}`: the value is {} bytes long (at most {MAX_VALUE}, the length of a mail header line)",
                        cell.len()
                    ),
                )
                .of(id)));
            }
            match parse_cell(*kind, cell) {
                Ok(Some(value)) => {
                    contact.fields.insert(name.clone(), value);
                }
                Ok(None) => {}
                Err(reason) => {
                    return Some(Err(RowError::new(
                        line,
                        offset,
                        format!("contact `{id}`, column `{name}`: {reason}"),
                    )
                    .of(id)))
                }
            }
        }
        Some(Ok(contact))
    }
}
