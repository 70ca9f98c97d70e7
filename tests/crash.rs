//! Crash safety: the real `flowc` delivering 200 e-mails to a real SMTP
//! server (aiosmtpd), killed with SIGKILL at many points, then run again
//! until a run completes. What the server holds is the verdict.
//!
//! Two kinds of kill:
//! - server-driven: the server kills the client when the k-th message's
//!   DATA arrives, before answering 250, and discards that message (as an
//!   MTA drops a DATA it never acknowledged). With one connection nothing
//!   else is in flight then, so the outcome must be exactly once.
//! - at a delay, anywhere: while contacts are read and sends recorded, or
//!   during delivery, including between a server's 250 and its record.
//!   That last window (RFC 1047) cannot be closed by SMTP: a message may
//!   arrive twice. The run after the kill names the sends that were in
//!   flight ("interrupted") and sends them again with the same Message-ID;
//!   a duplicate is allowed only for those, once per time it was named.
//!
//! In every case nothing is lost: each due message arrives at least once.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{text, Server, OFFERS_DUE};

const CONTACTS: usize = 200;
/// One offer per contact.
const MAILS: usize = CONTACTS;

enum Kill {
    /// The server kills the client at the k-th DATA of this run.
    AtMessage(usize),
    /// The test kills it after this long.
    After(Duration),
}

struct Scenario {
    dir: PathBuf,
    contacts: PathBuf,
    server: Server,
    kill_file: PathBuf,
    connections: String,
    /// How many times each Message-ID was named as interrupted.
    interrupted: BTreeMap<String, usize>,
    kills: usize,
}

impl Scenario {
    fn new(name: &str, connections: usize) -> Scenario {
        let dir = support::temp_dir(name);
        support::build(&dir);
        let contacts = support::contacts(&dir, CONTACTS);
        let kill_file = dir.join("kill");
        let server = Server::aiosmtpd(
            &dir.join("maildir"),
            &["--kill-file", kill_file.to_str().unwrap()],
        );
        Scenario {
            dir,
            contacts,
            server,
            kill_file,
            connections: connections.to_string(),
            interrupted: BTreeMap::new(),
            kills: 0,
        }
    }

    /// One `flowc run`, killed as told (if it does not finish first).
    /// True when it completed.
    fn run(&mut self, kill: Option<&Kill>) -> bool {
        let smtp = self.server.address();
        let mut child = Command::new(support::BIN)
            .args(["run", "--program", "b.flowb", "--contacts"])
            .arg(&self.contacts)
            .args([
                "--now",
                OFFERS_DUE,
                "--lookback",
                "1d",
                "--from-address",
                "Shop <shop@example.com>",
            ])
            .args(["--smtp", &smtp, "--smtp-connections", &self.connections])
            .current_dir(&self.dir)
            .env_remove("FLOWC_TZDIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("flowc starts");
        match kill {
            Some(Kill::AtMessage(k)) => {
                let temporary = self.dir.join("kill.tmp");
                std::fs::write(&temporary, format!("{} {k}", child.id())).unwrap();
                std::fs::rename(&temporary, &self.kill_file).unwrap();
            }
            Some(Kill::After(delay)) => {
                std::thread::sleep(*delay);
                let _ = child.kill(); // SIGKILL; harmless if it already ended
            }
            None => {}
        }
        let out = child.wait_with_output().expect("flowc ends");
        let stderr = text(&out.stderr);
        // What this run sent again after an earlier run's kill.
        for line in stderr.lines().filter(|l| {
            l.starts_with("warning: ") && l.contains("in flight when an earlier run stopped")
        }) {
            let id = line
                .rsplit("Message-ID ")
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            *self.interrupted.entry(id).or_default() += 1;
        }
        if out.status.signal() == Some(9) {
            self.kills += 1;
            return false;
        }
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        true
    }

    /// Runs again, without killing, until one completes; then checks what
    /// the server holds.
    fn finish(&mut self, exactly_once: bool) {
        let mut completed = false;
        for _ in 0..3 {
            if self.run(None) {
                completed = true;
                break;
            }
        }
        assert!(completed, "a run without a kill completes");
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for id in self.server.message_ids() {
            *counts.entry(id).or_default() += 1;
        }
        assert_eq!(
            counts.len(),
            MAILS,
            "every due message arrived (kills: {})",
            self.kills
        );
        for (id, count) in &counts {
            let named = self.interrupted.get(id).copied().unwrap_or(0);
            if exactly_once {
                assert_eq!(*count, 1, "{id} arrived {count} times");
            } else {
                assert!(
                    *count <= 1 + named,
                    "{id} arrived {count} times but was in flight at a kill {named} times"
                );
            }
        }
        let duplicates: usize = counts.values().map(|c| c - 1).sum();
        eprintln!(
            "{}: {} kill(s), {} send(s) named in flight, {duplicates} duplicate(s)",
            self.dir.display(),
            self.kills,
            self.interrupted.values().sum::<usize>()
        );
        let status = support::flowc(&self.dir, &["status", "--json"], &[]);
        let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        assert_eq!(status["pending"].as_array().map_or(99, Vec::len), 0);
        // Every copy too many is among the sends the state reports in
        // doubt (until acknowledged): never a silent duplicate.
        let in_doubt = status["in_doubt"].as_array().map_or(0, Vec::len);
        assert!(
            duplicates <= in_doubt,
            "{duplicates} duplicates but {in_doubt} reported in doubt"
        );
        let doubted: BTreeSet<&str> = status["in_doubt"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["message_id"].as_str())
            .collect();
        for (id, count) in &counts {
            assert!(
                *count == 1 || doubted.contains(id.as_str()),
                "{id} arrived {count} times, not reported in doubt"
            );
        }
    }
}

/// Kill points spread over the whole run, from a fixed seed (xorshift):
/// the same points at every test run, no flakiness from chance.
fn delays(count: usize, span: Duration) -> Vec<Duration> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            span.mul_f64((state % 1000) as f64 / 1000.0)
        })
        .collect()
}

