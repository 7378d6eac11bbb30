//! The route table: every route of the API written once, with the handler
//! that answers it, who may call it, which rate limit it passes and the
//! problem answers it shares with other routes. The router registers the
//! table, the OpenAPI document is assembled from it (`openapi::document`),
//! and the end-to-end tests read the routes
//! back from that document (`schemas/openapi.json`), so there is no copy to
//! keep in step.
//!
//! A handler's `#[utoipa::path]` attribute documents what is particular to
//! it (parameters, body, success and its own refusals); what the table says
//! is added to its operation here: the security schemes and the 401 of
//! every non-public route, and the shared problems of [`SharedAnswer`].

use axum::routing::MethodRouter;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

use super::ServerState;
use super::{
    admin, api_document, audit, auth, connections, console, flows, grants, groups, health,
    namespaces, orgs, reports, runs, schedules, secrets, users,
};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, login, the web console's static files).
    Public,
    /// An authenticated caller; the command checks the caller's role (and
    /// answers only about the caller, their org, or what a superuser may
    /// see).
    Authenticated,
    /// An authenticated caller, and the command asks `authorize` (or the
    /// group rules) about the resource the request names: 404 when the
    /// caller may not see it, 403 when they may see it but not do this.
    Authorized,
}

/// Which per-client rate limit a route passes besides the general one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Only the general limit, which every request passes.
    General,
    /// The stricter sign-in limit as well (login).
    SignIn,
}

/// A problem answer many routes give, with the one description the
/// document shows for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedAnswer {
    /// 400: a body the handler itself finds malformed.
    Malformed,
    /// 403: the caller may see the resource but not do this.
    Forbidden,
    /// 404: the resource is missing or not visible to the caller.
    NotFound,
    /// 409: the request conflicts with the current state.
    Conflict,
    /// 422: a field is invalid.
    Invalid,
}

impl SharedAnswer {
    /// The status, as the document keys it.
    pub fn status(self) -> &'static str {
        match self {
            SharedAnswer::Malformed => "400",
            SharedAnswer::Forbidden => "403",
            SharedAnswer::NotFound => "404",
            SharedAnswer::Conflict => "409",
            SharedAnswer::Invalid => "422",
        }
    }

    /// What the document says about it.
    pub fn description(self) -> &'static str {
        match self {
            SharedAnswer::Malformed => "malformed request",
            SharedAnswer::Forbidden => "not allowed",
            SharedAnswer::NotFound => "not found or not visible",
            SharedAnswer::Conflict => "conflicts with the current state",
            SharedAnswer::Invalid => "a field is invalid",
        }
    }
}

/// The 401 every non-public route answers without valid credentials.
const UNAUTHENTICATED: (&str, &str) = ("401", "no valid credentials");

/// One route of the table.
#[derive(Clone, Copy)]
pub struct Route {
    /// The HTTP method, upper case (`GET`).
    pub method: &'static str,
    /// The path, with `{name}` parameters as axum and OpenAPI write them.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The rate limit it passes besides the general one.
    pub limit: Limit,
    /// The shared problem answers it gives, besides the 401 its access
    /// implies.
    pub answers: &'static [SharedAnswer],
    /// The handler, on this method only.
    pub handler: fn() -> MethodRouter<ServerState>,
    /// The handler's own documentation (its `#[utoipa::path]`), as a
    /// document holding this one operation.
    pub documentation: fn() -> utoipa::openapi::OpenApi,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("access", &self.access)
            .field("limit", &self.limit)
            .field("answers", &self.answers)
            .finish_non_exhaustive()
    }
}

