//! The benchmark of issue 4, run by hand (not a timed test): how fast the
//! views are rebuilt from the log at a large org's scale, and how long one
//! `authorize` takes against them on one core.
//!
//! It builds, by applying records through `Views::apply` (the real rebuild
//! path), one org of 100,000 users, 10,000 groups (each user in about 3),
//! 1,000,000 resources (a namespace tree 3 deep, the rest flows) and
//! 3,000,000 grants, plus a second org of a hundredth of that. Records are
//! encoded in chunks of 65,536 and only the apply loop over each chunk is
//! timed, so the rebuild rate is `Views::apply` alone (decoding included,
//! encoding not).
//!
//! Then 1,000,000 pre-generated checks `(user, resource, action)`: about
//! half from a grant or an ownership (so that many are allowed), half a
//! random user and a random resource (almost all not visible). Latency is
//! timed per call with `Instant` (the timer's own cost is printed, and is
//! included in the percentiles); throughput is a separate loop without
//! timers.
//!
//! Run: `cargo bench -p cairn-projections --bench authorize` (about two
//! minutes, 1.8 GiB of memory). Settings (env): `CAIRN_BENCH_SCALE` (default
//! 1.0, e.g. 0.01 for a quick run), `CAIRN_BENCH_SEED` (default 4),
//! `CAIRN_BENCH_NAMESPACE_GRANT_PERCENT` (the share of grants made on
//! namespaces rather than flows, default 10). See docs/performance.md for
//! the figures.
//!
//! Last, it times the steps of `authorize` one by one over the same checks
//! and, as a prototype of a fix, the grant scan over an index that keeps
//! each resource's grants contiguous.

// A benchmark run by hand: any failure should stop it loudly, so unwrap and
// panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use cairn_core::log::codec;
use cairn_projections::Views;
use cairn_projections::access::{Reason, Target, Who, acting_role, authorize};
use cairn_projections::personal_source::NoPersonalData;
use cairn_projections::sharing::GrantRecord;
use cairn_schemas::{
    AccessAction, Action, ActorRef, EventPayload, FlowCreated, GrantCreated, GrantLevel,
    GranteeKind, GroupCreated, GroupMemberAdded, GroupRole, Header, NamespaceCreated, OrgCreated,
    OrgRole, Outcome, RECORD_FORMAT, Record, ResourceKind, ResourceRef, Sealed, UserCreated,
};
use uuid::Uuid;

/// Records encoded, then applied, at a time.
const CHUNK: usize = 65_536;
/// No owner, no parent.
const NONE: u32 = u32::MAX;

/// SplitMix64: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }

    fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// The size of one org.
#[derive(Clone, Copy, Debug)]
struct OrgSpec {
    users: usize,
    groups: usize,
    groups_per_user: usize,
    roots: usize,
    children_per_root: usize,
    grandchildren_per_child: usize,
    resources: usize,
    grants: usize,
    /// Of the grants, the percentage on namespaces (the rest on flows).
    namespace_grant_percent: usize,
}

impl OrgSpec {
    fn scaled(self, scale: f64) -> OrgSpec {
        let by = |n: usize| ((n as f64 * scale).round() as usize).max(1);
        OrgSpec {
            users: by(self.users).max(10),
            groups: by(self.groups).max(self.groups_per_user),
            roots: by(self.roots),
            resources: by(self.resources),
            grants: by(self.grants),
            ..self
        }
    }
}

const BIG: OrgSpec = OrgSpec {
    users: 100_000,
    groups: 10_000,
    groups_per_user: 3,
    roots: 2_000,
    children_per_root: 4,
    grandchildren_per_child: 3,
    resources: 1_000_000,
    grants: 3_000_000,
    namespace_grant_percent: 10,
};

const SMALL: OrgSpec = OrgSpec {
    users: 1_000,
    groups: 100,
    groups_per_user: 3,
    roots: 20,
    children_per_root: 4,
    grandchildren_per_child: 3,
    resources: 10_000,
    grants: 30_000,
    namespace_grant_percent: 10,
};

