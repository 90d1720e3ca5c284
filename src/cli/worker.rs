//! `tiendo worker` and `tiendo outbox …`: the scheduler on its own, and the outbox for operators.

use adapters::configuration::EmailSettings;
use adapters::email::{Mailer, Relay};
use adapters::scheduler::{Scheduler, SchedulerConfig};
use adapters::store::Store;
use chrono::Utc;
use engine::time::format_instant;

use super::{Ctx, Failure, shutdown};

#[derive(Debug, clap::Subcommand)]
pub enum OutboxCmd {
    /// Queued, sent, failed and dead messages, newest first.
    List {
        /// pending | sent | dead | skipped
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Queue dead (or skipped) messages again: one by id, or all with --all.
    Retry {
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

/// The relay for the configured SMTP server, if email is configured.
pub fn relay(store: &Store, email: &EmailSettings, owner: &str) -> Result<Option<Relay>, Failure> {
    let Some(smtp) = &email.smtp else {
        return Ok(None);
    };
    let mailer = Mailer::new(smtp).map_err(|e| {
        Failure::usage(format!(
            "Không dùng được máy chủ SMTP {} (TIENDO_SMTP_HOST): {e}",
            smtp.host
        ))
    })?;
    Ok(Some(Relay::new(
        store.clone(),
        mailer,
        owner,
        email.relay.clone(),
    )))
}

/// The scheduler, with the relay when email is configured.
pub fn scheduler(
    store: &Store,
    cfg: &SchedulerConfig,
    email: &EmailSettings,
) -> Result<Scheduler, Failure> {
    let owner = Scheduler::default_owner();
    let relay = relay(store, email, &owner)?;
    if relay.is_none() {
        tracing::warn!("TIENDO_SMTP_HOST is not set: notifications stay queued in the outbox");
    }
    Ok(Scheduler::new(
        store.clone(),
        cfg.clone(),
        relay,
        owner,
        Utc::now(),
    ))
}

#[tracing::instrument(name = "worker", skip_all)]
pub async fn worker(
    ctx: &Ctx<'_>,
    cfg: &SchedulerConfig,
    email: &EmailSettings,
) -> Result<String, Failure> {
    let store = ctx.store().await?;
    // Caught from here on, before any work starts (see `shutdown`).
    let stop_signal = shutdown::listen();
    let scheduler = scheduler(&store, cfg, email)?;
    tracing::info!(
        backend = store.backend().as_str(),
        database = %ctx.database_shown(),
        "worker started"
    );
    // SIGINT or SIGTERM: the current pass finishes (within `DRAIN`), the leases are released.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(scheduler.run(async move {
        let _ = stop_rx.changed().await;
    }));
    tokio::pin!(running);
    tokio::select! {
        _ = &mut running => {}
        signal = stop_signal.recv() => {
            tracing::info!(signal, "stopping: finishing the scheduler's pass");
            let _ = stop_tx.send(true);
            if tokio::time::timeout(shutdown::DRAIN, &mut running).await.is_err() {
                tracing::warn!("the scheduler's pass did not finish within the drain: abandoned");
            }
        }
    }
    store.close().await;
    tracing::info!("worker stopped");
    Ok(String::new())
}

pub async fn outbox(cmd: &OutboxCmd, ctx: &Ctx<'_>) -> Result<String, Failure> {
    let store = ctx.store().await?;
    match cmd {
        OutboxCmd::List { status, limit } => {
            if let Some(s) = status
                && !["pending", "sent", "dead", "skipped"].contains(&s.as_str())
            {
                return Err(Failure::usage(format!(
                    "Trạng thái `{s}` không hợp lệ; dùng pending, sent, dead hoặc skipped."
                )));
            }
            let rows = store.scheduling().outbox(status.as_deref(), *limit).await?;
            let mut out = String::new();
            for r in &rows {
                out.push_str(&format!(
                    "{}  {:<8} {:<20} lần gửi {}  tạo {}{}{}{}\n",
                    r.id,
                    r.status,
                    r.template,
                    r.attempts,
                    format_instant(r.created_at),
                    r.sent_at
                        .map(|t| format!("  gửi {}", format_instant(t)))
                        .unwrap_or_default(),
                    r.recipients
                        .as_ref()
                        .map(|t| format!("\n    đến: {t}"))
                        .unwrap_or_default(),
                    r.last_error
                        .as_ref()
                        .map(|e| format!("\n    lỗi: {e}"))
                        .unwrap_or_default(),
                ));
            }
            if rows.is_empty() {
                out.push_str("Hộp thư đi trống.\n");
            }
            Ok(out)
        }
        OutboxCmd::Retry { id, all } => {
            if id.is_none() && !all {
                return Err(Failure::usage(
                    "Chỉ rõ mã thư cần gửi lại, hoặc --all để gửi lại mọi thư lỗi.",
                ));
            }
            let n = store
                .scheduling()
                .retry_outbox(id.as_deref(), Utc::now())
                .await?;
            if n == 0 && id.is_some() {
                return Err(Failure::refused(format!(
                    "Không có thư lỗi nào mang mã `{}` (chỉ gửi lại được thư ở trạng thái dead hoặc skipped).",
                    id.as_deref().unwrap_or_default()
                )));
            }
            Ok(format!("Đã đưa {n} thư trở lại hàng đợi.\n"))
        }
    }
}
