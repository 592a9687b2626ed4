//! EventBridge Scheduler schedule expressions: `rate(value unit)`, `cron(fields)` and
//! `at(yyyy-mm-ddThh:mm:ss)`, parsed and evaluated in a schedule time zone.
//!
//! Semantics (AWS facts from the EventBridge / EventBridge Scheduler user guides and
//! API reference; choices where they are silent are marked "choice"):
//! - rate: the unit must be singular when the value is 1 and plural otherwise
//!   (`rate(1 hour)`, `rate(5 hours)`; `rate(1 hours)` and `rate(5 hour)` are errors).
//!   The first fire is at `start` (AWS: StartDate sets the first occurrence; without one
//!   the schedule invokes immediately, so pass the creation instant), then every period.
//!   Periods are fixed durations (a day is 24 h, even across DST). Choice: with no
//!   `start`, fires are anchored at `after` (next = after + period).
//! - cron: evaluated on the wall clock of `tz`. A time that falls in a spring-forward gap
//!   is skipped (AWS: "your schedule invocation gets skipped"); a time repeated by a
//!   fall-back runs once, at its first (earlier) instant. `start` (StartDate) is inclusive:
//!   no fire earlier than it.
//! - at: wall-clock time in `tz`; `start` is ignored (AWS ignores StartDate for one-time
//!   schedules). Choice: an ambiguous time takes the first instant; a time inside a gap is
//!   read with the offset in force before the gap (02:30 in a 02:00->03:00 gap fires at 03:30).
//! - cron choices: names (JAN, MON) and the letters L, W are case-insensitive; `*/n` is
//!   accepted like `0/n`; `a/n` means a..=max stepping n; reversed ranges wrap (`20-2` hours,
//!   `FRI-MON`, as in AWS's `0/30 20-2 ? * MON-FRI *` example) except for years; each fire's
//!   own local date must satisfy the day fields. `L`, `LW` (Quartz's "last weekday", not in
//!   AWS's docs), `nW`, `nL` and `n#k` must stand alone in their field (AWS: '#' allows one
//!   expression only). `nW` never leaves the month (1W on a Saturday is Monday the 3rd) and
//!   fires nowhere in months shorter than n; `n#5` skips months without a fifth such day.
//!   `L` alone in day-of-week is Saturday (7), "the last day of the week". `/` is refused
//!   in day-of-week (not among its documented wildcards). A step counts from its range
//!   start: `0/15` is 0,15,30,45 and `1/10` is 1,11,...,51 (AWS's own example).
//! - Whitespace around the expression and between fields is free; the `rate(`, `cron(`,
//!   `at(` prefixes and rate units are lowercase only (as documented).
//! - `parse_duration_window("OFF")` is `Duration::ZERO`; otherwise 1..=1440 minutes.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// A schedule expression that could not be parsed, with a message naming the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpressionError {
    pub message: String,
}

macro_rules! fail {
    ($($arg:tt)*) => { Err(ExpressionError { message: format!($($arg)*) }) };
}

impl std::fmt::Display for ExpressionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExpressionError {}

/// Unit of a `rate(...)` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    Minutes,
    Hours,
    Days,
}

impl RateUnit {
    /// Length of one unit in seconds (a day is always 86 400 s).
    pub fn seconds(self) -> i64 {
        match self {
            RateUnit::Minutes => 60,
            RateUnit::Hours => 3_600,
            RateUnit::Days => 86_400,
        }
    }

    fn word(self, plural: bool) -> String {
        let s = if plural { "s" } else { "" };
        match self {
            RateUnit::Minutes => format!("minute{s}"),
            RateUnit::Hours => format!("hour{s}"),
            RateUnit::Days => format!("day{s}"),
        }
    }
}

/// A parsed EventBridge Scheduler schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleExpression {
    Rate { every: u32, unit: RateUnit },
    Cron(Cron),
    At(NaiveDateTime),
}

/// A parsed six-field cron expression (minutes hours day-of-month month day-of-week year).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<u32>,
    hours: Vec<u32>,
    days: DaySpec,
    months: Vec<u32>,
    years: Vec<u32>,
    text: String,
}

/// The day fields; exactly one of day-of-month / day-of-week is not `?`.
/// Week days are numbered 1 = SUN .. 7 = SAT.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DaySpec {
    MonthDays(Vec<u32>),
    LastDay,
    LastWeekday,
    NearestWeekday(u32),
    WeekDays(Vec<u32>),
    LastOf(u32),
    Nth(u32, u32),
}

/// A cron field: position (1-6), name, min, max, and three-letter names of min, min+1, ...
struct Field(usize, &'static str, u32, u32, &'static str);

