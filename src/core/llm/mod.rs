//! LLM providers as pure logic: building requests, reading their event streams,
//! and explaining failures in plain words. No I/O happens here.
//!
//! The browser glue does one thing per step:
//! 1. build the request: [`ProviderProfile::chat_request`] (or
//!    [`ProviderProfile::models_request`]) with the key kept apart from the profile;
//! 2. send it with `fetch`;
//! 3. if `fetch` threw, show [`LlmError::unreachable`]; if the status is not 2xx,
//!    show [`LlmError::from_response`] and maybe retry after [`retry_delay`];
//! 4. otherwise feed each body chunk to [`ChatStream::push`] and call
//!    [`ChatStream::finish`] when the body ends.

mod error;
mod profile;
mod request;
mod sse;
mod stream;
mod url;

pub use error::{retry_delay, LlmError, NetworkHint, MAX_RETRIES};
pub use profile::{
    ApiKey, ProviderKind, ProviderPreset, ProviderProfile, ANTHROPIC_DEFAULT_MAX_TOKENS, PRESETS,
};
pub use request::{parse_model_list, HttpRequest, Method};
pub use sse::{SseEvent, SseParser};
pub use stream::{ChatStream, StopReason, StreamEvent, Usage};
pub use url::{normalize_base_url, UrlProblem};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::conversation::{ChatTurn, Role};

    const SECRET: &str = "sk-proj-SECRET-0123456789";

    fn profile(kind: ProviderKind, base_url: &str) -> ProviderProfile {
        ProviderProfile {
            id: "p".to_owned(),
            name: "Provider".to_owned(),
            kind,
            base_url: base_url.to_owned(),
            model: "m".to_owned(),
            temperature: Some(0.1),
            max_tokens: Some(10),
        }
    }

    fn requests() -> Vec<HttpRequest> {
        let key = ApiKey::parse(SECRET).unwrap().unwrap();
        let turns = [
            ChatTurn::new(Role::System, "system"),
            ChatTurn::new(Role::User, "question"),
        ];
        [
            profile(ProviderKind::OpenAiCompatible, "https://api.openai.com/v1"),
            profile(ProviderKind::Anthropic, "https://api.anthropic.com"),
            profile(ProviderKind::OpenAiCompatible, "http://localhost:11434/v1"),
        ]
        .iter()
        .flat_map(|profile| {
            [
                profile.chat_request(Some(&key), &turns).unwrap(),
                profile.models_request(Some(&key)).unwrap(),
            ]
        })
        .collect()
    }

    #[test]
    fn a_key_travels_only_in_its_header_to_its_profiles_base() {
        for request in requests() {
            assert!(!request.url().contains(SECRET), "{}", request.url());
            assert!(!request.body().unwrap_or_default().contains(SECRET));
            let carrying: Vec<&str> = request
                .headers()
                .iter()
                .filter(|(_, value)| value.contains(SECRET))
                .map(|(name, _)| name.as_str())
                .collect();
            assert_eq!(carrying.len(), 1, "{carrying:?}");
            assert!(["authorization", "x-api-key"].contains(&carrying[0]));
        }
    }

    #[test]
    fn a_key_never_shows_in_debug_output() {
        for request in requests() {
            let printed = format!("{request:?} {:#?}", ChatStream::new(&request));
            assert!(!printed.contains(SECRET), "{printed}");
            assert!(printed.contains("<redacted>"), "{printed}");
        }
    }

    #[test]
    fn a_key_never_shows_in_error_messages_even_when_a_server_echoes_it() {
        let echo = format!(
            r#"{{"error":{{"message":"Invalid API key: {SECRET}","type":"invalid_request_error"}}}}"#
        );
        for request in requests() {
            let errors = [401, 400, 404, 429, 500]
                .map(|status| LlmError::from_response(&request, status, None, &echo, 0));
            let unreachable = LlmError::unreachable(&request, "http://localhost:8080");
            for error in errors.iter().chain([&unreachable]) {
                let shown = format!("{error} {error:?}");
                assert!(!shown.contains(SECRET), "{shown}");
            }
            let plain_text = LlmError::from_response(&request, 400, None, SECRET, 0);
            assert!(!plain_text.to_string().contains(SECRET), "{plain_text}");
        }
    }
}
