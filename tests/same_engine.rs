//! Guarantee 10 over event triggers, follow-ups and pressure: a scheduler
//! running `flowc run` every few hours sends exactly what `flowc simulate`
//! says for the same window. The events are ingested once into the state
//! and the runs get none of their own, so what makes a contact due in a
//! later run (an event hours ago, a welcome a week ago) comes from the
//! state alone: the runs read only the state of contacts whose row or
//! recent activity can make something due, and this test fails if that
//! selection misses one.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use flowc_runtime::state::{SqliteState, StateStore};
use support::{temp_dir, text, ROOT};

fn flowc(dir: &Path, args: &[&str]) -> Output {
    support::flowc(dir, args, &[])
}

type Send = (String, String, String, String);

fn project(name: &str) -> (PathBuf, PathBuf) {
    let dir = temp_dir(&format!("same-{name}"));
    let example = Path::new(ROOT).join("examples/pressure");
    let built = flowc(&dir, &["build", example.to_str().unwrap(), "-o", "p.flowb"]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    std::fs::copy(example.join("contacts.csv"), dir.join("contacts.csv")).unwrap();
    // Sign-ups through January (welcome, then tips a week later unless
    // opened), carts abandoned (an hour later, and the next day at 10:00
    // unless bought), a purchase that stops one, shipments, an open.
    let mut events = String::new();
    let mut add = |id: &str, contact: &str, kind: &str, at: &str, extra: &str| {
        events.push_str(&format!(
            "{{\"id\": \"{id}\", \"contact\": \"{contact}\", \"type\": \"{kind}\", \"at\": \"{at}\"{extra}}}\n"
        ));
    };
    for (i, contact) in ["p01", "p02", "p03", "p04", "p05", "p06"]
        .iter()
        .enumerate()
    {
        let at = |day: usize, hour: usize, minute: usize| {
            format!("2027-01-{day:02}T{hour:02}:{minute:02}:00Z")
        };
        add(
            &format!("s{i}"),
            contact,
            "signed_up",
            &at(i + 2, 10 + i, 17),
            ", \"source\": \"web\"",
        );
        add(
            &format!("c{i}"),
            contact,
            "cart_abandoned",
            &at(20 + i, 3 + i, 40),
            &format!(", \"cart_url\": \"https://shop.example/cart/{i}\", \"amount\": 42"),
        );
        add(
            &format!("h{i}"),
            contact,
            "shipped",
            &at(21 + i, 14, 5),
            &format!(
                ", \"carrier\": \"La Poste\", \"tracking_url\": \"https://track.example/{i}\""
            ),
        );
    }
    add(
        "b1",
        "p02",
        "purchase",
        "2027-01-21T05:10:00Z",
        ", \"amount\": 30",
    );
    add(
        "o1",
        "p03",
        "opened",
        "2027-01-05T09:00:00Z",
        ", \"flow\": \"welcome\", \"rule\": \"welcome\"",
    );
    std::fs::write(dir.join("events.jsonl"), events).unwrap();
    (dir, example)
}

#[test]
fn runs_every_few_hours_send_what_simulate_says_for_events_and_follow_ups() {
    let (dir, example) = project("events");
    let ingest = flowc(
        &dir,
        &["ingest", "--program", "p.flowb", "--events", "events.jsonl"],
    );
    assert!(ingest.status.success(), "{}", text(&ingest.stderr));
    // Sign-ups in the first week, tips in the second, carts and parcels
    // in the fourth: each run's state reads must find the follow-ups by the
    // sends alone and the carts by the events alone.
    let (from, to) = ("2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z");
    // The first run covers from `from`; then one every five hours.
    let mut now: jiff::Timestamp = "2027-01-01T05:00:00Z".parse().unwrap();
    let mut state_reads = 0;
    let mut missed: BTreeSet<Send> = BTreeSet::new();
    let mut contact_visits = 0;
    while now <= to.parse().unwrap() {
        let out = flowc(
            &dir,
            &[
                "run",
                "--program",
                "p.flowb",
                "--contacts",
                "contacts.csv",
                "--now",
                &now.to_string(),
                "--lookback-hours",
                "5",
                "--json",
            ],
        );
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{}",
            text(&out.stderr)
        );
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        state_reads += summary["state_read"].as_u64().unwrap();
        // `flow/rule for contact (occurrence): reason`
        for line in summary["missed"].as_array().unwrap() {
            let line = line.as_str().unwrap();
            assert!(line.contains(": past its deadline"), "{line}");
            let (key, _) = line.split_once(": ").unwrap();
            let (flow_rule, rest) = key.split_once(" for ").unwrap();
            let (flow, rule) = flow_rule.split_once('/').unwrap();
            let (contact, occurrence) = rest.split_once(" (").unwrap();
            let occurrence = occurrence.trim_end_matches(')');
            missed.insert((flow.into(), rule.into(), contact.into(), occurrence.into()));
        }
        contact_visits += summary["contacts"].as_u64().unwrap();
        now = now
            .checked_add(jiff::SignedDuration::from_hours(5))
            .unwrap();
    }
    let state = SqliteState::open(&dir.join("flow.db")).unwrap();
    let mut sent: BTreeSet<Send> = BTreeSet::new();
    for contact in ["p01", "p02", "p03", "p04", "p05", "p06"] {
        for m in state.history(contact).unwrap() {
            sent.insert((m.flow, m.rule, contact.to_string(), m.occurrence));
        }
    }
    assert!(state.pending().unwrap().is_empty(), "everything went out");

    let sim = flowc(
        &dir,
        &[
            "simulate",
            example.to_str().unwrap(),
            "--contacts",
            "contacts.csv",
            "--events",
            "events.jsonl",
            "--from",
            from,
            "--to",
            to,
            "--format",
            "json",
        ],
    );
    assert!(sim.status.success(), "{}", text(&sim.stderr));
    let timeline: serde_json::Value = serde_json::from_slice(&sim.stdout).unwrap();
    let said: BTreeSet<Send> = timeline["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "due")
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap().to_string();
            (
                field("flow"),
                field("rule"),
                field("contact"),
                field("occurrence"),
            )
        })
        .collect();
    // Every kind of trigger is in there: event + 1h, event + 1d at 10:00,
    // 7d after a message, plain events.
    for rule in ["abandoned_cart", "last_call", "welcome_tips", "shipped"] {
        assert!(
            said.iter().any(|s| s.1 == rule || s.0 == rule),
            "{rule} in {said:#?}"
        );
    }
    // A run every five hours cannot reach a send due late on its local
    // day before the day ends: those are recorded missed (guarantee 8),
    // the rest is exactly what simulate says.
    assert!(missed.len() <= 2, "{missed:#?}");
    assert!(sent.is_disjoint(&missed));
    let sent_or_missed: BTreeSet<Send> = sent.union(&missed).cloned().collect();
    assert_eq!(
        sent_or_missed, said,
        "what simulate says is sent is what the runs sent (or missed)"
    );
    // And the runs did not read every contact's state every time.
    assert!(
        state_reads < contact_visits,
        "{state_reads} of {contact_visits}"
    );
}

