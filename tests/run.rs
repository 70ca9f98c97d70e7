//! `flowc run` with a real SQLite state file and the folder outbox: exactly
//! once across re-runs and crashes, catch-up, missed sends, the run lock,
//! outages retried, and contact data that cannot become a header.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flowc_runtime::delivery::{DeliveryError, FileOutbox, Outbox};
use flowc_runtime::state::SqliteState;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_flowc");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowc-run-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn flowc(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("FLOWC_TZDIR")
        .output()
        .expect("flowc runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The birthday example built into `dir/b.flowb`, with its contacts copied.
fn setup(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    let example = Path::new(ROOT).join("examples/birthday");
    let built = flowc(
        &dir,
        &["build", example.to_str().expect("utf-8"), "-o", "b.flowb"],
    );
    assert!(built.status.success(), "{}", text(&built.stderr));
    std::fs::copy(example.join("contacts.csv"), dir.join("contacts.csv")).expect("copy");
    dir
}

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
    // A first run looks back a day unless the test says how far.
    if !extra.iter().any(|a| a.starts_with("--lookback")) {
        args.extend(["--lookback", "1d"]);
    }
    args.extend(extra);
    flowc(dir, &args)
}

fn outbox(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir.join("outbox"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_second_run_at_the_same_instant_sends_nothing_again() {
    let dir = setup("twice");
    // c001 (Paris) is born on 15 June: offer due 31 May 08:00 local.
    let first = run_at(&dir, "2027-05-31T07:00:00Z", &["--lookback-hours", "2"]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}{}",
        text(&first.stdout),
        text(&first.stderr)
    );
    let files = outbox(&dir);
    assert_eq!(files.len(), 1, "Ana's offer: {files:?}");
    let mail =
        std::fs::read_to_string(dir.join("outbox").join(files.iter().next().unwrap())).unwrap();
    assert!(mail.contains("To: Ana <ana@example.com>"), "{mail}");
    // RFC 8058: a signed token, and the one-click POST header.
    assert!(
        mail.contains("List-Unsubscribe: <https://example.invalid/u/"),
        "{mail}"
    );
    assert!(
        mail.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{mail}"
    );
    assert!(
        !mail.contains("c001"),
        "no contact id in the message: {mail}"
    );
    assert!(
        mail.lines()
            .any(|l| l.starts_with("Message-ID: <") && l.ends_with("@flowc>")),
        "{mail}"
    );
    let again = run_at(&dir, "2027-05-31T07:00:00Z", &[]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again.stdout).contains(" 0 due, 0 delivered"),
        "{}",
        text(&again.stdout)
    );
    // Its window is empty: the contacts file is not even read.
    assert!(
        text(&again.stdout).contains(": 0 contacts,"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(outbox(&dir), files);
}

#[test]
fn a_scheduler_that_missed_a_day_sends_what_an_hourly_one_sends() {
    let hourly = setup("hourly");
    let mut hour: jiff::Timestamp = "2027-05-30T00:00:00Z".parse().unwrap();
    for _ in 0..72 {
        let out = run_at(&hourly, &hour.to_string(), &["--lookback-hours", "1"]);
        assert!(out.status.code() == Some(0), "{}", text(&out.stderr));
        hour = hour
            .checked_add(jiff::SignedDuration::from_hours(1))
            .unwrap();
    }
    let daily = setup("daily");
    let first = run_at(&daily, "2027-05-30T01:00:00Z", &["--lookback-hours", "1"]);
    assert!(first.status.success());
    // The scheduler then stays silent for two days less an hour.
    let late = run_at(&daily, &hour.to_string(), &[]);
    // What was due on a day already over is reported missed, not sent late.
    let missed = text(&late.stderr);
    let hourly_files = outbox(&hourly);
    let daily_files = outbox(&daily);
    assert!(daily_files.is_subset(&hourly_files));
    let missing = hourly_files.len() - daily_files.len();
    assert_eq!(missing, missed.matches("MISSED").count(), "{missed}");
    if missing > 0 {
        assert_eq!(late.status.code(), Some(3));
    }
}

#[test]
fn a_run_after_the_deadline_reports_missed_with_a_distinct_exit_code() {
    let dir = setup("missed");
    let out = run_at(&dir, "2027-06-01T06:30:00Z", &["--lookback-hours", "48"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("MISSED: birthday/offer for c001 (birthday/2027): past its deadline"),
        "{stderr}"
    );
    assert!(outbox(&dir).is_empty(), "nothing is sent after its day");
}

#[test]
fn two_runs_at_once_cannot_both_deliver_however_the_state_is_reached() {
    use flowc_runtime::state::{Holder, StateStore, Taken};
    let dir = setup("locked");
    // Another run (this test process, alive) holds the state's lease.
    let mut other = SqliteState::open(&dir.join("flow.db")).unwrap();
    let now = jiff::Timestamp::now();
    assert_eq!(
        other.take_lease(&Holder::this_process(), now).unwrap(),
        Taken::Free
    );
    // The same file by its path, through a symlink and by its absolute
    // path: every run refuses, nothing is sent.
    std::os::unix::fs::symlink(dir.join("flow.db"), dir.join("link.db")).unwrap();
    let state = dir.join("flow.db");
    for path in ["flow.db", "link.db", state.to_str().unwrap()] {
        let out = run_at(&dir, "2027-05-31T07:00:00Z", &["--state", path]);
        assert_eq!(out.status.code(), Some(4), "{path}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("another run (pid"),
            "{}",
            text(&out.stderr)
        );
        assert!(outbox(&dir).is_empty(), "{path}");
    }
    // A hard link gives SQLite a second journal: both names are refused,
    // whoever holds the lease.
    std::fs::hard_link(dir.join("flow.db"), dir.join("hard.db")).unwrap();
    for path in ["hard.db", "flow.db"] {
        let out = run_at(&dir, "2027-05-31T07:00:00Z", &["--state", path]);
        assert_eq!(out.status.code(), Some(2), "{path}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("2 hard links"),
            "{}",
            text(&out.stderr)
        );
        assert!(outbox(&dir).is_empty(), "{path}");
    }
    std::fs::remove_file(dir.join("hard.db")).unwrap();
    // No lock file to delete: the exclusion is in the state.
    assert!(!dir.join("flow.db.lock").exists());
    other.release_lease().unwrap();
    drop(other);
    assert_eq!(
        run_at(&dir, "2027-05-31T07:00:00Z", &["--lookback-hours", "2"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn the_lease_of_a_killed_run_is_taken_over_at_once() {
    use flowc_runtime::state::{Holder, StateStore, Taken};
    let dir = setup("lease-of-the-dead");
    // A run that took the lease and was killed: its process is gone.
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    let start = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    child.wait().unwrap();
    let start = start
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().nth(19))
        .unwrap_or("0")
        .to_string();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let dead = Holder(format!("{}/{pid}/{start}/0", host.trim()));
    let mut state = SqliteState::open(&dir.join("flow.db")).unwrap();
    assert_eq!(
        state.take_lease(&dead, jiff::Timestamp::now()).unwrap(),
        Taken::Free
    );
    drop(state);
    let out = run_at(&dir, "2027-05-31T07:00:00Z", &["--lookback-hours", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("stopped without ending; this run takes over its lease"),
        "{}",
        text(&out.stderr)
    );
    assert!(!outbox(&dir).is_empty());
}

/// An outbox that fails (an outage) or dies after writing (a crash).
struct Flaky {
    inner: FileOutbox,
    fail: bool,
    panic_after_write: bool,
    /// Delivery attempts made through it.
    attempts: usize,
}

impl Outbox for Flaky {
    fn deliver(&mut self, payload: &serde_json::Value) -> Result<(), DeliveryError> {
        self.attempts += 1;
        if self.fail {
            return Err(DeliveryError("connection refused".into()));
        }
        self.inner.deliver(payload)?;
        if self.panic_after_write {
            panic!("killed between delivery and its record");
        }
        Ok(())
    }
}

fn library_run(dir: &Path, now: &str, outbox: &mut dyn Outbox) -> flowc_runtime::run::RunSummary {
    support::library_run(dir, "b.flowb", 2, now, outbox)
}

#[test]
fn an_outage_loses_nothing_and_the_next_run_delivers() {
    let dir = setup("outage");
    let mut down = Flaky {
        inner: FileOutbox::new(&dir.join("outbox")).unwrap(),
        fail: true,
        panic_after_write: false,
        attempts: 0,
    };
    let summary = library_run(&dir, "2027-05-31T07:00:00Z", &mut down);
    assert_eq!(
        (summary.delivered, summary.pending.len()),
        (0, 1),
        "{summary:?}"
    );
    assert!(summary.pending[0].contains("connection refused"));
    let mut up = Flaky {
        inner: FileOutbox::new(&dir.join("outbox")).unwrap(),
        fail: false,
        panic_after_write: false,
        attempts: 0,
    };
    let summary = library_run(&dir, "2027-05-31T08:00:00Z", &mut up);
    assert_eq!((summary.retried, summary.delivered), (1, 1), "{summary:?}");
    assert_eq!(outbox(&dir).len(), 1);
}

#[test]
fn a_failed_send_waits_out_a_doubling_backoff_then_goes_once() {
    let dir = setup("backoff");
    // A run through an outbox that is down: its summary and the attempts.
    let down = |now: &str| {
        let mut outbox = Flaky {
            inner: FileOutbox::new(&dir.join("outbox")).unwrap(),
            fail: true,
            panic_after_write: false,
            attempts: 0,
        };
        let summary = library_run(&dir, now, &mut outbox);
        (summary, outbox.attempts)
    };
    // 07:00 the offer fails (attempt 1): the next not before 07:01.
    let (s, attempts) = down("2027-05-31T07:00:00Z");
    assert_eq!(attempts, 1, "{s:?}");
    // 07:00:30: within the wait nothing is attempted, and the summary says when.
    let (s, attempts) = down("2027-05-31T07:00:30Z");
    assert_eq!((attempts, s.retried, s.pending.len()), (0, 0, 1), "{s:?}");
    assert!(
        s.pending[0].contains("connection refused; attempt 2 not before 2027-05-31T07:01:00Z"),
        "{s:?}"
    );
    // 07:01 attempt 2 fails: the wait doubles, the next not before 07:03.
    let (s, attempts) = down("2027-05-31T07:01:00Z");
    assert_eq!((attempts, s.retried), (1, 1), "{s:?}");
    let (s, attempts) = down("2027-05-31T07:02:59Z");
    assert_eq!(attempts, 0, "{s:?}");
    assert!(
        s.pending[0].contains("attempt 3 not before 2027-05-31T07:03:00Z"),
        "{s:?}"
    );
    let status = flowc(&dir, &["status"]);
    assert!(
        text(&status.stdout)
            .contains("2 failed attempts; the next not before 2027-05-31T07:03:00Z"),
        "{}",
        text(&status.stdout)
    );
    // The server is back: each goes once.
    let mut up = Flaky {
        inner: FileOutbox::new(&dir.join("outbox")).unwrap(),
        fail: false,
        panic_after_write: false,
        attempts: 0,
    };
    let s = library_run(&dir, "2027-05-31T07:03:00Z", &mut up);
    assert_eq!((up.attempts, s.retried, s.delivered), (1, 1, 1), "{s:?}");
    assert_eq!(outbox(&dir).len(), 1);
    let status = flowc(&dir, &["status"]);
    assert!(
        text(&status.stdout).contains("pending: 0"),
        "{}",
        text(&status.stdout)
    );
}

#[test]
fn a_crash_between_delivery_and_its_record_delivers_once() {
    let dir = setup("crash");
    // Two offers due in the window: the crash comes after the first.
    let mut contacts = std::fs::read_to_string(dir.join("contacts.csv")).unwrap();
    contacts.push_str("c101,zoe@example.com,Zoe,Europe/Paris,1991-06-15,true\n");
    std::fs::write(dir.join("contacts.csv"), contacts).unwrap();
    let crashed = std::panic::catch_unwind(|| {
        let mut dying = Flaky {
            inner: FileOutbox::new(&dir.join("outbox")).unwrap(),
            fail: false,
            panic_after_write: true,
            attempts: 0,
        };
        library_run(&dir, "2027-05-31T07:00:00Z", &mut dying)
    });
    assert!(crashed.is_err());
    assert_eq!(
        outbox(&dir).len(),
        1,
        "the first message was written before the crash"
    );
    let mut up = Flaky {
        inner: FileOutbox::new(&dir.join("outbox")).unwrap(),
        fail: false,
        panic_after_write: false,
        attempts: 0,
    };
    let summary = library_run(&dir, "2027-05-31T07:30:00Z", &mut up);
    // The crashed run never completed: the next one covers its window again.
    assert_eq!(summary.window_from, "2027-05-31T05:30:00Z");
    assert_eq!(
        outbox(&dir).len(),
        2,
        "each message once: {:?}",
        outbox(&dir)
    );
}

#[test]
fn contact_data_cannot_add_a_header() {
    let dir = setup("inject");
    std::fs::write(
        dir.join("contacts.csv"),
        "id,email,first_name,time_zone,birthday,email_optin\nx1,x1@example.com,\"Eve\r\nBcc: all@example.com\",Europe/Paris,1990-06-15,true\n",
    )
    .unwrap();
    let out = run_at(&dir, "2027-05-31T07:00:00Z", &["--lookback-hours", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let files = outbox(&dir);
    assert!(!files.is_empty());
    for file in files {
        let mail = std::fs::read_to_string(dir.join("outbox").join(file)).unwrap();
        let headers = mail.split("\r\n\r\n").next().unwrap_or(&mail);
        assert!(
            !headers
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
            "{headers}"
        );
        assert!(headers.lines().all(|l| !l.starts_with("Bcc")), "{headers}");
        assert!(
            headers.contains("Subject: Eve  Bcc: all@example.com"),
            "one line: {headers}"
        );
    }
}

#[test]
fn simulate_says_what_run_does() {
    let dir = setup("same-engine");
    // A scheduler every six hours from mid-December to mid-January: the
    // offers of four contacts, then their birthdays…
    let (mut delivered, mut missed) = (0, 0);
    let mut now: jiff::Timestamp = "2026-12-10T06:00:00Z".parse().unwrap();
    while now <= "2027-01-16T00:00:00Z".parse().unwrap() {
        let out = run_at(&dir, &now.to_string(), &["--lookback-hours", "6", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let summary: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("a JSON summary");
        delivered += summary["delivered"].as_u64().unwrap();
        missed += summary["missed"].as_array().unwrap().len();
        now = now
            .checked_add(jiff::SignedDuration::from_hours(6))
            .unwrap();
    }
    // …and a simulation of the same window.
    let example = Path::new(ROOT).join("examples/birthday");
    let sim = flowc(
        &dir,
        &[
            "simulate",
            example.to_str().unwrap(),
            "--contacts",
            "contacts.csv",
            "--from",
            "2026-12-10T00:00:00Z",
            "--to",
            "2027-01-16T00:00:00Z",
            "--format",
            "json",
        ],
    );
    let timeline: serde_json::Value = serde_json::from_slice(&sim.stdout).expect("a JSON timeline");
    let sends: BTreeSet<(String, String, String)> = timeline["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "due")
        .map(|r| {
            (
                r["flow"].as_str().unwrap().into(),
                r["rule"].as_str().unwrap().into(),
                r["contact"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(!sends.is_empty());
    assert_eq!(missed, 0);
    assert_eq!(
        delivered,
        sends.len() as u64,
        "what simulate says is sent is what run delivers"
    );
    assert_eq!(outbox(&dir).len(), sends.len());
}

#[test]
fn report_and_status_tell_what_the_runs_did() {
    let dir = setup("report");
    // Ana's offers (31 May, 08:00 in Paris), then her birthday.
    for now in ["2027-05-31T06:00:00Z", "2027-06-15T06:00:00Z"] {
        assert_eq!(run_at(&dir, now, &[]).status.code(), Some(0), "{now}");
    }
    let report = flowc(&dir, &["report", "--json"]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let line = |rule: &str, status: &str| {
        report["sends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["rule"] == rule && c["status"] == status)
            .cloned()
    };
    assert_eq!(line("reminder", "delivered").unwrap()["count"], 1);
    assert_eq!(
        line("thank_you", "skipped").unwrap()["reason"],
        "condition false"
    );
    let status = flowc(&dir, &["status"]);
    let status = text(&status.stdout);
    assert!(
        status.contains(
            "run 1 2027-05-30T06:00:00Z to 2027-05-31T06:00:00Z: done: 1 due, 1 delivered"
        ),
        "{status}"
    );
    assert!(status.contains("pending: 0"), "{status}");
    let missing = flowc(&dir, &["report", "--state", "nowhere.db"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("nowhere.db does not exist"));
}

#[test]
fn the_thank_you_names_the_item_bought() {
    let dir = setup("thank-you");
    std::fs::write(
        dir.join("events.jsonl"),
        r#"{"id": "r1", "contact": "c001", "type": "redeemed", "at": "2027-06-05T12:00:00Z", "flow": "birthday", "rule": "offer", "product": "the silk scarf"}
"#,
    )
    .unwrap();
    // The offer on 31 May, then the birthday on 15 June.
    assert!(
        run_at(&dir, "2027-05-31T07:00:00Z", &["--lookback-hours", "2"])
            .status
            .success()
    );
    let out = run_at(&dir, "2027-06-15T07:00:00Z", &["--events", "events.jsonl"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mails: Vec<String> = outbox(&dir)
        .iter()
        .map(|f| std::fs::read_to_string(dir.join("outbox").join(f)).unwrap())
        .collect();
    let thanks = mails
        .iter()
        .find(|m| m.contains("Thank you for choosing"))
        .expect("a thank-you");
    let flat = thanks.replace("=\r\n", "");
    assert!(
        flat.contains("Thank you for choosing the silk scarf"),
        "{flat}"
    );
    // The offer was used: its reminder is not sent.
    assert_eq!(
        mails.iter().filter(|m| m.contains("still waiting")).count(),
        0
    );
}

#[test]
fn ingested_events_count_once_and_reach_later_runs() {
    let dir = setup("ingest");
    std::fs::write(
        dir.join("events.jsonl"),
        "{\"id\": \"r1\", \"contact\": \"c001\", \"type\": \"redeemed\", \"at\": \"2027-06-05T12:00:00Z\", \"flow\": \"birthday\", \"rule\": \"offer\", \"product\": \"the silk scarf\"}\n\
         {\"contact\": \"c001\", \"type\": \"no-such-event\", \"at\": \"2027-06-05T12:00:00Z\"}\n",
    )
    .unwrap();
    let ingest = |dir: &Path| {
        flowc(
            dir,
            &["ingest", "--program", "b.flowb", "--events", "events.jsonl"],
        )
    };
    let first = ingest(&dir);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("ingested 1 new events"),
        "{}",
        text(&first.stdout)
    );
    assert!(
        text(&first.stderr).contains("events.jsonl:2: unknown event type `no-such-event`"),
        "{}",
        text(&first.stderr)
    );
    assert!(
        text(&ingest(&dir).stdout).contains("ingested 0 new events into flow.db (1 already known")
    );
    // The runs read the ingested redemption: no --events needed.
    assert!(
        run_at(&dir, "2027-05-31T07:00:00Z", &["--lookback-hours", "2"])
            .status
            .success()
    );
    assert!(run_at(&dir, "2027-06-15T07:00:00Z", &[]).status.success());
    let thanked = outbox(&dir).iter().any(|f| {
        std::fs::read_to_string(dir.join("outbox").join(f))
            .unwrap()
            .replace("=\r\n", "")
            .contains("choosing the silk scarf")
    });
    assert!(thanked);
    let report: serde_json::Value =
        serde_json::from_slice(&flowc(&dir, &["report", "--json"]).stdout).unwrap();
    assert_eq!(
        report["feedback"][0],
        serde_json::json!({"flow": "birthday", "kind": "redeemed", "detail": null, "count": 1})
    );
    let birthday = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flow"] == "birthday")
        .unwrap();
    let delivered = birthday["delivered"].as_u64().unwrap();
    assert!(delivered >= 2, "{birthday}");
    assert_eq!(birthday["redeemed"], 1);
    assert_eq!(
        birthday["conversion"].as_f64().unwrap(),
        1.0 / delivered as f64
    );
    let table = text(&flowc(&dir, &["report"]).stdout);
    assert!(table.contains("conversion"), "{table}");
}

#[test]
fn a_contact_listed_twice_and_many_contacts_get_each_send_once() {
    let dir = setup("chunks");
    // c001 twice (same chunk), then enough other contacts to span several
    // chunks of the run, then c001 again (another chunk).
    let original = std::fs::read_to_string(dir.join("contacts.csv")).unwrap();
    let header = original.lines().next().unwrap();
    let c001 = original.lines().find(|l| l.starts_with("c001,")).unwrap();
    let mut csv = format!("{header}\n{c001}\n{c001}\n");
    for i in 0..1200 {
        csv.push_str(&format!(
            "x{i},x{i}@example.com,X,Europe/Paris,1990-06-15,true\n"
        ));
    }
    csv.push_str(&format!("{c001}\n"));
    std::fs::write(dir.join("contacts.csv"), csv).unwrap();
    let first = run_at(&dir, "2027-05-31T07:00:00Z", &["--lookback-hours", "2"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    // One offer for each of 1,201 contacts.
    assert_eq!(outbox(&dir).len(), 1201);
    let again = run_at(&dir, "2027-05-31T07:00:00Z", &[]);
    assert!(again.status.success());
    assert_eq!(outbox(&dir).len(), 1201);
}

/// A project whose flow fires when a contact's tier becomes "gold".
fn tier_project(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    let write = |file: &str, text: &str| {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap()
    };
    write(
        "flow.toml",
        "[project]\ndefault_zone = \"UTC\"\n\n[contact]\nid = \"text\"\nemail = \"email\"\ntier = \"text\"\n",
    );
    write("gold.flow", "on tier becomes \"gold\" send gold\n");
    write(
        "templates/gold.email.txt",
        "+++\nsubject = \"Welcome to gold\"\n+++\nYou are gold now.\n",
    );
    dir
}

fn run_tier(dir: &Path, now: &str, tier: &str) -> Output {
    std::fs::write(
        dir.join("contacts.csv"),
        format!("id,email,tier\nc1,ana@example.com,{tier}\nc2,bram@example.com,silver\n"),
    )
    .unwrap();
    flowc(
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
    )
}

#[test]
fn a_field_that_becomes_a_value_between_runs_fires_once_per_change() {
    let dir = tier_project("becomes");
    // First sight of the values: no change, nothing sent.
    let first = run_tier(&dir, "2027-03-01T10:00:00Z", "silver");
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(outbox(&dir).is_empty());
    // c1 became gold since: one mail, now.
    let second = run_tier(&dir, "2027-03-01T11:00:00Z", "gold");
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(outbox(&dir).len(), 1, "{}", text(&second.stdout));
    // Still gold: nothing new, also in a later run.
    run_tier(&dir, "2027-03-01T12:00:00Z", "gold");
    run_tier(&dir, "2027-03-02T12:00:00Z", "gold");
    assert_eq!(outbox(&dir).len(), 1);
    // Back to silver, then gold again: a new occurrence, one more mail.
    run_tier(&dir, "2027-03-03T12:00:00Z", "silver");
    assert_eq!(outbox(&dir).len(), 1);
    let again = run_tier(&dir, "2027-03-04T12:00:00Z", "gold");
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(outbox(&dir).len(), 2);
    let mail =
        std::fs::read_to_string(dir.join("outbox").join(outbox(&dir).iter().next().unwrap()))
            .unwrap();
    assert!(
        mail.contains("Welcome to gold") && mail.contains("ana@example.com"),
        "{mail}"
    );
}

#[test]
fn a_damaged_stored_payload_stays_pending_with_its_cause() {
    use flowc_runtime::state::{SendKey, SendRecord, SendStatus, StateStore};
    let dir = setup("damaged");
    let at: jiff::Timestamp = "2027-05-31T06:00:00Z".parse().unwrap();
    {
        let mut state = SqliteState::open(&dir.join("flow.db")).unwrap();
        let run = state.begin_run(at, at, at).unwrap();
        let send = SendRecord {
            key: SendKey {
                flow: "birthday".into(),
                rule: "offer".into(),
                contact: "c001".into(),
                occurrence: "birthday/2027".into(),
            },
            due_at: at,
            deadline: "2027-05-31T21:59:59Z".parse().unwrap(),
            not_before: None,
            channel: Some("email".into()),
            status: SendStatus::Pending,
            reason: None,
            payload: "{\"actions\": [".into(),
            attempts: 0,
            retry_at: None,
        };
        assert!(state.record(run, &send).unwrap());
        state.finish_run(run, at, "{}").unwrap();
    }
    let output = run_at(&dir, "2027-05-31T07:00:00Z", &[]);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("birthday/offer for c001") && stderr.contains("stored payload is damaged"),
        "{stderr}"
    );
    let status = text(&flowc(&dir, &["status"]).stdout);
    assert!(status.contains("stored payload is damaged"), "{status}");
}

/// The birthday example with c001's zone misspelt (`Europe/Pariss`).
fn setup_with_bad_zone(name: &str) -> PathBuf {
    let dir = setup(name);
    let contacts = std::fs::read_to_string(dir.join("contacts.csv")).unwrap();
    assert!(contacts.contains("c001,ana@example.com,Ana,Europe/Paris,"));
    std::fs::write(
        dir.join("contacts.csv"),
        contacts.replace("Ana,Europe/Paris,", "Ana,Europe/Pariss,"),
    )
    .unwrap();
    dir
}

fn fix_zone(dir: &Path) {
    let contacts = std::fs::read_to_string(dir.join("contacts.csv")).unwrap();
    std::fs::write(
        dir.join("contacts.csv"),
        contacts.replace("Europe/Pariss", "Europe/Paris"),
    )
    .unwrap();
}

#[test]
fn an_unknown_zone_holds_the_contacts_sends_until_it_is_fixed() {
    let dir = setup_with_bad_zone("held");
    // c001's offers are due 31 May 08:00 in Paris (06:00Z): held, not sent
    // at a guessed hour, and reported with the file, line and value.
    let first = run_at(&dir, "2027-05-31T07:00:00Z", &["--lookback-hours", "2"]);
    let stderr = text(&first.stderr);
    assert_eq!(first.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "held: contacts.csv:2: contact `c001`: `Europe/Pariss` is not a known IANA time zone"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("flow `birthday` held (pending since 2027-05-31T05:00:00Z)"),
        "{stderr}"
    );
    assert!(
        text(&first.stdout).contains(" 1 held,"),
        "{}",
        text(&first.stdout)
    );
    assert!(outbox(&dir).is_empty(), "{:?}", outbox(&dir));
    let status = text(&flowc(&dir, &["status"]).stdout);
    assert!(status.contains("held: 1"), "{status}");
    assert!(
        status.contains("birthday for c001, since 2027-05-31T05:00:00Z: `Europe/Pariss`"),
        "{status}"
    );
    // Still wrong an hour later: still held since the first window.
    let second = run_at(&dir, "2027-05-31T08:00:00Z", &[]);
    assert!(
        text(&second.stderr).contains("held (pending since 2027-05-31T05:00:00Z)"),
        "{}",
        text(&second.stderr)
    );
    assert!(outbox(&dir).is_empty());
    // Fixed the same local day: the held time is evaluated, the offer
    // goes out once, and the hold ends.
    fix_zone(&dir);
    let fixed = run_at(&dir, "2027-05-31T09:00:00Z", &[]);
    let stderr = text(&fixed.stderr);
    assert_eq!(fixed.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("released: contacts.csv:2: contact `c001`: flow `birthday` evaluated from 2027-05-31T05:00:00Z"),
        "{stderr}"
    );
    assert_eq!(outbox(&dir).len(), 1, "{stderr}");
    let status = text(&flowc(&dir, &["status"]).stdout);
    assert!(status.contains("held: 0"), "{status}");
    let again = run_at(&dir, "2027-05-31T10:00:00Z", &[]);
    assert!(!text(&again.stderr).contains("released"));
    assert_eq!(outbox(&dir).len(), 1);
}

#[test]
fn a_zone_fixed_after_the_deadline_records_the_held_sends_missed() {
    let dir = setup_with_bad_zone("held-late");
    run_at(&dir, "2027-05-31T07:00:00Z", &["--lookback-hours", "2"]);
    fix_zone(&dir);
    // The next day: the offers' local day is over. They are recorded
    // missed, with why, and the exit code says so.
    let late = run_at(&dir, "2027-06-01T07:00:00Z", &[]);
    let stderr = text(&late.stderr);
    assert_eq!(late.status.code(), Some(3), "{stderr}");
    let missed: Vec<&str> = stderr.lines().filter(|l| l.starts_with("MISSED")).collect();
    assert_eq!(missed.len(), 1, "{stderr}");
    assert!(
        missed
            .iter()
            .all(|l| l.contains("for c001 (") && l.contains("held until now: `Europe/Pariss`")),
        "{stderr}"
    );
    assert!(outbox(&dir).is_empty());
    let report = text(&flowc(&dir, &["report"]).stdout);
    assert!(report.contains("missed"), "{report}");
}

#[test]
fn a_send_that_cannot_be_rendered_fails_at_once_and_simulate_says_so() {
    let dir = setup("unrenderable");
    let contacts = std::fs::read_to_string(dir.join("contacts.csv")).unwrap();
    std::fs::write(
        dir.join("contacts.csv"),
        contacts.replace("c001,ana@example.com,", "c001,,"),
    )
    .unwrap();
    let out = run_at(&dir, "2027-05-31T07:00:00Z", &["--lookback-hours", "2"]);
    let stderr = text(&out.stderr);
    // Failed for good (exit 5), not left pending until its day is over.
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    let failed: Vec<&str> = stderr.lines().filter(|l| l.starts_with("FAILED")).collect();
    assert_eq!(failed.len(), 1, "{stderr}");
    assert!(
        failed
            .iter()
            .all(|l| l.contains("for c001 (") && l.contains("cannot render")),
        "{stderr}"
    );
    let status = text(&flowc(&dir, &["status"]).stdout);
    assert!(status.contains("pending: 0"), "{status}");
    // The simulation of the same day says the same.
    let example = Path::new(ROOT).join("examples/birthday");
    let sim = flowc(
        &dir,
        &[
            "simulate",
            example.to_str().unwrap(),
            "--contacts",
            "contacts.csv",
            "--from",
            "2027-05-31T05:00:00Z",
            "--to",
            "2027-05-31T07:00:00Z",
        ],
    );
    let table = text(&sim.stdout);
    assert_eq!(table.matches("failed: cannot render").count(), 1, "{table}");
}
