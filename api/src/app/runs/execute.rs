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
use serde_json::Value;
use uuid::Uuid;

use super::masking::Masker;
use super::references::{Resolver, SecretUse};
use super::steps::execute_step;
use super::{definition_of, finished_event, run_actor, run_ref};
use crate::app::{App, CommandError};

/// What the worker needs to know about the run, read once.
struct Plan {
    org_id: Uuid,
    invoker: Who,
    steps: Vec<Value>,
}

/// Executes the run; failures to record are logged (the run is then
/// failed at the next start, like any run the server could not finish).
pub async fn execute_run(app: &App, client: &super::steps::RunClient, run_id: Uuid) {
    if let Err(error) = execute(app, client, run_id).await {
        tracing::error!(%run_id, %error, "a run could not be recorded");
    }
}

/// Decides how the run starts: `run.started`, or `run.finished` denied
/// when the invoker may no longer run the flow. `None` when the run is not
/// queued (it was failed at start-up, say).
async fn start(app: &App, run_id: Uuid) -> Result<Option<Plan>, CommandError> {
    let mut plan = None;
    app.execute(|views| {
        let Some(run) = views
            .runs
            .get(&run_id)
            .filter(|run| run.status == RunStatus::Queued)
        else {
            return Ok(Vec::new());
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
        if !decision.allowed {
            let reason = decision.explain(views, AccessAction::Run, ResourceKind::Flow);
            return Ok(vec![finished_event(
                run_actor(run_id),
                run_id,
                run.org_id,
                RunStatus::Denied,
                Some(reason),
            )]);
        }
        let steps = match definition_of(views, run.flow_id)?.get("steps") {
            Some(Value::Array(steps)) => steps.clone(),
            _ => Vec::new(),
        };
        plan = Some(Plan {
            org_id: run.org_id,
            invoker,
            steps,
        });
        Ok::<_, CommandError>(vec![
            NewEvent::new(
                Action::RunStarted,
                run_actor(run_id),
                run_ref(run_id),
                Outcome::Success,
            )
            .in_org(run.org_id)
            .with_payload(EventPayload::RunStarted(RunRef { run_id })),
        ])
    })
    .await?;
    Ok(plan)
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

async fn execute(
    app: &App,
    client: &super::steps::RunClient,
    run_id: Uuid,
) -> Result<(), CommandError> {
    let Some(plan) = start(app, run_id).await? else {
        return Ok(());
    };
    let read_env = |name: &str| std::env::var(name).ok();
    let resolver = Resolver {
        vault: app.vault(),
        invoker: plan.invoker,
        env_allow: &app.settings().flow_env_allow,
        env: &read_env,
    };
    // Values stay masked in every later step too: a step may echo what an
    // earlier one used.
    let mut masker = Masker::new();
    for (index, step) in plan.steps.iter().enumerate() {
        let step_id = step
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| index.to_string(), str::to_string);
        let resolved = {
            let views = app.views();
            resolver.resolve_step(&views, step, &mut masker)
        };
        let outcome = match resolved {
            Ok(resolved) => {
                if !resolved.secrets.is_empty() {
                    let events = resolved
                        .secrets
                        .iter()
                        .map(|used| {
                            resolved_event(run_id, plan.org_id, plan.invoker.user_id, *used)
                        })
                        .collect();
                    app.commit(events)
                        .await
                        .map_err(|error| CommandError::Internal(error.to_string()))?;
                }
                execute_step(client, &resolved.step, &masker).await
            }
            Err(message) => super::steps::StepOutcome {
                status: StepStatus::Failed,
                output: serde_json::json!({ "error": masker.mask(&message) }),
                error: Some(masker.mask(&message)),
            },
        };
        let mut events = vec![step_event(
            run_id,
            plan.org_id,
            index,
            &step_id,
            outcome.status,
            &outcome.output,
        )];
        if outcome.status == StepStatus::Failed {
            let error = masker.mask(&format!(
                "step {step_id} failed: {}",
                outcome.error.as_deref().unwrap_or("no reason given")
            ));
            events.push(finished_event(
                run_actor(run_id),
                run_id,
                plan.org_id,
                RunStatus::Failed,
                Some(error),
            ));
            app.commit(events)
                .await
                .map_err(|error| CommandError::Internal(error.to_string()))?;
            return Ok(());
        }
        app.commit(events)
            .await
            .map_err(|error| CommandError::Internal(error.to_string()))?;
    }
    app.commit(vec![finished_event(
        run_actor(run_id),
        run_id,
        plan.org_id,
        RunStatus::Succeeded,
        None,
    )])
    .await
    .map_err(|error| CommandError::Internal(error.to_string()))?;
    Ok(())
}
