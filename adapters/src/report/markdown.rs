//! A [`Document`] as Markdown (CommonMark with GitHub pipe tables). Pipe tables cannot merge
//! cells, so a grouped column's title carries its group ("Kinh phí: Nhu cầu kinh phí"); unit,
//! group and total rows are bold.

use std::fmt::Write as _;

use super::model::{Block, Cell, ColumnKind, RowStyle, Section, Table, write_rows};

/// Makes text safe inside a table cell or a line: Markdown punctuation escaped with a
/// backslash, line breaks as `<br>`.
fn cell_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_cell_text(&mut out, s);
    out
}

/// [`cell_text`] appended to `out` (a table's many cells, without a string each).
fn push_cell_text(out: &mut String, s: &str) {
    engine::html::push_replacing(out, s, |b, next| {
        Some(match b {
            b'\\' => "\\\\",
            b'|' => "\\|",
            b'*' => "\\*",
            b'_' => "\\_",
            b'`' => "\\`",
            b'<' => "\\<",
            b'>' => "\\>",
            b'[' => "\\[",
            b']' => "\\]",
            // "\r\n" is one break, written at its "\n".
            b'\r' if next == Some(b'\n') => "",
            b'\r' | b'\n' => "<br>",
            _ => return None,
        })
    });
}

/// Escapes the characters that would start Markdown markup at the beginning of a line.
fn line_text(s: &str) -> String {
    let t = cell_text(s);
    match t.chars().next() {
        Some('#' | '-' | '+' | '*' | '>' | '=') => format!("\\{t}"),
        _ => t,
    }
}

fn table(out: &mut String, t: &Table) {
    if let Some(n) = &t.unit_note {
        let _ = writeln!(out, "*{}*\n", cell_text(n));
    }
    let titles: Vec<String> = t
        .columns
        .iter()
        .enumerate()
        .map(
            |(i, c)| match t.header_groups.iter().find(|g| g.first <= i && i <= g.last) {
                Some(g) => format!("{}: {}", g.title, c.title),
                None => c.title.clone(),
            },
        )
        .collect();
    let _ = writeln!(
        out,
        "| {} |",
        titles
            .iter()
            .map(|s| cell_text(s))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let align: Vec<&str> = t
        .columns
        .iter()
        .map(|c| match c.kind {
            ColumnKind::Money | ColumnKind::Count => "---:",
            ColumnKind::Center => ":---:",
            ColumnKind::Text => "---",
        })
        .collect();
    let _ = writeln!(out, "| {} |", align.join(" | "));
    write_rows(out, &t.rows, |out, r| {
        let bold = r.style != RowStyle::Normal;
        if r.cells.is_empty() {
            out.push_str("|  |\n");
            return;
        }
        out.push('|');
        for c in &r.cells {
            out.push(' ');
            let marked = bold && *c != Cell::Empty;
            if marked {
                out.push_str("**");
            }
            push_cell_text(out, &c.display());
            if marked {
                out.push_str("**");
            }
            out.push_str(" |");
        }
        out.push('\n');
    });
    out.push('\n');
}

/// Markdown written one section at a time (see [`super::xlsx::Writer`]), a rule between
/// sections.
#[derive(Default)]
pub struct Writer {
    out: String,
    sections: usize,
}

impl Writer {
    /// Writes `s` as the next section.
    pub fn section(&mut self, s: &Section) {
        let out = &mut self.out;
        if self.sections > 0 {
            out.push_str("---\n\n");
        }
        self.sections += 1;
        let mut first_title = true;
        let mut last_bullet = false;
        for b in &s.blocks {
            if last_bullet && !matches!(b, Block::Bullet(_)) {
                out.push('\n');
            }
            last_bullet = matches!(b, Block::Bullet(_));
            match b {
                Block::Title(t) => {
                    let level = if first_title { "#" } else { "##" };
                    first_title = false;
                    let _ = writeln!(out, "{level} {}\n", cell_text(t));
                }
                Block::Subtitle(t) => {
                    let _ = writeln!(out, "*{}*\n", cell_text(t));
                }
                Block::Heading(t) => {
                    let _ = writeln!(out, "### {}\n", cell_text(t));
                }
                Block::Paragraph(t) => {
                    let _ = writeln!(out, "{}\n", line_text(t));
                }
                Block::Bullet(t) => {
                    let _ = writeln!(out, "- {}", cell_text(t));
                }
                Block::Table(t) => table(out, t),
            }
        }
        if last_bullet {
            out.push('\n');
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_text_is_escaped() {
        assert_eq!(cell_text("a|b*c_d\r\ne"), "a\\|b\\*c\\_d<br>e");
        assert_eq!(
            cell_text("Sở [Y tế]\rbáo cáo\n\\ `x` <b>"),
            "Sở \\[Y tế\\]<br>báo cáo<br>\\\\ \\`x\\` \\<b\\>"
        );
        assert_eq!(cell_text("cuối\r"), "cuối<br>");
        assert_eq!(cell_text("Nhiệm vụ «Cổng»"), "Nhiệm vụ «Cổng»");
        assert_eq!(line_text("# x"), "\\# x");
    }
}
