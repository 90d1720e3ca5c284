//! Pictures drawn on the server as SVG, with no script: a task's workflow with the current step
//! and the path taken ([`workflow`]), and a horizontal bar chart ([`bars`]). This module only
//! computes the geometry; the templates write the SVG, so every label is escaped like any other
//! text on the page (a task or step named `<script>` is drawn as those characters).

use std::collections::HashSet;

use engine::Phase;
use engine::workflow::Workflow;

use crate::store::AuditRecord;

const NODE_W: i32 = 330;
const NODE_H: i32 = 46;
const PITCH: i32 = 72;
const LANE: i32 = 13;
const MARGIN: i32 = 12;
/// Characters per line of a step's title (two lines at most).
const LINE_CHARS: usize = 44;

/// One line of text in a node.
pub struct TextLine {
    pub y: i32,
    pub text: String,
}

/// A step of the workflow.
pub struct Node {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
    pub text_x: i32,
    pub lines: Vec<TextLine>,
    /// The full title, for the tooltip.
    pub title: String,
    /// `current`, `visited` or `todo`.
    pub class: &'static str,
    /// Whether this is the current step (labelled "Bước hiện tại" beside it).
    pub current: bool,
    pub label_x: i32,
    pub label_y: i32,
}

/// A transition between two drawn steps.
pub struct Edge {
    pub d: String,
    /// `taken` or `possible`.
    pub class: &'static str,
}

/// The workflow of a task, laid out top to bottom in the order the steps are declared.
pub struct WorkflowGraph {
    pub width: i32,
    pub height: i32,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub summary: String,
}

/// Splits a title into at most two lines of about [`LINE_CHARS`] characters, on spaces.
fn wrap(title: &str) -> Vec<String> {
    let mut lines: Vec<String> = vec![String::new()];
    for word in title.split_whitespace() {
        let last = lines.last_mut().expect("one line at least");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > LINE_CHARS {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    if lines.len() > 2 {
        let mut second: String = lines[1..].join(" ");
        second = second.chars().take(LINE_CHARS - 1).collect();
        second.push('…');
        lines.truncate(1);
        lines.push(second);
    }
    lines
}

fn is_exit(p: Phase) -> bool {
    matches!(p, Phase::Postponed | Phase::Withdrawn)
}

/// Lays out `wf` for a task now in `current`, whose audit log is `history`: the steps it has
/// been through are marked visited, the transitions it has taken are drawn strong. Exits
/// (postponement, withdrawal), which most steps allow, are drawn only where the task took them.
pub fn workflow(wf: &Workflow, current: &str, history: &[AuditRecord]) -> WorkflowGraph {
    let mut visited: HashSet<&str> = HashSet::new();
    let mut taken: HashSet<(&str, &str)> = HashSet::new();
    for a in history {
        visited.insert(a.to_state.as_str());
        if let Some(f) = a.from_state.as_deref() {
            visited.insert(f);
            taken.insert((f, a.to_state.as_str()));
        }
    }
    let shown: Vec<&engine::workflow::State> = wf
        .states
        .iter()
        .filter(|s| !is_exit(s.phase) || visited.contains(s.name.as_str()) || s.name == current)
        .collect();
    let index = |name: &str| shown.iter().position(|s| s.name == name);

    // Edges between shown steps, once per pair.
    let mut pairs: Vec<(usize, usize, bool)> = Vec::new();
    for t in &wf.transitions {
        let Some(j) = index(&t.to) else { continue };
        for f in &t.from {
            let Some(i) = index(f) else { continue };
            let was_taken = taken.contains(&(f.as_str(), t.to.as_str()));
            if i == j || (is_exit(shown[j].phase) && !was_taken) {
                continue;
            }
            match pairs.iter_mut().find(|(a, b, _)| *a == i && *b == j) {
                Some(p) => p.2 |= was_taken,
                None => pairs.push((i, j, was_taken)),
            }
        }
    }
    // Lanes: forward skips on the right, backward moves on the left, shorter spans inside.
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by_key(|&k| pairs[k].0.abs_diff(pairs[k].1));
    let mut lane = vec![0i32; pairs.len()];
    for &k in &order {
        let (i, j, _) = pairs[k];
        if j == i + 1 {
            continue;
        }
        let right = j > i;
        let (lo, hi) = (i.min(j), i.max(j));
        let inner = order
            .iter()
            .filter(|&&o| o != k && lane[o] > 0)
            .filter(|&&o| {
                let (a, b, _) = pairs[o];
                (b > a) == right && a.min(b) <= hi && a.max(b) >= lo
            })
            .map(|&o| lane[o])
            .max()
            .unwrap_or(0);
        lane[k] = inner + 1;
    }
    let left_lanes = pairs
        .iter()
        .zip(&lane)
        .filter(|((i, j, _), _)| j < i)
        .map(|(_, l)| *l)
        .max()
        .unwrap_or(0);
    let right_lanes = pairs
        .iter()
        .zip(&lane)
        .filter(|((i, j, _), _)| j > i)
        .map(|(_, l)| *l)
        .max()
        .unwrap_or(0);
    let x0 = MARGIN + left_lanes * LANE + 4;
    let top = 22;
    let y_of = |i: usize| top + i32::try_from(i).unwrap_or(0) * PITCH;

    let nodes: Vec<Node> = shown
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let y = y_of(i);
            let is_current = s.name == current;
            let was = visited.contains(s.name.as_str());
            let mut text = wrap(&s.title);
            if was && !is_current {
                text[0] = format!("✓ {}", text[0]);
            }
            let first = if text.len() == 1 { y + 28 } else { y + 19 };
            Node {
                x: x0,
                y,
                w: NODE_W,
                h: NODE_H,
                text_x: x0 + 12,
                lines: text
                    .into_iter()
                    .enumerate()
                    .map(|(k, t)| TextLine {
                        y: first + i32::try_from(k).unwrap_or(0) * 17,
                        text: t,
                    })
                    .collect(),
                title: format!("{} — {}", s.phase.title(), s.title),
                class: if is_current {
                    "current"
                } else if was {
                    "visited"
                } else {
                    "todo"
                },
                current: is_current,
                label_x: x0 + NODE_W,
                label_y: y - 6,
            }
        })
        .collect();
    let edges = pairs
        .iter()
        .zip(&lane)
        .map(|(&(i, j, was_taken), &l)| {
            let (yi, yj) = (y_of(i), y_of(j));
            let d = if j == i + 1 {
                let x = x0 + NODE_W / 2;
                format!("M{x} {} V{}", yi + NODE_H, yj - 3)
            } else if j > i {
                let xr = x0 + NODE_W + l * LANE;
                format!(
                    "M{} {} H{xr} V{} H{}",
                    x0 + NODE_W,
                    yi + NODE_H / 2 - 6,
                    yj + NODE_H / 2 - 6,
                    x0 + NODE_W + 3
                )
            } else {
                let xl = x0 - l * LANE;
                format!(
                    "M{x0} {} H{xl} V{} H{}",
                    yi + NODE_H / 2 + 6,
                    yj + NODE_H / 2 + 6,
                    x0 - 3
                )
            };
            Edge {
                d,
                class: if was_taken { "taken" } else { "possible" },
            }
        })
        .collect();
    let current_title = wf
        .state(current)
        .map_or_else(|| current.to_string(), |s| s.title.clone());
    let passed = shown
        .iter()
        .filter(|s| visited.contains(s.name.as_str()) && s.name != current)
        .count();
    WorkflowGraph {
        width: x0 + NODE_W + right_lanes * LANE + MARGIN + 4,
        height: top + i32::try_from(shown.len()).unwrap_or(0) * PITCH - (PITCH - NODE_H) + 8,
        nodes,
        edges,
        summary: format!(
            "Quy trình «{}»: {} bước; nhiệm vụ đã qua {passed} bước và đang ở bước «{current_title}».",
            wf.title,
            shown.len()
        ),
    }
}

