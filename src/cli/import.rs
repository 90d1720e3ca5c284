//! `tiendo import plan …`: a plan's task catalogue (CSV or XLSX) into the store, reconciled with
//! the totals as printed. This module parses arguments, reads the files
//! ([`adapters::import::read_file`]), calls the door ([`adapters::store::Imports`]) as the user
//! named by `--as` or as the operator at the shell, and prints the summary.

use std::path::PathBuf;

use adapters::import::read_file;
use adapters::store::ImportError;
use chrono::Utc;
use engine::catalogue::{ImportPlan, PlanImport};
use engine::time::parse_date;

use super::progress::Bar;
use super::{Ctx, Failure};

const PLAN_LONG_ABOUT: &str = "Nhập danh mục nhiệm vụ của một kế hoạch (CSV hoặc trang tính XLSX có cùng dòng tiêu đề với data/plan-215-2025/tasks.csv).

Tạo các đơn vị còn thiếu (mã chuẩn hóa: «Ủy»/«Uỷ», «hóa»/«hoá» là một đơn vị), kế hoạch, các nhiệm vụ với dòng kinh phí, và đặt mỗi nhiệm vụ vào bước đầu tiên của giai đoạn ghi ở cột lifecycle_stage; nhật ký ghi một mục «import» cho mỗi nhiệm vụ. Nhập lại cùng tệp không thay đổi gì; tệp đã sửa chỉ cập nhật các dòng thay đổi (mục nhật ký «import_update»). Một dòng được nhận ra qua kế hoạch + phụ lục + mã đơn vị + tên nhiệm vụ đã chuẩn hóa: đổi tên là một nhiệm vụ mới.

Quy trình của mỗi nhiệm vụ (cột kind, nếu có, được ưu tiên), theo thứ tự:
  1. nguồn kinh phí đầu tư công (dau_tu_cong) → dau-tu-cong
  2. nhiệm vụ thuê dịch vụ (is_rental = true) → thue-dich-vu
  3. tên nhiệm vụ có «xây dựng phần mềm», «xây dựng cơ sở dữ liệu», «xây dựng CSDL» hoặc «xây dựng hệ thống» → bao-cao-ktkt
  4. các nhiệm vụ còn lại (mua sắm, nâng cấp, triển khai, vận hành…) → mua-sam

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
    /// Trang tính XLSX cần đọc (mặc định: trang đầu tiên).
    #[arg(long, value_name = "TRANG")]
    pub sheet: Option<String>,
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
    // Read both files before touching the database: a missing file changes nothing.
    let table = read_file(&a.file, a.sheet.as_deref()).map_err(|e| Failure::refused(e.0))?;
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
        plan: ImportPlan {
            number: a.plan.trim().to_string(),
            year: a.year,
            title: a.title.clone(),
            issued_on,
        },
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
