//! Instants and local dates in Asia/Ho_Chi_Minh, and ISO-8601 durations.
//!
//! Instants are stored and compared in UTC; every rule about days (working days, the end of a
//! day, dd/mm/yyyy) is read in Vietnam's local time. Asia/Ho_Chi_Minh has been UTC+07:00 without
//! daylight saving since 1975, so a fixed offset is exact for every date tiendo handles and saves
//! carrying a time-zone database.

use chrono::{DateTime, Days, FixedOffset, Months, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};

/// A point in time. Always UTC inside tiendo.
pub type Instant = DateTime<Utc>;

/// Asia/Ho_Chi_Minh.
pub fn vn() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("+07:00 is a valid offset")
}

/// The local (Vietnamese) calendar date of an instant.
pub fn local_date(at: Instant) -> NaiveDate {
    at.with_timezone(&vn()).date_naive()
}

/// 23:59:59 local time on `date`: the instant a day-counted period ends (BLDS 2015 Điều 148).
pub fn end_of_day(date: NaiveDate) -> Instant {
    at_local(
        date,
        NaiveTime::from_hms_opt(23, 59, 59).expect("valid time"),
    )
}

/// A local wall-clock time on a date, as an instant.
pub fn at_local(date: NaiveDate, time: NaiveTime) -> Instant {
    vn().from_local_datetime(&date.and_time(time))
        .single()
        .expect("a fixed offset has exactly one mapping")
        .with_timezone(&Utc)
}

/// `dd/mm/yyyy`, the way Vietnamese documents write dates.
pub fn format_date(date: NaiveDate) -> String {
    date.format("%d/%m/%Y").to_string()
}

/// `dd/mm/yyyy HH:MM` in local time.
pub fn format_instant(at: Instant) -> String {
    at.with_timezone(&vn()).format("%d/%m/%Y %H:%M").to_string()
}

/// Parses an instant as RFC 3339 (`2026-02-10T09:00:00+07:00`), a local date-time
/// (`2026-02-10T09:00`, `2026-02-10 09:00`) or a local date (`2026-02-10`, meaning 00:00 local).
pub fn parse_instant(s: &str) -> Result<Instant, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(at_local(t.date(), t.time()));
        }
    }
    parse_date(s).map(|d| at_local(d, NaiveTime::MIN))
}

/// Parses a date as `yyyy-mm-dd` or `dd/mm/yyyy`.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .map_err(|_| {
            format!("`{s}` is not a date or instant: use yyyy-mm-dd, dd/mm/yyyy or RFC 3339 (2026-02-10T09:00:00+07:00)")
        })
}

/// An ISO-8601 duration (`P1Y2M10DT2H30M`, `PT2H`, `P2W`): exact elapsed time, no calendar rule.
/// Years and months are added on the calendar (so `P1M` from 31/1 ends on 28/2 or 29/2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IsoDuration {
    pub months: u32,
    pub days: u64,
    pub seconds: u64,
}

