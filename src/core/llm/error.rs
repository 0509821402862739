//! Failures of LLM calls, in words the user can act on, and when to retry them.
//!
//! Providers report errors in several shapes (OpenAI's `{"error":{…}}`,
//! Anthropic's `{"type":"error","error":{…}}`, Ollama's `{"error":"…"}`, Google's
//! `[{"error":{…}}]`, vLLM's top-level `{"message":…}`, plain text from proxies);
//! all are read into one [`ProviderSays`] and classified by status and content.

use std::fmt;

use serde_json::Value;

use super::request::{HttpRequest, Target};
use super::url::HostScope;
use super::{ProviderKind, UrlProblem};
use crate::core::memory::Millis;

/// Automatic retries of one request, at most.
pub const MAX_RETRIES: u32 = 3;
/// A longer `Retry-After` is capped: the user is waiting for an answer.
const MAX_RETRY_AFTER_MS: u64 = 60_000;
const FIRST_BACKOFF_MS: u64 = 2_000;
const MAX_BACKOFF_MS: u64 = 30_000;
/// Provider text quoted in a message is cut to this many characters.
const MAX_QUOTED_CHARS: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    #[error("“{input}” is not a usable base URL: {problem}.")]
    InvalidBaseUrl { input: String, problem: UrlProblem },
    #[error(
        "The API key contains characters that cannot be sent (spaces, line breaks or quotes \
         copied along with it); paste it again without them."
    )]
    InvalidKey,
    #[error("No model is chosen for “{profile}”: pick one in Settings → Providers.")]
    NoModel { profile: String },
    #[error(
        "{profile} refused the API key ({}): it is wrong, expired or missing. Check the key of \
         “{profile}” in Settings → Providers.{}",
        status_text(*.status),
        said(.provider_message)
    )]
    KeyRejected {
        profile: String,
        status: Option<u16>,
        provider_message: String,
    },
    #[error(
        "{profile} refused access ({}): the key lacks access to this model or feature. Check the \
         key and the model of “{profile}” in Settings → Providers.{}",
        status_text(*.status),
        said(.provider_message)
    )]
    AccessDenied {
        profile: String,
        status: Option<u16>,
        provider_message: String,
    },
    #[error("{}", not_found_text(.url, .model.as_deref(), *.suggest_v1, .provider_message))]
    NotFound {
        url: String,
        model: Option<String>,
        /// The base has no path, where OpenAI-compatible servers usually want `/v1`.
        suggest_v1: bool,
        provider_message: String,
    },
    #[error(
        "{profile} is limiting how fast requests may be made (HTTP 429); {}.{}",
        wait_text(*.retry_after_ms),
        said(.provider_message)
    )]
    RateLimited {
        profile: String,
        retry_after_ms: Option<u64>,
        provider_message: String,
    },
    #[error(
        "{profile} says the account's quota or credit is used up: check billing with the \
         provider (trying again will not help).{}",
        said(.provider_message)
    )]
    QuotaSpent {
        profile: String,
        provider_message: String,
    },
    #[error(
        "The conversation and the memories put into the prompt are too long for this model: \
         start a new conversation or shorten it, or lower the memory budget in Settings.{}",
        said(.provider_message)
    )]
    ContextTooLong { provider_message: String },
    #[error(
        "{profile} is overloaded or having trouble ({}); this usually passes: {}.{}",
        status_text(*.status),
        wait_text(*.retry_after_ms),
        said(.provider_message)
    )]
    ProviderUnavailable {
        profile: String,
        status: Option<u16>,
        retry_after_ms: Option<u64>,
        provider_message: String,
    },
    #[error(
        "{profile} rejected the request ({}): {}",
        status_text(*.status),
        reason_text(.provider_message)
    )]
    Rejected {
        profile: String,
        status: Option<u16>,
        provider_message: String,
    },
    #[error("Could not reach {base_url}. {hint}")]
    Unreachable { base_url: String, hint: NetworkHint },
    #[error("The connection was cut mid-answer; the text that arrived is kept.")]
    StreamCut,
    #[error("The provider's answer could not be read: {problem}.")]
    MalformedStream { problem: String },
    #[error("The provider's list of models could not be read: {problem}.")]
    MalformedModelList { problem: String },
}

