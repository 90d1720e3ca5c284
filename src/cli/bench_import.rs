//! `tiendo bench import`: plan import and the progress report over a synthetic plan (issue 6
//! targets: import of 100,000 tasks ≤ 10 s, progress report ≤ 3 s, peak memory ≤ 300 MB).
//!
//! A deterministic synthetic catalogue with the columns of `data/plan-215-2025/tasks.csv` is
//! written to a temporary folder (140 units with Vietnamese names, the four appendices, every
//! lifecycle stage, realistic name and progress lengths). Then, per backend, on a fresh database
//! (an SQLite file in the temporary folder; a `tiendo_bench_import_<pid>` database created on the
//! PostgreSQL server with `psql` and dropped at the end), it runs the very commands a user runs,
//! each as its own `tiendo` process: `import plan` (first import), `import plan` again (which must
//! change nothing), `report progress` in XLSX, HTML and Markdown, `report status` in XLSX, and
//! `audit verify` (a benchmark that corrupts data is useless). Each figure is the command's wall
//! time, process start and migrations included, and its peak resident memory (VmHWM).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant as Clock;

use adapters::store::sqlite_url;
use chrono::{NaiveDate, Utc};

use super::Failure;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backends {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Tasks in the synthetic plan.
    #[arg(long, default_value_t = 100_000)]
    pub tasks: usize,
    /// Which backend(s) to measure.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: Backends,
    /// The PostgreSQL server; a fresh database is created on it and dropped at the end.
    #[arg(
        long,
        env = "TIENDO_BENCH_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    pub pg_url: String,
    /// Also write the synthetic catalogue here (to time `tiendo import plan` under /usr/bin/time).
    #[arg(long, value_name = "FILE")]
    pub write_csv: Option<std::path::PathBuf>,
}

const PLAN: &str = "999/KH-BENCH";

/// xorshift64*: deterministic, so every run measures the same plan.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const PLACES: &[&str] = &[
    "An Biên",
    "An Dương",
    "An Hải",
    "An Lão",
    "Bạch Đằng",
    "Cát Bà",
    "Cát Hải",
    "Chu Văn An",
    "Đồ Sơn",
    "Đông Hải",
    "Dương Kinh",
    "Gia Viên",
    "Hải An",
    "Hồng Bàng",
    "Hưng Đạo",
    "Kiến An",
    "Kiến Thụy",
    "Lê Chân",
    "Lê Lợi",
    "Nam Sách",
    "Ngô Quyền",
    "Nguyễn Trãi",
    "Quán Toan",
    "Thủy Nguyên",
    "Tiên Lãng",
    "Tứ Kỳ",
    "Vĩnh Bảo",
    "Thanh Hà",
];
const KINDS: &[&str] = &["phường", "xã", "đặc khu", "Trung tâm Y tế", "Trường THPT"];
const VERBS: &[&str] = &[
    "Thuê dịch vụ",
    "Xây dựng phần mềm",
    "Nâng cấp",
    "Triển khai",
    "Mua sắm thiết bị",
    "Số hóa",
];
const OBJECTS: &[&str] = &[
    "hệ thống quản lý văn bản và điều hành",
    "cơ sở dữ liệu chuyên ngành",
    "hạ tầng mạng và an toàn thông tin",
    "cổng thông tin điện tử",
    "hệ thống một cửa điện tử",
    "phần mềm quản lý hồ sơ bệnh án điện tử",
    "hệ thống hội nghị truyền hình trực tuyến",
];
const PROGRESS: &[&str] = &[
    "Thanh toán theo hợp đồng đã ký kết và khối lượng thực tế",
    "Đang hoàn thiện thuyết minh và dự toán theo ý kiến của Sở KHCN",
    "Đang thẩm định giá",
    "Đã phê duyệt Dự toán và Kế hoạch lựa chọn nhà thầu",
    "Đang nghiệm thu",
    "Hoàn thành",
    "Dừng triển khai, đề xuất chuyển 2026",
];
const STAGES: &[&str] = &[
    "proposed",
    "explanation_and_estimate",
    "appraisal",
    "contractor_selection",
    "contract",
    "contract",
    "contract",
    "acceptance",
    "completed",
    "postponed",
    "withdrawn",
];

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn amount(rng: &mut Rng, max_million: usize) -> String {
    let whole = 50 + rng.below(max_million);
    if rng.below(5) == 0 {
        format!("{whole}.{}", rng.below(10))
    } else {
        whole.to_string()
    }
}

