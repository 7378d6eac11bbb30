//! Groups of an org: admins create and delete them; their owners and
//! managers (and admins) manage membership; the last owner stays.

use cairn_audit::time_format::rfc3339_micros;
use cairn_core::log::NewEvent;
use cairn_projections::Views;
use cairn_projections::sharing::GroupRecord;
use cairn_schemas::api::{
    AddGroupMemberRequest, CreateGroupRequest, GroupBody, GroupMemberBody, UpdateGroupMemberRequest,
};
use cairn_schemas::{
    Action, EventPayload, GroupCreated, GroupDeleted, GroupMemberAdded, GroupMemberRemoved,
    GroupMemberRoleChanged, GroupRole, ResourceKind, ResourceRef,
};
use uuid::Uuid;

use super::access::{not_visible, role_denied};
use super::display_names::{Scope, Taken, check_display_name, refuse_look_alike};
use super::listing::{paginate, parse_named};
use super::principal::Principal;
use super::{App, CommandError, Origin};

/// The longest group name.
const MAX_GROUP_NAME_CHARS: usize = 100;

/// Group names are unique, look-alikes included, within their org.
const GROUP_NAMES: Scope = Scope {
    what: "a group",
    place: "in this organization",
};

/// What the caller may do with a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Authority {
    /// A member: sees the group, may leave it.
    Member,
    /// Manages members and managers.
    Manager,
    /// Manages everyone, owners included.
    Owner,
    /// An admin of the group's org (or a superuser): everything.
    Admin,
}

/// The caller's authority over the group, or `None` when they may not even
/// see it (answered like a missing group).
fn authority(views: &Views, principal: &Principal, group: &GroupRecord) -> Option<Authority> {
    if principal.is_superuser || principal.is_admin_of(group.org_id) {
        return Some(Authority::Admin);
    }
    if group.org_id != principal.org_id {
        return None;
    }
    views
        .groups
        .role_in(&group.id, &principal.user_id)
        .map(|role| match role {
            GroupRole::Owner => Authority::Owner,
            GroupRole::Manager => Authority::Manager,
            GroupRole::Member => Authority::Member,
        })
}

fn group_ref(id: Option<Uuid>) -> ResourceRef {
    ResourceRef {
        kind: ResourceKind::Group,
        id,
    }
}

/// The group and the caller's authority over it; 404 when not visible,
/// exactly as when missing, with the group named in the refusal's event.
fn visible_group<'v>(
    views: &'v Views,
    principal: &Principal,
    id: Uuid,
) -> Result<(&'v GroupRecord, Authority), CommandError> {
    let group = views
        .groups
        .get(&id)
        .ok_or_else(|| not_visible(group_ref(Some(id))))?;
    let authority =
        authority(views, principal, group).ok_or_else(|| not_visible(group_ref(Some(id))))?;
    Ok((group, authority))
}

/// Membership changes need a manager; owners are changed only by owners.
fn require_manage_members(
    group: &GroupRecord,
    authority: Authority,
    touches_owner: bool,
) -> Result<(), CommandError> {
    let needed = if touches_owner {
        Authority::Owner
    } else {
        Authority::Manager
    };
    if authority >= needed {
        Ok(())
    } else if touches_owner {
        Err(role_denied(
            group_ref(Some(group.id)),
            "only the group's owners and admins change its owners",
        ))
    } else {
        Err(role_denied(
            group_ref(Some(group.id)),
            "only the group's owners and managers and admins change its members",
        ))
    }
}

fn parse_group_role(text: &str) -> Result<GroupRole, CommandError> {
    parse_named("role", text, GroupRole::ALL, GroupRole::as_str)
}

fn group_event(
    principal: &Principal,
    action: Action,
    group: &GroupRecord,
    origin: &Origin,
    payload: EventPayload,
) -> NewEvent {
    principal.event(
        action,
        group_ref(Some(group.id)),
        group.org_id,
        origin,
        payload,
    )
}

/// A group as the API shows it.
pub fn group_body(group: &GroupRecord) -> GroupBody {
    GroupBody {
        id: group.id,
        org_id: group.org_id,
        name: group.name.clone(),
        created_at: rfc3339_micros(group.created_at),
        members: group
            .members
            .iter()
            .map(|(user, role)| GroupMemberBody {
                group_id: group.id,
                user_id: *user,
                role: role.as_str().to_string(),
            })
            .collect(),
    }
}

/// `POST /api/v1/groups` (admins): the creator is the first owner.
pub async fn create_group(
    app: &App,
    principal: &Principal,
    request: CreateGroupRequest,
    origin: &Origin,
) -> Result<GroupBody, CommandError> {
    principal
        .require_admin()
        .map_err(|_| role_denied(group_ref(None), "creating a group requires the admin role"))?;
    let name = check_display_name(&request.name, MAX_GROUP_NAME_CHARS)?;
    let group_id = app.new_id();
    let org_id = principal.org_id;
    app.execute(|views| {
        // The creator administers the org, so sees every group in it.
        refuse_look_alike(
            &name,
            &GROUP_NAMES,
            views.groups.in_org(&org_id).map(|group| Taken {
                name: &group.name,
                visible: true,
            }),
        )?;
        Ok::<_, CommandError>(vec![principal.event(
            Action::GroupCreated,
            group_ref(Some(group_id)),
            org_id,
            origin,
            EventPayload::GroupCreated(GroupCreated {
                group_id,
                org_id,
                name: name.clone(),
                owner_id: principal.user_id,
            }),
        )])
    })
    .await?;
    get_group(app, principal, group_id)
}

