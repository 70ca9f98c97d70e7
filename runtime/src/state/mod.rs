//! What a run remembers between invocations, behind one narrow interface:
//! runs and their windows, and the send log keyed by (flow, rule, contact,
//! occurrence) under a unique constraint — the exactly-once guarantee.
//! SQLite is the embedded default (`sqlite.rs`); a shared PostgreSQL store
//! for several workers can implement the same trait without touching the VM.

mod lease;
mod sqlite;

pub use lease::{HeldBy, Holder, Taken, LEASE_FOR};
pub use sqlite::SqliteState;

use std::collections::HashMap;

use jiff::Timestamp;

use crate::vm::{Event, SentMessage};

/// A count of [`StateStore::feedback_counts`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FeedbackCount {
    pub flow: String,
    pub kind: String,
    pub detail: Option<String>,
    pub count: u64,
}

/// What `StateStore::conversions` counts for a flow.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Conversions {
    pub flow: String,
    pub count: u64,
    pub revenue: f64,
}

/// A coupon a send issued: its code (keyed, see `keys.rs`), the send, and
/// what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coupon {
    pub code: String,
    pub key: SendKey,
    pub issued_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub redeemed_at: Option<Timestamp>,
}

impl Coupon {
    /// `valid`, `used` or `expired`, at `now`.
    pub fn status(&self, now: Timestamp) -> &'static str {
        match (self.redeemed_at, self.expires_at) {
            (Some(_), _) => "used",
            (None, Some(end)) if end < now => "expired",
            _ => "valid",
        }
    }
}

/// The identity of a due rule for a contact: sent at most once, ever.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SendKey {
    pub flow: String,
    pub rule: String,
    pub contact: String,
    pub occurrence: String,
}

impl SendKey {
    /// A stable identifier derived from the key (Message-ID, file names).
    pub fn id(&self) -> String {
        let hash = crate::bytecode::source_hash([
            (self.flow.as_str(), self.rule.as_str()),
            (self.contact.as_str(), self.occurrence.as_str()),
        ]);
        format!("{hash:016x}")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendStatus {
    /// Recorded, not yet delivered (or delivery failed; retried next run).
    Pending,
    /// Handed to the server, its answer not yet recorded. A run that finds
    /// one left by an earlier run knows that run stopped mid-transaction:
    /// the server may or may not hold the message (RFC 1047). It is sent
    /// again, with the same Message-ID.
    Sending,
    Delivered,
    /// Refused for good by the server (an SMTP 5xx): not retried.
    Failed,
    /// Past its deadline before it could be delivered.
    Missed,
    /// Due, but not to be done (condition, consent, pressure...).
    Skipped,
}

impl SendStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SendStatus::Pending => "pending",
            SendStatus::Sending => "sending",
            SendStatus::Delivered => "delivered",
            SendStatus::Failed => "failed",
            SendStatus::Missed => "missed",
            SendStatus::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<SendStatus> {
        Some(match text {
            "pending" => SendStatus::Pending,
            "sending" => SendStatus::Sending,
            "delivered" => SendStatus::Delivered,
            "failed" => SendStatus::Failed,
            "missed" => SendStatus::Missed,
            "skipped" => SendStatus::Skipped,
            _ => return None,
        })
    }
}

/// One row of the send log.
#[derive(Clone, Debug, PartialEq)]
pub struct SendRecord {
    pub key: SendKey,
    pub due_at: Timestamp,
    pub deadline: Timestamp,
    pub not_before: Option<Timestamp>,
    /// The first channel the rule sends on, if it sends.
    pub channel: Option<String>,
    pub status: SendStatus,
    /// Why it is pending, skipped or missed.
    pub reason: Option<String>,
    /// The rendered actions (JSON): what delivery writes, identical on retry.
    pub payload: String,
    /// Delivery attempts that failed and are to be retried.
    pub attempts: u32,
    /// Not retried before this instant (backoff after a failed attempt).
    pub retry_at: Option<Timestamp>,
}

/// A completed run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    pub id: i64,
    pub window_from: Timestamp,
    pub window_to: Timestamp,
    /// The events the state held when the run began (their sequence
    /// number, see [`ContactState::event_seqs`]); `None` when not known.
    pub events_seen: Option<i64>,
}