/// What to suggest when the browser could not reach a provider at all. The
/// browser does not say why (offline, server down and CORS refusal look the
/// same), so the hint depends on where the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkHint {
    /// On this machine or the local network.
    LocalServer {
        /// This page's origin, which the server must allow.
        page_origin: String,
        /// An https page calling plain http on the local network, which
        /// browsers block as mixed content (loopback addresses are exempt).
        mixed_content: bool,
    },
    /// Anthropic answers browser calls (the request carries its
    /// direct-browser-access header), so CORS is not the cause.
    Anthropic,
    /// Another provider on the internet.
    RemoteProvider,
}

impl fmt::Display for NetworkHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkHint::LocalServer {
                page_origin,
                mixed_content,
            } => {
                if *mixed_content {
                    f.write_str(
                        "This page is served over https, and browsers block it from calling \
                         plain http:// addresses on the local network: serve the model over \
                         https, or open Casebook from http://localhost. ",
                    )?;
                }
                write!(
                    f,
                    "Is the server running? It must also allow calls from this page \
                     ({page_origin}): for Ollama, set OLLAMA_ORIGINS={page_origin} and restart \
                     it; in LM Studio, enable CORS in the server settings. Chrome may ask for \
                     permission to reach devices on your local network: allow it."
                )
            }
            NetworkHint::Anthropic => f.write_str(
                "Check your internet connection. Casebook sends Anthropic's direct-browser-access \
                 header, so the browser may call it; if the connection works, check the key and \
                 whether a firewall or browser extension blocks the address.",
            ),
            NetworkHint::RemoteProvider => f.write_str(
                "You may be offline, or this provider does not accept calls from a web page \
                 (CORS). If your connection works, use a provider that allows browser calls (such \
                 as OpenRouter) or a server on your own machine.",
            ),
        }
    }
}

impl LlmError {
    /// The error for a response whose status is not a success. `retry_after` is
    /// the `Retry-After` header, if any; `now` reads its HTTP-date form.
    pub fn from_response(
        request: &HttpRequest,
        status: u16,
        retry_after: Option<&str>,
        body: &str,
        now: Millis,
    ) -> LlmError {
        let retry_after_ms = retry_after.and_then(|value| parse_retry_after(value, now));
        classify(
            request.target(),
            status,
            Some(status),
            retry_after_ms,
            ProviderSays::from_body(body),
        )
    }

    /// The error for a request the browser could not send or get an answer to
    /// (`fetch` threw). `page_origin` is this page's `location.origin`.
    pub fn unreachable(request: &HttpRequest, page_origin: &str) -> LlmError {
        let target = request.target();
        let page_origin = page_origin.trim_end_matches('/');
        let hint = match (target.base.scope(), target.kind) {
            (HostScope::Loopback, _) => NetworkHint::LocalServer {
                page_origin: page_origin.to_owned(),
                mixed_content: false,
            },
            (HostScope::LocalNetwork, _) => NetworkHint::LocalServer {
                page_origin: page_origin.to_owned(),
                mixed_content: !target.base.is_https() && page_origin.starts_with("https:"),
            },
            (HostScope::Internet, ProviderKind::Anthropic) => NetworkHint::Anthropic,
            (HostScope::Internet, ProviderKind::OpenAiCompatible) => NetworkHint::RemoteProvider,
        };
        LlmError::Unreachable {
            base_url: target.base.as_str().to_owned(),
            hint,
        }
    }

    /// An error object that arrived inside a stream that had started with 200.
    pub(crate) fn from_stream_error(target: &Target, error: &Value) -> LlmError {
        let says = ProviderSays::from_error(error);
        let status = says.status.unwrap_or_else(|| status_for_codes(&says.codes));
        classify(target, status, None, None, says)
    }

    /// Whether trying the same request again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LlmError::RateLimited { .. } | LlmError::ProviderUnavailable { .. }
        )
    }

    /// How long the provider asked us to wait, if it said.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            LlmError::RateLimited { retry_after_ms, .. }
            | LlmError::ProviderUnavailable { retry_after_ms, .. } => *retry_after_ms,
            _ => None,
        }
    }
}

