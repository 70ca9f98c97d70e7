//! flowc compiler: `.flow` text → checked program → bytecode.
//!
//! Architecture invariant: the compiler does no IO. Callers hand it the
//! texts (flows, project file, templates) in a [`source::Sources`]; it
//! returns what it built and every diagnostic at once.

// The pest parser is built without `std` (no native stack probe on every
// rule call; `syntax::MAX_NESTING` bounds the depth instead), and its
// generated code names `alloc`.
extern crate alloc;

pub mod check;
pub mod diagnostics;
pub mod format;
pub mod lower;
pub mod program;
pub mod project;
pub mod reference;
pub mod source;
pub mod syntax;

pub use flowc_core::calendar::ZoneDb;

use diagnostics::{Code, Diagnostic};
use program::Program;
use project::Project;
use source::{SourceId, Sources};

/// Parses, checks and compiles `flow_files` to bytecode: the program when
/// there is no error, and every diagnostic.
pub fn build_flows(
    sources: &Sources,
    flow_files: &[SourceId],
    project: &Project,
    zones: &ZoneDb,
) -> (Option<flowc_core::bytecode::Program>, Vec<Diagnostic>) {
    let (program, diagnostics) = check_flows(sources, flow_files, project, zones);
    let bytecode = program.map(|p| lower::lower(&p, sources, flow_files, project));
    (bytecode, diagnostics)
}

/// Parses and checks `flow_files` (ids into `sources`) against `project`.
/// Returns the checked program when there is no error, and every
/// diagnostic of every file, sorted by file and position.
pub fn check_flows(
    sources: &Sources,
    flow_files: &[SourceId],
    project: &Project,
    zones: &ZoneDb,
) -> (Option<Program>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut files = Vec::new();
    let mut incomplete = std::collections::BTreeSet::new();
    for &id in flow_files {
        let (file, mut found) = syntax::parse(id, sources.text(id));
        // Items that failed to parse are missing from the tree.
        if found
            .iter()
            .any(|d| matches!(d.code, Code::Syntax | Code::TooDeep))
        {
            incomplete.insert(id);
        }
        diagnostics.append(&mut found);
        files.push((id, file));
    }
    if project.unreadable {
        // No schema to check names against: syntax errors only.
        diagnostics::sort(&mut diagnostics);
        return (None, diagnostics);
    }
    let context = check::Context {
        sources,
        project,
        zones,
        incomplete,
    };
    let (program, mut found) = check::check(&context, files);
    diagnostics.append(&mut found);
    diagnostics::sort(&mut diagnostics);
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    (program.filter(|_| !has_errors), diagnostics)
}
