//! SMS, push, tasks and named webhooks as signed HTTP POSTs, against a real
//! HTTP server on loopback (a small `TcpListener` thread that parses each
//! request, records it and answers with the status it is told to). The
//! signature is checked with `ring`, an implementation independent of the
//! one flowc signs with. Without endpoints, the same actions go to JSON
//! Lines files: once each, across a crash and a torn last line.

mod support;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use flowc_runtime::delivery::{DeliveryError, FileOutbox, Outbox};

const BIN: &str = env!("CARGO_BIN_EXE_flowc");
const SECRET: &str = "s3cr3t-global-signing-key";
const CRM_SECRET: &str = "crm-only-s3cr3t";
const TOKEN: &str = "tok3n-in-the-query-string";

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// Checks `X-Flowc-Signature` with ring's HMAC-SHA256.
    fn signed_with(&self, secret: &str) -> bool {
        let timestamp = self.header("X-Flowc-Timestamp");
        let Some(hex) = self.header("X-Flowc-Signature").strip_prefix("sha256=") else {
            return false;
        };
        let Some(tag) = decode_hex(hex) else {
            return false;
        };
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let mut message = format!("{timestamp}.").into_bytes();
        message.extend_from_slice(&self.body);
        ring::hmac::verify(&key, &message, &tag).is_ok()
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A loopback HTTP/1.1 server: records requests, answers with the next
/// scripted status (200 once the script is used up).
struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    fn start(script: &[u16]) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let (seen, answers) = (requests.clone(), script);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (seen, answers) = (seen.clone(), answers.clone());
                std::thread::spawn(move || serve(stream, &seen, &answers));
            }
        });
        Server { port, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}?token={TOKEN}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }
}

/// Requests on one connection, kept alive, until the client closes it.
fn serve(stream: TcpStream, seen: &Mutex<Vec<Request>>, answers: &Mutex<VecDeque<u16>>) {
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_string(), value.trim().to_string()));
            }
        }
        let length = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        seen.lock().expect("lock").push(Request {
            method,
            path,
            headers,
            body,
        });
        let status = answers.lock().expect("lock").pop_front().unwrap_or(200);
        let answer = format!("HTTP/1.1 {status} Scripted\r\nContent-Length: 2\r\n\r\nok");
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowc-webhooks-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("templates")).expect("temp dir");
    dir
}

/// A project whose one rule, on each contact's birthday at 09:00 UTC,
/// does `actions`; two contacts born on 15 June.
fn project(name: &str, actions: &str) -> PathBuf {
    let dir = temp_dir(name);
    let write = |file: &str, text: &str| std::fs::write(dir.join(file), text).expect("write");
    write(
        "flow.toml",
        "[project]\ndefault_zone = \"UTC\"\n\n[contact]\nid = \"text\"\nphone = \"phone\"\nfirst_name = \"text\"\nbirthday = { type = \"date\", yearly = true }\n\n[webhooks.crm]\nurl_env = \"CRM_URL\"\nsecret_env = \"CRM_SECRET\"\n",
    );
    write(
        "greetings.flow",
        &format!("title: \"Greetings\"\nsend_at: 09:00\n\non birthday {actions}\n"),
    );
    write(
        "templates/greet.sms.txt",
        "Happy birthday {{ first_name }}!",
    );
    write(
        "templates/hello.push.txt",
        "A gift is waiting, {{ first_name }}",
    );
    write(
        "contacts.csv",
        "id,phone,first_name,birthday\nc1,+33600000001,Ana,1990-06-15\nc2,+33600000002,Bram,1985-06-15\n",
    );
    dir
}

