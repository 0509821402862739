//! Export and import of the whole store (or of one pool) as one versioned JSON file.
//!
//! Users own their memory: they can take it out of the browser and bring it back,
//! on this device or another. [`export`] writes the file; [`parse_import`] reads
//! one and checks *everything* before the caller writes anything; [`plan_import`]
//! compares it with the store and lists the exact writes and deletes, with an
//! [`ImportSummary`] for the dry run the user confirms. Reading the file and
//! writing IndexedDB belong to the browser glue.
//!
//! # The file, format version 1
//!
//! One JSON object in UTF-8 (a leading byte-order mark is accepted):
//!
//! ```text
//! {"format":"casebook-export","version":1,"exported_at":1767225600000,"app_version":"0.1.0","scope":null,
//! "pools":[
//! {"id":"default","name":"General","description":""}
//! ],
//! "assistants":[ Assistant, … ],
//! "memories":[ Memory, … ],
//! "revisions":[ Revision, … ],
//! "vectors":{"model_id":"all-MiniLM-L6-v2","dimension":384,"items":[
//! {"memory_id":"m0019b2c4e5f0a1b2c3d4e5f6a7b8","version":3,"vector":[0.0123,-0.0456, …]}
//! ]}
//! }
//! ```
//!
//! - `scope` is `null` for the whole store, or `{"pool":"<pool id>"}` for one pool:
//!   the memories in it, their revisions, that pool (plus the pools its assistants
//!   also read, so their names travel too) and the assistants that write into it.
//! - `Pool`, `Assistant`, `Memory` and `Revision` are written in those types' own
//!   serde shapes, so the file is the store record for record. Cases are memories
//!   of kind `case` with a `case` object. Trashed memories (`trashed_at` set) are
//!   in the file only when the export asked for them.
//! - `vectors` is `null` or the embeddings of one model, each tagged with the
//!   memory revision it was computed from. Only vectors of the memory's current
//!   text are written: a revision that keeps the text (pinning, trashing, a move)
//!   keeps the vector, so its revision can be older than the memory's, and then
//!   the file's revision of that version has the memory's text. An import uses a
//!   vector only on those terms; otherwise the memory is embedded again.
//! - Records are sorted by id (revisions by memory id, then revision) and written
//!   one per line: two exports of the same store are byte-identical, files diff
//!   well, and the line in an error message points at one record.
//! - No provider key or profile secret can be in the file: [`export`] is only
//!   given pools, assistants, memories, revisions and vectors.
//!
//! # Reading rules
//!
//! - Unknown fields are ignored anywhere, so a later app can add fields without
//!   breaking this one. A newer `version` is refused, saying which one this app reads.
//! - `format`, `version` and `memories` are required; `pools`, `assistants`,
//!   `revisions`, `vectors`, `exported_at`, `app_version` and `scope` may be left out.
//! - A pool that a memory or assistant uses but the file does not declare is
//!   declared automatically (named after its id, or the usual default pool) and
//!   listed in [`ImportFile::undeclared_pools`]: a hand-written file need not list
//!   pools, nothing in it is lost, and an existing pool of that id is never renamed.
//! - A memory of kind `case` must have case fields and other kinds must not:
//!   which of the two is wrong cannot be guessed, so the file is refused rather
//!   than a memory silently changed.
//! - Limits: ids are 1 to [`MAX_ID_BYTES`] bytes without control characters; each
//!   text field of a memory is at most [`MAX_TEXT_BYTES`]; JSON nests at most
//!   [`MAX_NESTING`] levels; vectors have 1 to [`MAX_VECTOR_DIMENSION`] finite
//!   components and length 1 ± [`NORM_TOLERANCE`]; times are whole milliseconds up
//!   to [`MAX_MILLIS`] (what a JavaScript number holds exactly); the whole file is
//!   at most what the caller allows.
//! - Text is data: HTML or script in a memory is kept byte for byte (the UI
//!   renders memory text escaped).
//!
//! Reading streams record by record: only the typed records are kept, never a
//! JSON tree of the whole file, and every check is linear in the file's size.

use std::cmp::Ordering;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::error::Category;
use serde_json::{Map, Value};
use thiserror::Error;

use crate::core::assistant::{Assistant, Pool, DEFAULT_ASSISTANT};
use crate::core::bank::StoredVector;
use crate::core::index::Version;
use crate::core::memory::{
    ChangedBy, Kind, Memory, MemoryId, Millis, Outcome, Revision, Source, DEFAULT_POOL,
};
use crate::core::protocol::APP_VERSION;
use crate::core::storage::format_bytes;

/// The value of the file's `format` field.
pub const FORMAT: &str = "casebook-export";
/// The format version this app writes and the newest it reads.
pub const FORMAT_VERSION: u64 = 1;
/// The longest id (of a memory, pool, assistant or model), in UTF-8 bytes.
pub const MAX_ID_BYTES: usize = 256;
/// The most text one field of a memory (its text, question, answer or
/// correction) may hold: the same limit as for memories saved in the app.
pub use crate::core::changes::MAX_TEXT_BYTES;
/// How deeply lists and objects may nest. An export nests five levels; the margin
/// leaves room for later fields, and the limit keeps hostile files from
/// exhausting the parser.
pub const MAX_NESTING: usize = 32;
/// The most dimensions a vector may have.
pub const MAX_VECTOR_DIMENSION: usize = 4096;
/// How far a vector's length may be from 1: embeddings are L2-normalised, and
/// rounding to `f32` moves the length by about 1e-6.
pub const NORM_TOLERANCE: f64 = 0.01;
/// The latest time a file may hold: 2^53 − 1 ms, the largest whole number a
/// JavaScript number holds exactly.
pub const MAX_MILLIS: Millis = (1 << 53) - 1;

const OUTCOMES: [Outcome; 3] = [Outcome::Worked, Outcome::DidNotWork, Outcome::Unrated];
const CHANGES: [ChangedBy; 4] = [
    ChangedBy::User,
    ChangedBy::Feedback,
    ChangedBy::Extraction,
    ChangedBy::Import,
];

/// What an export covers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ExportScope {
    /// The whole store.
    #[default]
    Everything,
    /// One pool: its memories and their revisions, the pool, and the assistants
    /// that write into it.
    Pool(String),
}

impl ExportScope {
    fn covers_pool(&self, pool: &str) -> bool {
        match self {
            ExportScope::Everything => true,
            ExportScope::Pool(scope) => scope == pool,
        }
    }

    fn pool(&self) -> Option<&str> {
        match self {
            ExportScope::Everything => None,
            ExportScope::Pool(scope) => Some(scope),
        }
    }
}

/// The store's records, as export reads them and import compares against them.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreContents<'a> {
    pub pools: &'a [Pool],
    pub assistants: &'a [Assistant],
    pub memories: &'a [Memory],
    pub revisions: &'a [Revision],
}

/// The embedding model whose vectors an export includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorModel {
    pub model_id: String,
    pub dimension: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportOptions {
    pub scope: ExportScope,
    /// Include memories in the trash (and their revisions and vectors).
    pub include_trashed: bool,
    /// Include the vectors of this model (`None`: the importer re-embeds).
    pub vectors: Option<VectorModel>,
    /// The time written as `exported_at`.
    pub now: Millis,
}

/// A file that [`parse_import`] has read and checked in full.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportFile {
    pub exported_at: Option<Millis>,
    pub app_version: Option<String>,
    pub scope: ExportScope,
    /// The file's pools, followed by those declared automatically.
    pub pools: Vec<Pool>,
    pub assistants: Vec<Assistant>,
    pub memories: Vec<Memory>,
    pub revisions: Vec<Revision>,
    pub vectors: Option<FileVectors>,
    /// Pools used by memories or assistants but not declared in the file, sorted;
    /// they were added to `pools` and are created only where missing.
    pub undeclared_pools: Vec<String>,
}

/// The vectors of one model in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileVectors {
    pub model_id: String,
    pub dimension: usize,
    pub items: Vec<FileVector>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FileVector {
    pub memory_id: MemoryId,
    /// The memory revision the vector was computed from.
    pub version: Version,
    pub vector: Vec<f32>,
}

/// What is wrong with one value of a file, said after its JSON path.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Problem {
    #[error("is missing")]
    Missing,
    #[error("should be {expected}, not {found}")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    #[error("is empty; an id needs at least one character")]
    EmptyId,
    #[error("is {bytes} bytes long; an id can have at most {max}", max = MAX_ID_BYTES)]
    IdTooLong { bytes: usize },
    #[error("contains a control character (U+{:04X}); ids must be printable", u32::from(*.character))]
    ControlCharacter { character: char },
    #[error("{} is used twice: {first} has it too", quoted(.id))]
    DuplicateId { id: String, first: String },
    #[error("{} is not a kind of memory ({})", quoted(.found), names(&Kind::ALL))]
    UnknownKind { found: String },
    #[error("{} is not an outcome ({})", quoted(.found), names(&OUTCOMES))]
    UnknownOutcome { found: String },
    #[error("{} is not a kind of change ({})", quoted(.found), names(&CHANGES))]
    UnknownChange { found: String },
    #[error("is missing; a memory of kind \"case\" needs its question, answer and outcome")]
    CaseFieldsMissing,
    #[error(
        "only memories of kind \"case\" have case fields, and this one is a {}; change its kind to \"case\" or remove \"case\"",
        quoted(&name_of(.kind))
    )]
    CaseFieldsOnOtherKind { kind: Kind },
    #[error("should be a whole number, not {found}")]
    NotWholeNumber { found: String },
    #[error("should be 0 or more, not {found}")]
    Negative { found: String },
    #[error("is {found}, more than the largest allowed ({max})")]
    TooLarge { found: u64, max: u64 },
    #[error("is 0; revisions count from 1")]
    ZeroRevision,
    #[error(
        "holds {} of text, more than the {} a memory's text may hold",
        size(*.bytes),
        size(MAX_TEXT_BYTES)
    )]
    TextTooLong { bytes: usize },
    #[error("refers to memory {}, which is not in the file", quoted(.id))]
    UnknownMemory { id: String },
    #[error("revision {revision} of memory {} is in the file twice: {first} has it too", quoted(.id))]
    DuplicateRevision {
        id: String,
        revision: u32,
        first: String,
    },
    #[error("gives memory {} a second vector: {first} is one already", quoted(.id))]
    DuplicateVector { id: String, first: String },
    #[error("is {found}; vectors can have 1 to {max} dimensions", max = MAX_VECTOR_DIMENSION)]
    UnsupportedDimension { found: u64 },
    #[error("has {found} numbers, but \"dimension\" says {expected}")]
    WrongLength { found: usize, expected: usize },
    #[error("is too large for a vector component (beyond ±3.4e38)")]
    ComponentOutOfRange,
    #[error("has length {norm:.3}; vectors must be normalised to length 1")]
    NotNormalised { norm: f64 },
    #[error("is {}, but this file holds only pool {}", quoted(.pool), quoted(.scope))]
    OutsideScope { pool: String, scope: String },
    #[error("cannot be read: {0}")]
    Unreadable(String),
}

/// Why a file cannot be imported, in words the user can act on. Nothing has been
/// written when this is returned.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ImportError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {}; files up to {} can be imported", size64(*.size), size64(*.limit))]
    TooLarge { size: u64, limit: u64 },
    #[error("the file is UTF-16 text; save it as UTF-8 and import it again")]
    Utf16,
    #[error("the file is not UTF-8 text (the first byte that is not is at line {line}, column {column}); a Casebook export is UTF-8 JSON")]
    NotUtf8 { line: usize, column: usize },
    #[error("the file is not valid JSON: {reason} at line {line}, column {column}")]
    Syntax {
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("the file ends too early, at line {line}, column {column}; it looks cut off (an interrupted download or copy?)")]
    Truncated { line: usize, column: usize },
    #[error("the file nests lists or objects more than {max} deep (at line {line}, column {column}); a Casebook export nests only a few levels", max = MAX_NESTING)]
    TooDeep { line: usize, column: usize },
    #[error("the file holds {found} instead of a JSON object; a Casebook export is one object, starting with {{")]
    NotAnObject { found: String },
    #[error("this is not a Casebook export: {}", format_clause(.found))]
    NotAnExport { found: Option<String> },
    #[error("the file does not say which version of the export format it uses (no \"version\"); this app reads version {FORMAT_VERSION}")]
    MissingVersion,
    #[error("the file uses version {found} of the export format, which is newer than this app (it reads version {FORMAT_VERSION}); update Casebook, then import again")]
    NewerVersion { found: u64 },
    #[error("the file uses version {found} of the export format, which does not exist; this app reads version {FORMAT_VERSION}")]
    UnsupportedVersion { found: u64 },
    #[error("\"version\" should be a whole number such as {FORMAT_VERSION}, not {found}; this app reads version {FORMAT_VERSION}")]
    BadVersion { found: String },
    #[error("the file has the field {} twice, so which one is meant is unclear", quoted(.name))]
    RepeatedField { name: String },
    #[error("the file has no \"memories\" list; every Casebook export has one (it may be empty)")]
    NoMemories,
    #[error("{path}: {problem}")]
    Invalid { path: String, problem: Problem },
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum ExportError {
    #[error("there is no pool {} to export", quoted(.0))]
    NoSuchPool(String),
    /// The store holds something this app would refuse to import, so the file
    /// would be a backup that cannot be restored.
    #[error("{record} cannot be exported, because the file could not be imported back: {error}")]
    WouldNotImport { record: String, error: ImportError },
    #[error("the export could not be written: {0}")]
    Encoding(String),
}

