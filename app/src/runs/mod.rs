//! Runs: a flow executed as its invoker, off the request path.
//!
//! `POST /api/v1/flows/{id}/runs` checks the caller may run the flow and
//! that every reference will resolve for them, reserves a place in the
//! bounded [`RunQueue`] (503 when it is full), records `run.requested`, and
//! only once that is durable hands the run to the worker pool
//! (`jobs::run_workers`), which executes it ([`execute`]) and records
//! `run.started`, one `secret.resolved` per secret a step used, one
//! `run.step_finished` per step and `run.finished`. A run still queued or
//! running when the server stopped is recorded failed at the next start
//! ([`fail_unfinished`]): nothing is resumed silently.

pub mod egress;
pub mod execute;
pub mod masking;
pub mod queue;
pub mod references;
pub mod steps;

#[cfg(test)]
mod decisions_tests;

use cairn_core::log::NewEvent;
use cairn_core::time_format::rfc3339_micros;
use cairn_projections::Views;
use cairn_projections::access::{Target, Who, authorize, role_allows};
use cairn_projections::activity::RunRecord;
use cairn_projections::sharing::FlowVersion;
use cairn_schemas::api::{RunActorBody, RunBody, RunStepBody};
use cairn_schemas::{
    AccessAction, Action, ActorRef, EventPayload, Outcome, ResourceKind, ResourceRef,
    RunDefinitionPinned, RunFinished, RunRequested, RunStatus,
};
use serde_json::Value;
use uuid::Uuid;

use super::access::{not_visible, require};
use super::listing::paginate;
use super::{App, CommandError, Decided, Origin, Principal};
use cairn_core::IdSource;

pub use execute::execute_run;

/// The port through which runs read `$env.X`: the process environment in
/// the server, a map in tests. Which names a flow may read
/// (`CAIRN_FLOW_ENV_ALLOW`) is decided by the app before this is asked.
pub trait Env: Send + Sync + std::fmt::Debug {
    /// The variable's value, `None` when unset.
    fn var(&self, name: &str) -> Option<String>;
}
pub use queue::{QUEUE_PER_WORKER, RunQueue};

/// What a run that was in flight when the server stopped is failed with.
pub const STOPPED_DURING_THE_RUN: &str = "the server stopped during the run";

/// A run as a resource of events.
pub fn run_ref(id: Uuid) -> ResourceRef {
    ResourceRef {
        kind: ResourceKind::Run,
        id: Some(id),
    }
}

/// The actor of what a run does by itself.
pub fn run_actor(id: Uuid) -> ActorRef {
    ActorRef {
        kind: cairn_schemas::ActorKind::Run,
        id: Some(id),
    }
}

/// How a run's end is recorded: denied and failed runs are not successes.
pub fn finished_outcome(status: RunStatus) -> Outcome {
    match status {
        RunStatus::Succeeded | RunStatus::Queued | RunStatus::Running => Outcome::Success,
        RunStatus::Failed => Outcome::Failure,
        RunStatus::Denied => Outcome::Denied,
    }
}

/// `run.finished`, by `actor`.
pub fn finished_event(
    actor: ActorRef,
    run: Uuid,
    org: Uuid,
    status: RunStatus,
    error: Option<String>,
) -> NewEvent {
    NewEvent::new(
        Action::RunFinished,
        actor,
        run_ref(run),
        finished_outcome(status),
    )
    .in_org(org)
    .with_payload(EventPayload::RunFinished(RunFinished {
        run_id: run,
        status,
        error,
    }))
}

/// A flow's definition, parsed.
pub fn definition_of(views: &Views, flow: Uuid) -> Result<Value, CommandError> {
    views
        .catalog
        .definition(&flow)
        .and_then(|text| serde_json::from_str(text).ok())
        .ok_or_else(|| CommandError::internal(format!("flow {flow} has no readable definition")))
}

/// The flow's current definition: its digest and author.
pub fn current_version(views: &Views, flow: Uuid) -> Result<FlowVersion, CommandError> {
    views
        .flow_versions
        .get(&flow)
        .cloned()
        .ok_or_else(|| CommandError::internal(format!("flow {flow} has no definition digest")))
}

