//! `flowc disasm program.flowb`: a readable listing of a compiled program,
//! with the source position of every instruction.

use std::path::PathBuf;

use flowc_runtime::bytecode;

use super::{EXIT_OK, EXIT_USAGE};

#[derive(clap::Args)]
pub struct DisasmArgs {
    /// A program written by `flowc build`.
    program: PathBuf,
}

pub fn run(args: DisasmArgs) -> u8 {
    let bytes = match std::fs::read(&args.program) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", args.program.display());
            return EXIT_USAGE;
        }
    };
    match bytecode::decode(&bytes) {
        Ok(program) => {
            print!("{}", bytecode::disassemble(&program));
            EXIT_OK
        }
        Err(error) => {
            eprintln!("error: {}: {error}", args.program.display());
            EXIT_USAGE
        }
    }
}
