//! End-to-end: the real `tiendo` binary on workflow definitions and the calendar.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::copy_of_shipped;

fn tiendo(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tiendo"))
        .args(args)
        .current_dir(dir)
        .env_remove("TIENDO_WORKFLOWS")
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn the_embedded_workflows_work_from_any_directory() {
    let anywhere = tempfile::tempdir().unwrap();
    let o = tiendo(anywhere.path(), &["workflows", "check"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("OK: 5 workflow(s) valid"), "{out}");
    let o = tiendo(anywhere.path(), &["workflows", "list"]);
    let (out, _) = text(&o);
    for name in [
        "mua-sam",
        "thue-dich-vu",
        "bao-cao-ktkt",
        "dau-tu-cong",
        "hoat-dong",
    ] {
        assert!(out.contains(name), "{out}");
    }
}

#[test]
fn check_lists_every_error_with_file_and_line_and_exits_1() {
    let dir = copy_of_shipped();
    let file = dir.path().join("mua-sam.toml");
    let original = std::fs::read_to_string(&file).unwrap();
    let broken = original
        .replacen("phase = \"appraisal\"", "phase = \"tham_dinh\"", 1)
        .replacen("roles = [\"skhcn\"]", "roles = [\"so_khcn\"]", 1);
    assert_ne!(broken, original);
    std::fs::write(&file, &broken).unwrap();
    let o = tiendo(dir.path(), &["workflows", "check", file.to_str().unwrap()]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("unknown phase `tham_dinh`"), "{err}");
    assert!(err.contains("unknown role `so_khcn`"), "{err}");
    let expected = format!("{}:", file.display());
    assert!(
        err.lines().filter(|l| l.contains(&expected)).count() >= 2,
        "{err}"
    );
    // The whole folder is refused too, when it is the configured one.
    let o = tiendo(
        dir.path(),
        &[
            "--workflows",
            dir.path().to_str().unwrap(),
            "workflows",
            "list",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn a_city_keeps_its_own_folder_via_flag_or_environment() {
    let dir = copy_of_shipped();
    let file = dir.path().join("mua-sam.toml");
    let custom = std::fs::read_to_string(&file).unwrap().replacen(
        "title = \"Mua sắm",
        "title = \"Quy trình riêng: Mua sắm",
        1,
    );
    std::fs::write(&file, custom).unwrap();
    let o = tiendo(
        dir.path(),
        &[
            "--workflows",
            dir.path().to_str().unwrap(),
            "workflows",
            "show",
            "mua-sam",
        ],
    );
    assert!(text(&o).0.contains("Quy trình riêng"), "{:?}", text(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_tiendo"))
        .args(["workflows", "show", "mua-sam"])
        .env("TIENDO_WORKFLOWS", dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("Quy trình riêng"));
}

#[test]
fn show_and_graph_render_the_workflow() {
    let here = tempfile::tempdir().unwrap();
    let o = tiendo(here.path(), &["workflows", "show", "thue-dich-vu"]);
    let (out, _) = text(&o);
    assert!(o.status.success());
    assert!(
        out.contains("TRẠNG THÁI") && out.contains("CHUYỂN BƯỚC") && out.contains("20 ngày"),
        "{out}"
    );
    // Each deadline with its kind and source, what a return does, and the request window.
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "20 ngày (thời hạn luật định: Nghị định 73/2019/NĐ-CP Điều 56)",
        "khi nhận lại hồ sơ: tính lại từ đầu",
        "đề nghị bổ sung trong 3 ngày làm việc đầu",
    ] {
        assert!(flat.contains(needle), "{needle} in {out}");
    }
    let o = tiendo(here.path(), &["workflows", "graph", "mua-sam"]);
    let (out, _) = text(&o);
    assert!(out.starts_with("stateDiagram-v2\n"), "{out}");
    assert!(out.contains("[*] --> de_xuat"), "{out}");
    let o = tiendo(here.path(), &["workflows", "show", "mua-ban"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("Không có quy trình `mua-ban`") && err.contains("mua-sam"),
        "{err}"
    );
}

#[test]
fn calendar_answers_the_2026_official_days() {
    let here = tempfile::tempdir().unwrap();
    let ask = |args: &[&str]| {
        let o = tiendo(here.path(), args);
        assert!(o.status.success(), "{args:?}: {:?}", text(&o));
        text(&o).0
    };
    assert!(
        ask(&["calendar", "is-working-day", "2026-02-16"]).contains("ngày nghỉ — Tết Nguyên đán")
    );
    assert!(ask(&["calendar", "is-working-day", "10/01/2026"]).contains("ngày làm việc"));
    assert!(ask(&["calendar", "is-working-day", "2026-08-22"]).contains("ngày làm việc"));
    assert!(ask(&["calendar", "is-working-day", "2026-04-27"]).contains("ngày nghỉ"));
    let out = ask(&[
        "calendar",
        "deadline",
        "--from",
        "2026-02-13T09:00",
        "--working-days",
        "15",
    ]);
    assert!(out.contains("13/03/2026"), "{out}");
    let out = ask(&[
        "calendar",
        "deadline",
        "--from",
        "2026-04-20",
        "--days",
        "6",
    ]);
    assert!(out.contains("28/04/2026"), "{out}");
    assert!(
        ask(&["calendar", "between", "2026-02-12", "2026-02-24"]).starts_with("3 ngày làm việc")
    );
    let out = ask(&["calendar", "show", "2027"]);
    assert!(
        out.contains("chưa chính thức") || out.contains("dự kiến"),
        "{out}"
    );

    let o = tiendo(here.path(), &["calendar", "is-working-day", "2028-01-03"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("2028"));
    let o = tiendo(here.path(), &["calendar", "is-working-day", "hôm nay"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o).1.contains("yyyy-mm-dd"), "{:?}", text(&o));
}
