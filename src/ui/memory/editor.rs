//! One memory, in place: its form (saved by the worker, which re-embeds and
//! reindexes in the same transaction), where it came from, how it was used, and
//! its full history with word diffs and restore.
//!
//! Nothing typed is lost: an unsaved draft stays when another memory is opened
//! and comes back with its memory; a save refused because the memory changed
//! elsewhere keeps the draft and says so.

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::list::{kind_class, kind_from_value, outcome_from_value, outcome_value};
use super::{format_date, format_date_time, now, Browse, Editing};
use crate::core::changes::MemoryChange;
use crate::core::diff::{word_diff, DiffOp};
use crate::core::editing::{
    changed_by_label, describe_change, outcome_label, restore_version, undo_change, MemoryDraft,
};
use crate::core::memory::{Kind, Memory, MemoryId, Outcome, Revision, Source, DEFAULT_POOL};
use crate::core::protocol::ChangeOutcome;
use crate::ui::services::Services;
use crate::ui::undo::Undo;
use crate::web::random_u64;

type History = (Option<Memory>, Vec<Revision>);

/// The panel beside the list; shows the memory being edited, if any.
#[component]
pub fn EditorPanel() -> impl IntoView {
    let browse = expect_context::<Browse>();
    move || {
        browse.editing.get().map(|editing| {
            let id = match editing {
                Editing::New => None,
                Editing::Existing(id) => Some(id),
            };
            view! { <Editor id=id/> }
        })
    }
}

