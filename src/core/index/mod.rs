//! The vector index: exact search while the case bank is small, an HNSW graph
//! (instant-distance) once it is large, kept current between rebuilds. Where a
//! graph would miss too many neighbours, a scan of 8-bit codes with its shortlist
//! re-scored exactly (module `codes`) serves large banks instead.
//!
//! instant-distance builds a graph once and cannot insert or delete. So the index
//! is a *snapshot* (a table of vectors, and a graph over it when worth having)
//! plus a *buffer* of vectors added since, searched exactly, plus tombstones for
//! snapshot rows deleted or edited since. When the buffer or the tombstones grow,
//! [`VectorIndex::needs_rebuild`] says so; the rebuild ([`build_snapshot`]) is a
//! pure function of [`RebuildInput`], so it can run in another worker while this
//! index keeps answering, and [`VectorIndex::install`] reconciles what changed in
//! the meantime.
//!
//! Every vector carries a *version* (the memory revision it was computed from), so
//! a snapshot saved earlier can be matched against the vectors stored now: a row
//! whose memory was deleted or re-embedded since is simply dead.

pub mod codes;
mod table;

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use instant_distance::{Hnsw, Search};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::core::memory::MemoryId;
use crate::core::vector::dot;

use codes::CodeTable;
pub use table::{with_table, GraphPoint, VectorTable};

/// The memory revision a vector was computed from.
pub type Version = u32;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IndexError {
    #[error("a vector has {found} dimensions; this index holds {expected}")]
    WrongDimension { expected: usize, found: usize },
    #[error("a vector contains a value that is not a finite number")]
    NotFinite,
    #[error("the saved index snapshot cannot be read: {0}")]
    BadSnapshot(String),
}

/// Tuning, chosen by measurement (see `scripts/bench.sh index`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexConfig {
    /// Below this many live vectors, exact search is used (it is as fast and exact).
    pub exact_below: usize,
    /// A rebuild is due once this many vectors wait in the exact buffer...
    pub rebuild_after: usize,
    /// ...or once this share of the snapshot's rows is dead.
    pub dead_fraction: f32,
    pub ef_construction: usize,
    pub ef_search: usize,
    /// Graphs with at least this many rows search with `ef_search_wide`: on
    /// SciFact-like vectors ef_search 64 keeps recall@10 at 0.99 for 10k rows but
    /// drops to 0.965 at 100k; in Chromium 128 gives 0.979 (0.68 ms p50) and 256
    /// gives 0.991 (1.32 ms), the first above the 0.98 we aim for
    /// (`scripts/bench.sh index`).
    pub wide_search_from: usize,
    pub ef_search_wide: usize,
    /// A built graph is kept only if it finds at least this share of the true 10
    /// nearest neighbours of sampled rows; otherwise every row is scanned (as
    /// 8-bit codes, the shortlist re-scored exactly). Real embeddings (SciFact)
    /// reach 0.99, but vectors without structure do not: on random unit vectors
    /// a graph of 10k rows finds 0.70 and is slower than an exact scan (0.92 ms
    /// against 0.45 ms in Chromium), at 100k 0.48, where the 8-bit scan takes
    /// 1.8 ms at recall 1.0.
    #[serde(default = "default_min_graph_recall")]
    pub min_graph_recall: f32,
    /// instant-distance is always seeded: builds are reproducible.
    pub seed: u64,
}

fn default_min_graph_recall() -> f32 {
    IndexConfig::default().min_graph_recall
}

impl Default for IndexConfig {
    fn default() -> IndexConfig {
        IndexConfig {
            exact_below: 3_000,
            rebuild_after: 1_000,
            dead_fraction: 0.2,
            ef_construction: 64,
            ef_search: 64,
            wide_search_from: 30_000,
            ef_search_wide: 256,
            min_graph_recall: 0.9,
            seed: 0x0ca5_eb00,
        }
    }
}

