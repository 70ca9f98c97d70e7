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

/// An unsubscribe (`resubscribe`: its undo) from the message's channel.
/// Each is a new event, so that unsubscribing again after an undo counts.
pub fn subscription_event(
    resolved: &Resolved,
    resubscribe: bool,
    channel: &str,
    via: &str,
    at: Timestamp,
) -> Event {
    let kind = if resubscribe {
        "resubscribed"
    } else {
        "unsubscribed"
    };
    let id = format!("{kind}-{}-{}", resolved.token.action_id, at.as_nanosecond());
    about(resolved, kind, id, at)
        .with("channel", Value::Text(channel.to_string()))
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
