//! API keys: opaque random tokens (`cairn_` + 43 URL-safe characters),
//! shown once and stored only as SHA-256 digests. A key acts as its owner,
//! in the owner's org, with the owner's current rights and no more.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_audit::time_format::rfc3339_micros;
use cairn_core::entropy::random_array;
use cairn_core::log::NewEvent;
use cairn_projections::Views;
use cairn_projections::identity::ApiKeyRecord;
use cairn_schemas::api::{ApiKeyBody, CreateApiKeyRequest, CreatedApiKeyBody};
use cairn_schemas::{
    Action, ApiKeyCreated, ApiKeyRevoked, EventPayload, OrgRole, ResourceKind, ResourceRef,
};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::principal::{API_KEY_PREFIX, Credential, Principal, api_key_digest};
use super::{App, CommandError, Origin};

/// The longest key label.
const MAX_NAME_CHARS: usize = 100;
/// The longest lifetime, in days.
const MAX_DAYS: u32 = 3650;
/// How many characters of a key its prefix shows.
const PREFIX_CHARS: usize = 12;

fn body(record: &ApiKeyRecord) -> ApiKeyBody {
    ApiKeyBody {
        id: record.id,
        name: record.name.clone(),
        prefix: record.prefix.clone(),
        created_at: rfc3339_micros(record.created_at),
        expires_at: record.expires_at.map(rfc3339_micros),
        revoked: record.revoked,
    }
}

fn key_event(
    principal: &Principal,
    action: Action,
    key: Uuid,
    origin: &Origin,
    payload: EventPayload,
) -> NewEvent {
    principal.event(
        action,
        ResourceRef {
            kind: ResourceKind::ApiKey,
            id: Some(key),
        },
        principal.org_id,
        origin,
        payload,
    )
}

/// `POST /api/v1/auth/api-keys`: admins, integration managers and
/// superusers, through a session (a key cannot mint keys).
pub async fn create_api_key(
    app: &App,
    principal: &Principal,
    request: CreateApiKeyRequest,
    origin: &Origin,
) -> Result<CreatedApiKeyBody, CommandError> {
    if matches!(principal.credential, Credential::ApiKey(_)) {
        return Err(CommandError::Forbidden(
            "an API key cannot create API keys; log in".into(),
        ));
    }
    if !(principal.is_superuser
        || matches!(principal.role, OrgRole::Admin | OrgRole::IntegrationManager))
    {
        return Err(CommandError::Forbidden(
            "API keys require the admin or integration_manager role".into(),
        ));
    }
    let name = request.name.trim().to_string();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(CommandError::invalid(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} printable characters"),
        ));
    }
    let expires_at = match request.expires_in_days {
        Some(0) => {
            return Err(CommandError::invalid(
                "expires_in_days",
                "must be at least 1",
            ));
        }
        Some(days) if days > MAX_DAYS => {
            return Err(CommandError::invalid(
                "expires_in_days",
                format!("must be at most {MAX_DAYS}"),
            ));
        }
        Some(days) => Some(app.now() + i64::from(days) * 86_400 * 1_000_000),
        None => None,
    };
    let secret = Zeroizing::new(random_array::<32>(&*app.entropy_arc()));
    let key = Zeroizing::new(format!(
        "{API_KEY_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(secret.as_slice())
    ));
    let prefix: String = key.chars().take(PREFIX_CHARS).collect();
    let key_id = app.new_id();
    let created = ApiKeyCreated {
        key_id,
        user_id: principal.user_id,
        org_id: principal.org_id,
        name,
        digest: api_key_digest(&key),
        prefix,
        expires_at,
    };
    app.execute(|_| {
        Ok::<_, CommandError>(vec![key_event(
            principal,
            Action::ApiKeyCreated,
            key_id,
            origin,
            EventPayload::ApiKeyCreated(created),
        )])
    })
    .await?;
    let views = app.views();
    let record = views
        .api_keys
        .get(&key_id)
        .ok_or_else(|| CommandError::Internal("the new key is not in the view".into()))?;
    Ok(CreatedApiKeyBody {
        meta: body(record),
        key: key.to_string(),
    })
}

/// `GET /api/v1/auth/api-keys`: the caller's own keys.
pub fn list_api_keys(app: &App, principal: &Principal) -> Vec<ApiKeyBody> {
    app.views()
        .api_keys
        .of_user(principal.user_id)
        .map(body)
        .collect()
}

/// The `api_key.revoked` events that end every key of `user` not revoked
/// yet (a password change ends the keys with the sessions: whoever held
/// the old password may have minted them), each in its key's org.
pub fn revoke_every_key_of(
    views: &Views,
    principal: &Principal,
    user: Uuid,
    origin: &Origin,
) -> Vec<NewEvent> {
    views
        .api_keys
        .of_user(user)
        .filter(|key| !key.revoked)
        .map(|key| {
            principal.event(
                Action::ApiKeyRevoked,
                ResourceRef {
                    kind: ResourceKind::ApiKey,
                    id: Some(key.id),
                },
                key.org_id,
                origin,
                EventPayload::ApiKeyRevoked(ApiKeyRevoked { key_id: key.id }),
            )
        })
        .collect()
}

/// `DELETE /api/v1/auth/api-keys/{id}`: the owner, or an admin of the key's
/// org.
pub async fn revoke_api_key(
    app: &App,
    principal: &Principal,
    key_id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    app.execute(|views| {
        let record = views.api_keys.get(&key_id).filter(|record| {
            record.user_id == principal.user_id || principal.is_admin_of(record.org_id)
        });
        let Some(record) = record else {
            return Err(CommandError::NotFound);
        };
        if record.revoked {
            return Err(CommandError::Conflict("that key is already revoked".into()));
        }
        Ok(vec![key_event(
            principal,
            Action::ApiKeyRevoked,
            key_id,
            origin,
            EventPayload::ApiKeyRevoked(ApiKeyRevoked { key_id }),
        )])
    })
    .await?;
    Ok(())
}
