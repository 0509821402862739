//! The engine that runs in the background worker: the embedding model and the
//! case bank, so that heavy work (model load, embedding, indexing) never runs on
//! the page's thread. `src/bin/worker.rs` only starts it.

mod bank;
mod helpers;
mod model;
mod switch;

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::core::embed::Embedder;
use crate::core::index::build_snapshot;
use crate::core::protocol::{pong, Envelope, ModelStatus, Reply, Request, WorkerEvent, WorkerInfo};

pub struct Engine {
    scope: DedicatedWorkerGlobalScope,
    /// The model in use: its vectors are searched.
    model: model::Model,
    /// A switch to another model, when one runs.
    switch: switch::ModelSwitch,
    /// Copies of this worker that share bulk embedding.
    embed_helpers: helpers::EmbedHelpers,
    bank: bank::BankService,
    /// Requests asked to stop at their next safe point.
    cancelled: RefCell<HashSet<u32>>,
}

/// Starts the engine in the current worker and tells the page it is ready.
pub fn run() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let engine = Rc::new(Engine {
        scope: scope.clone(),
        model: model::Model::new(announce_model),
        switch: switch::ModelSwitch::new(),
        embed_helpers: helpers::EmbedHelpers::default(),
        bank: bank::BankService::new(),
        cancelled: RefCell::default(),
    });
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let engine = engine.clone();
        match serde_wasm_bindgen::from_value::<Envelope>(event.data()) {
            Ok(Envelope { id, request }) => {
                wasm_bindgen_futures::spawn_local(async move {
                    let answer = match engine.handle(id, request).await {
                        Ok(reply) => WorkerEvent::Reply { id, reply },
                        Err(message) => WorkerEvent::Failed { id, message },
                    };
                    engine.cancelled.borrow_mut().remove(&id);
                    engine.post(&answer);
                });
            }
            Err(error) => engine.reject(&event.data(), &error.to_string()),
        }
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker does.
    on_message.forget();
    post(
        &scope,
        &WorkerEvent::Ready {
            info: WorkerInfo::of_this_build(),
        },
    );
}

impl Engine {
    pub fn post(&self, event: &WorkerEvent) {
        post(&self.scope, event);
    }

    /// Embeds `texts` with `embedder`, in order, sharing a large batch with the
    /// helper workers.
    async fn embed_many(
        &self,
        embedder: &Embedder,
        texts: &[&str],
    ) -> Result<Vec<Vec<f32>>, String> {
        let base_url = self.model.base_url();
        self.embed_helpers
            .embed(embedder, base_url.as_deref(), texts)
            .await
    }

    /// Whether request `id` was asked to stop.
    pub fn is_cancelled(&self, id: u32) -> bool {
        self.cancelled.borrow().contains(&id)
    }

    /// Answers an unreadable message under its id, if it has one; without an id
    /// nobody waits for an answer and the console is the only witness.
    fn reject(&self, data: &JsValue, reason: &str) {
        let id = js_sys::Reflect::get(data, &"id".into())
            .ok()
            .and_then(|id| id.as_f64());
        match id {
            Some(id) => self.post(&WorkerEvent::Failed {
                id: id as u32,
                message: format!("The worker could not read the request: {reason}"),
            }),
            None => web_sys::console::error_1(
                &format!("worker: message without an id: {reason}").into(),
            ),
        }
    }

