//! Vietnamese civil-service working days, loaded from one data file per calendar and year.
//!
//! Legal deadlines in tiendo are counted either in working days or in calendar days, and both
//! depend on which days the offices are open: Monday to Friday (QĐ 188/1999/QĐ-TTg), minus the
//! public holidays of Bộ luật Lao động 2019 Điều 112, minus the compensatory and swapped days the
//! Prime Minister fixes every year, plus the Saturdays worked in exchange. Only the first part is a
//! formula; the rest is announced year by year, so it is data: `workflows/calendars/NAME-YEAR.toml`
//! (format in `workflows/README.md`, "Calendars").
//!
//! The adapters read those files; this module parses them ([`CalendarYear::parse`]), assembles them
//! into a [`Calendar`], and answers every day question the workflow engine asks: is a day worked,
//! when a period of N working or calendar days ends, how many working days lie between two
//! instants. A date in a year with no file is an error ([`CalendarError::OutOfRange`]), never a
//! guess: a silently wrong deadline on a state task is worse than a refusal to compute one.
//!
//! Counting follows Bộ luật Dân sự 2015: the day of the triggering event is not counted
//! (Điều 147) and a period ends at the end of its last day, moved to the end of the next working
//! day when that day is not worked (Điều 148). "End of day" is 23:59:59 in Vietnam
//! ([`crate::time::end_of_day`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;

use chrono::{Datelike, Days, NaiveDate, NaiveTime, Weekday};
use serde::Deserialize;
use toml::Spanned;

use crate::time::{Instant, at_local, end_of_day, format_date, local_date};

/// One year of one calendar, as written in `workflows/calendars/NAME-YEAR.toml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarYear {
    /// The calendar's name (`vn`): several calendars may exist, e.g. for a unit that works
    /// Saturdays.
    pub calendar: String,
    pub year: i32,
    /// True while the Prime Minister's notice for the year is not published; deadlines computed
    /// on such a year should be shown as provisional.
    pub provisional: bool,
    /// The legal sources of the file, for people reading a deadline.
    pub source: String,
    /// Days off with their names. May include weekend days of a break (harmless, and lets the
    /// day be named).
    pub days_off: BTreeMap<NaiveDate, String>,
    /// Saturdays and Sundays that are worked in exchange for a weekday off.
    pub working_days: BTreeMap<NaiveDate, String>,
}

/// What a day is, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayInfo {
    pub date: NaiveDate,
    pub working: bool,
    /// The holiday's name for a day off, the swap's name for a worked weekend day, "Thứ Bảy" or
    /// "Chủ nhật" for an ordinary weekend day, `None` for an ordinary weekday.
    pub reason: Option<String>,
}

/// A calendar: its years, each from one file.
#[derive(Clone, Debug)]
pub struct Calendar {
    name: String,
    years: BTreeMap<i32, CalendarYear>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The date's year has no file: the caller must not guess.
    #[error(
        "calendar `{calendar}` has no data for {} (loaded years: {}); add workflows/calendars/{}",
        format_date(*.date),
        year_list(.loaded),
        file_name(.calendar, .date.year())
    )]
    OutOfRange {
        calendar: String,
        date: NaiveDate,
        loaded: Vec<i32>,
    },

    /// A calendar file is malformed or contradicts itself.
    #[error("{file}{}: {message}", line_suffix(*.line))]
    Invalid {
        file: String,
        line: Option<usize>,
        message: String,
    },

    /// A year file of another calendar was handed to [`Calendar::new`].
    #[error("calendar `{expected}`: the file for {year} belongs to calendar `{found}`")]
    WrongCalendar {
        expected: String,
        found: String,
        year: i32,
    },

    /// Two files for the same year were handed to [`Calendar::new`].
    #[error("calendar `{calendar}` has two files for {year}")]
    DuplicateYear { calendar: String, year: i32 },

    /// A count went past the last instant chrono can represent (only reachable with absurd
    /// counts, since any realistic one leaves the loaded years first).
    #[error("the deadline is past the last representable date")]
    Overflow,
}

/// `vn-2026.toml`: the file that holds `year` of `calendar`.
pub fn file_name(calendar: &str, year: i32) -> String {
    format!("{calendar}-{year}.toml")
}

