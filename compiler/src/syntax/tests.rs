//! Parser tests: what parses, into which tree, and how errors are reported.

use super::ast::*;
use super::parse;
use crate::source::SourceId;

fn parse_ok(text: &str) -> File {
    let (file, diagnostics) = parse(SourceId(0), text);
    assert!(
        diagnostics.is_empty(),
        "unexpected diagnostics for {text:?}: {diagnostics:#?}"
    );
    file
}

fn rules(file: &File) -> Vec<&super::ast::Rule> {
    file.items
        .iter()
        .filter_map(|i| match i {
            Item::Rule(r) => Some(r),
            _ => None,
        })
        .collect()
}

#[test]
fn the_fixed_line_parses_into_two_rules() {
    let file = parse_ok("when birthday - 15d send offer; on birthday if unused send reminder");
    let rules = rules(&file);
    assert_eq!(rules.len(), 2);
    let offset = rules[0].trigger.offset.as_ref().expect("an offset");
    assert_eq!(offset.direction, Direction::Before);
    assert_eq!(
        offset.amount.node,
        Duration {
            amount: 15,
            unit: Unit::Days
        }
    );
    assert!(matches!(&rules[0].actions[0], Action::Send(s) if s.template.node == "offer"));
    assert!(matches!(
        rules[1].condition.as_ref().map(|c| &c.kind),
        Some(ExprKind::Unused(None))
    ));
}

#[test]
fn layout_does_not_change_the_tree() {
    let a = parse_ok("when birthday - 15d send offer; on birthday if unused send reminder");
    let b = parse_ok("when birthday\n  - 15d\n  send offer\n\n# comment\non birthday if unused\n send reminder // done\n");
    assert_eq!(a, b);
}

#[test]
fn a_unit_in_words_may_follow_a_space() {
    let close = parse_ok(
        "when birthday - 15d send offer; on no visit for 2w send ping; on birthday + 90min send hi",
    );
    let spaced = parse_ok("when birthday - 15 days send offer; on no visit for 2\tweeks send ping; on birthday + 90 minutes send hi");
    let durations = |file: &File| -> Vec<Duration> {
        rules(file)
            .iter()
            .filter_map(|r| match (&r.trigger.offset, &r.trigger.kind) {
                (Some(o), _) => Some(o.amount.node),
                (None, TriggerKind::Inactivity { period, .. }) => Some(period.node),
                _ => None,
            })
            .collect()
    };
    assert_eq!(durations(&close).len(), 3);
    assert_eq!(durations(&close), durations(&spaced));
    // A line break is not a blank: `15` then `days` on the next line is an error.
    let (_, diagnostics) = parse(SourceId(0), "when birthday - 15\ndays send offer");
    assert!(!diagnostics.is_empty());
}

#[test]
fn operator_precedence() {
    let file = parse_ok("on anniversary of joined as n if n == 1 or n % 5 == 0 and not vip send x");
    let condition = rules(&file)[0].condition.clone().expect("condition");
    let ExprKind::Binary(BinaryOp::Or, _, rhs) = condition.kind else {
        panic!("`or` binds loosest: {condition:?}");
    };
    let ExprKind::Binary(BinaryOp::And, lhs, not) = rhs.kind else {
        panic!("then `and`");
    };
    assert!(matches!(lhs.kind, ExprKind::Binary(BinaryOp::Eq, _, _)));
    assert!(matches!(not.kind, ExprKind::Unary(UnaryOp::Not, _)));
}

#[test]
fn every_trigger_form_parses() {
    let file = parse_ok(
        r#"
        flow s5 "Follow-up" {
          send_at: 09:30
          reentry: once
          when 2027-03-01 at 10:00 send presentation
          when 3d after presentation if not opened presentation send presentation_b
          when 15d after purchase where product == "pack-1m" send checkin
          on no visit for 60d send miss_you
          on loyalty_tier becomes "gold" send welcome_gold
          on delivery_status changes if delivery_status == "shipped" send shipped
          on yearly joined send yearly_hello
          when 1d before anniversary of joined as n if n == 10 task call for account_manager note "10 years" then send gift_10 from account_manager
          on cart_abandoned + 1h if not purchase since presentation send sms cart with coupon valid 7d, discount = 10
          on purchase where amount > 100 set vip = true then tag "big spender" then webhook crm with amount = 1 then exit
        }
        policy { at most 3 messages per 7d; at most 1 sms per 1d; priority s5 > birthday; quiet hours 21:00 to 08:00 }
        "#,
    );
    let Item::Flow(flow) = &file.items[0] else {
        panic!()
    };
    assert_eq!(flow.rules.len(), 10);
    assert_eq!(flow.settings.len(), 2);
    assert!(matches!(file.items[1], Item::Policy(ref p) if p.items.len() == 4));
}

#[test]
fn identifiers_in_any_language() {
    let file = parse_ok(
        "on cumpleaños - 15d send oferta_día; on anniversaire if préféré == \"thé\" send café",
    );
    assert_eq!(rules(&file).len(), 2);
}

