//! Reports for compliance reviewers. The access review: every user who can
//! reach a resource of the org — its members and the superusers — with
//! what they may do there and the path that lets them (owner, grant G via
//! group X, org role, superuser), now or as of a seq of the log. Readers
//! are the org's audit viewers and admins, and superusers.

use std::sync::Arc;

use cairn_projections::Views;
use cairn_projections::access::{Target, Who, authorize};
use cairn_schemas::AccessAction;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::access::path_fields;
use super::audit_log::{AuditQuery, query_events, require_audit_reader};
use super::principal::Principal;
use super::{App, CommandError};

/// At most this many uses per page of the secret-usage report.
const MAX_REPORT_ROWS: usize = 500;

/// One user's reach on one resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct AccessReviewRow {
    /// The user.
    pub user_id: Uuid,
    /// Their username.
    pub username: String,
    /// The resource's kind.
    pub resource_type: String,
    /// The resource.
    pub resource_id: Uuid,
    /// Its name.
    pub resource_name: String,
    /// Every action they may take on it (`read`, `run`, `edit`, …).
    pub actions: Vec<String>,
    /// How they reach it: `owner`, `grant`, `org_admin`, `org_role`,
    /// `namespace_owner`, `public_namespace` or `superuser`.
    pub path: String,
    /// The grant, when the path is one.
    pub grant_id: Option<Uuid>,
    /// The group the grant was made to, if not to the user.
    pub via_group: Option<Uuid>,
    /// The path in one sentence, as `GET /api/v1/access/explain` says it.
    pub reason: String,
}

/// The access review of an org.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AccessReview {
    /// The org reviewed.
    pub org_id: Uuid,
    /// The seq of the log the review is as of.
    pub at_seq: u64,
    /// One row per user and resource they can reach, by username, then
    /// resource type and name.
    pub items: Vec<AccessReviewRow>,
}

/// The review of `org` in `views`: for every member and superuser and every
/// resource of the org, `authorize` for every action; a resource the user
/// cannot read is not listed.
pub fn review(views: &Views, org: Uuid) -> Vec<AccessReviewRow> {
    let mut users: Vec<Uuid> = views.orgs.members_of(&org).copied().collect();
    users.extend(
        views
            .users
            .all()
            .filter(|user| user.is_superuser && !users.contains(&user.id))
            .map(|user| user.id)
            .collect::<Vec<_>>(),
    );
    let mut rows = Vec::new();
    for user_id in users {
        let Some(user) = views.users.get(&user_id) else {
            continue;
        };
        let who = Who {
            user_id,
            org_id: org,
        };
        for entry in views.catalog.in_org(&org) {
            let target = Target {
                kind: entry.kind,
                id: entry.id,
            };
            let read = authorize(views, who, AccessAction::Read, target);
            if !read.allowed {
                continue;
            }
            let Some(path) = read.path() else { continue };
            let actions = AccessAction::ALL
                .iter()
                .filter(|action| authorize(views, who, **action, target).allowed)
                .map(|action| action.as_str().to_string())
                .collect();
            let (path, grant_id, via_group) = path_fields(Some(path));
            rows.push(AccessReviewRow {
                user_id,
                username: user.username.clone(),
                resource_type: entry.kind.as_str().to_string(),
                resource_id: entry.id,
                resource_name: entry.name.clone(),
                actions,
                path: path.unwrap_or_default(),
                grant_id,
                via_group,
                reason: read.explain(views, AccessAction::Read, entry.kind),
            });
        }
    }
    rows.sort_by(|a, b| {
        (
            &a.username,
            &a.resource_type,
            &a.resource_name,
            a.resource_id,
        )
            .cmp(&(
                &b.username,
                &b.resource_type,
                &b.resource_name,
                b.resource_id,
            ))
    });
    rows
}

/// `GET /api/v1/reports/access-review`. A superuser may review another
/// org. As of a seq, the views come from the bounded pool of past states;
/// the review itself (every member × resource × action) runs on the
/// blocking pool.
pub async fn access_review(
    app: &Arc<App>,
    principal: &Principal,
    at_seq: Option<u64>,
    org: Option<Uuid>,
) -> Result<AccessReview, CommandError> {
    require_audit_reader(principal)?;
    let org_id = match org {
        Some(org) if org != principal.org_id && !principal.is_superuser => {
            return Err(CommandError::Forbidden(
                "reviewing another org requires a superuser".into(),
            ));
        }
        Some(org) => org,
        None => principal.org_id,
    };
    let past = match at_seq {
        Some(seq) => Some((seq, app.views_at(seq).await?)),
        None => None,
    };
    let app = Arc::clone(app);
    let (at_seq, items) = tokio::task::spawn_blocking(move || match past {
        Some((seq, views)) => (seq, review(&views, org_id)),
        None => {
            let views = app.views();
            (app.log().head().seq, review(&views, org_id))
        }
    })
    .await
    .map_err(|error| CommandError::internal(format!("the access review stopped: {error}")))?;
    Ok(AccessReview {
        org_id,
        at_seq,
        items,
    })
}

