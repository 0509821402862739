//! The vector index benchmark's data sets and measurements, shared by the native
//! run (examples/index_bench.rs) and the headless Chromium run (tests/browser_bench),
//! so both measure exactly the same thing. Each gives its own clock and log.
//!
//! Everything goes through the app's API: `VectorIndex::load` / `search` /
//! `insert` / `rebuild_input` / `install`, `build_snapshot`, `BuiltSnapshot::to_bytes`.

use casebook::core::bank::{CaseBank, IndexedMemories, MemoryFilter, StoredVector};
use casebook::core::embed::l2_normalize;
use casebook::core::index::{build_snapshot, IndexConfig, VectorIndex, Version};
use casebook::core::memory::{Kind, Memory, MemoryId, Source};
use casebook::core::retrieve::RetrievalConfig;

/// Milliseconds from some fixed start (`Instant` natively, `performance.now()` in the browser).
pub type Clock<'a> = &'a dyn Fn() -> f64;
/// Where progress lines go while a long run works.
pub type Log<'a> = &'a mut dyn FnMut(&str);

pub const DIMENSION: usize = 384;
/// Results per query, as retrieval asks for (recall is measured at this depth).
pub const K: usize = 10;
pub const QUERIES: usize = 300;
/// Vectors inserted into the buffer to time `insert`, in batches: one insert
/// takes about a microsecond, below the browser clock's 5 µs resolution.
pub const INSERT_BATCHES: usize = 40;
pub const INSERT_BATCH: usize = 25;
/// The ef_search values every graph is searched with unless told otherwise
/// (cheap: one load and 300 queries each; the builds are what take time).
pub const EF_SEARCH_SWEEP: &str = "16,32,64,128,256";

/// splitmix64: small, seeded, the same natively and in wasm.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit_interval(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A standard normal sample (Box-Muller).
    fn gaussian(&mut self) -> f32 {
        let (u, v) = (self.unit_interval(), self.unit_interval());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    /// A point drawn uniformly from the unit sphere.
    pub fn unit_vector(&mut self, dimension: usize) -> Vec<f32> {
        let mut vector: Vec<f32> = (0..dimension).map(|_| self.gaussian()).collect();
        l2_normalize(&mut vector);
        vector
    }
}

/// Vectors to index and queries to search them with.
pub struct Dataset {
    pub name: &'static str,
    pub vectors: Vec<Vec<f32>>,
    pub queries: Vec<Vec<f32>>,
}

/// Unit vectors drawn uniformly from the sphere: no structure at all, the hardest
/// case for a graph index (every point is about as far as every other).
pub fn random_dataset(size: usize) -> Dataset {
    let mut rng = Rng::new(0x5eed_0000 + size as u64);
    Dataset {
        name: "random",
        vectors: (0..size).map(|_| rng.unit_vector(DIMENSION)).collect(),
        queries: (0..QUERIES).map(|_| rng.unit_vector(DIMENSION)).collect(),
    }
}

/// Where the native benchmark leaves SciFact's vectors for the Chromium one
/// (relative to the repository, which the wasm test server serves), as raw
/// little-endian f32, 384 to a vector.
pub const BENCH_DATA: &str = "target/bench-data";
pub const SCIFACT_DOCUMENTS: &str = "scifact-documents.f32";
pub const SCIFACT_QUERIES: &str = "scifact-queries.f32";

/// How [`scifact_dataset`] makes more vectors than SciFact has.
pub const SCIFACT_RECIPE: &str =
    "SciFact: the first N of its 5,183 document vectors; beyond them, \
     each extra vector is a random document + a random 0-50% share of another document + Gaussian \
     noise of norm 0.35, renormalised (near-duplicates and topic mixtures, as a growing case bank \
     has). Queries: the 300 SciFact test claims.";

