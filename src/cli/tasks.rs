//! `tiendo task …`: the engine, scriptable from the shell, acting as a named user whose roles
//! and unit apply exactly as they will over HTTP.

use std::path::{Path, PathBuf};

use adapters::files::FileStore;
use adapters::store::{
    BudgetLine, Expected, NewDocument, NewTask, Store, TaskDetail, TaskFilter, TaskItem,
    TransitionRequest,
};
use chrono::Utc;
use engine::Phase;
use engine::decide::Actor;
use engine::domain::{FundingSource, UnitId};
use engine::money::{format_million_vnd, parse_million_vnd};
use engine::time::{Instant, format_date, format_instant, parse_date};

use super::{Ctx, Failure, typed, typed_opt};

#[derive(Debug, clap::Subcommand)]
pub enum TaskCmd {
    /// Đề xuất một nhiệm vụ mới trong kế hoạch.
    ///
    /// Nhiệm vụ bắt đầu ở bước đầu tiên của quy trình (--kind), thuộc đơn vị --unit; người
    /// tạo (--as) phải là cán bộ của chính đơn vị đó hoặc quản trị viên. Số tiền tính bằng
    /// triệu đồng, viết như trên văn bản: 6500, 526,2 hoặc 1.234,5.
    Create(CreateArgs),
    /// Liệt kê các nhiệm vụ người dùng được xem.
    ///
    /// Cán bộ đơn vị chỉ thấy nhiệm vụ của đơn vị mình; SKHCN, Sở Tài chính, UBND và quản trị
    /// viên thấy tất cả.
    List(ListArgs),
    /// Xem một nhiệm vụ: bước hiện tại, thời hạn, và các thao tác người dùng được làm.
    Show(ShowArgs),
    /// Chuyển bước một nhiệm vụ (gửi, trả lại, phê duyệt…).
    ///
    /// Chỉ người có vai trò ở bước hiện tại mới chuyển được; lý do từ chối được in ra bằng
    /// tiếng Việt. Mỗi lần chuyển bước được ghi vào nhật ký kiểm tra.
    Transition(TransitionArgs),
    /// Đặt, thay đổi hoặc bỏ thời hạn giao của nhiệm vụ theo văn bản của lãnh đạo.
    ///
    /// Thời hạn giao là thời hạn báo cáo tình hình thực hiện dùng để xếp loại đúng hạn / quá
    /// hạn (QĐ 42/2014/QĐ-TTg): thời hạn do lãnh đạo đặt, nếu có, nếu không là thời gian dự
    /// kiến hoàn thành trong kế hoạch. Chỉ UBND (ubnd) và Sở KH&CN (skhcn) được đặt; mỗi lần
    /// đặt ghi vào nhật ký kèm số, ngày văn bản quyết định. --clear bỏ thời hạn do lãnh đạo đặt
    /// (trở về thời gian dự kiến hoàn thành của kế hoạch).
    Deadline(DeadlineArgs),
    /// Đính kèm một tệp tài liệu vào nhiệm vụ (lưu trong thư mục dữ liệu, ghi mã sha256).
    Attach(AttachArgs),
    /// Đơn vị đề xuất tạm hoãn, rút nhiệm vụ khỏi kế hoạch hoặc chuyển nguồn kinh phí sang năm
    /// sau, theo văn bản của đơn vị.
    ///
    /// Đề xuất chờ UBND thành phố quyết định (task accept-proposal / refuse-proposal); trong
    /// khi chờ, nhiệm vụ vẫn ở bước hiện tại và thời hạn vẫn chạy. UBND được thông báo qua thư.
    Propose(ProposeArgs),
    /// UBND thành phố chấp thuận đề xuất đang chờ: nhiệm vụ chuyển sang tạm hoãn hoặc rút khỏi
    /// kế hoạch theo quy trình (kèm các tài liệu quy trình yêu cầu, ví dụ quyết định của UBND).
    ///
    /// Với đề xuất chuyển nguồn, nhiệm vụ giữ nguyên bước và kinh phí đã phân bổ chưa giải ngân
    /// của năm được ghi là kinh phí chuyển nguồn của năm sau.
    AcceptProposal(AcceptProposalArgs),
    /// Chuyển nhiệm vụ sang đơn vị chủ trì khác theo quyết định của UBND thành phố.
    ///
    /// Nhiệm vụ giữ nguyên lịch sử, tài liệu và thời hạn; quyết định được ghi kèm và vào nhật
    /// ký kiểm tra. Khác với sáp nhập đơn vị (unit merge: mọi nhiệm vụ của đơn vị đi theo).
    Transfer(TransferArgs),
    /// UBND thành phố không chấp thuận đề xuất đang chờ: nhiệm vụ tiếp tục ở bước hiện tại,
    /// thời hạn giữ nguyên.
    RefuseProposal(RefuseProposalArgs),
}

