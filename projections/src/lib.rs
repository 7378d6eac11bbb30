//! Cairn's views: the state that commands decide against and queries read,
//! folded from the event log. Each view answers one question and has one
//! `apply`; [`Views`] decodes each record once and applies it to all of
//! them in seq order.
//!
//! Architecture invariant: views are derived data. They are rebuilt from
//! the log on every start, nothing in them is written anywhere else, and
//! `apply` reads only the record (never the wall clock), so a replay gives
//! the same views.

pub mod access;
pub mod activity;
mod fast_map;
pub mod identity;
pub mod personal_source;
pub mod retention;
pub mod secrets;
pub mod sharing;
pub mod system_status;

use cairn_core::log::codec;
use cairn_schemas::{EventPayload, Record};

pub use identity::{ApiKeys, LoginFailures, Orgs, Sessions, Users};
pub use personal_source::PersonalSource;
pub use sharing::{Catalog, Grants, Groups};
pub use system_status::SystemStatus;

/// Every view, with the seq of the last record applied.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Views {
    applied_seq: u64,
    /// When the server started and what was checkpointed.
    pub system: SystemStatus,
    /// User accounts.
    pub users: Users,
    /// Organizations and memberships.
    pub orgs: Orgs,
    /// Login sessions.
    pub sessions: Sessions,
    /// API keys.
    pub api_keys: ApiKeys,
    /// Failed logins per username (lockout).
    pub login_failures: LoginFailures,
    /// Groups and their members.
    pub groups: Groups,
    /// Namespaces and flows (and later every shareable resource).
    pub catalog: Catalog,
    /// Grants on the catalog's resources.
    pub grants: Grants,
    /// Secret values (sealed) and their versions.
    pub secrets: secrets::Secrets,
    /// Connections' targets and sealed credentials.
    pub connections: secrets::Connections,
    /// Runs and their steps.
    pub runs: activity::Runs,
    /// Schedules and the last due time accounted for.
    pub schedules: activity::Schedules,
    /// The retention policy, the last prune and the events per class.
    pub retention: retention::Retention,
    /// Each flow's current definition digest and its author.
    pub flow_versions: sharing::FlowVersions,
    /// Which orgs each user belonged to at each seq (the audit API's
    /// scope for account-wide events).
    pub membership_history: identity::MembershipHistory,
}

/// A record that cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApplyError {
    /// Records must be applied gaplessly, in seq order.
    #[error("record {got} applied after {applied}: views apply records in order")]
    OutOfOrder {
        /// The last applied seq.
        applied: u64,
        /// The seq offered.
        got: u64,
    },
    /// A payload that does not decode.
    #[error("record {seq}: its payload does not decode: {error}")]
    Payload {
        /// The record.
        seq: u64,
        /// Why.
        error: codec::CodecError,
    },
}

impl Views {
    /// Empty views (before the first record).
    pub fn new() -> Views {
        Views::default()
    }

    /// The shape of these views in a snapshot. Bump it whenever a view's
    /// fields change: a snapshot of another shape is not read (the views
    /// are folded from the log instead).
    pub const SNAPSHOT_VERSION: u32 = 3;

    /// Opens the personal data the views keep (users' names and emails)
    /// again, after the views were read from a snapshot, which holds it
    /// only sealed.
    pub fn reopen_personal(&mut self, personal: &dyn PersonalSource) {
        self.users.reopen_personal(personal);
    }

    /// The seq of the last record applied.
    pub fn applied_seq(&self) -> u64 {
        self.applied_seq
    }

    /// Applies the next record. `personal` opens the record's sealed
    /// personal data (names, emails) for the views that keep them.
    pub fn apply(
        &mut self,
        record: &Record,
        personal: &dyn PersonalSource,
    ) -> Result<(), ApplyError> {
        let payload = Views::decode_payload(record)?;
        self.apply_decoded(record, payload.as_ref(), personal)
    }

    /// A record's payload decoded for [`Views::apply_decoded`] (`None`
    /// when it has none, or retention pruned it: views that needed its
    /// details were snapshotted before the prune). Decoding needs no
    /// views, so a fold can do it on another thread.
    pub fn decode_payload(record: &Record) -> Result<Option<EventPayload>, ApplyError> {
        match &record.payload {
            Some(bytes) => codec::decode_payload_for_fold(bytes)
                .map(Some)
                .map_err(|error| ApplyError::Payload {
                    seq: record.header.seq,
                    error,
                }),
            None => Ok(None),
        }
    }

    /// Applies the next record, its payload already decoded by
    /// [`Views::decode_payload`].
    pub fn apply_decoded(
        &mut self,
        record: &Record,
        payload: Option<&EventPayload>,
        personal: &dyn PersonalSource,
    ) -> Result<(), ApplyError> {
        let seq = record.header.seq;
        if seq != self.applied_seq + 1 {
            return Err(ApplyError::OutOfOrder {
                applied: self.applied_seq,
                got: seq,
            });
        }
        if let Some(payload) = payload {
            let at = record.header.at;
            self.users.apply(record, payload, personal);
            self.orgs.apply(payload, at);
            self.sessions.apply(payload, at);
            self.api_keys.apply(payload, at);
            self.login_failures.apply(payload, at);
            self.groups.apply(payload, at);
            self.catalog.apply(payload, at);
            self.grants.apply(payload, at);
            self.secrets.apply(payload, at);
            self.connections.apply(payload);
            self.runs.apply(payload, at);
            self.schedules.apply(payload, at);
            self.flow_versions
                .apply(&record.header.actor, payload, at, &self.api_keys);
            self.membership_history.apply(payload, seq);
        }
        self.retention.apply(record, payload);
        self.system.apply(record, payload);
        self.applied_seq = seq;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_is_refused() {
        let mut views = Views::new();
        let record = system_status::tests::started_record(2);
        assert_eq!(
            views.apply(&record, &personal_source::NoPersonalData),
            Err(ApplyError::OutOfOrder { applied: 0, got: 2 })
        );
    }
}
