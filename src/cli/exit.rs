//! Every exit code of `flowc`, in one place: what a scheduler or a CI job
//! can tell apart (docs/operations.md lists them for operators).

/// Clean: no error (and no warning under `--deny-warnings`); a run that
/// delivered everything due.
pub const EXIT_OK: u8 = 0;
/// The flows have errors (or warnings under `--deny-warnings`), or a
/// scenario test failed.
pub const EXIT_DIAGNOSTICS: u8 = 1;
/// Bad usage or an input that could not be read.
pub const EXIT_USAGE: u8 = 2;
/// Some sends were past their deadline: the run worked, but was late.
pub const EXIT_MISSED: u8 = 3;
/// Another run holds the state.
pub const EXIT_LOCKED: u8 = 4;
/// Some sends failed for good (refused by the server, or impossible to
/// render): they were not sent.
pub const EXIT_FAILED: u8 = 5;
/// A bug in flowc.
pub const EXIT_INTERNAL: u8 = 101;
