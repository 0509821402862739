//! Streamed LLM answers read from a response body in the browser: chunks cut
//! anywhere still give the answer, Stop ends a body that went silent and keeps
//! the text so far, and a server that cannot be reached is explained.

use casebook::core::conversation::{ChatTurn, Role};
use casebook::core::llm::{HttpRequest, LlmError, ProviderKind, ProviderProfile, StopReason};
use casebook::web::llm::{read_chat_body, stream_chat, CallControl, ChatEnd, ChatProgress};
use js_sys::{Array, Function};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::Response;

fn request(base_url: &str) -> HttpRequest {
    let profile = ProviderProfile {
        id: "p".into(),
        name: "Test server".into(),
        kind: ProviderKind::OpenAiCompatible,
        base_url: base_url.into(),
        model: "m".into(),
        temperature: None,
        max_tokens: None,
    };
    profile
        .chat_request(None, &[ChatTurn::new(Role::User, "Hi")])
        .expect("a valid request")
}

/// A response whose body delivers `chunks` (bytes as given), then ends unless
/// `stay_open`.
fn response(chunks: &[&[u8]], stay_open: bool) -> Response {
    let make = Function::new_with_args(
        "chunks, stayOpen",
        "return new Response(new ReadableStream({ start(controller) { \
           for (const chunk of chunks) controller.enqueue(new Uint8Array(chunk)); \
           if (!stayOpen) controller.close(); } }));",
    );
    let chunks: Array = chunks
        .iter()
        .map(|chunk| js_sys::Uint8Array::from(*chunk))
        .collect();
    make.call2(&wasm_bindgen::JsValue::NULL, &chunks, &stay_open.into())
        .expect("a response")
        .unchecked_into()
}

fn event(content: &str) -> String {
    format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{content}\"}}}}]}}\n\n")
}

#[wasm_bindgen_test]
async fn a_body_cut_mid_line_and_mid_character_streams_the_whole_answer() {
    let whole = format!(
        "{}{}data: {{\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\ndata: [DONE]\n\n",
        event("Caf"),
        event("é ☕ [M1]")
    );
    let bytes = whole.as_bytes();
    // Cut inside the first line and between the bytes of "é".
    let e_acute = whole.find('é').expect("é") + 1;
    let chunks = [&bytes[..7], &bytes[7..e_acute], &bytes[e_acute..]];
    let mut text = String::new();
    let end = read_chat_body(
        &response(&chunks, false),
        &request("http://localhost:1/v1"),
        &CallControl::new(),
        &mut |progress| {
            if let ChatProgress::Text(more) = progress {
                text.push_str(&more);
            }
        },
    )
    .await;
    assert_eq!(end, ChatEnd::Finished(StopReason::Complete));
    assert_eq!(text, "Café ☕ [M1]");
}

#[wasm_bindgen_test]
async fn a_body_that_ends_without_its_terminator_is_a_cut_connection() {
    let first = event("partial");
    let end = read_chat_body(
        &response(&[first.as_bytes()], false),
        &request("http://localhost:1/v1"),
        &CallControl::new(),
        &mut |_| {},
    )
    .await;
    assert_eq!(end, ChatEnd::Failed(LlmError::StreamCut));
}

#[wasm_bindgen_test]
async fn stop_ends_a_silent_body_and_keeps_the_text_so_far() {
    let first = event("so far");
    let control = CallControl::new();
    let stopper = control.clone();
    let mut text = String::new();
    let end = read_chat_body(
        &response(&[first.as_bytes()], true),
        &request("http://localhost:1/v1"),
        &control,
        &mut |progress| {
            if let ChatProgress::Text(more) = progress {
                text.push_str(&more);
                // The user presses Stop while the server says nothing more.
                stopper.stop();
            }
        },
    )
    .await;
    assert_eq!(end, ChatEnd::Stopped);
    assert_eq!(text, "so far");
}

#[wasm_bindgen_test]
async fn a_server_that_refuses_the_connection_is_explained_without_retrying() {
    let mut progress = Vec::new();
    let end = stream_chat(
        &request("http://127.0.0.1:9/v1"),
        &CallControl::new(),
        &mut |event| progress.push(event),
    )
    .await;
    match end {
        ChatEnd::Failed(error @ LlmError::Unreachable { .. }) => {
            let message = error.to_string();
            assert!(message.contains("http://127.0.0.1:9/v1"), "{message}");
            assert!(message.contains("Is the server running?"), "{message}");
        }
        other => panic!("expected an unreachable server, got {other:?}"),
    }
    assert!(progress.is_empty(), "{progress:?}");
}