/// The refusal when `invoker` has `cap` runs queued or running already
/// (`pending` more decided in the same command, not in the views yet).
pub fn unfinished_cap_reached(unfinished: usize, pending: usize, cap: usize) -> Option<String> {
    (unfinished + pending >= cap).then(|| {
        format!(
            "{} runs of this member are queued or running; at most {cap} may be (CAIRN_RUNS_QUEUED_PER_USER)",
            unfinished + pending
        )
    })
}

fn check_unfinished_cap(
    views: &Views,
    invoker: Uuid,
    pending: usize,
    cap: usize,
) -> Result<(), CommandError> {
    match unfinished_cap_reached(views.runs.unfinished_of(invoker), pending, cap) {
        Some(message) => Err(CommandError::Limited {
            message,
            retry_after_secs: 1,
        }),
        None => Ok(()),
    }
}

/// A run as the API shows it.
pub fn run_body(record: &RunRecord) -> RunBody {
    RunBody {
        id: record.id,
        flow_id: record.flow_id,
        status: record.status.as_str().into(),
        actor: RunActorBody {
            kind: if record.schedule_id.is_some() {
                "schedule"
            } else {
                "user"
            }
            .into(),
            user_id: record.invoker_id,
            schedule_id: record.schedule_id,
        },
        steps: record
            .steps
            .iter()
            .map(|step| RunStepBody {
                id: step.step_id.clone(),
                status: step.status.as_str().into(),
                output: serde_json::from_str(&step.output)
                    .unwrap_or_else(|_| Value::String(step.output.clone())),
            })
            .collect(),
        error: record.error.clone(),
        requested_at: rfc3339_micros(record.requested_at),
        started_at: record.started_at.map(rfc3339_micros),
        finished_at: record.finished_at.map(rfc3339_micros),
        definition_digest: record.definition_digest.clone(),
        definition_author_id: record.definition_author_id,
    }
}

/// Whether `principal` may see the run: their own runs; every run of the
/// org for its admins (all for a superuser); others' runs of flows they
/// can read when their role allows reading runs.
pub fn may_see(views: &Views, principal: &Principal, run: &RunRecord) -> bool {
    if principal.is_admin_of(run.org_id) {
        return true;
    }
    if run.org_id != principal.org_id {
        return false;
    }
    if run.invoker_id == principal.user_id {
        return true;
    }
    role_allows(principal.role, ResourceKind::Run, AccessAction::Read)
        && authorize(
            views,
            Who {
                user_id: principal.user_id,
                org_id: principal.org_id,
            },
            AccessAction::Read,
            Target {
                kind: ResourceKind::Flow,
                id: run.flow_id,
            },
        )
        .allowed
}

/// What a run request is held to: `CAIRN_FLOW_ENV_ALLOW` and
/// `CAIRN_RUNS_QUEUED_PER_USER`.
#[derive(Clone, Copy, Debug)]
pub struct RunLimits<'a> {
    /// The environment variables flows may read.
    pub env_allow: &'a [String],
    /// Runs one member may have queued or running.
    pub queued_per_user: usize,
}

/// `POST /api/v1/flows/{id}/runs`: queues a run of the flow as the caller.
pub async fn request_run(
    app: &App,
    principal: &Principal,
    flow_id: Uuid,
    origin: &Origin,
) -> Result<RunBody, CommandError> {
    // A place in the queue is reserved before deciding, so nothing but
    // the decision runs under the lock; a refused run gives it back when
    // it drops.
    let place = app.run_queue().reserve(principal.user_id);
    let limits = RunLimits {
        env_allow: &app.settings().flow_env_allow,
        queued_per_user: app.settings().runs_queued_per_user,
    };
    let run_id = app
        .decide(|views, ids| {
            decide_request(
                views,
                ids,
                principal,
                flow_id,
                origin,
                limits,
                place.is_ok(),
            )
        })
        .await?;
    // The answer is the run as queued: read before a worker can take it.
    let body = app
        .views()
        .runs
        .get(&run_id)
        .map(run_body)
        .ok_or_else(|| CommandError::internal("a requested run is missing from the views"));
    // Durable now: the worker may start it.
    if let Ok(place) = place {
        place.send(run_id);
    }
    body
}

