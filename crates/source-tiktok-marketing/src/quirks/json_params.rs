//! JSON-valued query parameters (`dimensions`, `metrics`, `filtering`, `advertiser_ids`...)
//! written as Python's `json.dumps` writes them, `", "` and `": "` included: the official
//! connector sends them that way, and request-level compatibility is easiest to check byte for
//! byte. The runtime's templates deliberately do not speak this dialect.

use connector_runtime::prelude::*;

/// Writes `v` as Python's `json.dumps` does with default arguments: `", "` between items,
/// `": "` after keys, keys in their given order, non-ASCII escaped as `\uXXXX`.
pub fn py_json(v: &Value) -> String {
    let mut out = String::new();
    write_py(v, &mut out);
    out
}

fn write_py(v: &Value, out: &mut String) {
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_str(k, out);
                out.push_str(": ");
                write_py(item, out);
            }
            out.push('}');
        }
        Value::String(s) => write_py_str(s, out),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Null => out.push_str("null"),
        Value::Number(n) => out.push_str(&n.to_string()),
    }
}

fn write_py_str(s: &str, out: &mut String) {
    // serde_json escapes exactly the characters Python escapes, except non-ASCII.
    let escaped = Value::String(s.to_string()).to_string();
    for c in escaped.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
}

/// A JSON array of strings as query text: `["ad_id", "stat_time_day"]`.
pub fn py_list(items: &[&str]) -> String {
    py_json(&Value::Array(
        items.iter().map(|s| Value::from(*s)).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_params_use_python_separators() {
        assert_eq!(
            py_list(&["ad_id", "stat_time_day"]),
            r#"["ad_id", "stat_time_day"]"#
        );
        let f = json!([{"field_name": "ad_status", "filter_type": "IN", "filter_value": "[\"STATUS_ALL\"]"}]);
        assert_eq!(
            py_json(&f),
            r#"[{"field_name": "ad_status", "filter_type": "IN", "filter_value": "[\"STATUS_ALL\"]"}]"#
        );
        assert_eq!(py_json(&json!({"k": "é"})), r#"{"k": "\u00e9"}"#);
    }
}