impl Route {
    /// The route's operation as the document shows it: the handler's own
    /// documentation with what the table says added (security and 401 for
    /// a non-public route, the shared problems). `None` when the handler's
    /// documentation is not of exactly this method and path (a test holds
    /// every route to it).
    pub fn operation(&self) -> Option<Operation> {
        let mut only = only_path(self)?;
        let operation = match self.method {
            "GET" => only.get.take(),
            "PUT" => only.put.take(),
            "POST" => only.post.take(),
            "DELETE" => only.delete.take(),
            "PATCH" => only.patch.take(),
            _ => None,
        };
        let others = [
            &only.get,
            &only.put,
            &only.post,
            &only.delete,
            &only.patch,
            &only.head,
            &only.options,
            &only.trace,
        ];
        if others.iter().any(|other| other.is_some()) {
            return None;
        }
        let mut operation = operation?;
        if self.access != Access::Public {
            operation.security = Some(vec![
                SecurityRequirement::new("bearer", Vec::<String>::new()),
                SecurityRequirement::new("cookie", Vec::<String>::new()),
            ]);
            add_problem(&mut operation, UNAUTHENTICATED.0, UNAUTHENTICATED.1);
        }
        for answer in self.answers {
            add_problem(&mut operation, answer.status(), answer.description());
        }
        Some(operation)
    }

    /// The schemas the handler's documentation brings along.
    pub fn components(&self) -> Option<utoipa::openapi::Components> {
        (self.documentation)().components
    }
}

/// The one path item the route's documentation holds, when it holds
/// exactly one and at the route's path.
fn only_path(route: &Route) -> Option<utoipa::openapi::PathItem> {
    let mut paths = (route.documentation)().paths.paths.into_iter();
    match (paths.next(), paths.next()) {
        (Some((path, item)), None) if path == route.path => Some(item),
        _ => None,
    }
}

/// Adds a problem+json answer to `operation`, unless the handler
/// documents that status itself.
fn add_problem(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
                .into()
        });
}

/// The handler of a table row, on its method only.
macro_rules! on_method {
    (GET, $($handler:tt)+) => { axum::routing::get($($handler)+) };
    (POST, $($handler:tt)+) => { axum::routing::post($($handler)+) };
    (PUT, $($handler:tt)+) => { axum::routing::put($($handler)+) };
    (PATCH, $($handler:tt)+) => { axum::routing::patch($($handler)+) };
    (DELETE, $($handler:tt)+) => { axum::routing::delete($($handler)+) };
}

/// Builds [`ROUTES`] from its rows:
/// `METHOD "path" => module::handler, Access, Limit, [SharedAnswer, ...];`.
macro_rules! route_table {
    ($($method:ident $path:literal => $($handler:ident)::+, $access:ident, $limit:ident, [$($answer:ident),*];)*) => {
        /// Every route, in the order the API was built.
        pub static ROUTES: &[Route] = &[$(
            Route {
                method: stringify!($method),
                path: $path,
                access: Access::$access,
                limit: Limit::$limit,
                answers: &[$(SharedAnswer::$answer),*],
                handler: || on_method!($method, $($handler)::+),
                documentation: || {
                    #[derive(utoipa::OpenApi)]
                    #[openapi(paths($($handler)::+))]
                    struct Documented;
                    <Documented as utoipa::OpenApi>::openapi()
                },
            }
        ),*];
    };
}