#[test]
fn killed_by_the_server_before_its_answer_each_message_arrives_exactly_once() {
    if !support::aiosmtpd() {
        return;
    }
    // One kill per scenario, at the first, an early, a middle and the last
    // message; then one scenario killed three times in a row.
    let plans: [&[usize]; 5] = [&[1], &[7], &[100], &[MAILS], &[30, 1, 50]];
    for (n, plan) in plans.iter().enumerate() {
        let mut scenario = Scenario::new(&format!("crash-server-{n}"), 1);
        for k in *plan {
            assert!(
                !scenario.run(Some(&Kill::AtMessage(*k))),
                "killed at message {k}"
            );
        }
        scenario.finish(true);
        assert_eq!(scenario.kills, plan.len());
        // Each kill left one message in flight (the killed one); the run
        // that completed named those still in flight (a killed run names
        // nothing: it prints at its end).
        let named: usize = scenario.interrupted.values().sum();
        assert!(
            (1..=plan.len()).contains(&named),
            "{:?}",
            scenario.interrupted
        );
    }
}

#[test]
fn killed_by_the_server_with_four_connections_only_in_flight_messages_can_repeat() {
    if !support::aiosmtpd() {
        return;
    }
    for (n, k) in [1, 60, MAILS - 3].into_iter().enumerate() {
        let mut scenario = Scenario::new(&format!("crash-pool-{n}"), 4);
        assert!(!scenario.run(Some(&Kill::AtMessage(k))));
        scenario.finish(false);
        assert!(
            scenario.interrupted.len() <= 4,
            "{:?}",
            scenario.interrupted
        );
    }
}

#[test]
fn killed_at_any_moment_nothing_is_lost_and_only_in_flight_messages_can_repeat() {
    if !support::aiosmtpd() {
        return;
    }
    // How long a whole run takes here, to spread the kills over it.
    let mut timing = Scenario::new("crash-timing", 4);
    let started = Instant::now();
    assert!(timing.run(None));
    let span = started.elapsed();
    drop(timing);

    // One kill each: the run that completes names every send in flight then.
    let mut killed = 0;
    for (n, delay) in delays(10, span).into_iter().enumerate() {
        let connections = if n % 2 == 0 { 4 } else { 1 };
        let mut scenario = Scenario::new(&format!("crash-delay-{n}"), connections);
        scenario.run(Some(&Kill::After(delay)));
        killed += scenario.kills;
        scenario.finish(false);
    }
    // The points fall within a run's length: most runs are really killed.
    assert!(killed >= 5, "only {killed} of 10 runs were killed");
}
