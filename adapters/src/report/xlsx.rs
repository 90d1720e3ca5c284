//! A [`Document`] as an XLSX workbook (rust_xlsxwriter): one sheet per section; amounts are
//! numbers (million VND) with a Vietnamese number format, never text; table headers are merged
//! cells (a group title over the money columns, the other titles over both header rows); unit,
//! group and total rows are bold; the panes are frozen below a table's header and the header rows
//! repeat on every printed page; column widths fit their contents up to each column's maximum,
//! beyond which text wraps, and row heights are set from the wrapped text. Sheets are written in
//! rust_xlsxwriter's constant-memory mode (each row goes to a temporary file once written, strings
//! inline), so everything is written strictly in row order.

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

use super::model::{Block, Cell, ColumnKind, RowStyle, Section, Table};

/// The number formats. `[$-42A]` tags them Vietnamese (LCID 0x042A): spreadsheet programs that
/// honour the tag (LibreOffice) show 1.234,5 whatever the computer's locale; Excel applies the
/// separators of the computer's regional settings, which in Vietnam are these.
const INT_FORMAT: &str = "[$-42A]#,##0";
const DEC1_FORMAT: &str = "[$-42A]#,##0.0";
const DEC3_FORMAT: &str = "[$-42A]#,##0.0##";

struct Formats {
    title: Format,
    subtitle: Format,
    heading: Format,
    paragraph: Format,
    note: Format,
    header: Format,
    text: [Format; 2],
    center: [Format; 2],
    int: [Format; 2],
    dec1: [Format; 2],
    dec3: [Format; 2],
}

impl Formats {
    fn new() -> Formats {
        let cell = Format::new()
            .set_border(FormatBorder::Thin)
            .set_align(FormatAlign::VerticalCenter)
            .set_font_name("Times New Roman")
            .set_font_size(11);
        let both = |f: Format| [f.clone(), f.set_bold()];
        let plain = Format::new()
            .set_font_name("Times New Roman")
            .set_font_size(12);
        Formats {
            title: plain
                .clone()
                .set_bold()
                .set_font_size(13)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap(),
            subtitle: plain
                .clone()
                .set_italic()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap(),
            heading: plain
                .clone()
                .set_bold()
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap(),
            paragraph: plain
                .clone()
                .set_align(FormatAlign::Top)
                .set_align(FormatAlign::Justify)
                .set_text_wrap(),
            note: plain.set_italic().set_align(FormatAlign::Right),
            header: cell
                .clone()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_text_wrap(),
            text: both(cell.clone().set_text_wrap()),
            center: both(cell.clone().set_align(FormatAlign::Center).set_text_wrap()),
            int: both(cell.clone().set_num_format(INT_FORMAT)),
            dec1: both(cell.clone().set_num_format(DEC1_FORMAT)),
            dec3: both(cell.set_num_format(DEC3_FORMAT)),
        }
    }
}

impl Formats {
    /// Every style, in a fixed order.
    fn all(&self) -> Vec<&Format> {
        let mut out = vec![
            &self.title,
            &self.subtitle,
            &self.heading,
            &self.paragraph,
            &self.note,
            &self.header,
        ];
        for pair in [&self.text, &self.center, &self.int, &self.dec1, &self.dec3] {
            out.extend(pair);
        }
        out
    }
}

/// Characters in a cell's longest line.
fn text_width(s: &str) -> usize {
    if s.contains('\n') {
        s.lines().map(|l| l.chars().count()).max().unwrap_or(0)
    } else {
        s.chars().count()
    }
}

/// Column widths (in characters) for a section: each column fits its longest cell and the
/// longest word of its title, within the column's maximum.
fn widths(section: &Section) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::new();
    for b in &section.blocks {
        let Block::Table(t) = b else { continue };
        if out.len() < t.columns.len() {
            out.resize(t.columns.len(), 0.0);
        }
        for (i, c) in t.columns.iter().enumerate() {
            let title_word = c
                .title
                .split_whitespace()
                .map(|w| w.chars().count())
                .max()
                .unwrap_or(0);
            // Titles wrap: give them at least a third of their length per line.
            let title = title_word.max(c.title.chars().count().div_ceil(3));
            let mut w = title;
            for r in &t.rows {
                let width = match r.cells.get(i) {
                    Some(Cell::Text(s)) => text_width(s),
                    Some(Cell::Empty) | None => 0,
                    Some(other) => other.display().len(),
                };
                w = w.max(width);
                if w as f64 + 2.0 >= c.max_width {
                    // Already as wide as the column may get.
                    break;
                }
            }
            let w = (w as f64 + 2.0).clamp(5.0, c.max_width.max(5.0));
            out[i] = out[i].max(w);
        }
    }
    if out.is_empty() {
        out = vec![90.0];
    }
    out
}

