//! One-shot sends: on a given date, a delay after an event or message, and
//! after a period of inactivity; each is due at most once, and in a window
//! or not.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::error::CalendarError;
use super::local_time::local_date_time;
use super::occurrences::{keep_in_window, Occurrence, OccurrenceKey};
use super::offsets::Offset;
use super::window::Window;

/// The send for a one-shot `date` moved by `offset`, at `send_time` in `tz`
/// (for minute and hour offsets: the instant of `date` `send_time` plus the
/// exact offset). Key: [`OccurrenceKey::Date`]`(date)`.
///
/// # Errors
///
/// [`CalendarError::OutOfRange`] when the result is not representable.
pub fn once_due(
    date: Date,
    offset: Offset,
    send_time: Time,
    tz: &TimeZone,
) -> Result<Occurrence, CalendarError> {
    let due = offset.apply_to_local(date, send_time, tz)?;
    Ok(Occurrence::new(OccurrenceKey::Date(date), due))
}

/// [`once_due`] if it falls in `window`.
///
/// # Errors
///
/// [`CalendarError::OutOfRange`] only for an offset too large for any date
/// arithmetic; a send beyond the representable range is never due.
pub fn once_occurrence(
    date: Date,
    offset: Offset,
    send_time: Time,
    tz: &TimeZone,
    window: &Window,
) -> Result<Option<Occurrence>, CalendarError> {
    offset.to_span()?;
    keep_in_window(once_due(date, offset, send_time, tz), window)
}

/// The send `offset` after the instant `at` (an event or a message):
///
/// * minute and hour offsets: exactly `at + offset` (`send_time` ignored);
/// * day-or-longer offsets: the local date of `at` in `tz` moved by
///   `offset`, at `send_time` if given, else at the local wall-clock time
///   of `at`.
///
/// The arithmetic is literal: `+0d` at 08:00 after an event at 10:00 is due
/// at 08:00 the same day, before the event. Key: [`OccurrenceKey::Event`]
/// `(at)`.
///
/// # Errors
///
/// [`CalendarError::OutOfRange`] when the result is not representable.
pub fn after_instant_due(
    at: Timestamp,
    offset: Offset,
    send_time: Option<Time>,
    tz: &TimeZone,
) -> Result<Occurrence, CalendarError> {
    let (date, wall_time) = local_date_time(at, tz);
    let time = match (offset.is_sub_day(), send_time) {
        (false, Some(time)) => time,
        _ => wall_time,
    };
    let due = offset.apply_to_local(date, time, tz)?;
    Ok(Occurrence::new(OccurrenceKey::Event(at), due))
}

/// [`after_instant_due`] if it falls in `window`.
///
/// # Errors
///
/// As [`once_occurrence`].
pub fn after_instant(
    at: Timestamp,
    offset: Offset,
    send_time: Option<Time>,
    tz: &TimeZone,
    window: &Window,
) -> Result<Option<Occurrence>, CalendarError> {
    offset.to_span()?;
    keep_in_window(after_instant_due(at, offset, send_time, tz), window)
}

/// The send for a contact inactive for `period` since `last_seen`: due as
/// [`after_instant_due`]`(last_seen, period, send_time, tz)`. Key:
/// [`OccurrenceKey::Event`]`(last_seen)`, so new activity (a later
/// `last_seen`) starts a new occurrence.
///
/// # Errors
///
/// [`CalendarError::InvalidOffset`] for a period that is zero or negative;
/// [`CalendarError::OutOfRange`] when the result is not representable.
pub fn inactivity_due_at(
    last_seen: Timestamp,
    period: Offset,
    send_time: Option<Time>,
    tz: &TimeZone,
) -> Result<Occurrence, CalendarError> {
    if period.amount <= 0 {
        return Err(CalendarError::InvalidOffset {
            reason: format!(
                "an inactivity period must be positive, not {} {:?}",
                period.amount, period.unit
            ),
        });
    }
    after_instant_due(last_seen, period, send_time, tz)
}

/// [`inactivity_due_at`] if it falls in `window`.
///
/// # Errors
///
/// [`CalendarError::InvalidOffset`] for a period that is zero or negative,
/// otherwise as [`once_occurrence`].
pub fn inactivity_due(
    last_seen: Timestamp,
    period: Offset,
    send_time: Option<Time>,
    tz: &TimeZone,
    window: &Window,
) -> Result<Option<Occurrence>, CalendarError> {
    period.to_span()?;
    keep_in_window(inactivity_due_at(last_seen, period, send_time, tz), window)
}
