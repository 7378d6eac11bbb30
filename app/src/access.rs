//! Authorization at the command layer: every command on a catalog resource
//! asks [`require`] (which asks `cairn_projections::access::authorize`)
//! before it decides anything, and a refusal carries the explanation to
//! the audit trail. `GET /api/v1/access/explain` answers the same question
//! for any user the caller may ask about ([`may_explain`]).

use std::sync::Arc;

use cairn_projections::Views;
use cairn_projections::access::{AccessPath, Decision, Target, Who, authorize};
use cairn_projections::sharing::CatalogEntry;
use cairn_schemas::api::ExplainBody;
use cairn_schemas::{AccessAction, Action, EventPayload, OrgRole, ResourceKind, ResourceRef};
use uuid::Uuid;

use super::error::Denial;
use super::{App, CommandError, Decided, Origin, Principal};

/// The principal as `authorize` sees it: a user acting in an org.
pub fn who(principal: &Principal) -> Who {
    Who {
        user_id: principal.user_id,
        org_id: principal.org_id,
    }
}

/// The refusal for a denied decision: 404 when the resource is not
/// visible, 403 otherwise, with the explanation for the audit trail.
pub fn denied(
    views: &Views,
    decision: &Decision,
    action: AccessAction,
    target: Target,
) -> CommandError {
    CommandError::Denied(Box::new(Denial {
        action: Some(action),
        resource: ResourceRef {
            kind: target.kind,
            id: Some(target.id),
        },
        visible: decision.visible(),
        reason: decision.explain(views, action, target.kind),
    }))
}

/// The resource, when `principal` may do `action` to it; the refusal
/// otherwise.
pub fn require<'v>(
    views: &'v Views,
    principal: &Principal,
    action: AccessAction,
    kind: ResourceKind,
    id: Uuid,
) -> Result<&'v CatalogEntry, CommandError> {
    let target = Target { kind, id };
    let decision = authorize(views, who(principal), action, target);
    match views.catalog.get_kind(kind, &id) {
        Some(entry) if decision.allowed => Ok(entry),
        _ => Err(denied(views, &decision, action, target)),
    }
}

/// A command on an existing catalog resource: who does what to which
/// resource, and the event that records it.
#[derive(Clone, Copy, Debug)]
pub struct ActOn<'a> {
    /// The caller.
    pub principal: &'a Principal,
    /// What they must be allowed to do to the resource.
    pub action: AccessAction,
    /// The resource's kind.
    pub kind: ResourceKind,
    /// The resource.
    pub id: Uuid,
    /// The event recorded when it goes ahead.
    pub event: Action,
    /// Where the request came from.
    pub origin: &'a Origin,
}

impl<'a> ActOn<'a> {
    /// Deleting resource `id` of `kind`, recorded as `event`: the one
    /// shape every catalog kind's deletion shares.
    pub fn delete(
        principal: &'a Principal,
        (kind, id): (ResourceKind, Uuid),
        event: Action,
        origin: &'a Origin,
    ) -> ActOn<'a> {
        ActOn {
            principal,
            action: AccessAction::Delete,
            kind,
            id,
            event,
            origin,
        }
    }
}

/// The one shape of a decision on an existing catalog resource: authorize
/// `act.action` on it, let `decide` check what else it must and build the
/// payload, and record `act.event` in the resource's org.
pub fn decide_act_on(
    views: &Views,
    act: &ActOn<'_>,
    decide: impl FnOnce(&Views, &CatalogEntry) -> Result<EventPayload, CommandError>,
) -> Result<Decided<()>, CommandError> {
    let entry = require(views, act.principal, act.action, act.kind, act.id)?;
    let payload = decide(views, entry)?;
    let event = act.principal.event(
        act.event,
        ResourceRef {
            kind: act.kind,
            id: Some(act.id),
        },
        entry.org_id,
        act.origin,
        payload,
    );
    Ok(Decided::new(vec![event], ()))
}

