//! Shows that the case bank learns: a synthetic user asks a few hundred questions
//! about a handful of topics. Each topic has several similar memories but only
//! one that truly helps, never the most similar one. The model cites the helpful
//! memory when it is in the prompt (top 4) and the user marks that answer
//! "worked"; otherwise it cites the first memory and the answer does not work.
//! Everything else is the real code path: ranking (default configuration),
//! citation counts, use counts, the scorer. Results vary with the random world,
//! so the claims are about the mean over several seeds.

use std::collections::HashMap;

use crate::core::memory::{Kind, Memory, MemoryId, Millis, Outcome, Source};
use crate::core::retrieve::{
    rank, CandidateSource, Features, RetrievalConfig, Retrieved, UsefulnessScorer,
};
use crate::core::vector::dot;

use super::feedback::recount_citations;
use super::scorer::LearnedScorer;

/// High enough that memories of different topics are nearly orthogonal.
const DIMENSION: usize = 64;
const TOPICS: usize = 20;
const MEMORIES_PER_TOPIC: usize = 6;
const QUESTIONS: usize = 300;
const WINDOW: usize = 100;
const SEEDS: u64 = 10;
const PROMPT_SIZE: usize = 4;
const HOUR: Millis = 3_600_000;
const START: Millis = 1_700_000_000_000;

