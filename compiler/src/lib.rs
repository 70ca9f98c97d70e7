//! flowc compiler: `.flow` text → checked program (and, later, bytecode).
//!
//! Architecture invariant: the compiler does no IO. Callers hand it the
//! texts (flows, project file, templates) in a [`source::Sources`]; it
//! returns what it built and every diagnostic at once.

pub mod diagnostics;
pub mod source;
pub mod syntax;
