//! The OpenAPI 3.1 document, served at `GET /openapi.json`
//! ([`super::api_document`]): the route
//! table's operations (each handler's annotation, with what the table says
//! about access and shared answers) and the schemas crate's types
//! (utoipa). A test keeps `schemas/openapi.json` equal to it.

use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use cairn_schemas::api::{
    AddGroupMemberRequest, AddMemberRequest, ApiKeyBody, AuditEventsPage, ChainHeadBody,
    ChangePasswordRequest, CheckpointBody, ClassPolicyBody, ClassRetentionBody, ConnectionBody,
    CreateApiKeyRequest, CreateConnectionRequest, CreateFlowRequest, CreateGrantRequest,
    CreateGroupRequest, CreateNamespaceRequest, CreateOrgRequest, CreateSecretRequest,
    CreateUserRequest, CreatedApiKeyBody, EraseUserRequest, ExplainBody, FlowBody, GrantBody,
    GroupBody, GroupMemberBody, LastPruneBody, LoginRequest, LoginResponse, MeResponse, MemberBody,
    NamespaceBody, OrgBody, PublicKeyBody, RetentionBody, RetentionPolicyBody, RevealSecretRequest,
    RevealedSecretBody, RotateSecretRequest, SecretBody, UpdateConnectionRequest,
    UpdateFlowRequest, UpdateGroupMemberRequest, UpdateNamespaceRequest, UpdateUserRequest,
    UserBody, VerifyBody,
};

use super::problem::Problem;
use super::routes::ROUTES;
use cairn_app::reports::{AccessReview, AccessReviewRow, SecretUsage, SecretUseRow};
use cairn_schemas::api::{
    CreateScheduleRequest, RunActorBody, RunBody, RunStepBody, ScheduleBody, StartRunRequest,
    UpdateScheduleRequest,
};

/// The document's frame: its description, schemas, security schemes and
/// tags; the operations come from the route table ([`document`]).
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Cairn", description = "An audit-first control plane: identity, sharing, secrets, runs and their audit trail."),
    components(schemas(
        Problem, LoginRequest, LoginResponse, MeResponse, UserBody, CreateUserRequest, UpdateUserRequest,
        ChangePasswordRequest, CreateApiKeyRequest, ApiKeyBody, CreatedApiKeyBody, CreateOrgRequest, OrgBody,
        AddMemberRequest, MemberBody, CreateGroupRequest, GroupBody, GroupMemberBody, AddGroupMemberRequest,
        UpdateGroupMemberRequest, CreateNamespaceRequest, UpdateNamespaceRequest, NamespaceBody, CreateFlowRequest,
        UpdateFlowRequest, FlowBody, CreateGrantRequest, GrantBody, ExplainBody,
        AuditEventsPage, ChainHeadBody, VerifyBody, CheckpointBody, PublicKeyBody,
        RetentionBody, RetentionPolicyBody, ClassPolicyBody, ClassRetentionBody, LastPruneBody,
        CreateSecretRequest, RotateSecretRequest, SecretBody, RevealedSecretBody, RevealSecretRequest, EraseUserRequest,
        CreateConnectionRequest, UpdateConnectionRequest, ConnectionBody,
        StartRunRequest, RunBody, RunStepBody, RunActorBody, CreateScheduleRequest, ScheduleBody,
        UpdateScheduleRequest, AccessReview, AccessReviewRow, SecretUsage, SecretUseRow,
    )),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Login, sessions and API keys"),
        (name = "users", description = "User administration"),
        (name = "orgs", description = "Organizations and members"),
        (name = "groups", description = "Groups and their members"),
        (name = "catalog", description = "Namespaces and flows"),
        (name = "sharing", description = "Grants and access explanations"),
        (name = "audit", description = "The audit trail, its verification and checkpoints"),
        (name = "secrets", description = "Secrets and connections: used, never seen"),
        (name = "runs", description = "Runs of flows and their schedules; outputs masked"),
        (name = "system", description = "Health"),
        (name = "console", description = "The web console's static files (same origin, embedded in the binary)"),
    )
)]
pub struct ApiDoc;

