//! Schedules: which flow runs when, as whom, and the last due time that
//! was accounted for (fired, missed or denied), so that no due time is
//! run twice, also across restarts.

use std::collections::{BTreeMap, HashMap};

use cairn_schemas::EventPayload;
use uuid::Uuid;

/// One schedule.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScheduleRecord {
    /// Its id.
    pub id: Uuid,
    /// Its org.
    pub org_id: Uuid,
    /// The flow it runs.
    pub flow_id: Uuid,
    /// The member it runs as.
    pub owner_id: Uuid,
    /// The cron expression (UTC).
    pub cron: String,
    /// When it was created (micros): no due time before it counts.
    pub created_at: i64,
    /// The last due time accounted for (micros).
    pub last_due: Option<i64>,
}

/// The answer to "what is scheduled, and what was last done about it?".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Schedules {
    by_id: BTreeMap<Uuid, ScheduleRecord>,
    /// org -> schedules.
    by_org: HashMap<Uuid, Vec<Uuid>>,
}

impl Schedules {
    /// The schedule with this id.
    pub fn get(&self, id: &Uuid) -> Option<&ScheduleRecord> {
        self.by_id.get(id)
    }

    /// Every schedule, by id.
    pub fn all(&self) -> impl Iterator<Item = &ScheduleRecord> {
        self.by_id.values()
    }

    /// Folds one event.
    pub fn apply(&mut self, payload: &EventPayload, at: i64) {
        match payload {
            EventPayload::ScheduleCreated(created) => {
                self.by_org
                    .entry(created.org_id)
                    .or_default()
                    .push(created.schedule_id);
                self.by_id.insert(
                    created.schedule_id,
                    ScheduleRecord {
                        id: created.schedule_id,
                        org_id: created.org_id,
                        flow_id: created.flow_id,
                        owner_id: created.owner_id,
                        cron: created.cron.clone(),
                        created_at: at,
                        last_due: None,
                    },
                );
            }
            EventPayload::ScheduleDeleted(deleted) => {
                if let Some(record) = self.by_id.remove(&deleted.schedule_id)
                    && let Some(ids) = self.by_org.get_mut(&record.org_id)
                {
                    ids.retain(|id| *id != deleted.schedule_id);
                }
            }
            EventPayload::ScheduleFired(fired) => {
                if let Some(record) = self.by_id.get_mut(&fired.schedule_id) {
                    record.last_due = Some(
                        record
                            .last_due
                            .map_or(fired.due_at, |last| last.max(fired.due_at)),
                    );
                }
            }
            _ => {}
        }
    }
}