impl IndexConfig {
    /// The ef_search a graph over `rows` vectors is built with (instant-distance
    /// fixes it at build time).
    pub fn ef_search_for(&self, rows: usize) -> usize {
        if rows >= self.wide_search_from {
            self.ef_search_wide
        } else {
            self.ef_search
        }
    }
}

/// A search result: a memory and its cosine similarity to the query.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: MemoryId,
    pub score: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Snapshot(u32),
    Buffer(u32),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    version: Version,
    place: Place,
}

struct Snapshot {
    table: Arc<VectorTable>,
    ids: Vec<MemoryId>,
    live: Vec<bool>,
    live_count: usize,
    graph: Option<Hnsw<GraphPoint>>,
    /// A graph was built for these rows and not kept (it missed too many true
    /// neighbours): every row is scanned, and no rebuild is due for want of one.
    graph_declined: bool,
    /// With a declined graph, the rows' 8-bit codes: the scan reads them first
    /// and scores only a shortlist exactly.
    codes: Option<CodeTable>,
}

impl Snapshot {
    fn empty(dimension: usize) -> Snapshot {
        Snapshot::new(
            Arc::new(VectorTable::new(dimension)),
            Vec::new(),
            Vec::new(),
            None,
            false,
        )
    }

    fn new(
        table: Arc<VectorTable>,
        ids: Vec<MemoryId>,
        live: Vec<bool>,
        graph: Option<Hnsw<GraphPoint>>,
        graph_declined: bool,
    ) -> Snapshot {
        let codes = graph_declined.then(|| CodeTable::from_table(&table));
        Snapshot {
            live_count: live.iter().filter(|&&alive| alive).count(),
            table,
            ids,
            live,
            graph,
            graph_declined,
            codes,
        }
    }

    fn kill(&mut self, row: u32) {
        if std::mem::replace(&mut self.live[row as usize], false) {
            self.live_count -= 1;
        }
    }
}

/// The vectors a rebuild starts from: every live vector at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RebuildInput {
    pub dimension: usize,
    pub ids: Vec<MemoryId>,
    pub versions: Vec<Version>,
    /// Row after row, `dimension` values each.
    pub values: Vec<f32>,
}

/// What is saved of a snapshot: which (memory, version) each row holds and the
/// graph, but not the vectors (they are in the vectors store already).
#[derive(Debug, Serialize, Deserialize)]
struct SavedSnapshot {
    dimension: usize,
    ids: Vec<MemoryId>,
    versions: Vec<Version>,
    /// The postcard-encoded graph, read against a table built from `ids`.
    graph: Option<Vec<u8>>,
}

/// A built snapshot, ready to install or save.
pub struct BuiltSnapshot {
    input: RebuildInput,
    graph: Option<Hnsw<GraphPoint>>,
    /// The share of sampled rows' true 10 nearest neighbours the built graph
    /// found (`None` if no graph was built).
    sampled_recall: Option<f32>,
}

impl BuiltSnapshot {
    /// The snapshot's saved form (for IndexedDB).
    pub fn to_bytes(&self) -> Vec<u8> {
        let graph = self
            .graph
            .as_ref()
            .map(|graph| postcard::to_allocvec(graph).expect("graph rows always serialise"));
        let saved = SavedSnapshot {
            dimension: self.input.dimension,
            ids: self.input.ids.clone(),
            versions: self.input.versions.clone(),
            graph,
        };
        postcard::to_allocvec(&saved).expect("a snapshot always serialises")
    }

    /// Reads a snapshot saved by [`BuiltSnapshot::to_bytes`] against `input`,
    /// the vectors it was built from (in its row order).
    pub fn from_bytes(bytes: &[u8], input: RebuildInput) -> Result<BuiltSnapshot, IndexError> {
        let saved: SavedSnapshot = postcard::from_bytes(bytes)
            .map_err(|error| IndexError::BadSnapshot(error.to_string()))?;
        if saved.ids != input.ids || saved.versions != input.versions {
            return Err(IndexError::BadSnapshot(
                "its rows do not match the vectors given".into(),
            ));
        }
        let table = Arc::new(VectorTable::from_values(
            input.dimension,
            input.values.clone(),
        ));
        let graph = saved
            .graph
            .map(|bytes| {
                with_table(table, || postcard::from_bytes::<Hnsw<GraphPoint>>(&bytes))
                    .map_err(|error| IndexError::BadSnapshot(error.to_string()))
            })
            .transpose()?;
        Ok(BuiltSnapshot {
            input,
            graph,
            sampled_recall: None,
        })
    }

