//! Grants: sharing a resource at `use` or `manage` with a user or a group
//! (docs/contract.md section 4). The rules live in
//! `cairn_projections::access::check_grant`; this module turns its answer
//! into events and refusals. Revocation takes effect on the next request,
//! since every request authorizes against the views.

use cairn_core::time_format::rfc3339_micros;
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
use super::{App, CommandError, Decided, Origin};
use cairn_core::IdSource;

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
    let grant_id = app
        .decide(|views, ids| decide_create(views, ids, principal, &request, origin))
        .await?;
    let views = app.views();
    views
        .grants
        .get(&grant_id)
        .map(grant_body)
        .ok_or_else(|| CommandError::internal("the new grant is not in the view"))
}

/// Whether `principal` may make the grant `request` asks for: the
/// `grant.created` event and the new grant's id, or why not.
pub fn decide_create(
    views: &Views,
    ids: &IdSource,
    principal: &Principal,
    request: &CreateGrantRequest,
    origin: &Origin,
) -> Result<Decided<Uuid>, CommandError> {
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
    let grant_id = ids.new_id();
    let event = principal.event(
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
    );
    Ok(Decided::new(vec![event], grant_id))
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
    app.decide(|views, _| decide_revoke(views, principal, id, origin))
        .await
}

/// Whether `principal` may revoke grant `id`: the `grant.revoked` event,
/// or why not. A grant the caller may not see is answered like a missing
/// one, and the refusal's event names it either way.
pub fn decide_revoke(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
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
    let event = principal.event(
        Action::GrantRevoked,
        grant_ref(id),
        grant.org_id,
        origin,
        EventPayload::GrantRevoked(GrantRevoked { grant_id: id }),
    );
    Ok(Decided::new(vec![event], ()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Given, facts, id, principal};
    use cairn_schemas::{GroupRole, OrgRole};

    const ORG: u128 = 0x0a;
    const OTHER_ORG: u128 = 0x0b;
    const ADA: u128 = 1; // admin
    const CARL: u128 = 3; // owns the secret
    const BOB: u128 = 2; // executor, in the group
    const EVE: u128 = 5; // admin of the other org
    const SECRET: u128 = 0x50;
    const GROUP: u128 = 0x60;

    fn given() -> Given {
        Given::new().events([
            facts::org(id(ORG), "Acme"),
            facts::org(id(OTHER_ORG), "Other"),
            facts::user(id(ADA), "ada", id(ORG), OrgRole::Admin),
            facts::user(id(BOB), "bob", id(ORG), OrgRole::FlowExecutor),
            facts::user(id(CARL), "carl", id(ORG), OrgRole::IntegrationManager),
            facts::user(id(EVE), "eve", id(OTHER_ORG), OrgRole::Admin),
            facts::secret(id(SECRET), id(ORG), id(CARL), "API_TOKEN"),
            facts::group(id(GROUP), id(ORG), id(ADA), "ops"),
            facts::group_member(id(GROUP), id(ORG), id(BOB), GroupRole::Member),
        ])
    }

    fn request(
        resource: u128,
        grantee_type: &str,
        grantee: u128,
        level: &str,
    ) -> CreateGrantRequest {
        CreateGrantRequest {
            resource_type: "secret".into(),
            resource_id: id(resource),
            grantee_type: grantee_type.into(),
            grantee_id: id(grantee),
            level: level.into(),
        }
    }

    fn create(
        given: &Given,
        by: u128,
        org: u128,
        request: CreateGrantRequest,
    ) -> crate::testing::Then<Uuid> {
        let caller = principal(given.views(), id(by), id(org));
        given.when_repeated(|views, ids| {
            decide_create(views, ids, &caller, &request, &Origin::local("t"))
        })
    }

    #[test]
    fn given_the_owner_when_sharing_a_secret_at_use_then_the_grant_is_recorded_as_asked() {
        let given = given();
        let decided = create(&given, CARL, ORG, request(SECRET, "user", BOB, "use")).decided();
        assert_eq!(decided.events.len(), 1);
        let EventPayload::GrantCreated(grant) =
            &decided.events[0].payload.clone().expect("payload")
        else {
            panic!("not a grant");
        };
        assert_eq!(
            (
                grant.grant_id,
                grant.org_id,
                grant.resource_id,
                grant.grantee_id,
                grant.level,
                grant.granted_by
            ),
            (
                decided.reply,
                id(ORG),
                id(SECRET),
                id(BOB),
                GrantLevel::Use,
                id(CARL)
            )
        );
        assert_eq!(decided.events[0].actor, crate::testing::user(id(CARL)));
    }

    #[test]
    fn given_a_secret_when_shared_at_manage_then_it_is_refused_naming_the_level() {
        let refused = create(&given(), CARL, ORG, request(SECRET, "user", BOB, "manage")).refused();
        assert!(
            matches!(refused, CommandError::Invalid { field: "level", .. }),
            "{refused:?}"
        );
    }

    #[test]
    fn given_someone_without_share_rights_when_sharing_then_it_is_refused_and_nothing_recorded() {
        // Bob may not even see carl's secret
        let refused = create(&given(), BOB, ORG, request(SECRET, "user", BOB, "use")).refused();
        assert!(
            matches!(refused, CommandError::Denied(_) | CommandError::NotFound),
            "{refused:?}"
        );
        // Nor may the admin of another org reach it
        let refused = create(
            &given(),
            EVE,
            OTHER_ORG,
            request(SECRET, "user", EVE, "use"),
        )
        .refused();
        assert!(
            matches!(refused, CommandError::Denied(_) | CommandError::NotFound),
            "{refused:?}"
        );
    }

    #[test]
    fn given_a_grantee_outside_the_org_or_unknown_when_sharing_then_it_is_refused() {
        for grantee in [EVE, 0x99] {
            let refused =
                create(&given(), CARL, ORG, request(SECRET, "user", grantee, "use")).refused();
            assert!(
                matches!(
                    refused,
                    CommandError::Invalid {
                        field: "grantee_id",
                        ..
                    }
                ),
                "{grantee}: {refused:?}"
            );
        }
    }

    #[test]
    fn given_the_same_grant_when_made_again_then_it_is_a_conflict() {
        let mut given = given();
        let caller = principal(given.views(), id(CARL), id(ORG));
        let ask = request(SECRET, "group", GROUP, "use");
        given.after(|views, ids| decide_create(views, ids, &caller, &ask, &Origin::local("t")));
        let refused = create(&given, CARL, ORG, ask.clone()).refused();
        assert!(matches!(refused, CommandError::Conflict(_)), "{refused:?}");
    }

    #[test]
    fn given_unknown_names_when_sharing_then_each_field_is_named() {
        let mut bad_kind = request(SECRET, "user", BOB, "use");
        bad_kind.resource_type = "user".into();
        let mut bad_grantee = request(SECRET, "robot", BOB, "use");
        bad_grantee.grantee_type = "robot".into();
        for (ask, field) in [
            (bad_kind, "resource_type"),
            (bad_grantee, "grantee_type"),
            (request(SECRET, "user", BOB, "own"), "level"),
        ] {
            let refused = create(&given(), CARL, ORG, ask).refused();
            assert!(
                matches!(refused, CommandError::Invalid { field: named, .. } if named == field),
                "{field}: {refused:?}"
            );
        }
    }

    #[test]
    fn given_a_grant_when_revoked_then_only_its_owner_side_may_and_the_grantee_loses_access() {
        let mut given = given();
        let carl = principal(given.views(), id(CARL), id(ORG));
        let grant = given.after(|views, ids| {
            decide_create(
                views,
                ids,
                &carl,
                &request(SECRET, "group", GROUP, "use"),
                &Origin::local("t"),
            )
        });
        let bob = principal(given.views(), id(BOB), id(ORG));
        let target = Target {
            kind: ResourceKind::Secret,
            id: id(SECRET),
        };
        assert!(authorize(given.views(), who(&bob), AccessAction::Run, target).allowed);
        // The grantee sees the grant but may not revoke it
        let refused = given
            .when(|views, _| decide_revoke(views, &bob, grant, &Origin::local("t")))
            .refused();
        assert!(matches!(refused, CommandError::Denied(_)), "{refused:?}");
        // Another org's admin is answered as if it did not exist, like an unknown id
        let eve = principal(given.views(), id(EVE), id(OTHER_ORG));
        for (caller, grant) in [(&eve, grant), (&carl, id(0x77))] {
            let refused = given
                .when(|views, _| decide_revoke(views, caller, grant, &Origin::local("t")))
                .refused();
            assert!(
                matches!(refused, CommandError::Denied(_) | CommandError::NotFound),
                "{refused:?}"
            );
        }
        // The admin revokes it; then bob may no longer use the secret
        let ada = principal(given.views(), id(ADA), id(ORG));
        let then = given.when(|views, _| decide_revoke(views, &ada, grant, &Origin::local("t")));
        assert_eq!(then.actions(), vec![Action::GrantRevoked]);
        given.after(|views, _| decide_revoke(views, &ada, grant, &Origin::local("t")));
        assert!(!authorize(given.views(), who(&bob), AccessAction::Run, target).allowed);
    }
}
