//! Groups of an org: admins create and delete them; their owners and
//! managers (and admins) manage membership; the last owner stays.

use cairn_core::log::NewEvent;
use cairn_core::time_format::rfc3339_micros;
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
use super::{App, CommandError, Decided, Origin};
use cairn_core::IdSource;

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
    let group_id = app
        .decide(|views, ids| decide_create(views, ids, principal, &name, origin))
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
    app.decide(|views, _| decide_delete(views, principal, id, origin))
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
    app.decide(|views, _| decide_add_member(views, principal, id, user_id, role, origin))
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
    app.decide(|views, _| decide_member_role(views, principal, id, user_id, role, origin))
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
    app.decide(|views, _| decide_remove_member(views, principal, id, user_id, origin))
        .await?;
    Ok(())
}

/// Whether `principal` may create a group named `name` (already checked):
/// an admin of the org they act in, and no look-alike name there. The
/// `group.created` event (the creator its first owner) and the new id.
pub fn decide_create(
    views: &Views,
    ids: &IdSource,
    principal: &Principal,
    name: &str,
    origin: &Origin,
) -> Result<Decided<Uuid>, CommandError> {
    principal
        .require_admin()
        .map_err(|_| role_denied(group_ref(None), "creating a group requires the admin role"))?;
    let org_id = principal.org_id;
    // The creator administers the org, so sees every group in it.
    refuse_look_alike(
        name,
        &GROUP_NAMES,
        views.groups.in_org(&org_id).map(|group| Taken {
            name: &group.name,
            visible: true,
        }),
    )?;
    let group_id = ids.new_id();
    Ok(Decided::new(
        vec![principal.event(
            Action::GroupCreated,
            group_ref(Some(group_id)),
            org_id,
            origin,
            EventPayload::GroupCreated(GroupCreated {
                group_id,
                org_id,
                name: name.to_string(),
                owner_id: principal.user_id,
            }),
        )],
        group_id,
    ))
}

/// Whether `principal` may delete group `id`: an admin of its org.
pub fn decide_delete(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    let (group, authority) = visible_group(views, principal, id)?;
    if authority != Authority::Admin {
        return Err(role_denied(
            group_ref(Some(id)),
            "deleting a group requires the admin role",
        ));
    }
    Ok(Decided::new(
        vec![group_event(
            principal,
            Action::GroupDeleted,
            group,
            origin,
            EventPayload::GroupDeleted(GroupDeleted { group_id: id }),
        )],
        (),
    ))
}

/// Whether `principal` may add `user_id` to group `id` as `role`: a
/// manager (an owner to add an owner), a member of the group's org not in
/// it yet.
pub fn decide_add_member(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    user_id: Uuid,
    role: GroupRole,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
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
    Ok(Decided::new(
        vec![group_event(
            principal,
            Action::GroupMemberAdded,
            group,
            origin,
            EventPayload::GroupMemberAdded(GroupMemberAdded {
                group_id: id,
                user_id,
                role,
            }),
        )],
        (),
    ))
}

/// Whether `principal` may give member `user_id` of group `id` the role
/// `role`: a manager (an owner when an owner is involved), an actual
/// change, and an owner left.
pub fn decide_member_role(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    user_id: Uuid,
    role: GroupRole,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
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
    Ok(Decided::new(
        vec![group_event(
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
        )],
        (),
    ))
}

