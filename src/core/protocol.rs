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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Pong {
        /// The request's text, echoed so the page can check it got its own answer.
        text: String,
        info: WorkerInfo,
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
}

/// Answers a request that needs no state. Requests that need the model or the index
/// are handled by the worker with its state; this is the shared stateless part.
pub fn answer_stateless(request: &Request) -> Reply {
    match request {
        Request::Ping { text } => Reply::Pong {
            text: text.clone(),
            info: WorkerInfo::of_this_build(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_is_answered_with_the_same_text_and_this_build() {
        let reply = answer_stateless(&Request::Ping {
            text: "hello worker".into(),
        });
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
