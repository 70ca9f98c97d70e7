//! What withdraws a contact's consent to messages on a channel, from the
//! events known by an instant: one definition, used when a rule is
//! planned (the VM) and again when its send is handed over (the run).
//!
//! - `unsubscribed`, of the channel it names, else of every channel;
//! - `complained` (a spam complaint), of the channel it names, else e-mail;
//! - `resubscribed` undoes the withdrawals before it (the latest word wins;
//!   at the same instant, the withdrawal);
//!
//! and, apart, for a marketing message of a kind the project declares
//! (`kind: offers`): `unsubscribed` and `resubscribed` events that name
//! that kind (`"kind": "offers"`), on the channel they name, else every
//! channel. The two are independent, as the two parts of the preference
//! page: a message goes when neither its channel nor its kind is
//! withdrawn, so turning e-mail off and on again leaves a kind turned off
//! as it was.
//! - `bounced`, unless `"bounce": "soft"`, of the channel it names, else
//!   e-mail: stops every message, transactional ones too, for good.
//!
//! A transactional message is stopped by a hard bounce only.

use jiff::Timestamp;

use super::contact::Event;
use super::value::Value;

/// The event kinds that speak of consent (what the state reads for a
/// hand-off).
pub const CONSENT_EVENTS: [&str; 4] = ["unsubscribed", "resubscribed", "bounced", "complained"];

/// What a message is, for consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind<'a> {
    /// Asked for by the contact (a receipt): stopped by a hard bounce only.
    Transactional,
    /// Marketing, of a kind the project declares (`kind: offers`) or none.
    Marketing(Option<&'a str>),
}

/// Why a message on a channel may not go: since when, and whether the
/// address bounced (else the contact withdrew).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Withdrawal {
    pub at: Timestamp,
    pub bounce: bool,
}

/// Whether `event` speaks of `channel`.
fn covers(event: &Event, channel: &str) -> bool {
    match event.attributes.get("channel") {
        Some(Value::Text(c)) if !c.is_empty() && c != "all" => c == channel,
        Some(Value::Text(c)) if c == "all" => true,
        _ => match event.kind.as_str() {
            "unsubscribed" | "resubscribed" => true,
            _ => channel == "email",
        },
    }
}

/// The kind of message `event` names, if any.
fn kind_of(event: &Event) -> Option<&str> {
    match event.attributes.get("kind") {
        Some(Value::Text(k)) if !k.is_empty() => Some(k),
        _ => None,
    }
}

/// The latest withdrawal among `events` not undone by a later (or
/// simultaneous) `resubscribed` among them.
fn latest_word<'e>(events: impl Iterator<Item = &'e Event> + Clone) -> Option<Timestamp> {
    let withdrawn = events
        .clone()
        .filter(|e| matches!(e.kind.as_str(), "unsubscribed" | "complained"))
        .map(|e| e.at)
        .max()?;
    let undone = events
        .filter(|e| e.kind == "resubscribed")
        .map(|e| e.at)
        .max();
    undone
        .is_none_or(|back| back <= withdrawn)
        .then_some(withdrawn)
}

/// What stops a message of `kind` on `channel` (`email`, `sms`, `push`) at
/// `now`, if anything.
pub fn withdrawal(
    events: &[Event],
    channel: &str,
    kind: MessageKind,
    now: Timestamp,
) -> Option<Withdrawal> {
    let known = |kinds: &'static [&'static str]| {
        events
            .iter()
            .filter(move |e| kinds.contains(&e.kind.as_str()) && e.at <= now)
            .filter(move |e| covers(e, channel))
    };
    let hard_bounce = known(&["bounced"])
        .filter(|e| !matches!(e.attributes.get("bounce"), Some(Value::Text(b)) if b == "soft"))
        .map(|e| e.at)
        .min();
    if let Some(at) = hard_bounce {
        return Some(Withdrawal { at, bounce: true });
    }
    let MessageKind::Marketing(kind) = kind else {
        return None;
    };
    let words = known(&["unsubscribed", "complained", "resubscribed"]);
    let of_channel = latest_word(words.clone().filter(|e| kind_of(e).is_none()));
    let of_kind = kind.and_then(|kind| latest_word(words.filter(|e| kind_of(e) == Some(kind))));
    let at = of_channel.into_iter().chain(of_kind).min()?;
    Some(Withdrawal { at, bounce: false })
}

/// Whether the contact withdrew from every marketing message on `channel`
/// (what a preference page shows for a channel; a bounce is not a choice).
pub fn channel_withdrawn(events: &[Event], channel: &str, now: Timestamp) -> bool {
    withdrawal(events, channel, MessageKind::Marketing(None), now).is_some_and(|w| !w.bounce)
}

