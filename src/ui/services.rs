//! The app-wide services (database, worker) and their observable state, shared
//! with every component through Leptos context.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::model_switch::{folder_url, ModelChoice};
use crate::core::protocol::{BankStatus, ModelStatus, ModelSummary, SwitchStatus, WorkerInfo};
use crate::core::schema::stores;
use crate::core::schema::CASEBOOK;
use crate::core::settings::{keys, Theme};
use crate::core::storage::StorageUse;
use crate::core::vector::dot;
use crate::web::db::{Db, DbError};
use crate::web::pwa::{AppUpdates, UpdateState};
use crate::web::storage;
use crate::web::worker_client::{WorkerClient, WorkerError};

/// Where the worker's loader script is, relative to the document's base URL.
const WORKER_SCRIPT: &str = "worker_loader.js";
/// The default embedding model's files, relative to the document's base URL
/// (scripts/setup.sh puts them in public/models/, trunk copies them to dist/).
pub const DEFAULT_MODEL: &str = "models/all-minilm-l6-v2/";
/// The service worker, relative to the document's base URL.
const SERVICE_WORKER_SCRIPT: &str = "sw.js";
/// How often the storage use shown to the user is refreshed.
const STORAGE_REFRESH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);
/// How often a long-open page asks whether a new version was published.
const UPDATE_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60 * 60);

#[derive(Clone, Debug)]
pub enum DbState {
    Opening,
    Ready(Db),
    Failed(String),
}

/// The embedding model, as the status bar shows it.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelState {
    /// Waiting for the worker to start.
    Waiting,
    Loading(ModelStatus),
    Ready(ModelSummary),
    Failed(String),
}

