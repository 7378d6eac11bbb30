//! Organizations (tenants) and who belongs to them with which role.

use std::collections::{BTreeMap, BTreeSet};

use crate::fast_map::HashMap;

use cairn_schemas::{EventPayload, OrgRole};
use uuid::Uuid;

/// One organization.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrgRecord {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// When it was created (micros).
    pub created_at: i64,
}

/// The answer to "which orgs exist, and who is in them as what?".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Orgs {
    orgs: BTreeMap<Uuid, OrgRecord>,
    by_name: HashMap<String, Uuid>,
    /// user -> org -> role.
    memberships: HashMap<Uuid, BTreeMap<Uuid, OrgRole>>,
    /// org -> members.
    members: HashMap<Uuid, BTreeSet<Uuid>>,
}

impl Orgs {
    /// The org with this id.
    pub fn get(&self, id: &Uuid) -> Option<&OrgRecord> {
        self.orgs.get(id)
    }

    /// The org with this exact name.
    pub fn by_name(&self, name: &str) -> Option<&OrgRecord> {
        self.by_name.get(name).and_then(|id| self.orgs.get(id))
    }

    /// Every org, by id.
    pub fn all(&self) -> impl Iterator<Item = &OrgRecord> {
        self.orgs.values()
    }

    /// The user's role in the org, if a member.
    pub fn role_of(&self, user: &Uuid, org: &Uuid) -> Option<OrgRole> {
        self.memberships
            .get(user)
            .and_then(|orgs| orgs.get(org))
            .copied()
    }

    /// The user's memberships, by org id.
    pub fn memberships_of(&self, user: &Uuid) -> impl Iterator<Item = (&Uuid, &OrgRole)> {
        self.memberships.get(user).into_iter().flatten()
    }

    /// The members of an org.
    pub fn members_of(&self, org: &Uuid) -> impl Iterator<Item = &Uuid> {
        self.members.get(org).into_iter().flatten()
    }

    /// Folds one event.
    pub fn apply(&mut self, payload: &EventPayload, at: i64) {
        match payload {
            EventPayload::OrgCreated(created) => {
                self.by_name.insert(created.name.clone(), created.org_id);
                self.orgs.insert(
                    created.org_id,
                    OrgRecord {
                        id: created.org_id,
                        name: created.name.clone(),
                        created_at: at,
                    },
                );
            }
            EventPayload::UserCreated(created) => {
                self.join(created.user_id, created.org_id, created.role)
            }
            EventPayload::OrgMemberAdded(added) => {
                self.join(added.user_id, added.org_id, added.role)
            }
            EventPayload::UserRoleChanged(changed) => {
                self.join(changed.user_id, changed.org_id, changed.role)
            }
            EventPayload::OrgMemberRemoved(removed) => self.leave(removed.user_id, removed.org_id),
            EventPayload::UserDeleted(user) => {
                let orgs: Vec<Uuid> = self
                    .memberships_of(&user.user_id)
                    .map(|(org, _)| *org)
                    .collect();
                for org in orgs {
                    self.leave(user.user_id, org);
                }
            }
            _ => {}
        }
    }

    fn join(&mut self, user: Uuid, org: Uuid, role: OrgRole) {
        self.memberships.entry(user).or_default().insert(org, role);
        self.members.entry(org).or_default().insert(user);
    }

    fn leave(&mut self, user: Uuid, org: Uuid) {
        if let Some(orgs) = self.memberships.get_mut(&user) {
            orgs.remove(&org);
            if orgs.is_empty() {
                self.memberships.remove(&user);
            }
        }
        if let Some(members) = self.members.get_mut(&org) {
            members.remove(&user);
        }
    }
}
