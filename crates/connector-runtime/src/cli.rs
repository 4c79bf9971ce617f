//! The command line every connector image answers, exactly as Airbyte invokes it:
//! `spec`, `check --config F`, `discover --config F`, `read --config F --catalog F [--state F]`.
//!
//! Everything a user can get wrong (arguments, config, catalog, state) ends in one TRACE
//! ERROR with `failure_type: config_error` and a non-zero exit, never a panic or a stack
//! trace on stdout. The exception is `check`, whose answer to a config that breaks the
//! spec (or the source's own rules) is `CONNECTION_STATUS` `FAILED` with exit 0, as the CDK
//! answers; only a config file that cannot be read as a JSON object is still a TRACE there.

use std::path::PathBuf;
use std::sync::Arc;

use airbyte_protocol::{AirbyteMessage, FailureType, Status};
use clap::{Parser, Subcommand};
use serde_json::Value;
use tracing::instrument::WithSubscriber;

use crate::config;
use crate::env::RunEnv;
use crate::error::{Error, Result};
use crate::logging;
use crate::output::Output;
use crate::secrets::Secrets;
use crate::source::{catalog, DynSource, Prepared, SourceContext};
use crate::sync::{self, SyncContext};

#[derive(Debug, Parser)]
#[command(about = "An Airbyte source connector", disable_version_flag = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log at DEBUG level.
    #[arg(long, global = true)]
    debug: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the connector specification.
    Spec,
    /// Check that the config can connect to the API.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
    /// List the streams this config gives access to.
    Discover {
        #[arg(long)]
        config: PathBuf,
    },
    /// Read the streams of a configured catalog.
    Read {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        catalog: PathBuf,
        #[arg(long)]
        state: Option<PathBuf>,
    },
}

/// Runs a connector binary: reads the process environment and arguments, writes stdout, exits.
pub fn main(source: impl DynSource + 'static) -> ! {
    crate::memory::tune_allocator();
    let secrets = Secrets::new();
    let output = Output::stdout(secrets);
    install_panic_hook(output.clone());
    let args: Vec<String> = std::env::args().collect();
    let code = match RunEnv::from_process() {
        Err(e) => {
            emit_error(&output, &e, &RunEnv::default());
            1
        }
        Ok(env) => {
            let debug = args.iter().any(|a| a == "--debug");
            let level = if debug {
                tracing::Level::DEBUG
            } else {
                tracing::Level::INFO
            };
            let _ =
                tracing::subscriber::set_global_default(logging::subscriber(output.clone(), level));
            match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(run_inner(&source, &args, env, output.clone())),
                Err(e) => {
                    emit_error(
                        &output,
                        &Error::system(format!("could not start the async runtime: {e}")),
                        &RunEnv::default(),
                    );
                    1
                }
            }
        }
    };
    output.flush();
    std::process::exit(code)
}

/// Turns a panic into one TRACE ERROR (`system_error`) on `output`, flushed at once, so even
/// a bug ends in a protocol message rather than a stack trace on stdout. Process-wide: the
/// binaries install it once at start.
pub fn install_panic_hook(output: Output) {
    std::panic::set_hook(Box::new(move |info| {
        let message = match info.payload().downcast_ref::<&str>() {
            Some(s) => s.to_string(),
            None => info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "unknown panic".into()),
        };
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        output.emit(&AirbyteMessage::error_trace(
            "The connector hit an internal error; please report it.",
            Some(format!("{message}{location}")),
            FailureType::SystemError,
            None,
            chrono::Utc::now().timestamp_millis(),
        ));
        output.flush();
    }));
}

/// Runs a connector in-process with explicit arguments, environment and output (tests, the
/// demo). Logs go to `output` as LOG messages. Returns the exit code.
pub async fn run(source: &dyn DynSource, args: &[String], env: RunEnv, output: Output) -> i32 {
    let debug = args.iter().any(|a| a == "--debug");
    let level = if debug {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    let subscriber = logging::subscriber(output.clone(), level);
    let code = run_inner(source, args, env, output.clone())
        .with_subscriber(subscriber)
        .await;
    output.flush();
    code
}

fn emit_error(output: &Output, e: &Error, env: &RunEnv) {
    output.emit(&AirbyteMessage::error_trace(
        e.message(),
        e.internal().map(str::to_string),
        e.failure_type(),
        None,
        env.clock.now_millis(),
    ));
}

async fn run_inner(source: &dyn DynSource, args: &[String], env: RunEnv, output: Output) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if e.kind() == ErrorKind::DisplayHelp {
                eprintln!("{e}");
                return 0;
            }
            let text = e.render().to_string();
            // A missing subcommand renders as the help text; say what is missing instead.
            let first = if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                "a command is required"
            } else {
                text.lines()
                    .next()
                    .unwrap_or("invalid arguments")
                    .trim_start_matches("error: ")
            };
            emit_error(
                &output,
                &Error::config(format!(
                    "{first}. Usage: {} spec | check --config F | discover --config F | read --config F --catalog F [--state F]",
                    source.name()
                )),
                &env,
            );
            return 2;
        }
    };
    match execute(source, cli.command, &env, &output).await {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{}", e.message());
            emit_error(&output, &e, &env);
            1
        }
    }
}

