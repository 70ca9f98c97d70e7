//! Which rules are due in a window: trigger occurrences from the calendar,
//! processed in time order so that follow-ups see the sends before them.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap as HashMap;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::contact::{Contact, Event, History, SentMessage};
use super::decide::decide;
use super::eval::{run, Budget, Scope, INSTRUCTION_BUDGET};
use super::tables::{WindowTables, YearlyFilters};
use super::value::Value;
use super::{Action, ContactProblem, Due, Evaluation, Outcome, Skip, VmError, DUE_BUDGET};
use crate::bytecode::{CapPeriod, Code, FlowCode, Lateness, Program, RuleCode, TriggerCode};
use crate::calendar::{
    after_instant, anniversary_occurrences, end_of_local_day, inactivity_due, once_occurrence,
    yearly_occurrences, CalendarError, Occurrence, OccurrenceKey, Offset, Window, YearlyFirstDates,
    ZoneDb,
};

/// A rule occurrence waiting to be evaluated.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Candidate {
    pub(super) instant: Timestamp,
    /// The flow's place in the policy's priorities: at one instant, the
    /// higher priority goes first (and so is the one a cap lets through).
    rank: usize,
    flow: usize,
    rule: usize,
    occurrence: String,
    local: (Date, Time),
    shifted_by_gap: bool,
    /// Index into the history's events, for event-triggered rules.
    event: Option<usize>,
    anniversary: Option<i32>,
    /// Triggered by a late event, its instant before the window: due only
    /// while its deadline has not passed.
    late: bool,
}

/// Everything due for `contact` in `window`, in deterministic order. For
/// many contacts, use an [`Evaluator`], which resolves each zone once.
pub fn evaluate(
    program: &Program,
    zones: &ZoneDb,
    contact: &Contact,
    history: &History,
    window: &Window,
) -> Result<Evaluation, VmError> {
    Evaluator::new(program, zones).evaluate(contact, history, window)
}

/// Evaluates one program for contact after contact, remembering the zones
/// it resolved (there are a few hundred; contacts are millions).
pub struct Evaluator<'p> {
    pub(super) program: &'p Program,
    zones: &'p ZoneDb,
    resolved: HashMap<String, Option<TimeZone>>,
    pub(super) yearly: YearlyFilters,
    pub(super) first_dates: WindowTables<YearlyFirstDates>,
    /// A window and the UTC date three days after its start.
    pub(super) near: Option<(Window, Date)>,
}

impl<'p> Evaluator<'p> {
    pub fn new(program: &'p Program, zones: &'p ZoneDb) -> Evaluator<'p> {
        Evaluator {
            program,
            zones,
            resolved: HashMap::default(),
            yearly: YearlyFilters::default(),
            first_dates: WindowTables::default(),
            near: None,
        }
    }

    pub(super) fn zone(&mut self, name: &str) -> Option<TimeZone> {
        if let Some(zone) = self.resolved.get(name) {
            return zone.clone();
        }
        let zone = self.zones.get(name).ok();
        self.resolved.insert(name.to_string(), zone.clone());
        zone
    }

    /// Everything due for `contact` in `window`, in deterministic order.
    pub fn evaluate(
        &mut self,
        contact: &Contact,
        history: &History,
        window: &Window,
    ) -> Result<Evaluation, VmError> {
        let program = self.program;
        let mut yearly = std::mem::take(&mut self.yearly);
        let evaluation = evaluate_with(
            program,
            &mut |name| self.zone(name),
            &mut yearly,
            contact,
            history,
            window,
        );
        self.yearly = yearly;
        evaluation
    }
}

/// The zone of each flow for the contact (`None`: unknown), and the
/// occurrences of its rules in `window` that do not depend on other sends,
/// in time order; unusable zones and dates are in `evaluation.problems`.
type Seeded<'p> = (Vec<Option<(TimeZone, &'p str)>>, BTreeSet<Candidate>);

