//! Conditions that can never hold (a rule that never fires) or always hold.
//!
//! Two analyses, both sound for what they report: evaluation with
//! three-valued logic (unknown fields stay unknown), tried for every
//! anniversary number 1..=MAX_ANNIVERSARY; and contradictions among the
//! comparisons of one `and` chain (`tier == "gold" and tier == "silver"`,
//! `age > 30 and age < 20`, `x and not x`).

use std::collections::BTreeMap;

use crate::diagnostics::{Code, Diagnostic};
use crate::program::Trigger;
use crate::source::SourceId;
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, Literal, UnaryOp};

/// Anniversaries tried when looking for a number that satisfies a condition.
const MAX_ANNIVERSARY: u32 = 150;

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Bool(bool),
    Number(f64),
    Text(String),
}

pub fn check_satisfiable(
    source: SourceId,
    condition: &Expr,
    trigger: &Trigger,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let binding = match trigger {
        Trigger::Anniversary { binding, .. } => binding.as_deref(),
        _ => None,
    };
    // Stops at the first anniversary that does not rule the condition out.
    let outcome = |n: Option<u32>| {
        as_bool(eval(
            condition,
            binding.zip(n).map(|(name, n)| (name, f64::from(n))),
        ))
    };
    let never_true = match binding {
        Some(_) => (1..=MAX_ANNIVERSARY).all(|n| outcome(Some(n)) == Some(false)),
        None => outcome(None) == Some(false),
    };
    if never_true {
        let mut d = never(source, condition);
        if binding.is_some() {
            d = d.with_note(format!("anniversaries count from 1 (the first year); none from 1 to {MAX_ANNIVERSARY} matches"));
        }
        diagnostics.push(d);
        return;
    }
    if let Some(reason) = contradiction(condition) {
        diagnostics.push(never(source, condition).with_note(reason));
        return;
    }
    if binding.is_none() && outcome(None) == Some(true) {
        diagnostics.push(
            Diagnostic::new(
                Code::AlwaysTrue,
                source,
                condition.span,
                "this is always true",
            )
            .with_help("drop the `if`, or fix the condition"),
        );
    }
}

fn never(source: SourceId, condition: &Expr) -> Diagnostic {
    Diagnostic::new(
        Code::NeverTrue,
        source,
        condition.span,
        "this is never true",
    )
    .with_message("condition can never be true: this rule never fires")
    .with_help("check the values and operators; `and` needs both sides, `or` either")
}

fn as_bool(value: Option<Value>) -> Option<bool> {
    match value {
        Some(Value::Bool(b)) => Some(b),
        _ => None,
    }
}

/// Evaluates what can be known without a contact; `None` is unknown.
fn eval(expr: &Expr, binding: Option<(&str, f64)>) -> Option<Value> {
    match &expr.kind {
        ExprKind::Literal(Literal::Bool(b)) => Some(Value::Bool(*b)),
        ExprKind::Literal(Literal::Number(n)) => Some(Value::Number(*n)),
        ExprKind::Literal(Literal::String(s)) => Some(Value::Text(s.clone())),
        ExprKind::Path(path) if path.len() == 1 => match binding {
            Some((name, n)) if path[0].node == name => Some(Value::Number(n)),
            _ => None,
        },
        ExprKind::Unary(UnaryOp::Not, inner) => match eval(inner, binding)? {
            Value::Bool(b) => Some(Value::Bool(!b)),
            _ => None,
        },
        ExprKind::Unary(UnaryOp::Neg, inner) => match eval(inner, binding)? {
            Value::Number(n) => Some(Value::Number(-n)),
            _ => None,
        },
        ExprKind::Binary(op, lhs, rhs) => {
            let left = eval(lhs, binding);
            let right = eval(rhs, binding);
            match op {
                BinaryOp::And => match (as_bool(left), as_bool(right)) {
                    (Some(false), _) | (_, Some(false)) => Some(Value::Bool(false)),
                    (Some(true), Some(true)) => Some(Value::Bool(true)),
                    _ => None,
                },
                BinaryOp::Or => match (as_bool(left), as_bool(right)) {
                    (Some(true), _) | (_, Some(true)) => Some(Value::Bool(true)),
                    (Some(false), Some(false)) => Some(Value::Bool(false)),
                    _ => None,
                },
                _ => binary(*op, left?, right?),
            }
        }
        _ => None,
    }
}

fn binary(op: BinaryOp, left: Value, right: Value) -> Option<Value> {
    use Value::*;
    Some(match (op, left, right) {
        (BinaryOp::Eq, a, b) => Bool(a == b),
        (BinaryOp::Ne, a, b) => Bool(a != b),
        (BinaryOp::Lt, Number(a), Number(b)) => Bool(a < b),
        (BinaryOp::Le, Number(a), Number(b)) => Bool(a <= b),
        (BinaryOp::Gt, Number(a), Number(b)) => Bool(a > b),
        (BinaryOp::Ge, Number(a), Number(b)) => Bool(a >= b),
        (BinaryOp::Add, Number(a), Number(b)) => Number(a + b),
        (BinaryOp::Sub, Number(a), Number(b)) => Number(a - b),
        (BinaryOp::Mul, Number(a), Number(b)) => Number(a * b),
        (BinaryOp::Div, Number(a), Number(b)) if b != 0.0 => Number(a / b),
        (BinaryOp::Rem, Number(a), Number(b)) if b != 0.0 => Number(a % b),
        _ => return None,
    })
}

