//! Checked program → bytecode. Runs only on a program without errors, so
//! every name here is known; what could not be resolved was reported by
//! the checker.

use std::collections::HashMap;

use flowc_core::bytecode::{
    self, ActionCode, CapCode, CapPeriod, Code, FlowCode, Lateness, Loc, MessageId, MessageRef, Op,
    PolicyCode, Reentry, RuleCode, StrId, TriggerCode,
};
use flowc_core::calendar::{LeapDayRule, Offset};

use crate::program::{self, Flow, Program, Trigger};
use crate::project::schema::FieldType;
use crate::project::Project;
use crate::source::{SourceId, Sources};
use crate::syntax::ast::{
    self, Action, BinaryOp, Channel, Direction, Duration, Expr, ExprKind, Literal, Point,
    TimeOfDay, TriggerKind, UnaryOp,
};
use crate::syntax::Span;

/// Compiles `program`, checked from `flow_files`, to bytecode.
pub fn lower(
    program: &Program,
    sources: &Sources,
    flow_files: &[SourceId],
    project: &Project,
) -> bytecode::Program {
    let mut lowering = Lowering {
        sources,
        project,
        source_index: flow_files
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i as u16))
            .collect(),
        strings: Vec::new(),
        interned: HashMap::new(),
    };
    let flows = program.flows.iter().map(|f| lowering.flow(f)).collect();
    let policy = lowering.policy(&program.policy);
    let consent_fields = project
        .schema
        .fields
        .iter()
        .filter_map(|(name, field)| field.consent.map(|c| (c, lowering.string(name))))
        .collect();
    let fields = project
        .schema
        .fields
        .iter()
        .map(|(name, field)| bytecode::FieldSpec {
            required: !field.optional,
            ..lowering.field_spec(name, field.ty)
        })
        .collect();
    let events = project
        .schema
        .events
        .iter()
        .map(|(name, event)| bytecode::EventSpec {
            name: lowering.string(name),
            attributes: event
                .attributes
                .iter()
                .map(|(attribute, ty)| lowering.field_spec(attribute, *ty))
                .collect(),
        })
        .collect();
    let templates = project
        .templates
        .iter()
        .flat_map(|t| t.by_name.iter())
        .flat_map(|(name, template)| template.variants.iter().map(move |(c, v)| (name, c, v)))
        .map(|(name, c, variant)| bytecode::TemplateCode {
            name: lowering.string(name),
            channel: *c,
            subject: variant.subject.clone(),
            body: variant.body.clone(),
            html: variant.html,
            links: variant
                .link_urls
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            coupon: variant.coupon.clone(),
        })
        .collect();
    let webhooks = project
        .webhook_settings
        .iter()
        .map(|(name, settings)| bytecode::WebhookSpec {
            name: lowering.string(name),
            url_env: settings.url_env.clone(),
            secret_env: settings.secret_env.clone(),
        })
        .collect();
    let kinds = project
        .kinds
        .iter()
        .map(|(name, words)| (lowering.string(name), lowering.string(words)))
        .collect();
    let attribution = project
        .attribution
        .as_ref()
        .map(|a| bytecode::AttributionSpec {
            event: lowering.string(&a.event),
            amount: a.amount.as_deref().map(|m| lowering.string(m)),
            window: a.window,
        });
    bytecode::Program {
        sources: flow_files
            .iter()
            .map(|id| sources.path(*id).to_string())
            .collect(),
        source_hash: bytecode::source_hash(
            flow_files
                .iter()
                .map(|id| (sources.path(*id), sources.text(*id))),
        ),
        strings: lowering.strings,
        flows,
        policy,
        consent_fields,
        fields,
        events,
        templates,
        webhooks,
        kinds,
        attribution,
    }
}

struct Lowering<'a> {
    sources: &'a Sources,
    project: &'a Project,
    source_index: HashMap<SourceId, u16>,
    strings: Vec<String>,
    interned: HashMap<String, StrId>,
}

/// What names mean inside one piece of code.
#[derive(Clone, Copy)]
struct Names<'f> {
    /// The anniversary number's name, when bound.
    binding: Option<&'f str>,
    /// Inside an event filter: bare names are this event's attributes.
    filter_event: Option<&'f str>,
}

/// Per-flow tables being built: messages and filters referred to by code.
#[derive(Default)]
struct FlowTables {
    messages: Vec<MessageRef>,
    message_ids: HashMap<String, MessageId>,
    filters: Vec<Code>,
}