/// SciFact's document vectors, extended past its 5,183 documents by mixing and
/// perturbing them (see [`SCIFACT_RECIPE`]); the queries are its real test claims.
pub fn scifact_dataset(documents: &[Vec<f32>], queries: &[Vec<f32>], size: usize) -> Dataset {
    let mut rng = Rng::new(0x5c1f_ac70 + size as u64);
    let mut vectors: Vec<Vec<f32>> = documents.iter().take(size).cloned().collect();
    let noise_scale = 0.35 / (DIMENSION as f32).sqrt();
    while vectors.len() < size {
        let base = &documents[rng.below(documents.len())];
        let other = &documents[rng.below(documents.len())];
        let share = rng.unit_interval() as f32 * 0.5;
        let mut vector: Vec<f32> = base
            .iter()
            .zip(other)
            .map(|(a, b)| a + share * b + noise_scale * rng.gaussian())
            .collect();
        l2_normalize(&mut vector);
        vectors.push(vector);
    }
    Dataset {
        name: "scifact",
        vectors,
        queries: queries.to_vec(),
    }
}

/// Ids shaped like the app's (creation time + 64 random bits), so the saved
/// snapshot has its real size.
pub fn memory_ids(count: usize, rng: &mut Rng) -> Vec<MemoryId> {
    (0..count)
        .map(|row| MemoryId::new(1_750_000_000_000 + row as u64, rng.next_u64()))
        .collect()
}

/// Memories to go with the vectors, with text of realistic length and word
/// statistics for the keyword index that loading builds: 40-120 words drawn from
/// a 20,000-word vocabulary with Zipf frequencies (as in natural language).
pub fn memories(ids: &[MemoryId], rng: &mut Rng) -> Vec<Memory> {
    const VOCABULARY: usize = 20_000;
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ber", "dan", "gel", "hor", "min", "pas",
        "tor", "zen",
    ];
    let words: Vec<String> = (0..VOCABULARY)
        .map(|word| {
            let mut rest = word + SYLLABLES.len();
            let mut text = String::new();
            while rest > 0 {
                text.push_str(SYLLABLES[rest % SYLLABLES.len()]);
                rest /= SYLLABLES.len();
            }
            text
        })
        .collect();
    let mut cumulative = Vec::with_capacity(VOCABULARY);
    let mut total = 0.0;
    for rank in 1..=VOCABULARY {
        total += 1.0 / rank as f64;
        cumulative.push(total);
    }
    let kinds = [
        Kind::Fact,
        Kind::Note,
        Kind::DocumentChunk,
        Kind::Preference,
    ];
    ids.iter()
        .enumerate()
        .map(|(row, id)| {
            let length = 40 + rng.below(81);
            let text: Vec<&str> = (0..length)
                .map(|_| {
                    let target = rng.unit_interval() * total;
                    let word = cumulative.partition_point(|&sum| sum < target);
                    words[word.min(VOCABULARY - 1)].as_str()
                })
                .collect();
            Memory::new(
                id.clone(),
                kinds[row % kinds.len()],
                text.join(" "),
                Source::Manual,
                1_750_000_000_000 + row as u64,
            )
        })
        .collect()
}

pub const MODEL_ID: &str = "all-minilm-l6-v2-int8-v1";

/// The vector records the app stores beside `memories`.
pub fn stored_vectors(ids: &[MemoryId], vectors: &[Vec<f32>]) -> Vec<StoredVector> {
    ids.iter()
        .zip(vectors)
        .map(|(id, vector)| StoredVector {
            memory_id: id.clone(),
            model_id: MODEL_ID.into(),
            version: 1,
            vector: vector.clone(),
        })
        .collect()
}

/// `CaseBank::load` from memories already indexed and vectors already read,
/// then one hybrid search: the in-memory part of opening the app after the
/// memories are indexed. Returns milliseconds (load, first search).
pub fn load_bank(
    memories: IndexedMemories,
    vectors: Vec<StoredVector>,
    snapshot: Option<&[u8]>,
    config: &IndexConfig,
    query: &[f32],
    clock: Clock,
) -> (f64, f64) {
    let count = memories.len();
    let started = clock();
    let (bank, report) = CaseBank::load(
        MODEL_ID,
        DIMENSION,
        config.clone(),
        memories,
        vectors,
        snapshot,
    )
    .expect("benchmark records are valid");
    let loaded = clock();
    assert_eq!(
        report.vectors.from_snapshot + report.vectors.buffered,
        count
    );
    let results = bank
        .search(
            "kalo mine",
            Some(query),
            K,
            &MemoryFilter::default(),
            1_760_000_000_000,
            &RetrievalConfig::default(),
            None,
        )
        .expect("a valid query");
    let searched = clock();
    assert!(!results.is_empty(), "a loaded bank finds something");
    (loaded - started, searched - loaded)
}

