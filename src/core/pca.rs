//! A 2-D picture of the memory: principal component analysis of the vectors,
//! so that memories about the same things land near each other on the map.
//!
//! The two axes are the directions in which the vectors vary most: the top
//! eigenvectors of their covariance, found by power iteration with deflation.
//! The covariance is estimated from at most [`MAX_FIT_SAMPLE`] vectors taken
//! evenly from the input (a few thousand fix the main directions of 384-d
//! sentence embeddings well; all 100k would cost 25× more for the same picture),
//! then every vector is projected. The result is deterministic: the same
//! vectors always give the same map, and each axis points so that its largest
//! component is positive.

/// How many vectors the covariance is estimated from.
pub const MAX_FIT_SAMPLE: usize = 3_000;
/// Power iteration stops after this many rounds, or sooner when it settles.
const MAX_ROUNDS: usize = 300;
const SETTLED: f64 = 1e-10;

/// The fitted axes: project vectors of the same model with [`Projection::project`].
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    mean: Vec<f64>,
    axes: [Vec<f64>; 2],
    /// The share of the total variance each axis shows (0 to 1).
    pub explained: [f64; 2],
}

impl Projection {
    /// Fits the two main axes of `vectors`. Vectors whose dimension differs from
    /// the first one's, or that hold a non-finite number, are left out; `None`
    /// when no vector is left.
    pub fn fit(vectors: &[&[f32]]) -> Option<Projection> {
        let dimension = vectors.first()?.len();
        let usable: Vec<&[f32]> = vectors
            .iter()
            .copied()
            .filter(|vector| {
                vector.len() == dimension && vector.iter().all(|value| value.is_finite())
            })
            .collect();
        if usable.is_empty() || dimension == 0 {
            return None;
        }
        let step = usable.len().div_ceil(MAX_FIT_SAMPLE);
        let sample: Vec<&[f32]> = usable.iter().copied().step_by(step).collect();
        let count = sample.len() as f64;

        let mut mean = vec![0.0f64; dimension];
        for vector in &sample {
            for (total, value) in mean.iter_mut().zip(vector.iter()) {
                *total += f64::from(*value);
            }
        }
        mean.iter_mut().for_each(|total| *total /= count);

        // The upper triangle is accumulated, then mirrored.
        let mut covariance = vec![0.0f64; dimension * dimension];
        let mut centred = vec![0.0f64; dimension];
        for vector in &sample {
            for ((slot, value), mean) in centred.iter_mut().zip(vector.iter()).zip(&mean) {
                *slot = f64::from(*value) - mean;
            }
            for row in 0..dimension {
                let scale = centred[row];
                if scale == 0.0 {
                    continue;
                }
                let line = &mut covariance[row * dimension + row..(row + 1) * dimension];
                for (cell, value) in line.iter_mut().zip(&centred[row..]) {
                    *cell += scale * value;
                }
            }
        }
        for row in 0..dimension {
            for column in row..dimension {
                let value = covariance[row * dimension + column] / count;
                covariance[row * dimension + column] = value;
                covariance[column * dimension + row] = value;
            }
        }
        let total_variance: f64 = (0..dimension)
            .map(|index| covariance[index * dimension + index])
            .sum();

        let (first, first_value) = top_eigenvector(&covariance, dimension);
        // Deflation: remove the first direction, and the second-largest one is on top.
        for row in 0..dimension {
            for column in 0..dimension {
                covariance[row * dimension + column] -= first_value * first[row] * first[column];
            }
        }
        let (second, second_value) = top_eigenvector(&covariance, dimension);
        let share = |value: f64| {
            if total_variance > 0.0 {
                (value / total_variance).clamp(0.0, 1.0)
            } else {
                0.0
            }
        };
        Some(Projection {
            mean,
            axes: [first, second],
            explained: [share(first_value), share(second_value)],
        })
    }

    /// Where `vector` lands on the map (the mean of the fitted vectors is 0, 0).
    /// A vector of another dimension lands at the origin.
    pub fn project(&self, vector: &[f32]) -> [f32; 2] {
        if vector.len() != self.mean.len() {
            return [0.0, 0.0];
        }
        let along = |axis: &[f64]| -> f32 {
            vector
                .iter()
                .zip(&self.mean)
                .zip(axis)
                .map(|((value, mean), weight)| (f64::from(*value) - mean) * weight)
                .sum::<f64>() as f32
        };
        [along(&self.axes[0]), along(&self.axes[1])]
    }
}

/// The unit eigenvector of the largest eigenvalue of the symmetric `matrix`,
/// and that eigenvalue (0 and an arbitrary unit vector for a zero matrix).
fn top_eigenvector(matrix: &[f64], dimension: usize) -> (Vec<f64>, f64) {
    // A fixed start that is not orthogonal to any one axis in practice.
    let mut vector: Vec<f64> = (0..dimension)
        .map(|index| 1.0 + index as f64 / dimension as f64)
        .collect();
    normalise(&mut vector);
    let mut value = 0.0;
    let mut next = vec![0.0f64; dimension];
    for _ in 0..MAX_ROUNDS {
        for (row, slot) in next.iter_mut().enumerate() {
            *slot = matrix[row * dimension..(row + 1) * dimension]
                .iter()
                .zip(&vector)
                .map(|(cell, value)| cell * value)
                .sum();
        }
        let norm = normalise(&mut next);
        if norm == 0.0 {
            return (vector, 0.0);
        }
        value = norm;
        let moved: f64 = next
            .iter()
            .zip(&vector)
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        std::mem::swap(&mut vector, &mut next);
        if moved < SETTLED {
            break;
        }
    }
    let largest = vector.iter().copied().fold(0.0f64, |best, value| {
        if value.abs() > best.abs() {
            value
        } else {
            best
        }
    });
    if largest < 0.0 {
        vector.iter_mut().for_each(|value| *value = -*value);
    }
    (vector, value)
}