/// The Vietnamese name of a date's weekday, as written in documents ("Thứ Hai", "Chủ nhật").
pub fn weekday_name(date: NaiveDate) -> &'static str {
    match date.weekday() {
        Weekday::Mon => "Thứ Hai",
        Weekday::Tue => "Thứ Ba",
        Weekday::Wed => "Thứ Tư",
        Weekday::Thu => "Thứ Năm",
        Weekday::Fri => "Thứ Sáu",
        Weekday::Sat => "Thứ Bảy",
        Weekday::Sun => "Chủ nhật",
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn year_list(years: &[i32]) -> String {
    if years.is_empty() {
        return "none".to_string();
    }
    years
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

/// 1-based line of a byte offset. Counting bytes rather than slicing the `str` keeps an offset
/// that falls inside a multi-byte character (Vietnamese names) from panicking.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

// The file as TOML sees it. Spans are kept so that semantic errors can point at a line: the
// person fixing a calendar file is an administrator with a text editor, not a developer.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    calendar: Spanned<String>,
    year: Spanned<i64>,
    provisional: bool,
    source: Spanned<String>,
    #[serde(default)]
    days_off: Vec<RawEntry>,
    // A year may have no swap at all (2027 before its notice), so the table may be absent.
    #[serde(default)]
    working_days: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    // chrono's serde support reads dates from strings, but the format uses TOML dates
    // (`date = 2026-02-16`), which toml hands over as its own Datetime.
    date: Spanned<toml::value::Datetime>,
    name: Spanned<String>,
}

impl CalendarYear {
    /// Parses and validates one calendar file. `file` names it in error messages.
    pub fn parse(file: &str, text: &str) -> Result<CalendarYear, CalendarError> {
        let invalid = |span: Option<Range<usize>>, message: String| CalendarError::Invalid {
            file: file.to_string(),
            line: span.map(|s| line_of(text, s.start)),
            message,
        };

        let raw: RawYear =
            toml::from_str(text).map_err(|e| invalid(e.span(), e.message().trim().to_string()))?;

        let calendar = raw.calendar.get_ref().trim().to_string();
        // The name becomes part of a file name (`vn-2028.toml` in error messages), so keep it
        // to characters that are safe there.
        if calendar.is_empty()
            || !calendar
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(invalid(
                Some(raw.calendar.span()),
                format!(
                    "calendar name `{calendar}` must be non-empty letters, digits, `-` or `_` (e.g. `vn`)"
                ),
            ));
        }

        // TOML dates have four-digit years; a year outside them could never match an entry.
        let year = i32::try_from(*raw.year.get_ref())
            .ok()
            .filter(|y| (0..=9999).contains(y))
            .ok_or_else(|| {
                invalid(
                    Some(raw.year.span()),
                    format!("year {} is out of range 0..=9999", raw.year.get_ref()),
                )
            })?;

        check_file_name(file, &calendar, year).map_err(|m| invalid(Some(raw.year.span()), m))?;

        if raw.source.get_ref().trim().is_empty() {
            return Err(invalid(
                Some(raw.source.span()),
                "`source` is empty: cite the law and the notice the days come from".to_string(),
            ));
        }

        let days_off = collect_entries("days_off", &raw.days_off, year, &invalid, text)?;
        let working_days =
            collect_entries("working_days", &raw.working_days, year, &invalid, text)?;

        for (date, (_, span)) in &working_days {
            // A worked weekday would change nothing, so it is almost certainly a typo for the
            // Saturday the notice names; reject it rather than let the swap silently vanish.
            if !is_weekend(*date) {
                return Err(invalid(
                    Some(span.clone()),
                    format!(
                        "working day {date} is a {}; [[working_days]] lists only Saturdays and Sundays that are worked (a weekday is a working day already)",
                        date.format("%A")
                    ),
                ));
            }
            if let Some((_, off_span)) = days_off.get(date) {
                return Err(invalid(
                    Some(span.clone()),
                    format!(
                        "{date} is both a working day and a day off (in [[days_off]] on line {})",
                        line_of(text, off_span.start)
                    ),
                ));
            }
        }

        let strip = |m: BTreeMap<NaiveDate, (String, Range<usize>)>| {
            m.into_iter()
                .map(|(d, (name, _))| (d, name))
                .collect::<BTreeMap<_, _>>()
        };
        Ok(CalendarYear {
            calendar,
            year,
            provisional: raw.provisional,
            source: raw.source.into_inner().trim().to_string(),
            days_off: strip(days_off),
            working_days: strip(working_days),
        })
    }

    /// Is `date` worked, by this year's data? `None` if `date` is not in this year.
    pub fn is_working_day(&self, date: NaiveDate) -> Option<bool> {
        if date.year() != self.year {
            return None;
        }
        // Days off first: a listed day off on a weekend stays off, and validation guarantees no
        // date is in both maps.
        Some(if self.days_off.contains_key(&date) {
            false
        } else if self.working_days.contains_key(&date) {
            true
        } else {
            !is_weekend(date)
        })
    }
}

