//! Switching the embedding model inside the worker.
//!
//! The new model loads into a slot of its own beside the model in use, which
//! keeps answering searches and embedding new memories. A background pass gives
//! every memory (live and trashed) a vector of the new model in the
//! `target_vectors` store, a batch at a time, yielding between batches so that
//! requests are answered meanwhile; memories added or edited meanwhile are
//! found by the next round (their revision is newer than their new vector's).
//! When every memory has a current one, one transaction swaps the vectors and
//! records the new model as active, and the bank reloads with it. A reload in
//! the middle resumes the switch: the vectors already written are kept.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use super::helpers::EmbedHelpers;
use super::model::Model;
use super::Engine;
use crate::core::bank::StoredVector;
use crate::core::embed::Embedder;
use crate::core::memory::MemoryId;
use crate::core::model_switch::{
    plan_switch, ModelChoice, SwitchError, SwitchProgress, TargetStamp,
};
use crate::core::protocol::{ModelStatus, ModelSummary, SwitchStatus, WorkerEvent};
use crate::core::schema::CASEBOOK;
use crate::web::bank_store::BankStore;
use crate::web::db::Db;

/// Memories embedded per step: enough for the helper workers to get a share,
/// few enough that a search waits at most a moment behind one.
const SWITCH_BATCH: usize = 32;
/// How long a pass waits before it looks again when the store holds a change
/// the bank has not caught up with yet (another tab's).
const RECHECK_MS: u64 = 1_000;

/// The loading of the model being switched to, as the page sees it.
fn announce_load(base_url: &str, status: ModelStatus) -> WorkerEvent {
    WorkerEvent::Switch {
        status: SwitchStatus::Loading {
            base_url: base_url.to_owned(),
            status,
        },
    }
}

pub struct ModelSwitch {
    /// The model being switched to.
    model: Model,
    /// Helper workers that embed with it (the model in use has its own).
    helpers: EmbedHelpers,
    /// The folder of the switch under way (loading or re-embedding).
    target: RefCell<Option<String>>,
    /// Changed by every start and cancel: a pass that started under another
    /// value stops before its next write.
    generation: Cell<u64>,
}

/// What a running pass works with.
struct Pass {
    generation: u64,
    base_url: String,
    embedder: Rc<Embedder>,
    model: ModelSummary,
    store: BankStore,
}

impl ModelSwitch {
    pub fn new() -> ModelSwitch {
        ModelSwitch {
            model: Model::new(announce_load),
            helpers: EmbedHelpers::default(),
            target: RefCell::new(None),
            generation: Cell::new(0),
        }
    }

    /// The stored choice of model.
    pub async fn choice(&self) -> Result<ModelChoice, String> {
        open_store()
            .await?
            .model_choice()
            .await
            .map_err(|error| error.to_string())
    }

