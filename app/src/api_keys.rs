//! API keys: opaque random tokens (`cairn_` + 43 URL-safe characters),
//! shown once and stored only as SHA-256 digests. A key acts as its owner,
//! in the owner's org, with the owner's current rights and no more.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_core::entropy::random_array;
use cairn_core::log::NewEvent;
use cairn_core::time_format::rfc3339_micros;
use cairn_projections::Views;
use cairn_projections::identity::ApiKeyRecord;
use cairn_schemas::api::{ApiKeyBody, CreateApiKeyRequest, CreatedApiKeyBody};
use cairn_schemas::{
    Action, ApiKeyCreated, ApiKeyRevoked, EventPayload, OrgRole, ResourceKind, ResourceRef,
};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::principal::{API_KEY_PREFIX, Credential, Principal, api_key_digest};
use super::{App, CommandError, Decided, Origin};
use cairn_core::IdSource;

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

/// Who may mint keys: admins, integration managers and superusers,
/// through a session (a key cannot mint keys).
fn may_mint(principal: &Principal) -> Result<(), CommandError> {
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
    Ok(())
}

/// A new key's label and expiry (micros), checked: who may mint, then the
/// name, then the lifetime in days from `now`.
pub fn check_new_key(
    principal: &Principal,
    request: &CreateApiKeyRequest,
    now: i64,
) -> Result<(String, Option<i64>), CommandError> {
    may_mint(principal)?;
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
        Some(days) => Some(now + i64::from(days) * 86_400 * 1_000_000),
        None => None,
    };
    Ok((name, expires_at))
}

/// A key minted before the decision: what the log keeps of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MintedKey {
    /// Its label.
    pub name: String,
    /// SHA-256 of the key.
    pub digest: [u8; 32],
    /// Its first characters, to recognize it by.
    pub prefix: String,
    /// When it expires (micros), if ever.
    pub expires_at: Option<i64>,
}

/// `POST /api/v1/auth/api-keys`: admins, integration managers and
/// superusers, through a session (a key cannot mint keys).
pub async fn create_api_key(
    app: &App,
    principal: &Principal,
    request: CreateApiKeyRequest,
    origin: &Origin,
) -> Result<CreatedApiKeyBody, CommandError> {
    let (name, expires_at) = check_new_key(principal, &request, app.now())?;
    let secret = Zeroizing::new(random_array::<32>(&*app.entropy_arc()));
    let key = Zeroizing::new(format!(
        "{API_KEY_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(secret.as_slice())
    ));
    let minted = MintedKey {
        name,
        digest: api_key_digest(&key),
        prefix: key.chars().take(PREFIX_CHARS).collect(),
        expires_at,
    };
    let key_id = app
        .decide(|_, ids| decide_create(ids, principal, &minted, origin))
        .await?;
    let views = app.views();
    let record = views
        .api_keys
        .get(&key_id)
        .ok_or_else(|| CommandError::internal("the new key is not in the view"))?;
    Ok(CreatedApiKeyBody {
        meta: body(record),
        key: key.to_string(),
    })
}

/// Whether `principal` may record `minted` as their key, in the org they
/// act in: the `api_key.created` event and the key's id.
pub fn decide_create(
    ids: &IdSource,
    principal: &Principal,
    minted: &MintedKey,
    origin: &Origin,
) -> Result<Decided<Uuid>, CommandError> {
    may_mint(principal)?;
    let key_id = ids.new_id();
    let event = key_event(
        principal,
        Action::ApiKeyCreated,
        key_id,
        origin,
        EventPayload::ApiKeyCreated(ApiKeyCreated {
            key_id,
            user_id: principal.user_id,
            org_id: principal.org_id,
            name: minted.name.clone(),
            digest: minted.digest,
            prefix: minted.prefix.clone(),
            expires_at: minted.expires_at,
        }),
    );
    Ok(Decided::new(vec![event], key_id))
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
    app.decide(|views, _| decide_revoke(views, principal, key_id, origin))
        .await
}