/// One resource as the query generator needs it.
#[derive(Clone, Copy)]
struct Resource {
    id: Uuid,
    kind: ResourceKind,
    parent: u32,
    owner: u32,
}

/// What the bench remembers of an org, to make checks that hit.
struct OrgData {
    id: Uuid,
    users: Vec<Uuid>,
    groups: Vec<Uuid>,
    group_members: Vec<Vec<u32>>,
    resources: Vec<Resource>,
    /// Index of the first flow in `resources` (namespaces come first).
    first_flow: usize,
    /// (is a group, grantee index).
    grants: Vec<(bool, u32)>,
    /// resource index -> grants on it.
    grants_on: Vec<Vec<u32>>,
}

/// Encodes events into records in chunks and applies each chunk to the
/// views, timing only the apply loop.
struct Rebuild {
    views: Views,
    seq: u64,
    ids: u64,
    pending: Vec<Record>,
    applied: u64,
    apply_time: Duration,
    encode_time: Duration,
    encode_started: Instant,
}

impl Rebuild {
    fn new() -> Rebuild {
        Rebuild {
            views: Views::new(),
            seq: 0,
            ids: 0,
            pending: Vec::with_capacity(CHUNK),
            applied: 0,
            apply_time: Duration::ZERO,
            encode_time: Duration::ZERO,
            encode_started: Instant::now(),
        }
    }

    /// A fresh id, increasing like a UUIDv7's time prefix, random below.
    fn id(&mut self, rng: &mut Rng) -> Uuid {
        self.ids += 1;
        Uuid::from_u128((u128::from(self.ids) << 64) | u128::from(rng.next()))
    }

    fn push(&mut self, payload: EventPayload, action: Action, kind: ResourceKind, id: Uuid) {
        self.seq += 1;
        self.pending.push(Record {
            format: RECORD_FORMAT,
            header: Header {
                seq: self.seq,
                id: Uuid::from_u128(u128::from(self.seq)),
                at: 1_700_000_000_000_000 + self.seq as i64,
                org: None,
                actor: ActorRef::SYSTEM,
                action,
                resource: ResourceRef { kind, id: Some(id) },
                outcome: Outcome::Success,
                request_id: None,
                personal: vec![],
                payload_digest: [0; 32],
                prev_hash: [0; 32],
            },
            payload: Some(codec::encode_payload(&payload).unwrap()),
            hash: [0; 32],
        });
        if self.pending.len() == CHUNK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.encode_time += self.encode_started.elapsed();
        let started = Instant::now();
        for record in &self.pending {
            self.views.apply(record, &NoPersonalData).unwrap();
        }
        self.apply_time += started.elapsed();
        self.applied += self.pending.len() as u64;
        self.pending.clear();
        self.encode_started = Instant::now();
    }
}

/// The org roles of a large org's members, by percentage.
fn random_role(rng: &mut Rng) -> OrgRole {
    match rng.below(100) {
        0 => OrgRole::Admin,
        1..=30 => OrgRole::FlowEditor,
        31..=60 => OrgRole::FlowExecutor,
        61..=65 => OrgRole::AnalyticsViewer,
        66..=85 => OrgRole::Viewer,
        86..=89 => OrgRole::IntegrationManager,
        90..=94 => OrgRole::AuditViewer,
        _ => OrgRole::None,
    }
}

