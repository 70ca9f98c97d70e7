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
use std::io::{Read, Seek};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

mod backoff;
mod batch;
mod candidates;
mod fields;
mod holds;
mod row_index;
mod rows;

pub use backoff::Backoff;
pub use rows::RowIndexOptions;

use crate::bytecode::Program;
use crate::calendar::{Window, ZoneDb};
use crate::delivery::{render_due, Outbox, RenderSettings};
use crate::input::ContactReader;
use crate::state::{SendKey, SendRecord, SendStatus, StateStore};
use crate::vm::{Action, Contact, Due, Evaluator, Event, History, Outcome, Skip};
use batch::Batch;
use candidates::Candidates;
use fields::{watch_fields, watched_fields};
use holds::Holds;
use rows::Plan;

/// How many sends are gathered before a batch is delivered: enough to keep
/// every connection of a pool busy, few enough to start sending early.
pub const BATCH: usize = 256;

/// Contacts read together, and whose state is read together.
const CONTACT_CHUNK: usize = 500;

/// The longest a group of records stays uncommitted while contacts are read.
const GROUP_FOR: Duration = Duration::from_millis(200);

pub struct RunOptions {
    /// The clock of the run (`--now`, else the system clock).
    pub now: Timestamp,
    /// How far back the first run looks.
    pub lookback: SignedDuration,
    pub render: RenderSettings,
    /// The wait between delivery attempts of a send.
    pub backoff: Backoff,
    /// The persisted next-due index of the contacts file, if any.
    pub row_index: Option<RowIndexOptions>,
}

