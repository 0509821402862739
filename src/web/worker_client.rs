//! The page's side of the background worker: spawns it, queues requests until it
//! has started, and matches answers to requests by id.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use futures_channel::oneshot;
use thiserror::Error;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, MessageEvent, Worker};

use crate::core::bank::MemoryFilter;
use crate::core::changes::MemoryChange;
use crate::core::conversation::UsedMemory;
use crate::core::editing::BulkEdit;
use crate::core::index::IndexConfig;
use crate::core::listing::{ListPage, ListQuery};
use crate::core::memory::{Memory, MemoryId, Outcome, Revision};
use crate::core::model_switch::{ModelChoice, SwitchProgress};
use crate::core::protocol::{
    BankStatus, ChangeOutcome, Envelope, FileBytes, IndexInput, MemoryMap, ModelStatus,
    ModelSummary, Reply, Request, RerankerStatus, Reranking, SearchHit, SwitchStatus, WorkerEvent,
    WorkerInfo,
};
use crate::core::timeline::Timeline;
use crate::core::transfer::{ImportMode, ImportSummary};

#[derive(Debug, Clone, Error, PartialEq)]
pub enum WorkerError {
    #[error("The background worker could not start: {0}")]
    Start(String),
    #[error("The background worker stopped: {0}")]
    Stopped(String),
    #[error("{0}")]
    Failed(String),
    #[error("The background worker sent a message this page does not understand ({0}). Reload the page.")]
    Protocol(String),
}

type Answer = Result<Reply, WorkerError>;
type ModelListener = Box<dyn Fn(ModelStatus)>;
type BankListener = Box<dyn Fn(BankStatus)>;
type SwitchListener = Box<dyn Fn(SwitchStatus)>;
type ProgressListener = Box<dyn Fn(u64, u64)>;
type ChangesListener = Box<dyn Fn(Vec<MemoryId>)>;

/// What a bulk edit did, and how to undo it.
#[derive(Debug, Clone, PartialEq)]
pub struct EditedMemories {
    pub outcomes: Vec<ChangeOutcome>,
    pub undo: Vec<MemoryChange>,
}

/// What a search returned, and how long its two steps took.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    pub embed_ms: f64,
    pub search_ms: f64,
}

enum State {
    /// Started but not yet ready: requests wait here, in order.
    Starting {
        queued: Vec<JsValue>,
        ready_waiters: Vec<oneshot::Sender<Result<WorkerInfo, WorkerError>>>,
    },
    Ready(WorkerInfo),
    Stopped(WorkerError),
}

struct Shared {
    worker: Worker,
    next_id: Cell<u32>,
    pending: RefCell<HashMap<u32, oneshot::Sender<Answer>>>,
    state: RefCell<State>,
    model_listener: RefCell<Option<ModelListener>>,
    bank_listener: RefCell<Option<BankListener>>,
    switch_listener: RefCell<Option<SwitchListener>>,
    progress_listeners: RefCell<HashMap<u32, ProgressListener>>,
    changes_listener: RefCell<Option<ChangesListener>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// A handle to the worker. Cheap to clone; the worker stops when the last handle
/// is dropped.
#[derive(Clone)]
pub struct WorkerClient(Rc<Shared>);

impl WorkerClient {
    /// Starts the worker whose loader script is at `script_url` (relative to the
    /// document's base URL).
    pub fn spawn(script_url: &str) -> Result<WorkerClient, WorkerError> {
        let worker = Worker::new(script_url)
            .map_err(|error| WorkerError::Start(super::js_error_text(&error)))?;
        let shared = Rc::new_cyclic(|weak: &Weak<Shared>| {
            let on_message = {
                let weak = weak.clone();
                Closure::new(move |event: MessageEvent| {
                    if let Some(shared) = weak.upgrade() {
                        shared.receive(event.data());
                    }
                })
            };
            let on_error = {
                let weak = weak.clone();
                Closure::new(move |event: ErrorEvent| {
                    event.prevent_default();
                    if let Some(shared) = weak.upgrade() {
                        let message = event.message();
                        let reason = if message.is_empty() {
                            // Script load failures (404, bad MIME type) carry no message.
                            "its script could not be loaded".to_owned()
                        } else {
                            message
                        };
                        shared.stop(WorkerError::Stopped(reason));
                    }
                })
            };
            worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            Shared {
                worker,
                next_id: Cell::new(1),
                pending: RefCell::default(),
                state: RefCell::new(State::Starting {
                    queued: Vec::new(),
                    ready_waiters: Vec::new(),
                }),
                model_listener: RefCell::new(None),
                bank_listener: RefCell::new(None),
                switch_listener: RefCell::new(None),
                progress_listeners: RefCell::default(),
                changes_listener: RefCell::new(None),
                _on_message: on_message,
                _on_error: on_error,
            }
        });
        Ok(WorkerClient(shared))
    }

