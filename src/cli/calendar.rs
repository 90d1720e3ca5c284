//! `tiendo calendar …`: working days and legal deadlines, for appraisers and secretaries.
//!
//! A thin layer over [`engine::calendar`]: it parses what people type, asks the calendar, and
//! answers in Vietnamese with dd/mm/yyyy dates, because the answer is copied into official
//! letters. Every rule (which days are worked, how periods are counted) lives in the engine.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use engine::calendar::{Calendar, CalendarError, file_name, weekday_name};
use engine::time::{
    Instant, at_local, format_date, format_instant, local_date, parse_date, parse_instant, vn,
};

#[derive(Debug, clap::Subcommand)]
pub enum CalendarCmd {
    /// Is DATE a working day?  `tiendo calendar is-working-day 2026-02-16`
    IsWorkingDay {
        /// yyyy-mm-dd or dd/mm/yyyy
        date: String,
    },
    /// The legal deadline: `tiendo calendar deadline --from 2026-02-13T09:00 --working-days 15` or `--days 20`
    Deadline {
        /// When the period starts (its day is not counted): yyyy-mm-dd[THH:MM], dd/mm/yyyy [HH:MM] or RFC 3339.
        #[arg(long)]
        from: String,
        /// A period in working days.
        #[arg(long, conflicts_with = "days", required_unless_present = "days")]
        working_days: Option<u32>,
        /// A period in calendar days (moved to the next working day if it ends on a day off).
        #[arg(long)]
        days: Option<u32>,
    },
    /// Working days between two instants: `tiendo calendar between A B`
    Between { a: String, b: String },
    /// Every day off and swapped working day of a year
    Show { year: i32 },
}

pub fn run(cmd: &CalendarCmd, calendar: &Calendar) -> Result<String, String> {
    match cmd {
        CalendarCmd::IsWorkingDay { date } => is_working_day(calendar, date),
        CalendarCmd::Deadline {
            from,
            working_days,
            days,
        } => deadline(calendar, from, *working_days, *days),
        CalendarCmd::Between { a, b } => between(calendar, a, b),
        CalendarCmd::Show { year } => show(calendar, *year),
    }
}

fn is_working_day(calendar: &Calendar, date: &str) -> Result<String, String> {
    let date = read_date(date)?;
    let info = calendar
        .day_info(date)
        .map_err(|e| vietnamese(calendar, &e))?;
    let what = match (info.working, info.reason) {
        (true, None) => "ngày làm việc".to_string(),
        (true, Some(why)) => format!("ngày làm việc — {why}"),
        // The engine names an ordinary weekend day by its weekday, which the line already shows.
        (false, Some(why)) if why == weekday_name(date) => "ngày nghỉ — nghỉ hằng tuần".to_string(),
        (false, Some(why)) => format!("ngày nghỉ — {why}"),
        (false, None) => "ngày nghỉ".to_string(),
    };
    let mut out = format!("{} ({}): {what}\n", format_date(date), weekday_name(date));
    out.push_str(&provisional_note(calendar, date.year(), date.year()));
    Ok(out)
}

fn deadline(
    calendar: &Calendar,
    from: &str,
    working_days: Option<u32>,
    days: Option<u32>,
) -> Result<String, String> {
    let start = read_instant(from)?;
    let start_day = local_date(start);
    let mut out = String::new();
    let due = match (working_days, days) {
        (Some(n), None) => {
            let due = calendar.working_days_after(start, n).map_err(|e| vietnamese(calendar, &e))?;
            let period = if n == 0 {
                format!("trong ngày làm việc, kể từ {}", format_date(start_day))
            } else {
                format!("{n} ngày làm việc kể từ {} (không tính ngày bắt đầu)", format_date(start_day))
            };
            out.push_str(&format!("Hạn: {} — {period}\n", describe_due(due)));
            due
        }
        (None, Some(n)) => {
            let due = calendar.calendar_days_after(start, n).map_err(|e| vietnamese(calendar, &e))?;
            out.push_str(&format!(
                "Hạn: {} — {n} ngày kể từ {} (không tính ngày bắt đầu)\n",
                describe_due(due),
                format_date(start_day)
            ));
            // Say why the deadline is later than the count, so nobody "corrects" it by hand.
            if let Some(last) = start_day.checked_add_days(chrono::Days::new(u64::from(n)))
                && last != local_date(due)
            {
                let why = calendar
                    .day_info(last)
                    .ok()
                    .and_then(|i| i.reason)
                    .filter(|r| r != weekday_name(last))
                    .unwrap_or_else(|| "nghỉ hằng tuần".to_string());
                out.push_str(&format!(
                    "Ngày cuối của thời hạn là {} ({}), ngày nghỉ — {why}; thời hạn kết thúc vào cuối ngày làm việc tiếp theo (Bộ luật Dân sự 2015, Điều 148).\n",
                    format_date(last),
                    weekday_name(last)
                ));
            }
            due
        }
        _ => return Err("Cần đúng một trong hai tuỳ chọn: --working-days N (ngày làm việc) hoặc --days N (ngày).".to_string()),
    };
    out.push_str(&provisional_note(
        calendar,
        start_day.year(),
        local_date(due).year(),
    ));
    Ok(out)
}

