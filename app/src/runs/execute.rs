//! Executing one queued run, in a worker of the pool: the invoker's right
//! to run the flow is asked again (a revocation takes effect on the next
//! run, also one already queued), then each step is resolved, its secrets'
//! use recorded (`secret.resolved`, durable before the value is used),
//! executed, and its masked output recorded. The first failed step ends
//! the run.

use cairn_core::log::NewEvent;
use cairn_projections::access::{Target, Who, authorize};
use cairn_schemas::{
    AccessAction, Action, EventPayload, Outcome, ResourceKind, ResourceRef, RunRef, RunStatus,
    RunStepFinished, SecretResolved, StepStatus,
};
use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use super::masking::Masker;
use super::references::{ResolvedStep, Resolver, SecretUse};
use super::steps::execute_step;
use super::{definition_of, finished_event, run_actor, run_ref};
use crate::{App, CommandError, CommitError, Decided};
use cairn_projections::Views;

/// What the worker needs to know about the run, read once when it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The run's org.
    pub org_id: Uuid,
    /// Who it runs as.
    pub invoker: Who,
    /// The steps of the definition it was requested with.
    pub steps: Vec<Value>,
}

/// Executes the run; failures to record are logged (the run is then
/// failed at the next start, like any run the server could not finish).
pub async fn execute_run(
    app: &App,
    runner: &dyn super::steps::StepRunner,
    env: &dyn super::Env,
    run_id: Uuid,
) {
    if let Err(error) = execute(app, runner, env, run_id).await {
        tracing::error!(%run_id, %error, "a run could not be recorded");
    }
}

/// Starts the run: see [`decide_start`].
async fn start(app: &App, run_id: Uuid) -> Result<Option<Plan>, CommandError> {
    app.decide(|views, _| decide_start(views, run_id)).await
}

/// Decides how the run starts: `run.started` and what the worker will
/// do, or `run.finished` denied when the invoker may no longer run the
/// flow, or failed when its definition changed since the request. `None`
/// (and nothing recorded) when the run is not queued (it was failed at
/// start-up, say).
pub fn decide_start(views: &Views, run_id: Uuid) -> Result<Decided<Option<Plan>>, CommandError> {
    let Some(run) = views
        .runs
        .get(&run_id)
        .filter(|run| run.status == RunStatus::Queued)
    else {
        return Ok(Decided::nothing(None));
    };
    let invoker = Who {
        user_id: run.invoker_id,
        org_id: run.org_id,
    };
    let decision = authorize(
        views,
        invoker,
        AccessAction::Run,
        Target {
            kind: ResourceKind::Flow,
            id: run.flow_id,
        },
    );
    let finished = |status, reason| {
        Decided::new(
            vec![finished_event(
                run_actor(run_id),
                run_id,
                run.org_id,
                status,
                Some(reason),
            )],
            None,
        )
    };
    if !decision.allowed {
        let reason = decision.explain(views, AccessAction::Run, ResourceKind::Flow);
        return Ok(finished(RunStatus::Denied, reason));
    }
    let current = views
        .flow_versions
        .get(&run.flow_id)
        .map(|version| version.digest.as_str());
    if let Some(reason) = definition_mismatch(run.definition_digest.as_deref(), current) {
        return Ok(finished(RunStatus::Failed, reason));
    }
    let steps = match definition_of(views, run.flow_id)?.get("steps") {
        Some(Value::Array(steps)) => steps.clone(),
        _ => Vec::new(),
    };
    let started = NewEvent::new(
        Action::RunStarted,
        run_actor(run_id),
        run_ref(run_id),
        Outcome::Success,
    )
    .in_org(run.org_id)
    .with_payload(EventPayload::RunStarted(RunRef { run_id }));
    Ok(Decided::new(
        vec![started],
        Some(Plan {
            org_id: run.org_id,
            invoker,
            steps,
        }),
    ))
}

/// Why a run may not start: the definition it was requested with (its
/// pin) is not the flow's definition now, so running would run something
/// its invoker never asked for. `None` when they match.
pub fn definition_mismatch(pinned: Option<&str>, current: Option<&str>) -> Option<String> {
    match (pinned, current) {
        (Some(pinned), Some(current)) if pinned == current => None,
        (Some(pinned), current) => Some(format!(
            "the flow's definition changed after the run was requested ({pinned}, now {}): nothing ran",
            current.unwrap_or("none")
        )),
        (None, _) => Some(
            "the run names no definition digest (requested before digests were recorded): nothing ran"
                .into(),
        ),
    }
}

