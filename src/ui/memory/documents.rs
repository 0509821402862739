//! Documents: a file (text, Markdown, HTML) or pasted text is cut into chunks
//! (`core::documents`), each of which becomes a memory the chat can retrieve;
//! the list of added documents, each removable with all its chunks.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{format_date_time, memories_count, now, Browse};
use crate::core::changes::MemoryChange;
use crate::core::documents::{
    chunk_memories, extract_pasted_text, extract_text, ChunkOptions, Chunker, DocumentRecord,
    ExtractedDocument, MAX_DOCUMENT_BYTES,
};
use crate::core::editing::BulkEdit;
use crate::core::memory::{ChangedBy, MemoryId, DEFAULT_POOL};
use crate::core::protocol::ChangeOutcome;
use crate::core::schema::stores;
use crate::ui::bank_changes::new_memory_id;
use crate::ui::chat::sleep_ms;
use crate::ui::services::Services;
use crate::web::{chosen_file, file_bytes};

/// Chunks cut between two updates of the progress bar (and two chances to cancel).
const CHUNKS_PER_STEP: usize = 64;

/// What adding a document is doing now.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// Cutting the text into chunks: bytes done of all.
    Cutting { done: usize, total: usize },
    /// Embedding and saving the chunks, in the worker (request `request`).
    Saving { request: u32, done: u64, total: u64 },
    /// Taking back what was saved before Cancel.
    Undoing,
}

#[derive(Debug, Clone, PartialEq)]
struct Adding {
    name: String,
    step: Step,
}

#[derive(Clone, Copy)]
struct Documents {
    services: Services,
    browse: Browse,
    /// Added documents, newest first (`None` while reading).
    list: RwSignal<Option<Result<Vec<DocumentRecord>, String>>>,
    adding: RwSignal<Option<Adding>>,
    cancelled: StoredValue<bool>,
    /// The pool new documents go into.
    pool: RwSignal<String>,
    message: RwSignal<Option<Result<String, String>>>,
    /// A document being removed (its buttons wait).
    removing: RwSignal<Option<String>>,
}

impl Documents {
    async fn load(self) {
        let Some(db) = self.services.ready_db() else {
            return;
        };
        let list = db
            .all::<DocumentRecord>(stores::DOCUMENTS)
            .await
            .map(|mut documents| {
                documents.sort_by_key(|document| std::cmp::Reverse(document.added_at));
                documents
            })
            .map_err(|error| format!("The documents could not be read: {error}"));
        self.list.set(Some(list));
    }

    fn set_step(&self, step: Step) {
        self.adding.update(|adding| {
            if let Some(adding) = adding {
                adding.step = step;
            }
        });
    }

