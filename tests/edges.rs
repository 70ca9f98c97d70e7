//! `flowc run` at the edges (guarantees 6, 7, 11, 15 and 19): events
//! without ids read twice, unsubscribes that arrive after a send was due,
//! states that are not what they seem, damaged contact rows. Real SQLite
//! files and the real binary; the folder outbox counts what was handed over.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::{flowc, temp_dir, text, ROOT};

/// The birthday example built into `dir/b.flowb`, with `contacts` as its
/// contacts file.
fn project(name: &str, contacts: &str) -> PathBuf {
    let dir = temp_dir(&format!("edges-{name}"));
    let example = Path::new(ROOT).join("examples/birthday");
    let built = flowc(
        &dir,
        &["build", example.to_str().expect("utf-8"), "-o", "b.flowb"],
        &[],
    );
    assert!(built.status.success(), "{}", text(&built.stderr));
    std::fs::write(dir.join("contacts.csv"), contacts).expect("write contacts");
    dir
}

const HEADER: &str = "id,email,first_name,time_zone,birthday,email_optin\n";

fn run_at(dir: &Path, now: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--program",
        "b.flowb",
        "--contacts",
        "contacts.csv",
        "--now",
        now,
    ];
    args.extend(extra);
    flowc(dir, &args, &[])
}

/// `flowc ingest` of `lines`, written to `file`, for the birthday build.
fn ingest(dir: &Path, file: &str, lines: &str) -> String {
    ingest_for(dir, "b.flowb", file, lines)
}

/// `flowc ingest` of `lines`, written to `file`, for `program`.
fn ingest_for(dir: &Path, program: &str, file: &str, lines: &str) -> String {
    std::fs::write(dir.join(file), lines).expect("write events");
    let out = flowc(
        dir,
        &["ingest", "--program", program, "--events", file],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// A project folder of its own: each file written, folders made.
fn project_with(name: &str, files: &[(&str, String)]) -> PathBuf {
    let dir = temp_dir(&format!("edges-{name}"));
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("folder");
        }
        std::fs::write(&path, text).expect("write a project file");
    }
    dir
}

/// The `.eml` files of the outbox, by name.
fn outbox(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir.join("outbox"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".eml"))
                .collect()
        })
        .unwrap_or_default()
}

fn mails_to(dir: &Path, address: &str) -> usize {
    outbox(dir)
        .iter()
        .filter(|f| {
            let mail = std::fs::read_to_string(dir.join("outbox").join(f)).expect("read mail");
            mail.contains(&format!("To: {address}")) || mail.contains(&format!("<{address}>"))
        })
        .count()
}

