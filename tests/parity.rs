//! Guarantee 10, the same engine: for every example, and for a project
//! that uses every trigger and action kind, a scheduler running `flowc run`
//! at several cadences over the same days, contacts (which change on the
//! way), events and field changes sends and skips exactly what `flowc
//! simulate` says — except what a run came too late for, which it records
//! MISSED (guarantee 8). Each case runs from an empty state, with its
//! events ingested once, so what becomes due in a later run comes from the
//! state alone.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use support::{temp_dir, text, ROOT};

/// flow, rule, contact, occurrence.
type Key = (String, String, String, String);

/// What happened to each key: `done` (sent, a task written, ...),
/// `skipped`, or `missed` (quiet hours that outlast its deadline).
type Outcomes = BTreeMap<Key, &'static str>;

struct Case {
    name: &'static str,
    /// A project folder (flow.toml, flows, templates).
    project: PathBuf,
    /// The contacts file at the start, then the files that replace it at
    /// later instants (each an instant a run happens at, in every cadence).
    contacts: Vec<(Timestamp, String)>,
    /// Events, JSON Lines.
    events: String,
    from: Timestamp,
    to: Timestamp,
    /// Hours between runs.
    cadences: &'static [i64],
}

fn ts(text: &str) -> Timestamp {
    text.parse().expect("an instant")
}

fn flowc(dir: &Path, args: &[&str]) -> std::process::Output {
    support::flowc(dir, args, &[])
}

/// `id` → the row's cells by column, for each contacts file.
fn rows(csv: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_string)
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.expect("a row");
            let cells: BTreeMap<String, String> = header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_string))
                .collect();
            (cells["id"].clone(), cells)
        })
        .collect()
}

/// The field changes a run sees when `before` is replaced by `after` just
/// before its run at `at`: dated a nanosecond before the run, as a run dates
/// them.
fn changes(before: &str, after: &str, at: Timestamp) -> String {
    let seen = at
        .checked_sub(SignedDuration::from_nanos(1))
        .expect("an instant");
    let (before, after) = (rows(before), rows(after));
    let mut lines = String::new();
    for (id, new_row) in &after {
        let Some(old_row) = before.get(id) else {
            continue;
        };
        for (field, new) in new_row {
            let old = old_row.get(field).cloned().unwrap_or_default();
            if *new != old {
                lines.push_str(
                    &serde_json::json!({
                        "contact": id, "field": field, "at": seen.to_string(),
                        "old": old, "new": new,
                    })
                    .to_string(),
                );
                lines.push('\n');
            }
        }
    }
    lines
}

