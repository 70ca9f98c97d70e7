//! Yearly rules (birthdays) and anniversaries: which of their occurrences
//! are due within a window.
//!
//! Enumeration costs O(years in the window): only the few years whose
//! occurrence could land in the window are computed, never each day. For a
//! due instant in `[start, end)` the due local date lies within a few days of
//! the window's UTC dates (zone offsets are under 26 hours and a gap moves a
//! time forward by at most a day), and the base date lies within the
//! offset's day bounds of that; every year in that range is computed exactly
//! and kept only if its instant is in the window. Because each occurrence's
//! instant depends only on its key, consecutive windows see each occurrence
//! exactly once.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use super::error::CalendarError;
use super::occurrences::{keep_in_window, Occurrence, OccurrenceKey};
use super::offsets::Offset;
use super::window::Window;
use super::yearly::{yearly_date, LeapDayRule};

/// Days searched beyond each end of a window: covers every UTC offset jiff
/// allows (under 26 hours) plus a gap of up to a day moving a send forward.
const WINDOW_MARGIN_DAYS: i64 = 4;

/// The occurrence of a yearly date (a birthday on `base`'s month and day)
/// for base-date year `year`: the date in that year under `leap_rule`, moved
/// by `offset`, at `send_time` in `tz`. Its key is [`OccurrenceKey::Year`]
/// `(year)` even if the offset moves it into another year (birthday 5 Jan
/// 2027 with `-15d` is due 21 Dec 2026, key 2027).
///
/// # Errors
///
/// [`CalendarError::OutOfRange`] when the date or instant is not
/// representable.
pub fn yearly_occurrence(
    base: Date,
    year: i16,
    offset: Offset,
    send_time: Time,
    tz: &TimeZone,
    leap_rule: LeapDayRule,
) -> Result<Occurrence, CalendarError> {
    let date = yearly_date(base.month(), base.day(), year, leap_rule)?;
    let due = offset.apply_to_local(date, send_time, tz)?;
    Ok(Occurrence::new(OccurrenceKey::Year(year), due))
}

/// Every occurrence of a yearly date (only `base`'s month and day are used)
/// due in `window`, ordered by instant. See [`yearly_occurrence`].
///
/// # Errors
///
/// [`CalendarError::OutOfRange`] for an offset too large for any date
/// arithmetic. Occurrences beyond the representable range are simply never
/// due.
pub fn yearly_occurrences(
    base: Date,
    offset: Offset,
    send_time: Time,
    tz: &TimeZone,
    leap_rule: LeapDayRule,
    window: &Window,
) -> Result<Vec<Occurrence>, CalendarError> {
    occurrences_in_window(window, base, offset, leap_rule, |year| {
        Some(yearly_occurrence(
            base, year, offset, send_time, tz, leap_rule,
        ))
    })
}

/// The `n`-th anniversary of `start` (n >= 1: one year after `start` is the
/// first), moved by `offset`, at `send_time` in `tz`. A start on 29 February
/// has its anniversaries on 29 February in leap years and on 28 February or
/// 1 March (per `leap_rule`) otherwise. Key: [`OccurrenceKey::Anniversary`]
/// `(n)`.
///
/// # Errors
///
/// [`CalendarError::InvalidAnniversary`] for n < 1;
/// [`CalendarError::OutOfRange`] when the date or instant is not
/// representable.
pub fn anniversary_occurrence(
    start: Date,
    n: i32,
    offset: Offset,
    send_time: Time,
    tz: &TimeZone,
    leap_rule: LeapDayRule,
) -> Result<Occurrence, CalendarError> {
    if n < 1 {
        return Err(CalendarError::InvalidAnniversary { n });
    }
    let year = i32::from(start.year())
        .checked_add(n)
        .and_then(|y| i16::try_from(y).ok())
        .ok_or_else(|| CalendarError::out_of_range(format!("anniversary {n} of {start}")))?;
    let occurrence = yearly_occurrence(start, year, offset, send_time, tz, leap_rule)?;
    Ok(Occurrence {
        key: OccurrenceKey::Anniversary(n),
        ..occurrence
    })
}