impl<'a> Lowering<'a> {
    fn string(&mut self, s: &str) -> StrId {
        if let Some(&id) = self.interned.get(s) {
            return id;
        }
        let id = self.strings.len() as StrId;
        self.strings.push(s.to_string());
        self.interned.insert(s.to_string(), id);
        id
    }

    fn field_spec(&mut self, name: &str, ty: FieldType) -> bytecode::FieldSpec {
        bytecode::FieldSpec {
            name: self.string(name),
            required: false,
            kind: ty,
        }
    }

    fn loc(&self, source: SourceId, span: Span) -> Loc {
        let (line, column) = self.sources.line_col(source, span.start);
        Loc {
            source: self.source_index.get(&source).copied().unwrap_or(0),
            line: line as u32,
            column: column as u32,
        }
    }

    fn flow(&mut self, flow: &Flow) -> FlowCode {
        let settings = &flow.settings;
        let mut tables = FlowTables::default();
        let names = Names {
            binding: None,
            filter_event: None,
        };
        let audience = settings
            .audience
            .as_ref()
            .map(|e| self.code(flow, &mut tables, e, names));
        let rules = flow
            .rules
            .iter()
            .map(|rule| self.rule(flow, &mut tables, rule))
            .collect();
        FlowCode {
            name: self.string(&flow.name),
            title: settings.title.as_deref().map(|t| self.string(t)),
            loc: self.loc(flow.source, flow.span),
            zone_field: settings.zone.field.as_deref().map(|f| self.string(f)),
            default_zone: self.string(&settings.zone.default),
            send_at: minutes(settings.send_at),
            lateness: match settings.lateness {
                program::Lateness::SameDay => Lateness::SameDay,
                program::Lateness::Within(d) => Lateness::Within(d.to_offset(Direction::After)),
            },
            reentry: match settings.reentry {
                program::Reentry::Once => Reentry::Once,
                program::Reentry::Never => Reentry::Never,
                program::Reentry::After(d) => Reentry::After(d.to_offset(Direction::After)),
            },
            leap_day: match settings.leap_day {
                program::LeapDay::Feb28 => LeapDayRule::Feb28,
                program::LeapDay::Mar1 => LeapDayRule::Mar1,
            },
            transactional: settings.transactional,
            kind: settings.kind.as_deref().map(|k| self.string(k)),
            audience,
            messages: tables.messages,
            filters: tables.filters,
            rules,
        }
    }

    fn rule(&mut self, flow: &Flow, tables: &mut FlowTables, rule: &program::Rule) -> RuleCode {
        let ast = &rule.ast;
        let binding = match &rule.trigger {
            Trigger::Anniversary { binding, .. } => binding.as_deref(),
            _ => None,
        };
        let names = Names {
            binding,
            filter_event: None,
        };
        let offset = ast
            .trigger
            .offset
            .as_ref()
            .map(|o| o.amount.node.to_offset(o.direction))
            .unwrap_or(Offset::ZERO);
        let trigger = match &rule.trigger {
            Trigger::Date {
                field, recurrence, ..
            } => TriggerCode::Date {
                field: self.string(field),
                yearly: *recurrence == ast::Recurrence::Yearly,
                offset,
            },
            Trigger::Anniversary { field, .. } => TriggerCode::Anniversary {
                field: self.string(field),
                offset,
            },
            Trigger::Event { event } => {
                let filter = ast.trigger.filter.as_ref().map(|f| {
                    let names = Names {
                        filter_event: Some(event),
                        ..names
                    };
                    self.code(flow, tables, f, names)
                });
                TriggerCode::Event {
                    event: self.string(event),
                    offset,
                    filter,
                }
            }
            Trigger::Message { rules } => TriggerCode::AfterMessage {
                rules: rules.iter().map(|&r| r as u16).collect(),
                offset,
            },
            Trigger::Inactivity { event } => {
                let period = match &ast.trigger.kind {
                    TriggerKind::Inactivity { period, .. } => offset_of(period.node),
                    _ => Offset::ZERO,
                };
                TriggerCode::Inactivity {
                    event: self.string(event),
                    period,
                }
            }
            Trigger::Becomes { field } => {
                let value = match &ast.trigger.kind {
                    TriggerKind::Becomes { value, .. } => self.code(flow, tables, value, names),
                    _ => Code::default(),
                };
                TriggerCode::Becomes {
                    field: self.string(field),
                    value,
                    offset,
                }
            }
            Trigger::Changes { field } => TriggerCode::Changes {
                field: self.string(field),
                offset,
            },
            Trigger::FixedDate => {
                let date = match &ast.trigger.kind {
                    TriggerKind::FixedDate(d) => (d.year, d.month as i8, d.day as i8),
                    _ => (1970, 1, 1),
                };
                TriggerCode::FixedDate { date, offset }
            }
        };
        RuleCode {
            name: self.string(&rule.name),
            loc: self.loc(flow.source, ast.span),
            trigger,
            send_at: ast.send_time.as_ref().map(|t| minutes(t.node)),
            condition: ast
                .condition
                .as_ref()
                .map(|c| self.code(flow, tables, c, names)),
            actions: ast
                .actions
                .iter()
                .map(|a| self.action(flow, tables, a, names))
                .collect(),
        }
    }