/// What `flowc simulate` says, for the whole window.
fn simulated(case: &Case, dir: &Path) -> Outcomes {
    let last = &case.contacts.last().expect("contacts").1;
    std::fs::write(dir.join("final.csv"), last).expect("write");
    let mut all_changes = String::new();
    for pair in case.contacts.windows(2) {
        all_changes.push_str(&changes(&pair[0].1, &pair[1].1, pair[1].0));
    }
    std::fs::write(dir.join("changes.jsonl"), all_changes).expect("write");
    std::fs::write(dir.join("events.jsonl"), &case.events).expect("write");
    let out = flowc(
        dir,
        &[
            "simulate",
            case.project.to_str().expect("utf-8"),
            "--contacts",
            "final.csv",
            "--events",
            "events.jsonl",
            "--changes",
            "changes.jsonl",
            "--from",
            &case.from.to_string(),
            "--to",
            &case.to.to_string(),
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}: {}", case.name, text(&out.stderr));
    let timeline: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let mut said = Outcomes::new();
    for row in timeline["timeline"].as_array().expect("a timeline") {
        let field = |k: &str| row[k].as_str().expect(k).to_string();
        let status = field("status");
        let outcome = if status == "due" {
            "done"
        } else if status.starts_with("skipped") || status.starts_with("dropped") {
            // A dropped action (a cap) leaves the rule skipped when it was
            // its only one.
            "skipped"
        } else if status.starts_with("missed") {
            "missed"
        } else {
            panic!("{}: simulate says {status}: {row}", case.name)
        };
        let key = (
            field("flow"),
            field("rule"),
            field("contact"),
            field("occurrence"),
        );
        // A rule's actions are one line each; any done is the rule done.
        let entry = said.entry(key).or_insert(outcome);
        if outcome == "done" {
            *entry = "done";
        }
    }
    said
}

/// What runs every `hours` recorded, and the keys they recorded missed.
fn ran(case: &Case, dir: &Path, hours: i64) -> (Outcomes, BTreeSet<Key>) {
    let program = dir.join("p.flowb");
    let built = flowc(
        dir,
        &[
            "build",
            case.project.to_str().expect("utf-8"),
            "-o",
            program.to_str().expect("utf-8"),
        ],
    );
    assert!(built.status.success(), "{}", text(&built.stderr));
    std::fs::write(dir.join("events.jsonl"), &case.events).expect("write");
    let ingested = flowc(
        dir,
        &["ingest", "--program", "p.flowb", "--events", "events.jsonl"],
    );
    assert!(ingested.status.success(), "{}", text(&ingested.stderr));
    let step = SignedDuration::from_hours(hours);
    let mut now = case.from.checked_add(step).expect("an instant");
    let mut first = true;
    while now <= case.to {
        // The contacts file as it is at this run.
        let current = case
            .contacts
            .iter()
            .rev()
            .find(|(since, _)| *since <= now)
            .map(|(_, csv)| csv)
            .expect("contacts");
        std::fs::write(dir.join("contacts.csv"), current).expect("write");
        let lookback = format!("{hours}h");
        let mut args = vec![
            "run",
            "--program",
            "p.flowb",
            "--contacts",
            "contacts.csv",
            "--now",
        ];
        let now_text = now.to_string();
        args.push(&now_text);
        if first {
            args.extend(["--lookback", &lookback]);
        }
        let out = flowc(dir, &args);
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{} every {hours}h at {now}: {}",
            case.name,
            text(&out.stderr)
        );
        first = false;
        let next = now.checked_add(step).expect("an instant");
        // The last run ends exactly at `to`.
        now = if now < case.to && next > case.to {
            case.to
        } else {
            next
        };
        if now == case.to && next > case.to && first {
            break;
        }
    }
    let connection = rusqlite::Connection::open(dir.join("flow.db")).expect("the state");
    let mut statement = connection
        .prepare("SELECT flow, rule, contact, occurrence, status FROM sends")
        .expect("a query");
    let mut recorded = Outcomes::new();
    let mut missed = BTreeSet::new();
    let rows = statement
        .query_map([], |row| {
            Ok((
                (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?),
                row.get::<_, String>(4)?,
            ))
        })
        .expect("sends");
    for row in rows {
        let (key, status): (Key, String) = row.expect("a send");
        match status.as_str() {
            "delivered" => {
                recorded.insert(key, "done");
            }
            "skipped" => {
                recorded.insert(key, "skipped");
            }
            "missed" => {
                missed.insert(key);
            }
            other => panic!("{} every {hours}h: {key:?} left {other}", case.name),
        }
    }
    (recorded, missed)
}