#[test]
fn events_without_ids_are_known_by_their_content_not_their_line() {
    let dir = project(
        "event-identity",
        &format!(
            "{HEADER}a1,ana@example.com,Ana,Europe/Paris,1990-06-15,true\n\
             b1,bram@example.com,Bram,Europe/Paris,1990-06-15,true\n"
        ),
    );
    let first = ingest(
        &dir,
        "monday.jsonl",
        "{\"contact\": \"a1\", \"type\": \"purchase\", \"at\": \"2027-05-20T10:00:00Z\", \"product\": \"scarf\", \"amount\": 30}\n\
         {\"contact\": \"b1\", \"type\": \"purchase\", \"at\": \"2027-05-21T10:00:00Z\", \"product\": \"hat\", \"amount\": 12}\n",
    );
    assert!(first.contains("ingested 2 new events"), "{first}");
    // The next day's file: a new unsubscribe at the top, then Monday's two
    // events again, their keys in another order and the instant in another
    // offset. Only the unsubscribe is new; nothing is dropped.
    let second = ingest(
        &dir,
        "tuesday.jsonl",
        "{\"contact\": \"a1\", \"type\": \"unsubscribed\", \"at\": \"2027-05-22T09:00:00Z\"}\n\
         {\"amount\": 30, \"product\": \"scarf\", \"type\": \"purchase\", \"contact\": \"a1\", \"at\": \"2027-05-20T12:00:00+02:00\"}\n\
         {\"contact\": \"b1\", \"type\": \"purchase\", \"at\": \"2027-05-21T10:00:00Z\", \"product\": \"hat\", \"amount\": 12}\n",
    );
    assert!(
        second.contains("ingested 1 new events") && second.contains("2 already known"),
        "{second}"
    );
    // The same purchase with another amount is another event.
    let third = ingest(
        &dir,
        "wednesday.jsonl",
        "{\"contact\": \"b1\", \"type\": \"purchase\", \"at\": \"2027-05-21T10:00:00Z\", \"product\": \"hat\", \"amount\": 13}\n",
    );
    assert!(third.contains("ingested 1 new events"), "{third}");
    // The unsubscribe at line 1 of Tuesday's file stops Ana's offer.
    let out = run_at(&dir, "2027-05-31T07:00:00Z", &["--lookback-hours", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        mails_to(&dir, "ana@example.com"),
        0,
        "{}",
        text(&out.stdout)
    );
    assert_eq!(mails_to(&dir, "bram@example.com"), 1);
}

#[test]
fn an_unsubscribe_known_before_hand_off_stops_a_send_due_before_it() {
    let dir = project(
        "late-unsubscribe",
        &format!(
            "{HEADER}a1,ana@example.com,Ana,Europe/Paris,1990-06-15,true\n\
             b1,bram@example.com,Bram,Europe/Paris,1990-06-15,true\n"
        ),
    );
    // Both offers are due at 06:00Z (08:00 in Paris). Ana unsubscribes at
    // 06:30Z, before the run that would deliver hers.
    let quiet = run_at(&dir, "2027-05-31T05:00:00Z", &["--lookback-hours", "1"]);
    assert!(quiet.status.success(), "{}", text(&quiet.stderr));
    assert!(outbox(&dir).is_empty());
    ingest(
        &dir,
        "unsubscribes.jsonl",
        "{\"contact\": \"a1\", \"type\": \"unsubscribed\", \"at\": \"2027-05-31T06:30:00Z\"}\n\
         {\"contact\": \"b1\", \"type\": \"unsubscribed\", \"at\": \"2027-05-31T06:30:00Z\", \"channel\": \"sms\"}\n",
    );
    let out = run_at(&dir, "2027-05-31T07:00:00Z", &["--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(mails_to(&dir, "ana@example.com"), 0);
    // An unsubscribe from SMS does not stop an e-mail.
    assert_eq!(mails_to(&dir, "bram@example.com"), 1);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summary["skipped"], 1, "{summary}");
    let report = text(&flowc(&dir, &["report"], &[]).stdout);
    assert!(
        report.contains("unsubscribed at 2027-05-31T06:30:00Z"),
        "{report}"
    );
}

#[test]
fn a_state_file_that_is_not_a_whole_state_is_refused_and_nothing_is_sent() {
    let contacts = format!("{HEADER}a1,ana@example.com,Ana,Europe/Paris,1990-06-15,true\n");
    let dir = project("damaged-state", &contacts);
    // A good state, from a run that delivered Ana's offer.
    let first = run_at(&dir, "2027-05-31T06:00:00Z", &[]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("flow.db created"),
        "{}",
        text(&first.stdout)
    );
    assert_eq!(outbox(&dir).len(), 1);
    let again = run_at(&dir, "2027-05-31T07:00:00Z", &[]);
    assert!(!text(&again.stdout).contains("created"));
    let good = std::fs::read(dir.join("flow.db")).expect("state");
    let damaged: [(&str, Vec<u8>, &str); 4] = [
        ("empty", Vec::new(), "empty (0 bytes)"),
        ("truncated", good[..good.len() / 2].to_vec(), "truncated"),
        (
            "not SQLite",
            b"id,email\n".to_vec(),
            "not a SQLite database",
        ),
        (
            "another program's",
            Vec::new(),
            "another program's SQLite database",
        ),
    ];
    for (what, bytes, cause) in damaged {
        let _ = std::fs::remove_dir_all(dir.join("outbox"));
        for suffix in ["", "-wal", "-shm", ".rows"] {
            let _ = std::fs::remove_file(dir.join(format!("flow.db{suffix}")));
        }
        if what == "another program's" {
            let other = foreign_database(&dir.join("flow.db"));
            assert!(other, "sqlite3 made the foreign file");
        } else {
            std::fs::write(dir.join("flow.db"), &bytes).expect("damage");
        }
        let out = run_at(&dir, "2027-05-31T08:00:00Z", &["--lookback", "1d"]);
        assert_eq!(out.status.code(), Some(2), "{what}: {}", text(&out.stdout));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("flow.db is not a") && stderr.contains(cause),
            "{what}: {stderr}"
        );
        assert!(outbox(&dir).is_empty(), "{what}: nothing sent");
    }
}

/// A SQLite file with another program's table, made by python3's sqlite3
/// module (python3 runs the SMTP tests' server, so CI has it).
fn foreign_database(path: &Path) -> bool {
    std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE invoices (n)'); c.commit()",
        ])
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn two_runs_started_together_through_two_paths_deliver_each_message_once() {
    if !support::aiosmtpd() {
        return;
    }
    let dir = temp_dir("edges-two-paths");
    let program = support::build(&dir);
    assert!(program.exists());
    let contacts = support::contacts(&dir, 300);
    std::os::unix::fs::symlink(dir.join("flow.db"), dir.join("link.db")).expect("symlink");
    // The state exists before the race (a new file is created by one name).
    let first = support::run(&dir, &contacts, "2027-05-30T07:00:00Z", &[], &[]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let maildir = dir.join("mail");
    let server = support::Server::aiosmtpd(&maildir, &[]);
    let smtp = server.address();
    let start = |state: &str| {
        std::process::Command::new(support::BIN)
            .args(["run", "--program", "b.flowb", "--contacts"])
            .arg(&contacts)
            .args(["--now", support::OFFERS_DUE, "--state", state])
            .args(["--smtp", &smtp, "--smtp-connections", "2"])
            .current_dir(&dir)
            .env_remove("FLOWC_TZDIR")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("flowc starts")
    };
    let (a, b) = (start("flow.db"), start("link.db"));
    let codes: Vec<Option<i32>> = [a, b]
        .into_iter()
        .map(|c| c.wait_with_output().expect("ends").status.code())
        .collect();
    assert!(
        codes.iter().all(|c| *c == Some(0) || *c == Some(4)),
        "{codes:?}"
    );
    // Whichever lost the race (or came second) ends the work.
    let last = support::run(
        &dir,
        &contacts,
        support::OFFERS_DUE,
        &["--smtp", &smtp],
        &[],
    );
    assert!(last.status.success(), "{}", text(&last.stderr));
    let ids = server.message_ids();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 300, "every offer arrived");
    assert_eq!(ids.len(), 300, "none twice ({codes:?})");
}

