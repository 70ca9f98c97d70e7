//! `flowc simulate PATHS --contacts F [--events F] --from D --to D`: what
//! the flows would do, to whom and when, without sending anything. Uses the
//! same VM as the runtime.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::PathBuf;

use flowc_compiler::ZoneDb;
use flowc_runtime::bytecode::Program;
use flowc_runtime::calendar::{shown_deadline, Window};
use flowc_runtime::delivery::{render_due, RenderSettings};
use flowc_runtime::input::{read_changes, read_events, ContactReader};
use flowc_runtime::vm::{Action, Contact, Due, Evaluator, History, Outcome, Skip};
use jiff::Timestamp;
use serde::Serialize;

use super::check::{check_sources, SourceArgs};
use super::{EXIT_OK, EXIT_USAGE};

#[derive(clap::Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    sources: SourceArgs,

    /// Contacts, CSV with a header line (an `id` column and schema fields).
    #[arg(long, value_name = "FILE")]
    contacts: PathBuf,

    /// Events (JSON Lines), including what-if feedback such as a redemption.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,

    /// Field changes (JSON Lines: `contact`, `field`, `at`, `new`, `old`),
    /// for `becomes` and `changes` triggers. `--contacts` holds the values
    /// as of the end of the simulation.
    #[arg(long, value_name = "FILE")]
    changes: Option<PathBuf>,

    /// First day (YYYY-MM-DD, from 00:00 UTC) or instant of the simulation.
    #[arg(long, value_name = "DATE")]
    from: String,

    /// Last day (YYYY-MM-DD, included) or instant (excluded).
    #[arg(long, value_name = "DATE")]
    to: String,

    /// How to print the timeline.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

/// One line of the timeline: one action (or one skipped rule).
#[derive(Serialize)]
struct Row {
    local_date: String,
    local_time: String,
    zone: String,
    instant: String,
    contact: String,
    flow: String,
    rule: String,
    occurrence: String,
    action: String,
    status: String,
    deadline: String,
    /// Quiet hours hold the delivery back to this instant (empty if not).
    not_before: String,
}