/// Refuses a file larger than `max_bytes` before it is read: the browser glue
/// calls this with the file's size, [`parse_import`] again with its bytes.
pub fn check_file_size(size: u64, max_bytes: u64) -> Result<(), ImportError> {
    if size > max_bytes {
        return Err(ImportError::TooLarge {
            size,
            limit: max_bytes,
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Export

/// Writes the export file for `store` (see the module docs for the format).
///
/// Everything written is checked with the rules import uses, so a file this
/// returns always imports back; a record that would not is reported instead.
/// Vectors are derived data: those that are stale, of another model or not
/// normalised are left out (the importer re-embeds those memories).
pub fn export(
    store: &StoreContents<'_>,
    vectors: &[StoredVector],
    options: &ExportOptions,
) -> Result<String, ExportError> {
    let scope = &options.scope;
    let mut memories: Vec<&Memory> = store
        .memories
        .iter()
        .filter(|memory| {
            scope.covers_pool(&memory.pool)
                && (options.include_trashed || memory.trashed_at.is_none())
        })
        .collect();
    memories.sort_by(|a, b| a.id.cmp(&b.id));
    let exported: HashMap<&MemoryId, &Memory> = memories
        .iter()
        .map(|memory| (&memory.id, *memory))
        .collect();
    let mut revisions: Vec<&Revision> = store
        .revisions
        .iter()
        .filter(|revision| exported.contains_key(&revision.before.id))
        .collect();
    revisions.sort_by(|a, b| revision_order(a, b));
    let texts = earlier_texts(revisions.iter().copied());
    let mut assistants: Vec<&Assistant> = store
        .assistants
        .iter()
        .filter(|assistant| scope.covers_pool(&assistant.pool))
        .collect();
    assistants.sort_by(|a, b| a.id.cmp(&b.id));
    let mut pools: Vec<&Pool> = match scope.pool() {
        None => store.pools.iter().collect(),
        Some(scope_pool) => {
            if !store.pools.iter().any(|pool| pool.id == scope_pool) {
                return Err(ExportError::NoSuchPool(scope_pool.to_owned()));
            }
            let wanted: HashSet<String> = assistants
                .iter()
                .flat_map(|assistant| assistant.readable_pools())
                .chain([scope_pool.to_owned()])
                .collect();
            store
                .pools
                .iter()
                .filter(|pool| wanted.contains(&pool.id))
                .collect()
        }
    };
    pools.sort_by(|a, b| a.id.cmp(&b.id));

    let records = Records {
        scope,
        pools,
        assistants,
        memories,
        revisions,
    };
    records
        .check()
        .map_err(|rejected| ExportError::WouldNotImport {
            record: rejected.record,
            error: rejected.error,
        })?;
    let vectors = match &options.vectors {
        None => None,
        Some(model) => Some(current_vectors(model, vectors, &exported, &texts)?),
    };
    write_file(options, &records, vectors.as_ref())
        .map_err(|error| ExportError::Encoding(error.to_string()))
}

/// The vectors worth exporting: of `model`, of an exported memory's current
/// text (see [`vector_fits`]), and well formed; one per memory.
fn current_vectors<'a>(
    model: &'a VectorModel,
    vectors: &'a [StoredVector],
    exported: &HashMap<&MemoryId, &Memory>,
    earlier_texts: &EarlierTexts<'_>,
) -> Result<VectorsRecord<'a>, ExportError> {
    let header = Path::Field("vectors");
    let would_not_import = |error: ImportError| ExportError::WouldNotImport {
        record: "the vectors".to_owned(),
        error,
    };
    check_id(&model.model_id)
        .map_err(|problem| would_not_import(header.child("model_id").invalid(problem)))?;
    if !(1..=MAX_VECTOR_DIMENSION).contains(&model.dimension) {
        return Err(would_not_import(header.child("dimension").invalid(
            Problem::UnsupportedDimension {
                found: model.dimension as u64,
            },
        )));
    }
    let mut items: Vec<&StoredVector> = vectors
        .iter()
        .filter(|stored| {
            stored.model_id == model.model_id
                && exported
                    .get(&stored.memory_id)
                    .is_some_and(|memory| vector_fits(memory, stored.version, earlier_texts))
                && check_vector(&stored.vector, model.dimension).is_ok()
        })
        .collect();
    items.sort_by(|a, b| a.memory_id.cmp(&b.memory_id));
    items.dedup_by(|a, b| a.memory_id == b.memory_id);
    Ok(VectorsRecord {
        model_id: &model.model_id,
        dimension: model.dimension,
        items,
    })
}

/// The text of each earlier version of a memory, by (memory, revision).
type EarlierTexts<'a> = HashMap<(&'a MemoryId, u32), &'a str>;

fn earlier_texts<'a>(revisions: impl IntoIterator<Item = &'a Revision>) -> EarlierTexts<'a> {
    revisions
        .into_iter()
        .map(|revision| {
            (
                (&revision.before.id, revision.before.revision),
                revision.before.text.as_str(),
            )
        })
        .collect()
}

/// Whether a vector computed at revision `version` is of `memory`'s current
/// text: it is of the current revision, or the memory had the same text at that
/// revision (the later ones changed only other fields, such as pinning or the
/// trash, which keep the vector).
fn vector_fits(memory: &Memory, version: Version, earlier_texts: &EarlierTexts<'_>) -> bool {
    version == memory.revision
        || (version < memory.revision
            && earlier_texts.get(&(&memory.id, version)) == Some(&memory.text.as_str()))
}

struct VectorsRecord<'a> {
    model_id: &'a str,
    dimension: usize,
    items: Vec<&'a StoredVector>,
}

/// One vector as the file holds it (the model id is said once for all).
#[derive(Serialize)]
struct VectorItem<'a> {
    memory_id: &'a MemoryId,
    version: Version,
    vector: &'a [f32],
}

#[derive(Serialize)]
struct ScopeRecord<'a> {
    pool: &'a str,
}

fn write_file(
    options: &ExportOptions,
    records: &Records<'_>,
    vectors: Option<&VectorsRecord<'_>>,
) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"format\":");
    serde_json::to_writer(&mut out, FORMAT)?;
    out.extend_from_slice(
        format!(
            ",\"version\":{FORMAT_VERSION},\"exported_at\":{},\"app_version\":",
            options.now
        )
        .as_bytes(),
    );
    serde_json::to_writer(&mut out, APP_VERSION)?;
    out.extend_from_slice(b",\"scope\":");
    serde_json::to_writer(
        &mut out,
        &records.scope.pool().map(|pool| ScopeRecord { pool }),
    )?;
    out.push(b',');
    write_list(&mut out, "pools", &records.pools)?;
    out.push(b',');
    write_list(&mut out, "assistants", &records.assistants)?;
    out.push(b',');
    write_list(&mut out, "memories", &records.memories)?;
    out.push(b',');
    write_list(&mut out, "revisions", &records.revisions)?;
    out.extend_from_slice(b",\n\"vectors\":");
    match vectors {
        None => out.extend_from_slice(b"null"),
        Some(vectors) => {
            out.extend_from_slice(b"{\"model_id\":");
            serde_json::to_writer(&mut out, vectors.model_id)?;
            out.extend_from_slice(format!(",\"dimension\":{},", vectors.dimension).as_bytes());
            let items: Vec<VectorItem> = vectors
                .items
                .iter()
                .map(|stored| VectorItem {
                    memory_id: &stored.memory_id,
                    version: stored.version,
                    vector: &stored.vector,
                })
                .collect();
            write_list(&mut out, "items", &items)?;
            out.push(b'}');
        }
    }
    out.extend_from_slice(b"\n}\n");
    String::from_utf8(out).map_err(|error| serde::ser::Error::custom(error.to_string()))
}

/// `"name":[` then one record per line, then `]`.
fn write_list<T: Serialize>(
    out: &mut Vec<u8>,
    name: &str,
    items: &[T],
) -> Result<(), serde_json::Error> {
    out.push(b'\n');
    serde_json::to_writer(&mut *out, name)?;
    out.extend_from_slice(b":[");
    for (position, item) in items.iter().enumerate() {
        out.extend_from_slice(if position == 0 { b"\n" } else { b",\n" });
        serde_json::to_writer(&mut *out, item)?;
    }
    if !items.is_empty() {
        out.push(b'\n');
    }
    out.push(b']');
    Ok(())
}

fn revision_order(a: &Revision, b: &Revision) -> Ordering {
    (&a.before.id, a.before.revision).cmp(&(&b.before.id, b.before.revision))
}

// ---------------------------------------------------------------------------
// Checks shared by export and import

/// The records of a file (or of one about to be written), checked one by one and
/// against each other.
struct Records<'a> {
    scope: &'a ExportScope,
    pools: Vec<&'a Pool>,
    assistants: Vec<&'a Assistant>,
    memories: Vec<&'a Memory>,
    revisions: Vec<&'a Revision>,
}

/// A problem, and the record it is in, in words (for export errors).
struct Rejected {
    record: String,
    error: ImportError,
}

struct Checked<'a> {
    /// Where each memory id is in the memories list.
    memory_positions: HashMap<&'a str, usize>,
    /// Pools used by memories or assistants (or the scope) but not declared.
    undeclared_pools: BTreeSet<&'a str>,
}

impl<'a> Records<'a> {
    fn of_file(file: &'a ImportFile) -> Records<'a> {
        Records {
            scope: &file.scope,
            pools: file.pools.iter().collect(),
            assistants: file.assistants.iter().collect(),
            memories: file.memories.iter().collect(),
            revisions: file.revisions.iter().collect(),
        }
    }

    fn check(&self) -> Result<Checked<'a>, Rejected> {
        let scope_pool = self.scope.pool();
        let mut used_pools: BTreeSet<&'a str> = scope_pool.into_iter().collect();

        let list = Path::Field("pools");
        let mut pool_positions = HashMap::new();
        for (position, pool) in self.pools.iter().enumerate() {
            let path = list.index(position);
            check_id_at(&pool.id, &path.child("id"))
                .and_then(|()| first_use(&mut pool_positions, &pool.id, position, &list, &path))
                .map_err(|error| Rejected {
                    record: format!("pool {}", quoted(&pool.id)),
                    error,
                })?;
        }

        let list = Path::Field("assistants");
        let mut assistant_positions = HashMap::new();
        for (position, assistant) in self.assistants.iter().enumerate() {
            let path = list.index(position);
            check_assistant(assistant, &path, scope_pool)
                .and_then(|()| {
                    first_use(
                        &mut assistant_positions,
                        &assistant.id,
                        position,
                        &list,
                        &path,
                    )
                })
                .map_err(|error| Rejected {
                    record: format!("assistant {}", quoted(&assistant.id)),
                    error,
                })?;
            used_pools.insert(assistant.pool.as_str());
            used_pools.extend(assistant.shared_pools.iter().map(String::as_str));
        }

        let list = Path::Field("memories");
        let mut memory_positions = HashMap::new();
        for (position, memory) in self.memories.iter().enumerate() {
            let path = list.index(position);
            check_memory(memory, &path)
                .and_then(|()| check_in_scope(&memory.pool, scope_pool, &path))
                .and_then(|()| {
                    first_use(&mut memory_positions, &memory.id.0, position, &list, &path)
                })
                .map_err(|error| Rejected {
                    record: format!("memory {}", quoted(&memory.id.0)),
                    error,
                })?;
            used_pools.insert(memory.pool.as_str());
        }

        let list = Path::Field("revisions");
        let mut revision_positions: HashMap<(&str, u32), usize> = HashMap::new();
        for (position, revision) in self.revisions.iter().enumerate() {
            let path = list.index(position);
            let before = &revision.before;
            let record = || {
                format!(
                    "revision {} of memory {}",
                    before.revision,
                    quoted(&before.id.0)
                )
            };
            check_memory(before, &path.child("before"))
                .and_then(|()| check_millis(revision.changed_at, &path.child("changed_at")))
                .map_err(|error| Rejected {
                    record: record(),
                    error,
                })?;
            let error = if !memory_positions.contains_key(before.id.as_str()) {
                Some(
                    path.child("before")
                        .child("id")
                        .invalid(Problem::UnknownMemory {
                            id: before.id.0.clone(),
                        }),
                )
            } else {
                match revision_positions.entry((before.id.as_str(), before.revision)) {
                    Entry::Occupied(first) => {
                        Some(path.child("before").invalid(Problem::DuplicateRevision {
                            id: before.id.0.clone(),
                            revision: before.revision,
                            first: list.index(*first.get()).to_string(),
                        }))
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(position);
                        None
                    }
                }
            };
            if let Some(error) = error {
                return Err(Rejected {
                    record: record(),
                    error,
                });
            }
        }

        let undeclared_pools = used_pools
            .into_iter()
            .filter(|pool| !pool_positions.contains_key(pool))
            .collect();
        Ok(Checked {
            memory_positions,
            undeclared_pools,
        })
    }
}

/// Notes where `id` is first used in `list`; a second use is an error at
/// `path.id`.
fn first_use<'k>(
    seen: &mut HashMap<&'k str, usize>,
    id: &'k str,
    position: usize,
    list: &Path<'_>,
    path: &Path<'_>,
) -> Result<(), ImportError> {
    match seen.entry(id) {
        Entry::Occupied(first) => Err(path.child("id").invalid(Problem::DuplicateId {
            id: id.to_owned(),
            first: list.index(*first.get()).to_string(),
        })),
        Entry::Vacant(slot) => {
            slot.insert(position);
            Ok(())
        }
    }
}

fn check_id(id: &str) -> Result<(), Problem> {
    if id.is_empty() {
        return Err(Problem::EmptyId);
    }
    if id.len() > MAX_ID_BYTES {
        return Err(Problem::IdTooLong { bytes: id.len() });
    }
    match id.chars().find(|character| character.is_control()) {
        Some(character) => Err(Problem::ControlCharacter { character }),
        None => Ok(()),
    }
}

fn check_id_at(id: &str, path: &Path<'_>) -> Result<(), ImportError> {
    check_id(id).map_err(|problem| path.invalid(problem))
}

fn check_text(text: &str, path: &Path<'_>) -> Result<(), ImportError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(path.invalid(Problem::TextTooLong { bytes: text.len() }));
    }
    Ok(())
}

fn check_millis(millis: Millis, path: &Path<'_>) -> Result<(), ImportError> {
    if millis > MAX_MILLIS {
        return Err(path.invalid(Problem::TooLarge {
            found: millis,
            max: MAX_MILLIS,
        }));
    }
    Ok(())
}

fn check_in_scope(pool: &str, scope: Option<&str>, path: &Path<'_>) -> Result<(), ImportError> {
    match scope {
        Some(scope) if scope != pool => Err(path.child("pool").invalid(Problem::OutsideScope {
            pool: pool.to_owned(),
            scope: scope.to_owned(),
        })),
        _ => Ok(()),
    }
}

fn check_assistant(
    assistant: &Assistant,
    path: &Path<'_>,
    scope: Option<&str>,
) -> Result<(), ImportError> {
    check_id_at(&assistant.id, &path.child("id"))?;
    check_id_at(&assistant.pool, &path.child("pool"))?;
    check_in_scope(&assistant.pool, scope, path)?;
    let shared = path.child("shared_pools");
    for (position, pool) in assistant.shared_pools.iter().enumerate() {
        check_id_at(pool, &shared.index(position))?;
    }
    if let Some(profile) = &assistant.profile_id {
        check_id_at(profile, &path.child("profile_id"))?;
    }
    Ok(())
}

fn check_memory(memory: &Memory, path: &Path<'_>) -> Result<(), ImportError> {
    check_id_at(memory.id.as_str(), &path.child("id"))?;
    check_id_at(&memory.pool, &path.child("pool"))?;
    check_text(&memory.text, &path.child("text"))?;
    let case_path = path.child("case");
    match (memory.kind, &memory.case) {
        (Kind::Case, None) => return Err(case_path.invalid(Problem::CaseFieldsMissing)),
        (Kind::Case, Some(case)) => {
            check_text(&case.question, &case_path.child("question"))?;
            check_text(&case.answer, &case_path.child("answer"))?;
            if let Some(correction) = &case.correction {
                check_text(correction, &case_path.child("correction"))?;
            }
        }
        (kind, Some(_)) => return Err(case_path.invalid(Problem::CaseFieldsOnOtherKind { kind })),
        (_, None) => {}
    }
    for (name, millis) in [
        ("created_at", Some(memory.created_at)),
        ("updated_at", Some(memory.updated_at)),
        ("last_used_at", memory.last_used_at),
        ("trashed_at", memory.trashed_at),
    ] {
        if let Some(millis) = millis {
            check_millis(millis, &path.child(name))?;
        }
    }
    if memory.revision == 0 {
        return Err(path.child("revision").invalid(Problem::ZeroRevision));
    }
    Ok(())
}

/// A stored or imported vector must be usable as is: the right length, finite,
/// and normalised (search takes the dot product as the cosine).
fn check_vector(vector: &[f32], dimension: usize) -> Result<(), Problem> {
    if vector.len() != dimension {
        return Err(Problem::WrongLength {
            found: vector.len(),
            expected: dimension,
        });
    }
    let norm = vector
        .iter()
        .map(|component| f64::from(*component).powi(2))
        .sum::<f64>()
        .sqrt();
    if !norm.is_finite() || (norm - 1.0).abs() > NORM_TOLERANCE {
        return Err(Problem::NotNormalised { norm });
    }
    Ok(())
}

