//! Runs: where each run is, and what its steps produced (masked).

use std::collections::{BTreeSet, HashMap};

use cairn_schemas::{EventPayload, RunStatus, StepStatus};
use uuid::Uuid;

/// One finished step.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepRecord {
    /// Its position.
    pub index: u32,
    /// Its id.
    pub step_id: String,
    /// How it ended.
    pub status: StepStatus,
    /// Its masked output (JSON text).
    pub output: String,
}

/// One run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    /// Its id.
    pub id: Uuid,
    /// The flow.
    pub flow_id: Uuid,
    /// The org.
    pub org_id: Uuid,
    /// The member it runs as.
    pub invoker_id: Uuid,
    /// The schedule that fired it.
    pub schedule_id: Option<Uuid>,
    /// Where it is.
    pub status: RunStatus,
    /// Its finished steps, in order.
    pub steps: Vec<StepRecord>,
    /// Why it failed or was denied.
    pub error: Option<String>,
    /// When it was requested (micros).
    pub requested_at: i64,
    /// When a worker took it.
    pub started_at: Option<i64>,
    /// When it ended.
    pub finished_at: Option<i64>,
    /// The digest of the definition it runs (none for runs recorded
    /// before digests).
    pub definition_digest: Option<String>,
    /// Who wrote that definition.
    pub definition_author_id: Option<Uuid>,
}

/// The answer to "what happened to run X?".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Runs {
    by_id: HashMap<Uuid, RunRecord>,
    by_org: HashMap<Uuid, BTreeSet<Uuid>>,
    unfinished: BTreeSet<Uuid>,
}

impl Runs {
    /// The run with this id.
    pub fn get(&self, id: &Uuid) -> Option<&RunRecord> {
        self.by_id.get(id)
    }

    /// The org's runs, oldest first.
    pub fn in_org(&self, org: &Uuid) -> impl Iterator<Item = &RunRecord> {
        self.by_org
            .get(org)
            .into_iter()
            .flatten()
            .filter_map(|id| self.by_id.get(id))
    }

    /// How many runs of this invoker are queued or running.
    pub fn unfinished_of(&self, invoker: Uuid) -> usize {
        self.unfinished()
            .filter(|run| run.invoker_id == invoker)
            .count()
    }

    /// Runs queued or running: after a restart, the ones the server was in
    /// the middle of.
    pub fn unfinished(&self) -> impl Iterator<Item = &RunRecord> {
        self.unfinished.iter().filter_map(|id| self.by_id.get(id))
    }

    /// Folds one event.
    pub fn apply(&mut self, payload: &EventPayload, at: i64) {
        match payload {
            EventPayload::RunRequested(requested) => {
                self.by_org
                    .entry(requested.org_id)
                    .or_default()
                    .insert(requested.run_id);
                self.unfinished.insert(requested.run_id);
                self.by_id.insert(
                    requested.run_id,
                    RunRecord {
                        id: requested.run_id,
                        flow_id: requested.flow_id,
                        org_id: requested.org_id,
                        invoker_id: requested.invoker_id,
                        schedule_id: requested.schedule_id,
                        status: RunStatus::Queued,
                        steps: Vec::new(),
                        error: None,
                        requested_at: at,
                        started_at: None,
                        finished_at: None,
                        definition_digest: None,
                        definition_author_id: None,
                    },
                );
            }
            EventPayload::RunDefinitionPinned(pinned) => {
                if let Some(run) = self.by_id.get_mut(&pinned.run_id) {
                    run.definition_digest = Some(pinned.digest.clone());
                    run.definition_author_id = Some(pinned.author_id);
                }
            }
            EventPayload::RunStarted(started) => {
                if let Some(run) = self.by_id.get_mut(&started.run_id) {
                    run.status = RunStatus::Running;
                    run.started_at = Some(at);
                }
            }
            EventPayload::RunStepFinished(step) => {
                if let Some(run) = self.by_id.get_mut(&step.run_id) {
                    run.steps.push(StepRecord {
                        index: step.index,
                        step_id: step.step_id.clone(),
                        status: step.status,
                        output: step.output.clone(),
                    });
                }
            }
            EventPayload::RunFinished(finished) => {
                self.unfinished.remove(&finished.run_id);
                if let Some(run) = self.by_id.get_mut(&finished.run_id) {
                    run.status = finished.status;
                    run.error = finished.error.clone();
                    run.finished_at = Some(at);
                }
            }
            // A finished run whose events retention pruned (its outputs
            // lived in their payloads) leaves the view: what remains of it
            // is the headers in the log.
            EventPayload::RetentionPruned(pruned) => {
                let Some(activity) =
                    crate::retention::horizon_of(pruned, cairn_schemas::RetentionClass::Activity)
                else {
                    return;
                };
                let gone: Vec<Uuid> = self
                    .by_id
                    .values()
                    .filter(|run| run.finished_at.is_some_and(|end| end <= activity.up_to_at))
                    .map(|run| run.id)
                    .collect();
                for id in gone {
                    if let Some(run) = self.by_id.remove(&id)
                        && let Some(runs) = self.by_org.get_mut(&run.org_id)
                    {
                        runs.remove(&id);
                    }
                }
            }
            _ => {}
        }
    }
}