    fn action(
        &mut self,
        flow: &Flow,
        tables: &mut FlowTables,
        action: &Action,
        names: Names,
    ) -> ActionCode {
        let loc = self.loc(flow.source, action.span());
        match action {
            Action::Send(send) => ActionCode::Send {
                loc,
                channel: send.channel.as_ref().map_or(Channel::Email, |c| c.node),
                template: self.string(&send.template.node),
                sender: send
                    .sender
                    .as_ref()
                    .map(|e| self.code(flow, tables, e, names)),
                coupon: send
                    .coupon
                    .as_ref()
                    .map(|c| c.validity.as_ref().map(|v| offset_of(v.node))),
                vars: self.vars(flow, tables, &send.vars, names),
            },
            Action::Task {
                kind,
                assignee,
                note,
                due,
                ..
            } => ActionCode::Task {
                loc,
                kind: self.string(&kind.node),
                assignee: assignee.as_ref().map(|e| self.code(flow, tables, e, names)),
                note: note.as_ref().map(|e| self.code(flow, tables, e, names)),
                due: due.as_ref().map(|d| offset_of(d.node)),
            },
            Action::Webhook { name, vars, .. } => ActionCode::Webhook {
                loc,
                name: self.string(&name.node),
                vars: self.vars(flow, tables, vars, names),
            },
            Action::SetField { field, value, .. } => ActionCode::SetField {
                loc,
                field: self.string(&field.node),
                value: self.code(flow, tables, value, names),
            },
            Action::Tag { value, .. } => ActionCode::Tag {
                loc,
                value: self.code(flow, tables, value, names),
            },
            Action::Untag { value, .. } => ActionCode::Untag {
                loc,
                value: self.code(flow, tables, value, names),
            },
            Action::Exit { .. } => ActionCode::Exit { loc },
        }
    }

    fn vars(
        &mut self,
        flow: &Flow,
        tables: &mut FlowTables,
        vars: &[ast::Assignment],
        names: Names,
    ) -> Vec<(StrId, Code)> {
        vars.iter()
            .map(|v| {
                (
                    self.string(&v.name.node),
                    self.code(flow, tables, &v.value, names),
                )
            })
            .collect()
    }

    fn code(&mut self, flow: &Flow, tables: &mut FlowTables, expr: &Expr, names: Names) -> Code {
        let mut code = Code::default();
        self.expr(flow, tables, expr, names, &mut code);
        code
    }

    /// The id of a message of the flow in this flow's table (`None`: any offer).
    fn message(&mut self, flow: &Flow, tables: &mut FlowTables, name: Option<&str>) -> MessageId {
        let key = name.unwrap_or("");
        if let Some(&id) = tables.message_ids.get(key) {
            return id;
        }
        let rules = match name {
            Some(n) => flow.messages.get(n).cloned().unwrap_or_default(),
            None => flow.offer_rules.clone(),
        };
        let id = tables.messages.len() as MessageId;
        let name = self.string(key);
        tables.messages.push(MessageRef {
            name,
            rules: rules.into_iter().map(|r| r as u16).collect(),
        });
        tables.message_ids.insert(key.to_string(), id);
        id
    }

