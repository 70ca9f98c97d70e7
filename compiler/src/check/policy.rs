//! Policies across flows: pressure caps, priorities, quiet hours. Every
//! `policy` block of every file merges into one.

use std::collections::BTreeMap;

use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::program::{Cap, Flow, Policy, QuietHours};
use crate::source::SourceId;
use crate::syntax::ast::{CapScope, CapWindow, Duration, PolicyDecl, PolicyItem, Unit};
use crate::syntax::Span;

pub fn check_policies(
    policies: &[(SourceId, PolicyDecl)],
    flows: &[Flow],
    diagnostics: &mut Vec<Diagnostic>,
) -> Policy {
    let mut policy = Policy::default();
    let mut priority_at: Option<(SourceId, Span)> = None;
    let mut quiet_at: Option<(SourceId, Span)> = None;
    for (source, decl) in policies {
        let source = *source;
        for item in &decl.items {
            match item {
                PolicyItem::Cap {
                    count,
                    scope,
                    window,
                    ..
                } => {
                    if count.node == 0 {
                        diagnostics.push(
                            Diagnostic::new(
                                Code::InvalidPolicy,
                                source,
                                count.span,
                                "a cap of 0 blocks everything",
                            )
                            .with_message("a pressure cap must allow at least one message")
                            .with_help(
                                "to stop a flow, remove it; to pause a channel, remove its consent",
                            ),
                        );
                    }
                    match window.node {
                        CapWindow::Rolling(d) if d.amount == 0 => diagnostics.push(
                            Diagnostic::new(
                                Code::InvalidPolicy,
                                source,
                                window.span,
                                "an empty window",
                            )
                            .with_message("a pressure window must be longer than zero"),
                        ),
                        // `per 1d` reads as "a day", but counts the 24 hours
                        // before each send: a next-morning message is dropped.
                        CapWindow::Rolling(Duration {
                            amount: 1,
                            unit: Unit::Days,
                        }) => diagnostics.push(
                            Diagnostic::new(
                                Code::RollingDay,
                                source,
                                window.span,
                                "the 24 hours before each send",
                            )
                            .with_message(
                                "`per 1d` counts a rolling 24 hours, not the contact's day",
                            )
                            .with_help(
                                "write `per day` for the contact's calendar day (a morning \
                                 message after an evening one goes), or `per 24h` to keep the \
                                 rolling window",
                            ),
                        ),
                        _ => {}
                    }
                    let (channel, tasks) = match scope.node {
                        CapScope::Messages => (None, false),
                        CapScope::Channel(c) => (Some(c), false),
                        CapScope::Tasks => (None, true),
                    };
                    policy.caps.push(Cap {
                        count: count.node,
                        channel,
                        tasks,
                        window: window.node,
                    });
                }
                PolicyItem::Priority { flows: names, span } => {
                    if let Some((first_source, first_span)) = priority_at {
                        diagnostics.push(
                            Diagnostic::new(
                                Code::InvalidPolicy,
                                source,
                                *span,
                                "a second priority order",
                            )
                            .with_message("priorities are given twice")
                            .with_context(first_source, first_span, "the first order")
                            .with_help("write one `priority a > b > c` line with every flow"),
                        );
                        continue;
                    }
                    priority_at = Some((source, *span));
                    let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
                    for name in names {
                        if let Some(first) = seen.get(name.node.as_str()) {
                            diagnostics.push(
                                Diagnostic::new(
                                    Code::InvalidPolicy,
                                    source,
                                    name.span,
                                    "listed again",
                                )
                                .with_message(format!(
                                    "`{}` appears twice in the priorities",
                                    name.node
                                ))
                                .with_context(
                                    source,
                                    *first,
                                    "first here",
                                ),
                            );
                            continue;
                        }
                        seen.insert(&name.node, name.span);
                        if !flows.iter().any(|f| f.name == name.node) {
                            // A flow named after a file that is not a name
                            // is written as a string.
                            let suggestion =
                                suggest::closest(&name.node, flows.iter().map(|f| f.name.as_str()))
                                    .map(|s| match crate::syntax::is_plain_name(s) {
                                        true => s.to_string(),
                                        false => format!("\"{s}\""),
                                    });
                            diagnostics.push(
                                Diagnostic::new(
                                    Code::UnknownFlow,
                                    source,
                                    name.span,
                                    "no flow of this name",
                                )
                                .with_message(format!("unknown flow `{}`", name.node))
                                .with_suggestion(suggestion.as_deref())
                                .with_note(
                                    "a flow is named by `flow NAME { ... }`, or after its file \
                                     (write a file name that is not a plain name as a string: \
                                     `priority \"fixed-line\" > other`)",
                                ),
                            );
                        }
                        policy.priority.push(name.node.clone());
                    }
                }
                PolicyItem::QuietHours { from, to, span } => {
                    if let Some((first_source, first_span)) = quiet_at {
                        diagnostics.push(
                            Diagnostic::new(
                                Code::InvalidPolicy,
                                source,
                                *span,
                                "quiet hours given again",
                            )
                            .with_message("quiet hours are given twice")
                            .with_context(
                                first_source,
                                first_span,
                                "the first ones",
                            ),
                        );
                        continue;
                    }
                    quiet_at = Some((source, *span));
                    if from.node == to.node {
                        diagnostics.push(
                            Diagnostic::new(
                                Code::InvalidPolicy,
                                source,
                                *span,
                                "from and to are the same time",
                            )
                            .with_message("quiet hours must not be empty")
                            .with_help("write e.g. `quiet hours 21:00 to 08:00`"),
                        );
                    }
                    policy.quiet_hours = Some(QuietHours {
                        from: from.node,
                        to: to.node,
                    });
                }
            }
        }
    }
    policy
}

/// W0006: a rule whose send time falls in the quiet hours.
pub fn check_quiet_hours(policy: &Policy, flows: &[Flow], diagnostics: &mut Vec<Diagnostic>) {
    let Some(quiet) = policy.quiet_hours else {
        return;
    };
    for flow in flows {
        for rule in &flow.rules {
            let (time, span) = match &rule.ast.send_time {
                Some(t) => (t.node, t.span),
                None => (flow.settings.send_at, rule.ast.trigger.span),
            };
            if !rule.trigger_uses_send_time() || !quiet.contains(time) {
                continue;
            }
            diagnostics.push(
                Diagnostic::new(
                    Code::SendInQuietHours,
                    flow.source,
                    span,
                    format!("sent at {time}"),
                )
                .with_message(format!(
                    "this rule sends at {time}, inside the quiet hours {} to {}",
                    quiet.from, quiet.to
                ))
                .with_help(
                    "the send will wait until the quiet hours end; pick a time outside them",
                ),
            );
        }
    }
}

impl crate::program::Rule {
    /// Whether the rule's due time is a local time of day (date triggers),
    /// rather than an instant after an event.
    pub fn trigger_uses_send_time(&self) -> bool {
        use crate::program::Trigger;
        matches!(
            self.trigger,
            Trigger::Date { .. } | Trigger::Anniversary { .. } | Trigger::FixedDate
        ) || self.ast.send_time.is_some()
    }
}