fn between(calendar: &Calendar, a: &str, b: &str) -> Result<String, String> {
    let (a, b) = (read_instant(a)?, read_instant(b)?);
    let n = calendar
        .working_days_between(a, b)
        .map_err(|e| vietnamese(calendar, &e))?;
    let mut out = if n >= 0 {
        format!(
            "{n} ngày làm việc từ {} đến {} (không tính ngày {}, tính cả ngày {})\n",
            format_instant(a),
            format_instant(b),
            format_date(local_date(a)),
            format_date(local_date(b))
        )
    } else {
        format!(
            "{n} ngày làm việc: {} sớm hơn {} ({} ngày làm việc tính từ {} đến {})\n",
            format_instant(b),
            format_instant(a),
            -n,
            format_instant(b),
            format_instant(a)
        )
    };
    let (first, last) = if a <= b { (a, b) } else { (b, a) };
    out.push_str(&provisional_note(
        calendar,
        local_date(first).year(),
        local_date(last).year(),
    ));
    Ok(out)
}

fn show(calendar: &Calendar, year: i32) -> Result<String, String> {
    let y = calendar
        .year(year)
        .ok_or_else(|| missing_year(calendar, year, None))?;
    let mut out = format!("Lịch làm việc `{}` năm {year}\n", calendar.name());
    if y.provisional {
        out.push_str("Lịch dự kiến, chưa chính thức: các ngày nghỉ có thể thay đổi khi có thông báo của Thủ tướng Chính phủ.\n");
    }
    out.push_str(&format!("Nguồn: {}\n\n", y.source));
    let row = |d: &NaiveDate, name: &String| {
        format!("  {}  {:<9} {name}\n", format_date(*d), weekday_name(*d))
    };

    out.push_str(&format!("Ngày nghỉ ({}):\n", y.days_off.len()));
    for (d, name) in &y.days_off {
        out.push_str(&row(d, name));
    }
    out.push_str(&format!(
        "\nNgày thứ Bảy, Chủ nhật đi làm bù ({}):\n",
        y.working_days.len()
    ));
    if y.working_days.is_empty() {
        out.push_str("  (không có)\n");
    }
    for (d, name) in &y.working_days {
        out.push_str(&row(d, name));
    }
    if let Some(n) = calendar.working_days_in_year(year) {
        out.push_str(&format!("\nSố ngày làm việc trong năm: {n}\n"));
    }
    Ok(out)
}

/// "23:59 ngày 13/03/2026 (Thứ Sáu)": the way a deadline is written in a letter.
fn describe_due(due: Instant) -> String {
    let local = due.with_timezone(&vn());
    let day = local.date_naive();
    format!(
        "{:02}:{:02} ngày {} ({})",
        local.hour(),
        local.minute(),
        format_date(day),
        weekday_name(day)
    )
}

/// A warning when any year from `first` to `last` is provisional: a deadline computed on a guess
/// must not be copied into a letter as if it were certain.
fn provisional_note(calendar: &Calendar, first: i32, last: i32) -> String {
    let years: Vec<String> = (first..=last)
        .filter(|y| calendar.year(*y).is_some_and(|c| c.provisional))
        .map(|y| y.to_string())
        .collect();
    if years.is_empty() {
        return String::new();
    }
    format!(
        "Lưu ý: lịch năm {} là lịch dự kiến, chưa chính thức; kết quả có thể thay đổi khi có thông báo của Thủ tướng Chính phủ.\n",
        years.join(", ")
    )
}

fn loaded_years(calendar: &Calendar) -> String {
    let years: Vec<String> = calendar.years().map(|y| y.year.to_string()).collect();
    if years.is_empty() {
        "chưa có năm nào".to_string()
    } else {
        years.join(", ")
    }
}

fn missing_year(calendar: &Calendar, year: i32, date: Option<NaiveDate>) -> String {
    let date = date
        .map(|d| format!(" (ngày {})", format_date(d)))
        .unwrap_or_default();
    format!(
        "Chưa có lịch làm việc cho năm {year}{date}; lịch `{}` hiện có các năm: {}. Thêm tệp workflows/calendars/{} khi có thông báo chính thức về ngày nghỉ năm {year}.",
        calendar.name(),
        loaded_years(calendar),
        file_name(calendar.name(), year)
    )
}