#[component]
fn Editor(id: Option<MemoryId>) -> impl IntoView {
    let services = expect_context::<Services>();
    let undo = expect_context::<Undo>();
    let browse = expect_context::<Browse>();
    let history = RwSignal::new(None::<Result<History, String>>);
    let draft = RwSignal::new(None::<MemoryDraft>);
    let status = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let confirm_purge = RwSignal::new(false);
    let heading = NodeRef::<html::H2>::new();
    let draft_key = id.clone();
    // Where the focus was before the panel opened, to return it on close.
    let opener = StoredValue::new_local(document().active_element());
    let is_new = id.is_none();

    let stored = move || {
        history.with(|history| match history {
            Some(Ok((memory, _))) => memory.clone(),
            _ => None,
        })
    };
    let dirty = move || match (draft.get(), stored()) {
        (Some(draft), Some(memory)) => draft != MemoryDraft::of(&memory),
        (Some(draft), None) => draft != MemoryDraft::blank(&draft.pool),
        (None, _) => false,
    };

    // Starts from the draft left unsaved last time, if any.
    if let Some(kept) = browse
        .drafts
        .with_value(|drafts| drafts.get(&draft_key).cloned())
    {
        draft.set(Some(kept));
    } else if id.is_none() {
        let pool = browse
            .pool
            .get_untracked()
            .unwrap_or_else(|| DEFAULT_POOL.to_owned());
        draft.set(Some(MemoryDraft::blank(&pool)));
    }

    let load_id = id.clone();
    Effect::new(move |_| {
        browse.refresh.track();
        undo.undone.track();
        let Some(id) = load_id.clone() else {
            history.set(Some(Ok((None, Vec::new()))));
            return;
        };
        spawn_local(async move {
            let loaded = match services.worker() {
                Ok(worker) => worker.memory_history(id).await.map_err(|e| e.to_string()),
                Err(error) => Err(error.to_string()),
            };
            // The form may have been closed meanwhile: then there is nothing to fill.
            if draft.is_disposed() {
                return;
            }
            let previous = stored();
            if let Ok((Some(memory), _)) = &loaded {
                // The form follows the stored memory unless the user has changed it.
                let untouched = match (draft.get_untracked(), &previous) {
                    (None, _) => true,
                    (Some(draft), Some(previous)) => draft == MemoryDraft::of(previous),
                    (Some(_), None) => false,
                };
                if untouched {
                    draft.set(Some(MemoryDraft::of(memory)));
                }
            }
            history.set(Some(loaded));
        });
    });
    Effect::new(move |_| {
        if let Some(heading) = heading.get() {
            let _ = heading.focus();
        }
    });
    on_cleanup({
        let key = draft_key.clone();
        move || {
            let unsaved = draft.try_get_untracked().flatten().filter(|draft| {
                match history.try_with_untracked(|h| match h {
                    Some(Ok((Some(memory), _))) => Some(memory.clone()),
                    _ => None,
                }) {
                    Some(Some(memory)) => *draft != MemoryDraft::of(&memory),
                    _ => *draft != MemoryDraft::blank(&draft.pool),
                }
            });
            browse.drafts.update_value(|drafts| match unsaved {
                Some(draft) => {
                    drafts.insert(key.clone(), draft);
                }
                None => {
                    drafts.remove(&key);
                }
            });
        }
    });

    let row_id = StoredValue::new(id.clone());
    let close = move || {
        browse.editing.set(None);
        // Saving draws the memory's row anew, so the row that opened the editor
        // may be gone: then the focus goes to the row drawn in its place.
        let opener = opener.get_value().filter(|opener| opener.is_connected());
        let row = || {
            let id = row_id.get_value()?;
            let quoted = id.as_str().replace('\\', "\\\\").replace('"', "\\\"");
            document()
                .query_selector(&format!(".memory-row[data-id=\"{quoted}\"]"))
                .ok()
                .flatten()
        };
        if let Some(target) = opener.or_else(row) {
            if let Ok(target) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(target) {
                let _ = target.focus();
            }
        }
    };

    // Applies one change and offers to undo it.
    let apply = move |change: MemoryChange, label: &'static str| {
        let Ok(worker) = services.worker() else {
            status.set(Some(Err("The background worker is not running.".into())));
            return;
        };
        let before = stored();
        busy.set(true);
        status.set(None);
        spawn_local(async move {
            let outcome = worker.apply(vec![change]).await;
            busy.set(false);
            match outcome.map(|outcomes| outcomes.into_iter().next()) {
                Ok(Some(ChangeOutcome::Saved { memory })) => {
                    undo.offer(
                        label,
                        undo_change(before.as_ref(), Some(&memory))
                            .into_iter()
                            .collect(),
                    );
                    status.set(Some(Ok(format!("{label}."))));
                    browse.drafts.update_value(|drafts| {
                        drafts.remove(&before.as_ref().map(|m| m.id.clone()));
                    });
                    draft.set(Some(MemoryDraft::of(&memory)));
                    if before.is_none() {
                        // The new memory opens as itself (its history, its actions).
                        browse.drafts.update_value(|drafts| {
                            drafts.remove(&None);
                        });
                        browse
                            .editing
                            .set(Some(Editing::Existing(memory.id.clone())));
                    }
                    browse.changed();
                }
                Ok(Some(ChangeOutcome::Purged { .. })) => {
                    browse.changed();
                    browse.editing.set(None);
                }
                Ok(Some(ChangeOutcome::Failed { message, .. })) => status.set(Some(Err(message))),
                Ok(Some(ChangeOutcome::Cancelled { .. }) | None) => {
                    status.set(Some(Err("Nothing was saved.".into())))
                }
                Err(error) => status.set(Some(Err(format!("Nothing was saved: {error}")))),
            }
        });
    };
    let save = move || {
        let Some(current_draft) = draft.get_untracked() else {
            return;
        };
        let current = stored();
        let time = now();
        match current_draft.to_change(current.as_ref(), MemoryId::new(time, random_u64()), time) {
            Ok(change) => apply(
                change,
                if current.is_some() {
                    "Saved the memory"
                } else {
                    "Added a memory"
                },
            ),
            Err(error) => status.set(Some(Err(error.to_string()))),
        }
    };

    let field = move |read: fn(&MemoryDraft) -> String, write: fn(&mut MemoryDraft, String)| {
        (
            move || draft.with(|d| d.as_ref().map(read).unwrap_or_default()),
            move |event| {
                let value = event_target_value(&event);
                draft.update(|d| {
                    if let Some(d) = d {
                        write(d, value)
                    }
                })
            },
        )
    };
    let (text_value, text_input) = field(|d| d.text.clone(), |d, v| d.text = v);
    let (question_value, question_input) = field(|d| d.question.clone(), |d, v| d.question = v);
    let (answer_value, answer_input) = field(|d| d.answer.clone(), |d, v| d.answer = v);
    let (correction_value, correction_input) =
        field(|d| d.correction.clone(), |d, v| d.correction = v);
    let is_case = move || draft.with(|d| d.as_ref().is_some_and(|d| d.kind == Kind::Case));
    let trashed = move || stored().is_some_and(|memory| memory.trashed_at.is_some());

    let title = if is_new { "New memory" } else { "Memory" };
    view! {
        <aside class="memory-editor" aria-labelledby="editor-title" data-testid="memory-editor"
            on:keydown=move |event: KeyboardEvent| match event.key().as_str() {
                "Escape" => {
                    event.prevent_default();
                    close();
                }
                "Enter" if event.ctrl_key() || event.meta_key() => {
                    event.prevent_default();
                    save();
                }
                _ => {}
            }>
            <div class="editor-heading">
                <h2 id="editor-title" tabindex="-1" node_ref=heading>{title}</h2>
                <button type="button" class="link-button" aria-label="Close the memory" title="Close (Escape)"
                    on:click=move |_| close()>"Close"</button>
            </div>
            // The id is what evaluation sets name the memories they expect by.
            {row_id.get_value().map(|id| view! {
                <p class="muted memory-id">"Id: "<code data-testid="memory-id">{id.0}</code></p>
            })}
            {move || match history.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <p class="error" role="alert">{error}</p> }.into_any(),
                Some(Ok((None, _))) if !is_new => view! {
                    <p class="error" role="alert">"This memory no longer exists (it was deleted for good)."</p>
                }.into_any(),
                Some(Ok(_)) => ().into_any(),
            }}
            <Show when=move || trashed()>
                <p class="trash-note" data-testid="in-trash">"This memory is in the trash: it is never used in answers until you restore it."</p>
            </Show>
            <Show when=move || draft.with(Option::is_some) && history.with(|h| matches!(h, Some(Ok((Some(_), _)))) || is_new)>
                <form class="editor-form" on:submit=move |event| {
                    event.prevent_default();
                    save();
                }>
                    <div class="form-row">
                        <label for="edit-kind">"Kind"</label>
                        <select id="edit-kind" prop:value=move || draft.with(|d| d.as_ref().map(|d| kind_class(d.kind)).unwrap_or(""))
                            on:change=move |event| {
                                if let Some(kind) = kind_from_value(&event_target_value(&event)) {
                                    draft.update(|d| if let Some(d) = d {
                                        if kind == Kind::Case && d.question.is_empty() {
                                            d.question = d.text.clone();
                                        } else if kind != Kind::Case && d.kind == Kind::Case && d.text.trim().is_empty() {
                                            d.text = d.question.clone();
                                        }
                                        d.kind = kind;
                                    });
                                }
                            }>
                            {Kind::ALL.into_iter().map(|kind| view! { <option value=kind_class(kind)>{kind.label()}</option> }).collect_view()}
                        </select>
                        <label for="edit-pool">"Pool"</label>
                        <select id="edit-pool" prop:value=move || draft.with(|d| d.as_ref().map(|d| d.pool.clone()).unwrap_or_default())
                            on:change=move |event| {
                                let pool = event_target_value(&event);
                                draft.update(|d| if let Some(d) = d { d.pool = pool });
                            }>
                            {move || browse.pools.get().into_iter().map(|pool| view! {
                                <option value=pool.id.clone()>{pool.name.clone()}</option>
                            }).collect_view()}
                        </select>
                        <label class="checkbox">
                            <input type="checkbox" id="edit-pinned"
                                prop:checked=move || draft.with(|d| d.as_ref().is_some_and(|d| d.pinned))
                                on:change=move |event| {
                                    let pinned = event_target_checked(&event);
                                    draft.update(|d| if let Some(d) = d { d.pinned = pinned });
                                }/>
                            "Pinned"
                        </label>
                    </div>
                    <Show when=move || !is_case()>
                        <label for="edit-text">"Text"</label>
                        <textarea id="edit-text" rows="6" prop:value=text_value on:input=text_input></textarea>
                    </Show>
                    <Show when=is_case>
                        <label for="edit-question">"Question"</label>
                        <textarea id="edit-question" rows="2" prop:value=question_value on:input=question_input></textarea>
                        <label for="edit-answer">"Answer"</label>
                        <textarea id="edit-answer" rows="4" prop:value=answer_value on:input=answer_input></textarea>
                        <label for="edit-outcome">"Outcome"</label>
                        <select id="edit-outcome" prop:value=move || draft.with(|d| d.as_ref().map(|d| outcome_value(d.outcome)).unwrap_or(""))
                            on:change=move |event| {
                                if let Some(outcome) = outcome_from_value(&event_target_value(&event)) {
                                    draft.update(|d| if let Some(d) = d { d.outcome = outcome });
                                }
                            }>
                            {[Outcome::Worked, Outcome::DidNotWork, Outcome::Unrated].into_iter().map(|outcome| view! {
                                <option value=outcome_value(outcome)>{outcome_label(outcome)}</option>
                            }).collect_view()}
                        </select>
                        <label for="edit-correction">"Correction (what the answer should have been)"</label>
                        <textarea id="edit-correction" rows="3" prop:value=correction_value on:input=correction_input></textarea>
                    </Show>
                    <div class="editor-actions">
                        <button type="submit" class="primary" data-testid="save-memory"
                            disabled=move || busy.get() || (stored().is_some() && !dirty())
                            title="Save (Ctrl+Enter)">{move || if stored().is_some() { "Save" } else { "Add" }}</button>
                        <Show when=dirty>
                            <button type="button" on:click=move |_| {
                                draft.set(Some(match stored() {
                                    Some(memory) => MemoryDraft::of(&memory),
                                    None => MemoryDraft::blank(&draft.get_untracked().map(|d| d.pool).unwrap_or_else(|| DEFAULT_POOL.to_owned())),
                                }));
                                status.set(None);
                            }>"Discard changes"</button>
                            <span class="unsaved" data-testid="unsaved">"Unsaved changes"</span>
                        </Show>
                        {move || stored().map(|memory| if memory.trashed_at.is_some() {
                            let (restore_id, purge_id) = (memory.id.clone(), memory.id.clone());
                            view! {
                                <button type="button" data-testid="restore-memory" disabled=move || busy.get()
                                    on:click=move |_| apply(MemoryChange::Restore {
                                        id: restore_id.clone(),
                                        changed_by: crate::core::memory::ChangedBy::User,
                                    }, "Restored a memory")>"Restore"</button>
                                <button type="button" class="danger" disabled=move || busy.get()
                                    on:click=move |_| confirm_purge.set(true)>"Delete for good"</button>
                                <Show when=move || confirm_purge.get()>
                                    <span class="confirm inline" role="alertdialog" aria-label="Confirm deleting for good">
                                        "Its history goes too; this cannot be undone. "
                                        <button type="button" class="danger" on:click={
                                            let id = purge_id.clone();
                                            move |_| {
                                                confirm_purge.set(false);
                                                apply(MemoryChange::Purge { id: id.clone() }, "Deleted a memory for good");
                                            }
                                        }>"Delete for good"</button>
                                        <button type="button" on:click=move |_| confirm_purge.set(false)>"Keep it"</button>
                                    </span>
                                </Show>
                            }.into_any()
                        } else {
                            let (trash_id, revision) = (memory.id.clone(), memory.revision);
                            view! {
                                <button type="button" class="danger" data-testid="trash-memory" disabled=move || busy.get()
                                    on:click=move |_| apply(MemoryChange::Trash {
                                        id: trash_id.clone(),
                                        base_revision: revision,
                                        changed_by: crate::core::memory::ChangedBy::User,
                                    }, "Moved a memory to the trash")>"Move to trash"</button>
                            }.into_any()
                        })}
                    </div>
                    {move || status.get().map(|status| match status {
                        Ok(text) => view! { <p class="save-status" role="status" data-testid="editor-status">{text}</p> }.into_any(),
                        Err(text) => view! { <p class="error" role="alert" data-testid="editor-status">{text}</p> }.into_any(),
                    })}
                </form>
            </Show>
            {move || history.get().and_then(Result::ok).and_then(|(memory, revisions)| {
                let memory = memory?;
                Some(view! {
                    <Provenance memory=memory.clone()/>
                    <Usage memory=memory.clone()/>
                    <HistoryList memory=memory revisions=revisions apply=Callback::new(move |change: MemoryChange| {
                        apply(change, "Restored an earlier version")
                    })/>
                })
            })}
        </aside>
    }
}

