//! Messages between the page and the background worker.
//!
//! The page sends [`Envelope`]s of [`Request`]; the worker answers with
//! [`WorkerEvent`]s. Every request carries an id so that answers can arrive out of
//! order. The worker announces [`WorkerEvent::Ready`] once its WebAssembly has
//! started: a dedicated worker drops messages that arrive before its handler is
//! installed, so the page holds requests back until then.

use serde::{Deserialize, Serialize};

use crate::core::bank::MemoryFilter;
use crate::core::changes::MemoryChange;
use crate::core::conversation::UsedMemory;
use crate::core::editing::BulkEdit;
use crate::core::index::{IndexConfig, RebuildInput};
use crate::core::listing::{ListPage, ListQuery};
use crate::core::memory::{Kind, Memory, MemoryId, Outcome, Revision};
use crate::core::model_switch::{ModelChoice, SwitchProgress};
use crate::core::retrieve::{Explanation, Features};
use crate::core::timeline::Timeline;
use crate::core::transfer::{ImportMode, ImportSummary};

/// The version of this crate, reported by the worker so the page can tell when a
/// stale worker script (e.g. from an old cache) answers.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A request from the page, tagged with an id chosen by the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: u32,
    pub request: Request,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Asks the worker to describe itself; proves the round trip.
    Ping { text: String },
    /// Loads the embedding model whose files (`model.json`, `model.onnx`,
    /// `tokenizer.json`) are under `base_url` (absolute, ending in `/`).
    LoadModel { base_url: String },
    /// Embeds texts with the loaded model (waits for a load in progress).
    Embed { texts: Vec<String> },
    /// Reports the worker's resource use.
    Diagnostics,
    /// Loads the case bank from IndexedDB (after the model's load settles, so
    /// that vectors of the right model are used; without a model, keywords only).
    OpenBank,
    /// The `k` memories most useful for `text`, among those `filter` allows.
    Search {
        text: String,
        k: usize,
        filter: MemoryFilter,
        #[serde(default)]
        reranking: Reranking,
    },
    /// Applies changes in order, embedding new texts first; each batch is one
    /// transaction. Progress is reported for long lists; `Cancel` stops between
    /// batches (what was committed stays).
    ApplyChanges { changes: Vec<MemoryChange> },
    /// A page of the memory list.
    ListMemories { query: ListQuery },
    /// A memory and its earlier revisions.
    MemoryHistory { id: MemoryId },
    /// Stops the request `request_id` at its next safe point.
    Cancel { request_id: u32 },
    /// These memories were put into a prompt: counts their use.
    MarkUsed { ids: Vec<MemoryId> },
    /// The user's verdict on an answer changed from `previous` to `current`:
    /// the cited memories' records move and the learned reranker trains.
    RecordVerdict {
        used: Vec<UsedMemory>,
        cited: Vec<u32>,
        previous: Option<Outcome>,
        current: Option<Outcome>,
    },
    /// Switches the learned reranker on or off for searches.
    SetLearnedReranker { enabled: bool },
    /// The ids of every memory `query` matches, in its order (its offset and
    /// limit are ignored): "select all" in the memory editor.
    MemoryIds { query: ListQuery },
    /// Applies one action to the memories `ids` as they are stored now, with
    /// progress and Cancel as for `ApplyChanges`; answers with the changes that
    /// undo it.
    EditMemories { ids: Vec<MemoryId>, edit: BulkEdit },
    /// Writes the export file of the whole store (`pool` None) or of one pool.
    Export {
        pool: Option<String>,
        include_trashed: bool,
        /// Include the current model's vectors (the importer then need not embed).
        include_vectors: bool,
    },
    /// Reads an export file and says what importing it would change; writes nothing.
    CheckImport { file: FileBytes, mode: ImportMode },
    /// Imports an export file: checked in full, written in one transaction, then
    /// the bank is reloaded (memories without a usable vector are embedded in
    /// the background).
    Import { file: FileBytes, mode: ImportMode },
    /// The 2-D map of the live memories `filter` allows (at most `max_points`, an
    /// even sample of them when there are more).
    MemoryMap {
        filter: MemoryFilter,
        max_points: usize,
    },
    /// Memories added, changed and last used per period, in local days.
    Timeline {
        utc_offset_minutes: i32,
        max_buckets: usize,
    },
    /// Which model is in use and which one a switch moves to, as stored.
    ModelChoice,
    /// Switches the embedding model to the one under `base_url` (absolute,
    /// ending in `/`), or resumes that switch: loads it beside the current one,
    /// answers once it loaded, then re-embeds every memory in the background
    /// (progress as [`WorkerEvent::Switch`]) while search keeps using the old
    /// vectors. On an error nothing changes.
    SwitchModel { base_url: String },
    /// Stops the switch under way and forgets its vectors; the old model stays.
    CancelSwitch,
    /// Builds a vector-index snapshot (sent to a second worker so that searches
    /// go on while it builds).
    BuildIndex {
        input: IndexInput,
        config: IndexConfig,
    },
}