fn seeded<'p>(
    program: &'p Program,
    zone_of: &mut dyn FnMut(&str) -> Option<TimeZone>,
    yearly: &mut YearlyFilters,
    contact: &'p Contact,
    history: &History,
    window: &Window,
    evaluation: &mut Evaluation,
) -> Result<Seeded<'p>, VmError> {
    let mut zones_of_flows: Vec<Option<(TimeZone, &str)>> = Vec::with_capacity(program.flows.len());
    let mut queue: BTreeSet<Candidate> = BTreeSet::new();
    for (f, flow) in program.flows.iter().enumerate() {
        let zone = contact_zone(program, flow, contact, zone_of);
        let zone = match zone {
            Ok(zone) => zone,
            Err(name) => {
                evaluation.problems.push(ContactProblem::UnknownZone {
                    flow: program.string(flow.name).to_string(),
                    zone: name,
                });
                zones_of_flows.push(None);
                continue;
            }
        };
        for (r, rule) in flow.rules.iter().enumerate() {
            seeds(
                program,
                flow,
                (f, r),
                rule,
                contact,
                history,
                &zone.0,
                window,
                yearly,
                &mut queue,
                evaluation,
            )?;
        }
        zones_of_flows.push(Some(zone));
    }
    Ok((zones_of_flows, queue))
}

fn evaluate_with(
    program: &Program,
    zone_of: &mut dyn FnMut(&str) -> Option<TimeZone>,
    yearly: &mut YearlyFilters,
    contact: &Contact,
    history: &History,
    window: &Window,
) -> Result<Evaluation, VmError> {
    let mut evaluation = Evaluation::default();
    let (zones_of_flows, mut queue) = seeded(
        program,
        zone_of,
        yearly,
        contact,
        history,
        window,
        &mut evaluation,
    )?;

    // Sends known and planned: conditions and follow-ups read them.
    // Feedback events (opens, clicks, redemptions) attach to the messages
    // they name, known or planned alike.
    let mut messages: Vec<SentMessage> = history
        .messages
        .iter()
        .map(|m| with_feedback(m.clone(), &history.events))
        .collect();
    for message in &history.messages {
        follow_ups(program, &zones_of_flows, message, window, &mut queue);
    }
    // Few per contact: a linear search beats hashing here.
    let already = |flow: &str, rule: &str, occurrence: &str| {
        history
            .messages
            .iter()
            .any(|m| m.flow == flow && m.rule == rule && m.occurrence == occurrence)
    };
    // Exits known, and those planned in this window as they come: a rule
    // after an `exit` of its flow is skipped, in simulate as in run.
    let mut exits = history.exits.clone();
    // The flows whose messages caps neither drop nor count (none, and no
    // allocation, in most programs).
    let transactional: Vec<&str> = program
        .flows
        .iter()
        .filter(|f| f.transactional)
        .map(|f| program.string(f.name))
        .collect();
    let mut seen: Vec<(usize, usize, String)> = Vec::new();
    let mut budget = Budget {
        remaining: INSTRUCTION_BUDGET,
    };
    while let Some(candidate) = queue.pop_first() {
        let identity = (candidate.flow, candidate.rule, candidate.occurrence.clone());
        if seen.contains(&identity) {
            continue;
        }
        seen.push(identity);
        let flow = &program.flows[candidate.flow];
        let rule = &flow.rules[candidate.rule];
        let flow_name = program.string(flow.name);
        let rule_name = program.string(rule.name);
        if already(flow_name, rule_name, &candidate.occurrence) {
            continue;
        }
        if evaluation.dues.len() >= DUE_BUDGET {
            return Err(VmError::Budget);
        }
        let Some((tz, zone_name)) = &zones_of_flows[candidate.flow] else {
            continue;
        };
        let scope = Scope {
            program,
            flow,
            contact,
            messages: &messages,
            events: &history.events,
            now: candidate.instant,
            occurrence: &candidate.occurrence,
            event: candidate.event.map(|e| &history.events[e]),
            candidate: None,
            anniversary: candidate.anniversary,
        };
        let outcome = decide(&scope, rule, &exits, &mut budget)?;
        if outcome.exits_flow() {
            exits.push((flow_name.to_string(), candidate.instant));
        }
        let deadline = match flow.lateness {
            // The local day the send lands on: a time moved out of a gap
            // that ends at midnight (America/Nuuk) lands on the next day,
            // and belongs to it; its deadline is never before its instant.
            Lateness::SameDay => end_of_local_day(
                candidate.local.0.max(landing_day(candidate.instant, tz)),
                tz,
            )
            .map(|end| {
                end.checked_sub(jiff::SignedDuration::from_nanos(1))
                    .unwrap_or(end)
            })
            .unwrap_or(Timestamp::MAX),
            Lateness::Within(o) => o
                .apply_to_instant(candidate.instant, tz)
                .unwrap_or(Timestamp::MAX),
        };
        // A late event's rule is due now only if it can still go out.
        if candidate.late && deadline < window.end() {
            continue;
        }
        let mut outcome = outcome;
        // A transactional message is neither held by quiet hours nor capped.
        let not_before = if flow.transactional {
            None
        } else {
            apply_policy(
                program,
                &mut outcome,
                &candidate,
                tz,
                deadline,
                &messages,
                &transactional,
            )
        };
        // What the state will record as done for this rule: any action not
        // skipped (a task too, whose follow-up `when 2d after call` the
        // next run finds in the state), on the channel of its first send.
        let done = match &outcome {
            Outcome::Planned(actions) if actions.iter().any(|p| p.skipped.is_none()) => {
                Some(actions.iter().find_map(|p| match (&p.action, &p.skipped) {
                    (Action::Send { channel, .. }, None) => Some(*channel),
                    _ => None,
                }))
            }
            _ => None,
        };
        if let Some(channel) = done {
            let mut sent = SentMessage::new(
                flow_name,
                rule_name,
                &candidate.occurrence,
                candidate.instant,
            );
            sent.channel = channel;
            let sent = with_feedback(sent, &history.events);
            follow_ups(program, &zones_of_flows, &sent, window, &mut queue);
            messages.push(sent);
        }
        evaluation.dues.push(Due {
            flow: flow_name.to_string(),
            rule: rule_name.to_string(),
            occurrence: candidate.occurrence,
            instant: candidate.instant,
            local_date: candidate.local.0,
            local_time: candidate.local.1,
            shifted_by_gap: candidate.shifted_by_gap,
            zone: zone_name.to_string(),
            deadline,
            not_before,
            outcome,
            event: candidate.event.map(|e| history.events[e].clone()),
        });
    }
    Ok(evaluation)
}

