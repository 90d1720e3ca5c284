//! Reading a catalogue file into a header and raw records ([`RawTable`]), each with the line
//! (CSV) or row (XLSX) number a person would look for in their editor or spreadsheet.
//!
//! The format is recognised by content, not by name: an XLSX workbook is a ZIP archive. CSV is
//! UTF-8 (a byte-order mark is allowed), comma-separated, or semicolon-separated when the header
//! has semicolons and no commas (what a spreadsheet set to Vietnamese exports).

use std::io::Cursor;
use std::path::Path;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use engine::catalogue::printed::Grid;
use engine::catalogue::{FileError, RawRecord, RawTable};

/// Reads `path` (CSV or XLSX; `sheet` chooses an XLSX sheet, default the first).
pub fn read_file(path: &Path, sheet: Option<&str>) -> Result<RawTable, FileError> {
    let (bytes, name) = read_path(path)?;
    read_bytes(&bytes, &name, sheet)
}

/// The bytes of the file at `path`, and its name (for messages and to tell CSV from XLSX).
fn read_path(path: &Path) -> Result<(Vec<u8>, String), FileError> {
    let bytes = std::fs::read(path)
        .map_err(|e| FileError(format!("Không đọc được tệp {}: {e}", path.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Ok((bytes, name))
}

/// Reads a catalogue from bytes; `name` is used in messages.
pub fn read_bytes(bytes: &[u8], name: &str, sheet: Option<&str>) -> Result<RawTable, FileError> {
    if bytes.starts_with(b"PK\x03\x04") {
        read_xlsx(bytes, name, sheet)
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        Err(FileError(format!(
            "Tệp {name} là bảng tính Excel 97-2003 (.xls), chưa được hỗ trợ: hãy lưu lại dưới dạng .xlsx hoặc .csv (UTF-8)."
        )))
    } else {
        if sheet.is_some() {
            return Err(FileError(format!(
                "Tệp {name} là tệp CSV, không có trang tính: bỏ --sheet."
            )));
        }
        read_csv(bytes, name)
    }
}

fn read_csv(bytes: &[u8], name: &str) -> Result<RawTable, FileError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = if first_line.contains(&b';') && !first_line.contains(&b',') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes);
    let mut table = RawTable {
        source: name.to_string(),
        ..RawTable::default()
    };
    let mut record = csv::ByteRecord::new();
    let mut have_header = false;
    // The csv crate's own line count skips blank lines and miscounts CRLF, so lines are counted
    // here from byte offsets: a record starts at the first byte after the line terminators that
    // its reported offset may still point at.
    let mut counted_to = 0usize;
    let mut line_at = 1usize;
    let mut line_of = |offset: u64| -> usize {
        let mut start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        if start > counted_to {
            line_at += bytes[counted_to..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            counted_to = start;
        }
        line_at
    };
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = line_of(record.position().map(|p| p.byte()).unwrap_or(0));
                if record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
                    continue;
                }
                let cells: Result<Vec<String>, String> = record
                    .iter()
                    .map(|c| {
                        std::str::from_utf8(c).map(str::to_string).map_err(|_| {
                            "không phải văn bản UTF-8 (hãy lưu tệp CSV với mã hóa UTF-8)"
                                .to_string()
                        })
                    })
                    .collect();
                if have_header {
                    table.records.push(RawRecord { line, cells });
                } else {
                    table.header = cells
                        .map_err(|e| FileError(format!("Tệp {name}, dòng tiêu đề {line}: {e}")))?;
                    table.header_line = line;
                    have_header = true;
                }
            }
            Err(e) => {
                let line = line_of(e.position().map(|p| p.byte()).unwrap_or(0));
                if !have_header {
                    return Err(FileError(format!(
                        "Tệp {name}: không đọc được dòng tiêu đề: {e}"
                    )));
                }
                table.records.push(RawRecord {
                    line,
                    cells: Err(format!("không đọc được dòng CSV: {e}")),
                });
            }
        }
    }
    if !have_header {
        return Err(FileError(format!(
            "Tệp {name} trống: cần một dòng tiêu đề và các dòng nhiệm vụ."
        )));
    }
    Ok(table)
}

/// Reads `path` as printed sheets: every sheet of an XLSX workbook (or only `sheet`), or the
/// one table of a CSV file, each row with its row (line) number, nothing skipped.
pub fn read_grids(path: &Path, sheet: Option<&str>) -> Result<Vec<Grid>, FileError> {
    let (bytes, name) = read_path(path)?;
    read_grids_bytes(bytes, &name, sheet)
}

/// [`read_grids`] from bytes; `name` is used in messages.
pub fn read_grids_bytes(
    bytes: Vec<u8>,
    name: &str,
    sheet: Option<&str>,
) -> Result<Vec<Grid>, FileError> {
    let name = name.to_string();
    if !bytes.starts_with(b"PK\x03\x04") {
        // A CSV file: its header is just its first row here.
        let t = read_bytes(&bytes, &name, sheet)?;
        let mut rows = vec![RawRecord {
            line: t.header_line,
            cells: Ok(t.header),
        }];
        rows.extend(t.records);
        return Ok(vec![Grid {
            source: name,
            sheet: None,
            rows,
        }]);
    }
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e| FileError(format!("Tệp {name} không phải bảng tính .xlsx hợp lệ: {e}")))?;
    let names = book.sheet_names();
    if let Some(s) = sheet
        && !names.iter().any(|n| n == s)
    {
        return Err(FileError(format!(
            "Tệp {name} không có trang tính «{s}»; các trang tính: {}.",
            names.join(", ")
        )));
    }
    let mut out = Vec::new();
    for sheet_name in names
        .iter()
        .filter(|n| sheet.is_none_or(|s| s == n.as_str()))
    {
        let range = book
            .worksheet_range(sheet_name)
            .map_err(|e| FileError(format!("Tệp {name}, trang «{sheet_name}»: {e}")))?;
        let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
        let rows = range
            .rows()
            .enumerate()
            .map(|(i, row)| RawRecord {
                line: first_row + i + 1,
                cells: row.iter().map(cell_text).collect(),
            })
            .collect();
        out.push(Grid {
            source: format!("{name} (trang «{sheet_name}»)"),
            sheet: Some(sheet_name.clone()),
            rows,
        });
    }
    Ok(out)
}

