//! Flows: step definitions (docs/contract.md section 6) in a namespace, private to
//! their owner until shared; they inherit their namespace's grants. A
//! change of the definition re-pins its editor's own schedules and
//! suspends everyone else's, in the same command.

use cairn_core::rules::{Reference, check_flow_definition, references};
use cairn_core::time_format::rfc3339_micros;
use cairn_projections::Views;
use cairn_projections::sharing::{CatalogEntry, definition_digest};
use cairn_schemas::api::{CreateFlowRequest, FlowBody, UpdateFlowRequest};
use cairn_schemas::{
    AccessAction, Action, EventPayload, FlowCreated, FlowDeleted, FlowUpdated, ResourceKind,
    ResourceRef,
};
use serde_json::Value;
use uuid::Uuid;

use super::access::{ActOn, decide_act_on, require};
use super::namespaces::{check_catalog_name, list_kind, may_create_in};
use super::principal::Principal;
use super::schedules::on_flow_change;
use super::{App, CommandError, Decided, Origin};
use cairn_core::IdSource;

fn flow_ref(id: Uuid) -> ResourceRef {
    ResourceRef {
        kind: ResourceKind::Flow,
        id: Some(id),
    }
}

/// A flow's new state, checked before any decision (so the definition's
/// JSON is never parsed under the views' lock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedFlow {
    /// Its name, by the catalog-name policy.
    pub name: String,
    /// The namespace it goes in.
    pub namespace_id: Uuid,
    /// The definition as stored (checked against the step schema).
    pub definition: String,
    /// The definition's digest, which pins schedules.
    pub digest: String,
}

/// Checks a flow's name and definition: the step schema, and `$env`
/// references against `env_allow` (`CAIRN_FLOW_ENV_ALLOW`). The error
/// names the field, and the member to blame within the definition.
pub fn check_flow(
    name: &str,
    namespace_id: Uuid,
    definition: &Value,
    env_allow: &[String],
) -> Result<CheckedFlow, CommandError> {
    let name = check_catalog_name(name)?;
    let definition = check_flow_definition(definition).map_err(|error| CommandError::Invalid {
        field: "definition",
        message: error.to_string(),
    })?;
    check_env_references(&definition, env_allow)?;
    Ok(CheckedFlow {
        name,
        namespace_id,
        digest: definition_digest(&definition),
        definition,
    })
}

