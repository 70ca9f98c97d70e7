//! Which contacts need their state read. Most contacts of a large base
//! have nothing due in a run's window, and their row alone shows it: the
//! VM finds nothing due for them with an empty history. Their state can
//! only add what depends on it: follow-ups of recorded sends, rules
//! triggered by recorded events (or by their absence), held flows, watched
//! fields, events learned since the last run. The contacts with such state are asked of the store once per
//! run, by time range; everyone else is evaluated from the row alone and
//! costs no state read.
//!
//! The set holds 64-bit hashes of ids, not ids: memory grows with the
//! active contacts at 8 bytes each, and a collision only costs a read.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use jiff::{SignedDuration, Timestamp};
use rustc_hash::{FxHashSet, FxHasher};

use super::RunError;
use crate::bytecode::{Program, TriggerCode};
use crate::calendar::{Offset, Window};
use crate::state::{Activity, StateStore};
use crate::vm::{Event, RowDues};

/// Days added to every bound: zone offsets (under 26 hours), send times
/// later in the local day, a day moved by a gap, and one to spare.
const MARGIN_DAYS: i64 = 5;

pub(super) struct Candidates {
    /// The store cannot tell, or fields are watched: read every state.
    every: bool,
    ids: FxHashSet<u64>,
}

impl Candidates {
    pub(super) fn load(
        program: &Program,
        store: &dyn StateStore,
        window: &Window,
        events_seen: Option<i64>,
        given_events: &HashMap<String, Vec<Event>>,
    ) -> Result<Candidates, RunError> {
        let every = Candidates {
            every: true,
            ids: FxHashSet::default(),
        };
        // What happened at `t` is due at `t` plus between `shortest` and
        // `longest` days of the offset (and the margin): only what
        // happened in this range can be due in the window.
        let range = |offset: &Offset| {
            let (shortest, longest) = offset.day_bounds();
            let days = |d: i64| SignedDuration::from_hours(d.clamp(-1_000_000, 1_000_000) * 24);
            let from = window
                .start()
                .checked_sub(days(longest.saturating_add(MARGIN_DAYS)))
                .unwrap_or(Timestamp::MIN);
            let to = window
                .end()
                .checked_sub(days(shortest.saturating_sub(MARGIN_DAYS)))
                .unwrap_or(Timestamp::MAX);
            (from, to)
        };
        let mut activity = Activity {
            events_after: events_seen,
            ..Activity::default()
        };
        for rule in program.flows.iter().flat_map(|f| &f.rules) {
            match &rule.trigger {
                TriggerCode::AfterMessage { offset, .. } => {
                    let (from, to) = range(offset);
                    activity.sends = Some(match activity.sends {
                        Some((a, b)) => (a.min(from), b.max(to)),
                        None => (from, to),
                    });
                }
                TriggerCode::Event { event, offset, .. } => {
                    let (from, to) = range(offset);
                    activity
                        .events
                        .push((program.string(*event).to_string(), from, to));
                }
                TriggerCode::Inactivity { event, period } => {
                    let (from, to) = range(period);
                    activity
                        .events
                        .push((program.string(*event).to_string(), from, to));
                }
                // A watched field is compared with its last value for
                // every contact: every state is read.
                TriggerCode::Becomes { .. } | TriggerCode::Changes { .. } => return Ok(every),
                TriggerCode::Date { .. }
                | TriggerCode::Anniversary { .. }
                | TriggerCode::FixedDate { .. } => {}
            }
        }
        let mut ids = FxHashSet::default();
        if !store.active_contacts(&activity, &mut |contact| {
            ids.insert(id_hash(contact));
        })? {
            return Ok(every);
        }
        // Events given to this run are part of the contact's history.
        ids.extend(given_events.keys().map(|id| id_hash(id)));
        Ok(Candidates { every: false, ids })
    }

    /// Whether `contact`'s state must be read, given what the VM found due
    /// for it from its row alone (an empty history).
    pub(super) fn need_state(&self, contact: &str, from_row: &RowDues) -> bool {
        self.every
            || from_row.in_window
            || !from_row.problems.is_empty()
            || self.ids.contains(&id_hash(contact))
    }

    /// Whether the store named the contact whose id has this hash, or
    /// cannot tell.
    pub(super) fn active(&self, id_hash: u64) -> bool {
        self.every || self.ids.contains(&id_hash)
    }

    /// True when every contact's state is read (no row can be skipped).
    pub(super) fn every(&self) -> bool {
        self.every
    }
}

/// The 64-bit hash of a contact id (also the row index's).
pub(super) fn id_hash(id: &str) -> u64 {
    let mut hasher = FxHasher::default();
    id.hash(&mut hasher);
    hasher.finish()
}