/// Emits one org's events, in the order a young deployment would make
/// them: users, groups and memberships, the namespace tree, flows, grants.
fn build_org(
    rebuild: &mut Rebuild,
    rng: &mut Rng,
    name: &str,
    spec: OrgSpec,
    superuser: bool,
) -> OrgData {
    let org_id = rebuild.id(rng);
    rebuild.push(
        EventPayload::OrgCreated(OrgCreated {
            org_id,
            name: name.to_string(),
        }),
        Action::OrgCreated,
        ResourceKind::Org,
        org_id,
    );
    let mut data = OrgData {
        id: org_id,
        users: Vec::with_capacity(spec.users),
        groups: Vec::with_capacity(spec.groups),
        group_members: vec![Vec::new(); spec.groups],
        resources: Vec::with_capacity(spec.resources),
        first_flow: 0,
        grants: Vec::with_capacity(spec.grants),
        grants_on: vec![Vec::new(); spec.resources],
    };

    for index in 0..spec.users {
        let user_id = rebuild.id(rng);
        let first = index == 0;
        rebuild.push(
            EventPayload::UserCreated(UserCreated {
                user_id,
                org_id,
                role: if first {
                    OrgRole::Admin
                } else {
                    random_role(rng)
                },
                is_active: true,
                is_superuser: first && superuser,
                credential: Sealed {
                    subject: user_id,
                    nonce: [7; 24],
                    ciphertext: vec![0; 120],
                },
            }),
            Action::UserCreated,
            ResourceKind::User,
            user_id,
        );
        data.users.push(user_id);
    }

    for index in 0..spec.groups {
        let group_id = rebuild.id(rng);
        let owner = rng.below(spec.users) as u32;
        rebuild.push(
            EventPayload::GroupCreated(GroupCreated {
                group_id,
                org_id,
                name: format!("group-{index}"),
                owner_id: data.users[owner as usize],
            }),
            Action::GroupCreated,
            ResourceKind::Group,
            group_id,
        );
        data.groups.push(group_id);
        data.group_members[index].push(owner);
    }
    for user in 0..spec.users as u32 {
        for _ in 0..spec.groups_per_user {
            let group = rng.below(spec.groups);
            if data.group_members[group].contains(&user) {
                continue;
            }
            data.group_members[group].push(user);
            rebuild.push(
                EventPayload::GroupMemberAdded(GroupMemberAdded {
                    group_id: data.groups[group],
                    user_id: data.users[user as usize],
                    role: GroupRole::Member,
                }),
                Action::GroupMemberAdded,
                ResourceKind::Group,
                data.groups[group],
            );
        }
    }

    // The namespace tree: `General`, then roots, children, grandchildren.
    let add_namespace =
        |rebuild: &mut Rebuild, rng: &mut Rng, data: &mut OrgData, parent: u32, system: bool| {
            let namespace_id = rebuild.id(rng);
            let owner = if system {
                NONE
            } else {
                rng.below(spec.users) as u32
            };
            let index = data.resources.len();
            rebuild.push(
                EventPayload::NamespaceCreated(NamespaceCreated {
                    namespace_id,
                    org_id,
                    parent_id: (parent != NONE).then(|| data.resources[parent as usize].id),
                    name: if system {
                        "General".to_string()
                    } else {
                        format!("ns-{index}")
                    },
                    owner_id: (owner != NONE).then(|| data.users[owner as usize]),
                    system,
                }),
                Action::NamespaceCreated,
                ResourceKind::Namespace,
                namespace_id,
            );
            data.resources.push(Resource {
                id: namespace_id,
                kind: ResourceKind::Namespace,
                parent,
                owner,
            });
            index as u32
        };
    let general = add_namespace(rebuild, rng, &mut data, NONE, true);
    let mut leaves = Vec::new();
    for _ in 0..spec.roots {
        let root = add_namespace(rebuild, rng, &mut data, NONE, false);
        for _ in 0..spec.children_per_root {
            let child = add_namespace(rebuild, rng, &mut data, root, false);
            leaves.push(child);
            for _ in 0..spec.grandchildren_per_child {
                let grandchild = add_namespace(rebuild, rng, &mut data, child, false);
                leaves.push(grandchild);
            }
        }
    }
    data.first_flow = data.resources.len();
    let definition = r#"{"steps":[{"name":"hello","run":"echo hello"}]}"#.to_string();
    while data.resources.len() < spec.resources {
        let flow_id = rebuild.id(rng);
        let namespace = if rng.percent(3) {
            general
        } else {
            leaves[rng.below(leaves.len())]
        };
        let owner = rng.below(spec.users) as u32;
        let index = data.resources.len();
        rebuild.push(
            EventPayload::FlowCreated(FlowCreated {
                flow_id,
                org_id,
                namespace_id: data.resources[namespace as usize].id,
                name: format!("flow-{index}"),
                owner_id: data.users[owner as usize],
                definition: definition.clone(),
            }),
            Action::FlowCreated,
            ResourceKind::Flow,
            flow_id,
        );
        data.resources.push(Resource {
            id: flow_id,
            kind: ResourceKind::Flow,
            parent: namespace,
            owner,
        });
    }
    data.grants_on.resize(data.resources.len(), Vec::new());

    for index in 0..spec.grants {
        let resource = if rng.percent(spec.namespace_grant_percent) {
            // Any namespace but `General` (index 0).
            1 + rng.below(data.first_flow - 1)
        } else {
            data.first_flow + rng.below(data.resources.len() - data.first_flow)
        };
        let to_group = rng.percent(50);
        let (grantee_kind, grantee, grantee_id) = if to_group {
            let group = rng.below(spec.groups);
            (GranteeKind::Group, group, data.groups[group])
        } else {
            let user = rng.below(spec.users);
            (GranteeKind::User, user, data.users[user])
        };
        let grant_id = rebuild.id(rng);
        let target = data.resources[resource];
        rebuild.push(
            EventPayload::GrantCreated(GrantCreated {
                grant_id,
                org_id,
                resource_kind: target.kind,
                resource_id: target.id,
                grantee_kind,
                grantee_id,
                level: if rng.percent(70) {
                    GrantLevel::Use
                } else {
                    GrantLevel::Manage
                },
                granted_by: data.users[0],
            }),
            Action::GrantCreated,
            ResourceKind::Grant,
            grant_id,
        );
        data.grants.push((to_group, grantee as u32));
        data.grants_on[resource].push(index as u32);
    }
    data
}

