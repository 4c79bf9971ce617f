//! Embeds every schema under `resources/schemas/` by its file name, so a stream's name is
//! written once (in the stream table) and its schema is found by that name.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/schemas");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("resources/schemas is readable")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path
                .file_name()?
                .to_str()?
                .strip_suffix(".json")?
                .to_string();
            Some((name, path.display().to_string()))
        })
        .collect();
    files.sort();
    let mut code = String::from(
        "/// The embedded schema files, by stream name.\n\
         pub const SCHEMAS: &[(&str, &str)] = &[\n",
    );
    for (name, path) in &files {
        let _ = writeln!(code, "    ({name:?}, include_str!({path:?})),");
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("schemas.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
