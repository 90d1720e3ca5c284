//! The report as a document, independent of its file format: sections (one XLSX sheet each) of
//! titles, paragraphs, bullets and tables whose cells are typed (text, money, counts). The
//! progress and status reports build one; [`super::xlsx`], [`super::html`] and
//! [`super::markdown`] render it. Money is kept in đồng and shown in million VND.
//!
//! The official document UBND signs (issue 16) needs more structure than sections of blocks: the
//! NĐ 30/2020 header table, the title and subject, the basis, the numbered body, the closing,
//! Nơi nhận beside the signature block, then the appendices. [`Official`] holds it; its body and
//! appendices are the same [`Block`]s and [`Section`]s, built by [`super::official`] and
//! rendered by [`super::docx`].

use engine::money::format_million_vnd;

#[derive(Debug, Clone, Default)]
pub struct Document {
    /// The document's title (HTML `<title>`, XLSX properties).
    pub title: String,
    pub sections: Vec<Section>,
    /// The date the report's figures are as of: also its XLSX creation date, so that the same
    /// report of the same date is the same bytes whenever it is made.
    pub as_of: Option<chrono::NaiveDate>,
}

/// The official document in the form of NĐ 30/2020/NĐ-CP (Phụ lục I: văn bản hành chính).
#[derive(Debug, Clone, Default)]
pub struct Official {
    /// The document's title in its properties.
    pub title: String,
    /// The date the figures are as of, also the document's date (and its creation date in the
    /// file's properties, so that the same report is the same bytes whenever it is made).
    pub as_of: Option<chrono::NaiveDate>,
    /// "UBND THÀNH PHỐ HẢI PHÒNG": the issuer's superior, upper case, not bold.
    pub issuer_parent: String,
    /// "SỞ KHOA HỌC VÀ CÔNG NGHỆ": the issuer, upper case, bold.
    pub issuer: String,
    /// "Số: …/BC-SKHCN".
    pub number: String,
    /// "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM".
    pub motto_country: String,
    /// "Độc lập - Tự do - Hạnh phúc" (bold, underlined).
    pub motto: String,
    /// "Hải Phòng, ngày 05 tháng 11 năm 2025" (italic).
    pub place_date: String,
    /// "BÁO CÁO".
    pub kind: String,
    /// The subject line under the title (bold): "Tiến độ thực hiện Kế hoạch số … (lần 2)".
    pub subject: String,
    /// The basis paragraphs ("Thực hiện …").
    pub basis: Vec<String>,
    /// The numbered body: headings, paragraphs, bullets, tables.
    pub body: Vec<Block>,
    /// "Sở Khoa học và Công nghệ kính báo cáo UBND thành phố./.".
    pub closing: String,
    /// One recipient per line ("- UBND thành phố (để báo cáo);", "- Lưu: VT.").
    pub recipients: Vec<String>,
    /// "KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC" (bold, upper case); empty lines are left out.
    pub signer_titles: Vec<String>,
    /// The signer's name (bold), under the space for the signature; may be empty.
    pub signer_name: String,
    /// The appendices, each on its own page (landscape).
    pub appendices: Vec<Section>,
}

#[derive(Debug, Clone, Default)]
pub struct Section {
    /// The XLSX sheet name (at most 31 characters; no `[]:*?/\`).
    pub sheet: String,
    pub blocks: Vec<Block>,
    /// Freeze the panes below the header of the section's first table (XLSX).
    pub freeze_header: bool,
}

#[derive(Debug, Clone)]
pub enum Block {
    /// Centered, bold.
    Title(String),
    /// Centered, italic.
    Subtitle(String),
    Heading(String),
    Paragraph(String),
    Bullet(String),
    Table(Table),
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    /// "Đơn vị tính: Triệu đồng", printed right-aligned above the table.
    pub unit_note: Option<String>,
    pub columns: Vec<Column>,
    /// Titles spanning several columns in a first header row (merged cells).
    pub header_groups: Vec<HeaderGroup>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Short text, centered (TT, dates).
    Center,
    /// Text that wraps (names, progress).
    Text,
    /// Million VND.
    Money,
    /// Counts.
    Count,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub title: String,
    pub kind: ColumnKind,
    /// The widest this column may get, in characters; text wraps beyond it.
    pub max_width: f64,
}

impl Column {
    pub fn new(title: impl Into<String>, kind: ColumnKind, max_width: f64) -> Column {
        Column {
            title: title.into(),
            kind,
            max_width,
        }
    }
}

