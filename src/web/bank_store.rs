//! The case bank in IndexedDB: memories, their vectors, their revisions and the
//! saved vector-index snapshot.
//!
//! Every change is one read-write transaction over the memory, its vector and its
//! revision record, so a crash (a closed tab, a killed browser) leaves either the
//! old state or the new one. Embeddings are computed *before* the transaction is
//! opened: awaiting anything but an IndexedDB request inside it would commit it
//! early.
//!
//! Vectors and snapshots are stored as typed arrays (`Float32Array`,
//! `Uint8Array`), not as arrays of numbers: that is ~4× smaller and loads with a
//! memory copy instead of one conversion per number.

use std::collections::HashMap;
use std::future::ready;
use std::pin::pin;

use futures_util::future::{select, Either};

use js_sys::{Float32Array, Object, Reflect, Uint8Array};
use rexie::{KeyRange, TransactionMode};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

use super::db::{from_js, from_js_all, keyed_record, to_js, Db, DbError};
use crate::core::assistant::{Assistant, Pool};
use crate::core::bank::StoredVector;
use crate::core::changes::revision_key;
use crate::core::memory::{ChangedBy, Memory, MemoryId, Millis, Revision};
use crate::core::model_switch::{completed_vectors, ModelChoice, TargetStamp};
use crate::core::schema::{indexes, stores};
use crate::core::settings::keys;
use crate::core::transfer::ImportPlan;

/// The name of the one vector-index snapshot record.
const SNAPSHOT_NAME: &str = "vectors";

/// What opening the bank read: the memories as the caller prepared them (see
/// [`read_bank`]), the vectors, and the snapshot if it was saved for the model
/// asked for.
pub struct OpenedBank<M> {
    pub memories: M,
    pub vectors: Vec<StoredVector>,
    pub snapshot: Option<Vec<u8>>,
}

/// Reads every memory, every vector and the snapshot saved for `model_id` in
/// `transaction` (which must cover those three stores).
///
/// The three requests go out together, and the memories (asked for first, so
/// answered first) go to `prepare` as soon as they arrive: the caller indexes
/// them while the browser is still reading the vectors from disk, instead of
/// after.
pub async fn read_bank<M>(
    transaction: &rexie::Transaction,
    model_id: &str,
    prepare: impl FnOnce(Vec<Memory>) -> M,
) -> Result<OpenedBank<M>, DbError> {
    let snapshot_store = transaction.store(stores::INDEX_SNAPSHOTS)?;
    let memory_request = pin!(all_records(transaction, stores::MEMORIES));
    let vector_request = pin!(all_records(transaction, stores::VECTORS));
    let snapshot_request = pin!(async {
        Ok::<_, DbError>(snapshot_store.get(JsValue::from_str(SNAPSHOT_NAME)).await?)
    });
    let rest_requests = futures_util::future::try_join(vector_request, snapshot_request);
    let (memory_values, rest) = match select(memory_request, rest_requests).await {
        Either::Left((memories, rest)) => (memories?, Either::Left(rest)),
        Either::Right((rest, memories)) => (memories.await?, Either::Right(ready(rest))),
    };
    let memories = prepare(from_js_all::<Memory>(&memory_values)?);
    drop(memory_values);
    let (vector_values, snapshot) = rest.await?;
    Ok(OpenedBank {
        memories,
        vectors: vectors_from_js(&vector_values)?,
        snapshot: snapshot
            .filter(|record| string_field(record, "model_id").as_deref() == Some(model_id))
            .and_then(|record| Reflect::get(&record, &"bytes".into()).ok())
            .and_then(|bytes| bytes.dyn_into::<Uint8Array>().ok())
            .map(|bytes| bytes.to_vec()),
    })
}

/// What a memory record must look like before a write replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The memory must not exist yet.
    Absent,
    /// The stored memory must be at this revision.
    Revision(u32),
    /// Whatever is stored (statistics updates).
    Any,
}

/// One write of a change; a batch of them is one transaction.
#[derive(Debug, Clone)]
pub enum Write {
    Memory {
        memory: Memory,
        expect: Expect,
    },
    Vector(StoredVector),
    /// Deletes a memory's vector: its text changed while no model was loaded to
    /// embed it again, and the old vector would find it by its old text.
    DropVector(MemoryId),
    Revision(Revision),
    /// Deletes a memory, its vector and all its revisions.
    Purge(MemoryId),
}