/// The reason a run ends when `CAIRN_RUN_TIMEOUT` runs out.
pub fn run_timeout_reason(limit_secs: u64, step_id: &str) -> String {
    format!(
        "the run took longer than CAIRN_RUN_TIMEOUT ({limit_secs} s); step {step_id} was cut short"
    )
}

fn resolved_event(run_id: Uuid, org: Uuid, invoker: Uuid, used: SecretUse) -> NewEvent {
    NewEvent::new(
        Action::SecretResolved,
        run_actor(run_id),
        ResourceRef {
            kind: ResourceKind::Secret,
            id: Some(used.secret_id),
        },
        Outcome::Success,
    )
    .in_org(org)
    .with_payload(EventPayload::SecretResolved(SecretResolved {
        secret_id: used.secret_id,
        owner_id: used.owner_id,
        version: used.version,
        run_id,
        invoker_id: invoker,
    }))
}

fn step_event(
    run_id: Uuid,
    org: Uuid,
    index: usize,
    step_id: &str,
    status: StepStatus,
    output: &Value,
) -> NewEvent {
    NewEvent::new(
        Action::RunStepFinished,
        run_actor(run_id),
        run_ref(run_id),
        match status {
            StepStatus::Succeeded => Outcome::Success,
            StepStatus::Failed => Outcome::Failure,
        },
    )
    .in_org(org)
    .with_payload(EventPayload::RunStepFinished(RunStepFinished {
        run_id,
        index: u32::try_from(index).unwrap_or(u32::MAX),
        step_id: step_id.to_string(),
        status,
        output: output.to_string(),
    }))
}

/// Resolves a step's references on `views` for the invoker and records the
/// use of each secret it reads (`secret.resolved`); a step that cannot be
/// resolved records nothing and answers why.
pub(super) fn resolve_and_record(
    resolver: &Resolver<'_>,
    views: &Views,
    step: &Value,
    masker: &mut Masker,
    (run_id, org_id, invoker): (Uuid, Uuid, Uuid),
) -> Decided<Result<ResolvedStep, String>> {
    match resolver.resolve_step(views, step, masker) {
        Ok(resolved) => {
            let events = resolved
                .secrets
                .iter()
                .map(|used| resolved_event(run_id, org_id, invoker, *used))
                .collect();
            Decided::new(events, Ok(resolved))
        }
        Err(message) => Decided::nothing(Err(message)),
    }
}

/// Executes a resolved step within what remains of the run's time: a
/// step that cannot start before the deadline sends nothing, and one cut
/// short fails naming `CAIRN_RUN_TIMEOUT` and the step.
async fn send_within(
    runner: &dyn super::steps::StepRunner,
    step: &Value,
    masker: &Masker,
    (deadline, limit_secs): (tokio::time::Instant, u64),
    step_id: &str,
) -> super::steps::StepOutcome {
    let timed = if tokio::time::Instant::now() >= deadline {
        None
    } else {
        tokio::time::timeout_at(deadline, execute_step(runner, step, masker))
            .await
            .ok()
    };
    timed.unwrap_or_else(|| {
        let reason = run_timeout_reason(limit_secs, step_id);
        super::steps::StepOutcome {
            status: StepStatus::Failed,
            output: serde_json::json!({ "error": reason }),
            error: Some(reason),
        }
    })
}

/// What a step's outcome records: `run.step_finished`, and when it
/// failed, the run's `run.finished` failed with the step's masked reason
/// (then the run has ended: the second value is true).
fn step_recorded(
    outcome: &super::steps::StepOutcome,
    masker: &Masker,
    (run_id, org_id): (Uuid, Uuid),
    (index, step_id): (usize, &str),
) -> (Vec<NewEvent>, bool) {
    let mut events = vec![step_event(
        run_id,
        org_id,
        index,
        step_id,
        outcome.status,
        &outcome.output,
    )];
    if outcome.status != StepStatus::Failed {
        return (events, false);
    }
    let error = masker.mask(&format!(
        "step {step_id} failed: {}",
        outcome.error.as_deref().unwrap_or("no reason given")
    ));
    events.push(finished_event(
        run_actor(run_id),
        run_id,
        org_id,
        RunStatus::Failed,
        Some(error),
    ));
    (events, true)
}

