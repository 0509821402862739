//! The case bank's one data type: a [`Memory`], the same struct in IndexedDB, in
//! the indexes, in prompts and in the editor.
//!
//! Memento's *case* (question, answer, whether it worked, the user's correction)
//! is a memory of kind [`Kind::Case`] with [`CaseFields`]; facts, preferences,
//! corrections, document chunks and notes are memories too.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (what `Date.now()` returns).
pub type Millis = u64;

/// A memory's identity: stable across edits, exports and imports.
///
/// Text rather than a number so that it survives JSON and JavaScript intact and
/// sorts by creation time: 11 hex digits of milliseconds, then 16 random ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MemoryId(pub String);

impl MemoryId {
    /// A new id from the creation time and 64 random bits supplied by the caller
    /// (the browser's `crypto.getRandomValues`, or a seeded generator in tests).
    pub fn new(created_at: Millis, random: u64) -> MemoryId {
        MemoryId(format!("m{created_at:011x}{random:016x}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MemoryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Something true about the world or the user's situation.
    Fact,
    /// How the user likes things done.
    Preference,
    /// A past exchange and how it went (Memento's case).
    Case,
    /// The user's correction of something the assistant got wrong.
    Correction,
    /// A piece of an uploaded document.
    DocumentChunk,
    /// Free text the user wrote into the memory.
    Note,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Fact,
        Kind::Preference,
        Kind::Case,
        Kind::Correction,
        Kind::DocumentChunk,
        Kind::Note,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Fact => "Fact",
            Kind::Preference => "Preference",
            Kind::Case => "Case",
            Kind::Correction => "Correction",
            Kind::DocumentChunk => "Document",
            Kind::Note => "Note",
        }
    }
}

/// Whether the answer recorded in a case helped the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Worked,
    DidNotWork,
    #[default]
    Unrated,
}

/// The fields only a case has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFields {
    pub question: String,
    pub answer: String,
    pub outcome: Outcome,
    /// What the answer should have been, in the user's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<String>,
}

/// Where a memory came from, so the editor can link back to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// Typed into the memory editor (or "Remember …" in the chat).
    Manual,
    /// Written from a conversation (feedback, correction).
    Conversation {
        conversation_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
    },
    /// Proposed by automatic extraction after an exchange.
    Extraction { conversation_id: String },
    /// A chunk of an uploaded document.
    Document {
        document_id: String,
        chunk_index: u32,
    },
    /// Brought in by importing an export file.
    Import { file_name: String },
}

/// The pool every memory belongs to unless the user creates others.
pub const DEFAULT_POOL: &str = "default";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub id: MemoryId,
    pub kind: Kind,
    /// What is shown, embedded and searched.
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<CaseFields>,
    pub source: Source,
    /// Which assistant's memory this is.
    pub pool: String,
    #[serde(default)]
    pub pinned: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Millis>,
    /// How many prompts this memory has been put into.
    #[serde(default)]
    pub use_count: u32,
    /// How often an answer cited it and was then marked "worked"...
    #[serde(default)]
    pub cited_worked: u32,
    /// ...or "did not work": what the learned reranker learns from.
    #[serde(default)]
    pub cited_did_not_work: u32,
    /// Set while the memory is in the trash: kept (and restorable), never retrieved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trashed_at: Option<Millis>,
    /// Starts at 1 and counts every change; older states are kept as [`Revision`]s.
    pub revision: u32,
}

impl Memory {
    /// A new memory of `kind` in the default pool, at revision 1.
    pub fn new(
        id: MemoryId,
        kind: Kind,
        text: impl Into<String>,
        source: Source,
        now: Millis,
    ) -> Memory {
        Memory {
            id,
            kind,
            text: text.into(),
            case: None,
            source,
            pool: DEFAULT_POOL.to_owned(),
            pinned: false,
            created_at: now,
            updated_at: now,
            last_used_at: None,
            use_count: 0,
            cited_worked: 0,
            cited_did_not_work: 0,
            trashed_at: None,
            revision: 1,
        }
    }

    /// The outcome if this memory is a case.
    pub fn outcome(&self) -> Option<Outcome> {
        self.case.as_ref().map(|case| case.outcome)
    }

    /// Whether the user corrected something with it: a correction, or a case
    /// that carries the user's corrected answer.
    pub fn is_correction(&self) -> bool {
        self.kind == Kind::Correction
            || self
                .case
                .as_ref()
                .is_some_and(|case| case.correction.is_some())
    }

    /// What keyword search looks through: the text, and for a case its answer and
    /// correction too (error codes and names often appear only there).
    pub fn keyword_text(&self) -> String {
        match &self.case {
            None => self.text.clone(),
            Some(case) => [
                self.text.as_str(),
                case.answer.as_str(),
                case.correction.as_deref().unwrap_or(""),
            ]
            .join("\n"),
        }
    }
}

/// Who or what changed a memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangedBy {
    User,
    Feedback,
    Extraction,
    Import,
}

/// The state a memory had before a change, so the change can be undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// The memory as it was (its `revision` field says which revision this is).
    pub before: Memory,
    pub changed_by: ChangedBy,
    pub changed_at: Millis,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_sort_by_creation_time_and_keep_their_random_part() {
        let early = MemoryId::new(1_700_000_000_000, u64::MAX);
        let late = MemoryId::new(1_700_000_000_001, 0);
        assert!(early < late);
        assert_eq!(early.as_str().len(), 28);
        assert!(early.as_str().ends_with("ffffffffffffffff"));
    }

    #[test]
    fn a_case_round_trips_through_json_in_a_readable_shape() {
        let mut memory = Memory::new(
            MemoryId::new(5, 6),
            Kind::Case,
            "How do I restart the VPN?",
            Source::Conversation {
                conversation_id: "c1".into(),
                message_id: Some("m3".into()),
            },
            1_000,
        );
        memory.case = Some(CaseFields {
            question: "How do I restart the VPN?".into(),
            answer: "Run vpn restart.".into(),
            outcome: Outcome::DidNotWork,
            correction: Some("Use `sudo systemctl restart wg-quick@wg0`.".into()),
        });
        let value = serde_json::to_value(&memory).unwrap();
        assert_eq!(value["kind"], "case");
        assert_eq!(value["case"]["outcome"], "did_not_work");
        assert_eq!(
            value["source"],
            json!({"type": "conversation", "conversation_id": "c1", "message_id": "m3"})
        );
        assert_eq!(
            value.get("last_used_at"),
            None,
            "absent optionals are not written"
        );
        let back: Memory = serde_json::from_value(value).unwrap();
        assert_eq!(back, memory);
        assert_eq!(back.outcome(), Some(Outcome::DidNotWork));
    }

    #[test]
    fn records_missing_counters_read_with_defaults() {
        let memory: Memory = serde_json::from_value(json!({
            "id": "m1", "kind": "fact", "text": "The office is in Lyon.",
            "source": {"type": "manual"}, "pool": "default",
            "created_at": 1, "updated_at": 1, "revision": 1
        }))
        .unwrap();
        assert!(!memory.pinned);
        assert_eq!(memory.use_count, 0);
        assert_eq!(memory.outcome(), None);
    }
}
