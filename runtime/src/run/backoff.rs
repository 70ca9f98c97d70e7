//! How long a send waits after a failed delivery attempt before the next:
//! doubling from `first` up to `max`, never past the send's deadline (a
//! last attempt at the deadline beats a certain miss).
//!
//! No random jitter: runs start when the scheduler says, so retries are
//! already grouped at run instants, and a run stays deterministic (its
//! clock is an input).

use jiff::{SignedDuration, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failed attempt.
    pub first: SignedDuration,
    /// The longest wait.
    pub max: SignedDuration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            first: SignedDuration::from_mins(1),
            max: SignedDuration::from_hours(1),
        }
    }
}

impl Backoff {
    /// The wait after `attempts` failed attempts (1 for the first).
    pub fn wait(&self, attempts: u32) -> SignedDuration {
        let doublings = attempts.saturating_sub(1).min(30);
        let wait = self
            .first
            .checked_mul(1i32 << doublings)
            .unwrap_or(self.max);
        wait.min(self.max).max(SignedDuration::ZERO)
    }

    /// When the next attempt may start, after an attempt at `now` that was
    /// the `attempts`-th to fail.
    pub fn next_attempt(&self, attempts: u32, now: Timestamp, deadline: Timestamp) -> Timestamp {
        now.checked_add(self.wait(attempts))
            .unwrap_or(Timestamp::MAX)
            .min(deadline)
            .max(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn waits_double_from_the_first_up_to_the_longest() {
        let backoff = Backoff::default();
        let minutes: Vec<i64> = (1..=9).map(|n| backoff.wait(n).as_mins()).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff.wait(u32::MAX).as_mins(), 60, "no overflow");
    }

    #[test]
    fn the_next_attempt_is_never_past_the_deadline() {
        let backoff = Backoff::default();
        let now = at("2027-03-01T22:50:00Z");
        let deadline = at("2027-03-01T22:59:59Z");
        assert_eq!(
            backoff.next_attempt(1, now, deadline),
            at("2027-03-01T22:51:00Z")
        );
        assert_eq!(backoff.next_attempt(5, now, deadline), deadline);
        // A deadline already passed never puts the attempt before now.
        assert_eq!(
            backoff.next_attempt(1, now, at("2027-03-01T00:00:00Z")),
            now
        );
    }
}
