//! Secret values, masked wherever text leaves the connector.
//!
//! The set starts with every config value under a property the spec marks `airbyte_secret`
//! (whatever its JSON type: every string and number inside it is a secret) and grows at run
//! time (an OAuth access token fetched mid-sync). The output layer masks LOG, TRACE and
//! CONNECTION_STATUS text with it, so no code path has to remember to.
//!
//! A secret rarely leaks verbatim: an API error body echoes it JSON-escaped, a URL carries it
//! percent-encoded, an `Authorization: Basic` header carries it base64-encoded, a debug print
//! of a header escapes its bytes. So every secret is matched in all of those forms:
//! - raw;
//! - JSON-escaped, once or twice (`\"`, `\\`, `\/`, `\n`, `\uXXXX` for any character, as
//!   encoders that escape non-ASCII or HTML characters write them);
//! - percent-encoded (`%XX`, either hex case, `+` for a space), any subset of characters;
//! - `\xNN` byte escapes (how a header value's debug form writes non-ASCII bytes);
//! - base64 of the secret (standard and URL-safe alphabets, with or without padding), itself
//!   in any of the forms above; for HTTP Basic auth, register the `user:password` pair with
//!   [`Secrets::add_basic_auth`] so its base64 is masked too.
//!
//! The forms may mix character by character, so a partly escaped secret is still masked.
//!
//! Messages quote response bodies cut at a length and marked with [`TRUNCATION_MARK`]
//! (`…`); a cut can fall inside a secret. The start of a secret (at least
//! [`MIN_SECRET_LEN`] characters of its raw, JSON-escaped, percent-encoded or base64 form)
//! right before the mark is masked too.
//!
//! Values shorter than [`MIN_SECRET_LEN`] characters are not registered: masking `1` or `ab`
//! would turn every message into asterisks while hiding nothing worth hiding. Such a value is
//! still never printed by config validation (see `config::validate_against_spec`).

use std::sync::{Arc, RwLock};

use base64::Engine as _;
use regex::Regex;
use serde_json::Value;

/// Secrets shorter than this many characters are not masked (see the module documentation).
pub const MIN_SECRET_LEN: usize = 4;

/// What a masked secret is replaced with.
pub const MASK: &str = "****";

/// How the runtime marks text it cut short (a quoted response body).
pub const TRUNCATION_MARK: char = '…';

#[derive(Debug, Default)]
struct Inner {
    /// Raw values, longest first.
    values: Vec<String>,
    /// One pattern matching every form of every value; `None` while there is no secret or
    /// until the first text is masked after a value was added (compiling is not free, and a
    /// config registers several values in a row).
    matcher: Option<Regex>,
    /// `values` changed since `matcher` was built.
    stale: bool,
    /// The common renderings of every value, spelled out, for a secret cut by truncation.
    literal: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Secrets {
    inner: Arc<RwLock<Inner>>,
}

impl Secrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers one secret value (ignored when shorter than [`MIN_SECRET_LEN`] characters).
    pub fn add(&self, value: &str) {
        if value.chars().count() < MIN_SECRET_LEN {
            return;
        }
        let Ok(mut inner) = self.inner.write() else {
            return;
        };
        if inner.values.iter().any(|s| s == value) {
            return;
        }
        inner.values.push(value.to_string());
        // Longest first, so a secret that contains another is masked whole.
        inner.values.sort_by_key(|s| std::cmp::Reverse(s.len()));
        inner.stale = true;
    }

    /// Registers the credentials of HTTP Basic auth: the password alone and the
    /// `user:password` pair, whose base64 is what the `Authorization` header carries.
    pub fn add_basic_auth(&self, user: &str, password: &str) {
        self.add(password);
        if !password.is_empty() {
            self.add(&format!("{user}:{password}"));
        }
    }

    /// Registers every secret of `config`: each value under a property that the spec marks
    /// `airbyte_secret`, whatever its JSON type (every string and number inside an array or
    /// object given there is registered). The marked names are matched at any depth of the
    /// config, not only where the spec puts them: legacy config shapes (a token at the top
    /// level rather than under `credentials`) are registered before they are migrated.
    pub fn add_from_config(&self, spec: &Value, config: &Value) {
        let names = secret_names(spec);
        self.add_matching(config, &names);
    }

