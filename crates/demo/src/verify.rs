//! Assertions on a connector's protocol output, shared by the demo, its test and the image
//! tests (`demo verify`), so that "it worked" means the same thing everywhere: every line is a
//! JSON Airbyte message, the expected message types are there, every read stream has records,
//! every record matches its stream's discovered JSON schema, every incremental stream ends
//! with a STATE, and nothing reported an error.

use std::collections::HashMap;

use serde_json::Value;

/// Parses protocol output: one JSON Airbyte message per line, each valid against the protocol
/// schema (as the in-process test harness checks every line).
pub fn parse_lines(raw: &str) -> Result<Vec<Value>, String> {
    raw.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value =
                serde_json::from_str(line).map_err(|e| format!("not a JSON line ({e}): {line}"))?;
            if !v["type"].is_string() {
                return Err(format!("not an Airbyte message (no type): {line}"));
            }
            let errors = airbyte_protocol::validation::message_errors(&v)?;
            if errors.is_empty() {
                Ok(v)
            } else {
                Err(format!(
                    "invalid Airbyte message ({}): {line}",
                    errors.join("; ")
                ))
            }
        })
        .collect()
}

fn of_type<'a>(messages: &'a [Value], t: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    messages.iter().filter(move |m| m["type"] == t)
}

/// The catalog of a `discover` run.
pub fn catalog(messages: &[Value]) -> Option<Value> {
    of_type(messages, "CATALOG")
        .next()
        .map(|m| m["catalog"].clone())
}