/// One check to make.
#[derive(Clone, Copy)]
struct Check {
    who: Who,
    action: AccessAction,
    target: Target,
}

const ACTIONS: [AccessAction; 6] = [
    AccessAction::Read,
    AccessAction::Run,
    AccessAction::Edit,
    AccessAction::Delete,
    AccessAction::Share,
    AccessAction::Reveal,
];

/// A check: 45% a user reached by a grant on the resource or a namespace
/// above it, 10% the owner of the resource or of a namespace above it,
/// 45% a random user and resource of the org.
fn random_check(rng: &mut Rng, org: &OrgData) -> Check {
    let resource = if rng.percent(80) {
        org.first_flow + rng.below(org.resources.len() - org.first_flow)
    } else {
        rng.below(org.first_flow)
    };
    let mut path = vec![resource];
    let mut next = org.resources[resource].parent;
    while next != NONE {
        path.push(next as usize);
        next = org.resources[next as usize].parent;
    }
    let roll = rng.below(100);
    let reached: Option<u32> = if roll < 45 {
        let grants: Vec<u32> = path
            .iter()
            .flat_map(|on| org.grants_on[*on].iter().copied())
            .collect();
        (!grants.is_empty()).then(|| {
            let (to_group, grantee) = org.grants[grants[rng.below(grants.len())] as usize];
            if to_group {
                let members = &org.group_members[grantee as usize];
                members[rng.below(members.len())]
            } else {
                grantee
            }
        })
    } else if roll < 55 {
        let on = path[rng.below(path.len())];
        Some(org.resources[on].owner).filter(|owner| *owner != NONE)
    } else {
        None
    };
    let user = reached.unwrap_or_else(|| rng.below(org.users.len()) as u32);
    let target = org.resources[resource];
    Check {
        who: Who {
            user_id: org.users[user as usize],
            org_id: org.id,
        },
        action: ACTIONS[rng.below(ACTIONS.len())],
        target: Target {
            kind: target.kind,
            id: target.id,
        },
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .map(|text| {
            text.parse()
                .unwrap_or_else(|_| panic!("{name}={text} does not parse"))
        })
        .unwrap_or(default)
}

/// A line of /proc/self/status, e.g. `VmHWM`.
fn proc_status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .map(|line| line[field.len() + 1..].trim().to_string())
        })
        .unwrap_or_else(|| "?".to_string())
}

