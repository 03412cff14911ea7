//! Latency percentiles over every delivery of a run.

/// Latency summary, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest latency.
    pub max: u64,
}

/// Merges the per-subscriber latencies and summarizes them; `None` when
/// nothing was delivered.
pub fn summarize(per_subscriber: Vec<Vec<u64>>) -> Option<Summary> {
    let mut all: Vec<u64> = per_subscriber.into_iter().flatten().collect();
    all.sort_unstable();
    let max = *all.last()?;
    Some(Summary {
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        p999: percentile(&all, 0.999),
        max,
    })
}

/// Nearest-rank percentile of sorted, non-empty `values`: the smallest
/// value that at least the fraction `p` of all values do not exceed.
fn percentile(values: &[u64], p: f64) -> u64 {
    let rank = (p * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let summary = summarize(vec![(1..=500).rev().collect(), (501..=1000).collect()]);
        assert_eq!(
            summary,
            Some(Summary {
                p50: 500,
                p99: 990,
                p999: 999,
                max: 1000
            })
        );
        assert_eq!(
            summarize(vec![vec![7]]).map(|s| (s.p50, s.p999)),
            Some((7, 7))
        );
        assert_eq!(summarize(vec![Vec::new()]), None);
    }
}