const MINUTES: Field = Field(1, "minutes", 0, 59, "");
const HOURS: Field = Field(2, "hours", 0, 23, "");
const DOM: Field = Field(3, "day-of-month", 1, 31, "");
const MONTH: Field = Field(4, "month", 1, 12, MONTH_NAMES);
const DOW: Field = Field(5, "day-of-week", 1, 7, "SUNMONTUEWEDTHUFRISAT");
const YEAR: Field = Field(6, "year", 1970, 2199, "");
const MONTH_NAMES: &str = "JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC";

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl Field {
    fn err<T>(&self, text: &str, detail: impl std::fmt::Display) -> Result<T, ExpressionError> {
        let expect = match self.0 {
            1 => "0-59, *, with , - /",
            2 => "0-23, *, with , - /",
            3 => "1-31, L, LW, <day>W, ?, *, with , - /",
            4 => "1-12 or JAN-DEC, *, with , - /",
            5 => "1-7 or SUN-SAT, L, <day>L, <day>#<1-5>, ?, *, with , -",
            _ => "1970-2199, *, with , - /",
        };
        let Field(n, name, ..) = self;
        fail!("cron field {n} ({name}) '{text}': {detail}; expected {expect}")
    }

    fn value(&self, text: &str, tok: &str) -> Result<u32, ExpressionError> {
        let &Field(_, _, min, max, names) = self;
        let named = (0..names.len() / 3).find(|&i| tok.len() == 3 && names[i * 3..i * 3 + 3].eq_ignore_ascii_case(tok));
        let v = match named {
            Some(i) => min + i as u32,
            None if all_digits(tok) => tok.parse::<u32>().unwrap_or(u32::MAX),
            None => return self.err(text, format!("'{tok}' is not a valid value")),
        };
        if v < min || v > max {
            return self.err(text, format!("{tok} is out of range"));
        }
        Ok(v)
    }

    /// Parses `,`-separated items of `*`, `a`, `a-b`, each optionally followed by `/step`.
    fn set(&self, text: &str) -> Result<Vec<u32>, ExpressionError> {
        let &Field(n, _, min, max, _) = self;
        let span = max - min + 1;
        let mut out = Vec::new();
        for item in text.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => match s.parse::<u32>() {
                    Ok(st) if all_digits(s) && (1..=span).contains(&st) => (r, Some(st)),
                    _ => return self.err(text, format!("invalid increment '/{s}'")),
                },
                None => (item, None),
            };
            let (lo, hi) = if range == "*" {
                (min, max)
            } else if let Some((a, b)) = range.split_once('-') {
                (self.value(text, a)?, self.value(text, b)?)
            } else {
                let a = self.value(text, range)?;
                (a, if step.is_some() { max } else { a })
            };
            if lo > hi && n == 6 {
                return self.err(text, format!("range {lo}-{hi} runs backwards"));
            }
            // A reversed range wraps around (hours 20-2 = 20..23, 0..2).
            let count = (hi + span - lo) % span + 1;
            let steps = (0..count).step_by(step.unwrap_or(1) as usize);
            out.extend(steps.map(|off| min + (lo - min + off) % span));
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

fn parse_dom(t: &str) -> Result<DaySpec, ExpressionError> {
    let up = t.to_ascii_uppercase();
    match up.as_str() {
        "L" => return Ok(DaySpec::LastDay),
        "LW" => return Ok(DaySpec::LastWeekday),
        _ => {}
    }
    if let Some(d) = up.strip_suffix('W').filter(|d| all_digits(d)) {
        return Ok(DaySpec::NearestWeekday(DOM.value(t, d)?));
    }
    if up.contains(['L', 'W']) {
        return DOM.err(t, "'L' and 'W' must stand alone (L, LW, 15W)");
    }
    Ok(DaySpec::MonthDays(DOM.set(t)?))
}

fn parse_dow(t: &str) -> Result<DaySpec, ExpressionError> {
    let up = t.to_ascii_uppercase();
    if let Some((d, k)) = up.split_once('#') {
        if up.contains(',') {
            return DOW.err(t, "only one expression is allowed with '#'");
        }
        let day = DOW.value(t, d)?;
        return match k.parse::<u32>() {
            Ok(n @ 1..=5) if all_digits(k) => Ok(DaySpec::Nth(day, n)),
            _ => DOW.err(t, format!("'#{k}' must be #1 to #5")),
        };
    }
    if up == "L" {
        return Ok(DaySpec::WeekDays(vec![7]));
    }
    if let Some(d) = up.strip_suffix('L') {
        if d.contains([',', '-', '/', '*']) {
            return DOW.err(t, "'L' must stand alone or follow one day (6L)");
        }
        return Ok(DaySpec::LastOf(DOW.value(t, d)?));
    }
    if up.contains('/') {
        return DOW.err(t, "'/' is not allowed in day-of-week");
    }
    Ok(DaySpec::WeekDays(DOW.set(t)?))
}

impl DaySpec {
    /// Matching days of month `m` of year `y`, ascending.
    fn days_in(&self, y: i32, m: u32) -> Vec<u32> {
        let Some(first) = NaiveDate::from_ymd_opt(y, m, 1) else {
            return Vec::new();
        };
        let dim = u32::from(first.num_days_in_month());
        let first_dow = first.weekday().num_days_from_sunday();
        let dow = |d: u32| (first_dow + d - 1) % 7 + 1;
        let nearest_weekday = |d: u32| match dow(d) {
            7 if d == 1 => 3,
            7 => d - 1,
            1 if d == dim => d - 2,
            1 => d + 1,
            _ => d,
        };
        match self {
            DaySpec::MonthDays(s) => s.iter().copied().filter(|&d| d <= dim).collect(),
            DaySpec::LastDay => vec![dim],
            DaySpec::LastWeekday => vec![nearest_weekday(dim)],
            DaySpec::NearestWeekday(n) if *n <= dim => vec![nearest_weekday(*n)],
            DaySpec::NearestWeekday(_) => Vec::new(),
            DaySpec::WeekDays(s) => (1..=dim).filter(|&d| s.contains(&dow(d))).collect(),
            DaySpec::LastOf(w) => vec![dim - (dow(dim) + 7 - w) % 7],
            DaySpec::Nth(w, k) => {
                let d = 1 + (w + 7 - dow(1)) % 7 + 7 * (k - 1);
                if d <= dim { vec![d] } else { Vec::new() }
            }
        }
    }
}

impl Cron {
    fn parse(inner: &str) -> Result<Cron, ExpressionError> {
        let f: Vec<&str> = inner.split_whitespace().collect();
        if f.len() != 6 {
            let n = f.len();
            return fail!(
                "cron({inner}): expected 6 fields (minutes hours day-of-month month day-of-week year), got {n}"
            );
        }
        let days = match (f[2] == "?", f[4] == "?") {
            (true, true) => {
                return fail!(
                    "cron({inner}): day-of-month and day-of-week are both '?'; exactly one of them must be '?'"
                );
            }
            (false, false) => {
                return fail!(
                    "cron({inner}): day-of-month and day-of-week can't both be specified; use '?' in one of them"
                );
            }
            (false, true) => parse_dom(f[2])?,
            (true, false) => parse_dow(f[4])?,
        };
        Ok(Cron {
            minutes: MINUTES.set(f[0])?,
            hours: HOURS.set(f[1])?,
            days,
            months: MONTH.set(f[3])?,
            years: YEAR.set(f[5])?,
            text: f.join(" ").to_ascii_uppercase(),
        })
    }

    /// First fire strictly after `after`, scanning candidate days (bounded by the year field).
    fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&tz).naive_local();
        let first_day = local.date();
        let ym = (first_day.year(), first_day.month());
        for y in self.years.iter().map(|&y| y as i32).filter(|&y| y >= ym.0) {
            for &m in self.months.iter().filter(|&&m| (y, m) >= ym) {
                for d in self.days.days_in(y, m) {
                    let date = NaiveDate::from_ymd_opt(y, m, d)?;
                    if date < first_day {
                        continue;
                    }
                    // On the first day, the hours and minutes already past are skipped at once.
                    let first = date == first_day;
                    for &h in self.hours.iter().filter(|&&h| !first || h >= local.hour()) {
                        let same_hour = first && h == local.hour();
                        for &mi in self.minutes.iter().filter(|&&mi| !same_hour || mi >= local.minute()) {
                            let cand = date.and_hms_opt(h, mi, 0)?;
                            // Local -> UTC is monotonic (earliest instant), so nothing at or
                            // before `local` can be after `after`.
                            if cand <= local {
                                continue;
                            }
                            // Gap (spring forward): skipped. Overlap (fall back): first instant.
                            let Some(t) = tz.from_local_datetime(&cand).earliest() else {
                                continue;
                            };
                            let t = t.with_timezone(&Utc);
                            if t > after {
                                return Some(t);
                            }
                        }
                    }
                }
            }
        }
        None
    }
}

