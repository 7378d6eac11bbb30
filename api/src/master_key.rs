//! Where the master key comes from.
//!
//! `CAIRN_MASTER_KEY` first. Without it, production refuses to start; in
//! development a key is generated once into `<data dir>/master.key` (mode
//! 0600) and every start warns loudly that a local key is in use. A wrong or
//! malformed key is a clear error, never a panic, and its text is never
//! echoed.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use cairn_core::OsEntropy;
use cairn_core::crypto::MasterKey;

use crate::cli_error::CliError;
use crate::config::{Environment, MASTER_KEY_VAR};

/// Where the key in use came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// `CAIRN_MASTER_KEY`.
    Environment,
    /// A development key file that already existed.
    File(PathBuf),
    /// A development key file generated now.
    Generated(PathBuf),
}

/// The development key file of a data dir.
pub fn key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("master.key")
}

fn from_environment() -> Result<Option<MasterKey>, CliError> {
    match crate::config::secret_env::raw(MASTER_KEY_VAR) {
        Ok(text) if text.trim().is_empty() => Ok(None),
        Ok(text) => MasterKey::parse(&text).map(Some).map_err(|error| {
            CliError::failure_because(format!("{MASTER_KEY_VAR} is malformed"), error)
        }),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(CliError::failure(format!(
            "{MASTER_KEY_VAR} is malformed: it is not valid UTF-8"
        ))),
    }
}

fn read_file(path: &Path) -> Result<MasterKey, CliError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        CliError::failure_because(
            format!("the master key file {} cannot be read", path.display()),
            error,
        )
    })?;
    let key = MasterKey::parse(&text).map_err(|error| {
        CliError::failure_because(
            format!("the master key file {} is malformed", path.display()),
            error,
        )
    })?;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "the master key file is readable by other users; chmod 600 it");
        }
    }
    Ok(key)
}

fn generate_file(path: &Path) -> Result<MasterKey, CliError> {
    let key = MasterKey::generate(&OsEntropy);
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(key.to_base64().as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|error| {
        CliError::failure_because(
            format!("cannot write the master key file {}", path.display()),
            error,
        )
    })?;
    Ok(key)
}

/// The key for `cairn serve`: may generate one in development.
pub fn for_server(
    data_dir: &Path,
    environment: Environment,
) -> Result<(MasterKey, KeySource), CliError> {
    if let Some(key) = from_environment()? {
        return Ok((key, KeySource::Environment));
    }
    if environment == Environment::Production {
        return Err(CliError::failure(format!(
            "{MASTER_KEY_VAR} is not set and CAIRN_ENV=production: refusing to start; create one with `cairn keygen`, store it in your secret manager and set {MASTER_KEY_VAR}"
        )));
    }
    let path = key_file(data_dir);
    if path.exists() {
        Ok((read_file(&path)?, KeySource::File(path)))
    } else {
        Ok((generate_file(&path)?, KeySource::Generated(path)))
    }
}

/// The key for offline commands: never generates one.
pub fn for_offline(data_dir: &Path) -> Result<Option<MasterKey>, CliError> {
    if let Some(key) = from_environment()? {
        return Ok(Some(key));
    }
    let path = key_file(data_dir);
    if path.exists() {
        read_file(&path).map(Some)
    } else {
        Ok(None)
    }
}