/// Whether the contact withdrew from messages of `kind` (a kind the
/// project declares) on every channel: what a preference page shows for
/// a kind.
pub fn kind_withdrawn(events: &[Event], kind: &str, now: Timestamp) -> bool {
    latest_word(
        events
            .iter()
            .filter(|e| e.at <= now && kind_of(e) == Some(kind))
            .filter(|e| !e.attributes.contains_key("channel")),
    )
    .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKETING: MessageKind = MessageKind::Marketing(None);

    /// `h` hours into 1 March 2027.
    fn t(h: i64) -> Timestamp {
        "2027-03-01T00:00:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .checked_add(jiff::SignedDuration::from_hours(h))
            .unwrap()
    }

    #[test]
    fn an_unsubscribe_stops_marketing_only_and_a_hard_bounce_everything_on_its_channel() {
        let at: Timestamp = "2027-03-01T10:00:00Z".parse().unwrap();
        let now: Timestamp = "2027-03-02T10:00:00Z".parse().unwrap();
        let stops = |event: &Event, channel: &str, transactional: bool, now: Timestamp| {
            let kind = if transactional {
                MessageKind::Transactional
            } else {
                MessageKind::Marketing(None)
            };
            withdrawal(std::slice::from_ref(event), channel, kind, now).is_some()
        };
        let unsubscribe = Event::new("u", "unsubscribed", at);
        assert!(stops(&unsubscribe, "email", false, now));
        assert!(!stops(&unsubscribe, "email", true, now));
        let bounce = Event::new("b", "bounced", at);
        assert!(stops(&bounce, "email", true, now) && stops(&bounce, "email", false, now));
        assert!(
            !stops(&bounce, "sms", true, now),
            "a bounce names e-mail unless told"
        );
        assert!(!stops(
            &bounce,
            "email",
            true,
            at.checked_sub(jiff::SignedDuration::from_secs(1)).unwrap()
        ));
        let soft = Event::new("s", "bounced", at).with("bounce", Value::Text("soft".into()));
        assert!(!stops(&soft, "email", false, now) && !stops(&soft, "email", true, now));
        let sms = Event::new("s", "bounced", at).with("channel", Value::Text("sms".into()));
        assert!(stops(&sms, "sms", true, now));
    }

    #[test]
    fn the_latest_word_wins_per_channel() {
        let now = t(10);
        let out = Event::new("u", "unsubscribed", t(1));
        let back_email =
            Event::new("r", "resubscribed", t(2)).with("channel", Value::Text("email".into()));
        let events = [out.clone(), back_email];
        // Unsubscribed from everything, then back for e-mail only.
        assert_eq!(withdrawal(&events, "email", MARKETING, now), None);
        assert_eq!(
            withdrawal(&events, "sms", MARKETING, now),
            Some(Withdrawal {
                at: t(1),
                bounce: false
            })
        );
        // A complaint after the undo withdraws e-mail again.
        let complaint = Event::new("c", "complained", t(3));
        let events = [
            out,
            complaint.clone(),
            Event::new("r", "resubscribed", t(2)),
        ];
        assert_eq!(
            withdrawal(&events, "email", MARKETING, now),
            Some(Withdrawal {
                at: t(3),
                bounce: false
            })
        );
        assert_eq!(
            withdrawal(std::slice::from_ref(&complaint), "sms", MARKETING, now),
            None
        );
    }

    #[test]
    fn a_kind_is_withdrawn_alone_and_a_withdrawal_of_all_kinds_covers_it() {
        let now = t(10);
        let offers = MessageKind::Marketing(Some("offers"));
        let news = MessageKind::Marketing(Some("news"));
        let of = |kind: &str| Value::Text(kind.into());
        let no_offers = Event::new("u", "unsubscribed", t(1)).with("kind", of("offers"));
        let events = [no_offers.clone()];
        assert!(withdrawal(&events, "email", offers, now).is_some());
        assert!(withdrawal(&events, "sms", offers, now).is_some());
        assert_eq!(withdrawal(&events, "email", news, now), None);
        assert_eq!(withdrawal(&events, "email", MARKETING, now), None);
        assert_eq!(
            withdrawal(&events, "email", MessageKind::Transactional, now),
            None
        );
        // Out of every e-mail: a kind turned back on does not undo it.
        let events = [
            Event::new("u", "unsubscribed", t(1)).with("channel", of("email")),
            Event::new("r", "resubscribed", t(2)).with("kind", of("offers")),
        ];
        assert!(withdrawal(&events, "email", offers, now).is_some());
        assert_eq!(withdrawal(&events, "sms", offers, now), None);
        // E-mail off and on again leaves a kind turned off as it was.
        let events = [
            no_offers,
            Event::new("u2", "unsubscribed", t(2)).with("channel", of("email")),
            Event::new("r", "resubscribed", t(3)).with("channel", of("email")),
        ];
        assert!(withdrawal(&events, "email", offers, now).is_some());
        assert_eq!(withdrawal(&events, "email", news, now), None);
        assert!(kind_withdrawn(&events, "offers", now) && !kind_withdrawn(&events, "news", now));
        assert!(!channel_withdrawn(&events, "email", now));
        // The kind turned back on.
        let back = Event::new("r2", "resubscribed", t(4)).with("kind", of("offers"));
        let events = [
            events[0].clone(),
            events[1].clone(),
            events[2].clone(),
            back,
        ];
        assert_eq!(withdrawal(&events, "email", offers, now), None);
        assert!(!kind_withdrawn(&events, "offers", now));
        // One submit of a preference form: offers off, e-mail back on, at
        // one instant: offers stay off, other e-mail goes.
        let events = [
            Event::new("u", "unsubscribed", t(1)).with("channel", of("email")),
            Event::new("k", "unsubscribed", t(2)).with("kind", of("offers")),
            Event::new("r", "resubscribed", t(2)).with("channel", of("email")),
        ];
        assert!(withdrawal(&events, "email", offers, now).is_some());
        assert_eq!(withdrawal(&events, "email", MARKETING, now), None);
        assert!(kind_withdrawn(&events, "offers", now));
        assert!(!channel_withdrawn(&events, "email", now));
    }
}
