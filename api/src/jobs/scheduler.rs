//! The scheduler: every tick (a second), the schedules with due times are
//! fired, missed or denied (`app::schedules::fire`), by the app clock.

use std::sync::Arc;
use std::time::Duration;

use cairn_app::App;
use cairn_app::schedules::fire_due;

/// How often the scheduler looks.
pub const TICK: Duration = Duration::from_secs(1);

/// Runs until the task is aborted. A failed tick is logged; the next one
/// tries again (nothing was recorded, so nothing is lost).
pub async fn run(app: Arc<App>, tick: Duration) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match fire_due(&app).await {
            Ok(0) => {}
            Ok(count) => tracing::debug!(count, "schedules came due"),
            Err(error) => tracing::error!(%error, "firing schedules failed"),
        }
    }
}
