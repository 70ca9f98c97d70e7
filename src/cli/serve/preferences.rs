//! The unsubscribe link of every message: RFC 8058's one-click POST, and
//! the preference page (a box per channel and per kind of message), whose
//! forms record `unsubscribed` and `resubscribed` events.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use flowc_runtime::bytecode::Program;
use flowc_runtime::feedback::{self, Subscription};
use flowc_runtime::keys::Purpose;
use flowc_runtime::state::{SqliteState, StateStore};
use flowc_runtime::vm::Event;
use jiff::Timestamp;

use super::{not_found, unavailable, with_store, Shared};

/// Where a contact stands, as the preference page shows it.
struct Standing {
    /// The channels the program sends on (e-mail always first): name,
    /// label, withdrawn.
    channels: Vec<(&'static str, &'static str, bool)>,
    /// The kinds of message the project declares: name, words, withdrawn.
    kinds: Vec<(String, String, bool)>,
}

fn standing(program: &Program, events: &[Event], now: Timestamp) -> Standing {
    use flowc_runtime::bytecode::Channel;
    use flowc_runtime::vm::consent::{channel_withdrawn, kind_withdrawn};
    let channels = [
        (Channel::Email, "E-mail"),
        (Channel::Sms, "Text messages (SMS)"),
        (Channel::Push, "Push notifications"),
    ]
    .into_iter()
    .filter(|(channel, _)| {
        *channel == Channel::Email || program.templates.iter().any(|t| t.channel == *channel)
    })
    .map(|(channel, label)| {
        (
            channel.name(),
            label,
            channel_withdrawn(events, channel.name(), now),
        )
    })
    .collect();
    let kinds = program
        .kinds
        .iter()
        .map(|(name, words)| {
            let name = program.string(*name);
            (
                name.to_string(),
                program.string(*words).to_string(),
                kind_withdrawn(events, name, now),
            )
        })
        .collect();
    Standing { channels, kinds }
}

impl Standing {
    /// Withdrawn from every marketing e-mail (the page's main button).
    fn email_withdrawn(&self) -> bool {
        self.channels.first().is_some_and(|(_, _, out)| *out)
    }
}

