//! Stream schemas found by stream name.
//!
//! A source crate keeps one JSON schema per stream in `resources/schemas/<stream>.json`.
//! [`embed_schemas!`](crate::embed_schemas) embeds that whole folder into the binary, so a
//! stream table writes each stream's name once (in its row) and the schema follows from it; no
//! list of names or file paths has to be kept in step with the files. A name without a file
//! is an error when the stream is declared (every source tests that its whole table builds),
//! never a silently empty schema at run time.

use serde_json::Value;

use crate::error::{Error, Result};

#[doc(hidden)]
pub use include_dir;

/// Embeds the calling crate's `resources/schemas/*.json` as a [`Schemas`] registry:
/// `static SCHEMAS: Schemas = connector_runtime::embed_schemas!();`.
///
/// Every file's text is compiled into the binary (a changed file rebuilds the crate); the
/// folder is read when the crate is compiled, so a new file needs nothing but its stream's row.
#[macro_export]
macro_rules! embed_schemas {
    () => {{
        use $crate::schemas::include_dir;
        static DIR: include_dir::Dir<'static> =
            include_dir::include_dir!("$CARGO_MANIFEST_DIR/resources/schemas");
        $crate::schemas::Schemas::new(&DIR)
    }};
}

/// The embedded schema files of one source, by stream name.
#[derive(Clone, Copy)]
pub struct Schemas {
    dir: &'static include_dir::Dir<'static>,
}

impl Schemas {
    /// Use [`embed_schemas!`](crate::embed_schemas) rather than calling this directly.
    pub const fn new(dir: &'static include_dir::Dir<'static>) -> Self {
        Schemas { dir }
    }

    /// The schema of stream `name`; a missing or unparsable file is a system error that names
    /// the stream.
    pub fn get(&self, name: &str) -> Result<Value> {
        let text = self
            .dir
            .get_file(format!("{name}.json"))
            .and_then(|f| f.contents_utf8())
            .ok_or_else(|| Error::system(format!("no schema is embedded for stream {name}")))?;
        serde_json::from_str(text).map_err(|e| {
            Error::system(format!(
                "the embedded schema of stream {name} is invalid: {e}"
            ))
        })
    }

    /// The stream names that have a schema file, sorted (for tests that every file is used).
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self
            .dir
            .files()
            .filter_map(|f| f.path().to_str()?.strip_suffix(".json"))
            .collect();
        names.sort_unstable();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST_DIR: include_dir::Dir<'static> = include_dir::Dir::new(
        "",
        &[
            include_dir::DirEntry::File(include_dir::File::new("b.json", br#"{"type": "object"}"#)),
            include_dir::DirEntry::File(include_dir::File::new("a.json", b"{not json")),
            include_dir::DirEntry::File(include_dir::File::new("notes.txt", b"")),
        ],
    );

    #[test]
    fn finds_schemas_by_name_and_names_what_is_wrong() {
        let schemas = Schemas::new(&TEST_DIR);
        assert_eq!(schemas.names(), vec!["a", "b"]);
        assert_eq!(
            schemas.get("b").expect("b is embedded"),
            serde_json::json!({"type": "object"})
        );
        let missing = schemas.get("c").expect_err("c has no file");
        assert!(missing
            .message()
            .contains("no schema is embedded for stream c"));
        let invalid = schemas.get("a").expect_err("a is not JSON");
        assert!(invalid.message().contains("schema of stream a is invalid"));
    }
}