/// The local date of `instant` in `tz`.
fn landing_day(instant: Timestamp, tz: &TimeZone) -> jiff::civil::Date {
    tz.to_datetime(instant).date()
}

/// Quiet hours and pressure caps on a decided rule. Returns when quiet
/// hours hold the delivery back to; marks sends skipped when a cap is
/// reached or quiet hours would pass the deadline.
fn apply_policy(
    program: &Program,
    outcome: &mut Outcome,
    candidate: &Candidate,
    tz: &TimeZone,
    deadline: Timestamp,
    messages: &[SentMessage],
    transactional: &[&str],
) -> Option<Timestamp> {
    let Outcome::Planned(actions) = outcome else {
        return None;
    };
    if !actions
        .iter()
        .any(|p| p.skipped.is_none() && matches!(p.action, Action::Send { .. }))
    {
        return None;
    }
    let policy = &program.policy;
    let mut not_before = None;
    if let Some((from, to)) = policy.quiet_hours {
        let (date, time) = candidate.local;
        let minute = time.hour() as u16 * 60 + time.minute() as u16;
        if crate::calendar::in_daily_period(from, to, minute) {
            // The end of this quiet period: `to` today, or tomorrow when the
            // period started before midnight.
            let day = if from > to && minute >= from {
                date.tomorrow().ok()
            } else {
                Some(date)
            };
            let end = day.and_then(|d| {
                let end_time = Time::new((to / 60) as i8, (to % 60) as i8, 0, 0).ok()?;
                crate::calendar::resolve_local(d, end_time, tz).ok()
            });
            match end {
                Some(end) if end <= deadline => not_before = Some(end),
                _ => {
                    for p in actions
                        .iter_mut()
                        .filter(|p| matches!(p.action, Action::Send { .. }))
                    {
                        p.skipped.get_or_insert(Skip::QuietHours);
                    }
                    return None;
                }
            }
        }
    }
    let day = landing_day(candidate.instant, tz);
    for cap in policy.caps.iter().filter(|c| !c.tasks) {
        let in_period = |at: Timestamp| match cap.window {
            // The contact's calendar day: a next-morning SMS is a new day.
            CapPeriod::LocalDay => landing_day(at, tz) == day,
            CapPeriod::Rolling(window) => {
                let since = Offset::new(-window.amount, window.unit)
                    .apply_to_instant(candidate.instant, &TimeZone::UTC)
                    .unwrap_or(Timestamp::MIN);
                at > since
            }
        };
        // Transactional messages do not count against marketing caps.
        let counted = messages
            .iter()
            .filter(|m| m.at <= candidate.instant && in_period(m.at))
            .filter(|m| !transactional.contains(&m.flow.as_str()))
            // A task or a webhook is not a message.
            .filter(|m| m.channel.is_some())
            .filter(|m| cap.channel.is_none() || m.channel == cap.channel)
            .count();
        for p in actions.iter_mut() {
            let Action::Send { channel, .. } = &p.action else {
                continue;
            };
            if p.skipped.is_some() || cap.channel.is_some_and(|c| c != *channel) {
                continue;
            }
            if counted as u64 >= u64::from(cap.count) {
                let what = cap.channel.map_or("messages", |c| c.name());
                p.skipped = Some(Skip::Pressure(format!(
                    "at most {} {what} per {}",
                    cap.count, cap.window
                )));
            }
        }
    }
    not_before
}