/// Every anniversary of `start` (n >= 1; the start itself is not one) due in
/// `window`, ordered by instant. See [`anniversary_occurrence`].
///
/// # Errors
///
/// As [`yearly_occurrences`].
pub fn anniversary_occurrences(
    start: Date,
    offset: Offset,
    send_time: Time,
    tz: &TimeZone,
    leap_rule: LeapDayRule,
    window: &Window,
) -> Result<Vec<Occurrence>, CalendarError> {
    let joined = i32::from(start.year());
    occurrences_in_window(window, start, offset, leap_rule, |year| {
        // Years up to the joining year itself hold no anniversary.
        let n = i32::from(year) - joined;
        (n >= 1).then(|| anniversary_occurrence(start, n, offset, send_time, tz, leap_rule))
    })
}

/// The occurrences computed by `occurrence_in(year)` (`None`: no occurrence
/// that year) for every candidate base-date year of `window`, kept when due
/// in it, ordered by instant.
///
/// Before the zone is consulted (the costly part), a year whose due date —
/// `base`'s month and day in that year, moved by a whole-day `offset` — is
/// more than the margin away from the window's UTC dates is passed over:
/// run over millions of contacts for a one-day window, almost every year is.
fn occurrences_in_window(
    window: &Window,
    base: Date,
    offset: Offset,
    leap_rule: LeapDayRule,
    mut occurrence_in: impl FnMut(i16) -> Option<Result<Occurrence, CalendarError>>,
) -> Result<Vec<Occurrence>, CalendarError> {
    offset.to_span()?;
    let mut found = Vec::new();
    let Some((first, last)) = candidate_years(window, &offset) else {
        return Ok(found);
    };
    let near = (
        add_days_saturating(utc_date(window.start()), -WINDOW_MARGIN_DAYS),
        add_days_saturating(utc_date(window.end()), WINDOW_MARGIN_DAYS),
    );
    for year in first..=last {
        if !offset.is_sub_day() {
            let due_date = yearly_date(base.month(), base.day(), year, leap_rule)
                .and_then(|d| offset.apply_to_date(d));
            if due_date.is_ok_and(|d| d < near.0 || d > near.1) {
                continue;
            }
        }
        if let Some(computed) = occurrence_in(year) {
            found.extend(keep_in_window(computed, window)?);
        }
    }
    found.sort_by_key(|o| (o.instant, o.key));
    Ok(found)
}

/// The month-days whose yearly occurrence (a birthday, an anniversary,
/// moved by a day-or-longer offset) may be due in a window: the test
/// [`occurrences_in_window`] makes for each year, made once per window for
/// all 366 month-days, so that a run over millions of contacts looks each
/// one up instead of doing date arithmetic per contact.
///
/// Never says no to a month-day that has an occurrence in the window (a
/// property test checks it); may say yes to one that has none.
#[derive(Clone, Debug)]
pub struct YearlyDays {
    /// Bit `d` of `months[m]`: month-day (m, d) may be due. All set when
    /// the offset is under a day or the window spans many years.
    months: [u32; 13],
}

impl YearlyDays {
    /// Candidate years beyond which the table is not worth building.
    const MAX_YEARS: i32 = 4;

    pub fn new(window: &Window, offset: Offset, leap_rule: LeapDayRule) -> YearlyDays {
        let everything = YearlyDays {
            months: [u32::MAX; 13],
        };
        if offset.is_sub_day() || offset.to_span().is_err() {
            return everything;
        }
        let Some((first, last)) = candidate_years(window, &offset) else {
            return YearlyDays { months: [0; 13] };
        };
        if i32::from(last) - i32::from(first) >= Self::MAX_YEARS {
            return everything;
        }
        let near = (
            add_days_saturating(utc_date(window.start()), -WINDOW_MARGIN_DAYS),
            add_days_saturating(utc_date(window.end()), WINDOW_MARGIN_DAYS),
        );
        let mut months = [0u32; 13];
        for (month, bits) in months.iter_mut().enumerate().skip(1) {
            for day in 1..=31i8 {
                let may_be_due = (first..=last).any(|year| {
                    let due_date = yearly_date(month as i8, day, year, leap_rule)
                        .and_then(|d| offset.apply_to_date(d));
                    !due_date.is_ok_and(|d| d < near.0 || d > near.1)
                });
                if may_be_due {
                    *bits |= 1 << day;
                }
            }
        }
        YearlyDays { months }
    }

    /// Whether `base`'s month and day may have an occurrence in the window.
    pub fn may_be_due(&self, base: Date) -> bool {
        self.months[base.month() as usize] & (1 << base.day()) != 0
    }
}

