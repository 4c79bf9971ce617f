//! Record transformations: add, copy and remove fields, and normalise values to the
//! declared schema (the CDK's `TypeTransformer` with default normalisation).

use std::sync::Arc;

use serde_json::{Map, Number, Value};

use crate::stream::{Slice, Transformation};

/// Reads a value at a path of object keys.
pub fn get_path<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.get(*k))
}

/// Sets a value at a path, creating objects on the way.
pub fn set_path(v: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        *v = value;
        return;
    };
    let mut cur = v;
    for k in parents {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(m) = cur else { return };
        cur = m
            .entry(k.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    if let Value::Object(m) = cur {
        m.insert(last.to_string(), value);
    }
}

/// Removes and returns the value at a path.
pub fn remove_path(v: &mut Value, path: &[&str]) -> Option<Value> {
    let (last, parents) = path.split_last()?;
    let mut cur = v;
    for k in parents {
        cur = cur.get_mut(*k)?;
    }
    cur.as_object_mut()?.remove(*last)
}

/// The CDK's `AddFields` transformation with a value taken from the record itself: sets the
/// field at `to` to a copy of the value at `from` (dotted paths), null when `from` is missing,
/// as the CDK's interpolation of a missing key gives `None`. Sources use it to lift a nested
/// cursor (`attributes.updated`) to the top level, where cursors and primary keys are read.
pub fn add_field(to: &str, from: &str) -> Transformation {
    let to: Vec<String> = to.split('.').map(str::to_string).collect();
    let from: Vec<String> = from.split('.').map(str::to_string).collect();
    Arc::new(move |record: &mut Value, _: &Slice| {
        let from: Vec<&str> = from.iter().map(String::as_str).collect();
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        let value = get_path(record, &from).cloned().unwrap_or(Value::Null);
        set_path(record, &to, value);
    })
}

/// Removes top-level keys whose value is null (the official connectors drop them).
pub fn drop_top_level_nulls(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|_, v| !v.is_null());
    }
}

fn declared_types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn matches_type(v: &Value, t: &str) -> bool {
    match (t, v) {
        ("null", Value::Null) => true,
        ("string", Value::String(_)) => true,
        ("boolean", Value::Bool(_)) => true,
        ("object", Value::Object(_)) => true,
        ("array", Value::Array(_)) => true,
        ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
        _ => false,
    }
}

/// Converts values that do not match their declared type where that is possible, recursing
/// into `properties` and `items`; undeclared fields and impossible conversions are left as
/// they are. The rules are the Python CDK's: `"123"` → 123 and 1.5 → 1 for integers, any
/// numeric → float for numbers, scalars → their text for strings, `"true"` → true.
pub fn normalize(v: &mut Value, schema: &Value) {
    let types = declared_types(schema);
    if !types.is_empty() && !types.iter().any(|t| matches_type(v, t)) {
        if let Some(t) = types.iter().find(|t| **t != "null") {
            if let Some(converted) = convert(v, t) {
                *v = converted;
            }
        }
    }
    // Numbers declared `number` are written as floats, as the official connectors do.
    if types.contains(&"number") && !types.contains(&"integer") {
        if let Value::Number(n) = v {
            if !n.is_f64() {
                if let Some(f) = n.as_f64().and_then(Number::from_f64) {
                    *v = Value::Number(f);
                }
            }
        }
    }
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = schema.get("properties") {
                for (k, sub) in props {
                    if let Some(child) = map.get_mut(k) {
                        normalize(child, sub);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    normalize(item, item_schema);
                }
            }
        }
        _ => {}
    }
}

fn convert(v: &Value, to: &str) -> Option<Value> {
    match (to, v) {
        ("integer", Value::String(s)) => s.trim().parse::<i64>().ok().map(Value::from),
        ("integer", Value::Number(n)) => n.as_f64().map(|f| Value::from(f.trunc() as i64)),
        ("number", Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(Number::from_f64)
            .map(Value::Number),
        ("string", Value::Number(n)) => Some(Value::String(python_number_text(n))),
        ("string", Value::Bool(b)) => Some(Value::String(if *b { "True" } else { "False" }.into())),
        ("string", Value::Object(_) | Value::Array(_)) => Some(Value::String(v.to_string())),
        ("boolean", Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    }
}

/// Numbers as Python's `str()` writes them (`1e-05`, `1.5`, `20`).
fn python_number_text(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f != 0.0 && (f.abs() < 1e-4 || f.abs() >= 1e16) {
        let s = format!("{f:e}");
        // Rust writes 1e-5; Python writes 1e-05.
        if let Some((m, e)) = s.split_once('e') {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ("-", d),
                None => ("+", e),
            };
            return format!("{m}e{sign}{digits:0>2}");
        }
        return s;
    }
    let s = format!("{f}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coerces_like_the_python_type_transformer() {
        let schema = json!({"type": "object", "properties": {
            "id": {"type": ["null", "integer"]},
            "trunc": {"type": "integer"},
            "bad_int": {"type": "integer"},
            "views": {"type": ["null", "number"]},
            "count": {"type": "number"},
            "spend": {"type": ["null", "string"]},
            "tiny": {"type": "string"},
            "flag": {"type": "boolean"},
            "truth": {"type": "string"},
            "nested": {"type": "object", "properties": {"n": {"type": "integer"}}},
            "list": {"type": "array", "items": {"type": "string"}},
            "keep": {"type": ["null", "string"]}
        }});
        let mut v = json!({"id": "123", "trunc": 1.5, "bad_int": "1.0", "views": "5173", "count": 7,
            "spend": 20, "tiny": 1e-05, "flag": "true", "truth": true, "nested": {"n": "4"},
            "list": [1, 2.5], "keep": null, "extra": "x"});
        normalize(&mut v, &schema);
        assert_eq!(
            v,
            json!({"id": 123, "trunc": 1, "bad_int": "1.0", "views": 5173.0, "count": 7.0,
            "spend": "20", "tiny": "1e-05", "flag": true, "truth": "True", "nested": {"n": 4},
            "list": ["1", "2.5"], "keep": null, "extra": "x"})
        );
        assert!(v["count"].as_f64().is_some() && !v["count"].is_i64());
    }

    #[test]
    fn paths_set_get_remove() {
        let mut v = json!({});
        set_path(&mut v, &["a", "b"], json!(1));
        assert_eq!(get_path(&v, &["a", "b"]), Some(&json!(1)));
        assert_eq!(remove_path(&mut v, &["a", "b"]), Some(json!(1)));
        let mut r = json!({"a": null, "b": {"c": null}});
        drop_top_level_nulls(&mut r);
        assert_eq!(r, json!({"b": {"c": null}}));
    }

    #[test]
    fn add_field_copies_a_nested_value_or_null() {
        let slice = Slice {
            partition: Default::default(),
            window: None,
        };
        let lift = add_field("updated", "attributes.updated");
        let mut r = json!({"id": "1", "attributes": {"updated": "2024-01-01T00:00:00+0000"}});
        lift(&mut r, &slice);
        assert_eq!(r["updated"], json!("2024-01-01T00:00:00+0000"));
        assert_eq!(
            r["attributes"]["updated"],
            json!("2024-01-01T00:00:00+0000")
        );
        let mut r = json!({"id": "2", "attributes": {}, "updated": "stale"});
        lift(&mut r, &slice);
        assert_eq!(r["updated"], Value::Null);
        let mut r = json!({"id": "3"});
        add_field("meta.copy", "id")(&mut r, &slice);
        assert_eq!(r, json!({"id": "3", "meta": {"copy": "3"}}));
    }
}
