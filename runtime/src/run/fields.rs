//! `becomes` and `changes` triggers: each run compares the watched fields
//! of a contact with the values the state last saw.

use jiff::{SignedDuration, Timestamp};

use super::RunError;
use crate::bytecode::{Program, TriggerCode};
use crate::state::{ContactState, StateStore, StoredChange};
use crate::vm::{Contact, FieldChange, Value};

/// The fields `becomes` and `changes` triggers watch.
pub(super) fn watched_fields(program: &Program) -> Vec<String> {
    let mut fields: Vec<String> = program
        .flows
        .iter()
        .flat_map(|f| &f.rules)
        .filter_map(|r| match &r.trigger {
            TriggerCode::Becomes { field, .. } | TriggerCode::Changes { field, .. } => {
                Some(program.string(*field).to_string())
            }
            _ => None,
        })
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

/// The changes of watched fields the VM sees for `contact`: those earlier
/// runs recorded, and one for each field whose value differs from the last
/// value seen (recorded now, dated just before `now` so that this run's
/// window holds it). A value seen for the first time is no change: a first
/// import does not make every gold customer "become" gold.
pub(super) fn watch_fields(
    store: &mut dyn StateStore,
    watched: &[String],
    contact: &Contact,
    state: &ContactState,
    now: Timestamp,
) -> Result<Vec<FieldChange>, RunError> {
    let mut changes = Vec::new();
    if watched.is_empty() {
        return Ok(changes);
    }
    // The typed value when it is still the current one, else the text.
    let typed = |field: &str, text: &str| {
        let current = contact.field(field);
        match current.to_text() == text {
            true => current.clone(),
            false => Value::Text(text.into()),
        }
    };
    for change in &state.changes {
        changes.push(FieldChange {
            field: change.field.clone(),
            at: change.at,
            old: Value::Text(change.old.clone()),
            new: typed(&change.field, &change.new),
        });
    }
    for field in watched {
        let current = contact.field(field).to_text();
        let last = state
            .fields
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v);
        match last {
            Some(last) if *last == current => {}
            Some(last) => {
                let change = StoredChange {
                    field: field.clone(),
                    at: now
                        .checked_sub(SignedDuration::from_nanos(1))
                        .unwrap_or(now),
                    old: last.clone(),
                    new: current.clone(),
                };
                store.save_field(&contact.id, field, &current, Some(&change))?;
                changes.push(FieldChange {
                    field: field.clone(),
                    at: change.at,
                    old: Value::Text(change.old),
                    new: contact.field(field).clone(),
                });
            }
            None => store.save_field(&contact.id, field, &current, None)?,
        }
    }
    Ok(changes)
}
