//! Hybrid retrieval: vector and keyword candidates fused by reciprocal rank, then
//! ranked with what the case bank knows about each memory (how recent, whether it
//! worked, how often it was used, whether the user pinned it), then diversified
//! (MMR) so the few memories that fit in a prompt do not all say the same thing.
//!
//! Every result carries an [`Explanation`] of its score, and a [`Features`] vector
//! for a learned reranker ([`UsefulnessScorer`]) to score on top of the fixed weights.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::core::memory::{Memory, MemoryId, Millis, Outcome};
use crate::core::vector::dot;

/// Weights of the ranking signals. Relevance is in [0, 1]; each signal is in
/// [0, 1] too, so a weight says how much of "one rank step" it is worth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalWeights {
    pub relevance: f32,
    pub recency: f32,
    /// For cases that worked: examples to follow.
    pub worked: f32,
    /// For cases that did not work. Slightly negative: they are still shown (as
    /// patterns to avoid) when relevant, but lose ties to ones that worked.
    pub did_not_work: f32,
    pub usage: f32,
    pub pinned: f32,
    /// For the learned reranker's usefulness (in [−1, 1]), scaled by how well
    /// the memory matches the question (see [`Explanation::learned`]).
    #[serde(default = "default_learned_weight")]
    pub learned: f32,
}

/// At most ±0.15, what a pin is worth: relevance differs by a few hundredths
/// between neighbouring candidates of one question, so what was learned can
/// reorder them, yet it lifts a memory no further than pinning it would.
fn default_learned_weight() -> f32 {
    0.15
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievalConfig {
    /// How many candidates each of the vector and keyword searches contributes.
    pub candidates: usize,
    /// Reciprocal-rank fusion constant (60 in the original paper).
    pub rrf_k: f32,
    pub weights: SignalWeights,
    /// Recency halves every this many days.
    pub recency_half_life_days: f32,
    /// Diversification: a candidate at least this similar (cosine) to one already
    /// chosen repeats it...
    pub duplicate_similarity: f32,
    /// ...and loses this much score per unit of similarity above that threshold
    /// (scaled so an exact repeat loses all of it). 0 turns diversification off.
    pub duplicate_penalty: f32,
    /// Keyword hits scoring under this share of the best one only matched words
    /// nearly every memory has ("ticket" among tickets) and count as no keyword
    /// match: rank fusion would otherwise rank them as if they matched.
    #[serde(default = "default_keyword_floor")]
    pub keyword_floor: f32,
}

fn default_keyword_floor() -> f32 {
    0.1
}

/// Drops the keyword hits under [`RetrievalConfig::keyword_floor`] of the best
/// one (`hits` come best first, as the keyword index returns them).
pub fn drop_weak_keyword_hits(hits: &mut Vec<(MemoryId, f32)>, config: &RetrievalConfig) {
    if let Some(&(_, best)) = hits.first() {
        hits.retain(|(_, score)| *score >= best * config.keyword_floor);
    }
}

impl Default for RetrievalConfig {
    fn default() -> RetrievalConfig {
        RetrievalConfig {
            candidates: 50,
            rrf_k: 60.0,
            weights: SignalWeights {
                relevance: 1.0,
                recency: 0.08,
                worked: 0.08,
                did_not_work: -0.04,
                usage: 0.05,
                pinned: 0.15,
                learned: default_learned_weight(),
            },
            recency_half_life_days: 30.0,
            // Classic MMR (λ·score − (1−λ)·similarity, λ 0.8) cost 2 points of
            // SciFact nDCG@10 (0.674 against 0.694 without) and, in the learning
            // simulation, pushed the helpful memory out of the top 4 whenever a
            // topic's memories resemble each other: fused relevance is flat (the
            // first and tenth candidates differ by ~0.06), so any similarity penalty
            // outweighs it. Only near-repeats are penalised: 0.9 is about where
            // MiniLM puts paraphrases of the same sentence (see learn::dedupe).
            duplicate_similarity: 0.9,
            duplicate_penalty: 1.0,
            keyword_floor: default_keyword_floor(),
        }
    }
}

/// What a candidate looks like to a ranker, all in [0, 1] (scores as given).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Features {
    /// Cosine similarity to the query, 0 when only the keyword search found it.
    pub vector_score: f32,
    /// BM25 score divided by the best BM25 score of this query.
    pub keyword_score: f32,
    /// Reciprocal-rank fusion of both, scaled so that first in both lists is 1.
    pub relevance: f32,
    pub recency: f32,
    pub worked: f32,
    pub did_not_work: f32,
    pub usage: f32,
    pub pinned: f32,
    /// How often answers that cited it worked, and did not: log-scaled, so
    /// the first few verdicts matter most (1 at [`CITATIONS_SATURATE`]).
    #[serde(default)]
    pub cited_worked: f32,
    #[serde(default)]
    pub cited_did_not_work: f32,
    /// 1 for the user's own words about what is right: a correction, or a case
    /// the user corrected.
    #[serde(default)]
    pub is_correction: f32,
}

