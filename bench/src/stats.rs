//! The arithmetic of the figures: rates and latency percentiles, the same for every benchmark.

use std::time::Duration;

/// `count` over `seconds`; nothing measured is a rate of 0.
pub fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// Nearest-rank percentile `p` (0–1) of sorted latencies, in milliseconds; none measured is
/// `None`.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1].as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let l: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&l, 0.50), Some(50.0));
        assert_eq!(percentile_ms(&l, 0.99), Some(99.0));
        assert_eq!(percentile_ms(&l, 1.0), Some(100.0));
        assert_eq!(percentile_ms(&l, 0.0), Some(1.0));
        assert_eq!(percentile_ms(&[], 0.5), None);
        assert_eq!(per_second(10, 0.0), 0.0);
        assert_eq!(per_second(10, 2.0), 5.0);
    }
}
