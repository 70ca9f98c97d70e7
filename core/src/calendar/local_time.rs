//! Local wall-clock time to instant and back, with the product's rule for
//! times that do not exist (spring-forward gap: move to the end of the gap)
//! or exist twice (fall-back fold: take the first), and the end of a local
//! day for the lateness bound.
//!
//! jiff's own `Disambiguation::Compatible` is *not* used for gaps: it keeps
//! the distance into the gap (02:30 in a 02:00 -> 03:00 gap becomes 03:30),
//! whereas the product promises the first valid instant (03:00).

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

use super::error::CalendarError;

/// How a local date and time was turned into an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// The local time exists exactly once.
    Exact,
    /// The local time fell in a gap (clocks jumped forward over it); the
    /// instant is the first one after the gap, i.e. the end of the gap.
    ShiftedByGap,
    /// The local time exists twice (clocks went back); the instant is the
    /// first (earlier) occurrence.
    FirstOfFold,
}

/// An instant resolved from a local date and time, with how it was resolved
/// (for reports: "due 02:30, sent 03:00 because of the DST change").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResolvedLocal {
    /// The resolved instant.
    pub instant: Timestamp,
    /// Whether the local time was exact, moved by a gap or taken from a fold.
    pub resolution: Resolution,
}

impl ResolvedLocal {
    /// True when the local time did not exist and the instant was moved
    /// forward to the end of the gap.
    pub fn shifted_by_gap(&self) -> bool {
        self.resolution == Resolution::ShiftedByGap
    }
}

/// The instant at which the wall clock in `tz` shows `date` `time`.
///
/// A time inside a spring-forward gap gives the first instant after the gap
/// (02:30 on a day when 02:00 jumps to 03:00 gives 03:00); a time shown twice
/// after a fall-back gives the first occurrence. Never fails for those.
///
/// # Errors
///
/// [`CalendarError::OutOfRange`] when the instant is not representable
/// (around the years -9999 and 9999).
pub fn resolve_local(date: Date, time: Time, tz: &TimeZone) -> Result<Timestamp, CalendarError> {
    resolve_local_detailed(date, time, tz).map(|r| r.instant)
}

/// [`resolve_local`], also saying whether a gap moved the time.
///
/// # Errors
///
/// As [`resolve_local`].
pub fn resolve_local_detailed(
    date: Date,
    time: Time,
    tz: &TimeZone,
) -> Result<ResolvedLocal, CalendarError> {
    let dt = date.to_datetime(time);
    let out_of_range = || CalendarError::out_of_range(format!("local time {dt}"));
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => Ok(ResolvedLocal {
            instant: offset.to_timestamp(dt).map_err(|_| out_of_range())?,
            resolution: Resolution::Exact,
        }),
        AmbiguousOffset::Fold { before, .. } => Ok(ResolvedLocal {
            // The offset in force before the fold gives the earlier instant.
            instant: before.to_timestamp(dt).map_err(|_| out_of_range())?,
            resolution: Resolution::FirstOfFold,
        }),
        AmbiguousOffset::Gap { before, after } => Ok(ResolvedLocal {
            instant: gap_end(dt, before, after, tz).ok_or_else(out_of_range)?,
            resolution: Resolution::ShiftedByGap,
        }),
    }
}

/// The first instant after the gap that contains the local time `dt`.
///
/// With the gap running from local `start` to local `end` (`end - start =
/// after - before`), the transition instant `t` satisfies
/// `t + before = start <= dt < end = t + after`, so `t` lies in
/// `(dt - after, dt - before]`. It is the first transition in that range
/// after which the wall clock has passed `dt`. (A transition that changes
/// only the abbreviation, such as America/Vancouver's PDT -> MST in
/// November 2026, is skipped by that test.)
fn gap_end(
    dt: DateTime,
    before: jiff::tz::Offset,
    after: jiff::tz::Offset,
    tz: &TimeZone,
) -> Option<Timestamp> {
    // `dt - before` is always after the gap: a valid instant to fall back on.
    let latest = before.to_timestamp(dt).ok()?;
    let earliest = after.to_timestamp(dt).ok()?;
    for transition in tz.following(earliest).take(8) {
        let t = transition.timestamp();
        if t > latest {
            break;
        }
        if transition.offset().to_datetime(t) >= dt {
            return Some(t);
        }
    }
    Some(latest)
}

/// The local date and wall-clock time of `instant` in `tz`.
pub fn local_date_time(instant: Timestamp, tz: &TimeZone) -> (Date, Time) {
    let dt = tz.to_datetime(instant);
    (dt.date(), dt.time())
}