/// A revision record: the revision plus the keys that find it.
#[derive(Serialize, Deserialize)]
struct RevisionRecord {
    key: String,
    memory_id: MemoryId,
    before: Memory,
    changed_by: ChangedBy,
    changed_at: Millis,
}

impl From<&Revision> for RevisionRecord {
    fn from(revision: &Revision) -> RevisionRecord {
        RevisionRecord {
            key: revision_key(&revision.before.id, revision.before.revision),
            memory_id: revision.before.id.clone(),
            before: revision.before.clone(),
            changed_by: revision.changed_by,
            changed_at: revision.changed_at,
        }
    }
}

impl From<RevisionRecord> for Revision {
    fn from(record: RevisionRecord) -> Revision {
        Revision {
            before: record.before,
            changed_by: record.changed_by,
            changed_at: record.changed_at,
        }
    }
}

/// Every record export and import deal with, read in one transaction.
pub struct StoreRecords {
    pub pools: Vec<Pool>,
    pub assistants: Vec<Assistant>,
    pub memories: Vec<Memory>,
    pub revisions: Vec<Revision>,
    pub vectors: Vec<StoredVector>,
}

#[derive(Clone, Debug)]
pub struct BankStore {
    db: Db,
}

impl BankStore {
    pub fn new(db: Db) -> BankStore {
        BankStore { db }
    }

    /// The database, for records outside the bank (settings).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Reads every memory and vector, and the snapshot saved for `model_id`
    /// (see [`read_bank`]).
    pub async fn load<M>(
        &self,
        model_id: &str,
        prepare: impl FnOnce(Vec<Memory>) -> M,
    ) -> Result<OpenedBank<M>, DbError> {
        let transaction = self.db.transaction(
            &[stores::MEMORIES, stores::VECTORS, stores::INDEX_SNAPSHOTS],
            TransactionMode::ReadOnly,
        )?;
        let opened = read_bank(&transaction, model_id, prepare).await?;
        transaction.done().await?;
        Ok(opened)
    }

    /// The memory as stored now (another tab may have changed it).
    pub async fn memory(&self, id: &MemoryId) -> Result<Option<Memory>, DbError> {
        self.db.get(stores::MEMORIES, id.as_str()).await
    }

    /// The vector stored for a memory.
    pub async fn vector(&self, id: &MemoryId) -> Result<Option<StoredVector>, DbError> {
        let transaction = self
            .db
            .transaction(&[stores::VECTORS], TransactionMode::ReadOnly)?;
        let value = transaction
            .store(stores::VECTORS)?
            .get(JsValue::from_str(id.as_str()))
            .await?;
        transaction.done().await?;
        value.as_ref().map(vector_from_js).transpose()
    }

    /// Every earlier state of a memory, oldest first.
    pub async fn revisions(&self, id: &MemoryId) -> Result<Vec<Revision>, DbError> {
        let transaction = self
            .db
            .transaction(&[stores::REVISIONS], TransactionMode::ReadOnly)?;
        let values = transaction
            .store(stores::REVISIONS)?
            .index(indexes::REVISIONS_BY_MEMORY)?
            .get_all(Some(KeyRange::only(&id.as_str().into())?), None)
            .await?;
        transaction.done().await?;
        let mut revisions = values
            .iter()
            .map(|value| from_js::<RevisionRecord>(value).map(Revision::from))
            .collect::<Result<Vec<_>, _>>()?;
        revisions.sort_by_key(|revision| revision.before.revision);
        Ok(revisions)
    }

