//! End-to-end, the real `tiendo` binary on SQLite and PostgreSQL: reporting rounds (issue 16):
//! `tiendo round open|list|show|entry|submit|reopen|draft|sign`, acting as `--as USER`.

mod common;

use common::{Cli, TestDb};

on_both_backends!(a_round_runs_from_opening_to_the_signed_report_on_the_command_line);

const PLAN: &str = "215/KH-UBND";

/// `round COMMAND --plan PLAN --round NUMBER ARGS… --as WHO`.
fn round<'a>(command: &'a str, number: &'a str, args: &[&'a str], who: &'a str) -> Vec<&'a str> {
    let mut v = vec!["round", command, "--plan", PLAN, "--round", number];
    v.extend_from_slice(args);
    v.extend(["--as", who]);
    v
}

impl Cli<'_> {
    fn world(&self) {
        self.ok(&["db", "migrate"]);
        for (id, name) in [
            ("so-y-te", "Sở Y tế"),
            ("so-khoa-hoc-va-cong-nghe", "Sở Khoa học và Công nghệ"),
        ] {
            self.ok(&["unit", "add", id, name]);
        }
        for (user, role, unit) in [
            ("can.bo", "don_vi", "so-y-te"),
            ("giam.doc", "thu_truong_don_vi", "so-y-te"),
            ("chuyen.vien", "skhcn", "so-khoa-hoc-va-cong-nghe"),
        ] {
            self.add_user(user, &[role], Some(unit));
        }
        self.add_plan_215("Kế hoạch ứng dụng CNTT năm 2025");
    }

    fn task(&self, name: &str) -> String {
        self.create_task(name, "thuong_xuyen", "mua-sam", &["--need-total", "500"])
    }
}

