//! Time, injected. `states` never reads a clock; the engine reads this one.
//!
//! - [`SystemClock`]: wall-clock time; Waits really sleep.
//! - [`VirtualClock`]: time that moves only when every execution is waiting. It is built on
//!   tokio's paused clock (the runtime must be started paused), which jumps straight to the
//!   next due timer when nothing else can run. A Wait of an hour then takes no real time,
//!   while `$$.State.EnteredTime`, Timestamp waits, retry backoff, timeouts and history
//!   timestamps all move by exactly the waited time.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A boxed future, as the object-safe traits here return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A source of time.
pub trait Clock: Send + Sync {
    /// Now, in epoch milliseconds.
    fn now_millis(&self) -> i64;

    /// Completes at (or after) `deadline`, in epoch milliseconds.
    fn sleep_until(&self, deadline: i64) -> BoxFuture<'_, ()>;

    /// True when time is virtual (it jumps; it is not the wall clock).
    fn is_virtual(&self) -> bool {
        false
    }
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
    }

    fn sleep_until(&self, deadline: i64) -> BoxFuture<'_, ()> {
        let wait = deadline.saturating_sub(self.now_millis()).max(0) as u64;
        Box::pin(tokio::time::sleep(Duration::from_millis(wait)))
    }
}

/// The farthest a virtual sleep reaches from now (ten years): executions end within a year.
const FARTHEST_MILLIS: i64 = 10 * 366 * 24 * 3600 * 1000;

/// Virtual time on tokio's paused clock, starting at a chosen epoch time.
///
/// Must be created inside a runtime whose time is paused (`start_paused(true)`).
#[derive(Debug, Clone)]
pub struct VirtualClock {
    epoch_millis: i64,
    start: tokio::time::Instant,
}

impl VirtualClock {
    /// A virtual clock that reads `epoch_millis` now.
    pub fn starting_at(epoch_millis: i64) -> VirtualClock {
        VirtualClock { epoch_millis, start: tokio::time::Instant::now() }
    }
}

impl Clock for VirtualClock {
    fn is_virtual(&self) -> bool {
        true
    }

    fn now_millis(&self) -> i64 {
        self.epoch_millis + self.start.elapsed().as_millis() as i64
    }

    fn sleep_until(&self, deadline: i64) -> BoxFuture<'_, ()> {
        // Clamped far beyond any execution's life (a year), so that an absurd deadline
        // (`"Seconds": 9223372036854775807`) cannot overflow the clock.
        let deadline = deadline.min(self.now_millis().saturating_add(FARTHEST_MILLIS));
        let offset = deadline.saturating_sub(self.epoch_millis).max(0) as u64;
        Box::pin(tokio::time::sleep_until(self.start + Duration::from_millis(offset)))
    }
}
