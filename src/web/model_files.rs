//! Fetches the embedding model's files with progress, verifies them, and keeps
//! them in Cache Storage so that a reload or an offline start does not download
//! them again. Runs in the worker.
//!
//! The cache is separate from the app's service-worker cache, so app updates never
//! evict the model. Files are cached under their URL plus their sha256 from
//! `model.json`: a new model file is a new entry, never a stale hit.

use js_sys::{Reflect, Uint8Array};
use thiserror::Error;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, CacheStorage, ReadableStreamDefaultReader, Response};

use crate::core::embed::{EmbedError, ModelManifest, MODEL_FILE, TOKENIZER_FILE};
use crate::core::protocol::ModelStatus;

/// Bump to drop every cached model file (e.g. after a cache format change).
const MODEL_CACHE: &str = "casebook-models-v1";
const MANIFEST_FILE: &str = "model.json";
/// Progress is reported at most this often, in bytes, to keep messages few.
const PROGRESS_STEP: u64 = 256 * 1024;

#[derive(Debug, Clone, Error, PartialEq)]
pub enum ModelFetchError {
    #[error("The model file {file} could not be downloaded from {url}: {reason}")]
    Download {
        file: String,
        url: String,
        reason: String,
    },
    #[error("{0}")]
    Invalid(#[from] EmbedError),
}

pub struct ModelFiles {
    pub manifest: ModelManifest,
    pub model: Vec<u8>,
    pub tokenizer: Vec<u8>,
    /// Whether both large files came from the cache.
    pub from_cache: bool,
}

fn global<T: JsCast>() -> Option<T> {
    js_sys::global().dyn_into::<T>().ok()
}

async fn fetch(url: &str) -> Result<Response, String> {
    let promise = if let Some(scope) = global::<web_sys::WorkerGlobalScope>() {
        scope.fetch_with_str(url)
    } else if let Some(window) = global::<web_sys::Window>() {
        window.fetch_with_str(url)
    } else {
        return Err("this context cannot fetch".into());
    };
    let response: Response = JsFuture::from(promise)
        .await
        .map_err(|error| {
            format!(
                "network error ({}); check the connection",
                super::js_error_text(&error)
            )
        })?
        .unchecked_into();
    if !response.ok() {
        return Err(format!(
            "HTTP {} {}",
            response.status(),
            response.status_text()
        ));
    }
    Ok(response)
}

/// A whole (small) file, without progress.
async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let response = fetch(url).await?;
    let promise = response
        .array_buffer()
        .map_err(|error| super::js_error_text(&error))?;
    let buffer = JsFuture::from(promise)
        .await
        .map_err(|error| super::js_error_text(&error))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

async fn open_cache() -> Option<Cache> {
    // Cache Storage is missing in insecure contexts; then files are fetched each time.
    let storage: CacheStorage = if let Some(scope) = global::<web_sys::WorkerGlobalScope>() {
        scope.caches().ok()?
    } else {
        global::<web_sys::Window>()?.caches().ok()?
    };
    JsFuture::from(storage.open(MODEL_CACHE))
        .await
        .ok()
        .map(JsCast::unchecked_into)
}

async fn cached_bytes(cache: &Cache, key: &str) -> Option<Vec<u8>> {
    let hit = JsFuture::from(cache.match_with_str(key)).await.ok()?;
    let response: Response = hit.dyn_into().ok()?;
    let buffer = JsFuture::from(response.array_buffer().ok()?).await.ok()?;
    Some(Uint8Array::new(&buffer).to_vec())
}

async fn store(cache: &Cache, key: &str, bytes: &[u8]) {
    // A failed write (quota) only costs a download next time.
    let body = Uint8Array::from(bytes);
    if let Ok(response) = Response::new_with_opt_buffer_source(Some(&body)) {
        let _ = JsFuture::from(cache.put_with_str(key, &response)).await;
    }
}

/// Reads a response body, reporting progress as bytes arrive.
async fn read_with_progress(
    response: Response,
    file: &str,
    on_status: &dyn Fn(ModelStatus),
) -> Result<Vec<u8>, String> {
    let total = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|length| length.parse::<u64>().ok());
    let report = |loaded: u64| {
        on_status(ModelStatus::Downloading {
            file: file.to_owned(),
            loaded_bytes: loaded,
            total_bytes: total,
        })
    };
    let Some(body) = response.body() else {
        return Ok(Vec::new());
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::with_capacity(total.unwrap_or(0) as usize);
    let mut reported = 0u64;
    report(0);
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|error| {
            format!("the download broke off ({})", super::js_error_text(&error))
        })?;
        if Reflect::get(&chunk, &"done".into())
            .map(|done| done.is_truthy())
            .unwrap_or(true)
        {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(|error| super::js_error_text(&error))?
            .unchecked_into();
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        if bytes.len() as u64 - reported >= PROGRESS_STEP {
            reported = bytes.len() as u64;
            report(reported);
        }
    }
    report(bytes.len() as u64);
    Ok(bytes)
}

