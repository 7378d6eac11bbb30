//! The catalog: every shareable resource of every org (namespaces, flows,
//! secrets, connections, schedules), with its owner and the namespace it sits in, so that
//! authorization can walk from a resource up to the namespaces whose
//! grants it inherits.

use std::collections::BTreeSet;

use crate::fast_map::HashMap;

use cairn_schemas::{EventPayload, ResourceKind};
use uuid::Uuid;

/// The deepest a namespace tree may go (roots are at depth 1).
pub const MAX_NAMESPACE_DEPTH: usize = 8;

/// One resource of the catalog.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CatalogEntry {
    /// Its id.
    pub id: Uuid,
    /// What it is.
    pub kind: ResourceKind,
    /// Its org.
    pub org_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its owner (none for a system namespace).
    pub owner_id: Option<Uuid>,
    /// The namespace it sits in: a flow's namespace, a namespace's parent.
    pub parent_id: Option<Uuid>,
    /// A public system namespace (`General`, `default`).
    pub system: bool,
    /// When it was created (micros).
    pub created_at: i64,
    /// When it last changed (micros).
    pub updated_at: i64,
}

/// The answer to "what is resource X, who owns it, and where is it?".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Catalog {
    entries: HashMap<Uuid, CatalogEntry>,
    /// Flow definitions (validated JSON text).
    definitions: HashMap<Uuid, String>,
    /// namespace -> what sits directly in it.
    children: HashMap<Uuid, BTreeSet<Uuid>>,
    /// (org, parent, kind, name) -> id: names are unique among siblings.
    names: HashMap<(Uuid, Option<Uuid>, ResourceKind, String), Uuid>,
    /// org -> its resources, in id (creation) order.
    by_org: HashMap<Uuid, BTreeSet<Uuid>>,
}

impl Catalog {
    /// The resource with this id.
    pub fn get(&self, id: &Uuid) -> Option<&CatalogEntry> {
        self.entries.get(id)
    }

    /// The resource with this id, if it is of this kind.
    pub fn get_kind(&self, kind: ResourceKind, id: &Uuid) -> Option<&CatalogEntry> {
        self.entries.get(id).filter(|entry| entry.kind == kind)
    }

    /// A flow's definition.
    pub fn definition(&self, flow: &Uuid) -> Option<&str> {
        self.definitions.get(flow).map(String::as_str)
    }

    /// The sibling of this kind with this name: `scope` is the parent
    /// namespace of a namespace or flow, the owner of a secret or
    /// connection.
    pub fn by_name(
        &self,
        org: Uuid,
        scope: Option<Uuid>,
        kind: ResourceKind,
        name: &str,
    ) -> Option<&CatalogEntry> {
        self.names
            .get(&(org, scope, kind, name.to_string()))
            .and_then(|id| self.entries.get(id))
    }

    /// Whether anything sits in the namespace.
    pub fn has_children(&self, namespace: &Uuid) -> bool {
        self.children
            .get(namespace)
            .is_some_and(|children| !children.is_empty())
    }

    /// The namespaces a resource sits in, nearest first (at most
    /// [`MAX_NAMESPACE_DEPTH`]).
    pub fn ancestors(&self, entry: &CatalogEntry) -> impl Iterator<Item = &CatalogEntry> {
        let mut next = entry.parent_id;
        std::iter::from_fn(move || {
            let parent = self.entries.get(&next?)?;
            next = parent.parent_id;
            Some(parent)
        })
        .take(MAX_NAMESPACE_DEPTH)
    }

    /// How deep a namespace is (a root is 1).
    pub fn depth(&self, entry: &CatalogEntry) -> usize {
        1 + self.ancestors(entry).count()
    }

    /// Every resource of the org, in creation order.
    pub fn in_org(&self, org: &Uuid) -> impl Iterator<Item = &CatalogEntry> {
        self.by_org
            .get(org)
            .into_iter()
            .flatten()
            .filter_map(|id| self.entries.get(id))
    }

    /// Every resource of every org (for superusers), in no set order.
    pub fn all(&self) -> impl Iterator<Item = &CatalogEntry> {
        self.entries.values()
    }

