//! Namespaces: a tree per org. Every org starts with the public system
//! namespaces `General` and `default`; the rest are private to their owner
//! until shared. Grants on a namespace reach everything inside it.

use cairn_core::IdSource;
use cairn_core::log::NewEvent;
use cairn_core::time_format::rfc3339_micros;
use cairn_projections::Views;
use cairn_projections::access::{acting_role, authorize_create, authorize_entry};
use cairn_projections::sharing::{CatalogEntry, MAX_NAMESPACE_DEPTH};
use cairn_schemas::api::{CreateNamespaceRequest, NamespaceBody, UpdateNamespaceRequest};
use cairn_schemas::{
    AccessAction, Action, ActorRef, EventPayload, NamespaceCreated, NamespaceDeleted,
    NamespaceUpdated, Outcome, ResourceKind, ResourceRef,
};
use uuid::Uuid;

use super::access::{ActOn, decide_act_on, denied, require, role_denied, who};
use super::display_names::{Scope, Taken, check_display_name, refuse_look_alike};
use super::listing::paginate;
use super::principal::Principal;
use super::principal::with_request;
use super::{App, CommandError, Decided, Origin};

/// The public system namespaces every org is created with.
pub const SYSTEM_NAMESPACES: &[&str] = &["General", "default"];

/// The longest namespace or flow name.
pub const MAX_CATALOG_NAME_CHARS: usize = 100;

fn resource(kind: ResourceKind, id: Uuid) -> ResourceRef {
    ResourceRef { kind, id: Some(id) }
}

/// The events that create an org's system namespaces (recorded by the
/// system, in the same batch as the org).
pub fn system_namespaces(ids: &IdSource, org_id: Uuid, origin: &Origin) -> Vec<NewEvent> {
    SYSTEM_NAMESPACES
        .iter()
        .map(|name| {
            let namespace_id = ids.new_id();
            with_request(
                NewEvent::new(
                    Action::NamespaceCreated,
                    ActorRef::SYSTEM,
                    resource(ResourceKind::Namespace, namespace_id),
                    Outcome::Success,
                )
                .in_org(org_id)
                .with_payload(EventPayload::NamespaceCreated(NamespaceCreated {
                    namespace_id,
                    org_id,
                    parent_id: None,
                    name: (*name).to_string(),
                    owner_id: None,
                    system: true,
                })),
                origin,
            )
        })
        .collect()
}

/// A new catalog name (namespace, flow, connection): the display-name
/// policy (`cairn_core::rules::display_name`), at most 100 characters,
/// without `/`.
pub fn check_catalog_name(name: &str) -> Result<String, CommandError> {
    let name = check_display_name(name, MAX_CATALOG_NAME_CHARS)?;
    if name.contains('/') {
        return Err(CommandError::invalid("name", "must not contain '/'"));
    }
    Ok(name)
}

/// Namespace names are unique, look-alikes included, among siblings: the
/// same scope as exact names, which makes every path unique up to
/// look-alikes level by level.
const NAMESPACE_NAMES: Scope = Scope {
    what: "a namespace",
    place: "there",
};

/// Refuses a namespace name that looks like a sibling's (`except` is the
/// namespace being renamed). Siblings the caller may not read are not
/// named in the refusal.
fn refuse_look_alike_sibling(
    views: &Views,
    principal: &Principal,
    org_id: Uuid,
    parent_id: Option<Uuid>,
    except: Option<Uuid>,
    name: &str,
) -> Result<(), CommandError> {
    let who = who(principal);
    let role = acting_role(views, who);
    let siblings = views
        .catalog
        .in_org(&org_id)
        .filter(|entry| {
            entry.kind == ResourceKind::Namespace
                && entry.parent_id == parent_id
                && Some(entry.id) != except
        })
        .map(|entry| Taken {
            name: &entry.name,
            visible: role.is_some_and(|role| {
                authorize_entry(views, who, role, AccessAction::Read, entry).allowed
            }),
        });
    refuse_look_alike(name, &NAMESPACE_NAMES, siblings)
}

