//! A due rule's actions rendered for one contact: the payload stored with
//! the send and written by the outbox.

use lettre::message::{header::ContentType, Mailbox, Message};
use minijinja::{AutoEscape, Environment};
use serde_json::json;

use crate::bytecode::{Channel, FieldKind, Program};
use crate::vm::consent::MessageKind;
use crate::vm::{Action, Contact, Due, Outcome, Value};

/// Settings of a run that rendering needs.
#[derive(Clone, Debug)]
pub struct RenderSettings {
    /// `From:` when a rule gives no sender.
    pub default_sender: String,
    /// Where `flowc serve` answers (`https://m.example.com`): unsubscribe
    /// links go there, and template links and the open pixel are tracked
    /// through it. `None`: unsubscribe links point at `example.invalid` (no
    /// service answers them) and links go straight to their targets.
    pub public_url: Option<String>,
    /// `List-Unsubscribe`'s `mailto:` form, when the operator has one.
    pub unsubscribe_mailto: Option<String>,
    /// Keys link tokens and coupon codes.
    pub keys: crate::keys::Keys,
}

impl RenderSettings {
    fn link(&self, path: &str, token: &str) -> String {
        let base = self
            .public_url
            .as_deref()
            .unwrap_or("https://example.invalid");
        format!("{}/{path}/{token}", base.trim_end_matches('/'))
    }
}