async fn execute(
    app: &App,
    runner: &dyn super::steps::StepRunner,
    env: &dyn super::Env,
    run_id: Uuid,
) -> Result<(), CommandError> {
    let Some(plan) = start(app, run_id).await? else {
        return Ok(());
    };
    let read_env = |name: &str| env.var(name);
    let resolver = Resolver {
        vault: app.vault(),
        invoker: plan.invoker,
        env_allow: &app.settings().flow_env_allow,
        env: &read_env,
    };
    // Values stay masked in every later step too: a step may echo what an
    // earlier one used.
    let mut masker = Masker::new();
    // The whole run's bound: each step gets at most what remains of it,
    // so a stuck target holds a worker for the run's limit, not more.
    let limit_secs = app.settings().run_timeout_secs;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(limit_secs);
    for (index, step) in plan.steps.iter().enumerate() {
        let step_id = step
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| index.to_string(), str::to_string);
        // Resolved and recorded in one decision: the grants the values
        // are read under are the ones in force when `secret.resolved` is
        // appended (a revocation is either before both or after both).
        let resolved = app
            .decide(|views, _| {
                Ok::<_, CommitError>(resolve_and_record(
                    &resolver,
                    views,
                    step,
                    &mut masker,
                    (run_id, plan.org_id, plan.invoker.user_id),
                ))
            })
            .await
            .map_err(CommandError::internal)?;
        let outcome = match resolved {
            Ok(resolved) => {
                let bound = (deadline, limit_secs);
                send_within(runner, &resolved.step, &masker, bound, &step_id).await
            }
            Err(message) => super::steps::StepOutcome {
                status: StepStatus::Failed,
                output: serde_json::json!({ "error": masker.mask(&message) }),
                error: Some(masker.mask(&message)),
            },
        };
        let (events, ended) =
            step_recorded(&outcome, &masker, (run_id, plan.org_id), (index, &step_id));
        app.commit(events).await.map_err(CommandError::internal)?;
        if ended {
            return Ok(());
        }
    }
    app.commit(vec![finished_event(
        run_actor(run_id),
        run_id,
        plan.org_id,
        RunStatus::Succeeded,
        None,
    )])
    .await
    .map_err(CommandError::internal)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED: &str = "sha256:aa";
    const OTHER: &str = "sha256:bb";

    #[test]
    fn a_run_starts_only_with_the_definition_it_was_requested_with() {
        // Given a run pinned to a digest, when the flow still has it
        assert_eq!(definition_mismatch(Some(PINNED), Some(PINNED)), None);
        // When someone changed the definition meanwhile, then it does not run
        let reason = definition_mismatch(Some(PINNED), Some(OTHER)).expect("refused");
        assert!(
            reason.contains(PINNED) && reason.contains(OTHER),
            "{reason}"
        );
        assert!(reason.contains("nothing ran"));
        // A flow without a definition, or a run without a pin, never runs
        assert!(definition_mismatch(Some(PINNED), None).is_some());
        assert!(definition_mismatch(None, Some(PINNED)).is_some());
    }

    #[test]
    fn given_a_failed_step_when_recorded_then_the_run_ends_failed_with_its_reason_masked() {
        let mut masker = Masker::new();
        masker.add("hunter2");
        let failed = super::super::steps::StepOutcome {
            status: StepStatus::Failed,
            output: serde_json::json!({"error": "***"}),
            error: Some("refused hunter2".into()),
        };
        let ids = (Uuid::from_u128(1), Uuid::from_u128(2));
        let (events, ended) = step_recorded(&failed, &masker, ids, (0, "call"));
        assert!(ended);
        let actions: Vec<Action> = events.iter().map(|event| event.action).collect();
        assert_eq!(actions, vec![Action::RunStepFinished, Action::RunFinished]);
        let Some(EventPayload::RunFinished(finished)) = events[1].payload.clone() else {
            panic!("not finished");
        };
        assert_eq!(
            finished.error.as_deref(),
            Some("step call failed: refused ***")
        );
        // A step that succeeded records itself and the run goes on
        let ok = super::super::steps::StepOutcome {
            status: StepStatus::Succeeded,
            output: serde_json::json!({}),
            error: None,
        };
        let (events, ended) = step_recorded(&ok, &masker, ids, (1, "note"));
        assert!(!ended);
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn the_run_timeout_reason_names_the_variable_and_the_step() {
        let reason = run_timeout_reason(300, "call");
        assert!(reason.contains("CAIRN_RUN_TIMEOUT (300 s)"), "{reason}");
        assert!(reason.contains("step call"), "{reason}");
    }
}