/// The synthetic catalogue as CSV text.
pub fn synthetic_csv(tasks: usize) -> String {
    let mut rng = Rng(0x7469_656e_646f_0006);
    let mut units: Vec<String> = Vec::new();
    'outer: for kind in KINDS {
        for place in PLACES {
            units.push(match *kind {
                "phường" | "xã" | "đặc khu" => format!("Ủy ban nhân dân {kind} {place}"),
                k => format!("{k} {place}"),
            });
            if units.len() == 140 {
                break 'outer;
            }
        }
    }
    let mut out = String::with_capacity(tasks * 330);
    out.push_str("appendix,seq,unit,name,funding_source,period,is_rental,need_total_mvnd,approved_estimate_mvnd,need_2025_mvnd,allocated_2025_mvnd,progress_text,expected_completion,lifecycle_stage,notes\n");
    for i in 0..tasks {
        let appendix = [1, 1, 2, 2, 3, 4][rng.below(6)];
        let funding = match appendix {
            1 => "thuong_xuyen",
            2 if rng.below(4) == 0 => "hoan_thanh_2025_quy_phat_trien",
            2 => "hoan_thanh_2025_cntt",
            3 => "su_nghiep_cntt",
            _ => "dau_tu_cong",
        };
        let unit = &units[rng.below(units.len())];
        let verb = rng.pick(VERBS);
        let rental = verb.starts_with("Thuê");
        let name = format!(
            "{verb} {} phục vụ chuyển đổi số của {} (gói {})",
            rng.pick(OBJECTS),
            unit.to_lowercase(),
            i + 1
        );
        let period = if rental {
            "Thuê dịch vụ 03 năm (2024-2026)"
        } else {
            "2025"
        };
        let need = amount(&mut rng, 20_000);
        let approved = if rng.below(2) == 0 {
            need.clone()
        } else {
            String::new()
        };
        let year = amount(&mut rng, 5_000);
        let allocated = if rng.below(3) == 0 {
            String::new()
        } else {
            year.clone()
        };
        let stage = rng.pick(STAGES);
        let progress = rng.pick(PROGRESS);
        let expected = match stage {
            "completed" => "Hoàn thành".to_string(),
            "postponed" => "Đề xuất dừng, chuyển 2026".to_string(),
            _ => format!("{}/{}/2025", 1 + rng.below(28), 1 + rng.below(12)),
        };
        let _ = writeln!(
            out,
            "{appendix},{},{},{},{funding},{},{rental},{need},{approved},{year},{allocated},{},{},{stage},",
            i + 1,
            quoted(unit),
            quoted(&name),
            quoted(period),
            quoted(progress),
            quoted(&expected),
        );
    }
    out
}

/// A phase as measured: one `tiendo` command in its own process.
struct Phase {
    name: String,
    seconds: f64,
    peak_mib: Option<f64>,
    target_seconds: Option<f64>,
    note: String,
}