/// The two ways to authenticate: a Bearer JWT or API key, or the web
/// console's session cookie.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::caller::SESSION_COOKIE,
                "The web console's session cookie, set by login. A write it authenticates must \
                 come from this site (Origin) and repeat the cairn_csrf cookie's value in the \
                 X-CSRF-Token header.",
            ))),
        );
    }
}

/// The answers the edge gives before a handler runs, documented on every
/// operation they can come from: a JSON body that is not JSON, has the
/// wrong shape (400), is too large (413) or is not `application/json`
/// (415); and the per-client rate limit (429) on every `/api/v1` route.
/// Without them the document promised fewer statuses than the server
/// answers (schemathesis: "undocumented status code").
struct EdgeResponses;

impl Modify for EdgeResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                item.get.as_mut(),
                item.put.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
                item.patch.as_mut(),
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_string())
                        .or_insert_with(|| problem(description).into());
                };
                if operation.request_body.is_some() {
                    add(
                        "400",
                        "the body is not JSON, or not a JSON object of the expected shape",
                    );
                    add("413", "the body is larger than the limit (64 KiB)");
                    add("415", "the body is not sent as application/json");
                }
                if path.starts_with("/api/v1/") {
                    add(
                        "429",
                        "too many requests from this client (see Retry-After)",
                    );
                }
            }
        }
    }
}

/// The document as JSON, with a stable version and no build-dependent
/// parts, so the committed copy only changes when the API does.
pub fn document() -> serde_json::Value {
    let mut openapi = ApiDoc::openapi();
    for route in ROUTES {
        // A route whose handler documents another method or path has no
        // operation here; a test names it.
        if let Some(operation) = route.operation() {
            let method = match route.method {
                "GET" => HttpMethod::Get,
                "PUT" => HttpMethod::Put,
                "POST" => HttpMethod::Post,
                "DELETE" => HttpMethod::Delete,
                _ => HttpMethod::Patch,
            };
            openapi
                .paths
                .add_path_operation(route.path, vec![method], operation);
        }
        if let Some(mut components) = route.components() {
            let ours = openapi.components.get_or_insert_with(Default::default);
            components
                .schemas
                .retain(|name, _| !ours.schemas.contains_key(name));
            ours.schemas.append(&mut components.schemas);
        }
    }
    EdgeResponses.modify(&mut openapi);
    let mut doc = serde_json::to_value(openapi).unwrap_or_default();
    doc["info"]["version"] = serde_json::Value::String("v1".into());
    doc["info"]
        .as_object_mut()
        .map(|info| info.remove("license"));
    doc["info"]
        .as_object_mut()
        .map(|info| info.remove("contact"));
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schemas/openapi.json is the generated document. On a
    /// difference the file is rewritten (commit it) and the test fails.
    #[test]
    fn committed_openapi_matches_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/openapi.json");
        let generated = format!(
            "{}\n",
            serde_json::to_string_pretty(&document()).expect("json")
        );
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != generated {
            std::fs::write(&path, &generated).expect("write schemas/openapi.json");
            panic!(
                "schemas/openapi.json was out of date with the code; it has been regenerated: review and commit it"
            );
        }
    }

    #[test]
    fn the_document_holds_exactly_the_routes_of_the_table() {
        let doc = document();
        let mut documented = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
        documented.sort();
        let mut table: Vec<(String, String)> = ROUTES
            .iter()
            .map(|route| (route.method.to_string(), route.path.to_string()))
            .collect();
        table.sort();
        assert_eq!(documented, table);
    }

    #[test]
    fn a_route_is_secured_in_the_document_exactly_when_it_is_not_public() {
        // The end-to-end tests tell public routes from the others by this.
        let doc = document();
        for route in ROUTES {
            let operation = &doc["paths"][route.path][route.method.to_lowercase()];
            assert_eq!(
                operation["security"].is_array(),
                route.access != super::super::Access::Public,
                "{} {}",
                route.method,
                route.path
            );
        }
    }
}