// The arguments of `tiendo task` (TaskCmd::Create), its help text on the variant.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Tên đăng nhập của người thực hiện (quyền và đơn vị của người đó được áp dụng).
    #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
    pub as_user: String,
    /// Số hiệu kế hoạch, ví dụ 215/KH-UBND.
    #[arg(long, value_name = "SỐ_HIỆU")]
    pub plan: String,
    /// Mã đơn vị chủ trì, ví dụ so-y-te.
    #[arg(long, value_name = "MÃ_ĐƠN_VỊ")]
    pub unit: String,
    /// Tên nhiệm vụ.
    #[arg(long, value_name = "TÊN")]
    pub name: String,
    /// Nguồn kinh phí: thuong_xuyen | hoan_thanh_2025_cntt | hoan_thanh_2025_quy_phat_trien |
    /// su_nghiep_cntt | dau_tu_cong.
    #[arg(long, value_name = "NGUỒN")]
    pub funding: String,
    /// Quy trình: mua-sam | thue-dich-vu | bao-cao-ktkt | dau-tu-cong (hoặc quy trình riêng
    /// của thành phố).
    #[arg(long, value_name = "QUY_TRÌNH")]
    pub kind: String,
    /// Thời gian thực hiện như trên văn bản, ví dụ "2025-2026" hoặc
    /// "Thuê dịch vụ 03 năm (2024-2026)".
    #[arg(long, value_name = "THỜI_GIAN")]
    pub period: Option<String>,
    /// Nhiệm vụ thuê dịch vụ CNTT.
    #[arg(long)]
    pub rental: bool,
    /// Đơn vị chi từ nguồn thu của mình (quỹ phát triển hoạt động sự nghiệp): thẩm quyền phê
    /// duyệt theo quy tắc «own_fund» của quy trình (tiendo workflows show).
    #[arg(long)]
    pub own_fund: bool,
    /// Năm ngân sách của các số tiền dưới đây (mặc định: năm của kế hoạch).
    #[arg(long, value_name = "NĂM")]
    pub budget_year: Option<i32>,
    /// Tổng nhu cầu kinh phí, triệu đồng (6500, 526,2 hoặc 1.234,5).
    #[arg(long, value_name = "TRIỆU_ĐỒNG")]
    pub need_total: Option<String>,
    /// Dự toán được duyệt, triệu đồng.
    #[arg(long, value_name = "TRIỆU_ĐỒNG")]
    pub approved_estimate: Option<String>,
    /// Nhu cầu kinh phí của năm ngân sách, triệu đồng.
    #[arg(long, value_name = "TRIỆU_ĐỒNG")]
    pub need_year: Option<String>,
    /// Kinh phí đã phân bổ trong năm ngân sách, triệu đồng.
    #[arg(long, value_name = "TRIỆU_ĐỒNG")]
    pub allocated_year: Option<String>,
    /// Khóa chống lặp: chạy lại với cùng khóa trả về kết quả lần đầu, không tạo thêm.
    #[arg(long, value_name = "KHÓA")]
    pub idempotency_key: Option<String>,
    /// In kết quả dạng JSON (cho chương trình khác đọc).
    #[arg(long)]
    pub json: bool,
}

// The arguments of `tiendo task` (TaskCmd::List), its help text on the variant.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Tên đăng nhập của người xem (quyền và đơn vị của người đó được áp dụng).
    #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
    pub as_user: String,
    /// Chỉ nhiệm vụ của kế hoạch này, ví dụ 215/KH-UBND.
    #[arg(long, value_name = "SỐ_HIỆU")]
    pub plan: Option<String>,
    /// Chỉ nhiệm vụ của đơn vị này (mã đơn vị).
    #[arg(long, value_name = "MÃ_ĐƠN_VỊ")]
    pub unit: Option<String>,
    /// Chỉ nhiệm vụ đang ở giai đoạn này, ví dụ appraisal (thẩm định).
    #[arg(long, value_name = "GIAI_ĐOẠN")]
    pub phase: Option<String>,
    /// Chỉ nhiệm vụ đang ở bước này của quy trình (mã bước).
    #[arg(long, value_name = "BƯỚC")]
    pub state: Option<String>,
    /// Chỉ nhiệm vụ đã quá hạn của bước hiện tại.
    #[arg(long)]
    pub overdue: bool,
    /// In kết quả dạng JSON (cho chương trình khác đọc).
    #[arg(long)]
    pub json: bool,
}

// The arguments of `tiendo task` (TaskCmd::Show), its help text on the variant.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Mã nhiệm vụ.
    #[arg(value_name = "MÃ_NHIỆM_VỤ")]
    pub task: String,
    /// Tên đăng nhập của người xem (quyền và đơn vị của người đó được áp dụng).
    #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
    pub as_user: String,
    /// In kết quả dạng JSON (cho chương trình khác đọc).
    #[arg(long)]
    pub json: bool,
}

