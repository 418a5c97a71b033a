//! Samples and their percentiles.

use std::time::Duration;

/// What a measurement counts, and which direction is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Wall time, in seconds; lower is better.
    Time,
    /// Bytes; lower is better.
    Bytes,
    /// Events per second; higher is better.
    PerSecond,
    /// A plain count; higher is better.
    Count,
    /// A ratio of two medians; lower is better.
    Ratio,
}

impl Unit {
    pub fn higher_is_better(self) -> bool {
        matches!(self, Unit::PerSecond | Unit::Count)
    }

    pub fn format(self, value: f64) -> String {
        match self {
            Unit::Time if value >= 1e-3 => format!("{:.1} ms", value * 1e3),
            Unit::Time => format!("{:.1} µs", value * 1e6),
            Unit::Bytes if value >= (1 << 20) as f64 => format!("{:.2} MiB", value / 1048576.0),
            Unit::Bytes => format!("{:.1} KiB", value / 1024.0),
            Unit::PerSecond => format!("{:.0}/s", value),
            Unit::Count => format!("{:.0}", value),
            Unit::Ratio => format!("{:.2}×", value),
        }
    }
}

/// Median, p90 and p99 of a set of samples. For units where higher is
/// better, p90 and p99 are the low tail (90% / 99% of samples are at least
/// this good), so they always read as "how bad the slow cases get".
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub unit: Unit,
    pub median: f64,
    pub p90: f64,
    pub p99: f64,
    pub samples: usize,
}

impl Summary {
    pub fn of(unit: Unit, mut samples: Vec<f64>) -> Self {
        assert!(!samples.is_empty(), "no samples");
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let q = if unit.higher_is_better() { 1.0 - q } else { q };
            samples[((samples.len() - 1) as f64 * q).round() as usize]
        };
        Self {
            unit,
            median: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            samples: samples.len(),
        }
    }

    pub fn times(samples: Vec<Duration>) -> Self {
        Self::of(
            Unit::Time,
            samples.iter().map(Duration::as_secs_f64).collect(),
        )
    }

    /// One value (a count, a ratio): median = p90 = p99.
    pub fn single(unit: Unit, value: f64) -> Self {
        Self::of(unit, vec![value])
    }

    /// How many times better `self` is than `peer`, by median (above 1:
    /// `self` is better).
    pub fn advantage_over(&self, peer: &Summary) -> f64 {
        if self.unit.higher_is_better() {
            self.median / peer.median
        } else {
            peer.median / self.median
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_read_as_the_bad_tail() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let time = Summary::of(Unit::Time, samples.clone());
        assert_eq!((time.median, time.p90, time.p99), (51.0, 90.0, 99.0));
        let rate = Summary::of(Unit::PerSecond, samples);
        assert_eq!((rate.median, rate.p90, rate.p99), (51.0, 11.0, 2.0));
    }
}
