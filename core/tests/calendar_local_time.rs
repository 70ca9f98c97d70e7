//! Local time to instant in zones with gaps, folds, odd offsets and
//! midnight transitions; the length and end of local days.

use flowc_core::calendar::{
    end_of_local_day, local_date_time, resolve_local, resolve_local_detailed, start_of_local_day,
    Resolution, ZoneDb,
};
use jiff::civil::{date, time, Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

fn tz(name: &str) -> TimeZone {
    ZoneDb::bundled().get(name).unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn resolve(zone: &str, d: Date, t: Time) -> (Timestamp, Resolution) {
    let r = resolve_local_detailed(d, t, &tz(zone)).unwrap();
    (r.instant, r.resolution)
}

fn day_length(zone: &str, d: Date) -> SignedDuration {
    let zone = tz(zone);
    let start = start_of_local_day(d, &zone).unwrap();
    let end = end_of_local_day(d, &zone).unwrap();
    end.duration_since(start)
}

#[test]
fn paris_gap_moves_to_the_end_of_the_gap() {
    let d = date(2027, 3, 28);
    assert_eq!(
        resolve("Europe/Paris", d, time(2, 30, 0, 0)),
        (ts("2027-03-28T01:00:00Z"), Resolution::ShiftedByGap)
    );
    assert_eq!(
        resolve("Europe/Paris", d, time(2, 0, 0, 0)),
        (ts("2027-03-28T01:00:00Z"), Resolution::ShiftedByGap)
    );
    assert_eq!(
        resolve("Europe/Paris", d, time(2, 59, 59, 999_999_999)),
        (ts("2027-03-28T01:00:00Z"), Resolution::ShiftedByGap)
    );
    assert_eq!(
        resolve("Europe/Paris", d, time(1, 59, 0, 0)),
        (ts("2027-03-28T00:59:00Z"), Resolution::Exact)
    );
    assert_eq!(
        resolve("Europe/Paris", d, time(3, 0, 0, 0)),
        (ts("2027-03-28T01:00:00Z"), Resolution::Exact)
    );
    // The shifted send shows 03:00 on the wall clock, not 03:30.
    let (local_d, local_t) = local_date_time(ts("2027-03-28T01:00:00Z"), &tz("Europe/Paris"));
    assert_eq!((local_d, local_t), (d, time(3, 0, 0, 0)));
}

#[test]
fn jiff_compatible_disambiguation_would_give_03_30() {
    // Documents why resolve_local does not use jiff's default: it keeps the
    // distance into the gap.
    let jiff_default = tz("Europe/Paris")
        .to_ambiguous_timestamp(date(2027, 3, 28).at(2, 30, 0, 0))
        .compatible()
        .unwrap();
    assert_eq!(jiff_default, ts("2027-03-28T01:30:00Z"));
    assert_ne!(
        jiff_default,
        resolve_local(date(2027, 3, 28), time(2, 30, 0, 0), &tz("Europe/Paris")).unwrap()
    );
}

#[test]
fn new_york_gap() {
    assert_eq!(
        resolve("America/New_York", date(2027, 3, 14), time(2, 30, 0, 0)),
        (ts("2027-03-14T07:00:00Z"), Resolution::ShiftedByGap)
    );
    let (d, t) = local_date_time(ts("2027-03-14T07:00:00Z"), &tz("America/New_York"));
    assert_eq!((d, t), (date(2027, 3, 14), time(3, 0, 0, 0)));
}

#[test]
fn paris_fold_takes_the_first_occurrence() {
    assert_eq!(
        resolve("Europe/Paris", date(2027, 10, 31), time(2, 30, 0, 0)),
        (ts("2027-10-31T00:30:00Z"), Resolution::FirstOfFold)
    );
    assert_eq!(
        resolve("Europe/Paris", date(2027, 10, 31), time(3, 0, 0, 0)),
        (ts("2027-10-31T02:00:00Z"), Resolution::Exact)
    );
}

#[test]
fn lord_howe_half_hour_dst() {
    // Gap 02:00 -> 02:30 on the first Sunday of October.
    assert_eq!(
        resolve("Australia/Lord_Howe", date(2027, 10, 3), time(2, 15, 0, 0)),
        (ts("2027-10-02T15:30:00Z"), Resolution::ShiftedByGap)
    );
    let (d, t) = local_date_time(ts("2027-10-02T15:30:00Z"), &tz("Australia/Lord_Howe"));
    assert_eq!((d, t), (date(2027, 10, 3), time(2, 30, 0, 0)));
    // Fold 02:00 -> 01:30 on the first Sunday of April: 01:45 twice.
    assert_eq!(
        resolve("Australia/Lord_Howe", date(2027, 4, 4), time(1, 45, 0, 0)),
        (ts("2027-04-03T14:45:00Z"), Resolution::FirstOfFold)
    );
    assert_eq!(
        day_length("Australia/Lord_Howe", date(2027, 10, 3)),
        SignedDuration::from_mins(23 * 60 + 30)
    );
    assert_eq!(
        day_length("Australia/Lord_Howe", date(2027, 4, 4)),
        SignedDuration::from_mins(24 * 60 + 30)
    );
}

#[test]
fn chatham_quarter_hour_offsets() {
    assert_eq!(
        resolve("Pacific/Chatham", date(2027, 7, 1), time(8, 0, 0, 0)),
        (ts("2027-06-30T19:15:00Z"), Resolution::Exact)
    );
    assert_eq!(
        resolve("Pacific/Chatham", date(2027, 1, 10), time(8, 0, 0, 0)),
        (ts("2027-01-09T18:15:00Z"), Resolution::Exact)
    );
    // Gap 02:45 -> 03:45 on the last Sunday of September.
    assert_eq!(
        resolve("Pacific/Chatham", date(2027, 9, 26), time(3, 0, 0, 0)),
        (ts("2027-09-25T14:00:00Z"), Resolution::ShiftedByGap)
    );
}

#[test]
fn kathmandu_kiritimati_pago_pago_and_utc() {
    assert_eq!(
        resolve("Asia/Kathmandu", date(2027, 1, 10), time(8, 0, 0, 0)),
        (ts("2027-01-10T02:15:00Z"), Resolution::Exact)
    );
    assert_eq!(
        resolve("Asia/Kathmandu", date(2027, 7, 10), time(8, 0, 0, 0)),
        (ts("2027-07-10T02:15:00Z"), Resolution::Exact)
    );
    // +14: 08:00 local is 18:00 UTC the previous day.
    assert_eq!(
        resolve("Pacific/Kiritimati", date(2027, 1, 10), time(8, 0, 0, 0)),
        (ts("2027-01-09T18:00:00Z"), Resolution::Exact)
    );
    assert_eq!(
        resolve("Pacific/Pago_Pago", date(2027, 1, 10), time(8, 0, 0, 0)),
        (ts("2027-01-10T19:00:00Z"), Resolution::Exact)
    );
    assert_eq!(
        resolve("UTC", date(2027, 1, 10), time(8, 0, 0, 0)),
        (ts("2027-01-10T08:00:00Z"), Resolution::Exact)
    );
    assert_eq!(
        day_length("UTC", date(2027, 3, 28)),
        SignedDuration::from_hours(24)
    );
}

#[test]
fn santiago_midnight_gap_and_fold() {
    // Spring forward 6 September 2026: 00:00 -04 jumps to 01:00 -03, so
    // midnight does not exist and the day starts at 01:00.
    let spring = date(2026, 9, 6);
    assert_eq!(
        resolve("America/Santiago", spring, time(0, 0, 0, 0)),
        (ts("2026-09-06T04:00:00Z"), Resolution::ShiftedByGap)
    );
    assert_eq!(
        resolve("America/Santiago", spring, time(0, 30, 0, 0)),
        (ts("2026-09-06T04:00:00Z"), Resolution::ShiftedByGap)
    );
    let zone = tz("America/Santiago");
    assert_eq!(
        start_of_local_day(spring, &zone).unwrap(),
        ts("2026-09-06T04:00:00Z")
    );
    assert_eq!(
        end_of_local_day(date(2026, 9, 5), &zone).unwrap(),
        ts("2026-09-06T04:00:00Z")
    );
    assert_eq!(
        end_of_local_day(spring, &zone).unwrap(),
        ts("2026-09-07T03:00:00Z")
    );
    assert_eq!(
        day_length("America/Santiago", spring),
        SignedDuration::from_hours(23)
    );
    let (d, t) = local_date_time(ts("2026-09-06T04:00:00Z"), &zone);
    assert_eq!((d, t), (spring, time(1, 0, 0, 0)));

    // Fall back 4 April 2027: 00:00 -03 goes back to 23:00 -04 on the 3rd,
    // so 3 April lasts 25 hours and 23:30 happens twice.
    let fall_eve = date(2027, 4, 3);
    assert_eq!(
        day_length("America/Santiago", fall_eve),
        SignedDuration::from_hours(25)
    );
    assert_eq!(
        end_of_local_day(fall_eve, &zone).unwrap(),
        ts("2027-04-04T04:00:00Z")
    );
    assert_eq!(
        resolve("America/Santiago", fall_eve, time(23, 30, 0, 0)),
        (ts("2027-04-04T02:30:00Z"), Resolution::FirstOfFold)
    );
    assert_eq!(
        resolve("America/Santiago", date(2027, 4, 4), time(0, 0, 0, 0)),
        (ts("2027-04-04T04:00:00Z"), Resolution::Exact)
    );
}

#[test]
fn beirut_midnight_transitions() {
    // 28 March 2027: 00:00 -> 01:00.
    let zone = tz("Asia/Beirut");
    assert_eq!(
        start_of_local_day(date(2027, 3, 28), &zone).unwrap(),
        ts("2027-03-27T22:00:00Z")
    );
    assert_eq!(
        day_length("Asia/Beirut", date(2027, 3, 28)),
        SignedDuration::from_hours(23)
    );
    // 31 October 2027 00:00 goes back to 23:00 on the 30th.
    assert_eq!(
        end_of_local_day(date(2027, 10, 30), &zone).unwrap(),
        ts("2027-10-30T22:00:00Z")
    );
    assert_eq!(
        day_length("Asia/Beirut", date(2027, 10, 30)),
        SignedDuration::from_hours(25)
    );
}

#[test]
fn paris_days_of_23_and_25_hours() {
    assert_eq!(
        day_length("Europe/Paris", date(2027, 3, 28)),
        SignedDuration::from_hours(23)
    );
    assert_eq!(
        day_length("Europe/Paris", date(2027, 10, 31)),
        SignedDuration::from_hours(25)
    );
    assert_eq!(
        day_length("Europe/Paris", date(2027, 6, 1)),
        SignedDuration::from_hours(24)
    );
    assert_eq!(
        end_of_local_day(date(2027, 3, 28), &tz("Europe/Paris")).unwrap(),
        ts("2027-03-28T22:00:00Z")
    );
}

#[test]
fn apia_skipped_a_whole_day() {
    // Samoa skipped 30 December 2011: every time that day is in the gap and
    // moves to the start of 31 December; the day has no length.
    let zone = tz("Pacific/Apia");
    let r = resolve_local_detailed(date(2011, 12, 30), time(8, 0, 0, 0), &zone).unwrap();
    assert!(r.shifted_by_gap());
    assert_eq!(
        r.instant,
        start_of_local_day(date(2011, 12, 31), &zone).unwrap()
    );
    assert_eq!(
        day_length("Pacific/Apia", date(2011, 12, 30)),
        SignedDuration::ZERO
    );
    let (d, t) = local_date_time(r.instant, &zone);
    assert_eq!((d, t), (date(2011, 12, 31), time(0, 0, 0, 0)));
}

#[test]
fn ends_of_the_range_are_errors() {
    let zone = tz("Pacific/Kiritimati");
    assert!(end_of_local_day(Date::MAX, &zone).is_err());
    assert!(resolve_local(Date::MAX, time(23, 0, 0, 0), &tz("Pacific/Pago_Pago")).is_err());
    assert!(resolve_local(Date::MIN, time(0, 0, 0, 0), &zone).is_err());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const ZONES: &[&str] = &[
        "Europe/Paris",
        "America/New_York",
        "America/Vancouver",
        "America/Edmonton",
        "Africa/Casablanca",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "Asia/Kathmandu",
        "Pacific/Kiritimati",
        "Pacific/Pago_Pago",
        "America/Santiago",
        "Asia/Beirut",
        "UTC",
    ];

    proptest! {
        /// Exact and fold times show the requested wall clock; a gap time
        /// gives the first instant whose wall clock is past it, and the
        /// instant just before still shows a time before it.
        #[test]
        fn resolution_matches_its_description(
            zone in prop::sample::select(ZONES),
            days in 0i64..(366 * 6),
            minute_of_day in 0i32..1440,
        ) {
            let zone_tz = tz(zone);
            let d = date(2024, 1, 1).checked_add(jiff::Span::new().days(days)).unwrap();
            let t = Time::new((minute_of_day / 60) as i8, (minute_of_day % 60) as i8, 0, 0).unwrap();
            let dt = d.to_datetime(t);
            let r = resolve_local_detailed(d, t, &zone_tz).unwrap();
            let shown = zone_tz.to_datetime(r.instant);
            let just_before = zone_tz.to_datetime(r.instant - SignedDuration::from_nanos(1));
            match r.resolution {
                Resolution::Exact => prop_assert_eq!(shown, dt),
                Resolution::FirstOfFold => {
                    prop_assert_eq!(shown, dt);
                    let earlier = zone_tz.to_ambiguous_timestamp(dt).earlier().unwrap();
                    prop_assert_eq!(r.instant, earlier);
                }
                Resolution::ShiftedByGap => {
                    prop_assert!(shown > dt, "{} shows {}", r.instant, shown);
                    prop_assert!(just_before < dt, "{} shows {}", r.instant, just_before);
                }
            }
        }
    }
}
