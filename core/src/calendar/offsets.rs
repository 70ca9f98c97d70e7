//! Signed offsets such as `-15d`, `+2h` or `+1mo`, and how they move civil
//! dates, local wall-clock times and instants.
//!
//! * Minutes and hours are exact elapsed time.
//! * Days and weeks are calendar days: the local date moves, the wall-clock
//!   time stays (so `+1d` at 08:00 is 08:00 the next day even across a DST
//!   change).
//! * Months and years move the calendar month and clamp the day to the
//!   month's end (31 January + 1 month = 28 or 29 February).

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde::{Deserialize, Serialize};

use super::error::CalendarError;
use super::local_time::{local_date_time, resolve_local_detailed};

/// The unit of an [`Offset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Unit {
    /// Exact minutes of elapsed time.
    Minutes,
    /// Exact hours of elapsed time.
    Hours,
    /// Calendar days.
    Days,
    /// Calendar weeks (7 calendar days).
    Weeks,
    /// Calendar months, the day clamped to the month's end.
    Months,
    /// Calendar years, 29 February clamped to 28 February.
    Years,
}

impl Unit {
    /// True for minutes and hours, which are exact elapsed time rather
    /// than calendar moves.
    pub fn is_sub_day(self) -> bool {
        matches!(self, Unit::Minutes | Unit::Hours)
    }

    /// How the flow language writes it: `min`, `h`, `d`, `w`, `mo`, `y`.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Minutes => "min",
            Unit::Hours => "h",
            Unit::Days => "d",
            Unit::Weeks => "w",
            Unit::Months => "mo",
            Unit::Years => "y",
        }
    }
}

/// `-15d`, `30min`, `1y`: as the flow language writes durations.
impl std::fmt::Display for Offset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.suffix())
    }
}

/// Reads `30d`, `2w`, `1mo`, `1y`, `4h`, `30min` (and the long unit names).
impl std::str::FromStr for Offset {
    type Err = String;

    fn from_str(text: &str) -> Result<Offset, String> {
        let text = text.trim();
        let digits = text
            .char_indices()
            .find(|(i, c)| !(c.is_ascii_digit() || (*i == 0 && *c == '-')))
            .map_or(text.len(), |(i, _)| i);
        let amount: i64 = text[..digits]
            .parse()
            .map_err(|_| format!("`{text}` is not a duration"))?;
        let unit = match text[digits..].trim() {
            "min" | "minute" | "minutes" => Unit::Minutes,
            "h" | "hour" | "hours" => Unit::Hours,
            "d" | "day" | "days" => Unit::Days,
            "w" | "week" | "weeks" => Unit::Weeks,
            "mo" | "month" | "months" => Unit::Months,
            "y" | "year" | "years" => Unit::Years,
            other => return Err(format!("`{other}` is not a unit (min, h, d, w, mo, y)")),
        };
        Ok(Offset::new(amount, unit))
    }
}

/// A signed amount of a [`Unit`], e.g. `-15` days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Offset {
    /// The signed amount (negative = before).
    pub amount: i64,
    /// The unit of `amount`.
    pub unit: Unit,
}

/// A send moment: the local date and wall-clock time it is planned for in
/// the contact's zone, and the instant it resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DueTime {
    /// The local date the send is due on.
    pub local_date: Date,
    /// The local wall-clock time it is planned for (before any gap shift).
    pub local_time: Time,
    /// The instant it is sent at.
    pub instant: Timestamp,
    /// True when the planned local time did not exist (spring-forward gap)
    /// and `instant` is the end of the gap.
    pub shifted_by_gap: bool,
}

impl Offset {
    /// An offset of `amount` `unit`s.
    pub const fn new(amount: i64, unit: Unit) -> Offset {
        Offset { amount, unit }
    }

    /// No offset at all.
    pub const ZERO: Offset = Offset::new(0, Unit::Days);

    /// True for minute and hour offsets (exact elapsed time).
    pub fn is_sub_day(&self) -> bool {
        self.unit.is_sub_day()
    }

    /// The offset as a jiff [`Span`].
    ///
    /// # Errors
    ///
    /// [`CalendarError::OutOfRange`] when the amount is beyond what any
    /// date arithmetic could use (about 20,000 years in any unit).
    pub fn to_span(&self) -> Result<Span, CalendarError> {
        let span = Span::new();
        let amount = self.amount;
        match self.unit {
            Unit::Minutes => span.try_minutes(amount),
            Unit::Hours => span.try_hours(amount),
            Unit::Days => span.try_days(amount),
            Unit::Weeks => span.try_weeks(amount),
            Unit::Months => span.try_months(amount),
            Unit::Years => span.try_years(amount),
        }
        .map_err(|_| CalendarError::out_of_range(format!("offset {self:?}")))
    }

