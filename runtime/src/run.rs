//! One scheduler-invoked run: the window since the last completed run, what
//! the VM finds due in it for each contact, recorded before it is delivered,
//! marked after; pending sends of earlier runs retried within their deadline.
//!
//! Exactly once: a send's key (flow, rule, contact, occurrence) is recorded
//! under a unique constraint before delivery starts; delivery writes by the
//! key's id, so a crash anywhere leaves each send delivered once or pending.
//!
//! Deliverable sends are gathered in batches of [`BATCH`] that the outbox
//! may deliver concurrently (SMTP: a pool of connections). Each send is
//! marked `sending` just before its transaction starts and marked with its
//! outcome as soon as the server answers, so a run killed mid-batch leaves
//! at most the sends in flight (one per connection) in doubt: those are
//! sent again by the next run, with the same Message-ID.

use std::collections::HashMap;
use std::io::Read;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::bytecode::{Program, TriggerCode};
use crate::calendar::{Window, ZoneDb};
use crate::delivery::{render_due, Attempt, DeliveryError, Outbox, Progress, RenderSettings};
use crate::input::ContactReader;
use crate::state::{
    ContactState, Mark, SendKey, SendRecord, SendStatus, StateError, StateStore, StoredChange,
};

/// How many sends are gathered before a batch is delivered: enough to keep
/// every connection of a pool busy, few enough to start sending early.
pub const BATCH: usize = 256;

/// Contacts read together, and whose state is read together.
const CONTACT_CHUNK: usize = 500;

/// The longest a group of records stays uncommitted while contacts are read.
const GROUP_FOR: Duration = Duration::from_millis(200);
use crate::vm::{
    Action, Contact, ContactProblem, Evaluator, Event, FieldChange, History, Outcome, Skip, Value,
};

pub struct RunOptions {
    /// The clock of the run (`--now`, else the system clock).
    pub now: Timestamp,
    /// How far back the first run looks.
    pub lookback: SignedDuration,
    pub render: RenderSettings,
}

/// What a run did, for the summary and the exit code.
#[derive(Debug, Default, Serialize)]
pub struct RunSummary {
    pub run: i64,
    pub window_from: String,
    pub window_to: String,
    pub zone_rules: String,
    pub contacts: u64,
    pub rejected_rows: Vec<String>,
    pub held_contacts: Vec<String>,
    pub due: u64,
    pub delivered: u64,
    pub skipped: u64,
    pub pending: Vec<String>,
    pub missed: Vec<String>,
    /// Refused for good by the server (SMTP 5xx), with its answer.
    pub failed: Vec<String>,
    pub retried: u64,
    /// Sends an earlier run left in flight (it was stopped mid-transaction):
    /// sent again with the same Message-ID, so a copy the server had
    /// accepted then can be recognised downstream.
    pub interrupted: Vec<String>,
}

#[derive(Debug)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for RunError {}

impl From<crate::state::StateError> for RunError {
    fn from(e: crate::state::StateError) -> RunError {
        RunError(e.0)
    }
}

fn describe(key: &SendKey) -> String {
    format!(
        "{}/{} for {} ({})",
        key.flow, key.rule, key.contact, key.occurrence
    )
}

