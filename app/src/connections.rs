//! Connections: a target (where: host, port, endpoint, protocol) and
//! credentials (sealed like a secret value, never returned). Shareable
//! like secrets; someone other than the owner who points a connection
//! somewhere else must bring new credentials, so that a `manage` grantee
//! cannot send the owner's credentials to a host of their choosing.

use cairn_core::time_format::rfc3339_micros;
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
        .ok_or_else(|| CommandError::internal("a connection without a record"))?;
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
    let act = ActOn::delete(
        principal,
        (ResourceKind::Connection, id),
        Action::ConnectionDeleted,
        origin,
    );
    decide_act_on(views, &act, |_, _| {
        Ok(EventPayload::ConnectionDeleted(SecretRef { secret_id: id }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::catalog_facts::cast::*;
    use crate::testing::catalog_facts::connection;
    use crate::testing::{Given, id, payload_of};
    use serde_json::json;

    fn origin() -> Origin {
        Origin::local("t")
    }

    fn sealed(owner: u128) -> SealedValue {
        SealedValue {
            owner: id(owner),
            value: format!("$cairn$1${}$new", id(owner)),
            fingerprint: [7; 32],
        }
    }

    fn request(
        name: &str,
        kind: &str,
        target: Value,
        credentials: Value,
    ) -> CreateConnectionRequest {
        CreateConnectionRequest {
            name: name.into(),
            kind: kind.into(),
            target,
            credentials,
        }
    }

    fn good() -> CreateConnectionRequest {
        request(
            "warehouse",
            "postgres",
            json!({"host": "db.example", "database": "dw", "port": 5432}),
            json!({"user": "etl", "password": "pw"}),
        )
    }

    fn create(
        given: &Given,
        principal: &Principal,
        ask: &CreateConnectionRequest,
    ) -> crate::testing::Then<Uuid> {
        let owner = principal.user_id.as_u128() & 0xffff;
        given.when(|views, ids| {
            let (connection, _credentials) = check_new(ask)?;
            decide_create(
                views,
                ids,
                principal,
                &connection,
                &sealed(owner),
                &origin(),
            )
        })
    }

    #[test]
    fn given_an_integration_manager_when_creating_then_they_own_it_with_its_target() {
        let given = given();
        let ivy = session(&given, IVY, ORG);
        let decided = create(&given, &ivy, &good()).decided();
        let EventPayload::ConnectionCreated(created) =
            payload_of(&decided, Action::ConnectionCreated)
        else {
            panic!("not a connection");
        };
        assert_eq!(
            (
                created.connection_id,
                created.org_id,
                created.owner_id,
                created.kind
            ),
            (decided.reply, id(ORG), id(IVY), ConnectionKind::Postgres)
        );
        assert_eq!(
            serde_json::from_str::<Value>(&created.target).expect("json"),
            json!({"host": "db.example", "database": "dw", "port": 5432})
        );
        assert_eq!(created.credentials, sealed(IVY).value);
        let (_, credentials) = check_new(&good()).expect("valid");
        assert_eq!(
            serde_json::from_str::<Value>(&credentials).expect("json"),
            json!({"user": "etl", "password": "pw"})
        );
    }

    #[test]
    fn given_each_bad_field_when_creating_then_422_names_it() {
        let big = "x".repeat(MAX_CONNECTION_JSON_BYTES);
        let cases = [
            (
                request("a/b", "http", json!({"url": "u"}), json!({"k": "v"})),
                "name",
            ),
            (
                request("c", "ftp", json!({"url": "u"}), json!({"k": "v"})),
                "kind",
            ),
            (
                request("c", "http", json!("u"), json!({"k": "v"})),
                "target",
            ),
            (request("c", "http", json!({}), json!({"k": "v"})), "target"),
            (
                request("c", "http", json!({"host": "h"}), json!({"k": "v"})),
                "target",
            ),
            (
                request("c", "postgres", json!({"host": "h"}), json!({"k": "v"})),
                "target",
            ),
            (
                request("c", "s3", json!({"endpoint": "e"}), json!({"k": "v"})),
                "target",
            ),
            (
                request(
                    "c",
                    "smtp",
                    json!({"host": "h", "port": 0}),
                    json!({"k": "v"}),
                ),
                "target",
            ),
            (
                request(
                    "c",
                    "smtp",
                    json!({"host": "h", "port": 65536}),
                    json!({"k": "v"}),
                ),
                "target",
            ),
            (
                request(
                    "c",
                    "smtp",
                    json!({"host": "h", "port": "25"}),
                    json!({"k": "v"}),
                ),
                "target",
            ),
            (
                request(
                    "c",
                    "http",
                    json!({"url": {"nested": 1}}),
                    json!({"k": "v"}),
                ),
                "target",
            ),
            (
                request("c", "http", json!({"url": big}), json!({"k": "v"})),
                "target",
            ),
            (
                request("c", "http", json!({"url": "u"}), json!([1])),
                "credentials",
            ),
            (
                request("c", "http", json!({"url": "u"}), json!({})),
                "credentials",
            ),
            (
                request("c", "http", json!({"url": "u"}), json!({"k": null})),
                "credentials",
            ),
        ];
        for (ask, field) in cases {
            let refused = check_new(&ask).expect_err("refused");
            assert!(
                matches!(refused, CommandError::Invalid { field: named, .. } if named == field),
                "{field}: {refused:?} for {ask:?}"
            );
        }
        for kind in ["smtp", "http", "s3"] {
            let target = match kind {
                "smtp" => json!({"host": "h", "port": 25}),
                "http" => json!({"url": "https://x"}),
                _ => json!({"endpoint": "e", "bucket": "b"}),
            };
            assert!(
                check_new(&request("c", kind, target, json!({"k": true}))).is_ok(),
                "{kind}"
            );
        }
    }

    #[test]
    fn given_each_refusal_when_creating_then_it_is_named() {
        let given = given();
        let ivy = session(&given, IVY, ORG);
        let mut taken = good();
        taken.name = "billing".into();
        assert_eq!(kind_of(&create(&given, &ivy, &taken).refused()), "409");
        // Another member may use the same name
        let edna = session(&given, EDNA, ORG);
        assert_eq!(
            create(&given, &edna, &taken).actions(),
            vec![Action::ConnectionCreated]
        );
        for user in [VIC, XAVIER, MIA, DAN] {
            let caller = session(&given, user, ORG);
            assert_eq!(
                kind_of(&create(&given, &caller, &good()).refused()),
                "403",
                "{user}"
            );
        }
        // Credentials sealed for someone else are not taken
        let refused = given
            .when(|views, ids| {
                let (connection, _) = check_new(&good())?;
                decide_create(views, ids, &ivy, &connection, &sealed(EDNA), &origin())
            })
            .refused();
        assert_eq!(kind_of(&refused), "409");
    }

    fn update(
        given: &Given,
        principal: &Principal,
        conn: u128,
        change: &ConnectionChange,
    ) -> crate::testing::Then<()> {
        given.when(|views, _| decide_update(views, principal, id(conn), change, &origin()))
    }

    fn updated(decided: &Decided<()>) -> ConnectionUpdated {
        match payload_of(decided, Action::ConnectionUpdated) {
            EventPayload::ConnectionUpdated(updated) => updated.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn given_the_owner_when_pointing_it_elsewhere_then_their_credentials_may_stay() {
        let given = given();
        let ivy = session(&given, IVY, ORG);
        let change = ConnectionChange {
            target: Some(json!({"url": "https://elsewhere.example"})),
            ..ConnectionChange::default()
        };
        let decided = updated(&update(&given, &ivy, CONN, &change).decided());
        assert_eq!(decided.name, "billing");
        assert_eq!(decided.credentials, None);
        assert_eq!(
            serde_json::from_str::<Value>(&decided.target).expect("json"),
            json!({"url": "https://elsewhere.example"})
        );
    }

    #[test]
    fn given_a_manage_grantee_when_pointing_it_elsewhere_then_they_must_bring_credentials() {
        let given = given();
        let edna = session(&given, EDNA, ORG);
        let mut change = ConnectionChange {
            target: Some(json!({"url": "https://attacker.example"})),
            ..ConnectionChange::default()
        };
        assert_eq!(
            kind_of(&update(&given, &edna, CONN, &change).refused()),
            "422 credentials"
        );
        // The same target written differently is not a move
        let same = ConnectionChange {
            target: Some(json!({"url": "https://billing.example"})),
            name: Some("billing2".into()),
            ..ConnectionChange::default()
        };
        assert_eq!(
            updated(&update(&given, &edna, CONN, &same).decided()).name,
            "billing2"
        );
        // With new credentials (sealed for the owner, Ivy) it goes ahead
        change.credentials = Some(sealed(IVY));
        let decided = updated(&update(&given, &edna, CONN, &change).decided());
        assert_eq!(decided.credentials, Some(sealed(IVY).value));
        assert_eq!(decided.fingerprint, Some(sealed(IVY).fingerprint));
        // Sealed for the grantee instead: refused
        change.credentials = Some(sealed(EDNA));
        assert_eq!(
            kind_of(&update(&given, &edna, CONN, &change).refused()),
            "409"
        );
    }

    #[test]
    fn given_each_refusal_when_updating_then_it_is_named() {
        let given = given().events([connection(
            id(0x141),
            id(ORG),
            id(IVY),
            "payroll",
            "https://payroll.example",
        )]);
        let ivy = session(&given, IVY, ORG);
        let vic = session(&given, VIC, ORG);
        let eve = session(&given, EVE, OTHER);
        let rename = ConnectionChange {
            name: Some("payroll".into()),
            ..ConnectionChange::default()
        };
        let bad_target = ConnectionChange {
            target: Some(json!({"host": "h"})),
            ..ConnectionChange::default()
        };
        for (caller, conn, change, expected) in [
            (&ivy, CONN, &rename, "409"),
            (&ivy, CONN, &bad_target, "422 target"),
            (&vic, CONN, &rename, "404"),
            (&eve, CONN, &rename, "404"),
            (&ivy, 0x999, &rename, "404"),
        ] {
            assert_eq!(
                kind_of(&update(&given, caller, conn, change).refused()),
                expected,
                "{conn} {change:?}"
            );
        }
        // Keeping its own name is no conflict
        let same = ConnectionChange {
            name: Some("billing".into()),
            ..ConnectionChange::default()
        };
        assert_eq!(
            update(&given, &ivy, CONN, &same).actions(),
            vec![Action::ConnectionUpdated]
        );
    }

    #[test]
    fn given_each_caller_when_deleting_then_only_manage_rights_may() {
        let given = given();
        let delete = |caller: &Principal, conn: u128| {
            given.when(|views, _| decide_delete(views, caller, id(conn), &origin()))
        };
        let ivy = session(&given, IVY, ORG);
        let edna = session(&given, EDNA, ORG);
        let vic = session(&given, VIC, ORG);
        let eve = session(&given, EVE, OTHER);
        assert_eq!(
            delete(&ivy, CONN).actions(),
            vec![Action::ConnectionDeleted]
        );
        assert_eq!(
            delete(&edna, CONN).actions(),
            vec![Action::ConnectionDeleted]
        );
        assert_eq!(kind_of(&delete(&vic, CONN).refused()), "404");
        assert_eq!(kind_of(&delete(&eve, CONN).refused()), "404");
    }

    /// The catalog commands end to end through a real App: sealing before
    /// the decision, the reply read back from the durable state.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn given_a_fresh_server_when_the_catalog_commands_run_in_turn_then_each_reply_matches_the_state()
     {
        use crate::principal::Credential;
        use crate::{bootstrap, flows, namespaces, secrets};
        use cairn_schemas::api::{
            CreateFlowRequest, CreateNamespaceRequest, CreateSecretRequest, RotateSecretRequest,
            UpdateFlowRequest, UpdateNamespaceRequest,
        };
        use cairn_schemas::{OrgRole, Password};
        let dir = tempfile::tempdir().expect("a temp dir");
        let app = crate::testing::identity_facts::start_app(dir.path());
        let origin = Origin::local("t");
        let user_id = bootstrap::create_superuser(
            &app,
            "ursula",
            &Password::new("correct horse battery staple 1"),
            false,
            &origin,
        )
        .await
        .expect("bootstrapped")
        .expect("created");
        let org_id = app
            .views()
            .orgs
            .memberships_of(&user_id)
            .next()
            .map(|(org, _)| *org)
            .expect("org");
        let me = Principal {
            user_id,
            org_id,
            role: OrgRole::Admin,
            is_superuser: true,
            credential: Credential::Session(Uuid::from_u128(1)),
        };
        let ns = namespaces::create_namespace(
            &app,
            &me,
            CreateNamespaceRequest {
                name: "Team".into(),
                parent_id: None,
            },
            &origin,
        )
        .await
        .expect("namespace");
        let renamed = namespaces::update_namespace(
            &app,
            &me,
            ns.id,
            UpdateNamespaceRequest {
                name: "Squad".into(),
            },
            &origin,
        )
        .await
        .expect("renamed");
        assert_eq!(renamed.name, "Squad");
        // General and default come with the org
        assert_eq!(namespaces::list_namespaces(&app, &me, None, 10).0.len(), 3);
        let definition = json!({"steps": [{"type": "log", "message": "hi"}]});
        let flow = flows::create_flow(
            &app,
            &me,
            CreateFlowRequest {
                name: "nightly".into(),
                namespace_id: ns.id,
                definition: definition.clone(),
            },
            &origin,
        )
        .await
        .expect("flow");
        assert_eq!(flow.definition, definition);
        let moved = flows::update_flow(
            &app,
            &me,
            flow.id,
            UpdateFlowRequest {
                name: "hourly".into(),
                namespace_id: ns.id,
                definition: json!({"steps": [{"type": "log", "message": "bye"}]}),
            },
            &origin,
        )
        .await
        .expect("updated");
        assert_eq!(moved.name, "hourly");
        assert_eq!(flows::list_flows(&app, &me, None, 10).0.len(), 1);
        assert!(matches!(
            namespaces::delete_namespace(&app, &me, ns.id, &origin).await,
            Err(CommandError::Conflict(_))
        ));
        flows::delete_flow(&app, &me, flow.id, &origin)
            .await
            .expect("flow deleted");
        namespaces::delete_namespace(&app, &me, ns.id, &origin)
            .await
            .expect("namespace deleted");
        // A secret: sealed, rotated, revealed to its owner, deleted
        let secret = secrets::create_secret(
            &app,
            &me,
            CreateSecretRequest {
                name: "API_TOKEN".into(),
                value: Password::new("s3cret-value"),
            },
            &origin,
        )
        .await
        .expect("secret");
        let rotated = secrets::rotate_secret(
            &app,
            &me,
            secret.id,
            RotateSecretRequest {
                value: Password::new("second-value"),
            },
            &origin,
        )
        .await
        .expect("rotated");
        assert_eq!(rotated.version, 2);
        let revealed = secrets::reveal_secret(&app, &me, secret.id, &origin)
            .await
            .expect("revealed");
        assert_eq!(
            (revealed.version, revealed.value.as_str()),
            (2, "second-value")
        );
        assert_eq!(secrets::list_secrets(&app, &me, None, 10).0.len(), 1);
        secrets::delete_secret(&app, &me, secret.id, &origin)
            .await
            .expect("secret deleted");
        // A connection: created, pointed elsewhere with new credentials, deleted
        let connection = create_connection(&app, &me, good(), &origin)
            .await
            .expect("connection");
        assert_eq!(connection.kind, "postgres");
        let updated = update_connection(
            &app,
            &me,
            connection.id,
            UpdateConnectionRequest {
                name: Some("dw".into()),
                target: Some(json!({"host": "other.example", "database": "dw"})),
                credentials: Some(json!({"user": "etl", "password": "new"})),
            },
            &origin,
        )
        .await
        .expect("updated");
        assert_eq!(updated.name, "dw");
        assert_eq!(list_connections(&app, &me, None, 10).0.len(), 1);
        let sealed = app
            .views()
            .connections
            .get(&connection.id)
            .map(|record| record.credentials.clone())
            .expect("record");
        let opened = app.vault().open(&sealed).expect("opens");
        assert_eq!(
            serde_json::from_slice::<Value>(&opened).expect("json"),
            json!({"user": "etl", "password": "new"})
        );
        delete_connection(&app, &me, connection.id, &origin)
            .await
            .expect("connection deleted");
    }
}