/// Checks the case; returns what simulate said, for the case to check that
/// its triggers were exercised.
fn check(case: Case) -> Outcomes {
    let said = simulated(&case, &temp_dir(&format!("parity-{}-sim", case.name)));
    assert!(
        said.values().any(|o| *o == "done"),
        "{}: the case sends something",
        case.name
    );
    for &hours in case.cadences {
        let dir = temp_dir(&format!("parity-{}-{hours}h", case.name));
        let (recorded, missed) = ran(&case, &dir, hours);
        // Missed: due, but no run came before its deadline (or quiet hours
        // outlast it, which simulate says too).
        for key in &missed {
            assert!(
                matches!(said.get(key), Some(&"done" | &"missed")),
                "{} every {hours}h: missed {key:?}, which simulate does not send",
                case.name
            );
        }
        // A send a run came too late for is not in the contact's history:
        // what depends on it (a cap's count, `unused`) may differ, rightly.
        // Such contacts are left out; the first, finest cadence of a case
        // must miss nothing simulate sends, so it compares every contact.
        let late: BTreeSet<&String> = missed
            .iter()
            .filter(|key| said.get(*key) == Some(&"done"))
            .map(|key| &key.2)
            .collect();
        assert!(
            late.is_empty() || hours != case.cadences[0],
            "{} every {hours}h: runs came too late for {missed:#?}",
            case.name
        );
        let compared = |outcomes: &Outcomes| -> Outcomes {
            outcomes
                .iter()
                .filter(|(key, _)| !missed.contains(*key) && !late.contains(&key.2))
                .map(|(k, v)| (k.clone(), *v))
                .collect()
        };
        let (recorded, expected) = (compared(&recorded), compared(&said));
        assert!(
            !expected.is_empty(),
            "{} every {hours}h: nothing compared",
            case.name
        );
        if recorded != expected {
            let only_run: Vec<_> = recorded
                .iter()
                .filter(|(k, v)| expected.get(*k) != Some(v))
                .collect();
            let only_sim: Vec<_> = expected
                .iter()
                .filter(|(k, v)| recorded.get(*k) != Some(v))
                .collect();
            panic!(
                "{} every {hours}h: runs and simulate differ\nonly in the runs: {only_run:#?}\nonly in simulate: {only_sim:#?}\nmissed by the runs: {missed:#?}",
                case.name
            );
        }
    }
    said
}

fn example(name: &str) -> PathBuf {
    Path::new(ROOT).join("examples").join(name)
}

fn example_contacts(name: &str) -> String {
    std::fs::read_to_string(example(name).join("contacts.csv")).expect("contacts")
}

#[test]
fn birthday_examples_run_as_simulated_across_new_year() {
    for name in ["birthday", "one-line"] {
        let _ = check(Case {
            name,
            project: example(name),
            contacts: vec![(ts("2026-12-10T00:00:00Z"), example_contacts(name))],
            events: "{\"id\": \"r1\", \"contact\": \"c003\", \"type\": \"redeemed\", \"at\": \"2026-12-20T10:00:00Z\", \"flow\": \"birthday\", \"rule\": \"offer\"}\n".into(),
            from: ts("2026-12-10T00:00:00Z"),
            to: ts("2027-01-20T00:00:00Z"),
            // Every run reaches each contact's local day: nothing is missed,
            // so no reminder is skipped for an offer a run came too late for.
            cadences: &[3, 5],
        });
    }
}

#[test]
fn the_anniversary_example_runs_as_simulated() {
    let _ = check(Case {
        name: "anniversary",
        project: example("anniversary"),
        contacts: vec![(ts("2026-12-20T00:00:00Z"), example_contacts("anniversary"))],
        events: String::new(),
        from: ts("2026-12-20T00:00:00Z"),
        to: ts("2027-01-10T00:00:00Z"),
        cadences: &[3, 24],
    });
}

