//! Grants: who was given which level of access to which resource. A grant
//! ends when it is revoked, or with its resource or its grantee.

use std::collections::BTreeSet;

use crate::fast_map::HashMap;

use cairn_schemas::{EventPayload, GrantLevel, GranteeKind, ResourceKind};
use uuid::Uuid;

/// One grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GrantRecord {
    /// Its id.
    pub id: Uuid,
    /// The org of the resource.
    pub org_id: Uuid,
    /// The kind of resource.
    pub resource_kind: ResourceKind,
    /// The resource.
    pub resource_id: Uuid,
    /// A user or a group.
    pub grantee_kind: GranteeKind,
    /// The user or group.
    pub grantee_id: Uuid,
    /// How much it allows.
    pub level: GrantLevel,
    /// Who granted it.
    pub granted_by: Uuid,
    /// When (micros).
    pub created_at: i64,
}

/// The answer to "who has been granted what on resource X?". A resource's
/// grants are kept together, inline, because `authorize` reads them for the
/// resource and every namespace above it on every request: one lookup per
/// resource rather than one per grant (see docs/performance.md).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Grants {
    /// resource -> its grants.
    on_resource: HashMap<Uuid, Vec<GrantRecord>>,
    /// grant -> the resource it is on.
    resource_of: HashMap<Uuid, Uuid>,
    /// grantee -> their grants.
    to_grantee: HashMap<Uuid, Vec<Uuid>>,
    /// org -> grants, in id (creation) order.
    by_org: HashMap<Uuid, BTreeSet<Uuid>>,
}

impl Grants {
    /// The grant with this id.
    pub fn get(&self, id: &Uuid) -> Option<&GrantRecord> {
        let resource = self.resource_of.get(id)?;
        self.on_resource
            .get(resource)?
            .iter()
            .find(|grant| grant.id == *id)
    }

    /// The grants on a resource (not those it inherits).
    pub fn on_resource(&self, resource: &Uuid) -> impl Iterator<Item = &GrantRecord> {
        self.on_resource.get(resource).into_iter().flatten()
    }

    /// The grants to a user or group.
    pub fn to_grantee(&self, grantee: &Uuid) -> impl Iterator<Item = &GrantRecord> {
        self.to_grantee
            .get(grantee)
            .into_iter()
            .flatten()
            .filter_map(|id| self.get(id))
    }

    /// The org's grants, in creation order.
    pub fn in_org(&self, org: &Uuid) -> impl Iterator<Item = &GrantRecord> {
        self.by_org
            .get(org)
            .into_iter()
            .flatten()
            .filter_map(|id| self.get(id))
    }

    /// The same grant, if it exists already.
    pub fn find(
        &self,
        resource: &Uuid,
        grantee_kind: GranteeKind,
        grantee: &Uuid,
        level: GrantLevel,
    ) -> Option<&GrantRecord> {
        self.on_resource(resource).find(|grant| {
            grant.grantee_kind == grantee_kind
                && grant.grantee_id == *grantee
                && grant.level == level
        })
    }

    /// Folds one event.
    pub fn apply(&mut self, payload: &EventPayload, at: i64) {
        match payload {
            EventPayload::GrantCreated(created) => {
                let grant = GrantRecord {
                    id: created.grant_id,
                    org_id: created.org_id,
                    resource_kind: created.resource_kind,
                    resource_id: created.resource_id,
                    grantee_kind: created.grantee_kind,
                    grantee_id: created.grantee_id,
                    level: created.level,
                    granted_by: created.granted_by,
                    created_at: at,
                };
                self.resource_of.insert(grant.id, grant.resource_id);
                self.to_grantee
                    .entry(grant.grantee_id)
                    .or_default()
                    .push(grant.id);
                self.by_org
                    .entry(grant.org_id)
                    .or_default()
                    .insert(grant.id);
                self.on_resource
                    .entry(grant.resource_id)
                    .or_default()
                    .push(grant);
            }
            EventPayload::GrantRevoked(revoked) => self.remove(revoked.grant_id),
            // A grant ends with its resource and with its grantee.
            EventPayload::NamespaceDeleted(deleted) => self.remove_on(deleted.namespace_id),
            EventPayload::FlowDeleted(deleted) => self.remove_on(deleted.flow_id),
            EventPayload::SecretDeleted(deleted) | EventPayload::ConnectionDeleted(deleted) => {
                self.remove_on(deleted.secret_id)
            }
            EventPayload::ScheduleDeleted(deleted) => self.remove_on(deleted.schedule_id),
            EventPayload::GroupDeleted(deleted) => self.remove_to(deleted.group_id),
            EventPayload::UserDeleted(user) => self.remove_to(user.user_id),
            _ => {}
        }
    }

    fn remove_on(&mut self, resource: Uuid) {
        let ids: Vec<Uuid> = self.on_resource(&resource).map(|grant| grant.id).collect();
        for id in ids {
            self.remove(id);
        }
    }

    fn remove_to(&mut self, grantee: Uuid) {
        for id in self.to_grantee.get(&grantee).cloned().unwrap_or_default() {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: Uuid) {
        let Some(resource) = self.resource_of.remove(&id) else {
            return;
        };
        let mut removed = None;
        if let Some(grants) = self.on_resource.get_mut(&resource) {
            if let Some(at) = grants.iter().position(|grant| grant.id == id) {
                removed = Some(grants.remove(at));
            }
            if grants.is_empty() {
                self.on_resource.remove(&resource);
            }
        }
        let Some(grant) = removed else {
            return;
        };
        if let Some(ids) = self.to_grantee.get_mut(&grant.grantee_id) {
            ids.retain(|other| *other != id);
            if ids.is_empty() {
                self.to_grantee.remove(&grant.grantee_id);
            }
        }
        if let Some(ids) = self.by_org.get_mut(&grant.org_id) {
            ids.remove(&id);
        }
    }
}