/// What to measure.
pub struct Plan {
    /// One graph build per value (the slow part).
    pub ef_constructions: Vec<usize>,
    /// Searched on every graph.
    pub ef_searches: Vec<usize>,
    /// The configuration the app would use; the graph built with its
    /// ef_construction and ef_search is the snapshot [`Measured`] hands back.
    pub chosen: IndexConfig,
}

pub struct ExactRow {
    pub data: &'static str,
    pub vectors: usize,
    pub search: Spread,
    /// The same rows scanned as their 8-bit codes, the shortlist re-scored exactly.
    pub code_scan: Spread,
    pub code_recall: f64,
    /// `VectorIndex::load` with no snapshot: every vector into the exact buffer.
    pub load_ms: f64,
    /// `VectorIndex::insert` into an index already holding `vectors`, microseconds
    /// per insert (the spread is over batches of [`INSERT_BATCH`]).
    pub insert_us: Spread,
}

pub struct GraphRow {
    pub data: &'static str,
    pub vectors: usize,
    pub ef_construction: usize,
    /// `build_snapshot` alone.
    pub build_ms: f64,
    /// `rebuild_input` + `build_snapshot` + `install`: what the app does when the buffer is full.
    pub rebuild_ms: f64,
    pub snapshot_bytes: usize,
    /// `VectorIndex::load` from the saved snapshot and the vectors.
    pub load_ms: f64,
    pub ef_search: usize,
    pub search: Spread,
    /// Mean share of the exact top 10 that the graph search returns.
    pub recall: f64,
}

/// The chosen configuration's graph in the worst state it allows before a
/// rebuild is due: just under `dead_fraction` of its rows dead (deleted or
/// edited) and just under `rebuild_after` vectors (the edited ones) in the buffer.
pub struct BeforeRebuildRow {
    pub data: &'static str,
    pub vectors: usize,
    pub dead: usize,
    pub buffered: usize,
    pub search: Spread,
    /// Against exact search over the same live set.
    pub recall: f64,
}

/// The index as the app keeps it with the chosen configuration: the graph if its
/// sampled recall is high enough, otherwise a scan of every row.
pub struct AppRow {
    pub data: &'static str,
    pub vectors: usize,
    pub method: &'static str,
    /// `VectorIndex::load` from the saved snapshot and the vectors.
    pub load_ms: f64,
    pub search: Spread,
    pub recall: f64,
}

/// The median and 95th percentile of a set of timings.
#[derive(Clone, Copy)]
pub struct Spread {
    pub p50: f64,
    pub p95: f64,
}

impl Spread {
    /// A table cell: "p50 / p95 ms".
    pub fn cell(&self) -> String {
        format!("{} / {} ms", milliseconds(self.p50), milliseconds(self.p95))
    }

    pub fn of(mut samples: Vec<f64>) -> Spread {
        samples.sort_by(f64::total_cmp);
        let at = |fraction: f64| {
            let rank = ((samples.len() as f64 * fraction).ceil() as usize).max(1);
            samples.get(rank - 1).copied().unwrap_or(f64::NAN)
        };
        Spread {
            p50: at(0.5),
            p95: at(0.95),
        }
    }
}

/// One data set at one size, measured.
pub struct Measured {
    pub exact: ExactRow,
    pub graphs: Vec<GraphRow>,
    /// The saved snapshot built with `plan.chosen` (if its ef_construction was measured).
    pub chosen_snapshot: Option<Vec<u8>>,
    pub before_rebuild: Option<BeforeRebuildRow>,
    /// Measured with the chosen ef_construction's build.
    pub app: Option<AppRow>,
}

