//! `tiendo serve`: the web pages and the HTTP API, with the deadline scheduler and the email
//! relay running in the same process (as `tiendo worker` runs them alone). Settings come from the environment (see
//! `adapters::http::configuration`); `--listen` and `--data-dir` override theirs.

use std::path::PathBuf;

use adapters::http::{Application, Settings, telemetry};

use super::{Ctx, Failure};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (IP:PORT). Port 0 picks a free one.
    #[arg(long, env = "TIENDO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Where document files are stored.
    #[arg(long, env = "TIENDO_DATA_DIR", default_value = "tiendo-data")]
    pub data_dir: PathBuf,
    /// Do not run the deadline scheduler and email relay in this process (run `tiendo worker`
    /// elsewhere instead).
    #[arg(long)]
    pub no_scheduler: bool,
}

pub async fn run(args: &ServeArgs, ctx: &Ctx<'_>) -> Result<String, Failure> {
    telemetry::init_subscriber();
    let settings = Settings::from_env(Some(&args.listen), Some(args.data_dir.clone()))
        .map_err(|e| Failure::usage(format!("Cấu hình không hợp lệ: {e}")))?;
    let store = ctx.store().await?;
    let scheduler = if args.no_scheduler {
        None
    } else {
        Some(super::worker::scheduler_from_env(&store)?)
    };
    let app = Application::build(settings.clone(), store.clone())
        .await
        .map_err(|e| Failure::refused(format!("Không mở được cổng {}: {e}", args.listen)))?;
    let addr = app
        .local_addr()
        .map_err(|e| Failure::refused(format!("Không đọc được địa chỉ đang lắng nghe: {e}")))?;
    tracing::info!(
        %addr,
        backend = store.backend().as_str(),
        data_dir = %settings.data_dir.display(),
        cookie_secure = settings.cookie_secure,
        scheduler = scheduler.is_some(),
        "tiendo serve: listening"
    );
    eprintln!("tiendo: trang web http://{addr}/ — API http://{addr}/api/v1 (Ctrl-C để dừng)");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let scheduler_task = scheduler.map(|s| {
        let mut rx = stop_rx.clone();
        tokio::spawn(s.run(async move {
            let _ = rx.changed().await;
        }))
    });
    let mut rx = stop_rx.clone();
    let server = app.run_until_stopped(async move {
        let _ = rx.changed().await;
    });
    tokio::pin!(server);
    let served = tokio::select! {
        r = &mut server => r,
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("stopping: finishing requests in flight");
            let _ = stop_tx.send(true);
            (&mut server).await
        }
    };
    let _ = stop_tx.send(true);
    if let Some(t) = scheduler_task {
        let _ = t.await;
    }
    store.close().await;
    served.map_err(|e| Failure::refused(format!("Máy chủ HTTP dừng vì lỗi: {e}")))?;
    Ok(String::new())
}
