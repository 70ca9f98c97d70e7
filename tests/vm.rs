//! The VM on compiled flows: what is due, when, for which occurrence, and
//! why anything is skipped. Flows go through the real compiler.

use flowc_compiler::project::Project;
use flowc_compiler::source::Sources;
use flowc_runtime::bytecode::{self, Channel};
use flowc_runtime::calendar::{Window, ZoneDb};
use flowc_runtime::vm::{
    evaluate, Action, Contact, ContactProblem, Due, Evaluation, Event, FieldChange, History,
    Outcome, SentMessage, Skip, Value,
};
use jiff::civil::date;
use jiff::Timestamp;

fn compile(text: &str) -> bytecode::Program {
    let mut sources = Sources::new();
    let id = sources.add("test.flow", text);
    let (program, diagnostics) =
        flowc_compiler::build_flows(&sources, &[id], &Project::default(), &ZoneDb::bundled());
    assert!(
        diagnostics.iter().all(|d| !d.is_error()),
        "{diagnostics:#?}"
    );
    // Through the file format, as the runtime will read it.
    bytecode::decode(&bytecode::encode(&program.expect("a program")).expect("encodes"))
        .expect("round trip")
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("a timestamp")
}

fn window(from: &str, to: &str) -> Window {
    Window::new(ts(from), ts(to)).expect("a window")
}

fn run(
    program: &bytecode::Program,
    contact: &Contact,
    history: &History,
    w: &Window,
) -> Evaluation {
    evaluate(program, &ZoneDb::bundled(), contact, history, w).expect("evaluation")
}

fn paris(id: &str) -> Contact {
    Contact::new(id)
        .with("time_zone", Value::Text("Europe/Paris".into()))
        .with("email", Value::Text(format!("{id}@example.com")))
}

/// (rule, occurrence, instant, sent?) of each due.
fn summary(dues: &[Due]) -> Vec<(String, String, String, bool)> {
    dues.iter()
        .map(|d| {
            let sent =
                matches!(&d.outcome, Outcome::Planned(p) if p.iter().all(|a| a.skipped.is_none()));
            (
                d.rule.clone(),
                d.occurrence.clone(),
                d.instant.to_string(),
                sent,
            )
        })
        .collect()
}

fn row(rule: &str, occurrence: &str, instant: &str, sent: bool) -> (String, String, String, bool) {
    (rule.into(), occurrence.into(), instant.into(), sent)
}

const FIXED_LINE: &str = "when birthday - 15d send offer; on birthday if unused send reminder";

#[test]
fn the_fixed_line_across_a_year_end() {
    let program = compile(FIXED_LINE);
    let contact = paris("ana").with("birthday", Value::Date(date(1990, 1, 5)));
    let result = run(
        &program,
        &contact,
        &History::default(),
        &window("2026-12-01T00:00:00Z", "2027-02-01T00:00:00Z"),
    );
    assert!(result.problems.is_empty());
    assert_eq!(
        summary(&result.dues),
        [
            row("offer", "birthday/2027", "2026-12-21T07:00:00Z", true),
            row("reminder", "birthday/2027", "2027-01-05T07:00:00Z", true),
        ]
    );
    let offer = &result.dues[0];
    assert_eq!(
        (offer.local_date, offer.local_time.hour()),
        (date(2026, 12, 21), 8)
    );
    assert_eq!(offer.zone, "Europe/Paris");
    // Same local day: the deadline is the last instant of 21 December in Paris.
    assert_eq!(offer.deadline.to_string(), "2026-12-21T22:59:59.999999999Z");
}

#[test]
fn a_used_offer_means_no_reminder_and_no_second_offer() {
    let program = compile(FIXED_LINE);
    let contact = paris("ana").with("birthday", Value::Date(date(1990, 1, 5)));
    let mut offer = SentMessage::new("test", "offer", "birthday/2027", ts("2026-12-21T07:00:00Z"));
    offer.redeemed = Some(ts("2026-12-28T15:00:00Z"));
    let history = History {
        messages: vec![offer],
        ..History::default()
    };
    let result = run(
        &program,
        &contact,
        &history,
        &window("2026-12-01T00:00:00Z", "2027-02-01T00:00:00Z"),
    );
    assert_eq!(
        summary(&result.dues),
        [row(
            "reminder",
            "birthday/2027",
            "2027-01-05T07:00:00Z",
            false
        )]
    );
    assert_eq!(result.dues[0].outcome, Outcome::Skipped(Skip::Condition));
}

