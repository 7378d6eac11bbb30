//! SystemStatus: how often the server started, and the latest signed
//! checkpoint.

use cairn_schemas::{Action, CheckpointSigned, EventPayload, Record};

/// The answer to "what has this instance been doing?".
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SystemStatus {
    /// How many `system.started` events the log holds.
    pub starts: u64,
    /// The seq of the last `system.started`.
    pub last_start_seq: Option<u64>,
    /// The latest signed checkpoint.
    pub last_checkpoint: Option<CheckpointSigned>,
}

impl SystemStatus {
    /// Folds one record, with its payload as the views decoded it.
    pub fn apply(&mut self, record: &Record, payload: Option<&EventPayload>) {
        match (record.header.action, payload) {
            (Action::SystemStarted, _) => {
                self.starts += 1;
                self.last_start_seq = Some(record.header.seq);
            }
            (Action::CheckpointSigned, Some(EventPayload::CheckpointSigned(checkpoint))) => {
                self.last_checkpoint = Some(checkpoint.clone());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cairn_core::log::codec;
    use cairn_schemas::{ActorRef, Header, Outcome, RECORD_FORMAT, ResourceRef, SystemStarted};

    pub(crate) fn started_record(seq: u64) -> Record {
        let payload = codec::encode_payload(&EventPayload::SystemStarted(SystemStarted {
            version: "test".into(),
            record_format: RECORD_FORMAT,
            recovered_head: seq - 1,
            torn_records_dropped: 0,
        }))
        .expect("encode");
        Record {
            format: RECORD_FORMAT,
            header: Header {
                seq,
                id: uuid::Uuid::nil(),
                at: 0,
                org: None,
                actor: ActorRef::SYSTEM,
                action: Action::SystemStarted,
                resource: ResourceRef::SYSTEM,
                outcome: Outcome::Success,
                request_id: None,
                personal: Vec::new(),
                payload_digest: [0; 32],
                prev_hash: [0; 32],
            },
            payload: Some(payload),
            hash: [0; 32],
        }
    }

    #[test]
    fn counts_starts() {
        let mut status = SystemStatus::default();
        status.apply(&started_record(1), None);
        status.apply(&started_record(2), None);
        assert_eq!(status.starts, 2);
        assert_eq!(status.last_start_seq, Some(2));
    }
}