/// The JSON payload of a due rule for `contact`: one entry per action that
/// is not skipped. `Err` says why it cannot be rendered (a missing address,
/// a template error); the send then waits as pending with that reason.
pub fn render_due(
    program: &Program,
    contact: &Contact,
    due: &Due,
    message_id: &str,
    settings: &RenderSettings,
) -> Result<serde_json::Value, String> {
    let Outcome::Planned(planned) = &due.outcome else {
        return Ok(json!({ "actions": [] }));
    };
    let mut actions = Vec::new();
    // The coupons the message issues: the state stores them under their
    // code, for `flowc serve` to validate and redeem.
    let mut coupons = Vec::new();
    for (index, planned) in planned.iter().enumerate() {
        if planned.skipped.is_some() {
            continue;
        }
        let id = if index == 0 {
            message_id.to_string()
        } else {
            format!("{message_id}-{index}")
        };
        actions.push(match &planned.action {
            Action::Send {
                channel,
                template,
                sender,
                coupon,
                vars,
                redemption,
            } => {
                let mut context = contact_context(contact);
                for (name, value) in vars {
                    context.insert(name.clone(), to_jinja(value));
                }
                if !redemption.is_empty() {
                    let attributes: std::collections::BTreeMap<String, minijinja::Value> =
                        redemption.iter().map(|(k, v)| (k.clone(), to_jinja(v))).collect();
                    context.insert("redemption".into(), minijinja::Value::from_serialize(&attributes));
                }
                if let Some(event) = &due.event {
                    let attributes: std::collections::BTreeMap<String, minijinja::Value> =
                        event.attributes.iter().map(|(k, v)| (k.clone(), to_jinja(v))).collect();
                    context.insert("event".into(), minijinja::Value::from_serialize(&attributes));
                }
                let found = program
                    .templates
                    .iter()
                    .find(|t| program.string(t.name) == template && t.channel == *channel)
                    .ok_or_else(|| format!("no {} template `{template}` in the program", channel.name()))?;
                // A coupon from the rule, else from the template's front matter.
                // A validity that does not read as a duration gives a coupon without expiry.
                let coupon = coupon.or_else(|| found.coupon.as_deref().map(|v| v.parse().ok()));
                if let Some(validity) = coupon {
                    let expires = validity
                        .and_then(|v| v.apply_to_instant(due.instant, &jiff::tz::TimeZone::UTC).ok())
                        .map(|t| t.to_string());
                    let key = crate::state::SendKey {
                        flow: due.flow.clone(),
                        rule: due.rule.clone(),
                        contact: contact.id.clone(),
                        occurrence: due.occurrence.clone(),
                    };
                    let code = settings.keys.coupon_code(template, &key);
                    coupons.push(json!({ "code": code, "expires": expires }));
                    context.insert(
                        "coupon".into(),
                        minijinja::Value::from_serialize(json!({ "code": code, "expires": expires })),
                    );
                }
                use crate::keys::Purpose;
                let keys = &settings.keys;
                let unsubscribe = settings.link("u", &keys.token(Purpose::Unsubscribe, &id, None));
                // Our own URLs (the operator's base, a base64url token) and
                // the template's declared targets: no contact data, so they
                // go into HTML as written, not with `/` escaped.
                let url = |u: String| minijinja::Value::from_safe_string(u);
                context.insert("unsubscribe_url".into(), url(unsubscribe.clone()));
                context.insert("flow".into(), due.flow.clone().into());
                context.insert("today".into(), due.local_date.to_string().into());
                // Behind `flowc serve`, a declared link is a tracked one
                // that redirects to its target; nothing else redirects.
                let tracked = settings.public_url.is_some();
                let open_pixel = if tracked {
                    settings.link("o", &keys.token(Purpose::Open, &id, None))
                } else {
                    String::new()
                };
                context.insert("open_pixel_url".into(), url(open_pixel));
                let links: std::collections::BTreeMap<String, minijinja::Value> = found
                    .links
                    .iter()
                    .map(|(name, target)| {
                        let url = if tracked {
                            settings.link("c", &keys.token(Purpose::Click, &id, Some(name)))
                        } else {
                            target.clone()
                        };
                        (name.clone(), minijinja::Value::from_safe_string(url))
                    })
                    .collect();
                context.insert("links".into(), minijinja::Value::from(links));
                let from = sender.clone().unwrap_or_else(|| settings.default_sender.clone());
                context.insert("sender".into(), from.clone().into());
                let body = render(&found.body, found.html, &context)
                    .map_err(|e| format!("template `{template}`: {e}"))?;
                match channel {
                    Channel::Email => {
                        let subject = match &found.subject {
                            Some(s) => render(s, false, &context).map_err(|e| format!("subject of `{template}`: {e}"))?,
                            None => template.clone(),
                        };
                        let (eml, envelope_from, envelope_to) =
                            email(program, contact, &from, &subject, body, found.html, &id, &unsubscribe, settings.unsubscribe_mailto.as_deref(), due)?;
                        json!({ "kind": "email", "id": id, "eml": eml, "envelope_from": envelope_from, "envelope_to": envelope_to })
                    }
                    Channel::Sms | Channel::Push => {
                        // A push goes to the contact id.
                        let to = match channel {
                            Channel::Sms => contact
                                .field(address_field(program, FieldKind::Phone, "phone"))
                                .to_text(),
                            _ => contact.id.clone(),
                        };
                        if to.is_empty() {
                            return Err(format!("contact `{}` has no phone number", contact.id));
                        }
                        json!({ "kind": channel.name(), "id": id, "contact": contact.id, "to": to, "text": body })
                    }
                }
            }
            Action::Task { kind, assignee, note, due: within } => json!({
                "kind": "task", "id": id, "task": kind, "contact": contact.id,
                "assignee": assignee, "note": note,
                "due": within.map(|w| w.to_string()),
            }),
            Action::Webhook { name, vars } => json!({
                "kind": "webhook", "id": id, "webhook": name, "contact": contact.id,
                "data": vars.iter().map(|(k, v)| (k.clone(), json!(v.to_text()))).collect::<serde_json::Map<_, _>>(),
            }),
            Action::SetField { field, value } => json!({
                "kind": "set", "id": id, "contact": contact.id, "field": field, "value": value.to_text(),
            }),
            Action::Tag(tag) => json!({ "kind": "tag", "id": id, "contact": contact.id, "tag": tag }),
            Action::Untag(tag) => json!({ "kind": "untag", "id": id, "contact": contact.id, "tag": tag }),
            Action::Exit => json!({ "kind": "exit", "id": id, "contact": contact.id, "flow": due.flow }),
        });
    }
    // A transactional message is stopped at hand-off by a hard bounce only,
    // not by an unsubscribe; a message of a declared kind by a withdrawal
    // from that kind too.
    let flow = program
        .flows
        .iter()
        .find(|f| program.string(f.name) == due.flow);
    let mut payload = json!({ "actions": actions });
    match flow.map(|f| f.message_kind(program)) {
        Some(MessageKind::Transactional) => payload["transactional"] = json!(true),
        Some(MessageKind::Marketing(Some(kind))) => payload["message_kind"] = json!(kind),
        _ => {}
    }
    if !coupons.is_empty() {
        payload["coupons"] = json!(coupons);
    }
    Ok(payload)
}