impl IsoDuration {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "`{text}` is not an ISO-8601 duration ({why}); examples: PT2H, PT30M, P3D, P2W, P1M"
            )
        };
        let rest = text
            .strip_prefix('P')
            .ok_or_else(|| bad("it must start with P"))?;
        if rest.is_empty() || rest == "T" {
            return Err(bad("it has no amount"));
        }
        let mut d = IsoDuration::default();
        let mut in_time = false;
        let mut number = String::new();
        let mut seen_any = false;
        for c in rest.chars() {
            match c {
                '0'..='9' => number.push(c),
                'T' if !in_time && number.is_empty() => in_time = true,
                _ => {
                    if number.is_empty() {
                        return Err(bad(&format!("`{c}` has no number before it")));
                    }
                    let n: u64 = number.parse().map_err(|_| bad("the number is too large"))?;
                    number.clear();
                    seen_any = true;
                    let overflow = || bad("the number is too large");
                    match (in_time, c) {
                        (false, 'Y') => {
                            d.months = u32::try_from(n.checked_mul(12).ok_or_else(overflow)?)
                                .map_err(|_| overflow())?
                                .checked_add(d.months)
                                .ok_or_else(overflow)?
                        }
                        (false, 'M') => {
                            d.months = d
                                .months
                                .checked_add(u32::try_from(n).map_err(|_| overflow())?)
                                .ok_or_else(overflow)?
                        }
                        (false, 'W') => {
                            d.days = d
                                .days
                                .checked_add(n.checked_mul(7).ok_or_else(overflow)?)
                                .ok_or_else(overflow)?
                        }
                        (false, 'D') => d.days = d.days.checked_add(n).ok_or_else(overflow)?,
                        (true, 'H') => {
                            d.seconds = d
                                .seconds
                                .checked_add(n.checked_mul(3600).ok_or_else(overflow)?)
                                .ok_or_else(overflow)?
                        }
                        (true, 'M') => {
                            d.seconds = d
                                .seconds
                                .checked_add(n.checked_mul(60).ok_or_else(overflow)?)
                                .ok_or_else(overflow)?
                        }
                        (true, 'S') => d.seconds = d.seconds.checked_add(n).ok_or_else(overflow)?,
                        _ => return Err(bad(&format!("`{c}` is not a unit here"))),
                    }
                }
            }
        }
        if !number.is_empty() {
            return Err(bad("a number has no unit after it"));
        }
        if !seen_any {
            return Err(bad("it has no amount"));
        }
        if d == IsoDuration::default() {
            return Err(bad("it is zero"));
        }
        Ok(d)
    }

    /// The canonical ISO-8601 spelling (`P1M2DT2H30M`).
    pub fn describe(&self) -> String {
        let mut out = String::from("P");
        let (y, m) = (self.months / 12, self.months % 12);
        for (n, unit) in [(u64::from(y), 'Y'), (u64::from(m), 'M'), (self.days, 'D')] {
            if n > 0 {
                out.push_str(&format!("{n}{unit}"));
            }
        }
        if self.seconds > 0 {
            out.push('T');
            let (h, rest) = (self.seconds / 3600, self.seconds % 3600);
            for (n, unit) in [(h, 'H'), (rest / 60, 'M'), (rest % 60, 'S')] {
                if n > 0 {
                    out.push_str(&format!("{n}{unit}"));
                }
            }
        }
        out
    }

    /// `start` plus this duration, or `None` past the end of representable time.
    pub fn after(&self, start: Instant) -> Option<Instant> {
        let local = start.with_timezone(&vn());
        let local = local.checked_add_months(Months::new(self.months))?;
        let local = local.checked_add_days(Days::new(self.days))?;
        let local =
            local.checked_add_signed(TimeDelta::try_seconds(i64::try_from(self.seconds).ok()?)?)?;
        Some(local.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations_parse_and_add() {
        let start = parse_instant("2026-03-02T09:00:00+07:00").unwrap();
        let d = IsoDuration::parse("PT2H").unwrap();
        assert_eq!(format_instant(d.after(start).unwrap()), "02/03/2026 11:00");
        let d = IsoDuration::parse("P1DT30M").unwrap();
        assert_eq!(format_instant(d.after(start).unwrap()), "03/03/2026 09:30");
        assert_eq!(IsoDuration::parse("P2W").unwrap().days, 14);
        assert_eq!(IsoDuration::parse("P1Y").unwrap().months, 12);
        for text in ["PT2H", "P1Y2M10DT2H30M5S", "P14D", "PT90M"] {
            let d = IsoDuration::parse(text).unwrap();
            assert_eq!(IsoDuration::parse(&d.describe()).unwrap(), d);
        }
        assert_eq!(IsoDuration::parse("PT90M").unwrap().describe(), "PT1H30M");
    }

    #[test]
    fn malformed_iso_durations_say_why() {
        for bad in [
            "",
            "2H",
            "P",
            "PT",
            "PT2",
            "P2H",
            "PTH",
            "P0D",
            "PT2X",
            "P99999999999999999999D",
        ] {
            let err = IsoDuration::parse(bad).unwrap_err();
            assert!(err.contains("ISO-8601"), "{bad}: {err}");
        }
    }

    #[test]
    fn instants_parse_in_local_time() {
        let a = parse_instant("2026-02-10").unwrap();
        assert_eq!(a.to_rfc3339(), "2026-02-09T17:00:00+00:00");
        let b = parse_instant("10/02/2026").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            format_date(local_date(end_of_day(local_date(a)))),
            "10/02/2026"
        );
        assert!(
            parse_instant("yesterday")
                .unwrap_err()
                .contains("yyyy-mm-dd")
        );
    }
}
