//! User settings that are stored in IndexedDB's `settings` store, one record per key.

use serde::{Deserialize, Serialize};

/// How the app is coloured. `System` follows the operating system's preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    /// The value used in the `data-theme` attribute and in form controls.
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Theme::System => "Follow the system",
            Theme::Light => "Light",
            Theme::Dark => "Dark",
        }
    }

    /// Parses a form value; unknown values fall back to following the system
    /// rather than failing, since a stale value must never lock the user out.
    pub fn from_form_value(value: &str) -> Theme {
        Theme::ALL
            .into_iter()
            .find(|theme| theme.as_str() == value)
            .unwrap_or_default()
    }
}

/// How Casebook learns from use (Settings → Learning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearningSettings {
    /// Rerank retrieved memories with the scorer trained by verdicts.
    #[serde(default = "yes")]
    pub learned_reranker: bool,
    /// After each exchange, ask the model which memories to add, update or delete.
    #[serde(default = "yes")]
    pub extraction: bool,
    /// Apply extracted changes at once instead of sending them to the review inbox.
    #[serde(default)]
    pub auto_apply: bool,
}

fn yes() -> bool {
    true
}

impl Default for LearningSettings {
    fn default() -> LearningSettings {
        LearningSettings {
            learned_reranker: true,
            extraction: true,
            auto_apply: false,
        }
    }
}

/// Keys of the records in the settings store.
pub mod keys {
    pub const THEME: &str = "theme";
    pub const LEARNING: &str = "learning";
    /// The learned reranker's weights (written by the worker).
    pub const LEARNED_SCORER: &str = "learned_scorer";
    /// The provider profiles and which one is the default (`core::chat::ProviderSettings`).
    pub const PROVIDERS: &str = "providers";
    /// API keys by profile id, apart from the profiles so they never travel with them.
    pub const PROVIDER_KEYS: &str = "provider_keys";
    /// The chat's retrieval and prompt budgets (`core::compose::ComposeConfig`).
    pub const CHAT: &str = "chat";
    /// The backup schedule and when the last backup was (`core::backup::BackupSettings`).
    pub const BACKUP: &str = "backup";
    /// The file chosen for scheduled backups (a browser file handle).
    pub const BACKUP_FILE: &str = "backup_file";
    /// Which embedding model is in use and which one a switch is moving to
    /// (`core::model_switch::ModelChoice`, written by the worker).
    pub const EMBEDDING_MODEL: &str = "embedding_model";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_round_trip_and_unknown_values_follow_the_system() {
        for theme in Theme::ALL {
            assert_eq!(Theme::from_form_value(theme.as_str()), theme);
        }
        assert_eq!(Theme::from_form_value("sepia"), Theme::System);
    }

    #[test]
    fn stored_form_is_the_lowercase_name() {
        assert_eq!(serde_json::to_string(&Theme::Dark).unwrap(), "\"dark\"");
    }
}
