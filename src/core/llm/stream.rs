//! A streamed answer: response body chunks in, text deltas, token counts and the
//! way the answer ended out.

use serde_json::Value;

use super::request::{HttpRequest, Target};
use super::sse::{SseEvent, SseParser};
use super::{LlmError, ProviderKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// More of the answer's text.
    Text(String),
    /// Token counts so far; each replaces the previous one.
    Usage(Usage),
    /// The provider ended the answer; nothing follows.
    Finished(StopReason),
    /// The answer failed part-way (an error sent in the stream, an unreadable
    /// event, or a cut connection); nothing follows. The text so far stands.
    Failed(LlmError),
}

/// Tokens the provider counted; `None` until it says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// The prompt, including tokens read from or written to a prompt cache.
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
}

/// Why the provider ended an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// The model finished (or hit a stop sequence).
    Complete,
    /// The answer reached the profile's max-tokens limit and is cut off.
    MaxTokens,
    /// The provider's safety filter stopped or refused the answer.
    ContentFilter,
    /// Any other reason, as the provider named it.
    Other(String),
}

impl StopReason {
    fn from_openai(reason: &str) -> StopReason {
        match reason {
            "stop" => StopReason::Complete,
            "length" => StopReason::MaxTokens,
            "content_filter" => StopReason::ContentFilter,
            other => StopReason::Other(other.to_owned()),
        }
    }

    fn from_anthropic(reason: &str) -> StopReason {
        match reason {
            "end_turn" | "stop_sequence" => StopReason::Complete,
            "max_tokens" => StopReason::MaxTokens,
            "refusal" => StopReason::ContentFilter,
            other => StopReason::Other(other.to_owned()),
        }
    }

    /// What to tell the user under an answer that did not simply complete.
    pub fn notice(&self) -> Option<String> {
        match self {
            StopReason::Complete => None,
            StopReason::MaxTokens => Some(
                "The answer was cut off at the max-tokens limit; raise it in Settings → Providers \
                 for longer answers."
                    .to_owned(),
            ),
            StopReason::ContentFilter => {
                Some("The provider's content filter stopped the answer.".to_owned())
            }
            StopReason::Other(reason) => Some(format!(
                "The provider stopped the answer early (reason: {reason})."
            )),
        }
    }
}

/// Decodes the body of a streamed chat response. Feed it every chunk with
/// [`ChatStream::push`], then call [`ChatStream::finish`] when the body ends.
#[derive(Debug)]
pub struct ChatStream {
    parser: SseParser,
    target: Target,
    usage: Usage,
    /// Why the provider said it stopped, before its terminator arrives.
    stop: Option<StopReason>,
    /// A `Finished` or `Failed` event was returned; the rest is ignored.
    ended: bool,
}

impl ChatStream {
    /// The decoder for the response to `request` (built by
    /// [`super::ProviderProfile::chat_request`]).
    pub fn new(request: &HttpRequest) -> ChatStream {
        ChatStream {
            parser: SseParser::new(),
            target: request.target().clone(),
            usage: Usage::default(),
            stop: None,
            ended: false,
        }
    }