/// Measures exact search, buffer inserts, and for each ef_construction a graph
/// build, its saved size, loading it, and search at each ef_search. `ids` name
/// the dataset's vectors, row for row.
pub fn measure(
    dataset: &Dataset,
    ids: &[MemoryId],
    plan: &Plan,
    clock: Clock,
    log: Log,
) -> Measured {
    let size = dataset.vectors.len();
    let mut rng = Rng::new(0x1d5 + size as u64);
    let rows = || {
        ids.iter()
            .cloned()
            .zip(dataset.vectors.iter().cloned())
            .map(|(id, vector)| (id, 1 as Version, vector))
            .collect::<Vec<_>>()
    };
    let label = format!("{} {size}", dataset.name);

    let exact_config = IndexConfig {
        exact_below: usize::MAX,
        ..plan.chosen.clone()
    };
    let everything = rows();
    let started = clock();
    let (mut exact, _) = VectorIndex::load(DIMENSION, exact_config, None, everything)
        .expect("benchmark vectors are valid");
    let load_ms = clock() - started;
    let mut truth = Vec::with_capacity(dataset.queries.len());
    let mut times = Vec::with_capacity(dataset.queries.len());
    for query in &dataset.queries {
        let started = clock();
        let hits = exact.search(query, K, &|_| true).expect("a valid query");
        times.push(clock() - started);
        truth.push(hits.into_iter().map(|hit| hit.id).collect::<Vec<_>>());
    }
    let search = Spread::of(times);
    // The scan the app falls back to when it declines a graph, on the same rows.
    let graphless = IndexConfig {
        exact_below: usize::MAX,
        ..plan.chosen.clone()
    };
    let saved = build_snapshot(exact.rebuild_input(), &graphless).to_bytes();
    let scanned_config = IndexConfig {
        exact_below: 0,
        ..plan.chosen.clone()
    };
    let (scanned, _) = VectorIndex::load(DIMENSION, scanned_config, Some(&saved), rows())
        .expect("benchmark vectors are valid");
    let (code_scan, code_recall) = search_against(&scanned, &dataset.queries, &truth, clock);
    drop(scanned);
    let insert_times: Vec<f64> = (0..INSERT_BATCHES)
        .map(|_| {
            let batch: Vec<(MemoryId, Vec<f32>)> = memory_ids(INSERT_BATCH, &mut rng)
                .into_iter()
                .map(|id| (id, rng.unit_vector(DIMENSION)))
                .collect();
            let started = clock();
            for (id, vector) in batch {
                exact.insert(id, 1, &vector).expect("a valid vector");
            }
            (clock() - started) * 1000.0 / INSERT_BATCH as f64
        })
        .collect();
    drop(exact);
    log(&format!(
        "{label}: exact p50 {:.3} ms, load {load_ms:.0} ms; 8-bit scan p50 {:.3} ms, recall@10 {code_recall:.3}",
        search.p50, code_scan.p50
    ));
    let exact = ExactRow {
        data: dataset.name,
        vectors: size,
        search,
        code_scan,
        code_recall,
        load_ms,
        insert_us: Spread::of(insert_times),
    };

    let mut graphs = Vec::new();
    let mut chosen_snapshot = None;
    let mut app = None;
    for &ef_construction in &plan.ef_constructions {
        // A graph whatever the size and whatever it finds, searched with the
        // chosen ef_search unless the sweep below says otherwise.
        let config = IndexConfig {
            exact_below: 0,
            ef_construction,
            min_graph_recall: 0.0,
            ..plan.chosen.clone()
        };
        let (mut index, _) = VectorIndex::load(DIMENSION, config.clone(), None, rows())
            .expect("benchmark vectors are valid");
        let started = clock();
        let input = index.rebuild_input();
        let built_at = clock();
        let built = build_snapshot(input, &config);
        let build_ms = clock() - built_at;
        let recall = built.sampled_recall().expect("a graph was built");
        let snapshot = built.to_bytes();
        let installed_at = clock();
        index.install(built);
        let rebuild_ms = (built_at - started) + build_ms + (clock() - installed_at);
        drop(index);
        let kept = recall >= plan.chosen.min_graph_recall;
        log(&format!(
            "{label}: ef_construction {ef_construction} built in {:.1} s; sampled recall@10 {recall:.3}: the app {} (min_graph_recall {})",
            build_ms / 1000.0,
            if kept { "keeps the graph" } else { "searches exactly instead" },
            plan.chosen.min_graph_recall
        ));
        assert_eq!(
            with_ef_search(&snapshot, config.ef_search_for(size)),
            snapshot,
            "the snapshot layout changed: update with_ef_search"
        );
        for &ef_search in &plan.ef_searches {
            let saved = with_ef_search(&snapshot, ef_search);
            let vectors = rows();
            let started = clock();
            let (index, report) =
                VectorIndex::load(DIMENSION, config.clone(), Some(&saved), vectors)
                    .expect("benchmark vectors are valid");
            let load_ms = clock() - started;
            assert!(
                index.has_graph() && report.from_snapshot == size,
                "the saved graph did not load: the snapshot layout changed, update with_ef_search"
            );
            let (search, recall) = search_against(&index, &dataset.queries, &truth, clock);
            let row = GraphRow {
                data: dataset.name,
                vectors: size,
                ef_construction,
                build_ms,
                rebuild_ms,
                snapshot_bytes: snapshot.len(),
                load_ms,
                ef_search,
                search,
                recall,
            };
            log(&format!(
                "{label}: ef_construction {ef_construction}, ef_search {ef_search}: p50 {:.3} ms, recall@10 {:.3}",
                row.search.p50, row.recall
            ));
            graphs.push(row);
        }
        if ef_construction == plan.chosen.ef_construction {
            let saved = if kept {
                snapshot.clone()
            } else {
                without_graph(&snapshot)
            };
            let started = clock();
            let (index, _) =
                VectorIndex::load(DIMENSION, plan.chosen.clone(), Some(&saved), rows())
                    .expect("benchmark vectors are valid");
            let load_ms = clock() - started;
            let (search, recall) = search_against(&index, &dataset.queries, &truth, clock);
            let method = if size < plan.chosen.exact_below {
                "exact scan"
            } else if index.has_graph() {
                "graph"
            } else {
                "8-bit scan, shortlist re-scored exactly"
            };
            log(&format!(
                "{label}: as the app searches ({method}): p50 {:.3} ms, recall@10 {recall:.3}",
                search.p50
            ));
            app = Some(AppRow {
                data: dataset.name,
                vectors: size,
                method,
                load_ms,
                search,
                recall,
            });
            chosen_snapshot = Some(snapshot);
        }
    }
    let before_rebuild = chosen_snapshot
        .as_deref()
        .map(|snapshot| before_rebuild(dataset, ids, snapshot, plan, clock, &mut rng));
    Measured {
        exact,
        graphs,
        chosen_snapshot,
        before_rebuild,
        app,
    }
}