    /// Waits until the worker has started and reports what it can do.
    pub async fn ready(&self) -> Result<WorkerInfo, WorkerError> {
        let receiver = {
            let mut state = self.0.state.borrow_mut();
            match &mut *state {
                State::Ready(info) => return Ok(info.clone()),
                State::Stopped(error) => return Err(error.clone()),
                State::Starting { ready_waiters, .. } => {
                    let (sender, receiver) = oneshot::channel();
                    ready_waiters.push(sender);
                    receiver
                }
            }
        };
        receiver
            .await
            .unwrap_or_else(|_| Err(WorkerError::Stopped("the page closed the worker".into())))
    }

    /// Calls `listener` with every change in the embedding model's loading.
    pub fn on_model_status(&self, listener: impl Fn(ModelStatus) + 'static) {
        *self.0.model_listener.borrow_mut() = Some(Box::new(listener));
    }

    /// Calls `listener` with every change in the case bank's counts and index.
    pub fn on_bank_status(&self, listener: impl Fn(BankStatus) + 'static) {
        *self.0.bank_listener.borrow_mut() = Some(Box::new(listener));
    }

    /// Calls `listener` with every change in a switch of the embedding model.
    pub fn on_switch_status(&self, listener: impl Fn(SwitchStatus) + 'static) {
        *self.0.switch_listener.borrow_mut() = Some(Box::new(listener));
    }

    /// Calls `listener` when another tab changed memories (this tab's bank has
    /// already caught up).
    pub fn on_memories_changed_elsewhere(&self, listener: impl Fn(Vec<MemoryId>) + 'static) {
        *self.0.changes_listener.borrow_mut() = Some(Box::new(listener));
    }

    /// Sends a ping; returns the echoed text.
    pub async fn ping(&self, text: String) -> Result<String, WorkerError> {
        match self.request(Request::Ping { text }).await? {
            Reply::Pong { text, .. } => Ok(text),
            other => Err(unexpected(&other)),
        }
    }

    /// Loads (or finds loaded) the model under `base_url`.
    pub async fn load_model(&self, base_url: String) -> Result<ModelSummary, WorkerError> {
        match self.request(Request::LoadModel { base_url }).await? {
            Reply::ModelLoaded { model } => Ok(model),
            other => Err(unexpected(&other)),
        }
    }

    /// Which model is in use and which one a switch moves to, as stored.
    pub async fn model_choice(&self) -> Result<ModelChoice, WorkerError> {
        match self.request(Request::ModelChoice).await? {
            Reply::ModelChoice { choice } => Ok(choice),
            other => Err(unexpected(&other)),
        }
    }

    /// Starts (or resumes) switching to the model under `base_url`; answers once
    /// the new model loaded and the re-embedding runs.
    pub async fn switch_model(
        &self,
        base_url: String,
    ) -> Result<(ModelSummary, SwitchProgress), WorkerError> {
        match self.request(Request::SwitchModel { base_url }).await? {
            Reply::SwitchStarted { model, progress } => Ok((model, progress)),
            other => Err(unexpected(&other)),
        }
    }