/// One bar of a chart.
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub y: i32,
    pub text_y: i32,
    pub width: i32,
    pub value_x: i32,
    /// The style (`on_time`, `late`, `in_progress`, `overdue`, `other`).
    pub class: &'static str,
}

/// A horizontal bar chart: a label, a bar and the number beside it, on every line.
pub struct BarChart {
    pub width: i32,
    pub height: i32,
    pub bar_x: i32,
    pub bars: Vec<Bar>,
}

/// Lays out `items` (label, value, style) as horizontal bars scaled to the largest value.
pub fn bars(items: &[(String, i64, &'static str)]) -> BarChart {
    const LABEL_W: i32 = 230;
    const BAR_MAX: i32 = 300;
    const ROW: i32 = 34;
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1);
    let bars = items
        .iter()
        .enumerate()
        .map(|(k, (label, value, class))| {
            let y = 8 + i32::try_from(k).unwrap_or(0) * ROW;
            let width = i32::try_from((*value).max(0) * i64::from(BAR_MAX) / max).unwrap_or(0);
            let width = if *value > 0 { width.max(2) } else { 0 };
            Bar {
                label: label.clone(),
                value: *value,
                y,
                text_y: y + 17,
                width,
                value_x: LABEL_W + width + 8,
                class,
            }
        })
        .collect();
    BarChart {
        width: LABEL_W + BAR_MAX + 60,
        height: 8 + i32::try_from(items.len()).unwrap_or(0) * ROW,
        bar_x: LABEL_W,
        bars,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_wrap_into_two_lines_at_most() {
        assert_eq!(wrap("Hoàn thành"), vec!["Hoàn thành".to_string()]);
        let long = "Thực hiện hợp đồng: giao hàng, lắp đặt; thanh toán theo khối lượng thực tế và nghiệm thu từng phần của gói thầu";
        let lines = wrap(long);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'));
        assert!(lines.iter().all(|l| l.chars().count() <= LINE_CHARS));
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        let c = bars(&[
            ("a".into(), 10, "on_time"),
            ("b".into(), 5, "late"),
            ("c".into(), 0, "overdue"),
        ]);
        assert_eq!(c.bars[0].width, 300);
        assert_eq!(c.bars[1].width, 150);
        assert_eq!(c.bars[2].width, 0);
    }
}