#[test]
fn unused_means_issued_and_not_redeemed_never_just_not_redeemed() {
    let program = compile(FIXED_LINE);
    let contact = paris("ana").with("birthday", Value::Date(date(1990, 1, 5)));
    // Only the birthday is in the window, and no offer was ever issued
    // (its day was before this contact was known, or its row was bad):
    // no "your 30% is still waiting".
    let birthday_only = window("2027-01-04T00:00:00Z", "2027-01-06T00:00:00Z");
    let result = run(&program, &contact, &History::default(), &birthday_only);
    assert_eq!(
        summary(&result.dues),
        [row(
            "reminder",
            "birthday/2027",
            "2027-01-05T07:00:00Z",
            false
        )]
    );
    assert_eq!(
        result.dues[0].outcome,
        Outcome::Skipped(Skip::NotIssued("offer".into()))
    );
    assert_eq!(
        Skip::NotIssued("offer".into()).to_string(),
        "no offer was issued for this occurrence, so none is unused"
    );
    // Issued and not redeemed: the reminder goes.
    let offer = SentMessage::new("test", "offer", "birthday/2027", ts("2026-12-21T07:00:00Z"));
    let history = History {
        messages: vec![offer],
        ..History::default()
    };
    let result = run(&program, &contact, &history, &birthday_only);
    assert_eq!(
        summary(&result.dues),
        [row(
            "reminder",
            "birthday/2027",
            "2027-01-05T07:00:00Z",
            true
        )]
    );
}

#[test]
fn current_zone_rules_vancouver_stays_on_utc_minus_7() {
    let program = compile("on 2026-12-01 send hello");
    let contact = Contact::new("v").with("time_zone", Value::Text("America/Vancouver".into()));
    let result = run(
        &program,
        &contact,
        &History::default(),
        &window("2026-11-30T00:00:00Z", "2026-12-03T00:00:00Z"),
    );
    assert_eq!(
        summary(&result.dues),
        [row(
            "hello",
            "date/2026-12-01",
            "2026-12-01T15:00:00Z",
            true
        )]
    );
}

