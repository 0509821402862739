//! The case bank in memory: every memory, its vector and its keywords, kept in
//! step, and searched together. The worker holds one; IndexedDB holds the truth
//! it is loaded from.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::core::index::{IndexConfig, IndexError, LoadReport, VectorIndex, Version};
use crate::core::keyword::KeywordIndex;
use crate::core::memory::{Kind, Memory, MemoryId, Millis, Outcome};
use crate::core::retrieve::{
    drop_weak_keyword_hits, rank, CandidateSource, RetrievalConfig, Retrieved, UsefulnessScorer,
};
use crate::core::vector::dot;

/// Which memories a search may return. Empty lists mean "any".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemoryFilter {
    #[serde(default)]
    pub pools: Vec<String>,
    #[serde(default)]
    pub kinds: Vec<Kind>,
    /// Only cases with one of these outcomes (so other kinds are excluded).
    #[serde(default)]
    pub outcomes: Vec<Outcome>,
    #[serde(default)]
    pub pinned: Option<bool>,
    #[serde(default)]
    pub exclude: Vec<MemoryId>,
}

impl MemoryFilter {
    pub fn allows(&self, memory: &Memory) -> bool {
        (self.pools.is_empty() || self.pools.contains(&memory.pool))
            && (self.kinds.is_empty() || self.kinds.contains(&memory.kind))
            && (self.outcomes.is_empty()
                || memory
                    .outcome()
                    .is_some_and(|outcome| self.outcomes.contains(&outcome)))
            && self.pinned.is_none_or(|pinned| memory.pinned == pinned)
            && !self.exclude.contains(&memory.id)
    }
}

/// A vector as stored: which memory, which model, which revision of the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredVector {
    pub memory_id: MemoryId,
    pub model_id: String,
    pub version: Version,
    pub vector: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BankError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("no memory {0}")]
    NoSuchMemory(MemoryId),
}

/// What loading found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BankLoadReport {
    pub memories: usize,
    pub vectors: LoadReport,
    /// Memories with no vector from the current model: found by keywords only
    /// until they are embedded.
    pub unembedded: Vec<MemoryId>,
    /// Vectors whose memory no longer exists (left over; safe to delete).
    pub orphaned_vectors: Vec<MemoryId>,
}

/// The memories half of opening a bank: the memories by id and their keyword
/// index. It needs no vectors, so the app builds it while the browser is still
/// reading them (see `web::bank_store::read_bank`).
pub struct IndexedMemories {
    memories: HashMap<MemoryId, Memory>,
    keywords: KeywordIndex,
}

impl IndexedMemories {
    /// A repeated id keeps its last memory.
    pub fn new(memories: Vec<Memory>) -> IndexedMemories {
        let memories: HashMap<MemoryId, Memory> = memories
            .into_iter()
            .map(|memory| (memory.id.clone(), memory))
            .collect();
        let keywords = KeywordIndex::from_documents(
            memories
                .values()
                .map(|memory| (memory.id.clone(), memory.keyword_text())),
        );
        IndexedMemories { memories, keywords }
    }

    pub fn len(&self) -> usize {
        self.memories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.memories.is_empty()
    }
}

pub struct CaseBank {
    model_id: String,
    memories: HashMap<MemoryId, Memory>,
    vectors: VectorIndex,
    keywords: KeywordIndex,
}

impl CandidateSource for CaseBank {
    fn memory(&self, id: &MemoryId) -> Option<&Memory> {
        self.memories.get(id)
    }

    fn vector(&self, id: &MemoryId) -> Option<&[f32]> {
        self.vectors.vector(id)
    }
}

impl CaseBank {
    pub fn new(model_id: impl Into<String>, dimension: usize, config: IndexConfig) -> CaseBank {
        CaseBank {
            model_id: model_id.into(),
            memories: HashMap::new(),
            vectors: VectorIndex::new(dimension, config),
            keywords: KeywordIndex::new(),
        }
    }

