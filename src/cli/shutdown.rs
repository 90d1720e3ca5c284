//! Stopping a long-running command (`serve`, `worker`) gracefully: on Ctrl-C (SIGINT) as on the
//! SIGTERM that systemd and container runtimes send. Each stop is bounded: what does not drain
//! within [`DRAIN`] is abandoned (a request left unanswered is retried by its client; a claimed
//! timer or message goes back when its lease runs out).

use std::time::Duration;

/// The longest a stop waits for in-flight requests and the scheduler's current pass.
pub const DRAIN: Duration = Duration::from_secs(20);

/// Completes on the first SIGINT or SIGTERM, naming it.
pub async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