/// Scales `vector` to length 1; returns its former length.
fn normalise(vector: &mut [f64]) -> f64 {
    let norm = vector.iter().map(|value| value * value).sum::<f64>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|value| *value /= norm);
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reproducible noise in [-1, 1].
    fn noise(state: &mut u64) -> f32 {
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((*state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn fit(vectors: &[Vec<f32>]) -> Projection {
        let views: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        Projection::fit(&views).unwrap()
    }

    #[test]
    fn the_first_axis_follows_the_direction_of_most_spread() {
        let mut state = 7;
        // Spread 10 along (1, 1, 0), 2 along (1, -1, 0), a little along z.
        let vectors: Vec<Vec<f32>> = (0..500)
            .map(|_| {
                let (a, b, c) = (
                    10.0 * noise(&mut state),
                    2.0 * noise(&mut state),
                    0.1 * noise(&mut state),
                );
                vec![a + b + 5.0, a - b - 3.0, c]
            })
            .collect();
        let projection = fit(&vectors);
        let first = &projection.axes[0];
        let half = std::f64::consts::FRAC_1_SQRT_2;
        assert!((first[0] - half).abs() < 0.01 && (first[1] - half).abs() < 0.01);
        let second = &projection.axes[1];
        assert!((second[0].abs() - half).abs() < 0.01 && second[2].abs() < 0.05);
        assert!(projection.explained[0] > 0.9);
        assert!(projection.explained[1] > 0.02 && projection.explained[1] < 0.1);
        // The spread along the map's x axis is the large one.
        let points: Vec<[f32; 2]> = vectors.iter().map(|v| projection.project(v)).collect();
        let spread = |axis: usize| points.iter().map(|p| p[axis].abs()).fold(0.0, f32::max);
        assert!(spread(0) > 3.0 * spread(1));
    }

    #[test]
    fn clusters_stay_apart_on_the_map() {
        let mut state = 11;
        let mut vectors = Vec::new();
        for centre in [
            [1.0f32, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
        ] {
            for _ in 0..50 {
                vectors.push(
                    centre
                        .iter()
                        .map(|value| value + 0.05 * noise(&mut state))
                        .collect::<Vec<f32>>(),
                );
            }
        }
        let projection = fit(&vectors);
        let points: Vec<[f32; 2]> = vectors.iter().map(|v| projection.project(v)).collect();
        let distance =
            |a: [f32; 2], b: [f32; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        let centroid = |cluster: usize| {
            let members = &points[cluster * 50..(cluster + 1) * 50];
            let sum = members
                .iter()
                .fold([0.0, 0.0], |acc, p| [acc[0] + p[0], acc[1] + p[1]]);
            [sum[0] / 50.0, sum[1] / 50.0]
        };
        for a in 0..3 {
            for b in a + 1..3 {
                let gap = distance(centroid(a), centroid(b));
                let radius = points[a * 50..(a + 1) * 50]
                    .iter()
                    .map(|p| distance(*p, centroid(a)))
                    .fold(0.0, f32::max);
                assert!(gap > 3.0 * radius, "clusters {a} and {b} overlap");
            }
        }
    }

    #[test]
    fn the_mean_lands_at_the_origin_and_the_result_is_repeatable() {
        let vectors = vec![vec![1.0, 2.0], vec![3.0, 2.5], vec![-1.0, 0.0]];
        let projection = fit(&vectors);
        let mean = [1.0f32, 1.5];
        let origin = projection.project(&mean);
        assert!(origin[0].abs() < 1e-6 && origin[1].abs() < 1e-6);
        assert_eq!(fit(&vectors), projection);
    }

    #[test]
    fn degenerate_inputs_give_a_map_without_nan() {
        assert!(Projection::fit(&[]).is_none());
        let same = vec![vec![0.5f32, 0.5]; 4];
        let projection = fit(&same);
        assert_eq!(projection.explained, [0.0, 0.0]);
        assert_eq!(projection.project(&same[0]), [0.0, 0.0]);
        let single = fit(&[vec![0.3, 0.4]]);
        assert_eq!(single.project(&[0.3, 0.4]), [0.0, 0.0]);
        // A vector of another size, or with NaN, is left out of the fit.
        let mixed: Vec<&[f32]> = vec![&[1.0, 0.0], &[1.0, 0.0, 0.0], &[f32::NAN, 1.0], &[0.0, 1.0]];
        let projection = Projection::fit(&mixed).unwrap();
        assert!(projection
            .project(&[1.0, 0.0])
            .iter()
            .all(|v| v.is_finite()));
        assert_eq!(projection.project(&[1.0, 0.0, 0.0]), [0.0, 0.0]);
    }

    #[test]
    fn large_inputs_are_fitted_on_an_even_sample() {
        let mut state = 3;
        let vectors: Vec<Vec<f32>> = (0..10 * MAX_FIT_SAMPLE)
            .map(|_| {
                let a = noise(&mut state);
                vec![
                    a,
                    0.5 * a + 0.01 * noise(&mut state),
                    0.01 * noise(&mut state),
                ]
            })
            .collect();
        let projection = fit(&vectors);
        let first = &projection.axes[0];
        let expected = [2.0 / 5f64.sqrt(), 1.0 / 5f64.sqrt()];
        assert!((first[0] - expected[0]).abs() < 0.01);
        assert!((first[1] - expected[1]).abs() < 0.01);
    }
}