/// When a file is named like `NAME-YEAR.toml`, its contents must agree: copying last year's file
/// and forgetting to change `year` is the likeliest mistake an administrator makes.
fn check_file_name(file: &str, calendar: &str, year: i32) -> Result<(), String> {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let Some(stem) = base.strip_suffix(".toml") else {
        return Ok(());
    };
    let Some((name, file_year)) = stem.rsplit_once('-') else {
        return Ok(());
    };
    let Ok(file_year) = file_year.parse::<i32>() else {
        return Ok(());
    };
    if file_year != year || name != calendar {
        return Err(format!(
            "the file is named {base} but says calendar = \"{calendar}\", year = {year}; rename it {} or fix its contents",
            file_name(calendar, year)
        ));
    }
    Ok(())
}

fn collect_entries(
    table: &str,
    entries: &[RawEntry],
    year: i32,
    invalid: &impl Fn(Option<Range<usize>>, String) -> CalendarError,
    text: &str,
) -> Result<BTreeMap<NaiveDate, (String, Range<usize>)>, CalendarError> {
    let mut out: BTreeMap<NaiveDate, (String, Range<usize>)> = BTreeMap::new();
    for entry in entries {
        let span = entry.date.span();
        let dt = entry.date.get_ref();
        let date = match (dt.date, dt.time, dt.offset) {
            (Some(d), None, None) => {
                NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
            }
            _ => None,
        }
        .ok_or_else(|| {
            invalid(
                Some(span.clone()),
                format!(
                    "`{dt}` in [[{table}]] is not a date: write a bare date such as {year}-02-16"
                ),
            )
        })?;
        if date.year() != year {
            return Err(invalid(
                Some(span),
                format!("{date} in [[{table}]] is not in {year}: each file holds one year"),
            ));
        }
        let name = entry.name.get_ref().trim();
        if name.is_empty() {
            return Err(invalid(
                Some(entry.name.span()),
                format!("{date} in [[{table}]] has an empty name: give its Vietnamese name"),
            ));
        }
        if let Some((_, first)) = out.get(&date) {
            return Err(invalid(
                Some(span),
                format!(
                    "{date} is listed twice in [[{table}]] (first on line {})",
                    line_of(text, first.start)
                ),
            ));
        }
        out.insert(date, (name.to_string(), span));
    }
    Ok(out)
}

