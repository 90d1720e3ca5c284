//! The official report as a Word document (DOCX, issue 16), in the form of NĐ 30/2020/NĐ-CP
//! (Phụ lục I): A4, Times New Roman, 20 mm top and bottom, 30 mm left and 15 mm right margins;
//! the header table (issuer on the left: its superior upper case, the issuer bold, a short line,
//! "Số: …/BC-SKHCN"; the national motto on the right, bold, the "Độc lập - Tự do - Hạnh phúc"
//! line underlined, place and date italic); the title and subject bold and centred; the body
//! justified, 14 pt, first lines indented; Nơi nhận (title bold italic 12 pt, recipients 11 pt)
//! beside the signature block; then the appendices, each on its own landscape page.
//!
//! Generated with docx-rs: no template file. The bytes are deterministic: the file's creation
//! and modification dates are the report's date and the archive's entries carry no clock time.
//! The renderer is pure: an [`Official`] in, bytes out.

use std::io::Cursor;

use docx_rs::{
    AlignmentType, BreakType, Docx, LineSpacing, LineSpacingType, PageMargin, PageOrientationType,
    PageSize, Paragraph, Run, RunFonts, Section as DocxSection, SpecialIndentType,
    Table as DocxTable, TableCell, TableCellMargins, TableLayoutType, TableRow, VAlignType,
    VMergeType, WidthType,
};

use super::model::{Block, Cell, ColumnKind, Official, RowStyle, Section, Table};

const FONT: &str = "Times New Roman";
/// A4 in twentieths of a point.
const A4_SHORT: u32 = 11906;
const A4_LONG: u32 = 16838;
/// Font sizes in half-points.
const BODY: usize = 28;
const ISSUER: usize = 24;
const HEADER: usize = 26;
const MOTTO_COUNTRY: usize = 24;
const RECIPIENTS_TITLE: usize = 24;
const RECIPIENTS: usize = 22;
const TABLE_BODY: usize = 24;
const TABLE_APPENDIX: usize = 22;
/// A first-line indent of 1 cm.
const INDENT: i32 = 567;

/// Millimetres in twentieths of a point.
fn mm(v: u32) -> i32 {
    (f64::from(v) * 1440.0 / 25.4).round() as i32
}

fn fonts() -> RunFonts {
    RunFonts::new()
        .ascii(FONT)
        .hi_ansi(FONT)
        .east_asia(FONT)
        .cs(FONT)
}

/// The portrait pages' margins NĐ 30 prescribes: top and bottom 20–25 mm, left 30–35 mm, right
/// 15–20 mm (here 20, 20, 30, 15).
fn portrait_margin() -> PageMargin {
    PageMargin::new()
        .top(mm(20))
        .bottom(mm(20))
        .left(mm(30))
        .right(mm(15))
        .header(mm(10))
        .footer(mm(10))
        .gutter(0)
}

fn landscape_margin() -> PageMargin {
    PageMargin::new()
        .top(mm(20))
        .bottom(mm(15))
        .left(mm(20))
        .right(mm(15))
        .header(mm(10))
        .footer(mm(10))
        .gutter(0)
}

/// The text width of a portrait and a landscape page.
fn portrait_width() -> usize {
    (A4_SHORT as i32 - mm(30) - mm(15)) as usize
}

fn landscape_width() -> usize {
    (A4_LONG as i32 - mm(20) - mm(15)) as usize
}

/// How a run looks.
#[derive(Clone, Copy, Default)]
struct Look {
    bold: bool,
    italic: bool,
    underline: bool,
}

const PLAIN: Look = Look {
    bold: false,
    italic: false,
    underline: false,
};
const BOLD: Look = Look {
    bold: true,
    italic: false,
    underline: false,
};
const ITALIC: Look = Look {
    bold: false,
    italic: true,
    underline: false,
};

/// A run of `text` (line breaks kept) in `size` half-points.
fn run(text: &str, size: usize, look: Look) -> Run {
    let mut r = Run::new().size(size).fonts(fonts());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            r = r.add_break(BreakType::TextWrapping);
        }
        r = r.add_text(line);
    }
    if look.bold {
        r = r.bold();
    }
    if look.italic {
        r = r.italic();
    }
    if look.underline {
        r = r.underline("single");
    }
    r
}

/// Spacing `after` a paragraph and between its lines (240: single), both in twentieths of a
/// point; the rule is said (a reader without it may take the lines as exact).
fn spacing(after: u32, line: i32) -> LineSpacing {
    LineSpacing::new()
        .before(0)
        .after(after)
        .line(line)
        .line_rule(LineSpacingType::Auto)
}