/// `flowc run` at `now` in `dir`, with `env` on top of a clean environment.
fn run_at(dir: &Path, now: &str, env: &[(&str, String)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args([
            "run",
            "--program",
            ".",
            "--contacts",
            "contacts.csv",
            "--now",
            now,
            "--lookback",
            "1d",
        ])
        .current_dir(dir)
        .env_remove("FLOWC_TZDIR");
    for variable in [
        "FLOWC_SMS_URL",
        "FLOWC_PUSH_URL",
        "FLOWC_TASK_URL",
        "FLOWC_WEBHOOK_SECRET",
        "CRM_URL",
        "CRM_SECRET",
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command.env_remove(variable);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("flowc runs")
}

fn flowc(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("flowc runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Everything a run left for people to read: its output, the report and
/// status, the state file and the outbox.
fn everything_readable(dir: &Path, outputs: &[&Output]) -> Vec<u8> {
    let mut all = Vec::new();
    for output in outputs {
        all.extend_from_slice(&output.stdout);
        all.extend_from_slice(&output.stderr);
    }
    for args in [&["report"][..], &["report", "--json"], &["status"]] {
        let output = flowc(dir, args);
        all.extend_from_slice(&output.stdout);
        all.extend_from_slice(&output.stderr);
    }
    all.extend(std::fs::read(dir.join("flow.db")).unwrap_or_default());
    for entry in std::fs::read_dir(dir.join("outbox")).into_iter().flatten() {
        all.extend(std::fs::read(entry.expect("entry").path()).unwrap_or_default());
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn every_channel_is_posted_signed_once_across_two_runs() {
    let dir = project(
        "channels",
        "send sms greet then send push hello then task call note \"wish them well\" then webhook crm with tier = \"gold\" then tag \"greeted\"",
    );
    let server = Server::start(&[]);
    let env = [
        ("FLOWC_SMS_URL", server.url("/sms")),
        ("FLOWC_PUSH_URL", server.url("/push")),
        ("FLOWC_TASK_URL", server.url("/task")),
        ("FLOWC_WEBHOOK_SECRET", SECRET.to_string()),
        ("CRM_URL", server.url("/crm")),
        ("CRM_SECRET", CRM_SECRET.to_string()),
    ];
    let first = run_at(&dir, "2027-06-15T12:00:00Z", &env);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("2 delivered"),
        "{}",
        text(&first.stdout)
    );
    let second = run_at(&dir, "2027-06-15T13:00:00Z", &env);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));

    let requests = server.requests();
    assert_eq!(
        requests.len(),
        8,
        "4 actions x 2 contacts, once: {requests:#?}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut keys = std::collections::BTreeSet::new();
    for request in &requests {
        let body = request.json();
        assert_eq!(request.method, "POST");
        assert_eq!(request.header("Content-Type"), "application/json");
        assert_eq!(
            request.header("Idempotency-Key"),
            body["id"].as_str().unwrap()
        );
        assert!(keys.insert(request.header("Idempotency-Key").to_string()));
        let timestamp: u64 = request
            .header("X-Flowc-Timestamp")
            .parse()
            .expect("seconds");
        assert!(now.abs_diff(timestamp) < 600, "{timestamp} vs {now}");
        let kind = body["kind"].as_str().unwrap();
        let (path, secret) = match kind {
            "webhook" => ("/crm", CRM_SECRET),
            "task" => ("/task", SECRET),
            other => (if other == "sms" { "/sms" } else { "/push" }, SECRET),
        };
        assert_eq!(request.path, format!("{path}?token={TOKEN}"));
        assert!(request.signed_with(secret), "{kind}: {request:?}");
        let other = if secret == SECRET { CRM_SECRET } else { SECRET };
        assert!(
            !request.signed_with(other),
            "the signature depends on the key"
        );
        let mut tampered = request.clone();
        tampered.body.push(b' ');
        assert!(
            !tampered.signed_with(secret),
            "the signature covers the body"
        );
    }
    let bodies: Vec<serde_json::Value> = requests.iter().map(Request::json).collect();
    let find = |kind: &str, contact: &str| {
        bodies
            .iter()
            .find(|b| b["kind"] == kind && (b["contact"] == contact || b["to"] == contact))
            .unwrap_or_else(|| panic!("no {kind} for {contact}: {bodies:#?}"))
    };
    assert_eq!(find("sms", "+33600000001")["text"], "Happy birthday Ana!");
    assert_eq!(
        find("sms", "+33600000001")["contact"],
        "c1",
        "who the SMS is for"
    );
    assert_eq!(find("push", "c2")["text"], "A gift is waiting, Bram");
    assert_eq!(find("task", "c1")["note"], "wish them well");
    assert_eq!(find("webhook", "c2")["data"]["tier"], "gold");
    assert_eq!(find("webhook", "c2")["webhook"], "crm");

    // The tag has no endpoint: its file, one line per contact.
    let updates = std::fs::read_to_string(dir.join("outbox/updates.jsonl")).expect("updates");
    assert_eq!(updates.lines().count(), 2, "{updates}");
    assert!(!dir.join("outbox/sms.jsonl").exists());

    let readable = everything_readable(&dir, &[&first, &second]);
    for secret in [SECRET, CRM_SECRET, TOKEN] {
        assert!(!contains(&readable, secret), "`{secret}` leaked");
    }
}

#[test]
fn a_500_leaves_the_send_pending_and_the_next_run_delivers_it_once() {
    let dir = project("outage", "send sms greet");
    let server = Server::start(&[500, 503]);
    let env = [
        ("FLOWC_SMS_URL", server.url("/sms")),
        ("FLOWC_WEBHOOK_SECRET", SECRET.to_string()),
    ];
    let first = run_at(&dir, "2027-06-15T12:00:00Z", &env);
    // Pending is not an error: the run did its job (docs/operations.md).
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let stderr = text(&first.stderr);
    let host = format!("127.0.0.1:{}", server.port);
    assert!(
        stderr.contains(&format!("sms at {host} answered 500; retried next run"))
            && stderr.contains(&format!("sms at {host} answered 503")),
        "{stderr}"
    );
    let status = text(&flowc(&dir, &["status"]).stdout);
    assert!(status.contains("pending: 2"), "{status}");
    assert!(status.contains("answered 500"), "{status}");

    let second = run_at(&dir, "2027-06-15T13:00:00Z", &env);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    assert!(
        text(&second.stdout).contains("2 delivered"),
        "{}",
        text(&second.stdout)
    );
    let third = run_at(&dir, "2027-06-15T14:00:00Z", &env);
    assert!(
        text(&third.stdout).contains("0 delivered"),
        "{}",
        text(&third.stdout)
    );

    let requests = server.requests();
    assert_eq!(
        requests.len(),
        4,
        "two refused, then one each: {requests:#?}"
    );
    for contact in ["+33600000001", "+33600000002"] {
        let tries: Vec<&Request> = requests
            .iter()
            .filter(|r| r.json()["to"] == contact)
            .collect();
        assert_eq!(tries.len(), 2, "{contact}");
        assert_eq!(tries[0].body, tries[1].body, "a retry sends the same bytes");
        assert_eq!(
            tries[0].header("Idempotency-Key"),
            tries[1].header("Idempotency-Key")
        );
        assert!(tries.iter().all(|r| r.signed_with(SECRET)));
    }
    let readable = everything_readable(&dir, &[&first, &second, &third]);
    for secret in [SECRET, TOKEN] {
        assert!(!contains(&readable, secret), "`{secret}` leaked");
    }
}

#[test]
fn an_endpoint_that_keeps_failing_is_paused_for_the_rest_of_the_run() {
    let dir = project("paused", "send sms greet");
    let mut contacts = std::fs::read_to_string(dir.join("contacts.csv")).unwrap();
    for n in 3..=6 {
        contacts.push_str(&format!("c{n},+3360000000{n},C{n},1990-06-15\n"));
    }
    std::fs::write(dir.join("contacts.csv"), contacts).unwrap();
    let server = Server::start(&[500, 500, 502]);
    let env = [
        ("FLOWC_SMS_URL", server.url("/sms")),
        ("FLOWC_WEBHOOK_SECRET", SECRET.to_string()),
    ];
    let first = run_at(&dir, "2027-06-15T12:00:00Z", &env);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(server.requests().len(), 3, "three tries, then a pause");
    let stderr = text(&first.stderr);
    assert_eq!(stderr.matches("pending: ").count(), 6, "{stderr}");
    assert_eq!(
        stderr
            .matches("not tried, 3 requests in a row failed in this run (last: sms at")
            .count(),
        3,
        "{stderr}"
    );
    let second = run_at(&dir, "2027-06-15T13:00:00Z", &env);
    assert!(
        text(&second.stdout).contains("6 delivered"),
        "{}",
        text(&second.stdout)
    );
    assert_eq!(server.requests().len(), 3 + 6);
}

#[test]
fn a_refusal_fails_for_good_and_no_server_is_kept_pending_with_its_reason() {
    let dir = project("refused", "webhook crm with tier = \"gold\"");
    let server = Server::start(&[422]);
    let env = |url: String| [("CRM_URL", url), ("CRM_SECRET", CRM_SECRET.to_string())];
    let first = run_at(&dir, "2027-06-15T12:00:00Z", &env(server.url("/crm")));
    // Refused for good: recorded as failed (exit 5), not retried.
    assert_eq!(first.status.code(), Some(5), "{}", text(&first.stderr));
    let stderr = text(&first.stderr);
    let host = format!("127.0.0.1:{}", server.port);
    assert!(
        stderr.contains("FAILED: ")
            && stderr.contains(&format!("webhook crm at {host} refused it with 422")),
        "{stderr}"
    );
    // The second contact got a 200 (the script had one refusal).
    assert!(text(&first.stdout).contains("1 delivered"));
    let again = run_at(&dir, "2027-06-15T13:00:00Z", &env(server.url("/crm")));
    assert_eq!(server.requests().len(), 2, "a failed send is not retried");
    assert!(again.status.success(), "{}", text(&again.stderr));

    let unreachable = project("unreachable", "webhook crm with tier = \"gold\"");
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("address").port();
    drop(closed);
    let nobody = format!("http://127.0.0.1:{closed_port}/crm?token={TOKEN}");
    let second = run_at(&unreachable, "2027-06-15T12:00:00Z", &env(nobody));
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    let stderr = text(&second.stderr);
    assert!(
        stderr.contains(&format!(
            "webhook crm at 127.0.0.1:{closed_port}: cannot connect"
        )),
        "{stderr}"
    );
    let mut readable = everything_readable(&dir, &[&first, &again]);
    readable.extend(everything_readable(&unreachable, &[&second]));
    for secret in [CRM_SECRET, TOKEN] {
        assert!(!contains(&readable, secret), "`{secret}` leaked");
    }
}

#[test]
fn a_bad_url_or_a_missing_secret_stops_the_run_before_anything_happens() {
    let dir = project("usage", "send sms greet");
    let bad = format!("ftp://sms.example.com/?token={TOKEN}");
    let output = run_at(
        &dir,
        "2027-06-15T12:00:00Z",
        &[
            ("FLOWC_SMS_URL", bad),
            ("FLOWC_WEBHOOK_SECRET", SECRET.into()),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("FLOWC_SMS_URL is not an http:// or https:// URL"),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN), "{stderr}");
    assert!(!dir.join("flow.db").exists(), "nothing recorded");

    let output = run_at(
        &dir,
        "2027-06-15T12:00:00Z",
        &[(
            "FLOWC_SMS_URL",
            format!("https://sms.example.com/?token={TOKEN}"),
        )],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("FLOWC_SMS_URL is set but no signing secret is"),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN), "{stderr}");
}

/// A folder outbox that dies (like a killed process) after writing.
struct Dying(FileOutbox);

impl Outbox for Dying {
    fn deliver(&mut self, payload: &serde_json::Value) -> Result<(), DeliveryError> {
        self.0.deliver(payload)?;
        panic!("killed between delivery and its record");
    }
}

fn library_run(dir: &Path, now: &str, outbox: &mut dyn Outbox) -> flowc_runtime::run::RunSummary {
    support::library_run(dir, "p.flowb", 24, now, outbox)
}

#[test]
fn without_endpoints_each_action_is_one_line_once_across_a_crash_and_a_torn_line() {
    let dir = project("jsonl", "send sms greet then task call then webhook crm");
    let built = flowc(&dir, &["build", ".", "-o", "p.flowb"]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    let outbox = dir.join("outbox");
    let crashed = std::panic::catch_unwind(|| {
        let mut dying = Dying(FileOutbox::new(&outbox).unwrap());
        library_run(&dir, "2027-06-15T12:00:00Z", &mut dying)
    });
    assert!(crashed.is_err());
    let sms = outbox.join("sms.jsonl");
    let before = std::fs::read_to_string(&sms).expect("sms.jsonl");
    assert_eq!(
        before.lines().count(),
        1,
        "written before the crash: {before}"
    );
    // A second crash, in the middle of a line.
    let mut file = std::fs::OpenOptions::new().append(true).open(&sms).unwrap();
    file.write_all(b"{\"id\":\"half-writ").unwrap();
    drop(file);

    let mut folder = FileOutbox::new(&outbox).unwrap();
    let summary = library_run(&dir, "2027-06-15T13:00:00Z", &mut folder);
    assert_eq!(summary.delivered, 2, "{summary:?}");
    let mut folder = FileOutbox::new(&outbox).unwrap();
    let summary = library_run(&dir, "2027-06-15T14:00:00Z", &mut folder);
    assert_eq!(summary.delivered, 0, "{summary:?}");

    for (file, kind) in [
        ("sms.jsonl", "sms"),
        ("tasks.jsonl", "task"),
        ("webhooks.jsonl", "webhook"),
    ] {
        let text = std::fs::read_to_string(outbox.join(file)).expect(file);
        assert!(text.ends_with('\n'), "{file}: whole lines only");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        assert_eq!(lines.len(), 2, "{file}: once per contact: {text}");
        assert!(lines
            .iter()
            .all(|l| l["kind"] == kind && l["id"].is_string()));
        assert_ne!(lines[0]["id"], lines[1]["id"]);
    }
    let after = std::fs::read_to_string(&sms).unwrap();
    assert!(
        after.starts_with(&before),
        "the first line is kept as it was"
    );
    assert!(!after.contains("half-writ"));
}

/// The receiver's check printed in docs/operations.md, run as written.
fn documented_verify(checks: &[(&str, &Request)]) -> Vec<bool> {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md"))
        .expect("docs/operations.md");
    let after = docs
        .split("<!-- verify-signature")
        .nth(1)
        .expect("the marked snippet");
    let snippet = after
        .split("```python\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a python block after the marker");
    let cases: Vec<serde_json::Value> = checks
        .iter()
        .map(|(secret, r)| {
            serde_json::json!([
                secret,
                r.header("X-Flowc-Timestamp"),
                r.body
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>(),
                r.header("X-Flowc-Signature"),
            ])
        })
        .collect();
    let program = format!(
        "{snippet}\nimport json, sys\nfor secret, ts, body, sig in json.load(sys.stdin):\n    print(verify(secret.encode(), ts, bytes.fromhex(body), sig))\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &program])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (CI has it for the SMTP tests)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&cases).unwrap().as_bytes())
        .expect("write cases");
    let output = child.wait_with_output().expect("python3 finishes");
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout).lines().map(|l| l == "True").collect()
}

#[test]
fn the_documented_receiver_check_accepts_what_flowc_signs() {
    let dir = project("documented", "send sms greet");
    let server = Server::start(&[]);
    let env = [
        ("FLOWC_SMS_URL", server.url("/sms")),
        ("FLOWC_SMS_SECRET", SECRET.to_string()),
        ("FLOWC_WEBHOOK_SECRET", CRM_SECRET.to_string()),
    ];
    let output = run_at(&dir, "2027-06-15T12:00:00Z", &env);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let request = &requests[0];
    let mut tampered = request.clone();
    tampered.body[1] ^= 1;
    assert_eq!(
        documented_verify(&[
            (SECRET, request),
            (SECRET, &requests[1]),
            (CRM_SECRET, request),
            (SECRET, &tampered),
        ]),
        [true, true, false, false],
        "the channel's own secret wins over FLOWC_WEBHOOK_SECRET"
    );
}
