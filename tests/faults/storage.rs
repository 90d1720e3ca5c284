//! Storage faults: an empty SQLite file (a failed backup, an unfinished restore) is refused
//! unless the operator says `db migrate --init`; a document folder that cannot take a file stops
//! `serve` at start and turns `/ready` 503 with the cause.

use std::process::Command;
use std::time::Duration;

use crate::common::TestDb;
use crate::harness::{self, Server};

fn tiendo(db_url: &str, workflows: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tiendo"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("TIENDO_WORKFLOWS", workflows)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_empty_sqlite_file_is_refused_unless_migrate_init() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiendo.db");
    std::fs::write(&file, b"").unwrap();
    let url = format!("sqlite://{}", file.display());
    let workflows = harness::workflows();
    for args in [
        &["unit", "list"][..],
        &["db", "migrate"],
        &["audit", "verify"],
    ] {
        let o = tiendo(&url, workflows.path(), args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("rỗng (0 byte)") && err.contains("tiendo db migrate --init"),
            "{err}"
        );
        assert_eq!(
            std::fs::metadata(&file).unwrap().len(),
            0,
            "{args:?} left the file alone"
        );
    }
    let o = tiendo(&url, workflows.path(), &["db", "migrate", "--init"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = tiendo(&url, workflows.path(), &["unit", "list"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unwritable_document_folder_is_named_at_start_and_in_ready() {
    let db = TestDb::sqlite().await;
    let workflows = harness::workflows();
    let _world = harness::seed(harness::store(&db).await, 2).await;
    // At start: refused with the folder and the cause (a file where the folder should be —
    // a fault even root cannot write through).
    let mut server = Server::new(&db.url, workflows.path(), &[]);
    let documents = server.data_dir.path().join("documents");
    std::fs::write(&documents, b"not a folder").unwrap();
    server.proc.start();
    let t = std::time::Instant::now();
    let status = loop {
        if let Some(s) = server.proc.exited() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "serve started anyway"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1));
    let log = server.proc.log_text();
    assert!(
        log.contains("Không ghi được vào thư mục tài liệu") && log.contains("documents"),
        "{log}"
    );
    // While running: /ready 503 naming the storage, and back once fixed.
    server.proc.kill9();
    std::fs::remove_file(&documents).unwrap();
    server.start().await;
    std::fs::remove_dir_all(&documents).unwrap();
    std::fs::write(&documents, b"not a folder").unwrap();
    let r = reqwest::get(format!("{}/api/v1/ready", server.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["dependency"], "storage", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("thư mục tài liệu"),
        "{body}"
    );
    std::fs::remove_file(&documents).unwrap();
    server.wait_ready(Duration::from_secs(5)).await;
}
