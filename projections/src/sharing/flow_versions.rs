//! Flow versions: which definition each flow has now (its digest) and who
//! wrote it, so that a schedule or a run can pin what it runs and name its
//! author. Renaming or moving a flow keeps its definition, so it keeps its
//! digest and its author.

use sha2::{Digest, Sha256};

use crate::fast_map::HashMap;
use crate::identity::ApiKeys;

use cairn_schemas::{ActorKind, ActorRef, EventPayload};
use uuid::Uuid;

/// The digest of a definition's stored text: `sha256:` and its hex
/// SHA-256.
pub fn definition_digest(text: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

/// A flow's current definition, by digest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FlowVersion {
    /// [`definition_digest`] of its definition.
    pub digest: String,
    /// Who wrote it: the flow's creator, or the member whose edit made
    /// this definition (an API key's owner for an edit made with a key).
    pub author_id: Uuid,
    /// When this definition was written (micros).
    pub since: i64,
}

/// The answer to "which definition does flow X have, and who wrote it?".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlowVersions {
    by_flow: HashMap<Uuid, FlowVersion>,
}

/// The member behind an actor: a user, or an API key's owner.
fn member_of(actor: &ActorRef, api_keys: &ApiKeys) -> Option<Uuid> {
    match actor.kind {
        ActorKind::User => actor.id,
        ActorKind::ApiKey => actor
            .id
            .and_then(|key| api_keys.get(&key))
            .map(|key| key.user_id),
        _ => None,
    }
}

impl FlowVersions {
    /// The flow's current definition.
    pub fn get(&self, flow: &Uuid) -> Option<&FlowVersion> {
        self.by_flow.get(flow)
    }

    /// Folds one event by `actor` at `at`; `api_keys` names a key's owner.
    pub fn apply(&mut self, actor: &ActorRef, payload: &EventPayload, at: i64, api_keys: &ApiKeys) {
        match payload {
            EventPayload::FlowCreated(created) => {
                self.by_flow.insert(
                    created.flow_id,
                    FlowVersion {
                        digest: definition_digest(&created.definition),
                        author_id: created.owner_id,
                        since: at,
                    },
                );
            }
            EventPayload::FlowUpdated(updated) => {
                let digest = definition_digest(&updated.definition);
                if self
                    .by_flow
                    .get(&updated.flow_id)
                    .is_some_and(|current| current.digest == digest)
                {
                    // The same definition: its author stays who wrote it.
                    return;
                }
                let author_id = member_of(actor, api_keys).unwrap_or_default();
                self.by_flow.insert(
                    updated.flow_id,
                    FlowVersion {
                        digest,
                        author_id,
                        since: at,
                    },
                );
            }
            EventPayload::FlowDeleted(deleted) => {
                self.by_flow.remove(&deleted.flow_id);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_schemas::{FlowCreated, FlowUpdated};

    const ALICE: Uuid = Uuid::from_u128(1);
    const BOB: Uuid = Uuid::from_u128(2);
    const FLOW: Uuid = Uuid::from_u128(10);

    fn user(id: Uuid) -> ActorRef {
        ActorRef {
            kind: ActorKind::User,
            id: Some(id),
        }
    }

    fn created(definition: &str) -> EventPayload {
        EventPayload::FlowCreated(FlowCreated {
            flow_id: FLOW,
            org_id: Uuid::from_u128(100),
            namespace_id: Uuid::from_u128(200),
            name: "f".into(),
            owner_id: ALICE,
            definition: definition.into(),
        })
    }

    fn updated(name: &str, definition: &str) -> EventPayload {
        EventPayload::FlowUpdated(FlowUpdated {
            flow_id: FLOW,
            namespace_id: Uuid::from_u128(200),
            name: name.into(),
            definition: definition.into(),
        })
    }

    #[test]
    fn the_digest_is_the_sha256_of_the_text() {
        assert_eq!(
            definition_digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn an_edit_by_someone_else_makes_them_the_author_of_the_new_digest() {
        // Given alice's flow
        let keys = ApiKeys::default();
        let mut versions = FlowVersions::default();
        versions.apply(&user(ALICE), &created(r#"{"steps":[]}"#), 1, &keys);
        let first = versions.get(&FLOW).expect("created").clone();
        assert_eq!(first.author_id, ALICE);
        // When bob changes its definition
        versions.apply(&user(BOB), &updated("f", r#"{"steps":[1]}"#), 2, &keys);
        // Then the digest changes and bob wrote it
        let now = versions.get(&FLOW).expect("there");
        assert_ne!(now.digest, first.digest);
        assert_eq!(now.author_id, BOB);
        assert_eq!(now.since, 2);
    }

    #[test]
    fn a_rename_keeps_the_digest_and_its_author() {
        let keys = ApiKeys::default();
        let mut versions = FlowVersions::default();
        versions.apply(&user(ALICE), &created(r#"{"steps":[]}"#), 1, &keys);
        versions.apply(&user(BOB), &updated("renamed", r#"{"steps":[]}"#), 2, &keys);
        let now = versions.get(&FLOW).expect("there");
        assert_eq!(now.author_id, ALICE);
        assert_eq!(now.since, 1);
    }
}
