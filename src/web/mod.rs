//! Browser glue: IndexedDB, the background worker. Thin by design; the logic it
//! carries out lives in `core`.

pub mod bank_store;
pub mod conversations;
pub mod db;
pub mod engine;
pub mod llm;
pub mod model_files;
pub mod pwa;
pub mod storage;
pub mod worker_client;

use wasm_bindgen::JsValue;

/// Turns a JavaScript error value into words for the user (its `message` when it
/// is an `Error`, else its string form).
pub fn js_error_text(value: &JsValue) -> String {
    if let Some(error) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Error>(value) {
        return String::from(error.message());
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}
