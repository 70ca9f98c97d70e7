//! Turns pest pairs into the spanned AST in one pass. Literal problems
//! (25:00, 30 February, a bad escape) become diagnostics here and the node
//! gets a harmless placeholder, so that checking can go on.

use std::sync::LazyLock;

use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::ast::*;
use super::grammar::Rule;
use super::span::{Span, Spanned};
use crate::diagnostics::{Code, Diagnostic};
use crate::source::SourceId;
use flowc_core::calendar::days_in_month;

/// The most operators one expression may chain before it is refused
/// (deeper trees would risk the stack of every later pass).
pub const MAX_EXPRESSION_TERMS: usize = 256;

/// The largest number literal: beyond it, f64 no longer counts in units.
const MAX_NUMBER: f64 = 1e15;

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::prefix(Rule::op_not))
        .op(Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_ne, Assoc::Left)
            | Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left)
            | Op::infix(Rule::op_in, Assoc::Left)
            | Op::infix(Rule::op_not_in, Assoc::Left))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left)
            | Op::infix(Rule::op_div, Assoc::Left)
            | Op::infix(Rule::op_rem, Assoc::Left))
        .op(Op::prefix(Rule::op_neg))
        .op(Op::postfix(Rule::is_set) | Op::postfix(Rule::is_not_set))
});

pub struct Builder<'d> {
    pub source: SourceId,
    pub diagnostics: &'d mut Vec<Diagnostic>,
}

fn span(pair: &Pair<Rule>) -> Span {
    pair.as_span().into()
}

fn ident(pair: Pair<Rule>) -> Ident {
    Spanned::new(pair.as_str().to_string(), span(&pair))
}

