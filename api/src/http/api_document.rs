//! `GET /openapi.json`: the API's OpenAPI document, built once with the
//! router (from the route table, `openapi::document`) and handed to this
//! handler as a request extension, so the handler that serves the document
//! does not depend on the table that lists it.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// The document, serialized once.
#[derive(Clone, Debug)]
pub struct ApiDocument(Arc<Bytes>);

impl ApiDocument {
    /// The document as served.
    pub fn new(document: &serde_json::Value) -> ApiDocument {
        ApiDocument(Arc::new(Bytes::from(
            serde_json::to_vec(document).unwrap_or_default(),
        )))
    }
}

/// `GET /openapi.json`.
#[utoipa::path(get, path = "/openapi.json", tag = "system", responses((status = 200, description = "this OpenAPI 3.1 document")))]
pub async fn serve(Extension(document): Extension<ApiDocument>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        Bytes::clone(&document.0),
    )
}