/// SplitMix64: a deterministic source of random numbers for the test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A standard normal number (Box–Muller).
    fn normal(&mut self) -> f32 {
        let uniform = |rng: &mut Rng| ((rng.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let (u, v) = (uniform(self), uniform(self));
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    /// `centre` plus Gaussian noise of the given spread per dimension, normalised.
    fn around(&mut self, centre: &[f32], spread: f32) -> Vec<f32> {
        let point: Vec<f32> = centre
            .iter()
            .map(|x| x + spread * self.normal() / (DIMENSION as f32).sqrt())
            .collect();
        let norm = dot(&point, &point).sqrt();
        point.into_iter().map(|x| x / norm).collect()
    }
}

struct Bank {
    memories: HashMap<MemoryId, Memory>,
    vectors: HashMap<MemoryId, Vec<f32>>,
    config: RetrievalConfig,
}

impl CandidateSource for Bank {
    fn memory(&self, id: &MemoryId) -> Option<&Memory> {
        self.memories.get(id)
    }
    fn vector(&self, id: &MemoryId) -> Option<&[f32]> {
        self.vectors.get(id).map(Vec::as_slice)
    }
}

impl Bank {
    /// Exact vector search over every memory, best first (no keywords: the
    /// synthetic memories have no text worth searching).
    fn vector_hits(&self, query: &[f32], candidates: usize) -> Vec<(MemoryId, f32)> {
        let mut hits: Vec<(MemoryId, f32)> = self
            .vectors
            .iter()
            .map(|(id, vector)| (id.clone(), dot(query, vector)))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        hits.truncate(candidates);
        hits
    }

    fn search(
        &self,
        query: &[f32],
        k: usize,
        now: Millis,
        scorer: Option<&dyn UsefulnessScorer>,
    ) -> Vec<Retrieved> {
        let hits = self.vector_hits(query, self.config.candidates);
        rank(self, &hits, &[], k, now, &self.config, scorer)
    }
}

fn memory_id(topic: usize, index: usize) -> MemoryId {
    MemoryId(format!("t{topic:02}-m{index}"))
}

struct World {
    rng: Rng,
    bank: Bank,
    centres: Vec<Vec<f32>>,
    helpful: Vec<MemoryId>,
}

/// Topics of memories at increasing distance from the topic's centre; the
/// helpful one is any but the closest.
fn world(seed: u64, config: RetrievalConfig) -> World {
    let mut rng = Rng(seed);
    let mut bank = Bank {
        memories: HashMap::new(),
        vectors: HashMap::new(),
        config,
    };
    let mut centres = Vec::new();
    let mut helpful = Vec::new();
    for topic in 0..TOPICS {
        let centre = rng.around(&[0.0; DIMENSION], 1.0);
        for index in 0..MEMORIES_PER_TOPIC {
            let id = memory_id(topic, index);
            let vector = rng.around(&centre, 0.3 + 0.1 * index as f32);
            let memory = Memory::new(
                id.clone(),
                Kind::Fact,
                id.as_str(),
                Source::Manual,
                START - 30 * 24 * HOUR,
            );
            bank.memories.insert(id.clone(), memory);
            bank.vectors.insert(id, vector);
        }
        helpful.push(memory_id(topic, 1 + rng.below(MEMORIES_PER_TOPIC - 1)));
        centres.push(centre);
    }
    World {
        rng,
        bank,
        centres,
        helpful,
    }
}

struct Report {
    first_window: f32,
    last_window: f32,
    last_window_plain: f32,
    scorer: LearnedScorer,
}

fn hit(results: &[Retrieved], helpful: &MemoryId) -> bool {
    results.iter().any(|r| &r.memory_id == helpful)
}

/// Asks the questions, learning from every verdict; in the last window each
/// question is also ranked without the scorer, on the same bank.
fn simulate(seed: u64, config: RetrievalConfig) -> Report {
    let World {
        mut rng,
        mut bank,
        centres,
        helpful,
    } = world(seed, config);
    let mut scorer = LearnedScorer::new();
    let (mut first_hits, mut last_hits, mut last_plain_hits) = (0, 0, 0);
    for question in 0..QUESTIONS {
        let now = START + question as Millis * HOUR;
        let topic = rng.below(TOPICS);
        let helpful = &helpful[topic];
        let query = rng.around(&centres[topic], 0.35);
        let results = bank.search(&query, PROMPT_SIZE, now, Some(&scorer));
        let found = hit(&results, helpful);
        if question < WINDOW {
            first_hits += usize::from(found);
        }
        if question >= QUESTIONS - WINDOW {
            last_hits += usize::from(found);
            let plain = bank.search(&query, PROMPT_SIZE, now, None);
            last_plain_hits += usize::from(hit(&plain, helpful));
        }

        let (cited, verdict) = if found {
            (helpful.clone(), Outcome::Worked)
        } else {
            (results[0].memory_id.clone(), Outcome::DidNotWork)
        };
        let used: Vec<(Features, bool)> = results
            .iter()
            .map(|r| (r.features, r.memory_id == cited))
            .collect();
        scorer.learn_from_verdict(&used, None, Some(verdict));
        let cited_memory = bank.memories[&cited].clone();
        for updated in recount_citations(&[cited_memory], None, Some(verdict)) {
            bank.memories.insert(updated.id.clone(), updated);
        }
        for r in &results {
            if let Some(memory) = bank.memories.get_mut(&r.memory_id) {
                memory.use_count += 1;
                memory.last_used_at = Some(now);
            }
        }
    }
    let rate = |hits: usize| hits as f32 / WINDOW as f32;
    Report {
        first_window: rate(first_hits),
        last_window: rate(last_hits),
        last_window_plain: rate(last_plain_hits),
        scorer,
    }
}

/// Mean hit@4 over the seeds: (first window, last window, last window without
/// the scorer), after printing each seed's.
fn mean_over_seeds(label: &str, config: &RetrievalConfig) -> (f32, f32, f32) {
    let mut sums = (0.0, 0.0, 0.0);
    let mut per_seed = Vec::new();
    for seed in 1..=SEEDS {
        let report = simulate(seed, config.clone());
        per_seed.push(format!(
            "{:.2}/{:.2}/{:.2}",
            report.first_window, report.last_window, report.last_window_plain
        ));
        sums.0 += report.first_window;
        sums.1 += report.last_window;
        sums.2 += report.last_window_plain;
    }
    let n = SEEDS as f32;
    let means = (sums.0 / n, sums.1 / n, sums.2 / n);
    println!(
        "{label}: hit@{PROMPT_SIZE} first {WINDOW} questions {:.2}, last {WINDOW} {:.2}, \
         last {WINDOW} without the scorer {:.2} (mean of {SEEDS} seeds; first/last/without: {})",
        means.0,
        means.1,
        means.2,
        per_seed.join(" ")
    );
    means
}

#[test]
fn the_helpful_memory_reaches_the_prompt_more_often_as_verdicts_come_in() {
    let (first, last, plain) = mean_over_seeds("default ranking", &RetrievalConfig::default());
    // For comparison only: the same without diversification.
    let relevance_only = RetrievalConfig {
        duplicate_penalty: 0.0,
        ..RetrievalConfig::default()
    };
    mean_over_seeds("without diversification", &relevance_only);

    assert!(last >= first + 0.15, "no learning: {first:.2} → {last:.2}");
    assert!(
        last >= plain + 0.15,
        "the learned ranking ({last:.2}) is not better than plain hybrid ranking ({plain:.2})"
    );
}

#[test]
fn a_memory_marked_not_working_sinks() {
    let scorer = simulate(1, RetrievalConfig::default()).scorer;
    assert!(scorer.is_ready());
    // Two memories for one question, equally old and unused; "closest" is the
    // more similar to it.
    let mut rng = Rng(99);
    let question = rng.around(&[0.0; DIMENSION], 1.0);
    let closest = MemoryId("closest".into());
    let other = MemoryId("other".into());
    let mut bank = Bank {
        memories: HashMap::new(),
        vectors: HashMap::new(),
        config: RetrievalConfig::default(),
    };
    for (id, spread) in [(&closest, 0.05), (&other, 0.4)] {
        let memory = Memory::new(id.clone(), Kind::Fact, id.as_str(), Source::Manual, START);
        bank.memories.insert(id.clone(), memory);
        bank.vectors
            .insert(id.clone(), rng.around(&question, spread));
    }
    let now = START + HOUR;
    let order = |bank: &Bank| {
        bank.search(&question, 2, now, Some(&scorer))
            .into_iter()
            .map(|r| (r.memory_id, r.explanation.learned))
            .collect::<Vec<_>>()
    };
    let before = order(&bank);
    assert_eq!(before[0].0, closest);

    for _ in 0..3 {
        let marked = recount_citations(
            &[bank.memories[&closest].clone()],
            None,
            Some(Outcome::DidNotWork),
        );
        for memory in marked {
            bank.memories.insert(memory.id.clone(), memory);
        }
    }
    let after = order(&bank);
    assert_eq!(after[0].0, other, "{after:?}");
    assert_eq!(after[1].0, closest);
    assert!(after[1].1 < before[0].1 - 0.05, "{before:?} → {after:?}");
}