/// Whether a search reranks with the learned scorer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reranking {
    /// As the user switched it in Settings.
    #[default]
    AsSwitched,
    /// Plain hybrid ranking (the evaluation page's baseline).
    Plain,
    /// The learned scorer, once it has learned enough, whatever the switch says
    /// (the evaluation page compares it before the user turns it on).
    Learned,
}

/// [`RebuildInput`] on the wire: the vectors as little-endian bytes, which cross
/// to a worker as one typed array instead of millions of numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexInput {
    pub dimension: usize,
    pub ids: Vec<MemoryId>,
    pub versions: Vec<u32>,
    #[serde(with = "serde_bytes")]
    pub values: Vec<u8>,
}

impl From<&RebuildInput> for IndexInput {
    fn from(input: &RebuildInput) -> IndexInput {
        IndexInput {
            dimension: input.dimension,
            ids: input.ids.clone(),
            versions: input.versions.clone(),
            values: input.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

impl From<IndexInput> for RebuildInput {
    fn from(input: IndexInput) -> RebuildInput {
        RebuildInput {
            dimension: input.dimension,
            ids: input.ids,
            versions: input.versions,
            values: input
                .values
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        }
    }
}

// Messages are built once and sent: the size of a variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Pong {
        /// The request's text, echoed so the page can check it got its own answer.
        text: String,
        info: WorkerInfo,
    },
    ModelLoaded {
        model: ModelSummary,
    },
    Embeddings {
        /// The model the vectors belong to; stored with each vector.
        model_id: String,
        vectors: Vec<Vec<f32>>,
    },
    Diagnostics {
        /// The size of the worker's WebAssembly memory (model, index, buffers).
        wasm_memory_bytes: u64,
    },
    BankOpened {
        status: BankStatus,
    },
    SearchResults {
        results: Vec<SearchHit>,
        /// Time to embed the query, and to search and rank.
        embed_ms: f64,
        search_ms: f64,
    },
    ChangesApplied {
        outcomes: Vec<ChangeOutcome>,
    },
    MemoryList {
        page: ListPage,
    },
    History {
        memory: Option<Memory>,
        revisions: Vec<Revision>,
    },
    Cancelled,
    /// A request that needs no answer beyond "done".
    Done,
    VerdictRecorded {
        reranker: RerankerStatus,
    },
    /// A built snapshot, in its saved form (`BuiltSnapshot::to_bytes`).
    IndexBuilt {
        #[serde(with = "serde_bytes")]
        snapshot: Vec<u8>,
    },
    MemoryIds {
        ids: Vec<MemoryId>,
    },
    MemoriesEdited {
        outcomes: Vec<ChangeOutcome>,
        /// Applied in order, these take the edited memories back to their former state.
        undo: Vec<MemoryChange>,
    },
    Exported {
        /// The export file (JSON, see `core::transfer`).
        json: String,
        memories: usize,
    },
    ImportChecked {
        summary: ImportSummary,
    },
    Imported {
        summary: ImportSummary,
        status: BankStatus,
    },
    MemoryMap {
        map: MemoryMap,
    },
    Timeline {
        timeline: Timeline,
    },
    ModelChoice {
        choice: ModelChoice,
    },
    /// The new model loaded and the background re-embedding runs.
    SwitchStarted {
        model: ModelSummary,
        progress: SwitchProgress,
    },
}

/// The largest export file the app imports (a store of 100k memories with
/// vectors is about 400 MB; without, about 60 MB).
pub const MAX_IMPORT_BYTES: u64 = 512 * 1024 * 1024;

/// The contents of a file sent to the worker. In the browser it travels as one
/// `Uint8Array` (one copy), not as an array of numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileBytes(pub Vec<u8>);

impl Serialize for FileBytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for FileBytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor;
        impl<'de> serde::de::Visitor<'de> for BytesVisitor {
            type Value = FileBytes;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("the bytes of a file")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<FileBytes, E> {
                Ok(FileBytes(bytes.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<FileBytes, E> {
                Ok(FileBytes(bytes))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut items: A,
            ) -> Result<FileBytes, A::Error> {
                let mut bytes = Vec::with_capacity(items.size_hint().unwrap_or(0));
                while let Some(byte) = items.next_element::<u8>()? {
                    bytes.push(byte);
                }
                Ok(FileBytes(bytes))
            }
        }
        deserializer.deserialize_byte_buf(BytesVisitor)
    }
}

/// The memory map: where each memory's vector lands in two dimensions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MemoryMap {
    pub points: Vec<MapPoint>,
    /// How many memories the map stands for (more than `points` when sampled).
    pub total: usize,
    /// The share of the vectors' variance each axis shows (0 to 1).
    pub explained: [f64; 2],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapPoint {
    pub id: MemoryId,
    pub kind: Kind,
    pub x: f32,
    pub y: f32,
    /// The start of the memory's text, for the point's tooltip.
    pub label: String,
}

/// The learned reranker, as Settings shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RerankerStatus {
    pub enabled: bool,
    /// Whether it has seen enough verdicts to rerank.
    pub ready: bool,
    /// Rated citations seen: helped, did not help, in the prompt but not cited.
    pub helped: u32,
    pub did_not_help: u32,
    pub not_cited: u32,
}

/// A memory found by a search, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub memory: Memory,
    pub explanation: Explanation,
    pub features: Features,
}