/// Constraints on one field from the comparisons of an `and` chain.
#[derive(Default)]
struct Constraints {
    equal: Option<Value>,
    not_equal: Vec<Value>,
    /// (bound, inclusive)
    lower: Option<(f64, bool)>,
    upper: Option<(f64, bool)>,
}

fn conjuncts<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    match &expr.kind {
        ExprKind::Binary(BinaryOp::And, lhs, rhs) => {
            conjuncts(lhs, out);
            conjuncts(rhs, out);
        }
        _ => out.push(expr),
    }
}

/// Why the `and` chain of `expr` cannot hold, if it cannot.
fn contradiction(expr: &Expr) -> Option<String> {
    if let ExprKind::Binary(BinaryOp::Or, lhs, rhs) = &expr.kind {
        let left = contradiction(lhs)?;
        contradiction(rhs)?;
        return Some(left);
    }
    let mut atoms = Vec::new();
    conjuncts(expr, &mut atoms);
    for (i, atom) in atoms.iter().enumerate() {
        if let ExprKind::Unary(UnaryOp::Not, inner) = &atom.kind {
            if atoms
                .iter()
                .enumerate()
                .any(|(j, other)| i != j && *other == &**inner)
            {
                return Some("it requires something and its opposite".to_string());
            }
        }
    }
    let mut fields: BTreeMap<String, Constraints> = BTreeMap::new();
    for atom in atoms {
        let ExprKind::Binary(op, lhs, rhs) = &atom.kind else {
            continue;
        };
        let (name, value, op) = match (&lhs.kind, &rhs.kind) {
            (ExprKind::Path(p), _) if p.len() == 1 => match eval(rhs, None) {
                Some(v) => (p[0].node.clone(), v, *op),
                None => continue,
            },
            (_, ExprKind::Path(p)) if p.len() == 1 => match eval(lhs, None) {
                Some(v) => (p[0].node.clone(), v, flip(*op)),
                None => continue,
            },
            _ => continue,
        };
        let c = fields.entry(name.clone()).or_default();
        match (op, &value) {
            (BinaryOp::Eq, _) => {
                if let Some(existing) = &c.equal {
                    if *existing != value {
                        return Some(format!(
                            "`{name}` cannot be {} and {} at once",
                            show(existing),
                            show(&value)
                        ));
                    }
                }
                c.equal = Some(value.clone());
            }
            (BinaryOp::Ne, _) => c.not_equal.push(value.clone()),
            (BinaryOp::Gt | BinaryOp::Ge, Value::Number(n)) => {
                let bound = (*n, op == BinaryOp::Ge);
                c.lower = Some(match c.lower {
                    Some(old) if old.0 > bound.0 || (old.0 == bound.0 && !old.1) => old,
                    _ => bound,
                });
            }
            (BinaryOp::Lt | BinaryOp::Le, Value::Number(n)) => {
                let bound = (*n, op == BinaryOp::Le);
                c.upper = Some(match c.upper {
                    Some(old) if old.0 < bound.0 || (old.0 == bound.0 && !old.1) => old,
                    _ => bound,
                });
            }
            _ => {}
        }
    }
    for (name, c) in &fields {
        if let Some(eq) = &c.equal {
            if c.not_equal.contains(eq) {
                return Some(format!("`{name}` must be {} and must not be", show(eq)));
            }
            if let Value::Number(n) = eq {
                if !in_range(*n, c.lower, c.upper) {
                    return Some(format!(
                        "`{name}` is {} but the other comparisons exclude it",
                        show(eq)
                    ));
                }
            }
        }
        if let (Some((lo, lo_inc)), Some((hi, hi_inc))) = (c.lower, c.upper) {
            if lo > hi || (lo == hi && !(lo_inc && hi_inc)) {
                return Some(format!(
                    "no value of `{name}` is both above {lo} and below {hi}"
                ));
            }
        }
    }
    None
}

fn in_range(n: f64, lower: Option<(f64, bool)>, upper: Option<(f64, bool)>) -> bool {
    let above = lower.is_none_or(|(lo, inc)| if inc { n >= lo } else { n > lo });
    let below = upper.is_none_or(|(hi, inc)| if inc { n <= hi } else { n < hi });
    above && below
}

fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Le => BinaryOp::Ge,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Ge => BinaryOp::Le,
        other => other,
    }
}

fn show(value: &Value) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Text(s) => format!("{s:?}"),
    }
}
