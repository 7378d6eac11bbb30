//! Exporting the audit trail (`GET /api/v1/audit/export`): the caller's
//! org (every org for a superuser; with the account-wide events of its
//! members, as the events query), filtered like the events query, up to
//! the durable head when the export begins. The export is an
//! `audit.exported` event, durable before the first byte is sent.

use cairn_audit::export_stream::{ExportError, ExportFormat, write_export};
use cairn_schemas::{Action, AuditExported, EventPayload, ResourceRef};

use super::audit_log::{AuditQuery, require_audit_reader};
use super::principal::Principal;
use super::{App, CommandError, Origin};

/// What one export covers, decided (and recorded) before it is streamed.
#[derive(Clone, Debug)]
pub struct ExportPlan {
    /// The format.
    pub format: ExportFormat,
    /// The filters.
    pub query: AuditQuery,
    /// Only this org's events, or every org's (a superuser).
    pub org: Option<uuid::Uuid>,
    /// The last seq the export reads: the durable head when it began.
    pub to_seq: u64,
}

/// Records a read of the whole log up to `to_seq` by `principal` (an
/// export or a backup) as `audit.exported`, durable before it returns.
pub(crate) async fn record_read_of_the_log(
    app: &App,
    principal: &Principal,
    origin: &Origin,
    format: &str,
    query: &str,
    to_seq: u64,
) -> Result<(), CommandError> {
    let event = principal.event(
        Action::AuditExported,
        ResourceRef::AUDIT_LOG,
        principal.org_id,
        origin,
        EventPayload::AuditExported(AuditExported {
            format: format.into(),
            query: query.chars().take(512).collect(),
            from_seq: 1,
            to_seq,
        }),
    );
    app.commit(vec![event]).await?;
    Ok(())
}

/// Checks the caller may export, fixes the range and records the
/// `audit.exported` event (durable before this returns).
pub async fn begin_export(
    app: &App,
    principal: &Principal,
    format: ExportFormat,
    query: AuditQuery,
    origin: &Origin,
) -> Result<ExportPlan, CommandError> {
    require_audit_reader(principal)?;
    let to_seq = app.log().durable_seq();
    record_read_of_the_log(app, principal, origin, format.as_str(), &query.text, to_seq).await?;
    Ok(ExportPlan {
        format,
        org: (!principal.is_superuser).then_some(principal.org_id),
        query,
        to_seq,
    })
}

/// Writes the planned export (blocking: run it off the async runtime).
pub fn write_planned(
    app: &App,
    plan: &ExportPlan,
    out: &mut impl std::io::Write,
) -> Result<u64, ExportError> {
    write_export(
        app.log().reader(),
        1,
        plan.to_seq,
        |record| {
            plan.org
                .is_none_or(|org| super::audit_log::in_org_scope(app, org, record))
                && plan.query.matches(record)
        },
        plan.format,
        out,
    )
}
