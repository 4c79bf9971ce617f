//! Klaviyo's `filter` expressions, written exactly as the official connector writes them, as
//! request templates over the slice's window and partition.
//!
//! Operators and quoting differ per endpoint: profiles and templates use `greater-than` with no
//! upper bound; campaigns and flows use inclusive bounds inside `and(...)` with channel values in
//! single quotes and `archived` unquoted. The events filter is not a plain template (its upper
//! bound depends on the sync's "now"): see [`crate::quirks::events`].

use connector_runtime::prelude::*;

/// How dates are written in filters, report bodies and state: `2024-05-31T00:00:00+0000`.
pub const DATE_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%z";

/// The window's start in [`DATE_FORMAT`], as a template placeholder.
pub const WINDOW_START: &str = "{window.start:%Y-%m-%dT%H:%M:%S%z}";

/// The window's end in [`DATE_FORMAT`], as a template placeholder.
pub const WINDOW_END: &str = "{window.end:%Y-%m-%dT%H:%M:%S%z}";

pub fn date(dt: DateTime<Utc>) -> String {
    dt.format(DATE_FORMAT).to_string()
}

/// `greater-than(<field>,<window start>)` (profiles, email_templates).
pub fn greater_than(field: &str) -> String {
    format!("greater-than({field},{WINDOW_START})")
}

/// `and(greater-or-equal(f,<start>),less-or-equal(f,<end>),<extra>...)` (campaigns, flows);
/// `extra` are templates too (`equals(archived,{partition.archived})`).
pub fn within_window(field: &str, extra: &[&str]) -> String {
    let mut parts = vec![
        format!("greater-or-equal({field},{WINDOW_START})"),
        format!("less-or-equal({field},{WINDOW_END})"),
    ];
    parts.extend(extra.iter().map(|e| e.to_string()));
    format!("and({})", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DatetimeFormat::Rfc3339.parse_str(s).expect("an instant")
    }

    fn render(filter: &str, partition: Value) -> String {
        let slice = Slice {
            partition: canonical(partition.as_object().expect("an object")),
            window: Some(Window {
                start: t("2024-01-01T00:00:00Z"),
                end: t("2024-03-01T23:59:59Z"),
            }),
        };
        let request = RequestTemplate::get("x")
            .query("filter", filter)
            .checked()
            .and_then(|r| r.render(&slice))
            .expect("a request");
        request.query[0].1.clone()
    }

    #[test]
    fn placeholders_use_the_date_format() {
        assert_eq!(WINDOW_START, format!("{{window.start:{DATE_FORMAT}}}"));
        assert_eq!(WINDOW_END, format!("{{window.end:{DATE_FORMAT}}}"));
    }

    #[test]
    fn filters_match_the_official_text() {
        assert_eq!(
            render(&greater_than("updated"), json!({})),
            "greater-than(updated,2024-01-01T00:00:00+0000)"
        );
        assert_eq!(
            render(
                &within_window(
                    "updated_at",
                    &[
                        "equals(messages.channel,'{partition.campaign_type}')",
                        "equals(archived,{partition.archived})"
                    ]
                ),
                json!({"campaign_type": "email", "archived": "true"})
            ),
            "and(greater-or-equal(updated_at,2024-01-01T00:00:00+0000),less-or-equal(updated_at,2024-03-01T23:59:59+0000),equals(messages.channel,'email'),equals(archived,true))"
        );
    }
}
