//! What an enumeration returns: one due send ([`Occurrence`]) and the key
//! that identifies it for exactly-once delivery ([`OccurrenceKey`]).

use std::fmt;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::error::CalendarError;
use super::local_time::{end_of_local_day, local_date_time};
use super::offsets::DueTime;
use super::window::Window;

/// Which occurrence of a rule a send belongs to; part of the send's
/// identity (the 2027 birthday is not the 2026 birthday).
///
/// The [`Display`](fmt::Display) form is stable and suitable for storage:
/// `2027`, `#3`, `2026-12-01`, `2026-12-01T15:00:00Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OccurrenceKey {
    /// A yearly date (birthday): the year of the base date the send belongs
    /// to, even when an offset moves the send into another year.
    Year(i16),
    /// The n-th anniversary, n >= 1 (one year after the start is n = 1).
    Anniversary(i32),
    /// A one-shot date.
    Date(Date),
    /// A delay after an event, message or last activity: that instant.
    Event(Timestamp),
}

impl fmt::Display for OccurrenceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OccurrenceKey::Year(y) => write!(f, "{y}"),
            OccurrenceKey::Anniversary(n) => write!(f, "#{n}"),
            OccurrenceKey::Date(d) => write!(f, "{d}"),
            OccurrenceKey::Event(t) => write!(f, "{t}"),
        }
    }
}

/// One due send: its key, the local date and wall-clock time it is planned
/// for in the contact's zone, and the instant it resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Occurrence {
    /// Which occurrence of the rule this is.
    pub key: OccurrenceKey,
    /// The local date the send is due on.
    pub local_date: Date,
    /// The local wall-clock time it is planned for. For minute and hour
    /// offsets this is the wall-clock time of `instant`.
    pub local_time: Time,
    /// The instant (UTC) it is due at.
    pub instant: Timestamp,
    /// True when the planned local time fell in a spring-forward gap and
    /// `instant` is the end of the gap.
    pub shifted_by_gap: bool,
}

impl Occurrence {
    pub(crate) fn new(key: OccurrenceKey, due: DueTime) -> Occurrence {
        Occurrence {
            key,
            local_date: due.local_date,
            local_time: due.local_time,
            instant: due.instant,
            shifted_by_gap: due.shifted_by_gap,
        }
    }

    /// The lateness bound: the end of the local day the send falls on
    /// (exclusive). Normally the end of `local_date`; if a gap moved the
    /// send past midnight (a zone skipping a day), the end of that later day.
    ///
    /// # Errors
    ///
    /// [`CalendarError::OutOfRange`] for the last representable day.
    pub fn end_of_local_day(&self, tz: &TimeZone) -> Result<Timestamp, CalendarError> {
        let (actual_date, _) = local_date_time(self.instant, tz);
        end_of_local_day(actual_date.max(self.local_date), tz)
    }
}

/// Keeps a computed occurrence if it falls in `window`. An occurrence beyond
/// the representable range cannot fall in any window, so it is dropped
/// rather than reported; every other error is passed on.
pub(crate) fn keep_in_window(
    computed: Result<Occurrence, CalendarError>,
    window: &Window,
) -> Result<Option<Occurrence>, CalendarError> {
    match computed {
        Ok(o) if window.contains(o.instant) => Ok(Some(o)),
        Ok(_) => Ok(None),
        Err(e) if e.is_out_of_range() => Ok(None),
        Err(e) => Err(e),
    }
}
