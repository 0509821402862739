//! Requests as plain values for the browser glue to send with `fetch`, and the
//! parsing of model lists.
//!
//! A request can only be built from a profile, and its URL is always derived
//! from that profile's base URL, so a key can only ever travel to the base URL of
//! the profile it was entered for.

use std::fmt;

use serde_json::{json, Map, Value};

use super::profile::{ApiKey, ProviderKind, ProviderProfile, ANTHROPIC_DEFAULT_MAX_TOKENS};
use super::url::BaseUrl;
use super::LlmError;
use crate::core::conversation::{ChatTurn, Role};

const ANTHROPIC_VERSION: &str = "2023-06-01";
/// Header names whose values carry the key; `Debug` output redacts them.
const SECRET_HEADERS: [&str; 2] = ["authorization", "x-api-key"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// What a request was for, kept so that failures can be explained (which
/// profile, which model, which URL) and provider text can be scrubbed of the key.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) kind: ProviderKind,
    pub(crate) profile_name: String,
    pub(crate) base: BaseUrl,
    pub(crate) url: String,
    /// `None` for a models list.
    pub(crate) model: Option<String>,
    key: Option<ApiKey>,
}

impl Target {
    /// Provider text with any copy of the key replaced, so that an error message
    /// can never show it even if a server echoes it back.
    pub(crate) fn scrub(&self, text: &str) -> String {
        match &self.key {
            Some(key) => text.replace(key.secret(), "<redacted>"),
            None => text.to_owned(),
        }
    }
}

/// A request ready to send. Its parts are read-only so that the URL and the
/// headers that carry the key cannot be separated after building.
#[derive(Clone)]
pub struct HttpRequest {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    target: Target,
}

impl HttpRequest {
    pub fn method(&self) -> Method {
        self.method
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Header names are lowercase.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// JSON for a POST; `None` for a GET, which must be sent without a body.
    pub fn body(&self) -> Option<&str> {
        self.body.as_deref()
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let shown = if SECRET_HEADERS.contains(&name.as_str()) {
                    "<redacted>"
                } else {
                    value.as_str()
                };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &self.body)
            .field("target", &self.target)
            .finish()
    }
}

impl ProviderProfile {
    /// A streamed chat completion of `turns`. System turns are folded into the
    /// provider's system field; consecutive turns of one role are merged, since
    /// Anthropic and many local chat templates insist on alternating roles.
    pub fn chat_request(
        &self,
        key: Option<&ApiKey>,
        turns: &[ChatTurn],
    ) -> Result<HttpRequest, LlmError> {
        let base = BaseUrl::parse(self.kind, &self.base_url)?;
        let model = self.model.trim();
        if model.is_empty() {
            return Err(LlmError::NoModel {
                profile: self.name.clone(),
            });
        }
        let (system, conversation) = fold_turns(turns);
        let (path, body) = match self.kind {
            ProviderKind::OpenAiCompatible => (
                "/chat/completions",
                self.openai_chat_body(model, &system, &conversation),
            ),
            ProviderKind::Anthropic => (
                "/v1/messages",
                self.anthropic_chat_body(model, &system, &conversation),
            ),
        };
        Ok(self.build(Method::Post, base, path, Some(model), key, Some(body)))
    }

    /// The list of models the provider offers (parse the answer with
    /// [`parse_model_list`]).
    pub fn models_request(&self, key: Option<&ApiKey>) -> Result<HttpRequest, LlmError> {
        let base = BaseUrl::parse(self.kind, &self.base_url)?;
        let path = match self.kind {
            ProviderKind::OpenAiCompatible => "/models",
            // Anthropic pages the list, 20 to a page unless asked for more.
            ProviderKind::Anthropic => "/v1/models?limit=1000",
        };
        Ok(self.build(Method::Get, base, path, None, key, None))
    }

    fn openai_chat_body(
        &self,
        model: &str,
        system: &str,
        conversation: &[(Role, String)],
    ) -> Value {
        let mut messages = Vec::with_capacity(conversation.len() + 1);
        if !system.is_empty() {
            messages.push(json!({ "role": "system", "content": system }));
        }
        messages.extend(
            conversation
                .iter()
                .map(|(role, content)| json!({ "role": role_name(*role), "content": content })),
        );
        let mut body = Map::new();
        body.insert("model".into(), model.into());
        body.insert("messages".into(), messages.into());
        body.insert("stream".into(), true.into());
        body.insert("stream_options".into(), json!({ "include_usage": true }));
        if let Some(temperature) = self.temperature {
            body.insert("temperature".into(), temperature.into());
        }
        if let Some(max_tokens) = self.max_tokens {
            body.insert("max_tokens".into(), max_tokens.into());
        }
        Value::Object(body)
    }

