//! Membership history: which orgs a user belonged to at any seq of the
//! log. An account-wide event (a password reset, a deactivation, a
//! deletion) is recorded in one org, but it concerns every org the user
//! belongs to; the audit API asks this view whether the user belonged to
//! the reader's org when the event was recorded.
//!
//! A deleted user's last memberships stay open: what is recorded about the
//! account after its deletion (its erasure) concerns the orgs it last
//! belonged to.

use std::collections::BTreeMap;

use crate::fast_map::HashMap;

use cairn_schemas::EventPayload;
use uuid::Uuid;

/// One stretch of membership: the user was a member after the record at
/// seq `from` and until the record at seq `until` (when it ended).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Span {
    from: u64,
    until: Option<u64>,
}

impl Span {
    /// Whether the user was a member when the record at `seq` was being
    /// decided (the state just before it): the record that ends a
    /// membership (a removal, a deletion) still concerns the org.
    fn covers(&self, seq: u64) -> bool {
        self.from < seq && self.until.is_none_or(|until| seq <= until)
    }
}

/// The answer to "did user U belong to org X when record S was written?".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MembershipHistory {
    /// user -> org -> spans, oldest first.
    spans: HashMap<Uuid, BTreeMap<Uuid, Vec<Span>>>,
}

impl MembershipHistory {
    /// Whether `user` belonged to `org` just before the record at `seq`
    /// (the record that created the membership does not count; the one
    /// that ended it does).
    pub fn belonged_at(&self, user: &Uuid, org: &Uuid, seq: u64) -> bool {
        self.spans
            .get(user)
            .and_then(|orgs| orgs.get(org))
            .is_some_and(|spans| spans.iter().any(|span| span.covers(seq)))
    }

    /// Folds the record at `seq`.
    pub fn apply(&mut self, payload: &EventPayload, seq: u64) {
        match payload {
            EventPayload::UserCreated(created) => self.join(created.user_id, created.org_id, seq),
            EventPayload::OrgMemberAdded(added) => self.join(added.user_id, added.org_id, seq),
            EventPayload::UserRoleChanged(changed) => {
                self.join(changed.user_id, changed.org_id, seq)
            }
            EventPayload::OrgMemberRemoved(removed) => {
                self.leave(removed.user_id, removed.org_id, seq)
            }
            _ => {}
        }
    }

    fn join(&mut self, user: Uuid, org: Uuid, seq: u64) {
        let spans = self.spans.entry(user).or_default().entry(org).or_default();
        let open = spans.last().is_some_and(|span| span.until.is_none());
        if !open {
            spans.push(Span {
                from: seq,
                until: None,
            });
        }
    }

    fn leave(&mut self, user: Uuid, org: Uuid, seq: u64) {
        let last = self
            .spans
            .get_mut(&user)
            .and_then(|orgs| orgs.get_mut(&org))
            .and_then(|spans| spans.last_mut());
        if let Some(span) = last.filter(|span| span.until.is_none()) {
            span.until = Some(seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_schemas::{OrgMemberAdded, OrgMemberRemoved, OrgRole, UserRef};

    const DAVE: Uuid = Uuid::from_u128(1);
    const ORG_A: Uuid = Uuid::from_u128(10);
    const ORG_B: Uuid = Uuid::from_u128(11);

    fn added(org: Uuid) -> EventPayload {
        EventPayload::OrgMemberAdded(OrgMemberAdded {
            org_id: org,
            user_id: DAVE,
            role: OrgRole::Viewer,
        })
    }

    fn removed(org: Uuid) -> EventPayload {
        EventPayload::OrgMemberRemoved(OrgMemberRemoved {
            org_id: org,
            user_id: DAVE,
        })
    }

    #[test]
    fn a_member_of_two_orgs_belongs_to_both_between_joining_and_leaving() {
        // Given dave joined A at 2 and B at 4, and left A at 7
        let mut history = MembershipHistory::default();
        history.apply(&added(ORG_A), 2);
        history.apply(&added(ORG_B), 4);
        history.apply(&removed(ORG_A), 7);
        // Then he belonged to A for the records 3 to 7 (the removal
        // itself concerns A), and to B from 5 on
        assert!(!history.belonged_at(&DAVE, &ORG_A, 2));
        assert!(history.belonged_at(&DAVE, &ORG_A, 3));
        assert!(history.belonged_at(&DAVE, &ORG_A, 7));
        assert!(!history.belonged_at(&DAVE, &ORG_A, 8));
        assert!(!history.belonged_at(&DAVE, &ORG_B, 4));
        assert!(history.belonged_at(&DAVE, &ORG_B, 5));
        assert!(history.belonged_at(&DAVE, &ORG_B, 1_000));
        assert!(!history.belonged_at(&Uuid::from_u128(2), &ORG_B, 5));
    }

    #[test]
    fn rejoining_opens_a_new_span_and_a_role_change_does_not() {
        // Given dave joined A at 1, left at 3, came back at 5 and had his
        // role changed at 6
        let mut history = MembershipHistory::default();
        history.apply(&added(ORG_A), 1);
        history.apply(&removed(ORG_A), 3);
        history.apply(&added(ORG_A), 5);
        history.apply(
            &EventPayload::UserRoleChanged(cairn_schemas::UserRoleChanged {
                user_id: DAVE,
                org_id: ORG_A,
                previous: OrgRole::Viewer,
                role: OrgRole::Admin,
            }),
            6,
        );
        // Then the gap is not covered, both stretches are
        assert!(history.belonged_at(&DAVE, &ORG_A, 2));
        assert!(!history.belonged_at(&DAVE, &ORG_A, 4));
        assert!(history.belonged_at(&DAVE, &ORG_A, 6));
        assert!(history.belonged_at(&DAVE, &ORG_A, 9));
    }

    #[test]
    fn a_deleted_users_last_memberships_still_concern_their_orgs() {
        // Given dave, a member of A and B, was deleted at 5
        let mut history = MembershipHistory::default();
        history.apply(&added(ORG_A), 1);
        history.apply(&added(ORG_B), 2);
        history.apply(&EventPayload::UserDeleted(UserRef { user_id: DAVE }), 5);
        // Then his deletion and his later erasure concern both orgs
        for seq in [5, 9] {
            assert!(history.belonged_at(&DAVE, &ORG_A, seq));
            assert!(history.belonged_at(&DAVE, &ORG_B, seq));
        }
    }
}
