//! The 2026 rule changes (IANA 2026b/2026c) are in the bundled data:
//! British Columbia and Alberta stay on UTC-7 / UTC-6 from November 2026,
//! Morocco is on UTC+00 all year from 20 September 2026.

use flowc_core::calendar::{resolve_local, ZoneDb};
use jiff::civil::{date, time, Date};
use jiff::tz::TimeZone;
use jiff::Timestamp;

fn tz(name: &str) -> TimeZone {
    ZoneDb::bundled().get(name).unwrap()
}

fn at_8(d: Date, zone: &str) -> Timestamp {
    resolve_local(d, time(8, 0, 0, 0), &tz(zone)).unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn vancouver_stays_on_utc_minus_7() {
    // The guarantee's own example: 15:00 UTC, not 16:00.
    assert_eq!(
        at_8(date(2026, 12, 1), "America/Vancouver"),
        ts("2026-12-01T15:00:00Z")
    );
    assert_eq!(
        at_8(date(2026, 7, 1), "America/Vancouver"),
        ts("2026-07-01T15:00:00Z")
    );
    assert_eq!(
        at_8(date(2027, 1, 15), "America/Vancouver"),
        ts("2027-01-15T15:00:00Z")
    );
    assert_eq!(
        at_8(date(2027, 7, 1), "America/Vancouver"),
        ts("2027-07-01T15:00:00Z")
    );
    assert_eq!(
        at_8(date(2030, 12, 24), "America/Vancouver"),
        ts("2030-12-24T15:00:00Z")
    );
    // Before the change, winters were still UTC-8.
    assert_eq!(
        at_8(date(2026, 1, 15), "America/Vancouver"),
        ts("2026-01-15T16:00:00Z")
    );
}

#[test]
fn vancouver_has_no_fall_back_in_november_2026() {
    // 01:30 on 1 November 2026 used to exist twice; now it exists once.
    let zone = tz("America/Vancouver");
    let r =
        flowc_core::calendar::resolve_local_detailed(date(2026, 11, 1), time(1, 30, 0, 0), &zone)
            .unwrap();
    assert_eq!(r.instant, ts("2026-11-01T08:30:00Z"));
    assert_eq!(r.resolution, flowc_core::calendar::Resolution::Exact);
    // And no offset change at all for years after.
    let after = ts("2026-11-02T00:00:00Z");
    let changes: Vec<_> = zone
        .following(after)
        .take_while(|t| t.timestamp() < ts("2035-01-01T00:00:00Z"))
        .filter(|t| t.offset() != zone.to_offset(after))
        .collect();
    assert!(
        changes.is_empty(),
        "unexpected offset changes after November 2026"
    );
}

#[test]
fn edmonton_stays_on_utc_minus_6() {
    // What the bundled 2026f data says: Alberta keeps UTC-6 all year from
    // November 2026, like British Columbia keeps UTC-7.
    assert_eq!(
        at_8(date(2026, 12, 1), "America/Edmonton"),
        ts("2026-12-01T14:00:00Z")
    );
    assert_eq!(
        at_8(date(2027, 1, 15), "America/Edmonton"),
        ts("2027-01-15T14:00:00Z")
    );
    assert_eq!(
        at_8(date(2027, 7, 1), "America/Edmonton"),
        ts("2027-07-01T14:00:00Z")
    );
    assert_eq!(
        at_8(date(2026, 1, 15), "America/Edmonton"),
        ts("2026-01-15T15:00:00Z")
    );
}

#[test]
fn casablanca_is_on_utc_all_year_after_20_september_2026() {
    let zone = "Africa/Casablanca";
    // Before the change: +01 outside Ramadan, +00 during Ramadan 2026.
    assert_eq!(at_8(date(2026, 6, 15), zone), ts("2026-06-15T07:00:00Z"));
    assert_eq!(at_8(date(2026, 3, 1), zone), ts("2026-03-01T08:00:00Z"));
    // After: UTC+00, including what would have been Ramadan 2027 and summer.
    assert_eq!(at_8(date(2026, 9, 21), zone), ts("2026-09-21T08:00:00Z"));
    assert_eq!(at_8(date(2026, 11, 15), zone), ts("2026-11-15T08:00:00Z"));
    assert_eq!(at_8(date(2027, 2, 15), zone), ts("2027-02-15T08:00:00Z"));
    assert_eq!(at_8(date(2027, 3, 15), zone), ts("2027-03-15T08:00:00Z"));
    assert_eq!(at_8(date(2027, 7, 15), zone), ts("2027-07-15T08:00:00Z"));
    assert_eq!(at_8(date(2028, 1, 20), zone), ts("2028-01-20T08:00:00Z"));
}
