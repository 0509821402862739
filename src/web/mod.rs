//! Browser glue: IndexedDB, the background worker. Thin by design; the logic it
//! carries out lives in `core`.

pub mod bank_store;
pub mod conversations;
pub mod db;
pub mod engine;
pub mod files;
pub mod llm;
pub mod model_files;
pub mod pwa;
pub mod storage;
pub mod worker_client;

use wasm_bindgen::{JsCast, JsValue};

/// Turns a JavaScript error value into words for the user (its `message` when it
/// is an `Error`, else its string form).
pub fn js_error_text(value: &JsValue) -> String {
    if let Some(error) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Error>(value) {
        return String::from(error.message());
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

/// The file chosen in the `<input type="file">` whose change fired `event`.
/// The input is cleared, so that choosing the same file again (after fixing
/// it, say) fires another change.
pub fn chosen_file(event: &web_sys::Event) -> Option<web_sys::File> {
    let input = event.target().and_then(|target| {
        wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(target).ok()
    })?;
    let file = input.files().and_then(|files| files.get(0));
    input.set_value("");
    file
}

/// The bytes of a file the user chose, or why they could not be read.
pub async fn file_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .map(|buffer| js_sys::Uint8Array::new(&buffer).to_vec())
        .map_err(|error| js_error_text(&error))
}

/// 64 random bits (`Math.random` twice), for new ids: unique, not secret.
pub fn random_u64() -> u64 {
    let half = || (js_sys::Math::random() * 4_294_967_296.0) as u64;
    (half() << 32) | half()
}

/// Waits `ms` milliseconds (a timer task: pending messages and events are
/// handled meanwhile, even with `ms` 0), in a page or a worker.
pub async fn sleep(ms: u64) {
    let global = js_sys::global();
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let set_timeout = js_sys::Reflect::get(&global, &"setTimeout".into())
            .ok()
            .and_then(|function| function.dyn_into::<js_sys::Function>().ok());
        match set_timeout {
            Some(set_timeout) => {
                if set_timeout
                    .call2(&global, &resolve, &JsValue::from_f64(ms as f64))
                    .is_err()
                {
                    let _ = resolve.call0(&JsValue::UNDEFINED);
                }
            }
            None => {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
