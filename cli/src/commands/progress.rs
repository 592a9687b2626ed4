//! The live line of `sfnlite run` on a terminal: states running, events so far, time
//! elapsed (virtual time when the clock is virtual, read from the events' timestamps),
//! Map iterations done of their total. Drawn on stderr ten times a second and wiped at the
//! end; never drawn when stderr is not a terminal or with `--quiet`.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sfnlite_engine::HistoryStore;
use sfnlite_states::history::{EventDetails, HistoryEvent};

use super::observed::Observed;

/// What the line shows, counted from the events as they are stored.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    events: AtomicU64,
    running: AtomicI64,
    iterations_done: AtomicU64,
    iterations_total: AtomicU64,
    first_millis: AtomicI64,
    last_millis: AtomicI64,
}

impl Counts {
    /// Counts a batch of `arn`'s events (`main` is the execution the line is about; the
    /// others are its distributed Map's children).
    pub(crate) fn add(&self, main: &str, arn: &str, events: &[HistoryEvent]) {
        // A distributed Map's children run as `<machine>/<label>` (nested executions do not).
        let machine = main.split(':').nth(6).unwrap_or_default();
        let map_child = arn
            .split(':')
            .nth(6)
            .and_then(|m| m.strip_prefix(machine))
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|label| !label.contains('/'));
        for event in events {
            if arn != main && !map_child {
                continue;
            }
            if arn != main {
                if matches!(
                    event.details,
                    EventDetails::ExecutionSucceeded { .. }
                        | EventDetails::ExecutionFailed { .. }
                        | EventDetails::ExecutionAborted { .. }
                        | EventDetails::ExecutionTimedOut { .. }
                ) {
                    self.iterations_done.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            self.events.fetch_add(1, Ordering::Relaxed);
            let _ = self.first_millis.compare_exchange(0, event.timestamp, Ordering::Relaxed, Ordering::Relaxed);
            self.last_millis.store(event.timestamp, Ordering::Relaxed);
            match &event.details {
                EventDetails::StateEntered { .. } => {
                    self.running.fetch_add(1, Ordering::Relaxed);
                }
                EventDetails::StateExited { .. } => {
                    self.running.fetch_sub(1, Ordering::Relaxed);
                }
                // A state that fails ends without StateExited; at the end nothing runs.
                EventDetails::ExecutionSucceeded { .. }
                | EventDetails::ExecutionFailed { .. }
                | EventDetails::ExecutionAborted { .. }
                | EventDetails::ExecutionTimedOut { .. } => self.running.store(0, Ordering::Relaxed),
                EventDetails::MapStateStarted { length } => {
                    self.iterations_total.fetch_add(*length as u64, Ordering::Relaxed);
                }
                EventDetails::MapIterationSucceeded { .. }
                | EventDetails::MapIterationFailed { .. }
                | EventDetails::MapIterationAborted { .. } => {
                    self.iterations_done.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
    }

    /// The line, without control characters.
    pub(crate) fn line(&self, elapsed: Duration, virtual_clock: bool) -> String {
        let events = self.events.load(Ordering::Relaxed);
        let running = self.running.load(Ordering::Relaxed).max(0);
        let seconds = if virtual_clock {
            (self.last_millis.load(Ordering::Relaxed) - self.first_millis.load(Ordering::Relaxed)).max(0) as f64
                / 1000.0
        } else {
            elapsed.as_secs_f64()
        };
        let mut line = format!(
            "{running} state{} running · {events} event{} · {seconds:.1} s{}",
            if running == 1 { "" } else { "s" },
            if events == 1 { "" } else { "s" },
            if virtual_clock { " (virtual)" } else { "" }
        );
        let (done, total) =
            (self.iterations_done.load(Ordering::Relaxed), self.iterations_total.load(Ordering::Relaxed));
        if total > 0 {
            line.push_str(&format!(" · Map iterations {done}/{total}"));
        } else if done > 0 {
            line.push_str(&format!(" · Map children done {done}"));
        }
        line
    }
}

/// A drawn line: the store to run on, and the thread that draws.
pub(crate) struct Progress {
    stop: Arc<AtomicBool>,
    drawer: Option<JoinHandle<()>>,
}

impl Progress {
    /// Wraps `store` so that `arn`'s events are counted, and starts drawing, when stderr is
    /// a terminal and the user did not ask for quiet. Otherwise the store is unchanged.
    pub(crate) fn start(
        store: Arc<dyn HistoryStore>,
        arn: &str,
        virtual_clock: bool,
        quiet: bool,
    ) -> (Arc<dyn HistoryStore>, Progress) {
        if quiet || !std::io::stderr().is_terminal() {
            return (store, Progress { stop: Arc::default(), drawer: None });
        }
        let counts = Arc::new(Counts::default());
        let seen = counts.clone();
        let main = arn.to_owned();
        let observed = Arc::new(Observed::new(store, move |arn, events| {
            seen.add(&main, arn, events);
            false
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let started = Instant::now();
        let drawer = std::thread::spawn(move || {
            const SPINNER: [char; 4] = ['|', '/', '-', '\\'];
            let mut tick = 0usize;
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                tick += 1;
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K{} {}", SPINNER[tick % 4], counts.line(started.elapsed(), virtual_clock));
                let _ = err.flush();
            }
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        });
        (observed, Progress { stop, drawer: Some(drawer) })
    }

    /// Stops drawing and wipes the line.
    pub(crate) fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(drawer) = self.drawer.take() {
            let _ = drawer.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfnlite_states::definition::StateType;

    fn event(id: u64, millis: i64, details: EventDetails) -> HistoryEvent {
        HistoryEvent { id, previous_event_id: id.saturating_sub(1), timestamp: millis, details }
    }

    #[test]
    fn the_line_counts_states_events_time_and_iterations() {
        let counts = Counts::default();
        let entered = |name: &str| EventDetails::StateEntered {
            name: name.into(),
            state_type: StateType::Map,
            input: sfnlite_states::history::Payload::new(serde_json::json!({})),
        };
        counts.add("main", "main", &[event(1, 1_000, EventDetails::MapStateStarted { length: 3 })]);
        counts.add("main", "main", &[event(2, 4_500, entered("M"))]);
        counts.add(
            "main",
            "main",
            &[event(3, 5_000, EventDetails::MapIterationSucceeded { name: "M".into(), index: 0 })],
        );
        assert_eq!(
            counts.line(Duration::from_secs(9), true),
            "1 state running · 3 events · 4.0 s (virtual) · Map iterations 1/3"
        );
        assert!(counts.line(Duration::from_millis(1500), false).contains("· 1.5 s ·"));
    }
}