async fn a_round_runs_from_opening_to_the_signed_report_on_the_command_line(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(&db, dir.path());
    cli.world();
    let task = cli.task("Bệnh án điện tử");
    let open = |n: &str, who: &str| {
        vec![
            "round".to_string(),
            "open".into(),
            "--plan".into(),
            PLAN.into(),
            "--number".into(),
            n.into(),
            "--cut-off".into(),
            "05/11/2025".into(),
            "--instruction".into(),
            "Thông báo số 620/TB-VP ngày 20/10/2025".into(),
            "--due".into(),
            "03/11/2025".into(),
            "--as".into(),
            who.into(),
        ]
    };
    let refused = cli.fails(1, &args(&open("1", "can.bo")));
    assert!(
        refused.contains("Chỉ Sở Khoa học và Công nghệ"),
        "{refused}"
    );
    let out = cli.ok(&args(&open("1", "chuyen.vien")));
    assert!(
        out.contains("Đã mở đợt báo cáo lần 1") && out.contains("05/11/2025"),
        "{out}"
    );
    cli.ok(&args(&open("2", "chuyen.vien")));
    let list = cli.ok(&["round", "list", "--plan", PLAN, "--as", "can.bo"]);
    assert!(list.contains("lần 1") && list.contains("lần 2"), "{list}");

    // A bad difficulty kind is a usage error listing the kinds.
    let e = cli.fails(
        2,
        &round(
            "entry",
            "1",
            &[
                "--task",
                &task,
                "--progress",
                "x",
                "--difficulty",
                "tien:thiếu",
            ],
            "can.bo",
        ),
    );
    assert!(e.contains("kinh_phi") && e.contains("Về kinh phí"), "{e}");
    for (number, progress) in [("1", "Đang lập hồ sơ"), ("2", "Đã được phê duyệt dự toán")]
    {
        let out = cli.ok(&round(
            "entry",
            number,
            &[
                "--task",
                &task,
                "--progress",
                progress,
                "--difficulty",
                "kinh_phi:Chưa được bố trí vốn",
                "--proposal",
                "Đề nghị bố trí vốn năm 2026",
                "--letter",
                "Công văn số 123/SYT-KHTC ngày 01/11/2025",
            ],
            "can.bo",
        ));
        assert!(out.contains("1 khó khăn, 1 đề xuất"), "{out}");
    }
    let e = cli.fails(
        1,
        &[
            "round", "submit", "--plan", PLAN, "--round", "2", "--as", "can.bo",
        ],
    );
    assert!(e.contains("thủ trưởng"), "{e}");
    let out = cli.ok(&[
        "round", "submit", "--plan", PLAN, "--round", "2", "--as", "giam.doc",
    ]);
    assert!(out.contains("đã gửi báo cáo đợt lần 2"), "{out}");
    let e = cli.fails(
        1,
        &round(
            "entry",
            "2",
            &["--task", &task, "--progress", "sửa muộn"],
            "can.bo",
        ),
    );
    assert!(e.contains("đã gửi"), "{e}");

    let shown = cli.ok(&round("show", "2", &["--compare", "1"], "chuyen.vien"));
    for part in [
        "Đợt báo cáo lần 2",
        "Sở Y tế (so-y-te): đã nhập 1/1 nhiệm vụ, đã gửi",
        "Lần 1:",
        "Đang lập hồ sơ",
        "Lần 2:",
        "Đã được phê duyệt dự toán",
        "Khó khăn (Về kinh phí): Chưa được bố trí vốn",
        "(Công văn số 123/SYT-KHTC ngày 01/11/2025)",
    ] {
        assert!(shown.contains(part), "`{part}` missing from:\n{shown}");
    }
    assert!(shown.find("Đang lập hồ sơ") < shown.find("Đã được phê duyệt dự toán"));

    cli.ok(&round(
        "reopen",
        "2",
        &["--unit", "so-y-te", "--reason", "Bổ sung giải ngân"],
        "chuyen.vien",
    ));
    cli.ok(&round(
        "entry",
        "2",
        &["--task", &task, "--progress", "Đã giải ngân 40%"],
        "can.bo",
    ));

    let e = cli.fails(
        2,
        &round(
            "draft",
            "2",
            &["--section", "muc_7", "--text", "x"],
            "chuyen.vien",
        ),
    );
    assert!(e.contains("kho_khan"), "{e}");
    let out = cli.ok(&round(
        "draft",
        "2",
        &["--section", "kho_khan", "--text", "Khó khăn chung về vốn."],
        "chuyen.vien",
    ));
    assert!(out.contains("5. Khó khăn, vướng mắc"), "{out}");
    let out = cli.ok(&round(
        "sign",
        "2",
        &[
            "--doc-number",
            "456/BC-SKHCN",
            "--on-behalf",
            "KT. GIÁM ĐỐC",
            "--title",
            "PHÓ GIÁM ĐỐC",
            "--name",
            "Nguyễn Văn An",
        ],
        "chuyen.vien",
    ));
    assert!(
        out.contains("456/BC-SKHCN") && out.contains("Nguyễn Văn An"),
        "{out}"
    );
    let json = cli.ok(&[
        "round",
        "show",
        "--plan",
        PLAN,
        "--round",
        "2",
        "--as",
        "chuyen.vien",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["round"]["doc_number"], "456/BC-SKHCN");
    assert_eq!(v["round"]["signer"]["title"], "PHÓ GIÁM ĐỐC");
    assert_eq!(v["drafts"]["kho_khan"], "Khó khăn chung về vốn.");
    assert_eq!(v["entries"][0]["progress"], "Đã giải ngân 40%");
    assert!(v["units"][0]["submitted"].is_null(), "reopened: {v}");
    let kinds: Vec<_> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["open", "submit", "reopen", "draft", "sign"]);
    // The official report takes the round (submitted units only) and records the export.
    cli.ok(&[
        "round", "submit", "--plan", PLAN, "--round", "2", "--as", "giam.doc",
    ]);
    let e = cli.fails(
        2,
        &[
            "report",
            "progress",
            "--plan",
            PLAN,
            "--round",
            "2",
            "--format",
            "md",
            "--as",
            "chuyen.vien",
        ],
    );
    assert!(e.contains("--format docx"), "{e}");
    let file = dir.path().join("bao-cao.docx");
    cli.ok(&[
        "report",
        "progress",
        "--plan",
        PLAN,
        "--as-of",
        "05/11/2025",
        "--round",
        "2",
        "--format",
        "docx",
        "-o",
        file.to_str().unwrap(),
        "--as",
        "chuyen.vien",
    ]);
    let bytes = std::fs::read(&file).unwrap();
    // Without --as-of, a round's document is as of the round's cut-off (05/11/2025), not today:
    // regenerated later, it is the document that was sent, byte for byte.
    let again = dir.path().join("bao-cao-lai.docx");
    cli.ok(&[
        "report",
        "progress",
        "--plan",
        PLAN,
        "--round",
        "2",
        "--format",
        "docx",
        "-o",
        again.to_str().unwrap(),
        "--as",
        "chuyen.vien",
    ]);
    assert!(
        std::fs::read(&again).unwrap() == bytes,
        "regenerated without --as-of"
    );
    let json = cli.ok(&[
        "round",
        "show",
        "--plan",
        PLAN,
        "--round",
        "2",
        "--as",
        "chuyen.vien",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let last = v["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "export", "{last}");
    assert_eq!(last["format"], "docx");
    assert_eq!(last["actor_user"], "chuyen.vien");
    assert_eq!(last["sha256"], adapters::store::sha256_hex(&bytes));
    // The task's history shows the entries.
    let history = cli.ok(&["audit", "show", &task]);
    assert!(history.contains("round_entry"), "{history}");
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
