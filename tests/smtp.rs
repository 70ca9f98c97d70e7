//! `flowc run --smtp` against a real SMTP server (aiosmtpd, started here on
//! loopback, writing a Maildir): the mail that arrives, once each; nothing
//! lost while the server is down; STARTTLS and implicit TLS verified
//! against a private CA; a refused password that appears nowhere; many
//! messages through a pool of connections.
//!
//! `.ci/run` installs aiosmtpd and openssl. Elsewhere, without them, these
//! tests say so and pass only when not under CI.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use support::{text, Server};

fn example_run(
    dir: &Path,
    now: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    support::build(dir);
    let contacts = Path::new(support::ROOT).join("examples/birthday/contacts.csv");
    support::run(dir, &contacts, now, extra, env)
}

fn assert_birthday_mails(mails: &[String]) {
    assert_eq!(mails.len(), 1, "{mails:?}");
    for mail in mails {
        assert!(mail.contains("From: Shop <shop@example.com>"), "{mail}");
        assert!(mail.contains("To: Ana <ana@example.com>"), "{mail}");
        assert!(
            mail.contains("Subject: Ana, your birthday gift is waiting"),
            "{mail}"
        );
        assert!(
            mail.contains("List-Unsubscribe: <https://example.invalid/u/"),
            "{mail}"
        );
        assert!(
            mail.contains("Happy birthday in advance, Ana!</p>"),
            "personalised body: {mail}"
        );
    }
}

#[test]
fn mail_arrives_once_and_waits_out_an_outage() {
    if !support::aiosmtpd() {
        return;
    }
    let dir = support::temp_dir("smtp-outage");

    // The server is down at the first run: the send waits, with the reason.
    let down = format!("127.0.0.1:{}", support::free_port());
    let out = example_run(&dir, "2027-05-31T06:00:00Z", &["--smtp", &down], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("pending: ").count(), 1, "{stderr}");
    assert!(stderr.contains("cannot reach the SMTP server"), "{stderr}");

    // Up again: the next run delivers them, through a real SMTP exchange.
    let server = Server::aiosmtpd(&dir.join("maildir"), &[]);
    let smtp = server.address();
    let out = example_run(&dir, "2027-05-31T07:00:00Z", &["--smtp", &smtp], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("(no TLS, 4 connections)"),
        "{}",
        text(&out.stdout)
    );
    assert_birthday_mails(&server.mails());
    // Re-runs deliver nothing twice.
    let again = example_run(&dir, "2027-05-31T07:30:00Z", &["--smtp", &smtp], &[]);
    assert!(again.status.success());
    assert_eq!(server.mails().len(), 1);
}

