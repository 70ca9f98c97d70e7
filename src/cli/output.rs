//! Printing diagnostics in the format and colour the user asked for.

use std::io::{IsTerminal, Write};

use flowc_compiler::diagnostics::render;
use flowc_compiler::diagnostics::{Diagnostic, Severity};
use flowc_compiler::source::Sources;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ErrorFormat {
    /// Readable reports with the source (stderr).
    Human,
    /// One JSON document on stdout, for tools.
    Json,
    /// GitHub Actions annotations on stdout.
    Github,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Whether to colour output on stderr: `auto` colours a terminal unless
/// `NO_COLOR` is set (to anything non-empty).
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal()
        }
    }
}

pub struct Summary {
    pub files: usize,
    pub errors: usize,
    pub warnings: usize,
}

pub fn print(
    sources: &Sources,
    diagnostics: &[Diagnostic],
    format: ErrorFormat,
    color: bool,
    summary: &Summary,
) {
    match format {
        ErrorFormat::Human => {
            let stderr = std::io::stderr();
            let mut out = stderr.lock();
            // A closed stderr is no reason to fail the check itself.
            let _ = render::human(sources, diagnostics, color, &mut out);
            let _ = writeln!(out, "{}", summary_line(summary));
        }
        ErrorFormat::Json => {
            let value = serde_json::json!({
                "files": summary.files,
                "errors": summary.errors,
                "warnings": summary.warnings,
                "diagnostics": diagnostics.iter().map(|d| render::json_value(sources, d)).collect::<Vec<_>>(),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        }
        ErrorFormat::Github => {
            for d in diagnostics {
                println!("{}", render::github(sources, d));
            }
            eprintln!("{}", summary_line(summary));
        }
    }
}

pub fn count(diagnostics: &[Diagnostic], severity: Severity) -> usize {
    diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .count()
}

fn summary_line(s: &Summary) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "checked {}: {}, {}",
        plural(s.files, "file"),
        plural(s.errors, "error"),
        plural(s.warnings, "warning")
    )
}
