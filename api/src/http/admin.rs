//! `/api/v1/admin`: operations on the whole server. `GET
//! /api/v1/admin/backup` streams a consistent backup (superusers only);
//! `cairn backup DIR` calls it when the server runs.

use std::sync::Arc;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use cairn_app::backup;

use super::audit::BodyWriter;
use super::caller::Caller;
use super::problem::{ApiError, Problem};

/// The content type of a backup stream.
pub const BACKUP_CONTENT_TYPE: &str = "application/vnd.cairn.backup";

/// `GET /api/v1/admin/backup`: every record up to the durable head when
/// the request arrived, with the checkpoints, subject keys, export cursors
/// and metadata that belong with them, as one stream ending in a SHA-256.
#[utoipa::path(get, path = "/api/v1/admin/backup", tag = "system", responses((status = 200, description = "the backup stream (docs/operations.md); `cairn backup DIR` writes it with its manifest", content_type = "application/vnd.cairn.backup", body = String), (status = 403, description = "not a superuser", body = Problem, content_type = "application/problem+json")))]
pub async fn backup(caller: Caller) -> Result<Response, ApiError> {
    let head = backup::begin_backup(&caller.app, &caller.principal, &caller.origin).await?;
    let (sender, receiver) = tokio::sync::mpsc::channel(8);
    let app = Arc::clone(&caller.app);
    tokio::task::spawn_blocking(move || {
        let failure = sender.clone();
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, BodyWriter(sender));
        let written = backup::write_planned(&app, head, &mut out);
        let flushed = std::io::Write::flush(&mut out);
        if let Err(error) = written {
            tracing::warn!(%error, "a backup stopped before its end");
            // The body ends with an error: the client sees a cut transfer
            // (and the stream's digest would not match anyway).
            let _ = failure.blocking_send(Err(std::io::Error::other(error)));
        } else if let Err(error) = flushed {
            tracing::warn!(%error, "a backup stopped before its end");
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    Ok((
        [
            (header::CONTENT_TYPE, BACKUP_CONTENT_TYPE.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"cairn-backup-{head}.bin\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
