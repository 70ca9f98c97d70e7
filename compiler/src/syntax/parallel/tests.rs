//! The two-thread parse gives exactly the one-thread result (tree, spans
//! and diagnostics), wherever the text is cut, or gives up.

use proptest::prelude::*;

use pest::Parser;

use super::{cuts, parse, parse_at, Outcome};
use crate::source::SourceId;
use crate::syntax::grammar::{FlowParser, Rule};
use crate::syntax::{parse_on_one_thread, parse_with_recovery};

/// `Debug` shows every span, which `==` on the tree ignores.
fn one_thread(text: &str) -> String {
    format!("{:?}", parse_on_one_thread(SourceId(3), text))
}

/// Every cut of `text` either gives up or gives the one-thread result;
/// returns how many did not give up. So does the whole parse with its
/// recovery from syntax errors, tried on two threads whatever the size.
fn check_every_cut(text: &str) -> usize {
    let expected = one_thread(text);
    assert_eq!(
        format!("{:?}", parse_with_recovery(SourceId(3), text, 0)),
        expected,
        "{text:?}"
    );
    let mut used = 0;
    let one_thread_error = FlowParser::parse(Rule::file, text).err();
    for cut in cuts(text) {
        match parse_at(SourceId(3), text, &cut) {
            Outcome::Parsed(file, diagnostics) => {
                assert_eq!(
                    format!("{:?}", (file, diagnostics)),
                    expected,
                    "cut {cut:?} of {text:?}"
                );
                used += 1;
            }
            Outcome::Failed(error) => {
                let wanted = one_thread_error.as_ref().expect("the text does not parse");
                assert_eq!(
                    (&error.location, &error.variant),
                    (&wanted.location, &wanted.variant),
                    "cut {cut:?} of {text:?}"
                );
                used += 1;
            }
            Outcome::Unknown => {}
        }
    }
    used
}

/// The shape of `bench/check.sh`'s file.
fn generated(rules: usize) -> String {
    let mut text = String::from("flow generated \"Generated\" {\n  send_at: 08:00\n");
    for i in 2..rules {
        text.push_str(&match i % 5 {
            0 => format!("  r{i}: when birthday - {}d if country == \"FR\" send t{i}\n", i % 300 + 1),
            1 => format!("  r{i}: on anniversary of joined as n if n % 5 == 0 send t{i}\n"),
            2 => format!(
                "  r{i}: when 3d after t{0} if not purchase where amount > {i} since t{0} send t{i} with coupon valid 30d\n",
                i - 2
            ),
            3 => format!("  r{i}: on purchase where product == \"p{i}\" and amount >= 10 send sms t{i}\n"),
            _ => format!("  r{i}: on no visit for 60d if \"vip\" in tags task call for email note \"n{i}\" then send t{i}\n"),
        });
    }
    text.push_str("}\n");
    text
}

#[test]
fn a_big_generated_file_is_parsed_in_two_with_the_same_result() {
    let text = generated(400);
    let Outcome::Parsed(file, diagnostics) = parse(SourceId(3), &text, 0) else {
        panic!("the file is not parsed in two");
    };
    assert_eq!(format!("{:?}", (file, diagnostics)), one_thread(&text));
    assert_eq!(check_every_cut(&text), cuts(&text).len());
    assert!(cuts(&text).len() > 300);
}

#[test]
fn a_big_file_with_syntax_errors_is_reported_as_on_one_thread() {
    let mut text = generated(400);
    for line in [30, 200, 201, 350] {
        let start = text.match_indices('\n').nth(line).map_or(0, |(i, _)| i + 1);
        text.insert_str(start, "  broken: when send\n");
    }
    assert!(matches!(parse(SourceId(3), &text, 0), Outcome::Failed(_)));
    let parsed = parse_with_recovery(SourceId(3), &text, 0);
    assert_eq!(parsed.1.len(), 4, "{:?}", parsed.1);
    assert_eq!(format!("{parsed:?}"), one_thread(&text));
}

#[test]
fn small_files_are_parsed_on_one_thread() {
    assert!(matches!(
        parse(SourceId(3), &generated(20), super::MIN_BYTES),
        Outcome::Unknown
    ));
}

