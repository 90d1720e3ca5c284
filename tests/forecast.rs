//! End-to-end: `tiendo forecast` on the Plan 215 demo, on SQLite and on PostgreSQL (issue 17's
//! "done when"): as of 05/11/2025, which tasks could not have finished by 31/12/2025, with the
//! step that binds each.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use adapters::email::RelayConfig;
use adapters::report::forecast::raise_flags;
use common::smtp::SmtpServer;
use common::{Cli, TestDb};
use engine::time::parse_date;

on_both_backends!(
    the_plan_215_demo_forecast_names_the_tasks_that_cannot_finish,
    a_flag_is_raised_once_with_an_audit_entry_and_an_email_and_again_only_when_it_changes
);

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

    // The JSON is compact: the earliest path's steps per task; every path only on request.
    let first = &tasks[0];
    assert!(
        first["path"]["steps"].is_array() && first.get("paths").is_none(),
        "{first}"
    );
    assert!(!json.contains("\n  "), "compact, not pretty-printed");
    let all = cli.ok(&[
        "forecast",
        "--plan",
        "215/KH-UBND",
        "--as-of",
        "05/11/2025",
        "--format",
        "json",
        "--all-paths",
    ]);
    let all: serde_json::Value = serde_json::from_str(&all).unwrap();
    assert!(
        all["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["paths"].is_array())
    );
    let bad = cli.run(&["forecast", "--plan", "215/KH-UBND", "--all-paths"]);
    assert_eq!(bad.status.code(), Some(2));

    // The status report carries the same forecast in a section of its own.
    let status = cli.ok(&[
        "report",
        "status",
        "--plan",
        "215/KH-UBND",
        "--from",
        "01/01/2025",
        "--to",
        "05/11/2025",
        "--format",
        "md",
    ]);
    let section = status
        .split("DỰ BÁO KHẢ NĂNG HOÀN THÀNH ĐÚNG HẠN")
        .nth(1)
        .expect("a forecast section");
    assert!(
        section.contains("Nhiệm vụ không thể hoàn thành đúng hạn (14)"),
        "{section}"
    );
    assert!(
        section.contains("bãi đỗ xe khu di tích Côn Sơn"),
        "{section}"
    );

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
    // Past 31/12/2025 it cannot finish: the decision the workflow offers from its step.
    assert!(
        show.contains("Có thể đề xuất: đề nghị giãn sang kế hoạch năm sau")
            && show.contains("--kind postpone"),
        "{show}"
    );
}

/// Each task's verdict in `tiendo forecast --format json` as of `date`, by task id.
fn verdicts(cli: &Cli<'_>, date: &str) -> BTreeMap<String, String> {
    names_and_verdicts(cli, date)
        .into_iter()
        .map(|(id, (_, v))| (id, v))
        .collect()
}

fn names_and_verdicts(cli: &Cli<'_>, date: &str) -> BTreeMap<String, (String, String)> {
    let json = cli.ok(&[
        "forecast",
        "--plan",
        "215/KH-UBND",
        "--as-of",
        date,
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["task_id"].as_str().unwrap().to_string(),
                (
                    t["name"].as_str().unwrap().to_string(),
                    t["verdict"].as_str().unwrap_or("none").to_string(),
                ),
            )
        })
        .collect()
}

fn flagged(v: &str) -> bool {
    v == "cannot_finish" || v == "at_risk"
}

