use std::collections::HashMap;

use super::*;

/// splitmix64: a tiny seeded generator, so failures replay from the printed seed.
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

    fn unit_vector(&mut self, dimension: usize) -> Vec<f32> {
        let mut vector: Vec<f32> = (0..dimension)
            .map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            .collect();
        crate::core::embed::l2_normalize(&mut vector);
        vector
    }
}

const DIMENSION: usize = 16;

fn id(n: usize) -> MemoryId {
    MemoryId(format!("m{n:04}"))
}

/// Small thresholds so that a few hundred vectors exercise the graph, the buffer
/// and rebuilds; a wide ef_search so the graph finds the exact answer at this size.
fn small_config() -> IndexConfig {
    IndexConfig {
        exact_below: 40,
        rebuild_after: 25,
        dead_fraction: 0.2,
        ef_construction: 64,
        ef_search: 400,
        wide_search_from: usize::MAX,
        ef_search_wide: 400,
        min_graph_recall: 0.9,
        seed: 7,
    }
}

fn brute_force(
    live: &HashMap<MemoryId, Vec<f32>>,
    query: &[f32],
    k: usize,
    allow: &dyn Fn(&MemoryId) -> bool,
) -> Vec<MemoryId> {
    let mut scored: Vec<(f32, &MemoryId)> = live
        .iter()
        .filter(|(id, _)| allow(id))
        .map(|(id, vector)| (dot(query, vector), id))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(k)
        .map(|(_, id)| id.clone())
        .collect()
}

fn ids(hits: &[Hit]) -> Vec<MemoryId> {
    hits.iter().map(|hit| hit.id.clone()).collect()
}

#[test]
fn random_edits_always_search_like_brute_force_over_the_live_set() {
    for round in 0..6u64 {
        let seed = 0xC0FFEE + round;
        let mut rng = Rng(seed);
        let mut index = VectorIndex::new(DIMENSION, small_config());
        let mut live: HashMap<MemoryId, Vec<f32>> = HashMap::new();
        let mut versions: HashMap<MemoryId, Version> = HashMap::new();
        // A rebuild started from an earlier state, installed after more edits.
        let mut pending: Option<RebuildInput> = None;
        let mut next_id = 0;
        for step in 0..700 {
            let context = format!("seed {seed:#x}, step {step}");
            match rng.below(100) {
                0..=44 => {
                    let vector = rng.unit_vector(DIMENSION);
                    let key = id(next_id);
                    next_id += 1;
                    index.insert(key.clone(), 1, &vector).unwrap();
                    versions.insert(key.clone(), 1);
                    live.insert(key, vector);
                }
                45..=59 if !live.is_empty() => {
                    let key = id(rng.below(next_id));
                    let vector = rng.unit_vector(DIMENSION);
                    if live.contains_key(&key) {
                        let version = versions[&key] + 1;
                        index.insert(key.clone(), version, &vector).unwrap();
                        versions.insert(key.clone(), version);
                        live.insert(key, vector);
                    }
                }
                60..=74 if !live.is_empty() => {
                    let key = id(rng.below(next_id));
                    assert_eq!(index.remove(&key), live.remove(&key).is_some(), "{context}");
                }
                75..=79 => pending = Some(index.rebuild_input()),
                80..=84 => {
                    if let Some(input) = pending.take() {
                        index.install(build_snapshot(input, index.config()));
                    }
                }
                85..=87 => {
                    // Save the snapshot as it would be saved, reload with the vectors
                    // as they are stored now.
                    let saved = build_snapshot(index.rebuild_input(), index.config()).to_bytes();
                    let stored = live
                        .iter()
                        .map(|(key, vector)| (key.clone(), versions[key], vector.clone()));
                    index = VectorIndex::load(DIMENSION, small_config(), Some(&saved), stored)
                        .unwrap()
                        .0;
                }
                _ => {}
            }
            assert_eq!(index.len(), live.len(), "{context}");
            if step % 7 == 0 {
                let query = rng.unit_vector(DIMENSION);
                let k = 1 + rng.below(12);
                let odd = |key: &MemoryId| key.0.ends_with(['1', '3', '5', '7', '9']);
                let all = |_: &MemoryId| true;
                assert_eq!(
                    ids(&index.search(&query, k, &all).unwrap()),
                    brute_force(&live, &query, k, &all),
                    "{context}: unfiltered search"
                );
                assert_eq!(
                    ids(&index.search(&query, k, &odd).unwrap()),
                    brute_force(&live, &query, k, &odd),
                    "{context}: filtered search"
                );
            }
        }
        println!(
            "seed {seed:#x}: {} live, {} buffered, graph {}",
            index.len(),
            index.buffered(),
            index.has_graph()
        );
    }
}

