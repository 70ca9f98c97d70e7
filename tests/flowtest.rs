//! `flowc test`: scenario tests pass on the examples, and a wrong
//! expectation fails with a readable diff and exit code 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_flowc");

fn flowc(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .env("NO_COLOR", "1")
        .env_remove("FLOWC_TZDIR")
        .output()
        .expect("flowc runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A copy of the birthday example (flows and flow.toml) with this test file.
fn project_with(name: &str, flowtest: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowc-flowtest-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let example = Path::new(ROOT).join("examples/birthday");
    for file in ["flow.toml", "birthday.flow"] {
        std::fs::copy(example.join(file), dir.join(file)).expect("copy");
    }
    std::fs::write(dir.join("t.flowtest"), flowtest).expect("write");
    dir
}

#[test]
fn the_examples_pass() {
    let output = flowc(&["test", "examples"]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

#[test]
fn a_wrong_expectation_fails_with_a_diff() {
    let dir = project_with(
        "wrong",
        r#"
[[test]]
name = "the offer is expected a day late"
from = "2026-12-01"
to = "2027-01-31"
contact = { id = "ana", birthday = "1990-01-05", time_zone = "Europe/Paris", email_optin = "true" }
expect = [
  "2026-12-22 08:00 birthday/offer",
  "2027-01-05 08:00 birthday/reminder skipped",
]
"#,
    );
    let output = flowc(&["test", dir.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("FAILED") && stdout.contains("the offer is expected a day late"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  - 2026-12-22 08:00 birthday/offer   (expected, did not happen)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  + 2026-12-21 08:00 birthday/offer   (happened, not expected)"),
        "{stdout}"
    );
    assert!(stdout.contains("  - 2027-01-05 08:00 birthday/reminder skipped\n  + 2027-01-05 08:00 birthday/reminder"), "{stdout}");
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
}

#[test]
fn a_malformed_test_file_is_a_usage_error_naming_the_file() {
    let dir = project_with("malformed", "[[test]]\nname = \"x\"\nfrom = 3\n");
    let output = flowc(&["test", dir.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("t.flowtest"),
        "{}",
        text(&output.stderr)
    );
}
