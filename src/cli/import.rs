//! `tiendo import plan …`: a plan's task catalogue (CSV or XLSX) into the store, reconciled with
//! the totals as printed. This module parses arguments, reads the files
//! ([`adapters::import::read_file`]), calls the door ([`adapters::store::Imports`]) as the user
//! named by `--as` or as the operator at the shell, and prints the summary.

use std::path::PathBuf;

use adapters::import::{read_file, read_grids};
use adapters::store::ImportError;
use chrono::Utc;
use engine::catalogue::{ImportPlan, PlanImport};
use engine::plan::carry::parse_links;
use engine::plan::import::{LinkMode, PrintedImport};
use engine::plan::layout::parse_layout;
use engine::time::parse_date;

use super::progress::Bar;
use super::{Ctx, Failure};

const PLAN_LONG_ABOUT: &str = "Nhập danh mục nhiệm vụ của một kế hoạch (CSV hoặc trang tính XLSX có cùng dòng tiêu đề với data/plan-215-2025/tasks.csv).

Tạo các đơn vị còn thiếu (mã chuẩn hóa: «Ủy»/«Uỷ», «hóa»/«hoá» là một đơn vị), kế hoạch, các nhiệm vụ với dòng kinh phí, và đặt mỗi nhiệm vụ vào bước đầu tiên của giai đoạn ghi ở cột lifecycle_stage; nhật ký ghi một mục «import» cho mỗi nhiệm vụ. Nhập lại cùng tệp không thay đổi gì; tệp đã sửa chỉ cập nhật các dòng thay đổi (mục nhật ký «import_update»). Một dòng được nhận ra qua kế hoạch + phụ lục + mã đơn vị + tên nhiệm vụ đã chuẩn hóa: đổi tên là một nhiệm vụ mới.

Quy trình của mỗi nhiệm vụ (cột kind, nếu có, được ưu tiên): trước hết theo nội dung cột tiến độ (progress_text), sau đó theo nguồn kinh phí, cột is_rental và tên nhiệm vụ; so sánh không phân biệt hoa thường và dấu, theo nguyên từ; quy tắc đầu tiên khớp được áp dụng:
  1. tiến độ nhắc «báo cáo KTKT», «báo cáo kinh tế kỹ thuật» hoặc «BCKTKT» → bao-cao-ktkt
  2. tiến độ nhắc «kế hoạch thuê» (NĐ 73/2019) → thue-dich-vu
  3. tiến độ nhắc «nghiên cứu khả thi», «chủ trương đầu tư» hoặc «báo cáo NCKT» → dau-tu-cong
  4. tiến độ nhắc «thuyết minh» (thuyết minh nhiệm vụ và dự toán theo NĐ 98/2025; «dự toán» đơn thuần không quyết định) → mua-sam
  5. tiến độ nhắc tập huấn, bồi dưỡng, đoàn công tác, học tập kinh nghiệm, diễn đàn, hội thảo, sự kiện, «tổ chức ngày», kiểm toán, «quản trị, vận hành», truyền thông, tuyên truyền → hoat-dong
  6. nguồn kinh phí đầu tư công (dau_tu_cong) → dau-tu-cong
  7. nhiệm vụ thuê dịch vụ (is_rental = true) → thue-dich-vu
  8. tên nhiệm vụ nhắc các hoạt động ở dòng 5 (tập huấn, sự kiện, đoàn công tác, kiểm toán, vận hành, truyền thông…) → hoat-dong
  9. tên nhiệm vụ có «xây dựng phần mềm», «xây dựng cơ sở dữ liệu», «xây dựng CSDL» hoặc «xây dựng hệ thống» → bao-cao-ktkt
  10. các nhiệm vụ còn lại (mua sắm, nâng cấp, triển khai…) → mua-sam

Dòng lỗi được báo kèm số dòng và lý do; khi có dòng lỗi, không nhập gì trừ khi có --skip-invalid. Các điểm không khớp với --totals là phát hiện cho người đọc, không làm lệnh thất bại.";