impl std::fmt::Display for ScheduleExpression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScheduleExpression::Rate { every, unit } => {
                write!(f, "rate({every} {})", unit.word(*every != 1))
            }
            ScheduleExpression::Cron(c) => write!(f, "cron({})", c.text),
            ScheduleExpression::At(t) => write!(f, "at({})", t.format("%Y-%m-%dT%H:%M:%S")),
        }
    }
}

fn parse_rate(inner: &str) -> Result<ScheduleExpression, ExpressionError> {
    let parts: Vec<&str> = inner.split_whitespace().collect();
    let [value, word] = parts[..] else {
        return fail!("rate({inner}): expected a value and a unit, e.g. rate(5 minutes)");
    };
    let every = match value.parse::<u32>() {
        Ok(v) if all_digits(value) && v > 0 => v,
        _ => {
            return fail!("rate({inner}): value '{value}' must be a positive integer");
        }
    };
    let (base, plural) = word.strip_suffix('s').map_or((word, false), |b| (b, true));
    let unit = match base {
        "minute" => RateUnit::Minutes,
        "hour" => RateUnit::Hours,
        "day" => RateUnit::Days,
        _ => {
            return fail!("rate({inner}): unit '{word}' must be minute(s), hour(s) or day(s)");
        }
    };
    if plural != (every != 1) {
        let want = unit.word(every != 1);
        return fail!("rate({inner}): with value {every} the unit must be '{want}'");
    }
    Ok(ScheduleExpression::Rate { every, unit })
}