/// Where the memory came from, with a link there.
#[component]
fn Provenance(memory: Memory) -> impl IntoView {
    let encode = |text: &str| String::from(js_sys::encode_uri_component(text));
    let origin = match &memory.source {
        Source::Manual => view! { <span>"Written by you."</span> }.into_any(),
        Source::Conversation {
            conversation_id,
            message_id,
        } => {
            let mut href = format!("/?conversation={}", encode(conversation_id));
            if let Some(message) = message_id {
                href.push('#');
                href.push_str(&encode(message));
            }
            view! { <span>"From " <a href=href data-testid="source-link">"a message in a conversation"</a> "."</span> }.into_any()
        }
        Source::Extraction { conversation_id } => {
            let href = format!("/?conversation={}", encode(conversation_id));
            view! { <span>"Extracted automatically from " <a href=href data-testid="source-link">"a conversation"</a> "."</span> }.into_any()
        }
        Source::Document {
            document_id,
            chunk_index,
        } => {
            let href = format!("/memory?document={}", encode(document_id));
            let part = chunk_index + 1;
            view! { <span>"Part " {part} " of " <a href=href data-testid="source-link">"a document"</a> "."</span> }.into_any()
        }
        Source::Import { file_name } => {
            view! { <span>"Imported from the file “" {file_name.clone()} "”."</span> }.into_any()
        }
    };
    view! {
        <section class="editor-section" aria-labelledby="provenance-title">
            <h3 id="provenance-title">"Where it came from"</h3>
            <p data-testid="provenance">{origin} " Added " {format_date_time(memory.created_at)} "."</p>
        </section>
    }
}