#[test]
fn string_escapes() {
    let file = parse_ok(r#"on x if name == "a\"b\\c\n\u{e9}" send y"#);
    let condition = rules(&file)[0].condition.clone().unwrap();
    let ExprKind::Binary(_, _, rhs) = condition.kind else {
        panic!()
    };
    assert_eq!(
        rhs.kind,
        ExprKind::Literal(Literal::String("a\"b\\c\né".into()))
    );
}

#[test]
fn a_unicode_escape_takes_hex_digits_only() {
    for bad in [
        r#"\u{+e9}"#,
        r#"\u{-1}"#,
        r#"\u{ e9}"#,
        r#"\u{d800}"#,
        r#"\u{1234567}"#,
    ] {
        let text = format!("on x if name == \"{bad}\" send y");
        let (_, diagnostics) = parse(SourceId(0), &text);
        let codes: Vec<_> = diagnostics.iter().map(|d| d.code.id()).collect();
        assert_eq!(codes, ["E0004"], "{bad}");
    }
}

#[test]
fn several_syntax_errors_are_reported_at_once() {
    let (_, diagnostics) = parse(
        SourceId(0),
        "when birthday - 15d send\non birthday if unused send reminder\nwhen x if send y\n",
    );
    let codes: Vec<_> = diagnostics.iter().map(|d| d.code.id()).collect();
    assert_eq!(codes, ["E0001", "E0001"], "{diagnostics:#?}");
}

#[test]
fn bad_literals_are_diagnosed_not_fatal() {
    let (file, diagnostics) = parse(SourceId(0), "on x at 25:00 if d == 2027-02-30 send \"y\"");
    assert!(file.items.is_empty());
    assert_eq!(diagnostics[0].code.id(), "E0001");
    let (file, diagnostics) = parse(
        SourceId(0),
        "on x at 25:00 if d == 2027-02-30 and s == \"\\q\" send y",
    );
    assert_eq!(rules(&file).len(), 1);
    let codes: Vec<_> = diagnostics.iter().map(|d| d.code.id()).collect();
    assert_eq!(codes, ["E0002", "E0003", "E0004"]);
}

#[test]
fn deep_nesting_is_refused_without_overflow() {
    let text = format!(
        "on x if {}a{} send y",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let (_, diagnostics) = parse(SourceId(0), &text);
    assert_eq!(diagnostics[0].code.id(), "E0007");
    let text = format!("on x if a{} send y", " + a".repeat(10_000));
    let (_, diagnostics) = parse(SourceId(0), &text);
    assert_eq!(diagnostics[0].code.id(), "E0007");
}

#[test]
fn keywords_are_not_names() {
    let (_, diagnostics) = parse(SourceId(0), "on birthday send set");
    assert_eq!(diagnostics[0].code.id(), "E0001");
    assert!(diagnostics[0]
        .help
        .as_deref()
        .unwrap_or("")
        .contains("reserved"));
}

#[test]
fn reserved_words_come_from_the_grammar() {
    for word in ["when", "set", "once", "tagged", "unused"] {
        let (_, diagnostics) = parse(SourceId(0), &format!("on birthday send {word}"));
        let help = diagnostics[0].help.as_deref().unwrap_or("");
        assert!(help.contains("reserved"), "{word}: {help}");
    }
    // Words that merely start with a keyword are names.
    parse_ok("on birthday send settings; on birthday send onboarding");
}

/// The reserved words of the grammar: the string of every `kw_*` rule in
/// its "Reserved words" section.
fn reserved_words_of_grammar() -> Vec<String> {
    let grammar = include_str!("../../../grammar/flow.pest");
    let start = grammar
        .find("// Reserved words")
        .expect("a Reserved words section");
    let end = grammar
        .find("// Contextual words")
        .expect("a Contextual words section");
    grammar[start..end]
        .lines()
        .filter_map(|line| line.split('"').nth(1).map(str::to_string))
        .collect()
}

#[test]
fn the_keyword_rule_matches_exactly_the_reserved_words() {
    use super::grammar::{FlowParser, Rule};
    use pest::Parser;
    let words = reserved_words_of_grammar();
    assert_eq!(words.len(), 36, "{words:?}");
    for word in &words {
        assert!(
            FlowParser::parse(Rule::keyword, word).is_ok(),
            "`{word}` is not matched by `keyword`"
        );
        // A longer name that starts with the keyword is not reserved.
        for suffix in ["s", "_x", "é", "1"] {
            let name = format!("{word}{suffix}");
            assert!(
                FlowParser::parse(Rule::keyword, &name).is_err(),
                "`{name}` is taken as a keyword"
            );
        }
        parse_ok(&format!("on birthday send {word}_x"));
    }
    // Every word the rule accepts is one of them: try all prefixes of them.
    for word in &words {
        for end in 1..word.len() {
            let prefix = &word[..end];
            let accepted = FlowParser::parse(Rule::keyword, prefix).is_ok();
            assert_eq!(
                accepted,
                words.iter().any(|w| w == prefix),
                "prefix `{prefix}`"
            );
        }
    }
}