/// For a window, per month-day: the earliest local date on which a yearly
/// occurrence (moved by a day-or-longer offset) can be due in it. The row
/// index keeps, per contact, a lower bound of its next due instant: this
/// table gives it from a lookup instead of zone arithmetic per contact.
///
/// The date is never later than the local date of the first occurrence
/// really due in the window (a property test checks it); "none" only when
/// no occurrence can be due in it.
#[derive(Clone, Debug)]
pub struct YearlyFirstDates {
    /// Index `month * 32 + day`: the date, and the earliest instant of
    /// that local date anywhere on Earth. `None` when the table is not
    /// built (an offset under a day, a window of many years).
    dates: Option<Vec<Option<(Date, Timestamp)>>>,
}

/// The earliest instant at which `date` is the local date somewhere: its
/// midnight in UTC minus the widest offset jiff allows (under 26 hours).
fn earliest_instant_of(date: Date) -> Timestamp {
    date.to_zoned(TimeZone::UTC)
        .ok()
        .and_then(|z| {
            z.timestamp()
                .checked_sub(jiff::SignedDuration::from_hours(26))
                .ok()
        })
        .unwrap_or(Timestamp::MIN)
}

impl YearlyFirstDates {
    pub fn new(window: &Window, offset: Offset, leap_rule: LeapDayRule) -> YearlyFirstDates {
        let unknown = YearlyFirstDates { dates: None };
        if offset.is_sub_day() || offset.to_span().is_err() {
            return unknown;
        }
        let Some((first, last)) = candidate_years(window, &offset) else {
            return YearlyFirstDates {
                dates: Some(vec![None; 13 * 32]),
            };
        };
        if i32::from(last) - i32::from(first) >= YearlyDays::MAX_YEARS {
            return unknown;
        }
        let near = (
            add_days_saturating(utc_date(window.start()), -WINDOW_MARGIN_DAYS),
            add_days_saturating(utc_date(window.end()), WINDOW_MARGIN_DAYS),
        );
        let mut dates = vec![None; 13 * 32];
        for month in 1..=12i8 {
            for day in 1..=31i8 {
                let mut earliest: Option<Date> = None;
                for year in first..=last {
                    match yearly_date(month, day, year, leap_rule)
                        .and_then(|d| offset.apply_to_date(d))
                    {
                        Ok(d) if d < near.0 || d > near.1 => {}
                        Ok(d) => earliest = Some(earliest.map_or(d, |e| e.min(d))),
                        // Not computable here: the lowest date there is.
                        Err(_) => earliest = Some(Date::MIN),
                    }
                }
                dates[month as usize * 32 + day as usize] =
                    earliest.map(|d| (d, earliest_instant_of(d)));
            }
        }
        YearlyFirstDates { dates: Some(dates) }
    }

    /// `None`: the table does not know (compute the occurrences);
    /// `Some(None)`: nothing can be due in the window; `Some(Some((date,
    /// instant)))`: no occurrence is due in the window before that local
    /// date, nor before that instant.
    pub fn first_date(&self, base: Date) -> Option<Option<(Date, Timestamp)>> {
        let dates = self.dates.as_ref()?;
        Some(dates[base.month() as usize * 32 + base.day() as usize])
    }
}

/// The range of base-date years whose occurrence could be due in `window`
/// when moved by `offset`; `None` for an empty window.
fn candidate_years(window: &Window, offset: &Offset) -> Option<(i16, i16)> {
    if window.is_empty() {
        return None;
    }
    // due date = base date + between lo and hi days.
    let (lo, hi) = offset.day_bounds();
    let first = add_days_saturating(
        utc_date(window.start()),
        WINDOW_MARGIN_DAYS.saturating_add(hi).saturating_neg(),
    );
    let last = add_days_saturating(
        utc_date(window.end()),
        WINDOW_MARGIN_DAYS.saturating_sub(lo),
    );
    (first <= last).then(|| (first.year(), last.year()))
}

fn utc_date(instant: Timestamp) -> Date {
    TimeZone::UTC.to_datetime(instant).date()
}