/// The citation count at which its feature reaches 1: by then the record is
/// clear, and more of the same adds nothing.
pub const CITATIONS_SATURATE: u32 = 15;

fn citation_feature(count: u32) -> f32 {
    ((1.0 + count as f32).ln() / (1.0 + CITATIONS_SATURATE as f32).ln()).min(1.0)
}

impl Features {
    pub const COUNT: usize = 11;

    pub fn to_array(self) -> [f32; Features::COUNT] {
        [
            self.vector_score,
            self.keyword_score,
            self.relevance,
            self.recency,
            self.worked,
            self.did_not_work,
            self.usage,
            self.pinned,
            self.cited_worked,
            self.cited_did_not_work,
            self.is_correction,
        ]
    }
}

/// A learned estimate of whether a memory will help, from its features.
pub trait UsefulnessScorer {
    /// In [−1, 1]: above 0 if the memory is predicted to help, below if not,
    /// 0 for no opinion (a scorer that has not learned enough yet).
    fn usefulness(&self, features: &Features) -> f32;
}

/// Why a memory was retrieved, and with what score: shown next to the answer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Explanation {
    /// Cosine similarity, and the rank in the vector search (1 = best).
    pub vector_score: Option<f32>,
    pub vector_rank: Option<u32>,
    /// BM25 score, and the rank in the keyword search.
    pub keyword_score: Option<f32>,
    pub keyword_rank: Option<u32>,
    pub relevance: f32,
    /// Each signal's contribution (weight × value).
    pub recency: f32,
    pub outcome: f32,
    pub usage: f32,
    pub pinned: f32,
    /// The learned reranker's contribution (0 when it is off or not ready):
    /// weight × usefulness × match, where match is the higher of the vector and
    /// keyword scores. Relevance by fused rank is flat (first and tenth differ
    /// by 0.06), so without the match factor a memory with a good record would
    /// be lifted into answers about something else.
    #[serde(default)]
    pub learned: f32,
    /// Highest similarity to a memory ranked above it (what MMR penalised).
    pub redundancy: f32,
    /// Relevance plus signals: what this memory ranks by.
    pub final_score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retrieved {
    pub memory_id: MemoryId,
    pub explanation: Explanation,
    pub features: Features,
}

/// One candidate as the searches found it.
#[derive(Debug, Clone, Copy, Default)]
struct Found {
    vector: Option<(u32, f32)>,
    keyword: Option<(u32, f32)>,
}

/// What ranking needs from the case bank.
pub trait CandidateSource {
    fn memory(&self, id: &MemoryId) -> Option<&Memory>;
    fn vector(&self, id: &MemoryId) -> Option<&[f32]>;
}

/// Ranks the union of the vector hits and keyword hits (each best first) and
/// returns the `k` best after diversification. A `scorer`, when given, adds its
/// learned usefulness to each score before diversification.
pub fn rank(
    source: &dyn CandidateSource,
    vector_hits: &[(MemoryId, f32)],
    keyword_hits: &[(MemoryId, f32)],
    k: usize,
    now: Millis,
    config: &RetrievalConfig,
    scorer: Option<&dyn UsefulnessScorer>,
) -> Vec<Retrieved> {
    let mut found: HashMap<&MemoryId, Found> = HashMap::new();
    for (rank, (id, score)) in vector_hits.iter().enumerate() {
        found.entry(id).or_default().vector = Some((rank as u32 + 1, *score));
    }
    for (rank, (id, score)) in keyword_hits.iter().enumerate() {
        found.entry(id).or_default().keyword = Some((rank as u32 + 1, *score));
    }
    let best_keyword = keyword_hits
        .first()
        .map_or(1.0, |(_, score)| score.max(f32::EPSILON));
    let max_usage = found
        .keys()
        .filter_map(|id| source.memory(id))
        .map(|memory| memory.use_count)
        .max()
        .unwrap_or(0);

    let mut ranked: Vec<Retrieved> = found
        .into_iter()
        .filter_map(|(id, found)| {
            let memory = source.memory(id)?;
            let features = features(memory, found, best_keyword, max_usage, now, config);
            let usefulness = scorer.map_or(0.0, |scorer| scorer.usefulness(&features));
            Some(Retrieved {
                memory_id: id.clone(),
                explanation: explain(features, found, usefulness, &config.weights),
                features,
            })
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.explanation
            .final_score
            .total_cmp(&a.explanation.final_score)
            .then_with(|| a.memory_id.cmp(&b.memory_id))
    });
    diversify(source, ranked, k, config)
}

