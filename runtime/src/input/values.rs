//! Text from a contacts or events file → a typed value, per the schema the
//! program carries. A value that does not fit its field is an error with a
//! plain reason; an empty cell is an absent value.

use jiff::civil::Date;
use jiff::Timestamp;

use crate::bytecode::FieldKind;
use crate::vm::Value;

/// Parses one cell. `Ok(None)` for an empty cell.
pub fn parse_cell(kind: FieldKind, raw: &str) -> Result<Option<Value>, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let value = match kind {
        FieldKind::Text | FieldKind::TimeZone => Value::Text(text.to_string()),
        FieldKind::Phone => {
            let ok = text
                .chars()
                .all(|c| c.is_ascii_digit() || " +-.()".contains(c));
            if !ok {
                return Err(format!("`{text}` is not a phone number"));
            }
            Value::Text(text.to_string())
        }
        FieldKind::Email => {
            let valid = text.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty() && domain.contains('.') && !text.contains(char::is_whitespace)
            });
            if !valid {
                return Err(format!("`{text}` is not an e-mail address"));
            }
            Value::Text(text.to_string())
        }
        FieldKind::Number => text
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Value::Number)
            .ok_or_else(|| format!("`{text}` is not a number"))?,
        FieldKind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Value::Bool(true),
            "false" | "no" | "n" | "0" => Value::Bool(false),
            _ => return Err(format!("`{text}` is not true or false")),
        },
        FieldKind::Date => text
            .parse::<Date>()
            .map(Value::Date)
            .map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD)"))?,
        FieldKind::DateTime => text
            .parse::<Timestamp>()
            .map(Value::DateTime)
            .map_err(|_| format!("`{text}` is not a date and time (e.g. 2027-03-01T08:00:00Z)"))?,
        FieldKind::List => Value::List(parse_list(text)?),
    };
    Ok(Some(value))
}

/// `["a", "b"]` (JSON) or `a;b` / `a|b`.
fn parse_list(text: &str) -> Result<Vec<Value>, String> {
    if text.starts_with('[') {
        let items: Vec<serde_json::Value> =
            serde_json::from_str(text).map_err(|e| format!("`{text}` is not a list: {e}"))?;
        return Ok(items
            .into_iter()
            .map(|item| match item {
                serde_json::Value::String(s) => Value::Text(s),
                other => Value::Text(other.to_string()),
            })
            .collect());
    }
    Ok(text
        .split([';', '|'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Value::Text(s.to_string()))
        .collect())
}

/// A JSON value from an events file → a typed value.
pub fn from_json(kind: FieldKind, value: &serde_json::Value) -> Result<Option<Value>, String> {
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) => parse_cell(kind, s),
        serde_json::Value::Bool(b) => match kind {
            FieldKind::Bool => Ok(Some(Value::Bool(*b))),
            _ => Err(format!("`{b}` is not {}", kind_name(kind))),
        },
        serde_json::Value::Number(n) => match kind {
            FieldKind::Number => Ok(n.as_f64().map(Value::Number)),
            FieldKind::Text => Ok(Some(Value::Text(n.to_string()))),
            _ => Err(format!("`{n}` is not {}", kind_name(kind))),
        },
        serde_json::Value::Array(items) => match kind {
            FieldKind::List => Ok(Some(Value::List(
                items
                    .iter()
                    .map(|i| Value::Text(i.as_str().map_or_else(|| i.to_string(), str::to_string)))
                    .collect(),
            ))),
            _ => Err(format!("a list is not {}", kind_name(kind))),
        },
        serde_json::Value::Object(_) => Err(format!("an object is not {}", kind_name(kind))),
    }
}

fn kind_name(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Text => "text",
        FieldKind::Number => "a number",
        FieldKind::Bool => "true or false",
        FieldKind::Date => "a date",
        FieldKind::DateTime => "a date and time",
        FieldKind::TimeZone => "a time zone",
        FieldKind::Email => "an e-mail address",
        FieldKind::Phone => "a phone number",
        FieldKind::List => "a list",
    }
}

/// A JSON value as the VM's, without a schema to type it (attributes that
/// a request adds, such as a redemption's `product`).
pub fn json_value(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n.as_f64().map_or(Value::Null, Value::Number),
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Array(items) => Value::List(items.iter().map(json_value).collect()),
        serde_json::Value::Object(_) => Value::Text(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        assert_eq!(
            parse_cell(FieldKind::Date, " 1988-02-29 "),
            Ok(Some(Value::Date(jiff::civil::date(1988, 2, 29))))
        );
        assert!(parse_cell(FieldKind::Date, "1987-02-29").is_err());
        assert_eq!(
            parse_cell(FieldKind::Bool, "yes"),
            Ok(Some(Value::Bool(true)))
        );
        assert_eq!(parse_cell(FieldKind::Number, ""), Ok(None));
        assert!(parse_cell(FieldKind::Email, "ana.example.com").is_err());
        assert_eq!(
            parse_cell(FieldKind::List, r#"["key account", "vip"]"#),
            Ok(Some(Value::List(vec![
                Value::Text("key account".into()),
                Value::Text("vip".into())
            ])))
        );
        assert_eq!(
            parse_cell(FieldKind::List, "a; b"),
            Ok(Some(Value::List(vec![
                Value::Text("a".into()),
                Value::Text("b".into())
            ])))
        );
    }
}
