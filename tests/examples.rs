//! The examples and the documentation check clean with the real binary.
//!
//! - every `examples/<name>/` project: `flowc check --deny-warnings` exits 0
//!   and the JSON report has no diagnostic;
//! - every ```` ```flow ```` block of `docs/language.md`, of every
//!   `examples/*/README.md` and of the root `README.md` checks clean on its
//!   own (standard schema, no project); ```` ```flow project ```` blocks are
//!   checked inside a copy of a project (`examples/b2b` for the docs and the
//!   root README, the example's own project for an example's README);
//!   ```` ```flow fails ```` blocks must exit 1.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The project ```` ```flow project ```` blocks of the docs are checked in.
const DOCS_PROJECT: &str = "examples/b2b";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn flowc(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(dir)
        .env_remove("FLOWC_TZDIR")
        .env("NO_COLOR", "1")
        .output()
        .expect("flowc runs")
}

fn show(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn example_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(root().join("examples"))
        .expect("examples/ exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no example projects");
    dirs
}

#[test]
fn every_example_checks_clean() {
    for dir in example_dirs() {
        let rel = format!("examples/{}", dir.file_name().unwrap().to_string_lossy());
        let out = flowc(
            &["check", &rel, "--deny-warnings", "--color", "never"],
            &root(),
        );
        assert!(out.status.success(), "{rel}: {}", show(&out));
        let out = flowc(&["check", &rel, "--error-format", "json"], &root());
        assert!(out.status.success(), "{rel}: {}", show(&out));
        let json = String::from_utf8_lossy(&out.stdout);
        let compact: String = json.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(
            compact.contains("\"diagnostics\":[]"),
            "{rel}: diagnostics reported: {json}"
        );
    }
}

#[derive(Debug, PartialEq)]
enum Kind {
    Clean,
    Project,
    Fails,
}

struct Block {
    line: usize,
    kind: Kind,
    text: String,
}

/// The ```` ```flow ```` blocks of a Markdown text.
fn flow_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for (number, line) in markdown.lines().enumerate() {
        let trimmed = line.trim();
        match &mut current {
            Some(block) => {
                if trimmed == "```" {
                    blocks.push(current.take().unwrap());
                } else {
                    block.text.push_str(line);
                    block.text.push('\n');
                }
            }
            None => {
                let Some(info) = trimmed.strip_prefix("```") else {
                    continue;
                };
                let words: Vec<&str> = info.split_whitespace().collect();
                if words.first() != Some(&"flow") {
                    if !info.is_empty() {
                        // Another language: skip to its end.
                        current = None;
                    }
                    continue;
                }
                let kind = match words.get(1) {
                    None => Kind::Clean,
                    Some(&"project") => Kind::Project,
                    Some(&"fails") => Kind::Fails,
                    Some(other) => panic!("unknown flow block kind `{other}`"),
                };
                current = Some(Block {
                    line: number + 1,
                    kind,
                    text: String::new(),
                });
            }
        }
    }
    assert!(current.is_none(), "unterminated ```flow block");
    blocks
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn temp_dir() -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("flowc-doc-blocks-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn check_markdown(path: &Path, project: &Path) -> usize {
    let markdown = fs::read_to_string(path).unwrap();
    let blocks = flow_blocks(&markdown);
    for block in &blocks {
        let dir = temp_dir();
        if block.kind == Kind::Project {
            fs::copy(project.join("flow.toml"), dir.join("flow.toml")).unwrap();
            let templates = project.join("templates");
            if templates.is_dir() {
                copy_dir(&templates, &dir.join("templates"));
            }
        }
        fs::write(dir.join("block.flow"), &block.text).unwrap();
        let out = flowc(
            &["check", "block.flow", "--deny-warnings", "--color", "never"],
            &dir,
        );
        let place = format!("{}:{}", path.display(), block.line);
        match block.kind {
            Kind::Fails => assert_eq!(
                out.status.code(),
                Some(1),
                "{place}: a `flow fails` block should fail\n{}\n{}",
                block.text,
                show(&out)
            ),
            _ => assert!(
                out.status.success(),
                "{place}: this block should check clean\n{}\n{}",
                block.text,
                show(&out)
            ),
        }
        let _ = fs::remove_dir_all(&dir);
    }
    blocks.len()
}

#[test]
fn language_reference_blocks_check() {
    let n = check_markdown(&root().join("docs/language.md"), &root().join(DOCS_PROJECT));
    assert!(n > 20, "docs/language.md has only {n} flow blocks");
}

#[test]
fn example_readme_blocks_check() {
    for dir in example_dirs() {
        let readme = dir.join("README.md");
        assert!(readme.is_file(), "{} has no README.md", dir.display());
        check_markdown(&readme, &dir);
    }
    let readme = root().join("README.md");
    if readme.is_file() {
        check_markdown(&readme, &root().join(DOCS_PROJECT));
    }
}
