//! LLM calls from the browser: sends the requests `core::llm` builds with
//! `fetch`, reads streamed answers chunk by chunk, retries what may pass
//! (rate limits, overloaded servers), stops on request, and keeps provider
//! profiles and their keys in this browser.
//!
//! gloo-net cannot stream a response body, so the body's `ReadableStream` is
//! read here with a `ReadableStreamDefaultReader` and every chunk goes to
//! [`ChatStream::push`]. Works in a page and in a worker.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, ReadableStreamDefaultReader, RequestInit, Response};

use crate::core::chat::ProviderSettings;
use crate::core::llm::{
    parse_model_list, retry_delay, ApiKey, ChatStream, HttpRequest, LlmError, ProviderProfile,
    StopReason, StreamEvent, Usage,
};
use crate::core::schema::stores;
use crate::core::settings::keys;
use crate::web::db::{Db, DbError};

/// How often a wait before a retry checks whether the user pressed Stop.
const STOP_CHECK_MS: u64 = 100;
/// Where keys kept "for this session only" live in `sessionStorage`.
const SESSION_KEY_PREFIX: &str = "casebook.provider-key.";

/// Stops a call: the Stop button. Cheap to clone; every clone stops the same
/// call. Stopping aborts the request (or the body being read) and ends a wait
/// before a retry.
#[derive(Clone)]
pub struct CallControl {
    controller: Option<AbortController>,
    stopped: Rc<Cell<bool>>,
    /// Cancels the body being read, so that Stop ends a read that waits for a
    /// server that went silent.
    cancel_read: Rc<RefCell<Option<ReadableStreamDefaultReader>>>,
}

impl Default for CallControl {
    fn default() -> CallControl {
        CallControl::new()
    }
}

impl CallControl {
    pub fn new() -> CallControl {
        CallControl {
            // Every browser Casebook runs in has AbortController; without one
            // Stop still ends the call at the next chunk.
            controller: AbortController::new().ok(),
            stopped: Rc::new(Cell::new(false)),
            cancel_read: Rc::default(),
        }
    }

    pub fn stop(&self) {
        self.stopped.set(true);
        if let Some(controller) = &self.controller {
            controller.abort();
        }
        if let Some(reader) = self.cancel_read.borrow_mut().take() {
            // Ends a pending read that waits for a silent server.
            cancel_quietly(&reader);
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.get()
    }
}

/// What happens during a streamed call, as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatProgress {
    /// The request failed with `error`, which may pass: it is sent again after
    /// `delay_ms` (retry number `retry`, from 1).
    Retrying {
        error: LlmError,
        delay_ms: u64,
        retry: u32,
    },
    /// The provider accepted the request; the answer follows.
    Accepted,
    /// More of the answer's text.
    Text(String),
    Usage(Usage),
}

/// How a call ended. The text that arrived before it ended stands in every case.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEnd {
    Finished(StopReason),
    /// The user stopped it.
    Stopped,
    Failed(LlmError),
}

/// Sends a chat request built by `ProviderProfile::chat_request` and streams
/// its answer into `on_progress`. Failures that may pass are retried (at most
/// `core::llm::MAX_RETRIES` times, waiting as the provider asks); a failure
/// after text has arrived is not, since the text is already shown.
pub async fn stream_chat(
    request: &HttpRequest,
    control: &CallControl,
    on_progress: &mut dyn FnMut(ChatProgress),
) -> ChatEnd {
    let mut retries = 0;
    let response = loop {
        if control.is_stopped() {
            return ChatEnd::Stopped;
        }
        let error = match send(request, control).await {
            Sent::Response(response) => break response,
            Sent::Stopped => return ChatEnd::Stopped,
            Sent::Failed(error) => error,
        };
        let Some(delay_ms) = retry_delay(&error, retries) else {
            return ChatEnd::Failed(error);
        };
        retries += 1;
        on_progress(ChatProgress::Retrying {
            error,
            delay_ms,
            retry: retries,
        });
        if !wait(delay_ms, control).await {
            return ChatEnd::Stopped;
        }
    };
    on_progress(ChatProgress::Accepted);
    read_chat_body(&response, request, control, on_progress).await
}

