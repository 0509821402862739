//! Sharing one bulk embedding among several workers: contiguous, near-equal
//! shares, the first for the worker that asked (so results come back in order
//! by concatenation), and never a share too small to pay for its messages.

use std::ops::Range;

/// A share smaller than this costs more in messages and idle waiting than it
/// saves (a batch of 16 texts of ~30 tokens takes ~100 ms in the browser).
pub const MIN_TEXTS_PER_WORKER: usize = 8;

/// Splits `count` texts among at most `workers` workers: contiguous ranges that
/// cover `0..count` in order, sizes differing by at most one, each holding at
/// least [`MIN_TEXTS_PER_WORKER`] texts (one range when there are too few).
pub fn share_out(count: usize, workers: usize) -> Vec<Range<usize>> {
    if count == 0 {
        return Vec::new();
    }
    let shares = (count / MIN_TEXTS_PER_WORKER).clamp(1, workers.max(1));
    let (base, extra) = (count / shares, count % shares);
    let mut start = 0;
    (0..shares)
        .map(|share| {
            let end = start + base + usize::from(share < extra);
            let range = start..end;
            start = end;
            range
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(shares: &[Range<usize>]) -> Vec<usize> {
        shares.iter().map(ExactSizeIterator::len).collect()
    }

    #[test]
    fn a_batch_of_the_app_is_halved_between_two_workers() {
        assert_eq!(share_out(32, 2), vec![0..16, 16..32]);
        assert_eq!(sizes(&share_out(33, 2)), vec![17, 16]);
    }

    #[test]
    fn few_texts_stay_with_the_worker_that_asked() {
        assert!(share_out(0, 4).is_empty());
        assert_eq!(share_out(1, 4), vec![0..1]);
        assert_eq!(share_out(15, 2), vec![0..15]);
        assert_eq!(share_out(40, 1), vec![0..40]);
        assert_eq!(share_out(40, 0), vec![0..40]);
    }

    #[test]
    fn shares_are_never_smaller_than_the_minimum() {
        assert_eq!(sizes(&share_out(20, 4)), vec![10, 10]);
        assert_eq!(sizes(&share_out(24, 4)), vec![8, 8, 8]);
    }

    #[test]
    fn shares_cover_every_text_once_in_order() {
        for count in 0..200 {
            for workers in 0..6 {
                let shares = share_out(count, workers);
                let covered: Vec<usize> = shares.iter().cloned().flatten().collect();
                assert_eq!(
                    covered,
                    (0..count).collect::<Vec<_>>(),
                    "{count} texts, {workers} workers"
                );
                assert!(shares.len() <= workers.max(1));
                let sizes = sizes(&shares);
                let (min, max) = (sizes.iter().min(), sizes.iter().max());
                if let (Some(min), Some(max)) = (min, max) {
                    assert!(
                        max - min <= 1,
                        "{count} texts, {workers} workers: {sizes:?}"
                    );
                    assert!(shares.len() == 1 || *min >= MIN_TEXTS_PER_WORKER);
                }
            }
        }
    }
}
