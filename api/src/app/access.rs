//! Authorization at the command layer: every command on a catalog resource
//! asks [`require`] (which asks `cairn_projections::access::authorize`)
//! before it decides anything, and a refusal carries the explanation to
//! the audit trail. `GET /api/v1/access/explain` answers the same question
//! for any user the caller may ask about.

use cairn_projections::Views;
use cairn_projections::access::{AccessPath, Decision, Target, Who, authorize};
use cairn_projections::sharing::CatalogEntry;
use cairn_schemas::api::ExplainBody;
use cairn_schemas::{AccessAction, Action, EventPayload, ResourceKind, ResourceRef};
use uuid::Uuid;

use super::error::Denial;
use super::{App, CommandError, Principal};

/// The principal as `authorize` sees it: a user acting in an org.
pub fn who(principal: &Principal) -> Who {
    Who {
        user_id: principal.user_id,
        org_id: principal.org_id,
    }
}

/// The refusal for a denied decision: 404 when the resource is not
/// visible, 403 otherwise, with the explanation for the audit trail.
pub fn denied(
    views: &Views,
    decision: &Decision,
    action: AccessAction,
    target: Target,
) -> CommandError {
    CommandError::Denied(Box::new(Denial {
        action: Some(action),
        resource: ResourceRef {
            kind: target.kind,
            id: Some(target.id),
        },
        visible: decision.visible(),
        reason: decision.explain(views, action, target.kind),
    }))
}

/// The resource, when `principal` may do `action` to it; the refusal
/// otherwise.
pub fn require<'v>(
    views: &'v Views,
    principal: &Principal,
    action: AccessAction,
    kind: ResourceKind,
    id: Uuid,
) -> Result<&'v CatalogEntry, CommandError> {
    let target = Target { kind, id };
    let decision = authorize(views, who(principal), action, target);
    match views.catalog.get_kind(kind, &id) {
        Some(entry) if decision.allowed => Ok(entry),
        _ => Err(denied(views, &decision, action, target)),
    }
}

/// The one shape of a command on an existing catalog resource: authorize
/// `action` on it, let `decide` check what else it must and build the
/// payload, and record `event` in the resource's org, durably.
#[allow(clippy::too_many_arguments)]
pub async fn act_on(
    app: &App,
    principal: &Principal,
    action: AccessAction,
    kind: ResourceKind,
    id: Uuid,
    event: Action,
    origin: &super::Origin,
    decide: impl FnOnce(&Views, &CatalogEntry) -> Result<EventPayload, CommandError>,
) -> Result<(), CommandError> {
    app.execute(|views| {
        let entry = require(views, principal, action, kind, id)?;
        let payload = decide(views, entry)?;
        Ok::<_, CommandError>(vec![principal.event(
            event,
            ResourceRef { kind, id: Some(id) },
            entry.org_id,
            origin,
            payload,
        )])
    })
    .await?;
    Ok(())
}

/// May `principal` create an owned, org-level resource of `kind` (a
/// secret, a connection) named `name`? Their role must allow it, and the
/// name must be free among their own of that kind. The org it goes in.
pub fn may_create_owned(
    views: &Views,
    principal: &Principal,
    kind: ResourceKind,
    name: &str,
) -> Result<Uuid, CommandError> {
    let decision = cairn_projections::access::authorize_create(views, who(principal), kind, None);
    if !decision.allowed {
        return Err(CommandError::Forbidden(format!(
            "org role {} does not allow creating a {kind}",
            principal.role
        )));
    }
    let org_id = principal.org_id;
    let taken = views
        .catalog
        .by_name(org_id, Some(principal.user_id), kind, name)
        .is_some();
    if taken {
        return Err(CommandError::Conflict(format!(
            "you already have a {kind} with that name"
        )));
    }
    Ok(org_id)
}

