//! `flowc simulate` as a user runs it: the timeline of an example, bad rows
//! reported by line while the others go on, and what-if events.

use std::path::PathBuf;
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_flowc");

fn flowc(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .env("NO_COLOR", "1")
        .env_remove("FLOWC_TZDIR")
        .output()
        .expect("flowc runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowc-simulate-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_birthday_example_over_a_season() {
    let output = flowc(&[
        "simulate",
        "examples/birthday",
        "--contacts",
        "examples/birthday/contacts.csv",
        "--from",
        "2026-12-01",
        "--to",
        "2027-03-31",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    insta::with_settings!({snapshot_path => "simulate/snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("birthday-season", text(&output.stdout));
    });
}

#[test]
fn json_and_csv_carry_the_same_timeline() {
    let args = |format: &'static str| {
        vec![
            "simulate",
            "examples/birthday",
            "--contacts",
            "examples/birthday/contacts.csv",
            "--from",
            "2027-01-01",
            "--to",
            "2027-12-31",
            "--format",
            format,
        ]
    };
    let json = flowc(&args("json"));
    assert!(json.status.success(), "{}", text(&json.stderr));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    let timeline = value["timeline"].as_array().expect("a timeline");
    assert!(!timeline.is_empty());
    assert!(value["zone_rules"].as_str().unwrap_or("").contains("2026f"));
    let csv = flowc(&args("csv"));
    assert!(csv.status.success());
    let lines = text(&csv.stdout).lines().count();
    assert_eq!(
        lines,
        timeline.len() + 1,
        "a header and one line per action"
    );
}

#[test]
fn bad_rows_are_reported_by_line_and_the_rest_is_simulated() {
    let dir = temp_dir("bad-rows");
    let contacts = dir.join("contacts.csv");
    std::fs::write(
        &contacts,
        "id,email,first_name,time_zone,birthday,email_optin\n\
         a1,ana@example.com,Ana,Europe/Paris,1990-01-20,true\n\
         a2,bram@example.com,Bram,Europe/Paris,1990-02-30,true\n\
         ,nobody@example.com,No,Europe/Paris,1990-01-20,true\n\
         a4,chloe@example.com,Chloé,Mars/Olympus,1990-01-20,true\n\
         a5,dev@example.com,Dev,,1990-01-21,yes\n",
    )
    .expect("write");
    let output = flowc(&[
        "simulate",
        "examples/birthday",
        "--contacts",
        contacts.to_str().expect("utf-8"),
        "--from",
        "2027-01-01",
        "--to",
        "2027-01-31",
        "--format",
        "csv",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "contacts.csv:3: contact `a2`, column `birthday`: `1990-02-30` is not a date"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("contacts.csv:4: the `id` is empty"),
        "{stderr}"
    );
    assert!(
        stderr.contains("contact `a4`: unknown time zone `Mars/Olympus`"),
        "{stderr}"
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(",a1,") && stdout.contains(",a5,"),
        "{stdout}"
    );
    // a5 has no zone: the project's default, Europe/Paris, at 08:00.
    assert!(
        stdout.contains("2027-01-21,08:00,Europe/Paris,2027-01-21T07:00:00Z,a5,"),
        "{stdout}"
    );
    assert!(!stdout.contains(",a2,") && !stdout.contains(",a4,"));
}

#[test]
fn what_if_the_coupon_is_redeemed() {
    let dir = temp_dir("what-if");
    let events = dir.join("events.jsonl");
    std::fs::write(
        &events,
        r#"{"contact": "c001", "type": "redeemed", "at": "2027-06-05T12:00:00Z", "flow": "birthday", "rule": "offer"}
{"contact": "c001", "type": "purchase", "at": "not a time"}
"#,
    )
    .expect("write");
    let run = |with_events: bool| {
        let mut args = vec![
            "simulate",
            "examples/birthday/birthday.flow",
            "--contacts",
            "examples/birthday/contacts.csv",
            "--from",
            "2027-05-25",
            "--to",
            "2027-06-20",
            "--format",
            "csv",
        ];
        if with_events {
            args.extend(["--events", events.to_str().expect("utf-8")]);
        }
        flowc(&args)
    };
    let without = text(&run(false).stdout);
    let with = run(true);
    let with_text = text(&with.stdout);
    let line = |out: &str, rule: &str| {
        out.lines()
            .find(|l| l.contains(",c001,") && l.contains(&format!(",{rule},")))
            .map(str::to_string)
    };
    assert!(
        line(&without, "reminder")
            .expect("a reminder")
            .ends_with(",due,2027-06-15T22:00:00Z,"),
        "{without}"
    );
    assert!(
        line(&with_text, "reminder")
            .expect("a reminder")
            .contains("skipped: condition false"),
        "{with_text}"
    );
    assert!(
        line(&with_text, "thank_you")
            .expect("a thank-you")
            .contains(",due,"),
        "{with_text}"
    );
    assert!(
        text(&with.stderr).contains("events.jsonl:2: `at` is not an instant"),
        "{}",
        text(&with.stderr)
    );
}

#[test]
fn a_window_that_ends_before_it_starts_is_a_usage_error() {
    let output = flowc(&[
        "simulate",
        "examples/birthday",
        "--contacts",
        "examples/birthday/contacts.csv",
        "--from",
        "2027-02-01",
        "--to",
        "2027-01-01",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("must come after"));
}

#[test]
fn every_example_simulates_over_a_year_with_its_contacts() {
    for example in ["anniversary", "b2b", "birthday", "pressure"] {
        let project = format!("examples/{example}");
        let contacts = format!("examples/{example}/contacts.csv");
        let output = flowc(&[
            "simulate",
            &project,
            "--contacts",
            &contacts,
            "--from",
            "2027-01-01",
            "--to",
            "2027-12-31",
            "--format",
            "json",
        ]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{example}: {}",
            text(&output.stderr)
        );
        let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
        assert!(value["contacts"].as_u64().unwrap_or(0) > 0, "{example}");
        assert!(
            !text(&output.stderr).contains("rows rejected")
                || text(&output.stderr).contains(" 0 rows rejected"),
            "{example}: {}",
            text(&output.stderr)
        );
    }
}

#[test]
fn a_date_whose_occurrence_is_past_the_last_year_is_never_due_and_the_rest_goes_on() {
    let dir = temp_dir("unschedulable");
    std::fs::write(
        dir.join("flow.toml"),
        "[project]\ndefault_zone = \"Europe/Paris\"\n[contact]\nid = \"text\"\nemail = \"email\"\nexpires = \"date\"\n",
    )
    .expect("flow.toml");
    std::fs::write(dir.join("renew.flow"), "when expires + 15d send renew\n").expect("flow");
    // 9999-12-31 (a CRM's "never expires") + 15 days is past the last
    // year the calendar knows: never due in any window, which is no error
    // (an error of the calendar would hold the flow and say why).
    std::fs::write(
        dir.join("contacts.csv"),
        "id,email,expires\na,a@example.com,2027-03-01\nz,z@example.com,9999-12-31\n",
    )
    .expect("contacts");
    let dir_text = dir.to_str().expect("a path");
    let contacts = dir.join("contacts.csv");
    let output = flowc(&[
        "simulate",
        dir_text,
        "--contacts",
        contacts.to_str().expect("a path"),
        "--from",
        "2027-03-01",
        "--to",
        "2027-03-31",
    ]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("2027-03-16"), "{stdout}");
    assert!(!stdout.contains(" z "), "{stdout}");
    assert!(stderr.contains("0 contacts held"), "{stderr}");
}
