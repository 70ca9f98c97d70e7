//! The bytecode as users see it: `flowc build` then `flowc disasm` on every
//! example project, snapshotted (the golden listing of what each example
//! compiles to, with source positions), and the refusal of files that are
//! not programs of this format.
//!
//! Update the snapshots with `INSTA_UPDATE=always cargo test --test bytecode`.

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

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowc-bytecode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn build(project: &str, output: &Path) -> Output {
    flowc(&["build", project, "-o", output.to_str().expect("utf-8 path")])
}

#[test]
fn every_example_compiles_and_disassembles() {
    let mut examples: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("examples"))
        .expect("examples/")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    examples.sort();
    assert!(examples.len() >= 4, "{examples:?}");
    for example in examples {
        let program = temp_file(&format!("{example}.flowb"));
        let built = build(&format!("examples/{example}"), &program);
        assert!(
            built.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        let listing = flowc(&["disasm", program.to_str().expect("utf-8 path")]);
        assert!(
            listing.status.success(),
            "{}",
            String::from_utf8_lossy(&listing.stderr)
        );
        let text = String::from_utf8(listing.stdout).expect("utf-8 listing");
        insta::with_settings!({snapshot_path => "bytecode/snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(example, text);
        });
    }
}

#[test]
fn build_refuses_flows_with_errors_and_writes_nothing() {
    let program = temp_file("broken.flowb");
    let _ = std::fs::remove_file(&program);
    let output = build("tests/ui/e0030-mismatched-types.flow", &program);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        !program.exists(),
        "nothing may be written for a flow with errors"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("nothing written"));
}

#[test]
fn disasm_refuses_what_is_not_a_program_of_this_format() {
    let not_a_program = temp_file("not-a-program.flowb");
    std::fs::write(&not_a_program, "when birthday send offer").expect("write");
    let output = flowc(&["disasm", not_a_program.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not-a-program.flowb") && stderr.contains("not a flowc program"),
        "{stderr}"
    );

    let program = temp_file("old.flowb");
    assert!(build("examples/birthday", &program).status.success());
    let mut bytes = std::fs::read(&program).expect("read");
    bytes[6] = bytes[6].wrapping_add(1); // another format version
    std::fs::write(&program, &bytes).expect("write");
    let output = flowc(&["disasm", program.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("format version") && stderr.contains("rebuild"),
        "{stderr}"
    );
}

#[test]
fn build_takes_one_project() {
    let program = temp_file("two.flowb");
    let output = flowc(&[
        "build",
        "examples/birthday",
        "examples/b2b",
        "-o",
        program.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("one project at a time"));
}
