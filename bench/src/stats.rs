//! Percentiles of one run, and the median and spread of a figure over several runs.
//!
//! A plain sorted `Vec<Duration>` is enough here: a run holds a few thousand samples at
//! most, and nearest-rank percentiles over all of them are exact.

use std::time::Duration;

/// The `p`-th percentile (0 < p ≤ 100) of sorted samples, by nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    assert!(!sorted.is_empty(), "a run needs samples");
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50 and p99 of one run, in microseconds.
pub fn p50_p99(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort_unstable();
    (
        micros(percentile(&samples, 50.0)),
        micros(percentile(&samples, 99.0)),
    )
}

pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// One figure measured once per run.
#[derive(Debug, Clone, Default)]
pub struct Spread(Vec<f64>);

impl Spread {
    pub fn push(&mut self, v: f64) {
        self.0.push(v);
    }

    pub fn median(&self) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }

    pub fn min(&self) -> f64 {
        self.0.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub fn max(&self) -> f64 {
        self.0.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }

    /// Median and range, with `digits` decimals and a unit: `48.1 µs (45.0–52.3)`.
    pub fn show(&self, digits: usize, unit: &str) -> String {
        format!(
            "{:.d$} {unit} ({:.d$}–{:.d$})",
            self.median(),
            self.min(),
            self.max(),
            d = digits
        )
    }

    /// A ratio: `1.04 (1.01–1.07)`.
    pub fn ratio(&self) -> String {
        format!("{:.2} ({:.2}–{:.2})", self.median(), self.min(), self.max())
    }
}

/// A latency figure pair, per run: p50 and p99 in microseconds.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    pub p50: Spread,
    pub p99: Spread,
}

impl Latency {
    pub fn add_run(&mut self, samples: Vec<Duration>) -> (f64, f64) {
        let (p50, p99) = p50_p99(samples);
        self.p50.push(p50);
        self.p99.push(p99);
        (p50, p99)
    }
}

/// Goal met or not, as a table cell.
pub fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**not met**"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&n| Duration::from_millis(n)).collect()
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let s = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&s, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&s, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&s, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&ms(&[7]), 99.0), Duration::from_millis(7));
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let mut s = Spread::default();
        for v in [4.0, 1.0, 3.0, 2.0] {
            s.push(v);
        }
        assert_eq!(s.median(), 2.5);
        assert_eq!((s.min(), s.max()), (1.0, 4.0));
        assert_eq!(s.show(1, "µs"), "2.5 µs (1.0–4.0)");
    }
}
