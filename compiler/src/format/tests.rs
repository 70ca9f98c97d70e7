use super::*;

fn fmt(text: &str) -> String {
    match format_source(SourceId(0), text) {
        Ok(out) => out,
        Err(e) => panic!("{e:?}"),
    }
}

#[test]
fn one_line_file_becomes_one_rule_per_line() {
    assert_eq!(
        fmt("when birthday - 15d send offer; on birthday if unused send reminder"),
        "when birthday - 15d send offer\non birthday if unused send reminder\n"
    );
}

#[test]
fn spaces_are_canonical() {
    assert_eq!(
        fmt("when  birthday-15d  if ( a+b )*2 >= 3 and x . y in [ 1 ,2, ] send  offer with n=1 ,m = - 2"),
        "when birthday - 15d if (a + b) * 2 >= 3 and x.y in [1, 2] send offer with n = 1, m = -2\n"
    );
}

#[test]
fn a_unit_in_words_keeps_one_space() {
    assert_eq!(
        fmt("when birthday -  15\t  days send offer; on no visit for 2w send ping"),
        "when birthday - 15 days send offer\non no visit for 2w send ping\n"
    );
}

#[test]
fn blocks_are_indented_and_blank_lines_kept_once() {
    let text = "flow   welcome \"Welcome\"{title: \"x\"\n\n\n\nwhen signup send hello}\npolicy{at most 3 messages per 7d\nquiet hours 21:00-08:00\npriority a>b > c}";
    assert_eq!(
        fmt(text),
        "flow welcome \"Welcome\" {\n  title: \"x\"\n\n  when signup send hello\n}\npolicy {\n  at most 3 messages per 7d\n  quiet hours 21:00 - 08:00\n  priority a > b > c\n}\n"
    );
}

#[test]
fn comments_stay_in_place() {
    let text = "# head\n\nflow f { # after brace\n  # before rule\n  when a send b # after rule\n  # before close\n}\n# tail\n";
    assert_eq!(fmt(text), text);
}

#[test]
fn a_comment_inside_a_rule_ends_its_line() {
    let text = "when a # why\n  if x # because\n  and y send b";
    let out = fmt(text);
    assert_eq!(
        out,
        "when a # why\n  if x # because\n     and y\n  send b\n"
    );
    assert_eq!(fmt(&out), out);
}

#[test]
fn long_rules_break_before_if_and_actions_then_before_and() {
    let text = "when 2d after presentation if clicked presentation link \"product_a\" and not clicked presentation link \"product_b\" and not clicked presentation link \"product_c\" send about_a from sales_rep then tag \"a\"";
    let out = fmt(text);
    assert_eq!(
        out,
        "when 2d after presentation\n  if clicked presentation link \"product_a\" and not clicked presentation link \"product_b\"\n     and not clicked presentation link \"product_c\"\n  send about_a from sales_rep\n  then tag \"a\"\n"
    );
    assert_eq!(fmt(&out), out);
    assert!(out.lines().all(|l| l.chars().count() <= WIDTH));
}

#[test]
fn syntax_errors_are_returned_not_formatted() {
    match format_source(SourceId(0), "when birthday send") {
        Err(FormatError::Syntax(errors)) => assert!(!errors.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(fmt(""), "");
    assert_eq!(fmt("  \n\n"), "");
    assert_eq!(fmt("# only\n\n\n# two"), "# only\n\n# two\n");
}

#[test]
fn unicode_names_and_strings_are_kept() {
    assert_eq!(
        fmt("when anniversaire_adhésion send félicitations with prénom = \"Zoë \\\"é\\\"\""),
        "when anniversaire_adhésion send félicitations with prénom = \"Zoë \\\"é\\\"\"\n"
    );
}
