//! Checker tests: each asserts the codes a small flow produces.

use crate::diagnostics::Diagnostic;
use crate::project::templates::Templates;
use crate::project::Project;
use crate::source::Sources;
use crate::syntax::ast::Channel;
use crate::ZoneDb;

fn check_with(project: &Project, sources: &mut Sources, files: &[(&str, &str)]) -> Vec<Diagnostic> {
    let ids: Vec<_> = files
        .iter()
        .map(|(path, text)| sources.add(*path, *text))
        .collect();
    let (program, diagnostics) = crate::check_flows(sources, &ids, project, &ZoneDb::bundled());
    assert_eq!(
        program.is_some(),
        !diagnostics.iter().any(Diagnostic::is_error),
        "a program exactly when there is no error"
    );
    diagnostics
}

fn codes(text: &str) -> Vec<&'static str> {
    let mut sources = Sources::new();
    check_with(&Project::default(), &mut sources, &[("test.flow", text)])
        .iter()
        .map(|d| d.code.id())
        .collect()
}

/// A project with templates: `offer` issues a coupon, `reminder` uses
/// first_name, `thanks` needs `item`, `presentation` has links a and b.
fn project_with_templates(sources: &mut Sources) -> Project {
    let mut templates = Templates::default();
    let mut diagnostics = Vec::new();
    for (name, channel, text) in [
        (
            "offer",
            Channel::Email,
            "+++\ncoupon = \"30d\"\n+++\n{{ coupon.code }}",
        ),
        ("reminder", Channel::Email, "Hi {{ first_name }}"),
        ("thanks", Channel::Email, "Thanks for {{ item }}"),
        (
            "presentation",
            Channel::Email,
            "+++\n[links]\na = \"https://a\"\nb = \"https://b\"\n+++\n",
        ),
        ("news", Channel::Sms, "news"),
    ] {
        let id = sources.add(format!("templates/{name}.{}", channel.name()), text);
        templates.add(sources, id, name, channel, &mut diagnostics);
    }
    assert!(diagnostics.is_empty());
    Project {
        templates: Some(templates),
        ..Project::default()
    }
}

fn codes_in_project(text: &str) -> Vec<&'static str> {
    let mut sources = Sources::new();
    let project = project_with_templates(&mut sources);
    check_with(&project, &mut sources, &[("test.flow", text)])
        .iter()
        .map(|d| d.code.id())
        .collect()
}

#[test]
fn the_fixed_line_is_clean_with_and_without_templates() {
    let line = "when birthday - 15d send offer; on birthday if unused send reminder";
    assert_eq!(codes(line), Vec::<&str>::new());
    assert_eq!(codes_in_project(line), Vec::<&str>::new());
}

#[test]
fn unused_needs_an_earlier_offer() {
    // No offer at all (templates known: `reminder` has no coupon).
    assert_eq!(
        codes_in_project("on birthday if unused send reminder"),
        ["E0041"]
    );
    // The offer comes after the reminder.
    assert_eq!(
        codes_in_project("on birthday if unused send reminder; when birthday + 1d send offer"),
        ["E0042"]
    );
    // An offer of another occurrence family does not count.
    assert_eq!(
        codes_in_project("on purchase send offer; on birthday if unused send reminder"),
        ["E0041"]
    );
    // A coupon clause makes any template an offer.
    assert_eq!(
        codes_in_project("when birthday - 15d send reminder with coupon valid 30d; on birthday if unused send reminder with first_name = \"x\""),
        ["E0051"],
        "two rules named after `reminder` need labels"
    );
}

#[test]
fn follow_ups_come_after_their_message() {
    assert_eq!(
        codes("when 3d after news if not opened news send again; on 2027-03-01 send news"),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes("when 3d before news send again; on 2027-03-01 send news"),
        ["E0042"]
    );
    assert_eq!(
        codes("on birthday if opened news send a; when birthday + 1d send news"),
        ["E0042"]
    );
    assert_eq!(
        codes("on birthday if opened nesw send a; when birthday - 1d send news"),
        ["E0013"]
    );
}