#[test]
fn bad_contact_rows_are_reported_by_line_and_good_rows_go_once() {
    let long_name = "N".repeat(5000);
    let contacts = format!(
        "{HEADER}\
         a1,ana@example.com,Ana,Europe/Paris,1990-06-15,true\n\
         b1,bram@example.com,Bram,Europe/Paris,1990-06-15\n\
         b2,bea@example.com,Bea,Europe/Paris,1990-06-15,true,extra\n\
         a1,other@example.com,Ana Again,Europe/Paris,1990-06-15,true\n\
         l1,long@example.com,{long_name},Europe/Paris,1990-06-15,true\n\
         g1,\"ana@example.com\r\nBcc: victim@example.com\",Gus,Europe/Paris,1990-06-15,true\n\
         c1,\"carl@example.com,Carl,Europe/Paris,1990-06-15,true\n\
         d1,dora@example.com,Dora,Europe/Paris,1990-06-15,true\n\
         e1,emil@example.com,Emil,Europe/Paris,1990-06-15,true\n"
    );
    let dir = project("bad-rows", &contacts);
    let out = run_at(&dir, "2027-05-31T06:00:00Z", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    for (line, cause) in [
        (3, "5 fields, but the header names 6 columns"),
        (4, "7 fields, but the header names 6 columns"),
        (5, "contact `a1` is already on line 2"),
        (6, "5000 bytes long (at most 998"),
        (7, "column `email`"),
        // Line 7's quoted value holds a line break: the next row is line 9.
        (9, "a quote opened in this row is never closed"),
    ] {
        assert!(
            stderr.contains(&format!("contacts.csv:{line}: ")) && stderr.contains(cause),
            "line {line}: {cause}\n{stderr}"
        );
    }
    // Data never forges a line of the log.
    assert!(!stderr.lines().any(|l| l.starts_with("Bcc:")), "{stderr}");
    // The good rows, after the broken quote too, each get their offer
    // once; nothing of the bad rows is sent.
    for address in ["ana@example.com", "dora@example.com", "emil@example.com"] {
        assert_eq!(mails_to(&dir, address), 1, "{address}\n{stderr}");
    }
    assert_eq!(outbox(&dir).len(), 3, "{stderr}");
    // The second run reads every row again (a file with a duplicate id
    // keeps no row index) and sends nothing twice.
    let again = run_at(&dir, "2027-05-31T07:00:00Z", &[]);
    assert!(
        text(&again.stderr).contains("contact `a1` is already on line 2"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(outbox(&dir).len(), 3);
}

#[test]
fn a_declared_column_missing_from_the_file_stops_the_run_before_anything_is_sent() {
    let dir = project(
        "missing-column",
        "id,email,first_name,time_zone,birthday\na1,ana@example.com,Ana,Europe/Paris,1990-06-15\n",
    );
    let out = run_at(&dir, "2027-05-31T06:00:00Z", &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("declares `email_optin` but the header has no such column"),
        "{stderr}"
    );
    assert!(outbox(&dir).is_empty());
}

#[test]
fn a_bad_row_holds_its_contact_and_the_fixed_row_gets_what_fell_due() {
    let good = "a1,ana@example.com,Ana,Europe/Paris,1990-06-15,true\n";
    let dir = project(
        "held-row",
        &format!("{HEADER}{good}b1,bram@example.com,Bram,Europe/Paris,1990-06-15\n"),
    );
    let out = run_at(&dir, "2027-05-31T06:00:00Z", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "held: contacts.csv:3: contact `b1`: every flow held until its row can be read"
        ),
        "{stderr}"
    );
    assert_eq!(mails_to(&dir, "bram@example.com"), 0);
    let status = text(&flowc(&dir, &["status"], &[]).stdout);
    assert!(status.contains("b1"), "{status}");
    // Fixed an hour later, the same local day: the offer goes, once.
    std::fs::write(
        dir.join("contacts.csv"),
        format!("{HEADER}{good}b1,bram@example.com,Bram,Europe/Paris,1990-06-15,true\n"),
    )
    .expect("fix");
    let fixed = run_at(&dir, "2027-05-31T07:00:00Z", &[]);
    assert!(fixed.status.success(), "{}", text(&fixed.stderr));
    assert!(text(&fixed.stderr).contains("released: contacts.csv:3: contact `b1`"));
    assert_eq!(mails_to(&dir, "bram@example.com"), 1);
    assert_eq!(mails_to(&dir, "ana@example.com"), 1);
    let later = run_at(&dir, "2027-05-31T08:00:00Z", &[]);
    assert!(later.status.success());
    assert_eq!(outbox(&dir).len(), 2);
}

#[test]
fn an_email_is_dated_when_it_is_handed_over_and_says_when_it_was_due() {
    let dir = project(
        "date-header",
        &format!("{HEADER}a1,ana@example.com,Ana,Europe/Paris,1990-06-15,true\n"),
    );
    // Due at 06:00Z, handed over by the run at 07:30Z.
    let out = run_at(&dir, "2027-05-31T07:30:00Z", &["--lookback", "2h"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let names = outbox(&dir);
    let mail = std::fs::read_to_string(dir.join("outbox").join(names.first().expect("a mail")))
        .expect("read");
    let header = |name: &str| {
        mail.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or("")
            .to_string()
    };
    assert!(
        header("Date").starts_with("Mon, 31 May 2027 07:30:"),
        "{}",
        header("Date")
    );
    assert_eq!(header("X-Flowc-Due"), "2027-05-31T06:00:00Z");
}

#[test]
fn a_first_run_promises_nothing_before_now_and_a_lookback_says_misses_per_rule() {
    let dir = temp_dir("edges-first-run");
    support::build(&dir);
    let contacts = support::contacts(&dir, 20);
    // A new install two days after the offers' day: nothing was promised.
    let quiet = support::run(
        &dir,
        &contacts,
        support::OFFERS_LATE,
        &["--lookback", "0s"],
        &[],
    );
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet.stderr));
    assert!(!text(&quiet.stderr).contains("MISSED"));
    std::fs::remove_file(dir.join("flow.db")).expect("remove the state");
    let _ = std::fs::remove_file(dir.join("flow.db.rows"));
    // With a lookback that reaches the offers' day: 20 misses, said per rule.
    let late = support::run(
        &dir,
        &contacts,
        support::OFFERS_LATE,
        &["--lookback", "3d"],
        &[],
    );
    assert_eq!(late.status.code(), Some(3), "{}", text(&late.stderr));
    let stderr = text(&late.stderr);
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("MISSED")).count(),
        4,
        "{stderr}"
    );
    assert!(
        stderr.contains("MISSED: birthday/offer: 17 more like these (20 in all;"),
        "{stderr}"
    );
    let summary = text(&late.stdout);
    assert!(summary.contains("20 missed"), "{summary}");
}

