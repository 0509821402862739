//! Conversations as they are stored and shown: messages, what each answer was
//! built from, and the feedback it got.

use serde::{Deserialize, Serialize};

use crate::core::memory::{MemoryId, Millis, Outcome};
use crate::core::retrieve::{Explanation, Features};

/// Who wrote a turn of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One turn as a provider sees it: a role and plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatTurn {
    pub role: Role,
    pub content: String,
}

impl ChatTurn {
    pub fn new(role: Role, content: impl Into<String>) -> ChatTurn {
        ChatTurn {
            role,
            content: content.into(),
        }
    }
}

/// A memory that was put into the prompt of an answer, under the tag `[M<tag>]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsedMemory {
    pub tag: u32,
    pub memory_id: MemoryId,
    /// The memory's text as it was given to the model (it may be edited later).
    pub text: String,
    pub explanation: Explanation,
    /// What the learned reranker saw, so a later verdict can train it.
    #[serde(default)]
    pub features: Features,
}

/// How an assistant message ended.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MessageState {
    #[default]
    Complete,
    /// Still arriving (only ever seen while streaming; a reload finds it Stopped).
    Streaming,
    /// The user pressed Stop, or the stream ended early: the text is partial.
    Stopped,
    /// The call failed; `error` is shown, in plain words.
    Failed { error: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub role: Role,
    pub text: String,
    pub created_at: Millis,
    #[serde(default)]
    pub state: MessageState,
    /// For answers: the memories given to the model, in tag order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub used: Vec<UsedMemory>,
    /// For answers: the tags the model cited (`[M2]` → 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cited: Vec<u32>,
    /// For answers: the user's verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<Outcome>,
    /// For answers: the case written from this exchange, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<MemoryId>,
    /// For answers: the provider profile and model that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// For answers: why the provider ended it early (max tokens, a content
    /// filter), in plain words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

impl Message {
    pub fn new(id: impl Into<String>, role: Role, text: impl Into<String>, now: Millis) -> Message {
        Message {
            id: id.into(),
            role,
            text: text.into(),
            created_at: now,
            state: MessageState::Complete,
            used: Vec::new(),
            cited: Vec::new(),
            feedback: None,
            case_id: None,
            model: None,
            notice: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    pub title: String,
    /// The assistant (and so the memory pools) this conversation talks to.
    pub assistant_id: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub messages: Vec<Message>,
    /// Memories the user excluded from this conversation's retrieval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<MemoryId>,
}
