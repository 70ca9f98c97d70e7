//! Values flows compute with, and the operators on them. An empty field is
//! `Null`: every comparison with it is false, arithmetic with it is `Null`,
//! and `is set` tells it apart.

use std::cmp::Ordering;

use jiff::civil::Date;
use jiff::Timestamp;

use crate::calendar::{Offset, Unit};

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    Date(Date),
    DateTime(Timestamp),
    /// Minutes after midnight.
    Time(u16),
    Duration(Offset),
    List(Vec<Value>),
}

impl Value {
    pub fn is_set(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Text(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            _ => true,
        }
    }

    /// True only for `Bool(true)`: an empty or non-boolean value is false.
    pub fn truthy(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// What ends an `or`: a true condition, or a text that is not blank
    /// (`from sales_rep or "team@example.com"` takes the rep when there is
    /// one). The checker lets `or` join two conditions or two texts only.
    pub fn settles_or(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Text(t) => !t.trim().is_empty(),
            _ => false,
        }
    }

    /// The text form used for template variables and senders.
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Value::Number(n) => n.to_string(),
            Value::Text(s) => s.clone(),
            Value::Date(d) => d.to_string(),
            Value::DateTime(t) => t.to_string(),
            Value::Time(m) => format!("{:02}:{:02}", m / 60, m % 60),
            Value::Duration(o) => o.to_string(),
            Value::List(items) => items
                .iter()
                .map(Value::to_text)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Equality as flows mean it (a date equals a date-time on that UTC day
    /// is not attempted: different kinds are unequal). `None` with `Null`.
    pub fn equals(&self, other: &Value) -> Option<bool> {
        match (self, other) {
            (Value::Null, _) | (_, Value::Null) => None,
            (Value::Number(a), Value::Number(b)) => Some(a == b),
            (a, b) => Some(a == b),
        }
    }

    /// Ordering of two values of one kind; `None` when they do not compare.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
            (Value::Text(a), Value::Text(b)) => Some(a.cmp(b)),
            (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
            (Value::DateTime(a), Value::DateTime(b)) => Some(a.cmp(b)),
            (Value::Date(a), Value::DateTime(b)) => {
                Some(a.cmp(&b.to_zoned(jiff::tz::TimeZone::UTC).date()))
            }
            (Value::DateTime(a), Value::Date(b)) => {
                Some(a.to_zoned(jiff::tz::TimeZone::UTC).date().cmp(b))
            }
            (Value::Time(a), Value::Time(b)) => Some(a.cmp(b)),
            (Value::Duration(a), Value::Duration(b)) => {
                approx_minutes(*a).partial_cmp(&approx_minutes(*b))
            }
            _ => None,
        }
    }

    /// `needle in haystack`: list membership, or a substring of a text.
    pub fn contained_in(&self, haystack: &Value) -> bool {
        match haystack {
            Value::List(items) => items.iter().any(|i| self.equals(i) == Some(true)),
            Value::Text(h) => matches!(self, Value::Text(n) if h.contains(n.as_str())),
            _ => false,
        }
    }
}

/// A duration's typical length in minutes, to order durations.
fn approx_minutes(o: Offset) -> f64 {
    let per = match o.unit {
        Unit::Minutes => 1.0,
        Unit::Hours => 60.0,
        Unit::Days => 1440.0,
        Unit::Weeks => 10080.0,
        Unit::Months => 43200.0,
        Unit::Years => 525600.0,
    };
    o.amount as f64 * per
}

/// Arithmetic; `Null` when an operand is empty or the kinds do not combine.
pub fn arithmetic(op: Arith, a: Value, b: Value) -> Value {
    use Value::*;
    match (op, a, b) {
        (Arith::Add, Number(x), Number(y)) => Number(x + y),
        (Arith::Sub, Number(x), Number(y)) => Number(x - y),
        (Arith::Mul, Number(x), Number(y)) => Number(x * y),
        (Arith::Div, Number(x), Number(y)) if y != 0.0 => Number(x / y),
        (Arith::Rem, Number(x), Number(y)) if y != 0.0 => Number(x % y),
        (Arith::Add, Text(x), Text(y)) => Text(x + &y),
        (Arith::Add, Text(x), y @ Number(_)) => Text(x + &y.to_text()),
        (Arith::Add, x @ Number(_), Text(y)) => Text(x.to_text() + &y),
        (Arith::Add, Date(d), Duration(o)) | (Arith::Add, Duration(o), Date(d)) => {
            o.apply_to_date(d).map(Date).unwrap_or(Null)
        }
        (Arith::Sub, Date(d), Duration(o)) => Offset::new(-o.amount, o.unit)
            .apply_to_date(d)
            .map(Date)
            .unwrap_or(Null),
        (Arith::Sub, Date(a), Date(b)) => b
            .until(a)
            .map(|span| Duration(Offset::new(i64::from(span.get_days()), Unit::Days)))
            .unwrap_or(Null),
        (Arith::Add, DateTime(t), Duration(o)) => o
            .apply_to_instant(t, &jiff::tz::TimeZone::UTC)
            .map(DateTime)
            .unwrap_or(Null),
        (Arith::Sub, DateTime(t), Duration(o)) => Offset::new(-o.amount, o.unit)
            .apply_to_instant(t, &jiff::tz::TimeZone::UTC)
            .map(DateTime)
            .unwrap_or(Null),
        _ => Null,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}