    /// Cuts `document` into chunks, saves them as memories and records the
    /// document; Cancel at any point leaves nothing of it behind.
    async fn add(self, name: String, document: ExtractedDocument) {
        let Ok(worker) = self.services.worker() else {
            self.message
                .set(Some(Err("The background worker is not running.".into())));
            return;
        };
        self.message.set(None);
        self.cancelled.set_value(false);
        let total = document.text.len();
        self.adding.set(Some(Adding {
            name: name.clone(),
            step: Step::Cutting { done: 0, total },
        }));
        // Cut a slice at a time, giving the page a frame between slices.
        let mut chunker = Chunker::new(&document, ChunkOptions::default());
        let mut chunks = Vec::new();
        loop {
            let before = chunks.len();
            chunks.extend(chunker.by_ref().take(CHUNKS_PER_STEP));
            self.set_step(Step::Cutting {
                done: chunker.bytes_done(),
                total,
            });
            if chunks.len() - before < CHUNKS_PER_STEP {
                break;
            }
            sleep_ms(0).await;
            if self.cancelled.get_value() {
                self.adding.set(None);
                self.message
                    .set(Some(Ok(format!("Stopped: nothing of {name} was added."))));
                return;
            }
        }
        let document_id = format!("d{}", new_memory_id().0.trim_start_matches('m'));
        let pool = self.pool.get_untracked();
        let memories = chunk_memories(&document_id, &chunks, &pool, now(), new_memory_id);
        let changes = memories
            .into_iter()
            .map(|memory| MemoryChange::Save {
                memory,
                base_revision: None,
                changed_by: ChangedBy::User,
            })
            .collect();
        let adding = self.adding;
        let (request, saved) = worker.apply_changes(changes, move |done, total| {
            adding.update(|adding| {
                if let Some(Adding {
                    step:
                        Step::Saving {
                            done: d, total: t, ..
                        },
                    ..
                }) = adding
                {
                    *d = done;
                    *t = total;
                }
            })
        });
        self.set_step(Step::Saving {
            request,
            done: 0,
            total: chunks.len() as u64,
        });
        if self.cancelled.get_value() {
            let _ = worker.cancel(request).await;
        }
        let outcomes = match saved.await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                self.adding.set(None);
                self.message
                    .set(Some(Err(format!("{name} could not be added: {error}"))));
                self.browse.changed();
                return;
            }
        };
        let saved_ids: Vec<MemoryId> = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                ChangeOutcome::Saved { memory } => Some(memory.id.clone()),
                _ => None,
            })
            .collect();
        let cancelled = outcomes
            .iter()
            .any(|outcome| matches!(outcome, ChangeOutcome::Cancelled { .. }));
        let first_failure = outcomes.iter().find_map(|outcome| match outcome {
            ChangeOutcome::Failed { message, .. } => Some(message.clone()),
            _ => None,
        });
        if cancelled || self.cancelled.get_value() {
            self.set_step(Step::Undoing);
            let purge = saved_ids
                .iter()
                .map(|id| MemoryChange::Purge { id: id.clone() })
                .collect();
            let undone = worker.apply(purge).await;
            self.adding.set(None);
            self.message.set(Some(match undone {
                Ok(_) => Ok(format!("Stopped: nothing of {name} was added.")),
                Err(error) => Err(format!(
                    "Stopped, but {} of {name} already saved could not be taken back ({error}); \
                     find them with the source filter \"document\".",
                    memories_count(saved_ids.len())
                )),
            }));
            self.browse.changed();
            return;
        }
        let record = DocumentRecord {
            id: document_id,
            name: name.clone(),
            format: document.format,
            text_bytes: total,
            added_at: now(),
            pool,
            memory_ids: saved_ids,
        };
        let recorded = match self.services.ready_db() {
            Some(db) => db
                .put(stores::DOCUMENTS, &record)
                .await
                .map_err(|error| error.to_string()),
            None => Err("the store is not open".into()),
        };
        self.adding.set(None);
        let parts = record.memory_ids.len();
        self.message.set(Some(match (recorded, first_failure) {
            (Err(error), _) => Err(format!(
                "The chunks of {name} were saved, but the document could not be listed ({error})."
            )),
            (Ok(()), Some(failure)) => Err(format!(
                "Added {name} as {}, but {} could not be saved: {failure}",
                memories_count(parts),
                memories_count(chunks.len() - parts)
            )),
            (Ok(()), None) => Ok(format!(
                "Added {name}: {} the chat can now find.",
                memories_count(parts)
            )),
        }));
        if let Some(replaced) =
            (document.replaced_characters > 0).then_some(document.replaced_characters)
        {
            self.message.update(|message| {
                if let Some(Ok(text)) = message {
                    text.push_str(&format!(
                        " {replaced} characters could not be read in its encoding and show as �."
                    ));
                }
            });
        }
        self.list.update(|list| {
            if let Some(Ok(list)) = list {
                list.insert(0, record);
            }
        });
        self.browse.changed();
    }

    /// Moves the document's chunks to the trash and forgets the document.
    async fn remove(self, record: DocumentRecord) {
        let (Ok(worker), Some(db)) = (self.services.worker(), self.services.ready_db()) else {
            return;
        };
        self.removing.set(Some(record.id.clone()));
        let (_, trashed) =
            worker.edit_memories(record.memory_ids.clone(), BulkEdit::Trash, |_, _| {});
        let outcome = match trashed.await {
            Ok(_) => db
                .delete(stores::DOCUMENTS, &record.id)
                .await
                .map_err(|error| error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        self.removing.set(None);
        match outcome {
            Ok(()) => {
                self.list.update(|list| {
                    if let Some(Ok(list)) = list {
                        list.retain(|document| document.id != record.id);
                    }
                });
                self.message.set(Some(Ok(format!(
                    "Removed {}: its {} are in the trash (restore them there, or empty it to delete them for good).",
                    record.name,
                    memories_count(record.memory_ids.len())
                ))));
            }
            Err(error) => self.message.set(Some(Err(format!(
                "{} could not be removed: {error}",
                record.name
            )))),
        }
        self.browse.changed();
    }
}

#[component]
pub fn DocumentsPanel() -> impl IntoView {
    let services = expect_context::<Services>();
    let browse = expect_context::<Browse>();
    let documents = Documents {
        services,
        browse,
        list: RwSignal::new(None),
        adding: RwSignal::new(None),
        cancelled: StoredValue::new(false),
        pool: RwSignal::new(DEFAULT_POOL.to_owned()),
        message: RwSignal::new(None),
        removing: RwSignal::new(None),
    };
    Effect::new(move |_| {
        services.db.track();
        spawn_local(documents.load());
    });
    let busy = move || documents.adding.with(Option::is_some);
    let title = RwSignal::new(String::new());
    let pasted = RwSignal::new(String::new());

    let on_file = move |event: leptos::ev::Event| {
        let Some(file) = chosen_file(&event) else {
            return;
        };
        let name = file.name();
        if file.size() > MAX_DOCUMENT_BYTES as f64 {
            documents.message.set(Some(Err(format!(
                "{name} is larger than {} MB; split it into smaller files.",
                MAX_DOCUMENT_BYTES / 1_000_000
            ))));
            return;
        }
        spawn_local(async move {
            let bytes = match file_bytes(&file).await {
                Ok(bytes) => bytes,
                Err(error) => {
                    documents
                        .message
                        .set(Some(Err(format!("{name} could not be read: {error}"))));
                    return;
                }
            };
            match extract_text(&name, &bytes) {
                Ok(document) => documents.add(name, document).await,
                Err(error) => documents.message.set(Some(Err(error.to_string()))),
            }
        });
    };
    let add_pasted = move || {
        let text = pasted.get_untracked();
        let name = Some(title.get_untracked().trim().to_owned())
            .filter(|title| !title.is_empty())
            .unwrap_or_else(|| "Pasted text".to_owned());
        match extract_pasted_text(&text) {
            Ok(document) => spawn_local(async move {
                documents.add(name, document).await;
                if documents
                    .message
                    .with_untracked(|m| matches!(m, Some(Ok(text)) if text.starts_with("Added")))
                {
                    pasted.set(String::new());
                    title.set(String::new());
                }
            }),
            Err(error) => documents.message.set(Some(Err(error.to_string()))),
        }
    };
    let cancel = move || {
        documents.cancelled.set_value(true);
        if let (Some(Step::Saving { request, .. }), Ok(worker)) = (
            documents
                .adding
                .with_untracked(|a| a.as_ref().map(|a| a.step.clone())),
            services.worker(),
        ) {
            spawn_local(async move {
                let _ = worker.cancel(request).await;
            });
        }
    };

    view! {
        <div class="documents">
            <fieldset class="card">
                <legend>"Add a document"</legend>
                <p class="hint">
                    "Text, Markdown or HTML. It is cut into parts that follow its headings and paragraphs; "
                    "each part becomes a memory the chat finds like any other. PDFs cannot be read: paste their text instead."
                </p>
                <label for="document-pool">"Into the pool"</label>
                <select id="document-pool" prop:value=move || documents.pool.get()
                    on:change=move |event| documents.pool.set(event_target_value(&event))>
                    {move || browse.pools.get().into_iter().map(|pool| view! {
                        <option value=pool.id.clone()>{pool.name.clone()}</option>
                    }).collect_view()}
                </select>
                <label for="document-file">"File"</label>
                <input id="document-file" type="file" data-testid="document-file"
                    accept=".txt,.md,.markdown,.html,.htm,text/plain,text/markdown,text/html"
                    disabled=busy on:change=on_file/>
                <label for="document-title">"or paste text, with a title"</label>
                <input id="document-title" type="text" placeholder="Title" prop:value=move || title.get()
                    on:input=move |event| title.set(event_target_value(&event)) disabled=busy/>
                <textarea id="document-text" rows="5" aria-label="Text to add" prop:value=move || pasted.get()
                    on:input=move |event| pasted.set(event_target_value(&event)) disabled=busy></textarea>
                <div class="actions">
                    <button type="button" class="primary" disabled=move || busy() || pasted.with(|p| p.trim().is_empty())
                        on:click=move |_| add_pasted()>"Add text"</button>
                </div>
                {move || documents.adding.get().map(|adding| {
                    let (label, done, total) = match adding.step {
                        Step::Cutting { done, total } => (format!("Cutting {} into parts…", adding.name), done as f64, total as f64),
                        Step::Saving { done, total, .. } => (
                            format!("Reading and saving the parts of {}: {done} of {total}", adding.name),
                            done as f64,
                            total as f64,
                        ),
                        Step::Undoing => ("Taking back what was saved…".to_owned(), 0.0, 1.0),
                    };
                    view! {
                        <div class="document-progress" role="status" data-testid="document-progress">
                            <progress max=total.max(1.0) value=done aria-label="Adding the document"></progress>
                            <span>{label}</span>
                            <button type="button" on:click=move |_| cancel()>"Cancel"</button>
                        </div>
                    }
                })}
                {move || documents.message.get().map(|message| match message {
                    Ok(text) => view! { <p role="status" data-testid="document-message">{text}</p> }.into_any(),
                    Err(text) => view! { <p class="error" role="alert" data-testid="document-message">{text}</p> }.into_any(),
                })}
            </fieldset>
            <section class="card" aria-labelledby="documents-title">
                <h2 id="documents-title">"Documents"</h2>
                {move || match documents.list.get() {
                    None => view! { <p class="hint">"Reading…"</p> }.into_any(),
                    Some(Err(error)) => view! { <p class="error">{error}</p> }.into_any(),
                    Some(Ok(list)) if list.is_empty() => view! { <p class="hint">"No documents added yet."</p> }.into_any(),
                    Some(Ok(list)) => view! {
                        <ul class="document-list" data-testid="document-list">
                            {list.into_iter().map(|record| {
                                let id = record.id.clone();
                                let summary = format!(
                                    "{} · {} · {} · {}",
                                    format_date_time(record.added_at),
                                    memories_count(record.memory_ids.len()),
                                    size_label(record.text_bytes),
                                    browse.pool_name(&record.pool)
                                );
                                let name = record.name.clone();
                                view! {
                                    <li id=format!("document-{id}")>
                                        <strong>{name.clone()}</strong>
                                        <span class="hint">{summary}</span>
                                        <button type="button" class="danger"
                                            aria-label=format!("Remove {name}")
                                            disabled=move || busy() || documents.removing.get().is_some()
                                            on:click=move |_| spawn_local(documents.remove(record.clone()))>"Remove"</button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }}
            </section>
        </div>
    }
}

/// "12 KB", "1.4 MB".
fn size_label(bytes: usize) -> String {
    if bytes < 1_000_000 {
        format!("{} KB", bytes.div_ceil(1000))
    } else {
        format!("{:.1} MB", bytes as f64 / 1_000_000.0)
    }
}
