//! Token vectors → one sentence vector: mean over the attention mask, then L2
//! normalisation, exactly as sentence-transformers does for all-MiniLM-L6-v2.

/// Averages the `dimension`-long token vectors in `tokens` whose mask entry is 1.
/// A sequence with no unmasked token gives the zero vector.
pub fn mean_pool(tokens: &[f32], mask: &[i64], dimension: usize) -> Vec<f32> {
    let mut sum = vec![0.0f32; dimension];
    let mut count = 0usize;
    for (token, &keep) in tokens.chunks_exact(dimension).zip(mask) {
        if keep != 0 {
            for (total, value) in sum.iter_mut().zip(token) {
                *total += value;
            }
            count += 1;
        }
    }
    if count > 0 {
        let scale = 1.0 / count as f32;
        sum.iter_mut().for_each(|value| *value *= scale);
    }
    sum
}

/// Scales `vector` to unit length (sentence-transformers clamps the norm at 1e-12,
/// so a zero vector stays zero).
pub fn l2_normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|value| value * value).sum::<f32>().sqrt();
    let scale = 1.0 / norm.max(1e-12);
    vector.iter_mut().for_each(|value| *value *= scale);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_tokens_do_not_count() {
        // Two real tokens and one padding token with large values.
        let tokens = [1.0, 2.0, 3.0, 4.0, 100.0, 100.0];
        assert_eq!(mean_pool(&tokens, &[1, 1, 0], 2), vec![2.0, 3.0]);
    }

    #[test]
    fn normalised_vectors_have_unit_length_and_zero_stays_zero() {
        let mut vector = vec![3.0, 4.0];
        l2_normalize(&mut vector);
        assert_eq!(vector, vec![0.6, 0.8]);
        let mut zero = vec![0.0; 3];
        l2_normalize(&mut zero);
        assert_eq!(zero, vec![0.0; 3]);
        assert_eq!(mean_pool(&[1.0, 1.0], &[0], 2), vec![0.0, 0.0]);
    }
}