impl Calendar {
    /// Assembles the years of one calendar. The years need not be contiguous; a gap is simply a
    /// range of dates that are out of range.
    pub fn new(name: &str, years: Vec<CalendarYear>) -> Result<Calendar, CalendarError> {
        let mut map = BTreeMap::new();
        for y in years {
            if y.calendar != name {
                return Err(CalendarError::WrongCalendar {
                    expected: name.to_string(),
                    found: y.calendar,
                    year: y.year,
                });
            }
            if map.contains_key(&y.year) {
                return Err(CalendarError::DuplicateYear {
                    calendar: name.to_string(),
                    year: y.year,
                });
            }
            map.insert(y.year, y);
        }
        Ok(Calendar {
            name: name.to_string(),
            years: map,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The loaded years, in order.
    pub fn years(&self) -> impl Iterator<Item = &CalendarYear> {
        self.years.values()
    }

    pub fn year(&self, y: i32) -> Option<&CalendarYear> {
        self.years.get(&y)
    }

    fn year_of(&self, d: NaiveDate) -> Result<&CalendarYear, CalendarError> {
        self.years
            .get(&d.year())
            .ok_or_else(|| CalendarError::OutOfRange {
                calendar: self.name.clone(),
                date: d,
                loaded: self.years.keys().copied().collect(),
            })
    }

    pub fn is_working_day(&self, d: NaiveDate) -> Result<bool, CalendarError> {
        let y = self.year_of(d)?;
        // `year_of` picked the year of `d`, so the year answers.
        Ok(y.is_working_day(d).unwrap_or(false))
    }

    pub fn day_info(&self, d: NaiveDate) -> Result<DayInfo, CalendarError> {
        let y = self.year_of(d)?;
        let (working, reason) = if let Some(name) = y.days_off.get(&d) {
            (false, Some(name.clone()))
        } else if let Some(name) = y.working_days.get(&d) {
            (true, Some(name.clone()))
        } else if is_weekend(d) {
            (false, Some(weekday_name(d).to_string()))
        } else {
            (true, None)
        };
        Ok(DayInfo {
            date: d,
            working,
            reason,
        })
    }

    /// The first working day strictly after `d`. The walk always ends: either a working day is
    /// found or it leaves the loaded years and fails with `OutOfRange`.
    pub fn next_working_day(&self, d: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let mut day = d;
        loop {
            day = day.succ_opt().ok_or(CalendarError::Overflow)?;
            if self.is_working_day(day)? {
                return Ok(day);
            }
        }
    }

    fn working_day_on_or_after(&self, d: NaiveDate) -> Result<NaiveDate, CalendarError> {
        if self.is_working_day(d)? {
            Ok(d)
        } else {
            self.next_working_day(d)
        }
    }

    /// The end of a period of `n` working days starting at `from`: 23:59:59 local on the n-th
    /// working day after the local date of `from`. That date itself is not counted (BLDS 2015
    /// Điều 147), whatever the hour and whether or not it is worked, so its year need not even
    /// be loaded. `n = 0` means "by the end of today's working day": the end of `from`'s day if
    /// it is worked, else of the next working day.
    pub fn working_days_after(&self, from: Instant, n: u32) -> Result<Instant, CalendarError> {
        let start = local_date(from);
        if n == 0 {
            return Ok(end_of_day(self.working_day_on_or_after(start)?));
        }
        let mut day = start;
        for _ in 0..n {
            day = self.next_working_day(day)?;
        }
        Ok(end_of_day(day))
    }

    /// The end of a period of `n` calendar days starting at `from`: the end of local date + n,
    /// moved to the end of the next working day when that day is not worked (BLDS 2015
    /// Điều 148). Days off inside the period still count; only the last day moves.
    pub fn calendar_days_after(&self, from: Instant, n: u32) -> Result<Instant, CalendarError> {
        let start = local_date(from);
        let last = start
            .checked_add_days(Days::new(u64::from(n)))
            .ok_or(CalendarError::Overflow)?;
        Ok(end_of_day(self.working_day_on_or_after(last)?))
    }

    /// The working days `d` with `local_date(a) < d <= local_date(b)`: how many working days of a
    /// period have elapsed at `b` (so `working_days_between(from, working_days_after(from, n))`
    /// is `n` for `n >= 1`). Negative, mirrored, when `b` is before `a`; 0 on the same day.
    pub fn working_days_between(&self, a: Instant, b: Instant) -> Result<i64, CalendarError> {
        let (da, db) = (local_date(a), local_date(b));
        if da <= db {
            self.count_working(da, db)
        } else {
            self.count_working(db, da).map(|n| -n)
        }
    }

    /// Working days in `(after, through]`. A plain day walk: spans are bounded by the loaded
    /// years (a few thousand days at most) before `OutOfRange` stops them.
    fn count_working(&self, after: NaiveDate, through: NaiveDate) -> Result<i64, CalendarError> {
        let mut count = 0;
        let mut day = after;
        while day < through {
            day = day.succ_opt().ok_or(CalendarError::Overflow)?;
            if self.is_working_day(day)? {
                count += 1;
            }
        }
        Ok(count)
    }

    /// `at` itself if it falls on a working day (local date); otherwise 08:00 local on the next
    /// working day. Reminders go through this so nobody is paged during Tết, while a reminder
    /// already due on a working day keeps its hour.
    pub fn working_morning_on_or_after(&self, at: Instant) -> Result<Instant, CalendarError> {
        let day = local_date(at);
        if self.is_working_day(day)? {
            return Ok(at);
        }
        let next = self.next_working_day(day)?;
        let eight = NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN);
        Ok(at_local(next, eight))
    }

    /// The loaded years as text (`2025, 2026, 2027`), for messages.
    pub fn loaded_years(&self) -> String {
        let years: Vec<i32> = self.years.keys().copied().collect();
        year_list(&years)
    }

    /// The working days of a loaded year, counted; `None` if the year is not loaded.
    pub fn working_days_in_year(&self, y: i32) -> Option<u32> {
        let year = self.years.get(&y)?;
        let mut day = NaiveDate::from_ymd_opt(y, 1, 1)?;
        let mut count = 0;
        while day.year() == y {
            if year.is_working_day(day) == Some(true) {
                count += 1;
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        Some(count)
    }
}

/// A one-line summary of a calendar's years, for logs: `vn: 2025, 2026, 2027 (2027 provisional)`.
pub fn summary(calendar: &Calendar) -> String {
    let mut s = format!("{}: {}", calendar.name(), calendar.loaded_years());
    let provisional: Vec<i32> = calendar
        .years()
        .filter(|y| y.provisional)
        .map(|y| y.year)
        .collect();
    if !provisional.is_empty() {
        let _ = write!(s, " ({} provisional)", year_list(&provisional));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{format_instant, parse_instant};
    use proptest::prelude::*;

    const VN_2025: &str = include_str!("../../workflows/calendars/vn-2025.toml");
    const VN_2026: &str = include_str!("../../workflows/calendars/vn-2026.toml");
    const VN_2027: &str = include_str!("../../workflows/calendars/vn-2027.toml");

    fn vn() -> Calendar {
        let years = [
            ("vn-2025.toml", VN_2025),
            ("vn-2026.toml", VN_2026),
            ("vn-2027.toml", VN_2027),
        ]
        .into_iter()
        .map(|(f, t)| CalendarYear::parse(f, t).unwrap_or_else(|e| panic!("{e}")))
        .collect();
        Calendar::new("vn", years).unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn at(s: &str) -> Instant {
        parse_instant(s).unwrap()
    }

    fn working(cal: &Calendar, s: &str) -> bool {
        cal.is_working_day(d(s)).unwrap()
    }

    #[test]
    fn shipped_files_parse_with_their_flags() {
        let cal = vn();
        assert_eq!(cal.name(), "vn");
        assert_eq!(
            cal.years().map(|y| y.year).collect::<Vec<_>>(),
            [2025, 2026, 2027]
        );
        assert!(!cal.year(2025).unwrap().provisional);
        assert!(!cal.year(2026).unwrap().provisional);
        assert!(cal.year(2027).unwrap().provisional);
        assert_eq!(summary(&cal), "vn: 2025, 2026, 2027 (2027 provisional)");
    }

    #[test]
    fn official_2026_days() {
        let cal = vn();
        // Tết Dương lịch 1–4/1, Friday 2/1 swapped with Saturday 10/1.
        for day in ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"] {
            assert!(!working(&cal, day), "{day}");
        }
        assert!(working(&cal, "2026-01-05"));
        assert!(working(&cal, "2026-01-10"), "Saturday 10/1/2026 is worked");
        assert!(!working(&cal, "2026-01-11"));
        // Tết 14–22/2.
        for day in 14..=22 {
            assert!(!working(&cal, &format!("2026-02-{day:02}")), "{day}/2");
        }
        assert!(working(&cal, "2026-02-13"));
        assert!(working(&cal, "2026-02-23"));
        // Giỗ Tổ on Sunday 26/4, compensated Monday 27/4; 30/4 and 1/5.
        assert!(!working(&cal, "2026-04-27"));
        assert!(working(&cal, "2026-04-28"));
        assert!(working(&cal, "2026-04-29"));
        assert!(!working(&cal, "2026-04-30"));
        assert!(!working(&cal, "2026-05-01"));
        assert!(working(&cal, "2026-05-04"));
        // Quốc khánh 29/8–2/9, Monday 31/8 swapped with Saturday 22/8.
        assert!(working(&cal, "2026-08-22"), "Saturday 22/8/2026 is worked");
        for day in [
            "2026-08-29",
            "2026-08-30",
            "2026-08-31",
            "2026-09-01",
            "2026-09-02",
        ] {
            assert!(!working(&cal, day), "{day}");
        }
        assert!(working(&cal, "2026-09-03"));
        // 2026 has 261 weekdays (365 days from a Thursday); 13 of them are off (1/1, 2/1,
        // 16–20/2, 27/4, 30/4, 1/5, 31/8, 1/9, 2/9) and 2 Saturdays are worked.
        assert_eq!(cal.working_days_in_year(2026), Some(261 - 13 + 2));
    }

    #[test]
    fn day_info_names_the_reason() {
        let cal = vn();
        let tet = cal.day_info(d("2026-02-16")).unwrap();
        assert_eq!(
            tet,
            DayInfo {
                date: d("2026-02-16"),
                working: false,
                reason: Some("Tết Nguyên đán".into())
            }
        );
        let swapped = cal.day_info(d("2026-01-10")).unwrap();
        assert!(swapped.working);
        assert_eq!(
            swapped.reason.as_deref(),
            Some("Làm bù cho ngày 02/01/2026")
        );
        let sunday = cal.day_info(d("2026-03-08")).unwrap();
        assert_eq!(
            (sunday.working, sunday.reason.as_deref()),
            (false, Some("Chủ nhật"))
        );
        let saturday = cal.day_info(d("2026-03-07")).unwrap();
        assert_eq!(saturday.reason.as_deref(), Some("Thứ Bảy"));
        let plain = cal.day_info(d("2026-03-09")).unwrap();
        assert_eq!((plain.working, plain.reason), (true, None));
    }

    #[test]
    fn working_day_deadline_skips_tet() {
        let cal = vn();
        // From 09:00 Friday 13/2/2026, 15 working days; 13/2 itself is not counted, 14–22/2 is
        // Tết. 23–27/2 are days 1–5, 2–6/3 days 6–10, 9–13/3 days 11–15: Friday 13/3/2026.
        let from = at("2026-02-13T09:00");
        let due = cal.working_days_after(from, 15).unwrap();
        assert_eq!(due, end_of_day(d("2026-03-13")));
        assert_eq!(format_instant(due), "13/03/2026 23:59");
        assert_eq!(due.to_rfc3339(), "2026-03-13T16:59:59+00:00");
        // 10 working days end on Friday 6/3/2026.
        assert_eq!(
            cal.working_days_after(from, 10).unwrap(),
            end_of_day(d("2026-03-06"))
        );
        // 5 working days requested at 23:30 on Friday 2/1/2026 (a day off): 5/1–9/1 are days 1–5.
        assert_eq!(
            cal.working_days_after(at("2026-01-02T23:30"), 5).unwrap(),
            end_of_day(d("2026-01-09"))
        );
        // 6 days: Saturday 10/1 is worked and counts.
        assert_eq!(
            cal.working_days_after(at("2026-01-02T23:30"), 6).unwrap(),
            end_of_day(d("2026-01-10"))
        );
    }

    #[test]
    fn working_day_zero_is_today_or_the_next_working_day() {
        let cal = vn();
        assert_eq!(
            cal.working_days_after(at("2026-02-13T09:00"), 0).unwrap(),
            end_of_day(d("2026-02-13"))
        );
        assert_eq!(
            cal.working_days_after(at("2026-02-16T09:00"), 0).unwrap(),
            end_of_day(d("2026-02-23"))
        );
    }

    #[test]
    fn the_start_day_is_read_in_vietnamese_time() {
        let cal = vn();
        // 2026-02-12T18:00Z is 01:00 on Friday 13/2 in Hải Phòng, so 13/2 is the uncounted day.
        let from: Instant = "2026-02-12T18:00:00Z".parse().unwrap();
        assert_eq!(
            cal.working_days_after(from, 1).unwrap(),
            end_of_day(d("2026-02-23"))
        );
    }

    #[test]
    fn calendar_day_deadline_moves_off_days_off() {
        let cal = vn();
        // 20 days from Friday 13/2/2026: Thursday 5/3, a working day; Tết inside the period counts.
        assert_eq!(
            cal.calendar_days_after(at("2026-02-13T09:00"), 20).unwrap(),
            end_of_day(d("2026-03-05"))
        );
        // 5 days from Monday 2/3/2026 ends on Saturday 7/3: moved to the end of Monday 9/3.
        assert_eq!(
            cal.calendar_days_after(at("2026-03-02T10:00"), 5).unwrap(),
            end_of_day(d("2026-03-09"))
        );
        // 6 days from Monday 20/4/2026 ends on Sunday 26/4; Monday 27/4 is the Giỗ Tổ compensatory
        // day, so the period ends on Tuesday 28/4.
        assert_eq!(
            cal.calendar_days_after(at("2026-04-20T10:00"), 6).unwrap(),
            end_of_day(d("2026-04-28"))
        );
        // 10 days from 20/4 ends on 30/4: 30/4–3/5 are off, so Monday 4/5.
        assert_eq!(
            cal.calendar_days_after(at("2026-04-20T10:00"), 10).unwrap(),
            end_of_day(d("2026-05-04"))
        );
        // Ending on a worked Saturday stays there: 31/12/2025 + 10 = Saturday 10/1/2026.
        assert_eq!(
            cal.calendar_days_after(at("2025-12-31T10:00"), 10).unwrap(),
            end_of_day(d("2026-01-10"))
        );
        // 0 days on a day off: the next working day.
        assert_eq!(
            cal.calendar_days_after(at("2026-02-14T10:00"), 0).unwrap(),
            end_of_day(d("2026-02-23"))
        );
    }

    #[test]
    fn working_days_between_across_tet() {
        let cal = vn();
        let a = at("2026-02-13T09:00");
        assert_eq!(
            cal.working_days_between(a, at("2026-02-13T17:00")).unwrap(),
            0
        );
        assert_eq!(
            cal.working_days_between(a, at("2026-02-22T17:00")).unwrap(),
            0
        );
        assert_eq!(
            cal.working_days_between(a, at("2026-02-23T08:00")).unwrap(),
            1
        );
        // 12/2 → 24/2: 13/2, 23/2, 24/2.
        assert_eq!(
            cal.working_days_between(at("2026-02-12T09:00"), at("2026-02-24T09:00"))
                .unwrap(),
            3
        );
        assert_eq!(
            cal.working_days_between(at("2026-02-24T09:00"), at("2026-02-12T09:00"))
                .unwrap(),
            -3
        );
        // Across the year boundary: 31/12/2025 → 10/1/2026 has 5–9/1 and Saturday 10/1.
        assert_eq!(
            cal.working_days_between(at("2025-12-31T09:00"), at("2026-01-10T09:00"))
                .unwrap(),
            6
        );
    }

    #[test]
    fn next_working_day_and_morning() {
        let cal = vn();
        assert_eq!(
            cal.next_working_day(d("2026-02-13")).unwrap(),
            d("2026-02-23")
        );
        assert_eq!(
            cal.next_working_day(d("2026-01-09")).unwrap(),
            d("2026-01-10")
        );
        let during_tet = at("2026-02-17T09:30");
        assert_eq!(
            cal.working_morning_on_or_after(during_tet).unwrap(),
            at_local(d("2026-02-23"), NaiveTime::from_hms_opt(8, 0, 0).unwrap())
        );
        let workday = at("2026-02-24T21:15");
        assert_eq!(cal.working_morning_on_or_after(workday).unwrap(), workday);
    }

    #[test]
    fn the_2025_and_2027_files() {
        let cal = vn();
        assert!(!working(&cal, "2025-01-29"));
        assert!(working(&cal, "2025-04-26"), "Saturday 26/4/2025 is worked");
        assert!(!working(&cal, "2025-05-02"));
        assert!(!working(&cal, "2025-09-01"));
        assert!(working(&cal, "2025-09-03"));
        assert!(!working(&cal, "2027-02-11"));
        assert!(working(&cal, "2027-02-12"));
        assert!(!working(&cal, "2027-05-03"));
        assert!(!working(&cal, "2027-09-03"));
    }

    #[test]
    fn out_of_range_names_the_date_and_the_loaded_years() {
        let cal = vn();
        let err = cal.is_working_day(d("2028-03-15")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "calendar `vn` has no data for 15/03/2028 (loaded years: 2025, 2026, 2027); add workflows/calendars/vn-2028.toml"
        );
        let err = cal.day_info(d("2024-12-31")).unwrap_err();
        assert!(
            matches!(&err, CalendarError::OutOfRange { date, loaded, .. }
            if *date == d("2024-12-31") && loaded == &[2025, 2026, 2027])
        );
        assert!(err.to_string().contains("31/12/2024"), "{err}");
        // A period running past the last loaded year fails instead of guessing.
        let err = cal
            .working_days_after(at("2027-12-20T09:00"), 30)
            .unwrap_err();
        assert!(matches!(err, CalendarError::OutOfRange { date, .. } if date.year() == 2028));
        assert!(
            cal.working_days_between(at("2024-06-01"), at("2025-06-01"))
                .is_err()
        );
        // Absurd counts end in an error, not a panic or an endless walk.
        assert!(cal.calendar_days_after(at("2026-01-05"), u32::MAX).is_err());
        assert!(cal.working_days_after(at("2026-01-05"), u32::MAX).is_err());
        let empty = Calendar::new("vn", vec![]).unwrap();
        assert!(
            empty
                .is_working_day(d("2026-01-05"))
                .unwrap_err()
                .to_string()
                .contains("loaded years: none")
        );
    }

    #[test]
    fn calendar_new_rejects_mixed_and_duplicate_years() {
        let y26 = CalendarYear::parse("vn-2026.toml", VN_2026).unwrap();
        let err = Calendar::new("vn", vec![y26.clone(), y26.clone()]).unwrap_err();
        assert_eq!(
            err,
            CalendarError::DuplicateYear {
                calendar: "vn".into(),
                year: 2026
            }
        );
        let err = Calendar::new("hp", vec![y26]).unwrap_err();
        assert!(matches!(err, CalendarError::WrongCalendar { .. }));
    }

    const HEADER: &str = "calendar = \"vn\"\nyear = 2026\nprovisional = false\nsource = \"test\"\n";

    fn parse_err(body: &str) -> String {
        CalendarYear::parse("test.toml", &format!("{HEADER}{body}"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn parse_errors_name_the_file_and_line() {
        // HEADER is lines 1–4, so a body's first line is line 5.
        let err = parse_err("colour = \"red\"\n");
        assert!(
            err.starts_with("test.toml:5: unknown field `colour`"),
            "{err}"
        );

        let err = parse_err("\n[[days_off]]\ndate = 2026-01-01\nname = \"Tết\"\nnote = \"x\"\n");
        assert!(
            err.starts_with("test.toml:") && err.contains("unknown field `note`"),
            "{err}"
        );

        let err = parse_err("[[days_off]]\ndate = 2025-12-31\nname = \"x\"\n");
        assert_eq!(
            err,
            "test.toml:6: 2025-12-31 in [[days_off]] is not in 2026: each file holds one year"
        );

        let err = parse_err("[[working_days]]\ndate = 2026-01-12\nname = \"x\"\n");
        assert!(
            err.starts_with("test.toml:6: working day 2026-01-12 is a Mon"),
            "{err}"
        );

        let err = parse_err(
            "[[days_off]]\ndate = 2026-01-10\nname = \"x\"\n\n[[working_days]]\ndate = 2026-01-10\nname = \"y\"\n",
        );
        assert_eq!(
            err,
            "test.toml:10: 2026-01-10 is both a working day and a day off (in [[days_off]] on line 6)"
        );

        let err = parse_err(
            "[[days_off]]\ndate = 2026-01-01\nname = \"x\"\n\n[[days_off]]\ndate = 2026-01-01\nname = \"y\"\n",
        );
        assert_eq!(
            err,
            "test.toml:10: 2026-01-01 is listed twice in [[days_off]] (first on line 6)"
        );

        let err = parse_err("[[days_off]]\ndate = 2026-01-01T08:00:00\nname = \"x\"\n");
        assert!(
            err.starts_with("test.toml:6: `2026-01-01T08:00:00` in [[days_off]] is not a date"),
            "{err}"
        );

        let err = parse_err("[[days_off]]\ndate = 2026-01-01\nname = \"  \"\n");
        assert!(
            err.starts_with("test.toml:7:") && err.contains("empty name"),
            "{err}"
        );

        let err = CalendarYear::parse("x.toml", "calendar = \"vn\"\nyear = 2026\nsource = \"s\"\n")
            .unwrap_err();
        assert!(
            err.to_string().contains("missing field `provisional`"),
            "{err}"
        );

        let err = CalendarYear::parse("x.toml", "calendar = \"vn\"\nyear = \n").unwrap_err();
        assert!(
            matches!(err, CalendarError::Invalid { line: Some(2), .. }),
            "{err}"
        );
    }

    #[test]
    fn the_file_name_must_match_its_contents() {
        let err = CalendarYear::parse("workflows/calendars/vn-2027.toml", VN_2026).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("workflows/calendars/vn-2027.toml:"),
            "{err}"
        );
        assert!(err.to_string().contains("rename it vn-2026.toml"), "{err}");
    }

    #[test]
    fn a_weekend_day_off_is_allowed_and_an_empty_year_works() {
        let y = CalendarYear::parse(
            "t.toml",
            &format!("{HEADER}[[days_off]]\ndate = 2026-04-26\nname = \"Giỗ Tổ Hùng Vương\"\n"),
        )
        .unwrap();
        assert_eq!(y.days_off.len(), 1);
        assert!(y.working_days.is_empty());
        assert_eq!(y.is_working_day(d("2026-04-27")), Some(true));
        assert_eq!(y.is_working_day(d("2027-04-27")), None);
    }

    // Dates from 1/1/2025 to 30/9/2027: 60 working days after 30/9/2027 still end in 2027.
    fn instant_in_range() -> impl Strategy<Value = Instant> {
        let first = d("2025-01-01");
        let span = (d("2027-09-30") - first).num_days();
        (0..=span, 0..86_400i64).prop_map(move |(day, second)| {
            let date = first + chrono::TimeDelta::days(day);
            at_local(date, NaiveTime::MIN) + chrono::TimeDelta::seconds(second)
        })
    }

    proptest! {
        #[test]
        fn working_days_after_lands_on_a_working_day_and_counts_back(from in instant_in_range(), n in 0u32..60) {
            let cal = vn();
            let due = cal.working_days_after(from, n).unwrap();
            let day = local_date(due);
            prop_assert!(cal.is_working_day(day).unwrap());
            prop_assert_eq!(due, end_of_day(day));
            let between = cal.working_days_between(from, due).unwrap();
            if n >= 1 {
                // The start day is never counted, so its own status does not matter.
                prop_assert_eq!(between, i64::from(n));
            } else if cal.is_working_day(local_date(from)).unwrap() {
                prop_assert_eq!(between, 0);
            } else {
                prop_assert_eq!(between, 1);
            }
            prop_assert_eq!(cal.working_days_between(due, from).unwrap(), -between);
        }

        #[test]
        fn calendar_days_after_only_moves_past_days_off(from in instant_in_range(), n in 0u32..60) {
            let cal = vn();
            let due = cal.calendar_days_after(from, n).unwrap();
            let day = local_date(due);
            prop_assert_eq!(due, end_of_day(day));
            prop_assert!(cal.is_working_day(day).unwrap());
            let mut last = local_date(from) + Days::new(u64::from(n));
            prop_assert!(day >= last);
            while last < day {
                prop_assert!(!cal.is_working_day(last).unwrap());
                last = last.succ_opt().unwrap();
            }
        }
    }
}