    /// Cancels the switch under way: its vectors are deleted, the model in use stays.
    pub async fn cancel_switch(&self) -> Result<(), WorkerError> {
        match self.request(Request::CancelSwitch).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Embeds `texts`; returns the model id and one vector per text. The texts
    /// are sent at the call, so the caller may do other work before awaiting.
    pub fn embed(
        &self,
        texts: Vec<String>,
    ) -> impl std::future::Future<Output = Result<(String, Vec<Vec<f32>>), WorkerError>> {
        let reply = self.request(Request::Embed { texts });
        async move {
            match reply.await? {
                Reply::Embeddings { model_id, vectors } => Ok((model_id, vectors)),
                other => Err(unexpected(&other)),
            }
        }
    }

    /// Loads the case bank (after the model's load settles).
    pub async fn open_bank(&self) -> Result<BankStatus, WorkerError> {
        match self.request(Request::OpenBank).await? {
            Reply::BankOpened { status } => Ok(status),
            other => Err(unexpected(&other)),
        }
    }

    /// The `k` best memories for `text` among those `filter` allows, reranked
    /// as the user switched it.
    pub async fn search(
        &self,
        text: String,
        k: usize,
        filter: MemoryFilter,
    ) -> Result<SearchResults, WorkerError> {
        self.search_reranked(text, k, filter, Reranking::AsSwitched)
            .await
    }

    /// [`WorkerClient::search`] with the learned reranker chosen by the caller.
    pub async fn search_reranked(
        &self,
        text: String,
        k: usize,
        filter: MemoryFilter,
        reranking: Reranking,
    ) -> Result<SearchResults, WorkerError> {
        let request = Request::Search {
            text,
            k,
            filter,
            reranking,
        };
        match self.request(request).await? {
            Reply::SearchResults {
                results,
                embed_ms,
                search_ms,
            } => Ok(SearchResults {
                hits: results,
                embed_ms,
                search_ms,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Applies `changes`; `on_progress(done, total)` follows long lists. Returns
    /// the request's id (to [`WorkerClient::cancel`] it) and its outcome.
    pub fn apply_changes(
        &self,
        changes: Vec<MemoryChange>,
        on_progress: impl Fn(u64, u64) + 'static,
    ) -> (
        u32,
        impl std::future::Future<Output = Result<Vec<ChangeOutcome>, WorkerError>>,
    ) {
        let (id, reply) =
            self.request_with_progress(Request::ApplyChanges { changes }, on_progress);
        let outcome = async move {
            match reply.await? {
                Reply::ChangesApplied { outcomes } => Ok(outcomes),
                other => Err(unexpected(&other)),
            }
        };
        (id, outcome)
    }

    /// Applies `changes` without following progress.
    pub async fn apply(
        &self,
        changes: Vec<MemoryChange>,
    ) -> Result<Vec<ChangeOutcome>, WorkerError> {
        self.apply_changes(changes, |_, _| {}).1.await
    }

    /// Asks request `request_id` to stop at its next safe point.
    pub async fn cancel(&self, request_id: u32) -> Result<(), WorkerError> {
        self.request(Request::Cancel { request_id })
            .await
            .map(|_| ())
    }

    pub async fn list_memories(&self, query: ListQuery) -> Result<ListPage, WorkerError> {
        match self.request(Request::ListMemories { query }).await? {
            Reply::MemoryList { page } => Ok(page),
            other => Err(unexpected(&other)),
        }
    }

    /// A memory (live or in the trash) and its earlier revisions, oldest first.
    pub async fn memory_history(
        &self,
        id: MemoryId,
    ) -> Result<(Option<Memory>, Vec<Revision>), WorkerError> {
        match self.request(Request::MemoryHistory { id }).await? {
            Reply::History { memory, revisions } => Ok((memory, revisions)),
            other => Err(unexpected(&other)),
        }
    }

    /// Counts a use of each memory (they went into a prompt).
    pub async fn mark_used(&self, ids: Vec<MemoryId>) -> Result<(), WorkerError> {
        self.request(Request::MarkUsed { ids }).await.map(|_| ())
    }

    /// Records a changed verdict on an answer (see `Request::RecordVerdict`).
    pub async fn record_verdict(
        &self,
        used: Vec<UsedMemory>,
        cited: Vec<u32>,
        previous: Option<Outcome>,
        current: Option<Outcome>,
    ) -> Result<RerankerStatus, WorkerError> {
        let request = Request::RecordVerdict {
            used,
            cited,
            previous,
            current,
        };
        match self.request(request).await? {
            Reply::VerdictRecorded { reranker } => Ok(reranker),
            other => Err(unexpected(&other)),
        }
    }

    pub async fn set_learned_reranker(&self, enabled: bool) -> Result<(), WorkerError> {
        self.request(Request::SetLearnedReranker { enabled })
            .await
            .map(|_| ())
    }

    /// Builds a vector-index snapshot; returns its saved form.
    pub async fn build_index(
        &self,
        input: IndexInput,
        config: IndexConfig,
    ) -> Result<Vec<u8>, WorkerError> {
        match self.request(Request::BuildIndex { input, config }).await? {
            Reply::IndexBuilt { snapshot } => Ok(snapshot),
            other => Err(unexpected(&other)),
        }
    }

    /// The ids of every memory `query` matches, in its order.
    pub async fn memory_ids(&self, query: ListQuery) -> Result<Vec<MemoryId>, WorkerError> {
        match self.request(Request::MemoryIds { query }).await? {
            Reply::MemoryIds { ids } => Ok(ids),
            other => Err(unexpected(&other)),
        }
    }

    /// Applies `edit` to the memories `ids`; `on_progress(done, total)` follows
    /// long lists. Returns the request's id (to cancel it) and, once done, what
    /// happened to each memory and the changes that undo the edit.
    pub fn edit_memories(
        &self,
        ids: Vec<MemoryId>,
        edit: BulkEdit,
        on_progress: impl Fn(u64, u64) + 'static,
    ) -> (
        u32,
        impl std::future::Future<Output = Result<EditedMemories, WorkerError>>,
    ) {
        let (id, reply) =
            self.request_with_progress(Request::EditMemories { ids, edit }, on_progress);
        let outcome = async move {
            match reply.await? {
                Reply::MemoriesEdited { outcomes, undo } => Ok(EditedMemories { outcomes, undo }),
                other => Err(unexpected(&other)),
            }
        };
        (id, outcome)
    }

    /// The export file (JSON) of the whole store or of `pool`, and how many
    /// memories it holds.
    pub async fn export(
        &self,
        pool: Option<String>,
        include_trashed: bool,
        include_vectors: bool,
    ) -> Result<(String, usize), WorkerError> {
        let request = Request::Export {
            pool,
            include_trashed,
            include_vectors,
        };
        match self.request(request).await? {
            Reply::Exported { json, memories } => Ok((json, memories)),
            other => Err(unexpected(&other)),
        }
    }

    /// What importing `file` in `mode` would change; nothing is written.
    pub async fn check_import(
        &self,
        file: Vec<u8>,
        mode: ImportMode,
    ) -> Result<ImportSummary, WorkerError> {
        let request = Request::CheckImport {
            file: FileBytes(file),
            mode,
        };
        match self.request(request).await? {
            Reply::ImportChecked { summary } => Ok(summary),
            other => Err(unexpected(&other)),
        }
    }

    /// Imports `file` in `mode` (all or nothing); returns what changed and the
    /// reloaded bank's status.
    pub async fn import(
        &self,
        file: Vec<u8>,
        mode: ImportMode,
    ) -> Result<(ImportSummary, BankStatus), WorkerError> {
        let request = Request::Import {
            file: FileBytes(file),
            mode,
        };
        match self.request(request).await? {
            Reply::Imported { summary, status } => Ok((summary, status)),
            other => Err(unexpected(&other)),
        }
    }

    /// The 2-D map of the memories `filter` allows (at most `max_points`).
    pub async fn memory_map(
        &self,
        filter: MemoryFilter,
        max_points: usize,
    ) -> Result<MemoryMap, WorkerError> {
        match self
            .request(Request::MemoryMap { filter, max_points })
            .await?
        {
            Reply::MemoryMap { map } => Ok(map),
            other => Err(unexpected(&other)),
        }
    }

    /// Memories added, changed and last used per period of local days.
    pub async fn timeline(
        &self,
        utc_offset_minutes: i32,
        max_buckets: usize,
    ) -> Result<Timeline, WorkerError> {
        let request = Request::Timeline {
            utc_offset_minutes,
            max_buckets,
        };
        match self.request(request).await? {
            Reply::Timeline { timeline } => Ok(timeline),
            other => Err(unexpected(&other)),
        }
    }

    /// Sends `request` under a new id whose progress events go to `on_progress`.
    fn request_with_progress(
        &self,
        request: Request,
        on_progress: impl Fn(u64, u64) + 'static,
    ) -> (
        u32,
        impl std::future::Future<Output = Result<Reply, WorkerError>>,
    ) {
        let id = self.next_id();
        self.0
            .progress_listeners
            .borrow_mut()
            .insert(id, Box::new(on_progress));
        let client = self.clone();
        let reply = async move {
            let reply = client.request_as(id, request).await;
            client.0.progress_listeners.borrow_mut().remove(&id);
            reply
        };
        (id, reply)
    }

    fn next_id(&self) -> u32 {
        let id = self.0.next_id.get();
        self.0.next_id.set(id.wrapping_add(1).max(1));
        id
    }

    /// Sends `request` now (or queues it until the worker is ready); the future
    /// waits for its answer. Sending at the call, not at the first poll, lets a
    /// caller hand work to this worker and then block on work of its own.
    fn request(
        &self,
        request: Request,
    ) -> impl std::future::Future<Output = Result<Reply, WorkerError>> {
        let id = self.next_id();
        self.request_as(id, request)
    }

    fn request_as(
        &self,
        id: u32,
        request: Request,
    ) -> impl std::future::Future<Output = Result<Reply, WorkerError>> {
        let sent = self.send(id, request);
        async move {
            sent?
                .await
                .unwrap_or_else(|_| Err(WorkerError::Stopped("the page closed the worker".into())))
        }
    }

    fn send(&self, id: u32, request: Request) -> Result<oneshot::Receiver<Answer>, WorkerError> {
        let message = serde_wasm_bindgen::to_value(&Envelope { id, request })
            .map_err(|error| WorkerError::Protocol(error.to_string()))?;
        let (sender, receiver) = oneshot::channel();
        self.0.pending.borrow_mut().insert(id, sender);
        let mut state = self.0.state.borrow_mut();
        match &mut *state {
            State::Starting { queued, .. } => queued.push(message),
            State::Ready(_) => self.0.post(&message),
            State::Stopped(error) => {
                self.0.pending.borrow_mut().remove(&id);
                return Err(error.clone());
            }
        }
        Ok(receiver)
    }
}

fn unexpected(reply: &Reply) -> WorkerError {
    WorkerError::Protocol(format!("an unexpected answer: {reply:?}"))
}

impl Shared {
    fn post(&self, message: &JsValue) {
        if let Err(error) = self.worker.post_message(message) {
            self.stop(WorkerError::Stopped(super::js_error_text(&error)));
        }
    }

    fn receive(&self, data: JsValue) {
        let event: WorkerEvent = match serde_wasm_bindgen::from_value(data) {
            Ok(event) => event,
            Err(error) => {
                self.stop(WorkerError::Protocol(error.to_string()));
                return;
            }
        };
        match event {
            WorkerEvent::Ready { info } => {
                let previous = self.state.replace(State::Ready(info.clone()));
                if let State::Starting {
                    queued,
                    ready_waiters,
                } = previous
                {
                    for message in &queued {
                        self.post(message);
                    }
                    for waiter in ready_waiters {
                        let _ = waiter.send(Ok(info.clone()));
                    }
                }
            }
            WorkerEvent::Reply { id, reply } => self.answer(id, Ok(reply)),
            WorkerEvent::Failed { id, message } => {
                self.answer(id, Err(WorkerError::Failed(message)))
            }
            WorkerEvent::Model { status } => {
                if let Some(listener) = &*self.model_listener.borrow() {
                    listener(status);
                }
            }
            WorkerEvent::Bank { status } => {
                if let Some(listener) = &*self.bank_listener.borrow() {
                    listener(status);
                }
            }
            WorkerEvent::Switch { status } => {
                if let Some(listener) = &*self.switch_listener.borrow() {
                    listener(status);
                }
            }
            WorkerEvent::MemoriesChangedElsewhere { ids } => {
                if let Some(listener) = &*self.changes_listener.borrow() {
                    listener(ids);
                }
            }
            WorkerEvent::Progress { id, done, total } => {
                if let Some(listener) = self.progress_listeners.borrow().get(&id) {
                    listener(done, total);
                }
            }
        }
    }

    fn answer(&self, id: u32, answer: Answer) {
        // An answer nobody waits for (its caller was dropped) is simply discarded.
        if let Some(sender) = self.pending.borrow_mut().remove(&id) {
            let _ = sender.send(answer);
        }
    }

    /// Marks the worker as stopped and fails everything that waits on it.
    fn stop(&self, error: WorkerError) {
        let previous = self.state.replace(State::Stopped(error.clone()));
        if let State::Starting { ready_waiters, .. } = previous {
            for waiter in ready_waiters {
                let _ = waiter.send(Err(error.clone()));
            }
        }
        for (_, sender) in self.pending.borrow_mut().drain() {
            let _ = sender.send(Err(error.clone()));
        }
    }
}
