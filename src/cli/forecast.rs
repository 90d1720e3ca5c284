//! `tiendo forecast --plan P [--as-of DATE] [--format md|html|xlsx|json]`: the year-end forecast
//! of a plan (`adapters::report::forecast`): which open tasks can no longer finish by their due
//! date given the law's minimum durations, with the step that binds each.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use adapters::report::{self, ForecastFormat, ForecastParams, ReportError};
use chrono::Utc;
use engine::time::{local_date, parse_date};

use super::progress::Bar;
use super::{Ctx, Failure};

#[derive(Debug, clap::Args)]
pub struct ForecastArgs {
    /// Số hiệu kế hoạch, ví dụ 215/KH-UBND.
    #[arg(long, value_name = "SỐ_HIỆU")]
    pub plan: String,
    /// Dự báo từ tình trạng các nhiệm vụ vào cuối ngày này (dd/mm/yyyy hoặc yyyy-mm-dd; mặc
    /// định: hôm nay).
    #[arg(long, value_name = "NGÀY")]
    pub as_of: Option<String>,
    /// Định dạng: md | html | xlsx | json (mặc định: theo đuôi của tệp -o, nếu không thì md).
    #[arg(long, value_name = "ĐỊNH_DẠNG")]
    pub format: Option<String>,
    /// Tệp ghi kết quả; không có thì md, html và json in ra màn hình.
    #[arg(short = 'o', long = "output", value_name = "TỆP")]
    pub output: Option<PathBuf>,
    /// Với json: ghi mọi đường (mọi hình thức lựa chọn nhà thầu) và mọi bước của từng đường;
    /// mặc định chỉ ghi đường sớm nhất và bước quyết định của mỗi nhiệm vụ.
    #[arg(long)]
    pub all_paths: bool,
    /// Nêu cờ dự báo thay vì in dự báo: mỗi nhiệm vụ không thể hoàn thành đúng hạn hoặc có
    /// nguy cơ được ghi nhật ký và gửi thư (thủ trưởng đơn vị, UBND, Sở KH&CN) một lần, và
    /// chỉ nêu lại khi cờ thay đổi (tiến trình nền `tiendo worker` làm việc này mỗi giờ).
    #[arg(long, conflicts_with_all = ["format", "output", "all_paths", "as_user"])]
    pub raise: bool,
    /// Lập với tư cách người dùng này: cán bộ đơn vị chỉ thấy nhiệm vụ của đơn vị mình.
    #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
    pub as_user: Option<String>,
}

fn format_of(a: &ForecastArgs) -> Result<ForecastFormat, Failure> {
    let from_ext = a
        .output
        .as_deref()
        .and_then(|p| p.extension())
        .and_then(|e| e.to_str())
        .and_then(|e| e.parse::<ForecastFormat>().ok());
    match (&a.format, from_ext) {
        (Some(f), _) => f.parse().map_err(Failure::usage),
        (None, Some(f)) => Ok(f),
        (None, None) => Ok(ForecastFormat::Document(report::Format::Markdown)),
    }
}

#[tracing::instrument(name = "forecast", skip_all, fields(plan = %args.plan))]
pub async fn run(args: &ForecastArgs, ctx: &Ctx<'_>) -> Result<String, Failure> {
    let format = format_of(args)?;
    if args.all_paths && format != ForecastFormat::Json {
        return Err(Failure::usage(
            "--all-paths chỉ dùng với định dạng json (--format json).",
        ));
    }
    let as_of = match &args.as_of {
        Some(d) => {
            parse_date(d).map_err(|e| Failure::usage(format!("Ngày --as-of không hợp lệ: {e}")))?
        }
        None => local_date(Utc::now()),
    };
    let store = ctx.store().await?;
    if args.raise {
        let plan = store.directory().plan(&args.plan).await?;
        let c = report::forecast::raise_flags(&store, Some(&plan), as_of, Utc::now()).await?;
        return Ok(format!(
            "Dự báo kế hoạch {} tính đến ngày {}: đã xét {} nhiệm vụ đang thực hiện; nêu {} cờ mới (ghi nhật ký, gửi thư), gỡ {} cờ.\n",
            plan.number,
            engine::time::format_date(as_of),
            c.checked,
            c.raised,
            c.cleared
        ));
    }
    let units = match &args.as_user {
        Some(u) => engine::access::report_scope(&store.directory().actor(u).await?)
            .map_err(|d| Failure::refused(d.message))?,
        None => None,
    };
    let params = ForecastParams {
        plan: args.plan.clone(),
        as_of,
        units,
        all_paths: args.all_paths,
    };
    let refused = |e: ReportError| match e {
        ReportError::Store(s) => Failure::from(s),
        ReportError::Invalid(m) => Failure::usage(m),
        other => Failure::refused(other.to_string()),
    };
    match &args.output {
        Some(path) => {
            // Written as it is rendered: a 100,000-task JSON answer is never held whole.
            let mut out = OutFile::new(path);
            report::forecast_write(&store, &params, format, &Bar::new(), &mut out)
                .await
                .map_err(refused)?;
            let bytes = out.finish().map_err(|e| {
                Failure::refused(format!("Không ghi được tệp {}: {e}", path.display()))
            })?;
            Ok(format!(
                "Đã ghi dự báo hoàn thành ({}, {bytes} byte) vào {}\n",
                format.extension(),
                path.display()
            ))
        }
        None if format == ForecastFormat::Document(report::Format::Xlsx) => Err(Failure::usage(
            "Dự báo dạng XLSX cần tệp đích: thêm -o TỆP.xlsx.",
        )),
        None => {
            let r = report::forecast_tracked(&store, &params, format, &Bar::new())
                .await
                .map_err(refused)?;
            String::from_utf8(r.bytes)
                .map_err(|e| Failure::refused(format!("kết quả không phải UTF-8: {e}")))
        }
    }
}

/// The `-o` file, created at the first byte written (a forecast refused before it renders leaves
/// an existing file as it was), written through a buffer; counts the bytes.
struct OutFile<'a> {
    path: &'a Path,
    file: Option<BufWriter<File>>,
    written: u64,
}

impl<'a> OutFile<'a> {
    fn new(path: &'a Path) -> OutFile<'a> {
        OutFile {
            path,
            file: None,
            written: 0,
        }
    }

    /// Flushes the file (creating it if nothing was written) and returns its size.
    fn finish(mut self) -> std::io::Result<u64> {
        self.flush()?;
        if self.file.is_none() {
            File::create(self.path)?;
        }
        Ok(self.written)
    }
}

impl Write for OutFile<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let file = match &mut self.file {
            Some(f) => f,
            None => self
                .file
                .insert(BufWriter::with_capacity(1 << 16, File::create(self.path)?)),
        };
        let n = file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}
