//! The case bank inside the worker: loaded from IndexedDB once, kept in step
//! with it on every change, searched in memory.
//!
//! Changes are written first and applied to the in-memory bank only after their
//! transaction committed, so what is searched is never ahead of what is stored.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::{BroadcastChannel, MessageEvent, WorkerGlobalScope};

use super::Engine;
use crate::core::assistant::with_defaults;
use crate::core::bank::{CaseBank, IndexedMemories, MemoryFilter, StoredVector};
use crate::core::changes::{apply_change, ChangeError, MemoryChange};
use crate::core::conversation::UsedMemory;
use crate::core::editing::{bulk_changes, undo_change, BulkEdit};
use crate::core::embed::Embedder;
use crate::core::index::{BuiltSnapshot, IndexConfig, RebuildInput};
use crate::core::learn::feedback::recount_citations;
use crate::core::learn::scorer::LearnedScorer;
use crate::core::listing::{list, matching_ids, ListPage, ListQuery};
use crate::core::memory::Outcome;
use crate::core::memory::{Memory, MemoryId, Millis, Revision};
use crate::core::model_switch::{needing_target, TargetStamp};
use crate::core::pca::Projection;
use crate::core::protocol::{
    BankStatus, ChangeOutcome, IndexInput, MapPoint, MemoryMap, Reply, RerankerStatus, Reranking,
    SearchHit, WorkerEvent, MAX_IMPORT_BYTES,
};
use crate::core::retrieve::{RetrievalConfig, UsefulnessScorer};
use crate::core::schema::{stores, CASEBOOK};
use crate::core::settings::{keys, LearningSettings};
use crate::core::timeline::{timeline, Timeline};
use crate::core::transfer::{
    export, parse_import, plan_import, ExportOptions, ExportScope, ImportMode, ImportPlan,
    ImportSummary, StoreContents, VectorModel,
};
use crate::web::bank_store::{BankStore, Expect, Write};
use crate::web::db::{Db, DbError};
use crate::web::random_u64;
use crate::web::worker_client::WorkerClient;

/// Changes are written this many per transaction: small enough that progress
/// moves and a cancel is prompt, large enough that transactions are few.
const CHANGES_PER_BATCH: usize = 32;
/// Memories embedded per step of the background pass over unembedded ones: as
/// many as a batch of changes, so that helper workers get a share too.
const BACKGROUND_EMBED_BATCH: usize = CHANGES_PER_BATCH;
/// Used while no model is loaded, so that keyword search still works.
const NO_MODEL_DIMENSION: usize = 1;

struct Loaded {
    store: BankStore,
    bank: CaseBank,
    trash: HashMap<MemoryId, Memory>,
    embedder: Option<Rc<Embedder>>,
    /// Whether the background pass that embeds unembedded memories runs.
    embedding_pending: bool,
    scorer: LearnedScorer,
    learned_reranker: bool,
    /// Whether a vector-index snapshot is being built in the builder worker.
    rebuilding: bool,
}

impl Loaded {
    /// The learned reranker for a search, when it is asked for (by `reranking`
    /// or the user's switch) and has learned enough.
    fn reranker(&self, reranking: Reranking) -> Option<&dyn UsefulnessScorer> {
        let wanted = match reranking {
            Reranking::AsSwitched => self.learned_reranker,
            Reranking::Plain => false,
            Reranking::Learned => true,
        };
        (wanted && self.scorer.is_ready()).then_some(&self.scorer as &dyn UsefulnessScorer)
    }

    fn reranker_status(&self) -> RerankerStatus {
        let (helped, did_not_help, not_cited) = self.scorer.examples();
        RerankerStatus {
            enabled: self.learned_reranker,
            ready: self.scorer.is_ready(),
            helped,
            did_not_help,
            not_cited,
        }
    }
}

enum State {
    Closed,
    Open(Box<Loaded>),
    Failed(String),
}

pub struct BankService {
    state: RefCell<State>,
    /// Tells the other tabs' workers which memories this one changed.
    channel: RefCell<Option<BroadcastChannel>>,
}

/// The channel every tab's worker listens on.
const CHANGES_CHANNEL: &str = "casebook-memory-changes";

fn now() -> Millis {
    js_sys::Date::now() as Millis
}

impl BankService {
    pub fn new() -> BankService {
        BankService {
            state: RefCell::new(State::Closed),
            channel: RefCell::new(None),
        }
    }

    /// Opens the bank with the model that is loaded (or loading): its vectors
    /// are used; memories without one are embedded in the background.
    pub async fn open(&self, engine: &Rc<Engine>) -> Result<BankStatus, String> {
        if let State::Open(_) = &*self.state.borrow() {
            return self
                .status()
                .ok_or_else(|| "The memory is not open.".to_owned());
        }
        let embedder = engine.model.embedder().await.ok();
        match load(embedder).await {
            Ok(loaded) => {
                self.state.replace(State::Open(Box::new(loaded)));
            }
            Err(error) => {
                let message = format!("The memory could not be loaded: {error}");
                self.state.replace(State::Failed(message.clone()));
                return Err(message);
            }
        }
        self.listen_to_other_tabs(engine);
        self.after_change(engine);
        self.status()
            .ok_or_else(|| "The memory is not open.".to_owned())
    }

