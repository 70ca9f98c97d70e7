//! `flowc explain CODE|SETTING`: the documentation of a diagnostic code
//! (from `docs/errors.md`) or of a flow setting (from `docs/language.md`).

use flowc_compiler::diagnostics::{suggest, Code};

use super::{EXIT_OK, EXIT_USAGE};

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// A code such as E0041 or W0001, or a setting such as `lateness`.
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
            if let Some(text) = setting(&args.code) {
                println!("{text}");
                return EXIT_OK;
            }
            let ids = Code::ALL.iter().map(|c| c.id());
            let names = settings().map(|(name, _)| name);
            if let Some(name) = suggest::closest(args.code.trim(), names) {
                eprintln!(
                    "error: `{}` is neither a diagnostic code nor a setting (did you mean `{name}`?)",
                    args.code
                );
                return EXIT_USAGE;
            }
            let hint = suggest::closest(&args.code.to_uppercase(), ids)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            eprintln!(
                "error: `{}` is not a flowc diagnostic code or setting{hint}\nThe codes are listed in docs/errors.md, the settings in docs/language.md.",
                args.code
            );
            EXIT_USAGE
        }
    }
}

/// The language reference, whose `### \`setting\`` sections `explain` prints.
const LANGUAGE: &str = include_str!("../../docs/language.md");

/// Each setting's name and section (heading and text up to the next heading).
fn settings() -> impl Iterator<Item = (&'static str, &'static str)> {
    LANGUAGE.split("\n### `").skip(1).filter_map(|section| {
        let (name, _) = section.split_once('`')?;
        let end = section.find("\n#").unwrap_or(section.len());
        Some((name, section[..end].trim_end()))
    })
}

/// The section of a setting, as printed: `lateness` (any case, `lateness:`).
fn setting(name: &str) -> Option<String> {
    let name = name.trim().trim_end_matches(':').to_lowercase();
    settings()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| format!("`{n}`{}", &text[n.len() + 1..]))
}
