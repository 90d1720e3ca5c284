//! End-to-end: what the real `tiendo` binary reads before any command runs — the configuration
//! (file, environment, flags, in that order of precedence; a wrong value stops every command
//! naming the setting) — and its help, in Vietnamese where SKHCN staff read it.

use std::path::Path;
use std::process::{Command, Output};

/// `tiendo` in `dir` with an empty environment plus `env`.
fn tiendo(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tiendo"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_file_then_the_environment_then_the_flags() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::write(
        d.join("tiendo.toml"),
        "# tiendo's configuration\ndatabase_url = \"sqlite://from-file.db\"\n\n[http]\nsession_idle = \"PT20M\"\n",
    )
    .expect("write the file");

    let o = tiendo(d, &["--config", "tiendo.toml", "unit", "list"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.join("from-file.db").exists(), "the file's database");

    let o = tiendo(
        d,
        &["unit", "list"],
        &[
            ("TIENDO_CONFIG", "tiendo.toml"),
            ("DATABASE_URL", "sqlite://from-env.db"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        d.join("from-env.db").exists(),
        "the environment wins over the file"
    );

    let o = tiendo(
        d,
        &["--database-url", "sqlite://from-flag.db", "unit", "list"],
        &[
            ("TIENDO_CONFIG", "tiendo.toml"),
            ("DATABASE_URL", "sqlite://from-env-again.db"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.join("from-flag.db").exists(), "the flag wins over both");
    assert!(!d.join("from-env-again.db").exists());
}

#[test]
fn a_wrong_setting_stops_every_command_and_names_itself() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();

    let o = tiendo(
        d,
        &["unit", "list"],
        &[("TIENDO_SMTP_PORT", "hai mươi lăm")],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    for part in [
        "TIENDO_SMTP_PORT",
        "email.smtp_port",
        "hai mươi lăm",
        "1-65535",
        "Invalid setting",
    ] {
        assert!(e.contains(part), "`{part}` in: {e}");
    }
    assert!(!d.join("tiendo.db").exists(), "nothing ran");

    std::fs::write(
        d.join("sai.toml"),
        "[http]\nlisten_address = \"0.0.0.0:80\"\n",
    )
    .expect("write");
    let o = tiendo(d, &["--config", "sai.toml", "workflows", "list"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("http.listen_address") && e.contains("http.listen,"),
        "{e}"
    );

    let o = tiendo(
        d,
        &["workflows", "list"],
        &[("TIENDO_CONFIG", "khong-co.toml")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("khong-co.toml"), "{}", stderr(&o));

    // A secret is never echoed, even when its setting is wrong elsewhere.
    let o = tiendo(
        d,
        &["workflows", "list"],
        &[("DATABASE_URL", "mysql://tiendo:mat-khau-bi-mat@db/tiendo")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).contains("mat-khau-bi-mat"), "{}", stderr(&o));
    assert!(stderr(&o).contains("DATABASE_URL"), "{}", stderr(&o));
}

#[test]
fn staff_read_their_commands_help_in_vietnamese() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (args, phrase) in [
        (
            &["task", "--help"][..],
            "Nhiệm vụ: đề xuất, liệt kê, xem, chuyển bước",
        ),
        (
            &["task", "transition", "--help"][..],
            "Chuyển bước một nhiệm vụ",
        ),
        (&["import", "plan", "--help"][..], "Nhập danh mục nhiệm vụ"),
        (
            &["report", "progress", "--help"][..],
            "Báo cáo tiến độ của SKHCN",
        ),
        (&["report", "status", "-h"][..], "bốn nhóm tình trạng"),
        (&["user", "add", "--help"][..], "Thêm người dùng"),
    ] {
        let o = tiendo(dir.path(), args, &[]);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let help = stdout(&o);
        assert!(help.contains(phrase), "{args:?}:\n{help}");
        assert!(help.contains("Cách dùng: tiendo"), "{args:?}:\n{help}");
        assert!(help.contains("In trợ giúp"), "{args:?}:\n{help}");
        for english in [
            "Usage:",
            "Options:",
            "Print help",
            "[OPTIONS]",
            "Arguments:",
        ] {
            assert!(
                !help.contains(english),
                "{args:?} says `{english}`:\n{help}"
            );
        }
    }
    // Without a subcommand, the list of subcommands, in Vietnamese, and a usage error.
    let o = tiendo(dir.path(), &["user"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Đặt mật khẩu"), "{}", stderr(&o));
}
