//! Resolving a flow's references as its invoker (docs/contract.md section 6).
//!
//! `$secret.NAME` is the invoker's own secret of that name in the flow's
//! org, else one shared with them (by a grant to them or to a group they
//! are in) that `authorize` lets them run; when several are shared, the
//! lowest id wins, so the same state always picks the same secret.
//! `$env.NAME` reads the server's environment only for names listed in
//! `CAIRN_FLOW_ENV_ALLOW`, and never a `CAIRN_` name, whatever the list
//! says. Errors name the reference, never a value.

use std::collections::BTreeSet;

use cairn_core::rules::{Reference, references};
use cairn_projections::Views;
use cairn_projections::access::{Target, Who, authorize};
use cairn_projections::sharing::CatalogEntry;
use cairn_schemas::{AccessAction, GranteeKind, ResourceKind};
use serde_json::Value;
use uuid::Uuid;

use super::masking::Masker;
use crate::CommandError;
use crate::vault::Vault;

/// Whether a flow may read the environment variable `name`.
pub fn env_allowed(name: &str, allow: &[String]) -> bool {
    !name.to_ascii_uppercase().starts_with("CAIRN_") && allow.iter().any(|allowed| allowed == name)
}

fn may_run(views: &Views, invoker: Who, entry: &CatalogEntry) -> bool {
    authorize(
        views,
        invoker,
        AccessAction::Run,
        Target {
            kind: ResourceKind::Secret,
            id: entry.id,
        },
    )
    .allowed
}

/// The secret `$secret.NAME` names for `invoker`: their own first, then the
/// lowest id among those shared with them that they may run.
pub fn find_secret<'v>(views: &'v Views, invoker: Who, name: &str) -> Option<&'v CatalogEntry> {
    let own = views
        .catalog
        .by_name(
            invoker.org_id,
            Some(invoker.user_id),
            ResourceKind::Secret,
            name,
        )
        .filter(|entry| may_run(views, invoker, entry));
    if own.is_some() {
        return own;
    }
    let grantees = std::iter::once(invoker.user_id)
        .chain(views.groups.groups_of(&invoker.user_id).iter().copied());
    let mut candidates = BTreeSet::new();
    for grantee in grantees {
        for grant in views.grants.to_grantee(&grantee) {
            let kind_matches = match grant.grantee_kind {
                GranteeKind::User => grantee == invoker.user_id,
                GranteeKind::Group => grantee != invoker.user_id,
            };
            if kind_matches && grant.resource_kind == ResourceKind::Secret {
                candidates.insert(grant.resource_id);
            }
        }
    }
    candidates
        .iter()
        .filter_map(|id| views.catalog.get_kind(ResourceKind::Secret, id))
        .find(|entry| {
            entry.org_id == invoker.org_id && entry.name == name && may_run(views, invoker, entry)
        })
}

/// Every reference in the strings of a JSON value, in order.
fn references_in(value: &Value, found: &mut Vec<Reference>) {
    match value {
        Value::String(text) => found.extend(references(text).unwrap_or_default()),
        Value::Array(items) => items.iter().for_each(|item| references_in(item, found)),
        Value::Object(members) => members.values().for_each(|item| references_in(item, found)),
        _ => {}
    }
}

