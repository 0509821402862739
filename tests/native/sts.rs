//! Embedding quality: STS Benchmark (test split), Spearman correlation between the
//! cosine of two sentences' vectors and human similarity scores.

use crate::support::{cosine, embedder, read, shared_data};

/// Ranks with ties sharing their average rank (as Spearman's rho requires).
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
            end += 1;
        }
        let average = (start + end) as f64 / 2.0 + 1.0;
        for &index in &order[start..=end] {
            ranks[index] = average;
        }
        start = end + 1;
    }
    ranks
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mean_x, mean_y) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let covariance: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (a - mean_x) * (b - mean_y))
        .sum();
    let spread = |v: &[f64], mean: f64| v.iter().map(|a| (a - mean).powi(2)).sum::<f64>().sqrt();
    covariance / (spread(x, mean_x) * spread(y, mean_y))
}

fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

#[test]
fn spearman_handles_ties_and_order() {
    assert_eq!(ranks(&[10.0, 20.0, 20.0, 5.0]), vec![2.0, 3.5, 3.5, 1.0]);
    assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-12);
    assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
}

#[test]
fn sts_benchmark_spearman_is_at_the_reference_level() {
    let csv = String::from_utf8(read(shared_data("stsb/sts-test.csv"))).unwrap();
    let mut scores = Vec::new();
    let mut pairs = Vec::new();
    for line in csv.lines() {
        // genre, file, year, id, score, sentence 1, sentence 2 [, sources]
        let fields: Vec<&str> = line.split('\t').collect();
        scores.push(fields[4].parse::<f64>().expect("score"));
        pairs.push((fields[5], fields[6]));
    }
    assert_eq!(pairs.len(), 1379);
    let texts: Vec<&str> = pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
    let vectors = embedder().embed_batch(&texts).unwrap();
    let similarities: Vec<f64> = vectors
        .chunks_exact(2)
        .map(|pair| cosine(&pair[0], &pair[1]))
        .collect();
    let rho = spearman(&similarities, &scores) * 100.0;
    println!("STS-B test Spearman x100: {rho:.2} (reference: int8 81.99, fp32 82.03)");
    assert!(rho >= 81.8, "Spearman {rho:.2} < 81.8");
}
