//! A deterministic synthetic plan catalogue with the columns of `data/plan-215-2025/tasks.csv`:
//! 140 units with Vietnamese names, the four appendices, every lifecycle stage, realistic name and
//! progress lengths. Every run of `import` measures the same plan.

use std::fmt::Write as _;

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

/// The synthetic catalogue of `tasks` tasks, as CSV text.
pub fn csv(tasks: usize) -> String {
    csv_revision(tasks, 0)
}

/// [`csv`] as corrected `revision` times: every task's progress text ends with "(cập nhật lần
/// N)" when `revision` is N > 0, so that re-importing it changes every task (one `import_update`
/// entry each). Revision 0 is [`csv`].
pub fn csv_revision(tasks: usize, revision: usize) -> String {
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
        let progress = match revision {
            0 => rng.pick(PROGRESS).to_string(),
            n => format!("{} (cập nhật lần {n})", rng.pick(PROGRESS)),
        };
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
            quoted(&progress),
            quoted(&expected),
        );
    }
    out
}

/// A synthetic plan written to disk for a benchmark that imports it with the real binary.
pub struct WrittenPlan {
    /// The temporary folder holding it, held so that it is removed when this is dropped.
    _dir: tempfile::TempDir,
    /// `plan.csv` in it.
    pub csv: std::path::PathBuf,
    /// The CSV's size in bytes.
    pub bytes: usize,
    /// How long generating it took.
    pub generated_in: std::time::Duration,
}

/// Generates the plan of `tasks` tasks ([`csv`]) into `plan.csv` of a new temporary folder
/// named `tiendo-bench-{what}-…`, and also to `also` when given.
pub fn write(
    what: &str,
    tasks: usize,
    also: Option<&std::path::Path>,
) -> Result<WrittenPlan, crate::Failure> {
    use crate::Failure;
    let dir = tempfile::Builder::new()
        .prefix(&format!("tiendo-bench-{what}-"))
        .tempdir()
        .map_err(|e| Failure::new(format!("cannot create a temporary folder: {e}")))?;
    let t = std::time::Instant::now();
    let text = csv(tasks);
    let generated_in = t.elapsed();
    let csv = dir.path().join("plan.csv");
    for p in std::iter::once(csv.as_path()).chain(also) {
        std::fs::write(p, &text).map_err(|e| Failure::new(format!("{}: {e}", p.display())))?;
    }
    Ok(WrittenPlan {
        _dir: dir,
        csv,
        bytes: text.len(),
        generated_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapters::import;
    use chrono::NaiveDate;

    #[test]
    fn the_synthetic_plan_is_a_valid_catalogue() {
        let text = csv(500);
        let table = import::read_bytes(text.as_bytes(), "synthetic.csv", None).unwrap();
        let catalog = adapters::definitions::load(None).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let c = engine::catalogue::parse_rows(table, 2025, &catalog, today).unwrap();
        assert!(c.invalid.is_empty(), "{:?}", c.invalid.first());
        assert_eq!(c.rows.len(), 500);
        assert_eq!(csv(500), text, "deterministic");
        let revised = csv_revision(500, 3);
        assert_eq!(revised.lines().count(), text.lines().count());
        assert!(
            text.lines()
                .zip(revised.lines())
                .skip(1)
                .all(|(a, b)| a != b && b.contains("(cập nhật lần 3)")),
            "every row's progress changes"
        );
    }
}
