//! Flows: step definitions (docs/contract.md section 6) in a namespace, private to
//! their owner until shared; they inherit their namespace's grants. A
//! change of the definition re-pins its editor's own schedules and
//! suspends everyone else's, in the same command.

use cairn_audit::time_format::rfc3339_micros;
use cairn_core::rules::{Reference, check_flow_definition, references};
use cairn_projections::Views;
use cairn_projections::sharing::{CatalogEntry, definition_digest};
use cairn_schemas::api::{CreateFlowRequest, FlowBody, UpdateFlowRequest};
use cairn_schemas::{
    AccessAction, Action, EventPayload, FlowCreated, FlowDeleted, FlowUpdated, ResourceKind,
    ResourceRef,
};
use serde_json::Value;
use uuid::Uuid;

use super::access::{act_on, require};
use super::namespaces::{check_catalog_name, list_kind, may_create_in};
use super::principal::Principal;
use super::schedules::on_flow_change;
use super::{App, CommandError, Origin};

fn flow_ref(id: Uuid) -> ResourceRef {
    ResourceRef {
        kind: ResourceKind::Flow,
        id: Some(id),
    }
}

/// Checks the definition against the step schema and the environment
/// allowlist; the error names the member to blame.
fn definition_text(app: &App, definition: &Value) -> Result<String, CommandError> {
    let text = check_flow_definition(definition).map_err(|error| CommandError::Invalid {
        field: "definition",
        message: error.to_string(),
    })?;
    check_env_references(&text, &app.settings().flow_env_allow)?;
    Ok(text)
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
    let name = check_catalog_name(&request.name)?;
    let definition = definition_text(app, &request.definition)?;
    let flow_id = app.new_id();
    let namespace_id = request.namespace_id;
    app.execute(|views| {
        let org_id = may_create_in(
            views,
            principal,
            ResourceKind::Flow,
            Some(namespace_id),
            "namespace_id",
        )?;
        refuse_taken(views, org_id, namespace_id, &name, flow_id)?;
        Ok::<_, CommandError>(vec![principal.event(
            Action::FlowCreated,
            flow_ref(flow_id),
            org_id,
            origin,
            EventPayload::FlowCreated(FlowCreated {
                flow_id,
                org_id,
                namespace_id,
                name: name.clone(),
                owner_id: principal.user_id,
                definition: definition.clone(),
            }),
        )])
    })
    .await?;
    get_flow(app, principal, flow_id)
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
    let name = check_catalog_name(&request.name)?;
    let definition = definition_text(app, &request.definition)?;
    let namespace_id = request.namespace_id;
    app.execute(|views| {
        let entry = require(views, principal, AccessAction::Edit, ResourceKind::Flow, id)?;
        if entry.parent_id != Some(namespace_id) {
            let org = may_create_in(
                views,
                principal,
                ResourceKind::Flow,
                Some(namespace_id),
                "namespace_id",
            )?;
            if org != entry.org_id {
                return Err(CommandError::invalid("namespace_id", "no such namespace"));
            }
        }
        refuse_taken(views, entry.org_id, namespace_id, &name, id)?;
        let mut events = vec![principal.event(
            Action::FlowUpdated,
            flow_ref(id),
            entry.org_id,
            origin,
            EventPayload::FlowUpdated(FlowUpdated {
                flow_id: id,
                namespace_id,
                name: name.clone(),
                definition: definition.clone(),
            }),
        )];
        // The flow's schedules, in the same command: whoever else changes
        // what runs cannot make a schedule run it as its owner.
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
            &definition_digest(&definition),
        ));
        Ok::<_, CommandError>(events)
    })
    .await?;
    get_flow(app, principal, id)
}

/// `DELETE /api/v1/flows/{id}`: its grants end with it.
pub async fn delete_flow(
    app: &App,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    let kind = ResourceKind::Flow;
    act_on(
        app,
        principal,
        AccessAction::Delete,
        kind,
        id,
        Action::FlowDeleted,
        origin,
        |_, _| Ok(EventPayload::FlowDeleted(FlowDeleted { flow_id: id })),
    )
    .await
}