#[test]
fn anniversaries_count_from_one_and_bind_n() {
    let program = compile(
        "on anniversary of joined as n if n == 1 or n % 5 == 0 send milestone\non anniversary of joined as n if n == 10 task call for email note n + \" years with us\" then send gift",
    );
    let contact = paris("leap").with("joined", Value::Date(date(2016, 2, 29)));
    let result = run(
        &program,
        &contact,
        &History::default(),
        &window("2017-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
    );
    let sent: Vec<_> = summary(&result.dues).into_iter().filter(|r| r.3).collect();
    assert_eq!(
        sent,
        [
            row("milestone", "anniversary/1", "2017-02-28T07:00:00Z", true),
            row("milestone", "anniversary/5", "2021-02-28T07:00:00Z", true),
            row("milestone", "anniversary/10", "2026-02-28T07:00:00Z", true),
            row("task_call", "anniversary/10", "2026-02-28T07:00:00Z", true),
        ]
    );
    let task = result
        .dues
        .iter()
        .find(|d| d.rule == "task_call" && d.occurrence == "anniversary/10")
        .unwrap();
    let Outcome::Planned(actions) = &task.outcome else {
        panic!()
    };
    assert!(
        matches!(&actions[0].action, Action::Task { note: Some(n), assignee: Some(a), .. } if n == "10 years with us" && a == "leap@example.com")
    );
    assert!(matches!(&actions[1].action, Action::Send { template, .. } if template == "gift"));
}

#[test]
fn events_filters_and_follow_ups() {
    let program = compile(
        "when 15d after purchase where product == \"pack-1m\" send checkin\nwhen 3d after checkin if not opened checkin send nudge",
    );
    let contact = paris("p");
    let history = History {
        events: vec![
            Event::new("e1", "purchase", ts("2027-03-01T10:00:00Z"))
                .with("product", Value::Text("pack-1m".into())),
            Event::new("e2", "purchase", ts("2027-03-02T10:00:00Z"))
                .with("product", Value::Text("socks".into())),
        ],
        ..History::default()
    };
    let whole = run(
        &program,
        &contact,
        &history,
        &window("2027-03-01T00:00:00Z", "2027-04-01T00:00:00Z"),
    );
    assert_eq!(
        summary(&whole.dues),
        [
            row("checkin", "purchase/e1", "2027-03-16T07:00:00Z", true),
            row("nudge", "purchase/e1", "2027-03-19T07:00:00Z", true),
        ]
    );
    // The same month in daily windows, recording sends as a runtime would:
    // the same dues (catch-up).
    let mut history = history;
    let mut daily = Vec::new();
    let mut day = ts("2027-03-01T00:00:00Z");
    while day < ts("2027-04-01T00:00:00Z") {
        let next = day
            .checked_add(jiff::SignedDuration::from_hours(24))
            .unwrap();
        let result = run(
            &program,
            &contact,
            &history,
            &Window::new(day, next).unwrap(),
        );
        for due in &result.dues {
            history.messages.push(SentMessage::new(
                &due.flow,
                &due.rule,
                &due.occurrence,
                due.instant,
            ));
        }
        daily.extend(result.dues);
        day = next;
    }
    assert_eq!(summary(&daily), summary(&whole.dues));
}

#[test]
fn an_opened_message_stops_its_follow_up() {
    let program =
        compile("on 2027-03-01 send news\nwhen 3d after news if not opened news send again");
    let mut news = SentMessage::new(
        "test",
        "news",
        "date/2027-03-01",
        ts("2027-03-01T07:00:00Z"),
    );
    news.opened = Some(ts("2027-03-02T12:00:00Z"));
    let history = History {
        messages: vec![news],
        ..History::default()
    };
    let result = run(
        &program,
        &paris("o"),
        &history,
        &window("2027-03-01T00:00:00Z", "2027-03-10T00:00:00Z"),
    );
    assert_eq!(
        summary(&result.dues),
        [row(
            "again",
            "date/2027-03-01",
            "2027-03-04T07:00:00Z",
            false
        )]
    );
}

#[test]
fn inactivity_counts_from_each_last_visit() {
    let program = compile("on no visit for 60d send miss_you");
    let history = History {
        events: vec![
            Event::new("v1", "visit", ts("2027-01-01T12:00:00Z")),
            Event::new("v2", "visit", ts("2027-04-01T12:00:00Z")),
            Event::new("v3", "visit", ts("2027-05-01T12:00:00Z")),
        ],
        ..History::default()
    };
    let result = run(
        &program,
        &paris("i"),
        &history,
        &window("2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"),
    );
    let rows = summary(&result.dues);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].2, "2027-03-02T07:00:00Z");
    assert_eq!(rows[1].2, "2027-06-30T06:00:00Z");
}

#[test]
fn becomes_needs_the_new_value() {
    let program = compile("on country becomes \"FR\" send bienvenue");
    let contact = paris("b").with("country", Value::Text("FR".into()));
    let history = History {
        changes: vec![
            FieldChange {
                field: "country".into(),
                at: ts("2027-02-01T09:00:00Z"),
                old: Value::Null,
                new: Value::Text("BE".into()),
            },
            FieldChange {
                field: "country".into(),
                at: ts("2027-02-10T09:00:00Z"),
                old: Value::Text("BE".into()),
                new: Value::Text("FR".into()),
            },
        ],
        ..History::default()
    };
    let result = run(
        &program,
        &contact,
        &history,
        &window("2027-02-01T00:00:00Z", "2027-03-01T00:00:00Z"),
    );
    assert_eq!(
        summary(&result.dues),
        [row(
            "bienvenue",
            "country/2027-02-10T09:00:00Z",
            "2027-02-10T09:00:00Z",
            true
        )]
    );
}

