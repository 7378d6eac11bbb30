//! `cairn admin create-superuser`: creates a superuser (and a personal org)
//! in a stopped server's data dir. The password is read from standard input
//! (one line) or, on a terminal, from a prompt that does not echo; never
//! from the command line, where every user of the machine could read it.

use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

use cairn_core::log::{EventLog, LogConfig, OpenError, StoreError};
use cairn_core::{OsEntropy, SystemClock};
use cairn_schemas::Password;
use clap::{Args, Subcommand};

use super::CliError;
use crate::config::{CadenceArgs, DataDirArgs};
use crate::master_key;
use cairn_app::{App, AppSettings, CommandError, Origin, bootstrap};

#[derive(Debug, Subcommand)]
pub(super) enum AdminCommand {
    /// Create a superuser with a personal organization (server stopped).
    /// The password is read from stdin, or prompted for on a terminal.
    CreateSuperuser(CreateSuperuserArgs),
}

#[derive(Debug, Args)]
pub(super) struct CreateSuperuserArgs {
    #[command(flatten)]
    data: DataDirArgs,
    /// The new superuser's username.
    #[arg(long)]
    username: String,
    #[command(flatten)]
    cadence: CadenceArgs,
}

pub(super) fn run(command: AdminCommand) -> Result<(), CliError> {
    match command {
        AdminCommand::CreateSuperuser(args) => create_superuser(args),
    }
}

fn read_password() -> Result<Password, CliError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = rpassword::prompt_password("Password: ")
            .map_err(|error| CliError::failure_because("reading the password", error))?;
        let second = rpassword::prompt_password("Repeat: ")
            .map_err(|error| CliError::failure_because("reading the password", error))?;
        if first != second {
            return Err(CliError::failure("the passwords differ"));
        }
        return Ok(Password::new(first));
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|error| CliError::failure_because("reading the password from stdin", error))?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err(CliError::failure(
            "no password on stdin (pipe it in, or run on a terminal to be prompted)",
        ));
    }
    Ok(Password::new(password))
}

fn create_superuser(args: CreateSuperuserArgs) -> Result<(), CliError> {
    let Some(master) = master_key::for_offline(&args.data.data_dir)? else {
        return Err(CliError::failure(format!(
            "no master key: set CAIRN_MASTER_KEY (or keep {} in the data dir)",
            master_key::key_file(&args.data.data_dir).display()
        )));
    };
    let password = read_password()?;
    let config = LogConfig {
        dir: args.data.data_dir.clone(),
        create: false,
        cadence: args.cadence.cadence(),
    };
    let (log, _) = EventLog::open(&config, &master, Arc::new(SystemClock), Arc::new(OsEntropy)).map_err(|error| match error {
        OpenError::Store(StoreError::InUse(dir)) => CliError::failure(format!(
            "the data dir {} is in use by a running cairn server: stop it first (or use the bootstrap variables)",
            dir.display()
        )),
        other => CliError::failed(other),
    })?;
    let log = Arc::new(log);
    let app = App::start(
        Arc::clone(&log),
        &master,
        AppSettings::default(),
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    )
    .map_err(|error| CliError::failure_because("cannot rebuild the views", error))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| CliError::failure_because("cannot start the async runtime", error))?;
    let created = runtime.block_on(bootstrap::create_superuser(
        &app,
        &args.username,
        &password,
        false,
        &Origin::local("cli"),
    ));
    let closed = log.close();
    match created {
        Ok(Some(id)) => {
            closed.map_err(|error| CliError::failure_because("closing the log", error))?;
            println!(
                "created superuser {} ({id}) with a personal organization",
                args.username.trim()
            );
            Ok(())
        }
        Ok(None) => Err(CliError::failure("no superuser was created")),
        Err(CommandError::Invalid { field, message }) => {
            Err(CliError::failure(format!("{field}: {message}")))
        }
        Err(error) => Err(CliError::failed(error)),
    }
}