    /// Applies `writes` in one transaction: all of them or none. A memory whose
    /// stored state is not what its write expects fails the whole batch with
    /// [`DbError::Conflict`].
    pub async fn commit(&self, writes: &[Write]) -> Result<(), DbError> {
        if writes.is_empty() {
            return Ok(());
        }
        let transaction = self.db.transaction(
            &[stores::MEMORIES, stores::VECTORS, stores::REVISIONS],
            TransactionMode::ReadWrite,
        )?;
        let memories = transaction.store(stores::MEMORIES)?;
        let vectors = transaction.store(stores::VECTORS)?;
        let revisions = transaction.store(stores::REVISIONS)?;
        let written = async {
            for write in writes {
                match write {
                    Write::Memory { memory, expect } => {
                        let key = JsValue::from_str(memory.id.as_str());
                        if *expect != Expect::Any {
                            let stored = memories.get(key).await?;
                            let stored_revision = stored
                                .as_ref()
                                .map(|value| from_js::<Memory>(value).map(|m| m.revision))
                                .transpose()?;
                            let expected = match expect {
                                Expect::Absent => None,
                                Expect::Revision(revision) => Some(*revision),
                                Expect::Any => stored_revision,
                            };
                            if stored_revision != expected {
                                return Err(DbError::Conflict(memory.id.to_string()));
                            }
                        }
                        memories.put(&to_js(memory)?, None).await?;
                    }
                    Write::Vector(vector) => {
                        vectors.put(&vector_to_js(vector)?, None).await?;
                    }
                    Write::Revision(revision) => {
                        revisions
                            .put(&to_js(&RevisionRecord::from(revision))?, None)
                            .await?;
                    }
                    Write::DropVector(id) => {
                        vectors.delete(id.as_str().into()).await?;
                    }
                    Write::Purge(id) => {
                        memories.delete(id.as_str().into()).await?;
                        vectors.delete(id.as_str().into()).await?;
                        let range = KeyRange::bound(
                            &revision_key(id, 0).into(),
                            &revision_key(id, u32::MAX).into(),
                            None,
                            None,
                        )?;
                        for key in revisions.get_all_keys(Some(range), None).await? {
                            revisions.delete(key).await?;
                        }
                    }
                }
            }
            Ok::<(), DbError>(())
        }
        .await;
        finish(transaction, written).await
    }

    /// Every revision of every memory.
    pub async fn all_revisions(&self) -> Result<Vec<Revision>, DbError> {
        self.db
            .all::<RevisionRecord>(stores::REVISIONS)
            .await
            .map(|records| records.into_iter().map(Revision::from).collect())
    }

    /// Reads pools, assistants, memories, revisions and vectors in one
    /// transaction, so that they are consistent with each other.
    pub async fn read_all(&self) -> Result<StoreRecords, DbError> {
        let transaction = self.db.transaction(
            &[
                stores::POOLS,
                stores::ASSISTANTS,
                stores::MEMORIES,
                stores::REVISIONS,
                stores::VECTORS,
            ],
            TransactionMode::ReadOnly,
        )?;
        let pools = all_records(&transaction, stores::POOLS).await?;
        let assistants = all_records(&transaction, stores::ASSISTANTS).await?;
        let memories = all_records(&transaction, stores::MEMORIES).await?;
        let revisions = all_records(&transaction, stores::REVISIONS).await?;
        let vectors = all_records(&transaction, stores::VECTORS).await?;
        transaction.done().await?;
        Ok(StoreRecords {
            pools: pools.iter().map(from_js).collect::<Result<_, _>>()?,
            assistants: assistants.iter().map(from_js).collect::<Result<_, _>>()?,
            memories: from_js_all(&memories)?,
            revisions: from_js_all::<RevisionRecord>(&revisions)?
                .into_iter()
                .map(Revision::from)
                .collect(),
            vectors: vectors_from_js(&vectors)?,
        })
    }

    /// Writes an import plan in one transaction: everything it deletes, then
    /// everything it puts. If anything fails, nothing is changed.
    pub async fn apply_import(&self, plan: &ImportPlan) -> Result<(), DbError> {
        let transaction = self.db.transaction(
            &[
                stores::POOLS,
                stores::ASSISTANTS,
                stores::MEMORIES,
                stores::REVISIONS,
                stores::VECTORS,
                stores::TARGET_VECTORS,
            ],
            TransactionMode::ReadWrite,
        )?;
        let target_vectors = transaction.store(stores::TARGET_VECTORS)?;
        let pools = transaction.store(stores::POOLS)?;
        let assistants = transaction.store(stores::ASSISTANTS)?;
        let memories = transaction.store(stores::MEMORIES)?;
        let revisions = transaction.store(stores::REVISIONS)?;
        let vectors = transaction.store(stores::VECTORS)?;
        let written = async {
            for id in &plan.delete_pools {
                pools.delete(id.as_str().into()).await?;
            }
            for id in &plan.delete_assistants {
                assistants.delete(id.as_str().into()).await?;
            }
            for id in &plan.delete_memories {
                memories.delete(id.as_str().into()).await?;
            }
            for key in &plan.delete_revisions {
                revisions
                    .delete(revision_key(&key.memory_id, key.revision).into())
                    .await?;
            }
            for id in &plan.delete_vectors {
                vectors.delete(id.as_str().into()).await?;
            }
            // An imported memory may reuse an id and revision with another text:
            // a switch under way embeds it again.
            for id in plan
                .delete_memories
                .iter()
                .chain(plan.put_memories.iter().map(|memory| &memory.id))
            {
                target_vectors.delete(id.as_str().into()).await?;
            }
            for pool in &plan.put_pools {
                pools.put(&to_js(pool)?, None).await?;
            }
            for assistant in &plan.put_assistants {
                assistants.put(&to_js(assistant)?, None).await?;
            }
            for memory in &plan.put_memories {
                memories.put(&to_js(memory)?, None).await?;
            }
            for revision in &plan.put_revisions {
                revisions
                    .put(&to_js(&RevisionRecord::from(revision))?, None)
                    .await?;
            }
            for vector in &plan.put_vectors {
                vectors.put(&vector_to_js(vector)?, None).await?;
            }
            Ok::<(), DbError>(())
        }
        .await;
        finish(transaction, written).await
    }