/// A message planned in the window, with the opens, clicks and redemption
/// that events report for it (`flow`, `rule` and, when given, `occurrence`
/// attributes name the message): what-if feedback in a simulation.
fn with_feedback(mut sent: SentMessage, events: &[Event]) -> SentMessage {
    let text = |e: &Event, key: &str| match e.attributes.get(key) {
        Some(Value::Text(t)) => Some(t.clone()),
        _ => None,
    };
    for event in events {
        let names_it = event.at >= sent.at
            && text(event, "flow").as_deref() == Some(sent.flow.as_str())
            && text(event, "rule").as_deref() == Some(sent.rule.as_str())
            && text(event, "occurrence").is_none_or(|o| o == sent.occurrence);
        if !names_it {
            continue;
        }
        let earliest = |t: Option<Timestamp>| Some(t.map_or(event.at, |t| t.min(event.at)));
        match event.kind.as_str() {
            // An open a privacy proxy made as the message arrived (`flowc
            // serve` marks it `machine`) says nothing of the reader.
            "opened" if event.attributes.get("machine") == Some(&Value::Bool(true)) => {}
            "opened" => sent.opened = earliest(sent.opened),
            "clicked" => {
                sent.clicks
                    .push((text(event, "link").unwrap_or_default(), event.at));
                // A click implies the message was opened.
                sent.opened = earliest(sent.opened);
            }
            "redeemed" => sent.redeemed = earliest(sent.redeemed),
            _ => {}
        }
    }
    sent
}

/// The contact's zone for a flow: its zone field, else the flow's default.
/// `Err` carries a zone name the database does not know.
pub(super) fn contact_zone<'a>(
    program: &'a Program,
    flow: &FlowCode,
    contact: &'a Contact,
    zone_of: &mut dyn FnMut(&str) -> Option<TimeZone>,
) -> Result<(TimeZone, &'a str), String> {
    let from_field = flow
        .zone_field
        .and_then(|f| match contact.field(program.string(f)) {
            Value::Text(name) if !name.trim().is_empty() => Some(name.trim()),
            _ => None,
        });
    let name = from_field.unwrap_or_else(|| program.string(flow.default_zone));
    match zone_of(name) {
        Some(tz) => Ok((tz, name)),
        None => Err(name.to_string()),
    }
}

fn send_time(flow: &FlowCode, rule: &RuleCode) -> Time {
    let minutes = rule.send_at.unwrap_or(flow.send_at);
    Time::new((minutes / 60) as i8, (minutes % 60) as i8, 0, 0).unwrap_or(Time::midnight())
}

/// The local send time applies to offsets of a day or more; an event
/// followed up after minutes or hours (or at once) is exact.
fn send_time_after(offset: Offset, time: Time) -> Option<Time> {
    (offset.amount != 0 && !offset.is_sub_day()).then_some(time)
}

fn candidate(
    program: &Program,
    flow: usize,
    rule: usize,
    occurrence: String,
    o: &Occurrence,
) -> Candidate {
    let name = program.flows[flow].name;
    let priority = &program.policy.priority;
    Candidate {
        instant: o.instant,
        rank: priority
            .iter()
            .position(|&p| p == name)
            .unwrap_or(priority.len()),
        flow,
        rule,
        occurrence,
        local: (o.local_date, o.local_time),
        shifted_by_gap: o.shifted_by_gap,
        event: None,
        anniversary: None,
        late: false,
    }
}

