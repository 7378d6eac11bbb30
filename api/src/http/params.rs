//! Path ids and list parameters, parsed strictly: a bad value is a 422 that
//! names the parameter, never axum's plain-text rejection.

use axum::extract::{FromRequestParts, RawPathParams, RawQuery};
use axum::http::request::Parts;
use uuid::Uuid;

use super::problem::ApiError;

/// The default page size.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page size.
pub const MAX_LIMIT: usize = 500;

/// The `key=value` pairs of a query string, in order (a key without `=`
/// has an empty value).
pub fn query_pairs(query: Option<&str>) -> impl Iterator<Item = (&str, &str)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// A query parameter that must be a UUID.
pub fn uuid_param(field: &'static str, value: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(value).map_err(|_| ApiError::validation(field, "is not a UUID"))
}

/// A query parameter that must be a seq.
pub fn seq_param(field: &'static str, value: &str) -> Result<u64, ApiError> {
    value
        .parse()
        .map_err(|_| ApiError::validation(field, "must be a seq (a whole number)"))
}

/// The UUIDs of a path, in order (`/orgs/{id}/members/{user_id}`).
#[derive(Debug)]
pub struct PathIds(pub Vec<Uuid>);

impl<S: Send + Sync> FromRequestParts<S> for PathIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        params
            .iter()
            .map(|(name, value)| {
                Uuid::parse_str(value)
                    .map_err(|_| ApiError::validation(name.to_string(), "is not a UUID"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(PathIds)
    }
}

/// `?limit=&after=` of a list endpoint.
#[derive(Debug)]
pub struct ListParams {
    /// Page size.
    pub limit: usize,
    /// The cursor: the id of the last item of the previous page.
    pub after: Option<Uuid>,
}

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let RawQuery(query) = RawQuery::from_request_parts(parts, state)
            .await
            .unwrap_or(RawQuery(None));
        let mut params = ListParams {
            limit: DEFAULT_LIMIT,
            after: None,
        };
        for pair in query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "limit" => {
                    params.limit = value
                        .parse()
                        .ok()
                        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                        .ok_or_else(|| {
                            ApiError::validation(
                                "limit",
                                format!("must be a number from 1 to {MAX_LIMIT}"),
                            )
                        })?;
                }
                "after" => {
                    params.after = Some(
                        Uuid::parse_str(value)
                            .map_err(|_| ApiError::validation("after", "is not a cursor"))?,
                    );
                }
                _ => {
                    return Err(ApiError::validation(
                        "query",
                        "unknown parameter; expected limit and after",
                    ));
                }
            }
        }
        Ok(params)
    }
}

/// The first id of a path.
pub fn first(ids: &[Uuid]) -> Result<Uuid, ApiError> {
    ids.first().copied().ok_or_else(ApiError::not_found)
}

/// The first two ids of a path.
pub fn two(ids: &[Uuid]) -> Result<(Uuid, Uuid), ApiError> {
    match ids {
        [a, b, ..] => Ok((*a, *b)),
        _ => Err(ApiError::not_found()),
    }
}
