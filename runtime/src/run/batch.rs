//! Sends ready to go, delivered together: each marked `sending` just before
//! its transaction starts and marked with its outcome as its answer comes.

use jiff::Timestamp;

use super::{describe, Backoff, RunError, RunSummary, BATCH};
use crate::delivery::{Attempt, DeliveryError, Outbox, Progress};
use crate::state::{Mark, SendKey, SendRecord, SendStatus, StateError, StateStore};
use crate::vm::consent::MessageKind;

/// Sends ready to go, delivered together once there are [`BATCH`].
pub(super) struct Batch {
    records: Vec<SendRecord>,
    payloads: Vec<serde_json::Value>,
    backoff: Backoff,
    /// When the run started (its clock is `now`), for hand-off times.
    started: std::time::Instant,
}

impl Batch {
    pub(super) fn new(backoff: Backoff) -> Batch {
        Batch {
            records: Vec::new(),
            payloads: Vec::new(),
            backoff,
            started: std::time::Instant::now(),
        }
    }

    /// Queues a recorded send if its time has come; records it missed past
    /// its deadline, or leaves it pending with its reason.
    pub(super) fn add(
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
            let reason = format!(
                "past its deadline {}{why}",
                crate::calendar::shown_deadline(record.deadline)
            );
            store.mark(&mark(key, SendStatus::Missed, Some(&reason)), now)?;
            summary.miss(key, &reason);
            return Ok(());
        }
        if let Some(not_before) = record.not_before.filter(|t| *t > now) {
            let reason = format!("quiet hours: not before {not_before}");
            store.mark(&mark(key, SendStatus::Pending, Some(&reason)), now)?;
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
                store.mark(&mark(key, SendStatus::Pending, Some(&reason)), now)?;
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
    pub(super) fn flush(
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
        let (records, mut payloads) = self.consented(store, now, summary)?;
        if records.is_empty() {
            return store.begin_group().map_err(RunError::from);
        }
        // Each e-mail's `Date` is its hand-off: the run's clock plus the
        // time the run has taken so far.
        let handed_over = now.checked_add(self.started.elapsed()).unwrap_or(now);
        for action in payloads
            .iter_mut()
            .filter_map(|p| p.get_mut("actions").and_then(|a| a.as_array_mut()))
            .flatten()
        {
            if let Some(eml) = action.get("eml").and_then(|e| e.as_str()) {
                let stamped = crate::delivery::stamp_date(eml, handed_over);
                action["eml"] = serde_json::Value::String(stamped);
            }
        }
        let backoff = self.backoff;
        let mut state_error: Option<StateError> = None;
        let mut progress = |progress: Progress| -> Result<(), DeliveryError> {
            let mut marks = Vec::new();
            let mut lines = Vec::new();
            for index in &progress.starting {
                if let Some(record) = records.get(*index) {
                    marks.push(mark(&record.key, SendStatus::Sending, None));
                }
            }
            for (index, attempt) in &progress.ended {
                let Some(record) = records.get(*index) else {
                    continue;
                };
                let (status, reason) = match attempt {
                    Attempt::Delivered => (SendStatus::Delivered, None),
                    Attempt::Retry(reason) | Attempt::InDoubt(reason) => {
                        (SendStatus::Pending, Some(reason.as_str()))
                    }
                    Attempt::Rejected(reason) => (SendStatus::Failed, Some(reason.as_str())),
                };
                // A failed attempt waits out its backoff before the next
                // (one in doubt too: it goes again, same Message-ID).
                let retry_at = matches!(attempt, Attempt::Retry(_) | Attempt::InDoubt(_))
                    .then(|| backoff.next_attempt(record.attempts + 1, now, record.deadline));
                let in_doubt = match attempt {
                    Attempt::InDoubt(reason) => Some(reason.as_str()),
                    _ => None,
                };
                marks.push(Mark {
                    key: &record.key,
                    status,
                    reason,
                    retry_at,
                    in_doubt,
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

impl Batch {
    /// The queued sends, less what consent withdrawn since they were
    /// planned forbids (guarantee 11: an unsubscribe known to the state
    /// before hand-off stops the send, even one due before it). A send of
    /// a withdrawn channel is dropped from its rule's actions; a rule left
    /// with none is recorded skipped, with when the contact unsubscribed.
    fn consented(
        &mut self,
        store: &mut dyn StateStore,
        now: Timestamp,
        summary: &mut RunSummary,
    ) -> Result<(Vec<SendRecord>, Vec<serde_json::Value>), RunError> {
        let records = std::mem::take(&mut self.records);
        let mut payloads = std::mem::take(&mut self.payloads);
        let contacts: std::collections::BTreeSet<&str> =
            records.iter().map(|r| r.key.contact.as_str()).collect();
        let contacts: Vec<&str> = contacts.into_iter().collect();
        let consent_events = store.consent_events(&contacts)?;
        // Left the flow by another rule's `exit` (a rule's own sends go
        // with its exit).
        let exits: Vec<crate::state::Exit> = store
            .exits_of(&contacts)?
            .into_iter()
            .filter(|e| e.at <= now)
            .collect();
        if consent_events.is_empty() && exits.is_empty() {
            return Ok((records, payloads));
        }
        let mut kept = (Vec::new(), Vec::new());
        let mut skipped = Vec::new();
        for (record, payload) in records.into_iter().zip(payloads.iter_mut()) {
            let key = &record.key;
            let left = exits
                .iter()
                .filter(|e| e.contact == key.contact && e.flow == key.flow)
                .filter(|e| !(e.rule == key.rule && e.occurrence == key.occurrence))
                .map(|e| e.at)
                .min();
            let mut withdrawn_at = None;
            let mut bounced = false;
            let message_kind = payload["message_kind"].as_str().map(str::to_string);
            let message_kind = if payload["transactional"].as_bool().unwrap_or(false) {
                MessageKind::Transactional
            } else {
                MessageKind::Marketing(message_kind.as_deref())
            };
            let events = consent_events
                .get(&key.contact)
                .map_or(&[][..], Vec::as_slice);
            if let Some(actions) = payload
                .get_mut("actions")
                .and_then(serde_json::Value::as_array_mut)
            {
                actions.retain(|action| {
                    let kind = action["kind"].as_str().unwrap_or("");
                    if !matches!(kind, "email" | "sms" | "push") {
                        return true;
                    }
                    if left.is_some() {
                        return false;
                    }
                    let stop = crate::vm::consent::withdrawal(events, kind, message_kind, now);
                    if let Some(w) = stop {
                        withdrawn_at = withdrawn_at.or(Some(w.at));
                        bounced |= w.bounce;
                    }
                    stop.is_none()
                });
                if actions.is_empty() {
                    if let Some(at) = left {
                        skipped.push((record, format!("left the flow at {at}")));
                        continue;
                    }
                    if let Some(at) = withdrawn_at {
                        let why = if bounced {
                            "address bounced"
                        } else {
                            "unsubscribed"
                        };
                        skipped.push((record, format!("{why} at {at}")));
                        continue;
                    }
                }
            }
            kept.0.push(record);
            kept.1.push(std::mem::take(payload));
        }
        let marks: Vec<Mark<'_>> = skipped
            .iter()
            .map(|(record, reason)| mark(&record.key, SendStatus::Skipped, Some(reason)))
            .collect();
        if !marks.is_empty() {
            store.mark_all(&marks, now)?;
            summary.skipped += marks.len() as u64;
        }
        Ok(kept)
    }
}

fn mark<'a>(key: &'a SendKey, status: SendStatus, reason: Option<&'a str>) -> Mark<'a> {
    Mark {
        key,
        status,
        reason,
        retry_at: None,
        in_doubt: None,
    }
}