    /// Moves a civil date by a day-or-longer offset (days and weeks are
    /// calendar days; months and years clamp the day to the month's end).
    ///
    /// # Errors
    ///
    /// [`CalendarError::InvalidOffset`] for minute or hour offsets (a bare
    /// date has no time to move); [`CalendarError::OutOfRange`] when the
    /// result is outside years -9999..=9999.
    pub fn apply_to_date(&self, date: Date) -> Result<Date, CalendarError> {
        if self.is_sub_day() {
            return Err(CalendarError::InvalidOffset {
                reason: format!(
                    "{} {:?} cannot move a date; only days, weeks, months and years can",
                    self.amount, self.unit
                ),
            });
        }
        date.checked_add(self.to_span()?)
            .map_err(|_| CalendarError::out_of_range(format!("{date} moved by {self:?}")))
    }

    /// Moves an instant as seen in `tz`: minutes and hours exactly;
    /// day-or-longer units move the local date and keep the local
    /// wall-clock time (re-resolved by the gap/fold rule).
    ///
    /// # Errors
    ///
    /// [`CalendarError::OutOfRange`] when the result is not representable.
    pub fn apply_to_instant(
        &self,
        instant: Timestamp,
        tz: &TimeZone,
    ) -> Result<Timestamp, CalendarError> {
        if self.is_sub_day() {
            return self.add_exact(instant);
        }
        let (date, time) = local_date_time(instant, tz);
        self.apply_to_local(date, time, tz).map(|due| due.instant)
    }

    /// Moves a local date and wall-clock time in `tz` and resolves it:
    /// day-or-longer units move the date and keep `time`; minutes and hours
    /// are added exactly to the instant of `date` `time` (the local date and
    /// time of the result are then those of the resulting instant).
    ///
    /// # Errors
    ///
    /// [`CalendarError::OutOfRange`] when the result is not representable.
    pub fn apply_to_local(
        &self,
        date: Date,
        time: Time,
        tz: &TimeZone,
    ) -> Result<DueTime, CalendarError> {
        if self.is_sub_day() {
            let base = resolve_local_detailed(date, time, tz)?;
            let instant = self.add_exact(base.instant)?;
            let (local_date, local_time) = local_date_time(instant, tz);
            return Ok(DueTime {
                local_date,
                local_time,
                instant,
                shifted_by_gap: base.shifted_by_gap(),
            });
        }
        let local_date = self.apply_to_date(date)?;
        let resolved = resolve_local_detailed(local_date, time, tz)?;
        Ok(DueTime {
            local_date,
            local_time: time,
            instant: resolved.instant,
            shifted_by_gap: resolved.shifted_by_gap(),
        })
    }

    /// Adds a minute or hour offset as exact elapsed time.
    fn add_exact(&self, instant: Timestamp) -> Result<Timestamp, CalendarError> {
        instant
            .checked_add(self.to_span()?)
            .map_err(|_| CalendarError::out_of_range(format!("{instant} moved by {self:?}")))
    }

    /// Bounds `(lo, hi)` in days on how far this offset can move a due
    /// moment, whatever it is applied to: the moved moment is between `lo`
    /// and `hi` days after the original one (negative = before). Used to
    /// find which base dates can be due within a window. Assumes the amount
    /// passed [`Offset::to_span`].
    pub fn day_bounds(&self) -> (i64, i64) {
        let k = self.amount;
        let (lo, hi) = match self.unit {
            Unit::Minutes => (k.div_euclid(1440), k.div_euclid(1440).saturating_add(1)),
            Unit::Hours => (k.div_euclid(24), k.div_euclid(24).saturating_add(1)),
            Unit::Days => (k, k),
            Unit::Weeks => (k.saturating_mul(7), k.saturating_mul(7)),
            // k months span between 28k - 3 and 31k days (clamping to a
            // month's end loses at most 3 days).
            Unit::Months => {
                let (a, b) = (k.saturating_mul(28), k.saturating_mul(31));
                (a.min(b).saturating_sub(3), a.max(b).saturating_add(3))
            }
            Unit::Years => {
                let (a, b) = (k.saturating_mul(365), k.saturating_mul(366));
                (a.min(b).saturating_sub(1), a.max(b).saturating_add(1))
            }
        };
        (lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn day_bounds_contain_the_real_move() {
        let starts = [
            date(2024, 1, 31),
            date(2024, 2, 29),
            date(2023, 12, 31),
            date(2025, 3, 31),
        ];
        for unit in [Unit::Days, Unit::Weeks, Unit::Months, Unit::Years] {
            for amount in [-30, -13, -12, -1, 0, 1, 2, 11, 12, 25, 100] {
                let offset = Offset::new(amount, unit);
                let (lo, hi) = offset.day_bounds();
                for start in starts {
                    let moved = offset.apply_to_date(start).unwrap();
                    let days = i64::from(start.until(moved).unwrap().get_days());
                    assert!(
                        lo <= days && days <= hi,
                        "{offset:?} from {start}: {days} not in [{lo}, {hi}]"
                    );
                }
            }
        }
    }

    #[test]
    fn huge_amounts_are_errors() {
        assert!(Offset::new(i64::MAX, Unit::Days).to_span().is_err());
        assert!(Offset::new(i64::MIN, Unit::Minutes).to_span().is_err());
        assert!(Offset::new(1, Unit::Days).apply_to_date(Date::MAX).is_err());
        assert!(Offset::new(-1, Unit::Months)
            .apply_to_date(Date::MIN)
            .is_err());
    }
}
