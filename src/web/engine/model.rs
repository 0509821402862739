//! An embedding model inside the worker: loaded once, shared by every request,
//! with concurrent requests waiting for a load in progress. The worker has two:
//! the model in use, and the one a switch moves to.

use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::oneshot;

use super::Engine;
use crate::core::embed::Embedder;
use crate::core::protocol::{ModelStatus, ModelSummary, WorkerEvent};
use crate::web::model_files::fetch_model;

pub type LoadResult = Result<Rc<Embedder>, String>;

pub enum ModelSlot {
    Empty,
    Loading {
        base_url: String,
        waiters: Vec<oneshot::Sender<LoadResult>>,
    },
    Ready {
        base_url: String,
        embedder: Rc<Embedder>,
        summary: ModelSummary,
    },
    Failed {
        message: String,
    },
}

/// Makes the event that tells the page how a load (from a folder) goes.
pub type Announce = fn(&str, ModelStatus) -> WorkerEvent;

pub struct Model {
    slot: RefCell<ModelSlot>,
    announce: Announce,
}

impl Model {
    pub fn new(announce: Announce) -> Model {
        Model {
            slot: RefCell::new(ModelSlot::Empty),
            announce,
        }
    }

    /// Puts a model loaded in another slot (by a completed switch) in this one.
    pub fn install(
        &self,
        engine: &Engine,
        base_url: String,
        embedder: Rc<Embedder>,
        summary: ModelSummary,
    ) {
        engine.post(&(self.announce)(
            &base_url,
            ModelStatus::Ready {
                model: summary.clone(),
            },
        ));
        self.slot.replace(ModelSlot::Ready {
            base_url,
            embedder,
            summary,
        });
    }

    /// Forgets the model (its memory is freed when its last user drops it).
    pub fn clear(&self) {
        self.slot.replace(ModelSlot::Empty);
    }

    pub fn summary(&self) -> Option<ModelSummary> {
        match &*self.slot.borrow() {
            ModelSlot::Ready { summary, .. } => Some(summary.clone()),
            _ => None,
        }
    }

    /// Where the loaded model's files are (for helpers that load it too).
    pub fn base_url(&self) -> Option<String> {
        match &*self.slot.borrow() {
            ModelSlot::Ready { base_url, .. } => Some(base_url.clone()),
            _ => None,
        }
    }

    /// The loaded model, waiting for a load in progress.
    pub async fn embedder(&self) -> LoadResult {
        let receiver = {
            let mut slot = self.slot.borrow_mut();
            match &mut *slot {
                ModelSlot::Ready { embedder, .. } => return Ok(embedder.clone()),
                ModelSlot::Failed { message } => return Err(message.clone()),
                ModelSlot::Empty => {
                    return Err("The embedding model has not been loaded yet.".into())
                }
                ModelSlot::Loading { waiters, .. } => {
                    let (sender, receiver) = oneshot::channel();
                    waiters.push(sender);
                    receiver
                }
            }
        };
        receiver
            .await
            .unwrap_or_else(|_| Err("The model load was abandoned.".into()))
    }

    /// Loads the model under `base_url` (or finds it loaded), reporting progress
    /// through `engine`.
    pub async fn load(&self, engine: &Rc<Engine>, base_url: String) -> LoadResult {
        let in_progress = match &*self.slot.borrow() {
            ModelSlot::Ready {
                base_url: loaded,
                embedder,
                ..
            } if *loaded == base_url => return Ok(embedder.clone()),
            ModelSlot::Loading {
                base_url: loading, ..
            } => Some(loading == &base_url),
            _ => None,
        };
        match in_progress {
            Some(true) => return self.embedder().await,
            // Another model is loading: let it finish, then replace it.
            Some(false) => {
                let _ = self.embedder().await;
            }
            None => {}
        }
        self.slot.replace(ModelSlot::Loading {
            base_url: base_url.clone(),
            waiters: Vec::new(),
        });
        let started = js_sys::Date::now();
        let result = fetch_and_prepare(engine, &base_url, self.announce, started).await;
        let next = match &result {
            Ok((embedder, summary)) => {
                engine.post(&(self.announce)(
                    &base_url,
                    ModelStatus::Ready {
                        model: summary.clone(),
                    },
                ));
                ModelSlot::Ready {
                    base_url,
                    embedder: embedder.clone(),
                    summary: summary.clone(),
                }
            }
            Err(message) => {
                engine.post(&(self.announce)(
                    &base_url,
                    ModelStatus::Failed {
                        message: message.clone(),
                    },
                ));
                ModelSlot::Failed {
                    message: message.clone(),
                }
            }
        };
        let outcome = result.map(|(embedder, _)| embedder);
        if let ModelSlot::Loading { waiters, .. } = self.slot.replace(next) {
            for waiter in waiters {
                let _ = waiter.send(outcome.clone());
            }
        }
        outcome
    }
}

async fn fetch_and_prepare(
    engine: &Rc<Engine>,
    base_url: &str,
    announce: Announce,
    started: f64,
) -> Result<(Rc<Embedder>, ModelSummary), String> {
    let reporter = engine.clone();
    let files = fetch_model(base_url, &move |status| {
        reporter.post(&announce(base_url, status))
    })
    .await
    .map_err(|error| error.to_string())?;
    engine.post(&announce(base_url, ModelStatus::Preparing));
    // The files were checked against model.json as they arrived.
    let embedder = Embedder::load_unverified(files.manifest, &files.model, &files.tokenizer)
        .map_err(|error| error.to_string())?;
    let manifest = embedder.manifest();
    let summary = ModelSummary {
        base_url: base_url.to_owned(),
        id: manifest.id.clone(),
        name: manifest.name.clone(),
        dimension: manifest.dimension,
        max_length: manifest.max_length,
        load_ms: js_sys::Date::now() - started,
        from_cache: files.from_cache,
    };
    Ok((Rc::new(embedder), summary))
}
