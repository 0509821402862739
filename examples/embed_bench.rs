//! Native embedding benchmark (run by `scripts/bench.sh embed`): prints model load
//! time, batch-1 latency at 8, 32 and 128 tokens, batch-16 throughput and peak
//! memory. Inputs are "word" repeated (one token each, plus [CLS] and [SEP]), so
//! the token counts are exact and the same as in the browser benchmark.

use std::path::PathBuf;
use std::time::Instant;

use casebook::core::embed::{Embedder, ModelManifest};

const WARMUP: usize = 5;
const RUNS: usize = 60;
const BATCH_RUNS: usize = 10;

fn text_of_tokens(tokens: usize) -> String {
    vec!["word"; tokens - 2].join(" ")
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "public/models/all-minilm-l6-v2".into()),
    );
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .unwrap_or_else(|error| panic!("{}: {error}", dir.join(name).display()))
    };
    let (manifest, model, tokenizer) = (
        read("model.json"),
        read("model.onnx"),
        read("tokenizer.json"),
    );

    let started = Instant::now();
    let manifest = ModelManifest::parse(&manifest).expect("model.json");
    let embedder = Embedder::load(manifest, &model, &tokenizer).expect("model loads");
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;

    println!(
        "Embedding benchmark, native (tract, 1 thread), {}",
        embedder.manifest().name
    );
    println!("| measure | value |");
    println!("|---|---|");
    println!("| model load (verify + prepare) | {load_ms:.0} ms |");
    for tokens in [8, 32, 128] {
        let text = text_of_tokens(tokens);
        assert_eq!(embedder.count_tokens(&text).unwrap(), tokens);
        for _ in 0..WARMUP {
            embedder.embed(&text).unwrap();
        }
        let mut times: Vec<f64> = (0..RUNS)
            .map(|_| {
                let started = Instant::now();
                embedder.embed(&text).unwrap();
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "| {tokens} tokens, batch 1: p50 / p95 | {:.1} / {:.1} ms |",
            percentile(&times, 0.5),
            percentile(&times, 0.95)
        );
    }
    let batch: Vec<String> = (0..16).map(|_| text_of_tokens(32)).collect();
    let batch: Vec<&str> = batch.iter().map(String::as_str).collect();
    embedder.embed_batch(&batch).unwrap();
    let started = Instant::now();
    for _ in 0..BATCH_RUNS {
        embedder.embed_batch(&batch).unwrap();
    }
    let per_second = (BATCH_RUNS * batch.len()) as f64 / started.elapsed().as_secs_f64();
    println!("| 32 tokens, batch 16: throughput | {per_second:.0} texts/s |");
    println!("| peak memory (RSS) | {:.0} MB |", peak_rss_mb());
}
