//! Types of expressions: names resolve to fields, event attributes or the
//! anniversary number, and operators get operands they can work with.

use super::scope::Scope;
use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::project::schema::FieldType;
use crate::syntax::ast::{BinaryOp, Channel, Expr, ExprKind, Ident, Literal, Point, UnaryOp};

/// The type of a value in a flow expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    Bool,
    Number,
    Text,
    Date,
    DateTime,
    Time,
    Duration,
    List(Box<Ty>),
    /// Already reported: accept anything so that one mistake gives one error.
    Error,
}

impl Ty {
    pub fn of_field(ty: FieldType) -> Ty {
        match ty {
            FieldType::Text | FieldType::TimeZone | FieldType::Email | FieldType::Phone => Ty::Text,
            FieldType::Number => Ty::Number,
            FieldType::Bool => Ty::Bool,
            FieldType::Date => Ty::Date,
            FieldType::DateTime => Ty::DateTime,
            FieldType::List => Ty::List(Box::new(Ty::Text)),
        }
    }

    /// How to name the type to a person: "a date", "a number".
    pub fn describe(&self) -> String {
        match self {
            Ty::Bool => "true or false".into(),
            Ty::Number => "a number".into(),
            Ty::Text => "text".into(),
            Ty::Date => "a date".into(),
            Ty::DateTime => "a date and time".into(),
            Ty::Time => "a time of day".into(),
            Ty::Duration => "a duration".into(),
            Ty::List(inner) => match **inner {
                Ty::Error => "a list".into(),
                ref t => format!("a list of {}", t.describe_plural()),
            },
            Ty::Error => "unknown".into(),
        }
    }

    fn describe_plural(&self) -> &'static str {
        match self {
            Ty::Bool => "booleans",
            Ty::Number => "numbers",
            Ty::Text => "texts",
            Ty::Date | Ty::DateTime => "dates",
            Ty::Time => "times",
            Ty::Duration => "durations",
            Ty::List(_) => "lists",
            Ty::Error => "values",
        }
    }

    fn is_dateish(&self) -> bool {
        matches!(self, Ty::Date | Ty::DateTime)
    }

    /// Whether values of the two types can be compared with `==`.
    pub fn comparable(&self, other: &Ty) -> bool {
        match (self, other) {
            (Ty::Error, _) | (_, Ty::Error) => true,
            (a, b) if a.is_dateish() && b.is_dateish() => true,
            (Ty::List(a), Ty::List(b)) => a.comparable(b),
            (a, b) => a == b,
        }
    }

    /// Whether `<`, `>` ... apply.
    fn ordered(&self) -> bool {
        matches!(
            self,
            Ty::Number | Ty::Text | Ty::Date | Ty::DateTime | Ty::Time | Ty::Duration | Ty::Error
        )
    }
}

