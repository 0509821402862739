//! The chat's own rules, kept out of the UI: which provider profile answers,
//! how much is retrieved, what of a conversation goes back to the model, how a
//! conversation is titled, which memory "Forget …" means, whether "Remember …"
//! repeats a memory, and how a memory's scores are shown under an answer.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::core::assistant::Assistant;
use crate::core::compose::ComposeConfig;
use crate::core::conversation::{ChatTurn, Conversation, Message, MessageState, Role};
use crate::core::keyword;
use crate::core::learn::dedupe::{duplicate_reason, is_mergeable, Duplicate};
use crate::core::llm::ProviderProfile;
use crate::core::memory::{Kind, Memory, MemoryId, Millis, Source};
use crate::core::protocol::SearchHit;
use crate::core::retrieve::Explanation;

/// The provider profiles of Settings → Providers (stored under
/// `settings::keys::PROVIDERS`). Keys are not here: they are kept apart.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProviderSettings {
    #[serde(default)]
    pub profiles: Vec<ProviderProfile>,
    /// The profile answers come from unless an assistant names another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_profile: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NoProvider {
    #[error("No LLM provider is set up yet: add one in Settings → Providers (a local server such as Ollama or llama.cpp needs no key).")]
    NoneConfigured,
}

impl ProviderSettings {
    pub fn get(&self, id: &str) -> Option<&ProviderProfile> {
        self.profiles.iter().find(|profile| profile.id == id)
    }

    /// The default profile: the one marked default, else the first.
    pub fn default_profile(&self) -> Option<&ProviderProfile> {
        self.default_profile
            .as_deref()
            .and_then(|id| self.get(id))
            .or_else(|| self.profiles.first())
    }

    /// The profile that answers for `assistant`: the one it names if that
    /// still exists, else the default.
    pub fn profile_for(&self, assistant: &Assistant) -> Result<&ProviderProfile, NoProvider> {
        assistant
            .profile_id
            .as_deref()
            .and_then(|id| self.get(id))
            .or_else(|| self.default_profile())
            .ok_or(NoProvider::NoneConfigured)
    }

    /// Adds `profile`, or replaces the profile with its id in place.
    pub fn upsert(&mut self, profile: ProviderProfile) {
        match self.profiles.iter_mut().find(|p| p.id == profile.id) {
            Some(existing) => *existing = profile,
            None => self.profiles.push(profile),
        }
    }

    /// Removes a profile; if it was the default, the first remaining one
    /// becomes the default.
    pub fn remove(&mut self, id: &str) {
        self.profiles.retain(|profile| profile.id != id);
        if self.default_profile.as_deref() == Some(id) {
            self.default_profile = self.profiles.first().map(|profile| profile.id.clone());
        }
    }
}

