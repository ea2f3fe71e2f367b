//! The `opsorch` binary: `opsorch [serve]` runs the API server.

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
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    opsorch::init_logging();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => opsorch::serve(&opsorch::ProcessEnv).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // One line: the variable at fault and the reason.
            eprintln!("opsorch: {}", format!("{err:#}").replace('\n', " "));
            std::process::ExitCode::FAILURE
        }
    }
}
