//! The sliding window every rate limit uses: the weighted two-window counter.
//!
//! Time is cut into windows of the limit's length, aligned to the Unix epoch on Redis's
//! clock (so every Lambda instance agrees on where a window starts). Each window keeps a
//! count; a request at `elapsed` into the current window sees
//!
//! ```text
//! used = previous × (window − elapsed) / window + current
//! ```
//!
//! and passes when `used + cost ≤ limit` (`used + 1` for a check of cost 0). A refused
//! request adds nothing. The previous window's requests are taken as spread evenly over it:
//! that one assumption is the algorithm's whole error.
//!
//! What it guarantees, exactly, whatever the concurrency (the Redis script runs alone):
//! - no window-aligned interval ever holds more than `limit` (`current ≤ limit` always);
//! - the fixed window's 2× burst is gone: `limit` requests just before a boundary leave
//!   `used ≈ limit` just after it, so the next burst is refused;
//! - the bound against a true sliding log: over any interval of one window's length, at
//!   most `limit × (1 + f)` pass, where `f` is the share of the interval that lies in the
//!   newer window, and only when the older window's requests were bunched at its end; with
//!   traffic spread as assumed, it is exact. (Cloudflare measured 0.003 % of decisions
//!   wrong over 400 M requests of real traffic with this counter.)
//!
//! The arithmetic is integer (every term multiplied by the window's length), and the same
//! inequality is written in `cache/verify.lua`, which decides; this file explains the
//! decision (which limit, how many left, when to retry). The integration tests in
//! `tests/tests/api/windows.rs` hold the two to the same answers.

use crate::domain::limit::Cost;

/// One limit's counts as the script read them, before this request, and where in the
/// current window the request fell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub previous: u64,
    pub current: u64,
    /// Milliseconds into the current window.
    pub elapsed_ms: u64,
}

/// A limit of `limit` per `window_ms`, and what a request of `cost` meets in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: u64,
    pub window_ms: u64,
}

impl Window {
    /// `used × window`, in integers: the previous window weighted by what is left of it.
    fn used_scaled(self, c: WindowCount) -> u128 {
        let left = u128::from(self.window_ms.saturating_sub(c.elapsed_ms));
        u128::from(c.previous) * left + u128::from(c.current) * u128::from(self.window_ms)
    }

    /// Whether a request of `cost` passes.
    pub fn passes(self, c: WindowCount, cost: Cost) -> bool {
        self.used_scaled(c) + u128::from(cost.needs()) * u128::from(self.window_ms)
            <= u128::from(self.limit) * u128::from(self.window_ms)
    }

    /// Whole requests left after `c` (counted after this request, when it passed).
    pub fn remaining(self, c: WindowCount) -> u64 {
        let room = (u128::from(self.limit) * u128::from(self.window_ms))
            .saturating_sub(self.used_scaled(c));
        u64::try_from(room / u128::from(self.window_ms)).unwrap_or(u64::MAX)
    }

    /// Milliseconds until the current window ends: `RateLimit-Reset` for a request that
    /// passed. By then what is left has only grown (the older window's weight falls all the
    /// time), to at least `limit − current`.
    pub fn to_window_end(self, c: WindowCount) -> u64 {
        self.window_ms.saturating_sub(c.elapsed_ms).max(1)
    }

    /// Milliseconds until a request of `cost`, refused now, would pass if nothing else
    /// came: `Retry-After`. A cost above the limit never passes: it is told to wait until
    /// both windows are empty.
    pub fn retry_after_ms(self, c: WindowCount, cost: Cost) -> u64 {
        let (w, need) = (u128::from(self.window_ms), u128::from(cost.needs()));
        let (limit, prev, curr) = (
            u128::from(self.limit),
            u128::from(c.previous),
            u128::from(c.current),
        );
        let elapsed = u128::from(c.elapsed_ms.min(self.window_ms));
        let to_end = w - elapsed;
        if need > limit {
            return to_ms(to_end + w);
        }
        // Still in this window: wait until the previous window's weight has fallen enough,
        // `prev × (w − e) ≤ (limit − curr − need) × w`.
        if curr + need <= limit {
            if let Some(weight) = ((limit - curr - need) * w).checked_div(prev) {
                let e = w.saturating_sub(weight);
                if e < w {
                    return to_ms(e.saturating_sub(elapsed).max(1));
                }
            }
        }
        // In the next window, where this window's count is the previous one:
        // `curr × (w − e) ≤ (limit − need) × w`.
        let e = ((limit - need) * w)
            .checked_div(curr)
            .map_or(0, |room| w.saturating_sub(room));
        to_ms(to_end + e)
    }
}