/// What happened to one change of an `ApplyChanges` request.
// Messages are built once and sent: the size of a variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ChangeOutcome {
    /// Written; the memory as stored now.
    Saved {
        memory: Memory,
    },
    Purged {
        id: MemoryId,
    },
    /// Not written, and why (in plain words).
    Failed {
        id: MemoryId,
        message: String,
    },
    /// Not attempted: the request was cancelled first.
    Cancelled {
        id: MemoryId,
    },
}

/// The case bank as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BankStatus {
    /// Live memories (not in the trash).
    pub memories: usize,
    pub trashed: usize,
    /// Live memories that have a vector from the current model (the rest are
    /// found by keywords until they are embedded).
    pub embedded: usize,
    /// The model whose vectors are used (`None`: no model, keywords only).
    pub model_id: Option<String>,
    /// Vectors searched exactly since the last index build.
    pub buffered: usize,
    /// Whether an HNSW graph answers searches (large banks).
    pub graph: bool,
    /// Whether the index is being rebuilt in the background.
    pub rebuilding: bool,
    #[serde(default)]
    pub reranker: RerankerStatus,
}

/// A loaded embedding model, as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    /// The folder the model was loaded from (absolute URL).
    #[serde(default)]
    pub base_url: String,
    pub id: String,
    pub name: String,
    pub dimension: usize,
    pub max_length: usize,
    /// From the request to a usable model.
    pub load_ms: f64,
    /// Whether the files came from the browser's cache rather than the network.
    pub from_cache: bool,
}

/// Where loading the embedding model stands; sent whenever it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum ModelStatus {
    Downloading {
        file: String,
        loaded_bytes: u64,
        /// Unknown when the server sends no length.
        total_bytes: Option<u64>,
    },
    /// Checking the files and preparing the model (the slow, silent part).
    Preparing,
    Ready {
        model: ModelSummary,
    },
    Failed {
        message: String,
    },
}