    /// Reads a chunk of the body; returns what it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<StreamEvent> {
        let events = self.parser.push(chunk);
        self.decode_all(events)
    }

    /// The body ended. Without the provider's terminator (`[DONE]`,
    /// `message_stop`) the connection was cut, unless the provider had already
    /// said why it stopped: then the answer is whole and only trailing token
    /// counts were lost.
    ///
    /// A last event without its ending blank line counts only if it reads
    /// whole: when its data does not parse, the connection dropped in the
    /// middle of it, which is a cut and not a provider sending garbage.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        let last = self.parser.finish().filter(is_whole);
        let mut out = self.decode_all(last);
        if !self.ended {
            let ending = match self.stop.take() {
                Some(stop) => StreamEvent::Finished(stop),
                None => StreamEvent::Failed(LlmError::StreamCut),
            };
            self.end(&mut out, ending);
        }
        out
    }

    fn decode_all(&mut self, events: impl IntoIterator<Item = SseEvent>) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        for event in events {
            if self.ended {
                break;
            }
            // Keep-alives can be empty data lines; they carry nothing.
            if event.data.trim().is_empty() {
                continue;
            }
            match self.target.kind {
                ProviderKind::OpenAiCompatible => self.decode_openai(&event, &mut out),
                ProviderKind::Anthropic => self.decode_anthropic(&event, &mut out),
            }
        }
        out
    }

    fn decode_openai(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        if event.data.trim() == "[DONE]" {
            let stop = self.stop.take().unwrap_or(StopReason::Complete);
            return self.end(out, StreamEvent::Finished(stop));
        }
        let Some(json) = self.parse_data(event, out) else {
            return;
        };
        if let Some(error) = json.get("error").filter(|error| !error.is_null()) {
            let failure = LlmError::from_stream_error(&self.target, error);
            return self.end(out, StreamEvent::Failed(failure));
        }
        // Casebook asks for one choice; the first chunk's delta carries only
        // the role, with `content: null`, and the usage chunk has no choices.
        if let Some(choice) = json.get("choices").and_then(|choices| choices.get(0)) {
            push_text(out, choice.pointer("/delta/content"));
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.stop = Some(StopReason::from_openai(reason));
            }
        }
        if let Some(usage) = json.get("usage").filter(|usage| usage.is_object()) {
            let count = |field: &str| usage.get(field).and_then(Value::as_u64);
            self.usage = Usage {
                input_tokens: count("prompt_tokens").or(self.usage.input_tokens),
                output_tokens: count("completion_tokens").or(self.usage.output_tokens),
            };
            out.push(StreamEvent::Usage(self.usage));
        }
    }

    fn decode_anthropic(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        let Some(json) = self.parse_data(event, out) else {
            return;
        };
        let kind = json
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(&event.event);
        let text_at = |pointer: &str| json.pointer(pointer).and_then(Value::as_str);
        match kind {
            "message_start" => {
                if let Some(usage) = json.pointer("/message/usage") {
                    self.read_anthropic_usage(usage, out);
                }
            }
            "content_block_start" if text_at("/content_block/type") == Some("text") => {
                push_text(out, json.pointer("/content_block/text"));
            }
            // Other deltas (thinking, tool input) are not part of the answer's text.
            "content_block_delta" if text_at("/delta/type") == Some("text_delta") => {
                push_text(out, json.pointer("/delta/text"));
            }
            "message_delta" => {
                if let Some(reason) = text_at("/delta/stop_reason") {
                    self.stop = Some(StopReason::from_anthropic(reason));
                }
                if let Some(usage) = json.get("usage") {
                    self.read_anthropic_usage(usage, out);
                }
            }
            "message_stop" => {
                let stop = self.stop.take().unwrap_or(StopReason::Complete);
                self.end(out, StreamEvent::Finished(stop));
            }
            "error" => {
                let error = json.get("error").unwrap_or(&Value::Null);
                let failure = LlmError::from_stream_error(&self.target, error);
                self.end(out, StreamEvent::Failed(failure));
            }
            // ping, content_block_stop, non-text blocks, and event types
            // Anthropic adds later.
            _ => {}
        }
    }

    fn read_anthropic_usage(&mut self, usage: &Value, out: &mut Vec<StreamEvent>) {
        let count = |field: &str| usage.get(field).and_then(Value::as_u64);
        let input_parts = [
            count("input_tokens"),
            count("cache_creation_input_tokens"),
            count("cache_read_input_tokens"),
        ];
        if input_parts.iter().any(Option::is_some) {
            self.usage.input_tokens = Some(input_parts.iter().flatten().sum());
        }
        if let Some(output) = count("output_tokens") {
            self.usage.output_tokens = Some(output);
        }
        out.push(StreamEvent::Usage(self.usage));
    }

    fn parse_data(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) -> Option<Value> {
        match serde_json::from_str(&event.data) {
            Ok(json) => Some(json),
            Err(error) => {
                let excerpt: String = self.target.scrub(&event.data).chars().take(80).collect();
                let problem = format!("an event's data is not valid JSON ({error}): {excerpt}");
                self.end(
                    out,
                    StreamEvent::Failed(LlmError::MalformedStream { problem }),
                );
                None
            }
        }
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>, event: StreamEvent) {
        self.ended = true;
        out.push(event);
    }
}

/// Whether an event's data is complete: the `[DONE]` terminator or JSON.
fn is_whole(event: &SseEvent) -> bool {
    event.data.trim() == "[DONE]" || serde_json::from_str::<Value>(&event.data).is_ok()
}

