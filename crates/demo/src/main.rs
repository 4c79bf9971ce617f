//! `demo` — the README's first command.
//!
//! * `demo [--out DIR]` (default): starts the embedded sample API and runs every connector's
//!   `spec`, `check`, `discover` and two incremental `read`s against it, printing a summary and
//!   leaving the raw protocol output under `DIR` (default `demo-output/`).
//! * `demo serve --dir DIR`: starts the sample API and stays up; writes for every connector
//!   `DIR/<connector>/{config.json,catalog.json,base_url}` and then `DIR/ready`. The image tests
//!   run the containers against it.
//! * `demo verify <spec|check|discover|read> FILE [--catalog FILE] [--strict]`: checks a
//!   command's protocol output the way the demo's own test does (exit 1 with the reason if not).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use demo::flow::{self, ConnectorRun};
use demo::sample_api::{SampleApis, NOW};
use demo::verify;
use serde_json::Value;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]).await,
        Some("verify") => verify_command(&args[1..]),
        Some("--help") | Some("-h") | Some("help") => {
            println!("usage: demo [--out DIR] | demo serve --dir DIR | demo verify <command> FILE [--catalog FILE] [--strict]");
            Ok(())
        }
        _ => run(&args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn base_url(apis: &SampleApis, connector: &str) -> String {
    match connector {
        "source-tiktok-marketing" => apis.tiktok.uri(),
        "source-pinterest" => apis.pinterest.uri(),
        _ => apis.klaviyo.uri(),
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let out = PathBuf::from(flag(args, "--out").unwrap_or_else(|| "demo-output".into()));
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    // The output folder is scratch space: keep it out of version control wherever it is.
    let _ = std::fs::write(out.join(".gitignore"), "*\n");
    let apis = SampleApis::start().await;
    println!("Sample APIs on 127.0.0.1 (no credentials, no internet); clock pinned at {NOW}.");
    println!(
        "  TikTok Marketing {}\n  Pinterest        {}\n  Klaviyo          {}\n",
        apis.tiktok.uri(),
        apis.pinterest.uri(),
        apis.klaviyo.uri()
    );
    let mut failures = Vec::new();
    for connector in flow::connectors() {
        let name = connector.name().to_string();
        match flow::run_connector(&connector, &base_url(&apis, &name), &out).await {
            Ok(run) => {
                print_summary(&run);
                failures.extend(problems(&run).into_iter().map(|p| format!("{name}: {p}")));
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    println!(
        "Raw protocol output, configs, catalogs and states: {}/<connector>/",
        out.display()
    );
    if failures.is_empty() {
        println!("All connectors completed spec, check, discover and two incremental reads.");
        Ok(())
    } else {
        Err(format!(
            "some steps did not succeed:\n  {}",
            failures.join("\n  ")
        ))
    }
}

/// What went wrong in a connector's run, in words (empty when everything worked).
fn problems(run: &ConnectorRun) -> Vec<String> {
    let mut p = Vec::new();
    if let Err(e) = verify::spec_ok(&run.spec.messages) {
        p.push(format!("spec: {e}"));
    }
    match verify::connection_status(&run.check.messages) {
        Some((s, _)) if s == "SUCCEEDED" => {}
        Some((s, m)) => p.push(format!("check: {s} {m}")),
        None => p.push("check: no CONNECTION_STATUS".into()),
    }
    if let Err(e) = verify::discover_ok(&run.discover.messages) {
        p.push(format!("discover: {e}"));
    }
    if !run.missing.is_empty() {
        p.push(format!(
            "streams not discovered: {}",
            run.missing.join(", ")
        ));
    }
    for (i, read) in run.reads.iter().enumerate() {
        let checked = if i == 0 {
            verify::read_ok(&read.messages, &run.catalog)
        } else {
            verify::resumed_read_ok(&read.messages, &run.catalog)
        };
        if let Err(e) = checked {
            p.push(format!("{}: {e}", read.file.display()));
        }
    }
    p
}

fn ms(d: std::time::Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// A state in a few words: a per-partition state as its partition count and global cursor, a
/// flat state as itself.
fn compact_state(state: Option<Value>) -> String {
    let Some(state) = state else {
        return "-".into();
    };
    let text = match state.get("states").and_then(Value::as_array) {
        Some(partitions) => format!(
            "{} partition(s), global {}",
            partitions.len(),
            state
                .get("state")
                .map(Value::to_string)
                .unwrap_or_else(|| "-".into())
        ),
        None => state.to_string(),
    };
    match text.char_indices().nth(90) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

fn print_summary(run: &ConnectorRun) {
    println!("== {} ==", run.name);
    let status = verify::connection_status(&run.check.messages)
        .map(|(s, m)| {
            if m.is_empty() {
                s
            } else {
                format!("{s} ({m})")
            }
        })
        .unwrap_or_else(|| "no status".into());
    let discovered = verify::discover_ok(&run.discover.messages)
        .map(|s| s.len())
        .unwrap_or(0);
    println!(
        "  spec      exit {}  {}",
        run.spec.code,
        ms(run.spec.elapsed)
    );
    println!(
        "  check     exit {}  {}  {status}",
        run.check.code,
        ms(run.check.elapsed)
    );
    println!(
        "  discover  exit {}  {}  {discovered} streams",
        run.discover.code,
        ms(run.discover.elapsed)
    );
    if !run.missing.is_empty() {
        println!("  not discovered (skipped): {}", run.missing.join(", "));
    }
    if run.reads.len() == 2 {
        let (first, second) = (&run.reads[0], &run.reads[1]);
        println!(
            "  read 1    exit {}  {}   read 2 (from read 1's state)  exit {}  {}",
            first.code,
            ms(first.elapsed),
            second.code,
            ms(second.elapsed)
        );
        let (c1, c2) = (first.record_counts(), second.record_counts());
        println!(
            "  {:<30} {:<12} {:>7} {:>7}  state after read 2",
            "stream", "mode", "read 1", "read 2"
        );
        for entry in run.catalog["streams"].as_array().into_iter().flatten() {
            let name = entry["stream"]["name"].as_str().unwrap_or_default();
            let mode = entry["sync_mode"].as_str().unwrap_or_default();
            println!(
                "  {:<30} {:<12} {:>7} {:>7}  {}",
                name,
                mode,
                c1.get(name).copied().unwrap_or(0),
                c2.get(name).copied().unwrap_or(0),
                compact_state(verify::last_state(&second.messages, name))
            );
        }
        for e in verify::errors(&first.messages)
            .into_iter()
            .chain(verify::errors(&second.messages))
        {
            println!("  error: {e}");
        }
    } else {
        println!("  read      skipped: none of the demo streams is available yet");
    }
    println!();
}

async fn serve(args: &[String]) -> Result<(), String> {
    let dir = PathBuf::from(flag(args, "--dir").ok_or("serve needs --dir DIR")?);
    let apis = SampleApis::start().await;
    for connector in flow::connectors() {
        let name = connector.name().to_string();
        let base = base_url(&apis, &name);
        let cdir = dir.join(&name);
        let (_, _, missing) = flow::prepare(&connector, &base, &cdir).await?;
        std::fs::write(cdir.join("base_url"), &base).map_err(|e| e.to_string())?;
        std::fs::write(cdir.join("base_url_var"), connector.base_url_var)
            .map_err(|e| e.to_string())?;
        std::fs::write(cdir.join("now"), NOW).map_err(|e| e.to_string())?;
        if !missing.is_empty() {
            eprintln!("{name}: not discovered yet: {}", missing.join(", "));
        }
    }
    std::fs::write(dir.join("ready"), "").map_err(|e| e.to_string())?;
    eprintln!(
        "sample APIs serving; config and catalog files in {}",
        dir.display()
    );
    // Serve until the process is stopped.
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}

fn read_messages(path: &Path) -> Result<Vec<Value>, String> {
    let raw = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    verify::parse_lines(&raw)
}

fn verify_command(args: &[String]) -> Result<(), String> {
    let command = args.first().ok_or("verify needs a command")?;
    let file = args.get(1).ok_or("verify needs the output file")?;
    let messages = read_messages(Path::new(file))?;
    let strict = args.iter().any(|a| a == "--strict");
    match command.as_str() {
        "spec" => verify::spec_ok(&messages),
        "discover" => verify::discover_ok(&messages).map(|s| println!("{} streams", s.len())),
        "check" => match verify::connection_status(&messages) {
            Some((s, _)) if s == "SUCCEEDED" => Ok(()),
            Some((s, m)) if !strict => {
                println!("check status {s} ({m}); accepted while the connector has no streams");
                Ok(())
            }
            Some((s, m)) => Err(format!("check status {s}: {m}")),
            None => Err("no CONNECTION_STATUS message".into()),
        },
        "read" => {
            let catalog_file = flag(args, "--catalog").ok_or("verify read needs --catalog FILE")?;
            let text = std::fs::read_to_string(&catalog_file)
                .map_err(|e| format!("cannot read {catalog_file}: {e}"))?;
            let catalog: Value =
                serde_json::from_str(&text).map_err(|e| format!("{catalog_file}: {e}"))?;
            let counts = verify::read_ok(&messages, &catalog)?;
            let mut names: Vec<_> = counts.into_iter().collect();
            names.sort();
            println!(
                "{}",
                names
                    .iter()
                    .map(|(n, c)| format!("{n}={c}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            Ok(())
        }
        other => Err(format!("unknown command {other}")),
    }
}
