//! Report records as the official connector emits them: each dimension copied to the top
//! level (numbers where the text reads as one, as the official template rendering does), and
//! TikTok's `"-"` for "no value" turned into null.

use connector_runtime::prelude::*;

/// A dimension value as the official template renders it: text that reads as a number
/// becomes one (`"9"` → 9), a missing dimension becomes `""`.
fn template_value(v: Option<&Value>) -> Value {
    match v {
        None => Value::from(""),
        Some(Value::String(s)) => {
            let t = s.trim();
            let numeric = !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
                && t.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit() || c == '-');
            if numeric {
                if let Ok(i) = t.parse::<i64>() {
                    return Value::from(i);
                }
                if let Some(n) = t
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .and_then(serde_json::Number::from_f64)
                {
                    return Value::Number(n);
                }
            }
            Value::String(s.clone())
        }
        Some(other) => other.clone(),
    }
}

/// Copies each dimension to the top level (`country_code` and `platform` as text) and turns
/// `"-"` metrics into null.
pub fn report_record(record: &mut Value, dimensions: &[&str]) {
    let Some(obj) = record.as_object_mut() else {
        return;
    };
    let dims = obj.get("dimensions").cloned().unwrap_or(Value::Null);
    for d in dimensions {
        let raw = dims.get(*d);
        let value = match *d {
            "country_code" | "platform" => Value::String(match raw {
                None => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) => "None".into(),
                Some(other) => other.to_string(),
            }),
            _ => template_value(raw),
        };
        obj.insert((*d).to_string(), value);
    }
    if let Some(Value::Object(metrics)) = obj.get_mut("metrics") {
        for v in metrics.values_mut() {
            if v.as_str() == Some("-") {
                *v = Value::Null;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_records_get_top_level_dimensions_and_null_metrics() {
        let mut r = json!({"dimensions": {"ad_id": "9", "stat_time_day": "2024-01-01 00:00:00", "country_code": "US"},
            "metrics": {"spend": 20, "clicks": "-"}});
        report_record(
            &mut r,
            &["ad_id", "stat_time_day", "country_code", "gender"],
        );
        assert_eq!(r["ad_id"], json!(9));
        assert_eq!(r["stat_time_day"], json!("2024-01-01 00:00:00"));
        assert_eq!(r["country_code"], json!("US"));
        assert_eq!(r["gender"], json!(""));
        assert_eq!(r["metrics"]["clicks"], Value::Null);
        assert_eq!(r["dimensions"]["ad_id"], json!("9"));
    }
}