pub fn run(args: SimulateArgs, zones: &ZoneDb) -> u8 {
    let window = match parse_window(&args.from, &args.to) {
        Ok(window) => window,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    };
    let checked = match check_sources(&args.sources, zones, true) {
        Ok(checked) => checked,
        Err(code) => return code,
    };
    if checked.exit != EXIT_OK {
        return checked.exit;
    }
    let mut programs = checked.programs.into_iter().flatten();
    let (Some(program), None) = (programs.next(), programs.next()) else {
        eprintln!("error: `flowc simulate` takes the flows of one project at a time; simulate each project folder on its own");
        return EXIT_USAGE;
    };

    let mut events = match load_events(&program, args.events.as_deref()) {
        Ok(events) => events,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    };
    let mut changes = match load_changes(&program, args.changes.as_deref()) {
        Ok(changes) => changes,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    };
    if args.changes.is_none() {
        for (flow, rule) in change_triggered(&program) {
            eprintln!(
                "note: {flow}/{rule} fires when a field changes: give the changes with \
                 `--changes FILE` to see it (one contacts file shows no change)"
            );
        }
    }
    let file = match File::open(&args.contacts) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", args.contacts.display());
            return EXIT_USAGE;
        }
    };
    let reader = match ContactReader::new(&program, BufReader::new(file)) {
        Ok(reader) => reader,
        Err(error) => {
            eprintln!("error: {}: {error}", args.contacts.display());
            return EXIT_USAGE;
        }
    };
    if !reader.ignored_columns().is_empty() {
        eprintln!(
            "note: {}: columns not in the contact schema are left out: {}",
            args.contacts.display(),
            reader.ignored_columns().join(", ")
        );
    }

    let mut evaluator = Evaluator::new(&program, zones);
    let settings = render_settings();
    let mut rows = Vec::new();
    let (mut contacts, mut rejected, mut held) = (0usize, 0usize, 0usize);
    for contact in reader {
        let contact = match contact {
            Ok(contact) => contact,
            Err(error) => {
                rejected += 1;
                eprintln!(
                    "warning: {}:{}: {}; contact not read",
                    args.contacts.display(),
                    error.line,
                    super::printable(&error.reason)
                );
                continue;
            }
        };
        contacts += 1;
        let history = History {
            events: events.remove(&contact.id).unwrap_or_default(),
            changes: changes.remove(&contact.id).unwrap_or_default(),
            ..History::default()
        };
        match evaluator.evaluate(&contact, &history, &window) {
            Ok(evaluation) => {
                for problem in &evaluation.problems {
                    held += 1;
                    eprintln!(
                        "warning: contact `{}`: {}",
                        super::printable(&contact.id),
                        super::printable(&problem.to_string())
                    );
                }
                for due in &evaluation.dues {
                    rows.extend(rows_of(&program, &contact, due, &settings));
                }
            }
            Err(error) => {
                eprintln!(
                    "error: contact `{}`: {}",
                    super::printable(&contact.id),
                    super::printable(&error.to_string())
                );
                held += 1;
            }
        }
    }
    rows.sort_by(|a, b| {
        (&a.instant, &a.contact, &a.flow, &a.rule).cmp(&(&b.instant, &b.contact, &b.flow, &b.rule))
    });

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = match args.format {
        Format::Table => print_table(&mut out, &rows, &window, contacts),
        Format::Csv => print_csv(&mut out, &rows),
        Format::Json => print_json(&mut out, &rows, &window, contacts, zones),
    };
    if let Err(error) = written {
        eprintln!("error: cannot write the timeline: {error}");
        return EXIT_USAGE;
    }
    eprintln!(
        "simulated {contacts} contacts from {} to {} ({}): {} due actions, {} skipped; {rejected} rows rejected, {held} contacts held",
        shown(window.start()),
        shown(window.end()),
        zones.source_description(),
        rows.iter().filter(|r| r.status == "due").count(),
        rows.iter().filter(|r| r.status != "due").count(),
    );
    EXIT_OK
}

/// Events by contact from a JSON Lines file (none without a file); bad
/// lines are reported with their line number and skipped.
pub fn load_events(
    program: &flowc_runtime::bytecode::Program,
    path: Option<&std::path::Path>,
) -> Result<std::collections::HashMap<String, Vec<flowc_runtime::vm::Event>>, String> {
    let Some(path) = path else {
        return Ok(Default::default());
    };
    let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let events = read_events(program, BufReader::new(file));
    for error in &events.errors {
        eprintln!(
            "warning: {}:{}: {}; line skipped",
            path.display(),
            error.line,
            super::printable(&error.reason)
        );
    }
    for (line, _) in &events.by_message {
        eprintln!(
            "warning: {}:{line}: the event names a message, not a contact: give it to \
             `flowc ingest` (or `POST /events`), which find the send in the state; line skipped",
            path.display()
        );
    }
    Ok(events.by_contact)
}

/// Field changes by contact from a JSON Lines file (none without a file);
/// bad lines are reported with their line number and skipped.
fn load_changes(
    program: &flowc_runtime::bytecode::Program,
    path: Option<&std::path::Path>,
) -> Result<std::collections::HashMap<String, Vec<flowc_runtime::vm::FieldChange>>, String> {
    let Some(path) = path else {
        return Ok(Default::default());
    };
    let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let changes = read_changes(program, BufReader::new(file));
    for error in &changes.errors {
        eprintln!(
            "warning: {}:{}: {}; line skipped",
            path.display(),
            error.line,
            super::printable(&error.reason)
        );
    }
    Ok(changes.by_contact)
}

/// The rules that fire on a field change (`becomes`, `changes`).
fn change_triggered(program: &flowc_runtime::bytecode::Program) -> Vec<(&str, &str)> {
    use flowc_runtime::bytecode::TriggerCode;
    program
        .flows
        .iter()
        .flat_map(|flow| flow.rules.iter().map(move |rule| (flow, rule)))
        .filter(|(_, rule)| {
            matches!(
                rule.trigger,
                TriggerCode::Becomes { .. } | TriggerCode::Changes { .. }
            )
        })
        .map(|(flow, rule)| (program.string(flow.name), program.string(rule.name)))
        .collect()
}