#[test]
fn types() {
    assert_eq!(codes("on birthday if birthday > 3 send a"), ["E0030"]);
    assert_eq!(
        codes("on birthday if birthday - 15d < 2000-01-01 send a"),
        Vec::<&str>::new()
    );
    assert_eq!(codes("on birthday if country send a"), ["E0031"]);
    assert_eq!(
        codes("on birthday if country in [\"FR\", 2] send a"),
        ["E0030"]
    );
    assert_eq!(codes("on email send a"), ["E0033"]);
    // A number joins text with `+`, in either order; not with `-`.
    assert_eq!(
        codes("on purchase task call note \"total \" + event.amount + \" EUR\""),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes("on purchase task call note event.amount + \" EUR\""),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes("on purchase task call note \"a\" - event.amount"),
        ["E0030"]
    );
    assert_eq!(codes("on purchase task call note event.amount"), ["E0030"]);
    assert_eq!(
        codes("on birthday where country == \"FR\" send a"),
        ["E0034"]
    );
    assert_eq!(codes("on yearly purchase send a"), ["E0035"]);
    assert_eq!(
        codes("on purchase where amount > 100 and product == \"x\" if event.amount > 2 send a"),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes("on purchase if event.prodcut == \"x\" send a"),
        ["E0014"]
    );
}

#[test]
fn unknown_names_suggest() {
    let mut sources = Sources::new();
    let diagnostics = check_with(
        &Project::default(),
        &mut sources,
        &[(
            "t.flow",
            "on birthdya send a; on birthday if frist_name is set send b",
        )],
    );
    let helps: Vec<_> = diagnostics
        .iter()
        .map(|d| d.help.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        helps,
        ["did you mean `birthday`?", "did you mean `first_name`?"]
    );
}

#[test]
fn templates_are_checked() {
    assert_eq!(codes_in_project("on birthday send remindr"), ["E0011"]);
    assert_eq!(codes_in_project("on birthday send sms reminder"), ["E0036"]);
    assert_eq!(codes_in_project("on birthday send thanks"), ["E0037"]);
    assert_eq!(
        codes_in_project("on birthday send thanks with item = \"a hat\""),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes_in_project("on 2027-01-10 send presentation; when 2d after presentation if clicked presentation link \"c\" send reminder"),
        ["E0018"]
    );
}

#[test]
fn conditions_that_never_or_always_hold() {
    assert_eq!(
        codes("on anniversary of joined as n if n == 1 and n == 10 send a"),
        ["W0001"]
    );
    assert_eq!(
        codes("on anniversary of joined as n if n == 0 send a"),
        ["W0001"]
    );
    assert_eq!(
        codes("on anniversary of joined as n if n % 5 == 0 send a"),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes("on birthday if country == \"FR\" and country == \"ES\" send a"),
        ["W0001"]
    );
    assert_eq!(
        codes("on purchase if event.amount > 10 and event.amount < 5 send a"),
        Vec::<&str>::new(),
        "paths with dots are not constrained"
    );
    assert_eq!(
        codes("on birthday if language is set and not language is set send a"),
        ["W0001"]
    );
    assert_eq!(codes("on birthday if 1 == 1 send a"), ["W0002"]);
    assert_eq!(codes("on anniversary of joined as n send a"), ["W0004"]);
}

#[test]
fn settings_and_zones() {
    assert_eq!(codes("send_at: 09:30\nzone: \"America/Vancouver\"\nlateness: 4h\nreentry: once\nleap_day: mar1\non birthday send a"), Vec::<&str>::new());
    assert_eq!(
        codes("zone: \"Europe/Pariss\"\non birthday send a"),
        ["E0017"]
    );
    assert_eq!(codes("sendat: 09:30\non birthday send a"), ["E0016"]);
    assert_eq!(codes("send_at: 9\non birthday send a"), ["E0032"]);
    assert_eq!(
        codes("send_at: 09:00\nsend_at: 10:00\non birthday send a"),
        ["E0052"]
    );
}

#[test]
fn flows_and_policies_across_files() {
    let mut sources = Sources::new();
    let diagnostics = check_with(
        &Project::default(),
        &mut sources,
        &[
            ("a.flow", "flow birthday { on birthday send a }"),
            ("birthday.flow", "on birthday send b"),
            ("policy.flow", "policy { at most 0 messages per 7d; priority birthday > birthdya; quiet hours 21:00 to 08:00 }\nflow late { on birthday at 22:00 send c }"),
        ],
    );
    let codes: Vec<_> = diagnostics.iter().map(|d| d.code.id()).collect();
    assert_eq!(codes, ["E0050", "E0053", "E0015", "W0006"]);
}

#[test]
fn flows_named_after_files_that_are_not_names_are_quoted_in_priorities() {
    let mut sources = Sources::new();
    let files = [
        ("flows/fixed-line.flow", "on birthday send a"),
        ("flows/send.flow", "on birthday send b"),
        (
            "flows/policy.flow",
            "policy { priority \"fixed-line\" > \"send\" }",
        ),
    ];
    let diagnostics = check_with(&Project::default(), &mut sources, &files);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");

    let mut sources = Sources::new();
    let files = [
        ("flows/fixed-line.flow", "on birthday send a"),
        (
            "flows/policy.flow",
            "policy { priority fixed_line > \"fixed-line\" }",
        ),
    ];
    let diagnostics = check_with(&Project::default(), &mut sources, &files);
    let unknown = &diagnostics[0];
    assert_eq!(unknown.code.id(), "E0015");
    assert_eq!(
        unknown.help.as_deref(),
        Some("did you mean `\"fixed-line\"`?")
    );
}