/// Whether `principal` may run the flow now: `run.requested` and
/// `run.definition_pinned` (the digest and author of the definition it
/// will run) and the run's id, or why not. The queue's answer comes last:
/// a caller who may not run the flow hears that, full queue or not.
pub fn decide_request(
    views: &Views,
    ids: &IdSource,
    principal: &Principal,
    flow_id: Uuid,
    origin: &Origin,
    limits: RunLimits<'_>,
    queue_has_room: bool,
) -> Result<Decided<Uuid>, CommandError> {
    let flow = require(
        views,
        principal,
        AccessAction::Run,
        ResourceKind::Flow,
        flow_id,
    )?;
    let org_id = flow.org_id;
    let invoker = Who {
        user_id: principal.user_id,
        org_id,
    };
    let definition = definition_of(views, flow_id)?;
    references::check_definition(views, invoker, &definition, limits.env_allow)?;
    let version = current_version(views, flow_id)?;
    check_unfinished_cap(views, principal.user_id, 0, limits.queued_per_user)?;
    if !queue_has_room {
        return Err(CommandError::Overloaded);
    }
    let run_id = ids.new_id();
    let events = vec![
        principal.event(
            Action::RunRequested,
            run_ref(run_id),
            org_id,
            origin,
            EventPayload::RunRequested(RunRequested {
                run_id,
                flow_id,
                org_id,
                invoker_id: principal.user_id,
                schedule_id: None,
            }),
        ),
        principal.event(
            Action::RunDefinitionPinned,
            run_ref(run_id),
            org_id,
            origin,
            EventPayload::RunDefinitionPinned(RunDefinitionPinned {
                run_id,
                flow_id,
                digest: version.digest,
                invoker_id: principal.user_id,
                author_id: version.author_id,
            }),
        ),
    ];
    Ok(Decided::new(events, run_id))
}

/// `GET /api/v1/runs`: the runs the caller may see, oldest first.
pub fn list_runs(
    app: &App,
    principal: &Principal,
    after: Option<Uuid>,
    limit: usize,
) -> (Vec<RunBody>, Option<Uuid>) {
    let views = app.views();
    let visible = |run: &&RunRecord| may_see(&views, principal, run);
    if principal.is_superuser {
        let mut runs: Vec<&RunRecord> = views
            .orgs
            .all()
            .flat_map(|org| views.runs.in_org(&org.id))
            .filter(visible)
            .collect();
        runs.sort_unstable_by_key(|run| run.id);
        paginate(
            runs.into_iter().map(|run| (run.id, run_body(run))),
            after,
            limit,
        )
    } else {
        paginate(
            views
                .runs
                .in_org(&principal.org_id)
                .filter(visible)
                .map(|run| (run.id, run_body(run))),
            after,
            limit,
        )
    }
}

/// `GET /api/v1/runs/{id}`: 404 when the caller may not see it.
pub fn get_run(app: &App, principal: &Principal, id: Uuid) -> Result<RunBody, CommandError> {
    let views = app.views();
    match views.runs.get(&id) {
        Some(run) if may_see(&views, principal, run) => Ok(run_body(run)),
        _ => Err(not_visible(run_ref(id))),
    }
}

/// At start-up, before serving: every run the log shows queued or running
/// was interrupted by the stop, and is recorded failed (by the system).
pub async fn fail_unfinished(app: &App) -> Result<usize, CommandError> {
    let unfinished: Vec<(Uuid, Uuid)> = app
        .views()
        .runs
        .unfinished()
        .map(|run| (run.id, run.org_id))
        .collect();
    for chunk in unfinished.chunks(256) {
        let events = chunk
            .iter()
            .map(|(run, org)| {
                finished_event(
                    ActorRef::SYSTEM,
                    *run,
                    *org,
                    RunStatus::Failed,
                    Some(STOPPED_DURING_THE_RUN.into()),
                )
            })
            .collect();
        app.commit(events).await.map_err(CommandError::internal)?;
    }
    Ok(unfinished.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_up_to_the_cap_are_accepted_and_the_next_is_refused_naming_it() {
        // Given a cap of 8
        assert_eq!(unfinished_cap_reached(7, 0, 8), None);
        // When an eighth is queued already (or decided in the same batch)
        let refusal = unfinished_cap_reached(7, 1, 8).expect("refused");
        // Then the refusal names the variable and the cap
        assert!(refusal.contains("CAIRN_RUNS_QUEUED_PER_USER"), "{refusal}");
        assert!(refusal.contains("at most 8"), "{refusal}");
        assert!(unfinished_cap_reached(8, 0, 8).is_some());
    }
}
