//! Retention: the policy in force, how far each class has been pruned, and
//! how many events of each class the log holds (what the count limits are
//! measured against).

use cairn_core::rules::DEFAULT_POLICY;
use cairn_schemas::{
    ClassHorizon, EventPayload, Record, RetentionClass, RetentionPolicy, RetentionPruned,
};

/// The horizon a `retention.pruned` record gives `class`, if any.
pub fn horizon_of(pruned: &RetentionPruned, class: RetentionClass) -> Option<&ClassHorizon> {
    pruned
        .horizons
        .iter()
        .find(|horizon| horizon.class == class)
}

/// The last prune, as recorded by `retention.pruned`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PruneRecord {
    /// The seq of the `retention.pruned` event.
    pub seq: u64,
    /// When it was recorded (micros).
    pub at: i64,
    /// What it recorded.
    pub pruned: RetentionPruned,
}

/// The answer to "what is kept, and what was pruned?".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Retention {
    /// The policy an admin set; `None` while the defaults are in force.
    set: Option<RetentionPolicy>,
    /// Events per class (security, activity, operational), every one the
    /// log holds, pruned or not.
    counts: [u64; 3],
    /// The last prune.
    last_prune: Option<PruneRecord>,
    /// Per class, the seq of every [`MARK_EVERY`]-th event of the class
    /// (the 1st, the 1025th, ...): where to start looking for the n-th
    /// one, which a count limit needs.
    marks: [Vec<u64>; 3],
}

/// How many events of a class lie between two marks.
pub const MARK_EVERY: u64 = 1024;

fn index(class: RetentionClass) -> usize {
    match class {
        RetentionClass::Security => 0,
        RetentionClass::Activity => 1,
        RetentionClass::Operational => 2,
    }
}

impl Retention {
    /// The policy in force.
    pub fn policy(&self) -> RetentionPolicy {
        self.set.unwrap_or(DEFAULT_POLICY)
    }

    /// The policy an admin set, if any.
    pub fn policy_set(&self) -> Option<&RetentionPolicy> {
        self.set.as_ref()
    }

    /// How many events of `class` the log holds.
    pub fn count(&self, class: RetentionClass) -> u64 {
        self.counts[index(class)]
    }

    /// Where to start looking for the `ordinal`-th event of `class`
    /// (1-based): a seq holding an event of the class, and its ordinal.
    pub fn mark_before(&self, class: RetentionClass, ordinal: u64) -> Option<(u64, u64)> {
        let slot = ordinal.checked_sub(1)? / MARK_EVERY;
        let seq = *self.marks[index(class)].get(usize::try_from(slot).ok()?)?;
        Some((seq, slot * MARK_EVERY + 1))
    }

    /// The last prune.
    pub fn last_prune(&self) -> Option<&PruneRecord> {
        self.last_prune.as_ref()
    }

    /// How far `class` has been pruned (0: never).
    pub fn horizon(&self, class: RetentionClass) -> ClassHorizon {
        self.last_prune
            .as_ref()
            .and_then(|last| horizon_of(&last.pruned, class).copied())
            .unwrap_or(ClassHorizon {
                class,
                up_to_seq: 0,
                up_to_at: 0,
                pruned: 0,
            })
    }

    /// Folds one record (every record counts, with or without a payload).
    pub fn apply(&mut self, record: &Record, payload: Option<&EventPayload>) {
        let class = index(record.header.action.retention_class());
        self.counts[class] += 1;
        if self.counts[class] % MARK_EVERY == 1 {
            self.marks[class].push(record.header.seq);
        }
        match payload {
            Some(EventPayload::RetentionPolicySet(set)) => self.set = Some(set.policy),
            Some(EventPayload::RetentionPruned(pruned)) => {
                self.last_prune = Some(PruneRecord {
                    seq: record.header.seq,
                    at: record.header.at,
                    pruned: pruned.clone(),
                });
            }
            _ => {}
        }
    }
}
