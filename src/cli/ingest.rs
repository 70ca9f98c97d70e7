//! `flowc ingest --program P --events F`: records events (opens, clicks,
//! redemptions, purchases, visits, unsubscriptions, any declared event) in
//! the state, once each by id, for the runs to come.

use std::io::BufReader;
use std::path::PathBuf;

use flowc_compiler::ZoneDb;
use flowc_runtime::input::read_events;
use flowc_runtime::state::{SqliteState, StateStore};

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
    let (mut new, mut known) = (0usize, 0usize);
    let mut contacts: Vec<_> = events.by_contact.iter().collect();
    contacts.sort_by(|a, b| a.0.cmp(b.0));
    for (contact, list) in contacts {
        for event in list {
            match state.ingest(contact, event) {
                Ok(true) => new += 1,
                Ok(false) => known += 1,
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_USAGE;
                }
            }
        }
    }
    println!(
        "ingested {new} new events into {} ({known} already known, {} lines skipped)",
        args.state.display(),
        events.errors.len()
    );
    EXIT_OK
}