    fn add_matching(&self, value: &Value, names: &[String]) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    if names.iter().any(|n| n == k) {
                        self.add_all(v);
                    } else {
                        self.add_matching(v, names);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.add_matching(v, names)),
            _ => {}
        }
    }

    /// Registers every string and number inside `value`.
    fn add_all(&self, value: &Value) {
        match value {
            Value::String(s) => self.add(s),
            Value::Number(n) => self.add(&n.to_string()),
            Value::Array(items) => items.iter().for_each(|v| self.add_all(v)),
            Value::Object(map) => map.values().for_each(|v| self.add_all(v)),
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// Replaces every form of every known secret in `text` with [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        let stale = self.inner.read().is_ok_and(|i| i.stale);
        if stale {
            if let Ok(mut inner) = self.inner.write() {
                if inner.stale {
                    inner.matcher = build_matcher(&inner.values);
                    inner.literal = inner.values.iter().flat_map(|v| literal_forms(v)).collect();
                    inner.stale = false;
                }
            }
        }
        let Ok(inner) = self.inner.read() else {
            return text.to_string();
        };
        let masked = match &inner.matcher {
            Some(m) => m.replace_all(text, MASK).into_owned(),
            None => return text.to_string(),
        };
        if masked.contains(TRUNCATION_MARK) {
            mask_cut_secrets(&masked, &inner.literal)
        } else {
            masked
        }
    }

    /// Masks every string inside `value` (object keys are left alone).
    pub fn mask_value(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                let masked = self.mask(s);
                if masked != *s {
                    *s = masked;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask_value(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.mask_value(v)),
            _ => {}
        }
    }

    /// Whether no secret is registered (nothing to mask).
    pub fn is_empty(&self) -> bool {
        self.inner.read().map_or(true, |i| i.values.is_empty())
    }
}

/// Names of properties marked `airbyte_secret: true`, at any depth of a JSON Schema
/// (through `properties`, `oneOf`, `anyOf`, `allOf` and `items`).
pub fn secret_names(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_secret_names(schema, &mut out);
    out
}

fn collect_secret_names(schema: &Value, out: &mut Vec<String>) {
    let Value::Object(map) = schema else { return };
    if let Some(Value::Object(props)) = map.get("properties") {
        for (name, prop) in props {
            if prop.get("airbyte_secret").and_then(Value::as_bool) == Some(true)
                && !out.contains(name)
            {
                out.push(name.clone());
            }
            collect_secret_names(prop, out);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(branches)) = map.get(key) {
            branches.iter().for_each(|b| collect_secret_names(b, out));
        }
    }
    if let Some(items) = map.get("items") {
        collect_secret_names(items, out);
    }
    if let Some(cs) = map.get("connectionSpecification") {
        collect_secret_names(cs, out);
    }
}

/// The texts whose every encoding is masked for one secret: the secret and its base64.
fn variants(value: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    // Padded forms are longer, so they are tried first and masked whole; the unpadded ones
    // catch encoders that drop the padding.
    let mut out = vec![value.to_string()];
    for encoded in [
        STANDARD.encode(value.as_bytes()),
        URL_SAFE.encode(value.as_bytes()),
        STANDARD_NO_PAD.encode(value.as_bytes()),
        URL_SAFE_NO_PAD.encode(value.as_bytes()),
    ] {
        if !out.contains(&encoded) {
            out.push(encoded);
        }
    }
    out
}

/// The renderings of one secret that a cut is checked against: raw, JSON-escaped (once and
/// twice, and ASCII-only), percent-encoded (upper and lower hex, `+` for space) and base64.
fn literal_forms(value: &str) -> Vec<String> {
    let json_inner = |s: &str| {
        let q = serde_json::to_string(s).unwrap_or_default();
        q.get(1..q.len().saturating_sub(1))
            .unwrap_or_default()
            .to_string()
    };
    let ascii_json = |s: &str| -> String {
        s.encode_utf16()
            .map(|u| match char::from_u32(u32::from(u)) {
                Some(c) if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' => {
                    c.to_string()
                }
                _ => format!("\\u{u:04x}"),
            })
            .collect()
    };
    let pct = |s: &str, lower: bool, plus: bool| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else if plus && b == b' ' {
                    "+".to_string()
                } else if lower {
                    format!("%{b:02x}")
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let mut out = Vec::new();
    for v in variants(value) {
        for form in [
            json_inner(&v),
            json_inner(&json_inner(&v)),
            ascii_json(&v),
            pct(&v, false, false),
            pct(&v, true, false),
            pct(&v, false, true),
            pct(&v, true, true),
            v.clone(),
        ] {
            if !out.contains(&form) {
                out.push(form);
            }
        }
    }
    out
}