/// How the memory has been used in answers.
#[component]
fn Usage(memory: Memory) -> impl IntoView {
    let used = match (memory.use_count, memory.last_used_at) {
        (0, _) => "Not used in an answer yet.".to_owned(),
        (count, last) => format!(
            "Put into {count} {}{}.",
            if count == 1 { "prompt" } else { "prompts" },
            last.map(|time| format!(", last on {}", format_date_time(time)))
                .unwrap_or_default()
        ),
    };
    let cited = format!(
        "Cited in answers that worked: {}; that did not work: {}.",
        memory.cited_worked, memory.cited_did_not_work
    );
    view! {
        <section class="editor-section" aria-labelledby="usage-title">
            <h3 id="usage-title">"How it has been used"</h3>
            <p data-testid="usage">{used} " " {cited}</p>
        </section>
    }
}

/// Every earlier version, newest first, each with what changed and a diff.
#[component]
fn HistoryList(
    memory: Memory,
    revisions: Vec<Revision>,
    apply: Callback<MemoryChange>,
) -> impl IntoView {
    let mut changes: Vec<(Revision, Memory)> = Vec::with_capacity(revisions.len());
    for (index, revision) in revisions.iter().enumerate() {
        let after = revisions
            .get(index + 1)
            .map_or_else(|| memory.clone(), |next| next.before.clone());
        changes.push((revision.clone(), after));
    }
    changes.reverse();
    let first_version = revisions
        .first()
        .map_or(memory.revision, |r| r.before.revision);
    let created = memory.created_at;
    let current = memory.clone();
    view! {
        <section class="editor-section" aria-labelledby="history-title">
            <h3 id="history-title">"History"</h3>
            <ol class="history" data-testid="history">
                {changes.into_iter().map(|(revision, after)| {
                    let before = revision.before.clone();
                    let what = describe_change(&before, &after).join(", ");
                    let spans = if before.text != after.text { word_diff(&before.text, &after.text) } else { Vec::new() };
                    let restore = restore_version(&current, &before);
                    let version = before.revision;
                    view! {
                        <li class="history-entry" data-testid="history-entry">
                            <p class="history-what">
                                <strong>{what}</strong>
                                " " {changed_by_label(revision.changed_by)} ", " {format_date_time(revision.changed_at)}
                                <span class="muted">{format!(" (version {} → {})", version, after.revision)}</span>
                            </p>
                            {(!spans.is_empty()).then(|| view! {
                                <p class="diff" aria-label="Changes to the text">
                                    {spans.into_iter().map(|span| match span.op {
                                        DiffOp::Same => view! { <span>{span.text}</span> }.into_any(),
                                        DiffOp::Removed => view! { <del>{span.text}</del> }.into_any(),
                                        DiffOp::Added => view! { <ins>{span.text}</ins> }.into_any(),
                                    }).collect_view()}
                                </p>
                            })}
                            <button type="button" class="link-button" data-testid="restore-version"
                                on:click=move |_| apply.run(restore.clone())>
                                {format!("Restore version {version}")}
                            </button>
                        </li>
                    }
                }).collect_view()}
                <li class="history-entry" data-testid="history-entry">
                    <p class="history-what">{format!("Version {first_version}: added {}", format_date(created))}</p>
                </li>
            </ol>
        </section>
    }
}
