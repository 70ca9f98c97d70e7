//! `flowc test [PATHS...]`: scenario tests for flows, in `*.flowtest` files
//! (TOML) beside the flows they test. Each test gives a contact, events
//! and a window, and the timeline it expects; anything else that would be
//! sent in the window is a failure.
//!
//! ```toml
//! [[test]]
//! name = "the offer comes 15 days early, the reminder on the day"
//! from = "2026-12-01"                 # first day (UTC), or an instant
//! to = "2027-01-31"                   # last day (included), or an instant
//! contact = { id = "ana", birthday = "1990-01-05", time_zone = "Europe/Paris", email_optin = "true" }
//! events = [{ type = "redeemed", at = "2026-12-28T10:00:00Z", flow = "birthday", rule = "offer" }]
//! changes = [{ field = "loyalty_tier", at = "2027-01-10T09:00:00Z", old = "silver", new = "gold" }]
//! expect = [
//!   "2026-12-21 08:00 birthday/offer",            # local date and time, flow/rule
//!   "2027-01-05 08:00 birthday/reminder skipped",  # due but skipped
//! ]
//! ```

use std::path::{Path, PathBuf};

use flowc_compiler::ZoneDb;
use flowc_runtime::bytecode::Program;
use flowc_runtime::calendar::Window;
use flowc_runtime::input::parse_cell;
use flowc_runtime::vm::{Contact, Evaluator, Event, FieldChange, History, Outcome, Value};
use serde::Deserialize;

use super::check::check_sources;
use super::simulate::parse_window;
use super::{EXIT_DIAGNOSTICS, EXIT_OK, EXIT_USAGE};

#[derive(clap::Args)]
pub struct TestArgs {
    /// `.flowtest` files or folders to search. Default: the current folder.
    paths: Vec<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    test: Vec<Scenario>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    name: String,
    from: String,
    to: String,
    contact: toml::Table,
    #[serde(default)]
    events: Vec<toml::Table>,
    /// Field changes: `{ field = "loyalty_tier", at = "...", new = "gold", old = "silver" }`.
    #[serde(default)]
    changes: Vec<toml::Table>,
    #[serde(default)]
    expect: Vec<String>,
}

pub fn run(args: TestArgs, zones: &ZoneDb) -> u8 {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let mut files = Vec::new();
    for path in &paths {
        if let Err(message) = super::inputs::collect_files(path, "flowtest", &mut files) {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    }
    if files.is_empty() {
        eprintln!("error: no .flowtest file found");
        return EXIT_USAGE;
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in &files {
        match run_file(file, zones) {
            Ok((p, f)) => {
                passed += p;
                failed += f;
            }
            Err(code) => return code,
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        EXIT_DIAGNOSTICS
    } else {
        EXIT_OK
    }
}

/// Runs the tests of one file against the flows of its folder.
fn run_file(file: &Path, zones: &ZoneDb) -> Result<(usize, usize), u8> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        eprintln!("error: cannot read {}: {e}", file.display());
        EXIT_USAGE
    })?;
    let tests: TestFile = toml::from_str(&text).map_err(|e| {
        eprintln!("error: {}: {e}", file.display());
        EXIT_USAGE
    })?;
    let folder = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let program = compile(&folder, zones)?;
    let mut evaluator = Evaluator::new(&program, zones);
    let (mut passed, mut failed) = (0, 0);
    for scenario in &tests.test {
        match run_scenario(&program, &mut evaluator, zones, scenario) {
            Ok(None) => {
                passed += 1;
                println!("ok      {} :: {}", file.display(), scenario.name);
            }
            Ok(Some(diff)) => {
                failed += 1;
                println!("FAILED  {} :: {}\n{diff}", file.display(), scenario.name);
            }
            Err(message) => {
                failed += 1;
                println!(
                    "FAILED  {} :: {}\n  {message}\n",
                    file.display(),
                    scenario.name
                );
            }
        }
    }
    Ok((passed, failed))
}

fn compile(folder: &Path, zones: &ZoneDb) -> Result<Program, u8> {
    let args = super::check::SourceArgs::for_paths(vec![folder.to_path_buf()]);
    let checked = check_sources(&args, zones, true)?;
    if checked.exit != EXIT_OK {
        return Err(checked.exit);
    }
    let mut programs = checked.programs.into_iter().flatten();
    match (programs.next(), programs.next()) {
        (Some(program), None) => Ok(program),
        _ => {
            eprintln!(
                "error: {}: the flows beside a .flowtest must form one project",
                folder.display()
            );
            Err(EXIT_USAGE)
        }
    }
}

