//! Schedules, with EventBridge Scheduler's semantics: a schedule starts executions of a
//! state machine at the times its expression names (`rate(…)`, `cron(…)`, `at(…)`), in its
//! time zone, within its flexible window, between its start and end dates. Schedules are
//! store documents (kind `schedules`), so the CLI, `serve` and `sfnlite scheduler` share
//! them.
//!
//! - `expression.rs`: the expressions and their fire times (pure).
//! - `runner.rs`: the loop that fires them, and the policy for runs missed while nothing
//!   ran schedules.

pub mod expression;
pub mod runner;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sfnlite_engine::{HistoryStore, StoreError};

use self::expression::{ScheduleExpression, parse_duration_window};

/// The store documents' kind.
pub const KIND: &str = "schedules";

/// What happens to the fires missed while no scheduler ran (EventBridge Scheduler never
/// misses, as it always runs; sfnlite's scheduler runs only inside `serve` or
/// `sfnlite scheduler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Missed {
    /// Run once for the latest missed time, then go on (the default).
    #[default]
    Latest,
    /// Run once for each missed time, oldest first (at most [`runner::MAX_CATCH_UP`]).
    All,
    /// Run none of them.
    Skip,
}

impl Missed {
    /// Parses `latest`, `all` or `skip`.
    pub fn parse(text: &str) -> Result<Missed, String> {
        match text {
            "latest" => Ok(Missed::Latest),
            "all" => Ok(Missed::All),
            "skip" => Ok(Missed::Skip),
            other => Err(format!("missed must be latest, all or skip, not '{other}'")),
        }
    }
}

/// A schedule, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// Its name (1–64 of `[0-9a-zA-Z-_.]`).
    pub name: String,
    /// The state machine it starts: a name, or an ARN (of a version or alias too).
    pub state_machine: String,
    /// The execution input (JSON text); EventBridge Scheduler's context attributes
    /// (`<aws.scheduler.scheduled-time>`, …) are replaced when it fires.
    pub input: String,
    /// `rate(…)`, `cron(…)` or `at(…)`.
    pub expression: String,
    /// The IANA time zone of cron and at expressions (default UTC).
    pub timezone: String,
    /// The flexible time window, in minutes (0: off).
    pub flexible_window_minutes: u64,
    /// ENABLED or DISABLED.
    pub state: String,
    /// No fire before (epoch ms); a rate schedule's fires are counted from it.
    pub start_millis: i64,
    /// No fire after (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_millis: Option<i64>,
    /// What to do with fires missed while no scheduler ran.
    #[serde(default)]
    pub missed: Missed,
    /// Where it was declared: `cli`, `api` or `config <file>`.
    pub source: String,
    /// The last time it fired (its scheduled time, epoch ms); fires are counted after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fire_millis: Option<i64>,
    /// The execution its last fire started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_execution: Option<String>,
    /// Why its last fire could not start an execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was created (epoch ms).
    pub created_millis: i64,
}

/// A schedule's expression, zone and dates, checked.
#[derive(Debug)]
pub struct Parsed {
    /// The expression.
    pub expression: ScheduleExpression,
    /// The zone.
    pub tz: Tz,
}

impl Schedule {
    /// Checks every field, naming the one at fault.
    pub fn check(&self) -> Result<Parsed, String> {
        let valid_name = !self.name.is_empty()
            && self.name.len() <= 64
            && self.name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid_name {
            return Err(format!("schedule name '{}': 1 to 64 letters, digits, '-', '_' or '.'", self.name));
        }
        if self.state_machine.trim().is_empty() {
            return Err("--state-machine: name the state machine to start".into());
        }
        if let Err(e) = serde_json::from_str::<Value>(&self.input) {
            return Err(format!("--input: not JSON: {e}"));
        }
        let expression: ScheduleExpression =
            self.expression.parse().map_err(|e| format!("--expression '{}': {e}", self.expression))?;
        let tz: Tz = self
            .timezone
            .parse()
            .map_err(|_| format!("--timezone '{}': not an IANA time zone (e.g. Europe/Paris)", self.timezone))?;
        if !matches!(self.state.as_str(), "ENABLED" | "DISABLED") {
            return Err(format!("state '{}': ENABLED or DISABLED", self.state));
        }
        if self.end_millis.is_some_and(|end| end <= self.start_millis) {
            return Err("--end-date must be after --start-date".into());
        }
        if self.flexible_window_minutes > 1440 {
            return Err("--flexible-window: at most 1440 minutes".into());
        }
        Ok(Parsed { expression, tz })
    }

