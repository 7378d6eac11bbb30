//! Run and schedule events (docs/contract.md section 6). Step outputs are stored
//! after masking: every resolved secret or environment value is `***`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::named_enum! {
    /// Where a run is.
    RunStatus {
        /// Accepted, waiting for a worker.
        Queued => "queued",
        /// A worker is executing it.
        Running => "running",
        /// Every step succeeded.
        Succeeded => "succeeded",
        /// A step failed, or the server stopped during the run.
        Failed => "failed",
        /// The invoker may not run the flow (a schedule whose member lost
        /// access).
        Denied => "denied",
    }
}

crate::named_enum! {
    /// How a step ended.
    StepStatus {
        /// It did its work.
        Succeeded => "succeeded",
        /// It failed; the run stops.
        Failed => "failed",
    }
}

crate::named_enum! {
    /// What became of a schedule's due time.
    FireOutcome {
        /// A run was started.
        Fired => "fired",
        /// The server was down at the due time: recorded, never run late.
        Missed => "missed",
        /// The member who scheduled it may no longer run the flow.
        Denied => "denied",
    }
}

/// `run.requested`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequested {
    /// The run.
    pub run_id: Uuid,
    /// The flow.
    pub flow_id: Uuid,
    /// The org.
    pub org_id: Uuid,
    /// The member it runs as.
    pub invoker_id: Uuid,
    /// The schedule that fired it, if any.
    pub schedule_id: Option<Uuid>,
}

/// A run named by id (`run.started`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRef {
    /// The run.
    pub run_id: Uuid,
}

/// `run.step_finished`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStepFinished {
    /// The run.
    pub run_id: Uuid,
    /// The step's position.
    pub index: u32,
    /// The step's id (its position when it has none).
    pub step_id: String,
    /// How it ended.
    pub status: StepStatus,
    /// Its output as JSON text, masked.
    pub output: String,
}

/// `run.finished`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFinished {
    /// The run.
    pub run_id: Uuid,
    /// How it ended: succeeded, failed or denied.
    pub status: RunStatus,
    /// Why it failed or was denied (masked).
    pub error: Option<String>,
}

/// `schedule.created`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleCreated {
    /// The schedule.
    pub schedule_id: Uuid,
    /// Its org.
    pub org_id: Uuid,
    /// The flow it runs.
    pub flow_id: Uuid,
    /// The member it runs as (who created it).
    pub owner_id: Uuid,
    /// The cron expression (UTC).
    pub cron: String,
}

/// `schedule.deleted`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleDeleted {
    /// The schedule.
    pub schedule_id: Uuid,
}

/// `schedule.fired`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleFired {
    /// The schedule.
    pub schedule_id: Uuid,
    /// The due time this is about (micros); with `missed`, the last of them.
    pub due_at: i64,
    /// What became of it.
    pub outcome: FireOutcome,
    /// The run started (fired) or recorded as denied.
    pub run_id: Option<Uuid>,
    /// How many due times were missed (outcome missed).
    pub missed: u32,
}

/// `schedule.pinned` and `schedule.resumed`: the flow definition a
/// schedule runs, so that whoever else can edit the flow cannot make the
/// schedule run their definition as its owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulePinned {
    /// The schedule.
    pub schedule_id: Uuid,
    /// The flow it runs.
    pub flow_id: Uuid,
    /// `sha256:` and the hex SHA-256 of the definition's stored text.
    pub digest: String,
    /// Who wrote that definition (the flow's last editor at that digest).
    pub author_id: Uuid,
}

/// `schedule.suspended`: the schedule does not fire until its owner
/// re-enables it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSuspended {
    /// The schedule.
    pub schedule_id: Uuid,
    /// The flow it runs.
    pub flow_id: Uuid,
    /// Who changed the flow (or paused the schedule: its owner).
    pub by_id: Uuid,
    /// The digest the schedule was pinned to.
    pub old_digest: String,
    /// The flow's digest now.
    pub new_digest: String,
    /// Why, in words.
    pub reason: String,
}

/// `run.definition_pinned`: the definition a run runs, recorded with its
/// request; the run does not start if the flow's definition is another by
/// then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunDefinitionPinned {
    /// The run.
    pub run_id: Uuid,
    /// The flow.
    pub flow_id: Uuid,
    /// `sha256:` and the hex SHA-256 of the definition's stored text.
    pub digest: String,
    /// The member it runs as.
    pub invoker_id: Uuid,
    /// Who wrote that definition (the flow's last editor at that digest).
    pub author_id: Uuid,
}