// The arguments of `tiendo task` (TaskCmd::Transition), its help text on the variant.
#[derive(Debug, clap::Args)]
pub struct TransitionArgs {
    /// Mã nhiệm vụ.
    #[arg(value_name = "MÃ_NHIỆM_VỤ")]
    pub task: String,
    /// Mã thao tác, như «task show» liệt kê, ví dụ gui_tham_dinh.
    #[arg(value_name = "THAO_TÁC")]
    pub transition: String,
    /// Tên đăng nhập của người thực hiện (quyền và đơn vị của người đó được áp dụng).
    #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
    pub as_user: String,
    /// Ý kiến kèm theo (ghi vào nhật ký và thư thông báo).
    #[arg(long, value_name = "Ý_KIẾN")]
    pub comment: Option<String>,
    /// Mã tài liệu của nhiệm vụ được viện dẫn (lặp lại cho nhiều tài liệu).
    #[arg(long = "document", value_name = "MÃ_TÀI_LIỆU")]
    pub documents: Vec<String>,
    /// Từ chối nếu nhiệm vụ không còn ở phiên bản này (như If-Match của HTTP).
    #[arg(long, value_name = "PHIÊN_BẢN")]
    pub if_version: Option<i64>,
    /// Khóa chống lặp: chạy lại với cùng khóa trả về kết quả lần đầu, không làm lại.
    #[arg(long, value_name = "KHÓA")]
    pub idempotency_key: Option<String>,
    /// In kết quả dạng JSON (cho chương trình khác đọc).
    #[arg(long)]
    pub json: bool,
}

// The arguments of `tiendo task` (TaskCmd::Deadline), its help text on the variant.
#[derive(Debug, clap::Args)]
pub struct DeadlineArgs {
    /// Mã nhiệm vụ.
    #[arg(value_name = "MÃ_NHIỆM_VỤ")]
    pub task: String,
    /// Thời hạn giao mới (dd/mm/yyyy hoặc yyyy-mm-dd).
    #[arg(
        long,
        value_name = "NGÀY",
        required_unless_present = "clear",
        conflicts_with = "clear"
    )]
    pub on: Option<String>,
    /// Bỏ thời hạn do lãnh đạo đặt.
    #[arg(long)]
    pub clear: bool,
    /// Số, ký hiệu văn bản quyết định, ví dụ "620/TB-VP".
    #[arg(long, value_name = "SỐ_KÝ_HIỆU")]
    pub doc: String,
    /// Ngày văn bản (dd/mm/yyyy hoặc yyyy-mm-dd).
    #[arg(long, value_name = "NGÀY")]
    pub doc_date: String,
    /// Tên đăng nhập của người thực hiện (quyền và đơn vị của người đó được áp dụng).
    #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
    pub as_user: String,
    /// In kết quả dạng JSON (cho chương trình khác đọc).
    #[arg(long)]
    pub json: bool,
}

// The arguments of `tiendo task` (TaskCmd::Attach), its help text on the variant.
#[derive(Debug, clap::Args)]
pub struct AttachArgs {
    /// Mã nhiệm vụ.
    #[arg(value_name = "MÃ_NHIỆM_VỤ")]
    pub task: String,
    /// Tên đăng nhập của người thực hiện (quyền và đơn vị của người đó được áp dụng).
    #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
    pub as_user: String,
    /// Loại tài liệu, như quy trình của nhiệm vụ khai báo, ví dụ thuyet_minh_du_toan.
    #[arg(long = "type", value_name = "LOẠI")]
    pub doc_type: String,
    /// Tệp cần đính kèm (PDF, ảnh, văn bản…).
    #[arg(long, value_name = "TỆP")]
    pub file: PathBuf,
    /// Số, ký hiệu văn bản, ví dụ "240/CCTĐC-QLĐL".
    #[arg(long, value_name = "SỐ_KÝ_HIỆU")]
    pub number: Option<String>,
    /// Ngày ban hành (dd/mm/yyyy hoặc yyyy-mm-dd).
    #[arg(long, value_name = "NGÀY")]
    pub date: Option<String>,
    /// Cơ quan ban hành.
    #[arg(long, value_name = "CƠ_QUAN")]
    pub issuer: Option<String>,
    /// Thư mục lưu tệp (mặc định: TIENDO_DATA_DIR, hoặc ./tiendo-data).
    #[arg(long, value_name = "THƯ_MỤC")]
    pub data_dir: Option<PathBuf>,
}

// The arguments of `tiendo task` (TaskCmd::Propose), its help text on the variant.
#[derive(Debug, clap::Args)]
pub struct ProposeArgs {
    /// Mã nhiệm vụ.
    #[arg(value_name = "MÃ_NHIỆM_VỤ")]
    pub task: String,
    /// Tên đăng nhập của người đề xuất (cán bộ hoặc thủ trưởng của đơn vị chủ trì).
    #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
    pub as_user: String,
    /// postpone (tạm hoãn, chuyển kế hoạch năm sau) | withdraw (rút khỏi kế hoạch) |
    /// carry_over (chuyển nguồn kinh phí năm của ngày văn bản sang năm sau; nhiệm vụ tiếp
    /// tục thực hiện).
    #[arg(long, value_name = "LOẠI")]
    pub kind: String,
    /// Số, ký hiệu văn bản đề xuất của đơn vị, ví dụ 5796/SVHTTDL-KHTC.
    #[arg(long, value_name = "SỐ_KÝ_HIỆU")]
    pub letter: String,
    /// Ngày văn bản (dd/mm/yyyy).
    #[arg(long, value_name = "NGÀY")]
    pub letter_date: Option<String>,
    /// Lý do, ý kiến kèm theo.
    #[arg(long, value_name = "Ý_KIẾN")]
    pub comment: Option<String>,
    /// In kết quả dạng JSON (cho chương trình khác đọc).
    #[arg(long)]
    pub json: bool,
}

