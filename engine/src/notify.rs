//! The words of every email tiendo sends, in Vietnamese: subject, plain text and HTML.
//!
//! Pure: the relay (adapters) gathers a [`TaskView`] per task at sending time and hands it here.
//! A message names the step its event recorded (the state a transition entered, the state whose
//! deadline fired), not wherever the task happens to be when the message leaves: a message sent
//! late (a backlog, an SMTP outage, two transitions in one pass) says so in a separate line,
//! "hiện đã chuyển sang bước X" ([`TaskView::moved_to`]).

use std::fmt::Write as _;

use crate::html::escape;
use crate::role::Role;
use crate::time::{Instant, format_date, local_date, vn};
use crate::wording::TimeLeft;

/// A task as a message shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    pub id: String,
    pub name: String,
    pub unit_name: String,
    pub state_title: String,
    /// The round of the current step within the current review (1 for the first).
    pub round: u32,
    pub phase_title: String,
    /// Whose turn it is.
    pub turn_roles: Vec<Role>,
    pub due_at: Option<Instant>,
    /// Where the deadline stands at sending time, worded by [`crate::wording`]; `None` when
    /// there is none.
    pub time_left: Option<TimeLeft>,
    /// The deadline has passed (possibly by less than a working day).
    pub overdue: bool,
    /// Whose limit the deadline is ("thời hạn luật định: Thông tư 03/2020/TT-BTTTT", "mục tiêu
    /// nội bộ"), from the step's declared deadline; `None` without one.
    pub deadline_kind: Option<String>,
    /// Working days since the task last moved.
    pub idle_working_days: Option<i64>,
    pub link: String,
    /// The step the task is at when the message is sent, when it has left the step the
    /// message is about (`state_title`).
    pub moved_to: Option<String>,
    /// The year-end forecast's flag last raised for the task, in words ("không thể hoàn thành
    /// đúng hạn: sớm nhất 19/01/2026, hạn 31/12/2025"), for UBND's weekly digest.
    pub forecast: Option<String>,
}

/// What happened, by template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The task arrived at a step; it is the recipients' turn.
    Turn {
        task: TaskView,
        comment: Option<String>,
        actor: Option<String>,
    },
    /// UBND is told a unit proposes to postpone or withdraw a task (with its letter).
    Proposal {
        task: TaskView,
        /// "Đề xuất rút khỏi kế hoạch (văn bản số … ngày …)".
        proposal: String,
        comment: Option<String>,
        actor: Option<String>,
    },
    /// The unit is told its task moved on.
    Progress {
        task: TaskView,
        comment: Option<String>,
    },
    /// A reminder before the deadline; `missed` earlier reminders were folded into it.
    Reminder {
        task: TaskView,
        missed: u32,
    },
    /// The deadline has come (or passed, after downtime).
    Due {
        task: TaskView,
        missed: u32,
    },
    Overdue {
        task: TaskView,
        missed: u32,
    },
    /// Leadership is told a deadline was missed.
    Escalation {
        task: TaskView,
    },
    /// Leadership and the unit head are told a task has not moved.
    Stalled {
        task: TaskView,
    },
    /// The year-end forecast flags a task: it cannot finish by its due date even with every
    /// step at its legal minimum, or is at risk at typical durations (issue 17).
    ForecastFlag {
        task: TaskView,
        /// `cannot_finish` or `at_risk`.
        cannot_finish: bool,
        /// `Forecast::summary`: the verdict, the three dates and the binding step.
        summary: String,
        /// "Có đường ngắn hơn: …", when there is one.
        shorter_path: Option<String>,
    },
    /// The morning list of a unit's tasks that need its action.
    UnitDigest {
        unit_name: String,
        date: chrono::NaiveDate,
        tasks: Vec<TaskView>,
    },
    /// The weekly list of stalled and overdue tasks, by unit.
    UbndDigest {
        date: chrono::NaiveDate,
        groups: Vec<(String, Vec<TaskView>)>,
    },
    /// A unit has not submitted its entries for a reporting round (issue 16): reminded before
    /// the units' due date, on it, after it; SKHCN hears of it after it ([`RoundStage::Escalation`]).
    Round {
        stage: RoundStage,
        round: RoundNotice,
    },
}

