//! End-to-end: `tiendo forecast` on the Plan 215 demo, on SQLite and on PostgreSQL (issue 17's
//! "done when"): as of 05/11/2025, which tasks could not have finished by 31/12/2025, with the
//! step that binds each.

mod common;

use common::{Cli, TestDb};

on_both_backends!(the_plan_215_demo_forecast_names_the_tasks_that_cannot_finish);

async fn the_plan_215_demo_forecast_names_the_tasks_that_cannot_finish(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let cli = Cli::new(&db, dir);
    cli.ok(&["demo"]);

    let md = cli.ok(&["forecast", "--plan", "215/KH-UBND", "--as-of", "05/11/2025"]);
    assert!(md.contains("tính đến ngày 05/11/2025"), "{md}");
    assert!(
        md.contains("nhiệm vụ đang thực hiện: 14 nhiệm vụ không thể hoàn thành đúng hạn, "),
        "{md}"
    );
    assert!(
        md.contains("### Nhiệm vụ không thể hoàn thành đúng hạn (14)"),
        "{md}"
    );
    // The Côn Sơn parking task, still drafting its dossier on 05/11: even a quotation, every
    // step at its minimum, ends on 05/01/2026.
    let con_son = md
        .lines()
        .find(|l| l.contains("bãi đỗ xe khu di tích Côn Sơn"))
        .expect("Côn Sơn is listed");
    assert!(
        con_son.contains("| 31/12/2025 | 05/01/2026 |") && con_son.contains("chào hàng cạnh tranh"),
        "{con_son}"
    );
    // A rental still at its survey on 05/11: bound by open bidding's 18 days.
    let cannot = &md[md.find("(14)").unwrap()..md.find("có nguy cơ không").unwrap()];
    assert!(
        cannot.contains("lựa chọn nhà thầu: tối thiểu 18 ngày chuẩn bị hồ sơ dự thầu"),
        "{cannot}"
    );

    let json = cli.ok(&[
        "forecast",
        "--plan",
        "215/KH-UBND",
        "--as-of",
        "2025-11-05",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["counts"]["cannot_finish"], 14, "{v}");
    let tasks = v["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), v["counts"]["open"].as_u64().unwrap() as usize);
    assert!(tasks.len() > 50, "the demo's open tasks: {}", tasks.len());
    for t in tasks {
        let (e, ty, l) = (
            t["earliest"]["date"].as_str().unwrap(),
            t["typical"]["date"].as_str().unwrap(),
            t["latest"]["date"].as_str().unwrap(),
        );
        assert!(e <= ty && ty <= l, "{t}");
        if t["verdict"] == "cannot_finish" {
            assert!(e > "2025-12-31" || t["due"].as_str().unwrap() < e, "{t}");
            assert!(t["binding"]["text"].is_string(), "{t}");
        }
    }

    // XLSX goes to a file; a bad format or date is a usage error; an unknown plan is refused.
    let out = cli.ok(&[
        "forecast",
        "--plan",
        "215/KH-UBND",
        "--as-of",
        "05/11/2025",
        "-o",
        "du-bao.xlsx",
    ]);
    assert!(out.starts_with("Đã ghi dự báo hoàn thành (xlsx"), "{out}");
    assert!(std::fs::metadata(dir.join("du-bao.xlsx")).unwrap().len() > 1000);
    let bad = cli.run(&["forecast", "--plan", "215/KH-UBND", "--format", "pdf"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("md, html, xlsx, json"));
    let bad = cli.run(&["forecast", "--plan", "215/KH-UBND", "--as-of", "31/02/2025"]);
    assert_eq!(bad.status.code(), Some(2));
    let missing = cli.run(&["forecast", "--plan", "999/KH-UBND"]);
    assert!(!missing.status.success());
    assert!(!String::from_utf8_lossy(&missing.stderr).is_empty());

    // The task's own view carries its forecast.
    let list = cli.ok(&["task", "list", "--as", "lanhdao.ubnd"]);
    let id = list
        .lines()
        .find(|l| l.contains("lap_thuyet_minh"))
        .and_then(|l| l.split_whitespace().next())
        .expect("a task drafting its dossier");
    let show = cli.ok(&["task", "show", id, "--as", "lanhdao.ubnd"]);
    assert!(show.contains("Dự báo:        "), "{show}");
    assert!(
        show.contains("đấu thầu rộng rãi trong nước: sớm nhất"),
        "{show}"
    );
}
