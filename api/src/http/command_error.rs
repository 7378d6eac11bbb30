//! How a command's refusal becomes an HTTP answer. An internal failure is
//! logged here with its detail; the client only ever sees "internal error".

use cairn_app::CommandError;

use super::problem::ApiError;

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::Invalid { field, message } => ApiError::validation(field, message),
            CommandError::BadRequest(message) => ApiError::bad_request(message),
            CommandError::Unauthenticated => ApiError::unauthorized(),
            CommandError::InvalidCredentials => ApiError::invalid_credentials(),
            CommandError::Forbidden(message) => ApiError::forbidden(message),
            CommandError::NotFound => ApiError::not_found(),
            CommandError::Denied(denial) => {
                let answer = if denial.visible {
                    ApiError::forbidden(denial.reason.clone())
                } else {
                    ApiError::not_found()
                };
                answer.with_denial(*denial)
            }
            CommandError::Conflict(message) => ApiError::conflict(message),
            CommandError::Locked { retry_after_secs } => ApiError::too_many_requests(
                retry_after_secs,
                "too many failed logins for this username; try again later",
            ),
            CommandError::Overloaded => ApiError::overloaded(1),
            CommandError::Limited {
                message,
                retry_after_secs,
            } => ApiError::too_many_requests(retry_after_secs, message),
            CommandError::Internal(detail) => {
                tracing::error!(%detail, "a command failed");
                ApiError::internal()
            }
        }
    }
}
