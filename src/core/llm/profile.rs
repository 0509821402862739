//! Provider profiles (stored in settings), the presets the settings page offers,
//! and API keys, which are kept apart from profiles so they never end up in an
//! export.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::url::ANTHROPIC_DEFAULT_BASE;
use super::LlmError;

/// Which wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProviderKind {
    /// `POST {base}/chat/completions`: OpenAI and the many servers that copy it.
    #[serde(rename = "openai_compatible")]
    OpenAiCompatible,
    /// Anthropic's Messages API, `POST {base}/v1/messages`.
    #[serde(rename = "anthropic")]
    Anthropic,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 2] = [ProviderKind::OpenAiCompatible, ProviderKind::Anthropic];

    pub fn label(self) -> &'static str {
        match self {
            ProviderKind::OpenAiCompatible => "OpenAI-compatible",
            ProviderKind::Anthropic => "Anthropic",
        }
    }
}

/// How to reach one model: stored in settings and exported with them. The API
/// key is deliberately not here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderProfile {
    pub id: String,
    /// Shown to the user, and named in error messages ("OpenAI refused the key").
    pub name: String,
    pub kind: ProviderKind,
    /// As normalised by [`super::normalize_base_url`]; checked again on every request.
    pub base_url: String,
    pub model: String,
    /// `None`: the provider's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// `None`: the provider's default (Anthropic requires a value, so
    /// [`ANTHROPIC_DEFAULT_MAX_TOKENS`] is sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

/// What an Anthropic request asks for when the profile sets no limit.
pub const ANTHROPIC_DEFAULT_MAX_TOKENS: u32 = 4096;

/// A starting point for a profile, offered in the settings page's dropdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderPreset {
    /// Stable, for form values.
    pub id: &'static str,
    pub name: &'static str,
    pub kind: ProviderKind,
    pub base_url: &'static str,
    /// A model to start with; empty where it depends on what the user loaded
    /// into a local server (the settings page lists the server's models).
    pub model: &'static str,
    /// Local servers need no key; hosted providers do.
    pub needs_key: bool,
    /// Where the user creates a key.
    pub key_page: Option<&'static str>,
}

impl ProviderPreset {
    /// A new profile from this preset, under the caller's id.
    pub fn profile(&self, id: impl Into<String>) -> ProviderProfile {
        ProviderProfile {
            id: id.into(),
            name: self.name.to_owned(),
            kind: self.kind,
            base_url: self.base_url.to_owned(),
            model: self.model.to_owned(),
            temperature: None,
            max_tokens: match self.kind {
                ProviderKind::Anthropic => Some(ANTHROPIC_DEFAULT_MAX_TOKENS),
                ProviderKind::OpenAiCompatible => None,
            },
        }
    }
}

pub const PRESETS: [ProviderPreset; 8] = [
    ProviderPreset {
        id: "openai",
        name: "OpenAI",
        kind: ProviderKind::OpenAiCompatible,
        base_url: "https://api.openai.com/v1",
        model: "gpt-4o-mini",
        needs_key: true,
        key_page: Some("https://platform.openai.com/api-keys"),
    },
    ProviderPreset {
        id: "anthropic",
        name: "Anthropic",
        kind: ProviderKind::Anthropic,
        base_url: ANTHROPIC_DEFAULT_BASE,
        model: "claude-haiku-4-5",
        needs_key: true,
        key_page: Some("https://console.anthropic.com/settings/keys"),
    },
    ProviderPreset {
        id: "ollama",
        name: "Ollama",
        kind: ProviderKind::OpenAiCompatible,
        base_url: "http://localhost:11434/v1",
        model: "llama3.2",
        needs_key: false,
        key_page: None,
    },
    ProviderPreset {
        id: "lm_studio",
        name: "LM Studio",
        kind: ProviderKind::OpenAiCompatible,
        base_url: "http://localhost:1234/v1",
        model: "",
        needs_key: false,
        key_page: None,
    },
    ProviderPreset {
        id: "openrouter",
        name: "OpenRouter",
        kind: ProviderKind::OpenAiCompatible,
        base_url: "https://openrouter.ai/api/v1",
        model: "openai/gpt-4o-mini",
        needs_key: true,
        key_page: Some("https://openrouter.ai/keys"),
    },
    ProviderPreset {
        id: "groq",
        name: "Groq",
        kind: ProviderKind::OpenAiCompatible,
        base_url: "https://api.groq.com/openai/v1",
        model: "llama-3.1-8b-instant",
        needs_key: true,
        key_page: Some("https://console.groq.com/keys"),
    },
    ProviderPreset {
        id: "gemini",
        name: "Google Gemini",
        kind: ProviderKind::OpenAiCompatible,
        base_url: "https://generativelanguage.googleapis.com/v1beta/openai",
        model: "gemini-2.5-flash",
        needs_key: true,
        key_page: Some("https://aistudio.google.com/apikey"),
    },
    ProviderPreset {
        id: "llama_cpp",
        name: "llama.cpp server",
        kind: ProviderKind::OpenAiCompatible,
        base_url: "http://localhost:8080/v1",
        model: "",
        needs_key: false,
        key_page: None,
    },
];

