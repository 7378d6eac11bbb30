//! `cairn keygen`: prints a new master key.

use cairn_core::OsEntropy;
use cairn_core::crypto::MasterKey;

use super::CliError;

pub(super) fn run() -> Result<(), CliError> {
    let key = MasterKey::generate(&OsEntropy);
    println!("{}", key.to_base64().as_str());
    Ok(())
}