/// The vectors of a file: well formed, one per memory, each for a memory in the file.
fn check_file_vectors(
    vectors: &FileVectors,
    memory_positions: &HashMap<&str, usize>,
) -> Result<(), ImportError> {
    let vectors_path = Path::Field("vectors");
    let list = vectors_path.child("items");
    let mut seen = HashMap::new();
    for (position, item) in vectors.items.iter().enumerate() {
        let path = list.index(position);
        let vector_path = path.child("vector");
        if let Some(component) = item.vector.iter().position(|value| !value.is_finite()) {
            return Err(vector_path
                .index(component)
                .invalid(Problem::ComponentOutOfRange));
        }
        check_vector(&item.vector, vectors.dimension)
            .map_err(|problem| vector_path.invalid(problem))?;
        let id = item.memory_id.as_str();
        if !memory_positions.contains_key(id) {
            return Err(path
                .child("memory_id")
                .invalid(Problem::UnknownMemory { id: id.to_owned() }));
        }
        if let Some(first) = seen.insert(id, position) {
            return Err(path.child("memory_id").invalid(Problem::DuplicateVector {
                id: id.to_owned(),
                first: list.index(first).to_string(),
            }));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Import: reading

/// Reads and checks an export file. Everything is validated before this returns
/// `Ok`, so the caller can write the planned changes without further checks.
/// `max_bytes` is the largest file the caller accepts.
pub fn parse_import(bytes: &[u8], max_bytes: u64) -> Result<ImportFile, ImportError> {
    check_file_size(bytes.len() as u64, max_bytes)?;
    let text = decode_text(bytes)?;
    check_nesting(text.as_bytes())?;
    check_header(text)?;
    let mut file = read_body(text)?;
    let checked = Records::of_file(&file)
        .check()
        .map_err(|rejected| rejected.error)?;
    if let Some(exported_at) = file.exported_at {
        check_millis(exported_at, &Path::Field("exported_at"))?;
    }
    if let Some(vectors) = &file.vectors {
        check_file_vectors(vectors, &checked.memory_positions)?;
    }
    let undeclared: Vec<String> = checked
        .undeclared_pools
        .iter()
        .map(|pool| (*pool).to_owned())
        .collect();
    for id in &undeclared {
        file.pools.push(if id == DEFAULT_POOL {
            Pool::default_pool()
        } else {
            Pool {
                id: id.clone(),
                name: id.clone(),
                description: String::new(),
            }
        });
    }
    file.undeclared_pools = undeclared;
    Ok(file)
}

fn decode_text(bytes: &[u8]) -> Result<&str, ImportError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(ImportError::Utf16);
    }
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let (line, column) = position(bytes, error.valid_up_to());
        ImportError::NotUtf8 { line, column }
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ImportError::Empty);
    }
    // UTF-16 without a byte-order mark decodes as "UTF-8" with a zero byte next
    // to every ASCII character; JSON text never holds a raw zero byte.
    if text.bytes().take(4).any(|byte| byte == 0) {
        return Err(ImportError::Utf16);
    }
    Ok(text)
}

/// Line and column (1-based; the column counts bytes, as serde_json does) of a
/// byte offset.
fn position(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = bytes.get(..offset).unwrap_or(bytes);
    let line = 1 + before.iter().filter(|byte| **byte == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |newline| newline + 1);
    (line, before.len() - line_start + 1)
}

/// Refuses nesting deeper than [`MAX_NESTING`] anywhere, including in fields this
/// app ignores (which the parser skips without a depth limit).
fn check_nesting(bytes: &[u8]) -> Result<(), ImportError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, byte) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if *byte == b'\\' {
                escaped = true;
            } else if *byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    let (line, column) = position(bytes, offset);
                    return Err(ImportError::TooDeep { line, column });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn json_error(error: &serde_json::Error) -> ImportError {
    let (line, column) = (error.line(), error.column());
    match error.classify() {
        Category::Eof => ImportError::Truncated { line, column },
        _ => {
            let message = error.to_string();
            let reason = message
                .strip_suffix(&format!(" at line {line} column {column}"))
                .unwrap_or(&message)
                .to_owned();
            ImportError::Syntax {
                line,
                column,
                reason,
            }
        }
    }
}

/// The first problem found while streaming through the file. Visitors record it
/// here and abort the parse with a placeholder error.
#[derive(Default)]
struct Problems {
    first: Option<ImportError>,
}

impl Problems {
    fn fail<E: de::Error>(&mut self, error: ImportError) -> E {
        self.first.get_or_insert(error);
        E::custom("the file has a problem")
    }

    /// The recorded problem, or else what the parser itself reported.
    fn into_error(self, error: &serde_json::Error) -> ImportError {
        self.first.unwrap_or_else(|| json_error(error))
    }
}

/// The first pass: the file is JSON, one object, with no repeated top-level
/// field, of our format and of a version this app reads. It runs before any
/// record is interpreted, so a newer file is refused for its version rather than
/// for a record shape this app does not know.
fn check_header(text: &str) -> Result<(), ImportError> {
    let mut problems = Problems::default();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let header = deserializer
        .deserialize_any(HeaderVisitor {
            problems: &mut problems,
        })
        .and_then(|header| deserializer.end().map(|()| header));
    let header = header.map_err(|error| problems.into_error(&error))?;
    if let Some(name) = header.repeated_field {
        return Err(ImportError::RepeatedField { name });
    }
    match &header.format {
        Some(Value::String(format)) if format == FORMAT => {}
        found => {
            return Err(ImportError::NotAnExport {
                found: found.as_ref().map(describe),
            })
        }
    }
    match &header.version {
        None => Err(ImportError::MissingVersion),
        Some(version) => match version.as_u64() {
            Some(FORMAT_VERSION) => Ok(()),
            Some(found) if found > FORMAT_VERSION => Err(ImportError::NewerVersion { found }),
            Some(found) => Err(ImportError::UnsupportedVersion { found }),
            None => Err(ImportError::BadVersion {
                found: describe(version),
            }),
        },
    }
}

struct Header {
    format: Option<Value>,
    version: Option<Value>,
    repeated_field: Option<String>,
}

struct HeaderVisitor<'c> {
    problems: &'c mut Problems,
}

impl HeaderVisitor<'_> {
    fn wrong_type<E: de::Error>(self, found: String) -> E {
        self.problems.fail(ImportError::NotAnObject { found })
    }
}

/// The `visit_*` methods for JSON scalars, for visitors that accept none: each
/// reports what was found through the visitor's `wrong_type`.
macro_rules! refuse_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
            Err(self.wrong_type(value.to_string()))
        }
        fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
            Err(self.wrong_type(value.to_string()))
        }
        fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
            Err(self.wrong_type(value.to_string()))
        }
        fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
            Err(self.wrong_type(value.to_string()))
        }
        fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
            Err(self.wrong_type(format!("the text {}", quoted(value))))
        }
    };
}

