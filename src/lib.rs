//! Casebook: an LLM assistant that keeps learning after deployment by reading and
//! writing a case bank that lives in the user's browser.
//!
//! `core` is pure Rust (no web-sys) and is tested natively; `web` is the thin
//! browser glue (IndexedDB, the worker, fetch); `ui` holds the Leptos components.
//! `core` never imports `web` or `ui`, and `ui` reaches storage and the worker
//! only through `web`.

pub mod core;
#[cfg(target_arch = "wasm32")]
pub mod ui;
#[cfg(target_arch = "wasm32")]
pub mod web;