/// The whole answer to `request` as one text, with the same retries as
/// [`stream_chat`] (for calls the user does not watch, such as extraction).
pub async fn complete(request: &HttpRequest, control: &CallControl) -> Result<String, ChatEnd> {
    let mut text = String::new();
    let end = stream_chat(request, control, &mut |progress| {
        if let ChatProgress::Text(more) = progress {
            text.push_str(&more);
        }
    })
    .await;
    match end {
        ChatEnd::Finished(_) => Ok(text),
        other => Err(other),
    }
}

/// Reads a streamed chat response's body into `on_progress` until the
/// provider ends it, it fails, or `control` stops it.
pub async fn read_chat_body(
    response: &Response,
    request: &HttpRequest,
    control: &CallControl,
    on_progress: &mut dyn FnMut(ChatProgress),
) -> ChatEnd {
    let mut stream = ChatStream::new(request);
    let Some(body) = response.body() else {
        return deliver(stream.finish(), on_progress)
            .unwrap_or(ChatEnd::Failed(LlmError::StreamCut));
    };
    let reader = match ReadableStreamDefaultReader::new(&body) {
        Ok(reader) => reader,
        Err(_) => return ChatEnd::Failed(LlmError::StreamCut),
    };
    *control.cancel_read.borrow_mut() = Some(reader.clone());
    let end = read_all(&reader, &mut stream, control, on_progress).await;
    control.cancel_read.borrow_mut().take();
    end
}

async fn read_all(
    reader: &ReadableStreamDefaultReader,
    stream: &mut ChatStream,
    control: &CallControl,
    on_progress: &mut dyn FnMut(ChatProgress),
) -> ChatEnd {
    loop {
        let chunk = JsFuture::from(reader.read()).await;
        if control.is_stopped() {
            // Release the connection.
            cancel_quietly(reader);
            return ChatEnd::Stopped;
        }
        match chunk.map(|result| read_result(&result)) {
            Ok(Some(bytes)) => {
                if let Some(end) = deliver(stream.push(&bytes), on_progress) {
                    cancel_quietly(reader);
                    return end;
                }
            }
            // The body ended, or the connection broke: the decoder knows
            // whether the provider had finished.
            Ok(None) | Err(_) => {
                return deliver(stream.finish(), on_progress)
                    .unwrap_or(ChatEnd::Failed(LlmError::StreamCut))
            }
        }
    }
}

/// Cancels reading a body. Once Stop has aborted the request the body is
/// already errored and `cancel()` rejects with that AbortError: the rejection
/// is awaited here, or the browser reports it as an uncaught error.
fn cancel_quietly(reader: &ReadableStreamDefaultReader) {
    let cancelled = JsFuture::from(reader.cancel());
    wasm_bindgen_futures::spawn_local(async move {
        // Either way the body is no longer read, which is all that was asked.
        let _ = cancelled.await;
    });
}

/// Passes events on; returns how the answer ended if one of them ends it.
fn deliver(events: Vec<StreamEvent>, on_progress: &mut dyn FnMut(ChatProgress)) -> Option<ChatEnd> {
    for event in events {
        match event {
            StreamEvent::Text(text) => on_progress(ChatProgress::Text(text)),
            StreamEvent::Usage(usage) => on_progress(ChatProgress::Usage(usage)),
            StreamEvent::Finished(reason) => return Some(ChatEnd::Finished(reason)),
            StreamEvent::Failed(error) => return Some(ChatEnd::Failed(error)),
        }
    }
    None
}

/// The bytes of one `reader.read()` result, `None` once the body is done.
fn read_result(result: &JsValue) -> Option<Vec<u8>> {
    let done = Reflect::get(result, &"done".into())
        .ok()
        .and_then(|done| done.as_bool())
        .unwrap_or(true);
    if done {
        return None;
    }
    let value = Reflect::get(result, &"value".into()).ok()?;
    Some(value.dyn_into::<Uint8Array>().ok()?.to_vec())
}

