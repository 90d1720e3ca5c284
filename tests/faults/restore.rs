//! The README's backup and restore (`deploy/tiendo-backup`, `deploy/tiendo-restore`): a backup
//! restored into a fresh database and folder passes `tiendo audit verify` and holds the same
//! tasks, audit entries and document files; a restore into a database in use is refused.

use std::path::Path;
use std::process::Command;

use crate::common::TestDb;
use crate::harness;

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_restored_into_a_fresh_database_passes_audit_verify() {
    let db = TestDb::postgres().await;
    let workflows = harness::workflows();
    let world = harness::seed(harness::store(&db).await, 6).await;
    let data = tempfile::tempdir().unwrap();
    let files = adapters::files::FileStore::new(data.path());
    let stored = files.put("Tờ trình kèm dự toán".as_bytes()).unwrap();
    world.store.close().await;
    let backups = tempfile::tempdir().unwrap();
    let o = Command::new(script("tiendo-backup"))
        .arg(backups.path())
        .env("DATABASE_URL", &db.url)
        .env("TIENDO_DATA_DIR", data.path())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "backup: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let dir = String::from_utf8_lossy(&o.stdout).trim().to_string();

    let fresh = TestDb::postgres().await;
    let restored = tempfile::tempdir().unwrap();
    let restore = |url: &str, data: &Path| {
        Command::new(script("tiendo-restore"))
            .arg(&dir)
            .env("DATABASE_URL", url)
            .env("TIENDO_DATA_DIR", data)
            .env("TIENDO_WORKFLOWS", workflows.path())
            .env("TIENDO_BIN", env!("CARGO_BIN_EXE_tiendo"))
            .output()
            .unwrap()
    };
    let o = restore(&fresh.url, &restored.path().join("tiendo"));
    assert!(
        o.status.success(),
        "restore: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    harness::audit_verify(&fresh.url, workflows.path());
    let count = |db: &TestDb| {
        let db = db.url.clone();
        let probe = TestDb::postgres_at(db);
        async move {
            harness::rows(
                &probe,
                "SELECT 'x' AS a, 'y' AS b, (SELECT COUNT(*) FROM tasks), (SELECT COUNT(*) FROM audit_log)",
            )
            .await[0]
                .clone()
        }
    };
    let (before, after) = (count(&db).await, count(&fresh).await);
    assert_eq!((before.2, before.3), (after.2, after.3));
    assert!(after.3 > 6, "{after:?}");
    let back = adapters::files::FileStore::new(restored.path().join("tiendo"));
    let copy = stored.path.strip_prefix(data.path()).unwrap();
    assert_eq!(
        back.get(&restored.path().join("tiendo").join(copy), &stored.sha256)
            .unwrap(),
        "Tờ trình kèm dự toán".as_bytes()
    );
    // A database in use is not overwritten.
    let o = restore(&db.url, &tempfile::tempdir().unwrap().path().join("x"));
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("already has"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
