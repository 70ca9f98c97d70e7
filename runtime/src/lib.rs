//! flowc runtime: what reads and writes the world around the core (the
//! calendar, bytecode and VM of `flowc-core`, re-exported here): contact
//! and event input, the state (SQLite), delivery (SMTP, webhooks, outbox
//! folders), keyed tokens and codes, what comes back, and the run.

pub use flowc_core::{bytecode, calendar, vm};

pub mod delivery;
pub mod feedback;
pub mod input;
pub mod keys;
pub mod run;
pub mod state;
