//! `tiendo db|unit|user|plan|audit …`: the directory and the audit log, for administrators and
//! auditors.

use chrono::Utc;
use engine::Role;
use engine::time::{format_date, format_instant, parse_date};

use super::{Ctx, Failure, typed, typed_email, typed_opt};
use adapters::store::{NewUser, Store};

#[derive(Debug, clap::Subcommand)]
pub enum DbCmd {
    /// Apply pending migrations (also done automatically by every command).
    Migrate {
        /// Accept an existing empty (0-byte) SQLite file as a new database. Without it such a
        /// file is refused: it is usually a failed backup or an unfinished restore.
        #[arg(long)]
        init: bool,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum UnitCmd {
    /// Add a unit: `tiendo unit add so-y-te "Sở Y tế"`.
    Add {
        /// Canonical id: lowercase ASCII letters, digits and '-'.
        id: String,
        /// Vietnamese name.
        name: String,
        #[arg(long)]
        parent: Option<String>,
    },
    List,
    /// Rename a unit from a date; the old name stays on record for earlier dates.
    Rename {
        id: String,
        name: String,
        /// First day of the new name (yyyy-mm-dd or dd/mm/yyyy).
        #[arg(long)]
        from: String,
    },
    /// Merge a unit into another: its tasks keep their history; the other unit's users take them over.
    Merge {
        from: String,
        into: String,
        #[arg(long)]
        on: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCmd {
    /// Thêm người dùng: `tiendo user add nguyenvana --role don_vi --unit so-y-te`.
    Add {
        /// Tên đăng nhập (chữ thường không dấu, số, dấu chấm, gạch ngang).
        #[arg(value_name = "TÊN_ĐĂNG_NHẬP")]
        username: String,
        /// Một hoặc nhiều vai trò: don_vi, thu_truong_don_vi, skhcn, so_tai_chinh, lanh_dao_so, ubnd, admin
        /// (lặp lại --role cho nhiều vai trò).
        #[arg(long = "role", required = true, value_name = "VAI_TRÒ")]
        roles: Vec<String>,
        /// Mã đơn vị của người dùng (bắt buộc với don_vi và thu_truong_don_vi).
        #[arg(long, value_name = "MÃ_ĐƠN_VỊ")]
        unit: Option<String>,
        /// Họ và tên hiển thị.
        #[arg(long, value_name = "HỌ_TÊN")]
        name: Option<String>,
        /// Địa chỉ email nhận thông báo.
        #[arg(long, value_name = "EMAIL")]
        email: Option<String>,
        /// Đọc mật khẩu đầu tiên từ đầu vào chuẩn (một dòng), cho kịch bản:
        /// `printf '%s\n' "$PW" | tiendo user add … --password-stdin`. Mật khẩu không bao giờ
        /// được truyền như một tham số, nơi người dùng khác trên máy có thể thấy.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Xem một người dùng.
    Show {
        /// Tên đăng nhập.
        #[arg(value_name = "TÊN_ĐĂNG_NHẬP")]
        username: String,
    },
    /// Đặt mật khẩu cho người dùng, đọc từ đầu vào chuẩn (một dòng).
    ///
    /// `printf '%s\n' "$PW" | tiendo user passwd nguyenvana`. Người dùng bị đăng xuất khỏi mọi
    /// phiên.
    Passwd {
        /// Tên đăng nhập.
        #[arg(value_name = "TÊN_ĐĂNG_NHẬP")]
        username: String,
    },
    /// Khóa người dùng: không đăng nhập, không thao tác được; các phiên và mã API bị thu hồi.
    Disable {
        /// Tên đăng nhập.
        #[arg(value_name = "TÊN_ĐĂNG_NHẬP")]
        username: String,
    },
    /// Mở khóa người dùng (các phiên và mã API đã thu hồi vẫn bị thu hồi).
    Enable {
        /// Tên đăng nhập.
        #[arg(value_name = "TÊN_ĐĂNG_NHẬP")]
        username: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum PlanCmd {
    /// Add a plan: `tiendo plan add 215/KH-UBND --year 2025 --title "…" --issued 2025-08-25`.
    Add {
        number: String,
        #[arg(long)]
        year: i32,
        #[arg(long)]
        title: String,
        #[arg(long)]
        issued: Option<String>,
    },
    /// Show a plan.
    Show { number: String },
    /// Tình trạng của một nhiệm vụ trong năm của kế hoạch (khác với giai đoạn của nhiệm vụ):
    /// hoan_thanh_nam, theo_tien_do, cham, chua_trien_khai, dung_thuc_hien; --clear để xóa.
    YearStatus {
        /// Số hiệu kế hoạch, ví dụ 215/KH-UBND.
        #[arg(long)]
        plan: String,
        /// Mã nhiệm vụ.
        #[arg(long)]
        task: String,
        /// hoan_thanh_nam | theo_tien_do | cham | chua_trien_khai | dung_thuc_hien
        #[arg(long, required_unless_present = "clear")]
        status: Option<String>,
        /// Ghi chú (ví dụ: đã thanh toán năm 2025).
        #[arg(long)]
        note: Option<String>,
        /// Xóa tình trạng năm đã ghi.
        #[arg(long, conflicts_with = "status")]
        clear: bool,
        /// Người ghi (vai trò skhcn, ubnd hoặc admin).
        #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
        as_user: String,
    },
    /// Kinh phí của một nhiệm vụ trong một năm: xem (show) hoặc ghi (set) dự toán, nhu cầu,
    /// phân bổ theo đợt, giải ngân, chuyển nguồn; mọi lần ghi được lưu lại để báo cáo «tính đến»
    /// một ngày thấy đúng số liệu đã biết vào ngày đó.
    #[command(subcommand)]
    Budget(BudgetCmd),
    /// Liên kết nhiệm vụ với một nhiệm vụ khác: continues (tiếp tục), replaces (thay thế),
    /// reproposed_from (đề xuất lại từ); ghi vào nhật ký của cả hai nhiệm vụ (ai, khi nào, lý do).
    Link {
        /// Mã nhiệm vụ.
        #[arg(long)]
        task: String,
        /// continues | replaces | reproposed_from
        #[arg(long)]
        relation: String,
        /// Mã nhiệm vụ kia.
        #[arg(long)]
        other: String,
        /// Lý do.
        #[arg(long)]
        reason: String,
        /// Người ghi (vai trò skhcn, ubnd hoặc admin).
        #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
        as_user: String,
    },
    /// Các liên kết (tiếp tục, thay thế, đề xuất lại) của một nhiệm vụ.
    Lineage {
        /// Mã nhiệm vụ.
        #[arg(long)]
        task: String,
    },
    /// Đổi tên hoặc loại của nhiệm vụ qua các năm: vẫn là nhiệm vụ đó, ghi vào nhật ký.
    Rename {
        /// Mã nhiệm vụ.
        #[arg(long)]
        task: String,
        /// Tên mới.
        #[arg(long)]
        name: Option<String>,
        /// Loại mới (tên quy trình, ví dụ thue-dich-vu).
        #[arg(long)]
        kind: Option<String>,
        /// Lý do.
        #[arg(long)]
        reason: String,
        /// Người ghi (vai trò skhcn, ubnd hoặc admin).
        #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
        as_user: String,
    },
    /// Gán tệp bố cục (layout.toml) cho kế hoạch: các mục, tiêu đề và cột mà báo cáo in ra.
    Layout {
        /// Số hiệu kế hoạch.
        #[arg(long)]
        plan: String,
        /// Tệp bố cục.
        file: std::path::PathBuf,
        /// Người ghi (vai trò skhcn, ubnd hoặc admin).
        #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
        as_user: String,
    },
}

// `set` carries every figure's flag; the command line is parsed once per run, so the size
// difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, clap::Subcommand)]
pub enum BudgetCmd {
    /// Xem kinh phí năm của nhiệm vụ (tính đến --as-of nếu có) và lịch sử ghi.
    Show {
        /// Mã nhiệm vụ.
        #[arg(long)]
        task: String,
        /// Năm.
        #[arg(long)]
        year: i32,
        /// Số liệu đã biết đến hết ngày này (dd/mm/yyyy).
        #[arg(long, value_name = "NGÀY")]
        as_of: Option<String>,
        /// In JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ghi kinh phí năm của nhiệm vụ (triệu đồng, ví dụ 28.080 hoặc 329,7); số liệu không ghi
    /// giữ như hiện tại. Kinh phí phân bổ là tổng các đợt khi có --tranche.
    Set {
        /// Mã nhiệm vụ.
        #[arg(long)]
        task: String,
        /// Năm.
        #[arg(long)]
        year: i32,
        /// Nhu cầu kinh phí (tổng).
        #[arg(long, value_name = "TRIỆU_ĐỒNG")]
        need_total: Option<String>,
        /// Dự toán được duyệt.
        #[arg(long, value_name = "TRIỆU_ĐỒNG")]
        estimate: Option<String>,
        /// Nhu cầu kinh phí của năm.
        #[arg(long, value_name = "TRIỆU_ĐỒNG")]
        need_year: Option<String>,
        /// Dự kiến phân bổ kinh phí của năm, như kế hoạch in (số liệu riêng, không phải kinh
        /// phí đã phân bổ).
        #[arg(long, value_name = "TRIỆU_ĐỒNG")]
        planned: Option<String>,
        /// Kinh phí đã phân bổ của năm (mặc định: tổng các đợt).
        #[arg(long, value_name = "TRIỆU_ĐỒNG")]
        allocated: Option<String>,
        /// Kinh phí chuyển nguồn từ năm trước.
        #[arg(long, value_name = "TRIỆU_ĐỒNG")]
        carried_over: Option<String>,
        /// Kinh phí đã giải ngân.
        #[arg(long, value_name = "TRIỆU_ĐỒNG")]
        spent: Option<String>,
        /// Một đợt phân bổ: SỐ_ĐỢT:SỐ_TIỀN[:SỐ_QUYẾT_ĐỊNH[:NGÀY]], ví dụ
        /// 1:2.000:1234/QĐ-UBND:15/03/2025 (lặp lại cho nhiều đợt; thay đợt cùng số).
        #[arg(long = "tranche", value_name = "ĐỢT")]
        tranches: Vec<String>,
        /// Số liệu có hiệu lực từ ngày (mặc định: hôm nay).
        #[arg(long, value_name = "NGÀY")]
        known_from: Option<String>,
        /// Người ghi (vai trò skhcn, ubnd hoặc admin).
        #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
        as_user: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCmd {
    /// Recompute every task's hash chain and every seal, and check every document's file
    /// (inside the data directory, with its recorded sha256); exit 1 naming the first broken
    /// entry or document.
    Verify,
    /// A task's history.
    Show { task: String },
    /// Seal the current head of every task chain that grew since the last seal.
    Seal {
        /// Keep sealing at this interval (ISO-8601, e.g. PT1H) until interrupted.
        #[arg(long, value_name = "DURATION")]
        every: Option<String>,
    },
}

fn date(s: &str) -> Result<chrono::NaiveDate, Failure> {
    parse_date(s).map_err(|e| Failure::usage(format!("Ngày không hợp lệ: {e}")))
}

#[tracing::instrument(name = "db", skip_all, fields(command = ?cmd))]
pub async fn db(cmd: &DbCmd, ctx: &Ctx<'_>) -> Result<String, Failure> {
    match cmd {
        DbCmd::Migrate { init } => {
            let store = ctx.keep(if *init {
                Store::connect_initialising(ctx.database_url(), ctx.catalog()?, 2).await?
            } else {
                Store::connect(ctx.database_url(), ctx.catalog()?, 2).await?
            });
            let n = store.migrate().await?;
            Ok(format!(
                "{}: {n} migration(s) applied\n",
                store.backend().as_str()
            ))
        }
    }
}

pub async fn unit(cmd: &UnitCmd, ctx: &Ctx<'_>) -> Result<String, Failure> {
    let store = ctx.store().await?;
    let directory = store.directory();
    match cmd {
        UnitCmd::Add { id, name, parent } => {
            let name = typed("name", name, 300, false)?;
            let u = directory
                .add_unit(id, &name, parent.as_deref(), Utc::now())
                .await?;
            Ok(format!("Đã thêm đơn vị {} — {}\n", u.id, u.name))
        }
        UnitCmd::List => {
            let mut out = String::new();
            for u in directory.units().await? {
                let merged = match (&u.merged_into, u.merged_on) {
                    (Some(into), Some(on)) => {
                        format!(" (sáp nhập vào {into} từ {})", format_date(on))
                    }
                    (Some(into), None) => format!(" (sáp nhập vào {into})"),
                    _ => String::new(),
                };
                out.push_str(&format!("{:<40} {}{merged}\n", u.id, u.name));
            }
            Ok(out)
        }
        UnitCmd::Rename { id, name, from } => {
            let name = typed("name", name, 300, false)?;
            let u = directory.rename_unit(id, &name, date(from)?).await?;
            Ok(format!(
                "Đơn vị {} mang tên «{name}» từ {}; tên hiện tại: {}\n",
                u.id, from, u.name
            ))
        }
        UnitCmd::Merge { from, into, on } => {
            let on = date(on)?;
            directory.merge_unit(from, into, on).await?;
            Ok(format!(
                "Đã sáp nhập {from} vào {into} từ ngày {}\n",
                format_date(on)
            ))
        }
    }
}

pub async fn user(cmd: &UserCmd, ctx: &Ctx<'_>) -> Result<String, Failure> {
    let store = ctx.store().await?;
    let (directory, accounts) = (store.directory(), store.accounts());
    match cmd {
        UserCmd::Add {
            username,
            roles,
            unit,
            name,
            email,
            password_stdin,
        } => {
            let password = if *password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let roles = roles
                .iter()
                .map(|r| {
                    r.parse::<Role>()
                        .map_err(|e| Failure::usage(format!("Vai trò không hợp lệ: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let u = directory
                .add_user_with_password(
                    NewUser {
                        username: username.clone(),
                        display_name: typed_opt("--name", name.as_deref(), 200, false)?
                            .unwrap_or_default(),
                        email: typed_email("--email", email.as_deref())?,
                        unit_id: unit.clone(),
                        roles,
                    },
                    password.as_deref(),
                    Utc::now(),
                )
                .await?;
            Ok(format!("Đã thêm người dùng {}\n", describe_user(&u)))
        }
        UserCmd::Show { username } => Ok(format!(
            "{}\n",
            describe_user(&directory.user(username).await?)
        )),
        UserCmd::Passwd { username } => {
            directory.user(username).await?;
            let p = read_password()?;
            let changed = accounts.set_password(username, &p, Utc::now()).await?;
            Ok(format!(
                "Đã đặt mật khẩu mới cho {username}; đã thu hồi {} phiên đăng nhập và {} token API của người dùng này.\n",
                changed.revoked_sessions, changed.revoked_tokens
            ))
        }
        UserCmd::Disable { username } => {
            let u = accounts.disable_user(username, Utc::now()).await?;
            Ok(format!(
                "Đã khóa tài khoản {}; phiên đăng nhập và token API đã bị thu hồi.\n",
                describe_user(&u)
            ))
        }
        UserCmd::Enable { username } => {
            let u = accounts.enable_user(username).await?;
            Ok(format!("Đã mở khóa tài khoản {}\n", describe_user(&u)))
        }
    }
}

/// One line from standard input: the password, without its line ending.
fn read_password() -> Result<String, Failure> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        eprintln!("Nhập mật khẩu rồi nhấn Enter (ký tự nhập sẽ hiện trên màn hình):");
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Failure::refused(format!("Không đọc được mật khẩu từ đầu vào chuẩn: {e}")))?;
    let p = line.trim_end_matches(['\n', '\r']).to_string();
    if p.is_empty() {
        return Err(Failure::usage(
            "Không có mật khẩu trên đầu vào chuẩn: dùng printf '%s\\n' \"$MAT_KHAU\" | tiendo user passwd TÊN",
        ));
    }
    Ok(p)
}

fn describe_user(u: &adapters::store::User) -> String {
    let roles: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
    format!(
        "{} ({}) — vai trò: {}; đơn vị: {}{}",
        u.username,
        u.display_name,
        roles.join(", "),
        u.unit_id.as_deref().unwrap_or("—"),
        if u.disabled { "; ĐÃ KHÓA" } else { "" }
    )
}

pub async fn plan(cmd: &PlanCmd, ctx: &Ctx<'_>) -> Result<String, Failure> {
    let store = ctx.store().await?;
    match cmd {
        PlanCmd::Add {
            number,
            year,
            title,
            issued,
        } => {
            let issued = issued.as_deref().map(date).transpose()?;
            let number = typed("number", number, 100, false)?;
            let title = typed("--title", title, 1000, false)?;
            let p = store
                .directory()
                .add_plan(&number, *year, &title, issued, Utc::now())
                .await?;
            Ok(format!(
                "Đã thêm kế hoạch {} (năm {}): {}\n",
                p.number, p.year, p.title
            ))
        }
        PlanCmd::YearStatus {
            plan,
            task,
            status,
            note,
            clear: _,
            as_user,
        } => {
            let status = status
                .as_deref()
                .map(|s| s.parse::<engine::plan::YearStatus>())
                .transpose()
                .map_err(Failure::usage)?;
            let note = note
                .as_deref()
                .map(|n| typed("--note", n, 2000, true))
                .transpose()?;
            let actor = store.directory().actor(as_user).await?;
            let l = store
                .plans()
                .set_year_status_as(&actor, plan, task, status, note.as_deref(), Utc::now())
                .await?;
            Ok(format!(
                "Nhiệm vụ {task}, kế hoạch {} (năm {}): tình trạng năm {}\n",
                l.plan_number,
                l.plan_year,
                l.year_status_title.as_deref().unwrap_or("(chưa ghi)")
            ))
        }
        PlanCmd::Budget(b) => budget(&store, b).await,
        PlanCmd::Link {
            task,
            relation,
            other,
            reason,
            as_user,
        } => {
            let relation = relation
                .parse::<engine::plan::Relation>()
                .map_err(Failure::usage)?;
            let reason = typed("--reason", reason, 2000, true)?;
            let actor = store.directory().actor(as_user).await?;
            let links = store
                .plans()
                .link_as(&actor, task, relation, other, &reason, Utc::now())
                .await?;
            Ok(format!(
                "Đã ghi: nhiệm vụ {task} — {} — nhiệm vụ {other}.\n{}",
                relation.title(),
                describe_lineage(&links)
            ))
        }
        PlanCmd::Lineage { task } => {
            store.tasks().unscoped().get(task).await?;
            let links = store.plans().lineage_of(&[task.as_str()]).await?;
            if links.is_empty() {
                return Ok(format!("Nhiệm vụ {task} chưa có liên kết nào.\n"));
            }
            Ok(describe_lineage(&links))
        }
        PlanCmd::Rename {
            task,
            name,
            kind,
            reason,
            as_user,
        } => {
            let name = name
                .as_deref()
                .map(|n| typed("--name", n, 1000, false))
                .transpose()?;
            let reason = typed("--reason", reason, 2000, true)?;
            let actor = store.directory().actor(as_user).await?;
            let r = store
                .plans()
                .rename_as(
                    &actor,
                    task,
                    name.as_deref(),
                    kind.as_deref(),
                    &reason,
                    Utc::now(),
                )
                .await?;
            Ok(format!(
                "Nhiệm vụ {}: «{}» → «{}»; loại {} → {} ({}).\n",
                r.task_id,
                r.old_name,
                r.new_name,
                r.old_kind.as_deref().unwrap_or("—"),
                r.new_kind.as_deref().unwrap_or("—"),
                r.reason
            ))
        }
        PlanCmd::Layout {
            plan,
            file,
            as_user,
        } => {
            let text = std::fs::read_to_string(file).map_err(|e| {
                Failure::refused(format!("Không đọc được tệp {}: {e}", file.display()))
            })?;
            let layout = engine::plan::layout::parse_layout(&text, &file.display().to_string())
                .map_err(Failure::refused)?;
            let actor = store.directory().actor(as_user).await?;
            store.plans().set_layout_as(&actor, plan, &layout).await?;
            Ok(format!(
                "Kế hoạch {plan}: bố cục {} mục ({}).\n",
                layout.sections.len(),
                layout
                    .sections
                    .iter()
                    .map(|s| s.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
        PlanCmd::Show { number } => {
            let p = store.directory().plan(number).await?;
            Ok(format!(
                "Kế hoạch {} (năm {}{}): {}\n",
                p.number,
                p.year,
                p.issued_on
                    .map(|d| format!(", ban hành {}", format_date(d)))
                    .unwrap_or_default(),
                p.title
            ))
        }
    }
}

fn describe_lineage(links: &[adapters::store::LineageLink]) -> String {
    links
        .iter()
        .map(|l| {
            format!(
                "{} «{}» — {} — {} «{}»: {} ({}, {})\n",
                l.task_id,
                l.task_name,
                l.relation_title,
                l.other_task_id,
                l.other_task_name,
                l.reason,
                l.actor_user,
                format_instant(l.at)
            )
        })
        .collect()
}

fn million(flag: &str, v: &Option<String>) -> Result<Option<Option<i64>>, Failure> {
    v.as_deref()
        .map(|s| {
            if s.trim().is_empty() || s.trim() == "-" {
                return Ok(None);
            }
            engine::money::parse_million_vnd(s)
                .map(Some)
                .map_err(|e| Failure::usage(format!("{flag}: {e}")))
        })
        .transpose()
}

fn describe_budget(r: &adapters::store::BudgetRecord) -> String {
    let m = |v: Option<i64>| {
        v.map(|d| engine::money::format_million_vnd(d, 3))
            .unwrap_or_else(|| "—".into())
    };
    let b = &r.budget;
    let mut s = format!(
        "Nhiệm vụ {}, kinh phí năm {}{} (triệu đồng){}:\n  Nhu cầu kinh phí: {}\n  Dự toán được duyệt: {}\n  Nhu cầu kinh phí năm: {}\n  Dự kiến phân bổ năm: {}\n  Phân bổ năm: {}\n  Chuyển nguồn từ năm trước: {}\n  Đã giải ngân: {}\n",
        r.task_id,
        r.year,
        r.as_of
            .map(|d| format!(", tính đến {}", format_date(d)))
            .unwrap_or_default(),
        r.known_from
            .map(|d| format!(", số liệu từ {}", format_date(d)))
            .unwrap_or_else(|| ", chưa có số liệu".into()),
        m(b.need_total_vnd),
        m(b.approved_estimate_vnd),
        m(b.need_year_vnd),
        m(b.planned_allocation_vnd),
        m(b.allocated_year_vnd),
        m(b.carried_over_vnd),
        m(b.spent_vnd)
    );
    for t in &b.tranches {
        s.push_str(&format!(
            "  Đợt {}: {}{}{}\n",
            t.tranche,
            engine::money::format_million_vnd(t.amount_vnd, 3),
            t.decision_number
                .as_deref()
                .map(|n| format!(", quyết định {n}"))
                .unwrap_or_default(),
            t.decision_on
                .map(|d| format!(" ngày {}", format_date(d)))
                .unwrap_or_default()
        ));
    }
    s.push_str(&format!("  Lịch sử: {} lần ghi\n", r.history.len()));
    for e in &r.history {
        s.push_str(&format!(
            "    từ {} (ghi {} bởi {}){}: dự kiến phân bổ {}, phân bổ {}, giải ngân {}\n",
            format_date(e.known_from),
            format_instant(e.recorded_at),
            e.recorded_by,
            if e.removed { ", xóa dòng" } else { "" },
            m(e.budget.planned_allocation_vnd),
            m(e.budget.allocated_year_vnd),
            m(e.budget.spent_vnd)
        ));
    }
    s
}

async fn budget(store: &Store, cmd: &BudgetCmd) -> Result<String, Failure> {
    match cmd {
        BudgetCmd::Show {
            task,
            year,
            as_of,
            json,
        } => {
            let as_of = as_of.as_deref().map(date).transpose()?;
            let r = store.plans().budget_of(task, *year, as_of).await?;
            if *json {
                return serde_json::to_string_pretty(&r)
                    .map(|s| s + "\n")
                    .map_err(|e| Failure::refused(e.to_string()));
            }
            Ok(describe_budget(&r))
        }
        BudgetCmd::Set {
            task,
            year,
            need_total,
            estimate,
            need_year,
            planned,
            allocated,
            carried_over,
            spent,
            tranches,
            known_from,
            as_user,
        } => {
            let known_from = known_from.as_deref().map(date).transpose()?;
            let current = store.plans().budget_of(task, *year, None).await?;
            let mut b = current.budget;
            let set = |slot: &mut Option<i64>, v: Option<Option<i64>>| {
                if let Some(v) = v {
                    *slot = v;
                }
            };
            set(&mut b.need_total_vnd, million("--need-total", need_total)?);
            set(
                &mut b.approved_estimate_vnd,
                million("--estimate", estimate)?,
            );
            set(&mut b.need_year_vnd, million("--need-year", need_year)?);
            set(
                &mut b.planned_allocation_vnd,
                million("--planned", planned)?,
            );
            let allocated = million("--allocated", allocated)?;
            set(
                &mut b.carried_over_vnd,
                million("--carried-over", carried_over)?,
            );
            set(&mut b.spent_vnd, million("--spent", spent)?);
            if !tranches.is_empty() {
                for t in tranches {
                    let t = engine::plan::budget::parse_tranche(t).map_err(Failure::usage)?;
                    b.tranches.retain(|x| x.tranche != t.tranche);
                    b.tranches.push(t);
                }
                // The allocation follows the tranches unless given.
                b.allocated_year_vnd = None;
            }
            set(&mut b.allocated_year_vnd, allocated);
            let actor = store.directory().actor(as_user).await?;
            let r = store
                .plans()
                .set_budget_as(&actor, task, *year, b, known_from, Utc::now())
                .await?;
            Ok(describe_budget(&r))
        }
    }
}

#[tracing::instrument(name = "audit", skip_all, fields(command = ?cmd))]
pub async fn audit(
    cmd: &AuditCmd,
    ctx: &Ctx<'_>,
    data_dir: &std::path::Path,
) -> Result<String, Failure> {
    let store = ctx.store().await?;
    match cmd {
        AuditCmd::Verify => {
            let r = store.audit().verify().await?;
            match r.broken {
                None => {
                    let files = adapters::files::FileStore::new(data_dir);
                    let d = store.audit().verify_documents(&files).await?;
                    if let Some((id, why)) = d.broken {
                        return Err(Failure::refused(format!(
                            "DOCUMENT BROKEN: document {id}: {why} (data directory {})",
                            data_dir.display()
                        )));
                    }
                    Ok(format!(
                        "OK: {} entries in {} task chains and {} seals verified; {} documents ({} cited by the log) match their sha256\n",
                        r.entries, r.tasks, r.seals, d.documents, d.cited
                    ))
                }
                Some(b) => {
                    let mut where_ = Vec::new();
                    if let Some(id) = b.audit_id {
                        where_.push(format!("audit entry #{id}"));
                    }
                    if let Some(t) = &b.task_id {
                        where_.push(format!("task {t}"));
                    }
                    if let Some(s) = b.seq {
                        where_.push(format!("position {s} in its chain"));
                    }
                    if let Some(s) = b.seal_id {
                        where_.push(format!("seal #{s}"));
                    }
                    Err(Failure::refused(format!(
                        "AUDIT LOG BROKEN at {}: {}",
                        where_.join(", "),
                        b.reason
                    )))
                }
            }
        }
        AuditCmd::Show { task } => {
            let history = store.audit().history(task).await?;
            let mut out = String::new();
            for e in history {
                let label = if e.kind == "document" {
                    "Tài liệu"
                } else {
                    "Ý kiến"
                };
                out.push_str(&format!(
                    "#{:<3} {}  {:<24} {} → {}  bởi {}{}{}\n",
                    e.seq,
                    format_instant(e.at),
                    e.transition,
                    e.from_state.as_deref().unwrap_or("—"),
                    e.to_state,
                    e.actor_user,
                    e.actor_role.map(|r| format!(" ({r})")).unwrap_or_default(),
                    e.comment
                        .map(|c| format!("\n      {label}: {c}"))
                        .unwrap_or_default(),
                ));
            }
            Ok(out)
        }
        AuditCmd::Seal { every } => {
            let Some(every) = every else {
                return Ok(describe_seal(&store.audit().seal(Utc::now()).await?));
            };
            let period = engine::time::IsoDuration::parse(every)
                .ok()
                .filter(|d| d.months == 0)
                .map(|d| std::time::Duration::from_secs(d.days * 86_400 + d.seconds))
                .ok_or_else(|| {
                    Failure::usage(format!(
                        "--every `{every}`: dùng thời lượng ISO-8601 như PT1H hoặc PT15M"
                    ))
                })?;
            let mut ticks = tokio::time::interval(period);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {
                        let s = store.audit().seal(Utc::now()).await?;
                        print!("{}", describe_seal(&s));
                    }
                    _ = tokio::signal::ctrl_c() => return Ok(String::new()),
                }
            }
        }
    }
}

fn describe_seal(s: &adapters::store::Seal) -> String {
    format!(
        "Seal #{} at {}: {} task head(s), hash {}\n",
        s.id,
        format_instant(s.at),
        s.task_count,
        s.hash
    )
}
