//! Retrieval quality measures (for benchmarks, tests and the evaluation page).

use std::collections::HashMap;
use std::hash::Hash;

/// nDCG@k with linear gains: how close `ranked` is to the ideal ordering of the
/// graded `relevant` items (grade > 0). 0 when nothing is relevant.
pub fn ndcg_at<T: Eq + Hash>(ranked: &[T], relevant: &HashMap<T, f64>, k: usize) -> f64 {
    let discount = |position: usize| 1.0 / (position as f64 + 2.0).log2();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(position, item)| relevant.get(item).copied().unwrap_or(0.0) * discount(position))
        .sum();
    let mut ideal: Vec<f64> = relevant
        .values()
        .copied()
        .filter(|grade| *grade > 0.0)
        .collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let ideal_dcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(position, grade)| grade * discount(position))
        .sum();
    if ideal_dcg == 0.0 {
        0.0
    } else {
        dcg / ideal_dcg
    }
}

/// The share of `expected` found among the first `k` of `ranked` (1 when nothing
/// is expected).
pub fn recall_at<T: Eq>(ranked: &[T], expected: &[T], k: usize) -> f64 {
    if expected.is_empty() {
        return 1.0;
    }
    let found = expected
        .iter()
        .filter(|item| ranked.iter().take(k).any(|ranked| ranked == *item))
        .count();
    found as f64 / expected.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndcg_is_one_for_the_ideal_order_and_less_for_others() {
        let relevant: HashMap<&str, f64> = [("a", 2.0), ("b", 1.0)].into();
        assert!((ndcg_at(&["a", "b", "x"], &relevant, 10) - 1.0).abs() < 1e-12);
        // b first, then a: (1/1 + 2/log2(3)) / (2/1 + 1/log2(3))
        let expected = (1.0 + 2.0 / 3f64.log2()) / (2.0 + 1.0 / 3f64.log2());
        assert!((ndcg_at(&["b", "a"], &relevant, 10) - expected).abs() < 1e-12);
        assert_eq!(ndcg_at(&["x", "y"], &relevant, 10), 0.0);
        assert_eq!(
            ndcg_at(&["x", "a"], &relevant, 1),
            0.0,
            "a is past the cut-off"
        );
        assert_eq!(ndcg_at(&["a"], &HashMap::new(), 10), 0.0);
    }

    #[test]
    fn recall_counts_expected_items_within_k() {
        assert_eq!(recall_at(&["a", "b", "c"], &["c", "d"], 3), 0.5);
        assert_eq!(recall_at(&["a", "b", "c"], &["c"], 2), 0.0);
        assert_eq!(recall_at::<&str>(&[], &[], 2), 1.0);
    }
}