/// The refusal for something the caller may not see, or that does not
/// exist (the same answer, 404), naming it for the audit trail.
pub fn not_visible(resource: ResourceRef) -> CommandError {
    CommandError::Denied(Box::new(Denial {
        action: None,
        resource,
        visible: false,
        reason: "denied: not visible".into(),
    }))
}

/// A refusal that is about a role, not a resource (creating a group
/// without the admin role).
pub fn role_denied(resource: ResourceRef, reason: impl Into<String>) -> CommandError {
    CommandError::Denied(Box::new(Denial {
        action: None,
        resource,
        visible: true,
        reason: reason.into(),
    }))
}

/// `GET /api/v1/access/explain`: the question, parsed.
#[derive(Clone, Copy, Debug)]
pub struct ExplainQuery {
    /// Whose access (the caller when absent).
    pub user_id: Option<Uuid>,
    /// The resource's kind.
    pub kind: ResourceKind,
    /// The resource.
    pub id: Uuid,
    /// The action.
    pub action: AccessAction,
    /// As of this seq (now when absent).
    pub at_seq: Option<u64>,
}

/// The path as data, for the API (explain, the access review): its name
/// (`owner`, `grant`, `org_admin`, …), the grant and the group it went to.
pub fn path_fields(path: Option<AccessPath>) -> (Option<String>, Option<Uuid>, Option<Uuid>) {
    let Some(path) = path else {
        return (None, None, None);
    };
    let name = match path {
        AccessPath::Owner => "owner",
        AccessPath::Superuser => "superuser",
        AccessPath::OrgAdmin { .. } => "org_admin",
        AccessPath::OrgRole { .. } => "org_role",
        AccessPath::NamespaceOwner { .. } => "namespace_owner",
        AccessPath::Grant { .. } => "grant",
        AccessPath::PublicNamespace { .. } => "public_namespace",
    };
    match path {
        AccessPath::Grant {
            grant_id,
            via_group,
            ..
        } => (Some(name.into()), Some(grant_id), via_group),
        _ => (Some(name.into()), None, None),
    }
}

/// Answers the question with `views` (now, or as of a seq).
fn explain_in(views: &Views, principal: &Principal, query: ExplainQuery) -> ExplainBody {
    let user = query.user_id.unwrap_or(principal.user_id);
    // A superuser asks as of the resource's own org; everyone else about
    // the org they act in, as the user would act there.
    let org = match views.catalog.get(&query.id) {
        Some(entry) if principal.is_superuser => entry.org_id,
        _ => principal.org_id,
    };
    let target = Target {
        kind: query.kind,
        id: query.id,
    };
    let decision = authorize(
        views,
        Who {
            user_id: user,
            org_id: org,
        },
        query.action,
        target,
    );
    let (path, grant_id, via_group) = path_fields(decision.path());
    ExplainBody {
        allowed: decision.allowed,
        reason: decision.explain(views, query.action, query.kind),
        path,
        grant_id,
        via_group,
    }
}

/// `GET /api/v1/access/explain`. Anyone may ask about themselves; an admin
/// about the members of their org; a superuser about anyone. A user the
/// caller may not ask about is 404, like an unknown one.
pub fn explain(
    app: &App,
    principal: &Principal,
    query: ExplainQuery,
) -> Result<ExplainBody, CommandError> {
    if let Some(user) = query.user_id.filter(|user| *user != principal.user_id) {
        let views = app.views();
        let member = views.orgs.role_of(&user, &principal.org_id).is_some();
        let known = views.users.get(&user).is_some();
        if !(principal.is_superuser && known || principal.is_admin_of(principal.org_id) && member) {
            let about = ResourceRef {
                kind: ResourceKind::User,
                id: Some(user),
            };
            return Err(if member {
                role_denied(
                    about,
                    "explaining another user's access requires the admin role",
                )
            } else {
                not_visible(about)
            });
        }
    }
    match query.at_seq {
        None => Ok(explain_in(&app.views(), principal, query)),
        Some(seq) => {
            let views = app.views_at(seq)?;
            Ok(explain_in(&views, principal, query))
        }
    }
}
