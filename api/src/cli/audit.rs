//! `cairn audit verify`: checks the whole chain of a stopped server's log.

use clap::{Args, Subcommand};
use serde_json::json;

use cairn_core::crypto::CheckpointSigner;

use super::{CliError, open_reader};
use crate::config::DataDirArgs;
use crate::master_key;

#[derive(Debug, Subcommand)]
pub(super) enum AuditCommand {
    /// Verify the hash chain and checkpoint signatures of the whole log.
    /// Exit 0 when intact, 3 on an integrity violation (naming the seq).
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub(super) struct VerifyArgs {
    #[command(flatten)]
    data: DataDirArgs,
    /// Print the result as JSON (the same shape as GET /api/v1/audit/verify).
    #[arg(long)]
    json: bool,
}

pub(super) fn run(command: AuditCommand) -> Result<(), CliError> {
    match command {
        AuditCommand::Verify(args) => verify(args),
    }
}

fn verify(args: VerifyArgs) -> Result<(), CliError> {
    let master = master_key::for_offline(&args.data.data_dir)?;
    let Some(master) = master else {
        return Err(CliError::failure(format!(
            "no master key: set CAIRN_MASTER_KEY (or keep {} in the data dir)",
            master_key::key_file(&args.data.data_dir).display()
        )));
    };
    let public_key = CheckpointSigner::new(&master).public_key();
    let reader = open_reader(&args.data, &master)?;
    let report = reader
        .verify(Some(&public_key))
        .map_err(|error| CliError::failure(error.to_string()))?;
    if args.json {
        let line = json!({
            "ok": report.ok(),
            "checked": report.checked,
            "head": {"seq": report.head.seq, "hash": hex::encode(report.head.hash)},
            "first_bad": report.first_bad.as_ref().map(|bad| bad.seq),
            "problem": report.first_bad.as_ref().map(|bad| bad.problem.clone()),
            "checkpoints_verified": report.checkpoints_verified,
        });
        println!("{line}");
    }
    match &report.first_bad {
        None => {
            if !args.json {
                println!(
                    "ok: {} records verified, head seq {} hash {}, {} checkpoint signatures verified",
                    report.checked,
                    report.head.seq,
                    hex::encode(report.head.hash),
                    report.checkpoints_verified
                );
            }
            Ok(())
        }
        Some(bad) => Err(CliError::integrity(format!(
            "integrity violation at seq {}: {}",
            bad.seq, bad.problem
        ))),
    }
}