    fn anthropic_chat_body(
        &self,
        model: &str,
        system: &str,
        conversation: &[(Role, String)],
    ) -> Value {
        let messages: Vec<Value> = conversation
            .iter()
            .map(|(role, content)| json!({ "role": role_name(*role), "content": content }))
            .collect();
        let mut body = Map::new();
        body.insert("model".into(), model.into());
        body.insert(
            "max_tokens".into(),
            self.max_tokens
                .unwrap_or(ANTHROPIC_DEFAULT_MAX_TOKENS)
                .into(),
        );
        if !system.is_empty() {
            body.insert("system".into(), system.into());
        }
        body.insert("messages".into(), messages.into());
        if let Some(temperature) = self.temperature {
            body.insert("temperature".into(), temperature.into());
        }
        body.insert("stream".into(), true.into());
        Value::Object(body)
    }

    fn build(
        &self,
        method: Method,
        base: BaseUrl,
        path: &str,
        model: Option<&str>,
        key: Option<&ApiKey>,
        body: Option<Value>,
    ) -> HttpRequest {
        let mut headers = Vec::new();
        let mut header =
            |name: &str, value: &str| headers.push((name.to_owned(), value.to_owned()));
        if body.is_some() {
            header("content-type", "application/json");
        }
        match self.kind {
            ProviderKind::OpenAiCompatible => {
                if let Some(key) = key {
                    header("authorization", &format!("Bearer {}", key.secret()));
                }
            }
            ProviderKind::Anthropic => {
                if let Some(key) = key {
                    header("x-api-key", key.secret());
                }
                header("anthropic-version", ANTHROPIC_VERSION);
                // Without it Anthropic refuses calls from a browser page (CORS).
                header("anthropic-dangerous-direct-browser-access", "true");
            }
        }
        let url = base.join(path);
        HttpRequest {
            method,
            url: url.clone(),
            headers,
            body: body.map(|body| body.to_string()),
            target: Target {
                kind: self.kind,
                profile_name: self.name.clone(),
                base,
                url,
                model: model.map(str::to_owned),
                key: key.cloned(),
            },
        }
    }
}