fn parse_at(inner: &str) -> Result<NaiveDateTime, ExpressionError> {
    let b = inner.as_bytes();
    let shaped = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    let n = |r: std::ops::Range<usize>| inner[r].parse::<u32>().unwrap_or(u32::MAX);
    shaped
        .then(|| NaiveDate::from_ymd_opt(n(0..4) as i32, n(5..7), n(8..10)))
        .flatten()
        .and_then(|d| d.and_hms_opt(n(11..13), n(14..16), n(17..19)))
        .map_or_else(|| fail!("at({inner}): expected yyyy-mm-ddThh:mm:ss"), Ok)
}

impl std::str::FromStr for ScheduleExpression {
    type Err = ExpressionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let mut kinds = ["rate", "cron", "at"].into_iter();
        let Some((kind, rest)) = kinds.find_map(|k| Some((k, s.strip_prefix(k)?.strip_prefix('(')?))) else {
            return fail!("'{s}': expected rate(value unit), cron(fields) or at(yyyy-mm-ddThh:mm:ss)");
        };
        let Some(inner) = rest.strip_suffix(')') else {
            return fail!("'{s}': missing closing ')'");
        };
        match kind {
            "rate" => parse_rate(inner),
            "cron" => Cron::parse(inner).map(ScheduleExpression::Cron),
            _ => parse_at(inner).map(ScheduleExpression::At),
        }
    }
}

/// The instant of wall-clock `t` in `tz`: first instant if ambiguous; inside a gap, read
/// with the offset in force before the gap (so it lands as far past the gap as it was in it).
fn resolve_local(t: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    if let Some(x) = tz.from_local_datetime(&t).earliest() {
        return Some(x.with_timezone(&Utc));
    }
    let before = tz.offset_from_utc_datetime(&t.checked_sub_signed(TimeDelta::days(1))?);
    let utc = t.checked_sub_signed(TimeDelta::seconds(before.fix().local_minus_utc().into()))?;
    Some(Utc.from_utc_datetime(&utc))
}

impl ScheduleExpression {
    /// First fire time strictly after `after`. Cron and at are evaluated on `tz`'s wall clock.
    /// `start` is the schedule's StartDate (or its creation instant): rate fires at
    /// `start + k * period` (k >= 0), cron never fires before it, at ignores it.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz, start: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        match self {
            ScheduleExpression::Rate { every, unit } => {
                let period = i64::from(*every) * unit.seconds();
                match start {
                    None => after.checked_add_signed(TimeDelta::try_seconds(period)?),
                    Some(s) if s > after => Some(s),
                    Some(s) => {
                        let k = (after - s).num_seconds() / period + 1;
                        s.checked_add_signed(TimeDelta::try_seconds(k.checked_mul(period)?)?)
                    }
                }
            }
            ScheduleExpression::Cron(c) => {
                let after = match start {
                    Some(s) if s > after => s - TimeDelta::nanoseconds(1),
                    _ => after,
                };
                c.next_after(after, tz)
            }
            ScheduleExpression::At(t) => resolve_local(*t, tz).filter(|&x| x > after),
        }
    }

    /// Every fire time in `(from_exclusive, to_inclusive]`, ascending.
    pub fn fires_between(
        &self,
        from_exclusive: DateTime<Utc>,
        to_inclusive: DateTime<Utc>,
        tz: Tz,
        start: Option<DateTime<Utc>>,
    ) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let mut cur = from_exclusive;
        std::iter::from_fn(move || {
            let next = self.next_after(cur, tz, start).filter(|n| *n <= to_inclusive)?;
            cur = next;
            Some(next)
        })
    }
}