/// Runs `program` over the contacts, recording in `store` and delivering
/// through `outbox`.
#[allow(clippy::too_many_arguments)]
pub fn run<R: Read>(
    program: &Program,
    zones: &ZoneDb,
    store: &mut dyn StateStore,
    outbox: &mut dyn Outbox,
    contacts: ContactReader<R>,
    contacts_name: &str,
    mut events: HashMap<String, Vec<Event>>,
    options: &RunOptions,
) -> Result<RunSummary, RunError> {
    let now = options.now;
    let from = match store.last_completed_run()? {
        Some(last) => last.window_to.min(now),
        None => now.checked_sub(options.lookback).unwrap_or(Timestamp::MIN),
    };
    let run = store.begin_run(from, now, now)?;
    let mut summary = RunSummary {
        run,
        window_from: from.to_string(),
        window_to: now.to_string(),
        zone_rules: zones.source_description(),
        ..RunSummary::default()
    };

    // Records are grouped: durable together just before their batch goes,
    // or after GROUP_FOR at most (not to hold the write lock long).
    store.begin_group()?;
    let mut group_since = Instant::now();
    // First what earlier runs left pending (or in flight).
    let mut batch = Batch::default();
    for record in store.pending()? {
        summary.retried += 1;
        if record.status == SendStatus::Sending {
            summary.interrupted.push(format!(
                "{}: in flight when an earlier run stopped; sent again as Message-ID <{}@flowc>",
                describe(&record.key),
                record.key.id()
            ));
        }
        batch.add(store, outbox, record, now, &mut summary)?;
    }

    let window = Window::new(from, now).ok().filter(|w| !w.is_empty());
    let mut evaluator = Evaluator::new(program, zones);
    let watched = watched_fields(program);
    // Contacts are read a chunk at a time: what the state holds of a
    // chunk is read in a few queries, and memory stays flat. An empty
    // window (a run at the instant of the last one) reads none: nothing
    // can be due in it.
    let mut contacts = contacts.take(if window.is_some() { usize::MAX } else { 0 });
    let mut chunk = Vec::with_capacity(CONTACT_CHUNK);
    let mut prefetched = HashMap::new();
    let mut seen_in_chunk = std::collections::HashSet::new();
    loop {
        if chunk.is_empty() {
            chunk.extend(contacts.by_ref().take(CONTACT_CHUNK));
            if chunk.is_empty() {
                break;
            }
            chunk.reverse(); // popped from the end, in file order
            seen_in_chunk.clear();
            prefetched = match &window {
                Some(_) => {
                    let ids: Vec<&str> = chunk
                        .iter()
                        .filter_map(|c| c.as_ref().ok().map(|c: &Contact| c.id.as_str()))
                        .collect();
                    store.prefetch(&ids)?
                }
                None => HashMap::new(),
            };
        }
        let Some(contact) = chunk.pop() else { break };
        let contact = match contact {
            Ok(contact) => contact,
            Err(error) => {
                summary
                    .rejected_rows
                    .push(format!("{contacts_name}:{}: {}", error.line, error.reason));
                continue;
            }
        };
        summary.contacts += 1;
        if group_since.elapsed() > GROUP_FOR {
            store.commit_group()?;
            store.begin_group()?;
            group_since = Instant::now();
        }
        let Some(window) = &window else { continue };
        // A contact listed twice in one chunk: the second time, read what
        // the first recorded.
        let state = match seen_in_chunk.insert(contact.id.clone()) {
            true => prefetched.remove(&contact.id).unwrap_or_default(),
            false => store
                .prefetch(&[contact.id.as_str()])?
                .remove(&contact.id)
                .unwrap_or_default(),
        };
        let changes = watch_fields(store, &watched, &contact, &state, now)?;
        // Events ingested earlier, and those given to this run (once each).
        let mut known = state.events;
        for event in events.remove(&contact.id).unwrap_or_default() {
            if !known.iter().any(|k| k.id == event.id) {
                known.push(event);
            }
        }
        let history = History {
            messages: state.messages,
            events: known,
            changes,
            ..History::default()
        };
        let evaluation = evaluator
            .evaluate(&contact, &history, window)
            .map_err(|e| RunError(format!("contact `{}`: {e}", contact.id)))?;
        for problem in &evaluation.problems {
            summary.held_contacts.push(match problem {
                ContactProblem::UnknownZone { flow, zone } => {
                    format!(
                        "{}: unknown time zone `{zone}`, flow `{flow}` held",
                        contact.id
                    )
                }
                ContactProblem::NotADate { flow, field, value } => {
                    format!(
                        "{}: `{field}` is `{value}`, not a date, flow `{flow}` held",
                        contact.id
                    )
                }
            });
        }
        for due in &evaluation.dues {
            summary.due += 1;
            let key = SendKey {
                flow: due.flow.clone(),
                rule: due.rule.clone(),
                contact: contact.id.clone(),
                occurrence: due.occurrence.clone(),
            };
            let skip = match &due.outcome {
                Outcome::Skipped(skip) => Some(skip.to_string()),
                Outcome::Planned(actions) if actions.iter().all(|a| a.skipped.is_some()) => actions
                    .iter()
                    .find_map(|a| a.skipped.as_ref())
                    .map(Skip::to_string),
                Outcome::Planned(_) => None,
            };
            let channel = match &due.outcome {
                Outcome::Planned(actions) => {
                    actions.iter().find_map(|a| match (&a.action, &a.skipped) {
                        (Action::Send { channel, .. }, None) => Some(channel.name().to_string()),
                        _ => None,
                    })
                }
                Outcome::Skipped(_) => None,
            };
            let too_late = matches!(&due.outcome, Outcome::Planned(a) if a.iter().any(|p| p.skipped == Some(Skip::QuietHours)));
            let (status, reason, payload) = match skip {
                // Quiet hours that outlast the deadline make the send late.
                Some(reason) if too_late => (SendStatus::Missed, Some(reason), String::new()),
                Some(reason) => (SendStatus::Skipped, Some(reason), String::new()),
                None => match render_due(program, &contact, due, &key.id(), &options.render) {
                    Ok(payload) => (SendStatus::Pending, None, payload.to_string()),
                    Err(reason) => (SendStatus::Pending, Some(reason), String::new()),
                },
            };
            let record = SendRecord {
                key,
                due_at: due.instant,
                deadline: due.deadline,
                not_before: due.not_before,
                channel,
                status,
                reason,
                payload,
            };
            // Recorded before delivery: from here on, nothing is lost.
            if !store.record(run, &record)? {
                continue;
            }
            match status {
                SendStatus::Skipped => {
                    summary.skipped += 1;
                    continue;
                }
                SendStatus::Missed => {
                    let reason = record.reason.clone().unwrap_or_default();
                    summary
                        .missed
                        .push(format!("{}: {reason}", describe(&record.key)));
                    continue;
                }
                _ => {}
            }
            batch.add(store, outbox, record, now, &mut summary)?;
        }
    }
    batch.flush(store, outbox, now, &mut summary)?;
    store.commit_group()?;
    let summary_json = serde_json::to_string(&summary).unwrap_or_default();
    store.finish_run(run, now, &summary_json)?;
    Ok(summary)
}

