//! Organizations (superusers) and their members (admins of the org).

use cairn_audit::time_format::rfc3339_micros;
use cairn_core::log::NewEvent;
use cairn_schemas::api::{AddMemberRequest, CreateOrgRequest, MemberBody, OrgBody};
use cairn_schemas::{
    Action, EventPayload, OrgCreated, OrgMemberAdded, OrgMemberRemoved, ResourceKind, ResourceRef,
};
use uuid::Uuid;

use super::display_names::{Scope, Taken, check_display_name, refuse_look_alike};
use super::namespaces::system_namespaces;
use super::principal::Principal;
use super::users::parse_role;
use super::{App, CommandError, Origin};

/// The longest org name.
const MAX_ORG_NAME_CHARS: usize = 100;

fn org_event(
    principal: &Principal,
    action: Action,
    org: Uuid,
    origin: &Origin,
    payload: EventPayload,
) -> NewEvent {
    principal.event(
        action,
        ResourceRef {
            kind: ResourceKind::Org,
            id: Some(org),
        },
        org,
        origin,
        payload,
    )
}

/// Refuses unless `principal` administers `org`; an org they are not even
/// a member of looks like no org at all (404).
fn require_org_admin(app: &App, principal: &Principal, org: Uuid) -> Result<(), CommandError> {
    if principal.is_admin_of(org) {
        Ok(())
    } else if app.views().orgs.role_of(&principal.user_id, &org).is_some() {
        Err(CommandError::Forbidden(
            "this requires the admin role".into(),
        ))
    } else {
        Err(CommandError::NotFound)
    }
}

/// Org names are unique, look-alikes included, across the server.
const ORG_NAMES: Scope = Scope {
    what: "an organization",
    place: "",
};

/// Checks a new org name: the display-name policy, at most 100 characters
/// (`cairn_core::rules::display_name`).
pub fn check_org_name(name: &str) -> Result<String, CommandError> {
    check_display_name(name, MAX_ORG_NAME_CHARS)
}

/// The event that creates an org (shared with bootstrap).
pub fn org_created(name: String, org_id: Uuid) -> EventPayload {
    EventPayload::OrgCreated(OrgCreated { org_id, name })
}

/// `POST /api/v1/orgs` (superusers).
pub async fn create_org(
    app: &App,
    principal: &Principal,
    request: CreateOrgRequest,
    origin: &Origin,
) -> Result<OrgBody, CommandError> {
    principal.require_superuser()?;
    let name = check_org_name(&request.name)?;
    let org_id = app.new_id();
    app.execute(|views| {
        // Only superusers create orgs, and they see every org.
        refuse_look_alike(
            &name,
            &ORG_NAMES,
            views.orgs.all().map(|org| Taken {
                name: &org.name,
                visible: true,
            }),
        )?;
        let mut events = vec![org_event(
            principal,
            Action::OrgCreated,
            org_id,
            origin,
            org_created(name.clone(), org_id),
        )];
        events.extend(system_namespaces(app.ids(), org_id, origin));
        Ok::<_, CommandError>(events)
    })
    .await?;
    Ok(OrgBody {
        id: org_id,
        name,
        created_at: rfc3339_micros(app.now()),
    })
}

/// `GET /api/v1/orgs`: every org for a superuser, the caller's own otherwise.
pub fn list_orgs(app: &App, principal: &Principal) -> Vec<OrgBody> {
    let views = app.views();
    views
        .orgs
        .all()
        .filter(|org| {
            principal.is_superuser || views.orgs.role_of(&principal.user_id, &org.id).is_some()
        })
        .map(|org| OrgBody {
            id: org.id,
            name: org.name.clone(),
            created_at: rfc3339_micros(org.created_at),
        })
        .collect()
}

/// `POST /api/v1/orgs/{id}/members` (admins of that org).
pub async fn add_member(
    app: &App,
    principal: &Principal,
    org: Uuid,
    request: AddMemberRequest,
    origin: &Origin,
) -> Result<MemberBody, CommandError> {
    require_org_admin(app, principal, org)?;
    let role = parse_role("role", &request.role)?;
    let user_id = request.user_id;
    app.execute(|views| {
        if views.orgs.get(&org).is_none() {
            return Err(CommandError::NotFound);
        }
        // Admins may add users they can see (members of their own org);
        // superusers any user.
        let known = views.users.get(&user_id).is_some()
            && (principal.is_superuser
                || views.orgs.role_of(&user_id, &principal.org_id).is_some());
        if !known {
            return Err(CommandError::invalid("user_id", "no such user"));
        }
        if views.orgs.role_of(&user_id, &org).is_some() {
            return Err(CommandError::Conflict(
                "that user is already a member".into(),
            ));
        }
        Ok(vec![org_event(
            principal,
            Action::OrgMemberAdded,
            org,
            origin,
            EventPayload::OrgMemberAdded(OrgMemberAdded {
                org_id: org,
                user_id,
                role,
            }),
        )])
    })
    .await?;
    Ok(MemberBody {
        org_id: org,
        user_id,
        role: role.as_str().to_string(),
    })
}

/// `DELETE /api/v1/orgs/{id}/members/{user_id}` (admins of that org).
pub async fn remove_member(
    app: &App,
    principal: &Principal,
    org: Uuid,
    user_id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    require_org_admin(app, principal, org)?;
    if user_id == principal.user_id {
        return Err(CommandError::Conflict("you cannot remove yourself".into()));
    }
    principal.require_may_change(&app.views(), user_id)?;
    app.execute(|views| {
        if views.orgs.role_of(&user_id, &org).is_none() {
            return Err(CommandError::NotFound);
        }
        Ok(vec![org_event(
            principal,
            Action::OrgMemberRemoved,
            org,
            origin,
            EventPayload::OrgMemberRemoved(OrgMemberRemoved {
                org_id: org,
                user_id,
            }),
        )])
    })
    .await?;
    Ok(())
}