/// How many memories are retrieved for a question: the composer keeps at most
/// `max_cases` cases and fills the memory budget with the rest, so it needs
/// more candidates than it will use (and corrections compete with cases).
pub fn retrieval_k(config: &ComposeConfig) -> usize {
    config.max_cases.saturating_mul(2).saturating_add(12)
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChatSettingsError {
    #[error("The number of cases must be between 0 and {MAX_CASES}.")]
    Cases,
    #[error("The prompt budget must be at least {MIN_TOTAL_BUDGET} tokens, or no question fits.")]
    TotalTooSmall,
    #[error("The memory and history budgets cannot be larger than the prompt budget.")]
    PartOverTotal,
}

pub const MAX_CASES: usize = 20;
pub const MIN_TOTAL_BUDGET: usize = 200;

/// Checks budgets a user entered in Settings → Chat.
pub fn check_chat_settings(config: &ComposeConfig) -> Result<(), ChatSettingsError> {
    if config.max_cases > MAX_CASES {
        return Err(ChatSettingsError::Cases);
    }
    if config.total_budget < MIN_TOTAL_BUDGET {
        return Err(ChatSettingsError::TotalTooSmall);
    }
    if config.memory_budget > config.total_budget || config.history_budget > config.total_budget {
        return Err(ChatSettingsError::PartOverTotal);
    }
    Ok(())
}

/// The longest title taken from a first question, in characters.
const TITLE_CHARS: usize = 60;

/// A conversation's title from its first question: the first line, cut at a
/// word boundary.
pub fn title_from(question: &str) -> String {
    let line = question
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    if line.is_empty() {
        return "New conversation".to_owned();
    }
    if line.chars().count() <= TITLE_CHARS {
        return line.to_owned();
    }
    let cut: String = line.chars().take(TITLE_CHARS).collect();
    let at_word = cut
        .rfind(char::is_whitespace)
        .map_or(cut.as_str(), |end| &cut[..end]);
    format!("{}…", at_word.trim_end())
}

/// Conversations newest first (by last change), ties by id.
pub fn newest_first(conversations: &mut [Conversation]) {
    conversations.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// What of `messages` goes to the model as history: every question that got
/// an answer with text (complete, or stopped part-way: what the user saw),
/// with its answer. Questions whose answer failed before any text are left
/// out, so they do not merge into the next question.
pub fn history_turns(messages: &[Message]) -> Vec<ChatTurn> {
    let mut turns = Vec::new();
    let mut question: Option<&Message> = None;
    for message in messages {
        match message.role {
            Role::User => question = Some(message),
            Role::Assistant => {
                let answered = !message.text.trim().is_empty()
                    && !matches!(message.state, MessageState::Streaming);
                if let (Some(asked), true) = (question.take(), answered) {
                    turns.push(ChatTurn::new(Role::User, asked.text.clone()));
                    turns.push(ChatTurn::new(Role::Assistant, message.text.clone()));
                }
            }
            Role::System => {}
        }
    }
    turns
}

/// The question an answer (at `answer_index` in `messages`) replied to.
pub fn question_of(messages: &[Message], answer_index: usize) -> Option<&Message> {
    messages
        .get(..answer_index)?
        .iter()
        .rev()
        .find(|message| message.role == Role::User)
}

/// How similar a memory must be (cosine) to what the user asked to forget
/// when no word of it matches: below this, the best hit is a guess.
pub const FORGET_MIN_SIMILARITY: f32 = 0.45;

/// Words that say nothing about what a memory is about: sharing one of them
/// ("my", "the") does not make a memory the one the user means.
const FUNCTION_WORDS: &[&str] = &[
    "a", "about", "all", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by",
    "can", "did", "do", "does", "for", "from", "had", "has", "have", "he", "her", "his", "how",
    "i", "if", "in", "is", "it", "its", "me", "mine", "my", "no", "not", "of", "on", "or", "our",
    "she", "so", "that", "the", "their", "them", "there", "they", "this", "to", "us", "was", "we",
    "were", "what", "when", "where", "which", "who", "why", "will", "with", "you", "your",
];

/// The terms of `text` that say what it is about.
fn content_terms(text: &str) -> HashSet<String> {
    keyword::terms(text)
        .into_iter()
        .filter(|term| !FUNCTION_WORDS.contains(&term.as_str()))
        .collect()
}

/// The memory "Forget `query`" means: the best-ranked hit that is close enough
/// in meaning or shares a word (other than a function word) with the request.
/// Document chunks are removed with their document, not one by one.
pub fn forget_target<'a>(query: &str, hits: &'a [SearchHit]) -> Option<&'a Memory> {
    let wanted = content_terms(query);
    hits.iter()
        .filter(|hit| hit.memory.kind != Kind::DocumentChunk && hit.memory.trashed_at.is_none())
        .find(|hit| {
            let close = hit
                .explanation
                .vector_score
                .is_some_and(|cosine| cosine >= FORGET_MIN_SIMILARITY);
            let shares_words = hit
                .explanation
                .keyword_score
                .is_some_and(|score| score > 0.0)
                && !content_terms(&hit.memory.text).is_disjoint(&wanted);
            close || shares_words
        })
        .map(|hit| &hit.memory)
}

/// The memory of `pool` among search `hits` (for `text`) that `text` would
/// repeat, if any: the same text, or the same meaning (see `learn::dedupe`).
pub fn duplicate_among(text: &str, pool: &str, hits: &[SearchHit]) -> Option<Duplicate> {
    hits.iter()
        .filter(|hit| {
            hit.memory.pool == pool
                && hit.memory.trashed_at.is_none()
                && is_mergeable(hit.memory.kind)
        })
        .find_map(|hit| {
            let reason = duplicate_reason(text, &hit.memory.text, hit.explanation.vector_score)?;
            Some(Duplicate {
                existing: hit.memory.id.clone(),
                reason,
            })
        })
}

/// A memory the user asked the chat to keep ("Remember …", or "Remember this"
/// on a message), in the assistant's `pool`.
pub fn remembered(
    id: MemoryId,
    kind: Kind,
    text: &str,
    pool: &str,
    source: Source,
    now: Millis,
) -> Memory {
    let mut memory = Memory::new(id, kind, text.trim(), source, now);
    memory.pool = pool.to_owned();
    memory
}