// The arguments of `tiendo task` (TaskCmd::AcceptProposal), its help text on the variant.
#[derive(Debug, clap::Args)]
pub struct AcceptProposalArgs {
    /// Mã nhiệm vụ.
    #[arg(value_name = "MÃ_NHIỆM_VỤ")]
    pub task: String,
    /// Tên đăng nhập của người quyết định (UBND thành phố).
    #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
    pub as_user: String,
    /// Ý kiến, số quyết định kèm theo.
    #[arg(long, value_name = "Ý_KIẾN")]
    pub comment: Option<String>,
    /// Mã tài liệu của nhiệm vụ được viện dẫn (lặp lại cho nhiều tài liệu).
    #[arg(long = "document", value_name = "MÃ_TÀI_LIỆU")]
    pub documents: Vec<String>,
    /// In kết quả dạng JSON (cho chương trình khác đọc).
    #[arg(long)]
    pub json: bool,
}

// The arguments of `tiendo task` (TaskCmd::Transfer), its help text on the variant.
#[derive(Debug, clap::Args)]
pub struct TransferArgs {
    /// Mã nhiệm vụ.
    #[arg(value_name = "MÃ_NHIỆM_VỤ")]
    pub task: String,
    /// Tên đăng nhập của người quyết định (UBND thành phố).
    #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
    pub as_user: String,
    /// Mã đơn vị chủ trì mới, ví dụ so-tai-chinh.
    #[arg(long, value_name = "MÃ_ĐƠN_VỊ")]
    pub to_unit: String,
    /// Số quyết định chuyển đơn vị chủ trì, ví dụ 1234/QĐ-UBND.
    #[arg(long, value_name = "SỐ_KÝ_HIỆU")]
    pub decision: String,
    /// Ngày quyết định (dd/mm/yyyy).
    #[arg(long, value_name = "NGÀY")]
    pub decision_date: Option<String>,
    /// Ý kiến kèm theo.
    #[arg(long, value_name = "Ý_KIẾN")]
    pub comment: Option<String>,
    /// In kết quả dạng JSON (cho chương trình khác đọc).
    #[arg(long)]
    pub json: bool,
}

// The arguments of `tiendo task` (TaskCmd::RefuseProposal), its help text on the variant.
#[derive(Debug, clap::Args)]
pub struct RefuseProposalArgs {
    /// Mã nhiệm vụ.
    #[arg(value_name = "MÃ_NHIỆM_VỤ")]
    pub task: String,
    /// Tên đăng nhập của người quyết định (UBND thành phố).
    #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
    pub as_user: String,
    /// Lý do không chấp thuận.
    #[arg(long, value_name = "Ý_KIẾN")]
    pub comment: Option<String>,
    /// In kết quả dạng JSON (cho chương trình khác đọc).
    #[arg(long)]
    pub json: bool,
}

/// A date written dd/mm/yyyy (or yyyy-mm-dd), for `option`.
fn date_of(option: &str, d: &str) -> Result<chrono::NaiveDate, Failure> {
    parse_date(d).map_err(|e| Failure::usage(format!("{option}: ngày không hợp lệ: {e}")))
}

/// The same, for an option that may be left out.
fn date_arg(option: &str, s: Option<&str>) -> Result<Option<chrono::NaiveDate>, Failure> {
    s.map(|d| date_of(option, d)).transpose()
}

fn money(s: &Option<String>) -> Result<Option<i64>, Failure> {
    s.as_deref()
        .map(|t| {
            parse_million_vnd(t).map_err(|e| Failure::usage(format!("Số tiền không hợp lệ: {e}")))
        })
        .transpose()
}

/// A task in `task list --json`, with every plan it is listed in.
#[derive(serde::Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    task: &'a adapters::store::Task,
    listings: Vec<adapters::store::Listing>,
}

fn json_out<T: serde::Serialize>(v: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| Failure::refused(format!("cannot encode JSON: {e}")))
}

/// What every subcommand works with: the store, the time the command runs at and the data
/// directory documents are stored under.
struct Run<'a> {
    store: &'a Store,
    now: Instant,
    data_dir: &'a Path,
}

impl Run<'_> {
    /// The user named by `--as`, with the roles and units that apply to them.
    async fn actor(&self, user: &str) -> Result<Actor, Failure> {
        Ok(self.store.directory().actor(user).await?)
    }
}

/// The `--comment` of a command: a text of at most 5000 characters, line breaks allowed.
fn comment_arg(comment: &Option<String>) -> Result<Option<String>, Failure> {
    typed_opt("--comment", comment.as_deref(), 5000, true)
}