#[test]
fn offsets_longer_than_a_year() {
    assert_eq!(codes("when birthday - 1y send a"), Vec::<&str>::new());
    assert_eq!(codes("when birthday - 13mo send a"), ["E0040"]);
    assert_eq!(codes("when birthday - 400d send a"), ["E0040"]);
}

#[test]
fn a_file_with_syntax_errors_reports_no_absences() {
    // The offer's rule fails to parse: the reminder's `unused` is not blamed.
    assert_eq!(
        codes("when birthday - 15d send\non birthday if unused send reminder"),
        ["E0001"]
    );
    assert_eq!(
        codes("when birthday - 15d send\non birthday if opened offer send reminder"),
        ["E0001"]
    );
    // Without the syntax error, the same absence is reported.
    assert_eq!(
        codes("on birthday if opened offer send reminder"),
        ["E0013"]
    );
}

#[test]
fn invalid_expressions_do_not_cascade() {
    assert_eq!(
        codes("on birthday if 99999999999999999999999 > 1 send a"),
        ["E0005"]
    );
    let long = format!(
        "on birthday if country == \"FR\"{} send a",
        " and country == \"FR\"".repeat(300)
    );
    assert_eq!(codes(&long), ["E0007"]);
}

#[test]
fn an_exact_copy_is_one_warning() {
    assert_eq!(codes("on birthday send a\non birthday  send a"), ["W0003"]);
    assert_eq!(
        codes("on birthday send a\non birthday if vip send a"),
        ["E0051", "E0010"]
    );
}

#[test]
fn words_are_split_as_split_whitespace_does() {
    let texts = [
        "",
        "   ",
        "on  birthday\tsend\r\n  offer ",
        "on birthday send offer",
        "a\u{b}b",
        "a b",
        "a\u{c}b \u{a0}c\u{2003}d",
        "a b \u{a0}c d",
        "\"é  x\"\n\n  y",
        "\"é x\" y",
    ];
    for a in texts {
        let mut words = Vec::new();
        super::for_each_word(a, |w| words.push(w));
        assert_eq!(words, a.split_whitespace().collect::<Vec<_>>(), "{a:?}");
        for b in texts {
            let expected = a.split_whitespace().eq(b.split_whitespace());
            assert_eq!(super::same_words(a, b), expected, "{a:?} {b:?}");
        }
    }
}

/// Checking a flow's rules on two threads gives what one thread gives:
/// the program and every diagnostic, in order. (A threshold of one rule
/// per thread splits every flow of two rules or more.)
#[test]
fn rules_checked_on_two_threads_give_the_one_thread_result() {
    let texts = [
        include_str!("../../../tests/ui/errors-across-rules.flow"),
        include_str!("../../../tests/ui/errors-and-warnings.flow"),
        include_str!("../../../tests/ui/w0001-never-true.flow"),
        include_str!("../../../tests/ui/w0003-duplicate-rule.flow"),
        include_str!("../../../tests/ui/w0004-unused-binding.flow"),
        include_str!("../../../tests/ui/e0041-offer-other-occurrence.flow"),
        include_str!("../../../tests/ui/e0042-tested-before-sent.flow"),
        include_str!("../../../tests/ui/e0051-duplicate-rule-name.flow"),
        include_str!("../../../tests/ui/e0014-unknown-name.flow"),
        "when birthday send offer\non birthday if unused send reminder\nr3: when 3d after offer if not purchase since offer send thanks with item = \"x\"\non anniversary of joined as n if n == 0 send news\non visit send offer\non visit send offer\n",
    ];
    let zones = ZoneDb::bundled();
    for text in texts {
        let mut sources = Sources::new();
        let project = project_with_templates(&mut sources);
        let id = sources.add("test.flow", text);
        let run = |rules_per_thread: usize| {
            let (file, _) = crate::syntax::parse(id, sources.text(id));
            let context = super::Context {
                sources: &sources,
                project: &project,
                zones: &zones,
                incomplete: Default::default(),
            };
            format!(
                "{:?}",
                super::check_with_threads_from(&context, vec![(id, file)], rules_per_thread)
            )
        };
        assert_eq!(run(1), run(usize::MAX), "{text}");
    }
}