/// Searches the chosen graph in the worst state [`BeforeRebuildRow`] describes.
fn before_rebuild(
    dataset: &Dataset,
    ids: &[MemoryId],
    snapshot: &[u8],
    plan: &Plan,
    clock: Clock,
    rng: &mut Rng,
) -> BeforeRebuildRow {
    let size = ids.len();
    let config = IndexConfig {
        exact_below: 0,
        ..plan.chosen.clone()
    };
    // Strictly under both thresholds, so `needs_rebuild` is still false.
    let dead = ((plan.chosen.dead_fraction * size as f32) as usize).min(size.saturating_sub(1));
    let edited = dead.min(plan.chosen.rebuild_after.saturating_sub(1));
    let mut order: Vec<usize> = (0..size).collect();
    for position in (1..size).rev() {
        order.swap(position, rng.below(position + 1));
    }
    // The first `edited` of the shuffled rows are re-embedded (a new version, so
    // their snapshot rows are dead and they wait in the buffer); the rest of the
    // first `dead` are deleted.
    let mut version = vec![Some(1 as Version); size];
    for (position, &row) in order.iter().take(dead).enumerate() {
        version[row] = (position < edited).then_some(2);
    }
    let live_rows = || {
        ids.iter()
            .zip(&dataset.vectors)
            .zip(&version)
            .filter_map(|((id, vector), version)| Some((id.clone(), (*version)?, vector.clone())))
            .collect::<Vec<_>>()
    };
    let exact_config = IndexConfig {
        exact_below: usize::MAX,
        ..config.clone()
    };
    let (exact, _) = VectorIndex::load(DIMENSION, exact_config, None, live_rows())
        .expect("benchmark vectors are valid");
    let truth: Vec<Vec<MemoryId>> = dataset
        .queries
        .iter()
        .map(|query| {
            let hits = exact.search(query, K, &|_| true).expect("a valid query");
            hits.into_iter().map(|hit| hit.id).collect()
        })
        .collect();
    drop(exact);
    let (index, report) = VectorIndex::load(DIMENSION, config, Some(snapshot), live_rows())
        .expect("benchmark vectors are valid");
    assert!(
        index.has_graph() && !index.needs_rebuild(),
        "the state measured is one the app keeps without rebuilding"
    );
    let (search, recall) = search_against(&index, &dataset.queries, &truth, clock);
    BeforeRebuildRow {
        data: dataset.name,
        vectors: size,
        dead: report.stale_rows,
        buffered: report.buffered,
        search,
        recall,
    }
}

