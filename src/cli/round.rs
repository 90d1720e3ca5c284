//! `tiendo round open|list|show|entry|submit|reopen|draft|sign`: reporting rounds (issue 16),
//! each subcommand one door of `store.rounds()`, acting as `--as USER`.

use std::path::PathBuf;

use adapters::store::{EntryRecord, NewEntry, RoundView};
use chrono::{NaiveDate, Utc};
use engine::round::{Difficulty, DifficultyKind, DraftSection, Proposal, Signer};
use engine::time::{local_date, parse_date};

use super::{Ctx, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum RoundCmd {
    /// Sở KH&CN mở một đợt báo cáo của kế hoạch: lần thứ mấy, ngày chốt số liệu, văn bản chỉ
    /// đạo, hạn đơn vị gửi báo cáo.
    Open {
        /// Số hiệu kế hoạch, ví dụ 215/KH-UBND.
        #[arg(long, value_name = "SỐ_HIỆU")]
        plan: String,
        /// Đợt báo cáo lần thứ mấy (1, 2, …).
        #[arg(long, value_name = "LẦN")]
        number: u32,
        /// Số liệu tính đến ngày (dd/mm/yyyy hoặc yyyy-mm-dd).
        #[arg(long, value_name = "NGÀY")]
        cut_off: String,
        /// Văn bản chỉ đạo mà báo cáo thực hiện, ví dụ "Thông báo số 620/TB-VP ngày 20/10/2025
        /// của Văn phòng UBND thành phố".
        #[arg(long, value_name = "VĂN_BẢN")]
        instruction: String,
        /// Hạn các đơn vị gửi báo cáo (dd/mm/yyyy hoặc yyyy-mm-dd); đơn vị chưa gửi được nhắc qua
        /// thư trước hạn và báo lên khi quá hạn.
        #[arg(long, value_name = "NGÀY")]
        due: String,
        #[command(flatten)]
        who: Who,
    },
    /// Các đợt báo cáo của một kế hoạch.
    List {
        /// Số hiệu kế hoạch.
        #[arg(long, value_name = "SỐ_HIỆU")]
        plan: String,
        #[command(flatten)]
        who: Who,
    },
    /// Xem một đợt báo cáo: các đơn vị và tình trạng gửi, báo cáo của từng nhiệm vụ; với
    /// --compare, đặt cạnh báo cáo của đợt khác.
    Show {
        /// Số hiệu kế hoạch.
        #[arg(long, value_name = "SỐ_HIỆU")]
        plan: String,
        /// Đợt báo cáo lần thứ mấy.
        #[arg(long, value_name = "LẦN")]
        round: u32,
        /// So sánh với đợt lần này (ví dụ --compare 1).
        #[arg(long, value_name = "LẦN")]
        compare: Option<u32>,
        #[command(flatten)]
        who: Who,
    },
    /// Đơn vị nhập (hoặc sửa) báo cáo của một nhiệm vụ trong đợt: tình hình thực hiện, khó
    /// khăn, đề xuất. Sửa được cho đến khi thủ trưởng đơn vị gửi.
    Entry {
        /// Số hiệu kế hoạch.
        #[arg(long, value_name = "SỐ_HIỆU")]
        plan: String,
        /// Đợt báo cáo lần thứ mấy.
        #[arg(long, value_name = "LẦN")]
        round: u32,
        /// Mã nhiệm vụ.
        #[arg(long, value_name = "MÃ_NHIỆM_VỤ")]
        task: String,
        /// Tình hình thực hiện đến ngày chốt số liệu.
        #[arg(long, value_name = "NỘI_DUNG")]
        progress: String,
        /// Một khó khăn, dạng LOẠI:NỘI_DUNG (lặp lại được). Loại: thu_tuc, kinh_phi,
        /// lua_chon_nha_thau, ky_thuat, nhan_luc, khac.
        #[arg(long = "difficulty", value_name = "LOẠI:NỘI_DUNG")]
        difficulties: Vec<String>,
        /// Một đề xuất, kiến nghị (lặp lại được).
        #[arg(long = "proposal", value_name = "NỘI_DUNG")]
        proposals: Vec<String>,
        /// Văn bản kèm đề xuất cùng thứ tự, ví dụ "Công văn số 123/SYT-KHTC ngày 01/11/2025"
        /// (lặp lại được; "-" khi đề xuất đó không có văn bản).
        #[arg(long = "letter", value_name = "VĂN_BẢN")]
        letters: Vec<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Thủ trưởng đơn vị gửi báo cáo của đơn vị trong đợt; sau khi gửi, đơn vị không sửa được nữa.
    Submit {
        /// Số hiệu kế hoạch.
        #[arg(long, value_name = "SỐ_HIỆU")]
        plan: String,
        /// Đợt báo cáo lần thứ mấy.
        #[arg(long, value_name = "LẦN")]
        round: u32,
        /// Mã đơn vị (mặc định: đơn vị của người gửi).
        #[arg(long, value_name = "MÃ_ĐƠN_VỊ")]
        unit: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Sở KH&CN mở lại báo cáo đã gửi của một đơn vị để đơn vị sửa.
    Reopen {
        /// Số hiệu kế hoạch.
        #[arg(long, value_name = "SỐ_HIỆU")]
        plan: String,
        /// Đợt báo cáo lần thứ mấy.
        #[arg(long, value_name = "LẦN")]
        round: u32,
        /// Mã đơn vị.
        #[arg(long, value_name = "MÃ_ĐƠN_VỊ")]
        unit: String,
        /// Lý do mở lại.
        #[arg(long, value_name = "LÝ_DO")]
        reason: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Sở KH&CN sửa một mục của báo cáo (thay cho nội dung tự sinh): can_cu, tinh_hinh,
    /// kho_khan, de_xuat, noi_nhan.
    Draft {
        /// Số hiệu kế hoạch.
        #[arg(long, value_name = "SỐ_HIỆU")]
        plan: String,
        /// Đợt báo cáo lần thứ mấy.
        #[arg(long, value_name = "LẦN")]
        round: u32,
        /// Mục: can_cu, tinh_hinh, kho_khan, de_xuat, noi_nhan.
        #[arg(long, value_name = "MỤC")]
        section: String,
        /// Nội dung mới của mục.
        #[arg(long, value_name = "NỘI_DUNG", conflicts_with_all = ["file", "clear"])]
        text: Option<String>,
        /// Đọc nội dung từ tệp văn bản (UTF-8).
        #[arg(long, value_name = "TỆP", conflicts_with = "clear")]
        file: Option<PathBuf>,
        /// Bỏ bản sửa, dùng lại nội dung tự sinh.
        #[arg(long)]
        clear: bool,
        #[command(flatten)]
        who: Who,
    },
    /// Sở KH&CN ghi số văn bản ("Số: …/BC-SKHCN") và người ký báo cáo.
    Sign {
        /// Số hiệu kế hoạch.
        #[arg(long, value_name = "SỐ_HIỆU")]
        plan: String,
        /// Đợt báo cáo lần thứ mấy.
        #[arg(long, value_name = "LẦN")]
        round: u32,
        /// Số văn bản, ví dụ 123/BC-SKHCN.
        #[arg(long, value_name = "SỐ")]
        doc_number: Option<String>,
        /// Ký thay, ví dụ "KT. GIÁM ĐỐC" (bỏ trống khi Giám đốc ký).
        #[arg(long, value_name = "KÝ_THAY", default_value = "", requires = "name")]
        on_behalf: String,
        /// Chức vụ người ký, ví dụ "PHÓ GIÁM ĐỐC".
        #[arg(long, value_name = "CHỨC_VỤ", requires = "name")]
        title: Option<String>,
        /// Họ tên người ký.
        #[arg(long, value_name = "HỌ_TÊN", requires = "title")]
        name: Option<String>,
        #[command(flatten)]
        who: Who,
    },
}

#[derive(Debug, clap::Args)]
pub struct Who {
    /// Tên đăng nhập của người thực hiện (quyền và đơn vị của người đó được áp dụng).
    #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
    pub as_user: String,
    /// In kết quả dạng JSON (cho chương trình khác đọc).
    #[arg(long)]
    pub json: bool,
}

fn date(option: &str, s: &str) -> Result<NaiveDate, Failure> {
    parse_date(s).map_err(|e| Failure::usage(format!("{option}: ngày không hợp lệ: {e}")))
}

fn json_out<T: serde::Serialize>(v: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| Failure::refused(format!("cannot encode JSON: {e}")))
}

fn vn(d: NaiveDate) -> String {
    engine::time::format_date(d)
}

fn instant(t: engine::time::Instant) -> String {
    engine::time::format_instant(t)
}

/// `--difficulty LOẠI:NỘI_DUNG`.
fn difficulty(s: &str) -> Result<Difficulty, Failure> {
    let (kind, text) = s.split_once(':').ok_or_else(|| {
        Failure::usage(format!(
            "--difficulty `{s}`: cần dạng LOẠI:NỘI_DUNG, ví dụ kinh_phi:Chưa được bố trí vốn"
        ))
    })?;
    Ok(Difficulty {
        kind: DifficultyKind::parse(kind)
            .map_err(|e| Failure::usage(format!("--difficulty: {e}")))?,
        text: text.to_string(),
    })
}

fn proposals(texts: &[String], letters: &[String]) -> Result<Vec<Proposal>, Failure> {
    if letters.len() > texts.len() {
        return Err(Failure::usage(format!(
            "Có {} --letter nhưng chỉ {} --proposal: mỗi --letter đi kèm một --proposal theo thứ tự.",
            letters.len(),
            texts.len()
        )));
    }
    Ok(texts
        .iter()
        .enumerate()
        .map(|(i, t)| Proposal {
            text: t.clone(),
            letter: letters
                .get(i)
                .map(|l| l.trim())
                .filter(|l| !l.is_empty() && *l != "-")
                .map(str::to_string),
        })
        .collect())
}

fn entry_lines(out: &mut String, e: &EntryRecord, indent: &str) {
    out.push_str(&format!("{indent}Tình hình: {}\n", e.progress));
    for d in &e.difficulties {
        out.push_str(&format!(
            "{indent}Khó khăn ({}): {}\n",
            d.kind.label(),
            d.text
        ));
    }
    for p in &e.proposals {
        match &p.letter {
            Some(l) => out.push_str(&format!("{indent}Đề xuất: {} ({l})\n", p.text)),
            None => out.push_str(&format!("{indent}Đề xuất: {}\n", p.text)),
        }
    }
}

fn show(v: &RoundView) -> String {
    let r = &v.round;
    let mut out = format!(
        "Đợt báo cáo {} — kế hoạch {}\nSố liệu đến ngày {}; đơn vị gửi trước ngày {}\nThực hiện {}\n",
        r.spec.ordinal(),
        r.plan_number,
        vn(r.spec.cut_off),
        vn(r.spec.units_due),
        r.spec.instruction
    );
    if let Some(n) = &r.doc_number {
        out.push_str(&format!("Số: {n}\n"));
    }
    if let Some(s) = &r.signer {
        out.push_str(
            &format!("Người ký: {} {} {}\n", s.on_behalf, s.title, s.name).replace("  ", " "),
        );
    }
    out.push_str("\nĐơn vị:\n");
    for u in &v.units {
        let state = match &u.submitted {
            Some(s) => format!("đã gửi {} ({})", instant(s.submitted_at), s.submitted_by),
            None if u.late => "chưa gửi, quá hạn".into(),
            None => "chưa gửi".into(),
        };
        out.push_str(&format!(
            "  {} ({}): đã nhập {}/{} nhiệm vụ, {state}\n",
            u.unit_name, u.unit_id, u.entered, u.tasks
        ));
    }
    out.push_str("\nBáo cáo theo nhiệm vụ:\n");
    for t in &v.tasks {
        out.push_str(&format!(
            "- {} [{}] ({})\n",
            t.task_name, t.task_id, t.unit_id
        ));
        match (&v.compared, v.entry(&t.task_id)) {
            (Some(c), mine) => {
                out.push_str(&format!("  Lần {}:\n", c.number));
                match c.entries.iter().find(|e| e.task_id == t.task_id) {
                    Some(e) => entry_lines(&mut out, e, "    "),
                    None => out.push_str("    (không có báo cáo)\n"),
                }
                out.push_str(&format!("  Lần {}:\n", r.spec.number));
                match mine {
                    Some(e) => entry_lines(&mut out, e, "    "),
                    None => out.push_str("    (chưa có báo cáo)\n"),
                }
            }
            (None, Some(e)) => entry_lines(&mut out, e, "  "),
            (None, None) => out.push_str("  (chưa có báo cáo)\n"),
        }
    }
    if !v.drafts.is_empty() {
        out.push_str("\nMục Sở KH&CN đã sửa:\n");
        for (k, body) in &v.drafts {
            let label = DraftSection::parse(k).map(|s| s.label()).unwrap_or(k);
            out.push_str(&format!("  {label}: {body}\n"));
        }
    }
    out
}

#[tracing::instrument(name = "round", skip_all)]
pub async fn run(cmd: &RoundCmd, ctx: &Ctx<'_>) -> Result<String, Failure> {
    let store = ctx.store().await?;
    let rounds = store.rounds();
    let now = Utc::now();
    let actor = |who: &Who| {
        let store = store.clone();
        let user = who.as_user.clone();
        async move { store.directory().actor(&user).await }
    };
    match cmd {
        RoundCmd::Open {
            plan,
            number,
            cut_off,
            instruction,
            due,
            who,
        } => {
            let a = actor(who).await?;
            let spec = engine::round::RoundSpec {
                number: *number,
                cut_off: date("--cut-off", cut_off)?,
                instruction: instruction.clone(),
                units_due: date("--due", due)?,
            };
            let r = rounds.open_as(&a, plan, &spec, now).await?;
            if who.json {
                return json_out(&r);
            }
            Ok(format!(
                "Đã mở đợt báo cáo {} của kế hoạch {}: số liệu đến {}, đơn vị gửi trước {}.\n",
                r.spec.ordinal(),
                r.plan_number,
                vn(r.spec.cut_off),
                vn(r.spec.units_due)
            ))
        }
        RoundCmd::List { plan, who } => {
            let a = actor(who).await?;
            let list = rounds.list_as(&a, plan).await?;
            if who.json {
                return json_out(&list);
            }
            if list.is_empty() {
                return Ok(format!("Kế hoạch {plan} chưa có đợt báo cáo nào.\n"));
            }
            let mut out = String::new();
            for r in list {
                out.push_str(&format!(
                    "{}\tsố liệu đến {}\thạn gửi {}\t{}\n",
                    r.spec.ordinal(),
                    vn(r.spec.cut_off),
                    vn(r.spec.units_due),
                    r.spec.instruction
                ));
            }
            Ok(out)
        }
        RoundCmd::Show {
            plan,
            round,
            compare,
            who,
        } => {
            let a = actor(who).await?;
            let v = rounds
                .show_as(&a, plan, *round, *compare, local_date(now))
                .await?;
            if who.json {
                return json_out(&v);
            }
            Ok(show(&v))
        }
        RoundCmd::Entry {
            plan,
            round,
            task,
            progress,
            difficulties,
            proposals: texts,
            letters,
            who,
        } => {
            let a = actor(who).await?;
            let new = NewEntry {
                task_id: task.clone(),
                progress: progress.clone(),
                difficulties: difficulties
                    .iter()
                    .map(|d| difficulty(d))
                    .collect::<Result<_, _>>()?,
                proposals: proposals(texts, letters)?,
            };
            let e = rounds.save_entry_as(&a, plan, *round, &new, now).await?;
            if who.json {
                return json_out(&e);
            }
            Ok(format!(
                "Đã lưu báo cáo đợt lần {round} của nhiệm vụ {} ({} khó khăn, {} đề xuất). Thủ trưởng đơn vị gửi bằng `tiendo round submit`.\n",
                e.task_name,
                e.difficulties.len(),
                e.proposals.len()
            ))
        }
        RoundCmd::Submit {
            plan,
            round,
            unit,
            who,
        } => {
            let a = actor(who).await?;
            let unit = match unit {
                Some(u) => u.clone(),
                None => a.units.first().cloned().ok_or_else(|| {
                    Failure::usage(format!(
                        "Tài khoản `{}` không thuộc đơn vị nào: ghi --unit.",
                        a.user
                    ))
                })?,
            };
            let s = rounds.submit_as(&a, plan, *round, &unit, now).await?;
            if who.json {
                return json_out(&s);
            }
            Ok(format!(
                "Đơn vị {} đã gửi báo cáo đợt lần {round} lúc {}; báo cáo không sửa được nữa (trừ khi Sở KH&CN mở lại).\n",
                s.unit_id,
                instant(s.submitted_at)
            ))
        }
        RoundCmd::Reopen {
            plan,
            round,
            unit,
            reason,
            who,
        } => {
            let a = actor(who).await?;
            rounds
                .reopen_as(&a, plan, *round, unit, reason.as_deref(), now)
                .await?;
            if who.json {
                return json_out(&serde_json::json!({"unit": unit, "reopened": true}));
            }
            Ok(format!(
                "Đã mở lại báo cáo đợt lần {round} của đơn vị {unit}; đơn vị sửa rồi gửi lại.\n"
            ))
        }
        RoundCmd::Draft {
            plan,
            round,
            section,
            text,
            file,
            clear,
            who,
        } => {
            let a = actor(who).await?;
            let section = DraftSection::parse(section).map_err(|e| {
                let mut c = e.chars();
                Failure::usage(match c.next() {
                    Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                    None => e.clone(),
                })
            })?;
            let body = match (text, file, clear) {
                (Some(t), _, _) => Some(t.clone()),
                (None, Some(f), _) => Some(std::fs::read_to_string(f).map_err(|e| {
                    Failure::refused(format!("Không đọc được tệp {}: {e}", f.display()))
                })?),
                (None, None, true) => None,
                (None, None, false) => {
                    return Err(Failure::usage(
                        "Cần --text NỘI_DUNG, --file TỆP hoặc --clear.",
                    ));
                }
            };
            rounds
                .set_draft_as(&a, plan, *round, section, body.as_deref(), now)
                .await?;
            if who.json {
                return json_out(&serde_json::json!({"section": section, "draft": body}));
            }
            Ok(match body {
                Some(_) => format!("Đã lưu nội dung mục «{}».\n", section.label()),
                None => format!(
                    "Đã bỏ bản sửa mục «{}»; báo cáo dùng nội dung tự sinh.\n",
                    section.label()
                ),
            })
        }
        RoundCmd::Sign {
            plan,
            round,
            doc_number,
            on_behalf,
            title,
            name,
            who,
        } => {
            let a = actor(who).await?;
            let signer = match (title, name) {
                (Some(t), Some(n)) => Some(Signer {
                    on_behalf: on_behalf.clone(),
                    title: t.clone(),
                    name: n.clone(),
                }),
                _ => None,
            };
            let r = rounds
                .sign_as(
                    &a,
                    plan,
                    *round,
                    doc_number.as_deref(),
                    signer.as_ref(),
                    now,
                )
                .await?;
            if who.json {
                return json_out(&r);
            }
            let mut out = format!("Đợt báo cáo {}:", r.spec.ordinal());
            if let Some(n) = &r.doc_number {
                out.push_str(&format!(" số {n};"));
            }
            if let Some(s) = &r.signer {
                out.push_str(&format!(" người ký {} {} {}", s.on_behalf, s.title, s.name));
            }
            Ok(out.replace("  ", " ").trim_end_matches(';').to_string() + "\n")
        }
    }
}