impl Builder<'_> {
    fn error(&mut self, code: Code, span: Span, label: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics
            .push(Diagnostic::new(code, self.source, span, label));
        self.diagnostics.last_mut().expect("just pushed")
    }

    pub fn file(&mut self, pair: Pair<Rule>) -> File {
        let mut items = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::flow_block => items.push(Item::Flow(self.flow(p))),
                Rule::policy_block => items.push(Item::Policy(self.policy(p))),
                Rule::rule_decl => items.push(Item::Rule(self.rule(p))),
                Rule::setting => items.push(Item::Setting(self.setting(p))),
                _ => {}
            }
        }
        File { items }
    }

    fn flow(&mut self, pair: Pair<Rule>) -> FlowDecl {
        let whole = span(&pair);
        let mut name = None;
        let mut title = None;
        let mut settings = Vec::new();
        let mut rules = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(ident(p)),
                Rule::string => title = Some(self.string(p)),
                Rule::setting => settings.push(self.setting(p)),
                Rule::rule_decl => rules.push(self.rule(p)),
                _ => {}
            }
        }
        FlowDecl {
            name: name.unwrap_or_else(|| Spanned::new(String::new(), whole)),
            title,
            settings,
            rules,
            span: whole,
        }
    }

    fn setting(&mut self, pair: Pair<Rule>) -> Setting {
        let whole = span(&pair);
        let mut inner = pair.into_inner();
        let key = ident(inner.next().expect("grammar: setting key"));
        let value_pair = inner
            .next()
            .and_then(|v| v.into_inner().next())
            .expect("grammar: setting value");
        let value = match value_pair.as_rule() {
            Rule::word => SettingValue::Word(ident(value_pair)),
            _ => SettingValue::Expr(self.expr(value_pair)),
        };
        Setting {
            key,
            value,
            span: whole,
        }
    }

    fn rule(&mut self, pair: Pair<Rule>) -> Rule_ {
        let whole = span(&pair);
        let mut label = None;
        let mut trigger = None;
        let mut send_time = None;
        let mut condition = None;
        let mut actions = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::rule_label => label = p.into_inner().next().map(ident),
                Rule::trigger => trigger = Some(self.trigger(p)),
                Rule::send_time => {
                    let t = p.into_inner().nth(1).expect("grammar: time after at");
                    send_time = Some(self.time(t));
                }
                Rule::condition => {
                    let e = p.into_inner().nth(1).expect("grammar: expr after if");
                    condition = Some(self.expr(e));
                }
                Rule::actions => {
                    for a in p.into_inner() {
                        if a.as_rule() != Rule::kw_then {
                            actions.push(self.action(a));
                        }
                    }
                }
                _ => {}
            }
        }
        Rule_ {
            label,
            trigger: trigger.expect("grammar: rule has a trigger"),
            send_time,
            condition,
            actions,
            span: whole,
        }
    }

    fn trigger(&mut self, pair: Pair<Rule>) -> Trigger {
        let whole = span(&pair);
        let mut kind = None;
        let mut offset = None;
        let mut filter = None;
        for p in pair.into_inner() {
            let p_span = span(&p);
            match p.as_rule() {
                Rule::offset_before => {
                    let mut inner = p.into_inner();
                    let amount = self.duration(inner.next().expect("grammar: duration"));
                    let word = inner.next().expect("grammar: before/after");
                    let direction = if word.as_rule() == Rule::kw_before {
                        Direction::Before
                    } else {
                        Direction::After
                    };
                    offset = Some(Offset {
                        direction,
                        amount,
                        span: p_span,
                    });
                }
                Rule::offset_after => {
                    let mut inner = p.into_inner();
                    let sign = inner.next().expect("grammar: sign");
                    let amount = self.duration(inner.next().expect("grammar: duration"));
                    let direction = if sign.as_str() == "-" {
                        Direction::Before
                    } else {
                        Direction::After
                    };
                    offset = Some(Offset {
                        direction,
                        amount,
                        span: p_span,
                    });
                }
                Rule::event_filter => {
                    let e = p.into_inner().nth(1).expect("grammar: filter expr");
                    filter = Some(self.expr(e));
                }
                _ => kind = Some(self.trigger_kind(p)),
            }
        }
        Trigger {
            kind: kind.expect("grammar: trigger has a base"),
            offset,
            filter,
            span: whole,
        }
    }

    fn trigger_kind(&mut self, pair: Pair<Rule>) -> TriggerKind {
        let kind_rule = pair.as_rule();
        let mut inner = pair.into_inner();
        match kind_rule {
            Rule::anniversary => {
                let mut idents = inner.filter(|p| p.as_rule() == Rule::ident).map(ident);
                let field = idents.next().expect("grammar: anniversary field");
                TriggerKind::Anniversary {
                    field,
                    binding: idents.next(),
                }
            }
            Rule::inactivity => {
                let event = ident(inner.nth(1).expect("grammar: event"));
                let period = self.duration(inner.nth(1).expect("grammar: period"));
                TriggerKind::Inactivity { event, period }
            }
            Rule::becomes => {
                let field = ident(inner.next().expect("grammar: field"));
                let value = self.expr(inner.nth(1).expect("grammar: value"));
                TriggerKind::Becomes { field, value }
            }
            Rule::changes => TriggerKind::Changes {
                field: ident(inner.next().expect("grammar: field")),
            },
            Rule::fixed_date => {
                TriggerKind::FixedDate(self.date(inner.next().expect("grammar: date")))
            }
            _ => {
                let mut recurrence = None;
                let mut name = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::recurrence => {
                            let r = if p.as_str() == "yearly" {
                                Recurrence::Yearly
                            } else {
                                Recurrence::Once
                            };
                            recurrence = Some(Spanned::new(r, span(&p)));
                        }
                        _ => name = Some(ident(p)),
                    }
                }
                TriggerKind::Named {
                    recurrence,
                    name: name.expect("grammar: trigger name"),
                }
            }
        }
    }

    fn action(&mut self, pair: Pair<Rule>) -> Action {
        let whole = span(&pair);
        let kind_rule = pair.as_rule();
        let mut inner = pair.into_inner();
        inner.next(); // the keyword
        match kind_rule {
            Rule::send => self.send(inner, whole),
            Rule::task => {
                let kind = ident(inner.next().expect("grammar: task kind"));
                let (mut assignee, mut note, mut due) = (None, None, None);
                for clause in inner {
                    let kind_rule = clause.as_rule();
                    let value = clause.into_inner().nth(1).expect("grammar: clause value");
                    match kind_rule {
                        Rule::task_assignee => assignee = Some(self.expr(value)),
                        Rule::task_note => note = Some(self.expr(value)),
                        _ => due = Some(self.duration(value)),
                    }
                }
                Action::Task {
                    kind,
                    assignee,
                    note,
                    due,
                    span: whole,
                }
            }
            Rule::webhook => {
                let name = ident(inner.next().expect("grammar: webhook name"));
                let mut vars = Vec::new();
                if let Some(with) = inner.next() {
                    self.with_clause(with, &mut None, &mut vars);
                }
                Action::Webhook {
                    name,
                    vars,
                    span: whole,
                }
            }
            Rule::set_field => {
                let field = ident(inner.next().expect("grammar: field"));
                let value = self.expr(inner.next().expect("grammar: value"));
                Action::SetField {
                    field,
                    value,
                    span: whole,
                }
            }
            Rule::tag => Action::Tag {
                value: self.expr(inner.next().expect("grammar: tag")),
                span: whole,
            },
            Rule::untag => Action::Untag {
                value: self.expr(inner.next().expect("grammar: tag")),
                span: whole,
            },
            _ => Action::Exit { span: whole },
        }
    }

    fn send(&mut self, inner: Pairs<Rule>, whole: Span) -> Action {
        let mut channel = None;
        let mut template = None;
        let mut sender = None;
        let mut coupon = None;
        let mut vars = Vec::new();
        for p in inner {
            match p.as_rule() {
                Rule::channel => {
                    let c = Channel::from_name(p.as_str()).expect("grammar: channel names");
                    channel = Some(Spanned::new(c, span(&p)));
                }
                Rule::ident => template = Some(ident(p)),
                Rule::sender => {
                    sender = Some(self.expr(p.into_inner().nth(1).expect("grammar: sender")))
                }
                Rule::with_clause => self.with_clause(p, &mut coupon, &mut vars),
                _ => {}
            }
        }
        Action::Send(Send {
            channel,
            template: template.expect("grammar: template"),
            sender,
            coupon,
            vars,
            span: whole,
        })
    }

    fn with_clause(
        &mut self,
        pair: Pair<Rule>,
        coupon: &mut Option<Coupon>,
        vars: &mut Vec<Assignment>,
    ) {
        for item in pair.into_inner() {
            match item.as_rule() {
                Rule::coupon => {
                    let item_span = span(&item);
                    let validity = item
                        .into_inner()
                        .find(|p| p.as_rule() == Rule::duration)
                        .map(|d| self.duration(d));
                    *coupon = Some(Coupon {
                        validity,
                        span: item_span,
                    });
                }
                Rule::assignment => {
                    let mut inner = item.into_inner();
                    let name = ident(inner.next().expect("grammar: name"));
                    let value = self.expr(inner.next().expect("grammar: value"));
                    vars.push(Assignment { name, value });
                }
                _ => {}
            }
        }
    }

    fn policy(&mut self, pair: Pair<Rule>) -> PolicyDecl {
        let whole = span(&pair);
        let mut name = None;
        let mut items = Vec::new();
        for p in pair.into_inner() {
            let p_span = span(&p);
            match p.as_rule() {
                Rule::ident => name = Some(ident(p)),
                Rule::cap => {
                    let mut inner = p.into_inner().skip(2);
                    let count_pair = inner.next().expect("grammar: count");
                    let count = self.integer(count_pair);
                    let scope_pair = inner.next().expect("grammar: scope");
                    let scope = match scope_pair.as_str() {
                        "messages" | "message" => CapScope::Messages,
                        "tasks" | "task" => CapScope::Tasks,
                        "emails" | "email" => CapScope::Channel(Channel::Email),
                        "sms" => CapScope::Channel(Channel::Sms),
                        _ => CapScope::Channel(Channel::Push),
                    };
                    let window_pair = inner.nth(1).expect("grammar: window");
                    let window = match window_pair.as_rule() {
                        Rule::cap_day => Spanned::new(CapWindow::LocalDay, span(&window_pair)),
                        _ => {
                            let d = self.duration(window_pair);
                            Spanned::new(CapWindow::Rolling(d.node), d.span)
                        }
                    };
                    items.push(PolicyItem::Cap {
                        count,
                        scope: Spanned::new(scope, span(&scope_pair)),
                        window,
                        span: p_span,
                    });
                }
                Rule::priority => {
                    let mut flows = Vec::new();
                    for name in p.into_inner() {
                        match name.as_rule() {
                            Rule::ident => flows.push(ident(name)),
                            Rule::string => flows.push(self.string(name)),
                            _ => {}
                        }
                    }
                    items.push(PolicyItem::Priority {
                        flows,
                        span: p_span,
                    });
                }
                Rule::quiet_hours => {
                    let mut times = p.into_inner().filter(|p| p.as_rule() == Rule::time);
                    let from = self.time(times.next().expect("grammar: from"));
                    let to = self.time(times.next().expect("grammar: to"));
                    items.push(PolicyItem::QuietHours {
                        from,
                        to,
                        span: p_span,
                    });
                }
                _ => {}
            }
        }
        PolicyDecl {
            name,
            items,
            span: whole,
        }
    }

    // ------------------------------------------------------------ expressions

    pub fn expr(&mut self, pair: Pair<Rule>) -> Expr {
        let whole = span(&pair);
        let terms = pair.clone().into_inner().count();
        if terms > 2 * MAX_EXPRESSION_TERMS {
            self.error(Code::TooDeep, whole, "this expression is too long")
                .help = Some(format!(
                "split it: at most {MAX_EXPRESSION_TERMS} operators in one expression"
            ));
            return Expr {
                kind: ExprKind::Invalid,
                span: whole,
            };
        }
        PRATT
            .map_primary(|p| self.primary(p))
            .map_prefix(|op, rhs| {
                let s = span(&op).to(rhs.span);
                let op = if op.as_rule() == Rule::op_not {
                    UnaryOp::Not
                } else {
                    UnaryOp::Neg
                };
                Expr {
                    kind: ExprKind::Unary(op, Box::new(rhs)),
                    span: s,
                }
            })
            .map_postfix(|lhs, op| Expr {
                span: lhs.span.to(span(&op)),
                kind: ExprKind::IsSet {
                    negated: op.as_rule() == Rule::is_not_set,
                    expr: Box::new(lhs),
                },
            })
            .map_infix(|lhs, op, rhs| {
                let op = match op.as_rule() {
                    Rule::op_or => BinaryOp::Or,
                    Rule::op_and => BinaryOp::And,
                    Rule::op_eq => BinaryOp::Eq,
                    Rule::op_ne => BinaryOp::Ne,
                    Rule::op_lt => BinaryOp::Lt,
                    Rule::op_le => BinaryOp::Le,
                    Rule::op_gt => BinaryOp::Gt,
                    Rule::op_ge => BinaryOp::Ge,
                    Rule::op_in => BinaryOp::In,
                    Rule::op_not_in => BinaryOp::NotIn,
                    Rule::op_add => BinaryOp::Add,
                    Rule::op_sub => BinaryOp::Sub,
                    Rule::op_mul => BinaryOp::Mul,
                    Rule::op_div => BinaryOp::Div,
                    _ => BinaryOp::Rem,
                };
                Expr {
                    span: lhs.span.to(rhs.span),
                    kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                }
            })
            .parse(pair.into_inner())
    }

    fn primary(&mut self, pair: Pair<Rule>) -> Expr {
        let whole = span(&pair);
        let kind_rule = pair.as_rule();
        let kind = match kind_rule {
            Rule::expr => return self.expr(pair),
            Rule::path => ExprKind::Path(pair.into_inner().map(ident).collect()),
            Rule::name_or_test => self.name_or_test(pair),
            Rule::list => ExprKind::List(pair.into_inner().map(|e| self.expr(e)).collect()),
            Rule::boolean => ExprKind::Literal(Literal::Bool(pair.as_str() == "true")),
            Rule::number => {
                let value = pair.as_str().parse::<f64>().unwrap_or(f64::INFINITY);
                if !value.is_finite() || value > MAX_NUMBER {
                    self.error(Code::NumberOutOfRange, whole, "this number is too large")
                        .help = Some(format!("numbers go up to {MAX_NUMBER:e}"));
                    ExprKind::Invalid
                } else {
                    ExprKind::Literal(Literal::Number(value))
                }
            }
            Rule::string => ExprKind::Literal(Literal::String(self.string(pair).node)),
            Rule::duration => ExprKind::Literal(Literal::Duration(self.duration(pair).node)),
            Rule::date => ExprKind::Literal(Literal::Date(self.date(pair).node)),
            Rule::time => ExprKind::Literal(Literal::Time(self.time(pair).node)),
            _ => self.predicate(pair),
        };
        Expr { kind, span: whole }
    }

    /// `a`, `event.x`, or `purchase [where ...] since m`.
    fn name_or_test(&mut self, pair: Pair<Rule>) -> ExprKind {
        let mut names = Vec::new();
        let mut filter = None;
        let mut point = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => names.push(ident(p)),
                Rule::simple_filter => filter = Some(Box::new(self.simple_filter(p))),
                Rule::since => {
                    point = Some(Point::Since(ident(
                        p.into_inner().nth(1).expect("grammar: since name"),
                    )))
                }
                Rule::within => {
                    let d = p.into_inner().nth(1).expect("grammar: within duration");
                    point = Some(Point::Within(self.duration(d)));
                }
                _ => {}
            }
        }
        match point {
            Some(point) => ExprKind::Happened {
                event: names.swap_remove(0),
                filter,
                point,
            },
            None => ExprKind::Path(names),
        }
    }

    fn predicate(&mut self, pair: Pair<Rule>) -> ExprKind {
        let kind_rule = pair.as_rule();
        let mut inner = pair.into_inner();
        inner.next(); // the keyword
        let arg = inner.next();
        match kind_rule {
            Rule::sent => ExprKind::Sent(ident(arg.expect("grammar: name"))),
            Rule::opened => ExprKind::Opened(ident(arg.expect("grammar: name"))),
            Rule::clicked => {
                let message = ident(arg.expect("grammar: name"));
                let link = inner.nth(1).map(|s| self.string(s));
                ExprKind::Clicked { message, link }
            }
            Rule::used => ExprKind::Used(arg.map(ident)),
            Rule::unused => ExprKind::Unused(arg.map(ident)),
            Rule::consent => ExprKind::Consent(ident(arg.expect("grammar: channel"))),
            _ => ExprKind::Tagged(self.string(arg.expect("grammar: tag"))),
        }
    }

    /// `a == 1 and b in ["x"]`: comparisons joined by `and`, left to right.
    fn simple_filter(&mut self, pair: Pair<Rule>) -> Expr {
        let mut result: Option<Expr> = None;
        for test in pair
            .into_inner()
            .filter(|p| p.as_rule() == Rule::simple_test)
        {
            let test_span = span(&test);
            let mut inner = test.into_inner();
            let lhs = self.primary(inner.next().expect("grammar: lhs"));
            let op = match inner.next().expect("grammar: op").as_rule() {
                Rule::op_eq => BinaryOp::Eq,
                Rule::op_ne => BinaryOp::Ne,
                Rule::op_lt => BinaryOp::Lt,
                Rule::op_le => BinaryOp::Le,
                Rule::op_gt => BinaryOp::Gt,
                Rule::op_ge => BinaryOp::Ge,
                Rule::op_in => BinaryOp::In,
                _ => BinaryOp::NotIn,
            };
            let rhs_pair = inner.next().expect("grammar: rhs");
            let rhs = if rhs_pair.as_rule() == Rule::literal_list {
                let list_span = span(&rhs_pair);
                let items = rhs_pair.into_inner().map(|p| self.primary(p)).collect();
                Expr {
                    kind: ExprKind::List(items),
                    span: list_span,
                }
            } else {
                self.primary(rhs_pair)
            };
            let test_expr = Expr {
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                span: test_span,
            };
            result = Some(match result {
                None => test_expr,
                Some(acc) => Expr {
                    span: acc.span.to(test_expr.span),
                    kind: ExprKind::Binary(BinaryOp::And, Box::new(acc), Box::new(test_expr)),
                },
            });
        }
        result.expect("grammar: a filter has a test")
    }

    // ------------------------------------------------------------ literals

    fn integer(&mut self, pair: Pair<Rule>) -> Spanned<u32> {
        let s = span(&pair);
        let value = pair.as_str().parse::<u32>().unwrap_or_else(|_| {
            self.error(Code::NumberOutOfRange, s, "this number is too large");
            0
        });
        Spanned::new(value, s)
    }

    fn duration(&mut self, pair: Pair<Rule>) -> Spanned<Duration> {
        let s = span(&pair);
        let text = pair.as_str();
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        // `15d` or `15 days`: the grammar allows blanks before the unit.
        let unit = match text[digits_end..].trim_start_matches([' ', '\t']) {
            "years" | "year" | "y" => Unit::Years,
            "months" | "month" | "mo" => Unit::Months,
            "weeks" | "week" | "w" => Unit::Weeks,
            "days" | "day" | "d" => Unit::Days,
            "hours" | "hour" | "h" => Unit::Hours,
            "minutes" | "minute" | "min" => Unit::Minutes,
            other => unreachable!("grammar: `{other}` is not a unit"),
        };
        let amount = text[..digits_end].parse::<u32>().unwrap_or_else(|_| {
            self.error(Code::NumberOutOfRange, s, "this duration is too long");
            0
        });
        Spanned::new(Duration { amount, unit }, s)
    }

    fn time(&mut self, pair: Pair<Rule>) -> Spanned<TimeOfDay> {
        let s = span(&pair);
        let (h, m) = pair
            .as_str()
            .split_once(':')
            .expect("grammar: time has ':'");
        let hour = h.parse::<u8>().unwrap_or(99);
        let minute = m.parse::<u8>().unwrap_or(99);
        if hour > 23 || minute > 59 {
            let problem = if hour > 23 {
                format!("there is no hour {hour} in a day")
            } else {
                format!("there is no minute {minute} in an hour")
            };
            self.error(Code::InvalidTime, s, problem).help = Some(
                "times of day go from 00:00 to 23:59; for midnight at the end of a day write 00:00"
                    .to_string(),
            );
            return Spanned::new(TimeOfDay { hour: 0, minute: 0 }, s);
        }
        Spanned::new(TimeOfDay { hour, minute }, s)
    }

    fn date(&mut self, pair: Pair<Rule>) -> Spanned<Date> {
        let s = span(&pair);
        let mut parts = pair
            .as_str()
            .splitn(3, '-')
            .map(|p| p.parse::<i64>().unwrap_or(0));
        let (y, m, d) = (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        );
        // The grammar gives 4 digits of year and 2 of month and day.
        let month_days = days_in_month(y as i16, m as i8).map(i64::from);
        let valid =
            (1900..=9999).contains(&y) && month_days.is_some_and(|days| (1..=days).contains(&d));
        if !valid {
            let label = match month_days {
                None => format!("there is no month {m}"),
                Some(_) if !(1900..=9999).contains(&y) => {
                    format!("the year {y} is out of range (1900 to 9999)")
                }
                Some(days) => format!("{} {y} has {days} days", MONTH_NAMES[(m - 1) as usize]),
            };
            self.error(Code::InvalidDate, s, label).help =
                Some("dates are written YYYY-MM-DD, e.g. 2027-03-01".to_string());
            return Spanned::new(
                Date {
                    year: 2000,
                    month: 1,
                    day: 1,
                },
                s,
            );
        }
        Spanned::new(
            Date {
                year: y as i16,
                month: m as u8,
                day: d as u8,
            },
            s,
        )
    }

    fn string(&mut self, pair: Pair<Rule>) -> Spanned<String> {
        let s = span(&pair);
        let inner = pair.into_inner().next().expect("grammar: string_inner");
        let raw = inner.as_str();
        let base = inner.as_span().start();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some((_, e)) = chars.next() else { break };
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'u' => match unicode_escape(&raw[i + 2..]) {
                    Some((ch, len)) => {
                        out.push(ch);
                        for _ in 0..len {
                            chars.next();
                        }
                    }
                    None => {
                        let end = raw[i..].find('}').map(|j| i + j + 1).unwrap_or(i + 2);
                        self.error(
                            Code::InvalidEscape,
                            Span::new(base + i, base + end),
                            "not a valid unicode escape",
                        )
                        .help = Some("write a code point in hex, e.g. \\u{e9} for é".into());
                    }
                },
                other => {
                    let end = i + 1 + other.len_utf8();
                    self.error(
                        Code::InvalidEscape,
                        Span::new(base + i, base + end),
                        format!("`\\{other}` is not an escape"),
                    )
                    .help = Some(
                        "the escapes are \\n \\t \\r \\\" \\\\ and \\u{...}; write \\\\ for a backslash"
                            .into(),
                    );
                }
            }
        }
        Spanned::new(out, s)
    }
}

/// `{hex}` after `\u`: the char and how many chars of `rest` it used.
fn unicode_escape(rest: &str) -> Option<(char, usize)> {
    let body = rest.strip_prefix('{')?;
    let close = body.find('}')?;
    let hex = &body[..close];
    // Hex digits only: `from_str_radix` would also take a leading `+`.
    if hex.is_empty() || hex.len() > 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let ch = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
    Some((ch, close + 2))
}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The AST rule type, renamed here so it does not clash with pest's `Rule`.
type Rule_ = super::ast::Rule;