const TRANSACTIONAL: &str = r#"
flow promo { on 2027-03-01 at 10:00 send sms flash }
flow pickup {
  kind: transactional
  on 2027-03-01 at 22:30 send sms ready
}
policy { at most 1 sms per day; quiet hours 21:00 to 08:00 }
"#;

#[test]
fn a_transactional_message_is_not_capped_held_or_stopped_by_an_unsubscribe_but_by_a_bounce() {
    let program = compile(TRANSACTIONAL);
    let outcome_of = |history: &History, flow: &str| {
        let result = run(
            &program,
            &paris("c"),
            history,
            &window("2027-03-01T00:00:00Z", "2027-03-02T00:00:00Z"),
        );
        let due = result
            .dues
            .iter()
            .find(|d| d.flow == flow)
            .cloned()
            .expect("due");
        let Outcome::Planned(actions) = &due.outcome else {
            panic!("{due:?}")
        };
        (actions[0].skipped.clone(), due.not_before)
    };
    // After the flash sale's SMS, in the quiet hours: it goes, at 22:30.
    let quiet = History::default();
    assert_eq!(outcome_of(&quiet, "promo"), (None, None));
    assert_eq!(outcome_of(&quiet, "pickup"), (None, None));
    // An unsubscribe from SMS stops the promotion, not the pickup notice.
    let unsubscribed = History {
        events: vec![Event::new("u", "unsubscribed", ts("2027-02-01T00:00:00Z"))
            .with("channel", Value::Text("sms".into()))],
        ..History::default()
    };
    assert_eq!(
        outcome_of(&unsubscribed, "promo").0,
        Some(Skip::NoConsent(Channel::Sms))
    );
    assert_eq!(outcome_of(&unsubscribed, "pickup").0, None);
    // A hard bounce of the number stops both; a soft one neither.
    let bounce = |kind: &str| History {
        events: vec![Event::new("b", "bounced", ts("2027-02-01T00:00:00Z"))
            .with("channel", Value::Text("sms".into()))
            .with("bounce", Value::Text(kind.into()))],
        ..History::default()
    };
    assert_eq!(
        outcome_of(&bounce("hard"), "pickup").0,
        Some(Skip::Bounced(Channel::Sms))
    );
    assert_eq!(
        outcome_of(&bounce("hard"), "promo").0,
        Some(Skip::Bounced(Channel::Sms))
    );
    assert_eq!(outcome_of(&bounce("soft"), "pickup").0, None);
    // A marketing flow under the same policy is capped and held.
    let marketing = compile(&TRANSACTIONAL.replace("kind: transactional", "kind: marketing"));
    let result = run(
        &marketing,
        &paris("c"),
        &History::default(),
        &window("2027-03-01T00:00:00Z", "2027-03-02T00:00:00Z"),
    );
    let pickup = result
        .dues
        .iter()
        .find(|d| d.flow == "pickup")
        .expect("due");
    let Outcome::Planned(actions) = &pickup.outcome else {
        panic!()
    };
    assert!(
        matches!(
            &actions[0].skipped,
            Some(Skip::Pressure(_)) | Some(Skip::QuietHours)
        ),
        "{actions:?}"
    );
}

#[test]
fn consent_and_unsubscription() {
    let program = compile("on 2027-03-01 send sms promo");
    let history = History {
        events: vec![Event::new("u", "unsubscribed", ts("2027-02-01T00:00:00Z"))
            .with("channel", Value::Text("sms".into()))],
        ..History::default()
    };
    let result = run(
        &program,
        &paris("c"),
        &history,
        &window("2027-03-01T00:00:00Z", "2027-03-02T00:00:00Z"),
    );
    let Outcome::Planned(actions) = &result.dues[0].outcome else {
        panic!()
    };
    assert_eq!(actions[0].skipped, Some(Skip::NoConsent(Channel::Sms)));
}