/// A namespace as the API shows it.
pub fn namespace_body(entry: &CatalogEntry) -> NamespaceBody {
    NamespaceBody {
        id: entry.id,
        org_id: entry.org_id,
        name: entry.name.clone(),
        parent_id: entry.parent_id,
        owner_id: entry.owner_id,
        system: entry.system,
        created_at: rfc3339_micros(entry.created_at),
        updated_at: rfc3339_micros(entry.updated_at),
    }
}

/// May the caller create a `kind` in `namespace` (the root when `None`)?
/// The org the new resource belongs to, or the refusal. A namespace the
/// caller cannot see is a 422 on `field`, like one that does not exist.
pub fn may_create_in(
    views: &Views,
    principal: &Principal,
    kind: ResourceKind,
    namespace: Option<Uuid>,
    field: &'static str,
) -> Result<Uuid, CommandError> {
    let decision = authorize_create(views, who(principal), kind, namespace);
    let parent = namespace.and_then(|id| views.catalog.get_kind(ResourceKind::Namespace, &id));
    match (namespace, parent) {
        (Some(id), Some(parent)) if decision.visible() => {
            if !decision.allowed {
                return Err(denied(
                    views,
                    &decision,
                    AccessAction::Edit,
                    cairn_projections::access::Target {
                        kind: ResourceKind::Namespace,
                        id,
                    },
                ));
            }
            Ok(parent.org_id)
        }
        (Some(_), _) => Err(CommandError::invalid(field, "no such namespace")),
        (None, _) if decision.allowed => Ok(principal.org_id),
        (None, _) => Err(role_denied(
            ResourceRef { kind, id: None },
            format!(
                "org role {} does not allow creating a {kind}",
                principal.role
            ),
        )),
    }
}

/// `POST /api/v1/namespaces`.
pub async fn create_namespace(
    app: &App,
    principal: &Principal,
    request: CreateNamespaceRequest,
    origin: &Origin,
) -> Result<NamespaceBody, CommandError> {
    let name = check_catalog_name(&request.name)?;
    let namespace_id = app
        .decide(|views, ids| decide_create(views, ids, principal, &name, request.parent_id, origin))
        .await?;
    get_namespace(app, principal, namespace_id)
}

/// Whether `principal` may create a namespace named `name` (already
/// checked by [`check_catalog_name`]) under `parent_id` (the root when
/// `None`): the `namespace.created` event and the new id, or why not.
pub fn decide_create(
    views: &Views,
    ids: &IdSource,
    principal: &Principal,
    name: &str,
    parent_id: Option<Uuid>,
    origin: &Origin,
) -> Result<Decided<Uuid>, CommandError> {
    let org_id = may_create_in(
        views,
        principal,
        ResourceKind::Namespace,
        parent_id,
        "parent_id",
    )?;
    if let Some(parent) = parent_id
        .and_then(|id| views.catalog.get(&id))
        .filter(|parent| views.catalog.depth(parent) >= MAX_NAMESPACE_DEPTH)
    {
        return Err(CommandError::invalid(
            "parent_id",
            format!(
                "namespace {} is at the deepest level ({MAX_NAMESPACE_DEPTH})",
                parent.id
            ),
        ));
    }
    refuse_look_alike_sibling(views, principal, org_id, parent_id, None, name)?;
    let namespace_id = ids.new_id();
    let event = principal.event(
        Action::NamespaceCreated,
        resource(ResourceKind::Namespace, namespace_id),
        org_id,
        origin,
        EventPayload::NamespaceCreated(NamespaceCreated {
            namespace_id,
            org_id,
            parent_id,
            name: name.to_string(),
            owner_id: Some(principal.user_id),
            system: false,
        }),
    );
    Ok(Decided::new(vec![event], namespace_id))
}