fn to_ms(v: u128) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Window = Window {
        limit: 10,
        window_ms: 60_000,
    };

    fn at(previous: u64, current: u64, elapsed_ms: u64) -> WindowCount {
        WindowCount {
            previous,
            current,
            elapsed_ms,
        }
    }

    fn cost(n: u64) -> Cost {
        Cost::new(n).unwrap()
    }

    #[test]
    fn a_fresh_window_lets_the_limit_through_and_no_more() {
        for current in 0..10 {
            assert!(MINUTE.passes(at(0, current, 5_000), Cost::ONE), "{current}");
        }
        assert!(!MINUTE.passes(at(0, 10, 5_000), Cost::ONE));
        assert_eq!(MINUTE.remaining(at(0, 3, 5_000)), 7);
    }

    #[test]
    fn a_full_window_just_before_the_boundary_refuses_a_burst_just_after_it() {
        // 10 requests at 59.9 s, then at 0.1 s into the next window: the fixed window
        // would let 10 more through; this one lets none.
        let just_after = at(10, 0, 100);
        assert!(!MINUTE.passes(just_after, Cost::ONE));
        assert_eq!(MINUTE.remaining(just_after), 0);
        // Half way through, half the previous window still counts.
        assert!(MINUTE.passes(at(10, 4, 30_000), Cost::ONE));
        assert!(!MINUTE.passes(at(10, 5, 30_000), Cost::ONE));
    }

    #[test]
    fn retry_after_is_when_the_request_first_passes() {
        for (c, cost) in [
            (at(10, 0, 100), Cost::ONE),
            (at(10, 4, 30_000), cost(2)),
            (at(0, 10, 1_000), Cost::ONE),
            (at(3, 10, 59_000), cost(4)),
            (at(7, 2, 12_345), cost(3)),
        ] {
            assert!(!MINUTE.passes(c, cost), "{c:?}");
            let wait = MINUTE.retry_after_ms(c, cost);
            let later = |ms: u64| {
                let e = c.elapsed_ms + ms;
                if e < MINUTE.window_ms {
                    at(c.previous, c.current, e)
                } else if e < 2 * MINUTE.window_ms {
                    at(c.current, 0, e - MINUTE.window_ms)
                } else {
                    at(0, 0, e % MINUTE.window_ms)
                }
            };
            assert!(MINUTE.passes(later(wait), cost), "{c:?} after {wait}");
            assert!(!MINUTE.passes(later(wait - 1), cost), "{c:?} before {wait}");
        }
    }

    #[test]
    fn a_cost_above_the_limit_never_passes_and_waits_two_windows() {
        assert!(!MINUTE.passes(at(0, 0, 0), cost(11)));
        assert_eq!(MINUTE.retry_after_ms(at(0, 0, 20_000), cost(11)), 100_000);
    }

    #[test]
    fn cost_zero_needs_one_left_and_the_window_end_is_never_zero() {
        assert!(MINUTE.passes(at(0, 9, 0), cost(0)));
        assert!(!MINUTE.passes(at(0, 10, 0), cost(0)));
        assert_eq!(MINUTE.to_window_end(at(0, 0, 60_000)), 1);
        assert_eq!(MINUTE.to_window_end(at(0, 0, 59_000)), 1_000);
    }

    #[test]
    fn the_largest_limits_and_windows_do_not_overflow() {
        let big = Window {
            limit: 1_000_000,
            window_ms: 86_400_000,
        };
        assert!(big.passes(at(1_000_000, 0, 86_399_999), cost(1000)));
        assert_eq!(big.remaining(at(0, 0, 0)), 1_000_000);
    }
}
