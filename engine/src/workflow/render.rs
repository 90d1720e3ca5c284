//! Workflows as people read them: a plain-text table for the terminal and a Mermaid
//! `stateDiagram-v2` for documents and the web pages.

use std::fmt::Write as _;

use super::{Deadline, Workflow};
use crate::time::format_date;
use crate::wording::period;

/// The widest a cell may be before it wraps onto more lines.
const MAX_CELL: usize = 44;

/// Splits `text` into lines of at most `width` characters, breaking after spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("never empty");
        let len = last.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if len > 0 {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

/// Lays out rows in aligned columns, wrapping long cells. Widths count characters, not bytes,
/// so Vietnamese text lines up.
fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let cells: Vec<Vec<Vec<String>>> = rows
        .iter()
        .map(|r| r.iter().map(|c| wrap(c, MAX_CELL)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &cells {
        for (i, c) in r.iter().enumerate() {
            for l in c {
                widths[i] = widths[i].max(l.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |parts: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in parts.iter().enumerate() {
            l.push_str(c);
            if i + 1 < parts.len() {
                l.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    let rules: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(rules.iter().map(String::as_str).collect());
    for r in &cells {
        let height = r.iter().map(Vec::len).max().unwrap_or(1);
        for k in 0..height {
            line(
                r.iter()
                    .map(|c| c.get(k).map(String::as_str).unwrap_or(""))
                    .collect(),
            );
        }
    }
    out
}

pub(super) fn describe_deadline(d: &Deadline) -> String {
    let mut s = period(&d.amount);
    let _ = write!(s, " ({}", d.kind.label());
    if let Some(src) = d.kind.source() {
        let _ = write!(s, ": {src}");
    }
    s.push(')');
    if !d.pause_in.is_empty() {
        let _ = write!(s, "; dừng đếm khi ở: {}", d.pause_in.join(", "));
        let _ = write!(
            s,
            "; khi nhận lại hồ sơ: {}",
            match d.on_return {
                super::OnReturn::Resume => "đếm tiếp",
                super::OnReturn::Restart => "tính lại từ đầu",
            }
        );
    }
    if let Some(w) = &d.request_within {
        let _ = write!(s, "; đề nghị bổ sung trong {} đầu", period(w));
    }
    let fractions: Vec<String> = d
        .remind_at
        .iter()
        .map(|f| format!("{}%", (f * 100.0).round()))
        .collect();
    let _ = write!(s, "; nhắc ở {}", fractions.join(", "));
    if let Some(r) = &d.repeat_overdue_every {
        let _ = write!(s, "; quá hạn nhắc lại mỗi {}", period(r));
    }
    if let Some(e) = &d.escalate_after {
        let roles: Vec<&str> = e.to.iter().map(|r| r.as_str()).collect();
        let _ = write!(
            s,
            "; quá hạn {} báo cáo {}",
            period(&e.after),
            roles.join(", ")
        );
    }
    if let Some(t) = &d.on_expiry {
        let _ = write!(s, "; hết hạn tự động: {t}");
    }
    s
}

fn roles(r: &[crate::Role]) -> String {
    r.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
}

/// States, transitions and deadlines of a workflow as aligned text.
pub fn table(w: &Workflow) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} (phiên bản {}): {}", w.name, w.version, w.title);
    let _ = writeln!(out, "Căn cứ pháp lý: {}", w.legal_basis.join("; "));
    let _ = writeln!(
        out,
        "Áp dụng: từ {}{}; lịch làm việc: {}; trạng thái bắt đầu: {}",
        format_date(w.applies_from),
        w.applies_until
            .map(|d| format!(" đến {}", format_date(d)))
            .unwrap_or_default(),
        w.calendar.name(),
        w.initial
    );
    if let Some(n) = w.stall_after_working_days {
        let _ = writeln!(
            out,
            "Coi là chậm trễ khi không chuyển bước sau {n} ngày làm việc"
        );
    }
    out.push_str("\nTRẠNG THÁI\n");
    let rows: Vec<Vec<String>> = w
        .states
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.phase.as_str().to_string(),
                s.title.clone(),
                roles(&s.roles),
                s.deadline
                    .as_ref()
                    .map(describe_deadline)
                    .unwrap_or_else(|| "—".into()),
            ]
        })
        .collect();
    out.push_str(&columns(
        &["Trạng thái", "Giai đoạn", "Tên", "Lượt xử lý", "Thời hạn"],
        &rows,
    ));
    out.push_str("\nCHUYỂN BƯỚC\n");
    let rows: Vec<Vec<String>> = w
        .transitions
        .iter()
        .map(|t| {
            let mut needs = Vec::new();
            if let Some(a) = &t.approval {
                needs.push(format!("thẩm quyền phê duyệt: {a}"));
            }
            if t.own_unit {
                needs.push("đúng đơn vị".to_string());
            }
            if t.comment_required {
                needs.push("bắt buộc ghi lý do".to_string());
            }
            if !t.documents.is_empty() {
                needs.push(format!("tài liệu: {}", t.documents.join(", ")));
            }
            if let Some(n) = t.max_repeats {
                needs.push(format!("tối đa {n} lần mỗi lần xem xét"));
            }
            if t.opens_review {
                needs.push("mở lần xem xét mới (đếm lại số vòng)".to_string());
            }
            vec![
                t.name.clone(),
                t.from.join(", "),
                t.to.clone(),
                roles(&t.roles),
                t.title.clone(),
                if needs.is_empty() {
                    "—".into()
                } else {
                    needs.join("; ")
                },
            ]
        })
        .collect();
    out.push_str(&columns(
        &["Chuyển bước", "Từ", "Đến", "Vai trò", "Tên", "Điều kiện"],
        &rows,
    ));
    if !w.decisions.is_empty() {
        out.push_str("\nQUYẾT ĐỊNH KHÔNG CHUYỂN BƯỚC (nhiệm vụ ở nguyên bước hiện tại)\n");
        let rows: Vec<Vec<String>> = w
            .decisions
            .iter()
            .map(|d| {
                let mut needs = vec![format!("chấp thuận đề xuất: {}", d.proposal.title())];
                if d.comment_required {
                    needs.push("bắt buộc ghi lý do".to_string());
                }
                if !d.documents.is_empty() {
                    needs.push(format!("tài liệu: {}", d.documents.join(", ")));
                }
                vec![
                    d.name.clone(),
                    d.from.join(", "),
                    roles(&d.roles),
                    d.title.clone(),
                    needs.join("; "),
                ]
            })
            .collect();
        out.push_str(&columns(
            &["Quyết định", "Từ bước", "Vai trò", "Tên", "Điều kiện"],
            &rows,
        ));
    }
    if !w.approvals.is_empty() {
        out.push_str(
            "\nTHẨM QUYỀN PHÊ DUYỆT (quy tắc đầu tiên khớp với nhiệm vụ quyết định; các ngưỡng là dữ liệu, sửa trong tệp quy trình)\n",
        );
        for a in w.approvals.values() {
            let used: Vec<&str> = w
                .states
                .iter()
                .filter(|s| s.approval.as_deref() == Some(a.name.as_str()))
                .map(|s| s.name.as_str())
                .chain(
                    w.transitions
                        .iter()
                        .filter(|t| t.approval.as_deref() == Some(a.name.as_str()))
                        .map(|t| t.name.as_str()),
                )
                .collect();
            let _ = writeln!(
                out,
                "{} — {}{}",
                a.name,
                a.title,
                if used.is_empty() {
                    String::new()
                } else {
                    format!(" (áp dụng cho: {})", used.join(", "))
                }
            );
            for line in a.describe() {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    out
}

/// Mermaid ids must be plain identifiers; state names already are (the loader checks).
pub fn mermaid(w: &Workflow) -> String {
    let mut out = String::from("stateDiagram-v2\n");
    let _ = writeln!(out, "    %% {} v{}: {}", w.name, w.version, w.title);
    for s in &w.states {
        let deadline = s
            .deadline
            .as_ref()
            .map(|d| format!(" ({})", period(&d.amount)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    {}: {}{}",
            s.name,
            s.title.replace(':', " -"),
            deadline
        );
    }
    let _ = writeln!(out, "    [*] --> {}", w.initial);
    for t in &w.transitions {
        for f in &t.from {
            let _ = writeln!(
                out,
                "    {} --> {}: {}",
                f,
                t.to,
                t.title.replace(':', " -")
            );
        }
    }
    for s in w.states.iter().filter(|s| s.phase.is_terminal()) {
        let _ = writeln!(out, "    {} --> [*]", s.name);
    }
    out
}