/// Lines a wrapped text needs in a column `width` characters wide. A width unit is the width of
/// a digit of the default font; Vietnamese text in Times New Roman fits about 1.2 letters in it
/// at 12 pt and 1.3 at 11 pt (measured on LibreOffice's rendering), counted a little short so that
/// text is never clipped.
fn lines_needed(text: &str, width: f64, letters_per_unit: f64) -> usize {
    let per_line = ((width - 1.0) * letters_per_unit).max(1.0) as usize;
    // Most cells fit on one line: bytes bound characters from above.
    if text.len() <= per_line && !text.contains('\n') {
        return 1;
    }
    // Greedy word wrap, as the spreadsheet does it.
    let mut lines = 0usize;
    for paragraph in text.lines() {
        let mut used = 0usize;
        lines += 1;
        for word in paragraph.split_whitespace() {
            let w = word.chars().count();
            if used > 0 && used + 1 + w > per_line {
                lines += 1;
                used = 0;
            }
            // A word longer than a line breaks across lines.
            let w = if w > per_line {
                lines += (w - 1) / per_line;
                (w - 1) % per_line + 1
            } else {
                w
            };
            used += if used > 0 { w + 1 } else { w };
        }
    }
    lines.max(1)
}

fn to_million(dong: i64) -> f64 {
    dong as f64 / 1_000_000.0
}

fn write_table(
    ws: &mut Worksheet,
    f: &Formats,
    t: &Table,
    mut row: u32,
    widths: &[f64],
    freeze: bool,
) -> Result<u32, XlsxError> {
    let n = t.columns.len() as u16;
    if n == 0 {
        return Ok(row);
    }
    if let Some(note) = &t.unit_note {
        let first = n.saturating_sub(3);
        if first < n - 1 {
            ws.merge_range(row, first, row, n - 1, note, &f.note)?;
        } else {
            ws.write_string_with_format(row, n - 1, note, &f.note)?;
        }
        row += 1;
    }
    let header_rows: u32 = if t.header_groups.is_empty() { 1 } else { 2 };
    let header_top = row;
    let grouped = |i: usize| t.header_groups.iter().any(|g| g.first <= i && i <= g.last);
    // Sheets are streamed row by row (constant memory): the first header row is written
    // whole (titles over both rows, group titles) before the second.
    for (i, c) in t.columns.iter().enumerate() {
        let col = i as u16;
        if grouped(i) {
            continue;
        }
        if header_rows == 2 {
            ws.merge_range(row, col, row + 1, col, &c.title, &f.header)?;
        } else {
            ws.write_string_with_format(row, col, &c.title, &f.header)?;
        }
    }
    for g in &t.header_groups {
        if g.first < g.last {
            ws.merge_range(row, g.first as u16, row, g.last as u16, &g.title, &f.header)?;
        } else {
            ws.write_string_with_format(row, g.first as u16, &g.title, &f.header)?;
        }
    }
    if header_rows == 2 {
        for (i, c) in t.columns.iter().enumerate() {
            if grouped(i) {
                ws.write_string_with_format(row + 1, i as u16, &c.title, &f.header)?;
            }
        }
    }
    // A header cell holds its title in as many lines as its width needs.
    let header_lines = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| lines_needed(&c.title, widths.get(i).copied().unwrap_or(10.0), 1.1))
        .max()
        .unwrap_or(1);
    ws.set_row_height(
        row + header_rows - 1,
        (header_lines as f64 * 15.0).max(15.0),
    )?;
    row += header_rows;
    if freeze {
        ws.set_freeze_panes(row, 0)?;
        ws.set_repeat_rows(header_top, row - 1)?;
    }
    for r in &t.rows {
        let b = usize::from(r.style != RowStyle::Normal);
        // Spreadsheet programs do not all grow a row to fit wrapped text when they open a file,
        // so the height is set from the text.
        let lines = r
            .cells
            .iter()
            .enumerate()
            .map(|(i, c)| match c {
                Cell::Text(s) => lines_needed(s, widths.get(i).copied().unwrap_or(10.0), 1.3),
                _ => 1,
            })
            .max()
            .unwrap_or(1);
        if lines > 1 {
            ws.set_row_height(row, (lines as f64 * 14.5 + 2.0).min(409.0))?;
        }
        for (i, cell) in r.cells.iter().enumerate() {
            let col = i as u16;
            let kind = t.columns.get(i).map(|c| c.kind).unwrap_or(ColumnKind::Text);
            let text_fmt = match kind {
                ColumnKind::Center => &f.center[b],
                _ => &f.text[b],
            };
            match cell {
                Cell::Empty => {
                    ws.write_blank(row, col, text_fmt)?;
                }
                Cell::Text(s) => {
                    ws.write_string_with_format(row, col, fit_cell(s).as_ref(), text_fmt)?;
                }
                Cell::Count(v) => {
                    ws.write_number_with_format(row, col, *v as f64, &f.int[b])?;
                }
                Cell::Money(d) => {
                    let fmt = if d % 1_000_000 == 0 {
                        &f.int[b]
                    } else if d % 100_000 == 0 {
                        &f.dec1[b]
                    } else {
                        &f.dec3[b]
                    };
                    ws.write_number_with_format(row, col, to_million(*d), fmt)?;
                }
            }
        }
        row += 1;
    }
    Ok(row)
}