#[test]
fn an_hourly_scheduler_sends_the_08_00_mail_at_08_00() {
    let dir = project(
        "on-time",
        &format!("{HEADER}a1,ana@example.com,Ana,Europe/Paris,1990-06-15,true\n"),
    );
    // 08:00 in Paris is 06:00Z: the 05:00Z run sends nothing, the 06:00Z
    // run sends the offer.
    assert!(run_at(&dir, "2027-05-31T05:00:00Z", &[]).status.success());
    assert!(outbox(&dir).is_empty());
    let out = run_at(&dir, "2027-05-31T06:00:00Z", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(outbox(&dir).len(), 1, "{}", text(&out.stdout));
    assert!(run_at(&dir, "2027-05-31T07:00:00Z", &[]).status.success());
    assert_eq!(outbox(&dir).len(), 1);
}

/// A project where a purchase ends the welcome series: `exit`.
fn exit_project(name: &str) -> PathBuf {
    let template = |name: &str| {
        format!("+++\nsubject = \"{name}\"\n+++\nHello, {name}. {{{{ unsubscribe_url }}}}\n")
    };
    project_with(
        name,
        &[
            (
                "flow.toml",
                "[project]\ndefault_zone = \"Europe/Paris\"\n[contact]\nid = \"text\"\nemail = \"email\"\n\
                 [events.signed_up]\nsource = \"text\"\n[events.purchase]\nproduct = \"text\"\n"
                    .into(),
            ),
            (
                "welcome.flow",
                "reentry: 30d\non signed_up send welcome\nwhen 3d after welcome send tips\non purchase exit\n"
                    .into(),
            ),
            ("templates/welcome.email.txt", template("welcome")),
            ("templates/tips.email.txt", template("tips")),
            (
                "contacts.csv",
                "id,email\na1,ana@example.com\nb1,bram@example.com\n".into(),
            ),
        ],
    )
}

fn run_project(dir: &Path, now: &str) -> Output {
    let out = flowc(
        dir,
        &[
            "run",
            "--program",
            ".",
            "--contacts",
            "contacts.csv",
            "--now",
            now,
        ],
        &[],
    );
    assert!(out.status.success(), "{now}: {}", text(&out.stderr));
    out
}

#[test]
fn an_exit_in_one_run_ends_the_flow_for_the_runs_after_it() {
    let dir = exit_project("exit");
    ingest_at(
        &dir,
        "signups.jsonl",
        "{\"contact\": \"a1\", \"type\": \"signed_up\", \"at\": \"2027-03-01T09:00:00Z\", \"source\": \"web\"}\n\
         {\"contact\": \"b1\", \"type\": \"signed_up\", \"at\": \"2027-03-01T09:00:00Z\", \"source\": \"web\"}\n",
    );
    run_project(&dir, "2027-03-01T09:00:00Z");
    assert_eq!(mails_to(&dir, "ana@example.com"), 1);
    // Ana buys the next day: she leaves the flow, in a run of its own.
    ingest_at(
        &dir,
        "purchases.jsonl",
        "{\"contact\": \"a1\", \"type\": \"purchase\", \"at\": \"2027-03-02T10:00:00Z\", \"product\": \"hat\"}\n",
    );
    run_project(&dir, "2027-03-02T10:00:00Z");
    // Three days after the welcome: Bram gets the tips, Ana does not.
    let out = run_project(&dir, "2027-03-04T12:00:00Z");
    assert_eq!(
        mails_to(&dir, "bram@example.com"),
        2,
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        mails_to(&dir, "ana@example.com"),
        1,
        "{}",
        text(&out.stdout)
    );
    let report = text(&flowc(&dir, &["report"], &[]).stdout);
    assert!(report.contains("left the flow"), "{report}");
    // The exit rule itself ran (reentry did not block it).
    assert!(
        std::fs::read_to_string(dir.join("outbox/updates.jsonl"))
            .unwrap_or_default()
            .contains("\"exit\""),
        "the exit was recorded as an update"
    );
}

fn ingest_at(dir: &Path, file: &str, lines: &str) {
    ingest_for(dir, ".", file, lines);
}

#[test]
fn a_send_still_waiting_when_its_contact_leaves_the_flow_is_not_handed_over() {
    let dir = exit_project("exit-hand-off");
    ingest_at(
        &dir,
        "signups.jsonl",
        "{\"contact\": \"a1\", \"type\": \"signed_up\", \"at\": \"2027-03-01T09:00:00Z\", \"source\": \"web\"}\n",
    );
    // The mail server is down at 09:00: the welcome waits, pending.
    let closed = support::free_port().to_string();
    let down = flowc(
        &dir,
        &[
            "run",
            "--program",
            ".",
            "--contacts",
            "contacts.csv",
            "--now",
            "2027-03-01T09:00:00Z",
            "--smtp",
            &format!("127.0.0.1:{closed}"),
        ],
        &[],
    );
    assert!(down.status.success(), "{}", text(&down.stderr));
    assert!(
        text(&down.stderr).contains("pending: "),
        "{}",
        text(&down.stderr)
    );
    // Ana buys at 09:30 and leaves the flow; the 10:00 run does not send
    // her the welcome it still holds.
    ingest_at(
        &dir,
        "purchases.jsonl",
        "{\"contact\": \"a1\", \"type\": \"purchase\", \"at\": \"2027-03-01T09:30:00Z\", \"product\": \"hat\"}\n",
    );
    let out = run_project(&dir, "2027-03-01T10:00:00Z");
    assert_eq!(
        mails_to(&dir, "ana@example.com"),
        0,
        "{}",
        text(&out.stdout)
    );
    let report = text(&flowc(&dir, &["report"], &[]).stdout);
    assert!(
        report.contains("left the flow at 2027-03-01T09:30:00Z"),
        "{report}"
    );
}

/// A one-flow project (`on birthday send hello`) in `dir`: its contact
/// schema, the `hello` e-mail template and the contacts.
fn birthday_project(name: &str, contact: &str, template: &str, contacts: &str) -> PathBuf {
    project_with(
        name,
        &[
            (
                "flow.toml",
                format!("[project]\ndefault_zone = \"Europe/Paris\"\n[contact]\n{contact}birthday = {{ type = \"date\", yearly = true }}\n"),
            ),
            ("b.flow", "on birthday send hello\n".into()),
            ("templates/hello.email.txt", template.into()),
            ("contacts.csv", contacts.into()),
        ],
    )
}

/// 15 June 2027, 08:00 in Paris: the birthday of the one-flow projects.
const ON_THE_BIRTHDAY: &str = "2027-06-15T06:00:00Z";

#[test]
fn accented_field_names_work_end_to_end_and_an_error_beside_an_accent_is_no_crash() {
    let dir = birthday_project(
        "accents",
        "email = \"email\"\n\"prénom\" = \"text\"\n",
        "+++\nsubject = \"Bonjour {{ prénom }}\"\n+++\nBonjour {{ prénom }} {{ unsubscribe_url }}\n",
        "id,email,prénom,birthday\nz1,zoe@example.com,Zoé,1990-06-15\n",
    );
    let check = flowc(&dir, &["check"], &[]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    run_project(&dir, ON_THE_BIRTHDAY);
    let mail = outbox(&dir)
        .iter()
        .map(|f| std::fs::read_to_string(dir.join("outbox").join(f)).expect("mail"))
        .next()
        .expect("one mail");
    assert!(mail.contains("Bonjour Zo=C3=A9"), "{mail}");
    // A template error beside an accented name is reported, never a crash
    // (exit 101); see also diagnostics::render's test of spans inside a letter.
    std::fs::write(
        dir.join("templates/hello.email.txt"),
        "+++\nsubject = \"x\"\n+++\nBonjour {{ prénom ! }}\n",
    )
    .expect("template");
    let broken = flowc(&dir, &["check"], &[]);
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken.stderr));
    assert!(
        text(&broken.stderr).contains("E0061"),
        "{}",
        text(&broken.stderr)
    );
}