/// The models a provider offers (for the model picker).
pub async fn list_models(
    profile: &ProviderProfile,
    key: Option<&ApiKey>,
) -> Result<Vec<String>, LlmError> {
    let request = profile.models_request(key)?;
    match send(&request, &CallControl::new()).await {
        Sent::Response(response) => parse_model_list(&body_text(&response).await),
        Sent::Failed(error) => Err(error),
        // Nothing stops this call.
        Sent::Stopped => Ok(Vec::new()),
    }
}

enum Sent {
    /// A 2xx response; its body is unread.
    Response(Response),
    Stopped,
    Failed(LlmError),
}

/// Sends `request` once.
async fn send(request: &HttpRequest, control: &CallControl) -> Sent {
    let init = RequestInit::new();
    init.set_method(request.method().as_str());
    let headers = match Headers::new() {
        Ok(headers) => headers,
        Err(_) => return Sent::Failed(LlmError::unreachable(request, &page_origin())),
    };
    for (name, value) in request.headers() {
        // The only value a user typed is the key, and a key the browser
        // refuses is what ApiKey::parse already reports.
        if headers.append(name, value).is_err() {
            return Sent::Failed(LlmError::InvalidKey);
        }
    }
    init.set_headers(&headers);
    if let Some(body) = request.body() {
        init.set_body(&JsValue::from_str(body));
    }
    if let Some(controller) = &control.controller {
        init.set_signal(Some(&controller.signal()));
    }
    let fetched = match fetch(request.url(), &init) {
        Ok(promise) => JsFuture::from(promise).await,
        Err(error) => Err(error),
    };
    let response: Response = match fetched.and_then(|value| value.dyn_into()) {
        Ok(response) => response,
        Err(_) if control.is_stopped() => return Sent::Stopped,
        // The browser says no more than "Failed to fetch" for an offline
        // network, a server that is down and a CORS refusal alike.
        Err(_) => return Sent::Failed(LlmError::unreachable(request, &page_origin())),
    };
    if response.ok() {
        return Sent::Response(response);
    }
    let retry_after = response.headers().get("retry-after").ok().flatten();
    let body = body_text(&response).await;
    if control.is_stopped() {
        return Sent::Stopped;
    }
    Sent::Failed(LlmError::from_response(
        request,
        response.status(),
        retry_after.as_deref(),
        &body,
        js_sys::Date::now() as u64,
    ))
}

/// A response's whole body as text; empty when it cannot be read (an error
/// response is still explained by its status).
async fn body_text(response: &Response) -> String {
    let Ok(promise) = response.text() else {
        return String::new();
    };
    JsFuture::from(promise)
        .await
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_default()
}

fn fetch(url: &str, init: &RequestInit) -> Result<Promise, JsValue> {
    let global = js_sys::global();
    if let Some(scope) = global.dyn_ref::<web_sys::WorkerGlobalScope>() {
        Ok(scope.fetch_with_str_and_init(url, init))
    } else if let Some(window) = global.dyn_ref::<web_sys::Window>() {
        Ok(window.fetch_with_str_and_init(url, init))
    } else {
        Err(JsValue::from_str("this context cannot fetch"))
    }
}

/// This page's origin (`location.origin`), which a local server must allow.
fn page_origin() -> String {
    Reflect::get(&js_sys::global(), &"location".into())
        .and_then(|location| Reflect::get(&location, &"origin".into()))
        .ok()
        .and_then(|origin| origin.as_string())
        .unwrap_or_default()
}

/// Waits `ms` milliseconds; `false` if the user stopped the call meanwhile.
async fn wait(ms: u64, control: &CallControl) -> bool {
    let mut left = ms;
    while left > 0 {
        if control.is_stopped() {
            return false;
        }
        let step = left.min(STOP_CHECK_MS);
        super::sleep(step).await;
        left -= step;
    }
    !control.is_stopped()
}

