//! Messages between the page and the background worker.
//!
//! The page sends [`Envelope`]s of [`Request`]; the worker answers with
//! [`WorkerEvent`]s. Every request carries an id so that answers can arrive out of
//! order. The worker announces [`WorkerEvent::Ready`] once its WebAssembly has
//! started: a dedicated worker drops messages that arrive before its handler is
//! installed, so the page holds requests back until then.

use serde::{Deserialize, Serialize};

/// The version of this crate, reported by the worker so the page can tell when a
/// stale worker script (e.g. from an old cache) answers.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A request from the page, tagged with an id chosen by the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: u32,
    pub request: Request,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Asks the worker to describe itself; proves the round trip.
    Ping { text: String },
    /// Loads the embedding model whose files (`model.json`, `model.onnx`,
    /// `tokenizer.json`) are under `base_url` (absolute, ending in `/`).
    LoadModel { base_url: String },
    /// Embeds texts with the loaded model (waits for a load in progress).
    Embed { texts: Vec<String> },
    /// Reports the worker's resource use.
    Diagnostics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Pong {
        /// The request's text, echoed so the page can check it got its own answer.
        text: String,
        info: WorkerInfo,
    },
    ModelLoaded {
        model: ModelSummary,
    },
    Embeddings {
        /// The model the vectors belong to; stored with each vector.
        model_id: String,
        vectors: Vec<Vec<f32>>,
    },
    Diagnostics {
        /// The size of the worker's WebAssembly memory (model, index, buffers).
        wasm_memory_bytes: u64,
    },
}

/// A loaded embedding model, as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub id: String,
    pub name: String,
    pub dimension: usize,
    pub max_length: usize,
    /// From the request to a usable model.
    pub load_ms: f64,
    /// Whether the files came from the browser's cache rather than the network.
    pub from_cache: bool,
}

/// Where loading the embedding model stands; sent whenever it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum ModelStatus {
    Downloading {
        file: String,
        loaded_bytes: u64,
        /// Unknown when the server sends no length.
        total_bytes: Option<u64>,
    },
    /// Checking the files and preparing the model (the slow, silent part).
    Preparing,
    Ready {
        model: ModelSummary,
    },
    Failed {
        message: String,
    },
}

/// What the worker can do, as reported by the worker itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub version: String,
    /// Whether the worker was compiled with WebAssembly SIMD (fast dot products).
    pub simd128: bool,
}

impl WorkerInfo {
    /// Describes the build that is running this code.
    pub fn of_this_build() -> Self {
        Self {
            version: APP_VERSION.to_owned(),
            simd128: cfg!(target_feature = "simd128"),
        }
    }
}

/// Everything the worker sends to the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkerEvent {
    /// The worker has started and accepts requests.
    Ready { info: WorkerInfo },
    /// The answer to request `id`.
    Reply { id: u32, reply: Reply },
    /// Request `id` failed; `message` is meant for the user.
    Failed { id: u32, message: String },
    /// The embedding model's loading progressed (not an answer to a request).
    Model { status: ModelStatus },
}

/// Answers a ping (the one request that needs no worker state).
pub fn pong(text: &str) -> Reply {
    Reply::Pong {
        text: text.to_owned(),
        info: WorkerInfo::of_this_build(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_is_answered_with_the_same_text_and_this_build() {
        let reply = pong("hello worker");
        assert_eq!(
            reply,
            Reply::Pong {
                text: "hello worker".into(),
                info: WorkerInfo {
                    version: APP_VERSION.into(),
                    simd128: cfg!(target_feature = "simd128"),
                },
            }
        );
    }

    #[test]
    fn messages_have_a_stable_tagged_wire_format() {
        // The page and the worker are separate wasm modules; if a cached worker from an
        // older build answers, the tagged format keeps the mismatch detectable.
        let event = WorkerEvent::Failed {
            id: 7,
            message: "no model".into(),
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(json, r#"{"type":"failed","id":7,"message":"no model"}"#);
        let back: WorkerEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event);

        let envelope: Envelope =
            serde_json::from_str(r#"{"id":3,"request":{"type":"ping","text":"x"}}"#).unwrap();
        assert_eq!(envelope.request, Request::Ping { text: "x".into() });
    }
}