    fn listen_to_other_tabs(&self, engine: &Rc<Engine>) {
        if self.channel.borrow().is_some() {
            return;
        }
        // Without BroadcastChannel other tabs catch up on their next reload.
        let Ok(channel) = BroadcastChannel::new(CHANGES_CHANNEL) else {
            return;
        };
        let engine = engine.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let Ok(ids) = serde_wasm_bindgen::from_value::<Vec<MemoryId>>(event.data()) else {
                return;
            };
            let engine = engine.clone();
            wasm_bindgen_futures::spawn_local(async move {
                engine.bank.catch_up(&engine, ids).await;
            });
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // Lives as long as the worker.
        on_message.forget();
        *self.channel.borrow_mut() = Some(channel);
    }

    /// Another tab changed `ids`: reload them from the store.
    async fn catch_up(&self, engine: &Rc<Engine>, ids: Vec<MemoryId>) {
        let Ok(store) = self.with_open(|loaded| loaded.store.clone()) else {
            return;
        };
        for id in &ids {
            if let Err(error) = self.reload_memory(&store, id).await {
                web_sys::console::warn_1(
                    &format!("Could not load a memory changed in another tab: {error}").into(),
                );
            }
        }
        if let Some(status) = self.status() {
            engine.post(&WorkerEvent::Bank { status });
        }
        engine.post(&WorkerEvent::MemoriesChangedElsewhere { ids });
    }

    /// Tells the other tabs which memories were just committed.
    fn announce(&self, ids: Vec<MemoryId>) {
        if ids.is_empty() {
            return;
        }
        if let (Some(channel), Ok(message)) =
            (&*self.channel.borrow(), serde_wasm_bindgen::to_value(&ids))
        {
            // A tab that closed meanwhile is no loss: the store has the change.
            let _ = channel.post_message(&message);
        }
    }

    /// A model finished loading: reload the bank with its vectors if it differs
    /// from the one the bank was opened with.
    pub async fn model_changed(&self, engine: &Rc<Engine>) {
        let Ok(embedder) = engine.model.embedder().await else {
            return;
        };
        let stale = match &*self.state.borrow() {
            State::Open(loaded) => loaded.bank.model_id() != embedder.manifest().id,
            _ => false,
        };
        if stale {
            match load(Some(embedder)).await {
                Ok(loaded) => {
                    self.state.replace(State::Open(Box::new(loaded)));
                    self.after_change(engine);
                }
                Err(error) => {
                    self.state.replace(State::Failed(format!(
                        "The memory could not be reloaded for the new model: {error}"
                    )));
                }
            }
        }
    }

    fn status(&self) -> Option<BankStatus> {
        match &*self.state.borrow() {
            State::Open(loaded) => Some(status_of(loaded)),
            _ => None,
        }
    }

    fn with_open<T>(&self, read: impl FnOnce(&Loaded) -> T) -> Result<T, String> {
        match &*self.state.borrow() {
            State::Open(loaded) => Ok(read(loaded)),
            State::Failed(message) => Err(message.clone()),
            State::Closed => Err("The memory is still opening.".into()),
        }
    }

    fn with_open_mut<T>(&self, change: impl FnOnce(&mut Loaded) -> T) -> Result<T, String> {
        match &mut *self.state.borrow_mut() {
            State::Open(loaded) => Ok(change(loaded)),
            State::Failed(message) => Err(message.clone()),
            State::Closed => Err("The memory is still opening.".into()),
        }
    }

    pub async fn search(
        &self,
        text: &str,
        k: usize,
        filter: &MemoryFilter,
        reranking: Reranking,
    ) -> Result<Reply, String> {
        let embedder = self.with_open(|loaded| loaded.embedder.clone())?;
        let started = js_sys::Date::now();
        let vector = match &embedder {
            Some(embedder) => Some(embedder.embed(text).map_err(|error| error.to_string())?),
            None => None,
        };
        let embedded = js_sys::Date::now();
        let results = self.with_open(|loaded| {
            loaded
                .bank
                .search(
                    text,
                    vector.as_deref(),
                    k,
                    filter,
                    now(),
                    &RetrievalConfig::default(),
                    loaded.reranker(reranking),
                )
                .map(|results| {
                    results
                        .into_iter()
                        .filter_map(|retrieved| {
                            Some(SearchHit {
                                memory: loaded.bank.get(&retrieved.memory_id)?.clone(),
                                explanation: retrieved.explanation,
                                features: retrieved.features,
                            })
                        })
                        .collect::<Vec<_>>()
                })
        })?;
        let results = results.map_err(|error| error.to_string())?;
        Ok(Reply::SearchResults {
            results,
            embed_ms: embedded - started,
            search_ms: js_sys::Date::now() - embedded,
        })
    }