    /// Builds the bank from what the store holds: `memories` indexed by
    /// [`IndexedMemories::new`], and the vectors. Vectors of other models are
    /// ignored (their memories count as unembedded).
    pub fn load(
        model_id: impl Into<String>,
        dimension: usize,
        config: IndexConfig,
        memories: IndexedMemories,
        vectors: Vec<StoredVector>,
        snapshot: Option<&[u8]>,
    ) -> Result<(CaseBank, BankLoadReport), BankError> {
        let model_id = model_id.into();
        let IndexedMemories {
            memories: mut by_id,
            keywords,
        } = memories;
        let mut report = BankLoadReport {
            memories: by_id.len(),
            ..BankLoadReport::default()
        };
        let mut current = Vec::with_capacity(vectors.len());
        for stored in vectors {
            // Another model's vector, or one damaged in storage: the memory is
            // embedded again.
            if stored.model_id != model_id
                || stored.vector.len() != dimension
                || !stored.vector.iter().all(|value| value.is_finite())
            {
                continue;
            }
            if by_id.contains_key(&stored.memory_id) {
                current.push((stored.memory_id, stored.version, stored.vector));
            } else {
                report.orphaned_vectors.push(stored.memory_id);
            }
        }
        let (vectors, vector_report) = VectorIndex::load(dimension, config, snapshot, current)?;
        report.vectors = vector_report;
        report.unembedded = by_id
            .keys()
            .filter(|id| !vectors.contains(id))
            .cloned()
            .collect();
        report.unembedded.sort();
        report.orphaned_vectors.sort();
        by_id.shrink_to_fit();
        Ok((
            CaseBank {
                model_id,
                memories: by_id,
                vectors,
                keywords,
            },
            report,
        ))
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    pub fn len(&self) -> usize {
        self.memories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.memories.is_empty()
    }

    pub fn get(&self, id: &MemoryId) -> Option<&Memory> {
        self.memories.get(id)
    }

    pub fn memories(&self) -> impl Iterator<Item = &Memory> {
        self.memories.values()
    }

    pub fn vectors(&self) -> &VectorIndex {
        &self.vectors
    }

    pub fn vectors_mut(&mut self) -> &mut VectorIndex {
        &mut self.vectors
    }

    /// Adds or replaces `memory`. `vector` is its new embedding (with the revision
    /// it was computed from); `None` keeps the current one (an edit that did not
    /// touch the text, such as pinning).
    pub fn upsert(
        &mut self,
        memory: Memory,
        vector: Option<(Version, &[f32])>,
    ) -> Result<(), BankError> {
        if let Some((version, vector)) = vector {
            self.vectors.insert(memory.id.clone(), version, vector)?;
        }
        self.keywords
            .insert(memory.id.clone(), &memory.keyword_text());
        self.memories.insert(memory.id.clone(), memory);
        Ok(())
    }

    pub fn remove(&mut self, id: &MemoryId) -> Option<Memory> {
        self.vectors.remove(id);
        self.keywords.remove(id);
        self.memories.remove(id)
    }

    /// The `k` best memories for a question (its text, and its vector when the
    /// model is available; without one, keywords alone answer), reranked by the
    /// learned `scorer` when one is given.
    #[allow(
        clippy::too_many_arguments,
        reason = "each is an independent knob of one search; a struct would only rename them"
    )]
    pub fn search(
        &self,
        text: &str,
        vector: Option<&[f32]>,
        k: usize,
        filter: &MemoryFilter,
        now: Millis,
        config: &RetrievalConfig,
        scorer: Option<&dyn UsefulnessScorer>,
    ) -> Result<Vec<Retrieved>, BankError> {
        let allow = |id: &MemoryId| {
            self.memories
                .get(id)
                .is_some_and(|memory| filter.allows(memory))
        };
        let mut keyword_hits: Vec<(MemoryId, f32)> = self
            .keywords
            .search(text, config.candidates, &allow)
            .into_iter()
            .map(|hit| (hit.id, hit.score))
            .collect();
        drop_weak_keyword_hits(&mut keyword_hits, config);
        let vector_hits: Vec<(MemoryId, f32)> = match vector {
            Some(vector) => {
                let mut hits: Vec<(MemoryId, f32)> = self
                    .vectors
                    .search(vector, config.candidates, &allow)?
                    .into_iter()
                    .map(|hit| (hit.id, hit.score))
                    .collect();
                self.add_keyword_only_similarities(vector, &keyword_hits, &mut hits);
                hits
            }
            None => Vec::new(),
        };
        Ok(rank(
            self,
            &vector_hits,
            &keyword_hits,
            k,
            now,
            config,
            scorer,
        ))
    }
}

