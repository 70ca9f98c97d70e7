//! What the SMTP tests share: real servers on loopback (aiosmtpd through
//! `smtp_server.py`, postfix's `smtp-sink`), certificates made by openssl,
//! generated contacts, and `flowc` itself.
//!
//! A missing tool skips a test with a message, except under CI (`CI` set),
//! where `.ci/run` installs them all and a missing one is a failure.
#![allow(dead_code)]

pub mod browser;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");
pub const BIN: &str = env!("CARGO_BIN_EXE_flowc");

/// True when `available`; else false (skip) outside CI, a failure in CI.
pub fn have(available: bool, what: &str, install: &str) -> bool {
    if !available {
        assert!(
            std::env::var("CI").is_err(),
            "CI must install {what} ({install})"
        );
        eprintln!("skipped: {what} is not installed ({install})");
    }
    available
}

pub fn aiosmtpd() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    have(ok, "aiosmtpd", "python3 -m pip install aiosmtpd")
}

pub fn openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    have(ok, "openssl", "apt-get install openssl")
}

pub const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

pub fn smtp_sink() -> bool {
    have(
        Path::new(SMTP_SINK).exists(),
        "smtp-sink",
        "apt-get install postfix",
    )
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn wait_for_port(port: u16, child: &mut Child) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            child.try_wait().ok().flatten().is_none(),
            "the server stopped at start"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server process on loopback, stopped when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
}

impl Server {
    /// aiosmtpd through `tests/support/smtp_server.py`, storing into
    /// `maildir`, with extra options (TLS, AUTH, kill switch).
    pub fn aiosmtpd(maildir: &Path, extra: &[&str]) -> Server {
        let port = free_port();
        let script = Path::new(ROOT).join("tests/support/smtp_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string(), "--maildir"])
            .arg(maildir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts");
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            BufReader::new(stdout).read_line(&mut line).expect("ready");
        }
        assert_eq!(line.trim(), "ready", "smtp_server.py did not start");
        wait_for_port(port, &mut child);
        Server {
            child,
            port,
            maildir: maildir.to_path_buf(),
        }
    }

    /// postfix's smtp-sink with `options` (e.g. `-r RCPT`), taking and
    /// dropping mail, or failing as told.
    pub fn smtp_sink(options: &[&str]) -> Server {
        let port = free_port();
        let mut command = Command::new(SMTP_SINK);
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if root {
            command.args(["-u", "nobody"]);
        }
        let mut child = command
            .args(options)
            .arg(format!("127.0.0.1:{port}"))
            .arg("64")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("smtp-sink starts");
        wait_for_port(port, &mut child);
        Server {
            child,
            port,
            maildir: PathBuf::new(),
        }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The messages stored, sorted.
    pub fn mails(&self) -> Vec<String> {
        let mut mails: Vec<String> = ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(self.maildir.join(sub)).ok())
            .flat_map(|entries| entries.flatten())
            .map(|e| std::fs::read_to_string(e.path()).expect("a stored mail"))
            .collect();
        mails.sort();
        mails
    }

    /// The Message-ID of each stored message, sorted (duplicates kept).
    pub fn message_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.mails().iter().map(|m| message_id(m)).collect();
        ids.sort();
        ids
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn message_id(mail: &str) -> String {
    mail.lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// A CA and a server certificate it signed for 127.0.0.1 and localhost:
/// (CA PEM, certificate PEM, key PEM).
pub fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=flowc test CA",
        "-days",
        "2",
    ]);
    openssl(&ca);
    let mut request = vec!["req"];
    request.extend(ec);
    request.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(&request);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// `count` contacts in Paris born on 15 June 1990: each is due the birthday
/// example's offer on 31 May 2027 at 06:00 UTC, with that day (Paris) as
/// its deadline.
pub fn contacts(dir: &Path, count: usize) -> PathBuf {
    let mut csv = String::from("id,email,first_name,time_zone,birthday,email_optin\n");
    for i in 0..count {
        csv.push_str(&format!(
            "p{i:05},p{i:05}@example.com,P{i},Europe/Paris,1990-06-15,true\n"
        ));
    }
    let path = dir.join("many.csv");
    std::fs::write(&path, csv).expect("write contacts");
    path
}

/// When the generated contacts' offers are due, and past their deadline.
pub const OFFERS_DUE: &str = "2027-05-31T07:00:00Z";
pub const OFFERS_LATE: &str = "2027-06-02T07:00:00Z";

/// The birthday example, built once into `dir/b.flowb`.
pub fn build(dir: &Path) -> PathBuf {
    let example = Path::new(ROOT).join("examples/birthday");
    let out = flowc(
        dir,
        &["build", example.to_str().expect("utf-8"), "-o", "b.flowb"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    dir.join("b.flowb")
}

/// `flowc run` in `dir` with the given contacts, clock and extra arguments.
pub fn run(dir: &Path, contacts: &Path, now: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec![
        "run",
        "--program",
        "b.flowb",
        "--contacts",
        contacts.to_str().expect("utf-8"),
        "--now",
        now,
        "--from-address",
        "Shop <shop@example.com>",
    ];
    // A first run looks back a day (what a second run ignores), unless
    // the test says how far.
    if !extra.iter().any(|a| a.starts_with("--lookback")) {
        args.extend(["--lookback", "1d"]);
    }
    args.extend(extra);
    flowc(dir, &args, env)
}

pub fn flowc(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("FLOWC_TZDIR")
        .env_remove("FLOWC_SMTP_USER")
        .env_remove("FLOWC_SMTP_PASSWORD")
        .envs(env.iter().copied())
        .output()
        .expect("flowc runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `flowc_runtime::run::run` called as a library, as the CLI would: the
/// program `dir/{program}`, `dir/contacts.csv`, `dir/flow.db`, no row
/// index, the first run looking back `lookback_hours`.
pub fn library_run(
    dir: &Path,
    program: &str,
    lookback_hours: i64,
    now: &str,
    outbox: &mut dyn flowc_runtime::delivery::Outbox,
) -> flowc_runtime::run::RunSummary {
    use flowc_runtime::{bytecode, calendar::ZoneDb, delivery::RenderSettings};
    use flowc_runtime::{input::ContactReader, run::RunOptions, state::SqliteState};
    let program = bytecode::decode(&std::fs::read(dir.join(program)).unwrap()).unwrap();
    let mut state = SqliteState::open(&dir.join("flow.db")).unwrap();
    let contacts = ContactReader::new(
        &program,
        std::fs::File::open(dir.join("contacts.csv")).unwrap(),
    )
    .unwrap();
    let options = RunOptions {
        now: now.parse().unwrap(),
        lookback: jiff::SignedDuration::from_hours(lookback_hours),
        render: RenderSettings {
            default_sender: "shop <shop@example.com>".into(),
            public_url: Some("https://example.com".into()),
            unsubscribe_mailto: None,
            keys: flowc_runtime::keys::Keys::new(
                b"a test secret of 32 bytes or more".to_vec(),
                Vec::new(),
            ),
        },
        backoff: Default::default(),
        row_index: None,
    };
    flowc_runtime::run::run(
        &program,
        &ZoneDb::bundled(),
        &mut state,
        outbox,
        contacts,
        "contacts.csv",
        Default::default(),
        &options,
    )
    .unwrap()
}
