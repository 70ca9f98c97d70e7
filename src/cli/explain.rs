//! `flowc explain CODE`: the documentation of a diagnostic code.

use flowc_compiler::diagnostics::{suggest, Code};

use super::{EXIT_OK, EXIT_USAGE};

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// A code such as E0041 or W0001.
    code: String,
}

pub fn run(args: ExplainArgs) -> u8 {
    match Code::from_id(&args.code) {
        Some(code) => {
            match code.explanation() {
                Some(text) => println!("{text}"),
                None => println!("{}: {}", code.id(), code.title()),
            }
            EXIT_OK
        }
        None => {
            let ids = Code::ALL.iter().map(|c| c.id());
            let hint = suggest::closest(&args.code.to_uppercase(), ids)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            eprintln!(
                "error: `{}` is not a flowc diagnostic code{hint}\nThe codes are listed in docs/errors.md.",
                args.code
            );
            EXIT_USAGE
        }
    }
}
