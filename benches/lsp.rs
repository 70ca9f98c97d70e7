//! Benchmark (not a test): the re-check latency of `flowc lsp` after a
//! one-character edit of a generated 500-line flow file, measured from the
//! client's side: `didChange` written to the server's stdin until its
//! `publishDiagnostics` for the file is read from stdout. The real release
//! binary, a project with a `flow.toml`. Prints the median and p95.
//!
//! `cargo bench --bench lsp` (LSP_BENCH_LINES and LSP_BENCH_EDITS change
//! the sizes).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn main() {
    let lines: usize = env_or("LSP_BENCH_LINES", 500);
    let edits: usize = env_or("LSP_BENCH_EDITS", 200);
    let dir = std::env::temp_dir().join(format!("flowc-lsp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("flow.toml"), PROJECT).unwrap();
    let text = generate(lines);
    let path = dir.join("big.flow");
    std::fs::write(&path, &text).unwrap();
    let uri = format!("file://{}", path.display());

    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("lsp")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start flowc lsp");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |message: Value| {
        let body = message.to_string();
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        stdin.flush().unwrap();
    };
    send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}),
    );
    read(&mut stdout);
    send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    send(
        json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": {"uri": uri, "languageId": "flow", "version": 0, "text": text}}}),
    );
    let first = diagnostics(&mut stdout, &uri);
    println!(
        "generated {} lines ({} bytes), {first} diagnostics",
        text.lines().count(),
        text.len()
    );

    // Line 3 holds `country == "FR"`: switch the R between R and S.
    let column = text.lines().nth(2).unwrap().find("\"FR\"").unwrap() + 2;
    let mut times = Vec::with_capacity(edits);
    for edit in 0..edits {
        let letter = if edit % 2 == 0 { "S" } else { "R" };
        let start = Instant::now();
        send(
            json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": edit + 1},
            "contentChanges": [{"range": {
                "start": {"line": 2, "character": column},
                "end": {"line": 2, "character": column + 1}}, "text": letter}]}}),
        );
        diagnostics(&mut stdout, &uri);
        times.push(start.elapsed());
    }
    send(json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": null}));
    read(&mut stdout);
    send(json!({"jsonrpc": "2.0", "method": "exit", "params": null}));
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    report(
        &format!("flowc lsp, {lines} lines, one-character edit → diagnostics"),
        times,
    );
    compiler_share(&text, edits);
}

/// The compiler's part of that time: the same file parsed, then parsed and
/// checked (`check_flows`), in this process.
fn compiler_share(text: &str, runs: usize) {
    use flowc_compiler::project::Project;
    use flowc_compiler::source::Sources;
    let zones = flowc_compiler::ZoneDb::bundled();
    let mut sources = Sources::new();
    let toml = sources.add("flow.toml", PROJECT);
    let (project, _) = Project::parse(&sources, toml);
    let id = sources.add("big.flow", text);
    let mut parse = Vec::with_capacity(runs);
    let mut check = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(flowc_compiler::syntax::parse(id, text));
        parse.push(start.elapsed());
        let start = Instant::now();
        std::hint::black_box(flowc_compiler::check_flows(
            &sources,
            &[id],
            &project,
            &zones,
        ));
        check.push(start.elapsed());
    }
    report("  of which the parser alone (syntax::parse)", parse);
    report("  of which parse and check (check_flows)", check);
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| ms(times[((times.len() - 1) as f64 * q).round() as usize]);
    println!(
        "{what}: median {:.2} ms, p95 {:.2} ms (min {:.2}, max {:.2}, {} runs)",
        at(0.5),
        at(0.95),
        at(0.0),
        at(1.0),
        times.len()
    );
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The next message from the server.
fn read(stdout: &mut impl BufRead) -> Value {
    let mut length = 0;
    loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the server stopped"
        );
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length: ") {
            length = n.parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stdout.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// Reads until the diagnostics of `uri`; returns how many there are.
fn diagnostics(stdout: &mut impl BufRead, uri: &str) -> usize {
    loop {
        let message = read(stdout);
        if message["method"] == "textDocument/publishDiagnostics" && message["params"]["uri"] == uri
        {
            return message["params"]["diagnostics"]
                .as_array()
                .map_or(0, Vec::len);
        }
    }
}

/// The standard contact schema, declared: the project file is read and
/// parsed on every check, as in an editor.
const PROJECT: &str = r#"[project]
default_zone = "Europe/Paris"

[contact]
email = "email"
country = "text"
language = "text"
joined = "date"
tags = "list"
birthday = { type = "date", yearly = true }
email_optin = { type = "bool", consent = "email" }

[events.purchase]
product = "text"
amount = "number"

[events.visit]
page = "text"
"#;

/// Rules of every kind (as `bench/check.sh` generates), in one flow.
fn generate(lines: usize) -> String {
    let mut text = String::from("flow generated \"Generated\" {\n  send_at: 08:00\n");
    for i in 0..lines.saturating_sub(3) {
        let rule = match i % 5 {
            0 => format!("  r{i}: when birthday - {}d if country == \"FR\" and language != \"de\" send t{i}", i % 300 + 1),
            1 => format!("  r{i}: on anniversary of joined as n if n % 5 == 0 or n == {} send t{i}", i % 40 + 1),
            2 => format!("  r{i}: when 3d after t{} if not purchase where amount > {i} since t{} send t{i} with coupon valid 30d", i - 2, i - 2),
            3 => format!("  r{i}: on purchase where product == \"p{i}\" and amount >= 10 send sms t{i}"),
            _ => format!("  r{i}: on no visit for 60d if tags is set and \"vip\" in tags task call for email note \"n{i}\" then send t{i}"),
        };
        text.push_str(&rule);
        text.push('\n');
    }
    text.push_str("}\n");
    text
}
