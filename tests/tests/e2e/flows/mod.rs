//! Flows run: runs and schedules, egress, masking, pinning.

pub(crate) mod egress;
pub(crate) mod masking;
pub(crate) mod runs;
pub(crate) mod schedule_attacks;