impl<'de> Visitor<'de> for HeaderVisitor<'_> {
    type Value = Header;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a Casebook export object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
        let mut header = Header {
            format: None,
            version: None,
            repeated_field: None,
        };
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => header.format = Some(map.next_value()?),
                "version" => header.version = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            if header.repeated_field.is_none() && !seen.insert(key.clone()) {
                header.repeated_field = Some(key);
            }
        }
        Ok(header)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Header, A::Error> {
        Err(self.wrong_type("a list".to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Header, E> {
        Err(self.wrong_type("null".to_owned()))
    }

    refuse_scalars!();
}

/// The second pass: every record, read one at a time into its type.
fn read_body(text: &str) -> Result<ImportFile, ImportError> {
    let mut problems = Problems::default();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let body = deserializer.deserialize_map(BodyVisitor {
        problems: &mut problems,
    });
    let (file, has_memories) = body.map_err(|error| problems.into_error(&error))?;
    if !has_memories {
        return Err(ImportError::NoMemories);
    }
    Ok(file)
}

struct BodyVisitor<'c> {
    problems: &'c mut Problems,
}

impl<'de> Visitor<'de> for BodyVisitor<'_> {
    /// The file, and whether it had a `memories` list.
    type Value = (ImportFile, bool);

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a Casebook export object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(ImportFile, bool), A::Error> {
        let problems = self.problems;
        let mut file = ImportFile::default();
        let mut has_memories = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "exported_at" => {
                    let value = next_json(&mut map, problems, &Path::Field("exported_at"))?;
                    file.exported_at = json_field(&value, "exported_at")
                        .optional_whole(u64::MAX)
                        .map_err(|error| problems.fail(error))?;
                }
                "app_version" => {
                    let value = next_json(&mut map, problems, &Path::Field("app_version"))?;
                    file.app_version = json_field(&value, "app_version")
                        .optional_text()
                        .map(|text| text.map(str::to_owned))
                        .map_err(|error| problems.fail(error))?;
                }
                "scope" => {
                    let value = next_json(&mut map, problems, &Path::Field("scope"))?;
                    file.scope = read_scope(&value).map_err(|error| problems.fail(error))?;
                }
                "pools" => file.pools = next_list(&mut map, problems, "pools", explain_pool)?,
                "assistants" => {
                    file.assistants =
                        next_list(&mut map, problems, "assistants", explain_assistant)?
                }
                "memories" => {
                    file.memories = next_list(&mut map, problems, "memories", explain_memory)?;
                    has_memories = true;
                }
                "revisions" => {
                    file.revisions = next_list(&mut map, problems, "revisions", explain_revision)?
                }
                "vectors" => {
                    file.vectors = map.next_value_seed(VectorsSeed {
                        problems: &mut *problems,
                    })?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((file, has_memories))
    }
}

fn next_json<'de, A: MapAccess<'de>>(
    map: &mut A,
    problems: &mut Problems,
    path: &Path<'_>,
) -> Result<Value, A::Error> {
    map.next_value::<Value>()
        .map_err(|error| problems.fail(path.invalid(Problem::Unreadable(error.to_string()))))
}

fn next_list<'de, A: MapAccess<'de>, T: DeserializeOwned>(
    map: &mut A,
    problems: &mut Problems,
    name: &'static str,
    explain: Explain,
) -> Result<Vec<T>, A::Error> {
    let path = Path::Field(name);
    map.next_value_seed(ListSeed {
        problems,
        path: &path,
        explain,
        item: PhantomData,
    })
}

fn read_scope(value: &Value) -> Result<ExportScope, ImportError> {
    let path = Path::Field("scope");
    if value.is_null() {
        return Ok(ExportScope::Everything);
    }
    let scope = Object::new(value, &path)?;
    let pool = scope.field("pool").text()?;
    check_id_at(pool, &path.child("pool"))?;
    Ok(ExportScope::Pool(pool.to_owned()))
}

/// Finds out, with its path, why a record did not deserialize. Called only when
/// it did not, so valid files are read at serde's speed.
type Explain = fn(&Value, &Path<'_>) -> Result<(), ImportError>;

/// A JSON list read one record at a time: each element is parsed to a small JSON
/// value, deserialized into its type, and dropped.
struct ListSeed<'c, 'p, T> {
    problems: &'c mut Problems,
    path: &'p Path<'p>,
    explain: Explain,
    item: PhantomData<fn() -> T>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for ListSeed<'_, '_, T> {
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<T> ListSeed<'_, '_, T> {
    fn wrong_type<E: de::Error>(self, found: String) -> E {
        self.problems.fail(self.path.invalid(Problem::WrongType {
            expected: "a list",
            found,
        }))
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for ListSeed<'_, '_, T> {
    type Value = Vec<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::new();
        loop {
            let path = self.path.index(items.len());
            match seq.next_element::<Value>() {
                Ok(Some(value)) => {
                    let item = T::deserialize(&value)
                        .or_else(|error| {
                            (self.explain)(&value, &path)?;
                            Err(path.invalid(Problem::Unreadable(error.to_string())))
                        })
                        .map_err(|error| self.problems.fail(error))?;
                    items.push(item);
                }
                Ok(None) => return Ok(items),
                Err(error) => {
                    return Err(self
                        .problems
                        .fail(path.invalid(Problem::Unreadable(error.to_string()))))
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Vec<T>, A::Error> {
        Err(self.wrong_type("an object".to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
        Err(self.wrong_type("null".to_owned()))
    }

    refuse_scalars!();
}

/// `vectors`: `null`, or an object whose `items` list is read one vector at a time.
struct VectorsSeed<'c> {
    problems: &'c mut Problems,
}

impl<'de> DeserializeSeed<'de> for VectorsSeed<'_> {
    type Value = Option<FileVectors>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl VectorsSeed<'_> {
    fn wrong_type<E: de::Error>(self, found: String) -> E {
        self.problems
            .fail(Path::Field("vectors").invalid(Problem::WrongType {
                expected: "an object or null",
                found,
            }))
    }
}

impl<'de> Visitor<'de> for VectorsSeed<'_> {
    type Value = Option<FileVectors>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let problems = self.problems;
        let path = Path::Field("vectors");
        let (mut model_id, mut dimension, mut items) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "model_id" => {
                    model_id = Some(next_json(&mut map, problems, &path.child("model_id"))?)
                }
                "dimension" => {
                    dimension = Some(next_json(&mut map, problems, &path.child("dimension"))?)
                }
                "items" => {
                    let items_path = path.child("items");
                    items = Some(map.next_value_seed(ListSeed {
                        problems: &mut *problems,
                        path: &items_path,
                        explain: explain_vector_item,
                        item: PhantomData,
                    })?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let model_id = Field {
            value: model_id.as_ref(),
            path: path.child("model_id"),
        };
        let dimension_field = Field {
            value: dimension.as_ref(),
            path: path.child("dimension"),
        };
        let header = model_id.id().and_then(|model_id| {
            let found = dimension_field.whole(u64::MAX)?;
            let dimension = usize::try_from(found)
                .ok()
                .filter(|dimension| (1..=MAX_VECTOR_DIMENSION).contains(dimension))
                .ok_or_else(|| dimension_field.fail(Problem::UnsupportedDimension { found }))?;
            Ok((model_id.to_owned(), dimension))
        });
        let (model_id, dimension) = header.map_err(|error| problems.fail(error))?;
        let items =
            items.ok_or_else(|| problems.fail(path.child("items").invalid(Problem::Missing)))?;
        Ok(Some(FileVectors {
            model_id,
            dimension,
            items,
        }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong_type("a list".to_owned()))
    }

    refuse_scalars!();
}

// ---------------------------------------------------------------------------
// Import: explaining why a record did not deserialize

/// A JSON path such as `memories[12].case.outcome`, built on the stack and
/// rendered only when there is something to report.
#[derive(Debug, Clone, Copy)]
enum Path<'a> {
    Field(&'static str),
    Child(&'a Path<'a>, &'static str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    fn child(&'a self, name: &'static str) -> Path<'a> {
        Path::Child(self, name)
    }

    fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }

    fn invalid(&self, problem: Problem) -> ImportError {
        ImportError::Invalid {
            path: self.to_string(),
            problem,
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Field(name) => formatter.write_str(name),
            Path::Child(parent, name) => write!(formatter, "{parent}.{name}"),
            Path::Index(parent, index) => write!(formatter, "{parent}[{index}]"),
        }
    }
}

/// A JSON object and its path.
struct Object<'v, 'p> {
    fields: &'v Map<String, Value>,
    path: &'p Path<'p>,
}

impl<'v, 'p> Object<'v, 'p> {
    fn new(value: &'v Value, path: &'p Path<'p>) -> Result<Object<'v, 'p>, ImportError> {
        match value {
            Value::Object(fields) => Ok(Object { fields, path }),
            other => Err(path.invalid(wrong_type("an object", other))),
        }
    }

    fn field(&self, name: &'static str) -> Field<'v, 'p> {
        Field {
            value: self.fields.get(name),
            path: self.path.child(name),
        }
    }
}

fn json_field<'v>(value: &'v Value, name: &'static str) -> Field<'v, 'static> {
    Field {
        value: Some(value),
        path: Path::Field(name),
    }
}

/// One field of a JSON object (absent: `None`) and its path. The methods mirror
/// how serde reads the field: required, `Option` (null or absent is `None`), or
/// `#[serde(default)]` (absent is fine, null is not).
struct Field<'v, 'p> {
    value: Option<&'v Value>,
    path: Path<'p>,
}

impl<'v> Field<'v, '_> {
    fn fail(&self, problem: Problem) -> ImportError {
        self.path.invalid(problem)
    }

    fn required(&self) -> Result<&'v Value, ImportError> {
        self.value.ok_or_else(|| self.fail(Problem::Missing))
    }

    fn nullable(&self) -> Option<&'v Value> {
        self.value.filter(|value| !value.is_null())
    }

    fn text(&self) -> Result<&'v str, ImportError> {
        self.as_text(self.required()?)
    }

    fn id(&self) -> Result<&'v str, ImportError> {
        let id = self.text()?;
        check_id(id).map_err(|problem| self.fail(problem))?;
        Ok(id)
    }

    fn optional_text(&self) -> Result<Option<&'v str>, ImportError> {
        self.nullable().map(|value| self.as_text(value)).transpose()
    }

    fn defaulted_text(&self) -> Result<(), ImportError> {
        self.value
            .map_or(Ok(()), |value| self.as_text(value).map(drop))
    }

    fn defaulted_text_list(&self) -> Result<(), ImportError> {
        match self.value {
            None => Ok(()),
            Some(Value::Array(items)) => {
                for (position, item) in items.iter().enumerate() {
                    if !item.is_string() {
                        let path = self.path.index(position);
                        return Err(path.invalid(wrong_type("text", item)));
                    }
                }
                Ok(())
            }
            Some(other) => Err(self.fail(wrong_type("a list of texts", other))),
        }
    }

    fn defaulted_bool(&self) -> Result<(), ImportError> {
        match self.value {
            None | Some(Value::Bool(_)) => Ok(()),
            Some(other) => Err(self.fail(wrong_type("true or false", other))),
        }
    }

    fn whole(&self, max: u64) -> Result<u64, ImportError> {
        self.as_whole(self.required()?, max)
    }

    fn optional_whole(&self, max: u64) -> Result<Option<u64>, ImportError> {
        self.nullable()
            .map(|value| self.as_whole(value, max))
            .transpose()
    }

    fn defaulted_whole(&self, max: u64) -> Result<(), ImportError> {
        self.value
            .map_or(Ok(()), |value| self.as_whole(value, max).map(drop))
    }

    /// A name of one of `T`'s variants; `unknown` says what else was found.
    fn variant<T: DeserializeOwned>(
        &self,
        unknown: fn(String) -> Problem,
    ) -> Result<(), ImportError> {
        let value = self.required()?;
        let name = self.as_text(value)?;
        T::deserialize(value)
            .map(drop)
            .map_err(|_| self.fail(unknown(name.to_owned())))
    }

    /// Any value `T` reads; serde's own message says what is wrong.
    fn decodes_as<T: DeserializeOwned>(&self) -> Result<(), ImportError> {
        T::deserialize(self.required()?)
            .map(drop)
            .map_err(|error| self.fail(Problem::Unreadable(error.to_string())))
    }

    fn as_text(&self, value: &'v Value) -> Result<&'v str, ImportError> {
        value
            .as_str()
            .ok_or_else(|| self.fail(wrong_type("text", value)))
    }

    fn as_whole(&self, value: &Value, max: u64) -> Result<u64, ImportError> {
        let Value::Number(number) = value else {
            return Err(self.fail(wrong_type("a whole number", value)));
        };
        if let Some(whole) = number.as_u64() {
            return if whole <= max {
                Ok(whole)
            } else {
                Err(self.fail(Problem::TooLarge { found: whole, max }))
            };
        }
        let found = number.to_string();
        Err(self.fail(if number.is_i64() {
            Problem::Negative { found }
        } else {
            Problem::NotWholeNumber { found }
        }))
    }
}

fn explain_pool(value: &Value, path: &Path<'_>) -> Result<(), ImportError> {
    let pool = Object::new(value, path)?;
    pool.field("id").text()?;
    pool.field("name").text()?;
    pool.field("description").defaulted_text()
}

fn explain_assistant(value: &Value, path: &Path<'_>) -> Result<(), ImportError> {
    let assistant = Object::new(value, path)?;
    assistant.field("id").text()?;
    assistant.field("name").text()?;
    assistant.field("system_prompt").defaulted_text()?;
    assistant.field("profile_id").optional_text()?;
    assistant.field("pool").text()?;
    assistant.field("shared_pools").defaulted_text_list()
}

fn explain_memory(value: &Value, path: &Path<'_>) -> Result<(), ImportError> {
    let memory = Object::new(value, path)?;
    memory.field("id").text()?;
    memory
        .field("kind")
        .variant::<Kind>(|found| Problem::UnknownKind { found })?;
    memory.field("text").text()?;
    if let Some(case) = memory.field("case").nullable() {
        let case_path = path.child("case");
        let case = Object::new(case, &case_path)?;
        case.field("question").text()?;
        case.field("answer").text()?;
        case.field("outcome")
            .variant::<Outcome>(|found| Problem::UnknownOutcome { found })?;
        case.field("correction").optional_text()?;
    }
    memory.field("source").decodes_as::<Source>()?;
    memory.field("pool").text()?;
    memory.field("pinned").defaulted_bool()?;
    for name in ["created_at", "updated_at"] {
        memory.field(name).whole(u64::MAX)?;
    }
    for name in ["last_used_at", "trashed_at"] {
        memory.field(name).optional_whole(u64::MAX)?;
    }
    for name in ["use_count", "cited_worked", "cited_did_not_work"] {
        memory.field(name).defaulted_whole(u32::MAX.into())?;
    }
    memory.field("revision").whole(u32::MAX.into())?;
    Ok(())
}

fn explain_revision(value: &Value, path: &Path<'_>) -> Result<(), ImportError> {
    let revision = Object::new(value, path)?;
    explain_memory(revision.field("before").required()?, &path.child("before"))?;
    revision
        .field("changed_by")
        .variant::<ChangedBy>(|found| Problem::UnknownChange { found })?;
    revision.field("changed_at").whole(u64::MAX)?;
    Ok(())
}

fn explain_vector_item(value: &Value, path: &Path<'_>) -> Result<(), ImportError> {
    let item = Object::new(value, path)?;
    item.field("memory_id").id()?;
    item.field("version").whole(u32::MAX.into())?;
    let vector = item.field("vector");
    let value = vector.required()?;
    let Value::Array(components) = value else {
        return Err(vector.fail(wrong_type("a list of numbers", value)));
    };
    for (position, component) in components.iter().enumerate() {
        if !component.is_number() {
            let path = vector.path.index(position);
            return Err(path.invalid(wrong_type("a number", component)));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Import: planning

// Serialisable: the worker plans imports and the page shows the dry run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Adds what is new; for a memory in both, the higher revision wins (on a tie,
    /// yours); revisions are united.
    #[default]
    Merge,
    /// The store (within the file's scope) becomes exactly the file's contents.
    /// The default pool and the default assistant are never deleted, so the app
    /// always has an assistant to talk to.
    Replace,
}

/// Identifies a revision: which memory, which revision of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RevisionKey {
    pub memory_id: MemoryId,
    pub revision: u32,
}

impl RevisionKey {
    pub fn of(revision: &Revision) -> RevisionKey {
        RevisionKey {
            memory_id: revision.before.id.clone(),
            revision: revision.before.revision,
        }
    }
}

/// The counts shown before an import is confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImportSummary {
    pub mode: ImportMode,
    pub new_memories: usize,
    /// Merge: the file has a newer revision. Replace: the file's version differs.
    pub updated_memories: usize,
    pub unchanged_memories: usize,
    /// Merge only: yours has a higher revision.
    pub kept_newer: usize,
    /// Merge only: same revision, different content; yours is kept.
    pub kept_same_revision: usize,
    /// Replace only: yours, not in the file.
    pub deleted_memories: usize,
    pub revisions_added: usize,
    pub revisions_deleted: usize,
    pub pools_added: usize,
    pub pools_updated: usize,
    pub pools_deleted: usize,
    pub assistants_added: usize,
    pub assistants_updated: usize,
    pub assistants_deleted: usize,
    /// Memories written with the file's vector.
    pub vectors_kept: usize,
    /// Memories written without a usable vector: they must be embedded.
    pub to_embed: usize,
}

impl fmt::Display for ImportSummary {
    /// E.g. "Memories: 12 new, 3 updated (newer revision in the file), 40
    /// unchanged, 2 kept because yours is newer. Revisions: 5 added. 12 memories
    /// will be embedded (the file has no vectors from your model for them)."
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let updated = match self.mode {
            ImportMode::Merge => "updated (newer revision in the file)",
            ImportMode::Replace => "replaced by the file's version",
        };
        let memories = counts(&[
            (self.new_memories, "new"),
            (self.updated_memories, updated),
            (self.unchanged_memories, "unchanged"),
            (self.kept_newer, "kept because yours is newer"),
            (
                self.kept_same_revision,
                "kept because yours has the same revision",
            ),
            (self.deleted_memories, "deleted (not in the file)"),
        ]);
        if memories.is_empty() {
            formatter.write_str("Memories: none.")?;
        } else {
            write!(formatter, "Memories: {memories}.")?;
        }
        let others: [(&str, &[(usize, &str)]); 3] = [
            (
                "Revisions",
                &[
                    (self.revisions_added, "added"),
                    (self.revisions_deleted, "deleted"),
                ],
            ),
            (
                "Pools",
                &[
                    (self.pools_added, "new"),
                    (self.pools_updated, "updated"),
                    (self.pools_deleted, "deleted"),
                ],
            ),
            (
                "Assistants",
                &[
                    (self.assistants_added, "new"),
                    (self.assistants_updated, "updated"),
                    (self.assistants_deleted, "deleted"),
                ],
            ),
        ];
        for (noun, parts) in others {
            let parts = counts(parts);
            if !parts.is_empty() {
                write!(formatter, " {noun}: {parts}.")?;
            }
        }
        match self.to_embed {
            0 => Ok(()),
            1 => formatter.write_str(
                " 1 memory will be embedded (the file has no vector from your model for it).",
            ),
            count => write!(
                formatter,
                " {count} memories will be embedded (the file has no vectors from your model for them)."
            ),
        }
    }
}

/// "3 new, 1 deleted": the non-zero counts.
fn counts(parts: &[(usize, &str)]) -> String {
    parts
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, label)| format!("{count} {label}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything an import changes. Apply it in one transaction: deletes, then puts.
/// Every list is sorted by id.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportPlan {
    pub summary: ImportSummary,
    pub put_pools: Vec<Pool>,
    pub delete_pools: Vec<String>,
    pub put_assistants: Vec<Assistant>,
    pub delete_assistants: Vec<String>,
    pub put_memories: Vec<Memory>,
    pub delete_memories: Vec<MemoryId>,
    pub put_revisions: Vec<Revision>,
    pub delete_revisions: Vec<RevisionKey>,
    /// The file's vectors for the memories written, when they are of the current
    /// model and of the written revision.
    pub put_vectors: Vec<StoredVector>,
    /// Vectors of deleted memories, and stale vectors of memories rewritten
    /// without a usable vector.
    pub delete_vectors: Vec<MemoryId>,
    /// Memories written without a usable vector: embed them after applying.
    pub to_embed: Vec<MemoryId>,
}

/// What importing `file` into `current` in `mode` does: the summary for the dry
/// run and the exact writes and deletes. `model_id` is the current embedding
/// model (other models' vectors are dropped); `now` dates the revisions that keep
/// the memories a merge overwrites.
pub fn plan_import(
    current: &StoreContents<'_>,
    file: &ImportFile,
    mode: ImportMode,
    model_id: &str,
    now: Millis,
) -> ImportPlan {
    let mut plan = ImportPlan {
        summary: ImportSummary {
            mode,
            ..ImportSummary::default()
        },
        ..ImportPlan::default()
    };
    plan_memories(&mut plan, current, file, mode, model_id, now);
    plan_pools(&mut plan, current, file, mode);
    plan_assistants(&mut plan, current, file, mode);
    plan.summary.vectors_kept = plan.put_vectors.len();
    plan.summary.to_embed = plan.to_embed.len();
    plan.put_memories.sort_by(|a, b| a.id.cmp(&b.id));
    plan.delete_memories.sort();
    plan.put_vectors
        .sort_by(|a, b| a.memory_id.cmp(&b.memory_id));
    plan.delete_vectors.sort();
    plan.delete_vectors.dedup();
    plan.to_embed.sort();
    plan.delete_revisions.sort();
    plan.put_pools.sort_by(|a, b| a.id.cmp(&b.id));
    plan.delete_pools.sort();
    plan.put_assistants.sort_by(|a, b| a.id.cmp(&b.id));
    plan.delete_assistants.sort();
    plan
}

fn plan_memories(
    plan: &mut ImportPlan,
    current: &StoreContents<'_>,
    file: &ImportFile,
    mode: ImportMode,
    model_id: &str,
    now: Millis,
) {
    let summary = &mut plan.summary;
    let current_memories: HashMap<&MemoryId, &Memory> = current
        .memories
        .iter()
        .map(|memory| (&memory.id, memory))
        .collect();
    let current_revisions: HashMap<(&MemoryId, u32), &Revision> = current
        .revisions
        .iter()
        .map(|revision| ((&revision.before.id, revision.before.revision), revision))
        .collect();
    let file_texts = earlier_texts(&file.revisions);
    let file_vectors: HashMap<&MemoryId, &FileVector> = file
        .vectors
        .iter()
        .filter(|vectors| vectors.model_id == model_id)
        .flat_map(|vectors| &vectors.items)
        .map(|item| (&item.memory_id, item))
        .collect();

    // Merge keeps the state a newer file revision overwrites as a revision of its own.
    let mut overwritten: Vec<&Memory> = Vec::new();
    for memory in &file.memories {
        let existing = current_memories.get(&memory.id).copied();
        let write = match existing {
            None => {
                summary.new_memories += 1;
                true
            }
            Some(mine) if mine == memory => {
                summary.unchanged_memories += 1;
                false
            }
            Some(mine) => match (mode, memory.revision.cmp(&mine.revision)) {
                (ImportMode::Replace, _) => {
                    summary.updated_memories += 1;
                    true
                }
                (ImportMode::Merge, Ordering::Greater) => {
                    summary.updated_memories += 1;
                    overwritten.push(mine);
                    true
                }
                (ImportMode::Merge, Ordering::Less) => {
                    summary.kept_newer += 1;
                    false
                }
                (ImportMode::Merge, Ordering::Equal) => {
                    summary.kept_same_revision += 1;
                    false
                }
            },
        };
        if !write {
            continue;
        }
        plan.put_memories.push(memory.clone());
        match file_vectors
            .get(&memory.id)
            .filter(|item| vector_fits(memory, item.version, &file_texts))
        {
            Some(item) => plan.put_vectors.push(StoredVector {
                memory_id: memory.id.clone(),
                model_id: model_id.to_owned(),
                version: item.version,
                vector: item.vector.clone(),
            }),
            None => {
                plan.to_embed.push(memory.id.clone());
                if existing.is_some() {
                    plan.delete_vectors.push(memory.id.clone());
                }
            }
        }
    }

    let mut revision_puts: BTreeMap<RevisionKey, Revision> = BTreeMap::new();
    match mode {
        ImportMode::Merge => {
            for revision in &file.revisions {
                let key = (&revision.before.id, revision.before.revision);
                if !current_revisions.contains_key(&key) {
                    revision_puts.insert(RevisionKey::of(revision), revision.clone());
                }
            }
            // Yours beats the file's record of the same revision, as on a tie.
            for mine in overwritten {
                if !current_revisions.contains_key(&(&mine.id, mine.revision)) {
                    let revision = Revision {
                        before: mine.clone(),
                        changed_by: ChangedBy::Import,
                        changed_at: now,
                    };
                    revision_puts.insert(RevisionKey::of(&revision), revision);
                }
            }
        }
        ImportMode::Replace => {
            let file_ids: HashSet<&MemoryId> =
                file.memories.iter().map(|memory| &memory.id).collect();
            let mut replaced = file_ids.clone();
            for mine in current.memories {
                if file.scope.covers_pool(&mine.pool) && !file_ids.contains(&mine.id) {
                    summary.deleted_memories += 1;
                    plan.delete_memories.push(mine.id.clone());
                    plan.delete_vectors.push(mine.id.clone());
                    replaced.insert(&mine.id);
                }
            }
            let file_revisions: HashSet<(&MemoryId, u32)> = file
                .revisions
                .iter()
                .map(|revision| (&revision.before.id, revision.before.revision))
                .collect();
            for mine in current.revisions {
                let key = (&mine.before.id, mine.before.revision);
                let covered = file.scope == ExportScope::Everything || replaced.contains(&key.0);
                if covered && !file_revisions.contains(&key) {
                    plan.delete_revisions.push(RevisionKey::of(mine));
                }
            }
            for revision in &file.revisions {
                let key = (&revision.before.id, revision.before.revision);
                if current_revisions.get(&key) != Some(&revision) {
                    revision_puts.insert(RevisionKey::of(revision), revision.clone());
                }
            }
        }
    }
    summary.revisions_added = revision_puts.len();
    summary.revisions_deleted = plan.delete_revisions.len();
    plan.put_revisions = revision_puts.into_values().collect();
}

fn plan_pools(
    plan: &mut ImportPlan,
    current: &StoreContents<'_>,
    file: &ImportFile,
    mode: ImportMode,
) {
    let current_pools: HashMap<&str, &Pool> = current
        .pools
        .iter()
        .map(|pool| (pool.id.as_str(), pool))
        .collect();
    let undeclared: HashSet<&str> = file.undeclared_pools.iter().map(String::as_str).collect();
    for pool in &file.pools {
        match current_pools.get(pool.id.as_str()) {
            None => {
                plan.summary.pools_added += 1;
                plan.put_pools.push(pool.clone());
            }
            // A pool the file only uses never renames yours; merge keeps yours.
            Some(mine)
                if *mine == pool
                    || undeclared.contains(pool.id.as_str())
                    || mode == ImportMode::Merge => {}
            Some(_) => {
                plan.summary.pools_updated += 1;
                plan.put_pools.push(pool.clone());
            }
        }
    }
    if mode != ImportMode::Replace || file.scope != ExportScope::Everything {
        return;
    }
    let in_file: HashSet<&str> = file.pools.iter().map(|pool| pool.id.as_str()).collect();
    let assistants_in_file: HashSet<&str> = file
        .assistants
        .iter()
        .map(|assistant| assistant.id.as_str())
        .collect();
    // The default pool, and the pools the default assistant reads if it is kept.
    let mut kept: HashSet<String> = HashSet::from([DEFAULT_POOL.to_owned()]);
    for assistant in current.assistants {
        if assistant.id == DEFAULT_ASSISTANT && !assistants_in_file.contains(assistant.id.as_str())
        {
            kept.extend(assistant.readable_pools());
        }
    }
    for pool in current.pools {
        if !in_file.contains(pool.id.as_str()) && !kept.contains(&pool.id) {
            plan.summary.pools_deleted += 1;
            plan.delete_pools.push(pool.id.clone());
        }
    }
}

fn plan_assistants(
    plan: &mut ImportPlan,
    current: &StoreContents<'_>,
    file: &ImportFile,
    mode: ImportMode,
) {
    let current_assistants: HashMap<&str, &Assistant> = current
        .assistants
        .iter()
        .map(|assistant| (assistant.id.as_str(), assistant))
        .collect();
    for assistant in &file.assistants {
        match current_assistants.get(assistant.id.as_str()) {
            None => {
                plan.summary.assistants_added += 1;
                plan.put_assistants.push(assistant.clone());
            }
            Some(mine) if *mine == assistant || mode == ImportMode::Merge => {}
            Some(_) => {
                plan.summary.assistants_updated += 1;
                plan.put_assistants.push(assistant.clone());
            }
        }
    }
    if mode != ImportMode::Replace {
        return;
    }
    let in_file: HashSet<&str> = file
        .assistants
        .iter()
        .map(|assistant| assistant.id.as_str())
        .collect();
    for assistant in current.assistants {
        if assistant.id != DEFAULT_ASSISTANT
            && file.scope.covers_pool(&assistant.pool)
            && !in_file.contains(assistant.id.as_str())
        {
            plan.summary.assistants_deleted += 1;
            plan.delete_assistants.push(assistant.id.clone());
        }
    }
}

// ---------------------------------------------------------------------------
// Wording helpers

/// A value from the file, quoted and shortened for a message (escaping also keeps
/// control characters out of what the user sees).
fn quoted(text: &str) -> String {
    const SHOWN: usize = 40;
    let mut shown: String = text.chars().take(SHOWN).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("{shown:?}")
}

/// What a JSON value is, for "should be …, not …".
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(value) => value.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => format!("the text {}", quoted(text)),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

fn wrong_type(expected: &'static str, found: &Value) -> Problem {
    Problem::WrongType {
        expected,
        found: describe(found),
    }
}

/// The name a variant has in files (its serde name).
fn name_of<T: Serialize>(variant: &T) -> String {
    match serde_json::to_value(variant) {
        Ok(Value::String(name)) => name,
        _ => String::new(),
    }
}

fn names<T: Serialize>(variants: &[T]) -> String {
    variants.iter().map(name_of).collect::<Vec<_>>().join(", ")
}

fn size(bytes: usize) -> String {
    format_bytes(bytes as f64)
}

fn size64(bytes: u64) -> String {
    format_bytes(bytes as f64)
}

fn format_clause(found: &Option<String>) -> String {
    match found {
        None => {
            format!("it has no \"format\" field (a Casebook export has \"format\": \"{FORMAT}\")")
        }
        Some(found) => format!("its \"format\" is {found}, not \"{FORMAT}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::memory::CaseFields;
    use serde_json::json;

    const LIMIT: u64 = 200_000_000;
    const MODEL: &str = "test-model";
    const T0: Millis = 1_767_225_600_000;

    /// A small valid file: a fact at revision 2 with its revision 1, a failed
    /// case with a correction, and a vector for the fact.
    fn sample() -> Value {
        json!({
            "format": "casebook-export", "version": 1, "exported_at": T0, "app_version": "0.1.0",
            "scope": null,
            "pools": [{"id": "default", "name": "General", "description": ""}],
            "assistants": [{"id": "default", "name": "Assistant", "pool": "default"}],
            "memories": [
                {"id": "m1", "kind": "fact", "text": "The office is in Lyon.", "source": {"type": "manual"},
                 "pool": "default", "created_at": T0, "updated_at": T0 + 5, "revision": 2},
                {"id": "m2", "kind": "case", "text": "How do I restart the VPN?",
                 "case": {"question": "How do I restart the VPN?", "answer": "Run vpn restart.",
                          "outcome": "did_not_work", "correction": "Use systemctl restart wg-quick@wg0."},
                 "source": {"type": "conversation", "conversation_id": "c1"},
                 "pool": "default", "created_at": T0, "updated_at": T0, "revision": 1}
            ],
            "revisions": [
                {"before": {"id": "m1", "kind": "fact", "text": "The office is in Paris.", "source": {"type": "manual"},
                            "pool": "default", "created_at": T0, "updated_at": T0, "revision": 1},
                 "changed_by": "user", "changed_at": T0 + 5}
            ],
            "vectors": {"model_id": MODEL, "dimension": 3,
                        "items": [{"memory_id": "m1", "version": 2, "vector": [0.6, 0.8, 0.0]}]}
        })
    }

    fn parse(file: &Value) -> Result<ImportFile, ImportError> {
        parse_import(file.to_string().as_bytes(), LIMIT)
    }

    /// The message a bad file is refused with.
    fn refusal(file: &Value) -> String {
        match parse(file) {
            Err(error) => error.to_string(),
            Ok(_) => panic!("a bad file was accepted: {file}"),
        }
    }

    fn refusal_of_bytes(bytes: &[u8]) -> ImportError {
        match parse_import(bytes, LIMIT) {
            Err(error) => error,
            Ok(_) => panic!(
                "a bad file was accepted: {}",
                String::from_utf8_lossy(bytes)
            ),
        }
    }

    fn invalid_at(file: &Value) -> (String, Problem) {
        match parse(file) {
            Err(ImportError::Invalid { path, problem }) => (path, problem),
            other => panic!("expected a field problem, got {other:?}"),
        }
    }

    // --- Reading: files that are accepted --------------------------------------

    #[test]
    fn a_valid_file_reads_into_its_records() {
        let file = parse(&sample()).unwrap();
        assert_eq!(file.exported_at, Some(T0));
        assert_eq!(file.scope, ExportScope::Everything);
        assert_eq!(file.memories.len(), 2);
        let case = file.memories[1].case.as_ref().unwrap();
        assert_eq!(case.outcome, Outcome::DidNotWork);
        assert_eq!(file.revisions[0].before.text, "The office is in Paris.");
        let vectors = file.vectors.unwrap();
        assert_eq!((vectors.model_id.as_str(), vectors.dimension), (MODEL, 3));
        assert_eq!(vectors.items[0].vector, [0.6, 0.8, 0.0]);
        assert!(file.undeclared_pools.is_empty());
    }

    #[test]
    fn unknown_fields_are_ignored_everywhere() {
        let mut file = sample();
        file["exported_by"] = json!({"device": "phone", "nested": [[1, 2], {"x": null}]});
        file["memories"][0]["mood"] = json!("cheerful");
        file["memories"][1]["case"]["confidence"] = json!(0.9);
        file["revisions"][0]["before"]["future_field"] = json!([1, 2, 3]);
        file["vectors"]["quantisation"] = json!("none");
        file["vectors"]["items"][0]["norm"] = json!(1.0);
        file["pools"][0]["colour"] = json!("teal");
        let read = parse(&file).unwrap();
        assert_eq!(read, parse(&sample()).unwrap());
    }

    #[test]
    fn a_minimal_hand_written_file_needs_only_format_version_and_memories() {
        let file = json!({"format": "casebook-export", "version": 1, "memories": [
            {"id": "n1", "kind": "note", "text": "Call the plumber", "source": {"type": "manual"},
             "pool": "home", "created_at": 0, "updated_at": 0, "revision": 1}
        ]});
        let read = parse(&file).unwrap();
        assert_eq!(read.undeclared_pools, ["home"]);
        assert_eq!(
            read.pools,
            [Pool {
                id: "home".into(),
                name: "home".into(),
                description: String::new()
            }]
        );
        assert!(read.assistants.is_empty() && read.revisions.is_empty() && read.vectors.is_none());
    }

    #[test]
    fn the_undeclared_default_pool_gets_its_usual_name() {
        let mut file = sample();
        file["pools"] = json!([]);
        assert_eq!(parse(&file).unwrap().pools, [Pool::default_pool()]);
    }

    #[test]
    fn hostile_text_is_data_and_is_kept_byte_for_byte() {
        let hostile = "<script>alert(document.cookie)</script><img src=x onerror=\"alert(1)\"> \
                       ]]></x> {{7*7}} ${7*7} '; DROP TABLE memories; -- \u{202e}evil\u{0000}\u{2028}";
        let mut file = sample();
        file["memories"][0]["text"] = json!(hostile);
        file["memories"][1]["case"]["answer"] = json!(hostile);
        let read = parse(&file).unwrap();
        assert_eq!(read.memories[0].text, hostile);
        assert_eq!(read.memories[1].case.as_ref().unwrap().answer, hostile);
    }

    #[test]
    fn a_byte_order_mark_is_accepted() {
        let mut bytes = "\u{feff}".as_bytes().to_vec();
        bytes.extend(sample().to_string().bytes());
        assert_eq!(
            parse_import(&bytes, LIMIT).unwrap(),
            parse(&sample()).unwrap()
        );
    }

    // --- Reading: files that are refused ---------------------------------------

    #[test]
    fn an_empty_file_is_refused() {
        assert_eq!(refusal_of_bytes(b""), ImportError::Empty);
        assert_eq!(refusal_of_bytes(b" \n\t "), ImportError::Empty);
        assert_eq!(ImportError::Empty.to_string(), "the file is empty");
    }

    #[test]
    fn a_file_over_the_size_limit_is_refused_in_megabytes() {
        let error = parse_import(&[b' '; 2_500_000], 2_000_000).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the file is 2.5 MB; files up to 2.0 MB can be imported"
        );
        assert!(check_file_size(312_400_000, 200_000_000).is_err());
        assert!(check_file_size(200_000_000, 200_000_000).is_ok());
    }

    #[test]
    fn a_file_that_is_not_utf8_is_refused_with_the_position_of_the_bad_byte() {
        let error = refusal_of_bytes(b"{\"format\":\n  \"caf\xe9\"}");
        assert_eq!(error, ImportError::NotUtf8 { line: 2, column: 7 });
        assert!(error.to_string().contains("line 2, column 7"));
    }

    #[test]
    fn utf16_text_is_refused_with_or_without_a_byte_order_mark() {
        let utf16: Vec<u8> = "{\"format\":1}"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(refusal_of_bytes(&utf16), ImportError::Utf16);
        let mut with_mark = vec![0xFF, 0xFE];
        with_mark.extend(&utf16);
        assert_eq!(refusal_of_bytes(&with_mark), ImportError::Utf16);
    }

    #[test]
    fn text_that_is_not_json_is_refused_with_line_and_column() {
        let error = refusal_of_bytes(b"{\n  \"format\": casebook-export\n}");
        let ImportError::Syntax {
            line,
            column,
            reason,
        } = &error
        else {
            panic!("{error:?}");
        };
        assert_eq!((*line, *column), (2, 13));
        assert_eq!(reason, "expected value");
        assert_eq!(
            error.to_string(),
            "the file is not valid JSON: expected value at line 2, column 13"
        );
        assert!(matches!(
            refusal_of_bytes(b"Name,Text\nm1,hello"),
            ImportError::Syntax {
                line: 1,
                column: 1,
                ..
            }
        ));
    }

    #[test]
    fn anything_after_the_object_is_refused() {
        let text = format!("{}\n{{}}", sample());
        assert!(matches!(
            refusal_of_bytes(text.as_bytes()),
            ImportError::Syntax { line: 2, ref reason, .. } if reason == "trailing characters"
        ));
    }

    #[test]
    fn a_truncated_file_is_refused_as_cut_off() {
        let text = sample().to_string();
        let error = refusal_of_bytes(&text.as_bytes()[..text.len() / 2]);
        assert!(
            matches!(error, ImportError::Truncated { line: 1, .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("cut off"));
    }

    #[test]
    fn json_that_is_not_an_object_is_refused() {
        assert_eq!(
            refusal_of_bytes(b"[1, 2, 3]").to_string(),
            "the file holds a list instead of a JSON object; a Casebook export is one object, starting with {"
        );
        assert_eq!(
            refusal_of_bytes(b"\"casebook-export\""),
            ImportError::NotAnObject {
                found: "the text \"casebook-export\"".into()
            }
        );
        assert_eq!(
            refusal_of_bytes(b"42"),
            ImportError::NotAnObject { found: "42".into() }
        );
        assert_eq!(
            refusal_of_bytes(b"null"),
            ImportError::NotAnObject {
                found: "null".into()
            }
        );
    }

    #[test]
    fn a_file_of_another_format_is_refused() {
        let mut file = sample();
        file["format"] = json!("chatgpt-memories");
        assert_eq!(
            refusal(&file),
            "this is not a Casebook export: its \"format\" is the text \"chatgpt-memories\", not \"casebook-export\""
        );
        let unrelated = json!({"name": "package.json", "version": 1, "memories": []});
        assert_eq!(
            parse(&unrelated),
            Err(ImportError::NotAnExport { found: None })
        );
    }

    #[test]
    fn a_missing_version_is_refused_saying_which_version_this_app_reads() {
        let mut file = sample();
        file.as_object_mut().unwrap().remove("version");
        assert_eq!(
            refusal(&file),
            "the file does not say which version of the export format it uses (no \"version\"); this app reads version 1"
        );
    }

    #[test]
    fn a_newer_version_is_refused_before_its_records_are_read() {
        let mut file = sample();
        file["version"] = json!(2);
        // A record shape this app does not know must not be what is reported.
        file["memories"][0]["kind"] = json!("hologram");
        assert_eq!(
            refusal(&file),
            "the file uses version 2 of the export format, which is newer than this app (it reads version 1); update Casebook, then import again"
        );
        file["version"] = json!(0);
        assert_eq!(
            parse(&file),
            Err(ImportError::UnsupportedVersion { found: 0 })
        );
    }

    #[test]
    fn a_version_that_is_not_a_whole_number_is_refused() {
        for (version, found) in [
            (json!(1.5), "1.5"),
            (json!("1"), "the text \"1\""),
            (json!(-1), "-1"),
            (json!(null), "null"),
        ] {
            let mut file = sample();
            file["version"] = version;
            assert_eq!(
                parse(&file),
                Err(ImportError::BadVersion {
                    found: found.into()
                })
            );
        }
    }

    #[test]
    fn a_file_without_a_memories_list_is_refused() {
        let mut file = sample();
        file.as_object_mut().unwrap().remove("memories");
        assert_eq!(parse(&file), Err(ImportError::NoMemories));
        file["memories"] = json!({"m1": {}});
        assert_eq!(refusal(&file), "memories: should be a list, not an object");
        file["memories"] = json!(null);
        assert_eq!(refusal(&file), "memories: should be a list, not null");
    }

    #[test]
    fn a_memory_without_its_id_or_text_is_refused() {
        let mut file = sample();
        file["memories"][1].as_object_mut().unwrap().remove("id");
        assert_eq!(refusal(&file), "memories[1].id: is missing");
        let mut file = sample();
        file["memories"][0].as_object_mut().unwrap().remove("text");
        assert_eq!(refusal(&file), "memories[0].text: is missing");
        file["memories"][0]["text"] = json!(42);
        assert_eq!(refusal(&file), "memories[0].text: should be text, not 42");
    }

    #[test]
    fn an_empty_id_is_refused() {
        let mut file = sample();
        file["memories"][0]["id"] = json!("");
        assert_eq!(
            refusal(&file),
            "memories[0].id: is empty; an id needs at least one character"
        );
        let mut file = sample();
        file["pools"][0]["id"] = json!("");
        assert_eq!(invalid_at(&file), ("pools[0].id".into(), Problem::EmptyId));
    }

    #[test]
    fn ids_with_control_characters_or_too_long_are_refused() {
        let mut file = sample();
        file["memories"][1]["id"] = json!("m2\u{0007}");
        assert_eq!(
            refusal(&file),
            "memories[1].id: contains a control character (U+0007); ids must be printable"
        );
        let mut file = sample();
        file["assistants"][0]["shared_pools"] = json!(["ok", "tab\there"]);
        assert_eq!(
            invalid_at(&file),
            (
                "assistants[0].shared_pools[1]".into(),
                Problem::ControlCharacter { character: '\t' }
            )
        );
        let mut file = sample();
        file["memories"][0]["id"] = json!("m".repeat(MAX_ID_BYTES + 1));
        assert_eq!(
            invalid_at(&file).1,
            Problem::IdTooLong {
                bytes: MAX_ID_BYTES + 1
            }
        );
    }

    #[test]
    fn duplicate_ids_are_refused_naming_both_places() {
        let mut file = sample();
        file["memories"][1]["id"] = json!("m1");
        assert_eq!(
            refusal(&file),
            "memories[1].id: \"m1\" is used twice: memories[0] has it too"
        );
        let mut file = sample();
        let pool = file["pools"][0].clone();
        file["pools"].as_array_mut().unwrap().push(pool);
        assert_eq!(invalid_at(&file).0, "pools[1].id");
        let mut file = sample();
        let assistant = file["assistants"][0].clone();
        file["assistants"].as_array_mut().unwrap().push(assistant);
        assert_eq!(invalid_at(&file).0, "assistants[1].id");
    }

    #[test]
    fn an_unknown_kind_is_refused_listing_the_kinds() {
        let mut file = sample();
        file["memories"][1]["kind"] = json!("recipe");
        assert_eq!(
            refusal(&file),
            "memories[1].kind: \"recipe\" is not a kind of memory (fact, preference, case, correction, document_chunk, note)"
        );
    }

    #[test]
    fn a_case_without_case_fields_is_refused() {
        let mut file = sample();
        file["memories"][1].as_object_mut().unwrap().remove("case");
        assert_eq!(
            refusal(&file),
            "memories[1].case: is missing; a memory of kind \"case\" needs its question, answer and outcome"
        );
        let mut file = sample();
        file["memories"][1]["case"]
            .as_object_mut()
            .unwrap()
            .remove("answer");
        assert_eq!(refusal(&file), "memories[1].case.answer: is missing");
    }

    #[test]
    fn case_fields_on_another_kind_are_refused() {
        let mut file = sample();
        file["memories"][1]["kind"] = json!("note");
        assert_eq!(
            refusal(&file),
            "memories[1].case: only memories of kind \"case\" have case fields, and this one is a \"note\"; change its kind to \"case\" or remove \"case\""
        );
    }

    #[test]
    fn an_unknown_outcome_is_refused() {
        let mut file = sample();
        file["memories"][1]["case"]["outcome"] = json!("meh");
        assert_eq!(
            refusal(&file),
            "memories[1].case.outcome: \"meh\" is not an outcome (worked, did_not_work, unrated)"
        );
    }

    #[test]
    fn negative_fractional_or_textual_timestamps_are_refused() {
        for (field, value, expected) in [
            ("created_at", json!(-5), "memories[0].created_at: should be 0 or more, not -5"),
            ("updated_at", json!(17.5), "memories[0].updated_at: should be a whole number, not 17.5"),
            ("trashed_at", json!("yesterday"), "memories[0].trashed_at: should be a whole number, not the text \"yesterday\""),
            ("created_at", json!(MAX_MILLIS + 1), "memories[0].created_at: is 9007199254740992, more than the largest allowed (9007199254740991)"),
        ] {
            let mut file = sample();
            file["memories"][0][field] = value;
            assert_eq!(refusal(&file), expected);
        }
        let mut file = sample();
        file["revisions"][0]["changed_at"] = json!(-1);
        assert_eq!(invalid_at(&file).0, "revisions[0].changed_at");
        let mut file = sample();
        file["exported_at"] = json!(-1);
        assert_eq!(invalid_at(&file).0, "exported_at");
    }

    #[test]
    fn a_revision_numbered_zero_is_refused() {
        let mut file = sample();
        file["memories"][1]["revision"] = json!(0);
        assert_eq!(
            refusal(&file),
            "memories[1].revision: is 0; revisions count from 1"
        );
    }

    #[test]
    fn text_over_the_size_limit_is_refused() {
        let mut file = sample();
        file["memories"][1]["case"]["correction"] = json!("x".repeat(MAX_TEXT_BYTES + 1));
        assert_eq!(
            refusal(&file),
            "memories[1].case.correction: holds 100.0 kB of text, more than the 100.0 kB a memory's text may hold"
        );
        let mut file = sample();
        file["memories"][0]["text"] = json!("é".repeat(60_000));
        assert_eq!(
            invalid_at(&file),
            (
                "memories[0].text".into(),
                Problem::TextTooLong { bytes: 120_000 }
            )
        );
    }

    #[test]
    fn revisions_of_memories_not_in_the_file_are_refused() {
        let mut file = sample();
        file["revisions"][0]["before"]["id"] = json!("m404");
        assert_eq!(
            refusal(&file),
            "revisions[0].before.id: refers to memory \"m404\", which is not in the file"
        );
    }

    #[test]
    fn the_same_revision_twice_is_refused() {
        let mut file = sample();
        let revision = file["revisions"][0].clone();
        file["revisions"].as_array_mut().unwrap().push(revision);
        assert_eq!(
            refusal(&file),
            "revisions[1].before: revision 1 of memory \"m1\" is in the file twice: revisions[0] has it too"
        );
    }

    #[test]
    fn a_vector_whose_length_disagrees_with_the_dimension_is_refused() {
        let mut file = sample();
        file["vectors"]["items"][0]["vector"] = json!([0.6, 0.8]);
        assert_eq!(
            refusal(&file),
            "vectors.items[0].vector: has 2 numbers, but \"dimension\" says 3"
        );
    }

    #[test]
    fn an_impossible_dimension_is_refused() {
        for dimension in [0, 5000] {
            let mut file = sample();
            file["vectors"]["dimension"] = json!(dimension);
            assert_eq!(
                invalid_at(&file),
                (
                    "vectors.dimension".into(),
                    Problem::UnsupportedDimension { found: dimension }
                )
            );
        }
        let mut file = sample();
        file["vectors"]["dimension"] = json!("384");
        assert_eq!(invalid_at(&file).0, "vectors.dimension");
    }

    #[test]
    fn vector_components_that_are_not_finite_numbers_are_refused() {
        let mut file = sample();
        file["vectors"]["items"][0]["vector"] = json!([0.6, "NaN", 0.0]);
        assert_eq!(
            refusal(&file),
            "vectors.items[0].vector[1]: should be a number, not the text \"NaN\""
        );
        file["vectors"]["items"][0]["vector"] = json!([0.6, 1e39, 0.0]);
        assert_eq!(
            refusal(&file),
            "vectors.items[0].vector[1]: is too large for a vector component (beyond ±3.4e38)"
        );
        let text = sample()
            .to_string()
            .replace("[0.6,0.8,0.0]", "[0.6,1e400,0.0]");
        let error = refusal_of_bytes(text.as_bytes());
        assert!(
            error
                .to_string()
                .starts_with("vectors.items[0]: cannot be read: number out of range"),
            "{error}"
        );
        let text = sample()
            .to_string()
            .replace("[0.6,0.8,0.0]", "[0.6,NaN,0.0]");
        assert!(matches!(
            refusal_of_bytes(text.as_bytes()),
            ImportError::Syntax { .. }
        ));
    }

    #[test]
    fn a_vector_that_is_not_normalised_is_refused() {
        let mut file = sample();
        file["vectors"]["items"][0]["vector"] = json!([3.0, 4.0, 0.0]);
        assert_eq!(
            refusal(&file),
            "vectors.items[0].vector: has length 5.000; vectors must be normalised to length 1"
        );
        file["vectors"]["items"][0]["vector"] = json!([0.0, 0.0, 0.0]);
        assert_eq!(invalid_at(&file).1, Problem::NotNormalised { norm: 0.0 });
    }

    #[test]
    fn a_vector_for_a_memory_not_in_the_file_is_refused() {
        let mut file = sample();
        file["vectors"]["items"][0]["memory_id"] = json!("m9");
        assert_eq!(
            refusal(&file),
            "vectors.items[0].memory_id: refers to memory \"m9\", which is not in the file"
        );
    }

    #[test]
    fn two_vectors_for_one_memory_are_refused() {
        let mut file = sample();
        let item = file["vectors"]["items"][0].clone();
        file["vectors"]["items"].as_array_mut().unwrap().push(item);
        assert_eq!(invalid_at(&file).0, "vectors.items[1].memory_id");
    }

    #[test]
    fn a_vectors_block_without_model_or_items_is_refused() {
        let mut file = sample();
        file["vectors"].as_object_mut().unwrap().remove("model_id");
        assert_eq!(refusal(&file), "vectors.model_id: is missing");
        let mut file = sample();
        file["vectors"].as_object_mut().unwrap().remove("items");
        assert_eq!(refusal(&file), "vectors.items: is missing");
        let mut file = sample();
        file["vectors"] = json!([]);
        assert_eq!(
            refusal(&file),
            "vectors: should be an object or null, not a list"
        );
    }

    #[test]
    fn a_memory_outside_the_files_scope_is_refused() {
        let mut file = sample();
        file["scope"] = json!({"pool": "default"});
        file["memories"][0]["pool"] = json!("work");
        assert_eq!(
            refusal(&file),
            "memories[0].pool: is \"work\", but this file holds only pool \"default\""
        );
    }

    #[test]
    fn deeply_nested_junk_is_refused_even_where_fields_are_ignored() {
        let junk = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let text = sample()
            .to_string()
            .replacen('{', &format!("{{\"junk\":{junk},"), 1);
        let error = refusal_of_bytes(text.as_bytes());
        // `{"junk":` then the root object and 31 lists make 32 levels; the next `[` is one too many.
        assert_eq!(
            error,
            ImportError::TooDeep {
                line: 1,
                column: 40
            }
        );
        // Brackets inside text are data, not nesting.
        let mut file = sample();
        file["memories"][0]["text"] = json!("[".repeat(1000));
        assert!(parse(&file).is_ok());
    }

    #[test]
    fn a_repeated_top_level_field_is_refused() {
        let text =
            sample()
                .to_string()
                .replacen("\"memories\":", "\"memories\":[],\"memories\":", 1);
        assert_eq!(
            refusal_of_bytes(text.as_bytes()).to_string(),
            "the file has the field \"memories\" twice, so which one is meant is unclear"
        );
    }

    #[test]
    fn a_record_that_is_not_an_object_is_refused() {
        let mut file = sample();
        file["memories"][1] = json!("m2");
        assert_eq!(
            refusal(&file),
            "memories[1]: should be an object, not the text \"m2\""
        );
        let mut file = sample();
        file["memories"][0]["source"] = json!({"type": "email"});
        assert!(refusal(&file)
            .starts_with("memories[0].source: cannot be read: unknown variant `email`"));
        let mut file = sample();
        file["revisions"][0]["changed_by"] = json!("robot");
        assert_eq!(
            refusal(&file),
            "revisions[0].changed_by: \"robot\" is not a kind of change (user, feedback, extraction, import)"
        );
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let mut file = sample();
        file["memories"][0]["kind"] = json!("k".repeat(10_000));
        let message = refusal(&file);
        assert!(message.len() < 200, "{message}");
        assert!(message.contains("kkk…\""));
    }

    // --- A generated store -------------------------------------------------------

    /// SplitMix64: a small seeded generator for varied, reproducible stores.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound as u64) as usize
        }

        fn chance(&mut self, percent: u64) -> bool {
            self.next() % 100 < percent
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }

        fn unit_vector(&mut self, dimension: usize) -> Vec<f32> {
            let raw: Vec<f32> = (0..dimension)
                .map(|_| (self.next() % 2001) as f32 / 1000.0 - 1.0)
                .collect();
            let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
            raw.iter().map(|x| x / norm).collect()
        }
    }

    const TEXTS: [&str; 9] = [
        "The office is in Lyon.",
        "Préférence : des réponses courtes, en français.",
        "<script>alert('x')</script><img src=x onerror=alert(1)>",
        "emoji 🧠📚, CJK 记忆, RTL עברית, combining é",
        "quotes \" and backslashes \\ and\nnew lines\tand tabs",
        "zero\u{200b}width, line\u{2028}separator, bell \u{0007}, nul \u{0000}",
        "{\"looks\": [\"like\", \"json\"]} ]]} \"memories\":",
        "",
        "Use `sudo systemctl restart wg-quick@wg0`.",
    ];
    const POOLS: [&str; 3] = [DEFAULT_POOL, "work", "home-ü"];

    #[derive(Debug, Clone, Default, PartialEq)]
    struct Store {
        pools: Vec<Pool>,
        assistants: Vec<Assistant>,
        memories: Vec<Memory>,
        revisions: Vec<Revision>,
        vectors: Vec<StoredVector>,
    }

    impl Store {
        /// Whether memory `id` had its current text at revision `version`.
        fn text_at(&self, id: &MemoryId, version: u32) -> bool {
            let Some(memory) = self.memories.iter().find(|m| &m.id == id) else {
                return false;
            };
            version == memory.revision
                || self.revisions.iter().any(|r| {
                    &r.before.id == id
                        && r.before.revision == version
                        && r.before.text == memory.text
                })
        }

        fn contents(&self) -> StoreContents<'_> {
            StoreContents {
                pools: &self.pools,
                assistants: &self.assistants,
                memories: &self.memories,
                revisions: &self.revisions,
            }
        }

        /// What the browser glue does with a plan, against an in-memory store.
        fn apply(&mut self, plan: &ImportPlan) {
            self.pools
                .retain(|pool| !plan.delete_pools.contains(&pool.id));
            self.assistants
                .retain(|assistant| !plan.delete_assistants.contains(&assistant.id));
            let deleted: HashSet<&MemoryId> = plan.delete_memories.iter().collect();
            self.memories.retain(|memory| !deleted.contains(&memory.id));
            let deleted: HashSet<&RevisionKey> = plan.delete_revisions.iter().collect();
            self.revisions
                .retain(|revision| !deleted.contains(&RevisionKey::of(revision)));
            let deleted: HashSet<&MemoryId> = plan.delete_vectors.iter().collect();
            self.vectors
                .retain(|vector| !deleted.contains(&vector.memory_id));
            upsert(&mut self.pools, &plan.put_pools, |pool| pool.id.clone());
            upsert(&mut self.assistants, &plan.put_assistants, |assistant| {
                assistant.id.clone()
            });
            upsert(&mut self.memories, &plan.put_memories, |memory| {
                memory.id.clone()
            });
            upsert(&mut self.revisions, &plan.put_revisions, RevisionKey::of);
            upsert(&mut self.vectors, &plan.put_vectors, |vector| {
                vector.memory_id.clone()
            });
            self.sort();
        }

        fn sort(&mut self) {
            self.pools.sort_by(|a, b| a.id.cmp(&b.id));
            self.assistants.sort_by(|a, b| a.id.cmp(&b.id));
            self.memories.sort_by(|a, b| a.id.cmp(&b.id));
            self.revisions.sort_by(revision_order);
            self.vectors.sort_by(|a, b| a.memory_id.cmp(&b.memory_id));
        }
    }

    fn upsert<T: Clone, K: Eq + std::hash::Hash>(
        items: &mut Vec<T>,
        puts: &[T],
        key: impl Fn(&T) -> K,
    ) {
        let mut positions: HashMap<K, usize> = items
            .iter()
            .enumerate()
            .map(|(position, item)| (key(item), position))
            .collect();
        for put in puts {
            match positions.get(&key(put)) {
                Some(position) => items[*position] = put.clone(),
                None => {
                    positions.insert(key(put), items.len());
                    items.push(put.clone());
                }
            }
        }
    }

    fn generated_store(seed: u64, memory_count: usize, dimension: usize) -> Store {
        let mut rng = Rng(seed);
        let pools = vec![
            Pool::default_pool(),
            Pool {
                id: "work".into(),
                name: "Work <b>stuff</b>".into(),
                description: "Projects & clients".into(),
            },
            Pool {
                id: "home-ü".into(),
                name: "Home ü".into(),
                description: String::new(),
            },
        ];
        let assistants = vec![
            Assistant {
                shared_pools: vec!["home-ü".into()],
                ..Assistant::default_assistant()
            },
            Assistant {
                id: "coder".into(),
                name: "Coder".into(),
                system_prompt: "Answer in <code>; never run `rm -rf /`.".into(),
                profile_id: Some("openai-work".into()),
                pool: "work".into(),
                shared_pools: vec!["home-ü".into(), DEFAULT_POOL.into()],
            },
        ];
        let mut store = Store {
            pools,
            assistants,
            ..Store::default()
        };
        for position in 0..memory_count {
            let created_at = T0 + position as u64 * 1_000;
            let kind = Kind::ALL[rng.below(Kind::ALL.len())];
            let text = format!("{} #{position}", rng.pick(&TEXTS));
            let source = match rng.below(5) {
                0 => Source::Manual,
                1 => Source::Conversation {
                    conversation_id: format!("c{}", rng.below(50)),
                    message_id: rng.chance(50).then(|| format!("msg{}", rng.below(9))),
                },
                2 => Source::Extraction {
                    conversation_id: "c7".into(),
                },
                3 => Source::Document {
                    document_id: "handbook.pdf".into(),
                    chunk_index: rng.below(300) as u32,
                },
                _ => Source::Import {
                    file_name: "casebook-2025.json".into(),
                },
            };
            let mut memory = Memory::new(
                MemoryId::new(created_at, rng.next()),
                kind,
                text,
                source,
                created_at,
            );
            if kind == Kind::Case {
                memory.case = Some(CaseFields {
                    question: format!("{}?", rng.pick(&TEXTS)),
                    answer: rng.pick(&TEXTS).to_owned(),
                    outcome: OUTCOMES[rng.below(OUTCOMES.len())],
                    correction: rng.chance(50).then(|| rng.pick(&TEXTS).to_owned()),
                });
            }
            memory.pool = rng.pick(&POOLS).to_owned();
            memory.pinned = rng.chance(20);
            memory.last_used_at = rng
                .chance(50)
                .then(|| created_at + rng.below(1_000_000) as u64);
            memory.use_count = rng.below(40) as u32;
            memory.cited_worked = rng.below(5) as u32;
            memory.cited_did_not_work = rng.below(3) as u32;
            memory.trashed_at = rng.chance(15).then_some(created_at + 500);
            memory.revision = 1 + rng.below(4) as u32;
            memory.updated_at = created_at + u64::from(memory.revision);
            for revision in 1..memory.revision {
                let mut before = memory.clone();
                before.revision = revision;
                before.text = format!("{} (draft {revision})", rng.pick(&TEXTS));
                // Every fourth memory's last change left the text alone (a pin, a
                // move), so a vector of the revision before it is still current.
                if position % 4 == 0 && revision + 1 == memory.revision {
                    before.text = memory.text.clone();
                }
                before.updated_at = created_at + u64::from(revision) - 1;
                store.revisions.push(Revision {
                    before,
                    changed_by: CHANGES[rng.below(CHANGES.len())],
                    changed_at: created_at + u64::from(revision),
                });
            }
            if rng.chance(70) {
                let stale = rng.chance(15) && memory.revision > 1;
                store.vectors.push(StoredVector {
                    memory_id: memory.id.clone(),
                    model_id: if rng.chance(10) {
                        "old-model".into()
                    } else {
                        MODEL.into()
                    },
                    version: if stale {
                        memory.revision - 1
                    } else {
                        memory.revision
                    },
                    vector: rng.unit_vector(dimension),
                });
            }
            store.memories.push(memory);
        }
        store
    }

    fn everything(vectors: Option<usize>) -> ExportOptions {
        ExportOptions {
            scope: ExportScope::Everything,
            include_trashed: true,
            vectors: vectors.map(|dimension| VectorModel {
                model_id: MODEL.into(),
                dimension,
            }),
            now: T0 + 99,
        }
    }

    // --- Export ---------------------------------------------------------------

    #[test]
    fn exports_of_the_same_store_are_byte_identical_whatever_the_order() {
        let store = generated_store(7, 60, 16);
        let mut shuffled = store.clone();
        shuffled.memories.reverse();
        shuffled.revisions.reverse();
        shuffled.pools.reverse();
        shuffled.assistants.reverse();
        shuffled.vectors.reverse();
        let first = export(&store.contents(), &store.vectors, &everything(Some(16))).unwrap();
        let second = export(
            &shuffled.contents(),
            &shuffled.vectors,
            &everything(Some(16)),
        )
        .unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn an_export_has_one_record_per_line() {
        let store = generated_store(3, 10, 8);
        let text = export(&store.contents(), &store.vectors, &everything(Some(8))).unwrap();
        let memory_lines = text
            .lines()
            .filter(|line| line.starts_with("{\"id\":\"m"))
            .count();
        assert_eq!(memory_lines, store.memories.len());
        assert!(text.starts_with("{\"format\":\"casebook-export\",\"version\":1,\"exported_at\":"));
        // A broken record is reported on its own line.
        let broken = text.replacen("\"kind\":\"", "\"kind\":\"x", 1);
        let ImportError::Invalid { path, .. } = parse_import(broken.as_bytes(), LIMIT).unwrap_err()
        else {
            panic!("expected a field problem");
        };
        assert_eq!(path, "memories[0].kind");
    }

    #[test]
    fn an_export_never_holds_a_provider_key() {
        let key = "sk-ant-api03-PLANTED-KEY-0123456789abcdef";
        let mut store = generated_store(11, 30, 8);
        // The key lives where the app keeps it, beside the store, never inside it;
        // the assistant only names its profile.
        let profiles = json!([{"id": "openai-work", "api_key": key}]);
        assert!(profiles.to_string().contains(key));
        store.assistants[1].profile_id = Some("openai-work".into());
        let text = export(&store.contents(), &store.vectors, &everything(Some(8))).unwrap();
        assert!(!text.contains(key));
        assert!(!text.contains("sk-ant"));
        assert!(text.contains("\"profile_id\":\"openai-work\""));
    }

    #[test]
    fn trashed_memories_are_exported_only_when_asked() {
        let store = generated_store(5, 80, 8);
        let trashed: Vec<&Memory> = store
            .memories
            .iter()
            .filter(|m| m.trashed_at.is_some())
            .collect();
        assert!(!trashed.is_empty());
        let options = ExportOptions {
            include_trashed: false,
            ..everything(Some(8))
        };
        let text = export(&store.contents(), &store.vectors, &options).unwrap();
        let file = parse_import(text.as_bytes(), LIMIT).unwrap();
        assert!(file
            .memories
            .iter()
            .all(|memory| memory.trashed_at.is_none()));
        assert_eq!(file.memories.len(), store.memories.len() - trashed.len());
        let kept: HashSet<&MemoryId> = file.memories.iter().map(|m| &m.id).collect();
        assert!(file.revisions.iter().all(|r| kept.contains(&r.before.id)));
        let with_trash = export(&store.contents(), &store.vectors, &everything(Some(8))).unwrap();
        assert_eq!(
            parse_import(with_trash.as_bytes(), LIMIT)
                .unwrap()
                .memories
                .len(),
            store.memories.len()
        );
    }

    #[test]
    fn a_pool_export_holds_that_pool_and_the_assistants_writing_to_it() {
        let store = generated_store(9, 90, 8);
        let options = ExportOptions {
            scope: ExportScope::Pool("work".into()),
            ..everything(Some(8))
        };
        let text = export(&store.contents(), &store.vectors, &options).unwrap();
        assert!(text.contains("\"scope\":{\"pool\":\"work\"}"));
        let file = parse_import(text.as_bytes(), LIMIT).unwrap();
        assert_eq!(file.scope, ExportScope::Pool("work".into()));
        let in_pool = store.memories.iter().filter(|m| m.pool == "work").count();
        assert_eq!(file.memories.len(), in_pool);
        assert!(file.memories.iter().all(|m| m.pool == "work"));
        assert_eq!(
            file.assistants
                .iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>(),
            ["coder"]
        );
        // The pools the coder also reads come along, so their names are not lost.
        let pools: Vec<&str> = file.pools.iter().map(|pool| pool.id.as_str()).collect();
        assert_eq!(pools, [DEFAULT_POOL, "home-ü", "work"]);
        assert!(file.undeclared_pools.is_empty());
        let options = ExportOptions {
            scope: ExportScope::Pool("nowhere".into()),
            ..everything(None)
        };
        assert_eq!(
            export(&store.contents(), &store.vectors, &options),
            Err(ExportError::NoSuchPool("nowhere".into()))
        );
    }

    #[test]
    fn only_current_vectors_of_the_chosen_model_are_exported() {
        let mut store = generated_store(13, 50, 8);
        let broken = store
            .vectors
            .iter()
            .position(|v| v.model_id == MODEL)
            .unwrap();
        store.vectors[broken].vector = vec![2.0; 8];
        let text = export(&store.contents(), &store.vectors, &everything(Some(8))).unwrap();
        let vectors = parse_import(text.as_bytes(), LIMIT)
            .unwrap()
            .vectors
            .unwrap();
        assert_eq!((vectors.model_id.as_str(), vectors.dimension), (MODEL, 8));
        let expected: Vec<&StoredVector> = store
            .vectors
            .iter()
            .filter(|v| {
                v.model_id == MODEL && store.text_at(&v.memory_id, v.version) && v.vector[0] != 2.0
            })
            .collect();
        assert!(expected.len() < store.vectors.len());
        assert_eq!(vectors.items.len(), expected.len());
        let without = export(&store.contents(), &store.vectors, &everything(None)).unwrap();
        assert!(without.contains("\n\"vectors\":null\n"));
    }

    #[test]
    fn a_store_holding_what_import_would_refuse_is_not_exported() {
        let mut store = generated_store(17, 5, 8);
        store.memories[2].text = "x".repeat(MAX_TEXT_BYTES + 1);
        let id = store.memories[2].id.clone();
        let error = export(&store.contents(), &store.vectors, &everything(None)).unwrap_err();
        let ExportError::WouldNotImport {
            record,
            error: ImportError::Invalid { problem, .. },
        } = &error
        else {
            panic!("{error:?}");
        };
        assert_eq!(record, &format!("memory \"{id}\""));
        assert!(matches!(problem, Problem::TextTooLong { .. }));
        assert!(error
            .to_string()
            .starts_with(&format!("memory \"{id}\" cannot be exported")));
    }

    // --- Round trip -----------------------------------------------------------

    #[test]
    fn export_then_import_into_an_empty_store_restores_everything() {
        for seed in 0..25 {
            let mut original = generated_store(seed, 10 + seed as usize * 3, 384);
            original.sort();
            let text = export(
                &original.contents(),
                &original.vectors,
                &everything(Some(384)),
            )
            .unwrap();
            let file = parse_import(text.as_bytes(), LIMIT).unwrap();
            let plan = plan_import(
                &StoreContents::default(),
                &file,
                ImportMode::Replace,
                MODEL,
                T0,
            );
            let mut restored = Store::default();
            restored.apply(&plan);
            assert_eq!(restored.pools, original.pools, "seed {seed}");
            assert_eq!(restored.assistants, original.assistants, "seed {seed}");
            assert_eq!(restored.memories, original.memories, "seed {seed}");
            assert_eq!(restored.revisions, original.revisions, "seed {seed}");
            // Vectors come back bit for bit where they were of the current text;
            // the rest are re-embedded.
            let current: Vec<StoredVector> = original
                .vectors
                .iter()
                .filter(|v| v.model_id == MODEL && original.text_at(&v.memory_id, v.version))
                .cloned()
                .collect();
            assert_eq!(restored.vectors, current, "seed {seed}");
            assert_eq!(
                plan.to_embed.len(),
                original.memories.len() - current.len(),
                "seed {seed}"
            );
            // Exporting the restored store gives the same file again.
            let again = export(
                &restored.contents(),
                &restored.vectors,
                &everything(Some(384)),
            )
            .unwrap();
            assert_eq!(again, text, "seed {seed}");
            // And importing the same file once more changes nothing.
            let replay = plan_import(&restored.contents(), &file, ImportMode::Merge, MODEL, T0);
            assert!(
                replay.put_memories.is_empty() && replay.put_revisions.is_empty(),
                "seed {seed}"
            );
            assert_eq!(replay.summary.unchanged_memories, original.memories.len());
        }
    }

    #[test]
    fn a_vector_kept_by_a_revision_that_left_the_text_alone_travels_with_its_memory() {
        let time = T0 + 10;
        let stored_vector = |id: &str, version| StoredVector {
            memory_id: MemoryId(id.into()),
            model_id: MODEL.into(),
            version,
            vector: vec![0.6, 0.8],
        };
        // "pinned": pinned at revision 2, so its vector is still that of revision 1.
        let mut pinned = fact("pinned", "The office opens at eight", 2);
        pinned.pinned = true;
        let pinned_before = fact("pinned", "The office opens at eight", 1);
        // "edited": its text changed at revision 2 and no new vector was stored.
        let edited = fact("edited", "The office opens at nine", 2);
        let edited_before = fact("edited", "The office opens at ten", 1);
        let mut store = store_with(vec![edited, pinned]);
        store.revisions = [pinned_before, edited_before]
            .into_iter()
            .map(|before| Revision {
                before,
                changed_by: ChangedBy::User,
                changed_at: time,
            })
            .collect();
        store.vectors = vec![stored_vector("edited", 1), stored_vector("pinned", 1)];
        store.sort();

        let text = export(&store.contents(), &store.vectors, &everything(Some(2))).unwrap();
        let file = parse_import(text.as_bytes(), LIMIT).unwrap();
        let items = &file.vectors.as_ref().unwrap().items;
        assert_eq!(items.len(), 1, "the stale vector is not exported");
        assert_eq!(
            (items[0].memory_id.as_str(), items[0].version),
            ("pinned", 1)
        );

        let plan = plan_import(
            &StoreContents::default(),
            &file,
            ImportMode::Replace,
            MODEL,
            T0,
        );
        let mut restored = Store::default();
        restored.apply(&plan);
        assert_eq!(restored.vectors, [stored_vector("pinned", 1)]);
        assert_eq!(plan.to_embed, [MemoryId("edited".into())]);

        // A file that claims an old vector fits a memory whose text then was
        // different is not believed: that memory is embedded again.
        let mut forged = parse_import(text.as_bytes(), LIMIT).unwrap();
        forged
            .revisions
            .retain(|revision| revision.before.id.as_str() != "pinned");
        forged.revisions.push(Revision {
            before: fact("pinned", "The office opens at seven", 1),
            changed_by: ChangedBy::User,
            changed_at: time,
        });
        let plan = plan_import(
            &StoreContents::default(),
            &forged,
            ImportMode::Replace,
            MODEL,
            T0,
        );
        assert!(plan.put_vectors.is_empty());
        assert_eq!(plan.to_embed.len(), 2);
    }

    // --- Planning -------------------------------------------------------------

    fn fact(id: &str, text: &str, revision: u32) -> Memory {
        let mut memory = Memory::new(MemoryId(id.into()), Kind::Fact, text, Source::Manual, T0);
        memory.revision = revision;
        memory
    }

    fn file_with(memories: Vec<Memory>) -> ImportFile {
        ImportFile {
            pools: vec![Pool::default_pool()],
            assistants: vec![Assistant::default_assistant()],
            memories,
            ..ImportFile::default()
        }
    }

    fn store_with(memories: Vec<Memory>) -> Store {
        Store {
            pools: vec![Pool::default_pool()],
            assistants: vec![Assistant::default_assistant()],
            memories,
            ..Store::default()
        }
    }

    #[test]
    fn merge_keeps_the_higher_revision_and_yours_on_a_tie() {
        let store = store_with(vec![
            fact("a", "same", 1),
            fact("b", "old", 1),
            fact("c", "mine is newer", 3),
            fact("d", "mine at 2", 2),
        ]);
        let file = file_with(vec![
            fact("a", "same", 1),
            fact("b", "newer in the file", 2),
            fact("c", "theirs is older", 2),
            fact("d", "theirs at 2", 2),
            fact("e", "brand new", 1),
        ]);
        let plan = plan_import(&store.contents(), &file, ImportMode::Merge, MODEL, T0 + 1);
        let written: Vec<&str> = plan.put_memories.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(written, ["newer in the file", "brand new"]);
        assert!(plan.delete_memories.is_empty());
        assert_eq!(
            plan.summary.to_string(),
            "Memories: 1 new, 1 updated (newer revision in the file), 1 unchanged, 1 kept because yours is newer, \
             1 kept because yours has the same revision. Revisions: 1 added. \
             2 memories will be embedded (the file has no vectors from your model for them)."
        );
        // The overwritten state is kept as a revision, so the merge can be undone.
        assert_eq!(plan.put_revisions.len(), 1);
        assert_eq!(plan.put_revisions[0].before, fact("b", "old", 1));
        assert_eq!(plan.put_revisions[0].changed_by, ChangedBy::Import);
        assert_eq!(plan.put_revisions[0].changed_at, T0 + 1);
    }

    #[test]
    fn merge_unites_revisions_and_keeps_yours_for_the_same_revision() {
        let mut store = store_with(vec![fact("a", "v3", 3)]);
        store.revisions = vec![Revision {
            before: fact("a", "my v1", 1),
            changed_by: ChangedBy::User,
            changed_at: 1,
        }];
        let mut file = file_with(vec![fact("a", "v3", 3)]);
        file.revisions = vec![
            Revision {
                before: fact("a", "their v1", 1),
                changed_by: ChangedBy::User,
                changed_at: 1,
            },
            Revision {
                before: fact("a", "v2", 2),
                changed_by: ChangedBy::User,
                changed_at: 2,
            },
        ];
        let plan = plan_import(&store.contents(), &file, ImportMode::Merge, MODEL, T0);
        let added: Vec<&str> = plan
            .put_revisions
            .iter()
            .map(|r| r.before.text.as_str())
            .collect();
        assert_eq!(added, ["v2"]);
        assert_eq!(plan.summary.revisions_added, 1);
    }

    #[test]
    fn replace_makes_the_store_exactly_the_file_and_says_what_it_deletes() {
        let mut store = store_with(vec![
            fact("a", "keep", 1),
            fact("b", "mine is newer", 4),
            fact("gone", "x", 1),
        ]);
        store.pools.push(Pool {
            id: "old".into(),
            name: "Old".into(),
            description: String::new(),
        });
        store.assistants.push(Assistant {
            id: "helper".into(),
            name: "Helper".into(),
            ..Assistant::default_assistant()
        });
        store.revisions = vec![Revision {
            before: fact("gone", "x0", 1),
            changed_by: ChangedBy::User,
            changed_at: 1,
        }];
        let file = file_with(vec![fact("a", "keep", 1), fact("b", "older but wanted", 2)]);
        let merge = plan_import(&store.contents(), &file, ImportMode::Merge, MODEL, T0);
        assert_eq!(merge.summary.deleted_memories, 0);
        let plan = plan_import(&store.contents(), &file, ImportMode::Replace, MODEL, T0);
        assert_eq!(
            plan.summary.to_string(),
            "Memories: 1 replaced by the file's version, 1 unchanged, 1 deleted (not in the file). \
             Revisions: 1 deleted. Pools: 1 deleted. Assistants: 1 deleted. \
             1 memory will be embedded (the file has no vector from your model for it)."
        );
        store.apply(&plan);
        assert_eq!(
            store.memories,
            [fact("a", "keep", 1), fact("b", "older but wanted", 2)]
        );
        assert!(store.revisions.is_empty());
        assert_eq!(store.pools, [Pool::default_pool()]);
        assert_eq!(store.assistants, [Assistant::default_assistant()]);
        assert_eq!(
            plan.delete_vectors,
            [MemoryId("b".into()), MemoryId("gone".into())]
        );
    }

    #[test]
    fn replace_never_deletes_the_default_pool_or_assistant() {
        let store = store_with(vec![fact("a", "x", 1)]);
        let file = parse(
            &json!({"format": "casebook-export", "version": 1, "memories": [
                {"id": "w1", "kind": "note", "text": "only work", "source": {"type": "manual"},
                 "pool": "work", "created_at": 0, "updated_at": 0, "revision": 1}
            ]}),
        )
        .unwrap();
        let plan = plan_import(&store.contents(), &file, ImportMode::Replace, MODEL, T0);
        assert!(plan.delete_pools.is_empty() && plan.delete_assistants.is_empty());
        assert_eq!(plan.delete_memories, [MemoryId("a".into())]);
        assert_eq!(
            plan.put_pools
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>(),
            ["work"]
        );
    }

    #[test]
    fn replacing_one_pool_leaves_the_others_alone() {
        let mut work = fact("w-old", "old work", 1);
        work.pool = "work".into();
        let mut store = store_with(vec![fact("home", "mine", 1), work]);
        store.pools.push(Pool {
            id: "work".into(),
            name: "Work".into(),
            description: String::new(),
        });
        let mut incoming = fact("w-new", "new work", 1);
        incoming.pool = "work".into();
        let file = ImportFile {
            scope: ExportScope::Pool("work".into()),
            pools: vec![Pool {
                id: "work".into(),
                name: "Work".into(),
                description: String::new(),
            }],
            memories: vec![incoming.clone()],
            ..ImportFile::default()
        };
        let plan = plan_import(&store.contents(), &file, ImportMode::Replace, MODEL, T0);
        assert_eq!(plan.delete_memories, [MemoryId("w-old".into())]);
        store.apply(&plan);
        let ids: Vec<&str> = store.memories.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["home", "w-new"]);
        assert_eq!(store.assistants, [Assistant::default_assistant()]);
    }

    #[test]
    fn vectors_are_kept_only_for_the_current_model_and_the_written_revision() {
        let mut file = file_with(vec![
            fact("a", "a", 2),
            fact("b", "b", 1),
            fact("c", "c", 1),
        ]);
        let vector = |id: &str, version| FileVector {
            memory_id: MemoryId(id.into()),
            version,
            vector: vec![1.0, 0.0],
        };
        file.vectors = Some(FileVectors {
            model_id: MODEL.into(),
            dimension: 2,
            items: vec![vector("a", 1), vector("b", 1)],
        });
        let plan = plan_import(
            &StoreContents::default(),
            &file,
            ImportMode::Merge,
            MODEL,
            T0,
        );
        assert_eq!(plan.put_vectors.len(), 1);
        assert_eq!(plan.put_vectors[0].memory_id.as_str(), "b");
        assert_eq!(plan.put_vectors[0].model_id, MODEL);
        assert_eq!(plan.to_embed, [MemoryId("a".into()), MemoryId("c".into())]);
        assert_eq!((plan.summary.vectors_kept, plan.summary.to_embed), (1, 2));
        let other_model = plan_import(
            &StoreContents::default(),
            &file,
            ImportMode::Merge,
            "another-model",
            T0,
        );
        assert!(other_model.put_vectors.is_empty());
        assert_eq!(other_model.to_embed.len(), 3);
    }

    #[test]
    fn an_undeclared_pool_never_renames_yours() {
        let mut store = store_with(vec![]);
        store.pools.push(Pool {
            id: "home".into(),
            name: "Home, sweet".into(),
            description: "mine".into(),
        });
        let file = parse(
            &json!({"format": "casebook-export", "version": 1, "memories": [
                {"id": "n1", "kind": "note", "text": "x", "source": {"type": "manual"},
                 "pool": "home", "created_at": 0, "updated_at": 0, "revision": 1}
            ]}),
        )
        .unwrap();
        for mode in [ImportMode::Merge, ImportMode::Replace] {
            let plan = plan_import(&store.contents(), &file, mode, MODEL, T0);
            assert!(plan.put_pools.is_empty(), "{mode:?}");
            assert!(!plan.delete_pools.contains(&"home".to_owned()), "{mode:?}");
        }
    }

    #[test]
    fn an_empty_import_says_so() {
        let plan = plan_import(
            &StoreContents::default(),
            &ImportFile::default(),
            ImportMode::Merge,
            MODEL,
            T0,
        );
        assert_eq!(plan.summary.to_string(), "Memories: none.");
    }

    // --- Size -----------------------------------------------------------------

    /// Not a timed test: it prints how long a 100k-memory file takes and checks
    /// only that it is read whole (a quadratic check would not finish).
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn a_hundred_thousand_memories_import_in_one_pass() {
        use std::time::Instant;
        let mut store = generated_store(42, 100_000, 16);
        // 10,000 full-size vectors, the rest of the store without.
        store.vectors.truncate(0);
        let mut rng = Rng(1);
        for memory in store.memories.iter().take(10_000) {
            store.vectors.push(StoredVector {
                memory_id: memory.id.clone(),
                model_id: MODEL.into(),
                version: memory.revision,
                vector: rng.unit_vector(384),
            });
        }
        let started = Instant::now();
        let text = export(&store.contents(), &store.vectors, &everything(Some(384))).unwrap();
        let exported = started.elapsed();
        let started = Instant::now();
        let file = parse_import(text.as_bytes(), 1_000_000_000).unwrap();
        let parsed = started.elapsed();
        let started = Instant::now();
        let plan = plan_import(
            &StoreContents::default(),
            &file,
            ImportMode::Replace,
            MODEL,
            T0,
        );
        let planned = started.elapsed();
        println!(
            "100k memories, {} revisions, 10k 384-d vectors: {} file; export {exported:.2?}, parse + validate {parsed:.2?}, plan {planned:.2?}",
            file.revisions.len(),
            format_bytes(text.len() as f64),
        );
        assert_eq!(file.memories.len(), 100_000);
        assert_eq!(plan.summary.new_memories, 100_000);
        assert_eq!(plan.put_vectors.len(), 10_000);
    }
}