route_table! {
    GET "/health" => health::health, Public, General, [];
    GET "/openapi.json" => api_document::serve, Public, General, [];
    GET "/" => console::index, Public, General, [];
    GET "/console/{asset}" => console::asset, Public, General, [];
    POST "/api/v1/auth/login" => auth::login, Public, SignIn, [];
    POST "/api/v1/auth/logout" => auth::logout, Authenticated, General, [Malformed];
    GET "/api/v1/auth/me" => auth::me, Authenticated, General, [];
    POST "/api/v1/auth/api-keys" => auth::create_api_key, Authenticated, General, [Forbidden, Invalid];
    GET "/api/v1/auth/api-keys" => auth::list_api_keys, Authenticated, General, [];
    DELETE "/api/v1/auth/api-keys/{id}" => auth::revoke_api_key, Authenticated, General, [NotFound, Conflict, Invalid];
    POST "/api/v1/users" => users::create, Authenticated, General, [Malformed, Forbidden, Conflict, Invalid];
    GET "/api/v1/users" => users::list, Authenticated, General, [Forbidden, Invalid];
    GET "/api/v1/users/{id}" => users::get, Authenticated, General, [Forbidden, NotFound, Invalid];
    PATCH "/api/v1/users/{id}" => users::update, Authenticated, General, [Malformed, Forbidden, NotFound, Conflict, Invalid];
    DELETE "/api/v1/users/{id}" => users::delete, Authenticated, General, [Forbidden, NotFound, Conflict, Invalid];
    POST "/api/v1/users/{id}/erase" => users::erase, Authenticated, General, [Malformed, Invalid];
    PUT "/api/v1/users/me/password" => users::change_own_password, Authenticated, General, [Forbidden, Invalid];
    POST "/api/v1/orgs" => orgs::create, Authenticated, General, [Forbidden, Conflict, Invalid];
    GET "/api/v1/orgs" => orgs::list, Authenticated, General, [];
    POST "/api/v1/orgs/{id}/members" => orgs::add_member, Authenticated, General, [Forbidden, NotFound, Conflict, Invalid];
    DELETE "/api/v1/orgs/{id}/members/{user_id}" => orgs::remove_member, Authenticated, General, [Forbidden, NotFound, Conflict, Invalid];
    POST "/api/v1/groups" => groups::create, Authenticated, General, [Forbidden, Conflict, Invalid];
    GET "/api/v1/groups" => groups::list, Authenticated, General, [Invalid];
    GET "/api/v1/groups/{id}" => groups::get, Authorized, General, [NotFound, Invalid];
    DELETE "/api/v1/groups/{id}" => groups::delete, Authorized, General, [Forbidden, NotFound, Invalid];
    POST "/api/v1/groups/{id}/members" => groups::add_member, Authorized, General, [Forbidden, NotFound, Conflict, Invalid];
    PATCH "/api/v1/groups/{id}/members/{user_id}" => groups::update_member, Authorized, General, [Forbidden, NotFound, Conflict, Invalid];
    DELETE "/api/v1/groups/{id}/members/{user_id}" => groups::remove_member, Authorized, General, [Forbidden, NotFound, Conflict, Invalid];
    POST "/api/v1/namespaces" => namespaces::create, Authorized, General, [Forbidden, Conflict, Invalid];
    GET "/api/v1/namespaces" => namespaces::list, Authorized, General, [Invalid];
    GET "/api/v1/namespaces/{id}" => namespaces::get, Authorized, General, [Forbidden, NotFound, Invalid];
    PATCH "/api/v1/namespaces/{id}" => namespaces::update, Authorized, General, [Forbidden, NotFound, Conflict, Invalid];
    DELETE "/api/v1/namespaces/{id}" => namespaces::delete, Authorized, General, [Forbidden, NotFound, Conflict, Invalid];
    POST "/api/v1/flows" => flows::create, Authorized, General, [Forbidden, Conflict, Invalid];
    GET "/api/v1/flows" => flows::list, Authorized, General, [Invalid];
    GET "/api/v1/flows/{id}" => flows::get, Authorized, General, [Forbidden, NotFound, Invalid];
    PUT "/api/v1/flows/{id}" => flows::update, Authorized, General, [Forbidden, NotFound, Conflict, Invalid];
    DELETE "/api/v1/flows/{id}" => flows::delete, Authorized, General, [Forbidden, NotFound, Invalid];
    POST "/api/v1/grants" => grants::create, Authorized, General, [Forbidden, NotFound, Conflict, Invalid];
    GET "/api/v1/grants" => grants::list, Authorized, General, [Invalid];
    DELETE "/api/v1/grants/{id}" => grants::revoke, Authorized, General, [Forbidden, NotFound, Invalid];
    GET "/api/v1/access/explain" => grants::explain, Authorized, General, [Invalid];
    GET "/api/v1/audit/events" => audit::events, Authenticated, General, [Forbidden, Invalid];
    GET "/api/v1/audit/export" => audit::export, Authenticated, General, [Forbidden, Invalid];
    GET "/api/v1/audit/verify" => audit::verify, Authenticated, General, [Forbidden];
    GET "/api/v1/audit/checkpoints" => audit::checkpoints, Authenticated, General, [Forbidden, Invalid];
    GET "/api/v1/audit/public-key" => audit::public_key, Authenticated, General, [Forbidden];
    GET "/api/v1/audit/retention" => audit::retention, Authenticated, General, [Forbidden];
    PUT "/api/v1/audit/retention" => audit::set_retention, Authenticated, General, [Forbidden];
    GET "/api/v1/reports/access-review" => reports::access_review, Authenticated, General, [Forbidden, Invalid];
    GET "/api/v1/reports/activity" => reports::activity, Authenticated, General, [Forbidden, Invalid];
    GET "/api/v1/reports/secret-usage" => reports::secret_usage, Authenticated, General, [Forbidden, Invalid];
    GET "/api/v1/admin/backup" => admin::backup, Authenticated, General, [];
    POST "/api/v1/secrets" => secrets::create, Authorized, General, [Forbidden, Conflict, Invalid];
    GET "/api/v1/secrets" => secrets::list, Authorized, General, [Invalid];
    GET "/api/v1/secrets/{id}" => secrets::get, Authorized, General, [Forbidden, NotFound, Invalid];
    PUT "/api/v1/secrets/{id}" => secrets::rotate, Authorized, General, [Forbidden, NotFound, Invalid];
    DELETE "/api/v1/secrets/{id}" => secrets::delete, Authorized, General, [Forbidden, NotFound, Invalid];
    POST "/api/v1/secrets/{id}/reveal" => secrets::reveal, Authorized, General, [Forbidden, NotFound, Invalid];
    POST "/api/v1/connections" => connections::create, Authorized, General, [Forbidden, Conflict, Invalid];
    GET "/api/v1/connections" => connections::list, Authorized, General, [Invalid];
    GET "/api/v1/connections/{id}" => connections::get, Authorized, General, [Forbidden, NotFound, Invalid];
    PATCH "/api/v1/connections/{id}" => connections::update, Authorized, General, [Forbidden, NotFound, Conflict, Invalid];
    DELETE "/api/v1/connections/{id}" => connections::delete, Authorized, General, [Forbidden, NotFound, Invalid];
    POST "/api/v1/flows/{id}/runs" => runs::start, Authorized, General, [Forbidden, NotFound];
    GET "/api/v1/runs" => runs::list, Authorized, General, [Invalid];
    GET "/api/v1/runs/{id}" => runs::get, Authorized, General, [NotFound, Invalid];
    POST "/api/v1/schedules" => schedules::create, Authorized, General, [Forbidden];
    GET "/api/v1/schedules" => schedules::list, Authorized, General, [Invalid];
    DELETE "/api/v1/schedules/{id}" => schedules::delete, Authorized, General, [Forbidden, NotFound, Invalid];
    PATCH "/api/v1/schedules/{id}" => schedules::update, Authorized, General, [NotFound, Invalid];
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_route_is_documented_as_exactly_its_method_and_path() {
        for route in ROUTES {
            assert!(
                route.operation().is_some(),
                "{} {}: the handler's #[utoipa::path] documents another method or path",
                route.method,
                route.path
            );
        }
    }

    #[test]
    fn no_route_is_listed_twice() {
        let distinct: BTreeSet<(&str, &str)> = ROUTES
            .iter()
            .map(|route| (route.method, route.path))
            .collect();
        assert_eq!(distinct.len(), ROUTES.len());
    }

    #[test]
    fn a_shared_answer_is_not_also_written_on_the_handler() {
        // Declared once: a handler that documents a status itself says
        // something particular about it, so the table must not list it too
        // (its shared description would be silently dropped).
        for route in ROUTES {
            let Some(own) = only_path(route) else {
                continue;
            };
            let operations = [own.get, own.put, own.post, own.delete, own.patch];
            for operation in operations.into_iter().flatten() {
                let statuses: Vec<String> = route
                    .answers
                    .iter()
                    .map(|answer| answer.status().to_string())
                    .chain((route.access != Access::Public).then(|| UNAUTHENTICATED.0.to_string()))
                    .collect();
                for status in statuses {
                    assert!(
                        !operation.responses.responses.contains_key(&status),
                        "{} {}: {status} is both in the table and on the handler",
                        route.method,
                        route.path
                    );
                }
                assert!(
                    operation.security.is_none(),
                    "{} {}: security comes from the table's access",
                    route.method,
                    route.path
                );
            }
        }
    }

    #[test]
    fn only_login_passes_the_sign_in_limit() {
        let sign_in: Vec<&str> = ROUTES
            .iter()
            .filter(|route| route.limit == Limit::SignIn)
            .map(|route| route.path)
            .collect();
        assert_eq!(sign_in, ["/api/v1/auth/login"]);
    }
}