    pub fn len(&self) -> usize {
        self.input.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.input.ids.is_empty()
    }

    pub fn has_graph(&self) -> bool {
        self.graph.is_some()
    }

    /// See [`IndexConfig::min_graph_recall`]; measured when the graph was built.
    pub fn sampled_recall(&self) -> Option<f32> {
        self.sampled_recall
    }

    /// A graph was due (enough rows) and was not kept.
    fn graph_declined(&self, config: &IndexConfig) -> bool {
        self.graph.is_none() && self.input.ids.len() >= config.exact_below
    }
}

/// Builds a snapshot (and its graph, if it has enough rows to be worth one). Slow
/// for large inputs: run it where it blocks nothing (a separate worker).
pub fn build_snapshot(input: RebuildInput, config: &IndexConfig) -> BuiltSnapshot {
    if input.ids.len() < config.exact_below {
        return BuiltSnapshot {
            input,
            graph: None,
            sampled_recall: None,
        };
    }
    let table = Arc::new(VectorTable::from_values(
        input.dimension,
        input.values.clone(),
    ));
    let points = (0..input.ids.len() as u32)
        .map(|row| GraphPoint::Row {
            table: table.clone(),
            row,
        })
        .collect();
    let graph = instant_distance::Builder::default()
        .seed(config.seed)
        .ef_construction(config.ef_construction)
        .ef_search(config.ef_search_for(input.ids.len()))
        .build_hnsw(points)
        .0;
    let recall = sampled_recall(&graph, &table);
    BuiltSnapshot {
        input,
        graph: (recall >= config.min_graph_recall).then_some(graph),
        sampled_recall: Some(recall),
    }
}

/// Rows whose neighbours are checked after a build (evenly spread, so the same
/// rows for the same input).
const RECALL_SAMPLE: usize = 64;
const RECALL_K: usize = 10;

/// The share of the true [`RECALL_K`] nearest neighbours of sampled rows (the
/// row itself left out) that the graph returns first. Costs 64 exact scans:
/// well under a second at 100k rows, against minutes of building.
fn sampled_recall(graph: &Hnsw<GraphPoint>, table: &VectorTable) -> f32 {
    let rows = table.len();
    if rows < 2 {
        return 1.0;
    }
    let samples = RECALL_SAMPLE.min(rows);
    let k = RECALL_K.min(rows - 1);
    let mut found = 0;
    let mut search = Search::default();
    for sample in 0..samples {
        let row = sample * rows / samples;
        let query = table.row(row);
        let mut exact: Vec<(f32, usize)> = (0..rows)
            .filter(|&other| other != row)
            .map(|other| (dot(query, table.row(other)), other))
            .collect();
        exact.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
        let truth: std::collections::HashSet<usize> =
            exact[..k].iter().map(|&(_, other)| other).collect();
        let point = GraphPoint::Query(Arc::from(query));
        found += graph
            .search(&point, &mut search)
            .filter_map(|item| item.point.row().map(|other| other as usize))
            .filter(|&other| other != row)
            .take(k)
            .filter(|other| truth.contains(other))
            .count();
    }
    found as f32 / (samples * k) as f32
}

/// What a load found, for the status bar and the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadReport {
    /// Vectors found in the saved snapshot, current, with its graph.
    pub from_snapshot: usize,
    /// Vectors not in the snapshot (newer), searched exactly until the next rebuild.
    pub buffered: usize,
    /// Snapshot rows whose memory was deleted or re-embedded since it was saved.
    pub stale_rows: usize,
}

