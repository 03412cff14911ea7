//! Topic message rates, from the sequence numbers of successive snapshots:
//! nothing is counted per message for them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::monitor::view::TopicView;

/// A rate is measured over at least this long, so pollers a few
/// milliseconds apart do not see noise.
const WINDOW: Duration = Duration::from_secs(1);
/// Topics remembered at most; past it the book starts over.
const MAX_TOPICS: usize = 100_000;

/// Per topic: the last sample and the rate measured up to it.
#[derive(Debug, Default)]
pub(super) struct Rates {
    seen: HashMap<String, Sample>,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    seq: u64,
    at: Instant,
    rate: Option<f64>,
}

impl Rates {
    /// Fills in each topic's rate: messages per second between the last
    /// sample at least [`WINDOW`] old and now (`None` on a first look).
    pub(super) fn fill(&mut self, topics: &mut [TopicView]) {
        let now = Instant::now();
        if self.seen.len() + topics.len() > MAX_TOPICS {
            self.seen.clear();
        }
        for topic in topics {
            let sample = self.seen.entry(topic.topic.clone()).or_insert(Sample {
                seq: topic.seq,
                at: now,
                rate: None,
            });
            let elapsed = now.saturating_duration_since(sample.at);
            if elapsed >= WINDOW {
                // A topic removed and made anew restarts its numbering.
                let grown = topic.seq.saturating_sub(sample.seq);
                *sample = Sample {
                    seq: topic.seq,
                    at: now,
                    rate: Some(grown as f64 / elapsed.as_secs_f64()),
                };
            }
            topic.rate = sample.rate;
        }
    }
}