/// Reads, migrates and validates the config; registers its secrets.
fn load_config(
    source: &dyn DynSource,
    path: &std::path::Path,
    env: &RunEnv,
    output: &Output,
) -> Result<Value> {
    let config = read_config(source, path, output)?;
    prepare_config(source, config, env, output)
}

/// Reads the config file (a JSON object) and registers its secrets. A file that cannot be
/// read or is not a JSON object fails every command with a TRACE, `check` included: the
/// CDK reads the config before it dispatches the command, so this never becomes a
/// `CONNECTION_STATUS`.
fn read_config(source: &dyn DynSource, path: &std::path::Path, output: &Output) -> Result<Value> {
    let spec = source.spec()?;
    let config = config::read_config(path)?;
    output
        .secrets()
        .add_from_config(&spec.connection_specification, &config);
    Ok(config)
}

/// Migrates the config (announcing a changed one in a CONTROL message) and validates it
/// against the spec and the source's own rules.
fn prepare_config(
    source: &dyn DynSource,
    mut config: Value,
    env: &RunEnv,
    output: &Output,
) -> Result<Value> {
    let spec = source.spec()?;
    if source.migrate_config(&mut config) {
        if let Value::Object(map) = &config {
            output.emit(&AirbyteMessage::control_config(
                map.clone(),
                env.clock.now_millis(),
            ));
        }
    }
    config::validate_against_spec(&config, &spec.connection_specification)?;
    Ok(config)
}

async fn execute(
    source: &dyn DynSource,
    command: Command,
    env: &RunEnv,
    output: &Output,
) -> Result<i32> {
    match command {
        Command::Spec => {
            let spec = source.spec()?;
            output.emit(&AirbyteMessage::Spec { spec });
            Ok(0)
        }
        Command::Check { config } => {
            let config = read_config(source, &config, output)?;
            let ctx = SourceContext {
                env: env.clone(),
                output: output.clone(),
            };
            // As the CDK does, a config the user must fix (spec validation, migration, the
            // source's own rules) is the check's answer, not a crash: CONNECTION_STATUS
            // FAILED with the error's message and exit 0. Anything else escapes as a TRACE.
            let prepared = prepare_config(source, config, env, output)
                .and_then(|config| source.prepare(&config, &ctx));
            let streams = match prepared {
                Ok(prepared) => prepared.streams,
                Err(e @ Error::Config { .. }) => {
                    tracing::warn!("Check failed: {}", e.message());
                    output.emit(&AirbyteMessage::connection_status(
                        Status::Failed,
                        Some(output.secrets().mask(e.message())),
                    ));
                    return Ok(0);
                }
                Err(e) => return Err(e),
            };
            let name = source.check_stream();
            let Some(stream) = streams.iter().find(|s| s.name == name).cloned() else {
                return Err(Error::system(format!(
                    "the check stream {name} is not declared"
                )));
            };
            let sync = SyncContext::new(output.clone(), env.clone(), 1);
            let status = match sync::check_stream(sync, stream).await {
                Ok(()) => AirbyteMessage::connection_status(Status::Succeeded, None),
                Err(e) => {
                    tracing::warn!("Check failed: {}", e.message());
                    AirbyteMessage::connection_status(
                        Status::Failed,
                        Some(
                            output
                                .secrets()
                                .mask(&format!("Stream {name} is not available: {}", e.message())),
                        ),
                    )
                }
            };
            output.emit(&status);
            Ok(0)
        }
        Command::Discover { config } => {
            let config = load_config(source, &config, env, output)?;
            let ctx = SourceContext {
                env: env.clone(),
                output: output.clone(),
            };
            let streams = source.prepare(&config, &ctx)?.streams;
            output.emit(&AirbyteMessage::Catalog {
                catalog: catalog(&streams),
            });
            Ok(0)
        }
        Command::Read {
            config,
            catalog: catalog_path,
            state,
        } => {
            let config = load_config(source, &config, env, output)?;
            let configured = config::read_catalog(&catalog_path)?;
            let states = match state {
                Some(p) => config::read_state(&p)?,
                None => Default::default(),
            };
            let ctx = SourceContext {
                env: env.clone(),
                output: output.clone(),
            };
            let Prepared { streams, workers } = source.prepare(&config, &ctx)?;
            let requests = sync::plan_read(&streams, &configured, &states, env.clock.now())?;
            // The requests hold the selected streams; the others (and their schemas, megabytes
            // for a source with dozens of streams) are not needed for the rest of the read.
            drop((streams, configured, states));
            tracing::info!(
                "Starting {} {}: reading {} stream(s)",
                source.name(),
                source.version(),
                requests.len()
            );
            let sync = SyncContext::new(output.clone(), env.clone(), workers);
            let failed = sync::read(Arc::clone(&sync), requests).await;
            if failed.is_empty() {
                tracing::info!("Finished reading");
                Ok(0)
            } else {
                let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
                tracing::error!(
                    "During the sync, the following streams did not sync successfully: {}",
                    names.join(", ")
                );
                Ok(1)
            }
        }
    }
}