/// Nanoseconds at the given quantile of sorted samples.
fn quantile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn micros(nanos: u32) -> String {
    format!("{:.2} µs", f64::from(nanos) / 1000.0)
}

fn report_latency(label: &str, samples: &mut [u32]) {
    samples.sort_unstable();
    println!(
        "  {label:<22} n={:>8}  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        samples.len(),
        micros(quantile(samples, 0.5)),
        micros(quantile(samples, 0.9)),
        micros(quantile(samples, 0.99)),
        micros(quantile(samples, 0.999)),
        micros(samples.last().copied().unwrap_or(0)),
    );
}

fn main() {
    let scale: f64 = env_or("CAIRN_BENCH_SCALE", 1.0);
    let seed: u64 = env_or("CAIRN_BENCH_SEED", 4);
    let namespace_grant_percent: usize = env_or(
        "CAIRN_BENCH_NAMESPACE_GRANT_PERCENT",
        BIG.namespace_grant_percent,
    );
    let checks = ((1_000_000.0 * scale).round() as usize).max(1_000);
    let (big, small) = (
        OrgSpec {
            namespace_grant_percent,
            ..BIG.scaled(scale)
        },
        OrgSpec {
            namespace_grant_percent,
            ..SMALL.scaled(scale)
        },
    );
    println!("authorize bench: scale {scale}, seed {seed} (CAIRN_BENCH_SCALE, CAIRN_BENCH_SEED)");
    println!("  org 1: {big:?}");
    println!("  org 2: {small:?}");
    let mut rng = Rng(seed);

    // Rebuild.
    let started = Instant::now();
    let mut rebuild = Rebuild::new();
    let org = build_org(&mut rebuild, &mut rng, "big", big, true);
    let other = build_org(&mut rebuild, &mut rng, "small", small, false);
    rebuild.flush();
    let total = started.elapsed();
    let views = rebuild.views;
    println!(
        "rebuild: {} events applied in {:.2} s: {:.0} events/s (Views::apply only; \
         encoding took another {:.2} s, {:.2} s in all)",
        rebuild.applied,
        rebuild.apply_time.as_secs_f64(),
        rebuild.applied as f64 / rebuild.apply_time.as_secs_f64(),
        rebuild.encode_time.as_secs_f64(),
        total.as_secs_f64(),
    );
    println!(
        "  views: {} resources, {} grants; process RSS {} (peak {})",
        org.resources.len() + other.resources.len(),
        org.grants.len() + other.grants.len(),
        proc_status("VmRSS:"),
        proc_status("VmHWM:"),
    );

    // The checks, made before anything is timed.
    let queries: Vec<Check> = (0..checks)
        .map(|_| {
            let from = if rng.percent(1) { &other } else { &org };
            random_check(&mut rng, from)
        })
        .collect();

    // The timer's own cost, which the per-call figures include.
    let mut overhead: Vec<u32> = (0..100_000)
        .map(|_| {
            let started = Instant::now();
            black_box(());
            started.elapsed().as_nanos() as u32
        })
        .collect();
    overhead.sort_unstable();
    println!(
        "timer: Instant::now() + elapsed() costs {} ns (median), included below",
        quantile(&overhead, 0.5)
    );

    // Latency, one Instant per call.
    let mut all = Vec::with_capacity(checks);
    let (mut allowed, mut visible_denied, mut hidden) = (Vec::new(), Vec::new(), Vec::new());
    for check in &queries {
        let started = Instant::now();
        let decision = authorize(&views, check.who, check.action, check.target);
        let nanos = started.elapsed().as_nanos() as u32;
        black_box(&decision);
        all.push(nanos);
        match decision.reason {
            Reason::Allowed(_) => allowed.push(nanos),
            Reason::NotVisible | Reason::Inactive => hidden.push(nanos),
            _ => visible_denied.push(nanos),
        }
    }
    println!("authorize latency, per call (one core):");
    report_latency("all", &mut all);
    report_latency("allowed", &mut allowed);
    report_latency("denied, visible", &mut visible_denied);
    report_latency("denied, not visible", &mut hidden);

    // Throughput, no timers in the loop.
    for pass in 1..=3 {
        let started = Instant::now();
        let mut allowed = 0usize;
        for check in &queries {
            let decision = authorize(&views, check.who, check.action, check.target);
            allowed += usize::from(black_box(decision).allowed);
        }
        let elapsed = started.elapsed();
        println!(
            "throughput pass {pass}: {} checks in {:.3} s: {:.0} checks/s ({allowed} allowed)",
            queries.len(),
            elapsed.as_secs_f64(),
            queries.len() as f64 / elapsed.as_secs_f64(),
        );
    }

    where_the_time_goes(&views, &queries);
}

