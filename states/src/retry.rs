//! Retry and Catch decisions (pure).
//!
//! ASL: "When a state reports an error, the interpreter scans through the Retriers and, when
//! the Error Name appears in the value of a Retrier's ErrorEquals field, implements the retry
//! policy described in that Retrier." Only the first matching Retrier applies; when its
//! attempts are used up, the Catchers are scanned the same way.

use crate::definition::{Catcher, JitterStrategy, Retrier};
use crate::entropy::Entropy;
use crate::error::ErrorName;

/// What to do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Run the state again after `delay_millis` (before jitter is applied).
    Retry {
        /// The delay given by the Retrier's interval, backoff and cap.
        delay_millis: u64,
        /// Whether the runtime must draw the actual delay from `[0, delay_millis]`.
        jitter: JitterStrategy,
    },
    /// Go to the Catcher with this index.
    Catch(usize),
    /// The state fails with the error.
    Fail,
}

/// The delay before a retry: the Retrier's delay, or with `JitterStrategy: FULL` a draw
/// from `[0, delay_millis)`.
pub fn jittered_delay(delay_millis: u64, jitter: JitterStrategy, entropy: &dyn Entropy) -> u64 {
    match jitter {
        JitterStrategy::None => delay_millis,
        JitterStrategy::Full => (entropy.next_f64() * delay_millis as f64) as u64,
    }
}

/// Decides how to recover from `error`. `attempts[i]` counts the retries made by Retrier
/// `i` so far, and is incremented when a retry is chosen.
pub fn recover(retriers: &[Retrier], catchers: &[Catcher], error: &ErrorName, attempts: &mut [u64]) -> Recovery {
    if let Some(i) = retriers.iter().position(|r| r.matches(error)) {
        let retrier = &retriers[i];
        if attempts[i] < retrier.max_attempts {
            attempts[i] += 1;
            return Recovery::Retry {
                delay_millis: retrier.delay_millis(attempts[i]),
                jitter: retrier.jitter_strategy,
            };
        }
    }
    match catchers.iter().position(|c| c.matches(error)) {
        Some(i) => Recovery::Catch(i),
        None => Recovery::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::ResultPath;
    use crate::error::ErrorMatcher;

    fn retrier(names: &[&str], interval: u64, max: u64, backoff: f64, cap: Option<u64>) -> Retrier {
        Retrier {
            error_equals: names.iter().map(|n| ErrorMatcher::parse(n)).collect(),
            interval_seconds: interval,
            max_attempts: max,
            backoff_rate: backoff,
            max_delay_seconds: cap,
            jitter_strategy: JitterStrategy::None,
        }
    }

    #[test]
    fn backoff_cap_and_exhaustion() {
        let retriers = [retrier(&["A"], 2, 3, 3.0, Some(10)), retrier(&["States.ALL"], 1, 1, 2.0, None)];
        let catchers = [Catcher {
            error_equals: vec![ErrorMatcher::All],
            next: 7,
            result_path: ResultPath::Default,
            assign: None,
            jsonata: None,
        }];
        let mut attempts = [0, 0];
        let a = ErrorName::parse("A");
        let delays: Vec<Recovery> = (0..4).map(|_| recover(&retriers, &catchers, &a, &mut attempts)).collect();
        let retry = |ms| Recovery::Retry { delay_millis: ms, jitter: JitterStrategy::None };
        assert_eq!(delays, vec![retry(2000), retry(6000), retry(10_000), Recovery::Catch(0)]);
        // Another error goes to the second retrier, with its own count.
        let b = ErrorName::parse("B");
        assert_eq!(recover(&retriers, &catchers, &b, &mut attempts), retry(1000));
        assert_eq!(recover(&retriers, &catchers, &b, &mut attempts), Recovery::Catch(0));
        // States.Runtime is neither retried nor caught.
        assert_eq!(recover(&retriers, &catchers, &ErrorName::Runtime, &mut attempts), Recovery::Fail);
    }

    #[test]
    fn max_attempts_zero_never_retries() {
        let retriers = [retrier(&["A"], 1, 0, 2.0, None)];
        let mut attempts = [0];
        assert_eq!(recover(&retriers, &[], &ErrorName::parse("A"), &mut attempts), Recovery::Fail);
    }
}
