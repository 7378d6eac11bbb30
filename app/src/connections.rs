//! Connections: a target (where: host, port, endpoint, protocol) and
//! credentials (sealed like a secret value, never returned). Shareable
//! like secrets; someone other than the owner who points a connection
//! somewhere else must bring new credentials, so that a `manage` grantee
//! cannot send the owner's credentials to a host of their choosing.

use cairn_audit::time_format::rfc3339_micros;
use cairn_projections::Views;
use cairn_projections::sharing::CatalogEntry;
use cairn_schemas::api::{ConnectionBody, CreateConnectionRequest, UpdateConnectionRequest};
use cairn_schemas::{
    AccessAction, Action, ConnectionCreated, ConnectionKind, ConnectionUpdated, EventPayload,
    ResourceKind, ResourceRef, SecretRef,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::access::{act_on, may_create_owned, require};
use super::listing::parse_named;
use super::namespaces::{check_catalog_name, list_kind};
use super::principal::Principal;
use super::{App, CommandError, Origin};

/// The largest target or credentials object, as JSON text.
pub const MAX_CONNECTION_JSON_BYTES: usize = 8 * 1024;

fn connection_ref(id: Uuid) -> ResourceRef {
    ResourceRef {
        kind: ResourceKind::Connection,
        id: Some(id),
    }
}

/// The target members each kind needs.
fn required_target(kind: ConnectionKind) -> &'static [&'static str] {
    match kind {
        ConnectionKind::Postgres => &["host", "database"],
        ConnectionKind::Http => &["url"],
        ConnectionKind::S3 => &["endpoint", "bucket"],
        ConnectionKind::Smtp => &["host"],
    }
}

/// An object of strings, numbers and booleans, within the size limit.
fn flat_object(field: &'static str, value: &Value) -> Result<String, CommandError> {
    let Value::Object(members) = value else {
        return Err(CommandError::invalid(field, "must be an object"));
    };
    if members.is_empty() {
        return Err(CommandError::invalid(field, "must not be empty"));
    }
    if members
        .values()
        .any(|v| v.is_object() || v.is_array() || v.is_null())
    {
        return Err(CommandError::invalid(
            field,
            "members must be strings, numbers or booleans",
        ));
    }
    let text = value.to_string();
    if text.len() > MAX_CONNECTION_JSON_BYTES {
        return Err(CommandError::invalid(
            field,
            format!("must be at most {MAX_CONNECTION_JSON_BYTES} bytes as JSON"),
        ));
    }
    Ok(text)
}

fn check_target(kind: ConnectionKind, target: &Value) -> Result<String, CommandError> {
    let text = flat_object("target", target)?;
    let members: Map<String, Value> = target.as_object().cloned().unwrap_or_default();
    if let Some(missing) = required_target(kind)
        .iter()
        .find(|name| !members.contains_key(**name))
    {
        return Err(CommandError::invalid(
            "target",
            format!("a {kind} connection needs target.{missing}"),
        ));
    }
    if let Some(port) = members.get("port") {
        let valid = port
            .as_u64()
            .is_some_and(|port| (1..=65_535).contains(&port));
        if !valid {
            return Err(CommandError::invalid(
                "target",
                "target.port must be a number from 1 to 65535",
            ));
        }
    }
    Ok(text)
}

/// A connection as the API shows it (never its credentials).
pub fn connection_body(views: &Views, entry: &CatalogEntry) -> ConnectionBody {
    let record = views.connections.get(&entry.id);
    ConnectionBody {
        id: entry.id,
        org_id: entry.org_id,
        owner_id: entry.owner_id.unwrap_or_default(),
        name: entry.name.clone(),
        kind: record
            .map(|record| record.kind.as_str())
            .unwrap_or_default()
            .to_string(),
        target: record
            .and_then(|record| serde_json::from_str(&record.target).ok())
            .unwrap_or(Value::Null),
        created_at: rfc3339_micros(entry.created_at),
        updated_at: rfc3339_micros(entry.updated_at),
    }
}

