//! Command-line interface: argument parsing (clap derive), one module per
//! subcommand, and the exit codes.

mod build;
mod check;
mod coupons;
mod disasm;
mod explain;
mod fmt;
mod ingest;
pub(crate) mod inputs;
mod output;
mod report;
mod run;
mod serve;
pub(crate) mod simulate;
mod test;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod exit;
pub use exit::*;

/// `text` with its control characters escaped (`\n`, `\r`, `\u{1b}`):
/// what flowc prints may hold contact or event data, and a line break or a
/// terminal escape in it must not forge a line of the log or recolour it.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[derive(Parser)]
#[command(
    name = "flowc",
    about = "Check, compile and run marketing flows",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Read time-zone rules from this compiled zoneinfo directory instead of
    /// the bundled IANA release.
    #[arg(long, global = true, env = "FLOWC_TZDIR", value_name = "DIR")]
    tzdir: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Check flow files and report every problem.
    Check(check::SourceArgs),
    /// Rewrite flow files in the one canonical layout (`--check` for CI).
    Fmt(fmt::FmtArgs),
    /// Check and compile flows to a program file for the runtime.
    Build(build::BuildArgs),
    /// Show a compiled program as a readable listing.
    Disasm(disasm::DisasmArgs),
    /// Show what flows would do, to whom and when, without sending anything.
    Simulate(simulate::SimulateArgs),
    /// Run the scenario tests of `.flowtest` files.
    Test(test::TestArgs),
    /// Deliver what is due since the last run (for cron, systemd, CronJob).
    Run(Box<run::RunArgs>),
    /// Record events (opens, clicks, redemptions, purchases...) for the runs.
    Ingest(ingest::IngestArgs),
    /// Answer unsubscribes, tracked clicks, opens and posted events (HTTP).
    Serve(serve::ServeArgs),
    /// The coupons issued: `flowc coupons export`.
    Coupons(coupons::CouponsArgs),
    /// Per flow and rule: delivered, pending, missed, skipped, and why.
    Report(report::ReportArgs),
    /// The latest runs, their windows and counts, and what is pending.
    Status(report::ReportArgs),
    /// Acknowledge sends in doubt once reconciled with the mail server.
    Ack(report::AckArgs),
    /// Explain a diagnostic code, e.g. `flowc explain E0041`.
    Explain(explain::ExplainArgs),
    /// Serve editors over stdio (Language Server Protocol).
    Lsp,
}

/// The version line: crate version and the zone rules in use (`--tzdir`
/// or `FLOWC_TZDIR` when given, else the bundled release).
fn long_version() -> String {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let flag = args.iter().enumerate().find_map(|(i, a)| {
        let a = a.to_str()?;
        match a.strip_prefix("--tzdir=") {
            Some(dir) => Some(std::ffi::OsString::from(dir)),
            None if a == "--tzdir" => args.get(i + 1).cloned(),
            None => None,
        }
    });
    let setting = flag.or_else(|| std::env::var_os(flowc_runtime::calendar::zones::TZDIR_ENV_VAR));
    let zones = match flowc_runtime::calendar::ZoneDb::from_setting(setting.as_deref()) {
        Ok(zones) => zones.source_description(),
        Err(error) => format!("unusable zoneinfo directory: {error}"),
    };
    format!("{} (time zones: {zones})", env!("CARGO_PKG_VERSION"))
}

pub fn main() -> ExitCode {
    // Computed once per process; clap wants a 'static string.
    let version: &'static str = Box::leak(long_version().into_boxed_str());
    let command = Cli::command().version(version).long_version(version);
    let matches = command.get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let zones = match &cli.tzdir {
        Some(dir) => match flowc_runtime::calendar::ZoneDb::from_dir(dir) {
            Ok(zones) => zones,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(EXIT_USAGE);
            }
        },
        None => flowc_runtime::calendar::ZoneDb::bundled(),
    };
    let code = match cli.command {
        Command::Check(args) => check::run(args, &zones),
        Command::Fmt(args) => fmt::run(args),
        Command::Build(args) => build::run(args, &zones),
        Command::Disasm(args) => disasm::run(args),
        Command::Simulate(args) => simulate::run(args, &zones),
        Command::Test(args) => test::run(args, &zones),
        Command::Run(args) => run::run(*args, &zones),
        Command::Ingest(args) => ingest::run(args, &zones),
        Command::Serve(args) => serve::run(args, &zones),
        Command::Coupons(args) => coupons::run(args),
        Command::Report(args) => report::report(args, &zones),
        Command::Status(args) => report::status(args),
        Command::Ack(args) => report::ack(args),
        Command::Explain(args) => explain::run(args),
        Command::Lsp => crate::lsp::run(&zones),
    };
    ExitCode::from(code)
}