    /// Counts one more use of each memory (they were put into a prompt).
    pub async fn mark_used(&self, engine: &Rc<Engine>, ids: &[MemoryId]) -> Result<(), String> {
        let time = now();
        let changes = self.with_open(|loaded| {
            ids.iter()
                .filter_map(|id| loaded.bank.get(id))
                .map(|memory| {
                    let mut used = memory.clone();
                    used.use_count = used.use_count.saturating_add(1);
                    used.last_used_at = Some(time);
                    MemoryChange::RecordUse { memory: used }
                })
                .collect::<Vec<_>>()
        })?;
        self.apply_quietly(engine, changes).await
    }

    /// Moves the cited memories' records from the `previous` verdict to the
    /// `current` one and trains the learned reranker, then saves it.
    pub async fn record_verdict(
        &self,
        engine: &Rc<Engine>,
        used: &[UsedMemory],
        cited: &[u32],
        previous: Option<Outcome>,
        current: Option<Outcome>,
    ) -> Result<RerankerStatus, String> {
        let (changes, scorer, store) = self.with_open_mut(|loaded| {
            let examples: Vec<_> = used
                .iter()
                .map(|memory| (memory.features, cited.contains(&memory.tag)))
                .collect();
            loaded
                .scorer
                .learn_from_verdict(&examples, previous, current);
            let cited_memories: Vec<Memory> = used
                .iter()
                .filter(|memory| cited.contains(&memory.tag))
                .filter_map(|memory| loaded.bank.get(&memory.memory_id).cloned())
                .collect();
            let changes: Vec<MemoryChange> = recount_citations(&cited_memories, previous, current)
                .into_iter()
                .map(|memory| MemoryChange::RecordUse { memory })
                .collect();
            (changes, loaded.scorer.clone(), loaded.store.clone())
        })?;
        store
            .db()
            .put_value(stores::SETTINGS, keys::LEARNED_SCORER, &scorer)
            .await
            .map_err(|error| error.to_string())?;
        self.apply_quietly(engine, changes).await?;
        self.with_open(Loaded::reranker_status)
    }

    pub fn set_learned_reranker(&self, engine: &Rc<Engine>, enabled: bool) -> Result<(), String> {
        self.with_open_mut(|loaded| loaded.learned_reranker = enabled)?;
        if let Some(status) = self.status() {
            engine.post(&WorkerEvent::Bank { status });
        }
        Ok(())
    }

    /// Applies statistics changes; a failure is reported, never half-applied.
    async fn apply_quietly(
        &self,
        engine: &Rc<Engine>,
        changes: Vec<MemoryChange>,
    ) -> Result<(), String> {
        if changes.is_empty() {
            return Ok(());
        }
        let outcomes = self.apply(engine, 0, changes).await?;
        match outcomes.into_iter().find_map(|outcome| match outcome {
            ChangeOutcome::Failed { message, .. } => Some(message),
            _ => None,
        }) {
            Some(message) => Err(message),
            None => Ok(()),
        }
    }

    pub fn list(&self, query: &ListQuery) -> Result<ListPage, String> {
        self.with_open(|loaded| list(loaded.bank.memories().chain(loaded.trash.values()), query))
    }

    pub async fn history(&self, id: &MemoryId) -> Result<(Option<Memory>, Vec<Revision>), String> {
        let (store, memory) = self.with_open(|loaded| {
            (
                loaded.store.clone(),
                loaded
                    .bank
                    .get(id)
                    .or_else(|| loaded.trash.get(id))
                    .cloned(),
            )
        })?;
        let revisions = store
            .revisions(id)
            .await
            .map_err(|error| error.to_string())?;
        Ok((memory, revisions))
    }

    /// Applies `changes` in batches, each one transaction, reporting progress
    /// under `request_id` and stopping between batches if it is cancelled.
    pub async fn apply(
        &self,
        engine: &Rc<Engine>,
        request_id: u32,
        changes: Vec<MemoryChange>,
    ) -> Result<Vec<ChangeOutcome>, String> {
        let total = changes.len();
        let mut outcomes = Vec::with_capacity(total);
        let mut remaining = changes.into_iter().peekable();
        while remaining.peek().is_some() {
            if engine.is_cancelled(request_id) {
                outcomes.extend(remaining.map(|change| ChangeOutcome::Cancelled {
                    id: change.memory_id().clone(),
                }));
                break;
            }
            let batch: Vec<MemoryChange> = remaining.by_ref().take(CHANGES_PER_BATCH).collect();
            outcomes.extend(self.apply_batch(engine, batch).await?);
            if total > CHANGES_PER_BATCH {
                engine.post(&WorkerEvent::Progress {
                    id: request_id,
                    done: outcomes.len() as u64,
                    total: total as u64,
                });
            }
        }
        self.after_change(engine);
        Ok(outcomes)
    }

