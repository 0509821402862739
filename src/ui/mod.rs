//! Leptos components. They reach storage and the worker only through `web`.

mod app;
mod assistants;
mod backups;
mod bank_changes;
mod chat;
mod evaluation;
mod inbox;
mod memory;
mod model_switch;
mod providers;
mod services;
mod settings;
mod status_bar;
mod undo;
mod update_banner;

pub use app::App;

/// Mounts the app into the page's body.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}
