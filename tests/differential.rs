//! Differential test: generated flows and contacts, evaluated by the VM on
//! the compiled bytecode and by the reference evaluator on the checked AST;
//! both must find the same rules due, at the same instants, for the same
//! occurrences, with the same verdict on the condition.

use flowc_compiler::project::Project;
use flowc_compiler::reference::{reference_dues, ReferenceDue};
use flowc_compiler::source::Sources;
use flowc_runtime::bytecode;
use flowc_runtime::calendar::{Window, ZoneDb};
use flowc_runtime::vm::{evaluate, Contact, Event, History, Outcome, Skip, Value};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

const ZONES: &[&str] = &[
    "Europe/Paris",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Africa/Casablanca",
    "America/Vancouver",
    "UTC",
];

/// A condition over what the standard schema and a trigger offer.
fn condition(anniversary: bool, event: bool) -> BoxedStrategy<String> {
    let mut atoms: Vec<BoxedStrategy<String>> = vec![
        prop::sample::select(vec!["FR", "ES", "DE"])
            .prop_map(|c| format!("country == \"{c}\""))
            .boxed(),
        prop::sample::select(vec!["fr", "es"])
            .prop_map(|c| format!("language != \"{c}\""))
            .boxed(),
        Just("language is set".to_string()).boxed(),
        Just("country in [\"FR\", \"BE\"]".to_string()).boxed(),
        prop::sample::select(vec!["vip", "new"])
            .prop_map(|t| format!("tagged \"{t}\""))
            .boxed(),
        Just("birthday < 1990-01-01".to_string()).boxed(),
    ];
    if anniversary {
        atoms.push(
            (1u32..7, 0u32..7)
                .prop_map(|(k, r)| format!("n % {k} == {r}"))
                .boxed(),
        );
        atoms.push((0u32..12).prop_map(|k| format!("n > {k}")).boxed());
    }
    if event {
        atoms.push(
            (0u32..20)
                .prop_map(|k| format!("event.amount >= {k}"))
                .boxed(),
        );
    }
    let atom = prop::strategy::Union::new(atoms);
    atom.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
    .boxed()
}

/// One rule: a trigger and maybe a condition.
fn rule(index: usize) -> BoxedStrategy<String> {
    let offset = prop_oneof![
        Just(String::new()),
        (
            1u32..40,
            prop::sample::select(vec!["d", "w"]),
            any::<bool>()
        )
            .prop_map(|(n, u, before)| format!(" {} {n}{u}", if before { "-" } else { "+" })),
    ];
    let at = prop_oneof![
        Just(String::new()),
        (0u8..24, prop::sample::select(vec![0u8, 30]))
            .prop_map(|(h, m)| format!(" at {h:02}:{m:02}"))
    ];
    let trigger = prop_oneof![
        (offset.clone(), any::<bool>()).prop_map(|(o, once)| (
            format!("{}birthday{o}", if once { "once " } else { "" }),
            false,
            false
        )),
        offset
            .clone()
            .prop_map(|o| (format!("anniversary of joined as n{o}"), true, false)),
        (1i8..13, 1i8..29).prop_map(|(m, d)| (format!("2027-{m:02}-{d:02}"), false, false)),
        (prop::sample::select(vec!["", " + 2h", " + 3d"]), 0u32..20).prop_map(|(o, k)| (
            format!("purchase{o} where amount > {k}"),
            false,
            true
        )),
    ];
    (trigger, at)
        .prop_flat_map(move |((trigger, anniversary, event), at)| {
            let condition = prop::option::of(condition(anniversary, event));
            condition.prop_map(move |c| {
                let condition = c.map(|c| format!(" if {c}")).unwrap_or_default();
                format!("r{index}: when {trigger}{at}{condition} send t{index}")
            })
        })
        .boxed()
}

fn flow() -> impl Strategy<Value = String> {
    (1usize..5, prop::sample::select(vec!["feb28", "mar1"])).prop_flat_map(|(n, leap)| {
        let rules: Vec<BoxedStrategy<String>> = (0..n).map(rule).collect();
        rules.prop_map(move |rules| format!("leap_day: {leap}\n{}\n", rules.join("\n")))
    })
}