/// `2027-01-01` (a day from 00:00 UTC; as `--to`, the whole day) or an
/// instant. Instants bound the window as a run's: `(from, to]`, what a run
/// at `from` left and one at `to` delivers. Days are whole days, both
/// included: `[first 00:00, day after the last 00:00)`.
pub fn parse_window(from: &str, to: &str) -> Result<Window, String> {
    let start = instant(from, false).map_err(|e| format!("--from: {e}"))?;
    let end = instant(to, true).map_err(|e| format!("--to: {e}"))?;
    let whole_days = |text: &str, t: Timestamp| match text.parse::<Timestamp>() {
        Ok(_) => t,
        Err(_) => t
            .checked_sub(jiff::SignedDuration::from_nanos(1))
            .unwrap_or(t),
    };
    Window::new(whole_days(from, start), whole_days(to, end))
        .map_err(|_| format!("--to ({to}) must come after --from ({from})"))
}

/// A bound of a window as the user gave it: a day's bound is kept one
/// nanosecond before midnight (see [`parse_window`]) and shown at midnight.
fn shown(bound: Timestamp) -> Timestamp {
    match bound.subsec_nanosecond() {
        999_999_999 => bound
            .checked_add(jiff::SignedDuration::from_nanos(1))
            .unwrap_or(bound),
        _ => bound,
    }
}

fn instant(text: &str, end_of_day: bool) -> Result<Timestamp, String> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let date: jiff::civil::Date = text.parse().map_err(|_| {
        format!("`{text}` is not a date (YYYY-MM-DD) or an instant (2027-01-01T08:00:00Z)")
    })?;
    let date = if end_of_day {
        date.tomorrow().map_err(|e| e.to_string())?
    } else {
        date
    };
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|e| e.to_string())
}

fn describe_skip(skip: &Skip) -> String {
    match skip {
        Skip::QuietHours => format!("missed: {skip}"),
        Skip::Pressure(_) => format!("dropped: {skip}"),
        _ => format!("skipped: {skip}"),
    }
}

fn describe_action(action: &Action) -> String {
    match action {
        Action::Send {
            channel,
            template,
            sender,
            coupon,
            ..
        } => {
            let mut text = format!("send {} {template}", channel.name());
            if let Some(sender) = sender {
                text.push_str(&format!(" from {sender}"));
            }
            if coupon.is_some() {
                text.push_str(" with coupon");
            }
            text
        }
        Action::Task { kind, assignee, .. } => match assignee {
            Some(a) => format!("task {kind} for {a}"),
            None => format!("task {kind}"),
        },
        Action::Webhook { name, .. } => format!("webhook {name}"),
        Action::SetField { field, value } => format!("set {field} = {}", value.to_text()),
        Action::Tag(tag) => format!("tag {tag}"),
        Action::Untag(tag) => format!("untag {tag}"),
        Action::Exit => "exit".into(),
    }
}

/// The rows of one due rule: one per action, with its status. A send that
/// `flowc run` could not render (an address missing, an event attribute a
/// template needs) says so here as it would there.
/// How `simulate` renders, to say what `run` could not: only whether a
/// message renders matters, so any key will do.
fn render_settings() -> RenderSettings {
    RenderSettings {
        default_sender: "flowc <noreply@example.invalid>".into(),
        public_url: None,
        unsubscribe_mailto: None,
        keys: flowc_runtime::keys::Keys::new(b"simulate: nothing is sent".to_vec(), Vec::new()),
    }
}

