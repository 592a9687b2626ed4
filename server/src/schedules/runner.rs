//! The loop that fires schedules: it sleeps until the next due time (a schedule's next
//! time plus its flexible-window offset), starts the execution, records the fire in the
//! schedule's document, and looks again. Under a real clock it also wakes every second, so
//! schedules created, changed, paused or deleted by other commands take effect at once.
//!
//! Fires missed while no scheduler ran (the process was down) are handled by each
//! schedule's [`Missed`] policy; a fire counts as missed when it is found more than
//! [`LATE_MILLIS`] after it was due. Execution names are derived from the schedule and the
//! scheduled time (`<schedule>-<yyyyMMddTHHmmssZ>`), so a fire started just before a
//! crash is not started twice (StartExecution answers ExecutionAlreadyExists, taken as done).

use std::sync::Arc;

use serde_json::{Value, json};
use sfnlite_engine::{Clock, HistoryStore};
use sfnlite_states::timestamp::format_millis;

use super::{Missed, Schedule, all, get, put};

/// A fire found later than this after its time was missed (the scheduler was not running).
pub const LATE_MILLIS: i64 = 60_000;

/// The most missed fires one schedule catches up with `missed = "all"`.
pub const MAX_CATCH_UP: usize = 1000;

/// Starts one execution (StartExecution's request body); answers its ARN.
pub trait Starter {
    /// Starts (under a virtual clock: runs) the execution.
    fn start<'a>(&'a self, body: Value) -> std::pin::Pin<Box<dyn Future<Output = Result<String, String>> + 'a>>;
}

/// One fire, as the runner reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    /// The schedule.
    pub schedule: String,
    /// The scheduled time (epoch ms).
    pub scheduled_millis: i64,
    /// The execution started, or why none was.
    pub execution: Result<String, String>,
}

/// What the runner tells as it goes.
#[derive(Debug, Clone, Copy)]
pub enum Report<'a> {
    /// A schedule fired.
    Fired(&'a Fired),
    /// The next fire, when it changes.
    Next {
        /// When (epoch ms).
        at: i64,
        /// Which schedule.
        schedule: &'a str,
    },
}

/// Fires the schedules of a store.
pub struct Runner {
    /// The store holding the schedules.
    pub store: Arc<dyn HistoryStore>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// What starts executions.
    pub starter: Box<dyn Starter>,
    /// The region and account of the ARNs the schedules make.
    pub region: String,
}

/// A schedule's fires that are due now, and the next time it is due.
struct Due {
    fires: Vec<i64>,
    next_due: Option<i64>,
    /// The latest time already due (fired or skipped): where the schedule moves on from.
    passed: Option<i64>,
}

impl Runner {
    /// Fires what is due now; returns what was fired.
    pub async fn tick(&self) -> Vec<Fired> {
        let now = self.clock.now_millis();
        let mut fired = Vec::new();
        for schedule in all(self.store.as_ref()).unwrap_or_default() {
            let due = due(&schedule, now);
            for &scheduled in &due.fires {
                fired.push(self.fire(&schedule, scheduled).await);
            }
            // Skipped fires move the schedule on too, so they are never looked at again.
            if let Some(passed) = due.passed.filter(|p| due.fires.last() != Some(p))
                && let Ok(Some(mut current)) = get(self.store.as_ref(), &schedule.name)
            {
                current.last_fire_millis = Some(passed.max(current.last_fire_millis.unwrap_or(i64::MIN)));
                let _ = put(self.store.as_ref(), &current);
            }
        }
        fired
    }

    /// The next time any enabled schedule is due, and which.
    pub fn next_due(&self) -> Option<(i64, String)> {
        let now = self.clock.now_millis();
        all(self.store.as_ref())
            .unwrap_or_default()
            .iter()
            .filter_map(|s| due(s, now).next_due.map(|t| (t, s.name.clone())))
            .min()
    }