pub struct VectorIndex {
    config: IndexConfig,
    dimension: usize,
    snapshot: Snapshot,
    buffer: VectorTable,
    buffer_ids: Vec<MemoryId>,
    buffer_versions: Vec<Version>,
    entries: HashMap<MemoryId, Entry>,
}

/// The k best (score, item) pairs seen so far; items are memory ids, or snapshot
/// rows for a shortlist.
struct TopK<T> {
    k: usize,
    heap: BinaryHeap<Candidate<T>>,
}

struct Candidate<T> {
    score: f32,
    item: T,
}

impl<T: Ord> PartialEq for Candidate<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T: Ord> Eq for Candidate<T> {}
impl<T: Ord> PartialOrd for Candidate<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T: Ord> Ord for Candidate<T> {
    /// Reversed, so the heap's top is the worst kept candidate; ties by item keep
    /// results deterministic.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.item.cmp(&other.item))
    }
}

impl<T: Ord> TopK<T> {
    fn new(k: usize) -> TopK<T> {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// Whether a candidate with `score` could be kept: scans test this before
    /// the caller's filter, which is dearer than a comparison.
    #[inline]
    fn could_keep(&self, score: f32) -> bool {
        self.heap.len() < self.k || self.heap.peek().is_some_and(|worst| score >= worst.score)
    }

    fn offer(&mut self, score: f32, item: T) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(Candidate { score, item });
        } else if let Some(worst) = self.heap.peek() {
            let candidate = Candidate { score, item };
            if candidate < *worst {
                self.heap.pop();
                self.heap.push(candidate);
            }
        }
    }

    /// Best first.
    fn into_sorted(self) -> Vec<Candidate<T>> {
        let mut candidates = self.heap.into_vec();
        candidates.sort();
        candidates
    }
}

impl TopK<&MemoryId> {
    fn into_hits(self) -> Vec<Hit> {
        self.into_sorted()
            .into_iter()
            .map(|candidate| Hit {
                id: candidate.item.clone(),
                score: candidate.score,
            })
            .collect()
    }
}

/// How many rows the 8-bit scan shortlists per result asked for, plus a floor:
/// the rows then scored exactly. Code errors are ~1e-3 of cosine; on 100k random
/// unit vectors (the closest ranks of any data) a shortlist of 4k + 20 keeps
/// recall@10 at 1.000 against an exact scan (`scripts/bench.sh index`).
const SHORTLIST_PER_RESULT: usize = 4;
const SHORTLIST_FLOOR: usize = 20;

impl VectorIndex {
    pub fn new(dimension: usize, config: IndexConfig) -> VectorIndex {
        VectorIndex {
            config,
            dimension,
            snapshot: Snapshot::empty(dimension),
            buffer: VectorTable::new(dimension),
            buffer_ids: Vec::new(),
            buffer_versions: Vec::new(),
            entries: HashMap::new(),
        }
    }

