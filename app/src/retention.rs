//! Retention: the policy (`GET`/`PUT /api/v1/audit/retention`) and the
//! prune pass the maintenance job runs.
//!
//! A pass, per class that is due: the newest seq whose payload may go is
//! the later of the age limit and the count limit, but never a payload
//! younger than the class's floor. When any class moves, the pass writes a
//! snapshot of the views, records `retention.pruned` (durable), drops the
//! payloads, and writes a fresh snapshot that replaces every older one (the
//! older ones were made from what is now pruned), then compacts the store
//! (`CAIRN_RETENTION_COMPACT`, on by default): sled keeps the page images
//! of what the drop replaced, so until the store is rewritten the dropped
//! ciphertexts stay readable in its files. A compaction a stop cut short,
//! or one that was switched off, is owed: the next pass runs it. The
//! retention policy is
//! instance-wide (one log serves every org): only superusers set it; audit
//! viewers and admins may read it.

use cairn_core::log::retention::{ClassSeqs, class_index};
use cairn_core::log::store::{Compaction, EventStore, meta_key};
use cairn_core::log::{DurabilityError, LogReader, NewEvent, ReadError, StoreError};
use cairn_core::rules::retention_policy::DAY_MICROS;
use cairn_core::rules::{check_retention_policy, protected_days};
use cairn_core::time_format::rfc3339_micros;
use cairn_projections::Views;
use cairn_schemas::api::{
    ClassPolicyBody, ClassRetentionBody, LastPruneBody, RetentionBody, RetentionPolicyBody,
};
use cairn_schemas::{
    Action, ActorRef, ClassHorizon, ClassPolicy, EventPayload, Outcome, ResourceRef,
    RetentionClass, RetentionPolicy, RetentionPolicySet, RetentionPruned,
};

use super::principal::Principal;
use super::{App, CommandError, CommitError, Decided, Origin, SnapshotFailure};

