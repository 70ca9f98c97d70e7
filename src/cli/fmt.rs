//! `flowc fmt [PATHS...]`: rewrite flow files in the canonical layout.
//! `--check` only lists the files that are not (for CI); `-` formats
//! standard input to standard output (for editors).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flowc_compiler::diagnostics::render;
use flowc_compiler::format::{format_source, FormatError};
use flowc_compiler::source::Sources;

use super::inputs::collect_files;
use super::output::{use_color, ColorChoice};
use super::{EXIT_DIAGNOSTICS, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE};

#[derive(clap::Args)]
pub struct FmtArgs {
    /// Flow files or folders (searched for *.flow); `-` for standard input.
    /// Default: the current folder.
    paths: Vec<PathBuf>,

    /// Change nothing: list the files that are not formatted and exit 1 if
    /// there is one.
    #[arg(long)]
    check: bool,

    /// Colour syntax errors (`auto` honours NO_COLOR and terminals).
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorChoice,
}

/// What became of one text.
enum Outcome {
    Unchanged,
    Formatted(String),
    /// Not formatted; the problem is already printed.
    Failed(u8),
}

pub fn run(args: FmtArgs) -> u8 {
    let color = use_color(args.color);
    if args.paths.iter().any(|p| p.as_os_str() == "-") {
        if args.paths.len() > 1 {
            eprintln!("error: `-` (standard input) cannot be mixed with paths");
            return EXIT_USAGE;
        }
        return stdin(args.check, color);
    }
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let mut files = Vec::new();
    for path in &paths {
        if let Err(message) = collect_files(path, "flow", &mut files) {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    }
    let mut exit = EXIT_OK;
    let (mut changed, mut failed) = (0, 0);
    for file in &files {
        let code = match std::fs::read(file) {
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", file.display());
                EXIT_USAGE
            }
            Ok(bytes) => match format_file(file, bytes, args.check, color) {
                Ok(true) => {
                    changed += 1;
                    if args.check {
                        println!("{}", file.display());
                        EXIT_DIAGNOSTICS
                    } else {
                        EXIT_OK
                    }
                }
                Ok(false) => EXIT_OK,
                Err(code) => code,
            },
        };
        if code != EXIT_OK && code != EXIT_DIAGNOSTICS || code == EXIT_DIAGNOSTICS && !args.check {
            failed += 1;
        }
        exit = exit.max(code);
    }
    let verb = if args.check {
        "not formatted"
    } else {
        "reformatted"
    };
    let not_done = if failed > 0 {
        format!(", {failed} could not be formatted")
    } else {
        String::new()
    };
    eprintln!(
        "{} file{} checked: {changed} {verb}{not_done}",
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    );
    exit
}

/// Formats one file; `Ok(true)` when its layout changed (and, without
/// `check`, was written back).
fn format_file(path: &Path, bytes: Vec<u8>, check: bool, color: bool) -> Result<bool, u8> {
    let name = path.display().to_string();
    let text = String::from_utf8(bytes).map_err(|e| {
        // Where, as `flowc check` says it: the line and the byte.
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        eprintln!("error: {name}:{line}: not UTF-8 text (byte {at} cannot start a character); nothing changed");
        EXIT_DIAGNOSTICS
    })?;
    match format_text(&name, &text, color) {
        Outcome::Unchanged => Ok(false),
        Outcome::Failed(code) => Err(code),
        Outcome::Formatted(_) if check => Ok(true),
        Outcome::Formatted(formatted) => {
            write_atomically(path, &formatted).map_err(|e| {
                eprintln!("error: cannot write {name}: {e}");
                EXIT_USAGE
            })?;
            Ok(true)
        }
    }
}

fn format_text(name: &str, text: &str, color: bool) -> Outcome {
    let mut sources = Sources::new();
    let id = sources.add(name, text);
    match format_source(id, text) {
        Ok(formatted) if formatted == text => Outcome::Unchanged,
        Ok(formatted) => Outcome::Formatted(formatted),
        Err(FormatError::Syntax(diagnostics)) => {
            let stderr = std::io::stderr();
            let _ = render::human(&sources, &diagnostics, color, &mut stderr.lock());
            eprintln!("{name}: not formatted: it has syntax errors");
            Outcome::Failed(EXIT_DIAGNOSTICS)
        }
        Err(FormatError::Changed(why)) => {
            eprintln!(
                "internal error: formatting {name} would change its meaning ({why}); \
                 the file is left as it is. Please report this with the file."
            );
            Outcome::Failed(EXIT_INTERNAL)
        }
    }
}

/// Standard input to standard output: the text as it is when it cannot be
/// formatted, so that an editor replacing its buffer loses nothing.
fn stdin(check: bool, color: bool) -> u8 {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("error: cannot read standard input: {e}");
        return EXIT_USAGE;
    }
    let (output, code) = match format_text("<stdin>", &text, color) {
        Outcome::Unchanged => (text, EXIT_OK),
        Outcome::Formatted(_) if check => {
            println!("<stdin>");
            return EXIT_DIAGNOSTICS;
        }
        Outcome::Formatted(formatted) => (formatted, EXIT_OK),
        Outcome::Failed(code) => (text, code),
    };
    if check {
        return code;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Err(e) = out.write_all(output.as_bytes()).and_then(|_| out.flush()) {
        eprintln!("error: cannot write standard output: {e}");
        return EXIT_USAGE;
    }
    code
}

/// The new text in a temporary file beside the old, then renamed over it:
/// a crash leaves the old file or the new one, never half of each.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("flow");
    let temporary = path.with_file_name(format!(".{file_name}.fmt.tmp"));
    std::fs::write(&temporary, text)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&temporary, meta.permissions());
    }
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}