    /// Restores an index from a saved snapshot (if any) and the current vectors.
    /// Snapshot rows whose (memory, version) is no longer current are dead; current
    /// vectors the snapshot does not hold go to the buffer. A snapshot that cannot
    /// be read is ignored (everything goes to the buffer; a rebuild will follow).
    pub fn load(
        dimension: usize,
        config: IndexConfig,
        saved_snapshot: Option<&[u8]>,
        vectors: impl IntoIterator<Item = (MemoryId, Version, Vec<f32>)>,
    ) -> Result<(VectorIndex, LoadReport), IndexError> {
        let mut current: HashMap<MemoryId, (Version, Vec<f32>)> = HashMap::new();
        for (id, version, vector) in vectors {
            check_vector(dimension, &vector)?;
            current.insert(id, (version, vector));
        }
        let mut index = VectorIndex::new(dimension, config);
        let mut report = LoadReport::default();
        let saved = saved_snapshot
            .and_then(|bytes| postcard::from_bytes::<SavedSnapshot>(bytes).ok())
            .filter(|saved| {
                saved.dimension == dimension && saved.ids.len() == saved.versions.len()
            });
        if let Some(saved) = saved {
            let mut values = Vec::with_capacity(saved.ids.len() * dimension);
            let mut live = Vec::with_capacity(saved.ids.len());
            for (id, version) in saved.ids.iter().zip(&saved.versions) {
                match current.get(id) {
                    Some((current_version, vector)) if current_version == version => {
                        values.extend_from_slice(vector);
                        live.push(true);
                    }
                    // The row stays in the graph (it links others) but is never returned.
                    _ => {
                        values.extend(std::iter::repeat_n(0.0, dimension));
                        live.push(false);
                    }
                }
            }
            let table = Arc::new(VectorTable::from_values(dimension, values));
            // Saved without a graph though large enough for one: the build
            // declined it. (A graph that cannot be read is rebuilt instead.)
            let graph_declined =
                saved.graph.is_none() && saved.ids.len() >= index.config.exact_below;
            let graph = match saved.graph {
                Some(bytes) => with_table(table.clone(), || {
                    postcard::from_bytes::<Hnsw<GraphPoint>>(&bytes).ok()
                }),
                None => None,
            };
            for (row, (id, version)) in saved.ids.iter().zip(&saved.versions).enumerate() {
                if live[row] {
                    current.remove(id);
                    index.entries.insert(
                        id.clone(),
                        Entry {
                            version: *version,
                            place: Place::Snapshot(row as u32),
                        },
                    );
                }
            }
            index.snapshot = Snapshot::new(table, saved.ids, live, graph, graph_declined);
            report.from_snapshot = index.snapshot.live_count;
            report.stale_rows = index.snapshot.ids.len() - index.snapshot.live_count;
        }
        report.buffered = current.len();
        let mut rest: Vec<_> = current.into_iter().collect();
        // Deterministic buffer order whatever the store returned first.
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        for (id, (version, vector)) in rest {
            index.push_to_buffer(id, version, &vector);
        }
        Ok((index, report))
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    pub fn config(&self) -> &IndexConfig {
        &self.config
    }

    /// The number of live vectors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, id: &MemoryId) -> bool {
        self.entries.contains_key(id)
    }

    /// The version of the vector held for `id`.
    pub fn version(&self, id: &MemoryId) -> Option<Version> {
        self.entries.get(id).map(|entry| entry.version)
    }

    /// The vector held for `id`.
    pub fn vector(&self, id: &MemoryId) -> Option<&[f32]> {
        self.entries.get(id).map(|entry| match entry.place {
            Place::Snapshot(row) => self.snapshot.table.row(row as usize),
            Place::Buffer(row) => self.buffer.row(row as usize),
        })
    }

    /// Vectors waiting in the exact buffer.
    pub fn buffered(&self) -> usize {
        self.buffer_ids.len()
    }

    /// Whether the snapshot has a graph (searches use it).
    pub fn has_graph(&self) -> bool {
        self.snapshot.graph.is_some()
    }

    /// Adds or replaces the vector of `id`.
    pub fn insert(
        &mut self,
        id: MemoryId,
        version: Version,
        vector: &[f32],
    ) -> Result<(), IndexError> {
        check_vector(self.dimension, vector)?;
        self.remove(&id);
        self.push_to_buffer(id, version, vector);
        Ok(())
    }

    fn push_to_buffer(&mut self, id: MemoryId, version: Version, vector: &[f32]) {
        let row = self.buffer_ids.len() as u32;
        self.buffer.push(vector);
        self.buffer_ids.push(id.clone());
        self.buffer_versions.push(version);
        self.entries.insert(
            id,
            Entry {
                version,
                place: Place::Buffer(row),
            },
        );
    }

    /// Removes the vector of `id`; returns whether there was one.
    pub fn remove(&mut self, id: &MemoryId) -> bool {
        let Some(entry) = self.entries.remove(id) else {
            return false;
        };
        match entry.place {
            Place::Snapshot(row) => self.snapshot.kill(row),
            Place::Buffer(row) => self.remove_buffer_row(row),
        }
        true
    }