/// `model.json`: from the network when possible (it says which files are
/// current), else from the cache (offline).
async fn fetch_manifest(
    base_url: &str,
    cache: Option<&Cache>,
) -> Result<ModelManifest, ModelFetchError> {
    let url = format!("{base_url}{MANIFEST_FILE}");
    let downloaded = fetch_bytes(&url).await;
    let bytes = match (downloaded, cache) {
        (Ok(bytes), Some(cache)) => {
            store(cache, &url, &bytes).await;
            bytes
        }
        (Ok(bytes), None) => bytes,
        (Err(reason), Some(cache)) => cached_bytes(cache, &url)
            .await
            .ok_or_else(|| download_error(MANIFEST_FILE, &url, reason))?,
        (Err(reason), None) => return Err(download_error(MANIFEST_FILE, &url, reason)),
    };
    Ok(ModelManifest::parse(&bytes)?)
}

fn download_error(file: &str, url: &str, reason: String) -> ModelFetchError {
    ModelFetchError::Download {
        file: file.to_owned(),
        url: url.to_owned(),
        reason,
    }
}

/// One large file: from the cache if present, else downloaded, checked, cached.
async fn fetch_file(
    base_url: &str,
    file: &str,
    manifest: &ModelManifest,
    cache: Option<&Cache>,
    on_status: &dyn Fn(ModelStatus),
) -> Result<(Vec<u8>, bool), ModelFetchError> {
    let url = format!("{base_url}{file}");
    let sha256 = manifest
        .files
        .get(file)
        .map(|info| info.sha256.clone())
        .unwrap_or_default();
    let key = format!("{url}?sha256={sha256}");
    if let Some(cache) = cache {
        if let Some(bytes) = cached_bytes(cache, &key).await {
            if manifest.verify(file, &bytes).is_ok() {
                return Ok((bytes, true));
            }
        }
    }
    let response = fetch(&url)
        .await
        .map_err(|reason| download_error(file, &url, reason))?;
    let bytes = read_with_progress(response, file, on_status)
        .await
        .map_err(|reason| download_error(file, &url, reason))?;
    manifest.verify(file, &bytes)?;
    if let Some(cache) = cache {
        store(cache, &key, &bytes).await;
    }
    Ok((bytes, false))
}

/// Fetches and verifies the model under `base_url` (absolute, ending in `/`).
pub async fn fetch_model(
    base_url: &str,
    on_status: &dyn Fn(ModelStatus),
) -> Result<ModelFiles, ModelFetchError> {
    let cache = open_cache().await;
    let manifest = fetch_manifest(base_url, cache.as_ref()).await?;
    let (tokenizer, tokenizer_cached) = fetch_file(
        base_url,
        TOKENIZER_FILE,
        &manifest,
        cache.as_ref(),
        on_status,
    )
    .await?;
    let (model, model_cached) =
        fetch_file(base_url, MODEL_FILE, &manifest, cache.as_ref(), on_status).await?;
    Ok(ModelFiles {
        manifest,
        model,
        tokenizer,
        from_cache: tokenizer_cached && model_cached,
    })
}