    /// Fires schedules due before `until` (epoch ms; forever when `None`), telling `report`
    /// about each fire and each next time.
    pub async fn run(&self, until: Option<i64>, report: &dyn Fn(Report<'_>)) {
        let polling = !self.clock.is_virtual();
        let mut announced = None;
        loop {
            if until.is_some_and(|until| self.clock.now_millis() >= until) {
                return;
            }
            for fired in self.tick().await {
                report(Report::Fired(&fired));
            }
            let next = self.next_due();
            if next != announced {
                if let Some((at, name)) = &next {
                    report(Report::Next { at: *at, schedule: name });
                }
                announced = next.clone();
            }
            let now = self.clock.now_millis();
            let mut wake = match &next {
                Some((at, _)) => *at,
                None if polling => now + 1000,
                None => return,
            };
            if polling {
                wake = wake.min(now + 1000);
            }
            if let Some(until) = until {
                wake = wake.min(until);
            }
            self.clock.sleep_until(wake.max(now)).await;
        }
    }

    /// Starts the execution of one fire and records it in the schedule.
    async fn fire(&self, schedule: &Schedule, scheduled: i64) -> Fired {
        let stamp: String = format_millis(scheduled).chars().filter(char::is_ascii_alphanumeric).collect();
        // 2026-12-01T08:00:00.000Z → 20261201T080000000Z → without the milliseconds.
        let stamp = format!("{}Z", &stamp[..15]);
        let name: String = format!("{}-{stamp}", schedule.name).chars().take(80).collect();
        let machine = if schedule.state_machine.starts_with("arn:") {
            schedule.state_machine.clone()
        } else {
            format!(
                "arn:aws:states:{}:{}:stateMachine:{}",
                self.region,
                sfnlite_engine::ACCOUNT_ID,
                schedule.state_machine
            )
        };
        let schedule_arn = format!(
            "arn:aws:scheduler:{}:{}:schedule/default/{}",
            self.region,
            sfnlite_engine::ACCOUNT_ID,
            schedule.name
        );
        let input = schedule
            .input
            .replace("<aws.scheduler.schedule-arn>", &schedule_arn)
            .replace("<aws.scheduler.scheduled-time>", &format!("{}Z", &format_millis(scheduled)[..19]))
            .replace("<aws.scheduler.execution-id>", &name)
            .replace("<aws.scheduler.attempt-number>", "1");
        let body = json!({"stateMachineArn": machine, "name": name, "input": input});
        let execution = match self.starter.start(body).await {
            // `…:stateMachine:NAME[:version or alias]`: the execution is NAME's.
            Err(e) if e.starts_with("ExecutionAlreadyExists") => Ok(format!(
                "arn:aws:states:{}:{}:execution:{}:{name}",
                self.region,
                sfnlite_engine::ACCOUNT_ID,
                machine.split(':').nth(6).unwrap_or_default()
            )),
            other => other,
        };
        // Read again: the schedule may have changed (paused, updated) meanwhile.
        if let Ok(Some(mut current)) = get(self.store.as_ref(), &schedule.name) {
            current.last_fire_millis = Some(scheduled.max(current.last_fire_millis.unwrap_or(i64::MIN)));
            match &execution {
                Ok(arn) => {
                    current.last_execution = Some(arn.clone());
                    current.last_error = None;
                }
                Err(e) => current.last_error = Some(e.clone()),
            }
            let _ = put(self.store.as_ref(), &current);
        }
        Fired { schedule: schedule.name.clone(), scheduled_millis: scheduled, execution }
    }
}

/// A schedule's fires due at `now` (after its missed policy), and its next due time.
///
/// A long backlog (the scheduler was down for months) is not walked fire by fire: only
/// the fires that can still be on time are, and older ones are looked up in spans that
/// double back from there, as far as the policy needs (the latest one, or the last
/// [`MAX_CATCH_UP`]).
fn due(schedule: &Schedule, now: i64) -> Due {
    let none = Due { fires: Vec::new(), next_due: None, passed: None };
    let Ok(parsed) = schedule.check() else { return none };
    if schedule.state != "ENABLED" {
        return none;
    }
    let start_after = schedule.last_fire_millis.unwrap_or(schedule.start_millis - 1);
    let window = schedule.flexible_window_minutes as i64 * 60_000;
    // Fires at or before `horizon` are late whatever their window offset.
    let horizon = now - LATE_MILLIS - window - 1;
    let recent_from = start_after.max(horizon);
    let walk = walk(schedule, &parsed, recent_from, now);
    let mut late = walk.late;
    if recent_from > start_after {
        // Fires in (start_after, horizon]: all late; as many as the policy needs.
        let wanted = match schedule.missed {
            Missed::Skip => 0,
            Missed::Latest => usize::from(late.is_empty()),
            Missed::All => MAX_CATCH_UP.saturating_sub(late.len()),
        };
        if wanted > 0 {
            let mut older = last_fires(schedule, &parsed, start_after, horizon, wanted);
            older.extend(late);
            late = older;
        }
    }
    let passed = walk.passed.or((recent_from > start_after).then_some(horizon));
    Due { fires: pick(schedule.missed, late, walk.on_time), next_due: walk.next_due, passed }
}

/// What walking a schedule's fires after `after` found.
struct Walk {
    late: Vec<i64>,
    on_time: Vec<i64>,
    next_due: Option<i64>,
    /// The last fire walked that is due.
    passed: Option<i64>,
}

/// Walks the fires after `after` up to the first not yet due. Each fire's window offset
/// is kept shorter than the time to the next fire, so fires stay in order.
fn walk(schedule: &Schedule, parsed: &super::Parsed, after: i64, now: i64) -> Walk {
    let mut found = Walk { late: Vec::new(), on_time: Vec::new(), next_due: None, passed: None };
    let mut next = schedule.next_after(parsed, after);
    while let Some(t) = next {
        next = schedule.next_after(parsed, t);
        let due_at = t + window_offset(schedule, t, next.map(|n| n - t));
        if due_at > now {
            found.next_due = Some(due_at);
            break;
        }
        if now - due_at > LATE_MILLIS {
            found.late.push(t);
        } else {
            found.on_time.push(t);
        }
        found.passed = Some(t);
    }
    found
}

/// The last `wanted` fires in `(from, to]`, found in spans doubling back from `to`.
fn last_fires(schedule: &Schedule, parsed: &super::Parsed, from: i64, to: i64, wanted: usize) -> Vec<i64> {
    let mut span: i64 = 3_600_000;
    loop {
        let low = to.saturating_sub(span).max(from);
        let mut fires = Vec::new();
        let mut after = low;
        while let Some(t) = schedule.next_after(parsed, after).filter(|t| *t <= to) {
            fires.push(t);
            if fires.len() > wanted {
                fires.remove(0);
            }
            after = t;
        }
        if fires.len() >= wanted || low == from {
            return fires;
        }
        span = span.saturating_mul(2);
    }
}

fn pick(missed: Missed, mut late: Vec<i64>, on_time: Vec<i64>) -> Vec<i64> {
    match missed {
        Missed::Skip => late.clear(),
        Missed::Latest => late = late.pop().into_iter().collect(),
        Missed::All => {
            let keep = late.len().saturating_sub(MAX_CATCH_UP);
            late.drain(..keep);
        }
    }
    // A skipped fire still moves the schedule on: its time is the last recorded.
    late.extend(on_time);
    late
}

/// The flexible window's offset for a fire: a fixed draw in `[0, window)` from the
/// schedule's name and the time, so the same fire is always due at the same moment. A
/// window longer than the time to the next fire (`gap`) is shortened to it.
fn window_offset(schedule: &Schedule, scheduled: i64, gap: Option<i64>) -> i64 {
    let window = (schedule.flexible_window_minutes as i64 * 60_000).min(gap.unwrap_or(i64::MAX));
    if window == 0 {
        return 0;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in schedule.name.bytes().chain(scheduled.to_le_bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    (hash % window as u64) as i64
}

#[cfg(test)]
mod tests {
    use super::super::tests::schedule;
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn a_live_scheduler_fires_what_is_due_on_time() {
        let mut s = schedule("rate(1 hour)");
        s.last_fire_millis = Some(0);
        let due_now = due(&s, HOUR + 5);
        assert_eq!((due_now.fires, due_now.next_due), (vec![HOUR], Some(2 * HOUR)));
    }

    #[test]
    fn missed_fires_follow_the_policy() {
        let mut s = schedule("rate(1 hour)");
        s.last_fire_millis = Some(0);
        let now = 10 * HOUR + 30; // fires 1h..10h are due; 1h..9h are late
        assert_eq!(due(&s, now).fires, vec![9 * HOUR, 10 * HOUR]);
        s.missed = Missed::All;
        assert_eq!(due(&s, now).fires, (1..=10).map(|h| h * HOUR).collect::<Vec<_>>());
        s.missed = Missed::Skip;
        assert_eq!(due(&s, now).fires, vec![10 * HOUR]);
    }

    #[test]
    fn a_long_backlog_is_not_walked_fire_by_fire() {
        let mut s = schedule("cron(* * * * ? *)");
        s.last_fire_millis = Some(0);
        let year = 365 * 24 * HOUR;
        let started = std::time::Instant::now();
        let latest = due(&s, year + 30_000);
        assert_eq!(latest.fires, vec![year - 60_000, year], "the latest missed minute, and this one");
        s.missed = Missed::All;
        let all = due(&s, year + 30_000);
        assert_eq!(all.fires.len(), MAX_CATCH_UP + 1);
        assert_eq!(all.fires.last(), Some(&year));
        s.missed = Missed::Skip;
        assert_eq!(due(&s, year + 30_000).fires, vec![year]);
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    }

    #[test]
    fn a_window_longer_than_the_period_loses_no_run() {
        let mut s = schedule("rate(5 minutes)");
        s.flexible_window_minutes = 60;
        s.last_fire_millis = Some(-1);
        s.start_millis = 0;
        let mut fired = Vec::new();
        let mut now = 0;
        while now < 2 * HOUR {
            let d = due(&s, now);
            if let Some(last) = d.fires.last() {
                fired.extend(d.fires.iter().copied());
                s.last_fire_millis = Some(*last);
            }
            now = d.next_due.unwrap_or(now + 1000).max(now + 1);
        }
        let expected: Vec<i64> = (0..24).map(|k| k * 5 * 60_000).collect();
        assert_eq!(fired, expected);
    }

    #[test]
    fn paused_and_windowed_schedules() {
        let mut s = schedule("rate(1 hour)");
        s.state = "DISABLED".into();
        assert!(due(&s, 10 * HOUR).fires.is_empty());
        s.state = "ENABLED".into();
        s.flexible_window_minutes = 15;
        s.last_fire_millis = Some(0);
        let next = due(&s, 0).next_due.unwrap();
        assert!((HOUR..HOUR + 15 * 60_000).contains(&next), "{next}");
        assert_eq!(due(&s, 0).next_due, Some(next), "the same fire is always due at the same time");
    }
}
