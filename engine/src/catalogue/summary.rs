//! What an import did and found, and the summary a person reads after it, in Vietnamese.

use std::collections::BTreeMap;

use super::prepare::ImportPlan;
use super::reconcile::Mismatch;
use super::row::{InvalidRow, RowWarning};
use crate::domain::UnitId;

/// A task whose row changed since the last import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskUpdate {
    pub task_id: String,
    pub line: usize,
    pub name: String,
    /// What changed, in Vietnamese (also the audit entry's comment).
    pub changes: Vec<String>,
    /// Why a changed stage did not move the task, if it did not.
    pub note: Option<String>,
}

/// What the store wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub plan_id: String,
    pub plan_created: bool,
    pub units_created: Vec<String>,
    pub created: usize,
    pub updated: Vec<TaskUpdate>,
    pub unchanged: usize,
    /// Workflow name → tasks created on it.
    pub by_workflow: BTreeMap<String, usize>,
}

/// What an import did, and what it found.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub source: String,
    pub plan: ImportPlan,
    pub rows: usize,
    /// Rows left out because of `--skip-invalid`.
    pub skipped: Vec<InvalidRow>,
    pub warnings: Vec<RowWarning>,
    /// Each unit's spellings in the file, most used first.
    pub spellings: Vec<(UnitId, Vec<(String, usize)>)>,
    pub outcome: ImportOutcome,
    /// `None` without a totals file.
    pub mismatches: Option<Vec<Mismatch>>,
    pub totals_source: Option<String>,
}

impl ImportReport {
    /// The summary a person reads after an import, in Vietnamese.
    pub fn render(&self) -> String {
        let mut out = format!(
            "Nhập kế hoạch {} (năm {}) từ {}: {} dòng hợp lệ.\n",
            self.plan.number, self.plan.year, self.source, self.rows
        );
        self.render_writes(&mut out);
        self.render_findings(&mut out);
        out
    }

    /// The plan, the units and the tasks written.
    fn render_writes(&self, out: &mut String) {
        let o = &self.outcome;
        out.push_str(&format!(
            "  Kế hoạch: {}\n",
            if o.plan_created {
                "tạo mới"
            } else {
                "đã có, giữ nguyên"
            }
        ));
        out.push_str(&format!(
            "  Đơn vị: {} ({} đơn vị mới)\n",
            self.spellings.len(),
            o.units_created.len()
        ));
        for (id, names) in self.spellings.iter().filter(|(_, n)| n.len() > 1) {
            let variants: Vec<String> = names
                .iter()
                .map(|(n, k)| format!("«{n}» ({k} dòng)"))
                .collect();
            out.push_str(&format!(
                "    {id}: cùng một đơn vị, viết là {}\n",
                variants.join(", ")
            ));
        }
        out.push_str(&format!(
            "  Nhiệm vụ: {} mới, {} cập nhật, {} không thay đổi\n",
            o.created,
            o.updated.len(),
            o.unchanged
        ));
        if !o.by_workflow.is_empty() {
            let kinds: Vec<String> = o
                .by_workflow
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            out.push_str(&format!(
                "  Quy trình của nhiệm vụ mới: {}\n",
                kinds.join(", ")
            ));
        }
        for u in &o.updated {
            out.push_str(&format!(
                "    dòng {} «{}»: {}{}\n",
                u.line,
                u.name,
                u.changes.join("; "),
                u.note
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ));
        }
    }

    /// Skipped rows, warnings and the reconciliation with the printed totals.
    fn render_findings(&self, out: &mut String) {
        if !self.skipped.is_empty() {
            out.push_str(&format!(
                "Đã bỏ qua {} dòng lỗi (--skip-invalid):\n",
                self.skipped.len()
            ));
            for r in &self.skipped {
                out.push_str(&format!("  {r}\n"));
            }
        }
        if !self.warnings.is_empty() {
            out.push_str("Lưu ý:\n");
            for w in &self.warnings {
                out.push_str(&format!("  dòng {}: {}\n", w.line, w.message));
            }
        }
        if let Some(m) = &self.mismatches {
            let source = self
                .totals_source
                .as_deref()
                .unwrap_or("tệp số liệu tổng hợp");
            if m.is_empty() {
                out.push_str(&format!(
                    "Đối chiếu với số liệu tổng hợp đã in ({source}): khớp hoàn toàn.\n"
                ));
            } else {
                out.push_str(&format!(
                    "Đối chiếu với số liệu tổng hợp đã in ({source}): {} điểm không khớp (số liệu tính từ các dòng đã nhập; đơn vị tiền: triệu đồng):\n",
                    m.len()
                ));
                for x in m {
                    out.push_str(&format!("  {}\n", x.describe(self.plan.year)));
                }
            }
        }
    }
}