/// A memory's scores as shown under an answer: what each search found, the
/// learned reranker's part, and the final score it ranked by.
pub fn describe_scores(explanation: &Explanation) -> String {
    let mut parts = Vec::new();
    match explanation.vector_score {
        Some(score) => parts.push(format!("vector {score:.2}")),
        None => parts.push("vector –".to_owned()),
    }
    match explanation.keyword_score {
        Some(score) => parts.push(format!("keyword {score:.2}")),
        None => parts.push("keyword –".to_owned()),
    }
    parts.push(format!("learned {:+.2}", explanation.learned));
    parts.push(format!("final {:.2}", explanation.final_score));
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::llm::PRESETS;
    use crate::core::retrieve::Features;

    fn profile(id: &str) -> ProviderProfile {
        PRESETS[2].profile(id)
    }

    fn memory(id: &str, kind: Kind, text: &str) -> Memory {
        Memory::new(MemoryId(id.into()), kind, text, Source::Manual, 1)
    }

    fn hit(memory: Memory, vector: Option<f32>, keyword: Option<f32>) -> SearchHit {
        SearchHit {
            memory,
            explanation: Explanation {
                vector_score: vector,
                keyword_score: keyword,
                ..Explanation::default()
            },
            features: Features::default(),
        }
    }

    fn message(role: Role, text: &str, state: MessageState) -> Message {
        let mut message = Message::new(text, role, text, 1);
        message.state = state;
        message
    }

    #[test]
    fn an_assistant_is_answered_by_its_own_profile_else_the_default_else_the_first() {
        let mut settings = ProviderSettings::default();
        let assistant = Assistant::default_assistant();
        assert_eq!(
            settings.profile_for(&assistant),
            Err(NoProvider::NoneConfigured)
        );
        settings.upsert(profile("a"));
        settings.upsert(profile("b"));
        assert_eq!(settings.profile_for(&assistant).unwrap().id, "a");
        settings.default_profile = Some("b".into());
        assert_eq!(settings.profile_for(&assistant).unwrap().id, "b");
        let named = Assistant {
            profile_id: Some("a".into()),
            ..Assistant::default_assistant()
        };
        assert_eq!(settings.profile_for(&named).unwrap().id, "a");
        let stale = Assistant {
            profile_id: Some("gone".into()),
            ..Assistant::default_assistant()
        };
        assert_eq!(settings.profile_for(&stale).unwrap().id, "b");
    }

    #[test]
    fn removing_the_default_profile_makes_the_first_remaining_one_default() {
        let mut settings = ProviderSettings::default();
        settings.upsert(profile("a"));
        settings.upsert(profile("b"));
        settings.default_profile = Some("a".into());
        let mut renamed = profile("b");
        renamed.name = "Renamed".into();
        settings.upsert(renamed);
        assert_eq!(settings.profiles.len(), 2, "upsert replaces in place");
        assert_eq!(settings.profiles[1].name, "Renamed");
        settings.remove("a");
        assert_eq!(settings.default_profile.as_deref(), Some("b"));
        settings.remove("b");
        assert_eq!(settings.default_profile, None);
    }

    #[test]
    fn provider_settings_never_carry_a_key_field() {
        let mut settings = ProviderSettings::default();
        settings.upsert(profile("a"));
        let json = serde_json::to_string(&settings).unwrap();
        assert!(!json.contains("key"), "{json}");
        let read: ProviderSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(read, ProviderSettings::default());
    }

    #[test]
    fn budgets_are_checked_and_retrieval_looks_beyond_the_cases_it_keeps() {
        assert_eq!(check_chat_settings(&ComposeConfig::default()), Ok(()));
        let config = ComposeConfig {
            max_cases: 4,
            ..ComposeConfig::default()
        };
        assert!(retrieval_k(&config) > config.max_cases);
        let too_small = ComposeConfig {
            total_budget: 100,
            ..ComposeConfig::default()
        };
        assert_eq!(
            check_chat_settings(&too_small),
            Err(ChatSettingsError::TotalTooSmall)
        );
        let part_over = ComposeConfig {
            memory_budget: 5_000,
            ..ComposeConfig::default()
        };
        assert_eq!(
            check_chat_settings(&part_over),
            Err(ChatSettingsError::PartOverTotal)
        );
        let many_cases = ComposeConfig {
            max_cases: 50,
            ..ComposeConfig::default()
        };
        assert_eq!(
            check_chat_settings(&many_cases),
            Err(ChatSettingsError::Cases)
        );
    }

    #[test]
    fn titles_take_the_first_line_cut_at_a_word() {
        assert_eq!(
            title_from("\n  How do I restart the VPN?\nThanks"),
            "How do I restart the VPN?"
        );
        assert_eq!(title_from("   "), "New conversation");
        let long = "word ".repeat(30);
        let title = title_from(&long);
        assert!(title.chars().count() <= TITLE_CHARS + 1, "{title}");
        assert!(title.ends_with("word…"), "{title}");
    }

    #[test]
    fn conversations_list_newest_first() {
        let conversation = |id: &str, updated_at| Conversation {
            id: id.into(),
            title: id.into(),
            assistant_id: "default".into(),
            created_at: 0,
            updated_at,
            messages: Vec::new(),
            excluded: Vec::new(),
        };
        let mut list = vec![
            conversation("old", 1),
            conversation("new", 3),
            conversation("mid", 2),
        ];
        newest_first(&mut list);
        let ids: Vec<&str> = list.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["new", "mid", "old"]);
    }

    #[test]
    fn history_keeps_answered_questions_and_partial_answers_but_not_failed_ones() {
        let messages = [
            message(Role::User, "first?", MessageState::Complete),
            message(Role::Assistant, "first answer", MessageState::Complete),
            message(Role::User, "failed?", MessageState::Complete),
            message(
                Role::Assistant,
                "",
                MessageState::Failed {
                    error: "401".into(),
                },
            ),
            message(Role::User, "stopped?", MessageState::Complete),
            message(Role::Assistant, "half an", MessageState::Stopped),
            message(Role::User, "unanswered?", MessageState::Complete),
        ];
        let turns = history_turns(&messages);
        let texts: Vec<&str> = turns.iter().map(|turn| turn.content.as_str()).collect();
        assert_eq!(texts, ["first?", "first answer", "stopped?", "half an"]);
        assert_eq!(question_of(&messages, 5).unwrap().text, "stopped?");
        assert_eq!(question_of(&messages, 0), None);
    }

    #[test]
    fn forget_takes_the_best_close_hit_and_never_a_stranger_or_a_document_chunk() {
        let hits = vec![
            hit(
                memory("doc", Kind::DocumentChunk, "VPN manual"),
                Some(0.9),
                Some(3.0),
            ),
            hit(memory("far", Kind::Fact, "I like tea"), Some(0.2), None),
            hit(
                memory("vpn", Kind::Case, "How do I restart the VPN?"),
                Some(0.7),
                None,
            ),
        ];
        let query = "how to restart the VPN";
        assert_eq!(forget_target(query, &hits).unwrap().id.as_str(), "vpn");
        assert_eq!(
            forget_target(query, &hits[..2]),
            None,
            "a weak match is not a target"
        );
        let by_word = [hit(memory("w", Kind::Note, "vpnctl"), None, Some(1.2))];
        assert_eq!(
            forget_target("the vpnctl command", &by_word)
                .unwrap()
                .id
                .as_str(),
            "w"
        );
    }

    #[test]
    fn forget_does_not_take_a_memory_that_shares_only_a_function_word() {
        let desk = [hit(
            memory("desk", Kind::Fact, "My desk is in room 4.12"),
            Some(0.15),
            Some(0.4),
        )];
        assert_eq!(forget_target("my favourite pizza topping", &desk), None);
        assert_eq!(forget_target("my desk", &desk).unwrap().id.as_str(), "desk");
    }

    #[test]
    fn remembering_what_the_pool_already_says_finds_the_existing_memory() {
        let mut other_pool = memory("other", Kind::Fact, "I live in Lyon");
        other_pool.pool = "work".into();
        let hits = vec![
            hit(other_pool, Some(1.0), None),
            hit(
                memory("case", Kind::Case, "I live in Lyon"),
                Some(1.0),
                None,
            ),
            hit(
                memory("same", Kind::Fact, "i live in lyon."),
                Some(0.99),
                None,
            ),
        ];
        let duplicate = duplicate_among("I live in Lyon", "default", &hits).unwrap();
        assert_eq!(duplicate.existing.as_str(), "same");
        let paris = [hit(
            memory("same", Kind::Fact, "I live in Lyon"),
            Some(0.8),
            None,
        )];
        assert_eq!(duplicate_among("I live in Paris", "default", &paris), None);
    }

    #[test]
    fn remembered_memories_go_to_the_assistants_pool_trimmed() {
        let memory = remembered(
            MemoryId("m".into()),
            Kind::Fact,
            "  I use fish. ",
            "work",
            Source::Manual,
            5,
        );
        assert_eq!(
            (memory.text.as_str(), memory.pool.as_str()),
            ("I use fish.", "work")
        );
        assert_eq!(memory.created_at, 5);
    }

    #[test]
    fn scores_show_each_search_the_learned_part_and_the_final_score() {
        let explanation = Explanation {
            vector_score: Some(0.6234),
            keyword_score: None,
            learned: 0.031,
            final_score: 0.81,
            ..Explanation::default()
        };
        assert_eq!(
            describe_scores(&explanation),
            "vector 0.62 · keyword – · learned +0.03 · final 0.81"
        );
    }
}