/// The high-water mark of a process's resident memory, in MiB (Linux `/proc`).
fn peak_of(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Runs this same binary with `args` on `url`: the wall time, the peak resident memory (VmHWM
/// polled every 20 ms until exit; growth in the last 20 ms would be missed) and its output.
/// Each phase is its own process, as a user runs it, so no phase inherits another's heap.
async fn tiendo(url: &str, args: &[&str]) -> Result<(f64, Option<f64>, String), Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::refused(format!("cannot find the tiendo binary: {e}")))?;
    let t = Clock::now();
    let mut child = tokio::process::Command::new(exe)
        .args(args)
        .env("DATABASE_URL", url)
        .env("USER", "bench")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Failure::refused(format!("cannot run tiendo: {e}")))?;
    let pid = child.id();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let read_out = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut s = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = o.read_to_string(&mut s).await;
        }
        s
    });
    let read_err = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_string(&mut s).await;
        }
        s
    });
    let mut peak: Option<f64> = None;
    let status = loop {
        if let Some(p) = pid.and_then(peak_of) {
            peak = Some(peak.map_or(p, |q: f64| q.max(p)));
        }
        tokio::select! {
            s = child.wait() => break s,
            _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {}
        }
    }
    .map_err(|e| Failure::refused(format!("tiendo did not finish: {e}")))?;
    let seconds = t.elapsed().as_secs_f64();
    let out = read_out.await.unwrap_or_default();
    let err = read_err.await.unwrap_or_default();
    if !status.success() {
        return Err(Failure::refused(format!(
            "`tiendo {}` failed: {out}{err}",
            args.join(" ")
        )));
    }
    Ok((seconds, peak, out))
}

async fn run_backend(
    backend: &str,
    url: &str,
    csv: &Path,
    tasks: usize,
) -> Result<Vec<Phase>, Failure> {
    let csv = csv.display().to_string();
    let dir = Path::new(&csv)
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let import = [
        "import",
        "plan",
        "--plan",
        PLAN,
        "--year",
        "2025",
        "--title",
        "Kế hoạch tổng hợp (dữ liệu đo hiệu năng)",
        &csv,
    ];
    let mut phases = Vec::new();
    let (s, p, out) = tiendo(url, &import).await?;
    if !out.contains(&format!("{tasks} mới, 0 cập nhật, 0 không thay đổi")) {
        return Err(Failure::refused(format!(
            "{backend}: unexpected import: {out}"
        )));
    }
    phases.push(Phase {
        name: "import (first)".into(),
        seconds: s,
        peak_mib: p,
        target_seconds: Some(10.0),
        note: format!("{tasks} tasks created"),
    });
    let (s, p, out) = tiendo(url, &import).await?;
    if !out.contains(&format!("0 mới, 0 cập nhật, {tasks} không thay đổi")) {
        return Err(Failure::refused(format!(
            "{backend}: the re-import changed something: {out}"
        )));
    }
    phases.push(Phase {
        name: "re-import (no change)".into(),
        seconds: s,
        peak_mib: p,
        target_seconds: Some(10.0),
        note: format!("{tasks} unchanged"),
    });
    for format in ["xlsx", "html", "md"] {
        let file = dir
            .join(format!("{backend}-progress.{format}"))
            .display()
            .to_string();
        let (s, p, _) = tiendo(
            url,
            &[
                "report",
                "progress",
                "--plan",
                PLAN,
                "--as-of",
                "2025-11-05",
                "--format",
                format,
                "-o",
                &file,
            ],
        )
        .await?;
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        phases.push(Phase {
            name: format!("progress report ({format})"),
            seconds: s,
            peak_mib: p,
            target_seconds: Some(3.0),
            note: format!("{:.1} MB", size as f64 / 1e6),
        });
    }
    let file = dir
        .join(format!("{backend}-status.xlsx"))
        .display()
        .to_string();
    let today = local_today().format("%Y-%m-%d").to_string();
    let (s, p, _) = tiendo(
        url,
        &[
            "report",
            "status",
            "--plan",
            PLAN,
            "--from",
            "2025-01-01",
            "--to",
            &today,
            "-o",
            &file,
        ],
    )
    .await?;
    phases.push(Phase {
        name: "status report (xlsx)".into(),
        seconds: s,
        peak_mib: p,
        target_seconds: None,
        note: String::new(),
    });
    let (s, p, out) = tiendo(url, &["audit", "verify"]).await?;
    phases.push(Phase {
        name: "audit verify".into(),
        seconds: s,
        peak_mib: p,
        target_seconds: None,
        note: out.lines().next().unwrap_or_default().to_string(),
    });
    Ok(phases)
}