pub async fn run(cmd: &TaskCmd, ctx: &Ctx<'_>, data_dir: &Path) -> Result<String, Failure> {
    let store = ctx.store().await?;
    let r = Run {
        store: &store,
        now: Utc::now(),
        data_dir,
    };
    match cmd {
        TaskCmd::Create(a) => create(&r, a).await,
        TaskCmd::List(a) => list(&r, a).await,
        TaskCmd::Show(a) => show(&r, a).await,
        TaskCmd::Transition(a) => transition(&r, a).await,
        TaskCmd::Propose(a) => propose(&r, a).await,
        TaskCmd::AcceptProposal(a) => accept_proposal(&r, a).await,
        TaskCmd::RefuseProposal(a) => refuse_proposal(&r, a).await,
        TaskCmd::Transfer(a) => transfer(&r, a).await,
        TaskCmd::Deadline(a) => deadline(&r, a).await,
        TaskCmd::Attach(a) => attach(&r, a).await,
    }
}

/// `task create`: a new task in a plan, with its budget line when amounts are given.
async fn create(r: &Run<'_>, a: &CreateArgs) -> Result<String, Failure> {
    let CreateArgs {
        as_user,
        plan,
        unit,
        name,
        funding,
        kind,
        period,
        rental,
        own_fund,
        budget_year,
        need_total,
        approved_estimate,
        need_year,
        allocated_year,
        idempotency_key,
        json,
    } = a;
    let actor = r.actor(as_user).await?;
    let funding_source: FundingSource = funding.parse().map_err(Failure::usage)?;
    let plan_year = r.store.directory().plan(plan).await?.year;
    let line = BudgetLine {
        year: budget_year.unwrap_or(plan_year),
        need_total_vnd: money(need_total)?,
        approved_estimate_vnd: money(approved_estimate)?,
        need_year_vnd: money(need_year)?,
        allocated_year_vnd: money(allocated_year)?,
        planned_allocation_vnd: None,
    };
    let has_money = line.need_total_vnd.is_some()
        || line.approved_estimate_vnd.is_some()
        || line.need_year_vnd.is_some()
        || line.allocated_year_vnd.is_some();
    let new = NewTask {
        plan: plan.clone(),
        unit_id: unit.clone(),
        name: typed("--name", name, 1000, false)?,
        funding_source,
        kind: kind.clone(),
        period: typed_opt("--period", period.as_deref(), 200, false)?,
        is_rental: *rental,
        own_fund: *own_fund,
        budget: if has_money { vec![line] } else { Vec::new() },
    };
    let o = r
        .store
        .tasks()
        .create_as(&actor, &new, idempotency_key.as_deref(), r.now)
        .await?;
    if *json {
        return json_out(&o);
    }
    Ok(format!(
        "{}\nĐã tạo nhiệm vụ ở bước {} (phiên bản {})\n",
        o.task_id, o.state, o.version
    ))
}

/// `task list`: the tasks the actor may see, filtered.
async fn list(r: &Run<'_>, a: &ListArgs) -> Result<String, Failure> {
    let ListArgs {
        as_user,
        plan,
        unit,
        phase,
        state,
        overdue,
        json,
    } = a;
    let now = r.now;
    let actor = r.actor(as_user).await?;
    let phase = phase
        .as_deref()
        .map(|p| {
            p.parse::<Phase>()
                .map_err(|e| Failure::usage(e.to_string()))
        })
        .transpose()?;
    // A unit id (`TaskQuery::unit`, which `TaskFilter::unit` becomes); anything else is a usage
    // error.
    let unit = unit
        .as_deref()
        .map(|u| UnitId::parse(u).map_err(|e| Failure::usage(format!("--unit: {e}."))))
        .transpose()?;
    let filter = TaskFilter {
        plan: plan.clone(),
        unit,
        phase,
        state: state.clone(),
        overdue_at: overdue.then_some(now),
        ..TaskFilter::default()
    };
    let items = r.store.tasks().list_as(&actor, &filter, now).await?;
    if *json {
        let ids: Vec<&str> = items.iter().map(|i| i.task.id.as_str()).collect();
        let mut listings = r.store.plans().listings_of(&ids).await?;
        return json_out(
            &items
                .iter()
                .map(|i| Listed {
                    task: &i.task,
                    listings: listings.remove(&i.task.id).unwrap_or_default(),
                })
                .collect::<Vec<_>>(),
        );
    }
    Ok(list_table(&items, now))
}

/// `task show`: one task with its budget, documents, transitions, forecast and proposals.
async fn show(r: &Run<'_>, a: &ShowArgs) -> Result<String, Failure> {
    let ShowArgs {
        task,
        as_user,
        json,
    } = a;
    let actor = r.actor(as_user).await?;
    let d = r.store.tasks().detail_as(&actor, task, r.now).await?;
    if *json {
        return json_out(&serde_json::json!({
            "task": d.item.task,
            "my_turn": d.item.my_turn,
            "turn_roles": d.item.turn_roles(),
            "proposals": d.proposals,
            "listings": d.listings,
            "available": d.available,
            "forecast": d.forecast.as_ref().and_then(|f| f.as_ref().ok()),
        }));
    }
    detail_text(&d, &actor, r.now)
}