/// `GET /api/v1/namespaces`: what the caller may read.
pub fn list_namespaces(
    app: &App,
    principal: &Principal,
    after: Option<Uuid>,
    limit: usize,
) -> (Vec<NamespaceBody>, Option<Uuid>) {
    list_kind(
        app,
        principal,
        ResourceKind::Namespace,
        after,
        limit,
        |_, entry| namespace_body(entry),
    )
}

/// The catalog entries of `kind` the caller may read, by id, rendered.
pub fn list_kind<T>(
    app: &App,
    principal: &Principal,
    kind: ResourceKind,
    after: Option<Uuid>,
    limit: usize,
    render: impl Fn(&Views, &CatalogEntry) -> T,
) -> (Vec<T>, Option<Uuid>) {
    let views = app.views();
    // The caller's role is looked up once for the whole list.
    let who = who(principal);
    let Some(role) = acting_role(&views, who) else {
        return (Vec::new(), None);
    };
    let visible = |entry: &&CatalogEntry| {
        entry.kind == kind && authorize_entry(&views, who, role, AccessAction::Read, entry).allowed
    };
    let mut entries: Vec<&CatalogEntry> = if principal.is_superuser {
        views.catalog.all().filter(visible).collect()
    } else {
        views
            .catalog
            .in_org(&principal.org_id)
            .filter(visible)
            .collect()
    };
    entries.sort_unstable_by_key(|entry| entry.id);
    paginate(
        entries
            .into_iter()
            .map(|entry| (entry.id, render(&views, entry))),
        after,
        limit,
    )
}

/// `GET /api/v1/namespaces/{id}`.
pub fn get_namespace(
    app: &App,
    principal: &Principal,
    id: Uuid,
) -> Result<NamespaceBody, CommandError> {
    let views = app.views();
    let entry = require(
        &views,
        principal,
        AccessAction::Read,
        ResourceKind::Namespace,
        id,
    )?;
    Ok(namespace_body(entry))
}

fn refuse_system(entry: &CatalogEntry, what: &str) -> Result<(), CommandError> {
    if entry.system {
        Err(CommandError::Conflict(format!(
            "the system namespace {} cannot be {what}",
            entry.name
        )))
    } else {
        Ok(())
    }
}

/// `PATCH /api/v1/namespaces/{id}`: rename.
pub async fn update_namespace(
    app: &App,
    principal: &Principal,
    id: Uuid,
    request: UpdateNamespaceRequest,
    origin: &Origin,
) -> Result<NamespaceBody, CommandError> {
    let name = check_catalog_name(&request.name)?;
    app.decide(|views, _| decide_rename(views, principal, id, &name, origin))
        .await?;
    get_namespace(app, principal, id)
}

/// Whether `principal` may rename namespace `id` to `name` (already
/// checked by [`check_catalog_name`]): not a system namespace, and no
/// sibling with a look-alike name.
pub fn decide_rename(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    name: &str,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    let act = ActOn {
        principal,
        action: AccessAction::Edit,
        kind: ResourceKind::Namespace,
        id,
        event: Action::NamespaceUpdated,
        origin,
    };
    decide_act_on(views, &act, |views, entry| {
        refuse_system(entry, "renamed")?;
        refuse_look_alike_sibling(
            views,
            principal,
            entry.org_id,
            entry.parent_id,
            Some(id),
            name,
        )?;
        Ok(EventPayload::NamespaceUpdated(NamespaceUpdated {
            namespace_id: id,
            name: name.to_string(),
        }))
    })
}

/// `DELETE /api/v1/namespaces/{id}`: only an empty one.
pub async fn delete_namespace(
    app: &App,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    app.decide(|views, _| decide_delete(views, principal, id, origin))
        .await
}

