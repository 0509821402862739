//! Retrieval quality through the app's own index: BEIR SciFact (test split).

use std::collections::HashMap;
use std::path::PathBuf;

use casebook::core::bank::{CaseBank, MemoryFilter};
use casebook::core::eval::ndcg_at;
use casebook::core::index::{IndexConfig, VectorIndex};
use casebook::core::memory::{Kind, Memory, MemoryId, Source};
use casebook::core::retrieve::RetrievalConfig;
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

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let values: Vec<f64> = values.collect();
    values.iter().sum::<f64>() / values.len() as f64
}

#[test]
fn scifact_ndcg_through_the_case_bank() {
    let scifact = scifact();
    let vectors = document_vectors(&scifact);
    let query_texts: Vec<&str> = scifact
        .queries
        .iter()
        .map(|(_, text)| text.as_str())
        .collect();
    let query_vectors = embedder().embed_batch(&query_texts).unwrap();

    let mut index = VectorIndex::new(384, IndexConfig::default());
    let mut bank = CaseBank::new("scifact", 384, IndexConfig::default());
    for ((id, text), vector) in scifact.documents.iter().zip(&vectors) {
        index.insert(id.clone(), 1, vector).unwrap();
        let memory = Memory::new(
            id.clone(),
            Kind::DocumentChunk,
            text.clone(),
            Source::Manual,
            0,
        );
        bank.upsert(memory, Some((1, vector))).unwrap();
    }
    let judged =
        |query_id: &str, ranked: Vec<MemoryId>| ndcg_at(&ranked, &scifact.relevant[query_id], 10);
    let vector_ndcg = mean(
        scifact
            .queries
            .iter()
            .zip(&query_vectors)
            .map(|((id, _), vector)| {
                let hits = index.search(vector, 10, &|_| true).unwrap();
                judged(id, hits.into_iter().map(|hit| hit.id).collect())
            }),
    );
    let hybrid = |config: &RetrievalConfig| {
        mean(
            scifact
                .queries
                .iter()
                .zip(&query_vectors)
                .map(|((id, text), vector)| {
                    let results = bank
                        .search(
                            text,
                            Some(vector),
                            10,
                            &MemoryFilter::default(),
                            0,
                            config,
                            None,
                        )
                        .unwrap();
                    judged(id, results.into_iter().map(|r| r.memory_id).collect())
                }),
        )
    };
    let hybrid_ndcg = hybrid(&RetrievalConfig::default());
    let hybrid_undiversified = hybrid(&RetrievalConfig {
        duplicate_penalty: 0.0,
        ..RetrievalConfig::default()
    });
    println!(
        "SciFact nDCG@10 over {} queries: vector {vector_ndcg:.4} (reference 0.6468), hybrid {hybrid_ndcg:.4}, hybrid without diversification {hybrid_undiversified:.4}",
        scifact.queries.len()
    );
    assert!(
        (vector_ndcg - 0.645).abs() <= 0.003,
        "vector nDCG@10 {vector_ndcg:.4}"
    );
    assert!(
        hybrid_ndcg >= vector_ndcg,
        "hybrid {hybrid_ndcg:.4} < vector {vector_ndcg:.4}"
    );
}