const SAMPLES: &[&str] = &[
    // Loose rules and settings at top level, `;`, comments, blank lines.
    "title: \"A { brace\"\nsend_at: 08:00 # a comment {\n\nwhen birthday send a; on birthday if unused send b\n// }\nr3: when signup send c\n  with coupon\nr4: on purchase where amount > 3 send d\n",
    // Two flow blocks, a policy between them, a top-level rule after.
    "flow a \"A\" {\n  r1: when birthday send x\n  r2: on signup send y\n  send_at: 09:00\n  r3: on signup send z\n}\npolicy {\n  at most 3 messages per 7d\n  quiet hours 22:00 to 07:00\n}\nflow b {\n  x: 1\n  r1: when birthday send x\n  r2: when birthday send x\n}\nwhen birthday send loose\non signup send loose2\n",
    // Literal problems: diagnostics from the builder on both sides.
    "flow a {\n  send_at: 25:00\n  r1: when 2027-02-30 send x\n  r2: on signup if \"\\q\" in tags send y\n  r3: on signup at 24:61 send z\n  r4: on signup if amount > 99999999999999999999 send w\n}\n",
    // A line that does not end its rule: the next label is taken as its
    // template, and the file does not parse.
    "flow a {\n  r1: when birthday send sms\n  r2: when birthday send x\n  r3: on signup send y\n}\n",
    "flow a {\n  r1: when birthday send\n  r2: when birthday send x\n  r3: on signup send y\n}\n",
    // Syntax errors, unclosed blocks, stray braces.
    "flow a {\n  r1: when birthday send x\n  r2: when send\n  r3: on signup send y\n",
    "r1: when birthday send x\n}\nr2: on signup send y\nr3: on signup send z\n",
    "flow a {\n  r1: when birthday send x\n  flow b {\n  r2: on signup send y\n  }\n  r3: on signup send z\n}\n",
    // A rule over several lines; a header over two lines; unicode.
    "flow a\n  \"Ünïcode\" {\n  r1: when birthday\n    if country == \"FR\"\n    send x\n  r2: on signup send y\n  réduction: on signup send z\n  r4: on signup send w\n}\n",
];

#[test]
fn every_cut_of_the_samples_gives_the_one_thread_result() {
    for (index, text) in SAMPLES.iter().enumerate() {
        let used = check_every_cut(text);
        if index < 3 {
            assert!(used > 0, "sample {index} was never cut");
        }
    }
}

const LINES: &[&str] = &[
    "flow a {",
    "flow b \"B\" {",
    "policy {",
    "}",
    "  r1: when birthday send x",
    "  r1: when birthday send x",
    "  when birthday - 15d send offer; on birthday if unused send reminder",
    "  send_at: 08:00",
    "  send_at: 25:00",
    "  title: \"T {\"",
    "  at most 3 messages per 7d",
    "  r2: on purchase where product == \"p\" and amount >= 10 send sms t",
    "  r3: when 3d after t if not purchase since t send u with coupon valid 30d",
    "  r4: on no visit for 60d if tags is set task call for email note \"n\" then send v",
    "  r5: on signup",
    "    send w",
    "  r6: on signup send sms",
    "  # r7: on signup {",
    "",
    "  ;",
    "  r8: on anniversary of joined as n if n % 5 == 0 or n == 3 send z",
    "  x: [1, 2",
    "  3]",
    "  r9: on signup if \"\\u{e9}\" in tags send y",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_cut_of_any_lines_gives_the_one_thread_result(
        lines in prop::collection::vec(prop::sample::select(LINES), 0..40)
    ) {
        check_every_cut(&lines.join("\n"));
    }
}

const RULES: &[&str] = &[
    "  r1: when birthday send x",
    "  when birthday - 15d send offer; on birthday if unused send reminder",
    "  send_at: 08:00",
    "  r2: on purchase where product == \"p\" and amount >= 10 send sms t",
    "  r3: when 3d after t if not purchase since t send u with coupon valid 30d",
    "  r4: on signup",
    "    send w",
    "  # a comment",
    "",
];

const BROKEN: &[&str] = &[
    "  r5: when send",
    "  r6: on signup send sms",
    "  r7: on signup if send x",
    "  x: [1, 2",
    "  r8: on signup send x with coupon valid",
    "  on on on",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_block_with_a_few_broken_lines_gives_the_one_thread_result(
        lines in prop::collection::vec(prop::sample::select(RULES), 1..60),
        broken in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(BROKEN)), 0..3),
    ) {
        let mut lines = lines;
        for (index, line) in broken {
            let at = index.index(lines.len() + 1);
            lines.insert(at, line);
        }
        check_every_cut(&format!("flow a {{\n{}\n}}\n", lines.join("\n")));
    }
}

/// The deepest nesting and the longest expression accepted parse on the
/// second thread too (its stack is its own).
#[test]
fn deep_nesting_in_the_second_half_parses_as_on_one_thread() {
    let nesting = crate::syntax::MAX_NESTING;
    let deep = format!(
        "  deep: on signup if {}1{} == 1 send x\n  long: on signup if {} == 1 send y\n",
        "(".repeat(nesting),
        ")".repeat(nesting),
        vec!["1"; 200].join(" + ")
    );
    let mut text = generated(400);
    let at = text.len() - 2;
    text.insert_str(at, &deep);
    let Outcome::Parsed(file, diagnostics) = parse(SourceId(3), &text, 0) else {
        panic!("the file is not parsed in two");
    };
    assert_eq!(format!("{:?}", (file, diagnostics)), one_thread(&text));
}