    /// One transaction's worth of changes. A change that conflicts with the stored
    /// state fails alone: the stored state is reloaded and the rest is retried.
    async fn apply_batch(
        &self,
        engine: &Rc<Engine>,
        batch: Vec<MemoryChange>,
    ) -> Result<Vec<ChangeOutcome>, String> {
        let mut failed: HashMap<usize, String> = HashMap::new();
        loop {
            let planned = self.plan_batch(engine, &batch, &failed).await?;
            let store = self.with_open(|loaded| loaded.store.clone())?;
            match store.commit(&planned.writes).await {
                Ok(()) => {
                    self.with_open_mut(|loaded| install(loaded, &planned))?;
                    self.announce(planned.written_ids());
                    return Ok(batch
                        .iter()
                        .enumerate()
                        .map(|(index, change)| {
                            let id = change.memory_id().clone();
                            match failed.get(&index).or(planned.rejected.get(&index)) {
                                Some(message) => ChangeOutcome::Failed {
                                    id,
                                    message: message.clone(),
                                },
                                None => match planned.results.get(&index) {
                                    Some(Some(memory)) => ChangeOutcome::Saved {
                                        memory: memory.clone(),
                                    },
                                    _ => ChangeOutcome::Purged { id },
                                },
                            }
                        })
                        .collect());
                }
                Err(DbError::Conflict(conflicting)) => {
                    let id = MemoryId(conflicting);
                    self.reload_memory(&store, &id).await?;
                    let message = ChangeError::Conflict { id: id.clone() }.to_string();
                    let mut any = false;
                    for (index, change) in batch.iter().enumerate() {
                        if change.memory_id() == &id && !failed.contains_key(&index) {
                            failed.insert(index, message.clone());
                            any = true;
                        }
                    }
                    if !any {
                        return Err(format!(
                            "Saving failed: memory {id} kept changing while it was written."
                        ));
                    }
                }
                Err(error) => {
                    return Ok(batch
                        .iter()
                        .map(|change| ChangeOutcome::Failed {
                            id: change.memory_id().clone(),
                            message: error.to_string(),
                        })
                        .collect())
                }
            }
        }
    }

    /// Decides the batch's writes (and embeds new texts) without writing yet.
    async fn plan_batch(
        &self,
        engine: &Rc<Engine>,
        batch: &[MemoryChange],
        failed: &HashMap<usize, String>,
    ) -> Result<PlannedBatch, String> {
        let (mut planned, embedder) = self.with_open(|loaded| {
            let mut planned = PlannedBatch::default();
            // Later changes in a batch see the earlier ones' results.
            let mut overlay: HashMap<MemoryId, Option<Memory>> = HashMap::new();
            let time = now();
            for (index, change) in batch.iter().enumerate() {
                if failed.contains_key(&index) {
                    continue;
                }
                let id = change.memory_id().clone();
                let current: Option<Memory> = match overlay.get(&id) {
                    Some(state) => state.clone(),
                    None => loaded
                        .bank
                        .get(&id)
                        .or_else(|| loaded.trash.get(&id))
                        .cloned(),
                };
                let expect = match (&current, change) {
                    (_, MemoryChange::RecordUse { .. }) => Expect::Any,
                    (Some(memory), _) => Expect::Revision(memory.revision),
                    (None, _) => Expect::Absent,
                };
                match apply_change(current.as_ref(), change.clone(), time) {
                    Ok(applied) => {
                        if let Some(revision) = applied.revision {
                            planned.writes.push(Write::Revision(revision));
                        }
                        match &applied.memory {
                            Some(memory) => {
                                if applied.embed {
                                    planned.to_embed.push(index);
                                }
                                planned.writes.push(Write::Memory {
                                    memory: memory.clone(),
                                    expect,
                                });
                            }
                            None => planned.writes.push(Write::Purge(id.clone())),
                        }
                        overlay.insert(id, applied.memory.clone());
                        planned.results.insert(index, applied.memory);
                    }
                    Err(error) => {
                        planned.rejected.insert(index, error.to_string());
                    }
                }
            }
            (planned, loaded.embedder.clone())
        })?;
        // Embedding happens here, before the transaction opens. Without a model,
        // changed texts lose their old vectors and are embedded once one loads.
        let to_embed: Vec<Memory> = planned
            .to_embed
            .iter()
            .filter_map(|index| planned.results.get(index)?.clone())
            .collect();
        let Some(embedder) = embedder else {
            planned.writes.extend(
                to_embed
                    .into_iter()
                    .map(|memory| Write::DropVector(memory.id)),
            );
            return Ok(planned);
        };
        if !to_embed.is_empty() {
            let texts: Vec<&str> = to_embed.iter().map(|memory| memory.text.as_str()).collect();
            let vectors = engine.embed_many(&embedder, &texts).await?;
            let model_id = embedder.manifest().id.clone();
            for (memory, vector) in to_embed.iter().zip(vectors) {
                planned.writes.push(Write::Vector(StoredVector {
                    memory_id: memory.id.clone(),
                    model_id: model_id.clone(),
                    version: memory.revision,
                    vector,
                }));
            }
        }
        Ok(planned)
    }