fn write_section(ws: &mut Worksheet, f: &Formats, s: &Section) -> Result<(), XlsxError> {
    let widths = widths(s);
    let last = (widths.len() as u16).saturating_sub(1);
    let total_width: f64 = widths.iter().sum();
    for (i, w) in widths.iter().enumerate() {
        ws.set_column_width(i as u16, *w)?;
    }
    let mut row: u32 = 0;
    let mut frozen = false;
    let merged = |ws: &mut Worksheet, row: u32, text: &str, fmt: &Format| {
        if last > 0 {
            ws.merge_range(row, 0, row, last, text, fmt).map(|_| ())
        } else {
            ws.write_string_with_format(row, 0, text, fmt).map(|_| ())
        }
    };
    for b in &s.blocks {
        match b {
            Block::Title(t) => {
                merged(ws, row, t, &f.title)?;
                ws.set_row_height(row, 18.0 * lines_needed(t, total_width, 1.1) as f64)?;
                row += 1;
            }
            Block::Subtitle(t) => {
                merged(ws, row, t, &f.subtitle)?;
                ws.set_row_height(row, 16.0 * lines_needed(t, total_width, 1.1) as f64)?;
                row += 1;
            }
            Block::Heading(t) => {
                row += 1;
                merged(ws, row, t, &f.heading)?;
                ws.set_row_height(row, 16.0 * lines_needed(t, total_width, 1.1) as f64)?;
                row += 1;
            }
            Block::Paragraph(t) | Block::Bullet(t) => {
                let text = match b {
                    Block::Bullet(_) => format!("- {t}"),
                    _ => t.clone(),
                };
                merged(ws, row, fit_cell(&text).as_ref(), &f.paragraph)?;
                ws.set_row_height(row, 16.0 * lines_needed(&text, total_width, 1.2) as f64)?;
                row += 1;
            }
            Block::Table(t) => {
                row += 1;
                let freeze = s.freeze_header && !frozen;
                row = write_table(ws, f, t, row, &widths, freeze)?;
                frozen |= freeze;
                row += 1;
            }
        }
    }
    ws.set_landscape();
    ws.set_paper_size(9); // A4
    ws.set_print_fit_to_pages(1, 0);
    Ok(())
}

/// Excel's limit on the text of one cell.
const MAX_CELL_CHARS: usize = 32_767;

/// The text itself, or its beginning and a note when it exceeds what a cell can hold (HTML and
/// Markdown keep it whole).
fn fit_cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.len() <= MAX_CELL_CHARS || s.chars().count() <= MAX_CELL_CHARS {
        return std::borrow::Cow::Borrowed(s);
    }
    let note = " … (văn bản dài hơn giới hạn 32.767 ký tự của một ô; xem bản HTML)";
    let keep = MAX_CELL_CHARS - note.chars().count();
    std::borrow::Cow::Owned(s.chars().take(keep).chain(note.chars()).collect())
}

/// A workbook written one section at a time: each section goes to its own sheet as it comes
/// and can be dropped before the next is built, so that a report of several 100,000-row tables
/// never holds more than one of them (sheets are written in constant-memory mode).
pub struct Writer {
    book: Workbook,
    formats: Formats,
}

impl Default for Writer {
    fn default() -> Writer {
        Writer {
            book: Workbook::new(),
            formats: Formats::new(),
        }
    }
}

