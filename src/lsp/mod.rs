//! `flowc lsp`: a language server for `.flow` files over stdio. It checks
//! with the compiler itself (the same parser, checker and diagnostics as
//! `flowc check`, on the editor's unsaved texts) and answers hover,
//! completion, go to definition and document symbols from the project;
//! formatting is `flowc fmt`'s formatter.

mod completion;
mod convert;
mod definition;
mod diagnostics;
mod documents;
mod formatting;
mod hover;
mod locate;
mod sample;
mod server;
mod symbols;
mod workspace;

use flowc_compiler::ZoneDb;
use lsp_server::Connection;

use crate::cli::{EXIT_DIAGNOSTICS, EXIT_OK, EXIT_USAGE};

/// Serves one client on stdin/stdout until it says `exit`. Logs go to
/// stderr (stdout is the protocol).
pub fn run(zones: &ZoneDb) -> u8 {
    let (connection, io_threads) = Connection::stdio();
    let capabilities = match serde_json::to_value(server::capabilities()) {
        Ok(value) => value,
        Err(error) => {
            eprintln!("flowc lsp: {error}");
            return EXIT_USAGE;
        }
    };
    if let Err(error) = connection.initialize(capabilities) {
        eprintln!("flowc lsp: {error}");
        return EXIT_USAGE;
    }
    let end = server::Server::new(&connection, zones).run();
    drop(connection);
    if let Err(error) = io_threads.join() {
        eprintln!("flowc lsp: {error}");
    }
    match end {
        server::End::Clean => EXIT_OK,
        server::End::Abrupt => EXIT_DIAGNOSTICS,
    }
}
