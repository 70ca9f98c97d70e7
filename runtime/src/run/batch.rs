//! Sends ready to go, delivered together: each marked `sending` just before
//! its transaction starts and marked with its outcome as its answer comes.

use jiff::Timestamp;

use super::{describe, Backoff, RunError, RunSummary, BATCH};
use crate::delivery::{Attempt, DeliveryError, Outbox, Progress};
use crate::state::{Mark, SendKey, SendRecord, SendStatus, StateError, StateStore};

/// Sends ready to go, delivered together once there are [`BATCH`].
pub(super) struct Batch {
    records: Vec<SendRecord>,
    payloads: Vec<serde_json::Value>,
    backoff: Backoff,
}

impl Batch {
    pub(super) fn new(backoff: Backoff) -> Batch {
        Batch {
            records: Vec::new(),
            payloads: Vec::new(),
            backoff,
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
            let reason = format!("past its deadline {}{why}", record.deadline);
            store.mark(&mark(key, SendStatus::Missed, Some(&reason)), now)?;
            summary.missed.push(format!("{}: {reason}", describe(key)));
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
        let records = std::mem::take(&mut self.records);
        let backoff = self.backoff;
        let payloads = std::mem::take(&mut self.payloads);
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
                    Attempt::Retry(reason) => (SendStatus::Pending, Some(reason.as_str())),
                    Attempt::Rejected(reason) => (SendStatus::Failed, Some(reason.as_str())),
                };
                // A failed attempt waits out its backoff before the next.
                let retry_at = matches!(attempt, Attempt::Retry(_))
                    .then(|| backoff.next_attempt(record.attempts + 1, now, record.deadline));
                marks.push(Mark {
                    key: &record.key,
                    status,
                    reason,
                    retry_at,
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

fn mark<'a>(key: &'a SendKey, status: SendStatus, reason: Option<&'a str>) -> Mark<'a> {
    Mark {
        key,
        status,
        reason,
        retry_at: None,
    }
}
