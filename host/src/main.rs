//! The `opsorch` binary: `opsorch [serve]` runs the API server;
//! `opsorch plugin inspect <file>` describes an adapter library.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "opsorch",
    version,
    about = "OpsOrch Core: one API over operations tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default). Configured by OPSORCH_* variables.
    Serve,
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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let log_writer = opsorch::init_logging();
    opsorch::protect_process();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => opsorch::serve(&opsorch::ProcessEnv).await,
        Command::Plugin {
            command: PluginCommand::Inspect { file },
        } => {
            let (report, accepted) = opsorch::transports::library::inspect(&file);
            print!("{report}");
            return if accepted {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            };
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // Log lines still buffered go out first, so this one is last.
            drop(log_writer);
            // One line: the variable at fault and the reason.
            let line = format!("{err:#}").replace('\n', " ");
            eprintln!("opsorch: {}", opsorch::safe_text::escaped(&line));
            std::process::ExitCode::FAILURE
        }
    }
}