/// Issue 17's flags on the Plan 215 demo: as of 05/11/2025 every task that cannot finish or is
/// at risk is flagged once (an audit entry `forecast_flag` on its chain and an email to its unit
/// head, UBND and SKHCN through real SMTP); a second pass the same day raises nothing; a pass
/// on 19/12/2025 raises exactly the flags that changed and clears those no longer flagged, and
/// the audit chains still verify.
async fn a_flag_is_raised_once_with_an_audit_entry_and_an_email_and_again_only_when_it_changes(
    db: TestDb,
) {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(&db, dir.path());
    cli.ok(&["demo"]);
    let nov = verdicts(&cli, "05/11/2025");
    let dec = verdicts(&cli, "19/12/2025");
    let raised_nov = nov.values().filter(|v| flagged(v)).count();
    assert_eq!(
        nov.values().filter(|v| *v == "cannot_finish").count(),
        14,
        "{nov:?}"
    );

    let store = db.store().await;
    let plan = store.directory().plan("215/KH-UBND").await.unwrap();
    // Flags are written now, after everything the demo wrote: a forecast as of a past day reads
    // the tasks as they were then.
    let now = chrono::Utc::now();
    let day = parse_date("05/11/2025").unwrap();
    let c = raise_flags(&store, Some(&plan), day, now).await.unwrap();
    assert_eq!((c.checked, c.raised, c.cleared), (nov.len(), raised_nov, 0));

    // The emails, through real SMTP.
    let smtp = SmtpServer::start();
    let relay = common::smtp::relay(&store, smtp.port, "relay-test", RelayConfig::default());
    let sent = relay.run_once(now).await.unwrap().sent;
    let mails = smtp.wait_for(sent, Duration::from_secs(30)).await;
    let flags: Vec<_> = mails
        .iter()
        .filter(|m| m.subject.starts_with("[tiendo] Dự báo "))
        .collect();
    assert_eq!(
        flags.len(),
        raised_nov,
        "{:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    let con_son = flags
        .iter()
        .find(|m| m.subject.contains("bãi đỗ xe khu di tích Côn Sơn"))
        .expect("the Côn Sơn task is flagged");
    assert!(
        con_son
            .subject
            .starts_with("[tiendo] Dự báo không thể hoàn thành đúng hạn: "),
        "{}",
        con_son.subject
    );
    assert!(
        con_son.text.contains("sớm nhất 05/01/2026"),
        "{}",
        con_son.text
    );
    assert!(con_son.text.contains("chuyển nguồn"), "{}", con_son.text);
    assert!(
        con_son.to.iter().any(|a| a.contains("lanhdao.ubnd@"))
            && con_son.to.iter().any(|a| a.contains("skhcn")),
        "{:?}",
        con_son.to
    );

    // Once: the same day again raises nothing and sends nothing.
    let again = raise_flags(&store, Some(&plan), day, now).await.unwrap();
    assert_eq!((again.raised, again.cleared), (0, 0));
    let con_son_id = names_and_verdicts(&cli, "05/11/2025")
        .into_iter()
        .find(|(_, (name, _))| name.contains("bãi đỗ xe khu di tích Côn Sơn"))
        .map(|(id, _)| id)
        .unwrap();
    let entries = |id: String| {
        let store = store.clone();
        async move {
            store
                .audit()
                .history(&id)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.kind == "forecast_flag")
                .count()
        }
    };
    assert_eq!(entries(con_son_id.clone()).await, 1);

    // Again only when it changes: on 19/12 exactly the tasks whose flag changed are raised,
    // those no longer flagged are cleared.
    let later = chrono::Utc::now();
    let c = raise_flags(
        &store,
        Some(&plan),
        parse_date("19/12/2025").unwrap(),
        later,
    )
    .await
    .unwrap();
    let changed = dec
        .iter()
        .filter(|(id, v)| flagged(v) && nov.get(*id) != Some(*v))
        .count();
    let cleared = dec
        .iter()
        .filter(|(id, v)| !flagged(v) && nov.get(*id).is_some_and(|n| flagged(n)))
        .count();
    assert_eq!((c.raised, c.cleared), (changed, cleared), "{nov:?} {dec:?}");
    assert!(changed > 0, "some task got worse between 05/11 and 19/12");
    assert_eq!(
        entries(con_son_id).await,
        1,
        "Côn Sơn stayed `cannot_finish`"
    );
    assert!(cli.ok(&["audit", "verify"]).starts_with("OK"));

    // The operator's command: as of the same day, nothing new.
    let out = cli.ok(&[
        "forecast",
        "--plan",
        "215/KH-UBND",
        "--as-of",
        "19/12/2025",
        "--raise",
    ]);
    assert!(out.contains("nêu 0 cờ mới"), "{out}");
}
