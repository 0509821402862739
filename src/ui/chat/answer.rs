//! Under each answer: what to do next (retry, regenerate, feedback, remember)
//! and the memories the model was given, with their scores and whether it
//! cited them; each can be opened, edited, pinned or excluded from here.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::chat::describe_scores;
use crate::core::conversation::{Message, MessageState, UsedMemory};
use crate::core::learn::feedback::Feedback;
use crate::core::memory::Outcome;

use super::learning;
use super::session::Chat;

/// What happened to the last action, next to the controls that caused it.
type Status = RwSignal<Option<Result<String, String>>>;

fn status_text(status: Status) -> impl Fn() -> String + Copy {
    move || match status.get() {
        None => String::new(),
        Some(Ok(text)) | Some(Err(text)) => text,
    }
}

#[component]
pub fn QuestionTools(message_id: String) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let status: Status = RwSignal::new(None);
    let remember = move |_| {
        let id = message_id.clone();
        spawn_local(async move {
            let result = learning::remember_message(chat, id).await;
            status.set(Some(result.map(|()| "Remembered".to_owned())));
        });
    };
    view! {
        {move || (!chat.temporary.get()).then(|| view! {
            <div class="message-tools">
                <button type="button" class="quiet" on:click=remember.clone()>"Remember this"</button>
                <span class="tool-status" role="status">{status_text(status)}</span>
            </div>
        })}
    }
}

#[component]
pub fn AnswerTools(message: Message) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let id = message.id.clone();
    let failed = matches!(message.state, MessageState::Failed { .. });
    let has_text = !message.text.trim().is_empty();
    let status: Status = RwSignal::new(None);
    let correcting = RwSignal::new(false);
    let correction = RwSignal::new(String::new());
    let busy = RwSignal::new(false);

    let verdict = {
        let id = id.clone();
        move |feedback: Feedback| {
            let id = id.clone();
            busy.set(true);
            spawn_local(async move {
                let corrected = feedback.correction.is_some();
                let result = learning::give_feedback(chat, id, feedback).await;
                busy.set(false);
                if result.is_ok() && corrected {
                    correcting.set(false);
                }
                status.set(Some(result.map(|()| {
                    if corrected {
                        "Correction saved: it will be used for similar questions.".to_owned()
                    } else {
                        "Thanks: saved as a case.".to_owned()
                    }
                })));
            });
        }
    };
    // Read here rather than from `message`, which the thread keeps without
    // them so that a verdict does not rebuild the answer.
    let verdict_state = {
        let id = id.clone();
        Memo::new(move |_| {
            chat.current.with(|current| {
                current
                    .as_ref()
                    .and_then(|c| c.messages.iter().find(|m| m.id == id))
                    .map(|m| (m.feedback, m.case_id.is_some()))
                    .unwrap_or_default()
            })
        })
    };
    let pressed = move |outcome: Outcome| {
        verdict_state
            .with(|(feedback, _)| *feedback == Some(outcome))
            .to_string()
    };
    let case_saved = move || verdict_state.with(|(_, saved)| *saved);
    let retry = {
        let id = id.clone();
        move |_| chat.retry(id.clone())
    };
    let edit = {
        let id = id.clone();
        move |_| chat.edit_question(id.clone())
    };
    let remember = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            spawn_local(async move {
                let result = learning::remember_message(chat, id).await;
                status.set(Some(result.map(|()| "Remembered".to_owned())));
            });
        }
    };
    let suggestions = {
        let id = id.clone();
        move || chat.suggestions.with(|all| all.get(&id).copied())
    };
    let worked = verdict.clone();
    let did_not_work = verdict.clone();
    let save_correction = verdict.clone();
    let used = message.used.clone();
    let cited = message.cited.clone();
    let correction_field = format!("correction-{id}");

    view! {
        <div class="answer-tools">
            {(failed || !has_text).then(|| view! {
                <div class="actions">
                    <button type="button" class="primary" on:click=retry.clone()
                        disabled=move || chat.live.with(Option::is_some)>"Retry"</button>
                    <button type="button" on:click=edit>"Edit question"</button>
                </div>
            })}
            {(has_text && !failed).then(|| view! {
                <div class="actions">
                    <button type="button" class="quiet" on:click=retry
                        disabled=move || chat.live.with(Option::is_some)>"Regenerate"</button>
                    {move || (!chat.temporary.get()).then(|| {
                        let worked = worked.clone();
                        let did_not_work = did_not_work.clone();
                        let remember = remember.clone();
                        view! {
                            <div class="feedback" role="group" aria-label="Feedback on this answer">
                                <button type="button" aria-pressed=move || pressed(Outcome::Worked)
                                    disabled=move || busy.get()
                                    on:click=move |_| worked(Feedback::worked())>"Worked"</button>
                                <button type="button" aria-pressed=move || pressed(Outcome::DidNotWork)
                                    disabled=move || busy.get()
                                    on:click=move |_| did_not_work(Feedback::did_not_work())>"Did not work"</button>
                                <button type="button" aria-expanded=move || correcting.get().to_string()
                                    on:click=move |_| correcting.update(|open| *open = !*open)>"Correct this"</button>
                                <button type="button" class="quiet" on:click=remember>"Remember this"</button>
                            </div>
                        }
                    })}
                </div>
            })}
            {move || correcting.get().then(|| {
                let save_correction = save_correction.clone();
                let correction_field = correction_field.clone();
                view! {
                    <form class="stacked correction" on:submit=move |event| {
                        event.prevent_default();
                        save_correction(Feedback::corrected(correction.get_untracked()));
                    }>
                        <label for=correction_field.clone()>"What should the answer have been?"</label>
                        <textarea id=correction_field.clone() rows="3" bind:value=correction autofocus
                            on:keydown=move |event: leptos::ev::KeyboardEvent| {
                                if event.key() == "Escape" { correcting.set(false); }
                            }></textarea>
                        <div class="actions">
                            <button type="submit" class="primary" disabled=move || busy.get()>"Save correction"</button>
                            <button type="button" on:click=move |_| correcting.set(false)>"Cancel"</button>
                        </div>
                    </form>
                }
            })}
            <span class="tool-status" role="status" data-testid="feedback-status">{status_text(status)}</span>
            {move || case_saved().then(|| view! { <span class="muted small" data-testid="case-saved">"Saved as a case."</span> })}
            {move || suggestions().map(|count| view! {
                <a class="badge suggestions" href="/inbox" data-testid="suggestions">
                    {format!("{count} memory suggestion{}", if count == 1 { "" } else { "s" })}
                </a>
            })}
            {(!used.is_empty()).then(|| view! { <UsedMemories message_id=id.clone() used=used cited=cited/> })}
        </div>
    }
}

