//! The browser's storage manager: how much is used, and whether the browser may
//! evict Casebook's data under pressure.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::StorageManager;

use crate::core::storage::StorageUse;

fn manager() -> Option<StorageManager> {
    let navigator = web_sys::window()?.navigator();
    // Missing in insecure contexts and older browsers.
    js_sys::Reflect::has(&navigator, &"storage".into())
        .ok()?
        .then(|| navigator.storage())
}

/// How much storage this origin uses and may use, if the browser says.
pub async fn estimate() -> Option<StorageUse> {
    let estimate: web_sys::StorageEstimate = JsFuture::from(manager()?.estimate().ok()?)
        .await
        .ok()?
        .unchecked_into();
    Some(StorageUse {
        usage_bytes: estimate.get_usage().unwrap_or(f64::NAN),
        quota_bytes: estimate.get_quota().unwrap_or(0.0),
    })
}

/// Asks the browser to keep this origin's data even under storage pressure.
/// Returns whether the data is (now) persistent. Browsers decide on their own
/// (Chrome grants it to installed or often-used apps; Firefox asks the user).
pub async fn request_persistence() -> bool {
    let Some(manager) = manager() else {
        return false;
    };
    let already = match manager.persisted() {
        Ok(promise) => JsFuture::from(promise).await.ok(),
        Err(_) => None,
    };
    if already.and_then(|value| value.as_bool()) == Some(true) {
        return true;
    }
    match manager.persist() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|value| value.as_bool())
            .unwrap_or(false),
        Err(_) => false,
    }
}