fn run_pressure(dir: &Path, now: &str) -> serde_json::Value {
    let out = flowc(
        dir,
        &[
            "run",
            "--program",
            "p.flowb",
            "--contacts",
            "contacts.csv",
            "--now",
            now,
            "--lookback-hours",
            "1",
            "--json",
        ],
    );
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ingest(dir: &Path, lines: &str) {
    std::fs::write(dir.join("late.jsonl"), lines).unwrap();
    let out = flowc(
        dir,
        &["ingest", "--program", "p.flowb", "--events", "late.jsonl"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn an_event_that_arrives_after_the_run_that_covered_it_still_triggers_its_rule() {
    let (dir, _) = project("late");
    // Runs at 10:00 and 11:00 UTC; Ana (Paris) signs up at 09:30, but the
    // event reaches the state only after the 10:00 run: its welcome is
    // still due (her local day is not over) and goes out at 11:00.
    let first = run_pressure(&dir, "2027-01-04T10:00:00Z");
    assert_eq!(first["delivered"], 0);
    ingest(
        &dir,
        "{\"id\": \"late1\", \"contact\": \"p01\", \"type\": \"signed_up\", \"at\": \"2027-01-04T09:30:00Z\"}\n\
         {\"id\": \"old1\", \"contact\": \"p02\", \"type\": \"signed_up\", \"at\": \"2027-01-01T09:30:00Z\"}\n",
    );
    let second = run_pressure(&dir, "2027-01-04T11:00:00Z");
    assert_eq!(second["delivered"], 1, "{second:#}");
    // An event learned days after its day is over is not sent, and not a
    // miss either: it could never have gone out on time.
    assert_eq!(second["missed"].as_array().unwrap().len(), 0, "{second:#}");
    let state = SqliteState::open(&dir.join("flow.db")).unwrap();
    let p01 = state.history("p01").unwrap();
    assert_eq!(p01.len(), 1);
    assert_eq!(
        (p01[0].flow.as_str(), p01[0].occurrence.as_str()),
        ("welcome", "signed_up/late1")
    );
    assert!(state.history("p02").unwrap().is_empty());
    drop(state);
    // Later runs do not send it again.
    let third = run_pressure(&dir, "2027-01-04T12:00:00Z");
    assert_eq!(third["delivered"], 0, "{third:#}");
}