/// How long to wait before retrying after `error`, or `None` to give up:
/// the error is not retryable, or `retries_so_far` already reached
/// [`MAX_RETRIES`]. The provider's `Retry-After` wins (capped at a minute);
/// otherwise the wait doubles from 2 s.
pub fn retry_delay(error: &LlmError, retries_so_far: u32) -> Option<u64> {
    if retries_so_far >= MAX_RETRIES || !error.is_retryable() {
        return None;
    }
    Some(match error.retry_after_ms() {
        Some(wait) => wait.min(MAX_RETRY_AFTER_MS),
        None => FIRST_BACKOFF_MS
            .saturating_mul(2u64.saturating_pow(retries_so_far))
            .min(MAX_BACKOFF_MS),
    })
}

/// What a provider said about a failure, whatever shape it used.
#[derive(Debug, Default)]
struct ProviderSays {
    message: String,
    /// Error types and codes, lowercase (`insufficient_quota`, `overloaded_error`).
    codes: Vec<String>,
    /// An HTTP status given inside the body (OpenRouter and llama.cpp do so in
    /// streams).
    status: Option<u16>,
}

impl ProviderSays {
    fn from_body(body: &str) -> ProviderSays {
        let Ok(value) = serde_json::from_str::<Value>(body) else {
            let text = body.trim();
            // An HTML error page says nothing useful in a sentence.
            return if text.starts_with('<') {
                ProviderSays::default()
            } else {
                ProviderSays {
                    message: quoted(text),
                    ..ProviderSays::default()
                }
            };
        };
        let value = match &value {
            Value::Array(items) => items.first().unwrap_or(&Value::Null),
            other => other,
        };
        match value.get("error") {
            Some(error) => ProviderSays::from_error(error),
            None => ProviderSays::from_error(value),
        }
    }

    fn from_error(error: &Value) -> ProviderSays {
        if let Some(text) = error.as_str() {
            return ProviderSays {
                message: quoted(text),
                ..ProviderSays::default()
            };
        }
        let field = |name: &str| error.get(name);
        let codes = ["type", "code", "status"]
            .into_iter()
            .filter_map(|name| field(name)?.as_str())
            .map(str::to_ascii_lowercase)
            .collect();
        let status = field("code")
            .and_then(Value::as_u64)
            .and_then(|code| u16::try_from(code).ok())
            .filter(|code| (400..600).contains(code));
        ProviderSays {
            message: quoted(field("message").and_then(Value::as_str).unwrap_or_default()),
            codes,
            status,
        }
    }

    fn has_code(&self, wanted: &str) -> bool {
        self.codes.iter().any(|code| code == wanted)
    }
}

/// The HTTP status a stream error would have had, from its type or code
/// (Anthropic's error types, OpenAI's codes); an unknown one is a server fault.
fn status_for_codes(codes: &[String]) -> u16 {
    codes
        .iter()
        .find_map(|code| match code.as_str() {
            "authentication_error" | "invalid_api_key" => Some(401),
            "permission_error" => Some(403),
            "not_found_error" | "model_not_found" => Some(404),
            "request_too_large" => Some(413),
            "rate_limit_error" | "rate_limit_exceeded" | "insufficient_quota" => Some(429),
            "invalid_request_error" | "context_length_exceeded" => Some(400),
            "overloaded_error" => Some(529),
            _ => None,
        })
        .unwrap_or(500)
}