/// The provider profiles saved in Settings (none yet: empty).
pub async fn provider_settings(db: &Db) -> Result<ProviderSettings, DbError> {
    Ok(db
        .get_value::<ProviderSettings>(stores::SETTINGS, keys::PROVIDERS)
        .await?
        .unwrap_or_default())
}

pub async fn save_provider_settings(db: &Db, settings: &ProviderSettings) -> Result<(), DbError> {
    db.put_value(stores::SETTINGS, keys::PROVIDERS, settings)
        .await
}

/// Keys live in their own settings record (never in a profile, never in an
/// export), or in `sessionStorage` when the user keeps one for this session
/// only: then it is gone when the tab closes.
type StoredKeys = BTreeMap<String, String>;

/// The key saved for a profile, if any. A stored key the browser could not
/// send (edited by hand) is reported rather than sent.
pub async fn key_for(db: &Db, profile_id: &str) -> Result<Option<ApiKey>, KeyError> {
    match key_text(db, profile_id).await? {
        Some(text) => ApiKey::parse(&text).map_err(KeyError::Invalid),
        None => Ok(None),
    }
}

/// The key as kept: this session's first, else the saved one.
async fn key_text(db: &Db, profile_id: &str) -> Result<Option<String>, DbError> {
    match session_key(profile_id) {
        Some(text) => Ok(Some(text)),
        None => Ok(stored_keys(db).await?.remove(profile_id)),
    }
}

/// Where a profile's key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPlace {
    None,
    /// In this browser's settings, until removed.
    Saved,
    /// In this tab only, until it closes.
    Session,
}

pub async fn key_place(db: &Db, profile_id: &str) -> Result<KeyPlace, KeyError> {
    if session_key(profile_id).is_some() {
        return Ok(KeyPlace::Session);
    }
    Ok(if stored_keys(db).await?.contains_key(profile_id) {
        KeyPlace::Saved
    } else {
        KeyPlace::None
    })
}

/// Keeps `text` (checked with `ApiKey::parse`) as the key of `profile_id`,
/// saved or for this session only; a blank text removes the key.
pub async fn set_key(
    db: &Db,
    profile_id: &str,
    text: &str,
    session_only: bool,
) -> Result<(), KeyError> {
    let key = ApiKey::parse(text).map_err(KeyError::Invalid)?;
    let mut saved = stored_keys(db).await?;
    let session = session_storage();
    let session_name = format!("{SESSION_KEY_PREFIX}{profile_id}");
    if let Some(storage) = &session {
        let _ = storage.remove_item(&session_name);
    }
    saved.remove(profile_id);
    if key.is_some() {
        let trimmed = text.trim();
        if session_only {
            let storage = session.ok_or(KeyError::NoSessionStorage)?;
            storage
                .set_item(&session_name, trimmed)
                .map_err(|_| KeyError::NoSessionStorage)?;
        } else {
            saved.insert(profile_id.to_owned(), trimmed.to_owned());
        }
    }
    db.put_value(stores::SETTINGS, keys::PROVIDER_KEYS, &saved)
        .await?;
    Ok(())
}

/// Moves a profile's key between the saved settings and this session, as it is.
pub async fn move_key(db: &Db, profile_id: &str, session_only: bool) -> Result<(), KeyError> {
    match key_text(db, profile_id).await? {
        Some(text) => set_key(db, profile_id, &text, session_only).await,
        None => Ok(()),
    }
}

async fn stored_keys(db: &Db) -> Result<StoredKeys, DbError> {
    Ok(db
        .get_value::<StoredKeys>(stores::SETTINGS, keys::PROVIDER_KEYS)
        .await?
        .unwrap_or_default())
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

fn session_key(profile_id: &str) -> Option<String> {
    session_storage()?
        .get_item(&format!("{SESSION_KEY_PREFIX}{profile_id}"))
        .ok()
        .flatten()
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(LlmError),
    #[error("{0}")]
    Storage(#[from] DbError),
    #[error("This browser does not allow keeping a key for this session only (sessionStorage is blocked); save it instead, or allow site data.")]
    NoSessionStorage,
}
