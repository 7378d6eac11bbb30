//! Organizations (superusers) and their members (admins of the org).

use cairn_core::log::NewEvent;
use cairn_core::time_format::rfc3339_micros;
use cairn_schemas::api::{AddMemberRequest, CreateOrgRequest, MemberBody, OrgBody};
use cairn_schemas::{
    Action, EventPayload, OrgCreated, OrgMemberAdded, OrgMemberRemoved, OrgRole, ResourceKind,
    ResourceRef,
};
use uuid::Uuid;

use super::display_names::{Scope, Taken, check_display_name, refuse_look_alike};
use super::namespaces::system_namespaces;
use super::principal::Principal;
use super::users::parse_role;
use super::{App, CommandError, Decided, Origin};
use cairn_core::IdSource;
use cairn_projections::Views;

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
fn require_org_admin(views: &Views, principal: &Principal, org: Uuid) -> Result<(), CommandError> {
    if principal.is_admin_of(org) {
        Ok(())
    } else if views.orgs.role_of(&principal.user_id, &org).is_some() {
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
    let org_id = app
        .decide(|views, ids| decide_create(views, ids, principal, &name, origin))
        .await?;
    Ok(OrgBody {
        id: org_id,
        name,
        created_at: rfc3339_micros(app.now()),
    })
}

/// Whether `principal` may create an org named `name` (already checked by
/// [`check_org_name`]): a superuser, and no org with a look-alike name.
/// The org comes with its system namespaces; the reply is its id.
pub fn decide_create(
    views: &Views,
    ids: &IdSource,
    principal: &Principal,
    name: &str,
    origin: &Origin,
) -> Result<Decided<Uuid>, CommandError> {
    principal.require_superuser()?;
    // Only superusers create orgs, and they see every org.
    refuse_look_alike(
        name,
        &ORG_NAMES,
        views.orgs.all().map(|org| Taken {
            name: &org.name,
            visible: true,
        }),
    )?;
    let org_id = ids.new_id();
    let mut events = vec![org_event(
        principal,
        Action::OrgCreated,
        org_id,
        origin,
        org_created(name.to_string(), org_id),
    )];
    events.extend(system_namespaces(ids, org_id, origin));
    Ok(Decided::new(events, org_id))
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
    require_org_admin(&app.views(), principal, org)?;
    let role = parse_role("role", &request.role)?;
    let user_id = request.user_id;
    app.decide(|views, _| decide_add_member(views, principal, org, user_id, role, origin))
        .await?;
    Ok(MemberBody {
        org_id: org,
        user_id,
        role: role.as_str().to_string(),
    })
}

/// Whether `principal` may add `user_id` to `org` with `role`: an admin of
/// that org (a superuser anywhere) adding a user they can see (a member of
/// their own org; any user for a superuser) who is not a member yet.
pub fn decide_add_member(
    views: &Views,
    principal: &Principal,
    org: Uuid,
    user_id: Uuid,
    role: OrgRole,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    require_org_admin(views, principal, org)?;
    if views.orgs.get(&org).is_none() {
        return Err(CommandError::NotFound);
    }
    let known = views.users.get(&user_id).is_some()
        && (principal.is_superuser || views.orgs.role_of(&user_id, &principal.org_id).is_some());
    if !known {
        return Err(CommandError::invalid("user_id", "no such user"));
    }
    if views.orgs.role_of(&user_id, &org).is_some() {
        return Err(CommandError::Conflict(
            "that user is already a member".into(),
        ));
    }
    let event = org_event(
        principal,
        Action::OrgMemberAdded,
        org,
        origin,
        EventPayload::OrgMemberAdded(OrgMemberAdded {
            org_id: org,
            user_id,
            role,
        }),
    );
    Ok(Decided::new(vec![event], ()))
}

/// `DELETE /api/v1/orgs/{id}/members/{user_id}` (admins of that org).
pub async fn remove_member(
    app: &App,
    principal: &Principal,
    org: Uuid,
    user_id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    app.decide(|views, _| decide_remove_member(views, principal, org, user_id, origin))
        .await
}

/// Whether `principal` may remove `user_id` from `org`: an admin of that
/// org, not themselves, not a superuser unless they are one, and a member.
pub fn decide_remove_member(
    views: &Views,
    principal: &Principal,
    org: Uuid,
    user_id: Uuid,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    require_org_admin(views, principal, org)?;
    if user_id == principal.user_id {
        return Err(CommandError::Conflict("you cannot remove yourself".into()));
    }
    principal.require_may_change(views, user_id)?;
    if views.orgs.role_of(&user_id, &org).is_none() {
        return Err(CommandError::NotFound);
    }
    let event = org_event(
        principal,
        Action::OrgMemberRemoved,
        org,
        origin,
        EventPayload::OrgMemberRemoved(OrgMemberRemoved {
            org_id: org,
            user_id,
        }),
    );
    Ok(Decided::new(vec![event], ()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::Credential;
    use crate::testing::identity_facts::cast::*;
    use crate::testing::identity_facts::superuser;
    use crate::testing::{Given, id};

    fn origin() -> Origin {
        Origin::local("t")
    }

    fn as_user(given: &Given, user: u128, org: u128) -> Principal {
        crate::testing::principal(given.views(), id(user), id(org))
    }

    fn root(org: u128) -> Principal {
        Principal {
            user_id: id(ROOT),
            org_id: id(org),
            role: OrgRole::Admin,
            is_superuser: true,
            credential: Credential::Session(id(0x5e56)),
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
            let name = check_org_name(name)?;
            decide_create(views, ids, principal, &name, &origin())
        })
    }

    #[test]
    fn given_a_superuser_when_creating_an_org_then_it_comes_with_its_system_namespaces() {
        let given = given();
        let decided = create(&given, &root(ORG), "Globex").decided();
        let actions: Vec<Action> = decided.events.iter().map(|event| event.action).collect();
        assert_eq!(
            actions,
            vec![
                Action::OrgCreated,
                Action::NamespaceCreated,
                Action::NamespaceCreated
            ]
        );
        assert_eq!(
            decided.events[0].payload,
            Some(org_created("Globex".into(), decided.reply))
        );
        assert!(
            decided
                .events
                .iter()
                .all(|event| event.org == Some(decided.reply))
        );
    }

    #[test]
    fn given_each_refusal_when_creating_an_org_then_it_is_named() {
        let given = given();
        // Only a superuser, not an org admin (nor Mia, admin elsewhere)
        for caller in [as_user(&given, ADA, ORG), as_user(&given, MIA, OTHER)] {
            assert_eq!(kind_of(&create(&given, &caller, "Globex").refused()), "403");
        }
        // Look-alikes of an existing org, across the server
        for name in ["Acme", "acme", "ＡＣＭＥ", "Other"] {
            assert_eq!(
                kind_of(&create(&given, &root(ORG), name).refused()),
                "409",
                "{name}"
            );
        }
        for name in ["", "a\u{0}b", &"n".repeat(MAX_ORG_NAME_CHARS + 1)] {
            assert_eq!(
                kind_of(&create(&given, &root(ORG), name).refused()),
                "422 name",
                "{name:?}"
            );
        }
    }

    fn add(
        given: &Given,
        principal: &Principal,
        org: u128,
        user: u128,
    ) -> crate::testing::Then<()> {
        given.when(|views, _| {
            decide_add_member(
                views,
                principal,
                id(org),
                id(user),
                OrgRole::Viewer,
                &origin(),
            )
        })
    }

    #[test]
    fn given_a_superuser_when_adding_anyone_to_any_org_then_recorded_and_others_see_no_such_org() {
        let given = given();
        // Mia administers Other: adding someone already there is a conflict
        let mia = as_user(&given, MIA, OTHER);
        assert_eq!(
            add(&given, &mia, OTHER, EVE).refused().to_string(),
            "that user is already a member"
        );
        let ada = as_user(&given, ADA, ORG);
        let decided = add(&given, &root(ORG), THIRD, EDNA).decided();
        assert_eq!(
            decided.events[0].payload,
            Some(EventPayload::OrgMemberAdded(OrgMemberAdded {
                org_id: id(THIRD),
                user_id: id(EDNA),
                role: OrgRole::Viewer
            }))
        );
        // Ada is not an admin of Third: she does not even see it
        assert_eq!(kind_of(&add(&given, &ada, THIRD, EDNA).refused()), "404");
    }

    #[test]
    fn given_each_refusal_when_adding_a_member_then_it_is_named() {
        let given = given();
        let ada = as_user(&given, ADA, ORG);
        let edna = as_user(&given, EDNA, ORG);
        let mia = as_user(&given, MIA, ORG);
        let mia_there = as_user(&given, MIA, OTHER);
        for (caller, org, user, expected) in [
            // A member but not an admin there: 403; not a member: 404
            (&edna, ORG, DAN, "403"),
            (&mia, ORG, DAN, "403"),
            (&ada, OTHER, EDNA, "404"),
            // A user the admin cannot see (another tenant's), or none
            (&mia_there, OTHER, EDNA, "422 user_id"),
            (&root(ORG), ORG, 0x999, "422 user_id"),
            // Already a member
            (&ada, ORG, EDNA, "409"),
            // An org that does not exist, even for a superuser
            (&root(ORG), 0x999, EDNA, "404"),
        ] {
            assert_eq!(
                kind_of(&add(&given, caller, org, user).refused()),
                expected,
                "{org} {user}"
            );
        }
    }

    fn remove(
        given: &Given,
        principal: &Principal,
        org: u128,
        user: u128,
    ) -> crate::testing::Then<()> {
        given.when(|views, _| decide_remove_member(views, principal, id(org), id(user), &origin()))
    }

    #[test]
    fn given_each_caller_when_removing_a_member_then_only_an_admin_of_that_org_may() {
        let given = given().events([superuser(id(0x0d), "boss", id(ORG))]);
        let ada = as_user(&given, ADA, ORG);
        let edna = as_user(&given, EDNA, ORG);
        // Mia is in two orgs: Ada removes her from hers
        assert_eq!(
            remove(&given, &ada, ORG, MIA).actions(),
            vec![Action::OrgMemberRemoved]
        );
        assert_eq!(
            remove(&given, &root(OTHER), OTHER, MIA).actions(),
            vec![Action::OrgMemberRemoved]
        );
        for (caller, org, user, expected) in [
            (&edna, ORG, DAN, "403"),
            (&ada, OTHER, MIA, "404"),
            (&ada, ORG, ADA, "409"),
            (&ada, ORG, EVE, "404"),
            (&ada, ORG, 0x0d, "403"),
        ] {
            assert_eq!(
                kind_of(&remove(&given, caller, org, user).refused()),
                expected,
                "{org} {user}"
            );
        }
    }
}