/// The first instant of `date` in `tz` (usually 00:00; 01:00 when midnight
/// falls in a gap, as in America/Santiago on its spring-forward day).
///
/// # Errors
///
/// [`CalendarError::OutOfRange`] near the ends of the supported range.
pub fn start_of_local_day(date: Date, tz: &TimeZone) -> Result<Timestamp, CalendarError> {
    resolve_local(date, Time::midnight(), tz)
}

/// The end of the local day `date` in `tz`: the first instant of the next
/// local day (exclusive bound). A send due on `date` is late from this
/// instant on.
///
/// Correct on days of 23 or 25 hours and where the next midnight falls in a
/// gap (the next day then starts at the end of the gap, e.g. 01:00).
///
/// # Errors
///
/// [`CalendarError::OutOfRange`] for 9999-12-31 and near the ends of the
/// supported range.
pub fn end_of_local_day(date: Date, tz: &TimeZone) -> Result<Timestamp, CalendarError> {
    let next = date
        .tomorrow()
        .map_err(|_| CalendarError::out_of_range(format!("the day after {date}")))?;
    start_of_local_day(next, tz)
}

/// A deadline as people read it: the last instant a send may go is kept
/// to the nanosecond (the end of a local day is 23:59:59.999999999), but it
/// is shown as the whole second after it, the instant that is too late
/// (`2027-05-31T22:00:00Z`, midnight in Paris).
pub fn shown_deadline(deadline: Timestamp) -> Timestamp {
    // Rounded up: `as_second` truncates toward zero, which is up before 1970.
    let up = match deadline.subsec_nanosecond() {
        0 => return deadline,
        n if n > 0 => deadline.as_second().saturating_add(1),
        _ => deadline.as_second(),
    };
    Timestamp::from_second(up).unwrap_or(deadline)
}

/// Whether a local time, in minutes after midnight, falls in the period
/// `[from, to)` of the day, which wraps midnight when `from > to`
/// (`21:00 to 08:00`): the quiet hours, for the checker's warning and the
/// VM's hold alike.
pub fn in_daily_period(from: u16, to: u16, minute: u16) -> bool {
    if from <= to {
        from <= minute && minute < to
    } else {
        minute >= from || minute < to
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{date, time};
    use jiff::tz::offset;

    #[test]
    fn a_deadline_is_shown_as_the_first_instant_too_late() {
        let end: Timestamp = "2027-05-31T22:00:00Z".parse().unwrap();
        let last = end
            .checked_sub(jiff::SignedDuration::from_nanos(1))
            .unwrap();
        assert_eq!(shown_deadline(last), end);
        assert_eq!(shown_deadline(end), end);
        let before_1970: Timestamp = "1969-12-31T23:59:59.5Z".parse().unwrap();
        assert_eq!(
            shown_deadline(before_1970),
            "1970-01-01T00:00:00Z".parse().unwrap()
        );
        assert_eq!(shown_deadline(Timestamp::MAX), Timestamp::MAX);
    }

    #[test]
    fn fixed_offset_zone_is_exact() {
        let tz = TimeZone::fixed(offset(5));
        let r = resolve_local_detailed(date(2027, 1, 1), time(8, 0, 0, 0), &tz).unwrap();
        assert_eq!(r.instant.to_string(), "2027-01-01T03:00:00Z");
        assert_eq!(r.resolution, Resolution::Exact);
    }

    #[test]
    fn posix_gap_resolves_to_gap_end() {
        let tz = TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        let r = resolve_local_detailed(date(2027, 3, 28), time(2, 30, 0, 0), &tz).unwrap();
        assert_eq!(r.instant.to_string(), "2027-03-28T01:00:00Z");
        assert!(r.shifted_by_gap());
    }

    #[test]
    fn out_of_range_is_an_error_not_a_panic() {
        let tz = TimeZone::fixed(offset(-12));
        assert!(resolve_local(Date::MAX, time(23, 0, 0, 0), &tz).is_err());
        assert!(end_of_local_day(Date::MAX, &TimeZone::UTC).is_err());
    }

    #[test]
    fn a_daily_period_may_wrap_midnight() {
        let at = |h: u16, m: u16| h * 60 + m;
        assert!(in_daily_period(at(21, 0), at(8, 0), at(23, 30)));
        assert!(in_daily_period(at(21, 0), at(8, 0), at(0, 0)));
        assert!(!in_daily_period(at(21, 0), at(8, 0), at(8, 0)));
        assert!(in_daily_period(at(12, 0), at(14, 0), at(12, 0)));
        assert!(!in_daily_period(at(12, 0), at(14, 0), at(14, 0)));
    }
}