/// `status` decides the class; `shown_status` is what the message names (none
/// for an error inside a stream, whose HTTP status was 200).
fn classify(
    target: &Target,
    status: u16,
    shown_status: Option<u16>,
    retry_after_ms: Option<u64>,
    says: ProviderSays,
) -> LlmError {
    let provider_message = target.scrub(&says.message);
    let lower = provider_message.to_lowercase();
    let mentions = |phrases: &[&str]| phrases.iter().any(|phrase| lower.contains(phrase));
    let profile = target.profile_name.clone();
    let client_error = (400..500).contains(&status);
    let context_too_long = status == 413
        || says.has_code("context_length_exceeded")
        || says.has_code("exceed_context_size_error")
        || mentions(&[
            "maximum context length",
            "prompt is too long",
            "context length",
            "context window",
            "context size",
        ]);
    let rate_limit_code = says.has_code("rate_limit_exceeded") || says.has_code("rate_limit_error");
    // Groq's rate-limit message advertises its billing page, so the words only
    // count when the code does not already say "rate limit".
    let quota_spent = status == 402
        || says.has_code("insufficient_quota")
        || (!rate_limit_code && mentions(&["quota", "billing", "credit"]));
    // Google answers a bad key with 400.
    let key_invalid = says.has_code("invalid_api_key")
        || mentions(&["api key not valid", "invalid api key", "incorrect api key"]);
    match status {
        401 => LlmError::KeyRejected {
            profile,
            status: shown_status,
            provider_message,
        },
        404 => LlmError::NotFound {
            url: target.url.clone(),
            model: target.model.clone(),
            suggest_v1: target.kind == ProviderKind::OpenAiCompatible && !target.base.has_path(),
            provider_message,
        },
        400 if key_invalid => LlmError::KeyRejected {
            profile,
            status: shown_status,
            provider_message,
        },
        _ if client_error && context_too_long => LlmError::ContextTooLong { provider_message },
        _ if client_error && quota_spent => LlmError::QuotaSpent {
            profile,
            provider_message,
        },
        403 => LlmError::AccessDenied {
            profile,
            status: shown_status,
            provider_message,
        },
        429 => LlmError::RateLimited {
            profile,
            retry_after_ms,
            provider_message,
        },
        // 529 is Anthropic's "overloaded".
        408 | 500..=599 => LlmError::ProviderUnavailable {
            profile,
            status: shown_status,
            retry_after_ms,
            provider_message,
        },
        _ => LlmError::Rejected {
            profile,
            status: shown_status,
            provider_message,
        },
    }
}

/// `Retry-After` in milliseconds from now: delay-seconds (some servers send
/// fractions) or an HTTP date.
fn parse_retry_after(value: &str, now: Millis) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        // `as` saturates, so a huge value becomes u64::MAX and is capped later.
        return (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).round() as u64);
    }
    parse_http_date(value).map(|at| at.saturating_sub(now))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form servers send,
