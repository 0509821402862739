//! The duplicate threshold, measured: STS Benchmark (test split) pairs scored by
//! people from 0 (unrelated) to 5 (same meaning). Merging a pair scored 5.0 is
//! right; merging one scored below 4.0 loses information.

use casebook::core::learn::dedupe::{duplicate_reason, DUPLICATE_COSINE};

use crate::support::{cosine, embedder, read, shared_data};

struct Pair {
    score: f64,
    first: String,
    second: String,
    cosine: f32,
}

fn pairs() -> Vec<Pair> {
    let csv = String::from_utf8(read(shared_data("stsb/sts-test.csv"))).unwrap();
    let rows: Vec<(f64, &str, &str)> = csv
        .lines()
        .map(|line| {
            // genre, file, year, id, score, sentence 1, sentence 2 [, sources]
            let fields: Vec<&str> = line.split('\t').collect();
            (fields[4].parse().expect("score"), fields[5], fields[6])
        })
        .collect();
    let texts: Vec<&str> = rows.iter().flat_map(|(_, a, b)| [*a, *b]).collect();
    let vectors = embedder().embed_batch(&texts).unwrap();
    rows.iter()
        .zip(vectors.chunks_exact(2))
        .map(|((score, first, second), pair)| Pair {
            score: *score,
            first: (*first).to_owned(),
            second: (*second).to_owned(),
            cosine: cosine(&pair[0], &pair[1]) as f32,
        })
        .collect()
}

/// The share of `pairs` that the duplicate rule merges at `threshold`.
fn merged_at(pairs: &[&Pair], threshold: f32) -> f64 {
    let merged = pairs
        .iter()
        .filter(|pair| {
            // Shifting the cosine evaluates the rule as if its threshold were `threshold`.
            let shifted = pair.cosine - threshold + DUPLICATE_COSINE;
            duplicate_reason(&pair.first, &pair.second, Some(shifted)).is_some()
        })
        .count();
    merged as f64 / pairs.len() as f64
}

fn quantiles(pairs: &[&Pair]) -> String {
    let mut cosines: Vec<f32> = pairs.iter().map(|pair| pair.cosine).collect();
    cosines.sort_by(f32::total_cmp);
    [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0]
        .iter()
        .map(|q| {
            let index = ((cosines.len() - 1) as f64 * q).round() as usize;
            format!("p{:<3} {:.3}", (q * 100.0) as u32, cosines[index])
        })
        .collect::<Vec<_>>()
        .join("  ")
}

#[test]
fn the_duplicate_threshold_rarely_merges_different_meanings() {
    let pairs = pairs();
    assert_eq!(pairs.len(), 1379);
    let same: Vec<&Pair> = pairs.iter().filter(|p| p.score >= 5.0).collect();
    let close: Vec<&Pair> = pairs
        .iter()
        .filter(|p| (4.0..5.0).contains(&p.score))
        .collect();
    let different: Vec<&Pair> = pairs.iter().filter(|p| p.score < 4.0).collect();

    println!("cosine distribution (all-MiniLM-L6-v2, STS-B test):");
    for (label, group) in [
        ("score 5.0    ", &same),
        ("score 4.0-4.8", &close),
        ("score < 4.0  ", &different),
    ] {
        println!("  {label} n={:<4} {}", group.len(), quantiles(group));
    }
    println!("merged by the rule (cosine >= t and the same numbers, or the same text):");
    println!("     t    5.0   4.0-4.8   < 4.0");
    for step in 0..=14 {
        let threshold = 0.80 + 0.01 * step as f32;
        println!(
            "  {threshold:.2}  {:.3}    {:.3}   {:.4}",
            merged_at(&same, threshold),
            merged_at(&close, threshold),
            merged_at(&different, threshold)
        );
    }

    let false_merges = merged_at(&different, DUPLICATE_COSINE);
    let caught = merged_at(&same, DUPLICATE_COSINE);
    println!(
        "at {DUPLICATE_COSINE}: {:.2}% of pairs below 4.0 merged, {:.1}% of 5.0 pairs caught",
        false_merges * 100.0,
        caught * 100.0
    );
    assert!(false_merges <= 0.01, "false merges {false_merges:.4}");
    assert!(caught >= 0.40, "caught only {caught:.3} of the 5.0 pairs");
    // The threshold is as low as the 1% budget allows: one step lower breaks it.
    assert!(merged_at(&different, DUPLICATE_COSINE - 0.01) > 0.01);
}