impl Writer {
    /// Writes `s` as the next sheet.
    pub fn section(&mut self, s: &Section) -> Result<(), XlsxError> {
        // Row by row to a temporary file: a 100,000-task appendix does not sit in memory.
        let ws = self.book.add_worksheet_with_constant_memory()?;
        ws.set_name(sheet_name(&s.sheet))?;
        write_section(ws, &self.formats, s)
    }

    /// Writes `sections` as the next sheets, in their order, on as many threads as the machine
    /// has processors: each sheet is its own temporary file, so a report whose rows are spread
    /// over several appendices writes them side by side. The largest sheets are handed out first,
    /// each to the thread with the fewest rows so far.
    pub fn sections(&mut self, sections: &[Section]) -> Result<(), XlsxError> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(sections.len());
        if threads <= 1 {
            return sections.iter().try_for_each(|s| self.section(s));
        }
        // A style's number in the file is the order in which the workbook first meets it: the
        // first sheet (the body) is written alone, then every style is met once in a fixed
        // order on a sheet that is never added, so that the same report is the same bytes
        // whichever thread writes first.
        let (first, sections) = sections.split_first().expect("at least two sections");
        self.section(first)?;
        let mut scratch = self.book.new_worksheet_with_constant_memory()?;
        for (i, format) in self.formats.all().into_iter().enumerate() {
            scratch.write_blank(0, i as u16, format)?;
        }
        drop(scratch);
        let mut sheets = Vec::with_capacity(sections.len());
        for s in sections {
            let mut ws = self.book.new_worksheet_with_constant_memory()?;
            ws.set_name(sheet_name(&s.sheet))?;
            sheets.push(ws);
        }
        let rows = |s: &Section| -> usize {
            s.blocks
                .iter()
                .map(|b| match b {
                    Block::Table(t) => t.rows.len(),
                    _ => 1,
                })
                .sum()
        };
        let mut by_size: Vec<usize> = (0..sections.len()).collect();
        by_size.sort_by_key(|&i| std::cmp::Reverse(rows(&sections[i])));
        let mut shares: Vec<(usize, Vec<(usize, Worksheet)>)> =
            (0..threads).map(|_| (0, Vec::new())).collect();
        let mut sheets: Vec<Option<Worksheet>> = sheets.into_iter().map(Some).collect();
        for i in by_size {
            let share = shares
                .iter_mut()
                .min_by_key(|(load, _)| *load)
                .expect("at least two threads");
            share.0 += rows(&sections[i]);
            share.1.extend(sheets[i].take().map(|ws| (i, ws)));
        }
        let formats = &self.formats;
        let written: Vec<Result<Vec<(usize, Worksheet)>, XlsxError>> =
            std::thread::scope(|scope| {
                let handles: Vec<_> = shares
                    .into_iter()
                    .map(|(_, mine)| {
                        scope.spawn(move || {
                            mine.into_iter()
                                .map(|(i, mut ws)| {
                                    write_section(&mut ws, formats, &sections[i])?;
                                    Ok((i, ws))
                                })
                                .collect()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            });
        for share in written {
            for (i, ws) in share? {
                sheets[i] = Some(ws);
            }
        }
        for ws in sheets.into_iter().flatten() {
            self.book.push_worksheet(ws);
        }
        Ok(())
    }

    /// The workbook's bytes, with `title` and `as_of` (the creation date) in its properties.
    pub fn finish(
        mut self,
        title: &str,
        as_of: Option<chrono::NaiveDate>,
    ) -> Result<Vec<u8>, XlsxError> {
        let mut props = rust_xlsxwriter::DocProperties::new()
            .set_title(title)
            .set_author("tiendo");
        if let Some(d) = as_of {
            use chrono::Datelike;
            if let Ok(created) = rust_xlsxwriter::ExcelDateTime::from_ymd(
                u16::try_from(d.year()).unwrap_or(2000),
                u8::try_from(d.month()).unwrap_or(1),
                u8::try_from(d.day()).unwrap_or(1),
            ) {
                props = props.set_creation_datetime(&created);
            }
        }
        self.book.set_properties(&props);
        // The fastest deflate level: a 100,000-task report is mostly text and compresses well
        // anyway, and the default level costs a third of the rendering time.
        self.book.set_zip_compression_level(1);
        self.book.save_to_buffer()
    }
}

/// A valid sheet name: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '-' } else { c })
        .take(31)
        .collect();
    if cleaned.trim().is_empty() {
        "Sheet".into()
    } else {
        cleaned
    }
}
