//! Grants: sharing a resource at `use` or `manage` with a user or a group
//! (docs/contract.md section 4). The rules live in
//! `cairn_projections::access::check_grant`; this module turns its answer
//! into events and refusals. Revocation takes effect on the next request,
//! since every request authorizes against the views.

use cairn_audit::time_format::rfc3339_micros;
use cairn_projections::Views;
use cairn_projections::access::{GrantRefusal, Target, authorize, check_grant};
use cairn_projections::sharing::GrantRecord;
use cairn_schemas::api::{CreateGrantRequest, GrantBody};
use cairn_schemas::{
    AccessAction, Action, EventPayload, GrantCreated, GrantLevel, GrantRevoked, GranteeKind,
    ResourceKind, ResourceRef,
};
use uuid::Uuid;

use super::access::{denied, not_visible, role_denied, who};
use super::listing::{paginate, parse_named};
use super::principal::Principal;
use super::{App, CommandError, Origin};

/// The kinds of resource a grant may be on.
pub const SHAREABLE: &[ResourceKind] = &[
    ResourceKind::Namespace,
    ResourceKind::Flow,
    ResourceKind::Secret,
    ResourceKind::Connection,
    ResourceKind::Schedule,
];

fn grant_ref(id: Uuid) -> ResourceRef {
    ResourceRef {
        kind: ResourceKind::Grant,
        id: Some(id),
    }
}

/// A grant as the API shows it.
pub fn grant_body(grant: &GrantRecord) -> GrantBody {
    GrantBody {
        id: grant.id,
        org_id: grant.org_id,
        resource_type: grant.resource_kind.as_str().to_string(),
        resource_id: grant.resource_id,
        grantee_type: grant.grantee_kind.as_str().to_string(),
        grantee_id: grant.grantee_id,
        level: grant.level.as_str().to_string(),
        granted_by: grant.granted_by,
        created_at: rfc3339_micros(grant.created_at),
    }
}

/// The refusal for a grant the rules do not allow.
fn refusal(views: &Views, target: Target, refused: GrantRefusal) -> CommandError {
    let resource = ResourceRef {
        kind: target.kind,
        id: Some(target.id),
    };
    match refused {
        GrantRefusal::Denied(decision) => denied(views, &decision, AccessAction::Share, target),
        GrantRefusal::SecretsAreUseOnly => CommandError::invalid(
            "level",
            "a secret is shared at use only: grantees resolve it in runs but never read it",
        ),
        GrantRefusal::ManageNeedsOwner => role_denied(
            resource,
            "only the owner or an admin grants manage; a manage grantee re-shares at use only",
        ),
        GrantRefusal::ReshareToOwnGroupsOnly => role_denied(
            resource,
            "a manage grantee re-shares only to groups they belong to",
        ),
        GrantRefusal::NoSuchGrantee => CommandError::invalid(
            "grantee_id",
            "no such user or group in the resource's organization",
        ),
        GrantRefusal::Duplicate(existing) => {
            CommandError::Conflict(format!("the same grant exists: {existing}"))
        }
    }
}

/// `POST /api/v1/grants`.
pub async fn create_grant(
    app: &App,
    principal: &Principal,
    request: CreateGrantRequest,
    origin: &Origin,
) -> Result<GrantBody, CommandError> {
    let kind = parse_named(
        "resource_type",
        &request.resource_type,
        SHAREABLE,
        ResourceKind::as_str,
    )?;
    let grantee_kind = parse_named(
        "grantee_type",
        &request.grantee_type,
        GranteeKind::ALL,
        GranteeKind::as_str,
    )?;
    let level = parse_named("level", &request.level, GrantLevel::ALL, GrantLevel::as_str)?;
    let target = Target {
        kind,
        id: request.resource_id,
    };
    let grant_id = app.new_id();
    app.execute(|views| {
        check_grant(
            views,
            who(principal),
            target,
            grantee_kind,
            request.grantee_id,
            level,
        )
        .map_err(|refused| refusal(views, target, refused))?;
        let org_id = views
            .catalog
            .get(&target.id)
            .map(|entry| entry.org_id)
            .ok_or(CommandError::NotFound)?;
        Ok::<_, CommandError>(vec![principal.event(
            Action::GrantCreated,
            grant_ref(grant_id),
            org_id,
            origin,
            EventPayload::GrantCreated(GrantCreated {
                grant_id,
                org_id,
                resource_kind: kind,
                resource_id: target.id,
                grantee_kind,
                grantee_id: request.grantee_id,
                level,
                granted_by: principal.user_id,
            }),
        )])
    })
    .await?;
    let views = app.views();
    views
        .grants
        .get(&grant_id)
        .map(grant_body)
        .ok_or_else(|| CommandError::Internal("the new grant is not in the view".into()))
}

/// What the caller may do with a grant: `Some(true)` revoke it,
/// `Some(false)` see it, `None` not even see it.
fn grant_rights(views: &Views, principal: &Principal, grant: &GrantRecord) -> Option<bool> {
    let target = Target {
        kind: grant.resource_kind,
        id: grant.resource_id,
    };
    let share = authorize(views, who(principal), AccessAction::Share, target);
    let authority = share.allowed && share.path().is_some_and(|path| path.is_authority());
    if authority || (share.allowed && grant.granted_by == principal.user_id) {
        return Some(true);
    }
    let mine = match grant.grantee_kind {
        GranteeKind::User => grant.grantee_id == principal.user_id,
        GranteeKind::Group => views
            .groups
            .is_member(&grant.grantee_id, &principal.user_id),
    };
    (share.allowed || mine).then_some(false)
}

/// `GET /api/v1/grants`: grants on what the caller may share, and grants
/// to the caller and their groups.
pub fn list_grants(
    app: &App,
    principal: &Principal,
    after: Option<Uuid>,
    limit: usize,
) -> (Vec<GrantBody>, Option<Uuid>) {
    let views = app.views();
    let mut grants: Vec<&GrantRecord> = if principal.is_superuser {
        views
            .orgs
            .all()
            .flat_map(|org| views.grants.in_org(&org.id))
            .collect()
    } else {
        views
            .grants
            .in_org(&principal.org_id)
            .filter(|grant| grant_rights(&views, principal, grant).is_some())
            .collect()
    };
    grants.sort_unstable_by_key(|grant| grant.id);
    paginate(
        grants
            .into_iter()
            .map(|grant| (grant.id, grant_body(grant))),
        after,
        limit,
    )
}

/// `DELETE /api/v1/grants/{id}`: by the resource's owner, an admin, or
/// whoever made the grant while they may still share the resource.
pub async fn revoke_grant(
    app: &App,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    app.execute(|views| {
        // A grant the caller may not see is answered like a missing one,
        // and the refusal's event names it either way.
        let grant = views
            .grants
            .get(&id)
            .ok_or_else(|| not_visible(grant_ref(id)))?;
        match grant_rights(views, principal, grant) {
            None => return Err(not_visible(grant_ref(id))),
            Some(false) => {
                return Err(role_denied(
                    grant_ref(id),
                    "only the resource's owner, an admin, or the grant's maker revokes it",
                ));
            }
            Some(true) => {}
        }
        Ok::<_, CommandError>(vec![principal.event(
            Action::GrantRevoked,
            grant_ref(id),
            grant.org_id,
            origin,
            EventPayload::GrantRevoked(GrantRevoked { grant_id: id }),
        )])
    })
    .await?;
    Ok(())
}
