//! The row index (`<state>.rows`): a run over the same contacts file reads
//! only the rows that can be due, and sends exactly what a run reading
//! every row sends, across a changed file, a bad zone and a deleted index.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::{temp_dir, text, ROOT};

fn flowc(dir: &Path, args: &[&str]) -> Output {
    support::flowc(dir, args, &[])
}

/// 400 contacts of the birthday example: birthdays spread over the days
/// around the test's fortnight, zones around the world, one zone unknown.
fn contacts() -> String {
    let zones = [
        "Europe/Paris",
        "America/Vancouver",
        "Pacific/Kiritimati",
        "Asia/Kathmandu",
        "Australia/Lord_Howe",
        "America/Sao_Paulo",
        "",
        "Europe/Pariss",
    ];
    let mut csv = String::from("id,email,first_name,time_zone,birthday,email_optin\n");
    for i in 0..400u32 {
        // Birthdays from 10 March to 10 April, and 29 February.
        let (month, day) = match i % 37 {
            0 => (2, 29),
            k if k <= 21 => (3, 9 + k),
            k => (4, k - 21),
        };
        csv.push_str(&format!(
            "c{i},c{i}@example.com,Ana,{},{}-{month:02}-{day:02},{}\n",
            zones[i as usize % zones.len()],
            1960 + i % 45,
            i % 9 != 0,
        ));
    }
    csv
}

fn project(name: &str) -> PathBuf {
    let dir = temp_dir(&format!("rows-{name}"));
    let example = Path::new(ROOT).join("examples/birthday");
    let built = flowc(&dir, &["build", example.to_str().unwrap(), "-o", "b.flowb"]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    std::fs::write(dir.join("contacts.csv"), contacts()).unwrap();
    dir
}

fn run(dir: &Path, now: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "run",
        "--program",
        "b.flowb",
        "--contacts",
        "contacts.csv",
        "--now",
        now,
        "--json",
        "--lookback-hours",
        "6",
    ];
    args.extend(extra);
    let out = flowc(dir, &args);
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn outbox(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir.join("outbox"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn indexed_runs_read_few_rows_and_send_what_full_reads_send() {
    let indexed = project("indexed");
    let full = project("full");
    let mut now: jiff::Timestamp = "2027-03-10T00:00:00Z".parse().unwrap();
    let (mut read, mut rows, mut missed_indexed, mut missed_full) = (0, 0, 0, 0);
    let mut step = 0;
    while now < "2027-03-24T00:00:00Z".parse().unwrap() {
        step += 1;
        if step == 20 {
            // The export changes: one birthday moves (a full read, a new index).
            for dir in [&indexed, &full] {
                let csv = std::fs::read_to_string(dir.join("contacts.csv")).unwrap();
                let changed = csv.replacen(
                    "c1,c1@example.com,Ana,America/Vancouver,1961-03-10",
                    "c1,c1@example.com,Ana,America/Vancouver,1961-03-16",
                    1,
                );
                assert_ne!(csv, changed);
                std::fs::write(dir.join("contacts.csv"), changed).unwrap();
            }
        }
        if step == 40 {
            // A lost index costs one full read, nothing else.
            std::fs::remove_file(indexed.join("flow.db.rows")).unwrap();
        }
        let at = now.to_string();
        let a = run(&indexed, &at, &[]);
        let b = run(&full, &at, &["--no-row-index"]);
        assert_eq!(a["delivered"], b["delivered"], "{at}: {a:#} {b:#}");
        assert_eq!(a["held_contacts"], b["held_contacts"], "{at}");
        assert_eq!(a["contacts"], b["contacts"], "{at}");
        missed_indexed += a["missed"].as_array().unwrap().len();
        missed_full += b["missed"].as_array().unwrap().len();
        read += a["rows_read"].as_u64().unwrap();
        rows += b["rows_read"].as_u64().unwrap();
        if step == 20 || step == 40 {
            assert_eq!(a["rows_read"], 400, "{at}: {}", a["row_index"]);
        }
        let why = a["row_index"].as_str().unwrap();
        match step {
            1 | 40 => assert!(why.contains("no row index yet"), "{why}"),
            20 => assert!(why.contains("changed since the row index"), "{why}"),
            _ => {}
        }
        now = now
            .checked_add(jiff::SignedDuration::from_hours(4))
            .unwrap();
    }
    assert_eq!(missed_indexed, missed_full);
    let sent = outbox(&indexed);
    assert!(sent.len() > 100, "{}", sent.len());
    assert_eq!(sent, outbox(&full), "the same messages");
    // Bad zones are read every time (their holds are reported each run);
    // the rest only when due: far fewer rows than the whole file each time.
    eprintln!("{read} rows read with the index, {rows} without");
    assert!(
        read * 4 < rows,
        "{read} rows read with the index, {rows} without"
    );
}