#[test]
fn the_b2b_example_runs_as_simulated_with_events_and_changing_contacts() {
    let before = example_contacts("b2b");
    // On 5 March at 12:00 UTC the file says b01 became gold and its
    // parcel shipped.
    let after = before
        .lines()
        .map(|line| {
            let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
            if cells[0] == "b01" {
                cells[13] = "shipped".into();
                cells[14] = "gold".into();
            }
            cells.join(",") + "\n"
        })
        .collect::<String>();
    assert_ne!(before, after);
    let mut events = String::new();
    for (i, contact) in ["b01", "b02", "b03", "b04"].iter().enumerate() {
        events.push_str(&format!(
            "{{\"id\": \"p{i}\", \"contact\": \"{contact}\", \"type\": \"purchase\", \"at\": \"2027-02-{:02}T09:30:00Z\", \"product\": \"pack-1m\", \"amount\": 49}}\n",
            10 + i
        ));
        events.push_str(&format!(
            "{{\"id\": \"c{i}\", \"contact\": \"{contact}\", \"type\": \"cart_abandoned\", \"at\": \"2027-03-0{}T10:15:00Z\", \"cart_url\": \"https://shop.example/c/{i}\", \"amount\": 12}}\n",
            2 + i
        ));
    }
    events.push_str("{\"id\": \"o1\", \"contact\": \"b01\", \"type\": \"opened\", \"at\": \"2027-03-01T11:00:00Z\", \"flow\": \"presentation\", \"rule\": \"presentation\"}\n");
    events.push_str("{\"id\": \"k1\", \"contact\": \"b01\", \"type\": \"clicked\", \"at\": \"2027-03-01T11:05:00Z\", \"flow\": \"presentation\", \"rule\": \"presentation\", \"link\": \"product_b\"}\n");
    events.push_str("{\"id\": \"b9\", \"contact\": \"b03\", \"type\": \"purchase\", \"at\": \"2027-03-02T10:00:00Z\", \"product\": \"pack-1m\", \"amount\": 49}\n");
    let said = check(Case {
        name: "b2b",
        project: example("b2b"),
        contacts: vec![
            (ts("2027-02-20T00:00:00Z"), before),
            (ts("2027-03-05T12:00:00Z"), after),
        ],
        events,
        from: ts("2027-02-20T00:00:00Z"),
        to: ts("2027-03-20T00:00:00Z"),
        cadences: &[4, 6],
    });
    // Field changes, a click, packs and carts were all exercised.
    for (flow, rule) in [
        ("feeds", "gold"),
        ("feeds", "shipped"),
        ("feeds", "cart"),
        ("pack", "checkin"),
        ("presentation", "about_b"),
    ] {
        assert!(
            said.iter()
                .any(|(k, o)| k.0 == flow && k.1 == rule && *o == "done"),
            "{flow}/{rule} in {said:#?}"
        );
    }
}

#[test]
fn the_pressure_example_runs_as_simulated() {
    let mut events = String::new();
    for (i, contact) in ["p01", "p02", "p03", "p04", "p05", "p06"]
        .iter()
        .enumerate()
    {
        events.push_str(&format!(
            "{{\"id\": \"s{i}\", \"contact\": \"{contact}\", \"type\": \"signed_up\", \"at\": \"2027-01-0{}T1{i}:17:00Z\", \"source\": \"web\"}}\n",
            2 + i
        ));
        events.push_str(&format!(
            "{{\"id\": \"c{i}\", \"contact\": \"{contact}\", \"type\": \"cart_abandoned\", \"at\": \"2027-01-1{}T0{}:40:00Z\", \"cart_url\": \"https://shop.example/cart/{i}\", \"amount\": 42}}\n",
            2 + i,
            3 + i
        ));
        events.push_str(&format!(
            "{{\"id\": \"h{i}\", \"contact\": \"{contact}\", \"type\": \"shipped\", \"at\": \"2027-01-1{}T14:05:00Z\", \"carrier\": \"La Poste\", \"tracking_url\": \"https://track.example/{i}\"}}\n",
            3 + i
        ));
    }
    let _ = check(Case {
        name: "pressure",
        project: example("pressure"),
        contacts: vec![(ts("2027-01-01T00:00:00Z"), example_contacts("pressure"))],
        events,
        from: ts("2027-01-01T00:00:00Z"),
        to: ts("2027-01-25T00:00:00Z"),
        cadences: &[2, 7],
    });
}