/// Why a prune pass failed (it changed nothing it had not recorded).
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// Reading or rewriting the log failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A snapshot could not be written (nothing was pruned).
    #[error("snapshot before pruning: {0}")]
    Snapshot(#[from] SnapshotFailure),
    /// The `retention.pruned` record could not be made durable (nothing
    /// was pruned).
    #[error(transparent)]
    Commit(#[from] CommitError),
    /// The record was appended but did not become durable.
    #[error(transparent)]
    Durability(#[from] DurabilityError),
    /// The store could not be compacted after the drop (the payloads are
    /// dropped from the log; their old images stay in the store's files
    /// until a compaction succeeds: the next pass tries again).
    #[error("compacting the store after the prune: {0}")]
    Compact(#[from] StoreError),
}

fn class_body(policy: &ClassPolicy) -> ClassPolicyBody {
    ClassPolicyBody {
        cadence_secs: policy.cadence_secs,
        max_age_days: policy.max_age_days,
        max_count: policy.max_count,
    }
}

fn class_policy(body: &ClassPolicyBody) -> ClassPolicy {
    ClassPolicy {
        cadence_secs: body.cadence_secs,
        max_age_days: body.max_age_days,
        max_count: body.max_count,
    }
}

/// The retention state as the API shows it; `compaction_pending` is
/// [`compaction_owed`] of the store.
pub fn status(views: &Views, compaction_pending: bool) -> RetentionBody {
    let retention = &views.retention;
    let policy = retention.policy();
    let classes = RetentionClass::ALL
        .iter()
        .map(|class| {
            let horizon = retention.horizon(*class);
            ClassRetentionBody {
                class: class.as_str().into(),
                floor_days: protected_days(*class).max(1),
                events: retention.count(*class),
                pruned_up_to_seq: horizon.up_to_seq,
                pruned_up_to: (horizon.up_to_at > 0).then(|| rfc3339_micros(horizon.up_to_at)),
            }
        })
        .collect();
    let last_prune = retention.last_prune().map(|last| LastPruneBody {
        seq: last.seq,
        time: rfc3339_micros(last.at),
        snapshot_seq: last.pruned.snapshot_seq,
        pruned: last
            .pruned
            .horizons
            .iter()
            .map(|horizon| (horizon.class.as_str().to_string(), horizon.pruned))
            .collect(),
    });
    RetentionBody {
        policy: RetentionPolicyBody {
            security: class_body(&policy.security),
            activity: class_body(&policy.activity),
            operational: class_body(&policy.operational),
        },
        default: retention.policy_set().is_none(),
        classes,
        last_prune,
        compaction_pending,
    }
}

/// [`status`] of the app's views and store.
fn app_status(app: &App) -> Result<RetentionBody, CommandError> {
    let pending = compaction_owed(app.log().reader().store()).map_err(CommandError::internal)?;
    Ok(status(&app.views(), pending))
}

/// `GET /api/v1/audit/retention`: superusers, and audit viewers and
/// admins (the policy is instance-wide and holds nothing of any org).
pub fn get(app: &App, principal: &Principal) -> Result<RetentionBody, CommandError> {
    if !principal.is_superuser {
        super::audit_log::require_audit_reader(principal)?;
    }
    app_status(app)
}

/// `PUT /api/v1/audit/retention`: superusers set the whole policy; a class
/// below its floor is refused naming the member and the floor. The
/// maintenance job applies it at once.
pub async fn set(
    app: &App,
    principal: &Principal,
    body: RetentionPolicyBody,
    origin: &Origin,
) -> Result<RetentionBody, CommandError> {
    app.decide(|views, _| decide_set(views, principal, &body, origin))
        .await?;
    app.retention_due.notify_one();
    app_status(app)
}

/// Whether `principal` may set this policy: `config.changed` with the new
/// policy and the one it replaces, or why not (not a superuser; a class
/// below its floor, naming the member and the floor).
pub fn decide_set(
    views: &Views,
    principal: &Principal,
    body: &RetentionPolicyBody,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    principal.require_superuser()?;
    let policy = RetentionPolicy {
        security: class_policy(&body.security),
        activity: class_policy(&body.activity),
        operational: class_policy(&body.operational),
    };
    check_retention_policy(&policy)
        .map_err(|error| CommandError::invalid(error.field, error.problem))?;
    let event = principal.event(
        Action::ConfigChanged,
        ResourceRef::AUDIT_LOG,
        principal.org_id,
        origin,
        EventPayload::RetentionPolicySet(RetentionPolicySet {
            policy,
            previous: views.retention.policy_set().copied(),
        }),
    );
    Ok(Decided::new(vec![event], ()))
}

/// What a pass needs of the views to find one class's cutoff, taken under
/// their lock so that the reads of the log happen without it.
#[derive(Clone, Copy, Debug)]
struct ClassPlan {
    class: RetentionClass,
    max_age_days: u32,
    /// For a count limit that bites: where to start looking for the newest
    /// event it lets go (a seq of the class, its ordinal) and that event's
    /// ordinal.
    count_cut: Option<(u64, u64, u64)>,
}

impl ClassPlan {
    fn of(views: &Views, class: RetentionClass) -> ClassPlan {
        let policy = views.retention.policy();
        let policy = policy.of(class);
        let count_cut = policy.max_count.and_then(|max_count| {
            let ordinal = views.retention.count(class).checked_sub(max_count)?;
            let (from, from_ordinal) = views.retention.mark_before(class, ordinal)?;
            Some((from, from_ordinal, ordinal))
        });
        ClassPlan {
            class,
            max_age_days: policy.max_age_days,
            count_cut,
        }
    }

    /// The newest seq of the class whose payload the policy lets go, as of
    /// `now` over the records `1..=head` (0: none).
    fn cutoff(&self, reader: &LogReader, now: i64, head: u64) -> Result<u64, ReadError> {
        let days = |days: u32| now.saturating_sub(i64::from(days).saturating_mul(DAY_MICROS));
        let protected = reader.last_seq_before(days(protected_days(self.class)), head)?;
        let mut cut = reader.last_seq_before(days(self.max_age_days), head)?;
        if let Some((from, from_ordinal, ordinal)) = self.count_cut
            && let Some(seq) =
                reader.class_ordinal_seq(self.class, from, from_ordinal, ordinal, head)?
        {
            cut = cut.max(seq);
        }
        Ok(cut.min(protected))
    }
}

/// One prune pass over the classes marked `due` (blocking: run it off the
/// async runtime). Returns the `retention.pruned` record's seq and payload
/// when anything was pruned.
pub fn prune_pass(app: &App, due: [bool; 3]) -> Result<Option<(u64, RetentionPruned)>, PruneError> {
    let _maintenance = app.maintenance();
    let log = app.log();
    // A drop a crash cut short: its record is durable, so finish it.
    let recorded: ClassSeqs = {
        let views = app.views();
        per_class(|class| views.retention.horizon(class).up_to_seq)
    };
    let applied = log.reader().retention_applied()?;
    if (0..3).any(|index| recorded[index] > applied[index]) {
        let dropped = log.drop_payloads(recorded)?;
        tracing::warn!(?dropped, "completed a prune that a stop had cut short");
    }
    compact_if_owed(app, None)?;

    let now = app.now();
    let (plans, head, policy) = {
        let views = app.views();
        let plans = per_class(|class| ClassPlan::of(&views, class));
        (plans, views.applied_seq(), views.retention.policy())
    };
    let mut cutoffs = recorded;
    for plan in plans.iter().filter(|plan| due[class_index(plan.class)]) {
        let index = class_index(plan.class);
        cutoffs[index] = recorded[index].max(plan.cutoff(log.reader(), now, head)?);
    }
    if cutoffs == recorded {
        return Ok(None);
    }
    let pruned = log.count_prunable(cutoffs)?;
    let snapshot = app.write_snapshot_locked(usize::MAX)?;
    let mut horizons = Vec::with_capacity(3);
    for class in RetentionClass::ALL {
        let index = class_index(*class);
        let up_to_at = match cutoffs[index] {
            0 => 0,
            seq => log
                .reader()
                .read(seq)?
                .map(|record| record.header.at)
                .unwrap_or(0),
        };
        horizons.push(ClassHorizon {
            class: *class,
            up_to_seq: cutoffs[index],
            up_to_at,
            pruned: pruned[index],
        });
    }
    let payload = RetentionPruned {
        snapshot_seq: snapshot.seq,
        horizons,
        policy,
    };
    let event = NewEvent::new(
        Action::RetentionPruned,
        ActorRef::SYSTEM,
        ResourceRef::AUDIT_LOG,
        Outcome::Success,
    )
    .with_payload(EventPayload::RetentionPruned(payload.clone()));
    let records = app.append(|_| Ok::<_, CommitError>(vec![event]))?;
    let seq = records.last().map(|record| record.header.seq).unwrap_or(0);
    log.wait_durable(seq)?;
    let dropped = log.drop_payloads(cutoffs)?;
    tracing::info!(seq, ?dropped, "retention pruned payloads");
    // The snapshots made before the prune hold what it pruned (superseded
    // secret ciphertexts, old runs): one made now replaces them all.
    app.write_snapshot_locked(1)?;
    compact_if_owed(app, Some(seq))?;
    Ok(Some((seq, payload)))
}

/// Whether the store's files may still hold payloads retention dropped:
/// the drops recorded in `meta/retention_applied` differ from those the
/// last compaction covered (`meta/retention_compacted`). Both are the
/// stored bytes, compared as they are.
pub fn compaction_owed(store: &dyn EventStore) -> Result<bool, StoreError> {
    let applied = store.meta_get(meta_key::RETENTION_APPLIED)?;
    let compacted = store.meta_get(meta_key::RETENTION_COMPACTED)?;
    Ok(applied.is_some() && applied != compacted)
}

/// Compacts `store` and records which drops the compaction covered, made
/// durable. The caller keeps retention from dropping meanwhile (the
/// maintenance lock, or a stopped server).
pub fn compact_store(store: &dyn EventStore) -> Result<Compaction, StoreError> {
    let applied = store.meta_get(meta_key::RETENTION_APPLIED)?;
    let compaction = store.compact()?;
    if let Some(applied) = applied {
        store.meta_put(meta_key::RETENTION_COMPACTED, &applied)?;
        store.sync()?;
    }
    Ok(compaction)
}

/// Compacts the store when a drop is not yet covered by a compaction and
/// the setting allows it; says so in the server's log either way.
/// `pruned_seq` is the `retention.pruned` record that made it owed, when
/// this pass wrote one.
fn compact_if_owed(app: &App, pruned_seq: Option<u64>) -> Result<(), PruneError> {
    let store = app.log().reader().store();
    if !compaction_owed(store)? {
        return Ok(());
    }
    if !app.settings().retention_compact {
        tracing::warn!(
            "retention dropped payloads whose old images stay in the store's files: CAIRN_RETENTION_COMPACT is off, run `cairn compact` on the stopped data dir"
        );
        return Ok(());
    }
    let compaction = compact_store(store)?;
    tracing::info!(
        event = "retention.compacted",
        pruned_seq,
        trees = compaction.trees,
        entries = compaction.entries,
        bytes_before = compaction.bytes_before,
        bytes_after = compaction.bytes_after,
        paused_ms = u64::try_from(compaction.paused.as_millis()).unwrap_or(u64::MAX),
        "retention.compacted: the store was rewritten; no dropped payload is left in its files"
    );
    Ok(())
}

/// One value per class, in the order of [`ClassSeqs`].
fn per_class<T>(f: impl Fn(RetentionClass) -> T) -> [T; 3] {
    [
        f(RetentionClass::Security),
        f(RetentionClass::Activity),
        f(RetentionClass::Operational),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Given, facts, id, principal};
    use cairn_schemas::OrgRole;
    use cairn_schemas::api::ClassPolicyBody;

    fn class(days: u32) -> ClassPolicyBody {
        ClassPolicyBody {
            cadence_secs: 3600,
            max_age_days: days,
            max_count: None,
        }
    }

    fn body(security: u32) -> RetentionPolicyBody {
        RetentionPolicyBody {
            security: class(security),
            activity: class(30),
            operational: class(7),
        }
    }

    fn given() -> Given {
        Given::new().events([
            facts::org(id(0x0a), "Acme"),
            facts::user(id(1), "ada", id(0x0a), OrgRole::Admin),
            facts::user(id(2), "audrey", id(0x0a), OrgRole::AuditViewer),
        ])
    }

    fn superuser(given: &Given) -> Principal {
        Principal {
            is_superuser: true,
            ..principal(given.views(), id(1), id(0x0a))
        }
    }

    #[test]
    fn given_a_superuser_when_setting_a_policy_then_it_is_recorded_with_the_one_it_replaces() {
        let mut given = given();
        let root = superuser(&given);
        let then = given.when(|views, _| decide_set(views, &root, &body(400), &Origin::local("t")));
        let decided = then.decided();
        let Some(EventPayload::RetentionPolicySet(set)) = decided.events[0].payload.clone() else {
            panic!("not a policy");
        };
        assert_eq!(set.previous, None);
        assert_eq!(set.policy.security.max_age_days, 400);
        given.after(|views, _| decide_set(views, &root, &body(400), &Origin::local("t")));
        let again = given
            .when(|views, _| decide_set(views, &root, &body(200), &Origin::local("t")))
            .decided();
        let Some(EventPayload::RetentionPolicySet(set)) = again.events[0].payload.clone() else {
            panic!("not a policy");
        };
        assert_eq!(set.previous.map(|p| p.security.max_age_days), Some(400));
    }

    #[test]
    fn given_an_org_admin_or_audit_viewer_when_setting_a_policy_then_it_is_forbidden() {
        let given = given();
        for user in [1, 2] {
            let caller = principal(given.views(), id(user), id(0x0a));
            let refused = given
                .when(|views, _| decide_set(views, &caller, &body(400), &Origin::local("t")))
                .refused();
            assert!(matches!(refused, CommandError::Forbidden(_)), "{refused:?}");
        }
    }

    #[test]
    fn given_a_class_below_its_floor_when_setting_then_it_is_refused_naming_the_member() {
        let given = given();
        let root = superuser(&given);
        let refused = given
            .when(|views, _| decide_set(views, &root, &body(30), &Origin::local("t")))
            .refused();
        let CommandError::Invalid { field, message } = refused else {
            panic!("not invalid");
        };
        assert!(field.starts_with("security"), "{field}");
        assert!(message.contains("90"), "{message}");
    }
}