/// `task transition`: takes a named transition.
async fn transition(r: &Run<'_>, a: &TransitionArgs) -> Result<String, Failure> {
    let TransitionArgs {
        task,
        transition,
        as_user,
        comment,
        documents,
        if_version,
        idempotency_key,
        json,
    } = a;
    let actor = r.actor(as_user).await?;
    let req = TransitionRequest {
        task_id: task.clone(),
        transition: transition.clone(),
        comment: comment_arg(comment)?,
        document_ids: documents.clone(),
        expected_version: if_version.map_or(Expected::Any, Expected::Version),
        idempotency_key: idempotency_key.clone(),
    };
    let o = r.store.tasks().transition_as(&actor, &req, r.now).await?;
    if *json {
        return json_out(&o);
    }
    Ok(format!(
        "{}Nhiệm vụ chuyển sang bước «{}» ({}), giai đoạn {}; phiên bản {}\n",
        if o.replayed {
            "(yêu cầu đã được thực hiện trước đó; không thay đổi gì)\n"
        } else {
            ""
        },
        o.state_title,
        o.state,
        o.phase.title(),
        o.version
    ))
}

/// `task propose`: the owning unit's proposal, with its letter.
async fn propose(r: &Run<'_>, a: &ProposeArgs) -> Result<String, Failure> {
    let ProposeArgs {
        task,
        as_user,
        kind,
        letter,
        letter_date,
        comment,
        json,
    } = a;
    let actor = r.actor(as_user).await?;
    let kind: engine::proposal::ProposalKind = kind.parse().map_err(Failure::usage)?;
    let new = adapters::store::NewProposal {
        task_id: task.clone(),
        kind,
        letter_number: typed("--letter", letter, 200, false)?,
        letter_date: date_arg("--letter-date", letter_date.as_deref())?,
        comment: comment_arg(comment)?,
    };
    let p = r.store.tasks().propose_as(&actor, &new, r.now).await?;
    if *json {
        return json_out(&p);
    }
    Ok(format!(
        "{}\nĐã ghi nhận: {}. Đề xuất chờ UBND thành phố quyết định; nhiệm vụ vẫn ở bước hiện tại.\n",
        p.id,
        p.describe()
    ))
}

/// `task accept-proposal`: UBND accepts the pending proposal.
async fn accept_proposal(r: &Run<'_>, a: &AcceptProposalArgs) -> Result<String, Failure> {
    let AcceptProposalArgs {
        task,
        as_user,
        comment,
        documents,
        json,
    } = a;
    let actor = r.actor(as_user).await?;
    let comment = comment_arg(comment)?;
    let o = r
        .store
        .tasks()
        .accept_proposal_as(&actor, task, comment.as_deref(), documents, r.now)
        .await?;
    if *json {
        return json_out(&o);
    }
    if let Some(c) = &o.carried_over {
        return Ok(format!(
            "Đã chấp thuận đề xuất chuyển nguồn: {} triệu đồng kinh phí năm {} chưa giải ngân được chuyển sang năm {}. Nhiệm vụ tiếp tục ở bước «{}» ({}); phiên bản {}\n",
            engine::money::format_million_vnd(c.amount_vnd, 3),
            c.from_year,
            c.to_year,
            o.state_title,
            o.state,
            o.version
        ));
    }
    Ok(format!(
        "Đã chấp thuận đề xuất. Nhiệm vụ chuyển sang bước «{}» ({}), giai đoạn {}; phiên bản {}\n",
        o.state_title,
        o.state,
        o.phase.title(),
        o.version
    ))
}

/// `task refuse-proposal`: UBND refuses the pending proposal.
async fn refuse_proposal(r: &Run<'_>, a: &RefuseProposalArgs) -> Result<String, Failure> {
    let RefuseProposalArgs {
        task,
        as_user,
        comment,
        json,
    } = a;
    let actor = r.actor(as_user).await?;
    let comment = comment_arg(comment)?;
    let p = r
        .store
        .tasks()
        .refuse_proposal_as(&actor, task, comment.as_deref(), r.now)
        .await?;
    if *json {
        return json_out(&p);
    }
    Ok(format!(
        "Không chấp thuận: {}. Nhiệm vụ tiếp tục ở bước hiện tại, thời hạn giữ nguyên.\n",
        p.describe()
    ))
}

/// `task transfer`: another owning unit by UBND's decision.
async fn transfer(r: &Run<'_>, a: &TransferArgs) -> Result<String, Failure> {
    let TransferArgs {
        task,
        as_user,
        to_unit,
        decision,
        decision_date,
        comment,
        json,
    } = a;
    let actor = r.actor(as_user).await?;
    let t = adapters::store::NewTransfer {
        task_id: task.clone(),
        to_unit: to_unit.clone(),
        decision_number: typed("--decision", decision, 200, false)?,
        decision_date: date_arg("--decision-date", decision_date.as_deref())?,
        comment: comment_arg(comment)?,
    };
    let moved = r.store.tasks().transfer_as(&actor, &t, r.now).await?;
    if *json {
        return json_out(&moved);
    }
    Ok(format!(
        "Đã chuyển nhiệm vụ từ đơn vị {} sang đơn vị {} theo {}; phiên bản {}\n",
        moved.from_unit,
        moved.to_unit,
        moved.decision_reference(),
        moved.version
    ))
}