#[test]
fn the_recipient_is_the_field_of_type_email_whatever_its_name() {
    let dir = birthday_project(
        "courriel",
        "courriel = \"email\"\n",
        "+++\nsubject = \"Bonjour\"\n+++\nBonjour {{ unsubscribe_url }}\n",
        "id,courriel,birthday\nz1,zoe@example.com,1990-06-15\n",
    );
    let out = run_project(&dir, ON_THE_BIRTHDAY);
    assert_eq!(
        mails_to(&dir, "zoe@example.com"),
        1,
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_sender_field_left_empty_falls_back_and_a_missing_fallback_is_warned() {
    let dir = project_with(
        "sender-fallback",
        &[
            (
                "flow.toml",
                "[project]\ndefault_zone = \"Europe/Paris\"\n[contact]\nemail = \"email\"\nrep = \"email\"\nbirthday = { type = \"date\", yearly = true }\n".into(),
            ),
            (
                "b.flow",
                "on birthday send hello from rep or \"team@example.com\"\n".into(),
            ),
            (
                "templates/hello.email.txt",
                "+++\nsubject = \"Hello\"\n+++\nHello from {{ sender }} {{ unsubscribe_url }}\n".into(),
            ),
            (
                "contacts.csv",
                "id,email,rep,birthday\na1,ana@example.com,marie@example.com,1990-06-15\nb1,bram@example.com,,1990-06-15\nc1,cleo@example.com,   ,1990-06-15\n".into(),
            ),
        ],
    );
    let check = flowc(&dir, &["check", "--deny-warnings"], &[]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    let out = run_project(&dir, ON_THE_BIRTHDAY);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let from_of = |address: &str| -> String {
        outbox(&dir)
            .iter()
            .map(|f| std::fs::read_to_string(dir.join("outbox").join(f)).expect("mail"))
            .find(|m| m.contains(&format!("To: {address}")))
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("From: "))
                    .map(str::to_string)
            })
            .unwrap_or_default()
    };
    assert_eq!(from_of("ana@example.com"), "From: marie@example.com");
    assert_eq!(from_of("bram@example.com"), "From: team@example.com");
    assert_eq!(from_of("cleo@example.com"), "From: team@example.com");
    // Without the fallback, `check` warns (W0008) before any run fails.
    std::fs::write(dir.join("b.flow"), "on birthday send hello from rep\n").expect("write");
    let check = flowc(&dir, &["check", "--deny-warnings"], &[]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        text(&check.stderr).contains("W0008"),
        "{}",
        text(&check.stderr)
    );
}