/// The review as CSV (RFC 4180: every field quoted, quotes doubled; a
/// field that starts with `=`, `+`, `-` or `@` gets a leading `'` so a
/// spreadsheet never runs it as a formula).
pub fn review_csv(review: &AccessReview) -> String {
    fn field(text: &str) -> String {
        let guarded = if text.starts_with(['=', '+', '-', '@']) {
            format!("'{text}")
        } else {
            text.to_string()
        };
        format!("\"{}\"", guarded.replace('"', "\"\""))
    }
    let mut out = String::from(
        "user_id,username,resource_type,resource_id,resource_name,actions,path,grant_id,via_group,reason\r\n",
    );
    for row in &review.items {
        let cells = [
            row.user_id.to_string(),
            row.username.clone(),
            row.resource_type.clone(),
            row.resource_id.to_string(),
            row.resource_name.clone(),
            row.actions.join(" "),
            row.path.clone(),
            row.grant_id.map(|id| id.to_string()).unwrap_or_default(),
            row.via_group.map(|id| id.to_string()).unwrap_or_default(),
            row.reason.clone(),
        ];
        let line: Vec<String> = cells.iter().map(|cell| field(cell)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One use of a secret by a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct SecretUseRow {
    /// The event's seq.
    pub seq: u64,
    /// When (RFC 3339, microseconds).
    pub time: String,
    /// The run that resolved it.
    pub run_id: Option<String>,
    /// The member the run acted for.
    pub invoker_id: Option<String>,
    /// The invoker's username, when known.
    pub invoker: Option<String>,
    /// The version resolved.
    pub version: Option<u64>,
}

/// Who used a secret: every `secret.resolved` event of it, oldest first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SecretUsage {
    /// The secret.
    pub secret_id: Uuid,
    /// The uses found.
    pub items: Vec<SecretUseRow>,
    /// The seq to continue after (`after=`), when the scan stopped early.
    pub next: Option<String>,
}

/// `GET /api/v1/reports/secret-usage` (blocking: it reads the log).
pub fn secret_usage(
    app: &App,
    principal: &Principal,
    secret_id: Uuid,
    after: u64,
) -> Result<SecretUsage, CommandError> {
    let query = AuditQuery {
        action: Some(cairn_schemas::Action::SecretResolved),
        resource_type: Some(cairn_schemas::ResourceKind::Secret),
        resource_id: Some(secret_id),
        after,
        limit: MAX_REPORT_ROWS,
        ..AuditQuery::default()
    };
    let (events, next) = query_events(app, principal, &query)?;
    let views = app.views();
    let items = events
        .iter()
        .map(|event| {
            let details = &event["details"];
            let invoker_id = details["invoker_id"].as_str().map(str::to_string);
            let invoker = invoker_id
                .as_deref()
                .and_then(|id| Uuid::parse_str(id).ok())
                .and_then(|id| views.users.get(&id))
                .map(|user| user.username.clone());
            SecretUseRow {
                seq: event["seq"].as_u64().unwrap_or(0),
                time: event["time"].as_str().unwrap_or_default().to_string(),
                run_id: details["run_id"].as_str().map(str::to_string),
                invoker_id,
                invoker,
                version: details["version"].as_u64(),
            }
        })
        .collect();
    Ok(SecretUsage {
        secret_id,
        items,
        next: next.map(|seq| seq.to_string()),
    })
}

/// `GET /api/v1/reports/activity`: what a user did (the events they are
/// the actor of, themselves or through any API key of theirs), in a time
/// window, a page at a time (blocking).
pub fn activity(
    app: &App,
    principal: &Principal,
    query: &AuditQuery,
) -> Result<(Vec<serde_json::Value>, Option<u64>), CommandError> {
    let mut query = query.clone();
    query.actor_keys = match query.actor {
        Some(user) => app
            .views()
            .api_keys
            .of_user(user)
            .map(|key| key.id)
            .collect(),
        None => Vec::new(),
    };
    query_events(app, principal, &query)
}