/// `None` when the timeline is as expected, else a readable diff.
fn run_scenario(
    program: &Program,
    evaluator: &mut Evaluator,
    zones: &ZoneDb,
    scenario: &Scenario,
) -> Result<Option<String>, String> {
    let window: Window = parse_window(&scenario.from, &scenario.to)?;
    let contact = contact(program, &scenario.contact)?;
    let mut history = History::default();
    for (i, event) in scenario.events.iter().enumerate() {
        history.events.push(self::event(event, i)?);
    }
    for (i, change) in scenario.changes.iter().enumerate() {
        history.changes.push(self::change(program, change, i)?);
    }
    let evaluation = evaluator
        .evaluate(&contact, &history, &window)
        .map_err(|e| e.to_string())?;
    if let Some(problem) = evaluation.problems.first() {
        return Err(format!("the contact cannot be scheduled: {problem:?}"));
    }
    let actual: Vec<(String, bool)> = evaluation
        .dues
        .iter()
        .map(|d| {
            let skipped = match &d.outcome {
                Outcome::Skipped(_) => true,
                Outcome::Planned(actions) => actions.iter().all(|a| a.skipped.is_some()),
            };
            // When quiet hours hold it back, what the contact sees is the later time.
            let (date, time) = match d.not_before.zip(zones.get(&d.zone).ok()) {
                Some((at, tz)) => {
                    let local = at.to_zoned(tz);
                    (local.date(), local.time())
                }
                None => (d.local_date, d.local_time),
            };
            let line = format!(
                "{date} {:02}:{:02} {}/{}",
                time.hour(),
                time.minute(),
                d.flow,
                d.rule
            );
            (line, skipped)
        })
        .collect();
    let expected: Vec<(String, bool)> = scenario
        .expect
        .iter()
        .map(|e| {
            let e = e.split_whitespace().collect::<Vec<_>>().join(" ");
            match e.strip_suffix(" skipped") {
                Some(line) => (line.to_string(), true),
                None => (e, false),
            }
        })
        .collect();
    let mut diff = String::new();
    let mut ok = true;
    // Every expectation must happen, as said; every send must be expected.
    for (line, skipped) in &expected {
        match actual.iter().find(|(a, _)| a == line) {
            Some((_, s)) if s == skipped => {
                diff.push_str(&format!("    {}\n", show(line, *skipped)))
            }
            Some((_, s)) => {
                ok = false;
                diff.push_str(&format!(
                    "  - {}\n  + {}\n",
                    show(line, *skipped),
                    show(line, *s)
                ));
            }
            None => {
                ok = false;
                diff.push_str(&format!(
                    "  - {}   (expected, did not happen)\n",
                    show(line, *skipped)
                ));
            }
        }
    }
    for (line, skipped) in &actual {
        if !*skipped && !expected.iter().any(|(e, _)| e == line) {
            ok = false;
            diff.push_str(&format!(
                "  + {}   (happened, not expected)\n",
                show(line, false)
            ));
        }
    }
    Ok((!ok).then(|| format!("  expected (-) and actual (+) timelines:\n{diff}")))
}

fn show(line: &str, skipped: bool) -> String {
    if skipped {
        format!("{line} skipped")
    } else {
        line.to_string()
    }
}

/// A contact from a TOML table, typed by the program's schema.
fn contact(program: &Program, table: &toml::Table) -> Result<Contact, String> {
    let id = table
        .get("id")
        .and_then(|v| v.as_str())
        .unwrap_or("contact");
    let mut contact = Contact::new(id);
    for (key, value) in table {
        if key == "id" {
            continue;
        }
        let spec = program
            .fields
            .iter()
            .find(|f| program.string(f.name) == key)
            .ok_or_else(|| format!("`{key}` is not a field of the contact schema"))?;
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Array(items) => serde_json::to_string(
                &items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_default(),
            other => other.to_string(),
        };
        if let Some(v) =
            parse_cell(spec.kind, &text).map_err(|e| format!("contact `{key}`: {e}"))?
        {
            contact.fields.insert(key.as_str().into(), v);
        }
    }
    Ok(contact)
}

/// A field change, its values typed by the schema.
fn change(program: &Program, table: &toml::Table, index: usize) -> Result<FieldChange, String> {
    let get = |key: &str| {
        table
            .get(key)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
    };
    let field = get("field").ok_or_else(|| format!("change {}: `field` is missing", index + 1))?;
    let spec = program
        .fields
        .iter()
        .find(|f| program.string(f.name) == field)
        .ok_or_else(|| {
            format!(
                "change {}: `{field}` is not a field of the contact schema",
                index + 1
            )
        })?;
    let at = get("at")
        .ok_or_else(|| format!("change {}: `at` is missing", index + 1))?
        .parse()
        .map_err(|_| format!("change {}: `at` is not an instant", index + 1))?;
    let value = |key: &str| -> Result<Value, String> {
        match get(key) {
            Some(text) => Ok(parse_cell(spec.kind, &text)
                .map_err(|e| format!("change {}: `{key}`: {e}", index + 1))?
                .unwrap_or(Value::Null)),
            None => Ok(Value::Null),
        }
    };
    Ok(FieldChange {
        field,
        at,
        old: value("old")?,
        new: value("new")?,
    })
}

fn event(table: &toml::Table, index: usize) -> Result<Event, String> {
    let get = |key: &str| table.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let kind = get("type").ok_or_else(|| format!("event {}: `type` is missing", index + 1))?;
    let at = get("at")
        .ok_or_else(|| format!("event {}: `at` is missing", index + 1))?
        .parse()
        .map_err(|_| format!("event {}: `at` is not an instant", index + 1))?;
    let id = get("id").unwrap_or_else(|| format!("event-{}", index + 1));
    let mut event = Event::new(&id, &kind, at);
    for (key, value) in table {
        if ["type", "at", "id"].contains(&key.as_str()) {
            continue;
        }
        let value = match value {
            toml::Value::String(s) => Value::Text(s.clone()),
            toml::Value::Integer(n) => Value::Number(*n as f64),
            toml::Value::Float(n) => Value::Number(*n),
            toml::Value::Boolean(b) => Value::Bool(*b),
            other => Value::Text(other.to_string()),
        };
        event.attributes.insert(key.clone(), value);
    }
    Ok(event)
}
