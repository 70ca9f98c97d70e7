//! A readable listing of a program, with the source position of every
//! instruction. Also the format of the compiler's golden tests.

use std::fmt::Write;

use super::format::FORMAT_VERSION;
use super::op::Op;
use super::program::{
    ActionCode, CapPeriod, Code, FlowCode, Lateness, Loc, Program, Reentry, RuleCode, TriggerCode,
};
use crate::calendar::{LeapDayRule, Offset};

/// The listing of `program`.
pub fn disassemble(program: &Program) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "; flowc program, format {FORMAT_VERSION}, sources hash {:016x}",
        program.source_hash
    );
    for (i, source) in program.sources.iter().enumerate() {
        let _ = writeln!(out, "; source {i}: {source}");
    }
    for (channel, field) in &program.consent_fields {
        let _ = writeln!(
            out,
            "; consent {}: field {}",
            channel.name(),
            program.string(*field)
        );
    }
    for webhook in &program.webhooks {
        let env = |name: &Option<String>, default: &str| match name {
            Some(name) => format!("${name}"),
            None => default.to_string(),
        };
        let _ = writeln!(
            out,
            "; webhook {}: url {}, secret {}",
            program.string(webhook.name),
            env(&webhook.url_env, "none (outbox file)"),
            env(&webhook.secret_env, "$FLOWC_WEBHOOK_SECRET"),
        );
    }
    for (name, words) in &program.kinds {
        let _ = writeln!(
            out,
            "; kind {}: {:?}",
            program.string(*name),
            program.string(*words)
        );
    }
    if let Some(a) = &program.attribution {
        let amount = a
            .amount
            .map(|m| format!(", amount {}", program.string(m)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "; attribution: {}{amount}, within {}s of a message",
            program.string(a.event),
            a.window
        );
    }
    let d = Disassembler { program, out };
    d.finish()
}

struct Disassembler<'p> {
    program: &'p Program,
    out: String,
}