#[derive(Debug, clap::Subcommand)]
pub enum ImportCmd {
    /// Nhập danh mục nhiệm vụ của một kế hoạch (CSV hoặc XLSX), đối chiếu với số tổng đã in.
    #[command(long_about = PLAN_LONG_ABOUT)]
    Plan(PlanArgs),
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Số hiệu kế hoạch, ví dụ 215/KH-UBND (tạo mới nếu chưa có).
    #[arg(long, value_name = "SỐ_HIỆU")]
    pub plan: String,
    /// Năm của kế hoạch: năm ngân sách của các cột nhu cầu và phân bổ.
    #[arg(long, value_name = "NĂM")]
    pub year: i32,
    /// Tên kế hoạch (dùng khi tạo kế hoạch mới).
    #[arg(long, value_name = "TÊN")]
    pub title: String,
    /// Ngày ban hành kế hoạch (dd/mm/yyyy hoặc yyyy-mm-dd), khi tạo kế hoạch mới.
    #[arg(long, value_name = "NGÀY")]
    pub issued: Option<String>,
    /// Tệp số tổng như đã in (totals.csv) để đối chiếu với các dòng.
    #[arg(long, value_name = "TỆP")]
    pub totals: Option<PathBuf>,
    /// Nhập các dòng hợp lệ của tệp có dòng lỗi, liệt kê các dòng bị bỏ qua.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Nhập với tư cách người dùng này (phải có vai trò skhcn, ubnd hoặc admin); mặc định:
    /// tên đăng nhập máy, ghi là cli:TÊN.
    #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
    pub as_user: Option<String>,
    /// Trang tính XLSX cần đọc (mặc định: trang đầu tiên; với bảng in: mọi trang).
    #[arg(long, value_name = "TRANG")]
    pub sheet: Option<String>,
    /// Bảng in: tệp bố cục của kế hoạch (mặc định: layout.toml cạnh tệp nhập).
    #[arg(long, value_name = "TỆP")]
    pub layout: Option<PathBuf>,
    /// Bảng in: ghi đề xuất nhiệm vụ chuyển tiếp ra tệp CSV (row,unit,name,task_id,score,reason)
    /// để người xem xét.
    #[arg(long, value_name = "TỆP")]
    pub review: Option<PathBuf>,
    /// Bảng in: áp dụng đúng tệp liên kết đã xem xét (cùng dạng với --review; task_id trống:
    /// tạo mới).
    #[arg(long, value_name = "TỆP", conflicts_with = "auto_link")]
    pub links: Option<PathBuf>,
    /// Bảng in: tự liên kết các đề xuất có điểm từ mức này (0–1), tạo mới các dòng còn lại.
    #[arg(long, value_name = "ĐIỂM")]
    pub auto_link: Option<f64>,
    /// Tệp danh mục: CSV (UTF-8) hoặc XLSX.
    #[arg(value_name = "TỆP")]
    pub file: PathBuf,
}

/// Who the shell operator is, for the audit log when no `--as` is given: `cli:LOGIN`.
pub fn shell_operator() -> String {
    let login = std::env::var("USER")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "cli".into());
    format!("cli:{login}")
}

pub async fn run(cmd: &ImportCmd, ctx: &Ctx<'_>) -> Result<String, Failure> {
    match cmd {
        ImportCmd::Plan(a) => plan(a, ctx).await,
    }
}

#[tracing::instrument(name = "import.plan", skip_all, fields(plan = %a.plan, file = %a.file.display()))]
async fn plan(a: &PlanArgs, ctx: &Ctx<'_>) -> Result<String, Failure> {
    let issued_on = a
        .issued
        .as_deref()
        .map(|d| parse_date(d).map_err(|e| Failure::usage(format!("Ngày không hợp lệ: {e}"))))
        .transpose()?;
    let header = ImportPlan {
        number: a.plan.trim().to_string(),
        year: a.year,
        title: a.title.clone(),
        issued_on,
    };
    // Read both files before touching the database: a missing file changes nothing.
    let table = read_file(&a.file, a.sheet.as_deref()).map_err(|e| Failure::refused(e.0))?;
    let normalized = table.header.iter().any(|h| {
        h.trim()
            .trim_start_matches('\u{feff}')
            .eq_ignore_ascii_case("appendix")
    });
    // Not the normalized catalogue: the printed form, when a sheet has a printed header row (TT
    // and the task's name); otherwise the normalized reading's own refusal says what is wrong.
    if !normalized {
        let sheets = read_grids(&a.file, a.sheet.as_deref()).map_err(|e| Failure::refused(e.0))?;
        // Sheets without a header row (a cover, notes) are not part of the plan's tables.
        let sheets: Vec<_> = sheets
            .into_iter()
            .filter(|g| engine::catalogue::printed::parse_printed(g, a.year).is_ok())
            .collect();
        if !sheets.is_empty() {
            return printed(a, header, sheets, ctx).await;
        }
    }
    if a.review.is_some() || a.links.is_some() || a.auto_link.is_some() || a.layout.is_some() {
        return Err(Failure::usage(format!(
            "{} là danh mục dạng chuẩn hóa (có cột appendix): --layout, --review, --links và --auto-link chỉ dùng với bảng in của kế hoạch (xem README, mục The printed form).",
            a.file.display()
        )));
    }
    let totals = a
        .totals
        .as_deref()
        .map(|p| read_file(p, None))
        .transpose()
        .map_err(|e| Failure::refused(e.0))?;
    let store = ctx.store().await?;
    let bar = Bar::new();
    let imports = store.imports().tracked(&bar);
    let request = PlanImport {
        plan: header,
        rows: table,
        totals,
        skip_invalid: a.skip_invalid,
    };
    let (imported, importer) = match &a.as_user {
        Some(u) => {
            let actor = store.directory().actor(u).await?;
            let imported = imports.import_plan_as(&actor, request, Utc::now()).await;
            (imported, actor.user)
        }
        None => {
            let operator = shell_operator();
            let imported = imports.import_plan(&operator, request, Utc::now()).await;
            (imported, operator)
        }
    };
    drop(bar);
    let report = imported.map_err(|e| match e {
        ImportError::Store(s) => Failure::from(s),
        other => Failure::refused(other.to_string()),
    })?;
    let mut out = report.render();
    out.push_str(&format!("Người nhập (ghi vào nhật ký): {importer}\n"));
    Ok(out)
}

