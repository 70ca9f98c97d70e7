//! `flowc run --smtp` against a real SMTP server (aiosmtpd, started here on
//! loopback, writing a Maildir): the mail that arrives, once each, and
//! nothing lost while the server is down.
//!
//! `.ci/run` installs aiosmtpd (`pip install aiosmtpd`). Elsewhere, without
//! it, this test says so and passes only when not under CI.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_flowc");

fn aiosmtpd_available() -> bool {
    Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success())
}

struct Server {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Server {
    fn start(maildir: &Path) -> Server {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "aiosmtpd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            port,
            maildir: maildir.to_path_buf(),
        }
    }

    fn mails(&self) -> Vec<String> {
        let mut mails: Vec<String> = std::fs::read_dir(self.maildir.join("new"))
            .unwrap()
            .flatten()
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect();
        mails.sort();
        mails
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn flowc(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("FLOWC_TZDIR")
        .output()
        .expect("flowc runs")
}

fn run(dir: &Path, now: &str, smtp: &str) -> Output {
    let example = Path::new(ROOT).join("examples/birthday");
    let contacts = example.join("contacts.csv");
    flowc(
        dir,
        &[
            "run",
            "--program",
            example.to_str().unwrap(),
            "--contacts",
            contacts.to_str().unwrap(),
            "--now",
            now,
            "--smtp",
            smtp,
            "--from-address",
            "Shop <shop@example.com>",
        ],
    )
}

#[test]
fn mail_arrives_once_and_waits_out_an_outage() {
    if !aiosmtpd_available() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must install aiosmtpd (python3 -m pip install aiosmtpd)"
        );
        eprintln!("skipped: aiosmtpd is not installed (python3 -m pip install aiosmtpd)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("flowc-smtp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // The server is down at the first run: both sends wait, with the reason.
    let down_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = run(
        &dir,
        "2027-01-09T22:00:00Z",
        &format!("127.0.0.1:{down_port}"),
    );
    assert_eq!(
        down.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert_eq!(stderr.matches("pending: ").count(), 2, "{stderr}");
    assert!(stderr.contains("cannot reach the SMTP server"), "{stderr}");

    // Up again: the next run delivers them, through a real SMTP exchange.
    let server = Server::start(&dir.join("maildir"));
    let smtp = format!("127.0.0.1:{}", server.port);
    let up = run(&dir, "2027-01-09T23:00:00Z", &smtp);
    assert_eq!(
        up.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let mails = server.mails();
    assert_eq!(mails.len(), 2, "{mails:?}");
    for mail in &mails {
        assert!(mail.contains("From: Shop <shop@example.com>"), "{mail}");
        assert!(mail.contains("To: Dev <dev@example.com>"), "{mail}");
        assert!(
            mail.contains("Subject: Happy birthday, Dev! Your 30% is still waiting"),
            "{mail}"
        );
        assert!(
            mail.contains("List-Unsubscribe: <https://example.invalid/unsubscribe/"),
            "{mail}"
        );
        assert!(
            mail.contains("Happy birthday, Dev!</p>"),
            "personalised body: {mail}"
        );
    }
    // Re-runs deliver nothing twice.
    let again = run(&dir, "2027-01-09T23:30:00Z", &smtp);
    assert!(again.status.success());
    assert_eq!(server.mails().len(), 2);
}
