//! Yearly dates (birthdays, anniversaries): a month and day placed in a
//! given year, with the rule for 29 February in non-leap years.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::error::CalendarError;

/// Where a yearly date on 29 February falls in a year without one.
///
/// The product default is [`LeapDayRule::Feb28`] (guarantee 3); a flow may
/// choose [`LeapDayRule::Mar1`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LeapDayRule {
    /// 29 February falls on 28 February in non-leap years (the default).
    #[default]
    Feb28,
    /// 29 February falls on 1 March in non-leap years.
    Mar1,
}

/// Checks that `month`/`day` is a day of at least one year (29 February
/// included).
///
/// # Errors
///
/// [`CalendarError::InvalidMonthDay`] otherwise (30 February, 31 April,
/// month 13, day 0, ...).
pub fn check_month_day(month: i8, day: i8) -> Result<(), CalendarError> {
    // 2000 is a leap year, so every valid month/day exists in it.
    Date::new(2000, month, day)
        .map(|_| ())
        .map_err(|_| CalendarError::InvalidMonthDay { month, day })
}

/// How many days `month` of `year` has, or `None` for a month or year
/// outside the calendar (month 13, year 10000).
pub fn days_in_month(year: i16, month: i8) -> Option<i8> {
    Date::new(year, month, 1).ok().map(|d| d.days_in_month())
}

/// The date of `month`/`day` in `year`; 29 February in a non-leap year
/// becomes 28 February or 1 March according to `rule`.
///
/// # Errors
///
/// [`CalendarError::InvalidMonthDay`] for a month/day that no year has;
/// [`CalendarError::OutOfRange`] for a year outside -9999..=9999.
pub fn yearly_date(
    month: i8,
    day: i8,
    year: i16,
    rule: LeapDayRule,
) -> Result<Date, CalendarError> {
    check_month_day(month, day)?;
    let out_of_range = || CalendarError::out_of_range(format!("year {year}"));
    if !(Date::MIN.year()..=Date::MAX.year()).contains(&year) {
        return Err(out_of_range());
    }
    if let Ok(d) = Date::new(year, month, day) {
        return Ok(d);
    }
    // Only 29 February of a non-leap year gets here.
    let (m, d) = match rule {
        LeapDayRule::Feb28 => (2, 28),
        LeapDayRule::Mar1 => (3, 1),
    };
    Date::new(year, m, d).map_err(|_| out_of_range())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn ordinary_dates_are_unchanged() {
        assert_eq!(
            yearly_date(1, 5, 2027, LeapDayRule::Mar1).unwrap(),
            date(2027, 1, 5)
        );
        assert_eq!(
            yearly_date(2, 28, 2027, LeapDayRule::Mar1).unwrap(),
            date(2027, 2, 28)
        );
    }

    #[test]
    fn rejects_impossible_days_and_years() {
        assert!(yearly_date(2, 30, 2028, LeapDayRule::Feb28).is_err());
        assert!(yearly_date(13, 1, 2028, LeapDayRule::Feb28).is_err());
        assert!(yearly_date(0, 1, 2028, LeapDayRule::Feb28).is_err());
        assert!(yearly_date(4, 31, 2028, LeapDayRule::Feb28).is_err());
        assert!(yearly_date(1, 1, 10_000, LeapDayRule::Feb28).is_err());
        assert!(yearly_date(1, 1, i16::MIN, LeapDayRule::Feb28).is_err());
    }
}
