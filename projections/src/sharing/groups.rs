//! Groups: who belongs to which group of an org, with which group role.

use std::collections::{BTreeMap, BTreeSet};

use crate::fast_map::HashMap;

use cairn_schemas::{EventPayload, GroupRole};
use uuid::Uuid;

/// One group.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupRecord {
    /// Its id.
    pub id: Uuid,
    /// Its org.
    pub org_id: Uuid,
    /// Its name, unique in the org.
    pub name: String,
    /// When it was created (micros).
    pub created_at: i64,
    /// Members and their roles.
    pub members: BTreeMap<Uuid, GroupRole>,
}

impl GroupRecord {
    /// How many owners it has.
    pub fn owner_count(&self) -> usize {
        self.members
            .values()
            .filter(|role| **role == GroupRole::Owner)
            .count()
    }
}

/// The answer to "which groups exist, and who is in them as what?".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Groups {
    groups: HashMap<Uuid, GroupRecord>,
    by_name: HashMap<(Uuid, String), Uuid>,
    /// org -> groups, in id (creation) order.
    by_org: HashMap<Uuid, BTreeSet<Uuid>>,
    /// user -> the groups they are in, sorted.
    of_user: HashMap<Uuid, Vec<Uuid>>,
}

impl Groups {
    /// The group with this id.
    pub fn get(&self, id: &Uuid) -> Option<&GroupRecord> {
        self.groups.get(id)
    }

    /// The org's group with this exact name.
    pub fn by_name(&self, org: &Uuid, name: &str) -> Option<&GroupRecord> {
        self.by_name
            .get(&(*org, name.to_string()))
            .and_then(|id| self.groups.get(id))
    }

    /// The org's groups, in creation order.
    pub fn in_org(&self, org: &Uuid) -> impl Iterator<Item = &GroupRecord> {
        self.by_org
            .get(org)
            .into_iter()
            .flatten()
            .filter_map(|id| self.groups.get(id))
    }

    /// The groups a user is in (any org), sorted by id.
    pub fn groups_of(&self, user: &Uuid) -> &[Uuid] {
        self.of_user.get(user).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether the user is in the group.
    pub fn is_member(&self, group: &Uuid, user: &Uuid) -> bool {
        self.groups_of(user).binary_search(group).is_ok()
    }

    /// The user's role in the group, if a member.
    pub fn role_in(&self, group: &Uuid, user: &Uuid) -> Option<GroupRole> {
        self.groups
            .get(group)
            .and_then(|record| record.members.get(user))
            .copied()
    }

    /// Folds one event.
    pub fn apply(&mut self, payload: &EventPayload, at: i64) {
        match payload {
            EventPayload::GroupCreated(created) => {
                self.by_name
                    .insert((created.org_id, created.name.clone()), created.group_id);
                self.by_org
                    .entry(created.org_id)
                    .or_default()
                    .insert(created.group_id);
                self.groups.insert(
                    created.group_id,
                    GroupRecord {
                        id: created.group_id,
                        org_id: created.org_id,
                        name: created.name.clone(),
                        created_at: at,
                        members: BTreeMap::new(),
                    },
                );
                self.join(created.group_id, created.owner_id, GroupRole::Owner);
            }
            EventPayload::GroupDeleted(deleted) => self.delete(deleted.group_id),
            EventPayload::GroupMemberAdded(added) => {
                self.join(added.group_id, added.user_id, added.role)
            }
            EventPayload::GroupMemberRoleChanged(changed) => {
                self.join(changed.group_id, changed.user_id, changed.role)
            }
            EventPayload::GroupMemberRemoved(removed) => {
                self.leave(removed.group_id, removed.user_id)
            }
            // Leaving an org leaves its groups; a deleted user leaves all.
            EventPayload::OrgMemberRemoved(removed) => {
                let groups: Vec<Uuid> = self
                    .groups_of(&removed.user_id)
                    .iter()
                    .filter(|group| {
                        self.groups
                            .get(group)
                            .is_some_and(|record| record.org_id == removed.org_id)
                    })
                    .copied()
                    .collect();
                for group in groups {
                    self.leave(group, removed.user_id);
                }
            }
            EventPayload::UserDeleted(user) => {
                for group in self.groups_of(&user.user_id).to_vec() {
                    self.leave(group, user.user_id);
                }
            }
            _ => {}
        }
    }

    fn join(&mut self, group: Uuid, user: Uuid, role: GroupRole) {
        let Some(record) = self.groups.get_mut(&group) else {
            return;
        };
        record.members.insert(user, role);
        let groups = self.of_user.entry(user).or_default();
        if let Err(at) = groups.binary_search(&group) {
            groups.insert(at, group);
        }
    }

    fn leave(&mut self, group: Uuid, user: Uuid) {
        if let Some(record) = self.groups.get_mut(&group) {
            record.members.remove(&user);
        }
        self.unlink(user, group);
    }

    /// Drops `group` from the user's sorted list.
    fn unlink(&mut self, user: Uuid, group: Uuid) {
        if let Some(groups) = self.of_user.get_mut(&user) {
            if let Ok(at) = groups.binary_search(&group) {
                groups.remove(at);
            }
            if groups.is_empty() {
                self.of_user.remove(&user);
            }
        }
    }

    fn delete(&mut self, group: Uuid) {
        let Some(record) = self.groups.remove(&group) else {
            return;
        };
        self.by_name.remove(&(record.org_id, record.name.clone()));
        if let Some(groups) = self.by_org.get_mut(&record.org_id) {
            groups.remove(&group);
        }
        for user in record.members.keys() {
            self.unlink(*user, group);
        }
    }
}