/// What a run did, for the summary and the exit code.
#[derive(Debug, Default, Serialize)]
pub struct RunSummary {
    pub run: i64,
    /// The state did not exist before this run: it was created new.
    pub new_state: bool,
    pub window_from: String,
    pub window_to: String,
    pub zone_rules: String,
    pub contacts: u64,
    /// Rows of the contacts file read (all, or those a row index selects).
    pub rows_read: u64,
    /// How the rows were chosen: every row, or a row index.
    pub row_index: String,
    /// Contacts whose recorded state was read: those with something due
    /// from their row alone, or recent activity (sends, events, holds).
    pub state_read: u64,
    pub rejected_rows: Vec<String>,
    /// Flows held for a contact whose time zone or date cannot be used:
    /// `file:line: contact, value, reason`. Pending until the value is
    /// fixed; nothing of them is sent at a guessed hour.
    pub held_contacts: Vec<String>,
    /// Holds ended by this run (the value is usable again): the flow was
    /// evaluated over the time it was held.
    pub released: Vec<String>,
    pub due: u64,
    pub delivered: u64,
    pub skipped: u64,
    pub pending: Vec<String>,
    pub missed: Vec<String>,
    /// How many of `missed` each rule has: `flow/rule` and the count, in
    /// the order first met (a lookback over a large base can miss
    /// thousands; they are said per rule).
    pub missed_by_rule: Vec<(String, u64)>,
    /// Refused for good by the server (SMTP 5xx), with its answer.
    pub failed: Vec<String>,
    /// Pending sends of earlier runs attempted again by this one.
    pub retried: u64,
    /// Sends an earlier run left in flight (it was stopped mid-transaction):
    /// sent again with the same Message-ID, so a copy the server had
    /// accepted then can be recognised downstream.
    pub interrupted: Vec<String>,
    /// Every send in doubt not yet acknowledged (`flowc ack`), from this
    /// run and earlier ones: the server may hold two copies of each (same
    /// Message-ID).
    pub in_doubt: Vec<crate::state::InDoubt>,
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

impl RunSummary {
    /// Records a send missed (past its deadline), with why.
    fn miss(&mut self, key: &SendKey, reason: &str) {
        self.missed.push(format!("{}: {reason}", describe(key)));
        let rule = format!("{}/{}", key.flow, key.rule);
        match self.missed_by_rule.iter_mut().find(|(r, _)| *r == rule) {
            Some((_, count)) => *count += 1,
            None => self.missed_by_rule.push((rule, 1)),
        }
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
pub fn run<R: Read + Seek>(
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
    let last = store.last_completed_run()?;
    let from = match &last {
        Some(last) => last.window_to.min(now),
        None => now.checked_sub(options.lookback).unwrap_or(Timestamp::MIN),
    };
    // Events the state learned after the last run looked: late, their
    // rules still due if their deadline allows. (Before a first run,
    // nothing is late: the lookback is what it covers.)
    let events_seen = last.as_ref().and_then(|l| l.events_seen);
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
    // First what earlier runs left pending (or in flight); a send whose
    // last attempt failed waits out its backoff (unless its deadline came).
    let mut batch = Batch::new(options.backoff);
    for record in store.pending()? {
        if let Some(retry_at) = record
            .retry_at
            .filter(|t| *t > now && record.deadline >= now)
        {
            summary.pending.push(format!(
                "{}: {}; attempt {} not before {retry_at}",
                describe(&record.key),
                record.reason.as_deref().unwrap_or("delivery failed"),
                record.attempts + 1,
            ));
            continue;
        }
        summary.retried += 1;
        if record.status == SendStatus::Sending {
            // Killed between hand-over and answer: the server may hold it.
            // Stored in doubt before it goes again (same Message-ID).
            store.mark(
                &crate::state::Mark {
                    key: &record.key,
                    status: SendStatus::Pending,
                    reason: record.reason.as_deref(),
                    retry_at: None,
                    in_doubt: Some("in flight when an earlier run stopped: the server may hold it"),
                },
                now,
            )?;
            summary.interrupted.push(format!(
                "{}: in flight when an earlier run stopped; sent again as Message-ID <{}@flowc>",
                describe(&record.key),
                record.key.id()
            ));
        }
        batch.add(store, outbox, record, now, &mut summary)?;
    }

    // A first run covers its own start too, `[now - lookback, now]`: no
    // earlier run covered that instant. Later runs cover `(last, now]`.
    let window = match &last {
        None => Window::closed(from, now).ok(),
        Some(_) => Window::new(from, now).ok().filter(|w| !w.is_empty()),
    };
    let mut evaluator = Evaluator::new(program, zones);
    let watched = watched_fields(program);
    // Contacts are read a chunk at a time: what the state holds of a
    // chunk is read in a few queries, and memory stays flat. An empty
    // window (a run at the instant of the last one) reads none: nothing
    // can be due in it.
    let candidates = match &window {
        Some(window) => Some(Candidates::load(
            program,
            store,
            window,
            events_seen,
            &events,
        )?),
        None => None,
    };
    // All rows, or with a valid row index only those that can be due.
    let (mut plan, mut rows) = Plan::start(
        options.row_index.as_ref(),
        program.source_hash,
        &summary.zone_rules,
        window.as_ref(),
        candidates.as_ref(),
        contacts,
        &mut summary.row_index,
    )?;
    let lookahead = window.and_then(|w| {
        let end = w.end().checked_add(rows::HORIZON).unwrap_or(Timestamp::MAX);
        Window::new(w.end(), end).ok()
    });
    // The look-ahead is seeded only when a row index is being kept.
    let ahead = lookahead.filter(|_| plan.wants_entries());
    // An evaluation that fails (its budget) names the row it was for.
    let failed = |contact: &Contact, e: &dyn std::fmt::Display| {
        RunError(format!(
            "{contacts_name}:{}: contact `{}`: {e}",
            contact.line, contact.id
        ))
    };
    let mut chunk = Vec::with_capacity(CONTACT_CHUNK);
    let mut prefetched = HashMap::new();
    let mut seen_in_chunk = std::collections::HashSet::new();
    loop {
        if chunk.is_empty() {
            // Each contact of the chunk with whether its state is needed:
            // only those have their state read (see `candidates.rs`).
            for row in rows.by_ref().take(CONTACT_CHUNK) {
                summary.rows_read += 1;
                // One pass over the row's rules (no conditions run): a rule
                // due from the row alone, or a zone or date the VM cannot
                // use, needs the state; with a row index, also a lower
                // bound of the row's next due.
                let from_row = match (&row, &window) {
                    (Ok(contact), Some(window)) => Some(
                        evaluator
                            .row_dues(contact, Some(window), ahead.as_ref())
                            .map_err(|e| failed(contact, &e))?,
                    ),
                    _ => None,
                };
                let need_state = match (&row, &from_row, &candidates) {
                    (Ok(contact), Some(dues), Some(candidates)) => {
                        candidates.need_state(&contact.id, dues)
                    }
                    _ => false,
                };
                if matches!(&row, Err(e) if e.duplicate) {
                    plan.forgo(&mut summary.row_index, "the file has duplicate ids");
                }
                if let Some(ahead) = &ahead {
                    let bound = from_row
                        .as_ref()
                        .filter(|dues| dues.problems.is_empty())
                        .map(|dues| dues.bound);
                    plan.row(&row, bound, ahead)?;
                }
                chunk.push((row, need_state));
            }
            if chunk.is_empty() {
                break;
            }
            chunk.reverse(); // popped from the end, in file order
            seen_in_chunk.clear();
            let ids: Vec<&str> = chunk
                .iter()
                .filter(|(_, need_state)| *need_state)
                .filter_map(|(c, _)| c.as_ref().ok().map(|c: &Contact| c.id.as_str()))
                .collect();
            summary.state_read += ids.len() as u64;
            prefetched = match ids.is_empty() {
                true => HashMap::new(),
                false => store.prefetch(&ids)?,
            };
        }
        let Some((contact, need_state)) = chunk.pop() else {
            break;
        };
        let contact = match contact {
            Ok(contact) => contact,
            Err(error) => {
                summary
                    .rejected_rows
                    .push(format!("{contacts_name}:{}: {}", error.line, error.reason));
                // Guarantee 15: the contact of a row that cannot be read has
                // its flows held, like an unknown zone; the run that reads
                // the row again evaluates them over the held time. (A
                // duplicate's contact is the first row's, and goes on.)
                if window.is_some() {
                    holds::hold_unreadable_row(
                        program,
                        store,
                        &error,
                        contacts_name,
                        from,
                        now,
                        &mut summary,
                    )?;
                }
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
        if !need_state {
            continue;
        }
        // A contact listed twice in one chunk: the second time, read what
        // the first recorded.
        let mut state = match seen_in_chunk.insert(contact.id.clone()) {
            true => prefetched.remove(&contact.id).unwrap_or_default(),
            false => store
                .prefetch(&[contact.id.as_str()])?
                .remove(&contact.id)
                .unwrap_or_default(),
        };
        let changes = watch_fields(store, &watched, &contact, &state, now)?;
        let held = std::mem::take(&mut state.held);
        // Events ingested earlier, and those given to this run (once each).
        let mut known = state.events;
        if let Some(seen) = events_seen {
            for (event, seq) in known.iter_mut().zip(&state.event_seqs) {
                event.late = *seq > seen;
            }
        }
        for event in events.remove(&contact.id).unwrap_or_default() {
            if !known.iter().any(|k| k.id == event.id) {
                known.push(event);
            }
        }
        let history = History {
            messages: state.messages,
            events: known,
            changes,
            exits: state.exits,
        };
        let evaluation = evaluator
            .evaluate(&contact, &history, window)
            .map_err(|e| failed(&contact, &e))?;
        let holds = Holds::new(&contact, contacts_name, &held, &evaluation.problems, from);
        holds.record(store, now, &mut summary)?;
        // A flow released from its hold is evaluated over the time it was
        // held: what fell due then is sent now if its deadline allows, and
        // recorded missed (never dropped) if not.
        let dues = match holds.released_since() {
            Some(since) => {
                // From the hold's first instant, included (a first run's
                // window includes its start; a later run's start was
                // covered before, and what it recorded is not recorded twice).
                let wide = Window::closed(since, now).map_err(|e| failed(&contact, &e))?;
                let wider = evaluator
                    .evaluate(&contact, &history, &wide)
                    .map_err(|e| failed(&contact, &e))?;
                // Before the window: the held flows' dues, and those the
                // window itself has (rules of late events).
                let in_window: std::collections::HashSet<(&str, &str, &str)> = evaluation
                    .dues
                    .iter()
                    .map(|d| (d.flow.as_str(), d.rule.as_str(), d.occurrence.as_str()))
                    .collect();
                let keep = |due: &Due| {
                    due.instant >= from
                        || holds.was_held(&due.flow).is_some()
                        || in_window.contains(&(&due.flow, &due.rule, &due.occurrence))
                };
                wider.dues.into_iter().filter(keep).collect()
            }
            None => evaluation.dues,
        };
        for due in &dues {
            let held_reason = (due.instant < from)
                .then(|| holds.was_held(&due.flow))
                .flatten();
            let record = record_of(program, &contact, due, held_reason, options);
            // Recorded before delivery: from here on, nothing is lost.
            if !store.record(run, &record)? {
                continue;
            }
            // An `exit` decided is recorded with its rule, in the same
            // group: later runs skip the flow, and hand-off stops its
            // sends still waiting.
            if due.outcome.exits_flow() {
                store.record_exit(&crate::state::Exit {
                    contact: contact.id.clone(),
                    flow: due.flow.clone(),
                    rule: due.rule.clone(),
                    occurrence: due.occurrence.clone(),
                    at: due.instant,
                })?;
            }
            summary.due += 1;
            match record.status {
                SendStatus::Skipped => {
                    summary.skipped += 1;
                    continue;
                }
                SendStatus::Missed => {
                    let reason = record.reason.clone().unwrap_or_default();
                    summary.miss(&record.key, &reason);
                    continue;
                }
                SendStatus::Failed => {
                    let reason = record.reason.clone().unwrap_or_default();
                    summary
                        .failed
                        .push(format!("{}: {reason}", describe(&record.key)));
                    continue;
                }
                _ => {}
            }
            batch.add(store, outbox, record, now, &mut summary)?;
        }
        holds.release(store, &mut summary)?;
    }
    batch.flush(store, outbox, now, &mut summary)?;
    store.commit_group()?;
    if let Some(contacts) = plan.contacts() {
        summary.contacts = contacts;
    }
    summary.in_doubt = store.in_doubt()?;
    let summary_json = serde_json::to_string(&summary).unwrap_or_default();
    store.finish_run(run, now, &summary_json)?;
    // The index goes in place only now: what the run recorded is durable.
    if let Err(e) = plan.finish(now) {
        summary.row_index = format!("{}; row index not written: {e}", summary.row_index);
    }
    Ok(summary)
}

/// The row a due rule is recorded as: pending with its rendered payload,
/// skipped with why, or missed when quiet hours outlast its deadline.
/// `held` is the reason its flow was held, for a due of the held time.
fn record_of(
    program: &Program,
    contact: &Contact,
    due: &Due,
    held: Option<&str>,
    options: &RunOptions,
) -> SendRecord {
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
        Outcome::Planned(actions) => actions.iter().find_map(|a| match (&a.action, &a.skipped) {
            (Action::Send { channel, .. }, None) => Some(channel.name().to_string()),
            _ => None,
        }),
        Outcome::Skipped(_) => None,
    };
    let too_late = matches!(&due.outcome, Outcome::Planned(a) if a.iter().any(|p| p.skipped == Some(Skip::QuietHours)));
    let (status, reason, payload) = match skip {
        // Quiet hours that outlast the deadline make the send late.
        Some(reason) if too_late => (SendStatus::Missed, Some(reason), String::new()),
        Some(reason) => (SendStatus::Skipped, Some(reason), String::new()),
        None => match render_due(program, contact, due, &key.id(), &options.render) {
            Ok(payload) => (SendStatus::Pending, None, payload.to_string()),
            // Rendering is a function of the rule and the data it was
            // given: trying again would fail again. Failed, and said so.
            Err(reason) => (
                SendStatus::Failed,
                Some(format!("cannot render: {reason}")),
                String::new(),
            ),
        },
    };
    let reason = match (reason, held) {
        (None, Some(held)) => Some(format!("held until now: {held}")),
        (reason, _) => reason,
    };
    SendRecord {
        key,
        due_at: due.instant,
        deadline: due.deadline,
        not_before: due.not_before,
        channel,
        status,
        reason,
        payload,
        attempts: 0,
        retry_at: None,
    }
}
