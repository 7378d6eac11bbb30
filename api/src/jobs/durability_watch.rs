//! A failed sync is fatal: this job notices it and reports it, so the
//! server logs it and exits non-zero (nothing is acknowledged after the log
//! lost the ability to make records durable).

use std::sync::Arc;

use cairn_core::log::DurableState;

use cairn_app::App;

/// Resolves with the failure message when the log fails.
pub async fn wait_for_failure(app: Arc<App>) -> String {
    let mut changes = app.log().durable_changes();
    loop {
        if let DurableState::Failed(message) = &*changes.borrow_and_update() {
            return message.clone();
        }
        if changes.changed().await.is_err() {
            return "the log closed unexpectedly".into();
        }
    }
}
