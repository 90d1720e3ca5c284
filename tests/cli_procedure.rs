//! End-to-end, the real `tiendo` binary on SQLite and PostgreSQL: the procedure as the city runs
//! it (issue 15): who approves is data (item 1); units propose, UBND decides (item 2); a task
//! is transferred to another owning unit by a decision (item 9).

mod common;

use common::{Cli, TestDb, task_args};

on_both_backends!(
    the_approval_authority_is_resolved_per_task,
    a_unit_proposes_and_ubnd_decides,
    a_task_is_transferred_to_another_unit_by_ubnds_decision,
    a_light_workflow_task_is_approved_by_its_head_and_postponed_on_the_units_proposal,
    a_unit_proposes_carrying_the_funds_over_and_ubnd_decides_while_the_task_runs_on
);

impl Cli<'_> {
    /// The first line of a command's output: the id it printed.
    /// The units, users and plan of these tests: Sở Y tế (officer, head), Sở Nội vụ (head),
    /// SKHCN, UBND.
    fn world(&self) {
        self.ok(&["db", "migrate"]);
        for (id, name) in [
            ("so-y-te", "Sở Y tế"),
            ("so-noi-vu", "Sở Nội vụ"),
            ("so-khoa-hoc-va-cong-nghe", "Sở Khoa học và Công nghệ"),
        ] {
            self.ok(&["unit", "add", id, name]);
        }
        for (user, role, unit) in [
            ("can.bo", "don_vi", Some("so-y-te")),
            ("giam.doc", "thu_truong_don_vi", Some("so-y-te")),
            ("giam.doc.snv", "thu_truong_don_vi", Some("so-noi-vu")),
            ("chuyen.vien", "skhcn", Some("so-khoa-hoc-va-cong-nghe")),
            // SKHCN's director, also head of their own unit: reads every task, approves only
            // their unit's.
            (
                "giam.doc.skhcn",
                "thu_truong_don_vi",
                Some("so-khoa-hoc-va-cong-nghe"),
            ),
            ("pho.chu.tich", "ubnd", None),
        ] {
            let roles: &[&str] = if user == "giam.doc.skhcn" {
                &[role, "skhcn"]
            } else {
                &[role]
            };
            self.add_user(user, roles, unit);
        }
        self.add_plan_215("Kế hoạch ứng dụng CNTT năm 2025");
    }

    /// A mua-sam task of Sở Y tế needing `need_total` million đồng.
    fn task(&self, name: &str, need_total: &str, own_fund: bool) -> String {
        let mut more = vec!["--need-total", need_total];
        if own_fund {
            more.push("--own-fund");
        }
        self.create_task(name, "thuong_xuyen", "mua-sam", &more)
    }

    /// Attaches a document of `doc_type` to `task` as `who`; its id.
    fn attach(&self, task: &str, doc_type: &str, who: &str) -> String {
        let file = self.dir.join(format!("{doc_type}.pdf"));
        std::fs::write(&file, format!("%PDF-1.4 {doc_type}")).unwrap();
        self.id(&task_args(
            "attach",
            task,
            who,
            &["--type", doc_type, "--file", file.to_str().unwrap()],
        ))
    }

    fn step(&self, task: &str, transition: &str, who: &str, docs: &[&str]) -> String {
        let mut args = vec!["task", "transition", task, transition, "--as", who];
        for d in docs {
            args.extend(["--document", d]);
        }
        self.ok(&args)
    }

    /// Walks a mua-sam task to the approval of its task and estimate (after SKHCN's opinion).
    fn to_approval(&self, task: &str) {
        self.step(task, "bat_dau_lap_thuyet_minh", "can.bo", &[]);
        let tm = self.attach(task, "thuyet_minh_du_toan", "can.bo");
        self.step(task, "trinh_thu_truong", "can.bo", &[&tm]);
        self.step(task, "gui_skhcn", "giam.doc", &[&tm]);
        let yk = self.attach(task, "van_ban_y_kien", "chuyen.vien");
        self.step(task, "skhcn_thong_nhat", "chuyen.vien", &[&yk]);
    }
}

