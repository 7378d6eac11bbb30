//! Activity views: runs (status, steps, masked outputs) and schedules
//! (what runs when, as whom, and which due time was last accounted for).

mod runs;
mod schedules;

pub use runs::{RunRecord, Runs, StepRecord};
pub use schedules::{ScheduleRecord, Schedules, Suspension};
