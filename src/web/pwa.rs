//! The service worker (public/sw.js): registration and the update flow.
//!
//! A new version of the app installs in the background and waits. The page shows
//! "Update available" and switches only when the user asks, so an answer being
//! streamed is never cut off by an update.

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    ServiceWorker, ServiceWorkerContainer, ServiceWorkerRegistration, ServiceWorkerState,
};

/// What the user should be told about app versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateState {
    /// This page runs the newest version it knows of.
    Current,
    /// A new version is installed and waits for the user to reload.
    Available,
    /// Another tab switched to a new version; this one still runs the old code.
    ActivatedElsewhere,
}

/// The registration, kept to apply an update later.
#[derive(Clone)]
pub struct AppUpdates {
    container: ServiceWorkerContainer,
    registration: ServiceWorkerRegistration,
    /// Set when this tab asked for the update, so that only this tab reloads.
    reload_requested: Rc<Cell<bool>>,
}

fn container() -> Option<ServiceWorkerContainer> {
    let navigator = web_sys::window()?.navigator();
    // Absent in insecure contexts and some private modes; the app works without it.
    js_sys::Reflect::has(&navigator, &"serviceWorker".into())
        .ok()?
        .then(|| navigator.service_worker())
}

impl AppUpdates {
    /// Registers `script_url` and reports update states through `on_change`.
    /// Returns `Ok(None)` where service workers are unavailable.
    pub async fn register(
        script_url: &str,
        on_change: impl Fn(UpdateState) + 'static,
    ) -> Result<Option<AppUpdates>, String> {
        let Some(container) = container() else {
            return Ok(None);
        };
        let registration: ServiceWorkerRegistration =
            JsFuture::from(container.register(script_url))
                .await
                .map_err(|error| super::js_error_text(&error))?
                .unchecked_into();
        let updates = AppUpdates {
            container,
            registration,
            reload_requested: Rc::new(Cell::new(false)),
        };
        updates.watch(Rc::new(on_change));
        Ok(Some(updates))
    }

    fn watch(&self, on_change: Rc<dyn Fn(UpdateState)>) {
        let has_controller = {
            let container = self.container.clone();
            move || container.controller().is_some()
        };
        // A version that finished installing while no tab was open waits already.
        if self.registration.waiting().is_some() && has_controller() {
            on_change(UpdateState::Available);
        }

        let registration = self.registration.clone();
        let found_change = on_change.clone();
        let on_update_found = Closure::<dyn FnMut()>::new(move || {
            let Some(installing) = registration.installing() else {
                return;
            };
            let worker = installing.clone();
            let has_controller = has_controller.clone();
            let on_change = found_change.clone();
            let on_state = Closure::<dyn FnMut()>::new(move || {
                // The first install (no controller yet) is not an update.
                if worker.state() == ServiceWorkerState::Installed && has_controller() {
                    on_change(UpdateState::Available);
                }
            });
            installing.set_onstatechange(Some(on_state.as_ref().unchecked_ref()));
            on_state.forget();
        });
        self.registration
            .set_onupdatefound(Some(on_update_found.as_ref().unchecked_ref()));
        on_update_found.forget();

        let reload_requested = self.reload_requested.clone();
        let on_controller_change = Closure::<dyn FnMut()>::new(move || {
            if reload_requested.get() {
                if let Some(window) = web_sys::window() {
                    let _ = window.location().reload();
                }
            } else {
                on_change(UpdateState::ActivatedElsewhere);
            }
        });
        self.container
            .set_oncontrollerchange(Some(on_controller_change.as_ref().unchecked_ref()));
        on_controller_change.forget();
    }

    /// Switches to the waiting version; the page reloads once it has taken over.
    pub fn apply(&self) {
        match self.registration.waiting() {
            Some(waiting) => self.activate(&waiting),
            // Already active (e.g. activated by another tab): just load it.
            None => {
                if let Some(window) = web_sys::window() {
                    let _ = window.location().reload();
                }
            }
        }
    }

    fn activate(&self, waiting: &ServiceWorker) {
        self.reload_requested.set(true);
        let message = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&message, &"type".into(), &"skip-waiting".into());
        let _ = waiting.post_message(&message);
    }

    /// Asks the browser to look for a new version now (it also does so on its own
    /// when pages load).
    pub async fn check(&self) -> Result<(), String> {
        let promise = self
            .registration
            .update()
            .map_err(|error| super::js_error_text(&error))?;
        JsFuture::from(promise)
            .await
            .map(|_| ())
            .map_err(|error| super::js_error_text(&error))
    }
}
