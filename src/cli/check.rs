//! `flowc check [PATHS...]`: parse and check flows, report every problem.

use std::path::PathBuf;

use flowc_compiler::diagnostics::Severity;
use flowc_compiler::ZoneDb;

use super::output::{self, ColorChoice, ErrorFormat, Summary};
use super::{inputs, EXIT_DIAGNOSTICS, EXIT_OK, EXIT_USAGE};

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Flow files or folders (searched for *.flow). Default: the current folder.
    paths: Vec<PathBuf>,

    /// The project file (default: flow.toml in the flows' folder or above).
    #[arg(long, value_name = "FILE")]
    project: Option<PathBuf>,

    /// How to report problems.
    #[arg(long, value_enum, default_value = "human")]
    error_format: ErrorFormat,

    /// Colour the human format (`auto` honours NO_COLOR and terminals).
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorChoice,

    /// Exit 1 on warnings too.
    #[arg(long)]
    deny_warnings: bool,
}

pub fn run(args: CheckArgs, zones: &ZoneDb) -> u8 {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let mut inputs = match inputs::load(&paths, args.project.as_deref()) {
        Ok(inputs) => inputs,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    };
    for group in &inputs.groups {
        let (_program, mut found) =
            flowc_compiler::check_flows(&inputs.sources, &group.flow_files, &group.project, zones);
        inputs.diagnostics.append(&mut found);
    }
    let mut diagnostics = std::mem::take(&mut inputs.diagnostics);
    flowc_compiler::diagnostics::sort(&mut diagnostics);
    let summary = Summary {
        files: inputs.flow_file_count(),
        errors: output::count(&diagnostics, Severity::Error),
        warnings: output::count(&diagnostics, Severity::Warning),
    };
    output::print(
        &inputs.sources,
        &diagnostics,
        args.error_format,
        output::use_color(args.color),
        &summary,
    );
    if summary.errors > 0 || (args.deny_warnings && summary.warnings > 0) {
        EXIT_DIAGNOSTICS
    } else {
        EXIT_OK
    }
}
