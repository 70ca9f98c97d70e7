//! Events from a JSON Lines file: one object per line with `contact`,
//! `type`, `at` (an instant), an optional `id`, and the event's attributes
//! as the other keys. Feedback on messages (`opened`, `clicked`,
//! `redeemed`) names the message by `flow`, `rule` and optionally
//! `occurrence`; `clicked` has a `link`.

use std::collections::HashMap;
use std::io::BufRead;

use jiff::Timestamp;

use crate::bytecode::{FieldKind, Program};
use crate::vm::{Event, Value};

use super::values::from_json;
use super::RowError;

/// Events by contact id, and the lines that could not be read.
#[derive(Debug, Default)]
pub struct Events {
    pub by_contact: HashMap<String, Vec<Event>>,
    /// Events that name no contact but a message, by its `message_id` (an
    /// e-mail provider's webhook: opened, clicked, bounced, complained),
    /// with their line; the state resolves them to their send
    /// (`feedback::resolve_messages`).
    pub by_message: Vec<(u64, Event)>,
    pub errors: Vec<RowError>,
}

const RESERVED: &[&str] = &["id", "contact", "type", "at"];

/// Reads every line; a bad line is recorded and the next one read.
pub fn read_events(program: &Program, input: impl BufRead) -> Events {
    let mut events = Events::default();
    for (index, line) in input.lines().enumerate() {
        let number = index as u64 + 1;
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                events.errors.push(RowError::new(
                    number,
                    0,
                    format!("unreadable line: {error}"),
                ));
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match event(program, &line) {
            Ok((contact, event)) if contact.is_empty() => events.by_message.push((number, event)),
            Ok((contact, event)) => events.by_contact.entry(contact).or_default().push(event),
            Err(reason) => events.errors.push(RowError::new(number, 0, reason)),
        }
    }
    events
}

/// The identity of an event that has no `id`: a hash of what it says (its
/// contact, type, instant and attributes, keys sorted), never of where it
/// is in a file. The same event read again, from this file or another,
/// moved or reformatted, is the same event; two events that differ in any
/// attribute are two. (Two purchases by one contact at the same instant
/// with the same attributes and no ids are one: a feed that can emit such
/// twins must give them ids.)
fn content_id(
    contact: &str,
    kind: &str,
    at: Timestamp,
    object: &serde_json::Map<String, serde_json::Value>,
) -> String {
    use sha2::{Digest, Sha256};
    let attributes: std::collections::BTreeMap<&str, &serde_json::Value> = object
        .iter()
        .filter(|(key, _)| !RESERVED.contains(&key.as_str()))
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    // serde_json writes a BTreeMap's keys in order, and a number or string
    // the same way each time: one text per event, whatever its layout.
    let canonical = serde_json::json!([contact, kind, at.to_string(), attributes]);
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("content-{hex}")
}

fn event(program: &Program, line: &str) -> Result<(String, Event), String> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let text = |key: &str| -> Result<String, String> {
        match object.get(key) {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
            _ => Err(format!("`{key}` is missing")),
        }
    };
    // A provider's feedback names the message, not the contact.
    let contact = match (text("contact"), text("message_id")) {
        (Ok(contact), _) => contact,
        (Err(_), Ok(_)) => String::new(),
        (Err(missing), Err(_)) => return Err(format!("{missing} (or `message_id`)")),
    };
    let kind = text("type")?;
    let at: Timestamp = text("at")?
        .parse()
        .map_err(|_| "`at` is not an instant (e.g. 2027-03-01T10:00:00Z)".to_string())?;
    let spec = program
        .events
        .iter()
        .find(|e| program.string(e.name) == kind)
        .ok_or_else(|| {
            format!("unknown event type `{kind}` (declare it in `[events]` of flow.toml)")
        })?;
    let id = match object.get("id") {
        None | Some(serde_json::Value::Null) => {
            let about = if contact.is_empty() {
                text("message_id")?
            } else {
                contact.clone()
            };
            content_id(&about, &kind, at, &object)
        }
        Some(_) => text("id").map_err(|_| {
            "`id` is empty or not text: an event's id must name it (or leave it out)".to_string()
        })?,
    };
    let mut event = Event::new(&id, &kind, at);
    for (key, value) in &object {
        if RESERVED.contains(&key.as_str()) {
            continue;
        }
        let kind = spec
            .attributes
            .iter()
            .find(|a| program.string(a.name) == key)
            .map_or(FieldKind::Text, |a| a.kind);
        let parsed = match (kind, value) {
            // Attributes the catalogue does not declare keep their JSON kind.
            (FieldKind::Text, serde_json::Value::Number(n)) => n.as_f64().map(Value::Number),
            (FieldKind::Text, serde_json::Value::Bool(b)) => Some(Value::Bool(*b)),
            _ => from_json(kind, value).map_err(|reason| format!("`{key}`: {reason}"))?,
        };
        if let Some(parsed) = parsed {
            event.attributes.insert(key.clone(), parsed);
        }
    }
    Ok((contact, event))
}