/// The candidates of one rule that do not depend on other sends.
#[allow(clippy::too_many_arguments)]
pub(super) fn seeds(
    program: &Program,
    flow: &FlowCode,
    (f, r): (usize, usize),
    rule: &RuleCode,
    contact: &Contact,
    history: &History,
    tz: &TimeZone,
    window: &Window,
    yearly: &mut YearlyFilters,
    queue: &mut BTreeSet<Candidate>,
    evaluation: &mut Evaluation,
) -> Result<(), VmError> {
    let time = send_time(flow, rule);
    let flow_name = || program.string(flow.name).to_string();
    let mut date_of = |field: u32| -> Option<Date> {
        let name = program.string(field);
        match contact.field(name) {
            Value::Date(d) => Some(*d),
            Value::DateTime(t) => Some(t.to_zoned(tz.clone()).date()),
            Value::Null => None,
            Value::Text(s) if s.trim().is_empty() => None,
            other => {
                evaluation.problems.push(ContactProblem::NotADate {
                    flow: flow_name(),
                    field: name.to_string(),
                    value: other.to_text(),
                });
                None
            }
        }
    };
    match &rule.trigger {
        TriggerCode::Date {
            field,
            yearly: yearly_rule,
            offset,
        } => {
            let Some(date) = date_of(*field) else {
                return Ok(());
            };
            let field_name = program.string(*field);
            if *yearly_rule && !yearly.may_be_due(window, (f, r), *offset, flow.leap_day, date) {
                return Ok(());
            }
            let unschedulable = |e: CalendarError| ContactProblem::Unschedulable {
                flow: flow_name(),
                field: field_name.to_string(),
                reason: e.to_string(),
            };
            if *yearly_rule {
                match yearly_occurrences(date, *offset, time, tz, flow.leap_day, window) {
                    Ok(found) => {
                        for o in found {
                            let key = occurrence_text(field_name, &o.key);
                            queue.insert(candidate(program, f, r, key, &o));
                        }
                    }
                    Err(e) => evaluation.problems.push(unschedulable(e)),
                }
            } else {
                match once_occurrence(date, *offset, time, tz, window) {
                    Ok(Some(o)) => {
                        let key = format!("{field_name}/{date}");
                        queue.insert(candidate(program, f, r, key, &o));
                    }
                    Ok(None) => {}
                    Err(e) => evaluation.problems.push(unschedulable(e)),
                }
            }
        }
        TriggerCode::Anniversary { field, offset } => {
            let Some(date) = date_of(*field) else {
                return Ok(());
            };
            if !yearly.may_be_due(window, (f, r), *offset, flow.leap_day, date) {
                return Ok(());
            }
            let found = anniversary_occurrences(date, *offset, time, tz, flow.leap_day, window)
                .unwrap_or_else(|e| {
                    evaluation.problems.push(ContactProblem::Unschedulable {
                        flow: flow_name(),
                        field: program.string(*field).to_string(),
                        reason: e.to_string(),
                    });
                    Vec::new()
                });
            for o in found {
                let n = match o.key {
                    OccurrenceKey::Anniversary(n) => n,
                    _ => continue,
                };
                let mut c = candidate(program, f, r, format!("anniversary/{n}"), &o);
                c.anniversary = Some(n);
                queue.insert(c);
            }
        }
        TriggerCode::FixedDate {
            date: (y, m, d),
            offset,
        } => {
            if let Ok(date) = Date::new(*y, *m, *d) {
                if let Ok(Some(o)) = once_occurrence(date, *offset, time, tz, window) {
                    queue.insert(candidate(program, f, r, format!("date/{date}"), &o));
                }
            }
        }
        TriggerCode::Event {
            event,
            offset,
            filter,
        } => {
            let kind = program.string(*event);
            // A late event may have its instant before the window.
            let before = Window::new(Timestamp::MIN, window.start()).ok();
            for (i, e) in history.events.iter().enumerate() {
                if e.kind != kind {
                    continue;
                }
                let at = |window: &Window| {
                    after_instant(e.at, *offset, send_time_after(*offset, time), tz, window)
                };
                let (o, late) = match (at(window), &before) {
                    (Ok(Some(o)), _) => (o, false),
                    (_, Some(before)) if e.late => match at(before) {
                        Ok(Some(o)) => (o, true),
                        _ => continue,
                    },
                    _ => continue,
                };
                if let Some(code) = filter {
                    if !filter_passes(program, flow, contact, history, e, code)? {
                        continue;
                    }
                }
                let mut c = candidate(program, f, r, format!("{kind}/{}", e.id), &o);
                c.event = Some(i);
                c.late = late;
                queue.insert(c);
            }
        }
        TriggerCode::Inactivity { event, period } => {
            let kind = program.string(*event);
            let mut times: Vec<Timestamp> = history
                .events
                .iter()
                .filter(|e| e.kind == kind)
                .map(|e| e.at)
                .collect();
            times.sort();
            for (i, last_seen) in times.iter().enumerate() {
                let Ok(Some(o)) = inactivity_due(*last_seen, *period, Some(time), tz, window)
                else {
                    continue;
                };
                // A later event of the kind before the due instant resets the clock.
                if times.get(i + 1).is_some_and(|next| *next <= o.instant) {
                    continue;
                }
                queue.insert(candidate(
                    program,
                    f,
                    r,
                    format!("no-{kind}/{last_seen}"),
                    &o,
                ));
            }
        }
        TriggerCode::Becomes { field, offset, .. } | TriggerCode::Changes { field, offset } => {
            let name = program.string(*field);
            let wanted = match &rule.trigger {
                TriggerCode::Becomes { value, .. } => Some(value),
                _ => None,
            };
            for change in history.changes.iter().filter(|c| c.field == name) {
                if let Some(value) = wanted {
                    // The value is computed when the change happened.
                    let scope = Scope {
                        program,
                        flow,
                        contact,
                        messages: &[],
                        events: &history.events,
                        now: change.at,
                        occurrence: "",
                        event: None,
                        candidate: None,
                        anniversary: None,
                    };
                    let mut budget = Budget {
                        remaining: INSTRUCTION_BUDGET,
                    };
                    if change.new.equals(&run(value, &scope, &mut budget)?) != Some(true) {
                        continue;
                    }
                }
                let due = after_instant(
                    change.at,
                    *offset,
                    send_time_after(*offset, time),
                    tz,
                    window,
                );
                if let Ok(Some(o)) = due {
                    queue.insert(candidate(
                        program,
                        f,
                        r,
                        format!("{name}/{}", change.at),
                        &o,
                    ));
                }
            }
        }
        TriggerCode::AfterMessage { .. } => {}
    }
    Ok(())
}

