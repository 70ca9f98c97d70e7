//! Property tests standing in for a fuzzer in CI: whatever the input, parse
//! and check return diagnostics and never panic. Inputs are arbitrary
//! strings and "token soups" built from the language's own words, which
//! reach far deeper into the grammar than random bytes.

use flowc_compiler::project::Project;
use flowc_compiler::source::Sources;
use flowc_compiler::{check_flows, ZoneDb};
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "when",
    "on",
    "if",
    "then",
    "and",
    "or",
    "not",
    "in",
    "is",
    "set",
    "true",
    "false",
    "flow",
    "policy",
    "send",
    "sms",
    "email",
    "push",
    "task",
    "call",
    "for",
    "note",
    "due",
    "webhook",
    "tag",
    "untag",
    "exit",
    "where",
    "since",
    "within",
    "anniversary",
    "of",
    "as",
    "becomes",
    "changes",
    "sent",
    "opened",
    "clicked",
    "link",
    "used",
    "unused",
    "consent",
    "tagged",
    "no",
    "yearly",
    "once",
    "before",
    "after",
    "at",
    "with",
    "from",
    "coupon",
    "valid",
    "most",
    "per",
    "priority",
    "quiet",
    "hours",
    "to",
    "messages",
    "birthday",
    "joined",
    "purchase",
    "offer",
    "reminder",
    "n",
    "product",
    "event",
    ".",
    "amount",
    "country",
    "x",
    "é",
    "cumpleaños",
    "0",
    "1",
    "15d",
    "3mo",
    "1y",
    "4h",
    "30min",
    "15m",
    "08:00",
    "25:00",
    "2027-02-29",
    "2024-02-29",
    "\"FR\"",
    "\"a\\q\"",
    "\"\\u{110000}\"",
    "\"",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "+",
    "-",
    "*",
    "/",
    "%",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    ",",
    ";",
    ":",
    "#",
    "//",
    "\n",
    " ",
    "title:",
    "send_at:",
    "zone:",
    "\"Europe/Paris\"",
    "audience:",
    "leap_day:",
    "mar1",
];

fn check_text(text: &str) {
    let mut sources = Sources::new();
    let id = sources.add("fuzz.flow", text);
    let (program, diagnostics) =
        check_flows(&sources, &[id], &Project::default(), &ZoneDb::bundled());
    // Rendering must not panic either, whatever spans the diagnostics carry.
    let mut out = Vec::new();
    flowc_compiler::diagnostics::render::human(&sources, &diagnostics, false, &mut out).unwrap();
    for d in &diagnostics {
        let _ = flowc_compiler::diagnostics::render::json_value(&sources, d);
        let _ = flowc_compiler::diagnostics::render::github(&sources, d);
    }
    assert_eq!(program.is_some(), !diagnostics.iter().any(|d| d.is_error()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check_text(&text);
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..60)) {
        check_text(&tokens.join(" "));
    }

    #[test]
    fn mutated_valid_flows_never_panic(
        cut in 0usize..200,
        insert in prop::sample::select(TOKENS),
    ) {
        let base = "flow f \"t\" { send_at: 08:00\n when birthday - 15d send offer with coupon valid 30d\n on birthday if unused send reminder\n on anniversary of joined as n if n % 5 == 0 task call for email note \"x\" then send gift }\npolicy { at most 3 messages per 7d; quiet hours 21:00 to 08:00 }";
        let at = cut.min(base.len());
        let at = (0..=at).rev().find(|&i| base.is_char_boundary(i)).unwrap_or(0);
        let text = format!("{}{}{}", &base[..at], insert, &base[at..]);
        check_text(&text);
    }
}

#[test]
fn pathological_inputs_finish() {
    for text in [
        "(".repeat(100_000),
        "[".repeat(100_000),
        "not ".repeat(50_000),
        "- ".repeat(50_000) + "1",
        format!("on x if a{} send y", " and a".repeat(5_000)),
        format!("on purchase where a{} send y", " where a".repeat(2_000)),
        "\"".repeat(10_001),
        "on x send y\n".repeat(2_000) + "on",
        "}".repeat(1_000),
        "\u{0}\u{feff}\u{202e}".repeat(100),
    ] {
        check_text(&text);
    }
}
