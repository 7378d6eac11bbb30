//! Namespaces: a tree per org. Every org starts with the public system
//! namespaces `General` and `default`; the rest are private to their owner
//! until shared. Grants on a namespace reach everything inside it.

use cairn_audit::time_format::rfc3339_micros;
use cairn_core::IdSource;
use cairn_core::log::NewEvent;
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
use super::login::with_request;
use super::principal::Principal;
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
    let act = ActOn {
        principal,
        action: AccessAction::Delete,
        kind: ResourceKind::Namespace,
        id,
        event: Action::NamespaceDeleted,
        origin,
    };
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
