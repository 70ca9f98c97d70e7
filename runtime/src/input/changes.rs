//! Field changes from a JSON Lines file, for `flowc simulate --changes`:
//! one object per line with `contact`, `field`, `at` (an instant), `new`
//! and optionally `old`, the values written as in a contacts file. A run
//! sees the same changes by comparing each contacts file with the values
//! it stored; a simulation, which reads one contacts file, is told them.

use std::collections::HashMap;
use std::io::BufRead;

use jiff::Timestamp;

use crate::bytecode::Program;
use crate::vm::{FieldChange, Value};

use super::values::parse_cell;
use super::RowError;

/// Changes by contact id, and the lines that could not be read.
#[derive(Debug, Default)]
pub struct Changes {
    pub by_contact: HashMap<String, Vec<FieldChange>>,
    pub errors: Vec<RowError>,
}

/// Reads every line; a bad line is recorded and the next one read.
pub fn read_changes(program: &Program, input: impl BufRead) -> Changes {
    let mut changes = Changes::default();
    for (index, line) in input.lines().enumerate() {
        let number = index as u64 + 1;
        let parsed = line
            .map_err(|error| format!("unreadable line: {error}"))
            .and_then(|line| match line.trim() {
                "" => Ok(None),
                text => change(program, text).map(Some),
            });
        match parsed {
            Ok(Some((contact, change))) => {
                changes.by_contact.entry(contact).or_default().push(change)
            }
            Ok(None) => {}
            Err(reason) => changes.errors.push(RowError::new(number, 0, reason)),
        }
    }
    changes
}

fn change(program: &Program, line: &str) -> Result<(String, FieldChange), String> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let text = |key: &str| -> Option<String> {
        match object.get(key)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        }
    };
    let contact = text("contact")
        .filter(|c| !c.trim().is_empty())
        .ok_or("`contact` is missing")?;
    let field = text("field").ok_or("`field` is missing")?;
    let spec = program
        .fields
        .iter()
        .find(|f| program.string(f.name) == field)
        .ok_or_else(|| format!("`{field}` is not a field of the contact schema"))?;
    let at: Timestamp = text("at")
        .ok_or("`at` is missing")?
        .parse()
        .map_err(|_| "`at` is not an instant (e.g. 2027-03-01T10:00:00Z)".to_string())?;
    let value = |key: &str| -> Result<Value, String> {
        match text(key) {
            Some(raw) => Ok(parse_cell(spec.kind, &raw)
                .map_err(|e| format!("`{key}`: {e}"))?
                .unwrap_or(Value::Null)),
            None => Ok(Value::Null),
        }
    };
    if !object.contains_key("new") {
        return Err("`new` is missing (the value the field took)".into());
    }
    Ok((
        contact.trim().to_string(),
        FieldChange {
            field,
            at,
            old: value("old")?,
            new: value("new")?,
        },
    ))
}
