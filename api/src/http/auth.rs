//! `/api/v1/auth`: login (which sets the session and CSRF cookies), logout
//! (which clears them), me, API keys.

use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cairn_schemas::api::{
    ApiKeyBody, CreateApiKeyRequest, CreatedApiKeyBody, LoginRequest, LoginResponse, MeResponse,
};

use cairn_app::principal::Credential;
use cairn_app::{CommandError, api_keys, login, users};

use super::refusals::RefusalRecorded;

use super::ServerState;
use super::caller::{Caller, SESSION_COOKIE, Visitor};
use super::csrf;
use super::json_body::JsonBody;
use super::params::PathIds;
use super::problem::{ApiError, Problem};
use cairn_schemas::api::Page;

fn session_cookie(token: &str, max_age: u64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// `POST /api/v1/auth/login`.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 400, description = "malformed request", body = Problem, content_type = "application/problem+json"), (status = 401, description = "invalid credentials (the same for an unknown user, an inactive account and an org the user is not in)", body = Problem, content_type = "application/problem+json"), (status = 422, description = "a field is invalid", body = Problem, content_type = "application/problem+json"), (status = 429, description = "rate limited or username locked", body = Problem, content_type = "application/problem+json"), (status = 503, description = "overloaded: shed", body = Problem, content_type = "application/problem+json")))]
pub async fn login(
    State(state): State<ServerState>,
    visitor: Visitor,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let outcome = match login::login(&visitor.app, request, &visitor.origin).await {
        Ok(outcome) => outcome,
        Err(error) => {
            // A failed login records its own `auth.login_failed` event;
            // input errors (a malformed username) do not.
            let recorded = matches!(
                error,
                CommandError::InvalidCredentials
                    | CommandError::Forbidden(_)
                    | CommandError::Locked { .. }
            );
            let mut response = ApiError::from(error).into_response();
            if recorded {
                response.extensions_mut().insert(RefusalRecorded);
            }
            return Ok(response);
        }
    };
    let token = state
        .session_tokens()
        .issue(&outcome.claims)
        .map_err(|error| {
            tracing::error!(%error, "signing a session token failed");
            ApiError::internal()
        })?;
    let cookie = session_cookie(&token, outcome.expires_in, state.secure_cookies());
    let csrf = csrf::csrf_cookie(
        &csrf::new_token(visitor.app.entropy()),
        outcome.expires_in,
        state.secure_cookies(),
    );
    let body = LoginResponse {
        access_token: token,
        token_type: "Bearer".into(),
        expires_in: outcome.expires_in,
        user: outcome.user,
        password_change_required: outcome.password_change_required,
    };
    let mut response = Json(body).into_response();
    for cookie in [cookie, csrf].into_iter().flatten() {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `POST /api/v1/auth/logout`.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204, description = "session ended")))]
pub async fn logout(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    login::logout(&caller.app, &caller.principal, &caller.origin).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let cleared = [
        session_cookie("", 0, state.secure_cookies()),
        csrf::csrf_cookie("", 0, state.secure_cookies()),
    ];
    for cookie in cleared.into_iter().flatten() {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `GET /api/v1/auth/me`.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, body = MeResponse)))]
pub async fn me(caller: Caller) -> Result<Json<MeResponse>, ApiError> {
    let views = caller.app.views();
    let user = views
        .users
        .get(&caller.principal.user_id)
        .ok_or_else(ApiError::unauthorized)?;
    Ok(Json(MeResponse {
        user: users::user_body(&views, user, Some(caller.principal.org_id)),
        org_id: caller.principal.org_id,
        role: caller.principal.role.as_str().to_string(),
        credential: match caller.principal.credential {
            Credential::Session(_) => "session".into(),
            Credential::ApiKey(_) => "api_key".into(),
        },
        password_change_required: user.password_change_required,
    }))
}

/// `POST /api/v1/auth/api-keys`.
#[utoipa::path(post, path = "/api/v1/auth/api-keys", tag = "auth", request_body = CreateApiKeyRequest, responses((status = 201, body = CreatedApiKeyBody)))]
pub async fn create_api_key(
    caller: Caller,
    JsonBody(request): JsonBody<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<CreatedApiKeyBody>), ApiError> {
    let created =
        api_keys::create_api_key(&caller.app, &caller.principal, request, &caller.origin).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /api/v1/auth/api-keys`.
#[utoipa::path(get, path = "/api/v1/auth/api-keys", tag = "auth", responses((status = 200, body = Page<ApiKeyBody>)))]
pub async fn list_api_keys(caller: Caller) -> Json<Page<ApiKeyBody>> {
    Json(Page {
        items: api_keys::list_api_keys(&caller.app, &caller.principal),
        next: None,
    })
}

/// `DELETE /api/v1/auth/api-keys/{id}`.
#[utoipa::path(delete, path = "/api/v1/auth/api-keys/{id}", tag = "auth", params(("id" = uuid::Uuid, Path)), responses((status = 204, description = "revoked")))]
pub async fn revoke_api_key(caller: Caller, PathIds(ids): PathIds) -> Result<StatusCode, ApiError> {
    let id = *ids.first().ok_or_else(ApiError::not_found)?;
    api_keys::revoke_api_key(&caller.app, &caller.principal, id, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
