//! The catch-up property (guarantee 8) at the calendar level: for any rule,
//! zone and window, splitting the window into consecutive sub-windows (as a
//! scheduler running every minute, or one that missed a night, would) gives
//! exactly the sends of the whole window, none twice, none missed; and the
//! whole window gives exactly what a brute-force scan of every key gives.

use std::collections::BTreeSet;

use flowc_core::calendar::{
    after_instant, after_instant_due, anniversary_occurrence, anniversary_occurrences,
    inactivity_due, inactivity_due_at, once_due, once_occurrence, yearly_occurrence,
    yearly_occurrences, CalendarError, LeapDayRule, Occurrence, Offset, Unit, Window, ZoneDb,
};
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
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

/// How far (in years) a brute-force scan looks beyond the window: more than
/// the largest offset generated below (3 years).
const SCAN_MARGIN_YEARS: i16 = 6;

#[derive(Clone, Debug)]
enum Rule {
    Yearly(Date, LeapDayRule),
    Anniversary(Date, LeapDayRule),
    Once(Date),
    After(Timestamp, Option<Time>),
    Inactivity(Timestamp, Option<Time>),
}

fn date_strategy() -> impl Strategy<Value = Date> {
    prop_oneof![
        4 => (1950i16..2031, 1i8..=12, 1i8..=31).prop_map(|(y, m, d)| {
            let first = Date::new(y, m, 1).unwrap();
            Date::new(y, m, d.min(first.days_in_month())).unwrap()
        }),
        1 => prop::sample::select(vec![2000i16, 2020, 2024, 2028]).prop_map(|y| Date::new(y, 2, 29).unwrap()),
        1 => (2020i16..2032).prop_map(|y| Date::new(y, 12, 31).unwrap()),
        1 => (2020i16..2032).prop_map(|y| Date::new(y, 1, 1).unwrap()),
    ]
}

fn time_strategy() -> impl Strategy<Value = Time> {
    prop_oneof![
        (0i8..24, prop::sample::select(vec![0i8, 15, 30, 45]))
            .prop_map(|(h, m)| Time::new(h, m, 0, 0).unwrap()),
        (0i8..24, 0i8..60, 0i8..60).prop_map(|(h, m, s)| Time::new(h, m, s, 0).unwrap()),
        // Times that fall in gaps or folds in some of the zones.
        prop::sample::select(vec![
            (0, 0),
            (0, 30),
            (1, 30),
            (2, 0),
            (2, 15),
            (2, 30),
            (2, 45),
            (3, 0),
            (23, 30)
        ])
        .prop_map(|(h, m)| Time::new(h, m, 0, 0).unwrap()),
    ]
}

fn offset_strategy() -> impl Strategy<Value = Offset> {
    prop_oneof![
        (-3000i64..3000).prop_map(|n| Offset::new(n, Unit::Minutes)),
        (-100i64..100).prop_map(|n| Offset::new(n, Unit::Hours)),
        (-400i64..400).prop_map(|n| Offset::new(n, Unit::Days)),
        (-60i64..60).prop_map(|n| Offset::new(n, Unit::Weeks)),
        (-30i64..30).prop_map(|n| Offset::new(n, Unit::Months)),
        (-3i64..=3).prop_map(|n| Offset::new(n, Unit::Years)),
    ]
}

fn instant_strategy() -> impl Strategy<Value = Timestamp> {
    // 2020-01-01 .. 2032-01-01
    (1_577_836_800i64..1_956_528_000).prop_map(|s| Timestamp::from_second(s).unwrap())
}

/// Window starts: anywhere, or within two days of a new year (where a due
/// local date and the window's UTC dates fall in different years).
fn window_start_strategy() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        instant_strategy(),
        (2020i16..2032, -2 * 86_400i64..2 * 86_400).prop_map(|(y, s)| {
            let new_year = Date::new(y, 1, 1)
                .unwrap()
                .to_zoned(TimeZone::UTC)
                .unwrap()
                .timestamp();
            new_year + SignedDuration::from_secs(s)
        }),
    ]
}

fn leap_strategy() -> impl Strategy<Value = LeapDayRule> {
    prop_oneof![Just(LeapDayRule::Feb28), Just(LeapDayRule::Mar1)]
}

fn rule_strategy() -> impl Strategy<Value = Rule> {
    prop_oneof![
        3 => (date_strategy(), leap_strategy()).prop_map(|(d, l)| Rule::Yearly(d, l)),
        3 => (date_strategy(), leap_strategy()).prop_map(|(d, l)| Rule::Anniversary(d, l)),
        1 => date_strategy().prop_map(Rule::Once),
        1 => (instant_strategy(), prop::option::of(time_strategy())).prop_map(|(t, s)| Rule::After(t, s)),
        1 => (instant_strategy(), prop::option::of(time_strategy())).prop_map(|(t, s)| Rule::Inactivity(t, s)),
    ]
}

