//! "Preview prompt": exactly what will be sent, part by part. Any part's text
//! can be edited, and a memory removed (the prompt is then composed again
//! without it), before sending.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::chat::history_turns;
use crate::core::compose::{turns_of, ComposedPrompt, PromptSection, SectionKind};
use crate::core::conversation::{ChatTurn, Role};
use crate::core::memory::MemoryId;
use crate::core::protocol::SearchHit;

use super::session::{compose_prompt, Chat, Context, Prepared};

/// What the preview was composed from, to compose it again after a removal.
#[derive(Clone)]
struct Plan {
    context: Context,
    question: String,
    history: Vec<ChatTurn>,
    hits: Vec<SearchHit>,
}

#[derive(Clone)]
struct Shown {
    composed: ComposedPrompt,
    /// Each section's text as the user left it.
    texts: Vec<RwSignal<String>>,
}

fn section_label(kind: &SectionKind) -> String {
    match kind {
        SectionKind::SystemPrompt => "Instructions (system prompt)".to_owned(),
        SectionKind::MemoryRules => "How to use memories".to_owned(),
        SectionKind::Memory { tag, .. } => format!("Memory M{tag}"),
        SectionKind::History { role: Role::User } => "Earlier question".to_owned(),
        SectionKind::History { .. } => "Earlier answer".to_owned(),
        SectionKind::Question => "Your question".to_owned(),
    }
}

#[component]
pub fn PromptPreview(
    question: String,
    on_close: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let plan = StoredValue::new(None::<Plan>);
    let removed = RwSignal::new(Vec::<MemoryId>::new());
    let shown = RwSignal::new(None::<Result<Shown, String>>);
    // The sections' text signals belong to the preview. Created under the
    // owner current at the time (a Remove button's, inside the list of
    // sections), they would be disposed with that list as it is redrawn for
    // them, and their textareas would read disposed signals.
    let owner = StoredValue::new(Owner::current());

    // Composes (again), keeping the user's edits of parts other than memories.
    let recompose = move || {
        let Some(plan) = plan.get_value() else {
            return;
        };
        let edits: Vec<(SectionKind, String)> = match shown.get_untracked() {
            Some(Ok(previous)) => previous
                .composed
                .sections
                .iter()
                .zip(&previous.texts)
                .filter(|(section, _)| !matches!(section.kind, SectionKind::Memory { .. }))
                .map(|(section, text)| (section.kind.clone(), text.get_untracked()))
                .collect(),
            _ => Vec::new(),
        };
        let composed = compose_prompt(
            &plan.context,
            &plan.question,
            &plan.history,
            &plan.hits,
            &removed.get_untracked(),
        );
        let shown_now = composed.map(|composed| {
            let mut unused_edits = edits;
            let texts = composed
                .sections
                .iter()
                .map(|section| {
                    let edited = unused_edits
                        .iter()
                        .position(|(kind, _)| *kind == section.kind)
                        .map(|at| unused_edits.remove(at).1);
                    let text = edited.unwrap_or_else(|| section.text.clone());
                    match owner.get_value() {
                        Some(owner) => owner.with(|| RwSignal::new(text)),
                        None => RwSignal::new(text),
                    }
                })
                .collect();
            Shown { composed, texts }
        });
        shown.set(Some(shown_now));
    };

    {
        let question = question.trim().to_owned();
        // Not cancelled when the preview closes: dropping a pending IndexedDB
        // read makes the browser call a freed callback. A closed preview's
        // state is gone, so the result is dropped instead.
        spawn_local(async move {
            let context = chat.context().await;
            let history = chat.current.with_untracked(|current| {
                current
                    .as_ref()
                    .map(|c| history_turns(&c.messages))
                    .unwrap_or_default()
            });
            let found = chat.retrieve(&context, &question).await;
            if shown.is_disposed() {
                return;
            }
            match found {
                Ok(hits) => {
                    plan.set_value(Some(Plan {
                        context,
                        question,
                        history,
                        hits,
                    }));
                    recompose();
                }
                Err(error) => shown.set(Some(Err(error))),
            }
        });
    }

    let send = {
        let on_close = on_close.clone();
        move |_| {
            let Some(Ok(current)) = shown.get_untracked() else {
                return;
            };
            let sections: Vec<PromptSection> = current
                .composed
                .sections
                .iter()
                .zip(&current.texts)
                .map(|(section, text)| PromptSection {
                    text: text.get_untracked(),
                    ..section.clone()
                })
                .collect();
            let question = sections
                .iter()
                .find(|section| section.kind == SectionKind::Question)
                .map(|section| section.text.clone())
                .unwrap_or_default();
            let prepared = Prepared {
                turns: turns_of(&sections),
                used: current.composed.used.clone(),
            };
            on_close();
            chat.send(question, Some(prepared));
        }
    };
    let close = on_close.clone();

    view! {
        <section class="prompt-preview card" aria-labelledby="preview-title" data-testid="prompt-preview"
            on:keydown=move |event: leptos::ev::KeyboardEvent| {
                if event.key() == "Escape" { on_close(); }
            }>
            <h2 id="preview-title">"Prompt preview"</h2>
            <p class="hint">"This is exactly what will be sent. Edit any part, or remove a memory, then send."</p>
            {move || match shown.get() {
                None => view! { <p class="muted">"Searching your memories…"</p> }.into_any(),
                Some(Err(error)) => view! { <p class="error" role="alert">{error}</p> }.into_any(),
                Some(Ok(current)) => {
                    let tokens = current.composed.estimated_tokens;
                    let left_out = current.composed.left_out.len();
                    let used = current.composed.used.len();
                    view! {
                        <p class="muted small" data-testid="preview-summary">
                            {format!("About {tokens} tokens; {used} memor{} in, {left_out} left out.",
                                if used == 1 { "y" } else { "ies" })}
                        </p>
                        <ol class="preview-sections">
                            {current.composed.sections.iter().zip(current.texts.iter().copied()).enumerate()
                                .map(|(index, (section, text))| {
                                    let label = section_label(&section.kind);
                                    let field = format!("preview-section-{index}");
                                    let memory_id = match &section.kind {
                                        SectionKind::Memory { memory_id, .. } => Some(memory_id.clone()),
                                        _ => None,
                                    };
                                    let rows = section.text.lines().count().clamp(2, 12);
                                    view! {
                                        <li class="preview-section" data-testid="preview-section">
                                            <label for=field.clone()>{label.clone()}</label>
                                            <textarea id=field rows=rows bind:value=text></textarea>
                                            {memory_id.map(|id| view! {
                                                <button type="button" on:click=move |_| {
                                                    removed.update(|removed| removed.push(id.clone()));
                                                    recompose();
                                                }>{format!("Remove {label}")}</button>
                                            })}
                                        </li>
                                    }
                                }).collect_view()}
                        </ol>
                    }.into_any()
                }
            }}
            <div class="actions">
                <button type="button" class="primary" on:click=send
                    disabled=move || !matches!(shown.get(), Some(Ok(_))) || chat.is_busy()>"Send this prompt"</button>
                <button type="button" on:click=move |_| close()>"Cancel"</button>
            </div>
        </section>
    }
}