#[test]
fn deleted_memories_never_come_back_even_after_a_reload() {
    let mut rng = Rng(42);
    let mut index = VectorIndex::new(DIMENSION, small_config());
    let vectors: Vec<Vec<f32>> = (0..120).map(|_| rng.unit_vector(DIMENSION)).collect();
    for (n, vector) in vectors.iter().enumerate() {
        index.insert(id(n), 1, vector).unwrap();
    }
    let built = build_snapshot(index.rebuild_input(), index.config());
    assert!(built.has_graph());
    let saved = built.to_bytes();
    index.install(built);
    for n in (0..120).step_by(3) {
        assert!(index.remove(&id(n)));
    }
    // Each deleted vector is its own best match: it must still not be returned.
    for n in (0..120).step_by(3) {
        let hits = index.search(&vectors[n], 5, &|_| true).unwrap();
        assert!(!ids(&hits).contains(&id(n)), "deleted {n} returned");
    }
    // Reload from the snapshot saved before the deletions, with the store's
    // current vectors (the deleted ones are gone from the store).
    let stored = (0..120)
        .filter(|n| n % 3 != 0)
        .map(|n| (id(n), 1, vectors[n].clone()));
    let (reloaded, report) =
        VectorIndex::load(DIMENSION, small_config(), Some(&saved), stored).unwrap();
    assert_eq!(report.stale_rows, 40);
    assert_eq!(report.from_snapshot, 80);
    assert_eq!(report.buffered, 0);
    assert!(reloaded.has_graph());
    for n in (0..120).step_by(3) {
        let hits = reloaded.search(&vectors[n], 10, &|_| true).unwrap();
        assert!(
            !ids(&hits).contains(&id(n)),
            "deleted {n} came back after reload"
        );
    }
    assert_eq!(
        ids(&reloaded.search(&vectors[1], 1, &|_| true).unwrap()),
        [id(1)]
    );
}

#[test]
fn a_selective_filter_still_finds_its_matches_when_the_graph_misses_them() {
    let mut rng = Rng(9);
    // A narrow graph, kept whatever it misses: what is tested is the fallback.
    let config = IndexConfig {
        ef_search: 8,
        min_graph_recall: 0.0,
        ..small_config()
    };
    let mut index = VectorIndex::new(DIMENSION, config);
    for n in 0..200 {
        index.insert(id(n), 1, &rng.unit_vector(DIMENSION)).unwrap();
    }
    index.install(build_snapshot(index.rebuild_input(), index.config()));
    assert!(index.has_graph());
    let only = [id(17), id(123), id(188)];
    let hits = index
        .search(&rng.unit_vector(DIMENSION), 5, &|key| only.contains(key))
        .unwrap();
    let mut found = ids(&hits);
    found.sort();
    assert_eq!(found, only, "all three allowed memories, and nothing else");
}

#[test]
fn edits_made_during_a_rebuild_survive_its_installation() {
    let mut rng = Rng(5);
    let mut index = VectorIndex::new(DIMENSION, small_config());
    for n in 0..60 {
        index.insert(id(n), 1, &rng.unit_vector(DIMENSION)).unwrap();
    }
    let input = index.rebuild_input();
    // While "another worker" builds: an edit, a deletion, a new memory.
    let edited = rng.unit_vector(DIMENSION);
    index.insert(id(3), 2, &edited).unwrap();
    index.remove(&id(4));
    let added = rng.unit_vector(DIMENSION);
    index.insert(id(999), 1, &added).unwrap();
    index.install(build_snapshot(input, index.config()));

    assert_eq!(index.len(), 60);
    assert_eq!(index.version(&id(3)), Some(2));
    assert_eq!(index.vector(&id(3)).unwrap(), edited.as_slice());
    assert!(!index.contains(&id(4)));
    assert_eq!(
        index.buffered(),
        2,
        "the edited and the new vector wait for the next rebuild"
    );
    assert_eq!(ids(&index.search(&edited, 1, &|_| true).unwrap()), [id(3)]);
    assert_eq!(ids(&index.search(&added, 1, &|_| true).unwrap()), [id(999)]);
}

#[test]
fn bad_vectors_are_refused_and_change_nothing() {
    let mut index = VectorIndex::new(3, IndexConfig::default());
    assert_eq!(
        index.insert(id(1), 1, &[1.0, 0.0]),
        Err(IndexError::WrongDimension {
            expected: 3,
            found: 2
        })
    );
    assert_eq!(
        index.insert(id(1), 1, &[f32::NAN, 0.0, 0.0]),
        Err(IndexError::NotFinite)
    );
    assert!(index.is_empty());
    assert!(index.search(&[1.0], 3, &|_| true).is_err());
    assert_eq!(
        index.search(&[1.0, 0.0, 0.0], 3, &|_| true).unwrap(),
        Vec::<Hit>::new()
    );
    assert!(!index.remove(&id(1)));
}

#[test]
fn a_damaged_snapshot_is_ignored_and_every_vector_is_still_searchable() {
    let vectors = [(id(1), 1, vec![1.0, 0.0]), (id(2), 1, vec![0.0, 1.0])];
    let (index, report) =
        VectorIndex::load(2, small_config(), Some(b"not a snapshot"), vectors.clone()).unwrap();
    assert_eq!(report.buffered, 2);
    assert_eq!(
        ids(&index.search(&[0.0, 1.0], 1, &|_| true).unwrap()),
        [id(2)]
    );
    assert!(BuiltSnapshot::from_bytes(
        b"junk",
        RebuildInput {
            dimension: 2,
            ids: vec![],
            versions: vec![],
            values: vec![],
        }
    )
    .is_err());
}

