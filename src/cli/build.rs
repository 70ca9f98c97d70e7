//! `flowc build [PATHS...] -o program.flowb`: check and compile flows to
//! the bytecode file the runtime executes.

use std::path::PathBuf;

use flowc_compiler::ZoneDb;
use flowc_runtime::bytecode;

use super::check::{check_sources, SourceArgs};
use super::{EXIT_INTERNAL, EXIT_OK, EXIT_USAGE};

#[derive(clap::Args)]
pub struct BuildArgs {
    #[command(flatten)]
    sources: SourceArgs,

    /// Where to write the program.
    #[arg(short, long, value_name = "FILE", default_value = "program.flowb")]
    output: PathBuf,
}

pub fn run(args: BuildArgs, zones: &ZoneDb) -> u8 {
    let checked = match check_sources(&args.sources, zones, true) {
        Ok(checked) => checked,
        Err(code) => return code,
    };
    if checked.exit != EXIT_OK {
        eprintln!(
            "error: nothing written to {}: fix the errors above first",
            args.output.display()
        );
        return checked.exit;
    }
    let mut programs = checked.programs.into_iter().flatten();
    let (Some(program), None) = (programs.next(), programs.next()) else {
        eprintln!(
            "error: `flowc build` compiles the flows of one project at a time, but these files belong to {} projects (each flow.toml is one); build each project folder on its own",
            checked.inputs.groups.len()
        );
        return EXIT_USAGE;
    };
    let bytes = match bytecode::encode(&program) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_INTERNAL;
        }
    };
    if let Err(error) = std::fs::write(&args.output, &bytes) {
        eprintln!("error: cannot write {}: {error}", args.output.display());
        return EXIT_USAGE;
    }
    let rules: usize = program.flows.iter().map(|f| f.rules.len()).sum();
    eprintln!(
        "built {}: {} flows, {rules} rules, {} bytes (format {})",
        args.output.display(),
        program.flows.len(),
        bytes.len(),
        bytecode::FORMAT_VERSION
    );
    EXIT_OK
}