/// Whether `principal` may remove `user_id` from group `id`: a manager (an
/// owner to remove an owner), or the member leaving; an owner left.
pub fn decide_remove_member(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    user_id: Uuid,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    let (group, authority) = visible_group(views, principal, id)?;
    let role = *group.members.get(&user_id).ok_or(CommandError::NotFound)?;
    if user_id != principal.user_id {
        require_manage_members(group, authority, role == GroupRole::Owner)?;
    }
    keep_an_owner(group, user_id)?;
    Ok(Decided::new(
        vec![group_event(
            principal,
            Action::GroupMemberRemoved,
            group,
            origin,
            EventPayload::GroupMemberRemoved(GroupMemberRemoved {
                group_id: id,
                user_id,
            }),
        )],
        (),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::identity_facts::cast::*;
    use crate::testing::{Given, facts, id};

    const GROUP: u128 = 0x150;

    fn origin() -> Origin {
        Origin::local("t")
    }

    /// Edna owns "ops", Mia manages it, Dan is a member.
    fn given() -> Given {
        crate::testing::identity_facts::cast::given().events([
            facts::group(id(GROUP), id(ORG), id(EDNA), "ops"),
            facts::group_member(id(GROUP), id(ORG), id(MIA), GroupRole::Manager),
            facts::group_member(id(GROUP), id(ORG), id(DAN), GroupRole::Member),
        ])
    }

    fn as_user(given: &Given, user: u128, org: u128) -> Principal {
        crate::testing::principal(given.views(), id(user), id(org))
    }

    fn root(org: u128) -> Principal {
        Principal {
            user_id: id(ROOT),
            org_id: id(org),
            role: cairn_schemas::OrgRole::Admin,
            is_superuser: true,
            credential: crate::principal::Credential::Session(id(0x5e56)),
        }
    }

    fn kind_of(error: &CommandError) -> String {
        match error {
            CommandError::NotFound => "404".into(),
            other => crate::testing::catalog_facts::cast::kind_of(other),
        }
    }

    fn create(given: &Given, principal: &Principal, name: &str) -> crate::testing::Then<Uuid> {
        given.when(|views, ids| {
            let name = check_display_name(name, MAX_GROUP_NAME_CHARS)?;
            decide_create(views, ids, principal, &name, &origin())
        })
    }

    #[test]
    fn given_an_admin_when_creating_a_group_then_they_own_it_in_their_org() {
        let given = given();
        let ada = as_user(&given, ADA, ORG);
        let decided = create(&given, &ada, "billing").decided();
        assert_eq!(
            decided.events[0].payload,
            Some(EventPayload::GroupCreated(GroupCreated {
                group_id: decided.reply,
                org_id: id(ORG),
                name: "billing".into(),
                owner_id: id(ADA),
            }))
        );
        // The same name in another tenant is free
        let eve = as_user(&given, EVE, OTHER);
        assert_eq!(
            create(&given, &eve, "ops").actions(),
            vec![Action::GroupCreated]
        );
    }

    #[test]
    fn given_each_refusal_when_creating_a_group_then_it_is_named() {
        let given = given();
        let ada = as_user(&given, ADA, ORG);
        // Not an admin where they act: Edna, and Mia (admin elsewhere)
        for caller in [as_user(&given, EDNA, ORG), as_user(&given, MIA, ORG)] {
            assert_eq!(kind_of(&create(&given, &caller, "x").refused()), "403");
        }
        for name in ["ops", "OPS", "ｏｐｓ"] {
            assert_eq!(
                kind_of(&create(&given, &ada, name).refused()),
                "409",
                "{name}"
            );
        }
        for name in ["", "a\u{0}b"] {
            assert_eq!(
                kind_of(&create(&given, &ada, name).refused()),
                "422 name",
                "{name:?}"
            );
        }
    }

    #[test]
    fn given_each_caller_when_deleting_a_group_then_only_an_admin_of_its_org_may() {
        let given = given();
        let delete = |principal: &Principal, group: u128| {
            given.when(|views, _| decide_delete(views, principal, id(group), &origin()))
        };
        assert_eq!(
            delete(&as_user(&given, ADA, ORG), GROUP).actions(),
            vec![Action::GroupDeleted]
        );
        assert_eq!(
            delete(&root(OTHER), GROUP).actions(),
            vec![Action::GroupDeleted]
        );
        // Its owner is not enough; another tenant and Mia acting in the org
        // she administers do not even see it
        assert_eq!(
            kind_of(&delete(&as_user(&given, EDNA, ORG), GROUP).refused()),
            "403"
        );
        assert_eq!(
            kind_of(&delete(&as_user(&given, EVE, OTHER), GROUP).refused()),
            "404"
        );
        assert_eq!(
            kind_of(&delete(&as_user(&given, MIA, OTHER), GROUP).refused()),
            "404"
        );
        assert_eq!(
            kind_of(&delete(&as_user(&given, ADA, ORG), 0x999).refused()),
            "404"
        );
    }

    fn add(
        given: &Given,
        principal: &Principal,
        user: u128,
        role: GroupRole,
    ) -> crate::testing::Then<()> {
        given.when(|views, _| {
            decide_add_member(views, principal, id(GROUP), id(user), role, &origin())
        })
    }

    #[test]
    fn given_each_caller_when_adding_members_then_managers_add_members_and_owners_add_owners() {
        let given = given();
        let edna = as_user(&given, EDNA, ORG);
        let mia = as_user(&given, MIA, ORG);
        let dan = as_user(&given, DAN, ORG);
        assert_eq!(
            add(&given, &mia, ADA, GroupRole::Member).actions(),
            vec![Action::GroupMemberAdded]
        );
        assert_eq!(
            add(&given, &edna, ADA, GroupRole::Owner).actions(),
            vec![Action::GroupMemberAdded]
        );
        for (caller, user, role, expected) in [
            (&mia, ADA, GroupRole::Owner, "403"),
            (&dan, ADA, GroupRole::Member, "403"),
            (&mia, EVE, GroupRole::Member, "422 user_id"),
            (&mia, 0x999, GroupRole::Member, "422 user_id"),
            (&mia, DAN, GroupRole::Member, "409"),
        ] {
            assert_eq!(
                kind_of(&add(&given, caller, user, role).refused()),
                expected,
                "{user} {role:?}"
            );
        }
        for caller in [as_user(&given, EVE, OTHER), as_user(&given, MIA, OTHER)] {
            assert_eq!(
                kind_of(&add(&given, &caller, ADA, GroupRole::Member).refused()),
                "404"
            );
        }
        assert_eq!(
            kind_of(&parse_group_role("boss").expect_err("refused")),
            "422 role"
        );
    }

    fn set_role(
        given: &Given,
        principal: &Principal,
        user: u128,
        role: GroupRole,
    ) -> crate::testing::Then<()> {
        given.when(|views, _| {
            decide_member_role(views, principal, id(GROUP), id(user), role, &origin())
        })
    }

    #[test]
    fn given_each_caller_when_changing_a_members_role_then_owners_are_kept() {
        let given = given();
        let edna = as_user(&given, EDNA, ORG);
        let mia = as_user(&given, MIA, ORG);
        assert_eq!(
            set_role(&given, &mia, DAN, GroupRole::Manager).actions(),
            vec![Action::GroupMemberRoleChanged]
        );
        assert_eq!(
            set_role(&given, &edna, DAN, GroupRole::Owner).actions(),
            vec![Action::GroupMemberRoleChanged]
        );
        for (caller, user, role, expected) in [
            (&mia, DAN, GroupRole::Owner, "403"),
            (&mia, EDNA, GroupRole::Member, "403"),
            (&edna, EDNA, GroupRole::Manager, "409"),
            (&edna, DAN, GroupRole::Member, "409"),
            (&edna, ADA, GroupRole::Member, "404"),
        ] {
            assert_eq!(
                kind_of(&set_role(&given, caller, user, role).refused()),
                expected,
                "{user} {role:?}"
            );
        }
    }

    fn remove(given: &Given, principal: &Principal, user: u128) -> crate::testing::Then<()> {
        given
            .when(|views, _| decide_remove_member(views, principal, id(GROUP), id(user), &origin()))
    }

    #[test]
    fn given_each_caller_when_removing_a_member_then_members_leave_managers_remove_and_an_owner_stays()
     {
        let given = given();
        let edna = as_user(&given, EDNA, ORG);
        let mia = as_user(&given, MIA, ORG);
        let dan = as_user(&given, DAN, ORG);
        let ada = as_user(&given, ADA, ORG);
        assert_eq!(
            remove(&given, &dan, DAN).actions(),
            vec![Action::GroupMemberRemoved]
        );
        assert_eq!(
            remove(&given, &mia, DAN).actions(),
            vec![Action::GroupMemberRemoved]
        );
        for (caller, user, expected) in [
            (&dan, MIA, "403"),
            (&mia, EDNA, "403"),
            (&ada, EDNA, "409"),
            (&edna, EDNA, "409"),
            (&edna, ADA, "404"),
        ] {
            assert_eq!(
                kind_of(&remove(&given, caller, user).refused()),
                expected,
                "{user}"
            );
        }
    }
}