/// `date` moved by `days`, clamped to the supported range of dates.
fn add_days_saturating(date: Date, days: i64) -> Date {
    Span::new()
        .try_days(days)
        .ok()
        .and_then(|span| date.checked_add(span).ok())
        .unwrap_or(if days < 0 { Date::MIN } else { Date::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::offsets::Unit;
    use jiff::civil::date;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn candidate_years_cover_a_one_minute_window_around_new_year() {
        let w = Window::new(ts("2026-12-31T23:59:00Z"), ts("2027-01-01T00:00:00Z")).unwrap();
        // With -15d, a send in the last minute of 2026 (anywhere on Earth)
        // belongs to a birthday in January 2027.
        let (a, b) = candidate_years(&w, &Offset::new(-15, Unit::Days)).unwrap();
        assert_eq!((a, b), (2027, 2027));
        // Without an offset, it is a 2026 or a 2027 birthday.
        let (a, b) = candidate_years(&w, &Offset::ZERO).unwrap();
        assert_eq!((a, b), (2026, 2027));
    }

    #[test]
    fn candidate_years_saturate_at_the_ends_of_time() {
        let w = Window::new(Timestamp::MIN, Timestamp::MAX).unwrap();
        let (a, b) = candidate_years(&w, &Offset::ZERO).unwrap();
        assert_eq!((a, b), (-9999, 9999));
        // Moved 19,000 years later, only base years up to about -9000 can
        // still be due before the end of 9999.
        let (a, b) = candidate_years(&w, &Offset::new(19_000, Unit::Years)).unwrap();
        assert_eq!(a, -9999);
        assert!((-9001..=-8980).contains(&b), "{b}");
        assert_eq!(add_days_saturating(date(2000, 1, 1), i64::MIN), Date::MIN);
        assert_eq!(add_days_saturating(date(2000, 1, 1), i64::MAX), Date::MAX);
    }

    #[test]
    fn yearly_days_never_rule_out_an_occurrence_in_the_window() {
        use crate::calendar::offsets::Unit;
        // Every month-day of a leap year (29 February too), against windows
        // of a day, a week and a month around the year's turn and the end
        // of February, in zones from UTC-12 to UTC+14.
        let zones = [
            "Etc/GMT+12",
            "America/Vancouver",
            "UTC",
            "Asia/Kathmandu",
            "Pacific/Kiritimati",
        ];
        let windows = [
            ("2026-12-31T10:00:00Z", "2027-01-01T10:00:00Z"),
            ("2027-02-25T00:00:00Z", "2027-03-04T00:00:00Z"),
            ("2028-02-28T12:00:00Z", "2028-03-01T12:00:00Z"),
            ("2027-06-01T00:00:00Z", "2027-07-01T00:00:00Z"),
        ];
        let offsets = [
            Offset::ZERO,
            Offset::new(-15, Unit::Days),
            Offset::new(2, Unit::Weeks),
            Offset::new(-1, Unit::Months),
            Offset::new(1, Unit::Years),
        ];
        let time = jiff::civil::time(8, 0, 0, 0);
        let mut checked = 0;
        for (from, to) in windows {
            let window = Window::new(ts(from), ts(to)).unwrap();
            for offset in offsets {
                for leap in [LeapDayRule::Feb28, LeapDayRule::Mar1] {
                    let days = YearlyDays::new(&window, offset, leap);
                    for base in date(2000, 1, 1).series(jiff::Span::new().days(1)).take(366) {
                        for zone in zones {
                            let tz = crate::calendar::ZoneDb::bundled().get(zone).unwrap();
                            let found =
                                yearly_occurrences(base, offset, time, &tz, leap, &window).unwrap();
                            if !found.is_empty() {
                                checked += 1;
                                assert!(days.may_be_due(base), "{base} {offset:?} {from}");
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 1000, "the windows hold occurrences: {checked}");
    }

    #[test]
    fn yearly_days_rule_out_most_month_days_for_a_day() {
        let window = Window::new(ts("2027-03-15T00:00:00Z"), ts("2027-03-16T00:00:00Z")).unwrap();
        let days = YearlyDays::new(&window, Offset::ZERO, LeapDayRule::Feb28);
        let kept = date(2000, 1, 1)
            .series(jiff::Span::new().days(1))
            .take(366)
            .filter(|d| days.may_be_due(*d))
            .count();
        // The window's days and the margin on each side.
        assert!((2..=12).contains(&kept), "{kept}");
    }

    #[test]
    fn empty_window_has_no_candidates() {
        let t = ts("2027-01-01T00:00:00Z");
        assert!(candidate_years(&Window::new(t, t).unwrap(), &Offset::ZERO).is_none());
    }
}