    async fn reload_memory(&self, store: &BankStore, id: &MemoryId) -> Result<(), String> {
        let memory = store.memory(id).await.map_err(|error| error.to_string())?;
        let vector = store.vector(id).await.map_err(|error| error.to_string())?;
        self.with_open_mut(|loaded| {
            loaded.bank.remove(id);
            loaded.trash.remove(id);
            if let Some(memory) = memory {
                place(loaded, memory, vector);
            }
        })
    }

    /// After any change: embed what lacks a vector, rebuild the index if due,
    /// and report the new state.
    fn after_change(&self, engine: &Rc<Engine>) {
        self.embed_pending(engine);
        self.rebuild_if_due(engine);
        if let Some(status) = self.status() {
            engine.post(&WorkerEvent::Bank { status });
        }
    }

    /// Starts a snapshot build in a builder worker when the index says one pays
    /// off. Searches go on meanwhile (exactly over the buffer, through the old
    /// graph for the rest); changes made during the build are kept by `install`.
    fn rebuild_if_due(&self, engine: &Rc<Engine>) {
        let job = self
            .with_open_mut(|loaded| {
                let vectors = loaded.bank.vectors();
                if loaded.rebuilding || !vectors.needs_rebuild() {
                    return None;
                }
                loaded.rebuilding = true;
                Some((
                    vectors.rebuild_input(),
                    vectors.config().clone(),
                    loaded.bank.model_id().to_owned(),
                    loaded.store.clone(),
                ))
            })
            .ok()
            .flatten();
        let Some((input, config, model_id, store)) = job else {
            return;
        };
        let engine = engine.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let bank = &engine.bank;
            let built = build_elsewhere(&input, config).await;
            let installed = match built {
                Ok(bytes) => match BuiltSnapshot::from_bytes(&bytes, input) {
                    Ok(snapshot) => {
                        let same_model = bank
                            .with_open_mut(|loaded| {
                                let same = loaded.bank.model_id() == model_id;
                                if same {
                                    loaded.bank.vectors_mut().install(snapshot);
                                }
                                same
                            })
                            .unwrap_or(false);
                        if same_model {
                            if let Err(error) = store.save_snapshot(&model_id, &bytes).await {
                                // The index works; only the next start rebuilds it.
                                web_sys::console::warn_1(
                                    &format!("The index could not be saved: {error}").into(),
                                );
                            }
                        }
                        Ok(())
                    }
                    Err(error) => Err(error.to_string()),
                },
                Err(error) => Err(error),
            };
            let _ = bank.with_open_mut(|loaded| loaded.rebuilding = false);
            match installed {
                // More may have changed while it built.
                Ok(()) => bank.after_change(&engine),
                Err(error) => {
                    web_sys::console::warn_1(
                        &format!("Rebuilding the index failed; exact search goes on: {error}")
                            .into(),
                    );
                    if let Some(status) = bank.status() {
                        engine.post(&WorkerEvent::Bank { status });
                    }
                }
            }
        });
    }

    /// Starts (unless running) the background pass that embeds memories that have
    /// no vector from the current model, a few at a time.
    fn embed_pending(&self, engine: &Rc<Engine>) {
        let start = self
            .with_open_mut(|loaded| {
                let start = loaded.embedder.is_some()
                    && !loaded.embedding_pending
                    && loaded.bank.vectors().len() < loaded.bank.len();
                if start {
                    loaded.embedding_pending = true;
                }
                start
            })
            .unwrap_or(false);
        if !start {
            return;
        }
        let engine = engine.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let bank = &engine.bank;
            loop {
                match bank.embed_some_pending(&engine).await {
                    Ok(0) => break,
                    Ok(_) => {
                        if let Some(status) = bank.status() {
                            engine.post(&WorkerEvent::Bank { status });
                        }
                    }
                    Err(error) => {
                        web_sys::console::warn_1(
                            &format!("Embedding stored memories stopped: {error}").into(),
                        );
                        break;
                    }
                }
            }
            let _ = bank.with_open_mut(|loaded| loaded.embedding_pending = false);
        });
    }

    /// Embeds a few memories that have no vector; returns how many.
    async fn embed_some_pending(&self, engine: &Rc<Engine>) -> Result<usize, String> {
        let (store, embedder, memories) = self.with_open(|loaded| {
            let memories: Vec<Memory> = loaded
                .bank
                .memories()
                .filter(|memory| !loaded.bank.vectors().contains(&memory.id))
                .take(BACKGROUND_EMBED_BATCH)
                .cloned()
                .collect();
            (loaded.store.clone(), loaded.embedder.clone(), memories)
        })?;
        let Some(embedder) = embedder else {
            return Ok(0);
        };
        if memories.is_empty() {
            return Ok(0);
        }
        let texts: Vec<&str> = memories.iter().map(|memory| memory.text.as_str()).collect();
        let vectors = engine.embed_many(&embedder, &texts).await?;
        let model_id = embedder.manifest().id.clone();
        let mut writes = Vec::with_capacity(memories.len() * 2);
        let mut stored = Vec::with_capacity(memories.len());
        for (memory, vector) in memories.iter().zip(vectors) {
            // Rewriting the memory unchanged guards the vector: if the memory was
            // edited meanwhile, the batch conflicts instead of storing a stale vector.
            writes.push(Write::Memory {
                memory: memory.clone(),
                expect: Expect::Revision(memory.revision),
            });
            let vector = StoredVector {
                memory_id: memory.id.clone(),
                model_id: model_id.clone(),
                version: memory.revision,
                vector,
            };
            writes.push(Write::Vector(vector.clone()));
            stored.push(vector);
        }
        match store.commit(&writes).await {
            Ok(()) => self.announce(memories.iter().map(|memory| memory.id.clone()).collect()),
            Err(DbError::Conflict(id)) => {
                self.reload_memory(&store, &MemoryId(id)).await?;
                return Ok(memories.len());
            }
            Err(error) => return Err(error.to_string()),
        }
        self.with_open_mut(|loaded| {
            for vector in &stored {
                let current = loaded.bank.get(&vector.memory_id).map(|m| m.revision);
                if current == Some(vector.version) {
                    // The vector was computed for the stored text, so this cannot
                    // fail on dimension (same model) nor on finiteness (checked).
                    let _ = loaded.bank.vectors_mut().insert(
                        vector.memory_id.clone(),
                        vector.version,
                        &vector.vector,
                    );
                }
            }
        })?;
        Ok(memories.len())
    }

    /// The memories (live and trashed) that still need a vector of the model
    /// `model_id` a switch moves to, given what its stored vectors were computed
    /// for; and how many memories there are.
    pub fn needing_vector_of(
        &self,
        stamps: &HashMap<MemoryId, TargetStamp>,
        model_id: &str,
    ) -> Result<(Vec<Memory>, usize), String> {
        self.with_open(|loaded| {
            let all = || loaded.bank.memories().chain(loaded.trash.values());
            let pending = needing_target(all(), stamps, model_id)
                .into_iter()
                .cloned()
                .collect();
            (pending, loaded.bank.len() + loaded.trash.len())
        })
    }

    /// The ids of every memory `query` matches, in its order.
    pub fn memory_ids(&self, query: &ListQuery) -> Result<Vec<MemoryId>, String> {
        self.with_open(|loaded| {
            matching_ids(loaded.bank.memories().chain(loaded.trash.values()), query)
        })
    }

    /// Applies `edit` to the memories `ids` as stored now; returns what happened
    /// to each and the changes that undo it. Ids that no longer exist are skipped.
    pub async fn edit_memories(
        &self,
        engine: &Rc<Engine>,
        request_id: u32,
        ids: &[MemoryId],
        edit: &BulkEdit,
    ) -> Result<(Vec<ChangeOutcome>, Vec<MemoryChange>), String> {
        let before: Vec<Memory> = self.with_open(|loaded| {
            ids.iter()
                .filter_map(|id| loaded.bank.get(id).or_else(|| loaded.trash.get(id)))
                .cloned()
                .collect()
        })?;
        let time = now();
        let changes = bulk_changes(edit, &before, |_| MemoryId::new(time, random_u64()), time);
        let outcomes = self.apply(engine, request_id, changes).await?;
        let before_by_id: HashMap<&MemoryId, &Memory> =
            before.iter().map(|memory| (&memory.id, memory)).collect();
        let undo = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                ChangeOutcome::Saved { memory } => {
                    undo_change(before_by_id.get(&memory.id).copied(), Some(memory))
                }
                _ => None,
            })
            .collect();
        Ok((outcomes, undo))
    }

    /// The export file of the store (or of one pool) and how many memories it holds.
    pub async fn export(
        &self,
        pool: Option<String>,
        include_trashed: bool,
        include_vectors: bool,
    ) -> Result<(String, usize), String> {
        let (store, model) = self.with_open(|loaded| {
            let model = loaded.embedder.as_ref().map(|embedder| VectorModel {
                model_id: embedder.manifest().id.clone(),
                dimension: embedder.manifest().dimension,
            });
            (loaded.store.clone(), model)
        })?;
        let records = store.read_all().await.map_err(|error| error.to_string())?;
        let (pools, assistants) = with_defaults(records.pools, records.assistants);
        let scope = pool.map_or(ExportScope::Everything, ExportScope::Pool);
        let exported = records
            .memories
            .iter()
            .filter(|memory| {
                (include_trashed || memory.trashed_at.is_none())
                    && match &scope {
                        ExportScope::Everything => true,
                        ExportScope::Pool(pool) => &memory.pool == pool,
                    }
            })
            .count();
        let options = ExportOptions {
            scope,
            include_trashed,
            vectors: model.filter(|_| include_vectors),
            now: now(),
        };
        let contents = StoreContents {
            pools: &pools,
            assistants: &assistants,
            memories: &records.memories,
            revisions: &records.revisions,
        };
        let json = export(&contents, &records.vectors, &options)
            .map_err(|error| sentence(&error.to_string()))?;
        Ok((json, exported))
    }

    /// What importing `file` in `mode` would change (nothing is written).
    pub async fn check_import(
        &self,
        file: &[u8],
        mode: ImportMode,
    ) -> Result<ImportSummary, String> {
        Ok(self.plan_import(file, mode).await?.0.summary)
    }

    /// Imports `file` in one transaction, then reloads the bank from the store.
    pub async fn import(
        &self,
        engine: &Rc<Engine>,
        file: &[u8],
        mode: ImportMode,
    ) -> Result<(ImportSummary, BankStatus), String> {
        let (plan, store) = self.plan_import(file, mode).await?;
        store
            .apply_import(&plan)
            .await
            .map_err(|error| format!("Nothing was imported: {error}"))?;
        let embedder = self.with_open(|loaded| loaded.embedder.clone())?;
        let mut reloaded = load(embedder).await.map_err(|error| {
            format!("The import was saved, but the memory could not be reloaded (reload the page): {error}")
        })?;
        // A background embedding pass that is running carries on with the new state.
        reloaded.embedding_pending = self
            .with_open(|loaded| loaded.embedding_pending)
            .unwrap_or(false);
        self.state.replace(State::Open(Box::new(reloaded)));
        self.after_change(engine);
        let status = self
            .status()
            .ok_or_else(|| "The memory is not open.".to_owned())?;
        Ok((plan.summary, status))
    }

    async fn plan_import(
        &self,
        file: &[u8],
        mode: ImportMode,
    ) -> Result<(ImportPlan, BankStore), String> {
        let file = parse_import(file, MAX_IMPORT_BYTES)
            .map_err(|error| format!("This file cannot be imported: {error}."))?;
        let (store, model_id) =
            self.with_open(|loaded| (loaded.store.clone(), loaded.bank.model_id().to_owned()))?;
        let records = store.read_all().await.map_err(|error| error.to_string())?;
        let contents = StoreContents {
            pools: &records.pools,
            assistants: &records.assistants,
            memories: &records.memories,
            revisions: &records.revisions,
        };
        let plan = plan_import(&contents, &file, mode, &model_id, now());
        Ok((plan, store))
    }

    /// The 2-D map of the live memories `filter` allows that have a vector.
    pub fn memory_map(
        &self,
        filter: &MemoryFilter,
        max_points: usize,
    ) -> Result<MemoryMap, String> {
        self.with_open(|loaded| {
            let mut members: Vec<(&Memory, &[f32])> = loaded
                .bank
                .memories()
                .filter(|memory| filter.allows(memory))
                .filter_map(|memory| Some((memory, loaded.bank.vectors().vector(&memory.id)?)))
                .collect();
            members.sort_by(|a, b| a.0.id.cmp(&b.0.id));
            let vectors: Vec<&[f32]> = members.iter().map(|(_, vector)| *vector).collect();
            let Some(projection) = Projection::fit(&vectors) else {
                return MemoryMap::default();
            };
            let step = members.len().div_ceil(max_points.max(1)).max(1);
            let points = members
                .iter()
                .step_by(step)
                .map(|(memory, vector)| {
                    let [x, y] = projection.project(vector);
                    MapPoint {
                        id: memory.id.clone(),
                        kind: memory.kind,
                        x,
                        y,
                        label: excerpt(&memory.text),
                    }
                })
                .collect();
            MemoryMap {
                points,
                total: members.len(),
                explained: projection.explained,
            }
        })
    }

    /// Memories added, changed and last used per period of local days.
    pub async fn timeline(
        &self,
        utc_offset_minutes: i32,
        max_buckets: usize,
    ) -> Result<Timeline, String> {
        let store = self.with_open(|loaded| loaded.store.clone())?;
        let revisions = store
            .all_revisions()
            .await
            .map_err(|error| error.to_string())?;
        self.with_open(|loaded| {
            timeline(
                loaded.bank.memories().chain(loaded.trash.values()),
                &revisions,
                i64::from(utc_offset_minutes) * 60_000,
                max_buckets,
            )
        })
    }
}

