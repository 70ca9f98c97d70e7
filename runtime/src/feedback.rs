//! What comes back through `flowc serve`: a signed token resolved to the
//! send it was made for, and the event a request records (an unsubscribe,
//! a click, an open). The events are ordinary ones, stored like ingested
//! events, so `run` obeys them at once: an unsubscribe stops the next
//! hand-off, a click makes `clicked X` true.

use jiff::Timestamp;

use crate::bytecode::{ActionCode, Program};
use crate::keys::{Keys, Purpose, Token};
use crate::state::{SendKey, StateError, StateStore};
use crate::vm::{Event, Value};

/// A token that verified, and the recorded send it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub key: SendKey,
    pub token: Token,
    /// Which action of the rule (0 for the first): `ID-N` in the token.
    pub action: usize,
}

/// The send a token was made for, if it verifies under `keys`, is for
/// `purpose` and names a send the state recorded. Anything else is `None`,
/// and the caller answers as for a page that does not exist.
///
/// # Errors
/// The state cannot be read.
pub fn resolve(
    keys: &Keys,
    store: &dyn StateStore,
    token: &str,
    purpose: Purpose,
) -> Result<Option<Resolved>, StateError> {
    let Some(token) = keys.verify(token).filter(|t| t.purpose == purpose) else {
        return Ok(None);
    };
    let (id, action) = match token.action_id.split_once('-') {
        Some((id, n)) => match n.parse() {
            Ok(n) => (id.to_string(), n),
            Err(_) => return Ok(None),
        },
        None => (token.action_id.clone(), 0),
    };
    Ok(store
        .send_by_id(&id)?
        .map(|key| Resolved { key, token, action }))
}

/// Where a tracked link of a sent message leads: the target its template
/// declares for that name. Only declared targets, so `/c/` is never an
/// open redirect.
pub fn link_target(program: &Program, resolved: &Resolved) -> Option<String> {
    let link = resolved.token.link.as_deref()?;
    let flow = program
        .flows
        .iter()
        .find(|f| program.string(f.name) == resolved.key.flow)?;
    let rule = flow
        .rules
        .iter()
        .find(|r| program.string(r.name) == resolved.key.rule)?;
    let ActionCode::Send {
        channel, template, ..
    } = rule.actions.get(resolved.action)?
    else {
        return None;
    };
    program
        .templates
        .iter()
        .find(|t| t.name == *template && t.channel == *channel)?
        .links
        .iter()
        .find(|(name, _)| name == link)
        .map(|(_, target)| target.clone())
}

/// The attributes that name the message an event is about, as feeds give
/// them (`flow`, `rule`, `occurrence`).
fn about(resolved: &Resolved, kind: &str, id: String, at: Timestamp) -> Event {
    Event::new(&id, kind, at)
        .with("flow", Value::Text(resolved.key.flow.clone()))
        .with("rule", Value::Text(resolved.key.rule.clone()))
        .with("occurrence", Value::Text(resolved.key.occurrence.clone()))
}

/// What an unsubscribe or its undo speaks of: a channel (every kind of
/// message on it) or a kind of message the project declares (on every
/// channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subscription<'a> {
    Channel(&'a str),
    Kind(&'a str),
}

/// An unsubscribe (`resubscribe`: its undo) from a channel or a kind of
/// message. Each is a new event, so that unsubscribing again after an
/// undo counts; the events of one preference form differ by what they
/// speak of.
pub fn subscription_event(
    resolved: &Resolved,
    resubscribe: bool,
    of: Subscription,
    via: &str,
    at: Timestamp,
) -> Event {
    let kind = if resubscribe {
        "resubscribed"
    } else {
        "unsubscribed"
    };
    let (attribute, name) = match of {
        Subscription::Channel(channel) => ("channel", channel),
        Subscription::Kind(kind) => ("kind", kind),
    };
    let id = format!(
        "{kind}-{}-{}-{attribute}-{name}",
        resolved.token.action_id,
        at.as_nanosecond()
    );
    about(resolved, kind, id, at)
        .with(attribute, Value::Text(name.to_string()))
        .with("via", Value::Text(via.to_string()))
}

/// The first click on a link of a message (later clicks are the same
/// event: `clicked X link "b"` asks whether, not how often).
pub fn click_event(resolved: &Resolved, at: Timestamp) -> Event {
    let link = resolved.token.link.clone().unwrap_or_default();
    let id = format!("clicked-{}-{link}", resolved.token.action_id);
    about(resolved, "clicked", id, at).with("link", Value::Text(link))
}

/// The first open of a message. `machine`: it came within seconds of the
/// hand-off, as privacy proxies fetch images, not people.
pub fn open_event(resolved: &Resolved, machine: bool, at: Timestamp) -> Event {
    let id = format!("opened-{}", resolved.token.action_id);
    about(resolved, "opened", id, at).with("machine", Value::Bool(machine))
}

/// The send id in a Message-ID as providers echo it: `<ID@flowc>`,
/// `<ID-1@flowc>` (a rule's second message), or the bare id.
pub fn send_id_of(message_id: &str) -> &str {
    let id = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let id = id.split('@').next().unwrap_or(id);
    id.split('-').next().unwrap_or(id)
}

/// Events by contact, and the lines left out with why.
pub type ResolvedEvents = (
    std::collections::HashMap<String, Vec<Event>>,
    Vec<(u64, String)>,
);

/// Events that name a message only by its Message-ID, resolved to the
/// contact, flow, rule and occurrence of the send, by contact; and the
/// lines of those that name no send of this state, with why.
///
/// # Errors
/// The state cannot be read.
pub fn resolve_messages(
    store: &dyn StateStore,
    by_message: &[(u64, Event)],
) -> Result<ResolvedEvents, StateError> {
    let mut resolved: std::collections::HashMap<String, Vec<Event>> = Default::default();
    let mut unknown = Vec::new();
    for (line, event) in by_message {
        let message_id = match event.attributes.get("message_id") {
            Some(Value::Text(id)) => id.clone(),
            Some(other) => other.to_text(),
            None => String::new(),
        };
        let Some(key) = store.send_by_id(send_id_of(&message_id))? else {
            unknown.push((
                *line,
                format!("no send of this state has the Message-ID `{message_id}`"),
            ));
            continue;
        };
        let mut event = event.clone();
        for (name, value) in [
            ("flow", &key.flow),
            ("rule", &key.rule),
            ("occurrence", &key.occurrence),
        ] {
            event
                .attributes
                .entry(name.to_string())
                .or_insert_with(|| Value::Text(value.clone()));
        }
        resolved.entry(key.contact).or_default().push(event);
    }
    Ok((resolved, unknown))
}