async fn the_approval_authority_is_resolved_per_task(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(&db, dir.path());
    cli.world();
    // `workflows show` prints who approves, rule by rule.
    let shown = cli.ok(&["workflows", "show", "mua-sam"]);
    for needle in [
        "THẨM QUYỀN PHÊ DUYỆT",
        "nhiem_vu_du_toan — Phê duyệt nhiệm vụ và dự toán",
        "áp dụng cho: phe_duyet, phe_duyet_nhiem_vu, chua_phe_duyet",
        "đơn vị tự chủ, chi từ nguồn thu của đơn vị → Thủ trưởng đơn vị (thu_truong_don_vi) của đơn vị chủ trì nhiệm vụ",
        "từ 10.000 triệu đồng → UBND thành phố (ubnd)",
        "còn lại → Thủ trưởng đơn vị (thu_truong_don_vi) của đơn vị chủ trì nhiệm vụ",
    ] {
        assert!(shown.contains(needle), "missing {needle}:\n{shown}");
    }

    // Below the threshold: the unit's own head approves; another unit's head is the right role in
    // the wrong unit; UBND is the wrong role.
    let small = cli.task("Mua sắm máy chủ", "1.500", false);
    cli.to_approval(&small);
    let listed = cli.ok(&["task", "show", &small, "--as", "giam.doc", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(json["task"]["state"], "phe_duyet", "{json}");
    assert_eq!(json["my_turn"], true, "{json}");
    assert_eq!(json["turn_roles"], serde_json::json!(["thu_truong_don_vi"]));
    let qd = cli.attach(&small, "quyet_dinh_phe_duyet", "giam.doc");
    let err = cli.fails(
        1,
        &[
            "task",
            "transition",
            &small,
            "phe_duyet_nhiem_vu",
            "--as",
            "giam.doc.skhcn",
            "--document",
            &qd,
        ],
    );
    assert!(
        err.contains("Bạn không có thẩm quyền thực hiện bước `phe_duyet_nhiem_vu`"),
        "{err}"
    );
    assert!(err.contains("của đơn vị `so-y-te`"), "{err}");
    // Another unit's head does not even see the task.
    assert!(
        cli.fails(
            1,
            &[
                "task",
                "transition",
                &small,
                "phe_duyet_nhiem_vu",
                "--as",
                "giam.doc.snv"
            ]
        )
        .contains("Không tìm thấy nhiệm vụ")
    );
    let err = cli.fails(
        1,
        &[
            "task",
            "transition",
            &small,
            "phe_duyet_nhiem_vu",
            "--as",
            "pho.chu.tich",
            "--document",
            &qd,
        ],
    );
    assert!(
        err.contains("chỉ vai trò Thủ trưởng đơn vị (thu_truong_don_vi)"),
        "{err}"
    );
    let out = cli.step(&small, "phe_duyet_nhiem_vu", "giam.doc", &[&qd]);
    assert!(
        out.contains("gui_tham_dinh") || out.contains("Sở Tài chính"),
        "{out}"
    );

    // Over the threshold: UBND approves, not the unit's head; whose turn it is says so.
    let big = cli.task("Nâng cấp trung tâm dữ liệu", "12.000", false);
    cli.to_approval(&big);
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["task", "show", &big, "--as", "pho.chu.tich", "--json"]))
            .unwrap();
    assert_eq!(json["turn_roles"], serde_json::json!(["ubnd"]));
    assert_eq!(json["my_turn"], true, "{json}");
    let qd = cli.attach(&big, "quyet_dinh_phe_duyet", "pho.chu.tich");
    let err = cli.fails(
        1,
        &[
            "task",
            "transition",
            &big,
            "phe_duyet_nhiem_vu",
            "--as",
            "giam.doc",
            "--document",
            &qd,
        ],
    );
    assert!(err.contains("chỉ vai trò UBND thành phố (ubnd)"), "{err}");
    cli.step(&big, "phe_duyet_nhiem_vu", "pho.chu.tich", &[&qd]);

    // The own-fund flag: the unit approves whatever the amount.
    let own = cli.task(
        "Phần mềm bệnh án điện tử (nguồn thu của đơn vị)",
        "12.000",
        true,
    );
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["task", "show", &own, "--as", "can.bo", "--json"])).unwrap();
    assert_eq!(json["task"]["own_fund"], true, "{json}");
    cli.to_approval(&own);
    let qd = cli.attach(&own, "quyet_dinh_phe_duyet", "giam.doc");
    cli.step(&own, "phe_duyet_nhiem_vu", "giam.doc", &[&qd]);
}