/// `task deadline`: the assigned deadline set or cleared by a leader's document.
async fn deadline(r: &Run<'_>, a: &DeadlineArgs) -> Result<String, Failure> {
    let DeadlineArgs {
        task,
        on,
        clear: _,
        doc,
        doc_date,
        as_user,
        json,
    } = a;
    let actor = r.actor(as_user).await?;
    let req = engine::assigned::DeadlineRequest {
        on: date_arg("--on", on.as_deref())?,
        doc_number: doc.clone(),
        doc_date: date_of("--doc-date", doc_date)?,
    };
    let o = r
        .store
        .tasks()
        .set_deadline_as(&actor, task, &req, r.now)
        .await?;
    if *json {
        return json_out(&serde_json::json!({
            "task_id": o.task_id,
            "version": o.version,
            "assigned_deadline": o.assigned_deadline,
            "assigned_deadline_on": o.assigned_deadline_on,
            "expected_completion_on": o.expected_completion_on,
            "doc_number": o.doc_number,
            "doc_date": o.doc_date,
            "audit_id": o.audit_id,
            "comment": o.comment,
        }));
    }
    Ok(format!("{}\nPhiên bản {}\n", o.comment, o.version))
}

/// `task attach`: a document stored and recorded on the task.
async fn attach(r: &Run<'_>, a: &AttachArgs) -> Result<String, Failure> {
    let AttachArgs {
        task,
        as_user,
        doc_type,
        file,
        number,
        date,
        issuer,
        data_dir: _,
    } = a;
    let data_dir = r.data_dir;
    let actor = r.actor(as_user).await?;
    let attachment = r.store.tasks().attach_as(&actor, task).await?;
    attachment.check_type(doc_type)?;
    let issued_on = date
        .as_deref()
        .map(|d| parse_date(d).map_err(|e| Failure::usage(format!("Ngày không hợp lệ: {e}"))))
        .transpose()?;
    let number = typed_opt("--number", number.as_deref(), 200, false)?;
    let issuer = typed_opt("--issuer", issuer.as_deref(), 300, false)?;
    let bytes = std::fs::read(file)
        .map_err(|e| Failure::refused(format!("Không đọc được tệp {}: {e}", file.display())))?;
    let stored = FileStore::new(data_dir).put(&bytes).map_err(|e| {
        Failure::refused(format!(
            "Không lưu được tệp vào {}: {e}",
            data_dir.display()
        ))
    })?;
    let new = NewDocument {
        task_id: attachment.task().id.clone(),
        doc_type: doc_type.clone(),
        number,
        issued_on,
        issuer,
        file_name: file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        size_bytes: stored.size,
        sha256: stored.sha256,
        stored_path: stored.path.display().to_string(),
    };
    let doc = attachment.record(&new, r.now).await?;
    Ok(format!(
        "{}\nĐã đính kèm {} ({} byte, sha256 {})\n",
        doc.id, doc.file_name, doc.size_bytes, doc.sha256
    ))
}

fn list_table(items: &[TaskItem], now: Instant) -> String {
    let mut out = String::new();
    for item in items {
        let t = &item.task;
        let deadline = match (t.due_at, item.time_left(now)) {
            (Some(due), Some(left)) => format!("hạn {} ({left})", format_instant(due)),
            _ => "—".into(),
        };
        out.push_str(&format!(
            "{}  {:<12} {:<26} {:<34} {}\n    {}\n",
            t.id, t.workflow, t.state, t.unit_id, deadline, t.name
        ));
    }
    if items.is_empty() {
        out.push_str("Không có nhiệm vụ nào.\n");
    }
    out
}

