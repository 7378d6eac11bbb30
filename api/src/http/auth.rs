//! `/api/v1/auth`: login, logout, me, API keys.

use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cairn_schemas::api::{
    ApiKeyBody, CreateApiKeyRequest, CreatedApiKeyBody, LoginRequest, LoginResponse, MeResponse,
};

use crate::app::principal::Credential;
use crate::app::{api_keys, login, users};

use super::ServerState;
use super::caller::{Caller, SESSION_COOKIE, Visitor};
use super::json_body::JsonBody;
use super::params::PathIds;
use super::problem::ApiError;

fn session_cookie(token: &str, max_age: u64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// `POST /api/v1/auth/login`.
pub async fn login(
    State(state): State<ServerState>,
    visitor: Visitor,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let outcome = login::login(&visitor.app, request, &visitor.origin).await?;
    let cookie = session_cookie(&outcome.token, outcome.expires_in, state.secure_cookies());
    let body = LoginResponse {
        access_token: outcome.token,
        token_type: "Bearer".into(),
        expires_in: outcome.expires_in,
        user: outcome.user,
    };
    let mut response = Json(body).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `POST /api/v1/auth/logout`.
pub async fn logout(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    login::logout(&caller.app, &caller.principal, &caller.origin).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(cookie) = session_cookie("", 0, state.secure_cookies()) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `GET /api/v1/auth/me`.
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
    }))
}

/// `POST /api/v1/auth/api-keys`.
pub async fn create_api_key(
    caller: Caller,
    JsonBody(request): JsonBody<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<CreatedApiKeyBody>), ApiError> {
    let created =
        api_keys::create_api_key(&caller.app, &caller.principal, request, &caller.origin).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /api/v1/auth/api-keys`.
pub async fn list_api_keys(caller: Caller) -> Json<cairn_schemas::api::Page<ApiKeyBody>> {
    Json(cairn_schemas::api::Page {
        items: api_keys::list_api_keys(&caller.app, &caller.principal),
        next: None,
    })
}

/// `DELETE /api/v1/auth/api-keys/{id}`.
pub async fn revoke_api_key(caller: Caller, PathIds(ids): PathIds) -> Result<StatusCode, ApiError> {
    let id = *ids.first().ok_or_else(ApiError::not_found)?;
    api_keys::revoke_api_key(&caller.app, &caller.principal, id, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