/// A paragraph with spacing `after` (twentieths of a point) and single line spacing.
fn para(text: &str, size: usize, look: Look, align: AlignmentType, after: u32) -> Paragraph {
    Paragraph::new()
        .add_run(run(text, size, look))
        .align(align)
        .line_spacing(spacing(after, 240))
}

/// A body paragraph: justified, first line indented, 6 pt after, 1.15 lines.
fn body_para(text: &str, look: Look) -> Paragraph {
    Paragraph::new()
        .add_run(run(text, BODY, look))
        .align(AlignmentType::Both)
        .indent(None, Some(SpecialIndentType::FirstLine(INDENT)), None, None)
        .line_spacing(spacing(120, 276))
}

/// What a page holds, in order.
enum Child {
    P(Box<Paragraph>),
    T(Box<DocxTable>),
}

fn cp(p: Paragraph) -> Child {
    Child::P(Box::new(p))
}

fn ct(t: DocxTable) -> Child {
    Child::T(Box::new(t))
}

/// The header table: issuer on the left, national motto on the right, no borders.
fn header_table(doc: &Official) -> DocxTable {
    let width = portrait_width();
    let left_w = width * 21 / 50;
    let right_w = width - left_w;
    let c = AlignmentType::Center;
    let left = TableCell::new()
        .width(left_w, WidthType::Dxa)
        .add_paragraph(para(&doc.issuer_parent, ISSUER, PLAIN, c, 0))
        .add_paragraph(para(&doc.issuer, ISSUER, BOLD, c, 0))
        .add_paragraph(short_line(c))
        .add_paragraph(para(&doc.number, HEADER, PLAIN, c, 0));
    let right = TableCell::new()
        .width(right_w, WidthType::Dxa)
        .add_paragraph(para(&doc.motto_country, MOTTO_COUNTRY, BOLD, c, 0))
        .add_paragraph(para(
            &doc.motto,
            HEADER,
            Look {
                bold: true,
                italic: false,
                underline: true,
            },
            c,
            0,
        ))
        .add_paragraph(para("", HEADER, PLAIN, c, 0))
        .add_paragraph(para(&doc.place_date, HEADER, ITALIC, c, 0));
    DocxTable::without_borders(vec![TableRow::new(vec![left, right])])
        .set_grid(vec![left_w, right_w])
        .width(width, WidthType::Dxa)
        .layout(TableLayoutType::Fixed)
}

/// The short solid line under the issuer's name (NĐ 30: a third to a half of the name's length):
/// underlined no-break spaces.
fn short_line(align: AlignmentType) -> Paragraph {
    Paragraph::new()
        .add_run(
            Run::new()
                .add_text("\u{a0}".repeat(22))
                .size(14)
                .fonts(fonts())
                .underline("single"),
        )
        .align(align)
        .line_spacing(spacing(60, 240))
}

/// Nơi nhận on the left, the signature block on the right, no borders.
fn signature_table(doc: &Official) -> DocxTable {
    let width = portrait_width();
    let left_w = width / 2;
    let right_w = width - left_w;
    let mut left = TableCell::new()
        .width(left_w, WidthType::Dxa)
        .add_paragraph(para(
            "Nơi nhận:",
            RECIPIENTS_TITLE,
            Look {
                bold: true,
                italic: true,
                underline: false,
            },
            AlignmentType::Left,
            0,
        ));
    for r in &doc.recipients {
        left = left.add_paragraph(para(r, RECIPIENTS, PLAIN, AlignmentType::Left, 0));
    }
    let c = AlignmentType::Center;
    let mut right = TableCell::new().width(right_w, WidthType::Dxa);
    for t in &doc.signer_titles {
        right = right.add_paragraph(para(t, BODY, BOLD, c, 0));
    }
    for _ in 0..4 {
        right = right.add_paragraph(para("", BODY, PLAIN, c, 0));
    }
    right = right.add_paragraph(para(&doc.signer_name, BODY, BOLD, c, 0));
    DocxTable::without_borders(vec![TableRow::new(vec![left, right])])
        .set_grid(vec![left_w, right_w])
        .width(width, WidthType::Dxa)
        .layout(TableLayoutType::Fixed)
}

/// The column widths of a table over `width`, in proportion to the columns' widest text.
fn widths(t: &Table, width: usize) -> Vec<usize> {
    let weight = |c: &super::model::Column| c.max_width.max(7.0);
    let sum: f64 = t.columns.iter().map(weight).sum();
    let mut w: Vec<usize> = t
        .columns
        .iter()
        .map(|c| (weight(c) / sum * width as f64).floor() as usize)
        .collect();
    let used: usize = w.iter().sum();
    if let Some(last) = w.last_mut() {
        *last += width.saturating_sub(used);
    }
    w
}