fn date_value() -> impl Strategy<Value = Option<Date>> {
    prop::option::weighted(
        0.9,
        prop_oneof![
            (1950i16..2026, 1i8..13, 1i8..29),
            (1950i16..2026, Just(2i8), Just(29i8)).prop_map(|(y, m, d)| (y - y % 4, m, d)),
            (1950i16..2026, Just(1i8), 1i8..8),
            (1950i16..2026, Just(12i8), 25i8..32),
        ]
        .prop_filter_map("a real date", |(y, m, d)| Date::new(y, m, d).ok()),
    )
}

fn contact() -> impl Strategy<Value = (Contact, History)> {
    (
        prop::sample::select(ZONES),
        date_value(),
        date_value(),
        prop::option::of(prop::sample::select(vec!["FR", "ES", "BE", "DE"])),
        prop::option::of(prop::sample::select(vec!["fr", "es", "en"])),
        prop::collection::vec(prop::sample::select(vec!["vip", "new", "old"]), 0..3),
        prop::collection::vec((0i64..(3 * 365 * 24), 0u32..25), 0..6),
    )
        .prop_map(
            |(zone, birthday, joined, country, language, tags, purchases)| {
                let mut contact =
                    Contact::new("c").with("time_zone", Value::Text(zone.to_string()));
                if let Some(d) = birthday {
                    contact = contact.with("birthday", Value::Date(d));
                }
                if let Some(d) = joined {
                    contact = contact.with("joined", Value::Date(d));
                }
                if let Some(c) = country {
                    contact = contact.with("country", Value::Text(c.to_string()));
                }
                if let Some(l) = language {
                    contact = contact.with("language", Value::Text(l.to_string()));
                }
                contact = contact.with(
                    "tags",
                    Value::List(
                        tags.into_iter()
                            .map(|t| Value::Text(t.to_string()))
                            .collect(),
                    ),
                );
                let start: Timestamp = "2026-01-01T00:00:00Z".parse().expect("a timestamp");
                let events = purchases
                    .into_iter()
                    .enumerate()
                    .map(|(i, (hours, amount))| {
                        Event::new(
                            &format!("e{i}"),
                            "purchase",
                            start + SignedDuration::from_hours(hours),
                        )
                        .with("amount", Value::Number(f64::from(amount)))
                    })
                    .collect();
                (
                    contact,
                    History {
                        events,
                        ..History::default()
                    },
                )
            },
        )
}

fn window() -> impl Strategy<Value = Window> {
    (0i64..(3 * 365 * 24 * 60), 1i64..(400 * 24 * 60)).prop_map(|(from, length)| {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().expect("a timestamp");
        let from = start + SignedDuration::from_mins(from);
        Window::new(from, from + SignedDuration::from_mins(length)).expect("a window")
    })
}

fn vm_view(dues: &[flowc_runtime::vm::Due]) -> Vec<ReferenceDue> {
    let mut view: Vec<ReferenceDue> = dues
        .iter()
        .map(|d| ReferenceDue {
            instant: d.instant,
            flow: d.flow.clone(),
            rule: d.rule.clone(),
            occurrence: d.occurrence.clone(),
            fires: match &d.outcome {
                Outcome::Planned(_) => true,
                Outcome::Skipped(Skip::Condition) => false,
                other => panic!("unexpected outcome {other:?}"),
            },
        })
        .collect();
    view.sort();
    view
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn the_vm_agrees_with_the_reference(source in flow(), (contact, history) in contact(), window in window()) {
        let mut sources = Sources::new();
        let id = sources.add("generated.flow", source.clone());
        let project = Project::default();
        let zones = ZoneDb::bundled();
        let (checked, diagnostics) = flowc_compiler::check_flows(&sources, &[id], &project, &zones);
        prop_assert!(!diagnostics.iter().any(|d| d.is_error()), "{source}\n{diagnostics:#?}");
        let checked = checked.expect("a program");
        let program = flowc_compiler::lower::lower(&checked, &sources, &[id], &project);
        let program = bytecode::decode(&bytecode::encode(&program).expect("encodes")).expect("round trip");
        let vm = evaluate(&program, &zones, &contact, &history, &window).expect("evaluation");
        let reference = reference_dues(&checked, &zones, &contact, &history, &window);
        prop_assert_eq!(vm_view(&vm.dues), reference, "flow:\n{}", source);
    }
}