fn push_text(out: &mut Vec<StreamEvent>, text: Option<&Value>) {
    if let Some(text) = text.and_then(Value::as_str).filter(|text| !text.is_empty()) {
        out.push(StreamEvent::Text(text.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::conversation::{ChatTurn, Role};
    use crate::core::llm::{ApiKey, ProviderProfile};

    /// As llama.cpp's server and OpenAI send it: a role-only first chunk with
    /// `content: null`, text chunks, the finish reason, a usage chunk without
    /// choices, then `[DONE]`.
    const OPENAI_STREAM: &str = concat!(
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Héllo\"},\"finish_reason\":null}]}\n\n",
        ": keep-alive\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" wörld 🙂\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" [M1]\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":198,\"completion_tokens\":5,\"total_tokens\":203}}\n\n",
        "data: [DONE]\n\n",
    );

    const ANTHROPIC_STREAM: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-haiku-4-5\",\"stop_reason\":null,\"usage\":{\"input_tokens\":250,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":100,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\n",
        "data: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Grüße\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\", 世界 [M2]\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":12}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );

    fn request(kind: ProviderKind, key: Option<&str>) -> HttpRequest {
        let base = match kind {
            ProviderKind::OpenAiCompatible => "http://localhost:8080/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com",
        };
        let profile = ProviderProfile {
            id: "p".to_owned(),
            name: "Test".to_owned(),
            kind,
            base_url: base.to_owned(),
            model: "m".to_owned(),
            temperature: None,
            max_tokens: None,
        };
        let key = key.map(|key| ApiKey::parse(key).unwrap().unwrap());
        profile
            .chat_request(key.as_ref(), &[ChatTurn::new(Role::User, "Hi")])
            .unwrap()
    }

    fn decode(kind: ProviderKind, chunks: &[&[u8]]) -> Vec<StreamEvent> {
        let mut stream = ChatStream::new(&request(kind, None));
        let mut events: Vec<StreamEvent> =
            chunks.iter().flat_map(|chunk| stream.push(chunk)).collect();
        events.extend(stream.finish());
        events
    }

    fn decode_whole(kind: ProviderKind, body: &str) -> Vec<StreamEvent> {
        decode(kind, &[body.as_bytes()])
    }

    fn text(text: &str) -> StreamEvent {
        StreamEvent::Text(text.to_owned())
    }

    fn usage(input_tokens: u64, output_tokens: u64) -> StreamEvent {
        StreamEvent::Usage(Usage {
            input_tokens: Some(input_tokens),
            output_tokens: Some(output_tokens),
        })
    }

    fn failure(events: &[StreamEvent]) -> &LlmError {
        match events.last() {
            Some(StreamEvent::Failed(error)) => error,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    fn assert_same_at_every_split(kind: ProviderKind, body: &str, expected: &[StreamEvent]) {
        let bytes = body.as_bytes();
        for split in 0..=bytes.len() {
            let (first, second) = bytes.split_at(split);
            assert_eq!(
                decode(kind, &[first, second]),
                expected,
                "split at byte {split}"
            );
        }
        let one_byte_chunks: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(
            decode(kind, &one_byte_chunks),
            expected,
            "one byte at a time"
        );
    }

    #[test]
    fn an_openai_stream_gives_text_usage_and_the_end_however_it_is_split() {
        let expected = vec![
            text("Héllo"),
            text(" wörld 🙂"),
            text(" [M1]"),
            usage(198, 5),
            StreamEvent::Finished(StopReason::Complete),
        ];
        assert_eq!(
            decode_whole(ProviderKind::OpenAiCompatible, OPENAI_STREAM),
            expected
        );
        assert_same_at_every_split(ProviderKind::OpenAiCompatible, OPENAI_STREAM, &expected);
        let crlf = OPENAI_STREAM.replace('\n', "\r\n");
        assert_same_at_every_split(ProviderKind::OpenAiCompatible, &crlf, &expected);
    }

    #[test]
    fn an_anthropic_stream_gives_text_usage_and_the_end_however_it_is_split() {
        let expected = vec![
            usage(350, 1),
            text("Grüße"),
            text(", 世界 [M2]"),
            usage(350, 12),
            StreamEvent::Finished(StopReason::Complete),
        ];
        assert_eq!(
            decode_whole(ProviderKind::Anthropic, ANTHROPIC_STREAM),
            expected
        );
        assert_same_at_every_split(ProviderKind::Anthropic, ANTHROPIC_STREAM, &expected);
        let crlf = ANTHROPIC_STREAM.replace('\n', "\r\n");
        assert_same_at_every_split(ProviderKind::Anthropic, &crlf, &expected);
    }

    #[test]
    fn an_answer_cut_at_max_tokens_says_so() {
        let openai =
            OPENAI_STREAM.replace("\"finish_reason\":\"stop\"", "\"finish_reason\":\"length\"");
        let events = decode_whole(ProviderKind::OpenAiCompatible, &openai);
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Finished(StopReason::MaxTokens))
        );
        let anthropic = ANTHROPIC_STREAM.replace("end_turn", "max_tokens");
        let events = decode_whole(ProviderKind::Anthropic, &anthropic);
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Finished(StopReason::MaxTokens))
        );
        let notice = StopReason::MaxTokens.notice().unwrap();
        assert!(notice.contains("max-tokens limit"), "{notice}");
        assert_eq!(StopReason::Complete.notice(), None);
    }

    #[test]
    fn a_usage_only_chunk_reports_tokens_without_text() {
        let body = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n";
        assert_eq!(
            decode_whole(ProviderKind::OpenAiCompatible, body),
            vec![usage(7, 3), StreamEvent::Finished(StopReason::Complete)]
        );
    }

    #[test]
    fn a_stream_cut_before_its_terminator_fails_after_keeping_the_text() {
        let cut = OPENAI_STREAM
            .split("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},")
            .next()
            .unwrap();
        let events = decode_whole(ProviderKind::OpenAiCompatible, cut);
        assert_eq!(
            events,
            vec![
                text("Héllo"),
                text(" wörld 🙂"),
                text(" [M1]"),
                StreamEvent::Failed(LlmError::StreamCut)
            ]
        );
        assert!(LlmError::StreamCut.to_string().contains("cut mid-answer"));

        let cut = ANTHROPIC_STREAM
            .split("event: content_block_stop")
            .next()
            .unwrap();
        let events = decode_whole(ProviderKind::Anthropic, cut);
        assert_eq!(failure(&events), &LlmError::StreamCut);
        assert!(events.contains(&text(", 世界 [M2]")));
    }

    #[test]
    fn a_stream_cut_inside_an_event_is_a_cut_and_not_an_unreadable_answer() {
        let cut_at = OPENAI_STREAM.find(" wörld").unwrap();
        let events = decode_whole(ProviderKind::OpenAiCompatible, &OPENAI_STREAM[..cut_at]);
        assert_eq!(
            events,
            vec![text("Héllo"), StreamEvent::Failed(LlmError::StreamCut)]
        );

        let cut_at = ANTHROPIC_STREAM.find(", 世界").unwrap();
        let events = decode_whole(ProviderKind::Anthropic, &ANTHROPIC_STREAM[..cut_at]);
        assert_eq!(failure(&events), &LlmError::StreamCut);
    }

    #[test]
    fn a_stream_that_said_why_it_stopped_is_whole_even_without_its_terminator() {
        let without_done = OPENAI_STREAM.replace("data: [DONE]\n\n", "");
        assert_eq!(
            decode_whole(ProviderKind::OpenAiCompatible, &without_done).last(),
            Some(&StreamEvent::Finished(StopReason::Complete))
        );
        let without_stop = ANTHROPIC_STREAM.replace(
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            "",
        );
        assert_eq!(
            decode_whole(ProviderKind::Anthropic, &without_stop).last(),
            Some(&StreamEvent::Finished(StopReason::Complete))
        );
    }

    #[test]
    fn a_done_without_its_blank_line_still_ends_the_answer() {
        let body = OPENAI_STREAM.trim_end();
        assert_eq!(
            decode_whole(ProviderKind::OpenAiCompatible, body).last(),
            Some(&StreamEvent::Finished(StopReason::Complete))
        );
    }

    #[test]
    fn an_anthropic_error_after_200_fails_the_answer_as_retryable_overload() {
        let before_stop = ANTHROPIC_STREAM
            .split("event: content_block_stop")
            .next()
            .unwrap();
        let body = format!(
            "{before_stop}event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}}}\n\n"
        );
        let events = decode_whole(ProviderKind::Anthropic, &body);
        assert!(
            events.contains(&text("Grüße")),
            "the text before the error stands"
        );
        let error = failure(&events);
        assert!(
            matches!(error, LlmError::ProviderUnavailable { status: None, .. }),
            "{error:?}"
        );
        assert!(error.is_retryable());
        let message = error.to_string();
        assert!(
            message.contains("overloaded") && message.contains("during the answer"),
            "{message}"
        );
        assert!(
            message.contains("Overloaded"),
            "the provider's words are quoted: {message}"
        );
    }

    #[test]
    fn an_openai_error_object_in_the_stream_fails_the_answer() {
        let body = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Par\"}}]}\n\n",
            "data: {\"error\":{\"message\":\"This model's maximum context length is 8192 tokens.\",\"type\":\"invalid_request_error\",\"code\":\"context_length_exceeded\"}}\n\n",
            "data: [DONE]\n\n",
        );
        let events = decode_whole(ProviderKind::OpenAiCompatible, body);
        assert_eq!(events.first(), Some(&text("Par")));
        assert!(matches!(failure(&events), LlmError::ContextTooLong { .. }));
        assert_eq!(events.len(), 2, "nothing follows a failure: {events:?}");

        // OpenRouter puts an HTTP status in the error's code.
        let body = "data: {\"error\":{\"code\":502,\"message\":\"Provider returned error\"},\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"error\"}]}\n\n";
        let events = decode_whole(ProviderKind::OpenAiCompatible, body);
        assert!(failure(&events).is_retryable());
    }

    #[test]
    fn malformed_json_fails_with_the_problem_named() {
        let body = "data: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\ndata: {not json\n\n";
        let events = decode_whole(ProviderKind::OpenAiCompatible, body);
        assert_eq!(events.first(), Some(&text("ok")));
        let message = failure(&events).to_string();
        assert!(
            message.contains("not valid JSON") && message.contains("{not json"),
            "{message}"
        );

        let events = decode_whole(
            ProviderKind::Anthropic,
            "event: content_block_delta\ndata: {\"type\":\n\n",
        );
        assert!(matches!(failure(&events), LlmError::MalformedStream { .. }));
    }

    #[test]
    fn unknown_anthropic_events_and_other_deltas_are_ignored() {
        let extra = concat!(
            "event: citations_delta_future\ndata: {\"type\":\"brand_new_event\",\"x\":1}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}}\n\n",
        );
        let body = ANTHROPIC_STREAM.replacen("event: ping", &format!("{extra}event: ping"), 1);
        let texts: Vec<StreamEvent> = decode_whole(ProviderKind::Anthropic, &body)
            .into_iter()
            .filter(|event| matches!(event, StreamEvent::Text(_)))
            .collect();
        assert_eq!(texts, vec![text("Grüße"), text(", 世界 [M2]")]);
    }

    #[test]
    fn nothing_after_the_end_is_decoded() {
        let mut stream = ChatStream::new(&request(ProviderKind::OpenAiCompatible, None));
        let events = stream
            .push(b"data: [DONE]\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"late\"}}]}\n\n");
        assert_eq!(events, vec![StreamEvent::Finished(StopReason::Complete)]);
        assert!(stream
            .push(b"data: {\"choices\":[{\"delta\":{\"content\":\"later\"}}]}\n\n")
            .is_empty());
        assert!(stream.finish().is_empty());
    }

    #[test]
    fn a_key_echoed_in_a_stream_error_is_not_shown() {
        let mut stream = ChatStream::new(&request(
            ProviderKind::OpenAiCompatible,
            Some("sk-echo-secret"),
        ));
        let mut events = stream
            .push(b"data: {\"error\":{\"message\":\"bad key sk-echo-secret\",\"code\":401}}\n\n");
        let mut stream = ChatStream::new(&request(
            ProviderKind::OpenAiCompatible,
            Some("sk-echo-secret"),
        ));
        events.extend(stream.push(b"data: sk-echo-secret\n\n"));
        assert_eq!(events.len(), 2);
        for event in events {
            let shown = format!("{event:?} {}", failure(std::slice::from_ref(&event)));
            assert!(!shown.contains("sk-echo-secret"), "{shown}");
        }
    }

    #[test]
    fn other_stop_reasons_are_named_to_the_user() {
        let anthropic = ANTHROPIC_STREAM.replace("end_turn", "refusal");
        assert_eq!(
            decode_whole(ProviderKind::Anthropic, &anthropic).last(),
            Some(&StreamEvent::Finished(StopReason::ContentFilter))
        );
        let openai = OPENAI_STREAM.replace(
            "\"finish_reason\":\"stop\"",
            "\"finish_reason\":\"tool_calls\"",
        );
        let last = decode_whole(ProviderKind::OpenAiCompatible, &openai).pop();
        assert_eq!(
            last,
            Some(StreamEvent::Finished(StopReason::Other(
                "tool_calls".to_owned()
            )))
        );
        assert!(StopReason::Other("tool_calls".to_owned())
            .notice()
            .unwrap()
            .contains("tool_calls"));
    }
}