#[derive(Debug, Clone)]
pub struct HeaderGroup {
    pub title: String,
    pub first: usize,
    pub last: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStyle {
    Normal,
    /// A unit's row (Roman numeral) with its subtotal: bold.
    Unit,
    /// A funding group's row (A, B) with its subtotal: bold.
    Group,
    /// The closing total: bold.
    Total,
}

/// Tables with at least this many rows are written on every processor ([`write_rows`]).
const PARALLEL_ROWS: usize = 4096;

/// Appends the text `row` writes of each of `rows` to `out`, in order. A large table's rows
/// are cut into one run per processor, each written into a text of its own on a thread of its
/// own (the first on this one), then joined: the same text as writing them one after the other.
/// A thread the system refuses leaves its run to this thread.
pub(super) fn write_rows(out: &mut String, rows: &[Row], row: impl Fn(&mut String, &Row) + Sync) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    write_rows_on(threads, out, rows, row);
}

/// [`write_rows`] on at most `threads` threads.
fn write_rows_on(
    threads: usize,
    out: &mut String,
    rows: &[Row],
    row: impl Fn(&mut String, &Row) + Sync,
) {
    if threads < 2 || rows.len() < PARALLEL_ROWS {
        rows.iter().for_each(|r| row(out, r));
        return;
    }
    let row = &row;
    let mut runs = rows.chunks(rows.len().div_ceil(threads));
    let first = runs.next().unwrap_or_default();
    std::thread::scope(|scope| {
        let written: Vec<_> = runs
            .map(|run| {
                let spawned = std::thread::Builder::new()
                    .name("report-rows".into())
                    .spawn_scoped(scope, move || {
                        let mut text = String::new();
                        run.iter().for_each(|r| row(&mut text, r));
                        text
                    });
                (run, spawned.ok())
            })
            .collect();
        first.iter().for_each(|r| row(out, r));
        for (run, thread) in written {
            match thread {
                Some(t) => out.push_str(&t.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
                None => run.iter().for_each(|r| row(out, r)),
            }
        }
    });
}

#[derive(Debug, Clone)]
pub struct Row {
    pub style: RowStyle,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Empty,
    Text(String),
    /// đồng; shown in million VND.
    Money(i64),
    Count(i64),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    pub fn money(v: Option<i64>) -> Cell {
        v.map(Cell::Money).unwrap_or(Cell::Empty)
    }

    /// The cell as displayed: Vietnamese number format for amounts (1.234,5).
    pub fn display(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Cell::Empty => "".into(),
            Cell::Text(s) => s.as_str().into(),
            Cell::Money(d) => format_million_vnd(*d, 3).into(),
            Cell::Count(n) => group_thousands(*n).into(),
        }
    }
}

/// 12345 → "12.345".
pub fn group_thousands(n: i64) -> String {
    format_million_vnd(n.saturating_mul(1_000_000), 0)
}

/// A sum of amounts that stays blank when every amount is blank (as the printed report does).
pub fn sum_opt(values: impl IntoIterator<Item = Option<i64>>) -> Option<i64> {
    values.into_iter().fold(None, |acc, v| match (acc, v) {
        (None, v) => v,
        (Some(a), Some(b)) => Some(a + b),
        (a, None) => a,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_display_the_vietnamese_way() {
        assert_eq!(Cell::Money(207_311_600_000).display(), "207.311,6");
        assert_eq!(Cell::Money(6_500_000_000).display(), "6.500");
        assert_eq!(Cell::Count(12345).display(), "12.345");
        assert_eq!(sum_opt([None, None]), None);
        assert_eq!(sum_opt([None, Some(2), Some(3)]), Some(5));
    }

    /// A large table written on several threads is the text written on one.
    #[test]
    fn rows_written_side_by_side_are_the_rows_written_in_turn() {
        let rows: Vec<Row> = (0..PARALLEL_ROWS as i64 * 2 + 7)
            .map(|i| Row {
                style: RowStyle::Normal,
                cells: vec![Cell::Count(i), Cell::Text(format!("nhiệm vụ {i}"))],
            })
            .collect();
        let row = |out: &mut String, r: &Row| {
            for c in &r.cells {
                out.push_str(&c.display());
                out.push('|');
            }
            out.push('\n');
        };
        let mut in_turn = String::from("đầu\n");
        write_rows_on(1, &mut in_turn, &rows, row);
        for threads in [2, 3, 8] {
            let mut side_by_side = String::from("đầu\n");
            write_rows_on(threads, &mut side_by_side, &rows, row);
            assert_eq!(side_by_side, in_turn, "{threads} threads");
        }
        let last = rows.len() - 1;
        let last_line = format!("{}|nhiệm vụ {last}|\n", Cell::Count(last as i64).display());
        assert!(in_turn.ends_with(&last_line), "{last_line}");
    }
}
