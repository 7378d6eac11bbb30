//! Retention: how long each class of event keeps its payload, and the
//! record of each prune. Headers are kept for ever, so the chain and the
//! compliance trail (who did what to what, when) survive every prune.

use serde::{Deserialize, Serialize};

use crate::RetentionClass;

/// The policy of one retention class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassPolicy {
    /// How often the class is pruned, in seconds.
    pub cadence_secs: u64,
    /// Payloads older than this many days are dropped.
    pub max_age_days: u32,
    /// At most this many of the class's newest events keep their payload;
    /// `None`: no limit by count.
    pub max_count: Option<u64>,
}

/// The retention policy: one [`ClassPolicy`] per class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Auth, admin, grants, secrets, config.
    pub security: ClassPolicy,
    /// Runs and schedules.
    pub activity: ClassPolicy,
    /// Per-request records (`http.request`).
    pub operational: ClassPolicy,
}

impl RetentionPolicy {
    /// The policy of `class`.
    pub fn of(&self, class: RetentionClass) -> &ClassPolicy {
        match class {
            RetentionClass::Security => &self.security,
            RetentionClass::Activity => &self.activity,
            RetentionClass::Operational => &self.operational,
        }
    }
}

/// `config.changed`: the retention policy was set (the whole policy).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicySet {
    /// The policy now in force.
    pub policy: RetentionPolicy,
    /// The policy it replaced (`None`: the defaults were in force).
    pub previous: Option<RetentionPolicy>,
}

/// How far one class has been pruned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassHorizon {
    /// The class.
    pub class: RetentionClass,
    /// Every payload of this class at or before this seq may be gone
    /// (cumulative: never moves back).
    pub up_to_seq: u64,
    /// The time of the last record of this class at or before `up_to_seq`
    /// (micros; 0 when none).
    pub up_to_at: i64,
    /// Payloads of this class dropped by this prune.
    pub pruned: u64,
}

/// `retention.pruned`: payloads were dropped. Written (and made durable)
/// before any payload is dropped, so a missing payload is always covered by
/// a retention record later in the chain; verification tells pruning from
/// tampering by it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPruned {
    /// The seq of the snapshot of the views written before the prune: the
    /// views rebuild from it and the events after it.
    pub snapshot_seq: u64,
    /// The horizon of every class after this prune (all three classes,
    /// cumulative).
    pub horizons: Vec<ClassHorizon>,
    /// The policy applied.
    pub policy: RetentionPolicy,
}