/// `GET /api/v1/groups`: an admin's whole org (a superuser's every org);
/// otherwise the groups the caller is in.
pub fn list_groups(
    app: &App,
    principal: &Principal,
    after: Option<Uuid>,
    limit: usize,
) -> (Vec<GroupBody>, Option<Uuid>) {
    let views = app.views();
    let mut groups: Vec<&GroupRecord> = if principal.is_superuser {
        views
            .orgs
            .all()
            .flat_map(|org| views.groups.in_org(&org.id))
            .collect()
    } else if principal.is_admin_of(principal.org_id) {
        views.groups.in_org(&principal.org_id).collect()
    } else {
        views
            .groups
            .groups_of(&principal.user_id)
            .iter()
            .filter_map(|id| views.groups.get(id))
            .filter(|group| group.org_id == principal.org_id)
            .collect()
    };
    groups.sort_unstable_by_key(|group| group.id);
    paginate(
        groups
            .into_iter()
            .map(|group| (group.id, group_body(group))),
        after,
        limit,
    )
}

/// `GET /api/v1/groups/{id}`.
pub fn get_group(app: &App, principal: &Principal, id: Uuid) -> Result<GroupBody, CommandError> {
    let views = app.views();
    let (group, _) = visible_group(&views, principal, id)?;
    Ok(group_body(group))
}

/// `DELETE /api/v1/groups/{id}` (admins): its memberships and grants end.
pub async fn delete_group(
    app: &App,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    app.execute(|views| {
        let (group, authority) = visible_group(views, principal, id)?;
        if authority != Authority::Admin {
            return Err(role_denied(
                group_ref(Some(id)),
                "deleting a group requires the admin role",
            ));
        }
        Ok::<_, CommandError>(vec![group_event(
            principal,
            Action::GroupDeleted,
            group,
            origin,
            EventPayload::GroupDeleted(GroupDeleted { group_id: id }),
        )])
    })
    .await?;
    Ok(())
}

/// `POST /api/v1/groups/{id}/members`.
pub async fn add_member(
    app: &App,
    principal: &Principal,
    id: Uuid,
    request: AddGroupMemberRequest,
    origin: &Origin,
) -> Result<GroupMemberBody, CommandError> {
    let role = parse_group_role(&request.role)?;
    let user_id = request.user_id;
    app.execute(|views| {
        let (group, authority) = visible_group(views, principal, id)?;
        require_manage_members(group, authority, role == GroupRole::Owner)?;
        if views.orgs.role_of(&user_id, &group.org_id).is_none() {
            return Err(CommandError::invalid(
                "user_id",
                "no such user in the group's organization",
            ));
        }
        if group.members.contains_key(&user_id) {
            return Err(CommandError::Conflict(
                "that user is already a member of the group".into(),
            ));
        }
        Ok::<_, CommandError>(vec![group_event(
            principal,
            Action::GroupMemberAdded,
            group,
            origin,
            EventPayload::GroupMemberAdded(GroupMemberAdded {
                group_id: id,
                user_id,
                role,
            }),
        )])
    })
    .await?;
    Ok(GroupMemberBody {
        group_id: id,
        user_id,
        role: role.as_str().to_string(),
    })
}

/// Refuses to leave a group without an owner.
fn keep_an_owner(group: &GroupRecord, user: Uuid) -> Result<(), CommandError> {
    let is_owner = group.members.get(&user) == Some(&GroupRole::Owner);
    if is_owner && group.owner_count() == 1 {
        Err(CommandError::Conflict(
            "the last owner of a group cannot be removed or demoted; make another owner first"
                .into(),
        ))
    } else {
        Ok(())
    }
}

/// `PATCH /api/v1/groups/{id}/members/{user_id}`.
pub async fn change_member_role(
    app: &App,
    principal: &Principal,
    id: Uuid,
    user_id: Uuid,
    request: UpdateGroupMemberRequest,
    origin: &Origin,
) -> Result<GroupMemberBody, CommandError> {
    let role = parse_group_role(&request.role)?;
    app.execute(|views| {
        let (group, authority) = visible_group(views, principal, id)?;
        let previous = *group.members.get(&user_id).ok_or(CommandError::NotFound)?;
        let touches_owner = role == GroupRole::Owner || previous == GroupRole::Owner;
        require_manage_members(group, authority, touches_owner)?;
        if previous == role {
            return Err(CommandError::Conflict(format!(
                "that member's role is already {role}"
            )));
        }
        keep_an_owner(group, user_id)?;
        Ok::<_, CommandError>(vec![group_event(
            principal,
            Action::GroupMemberRoleChanged,
            group,
            origin,
            EventPayload::GroupMemberRoleChanged(GroupMemberRoleChanged {
                group_id: id,
                user_id,
                previous,
                role,
            }),
        )])
    })
    .await?;
    Ok(GroupMemberBody {
        group_id: id,
        user_id,
        role: role.as_str().to_string(),
    })
}

/// `DELETE /api/v1/groups/{id}/members/{user_id}`: a manager's act, or a
/// member leaving.
pub async fn remove_member(
    app: &App,
    principal: &Principal,
    id: Uuid,
    user_id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    app.execute(|views| {
        let (group, authority) = visible_group(views, principal, id)?;
        let role = *group.members.get(&user_id).ok_or(CommandError::NotFound)?;
        if user_id != principal.user_id {
            require_manage_members(group, authority, role == GroupRole::Owner)?;
        }
        keep_an_owner(group, user_id)?;
        Ok::<_, CommandError>(vec![group_event(
            principal,
            Action::GroupMemberRemoved,
            group,
            origin,
            EventPayload::GroupMemberRemoved(GroupMemberRemoved {
                group_id: id,
                user_id,
            }),
        )])
    })
    .await?;
    Ok(())
}