fn occurrence_text(field: &str, key: &OccurrenceKey) -> String {
    match key {
        OccurrenceKey::Year(y) => format!("{field}/{y}"),
        other => format!("{field}/{other}"),
    }
}

fn filter_passes(
    program: &Program,
    flow: &FlowCode,
    contact: &Contact,
    history: &History,
    event: &Event,
    code: &Code,
) -> Result<bool, VmError> {
    let scope = Scope {
        program,
        flow,
        contact,
        messages: &[],
        events: &history.events,
        now: event.at,
        occurrence: "",
        // A trigger's own filter tests the trigger: both names read it.
        event: Some(event),
        candidate: Some(event),
        anniversary: None,
    };
    let mut budget = Budget {
        remaining: INSTRUCTION_BUDGET,
    };
    Ok(run(code, &scope, &mut budget)?.truthy())
}

/// The rules of the message's flow that follow it up, due in `window`.
fn follow_ups(
    program: &Program,
    zones_of_flows: &[Option<(TimeZone, &str)>],
    message: &SentMessage,
    window: &Window,
    queue: &mut BTreeSet<Candidate>,
) {
    let Some(f) = program
        .flows
        .iter()
        .position(|fl| program.string(fl.name) == message.flow)
    else {
        return;
    };
    let flow = &program.flows[f];
    let Some(Some((tz, _))) = zones_of_flows.get(f) else {
        return;
    };
    let Some(parent) = flow
        .rules
        .iter()
        .position(|r| program.string(r.name) == message.rule)
    else {
        return;
    };
    for (r, rule) in flow.rules.iter().enumerate() {
        let TriggerCode::AfterMessage { rules, offset } = &rule.trigger else {
            continue;
        };
        if !rules.contains(&(parent as u16)) {
            continue;
        }
        let time = send_time(flow, rule);
        if let Ok(Some(o)) = after_instant(
            message.at,
            *offset,
            send_time_after(*offset, time),
            tz,
            window,
        ) {
            // A follow-up belongs to the occurrence of what it follows.
            queue.insert(candidate(program, f, r, message.occurrence.clone(), &o));
        }
    }
}