    /// Loads the model under `base_url` and starts (or resumes) re-embedding
    /// every memory with it; answers once it runs. On an error nothing changes.
    pub async fn start(
        &self,
        engine: &Rc<Engine>,
        base_url: String,
    ) -> Result<(ModelSummary, SwitchProgress), String> {
        if let Some(url) = self.target.borrow().clone() {
            return Err(SwitchError::AnotherSwitch { url }.to_string());
        }
        let generation = self.next_generation();
        *self.target.borrow_mut() = Some(base_url.clone());
        match self.prepare(engine, base_url, generation).await {
            Ok((pass, progress)) => {
                let model = pass.model.clone();
                engine.post(&WorkerEvent::Switch {
                    status: SwitchStatus::Running {
                        model: model.clone(),
                        progress,
                    },
                });
                let engine = engine.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    engine.switch.run(&engine, pass).await;
                });
                Ok((model, progress))
            }
            Err(message) => {
                // Nothing of this switch stays, unless a newer one took over.
                if self.is_current(generation) || self.target.borrow().is_none() {
                    self.forget();
                }
                Err(message)
            }
        }
    }

    /// Stops the switch under way, deletes its vectors and its record; the
    /// model in use stays.
    pub async fn cancel(&self, engine: &Engine) -> Result<(), String> {
        self.next_generation();
        self.forget();
        let store = open_store().await?;
        let choice = store
            .model_choice()
            .await
            .map_err(|error| error.to_string())?;
        store
            .cancel_switch(&choice.without_switch())
            .await
            .map_err(|error| format!("The switch could not be cancelled: {error}"))?;
        engine.post(&WorkerEvent::Switch {
            status: SwitchStatus::Cancelled,
        });
        Ok(())
    }

    fn next_generation(&self) -> u64 {
        let generation = self.generation.get().wrapping_add(1);
        self.generation.set(generation);
        generation
    }

    fn is_current(&self, generation: u64) -> bool {
        self.generation.get() == generation
    }

    /// Drops the model being switched to, its helpers and the switch's folder.
    fn forget(&self) {
        self.target.replace(None);
        self.model.clear();
        self.helpers.stop();
    }

    /// Loads the new model and checks that the switch may run; records it.
    async fn prepare(
        &self,
        engine: &Rc<Engine>,
        base_url: String,
        generation: u64,
    ) -> Result<(Pass, SwitchProgress), String> {
        let embedder = self.model.load(engine, base_url.clone()).await?;
        let model = self
            .model
            .summary()
            .ok_or("The new model was replaced while it loaded.")?;
        let store = open_store().await?;
        let choice = store
            .model_choice()
            .await
            .map_err(|error| error.to_string())?;
        let in_use = engine.model.summary().map(|summary| summary.id);
        plan_switch(&base_url, &model.id, in_use.as_deref(), &choice)
            .map_err(|error| error.to_string())?;
        let stamps = store
            .target_stamps()
            .await
            .map_err(|error| error.to_string())?;
        let (pending, total) = engine.bank.needing_vector_of(&stamps, &model.id)?;
        if !self.is_current(generation) {
            return Err("The switch was cancelled.".into());
        }
        store
            .save_model_choice(&choice.switching(&base_url))
            .await
            .map_err(|error| format!("The switch could not be recorded: {error}"))?;
        let pass = Pass {
            generation,
            base_url,
            embedder,
            model,
            store,
        };
        Ok((pass, SwitchProgress::of(total, pending.len())))
    }

    /// Re-embeds until the switch completes, is cancelled or fails, and says so.
    async fn run(&self, engine: &Rc<Engine>, pass: Pass) {
        match self.re_embed(engine, &pass).await {
            Ok(true) => {
                self.forget();
                // The old model goes, in the helper workers too.
                engine.embed_helpers.stop();
                engine.model.install(
                    engine,
                    pass.base_url.clone(),
                    pass.embedder.clone(),
                    pass.model.clone(),
                );
                engine.bank.model_changed(engine).await;
                engine.post(&WorkerEvent::Switch {
                    status: SwitchStatus::Completed { model: pass.model },
                });
            }
            // Cancelled: `cancel` cleaned up and said so.
            Ok(false) => {}
            Err(message) => {
                if self.is_current(pass.generation) {
                    self.forget();
                    // The vectors written so far stay: switching to the same
                    // folder again (or reloading) resumes.
                    engine.post(&WorkerEvent::Switch {
                        status: SwitchStatus::Failed {
                            message: format!("Re-embedding stopped: {message}"),
                        },
                    });
                }
            }
        }
    }

    /// Embeds every memory that lacks a current vector of the new model, round
    /// after round, until a round finds none and the swap commits. Returns
    /// whether it completed (`false`: cancelled).
    async fn re_embed(&self, engine: &Rc<Engine>, pass: &Pass) -> Result<bool, String> {
        let mut stamps: HashMap<MemoryId, TargetStamp> = pass
            .store
            .target_stamps()
            .await
            .map_err(|error| error.to_string())?;
        loop {
            let (pending, total) = engine.bank.needing_vector_of(&stamps, &pass.model.id)?;
            for (index, batch) in pending.chunks(SWITCH_BATCH).enumerate() {
                let texts: Vec<&str> = batch.iter().map(|memory| memory.text.as_str()).collect();
                let vectors = self
                    .helpers
                    .embed(&pass.embedder, Some(&pass.base_url), &texts)
                    .await?;
                let stored: Vec<StoredVector> = batch
                    .iter()
                    .zip(vectors)
                    .map(|(memory, vector)| StoredVector {
                        memory_id: memory.id.clone(),
                        model_id: pass.model.id.clone(),
                        version: memory.revision,
                        vector,
                    })
                    .collect();
                // Checked right before the write's transaction opens, with no
                // await in between: a cancel's clearing is ordered after it.
                if !self.is_current(pass.generation) {
                    return Ok(false);
                }
                pass.store
                    .put_target_vectors(&stored)
                    .await
                    .map_err(|error| error.to_string())?;
                stamps.extend(
                    stored
                        .iter()
                        .map(|vector| (vector.memory_id.clone(), TargetStamp::from(vector))),
                );
                let remaining = pending.len() - (index * SWITCH_BATCH + batch.len());
                engine.post(&WorkerEvent::Switch {
                    status: SwitchStatus::Running {
                        model: pass.model.clone(),
                        progress: SwitchProgress::of(total, remaining),
                    },
                });
                // Requests that arrived while this batch embedded go first.
                crate::web::sleep(0).await;
            }
            if !self.is_current(pass.generation) {
                return Ok(false);
            }
            if pending.is_empty() {
                let completed = pass
                    .store
                    .complete_switch(&pass.model.id, &ModelChoice::completed(&pass.base_url))
                    .await
                    .map_err(|error| error.to_string())?;
                if completed {
                    return Ok(true);
                }
                // Something changed that this pass did not see (an import, a
                // memory edited in another tab): look at the store again.
                crate::web::sleep(RECHECK_MS).await;
                stamps = pass
                    .store
                    .target_stamps()
                    .await
                    .map_err(|error| error.to_string())?;
            }
        }
    }
}

async fn open_store() -> Result<BankStore, String> {
    Db::open(&CASEBOOK)
        .await
        .map(BankStore::new)
        .map_err(|error| error.to_string())
}
