//! `tiendo task …`: the engine, scriptable from the shell, acting as a named user whose roles
//! and unit apply exactly as they will over HTTP.

use std::path::PathBuf;

use adapters::files::FileStore;
use adapters::store::{
    BudgetLine, NewDocument, NewTask, Store, Task, TaskFilter, TransitionRequest,
};
use chrono::Utc;
use engine::Phase;
use engine::decide::Actor;
use engine::domain::FundingSource;
use engine::money::{format_million_vnd, parse_million_vnd};
use engine::time::{Instant, format_instant, parse_date};
use engine::wording::TimeLeft;

use super::{Ctx, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum TaskCmd {
    /// Propose a task in a plan.
    Create {
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        /// The plan's number, such as 215/KH-UBND.
        #[arg(long)]
        plan: String,
        /// The owning unit's id.
        #[arg(long)]
        unit: String,
        #[arg(long)]
        name: String,
        /// thuong_xuyen | hoan_thanh_2025_cntt | hoan_thanh_2025_quy_phat_trien | su_nghiep_cntt | dau_tu_cong
        #[arg(long)]
        funding: String,
        /// The workflow: mua-sam | thue-dich-vu | bao-cao-ktkt | dau-tu-cong (or a city's own).
        #[arg(long)]
        kind: String,
        /// Implementation period as printed, e.g. "2025-2026" or "Thuê dịch vụ 03 năm (2024-2026)".
        #[arg(long)]
        period: Option<String>,
        /// The task rents an IT service.
        #[arg(long)]
        rental: bool,
        /// Budget year of the amounts below (default: the plan's year).
        #[arg(long)]
        budget_year: Option<i32>,
        /// Total need, million VND (6500, 526,2 or 1.234,5).
        #[arg(long)]
        need_total: Option<String>,
        /// Approved estimate, million VND.
        #[arg(long)]
        approved_estimate: Option<String>,
        /// Need for the budget year, million VND.
        #[arg(long)]
        need_year: Option<String>,
        /// Allocated for the budget year, million VND.
        #[arg(long)]
        allocated_year: Option<String>,
        #[arg(long)]
        idempotency_key: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List tasks the user may see.
    List {
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        #[arg(long)]
        plan: Option<String>,
        #[arg(long)]
        unit: Option<String>,
        /// A backbone phase, e.g. appraisal.
        #[arg(long)]
        phase: Option<String>,
        #[arg(long)]
        state: Option<String>,
        /// Only tasks whose current deadline has passed.
        #[arg(long)]
        overdue: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show a task: current step, deadline, and the transitions available to the user.
    Show {
        task: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// Take a transition.
    Transition {
        task: String,
        transition: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        #[arg(long)]
        comment: Option<String>,
        /// Ids of the task's documents to attach (repeat for several).
        #[arg(long = "document")]
        documents: Vec<String>,
        /// Refuse if the task is no longer at this version (like HTTP If-Match).
        #[arg(long)]
        if_version: Option<i64>,
        /// Replaying the same key returns the first outcome and changes nothing.
        #[arg(long)]
        idempotency_key: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Attach a document file to a task (stored under the data directory, sha256 recorded).
    Attach {
        task: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        /// The document type, as declared by the task's workflow (e.g. thuyet_minh_du_toan).
        #[arg(long = "type")]
        doc_type: String,
        #[arg(long)]
        file: PathBuf,
        /// Number/symbol, e.g. "240/CCTĐC-QLĐL".
        #[arg(long)]
        number: Option<String>,
        /// Date of the document.
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        issuer: Option<String>,
        /// Where stored files go.
        #[arg(long, env = "TIENDO_DATA_DIR", default_value = "tiendo-data")]
        data_dir: PathBuf,
    },
}

fn money(s: &Option<String>) -> Result<Option<i64>, Failure> {
    s.as_deref()
        .map(|t| {
            parse_million_vnd(t).map_err(|e| Failure::usage(format!("Số tiền không hợp lệ: {e}")))
        })
        .transpose()
}

fn json_out<T: serde::Serialize>(v: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| Failure::refused(format!("cannot encode JSON: {e}")))
}

/// Where a task's deadline stands at `now`, in the words of `engine::wording`.
fn time_left(store: &Store, task: &Task, now: Instant) -> Option<TimeLeft> {
    let clock = task.clock.as_ref().or(task.paused_clock.as_ref())?;
    let wf = store.catalog().get(&task.workflow, task.workflow_version);
    Some(engine::wording::time_left(
        wf.map(|w| w.as_ref()),
        clock,
        now,
    ))
}

pub async fn run(cmd: &TaskCmd, ctx: &Ctx<'_>) -> Result<String, Failure> {
    let store = ctx.store().await?;
    let now = Utc::now();
    match cmd {
        TaskCmd::Create {
            as_user,
            plan,
            unit,
            name,
            funding,
            kind,
            period,
            rental,
            budget_year,
            need_total,
            approved_estimate,
            need_year,
            allocated_year,
            idempotency_key,
            json,
        } => {
            let actor = store.actor(as_user).await?;
            let funding_source: FundingSource = funding.parse().map_err(Failure::usage)?;
            let plan_year = store.plan(plan).await?.year;
            let line = BudgetLine {
                year: budget_year.unwrap_or(plan_year),
                need_total_vnd: money(need_total)?,
                approved_estimate_vnd: money(approved_estimate)?,
                need_year_vnd: money(need_year)?,
                allocated_year_vnd: money(allocated_year)?,
            };
            let has_money = line.need_total_vnd.is_some()
                || line.approved_estimate_vnd.is_some()
                || line.need_year_vnd.is_some()
                || line.allocated_year_vnd.is_some();
            let new = NewTask {
                plan: plan.clone(),
                unit_id: unit.clone(),
                name: name.clone(),
                funding_source,
                kind: kind.clone(),
                period: period.clone(),
                is_rental: *rental,
                budget: if has_money { vec![line] } else { Vec::new() },
            };
            let o = store
                .create_task(&new, &actor, idempotency_key.as_deref(), now)
                .await?;
            if *json {
                return json_out(&o);
            }
            Ok(format!(
                "{}\nĐã tạo nhiệm vụ ở bước {} (phiên bản {})\n",
                o.task_id, o.state, o.version
            ))
        }
        TaskCmd::List {
            as_user,
            plan,
            unit,
            phase,
            state,
            overdue,
            json,
        } => {
            let actor = store.actor(as_user).await?;
            let phase = phase
                .as_deref()
                .map(|p| {
                    p.parse::<Phase>()
                        .map_err(|e| Failure::usage(e.to_string()))
                })
                .transpose()?;
            let filter = TaskFilter {
                plan: plan.clone(),
                unit: unit.clone(),
                phase,
                state: state.clone(),
                overdue_at: overdue.then_some(now),
                ..TaskFilter::default()
            };
            let tasks: Vec<Task> = store.list_tasks_for(&filter, &actor, now).await?;
            if *json {
                return json_out(&tasks);
            }
            Ok(list_table(&store, &tasks, now))
        }
        TaskCmd::Show {
            task,
            as_user,
            json,
        } => {
            let actor = store.actor(as_user).await?;
            let t = store.task_for(task, &actor).await?;
            if *json {
                let available = store.available(&t, &actor)?;
                return json_out(&serde_json::json!({ "task": t, "available": available }));
            }
            show(&store, &t, &actor, now).await
        }
        TaskCmd::Transition {
            task,
            transition,
            as_user,
            comment,
            documents,
            if_version,
            idempotency_key,
            json,
        } => {
            let actor = store.actor(as_user).await?;
            store.task_for(task, &actor).await?;
            let req = TransitionRequest {
                task_id: task.clone(),
                transition: transition.clone(),
                comment: comment.clone(),
                document_ids: documents.clone(),
                expected_version: *if_version,
                idempotency_key: idempotency_key.clone(),
                automatic: false,
            };
            let o = store.transition(&req, &actor, now).await?;
            if *json {
                return json_out(&o);
            }
            let t = store.task(&o.task_id).await?;
            let title = store
                .catalog()
                .get(&t.workflow, t.workflow_version)
                .and_then(|w| w.state(&t.state).map(|s| s.title.clone()))
                .unwrap_or_default();
            Ok(format!(
                "{}Nhiệm vụ chuyển sang bước «{title}» ({}), giai đoạn {}; phiên bản {}\n",
                if o.replayed {
                    "(yêu cầu đã được thực hiện trước đó; không thay đổi gì)\n"
                } else {
                    ""
                },
                o.state,
                o.phase.title(),
                o.version
            ))
        }
        TaskCmd::Attach {
            task,
            as_user,
            doc_type,
            file,
            number,
            date,
            issuer,
            data_dir,
        } => {
            let actor = store.actor(as_user).await?;
            store.task_for(task, &actor).await?;
            let bytes = std::fs::read(file).map_err(|e| {
                Failure::refused(format!("Không đọc được tệp {}: {e}", file.display()))
            })?;
            let stored = FileStore::new(data_dir).put(&bytes).map_err(|e| {
                Failure::refused(format!(
                    "Không lưu được tệp vào {}: {e}",
                    data_dir.display()
                ))
            })?;
            let issued_on = date
                .as_deref()
                .map(|d| {
                    parse_date(d).map_err(|e| Failure::usage(format!("Ngày không hợp lệ: {e}")))
                })
                .transpose()?;
            let doc = store
                .add_document(
                    &NewDocument {
                        task_id: task.clone(),
                        doc_type: doc_type.clone(),
                        number: number.clone(),
                        issued_on,
                        issuer: issuer.clone(),
                        file_name: file
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        size_bytes: stored.size,
                        sha256: stored.sha256,
                        stored_path: stored.path.display().to_string(),
                    },
                    &actor,
                    now,
                )
                .await?;
            Ok(format!(
                "{}\nĐã đính kèm {} ({} byte, sha256 {})\n",
                doc.id, doc.file_name, doc.size_bytes, doc.sha256
            ))
        }
    }
}

fn list_table(store: &Store, tasks: &[Task], now: Instant) -> String {
    let mut out = String::new();
    for t in tasks {
        let deadline = match (t.due_at, time_left(store, t, now)) {
            (Some(due), Some(left)) => format!("hạn {} ({left})", format_instant(due)),
            _ => "—".into(),
        };
        out.push_str(&format!(
            "{}  {:<12} {:<26} {:<34} {}\n    {}\n",
            t.id, t.workflow, t.state, t.unit_id, deadline, t.name
        ));
    }
    if tasks.is_empty() {
        out.push_str("Không có nhiệm vụ nào.\n");
    }
    out
}

async fn show(store: &Store, t: &Task, actor: &Actor, now: Instant) -> Result<String, Failure> {
    let wf = store
        .catalog()
        .get(&t.workflow, t.workflow_version)
        .ok_or_else(|| {
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
    if let Some(s) = state
        && !s.roles.is_empty()
    {
        let roles: Vec<&str> = s.roles.iter().map(|r| r.title()).collect();
        out.push_str(&format!("Lượt xử lý:    {}\n", roles.join(", ")));
    }
    match (&t.clock, time_left(store, t, now)) {
        (Some(c), Some(left)) => out.push_str(&format!(
            "Thời hạn:      {} ({left})\n",
            format_instant(c.due_at)
        )),
        (None, Some(left)) => out.push_str(&format!("Thời hạn:      {left}\n")),
        (_, None) => out.push_str("Thời hạn:      không có\n"),
    }
    out.push_str(&format!("Phiên bản:     {}\n", t.version));
    for b in store.budget(&t.id).await? {
        let m = |v: Option<i64>| {
            v.map(|x| format_million_vnd(x, 1))
                .unwrap_or_else(|| "—".into())
        };
        out.push_str(&format!(
            "Kinh phí {}:  nhu cầu {}; dự toán duyệt {}; nhu cầu năm {}; đã phân bổ {} (triệu đồng)\n",
            b.year,
            m(b.need_total_vnd),
            m(b.approved_estimate_vnd),
            m(b.need_year_vnd),
            m(b.allocated_year_vnd)
        ));
    }
    let docs = store.documents(&t.id).await?;
    if !docs.is_empty() {
        out.push_str("Tài liệu:\n");
        for d in docs {
            out.push_str(&format!(
                "  {}  {}  {}{}\n",
                d.id,
                d.doc_type,
                d.file_name,
                d.number.map(|n| format!(" (số {n})")).unwrap_or_default()
            ));
        }
    }
    let available = store.available(t, actor)?;
    if available.is_empty() {
        out.push_str("Không còn bước chuyển nào (nhiệm vụ đã kết thúc).\n");
    } else {
        out.push_str(&format!("Các bước chuyển (với {}):\n", actor.user));
        for a in available {
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
