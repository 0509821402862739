//! Helper workers for bulk embedding. A large batch (an import, many memories
//! at once, the background pass over unembedded memories) is shared between
//! this worker and copies of it, one per spare core (at most three), each with
//! the model loaded. Helpers start on the first large batch and load the model
//! in the background; until one is ready this worker embeds alone, so no batch
//! ever waits for a helper to start, and a helper that fails only loses its
//! share back to this worker.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::WorkerGlobalScope;

use crate::core::embed::{share_out, Embedder, MIN_TEXTS_PER_WORKER};
use crate::web::worker_client::WorkerClient;

/// More helpers than this add memory (a model each) for little speed.
const MAX_HELPERS: usize = 3;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Readiness {
    Loading,
    Ready,
    Failed,
}

#[derive(Clone)]
struct Helper {
    client: WorkerClient,
    readiness: Rc<Cell<Readiness>>,
}

#[derive(Default)]
pub struct EmbedHelpers {
    /// The model base URL the helpers loaded, and the helpers.
    helpers: RefCell<Option<(String, Vec<Helper>)>>,
}

impl EmbedHelpers {
    /// Embeds `texts` with `embedder` (loaded from `base_url`), in order, sharing
    /// the work with the helpers that are ready when there is enough of it.
    pub async fn embed(
        &self,
        embedder: &Embedder,
        base_url: Option<&str>,
        texts: &[&str],
    ) -> Result<Vec<Vec<f32>>, String> {
        let ready = match base_url {
            Some(base_url) if texts.len() >= 2 * MIN_TEXTS_PER_WORKER => self.ready(base_url),
            _ => Vec::new(),
        };
        let shares = share_out(texts.len(), ready.len() + 1);
        // The helpers' shares go out first: this worker's own share blocks it.
        let sent: Vec<_> = shares
            .iter()
            .skip(1)
            .zip(&ready)
            .map(|(share, helper)| {
                let texts = texts[share.clone()].iter().map(|t| t.to_string()).collect();
                (share.clone(), helper.clone(), helper.client.embed(texts))
            })
            .collect();
        let own = shares.first().cloned().unwrap_or_default();
        let embed_here = |share: std::ops::Range<usize>| {
            embedder
                .embed_batch(&texts[share])
                .map_err(|error| error.to_string())
        };
        let mut vectors = embed_here(own)?;
        for (share, helper, reply) in sent {
            match reply.await {
                Ok((model_id, share_vectors))
                    if model_id == embedder.manifest().id && share_vectors.len() == share.len() =>
                {
                    vectors.extend(share_vectors);
                }
                failed => {
                    let reason = match failed {
                        Err(error) => error.to_string(),
                        Ok(_) => "it answered for another model".to_owned(),
                    };
                    web_sys::console::warn_1(
                        &format!("An embedding helper stopped ({reason}); this worker takes over its share.")
                            .into(),
                    );
                    helper.readiness.set(Readiness::Failed);
                    vectors.extend(embed_here(share)?);
                }
            }
        }
        Ok(vectors)
    }

    /// Stops the helpers (they are started again on the next large batch).
    pub fn stop(&self) {
        // Helpers stop when their last handle is dropped.
        self.helpers.replace(None);
    }

    /// The helpers ready to embed with the model at `base_url`; starts them (or,
    /// for another model, replaces them) the first time.
    fn ready(&self, base_url: &str) -> Vec<Helper> {
        let mut helpers = self.helpers.borrow_mut();
        if helpers
            .as_ref()
            .is_none_or(|(loaded, _)| loaded != base_url)
        {
            // Replaced helpers stop when their last handle is dropped.
            *helpers = Some((base_url.to_owned(), start_helpers(base_url)));
        }
        helpers
            .as_ref()
            .map(|(_, all)| {
                all.iter()
                    .filter(|helper| helper.readiness.get() == Readiness::Ready)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One helper per spare core (up to [`MAX_HELPERS`]), each loading the model
/// (from the browser's cache after the first load) in the background.
fn start_helpers(base_url: &str) -> Vec<Helper> {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let cores = scope.navigator().hardware_concurrency() as usize;
    let script = match scope.location().href() {
        href if !href.is_empty() => href,
        _ => return Vec::new(),
    };
    (0..cores.saturating_sub(1).min(MAX_HELPERS))
        .filter_map(|_| {
            let client = WorkerClient::spawn(&script).ok()?;
            let readiness = Rc::new(Cell::new(Readiness::Loading));
            let helper = Helper {
                client: client.clone(),
                readiness: readiness.clone(),
            };
            let base_url = base_url.to_owned();
            wasm_bindgen_futures::spawn_local(async move {
                let loaded = match client.ready().await {
                    Ok(_) => client.load_model(base_url).await.map(|_| ()),
                    Err(error) => Err(error),
                };
                readiness.set(match loaded {
                    Ok(()) => Readiness::Ready,
                    Err(_) => Readiness::Failed,
                });
            });
            Some(helper)
        })
        .collect()
}