/// Every `$env.NAME` in a definition must be allowlisted
/// (`CAIRN_FLOW_ENV_ALLOW`); Cairn's own variables never are.
pub fn check_env_references(definition: &str, allowed: &[String]) -> Result<(), CommandError> {
    let references = references(definition).map_err(|message| CommandError::Invalid {
        field: "definition",
        message,
    })?;
    for reference in references {
        if let Reference::Env(name) = reference {
            let own = name.to_ascii_uppercase().starts_with("CAIRN_");
            if own || !allowed.contains(&name) {
                return Err(CommandError::invalid(
                    "definition",
                    format!(
                        "$env.{name} is not readable by flows: only the variables listed in CAIRN_FLOW_ENV_ALLOW are, and never Cairn's own (CAIRN_…)"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A flow as the API shows it.
pub fn flow_body(views: &Views, entry: &CatalogEntry) -> FlowBody {
    let definition = views
        .catalog
        .definition(&entry.id)
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    let version = views.flow_versions.get(&entry.id);
    FlowBody {
        id: entry.id,
        org_id: entry.org_id,
        namespace_id: entry.parent_id.unwrap_or_default(),
        name: entry.name.clone(),
        owner_id: entry.owner_id,
        definition,
        created_at: rfc3339_micros(entry.created_at),
        updated_at: rfc3339_micros(entry.updated_at),
        definition_digest: version.map(|version| version.digest.clone()),
        definition_author_id: version.map(|version| version.author_id),
    }
}

fn refuse_taken(
    views: &Views,
    org: Uuid,
    namespace: Uuid,
    name: &str,
    this: Uuid,
) -> Result<(), CommandError> {
    let taken = views
        .catalog
        .by_name(org, Some(namespace), ResourceKind::Flow, name)
        .is_some_and(|other| other.id != this);
    if taken {
        Err(CommandError::Conflict(
            "a flow with that name exists in that namespace".into(),
        ))
    } else {
        Ok(())
    }
}

/// `POST /api/v1/flows`.
pub async fn create_flow(
    app: &App,
    principal: &Principal,
    request: CreateFlowRequest,
    origin: &Origin,
) -> Result<FlowBody, CommandError> {
    let flow = check_flow(
        &request.name,
        request.namespace_id,
        &request.definition,
        &app.settings().flow_env_allow,
    )?;
    let flow_id = app
        .decide(|views, ids| decide_create(views, ids, principal, &flow, origin))
        .await?;
    get_flow(app, principal, flow_id)
}

/// Whether `principal` may create `flow` in its namespace, under a name
/// no other flow there has: the `flow.created` event and the new id.
pub fn decide_create(
    views: &Views,
    ids: &IdSource,
    principal: &Principal,
    flow: &CheckedFlow,
    origin: &Origin,
) -> Result<Decided<Uuid>, CommandError> {
    let org_id = may_create_in(
        views,
        principal,
        ResourceKind::Flow,
        Some(flow.namespace_id),
        "namespace_id",
    )?;
    let flow_id = ids.new_id();
    refuse_taken(views, org_id, flow.namespace_id, &flow.name, flow_id)?;
    let event = principal.event(
        Action::FlowCreated,
        flow_ref(flow_id),
        org_id,
        origin,
        EventPayload::FlowCreated(FlowCreated {
            flow_id,
            org_id,
            namespace_id: flow.namespace_id,
            name: flow.name.clone(),
            owner_id: principal.user_id,
            definition: flow.definition.clone(),
        }),
    );
    Ok(Decided::new(vec![event], flow_id))
}

/// `GET /api/v1/flows`: what the caller may read.
pub fn list_flows(
    app: &App,
    principal: &Principal,
    after: Option<Uuid>,
    limit: usize,
) -> (Vec<FlowBody>, Option<Uuid>) {
    list_kind(app, principal, ResourceKind::Flow, after, limit, flow_body)
}

/// `GET /api/v1/flows/{id}`.
pub fn get_flow(app: &App, principal: &Principal, id: Uuid) -> Result<FlowBody, CommandError> {
    let views = app.views();
    let entry = require(
        &views,
        principal,
        AccessAction::Read,
        ResourceKind::Flow,
        id,
    )?;
    Ok(flow_body(&views, entry))
}

/// `PUT /api/v1/flows/{id}`: the whole new state. Moving it to another
/// namespace needs the right to create there too.
pub async fn update_flow(
    app: &App,
    principal: &Principal,
    id: Uuid,
    request: UpdateFlowRequest,
    origin: &Origin,
) -> Result<FlowBody, CommandError> {
    let flow = check_flow(
        &request.name,
        request.namespace_id,
        &request.definition,
        &app.settings().flow_env_allow,
    )?;
    app.decide(|views, _| decide_update(views, principal, id, &flow, origin))
        .await?;
    get_flow(app, principal, id)
}

/// Whether `principal` may give flow `id` the state `flow`: edit rights on
/// it, create rights in a new namespace of the same org, a name free
/// there. With `flow.updated` come the events for the flow's schedules:
/// whoever else changes what runs cannot make a schedule run it as its
/// owner.
pub fn decide_update(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    flow: &CheckedFlow,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    let entry = require(views, principal, AccessAction::Edit, ResourceKind::Flow, id)?;
    if entry.parent_id != Some(flow.namespace_id) {
        let org = may_create_in(
            views,
            principal,
            ResourceKind::Flow,
            Some(flow.namespace_id),
            "namespace_id",
        )?;
        if org != entry.org_id {
            return Err(CommandError::invalid("namespace_id", "no such namespace"));
        }
    }
    refuse_taken(views, entry.org_id, flow.namespace_id, &flow.name, id)?;
    let mut events = vec![principal.event(
        Action::FlowUpdated,
        flow_ref(id),
        entry.org_id,
        origin,
        EventPayload::FlowUpdated(FlowUpdated {
            flow_id: id,
            namespace_id: flow.namespace_id,
            name: flow.name.clone(),
            definition: flow.definition.clone(),
        }),
    )];
    let old_digest = views
        .flow_versions
        .get(&id)
        .map(|version| version.digest.as_str());
    events.extend(on_flow_change(
        views,
        principal,
        origin,
        id,
        entry.org_id,
        old_digest,
        &flow.digest,
    ));
    Ok(Decided::new(events, ()))
}

/// `DELETE /api/v1/flows/{id}`: its grants end with it.
pub async fn delete_flow(
    app: &App,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    app.decide(|views, _| decide_delete(views, principal, id, origin))
        .await
}

/// Whether `principal` may delete flow `id`.
pub fn decide_delete(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    let act = ActOn::delete(
        principal,
        (ResourceKind::Flow, id),
        Action::FlowDeleted,
        origin,
    );
    decide_act_on(views, &act, |_, _| {
        Ok(EventPayload::FlowDeleted(FlowDeleted { flow_id: id }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::catalog_facts::cast::*;
    use crate::testing::catalog_facts::{flow, schedule};
    use crate::testing::{Given, id, payload_of};
    use serde_json::json;

    fn origin() -> Origin {
        Origin::local("t")
    }

    fn definition() -> Value {
        json!({"steps": [{"type": "log", "message": "hi from $env.REGION"}]})
    }

    fn checked(name: &str, namespace: u128) -> Result<CheckedFlow, CommandError> {
        check_flow(name, id(namespace), &definition(), &["REGION".to_string()])
    }

    fn create(
        given: &Given,
        principal: &Principal,
        name: &str,
        ns: u128,
    ) -> crate::testing::Then<Uuid> {
        given
            .when(|views, ids| decide_create(views, ids, principal, &checked(name, ns)?, &origin()))
    }

    fn update(
        given: &Given,
        principal: &Principal,
        flow: u128,
        name: &str,
        ns: u128,
    ) -> crate::testing::Then<()> {
        given.when(|views, _| {
            decide_update(views, principal, id(flow), &checked(name, ns)?, &origin())
        })
    }

    #[test]
    fn given_a_flow_editor_when_creating_in_their_namespace_then_they_own_it_with_its_definition() {
        let given = given();
        let edna = session(&given, EDNA, ORG);
        let decided = create(&given, &edna, "hourly", TEAM).decided();
        let EventPayload::FlowCreated(created) = payload_of(&decided, Action::FlowCreated) else {
            panic!("not a flow");
        };
        assert_eq!(
            (
                created.flow_id,
                created.org_id,
                created.namespace_id,
                created.owner_id
            ),
            (decided.reply, id(ORG), id(TEAM), id(EDNA))
        );
        assert_eq!(
            created.definition,
            checked("hourly", TEAM).expect("valid").definition
        );
        // In the public General namespace too
        assert_eq!(
            create(&given, &edna, "hourly", GENERAL).actions(),
            vec![Action::FlowCreated]
        );
    }

    #[test]
    fn given_bad_definitions_when_checked_then_422_on_definition_naming_the_problem() {
        let allow = ["REGION".to_string()];
        for (definition, needle) in [
            (json!({"steps": []}), "definition.steps"),
            (json!([]), "definition"),
            (
                json!({"steps": [{"type": "log", "message": "$env.HOME"}]}),
                "$env.HOME",
            ),
            (
                json!({"steps": [{"type": "log", "message": "$env.CAIRN_MASTER_KEY"}]}),
                "CAIRN_",
            ),
        ] {
            let refused = check_flow("f", id(TEAM), &definition, &allow).expect_err("refused");
            let CommandError::Invalid {
                field: "definition",
                message,
            } = &refused
            else {
                panic!("{refused:?}");
            };
            assert!(message.contains(needle), "{message}");
        }
        // Cairn's own variables are never readable, even when allowlisted
        let own = json!({"steps": [{"type": "log", "message": "$env.CAIRN_MASTER_KEY"}]});
        assert!(check_flow("f", id(TEAM), &own, &["CAIRN_MASTER_KEY".to_string()]).is_err());
        assert!(matches!(
            check_flow("a/b", id(TEAM), &definition(), &allow),
            Err(CommandError::Invalid { field: "name", .. })
        ));
    }

    #[test]
    fn given_each_refusal_when_creating_then_it_is_named() {
        let given = given();
        let edna = session(&given, EDNA, ORG);
        let vic = session(&given, VIC, ORG);
        let xavier = session(&given, XAVIER, ORG);
        let eve = session(&given, EVE, OTHER);
        let dan = session(&given, DAN, ORG);
        let mia = session(&given, MIA, ORG);
        for (caller, name, ns, expected) in [
            // The name is taken in that namespace
            (&edna, "nightly", TEAM, "409"),
            // Roles that may not create flows
            (&vic, "f", GENERAL, "403"),
            (&xavier, "f", GENERAL, "403"),
            (&mia, "f", GENERAL, "403"),
            // A grantee at use may not create in the namespace
            (&xavier, "f", TEAM, "403"),
            // Another tenant's namespace, an unknown one, a flow: no such namespace
            (&eve, "f", TEAM, "422 namespace_id"),
            (&edna, "f", EVE_NS, "422 namespace_id"),
            (&edna, "f", 0x999, "422 namespace_id"),
            (&edna, "f", FLOW, "422 namespace_id"),
            (&dan, "f", GENERAL, "422 namespace_id"),
        ] {
            assert_eq!(
                kind_of(&create(&given, caller, name, ns).refused()),
                expected,
                "{caller:?} {name} {ns}"
            );
        }
    }

    #[test]
    fn given_the_same_name_in_another_namespace_when_creating_then_it_is_free() {
        let given = given();
        let edna = session(&given, EDNA, ORG);
        assert_eq!(
            create(&given, &edna, "nightly", GENERAL).actions(),
            vec![Action::FlowCreated]
        );
    }

    #[test]
    fn given_an_owner_when_updating_then_the_whole_state_is_recorded() {
        let given = given();
        let edna = session(&given, EDNA, ORG);
        let decided = update(&given, &edna, FLOW, "renamed", GENERAL).decided();
        assert_eq!(
            payload_of(&decided, Action::FlowUpdated),
            &EventPayload::FlowUpdated(FlowUpdated {
                flow_id: id(FLOW),
                namespace_id: id(GENERAL),
                name: "renamed".into(),
                definition: checked("renamed", GENERAL).expect("valid").definition,
            })
        );
        // Keeping its own name is not a conflict with itself
        assert_eq!(
            update(&given, &edna, FLOW, "nightly", TEAM).actions(),
            vec![Action::FlowUpdated]
        );
    }

    #[test]
    fn given_each_refusal_when_updating_then_it_is_named() {
        let mut given = given();
        given.fold(flow(id(0x121), id(ORG), id(TEAM), id(EDNA), "weekly"));
        let edna = session(&given, EDNA, ORG);
        let xavier = session(&given, XAVIER, ORG);
        let eve = session(&given, EVE, OTHER);
        for (caller, flow, name, ns, expected) in [
            // Another flow in that namespace has the name
            (&edna, FLOW, "weekly", TEAM, "409"),
            // A grantee at use may not edit
            (&xavier, FLOW, "x", TEAM, "403"),
            // Another tenant
            (&eve, FLOW, "x", TEAM, "404"),
            (&edna, 0x999, "x", TEAM, "404"),
            // Moving it to another tenant's namespace, or to none
            (&edna, FLOW, "x", EVE_NS, "422 namespace_id"),
            (&edna, FLOW, "x", 0x999, "422 namespace_id"),
        ] {
            assert_eq!(
                kind_of(&update(&given, caller, flow, name, ns).refused()),
                expected,
                "{flow} {name} {ns}"
            );
        }
        // A superuser acting in the other org may not move it there
        let root = root_in(OTHER);
        assert_eq!(
            kind_of(&update(&given, &root, FLOW, "x", OTHER_GENERAL).refused()),
            "422 namespace_id"
        );
    }

    #[test]
    fn given_someone_elses_schedule_when_the_flow_changes_then_it_is_suspended_in_the_same_command()
    {
        let given = given().events([
            schedule(id(0x170), id(ORG), id(FLOW), id(XAVIER)),
            schedule(id(0x171), id(ORG), id(FLOW), id(EDNA)),
        ]);
        let edna = session(&given, EDNA, ORG);
        let mut actions = update(&given, &edna, FLOW, "nightly", TEAM).actions();
        actions.sort_by_key(|action| action.as_str());
        let mut expected = vec![
            Action::FlowUpdated,
            Action::SchedulePinned,
            Action::ScheduleSuspended,
        ];
        expected.sort_by_key(|action| action.as_str());
        assert_eq!(actions, expected);
    }

    #[test]
    fn given_each_caller_when_deleting_then_only_those_with_delete_rights_may() {
        let given = given();
        let edna = session(&given, EDNA, ORG);
        let ada = session(&given, ADA, ORG);
        let xavier = session(&given, XAVIER, ORG);
        let eve = session(&given, EVE, OTHER);
        let delete = |caller: &Principal, flow: u128| {
            given.when(|views, _| decide_delete(views, caller, id(flow), &origin()))
        };
        assert_eq!(kind_of(&delete(&xavier, FLOW).refused()), "403");
        assert_eq!(kind_of(&delete(&eve, FLOW).refused()), "404");
        assert_eq!(kind_of(&delete(&edna, 0x999).refused()), "404");
        assert_eq!(delete(&edna, FLOW).actions(), vec![Action::FlowDeleted]);
        assert_eq!(delete(&ada, FLOW).actions(), vec![Action::FlowDeleted]);
        assert_eq!(
            delete(&root_in(ORG), FLOW).actions(),
            vec![Action::FlowDeleted]
        );
    }
}