/// Times `queries` on `index`; recall@K against `truth`, the exact results.
fn search_against(
    index: &VectorIndex,
    queries: &[Vec<f32>],
    truth: &[Vec<MemoryId>],
    clock: Clock,
) -> (Spread, f64) {
    let mut times = Vec::with_capacity(queries.len());
    let mut found = 0;
    for (query, exact_ids) in queries.iter().zip(truth) {
        let started = clock();
        let hits = index.search(query, K, &|_| true).expect("a valid query");
        times.push(clock() - started);
        found += hits
            .iter()
            .filter(|hit| exact_ids.contains(&hit.id))
            .count();
    }
    (Spread::of(times), found as f64 / (K * queries.len()) as f64)
}

/// A snapshot as saved by a build that declined its graph.
fn without_graph(snapshot: &[u8]) -> Vec<u8> {
    let (dimension, ids, versions, _): SavedForm =
        postcard::from_bytes(snapshot).expect("a snapshot this benchmark just saved");
    postcard::to_allocvec(&(dimension, ids, versions, None::<Vec<u8>>))
        .expect("a snapshot serialises")
}

/// postcard writes a struct as its fields in order: a saved snapshot is
/// (dimension, ids, versions, graph bytes).
type SavedForm = (usize, Vec<MemoryId>, Vec<Version>, Option<Vec<u8>>);

/// The saved snapshot `snapshot` with its graph's ef_search set to `ef_search`.
///
/// instant-distance fixes ef_search when it builds a graph, and a 100k graph takes
/// minutes, so the sweep edits the saved form instead of rebuilding per value.
/// An instant-distance 0.6 graph starts with its ef_search ([`measure`] checks
/// that this still holds).
fn with_ef_search(snapshot: &[u8], ef_search: usize) -> Vec<u8> {
    let (dimension, ids, versions, graph): SavedForm =
        postcard::from_bytes(snapshot).expect("a snapshot this benchmark just saved");
    let graph = graph.map(|graph| {
        let (_, rest) =
            postcard::take_from_bytes::<usize>(&graph).expect("a graph starts with ef_search");
        let mut edited = postcard::to_allocvec(&ef_search).expect("a number serialises");
        edited.extend_from_slice(rest);
        edited
    });
    postcard::to_allocvec(&(dimension, ids, versions, graph)).expect("a snapshot serialises")
}