/// Splits turns into the system text and the conversation, merging consecutive
/// turns of one role and dropping blank ones (Anthropic rejects empty text, and
/// a failed answer leaves an empty assistant turn behind).
fn fold_turns(turns: &[ChatTurn]) -> (String, Vec<(Role, String)>) {
    let mut system: Vec<&str> = Vec::new();
    let mut conversation: Vec<(Role, Vec<&str>)> = Vec::new();
    for turn in turns {
        let content = turn.content.trim();
        if content.is_empty() {
            continue;
        }
        match (turn.role, conversation.last_mut()) {
            (Role::System, _) => system.push(content),
            (role, Some((last_role, parts))) if *last_role == role => parts.push(content),
            (role, _) => conversation.push((role, vec![content])),
        }
    }
    let conversation = conversation
        .into_iter()
        .map(|(role, parts)| (role, parts.join("\n\n")))
        .collect();
    (system.join("\n\n"), conversation)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

/// The model names in a `GET …/models` answer: OpenAI's `data[].id`, or
/// Ollama's `models[].name` / `models[].model`; sorted, without duplicates.
pub fn parse_model_list(body: &str) -> Result<Vec<String>, LlmError> {
    let malformed = |problem: String| LlmError::MalformedModelList { problem };
    let value: Value = serde_json::from_str(body)
        .map_err(|error| malformed(format!("the answer is not JSON ({error})")))?;
    let data = value.get("data").and_then(Value::as_array);
    let models = value.get("models").and_then(Value::as_array);
    if data.is_none() && models.is_none() {
        return Err(malformed(
            "the answer has neither a `data` nor a `models` list".to_owned(),
        ));
    }
    let openai_ids = data
        .into_iter()
        .flatten()
        .filter_map(|model| model.get("id"));
    let ollama_names = models
        .into_iter()
        .flatten()
        .filter_map(|model| model.get("name").or_else(|| model.get("model")));
    let mut names: Vec<String> = openai_ids
        .chain(ollama_names)
        .filter_map(Value::as_str)
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::llm::PRESETS;

    fn profile(kind: ProviderKind, base_url: &str) -> ProviderProfile {
        ProviderProfile {
            id: "p".to_owned(),
            name: "Test".to_owned(),
            kind,
            base_url: base_url.to_owned(),
            model: "test-model".to_owned(),
            temperature: None,
            max_tokens: None,
        }
    }

    fn key(text: &str) -> ApiKey {
        ApiKey::parse(text).unwrap().unwrap()
    }

    fn turns() -> Vec<ChatTurn> {
        vec![
            ChatTurn::new(Role::System, "You are helpful."),
            ChatTurn::new(Role::System, "Memories:\n[M1] The user likes tea."),
            ChatTurn::new(Role::User, "Hi"),
            ChatTurn::new(Role::Assistant, "Hello!"),
            ChatTurn::new(Role::Assistant, "  "),
            ChatTurn::new(Role::User, "What do I like?"),
            ChatTurn::new(Role::User, "Be brief."),
        ]
    }

    fn headers(request: &HttpRequest) -> Vec<(&str, &str)> {
        request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect()
    }

    fn body_json(request: &HttpRequest) -> Value {
        serde_json::from_str(request.body().unwrap()).unwrap()
    }

    #[test]
    fn openai_chat_requests_stream_with_usage_and_fold_system_turns_first() {
        let mut profile = profile(ProviderKind::OpenAiCompatible, "https://api.openai.com/v1/");
        profile.temperature = Some(0.2);
        profile.max_tokens = Some(512);
        let request = profile
            .chat_request(Some(&key("sk-test")), &turns())
            .unwrap();
        assert_eq!(request.method(), Method::Post);
        assert_eq!(request.url(), "https://api.openai.com/v1/chat/completions");
        assert_eq!(
            headers(&request),
            vec![
                ("content-type", "application/json"),
                ("authorization", "Bearer sk-test"),
            ]
        );
        assert_eq!(
            body_json(&request),
            json!({
                "model": "test-model",
                "messages": [
                    {"role": "system", "content": "You are helpful.\n\nMemories:\n[M1] The user likes tea."},
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello!"},
                    {"role": "user", "content": "What do I like?\n\nBe brief."},
                ],
                "stream": true,
                "stream_options": {"include_usage": true},
                "temperature": 0.2,
                "max_tokens": 512,
            })
        );
    }

    #[test]
    fn local_servers_get_no_authorization_header_and_no_unset_options() {
        let request = profile(ProviderKind::OpenAiCompatible, "http://localhost:11434/v1")
            .chat_request(None, &[ChatTurn::new(Role::User, "Hi")])
            .unwrap();
        assert_eq!(request.url(), "http://localhost:11434/v1/chat/completions");
        assert_eq!(
            headers(&request),
            vec![("content-type", "application/json")]
        );
        assert_eq!(
            body_json(&request),
            json!({
                "model": "test-model",
                "messages": [{"role": "user", "content": "Hi"}],
                "stream": true,
                "stream_options": {"include_usage": true},
            })
        );
    }

    #[test]
    fn anthropic_chat_requests_carry_its_headers_system_field_and_max_tokens() {
        let mut profile = profile(ProviderKind::Anthropic, "https://api.anthropic.com");
        profile.temperature = Some(0.5);
        let request = profile
            .chat_request(Some(&key("sk-ant-test")), &turns())
            .unwrap();
        assert_eq!(request.method(), Method::Post);
        assert_eq!(request.url(), "https://api.anthropic.com/v1/messages");
        assert_eq!(
            headers(&request),
            vec![
                ("content-type", "application/json"),
                ("x-api-key", "sk-ant-test"),
                ("anthropic-version", "2023-06-01"),
                ("anthropic-dangerous-direct-browser-access", "true"),
            ]
        );
        assert_eq!(
            body_json(&request),
            json!({
                "model": "test-model",
                "max_tokens": ANTHROPIC_DEFAULT_MAX_TOKENS,
                "system": "You are helpful.\n\nMemories:\n[M1] The user likes tea.",
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello!"},
                    {"role": "user", "content": "What do I like?\n\nBe brief."},
                ],
                "temperature": 0.5,
                "stream": true,
            })
        );
    }

    #[test]
    fn anthropic_requests_without_system_turns_have_no_system_field() {
        let mut profile = profile(ProviderKind::Anthropic, "");
        profile.max_tokens = Some(100);
        let request = profile
            .chat_request(None, &[ChatTurn::new(Role::User, "Hi")])
            .unwrap();
        assert_eq!(request.url(), "https://api.anthropic.com/v1/messages");
        let body = body_json(&request);
        assert_eq!(body.get("system"), None);
        assert_eq!(body["max_tokens"], json!(100));
    }

    #[test]
    fn model_lists_are_fetched_with_get_and_no_body() {
        let openai = profile(
            ProviderKind::OpenAiCompatible,
            "https://openrouter.ai/api/v1",
        )
        .models_request(Some(&key("sk-or")))
        .unwrap();
        assert_eq!(
            (openai.method(), openai.url()),
            (Method::Get, "https://openrouter.ai/api/v1/models")
        );
        assert_eq!(openai.body(), None);
        assert_eq!(headers(&openai), vec![("authorization", "Bearer sk-or")]);

        let anthropic = profile(ProviderKind::Anthropic, "https://api.anthropic.com")
            .models_request(Some(&key("sk-ant")))
            .unwrap();
        assert_eq!(
            anthropic.url(),
            "https://api.anthropic.com/v1/models?limit=1000"
        );
        assert_eq!(anthropic.body(), None);
        assert_eq!(
            headers(&anthropic),
            vec![
                ("x-api-key", "sk-ant"),
                ("anthropic-version", "2023-06-01"),
                ("anthropic-dangerous-direct-browser-access", "true"),
            ]
        );
    }

    #[test]
    fn a_profile_without_a_model_or_with_a_bad_base_builds_no_request() {
        let mut no_model = PRESETS[3].profile("lm");
        no_model.model = "  ".to_owned();
        let error = no_model.chat_request(None, &turns()).unwrap_err();
        assert_eq!(
            error,
            LlmError::NoModel {
                profile: "LM Studio".to_owned()
            }
        );
        assert!(error.to_string().contains("LM Studio"), "{error}");
        // Listing models needs no model: that is how one is chosen.
        assert!(no_model.models_request(None).is_ok());

        let bad_base = profile(ProviderKind::OpenAiCompatible, "file:///etc/passwd");
        assert!(matches!(
            bad_base.chat_request(None, &turns()),
            Err(LlmError::InvalidBaseUrl { .. })
        ));
        assert!(bad_base.models_request(None).is_err());
    }

    #[test]
    fn every_preset_builds_a_request_under_its_own_base() {
        for preset in PRESETS {
            let mut profile = preset.profile(preset.id);
            profile.model = "m".to_owned();
            let request = profile.chat_request(None, &turns()).unwrap();
            assert!(
                request.url().starts_with(preset.base_url),
                "{}",
                request.url()
            );
        }
    }

    #[test]
    fn openai_model_lists_are_read_sorted_and_deduplicated() {
        let body = r#"{"object":"list","data":[{"id":"gpt-4o-mini","object":"model"},{"id":"gpt-4o","object":"model"},{"id":"gpt-4o"}]}"#;
        assert_eq!(
            parse_model_list(body).unwrap(),
            vec!["gpt-4o", "gpt-4o-mini"]
        );
    }

    #[test]
    fn ollama_and_llama_cpp_model_lists_are_read() {
        let ollama_tags = r#"{"models":[{"name":"qwen2.5:7b","model":"qwen2.5:7b","size":1},{"model":"llama3.2:latest"}]}"#;
        assert_eq!(
            parse_model_list(ollama_tags).unwrap(),
            vec!["llama3.2:latest", "qwen2.5:7b"]
        );
        // llama.cpp's server lists its alias in both shapes.
        let both = r#"{"models":[{"name":"smol","model":"smol"}],"object":"list","data":[{"id":"smol","object":"model"}]}"#;
        assert_eq!(parse_model_list(both).unwrap(), vec!["smol"]);
        assert_eq!(
            parse_model_list(r#"{"data":[]}"#).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn unreadable_model_lists_say_what_is_wrong() {
        let not_json = parse_model_list("<html>Bad gateway</html>").unwrap_err();
        assert!(not_json.to_string().contains("not JSON"), "{not_json}");
        let wrong_shape = parse_model_list(r#"{"items":[]}"#).unwrap_err();
        assert!(
            wrong_shape
                .to_string()
                .contains("neither a `data` nor a `models` list"),
            "{wrong_shape}"
        );
    }
}