impl<'a> Scope<'a> {
    /// Infers the type of `expr`, reporting every problem in it.
    pub fn type_of(&mut self, expr: &Expr) -> Ty {
        match &expr.kind {
            ExprKind::Invalid => Ty::Error,
            ExprKind::Literal(literal) => match literal {
                Literal::Bool(_) => Ty::Bool,
                Literal::Number(_) => Ty::Number,
                Literal::String(_) => Ty::Text,
                Literal::Duration(_) => Ty::Duration,
                Literal::Date(_) => Ty::Date,
                Literal::Time(_) => Ty::Time,
            },
            ExprKind::List(items) => {
                let mut element = None;
                for item in items {
                    let ty = self.type_of(item);
                    match &element {
                        None => element = Some(ty),
                        Some(first) if !first.comparable(&ty) => {
                            self.report(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    self.source,
                                    item.span,
                                    format!("this is {}", ty.describe()),
                                )
                                .with_message("a list holds values of one type")
                                .with_context(
                                    self.source,
                                    items[0].span,
                                    format!("the list starts with {}", first.describe()),
                                ),
                            );
                        }
                        Some(_) => {}
                    }
                }
                Ty::List(Box::new(element.unwrap_or(Ty::Error)))
            }
            ExprKind::Path(path) => self.resolve_path(path),
            ExprKind::Unary(op, operand) => {
                let ty = self.type_of(operand);
                let (wanted, result) = match op {
                    UnaryOp::Not => (Ty::Bool, Ty::Bool),
                    UnaryOp::Neg => (Ty::Number, Ty::Number),
                };
                if !wanted.comparable(&ty) {
                    let word = if *op == UnaryOp::Not { "`not`" } else { "`-`" };
                    self.mismatch(
                        operand,
                        &ty,
                        format!("{word} needs {}", wanted.describe()),
                        None,
                    );
                }
                result
            }
            ExprKind::Binary(op, lhs, rhs) => self.binary(*op, lhs, rhs, expr),
            ExprKind::IsSet { expr: inner, .. } => {
                if !matches!(inner.kind, ExprKind::Path(_)) {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            self.source,
                            inner.span,
                            "this is not a field",
                        )
                        .with_message("`is set` applies to a field"),
                    );
                } else {
                    self.type_of(inner);
                }
                Ty::Bool
            }
            ExprKind::Sent(message) | ExprKind::Opened(message) => {
                self.message_ref(message, expr.span);
                Ty::Bool
            }
            ExprKind::Clicked { message, link } => {
                self.message_ref(message, expr.span);
                if let Some(link) = link {
                    self.link_ref(message, link);
                }
                Ty::Bool
            }
            ExprKind::Used(offer) | ExprKind::Unused(offer) => {
                self.offer_ref(offer.as_ref(), expr.span);
                Ty::Bool
            }
            ExprKind::Consent(channel) => {
                if Channel::from_name(&channel.node).is_none() {
                    let suggestion = suggest::closest(&channel.node, ["email", "sms", "push"]);
                    self.report(
                        Diagnostic::new(
                            Code::UnknownChannel,
                            self.source,
                            channel.span,
                            "not a channel",
                        )
                        .with_message(format!("unknown channel `{}`", channel.node))
                        .with_help(match suggestion {
                            Some(s) => {
                                format!("did you mean `{s}`? the channels are email, sms and push")
                            }
                            None => "the channels are email, sms and push".to_string(),
                        }),
                    );
                }
                Ty::Bool
            }
            ExprKind::Tagged(_) => Ty::Bool,
            ExprKind::Happened {
                event,
                filter,
                point,
            } => {
                if self.event_ref(event) {
                    if let Some(filter) = filter {
                        let outer = self.filter_event.replace(event.node.clone());
                        let reported = self.diagnostics.len();
                        self.condition(filter, "an event filter");
                        self.filter_event = outer;
                        if self.diagnostics.len() == reported {
                            self.filter_ignores_its_event(event, filter);
                        }
                    }
                }
                match point {
                    Point::Since(message) => self.message_ref(message, expr.span),
                    Point::Within(_) => {}
                }
                Ty::Bool
            }
        }
    }

    /// W0009: a history filter that reads only the trigger (`event.x`) and
    /// never the event it tests, like `product_viewed where event.sku ==
    /// "a"` — true for every viewed product or for none. `event` always
    /// names the trigger; the tested event's attributes are written bare.
    fn filter_ignores_its_event(&mut self, event: &Ident, filter: &Expr) {
        let attributes = &self.project.schema.events[&event.node].attributes;
        let mut trigger_read = None;
        let mut tested_read = false;
        walk_names(filter, &mut |path| match path {
            [first, attribute] if first.node == "event" => {
                trigger_read.get_or_insert((first.span.to(attribute.span), attribute.node.clone()));
            }
            [name] if attributes.contains_key(&name.node) => tested_read = true,
            _ => {}
        });
        let (Some((span, attribute)), false) = (trigger_read, tested_read) else {
            return;
        };
        let trigger = self.trigger_event.clone().unwrap_or_default();
        let bare_help = if attributes.contains_key(&attribute) {
            format!(
                "to test the `{}` event's own `{attribute}`, write `{attribute}`; to compare \
                 it with the trigger's, `{attribute} == event.{attribute}`",
                event.node
            )
        } else {
            format!("name an attribute of `{}` bare to test it", event.node)
        };
        self.report(
            Diagnostic::new(
                Code::FilterIgnoresItsEvent,
                self.source,
                span,
                format!("this is the triggering `{trigger}`'s `{attribute}`"),
            )
            .with_message(format!(
                "this filter never looks at the `{}` event it tests",
                event.node
            ))
            .with_help(bare_help),
        );
    }

    /// Checks that `expr` is a condition (true or false).
    pub fn condition(&mut self, expr: &Expr, what: &str) {
        let ty = self.type_of(expr);
        if !Ty::Bool.comparable(&ty) {
            self.report(
                Diagnostic::new(
                    Code::NotBoolean,
                    self.source,
                    expr.span,
                    format!("this is {}", ty.describe()),
                )
                .with_message(format!("{what} must be true or false"))
                .with_help(match ty {
                    Ty::Number => "compare it, e.g. `n == 1` or `amount > 100`",
                    Ty::Text => "compare it, e.g. `country == \"FR\"`, or test `field is set`",
                    Ty::Date | Ty::DateTime => "compare it, e.g. `birthday < 2000-01-01`",
                    _ => "write a comparison or a test such as `opened offer`",
                }),
            );
        }
    }

    fn binary(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr, whole: &Expr) -> Ty {
        let left = self.type_of(lhs);
        let right = self.type_of(rhs);
        if left == Ty::Error || right == Ty::Error {
            return match op {
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                    Ty::Error
                }
                _ => Ty::Bool,
            };
        }
        let symbol = op.symbol();
        match op {
            // `sales_rep or "team@example.com"`: the first text not blank.
            BinaryOp::Or if left == Ty::Text && right == Ty::Text => Ty::Text,
            BinaryOp::And | BinaryOp::Or => {
                let texts = op == BinaryOp::Or && (left == Ty::Text || right == Ty::Text);
                for (side, ty) in [(lhs, &left), (rhs, &right)] {
                    if *ty != Ty::Bool {
                        let help = texts.then_some(
                            "`or` joins two conditions, or two texts as a fallback \
                             (`sales_rep or \"team@example.com\"`)",
                        );
                        self.mismatch(side, ty, format!("`{symbol}` joins conditions"), help);
                    }
                }
                Ty::Bool
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                if !left.comparable(&right) {
                    self.pair_mismatch(whole, lhs, &left, rhs, &right, symbol);
                }
                Ty::Bool
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                if !left.comparable(&right) || !left.ordered() || !right.ordered() {
                    self.pair_mismatch(whole, lhs, &left, rhs, &right, symbol);
                }
                Ty::Bool
            }
            BinaryOp::In | BinaryOp::NotIn => {
                let ok = match &right {
                    Ty::List(element) => element.comparable(&left),
                    Ty::Text => left == Ty::Text,
                    _ => false,
                };
                if !ok {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            self.source,
                            rhs.span,
                            format!("this is {}", right.describe()),
                        )
                        .with_message(format!(
                            "`{symbol}` needs a list of {} on its right",
                            match left {
                                Ty::List(_) => "lists".to_string(),
                                ref t => t.describe(),
                            }
                        ))
                        .with_context(
                            self.source,
                            lhs.span,
                            format!("this is {}", left.describe()),
                        )
                        .with_help("write e.g. `country in [\"FR\", \"BE\"]` or `\"vip\" in tags`"),
                    );
                }
                Ty::Bool
            }
            BinaryOp::Add | BinaryOp::Sub => match (&left, &right) {
                (Ty::Number, Ty::Number) => Ty::Number,
                (Ty::Text, Ty::Text) if op == BinaryOp::Add => Ty::Text,
                // `"orders: " + event.count`: a number joins text as written
                // in templates (`3`, `2.5`).
                (Ty::Text, Ty::Number) | (Ty::Number, Ty::Text) if op == BinaryOp::Add => Ty::Text,
                (d, Ty::Duration) if d.is_dateish() => left.clone(),
                (Ty::Duration, d) if d.is_dateish() && op == BinaryOp::Add => right.clone(),
                (Ty::Duration, Ty::Duration) => Ty::Duration,
                (a, b) if a.is_dateish() && b.is_dateish() && op == BinaryOp::Sub => Ty::Duration,
                _ => {
                    let help = if left.is_dateish() && right == Ty::Number {
                        Some("add a duration to a date, e.g. `birthday + 15d`".to_string())
                    } else {
                        None
                    };
                    self.pair_mismatch_help(whole, lhs, &left, rhs, &right, symbol, help);
                    Ty::Error
                }
            },
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                if left != Ty::Number || right != Ty::Number {
                    self.pair_mismatch(whole, lhs, &left, rhs, &right, symbol);
                    return Ty::Error;
                }
                Ty::Number
            }
        }
    }

    fn pair_mismatch(
        &mut self,
        whole: &Expr,
        lhs: &Expr,
        left: &Ty,
        rhs: &Expr,
        right: &Ty,
        symbol: &str,
    ) {
        let help = match (left, right) {
            (a, Ty::Number) | (Ty::Number, a) if a.is_dateish() => {
                Some("compare a date with a date (`birthday < 2000-01-01`) or add a duration (`birthday + 15d`)".to_string())
            }
            (Ty::Number, Ty::Text) | (Ty::Text, Ty::Number) => {
                Some("write numbers without quotes, and text between quotes".to_string())
            }
            _ => None,
        };
        self.pair_mismatch_help(whole, lhs, left, rhs, right, symbol, help);
    }

    #[allow(clippy::too_many_arguments)]
    fn pair_mismatch_help(
        &mut self,
        whole: &Expr,
        lhs: &Expr,
        left: &Ty,
        rhs: &Expr,
        right: &Ty,
        symbol: &str,
        help: Option<String>,
    ) {
        let mut d = Diagnostic::new(
            Code::TypeMismatch,
            self.source,
            whole.span,
            format!(
                "`{symbol}` cannot combine {} and {}",
                left.describe(),
                right.describe()
            ),
        )
        .with_context(
            self.source,
            lhs.span,
            format!("this is {}", left.describe()),
        )
        .with_context(
            self.source,
            rhs.span,
            format!("this is {}", right.describe()),
        );
        if let Some(help) = help {
            d = d.with_help(help);
        }
        self.report(d);
    }

    fn mismatch(&mut self, expr: &Expr, found: &Ty, why: String, help: Option<&str>) {
        let mut d = Diagnostic::new(
            Code::TypeMismatch,
            self.source,
            expr.span,
            format!("this is {}", found.describe()),
        )
        .with_message(why);
        if let Some(help) = help {
            d = d.with_help(help);
        }
        self.report(d);
    }

    /// Checks that `expr` has a type assignable to a field of type `ty`.
    pub fn expect_type(&mut self, expr: &Expr, wanted: &Ty, what: &str) {
        let found = self.type_of(expr);
        if !wanted.comparable(&found) {
            self.mismatch(
                expr,
                &found,
                format!("{what} must be {}", wanted.describe()),
                None,
            );
        }
    }
}

/// Calls `f` on every name of `expr`, outside nested event filters (whose
/// bare names are another event's).
fn walk_names(expr: &Expr, f: &mut impl FnMut(&[Ident])) {
    match &expr.kind {
        ExprKind::Path(path) => f(path),
        ExprKind::Unary(_, inner) => walk_names(inner, f),
        ExprKind::Binary(_, a, b) => {
            walk_names(a, f);
            walk_names(b, f);
        }
        ExprKind::IsSet { expr, .. } => walk_names(expr, f),
        ExprKind::List(items) => items.iter().for_each(|item| walk_names(item, f)),
        _ => {}
    }
}
