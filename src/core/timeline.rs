//! The memory over time: how many memories were added, changed and last used in
//! each period, for the timeline drawn under the memory map.
//!
//! Periods are whole local days (the page passes its offset from UTC), grouped
//! into buckets of several days when the history is longer than the chart is
//! wide. Every bucket between the first and the last event is present, empty or
//! not, so the bars are evenly spaced in time.

use serde::{Deserialize, Serialize};

use crate::core::memory::{Memory, Millis, Revision};

pub const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TimelineBucket {
    /// When the bucket starts (local midnight), in milliseconds since the epoch.
    pub start: Millis,
    pub added: u32,
    /// Changes recorded in the memories' histories (edits, trash, restore).
    pub changed: u32,
    /// Memories whose last use falls in this bucket.
    pub last_used: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Timeline {
    /// How many days one bucket covers.
    pub days_per_bucket: u32,
    pub buckets: Vec<TimelineBucket>,
}

impl Timeline {
    /// The largest count in any bucket and series (the chart's scale).
    pub fn peak(&self) -> u32 {
        self.buckets
            .iter()
            .map(|bucket| bucket.added.max(bucket.changed).max(bucket.last_used))
            .max()
            .unwrap_or(0)
    }
}

#[derive(Clone, Copy)]
enum Event {
    Added,
    Changed,
    Used,
}

/// Buckets the events of `memories` and `revisions` into at most `max_buckets`
/// periods of whole days in the zone `utc_offset_ms` ahead of UTC.
pub fn timeline<'a>(
    memories: impl IntoIterator<Item = &'a Memory>,
    revisions: impl IntoIterator<Item = &'a Revision>,
    utc_offset_ms: i64,
    max_buckets: usize,
) -> Timeline {
    let mut events: Vec<(i64, Event)> = Vec::new();
    for memory in memories {
        events.push((local_day(memory.created_at, utc_offset_ms), Event::Added));
        if let Some(used) = memory.last_used_at {
            events.push((local_day(used, utc_offset_ms), Event::Used));
        }
    }
    for revision in revisions {
        events.push((
            local_day(revision.changed_at, utc_offset_ms),
            Event::Changed,
        ));
    }
    let (Some(first), Some(last)) = (
        events.iter().map(|(day, _)| *day).min(),
        events.iter().map(|(day, _)| *day).max(),
    ) else {
        return Timeline {
            days_per_bucket: 1,
            buckets: Vec::new(),
        };
    };
    // Both are at least 1, so the rounded-up divisions below are well defined.
    let span = last - first + 1;
    let most = max_buckets.max(1) as i64;
    let days_per_bucket = (span + most - 1) / most;
    let count = (span + days_per_bucket - 1) / days_per_bucket;
    let mut buckets: Vec<TimelineBucket> = (0..count)
        .map(|index| TimelineBucket {
            start: ((first + index * days_per_bucket) * DAY_MS - utc_offset_ms).max(0) as Millis,
            ..TimelineBucket::default()
        })
        .collect();
    for (day, event) in events {
        let Some(bucket) = buckets.get_mut(((day - first) / days_per_bucket) as usize) else {
            continue;
        };
        let counter = match event {
            Event::Added => &mut bucket.added,
            Event::Changed => &mut bucket.changed,
            Event::Used => &mut bucket.last_used,
        };
        *counter = counter.saturating_add(1);
    }
    Timeline {
        days_per_bucket: days_per_bucket as u32,
        buckets,
    }
}

/// The local day number of `time` (days since 1970-01-01 in that zone).
fn local_day(time: Millis, utc_offset_ms: i64) -> i64 {
    (time.min(i64::MAX as u64) as i64 + utc_offset_ms).div_euclid(DAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::memory::{ChangedBy, Kind, MemoryId, Source};

    const T0: Millis = 1_767_225_600_000; // 2026-01-01 00:00 UTC
    const DAY: Millis = DAY_MS as Millis;

    fn memory(id: &str, created_at: Millis) -> Memory {
        Memory::new(
            MemoryId(id.into()),
            Kind::Note,
            "x",
            Source::Manual,
            created_at,
        )
    }

    #[test]
    fn events_are_counted_per_local_day_with_empty_days_in_between() {
        let mut used = memory("a", T0 + 3_600_000);
        used.last_used_at = Some(T0 + 2 * DAY + 10);
        let memories = [
            used.clone(),
            memory("b", T0 + 5_000),
            memory("c", T0 + 3 * DAY),
        ];
        let revisions = [Revision {
            before: used,
            changed_by: ChangedBy::User,
            changed_at: T0 + DAY * 2 + 99,
        }];
        let timeline = timeline(&memories, &revisions, 0, 100);
        assert_eq!(timeline.days_per_bucket, 1);
        let counts: Vec<(Millis, u32, u32, u32)> = timeline
            .buckets
            .iter()
            .map(|b| (b.start, b.added, b.changed, b.last_used))
            .collect();
        assert_eq!(
            counts,
            [
                (T0, 2, 0, 0),
                (T0 + DAY, 0, 0, 0),
                (T0 + 2 * DAY, 0, 1, 1),
                (T0 + 3 * DAY, 1, 0, 0)
            ]
        );
        assert_eq!(timeline.peak(), 2);
    }

    #[test]
    fn days_follow_the_users_time_zone() {
        // 23:30 UTC on 1 January is already 2 January in Paris (UTC+1).
        let late = memory("a", T0 + DAY - 1_800_000);
        let early = memory("b", T0 + 1_000);
        let paris = 3_600_000;
        let in_paris = timeline([&late, &early], [], paris, 10);
        assert_eq!(in_paris.buckets.len(), 2);
        assert_eq!(in_paris.buckets[0].start, T0 - paris as Millis);
        let in_utc = timeline([&late, &early], [], 0, 10);
        assert_eq!(in_utc.buckets.len(), 1);
        assert_eq!(in_utc.buckets[0].added, 2);
    }

    #[test]
    fn a_long_history_is_grouped_into_at_most_the_buckets_asked_for() {
        let memories: Vec<Memory> = (0..365)
            .map(|day| memory(&format!("m{day}"), T0 + day * DAY))
            .collect();
        let timeline = timeline(&memories, [], 0, 52);
        assert!(timeline.buckets.len() <= 52);
        assert_eq!(timeline.days_per_bucket, 8);
        let total: u32 = timeline.buckets.iter().map(|b| b.added).sum();
        assert_eq!(total, 365, "no event is lost by grouping");
        assert_eq!(timeline.buckets[1].start, T0 + 8 * DAY);
    }

    #[test]
    fn no_memories_no_buckets() {
        let timeline = timeline([], [], 0, 10);
        assert!(timeline.buckets.is_empty());
        assert_eq!(timeline.peak(), 0);
    }
}
