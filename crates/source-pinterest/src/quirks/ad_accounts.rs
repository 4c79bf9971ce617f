//! `ad_accounts`: a list, or one object when `account_id` is set.
//!
//! Why a quirk: with an account configured the official connector requests
//! `ad_accounts/{account_id}`, which answers the account object itself rather than a page of
//! `items`; the record selector accepts both shapes (and an empty object as no record).

use connector_runtime::prelude::*;

/// `GET ad_accounts`, or `GET ad_accounts/{account_id}` for a configured account.
pub fn request(account_id: Option<&str>) -> RequestTemplate {
    match account_id {
        // The id is config text, not a placeholder: braces in it stay literal.
        Some(a) => RequestTemplate::get(&format!(
            "ad_accounts/{}",
            a.replace('{', "{{").replace('}', "}}")
        )),
        None => RequestTemplate::get("ad_accounts"),
    }
}

/// `items` of a list answer, or the single object answered for one account.
pub fn selector() -> RecordSelector {
    RecordSelector::Custom(Arc::new(records))
}

fn records(body: Value) -> Result<Vec<Value>> {
    Ok(match body {
        Value::Object(mut m) if m.contains_key("items") => {
            RecordSelector::path("").select(m.remove("items").unwrap_or(Value::Null))?
        }
        Value::Object(m) if m.is_empty() => Vec::new(),
        Value::Object(m) => vec![Value::Object(m)],
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_page_of_items_or_one_account_object() {
        assert_eq!(
            records(json!({"items": [{"id": "1"}, {"id": "2"}], "bookmark": null})).unwrap(),
            vec![json!({"id": "1"}), json!({"id": "2"})]
        );
        assert_eq!(
            records(json!({"id": "9", "name": "n"})).unwrap(),
            vec![json!({"id": "9", "name": "n"})]
        );
        assert!(records(json!({})).unwrap().is_empty());
    }

    #[test]
    fn a_configured_account_is_literal_path_text() {
        let slice = Slice {
            partition: Partition::new(),
            window: None,
        };
        let r = request(Some("a{b}"))
            .checked()
            .unwrap()
            .render(&slice)
            .unwrap();
        assert_eq!(r.url, "ad_accounts/a{b}");
        assert_eq!(request(None).render(&slice).unwrap().url, "ad_accounts");
    }
}
