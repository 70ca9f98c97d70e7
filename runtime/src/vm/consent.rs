//! What withdraws a contact's consent to messages on a channel, from the
//! events known by an instant: one definition, used when a rule is
//! planned (the VM) and again when its send is handed over (the run).
//!
//! - `unsubscribed`, of the channel it names, else of every channel;
//! - `complained` (a spam complaint), of the channel it names, else e-mail;
//! - `resubscribed` undoes the withdrawals before it (the latest word wins);
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

/// What stops a message on `channel` (`email`, `sms`, `push`) at `now`,
/// if anything.
pub fn withdrawal(
    events: &[Event],
    channel: &str,
    transactional: bool,
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
    if transactional {
        return None;
    }
    let withdrawn = known(&["unsubscribed", "complained"]).map(|e| e.at).max()?;
    let undone = known(&["resubscribed"]).map(|e| e.at).max();
    (undone.is_none_or(|back| back < withdrawn)).then_some(Withdrawal {
        at: withdrawn,
        bounce: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsubscribe_stops_marketing_only_and_a_hard_bounce_everything_on_its_channel() {
        let at: Timestamp = "2027-03-01T10:00:00Z".parse().unwrap();
        let now: Timestamp = "2027-03-02T10:00:00Z".parse().unwrap();
        let stops = |event: &Event, channel: &str, transactional: bool, now: Timestamp| {
            withdrawal(std::slice::from_ref(event), channel, transactional, now).is_some()
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
        let t = |h: i64| {
            "2027-03-01T00:00:00Z"
                .parse::<Timestamp>()
                .unwrap()
                .checked_add(jiff::SignedDuration::from_hours(h))
                .unwrap()
        };
        let now = t(10);
        let out = Event::new("u", "unsubscribed", t(1));
        let back_email =
            Event::new("r", "resubscribed", t(2)).with("channel", Value::Text("email".into()));
        let events = [out.clone(), back_email];
        // Unsubscribed from everything, then back for e-mail only.
        assert_eq!(withdrawal(&events, "email", false, now), None);
        assert_eq!(
            withdrawal(&events, "sms", false, now),
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
            withdrawal(&events, "email", false, now),
            Some(Withdrawal {
                at: t(3),
                bounce: false
            })
        );
        assert_eq!(
            withdrawal(std::slice::from_ref(&complaint), "sms", false, now),
            None
        );
    }
}
