//! UI tests: the real `flowc` binary run on every `tests/ui/**/*.flow`, its
//! human output snapshotted in `tests/ui/snapshots`, plus checks that every
//! diagnostic code has a test, that clean files stay clean, and that the
//! examples of `docs/errors.md` fail (or pass) as documented.
//!
//! Update the snapshots with `INSTA_UPDATE=always cargo test --test ui`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_flowc");

/// Runs `flowc ARGS` in `dir` without colours, backtraces or a zone override.
fn flowc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .env_remove("FLOWC_TZDIR")
        .output()
        .expect("flowc runs")
}

fn flowc(args: &[&str]) -> Output {
    flowc_in(Path::new(ROOT), args)
}

fn exit_code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

/// `tests/ui/x.flow`, with forward slashes whatever the platform.
fn relative(path: &Path) -> String {
    path.strip_prefix(ROOT)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Every `.flow` file under `dir`, sorted.
fn flow_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("readable folder") {
            let path = entry.expect("folder entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "flow") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn ui_dir() -> PathBuf {
    Path::new(ROOT).join("tests/ui")
}

/// `flowc check PATH --error-format json`, parsed.
fn check_json_in(dir: &Path, path: &str) -> (i32, Value) {
    let output = flowc_in(dir, &["check", path, "--error-format", "json"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "`flowc check {path} --error-format json` printed no JSON ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (exit_code(&output), json)
}

fn codes_of(json: &Value) -> Vec<String> {
    json["diagnostics"]
        .as_array()
        .map(|ds| {
            ds.iter()
                .filter_map(|d| d["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Keeps a panic visible in a snapshot without the parts that change from
/// one machine or run to another (thread id, registry path, backtrace).
fn stable_stderr(stderr: &str) -> String {
    let mut lines = Vec::new();
    for line in stderr.lines() {
        if line.starts_with("thread '") && line.contains(" panicked at ") {
            lines.push("thread '<thread>' panicked at <location>:".to_string());
        } else if line.starts_with("note: run with `RUST_BACKTRACE=1`") {
            continue;
        } else {
            lines.push(line.to_string());
        }
    }
    lines.join("\n")
}

#[test]
fn ui_snapshots() {
    insta::with_settings!({
        snapshot_path => "ui/snapshots",
        prepend_module_to_snapshot => false,
    }, {
        insta::glob!("ui/**/*.flow", |path| {
            let shown = relative(path);
            let source = match String::from_utf8(fs::read(path).expect("readable file")) {
                Ok(text) => text,
                Err(_) => "<not UTF-8>\n".to_string(),
            };
            let output = flowc(&["check", &shown, "--color", "never"]);
            let stderr = String::from_utf8_lossy(&output.stderr);
            let text = format!(
                "{source}{}\nexit: {}\n{}\n",
                "-".repeat(72),
                exit_code(&output),
                stable_stderr(&stderr)
            );
            insta::assert_snapshot!(text);
        });
    });
}

/// The codes registered in `compiler/src/diagnostics/codes.rs`, in order.
fn registered_codes() -> Vec<String> {
    let text = fs::read_to_string(Path::new(ROOT).join("compiler/src/diagnostics/codes.rs"))
        .expect("the code registry");
    let mut codes = Vec::new();
    for (i, _) in text.match_indices('"') {
        let candidate = &text[i + 1..];
        let id = candidate.get(..5).unwrap_or("");
        let well_formed = (id.starts_with('E') || id.starts_with('W'))
            && id[1..].chars().all(|c| c.is_ascii_digit())
            && candidate[5..].starts_with('"');
        if well_formed && !codes.iter().any(|c| c == id) {
            codes.push(id.to_string());
        }
    }
    assert!(codes.len() > 10, "no codes found in codes.rs: {codes:?}");
    codes
}

#[test]
fn every_code_has_a_ui_test() {
    let mut produced = BTreeSet::new();
    for path in flow_files(&ui_dir()) {
        let (_, json) = check_json_in(Path::new(ROOT), &relative(&path));
        produced.extend(codes_of(&json));
    }
    let missing: Vec<String> = registered_codes()
        .into_iter()
        .filter(|c| !produced.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "no file in tests/ui produces {missing:?}"
    );
}

#[test]
fn clean_files_are_clean() {
    // `one-line` holds the one-line birthday flow: beside the full one of
    // `clean` it would send each offer twice (W0007).
    let mut files = flow_files(&ui_dir().join("clean"));
    files.extend(flow_files(&ui_dir().join("one-line")));
    assert!(!files.is_empty());
    for path in files {
        let shown = relative(&path);
        let (exit, json) = check_json_in(Path::new(ROOT), &shown);
        assert_eq!(exit, 0, "{shown}: {json:#}");
        assert_eq!(codes_of(&json), Vec::<String>::new(), "{shown}: {json:#}");
    }
}

/// A fenced ```flow block of docs/errors.md.
struct Example {
    code: String,
    /// ```flow ok: must check clean.
    ok: bool,
    /// `project` or `project=DIR`: checked inside a copy of `tests/ui/DIR`
    /// (default `project`).
    project: Option<String>,
    /// `latin1`: written as Latin-1 bytes, to show a file that is not UTF-8.
    latin1: bool,
    text: String,
}

fn doc_examples() -> Vec<Example> {
    let markdown =
        fs::read_to_string(Path::new(ROOT).join("docs/errors.md")).expect("docs/errors.md");
    let mut examples = Vec::new();
    let mut code = None;
    let mut block: Option<Example> = None;
    for line in markdown.lines() {
        if let Some(example) = &mut block {
            if line.trim_start().starts_with("```") {
                examples.push(block.take().expect("open block"));
            } else {
                example.text.push_str(line);
                example.text.push('\n');
            }
            continue;
        }
        if let Some(heading) = line.strip_prefix("## ") {
            code = Some(heading.trim().to_string());
        } else if let Some(info) = line.trim_start().strip_prefix("```") {
            let mut words = info.split_whitespace();
            if words.next() != Some("flow") {
                // Another language: read to its end, then forget it.
                block = Some(Example {
                    code: String::new(),
                    ok: true,
                    project: None,
                    latin1: false,
                    text: String::new(),
                });
                continue;
            }
            let mut example = Example {
                code: code.clone().unwrap_or_default(),
                ok: false,
                project: None,
                latin1: false,
                text: String::new(),
            };
            for word in words {
                match word {
                    "ok" => example.ok = true,
                    "project" => example.project = Some("project".into()),
                    "latin1" => example.latin1 = true,
                    other => {
                        if let Some(dir) = other.strip_prefix("project=") {
                            example.project = Some(dir.into());
                        }
                    }
                }
            }
            block = Some(example);
        }
    }
    assert!(block.is_none(), "docs/errors.md has an unclosed block");
    // Drop the non-flow blocks (no code) and flow blocks of the intro.
    examples.retain(|e| !e.code.is_empty());
    examples
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("temp folder");
    for entry in fs::read_dir(from).expect("readable folder") {
        let path = entry.expect("folder entry").path();
        let target = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else if !matches!(path.extension(), Some(e) if e == "flow") {
            fs::copy(&path, &target).expect("copy");
        }
    }
}

/// Checks one documentation example in a fresh temporary folder.
fn check_example(example: &Example) -> (i32, Value) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "flowc-ui-docs-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp folder");
    if let Some(project) = &example.project {
        copy_dir(&ui_dir().join(project), &dir);
    }
    let file = format!("{}.flow", example.code.to_lowercase());
    let bytes: Vec<u8> = if example.latin1 {
        example
            .text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).expect("a Latin-1 character"))
            .collect()
    } else {
        example.text.clone().into_bytes()
    };
    fs::write(dir.join(&file), bytes).expect("write example");
    let result = check_json_in(&dir, &file);
    let _ = fs::remove_dir_all(&dir);
    result
}

#[test]
fn docs_examples_fail_with_their_code() {
    let examples = doc_examples();
    let codes = registered_codes();
    let mut problems = Vec::new();
    for code in &codes {
        let failing = examples.iter().find(|e| &e.code == code && !e.ok);
        let Some(example) = failing else {
            problems.push(format!("{code}: no ```flow example"));
            continue;
        };
        let (_, json) = check_example(example);
        if !codes_of(&json).contains(code) {
            problems.push(format!(
                "{code}: the example does not produce {code}:\n{}\n{json:#}",
                example.text
            ));
        }
    }
    for example in examples.iter().filter(|e| e.ok) {
        let (exit, json) = check_example(example);
        if exit != 0 || !codes_of(&json).is_empty() {
            problems.push(format!(
                "{}: the fixed example is not clean (exit {exit}):\n{}\n{json:#}",
                example.code, example.text
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn exit_codes_and_formats() {
    // GitHub annotations: one `::error` line per error, with its position.
    let output = flowc(&[
        "check",
        "tests/ui/e0010-unknown-field.flow",
        "--error-format",
        "github",
    ]);
    assert_eq!(exit_code(&output), 1);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("::error file=tests/ui/e0010-unknown-field.flow,line=1,col=16")),
        "{stdout}"
    );
    let output = flowc(&[
        "check",
        "tests/ui/w0004-unused-binding.flow",
        "--error-format",
        "github",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("::warning file="), "{stdout}");

    // JSON: one valid document with counts.
    let (exit, json) = check_json_in(Path::new(ROOT), "tests/ui/errors-across-rules.flow");
    assert_eq!(exit, 1);
    assert_eq!(json["errors"].as_u64(), Some(4), "{json:#}");
    assert_eq!(json["files"].as_u64(), Some(1));
    let (exit, json) = check_json_in(Path::new(ROOT), "tests/ui/one-line/fixed-line.flow");
    assert_eq!(exit, 0);
    assert_eq!(json["errors"].as_u64(), Some(0));

    // A path that does not exist is a usage error.
    let output = flowc(&["check", "tests/ui/no-such-file.flow"]);
    assert_eq!(exit_code(&output), 2);
    assert!(!output.stderr.is_empty());

    // Warnings fail only under --deny-warnings.
    let warning_only = "tests/ui/w0004-unused-binding.flow";
    assert_eq!(exit_code(&flowc(&["check", warning_only])), 0);
    assert_eq!(
        exit_code(&flowc(&["check", warning_only, "--deny-warnings"])),
        1
    );
    assert_eq!(
        exit_code(&flowc(&["check", "tests/ui/clean", "--deny-warnings"])),
        0
    );

    // `explain` prints the section of docs/errors.md.
    let output = flowc(&["explain", "E0041"]);
    assert_eq!(exit_code(&output), 0);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("E0041"), "{stdout}");
    assert!(stdout.contains("```flow"), "{stdout}");
    assert!(!stdout.contains("## E0042"), "{stdout}");
    let output = flowc(&["explain", "e0041"]);
    assert_eq!(exit_code(&output), 0);
    let output = flowc(&["explain", "E9999"]);
    assert_eq!(exit_code(&output), 2);
    assert!(!output.stderr.is_empty());
}

#[test]
fn explain_prints_every_setting_that_the_language_reference_sends_it_to() {
    // Every setting the checker knows has its paragraph.
    for (name, _) in flowc_compiler::check::SETTINGS {
        let output = flowc(&["explain", name]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(exit_code(&output), 0, "{name}: {stdout}");
        assert!(stdout.starts_with(&format!("`{name}`")), "{stdout}");
        assert!(
            stdout.contains("efault"),
            "{name} names its default: {stdout}"
        );
        assert!(
            !stdout.contains("\n### "),
            "{name}: one section only: {stdout}"
        );
    }
    let output = flowc(&["explain", "lateness"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("`same_day` (the default)"), "{stdout}");
    // A near miss names the setting.
    let output = flowc(&["explain", "latenes"]);
    assert_eq!(exit_code(&output), 2);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("did you mean `lateness`?"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