fn features(
    memory: &Memory,
    found: Found,
    best_keyword: f32,
    max_usage: u32,
    now: Millis,
    config: &RetrievalConfig,
) -> Features {
    let reciprocal =
        |rank: Option<(u32, f32)>| rank.map_or(0.0, |(rank, _)| 1.0 / (config.rrf_k + rank as f32));
    let age_days = now.saturating_sub(
        memory
            .last_used_at
            .unwrap_or(memory.updated_at)
            .max(memory.updated_at),
    ) as f32
        / 86_400_000.0;
    let outcome = memory.outcome();
    Features {
        vector_score: found.vector.map_or(0.0, |(_, score)| score.max(0.0)),
        keyword_score: found.keyword.map_or(0.0, |(_, score)| score / best_keyword),
        relevance: (reciprocal(found.vector) + reciprocal(found.keyword)) * (config.rrf_k + 1.0)
            / 2.0,
        recency: 0.5f32.powf(age_days / config.recency_half_life_days.max(f32::EPSILON)),
        worked: f32::from(u8::from(outcome == Some(Outcome::Worked))),
        did_not_work: f32::from(u8::from(outcome == Some(Outcome::DidNotWork))),
        usage: if max_usage == 0 {
            0.0
        } else {
            (1.0 + memory.use_count as f32).ln() / (1.0 + max_usage as f32).ln()
        },
        pinned: f32::from(u8::from(memory.pinned)),
        cited_worked: citation_feature(memory.cited_worked),
        cited_did_not_work: citation_feature(memory.cited_did_not_work),
        is_correction: f32::from(u8::from(memory.is_correction())),
    }
}

fn explain(
    features: Features,
    found: Found,
    usefulness: f32,
    weights: &SignalWeights,
) -> Explanation {
    let outcome = weights.worked * features.worked + weights.did_not_work * features.did_not_work;
    let mut explanation = Explanation {
        vector_score: found.vector.map(|(_, score)| score),
        vector_rank: found.vector.map(|(rank, _)| rank),
        keyword_score: found.keyword.map(|(_, score)| score),
        keyword_rank: found.keyword.map(|(rank, _)| rank),
        relevance: weights.relevance * features.relevance,
        recency: weights.recency * features.recency,
        outcome,
        usage: weights.usage * features.usage,
        pinned: weights.pinned * features.pinned,
        learned: weights.learned * usefulness * features.vector_score.max(features.keyword_score),
        redundancy: 0.0,
        final_score: 0.0,
    };
    explanation.final_score = explanation.relevance
        + explanation.recency
        + explanation.outcome
        + explanation.usage
        + explanation.pinned
        + explanation.learned;
    explanation
}