/// The engine's errors are English for logs and developers; people at the CLI read Vietnamese.
fn vietnamese(calendar: &Calendar, e: &CalendarError) -> String {
    match e {
        CalendarError::OutOfRange { date, .. } => missing_year(calendar, date.year(), Some(*date)),
        CalendarError::Overflow => {
            "Thời hạn quá dài: vượt quá phạm vi ngày có thể tính.".to_string()
        }
        other => format!("Lịch làm việc không hợp lệ: {other}"),
    }
}

fn read_date(s: &str) -> Result<NaiveDate, String> {
    parse_date(s).map_err(|_| {
        format!(
            "Ngày không hợp lệ: `{}`. Dùng định dạng yyyy-mm-dd hoặc dd/mm/yyyy.",
            s.trim()
        )
    })
}

fn read_instant(s: &str) -> Result<Instant, String> {
    // Vietnamese users also write the hour after a dd/mm/yyyy date, which the engine's parser
    // does not take.
    for fmt in ["%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s.trim(), fmt) {
            return Ok(at_local(t.date(), t.time()));
        }
    }
    parse_instant(s).map_err(|_| {
        format!(
            "Thời điểm không hợp lệ: `{}`. Dùng định dạng yyyy-mm-dd, dd/mm/yyyy, yyyy-mm-ddTHH:MM, dd/mm/yyyy HH:MM hoặc RFC 3339 (2026-02-13T09:00:00+07:00).",
            s.trim()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use engine::calendar::CalendarYear;

    fn vn_calendar() -> Calendar {
        let files = [
            (
                "vn-2025.toml",
                include_str!("../../workflows/calendars/vn-2025.toml"),
            ),
            (
                "vn-2026.toml",
                include_str!("../../workflows/calendars/vn-2026.toml"),
            ),
            (
                "vn-2027.toml",
                include_str!("../../workflows/calendars/vn-2027.toml"),
            ),
        ];
        let years = files
            .iter()
            .map(|(f, t)| CalendarYear::parse(f, t).unwrap())
            .collect();
        Calendar::new("vn", years).unwrap()
    }

    fn ok(cmd: CalendarCmd) -> String {
        run(&cmd, &vn_calendar()).unwrap()
    }

    fn err(cmd: CalendarCmd) -> String {
        run(&cmd, &vn_calendar()).unwrap_err()
    }

    fn deadline(from: &str, working_days: Option<u32>, days: Option<u32>) -> CalendarCmd {
        CalendarCmd::Deadline {
            from: from.into(),
            working_days,
            days,
        }
    }

    #[test]
    fn is_working_day_names_the_reason() {
        let day = |d: &str| ok(CalendarCmd::IsWorkingDay { date: d.into() });
        assert_eq!(
            day("2026-02-16"),
            "16/02/2026 (Thứ Hai): ngày nghỉ — Tết Nguyên đán\n"
        );
        assert_eq!(
            day("10/01/2026"),
            "10/01/2026 (Thứ Bảy): ngày làm việc — Làm bù cho ngày 02/01/2026\n"
        );
        assert_eq!(
            day("2026-03-07"),
            "07/03/2026 (Thứ Bảy): ngày nghỉ — nghỉ hằng tuần\n"
        );
        assert_eq!(day("2026-03-09"), "09/03/2026 (Thứ Hai): ngày làm việc\n");
        assert!(day("2027-02-10").contains("lịch dự kiến, chưa chính thức"));
    }

    #[test]
    fn deadline_in_working_days_skips_tet() {
        // 13/2/2026 not counted; Tết 14–22/2; 23/2–13/3 holds 15 working days.
        assert_eq!(
            ok(deadline("2026-02-13T09:00", Some(15), None)),
            "Hạn: 23:59 ngày 13/03/2026 (Thứ Sáu) — 15 ngày làm việc kể từ 13/02/2026 (không tính ngày bắt đầu)\n"
        );
        assert!(
            ok(deadline("13/02/2026 09:00", Some(10), None))
                .starts_with("Hạn: 23:59 ngày 06/03/2026 (Thứ Sáu)")
        );
    }

    #[test]
    fn deadline_in_calendar_days_explains_a_move() {
        let out = ok(deadline("2026-03-02T10:00", None, Some(5)));
        assert!(
            out.starts_with("Hạn: 23:59 ngày 09/03/2026 (Thứ Hai) — 5 ngày kể từ 02/03/2026"),
            "{out}"
        );
        assert!(
            out.contains("là 07/03/2026 (Thứ Bảy), ngày nghỉ — nghỉ hằng tuần; thời hạn kết thúc"),
            "{out}"
        );
        let out = ok(deadline("2026-04-20", None, Some(6)));
        assert!(
            out.starts_with("Hạn: 23:59 ngày 28/04/2026 (Thứ Ba)"),
            "{out}"
        );
        assert!(
            out.contains("26/04/2026 (Chủ nhật), ngày nghỉ — Giỗ Tổ Hùng Vương (10/3 âm lịch);"),
            "{out}"
        );
        let out = ok(deadline("2026-02-13T09:00", None, Some(20)));
        assert_eq!(
            out,
            "Hạn: 23:59 ngày 05/03/2026 (Thứ Năm) — 20 ngày kể từ 13/02/2026 (không tính ngày bắt đầu)\n"
        );
    }

    #[test]
    fn deadline_in_a_provisional_year_says_so() {
        let out = ok(deadline("2027-02-04", Some(3), None));
        assert!(
            out.starts_with("Hạn: 23:59 ngày 16/02/2027 (Thứ Ba)"),
            "{out}"
        );
        assert!(out.contains("lịch năm 2027 là lịch dự kiến"), "{out}");
    }

    #[test]
    fn between_counts_working_days() {
        let out = ok(CalendarCmd::Between {
            a: "2026-02-12T09:00".into(),
            b: "2026-02-24T09:00".into(),
        });
        assert_eq!(
            out,
            "3 ngày làm việc từ 12/02/2026 09:00 đến 24/02/2026 09:00 (không tính ngày 12/02/2026, tính cả ngày 24/02/2026)\n"
        );
        let out = ok(CalendarCmd::Between {
            a: "2026-02-24T09:00".into(),
            b: "2026-02-12T09:00".into(),
        });
        assert!(
            out.starts_with("-3 ngày làm việc: 12/02/2026 09:00 sớm hơn 24/02/2026 09:00"),
            "{out}"
        );
    }

    #[test]
    fn show_lists_the_year() {
        let out = ok(CalendarCmd::Show { year: 2026 });
        assert!(
            out.starts_with("Lịch làm việc `vn` năm 2026\nNguồn: "),
            "{out}"
        );
        assert!(
            out.contains("  16/02/2026  Thứ Hai   Tết Nguyên đán\n"),
            "{out}"
        );
        assert!(
            out.contains("  22/08/2026  Thứ Bảy   Làm bù cho ngày 31/08/2026\n"),
            "{out}"
        );
        assert!(out.contains("Số ngày làm việc trong năm: 250\n"), "{out}");
        assert!(!out.contains("dự kiến"));
        let out = ok(CalendarCmd::Show { year: 2027 });
        assert!(out.contains("Lịch dự kiến, chưa chính thức"), "{out}");
        assert!(out.contains("(không có)"), "{out}");
    }

    #[test]
    fn errors_are_vietnamese() {
        let e = err(CalendarCmd::Show { year: 2028 });
        assert!(e.starts_with("Chưa có lịch làm việc cho năm 2028"), "{e}");
        assert!(
            e.contains("2025, 2026, 2027") && e.contains("workflows/calendars/vn-2028.toml"),
            "{e}"
        );
        let e = err(CalendarCmd::IsWorkingDay {
            date: "2024-12-31".into(),
        });
        assert!(
            e.starts_with("Chưa có lịch làm việc cho năm 2024 (ngày 31/12/2024)"),
            "{e}"
        );
        let e = err(CalendarCmd::IsWorkingDay {
            date: "31-12-2026".into(),
        });
        assert_eq!(
            e,
            "Ngày không hợp lệ: `31-12-2026`. Dùng định dạng yyyy-mm-dd hoặc dd/mm/yyyy."
        );
        let e = err(deadline("hôm qua", Some(1), None));
        assert!(e.starts_with("Thời điểm không hợp lệ: `hôm qua`"), "{e}");
        let e = err(deadline("2027-12-20", Some(30), None));
        assert!(e.starts_with("Chưa có lịch làm việc cho năm 2028"), "{e}");
        let e = err(deadline("2026-01-05", None, None));
        assert!(e.contains("--working-days"), "{e}");
    }

    #[derive(Debug, clap::Parser)]
    struct Args {
        #[command(subcommand)]
        cmd: CalendarCmd,
    }

    #[test]
    fn deadline_takes_exactly_one_amount() {
        let parse = |args: &[&str]| Args::try_parse_from([&["tiendo"], args].concat());
        assert!(parse(&["deadline", "--from", "2026-02-13", "--working-days", "15"]).is_ok());
        assert!(parse(&["deadline", "--from", "2026-02-13", "--days", "20"]).is_ok());
        assert!(parse(&["deadline", "--from", "2026-02-13"]).is_err());
        assert!(
            parse(&[
                "deadline",
                "--from",
                "2026-02-13",
                "--days",
                "2",
                "--working-days",
                "3"
            ])
            .is_err()
        );
        assert!(parse(&["is-working-day", "2026-02-16"]).is_ok());
        assert!(parse(&["show", "2026"]).is_ok());
    }
}
