//! Embeds texts natively with the app's embedding engine: reads a JSON array of
//! strings on stdin and prints a JSON array of vectors. The browser tests compare
//! the worker's vectors with these.
//!
//!     echo '["A man is eating food."]' | cargo run --example embed -- public/models/all-minilm-l6-v2

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use casebook::core::embed::{Embedder, ModelManifest};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("embed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: embed MODEL_DIR < texts.json")?,
    );
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .map_err(|error| format!("{}: {error}", dir.join(name).display()))
    };
    let manifest = ModelManifest::parse(&read("model.json")?).map_err(|e| e.to_string())?;
    let embedder = Embedder::load(manifest, &read("model.onnx")?, &read("tokenizer.json")?)
        .map_err(|error| error.to_string())?;
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|error| error.to_string())?;
    let texts: Vec<String> = serde_json::from_str(&input).map_err(|error| error.to_string())?;
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = embedder
        .embed_batch(&texts)
        .map_err(|error| error.to_string())?;
    println!(
        "{}",
        serde_json::to_string(&vectors).map_err(|error| error.to_string())?
    );
    Ok(())
}
