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

use super::access::{ActOn, decide_act_on, may_create_owned, require};
use super::namespaces::list_kind;
use super::principal::Principal;
use super::{App, CommandError, Decided, Origin};
use cairn_core::IdSource;

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

/// A value sealed for its owner, with its fingerprint under the audit
/// key: the costly part of a write, done before the decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedValue {
    /// Whom it is sealed for.
    pub owner: Uuid,
    /// The stored form (`$cairn$1$<owner_id>$…`).
    pub value: String,
    /// HMAC of the plaintext under the audit key.
    pub fingerprint: [u8; 32],
}

/// Seals `plaintext` for `owner`.
pub(crate) fn seal_for(app: &App, owner: Uuid, plaintext: &[u8]) -> SealedValue {
    SealedValue {
        owner,
        value: app.vault().seal(owner, plaintext, app.entropy()),
        fingerprint: app.value_fingerprint(plaintext),
    }
}

/// The owner an existing secret or connection's new value is sealed for
/// (the caller when there is none to see: the decision refuses then).
pub(crate) fn owner_of(app: &App, kind: ResourceKind, id: Uuid, principal: &Principal) -> Uuid {
    app.views()
        .catalog
        .get_kind(kind, &id)
        .and_then(|entry| entry.owner_id)
        .unwrap_or(principal.user_id)
}

/// Refuses a value sealed for someone other than the resource's owner
/// (owners never change, so this only guards the sealing's assumption).
pub(crate) fn require_sealed_for(
    entry: &CatalogEntry,
    principal: &Principal,
    sealed: &SealedValue,
) -> Result<Uuid, CommandError> {
    let owner = entry.owner_id.unwrap_or(principal.user_id);
    if owner == sealed.owner {
        Ok(owner)
    } else {
        Err(CommandError::Conflict(format!(
            "the {} changed owner while its value was sealed; try again",
            entry.kind
        )))
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
    let sealed = seal_for(app, principal.user_id, value.as_bytes());
    let secret_id = app
        .decide(|views, ids| decide_create(views, ids, principal, &name, &sealed, origin))
        .await?;
    get_secret(app, principal, secret_id)
}

/// Whether `principal` may create a secret named `name` (already checked
/// by [`check_secret_name`]) holding `sealed` (sealed for them): their
/// role must allow it and the name be free among their own secrets.
pub fn decide_create(
    views: &Views,
    ids: &IdSource,
    principal: &Principal,
    name: &str,
    sealed: &SealedValue,
    origin: &Origin,
) -> Result<Decided<Uuid>, CommandError> {
    let org_id = may_create_owned(views, principal, ResourceKind::Secret, name)?;
    if sealed.owner != principal.user_id {
        return Err(CommandError::Conflict(
            "a new secret's value is sealed for its creator".into(),
        ));
    }
    let secret_id = ids.new_id();
    let event = principal.event(
        Action::SecretCreated,
        secret_ref(secret_id),
        org_id,
        origin,
        EventPayload::SecretCreated(SecretCreated {
            secret_id,
            org_id,
            owner_id: principal.user_id,
            name: name.to_string(),
            value: sealed.value.clone(),
            fingerprint: sealed.fingerprint,
        }),
    );
    Ok(Decided::new(vec![event], secret_id))
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
    let owner = owner_of(app, ResourceKind::Secret, id, principal);
    let sealed = seal_for(app, owner, value.as_bytes());
    app.decide(|views, _| decide_rotate(views, principal, id, &sealed, origin))
        .await?;
    get_secret(app, principal, id)
}

/// Whether `principal` may rotate secret `id` to `sealed` (sealed for the
/// secret's owner): the next version.
pub fn decide_rotate(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    sealed: &SealedValue,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    let act = ActOn {
        principal,
        action: AccessAction::Edit,
        kind: ResourceKind::Secret,
        id,
        event: Action::SecretRotated,
        origin,
    };
    decide_act_on(views, &act, |views, entry| {
        require_sealed_for(entry, principal, sealed)?;
        let version = views
            .secrets
            .get(&id)
            .map(|record| record.current.version + 1)
            .unwrap_or(1);
        Ok(EventPayload::SecretRotated(SecretRotated {
            secret_id: id,
            version,
            value: sealed.value.clone(),
            fingerprint: sealed.fingerprint,
        }))
    })
}

/// `DELETE /api/v1/secrets/{id}`: its grants end with it.
pub async fn delete_secret(
    app: &App,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    app.decide(|views, _| decide_delete(views, principal, id, origin))
        .await
}

/// Whether `principal` may delete secret `id`.
pub fn decide_delete(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    let act = ActOn {
        principal,
        action: AccessAction::Delete,
        kind: ResourceKind::Secret,
        id,
        event: Action::SecretDeleted,
        origin,
    };
    decide_act_on(views, &act, |_, _| {
        Ok(EventPayload::SecretDeleted(SecretRef { secret_id: id }))
    })
}

/// What a reveal hands over once recorded: the version and its stored
/// (sealed) form, opened only after the decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revealed {
    /// The version revealed.
    pub version: u32,
    /// Its sealed form.
    pub sealed: String,
}

/// `POST /api/v1/secrets/{id}/reveal`: the owner's alone; recorded as
/// `secret.revealed` before the value is returned.
pub async fn reveal_secret(
    app: &App,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<RevealedSecretBody, CommandError> {
    let revealed = app
        .decide(|views, _| decide_reveal(views, principal, id, origin))
        .await?;
    let plaintext = app.vault().open(&revealed.sealed)?;
    let value = String::from_utf8(plaintext.to_vec())
        .map_err(|_| CommandError::Internal("a secret value is not UTF-8".into()))?;
    Ok(RevealedSecretBody {
        id,
        version: revealed.version,
        value,
    })
}

/// Whether `principal` may reveal secret `id`: only its owner, and not
/// while their password was set by someone else (whoever reset it knows
/// it). The `secret.revealed` event and the sealed current version.
pub fn decide_reveal(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<Decided<Revealed>, CommandError> {
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
    let version = record.current.version;
    let event = principal.event(
        Action::SecretRevealed,
        secret_ref(id),
        entry.org_id,
        origin,
        EventPayload::SecretRevealed(SecretRevealed {
            secret_id: id,
            version,
        }),
    );
    let revealed = Revealed {
        version,
        sealed: record.current.value.clone(),
    };
    Ok(Decided::new(vec![event], revealed))
}