#[test]
fn every_trigger_and_action_kind_runs_as_simulated() {
    let header = "id,email,phone,first_name,time_zone,birthday,joined,tier,status,tags,email_optin,sms_optin\n";
    let rows = [
        "k1,ana@example.com,+33611111111,Ana,Europe/Paris,1990-03-05,2026-03-03,silver,ordered,[\"prospect\"],true,true",
        "k2,bram@example.com,+16045550101,Bram,America/Vancouver,1988-03-12,2027-03-02,silver,ordered,[],true,false",
        "k3,chloe@example.com,+68612345678,Chloé,Pacific/Kiritimati,1979-03-20,2022-03-15,gold,ordered,[],true,true",
        "k4,dev@example.com,+61255550100,Dev,Australia/Lord_Howe,2000-03-09,2025-03-21,silver,ordered,[],false,true",
        "k5,eli@example.com,+299123456,Eli,America/Nuuk,1992-03-28,2024-03-28,silver,ordered,[],true,true",
        "k6,fatou@example.com,+221771234567,Fatou,,1985-03-16,2023-03-10,silver,ordered,[],true,false",
    ];
    let before = format!("{header}{}\n", rows.join("\n"));
    // On 12 March at 00:00 UTC Ana is gold and two orders shipped.
    let after = before
        .replace(
            "Europe/Paris,1990-03-05,2026-03-03,silver,ordered",
            "Europe/Paris,1990-03-05,2026-03-03,gold,shipped",
        )
        .replace(
            "Australia/Lord_Howe,2000-03-09,2025-03-21,silver,ordered",
            "Australia/Lord_Howe,2000-03-09,2025-03-21,silver,shipped",
        );
    let event = |id: &str, contact: &str, kind: &str, at: &str, extra: &str| {
        format!("{{\"id\": \"{id}\", \"contact\": \"{contact}\", \"type\": \"{kind}\", \"at\": \"{at}\"{extra}}}\n")
    };
    let mut events = String::new();
    events += &event(
        "p1",
        "k1",
        "purchase",
        "2027-03-01T10:00:00Z",
        ", \"product\": \"tea\", \"amount\": 150",
    );
    events += &event(
        "p2",
        "k2",
        "purchase",
        "2027-03-03T18:00:00Z",
        ", \"product\": \"mug\", \"amount\": 25",
    );
    events += &event(
        "p3",
        "k3",
        "purchase",
        "2027-03-04T01:00:00Z",
        ", \"product\": \"stop\", \"amount\": 5",
    );
    events += &event(
        "p4",
        "k5",
        "purchase",
        "2027-03-06T14:00:00Z",
        ", \"product\": \"tea\", \"amount\": 40",
    );
    events += &event(
        "p5",
        "k6",
        "purchase",
        "2027-03-08T11:00:00Z",
        ", \"product\": \"pot\", \"amount\": 300",
    );
    events += &event(
        "o1",
        "k1",
        "opened",
        "2027-03-02T08:00:00Z",
        ", \"flow\": \"events\", \"rule\": \"thanks\"",
    );
    events += &event(
        "v1",
        "k1",
        "visit",
        "2027-03-02T09:00:00Z",
        ", \"page\": \"tea\"",
    );
    events += &event(
        "v2",
        "k3",
        "visit",
        "2027-03-05T00:30:00Z",
        ", \"page\": \"stop\"",
    );
    events += &event(
        "v3",
        "k4",
        "visit",
        "2027-03-07T02:00:00Z",
        ", \"page\": \"home\"",
    );
    events += &event(
        "v4",
        "k5",
        "visit",
        "2027-03-09T15:00:00Z",
        ", \"page\": \"tea\"",
    );
    events += &event(
        "r1",
        "k2",
        "redeemed",
        "2027-03-10T17:00:00Z",
        ", \"flow\": \"dates\", \"rule\": \"offer\"",
    );
    let said = check(Case {
        name: "every-kind",
        project: Path::new(ROOT).join("tests/projects/every-kind"),
        contacts: vec![
            (ts("2027-02-25T00:00:00Z"), before),
            (ts("2027-03-12T00:00:00Z"), after),
        ],
        events,
        from: ts("2027-02-25T00:00:00Z"),
        to: ts("2027-03-31T00:00:00Z"),
        cadences: &[2, 8],
    });
    let rules: BTreeSet<&str> = said
        .iter()
        .filter(|(_, o)| **o == "done")
        .map(|(k, _)| k.1.as_str())
        .collect();
    for rule in [
        "offer",
        "reminder",
        "getting_started",
        "yearly_thanks",
        "news",
        "thanks",
        "call",
        "gift",
        "nudge",
        "miss_you",
        "back_again",
        "gold",
        "status_update",
        "exit",
        "visit_hello",
        "receipt",
    ] {
        assert!(rules.contains(rule), "{rule} is done somewhere: {said:#?}");
    }
}