    fn expr(
        &mut self,
        flow: &Flow,
        tables: &mut FlowTables,
        expr: &Expr,
        names: Names,
        code: &mut Code,
    ) {
        let loc = self.loc(flow.source, expr.span);
        match &expr.kind {
            // The checker reported it; a program never holds one.
            ExprKind::Invalid => {
                code.push(Op::Bool(false), loc);
            }
            ExprKind::Literal(literal) => {
                let op = match literal {
                    Literal::Bool(b) => Op::Bool(*b),
                    Literal::Number(n) => Op::Number(*n),
                    Literal::String(s) => Op::Text(self.string(s)),
                    Literal::Duration(d) => Op::Duration(offset_of(*d)),
                    Literal::Date(d) => Op::Date(d.year, d.month as i8, d.day as i8),
                    Literal::Time(t) => Op::Time(minutes(*t)),
                };
                code.push(op, loc);
            }
            ExprKind::List(items) => {
                for item in items {
                    self.expr(flow, tables, item, names, code);
                }
                code.push(Op::List(items.len() as u16), loc);
            }
            ExprKind::Path(path) => {
                let op = self.path(path, names);
                code.push(op, loc);
            }
            ExprKind::Unary(op, operand) => {
                self.expr(flow, tables, operand, names, code);
                code.push(
                    match op {
                        UnaryOp::Not => Op::Not,
                        UnaryOp::Neg => Op::Neg,
                    },
                    loc,
                );
            }
            ExprKind::Binary(op @ (BinaryOp::And | BinaryOp::Or), lhs, rhs) => {
                self.expr(flow, tables, lhs, names, code);
                let jump = code.push(Op::Bool(false), loc);
                self.expr(flow, tables, rhs, names, code);
                let target = code.ops.len() as u32;
                code.ops[jump] = if *op == BinaryOp::And {
                    Op::JumpIfFalseElsePop(target)
                } else {
                    Op::JumpIfTrueElsePop(target)
                };
            }
            ExprKind::Binary(op, lhs, rhs) => {
                self.expr(flow, tables, lhs, names, code);
                self.expr(flow, tables, rhs, names, code);
                let (op, negate) = match op {
                    BinaryOp::Eq => (Op::Eq, false),
                    BinaryOp::Ne => (Op::Ne, false),
                    BinaryOp::Lt => (Op::Lt, false),
                    BinaryOp::Le => (Op::Le, false),
                    BinaryOp::Gt => (Op::Gt, false),
                    BinaryOp::Ge => (Op::Ge, false),
                    BinaryOp::In => (Op::In, false),
                    BinaryOp::NotIn => (Op::In, true),
                    BinaryOp::Add => (Op::Add, false),
                    BinaryOp::Sub => (Op::Sub, false),
                    BinaryOp::Mul => (Op::Mul, false),
                    BinaryOp::Div => (Op::Div, false),
                    BinaryOp::Rem => (Op::Rem, false),
                    BinaryOp::And | BinaryOp::Or => unreachable!("handled above"),
                };
                code.push(op, loc);
                if negate {
                    code.push(Op::Not, loc);
                }
            }
            ExprKind::IsSet {
                expr: inner,
                negated,
            } => {
                self.expr(flow, tables, inner, names, code);
                code.push(Op::IsSet, loc);
                if *negated {
                    code.push(Op::Not, loc);
                }
            }
            ExprKind::Sent(m) => {
                let id = self.message(flow, tables, Some(&m.node));
                code.push(Op::Sent(id), loc);
            }
            ExprKind::Opened(m) => {
                let id = self.message(flow, tables, Some(&m.node));
                code.push(Op::Opened(id), loc);
            }
            ExprKind::Clicked { message, link } => {
                let id = self.message(flow, tables, Some(&message.node));
                let link = link.as_ref().map(|l| self.string(&l.node));
                code.push(Op::Clicked(id, link), loc);
            }
            ExprKind::Used(offer) => {
                let id = self.message(flow, tables, offer.as_ref().map(|o| o.node.as_str()));
                code.push(Op::Used(id), loc);
            }
            ExprKind::Unused(offer) => {
                let id = self.message(flow, tables, offer.as_ref().map(|o| o.node.as_str()));
                code.push(Op::Unused(id), loc);
            }
            ExprKind::Consent(c) => {
                let c = Channel::from_name(&c.node).unwrap_or(Channel::Email);
                code.push(Op::Consent(c), loc);
            }
            ExprKind::Tagged(tag) => {
                let id = self.string(&tag.node);
                code.push(Op::Tagged(id), loc);
            }
            ExprKind::Happened {
                event,
                filter,
                point,
            } => {
                let filter = filter.as_ref().map(|f| {
                    let names = Names {
                        filter_event: Some(&event.node),
                        ..names
                    };
                    let filter_code = self.code(flow, tables, f, names);
                    tables.filters.push(filter_code);
                    (tables.filters.len() - 1) as u16
                });
                let event = self.string(&event.node);
                let op = match point {
                    Point::Since(m) => Op::HappenedSince {
                        event,
                        filter,
                        message: self.message(flow, tables, Some(&m.node)),
                    },
                    Point::Within(d) => Op::HappenedWithin {
                        event,
                        filter,
                        within: offset_of(d.node),
                    },
                };
                code.push(op, loc);
            }
        }
    }