/// Greedy diversification (a thresholded MMR): repeatedly takes the candidate
/// with the best score after a penalty for repeating what was already taken.
fn diversify(
    source: &dyn CandidateSource,
    mut remaining: Vec<Retrieved>,
    k: usize,
    config: &RetrievalConfig,
) -> Vec<Retrieved> {
    let threshold = config.duplicate_similarity.clamp(0.0, 0.999);
    let mut chosen: Vec<Retrieved> = Vec::with_capacity(k.min(remaining.len()));
    while chosen.len() < k && !remaining.is_empty() {
        let (best, redundancy) = remaining
            .iter()
            .enumerate()
            .map(|(index, candidate)| {
                let redundancy = source.vector(&candidate.memory_id).map_or(0.0, |vector| {
                    chosen
                        .iter()
                        .filter_map(|taken| source.vector(&taken.memory_id))
                        .map(|other| dot(vector, other))
                        .fold(0.0f32, f32::max)
                });
                let repetition = ((redundancy - threshold) / (1.0 - threshold)).max(0.0);
                let score =
                    candidate.explanation.final_score - config.duplicate_penalty * repetition;
                (index, redundancy, score)
            })
            .max_by(|a, b| a.2.total_cmp(&b.2).then_with(|| b.0.cmp(&a.0)))
            .map(|(index, redundancy, _)| (index, redundancy))
            .expect("remaining is not empty");
        let mut taken = remaining.remove(best);
        taken.explanation.redundancy = redundancy;
        chosen.push(taken);
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::memory::{CaseFields, Kind, Source};

    const DAY: Millis = 86_400_000;
    const NOW: Millis = 1_000 * DAY;

    struct Bank {
        memories: HashMap<MemoryId, Memory>,
        vectors: HashMap<MemoryId, Vec<f32>>,
    }

    impl CandidateSource for Bank {
        fn memory(&self, id: &MemoryId) -> Option<&Memory> {
            self.memories.get(id)
        }
        fn vector(&self, id: &MemoryId) -> Option<&[f32]> {
            self.vectors.get(id).map(Vec::as_slice)
        }
    }

    fn id(name: &str) -> MemoryId {
        MemoryId(name.into())
    }

    /// A memory's name, its vector, and how it differs from a plain fact.
    type Entry<'a> = (&'a str, Vec<f32>, Box<dyn Fn(&mut Memory)>);

    fn bank(entries: &[Entry]) -> Bank {
        let mut memories = HashMap::new();
        let mut vectors = HashMap::new();
        for (name, vector, adjust) in entries {
            let mut memory =
                Memory::new(id(name), Kind::Fact, *name, Source::Manual, NOW - 10 * DAY);
            adjust(&mut memory);
            memories.insert(id(name), memory);
            vectors.insert(id(name), vector.clone());
        }
        Bank { memories, vectors }
    }

    fn order(results: &[Retrieved]) -> Vec<&str> {
        results.iter().map(|r| r.memory_id.0.as_str()).collect()
    }

    fn same(_: &mut Memory) {}

    #[test]
    fn found_by_both_searches_beats_found_by_one() {
        let bank = bank(&[
            ("both", vec![1.0, 0.0], Box::new(same)),
            ("vector", vec![0.0, 1.0], Box::new(same)),
            ("keyword", vec![0.7, 0.7], Box::new(same)),
        ]);
        let vector = [(id("vector"), 0.9), (id("both"), 0.8)];
        let keyword = [(id("keyword"), 7.0), (id("both"), 5.0)];
        let results = rank(
            &bank,
            &vector,
            &keyword,
            3,
            NOW,
            &RetrievalConfig::default(),
            None,
        );
        assert_eq!(results[0].memory_id, id("both"));
        let explanation = &results[0].explanation;
        assert_eq!(explanation.vector_rank, Some(2));
        assert_eq!(explanation.keyword_rank, Some(2));
        assert_eq!(explanation.keyword_score, Some(5.0));
        assert!((results[0].features.keyword_score - 5.0 / 7.0).abs() < 1e-6);
    }

    #[test]
    fn signals_break_ties_the_way_a_user_expects() {
        let fresh_worked = |memory: &mut Memory| {
            memory.updated_at = NOW;
            memory.kind = Kind::Case;
            memory.case = Some(CaseFields {
                question: "q".into(),
                answer: "a".into(),
                outcome: Outcome::Worked,
                correction: None,
            });
        };
        let old_failed = |memory: &mut Memory| {
            memory.updated_at = NOW - 400 * DAY;
            memory.kind = Kind::Case;
            memory.case = Some(CaseFields {
                question: "q".into(),
                answer: "a".into(),
                outcome: Outcome::DidNotWork,
                correction: Some("do b".into()),
            });
        };
        let bank = bank(&[
            ("old-failed", vec![1.0, 0.0], Box::new(old_failed)),
            ("fresh-worked", vec![0.0, 1.0], Box::new(fresh_worked)),
        ]);
        // The failed case is slightly more relevant...
        let vector = [(id("old-failed"), 0.81), (id("fresh-worked"), 0.80)];
        let results = rank(
            &bank,
            &vector,
            &[],
            2,
            NOW,
            &RetrievalConfig::default(),
            None,
        );
        // ...but the recent one that worked ranks first; the failed one is kept.
        assert_eq!(order(&results), ["fresh-worked", "old-failed"]);
        assert!(results[0].explanation.outcome > 0.0);
        assert!(results[1].explanation.outcome < 0.0);
        assert_eq!(results[1].features.did_not_work, 1.0);

        let pinned = bank_with_pin();
        let results = rank(
            &pinned,
            &[(id("a"), 0.9), (id("b"), 0.9)],
            &[],
            2,
            NOW,
            &RetrievalConfig::default(),
            None,
        );
        assert_eq!(order(&results), ["b", "a"], "pinned wins an even match");
    }

    fn bank_with_pin() -> Bank {
        bank(&[
            ("a", vec![1.0, 0.0], Box::new(same)),
            (
                "b",
                vec![0.0, 1.0],
                Box::new(|memory: &mut Memory| memory.pinned = true),
            ),
        ])
    }

    #[test]
    fn near_duplicates_give_way_to_something_different() {
        let bank = bank(&[
            ("original", vec![1.0, 0.0, 0.0], Box::new(same)),
            ("duplicate", vec![0.999, 0.0447, 0.0], Box::new(same)),
            ("different", vec![0.0, 0.0, 1.0], Box::new(same)),
        ]);
        let vector = [
            (id("original"), 0.90),
            (id("duplicate"), 0.89),
            (id("different"), 0.85),
        ];
        let keyword = [
            (id("original"), 3.0),
            (id("duplicate"), 2.9),
            (id("different"), 2.5),
        ];
        let results = rank(
            &bank,
            &vector,
            &keyword,
            2,
            NOW,
            &RetrievalConfig::default(),
            None,
        );
        assert_eq!(order(&results), ["original", "different"]);
        assert!(results[1].explanation.redundancy < 0.1);

        let relevance_only = RetrievalConfig {
            duplicate_penalty: 0.0,
            ..RetrievalConfig::default()
        };
        let results = rank(&bank, &vector, &keyword, 2, NOW, &relevance_only, None);
        assert_eq!(order(&results), ["original", "duplicate"]);
    }

    /// Trusts a memory's record: usefulness is the difference of its citation
    /// features.
    struct TrustsRecords;

    impl UsefulnessScorer for TrustsRecords {
        fn usefulness(&self, features: &Features) -> f32 {
            features.cited_worked - features.cited_did_not_work
        }
    }

    #[test]
    fn a_learned_scorer_reorders_candidates_and_shows_its_contribution() {
        let bank = bank(&[
            (
                "failed-before",
                vec![1.0, 0.0],
                Box::new(|memory: &mut Memory| memory.cited_did_not_work = 3),
            ),
            (
                "helped-before",
                vec![0.0, 1.0],
                Box::new(|memory: &mut Memory| {
                    memory.cited_worked = 3;
                    memory.kind = Kind::Correction;
                }),
            ),
        ]);
        let vector = [(id("failed-before"), 0.82), (id("helped-before"), 0.80)];
        let config = RetrievalConfig::default();
        let plain = rank(&bank, &vector, &[], 2, NOW, &config, None);
        assert_eq!(order(&plain), ["failed-before", "helped-before"]);
        assert!(plain.iter().all(|r| r.explanation.learned == 0.0));
        let features = plain[1].features;
        assert!(
            (features.cited_worked - 0.5).abs() < 1e-6,
            "log(1+3) / log(1+15)"
        );
        assert_eq!(features.is_correction, 1.0);
        assert_eq!(plain[0].features.is_correction, 0.0);

        let learned = rank(&bank, &vector, &[], 2, NOW, &config, Some(&TrustsRecords));
        assert_eq!(order(&learned), ["helped-before", "failed-before"]);
        let lifted = &learned[0].explanation;
        assert!(
            (lifted.learned - 0.15 * 0.5 * 0.80).abs() < 1e-6,
            "{lifted:?}"
        );
        assert!(learned[1].explanation.learned < 0.0);
    }

    #[test]
    fn unknown_ids_are_skipped_and_k_is_respected() {
        let bank = bank(&[("a", vec![1.0], Box::new(same))]);
        let results = rank(
            &bank,
            &[(id("ghost"), 0.99), (id("a"), 0.5)],
            &[],
            5,
            NOW,
            &RetrievalConfig::default(),
            None,
        );
        assert_eq!(order(&results), ["a"]);
        assert!(rank(
            &bank,
            &[(id("a"), 0.5)],
            &[],
            0,
            NOW,
            &RetrievalConfig::default(),
            None
        )
        .is_empty());
    }
}
