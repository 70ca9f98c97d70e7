//! What a contact's row alone makes due: whether a rule is due in a
//! window (whose state a run reads), and a lower bound of the first due
//! instant in another (what the row index keeps per row).

use std::collections::BTreeSet;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::contact::{Contact, History};
use super::schedule::{contact_zone, seeds, Evaluator};
use super::value::Value;
use super::{ContactProblem, Evaluation, VmError};
use crate::bytecode::TriggerCode;
use crate::calendar::{Window, YearlyFirstDates};

impl Evaluator<'_> {
    /// A lower bound of the first instant due for `contact` in `window`
    /// from its row alone (the earliest due of [`Evaluator::evaluate`] with
    /// an empty history): never later, `None` only when nothing is due.
    /// See [`Evaluator::row_dues`].
    pub fn first_due_bound(
        &mut self,
        contact: &Contact,
        window: &Window,
    ) -> Result<Result<Option<Timestamp>, Vec<ContactProblem>>, VmError> {
        let dues = self.row_dues(contact, None, Some(window))?;
        Ok(match dues.problems.is_empty() {
            true => Ok(dues.bound),
            false => Err(dues.problems),
        })
    }

    /// What a contact's row alone makes due, in one pass over its rules
    /// (each zone resolved once): whether a rule is due in `window`, and a
    /// lower bound of the first instant due in `ahead`. Yearly and
    /// anniversary rules on date fields take the bound from a month-day
    /// table built once per window (the earliest local date, minus the
    /// widest zone offset), exactly only when due within three days; other
    /// rules are seeded exactly. What the row index keeps per row: reading
    /// a row early costs little, reading it late would lose a send.
    pub fn row_dues(
        &mut self,
        contact: &Contact,
        window: Option<&Window>,
        ahead: Option<&Window>,
    ) -> Result<RowDues, VmError> {
        let program = self.program;
        let no_history = History::default();
        let mut evaluation = Evaluation::default();
        let mut dues = RowDues::default();
        let earliest = |t: Timestamp, dues: &mut RowDues| {
            dues.bound = Some(dues.bound.map_or(t, |b| b.min(t)));
        };
        // Near the look-ahead's start, the exact instant: a row due soon is
        // then read once, not by each run of the two days a bound by date
        // leaves.
        let near = ahead.map(|ahead| self.near(ahead));
        let mut yearly = std::mem::take(&mut self.yearly);
        let mut queue = BTreeSet::new();
        let mut result = Ok(());
        'flows: for (f, flow) in program.flows.iter().enumerate() {
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
                let table_rule = match &rule.trigger {
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
                let mut seed = |window: &Window, queue: &mut BTreeSet<_>| {
                    queue.clear();
                    seeds(
                        program,
                        flow,
                        (f, r),
                        rule,
                        contact,
                        &no_history,
                        &zone,
                        window,
                        &mut yearly,
                        queue,
                        &mut evaluation,
                    )
                };
                if let (Some(window), false) = (window, dues.in_window) {
                    if let Err(e) = seed(window, &mut queue) {
                        result = Err(e);
                        break 'flows;
                    }
                    dues.in_window = !queue.is_empty();
                }
                let (Some(ahead), Some(near)) = (ahead, near) else {
                    continue;
                };
                if let Some((field, offset)) = table_rule {
                    if let Value::Date(base) = contact.field(program.string(*field)) {
                        let table = self.first_dates.get(ahead, (f, r), || {
                            YearlyFirstDates::new(ahead, *offset, flow.leap_day)
                        });
                        match table.first_date(*base) {
                            Some(None) => continue,
                            Some(Some((date, instant))) if date > near => {
                                earliest(instant, &mut dues);
                                continue;
                            }
                            Some(Some(_)) | None => {}
                        }
                    }
                }
                if let Err(e) = seed(ahead, &mut queue) {
                    result = Err(e);
                    break 'flows;
                }
                if let Some(first) = queue.first() {
                    earliest(first.instant, &mut dues);
                }
            }
        }
        self.yearly = yearly;
        result?;
        dues.problems = evaluation.problems;
        Ok(dues)
    }

    /// Three days after the start of `window` (UTC date), once per window.
    fn near(&mut self, window: &Window) -> Date {
        match self.near {
            Some((w, date)) if w == *window => date,
            _ => {
                let date = TimeZone::UTC
                    .to_datetime(window.start())
                    .date()
                    .checked_add(jiff::Span::new().days(3))
                    .unwrap_or(Date::MAX);
                self.near = Some((*window, date));
                date
            }
        }
    }
}

/// What a contact's row alone makes due: see [`Evaluator::row_dues`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RowDues {
    /// A rule is due in the window.
    pub in_window: bool,
    /// No rule is due in the look-ahead before this instant; `None`:
    /// nothing is due in it.
    pub bound: Option<Timestamp>,
    /// Zones and dates the VM cannot use (the rules that need them are
    /// left out of the rest).
    pub problems: Vec<ContactProblem>,
}
