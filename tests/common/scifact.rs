//! BEIR SciFact (test split, in ../shared/data): documents, queries, relevance
//! judgements, and the documents' vectors, embedded once per machine and cached.
//!
//! Shared (through `#[path]`) by the native tests and the index benchmark
//! (examples/index_bench.rs), which need the same real vectors.

use std::collections::HashMap;
use std::path::PathBuf;

use casebook::core::memory::MemoryId;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::support::{embedder, read, shared_data};

#[derive(Deserialize)]
struct Document {
    #[serde(rename = "_id")]
    id: String,
    title: String,
    text: String,
}

#[derive(Deserialize)]
struct Query {
    #[serde(rename = "_id")]
    id: String,
    text: String,
}

pub struct SciFact {
    pub documents: Vec<(MemoryId, String)>,
    pub queries: Vec<(String, String)>,
    pub relevant: HashMap<String, HashMap<MemoryId, f64>>,
}

pub fn scifact() -> SciFact {
    let corpus = read(shared_data("scifact/corpus.jsonl"));
    let documents = String::from_utf8(corpus)
        .unwrap()
        .lines()
        .map(|line| {
            let document: Document = serde_json::from_str(line).expect("corpus line");
            // BEIR's convention for SciFact: title, a space, the abstract.
            (
                MemoryId(document.id),
                format!("{} {}", document.title, document.text),
            )
        })
        .collect();
    let queries = String::from_utf8(read(shared_data("scifact/queries_test.jsonl")))
        .unwrap()
        .lines()
        .map(|line| {
            let query: Query = serde_json::from_str(line).expect("query line");
            (query.id, query.text)
        })
        .collect();
    let mut relevant: HashMap<String, HashMap<MemoryId, f64>> = HashMap::new();
    for line in String::from_utf8(read(shared_data("scifact/qrels/test.tsv")))
        .unwrap()
        .lines()
        .skip(1)
    {
        let fields: Vec<&str> = line.split('\t').collect();
        relevant
            .entry(fields[0].to_owned())
            .or_default()
            .insert(MemoryId(fields[1].to_owned()), fields[2].parse().unwrap());
    }
    SciFact {
        documents,
        queries,
        relevant,
    }
}

/// Embeds texts on both cores.
pub fn embed_in_parallel(texts: &[&str]) -> Vec<Vec<f32>> {
    let half = texts.len().div_ceil(2);
    std::thread::scope(|scope| {
        let parts: Vec<_> = texts
            .chunks(half.max(1))
            .map(|part| scope.spawn(move || embedder().embed_batch(part).expect("embedding")))
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().unwrap())
            .collect()
    })
}

/// The corpus' vectors, computed once per machine (about a minute and a half on
/// two cores) and cached by model and corpus hash outside the repository.
pub fn document_vectors(scifact: &SciFact) -> Vec<Vec<f32>> {
    let mut key = Sha256::new();
    key.update(embedder().manifest().files["model.onnx"].sha256.as_bytes());
    for (id, text) in &scifact.documents {
        key.update(id.0.as_bytes());
        key.update(text.as_bytes());
    }
    let key: String = key
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("casebook/test-embeddings");
    let path = cache.join(format!("scifact-{key}.f32"));
    let dimension = embedder().manifest().dimension;
    if let Ok(bytes) = std::fs::read(&path) {
        if bytes.len() == scifact.documents.len() * dimension * 4 {
            let values: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            return values
                .chunks_exact(dimension)
                .map(<[f32]>::to_vec)
                .collect();
        }
    }
    let texts: Vec<&str> = scifact
        .documents
        .iter()
        .map(|(_, text)| text.as_str())
        .collect();
    let vectors = embed_in_parallel(&texts);
    let bytes: Vec<u8> = vectors
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::create_dir_all(&cache).expect("cache directory");
    std::fs::write(&path, bytes).expect("write the vector cache");
    vectors
}
