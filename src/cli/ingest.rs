//! `flowc ingest --program P --events F`: records events (opens, clicks,
//! redemptions, purchases, visits, unsubscriptions, any declared event) in
//! the state, once each by id, for the runs to come.

use std::collections::HashMap;
use std::io::BufReader;
use std::path::PathBuf;

use flowc_compiler::ZoneDb;
use flowc_runtime::input::read_events;
use flowc_runtime::state::{SqliteState, StateError, StateStore};
use flowc_runtime::vm::Event;

use super::{EXIT_OK, EXIT_USAGE};

#[derive(clap::Args)]
pub struct IngestArgs {
    /// The program (or flows), whose event catalogue types the events.
    #[arg(long, value_name = "FILE")]
    program: PathBuf,

    /// Events, JSON Lines; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    events: PathBuf,

    /// The state file (SQLite), created when missing.
    #[arg(long, value_name = "FILE", default_value = "flow.db")]
    state: PathBuf,
}

/// Records events in the state, once each by id, in contact order and in
/// one group of writes (one sync, not one per event). Returns how many were
/// new and how many already known.
pub fn record_events(
    state: &mut dyn StateStore,
    by_contact: &HashMap<String, Vec<Event>>,
) -> Result<(usize, usize), StateError> {
    let (mut new, mut known) = (0usize, 0usize);
    let mut contacts: Vec<_> = by_contact.iter().collect();
    contacts.sort_by(|a, b| a.0.cmp(b.0));
    state.begin_group()?;
    for (contact, list) in contacts {
        for event in list {
            match state.ingest(contact, event)? {
                true => new += 1,
                false => known += 1,
            }
        }
    }
    state.commit_group()?;
    Ok((new, known))
}

/// The events by contact, with those that name only a Message-ID resolved
/// to their send's contact (and flow, rule, occurrence); the lines of
/// those that name no send of this state.
pub fn with_messages_resolved(
    state: &dyn StateStore,
    mut by_contact: HashMap<String, Vec<Event>>,
    by_message: &[(u64, Event)],
) -> Result<flowc_runtime::feedback::ResolvedEvents, StateError> {
    let (resolved, unknown) = flowc_runtime::feedback::resolve_messages(state, by_message)?;
    for (contact, events) in resolved {
        by_contact.entry(contact).or_default().extend(events);
    }
    Ok((by_contact, unknown))
}

pub fn run(args: IngestArgs, zones: &ZoneDb) -> u8 {
    let program = match super::run::load_program(&args.program, zones) {
        Ok(program) => program,
        Err((code, message)) => {
            eprintln!("error: {message}");
            return code;
        }
    };
    let name = args.events.display().to_string();
    let events = if name == "-" {
        read_events(&program, std::io::stdin().lock())
    } else {
        match std::fs::File::open(&args.events) {
            Ok(file) => read_events(&program, BufReader::new(file)),
            Err(e) => {
                eprintln!("error: cannot read {name}: {e}");
                return EXIT_USAGE;
            }
        }
    };
    for error in &events.errors {
        eprintln!(
            "warning: {name}:{}: {}; line skipped",
            error.line,
            super::printable(&error.reason)
        );
    }
    let mut state = match SqliteState::open(&args.state) {
        Ok(state) => state,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let recorded = with_messages_resolved(&state, events.by_contact, &events.by_message).and_then(
        |(by_contact, unknown)| {
            record_events(&mut state, &by_contact).map(|counts| (counts, unknown))
        },
    );
    let ((new, known), unknown) = match recorded {
        Ok(counts) => counts,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    for (line, reason) in &unknown {
        eprintln!("warning: {name}:{line}: {reason}; line skipped");
    }
    println!(
        "ingested {new} new events into {} ({known} already known, {} lines skipped)",
        args.state.display(),
        events.errors.len() + unknown.len()
    );
    EXIT_OK
}
