//! A file's cells as read, before any meaning is given to them: the input of the catalogue.
//!
//! The adapters read a CSV file or an XLSX sheet into a [`RawTable`] (a header and records, each
//! with the line a person would look for); everything from here on is pure.

/// One record as read: its cells, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// 1-based line (CSV: where the record starts) or row (XLSX).
    pub line: usize,
    pub cells: Result<Vec<String>, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawTable {
    /// For messages: the file name.
    pub source: String,
    pub header: Vec<String>,
    /// The header's line (normally 1).
    pub header_line: usize,
    /// Spreadsheets drop empty trailing cells, so a short row is not a broken one there; in a
    /// CSV file it is.
    pub short_rows_ok: bool,
    pub records: Vec<RawRecord>,
}

/// A file that cannot be read as a catalogue (or a totals table) at all, as opposed to a
/// malformed row. The message is Vietnamese and names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FileError(pub String);

/// A table for tests: `header` and each of `lines` split on commas (no quoting), the records
/// numbered from line 2, as a CSV file's.
#[cfg(test)]
pub(crate) fn csv_table(header: &str, lines: &[&str]) -> RawTable {
    let split = |l: &str| l.split(',').map(str::to_string).collect::<Vec<_>>();
    RawTable {
        source: "t.csv".into(),
        header: split(header),
        header_line: 1,
        short_rows_ok: false,
        records: lines
            .iter()
            .enumerate()
            .map(|(i, l)| RawRecord {
                line: i + 2,
                cells: Ok(split(l)),
            })
            .collect(),
    }
}
