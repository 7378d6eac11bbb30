//! Secrets: values sealed under their owner's key the moment they arrive,
//! listed by name and metadata only, rotated to new versions, revealed to
//! their owner alone (and audited), and shared at `use` only: grantees
//! resolve them in runs but no endpoint ever returns a value to them.

use cairn_audit::time_format::rfc3339_micros;
use cairn_projections::Views;
use cairn_projections::sharing::CatalogEntry;
use cairn_schemas::api::{
    CreateSecretRequest, RevealedSecretBody, RotateSecretRequest, SecretBody,
};
use cairn_schemas::{
    AccessAction, Action, EventPayload, ResourceKind, ResourceRef, SecretCreated, SecretRef,
    SecretRevealed, SecretRotated,
};
use uuid::Uuid;

use super::access::{act_on, may_create_owned, require};
use super::namespaces::list_kind;
use super::principal::Principal;
use super::{App, CommandError, Origin};

/// The largest secret value, in bytes.
pub const MAX_SECRET_BYTES: usize = 16 * 1024;
/// The longest secret name.
pub const MAX_SECRET_NAME_CHARS: usize = 128;

fn secret_ref(id: Uuid) -> ResourceRef {
    ResourceRef {
        kind: ResourceKind::Secret,
        id: Some(id),
    }
}

/// A secret name is what `$secret.NAME` refers to: letters, digits and
/// underscores, not starting with a digit.
pub fn check_secret_name(name: &str) -> Result<String, CommandError> {
    let valid = (1..=MAX_SECRET_NAME_CHARS).contains(&name.len())
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(name.to_string())
    } else {
        Err(CommandError::invalid(
            "name",
            format!(
                "must be 1 to {MAX_SECRET_NAME_CHARS} letters, digits or underscores, not starting with a digit (flows refer to it as $secret.NAME)"
            ),
        ))
    }
}

fn check_value(value: &str) -> Result<(), CommandError> {
    if value.is_empty() || value.len() > MAX_SECRET_BYTES {
        return Err(CommandError::invalid(
            "value",
            format!("must be 1 to {MAX_SECRET_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// A secret's metadata as the API shows it (never its value).
pub fn secret_body(views: &Views, entry: &CatalogEntry) -> SecretBody {
    SecretBody {
        id: entry.id,
        org_id: entry.org_id,
        owner_id: entry.owner_id.unwrap_or_default(),
        name: entry.name.clone(),
        version: views
            .secrets
            .get(&entry.id)
            .map(|record| record.current.version)
            .unwrap_or(1),
        created_at: rfc3339_micros(entry.created_at),
        updated_at: rfc3339_micros(entry.updated_at),
    }
}

/// `POST /api/v1/secrets`: owned by the caller, sealed under their key.
pub async fn create_secret(
    app: &App,
    principal: &Principal,
    request: CreateSecretRequest,
    origin: &Origin,
) -> Result<SecretBody, CommandError> {
    let name = check_secret_name(&request.name)?;
    let value = request.value.expose();
    check_value(value)?;
    let secret_id = app.new_id();
    let owner = principal.user_id;
    let sealed = app.vault().seal(owner, value.as_bytes(), app.entropy());
    let fingerprint = app.value_fingerprint(value.as_bytes());
    app.execute(|views| {
        let org_id = may_create_owned(views, principal, ResourceKind::Secret, &name)?;
        Ok::<_, CommandError>(vec![principal.event(
            Action::SecretCreated,
            secret_ref(secret_id),
            org_id,
            origin,
            EventPayload::SecretCreated(SecretCreated {
                secret_id,
                org_id,
                owner_id: owner,
                name: name.clone(),
                value: sealed.clone(),
                fingerprint,
            }),
        )])
    })
    .await?;
    get_secret(app, principal, secret_id)
}

/// `GET /api/v1/secrets`: names and metadata of what the caller may read.
pub fn list_secrets(
    app: &App,
    principal: &Principal,
    after: Option<Uuid>,
    limit: usize,
) -> (Vec<SecretBody>, Option<Uuid>) {
    list_kind(
        app,
        principal,
        ResourceKind::Secret,
        after,
        limit,
        secret_body,
    )
}

/// `GET /api/v1/secrets/{id}`: metadata only.
pub fn get_secret(app: &App, principal: &Principal, id: Uuid) -> Result<SecretBody, CommandError> {
    let views = app.views();
    let entry = require(
        &views,
        principal,
        AccessAction::Read,
        ResourceKind::Secret,
        id,
    )?;
    Ok(secret_body(&views, entry))
}

/// `PUT /api/v1/secrets/{id}`: a new version, sealed for the secret's
/// owner; the previous ciphertext is superseded.
pub async fn rotate_secret(
    app: &App,
    principal: &Principal,
    id: Uuid,
    request: RotateSecretRequest,
    origin: &Origin,
) -> Result<SecretBody, CommandError> {
    let value = request.value.expose();
    check_value(value)?;
    let fingerprint = app.value_fingerprint(value.as_bytes());
    let kind = ResourceKind::Secret;
    let action = Action::SecretRotated;
    act_on(
        app,
        principal,
        AccessAction::Edit,
        kind,
        id,
        action,
        origin,
        |views, entry| {
            let owner = entry.owner_id.unwrap_or(principal.user_id);
            let version = views
                .secrets
                .get(&id)
                .map(|record| record.current.version + 1)
                .unwrap_or(1);
            Ok(EventPayload::SecretRotated(SecretRotated {
                secret_id: id,
                version,
                value: app.vault().seal(owner, value.as_bytes(), app.entropy()),
                fingerprint,
            }))
        },
    )
    .await?;
    get_secret(app, principal, id)
}

/// `DELETE /api/v1/secrets/{id}`: its grants end with it.
pub async fn delete_secret(
    app: &App,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    let kind = ResourceKind::Secret;
    act_on(
        app,
        principal,
        AccessAction::Delete,
        kind,
        id,
        Action::SecretDeleted,
        origin,
        |_, _| Ok(EventPayload::SecretDeleted(SecretRef { secret_id: id })),
    )
    .await
}

/// `POST /api/v1/secrets/{id}/reveal`: the owner's alone; recorded as
/// `secret.revealed` before the value is returned.
pub async fn reveal_secret(
    app: &App,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<RevealedSecretBody, CommandError> {
    let mut sealed = None;
    app.execute(|views| {
        // Whoever reset the caller's password knows it: no plaintext until
        // the caller has chosen their own.
        principal.require_own_password(views)?;
        let entry = require(
            views,
            principal,
            AccessAction::Reveal,
            ResourceKind::Secret,
            id,
        )?;
        let record = views
            .secrets
            .get(&id)
            .ok_or_else(|| CommandError::Internal("a secret without a value".into()))?;
        sealed = Some((record.current.version, record.current.value.clone()));
        Ok::<_, CommandError>(vec![principal.event(
            Action::SecretRevealed,
            secret_ref(id),
            entry.org_id,
            origin,
            EventPayload::SecretRevealed(SecretRevealed {
                secret_id: id,
                version: record.current.version,
            }),
        )])
    })
    .await?;
    let (version, sealed) =
        sealed.ok_or_else(|| CommandError::Internal("nothing was revealed".into()))?;
    let plaintext = app.vault().open(&sealed)?;
    let value = String::from_utf8(plaintext.to_vec())
        .map_err(|_| CommandError::Internal("a secret value is not UTF-8".into()))?;
    Ok(RevealedSecretBody { id, version, value })
}