/// The case bank (memories and their index), as the status bar shows it.
#[derive(Clone, Debug, PartialEq)]
pub enum BankState {
    Opening,
    Ready(BankStatus),
    Failed(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum WorkerState {
    Starting,
    Ready {
        info: WorkerInfo,
        /// Time for the first ping to go to the worker and back.
        round_trip_ms: f64,
    },
    Failed(String),
}

/// Handles to the shared services. `Copy`, so components capture it freely.
#[derive(Clone, Copy)]
pub struct Services {
    pub db: RwSignal<DbState, LocalStorage>,
    worker: StoredValue<Option<WorkerClient>, LocalStorage>,
    pub worker_state: RwSignal<WorkerState>,
    pub model_state: RwSignal<ModelState>,
    /// Why the model recorded as active is not the one in use (it failed to load).
    pub model_notice: RwSignal<Option<String>>,
    /// The stored choice of model (which is active, which a switch moves to).
    pub model_choice: RwSignal<ModelChoice>,
    /// The last news of a switch of the embedding model (`None`: none this session).
    pub switch_state: RwSignal<Option<SwitchStatus>>,
    pub bank_state: RwSignal<BankState>,
    /// Counts changes made in other tabs: lists that show memories track it and
    /// refresh.
    pub changed_elsewhere: RwSignal<u64>,
    pub theme: RwSignal<Theme>,
    updates: StoredValue<Option<AppUpdates>, LocalStorage>,
    pub update_state: RwSignal<UpdateState>,
    /// How much of the browser's storage is used (None until the browser says).
    pub storage_use: RwSignal<Option<StorageUse>>,
    /// Whether the browser promised not to evict Casebook's data.
    pub storage_persistent: RwSignal<Option<bool>>,
    /// Counts changes to the extraction inbox made on this page: the inbox's
    /// count in the navigation tracks it and refreshes.
    pub inbox_changed: RwSignal<u64>,
}

impl Services {
    /// Starts the worker and opens the database; their progress shows up in the
    /// signals as it happens.
    pub fn start() -> Services {
        let services = Services {
            db: RwSignal::new_local(DbState::Opening),
            worker: StoredValue::new_local(None),
            worker_state: RwSignal::new(WorkerState::Starting),
            model_state: RwSignal::new(ModelState::Waiting),
            model_notice: RwSignal::new(None),
            model_choice: RwSignal::new(ModelChoice::default()),
            switch_state: RwSignal::new(None),
            bank_state: RwSignal::new(BankState::Opening),
            changed_elsewhere: RwSignal::new(0),
            theme: RwSignal::new(Theme::default()),
            updates: StoredValue::new_local(None),
            update_state: RwSignal::new(UpdateState::Current),
            storage_use: RwSignal::new(None),
            storage_persistent: RwSignal::new(None),
            inbox_changed: RwSignal::new(0),
        };
        services.start_worker();
        services.open_db();
        // Debug builds run under `trunk serve`, whose live reload a service worker
        // would defeat by answering from its cache.
        if !cfg!(debug_assertions) {
            services.register_service_worker();
        }
        services
    }

    /// Switches to the new version the user was told about (reloads the page).
    pub fn apply_update(&self) {
        match self.updates.get_value() {
            Some(updates) => updates.apply(),
            None => {
                let _ = window().location().reload();
            }
        }
    }

    fn register_service_worker(self) {
        spawn_local(async move {
            let registered = AppUpdates::register(SERVICE_WORKER_SCRIPT, move |state| {
                self.update_state.set(state)
            })
            .await;
            match registered {
                Ok(Some(updates)) => {
                    self.updates.set_value(Some(updates.clone()));
                    set_interval(
                        move || {
                            let updates = updates.clone();
                            // Offline or a server hiccup: the next check will retry.
                            spawn_local(async move {
                                let _ = updates.check().await;
                            });
                        },
                        UPDATE_CHECK_INTERVAL,
                    );
                }
                Ok(None) => {}
                Err(error) => leptos::logging::warn!(
                    "Offline use is unavailable: the service worker did not register ({error})"
                ),
            }
        });
    }

    pub fn ready_db(&self) -> Option<Db> {
        match self.db.get() {
            DbState::Ready(db) => Some(db),
            _ => None,
        }
    }

    /// The background worker (model and case bank).
    pub fn worker(&self) -> Result<WorkerClient, WorkerError> {
        self.worker
            .get_value()
            .ok_or_else(|| WorkerError::Start("the worker was not started".into()))
    }

    /// Sends a ping through the worker; returns the echoed text and the round trip.
    pub async fn ping_worker(&self, text: String) -> Result<(String, f64), WorkerError> {
        let started = now_ms();
        let echo = self.worker()?.ping(text).await?;
        Ok((echo, now_ms() - started))
    }

    /// How similar two texts are to the embedding model (cosine, -1 to 1), and how
    /// long embedding both took.
    pub async fn compare_texts(
        &self,
        first: String,
        second: String,
    ) -> Result<(f32, f64), WorkerError> {
        let started = now_ms();
        let (_, vectors) = self.worker()?.embed(vec![first, second]).await?;
        match vectors.as_slice() {
            [a, b] => Ok((dot(a, b), now_ms() - started)),
            _ => Err(WorkerError::Protocol("expected two vectors".into())),
        }
    }

    /// Starts switching the embedding model to the one in `folder` (a URL,
    /// relative ones resolved against the app); returns once the new model
    /// loaded and the re-embedding runs in the background.
    pub async fn switch_model(&self, folder: &str) -> Result<ModelSummary, String> {
        self.switch_state.set(None);
        let started = async {
            let base_url = absolute_url(&folder_url(folder).map_err(|error| error.to_string())?)?;
            self.worker()
                .map_err(|error| error.to_string())?
                .switch_model(base_url)
                .await
                .map(|(model, _)| model)
                .map_err(|error| error.to_string())
        }
        .await;
        // A switch cancelled while its model loaded fails too, but was not a failure.
        let cancelled = matches!(
            self.switch_state.get_untracked(),
            Some(SwitchStatus::Cancelled)
        );
        if let (Err(message), false) = (&started, cancelled) {
            self.switch_state.set(Some(SwitchStatus::Failed {
                message: message.clone(),
            }));
        }
        self.refresh_model_choice().await;
        started
    }

    /// Whether the model in `base_url` is the one that comes with Casebook.
    pub fn is_default_model(base_url: &str) -> bool {
        absolute_url(DEFAULT_MODEL).is_ok_and(|default| default == base_url)
    }

    /// Cancels the switch under way; the model in use stays.
    pub async fn cancel_switch(&self) -> Result<(), String> {
        let cancelled = match self.worker() {
            Ok(worker) => worker
                .cancel_switch()
                .await
                .map_err(|error| error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        self.refresh_model_choice().await;
        cancelled
    }

    async fn refresh_model_choice(&self) {
        if let Ok(worker) = self.worker() {
            if let Ok(choice) = worker.model_choice().await {
                self.model_choice.set(choice);
            }
        }
    }

    fn start_worker(self) {
        let worker = match WorkerClient::spawn(WORKER_SCRIPT) {
            Ok(worker) => worker,
            Err(error) => {
                self.worker_state
                    .set(WorkerState::Failed(error.to_string()));
                return;
            }
        };
        self.worker.set_value(Some(worker.clone()));
        let model_state = self.model_state;
        worker.on_model_status(move |status| {
            model_state.set(match status {
                ModelStatus::Ready { model } => ModelState::Ready(model),
                ModelStatus::Failed { message } => ModelState::Failed(message),
                loading => ModelState::Loading(loading),
            })
        });
        worker.on_switch_status(move |status| {
            let settled = !matches!(
                status,
                SwitchStatus::Loading { .. } | SwitchStatus::Running { .. }
            );
            self.switch_state.set(Some(status));
            if settled {
                spawn_local(async move { self.refresh_model_choice().await });
            }
        });
        let bank_state = self.bank_state;
        worker.on_bank_status(move |status| bank_state.set(BankState::Ready(status)));
        let changed_elsewhere = self.changed_elsewhere;
        worker.on_memories_changed_elsewhere(move |_| changed_elsewhere.update(|n| *n += 1));
        spawn_local(async move {
            let result = async {
                let info = worker.ready().await?;
                let (_, round_trip_ms) = self.ping_worker("status".into()).await?;
                Ok::<_, WorkerError>(WorkerState::Ready {
                    info,
                    round_trip_ms,
                })
            }
            .await;
            let ready = result.is_ok();
            self.worker_state
                .set(result.unwrap_or_else(|error| WorkerState::Failed(error.to_string())));
            if ready {
                // An unreadable choice is no reason not to start: the default
                // model is used.
                let choice = worker.model_choice().await.unwrap_or_default();
                self.model_choice.set(choice.clone());
                // The bank opens once the model's load settles (with its vectors,
                // or with keywords only if the model cannot load).
                let (opened_sender, opened) = futures_channel::oneshot::channel();
                let bank_worker = worker.clone();
                spawn_local(async move {
                    let opened = bank_worker.open_bank().await;
                    let _ = opened_sender.send(opened.is_ok());
                    bank_state.set(match opened {
                        Ok(status) => BankState::Ready(status),
                        Err(error) => BankState::Failed(error.to_string()),
                    });
                });
                self.load_active_model(&worker, &choice).await;
                if let Some(target) = choice.switching_to {
                    // A switch left unfinished by a reload resumes once the
                    // bank is open; its vectors written so far are kept.
                    if opened.await == Ok(true) {
                        let _ = self.switch_model(&target).await;
                    }
                }
            }
        });
    }

    /// Loads the model recorded as active; if it fails, says so and loads the
    /// default one.
    async fn load_active_model(self, worker: &WorkerClient, choice: &ModelChoice) {
        let Some(active) = choice
            .active
            .as_deref()
            .filter(|active| !Services::is_default_model(active))
        else {
            // A failure shows in the status bar.
            let _ = self.load_model(worker, DEFAULT_MODEL).await;
            return;
        };
        if let Err(error) = self.load_model(worker, active).await {
            self.model_notice.set(Some(format!(
                "The model chosen in Settings ({active}) could not be loaded, so the default model is used from now on (switch again in Settings → Embedding model once it is fixed): {error}"
            )));
            let _ = self.load_model(worker, DEFAULT_MODEL).await;
            // The stored vectors follow the model in use, so the default one is
            // recorded as chosen: the other one loading again at a later start
            // must not quietly re-embed everything without a switch. Should this
            // write fail, the next start tries the other model again.
            let fallback = ModelChoice {
                active: None,
                ..choice.clone()
            };
            if let Ok(db) = Db::open(&CASEBOOK).await {
                if db
                    .put_value(stores::SETTINGS, keys::EMBEDDING_MODEL, &fallback)
                    .await
                    .is_ok()
                {
                    self.model_choice.set(fallback);
                }
            }
        }
    }

    /// Loads the model in `url` (relative ones resolved against the app).
    async fn load_model(self, worker: &WorkerClient, url: &str) -> Result<ModelSummary, String> {
        let base_url = match absolute_url(url) {
            Ok(url) => url,
            Err(error) => {
                self.model_state.set(ModelState::Failed(error.clone()));
                return Err(error);
            }
        };
        // Progress and the outcome arrive as status events; a failure is also
        // reported here in case the worker died before it could send one.
        worker.load_model(base_url).await.map_err(|error| {
            if !matches!(self.model_state.get_untracked(), ModelState::Failed(_)) {
                self.model_state.set(ModelState::Failed(error.to_string()));
            }
            error.to_string()
        })
    }

    fn open_db(self) {
        spawn_local(async move {
            match Db::open(&CASEBOOK).await {
                Ok(db) => {
                    let update_state = self.update_state;
                    let db_state = self.db;
                    db.on_closed_for_upgrade(move || {
                        update_state.set(UpdateState::ActivatedElsewhere);
                        db_state.set(DbState::Failed(DbError::ClosedForUpgrade.to_string()));
                    });
                    // A missing or unreadable theme is not worth an error: keep the default.
                    if let Ok(Some(theme)) =
                        db.get_value::<Theme>(stores::SETTINGS, keys::THEME).await
                    {
                        self.theme.set(theme);
                    }
                    self.db.set(DbState::Ready(db));
                    self.watch_storage();
                }
                Err(error) => self.db.set(DbState::Failed(error.to_string())),
            }
        });
    }

    /// Asks for persistent storage once, then keeps the usage figures current.
    fn watch_storage(self) {
        spawn_local(async move {
            self.storage_persistent
                .set(Some(storage::request_persistence().await));
            self.refresh_storage_use().await;
        });
        set_interval(
            move || spawn_local(async move { self.refresh_storage_use().await }),
            STORAGE_REFRESH_INTERVAL,
        );
    }

    pub async fn refresh_storage_use(&self) {
        self.storage_use.set(storage::estimate().await);
    }
}

/// Milliseconds since the page started, with sub-millisecond precision.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map_or(0.0, |performance| performance.now())
}

/// Resolves `relative` against the document's base URL (the worker needs absolute
/// URLs: its own base is its script's location).
fn absolute_url(relative: &str) -> Result<String, String> {
    let base = document()
        .base_uri()
        .ok()
        .flatten()
        .ok_or_else(|| "the page has no base URL".to_owned())?;
    web_sys::Url::new_with_base(relative, &base)
        .map(|url| url.href())
        .map_err(|error| crate::web::js_error_text(&error))
}
