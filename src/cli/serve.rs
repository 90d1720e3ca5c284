//! `tiendo serve`: the web pages and the HTTP API, with the deadline scheduler and the email relay
//! running in the same process (as `tiendo worker` runs them alone). Settings come from the
//! configuration tree (`adapters::configuration`); `--listen` and `--data-dir` override theirs.

use std::path::PathBuf;

use adapters::configuration::Settings;
use adapters::files::FileStore;
use adapters::http::Application;

use super::{Ctx, Failure, shutdown};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (IP:PORT; port 0 picks a free one). Default: TIENDO_LISTEN, else
    /// 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Where document files are stored. Default: TIENDO_DATA_DIR, else ./tiendo-data.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Do not run the deadline scheduler and email relay in this process (run `tiendo worker`
    /// elsewhere instead).
    #[arg(long)]
    pub no_scheduler: bool,
}

#[tracing::instrument(name = "serve", skip_all)]
pub async fn run(args: &ServeArgs, ctx: &Ctx<'_>, settings: &Settings) -> Result<String, Failure> {
    let store = ctx.store().await?;
    // Caught from here on, before any work starts (see `shutdown`).
    let stop_signal = shutdown::listen();
    let scheduler = if args.no_scheduler {
        None
    } else {
        Some(super::worker::scheduler(
            &store,
            &settings.scheduler,
            &settings.email,
        )?)
    };
    let files = FileStore::new(&settings.data_dir);
    files.writable().map_err(|e| {
        Failure::refused(format!(
            "Không ghi được vào thư mục tài liệu {} ({e}): hãy tạo thư mục và cấp quyền ghi cho người dùng chạy tiendo (TIENDO_DATA_DIR, --data-dir).",
            settings.data_dir.join("documents").display()
        ))
    })?;
    let http = settings.http.clone();
    let app = Application::build(http.clone(), store.clone(), files)
        .await
        .map_err(|e| Failure::refused(format!("Không mở được cổng {}: {e}", http.listen)))?;
    let addr = app
        .local_addr()
        .map_err(|e| Failure::refused(format!("Không đọc được địa chỉ đang lắng nghe: {e}")))?;
    tracing::info!(
        %addr,
        backend = store.backend().as_str(),
        database = %ctx.database_shown(),
        data_dir = %settings.data_dir.display(),
        cookie_secure = http.cookie_secure,
        scheduler = scheduler.is_some(),
        "tiendo serve: listening"
    );
    eprintln!(
        "tiendo: trang web http://{addr}/ — API http://{addr}/api/v1 (Ctrl-C hoặc SIGTERM để dừng)"
    );

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
    // SIGINT or SIGTERM: stop accepting, finish the requests in flight and the scheduler's
    // current pass (each within `DRAIN`), release the scheduler's leases, exit 0.
    let served = tokio::select! {
        r = &mut server => r,
        signal = stop_signal.recv() => {
            tracing::info!(signal, "stopping: finishing requests in flight");
            let _ = stop_tx.send(true);
            match tokio::time::timeout(shutdown::DRAIN, &mut server).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!(seconds = shutdown::DRAIN.as_secs(), "requests still in flight after the drain: abandoned");
                    Ok(())
                }
            }
        }
    };
    let _ = stop_tx.send(true);
    if let Some(t) = scheduler_task
        && tokio::time::timeout(shutdown::DRAIN, t).await.is_err()
    {
        tracing::warn!("the scheduler's pass did not finish within the drain: abandoned");
    }
    tracing::info!("tiendo serve stopped");
    store.close().await;
    served.map_err(|e| Failure::refused(format!("Máy chủ HTTP dừng vì lỗi: {e}")))?;
    Ok(String::new())
}
