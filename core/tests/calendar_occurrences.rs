//! Due sends within windows: yearly dates, anniversaries, one-shot dates,
//! delays after events and inactivity, at window boundaries and over
//! windows from a minute to years.

use std::collections::BTreeSet;

use flowc_core::calendar::{
    after_instant, after_instant_due, anniversary_occurrence, anniversary_occurrences,
    inactivity_due, inactivity_due_at, once_due, once_occurrence, yearly_occurrence,
    yearly_occurrences, CalendarError, LeapDayRule, Occurrence, OccurrenceKey, Offset, Unit,
    Window, ZoneDb,
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

fn window(a: &str, b: &str) -> Window {
    Window::new(ts(a), ts(b)).unwrap()
}

fn days(n: i64) -> Offset {
    Offset::new(n, Unit::Days)
}

const NINE: Time = Time::constant(9, 0, 0, 0);

/// Birthday 5 January, 15 days before, at 09:00 Paris time.
fn birthday(w: &Window) -> Vec<Occurrence> {
    yearly_occurrences(
        date(1990, 1, 5),
        days(-15),
        NINE,
        &tz("Europe/Paris"),
        LeapDayRule::Feb28,
        w,
    )
    .unwrap()
}

fn keys(found: &[Occurrence]) -> Vec<OccurrenceKey> {
    found.iter().map(|o| o.key).collect()
}

#[test]
fn birthday_offset_crosses_the_year_and_keeps_the_birthday_year_as_key() {
    let o = yearly_occurrence(
        date(1990, 1, 5),
        2027,
        days(-15),
        NINE,
        &tz("Europe/Paris"),
        LeapDayRule::Feb28,
    )
    .unwrap();
    assert_eq!(o.key, OccurrenceKey::Year(2027));
    assert_eq!(o.key.to_string(), "2027");
    assert_eq!(o.local_date, date(2026, 12, 21));
    assert_eq!(o.local_time, NINE);
    assert_eq!(o.instant, ts("2026-12-21T08:00:00Z"));
    assert!(!o.shifted_by_gap);
    assert_eq!(
        o.end_of_local_day(&tz("Europe/Paris")).unwrap(),
        ts("2026-12-21T23:00:00Z")
    );
}

#[test]
fn one_minute_windows_at_the_boundaries() {
    // Due exactly at 08:00:00Z: in (07:59, 08:00], not in (08:00, 08:01]:
    // the run at 08:00 sends it.
    assert_eq!(
        keys(&birthday(&window(
            "2026-12-21T07:59:00Z",
            "2026-12-21T08:00:00Z"
        ))),
        [OccurrenceKey::Year(2027)]
    );
    assert!(birthday(&window("2026-12-21T08:00:00Z", "2026-12-21T08:01:00Z")).is_empty());
    assert!(birthday(&window("2026-12-21T08:00:01Z", "2026-12-21T08:01:01Z")).is_empty());
    assert!(birthday(&window("2026-12-21T08:00:00Z", "2026-12-21T08:00:00Z")).is_empty());
    assert_eq!(
        birthday(&window(
            "2026-12-21T07:59:59.999999999Z",
            "2026-12-21T08:00:00.000000001Z"
        ))
        .len(),
        1
    );
}

#[test]
fn day_year_and_multi_year_windows() {
    assert_eq!(
        keys(&birthday(&window(
            "2026-12-21T00:00:00Z",
            "2026-12-22T00:00:00Z"
        ))),
        [OccurrenceKey::Year(2027)]
    );
    // The calendar year 2026 holds only the 2027 birthday's send.
    assert_eq!(
        keys(&birthday(&window(
            "2026-01-01T00:00:00Z",
            "2027-01-01T00:00:00Z"
        ))),
        [OccurrenceKey::Year(2027)]
    );
    let five_years = birthday(&window("2026-01-01T00:00:00Z", "2031-01-01T00:00:00Z"));
    assert_eq!(
        keys(&five_years),
        (2027..=2031).map(OccurrenceKey::Year).collect::<Vec<_>>()
    );
    assert!(five_years.windows(2).all(|w| w[0].instant < w[1].instant));
    assert!(five_years
        .iter()
        .all(|o| o.local_date.month() == 12 && o.local_date.day() == 21));
    // A century-long window: one per year, nothing else.
    let century = birthday(&window("2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"));
    assert_eq!(
        keys(&century),
        (2001..=2100).map(OccurrenceKey::Year).collect::<Vec<_>>()
    );
}

#[test]
fn minute_by_minute_sweep_equals_one_big_window() {
    // Every one-minute window over four days around the due date, and every
    // hour-long window over the year.
    let whole = birthday(&window("2026-12-19T00:00:00Z", "2026-12-23T00:00:00Z"));
    assert_eq!(whole.len(), 1);
    let mut swept = Vec::new();
    let mut t = ts("2026-12-19T00:00:00Z");
    while t < ts("2026-12-23T00:00:00Z") {
        let next = t + SignedDuration::from_mins(1);
        swept.extend(birthday(&Window::new(t, next).unwrap()));
        t = next;
    }
    assert_eq!(swept, whole);

    let year = birthday(&window("2026-06-01T00:00:00Z", "2027-06-01T00:00:00Z"));
    let mut swept = Vec::new();
    let mut t = ts("2026-06-01T00:00:00Z");
    while t < ts("2027-06-01T00:00:00Z") {
        let next = t + SignedDuration::from_hours(1);
        swept.extend(birthday(&Window::new(t, next).unwrap()));
        t = next;
    }
    assert_eq!(swept, year);
    assert_eq!(keys(&year), [OccurrenceKey::Year(2027)]);
}

#[test]
fn kiritimati_new_year_birthday_is_due_the_previous_utc_day() {
    let found = yearly_occurrences(
        date(1980, 1, 1),
        Offset::ZERO,
        time(8, 0, 0, 0),
        &tz("Pacific/Kiritimati"),
        LeapDayRule::Feb28,
        &window("2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].key, OccurrenceKey::Year(2027));
    assert_eq!(found[0].local_date, date(2027, 1, 1));
    assert_eq!(found[0].instant, ts("2026-12-31T18:00:00Z"));
    // A two-hour window around it: its UTC dates are all in 2026, the
    // birthday's year is 2027.
    let narrow = yearly_occurrences(
        date(1980, 1, 1),
        Offset::ZERO,
        time(8, 0, 0, 0),
        &tz("Pacific/Kiritimati"),
        LeapDayRule::Feb28,
        &window("2026-12-31T17:00:00Z", "2026-12-31T19:00:00Z"),
    )
    .unwrap();
    assert_eq!(narrow, found);
    // And the other way round in Pago Pago (-11): 31 December 20:00 local
    // is 1 January 07:00 UTC.
    let found = yearly_occurrences(
        date(1980, 12, 31),
        Offset::ZERO,
        time(20, 0, 0, 0),
        &tz("Pacific/Pago_Pago"),
        LeapDayRule::Feb28,
        &window("2027-01-01T06:00:00Z", "2027-01-01T08:00:00Z"),
    )
    .unwrap();
    assert_eq!(keys(&found), [OccurrenceKey::Year(2026)]);
    assert_eq!(found[0].instant, ts("2027-01-01T07:00:00Z"));
}

#[test]
fn leap_day_birthday_with_offset() {
    let paris = tz("Europe/Paris");
    let on = |year, rule| {
        yearly_occurrence(date(2000, 2, 29), year, days(-15), NINE, &paris, rule)
            .unwrap()
            .local_date
    };
    // The leap-day rule applies first, then the offset.
    assert_eq!(on(2027, LeapDayRule::Feb28), date(2027, 2, 13));
    assert_eq!(on(2027, LeapDayRule::Mar1), date(2027, 2, 14));
    assert_eq!(on(2028, LeapDayRule::Feb28), date(2028, 2, 14));
    assert_eq!(on(2028, LeapDayRule::Mar1), date(2028, 2, 14));

    let found = yearly_occurrences(
        date(2000, 2, 29),
        Offset::ZERO,
        NINE,
        &paris,
        LeapDayRule::Mar1,
        &window("2026-01-01T00:00:00Z", "2029-01-01T00:00:00Z"),
    )
    .unwrap();
    let dates: Vec<Date> = found.iter().map(|o| o.local_date).collect();
    assert_eq!(
        dates,
        [date(2026, 3, 1), date(2027, 3, 1), date(2028, 2, 29)]
    );
}

#[test]
fn anniversaries_count_from_one_and_skip_the_start() {
    let utc = TimeZone::UTC;
    let ten = time(10, 0, 0, 0);
    let found = anniversary_occurrences(
        date(2024, 2, 29),
        Offset::ZERO,
        ten,
        &utc,
        LeapDayRule::Feb28,
        &window("2024-01-01T00:00:00Z", "2033-01-01T00:00:00Z"),
    )
    .unwrap();
    let got: Vec<(OccurrenceKey, Date)> = found.iter().map(|o| (o.key, o.local_date)).collect();
    assert_eq!(
        got,
        [
            (OccurrenceKey::Anniversary(1), date(2025, 2, 28)),
            (OccurrenceKey::Anniversary(2), date(2026, 2, 28)),
            (OccurrenceKey::Anniversary(3), date(2027, 2, 28)),
            (OccurrenceKey::Anniversary(4), date(2028, 2, 29)),
            (OccurrenceKey::Anniversary(5), date(2029, 2, 28)),
            (OccurrenceKey::Anniversary(6), date(2030, 2, 28)),
            (OccurrenceKey::Anniversary(7), date(2031, 2, 28)),
            (OccurrenceKey::Anniversary(8), date(2032, 2, 29)),
        ]
    );
    assert_eq!(OccurrenceKey::Anniversary(3).to_string(), "#3");

    let mar1 = anniversary_occurrences(
        date(2024, 2, 29),
        Offset::ZERO,
        ten,
        &utc,
        LeapDayRule::Mar1,
        &window("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(mar1.len(), 1);
    assert_eq!(
        (mar1[0].key, mar1[0].local_date),
        (OccurrenceKey::Anniversary(1), date(2025, 3, 1))
    );

    // The first anniversary is exactly one year after joining.
    let first = anniversary_occurrence(
        date(2020, 6, 15),
        1,
        Offset::ZERO,
        ten,
        &utc,
        LeapDayRule::Feb28,
    )
    .unwrap();
    assert_eq!(first.instant, ts("2021-06-15T10:00:00Z"));
    assert_eq!(
        anniversary_occurrence(
            date(2020, 6, 15),
            0,
            Offset::ZERO,
            ten,
            &utc,
            LeapDayRule::Feb28
        ),
        Err(CalendarError::InvalidAnniversary { n: 0 })
    );
    // A negative offset can put the first anniversary's send before the
    // joining date, but never turns the start itself (n = 0, whose send
    // would be 11 May 2019) into one.
    let early = anniversary_occurrences(
        date(2020, 6, 15),
        days(-400),
        ten,
        &utc,
        LeapDayRule::Feb28,
        &window("2019-01-01T00:00:00Z", "2021-01-01T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(keys(&early), [OccurrenceKey::Anniversary(1)]);
    assert_eq!(early[0].local_date, date(2020, 5, 11));
}

#[test]
fn once_occurrence_in_a_gap() {
    let paris = tz("Europe/Paris");
    let o = once_due(date(2027, 3, 28), Offset::ZERO, time(2, 30, 0, 0), &paris).unwrap();
    assert_eq!(o.key, OccurrenceKey::Date(date(2027, 3, 28)));
    assert_eq!(o.key.to_string(), "2027-03-28");
    assert_eq!(o.instant, ts("2027-03-28T01:00:00Z"));
    assert!(o.shifted_by_gap);
    assert_eq!(o.local_time, time(2, 30, 0, 0));
    let w = window("2027-03-28T00:59:59Z", "2027-03-28T01:00:00Z");
    assert_eq!(
        once_occurrence(
            date(2027, 3, 28),
            Offset::ZERO,
            time(2, 30, 0, 0),
            &paris,
            &w
        )
        .unwrap(),
        Some(o)
    );
    let before = window("2027-03-28T01:00:00Z", "2027-03-28T02:00:00Z");
    assert_eq!(
        once_occurrence(
            date(2027, 3, 28),
            Offset::ZERO,
            time(2, 30, 0, 0),
            &paris,
            &before
        )
        .unwrap(),
        None
    );
    // A week before, at 09:00.
    let o = once_due(date(2027, 1, 3), Offset::new(-1, Unit::Weeks), NINE, &paris).unwrap();
    assert_eq!(o.local_date, date(2026, 12, 27));
    assert_eq!(o.key, OccurrenceKey::Date(date(2027, 1, 3)));
}

#[test]
fn after_an_event() {
    let paris = tz("Europe/Paris");
    let event = ts("2027-03-27T10:00:00Z"); // 11:00 +01
                                            // +1d keeps 11:00 on the wall clock across the DST change.
    let o = after_instant_due(event, days(1), None, &paris).unwrap();
    assert_eq!(o.instant, ts("2027-03-28T09:00:00Z"));
    assert_eq!(
        (o.local_date, o.local_time),
        (date(2027, 3, 28), time(11, 0, 0, 0))
    );
    assert_eq!(o.key, OccurrenceKey::Event(event));
    assert_eq!(o.key.to_string(), "2027-03-27T10:00:00Z");
    // With a send time.
    let o = after_instant_due(event, days(1), Some(time(8, 0, 0, 0)), &paris).unwrap();
    assert_eq!(o.instant, ts("2027-03-28T06:00:00Z"));
    // Sub-day: exact, send time ignored.
    let o = after_instant_due(event, Offset::new(2, Unit::Hours), Some(NINE), &paris).unwrap();
    assert_eq!(o.instant, ts("2027-03-27T12:00:00Z"));
    assert_eq!(
        (o.local_date, o.local_time),
        (date(2027, 3, 27), time(13, 0, 0, 0))
    );
    let o = after_instant_due(event, Offset::new(30, Unit::Minutes), None, &paris).unwrap();
    assert_eq!(o.instant, ts("2027-03-27T10:30:00Z"));
    // In and out of windows.
    let w = window("2027-03-28T08:59:00Z", "2027-03-28T09:00:00Z");
    assert!(after_instant(event, days(1), None, &paris, &w)
        .unwrap()
        .is_some());
    let w = window("2027-03-28T09:00:00Z", "2027-03-28T09:01:00Z");
    assert!(after_instant(event, days(1), None, &paris, &w)
        .unwrap()
        .is_none());
    // An event late in the local evening: the next local day, not next UTC day.
    let late = ts("2027-01-10T23:30:00Z"); // 00:30 on the 11th in Paris
    let o = after_instant_due(late, days(1), Some(NINE), &paris).unwrap();
    assert_eq!(o.local_date, date(2027, 1, 12));
}

#[test]
fn inactivity() {
    let paris = tz("Europe/Paris");
    let last_seen = ts("2027-01-01T12:00:00Z");
    let o = inactivity_due_at(last_seen, days(30), Some(NINE), &paris).unwrap();
    assert_eq!(o.instant, ts("2027-01-31T08:00:00Z"));
    assert_eq!(o.key, OccurrenceKey::Event(last_seen));
    let w = window("2027-01-31T00:00:00Z", "2027-02-01T00:00:00Z");
    assert_eq!(
        inactivity_due(last_seen, days(30), Some(NINE), &paris, &w).unwrap(),
        Some(o)
    );
    let w = window("2027-01-01T00:00:00Z", "2027-01-31T07:59:59Z");
    assert_eq!(
        inactivity_due(last_seen, days(30), Some(NINE), &paris, &w).unwrap(),
        None
    );
    for bad in [days(0), days(-3), Offset::new(-1, Unit::Hours)] {
        assert!(matches!(
            inactivity_due(last_seen, bad, None, &paris, &w),
            Err(CalendarError::InvalidOffset { .. })
        ));
    }
}

#[test]
fn ends_of_time_are_never_due_but_single_computations_say_why() {
    let utc = TimeZone::UTC;
    let all = Window::new(Timestamp::MIN, Timestamp::MAX).unwrap();
    assert!(matches!(
        once_due(date(9999, 12, 31), days(1), NINE, &utc),
        Err(CalendarError::OutOfRange { .. })
    ));
    assert_eq!(
        once_occurrence(date(9999, 12, 31), days(1), NINE, &utc, &all).unwrap(),
        None
    );
    assert!(yearly_occurrence(
        date(2000, 6, 1),
        9999,
        Offset::new(1, Unit::Years),
        NINE,
        &utc,
        LeapDayRule::Feb28
    )
    .is_err());
    // The whole representable range: one per year, no panic.
    let found = yearly_occurrences(
        date(2000, 6, 1),
        Offset::ZERO,
        NINE,
        &utc,
        LeapDayRule::Feb28,
        &all,
    )
    .unwrap();
    assert_eq!(found.len(), 9999 * 2 + 1);
    assert_eq!(found.first().unwrap().key, OccurrenceKey::Year(-9999));
    assert_eq!(found.last().unwrap().key, OccurrenceKey::Year(9999));
    let found = anniversary_occurrences(
        date(9990, 1, 1),
        Offset::ZERO,
        NINE,
        &utc,
        LeapDayRule::Feb28,
        &all,
    )
    .unwrap();
    assert_eq!(found.len(), 9);
    // Absurd offsets are errors, in any window.
    let w = window("2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z");
    assert!(yearly_occurrences(
        date(2000, 6, 1),
        days(i64::MAX),
        NINE,
        &utc,
        LeapDayRule::Feb28,
        &w
    )
    .is_err());
    assert!(after_instant(Timestamp::MAX, days(1), None, &utc, &w)
        .unwrap()
        .is_none());
    assert!(after_instant(
        Timestamp::MIN,
        Offset::new(i64::MIN, Unit::Minutes),
        None,
        &utc,
        &w
    )
    .is_err());
}

#[test]
fn invalid_window_is_an_error() {
    assert!(matches!(
        Window::new(ts("2027-01-02T00:00:00Z"), ts("2027-01-01T00:00:00Z")),
        Err(CalendarError::InvalidWindow { .. })
    ));
}

#[test]
fn gap_shift_past_midnight_keeps_the_lateness_bound_after_the_send() {
    // Apia skipped 30 December 2011: a send planned on that day goes out at
    // the start of the 31st and is late only at the end of the 31st.
    let apia = tz("Pacific/Apia");
    let o = once_due(date(2011, 12, 30), Offset::ZERO, NINE, &apia).unwrap();
    assert!(o.shifted_by_gap);
    let deadline = o.end_of_local_day(&apia).unwrap();
    assert!(deadline > o.instant);
    assert_eq!(
        deadline.duration_since(o.instant),
        SignedDuration::from_hours(24)
    );
}

#[test]
fn no_duplicate_keys_in_long_windows() {
    let w = window("1990-01-01T00:00:00Z", "2090-01-01T00:00:00Z");
    for zone in [
        "Pacific/Kiritimati",
        "Pacific/Pago_Pago",
        "America/Santiago",
        "Australia/Lord_Howe",
    ] {
        for offset in [
            days(-15),
            days(400),
            Offset::new(-3, Unit::Months),
            Offset::new(-30, Unit::Hours),
        ] {
            let found = yearly_occurrences(
                date(2000, 1, 1),
                offset,
                time(0, 15, 0, 0),
                &tz(zone),
                LeapDayRule::Feb28,
                &w,
            )
            .unwrap();
            let unique: BTreeSet<_> = found.iter().map(|o| o.key).collect();
            assert_eq!(unique.len(), found.len(), "{zone} {offset:?}");
            assert!(found.iter().all(|o| w.contains(o.instant)));
            assert!(
                (99..=101).contains(&found.len()),
                "{zone} {offset:?}: {}",
                found.len()
            );
        }
    }
}