#[test]
fn a_history_filter_compares_the_tested_event_with_the_trigger() {
    let dir = project_with(
        "restock",
        &[
            (
                "flow.toml",
                "[project]\ndefault_zone = \"Europe/Paris\"\n[contact]\nid = \"text\"\nemail = \"email\"\n[events.product_viewed]\nsku = \"text\"\n[events.back_in_stock]\nsku = \"text\"\n".into(),
            ),
            (
                "s.flow",
                "on back_in_stock if product_viewed where sku == event.sku within 30d send alert\n".into(),
            ),
            (
                "templates/alert.email.txt",
                "+++\nsubject = \"Back in stock\"\n+++\nIt is back. {{ unsubscribe_url }}\n".into(),
            ),
            (
                "contacts.csv",
                "id,email\na1,ana@example.com\nb1,bram@example.com\n".into(),
            ),
            (
                "events.jsonl",
                "{\"id\": \"v1\", \"contact\": \"a1\", \"type\": \"product_viewed\", \"at\": \"2027-03-01T10:00:00Z\", \"sku\": \"red-scarf\"}\n\
                 {\"id\": \"v2\", \"contact\": \"b1\", \"type\": \"product_viewed\", \"at\": \"2027-03-01T10:00:00Z\", \"sku\": \"blue-hat\"}\n\
                 {\"id\": \"s1\", \"contact\": \"a1\", \"type\": \"back_in_stock\", \"at\": \"2027-03-05T10:00:00Z\", \"sku\": \"red-scarf\"}\n\
                 {\"id\": \"s2\", \"contact\": \"b1\", \"type\": \"back_in_stock\", \"at\": \"2027-03-05T10:00:00Z\", \"sku\": \"red-scarf\"}\n".into(),
            ),
        ],
    );
    let check = flowc(&dir, &["check", "--deny-warnings"], &[]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    // simulate: only Ana viewed the red scarf.
    let sim = flowc(
        &dir,
        &[
            "simulate",
            ".",
            "--contacts",
            "contacts.csv",
            "--events",
            "events.jsonl",
            "--from",
            "2027-03-01",
            "--to",
            "2027-03-31",
            "--format",
            "csv",
        ],
        &[],
    );
    let table = text(&sim.stdout);
    let due: Vec<&str> = table.lines().filter(|l| l.contains(",due,")).collect();
    assert_eq!(due.len(), 1, "{table}");
    assert!(due[0].contains(",a1,"), "{table}");
    // run: the same, once.
    let out = flowc(
        &dir,
        &[
            "run",
            "--program",
            ".",
            "--contacts",
            "contacts.csv",
            "--events",
            "events.jsonl",
            "--now",
            "2027-03-05T11:00:00Z",
            "--lookback",
            "2h",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mails_to(&dir, "ana@example.com"), 1);
    assert_eq!(mails_to(&dir, "bram@example.com"), 0);
    // The old form, which read the tested event through `event`, is warned about.
    std::fs::write(
        dir.join("s.flow"),
        "on back_in_stock if product_viewed where event.sku == \"red-scarf\" within 30d send alert\n",
    )
    .expect("write");
    let check = flowc(&dir, &["check"], &[]);
    assert!(
        text(&check.stderr).contains("W0009"),
        "{}",
        text(&check.stderr)
    );
}

#[test]
fn a_transactional_mail_goes_despite_an_unsubscribe_and_stops_at_a_hard_bounce() {
    let dir = project_with(
        "transactional",
        &[
            (
                "flow.toml",
                "[project]\ndefault_zone = \"Europe/Paris\"\n[contact]\nid = \"text\"\nemail = \"email\"\nbirthday = { type = \"date\", yearly = true }\noptin = { type = \"bool\", consent = \"email\" }\n".into(),
            ),
            (
                "b.flow",
                "kind: transactional\non birthday send hello\n".into(),
            ),
            (
                "templates/hello.email.txt",
                "+++\nsubject = \"Your voucher\"\n+++\nHere it is.\n".into(),
            ),
            (
                "contacts.csv",
                "id,email,birthday,optin\na1,ana@example.com,1990-06-15,false\nb1,bram@example.com,1990-06-15,true\nc1,cleo@example.com,1990-06-15,true\n".into(),
            ),
        ],
    );
    let build = flowc(&dir, &["build", ".", "-o", "b.flowb"], &[]);
    assert!(build.status.success(), "{}", text(&build.stderr));
    // Known before the run: Bram unsubscribed, Cleo's address bounced.
    ingest(
        &dir,
        "feedback.jsonl",
        "{\"contact\": \"b1\", \"type\": \"unsubscribed\", \"at\": \"2027-06-14T09:00:00Z\"}\n\
         {\"contact\": \"c1\", \"type\": \"bounced\", \"at\": \"2027-06-14T09:00:00Z\", \"bounce\": \"hard\"}\n",
    );
    let out = flowc(
        &dir,
        &[
            "run",
            "--program",
            "b.flowb",
            "--contacts",
            "contacts.csv",
            "--now",
            ON_THE_BIRTHDAY,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // No marketing consent, and an unsubscribe: a transactional mail goes.
    assert_eq!(mails_to(&dir, "ana@example.com"), 1);
    assert_eq!(mails_to(&dir, "bram@example.com"), 1);
    // A hard bounce stops it.
    assert_eq!(mails_to(&dir, "cleo@example.com"), 0);
    let report = text(&flowc(&dir, &["report"], &[]).stdout);
    assert!(report.contains("the email address bounced"), "{report}");
}