/// Formats the result tables (markdown).
pub fn tables(
    exact: &[ExactRow],
    graphs: &[GraphRow],
    before_rebuild: &[BeforeRebuildRow],
    app: &[AppRow],
    chosen: &IndexConfig,
) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\nAs the app searches: the chosen configuration (exact below {} vectors; above, the graph if \
         its sampled recall@10 is at least {}, otherwise a scan), k = 10, recall against exact search\n\n",
        thousands(chosen.exact_below),
        chosen.min_graph_recall
    ));
    out.push_str("| data | vectors | search | load from snapshot | p50 / p95 | recall@10 |\n");
    out.push_str("|---|---:|---|---:|---:|---:|\n");
    for row in app {
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} ms | {} | {:.3} |\n",
            row.data,
            thousands(row.vectors),
            row.method,
            row.load_ms,
            row.search.cell(),
            row.recall,
        ));
    }
    out.push_str(
        "\nScans of every row, k = 10: exact (the SIMD float dot product) and 8-bit codes with \
         their shortlist re-scored exactly (recall against exact)\n\n",
    );
    out.push_str(
        "| data | vectors | exact p50 / p95 | 8-bit scan p50 / p95 | exact / 8-bit | 8-bit recall@10 | load, no snapshot | buffer insert p50 / p95 (batches of 25) |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in exact {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} | {:.3} | {:.0} ms | {:.1} / {:.1} µs |\n",
            row.data,
            thousands(row.vectors),
            row.search.cell(),
            row.code_scan.cell(),
            row.search.p50 / row.code_scan.p50,
            row.code_recall,
            row.load_ms,
            row.insert_us.p50,
            row.insert_us.p95,
        ));
    }
    out.push_str("\nHNSW (instant-distance, M = 32), k = 10, recall against exact search\n\n");
    out.push_str("| data | vectors | ef_construction | build | rebuild | snapshot | load | ef_search | p50 / p95 | recall@10 |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in graphs {
        out.push_str(&format!(
            "| {} | {} | {} | {:.1} s | {:.1} s | {} | {:.0} ms | {} | {} | {:.3} |\n",
            row.data,
            thousands(row.vectors),
            row.ef_construction,
            row.build_ms / 1000.0,
            row.rebuild_ms / 1000.0,
            megabytes(row.snapshot_bytes),
            row.load_ms,
            row.ef_search,
            row.search.cell(),
            row.recall,
        ));
    }
    out.push_str(&format!(
        "\nThe chosen graph (ef_construction {}, ef_search {} below {} rows, {} from there) just \
         before a rebuild is due: under {:.0}% of its rows dead, under {} vectors buffered\n\n",
        chosen.ef_construction,
        chosen.ef_search,
        chosen.wide_search_from,
        chosen.ef_search_wide,
        chosen.dead_fraction * 100.0,
        chosen.rebuild_after
    ));
    out.push_str("| data | vectors | dead rows | buffered | p50 / p95 | recall@10 |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|\n");
    for row in before_rebuild {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.3} |\n",
            row.data,
            thousands(row.vectors),
            thousands(row.dead),
            thousands(row.buffered),
            row.search.cell(),
            row.recall,
        ));
    }
    out
}

pub fn thousands(value: usize) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Three significant digits or so: 0.0123, 0.456, 12.3.
pub fn milliseconds(value: f64) -> String {
    if value < 0.1 {
        format!("{value:.4}")
    } else if value < 10.0 {
        format!("{value:.3}")
    } else {
        format!("{value:.1}")
    }
}

pub fn megabytes(bytes: usize) -> String {
    format!("{:.2} MB", bytes as f64 / 1_000_000.0)
}

/// Sizes such as `1k,10k,100k` or `5000`.
pub fn parse_sizes(list: &str) -> Result<Vec<usize>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (digits, factor) = match item.strip_suffix(['k', 'K']) {
                Some(digits) => (digits, 1_000),
                None => (item, 1),
            };
            digits
                .parse::<usize>()
                .map(|count| count * factor)
                .map_err(|_| format!("`{item}` is not a size (examples: 1k, 10k, 5000)"))
        })
        .collect()
}

/// A list of numbers such as `16,32,64`.
pub fn parse_list(list: &str) -> Result<Vec<usize>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<usize>()
                .map_err(|_| format!("`{item}` is not a number"))
        })
        .collect()
}
