//! `tiendo report progress|status …`: the reports of `adapters::report` written to a file (or,
//! for HTML and Markdown, to standard output).

use std::path::{Path, PathBuf};

use adapters::report::{self, Format, ProgressParams, Report, ReportError, StatusParams};
use chrono::{Datelike, NaiveDate, Utc};
use engine::time::{local_date, parse_date};

use super::progress::Bar;
use super::{Ctx, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum ReportCmd {
    /// Báo cáo tiến độ của SKHCN về một kế hoạch (phần thuyết minh, bảng kinh phí, các phụ lục).
    ///
    /// Dựng lại báo cáo như bản Excel làm tay: số nhiệm vụ theo phụ lục, đơn vị, nguồn kinh phí
    /// và tình trạng; bảng kinh phí (triệu đồng); mỗi phụ lục một bảng với dòng đơn vị đánh số La
    /// Mã và dòng TỔNG. XLSX cần -o TỆP.xlsx; HTML và Markdown in ra màn hình nếu không có -o.
    /// --format docx (cần -o TỆP.docx): văn bản báo cáo gửi UBND thành phố theo thể thức Nghị định
    /// 30/2020/NĐ-CP (tiêu đề, căn cứ, nội dung, khó khăn, đề xuất, nơi nhận, chữ ký) kèm các
    /// phụ lục.
    Progress {
        /// Số hiệu kế hoạch, ví dụ 215/KH-UBND (hoặc chỉ --year khi năm đó có một kế hoạch).
        #[arg(long, value_name = "SỐ_HIỆU", required_unless_present = "year")]
        plan: Option<String>,
        /// Năm của kế hoạch: chọn kế hoạch duy nhất của năm khi không có --plan.
        #[arg(long, value_name = "NĂM")]
        year: Option<i32>,
        /// «Tiến độ tính đến»: tình trạng các nhiệm vụ vào cuối ngày này (dd/mm/yyyy hoặc
        /// yyyy-mm-dd; mặc định: hôm nay).
        #[arg(long, value_name = "NGÀY")]
        as_of: Option<String>,
        /// Đợt báo cáo (tiendo round) mà văn bản DOCX dùng: khó khăn, đề xuất của các đơn vị đã
        /// gửi, các mục Sở KH&CN đã sửa, số văn bản và người ký; việc xuất được ghi lại (định
        /// dạng, mã sha256, người xuất). Cần --plan và --format docx. Không có --as-of thì số liệu
        /// tính đến ngày chốt số liệu của đợt.
        #[arg(long, value_name = "LẦN", requires = "plan")]
        round: Option<u32>,
        #[command(flatten)]
        out: Output,
    },
    /// Báo cáo tình hình cho lãnh đạo: theo từng đơn vị, bốn nhóm tình trạng của Văn phòng
    /// Chính phủ, các nhiệm vụ quá hạn và chậm tiến độ, trong một khoảng thời gian.
    Status {
        /// Số hiệu kế hoạch (mặc định: mọi kế hoạch, hoặc kế hoạch của --year).
        #[arg(long, value_name = "SỐ_HIỆU")]
        plan: Option<String>,
        /// Năm kế hoạch: chọn kế hoạch duy nhất của năm khi không có --plan. Nhiệm vụ có tình
        /// trạng năm (tiendo plan year-status) được đánh giá theo tình trạng đó.
        #[arg(long, value_name = "NĂM")]
        year: Option<i32>,
        /// Ngày đầu của khoảng (mặc định: 1 tháng 1 của năm --to).
        #[arg(long, value_name = "NGÀY")]
        from: Option<String>,
        /// Ngày cuối của khoảng (mặc định: hôm nay).
        #[arg(long, value_name = "NGÀY", conflicts_with = "as_of")]
        to: Option<String>,
        /// Số liệu tính đến ngày này: như --to.
        #[arg(long, value_name = "NGÀY")]
        as_of: Option<String>,
        /// Số ngày làm việc không chuyển bước thì coi là chậm (mặc định: theo quy trình, hoặc 10).
        #[arg(long, value_name = "SỐ_NGÀY")]
        stall_days: Option<u32>,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Debug, clap::Args)]
pub struct Output {
    /// Định dạng: xlsx | docx (chỉ báo cáo tiến độ) | html | md (mặc định: theo đuôi của tệp -o).
    #[arg(long, value_name = "ĐỊNH_DẠNG")]
    pub format: Option<String>,
    /// Tệp ghi báo cáo; không có thì HTML và Markdown in ra màn hình.
    #[arg(short = 'o', long = "output", value_name = "TỆP")]
    pub output: Option<PathBuf>,
    /// Lập báo cáo với tư cách người dùng này: cán bộ đơn vị chỉ thấy nhiệm vụ của đơn vị mình.
    #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
    pub as_user: Option<String>,
}

fn date(s: &str, what: &str) -> Result<NaiveDate, Failure> {
    parse_date(s).map_err(|e| Failure::usage(format!("{what} không hợp lệ: {e}")))
}

fn format_of(out: &Output) -> Result<Format, Failure> {
    let from_ext = || {
        out.output
            .as_deref()
            .and_then(Path::extension)
            .and_then(|e| e.to_str())
            .and_then(|e| e.parse::<Format>().ok())
    };
    match (&out.format, from_ext()) {
        (Some(f), _) => f.parse().map_err(Failure::usage),
        (None, Some(f)) => Ok(f),
        (None, None) => Err(Failure::usage(
            "Cần --format xlsx|docx|html|md (hoặc tệp -o có đuôi .xlsx, .docx, .html, .md).",
        )),
    }
}

fn failure(e: ReportError) -> Failure {
    match e {
        ReportError::Store(s) => Failure::from(s),
        ReportError::Invalid(m) => Failure::usage(m),
        other => Failure::refused(other.to_string()),
    }
}

fn deliver(report: Report, format: Format, out: &Output, what: &str) -> Result<String, Failure> {
    match &out.output {
        Some(path) => {
            std::fs::write(path, &report.bytes).map_err(|e| {
                Failure::refused(format!("Không ghi được tệp {}: {e}", path.display()))
            })?;
            Ok(format!(
                "Đã ghi {what} ({}, {} byte) vào {}\n",
                format.extension(),
                report.bytes.len(),
                path.display()
            ))
        }
        None if format == Format::Xlsx => Err(Failure::usage(
            "Báo cáo XLSX cần tệp đích: thêm -o TỆP.xlsx.",
        )),
        None if format == Format::Docx => Err(Failure::usage(
            "Báo cáo DOCX cần tệp đích: thêm -o TỆP.docx.",
        )),
        None => String::from_utf8(report.bytes)
            .map_err(|e| Failure::refused(format!("báo cáo không phải UTF-8: {e}"))),
    }
}

async fn scope(
    store: &adapters::store::Store,
    out: &Output,
) -> Result<Option<Vec<String>>, Failure> {
    match &out.as_user {
        Some(u) => engine::access::report_scope(&store.directory().actor(u).await?)
            .map_err(|d| Failure::refused(d.message)),
        None => Ok(None),
    }
}

#[tracing::instrument(name = "report", skip_all, fields(command = ?cmd))]
pub async fn run(cmd: &ReportCmd, ctx: &Ctx<'_>) -> Result<String, Failure> {
    let today = local_date(Utc::now());
    match cmd {
        ReportCmd::Progress {
            plan,
            year,
            as_of,
            round,
            out,
        } => {
            let format = format_of(out)?;
            let store = ctx.store().await?;
            // Without --as-of: today, or a round's cut-off for a round's document (its door's rule).
            let given = as_of
                .as_deref()
                .map(|d| date(d, "Ngày --as-of"))
                .transpose()?;
            let params = ProgressParams {
                plan: plan.clone().unwrap_or_default(),
                year: *year,
                as_of: given.unwrap_or(today),
                units: scope(&store, out).await?,
            };
            let r = match round {
                None => report::progress_tracked(&store, &params, format, &Bar::new())
                    .await
                    .map_err(failure)?,
                Some(n) => {
                    if format != Format::Docx {
                        return Err(Failure::usage(
                            "--round dùng cho văn bản báo cáo: thêm --format docx.",
                        ));
                    }
                    let by = match &out.as_user {
                        Some(u) => u.clone(),
                        None => format!(
                            "cli:{}",
                            std::env::var("USER").unwrap_or_else(|_| "?".into())
                        ),
                    };
                    report::round_document_tracked(&store, &params, *n, given, &by, &Bar::new())
                        .await
                        .map_err(failure)?
                }
            };
            deliver(r, format, out, "báo cáo tiến độ")
        }
        ReportCmd::Status {
            plan,
            year,
            from,
            to,
            as_of,
            stall_days,
            out,
        } => {
            let format = format_of(out)?;
            let to = match (to, as_of) {
                (Some(d), _) => date(d, "Ngày --to")?,
                (None, Some(d)) => date(d, "Ngày --as-of")?,
                (None, None) => today,
            };
            let from = match from {
                Some(d) => date(d, "Ngày --from")?,
                None => NaiveDate::from_ymd_opt(to.year(), 1, 1).unwrap_or(to),
            };
            let store = ctx.store().await?;
            let params = StatusParams {
                plan: plan.clone(),
                year: *year,
                from,
                to,
                stall_days: *stall_days,
                units: scope(&store, out).await?,
            };
            let r = report::status_tracked(&store, &params, format, &Bar::new())
                .await
                .map_err(failure)?;
            deliver(r, format, out, "báo cáo tình hình")
        }
    }
}
