//! The first instant a contact's row alone makes a rule due, exact or as a
//! lower bound: what a run uses to choose whose state to read, and what
//! the row index keeps per row.

use std::collections::BTreeSet;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::contact::{Contact, History};
use super::schedule::{contact_zone, seeded, seeds, Evaluator};
use super::value::Value;
use super::{ContactProblem, Evaluation, VmError};
use crate::bytecode::TriggerCode;
use crate::calendar::{Window, YearlyFirstDates};

impl Evaluator<'_> {
    /// The first instant in `window` at which a rule is due for `contact`
    /// from its row and `history` alone, without deciding anything (no
    /// conditions run): `Err` lists the zones and dates it cannot use.
    /// Follow-ups come after what they follow, so the first seed is the
    /// first due. What the row index keeps per row.
    pub fn first_due(
        &mut self,
        contact: &Contact,
        history: &History,
        window: &Window,
    ) -> Result<Result<Option<Timestamp>, Vec<ContactProblem>>, VmError> {
        let program = self.program;
        let mut yearly = std::mem::take(&mut self.yearly);
        let mut evaluation = Evaluation::default();
        let seeded = seeded(
            program,
            &mut |name| self.zone(name),
            &mut yearly,
            contact,
            history,
            window,
            &mut evaluation,
        );
        self.yearly = yearly;
        let (_, queue) = seeded?;
        Ok(match evaluation.problems.is_empty() {
            true => Ok(queue.first().map(|c| c.instant)),
            false => Err(evaluation.problems),
        })
    }

    /// A lower bound of [`Evaluator::first_due`] with an empty history:
    /// never later than the first instant really due from the row in
    /// `window`, `None` only when nothing is. Yearly and anniversary rules
    /// on date fields look the month-day up in a table built once per
    /// window (the earliest local date, minus the widest zone offset);
    /// other rules are seeded exactly. What the row index keeps per row:
    /// reading a row early costs little, reading it late would lose a send.
    pub fn first_due_bound(
        &mut self,
        contact: &Contact,
        window: &Window,
    ) -> Result<Result<Option<Timestamp>, Vec<ContactProblem>>, VmError> {
        let program = self.program;
        let no_history = History::default();
        let mut evaluation = Evaluation::default();
        let mut bound: Option<Timestamp> = None;
        let mut earliest = |t: Timestamp| bound = Some(bound.map_or(t, |b| b.min(t)));
        // Near the window's start, the exact instant: a row due soon is then
        // read once, not by each run of the two days a bound by date leaves.
        let near = TimeZone::UTC
            .to_datetime(window.start())
            .date()
            .checked_add(jiff::Span::new().days(3))
            .unwrap_or(Date::MAX);
        for (f, flow) in program.flows.iter().enumerate() {
            let zone = match contact_zone(program, flow, contact, &mut |name| self.zone(name)) {
                Ok((zone, _)) => zone,
                Err(name) => {
                    evaluation.problems.push(ContactProblem::UnknownZone {
                        flow: program.string(flow.name).to_string(),
                        zone: name,
                    });
                    continue;
                }
            };
            for (r, rule) in flow.rules.iter().enumerate() {
                let yearly = match &rule.trigger {
                    TriggerCode::Date {
                        field,
                        yearly: true,
                        offset,
                    }
                    | TriggerCode::Anniversary { field, offset } => Some((field, offset)),
                    TriggerCode::Date { .. } | TriggerCode::FixedDate { .. } => None,
                    // Nothing with an empty history.
                    _ => continue,
                };
                if let Some((field, offset)) = yearly {
                    if let Value::Date(base) = contact.field(program.string(*field)) {
                        let table = self.first_dates.get(window, (f, r), || {
                            YearlyFirstDates::new(window, *offset, flow.leap_day)
                        });
                        match table.first_date(*base) {
                            Some(None) => continue,
                            Some(Some(date)) if date > near => {
                                // Local midnight of that date on the
                                // earliest clock on Earth, with a margin.
                                let instant = date
                                    .to_zoned(TimeZone::UTC)
                                    .ok()
                                    .and_then(|z| {
                                        z.timestamp()
                                            .checked_sub(jiff::SignedDuration::from_hours(26))
                                            .ok()
                                    })
                                    .unwrap_or(Timestamp::MIN);
                                earliest(instant);
                                continue;
                            }
                            Some(Some(_)) | None => {}
                        }
                    }
                }
                let mut queue = BTreeSet::new();
                let mut yearly_filters = std::mem::take(&mut self.yearly);
                let seeded = seeds(
                    program,
                    flow,
                    (f, r),
                    rule,
                    contact,
                    &no_history,
                    &zone,
                    window,
                    &mut yearly_filters,
                    &mut queue,
                    &mut evaluation,
                );
                self.yearly = yearly_filters;
                seeded?;
                if let Some(first) = queue.first() {
                    earliest(first.instant);
                }
            }
        }
        Ok(match evaluation.problems.is_empty() {
            true => Ok(bound),
            false => Err(evaluation.problems),
        })
    }
}
