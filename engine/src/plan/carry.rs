//! Carry-over without duplicates (issue 14): for each row of a new plan, the existing task it
//! continues, with a score in 0–1 and the reason, and the review file a person checks.
//!
//! **Score**: 0,7 × name similarity (Dice coefficient of the folded words of the two names),
//! plus 0,2 × same unit (same id, one merged into the other, or the same name once "UBND",
//! "HĐND", "TP" are spelled out), plus 0,1 × same money or period (the approved estimate agrees
//! within 1 million, or the period prints the same years; half when the periods overlap). A row
//! is proposed the best-scoring task at or above [`PROPOSAL_FLOOR`]; each task is proposed to one
//! row at most (the best-scoring pairs first).
//!
//! **The review file** and the links file are one CSV shape, header
//! `row,unit,name,task_id,score,reason`: one line per incoming task row (`row` is its line in
//! the imported sheet), `task_id` the proposed or chosen existing task, blank for "create new".

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::catalogue::names::folded_name;
use crate::catalogue::table::{FileError, RawTable};
use crate::money::format_million_vnd;

/// Below this score a row is not proposed any task.
pub const PROPOSAL_FLOOR: f64 = 0.5;

/// The review and links file's header, exactly.
pub const REVIEW_HEADER: [&str; 6] = ["row", "unit", "name", "task_id", "score", "reason"];

/// An existing task a row may continue.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub task_id: String,
    pub unit_id: String,
    /// The unit the task's unit was merged into, transitively (itself when not merged).
    pub unit_root: String,
    pub unit_name: String,
    pub name: String,
    pub period: Option<String>,
    pub approved_estimate: Option<i64>,
}

/// A row of the plan being imported.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// Its line in the sheet.
    pub row: usize,
    pub unit: String,
    pub unit_id: String,
    pub unit_root: String,
    pub name: String,
    pub period: Option<String>,
    pub approved_estimate: Option<i64>,
}

/// What is proposed for one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub row: usize,
    pub unit: String,
    pub name: String,
    /// The proposed existing task; `None`: create a new one.
    pub task_id: Option<String>,
    /// 0–1, two decimals.
    pub score: f64,
    pub reason: String,
}