    /// A name: the anniversary number, an attribute of the filtered event,
    /// `event.x`, or a contact field (the checker's order of resolution).
    fn path(&mut self, path: &[ast::Ident], names: Names) -> Op {
        let first = path.first().map_or("", |p| p.node.as_str());
        if path.len() == 2 && first == "event" {
            return Op::EventAttribute(self.string(&path[1].node));
        }
        if names.binding == Some(first) {
            return Op::Anniversary;
        }
        if let Some(event) = names.filter_event {
            let is_attribute = self
                .project
                .schema
                .events
                .get(event)
                .is_some_and(|e| e.attributes.contains_key(first));
            if is_attribute {
                return Op::FilteredAttribute(self.string(first));
            }
        }
        Op::Field(self.string(first))
    }

    fn policy(&mut self, policy: &program::Policy) -> PolicyCode {
        PolicyCode {
            caps: policy
                .caps
                .iter()
                .map(|cap| CapCode {
                    count: cap.count,
                    channel: cap.channel,
                    tasks: cap.tasks,
                    window: match cap.window {
                        program::CapWindow::LocalDay => CapPeriod::LocalDay,
                        program::CapWindow::Rolling(d) => CapPeriod::Rolling(offset_of(d)),
                    },
                })
                .collect(),
            priority: policy.priority.iter().map(|p| self.string(p)).collect(),
            quiet_hours: policy.quiet_hours.map(|q| (minutes(q.from), minutes(q.to))),
        }
    }
}

fn minutes(time: TimeOfDay) -> u16 {
    u16::from(time.hour) * 60 + u16::from(time.minute)
}

/// A duration as a forward offset.
fn offset_of(d: Duration) -> Offset {
    d.to_offset(Direction::After)
}

#[cfg(test)]
mod tests {
    use flowc_core::bytecode::{self, Op, TriggerCode};

    use crate::project::Project;
    use crate::source::Sources;
    use crate::ZoneDb;

    fn build(text: &str) -> bytecode::Program {
        let mut sources = Sources::new();
        let id = sources.add("t.flow", text);
        let (program, diagnostics) =
            crate::build_flows(&sources, &[id], &Project::default(), &ZoneDb::bundled());
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        program.expect("a program")
    }

    #[test]
    fn and_or_short_circuit_to_the_end_of_their_right_side() {
        let program = build("on birthday if country == \"FR\" and (language == \"fr\" or language == \"br\") send a");
        let code = program.flows[0].rules[0]
            .condition
            .clone()
            .expect("a condition");
        let ops = &code.ops;
        // country == "FR" ; jump_if_false_else_pop END ; language == "fr" ;
        // jump_if_true_else_pop END ; language == "br" ; END
        assert_eq!(ops.len(), 11, "{ops:?}");
        assert_eq!(ops[3], Op::JumpIfFalseElsePop(11));
        assert_eq!(ops[7], Op::JumpIfTrueElsePop(11));
        assert_eq!(code.locs.len(), ops.len());
        assert_eq!((code.locs[0].line, code.locs[0].column), (1, 16));
    }

    #[test]
    fn names_resolve_as_the_checker_resolved_them() {
        let program = build(
            "on purchase where amount > 10 if event.product == \"x\" send a\non anniversary of joined as n if n == 1 send b",
        );
        let rules = &program.flows[0].rules;
        let TriggerCode::Event {
            filter: Some(filter),
            offset,
            ..
        } = &rules[0].trigger
        else {
            panic!("an event trigger with a filter: {:?}", rules[0].trigger);
        };
        assert_eq!(offset.amount, 0);
        let amount = program
            .strings
            .iter()
            .position(|s| s == "amount")
            .expect("interned") as u32;
        assert_eq!(filter.ops[0], Op::FilteredAttribute(amount));
        let product = program
            .strings
            .iter()
            .position(|s| s == "product")
            .expect("interned") as u32;
        assert_eq!(
            rules[0].condition.as_ref().expect("condition").ops[0],
            Op::EventAttribute(product)
        );
        assert_eq!(
            rules[1].condition.as_ref().expect("condition").ops[0],
            Op::Anniversary
        );
    }

    #[test]
    fn offsets_keep_their_sign_and_unused_is_its_own_test() {
        let program = build("when birthday - 15d send offer; on birthday if unused send reminder");
        let rules = &program.flows[0].rules;
        let TriggerCode::Date { offset, yearly, .. } = rules[0].trigger else {
            panic!()
        };
        assert_eq!((offset.amount, yearly), (-15, true));
        let ops = &rules[1].condition.as_ref().expect("condition").ops;
        assert_eq!(ops[..], [Op::Unused(0)]);
        assert_eq!(program.flows[0].messages[0].rules, [0, 1]);
    }
}