fn detail_text(d: &TaskDetail, actor: &Actor, now: Instant) -> Result<String, Failure> {
    let t = &d.item.task;
    let wf = d.item.workflow.as_deref().ok_or_else(|| {
        Failure::refused(format!(
            "Quy trình {} v{} không còn được nạp.",
            t.workflow, t.workflow_version
        ))
    })?;
    let state = wf.state(&t.state);
    let mut out = format!(
        "{}\n{}\n",
        t.name,
        "=".repeat(t.name.chars().count().min(80))
    );
    out.push_str(&format!("Mã nhiệm vụ:   {}\n", t.id));
    out.push_str(&format!("Kế hoạch:      {}\n", t.plan_number));
    out.push_str(&format!("Đơn vị:        {} ({})\n", t.unit_name, t.unit_id));
    out.push_str(&format!(
        "Quy trình:     {} v{} — {}\n",
        wf.name, wf.version, wf.title
    ));
    out.push_str(&format!(
        "Bước hiện tại: {} ({}), giai đoạn {}, từ {}\n",
        state.map(|s| s.title.as_str()).unwrap_or(&t.state),
        t.state,
        t.phase.title(),
        format_instant(t.state_entered_at)
    ));
    // Whose turn: the state's roles, or the approval authority resolved for this task.
    let turn = d.item.turn_roles();
    if state.is_some() && !turn.is_empty() {
        let roles: Vec<&str> = turn.iter().map(|r| r.title()).collect();
        out.push_str(&format!("Lượt xử lý:    {}\n", roles.join(", ")));
    }
    if let Some(p) = d.proposals.iter().find(|p| p.status == "pending") {
        out.push_str(&format!(
            "Đề xuất chờ UBND quyết định: {} — {}\n",
            p.describe(),
            format_instant(p.proposed_at)
        ));
    }
    match (&t.clock, d.item.time_left(now)) {
        (Some(c), Some(left)) => out.push_str(&format!(
            "Thời hạn:      {} ({left})\n",
            format_instant(c.due_at)
        )),
        (None, Some(left)) => out.push_str(&format!("Thời hạn:      {left}\n")),
        (_, None) => out.push_str("Thời hạn:      không có\n"),
    }
    out.push_str(&format!(
        "Thời hạn giao: {}\n",
        match (t.assigned_deadline_on, t.expected_completion_on) {
            (Some(d), _) => format!(
                "{} (lãnh đạo đặt{})",
                format_date(d),
                t.deadline_doc_number
                    .as_ref()
                    .map(|n| format!(
                        ", văn bản số {n}{}",
                        t.deadline_doc_date
                            .map(|d| format!(" ngày {}", format_date(d)))
                            .unwrap_or_default()
                    ))
                    .unwrap_or_default()
            ),
            (None, Some(d)) => format!("{} (thời gian dự kiến hoàn thành)", format_date(d)),
            (None, None) => "không có (nhiệm vụ thường xuyên)".into(),
        }
    ));
    match &d.forecast {
        Some(Ok(f)) => {
            out.push_str(&format!("Dự báo:        {}\n", f.summary()));
            if let (Some(due), Some(why)) = (f.due, &f.due_reason) {
                out.push_str(&format!("  Hạn:         {} ({why})\n", format_date(due)));
            }
            for line in f.path_lines() {
                out.push_str(&format!("  {line}\n"));
            }
            if let Some(note) = f.shorter_path_note() {
                out.push_str(&format!("  {note}\n"));
            }
            for o in &f.options {
                out.push_str(&format!(
                    "  Có thể đề xuất: {} — đơn vị gửi kèm văn bản: tiendo task propose {} --kind {} --letter SỐ_VĂN_BẢN --letter-date NGÀY; UBND quyết định\n",
                    o.title, t.id, o.kind
                ));
            }
        }
        Some(Err(e)) => out.push_str(&format!("Dự báo:        không tính được: {e}\n")),
        None => {}
    }
    out.push_str(&format!("Phiên bản:     {}\n", t.version));
    for b in &d.budget {
        let m = |v: Option<i64>| {
            v.map(|x| format_million_vnd(x, 1))
                .unwrap_or_else(|| "—".into())
        };
        out.push_str(&format!(
            "Kinh phí {}:  nhu cầu {}; dự toán duyệt {}; nhu cầu năm {}; dự kiến phân bổ {}; đã phân bổ {} (triệu đồng)\n",
            b.year,
            m(b.need_total_vnd),
            m(b.approved_estimate_vnd),
            m(b.need_year_vnd),
            m(b.planned_allocation_vnd),
            m(b.allocated_year_vnd)
        ));
    }
    if !d.listings.is_empty() {
        out.push_str("Kế hoạch:\n");
        for l in &d.listings {
            out.push_str(&format!(
                "  {} (năm {}): {} {}{}{}\n",
                l.plan_number,
                l.plan_year,
                if l.section.chars().all(|c| c.is_ascii_digit()) {
                    "phụ lục"
                } else {
                    "mục"
                },
                l.section,
                l.category_title
                    .as_ref()
                    .map(|c| format!(", {c}"))
                    .unwrap_or_default(),
                l.year_status_title
                    .as_ref()
                    .map(|y| format!("; tình trạng năm: {y}"))
                    .unwrap_or_default(),
            ));
        }
    }
    if !d.documents.is_empty() {
        out.push_str("Tài liệu:\n");
        for doc in &d.documents {
            out.push_str(&format!(
                "  {}  {}  {}{}\n",
                doc.id,
                doc.doc_type,
                doc.file_name,
                doc.number
                    .as_ref()
                    .map(|n| format!(" (số {n})"))
                    .unwrap_or_default()
            ));
        }
    }
    if d.available.is_empty() {
        out.push_str("Không còn bước chuyển nào (nhiệm vụ đã kết thúc).\n");
    } else {
        out.push_str(&format!("Các bước chuyển (với {}):\n", actor.user));
        for a in &d.available {
            let needs: Vec<String> = a.unmet.iter().map(|u| u.to_string()).collect();
            out.push_str(&format!(
                "  {} → {}: {}{}\n",
                a.transition,
                a.to,
                a.title,
                if needs.is_empty() {
                    String::new()
                } else {
                    format!(" [cần: {}]", needs.join("; "))
                }
            ));
        }
    }
    Ok(out)
}
