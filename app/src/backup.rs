//! Backups through the server (`GET /api/v1/admin/backup`): superusers
//! only. The backup is taken as of the durable head when it begins, and is
//! itself an `audit.exported` event (format `backup`, seqs 1 to the head),
//! durable before the first byte is sent.

use cairn_core::log::backup::{BackupError, BackupSummary};

use super::principal::Principal;
use super::{App, CommandError, Origin};

/// The `format` an `audit.exported` event names for a backup.
pub const BACKUP_FORMAT: &str = "backup";

/// Checks the caller is a superuser, fixes the head and records the
/// `audit.exported` event. Returns the head the backup is taken as of.
pub async fn begin_backup(
    app: &App,
    principal: &Principal,
    origin: &Origin,
) -> Result<u64, CommandError> {
    principal.require_superuser()?;
    let head = app.log().durable_seq();
    super::audit_export::record_read_of_the_log(app, principal, origin, BACKUP_FORMAT, "", head)
        .await?;
    Ok(head)
}

/// Writes the backup as of `head` (blocking: run it off the async runtime).
pub fn write_planned(
    app: &App,
    head: u64,
    out: &mut dyn std::io::Write,
) -> Result<BackupSummary, BackupError> {
    app.log().reader().write_backup(head, out)
}