    /// The next scheduled time strictly after `after` (epoch ms), before its end date.
    /// Rate schedules count from their start date; cron and at ignore times before it.
    pub fn next_after(&self, parsed: &Parsed, after: i64) -> Option<i64> {
        let after = utc(after)?;
        let start = utc(self.start_millis);
        let next = parsed.expression.next_after(after, parsed.tz, start)?.timestamp_millis();
        // A one-time schedule ignores the start date (as EventBridge Scheduler does).
        let one_time = matches!(parsed.expression, ScheduleExpression::At(_));
        ((one_time || next >= self.start_millis) && self.end_millis.is_none_or(|end| next <= end)).then_some(next)
    }
}

/// A flexible window given as `OFF`, `15m`, `2h` or minutes.
pub fn window_minutes(text: &str) -> Result<u64, String> {
    parse_duration_window(text).map(|d| d.as_secs() / 60).map_err(|e| format!("--flexible-window '{text}': {e}"))
}

fn utc(millis: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(millis).single()
}

/// Every schedule in the store, by name.
pub fn all(store: &dyn HistoryStore) -> Result<Vec<Schedule>, StoreError> {
    let mut schedules: Vec<Schedule> =
        store.documents(KIND)?.into_iter().filter_map(|(_, value)| serde_json::from_value(value).ok()).collect();
    schedules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(schedules)
}

/// One schedule.
pub fn get(store: &dyn HistoryStore, name: &str) -> Result<Option<Schedule>, StoreError> {
    Ok(store.document(KIND, name)?.and_then(|value| serde_json::from_value(value).ok()))
}

/// Writes a schedule.
pub fn put(store: &dyn HistoryStore, schedule: &Schedule) -> Result<(), StoreError> {
    let value = serde_json::to_value(schedule).expect("a schedule serializes");
    store.put_document(KIND, &schedule.name, &value)
}

/// Deletes a schedule.
pub fn delete(store: &dyn HistoryStore, name: &str) -> Result<(), StoreError> {
    store.delete_document(KIND, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn schedule(expression: &str) -> Schedule {
        Schedule {
            name: "hourly".into(),
            state_machine: "m".into(),
            input: "{}".into(),
            expression: expression.into(),
            timezone: "UTC".into(),
            flexible_window_minutes: 0,
            state: "ENABLED".into(),
            start_millis: 0,
            end_millis: None,
            missed: Missed::Latest,
            source: "cli".into(),
            last_fire_millis: None,
            last_execution: None,
            last_error: None,
            created_millis: 0,
        }
    }

    #[test]
    fn fields_are_checked_and_named() {
        assert!(schedule("rate(1 hour)").check().is_ok());
        assert!(schedule("rate(1 hours)").check().unwrap_err().starts_with("--expression"));
        let mut bad = schedule("rate(1 hour)");
        bad.timezone = "Mars/Olympus".into();
        assert!(bad.check().unwrap_err().starts_with("--timezone"));
        bad = schedule("rate(1 hour)");
        bad.name = "a/b".into();
        assert!(bad.check().is_err());
        bad = schedule("rate(1 hour)");
        bad.input = "{".into();
        assert!(bad.check().unwrap_err().starts_with("--input"));
    }

    #[test]
    fn the_end_date_stops_it() {
        let mut s = schedule("rate(1 hour)");
        s.end_millis = Some(2 * 3_600_000);
        let parsed = s.check().unwrap();
        assert_eq!(s.next_after(&parsed, 0), Some(3_600_000));
        assert_eq!(s.next_after(&parsed, 2 * 3_600_000), None);
    }
}