    /// Which model is in use and which one a switch moves to.
    pub async fn model_choice(&self) -> Result<ModelChoice, DbError> {
        Ok(self
            .db
            .get_value(stores::SETTINGS, keys::EMBEDDING_MODEL)
            .await?
            .unwrap_or_default())
    }

    pub async fn save_model_choice(&self, choice: &ModelChoice) -> Result<(), DbError> {
        self.db
            .put_value(stores::SETTINGS, keys::EMBEDDING_MODEL, choice)
            .await
    }

    /// What each stored vector of the model being switched to was computed for.
    pub async fn target_stamps(&self) -> Result<HashMap<MemoryId, TargetStamp>, DbError> {
        let vectors = vectors_from_js(&self.db.all_records(stores::TARGET_VECTORS).await?)?;
        Ok(vectors
            .iter()
            .map(|vector| (vector.memory_id.clone(), TargetStamp::from(vector)))
            .collect())
    }

    /// Stores vectors of the model being switched to, in one transaction.
    pub async fn put_target_vectors(&self, vectors: &[StoredVector]) -> Result<(), DbError> {
        let transaction = self
            .db
            .transaction(&[stores::TARGET_VECTORS], TransactionMode::ReadWrite)?;
        let target_vectors = transaction.store(stores::TARGET_VECTORS)?;
        let written = async {
            for vector in vectors {
                target_vectors.put(&vector_to_js(vector)?, None).await?;
            }
            Ok::<(), DbError>(())
        }
        .await;
        finish(transaction, written).await
    }

    /// Completes the switch to `model_id` in one transaction, if every memory
    /// has a current vector of it: those vectors replace the stored ones, the
    /// target store is emptied, the old model's index snapshot is dropped and
    /// `choice` is recorded. Returns whether it completed; if a memory still
    /// lacks a vector (it changed meanwhile), nothing is changed.
    pub async fn complete_switch(
        &self,
        model_id: &str,
        choice: &ModelChoice,
    ) -> Result<bool, DbError> {
        let transaction = self.db.transaction(
            &[
                stores::MEMORIES,
                stores::VECTORS,
                stores::TARGET_VECTORS,
                stores::INDEX_SNAPSHOTS,
                stores::SETTINGS,
            ],
            TransactionMode::ReadWrite,
        )?;
        let written = async {
            let memories =
                from_js_all::<Memory>(&all_records(&transaction, stores::MEMORIES).await?)?;
            let targets =
                vectors_from_js(&all_records(&transaction, stores::TARGET_VECTORS).await?)?;
            let Some(replacements) = completed_vectors(&memories, targets, model_id) else {
                return Ok(false);
            };
            let vectors = transaction.store(stores::VECTORS)?;
            vectors.clear().await?;
            for vector in &replacements {
                vectors.put(&vector_to_js(vector)?, None).await?;
            }
            transaction.store(stores::TARGET_VECTORS)?.clear().await?;
            transaction
                .store(stores::INDEX_SNAPSHOTS)?
                .delete(SNAPSHOT_NAME.into())
                .await?;
            transaction
                .store(stores::SETTINGS)?
                .put(&keyed_record(keys::EMBEDDING_MODEL, choice)?, None)
                .await?;
            Ok::<bool, DbError>(true)
        }
        .await;
        let completed = written.as_ref().is_ok_and(|completed| *completed);
        finish(transaction, written.map(|_| ())).await?;
        Ok(completed)
    }