async fn a_unit_proposes_and_ubnd_decides(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(&db, dir.path());
    cli.world();
    let task = cli.task("Xây dựng Đề án di sản số", "495", false);
    cli.to_approval(&task);
    let before: serde_json::Value =
        serde_json::from_str(&cli.ok(&["task", "show", &task, "--as", "can.bo", "--json"]))
            .unwrap();

    // Only the owning unit proposes; SKHCN (which reads every task) may not.
    let err = cli.fails(
        1,
        &task_args(
            "propose",
            &task,
            "chuyen.vien",
            &["--kind", "withdraw", "--letter", "1/SKHCN"],
        ),
    );
    assert!(err.contains("chỉ vai trò Cán bộ đơn vị (don_vi)"), "{err}");
    assert!(
        cli.fails(
            2,
            &[
                "task", "propose", &task, "--as", "can.bo", "--kind", "rut", "--letter", "1/X"
            ]
        )
        .contains("postpone")
    );
    let out = cli.ok(&task_args(
        "propose",
        &task,
        "can.bo",
        &[
            "--kind",
            "withdraw",
            "--letter",
            "5796/SVHTTDL-QBXT&PTTNDL",
            "--letter-date",
            "04/11/2025",
            "--comment",
            "Đề nghị đưa ra khỏi danh mục Kế hoạch 215",
        ],
    ));
    assert!(
        out.contains(
            "Đề xuất rút khỏi kế hoạch (văn bản số 5796/SVHTTDL-QBXT&PTTNDL ngày 04/11/2025)"
        ),
        "{out}"
    );
    // One at a time.
    let err = cli.fails(
        1,
        &[
            "task", "propose", &task, "--as", "giam.doc", "--kind", "postpone", "--letter", "7/SYT",
        ],
    );
    assert!(
        err.contains("đang có đề xuất chờ UBND thành phố quyết định"),
        "{err}"
    );
    // The pending proposal moved nothing: same step, same deadline; the show says it waits.
    let pending: serde_json::Value =
        serde_json::from_str(&cli.ok(&["task", "show", &task, "--as", "can.bo", "--json"]))
            .unwrap();
    assert_eq!(pending["task"]["state"], before["task"]["state"]);
    assert_eq!(pending["task"]["clock"], before["task"]["clock"]);
    assert_eq!(pending["proposals"][0]["status"], "pending", "{pending}");
    let shown = cli.ok(&["task", "show", &task, "--as", "pho.chu.tich"]);
    assert!(
        shown.contains("Đề xuất chờ UBND quyết định: Đề xuất rút khỏi kế hoạch"),
        "{shown}"
    );
    // The progress report lists it with its letter.
    let report = cli.ok(&[
        "report",
        "progress",
        "--plan",
        "215/KH-UBND",
        "--as",
        "pho.chu.tich",
        "--format",
        "md",
    ]);
    assert!(
        report.contains("Đề xuất của đơn vị chờ UBND thành phố quyết định: 1 nhiệm vụ"),
        "{report}"
    );
    assert!(
        report.contains("Văn bản số 5796/SVHTTDL-QBXT&PTTNDL ngày 04/11/2025"),
        "{report}"
    );

    // Only UBND decides; refused, the task goes on where it was, its clock as it was.
    let err = cli.fails(1, &["task", "refuse-proposal", &task, "--as", "giam.doc"]);
    assert!(err.contains("chỉ vai trò UBND thành phố (ubnd)"), "{err}");
    let out = cli.ok(&task_args(
        "refuse-proposal",
        &task,
        "pho.chu.tich",
        &["--comment", "Tiếp tục thực hiện trong năm"],
    ));
    assert!(out.contains("Không chấp thuận"), "{out}");
    let after: serde_json::Value =
        serde_json::from_str(&cli.ok(&["task", "show", &task, "--as", "can.bo", "--json"]))
            .unwrap();
    assert_eq!(after["task"]["state"], before["task"]["state"]);
    assert_eq!(after["task"]["clock"], before["task"]["clock"]);
    assert_eq!(after["task"]["version"], before["task"]["version"]);
    assert_eq!(after["proposals"][0]["status"], "refused");
    let err = cli.fails(
        1,
        &["task", "accept-proposal", &task, "--as", "pho.chu.tich"],
    );
    assert!(err.contains("không có đề xuất"), "{err}");

    // Proposed again, accepted: withdrawn through the workflow's exit, with UBND's decision.
    cli.ok(&task_args(
        "propose",
        &task,
        "giam.doc",
        &["--kind", "withdraw", "--letter", "6001/SVHTTDL"],
    ));
    let err = cli.fails(
        1,
        &["task", "accept-proposal", &task, "--as", "pho.chu.tich"],
    );
    assert!(err.contains("quyet_dinh_ubnd"), "{err}");
    let qd = cli.attach(&task, "quyet_dinh_ubnd", "pho.chu.tich");
    let out = cli.ok(&task_args(
        "accept-proposal",
        &task,
        "pho.chu.tich",
        &["--document", &qd, "--comment", "Quyết định 99/QĐ-UBND"],
    ));
    assert!(out.contains("da_rut_khoi_ke_hoach"), "{out}");
    let history = cli.ok(&["audit", "show", &task]);
    for needle in [
        "de_xuat_rut_khoi_ke_hoach",
        "khong_chap_thuan_de_xuat",
        "rut_khoi_ke_hoach",
        "Chấp thuận đề xuất rút khỏi kế hoạch (văn bản số 6001/SVHTTDL)",
    ] {
        assert!(history.contains(needle), "missing {needle}:\n{history}");
    }
    assert!(cli.ok(&["audit", "verify"]).starts_with("OK"));
    // UBND heard of each proposal by email.
    let outbox = cli.ok(&["outbox", "list"]);
    assert_eq!(outbox.matches("task.proposal").count(), 2, "{outbox}");
}