/// The printed form: the plan's layout, the sheets, how rows are linked; the review file.
async fn printed(
    a: &PlanArgs,
    header: ImportPlan,
    sheets: Vec<engine::catalogue::printed::Grid>,
    ctx: &Ctx<'_>,
) -> Result<String, Failure> {
    if a.totals.is_some() {
        return Err(Failure::usage(
            "Bảng in đã có các dòng tổng và tiểu cộng, được đối chiếu khi nhập: bỏ --totals (chỉ dùng với tệp CSV chuẩn hóa).",
        ));
    }
    let layout_path = match &a.layout {
        Some(p) => p.clone(),
        None => a
            .file
            .parent()
            .unwrap_or_else(|| std::path::Path::new("."))
            .join("layout.toml"),
    };
    let layout_text = std::fs::read_to_string(&layout_path).map_err(|e| {
        Failure::refused(format!(
            "{} không phải danh mục dạng chuẩn hóa (không có cột appendix), nên được đọc như bảng in của kế hoạch; cần tệp bố cục {} ({e}). Chỉ định bằng --layout TỆP.",
            a.file.display(),
            layout_path.display()
        ))
    })?;
    let layout =
        parse_layout(&layout_text, &layout_path.display().to_string()).map_err(Failure::refused)?;
    let mode = match (&a.links, a.auto_link) {
        (Some(p), _) => {
            let t = read_file(p, None).map_err(|e| Failure::refused(e.0))?;
            LinkMode::Links(parse_links(&t).map_err(|e| Failure::refused(e.0))?)
        }
        (None, Some(s)) if (0.0..=1.0).contains(&s) => LinkMode::AutoLink(s),
        (None, Some(s)) => {
            return Err(Failure::usage(format!(
                "--auto-link {s}: điểm phải trong khoảng 0–1 (ví dụ 0.8)."
            )));
        }
        (None, None) => LinkMode::Propose,
    };
    let store = ctx.store().await?;
    let request = PrintedImport {
        plan: header,
        layout,
        sheets,
        mode,
    };
    let (imported, importer) = match &a.as_user {
        Some(u) => {
            let actor = store.directory().actor(u).await?;
            let r = store
                .imports()
                .import_printed_as(&actor, request, Utc::now())
                .await;
            (r, actor.user)
        }
        None => {
            let operator = shell_operator();
            let r = store
                .imports()
                .import_printed(&operator, request, Utc::now())
                .await;
            (r, operator)
        }
    };
    let report = imported.map_err(|e| match e {
        ImportError::Store(s) => Failure::from(s),
        other => Failure::refused(other.to_string()),
    })?;
    let mut out = report.render();
    if let Some(path) = &a.review {
        std::fs::write(path, report.review_csv()).map_err(|e| {
            Failure::refused(format!(
                "Không ghi được tệp đề xuất {}: {e}",
                path.display()
            ))
        })?;
        out.push_str(&format!(
            "Đã ghi đề xuất ({} dòng) vào {}: sửa cột task_id (trống: tạo mới) rồi nhập lại với --links {}.\n",
            report.outcome.proposals.len(),
            path.display(),
            path.display()
        ));
    }
    out.push_str(&format!("Người nhập (ghi vào nhật ký): {importer}\n"));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_prints_the_rule_the_importer_applies() {
        for (i, r) in engine::catalogue::KIND_RULES.iter().enumerate() {
            let line = format!("{}. {} → {}", i + 1, r.when, r.kind);
            assert!(PLAN_LONG_ABOUT.contains(&line), "{line}");
        }
    }
}