    /// Forgets a switch in one transaction: its vectors are deleted and `choice`
    /// (which names no target) is recorded.
    pub async fn cancel_switch(&self, choice: &ModelChoice) -> Result<(), DbError> {
        let transaction = self.db.transaction(
            &[stores::TARGET_VECTORS, stores::SETTINGS],
            TransactionMode::ReadWrite,
        )?;
        let written = async {
            transaction.store(stores::TARGET_VECTORS)?.clear().await?;
            transaction
                .store(stores::SETTINGS)?
                .put(&keyed_record(keys::EMBEDDING_MODEL, choice)?, None)
                .await?;
            Ok::<(), DbError>(())
        }
        .await;
        finish(transaction, written).await
    }

    /// Saves the vector index's snapshot (built for `model_id`).
    pub async fn save_snapshot(&self, model_id: &str, bytes: &[u8]) -> Result<(), DbError> {
        let record = snapshot_record(model_id, bytes)?;
        let transaction = self
            .db
            .transaction(&[stores::INDEX_SNAPSHOTS], TransactionMode::ReadWrite)?;
        transaction
            .store(stores::INDEX_SNAPSHOTS)?
            .put(&record, None)
            .await?;
        transaction.done().await?;
        Ok(())
    }
}

/// Commits `transaction` if everything in it was `written`, else rolls it back.
async fn finish(
    transaction: rexie::Transaction,
    written: Result<(), DbError>,
) -> Result<(), DbError> {
    match written {
        Ok(()) => {
            let result = transaction.done().await?;
            if result.is_committed() {
                Ok(())
            } else {
                Err(DbError::Storage(
                    "the browser aborted the write; nothing was changed".into(),
                ))
            }
        }
        Err(error) => {
            // Whatever was written so far is rolled back.
            let _ = transaction.abort().await;
            Err(error)
        }
    }
}

fn set(object: &Object, field: &str, value: &JsValue) -> Result<(), DbError> {
    Reflect::set(object, &field.into(), value)
        .map(|_| ())
        .map_err(|error| DbError::Malformed(super::js_error_text(&error)))
}

fn string_field(record: &JsValue, field: &str) -> Option<String> {
    Reflect::get(record, &field.into()).ok()?.as_string()
}

/// The snapshot record: the bytes as a Uint8Array (through serde they would be a
/// JavaScript array of numbers, one per byte), tagged with the model they index.
pub fn snapshot_record(model_id: &str, bytes: &[u8]) -> Result<JsValue, DbError> {
    let record = Object::new();
    set(&record, "name", &SNAPSHOT_NAME.into())?;
    set(&record, "model_id", &model_id.into())?;
    set(&record, "bytes", &Uint8Array::from(bytes).into())?;
    Ok(record.into())
}

/// A vector record: its numbers as a Float32Array (through serde they would be
/// a JavaScript array of 384 numbers: decoding 10k took 6.1 s instead of 0.16 s).
pub fn vector_to_js(vector: &StoredVector) -> Result<JsValue, DbError> {
    let record = Object::new();
    set(&record, "memory_id", &vector.memory_id.as_str().into())?;
    set(&record, "model_id", &vector.model_id.as_str().into())?;
    set(&record, "version", &vector.version.into())?;
    set(
        &record,
        "vector",
        &Float32Array::from(vector.vector.as_slice()).into(),
    )?;
    Ok(record.into())
}

fn vector_from_js(record: &JsValue) -> Result<StoredVector, DbError> {
    VectorFields::new().read(record)
}

/// Every vector record of a store. They are gathered in JavaScript first (see
/// [`GATHER_VECTORS`]); if any record is not as the app writes them, each is
/// read on its own, so the error names what is wrong.
pub fn vectors_from_js(records: &[JsValue]) -> Result<Vec<StoredVector>, DbError> {
    if let Some(vectors) = gathered_vectors(records) {
        return Ok(vectors);
    }
    let fields = VectorFields::new();
    records.iter().map(|record| fields.read(record)).collect()
}

