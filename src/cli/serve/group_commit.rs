//! The writes of the busiest routes (a click, an open), made durable in
//! groups: one writer thread takes every write queued while the previous
//! group was being committed and commits them together, in one sync, before
//! any of their requests is answered. A burst of first clicks then costs a
//! commit per group, not per click (`bench/serve.sh`: 2,880 first clicks/s,
//! p99 26.5 ms, one commit each; see docs/operations.md for the figure with
//! groups). Nothing is answered before it is durable.

use std::sync::mpsc;

use flowc_runtime::state::{SqliteState, StateStore};
use flowc_runtime::vm::Event;
use tokio::sync::oneshot;

use super::Shared;

/// At most this many writes in one group: a bound on how long the state
/// stays locked for the other routes.
const MOST_PER_GROUP: usize = 256;

/// An event to record for a contact, and where to say how it went.
struct Write {
    contact: String,
    event: Event,
    done: oneshot::Sender<Result<(), String>>,
}

/// The queue of the writer thread.
pub struct Writer {
    queue: mpsc::Sender<Write>,
}

impl Writer {
    /// Starts the writer thread on the service's state.
    pub fn start(service: &Shared) -> Result<Writer, String> {
        let (queue, pending) = mpsc::channel();
        let service = service.clone();
        std::thread::Builder::new()
            .name("flowc-serve-writer".into())
            .spawn(move || write_in_groups(&service, &pending))
            .map_err(|e| format!("cannot start the writer: {e}"))?;
        Ok(Writer { queue })
    }

    /// Records `event` for `contact`; returns once it is durable.
    pub async fn record(&self, contact: String, event: Event) -> Result<(), String> {
        let (done, answer) = oneshot::channel();
        self.queue
            .send(Write {
                contact,
                event,
                done,
            })
            .map_err(|_| "the writer stopped".to_string())?;
        answer.await.map_err(|_| "the writer stopped".to_string())?
    }
}

fn write_in_groups(service: &Shared, pending: &mpsc::Receiver<Write>) {
    // Ends when every sender is gone (the service stops).
    while let Ok(first) = pending.recv() {
        let mut group = vec![first];
        while group.len() < MOST_PER_GROUP {
            match pending.try_recv() {
                Ok(write) => group.push(write),
                Err(_) => break,
            }
        }
        let mut store = service
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let results = write_group(&mut store, &group);
        drop(store);
        for (write, result) in group.into_iter().zip(results) {
            // A request that went away does not care.
            let _ = write.done.send(result);
        }
    }
}

/// Every write of the group in one transaction: each its own result, and
/// all of them the commit's failure when it fails.
fn write_group(store: &mut SqliteState, group: &[Write]) -> Vec<Result<(), String>> {
    if let Err(e) = store.begin_group() {
        return group.iter().map(|_| Err(e.0.clone())).collect();
    }
    let results: Vec<Result<(), String>> = group
        .iter()
        .map(|w| {
            store
                .ingest(&w.contact, &w.event)
                .map(|_| ())
                .map_err(|e| e.0)
        })
        .collect();
    match store.commit_group() {
        Ok(()) => results,
        Err(e) => group.iter().map(|_| Err(e.0.clone())).collect(),
    }
}