/// What the state holds of one contact for the VM.
#[derive(Clone, Debug, Default)]
pub struct ContactState {
    pub messages: Vec<SentMessage>,
    pub events: Vec<Event>,
    /// The sequence number of each of `events` (the order the state
    /// learned them): an event numbered after the last run's
    /// [`RunRecord::events_seen`] arrived after that run looked. Empty when
    /// the store does not number events.
    pub event_seqs: Vec<i64>,
    /// The last value seen of each field a `becomes`/`changes` trigger
    /// watches, as text.
    pub fields: Vec<(String, String)>,
    /// The changes of those fields seen by earlier runs.
    pub changes: Vec<StoredChange>,
    /// Flows held for this contact by a value they cannot use.
    pub held: Vec<Held>,
    /// The flows the contact left by `exit`, and when.
    pub exits: Vec<(String, Timestamp)>,
}

/// A contact who left a flow by the `exit` of one of its rules.
#[derive(Clone, Debug, PartialEq)]
pub struct Exit {
    pub contact: String,
    pub flow: String,
    /// The rule and occurrence whose `exit` it was.
    pub rule: String,
    pub occurrence: String,
    pub at: Timestamp,
}

/// A flow held for a contact: a value it needs (its time zone, a date) was
/// unusable, so nothing of the flow was sent at a guessed hour. It stays
/// pending, with its reason, until a run finds the value usable; that run
/// then evaluates the flow over the time it was held.
#[derive(Clone, Debug, PartialEq)]
pub struct Held {
    pub flow: String,
    /// The start of the first window the flow was held in.
    pub since: Timestamp,
    pub reason: String,
}

/// A watched field seen with another value than the run before saw.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredChange {
    pub field: String,
    pub at: Timestamp,
    pub old: String,
    pub new: String,
}

#[derive(Debug)]
pub struct StateError(pub String);

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for StateError {}

pub type StateResult<T> = Result<T, StateError>;