/// Times the steps `authorize` takes, each alone over the same checks, to
/// show what dominates; then the grant scan over a prototype index that
/// keeps each resource's grants contiguous (a proposal, not Cairn's code).
fn where_the_time_goes(views: &Views, queries: &[Check]) {
    let per_check = |label: &str, step: &dyn Fn(&Check) -> usize| {
        let started = Instant::now();
        let mut sum = 0usize;
        for check in queries {
            sum = sum.wrapping_add(step(check));
        }
        let nanos = started.elapsed().as_nanos() as f64 / queries.len() as f64;
        println!("  {label:<52} {nanos:>7.0} ns/check  ({sum})");
        sum
    };
    println!("where the time goes (each step alone, over the same checks):");
    per_check("authorize, whole", &|check| {
        usize::from(authorize(views, check.who, check.action, check.target).allowed)
    });
    per_check("acting role (users + orgs)", &|check| {
        usize::from(acting_role(views, check.who).is_some())
    });
    per_check("catalog entry + ancestors", &|check| {
        views
            .catalog
            .get_kind(check.target.kind, &check.target.id)
            .map_or(0, |entry| 1 + views.catalog.ancestors(entry).count())
    });
    per_check("groups of the user", &|check| {
        views.groups.groups_of(&check.who.user_id).len()
    });
    let grants_on_path = |check: &Check| -> Vec<Uuid> {
        views
            .catalog
            .get(&check.target.id)
            .map(|entry| {
                std::iter::once(entry.id)
                    .chain(views.catalog.ancestors(entry).map(|up| up.id))
                    .collect()
            })
            .unwrap_or_default()
    };
    let paths: Vec<Vec<Uuid>> = queries.iter().map(grants_on_path).collect();
    let scanned: Vec<usize> = paths
        .iter()
        .map(|path| {
            path.iter()
                .map(|id| views.grants.on_resource(id).count())
                .sum()
        })
        .collect();
    let mut sorted = scanned.clone();
    sorted.sort_unstable();
    println!(
        "  grant records on the resource and its namespaces: mean {:.1}, p50 {}, p99 {}, max {}",
        sorted.iter().sum::<usize>() as f64 / sorted.len().max(1) as f64,
        sorted[sorted.len() / 2],
        sorted[(sorted.len() - 1) * 99 / 100],
        sorted.last().copied().unwrap_or(0),
    );
    let matches = |grant: &GrantRecord, check: &Check, groups: &[Uuid]| match grant.grantee_kind {
        GranteeKind::User => grant.grantee_id == check.who.user_id,
        GranteeKind::Group => groups.binary_search(&grant.grantee_id).is_ok(),
    };
    let index = std::sync::atomic::AtomicUsize::new(0);
    per_check("grants on the path, as Grants stores them", &|check| {
        let path = &paths[index.fetch_add(1, std::sync::atomic::Ordering::Relaxed)];
        let groups = views.groups.groups_of(&check.who.user_id);
        path.iter()
            .flat_map(|id| views.grants.on_resource(id))
            .filter(|grant| matches(grant, check, groups))
            .count()
    });
    // The proposal: each resource's grants inline, one lookup per resource.
    let inline: HashMap<Uuid, Vec<GrantRecord>> = views
        .catalog
        .all()
        .filter_map(|entry| {
            let grants: Vec<GrantRecord> = views.grants.on_resource(&entry.id).copied().collect();
            (!grants.is_empty()).then_some((entry.id, grants))
        })
        .collect();
    let index = std::sync::atomic::AtomicUsize::new(0);
    per_check(
        "grants on the path, inline per resource (prototype)",
        &|check| {
            let path = &paths[index.fetch_add(1, std::sync::atomic::Ordering::Relaxed)];
            let groups = views.groups.groups_of(&check.who.user_id);
            path.iter()
                .filter_map(|id| inline.get(id))
                .flatten()
                .filter(|grant| matches(grant, check, groups))
                .count()
        },
    );
    // The same, with only what the scan reads: 36 bytes a grant, not 112.
    drop(inline);
    let compact: HashMap<Uuid, Vec<(Uuid, Uuid, GranteeKind, GrantLevel)>> = views
        .catalog
        .all()
        .filter_map(|entry| {
            let grants: Vec<_> = views
                .grants
                .on_resource(&entry.id)
                .map(|grant| (grant.id, grant.grantee_id, grant.grantee_kind, grant.level))
                .collect();
            (!grants.is_empty()).then_some((entry.id, grants))
        })
        .collect();
    let index = std::sync::atomic::AtomicUsize::new(0);
    per_check("grants on the path, compact inline (prototype)", &|check| {
        let path = &paths[index.fetch_add(1, std::sync::atomic::Ordering::Relaxed)];
        let groups = views.groups.groups_of(&check.who.user_id);
        path.iter()
            .filter_map(|id| compact.get(id))
            .flatten()
            .filter(|(_, grantee, kind, _)| match kind {
                GranteeKind::User => *grantee == check.who.user_id,
                GranteeKind::Group => groups.binary_search(grantee).is_ok(),
            })
            .count()
    });
    // And with each catalog entry holding its grants: one lookup per level
    // of the path for the entry, its ancestors and their grants together.
    drop(compact);
    type CompactGrant = (Uuid, Uuid, GranteeKind, GrantLevel);
    // (parent, owner, grants on it).
    type Entry = (Option<Uuid>, Option<Uuid>, Vec<CompactGrant>);
    let entries: HashMap<Uuid, Entry> = views
        .catalog
        .all()
        .map(|entry| {
            let grants = views
                .grants
                .on_resource(&entry.id)
                .map(|grant| (grant.id, grant.grantee_id, grant.grantee_kind, grant.level))
                .collect();
            (entry.id, (entry.parent_id, entry.owner_id, grants))
        })
        .collect();
    per_check(
        "catalog walk + grants, grants in the entry (prototype)",
        &|check| {
            let groups = views.groups.groups_of(&check.who.user_id);
            let mut next = Some(check.target.id);
            let mut found = 0;
            while let Some((parent, owner, grants)) = next.and_then(|id| entries.get(&id)) {
                found += usize::from(*owner == Some(check.who.user_id));
                found += grants
                    .iter()
                    .filter(|(_, grantee, kind, _)| match kind {
                        GranteeKind::User => *grantee == check.who.user_id,
                        GranteeKind::Group => groups.binary_search(grantee).is_ok(),
                    })
                    .count();
                next = *parent;
            }
            found
        },
    );
}