/// Parses a flexible time window: `OFF` (zero), `Nm`, `Nh` or plain minutes `N`.
/// AWS's MaximumWindowInMinutes is 1..=1440, which is enforced.
pub fn parse_duration_window(s: &str) -> Result<std::time::Duration, ExpressionError> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(std::time::Duration::ZERO);
    }
    let (num, mult) = if let Some(n) = t.strip_suffix(['m', 'M']) {
        (n, 1)
    } else if let Some(n) = t.strip_suffix(['h', 'H']) {
        (n, 60)
    } else {
        (t, 1)
    };
    let minutes = all_digits(num).then(|| num.parse::<u64>().ok()).flatten().and_then(|n| n.checked_mul(mult));
    match minutes {
        Some(m) if (1..=1440).contains(&m) => Ok(std::time::Duration::from_secs(m * 60)),
        _ => fail!("flexible window '{s}': expected OFF, N (minutes), Nm or Nh within 1m..=24h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Paris;
    use chrono_tz::UTC;

    /// `2025-01-01T10:00` or `2025-01-01T10:00:30` (UTC).
    fn t(s: &str) -> DateTime<Utc> {
        let full = if s.len() == 16 { format!("{s}:00Z") } else { format!("{s}Z") };
        full.parse().unwrap()
    }
    fn ex(s: &str) -> ScheduleExpression {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }
    fn zone(z: &str) -> Tz {
        match z {
            "P" => Paris,
            "NY" => New_York,
            _ => UTC,
        }
    }
    /// Rows of "zone | expression | after | expected next fire or none", no start date.
    fn check(rows: &[&str]) {
        for row in rows {
            let [z, e, after, want] = row.split(" | ").collect::<Vec<_>>()[..] else {
                panic!("bad row {row}");
            };
            let got = ex(e).next_after(t(after), zone(z), None);
            let want = (want != "none").then(|| t(want));
            assert_eq!(got, want, "{e} after {after} in {z}");
        }
    }
    fn count(e: &str, from: &str, to: &str, z: Tz, start: Option<&str>) -> usize {
        ex(e).fires_between(t(from), t(to), z, start.map(t)).count()
    }

    // Expected times were worked out by hand on a calendar. 2025-01-01 is a Wednesday;
    // 1 Feb 2025 and 1 Nov 2025 are Saturdays, 1 Jun and 31 Aug 2025 Sundays.
    #[test]
    fn aws_documented_examples() {
        check(&[
            "U | cron(0 10 * * ? *) | 2025-01-01T00:00 | 2025-01-01T10:00",
            "U | cron(0 10 * * ? *) | 2025-01-01T10:00 | 2025-01-02T10:00",
            "U | cron(15 12 * * ? *) | 2025-01-01T12:14:59 | 2025-01-01T12:15",
            "U | cron(15 12 * * ? *) | 2025-01-01T12:15 | 2025-01-02T12:15",
            // Friday 3 Jan -> Monday 6 Jan.
            "U | cron(0 18 ? * MON-FRI *) | 2025-01-03T18:00 | 2025-01-06T18:00",
            "U | cron(0 18 ? * MON-FRI *) | 2025-01-01T17:00 | 2025-01-01T18:00",
            "U | cron(0 8 1 * ? *) | 2025-01-01T08:00 | 2025-02-01T08:00",
            "U | cron(0/15 * * * ? *) | 2025-01-01T00:07 | 2025-01-01T00:15",
            "U | cron(0/15 * * * ? *) | 2025-01-01T00:45 | 2025-01-01T01:00",
            // "1/10 ... the 11th, 21st, and 31st minute".
            "U | cron(1/10 * * * ? *) | 2025-01-01T00:00 | 2025-01-01T00:01",
            "U | cron(1/10 * * * ? *) | 2025-01-01T00:01 | 2025-01-01T00:11",
            "U | cron(1/10 * * * ? *) | 2025-01-01T00:51 | 2025-01-01T01:01",
            "U | cron(0/10 * ? * MON-FRI *) | 2025-01-03T23:55 | 2025-01-06T00:00",
            "U | cron(0/10 * ? * MON-FRI *) | 2025-01-06T00:00 | 2025-01-06T00:10",
            "U | cron(0/5 8-17 ? * MON-FRI *) | 2025-01-03T17:50 | 2025-01-03T17:55",
            "U | cron(0/5 8-17 ? * MON-FRI *) | 2025-01-03T17:55 | 2025-01-06T08:00",
            "U | cron(0/5 8-17 ? * MON-FRI *) | 2025-01-06T08:02 | 2025-01-06T08:05",
            // Hours 20-2 wrap: 20:00..23:30 and 00:00..02:30 on Monday-Friday dates.
            "U | cron(0/30 20-2 ? * MON-FRI *) | 2025-01-06T02:30 | 2025-01-06T20:00",
            "U | cron(0/30 20-2 ? * MON-FRI *) | 2025-01-06T23:30 | 2025-01-07T00:00",
            "U | cron(0/30 20-2 ? * MON-FRI *) | 2025-01-07T02:00 | 2025-01-07T02:30",
            "U | cron(0/30 20-2 ? * MON-FRI *) | 2025-01-10T23:30 | 2025-01-13T00:00",
            // First Monday: 6 Jan, then 3 Feb.
            "U | cron(0 9 ? * 2#1 *) | 2025-01-01T00:00 | 2025-01-06T09:00",
            "U | cron(0 9 ? * 2#1 *) | 2025-01-06T09:00 | 2025-02-03T09:00",
            "U | cron(0 12 * * ? *) | 2025-01-01T12:00 | 2025-01-02T12:00",
            "U | cron(5,35 14 * * ? *) | 2025-01-01T14:05 | 2025-01-01T14:35",
            "U | cron(5,35 14 * * ? *) | 2025-01-01T14:35 | 2025-01-02T14:05",
            // Last Friday 2019-2022: 31 Jan 2019 is a Thursday; 31 Dec 2022 a Saturday.
            "U | cron(15 10 ? * 6L 2019-2022) | 2019-01-01T00:00 | 2019-01-25T10:15",
            "U | cron(15 10 ? * 6L 2019-2022) | 2022-12-01T00:00 | 2022-12-30T10:15",
            "U | cron(15 10 ? * 6L 2019-2022) | 2022-12-30T10:15 | none",
        ]);
    }

    #[test]
    fn last_weekday_and_nth() {
        check(&[
            "U | cron(0 5 L * ? *) | 2025-02-01T00:00 | 2025-02-28T05:00",
            "U | cron(0 23 L * ? *) | 2024-02-01T00:00 | 2024-02-29T23:00",
            "U | cron(0 23 L * ? *) | 2025-04-30T23:00 | 2025-05-31T23:00",
            // 3W: Fri 3 Jan; Mon 3 Feb; Sat 3 May -> Fri 2 May; Sun 3 Aug -> Mon 4 Aug.
            "U | cron(0 0 3W * ? *) | 2024-12-31T00:00 | 2025-01-03T00:00",
            "U | cron(0 0 3W * ? *) | 2025-01-03T00:00 | 2025-02-03T00:00",
            "U | cron(0 0 3W * ? *) | 2025-04-30T00:00 | 2025-05-02T00:00",
            "U | cron(0 0 3W * ? *) | 2025-07-31T00:00 | 2025-08-04T00:00",
            // Never leaves the month: Sat 1 Nov -> Mon 3 Nov; Sun 31 Aug -> Fri 29 Aug.
            "U | cron(0 0 1W * ? *) | 2025-10-31T00:00 | 2025-11-03T00:00",
            "U | cron(0 0 31W * ? *) | 2025-08-01T00:00 | 2025-08-29T00:00",
            // Months without a 31st are skipped: next is Fri 31 Oct.
            "U | cron(0 0 31W * ? *) | 2025-08-29T00:00 | 2025-10-31T00:00",
            "U | cron(0 0 15W * ? *) | 2025-06-01T00:00 | 2025-06-16T00:00",
            // LW: Sun 30 Nov -> Fri 28 Nov; Sat 31 May -> Fri 30 May.
            "U | cron(0 0 LW * ? *) | 2025-11-01T00:00 | 2025-11-28T00:00",
            "U | cron(0 0 lw * ? *) | 2025-05-01T00:00 | 2025-05-30T00:00",
            // 3#2: second Tuesday is 14 Jan.
            "U | cron(0 0 ? * 3#2 *) | 2025-01-01T00:00 | 2025-01-14T00:00",
            // Fifth Thursday: 30 Jan, then none until 29 May.
            "U | cron(0 0 ? * THU#5 *) | 2025-01-01T00:00 | 2025-01-30T00:00",
            "U | cron(0 0 ? * 5#5 *) | 2025-01-30T00:00 | 2025-05-29T00:00",
            // L alone in day-of-week is Saturday (4 Jan).
            "U | cron(0 0 ? * L *) | 2025-01-01T00:00 | 2025-01-04T00:00",
            "U | cron(0 0 ? * FRI-MON *) | 2025-01-06T00:00 | 2025-01-10T00:00",
            "U | cron(0 0 1 NOV-FEB ? *) | 2025-02-01T00:00 | 2025-11-01T00:00",
            "U | cron(10-50/20 * * * ? *) | 2025-01-01T00:30 | 2025-01-01T00:50",
            "U | cron(*/20 * * * ? *) | 2025-01-01T00:50 | 2025-01-01T01:00",
            "U | cron(* * * * ? *) | 2025-01-01T00:00:30 | 2025-01-01T00:01",
            "U | cron(0 0 1/10 * ? *) | 2025-01-21T00:00 | 2025-01-31T00:00",
        ]);
    }

    #[test]
    fn bounded_and_fast() {
        let begin = std::time::Instant::now();
        check(&[
            "U | cron(0 0 30 2 ? *) | 2025-01-01T00:00 | none",
            "U | cron(0 0 31 4,6,9,11 ? *) | 1970-01-01T00:00 | none",
            "U | cron(0 0 1 1 ? 2199) | 2025-06-01T00:00 | 2199-01-01T00:00",
            "U | cron(0 0 1 1 ? 2199) | 2199-01-01T00:00 | none",
            "P | cron(59 23 31 12 ? 2199) | 2025-01-01T00:00 | 2199-12-31T22:59",
        ]);
        assert!(begin.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn invalid_expressions() {
        for row in [
            "cron(0 10 ? * ? *) | both '?'",
            "cron(0 10 * * * *) | can't both be specified",
            "cron(0 10 1 * MON *) | can't both be specified",
            "cron(60 10 * * ? *) | field 1 (minutes) '60': 60 is out of range",
            "cron(0 24 * * ? *) | field 2 (hours)",
            "cron(0 0 32 * ? *) | field 3 (day-of-month) '32'",
            "cron(0 0 0 * ? *) | field 3 (day-of-month)",
            "cron(0 0 abc * ? *) | field 3 (day-of-month) 'abc': 'abc' is not a valid value",
            "cron(0 0 1 13 ? *) | field 4 (month)",
            "cron(0 0 1 JANUARY ? *) | field 4 (month)",
            "cron(0 0 ? * 0 *) | field 5 (day-of-week)",
            "cron(0 0 ? * 8 *) | field 5 (day-of-week)",
            "cron(0 0 1 * ? 1969) | field 6 (year)",
            "cron(0 0 1 * ? 2200) | field 6 (year)",
            "cron(0 0 1 * ? 2030-2020) | runs backwards",
            "cron(0 0 ? * 3#1,6#3 *) | only one expression",
            "cron(0 0 ? * 3#6 *) | #1 to #5",
            "cron(0 0 ? * MON/2 *) | '/' is not allowed",
            "cron(0 L * * ? *) | field 2 (hours)",
            "cron(0 0 1W,15 * ? *) | must stand alone",
            "cron(0 0 ? * 2L,3 *) | field 5",
            "cron(0/0 * * * ? *) | invalid increment",
            "cron(0 0 1,,2 * ? *) | field 3",
            "cron(0 0 1 * ?) | expected 6 fields",
            "cron(0 0 1 * ? * *) | expected 6 fields",
            "cron(0 0 1 * ? * | missing closing",
            "rate(1 hours) | must be 'hour'",
            "rate(5 hour) | must be 'hours'",
            "rate(0 minutes) | positive integer",
            "rate(-1 minutes) | positive integer",
            "rate(1.5 hours) | positive integer",
            "rate(2 weeks) | minute(s), hour(s) or day(s)",
            "rate(5) | a value and a unit",
            "at(2025-13-01T00:00:00) | yyyy-mm-ddThh:mm:ss",
            "at(2025-01-01 00:00:00) | yyyy-mm-ddThh:mm:ss",
            "at(2025-01-01T00:00) | yyyy-mm-ddThh:mm:ss",
            "every(5 minutes) | expected rate(value unit)",
        ] {
            let (e, needle) = row.split_once(" | ").unwrap();
            let err = e.parse::<ScheduleExpression>().expect_err(e).to_string();
            assert!(err.contains(needle), "{e}: {err:?} lacks {needle:?}");
        }
        let err = "cron(0 0 abc * ? *)".parse::<ScheduleExpression>().unwrap_err();
        assert!(err.message.ends_with("expected 1-31, L, LW, <day>W, ?, *, with , - /"));
    }

    #[test]
    fn parse_and_display_round_trip() {
        for s in [
            "rate(1 minute)",
            "rate(5 minutes)",
            "rate(1 hour)",
            "rate(1 day)",
            "rate(7 days)",
            "cron(0 18 ? * MON-FRI *)",
            "cron(15 10 ? * 6L 2019-2022)",
            "at(2025-06-01T09:00:00)",
        ] {
            assert_eq!(ex(s).to_string(), s);
        }
        let five = ScheduleExpression::Rate { every: 5, unit: RateUnit::Minutes };
        assert_eq!(ex(" rate(5   minutes) "), five);
        assert_eq!(ex("cron(0 18 ? * mon-fri *)"), ex("cron(0  18 ? * MON-FRI *)"));
    }

    #[test]
    fn dst_transitions() {
        check(&[
            // Paris springs forward 2025-03-30 02:00 CET -> 03:00 CEST: 02:xx is skipped.
            "P | cron(30 2 * * ? *) | 2025-03-29T00:00 | 2025-03-29T01:30",
            "P | cron(30 2 * * ? *) | 2025-03-29T01:30 | 2025-03-31T00:30",
            "P | cron(0 2 * * ? *) | 2025-03-29T01:00 | 2025-03-31T00:00",
            // Paris falls back 2025-10-26 03:00 CEST -> 02:00 CET: 02:30 fires once (CEST).
            "P | cron(30 2 * * ? *) | 2025-10-25T12:00 | 2025-10-26T00:30",
            "P | cron(30 2 * * ? *) | 2025-10-26T00:30 | 2025-10-27T01:30",
            // New York: 2025-03-09 02:00 EST -> 03:00 EDT; 2025-11-02 02:00 EDT -> 01:00 EST.
            "NY | cron(30 2 * * ? *) | 2025-03-08T00:00 | 2025-03-08T07:30",
            "NY | cron(30 2 * * ? *) | 2025-03-08T07:30 | 2025-03-10T06:30",
            "NY | cron(30 1 * * ? *) | 2025-11-01T12:00 | 2025-11-02T05:30",
            "NY | cron(30 1 * * ? *) | 2025-11-02T05:30 | 2025-11-03T06:30",
            "NY | cron(0 9 ? * MON-FRI *) | 2025-03-07T13:00 | 2025-03-07T14:00",
            "NY | cron(0 9 ? * MON-FRI *) | 2025-03-07T14:00 | 2025-03-10T13:00",
            // The local date decides the day: Sunday 20:00 EST is Monday 01:00 UTC.
            "NY | cron(0 20 ? * SUN *) | 2025-01-01T00:00 | 2025-01-06T01:00",
        ]);
        // Hourly over the fall-back day: 24 UTC hours, local 02:00 repeats -> 23 fires.
        let hourly = ex("cron(0 * * * ? *)");
        let (from, to) = (t("2025-10-25T22:00"), t("2025-10-26T22:00"));
        let fires: Vec<_> = hourly.fires_between(from, to, Paris, None).collect();
        assert_eq!(fires.len(), 23);
        assert!(fires.contains(&t("2025-10-26T00:00")) && !fires.contains(&t("2025-10-26T01:00")));
        // Spring day in Paris: 23 real hours, all of them existing wall-clock hours.
        let spring = ("2025-03-29T23:00", "2025-03-30T22:00");
        assert_eq!(count("cron(0 * * * ? *)", spring.0, spring.1, Paris, None), 23);
        let ny_fall = ("2025-11-02T04:00", "2025-11-03T04:00");
        assert_eq!(count("cron(0 * * * ? *)", ny_fall.0, ny_fall.1, New_York, None), 23);
    }

    #[test]
    fn rate_semantics() {
        let r = ex("rate(5 minutes)");
        let s = Some(t("2025-01-01T00:00"));
        let next = |after: &str| r.next_after(t(after), UTC, s);
        // The first fire is the start date itself, then start + k * period.
        assert_eq!(next("2024-12-31T23:59:59"), s);
        assert_eq!(next("2024-06-01T00:00"), s);
        assert_eq!(next("2025-01-01T00:00"), Some(t("2025-01-01T00:05")));
        assert_eq!(next("2025-01-01T00:07:30"), Some(t("2025-01-01T00:10")));
        assert_eq!(next("2025-01-01T00:09:59.999"), Some(t("2025-01-01T00:10")));
        // Without a start, anchored at `after`.
        let anchored = r.next_after(t("2025-01-01T00:00:07"), UTC, None);
        assert_eq!(anchored, Some(t("2025-01-01T00:05:07")));
        // A day is 24 h whatever DST does (Paris springs forward on 30 March).
        let d = ex("rate(1 day)");
        let s = Some(t("2025-03-29T12:00"));
        let after_dst = d.next_after(t("2025-03-29T12:00"), Paris, s);
        assert_eq!(after_dst, Some(t("2025-03-30T12:00")));
        // 29 Mar .. 8 Apr at 12:00 UTC.
        let n = count("rate(1 day)", "2025-03-25T00:00", "2025-04-08T12:00", Paris, Some("2025-03-29T12:00"));
        assert_eq!(n, 11);
    }

    #[test]
    fn hourly_over_ten_days_is_240() {
        let (from, to) = ("2025-01-01T00:00", "2025-01-11T00:00");
        assert_eq!(count("cron(0 * * * ? *)", from, to, UTC, None), 240);
        assert_eq!(count("cron(0 * * * ? *)", from, to, New_York, None), 240);
        assert_eq!(count("rate(1 hour)", from, to, UTC, Some(from)), 240);
        assert_eq!(count("rate(60 minutes)", from, to, Paris, None), 240);
    }

    #[test]
    fn start_date_for_cron_and_at() {
        let c = ex("cron(0 10 * * ? *)");
        let after = t("2025-01-01T00:00");
        let from_start = |s: &str| c.next_after(after, UTC, Some(t(s)));
        assert_eq!(from_start("2025-01-05T10:00"), Some(t("2025-01-05T10:00")));
        assert_eq!(from_start("2025-01-05T10:00:01"), Some(t("2025-01-06T10:00")));
        // at ignores the start date.
        let a = ex("at(2025-06-01T09:00:00)");
        let late_start = Some(t("2026-01-01T00:00"));
        assert_eq!(a.next_after(after, UTC, late_start), Some(t("2025-06-01T09:00")));
    }

    #[test]
    fn at_in_time_zones() {
        check(&[
            "NY | at(2025-06-01T09:00:00) | 2025-01-01T00:00 | 2025-06-01T13:00",
            // 09:00 CEST is 07:00 UTC; strictly after.
            "P | at(2025-06-01T09:00:00) | 2025-06-01T06:59:59 | 2025-06-01T07:00",
            "P | at(2025-06-01T09:00:00) | 2025-06-01T07:00 | none",
            // In the spring-forward gap: read as EST, i.e. 03:30 EDT.
            "NY | at(2025-03-09T02:30:00) | 2025-01-01T00:00 | 2025-03-09T07:30",
            // Repeated by the fall-back: the first (EDT) instant.
            "NY | at(2025-11-02T01:30:00) | 2025-01-01T00:00 | 2025-11-02T05:30",
        ]);
        let a = ex("at(2025-06-01T09:00:00)");
        let all: Vec<_> = a.fires_between(t("2025-01-01T00:00"), t("2026-01-01T00:00"), UTC, None).collect();
        assert_eq!(all, vec![t("2025-06-01T09:00")]);
    }

    #[test]
    fn flexible_window() {
        for case in "OFF=0 off=0 15m=15 2h=120 30=30 1=1 24h=1440 1440=1440".split(' ') {
            let (input, minutes) = case.split_once('=').unwrap();
            let want = std::time::Duration::from_secs(minutes.parse::<u64>().unwrap() * 60);
            assert_eq!(parse_duration_window(input), Ok(want), "{input}");
        }
        for bad in "0 0m 1441 25h  abc 15s -5m 1.5h 99999999999999999999h".split(' ') {
            let err = parse_duration_window(bad).expect_err(bad).to_string();
            assert!(err.contains(&format!("'{bad}'")), "{err}");
        }
    }
}