/// Runs [`decide_act_on`] and waits until its event is durable.
pub async fn act(
    app: &App,
    act: &ActOn<'_>,
    decide: impl FnOnce(&Views, &CatalogEntry) -> Result<EventPayload, CommandError>,
) -> Result<(), CommandError> {
    app.decide(|views, _| decide_act_on(views, act, decide))
        .await
}

/// May `principal` create an owned, org-level resource of `kind` (a
/// secret, a connection) named `name`? Their role must allow it, and the
/// name must be free among their own of that kind. The org it goes in.
pub fn may_create_owned(
    views: &Views,
    principal: &Principal,
    kind: ResourceKind,
    name: &str,
) -> Result<Uuid, CommandError> {
    let decision = cairn_projections::access::authorize_create(views, who(principal), kind, None);
    if !decision.allowed {
        return Err(CommandError::Forbidden(format!(
            "org role {} does not allow creating a {kind}",
            principal.role
        )));
    }
    let org_id = principal.org_id;
    let taken = views
        .catalog
        .by_name(org_id, Some(principal.user_id), kind, name)
        .is_some();
    if taken {
        return Err(CommandError::Conflict(format!(
            "you already have a {kind} with that name"
        )));
    }
    Ok(org_id)
}

/// The refusal for something the caller may not see, or that does not
/// exist (the same answer, 404), naming it for the audit trail.
pub fn not_visible(resource: ResourceRef) -> CommandError {
    CommandError::Denied(Box::new(Denial {
        action: None,
        resource,
        visible: false,
        reason: "denied: not visible".into(),
    }))
}

/// A refusal that is about a role, not a resource (creating a group
/// without the admin role).
pub fn role_denied(resource: ResourceRef, reason: impl Into<String>) -> CommandError {
    CommandError::Denied(Box::new(Denial {
        action: None,
        resource,
        visible: true,
        reason: reason.into(),
    }))
}

/// `GET /api/v1/access/explain`: the question, parsed.
#[derive(Clone, Copy, Debug)]
pub struct ExplainQuery {
    /// Whose access (the caller when absent).
    pub user_id: Option<Uuid>,
    /// The resource's kind.
    pub kind: ResourceKind,
    /// The resource.
    pub id: Uuid,
    /// The action.
    pub action: AccessAction,
    /// As of this seq (now when absent).
    pub at_seq: Option<u64>,
}

/// The path as data, for the API (explain, the access review): its name
/// (`owner`, `grant`, `org_admin`, …), the grant and the group it went to.
pub fn path_fields(path: Option<AccessPath>) -> (Option<String>, Option<Uuid>, Option<Uuid>) {
    let Some(path) = path else {
        return (None, None, None);
    };
    let name = match path {
        AccessPath::Owner => "owner",
        AccessPath::Superuser => "superuser",
        AccessPath::OrgAdmin { .. } => "org_admin",
        AccessPath::OrgRole { .. } => "org_role",
        AccessPath::NamespaceOwner { .. } => "namespace_owner",
        AccessPath::Grant { .. } => "grant",
        AccessPath::PublicNamespace { .. } => "public_namespace",
    };
    match path {
        AccessPath::Grant {
            grant_id,
            via_group,
            ..
        } => (Some(name.into()), Some(grant_id), via_group),
        _ => (Some(name.into()), None, None),
    }
}

/// Answers the question with `views` (now, or as of a seq).
fn explain_in(views: &Views, principal: &Principal, query: ExplainQuery) -> ExplainBody {
    let user = query.user_id.unwrap_or(principal.user_id);
    // A superuser asks as of the resource's own org; everyone else about
    // the org they act in, as the user would act there.
    let org = match views.catalog.get(&query.id) {
        Some(entry) if principal.is_superuser => entry.org_id,
        _ => principal.org_id,
    };
    let target = Target {
        kind: query.kind,
        id: query.id,
    };
    let decision = authorize(
        views,
        Who {
            user_id: user,
            org_id: org,
        },
        query.action,
        target,
    );
    let (path, grant_id, via_group) = path_fields(decision.path());
    ExplainBody {
        allowed: decision.allowed,
        reason: decision.explain(views, query.action, query.kind),
        path,
        grant_id,
        via_group,
    }
}