#[test]
fn starttls_is_verified_against_the_given_ca_and_logs_in() {
    if !support::aiosmtpd() || !support::openssl() {
        return;
    }
    let dir = support::temp_dir("smtp-starttls");
    let (ca, cert, key) = support::certificates(&dir);
    let server = Server::aiosmtpd(
        &dir.join("maildir"),
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--auth",
            "shop:s3cret",
        ],
    );
    let smtp = server.address();
    let login = [
        ("FLOWC_SMTP_USER", "shop"),
        ("FLOWC_SMTP_PASSWORD", "s3cret"),
    ];

    // Without the CA the certificate is not trusted: nothing goes, in clear
    // or otherwise, and the send waits with the reason.
    let out = example_run(
        &dir,
        "2027-05-31T06:00:00Z",
        &["--smtp", &smtp, "--smtp-tls", "starttls"],
        &login,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("pending: ").count(), 1, "{stderr}");
    assert!(
        stderr.contains("failed STARTTLS") && stderr.contains("UnknownIssuer"),
        "{stderr}"
    );
    assert!(server.mails().is_empty());

    // With it (here from the environment), the retry goes through.
    let ca_env = [
        login[0],
        login[1],
        ("FLOWC_SMTP_CA_FILE", ca.to_str().unwrap()),
        ("FLOWC_SMTP_TLS", "starttls"),
    ];
    let out = example_run(&dir, "2027-05-31T07:00:00Z", &["--smtp", &smtp], &ca_env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 delivered (e-mail by SMTP to"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("(STARTTLS, 4 connections)"));
    assert_birthday_mails(&server.mails());
}

#[test]
fn implicit_tls_delivers() {
    if !support::aiosmtpd() || !support::openssl() {
        return;
    }
    let dir = support::temp_dir("smtp-tls");
    let (ca, cert, key) = support::certificates(&dir);
    let server = Server::aiosmtpd(
        &dir.join("maildir"),
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--implicit-tls",
        ],
    );
    let smtp = server.address();
    let out = example_run(
        &dir,
        "2027-05-31T06:00:00Z",
        &[
            "--smtp",
            &smtp,
            "--smtp-tls",
            "tls",
            "--smtp-ca-file",
            ca.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("(TLS, 4 connections)"),
        "{}",
        text(&out.stdout)
    );
    assert_birthday_mails(&server.mails());
}

#[test]
fn a_refused_password_appears_in_no_error_summary_or_report() {
    if !support::aiosmtpd() || !support::openssl() {
        return;
    }
    let dir = support::temp_dir("smtp-secret");
    let (ca, cert, key) = support::certificates(&dir);
    let server = Server::aiosmtpd(
        &dir.join("maildir"),
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--auth",
            "shop:the-right-one",
        ],
    );
    let password = "Wr0ng-pa55word-XyZ";
    let env = [
        ("FLOWC_SMTP_USER", "shop"),
        ("FLOWC_SMTP_PASSWORD", password),
        ("FLOWC_SMTP_CA_FILE", ca.to_str().unwrap()),
    ];
    let smtp = server.address();
    let out = example_run(
        &dir,
        "2027-05-31T06:00:00Z",
        &["--smtp", &smtp, "--smtp-tls", "starttls", "--json"],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("refused the credentials"), "{stderr}");
    assert!(
        stderr.contains("535"),
        "the server's answer is kept: {stderr}"
    );
    let report = support::flowc(&dir, &["report"], &[]);
    let status = support::flowc(&dir, &["status", "--json"], &[]);
    assert!(text(&status.stdout).contains("refused the credentials"));
    let state = std::fs::read(dir.join("flow.db")).unwrap();
    let wal = std::fs::read(dir.join("flow.db-wal")).unwrap_or_default();
    let everything = [
        text(&out.stdout),
        stderr,
        text(&report.stdout),
        text(&report.stderr),
        text(&status.stdout),
        text(&state),
        text(&wal),
    ]
    .concat();
    // In clear, and as AUTH PLAIN and AUTH LOGIN put it on the wire.
    for secret in [password, "V3IwbmctcGE1NXdvcmQtWHla", "AHNob3AAV3Iwbmctc"] {
        assert!(!everything.contains(secret), "`{secret}` leaked");
    }
    assert!(server.mails().is_empty());

    // Sending a password in clear to another host is refused up front.
    let out = example_run(
        &dir,
        "2027-05-31T06:30:00Z",
        &["--smtp", "mail.example.invalid:25", "--smtp-tls", "none"],
        &env,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unencrypted"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains(password));
}

#[test]
fn a_pool_of_connections_delivers_each_message_once() {
    if !support::aiosmtpd() {
        return;
    }
    let dir = support::temp_dir("smtp-pool");
    support::build(&dir);
    let contacts = support::contacts(&dir, 600);
    let server = Server::aiosmtpd(&dir.join("maildir"), &[]);
    let smtp = server.address();
    let out = support::run(
        &dir,
        &contacts,
        support::OFFERS_DUE,
        &["--smtp", &smtp, "--smtp-connections", "8"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("600 delivered"),
        "{}",
        text(&out.stdout)
    );
    let ids = server.message_ids();
    assert_eq!(ids.len(), 600);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 600, "each once");
    let again = support::run(
        &dir,
        &contacts,
        "2027-05-31T07:10:00Z",
        &["--smtp", &smtp],
        &[],
    );
    assert!(again.status.success());
    assert_eq!(server.mails().len(), 600);
}

#[test]
fn starttls_asked_of_a_server_without_it_sends_nothing_in_clear() {
    if !support::aiosmtpd() {
        return;
    }
    let dir = support::temp_dir("smtp-no-starttls");
    let server = Server::aiosmtpd(&dir.join("maildir"), &[]);
    let smtp = server.address();
    let out = example_run(
        &dir,
        "2027-05-31T06:00:00Z",
        &["--smtp", &smtp, "--smtp-tls", "starttls"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr
            .matches("failed STARTTLS: internal client error: STARTTLS is not supported")
            .count(),
        1,
        "{stderr}"
    );
    assert!(server.mails().is_empty(), "no downgrade to plain text");
}

#[test]
fn a_server_down_is_tried_once_per_run_and_every_send_waits() {
    let dir = support::temp_dir("smtp-down");
    support::build(&dir);
    // 600 sends: three batches. The first finds the server down; the next
    // two do not try again in this run.
    let contacts = support::contacts(&dir, 600);
    let down = format!("127.0.0.1:{}", support::free_port());
    let out = support::run(
        &dir,
        &contacts,
        support::OFFERS_DUE,
        &["--smtp", &down],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("pending: ").count(), 600);
    assert_eq!(stderr.matches("cannot reach the SMTP server").count(), 600);
    assert_eq!(
        stderr.matches("(earlier in this run)").count(),
        600 - flowc_runtime::run::BATCH,
        "{}",
        &stderr[..2000.min(stderr.len())]
    );
}