    async fn handle(self: &Rc<Self>, id: u32, request: Request) -> Result<Reply, String> {
        match request {
            Request::Ping { text } => Ok(pong(&text)),
            Request::LoadModel { base_url } => {
                self.model.load(self, base_url).await?;
                let model = self
                    .model
                    .summary()
                    .ok_or("The model was replaced while it loaded.")?;
                self.bank.model_changed(self).await;
                Ok(Reply::ModelLoaded { model })
            }
            Request::Embed { texts } => {
                let embedder = self.model.embedder().await?;
                let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
                let vectors = embedder
                    .embed_batch(&texts)
                    .map_err(|error| error.to_string())?;
                Ok(Reply::Embeddings {
                    model_id: embedder.manifest().id.clone(),
                    vectors,
                })
            }
            Request::Diagnostics => Ok(Reply::Diagnostics {
                wasm_memory_bytes: wasm_memory_bytes(),
            }),
            Request::OpenBank => {
                let status = self.bank.open(self).await?;
                Ok(Reply::BankOpened { status })
            }
            Request::Search {
                text,
                k,
                filter,
                reranking,
            } => self.bank.search(&text, k, &filter, reranking).await,
            Request::ApplyChanges { changes } => {
                let outcomes = self.bank.apply(self, id, changes).await?;
                Ok(Reply::ChangesApplied { outcomes })
            }
            Request::ListMemories { query } => Ok(Reply::MemoryList {
                page: self.bank.list(&query)?,
            }),
            Request::MemoryHistory { id: memory_id } => {
                let (memory, revisions) = self.bank.history(&memory_id).await?;
                Ok(Reply::History { memory, revisions })
            }
            Request::MarkUsed { ids } => {
                self.bank.mark_used(self, &ids).await?;
                Ok(Reply::Done)
            }
            Request::RecordVerdict {
                used,
                cited,
                previous,
                current,
            } => {
                let reranker = self
                    .bank
                    .record_verdict(self, &used, &cited, previous, current)
                    .await?;
                Ok(Reply::VerdictRecorded { reranker })
            }
            Request::SetLearnedReranker { enabled } => {
                self.bank.set_learned_reranker(self, enabled)?;
                Ok(Reply::Done)
            }
            Request::ModelChoice => Ok(Reply::ModelChoice {
                choice: self.switch.choice().await?,
            }),
            Request::SwitchModel { base_url } => {
                let (model, progress) = self.switch.start(self, base_url).await?;
                Ok(Reply::SwitchStarted { model, progress })
            }
            Request::CancelSwitch => {
                self.switch.cancel(self).await?;
                Ok(Reply::Done)
            }
            Request::BuildIndex { input, config } => {
                let built = build_snapshot(input.into(), &config);
                Ok(Reply::IndexBuilt {
                    snapshot: built.to_bytes(),
                })
            }
            Request::Cancel { request_id } => {
                self.cancelled.borrow_mut().insert(request_id);
                Ok(Reply::Cancelled)
            }
            Request::MemoryIds { query } => Ok(Reply::MemoryIds {
                ids: self.bank.memory_ids(&query)?,
            }),
            Request::EditMemories { ids, edit } => {
                let (outcomes, undo) = self.bank.edit_memories(self, id, &ids, &edit).await?;
                Ok(Reply::MemoriesEdited { outcomes, undo })
            }
            Request::Export {
                pool,
                include_trashed,
                include_vectors,
            } => {
                let (json, memories) = self
                    .bank
                    .export(pool, include_trashed, include_vectors)
                    .await?;
                Ok(Reply::Exported { json, memories })
            }
            Request::CheckImport { file, mode } => Ok(Reply::ImportChecked {
                summary: self.bank.check_import(&file.0, mode).await?,
            }),
            Request::Import { file, mode } => {
                let (summary, status) = self.bank.import(self, &file.0, mode).await?;
                Ok(Reply::Imported { summary, status })
            }
            Request::MemoryMap { filter, max_points } => Ok(Reply::MemoryMap {
                map: self.bank.memory_map(&filter, max_points)?,
            }),
            Request::Timeline {
                utc_offset_minutes,
                max_buckets,
            } => Ok(Reply::Timeline {
                timeline: self.bank.timeline(utc_offset_minutes, max_buckets).await?,
            }),
        }
    }
}

/// The loading of the model in use, as the page sees it.
fn announce_model(_base_url: &str, status: ModelStatus) -> WorkerEvent {
    WorkerEvent::Model { status }
}

fn wasm_memory_bytes() -> u64 {
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map(|memory| {
            memory
                .buffer()
                .unchecked_into::<js_sys::ArrayBuffer>()
                .byte_length() as u64
        })
        .unwrap_or(0)
}

fn post(scope: &DedicatedWorkerGlobalScope, event: &WorkerEvent) {
    match serde_wasm_bindgen::to_value(event) {
        Ok(message) => {
            if let Err(error) = scope.post_message(&message) {
                web_sys::console::error_2(&"worker: postMessage failed".into(), &error);
            }
        }
        Err(error) => web_sys::console::error_1(
            &format!("worker: could not encode an answer: {error}").into(),
        ),
    }
}