fn cell(text: &str, w: usize, size: usize, look: Look, align: AlignmentType) -> TableCell {
    TableCell::new()
        .width(w, WidthType::Dxa)
        .vertical_align(VAlignType::Center)
        .add_paragraph(para(text, size, look, align, 0))
}

/// A table with its header (the groups' titles over their columns, the other titles over both
/// header rows) and its rows; bold unit, group and total rows; amounts right-aligned.
fn table(t: &Table, width: usize, size: usize) -> Vec<Child> {
    let mut out = Vec::new();
    if let Some(note) = &t.unit_note {
        out.push(cp(para(note, size, ITALIC, AlignmentType::Right, 0)));
    }
    let w = widths(t, width);
    let c = AlignmentType::Center;
    let group_of = |i: usize| t.header_groups.iter().find(|g| g.first <= i && i <= g.last);
    let mut rows = Vec::new();
    if t.header_groups.is_empty() {
        rows.push(TableRow::new(
            t.columns
                .iter()
                .zip(&w)
                .map(|(col, w)| cell(&col.title, *w, size, BOLD, c))
                .collect(),
        ));
    } else {
        let mut first = Vec::new();
        let mut second = Vec::new();
        let mut i = 0;
        while i < t.columns.len() {
            match group_of(i) {
                Some(g) => {
                    let span: usize = w[g.first..=g.last].iter().sum();
                    first.push(cell(&g.title, span, size, BOLD, c).grid_span(g.last - g.first + 1));
                    for (col, w) in t.columns[g.first..=g.last].iter().zip(&w[g.first..=g.last]) {
                        second.push(cell(&col.title, *w, size, BOLD, c));
                    }
                    i = g.last + 1;
                }
                None => {
                    first.push(
                        cell(&t.columns[i].title, w[i], size, BOLD, c)
                            .vertical_merge(VMergeType::Restart),
                    );
                    second.push(cell("", w[i], size, BOLD, c).vertical_merge(VMergeType::Continue));
                    i += 1;
                }
            }
        }
        rows.push(TableRow::new(first));
        rows.push(TableRow::new(second));
    }
    for r in &t.rows {
        let look = if r.style == RowStyle::Normal {
            PLAIN
        } else {
            BOLD
        };
        let cells = r
            .cells
            .iter()
            .zip(&t.columns)
            .zip(&w)
            .map(|((x, col), w)| {
                let align = match (x, col.kind) {
                    (Cell::Money(_) | Cell::Count(_), _) => AlignmentType::Right,
                    (_, ColumnKind::Center) => AlignmentType::Center,
                    (_, ColumnKind::Money | ColumnKind::Count) => AlignmentType::Right,
                    (_, ColumnKind::Text) => AlignmentType::Left,
                };
                cell(&x.display(), *w, size, look, align)
            })
            .collect();
        rows.push(TableRow::new(rows_pad(cells, &w, size)).cant_split());
    }
    out.push(ct(DocxTable::new(rows)
        .margins(TableCellMargins::new().margin(0, 57, 0, 57))
        .set_grid(w.clone())
        .width(width, WidthType::Dxa)
        .layout(TableLayoutType::Fixed)));
    out
}

/// A row with fewer cells than columns gets empty ones (a table's rows are rectangular).
fn rows_pad(mut cells: Vec<TableCell>, w: &[usize], size: usize) -> Vec<TableCell> {
    while cells.len() < w.len() {
        let k = cells.len();
        cells.push(cell("", w[k], size, PLAIN, AlignmentType::Left));
    }
    cells
}

/// The blocks of the body: headings bold, paragraphs and bullets justified.
fn body_blocks(blocks: &[Block], width: usize) -> Vec<Child> {
    let mut out = Vec::new();
    for b in blocks {
        match b {
            Block::Title(t) => out.push(cp(para(t, BODY, BOLD, AlignmentType::Center, 0))),
            Block::Subtitle(t) => out.push(cp(para(t, BODY, ITALIC, AlignmentType::Center, 120))),
            Block::Heading(t) => out.push(cp(body_para(t, BOLD).keep_next(true))),
            Block::Paragraph(t) => out.push(cp(body_para(t, PLAIN))),
            Block::Bullet(t) => out.push(cp(body_para(&format!("- {t}"), PLAIN))),
            Block::Table(t) => {
                out.extend(table(t, width, TABLE_BODY));
                out.push(cp(para("", 12, PLAIN, AlignmentType::Left, 0)));
            }
        }
    }
    out
}