/// An API key. It has no `Display`, `Serialize` or accessor outside this
/// module tree, its `Debug` is redacted, and the only place it is written to is
/// the authentication header of a request built from its profile.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A key as the user entered it. Blank means no key (local servers need
    /// none). A key must be visible ASCII: anything else (a line break, a space,
    /// typographic quotes copied along) would make the browser refuse the header.
    pub fn parse(text: &str) -> Result<Option<ApiKey>, LlmError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        if !trimmed.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(LlmError::InvalidKey);
        }
        Ok(Some(ApiKey(trimmed.to_owned())))
    }

    pub(crate) fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::llm::normalize_base_url;

    #[test]
    fn profiles_are_stored_with_snake_case_kinds_and_without_unset_options() {
        let profile = PRESETS[2].profile("p1");
        let json = serde_json::to_value(&profile).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": "p1",
                "name": "Ollama",
                "kind": "openai_compatible",
                "base_url": "http://localhost:11434/v1",
                "model": "llama3.2",
            })
        );
        let stored = r#"{"id":"a","name":"Claude","kind":"anthropic","base_url":"https://api.anthropic.com","model":"m","temperature":0.3}"#;
        let read: ProviderProfile = serde_json::from_str(stored).unwrap();
        assert_eq!(read.kind, ProviderKind::Anthropic);
        assert_eq!(read.temperature, Some(0.3));
        assert_eq!(read.max_tokens, None);
    }

    #[test]
    fn presets_have_unique_ids_and_bases_that_are_already_normal() {
        for (index, preset) in PRESETS.iter().enumerate() {
            assert!(
                PRESETS[..index].iter().all(|other| other.id != preset.id),
                "{} twice",
                preset.id
            );
            assert_eq!(
                normalize_base_url(preset.kind, preset.base_url).unwrap(),
                preset.base_url
            );
            assert_eq!(preset.needs_key, preset.key_page.is_some(), "{}", preset.id);
        }
        for wanted in [
            "OpenAI",
            "Anthropic",
            "Ollama",
            "LM Studio",
            "OpenRouter",
            "Groq",
            "Google Gemini",
            "llama.cpp server",
        ] {
            assert!(
                PRESETS.iter().any(|preset| preset.name == wanted),
                "{wanted}"
            );
        }
    }

    #[test]
    fn anthropic_presets_set_the_required_max_tokens() {
        let anthropic = PRESETS
            .iter()
            .find(|preset| preset.kind == ProviderKind::Anthropic)
            .unwrap();
        assert_eq!(
            anthropic.profile("x").max_tokens,
            Some(ANTHROPIC_DEFAULT_MAX_TOKENS)
        );
    }

    #[test]
    fn keys_are_trimmed_blank_means_none_and_unsendable_characters_are_refused() {
        assert_eq!(
            ApiKey::parse("  sk-abc\n").unwrap().unwrap().secret(),
            "sk-abc"
        );
        assert_eq!(ApiKey::parse(" \t").unwrap(), None);
        for bad in ["sk-a b", "“sk-abc”", "sk-abc\u{200b}"] {
            let error = ApiKey::parse(bad).unwrap_err();
            assert_eq!(error, LlmError::InvalidKey);
            assert!(!error.to_string().contains("sk-a"), "{error}");
        }
    }

    #[test]
    fn a_key_debug_prints_redacted() {
        let key = ApiKey::parse("sk-live-secret").unwrap().unwrap();
        let printed = format!("{key:?} {:?}", Some(&key));
        assert!(!printed.contains("sk-live-secret"), "{printed}");
        assert!(printed.contains("redacted"));
    }
}