#[test]
fn rebuilds_are_due_only_when_they_pay_off() {
    let mut rng = Rng(3);
    let mut index = VectorIndex::new(DIMENSION, small_config());
    for n in 0..39 {
        index.insert(id(n), 1, &rng.unit_vector(DIMENSION)).unwrap();
    }
    assert!(
        !index.needs_rebuild(),
        "below exact_below, exact search is enough"
    );
    index
        .insert(id(39), 1, &rng.unit_vector(DIMENSION))
        .unwrap();
    assert!(
        index.needs_rebuild(),
        "large enough for a graph, and none yet"
    );
    index.install(build_snapshot(index.rebuild_input(), index.config()));
    assert!(!index.needs_rebuild());
    for n in 40..64 {
        index.insert(id(n), 1, &rng.unit_vector(DIMENSION)).unwrap();
    }
    assert!(!index.needs_rebuild(), "24 buffered < 25");
    index
        .insert(id(64), 1, &rng.unit_vector(DIMENSION))
        .unwrap();
    assert!(index.needs_rebuild());
}

#[test]
fn a_graph_that_misses_true_neighbours_is_not_kept_and_exact_search_answers() {
    let mut rng = Rng(11);
    let vectors: Vec<Vec<f32>> = (0..200).map(|_| rng.unit_vector(DIMENSION)).collect();
    let fill = |config: IndexConfig| {
        let mut index = VectorIndex::new(DIMENSION, config);
        for (n, vector) in vectors.iter().enumerate() {
            index.insert(id(n), 1, vector).unwrap();
        }
        index
    };

    // Kept: at this size and ef the graph finds the true neighbours.
    let mut kept = fill(small_config());
    let built = build_snapshot(kept.rebuild_input(), kept.config());
    let recall = built.sampled_recall().expect("a graph was built");
    assert!(recall >= 0.95, "sampled recall {recall}");
    kept.install(built);
    assert!(kept.has_graph() && !kept.needs_rebuild());

    // A graph searched with ef 1 misses most of them: it is measured and dropped,
    // no rebuild is due for want of one, and searches are exact.
    let narrow = IndexConfig {
        ef_search: 1,
        ..small_config()
    };
    let mut declined = fill(narrow.clone());
    let built = build_snapshot(declined.rebuild_input(), declined.config());
    let recall = built.sampled_recall().expect("a graph was built");
    assert!(recall < 0.9, "sampled recall {recall}");
    assert!(!built.has_graph());
    let saved = built.to_bytes();
    declined.install(built);
    assert!(!declined.has_graph());
    assert!(
        !declined.needs_rebuild(),
        "a declined graph is not rebuilt at once"
    );
    let live: HashMap<MemoryId, Vec<f32>> = vectors
        .iter()
        .enumerate()
        .map(|(n, vector)| (id(n), vector.clone()))
        .collect();
    for query in vectors.iter().take(20) {
        let hits = declined.search(query, 10, &|_| true).unwrap();
        assert_eq!(ids(&hits), brute_force(&live, query, 10, &|_| true));
    }
    // Its scan (8-bit codes, then exact scores) skips deleted rows and honours
    // filters, and its scores are exact.
    let mut after_deletes = live.clone();
    for n in (0..200).step_by(7) {
        assert!(declined.remove(&id(n)));
        after_deletes.remove(&id(n));
    }
    let even = |memory: &MemoryId| memory.0[1..].parse::<usize>().unwrap() % 2 == 0;
    for query in vectors.iter().skip(20).take(20) {
        let hits = declined.search(query, 10, &even).unwrap();
        assert_eq!(ids(&hits), brute_force(&after_deletes, query, 10, &even));
        for hit in &hits {
            assert_eq!(hit.score, dot(query, &after_deletes[&hit.id]));
        }
    }

    // The same after a reload from the saved snapshot; more new vectors than
    // rebuild_after make a rebuild due again (the graph is measured anew).
    let (mut reloaded, report) = VectorIndex::load(
        DIMENSION,
        narrow,
        Some(&saved),
        live.iter()
            .map(|(id, vector)| (id.clone(), 1, vector.clone())),
    )
    .unwrap();
    assert_eq!(report.from_snapshot, vectors.len());
    assert!(!reloaded.has_graph() && !reloaded.needs_rebuild());
    for query in vectors.iter().take(20) {
        let hits = reloaded.search(query, 10, &|_| true).unwrap();
        assert_eq!(ids(&hits), brute_force(&live, query, 10, &|_| true));
    }
    for n in 200..225 {
        reloaded
            .insert(id(n), 1, &rng.unit_vector(DIMENSION))
            .unwrap();
    }
    assert!(reloaded.needs_rebuild());
}
