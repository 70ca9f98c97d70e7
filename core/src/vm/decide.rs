//! What a due rule does for a contact: audience, re-entry, condition, then
//! each action with its values.

use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::contact::Event;
use super::eval::{run, Budget, Scope};
use super::value::Value;
use super::{Action, Outcome, Planned, Skip, VmError};
use crate::bytecode::{ActionCode, Code, Reentry, RuleCode};
use crate::calendar::Offset;

/// What a due rule does: audience, re-entry, condition, then each action.
pub(super) fn decide(
    scope: &Scope,
    rule: &RuleCode,
    exits: &[(String, Timestamp)],
    budget: &mut Budget,
) -> Result<Outcome, VmError> {
    let flow_name = scope.program.string(scope.flow.name);
    // Left the flow (`exit`, recorded by an earlier run or planned earlier
    // in this window): nothing of it after that instant.
    if exits
        .iter()
        .any(|(f, at)| f == flow_name && *at <= scope.now)
    {
        return Ok(Outcome::Skipped(Skip::Exited));
    }
    let earlier_occurrence = |within: Option<Offset>| {
        scope.messages.iter().any(|m| {
            m.flow == flow_name
                && m.occurrence != scope.occurrence
                && m.at <= scope.now
                && within.is_none_or(|w| {
                    Offset::new(-w.amount, w.unit)
                        .apply_to_instant(scope.now, &TimeZone::UTC)
                        .is_ok_and(|from| m.at >= from)
                })
        })
    };
    // Leaving is always allowed: a rule that exits is not an entry.
    let exits_flow = || {
        rule.actions
            .iter()
            .any(|a| matches!(a, ActionCode::Exit { .. }))
    };
    let reentry_blocked = match scope.flow.reentry {
        Reentry::Once => false,
        Reentry::Never => !exits_flow() && earlier_occurrence(None),
        Reentry::After(period) => !exits_flow() && earlier_occurrence(Some(period)),
    };
    if reentry_blocked {
        return Ok(Outcome::Skipped(Skip::Reentry));
    }
    if let Some(audience) = &scope.flow.audience {
        if !run(audience, scope, budget)?.truthy() {
            return Ok(Outcome::Skipped(Skip::Audience));
        }
    }
    if let Some(condition) = &rule.condition {
        if !run(condition, scope, budget)?.truthy() {
            // `unused offer` with no offer issued for this occurrence: say
            // so, rather than "condition false".
            let never_issued = condition.ops.iter().find_map(|op| match op {
                crate::bytecode::Op::Unused(m) if !super::eval::issued(scope, *m) => {
                    scope.flow.messages.get(*m as usize).map(|m| m.name)
                }
                _ => None,
            });
            if let Some(name) = never_issued {
                let name = scope.program.string(name);
                return Ok(Outcome::Skipped(Skip::NotIssued(match name {
                    "" => "offer".to_string(),
                    name => name.to_string(),
                })));
            }
            return Ok(Outcome::Skipped(Skip::Condition));
        }
    }
    let mut planned = Vec::with_capacity(rule.actions.len());
    let text = |code: &Option<Code>, budget: &mut Budget| -> Result<Option<String>, VmError> {
        code.as_ref()
            .map(|c| run(c, scope, budget).map(|v| v.to_text()))
            .transpose()
    };
    for action in &rule.actions {
        let (action, skipped) = match action {
            ActionCode::Send {
                channel,
                template,
                sender,
                coupon,
                vars,
                ..
            } => {
                let skip = super::eval::consent(scope, *channel);
                let action = Action::Send {
                    channel: *channel,
                    template: scope.program.string(*template).to_string(),
                    sender: text(sender, budget)?,
                    coupon: *coupon,
                    vars: values(scope, vars, budget)?,
                    redemption: redemption(scope),
                };
                (action, skip)
            }
            ActionCode::Task {
                kind,
                assignee,
                note,
                due,
                ..
            } => (
                Action::Task {
                    kind: scope.program.string(*kind).to_string(),
                    assignee: text(assignee, budget)?,
                    note: text(note, budget)?,
                    due: *due,
                },
                None,
            ),
            ActionCode::Webhook { name, vars, .. } => (
                Action::Webhook {
                    name: scope.program.string(*name).to_string(),
                    vars: values(scope, vars, budget)?,
                },
                None,
            ),
            ActionCode::SetField { field, value, .. } => (
                Action::SetField {
                    field: scope.program.string(*field).to_string(),
                    value: run(value, scope, budget)?,
                },
                None,
            ),
            ActionCode::Tag { value, .. } => {
                (Action::Tag(run(value, scope, budget)?.to_text()), None)
            }
            ActionCode::Untag { value, .. } => {
                (Action::Untag(run(value, scope, budget)?.to_text()), None)
            }
            ActionCode::Exit { .. } => (Action::Exit, None),
        };
        planned.push(Planned { action, skipped });
    }
    Ok(Outcome::Planned(planned))
}

fn values(
    scope: &Scope,
    vars: &[(u32, Code)],
    budget: &mut Budget,
) -> Result<Vec<(String, Value)>, VmError> {
    vars.iter()
        .map(|(name, code)| {
            Ok((
                scope.program.string(*name).to_string(),
                run(code, scope, budget)?,
            ))
        })
        .collect()
}

/// The latest redemption, by now, of a coupon this flow issued for this
/// occurrence: a `redeemed` event naming the flow (and the occurrence, when
/// it says one), after this occurrence's first message of the flow.
fn redemption(scope: &Scope) -> Vec<(String, Value)> {
    let flow = scope.program.string(scope.flow.name);
    let since = scope
        .messages
        .iter()
        .filter(|m| m.flow == flow && m.occurrence == scope.occurrence)
        .map(|m| m.at)
        .min()
        .unwrap_or(Timestamp::MIN);
    let text = |e: &Event, key: &str| match e.attributes.get(key) {
        Some(Value::Text(t)) => Some(t.clone()),
        _ => None,
    };
    let mut found: Option<&Event> = None;
    for event in scope.events {
        let names_it = event.kind == "redeemed"
            && event.at <= scope.now
            && event.at >= since
            && text(event, "flow").as_deref() == Some(flow)
            && text(event, "occurrence").is_none_or(|o| o == scope.occurrence);
        if names_it && found.is_none_or(|f| f.at <= event.at) {
            found = Some(event);
        }
    }
    let mut attributes: Vec<(String, Value)> = found
        .map(|e| {
            e.attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    attributes.sort_by(|a, b| a.0.cmp(&b.0));
    attributes
}
