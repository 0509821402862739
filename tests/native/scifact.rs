//! Retrieval quality through the app's own index: BEIR SciFact (test split).

use casebook::core::bank::{CaseBank, MemoryFilter};
use casebook::core::eval::ndcg_at;
use casebook::core::index::{IndexConfig, VectorIndex};
use casebook::core::memory::{Kind, Memory, MemoryId, Source};
use casebook::core::retrieve::RetrievalConfig;

use crate::scifact_data::{document_vectors, scifact};
use crate::support::embedder;

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
    let hybrid_unfloored = hybrid(&RetrievalConfig {
        keyword_floor: 0.0,
        ..RetrievalConfig::default()
    });
    println!(
        "SciFact nDCG@10 over {} queries: vector {vector_ndcg:.4} (reference 0.6468), hybrid {hybrid_ndcg:.4}, hybrid without diversification {hybrid_undiversified:.4}, hybrid counting every keyword hit {hybrid_unfloored:.4}",
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
