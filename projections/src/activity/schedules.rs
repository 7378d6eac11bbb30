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
    /// The definition digest it runs (none for a schedule created before
    /// schedules were pinned: it does not fire until its owner re-enables
    /// it).
    pub pinned_digest: Option<String>,
    /// Who wrote the pinned definition.
    pub pinned_author_id: Option<Uuid>,
    /// Why it does not fire, while it does not.
    pub suspension: Option<Suspension>,
    /// When its owner last re-enabled it (micros): no due time before it
    /// counts.
    pub resumed_at: Option<i64>,
}

/// Why a schedule does not fire.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Suspension {
    /// Who changed the flow (or paused the schedule).
    pub by_id: Uuid,
    /// Why, in words.
    pub reason: String,
    /// When (micros).
    pub at: i64,
}

impl ScheduleRecord {
    /// Whether it fires.
    pub fn enabled(&self) -> bool {
        self.suspension.is_none()
    }

    /// Due times at or before this are not looked at: it was created, or
    /// re-enabled, then.
    pub fn counts_from(&self) -> i64 {
        self.resumed_at
            .map_or(self.created_at, |resumed| resumed.max(self.created_at))
    }
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

    /// The schedules of a flow.
    pub fn of_flow(&self, flow: Uuid) -> impl Iterator<Item = &ScheduleRecord> {
        self.by_id
            .values()
            .filter(move |schedule| schedule.flow_id == flow)
    }

    /// How many schedules a member owns, in every org.
    pub fn owned_by(&self, user: Uuid) -> usize {
        self.by_id
            .values()
            .filter(|schedule| schedule.owner_id == user)
            .count()
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
                        pinned_digest: None,
                        pinned_author_id: None,
                        suspension: None,
                        resumed_at: None,
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
            EventPayload::SchedulePinned(pinned) => {
                if let Some(record) = self.by_id.get_mut(&pinned.schedule_id) {
                    record.pinned_digest = Some(pinned.digest.clone());
                    record.pinned_author_id = Some(pinned.author_id);
                }
            }
            EventPayload::ScheduleResumed(pinned) => {
                if let Some(record) = self.by_id.get_mut(&pinned.schedule_id) {
                    record.pinned_digest = Some(pinned.digest.clone());
                    record.pinned_author_id = Some(pinned.author_id);
                    record.suspension = None;
                    record.resumed_at = Some(at);
                }
            }
            EventPayload::ScheduleSuspended(suspended) => {
                if let Some(record) = self.by_id.get_mut(&suspended.schedule_id) {
                    record.suspension = Some(Suspension {
                        by_id: suspended.by_id,
                        reason: suspended.reason.clone(),
                        at,
                    });
                }
            }
            _ => {}
        }
    }
}
