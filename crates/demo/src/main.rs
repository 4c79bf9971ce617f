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

use clap::{Parser, Subcommand, ValueEnum};

use demo::flow::{self, ConnectorRun};
use demo::sample_api::{SampleApis, NOW};
use demo::verify;
use serde_json::Value;

/// Try the connectors without credentials, against an embedded sample API.
#[derive(Debug, Parser)]
#[command(name = "demo")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Where the raw protocol output of every command is written.
    #[arg(long, default_value = "demo-output")]
    out: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the sample API and keep serving; write config and catalog files for every
    /// connector under DIR, then DIR/ready.
    Serve {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Check a command's protocol output the way the demo's own test does.
    Verify {
        command: Verified,
        file: PathBuf,
        /// The configured catalog the read used (for `read`).
        #[arg(long)]
        catalog: Option<PathBuf>,
        /// Require a SUCCEEDED check.
        #[arg(long)]
        strict: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Verified {
    Spec,
    Check,
    Discover,
    Read,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Serve { dir }) => serve(&dir).await,
        Some(Command::Verify {
            command,
            file,
            catalog,
            strict,
        }) => verify_command(command, &file, catalog.as_deref(), strict),
        None => run(&cli.out).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn base_url(apis: &SampleApis, connector: &str) -> String {
    match connector {
        "source-tiktok-marketing" => apis.tiktok.uri(),
        "source-pinterest" => apis.pinterest.uri(),
        _ => apis.klaviyo.uri(),
    }
}

async fn run(out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
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
        match flow::run_connector(&connector, &base_url(&apis, &name), out).await {
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

async fn serve(dir: &Path) -> Result<(), String> {
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

fn verify_command(
    command: Verified,
    file: &Path,
    catalog: Option<&Path>,
    strict: bool,
) -> Result<(), String> {
    let messages = read_messages(file)?;
    match command {
        Verified::Spec => verify::spec_ok(&messages),
        Verified::Discover => {
            verify::discover_ok(&messages).map(|s| println!("{} streams", s.len()))
        }
        Verified::Check => match verify::connection_status(&messages) {
            Some((s, _)) if s == "SUCCEEDED" => Ok(()),
            Some((s, m)) if !strict => {
                println!("check status {s} ({m}); accepted while the connector has no streams");
                Ok(())
            }
            Some((s, m)) => Err(format!("check status {s}: {m}")),
            None => Err("no CONNECTION_STATUS message".into()),
        },
        Verified::Read => {
            let catalog_file = catalog.ok_or("verify read needs --catalog FILE")?;
            let text = std::fs::read_to_string(catalog_file)
                .map_err(|e| format!("cannot read {}: {e}", catalog_file.display()))?;
            let catalog: Value = serde_json::from_str(&text)
                .map_err(|e| format!("{}: {e}", catalog_file.display()))?;
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
    }
}