/// Sends ready to go, delivered together once there are [`BATCH`].
#[derive(Default)]
struct Batch {
    records: Vec<SendRecord>,
    payloads: Vec<serde_json::Value>,
}

impl Batch {
    /// Queues a recorded send if its time has come; records it missed past
    /// its deadline, or leaves it pending with its reason.
    fn add(
        &mut self,
        store: &mut dyn StateStore,
        outbox: &mut dyn Outbox,
        record: SendRecord,
        now: Timestamp,
        summary: &mut RunSummary,
    ) -> Result<(), RunError> {
        let key = &record.key;
        if record.deadline < now {
            let why = match (record.status, record.reason.as_deref()) {
                (SendStatus::Sending, _) => {
                    " (in flight when a run stopped: the server may hold it)".to_string()
                }
                (_, Some(reason)) => format!(" ({reason})"),
                (_, None) => String::new(),
            };
            let reason = format!("past its deadline {}{why}", record.deadline);
            store.mark(key, SendStatus::Missed, Some(&reason), now)?;
            summary.missed.push(format!("{}: {reason}", describe(key)));
            return Ok(());
        }
        if let Some(not_before) = record.not_before.filter(|t| *t > now) {
            let reason = format!("quiet hours: not before {not_before}");
            store.mark(key, SendStatus::Pending, Some(&reason), now)?;
            summary.pending.push(format!("{}: {reason}", describe(key)));
            return Ok(());
        }
        if record.payload.is_empty() {
            let reason = record
                .reason
                .clone()
                .unwrap_or_else(|| "nothing to deliver".into());
            summary.pending.push(format!("{}: {reason}", describe(key)));
            return Ok(());
        }
        // A payload that no longer reads (a damaged state file) is never
        // "delivered" as nothing: it stays pending with the cause.
        let payload = match serde_json::from_str(&record.payload) {
            Ok(payload) => payload,
            Err(e) => {
                let reason = format!("its stored payload is damaged ({e}); not delivered");
                store.mark(key, SendStatus::Pending, Some(&reason), now)?;
                summary.pending.push(format!("{}: {reason}", describe(key)));
                return Ok(());
            }
        };
        self.records.push(record);
        self.payloads.push(payload);
        if self.records.len() >= BATCH {
            self.flush(store, outbox, now, summary)?;
        }
        Ok(())
    }

    /// Delivers what is queued: each send marked `sending` before it
    /// starts, then delivered, pending (with the reason) or failed as its
    /// answer comes, in as few durable writes as the answers allow.
    fn flush(
        &mut self,
        store: &mut dyn StateStore,
        outbox: &mut dyn Outbox,
        now: Timestamp,
        summary: &mut RunSummary,
    ) -> Result<(), RunError> {
        // What the batch holds is recorded for good before any of it goes.
        store.commit_group()?;
        if self.records.is_empty() {
            return store.begin_group().map_err(RunError::from);
        }
        let records = std::mem::take(&mut self.records);
        let payloads = std::mem::take(&mut self.payloads);
        let mut state_error: Option<StateError> = None;
        let mut progress = |progress: Progress| -> Result<(), DeliveryError> {
            let mut marks = Vec::new();
            let mut lines = Vec::new();
            for index in &progress.starting {
                if let Some(record) = records.get(*index) {
                    marks.push(Mark {
                        key: &record.key,
                        status: SendStatus::Sending,
                        reason: None,
                    });
                }
            }
            for (index, attempt) in &progress.ended {
                let Some(record) = records.get(*index) else {
                    continue;
                };
                let (status, reason) = match attempt {
                    Attempt::Delivered => (SendStatus::Delivered, None),
                    Attempt::Retry(reason) => (SendStatus::Pending, Some(reason.as_str())),
                    Attempt::Rejected(reason) => (SendStatus::Failed, Some(reason.as_str())),
                };
                marks.push(Mark {
                    key: &record.key,
                    status,
                    reason,
                });
                lines.push((
                    status,
                    format!("{}: {}", describe(&record.key), reason.unwrap_or("")),
                ));
            }
            if let Err(error) = store.mark_all(&marks, now) {
                let message = error.0.clone();
                state_error = Some(error);
                return Err(DeliveryError(message));
            }
            for (status, line) in lines {
                match status {
                    SendStatus::Delivered => summary.delivered += 1,
                    SendStatus::Failed => summary.failed.push(line),
                    _ => summary.pending.push(line),
                }
            }
            Ok(())
        };
        let result = outbox.deliver_batch(&payloads, &mut progress);
        if let Some(error) = state_error {
            return Err(error.into());
        }
        result.map_err(|e| RunError(format!("delivery stopped: {e}")))?;
        store.begin_group().map_err(RunError::from)
    }
}

/// The fields `becomes` and `changes` triggers watch.
fn watched_fields(program: &Program) -> Vec<String> {
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
fn watch_fields(
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
