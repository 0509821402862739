//! Saving files for the user: as a download, or into a file they chose once
//! and that is written again later (the File System Access API, where the
//! browser has it; used by scheduled backups).
//!
//! web-sys has no stable binding for `showSaveFilePicker` and the handle's
//! permission calls, so they are called by name.

use js_sys::{Function, Object, Promise, Reflect};
use thiserror::Error;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::js_error_text;

#[derive(Debug, Error, PartialEq)]
pub enum FileError {
    #[error("This browser cannot write to a file you choose; files are downloaded instead.")]
    Unsupported,
    #[error("Casebook may not write to {0} until you allow it (press “Back up now”).")]
    NotAllowed(String),
    #[error("{file} could not be written: {reason}")]
    Write { file: String, reason: String },
    #[error("The file could not be saved: {0}")]
    Download(String),
}

/// Whether this browser lets the user choose a file that Casebook writes again later.
pub fn can_choose_file() -> bool {
    picker().is_some()
}

fn picker() -> Option<Function> {
    let window = web_sys::window()?;
    Reflect::get(&window, &JsValue::from_str("showSaveFilePicker"))
        .ok()?
        .dyn_into()
        .ok()
}

/// Asks the user where backups go (a save dialog offering `suggested_name`).
/// `None` when they closed the dialog.
pub async fn choose_file(suggested_name: &str) -> Result<Option<JsValue>, FileError> {
    let picker = picker().ok_or(FileError::Unsupported)?;
    let options = Object::new();
    set(
        &options,
        "suggestedName",
        &JsValue::from_str(suggested_name),
    );
    let json = Object::new();
    set(
        &json,
        "accept",
        &object_with("application/json", &js_sys::Array::of1(&".json".into())),
    );
    set(&json, "description", &JsValue::from_str("Casebook backup"));
    set(&options, "types", &js_sys::Array::of1(&json));
    let promise = picker
        .call1(&JsValue::NULL, &options)
        .and_then(|value| value.dyn_into::<Promise>());
    match await_promise(promise).await {
        Ok(handle) => Ok(Some(handle)),
        // Closing the dialog is not a failure.
        Err(error) if error_name(&error) == "AbortError" => Ok(None),
        Err(error) => Err(FileError::Write {
            file: suggested_name.to_owned(),
            reason: js_error_text(&error),
        }),
    }
}

/// The name of the file behind `handle`.
pub fn file_name(handle: &JsValue) -> String {
    Reflect::get(handle, &JsValue::from_str("name"))
        .ok()
        .and_then(|name| name.as_string())
        .unwrap_or_else(|| "the chosen file".to_owned())
}

/// Makes sure Casebook may write to the file behind `handle`. Without `ask`,
/// only checks (a scheduled backup has nobody to ask); with `ask` (right after
/// a click), lets the browser ask the user if it needs to.
pub async fn allow_writing(handle: &JsValue, ask: bool) -> Result<(), FileError> {
    let mode = object_with("mode", &JsValue::from_str("readwrite"));
    let mut allowed = permission(handle, "queryPermission", &mode).await? == "granted";
    if !allowed && ask {
        allowed = permission(handle, "requestPermission", &mode).await? == "granted";
    }
    if allowed {
        Ok(())
    } else {
        Err(FileError::NotAllowed(file_name(handle)))
    }
}

/// Replaces the content of the file behind `handle` with `text` (see
/// [`allow_writing`]).
pub async fn write_file(handle: &JsValue, text: &str) -> Result<(), FileError> {
    let failed = |error: JsValue| FileError::Write {
        file: file_name(handle),
        reason: js_error_text(&error),
    };
    let writable = await_promise(call_method(handle, "createWritable", &[]))
        .await
        .map_err(failed)?;
    // The file keeps its old content until close() succeeds.
    await_promise(call_method(&writable, "write", &[JsValue::from_str(text)]))
        .await
        .map_err(failed)?;
    await_promise(call_method(&writable, "close", &[]))
        .await
        .map_err(failed)?;
    Ok(())
}

async fn permission(handle: &JsValue, method: &str, mode: &JsValue) -> Result<String, FileError> {
    let state = await_promise(call_method(handle, method, std::slice::from_ref(mode)))
        .await
        .map_err(|error| FileError::Write {
            file: file_name(handle),
            reason: js_error_text(&error),
        })?;
    Ok(state.as_string().unwrap_or_default())
}

/// Saves `text` as a download named `file_name`.
pub fn download(text: &str, file_name: &str) -> Result<(), FileError> {
    let failed = |error: JsValue| FileError::Download(js_error_text(&error));
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/json");
    let blob =
        web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).map_err(failed)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(failed)?;
    let link: web_sys::HtmlAnchorElement = web_sys::window()
        .and_then(|window| window.document())
        .ok_or_else(|| FileError::Download("there is no page to save from".into()))?
        .create_element("a")
        .map_err(failed)?
        .dyn_into()
        .map_err(|_| FileError::Download("no link element".into()))?;
    link.set_href(&url);
    link.set_download(file_name);
    link.click();
    // The download has started once click() returns; the URL can go a little later.
    leptos::prelude::set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        },
        std::time::Duration::from_secs(10),
    );
    Ok(())
}

fn call_method(target: &JsValue, method: &str, args: &[JsValue]) -> Result<Promise, JsValue> {
    let function: Function = Reflect::get(target, &JsValue::from_str(method))?.dyn_into()?;
    let args: js_sys::Array = args.iter().collect();
    function.apply(target, &args)?.dyn_into::<Promise>()
}

async fn await_promise(promise: Result<Promise, JsValue>) -> Result<JsValue, JsValue> {
    JsFuture::from(promise?).await
}

fn object_with(key: &str, value: &JsValue) -> JsValue {
    let object = Object::new();
    set(&object, key, value);
    object.into()
}

fn set(object: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

fn error_name(error: &JsValue) -> String {
    Reflect::get(error, &JsValue::from_str("name"))
        .ok()
        .and_then(|name| name.as_string())
        .unwrap_or_default()
}
