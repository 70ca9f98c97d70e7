//! Rows of the state file read back as the VM's values, and values written
//! as rows.

use jiff::Timestamp;

use crate::bytecode::Channel;
use crate::state::Held;
use crate::vm::{Event, SentMessage, Value};

/// An instant stored as RFC 3339 text.
pub fn instant(text: String) -> rusqlite::Result<Timestamp> {
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// An attribute as JSON (dates and instants as their text).
pub fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => {
            serde_json::Number::from_f64(*n).map_or(serde_json::Value::Null, Into::into)
        }
        Value::List(items) => items.iter().map(to_json).collect(),
        other => other.to_text().into(),
    }
}

pub fn sent_message(row: &rusqlite::Row) -> rusqlite::Result<SentMessage> {
    sent_message_at(row, 0)
}

/// `flow, rule, occurrence, due_at, channel` from column `at` on.
pub fn sent_message_at(row: &rusqlite::Row, at: usize) -> rusqlite::Result<SentMessage> {
    let mut message = SentMessage::new(
        &row.get::<_, String>(at)?,
        &row.get::<_, String>(at + 1)?,
        &row.get::<_, String>(at + 2)?,
        instant(row.get(at + 3)?)?,
    );
    message.channel = match row.get::<_, Option<String>>(at + 4)?.as_deref() {
        Some("email") => Some(Channel::Email),
        Some("sms") => Some(Channel::Sms),
        Some("push") => Some(Channel::Push),
        _ => None,
    };
    Ok(message)
}

pub fn event(row: &rusqlite::Row) -> rusqlite::Result<Event> {
    event_at(row, 0)
}

/// `id, kind, at, attributes` from column `at` on.
pub fn event_at(row: &rusqlite::Row, at: usize) -> rusqlite::Result<Event> {
    let mut event = Event::new(
        &row.get::<_, String>(at)?,
        &row.get::<_, String>(at + 1)?,
        instant(row.get(at + 2)?)?,
    );
    // Attributes that do not read are a damaged row, not an event without
    // attributes (which could make a condition on them false).
    let attributes: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&row.get::<_, String>(at + 3)?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                at + 3,
                rusqlite::types::Type::Text,
                format!("the attributes are not a JSON object: {e}").into(),
            )
        })?;
    event.attributes = attributes
        .iter()
        .map(|(k, v)| (k.clone(), crate::input::json_value(v)))
        .collect();
    Ok(event)
}

/// `flow, since, reason` of a hold, from column `at` on.
pub fn held_at(row: &rusqlite::Row, at: usize) -> rusqlite::Result<Held> {
    Ok(Held {
        flow: row.get(at)?,
        since: instant(row.get(at + 1)?)?,
        reason: row.get(at + 2)?,
    })
}
