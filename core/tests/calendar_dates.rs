//! Yearly dates and the 29 February rule; offsets across month, year and
//! DST boundaries.

use flowc_core::calendar::{yearly_date, CalendarError, LeapDayRule, Offset, Unit, ZoneDb};
use jiff::civil::{date, time, Date};
use jiff::tz::TimeZone;
use jiff::Timestamp;

fn tz(name: &str) -> TimeZone {
    ZoneDb::bundled().get(name).unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn days(n: i64) -> Offset {
    Offset::new(n, Unit::Days)
}

#[test]
fn leap_day_rule_in_non_leap_years() {
    assert_eq!(LeapDayRule::default(), LeapDayRule::Feb28);
    assert_eq!(
        yearly_date(2, 29, 2027, LeapDayRule::Feb28).unwrap(),
        date(2027, 2, 28)
    );
    assert_eq!(
        yearly_date(2, 29, 2027, LeapDayRule::Mar1).unwrap(),
        date(2027, 3, 1)
    );
    assert_eq!(
        yearly_date(2, 29, 2028, LeapDayRule::Feb28).unwrap(),
        date(2028, 2, 29)
    );
    assert_eq!(
        yearly_date(2, 29, 2028, LeapDayRule::Mar1).unwrap(),
        date(2028, 2, 29)
    );
    // 1900 and 2100 are not leap years, 2000 is.
    assert_eq!(
        yearly_date(2, 29, 2100, LeapDayRule::Feb28).unwrap(),
        date(2100, 2, 28)
    );
    assert_eq!(
        yearly_date(2, 29, 2000, LeapDayRule::Mar1).unwrap(),
        date(2000, 2, 29)
    );
    assert_eq!(
        yearly_date(2, 29, 1900, LeapDayRule::Mar1).unwrap(),
        date(1900, 3, 1)
    );
}

#[test]
fn impossible_yearly_dates_are_errors() {
    assert_eq!(
        yearly_date(2, 30, 2028, LeapDayRule::Feb28),
        Err(CalendarError::InvalidMonthDay { month: 2, day: 30 })
    );
    assert!(yearly_date(4, 31, 2027, LeapDayRule::Feb28).is_err());
    assert!(yearly_date(-1, -1, 2027, LeapDayRule::Feb28).is_err());
    assert!(matches!(
        yearly_date(1, 1, 10_000, LeapDayRule::Feb28),
        Err(CalendarError::OutOfRange { .. })
    ));
}

#[test]
fn day_offsets_cross_month_and_year_boundaries() {
    assert_eq!(
        days(-15).apply_to_date(date(2027, 1, 5)).unwrap(),
        date(2026, 12, 21)
    );
    assert_eq!(
        days(15).apply_to_date(date(2026, 12, 21)).unwrap(),
        date(2027, 1, 5)
    );
    assert_eq!(
        days(1).apply_to_date(date(2028, 2, 28)).unwrap(),
        date(2028, 2, 29)
    );
    assert_eq!(
        days(1).apply_to_date(date(2027, 2, 28)).unwrap(),
        date(2027, 3, 1)
    );
    assert_eq!(
        days(-1).apply_to_date(date(2027, 3, 1)).unwrap(),
        date(2027, 2, 28)
    );
    assert_eq!(
        days(365).apply_to_date(date(2028, 1, 1)).unwrap(),
        date(2028, 12, 31)
    );
    assert_eq!(
        Offset::new(1, Unit::Weeks)
            .apply_to_date(date(2026, 12, 28))
            .unwrap(),
        date(2027, 1, 4)
    );
    assert_eq!(
        Offset::new(-2, Unit::Weeks)
            .apply_to_date(date(2027, 1, 4))
            .unwrap(),
        date(2026, 12, 21)
    );
    assert_eq!(
        Offset::ZERO.apply_to_date(date(2027, 1, 4)).unwrap(),
        date(2027, 1, 4)
    );
}

#[test]
fn month_and_year_offsets_clamp_to_the_end_of_the_month() {
    let months = |n| Offset::new(n, Unit::Months);
    let years = |n| Offset::new(n, Unit::Years);
    assert_eq!(
        months(1).apply_to_date(date(2027, 1, 31)).unwrap(),
        date(2027, 2, 28)
    );
    assert_eq!(
        months(1).apply_to_date(date(2028, 1, 31)).unwrap(),
        date(2028, 2, 29)
    );
    assert_eq!(
        months(1).apply_to_date(date(2027, 5, 31)).unwrap(),
        date(2027, 6, 30)
    );
    assert_eq!(
        months(-1).apply_to_date(date(2027, 3, 31)).unwrap(),
        date(2027, 2, 28)
    );
    assert_eq!(
        months(2).apply_to_date(date(2026, 12, 31)).unwrap(),
        date(2027, 2, 28)
    );
    assert_eq!(
        months(-13).apply_to_date(date(2027, 1, 15)).unwrap(),
        date(2025, 12, 15)
    );
    assert_eq!(
        years(1).apply_to_date(date(2028, 2, 29)).unwrap(),
        date(2029, 2, 28)
    );
    assert_eq!(
        years(-1).apply_to_date(date(2028, 2, 29)).unwrap(),
        date(2027, 2, 28)
    );
    assert_eq!(
        years(4).apply_to_date(date(2028, 2, 29)).unwrap(),
        date(2032, 2, 29)
    );
}

#[test]
fn offsets_out_of_range_are_errors_not_panics() {
    assert!(matches!(
        days(1).apply_to_date(Date::MAX),
        Err(CalendarError::OutOfRange { .. })
    ));
    assert!(Offset::new(1, Unit::Years)
        .apply_to_date(date(9999, 6, 1))
        .is_err());
    assert!(Offset::new(i64::MAX, Unit::Days)
        .apply_to_date(date(2027, 1, 1))
        .is_err());
    assert!(Offset::new(i64::MIN, Unit::Months)
        .apply_to_date(date(2027, 1, 1))
        .is_err());
    assert!(Offset::new(i64::MAX, Unit::Minutes)
        .apply_to_instant(ts("2027-01-01T00:00:00Z"), &TimeZone::UTC)
        .is_err());
    assert!(Offset::new(1, Unit::Hours)
        .apply_to_instant(Timestamp::MAX, &TimeZone::UTC)
        .is_err());
    assert!(days(1)
        .apply_to_instant(Timestamp::MAX, &tz("Europe/Paris"))
        .is_err());
}

#[test]
fn sub_day_offsets_cannot_move_a_bare_date() {
    for unit in [Unit::Minutes, Unit::Hours] {
        assert!(matches!(
            Offset::new(1, unit).apply_to_date(date(2027, 1, 1)),
            Err(CalendarError::InvalidOffset { .. })
        ));
    }
}

#[test]
fn offsets_on_instants_across_dst() {
    let paris = tz("Europe/Paris");
    let saturday_8 = ts("2027-03-27T07:00:00Z"); // 08:00 +01
                                                 // +1d keeps 08:00 on the wall clock: only 23 hours later.
    assert_eq!(
        days(1).apply_to_instant(saturday_8, &paris).unwrap(),
        ts("2027-03-28T06:00:00Z")
    );
    // +24h is exact elapsed time: 09:00 on the wall clock.
    assert_eq!(
        Offset::new(24, Unit::Hours)
            .apply_to_instant(saturday_8, &paris)
            .unwrap(),
        ts("2027-03-28T07:00:00Z")
    );
    assert_eq!(
        Offset::new(90, Unit::Minutes)
            .apply_to_instant(saturday_8, &paris)
            .unwrap(),
        ts("2027-03-27T08:30:00Z")
    );
    // 02:30 on Saturday + 1d lands in Sunday's gap: 03:00.
    assert_eq!(
        days(1)
            .apply_to_instant(ts("2027-03-27T01:30:00Z"), &paris)
            .unwrap(),
        ts("2027-03-28T01:00:00Z")
    );
    // 01:30 + 1h crosses the gap: 03:30 on the wall clock.
    assert_eq!(
        Offset::new(1, Unit::Hours)
            .apply_to_instant(ts("2027-03-28T00:30:00Z"), &paris)
            .unwrap(),
        ts("2027-03-28T01:30:00Z")
    );
    // Into a fold: 02:30 on 30 October + 1d takes the first 02:30.
    assert_eq!(
        days(1)
            .apply_to_instant(ts("2027-10-30T00:30:00Z"), &paris)
            .unwrap(),
        ts("2027-10-31T00:30:00Z")
    );
    // A month later from 31 January 09:00 in New York: 28 February 09:00.
    let ny = tz("America/New_York");
    assert_eq!(
        Offset::new(1, Unit::Months)
            .apply_to_instant(ts("2027-01-31T14:00:00Z"), &ny)
            .unwrap(),
        ts("2027-02-28T14:00:00Z")
    );
    // ... and from 14 February to 14 March crosses the March gap: 09:00 EDT.
    assert_eq!(
        Offset::new(1, Unit::Months)
            .apply_to_instant(ts("2027-02-14T14:00:00Z"), &ny)
            .unwrap(),
        ts("2027-03-14T13:00:00Z")
    );
}

#[test]
fn apply_to_local_reports_gap_shifts() {
    let paris = tz("Europe/Paris");
    let due = days(1)
        .apply_to_local(date(2027, 3, 27), time(2, 30, 0, 0), &paris)
        .unwrap();
    assert_eq!(due.local_date, date(2027, 3, 28));
    assert_eq!(due.local_time, time(2, 30, 0, 0));
    assert_eq!(due.instant, ts("2027-03-28T01:00:00Z"));
    assert!(due.shifted_by_gap);

    let due = Offset::new(-2, Unit::Hours)
        .apply_to_local(date(2027, 1, 1), time(1, 0, 0, 0), &paris)
        .unwrap();
    assert_eq!(
        (due.local_date, due.local_time),
        (date(2026, 12, 31), time(23, 0, 0, 0))
    );
    assert_eq!(due.instant, ts("2026-12-31T22:00:00Z"));
    assert!(!due.shifted_by_gap);
}