/// The state layer. Every write is durable when the call returns.
pub trait StateStore {
    /// Takes the run lease for `holder` at the wall clock `at` (see
    /// `lease.rs`): one run at a time per state. Once taken, commits renew
    /// it and fail if another run has taken it over.
    fn take_lease(&mut self, holder: &Holder, at: Timestamp) -> StateResult<Taken>;
    /// Gives the lease back: the run is over.
    fn release_lease(&mut self) -> StateResult<()>;
    /// The last run that completed, if any.
    fn last_completed_run(&self) -> StateResult<Option<RunRecord>>;
    /// Starts a run over `(from, to]`; returns its id.
    fn begin_run(&mut self, from: Timestamp, to: Timestamp, started: Timestamp)
        -> StateResult<i64>;
    /// Marks the run completed, with its summary (JSON).
    fn finish_run(&mut self, run: i64, finished: Timestamp, summary: &str) -> StateResult<()>;
    /// Records a due rule unless its key is already known. True when new.
    fn record(&mut self, run: i64, send: &SendRecord) -> StateResult<bool>;
    /// Updates the status of a recorded key.
    fn mark(&mut self, mark: &Mark<'_>, at: Timestamp) -> StateResult<()> {
        self.mark_all(std::slice::from_ref(mark), at)
    }
    /// Starts grouping writes: until [`StateStore::commit_group`] they
    /// become durable together, in one sync instead of one each. A run
    /// groups the recording of a batch and commits it before delivering
    /// any of it; a crash before the commit loses records of sends that
    /// nothing delivered, and the next run covers the window again.
    fn begin_group(&mut self) -> StateResult<()> {
        Ok(())
    }
    /// Makes the grouped writes durable (nothing if no group is open).
    fn commit_group(&mut self) -> StateResult<()> {
        Ok(())
    }
    /// Updates several keys at once, in one durable write: what a batch
    /// finished and what it is about to start cost one sync, not one each.
    fn mark_all(&mut self, marks: &[Mark<'_>], at: Timestamp) -> StateResult<()>;
    /// Rows still pending or left `sending` by a stopped run (from this or
    /// earlier runs).
    fn pending(&self) -> StateResult<Vec<SendRecord>>;
    /// The messages sent (or being sent) to a contact: the VM's history.
    fn history(&self, contact: &str) -> StateResult<Vec<SentMessage>>;
    /// Counts of the send log by flow, rule, status and reason: the report.
    fn counts(&self) -> StateResult<Vec<SendCount>>;
    /// The latest runs, newest first.
    fn runs(&self, limit: u32) -> StateResult<Vec<RunInfo>>;
    /// Records an event for a contact unless its id is known. True when new.
    fn ingest(&mut self, contact: &str, event: &Event) -> StateResult<bool>;
    /// The events recorded for a contact.
    fn events(&self, contact: &str) -> StateResult<Vec<Event>>;
    /// Records the value of a watched field, and its change when it has one.
    fn save_field(
        &mut self,
        contact: &str,
        field: &str,
        value: &str,
        change: Option<&StoredChange>,
    ) -> StateResult<()>;
    /// The history and events of several contacts, read together (a run
    /// asks per chunk of the contacts file: a few queries per chunk, not
    /// two per contact). Contacts with nothing recorded may be absent.
    fn prefetch(&self, contacts: &[&str]) -> StateResult<HashMap<String, ContactState>> {
        let mut found = HashMap::new();
        for &contact in contacts {
            let state = ContactState {
                messages: self.history(contact)?,
                events: self.events(contact)?,
                held: self
                    .holds()?
                    .into_iter()
                    .filter(|(c, _)| c == contact)
                    .map(|(_, held)| held)
                    .collect(),
                exits: self
                    .exits_of(&[contact])?
                    .into_iter()
                    .map(|e| (e.flow, e.at))
                    .collect(),
                ..ContactState::default()
            };
            found.insert(contact.to_string(), state);
        }
        Ok(found)
    }
    /// Holds `held.flow` for `contact` (see [`Held`]); a flow already held
    /// keeps its earlier `since`.
    fn hold(&mut self, contact: &str, held: &Held, at: Timestamp) -> StateResult<()>;
    /// Ends a hold: the run that found the value usable has evaluated the
    /// flow over the time it was held.
    fn release(&mut self, contact: &str, flow: &str) -> StateResult<()>;
    /// Every hold, by contact: what `flowc status` lists as pending.
    fn holds(&self) -> StateResult<Vec<(String, Held)>>;
    /// Calls `found` with each contact whose recorded state can make a rule
    /// due in a run: sends due in `activity.sends` (their follow-ups),
    /// events of a kind in its range, held flows. A
    /// contact may be named more than once. Returns false when this store
    /// cannot tell; the run then reads every contact's state.
    fn active_contacts(
        &self,
        activity: &Activity,
        found: &mut dyn FnMut(&str),
    ) -> StateResult<bool> {
        let _ = (activity, found);
        Ok(false)
    }
    /// The events that speak of consent (`vm::consent::CONSENT_EVENTS`)
    /// known for these contacts, whatever run or feed recorded them:
    /// consent is checked again when a send is handed over (guarantee 11).
    fn consent_events(&self, contacts: &[&str]) -> StateResult<HashMap<String, Vec<Event>>> {
        let mut found = HashMap::new();
        for &contact in contacts {
            let events: Vec<Event> = self
                .events(contact)?
                .into_iter()
                .filter(|e| crate::vm::consent::CONSENT_EVENTS.contains(&e.kind.as_str()))
                .collect();
            if !events.is_empty() {
                found.insert(contact.to_string(), events);
            }
        }
        Ok(found)
    }
    /// Records that a contact left a flow (the `exit` of a recorded rule):
    /// later rules of the flow are skipped, and its sends still waiting
    /// are not handed over.
    fn record_exit(&mut self, exit: &Exit) -> StateResult<()>;
    /// The exits recorded for these contacts.
    fn exits_of(&self, contacts: &[&str]) -> StateResult<Vec<Exit>>;
    /// The sends in doubt that no operator has acknowledged yet.
    fn in_doubt(&self) -> StateResult<Vec<InDoubt>>;
    /// Acknowledges sends in doubt (by Message-ID, or all of them when
    /// `ids` is `None`) at `at`; returns how many.
    fn acknowledge(&mut self, ids: Option<&[String]>, at: Timestamp) -> StateResult<u64>;
    /// Per flow, what came back: opens (`detail`: `machine` or `human`),
    /// clicks (`detail`: the link), redemptions, unsubscribes, bounces and
    /// complaints, counted from the events that name the flow.
    fn feedback_counts(&self) -> StateResult<Vec<FeedbackCount>>;
    /// Per flow, the `event`s that followed one of its messages (the last
    /// delivered to the contact before the event) within `window`
    /// seconds, and the sum of their `amount` attribute.
    fn conversions(
        &self,
        event: &str,
        amount: Option<&str>,
        window: i64,
    ) -> StateResult<Vec<Conversions>>;
    /// The state's own secret (32 random bytes, created once), keying link
    /// tokens and coupon codes when the environment gives no secret.
    fn own_secret(&mut self) -> StateResult<Vec<u8>>;
    /// The coupon issued under `code`, if any.
    fn coupon(&self, code: &str) -> StateResult<Option<Coupon>>;
    /// Every coupon issued, oldest first (`flowc coupons export`).
    fn coupons(&self) -> StateResult<Vec<Coupon>>;
    /// Marks the coupon redeemed at `at`; false when it already was (or
    /// does not exist).
    fn redeem(&mut self, code: &str, at: Timestamp) -> StateResult<bool>;
    /// The send whose id (`SendKey::id`) is `id`, if one was recorded.
    fn send_by_id(&self, id: &str) -> StateResult<Option<SendKey>>;
    /// When the send was handed over, if it was.
    fn handed_over_at(&self, key: &SendKey) -> StateResult<Option<Timestamp>>;
}

/// What makes a contact's state matter to a run, for
/// [`StateStore::active_contacts`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Activity {
    /// Sends due in `[from, to]`: their follow-ups may be due.
    pub sends: Option<(Timestamp, Timestamp)>,
    /// Events of a kind in `[from, to]`: rules they trigger (or whose
    /// absence they end) may be due.
    pub events: Vec<(String, Timestamp, Timestamp)>,
    /// Events learned after this sequence number (after the last run
    /// looked): their rules may be due late.
    pub events_after: Option<i64>,
}

/// One status change, for [`StateStore::mark_all`].
#[derive(Clone, Copy, Debug)]
pub struct Mark<'a> {
    pub key: &'a SendKey,
    pub status: SendStatus,
    pub reason: Option<&'a str>,
    /// After a failed attempt: one attempt more, and none before this.
    pub retry_at: Option<Timestamp>,
    /// The outcome of an attempt is unknown (the server may hold the
    /// message): why. Kept, with the first reason, until acknowledged.
    pub in_doubt: Option<&'a str>,
}

/// A send whose outcome an attempt left unknown: the server may hold a
/// copy, and a retry (same Message-ID) may have made two. Reported by every
/// run, `flowc status` and `flowc report` until acknowledged.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct InDoubt {
    pub flow: String,
    pub rule: String,
    pub contact: String,
    pub occurrence: String,
    /// `<id@flowc>`: what the server and the inbox know it by.
    pub message_id: String,
    pub reason: String,
    /// Its status now (delivered once the retry was accepted).
    pub status: String,
    pub since: String,
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SendCount {
    pub flow: String,
    pub rule: String,
    pub status: String,
    pub reason: Option<String>,
    pub count: u64,
}

/// A run as `flowc status` shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RunInfo {
    pub id: i64,
    pub window_from: String,
    pub window_to: String,
    pub started_at: String,
    /// `None`: it did not complete (still running, or stopped).
    pub finished_at: Option<String>,
    pub summary: Option<serde_json::Value>,
}