/// Whether `principal` may revoke key `key_id`: its owner or an admin of
/// its org (anyone else is answered as if it did not exist), once.
pub fn decide_revoke(
    views: &Views,
    principal: &Principal,
    key_id: Uuid,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    let record = views.api_keys.get(&key_id).filter(|record| {
        record.user_id == principal.user_id || principal.is_admin_of(record.org_id)
    });
    let Some(record) = record else {
        return Err(CommandError::NotFound);
    };
    if record.revoked {
        return Err(CommandError::Conflict("that key is already revoked".into()));
    }
    let event = key_event(
        principal,
        Action::ApiKeyRevoked,
        key_id,
        origin,
        EventPayload::ApiKeyRevoked(ApiKeyRevoked { key_id }),
    );
    Ok(Decided::new(vec![event], ()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::identity_facts::api_key;
    use crate::testing::identity_facts::cast::*;
    use crate::testing::{Given, id};

    fn origin() -> Origin {
        Origin::local("t")
    }

    fn as_user(given: &Given, user: u128, org: u128) -> Principal {
        crate::testing::principal(given.views(), id(user), id(org))
    }

    fn request(name: &str, days: Option<u32>) -> CreateApiKeyRequest {
        CreateApiKeyRequest {
            name: name.into(),
            expires_in_days: days,
        }
    }

    fn minted(expires_at: Option<i64>) -> MintedKey {
        MintedKey {
            name: "ci".into(),
            digest: [3; 32],
            prefix: "cairn_abcdef".into(),
            expires_at,
        }
    }

    #[test]
    fn given_an_admin_session_when_minting_a_key_then_it_is_theirs_in_the_org_they_act_in() {
        let given = given();
        let mia = as_user(&given, MIA, OTHER);
        let (name, expires_at) =
            check_new_key(&mia, &request("  deploy  ", Some(2)), given.now()).expect("valid");
        assert_eq!(name, "deploy");
        assert_eq!(expires_at, Some(given.now() + 2 * 86_400 * 1_000_000));
        let decided = given
            .when(|_, ids| decide_create(ids, &mia, &minted(expires_at), &origin()))
            .decided();
        assert_eq!(
            decided.events[0].payload,
            Some(EventPayload::ApiKeyCreated(ApiKeyCreated {
                key_id: decided.reply,
                user_id: id(MIA),
                org_id: id(OTHER),
                name: "ci".into(),
                digest: [3; 32],
                prefix: "cairn_abcdef".into(),
                expires_at,
            }))
        );
    }

    #[test]
    fn given_each_refusal_when_minting_a_key_then_it_is_named() {
        let given = given();
        let ada = as_user(&given, ADA, ORG);
        // Mia is a viewer where she acts; Edna a flow editor
        for caller in [as_user(&given, MIA, ORG), as_user(&given, EDNA, ORG)] {
            assert!(matches!(
                check_new_key(&caller, &request("k", None), given.now()),
                Err(CommandError::Forbidden(_))
            ));
        }
        // A key cannot mint keys, even an admin's
        let key = Principal {
            credential: Credential::ApiKey(id(0x4b)),
            ..ada.clone()
        };
        assert!(matches!(
            check_new_key(&key, &request("k", None), given.now()),
            Err(CommandError::Forbidden(_))
        ));
        assert!(matches!(
            given
                .when(|_, ids| decide_create(ids, &key, &minted(None), &origin()))
                .refused(),
            CommandError::Forbidden(_)
        ));
        let long = "k".repeat(MAX_NAME_CHARS + 1);
        for (ask, field) in [
            (request("", None), "name"),
            (request("   ", None), "name"),
            (request("a\nb", None), "name"),
            (request(&long, None), "name"),
            (request("k", Some(0)), "expires_in_days"),
            (request("k", Some(MAX_DAYS + 1)), "expires_in_days"),
        ] {
            assert!(
                matches!(check_new_key(&ada, &ask, given.now()), Err(CommandError::Invalid { field: named, .. }) if named == field),
                "{ask:?}"
            );
        }
    }

    #[test]
    fn given_a_key_when_revoked_then_by_its_owner_or_an_admin_of_its_org_once() {
        let mut given = given().events([api_key(id(0x4b), id(MIA), id(OTHER), [4; 32])]);
        let revoke = |given: &Given, principal: &Principal| {
            given.when(|views, _| decide_revoke(views, principal, id(0x4b), &origin()))
        };
        let mia = as_user(&given, MIA, ORG);
        let eve = as_user(&given, EVE, OTHER);
        let ada = as_user(&given, ADA, ORG);
        // Its owner, whichever org she acts in; the other org's admin
        assert_eq!(revoke(&given, &mia).actions(), vec![Action::ApiKeyRevoked]);
        assert_eq!(revoke(&given, &eve).actions(), vec![Action::ApiKeyRevoked]);
        // Ada administers Mia's other org, not the key's: no such key
        assert!(matches!(
            revoke(&given, &ada).refused(),
            CommandError::NotFound
        ));
        assert!(matches!(
            given
                .when(|views, _| decide_revoke(views, &mia, id(0x999), &origin()))
                .refused(),
            CommandError::NotFound
        ));
        given.after(|views, _| decide_revoke(views, &eve, id(0x4b), &origin()));
        assert!(matches!(
            revoke(&given, &mia).refused(),
            CommandError::Conflict(_)
        ));
    }

    #[test]
    fn given_a_user_with_keys_when_every_key_is_revoked_then_only_the_live_ones_in_their_own_orgs()
    {
        let given = given().events([
            api_key(id(0x4b), id(MIA), id(OTHER), [4; 32]),
            api_key(id(0x4c), id(MIA), id(ORG), [5; 32]),
            api_key(id(0x4d), id(MIA), id(ORG), [6; 32]),
            crate::testing::identity_facts::api_key_revoked(id(0x4d), id(ORG)),
            api_key(id(0x4e), id(ADA), id(ORG), [7; 32]),
        ]);
        let ada = as_user(&given, ADA, ORG);
        let events = revoke_every_key_of(given.views(), &ada, id(MIA), &origin());
        let mut revoked: Vec<(Option<Uuid>, Option<Uuid>)> = events
            .iter()
            .map(|event| (event.resource.id, event.org))
            .collect();
        revoked.sort();
        assert_eq!(
            revoked,
            vec![
                (Some(id(0x4b)), Some(id(OTHER))),
                (Some(id(0x4c)), Some(id(ORG)))
            ]
        );
    }
}