#[component]
fn UsedMemories(message_id: String, used: Vec<UsedMemory>, cited: Vec<u32>) -> impl IntoView {
    let count = used.len();
    let cited_count = cited.len();
    view! {
        <details class="used-memories" data-testid="used-memories">
            <summary>
                {format!("{count} memor{} given to the model · {cited_count} cited",
                    if count == 1 { "y" } else { "ies" })}
            </summary>
            <ol>
                {used.into_iter().map(|memory| {
                    let is_cited = cited.contains(&memory.tag);
                    view! { <UsedMemoryView message_id=message_id.clone() memory=memory cited=is_cited/> }
                }).collect_view()}
            </ol>
        </details>
    }
}

#[component]
fn UsedMemoryView(message_id: String, memory: UsedMemory, cited: bool) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let id = memory.memory_id.clone();
    let editing = RwSignal::new(false);
    let text = RwSignal::new(memory.text.clone());
    let status: Status = RwSignal::new(None);
    let excluded = {
        let id = id.clone();
        Memo::new(move |_| {
            chat.current
                .with(|c| c.as_ref().is_some_and(|c| c.excluded.contains(&id)))
        })
    };
    let save_edit = {
        let id = id.clone();
        move || {
            let id = id.clone();
            spawn_local(async move {
                let result = learning::edit_memory(chat, id, text.get_untracked()).await;
                if result.is_ok() {
                    editing.set(false);
                }
                status.set(Some(result.map(|()| "Saved".to_owned())));
            });
        }
    };
    let pin = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            spawn_local(async move {
                let result = learning::toggle_pin(chat, id).await;
                status.set(Some(result.map(|pinned| {
                    if pinned { "Pinned" } else { "Unpinned" }.to_owned()
                })));
            });
        }
    };
    let exclude = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            spawn_local(async move {
                let result = learning::exclude(chat, id).await;
                status.set(Some(result.map(|()| {
                    "Excluded from this conversation: regenerate to answer without it.".to_owned()
                })));
            });
        }
    };
    let regenerate = move |_| chat.retry(message_id.clone());
    let tag = memory.tag;
    let scores = describe_scores(&memory.explanation);
    let href = format!("/memory?id={}", id.as_str());
    let shown_text = memory.text.clone();
    let editor_id = format!("edit-{}-{tag}", id.as_str());
    view! {
        <li class="used-memory" class:cited=cited data-testid="used-memory">
            <div class="used-memory-head">
                <span class="tag">{format!("[M{tag}]")}</span>
                {cited.then(|| view! { <span class="badge cited" data-testid="cited">"cited"</span> })}
                {move || excluded.get().then(|| view! { <span class="badge">"excluded"</span> })}
                <span class="scores muted small" data-testid="scores">{scores}</span>
            </div>
            {move || if editing.get() {
                let save_edit = save_edit.clone();
                let editor_id = editor_id.clone();
                view! {
                    <form class="stacked" on:submit=move |event| { event.prevent_default(); save_edit(); }>
                        <label for=editor_id.clone()>{format!("Text of memory M{tag}")}</label>
                        <textarea id=editor_id rows="3" bind:value=text autofocus
                            on:keydown=move |event: leptos::ev::KeyboardEvent| {
                                if event.key() == "Escape" { editing.set(false); }
                            }></textarea>
                        <div class="actions">
                            <button type="submit" class="primary">"Save memory"</button>
                            <button type="button" on:click=move |_| editing.set(false)>"Cancel"</button>
                        </div>
                    </form>
                }.into_any()
            } else {
                view! { <p class="used-memory-text">{shown_text.clone()}</p> }.into_any()
            }}
            <div class="actions small">
                <a href=href.clone()>{format!("Open M{tag}")}</a>
                <button type="button" class="quiet" on:click=move |_| editing.set(true)>{format!("Edit M{tag}")}</button>
                <button type="button" class="quiet" on:click=pin>{format!("Pin M{tag}")}</button>
                {
                    let exclude = exclude.clone();
                    let regenerate = regenerate.clone();
                    move || if excluded.get() {
                        let regenerate = regenerate.clone();
                        view! {
                            <button type="button" class="quiet" on:click=regenerate
                                disabled=move || chat.live.with(Option::is_some)>"Regenerate without it"</button>
                        }.into_any()
                    } else {
                        view! { <button type="button" class="quiet" on:click=exclude.clone()>{format!("Exclude M{tag}")}</button> }.into_any()
                    }
                }
                <span class="tool-status" role="status">{status_text(status)}</span>
            </div>
        </li>
    }
}