/// Where a unit's late submission stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundStage {
    Reminder,
    Due,
    Overdue,
    Escalation,
}

impl RoundStage {
    /// The outbox template: `round.reminder`, `round.due`, `round.overdue`, `round.escalation`.
    pub fn template(self) -> &'static str {
        match self {
            RoundStage::Reminder => "round.reminder",
            RoundStage::Due => "round.due",
            RoundStage::Overdue => "round.overdue",
            RoundStage::Escalation => "round.escalation",
        }
    }

    pub fn from_template(t: &str) -> Option<RoundStage> {
        [
            RoundStage::Reminder,
            RoundStage::Due,
            RoundStage::Overdue,
            RoundStage::Escalation,
        ]
        .into_iter()
        .find(|s| s.template() == t)
    }
}

/// A reporting round and one unit's part in it, as the reminder shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundNotice {
    pub plan_number: String,
    /// The round's number ("lần 2").
    pub number: u32,
    pub instruction: String,
    pub cut_off: chrono::NaiveDate,
    pub units_due: chrono::NaiveDate,
    pub unit_name: String,
    /// Tasks of the unit with an entry, of its tasks in the plan.
    pub entered: u32,
    pub tasks: u32,
}

fn round_doc(stage: RoundStage, r: &RoundNotice) -> Doc {
    let due = format_date(r.units_due);
    let what = format!("báo cáo đợt lần {} kế hoạch {}", r.number, r.plan_number);
    let (subject, intro, todo) = match stage {
        RoundStage::Reminder => (
            format!("Nhắc gửi {what}: hạn ngày {due}"),
            format!("{} chưa gửi {what}; hạn gửi là ngày {due}.", r.unit_name),
            "Cán bộ đơn vị nhập tình hình thực hiện, khó khăn và đề xuất của từng nhiệm vụ; thủ trưởng đơn vị gửi báo cáo trước hạn.".to_string(),
        ),
        RoundStage::Due => (
            format!("Hôm nay là hạn gửi {what}"),
            format!("{} chưa gửi {what}; hôm nay ({due}) là hạn gửi.", r.unit_name),
            "Thủ trưởng đơn vị gửi báo cáo trong hôm nay.".to_string(),
        ),
        RoundStage::Overdue => (
            format!("Quá hạn gửi {what} (hạn {due})"),
            format!("{} chưa gửi {what}, đã quá hạn ngày {due}.", r.unit_name),
            "Thủ trưởng đơn vị gửi báo cáo ngay; Sở Khoa học và Công nghệ đã được báo.".to_string(),
        ),
        RoundStage::Escalation => (
            format!("{} quá hạn gửi {what}", r.unit_name),
            format!(
                "{} chưa gửi {what}, đã quá hạn ngày {due}.",
                r.unit_name
            ),
            "Đôn đốc đơn vị gửi báo cáo, hoặc lập báo cáo không có phần của đơn vị.".to_string(),
        ),
    };
    Doc {
        subject,
        intro,
        lines: vec![
            format!("Kế hoạch: {}", r.plan_number),
            format!(
                "Đợt báo cáo: lần {} (thực hiện {})",
                r.number, r.instruction
            ),
            format!("Số liệu tính đến ngày: {}", format_date(r.cut_off)),
            format!("Hạn đơn vị gửi báo cáo: {due}"),
            format!("Đơn vị: {}", r.unit_name),
            format!("Đã nhập: {}/{} nhiệm vụ", r.entered, r.tasks),
        ],
        todo,
        link: None,
        list: Vec::new(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn roles(r: &[Role]) -> String {
    r.iter().map(|r| r.title()).collect::<Vec<_>>().join(", ")
}

fn deadline_line(t: &TaskView) -> Option<String> {
    let due = t.due_at?;
    let left = t
        .time_left
        .as_ref()
        .map(|l| format!(" ({l})"))
        .unwrap_or_default();
    let time = due.with_timezone(&vn()).format("%H:%M");
    Some(format!(
        "Thời hạn: {time} ngày {}{left}",
        format_date(local_date(due))
    ))
}

/// Lines describing a task, shared by every per-task message.
fn task_lines(t: &TaskView) -> Vec<String> {
    let mut lines = vec![
        format!("Nhiệm vụ: {}", t.name),
        format!("Đơn vị chủ trì: {}", t.unit_name),
        format!(
            "{}: {}{} (giai đoạn {})",
            if t.moved_to.is_some() {
                "Bước"
            } else {
                "Bước hiện tại"
            },
            t.state_title,
            crate::decide::round_label(t.round)
                .map(|l| format!(", {l}"))
                .unwrap_or_default(),
            t.phase_title
        ),
    ];
    if let Some(d) = deadline_line(t) {
        lines.push(d);
        if let Some(k) = &t.deadline_kind {
            lines.push(format!("Loại thời hạn: {k}"));
        }
    }
    match &t.moved_to {
        None if !t.turn_roles.is_empty() => {
            lines.push(format!("Đang chờ: {}", roles(&t.turn_roles)));
        }
        None => {}
        Some(now_at) => lines.push(format!(
            "Nhiệm vụ hiện đã chuyển sang bước «{now_at}» (thư này được gửi sau khi nhiệm vụ chuyển tiếp)."
        )),
    }
    lines
}

struct Doc {
    subject: String,
    intro: String,
    lines: Vec<String>,
    todo: String,
    link: Option<String>,
    list: Vec<(String, Vec<String>)>,
}

impl Doc {
    fn render(self) -> Rendered {
        let mut text = format!("{}\n\n", self.intro);
        for l in &self.lines {
            let _ = writeln!(text, "{l}");
        }
        for (heading, items) in &self.list {
            let _ = writeln!(text, "\n{heading}");
            for i in items {
                let _ = writeln!(text, "  - {i}");
            }
        }
        let _ = write!(text, "\nViệc cần làm: {}\n", self.todo);
        if let Some(l) = &self.link {
            let _ = writeln!(text, "Xem nhiệm vụ: {l}");
        }
        text.push_str("\n--\nHệ thống theo dõi tiến độ nhiệm vụ CNTT (tiendo), thành phố Hải Phòng.\nThư gửi tự động, vui lòng không trả lời thư này.\n");

        let mut html = String::from(
            "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">",
        );
        let _ = write!(html, "<p>{}</p><ul>", escape(&self.intro));
        for l in &self.lines {
            let _ = write!(html, "<li>{}</li>", escape(l));
        }
        html.push_str("</ul>");
        for (heading, items) in &self.list {
            let _ = write!(html, "<h3>{}</h3><ul>", escape(heading));
            for i in items {
                let _ = write!(html, "<li>{}</li>", escape(i));
            }
            html.push_str("</ul>");
        }
        let _ = write!(
            html,
            "<p><strong>Việc cần làm:</strong> {}</p>",
            escape(&self.todo)
        );
        if let Some(l) = &self.link {
            let _ = write!(
                html,
                "<p><a href=\"{0}\">Xem nhiệm vụ</a> ({0})</p>",
                escape(l)
            );
        }
        html.push_str("<hr><p style=\"color:#666\">Hệ thống theo dõi tiến độ nhiệm vụ CNTT (tiendo), thành phố Hải Phòng. Thư gửi tự động, vui lòng không trả lời thư này.</p></body></html>");
        Rendered {
            subject: self.subject,
            text,
            html,
        }
    }
}

fn missed_line(missed: u32) -> Option<String> {
    (missed > 0)
        .then(|| format!("(Gộp {missed} lời nhắc trước đó chưa gửi được do hệ thống tạm ngừng.)"))
}

fn digest_item(t: &TaskView) -> String {
    let mut s = format!("{} — {} — {}", t.name, t.unit_name, t.state_title);
    if let (Some(due), Some(left)) = (t.due_at, &t.time_left) {
        let _ = write!(s, " — hạn {} ({left})", format_date(local_date(due)));
    }
    if let Some(idle) = t.idle_working_days {
        let _ = write!(s, " — {idle} ngày làm việc chưa chuyển bước");
    }
    if let Some(f) = &t.forecast {
        let _ = write!(s, " — dự báo: {f}");
    }
    let _ = write!(s, " — {}", t.link);
    s
}

/// Renders a message. Subjects are plain UTF-8; the mail layer encodes them.
pub fn render(message: &Message) -> Rendered {
    match message {
        Message::Round { stage, round } => round_doc(*stage, round).render(),
        Message::Turn {
            task,
            comment,
            actor,
        } => {
            let mut lines = task_lines(task);
            if let Some(c) = comment {
                lines.push(format!(
                    "Ý kiến kèm theo{}: {c}",
                    actor
                        .as_ref()
                        .map(|a| format!(" của {a}"))
                        .unwrap_or_default()
                ));
            }
            let round = crate::decide::round_label(task.round)
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            Doc {
                subject: format!("[tiendo] Đến lượt xử lý{round}: {}", task.name),
                intro: format!(
                    "Nhiệm vụ «{}» đã chuyển sang bước «{}»{round}.",
                    task.name, task.state_title
                ),
                lines,
                todo: format!("xử lý bước «{}» trong thời hạn.", task.state_title),
                link: Some(task.link.clone()),
                list: Vec::new(),
            }
            .render()
        }
        Message::Proposal {
            task,
            proposal,
            comment,
            actor,
        } => {
            let mut lines = task_lines(task);
            lines.push(format!(
                "{proposal}{}",
                actor
                    .as_ref()
                    .map(|a| format!(", do {a} gửi"))
                    .unwrap_or_default()
            ));
            if let Some(c) = comment {
                lines.push(format!("Ý kiến kèm theo: {c}"));
            }
            Doc {
                subject: format!("[tiendo] Đơn vị đề xuất, chờ UBND quyết định: {}", task.name),
                intro: format!(
                    "Đơn vị chủ trì nhiệm vụ «{}» đề xuất; đề xuất chờ UBND thành phố quyết định. Nhiệm vụ vẫn ở bước «{}» cho đến khi có quyết định.",
                    task.name, task.state_title
                ),
                lines,
                todo: "chấp thuận (tiendo task accept-proposal) hoặc không chấp thuận (tiendo task refuse-proposal) đề xuất.".into(),
                link: Some(task.link.clone()),
                list: Vec::new(),
            }
            .render()
        }
        Message::Progress { task, comment } => {
            let mut lines = task_lines(task);
            if let Some(c) = comment {
                lines.push(format!("Ý kiến kèm theo: {c}"));
            }
            Doc {
                subject: format!("[tiendo] Nhiệm vụ chuyển bước: {}", task.name),
                intro: format!(
                    "Nhiệm vụ «{}» của đơn vị đã chuyển sang bước «{}».",
                    task.name, task.state_title
                ),
                lines,
                todo: "theo dõi; đơn vị chưa cần thao tác ở bước này.".into(),
                link: Some(task.link.clone()),
                list: Vec::new(),
            }
            .render()
        }
        Message::Reminder { task, missed } => {
            let left = task
                .time_left
                .as_ref()
                .map(TimeLeft::to_string)
                .unwrap_or_else(|| "sắp đến hạn".into());
            let mut lines = task_lines(task);
            lines.extend(missed_line(*missed));
            Doc {
                subject: format!("[tiendo] Nhắc hạn ({left}): {}", task.name),
                intro: format!(
                    "Bước «{}» của nhiệm vụ «{}» {left}.",
                    task.state_title, task.name
                ),
                lines,
                todo: format!("hoàn thành bước «{}» trước thời hạn.", task.state_title),
                link: Some(task.link.clone()),
                list: Vec::new(),
            }
            .render()
        }
        Message::Due { task, missed } | Message::Overdue { task, missed } => {
            let late = task.overdue;
            let left = task
                .time_left
                .as_ref()
                .map(TimeLeft::to_string)
                .unwrap_or_else(|| "đã đến hạn".into());
            let mut lines = task_lines(task);
            lines.extend(missed_line(*missed));
            Doc {
                subject: if late {
                    format!("[tiendo] Quá hạn ({left}): {}", task.name)
                } else {
                    format!("[tiendo] Đến hạn: {}", task.name)
                },
                intro: if late {
                    format!(
                        "Bước «{}» của nhiệm vụ «{}»: {left}.",
                        task.state_title, task.name
                    )
                } else {
                    format!(
                        "Bước «{}» của nhiệm vụ «{}» đến hạn.",
                        task.state_title, task.name
                    )
                },
                lines,
                todo: format!(
                    "hoàn thành ngay bước «{}» hoặc báo cáo lý do chậm.",
                    task.state_title
                ),
                link: Some(task.link.clone()),
                list: Vec::new(),
            }
            .render()
        }
        Message::Escalation { task } => {
            let left = task
                .time_left
                .as_ref()
                .map(TimeLeft::to_string)
                .unwrap_or_else(|| "quá hạn".into());
            Doc {
                subject: format!("[tiendo] Báo cáo chậm tiến độ ({left}): {}", task.name),
                intro: format!(
                    "Bước «{}» của nhiệm vụ «{}» ({}): {left}.",
                    task.state_title, task.name, task.unit_name
                ),
                lines: task_lines(task),
                todo: format!(
                    "chỉ đạo, đôn đốc {} hoàn thành bước này.",
                    roles(&task.turn_roles)
                ),
                link: Some(task.link.clone()),
                list: Vec::new(),
            }
            .render()
        }
        Message::Stalled { task } => {
            let idle = task.idle_working_days.unwrap_or_default();
            Doc {
                subject: format!("[tiendo] Nhiệm vụ chậm: {} ({idle} ngày làm việc chưa chuyển bước)", task.name),
                intro: format!(
                    "Nhiệm vụ «{}» ({}) đã {idle} ngày làm việc chưa chuyển bước, đang ở bước «{}».",
                    task.name, task.unit_name, task.state_title
                ),
                lines: task_lines(task),
                todo: format!("đôn đốc {} xử lý hoặc báo cáo vướng mắc.", roles(&task.turn_roles)),
                link: Some(task.link.clone()),
                list: Vec::new(),
            }
            .render()
        }
        Message::ForecastFlag {
            task,
            cannot_finish,
            summary,
            shorter_path,
        } => {
            let what = if *cannot_finish {
                "không thể hoàn thành đúng hạn"
            } else {
                "có nguy cơ không hoàn thành đúng hạn"
            };
            let mut lines = task_lines(task);
            lines.push(format!("Dự báo: {summary}"));
            lines.extend(shorter_path.clone());
            Doc {
                subject: format!("[tiendo] Dự báo {what}: {}", task.name),
                intro: format!(
                    "Theo dự báo trên thời hạn tối thiểu luật định và lịch ngày làm việc, nhiệm vụ «{}» ({}) {what}.",
                    task.name, task.unit_name
                ),
                lines,
                todo: if *cannot_finish {
                    "xem xét đề xuất chuyển nguồn sang năm sau hoặc đề nghị giãn sang kế hoạch năm sau; chỉ đạo rút ngắn các bước còn lại nếu có thể.".into()
                } else {
                    "đôn đốc các bước còn lại để kịp hạn; theo dõi dự báo.".into()
                },
                link: Some(task.link.clone()),
                list: Vec::new(),
            }
            .render()
        }
        Message::UnitDigest {
            unit_name,
            date,
            tasks,
        } => Doc {
            subject: format!(
                "[tiendo] {} nhiệm vụ cần xử lý — {unit_name} — {}",
                tasks.len(),
                format_date(*date)
            ),
            intro: format!(
                "Danh sách nhiệm vụ của {unit_name} đang chờ đơn vị xử lý, ngày {}.",
                format_date(*date)
            ),
            lines: Vec::new(),
            todo: "xử lý các nhiệm vụ trên, ưu tiên nhiệm vụ sắp đến hạn hoặc quá hạn.".into(),
            link: None,
            list: vec![(
                "Nhiệm vụ cần xử lý".into(),
                tasks.iter().map(digest_item).collect(),
            )],
        }
        .render(),
        Message::UbndDigest { date, groups } => {
            let total: usize = groups.iter().map(|(_, t)| t.len()).sum();
            Doc {
                subject: format!(
                    "[tiendo] Tổng hợp tuần {}: {total} nhiệm vụ chậm, quá hạn",
                    format_date(*date)
                ),
                intro: format!(
                    "Tổng hợp các nhiệm vụ chậm tiến độ và quá hạn đến ngày {}, theo đơn vị.",
                    format_date(*date)
                ),
                lines: Vec::new(),
                todo: "chỉ đạo các đơn vị có nhiệm vụ chậm, quá hạn.".into(),
                link: None,
                list: groups
                    .iter()
                    .map(|(unit, tasks)| {
                        (
                            format!("{unit} ({} nhiệm vụ)", tasks.len()),
                            tasks.iter().map(digest_item).collect(),
                        )
                    })
                    .collect(),
            }
            .render()
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_late_units_round_reminder_names_the_round_the_due_date_and_what_is_entered() {
        let round = RoundNotice {
            plan_number: "215/KH-UBND".into(),
            number: 2,
            instruction: "Thông báo số 620/TB-VP".into(),
            cut_off: chrono::NaiveDate::from_ymd_opt(2025, 11, 5).unwrap(),
            units_due: chrono::NaiveDate::from_ymd_opt(2025, 11, 3).unwrap(),
            unit_name: "Sở Y tế".into(),
            entered: 1,
            tasks: 3,
        };
        let r = render(&Message::Round {
            stage: RoundStage::Reminder,
            round: round.clone(),
        });
        assert!(
            r.subject.contains("lần 2") && r.subject.contains("03/11/2025"),
            "{}",
            r.subject
        );
        assert!(
            r.text.contains("Đã nhập: 1/3 nhiệm vụ") && r.text.contains("05/11/2025"),
            "{}",
            r.text
        );
        let e = render(&Message::Round {
            stage: RoundStage::Escalation,
            round,
        });
        assert!(e.subject.starts_with("Sở Y tế quá hạn"), "{}", e.subject);
        for s in [
            "round.reminder",
            "round.due",
            "round.overdue",
            "round.escalation",
        ] {
            assert_eq!(
                RoundStage::from_template(s).map(RoundStage::template),
                Some(s)
            );
        }
    }

    use super::*;
    use crate::time::parse_instant;

    fn view() -> TaskView {
        TaskView {
            id: "t1".into(),
            name: "Triển khai <Cổng> thông tin".into(),
            unit_name: "Sở Y tế".into(),
            state_title: "Sở Tài chính thẩm định".into(),
            round: 2,
            phase_title: "Thẩm định".into(),
            turn_roles: vec![Role::SoTaiChinh],
            due_at: Some(parse_instant("2026-03-23T23:59:59+07:00").unwrap()),
            time_left: Some(TimeLeft::Running {
                working_days: -2,
                days: -2,
                counting: crate::wording::Counting::WorkingDays,
                passed: true,
                today: false,
            }),
            overdue: true,
            deadline_kind: Some("thời hạn luật định: Thông tư 03/2020/TT-BTTTT".into()),
            idle_working_days: Some(12),
            link: "https://tiendo.haiphong.gov.vn/tasks/t1".into(),
            moved_to: None,
            forecast: None,
        }
    }

    #[test]
    fn a_late_message_names_its_own_step_and_where_the_task_is_now() {
        let task = TaskView {
            moved_to: Some("Đơn vị bổ sung hồ sơ".into()),
            ..view()
        };
        let r = render(&Message::Turn {
            task,
            comment: None,
            actor: None,
        });
        assert!(
            r.text.contains("chuyển sang bước «Sở Tài chính thẩm định»"),
            "{}",
            r.text
        );
        assert!(
            r.text.contains("Bước: Sở Tài chính thẩm định"),
            "{}",
            r.text
        );
        assert!(!r.text.contains("Bước hiện tại"), "{}", r.text);
        assert!(!r.text.contains("Đang chờ"), "{}", r.text);
        assert!(
            r.text
                .contains("hiện đã chuyển sang bước «Đơn vị bổ sung hồ sơ»"),
            "{}",
            r.text
        );
        assert!(
            r.html
                .contains("hiện đã chuyển sang bước «Đơn vị bổ sung hồ sơ»")
        );
    }

    #[test]
    fn overdue_mail_states_how_late_and_what_to_do() {
        let r = render(&Message::Overdue {
            task: view(),
            missed: 3,
        });
        assert_eq!(
            r.subject,
            "[tiendo] Quá hạn (quá hạn 2 ngày làm việc): Triển khai <Cổng> thông tin"
        );
        assert!(
            r.text
                .contains("Thời hạn: 23:59 ngày 23/03/2026 (quá hạn 2 ngày làm việc)"),
            "{}",
            r.text
        );
        assert!(r.text.contains("Gộp 3 lời nhắc"));
        assert!(
            r.text
                .contains("Việc cần làm: hoàn thành ngay bước «Sở Tài chính thẩm định»")
        );
        assert!(r.text.contains("https://tiendo.haiphong.gov.vn/tasks/t1"));
        assert!(r.html.contains("Triển khai &lt;Cổng&gt; thông tin") && !r.html.contains("<Cổng>"));
    }

    #[test]
    fn a_script_in_a_task_name_is_escaped_in_the_html() {
        let mut task = view();
        task.name = "<script>alert('x')</script>".into();
        let r = render(&Message::Turn {
            task,
            comment: Some("<img src=x onerror=alert(1)>".into()),
            actor: None,
        });
        assert!(
            !r.html.contains("<script>") && !r.html.contains("<img"),
            "{}",
            r.html
        );
        assert!(
            r.html
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;")
        );
        // Plain text stays as written.
        assert!(r.text.contains("Nhiệm vụ: <script>alert('x')</script>"));
    }

    #[test]
    fn a_second_round_is_named_in_the_turn_message() {
        let mut task = view();
        let r = render(&Message::Turn {
            task: task.clone(),
            comment: None,
            actor: None,
        });
        assert!(r.subject.contains("(lần 2)"), "{}", r.subject);
        assert!(
            r.text.contains("Sở Tài chính thẩm định, lần 2"),
            "{}",
            r.text
        );
        task.round = 1;
        let r = render(&Message::Turn {
            task,
            comment: None,
            actor: None,
        });
        assert!(!r.subject.contains("lần"), "{}", r.subject);
    }

    #[test]
    fn every_message_has_a_vietnamese_subject_and_both_bodies() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let all = vec![
            Message::Turn {
                task: view(),
                comment: Some("Bổ sung báo giá".into()),
                actor: Some("chuyen.vien".into()),
            },
            Message::Progress {
                task: view(),
                comment: None,
            },
            Message::Reminder {
                task: view(),
                missed: 0,
            },
            Message::Due {
                task: view(),
                missed: 0,
            },
            Message::Escalation { task: view() },
            Message::Stalled { task: view() },
            Message::ForecastFlag {
                task: view(),
                cannot_finish: true,
                summary: "không thể hoàn thành đúng hạn: sớm nhất 19/01/2026".into(),
                shorter_path: None,
            },
            Message::UnitDigest {
                unit_name: "Sở Y tế".into(),
                date: d,
                tasks: vec![view()],
            },
            Message::UbndDigest {
                date: d,
                groups: vec![("Sở Y tế".into(), vec![view()])],
            },
        ];
        for m in all {
            let r = render(&m);
            assert!(r.subject.starts_with("[tiendo] "), "{}", r.subject);
            assert!(r.text.contains("Việc cần làm:"));
            assert!(r.html.starts_with("<!DOCTYPE html>") && r.html.contains("lang=\"vi\""));
        }
        let r = render(&Message::Stalled { task: view() });
        assert!(r.subject.contains("12 ngày làm việc chưa chuyển bước"));
        let r = render(&Message::ForecastFlag {
            task: view(),
            cannot_finish: false,
            summary: "có nguy cơ: sớm nhất 05/12/2025".into(),
            shorter_path: Some("Có đường ngắn hơn: chào hàng cạnh tranh".into()),
        });
        assert!(
            r.subject
                .starts_with("[tiendo] Dự báo có nguy cơ không hoàn thành đúng hạn: ")
        );
        let flagged = TaskView {
            forecast: Some(
                "không thể hoàn thành đúng hạn: sớm nhất 19/01/2026, hạn 31/12/2025".into(),
            ),
            ..view()
        };
        let digest = render(&Message::UbndDigest {
            date: chrono::NaiveDate::from_ymd_opt(2025, 11, 10).unwrap(),
            groups: vec![("Sở Y tế".into(), vec![flagged, view()])],
        });
        assert!(
            digest.text.contains(
                "— dự báo: không thể hoàn thành đúng hạn: sớm nhất 19/01/2026, hạn 31/12/2025 —"
            ),
            "{}",
            digest.text
        );
        assert_eq!(digest.text.matches("dự báo:").count(), 1, "{}", digest.text);
        assert!(
            r.text.contains("Dự báo: có nguy cơ: sớm nhất 05/12/2025"),
            "{}",
            r.text
        );
        assert!(r.text.contains("Có đường ngắn hơn: chào hàng cạnh tranh"));
    }
}
