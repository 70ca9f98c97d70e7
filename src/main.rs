//! `flowc`: check, explain (and later build, run, simulate) marketing flows.
//!
//! Only this binary prints and exits; the libraries return results.

mod cli;
mod lsp;

use std::process::ExitCode;

// mimalloc rather than the system allocator: a big file makes hundreds of
// thousands of small allocations on several threads, and glibc grows each
// thread's arena a few pages at a time (an mprotect and page faults per step).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Deeply nested input is refused by the parser, but the checker and
    // renderer recurse too: give them room rather than risk the 8 MiB
    // default stack on a pathological file.
    let worker = std::thread::Builder::new()
        .name("flowc".into())
        .stack_size(256 * 1024 * 1024)
        .spawn(cli::main);
    match worker.map(|handle| handle.join()) {
        Ok(Ok(code)) => code,
        _ => {
            eprintln!(
                "error: flowc stopped on an internal error; this is a bug in flowc.\n\
                 Please report it with the command and the files that caused it."
            );
            ExitCode::from(cli::EXIT_INTERNAL)
        }
    }
}
