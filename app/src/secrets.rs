//! Secrets: values sealed under their owner's key the moment they arrive,
//! listed by name and metadata only, rotated to new versions, revealed to
//! their owner alone (and audited), and shared at `use` only: grantees
//! resolve them in runs but no endpoint ever returns a value to them.

use cairn_core::time_format::rfc3339_micros;
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
    let act = ActOn::delete(
        principal,
        (ResourceKind::Secret, id),
        Action::SecretDeleted,
        origin,
    );
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
        .map_err(|_| CommandError::internal("a secret value is not UTF-8"))?;
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
        .ok_or_else(|| CommandError::internal("a secret without a value"))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::catalog_facts::cast::*;
    use crate::testing::catalog_facts::grant;
    use crate::testing::{Given, id, identity_facts, payload_of};
    use cairn_schemas::{GrantLevel, GranteeKind};

    fn origin() -> Origin {
        Origin::local("t")
    }

    fn sealed(owner: u128, tag: &str) -> SealedValue {
        SealedValue {
            owner: id(owner),
            value: format!("$cairn$1${}${tag}", id(owner)),
            fingerprint: [tag.len() as u8; 32],
        }
    }

    fn create(given: &Given, principal: &Principal, name: &str) -> crate::testing::Then<Uuid> {
        let value = sealed(principal.user_id.as_u128() & 0xffff, "v1");
        given.when(|views, ids| {
            let name = check_secret_name(name)?;
            decide_create(views, ids, principal, &name, &value, &origin())
        })
    }

    #[test]
    fn given_a_member_who_may_own_secrets_when_creating_then_it_is_theirs_sealed_for_them() {
        let given = given();
        for user in [IVY, EDNA, XAVIER, ADA] {
            let caller = session(&given, user, ORG);
            let decided = create(&given, &caller, "DB_PASSWORD").decided();
            let EventPayload::SecretCreated(created) = payload_of(&decided, Action::SecretCreated)
            else {
                panic!("not a secret");
            };
            assert_eq!(
                (
                    created.secret_id,
                    created.org_id,
                    created.owner_id,
                    created.name.as_str()
                ),
                (decided.reply, id(ORG), id(user), "DB_PASSWORD")
            );
            assert_eq!(created.value, sealed(user, "v1").value);
            assert_eq!(created.fingerprint, sealed(user, "v1").fingerprint);
        }
    }

    #[test]
    fn given_each_refusal_when_creating_then_it_is_named() {
        let given = given();
        let ivy = session(&given, IVY, ORG);
        let vic = session(&given, VIC, ORG);
        let mia = session(&given, MIA, ORG);
        let dan = session(&given, DAN, ORG);
        // Ivy already has one by that name; another member may take it
        assert_eq!(kind_of(&create(&given, &ivy, "API_TOKEN").refused()), "409");
        let edna = session(&given, EDNA, ORG);
        assert_eq!(
            create(&given, &edna, "API_TOKEN").actions(),
            vec![Action::SecretCreated]
        );
        // Roles that may not own secrets, and a deactivated user
        for caller in [&vic, &mia, &dan] {
            assert_eq!(kind_of(&create(&given, caller, "X").refused()), "403");
        }
        // Names flows could not refer to
        let long = "A".repeat(MAX_SECRET_NAME_CHARS + 1);
        for name in ["", "1ABC", "A-B", "A B", "$X", "É", long.as_str()] {
            assert_eq!(
                kind_of(&create(&given, &ivy, name).refused()),
                "422 name",
                "{name}"
            );
        }
        // A value sealed for someone else is not taken
        let refused = given
            .when(|views, ids| decide_create(views, ids, &ivy, "X", &sealed(EDNA, "v"), &origin()))
            .refused();
        assert_eq!(kind_of(&refused), "409");
    }

    #[test]
    fn given_values_when_checked_then_empty_and_too_large_are_422_on_value() {
        assert!(check_value("x").is_ok());
        assert!(check_value(&"x".repeat(MAX_SECRET_BYTES)).is_ok());
        for value in [String::new(), "x".repeat(MAX_SECRET_BYTES + 1)] {
            assert!(matches!(
                check_value(&value),
                Err(CommandError::Invalid { field: "value", .. })
            ));
        }
    }

    fn rotate(
        given: &Given,
        principal: &Principal,
        secret: u128,
        value: &SealedValue,
    ) -> crate::testing::Then<()> {
        given.when(|views, _| decide_rotate(views, principal, id(secret), value, &origin()))
    }

    #[test]
    fn given_a_secret_when_rotated_twice_then_versions_follow_and_the_value_stays_sealed_for_its_owner()
     {
        let mut given = given();
        let ivy = session(&given, IVY, ORG);
        let first = rotate(&given, &ivy, SECRET, &sealed(IVY, "v2")).decided();
        assert_eq!(
            payload_of(&first, Action::SecretRotated),
            &EventPayload::SecretRotated(SecretRotated {
                secret_id: id(SECRET),
                version: 2,
                value: sealed(IVY, "v2").value,
                fingerprint: sealed(IVY, "v2").fingerprint,
            })
        );
        given.after(|views, _| {
            decide_rotate(views, &ivy, id(SECRET), &sealed(IVY, "v2"), &origin())
        });
        // An admin rotates it too, sealed for Ivy, not for the admin
        let ada = session(&given, ADA, ORG);
        let second = rotate(&given, &ada, SECRET, &sealed(IVY, "v3")).decided();
        let EventPayload::SecretRotated(rotated) = payload_of(&second, Action::SecretRotated)
        else {
            panic!("not a rotation");
        };
        assert_eq!(rotated.version, 3);
        assert_eq!(
            kind_of(&rotate(&given, &ada, SECRET, &sealed(ADA, "v3")).refused()),
            "409"
        );
    }

    #[test]
    fn given_each_refusal_when_rotating_then_it_is_named() {
        let mut given = given();
        // Edna holds it at use: she may run with it, not change it
        given.fold(grant(
            id(0x162),
            id(ORG),
            (ResourceKind::Secret, id(SECRET)),
            (GranteeKind::User, id(EDNA)),
            GrantLevel::Use,
            id(IVY),
        ));
        let edna = session(&given, EDNA, ORG);
        let vic = session(&given, VIC, ORG);
        let eve = session(&given, EVE, OTHER);
        let ivy = session(&given, IVY, ORG);
        assert_eq!(
            kind_of(&rotate(&given, &edna, SECRET, &sealed(IVY, "x")).refused()),
            "403"
        );
        assert_eq!(
            kind_of(&rotate(&given, &vic, SECRET, &sealed(IVY, "x")).refused()),
            "404"
        );
        assert_eq!(
            kind_of(&rotate(&given, &eve, SECRET, &sealed(IVY, "x")).refused()),
            "404"
        );
        assert_eq!(
            kind_of(&rotate(&given, &ivy, 0x999, &sealed(IVY, "x")).refused()),
            "404"
        );
    }

    #[test]
    fn given_each_caller_when_deleting_then_only_the_owner_side_may() {
        let given = given();
        let delete = |caller: &Principal, secret: u128| {
            given.when(|views, _| decide_delete(views, caller, id(secret), &origin()))
        };
        let ivy = session(&given, IVY, ORG);
        let ada = session(&given, ADA, ORG);
        let edna = session(&given, EDNA, ORG);
        let eve = session(&given, EVE, OTHER);
        assert_eq!(delete(&ivy, SECRET).actions(), vec![Action::SecretDeleted]);
        assert_eq!(delete(&ada, SECRET).actions(), vec![Action::SecretDeleted]);
        assert_eq!(kind_of(&delete(&edna, SECRET).refused()), "404");
        assert_eq!(kind_of(&delete(&eve, SECRET).refused()), "404");
        assert_eq!(kind_of(&delete(&ivy, 0x999).refused()), "404");
    }

    fn reveal(
        given: &Given,
        principal: &Principal,
        secret: u128,
    ) -> crate::testing::Then<Revealed> {
        given.when(|views, _| decide_reveal(views, principal, id(secret), &origin()))
    }

    #[test]
    fn given_the_owner_when_revealing_then_the_current_version_is_recorded_before_it_is_handed_over()
     {
        let mut given = given();
        let ivy = session(&given, IVY, ORG);
        given.after(|views, _| {
            decide_rotate(views, &ivy, id(SECRET), &sealed(IVY, "v2"), &origin())
        });
        let decided = reveal(&given, &ivy, SECRET).decided();
        assert_eq!(
            decided.reply,
            Revealed {
                version: 2,
                sealed: sealed(IVY, "v2").value
            }
        );
        assert_eq!(
            payload_of(&decided, Action::SecretRevealed),
            &EventPayload::SecretRevealed(SecretRevealed {
                secret_id: id(SECRET),
                version: 2
            })
        );
        // Through an API key as well, named as the actor
        let key = api_key(&given, IVY, ORG);
        let decided = reveal(&given, &key, SECRET).decided();
        assert_eq!(decided.events[0].actor, key.actor());
    }

    #[test]
    fn given_anyone_but_the_owner_when_revealing_then_it_is_refused() {
        let mut given = given();
        given.fold(grant(
            id(0x162),
            id(ORG),
            (ResourceKind::Secret, id(SECRET)),
            (GranteeKind::User, id(EDNA)),
            GrantLevel::Use,
            id(IVY),
        ));
        // The admin, a grantee, another tenant, the superuser: none may
        let ada = session(&given, ADA, ORG);
        let edna = session(&given, EDNA, ORG);
        let eve = session(&given, EVE, OTHER);
        for (caller, expected) in [
            (&ada, "403"),
            (&edna, "403"),
            (&eve, "404"),
            (&root_in(ORG), "403"),
        ] {
            assert_eq!(
                kind_of(&reveal(&given, caller, SECRET).refused()),
                expected,
                "{caller:?}"
            );
        }
        let ivy = session(&given, IVY, ORG);
        assert_eq!(kind_of(&reveal(&given, &ivy, 0x999).refused()), "404");
    }

    #[test]
    fn given_a_password_reset_by_an_admin_when_the_owner_reveals_then_403_until_they_choose_their_own()
     {
        let given = given().events([identity_facts::password_reset(id(IVY), id(ORG))]);
        let ivy = session(&given, IVY, ORG);
        let refused = reveal(&given, &ivy, SECRET).refused();
        assert!(
            matches!(&refused, CommandError::Forbidden(message) if message == crate::principal::PASSWORD_CHANGE_REQUIRED),
            "{refused:?}"
        );
    }
}