    /// Folds one event.
    pub fn apply(&mut self, payload: &EventPayload, at: i64) {
        match payload {
            EventPayload::NamespaceCreated(created) => self.insert(CatalogEntry {
                id: created.namespace_id,
                kind: ResourceKind::Namespace,
                org_id: created.org_id,
                name: created.name.clone(),
                owner_id: created.owner_id,
                parent_id: created.parent_id,
                system: created.system,
                created_at: at,
                updated_at: at,
            }),
            EventPayload::NamespaceUpdated(updated) => {
                self.change(updated.namespace_id, at, |entry| {
                    entry.name = updated.name.clone()
                })
            }
            EventPayload::NamespaceDeleted(deleted) => {
                self.remove(deleted.namespace_id);
            }
            EventPayload::FlowCreated(created) => {
                self.insert(CatalogEntry {
                    id: created.flow_id,
                    kind: ResourceKind::Flow,
                    org_id: created.org_id,
                    name: created.name.clone(),
                    owner_id: Some(created.owner_id),
                    parent_id: Some(created.namespace_id),
                    system: false,
                    created_at: at,
                    updated_at: at,
                });
                self.definitions
                    .insert(created.flow_id, created.definition.clone());
            }
            EventPayload::FlowUpdated(updated) => {
                self.change(updated.flow_id, at, |entry| {
                    entry.name = updated.name.clone();
                    entry.parent_id = Some(updated.namespace_id);
                });
                self.definitions
                    .insert(updated.flow_id, updated.definition.clone());
            }
            EventPayload::FlowDeleted(deleted) => {
                self.remove(deleted.flow_id);
                self.definitions.remove(&deleted.flow_id);
            }
            EventPayload::SecretCreated(created) => self.insert(CatalogEntry {
                id: created.secret_id,
                kind: ResourceKind::Secret,
                org_id: created.org_id,
                name: created.name.clone(),
                owner_id: Some(created.owner_id),
                parent_id: None,
                system: false,
                created_at: at,
                updated_at: at,
            }),
            EventPayload::SecretRotated(rotated) => self.change(rotated.secret_id, at, |_| {}),
            EventPayload::ConnectionCreated(created) => self.insert(CatalogEntry {
                id: created.connection_id,
                kind: ResourceKind::Connection,
                org_id: created.org_id,
                name: created.name.clone(),
                owner_id: Some(created.owner_id),
                parent_id: None,
                system: false,
                created_at: at,
                updated_at: at,
            }),
            EventPayload::ConnectionUpdated(updated) => {
                self.change(updated.connection_id, at, |entry| {
                    entry.name = updated.name.clone()
                })
            }
            EventPayload::ScheduleCreated(created) => self.insert(CatalogEntry {
                id: created.schedule_id,
                kind: ResourceKind::Schedule,
                org_id: created.org_id,
                name: created.cron.clone(),
                owner_id: Some(created.owner_id),
                parent_id: None,
                system: false,
                created_at: at,
                updated_at: at,
            }),
            EventPayload::SecretDeleted(deleted) | EventPayload::ConnectionDeleted(deleted) => {
                self.remove(deleted.secret_id);
            }
            EventPayload::ScheduleDeleted(deleted) => {
                self.remove(deleted.schedule_id);
            }
            _ => {}
        }
    }

    /// Names are unique among a namespace's children (namespaces, flows),
    /// and among one owner's secrets and connections; schedules have none.
    fn name_key(entry: &CatalogEntry) -> Option<(Uuid, Option<Uuid>, ResourceKind, String)> {
        let scope = match entry.kind {
            ResourceKind::Namespace | ResourceKind::Flow => entry.parent_id,
            ResourceKind::Secret | ResourceKind::Connection => entry.owner_id,
            _ => return None,
        };
        Some((entry.org_id, scope, entry.kind, entry.name.clone()))
    }

    fn insert(&mut self, entry: CatalogEntry) {
        if let Some(key) = Self::name_key(&entry) {
            self.names.insert(key, entry.id);
        }
        self.by_org
            .entry(entry.org_id)
            .or_default()
            .insert(entry.id);
        if let Some(parent) = entry.parent_id {
            self.children.entry(parent).or_default().insert(entry.id);
        }
        self.entries.insert(entry.id, entry);
    }

    fn remove(&mut self, id: Uuid) -> Option<CatalogEntry> {
        let entry = self.entries.remove(&id)?;
        if self.children.get(&id).is_some_and(BTreeSet::is_empty) {
            self.children.remove(&id);
        }
        if let Some(key) = Self::name_key(&entry) {
            self.names.remove(&key);
        }
        if let Some(resources) = self.by_org.get_mut(&entry.org_id) {
            resources.remove(&id);
        }
        if let Some(parent) = entry.parent_id
            && let Some(children) = self.children.get_mut(&parent)
        {
            children.remove(&id);
        }
        Some(entry)
    }

    /// Changes an entry, keeping the name and parent indexes right.
    fn change(&mut self, id: Uuid, at: i64, edit: impl FnOnce(&mut CatalogEntry)) {
        let Some(mut entry) = self.remove(id) else {
            return;
        };
        edit(&mut entry);
        entry.updated_at = at;
        self.insert(entry);
    }
}
