//! `flowc fmt`: formatting reaches a fixed point in one pass and never
//! changes what a file means. Checked on every example (same program,
//! same simulated year), on every `tests/ui` file (same diagnostics), and
//! on generated layouts of them (a layout of the same tokens formats to
//! the same text; comments anywhere survive).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flowc_compiler::format::{format_source, FormatError};
use flowc_compiler::source::SourceId;
use proptest::prelude::*;
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_flowc");

fn flowc(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("FLOWC_TZDIR")
        .output()
        .expect("flowc runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn flow_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            flow_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "flow") {
            out.push(path);
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target).unwrap();
        }
    }
}

fn format(text: &str) -> Result<String, FormatError> {
    format_source(SourceId(0), text)
}

/// A listing without source positions: the program itself.
fn program_listing(dir: &Path, example: &Path) -> String {
    let program = dir.join("program.flowb");
    let built = flowc(
        dir,
        &[
            "build",
            example.to_str().unwrap(),
            "-o",
            program.to_str().unwrap(),
        ],
    );
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let listing = stdout(&flowc(dir, &["disasm", program.to_str().unwrap()]));
    listing
        .lines()
        .filter(|l| !l.starts_with("; "))
        .map(|l| l.split(" ; ").next().unwrap_or(l).trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn simulated_year(dir: &Path, example: &Path) -> String {
    let contacts = example.join("contacts.csv");
    stdout(&flowc(
        dir,
        &[
            "simulate",
            example.to_str().unwrap(),
            "--contacts",
            contacts.to_str().unwrap(),
            "--from",
            "2027-01-01",
            "--to",
            "2027-12-31",
            "--format",
            "csv",
        ],
    ))
}

#[test]
fn every_example_formats_to_a_fixed_point_with_the_same_program() {
    let temp = tempfile::tempdir().unwrap();
    let examples = Path::new(ROOT).join("examples");
    let mut simulated_lines = 0;
    for entry in fs::read_dir(&examples).unwrap() {
        let original = entry.unwrap().path();
        if !original.join("flow.toml").exists() {
            continue;
        }
        let copy = temp.path().join(original.file_name().unwrap());
        copy_dir(&original, &copy);
        let first = flowc(temp.path(), &["fmt", copy.to_str().unwrap()]);
        assert!(
            first.status.success(),
            "{}",
            String::from_utf8_lossy(&first.stderr)
        );
        let second = flowc(temp.path(), &["fmt", "--check", copy.to_str().unwrap()]);
        assert!(
            second.status.success(),
            "a second pass would change {}",
            stdout(&second)
        );
        assert_eq!(
            program_listing(temp.path(), &original),
            program_listing(temp.path(), &copy),
            "{}",
            original.display()
        );
        let simulated = simulated_year(temp.path(), &original);
        simulated_lines += simulated.lines().count();
        assert_eq!(simulated, simulated_year(temp.path(), &copy));
    }
    assert!(
        simulated_lines > 50,
        "the examples simulate to {simulated_lines} lines"
    );
}

/// Code, severity, message and label texts: a diagnostic without its place.
fn diagnostics(dir: &Path, file: &Path) -> Vec<Value> {
    let output = flowc(
        dir,
        &["check", "--error-format", "json", file.to_str().unwrap()],
    );
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap_or(Value::Null);
    report["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let labels: Vec<&Value> = d["labels"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| &l["message"])
                .collect();
            serde_json::json!([d["code"], d["severity"], d["message"], labels, d["help"]])
        })
        .collect()
}

#[test]
fn every_ui_file_formats_to_a_fixed_point_with_the_same_diagnostics() {
    let temp = tempfile::tempdir().unwrap();
    let copy = temp.path().join("ui");
    copy_dir(&Path::new(ROOT).join("tests/ui"), &copy);
    let mut files = Vec::new();
    flow_files(&copy, &mut files);
    let (mut formatted, mut refused) = (0, 0);
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue; // not UTF-8: nothing to format
        };
        let before = diagnostics(temp.path(), &file);
        match format(&text) {
            Ok(once) => {
                assert_eq!(format(&once).unwrap(), once, "{}", file.display());
                fs::write(&file, &once).unwrap();
                assert_eq!(
                    before,
                    diagnostics(temp.path(), &file),
                    "{}",
                    file.display()
                );
                formatted += 1;
            }
            Err(FormatError::Syntax(errors)) => {
                assert!(!errors.is_empty());
                assert!(
                    before.iter().any(|d| d[0] == "E0001" || d[0] == "E0007"),
                    "{} is refused by fmt but has no syntax error: {before:?}",
                    file.display()
                );
                refused += 1;
            }
            Err(FormatError::Changed(why)) => panic!("{}: {why}", file.display()),
        }
    }
    assert!(
        formatted > 40 && refused > 3,
        "{formatted} formatted, {refused} refused"
    );
}

