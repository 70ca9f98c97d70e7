//! Guarantee 1: a contact whose time zone is not a known IANA name (or
//! whose date field is not a date) has the flows that need the value held,
//! not dropped and not sent at a guessed hour. The hold is recorded in the
//! state with the start of the window it began in and its reason, shown by
//! every run and by `flowc status`, and ended by the first run that finds
//! the value usable: that run evaluates the flow over the whole held time.

use jiff::Timestamp;

use super::{RunError, RunSummary};
use crate::bytecode::Program;
use crate::input::RowError;
use crate::state::{Held, StateStore};
use crate::vm::{Contact, ContactProblem};

/// The holds of one contact in one run: those its evaluation asks for, and
/// those of earlier runs that it ends.
pub(super) struct Holds<'a> {
    contact: &'a Contact,
    /// `file:line` of the contact's row.
    place: String,
    /// Flows held now, with the reason and since when.
    holding: Vec<Held>,
    /// Holds of earlier runs whose flow evaluated cleanly this time.
    released: Vec<&'a Held>,
}

impl<'a> Holds<'a> {
    pub(super) fn new(
        contact: &'a Contact,
        contacts_name: &str,
        earlier: &'a [Held],
        problems: &[ContactProblem],
        from: Timestamp,
    ) -> Holds<'a> {
        let mut holding: Vec<Held> = Vec::new();
        for problem in problems {
            let (flow, reason) = match problem {
                ContactProblem::UnknownZone { flow, zone } => (
                    flow,
                    format!(
                        "`{zone}` is not a known IANA time zone; nothing is sent at a guessed hour"
                    ),
                ),
                ContactProblem::NotADate { flow, field, value } => {
                    (flow, format!("`{field}` is `{value}`, not a date"))
                }
                ContactProblem::Unschedulable {
                    flow,
                    field,
                    reason,
                } => (flow, format!("`{field}` cannot be scheduled: {reason}")),
            };
            match holding.iter_mut().find(|h| h.flow == *flow) {
                Some(held) if !held.reason.contains(&reason) => {
                    held.reason = format!("{}; {reason}", held.reason)
                }
                Some(_) => {}
                None => {
                    let since = earlier
                        .iter()
                        .find(|h| h.flow == *flow)
                        .map_or(from, |h| h.since.min(from));
                    holding.push(Held {
                        flow: flow.clone(),
                        since,
                        reason,
                    });
                }
            }
        }
        let released = earlier
            .iter()
            .filter(|e| !holding.iter().any(|h| h.flow == e.flow))
            .collect();
        Holds {
            contact,
            place: format!("{contacts_name}:{}", contact.line),
            holding,
            released,
        }
    }

    /// Records the holds asked for, and reports them.
    pub(super) fn record(
        &self,
        store: &mut dyn StateStore,
        now: Timestamp,
        summary: &mut RunSummary,
    ) -> Result<(), RunError> {
        for held in &self.holding {
            store.hold(&self.contact.id, held, now)?;
            summary.held_contacts.push(format!(
                "{}: contact `{}`: {}; flow `{}` held (pending since {})",
                self.place, self.contact.id, held.reason, held.flow, held.since
            ));
        }
        Ok(())
    }

    /// The start of the earliest hold this run ends, if it ends any.
    pub(super) fn released_since(&self) -> Option<Timestamp> {
        self.released.iter().map(|h| h.since).min()
    }

    /// The reason `flow` was held, when this run ends its hold.
    pub(super) fn was_held(&self, flow: &str) -> Option<&str> {
        self.released
            .iter()
            .find(|h| h.flow == flow)
            .map(|h| h.reason.as_str())
    }

    /// Ends the holds whose flow was evaluated over its held time (called
    /// once what fell due then is recorded, in the same group of writes).
    pub(super) fn release(
        &self,
        store: &mut dyn StateStore,
        summary: &mut RunSummary,
    ) -> Result<(), RunError> {
        for held in &self.released {
            store.release(&self.contact.id, &held.flow)?;
            summary.released.push(format!(
                "{}: contact `{}`: flow `{}` evaluated from {}, when it was held ({})",
                self.place, self.contact.id, held.flow, held.since, held.reason
            ));
        }
        Ok(())
    }
}

/// Guarantee 15: a row that cannot be read holds every flow of its
/// contact (when its id can be read), like an unknown zone; the run that
/// reads the row again evaluates them over the held time. A duplicate's
/// contact is the first row's, and goes on: nothing is held for it.
pub(super) fn hold_unreadable_row(
    program: &Program,
    store: &mut dyn StateStore,
    error: &RowError,
    contacts_name: &str,
    since: Timestamp,
    now: Timestamp,
    summary: &mut RunSummary,
) -> Result<(), RunError> {
    let (Some(id), false) = (&error.contact, error.duplicate) else {
        return Ok(());
    };
    let reason = format!(
        "its row {contacts_name}:{} cannot be read ({})",
        error.line, error.reason
    );
    for flow in &program.flows {
        let held = Held {
            flow: program.string(flow.name).to_string(),
            since,
            reason: reason.clone(),
        };
        store.hold(id, &held, now)?;
    }
    summary.held_contacts.push(format!(
        "{contacts_name}:{}: contact `{id}`: every flow held until its row can be read",
        error.line
    ));
    Ok(())
}
