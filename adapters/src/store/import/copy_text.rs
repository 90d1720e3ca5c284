//! Rows in the text format of PostgreSQL's `COPY ... FROM STDIN`, for the import's new rows.
//!
//! A `COPY` is parsed and planned once and then inserts its rows through the executor's
//! multi-row path, where a multi-row `INSERT ... VALUES` of the same rows is a statement of
//! thousands of parameters parsed, planned and bound per chunk. The text format is written by
//! hand rather than CSV: CSV tells a NULL from an empty string only by quoting, which the
//! `csv` crate decides per field by itself; text marks NULL as `\N` and escapes the four
//! characters that mean something to it.

use std::fmt::Write as _;

use crate::store::sql::Arg;

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

    /// One row: its values in the column order of the `COPY` statement (the same list the
    /// SQLite path binds, see `import::task_values`).
    pub(super) fn row(&mut self, fields: &[Arg<'_>]) {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.buf.push('\t');
            }
            put(&mut self.buf, f);
        }
        self.buf.push('\n');
    }
}

/// `value` as a field of the text format; a missing value is the column's NULL (`\N`).
fn put(out: &mut String, value: &Arg<'_>) {
    match *value {
        Arg::Str(s) | Arg::OptStr(Some(s)) => escaped(out, s),
        Arg::Int(v) | Arg::OptInt(Some(v)) => {
            let _ = write!(out, "{v}");
        }
        Arg::Bool(v) => out.push(if v { 't' } else { 'f' }),
        // An instant to the microsecond, truncated, in UTC: what sqlx's binary encoding of the
        // same instant stores.
        Arg::Time(t) | Arg::OptTime(Some(t)) => {
            let _ = write!(out, "{}", t.format("%Y-%m-%d %H:%M:%S%.6f+00"));
        }
        Arg::Date(d) | Arg::OptDate(Some(d)) => {
            let _ = write!(out, "{}", d.format("%Y-%m-%d"));
        }
        Arg::OptStr(None) | Arg::OptInt(None) | Arg::OptTime(None) | Arg::OptDate(None) => {
            out.push_str("\\N")
        }
    }
}

/// Text as a field: backslash starts an escape and tab, newline and carriage return end a
/// field or a row; everything else is taken as it is.
fn escaped(out: &mut String, text: &str) {
    let mut rest = text;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_the_text_format_reads_specially() {
        let mut t = CopyText::default();
        t.row(&[
            Arg::Str("a\\b\tc\nd\re"),
            Arg::OptStr(None),
            Arg::OptStr(Some("")),
            Arg::Int(-5),
            Arg::Bool(true),
        ]);
        assert_eq!(
            String::from_utf8(t.into_bytes()).unwrap(),
            "a\\\\b\\tc\\nd\\re\t\\N\t\t-5\tt\n"
        );
    }
}