#[test]
fn check_lists_unformatted_files_and_stdin_formats_to_stdout() {
    let temp = tempfile::tempdir().unwrap();
    let messy = temp.path().join("messy.flow");
    let tidy = temp.path().join("tidy.flow");
    fs::write(
        &messy,
        "when birthday-15d send offer;on birthday if unused send reminder",
    )
    .unwrap();
    fs::write(&tidy, "when birthday send offer\n").unwrap();

    let check = flowc(temp.path(), &["fmt", "--check", "."]);
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(stdout(&check).trim(), "./messy.flow");
    assert!(
        fs::read_to_string(&messy).unwrap().contains(';'),
        "--check writes nothing"
    );

    let mut child = Command::new(BIN)
        .args(["fmt", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"on  birthday send offer # hi")
        .unwrap();
    let piped = child.wait_with_output().unwrap();
    assert!(piped.status.success());
    assert_eq!(stdout(&piped), "on birthday send offer # hi\n");

    let write = flowc(temp.path(), &["fmt", "."]);
    assert!(write.status.success());
    assert_eq!(
        fs::read_to_string(&messy).unwrap(),
        "when birthday - 15d send offer\non birthday if unused send reminder\n"
    );
    assert!(flowc(temp.path(), &["fmt", "--check", "."])
        .status
        .success());
}

#[test]
fn a_file_with_syntax_errors_is_reported_and_left_alone() {
    let temp = tempfile::tempdir().unwrap();
    let broken = temp.path().join("broken.flow");
    fs::write(&broken, "when birthday send\n").unwrap();
    let output = flowc(temp.path(), &["fmt", "broken.flow"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("E0001") && stderr.contains("broken.flow"),
        "{stderr}"
    );
    assert_eq!(fs::read_to_string(&broken).unwrap(), "when birthday send\n");
}

// ------------------------------------------------------------ generated layouts

/// The flow files the layouts are made from: examples and UI files that parse.
static CORPUS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    let mut files = Vec::new();
    flow_files(&Path::new(ROOT).join("examples"), &mut files);
    flow_files(&Path::new(ROOT).join("tests/ui"), &mut files);
    files
        .iter()
        .filter_map(|f| fs::read_to_string(f).ok())
        .filter(|t| format(t).is_ok())
        .collect()
});

