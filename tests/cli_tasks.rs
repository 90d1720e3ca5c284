//! End-to-end: the real `tiendo` binary acting on the store as named users, on SQLite and on
//! PostgreSQL: the same roles and rules as the API will apply, messages and exit codes.

mod common;

use common::{Cli, TestDb, create_task_args, task_args};

on_both_backends!(
    a_task_is_driven_from_the_shell_as_named_users,
    the_demo_database_is_created_and_reused
);

async fn a_task_is_driven_from_the_shell_as_named_users(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(&db, dir.path());
    assert!(
        !cli.ok(&["db", "migrate"])
            .contains(": 0 migration(s) applied")
    );
    assert!(
        cli.ok(&["db", "migrate"])
            .contains(": 0 migration(s) applied")
    );
    cli.ok(&["unit", "add", "so-y-te", "Sở Y tế"]);
    cli.ok(&[
        "unit",
        "add",
        "so-khoa-hoc-va-cong-nghe",
        "Sở Khoa học và Công nghệ",
    ]);
    let err = cli.fails(1, &["unit", "add", "Sở Y tế", "Sở Y tế"]);
    assert!(err.contains("chữ thường không dấu"), "{err}");
    assert!(
        cli.fails(1, &["unit", "add", "so-y-te", "Sở Y tế"])
            .contains("đã tồn tại")
    );
    cli.add_user("can.bo", &["don_vi"], Some("so-y-te"));
    cli.add_user("giam.doc", &["thu_truong_don_vi"], Some("so-y-te"));
    cli.add_user("chuyen.vien", &["skhcn"], Some("so-khoa-hoc-va-cong-nghe"));
    assert!(
        cli.fails(2, &["user", "add", "x.y", "--role", "giam_doc"])
            .contains("thu_truong_don_vi")
    );
    assert!(
        cli.fails(1, &["user", "add", "khong.don.vi", "--role", "don_vi"])
            .contains("--unit")
    );
    cli.add_plan_215("Kế hoạch ứng dụng CNTT năm 2025");

    let id = cli.create_task(
        "Triển khai Hệ thống phần mềm Quản lý Y tế cơ sở",
        "thuong_xuyen",
        "mua-sam",
        &["--need-total", "8.809", "--need-year", "1727"],
    );
    let err = cli.fails(2, &create_task_args("X", "ngan_sach", "mua-sam", &[]));
    assert!(err.contains("thuong_xuyen"), "{err}");

    // The unit head cannot do the officer's step; the message says who can.
    let err = cli.fails(
        1,
        &[
            "task",
            "transition",
            &id,
            "bat_dau_lap_thuyet_minh",
            "--as",
            "giam.doc",
        ],
    );
    assert!(err.contains("chỉ vai trò Cán bộ đơn vị (don_vi)"), "{err}");
    // SKHCN coordinates the plan and reads every task (engine::access), as over HTTP, but a
    // unit's step is not its to take.
    let err = cli.fails(
        1,
        &[
            "task",
            "transition",
            &id,
            "bat_dau_lap_thuyet_minh",
            "--as",
            "chuyen.vien",
        ],
    );
    assert!(err.contains("chỉ vai trò Cán bộ đơn vị (don_vi)"), "{err}");
    let out = cli.ok(&[
        "task",
        "transition",
        &id,
        "bat_dau_lap_thuyet_minh",
        "--as",
        "can.bo",
        "--idempotency-key",
        "k1",
    ]);
    assert!(out.contains("phiên bản 2"), "{out}");
    let out = cli.ok(&[
        "task",
        "transition",
        &id,
        "bat_dau_lap_thuyet_minh",
        "--as",
        "can.bo",
        "--idempotency-key",
        "k1",
    ]);
    assert!(out.contains("đã được thực hiện trước đó"), "{out}");
    let err = cli.fails(
        1,
        &[
            "task",
            "transition",
            &id,
            "trinh_thu_truong",
            "--as",
            "can.bo",
        ],
    );
    assert!(err.contains("thuyet_minh_du_toan"), "{err}");

    std::fs::write(dir.path().join("thuyet-minh.pdf"), b"%PDF-1.4 thuyet minh").unwrap();
    let attached = cli.ok(&task_args(
        "attach",
        &id,
        "can.bo",
        &[
            "--type",
            "thuyet_minh_du_toan",
            "--file",
            dir.path().join("thuyet-minh.pdf").to_str().unwrap(),
            "--number",
            "12/SYT-KHTC",
            "--date",
            "15/03/2026",
        ],
    ));
    let doc = attached.lines().next().unwrap().to_string();
    let err = cli.fails(
        1,
        &[
            "task",
            "transition",
            &id,
            "trinh_thu_truong",
            "--as",
            "can.bo",
            "--document",
            &doc,
            "--if-version",
            "1",
        ],
    );
    assert!(err.contains("phiên bản hiện tại: 2"), "{err}");
    cli.ok(&[
        "task",
        "transition",
        &id,
        "trinh_thu_truong",
        "--as",
        "can.bo",
        "--document",
        &doc,
        "--if-version",
        "2",
    ]);
    cli.ok(&[
        "task",
        "transition",
        &id,
        "gui_skhcn",
        "--as",
        "giam.doc",
        "--document",
        &doc,
    ]);

    let shown = cli.ok(&["task", "show", &id, "--as", "chuyen.vien"]);
    for needle in [
        "Bước hiện tại: Sở Khoa học và Công nghệ cho ý kiến chuyên môn",
        "Thời hạn:",
        "ngày làm việc",
        "8.809",
        "skhcn_thong_nhat",
        "12/SYT-KHTC",
    ] {
        assert!(shown.contains(needle), "missing {needle}:\n{shown}");
    }
    let listed = cli.ok(&["task", "list", "--as", "can.bo", "--phase", "appraisal"]);
    assert!(listed.contains(&id), "{listed}");
    assert!(
        cli.ok(&["task", "list", "--as", "can.bo", "--overdue"])
            .contains("Không có nhiệm vụ nào")
    );
    assert!(
        cli.fails(2, &["task", "list", "--as", "can.bo", "--phase", "review"])
            .contains("contractor_selection")
    );
    // The unit filter takes a unit id, as the API and the list page do: a unit's name or
    // anything else that is not an id is refused, not taken for a filter that matches nothing.
    assert!(
        cli.ok(&["task", "list", "--as", "can.bo", "--unit", "so-y-te"])
            .contains(&id)
    );
    let err = cli.fails(2, &["task", "list", "--as", "can.bo", "--unit", "Sở Y tế"]);
    assert!(
        err.contains("--unit: mã đơn vị `Sở Y tế` không hợp lệ"),
        "{err}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["task", "show", &id, "--as", "can.bo", "--json"])).unwrap();
    assert_eq!(json["task"]["version"], 4);

    // Three moves and the creation (the version counts them) and the upload.
    let history = cli.ok(&["audit", "show", &id]);
    assert_eq!(
        history.lines().filter(|l| l.starts_with('#')).count(),
        5,
        "{history}"
    );
    assert!(history.contains("Tài liệu: Tải lên tài liệu"), "{history}");
    assert!(cli.ok(&["audit", "verify"]).starts_with("OK: 5 entries"));
    assert!(cli.ok(&["audit", "seal"]).contains("1 task head(s)"));
    assert!(
        cli.fails(1, &["task", "show", "khong-ton-tai", "--as", "can.bo"])
            .contains("Không tìm thấy nhiệm vụ")
    );
    assert!(
        cli.fails(1, &["task", "show", &id, "--as", "ai.do"])
            .contains("Không tìm thấy người dùng")
    );

    // The assigned deadline: UBND sets it with its deciding document; the unit may not.
    cli.ok(&["user", "add", "pho.chu.tich", "--role", "ubnd"]);
    let set = |who: &str, extra: &[&str]| {
        let mut args = vec!["task", "deadline", id.as_str(), "--as", who];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let args = set(
        "pho.chu.tich",
        &[
            "--on",
            "30/06/2026",
            "--doc",
            "620/TB-VP",
            "--doc-date",
            "05/11/2025",
        ],
    );
    let out = cli.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.contains("Đặt thời hạn giao: không có (thường xuyên) → 30/06/2026 (theo văn bản số 620/TB-VP ngày 05/11/2025)"),
        "{out}"
    );
    let shown = cli.ok(&["task", "show", &id, "--as", "can.bo"]);
    assert!(
        shown.contains(
            "Thời hạn giao: 30/06/2026 (lãnh đạo đặt, văn bản số 620/TB-VP ngày 05/11/2025)"
        ),
        "{shown}"
    );
    let args = set(
        "giam.doc",
        &["--clear", "--doc", "1/SYT", "--doc-date", "05/11/2025"],
    );
    let err = cli.fails(1, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("Chỉ UBND"), "{err}");
    // Neither --on nor --clear: a usage error.
    let args = set(
        "pho.chu.tich",
        &["--doc", "1/QĐ", "--doc-date", "05/11/2025"],
    );
    cli.fails(2, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let args = set(
        "pho.chu.tich",
        &[
            "--clear",
            "--doc",
            "700/QĐ-UBND",
            "--doc-date",
            "06/11/2025",
        ],
    );
    cli.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        cli.ok(&["task", "show", &id, "--as", "can.bo"])
            .contains("Thời hạn giao: không có (nhiệm vụ thường xuyên)")
    );
    assert!(cli.ok(&["audit", "verify"]).starts_with("OK: 7 entries"));
}

async fn the_demo_database_is_created_and_reused(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(&db, dir.path());
    let first = cli.ok(&["demo"]);
    assert!(
        first.contains("mua-sam") && first.contains("canbo.syt") && first.contains("215/KH-UBND"),
        "{first}"
    );
    // The demo is the import of Plan 215: 64 tasks (with the row the printer omitted from
    // Phụ lục 3), the printed totals reconciled: only the two printed defects remain.
    assert!(
        first.contains("Nhiệm vụ: 64 mới, 0 cập nhật, 0 không thay đổi"),
        "{first}"
    );
    assert!(first.contains("2 điểm không khớp"), "{first}");
    // Then Plan 359's carry-over list: 13 rows continue Plan 215 tasks, one is new.
    assert!(
        first.contains("Nhiệm vụ: 13 liên kết với nhiệm vụ đã có, 1 tạo mới, 0 để xem xét, 0 đã có trong kế hoạch"),
        "{first}"
    );
    let second = cli.ok(&["demo"]);
    assert!(
        second.contains("Nhiệm vụ: 0 mới, 0 cập nhật, 64 không thay đổi"),
        "{second}"
    );
    assert!(
        second.contains(
            "0 liên kết với nhiệm vụ đã có, 0 tạo mới, 0 để xem xét, 14 đã có trong kế hoạch"
        ),
        "{second}"
    );
    let tasks = |s: &str| {
        s.lines()
            .filter(|l| l.contains("  mua-sam ") || l.contains("  thue-dich-vu "))
            .count()
    };
    assert_eq!(tasks(&first), tasks(&second));
    assert_eq!(
        tasks(&first),
        2,
        "the Sở Y tế tasks of the demo users' unit: {first}"
    );
    // One of them was walked to SKHCN's appraisal, once.
    assert!(second.contains("tham_dinh_ke_hoach_thue"), "{second}");
    // 81 import and walk entries, and Sở Văn hóa's pending withdrawal proposal (issue 15).
    assert!(
        cli.ok(&["audit", "verify"])
            .starts_with("OK: 85 entries in 65 task chains")
    );
}
