//! Workflow versions end to end (issue 15, item 10), on SQLite and on PostgreSQL, through the
//! real binary: a new version of `mua-sam` declares a state mapping from version 1; tasks already
//! running stay on version 1 (its file stays loadable), new tasks start on version 2, and an
//! administrator moves one task, or every task of a version in a state, with an audit entry per
//! task. The loader refuses a mapping that leaves a state unmapped, with file and line.

mod common;

use common::{Cli, TestDb, copy_of_shipped, shipped_workflows};

on_both_backends!(running_tasks_stay_on_their_version_until_an_administrator_migrates_them);

/// `mua-sam` version 2: version 1's text, with a mapping of every state of version 1 onto itself
/// except `de_xuat`, which goes straight to the explanation; `leave_out` is left unmapped.
fn mua_sam_v2(leave_out: Option<&str>) -> String {
    let v1 = std::fs::read_to_string(shipped_workflows().join("mua-sam.toml")).unwrap();
    let catalog = adapters::definitions::load(None).unwrap();
    let states: Vec<String> = catalog
        .get("mua-sam", 1)
        .unwrap()
        .states
        .iter()
        .map(|s| s.name.clone())
        .filter(|s| Some(s.as_str()) != leave_out)
        .collect();
    let mapping: Vec<String> = states
        .iter()
        .map(|s| {
            let to = if s == "de_xuat" { "lap_thuyet_minh" } else { s };
            format!("{s} = \"{to}\"")
        })
        .collect();
    format!(
        "{}\n\n# Version 2: tasks of version 1 move by this mapping.\n[[migrate_from]]\nversion = 1\nstates = {{ {} }}\n",
        v1.replacen("\nversion = 1\n", "\nversion = 2\n", 1),
        mapping.join(", ")
    )
}

impl Cli<'_> {
    fn create(&self, name: &str) -> String {
        self.create_task(name, "thuong_xuyen", "mua-sam", &[])
    }
}

async fn running_tasks_stay_on_their_version_until_an_administrator_migrates_them(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let workflows = copy_of_shipped();
    let cli = Cli {
        workflows: Some(workflows.path()),
        ..Cli::new(&db, dir.path())
    };
    cli.ok(&["db", "migrate"]);
    cli.ok(&["unit", "add", "so-y-te", "Sở Y tế"]);
    cli.add_user("can.bo", &["don_vi"], Some("so-y-te"));
    cli.add_user("quan.tri", &["admin"], None);
    cli.add_plan_215("Kế hoạch ứng dụng CNTT năm 2025");
    // Two tasks start on version 1: one drafting its explanation, one still proposed.
    let drafting = cli.create("Nhiệm vụ đang lập thuyết minh");
    cli.ok(&[
        "task",
        "transition",
        &drafting,
        "bat_dau_lap_thuyet_minh",
        "--as",
        "can.bo",
    ]);
    let proposed = cli.create("Nhiệm vụ mới đề xuất");

    // A mapping that leaves a state unmapped is refused, naming the file and the line.
    let broken = workflows.path().join("mua-sam-v2.toml");
    let text = mua_sam_v2(Some("nghiem_thu"));
    std::fs::write(&broken, &text).unwrap();
    let line = text.lines().position(|l| l == "[[migrate_from]]").unwrap() + 1;
    let err = cli.refused(&["workflows", "check"]);
    assert!(
        err.contains(&format!("mua-sam-v2.toml:{line}:")) && err.contains("unmapped: nghiem_thu"),
        "{err}"
    );

    // Version 2 arrives: the running tasks stay on version 1, a new one starts on version 2.
    std::fs::write(&broken, mua_sam_v2(None)).unwrap();
    assert!(cli.ok(&["workflows", "check"]).contains("mua-sam v2"));
    let shown = cli.ok(&["task", "show", &drafting, "--as", "can.bo"]);
    assert!(shown.contains("Quy trình:     mua-sam v1"), "{shown}");
    let fresh = cli.create("Nhiệm vụ bắt đầu trên phiên bản 2");
    let shown = cli.ok(&["task", "show", &fresh, "--as", "can.bo"]);
    assert!(shown.contains("Quy trình:     mua-sam v2"), "{shown}");
    // The version-1 task still moves on version 1.
    let shown = cli.ok(&["task", "show", &drafting, "--as", "can.bo"]);
    assert!(shown.contains("trinh_thu_truong"), "{shown}");

    // Only an administrator migrates.
    let err = cli.refused(&[
        "workflows",
        "migrate",
        "mua-sam",
        "--to",
        "2",
        "--task",
        &drafting,
        "--as",
        "can.bo",
    ]);
    assert!(err.contains("quản lý phiên bản quy trình"), "{err}");
    // One task, by id: same step, version 2, one audit entry.
    let out = cli.ok(&[
        "workflows",
        "migrate",
        "mua-sam",
        "--to",
        "2",
        "--task",
        &drafting,
        "--as",
        "quan.tri",
    ]);
    assert!(
        out.contains(&format!(
            "{drafting}  v1 lap_thuyet_minh → v2 lap_thuyet_minh"
        )) && out.contains("Đã chuyển 1 nhiệm vụ sang phiên bản 2 của quy trình mua-sam."),
        "{out}"
    );
    let shown = cli.ok(&["task", "show", &drafting, "--as", "can.bo"]);
    assert!(shown.contains("Quy trình:     mua-sam v2"), "{shown}");
    let history = cli.ok(&["audit", "show", &drafting]);
    assert!(
        history.contains("chuyen_phien_ban_quy_trinh")
            && history.contains("Chuyển quy trình `mua-sam` từ phiên bản 1 sang phiên bản 2"),
        "{history}"
    );
    // Again: it is already on version 2.
    let err = cli.refused(&[
        "workflows",
        "migrate",
        "mua-sam",
        "--to",
        "2",
        "--task",
        &drafting,
        "--as",
        "quan.tri",
    ]);
    assert!(err.contains("phiên bản mới hơn"), "{err}");
    // Every version-1 task in a state: the proposed one moves by the mapping; the version-2
    // task in the same state is not touched.
    let out = cli.ok(&[
        "workflows",
        "migrate",
        "mua-sam",
        "--to",
        "2",
        "--state",
        "de_xuat",
        "--from",
        "1",
        "--as",
        "quan.tri",
    ]);
    assert!(
        out.contains(&format!("{proposed}  v1 de_xuat → v2 lap_thuyet_minh"))
            && out.contains("Đã chuyển 1 nhiệm vụ"),
        "{out}"
    );
    let shown = cli.ok(&["task", "show", &fresh, "--as", "can.bo"]);
    assert!(shown.contains("(de_xuat)"), "{shown}");
    // Neither --task nor --state: a usage error; the audit chain holds.
    cli.refused(&[
        "workflows",
        "migrate",
        "mua-sam",
        "--to",
        "2",
        "--as",
        "quan.tri",
    ]);
    assert!(cli.ok(&["audit", "verify"]).starts_with("OK: 6 entries"));
}