fn render(
    source: &str,
    html: bool,
    context: &std::collections::BTreeMap<String, minijinja::Value>,
) -> Result<String, String> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(move |_| {
        if html {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.add_template("t", source).map_err(|e| e.to_string())?;
    env.get_template("t")
        .and_then(|t| t.render(context))
        .map_err(|e| e.to_string())
}

fn contact_context(contact: &Contact) -> std::collections::BTreeMap<String, minijinja::Value> {
    let mut context: std::collections::BTreeMap<String, minijinja::Value> = contact
        .fields
        .iter()
        .map(|(k, v)| (k.to_string(), to_jinja(v)))
        .collect();
    context.insert("id".into(), contact.id.clone().into());
    context
}

fn to_jinja(value: &Value) -> minijinja::Value {
    match value {
        Value::Null => minijinja::Value::from(()),
        Value::Bool(b) => (*b).into(),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => (*n as i64).into(),
        Value::Number(n) => (*n).into(),
        Value::List(items) => items.iter().map(to_jinja).collect::<Vec<_>>().into(),
        other => other.to_text().into(),
    }
}

/// The whole message as RFC 5322 text. Addresses are parsed (a line break
/// or a stray character in contact data is an error, never a header).
#[allow(clippy::too_many_arguments)]
fn email(
    program: &Program,
    contact: &Contact,
    from: &str,
    subject: &str,
    body: String,
    html: bool,
    id: &str,
    unsubscribe: &str,
    mailto: Option<&str>,
    due: &Due,
) -> Result<(String, String, String), String> {
    let to_text = contact
        .field(address_field(program, FieldKind::Email, "email"))
        .to_text();
    if to_text.is_empty() {
        return Err(format!("contact `{}` has no e-mail address", contact.id));
    }
    let name = contact
        .field("first_name")
        .to_text()
        .replace(['\r', '\n'], " ");
    let to: Mailbox = match name.trim() {
        "" => to_text.parse(),
        name => format!("{} <{to_text}>", quote(name)).parse(),
    }
    .map_err(|e| {
        format!(
            "contact `{}`: `{to_text}` is not a usable address ({e})",
            contact.id
        )
    })?;
    let from: Mailbox = from
        .parse()
        .map_err(|e| format!("sender `{from}` is not a usable address ({e})"))?;
    let (envelope_from, envelope_to) = (from.email.to_string(), to.email.to_string());
    let date = std::time::SystemTime::UNIX_EPOCH
        + std::time::Duration::from_secs(due.instant.as_second().max(0) as u64);
    // `Date` is replaced by the hand-off time when the message goes
    // (`stamp_date`); the due instant stays in a header of our own.
    let message = Message::builder()
        .message_id(Some(format!("<{id}@flowc>")))
        .date(date)
        .header(DueAt(due.instant.to_string()))
        .from(from)
        .to(to)
        .subject(subject.replace(['\r', '\n'], " "))
        // RFC 2369 and RFC 8058: one-click unsubscribe by a POST to the
        // https URL, which `flowc serve` answers.
        .header(ListUnsubscribe(match mailto {
            Some(address) => format!("<{unsubscribe}>, <mailto:{address}?subject=unsubscribe>"),
            None => format!("<{unsubscribe}>"),
        }))
        .header(ListUnsubscribePost)
        .header(if html {
            ContentType::TEXT_HTML
        } else {
            ContentType::TEXT_PLAIN
        })
        .body(body)
        .map_err(|e| format!("cannot build the message: {e}"))?;
    Ok((
        String::from_utf8_lossy(&message.formatted()).into_owned(),
        envelope_from,
        envelope_to,
    ))
}

/// The contact field a channel's address is in: the field of `kind`
/// (email, phone) whatever its name, the one named `usual` first when
/// there are several (`flowc check` refuses a send with none: E0038).
fn address_field<'p>(program: &'p Program, kind: FieldKind, usual: &'p str) -> &'p str {
    program
        .fields
        .iter()
        .filter(|f| f.kind == kind)
        .map(|f| program.string(f.name))
        .min_by_key(|name| *name != usual)
        .unwrap_or(usual)
}

/// A display name in quotes, with quotes and backslashes escaped.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `X-Flowc-Due: 2027-05-31T06:00:00Z`: when the send was due (the `Date`
/// header says when it was handed over).
#[derive(Clone)]
struct DueAt(String);

impl lettre::message::header::Header for DueAt {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("X-Flowc-Due")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(DueAt(s.to_string()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// The message with its `Date` header set to `at`, the instant it is
/// handed to the mail system (RFC 5322, 3.6.1), not the instant it was
/// due or rendered. Only the header section is looked at.
pub fn stamp_date(eml: &str, at: jiff::Timestamp) -> String {
    let date =
        jiff::fmt::rfc2822::to_string(&at.to_zoned(jiff::tz::TimeZone::UTC)).unwrap_or_default();
    let header_end = eml.find("\r\n\r\n").unwrap_or(eml.len());
    let (head, body) = eml.split_at(header_end);
    let mut out = String::with_capacity(eml.len() + 8);
    let mut stamped = false;
    for (index, line) in head.split("\r\n").enumerate() {
        if index > 0 {
            out.push_str("\r\n");
        }
        match line.strip_prefix("Date: ") {
            Some(_) if !stamped && !date.is_empty() => {
                out.push_str("Date: ");
                out.push_str(&date);
                stamped = true;
            }
            _ => out.push_str(line),
        }
    }
    out.push_str(body);
    out
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
#[derive(Clone)]
struct ListUnsubscribePost;

impl lettre::message::header::Header for ListUnsubscribePost {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".into())
    }
}

/// `List-Unsubscribe: <url>`
#[derive(Clone)]
struct ListUnsubscribe(String);

impl lettre::message::header::Header for ListUnsubscribe {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        // Only URL characters: nothing from contact data reaches this header.
        let clean: String = self.0.chars().filter(|c| !c.is_control()).collect();
        lettre::message::header::HeaderValue::new(Self::name(), clean)
    }
}