/// What a POST to `/u/TOKEN` asks.
enum Change {
    /// Out of (or, `back`, into) every marketing e-mail: RFC 8058's
    /// one-click POST, or the page's main button.
    Email { back: bool, via: &'static str },
    /// The preference form: the channels and kinds left ticked.
    Preferences {
        channels: Vec<String>,
        kinds: Vec<String>,
    },
}

/// Resolves a `/u/` token, applies `change` (none for a GET) in one group
/// and answers where the contact stands after it; `None` for a token
/// that does not verify.
async fn preferences(
    service: &Shared,
    token: String,
    change: Option<Change>,
) -> Result<Option<Standing>, String> {
    with_store(service, move |service, store| {
        let program = &service.program;
        let Some(resolved) = feedback::resolve(&service.keys, store, &token, Purpose::Unsubscribe)
            .map_err(|e| e.0)?
        else {
            return Ok(None);
        };
        let contact = resolved.key.contact.clone();
        let now = Timestamp::now();
        let read = |store: &mut SqliteState| {
            let events = store.consent_events(&[&contact]).map_err(|e| e.0)?;
            let events = events.get(&contact).cloned().unwrap_or_default();
            Ok::<_, String>(standing(program, &events, now))
        };
        let before = read(store)?;
        let event = |back: bool, of: Subscription, via: &str| {
            feedback::subscription_event(&resolved, back, of, via, now)
        };
        let events: Vec<Event> = match change {
            None => return Ok(Some(before)),
            Some(Change::Email { back, via }) => {
                vec![event(back, Subscription::Channel("email"), via)]
            }
            Some(Change::Preferences { channels, kinds }) => {
                // Only what the form changed: a box left as it was says nothing.
                let channels = before.channels.iter().filter_map(|(name, _, out)| {
                    let ticked = channels.iter().any(|c| c == name);
                    (ticked == *out).then(|| event(ticked, Subscription::Channel(name), "page"))
                });
                let kinds = before.kinds.iter().filter_map(|(name, _, out)| {
                    let ticked = kinds.iter().any(|k| k == name);
                    (ticked == *out).then(|| event(ticked, Subscription::Kind(name), "page"))
                });
                channels.chain(kinds).collect()
            }
        };
        store.begin_group().map_err(|e| e.0)?;
        for event in &events {
            store.ingest(&contact, event).map_err(|e| e.0)?;
        }
        store.commit_group().map_err(|e| e.0)?;
        read(store).map(Some)
    })
    .await
}

/// GET /u/TOKEN: the preference page; a GET never unsubscribes (link
/// scanners fetch every URL of a message).
pub(super) async fn unsubscribe_page(
    State(service): State<Shared>,
    Path(token): Path<String>,
) -> Response {
    match preferences(&service, token, None).await {
        Ok(Some(standing)) => page(&standing, None),
        Ok(None) => not_found(),
        Err(_) => unavailable(),
    }
}

/// POST /u/TOKEN: `List-Unsubscribe=One-Click` (RFC 8058, from the mail
/// client), or the page's forms: `action=unsubscribe|resubscribe` (every
/// marketing e-mail) or `action=preferences` with the ticked `channel`s
/// and `kind`s.
pub(super) async fn unsubscribe(
    State(service): State<Shared>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = url_form(&body);
    let value = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let values = |key: &str| {
        form.iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    let one_click = value("List-Unsubscribe") == Some("One-Click");
    let (change, done) = match value("action") {
        _ if one_click => (
            Change::Email {
                back: false,
                via: "one-click",
            },
            "",
        ),
        Some("resubscribe") => (
            Change::Email {
                back: true,
                via: "page",
            },
            "You will receive these e-mails again.",
        ),
        Some("preferences") => (
            Change::Preferences {
                channels: values("channel"),
                kinds: values("kind"),
            },
            "Your preferences are saved.",
        ),
        _ => (
            Change::Email {
                back: false,
                via: "page",
            },
            "You are unsubscribed: no more of these e-mails will be sent.",
        ),
    };
    match preferences(&service, token, Some(change)).await {
        Ok(Some(_)) if one_click => (StatusCode::OK, "unsubscribed\n").into_response(),
        Ok(Some(standing)) => page(&standing, Some(done)),
        Ok(None) => not_found(),
        Err(_) => unavailable(),
    }
}

/// Text for HTML (the project's words for its kinds).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page: where the contact stands, one button for every marketing
/// e-mail, and a form per channel and per kind. Plain HTML: no script,
/// labels on every box, works without CSS.
fn page(standing: &Standing, done: Option<&str>) -> Response {
    let (status, action, button) = if standing.email_withdrawn() {
        (
            "You are unsubscribed from these e-mails.",
            "resubscribe",
            "Subscribe again",
        )
    } else {
        (
            "Do you want to stop receiving these e-mails?",
            "unsubscribe",
            "Unsubscribe",
        )
    };
    let done = done
        .map(|d| format!("<p role=\"status\"><strong>{d}</strong></p>"))
        .unwrap_or_default();
    let boxes = |name: &str, items: &mut dyn Iterator<Item = (String, String, bool)>| {
        items
            .map(|(value, label, out)| {
                let id = format!("{name}-{value}");
                let checked = if out { "" } else { " checked" };
                format!(
                    "<div><input type=\"checkbox\" id=\"{id}\" name=\"{name}\" value=\"{value}\"{checked}> \
                     <label for=\"{id}\">{}</label></div>",
                    escape(&label)
                )
            })
            .collect::<String>()
    };
    let channels = boxes(
        "channel",
        &mut standing
            .channels
            .iter()
            .map(|(n, l, out)| (n.to_string(), l.to_string(), *out)),
    );
    let kinds = if standing.kinds.is_empty() {
        String::new()
    } else {
        format!(
            "<fieldset><legend>What we may send you</legend>{}</fieldset>",
            boxes("kind", &mut standing.kinds.iter().cloned())
        )
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>E-mail preferences</title><link rel=\"icon\" href=\"data:,\">\
         <style>body{{font:1.1rem/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         button{{font:inherit;padding:.5rem 1.2rem}}fieldset{{margin:1rem 0;border:1px solid #888}}\
         input{{width:1.2rem;height:1.2rem;vertical-align:middle}}</style></head>\
         <body><main><h1>E-mail preferences</h1>{done}<p id=\"standing\">{status}</p>\
         <form method=\"post\"><input type=\"hidden\" name=\"action\" value=\"{action}\">\
         <button type=\"submit\" id=\"{action}\">{button}</button></form>\
         <h2>Or choose what you receive</h2>\
         <form method=\"post\"><input type=\"hidden\" name=\"action\" value=\"preferences\">\
         <fieldset><legend>Where we may write to you</legend>{channels}</fieldset>{kinds}\
         <button type=\"submit\" id=\"save\">Save my preferences</button></form></main></body></html>\n"
    );
    ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// `application/x-www-form-urlencoded` pairs (what RFC 8058 and forms send).
fn url_form(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
                (b'%', Some(&a), Some(&b)) if hex(a).is_some() && hex(b).is_some() => {
                    out.push((hex(a).unwrap_or(0) * 16 + hex(b).unwrap_or(0)) as u8);
                    i += 3;
                }
                (b, _, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}
