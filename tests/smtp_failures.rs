//! Failure injection with postfix's `smtp-sink`: a server that answers 4xx
//! to RCPT or to the end of DATA, drops the connection after the message
//! without answering, or rejects for good (5xx). Nothing is lost: every due
//! send is delivered or pending with the server's reason; the next run
//! against a healthy server (aiosmtpd) delivers the pending ones exactly
//! once; a 5xx is recorded as failed and not retried; sends past their
//! deadline become missed (exit 3).
//!
//! `.ci/run` installs postfix (for the smtp-sink binary only) and aiosmtpd.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use support::{text, Server, OFFERS_DUE};

const CONTACTS: usize = 40;
/// One offer per contact.
const SENDS: usize = CONTACTS;

fn setup(name: &str) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    if !support::smtp_sink() || !support::aiosmtpd() {
        return None;
    }
    let dir = support::temp_dir(name);
    support::build(&dir);
    let contacts = support::contacts(&dir, CONTACTS);
    Some((dir, contacts))
}

fn smtp_run(dir: &Path, contacts: &Path, now: &str, server: &Server) -> std::process::Output {
    let smtp = server.address();
    support::run(
        dir,
        contacts,
        now,
        &["--smtp", &smtp, "--smtp-connections", "4"],
        &[],
    )
}

/// The run an hour after the failure, against a healthy aiosmtpd: it
/// exits 0 and delivers every send.
fn healthy_run(dir: &Path, contacts: &Path) -> (Server, std::process::Output) {
    let healthy = Server::aiosmtpd(&dir.join("maildir"), &[]);
    let out = smtp_run(dir, contacts, "2027-05-31T08:00:00Z", &healthy);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("{SENDS} delivered")),
        "{}",
        text(&out.stdout)
    );
    (healthy, out)
}

fn pending_count(dir: &Path) -> usize {
    let out = support::flowc(dir, &["status", "--json"], &[]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    status["pending"].as_array().map_or(0, Vec::len)
}

/// A failing server leaves every send pending with `reason`; a healthy one
/// then delivers each exactly once, and nothing more afterwards.
fn soft_failure_then_recovery(name: &str, sink_options: &[&str], reason: &str) {
    let Some((dir, contacts)) = setup(name) else {
        return;
    };
    let failing = Server::smtp_sink(sink_options);
    let out = smtp_run(&dir, &contacts, OFFERS_DUE, &failing);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(" 0 delivered"),
        "{}",
        text(&out.stdout)
    );
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("pending: ").count(), SENDS, "{stderr}");
    assert_eq!(
        stderr.matches(reason).count(),
        SENDS,
        "each with the reason `{reason}`: {stderr}"
    );
    assert_eq!(pending_count(&dir), SENDS);
    drop(failing);

    let (healthy, out) = healthy_run(&dir, &contacts);
    assert!(text(&out.stdout).contains(&format!("{SENDS} retried")));
    let ids = healthy.message_ids();
    assert_eq!(ids.len(), SENDS);
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        SENDS,
        "each once"
    );
    assert_eq!(pending_count(&dir), 0);

    let out = smtp_run(&dir, &contacts, "2027-05-31T09:00:00Z", &healthy);
    assert!(out.status.success());
    assert_eq!(healthy.mails().len(), SENDS, "nothing twice");
}

#[test]
fn a_4xx_to_rcpt_leaves_every_send_pending_then_each_goes_once() {
    soft_failure_then_recovery(
        "sink-rcpt",
        &["-r", "RCPT"],
        "transient error (450): 4.3.0 Error: command failed",
    );
}

#[test]
fn a_4xx_after_the_data_leaves_every_send_pending_then_each_goes_once() {
    soft_failure_then_recovery(
        "sink-data",
        &["-r", "."],
        "transient error (450): 4.3.0 Error: command failed",
    );
}

#[test]
fn a_disconnect_instead_of_the_answer_leaves_every_send_in_doubt_until_acknowledged() {
    // The server had the whole message but never said 250: it may hold
    // it. In doubt, sent again (same Message-ID), reported until acked.
    in_doubt_then_acknowledged(
        "sink-drop",
        &["-q", "."],
        &[],
        "did not answer after the whole message was sent",
    );
}

#[test]
fn an_answer_after_the_timeout_leaves_every_send_in_doubt() {
    in_doubt_then_acknowledged(
        "sink-slow",
        &["-W", ".:3"],
        &["--smtp-timeout", "1"],
        "no answer in 1 s",
    );
}

