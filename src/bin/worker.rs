//! The background worker: owns the embedding model (and, later, the vector index)
//! so that heavy work never runs on the page's thread.

#[cfg(target_arch = "wasm32")]
fn main() {
    worker::run();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("The Casebook worker runs inside the browser; build it with trunk.");
    std::process::exit(2);
}

#[cfg(target_arch = "wasm32")]
mod worker {
    use std::cell::RefCell;
    use std::rc::Rc;

    use casebook::core::embed::Embedder;
    use casebook::core::protocol::{
        pong, Envelope, ModelStatus, ModelSummary, Reply, Request, WorkerEvent, WorkerInfo,
    };
    use casebook::web::model_files::fetch_model;
    use futures_channel::oneshot;
    use wasm_bindgen::prelude::*;
    use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

    type LoadResult = Result<Rc<Embedder>, String>;

    enum ModelSlot {
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

    struct Worker {
        scope: DedicatedWorkerGlobalScope,
        model: RefCell<ModelSlot>,
    }

    pub fn run() {
        console_error_panic_hook::set_once();
        let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
        let worker = Rc::new(Worker {
            scope: scope.clone(),
            model: RefCell::new(ModelSlot::Empty),
        });
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let worker = worker.clone();
            match serde_wasm_bindgen::from_value::<Envelope>(event.data()) {
                Ok(Envelope { id, request }) => {
                    wasm_bindgen_futures::spawn_local(async move {
                        let answer = match worker.handle(request).await {
                            Ok(reply) => WorkerEvent::Reply { id, reply },
                            Err(message) => WorkerEvent::Failed { id, message },
                        };
                        worker.post(&answer);
                    });
                }
                Err(error) => worker.reject(&event.data(), &error.to_string()),
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

    impl Worker {
        fn post(&self, event: &WorkerEvent) {
            post(&self.scope, event);
        }

        /// Answers an unreadable message under its id, if it has one; without an
        /// id nobody waits for an answer and the console is the only witness.
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

        async fn handle(self: &Rc<Self>, request: Request) -> Result<Reply, String> {
            match request {
                Request::Ping { text } => Ok(pong(&text)),
                Request::LoadModel { base_url } => {
                    self.load_model(base_url).await?;
                    match &*self.model.borrow() {
                        ModelSlot::Ready { summary, .. } => Ok(Reply::ModelLoaded {
                            model: summary.clone(),
                        }),
                        _ => Err("The model was replaced while it loaded.".into()),
                    }
                }
                Request::Embed { texts } => {
                    let embedder = self.embedder().await?;
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
            }
        }

        /// The loaded model, waiting for a load in progress.
        async fn embedder(&self) -> LoadResult {
            let receiver = {
                let mut slot = self.model.borrow_mut();
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

        async fn load_model(self: &Rc<Self>, base_url: String) -> LoadResult {
            let in_progress = match &*self.model.borrow() {
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
            self.model.replace(ModelSlot::Loading {
                base_url: base_url.clone(),
                waiters: Vec::new(),
            });
            let started = js_sys::Date::now();
            let result = self.fetch_and_prepare(&base_url, started).await;
            let next = match &result {
                Ok((embedder, summary)) => {
                    self.post(&WorkerEvent::Model {
                        status: ModelStatus::Ready {
                            model: summary.clone(),
                        },
                    });
                    ModelSlot::Ready {
                        base_url,
                        embedder: embedder.clone(),
                        summary: summary.clone(),
                    }
                }
                Err(message) => {
                    self.post(&WorkerEvent::Model {
                        status: ModelStatus::Failed {
                            message: message.clone(),
                        },
                    });
                    ModelSlot::Failed {
                        message: message.clone(),
                    }
                }
            };
            let outcome = result.map(|(embedder, _)| embedder);
            if let ModelSlot::Loading { waiters, .. } = self.model.replace(next) {
                for waiter in waiters {
                    let _ = waiter.send(outcome.clone());
                }
            }
            outcome
        }

        async fn fetch_and_prepare(
            self: &Rc<Self>,
            base_url: &str,
            started: f64,
        ) -> Result<(Rc<Embedder>, ModelSummary), String> {
            let reporter = self.clone();
            let files = fetch_model(base_url, &move |status| {
                reporter.post(&WorkerEvent::Model { status })
            })
            .await
            .map_err(|error| error.to_string())?;
            self.post(&WorkerEvent::Model {
                status: ModelStatus::Preparing,
            });
            // The files were checked against model.json as they arrived.
            let embedder =
                Embedder::load_unverified(files.manifest, &files.model, &files.tokenizer)
                    .map_err(|error| error.to_string())?;
            let manifest = embedder.manifest();
            let summary = ModelSummary {
                id: manifest.id.clone(),
                name: manifest.name.clone(),
                dimension: manifest.dimension,
                max_length: manifest.max_length,
                load_ms: js_sys::Date::now() - started,
                from_cache: files.from_cache,
            };
            Ok((Rc::new(embedder), summary))
        }
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
}