/// `POST /api/v1/connections`.
pub async fn create_connection(
    app: &App,
    principal: &Principal,
    request: CreateConnectionRequest,
    origin: &Origin,
) -> Result<ConnectionBody, CommandError> {
    let name = check_catalog_name(&request.name)?;
    let kind = parse_named(
        "kind",
        &request.kind,
        ConnectionKind::ALL,
        ConnectionKind::as_str,
    )?;
    let target = check_target(kind, &request.target)?;
    let credentials = flat_object("credentials", &request.credentials)?;
    let connection_id = app.new_id();
    let owner = principal.user_id;
    let sealed = app
        .vault()
        .seal(owner, credentials.as_bytes(), app.entropy());
    let fingerprint = app.value_fingerprint(credentials.as_bytes());
    app.execute(|views| {
        let org_id = may_create_owned(views, principal, ResourceKind::Connection, &name)?;
        Ok::<_, CommandError>(vec![principal.event(
            Action::ConnectionCreated,
            connection_ref(connection_id),
            org_id,
            origin,
            EventPayload::ConnectionCreated(ConnectionCreated {
                connection_id,
                org_id,
                owner_id: owner,
                name: name.clone(),
                kind,
                target: target.clone(),
                credentials: sealed.clone(),
                fingerprint,
            }),
        )])
    })
    .await?;
    get_connection(app, principal, connection_id)
}

/// `GET /api/v1/connections`.
pub fn list_connections(
    app: &App,
    principal: &Principal,
    after: Option<Uuid>,
    limit: usize,
) -> (Vec<ConnectionBody>, Option<Uuid>) {
    list_kind(
        app,
        principal,
        ResourceKind::Connection,
        after,
        limit,
        connection_body,
    )
}

/// `GET /api/v1/connections/{id}`.
pub fn get_connection(
    app: &App,
    principal: &Principal,
    id: Uuid,
) -> Result<ConnectionBody, CommandError> {
    let views = app.views();
    let entry = require(
        &views,
        principal,
        AccessAction::Read,
        ResourceKind::Connection,
        id,
    )?;
    Ok(connection_body(&views, entry))
}

/// `PATCH /api/v1/connections/{id}`.
pub async fn update_connection(
    app: &App,
    principal: &Principal,
    id: Uuid,
    request: UpdateConnectionRequest,
    origin: &Origin,
) -> Result<ConnectionBody, CommandError> {
    let name = request
        .name
        .as_deref()
        .map(check_catalog_name)
        .transpose()?;
    let credentials = request
        .credentials
        .as_ref()
        .map(|value| flat_object("credentials", value))
        .transpose()?;
    app.execute(|views| {
        let entry = require(views, principal, AccessAction::Edit, ResourceKind::Connection, id)?;
        let record = views
            .connections
            .get(&id)
            .ok_or_else(|| CommandError::Internal("a connection without a record".into()))?;
        let target = match &request.target {
            Some(target) => check_target(record.kind, target)?,
            None => record.target.clone(),
        };
        let moved = serde_json::from_str::<Value>(&target).ok()
            != serde_json::from_str::<Value>(&record.target).ok();
        let owner = entry.owner_id.unwrap_or(principal.user_id);
        if moved && credentials.is_none() && owner != principal.user_id {
            return Err(CommandError::invalid(
                "credentials",
                "changing a connection's target (host, port, endpoint, protocol) requires re-entering its credentials unless you own it",
            ));
        }
        let name = name.clone().unwrap_or_else(|| entry.name.clone());
        if name != entry.name
            && views
                .catalog
                .by_name(entry.org_id, Some(owner), ResourceKind::Connection, &name)
                .is_some()
        {
            return Err(CommandError::Conflict(
                "the owner already has a connection with that name".into(),
            ));
        }
        let sealed = credentials.as_ref().map(|credentials| {
            (
                app.vault().seal(owner, credentials.as_bytes(), app.entropy()),
                app.value_fingerprint(credentials.as_bytes()),
            )
        });
        Ok::<_, CommandError>(vec![principal.event(
            Action::ConnectionUpdated,
            connection_ref(id),
            entry.org_id,
            origin,
            EventPayload::ConnectionUpdated(ConnectionUpdated {
                connection_id: id,
                name,
                target,
                credentials: sealed.as_ref().map(|(value, _)| value.clone()),
                fingerprint: sealed.as_ref().map(|(_, fingerprint)| *fingerprint),
            }),
        )])
    })
    .await?;
    get_connection(app, principal, id)
}

/// `DELETE /api/v1/connections/{id}`.
pub async fn delete_connection(
    app: &App,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    let kind = ResourceKind::Connection;
    let action = Action::ConnectionDeleted;
    act_on(
        app,
        principal,
        AccessAction::Delete,
        kind,
        id,
        action,
        origin,
        |_, _| Ok(EventPayload::ConnectionDeleted(SecretRef { secret_id: id })),
    )
    .await
}
