//! The open conversation: questions as the user typed them, answers as
//! sanitised markdown (re-rendered as they stream), with what happened to each.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::core::conversation::{Message, MessageState, Role};
use crate::core::markdown::{code_blocks, render_markdown};

use super::answer::{AnswerTools, QuestionTools};
use super::session::{Chat, Phase};

#[component]
pub fn Thread() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let ids = move || {
        chat.current.with(|current| {
            current
                .as_ref()
                .map(|c| c.messages.iter().map(|m| m.id.clone()).collect::<Vec<_>>())
                .unwrap_or_default()
        })
    };
    let title = move || chat.current.with(|c| c.as_ref().map(|c| c.title.clone()));

    view! {
        <div class="thread" data-testid="thread" aria-live="polite">
            {move || match title() {
                Some(title) => view! {
                    <h2 class="conversation-title" data-testid="conversation-title">
                        {title}
                        {move || chat.temporary.get().then(|| view! { <span class="badge">"temporary"</span> })}
                    </h2>
                }.into_any(),
                None => view! {
                    <div class="empty-state">
                        <p class="lead">{move || if chat.temporary.get() { "Temporary chat" } else { "Ask anything" }}</p>
                        <p>{move || if chat.temporary.get() {
                            "Nothing is read from your memory or written to it, and this chat is not saved."
                        } else {
                            "Every answer is built from the memories you keep in Casebook and shows which ones it used. \
                             Type “Remember …” or “Forget …” to change what it knows."
                        }}</p>
                    </div>
                }.into_any(),
            }}
            <For each=ids key=|id| id.clone() let:id>
                <MessageView id=id/>
            </For>
        </div>
    }
}

#[component]
fn MessageView(id: String) -> impl IntoView {
    let chat = expect_context::<Chat>();
    // A verdict changes only the feedback controls, which read it themselves:
    // rebuilding the answer for it would drop the status they show and the
    // focus of the button just pressed.
    let message = {
        let id = id.clone();
        Memo::new(move |_| {
            chat.current.with(|current| {
                let mut message = current
                    .as_ref()
                    .and_then(|c| c.messages.iter().find(|m| m.id == id).cloned())?;
                message.feedback = None;
                message.case_id = None;
                Some(message)
            })
        })
    };
    move || {
        message.get().map(|message| match message.role {
            Role::User => view! { <UserMessage message=message/> }.into_any(),
            _ => view! { <AnswerMessage message=message/> }.into_any(),
        })
    }
}

#[component]
fn UserMessage(message: Message) -> impl IntoView {
    let id = message.id.clone();
    view! {
        <article class="message question" data-testid="question" aria-label="Your message">
            <p class="message-text">{message.text.clone()}</p>
            <QuestionTools message_id=id/>
        </article>
    }
}

#[component]
fn AnswerMessage(message: Message) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let id = message.id.clone();
    let live = {
        let id = id.clone();
        Memo::new(move |_| {
            chat.live
                .with(|live| live.as_ref().filter(|l| l.message_id == id).cloned())
        })
    };
    let stored_text = message.text.clone();
    let text = move || match live.get() {
        Some(live) => live.text,
        None => stored_text.clone(),
    };
    let html = {
        let text = text.clone();
        move || render_markdown(&text())
    };
    let copy_text = text.clone();
    let on_click = move |event: leptos::ev::MouseEvent| {
        let Some(button) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .and_then(|element| element.closest(".copy-code").ok().flatten())
        else {
            return;
        };
        let Some(index) = button
            .get_attribute("data-copy-index")
            .and_then(|index| index.parse::<usize>().ok())
        else {
            return;
        };
        let Some(code) = code_blocks(&copy_text()).into_iter().nth(index) else {
            return;
        };
        let clipboard = window().navigator().clipboard();
        let promise = clipboard.write_text(&code);
        leptos::task::spawn_local(async move {
            let copied = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
            button.set_text_content(Some(if copied { "Copied" } else { "Copy failed" }));
        });
    };
    let state = message.state.clone();
    // Until the call starts, the message itself says it is being written.
    let written = state == MessageState::Streaming;
    let streaming = move || written || live.with(Option::is_some);
    view! {
        <article class="message answer" data-testid="answer" aria-label="Answer"
            aria-busy=move || streaming().to_string()>
            {move || live.get().and_then(|live| match live.phase {
                Phase::Preparing if live.text.is_empty() => Some(view! {
                    <p class="muted" data-testid="answer-phase">"Searching your memories and asking the model…"</p>
                }.into_any()),
                Phase::Waiting { reason, until } => Some(view! {
                    <Countdown reason=reason until=until/>
                }.into_any()),
                _ => None,
            })}
            <div class="markdown" data-testid="answer-text" inner_html=html on:click=on_click></div>
            {match state {
                MessageState::Stopped => Some(view! {
                    <p class="answer-status stopped" data-testid="answer-stopped">
                        "Stopped: this answer is incomplete."
                    </p>
                }.into_any()),
                MessageState::Failed { error } => Some(view! {
                    <p class="answer-status error" role="alert" data-testid="answer-error">{error}</p>
                }.into_any()),
                _ => None,
            }}
            {message.notice.clone().map(|notice| view! {
                <p class="answer-status notice" data-testid="answer-notice">{notice}</p>
            })}
            {move || (!streaming()).then(|| view! { <AnswerTools message=message.clone()/> })}
        </article>
    }
}

/// "Retrying in 3 s": counts down to the next attempt.
#[component]
fn Countdown(reason: String, until: f64) -> impl IntoView {
    let now = RwSignal::new(js_sys::Date::now());
    if let Ok(handle) = set_interval_with_handle(
        move || now.set(js_sys::Date::now()),
        std::time::Duration::from_millis(250),
    ) {
        on_cleanup(move || handle.clear());
    }
    let seconds = move || ((until - now.get()) / 1000.0).ceil().max(0.0) as u64;
    view! {
        <div class="answer-status waiting" role="status" data-testid="answer-waiting">
            <p>{reason}</p>
            <p><strong>{move || format!("Trying again in {} s…", seconds())}</strong></p>
        </div>
    }
}