/// The text with its comments removed (their line breaks stay).
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| {
            let mut in_string = false;
            let mut escaped = false;
            let mut cut = line.len();
            for (i, c) in line.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' if in_string => escaped = true,
                    '"' => in_string = !in_string,
                    '#' if !in_string => {
                        cut = i;
                        break;
                    }
                    '/' if !in_string && line[i..].starts_with("//") => {
                        cut = i;
                        break;
                    }
                    _ => {}
                }
            }
            &line[..cut]
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every run of blanks outside strings and comments replaced by the next
/// choice of `choices` (cycled): the same tokens, another layout.
fn relayout(text: &str, choices: &[&str]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = text.chars().peekable();
    let (mut in_string, mut in_comment, mut escaped) = (false, false, false);
    while let Some(c) = chars.next() {
        if in_comment {
            out.push(c);
            in_comment = c != '\n';
            continue;
        }
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '#' => {
                in_comment = true;
                out.push(c);
            }
            c if c.is_whitespace() => {
                let mut run = c.to_string();
                while let Some(&n) = chars.peek().filter(|n| n.is_whitespace()) {
                    run.push(n);
                    chars.next();
                }
                // Blanks that end a comment's line keep their line break.
                let choice = choices[next % choices.len()];
                next += 1;
                if run.contains('\n') && !choice.contains('\n') {
                    out.push_str(&format!("{choice}\n"));
                } else {
                    out.push_str(choice);
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn blanks() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(
        prop::sample::select(vec![" ", "  ", "\t", "\n", "\n\n\n", " \n    ", "\r\n"]),
        1..12,
    )
}

fn blanks_and_comments() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(
        prop::sample::select(vec![
            " ",
            "\n",
            "\n\n",
            " # note\n",
            "\n// aside\n  ",
            " #\n",
        ]),
        1..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The layout is a function of the tokens (and of where blank lines
    /// stand, which are kept): any other layout of the same file formats
    /// to the same lines.
    #[test]
    fn any_layout_of_the_same_tokens_formats_the_same(
        index in any::<prop::sample::Index>(),
        choices in blanks(),
    ) {
        let corpus = &*CORPUS;
        let text = without_comments(&corpus[index.index(corpus.len())]);
        let expected = format(&text).unwrap();
        let other = relayout(&text, &choices);
        let formatted = format(&other).map_err(|e| TestCaseError::fail(format!("{e:?}\n{other}")))?;
        let lines = |text: &str| text.lines().filter(|l| !l.is_empty()).map(str::to_string).collect::<Vec<_>>();
        prop_assert_eq!(lines(&formatted), lines(&expected), "layout:\n{}", other);
    }

    /// Comments anywhere a blank may be survive, and the result is a fixed
    /// point. (`format_source` itself refuses any change of tokens.)
    #[test]
    fn comments_anywhere_survive_and_formatting_is_idempotent(
        index in any::<prop::sample::Index>(),
        choices in blanks_and_comments(),
    ) {
        let corpus = &*CORPUS;
        let text = relayout(&corpus[index.index(corpus.len())], &choices);
        let once = format(&text).map_err(|e| TestCaseError::fail(format!("{e:?}\n{text}")))?;
        let twice = format(&once).map_err(|e| TestCaseError::fail(format!("{e:?}\n{once}")))?;
        prop_assert_eq!(&twice, &once, "input:\n{}", text);
    }
}

#[test]
fn a_file_that_is_not_utf8_is_left_alone_and_named_with_its_line() {
    let dir = std::env::temp_dir().join(format!("flowc-fmt-utf8-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let bytes = b"when birthday send offer\n\xff\n";
    fs::write(dir.join("bad.flow"), bytes).unwrap();
    let out = flowc(&dir, &["fmt", "bad.flow"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.flow:2: not UTF-8 text"), "{stderr}");
    assert_eq!(fs::read(dir.join("bad.flow")).unwrap(), bytes, "untouched");
}

#[test]
fn every_example_is_in_the_canonical_layout_but_the_one_line_flow() {
    // What `.ci/run` checks too: the examples teach the layout.
    let mut files = Vec::new();
    for entry in fs::read_dir(Path::new(ROOT).join("examples")).unwrap() {
        for file in fs::read_dir(entry.unwrap().path()).into_iter().flatten() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".flow") && name != "fixed-line.flow" {
                files.push(path.to_string_lossy().into_owned());
            }
        }
    }
    assert!(files.len() >= 8, "{files:?}");
    let mut args = vec!["fmt", "--check"];
    args.extend(files.iter().map(String::as_str));
    let out = flowc(Path::new(ROOT), &args);
    assert!(
        out.status.success(),
        "not in the canonical layout:\n{}",
        stdout(&out)
    );
}