fn in_doubt_then_acknowledged(name: &str, sink: &[&str], extra: &[&str], reason: &str) {
    let Some((dir, contacts)) = setup(name) else {
        return;
    };
    let failing = Server::smtp_sink(sink);
    let smtp = failing.address();
    let mut args = vec!["--smtp", &smtp, "--smtp-connections", "4"];
    args.extend(extra);
    let out = support::run(&dir, &contacts, OFFERS_DUE, &args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.matches("IN DOUBT: ").count(),
        SENDS,
        "every send in doubt: {stderr}"
    );
    assert!(stderr.contains(reason), "{stderr}");
    assert!(stderr.contains("@flowc>"), "with its Message-ID: {stderr}");
    drop(failing);
    // Sent again to a healthy server: each once there, still in doubt
    // (the first server may hold a copy) in the summary and the status.
    let (healthy, out) = healthy_run(&dir, &contacts);
    assert!(
        text(&out.stdout).contains(&format!("{SENDS} in doubt")),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(healthy.message_ids().len(), SENDS);
    let status = support::flowc(&dir, &["status", "--json"], &[]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
    assert_eq!(status["in_doubt"].as_array().map_or(0, Vec::len), SENDS);
    let report = text(&support::flowc(&dir, &["report"], &[]).stdout);
    assert!(report.contains(&format!("in doubt: {SENDS}")), "{report}");
    // One acknowledged by its Message-ID, then the rest.
    let first = status["in_doubt"][0]["message_id"].as_str().expect("an id");
    let one = support::flowc(&dir, &["ack", first], &[]);
    assert!(
        text(&one.stdout).contains("acknowledged 1 "),
        "{}",
        text(&one.stdout)
    );
    let all = support::flowc(&dir, &["ack", "--all"], &[]);
    assert!(
        text(&all.stdout).contains(&format!("acknowledged {} ", SENDS - 1)),
        "{}",
        text(&all.stdout)
    );
    let out = smtp_run(&dir, &contacts, "2027-05-31T09:00:00Z", &healthy);
    assert!(
        text(&out.stdout).contains(" 0 in doubt"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(healthy.mails().len(), SENDS, "nothing twice");
}

#[test]
fn a_421_and_hang_up_at_mail_leaves_every_send_pending() {
    soft_failure_then_recovery(
        "sink-421",
        &["-Q", "MAIL"],
        "transient error (421): 4.0.0 Server closing connection",
    );
}

#[test]
fn a_5xx_fails_for_good_and_is_not_retried() {
    let Some((dir, contacts)) = setup("sink-5xx") else {
        return;
    };
    let failing = Server::smtp_sink(&["-f", "RCPT"]);
    let out = smtp_run(&dir, &contacts, OFFERS_DUE, &failing);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("FAILED: ").count(), SENDS, "{stderr}");
    assert_eq!(
        stderr
            .matches("permanent error (500): 5.3.0 Error: command failed")
            .count(),
        SENDS
    );
    assert!(text(&out.stdout).contains(&format!("{SENDS} failed")));
    assert_eq!(pending_count(&dir), 0);
    let report = text(&support::flowc(&dir, &["report"], &[]).stdout);
    let failed: Vec<&str> = report.lines().filter(|l| l.contains(" failed ")).collect();
    assert_eq!(failed.len(), 1, "one line for the flow: {report}");
    for line in failed {
        assert!(
            line.contains(&format!("{CONTACTS}  the SMTP server")),
            "{line}"
        );
        assert!(line.contains("(500): 5.3.0"), "{line}");
    }

    let healthy = Server::aiosmtpd(&dir.join("maildir"), &[]);
    let out = smtp_run(&dir, &contacts, "2027-05-31T08:00:00Z", &healthy);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(" 0 retried"),
        "{}",
        text(&out.stdout)
    );
    assert!(healthy.mails().is_empty(), "a 5xx is not sent again");
}

#[test]
fn sends_still_failing_past_their_deadline_are_missed() {
    let Some((dir, contacts)) = setup("sink-late") else {
        return;
    };
    let failing = Server::smtp_sink(&["-r", "RCPT"]);
    let out = smtp_run(&dir, &contacts, OFFERS_DUE, &failing);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(pending_count(&dir), SENDS);

    // Two days later the server is fine, but the offers' day is over.
    let healthy = Server::aiosmtpd(&dir.join("maildir"), &[]);
    let out = smtp_run(&dir, &contacts, support::OFFERS_LATE, &healthy);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        text(&out.stdout).contains(&format!(" {SENDS} missed,")),
        "{}",
        text(&out.stdout)
    );
    assert!(stderr.contains("MISSED: "), "{stderr}");
    assert!(stderr.contains("past its deadline"), "{stderr}");
    assert!(
        stderr.contains("(450): 4.3.0"),
        "the last reason is kept: {stderr}"
    );
    assert!(healthy.mails().is_empty());
    assert_eq!(pending_count(&dir), 0);
}
