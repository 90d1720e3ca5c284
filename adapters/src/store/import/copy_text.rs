//! Rows in the text format of PostgreSQL's `COPY ... FROM STDIN`, for the import's new rows.
//!
//! A `COPY` is parsed and planned once and then inserts its rows through the executor's
//! multi-row path, where a multi-row `INSERT ... VALUES` of the same rows is a statement of
//! thousands of parameters parsed, planned and bound per chunk. The text format is written by
//! hand rather than CSV: CSV tells a NULL from an empty string only by quoting, which the
//! `csv` crate decides per field by itself; text marks NULL as `\N` and escapes the four
//! characters that mean something to it.

use std::fmt::Write as _;

use chrono::NaiveDate;
use engine::time::Instant;

/// One table's rows, tab-separated fields, a line each.
#[derive(Default)]
pub(super) struct CopyText {
    buf: String,
}

impl CopyText {
    /// The rows so far, to send as the `COPY`'s data.
    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.buf.into_bytes()
    }

    /// One row: its fields in the column order of the `COPY` statement.
    pub(super) fn row(&mut self, fields: &[&dyn Field]) {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.buf.push('\t');
            }
            f.put(&mut self.buf);
        }
        self.buf.push('\n');
    }
}

/// A value as a field of the text format.
pub(super) trait Field {
    fn put(&self, out: &mut String);
}

impl Field for str {
    fn put(&self, out: &mut String) {
        // Backslash starts an escape and tab, newline and carriage return end a field or a row;
        // everything else is taken as it is.
        let mut rest = self;
        while let Some(i) = rest.find(['\\', '\t', '\n', '\r']) {
            out.push_str(&rest[..i]);
            out.push_str(match rest.as_bytes()[i] {
                b'\\' => "\\\\",
                b'\t' => "\\t",
                b'\n' => "\\n",
                _ => "\\r",
            });
            rest = &rest[i + 1..];
        }
        out.push_str(rest);
    }
}

impl Field for String {
    fn put(&self, out: &mut String) {
        self.as_str().put(out);
    }
}

impl<T: Field + ?Sized> Field for &T {
    fn put(&self, out: &mut String) {
        (**self).put(out);
    }
}

/// A missing value is the column's NULL.
impl<T: Field> Field for Option<T> {
    fn put(&self, out: &mut String) {
        match self {
            Some(v) => v.put(out),
            None => out.push_str("\\N"),
        }
    }
}

impl Field for i64 {
    fn put(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Field for bool {
    fn put(&self, out: &mut String) {
        out.push(if *self { 't' } else { 'f' });
    }
}

impl Field for NaiveDate {
    fn put(&self, out: &mut String) {
        let _ = write!(out, "{}", self.format("%Y-%m-%d"));
    }
}

/// An instant to the microsecond, truncated, in UTC: what sqlx's binary encoding of the same
/// instant stores.
impl Field for Instant {
    fn put(&self, out: &mut String) {
        let _ = write!(out, "{}", self.format("%Y-%m-%d %H:%M:%S%.6f+00"));
    }
}

/// A value written as it is: a constant the statement gives every row.
pub(super) struct Raw(pub(super) &'static str);

impl Field for Raw {
    fn put(&self, out: &mut String) {
        out.push_str(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_the_text_format_reads_specially() {
        let mut t = CopyText::default();
        let name = "a\\b\tc\nd\re";
        let none: Option<&str> = None;
        t.row(&[&name, &none, &Some(""), &-5i64, &true]);
        assert_eq!(
            String::from_utf8(t.into_bytes()).unwrap(),
            "a\\\\b\\tc\\nd\\re\t\\N\t\t-5\tt\n"
        );
    }
}
