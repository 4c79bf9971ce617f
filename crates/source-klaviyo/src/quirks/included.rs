//! `events_detailed`: the record selector that merges JSON:API `included` resources into the
//! records' relationships (the official `KlaviyoIncludedFieldExtractor`).
//!
//! As the official connector does in practice, only object relationships whose key equals the
//! included resource's `type` are merged (`relationships.metric.data` gains the metric's
//! attributes, so `relationships.metric.data.name` holds the metric name); array relationships
//! such as `attributions` are left as the API sent them.

use std::collections::HashMap;

use connector_runtime::prelude::*;

/// Takes the records of `data` and merges `included` into them.
pub fn select_with_included(body: Value) -> Result<Vec<Value>> {
    let Value::Object(mut body) = body else {
        return Ok(Vec::new());
    };
    let included = body.remove("included");
    let mut index: HashMap<(String, String), Value> = HashMap::new();
    if let Some(Value::Array(items)) = included {
        for item in items {
            let ty = item.get("type").and_then(Value::as_str).map(str::to_string);
            let id = item.get("id").and_then(Value::as_str).map(str::to_string);
            if let (Some(ty), Some(id)) = (ty, id) {
                index.insert((ty, id), item);
            }
        }
    }
    let records = match body.remove("data") {
        Some(Value::Array(items)) => items,
        Some(Value::Object(o)) => vec![Value::Object(o)],
        _ => Vec::new(),
    };
    Ok(records
        .into_iter()
        .filter(|r| !r.is_null())
        .map(|mut r| {
            merge_into(&mut r, &index);
            r
        })
        .collect())
}

fn merge_into(record: &mut Value, index: &HashMap<(String, String), Value>) {
    let Some(Value::Object(rels)) = record.get_mut("relationships") else {
        return;
    };
    for (key, rel) in rels.iter_mut() {
        let Some(Value::Object(data)) = rel.get_mut("data") else {
            continue;
        };
        let ty = data.get("type").and_then(Value::as_str).unwrap_or_default();
        let id = data.get("id").and_then(Value::as_str).unwrap_or_default();
        if ty != key {
            continue;
        }
        let Some(found) = index.get(&(ty.to_string(), id.to_string())) else {
            continue;
        };
        if let Some(Value::Object(attrs)) = found.get("attributes") {
            for (k, v) in attrs {
                data.insert(k.clone(), v.clone());
            }
        }
        if let Some(r) = found.get("relationships") {
            data.insert("relationships".into(), r.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_object_relationships_of_the_same_type_only() {
        let body = json!({
            "data": [{"id": "e1", "relationships": {
                "metric": {"data": {"type": "metric", "id": "M1"}},
                "attributions": {"data": [{"type": "attribution", "id": "A1"}]}
            }}],
            "included": [
                {"type": "metric", "id": "M1", "attributes": {"name": "Placed Order"}},
                {"type": "attribution", "id": "A1", "attributes": {"x": 1}}
            ]
        });
        let got = select_with_included(body).unwrap();
        assert_eq!(
            got,
            vec![json!({"id": "e1", "relationships": {
                "metric": {"data": {"type": "metric", "id": "M1", "name": "Placed Order"}},
                "attributions": {"data": [{"type": "attribution", "id": "A1"}]}
            }})]
        );
        assert!(select_with_included(json!(null)).unwrap().is_empty());
    }
}
