//! Loading the model files and the shared reference data (for the native tests
//! and, through `#[path]`, the benchmarks in examples/).

use std::path::PathBuf;
use std::sync::OnceLock;

use casebook::core::embed::{Embedder, ModelManifest};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared`, beside the repository (reference data for tests; never used by the
/// app), or `$CASEBOOK_SHARED_DATA` for a checkout elsewhere (a git worktree).
pub fn shared_data(relative: &str) -> PathBuf {
    std::env::var_os("CASEBOOK_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/data"))
        .join(relative)
}

pub fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error}. The model is prepared by scripts/setup.sh; the reference data lives in ../shared.",
            path.display()
        )
    })
}

pub fn model_dir() -> PathBuf {
    repo_root().join("public/models/all-minilm-l6-v2")
}

/// The default model, loaded once per test binary (loading takes a second).
pub fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        let dir = model_dir();
        let manifest = ModelManifest::parse(&read(dir.join("model.json"))).expect("model.json");
        Embedder::load(
            manifest,
            &read(dir.join("model.onnx")),
            &read(dir.join("tokenizer.json")),
        )
        .expect("the default model loads")
    })
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}