/// as milliseconds since the epoch.
fn parse_http_date(value: &str) -> Option<Millis> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let without_weekday = value.split_once(',').map_or(value, |(_, rest)| rest);
    let mut parts = without_weekday.split_whitespace();
    let day: u64 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?.to_ascii_lowercase();
    let month = MONTHS.iter().position(|name| *name == month_name)? as u64 + 1;
    let year: u64 = parts.next()?.parse().ok()?;
    let mut clock = parts
        .next()?
        .split(':')
        .map(|part| part.parse::<u64>().ok());
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    let zone = parts.next()?;
    let well_formed = (zone == "GMT" || zone == "UTC")
        && parts.next().is_none()
        && clock.next().is_none()
        && (1..=31).contains(&day)
        && (1970..=9999).contains(&year)
        && hour < 24
        && minute < 60
        && second <= 60;
    if !well_formed {
        return None;
    }
    let seconds = days_since_epoch(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second;
    Some(seconds * 1000)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar in or
/// after 1970 (Howard Hinnant's `days_from_civil`, with eras of 400 years).
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_from_march = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Provider text on one line, cut to a readable length.
fn quoted(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_QUOTED_CHARS {
        return one_line;
    }
    let cut: String = one_line.chars().take(MAX_QUOTED_CHARS).collect();
    format!("{cut}…")
}

fn status_text(status: Option<u16>) -> String {
    match status {
        Some(status) => format!("HTTP {status}"),
        None => "during the answer".to_owned(),
    }
}

fn said(provider_message: &str) -> String {
    if provider_message.is_empty() {
        String::new()
    } else {
        format!(" The provider said: “{provider_message}”")
    }
}

fn reason_text(provider_message: &str) -> String {
    if provider_message.is_empty() {
        "it gave no reason.".to_owned()
    } else {
        format!("“{provider_message}”")
    }
}

fn wait_text(retry_after_ms: Option<u64>) -> String {
    match retry_after_ms {
        Some(wait) => format!("try again in {} s", wait.div_ceil(1000).max(1)),
        None => "wait a moment and try again".to_owned(),
    }
}

fn not_found_text(
    url: &str,
    model: Option<&str>,
    suggest_v1: bool,
    provider_message: &str,
) -> String {
    let mut text = match model {
        Some(model) => format!(
            "Not found (HTTP 404): either the model “{model}” does not exist on this server or \
             the address {url} is wrong. Check the model and the base URL in Settings → Providers."
        ),
        None => format!(
            "Not found (HTTP 404): the address {url} is wrong. Check the base URL in Settings → \
             Providers."
        ),
    };
    if suggest_v1 {
        text.push_str(" OpenAI-compatible servers usually serve their API under /v1 (for example http://localhost:11434/v1).");
    }
    text.push_str(&said(provider_message));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::conversation::{ChatTurn, Role};
    use crate::core::llm::{ApiKey, ProviderProfile};

    const NOW: Millis = 1_792_567_600_000; // Wed, 21 Oct 2026 07:26:40 GMT

    fn chat_request(
        kind: ProviderKind,
        name: &str,
        base_url: &str,
        key: Option<&str>,
    ) -> HttpRequest {
        let profile = ProviderProfile {
            id: "p".to_owned(),
            name: name.to_owned(),
            kind,
            base_url: base_url.to_owned(),
            model: "gpt-4o-mini".to_owned(),
            temperature: None,
            max_tokens: None,
        };
        let key = key.map(|key| ApiKey::parse(key).unwrap().unwrap());
        profile
            .chat_request(key.as_ref(), &[ChatTurn::new(Role::User, "Hi")])
            .unwrap()
    }

    fn openai() -> HttpRequest {
        chat_request(
            ProviderKind::OpenAiCompatible,
            "OpenAI",
            "https://api.openai.com/v1",
            Some("sk-test"),
        )
    }

    fn anthropic() -> HttpRequest {
        chat_request(
            ProviderKind::Anthropic,
            "Anthropic",
            "https://api.anthropic.com",
            Some("sk-ant-test"),
        )
    }

    fn respond(request: &HttpRequest, status: u16, body: &str) -> LlmError {
        LlmError::from_response(request, status, None, body, NOW)
    }

    #[test]
    fn a_refused_key_says_which_profile_to_fix_in_settings() {
        let body = r#"{"error":{"message":"Incorrect API key provided: sk-test.","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        let error = respond(&openai(), 401, body);
        assert!(
            matches!(
                error,
                LlmError::KeyRejected {
                    status: Some(401),
                    ..
                }
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("OpenAI refused the API key (HTTP 401)"),
            "{message}"
        );
        assert!(message.contains("Settings → Providers"), "{message}");
        assert!(!error.is_retryable());

        let forbidden = r#"{"type":"error","error":{"type":"permission_error","message":"Your API key does not have permission to use the specified resource."}}"#;
        let error = respond(&anthropic(), 403, forbidden);
        assert!(matches!(error, LlmError::AccessDenied { .. }), "{error:?}");
        assert!(error.to_string().contains("lacks access"), "{error}");
        assert!(!error.is_retryable());
    }

    #[test]
    fn google_answers_a_bad_key_with_400_and_it_is_still_a_refused_key() {
        let body = r#"[{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}]"#;
        let gemini = chat_request(
            ProviderKind::OpenAiCompatible,
            "Google Gemini",
            "https://generativelanguage.googleapis.com/v1beta/openai",
            Some("AIza-test"),
        );
        let error = respond(&gemini, 400, body);
        assert!(
            matches!(
                error,
                LlmError::KeyRejected {
                    status: Some(400),
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn not_found_names_the_model_and_the_url() {
        let ollama = chat_request(
            ProviderKind::OpenAiCompatible,
            "Ollama",
            "http://localhost:11434/v1",
            None,
        );
        let error = respond(
            &ollama,
            404,
            r#"{"error":"model \"gpt-4o-mini\" not found, try pulling it first"}"#,
        );
        let message = error.to_string();
        assert!(message.contains("“gpt-4o-mini”"), "{message}");
        assert!(
            message.contains("http://localhost:11434/v1/chat/completions"),
            "{message}"
        );
        assert!(message.contains("try pulling it first"), "{message}");
        assert!(
            !message.contains("under /v1"),
            "the base already has a path: {message}"
        );
        assert!(!error.is_retryable());

        let no_path = chat_request(
            ProviderKind::OpenAiCompatible,
            "Ollama",
            "http://localhost:11434",
            None,
        );
        let message = respond(&no_path, 404, "404 page not found").to_string();
        assert!(message.contains("under /v1"), "{message}");
    }

    #[test]
    fn rate_limits_are_retryable_after_the_time_the_provider_asks() {
        let body = r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#;
        let error = LlmError::from_response(&anthropic(), 429, Some("20"), body, NOW);
        assert_eq!(error.retry_after_ms(), Some(20_000));
        assert!(error.is_retryable());
        assert_eq!(retry_delay(&error, 0), Some(20_000));
        let message = error.to_string();
        assert!(
            message.contains("HTTP 429") && message.contains("try again in 20 s"),
            "{message}"
        );

        let dated = LlmError::from_response(
            &anthropic(),
            429,
            Some("Wed, 21 Oct 2026 07:28:00 GMT"),
            body,
            NOW,
        );
        assert_eq!(dated.retry_after_ms(), Some(80_000));
        assert_eq!(retry_delay(&dated, 0), Some(60_000), "capped at a minute");

        let unsaid = respond(&anthropic(), 429, body);
        assert_eq!(unsaid.retry_after_ms(), None);
        assert!(unsaid.to_string().contains("wait a moment"), "{unsaid}");
    }

    #[test]
    fn groq_rate_limits_stay_retryable_although_they_mention_billing() {
        let body = r#"{"error":{"message":"Rate limit reached for model `llama-3.1-8b-instant` on tokens per minute (TPM): Limit 6000, Used 5800, Requested 900. Please try again in 7s. Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing","type":"tokens","code":"rate_limit_exceeded"}}"#;
        let error = respond(&openai(), 429, body);
        assert!(matches!(error, LlmError::RateLimited { .. }), "{error:?}");
        assert!(error.is_retryable());
    }

    #[test]
    fn a_spent_quota_is_not_retried_and_points_to_billing() {
        let openai_quota = r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        let anthropic_credit = r#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}"#;
        let openrouter_credit = r#"{"error":{"message":"Insufficient credits. Add more using https://openrouter.ai/settings/credits","code":402}}"#;
        for (request, status, body) in [
            (openai(), 429, openai_quota),
            (anthropic(), 400, anthropic_credit),
            (openai(), 402, openrouter_credit),
        ] {
            let error = LlmError::from_response(&request, status, Some("30"), body, NOW);
            assert!(
                matches!(error, LlmError::QuotaSpent { .. }),
                "{status}: {error:?}"
            );
            assert!(!error.is_retryable());
            assert_eq!(retry_delay(&error, 0), None);
            assert!(error.to_string().contains("check billing"), "{error}");
        }
    }

    #[test]
    fn server_errors_and_overload_are_retryable() {
        let overloaded =
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        for (status, body) in [
            (500, "Internal Server Error"),
            (502, "<html>Bad gateway</html>"),
            (503, ""),
            (529, overloaded),
        ] {
            let error = respond(&anthropic(), status, body);
            assert!(
                matches!(error, LlmError::ProviderUnavailable { .. }),
                "{status}: {error:?}"
            );
            assert!(error.is_retryable(), "{status}");
            assert!(
                error.to_string().contains(&format!("HTTP {status}")),
                "{error}"
            );
        }
        let html = respond(&openai(), 502, "<html><body>Bad gateway</body></html>").to_string();
        assert!(
            !html.contains("<html>"),
            "an HTML page is not quoted: {html}"
        );
    }

    #[test]
    fn a_context_too_long_says_to_shorten_or_lower_the_memory_budget() {
        let openai_body = r#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        let anthropic_body = r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#;
        let llama_body = r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}"#;
        for (request, body) in [
            (openai(), openai_body),
            (anthropic(), anthropic_body),
            (openai(), llama_body),
        ] {
            let error = respond(&request, 400, body);
            assert!(
                matches!(error, LlmError::ContextTooLong { .. }),
                "{error:?}"
            );
            assert!(!error.is_retryable());
            assert!(
                error.to_string().contains("lower the memory budget"),
                "{error}"
            );
        }
    }

    #[test]
    fn other_bad_requests_show_the_providers_own_message() {
        let body = r#"{"error":{"message":"Invalid value for 'temperature': must be between 0 and 2.","type":"invalid_request_error","param":"temperature","code":null}}"#;
        let error = respond(&openai(), 400, body);
        assert_eq!(
            error.to_string(),
            "OpenAI rejected the request (HTTP 400): “Invalid value for 'temperature': must be between 0 and 2.”"
        );
        assert!(!error.is_retryable());
        let vllm = r#"{"object":"error","message":"The model `x` does not support tools.","type":"BadRequestError","param":null,"code":400}"#;
        assert!(respond(&openai(), 400, vllm)
            .to_string()
            .contains("does not support tools"));
        assert!(respond(&openai(), 422, "")
            .to_string()
            .ends_with("it gave no reason."));
    }

    #[test]
    fn long_provider_messages_are_cut_to_one_readable_line() {
        let long = format!(
            "{{\"error\":{{\"message\":\"line one\\nline two {}\"}}}}",
            "é".repeat(1000)
        );
        let message = respond(&openai(), 400, &long).to_string();
        assert!(message.contains("line one line two"), "{message}");
        assert!(message.chars().count() < 500, "{message}");
        assert!(message.ends_with("…”"), "{message}");
    }

    #[test]
    fn retries_back_off_exponentially_and_stop_after_three() {
        let error = respond(&openai(), 503, "");
        let delays: Vec<Option<u64>> = (0..5).map(|retries| retry_delay(&error, retries)).collect();
        assert_eq!(
            delays,
            vec![Some(2_000), Some(4_000), Some(8_000), None, None]
        );
        assert_eq!(retry_delay(&respond(&openai(), 401, ""), 0), None);
        assert_eq!(retry_delay(&LlmError::StreamCut, 0), None);
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_an_http_date() {
        assert_eq!(parse_retry_after(" 5 ", NOW), Some(5_000));
        assert_eq!(parse_retry_after("1.5", NOW), Some(1_500));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", NOW),
            Some(80_000)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", NOW),
            Some(0),
            "a past date means now"
        );
        for unreadable in [
            "soon",
            "-3",
            "NaN",
            "inf",
            "Wed, 32 Oct 2026 07:28:00 GMT",
            "Wed, 21 Foo 2026 07:28:00 GMT",
            "Wed, 21 Oct 2026 07:28 GMT",
            "",
        ] {
            assert_eq!(parse_retry_after(unreadable, NOW), None, "{unreadable}");
        }
    }

    #[test]
    fn http_dates_convert_to_epoch_milliseconds() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(
            parse_http_date("Thu, 29 Feb 2024 23:59:59 GMT"),
            Some(1_709_251_199_000)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
    }

    #[test]
    fn unreachable_local_servers_get_server_and_cors_hints_with_this_pages_origin() {
        let ollama = chat_request(
            ProviderKind::OpenAiCompatible,
            "Ollama",
            "http://localhost:11434/v1",
            None,
        );
        let error = LlmError::unreachable(&ollama, "https://casebook.example/");
        let message = error.to_string();
        assert!(
            message.starts_with("Could not reach http://localhost:11434/v1."),
            "{message}"
        );
        assert!(message.contains("server running"), "{message}");
        assert!(
            message.contains("OLLAMA_ORIGINS=https://casebook.example "),
            "{message}"
        );
        assert!(message.contains("local network"), "{message}");
        assert!(
            !message.contains("mixed") && !message.contains("served over https"),
            "loopback is exempt: {message}"
        );
        assert!(!error.is_retryable());
    }

    #[test]
    fn an_https_page_calling_http_on_the_lan_is_told_about_mixed_content() {
        let lan = chat_request(
            ProviderKind::OpenAiCompatible,
            "Ollama",
            "http://192.168.1.20:11434/v1",
            None,
        );
        let from_https = LlmError::unreachable(&lan, "https://casebook.example").to_string();
        assert!(from_https.contains("served over https"), "{from_https}");
        let from_http = LlmError::unreachable(&lan, "http://localhost:8080").to_string();
        assert!(!from_http.contains("served over https"), "{from_http}");
    }

    #[test]
    fn unreachable_hosted_providers_get_network_or_cors_hints() {
        let anthropic_message =
            LlmError::unreachable(&anthropic(), "https://casebook.example").to_string();
        assert!(
            anthropic_message.contains("direct-browser-access"),
            "{anthropic_message}"
        );
        assert!(
            !anthropic_message.contains("OLLAMA_ORIGINS"),
            "{anthropic_message}"
        );
        let other = LlmError::unreachable(&openai(), "https://casebook.example").to_string();
        assert!(
            other.contains("offline") && other.contains("CORS"),
            "{other}"
        );
    }
}