/// Whether `principal` may delete namespace `id`: not a system namespace,
/// and nothing left in it.
pub fn decide_delete(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    let act = ActOn::delete(
        principal,
        (ResourceKind::Namespace, id),
        Action::NamespaceDeleted,
        origin,
    );
    decide_act_on(views, &act, |views, entry| {
        refuse_system(entry, "deleted")?;
        if views.catalog.has_children(&id) {
            return Err(CommandError::Conflict(
                "the namespace is not empty: delete or move what is in it first".into(),
            ));
        }
        Ok(EventPayload::NamespaceDeleted(NamespaceDeleted {
            namespace_id: id,
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::catalog_facts::cast::*;
    use crate::testing::catalog_facts::namespace;
    use crate::testing::{Given, id, payload_of};
    use cairn_schemas::ActorKind;

    fn origin() -> Origin {
        Origin::local("t")
    }

    fn create(
        given: &Given,
        principal: &Principal,
        name: &str,
        parent: Option<u128>,
    ) -> crate::testing::Then<Uuid> {
        given.when(|views, ids| {
            let name = check_catalog_name(name)?;
            decide_create(views, ids, principal, &name, parent.map(id), &origin())
        })
    }

    fn refusal(given: &Given, principal: &Principal, name: &str, parent: Option<u128>) -> String {
        kind_of(&create(given, principal, name, parent).refused())
    }

    #[test]
    fn given_a_flow_editor_when_creating_at_the_root_then_it_is_theirs_in_their_org() {
        let given = given();
        let edna = session(&given, EDNA, ORG);
        let decided = create(&given, &edna, "Reports", None).decided();
        let EventPayload::NamespaceCreated(created) =
            payload_of(&decided, Action::NamespaceCreated)
        else {
            panic!("not a namespace");
        };
        assert_eq!(
            (
                created.namespace_id,
                created.org_id,
                created.parent_id,
                created.owner_id,
                created.system,
                created.name.as_str()
            ),
            (
                decided.reply,
                id(ORG),
                None,
                Some(id(EDNA)),
                false,
                "Reports"
            )
        );
    }

    #[test]
    fn given_public_general_when_a_flow_editor_creates_in_it_then_it_goes_ahead() {
        let given = given();
        let edna = session(&given, EDNA, ORG);
        let decided = create(&given, &edna, "Sub", Some(GENERAL)).decided();
        assert_eq!(decided.events.len(), 1);
    }

    #[test]
    fn given_roles_that_may_not_create_namespaces_when_they_try_then_403() {
        let given = given();
        for user in [VIC, IVY, XAVIER] {
            let caller = session(&given, user, ORG);
            assert_eq!(refusal(&given, &caller, "Mine", None), "403", "{user}");
        }
        // Mia is an admin elsewhere, but a viewer where she acts
        let mia = session(&given, MIA, ORG);
        assert_eq!(refusal(&given, &mia, "Mine", None), "403");
    }

    #[test]
    fn given_a_parent_the_caller_cannot_see_when_creating_under_it_then_it_is_no_such_namespace() {
        let given = given();
        let edna = session(&given, EDNA, ORG);
        let ada = session(&given, ADA, ORG);
        // Another tenant's namespaces and an unknown id: all alike
        for (caller, parent) in [
            (&edna, EVE_NS),
            (&edna, OTHER_GENERAL),
            (&ada, EVE_NS),
            (&edna, 0x999),
            // A flow is not a namespace
            (&edna, FLOW),
        ] {
            assert_eq!(
                refusal(&given, caller, "X", Some(parent)),
                "422 parent_id",
                "{parent}"
            );
        }
        // Mia acting in Acme may not reach into the org where she is admin
        let mia = session(&given, MIA, ORG);
        assert_eq!(refusal(&given, &mia, "X", Some(EVE_NS)), "422 parent_id");
    }

    #[test]
    fn given_a_namespace_shared_at_use_when_a_grantee_creates_in_it_then_403() {
        let mut given = given();
        // Xavier (in the group the namespace is shared with) is promoted
        // to flow editor: use is still not enough to create in it
        given.fold(crate::testing::facts::member(
            id(ORG),
            id(XAVIER),
            cairn_schemas::OrgRole::FlowEditor,
        ));
        let xavier = session(&given, XAVIER, ORG);
        assert_eq!(refusal(&given, &xavier, "X", Some(TEAM)), "403");
    }

    #[test]
    fn given_a_deactivated_user_when_creating_then_it_is_refused() {
        let given = given();
        let dan = session(&given, DAN, ORG);
        assert_eq!(refusal(&given, &dan, "X", None), "403");
        assert_eq!(refusal(&given, &dan, "X", Some(GENERAL)), "422 parent_id");
    }

    #[test]
    fn given_a_superuser_when_creating_in_any_org_then_it_goes_in_that_org() {
        let given = given();
        let decided = create(&given, &root_in(ORG), "Ops", Some(TEAM)).decided();
        let EventPayload::NamespaceCreated(created) =
            payload_of(&decided, Action::NamespaceCreated)
        else {
            panic!("not a namespace");
        };
        assert_eq!(created.org_id, id(ORG));
        assert_eq!(created.parent_id, Some(id(TEAM)));
    }

    #[test]
    fn given_an_api_key_when_creating_then_the_event_names_the_key_as_actor() {
        let given = given();
        let key = api_key(&given, EDNA, ORG);
        let decided = create(&given, &key, "Keyed", None).decided();
        assert_eq!(decided.events[0].actor.kind, ActorKind::ApiKey);
        assert_eq!(decided.events[0].actor.id, Some(id(0x4b)));
    }

    #[test]
    fn given_a_sibling_when_a_look_alike_name_is_created_then_409_and_elsewhere_it_is_free() {
        let given = given();
        let edna = session(&given, EDNA, ORG);
        for name in ["Team", "team", "TEAM", "Ｔｅａｍ"] {
            assert_eq!(refusal(&given, &edna, name, None), "409", "{name}");
        }
        // The same name under another parent, or in another org, is free
        assert_eq!(
            create(&given, &edna, "Team", Some(TEAM))
                .decided()
                .events
                .len(),
            1
        );
        let eve = session(&given, EVE, OTHER);
        assert_eq!(create(&given, &eve, "Team", None).decided().events.len(), 1);
    }

    #[test]
    fn given_a_sibling_the_caller_cannot_read_when_refused_then_its_name_is_not_quoted() {
        let mut given = given();
        given.fold(namespace(id(0x112), id(ORG), None, Some(id(ADA)), "Sеcret"));
        let edna = session(&given, EDNA, ORG);
        let refused = create(&given, &edna, "Secret", None).refused();
        let CommandError::Conflict(message) = refused else {
            panic!("{refused:?}");
        };
        assert!(message.contains("looks the same"), "{message}");
        assert!(!message.contains("Sеcret"), "{message}");
    }

    #[test]
    fn given_bad_names_when_creating_then_422_on_name() {
        let given = given();
        let edna = session(&given, EDNA, ORG);
        let long = "n".repeat(MAX_CATALOG_NAME_CHARS + 1);
        for name in ["", "a/b", "   ", long.as_str(), "bad\u{0}"] {
            assert_eq!(refusal(&given, &edna, name, None), "422 name", "{name:?}");
        }
    }

    #[test]
    fn given_the_deepest_level_when_creating_below_it_then_422_on_parent() {
        let mut given = given();
        let mut parent = None;
        for depth in 0..MAX_NAMESPACE_DEPTH as u128 {
            let ns = 0x200 + depth;
            given.fold(namespace(
                id(ns),
                id(ORG),
                parent.map(id),
                Some(id(EDNA)),
                "level",
            ));
            parent = Some(ns);
        }
        let edna = session(&given, EDNA, ORG);
        assert_eq!(refusal(&given, &edna, "deeper", parent), "422 parent_id");
        // One level up is still fine
        assert_eq!(
            create(
                &given,
                &edna,
                "deeper",
                Some(0x200 + MAX_NAMESPACE_DEPTH as u128 - 2)
            )
            .decided()
            .events
            .len(),
            1
        );
    }

    fn rename(
        given: &Given,
        principal: &Principal,
        ns: u128,
        name: &str,
    ) -> crate::testing::Then<()> {
        given.when(|views, _| {
            let name = check_catalog_name(name)?;
            decide_rename(views, principal, id(ns), &name, &origin())
        })
    }

    #[test]
    fn given_an_owner_when_renaming_then_the_new_name_is_recorded_and_deciding_again_gives_the_same()
     {
        let given = given();
        let edna = session(&given, EDNA, ORG);
        let first = rename(&given, &edna, TEAM, "Squad").decided();
        let again = rename(&given, &edna, TEAM, "Squad").decided();
        assert_eq!(first.events, again.events);
        assert_eq!(
            payload_of(&first, Action::NamespaceUpdated),
            &EventPayload::NamespaceUpdated(NamespaceUpdated {
                namespace_id: id(TEAM),
                name: "Squad".into()
            })
        );
        // Its own name, in another case, is not a look-alike of itself
        assert_eq!(
            rename(&given, &edna, TEAM, "team").decided().events.len(),
            1
        );
    }

    #[test]
    fn given_each_refusal_when_renaming_then_it_is_named() {
        let given = given();
        let edna = session(&given, EDNA, ORG);
        let xavier = session(&given, XAVIER, ORG);
        let eve = session(&given, EVE, OTHER);
        let ada = session(&given, ADA, ORG);
        for (caller, ns, name, expected) in [
            // A system namespace: even an admin may not
            (&ada, GENERAL, "Main", "409"),
            // A look-alike of a sibling
            (&edna, TEAM, "ｇｅｎｅｒａｌ", "409"),
            // A grantee at use may read but not edit
            (&xavier, TEAM, "Mine", "403"),
            // Another tenant: not visible
            (&eve, TEAM, "Mine", "404"),
            (&edna, 0x999, "Mine", "404"),
            (&edna, TEAM, "a/b", "422 name"),
        ] {
            assert_eq!(
                kind_of(&rename(&given, caller, ns, name).refused()),
                expected,
                "{ns} {name}"
            );
        }
    }

    fn delete(given: &Given, principal: &Principal, ns: u128) -> crate::testing::Then<()> {
        given.when(|views, _| decide_delete(views, principal, id(ns), &origin()))
    }

    #[test]
    fn given_each_refusal_when_deleting_then_it_is_named_and_an_empty_one_goes() {
        let mut given = given();
        let edna = session(&given, EDNA, ORG);
        let ada = session(&given, ADA, ORG);
        let xavier = session(&given, XAVIER, ORG);
        let eve = session(&given, EVE, OTHER);
        for (caller, ns, expected) in [
            (&ada, GENERAL, "409"),
            // Not empty: FLOW is in it
            (&edna, TEAM, "409"),
            (&xavier, TEAM, "403"),
            (&eve, TEAM, "404"),
            (&edna, EVE_NS, "404"),
        ] {
            assert_eq!(
                kind_of(&delete(&given, caller, ns).refused()),
                expected,
                "{ns}"
            );
        }
        given.fold(namespace(id(0x113), id(ORG), None, Some(id(EDNA)), "Empty"));
        assert_eq!(
            delete(&given, &edna, 0x113).actions(),
            vec![Action::NamespaceDeleted]
        );
        // An admin deletes a member's empty namespace too
        assert_eq!(
            delete(&given, &ada, 0x113).actions(),
            vec![Action::NamespaceDeleted]
        );
    }

    #[test]
    fn given_a_new_org_when_its_system_namespaces_are_made_then_both_are_public_and_ownerless() {
        let given = given();
        let events = system_namespaces(given.ids(), id(0x0c), &origin());
        let names: Vec<(String, bool, Option<Uuid>)> = events
            .iter()
            .map(|event| match &event.payload {
                Some(EventPayload::NamespaceCreated(created)) => {
                    (created.name.clone(), created.system, created.owner_id)
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            vec![
                ("General".into(), true, None),
                ("default".into(), true, None)
            ]
        );
        assert!(
            events
                .iter()
                .all(|event| event.request_id.as_deref() == Some("t"))
        );
    }
}