impl Disassembler<'_> {
    fn finish(mut self) -> String {
        for flow in &self.program.flows {
            self.flow(flow);
        }
        self.policy();
        self.out
    }

    fn s(&self, id: u32) -> &str {
        self.program.string(id)
    }

    fn line(&mut self, indent: usize, text: &str, loc: Option<Loc>) {
        let mut line = format!("{:indent$}{text}", "", indent = indent * 2);
        if let Some(loc) = loc {
            let width = 44usize.saturating_sub(line.chars().count()).max(1);
            let _ = write!(line, "{:width$}; {}", "", self.position(loc));
        }
        self.out.push_str(line.trim_end());
        self.out.push('\n');
    }

    fn position(&self, loc: Loc) -> String {
        let path = self
            .program
            .sources
            .get(loc.source as usize)
            .map_or("?", String::as_str);
        let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
        format!("{file}:{}:{}", loc.line, loc.column)
    }

    fn flow(&mut self, flow: &FlowCode) {
        let title = flow
            .title
            .map(|t| format!(" {:?}", self.s(t)))
            .unwrap_or_default();
        self.out.push('\n');
        self.line(
            0,
            &format!("flow {}{title}", self.s(flow.name)),
            Some(flow.loc),
        );
        let zone = match flow.zone_field {
            Some(field) => format!(
                "field {}, else {:?}",
                self.s(field),
                self.s(flow.default_zone)
            ),
            None => format!("{:?}", self.s(flow.default_zone)),
        };
        self.line(1, &format!("zone      {zone}"), None);
        self.line(1, &format!("send_at   {}", time(flow.send_at)), None);
        let lateness = match flow.lateness {
            Lateness::SameDay => "same day".to_string(),
            Lateness::Within(o) => format!("within {}", offset(o)),
        };
        self.line(1, &format!("lateness  {lateness}"), None);
        // Marketing without a declared kind, the default, is not shown.
        let kind = match (flow.transactional, flow.kind) {
            (true, _) => Some("transactional"),
            (false, Some(kind)) => Some(self.s(kind)),
            (false, None) => None,
        };
        if let Some(kind) = kind {
            self.line(1, &format!("kind      {kind}"), None);
        }
        let reentry = match flow.reentry {
            Reentry::Once => "once per occurrence".to_string(),
            Reentry::After(o) => format!("after {}", offset(o)),
            Reentry::Never => "never".to_string(),
        };
        self.line(1, &format!("reentry   {reentry}"), None);
        let leap = match flow.leap_day {
            LeapDayRule::Feb28 => "feb28",
            LeapDayRule::Mar1 => "mar1",
        };
        self.line(1, &format!("leap_day  {leap}"), None);
        if let Some(audience) = &flow.audience {
            self.line(1, "audience", None);
            self.code(2, audience);
        }
        for (i, message) in flow.messages.iter().enumerate() {
            let name = match self.s(message.name) {
                "" => "(any offer)".to_string(),
                n => n.to_string(),
            };
            let rules: Vec<String> = message.rules.iter().map(u16::to_string).collect();
            self.line(
                1,
                &format!("message m{i} {name} = rules [{}]", rules.join(", ")),
                None,
            );
        }
        for (i, filter) in flow.filters.iter().enumerate() {
            self.line(1, &format!("filter f{i}"), None);
            self.code(2, filter);
        }
        for (i, rule) in flow.rules.iter().enumerate() {
            self.rule(i, rule);
        }
    }

    fn rule(&mut self, index: usize, rule: &RuleCode) {
        self.line(
            1,
            &format!("rule {index} {}", self.s(rule.name)),
            Some(rule.loc),
        );
        let trigger = match &rule.trigger {
            TriggerCode::Date {
                field,
                yearly,
                offset: o,
            } => format!(
                "date {} {}{}",
                self.s(*field),
                if *yearly { "yearly" } else { "once" },
                signed(*o)
            ),
            TriggerCode::Anniversary { field, offset: o } => {
                format!("anniversary of {}{}", self.s(*field), signed(*o))
            }
            TriggerCode::Event {
                event, offset: o, ..
            } => format!("event {}{}", self.s(*event), signed(*o)),
            TriggerCode::AfterMessage { rules, offset: o } => {
                let rules: Vec<String> = rules.iter().map(u16::to_string).collect();
                format!("after rules [{}]{}", rules.join(", "), signed(*o))
            }
            TriggerCode::Inactivity { event, period } => {
                format!("no {} for {}", self.s(*event), offset(*period))
            }
            TriggerCode::Becomes {
                field, offset: o, ..
            } => format!("{} becomes{}", self.s(*field), signed(*o)),
            TriggerCode::Changes { field, offset: o } => {
                format!("{} changes{}", self.s(*field), signed(*o))
            }
            TriggerCode::FixedDate {
                date: (y, m, d),
                offset: o,
            } => {
                format!("date {y:04}-{m:02}-{d:02}{}", signed(*o))
            }
        };
        self.line(2, &format!("trigger   {trigger}"), None);
        match &rule.trigger {
            TriggerCode::Event {
                filter: Some(code), ..
            } => {
                self.line(2, "where", None);
                self.code(3, code);
            }
            TriggerCode::Becomes { value, .. } => {
                self.line(2, "value", None);
                self.code(3, value);
            }
            _ => {}
        }
        if let Some(at) = rule.send_at {
            self.line(2, &format!("send_at   {}", time(at)), None);
        }
        if let Some(condition) = &rule.condition {
            self.line(2, "if", None);
            self.code(3, condition);
        }
        for action in &rule.actions {
            self.action(action);
        }
    }

    fn action(&mut self, action: &ActionCode) {
        match action {
            ActionCode::Send {
                loc,
                channel,
                template,
                sender,
                coupon,
                vars,
            } => {
                let coupon = match coupon {
                    None => String::new(),
                    Some(None) => " with coupon".to_string(),
                    Some(Some(v)) => format!(" with coupon valid {}", offset(*v)),
                };
                self.line(
                    2,
                    &format!("send {} {}{coupon}", channel.name(), self.s(*template)),
                    Some(*loc),
                );
                if let Some(sender) = sender {
                    self.line(3, "from", None);
                    self.code(4, sender);
                }
                self.vars(vars);
            }
            ActionCode::Task {
                loc,
                kind,
                assignee,
                note,
                due,
            } => {
                let due = due
                    .map(|d| format!(" due {}", offset(d)))
                    .unwrap_or_default();
                self.line(2, &format!("task {}{due}", self.s(*kind)), Some(*loc));
                if let Some(code) = assignee {
                    self.line(3, "for", None);
                    self.code(4, code);
                }
                if let Some(code) = note {
                    self.line(3, "note", None);
                    self.code(4, code);
                }
            }
            ActionCode::Webhook { loc, name, vars } => {
                self.line(2, &format!("webhook {}", self.s(*name)), Some(*loc));
                self.vars(vars);
            }
            ActionCode::SetField { loc, field, value } => {
                self.line(2, &format!("set {}", self.s(*field)), Some(*loc));
                self.code(3, value);
            }
            ActionCode::Tag { loc, value } => {
                self.line(2, "tag", Some(*loc));
                self.code(3, value);
            }
            ActionCode::Untag { loc, value } => {
                self.line(2, "untag", Some(*loc));
                self.code(3, value);
            }
            ActionCode::Exit { loc } => self.line(2, "exit", Some(*loc)),
        }
    }

    fn vars(&mut self, vars: &[(u32, Code)]) {
        for (name, code) in vars {
            self.line(3, &format!("with {}", self.s(*name)), None);
            self.code(4, code);
        }
    }

    fn code(&mut self, indent: usize, code: &Code) {
        for (i, (op, loc)) in code.ops.iter().zip(&code.locs).enumerate() {
            let text = format!("{i:04}  {}", self.op(op));
            self.line(indent, &text, Some(*loc));
        }
    }

    fn op(&self, op: &Op) -> String {
        match op {
            Op::Bool(b) => format!("bool {b}"),
            Op::Number(n) => format!("number {n}"),
            Op::Text(s) => format!("text {:?}", self.s(*s)),
            Op::Duration(o) => format!("duration {}", offset(*o)),
            Op::Date(y, m, d) => format!("date {y:04}-{m:02}-{d:02}"),
            Op::Time(t) => format!("time {}", time(*t)),
            Op::List(n) => format!("list {n}"),
            Op::Field(s) => format!("field {}", self.s(*s)),
            Op::EventAttribute(s) => format!("event.{}", self.s(*s)),
            Op::FilteredAttribute(s) => format!("filtered.{}", self.s(*s)),
            Op::Anniversary => "anniversary n".to_string(),
            Op::IsSet => "is_set".to_string(),
            Op::Not => "not".to_string(),
            Op::Neg => "neg".to_string(),
            Op::Eq => "eq".to_string(),
            Op::Ne => "ne".to_string(),
            Op::Lt => "lt".to_string(),
            Op::Le => "le".to_string(),
            Op::Gt => "gt".to_string(),
            Op::Ge => "ge".to_string(),
            Op::In => "in".to_string(),
            Op::Add => "add".to_string(),
            Op::Sub => "sub".to_string(),
            Op::Mul => "mul".to_string(),
            Op::Div => "div".to_string(),
            Op::Rem => "rem".to_string(),
            Op::JumpIfFalseElsePop(t) => format!("jump_if_false_else_pop {t:04}"),
            Op::JumpIfTrueElsePop(t) => format!("jump_if_true_else_pop {t:04}"),
            Op::Sent(m) => format!("sent m{m}"),
            Op::Opened(m) => format!("opened m{m}"),
            Op::Clicked(m, link) => match link {
                Some(l) => format!("clicked m{m} link {:?}", self.s(*l)),
                None => format!("clicked m{m}"),
            },
            Op::Used(m) => format!("used m{m}"),
            Op::Unused(m) => format!("unused m{m}"),
            Op::Consent(c) => format!("consent {}", c.name()),
            Op::Tagged(s) => format!("tagged {:?}", self.s(*s)),
            Op::HappenedSince {
                event,
                filter,
                message,
            } => format!(
                "happened {}{} since m{message}",
                self.s(*event),
                filter.map(|f| format!(" where f{f}")).unwrap_or_default()
            ),
            Op::HappenedWithin {
                event,
                filter,
                within,
            } => format!(
                "happened {}{} within {}",
                self.s(*event),
                filter.map(|f| format!(" where f{f}")).unwrap_or_default(),
                offset(*within)
            ),
        }
    }

    fn policy(&mut self) {
        let policy = &self.program.policy;
        if policy.caps.is_empty() && policy.priority.is_empty() && policy.quiet_hours.is_none() {
            return;
        }
        self.out.push_str("\npolicy\n");
        for cap in &policy.caps {
            let what = match (cap.tasks, cap.channel) {
                (true, _) => "tasks".to_string(),
                (false, Some(c)) => c.name().to_string(),
                (false, None) => "messages".to_string(),
            };
            let per = match cap.window {
                CapPeriod::LocalDay => "day (local)".to_string(),
                CapPeriod::Rolling(o) => offset(o),
            };
            let text = format!("cap {} {what} per {per}", cap.count);
            self.line(1, &text, None);
        }
        if !policy.priority.is_empty() {
            let names: Vec<&str> = policy.priority.iter().map(|&p| self.s(p)).collect();
            let text = format!("priority {}", names.join(" > "));
            self.line(1, &text, None);
        }
        if let Some((from, to)) = policy.quiet_hours {
            let text = format!("quiet hours {} to {}", time(from), time(to));
            self.line(1, &text, None);
        }
    }
}

fn time(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn offset(o: Offset) -> String {
    o.to_string()
}

/// ` +3d`, ` -15d`, or nothing for a zero offset.
fn signed(o: Offset) -> String {
    if o.amount == 0 {
        String::new()
    } else if o.amount > 0 {
        format!(" +{}", offset(o))
    } else {
        format!(" {}", offset(o))
    }
}