#[test]
fn an_unknown_zone_holds_the_contact_with_a_reason() {
    let program = compile(FIXED_LINE);
    let contact = Contact::new("z")
        .with("time_zone", Value::Text("Europe/Pariss".into()))
        .with("birthday", Value::Date(date(1990, 1, 5)));
    let result = run(
        &program,
        &contact,
        &History::default(),
        &window("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
    );
    assert!(result.dues.is_empty());
    assert_eq!(
        result.problems,
        [ContactProblem::UnknownZone {
            flow: "test".into(),
            zone: "Europe/Pariss".into()
        }]
    );
}

#[test]
fn a_birthday_in_a_spring_forward_gap_moves_to_the_end_of_the_gap() {
    let program = compile("on birthday at 02:30 send hello");
    let contact = paris("g").with("birthday", Value::Date(date(1980, 3, 28)));
    let result = run(
        &program,
        &contact,
        &History::default(),
        &window("2027-03-01T00:00:00Z", "2027-04-01T00:00:00Z"),
    );
    let due = &result.dues[0];
    assert_eq!(due.instant.to_string(), "2027-03-28T01:00:00Z");
    assert!(due.shifted_by_gap);
}

#[test]
fn an_exploding_evaluation_ends_in_an_error_not_a_hang() {
    let program = compile("on purchase send thanks");
    let start = ts("2027-01-01T00:00:00Z");
    let history = History {
        events: (1..=flowc_runtime::vm::DUE_BUDGET as i64 + 1)
            .map(|i| {
                Event::new(
                    &format!("e{i}"),
                    "purchase",
                    start + jiff::SignedDuration::from_secs(i),
                )
            })
            .collect(),
        ..History::default()
    };
    let result = evaluate(
        &program,
        &ZoneDb::bundled(),
        &paris("x"),
        &history,
        &window("2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"),
    );
    assert_eq!(result, Err(flowc_runtime::vm::VmError::Budget));
}

const PRESSURE: &str = r#"
flow shipped { on purchase send sms parcel }
flow promo { on purchase send sms offer; on 2027-03-02 at 22:30 send late_news }
policy {
  at most 1 sms per day
  priority shipped > promo
  quiet hours 21:00 to 08:00
}
"#;

#[test]
fn a_cap_lets_the_higher_priority_through_and_records_what_yields() {
    let program = compile(PRESSURE);
    let history = History {
        events: vec![Event::new("p1", "purchase", ts("2027-03-01T10:00:00Z"))],
        ..History::default()
    };
    let result = run(
        &program,
        &paris("p"),
        &history,
        &window("2027-03-01T00:00:00Z", "2027-03-02T00:00:00Z"),
    );
    let outcome = |flow: &str| {
        result
            .dues
            .iter()
            .find(|d| d.flow == flow)
            .map(|d| d.outcome.clone())
            .unwrap()
    };
    let Outcome::Planned(parcel) = outcome("shipped") else {
        panic!()
    };
    assert_eq!(parcel[0].skipped, None, "the higher priority goes first");
    let Outcome::Planned(offer) = outcome("promo") else {
        panic!()
    };
    assert_eq!(
        offer[0].skipped,
        Some(Skip::Pressure("at most 1 sms per day".into()))
    );
}

#[test]
fn a_cap_per_day_is_the_contacts_calendar_day_and_per_24h_is_rolling() {
    // An SMS at 20:00 in Paris, then another at 08:00 the next morning.
    let flows = |per: &str| {
        format!(
            "flow evening {{ on 2027-03-01 at 20:00 send sms news }}\n\
             flow morning {{ on 2027-03-02 at 08:00 send sms pickup }}\n\
             policy {{ at most 1 sms per {per} }}\n"
        )
    };
    let morning = |per: &str| {
        let result = run(
            &compile(&flows(per)),
            &paris("p"),
            &History::default(),
            &window("2027-03-01T00:00:00Z", "2027-03-03T00:00:00Z"),
        );
        let due = result.dues.iter().find(|d| d.flow == "morning").cloned();
        let Some(Outcome::Planned(actions)) = due.map(|d| d.outcome) else {
            panic!("the morning SMS is planned: {result:?}")
        };
        actions[0].skipped.clone()
    };
    assert_eq!(morning("day"), None, "a new calendar day");
    assert_eq!(
        morning("24h"),
        Some(Skip::Pressure("at most 1 sms per 24h".into())),
        "12 hours after the last one"
    );
}

#[test]
fn quiet_hours_hold_a_send_to_the_morning_or_miss_it_past_its_day() {
    let program = compile(PRESSURE);
    let result = run(
        &program,
        &paris("q"),
        &History::default(),
        &window("2027-03-02T00:00:00Z", "2027-03-03T00:00:00Z"),
    );
    let late = result.dues.iter().find(|d| d.rule == "late_news").unwrap();
    // 22:30 is quiet; the morning is another day, past the same-day deadline.
    let Outcome::Planned(actions) = &late.outcome else {
        panic!()
    };
    assert_eq!(actions[0].skipped, Some(Skip::QuietHours));

    let program = compile(&PRESSURE.replace("flow promo {", "flow promo { lateness: 1d"));
    let result = run(
        &program,
        &paris("q"),
        &History::default(),
        &window("2027-03-02T00:00:00Z", "2027-03-03T00:00:00Z"),
    );
    let late = result.dues.iter().find(|d| d.rule == "late_news").unwrap();
    assert_eq!(
        late.not_before.map(|t| t.to_string()).as_deref(),
        Some("2027-03-03T07:00:00Z")
    );
    let Outcome::Planned(actions) = &late.outcome else {
        panic!()
    };
    assert_eq!(actions[0].skipped, None);
}

/// The row index's bound: never later than the first instant really due
/// from the row (an early read costs little, a late one loses a send), and
/// "nothing" only when nothing is due.
#[test]
fn the_first_due_bound_is_never_after_the_first_due() {
    use flowc_runtime::vm::Evaluator;
    let program = compile(
        "flow a {\n  send_at: 23:30\n  r1: when birthday - 15d send one\n  r2: on birthday + 1mo at 00:15 send two\n  r3: on anniversary of birthday as n if n % 5 == 0 send three\n}\n\
         flow b {\n  r4: on birthday + 2w send four\n  r5: on 2027-03-01 send five\n}\n",
    );
    let zones = ZoneDb::bundled();
    let mut evaluator = Evaluator::new(&program, &zones);
    let places = [
        "Pacific/Kiritimati",
        "Etc/GMT+12",
        "America/Vancouver",
        "Europe/Paris",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "America/Santiago",
    ];
    let origins = [
        "2026-12-31T10:00:00Z",
        "2027-02-26T23:00:00Z",
        "2027-03-14T07:45:00Z",
        "2027-12-20T00:00:00Z",
        "2028-02-28T13:00:00Z",
    ];
    let horizons = [1, 7, 31, 366];
    let (mut compared, mut found) = (0, 0);
    let mut day = date(1971, 1, 1);
    for i in 0..900 {
        // Every month-day over the runs of the loop, 29 February included.
        day = day.checked_add(jiff::Span::new().days(41)).unwrap();
        let contact = Contact::new(format!("c{i}"))
            .with("time_zone", Value::Text(places[i % places.len()].into()))
            .with("birthday", Value::Date(day));
        let from = ts(origins[i % origins.len()]);
        let days = horizons[i % horizons.len()];
        let to = from
            .checked_add(jiff::SignedDuration::from_hours(24 * days))
            .unwrap();
        let w = Window::new(from, to).unwrap();
        let exact = run(&program, &contact, &History::default(), &w)
            .dues
            .iter()
            .map(|d| d.instant)
            .min();
        let bound = evaluator.first_due_bound(&contact, &w).unwrap().unwrap();
        compared += 1;
        match (exact, bound) {
            (Some(exact), Some(bound)) => {
                found += 1;
                assert!(
                    bound <= exact,
                    "{day} in {}: bound {bound} after {exact}",
                    places[i % places.len()]
                );
            }
            (Some(exact), None) => panic!("{day}: due at {exact}, the bound says nothing is"),
            (None, _) => {}
        }
    }
    assert!(found > 200, "the windows hold dues: {found} of {compared}");
}

#[test]
fn a_send_moved_out_of_a_gap_that_ends_at_midnight_is_never_due_after_its_deadline() {
    // Zones whose spring gap ends at local midnight (America/Nuuk,
    // America/Scoresbysund in 2027: Saturday 23:00 to Sunday 00:00). A
    // 23:30 send on the Saturday moves to Sunday 00:00 (guarantee 2) and
    // belongs to the Sunday: its deadline is the end of that day.
    let program = compile("on birthday at 23:30 send hello");
    for zone in ["America/Nuuk", "America/Scoresbysund"] {
        let contact = Contact::new("n")
            .with("time_zone", Value::Text(zone.into()))
            .with("email", Value::Text("n@example.com".into()))
            .with("birthday", Value::Date(date(1990, 3, 27)));
        let result = run(
            &program,
            &contact,
            &History::default(),
            &window("2027-03-20T00:00:00Z", "2027-04-05T00:00:00Z"),
        );
        let due = &result.dues[0];
        assert!(due.shifted_by_gap, "{zone}: {due:?}");
        assert!(
            due.deadline >= due.instant,
            "{zone}: due {} after its deadline {}",
            due.instant,
            due.deadline
        );
    }
}

#[test]
fn in_every_zone_whose_gap_touches_midnight_a_moved_send_is_due_before_its_deadline() {
    // Every gap of every bundled zone from 2000 to 2037 that starts at,
    // ends at or spans local midnight: a send at each half hour inside it
    // (and at midnight itself) is due on time, never after its deadline.
    let zones = ZoneDb::bundled();
    let program = compile("on birthday at 23:30 send late\non birthday at 00:00 send midnight");
    let from: Timestamp = "2000-01-01T00:00:00Z".parse().unwrap();
    let until: Timestamp = "2038-01-01T00:00:00Z".parse().unwrap();
    let mut gaps = 0;
    let mut zones_seen = std::collections::BTreeSet::new();
    for name in zones.names() {
        let tz = zones.get(name).expect("a bundled zone");
        let mut before = tz.to_offset(from);
        for transition in tz.following(from) {
            let at = transition.timestamp();
            if at > until {
                break;
            }
            let after = transition.offset();
            let (old, new) = (before, after);
            before = after;
            if new <= old {
                continue; // an overlap, or no change of offset
            }
            // The gap in local time: [at in the old offset, at in the new).
            let start = at.to_zoned(jiff::tz::TimeZone::fixed(old)).datetime();
            let end = at.to_zoned(jiff::tz::TimeZone::fixed(new)).datetime();
            let touches_midnight = start.date() != end.date()
                || start.time() == jiff::civil::Time::midnight()
                || end.time() == jiff::civil::Time::midnight();
            if !touches_midnight {
                continue;
            }
            gaps += 1;
            zones_seen.insert(name.clone());
            // The birthday on the day the gap starts, and on the next day.
            for day in [start.date(), end.date()] {
                // (29 February and later days exist in 1992, a leap year.)
                let contact = Contact::new("z")
                    .with("time_zone", Value::Text(name.clone()))
                    .with("email", Value::Text("z@example.com".into()))
                    .with("birthday", Value::Date(date(1992, day.month(), day.day())));
                let w = Window::new(
                    at.checked_sub(jiff::SignedDuration::from_hours(72))
                        .unwrap(),
                    at.checked_add(jiff::SignedDuration::from_hours(72))
                        .unwrap(),
                )
                .unwrap();
                let result = evaluate(&program, &zones, &contact, &History::default(), &w)
                    .expect("evaluation");
                for due in &result.dues {
                    assert!(
                        due.deadline >= due.instant,
                        "{name}, gap {start} to {end}: {} due {} after its deadline {}",
                        due.rule,
                        due.instant,
                        due.deadline
                    );
                }
            }
        }
    }
    // Nuuk and Scoresbysund (2023-), and the historical ones (Cuba, Chile,
    // Paraguay, ... changed at midnight).
    assert!(gaps > 50, "{gaps} gaps in {zones_seen:?}");
    eprintln!(
        "{gaps} gaps touching midnight in {} zones",
        zones_seen.len()
    );
    assert!(zones_seen.contains("America/Nuuk"), "{zones_seen:?}");
}