/// Checks, before a run is queued, that every reference of `definition`
/// will resolve for `invoker`: each `$env.NAME` is allowed and each
/// `$secret.NAME` names a secret they may use. A 422 names the first that
/// does not, and the rule.
pub fn check_definition(
    views: &Views,
    invoker: Who,
    definition: &Value,
    env_allow: &[String],
) -> Result<(), CommandError> {
    let mut found = Vec::new();
    references_in(definition, &mut found);
    for reference in &found {
        match reference {
            Reference::Env(name) if !env_allowed(name, env_allow) => {
                return Err(CommandError::invalid(
                    "definition",
                    format!(
                        "$env.{name} may not be read: a flow reads only the environment variables \
                         listed in CAIRN_FLOW_ENV_ALLOW, and never a CAIRN_ variable"
                    ),
                ));
            }
            Reference::Secret(name) if find_secret(views, invoker, name).is_none() => {
                return Err(CommandError::invalid(
                    "definition",
                    format!(
                        "$secret.{name} does not resolve: the invoker owns no secret of that name \
                         in this org and none is shared with them"
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// `text` with each reference replaced by what `resolve` answers for it.
/// The scan is the one `references` makes, in one pass: a resolved value
/// is never scanned again.
pub fn substitute(
    text: &str,
    resolve: &mut dyn FnMut(&Reference) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (kind, tail) = if let Some(tail) = after.strip_prefix("secret.") {
            ("secret", tail)
        } else if let Some(tail) = after.strip_prefix("env.") {
            ("env", tail)
        } else {
            out.push('$');
            rest = after;
            continue;
        };
        let name_len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..name_len];
        let reference = match references(&format!("${kind}.{name}")) {
            Ok(mut found) if found.len() == 1 => found.remove(0),
            _ => return Err(format!("${kind}. must be followed by a valid name")),
        };
        out.push_str(&resolve(&reference)?);
        rest = &tail[name_len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A secret a step used: one `secret.resolved` event each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretUse {
    /// The secret.
    pub secret_id: Uuid,
    /// Its owner.
    pub owner_id: Uuid,
    /// The version resolved.
    pub version: u32,
}

/// A step with its references replaced, and the secrets it used. Its
/// debug form names the secrets used, never the step's clear values.
pub struct ResolvedStep {
    /// The step, with values in clear: never stored, never returned.
    pub step: Value,
    /// The secrets used, each once, in the order first met.
    pub secrets: Vec<SecretUse>,
}

/// What resolving needs besides the views.
pub struct Resolver<'a> {
    /// Opens sealed values.
    pub vault: &'a Vault,
    /// The member the run acts for, in the flow's org.
    pub invoker: Who,
    /// `CAIRN_FLOW_ENV_ALLOW`.
    pub env_allow: &'a [String],
    /// Reads an environment variable (the process environment; a map in
    /// tests).
    pub env: &'a (dyn Fn(&str) -> Option<String> + Sync),
}

impl std::fmt::Debug for ResolvedStep {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ResolvedStep")
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Resolver<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Resolver")
            .field("invoker", &self.invoker)
            .field("env_allow", &self.env_allow)
            .finish_non_exhaustive()
    }
}

impl Resolver<'_> {
    /// Resolves every reference of `step`, adding each value to `masker`.
    /// The error names the reference that does not resolve.
    pub fn resolve_step(
        &self,
        views: &Views,
        step: &Value,
        masker: &mut Masker,
    ) -> Result<ResolvedStep, String> {
        let mut secrets: Vec<SecretUse> = Vec::new();
        let mut resolve = |reference: &Reference| -> Result<String, String> {
            let value = match reference {
                Reference::Env(name) => {
                    if !env_allowed(name, self.env_allow) {
                        return Err(format!(
                            "$env.{name} may not be read (not in CAIRN_FLOW_ENV_ALLOW)"
                        ));
                    }
                    (self.env)(name).ok_or_else(|| format!("$env.{name} is not set"))?
                }
                Reference::Secret(name) => {
                    let entry = find_secret(views, self.invoker, name).ok_or_else(|| {
                        format!("$secret.{name} does not resolve for the invoker")
                    })?;
                    let record = views
                        .secrets
                        .get(&entry.id)
                        .ok_or_else(|| format!("$secret.{name} has no value"))?;
                    let plaintext = self
                        .vault
                        .open(&record.current.value)
                        .map_err(|_| format!("$secret.{name} could not be opened"))?;
                    let value = std::str::from_utf8(&plaintext)
                        .map_err(|_| format!("$secret.{name} is not text"))?
                        .to_string();
                    let used = SecretUse {
                        secret_id: entry.id,
                        owner_id: entry.owner_id.unwrap_or_default(),
                        version: record.current.version,
                    };
                    if !secrets.contains(&used) {
                        secrets.push(used);
                    }
                    value
                }
            };
            masker.add(&value);
            Ok(value)
        };
        let step = substitute_json(step, &mut resolve)?;
        Ok(ResolvedStep { step, secrets })
    }
}

/// `value` with the references in its strings replaced.
fn substitute_json(
    value: &Value,
    resolve: &mut dyn FnMut(&Reference) -> Result<String, String>,
) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) => Value::String(substitute(text, resolve)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| substitute_json(item, resolve))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(key, item)| Ok((key.clone(), substitute_json(item, resolve)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use cairn_core::crypto::MasterKey;
    use cairn_core::entropy::SeededEntropy;
    use cairn_core::log::codec;
    use cairn_projections::personal_source::NoPersonalData;
    use cairn_schemas::{
        Action, ActorRef, EventPayload, GrantCreated, GrantLevel, GroupCreated, GroupMemberAdded,
        GroupRole, Header, OrgCreated, OrgRole, Outcome, RECORD_FORMAT, Record, ResourceRef,
        Sealed, SecretCreated, UserCreated,
    };
    use serde_json::json;

    use super::*;

    /// Views fed one payload at a time, as the log would.
    pub(crate) struct Given {
        pub views: Views,
        seq: u64,
    }

    impl Given {
        pub fn new() -> Given {
            Given {
                views: Views::new(),
                seq: 0,
            }
        }

        pub fn apply(&mut self, payload: EventPayload) {
            self.seq += 1;
            let record = Record {
                format: RECORD_FORMAT,
                header: Header {
                    seq: self.seq,
                    id: Uuid::from_u128(u128::from(self.seq)),
                    at: 1_700_000_000_000_000 + self.seq as i64,
                    org: None,
                    actor: ActorRef::SYSTEM,
                    action: Action::GrantCreated,
                    resource: ResourceRef::SYSTEM,
                    outcome: Outcome::Success,
                    request_id: None,
                    personal: vec![],
                    payload_digest: [0; 32],
                    prev_hash: [0; 32],
                },
                payload: Some(codec::encode_payload(&payload).expect("encode")),
                hash: [0; 32],
            };
            self.views.apply(&record, &NoPersonalData).expect("apply");
        }

        pub fn org(&mut self, org_id: Uuid) {
            self.apply(EventPayload::OrgCreated(OrgCreated {
                org_id,
                name: format!("org-{org_id}"),
            }));
        }

        pub fn user(&mut self, user_id: Uuid, org_id: Uuid, role: OrgRole) {
            self.apply(EventPayload::UserCreated(UserCreated {
                user_id,
                org_id,
                role,
                is_active: true,
                is_superuser: false,
                credential: Sealed {
                    subject: user_id,
                    nonce: [0; 24],
                    ciphertext: vec![1],
                },
            }));
        }

        pub fn secret(
            &mut self,
            vault: &Vault,
            id: Uuid,
            org_id: Uuid,
            owner: Uuid,
            name: &str,
            value: &str,
        ) {
            let entropy = SeededEntropy::new(7);
            self.apply(EventPayload::SecretCreated(SecretCreated {
                secret_id: id,
                org_id,
                owner_id: owner,
                name: name.into(),
                value: vault.seal(owner, value.as_bytes(), &entropy),
                fingerprint: [0; 32],
            }));
        }

        /// Shares a secret at `use` with a user or group (in the
        /// secret's org).
        pub fn share_secret(
            &mut self,
            grant: Uuid,
            secret: Uuid,
            to: (GranteeKind, Uuid),
            by: Uuid,
        ) {
            let org_id = self.views.catalog.get(&secret).expect("the secret").org_id;
            self.apply(EventPayload::GrantCreated(GrantCreated {
                grant_id: grant,
                org_id,
                resource_kind: ResourceKind::Secret,
                resource_id: secret,
                grantee_kind: to.0,
                grantee_id: to.1,
                level: GrantLevel::Use,
                granted_by: by,
            }));
        }
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    const ORG: u128 = 1;
    const ALICE: u128 = 10;
    const BOB: u128 = 11;
    const CAROL: u128 = 12;
    const GROUP: u128 = 20;

    fn vault() -> Vault {
        Vault::new(&MasterKey::from_bytes([9; 32]))
    }

    fn given() -> Given {
        let mut given = Given::new();
        given.org(id(ORG));
        for user in [ALICE, BOB, CAROL] {
            given.user(id(user), id(ORG), OrgRole::FlowExecutor);
        }
        given.apply(EventPayload::GroupCreated(GroupCreated {
            group_id: id(GROUP),
            org_id: id(ORG),
            name: "ops".into(),
            owner_id: id(ALICE),
        }));
        given.apply(EventPayload::GroupMemberAdded(GroupMemberAdded {
            group_id: id(GROUP),
            user_id: id(BOB),
            role: GroupRole::Member,
        }));
        given
    }

    fn who(user: u128) -> Who {
        Who {
            user_id: id(user),
            org_id: id(ORG),
        }
    }

    #[test]
    fn the_invokers_own_secret_comes_first() {
        let vault = vault();
        let mut given = given();
        given.secret(&vault, id(100), id(ORG), id(ALICE), "TOKEN", "alice-value");
        given.secret(&vault, id(101), id(ORG), id(BOB), "TOKEN", "bob-value");
        given.share_secret(id(200), id(100), (GranteeKind::User, id(BOB)), id(ALICE));
        let found = find_secret(&given.views, who(BOB), "TOKEN").expect("found");
        assert_eq!(found.id, id(101), "bob's own, not alice's shared one");
        let found = find_secret(&given.views, who(ALICE), "TOKEN").expect("found");
        assert_eq!(found.id, id(100));
    }

    #[test]
    fn a_shared_secret_resolves_and_the_lowest_id_wins() {
        let vault = vault();
        let mut given = given();
        given.secret(&vault, id(105), id(ORG), id(ALICE), "TOKEN", "alice-value");
        given.secret(&vault, id(103), id(ORG), id(CAROL), "TOKEN", "carol-value");
        // Alice shares with bob's group, carol with bob directly.
        given.share_secret(id(200), id(105), (GranteeKind::Group, id(GROUP)), id(ALICE));
        given.share_secret(id(201), id(103), (GranteeKind::User, id(BOB)), id(CAROL));
        let found = find_secret(&given.views, who(BOB), "TOKEN").expect("found");
        assert_eq!(found.id, id(103));
        // Carol's own secret for carol; nothing for a user it is not shared with.
        assert_eq!(
            find_secret(&given.views, who(CAROL), "TOKEN").map(|e| e.id),
            Some(id(103))
        );
        assert!(find_secret(&given.views, who(BOB), "OTHER").is_none());
    }

    #[test]
    fn an_unshared_secret_of_another_user_does_not_resolve() {
        let vault = vault();
        let mut given = given();
        given.secret(&vault, id(100), id(ORG), id(ALICE), "TOKEN", "alice-value");
        assert!(find_secret(&given.views, who(BOB), "TOKEN").is_none());
        // Sharing with a group bob is not in does not help carol.
        given.share_secret(id(200), id(100), (GranteeKind::Group, id(GROUP)), id(ALICE));
        assert!(find_secret(&given.views, who(CAROL), "TOKEN").is_none());
        assert_eq!(
            find_secret(&given.views, who(BOB), "TOKEN").map(|e| e.id),
            Some(id(100))
        );
    }

    #[test]
    fn cairn_variables_are_never_allowed() {
        let allow = vec!["REGION".to_string(), "CAIRN_MASTER_KEY".to_string()];
        assert!(env_allowed("REGION", &allow));
        assert!(!env_allowed("HOME", &allow));
        assert!(!env_allowed("CAIRN_MASTER_KEY", &allow));
    }

    #[test]
    fn checking_names_the_reference_that_does_not_resolve() {
        let vault = vault();
        let mut given = given();
        given.secret(&vault, id(100), id(ORG), id(BOB), "TOKEN", "v");
        let allow = vec!["REGION".to_string()];
        let ok = json!({"steps": [{"type": "log", "message": "$secret.TOKEN in $env.REGION"}]});
        assert!(check_definition(&given.views, who(BOB), &ok, &allow).is_ok());
        let missing = json!({"steps": [{"type": "log", "message": "$secret.NOPE"}]});
        let error =
            check_definition(&given.views, who(BOB), &missing, &allow).expect_err("refused");
        assert!(error.to_string().contains("$secret.NOPE"), "{error}");
        let env = json!({"steps": [{"type": "log", "message": "$env.CAIRN_MASTER_KEY"}]});
        let error = check_definition(&given.views, who(BOB), &env, &allow).expect_err("refused");
        assert!(
            error.to_string().contains("$env.CAIRN_MASTER_KEY"),
            "{error}"
        );
        assert!(
            error.to_string().contains("CAIRN_FLOW_ENV_ALLOW"),
            "{error}"
        );
    }

    #[test]
    fn resolving_replaces_references_records_secrets_and_masks_values() {
        let vault = vault();
        let mut given = given();
        given.secret(&vault, id(100), id(ORG), id(ALICE), "TOKEN", "s3cr3t");
        given.share_secret(id(200), id(100), (GranteeKind::Group, id(GROUP)), id(ALICE));
        let allow = vec!["REGION".to_string()];
        let env = |name: &str| (name == "REGION").then(|| "eu-west".to_string());
        let resolver = Resolver {
            vault: &vault,
            invoker: who(BOB),
            env_allow: &allow,
            env: &env,
        };
        let step = json!({"type": "http", "url": "http://x/$env.REGION",
                          "headers": {"Authorization": "Bearer $secret.TOKEN", "X": "$secret.TOKEN$$"}});
        let mut masker = Masker::new();
        let resolved = resolver
            .resolve_step(&given.views, &step, &mut masker)
            .expect("resolved");
        assert_eq!(resolved.step["url"], "http://x/eu-west");
        assert_eq!(resolved.step["headers"]["Authorization"], "Bearer s3cr3t");
        assert_eq!(resolved.step["headers"]["X"], "s3cr3t$$");
        assert_eq!(
            resolved.secrets,
            vec![SecretUse {
                secret_id: id(100),
                owner_id: id(ALICE),
                version: 1
            }]
        );
        assert_eq!(masker.mask("s3cr3t in eu-west"), "*** in ***");

        let missing = json!({"type": "log", "message": "$env.HOME"});
        let error = resolver
            .resolve_step(&given.views, &missing, &mut Masker::new())
            .expect_err("not allowed");
        assert!(error.contains("$env.HOME"), "{error}");
    }

    #[test]
    fn substitution_is_one_pass() {
        let mut resolve = |reference: &Reference| -> Result<String, String> {
            Ok(match reference {
                Reference::Secret(name) => format!("$env.{name}"),
                Reference::Env(name) => format!("<{name}>"),
            })
        };
        assert_eq!(
            substitute("a $secret.X b $env.Y $ $other", &mut resolve).expect("ok"),
            "a $env.X b <Y> $ $other"
        );
    }
}