/// A cell as the text a person sees in it, with numbers written plainly (`526.2`, `6500`).
fn cell_text(d: &Data) -> Result<String, String> {
    Ok(match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", *f as i64)
            } else {
                format!("{f}")
            }
        }
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) => t.format("%d/%m/%Y").to_string(),
            None => return Err(format!("ô ngày tháng không đọc được ({dt})")),
        },
        Data::DateTimeIso(s) => {
            match chrono::NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d") {
                Ok(d) => d.format("%d/%m/%Y").to_string(),
                Err(_) => s.clone(),
            }
        }
        Data::DurationIso(s) => s.clone(),
        Data::Error(e) => return Err(format!("ô có lỗi công thức ({e})")),
    })
}

fn read_xlsx(bytes: &[u8], name: &str, sheet: Option<&str>) -> Result<RawTable, FileError> {
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e| FileError(format!("Tệp {name} không phải bảng tính .xlsx hợp lệ: {e}")))?;
    let names = book.sheet_names();
    let sheet_name = match sheet {
        Some(s) => names
            .iter()
            .find(|n| n.as_str() == s)
            .cloned()
            .ok_or_else(|| {
                FileError(format!(
                    "Tệp {name} không có trang tính «{s}»; các trang tính: {}.",
                    names.join(", ")
                ))
            })?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| FileError(format!("Tệp {name} không có trang tính nào.")))?,
    };
    let range = book
        .worksheet_range(&sheet_name)
        .map_err(|e| FileError(format!("Tệp {name}, trang «{sheet_name}»: {e}")))?;
    let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
    let mut table = RawTable {
        source: format!("{name} (trang «{sheet_name}»)"),
        short_rows_ok: true,
        ..RawTable::default()
    };
    // Sheets often carry a title above the header: the header is the first row with an
    // `appendix` cell (the first column of a catalogue and of a totals table), or else the first
    // non-empty row.
    let is_blank = |row: &[Data]| {
        row.iter().all(|c| match c {
            Data::Empty => true,
            Data::String(s) => s.trim().is_empty(),
            _ => false,
        })
    };
    let header_at = range
        .rows()
        .position(|row| {
            row.iter()
                .any(|c| matches!(c, Data::String(s) if s.trim().eq_ignore_ascii_case("appendix")))
        })
        .or_else(|| range.rows().position(|row| !is_blank(row)));
    let mut have_header = false;
    for (i, row) in range.rows().enumerate() {
        let line = first_row + i + 1;
        if header_at.is_none_or(|h| i < h) || is_blank(row) {
            continue;
        }
        let mut cells: Result<Vec<String>, String> = row.iter().map(cell_text).collect();
        if let Ok(c) = &mut cells {
            // A sheet's used range is as wide as its widest row: drop the empty tail.
            while c.last().is_some_and(|s| s.is_empty()) {
                c.pop();
            }
        }
        if have_header {
            table.records.push(RawRecord { line, cells });
        } else {
            table.header =
                cells.map_err(|e| FileError(format!("Tệp {name}, dòng tiêu đề {line}: {e}")))?;
            table.header_line = line;
            have_header = true;
        }
    }
    if !have_header {
        return Err(FileError(format!(
            "Trang «{sheet_name}» của tệp {name} trống: cần một dòng tiêu đề và các dòng nhiệm vụ."
        )));
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_keep_their_line_numbers_across_quoted_newlines_and_blank_lines() {
        let text = "a,b\n1,\"x\ny\"\n\n2,z\n";
        let t = read_bytes(text.as_bytes(), "t.csv", None).unwrap();
        assert_eq!(t.header, vec!["a", "b"]);
        assert_eq!(t.records.len(), 2);
        assert_eq!(t.records[0].line, 2);
        assert_eq!(t.records[1].line, 5);
        assert_eq!(t.records[0].cells.as_ref().unwrap()[1], "x\ny");
        let crlf = "a,b\r\n1,2\r\n\r\n3,4\r\n\r\n\r\n5,6";
        let t = read_bytes(crlf.as_bytes(), "t.csv", None).unwrap();
        let lines: Vec<usize> = t.records.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 4, 7]);
    }

    #[test]
    fn semicolons_bom_and_bad_utf8_are_handled() {
        let t = read_bytes("\u{feff}a;b\n1;2\n".as_bytes(), "t.csv", None).unwrap();
        assert_eq!(t.header, vec!["a", "b"]);
        assert_eq!(t.records[0].cells.as_ref().unwrap(), &vec!["1", "2"]);
        let t = read_bytes(b"a,b\n1,\xff\n", "t.csv", None).unwrap();
        assert!(t.records[0].cells.as_ref().unwrap_err().contains("UTF-8"));
        assert!(
            read_bytes(b"", "t.csv", None)
                .unwrap_err()
                .0
                .contains("trống")
        );
        assert!(
            read_bytes(&[0xD0, 0xCF, 0x11, 0xE0, 0], "t.xls", None)
                .unwrap_err()
                .0
                .contains(".xls")
        );
    }
}
