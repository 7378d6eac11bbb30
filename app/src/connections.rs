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

use super::access::{ActOn, decide_act_on, may_create_owned, require};
use super::listing::parse_named;
use super::namespaces::{check_catalog_name, list_kind};
use super::principal::Principal;
use super::secrets::{SealedValue, owner_of, require_sealed_for, seal_for};
use super::{App, CommandError, Decided, Origin};
use cairn_core::IdSource;

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

/// A new connection, checked before any decision: its name, kind and
/// target (the credentials are checked and sealed apart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewConnection {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: ConnectionKind,
    /// The target, as stored (JSON text).
    pub target: String,
}

/// Checks a new connection's name, kind, target and credentials; the
/// credentials come back as JSON text, to be sealed.
pub fn check_new(
    request: &CreateConnectionRequest,
) -> Result<(NewConnection, String), CommandError> {
    let name = check_catalog_name(&request.name)?;
    let kind = parse_named(
        "kind",
        &request.kind,
        ConnectionKind::ALL,
        ConnectionKind::as_str,
    )?;
    let target = check_target(kind, &request.target)?;
    let credentials = flat_object("credentials", &request.credentials)?;
    Ok((NewConnection { name, kind, target }, credentials))
}

/// `POST /api/v1/connections`.
pub async fn create_connection(
    app: &App,
    principal: &Principal,
    request: CreateConnectionRequest,
    origin: &Origin,
) -> Result<ConnectionBody, CommandError> {
    let (connection, credentials) = check_new(&request)?;
    let sealed = seal_for(app, principal.user_id, credentials.as_bytes());
    let connection_id = app
        .decide(|views, ids| decide_create(views, ids, principal, &connection, &sealed, origin))
        .await?;
    get_connection(app, principal, connection_id)
}

/// Whether `principal` may create `connection` with credentials `sealed`
/// (sealed for them): their role must allow it and the name be free among
/// their own connections. The `connection.created` event and the new id.
pub fn decide_create(
    views: &Views,
    ids: &IdSource,
    principal: &Principal,
    connection: &NewConnection,
    sealed: &SealedValue,
    origin: &Origin,
) -> Result<Decided<Uuid>, CommandError> {
    let org_id = may_create_owned(views, principal, ResourceKind::Connection, &connection.name)?;
    if sealed.owner != principal.user_id {
        return Err(CommandError::Conflict(
            "a new connection's credentials are sealed for its creator".into(),
        ));
    }
    let connection_id = ids.new_id();
    let event = principal.event(
        Action::ConnectionCreated,
        connection_ref(connection_id),
        org_id,
        origin,
        EventPayload::ConnectionCreated(ConnectionCreated {
            connection_id,
            org_id,
            owner_id: principal.user_id,
            name: connection.name.clone(),
            kind: connection.kind,
            target: connection.target.clone(),
            credentials: sealed.value.clone(),
            fingerprint: sealed.fingerprint,
        }),
    );
    Ok(Decided::new(vec![event], connection_id))
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

/// A connection's update, its fields checked before the decision (the
/// target is checked in it, against the connection's kind).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionChange {
    /// A new name.
    pub name: Option<String>,
    /// A new target, as sent.
    pub target: Option<Value>,
    /// New credentials, sealed for the connection's owner.
    pub credentials: Option<SealedValue>,
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
    let credentials = credentials.map(|credentials| {
        let owner = owner_of(app, ResourceKind::Connection, id, principal);
        seal_for(app, owner, credentials.as_bytes())
    });
    let change = ConnectionChange {
        name,
        target: request.target,
        credentials,
    };
    app.decide(|views, _| decide_update(views, principal, id, &change, origin))
        .await?;
    get_connection(app, principal, id)
}

/// Whether `principal` may make `change` to connection `id`. Someone other
/// than the owner who points it somewhere else must bring new credentials;
/// a new name must be free among the owner's connections.
pub fn decide_update(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    change: &ConnectionChange,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    let entry = require(
        views,
        principal,
        AccessAction::Edit,
        ResourceKind::Connection,
        id,
    )?;
    let record = views
        .connections
        .get(&id)
        .ok_or_else(|| CommandError::Internal("a connection without a record".into()))?;
    let target = match &change.target {
        Some(target) => check_target(record.kind, target)?,
        None => record.target.clone(),
    };
    let moved = serde_json::from_str::<Value>(&target).ok()
        != serde_json::from_str::<Value>(&record.target).ok();
    let owner = entry.owner_id.unwrap_or(principal.user_id);
    if moved && change.credentials.is_none() && owner != principal.user_id {
        return Err(CommandError::invalid(
            "credentials",
            "changing a connection's target (host, port, endpoint, protocol) requires re-entering its credentials unless you own it",
        ));
    }
    if let Some(sealed) = &change.credentials {
        require_sealed_for(entry, principal, sealed)?;
    }
    let name = change.name.clone().unwrap_or_else(|| entry.name.clone());
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
    let event = principal.event(
        Action::ConnectionUpdated,
        connection_ref(id),
        entry.org_id,
        origin,
        EventPayload::ConnectionUpdated(ConnectionUpdated {
            connection_id: id,
            name,
            target,
            credentials: change
                .credentials
                .as_ref()
                .map(|sealed| sealed.value.clone()),
            fingerprint: change.credentials.as_ref().map(|sealed| sealed.fingerprint),
        }),
    );
    Ok(Decided::new(vec![event], ()))
}

/// `DELETE /api/v1/connections/{id}`.
pub async fn delete_connection(
    app: &App,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    app.decide(|views, _| decide_delete(views, principal, id, origin))
        .await
}

/// Whether `principal` may delete connection `id`.
pub fn decide_delete(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    let act = ActOn {
        principal,
        action: AccessAction::Delete,
        kind: ResourceKind::Connection,
        id,
        event: Action::ConnectionDeleted,
        origin,
    };
    decide_act_on(views, &act, |_, _| {
        Ok(EventPayload::ConnectionDeleted(SecretRef { secret_id: id }))
    })
}
