//! Vector arithmetic for L2-normalised embeddings, where cosine similarity is the
//! dot product. This is the inner loop of exact search, so in the browser it uses
//! WebAssembly SIMD (simd128 is enabled in .cargo/config.toml).

/// The dot product of two vectors of equal length (extra elements of the longer
/// one are ignored).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        dot_simd128(a, b)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        dot_portable(a, b)
    }
}

/// Eight independent accumulators: the compiler vectorises this natively, and it
/// keeps the same summation shape as the SIMD version.
#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(dead_code)
)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let length = a.len().min(b.len());
    let (a, b) = (&a[..length], &b[..length]);
    let mut sums = [0.0f32; 8];
    let (a_chunks, a_rest) = a.as_chunks::<8>();
    let (b_chunks, b_rest) = b.as_chunks::<8>();
    for (a8, b8) in a_chunks.iter().zip(b_chunks) {
        for ((sum, x), y) in sums.iter_mut().zip(a8).zip(b8) {
            *sum += x * y;
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    sums.iter().sum::<f32>() + tail
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn dot_simd128(a: &[f32], b: &[f32]) -> f32 {
    use core::arch::wasm32::*;
    let length = a.len().min(b.len());
    let (a, b) = (&a[..length], &b[..length]);
    let chunks = length / 8;
    let mut sum0 = f32x4_splat(0.0);
    let mut sum1 = f32x4_splat(0.0);
    for chunk in 0..chunks {
        let offset = chunk * 8;
        // SAFETY: offset + 8 <= length, and v128_load has no alignment requirement.
        unsafe {
            let a0 = v128_load(a.as_ptr().add(offset) as *const v128);
            let b0 = v128_load(b.as_ptr().add(offset) as *const v128);
            let a1 = v128_load(a.as_ptr().add(offset + 4) as *const v128);
            let b1 = v128_load(b.as_ptr().add(offset + 4) as *const v128);
            sum0 = f32x4_add(sum0, f32x4_mul(a0, b0));
            sum1 = f32x4_add(sum1, f32x4_mul(a1, b1));
        }
    }
    let sum = f32x4_add(sum0, sum1);
    let mut total = f32x4_extract_lane::<0>(sum)
        + f32x4_extract_lane::<1>(sum)
        + f32x4_extract_lane::<2>(sum)
        + f32x4_extract_lane::<3>(sum);
    for index in chunks * 8..length {
        total += a[index] * b[index];
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }

    #[test]
    fn matches_a_plain_sum_for_every_length_around_the_lane_width() {
        for length in 0..40 {
            let a: Vec<f32> = (0..length).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..length).map(|i| (i as f32 * 0.11).cos()).collect();
            let expected = scalar(&a, &b);
            assert!(
                (f64::from(dot(&a, &b)) - expected).abs() < 1e-5,
                "length {length}"
            );
        }
    }

    #[test]
    fn unit_vectors_give_cosine() {
        let a = [0.6, 0.8, 0.0];
        assert!((dot(&a, &a) - 1.0).abs() < 1e-7);
        assert_eq!(dot(&a, &[0.0, 0.0, 1.0]), 0.0);
        assert_eq!(dot(&a, &[]), 0.0);
    }
}
