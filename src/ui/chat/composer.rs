//! Where the user writes: Enter sends, Shift+Enter starts a new line; Stop
//! while an answer streams; "Preview prompt" shows what will be sent.

use leptos::prelude::*;

use super::learning;
use super::preview::PromptPreview;
use super::session::Chat;

#[component]
pub fn Composer() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let previewing = RwSignal::new(false);
    let input = NodeRef::<leptos::html::Textarea>::new();

    let send = move || {
        chat.send(chat.draft.get_untracked(), None);
        if let Some(input) = input.get_untracked() {
            let _ = input.focus();
        }
    };
    let on_keydown = move |event: leptos::ev::KeyboardEvent| {
        // Enter while an input method composes a word confirms the word.
        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
            event.prevent_default();
            if !chat.is_busy() {
                send();
            }
        }
    };
    let empty = move || chat.draft.with(|draft| draft.trim().is_empty());
    let can_toggle_temporary = move || chat.current.with(Option::is_none);
    let many_assistants = move || chat.assistants.with(|all| all.len() > 1);

    view! {
        <div class="composer-area">
            {move || chat.notice.get().map(|notice| {
                let undo = notice.undo.clone();
                view! {
                    <div class=if notice.is_error { "notice error" } else { "notice" }
                        role=if notice.is_error { "alert" } else { "status" } data-testid="chat-notice">
                        <span>{notice.text.clone()}</span>
                        {undo.map(|undo| view! {
                            <button type="button" on:click=move |_| learning::undo(chat, undo.clone())>"Undo"</button>
                        })}
                        <button type="button" class="quiet" aria-label="Dismiss"
                            on:click=move |_| chat.notice.set(None)>"×"</button>
                    </div>
                }
            })}
            {move || previewing.get().then(|| view! {
                <PromptPreview question=chat.draft.get_untracked() on_close=move || previewing.set(false)/>
            })}
            <form class="composer" on:submit=move |event| { event.prevent_default(); send(); }>
                <label for="composer-input" class="visually-hidden">"Message"</label>
                <textarea id="composer-input" node_ref=input rows="3" bind:value=chat.draft
                    placeholder="Ask a question, or type “Remember …” / “Forget …” (Enter sends, Shift+Enter for a new line)"
                    on:keydown=on_keydown></textarea>
                <div class="composer-actions">
                    {move || if chat.is_busy() {
                        view! {
                            <button type="button" class="danger" on:click=move |_| chat.stop()>"Stop"</button>
                        }.into_any()
                    } else {
                        view! {
                            <button type="submit" class="primary" disabled=empty>"Send"</button>
                        }.into_any()
                    }}
                    <button type="button" disabled=move || empty() || chat.is_busy()
                        on:click=move |_| previewing.set(true)>"Preview prompt"</button>
                    {move || can_toggle_temporary().then(|| view! {
                        <label class="checkbox">
                            <input type="checkbox" bind:checked=chat.temporary/>
                            "Temporary chat (no memory, not saved)"
                        </label>
                    })}
                    {move || (can_toggle_temporary() && many_assistants()).then(|| view! {
                        <label for="assistant-choice">"Assistant"</label>
                        <select id="assistant-choice" prop:value=move || chat.assistant_choice.get()
                            on:change=move |event| chat.assistant_choice.set(event_target_value(&event))>
                            {move || chat.assistants.get().into_iter().map(|assistant| view! {
                                <option value=assistant.id.clone()>{assistant.name.clone()}</option>
                            }).collect_view()}
                        </select>
                    })}
                </div>
            </form>
        </div>
    }
}