async fn a_task_is_transferred_to_another_unit_by_ubnds_decision(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(&db, dir.path());
    cli.world();
    cli.ok(&["user", "add", "quan.tri", "--role", "admin"]);
    cli.ok(&[
        "user",
        "add",
        "can.bo.snv",
        "--role",
        "don_vi",
        "--unit",
        "so-noi-vu",
    ]);
    let task = cli.task("Hệ thống quản lý hồ sơ cán bộ", "800", false);
    cli.step(&task, "bat_dau_lap_thuyet_minh", "can.bo", &[]);
    let before: serde_json::Value =
        serde_json::from_str(&cli.ok(&["task", "show", &task, "--as", "pho.chu.tich", "--json"]))
            .unwrap();
    let transfer = |who: &str| {
        vec![
            "task".to_string(),
            "transfer".into(),
            task.clone(),
            "--as".into(),
            who.into(),
            "--to-unit".into(),
            "so-noi-vu".into(),
            "--decision".into(),
            "1234/QĐ-UBND".into(),
            "--decision-date".into(),
            "02/12/2026".into(),
        ]
    };
    fn args(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    // Not the unit, not SKHCN, not the administrator (who records unit merges and reads no
    // dossier): UBND decides.
    for who in ["giam.doc", "chuyen.vien"] {
        let err = cli.fails(1, &args(&transfer(who)));
        assert!(
            err.contains("Chỉ UBND thành phố (ubnd) được quyết định chuyển nhiệm vụ"),
            "{who}: {err}"
        );
    }
    assert!(
        cli.fails(1, &args(&transfer("quan.tri")))
            .contains("Không tìm thấy nhiệm vụ")
    );
    let err = cli.fails(
        1,
        &task_args(
            "transfer",
            &task,
            "pho.chu.tich",
            &["--to-unit", "so-y-te", "--decision", "1/QĐ"],
        ),
    );
    assert!(err.contains("đã thuộc đơn vị `so-y-te`"), "{err}");
    let err = cli.fails(
        1,
        &task_args(
            "transfer",
            &task,
            "pho.chu.tich",
            &["--to-unit", "so-khong-co", "--decision", "1/QĐ"],
        ),
    );
    assert!(err.contains("Không tìm thấy đơn vị"), "{err}");
    let out = cli.ok(&args(&transfer("pho.chu.tich")));
    assert!(
        out.contains("Đã chuyển nhiệm vụ từ đơn vị so-y-te sang đơn vị so-noi-vu theo quyết định số 1234/QĐ-UBND ngày 02/12/2026"),
        "{out}"
    );
    // The task keeps its step and history; it is the new unit's now, and no longer the old one's.
    let after: serde_json::Value =
        serde_json::from_str(&cli.ok(&["task", "show", &task, "--as", "can.bo.snv", "--json"]))
            .unwrap();
    assert_eq!(after["task"]["unit_id"], "so-noi-vu");
    assert_eq!(after["task"]["state"], before["task"]["state"]);
    assert_eq!(
        after["task"]["version"],
        before["task"]["version"].as_i64().unwrap() + 1
    );
    assert!(
        cli.fails(1, &["task", "show", &task, "--as", "can.bo"])
            .contains("Không tìm thấy nhiệm vụ")
    );
    cli.step(
        &task,
        "trinh_thu_truong",
        "can.bo.snv",
        &[&cli.attach(&task, "thuyet_minh_du_toan", "can.bo.snv")],
    );
    let history = cli.ok(&["audit", "show", &task]);
    assert!(history.contains("chuyen_don_vi"), "{history}");
    assert!(
        history.contains("Chuyển đơn vị chủ trì từ «Sở Y tế» (so-y-te) sang «Sở Nội vụ» (so-noi-vu) theo quyết định số 1234/QĐ-UBND ngày 02/12/2026"),
        "{history}"
    );
    assert!(cli.ok(&["audit", "verify"]).starts_with("OK"));
}

/// The light workflow (`hoat-dong`): the head of the owning unit approves the estimate (its
/// `[approvals.du_toan_hoat_dong]`, not another unit's head), and postponement starts as the
/// unit's proposal that UBND accepts through the workflow's own exit.
async fn a_light_workflow_task_is_approved_by_its_head_and_postponed_on_the_units_proposal(
    db: TestDb,
) {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(&db, dir.path());
    cli.world();
    let task = cli.create_task(
        "Tập huấn chuyển đổi số cho cán bộ ngành y tế",
        "su_nghiep_cntt",
        "hoat-dong",
        &["--need-total", "120"],
    );
    cli.step(&task, "bat_dau_lap_du_toan", "can.bo", &[]);
    let dt = cli.attach(&task, "du_toan", "can.bo");
    cli.step(&task, "trinh_thu_truong", "can.bo", &[&dt]);
    let shown = cli.ok(&["task", "show", &task, "--as", "giam.doc"]);
    assert!(shown.contains("phe_duyet_du_toan"), "{shown}");
    // SKHCN's director reads every task and is a unit head, but not this task's unit's.
    let qd = cli.attach(&task, "quyet_dinh_phe_duyet", "giam.doc");
    let err = cli.fails(
        1,
        &[
            "task",
            "transition",
            &task,
            "phe_duyet_du_toan",
            "--as",
            "giam.doc.skhcn",
            "--document",
            &qd,
        ],
    );
    assert!(err.contains("đơn vị"), "{err}");
    let out = cli.step(&task, "phe_duyet_du_toan", "giam.doc", &[&qd]);
    assert!(out.contains("chuan_bi_thuc_hien"), "{out}");
    // The unit proposes to postpone; UBND accepts through `tam_hoan`.
    cli.ok(&task_args(
        "propose",
        &task,
        "can.bo",
        &[
            "--kind",
            "postpone",
            "--letter",
            "77/SYT-KHTC",
            "--letter-date",
            "01/11/2025",
        ],
    ));
    let out = cli.ok(&task_args(
        "accept-proposal",
        &task,
        "pho.chu.tich",
        &["--comment", "Chuyển sang kế hoạch năm 2026"],
    ));
    assert!(out.contains("da_tam_hoan"), "{out}");
    let history = cli.ok(&["audit", "show", &task]);
    assert!(
        history.contains("de_xuat_tam_hoan") && history.contains("tam_hoan"),
        "{history}"
    );
    assert!(cli.ok(&["audit", "verify"]).starts_with("OK"));
}

/// Carrying the funds over to next year (chuyển nguồn, issue 17's decision point): the unit
/// proposes it with its letter where the workflow declares it and the task has an allocation
/// left; UBND refuses (nothing changes) or accepts — the task stays in its step and version, and
/// next year's budget line records the year's unspent allocation as carried over, its other
/// figures kept, in the line's history and the audit chain.
async fn a_unit_proposes_carrying_the_funds_over_and_ubnd_decides_while_the_task_runs_on(
    db: TestDb,
) {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(&db, dir.path());
    cli.world();
    let task = cli.task("Mua sắm máy chủ cho Trung tâm dữ liệu y tế", "495", false);
    let propose = |letter: &str| {
        vec![
            "task".to_string(),
            "propose".into(),
            task.clone(),
            "--as".into(),
            "can.bo".into(),
            "--kind".into(),
            "carry_over".into(),
            "--letter".into(),
            letter.into(),
            "--letter-date".into(),
            "20/11/2025".into(),
        ]
    };
    // No allocation in 2025 yet: nothing to carry, and the forecast offers postponement only.
    let err = cli.fails(1, &strs(&propose("88/SYT-KHTC")));
    assert!(
        err.contains("Không thể chuyển nguồn kinh phí năm 2025 sang năm 2026")
            && err.contains("chưa được phân bổ kinh phí năm 2025"),
        "{err}"
    );
    let shown = cli.ok(&["task", "show", &task, "--as", "can.bo"]);
    assert!(!shown.contains("--kind carry_over"), "{shown}");
    assert!(shown.contains("--kind postpone"), "{shown}");

    // 400 million allocated in 2025, 150 spent; next year's line has its own need.
    for (year, figures) in [
        ("2025", vec!["--allocated", "400", "--spent", "150"]),
        ("2026", vec!["--need-year", "200"]),
    ] {
        let mut a = vec![
            "plan",
            "budget",
            "set",
            "--task",
            &task,
            "--year",
            year,
            "--as",
            "chuyen.vien",
        ];
        a.extend(figures);
        cli.ok(&a);
    }
    // A task past its year's end is flagged; carry-over is offered first, then postponement.
    let shown = cli.ok(&["task", "show", &task, "--as", "can.bo"]);
    let carry = shown
        .find("Có thể đề xuất: đề nghị chuyển nguồn kinh phí sang năm sau")
        .unwrap_or_else(|| panic!("{shown}"));
    let postpone = shown
        .find("--kind postpone")
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(carry < postpone, "{shown}");
    assert!(shown.contains("--kind carry_over"), "{shown}");
    let before: serde_json::Value =
        serde_json::from_str(&cli.ok(&["task", "show", &task, "--as", "can.bo", "--json"]))
            .unwrap();

    // Proposed, refused: nothing changes.
    let out = cli.ok(&strs(&propose("88/SYT-KHTC")));
    assert!(
        out.contains(
            "Đề xuất chuyển nguồn kinh phí sang năm sau (văn bản số 88/SYT-KHTC ngày 20/11/2025)"
        ),
        "{out}"
    );
    cli.ok(&task_args(
        "refuse-proposal",
        &task,
        "pho.chu.tich",
        &["--comment", "Đủ thời gian giải ngân trong năm"],
    ));
    let next = |cli: &Cli| -> serde_json::Value {
        serde_json::from_str(&cli.ok(&[
            "plan", "budget", "show", "--task", &task, "--year", "2026", "--json",
        ]))
        .unwrap()
    };
    let refused = next(&cli);
    assert!(refused["budget"]["carried_over_vnd"].is_null(), "{refused}");
    assert_eq!(refused["history"].as_array().unwrap().len(), 1, "{refused}");

    // Proposed again; only UBND accepts.
    cli.ok(&strs(&propose("95/SYT-KHTC")));
    let err = cli.fails(1, &["task", "accept-proposal", &task, "--as", "giam.doc"]);
    assert!(err.contains("chỉ vai trò UBND thành phố (ubnd)"), "{err}");
    let out = cli.ok(&task_args(
        "accept-proposal",
        &task,
        "pho.chu.tich",
        &["--comment", "Quyết định 1500/QĐ-UBND"],
    ));
    assert!(
        out.contains("Đã chấp thuận đề xuất chuyển nguồn: 250 triệu đồng kinh phí năm 2025 chưa giải ngân được chuyển sang năm 2026"),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["task", "show", &task, "--as", "can.bo", "--json"]))
            .unwrap();
    // The task runs on: same step, same version, same clock.
    for key in ["state", "version", "clock"] {
        assert_eq!(json["task"][key], before["task"][key], "{key}: {json}");
    }
    assert_eq!(json["proposals"][1]["status"], "accepted", "{json}");
    // Next year's line: the carried-over funds, its own need kept, by UBND, in its history.
    let line = next(&cli);
    assert_eq!(line["budget"]["carried_over_vnd"], 250_000_000i64, "{line}");
    assert_eq!(line["budget"]["need_year_vnd"], 200_000_000i64, "{line}");
    let history = line["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{line}");
    assert_eq!(history[1]["recorded_by"], "pho.chu.tich", "{line}");
    // This year's line is as it was.
    let this: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "plan", "budget", "show", "--task", &task, "--year", "2025", "--json",
    ]))
    .unwrap();
    assert_eq!(
        this["budget"]["allocated_year_vnd"], 400_000_000i64,
        "{this}"
    );
    let audit = cli.ok(&["audit", "show", &task]);
    for needle in [
        "de_nghi_chuyen_nguon",
        "khong_chap_thuan_de_xuat",
        "chap_thuan_chuyen_nguon",
        "Chấp thuận đề xuất chuyển nguồn kinh phí sang năm sau (văn bản số 95/SYT-KHTC ngày 20/11/2025). Quyết định 1500/QĐ-UBND. Chuyển nguồn 250 triệu đồng kinh phí năm 2025 chưa giải ngân sang năm 2026",
        "Kinh phí năm 2026",
    ] {
        assert!(audit.contains(needle), "missing {needle}:\n{audit}");
    }
    assert!(cli.ok(&["audit", "verify"]).starts_with("OK"));
    // Decided once.
    let err = cli.fails(
        1,
        &["task", "accept-proposal", &task, "--as", "pho.chu.tich"],
    );
    assert!(err.contains("không có đề xuất"), "{err}");
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