/// The first line of `text`, cut to a tooltip's length.
fn excerpt(text: &str) -> String {
    const CHARS: usize = 80;
    let line = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("");
    let mut shown: String = line.trim().chars().take(CHARS).collect();
    if shown.len() < line.trim().len() {
        shown.push('…');
    }
    shown
}

/// `text` with its first letter capitalised (core errors read as clauses).
fn sentence(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// Builds a snapshot of `input` in a worker of its own (the same script as this
/// one), which is stopped afterwards to give its memory back.
async fn build_elsewhere(input: &RebuildInput, config: IndexConfig) -> Result<Vec<u8>, String> {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let builder =
        WorkerClient::spawn(&scope.location().href()).map_err(|error| error.to_string())?;
    builder.ready().await.map_err(|error| error.to_string())?;
    builder
        .build_index(IndexInput::from(input), config)
        .await
        .map_err(|error| error.to_string())
}

#[derive(Default)]
struct PlannedBatch {
    writes: Vec<Write>,
    /// Per change index: the memory's new state (`None`: purged).
    results: HashMap<usize, Option<Memory>>,
    /// Per change index: why it was refused before writing.
    rejected: HashMap<usize, String>,
    to_embed: Vec<usize>,
}

impl PlannedBatch {
    /// The memories this batch writes or purges.
    fn written_ids(&self) -> Vec<MemoryId> {
        self.writes
            .iter()
            .filter_map(|write| match write {
                Write::Memory { memory, .. } => Some(memory.id.clone()),
                Write::Purge(id) => Some(id.clone()),
                Write::Vector(_) | Write::DropVector(_) | Write::Revision(_) => None,
            })
            .collect()
    }
}

/// Brings the in-memory bank in line with a committed batch.
fn install(loaded: &mut Loaded, planned: &PlannedBatch) {
    let vectors: HashMap<&MemoryId, &StoredVector> = planned
        .writes
        .iter()
        .filter_map(|write| match write {
            Write::Vector(vector) => Some((&vector.memory_id, vector)),
            _ => None,
        })
        .collect();
    for write in &planned.writes {
        match write {
            Write::Memory { memory, .. } => {
                let vector = vectors.get(&memory.id).map(|vector| (*vector).clone());
                place(loaded, memory.clone(), vector);
            }
            Write::Purge(id) => {
                loaded.bank.remove(id);
                loaded.trash.remove(id);
            }
            Write::DropVector(id) => {
                loaded.bank.vectors_mut().remove(id);
            }
            Write::Vector(_) | Write::Revision(_) => {}
        }
    }
}

/// Puts a memory where it belongs: the searchable bank, or the trash.
fn place(loaded: &mut Loaded, memory: Memory, vector: Option<StoredVector>) {
    if memory.trashed_at.is_some() {
        loaded.bank.remove(&memory.id);
        loaded.trash.insert(memory.id.clone(), memory);
        return;
    }
    loaded.trash.remove(&memory.id);
    let vector = vector.filter(|vector| vector.model_id == loaded.bank.model_id());
    let result = match &vector {
        Some(vector) => loaded
            .bank
            .upsert(memory.clone(), Some((vector.version, &vector.vector))),
        None => loaded.bank.upsert(memory.clone(), None),
    };
    if result.is_err() {
        // A vector that does not fit the index is dropped: the memory stays
        // findable by keywords and will be embedded again.
        loaded.bank.vectors_mut().remove(&memory.id);
        let _ = loaded.bank.upsert(memory, None);
    }
}

fn status_of(loaded: &Loaded) -> BankStatus {
    let vectors = loaded.bank.vectors();
    BankStatus {
        memories: loaded.bank.len(),
        trashed: loaded.trash.len(),
        embedded: vectors.len(),
        model_id: loaded
            .embedder
            .as_ref()
            .map(|embedder| embedder.manifest().id.clone()),
        buffered: vectors.buffered(),
        graph: vectors.has_graph(),
        rebuilding: loaded.rebuilding,
        reranker: loaded.reranker_status(),
    }
}

async fn load(embedder: Option<Rc<Embedder>>) -> Result<Loaded, DbError> {
    let db = Db::open(&CASEBOOK).await?;
    let store = BankStore::new(db);
    let (model_id, dimension) = match &embedder {
        Some(embedder) => (
            embedder.manifest().id.clone(),
            embedder.manifest().dimension,
        ),
        None => (String::new(), NO_MODEL_DIMENSION),
    };
    let opened = store
        .load(&model_id, |memories| {
            let (live, trashed): (Vec<Memory>, Vec<Memory>) = memories
                .into_iter()
                .partition(|memory| memory.trashed_at.is_none());
            (IndexedMemories::new(live), trashed)
        })
        .await?;
    let (live, trashed) = opened.memories;
    let (bank, _report) = CaseBank::load(
        model_id,
        dimension,
        IndexConfig::default(),
        live,
        opened.vectors,
        opened.snapshot.as_deref(),
    )
    .map_err(|error| DbError::Malformed(error.to_string()))?;
    // A missing or unreadable scorer (e.g. saved by a version with other
    // features) starts afresh rather than failing the bank.
    let scorer = store
        .db()
        .get_value::<LearnedScorer>(stores::SETTINGS, keys::LEARNED_SCORER)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let learning = store
        .db()
        .get_value::<LearningSettings>(stores::SETTINGS, keys::LEARNING)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    Ok(Loaded {
        store,
        bank,
        trash: trashed
            .into_iter()
            .map(|memory| (memory.id.clone(), memory))
            .collect(),
        embedder,
        embedding_pending: false,
        scorer,
        learned_reranker: learning.learned_reranker,
        rebuilding: false,
    })
}
