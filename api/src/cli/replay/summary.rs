//! `cairn replay --at-seq N` without a question: how much of everything
//! the views held at that point.

use cairn_audit::time_format::rfc3339_micros;
use cairn_projections::Views;
use cairn_schemas::ResourceKind;
use serde_json::json;

use super::Replay;

/// The counts of the replayed views.
#[derive(Debug, Default)]
struct Counts {
    users: usize,
    active: usize,
    superusers: usize,
    orgs: usize,
    memberships: usize,
    groups: usize,
    group_members: usize,
    grants: usize,
    runs: usize,
    unfinished_runs: usize,
    /// namespace, flow, secret, connection, schedule.
    catalog: [usize; 5],
}

const CATALOG_KINDS: [ResourceKind; 5] = [
    ResourceKind::Namespace,
    ResourceKind::Flow,
    ResourceKind::Secret,
    ResourceKind::Connection,
    ResourceKind::Schedule,
];

impl Counts {
    fn of(views: &Views) -> Counts {
        let mut counts = Counts::default();
        for user in views.users.all() {
            counts.users += 1;
            counts.active += usize::from(user.is_active);
            counts.superusers += usize::from(user.is_superuser);
        }
        for org in views.orgs.all() {
            counts.orgs += 1;
            counts.memberships += views.orgs.members_of(&org.id).count();
            for group in views.groups.in_org(&org.id) {
                counts.groups += 1;
                counts.group_members += group.members.len();
            }
            counts.grants += views.grants.in_org(&org.id).count();
            counts.runs += views.runs.in_org(&org.id).count();
        }
        counts.unfinished_runs = views.runs.unfinished().count();
        for entry in views.catalog.all() {
            if let Some(slot) = CATALOG_KINDS.iter().position(|kind| *kind == entry.kind) {
                counts.catalog[slot] += 1;
            }
        }
        counts
    }
}

/// The summary as text, or as one JSON object.
pub(super) fn render(replay: &Replay<'_>, json: bool) -> String {
    let views = &replay.views;
    let counts = Counts::of(views);
    let time = rfc3339_micros(replay.last_at);
    let inactive = counts.users - counts.active;
    let last_checkpoint = views
        .system
        .last_checkpoint
        .as_ref()
        .map(|checkpoint| checkpoint.seq);
    if json {
        let mut object = json!({
            "at_seq": replay.seq(),
            "time": time,
            "head_seq": replay.head,
            "users": {
                "total": counts.users,
                "active": counts.active,
                "inactive": inactive,
                "superusers": counts.superusers,
            },
            "orgs": counts.orgs,
            "memberships": counts.memberships,
            "groups": counts.groups,
            "group_members": counts.group_members,
            "grants": counts.grants,
            "runs": {"total": counts.runs, "unfinished": counts.unfinished_runs},
            "server_starts": views.system.starts,
            "last_checkpoint_seq": last_checkpoint,
        });
        for (kind, count) in CATALOG_KINDS.iter().zip(counts.catalog) {
            object[format!("{kind}s")] = json!(count);
        }
        return object.to_string();
    }
    let mut lines = vec![
        format!(
            "as of seq {} ({time}); the head of the log is seq {}",
            replay.seq(),
            replay.head
        ),
        format!(
            "users:         {} ({} active, {inactive} inactive, {} superuser{})",
            counts.users,
            counts.active,
            counts.superusers,
            if counts.superusers == 1 { "" } else { "s" }
        ),
        format!("orgs:          {}", counts.orgs),
        format!("memberships:   {}", counts.memberships),
        format!(
            "groups:        {} ({} members)",
            counts.groups, counts.group_members
        ),
    ];
    for (kind, count) in CATALOG_KINDS.iter().zip(counts.catalog) {
        lines.push(format!("{:<15}{count}", format!("{kind}s:")));
    }
    lines.push(format!("grants:        {}", counts.grants));
    lines.push(format!(
        "runs:          {} ({} unfinished)",
        counts.runs, counts.unfinished_runs
    ));
    lines.push(format!(
        "server starts: {}; last checkpoint: {}",
        views.system.starts,
        last_checkpoint.map_or_else(|| "none".to_string(), |seq| format!("seq {seq}"))
    ));
    lines.join("\n")
}
