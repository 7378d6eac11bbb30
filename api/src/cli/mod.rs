//! The `cairn` command line: parsing, dispatch and exit codes.
//!
//! Exit codes (a contract): 0 ok, 1 failure, 2 usage, 3 integrity violation
//! found. Every failure is one clear line on stderr, never a panic.

mod admin;
mod audit;
mod backup;
mod compact;
mod events;
mod keygen;
mod replay;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use crate::cli_error::CliError;
use crate::config::{DataDirArgs, ServeArgs};

/// Cairn: an audit-first control plane for workflow platforms.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Print a new random master key (URL-safe base64 of 32 bytes).
    Keygen,
    /// Administration of a stopped server's data dir.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Audit log operations.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Read the event log of a stopped server.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// Rebuild the views as of a point of the log (server stopped): a
    /// summary, an authorization question answered as of then, or what
    /// changed between two points.
    Replay(replay::ReplayArgs),
    /// Write a consistent backup into a new directory: through the running
    /// server (a superuser's token in CAIRN_TOKEN), or from the data dir
    /// of a stopped one.
    Backup(backup::BackupArgs),
    /// Restore a backup into a new data dir, then verify its whole chain.
    Restore(backup::RestoreArgs),
    /// Rewrite a stopped server's store so that no payload retention
    /// dropped stays readable in its files.
    Compact(compact::CompactArgs),
}

/// Parses the command line (after loading `.env`) and runs the command.
pub fn main() -> ExitCode {
    // `.env` fills in variables that are not already set; flags override both.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("error: .env cannot be read: {error}");
        return ExitCode::from(2);
    }
    install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { 2 } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error.message.replace('\n', " "));
            ExitCode::from(error.code)
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => crate::serve::run(args),
        Command::Keygen => keygen::run(),
        Command::Admin(command) => admin::run(command),
        Command::Audit(command) => audit::run(command),
        Command::Events(command) => events::run(command),
        Command::Replay(args) => replay::run(args),
        Command::Backup(args) => backup::backup(args),
        Command::Restore(args) => backup::restore(args),
        Command::Compact(args) => compact::run(args),
    }
}

/// A panic is a bug; if one ever happens, say so in one line (without the
/// payload, which could hold data) and keep the process's exit non-zero.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|location| format!(" at {}:{}", location.file(), location.line()));
        eprintln!(
            "error: internal error{} (a bug: please report it)",
            place.unwrap_or_default()
        );
    }));
}

/// Opens the log of a stopped server for reading, with one clear error when
/// the data dir is in use or unreadable.
pub(crate) fn open_reader(
    data: &DataDirArgs,
    master: &cairn_core::crypto::MasterKey,
) -> Result<cairn_core::log::LogReader, CliError> {
    use cairn_core::log::{OpenError, StoreError};
    cairn_core::log::LogReader::open(&data.data_dir, master).map_err(|error| match error {
        OpenError::Store(StoreError::InUse(dir)) => CliError::failure(format!(
            "the data dir {} is in use by a running cairn server: stop it first, or use the HTTP API",
            dir.display()
        )),
        other => CliError::failed(other),
    })
}
