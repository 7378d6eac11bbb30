//! What a schedule runs: the definition its owner scheduled, pinned by
//! digest. Whoever else may edit the flow must not be able to make the
//! schedule run their definition as its owner (a confused deputy), so the
//! pure decisions here say what a change of the flow does to each of its
//! schedules, and whether a due time may fire.

use cairn_projections::activity::ScheduleRecord;

/// What a change of a flow's definition does to one of its schedules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowChangeEffect {
    /// The definition is the same (a rename or a move): nothing.
    Nothing,
    /// Its owner changed the flow: the schedule runs their new definition
    /// (re-pinned; a suspended one stays suspended).
    Repin,
    /// Someone else changed it: suspended until its owner re-enables it.
    Suspend,
}

/// The effect on `schedule` of `editor` changing the flow's definition
/// from `old_digest` to `new_digest`.
pub fn effect_of_flow_change(
    schedule: &ScheduleRecord,
    editor: uuid::Uuid,
    old_digest: Option<&str>,
    new_digest: &str,
) -> FlowChangeEffect {
    if old_digest == Some(new_digest) {
        return FlowChangeEffect::Nothing;
    }
    if editor == schedule.owner_id {
        return FlowChangeEffect::Repin;
    }
    if schedule.enabled() {
        FlowChangeEffect::Suspend
    } else {
        // Suspended already (and named who did what then); it stays so,
        // pinned to its owner's definition.
        FlowChangeEffect::Nothing
    }
}

/// Whether a due time of an enabled schedule may run the flow's current
/// definition: only when it is the pinned one. The refusal reason
/// otherwise.
pub fn fire_refusal(schedule: &ScheduleRecord, current_digest: Option<&str>) -> Option<String> {
    match (schedule.pinned_digest.as_deref(), current_digest) {
        (Some(pinned), Some(current)) if pinned == current => None,
        (Some(_), _) => Some(
            "the flow's definition is not the one its owner scheduled: nothing ran; its owner must re-enable it"
                .into(),
        ),
        (None, _) => Some(
            "the schedule was created before schedules were pinned to a definition: nothing ran; its owner must re-enable it"
                .into(),
        ),
    }
}

/// The reason recorded when someone else changes the flow.
pub fn suspended_by_change_reason() -> String {
    "someone other than its owner changed the flow's definition; its owner must re-enable it".into()
}

/// The reason recorded when the owner pauses it.
pub const PAUSED_BY_OWNER: &str = "paused by its owner";

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_projections::activity::Suspension;
    use uuid::Uuid;

    const ALICE: Uuid = Uuid::from_u128(1);
    const BOB: Uuid = Uuid::from_u128(2);
    const OLD: &str = "sha256:01";
    const NEW: &str = "sha256:02";

    fn alices_schedule() -> ScheduleRecord {
        ScheduleRecord {
            id: Uuid::from_u128(7),
            org_id: Uuid::from_u128(8),
            flow_id: Uuid::from_u128(9),
            owner_id: ALICE,
            cron: "* * * * *".into(),
            created_at: 0,
            last_due: None,
            pinned_digest: Some(OLD.into()),
            pinned_author_id: Some(ALICE),
            suspension: None,
            resumed_at: None,
        }
    }

    #[test]
    fn someone_else_changing_the_definition_suspends_the_schedule() {
        // Given alice's schedule pinned to her definition
        let schedule = alices_schedule();
        // When bob changes the definition
        let effect = effect_of_flow_change(&schedule, BOB, Some(OLD), NEW);
        // Then it is suspended
        assert_eq!(effect, FlowChangeEffect::Suspend);
    }

    #[test]
    fn the_owner_changing_their_flow_repins_their_schedule() {
        let schedule = alices_schedule();
        assert_eq!(
            effect_of_flow_change(&schedule, ALICE, Some(OLD), NEW),
            FlowChangeEffect::Repin
        );
    }

    #[test]
    fn a_rename_or_move_changes_nothing() {
        let schedule = alices_schedule();
        assert_eq!(
            effect_of_flow_change(&schedule, BOB, Some(OLD), OLD),
            FlowChangeEffect::Nothing
        );
    }

    #[test]
    fn a_suspended_schedule_stays_suspended_and_pinned_on_another_change() {
        let mut schedule = alices_schedule();
        schedule.suspension = Some(Suspension {
            by_id: BOB,
            reason: suspended_by_change_reason(),
            at: 1,
        });
        assert_eq!(
            effect_of_flow_change(&schedule, BOB, Some(NEW), "sha256:03"),
            FlowChangeEffect::Nothing
        );
    }

    #[test]
    fn a_fire_runs_only_the_pinned_definition() {
        let schedule = alices_schedule();
        assert_eq!(fire_refusal(&schedule, Some(OLD)), None);
        assert!(fire_refusal(&schedule, Some(NEW)).is_some());
        assert!(fire_refusal(&schedule, None).is_some());
        let mut unpinned = alices_schedule();
        unpinned.pinned_digest = None;
        assert!(fire_refusal(&unpinned, Some(OLD)).is_some());
    }
}
