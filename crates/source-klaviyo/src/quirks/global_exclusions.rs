//! `global_exclusions`: the profiles whose email marketing is suppressed, with the
//! `suppression` key renamed `suppressions` as the official stream writes it.
//!
//! Klaviyo has no endpoint for exclusions: the stream reads every profile (no date filter) and
//! keeps those whose `suppression` is set. The official connector tests the value as a Python
//! condition, so "set" means truthy (a non-empty list or object, a non-zero number, ...).

use connector_runtime::prelude::*;

const MARKETING: [&str; 4] = ["attributes", "subscriptions", "email", "marketing"];

/// The record filter: keeps suppressed profiles.
pub fn suppressed(r: &Value, _s: &Slice) -> bool {
    let [a, b, c, d] = MARKETING;
    get_path(r, &[a, b, c, d, "suppression"]).is_some_and(truthy)
}

/// The transformation: `…marketing.suppression` becomes `…marketing.suppressions`.
pub fn rename_suppression(r: &mut Value, _s: &Slice) {
    let [a, b, c, d] = MARKETING;
    if let Some(v) = remove_path(r, &[a, b, c, d, "suppression"]) {
        set_path(r, &[a, b, c, d, "suppressions"], v);
    }
}

/// Python truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(suppression: Value) -> Value {
        json!({"id": "p", "attributes": {"subscriptions": {"email": {"marketing": {
            "suppression": suppression}}}}})
    }

    #[test]
    fn keeps_truthy_suppressions_and_renames_the_key() {
        let s = Slice {
            partition: Default::default(),
            window: None,
        };
        for falsy in [
            json!(null),
            json!([]),
            json!({}),
            json!(""),
            json!(0),
            json!(false),
        ] {
            assert!(!suppressed(&profile(falsy.clone()), &s), "{falsy}");
        }
        assert!(!suppressed(&json!({"id": "p"}), &s));
        let mut r = profile(json!([{"reason": "USER_SUPPRESSED"}]));
        assert!(suppressed(&r, &s));
        rename_suppression(&mut r, &s);
        assert_eq!(
            r["attributes"]["subscriptions"]["email"]["marketing"],
            json!({"suppressions": [{"reason": "USER_SUPPRESSED"}]})
        );
    }
}