/// Whom an explain question is about, as [`may_explain`] needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplainSubject {
    /// The caller themselves.
    Caller,
    /// Another user; `known` when the caller's org has them as a member
    /// (for a superuser: when they exist at all).
    Other {
        /// The user asked about.
        user: Uuid,
        /// Whether the caller may know the user exists.
        known: bool,
    },
}

/// Why a question was refused, for the audit trail (the caller only ever
/// sees "not found").
const MAY_NOT_ASK: &str = "explaining another user's access, or access as of a past seq, requires the admin or audit_viewer role";

/// May `principal` ask explain's question about `subject` (in the `past`,
/// when `at_seq` is given)? Anyone may ask about themselves now. Asking
/// about another user or about the past is a review of the org: it needs
/// an admin or audit viewer of the caller's org (or a superuser), and the
/// other user must be one the caller may know of. Every refusal is the
/// same 404 whatever the reason (a user who exists and one who does not
/// are not told apart), with the reason in the `authz.denied` event.
pub fn may_explain(
    principal: &Principal,
    subject: ExplainSubject,
    past: bool,
) -> Result<(), CommandError> {
    let reviewer =
        principal.is_admin_of(principal.org_id) || principal.role == OrgRole::AuditViewer;
    let (about, known) = match subject {
        ExplainSubject::Caller if !past => return Ok(()),
        ExplainSubject::Caller => (ResourceRef::AUDIT_LOG, true),
        ExplainSubject::Other { user, known } => (
            ResourceRef {
                kind: ResourceKind::User,
                id: Some(user),
            },
            known,
        ),
    };
    let reason = match (reviewer, known) {
        (true, true) => return Ok(()),
        (false, _) => MAY_NOT_ASK,
        (true, false) => "denied: not visible",
    };
    Err(CommandError::Denied(Box::new(Denial {
        action: None,
        resource: about,
        visible: false,
        reason: reason.into(),
    })))
}

/// Whom `query` is about, seen by `principal` in `views`.
fn subject_of(views: &Views, principal: &Principal, query: &ExplainQuery) -> ExplainSubject {
    match query.user_id.filter(|user| *user != principal.user_id) {
        None => ExplainSubject::Caller,
        Some(user) => ExplainSubject::Other {
            user,
            known: if principal.is_superuser {
                views.users.get(&user).is_some()
            } else {
                views.orgs.role_of(&user, &principal.org_id).is_some()
            },
        },
    }
}