    fn remove_buffer_row(&mut self, row: u32) {
        let last = self.buffer_ids.len() as u32 - 1;
        self.buffer.swap_remove(row as usize);
        self.buffer_ids.swap_remove(row as usize);
        self.buffer_versions.swap_remove(row as usize);
        if row != last {
            let moved = &self.buffer_ids[row as usize];
            if let Some(entry) = self.entries.get_mut(moved) {
                entry.place = Place::Buffer(row);
            }
        }
    }

    /// The `k` vectors most similar to `query` among those `allow` accepts, best
    /// first. Exact below [`IndexConfig::exact_below`] live vectors; above, the
    /// graph answers for the snapshot, falling back to an exact scan when the
    /// filter leaves it fewer than `k` results; without a graph (declined), the
    /// 8-bit scan answers for the snapshot.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        allow: &dyn Fn(&MemoryId) -> bool,
    ) -> Result<Vec<Hit>, IndexError> {
        check_vector(self.dimension, query)?;
        let mut top = TopK::new(k);
        for (row, id) in self.buffer_ids.iter().enumerate() {
            let score = dot(query, self.buffer.row(row));
            if top.could_keep(score) && allow(id) {
                top.offer(score, id);
            }
        }
        let use_graph = self.len() >= self.config.exact_below;
        let graph_hits = match (&self.snapshot.graph, use_graph) {
            (Some(graph), true) => self.search_graph(graph, query, k, allow),
            _ => None,
        };
        let snapshot = &self.snapshot;
        match (graph_hits, &snapshot.codes) {
            (Some(hits), _) => {
                for (score, row) in hits {
                    top.offer(score, &snapshot.ids[row as usize]);
                }
            }
            (None, Some(codes)) => {
                for (row, exact) in self.scan_codes(codes, query, k, allow) {
                    top.offer(exact, &snapshot.ids[row as usize]);
                }
            }
            (None, None) => {
                for (row, id) in snapshot.ids.iter().enumerate() {
                    if !snapshot.live[row] {
                        continue;
                    }
                    let score = dot(query, snapshot.table.row(row));
                    if top.could_keep(score) && allow(id) {
                        top.offer(score, id);
                    }
                }
            }
        }
        Ok(top.into_hits())
    }

    /// Scans the snapshot's codes for a shortlist of live, allowed rows, and
    /// returns them with their exact scores.
    fn scan_codes(
        &self,
        codes: &CodeTable,
        query: &[f32],
        k: usize,
        allow: &dyn Fn(&MemoryId) -> bool,
    ) -> Vec<(u32, f32)> {
        let snapshot = &self.snapshot;
        let coded = codes.code_query(query);
        let mut shortlist = TopK::new(k * SHORTLIST_PER_RESULT + SHORTLIST_FLOOR);
        codes.scan(&coded, |row, score| {
            if shortlist.could_keep(score) && snapshot.live[row] && allow(&snapshot.ids[row]) {
                shortlist.offer(score, row as u32);
            }
        });
        shortlist
            .into_sorted()
            .into_iter()
            .map(|candidate| {
                let row = candidate.item;
                (row, dot(query, snapshot.table.row(row as usize)))
            })
            .collect()
    }

    /// The graph's candidates that are live and allowed; `None` when there are
    /// fewer than `k` of them (then an exact scan must answer).
    fn search_graph(
        &self,
        graph: &Hnsw<GraphPoint>,
        query: &[f32],
        k: usize,
        allow: &dyn Fn(&MemoryId) -> bool,
    ) -> Option<Vec<(f32, u32)>> {
        let mut search = Search::default();
        let point = GraphPoint::Query(Arc::from(query));
        let hits: Vec<(f32, u32)> = graph
            .search(&point, &mut search)
            .filter_map(|item| {
                let row = item.point.row()?;
                (self.snapshot.live[row as usize] && allow(&self.snapshot.ids[row as usize]))
                    .then_some((1.0 - item.distance, row))
            })
            .collect();
        let wanted = k.min(self.snapshot.live_count);
        (hits.len() >= wanted).then_some(hits)
    }

    /// Whether a rebuild would now pay off: the index is large enough for a graph
    /// and has none (and none was declined), or the buffer or the dead rows have grown.
    pub fn needs_rebuild(&self) -> bool {
        if self.len() < self.config.exact_below {
            return false;
        }
        let dead = self.snapshot.ids.len() - self.snapshot.live_count;
        (self.snapshot.graph.is_none() && !self.snapshot.graph_declined)
            || self.buffered() >= self.config.rebuild_after
            || dead as f32 > self.config.dead_fraction * self.snapshot.ids.len() as f32
    }

    /// Every live vector, in id order: the input of [`build_snapshot`].
    pub fn rebuild_input(&self) -> RebuildInput {
        let mut ids: Vec<&MemoryId> = self.entries.keys().collect();
        ids.sort();
        let mut values = Vec::with_capacity(ids.len() * self.dimension);
        let mut versions = Vec::with_capacity(ids.len());
        for id in &ids {
            values.extend_from_slice(self.vector(id).expect("listed ids are live"));
            versions.push(self.entries[*id].version);
        }
        RebuildInput {
            dimension: self.dimension,
            ids: ids.into_iter().cloned().collect(),
            versions,
            values,
        }
    }

    /// Replaces the snapshot with `built`. Vectors that changed or appeared since
    /// its input was taken stay in (or move to) the buffer; deleted ones stay dead.
    pub fn install(&mut self, built: BuiltSnapshot) {
        let graph_declined = built.graph_declined(&self.config);
        let BuiltSnapshot { input, graph, .. } = built;
        let table = Arc::new(VectorTable::from_values(input.dimension, input.values));
        let mut live = vec![false; input.ids.len()];
        let mut moved: Vec<(MemoryId, Version, Place)> = Vec::new();
        for (row, (id, version)) in input.ids.iter().zip(&input.versions).enumerate() {
            if let Some(entry) = self.entries.get(id) {
                if entry.version == *version {
                    live[row] = true;
                    moved.push((id.clone(), *version, entry.place));
                }
            }
        }
        // Everything still in the old snapshot and not carried over must survive in
        // the buffer (it changed after the rebuild's input was taken).
        let old = std::mem::replace(
            &mut self.snapshot,
            Snapshot::new(table, input.ids, live, graph, graph_declined),
        );
        let carried: std::collections::HashSet<&MemoryId> =
            moved.iter().map(|(id, _, _)| id).collect();
        let stranded: Vec<(MemoryId, Version, Vec<f32>)> = self
            .entries
            .iter()
            .filter_map(|(id, entry)| match entry.place {
                Place::Snapshot(row) if !carried.contains(id) => Some((
                    id.clone(),
                    entry.version,
                    old.table.row(row as usize).to_vec(),
                )),
                _ => None,
            })
            .collect();
        // Buffer rows now in the snapshot leave the buffer (highest row first, so
        // swap_remove never moves a row that is still to be removed).
        let mut buffer_rows: Vec<u32> = moved
            .iter()
            .filter_map(|(_, _, place)| match place {
                Place::Buffer(row) => Some(*row),
                Place::Snapshot(_) => None,
            })
            .collect();
        buffer_rows.sort_unstable_by(|a, b| b.cmp(a));
        for row in buffer_rows {
            self.remove_buffer_row(row);
        }
        for (row, id) in self.snapshot.ids.iter().enumerate() {
            if self.snapshot.live[row] {
                if let Some(entry) = self.entries.get_mut(id) {
                    entry.place = Place::Snapshot(row as u32);
                }
            }
        }
        for (id, version, vector) in stranded {
            self.push_to_buffer(id, version, &vector);
        }
    }
}

fn check_vector(dimension: usize, vector: &[f32]) -> Result<(), IndexError> {
    if vector.len() != dimension {
        return Err(IndexError::WrongDimension {
            expected: dimension,
            found: vector.len(),
        });
    }
    if !vector.iter().all(|value| value.is_finite()) {
        return Err(IndexError::NotFinite);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
