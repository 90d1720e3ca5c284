//! A [`Document`] as one self-contained HTML page (UTF-8, inline CSS, printable): merged
//! headers as `colspan`/`rowspan`, amounts right-aligned in the Vietnamese format, unit, group
//! and total rows bold. Every text is escaped by [`engine::html`], line breaks kept as `<br>`.

use std::fmt::Write as _;

use engine::html::escape_lines as escape;

use super::model::{Block, Cell, ColumnKind, RowStyle, Section, Table, write_rows};

const STYLE: &str = "body{font-family:'Times New Roman',serif;font-size:13pt;margin:2em auto;max-width:1400px;padding:0 1em;color:#000}\
h1,.title{font-size:14pt;font-weight:bold;text-align:center;margin:.3em 0}\
.subtitle{text-align:center;font-style:italic;margin:.2em 0}\
h2{font-size:13pt;margin:1.2em 0 .4em}\
section{margin-bottom:2.5em;page-break-after:always}\
p,li{text-align:justify;line-height:1.4}\
.unit-note{text-align:right;font-style:italic;margin:.2em 0}\
table{border-collapse:collapse;width:100%;font-size:11pt}\
th,td{border:1px solid #000;padding:3px 5px;vertical-align:middle}\
th{font-weight:bold;text-align:center;background:#f2f2f2}\
td.num{text-align:right;white-space:nowrap}\
td.center{text-align:center}\
tr.unit td,tr.group td,tr.total td{font-weight:bold}\
tr.group td{background:#f7f7f7}\
thead{display:table-header-group}";

fn table(out: &mut String, t: &Table) {
    if let Some(n) = &t.unit_note {
        let _ = writeln!(out, "<p class=\"unit-note\">{}</p>", escape(n));
    }
    out.push_str("<table>\n<thead>\n<tr>");
    let two = !t.header_groups.is_empty();
    let mut i = 0;
    while i < t.columns.len() {
        if let Some(g) = t.header_groups.iter().find(|g| g.first == i) {
            let _ = write!(
                out,
                "<th colspan=\"{}\">{}</th>",
                g.last - g.first + 1,
                escape(&g.title)
            );
            i = g.last + 1;
            continue;
        }
        let rowspan = if two { " rowspan=\"2\"" } else { "" };
        let _ = write!(out, "<th{rowspan}>{}</th>", escape(&t.columns[i].title));
        i += 1;
    }
    out.push_str("</tr>\n");
    if two {
        out.push_str("<tr>");
        for (i, c) in t.columns.iter().enumerate() {
            if t.header_groups.iter().any(|g| g.first <= i && i <= g.last) {
                let _ = write!(out, "<th>{}</th>", escape(&c.title));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</thead>\n<tbody>\n");
    write_rows(out, &t.rows, |out, r| {
        let class = match r.style {
            RowStyle::Normal => "",
            RowStyle::Unit => " class=\"unit\"",
            RowStyle::Group => " class=\"group\"",
            RowStyle::Total => " class=\"total\"",
        };
        let _ = write!(out, "<tr{class}>");
        for (i, c) in r.cells.iter().enumerate() {
            let kind = t.columns.get(i).map(|c| c.kind).unwrap_or(ColumnKind::Text);
            let cls = match (c, kind) {
                (Cell::Money(_) | Cell::Count(_), _) => " class=\"num\"",
                (_, ColumnKind::Center) => " class=\"center\"",
                _ => "",
            };
            let _ = write!(out, "<td{cls}>");
            engine::html::push_escaped_lines(out, &c.display());
            out.push_str("</td>");
        }
        out.push_str("</tr>\n");
    });
    out.push_str("</tbody>\n</table>\n");
}

/// An HTML page written one section at a time (see [`super::xlsx::Writer`]).
pub struct Writer {
    out: String,
}

impl Writer {
    /// A page titled `title`, its head written.
    pub fn new(title: &str) -> Writer {
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
            escape(title)
        );
        Writer { out }
    }

    /// Writes `s` as the next `<section>`.
    pub fn section(&mut self, s: &Section) {
        let out = &mut self.out;
        out.push_str("<section>\n");
        let mut bullets = false;
        for b in &s.blocks {
            if bullets && !matches!(b, Block::Bullet(_)) {
                out.push_str("</ul>\n");
                bullets = false;
            }
            match b {
                Block::Title(t) => {
                    let _ = writeln!(out, "<p class=\"title\">{}</p>", escape(t));
                }
                Block::Subtitle(t) => {
                    let _ = writeln!(out, "<p class=\"subtitle\">{}</p>", escape(t));
                }
                Block::Heading(t) => {
                    let _ = writeln!(out, "<h2>{}</h2>", escape(t));
                }
                Block::Paragraph(t) => {
                    let _ = writeln!(out, "<p>{}</p>", escape(t));
                }
                Block::Bullet(t) => {
                    if !bullets {
                        out.push_str("<ul>\n");
                        bullets = true;
                    }
                    let _ = writeln!(out, "<li>{}</li>", escape(t));
                }
                Block::Table(t) => table(out, t),
            }
        }
        if bullets {
            out.push_str("</ul>\n");
        }
        out.push_str("</section>\n");
    }

    /// The page, closed.
    pub fn finish(mut self) -> String {
        self.out.push_str("</body>\n</html>\n");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<b>\"Thanh niên\" & 'x'\n"),
            "&lt;b&gt;&quot;Thanh niên&quot; &amp; &#39;x&#39;<br>"
        );
    }

    #[test]
    fn a_script_in_a_task_name_is_escaped_in_the_report() {
        use std::collections::HashMap;

        use engine::workflow::Catalog;

        use crate::store::{Plan, ReportRow};

        let at = engine::time::parse_instant("2025-11-05T09:00:00+07:00").unwrap();
        let name = "<script>alert('x')</script>";
        let mut row = ReportRow::example("t1", at);
        row.name = name.into();
        row.unit_printed = Some("Sở Y tế <b>".into());
        row.progress_text = Some("<img src=x onerror=alert(1)>".into());
        let plan = Plan::example();
        let catalog = Catalog::load(&crate::definitions::embedded()).unwrap();
        let doc = super::super::progress::build(
            &super::super::progress::Input {
                plan: &plan,
                layout: &engine::plan::layout::default_layout(2025),
                as_of: at.date_naive(),
                catalog: &catalog,
                unit_names: &HashMap::new(),
                tracker: &(),
            },
            vec![row],
        );
        let report =
            super::super::render(&doc, super::super::Format::Html, "t".into(), &()).unwrap();
        let html = String::from_utf8(report.bytes).unwrap();
        assert!(!html.contains("<script>") && !html.contains("<img") && !html.contains("<b>"));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    }
}
