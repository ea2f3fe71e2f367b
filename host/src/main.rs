//! The `opsorch` binary: `opsorch [serve]` runs the API server; `opsorch
//! check` validates the configuration; `opsorch plugin inspect <file>`
//! describes an adapter library.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use opsorch::cli::{self, Inherited, LogFormat};

#[derive(Parser)]
#[command(
    name = "opsorch",
    about = "OpsOrch Core: one API over operations tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default). Configured by OPSORCH_* variables;
    /// SIGHUP starts a successor that takes the listeners over.
    Serve,
    /// Validate the whole configuration (environment, adapter libraries,
    /// plugin paths, secret store and key) without opening a socket. Prints
    /// one line per problem; exits 1 if there is any.
    Check,
    /// Work with adapter libraries.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Load one adapter library and print its manifest, its providers and
    /// whether this host accepts it. Exits 1 when it would be refused.
    Inspect {
        /// Path of the `.so`/`.dylib` file.
        file: std::path::PathBuf,
    },
}

fn version() -> &'static str {
    let text = format!(
        "{} (adapter interface {})",
        env!("CARGO_PKG_VERSION"),
        cli::host_interface_version()
    );
    Box::leak(text.into_boxed_str())
}

fn main() -> ExitCode {
    let command = Cli::command().version(version());
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let command = cli.command.unwrap_or(Command::Serve);
    // `check` reports a bad value among its problems; `serve` refuses it.
    let format = match LogFormat::from_var(std::env::var(cli::FORMAT_VAR).ok().as_deref()) {
        Ok(format) => format,
        Err(e) if matches!(command, Command::Serve) => {
            return refuse(LogFormat::Text, &e.to_string())
        }
        Err(_) => LogFormat::Text,
    };
    // Taken before any thread starts: it edits the environment.
    let inherited = match &command {
        Command::Serve => match Inherited::from_env() {
            Ok(inherited) => inherited,
            Err(e) => return refuse(format, &e.to_string()),
        },
        _ => Inherited::default(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return refuse(format, &format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(run(command, format, inherited))
}

async fn run(command: Command, format: LogFormat, inherited: Inherited) -> ExitCode {
    match command {
        Command::Plugin {
            command: PluginCommand::Inspect { file },
        } => {
            let (report, accepted) = cli::inspect(&file);
            print!("{report}");
            if accepted {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Check => {
            let problems = cli::check(&opsorch::ProcessEnv).await;
            for problem in &problems {
                println!("{problem}");
            }
            if problems.is_empty() {
                println!("opsorch check: the configuration is valid");
                ExitCode::SUCCESS
            } else {
                println!(
                    "opsorch check: {} problem{}",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                );
                ExitCode::FAILURE
            }
        }
        Command::Serve => {
            let log_writer = cli::init_logging_as(format);
            opsorch::protect_process();
            let audit = log_writer.audit_log();
            match opsorch::serve(&opsorch::ProcessEnv, inherited, audit).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    // Log lines still buffered go out first, so this one is last.
                    drop(log_writer);
                    refuse(format, &format!("{err:#}"))
                }
            }
        }
    }
}

/// Prints the one-line reason start-up was refused (a JSON object with
/// `OPSORCH_LOG_FORMAT=json`) and returns the failure status.
fn refuse(format: LogFormat, reason: &str) -> ExitCode {
    use std::io::Write;
    let reason = cli::escaped(&reason.replace('\n', " "));
    let line = match format {
        LogFormat::Text => format!("opsorch: {reason}\n"),
        LogFormat::Json => format!(
            "{}\n",
            serde_json::json!({"level": "ERROR", "target": "opsorch", "message": format!("opsorch: {reason}")})
        ),
    };
    // One write: a successor shares its stderr with the host it would
    // replace, and a line written in pieces could interleave with that
    // host's log lines.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    ExitCode::FAILURE
}
