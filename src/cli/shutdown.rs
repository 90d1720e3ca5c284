//! Stopping a long-running command (`serve`, `worker`) gracefully: on Ctrl-C (SIGINT) as on the
//! SIGTERM that systemd and container runtimes send. Each stop is bounded: what does not drain
//! within [`DRAIN`] is abandoned (a request left unanswered is retried by its client; a claimed
//! timer or message goes back when its lease runs out).
//!
//! The handlers are installed by [`listen`] once the store is open, before the command starts
//! any work: a signal that arrives while the scheduler takes its first lease is caught, not left
//! to the default action (which would end the process with no drain and no release). One that
//! arrives while the store opens still ends the process at once, as it always did: there is
//! nothing to drain yet.

use std::time::Duration;

/// The longest a stop waits for in-flight requests and the scheduler's current pass.
pub const DRAIN: Duration = Duration::from_secs(20);

/// SIGINT and SIGTERM handlers, installed at once; [`Listener::recv`] waits for the first.
pub struct Listener {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

/// Installs the handlers now (call it inside the runtime, before spawning the work).
pub fn listen() -> Listener {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let signals = match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(int), Ok(term)) => Some((int, term)),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; stopping on Ctrl-C only");
                None
            }
        };
        Listener { signals }
    }
    #[cfg(not(unix))]
    {
        Listener {}
    }
}

impl Listener {
    /// Completes on the first SIGINT or SIGTERM since [`listen`], naming it.
    pub async fn recv(self) -> &'static str {
        #[cfg(unix)]
        if let Some((mut int, mut term)) = self.signals {
            return tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}