fn window_length_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(60i64),
        Just(3_600),
        Just(86_400),
        Just(366 * 86_400),
        1i64..(5 * 366 * 86_400),
    ]
}

/// The rule's sends in `window`, through the public windowed functions.
fn due_in(
    rule: &Rule,
    offset: Offset,
    send_time: Time,
    tz: &TimeZone,
    window: &Window,
) -> Vec<Occurrence> {
    match *rule {
        Rule::Yearly(base, leap) => {
            yearly_occurrences(base, offset, send_time, tz, leap, window).unwrap()
        }
        Rule::Anniversary(start, leap) => {
            anniversary_occurrences(start, offset, send_time, tz, leap, window).unwrap()
        }
        Rule::Once(d) => once_occurrence(d, offset, send_time, tz, window)
            .unwrap()
            .into_iter()
            .collect(),
        Rule::After(at, t) => after_instant(at, offset, t, tz, window)
            .unwrap()
            .into_iter()
            .collect(),
        Rule::Inactivity(at, t) => match inactivity_due(at, offset, t, tz, window) {
            Ok(o) => o.into_iter().collect(),
            Err(CalendarError::InvalidOffset { .. }) => Vec::new(),
            Err(e) => panic!("{e}"),
        },
    }
}

/// Brute force: compute every key near the window one by one and keep those
/// whose instant is inside.
fn reference(
    rule: &Rule,
    offset: Offset,
    send_time: Time,
    tz: &TimeZone,
    window: &Window,
) -> Vec<Occurrence> {
    let utc_year = |t: Timestamp| TimeZone::UTC.to_datetime(t).year();
    let first = utc_year(window.start()) - SCAN_MARGIN_YEARS;
    let last = utc_year(window.end()) + SCAN_MARGIN_YEARS;
    let mut all = Vec::new();
    match *rule {
        Rule::Yearly(base, leap) => {
            for year in first..=last {
                all.push(yearly_occurrence(base, year, offset, send_time, tz, leap).unwrap());
            }
        }
        Rule::Anniversary(start, leap) => {
            for n in 1..=i32::from(last - start.year()) {
                all.push(anniversary_occurrence(start, n, offset, send_time, tz, leap).unwrap());
            }
        }
        Rule::Once(d) => all.push(once_due(d, offset, send_time, tz).unwrap()),
        Rule::After(at, t) => all.push(after_instant_due(at, offset, t, tz).unwrap()),
        Rule::Inactivity(at, t) => all.extend(inactivity_due_at(at, offset, t, tz).ok()),
    }
    all.retain(|o| window.contains(o.instant));
    all.sort_by_key(|o| (o.instant, o.key));
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn sub_windows_give_exactly_the_whole_window(
        rule in rule_strategy(),
        offset in offset_strategy(),
        send_time in time_strategy(),
        zone in prop::sample::select(ZONES),
        start in window_start_strategy(),
        length in window_length_strategy(),
        cut_fractions in prop::collection::vec(0.0f64..1.0, 0..12),
        cut_at_due in any::<bool>(),
    ) {
        let tz = ZoneDb::bundled().get(zone).unwrap();
        let end = start + SignedDuration::from_secs(length);
        let whole_window = Window::new(start, end).unwrap();

        let whole = due_in(&rule, offset, send_time, &tz, &whole_window);
        let expected = reference(&rule, offset, send_time, &tz, &whole_window);
        prop_assert_eq!(&whole, &expected, "whole window vs brute force");

        let keys: BTreeSet<_> = whole.iter().map(|o| o.key).collect();
        prop_assert_eq!(keys.len(), whole.len(), "duplicate keys");

        // Cut points: random ones, plus (sometimes) exactly at each due
        // instant and a nanosecond either side, to stress the boundaries.
        let mut cuts: Vec<Timestamp> = cut_fractions
            .iter()
            .map(|f| start + SignedDuration::from_secs((length as f64 * f) as i64))
            .collect();
        if cut_at_due {
            for o in &whole {
                for delta in [-1i64, 0, 1] {
                    let t = o.instant + SignedDuration::from_nanos(delta);
                    if start <= t && t <= end {
                        cuts.push(t);
                    }
                }
            }
        }
        cuts.push(start);
        cuts.push(end);
        cuts.sort();
        cuts.dedup();

        let mut pieced = Vec::new();
        for pair in cuts.windows(2) {
            let sub = Window::new(pair[0], pair[1]).unwrap();
            let found = due_in(&rule, offset, send_time, &tz, &sub);
            for o in &found {
                prop_assert!(sub.contains(o.instant), "{:?} outside {:?}", o, sub);
            }
            pieced.extend(found);
        }
        prop_assert_eq!(pieced, whole, "sub-windows vs whole window");
    }
}