/// The body of a JavaScript function of `records` that packs every vector record
/// into a few arrays: all numbers in one Float32Array, the lengths, versions and
/// model of each, the memory ids as one JSON text. Reading 10k records field by
/// field from Rust took ~90 ms, a dozen calls into JavaScript each; this takes
/// one. It returns null when a record is not as the app writes them.
const GATHER_VECTORS: &str = r#"
const count = records.length;
let total = 0;
for (let i = 0; i < count; i++) {
  const record = records[i];
  if (record === null || typeof record !== "object"
      || typeof record.memory_id !== "string" || typeof record.model_id !== "string"
      || !Number.isInteger(record.version) || record.version < 0 || record.version > 4294967295
      || !(record.vector instanceof Float32Array)) {
    return null;
  }
  total += record.vector.length;
}
const values = new Float32Array(total);
const lengths = new Uint32Array(count);
const versions = new Uint32Array(count);
const models = [];
const modelNumbers = new Map();
const modelOf = new Uint32Array(count);
const ids = new Array(count);
let at = 0;
for (let i = 0; i < count; i++) {
  const record = records[i];
  values.set(record.vector, at);
  at += record.vector.length;
  lengths[i] = record.vector.length;
  versions[i] = record.version;
  ids[i] = record.memory_id;
  let model = modelNumbers.get(record.model_id);
  if (model === undefined) {
    model = models.length;
    models.push(record.model_id);
    modelNumbers.set(record.model_id, model);
  }
  modelOf[i] = model;
}
return [values, lengths, versions, models, modelOf, JSON.stringify(ids)];
"#;

/// [`GATHER_VECTORS`] run over `records`, unpacked; `None` if a record is not as
/// the app writes them (or the browser refused to run it).
fn gathered_vectors(records: &[JsValue]) -> Option<Vec<StoredVector>> {
    let gather = js_sys::Function::new_with_args("records", GATHER_VECTORS);
    let array: js_sys::Array = records.iter().collect();
    let packed: js_sys::Array = gather.call1(&JsValue::NULL, &array).ok()?.dyn_into().ok()?;
    let values = packed.get(0).dyn_into::<Float32Array>().ok()?.to_vec();
    let lengths = packed
        .get(1)
        .dyn_into::<js_sys::Uint32Array>()
        .ok()?
        .to_vec();
    let versions = packed
        .get(2)
        .dyn_into::<js_sys::Uint32Array>()
        .ok()?
        .to_vec();
    let models: Vec<String> = packed
        .get(3)
        .dyn_into::<js_sys::Array>()
        .ok()?
        .iter()
        .map(|model| model.as_string())
        .collect::<Option<_>>()?;
    let model_of = packed
        .get(4)
        .dyn_into::<js_sys::Uint32Array>()
        .ok()?
        .to_vec();
    let ids: Vec<String> = serde_json::from_str(&packed.get(5).as_string()?).ok()?;
    if ids.len() != records.len() {
        return None;
    }
    let mut rest = values.as_slice();
    let mut vectors = Vec::with_capacity(ids.len());
    for (((id, length), version), model) in ids.into_iter().zip(lengths).zip(versions).zip(model_of)
    {
        let (vector, after) = rest.split_at_checked(length as usize)?;
        rest = after;
        vectors.push(StoredVector {
            memory_id: MemoryId(id),
            model_id: models.get(model as usize)?.clone(),
            version,
            vector: vector.to_vec(),
        });
    }
    Some(vectors)
}

/// The property names of a vector record, as JavaScript strings.
struct VectorFields {
    memory_id: JsValue,
    model_id: JsValue,
    version: JsValue,
    vector: JsValue,
}

impl VectorFields {
    fn new() -> VectorFields {
        VectorFields {
            memory_id: "memory_id".into(),
            model_id: "model_id".into(),
            version: "version".into(),
            vector: "vector".into(),
        }
    }

    fn read(&self, record: &JsValue) -> Result<StoredVector, DbError> {
        let malformed =
            |what: &str| DbError::Malformed(format!("a stored vector has no valid {what}"));
        let field = |name: &JsValue| Reflect::get(record, name).ok();
        let memory_id = field(&self.memory_id)
            .and_then(|value| value.as_string())
            .ok_or_else(|| malformed("memory id"))?;
        let model_id = field(&self.model_id)
            .and_then(|value| value.as_string())
            .ok_or_else(|| malformed("model id"))?;
        let version = field(&self.version)
            .and_then(|value| value.as_f64())
            .filter(|version| version.fract() == 0.0 && *version >= 0.0)
            .ok_or_else(|| malformed("version"))? as u32;
        let vector = field(&self.vector)
            .and_then(|value| value.dyn_into::<Float32Array>().ok())
            .ok_or_else(|| malformed("vector"))?
            .to_vec();
        Ok(StoredVector {
            memory_id: MemoryId(memory_id),
            model_id,
            version,
            vector,
        })
    }
}

/// Every record of `store`, read within `transaction`.
async fn all_records(
    transaction: &rexie::Transaction,
    store: &str,
) -> Result<Vec<JsValue>, DbError> {
    Ok(transaction.store(store)?.get_all(None, None).await?)
}