/// A unit's name folded for comparison, with the usual abbreviations spelled out.
pub fn unit_key(name: &str) -> String {
    folded_name(name)
        .split('-')
        .map(|w| match w {
            "ubnd" => "uy-ban-nhan-dan",
            "hdnd" => "hoi-dong-nhan-dan",
            "tp" => "thanh-pho",
            "skhcn" => "so-khoa-hoc-va-cong-nghe",
            w => w,
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn words(name: &str) -> BTreeSet<String> {
    folded_name(name)
        .split('-')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Dice coefficient of two word sets.
fn dice(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let common = a.intersection(b).count() as f64;
    2.0 * common / (a.len() + b.len()) as f64
}

/// The four-digit years a period prints ("Thuê dịch vụ 05 năm (2023-2029)" → 2023, 2029).
fn years(period: Option<&str>) -> Vec<i32> {
    let Some(p) = period else {
        return Vec::new();
    };
    p.split(|c: char| !c.is_ascii_digit())
        .filter(|w| w.len() == 4)
        .filter_map(|w| w.parse().ok())
        .filter(|y| (1990..=2100).contains(y))
        .collect()
}

/// How well `task` fits `row`: the score and the reason, in Vietnamese.
pub fn score(row: &Incoming, task: &Candidate, row_words: &BTreeSet<String>) -> (f64, String) {
    let similarity = dice(row_words, &words(&task.name));
    let same_unit = row.unit_id == task.unit_id
        || row.unit_root == task.unit_root
        || row.unit_id == task.unit_root
        || row.unit_root == task.unit_id
        || unit_key(&row.unit) == unit_key(&task.unit_name);
    let same_money = matches!(
        (row.approved_estimate, task.approved_estimate),
        (Some(a), Some(b)) if (a - b).abs() <= 1_000_000
    );
    let (ry, ty) = (years(row.period.as_deref()), years(task.period.as_deref()));
    let span = |y: &[i32]| y.iter().min().copied().zip(y.iter().max().copied());
    let period = match (span(&ry), span(&ty)) {
        (Some(a), Some(b)) if a == b => 1.0,
        (Some(a), Some(b)) if a.0 <= b.1 && b.0 <= a.1 => 0.5,
        _ => 0.0,
    };
    let extra: f64 = if same_money { 1.0 } else { period };
    let raw = 0.7 * similarity + 0.2 * f64::from(u8::from(same_unit)) + 0.1 * extra;
    let score = (raw * 100.0).round() / 100.0;
    let mut reason = vec![format!("tên giống {:.0}%", similarity * 100.0)];
    reason.push(if same_unit {
        "cùng đơn vị".to_string()
    } else {
        format!("đơn vị khác ({})", task.unit_name)
    });
    if same_money {
        reason.push(format!(
            "dự toán như nhau ({})",
            format_million_vnd(task.approved_estimate.unwrap_or_default(), 1)
        ));
    } else if period > 0.0 {
        reason.push(format!(
            "thời gian {} ({})",
            if period >= 1.0 {
                "như nhau"
            } else {
                "giao nhau"
            },
            task.period.as_deref().unwrap_or_default()
        ));
    }
    (score, reason.join("; "))
}

/// For each row, the existing task it continues, if any scores at or above [`PROPOSAL_FLOOR`];
/// each task goes to one row at most, the best-scoring pairs first. In the rows' order.
pub fn propose(rows: &[Incoming], tasks: &[Candidate]) -> Vec<Proposal> {
    let mut pairs: Vec<(f64, usize, usize, String)> = Vec::new();
    let mut best_below: HashMap<usize, (f64, String, String)> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        let rw = words(&r.name);
        for (j, t) in tasks.iter().enumerate() {
            let (s, reason) = score(r, t, &rw);
            if s >= PROPOSAL_FLOOR {
                pairs.push((s, i, j, reason));
            } else if best_below.get(&i).is_none_or(|b| s > b.0) {
                best_below.insert(i, (s, reason, t.name.clone()));
            }
        }
    }
    // Best first; ties in row then task order, so the outcome does not depend on the sort.
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut chosen: HashMap<usize, (f64, usize, String)> = HashMap::new();
    let mut taken: HashSet<usize> = HashSet::new();
    for (s, i, j, reason) in pairs {
        if chosen.contains_key(&i) || taken.contains(&j) {
            continue;
        }
        taken.insert(j);
        chosen.insert(i, (s, j, reason));
    }
    rows.iter()
        .enumerate()
        .map(|(i, r)| match chosen.remove(&i) {
            Some((s, j, reason)) => Proposal {
                row: r.row,
                unit: r.unit.clone(),
                name: r.name.clone(),
                task_id: Some(tasks[j].task_id.clone()),
                score: s,
                reason,
            },
            None => Proposal {
                row: r.row,
                unit: r.unit.clone(),
                name: r.name.clone(),
                task_id: None,
                score: 0.0,
                reason: match best_below.remove(&i) {
                    Some((s, reason, name)) => format!(
                        "không có nhiệm vụ đủ giống (gần nhất: «{name}», điểm {s:.2}: {reason}): tạo mới"
                    ),
                    None => "không có nhiệm vụ nào để so: tạo mới".into(),
                },
            },
        })
        .collect()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The review file: the header and one line per row.
pub fn review_csv(proposals: &[Proposal]) -> String {
    let mut out = REVIEW_HEADER.join(",");
    out.push('\n');
    for p in proposals {
        out.push_str(
            &[
                p.row.to_string(),
                csv_field(&p.unit),
                csv_field(&p.name),
                p.task_id.clone().unwrap_or_default(),
                format!("{:.2}", p.score),
                csv_field(&p.reason),
            ]
            .join(","),
        );
        out.push('\n');
    }
    out
}

/// A reviewed line: link row `row` to `task_id`, or create a new task (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub row: usize,
    pub name: String,
    pub task_id: Option<String>,
}

/// Reads a links file (the review file's shape) as it stands. Every line must name a row; the
/// store checks that the rows and tasks exist.
pub fn parse_links(table: &RawTable) -> Result<Vec<Link>, FileError> {
    let header: Vec<String> = table
        .header
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    if header != REVIEW_HEADER {
        return Err(FileError(format!(
            "{}: dòng tiêu đề phải là `{}` (như tệp --review ghi ra), không phải `{}`.",
            table.source,
            REVIEW_HEADER.join(","),
            header.join(",")
        )));
    }
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for r in &table.records {
        let cells = match &r.cells {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!("dòng {}: {e}", r.line));
                continue;
            }
        };
        let get = |i: usize| cells.get(i).map(|s| s.trim()).unwrap_or("");
        let Ok(row) = get(0).parse::<usize>() else {
            problems.push(format!(
                "dòng {}: cột row «{}» không phải số dòng",
                r.line,
                get(0)
            ));
            continue;
        };
        if !seen.insert(row) {
            problems.push(format!("dòng {}: dòng {row} được ghi hai lần", r.line));
        }
        let task = get(3);
        out.push(Link {
            row,
            name: get(2).to_string(),
            task_id: (!task.is_empty()).then(|| task.to_string()),
        });
    }
    if !problems.is_empty() {
        return Err(FileError(format!(
            "{}: {}",
            table.source,
            problems.join("; ")
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: &str, unit: &str, name: &str, period: &str, est: Option<i64>) -> Candidate {
        let uid = folded_name(unit);
        Candidate {
            task_id: id.into(),
            unit_id: uid.clone(),
            unit_root: uid,
            unit_name: unit.into(),
            name: name.into(),
            period: (!period.is_empty()).then(|| period.to_string()),
            approved_estimate: est,
        }
    }

    fn inc(row: usize, unit: &str, name: &str, period: &str, est: Option<i64>) -> Incoming {
        let uid = folded_name(unit);
        Incoming {
            row,
            unit: unit.into(),
            unit_id: uid.clone(),
            unit_root: uid,
            name: name.into(),
            period: (!period.is_empty()).then(|| period.to_string()),
            approved_estimate: est,
        }
    }

    #[test]
    fn the_continuing_task_is_proposed_with_its_reason_and_a_new_one_is_not() {
        let m = 1_000_000;
        let tasks = vec![
            cand(
                "a",
                "Sở Khoa học và Công nghệ",
                "Thuê hệ thống Hội nghị truyền hình cho UBND cấp xã, phường và đặc khu",
                "2025-2028",
                None,
            ),
            cand(
                "b",
                "Sở Khoa học và Công nghệ",
                "Thuê hệ thống Hội nghị truyền hình cho UBND cấp xã, phường và đặc khu",
                "Thuê dịch vụ 3 năm",
                None,
            ),
            cand(
                "c",
                "Văn phòng Ủy ban nhân dân thành phố",
                "Tổng đài 1022",
                "Thuê dịch vụ 03 năm (2023-2025)",
                Some(5696 * m),
            ),
        ];
        let rows = vec![
            inc(
                6,
                "Sở Khoa học và Công nghệ",
                "Thuê hệ thống Hội nghị truyền hình cho UBND cấp xã (phòng hội trường)",
                "2025-2028",
                Some(61000 * m),
            ),
            inc(
                16,
                "Văn phòng UBND thành phố",
                "Tổng đài 1022",
                "",
                Some(1585 * m),
            ),
            inc(
                28,
                "Sở Nông nghiệp và Môi trường",
                "Thuê phần mềm quản lý dữ liệu sản phẩm Ocop",
                "2026",
                Some(380 * m),
            ),
        ];
        let p = propose(&rows, &tasks);
        assert_eq!(p[0].task_id.as_deref(), Some("a"), "{p:?}");
        assert!(p[0].score >= 0.8, "{p:?}");
        assert!(p[0].reason.contains("cùng đơn vị"), "{}", p[0].reason);
        assert_eq!(p[1].task_id.as_deref(), Some("c"));
        assert!(
            p[1].reason.contains("cùng đơn vị"),
            "UBND spelled out: {}",
            p[1].reason
        );
        assert_eq!(p[2].task_id, None);
        assert!(p[2].reason.ends_with("tạo mới"), "{}", p[2].reason);
        let csv = review_csv(&p);
        assert!(csv.starts_with("row,unit,name,task_id,score,reason\n6,Sở Khoa học và Công nghệ,"));
        assert!(csv.contains(
            "\n28,Sở Nông nghiệp và Môi trường,Thuê phần mềm quản lý dữ liệu sản phẩm Ocop,,0.00,"
        ));
    }

    #[test]
    fn a_task_goes_to_one_row_at_most() {
        let tasks = vec![cand("a", "Sở Y tế", "Mua máy chủ", "", None)];
        let rows = vec![
            inc(1, "Sở Y tế", "Mua máy chủ", "", None),
            inc(2, "Sở Y tế", "Mua máy chủ", "", None),
        ];
        let p = propose(&rows, &tasks);
        assert_eq!(p[0].task_id.as_deref(), Some("a"));
        assert_eq!(p[1].task_id, None);
    }

    #[test]
    fn a_links_file_must_have_the_review_header() {
        let t = crate::catalogue::table::csv_table(
            "row,unit,name,task_id,score,reason",
            &["6,A,B,x,0.9,r", "7,A,C,,0.1,r"],
        );
        let l = parse_links(&t).unwrap();
        assert_eq!(l[0].task_id.as_deref(), Some("x"));
        assert_eq!(l[1].task_id, None);
        let t = crate::catalogue::table::csv_table("row,task", &[]);
        assert!(
            parse_links(&t)
                .unwrap_err()
                .0
                .contains("row,unit,name,task_id,score,reason")
        );
        let t = crate::catalogue::table::csv_table(
            "row,unit,name,task_id,score,reason",
            &["x,A,B,,0,r", "6,A,B,,0,r", "6,A,B,,0,r"],
        );
        let e = parse_links(&t).unwrap_err().0;
        assert!(
            e.contains("không phải số dòng") && e.contains("hai lần"),
            "{e}"
        );
    }
}