/// Where a switch of the embedding model stands; sent whenever it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum SwitchStatus {
    /// The new model is loading.
    Loading {
        base_url: String,
        status: ModelStatus,
    },
    /// Memories are being embedded with the new model.
    Running {
        model: ModelSummary,
        progress: SwitchProgress,
    },
    /// The new model's vectors replaced the old ones; it is in use.
    Completed { model: ModelSummary },
    /// The switch was cancelled: the old model and its vectors stay.
    Cancelled,
    /// The switch stopped; `message` says why (the old model stays in use).
    Failed { message: String },
}

/// What the worker can do, as reported by the worker itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub version: String,
    /// Whether the worker was compiled with WebAssembly SIMD (fast dot products).
    pub simd128: bool,
}

impl WorkerInfo {
    /// Describes the build that is running this code.
    pub fn of_this_build() -> Self {
        Self {
            version: APP_VERSION.to_owned(),
            simd128: cfg!(target_feature = "simd128"),
        }
    }
}

/// Everything the worker sends to the page.
// Messages are built once and sent: the size of a variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkerEvent {
    /// The worker has started and accepts requests.
    Ready { info: WorkerInfo },
    /// The answer to request `id`.
    Reply { id: u32, reply: Reply },
    /// Request `id` failed; `message` is meant for the user.
    Failed { id: u32, message: String },
    /// The embedding model's loading progressed (not an answer to a request).
    Model { status: ModelStatus },
    /// A switch of the embedding model progressed.
    Switch { status: SwitchStatus },
    /// The case bank changed (counts, index state).
    Bank { status: BankStatus },
    /// Request `id` has done `done` of `total` steps.
    Progress { id: u32, done: u64, total: u64 },
    /// Another tab changed these memories; this tab's bank has been brought up
    /// to date (lists showing them should refresh).
    MemoriesChangedElsewhere { ids: Vec<MemoryId> },
}

/// Answers a ping (the one request that needs no worker state).
pub fn pong(text: &str) -> Reply {
    Reply::Pong {
        text: text.to_owned(),
        info: WorkerInfo::of_this_build(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_is_answered_with_the_same_text_and_this_build() {
        let reply = pong("hello worker");
        assert_eq!(
            reply,
            Reply::Pong {
                text: "hello worker".into(),
                info: WorkerInfo {
                    version: APP_VERSION.into(),
                    simd128: cfg!(target_feature = "simd128"),
                },
            }
        );
    }

    #[test]
    fn index_input_carries_vectors_exactly() {
        let input = RebuildInput {
            dimension: 2,
            ids: vec![MemoryId("a".into()), MemoryId("b".into())],
            versions: vec![1, 3],
            values: vec![0.6, -0.8, f32::MIN_POSITIVE, 1.0],
        };
        let wire = IndexInput::from(&input);
        assert_eq!(wire.values.len(), 16);
        assert_eq!(RebuildInput::from(wire), input);
    }

    #[test]
    fn messages_have_a_stable_tagged_wire_format() {
        // The page and the worker are separate wasm modules; if a cached worker from an
        // older build answers, the tagged format keeps the mismatch detectable.
        let event = WorkerEvent::Failed {
            id: 7,
            message: "no model".into(),
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(json, r#"{"type":"failed","id":7,"message":"no model"}"#);
        let back: WorkerEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event);

        let envelope: Envelope =
            serde_json::from_str(r#"{"id":3,"request":{"type":"ping","text":"x"}}"#).unwrap();
        assert_eq!(envelope.request, Request::Ping { text: "x".into() });
    }

    #[test]
    fn file_bytes_arrive_whole_whatever_their_content() {
        let request = Request::CheckImport {
            file: FileBytes(vec![0xEF, 0xBB, 0xBF, b'{', 0, 255]),
            mode: ImportMode::Replace,
        };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(
            json,
            r#"{"type":"check_import","file":[239,187,191,123,0,255],"mode":"replace"}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), request);
    }
}
