//! Backups through the server (`GET /api/v1/admin/backup`): superusers
//! only. The backup is taken as of the durable head when it begins, and is
//! itself an `audit.exported` event (format `backup`, seqs 1 to the head),
//! durable before the first byte is sent.

use cairn_core::log::backup::{BackupError, BackupSummary, write_backup};
use cairn_schemas::{Action, AuditExported, EventPayload, ResourceKind, ResourceRef};

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
    if !principal.is_superuser {
        return Err(CommandError::Forbidden(
            "only a superuser may take a backup".into(),
        ));
    }
    let head = app.log().durable_seq();
    let event = principal.event(
        Action::AuditExported,
        ResourceRef {
            kind: ResourceKind::AuditLog,
            id: None,
        },
        principal.org_id,
        origin,
        EventPayload::AuditExported(AuditExported {
            format: BACKUP_FORMAT.into(),
            query: String::new(),
            from_seq: 1,
            to_seq: head,
        }),
    );
    app.execute(|_| Ok::<_, CommandError>(vec![event])).await?;
    Ok(head)
}

/// Writes the backup as of `head` (blocking: run it off the async runtime).
pub fn write_planned(
    app: &App,
    head: u64,
    out: &mut dyn std::io::Write,
) -> Result<BackupSummary, BackupError> {
    let reader = app.log().reader();
    write_backup(reader.store(), reader.dir(), head, out)
}