/// RECORD count per stream.
pub fn record_counts(messages: &[Value]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in of_type(messages, "RECORD") {
        let name = m["record"]["stream"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        *counts.entry(name).or_insert(0) += 1;
    }
    counts
}

/// A stream's JSON schema as a validator: draft-07 as Airbyte writes them, keywords it does
/// not know (`airbyte_type`, …) ignored, and formats (`date-time`, …) not asserted, since
/// Airbyte reads them as hints, not as constraints.
fn record_validator(schema: &Value) -> Result<jsonschema::Validator, String> {
    // The draft is fixed below; a `$schema` URI the validator does not know offline would
    // otherwise make it try to fetch the meta-schema.
    let mut schema = schema.clone();
    if let Value::Object(m) = &mut schema {
        m.remove("$schema");
    }
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(false)
        .build(&schema)
        .map_err(|e| format!("not a valid JSON schema: {e}"))
}

/// Every RECORD checked against the `json_schema` its stream has in `configured` (the
/// discovered schema): one problem per stream with schema-invalid records (how many, and the
/// first reason), and one for records of a stream the catalog does not name.
pub fn schema_problems(messages: &[Value], configured: &Value) -> Vec<String> {
    let mut validators: HashMap<String, Result<jsonschema::Validator, String>> = HashMap::new();
    for entry in configured["streams"].as_array().into_iter().flatten() {
        let name = entry["stream"]["name"].as_str().unwrap_or_default();
        validators.insert(
            name.to_string(),
            record_validator(&entry["stream"]["json_schema"]),
        );
    }
    // Per stream, in order of first appearance: (records, invalid, first reason).
    let mut seen: Vec<(String, usize, usize, Option<String>)> = Vec::new();
    for m in of_type(messages, "RECORD") {
        let name = m["record"]["stream"].as_str().unwrap_or_default();
        let data = &m["record"]["data"];
        let reason = match validators.get(name) {
            None => Some("the configured catalog has no such stream".to_string()),
            Some(Err(e)) => Some(e.clone()),
            Some(Ok(v)) => v.iter_errors(data).next().map(|e| {
                let at = e.instance_path.to_string();
                format!("{}: {e}", if at.is_empty() { "/" } else { &at })
            }),
        };
        let i = match seen.iter().position(|(n, ..)| n == name) {
            Some(i) => i,
            None => {
                seen.push((name.to_string(), 0, 0, None));
                seen.len() - 1
            }
        };
        let slot = &mut seen[i];
        slot.1 += 1;
        if let Some(reason) = reason {
            slot.2 += 1;
            slot.3.get_or_insert(reason);
        }
    }
    seen.into_iter()
        .filter(|(.., invalid, _)| *invalid > 0)
        .map(|(name, total, invalid, first)| {
            format!(
                "{name}: {invalid} of {total} records do not match the stream's schema (first: {})",
                first.unwrap_or_default()
            )
        })
        .collect()
}

/// The last STATE of each stream, as a state file (a JSON array of STREAM states).
pub fn state_file(messages: &[Value]) -> Value {
    let mut last: Vec<(String, Value)> = Vec::new();
    for m in of_type(messages, "STATE") {
        let name = m["state"]["stream"]["stream_descriptor"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        last.retain(|(n, _)| n != &name);
        last.push((name, m["state"].clone()));
    }
    Value::Array(last.into_iter().map(|(_, s)| s).collect())
}

/// The last `stream_state` of `stream`.
pub fn last_state(messages: &[Value], stream: &str) -> Option<Value> {
    of_type(messages, "STATE")
        .filter(|m| m["state"]["stream"]["stream_descriptor"]["name"] == stream)
        .map(|m| m["state"]["stream"]["stream_state"].clone())
        .last()
}

/// The error messages of TRACE ERROR messages.
pub fn errors(messages: &[Value]) -> Vec<String> {
    of_type(messages, "TRACE")
        .filter(|m| m["trace"]["type"] == "ERROR")
        .map(|m| {
            m["trace"]["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The CONNECTION_STATUS of a `check` run (`status`, `message`).
pub fn connection_status(messages: &[Value]) -> Option<(String, String)> {
    of_type(messages, "CONNECTION_STATUS").next().map(|m| {
        let s = &m["connectionStatus"];
        (
            s["status"].as_str().unwrap_or_default().to_string(),
            s["message"].as_str().unwrap_or_default().to_string(),
        )
    })
}

/// `spec` printed a SPEC with a connection specification.
pub fn spec_ok(messages: &[Value]) -> Result<(), String> {
    match of_type(messages, "SPEC").next() {
        Some(m) if m["spec"]["connectionSpecification"].is_object() => Ok(()),
        Some(_) => Err("SPEC has no connectionSpecification".into()),
        None => Err("no SPEC message".into()),
    }
}

/// `discover` printed a CATALOG; returns its stream names.
pub fn discover_ok(messages: &[Value]) -> Result<Vec<String>, String> {
    let c = catalog(messages).ok_or("no CATALOG message")?;
    let streams = c["streams"]
        .as_array()
        .ok_or("CATALOG has no streams array")?;
    Ok(streams
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect())
}

/// A `read` of `configured` (a configured catalog): no error, records for every stream, and a
/// final STATE for every incremental stream. Returns the record counts.
pub fn read_ok(messages: &[Value], configured: &Value) -> Result<HashMap<String, usize>, String> {
    read_checked(messages, configured, true)
}

/// A `read` that continues from a previous one's state: no error and a final STATE for every
/// incremental stream, while a stream may have nothing new. Returns the record counts.
pub fn resumed_read_ok(
    messages: &[Value],
    configured: &Value,
) -> Result<HashMap<String, usize>, String> {
    read_checked(messages, configured, false)
}

fn read_checked(
    messages: &[Value],
    configured: &Value,
    need_records: bool,
) -> Result<HashMap<String, usize>, String> {
    let errors = errors(messages);
    if !errors.is_empty() {
        return Err(format!("the read reported errors: {errors:?}"));
    }
    let counts = record_counts(messages);
    let mut problems = schema_problems(messages, configured);
    for entry in configured["streams"].as_array().into_iter().flatten() {
        let name = entry["stream"]["name"].as_str().unwrap_or_default();
        if need_records && counts.get(name).copied().unwrap_or(0) == 0 {
            problems.push(format!("{name}: no records"));
        }
        if entry["sync_mode"] == "incremental" && last_state(messages, name).is_none() {
            problems.push(format!("{name}: no STATE"));
        }
    }
    if problems.is_empty() {
        Ok(counts)
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(stream: &str) -> Value {
        json!({"type": "RECORD", "record": {"stream": stream, "data": {}, "emitted_at": 0}})
    }

    fn state(stream: &str, v: i64) -> Value {
        json!({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": {"c": v}}}})
    }

    fn configured(streams: &[(&str, &str)]) -> Value {
        json!({"streams": streams.iter().map(|(n, m)| json!({"stream": {"name": n}, "sync_mode": m})).collect::<Vec<_>>()})
    }

    #[test]
    fn a_read_without_records_for_a_selected_stream_fails() {
        let messages = vec![record("a"), state("a", 1)];
        let err = read_ok(
            &messages,
            &configured(&[("a", "incremental"), ("b", "full_refresh")]),
        )
        .unwrap_err();
        assert!(err.contains("b: no records"), "{err}");
    }

    fn typed(stream: &str, schema: Value) -> Value {
        json!({"streams": [{"stream": {"name": stream, "json_schema": schema}, "sync_mode": "full_refresh"}]})
    }

    fn record_with(stream: &str, data: Value) -> Value {
        json!({"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": 0}})
    }

    #[test]
    fn a_record_that_breaks_its_schema_fails_the_read() {
        let catalog = typed(
            "a",
            json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                   "properties": {"CAMPAIGN_ID": {"type": ["null", "number"]}}}),
        );
        let good = record_with("a", json!({"CAMPAIGN_ID": 12}));
        let bad = record_with("a", json!({"CAMPAIGN_ID": "12"}));
        assert!(read_ok(
            &[good.clone(), record_with("a", json!({"CAMPAIGN_ID": null}))],
            &catalog
        )
        .is_ok());
        let err = read_ok(&[good, bad.clone(), bad], &catalog).unwrap_err();
        assert!(err.contains("a: 2 of 3 records do not match"), "{err}");
        assert!(err.contains("/CAMPAIGN_ID"), "{err}");
        // The resumed read is held to the same rule.
        assert!(
            resumed_read_ok(&[record_with("a", json!({"CAMPAIGN_ID": "x"}))], &catalog).is_err()
        );
    }

    #[test]
    fn airbyte_keywords_and_formats_do_not_fail_a_record() {
        let catalog = typed(
            "a",
            json!({"type": "object", "properties": {
                "at": {"type": ["null", "string"], "format": "date-time",
                       "airbyte_type": "timestamp_with_timezone"},
                "n": {"type": ["null", "integer"], "airbyte_type": "integer"}}}),
        );
        let messages = [record_with(
            "a",
            json!({"at": "2024-01-01 10:00:00+00:00", "n": 3}),
        )];
        assert!(read_ok(&messages, &catalog).is_ok());
    }

    #[test]
    fn a_record_of_a_stream_outside_the_catalog_fails() {
        let catalog = typed("a", json!({"type": "object"}));
        let messages = [record_with("a", json!({})), record_with("b", json!({}))];
        let err = read_ok(&messages, &catalog).unwrap_err();
        assert!(err.contains("b: 1 of 1 records"), "{err}");
    }

    #[test]
    fn a_resumed_read_may_have_nothing_new_but_needs_its_state() {
        let catalog = configured(&[("a", "incremental")]);
        assert!(resumed_read_ok(&[state("a", 1)], &catalog).is_ok());
        assert!(resumed_read_ok(&[], &catalog).is_err());
    }

    #[test]
    fn an_incremental_stream_without_state_fails() {
        let err = read_ok(&[record("a")], &configured(&[("a", "incremental")])).unwrap_err();
        assert!(err.contains("a: no STATE"), "{err}");
    }

    #[test]
    fn the_state_file_keeps_the_last_state_of_each_stream() {
        let messages = vec![state("a", 1), state("b", 1), state("a", 2)];
        let file = state_file(&messages);
        assert_eq!(file.as_array().map(Vec::len), Some(2));
        assert_eq!(last_state(&messages, "a"), Some(json!({"c": 2})));
    }

    #[test]
    fn lines_that_are_not_valid_messages_are_rejected() {
        let log = r#"{"type":"LOG","log":{"level":"INFO","message":"hi"}}"#;
        assert!(parse_lines(&format!("{log}\nhello\n")).is_err());
        assert!(parse_lines("{\"no_type\":1}").is_err());
        let bad_level = r#"{"type":"LOG","log":{"level":"LOUD","message":"hi"}}"#;
        assert!(
            parse_lines(bad_level).is_err(),
            "a LOG level outside the protocol"
        );
        assert!(
            parse_lines(r#"{"type":"GOSSIP"}"#).is_err(),
            "an unknown message type"
        );
        assert_eq!(parse_lines(&format!("{log}\n\n")).map(|v| v.len()), Ok(1));
    }
}