fn rows_of(program: &Program, contact: &Contact, due: &Due, settings: &RenderSettings) -> Vec<Row> {
    let cannot_render = render_due(program, contact, due, "simulated", settings)
        .err()
        .map(|reason| format!("failed: cannot render: {reason}"));
    let contact = contact.id.as_str();
    let row = |action: String, status: String| Row {
        local_date: due.local_date.to_string(),
        local_time: format!(
            "{:02}:{:02}",
            due.local_time.hour(),
            due.local_time.minute()
        ),
        zone: due.zone.clone(),
        instant: due.instant.to_string(),
        contact: contact.to_string(),
        flow: due.flow.clone(),
        rule: due.rule.clone(),
        occurrence: due.occurrence.clone(),
        action,
        status,
        deadline: shown_deadline(due.deadline).to_string(),
        not_before: due.not_before.map(|t| t.to_string()).unwrap_or_default(),
    };
    match &due.outcome {
        Outcome::Skipped(skip) => vec![row("-".into(), describe_skip(skip))],
        Outcome::Planned(actions) => actions
            .iter()
            .map(|p| {
                let status = match (&p.skipped, &cannot_render) {
                    (Some(skip), _) => describe_skip(skip),
                    (None, Some(failed)) => failed.clone(),
                    (None, None) => "due".to_string(),
                };
                row(describe_action(&p.action), status)
            })
            .collect(),
    }
}

/// Per local day: (due, skipped).
fn days(rows: &[Row]) -> BTreeMap<&str, (usize, usize)> {
    let mut days: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for row in rows {
        let day = days.entry(row.local_date.as_str()).or_default();
        if row.status == "due" {
            day.0 += 1;
        } else {
            day.1 += 1;
        }
    }
    days
}

fn print_table(
    out: &mut dyn Write,
    rows: &[Row],
    window: &Window,
    contacts: usize,
) -> std::io::Result<()> {
    let header = [
        "local date",
        "time",
        "zone",
        "UTC",
        "contact",
        "flow",
        "rule",
        "occurrence",
        "action",
        "status",
    ];
    let statuses: Vec<String> = rows
        .iter()
        .map(|r| match r.not_before.as_str() {
            "" => r.status.clone(),
            held => format!("{}, held by quiet hours to {held}", r.status),
        })
        .collect();
    let cells: Vec<[&str; 10]> = rows
        .iter()
        .zip(&statuses)
        .map(|(r, status)| {
            [
                &r.local_date,
                &r.local_time,
                &r.zone,
                &r.instant,
                &r.contact,
                &r.flow,
                &r.rule,
                &r.occurrence,
                &r.action,
                status,
            ]
            .map(String::as_str)
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    writeln!(
        out,
        "Timeline {} to {} ({contacts} contacts)",
        shown(window.start()),
        shown(window.end())
    )?;
    let line = |cells: &[&str]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(&header))?;
    for row in &cells {
        writeln!(out, "{}", line(row))?;
    }
    if rows.is_empty() {
        writeln!(out, "(nothing due)")?;
    }
    writeln!(out)?;
    writeln!(out, "Per local day")?;
    writeln!(out, "{:<12}{:>6}{:>9}", "day", "due", "skipped")?;
    for (day, (due, skipped)) in days(rows) {
        writeln!(out, "{day:<12}{due:>6}{skipped:>9}")?;
    }
    Ok(())
}

fn print_csv(out: &mut dyn Write, rows: &[Row]) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    for row in rows {
        writer.serialize(row).map_err(std::io::Error::other)?;
    }
    writer.flush()
}

fn print_json(
    out: &mut dyn Write,
    rows: &[Row],
    window: &Window,
    contacts: usize,
    zones: &ZoneDb,
) -> std::io::Result<()> {
    let days: Vec<_> = days(rows)
        .into_iter()
        .map(
            |(day, (due, skipped))| serde_json::json!({"day": day, "due": due, "skipped": skipped}),
        )
        .collect();
    let value = serde_json::json!({
        "from": shown(window.start()).to_string(),
        "to": shown(window.end()).to_string(),
        "zone_rules": zones.source_description(),
        "contacts": contacts,
        "timeline": rows,
        "days": days,
    });
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    )
}