/// Masks the start of a secret left right before a [`TRUNCATION_MARK`].
fn mask_cut_secrets(text: &str, literal: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(TRUNCATION_MARK) {
        let head = &rest[..at];
        let cut = literal
            .iter()
            .filter_map(|form| {
                // The longest prefix of `form` (at least MIN_SECRET_LEN characters) that
                // `head` ends with.
                form.char_indices()
                    .map(|(i, c)| i + c.len_utf8())
                    .skip(MIN_SECRET_LEN - 1)
                    .filter(|&end| head.ends_with(&form[..end]))
                    .max()
            })
            .max();
        match cut {
            Some(len) => {
                out.push_str(&head[..head.len() - len]);
                out.push_str(MASK);
            }
            None => out.push_str(head),
        }
        out.push(TRUNCATION_MARK);
        rest = &rest[at + TRUNCATION_MARK.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// One regex alternation over every form of every value, longest values first.
fn build_matcher(values: &[String]) -> Option<Regex> {
    let mut forms: Vec<(usize, String)> = values
        .iter()
        .flat_map(|v| variants(v))
        .map(|v| (v.len(), char_by_char(&v)))
        .collect();
    forms.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
    let pattern = forms
        .iter()
        .map(|(_, p)| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|");
    let flexible = regex::RegexBuilder::new(&pattern)
        .size_limit(64 << 20)
        .unicode(false)
        .build();
    match flexible {
        Ok(r) => Some(r),
        // A pathological secret (megabytes long) could exceed the size limit: fall back to
        // the literal forms rather than mask nothing.
        Err(_) => {
            let literal = values
                .iter()
                .flat_map(|v| variants(v))
                .map(|v| regex::escape(&v))
                .collect::<Vec<_>>()
                .join("|");
            Regex::new(&literal).ok()
        }
    }
}

/// A pattern matching `text` with each character in any of its encoded forms.
fn char_by_char(text: &str) -> String {
    text.chars().map(char_forms).collect()
}

/// `[aA]`-style class for a hex digit, so `%2f` and `%2F` both match.
fn hex_ci(byte: u8) -> String {
    format!("{byte:02X}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_lowercase(), c)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Every way one character may be written in output, as a regex group.
fn char_forms(c: char) -> String {
    // No encoder escapes letters or digits: they are matched as themselves, which keeps the
    // pattern small (most of a token is alphanumeric).
    if c.is_ascii_alphanumeric() {
        return c.to_string();
    }
    let mut alts = vec![regex::escape(&c.to_string())];
    let mut utf8 = [0u8; 4];
    let bytes = c.encode_utf8(&mut utf8).as_bytes();
    // JSON string escapes, as written by an encoder and as written again when that JSON is
    // itself embedded in a JSON string.
    let mut json: Vec<String> = Vec::new();
    match c {
        '"' => json.push("\\\"".into()),
        '\\' => json.push("\\\\".into()),
        '/' => json.push("\\/".into()),
        '\n' => json.push("\\n".into()),
        '\r' => json.push("\\r".into()),
        '\t' => json.push("\\t".into()),
        '\u{8}' => json.push("\\b".into()),
        '\u{c}' => json.push("\\f".into()),
        _ => {}
    }
    let mut units = [0u16; 2];
    let unicode: String = c
        .encode_utf16(&mut units)
        .iter()
        .map(|u| format!("\\u{u:04x}"))
        .collect();
    json.push(unicode);
    for form in json {
        let twice = form.replace('\\', "\\\\").replace('"', "\\\"");
        alts.push(lenient_hex(&regex::escape(&form)));
        alts.push(lenient_hex(&regex::escape(&twice)));
    }
    // Percent-encoding of the UTF-8 bytes, and `+` for a space (form encoding).
    alts.push(bytes.iter().map(|b| format!("%{}", hex_ci(*b))).collect());
    if c == ' ' {
        alts.push(regex::escape("+"));
    }
    // `\xNN` byte escapes, zero-padded or not (a header value's debug form writes `\x9`).
    if !(c.is_ascii_graphic() || c == ' ') {
        alts.push(
            bytes
                .iter()
                .map(|b| format!(r"\\x0?{}", hex_ci_min(*b)))
                .collect(),
        );
    }
    format!("(?:{})", alts.join("|"))
}

/// `hex_ci` without a leading zero (the `0?` before it in the pattern makes it optional).
fn hex_ci_min(byte: u8) -> String {
    let full = hex_ci(byte);
    if byte < 0x10 {
        full[1..].to_string()
    } else {
        full
    }
}

/// Makes the hex digits of `\uXXXX` escapes in an escaped pattern case-insensitive.
fn lenient_hex(pattern: &str) -> String {
    // Only the four characters after a literal `u` that follows an escaped backslash are hex
    // digits of a `\u` escape; every other character is left alone.
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        out.push(chars[i]);
        if chars[i] == 'u' && i >= 2 && chars[i - 1] == '\\' && chars[i - 2] == '\\' {
            for h in chars.iter().skip(i + 1).take(4) {
                if h.is_ascii_alphabetic() {
                    out.push_str(&format!(
                        "[{}{}]",
                        h.to_ascii_lowercase(),
                        h.to_ascii_uppercase()
                    ));
                } else {
                    out.push(*h);
                }
            }
            i += 5;
            continue;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(secret: &str) -> Secrets {
        let s = Secrets::new();
        s.add(secret);
        s
    }

    /// Every rendering of `secret` that output may carry.
    fn forms(secret: &str) -> Vec<String> {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        let json_inner = |s: &str| {
            let q = serde_json::to_string(s).unwrap();
            q[1..q.len() - 1].to_string()
        };
        let ascii_json = |s: &str| {
            s.encode_utf16()
                .map(|u| {
                    if (0x20..0x80).contains(&u) && u != u16::from(b'"') && u != u16::from(b'\\') {
                        char::from(u as u8).to_string()
                    } else {
                        format!("\\u{u:04X}")
                    }
                })
                .collect::<String>()
        };
        let pct = |s: &str, lower: bool, plus: bool| {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else if plus && b == b' ' {
                        "+".to_string()
                    } else if lower {
                        format!("%{b:02x}")
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        };
        let b64 = STANDARD.encode(secret);
        let mut out: Vec<String> = reqwest::header::HeaderValue::from_bytes(secret.as_bytes())
            .map(|h| format!("{h:?}"))
            .into_iter()
            .collect();
        out.extend([
            secret.to_string(),
            json_inner(secret),
            json_inner(&json_inner(secret)),
            ascii_json(secret),
            pct(secret, false, false),
            pct(secret, true, false),
            pct(secret, false, true),
            pct(secret, true, true),
            b64.clone(),
            URL_SAFE.encode(secret),
            pct(&b64, false, false),
            b64.replace('/', "\\/"),
            json_inner(&b64.replace('/', "\\/")),
        ]);
        out
    }

    #[test]
    fn every_form_of_a_secret_is_masked() {
        for secret in [
            "pk_live_0123456789abcdef",
            r#"quo"te\back/slash"#,
            "sp ace+plus/slash%pct",
            "ünïcødé-sécret-€-😀",
            "tab\tnew\nline",
        ] {
            let s = with(secret);
            for form in forms(secret) {
                let text = format!("before {form} after");
                let masked = s.mask(&text);
                assert!(
                    masked.starts_with("before ") && masked.ends_with(" after"),
                    "{secret:?} as {form:?}: {masked}"
                );
                assert!(masked.contains(MASK), "{secret:?} as {form:?}: {masked}");
                assert!(!masked.contains(&form), "{secret:?} as {form:?}: {masked}");
            }
        }
    }

    #[test]
    fn an_echoed_authorization_header_is_masked() {
        let s = with("tok-\"abc\"-123");
        let body = json!({"headers": {"authorization": "Bearer tok-\"abc\"-123"}}).to_string();
        assert_eq!(
            s.mask(&body),
            r#"{"headers":{"authorization":"Bearer ****"}}"#
        );
        let s = with("pk_abc def");
        assert_eq!(
            s.mask("Authorization: Klaviyo-API-Key pk_abc def"),
            "Authorization: Klaviyo-API-Key ****"
        );
    }

    #[test]
    fn basic_auth_pairs_are_masked_in_base64() {
        let s = Secrets::new();
        s.add_basic_auth("client-1", "se:cr\"et");
        let header = format!(
            "Authorization: Basic {}",
            base64::engine::general_purpose::STANDARD.encode("client-1:se:cr\"et")
        );
        assert_eq!(s.mask(&header), "Authorization: Basic ****");
        assert_eq!(s.mask("client-1 alone"), "client-1 alone");
    }

    #[test]
    fn masks_secret_fields_found_through_one_of() {
        let spec = json!({"properties": {"credentials": {"oneOf": [
            {"properties": {"access_token": {"type": "string", "airbyte_secret": true}}}
        ]}, "start_date": {"type": "string"}}});
        let config =
            json!({"credentials": {"access_token": "tok-123456"}, "start_date": "2020-01-01"});
        let secrets = Secrets::new();
        secrets.add_from_config(&spec, &config);
        assert_eq!(
            secrets.mask("bad token tok-123456 since 2020-01-01"),
            "bad token **** since 2020-01-01"
        );
    }

    #[test]
    fn every_string_and_number_inside_a_secret_of_the_wrong_type_is_registered() {
        let spec = json!({"properties": {"api_key": {"type": "string", "airbyte_secret": true},
            "name": {"type": "string"}}});
        let config = json!({"api_key": {"key": "pk_in_object", "list": ["pk_in_list", 987654321],
            "deep": {"deeper": "pk_deeper"}, "flag": true}, "name": "visible-name"});
        let secrets = Secrets::new();
        secrets.add_from_config(&spec, &config);
        let text = "pk_in_object pk_in_list 987654321 pk_deeper visible-name true key";
        assert_eq!(
            secrets.mask(text),
            "**** **** **** **** visible-name true key"
        );
    }

    #[test]
    fn a_secret_cut_by_truncation_is_masked_up_to_the_mark() {
        let secret = r#"tok"en-0123456789"#;
        let s = with(secret);
        for cut in [4, 9, secret.len() - 1] {
            let raw = format!("body: Bearer {}…", &secret[..cut]);
            assert_eq!(s.mask(&raw), "body: Bearer ****…", "{raw}");
        }
        let escaped = r#"{"auth":"Bearer tok"en-01…"#;
        assert_eq!(s.mask(escaped), r#"{"auth":"Bearer ****…"#);
        let encoded = "?token=tok%22en-0…";
        assert_eq!(s.mask(encoded), "?token=****…");
        // Fewer than MIN_SECRET_LEN characters are left alone, and so is text without a mark.
        assert_eq!(s.mask("Bearer tok…"), "Bearer tok…");
        assert_eq!(s.mask("Bearer tok\"en-01"), "Bearer tok\"en-01");
    }

    #[test]
    fn short_values_are_not_masked() {
        let s = with("ab");
        assert_eq!(s.mask("abc ab"), "abc ab");
        assert!(s.is_empty());
        // Four characters is the minimum: masked.
        let s = with("abcd");
        assert_eq!(s.mask("abcd abc"), "**** abc");
    }

    #[test]
    fn a_secret_containing_another_is_masked_whole() {
        let s = Secrets::new();
        s.add("abcd");
        s.add("xxabcdyy");
        assert_eq!(s.mask("xxabcdyy abcd"), "**** ****");
    }

    #[test]
    fn mask_value_masks_nested_strings_only() {
        let s = with("tok-secret");
        let mut v = json!({"a": ["x tok-secret", {"tok-secret": "tok-secret"}], "n": 1});
        s.mask_value(&mut v);
        assert_eq!(v, json!({"a": ["x ****", {"tok-secret": "****"}], "n": 1}));
    }
}