async fn psql(url: &str, sql: &str) -> Result<(), Failure> {
    let out = tokio::process::Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .await
        .map_err(|e| Failure::refused(format!("cannot run psql: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Failure::refused(format!(
            "psql: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// The machine's load (1, 5, 15 minutes): other work on a 2-core machine shows in the figures.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

fn local_today() -> NaiveDate {
    engine::time::local_date(Utc::now())
}

pub async fn run(a: &ImportArgs) -> Result<String, Failure> {
    if a.tasks == 0 {
        return Err(Failure::usage("--tasks must be at least 1"));
    }
    let dir = std::env::temp_dir().join(format!("tiendo-bench-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::refused(format!("{}: {e}", dir.display())))?;
    let t = Clock::now();
    let text = synthetic_csv(a.tasks);
    let csv = dir.join("plan.csv");
    std::fs::write(&csv, &text).map_err(|e| Failure::refused(format!("{}: {e}", csv.display())))?;
    if let Some(p) = &a.write_csv {
        std::fs::write(p, &text).map_err(|e| Failure::refused(format!("{}: {e}", p.display())))?;
    }
    let mut out = format!(
        "Synthetic plan: {} tasks, {:.1} MB of CSV, generated in {:.2} s ({})\nLoad average before: {}\n",
        a.tasks,
        text.len() as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        csv.display(),
        load_average()
    );
    drop(text);
    let backends: &[&str] = match a.backend {
        Backends::Sqlite => &["sqlite"],
        Backends::Postgres => &["postgres"],
        Backends::Both => &["sqlite", "postgres"],
    };
    let mut all_ok = true;
    for backend in backends {
        let (url, pg_db) = if *backend == "sqlite" {
            (sqlite_url(&dir.join("bench.db")), None)
        } else {
            let name = format!("tiendo_bench_import_{}", std::process::id());
            let admin = format!("{}/postgres", a.pg_url.trim_end_matches('/'));
            psql(
                &admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await?;
            psql(&admin, &format!("CREATE DATABASE {name}")).await?;
            (
                format!("{}/{name}", a.pg_url.trim_end_matches('/')),
                Some((admin, name)),
            )
        };
        let result = run_backend(backend, &url, &csv, a.tasks).await;
        if let Some((admin, name)) = pg_db {
            let _ = psql(
                &admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
        }
        let phases = result?;
        let _ = writeln!(out, "\n{backend}:");
        let _ = writeln!(
            out,
            "  {:<26} {:>9} {:>11} {:>8}  note",
            "phase", "seconds", "peak MiB", "target"
        );
        for p in &phases {
            let target = match p.target_seconds {
                Some(t) if p.seconds <= t => format!("≤{t:.0}s ok"),
                Some(t) => {
                    all_ok = false;
                    format!("≤{t:.0}s MISS")
                }
                None => String::new(),
            };
            // The memory target is the import's and the progress report's, like the times.
            let peak = p
                .peak_mib
                .map(|m| {
                    if m > 300.0 && p.target_seconds.is_some() {
                        all_ok = false;
                        format!("{m:.0} MISS")
                    } else {
                        format!("{m:.0}")
                    }
                })
                .unwrap_or_else(|| "n/a".into());
            let _ = writeln!(
                out,
                "  {:<26} {:>9.2} {:>11} {:>8}  {}",
                p.name, p.seconds, peak, target, p.note
            );
        }
    }
    let _ = writeln!(out, "\nLoad average after: {}", load_average());
    let _ = writeln!(
        out,
        "Targets (issue 6): import ≤ 10 s, progress report ≤ 3 s, peak memory ≤ 300 MB: {}",
        if all_ok { "met" } else { "NOT met" }
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapters::import;

    #[test]
    fn the_synthetic_plan_is_a_valid_catalogue() {
        let text = synthetic_csv(500);
        let table = import::read_bytes(text.as_bytes(), "synthetic.csv", None).unwrap();
        let catalog = adapters::definitions::load(None).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let c = engine::catalogue::parse_rows(table, 2025, &catalog, today).unwrap();
        assert!(c.invalid.is_empty(), "{:?}", c.invalid.first());
        assert_eq!(c.rows.len(), 500);
        assert_eq!(synthetic_csv(500), text, "deterministic");
    }
}
