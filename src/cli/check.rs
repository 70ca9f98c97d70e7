//! `flowc check [PATHS...]`: parse and check flows, report every problem.
//! Also the first half of `flowc build`, which compiles what checks.

use std::path::PathBuf;

use flowc_compiler::diagnostics::Severity;
use flowc_compiler::ZoneDb;
use flowc_runtime::bytecode;

use super::inputs::{self, Inputs};
use super::output::{self, ColorChoice, ErrorFormat, Summary};
use super::{EXIT_DIAGNOSTICS, EXIT_OK, EXIT_USAGE};

/// What to read and how to report problems: shared by `check` and `build`.
#[derive(clap::Args)]
pub struct SourceArgs {
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

impl SourceArgs {
    /// Defaults (human output, colour auto) for these paths.
    pub fn for_paths(paths: Vec<PathBuf>) -> SourceArgs {
        SourceArgs {
            paths,
            project: None,
            error_format: ErrorFormat::Human,
            color: ColorChoice::Auto,
            deny_warnings: false,
        }
    }
}

pub fn run(args: SourceArgs, zones: &ZoneDb) -> u8 {
    match check_sources(&args, zones, false) {
        Ok(checked) => checked.exit,
        Err(code) => code,
    }
}

/// The outcome of checking (and maybe compiling) the flows named by `args`.
pub struct Checked {
    pub inputs: Inputs,
    /// Per project group, the compiled program when asked and error-free.
    pub programs: Vec<Option<bytecode::Program>>,
    /// The exit code the diagnostics call for.
    pub exit: u8,
}

/// Loads, checks (and compiles when `compile`), and prints the diagnostics.
/// `Err` is an exit code after a usage or IO problem was reported.
pub fn check_sources(args: &SourceArgs, zones: &ZoneDb, compile: bool) -> Result<Checked, u8> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut inputs = inputs::load(&paths, args.project.as_deref()).map_err(|message| {
        eprintln!("error: {message}");
        EXIT_USAGE
    })?;
    let mut programs = Vec::new();
    for group in &inputs.groups {
        let (sources, files, project) = (&inputs.sources, &group.flow_files, &group.project);
        let (program, mut found) = if compile {
            flowc_compiler::build_flows(sources, files, project, zones)
        } else {
            let (checked, found) = flowc_compiler::check_flows(sources, files, project, zones);
            // Freeing the checked program (every rule of every flow) takes
            // longer than printing: let another thread do it meanwhile.
            std::thread::spawn(move || drop(checked));
            (None, found)
        };
        inputs.diagnostics.append(&mut found);
        programs.push(program);
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
    let exit = if summary.errors > 0 || (args.deny_warnings && summary.warnings > 0) {
        EXIT_DIAGNOSTICS
    } else {
        EXIT_OK
    };
    Ok(Checked {
        inputs,
        programs,
        exit,
    })
}