impl CaseBank {
    /// Scores the keyword hits the vector search did not return by their exact
    /// similarity, and ranks them among the vector hits. Otherwise a memory
    /// found only by a rare word (an id, a number) counts as absent from the
    /// vector side and merely ties with the nearest vector: among thousands of
    /// "Ticket N …" memories, "Ticket 1234" would lose to whichever near-identical
    /// ticket the vectors put first.
    fn add_keyword_only_similarities(
        &self,
        query: &[f32],
        keyword_hits: &[(MemoryId, f32)],
        vector_hits: &mut Vec<(MemoryId, f32)>,
    ) {
        let found: HashSet<MemoryId> = vector_hits.iter().map(|(id, _)| id.clone()).collect();
        for (id, _) in keyword_hits {
            if found.contains(id) {
                continue;
            }
            if let Some(vector) = self.vectors.vector(id) {
                vector_hits.push((id.clone(), dot(query, vector)));
            }
        }
        vector_hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::memory::Source;

    fn memory(id: &str, kind: Kind, text: &str, pool: &str) -> Memory {
        let mut memory = Memory::new(MemoryId(id.into()), kind, text, Source::Manual, 1_000);
        memory.pool = pool.into();
        memory
    }

    fn ids(results: &[Retrieved]) -> Vec<&str> {
        results.iter().map(|r| r.memory_id.0.as_str()).collect()
    }

    #[test]
    fn a_rare_word_finds_its_memory_among_many_whose_vectors_are_nearer() {
        let mut bank = CaseBank::new("test-model", 2, IndexConfig::default());
        let nearest = [1.0, 0.0];
        bank.upsert(
            memory("t1233", Kind::Note, "Ticket 1233", "default"),
            Some((1, &nearest)),
        )
        .unwrap();
        let near = [0.99, 0.141];
        for n in 0..60 {
            let text = format!("Ticket {}", 2000 + n);
            bank.upsert(
                memory(&format!("f{n:02}"), Kind::Note, &text, "default"),
                Some((1, &near)),
            )
            .unwrap();
        }
        let farther = [0.9, 0.436];
        bank.upsert(
            memory("t1234", Kind::Note, "Ticket 1234", "default"),
            Some((1, &farther)),
        )
        .unwrap();
        let results = bank
            .search(
                "Ticket 1234",
                Some(&nearest),
                3,
                &MemoryFilter::default(),
                1_000,
                &RetrievalConfig::default(),
                None,
            )
            .unwrap();
        assert_eq!(ids(&results)[0], "t1234");
        let explanation = &results[0].explanation;
        assert_eq!(explanation.keyword_rank, Some(1));
        assert!(explanation
            .vector_score
            .is_some_and(|score| (score - 0.9).abs() < 1e-4));
    }

    fn sample() -> CaseBank {
        let mut bank = CaseBank::new("test-model", 2, IndexConfig::default());
        let entries = [
            (
                "work-vpn",
                Kind::Fact,
                "The work VPN is WireGuard on wg0",
                "work",
                [1.0, 0.0],
            ),
            (
                "home-vpn",
                Kind::Fact,
                "At home the VPN is disabled",
                "home",
                [0.995, 0.0998],
            ),
            (
                "work-style",
                Kind::Preference,
                "Answer briefly, in bullet points",
                "work",
                [0.0, 1.0],
            ),
        ];
        for (id, kind, text, pool, vector) in entries {
            bank.upsert(memory(id, kind, text, pool), Some((1, &vector)))
                .unwrap();
        }
        bank
    }

    #[test]
    fn pools_keep_memories_apart() {
        let bank = sample();
        let work_only = MemoryFilter {
            pools: vec!["work".into()],
            ..MemoryFilter::default()
        };
        let results = bank
            .search(
                "vpn",
                Some(&[1.0, 0.0]),
                5,
                &work_only,
                2_000,
                &RetrievalConfig::default(),
                None,
            )
            .unwrap();
        assert!(ids(&results).contains(&"work-vpn"));
        assert!(!ids(&results).contains(&"home-vpn"), "{:?}", ids(&results));
    }

    #[test]
    fn filters_on_kind_pin_and_exclusion_hold() {
        let mut bank = sample();
        let mut pinned = bank.get(&MemoryId("home-vpn".into())).unwrap().clone();
        pinned.pinned = true;
        bank.upsert(pinned, None).unwrap();
        let config = RetrievalConfig::default();
        let search = |filter: MemoryFilter| {
            let results = bank
                .search(
                    "vpn bullet",
                    Some(&[0.7, 0.7]),
                    5,
                    &filter,
                    2_000,
                    &config,
                    None,
                )
                .unwrap();
            ids(&results)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            search(MemoryFilter {
                kinds: vec![Kind::Preference],
                ..Default::default()
            }),
            ["work-style"]
        );
        assert_eq!(
            search(MemoryFilter {
                pinned: Some(true),
                ..Default::default()
            }),
            ["home-vpn"]
        );
        let mut all_but = search(MemoryFilter {
            exclude: vec![MemoryId("work-vpn".into())],
            ..Default::default()
        });
        all_but.sort();
        assert_eq!(all_but, ["home-vpn", "work-style"]);
        assert!(search(MemoryFilter {
            outcomes: vec![Outcome::Worked],
            ..Default::default()
        })
        .is_empty());
    }

    #[test]
    fn without_a_model_keywords_still_find_memories() {
        let bank = sample();
        let results = bank
            .search(
                "WireGuard",
                None,
                3,
                &MemoryFilter::default(),
                2_000,
                &RetrievalConfig::default(),
                None,
            )
            .unwrap();
        assert_eq!(ids(&results)[0], "work-vpn");
        assert_eq!(results[0].explanation.vector_score, None);
    }

    #[test]
    fn a_removed_memory_is_gone_from_both_searches() {
        let mut bank = sample();
        assert!(bank.remove(&MemoryId("work-vpn".into())).is_some());
        let results = bank
            .search(
                "WireGuard vpn",
                Some(&[1.0, 0.0]),
                5,
                &MemoryFilter::default(),
                2_000,
                &RetrievalConfig::default(),
                None,
            )
            .unwrap();
        assert!(!ids(&results).contains(&"work-vpn"));
        assert!(bank.remove(&MemoryId("work-vpn".into())).is_none());
    }

    #[test]
    fn loading_reports_unembedded_memories_and_orphaned_vectors() {
        let memories = vec![
            memory("a", Kind::Fact, "alpha", "default"),
            memory("b", Kind::Fact, "beta", "default"),
            memory("c", Kind::Fact, "gamma", "default"),
        ];
        let vector = |id: &str, model: &str| StoredVector {
            memory_id: MemoryId(id.into()),
            model_id: model.into(),
            version: 1,
            vector: vec![1.0, 0.0],
        };
        let vectors = vec![
            vector("a", "m1"),
            vector("b", "other-model"),
            vector("ghost", "m1"),
        ];
        let (bank, report) = CaseBank::load(
            "m1",
            2,
            IndexConfig::default(),
            IndexedMemories::new(memories),
            vectors,
            None,
        )
        .unwrap();
        assert_eq!(bank.len(), 3);
        assert_eq!(
            report.unembedded,
            [MemoryId("b".into()), MemoryId("c".into())]
        );
        assert_eq!(report.orphaned_vectors, [MemoryId("ghost".into())]);
        assert_eq!(report.vectors.buffered, 1);
        let found = bank
            .search(
                "gamma",
                Some(&[1.0, 0.0]),
                3,
                &MemoryFilter::default(),
                2_000,
                &RetrievalConfig::default(),
                None,
            )
            .unwrap();
        assert!(
            ids(&found).contains(&"c"),
            "keywords find the unembedded memory"
        );
        assert_eq!(
            found
                .iter()
                .find(|r| r.memory_id.0 == "c")
                .unwrap()
                .explanation
                .vector_score,
            None
        );
    }
}