/// `GET /api/v1/access/explain`: see [`may_explain`] for who may ask what.
/// A question about the past is answered from the bounded pool of past
/// states ([`App::views_at`]), and only once the caller may ask it.
pub async fn explain(
    app: &Arc<App>,
    principal: &Principal,
    query: ExplainQuery,
) -> Result<ExplainBody, CommandError> {
    let subject = subject_of(&app.views(), principal, &query);
    may_explain(principal, subject, query.at_seq.is_some())?;
    match query.at_seq {
        None => Ok(explain_in(&app.views(), principal, query)),
        Some(seq) => {
            let views = app.views_at(seq).await?;
            Ok(explain_in(&views, principal, query))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::principal::Credential;
    use super::*;

    fn principal(role: OrgRole) -> Principal {
        Principal {
            user_id: Uuid::from_u128(1),
            org_id: Uuid::from_u128(0x0e),
            role,
            is_superuser: false,
            credential: Credential::Session(Uuid::from_u128(0x55)),
        }
    }

    const MEMBER: ExplainSubject = ExplainSubject::Other {
        user: Uuid::from_u128(2),
        known: true,
    };
    const STRANGER: ExplainSubject = ExplainSubject::Other {
        user: Uuid::from_u128(3),
        known: false,
    };

    /// The refusal as the caller sees it (status and body) and the trail.
    fn refusal(outcome: Result<(), CommandError>) -> (bool, ResourceRef, String) {
        match outcome {
            Err(CommandError::Denied(denial)) => (denial.visible, denial.resource, denial.reason),
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    #[test]
    fn anyone_may_ask_about_themselves_now() {
        for role in OrgRole::ALL {
            assert!(may_explain(&principal(*role), ExplainSubject::Caller, false).is_ok());
        }
    }

    #[test]
    fn another_user_or_the_past_needs_an_admin_or_an_audit_viewer() {
        let reviewers = [OrgRole::Admin, OrgRole::AuditViewer];
        for role in OrgRole::ALL.iter().filter(|role| !reviewers.contains(role)) {
            let role = *role;
            for (subject, past) in [
                (MEMBER, false),
                (MEMBER, true),
                (STRANGER, false),
                (ExplainSubject::Caller, true),
            ] {
                // Given a member without a reviewing role, when they ask,
                // then the answer is a 404 like a missing resource.
                let (visible, _, reason) = refusal(may_explain(&principal(role), subject, past));
                assert!(!visible, "{role:?} {subject:?} {past}");
                assert!(reason.contains("admin or audit_viewer"), "{reason}");
            }
        }
        for role in reviewers {
            assert!(may_explain(&principal(role), MEMBER, true).is_ok());
            assert!(may_explain(&principal(role), ExplainSubject::Caller, true).is_ok());
        }
    }

    #[test]
    fn a_member_and_a_stranger_are_refused_alike() {
        // A viewer asking about a member and about a stranger: the same
        // answer (not visible), naming the user asked about in the trail.
        let member = refusal(may_explain(&principal(OrgRole::Viewer), MEMBER, false));
        let stranger = refusal(may_explain(&principal(OrgRole::Viewer), STRANGER, false));
        assert_eq!((member.0, &member.2), (stranger.0, &stranger.2));
        assert_eq!(member.1.id, Some(Uuid::from_u128(2)));
        // A reviewer asking about a stranger: not visible either.
        let (visible, resource, _) =
            refusal(may_explain(&principal(OrgRole::Admin), STRANGER, false));
        assert!(!visible);
        assert_eq!(resource.id, Some(Uuid::from_u128(3)));
        // The past about oneself names the audit log.
        let (_, resource, _) = refusal(may_explain(
            &principal(OrgRole::None),
            ExplainSubject::Caller,
            true,
        ));
        assert_eq!(resource, ResourceRef::AUDIT_LOG);
    }

    #[test]
    fn a_superuser_may_ask_about_anyone_known() {
        let mut root = principal(OrgRole::Admin);
        root.is_superuser = true;
        assert!(may_explain(&root, MEMBER, true).is_ok());
        assert!(!refusal(may_explain(&root, STRANGER, false)).0);
    }

    mod given_the_catalog {
        use super::super::*;
        use crate::testing::catalog_facts::cast::*;
        use crate::testing::id;

        fn origin() -> Origin {
            Origin::local("t")
        }

        fn act<'a>(principal: &'a Principal, origin: &'a Origin, id: Uuid) -> ActOn<'a> {
            ActOn {
                principal,
                action: AccessAction::Delete,
                kind: ResourceKind::Flow,
                id,
                event: Action::FlowDeleted,
                origin,
            }
        }

        #[test]
        fn given_a_resource_when_acted_on_then_the_event_is_in_its_org_and_refusals_come_first() {
            let given = given();
            let origin = origin();
            let edna = session(&given, EDNA, ORG);
            let payload = || {
                Ok(EventPayload::FlowDeleted(cairn_schemas::FlowDeleted {
                    flow_id: id(FLOW),
                }))
            };
            let decided = decide_act_on(given.views(), &act(&edna, &origin, id(FLOW)), |_, _| {
                payload()
            })
            .expect("allowed");
            assert_eq!(decided.events[0].org, Some(id(ORG)));
            assert_eq!(decided.events[0].action, Action::FlowDeleted);
            // The payload's own refusal comes through, nothing recorded
            let refused = decide_act_on(given.views(), &act(&edna, &origin, id(FLOW)), |_, _| {
                Err(CommandError::Conflict("no".into()))
            });
            assert!(matches!(refused, Err(CommandError::Conflict(_))));
            // Authorization is asked before the payload is built
            let xavier = session(&given, XAVIER, ORG);
            let eve = session(&given, EVE, OTHER);
            for (caller, visible) in [(&xavier, true), (&eve, false)] {
                let refused =
                    decide_act_on(given.views(), &act(caller, &origin, id(FLOW)), |_, _| {
                        panic!("decided before authorizing")
                    });
                match refused {
                    Err(CommandError::Denied(denial)) => {
                        assert_eq!(denial.visible, visible);
                        assert_eq!(denial.action, Some(AccessAction::Delete));
                    }
                    other => panic!("{other:?}"),
                }
            }
        }

        #[test]
        fn given_a_grant_through_a_group_when_explained_then_the_path_names_the_grant_and_group() {
            let given = given();
            let xavier = session(&given, XAVIER, ORG);
            let query = ExplainQuery {
                user_id: None,
                kind: ResourceKind::Flow,
                id: id(FLOW),
                action: AccessAction::Run,
                at_seq: None,
            };
            let answer = explain_in(given.views(), &xavier, query);
            assert!(answer.allowed, "{answer:?}");
            assert_eq!(answer.path.as_deref(), Some("grant"));
            assert_eq!(answer.grant_id, Some(id(0x160)));
            assert_eq!(answer.via_group, Some(id(GROUP)));
            // Asked by the superuser acting elsewhere: as of the flow's org
            let root = root_in(OTHER);
            let about_xavier = ExplainQuery {
                user_id: Some(id(XAVIER)),
                ..query
            };
            assert!(explain_in(given.views(), &root, about_xavier).allowed);
            // Edit is more than the grant gives
            let edit = ExplainQuery {
                action: AccessAction::Edit,
                ..query
            };
            assert!(!explain_in(given.views(), &xavier, edit).allowed);
        }

        #[test]
        fn given_someone_asked_about_when_the_subject_is_sized_up_then_strangers_are_unknown() {
            let given = given();
            let ada = session(&given, ADA, ORG);
            let ask = |user: Option<u128>| ExplainQuery {
                user_id: user.map(id),
                kind: ResourceKind::Flow,
                id: id(FLOW),
                action: AccessAction::Read,
                at_seq: None,
            };
            assert_eq!(
                subject_of(given.views(), &ada, &ask(None)),
                ExplainSubject::Caller
            );
            assert_eq!(
                subject_of(given.views(), &ada, &ask(Some(ADA))),
                ExplainSubject::Caller
            );
            assert_eq!(
                subject_of(given.views(), &ada, &ask(Some(EDNA))),
                ExplainSubject::Other {
                    user: id(EDNA),
                    known: true
                }
            );
            // Another tenant's user is unknown to an org admin, not to a superuser
            assert_eq!(
                subject_of(given.views(), &ada, &ask(Some(EVE))),
                ExplainSubject::Other {
                    user: id(EVE),
                    known: false
                }
            );
            assert_eq!(
                subject_of(given.views(), &root_in(ORG), &ask(Some(EVE))),
                ExplainSubject::Other {
                    user: id(EVE),
                    known: true
                }
            );
        }

        #[test]
        fn given_each_path_when_named_then_the_name_is_stable() {
            use cairn_projections::access::AccessPath;
            assert_eq!(path_fields(None), (None, None, None));
            for (path, name) in [
                (AccessPath::Owner, "owner"),
                (AccessPath::Superuser, "superuser"),
            ] {
                assert_eq!(path_fields(Some(path)).0.as_deref(), Some(name));
            }
        }
    }
}