/// An appendix: its titles centred and bold, its table in 11 pt, on a new page.
fn appendix(s: &Section, width: usize, first: bool) -> Vec<Child> {
    let mut out = Vec::new();
    for (i, b) in s.blocks.iter().enumerate() {
        let page_break = i == 0 && !first;
        match b {
            Block::Title(t) => out.push(cp(
                para(t, BODY, BOLD, AlignmentType::Center, 0).page_break_before(page_break)
            )),
            Block::Subtitle(t) => out.push(cp(
                para(t, BODY, ITALIC, AlignmentType::Center, 120).page_break_before(page_break)
            )),
            Block::Heading(t) => out.push(cp(
                para(t, BODY, BOLD, AlignmentType::Center, 120).page_break_before(page_break)
            )),
            Block::Paragraph(t) | Block::Bullet(t) => {
                out.push(cp(para(t, TABLE_BODY, PLAIN, AlignmentType::Left, 120)
                    .page_break_before(page_break)))
            }
            Block::Table(t) => out.extend(table(t, width, TABLE_APPENDIX)),
        }
    }
    out
}

/// The official document's first pages: header, title, basis, body, closing, signature.
fn main_pages(doc: &Official) -> Vec<Child> {
    let width = portrait_width();
    let c = AlignmentType::Center;
    let mut out = vec![
        ct(header_table(doc)),
        cp(para("", BODY, PLAIN, c, 120)),
        cp(para(&doc.kind, BODY, BOLD, c, 0)),
        cp(para(&doc.subject, BODY, BOLD, c, 0)),
        cp(short_line(c)),
    ];
    for b in &doc.basis {
        out.push(cp(body_para(b, PLAIN)));
    }
    out.extend(body_blocks(&doc.body, width));
    out.push(cp(body_para(&doc.closing, PLAIN)));
    out.push(ct(signature_table(doc)));
    out
}

/// Renders the official document as DOCX bytes.
///
/// docx-rs numbers paragraphs (`w14:paraId`) from a counter of the thread that creates them, so
/// the document is made on a thread of its own: the same document is the same bytes whichever
/// thread asks for it, and however many documents that thread made before.
pub fn render(doc: &Official) -> Result<Vec<u8>, String> {
    std::thread::scope(|s| {
        s.spawn(|| render_here(doc))
            .join()
            .unwrap_or_else(|_| Err("the DOCX renderer stopped".into()))
    })
}

fn render_here(doc: &Official) -> Result<Vec<u8>, String> {
    let stamp = doc
        .as_of
        .map(|d| format!("{}T00:00:00Z", d.format("%Y-%m-%d")))
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
    let mut docx = Docx::new()
        .default_fonts(fonts())
        .default_size(BODY)
        .created_at(&stamp)
        .updated_at(&stamp);
    let portrait = PageSize::new()
        .size(A4_SHORT, A4_LONG)
        .orient(PageOrientationType::Portrait);
    let main = main_pages(doc);
    if doc.appendices.is_empty() {
        docx = add_all(docx, main)
            .page_size(A4_SHORT, A4_LONG)
            .page_orient(PageOrientationType::Portrait)
            .page_margin(portrait_margin());
    } else {
        let mut first = DocxSection::new()
            .page_size(portrait)
            .page_orient(PageOrientationType::Portrait)
            .page_margin(portrait_margin());
        for c in main {
            first = match c {
                Child::P(p) => first.add_paragraph(*p),
                Child::T(t) => first.add_table(*t),
            };
        }
        docx = docx.add_section(first);
        let width = landscape_width();
        for (i, s) in doc.appendices.iter().enumerate() {
            docx = add_all(docx, appendix(s, width, i == 0));
        }
        docx = docx
            .page_size(A4_LONG, A4_SHORT)
            .page_orient(PageOrientationType::Landscape)
            .page_margin(landscape_margin());
    }
    let mut out = Cursor::new(Vec::new());
    docx.build().pack(&mut out).map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

fn add_all(mut docx: Docx, children: Vec<Child>) -> Docx {
    for c in children {
        docx = match c {
            Child::P(p) => docx.add_paragraph(*p),
            Child::T(t) => docx.add_table(*t),
        };
    }
    docx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_are_those_nd30_prescribes_in_twips() {
        assert_eq!(mm(20), 1134);
        assert_eq!(mm(30), 1701);
        assert_eq!(mm(15), 850);
        assert_eq!(portrait_width(), 11906 - 1701 - 850);
    }
}
