//! The list of memories (or of the trash): search, filters, sort, a virtualised
//! list that stays fast at 100k memories, multi-select and bulk actions.
//!
//! Only the rows in view (plus a few either side) are in the DOM; they are
//! absolutely placed in a spacer as tall as the whole list. Rows come from the
//! worker a page at a time as they scroll into view, so neither the page nor the
//! DOM ever holds the whole memory.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use leptos::ev::{KeyboardEvent, MouseEvent};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::editor::EditorPanel;
use super::{format_date, memories_count, Browse, Editing, SearchMode, Tab};
use crate::core::editing::{outcome_label, BulkEdit};
use crate::core::listing::{ListQuery, SortOrder, SourceKind};
use crate::core::memory::{Kind, Memory, MemoryId, Outcome};
use crate::core::protocol::ChangeOutcome;
use crate::ui::services::{BankState, Services};
use crate::ui::undo::Undo;

/// Every row has this height (CSS keeps it), so positions are computed, not measured.
const ROW_HEIGHT: f64 = 64.0;
/// Rows fetched per request.
const PAGE_SIZE: usize = 100;
/// Rows rendered beyond the visible ones, so fast scrolling shows no gaps.
const OVERSCAN: usize = 6;
/// Results of a search by meaning (ranked; not paged).
const RANKED_RESULTS: usize = 200;
/// Typing pauses this long before the list follows.
const SEARCH_DELAY: Duration = Duration::from_millis(250);

/// The rows known so far for the current query.
#[derive(Clone, Default)]
struct Rows {
    /// Counts queries; answers to an older one are dropped.
    epoch: u64,
    /// How many rows match (`None` until the worker said).
    total: Option<usize>,
    pages: HashMap<usize, Vec<Memory>>,
    requested: HashSet<usize>,
    /// A search by meaning: all its results, best first.
    ranked: Option<Vec<Memory>>,
    error: Option<String>,
}

impl Rows {
    fn len(&self) -> usize {
        match &self.ranked {
            Some(ranked) => ranked.len(),
            None => self.total.unwrap_or(0),
        }
    }

    fn get(&self, index: usize) -> Option<&Memory> {
        match &self.ranked {
            Some(ranked) => ranked.get(index),
            None => self.pages.get(&(index / PAGE_SIZE))?.get(index % PAGE_SIZE),
        }
    }
}

/// A running bulk action.
#[derive(Clone, Copy, PartialEq)]
struct Running {
    request: u32,
    done: u64,
    total: u64,
}

#[component]
pub fn Browser() -> impl IntoView {
    let services = expect_context::<Services>();
    let undo = expect_context::<Undo>();
    let browse = expect_context::<Browse>();

    let rows = RwSignal::new(Rows::default());
    let current_query = StoredValue::new(ListQuery::default());
    let scroll_top = RwSignal::new(0.0f64);
    let viewport = RwSignal::new(480.0f64);
    let active = RwSignal::new(0usize);
    let anchor = RwSignal::new(None::<usize>);
    let list_ref = NodeRef::<html::Div>::new();
    let bulk_message = RwSignal::new(None::<Result<String, String>>);
    let running = RwSignal::new(None::<Running>);
    let confirm_purge = RwSignal::new(None::<Vec<MemoryId>>);

    let visible_range = move || {
        let len = rows.with(Rows::len);
        let first = (scroll_top.get() / ROW_HEIGHT).floor() as usize;
        let shown = (viewport.get() / ROW_HEIGHT).ceil() as usize + 1;
        let start = first.saturating_sub(OVERSCAN).min(len);
        let end = (first + shown + OVERSCAN).min(len);
        (start, end)
    };

    let fetch_page = move |page: usize| {
        let (epoch, query) = (rows.with_untracked(|r| r.epoch), current_query.get_value());
        rows.update(|r| {
            r.requested.insert(page);
        });
        spawn_local(async move {
            let query = ListQuery {
                offset: page * PAGE_SIZE,
                limit: PAGE_SIZE,
                ..query
            };
            let result = match services.worker() {
                Ok(worker) => worker.list_memories(query).await.map_err(|e| e.to_string()),
                Err(error) => Err(error.to_string()),
            };
            rows.update(|r| {
                if r.epoch != epoch {
                    return;
                }
                match result {
                    Ok(page_of_rows) => {
                        r.total = Some(page_of_rows.total);
                        r.pages.insert(page, page_of_rows.memories);
                        r.error = None;
                    }
                    Err(error) => {
                        r.requested.remove(&page);
                        r.error = Some(error);
                    }
                }
            });
        });
    };

    // Fetches the pages of the rows in view that are not there yet.
    let ensure_visible = move || {
        if rows.with_untracked(|r| r.ranked.is_some()) {
            return;
        }
        let (start, end) = untrack(visible_range);
        let last = end.max(start + 1) - 1;
        for page in start / PAGE_SIZE..=last / PAGE_SIZE {
            let wanted = rows.with_untracked(|r| {
                !r.requested.contains(&page) && (page == 0 || page * PAGE_SIZE < r.len())
            });
            if wanted {
                fetch_page(page);
            }
        }
    };

    let reload = move |query: ListQuery, meaning: Option<String>, new_query: bool| {
        let epoch = rows.with_untracked(|r| r.epoch) + 1;
        rows.update(|r| {
            r.epoch = epoch;
            r.requested.clear();
            r.ranked = None;
            if new_query {
                r.pages.clear();
                r.total = None;
            }
        });
        if new_query {
            if let Some(list) = list_ref.get_untracked() {
                list.set_scroll_top(0);
            }
            scroll_top.set(0.0);
            active.set(0);
            anchor.set(None);
        }
        current_query.set_value(query.clone());
        match meaning {
            None => ensure_visible(),
            Some(text) => spawn_local(async move {
                let result = match services.worker() {
                    Ok(worker) => worker
                        .search(text, RANKED_RESULTS, query.filter.clone())
                        .await
                        .map_err(|e| e.to_string()),
                    Err(error) => Err(error.to_string()),
                };
                rows.update(|r| {
                    if r.epoch != epoch {
                        return;
                    }
                    match result {
                        Ok(results) => {
                            let ranked: Vec<Memory> = results
                                .hits
                                .into_iter()
                                .map(|hit| hit.memory)
                                .filter(|memory| query.matches(memory, ""))
                                .collect();
                            r.total = Some(ranked.len());
                            r.ranked = Some(ranked);
                            r.error = None;
                        }
                        Err(error) => r.error = Some(error),
                    }
                });
            }),
        }
    };

    // The bank's counts (not its embedding progress) say when the list is stale.
    let bank_counts = Memo::new(move |_| match services.bank_state.get() {
        BankState::Ready(status) => Some((status.memories, status.trashed)),
        _ => None,
    });
    Effect::new(move |previous: Option<(ListQuery, Option<String>)>| {
        let key = (browse.query(), browse.meaning_search());
        // Read, not only tracked: a memo that was never computed never hears of changes.
        bank_counts.get();
        browse.refresh.track();
        undo.undone.track();
        let new_query = previous.as_ref() != Some(&key);
        let (query, meaning) = key.clone();
        untrack(|| reload(query, meaning, new_query));
        key
    });
    Effect::new(move |_| {
        if let Some(list) = list_ref.get() {
            viewport.set(f64::from(list.client_height()));
        }
    });

    let scroll_to_row = move |index: usize| {
        let Some(list) = list_ref.get_untracked() else {
            return;
        };
        let top = index as f64 * ROW_HEIGHT;
        let view_top = scroll_top.get_untracked();
        let height = viewport.get_untracked();
        let target = if top < view_top {
            Some(top)
        } else if top + ROW_HEIGHT > view_top + height {
            Some(top + ROW_HEIGHT - height)
        } else {
            None
        };
        if let Some(target) = target {
            list.set_scroll_top(target as i32);
            scroll_top.set(target);
            ensure_visible();
        }
    };
    let focus_row = move |index: usize| {
        active.set(index);
        scroll_to_row(index);
        request_animation_frame(move || {
            if let Some(row) = document().get_element_by_id(&format!("memory-row-{index}")) {
                if let Ok(row) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(row) {
                    let _ = row.focus();
                }
            }
        });
    };

    let toggle = move |id: MemoryId| {
        browse.selected.update(|selected| {
            if !selected.remove(&id) {
                selected.insert(id);
            }
        });
    };
    // Shift+click or Shift+Space: selects every row from the anchor to `index`.
    let select_range = move |index: usize| {
        let from = anchor.get_untracked().unwrap_or(active.get_untracked());
        let (low, high) = (from.min(index), from.max(index));
        anchor.set(Some(index));
        let loaded: Option<Vec<MemoryId>> = rows.with_untracked(|r| {
            (low..=high)
                .map(|row| r.get(row).map(|memory| memory.id.clone()))
                .collect()
        });
        match loaded {
            Some(ids) => browse.selected.update(|selected| selected.extend(ids)),
            None => {
                let query = ListQuery {
                    offset: low,
                    limit: high - low + 1,
                    ..current_query.get_value()
                };
                spawn_local(async move {
                    let Ok(worker) = services.worker() else {
                        return;
                    };
                    match worker.list_memories(query).await {
                        Ok(page) => browse.selected.update(|selected| {
                            selected.extend(page.memories.into_iter().map(|memory| memory.id))
                        }),
                        Err(error) => bulk_message.set(Some(Err(error.to_string()))),
                    }
                });
            }
        }
    };
    let select_all = move || {
        if let Some(ids) = rows.with_untracked(|r| {
            r.ranked
                .as_ref()
                .map(|ranked| ranked.iter().map(|memory| memory.id.clone()).collect())
        }) {
            browse.selected.set(ids);
            return;
        }
        let query = current_query.get_value();
        spawn_local(async move {
            let Ok(worker) = services.worker() else {
                return;
            };
            match worker.memory_ids(query).await {
                Ok(ids) => browse.selected.set(ids.into_iter().collect()),
                Err(error) => bulk_message.set(Some(Err(error.to_string()))),
            }
        });
    };
    let open = move |id: MemoryId| browse.editing.set(Some(Editing::Existing(id)));

    let run_bulk = move |edit: BulkEdit, ids: Vec<MemoryId>| {
        let Ok(worker) = services.worker() else {
            bulk_message.set(Some(Err("The background worker is not running.".into())));
            return;
        };
        if ids.is_empty() {
            return;
        }
        bulk_message.set(None);
        let (request, done) =
            worker.edit_memories(ids.clone(), edit.clone(), move |done, total| {
                running.update(|running| {
                    if let Some(running) = running {
                        running.done = done;
                        running.total = total;
                    }
                })
            });
        running.set(Some(Running {
            request,
            done: 0,
            total: ids.len() as u64,
        }));
        spawn_local(async move {
            match done.await {
                Ok(edited) => {
                    let mut succeeded = 0;
                    let mut failures = Vec::new();
                    let mut cancelled = 0;
                    let mut still_selected = HashSet::new();
                    for outcome in &edited.outcomes {
                        match outcome {
                            ChangeOutcome::Saved { .. } | ChangeOutcome::Purged { .. } => {
                                succeeded += 1
                            }
                            ChangeOutcome::Failed { id, message } => {
                                failures.push(message.clone());
                                still_selected.insert(id.clone());
                            }
                            ChangeOutcome::Cancelled { id } => {
                                cancelled += 1;
                                still_selected.insert(id.clone());
                            }
                        }
                    }
                    let label = edit.done_label(succeeded);
                    undo.offer(label.clone(), edited.undo);
                    let mut message = format!("{label}.");
                    if cancelled > 0 {
                        message.push_str(&format!(
                            " Stopped before {}; they are still selected.",
                            memories_count(cancelled)
                        ));
                    }
                    bulk_message.set(Some(match failures.first() {
                        None => Ok(message),
                        Some(first) => Err(format!(
                            "{message} {} could not be changed: {first}",
                            memories_count(failures.len())
                        )),
                    }));
                    browse.selected.set(still_selected);
                }
                Err(error) => bulk_message.set(Some(Err(error.to_string()))),
            }
            running.set(None);
            browse.changed();
        });
    };
    let cancel_bulk = move || {
        if let (Some(current), Ok(worker)) = (running.get_untracked(), services.worker()) {
            spawn_local(async move {
                let _ = worker.cancel(current.request).await;
            });
        }
    };
    let selected_ids =
        move || -> Vec<MemoryId> { browse.selected.get_untracked().into_iter().collect() };
    let empty_trash = move || {
        let Ok(worker) = services.worker() else {
            return;
        };
        spawn_local(async move {
            let query = ListQuery {
                trash: true,
                ..ListQuery::default()
            };
            match worker.memory_ids(query).await {
                Ok(ids) if ids.is_empty() => {}
                Ok(ids) => confirm_purge.set(Some(ids)),
                Err(error) => bulk_message.set(Some(Err(error.to_string()))),
            }
        });
    };

    let on_list_keydown = move |event: KeyboardEvent| {
        let len = rows.with_untracked(Rows::len);
        if len == 0 {
            return;
        }
        let current = active.get_untracked().min(len - 1);
        let page = (viewport.get_untracked() / ROW_HEIGHT).floor().max(1.0) as usize;
        let target = match event.key().as_str() {
            "ArrowDown" => Some((current + 1).min(len - 1)),
            "ArrowUp" => Some(current.saturating_sub(1)),
            "PageDown" => Some((current + page).min(len - 1)),
            "PageUp" => Some(current.saturating_sub(page)),
            "Home" => Some(0),
            "End" => Some(len - 1),
            _ => None,
        };
        if let Some(target) = target {
            event.prevent_default();
            focus_row(target);
            if event.shift_key() {
                select_range(target);
            }
            return;
        }
        match event.key().as_str() {
            " " => {
                event.prevent_default();
                if event.shift_key() {
                    select_range(current);
                } else if let Some(id) =
                    rows.with_untracked(|r| r.get(current).map(|m| m.id.clone()))
                {
                    toggle(id);
                    anchor.set(Some(current));
                }
            }
            "Enter" => {
                if let Some(id) = rows.with_untracked(|r| r.get(current).map(|m| m.id.clone())) {
                    event.prevent_default();
                    open(id);
                }
            }
            "Escape" if !browse.selected.with_untracked(HashSet::is_empty) => {
                event.prevent_default();
                browse.selected.set(HashSet::new());
            }
            "a" | "A" if event.ctrl_key() || event.meta_key() => {
                event.prevent_default();
                select_all();
            }
            _ => {}
        }
    };

    let in_trash = move || browse.tab.get() == Tab::Trash;
    let filtered = move || {
        browse.kind.get().is_some()
            || browse.pool.get().is_some()
            || browse.outcome.get().is_some()
            || browse.pinned.get().is_some()
            || browse.source.get().is_some()
            || !browse.created_from.get().is_empty()
            || !browse.created_until.get().is_empty()
            || !browse.search.get().trim().is_empty()
    };
    let move_target = RwSignal::new(String::new());

    view! {
        <div class="memory-browser" class:editing=move || browse.editing.get().is_some()>
            <div class="memory-main">
                <SearchAndFilters/>
                <div class="list-actions">
                    <p class="list-count" role="status" data-testid="list-count">
                        {move || rows.with(|r| match (r.total, &r.error) {
                            (_, Some(error)) => error.clone(),
                            (None, None) => "Loading…".to_owned(),
                            (Some(total), None) => match (&r.ranked, in_trash()) {
                                (Some(_), _) => format!("{} found by meaning, best first", memories_count(total)),
                                (None, true) => format!("{} in the trash", memories_count(total)),
                                (None, false) => memories_count(total),
                            },
                        })}
                    </p>
                    <Show when=move || !in_trash()>
                        <button type="button" class="primary" data-testid="add-memory"
                            on:click=move |_| browse.editing.set(Some(Editing::New))>"Add a memory"</button>
                    </Show>
                    <Show when=in_trash>
                        <button type="button" data-testid="empty-trash"
                            disabled=move || rows.with(|r| r.total.unwrap_or(0) == 0) || running.get().is_some()
                            on:click=move |_| empty_trash()>"Empty the trash"</button>
                    </Show>
                </div>
                {move || confirm_purge.get().map(|ids| {
                    let count = ids.len();
                    let purge = ids.clone();
                    view! {
                        <div class="confirm" role="alertdialog" aria-labelledby="confirm-purge-text" data-testid="confirm-purge">
                            <p id="confirm-purge-text">
                                {format!("Delete {} for good? Their history goes too; this cannot be undone.", memories_count(count))}
                            </p>
                            <button type="button" class="danger" on:click=move |_| {
                                confirm_purge.set(None);
                                run_bulk(BulkEdit::Purge, purge.clone());
                            }>"Delete for good"</button>
                            <button type="button" on:click=move |_| confirm_purge.set(None)>"Keep them"</button>
                        </div>
                    }
                })}
                <Show when=move || !browse.selected.with(HashSet::is_empty) || running.get().is_some() || bulk_message.get().is_some()>
                    <div class="bulk-bar" role="region" aria-label="Selected memories" data-testid="bulk-bar">
                        <Show when=move || !browse.selected.with(HashSet::is_empty)>
                            <span class="bulk-count" data-testid="selected-count">
                                {move || format!("{} selected", browse.selected.with(HashSet::len))}
                            </span>
                            <button type="button" on:click=move |_| select_all()>
                                {move || format!("Select all {}", rows.with(Rows::len))}
                            </button>
                            <button type="button" on:click=move |_| browse.selected.set(HashSet::new())>"Clear selection"</button>
                            <Show when=move || !in_trash()>
                                <button type="button" disabled=move || running.get().is_some()
                                    on:click=move |_| run_bulk(BulkEdit::Pin { pinned: true }, selected_ids())>"Pin"</button>
                                <button type="button" disabled=move || running.get().is_some()
                                    on:click=move |_| run_bulk(BulkEdit::Pin { pinned: false }, selected_ids())>"Unpin"</button>
                                <label class="inline-label" for="bulk-pool">"Pool"</label>
                                <select id="bulk-pool" on:change=move |ev| move_target.set(event_target_value(&ev))
                                    prop:value=move || move_target.get()>
                                    <option value="">"Choose a pool…"</option>
                                    {move || browse.pools.get().into_iter().map(|pool| view! {
                                        <option value=pool.id.clone()>{pool.name.clone()}</option>
                                    }).collect_view()}
                                </select>
                                <button type="button" disabled=move || running.get().is_some() || move_target.get().is_empty()
                                    on:click=move |_| run_bulk(BulkEdit::Move { pool: move_target.get_untracked() }, selected_ids())>"Move"</button>
                                <button type="button" disabled=move || running.get().is_some() || move_target.get().is_empty()
                                    on:click=move |_| run_bulk(BulkEdit::Copy { pool: move_target.get_untracked() }, selected_ids())>"Copy"</button>
                                <button type="button" class="danger" data-testid="bulk-trash" disabled=move || running.get().is_some()
                                    on:click=move |_| run_bulk(BulkEdit::Trash, selected_ids())>"Move to trash"</button>
                            </Show>
                            <Show when=in_trash>
                                <button type="button" data-testid="bulk-restore" disabled=move || running.get().is_some()
                                    on:click=move |_| run_bulk(BulkEdit::Restore, selected_ids())>"Restore"</button>
                                <button type="button" class="danger" data-testid="bulk-purge" disabled=move || running.get().is_some()
                                    on:click=move |_| confirm_purge.set(Some(selected_ids()))>"Delete for good"</button>
                            </Show>
                        </Show>
                        {move || running.get().map(|current| view! {
                            <span class="bulk-progress">
                                <progress max=current.total.max(1) value=current.done aria-label="Changing the selected memories"></progress>
                                {format!("{} of {}", current.done, current.total)}
                                <button type="button" on:click=move |_| cancel_bulk()>"Cancel"</button>
                            </span>
                        })}
                        {move || bulk_message.get().map(|message| match message {
                            Ok(text) => view! { <p class="bulk-message" role="status" data-testid="bulk-message">{text}</p> }.into_any(),
                            Err(text) => view! { <p class="bulk-message error" role="alert" data-testid="bulk-message">{text}</p> }.into_any(),
                        })}
                    </div>
                </Show>
                <div class="memory-list" role="listbox" aria-multiselectable="true" tabindex="-1"
                    aria-label=move || if in_trash() { "Memories in the trash" } else { "Memories" }
                    data-testid="memory-list"
                    node_ref=list_ref
                    on:scroll=move |_| {
                        if let Some(list) = list_ref.get_untracked() {
                            scroll_top.set(f64::from(list.scroll_top()));
                            viewport.set(f64::from(list.client_height()));
                        }
                        ensure_visible();
                    }
                    on:keydown=on_list_keydown>
                    <div class="memory-spacer" style:height=move || format!("{}px", rows.with(Rows::len) as f64 * ROW_HEIGHT)>
                        <For each=move || {
                                let (start, end) = visible_range();
                                rows.with(|r| (start..end).map(|index| (index, r.get(index).cloned())).collect::<Vec<_>>())
                            }
                            key=|(index, memory)| (*index, memory.as_ref().map(|m| (m.id.clone(), m.revision, m.updated_at, m.use_count)))
                            children=move |(index, memory)| match memory {
                                None => view! {
                                    <div class="memory-row loading" role="option" aria-selected="false" aria-busy="true"
                                        style:top=format!("{}px", index as f64 * ROW_HEIGHT)>"Loading…"</div>
                                }.into_any(),
                                Some(memory) => view! {
                                    <MemoryRow index=index memory=memory active=active
                                        on_toggle=Callback::new(move |(id, shift): (MemoryId, bool)| {
                                            if shift { select_range(index) } else { toggle(id); anchor.set(Some(index)) }
                                        })
                                        on_open=Callback::new(move |(id, shift): (MemoryId, bool)| {
                                            active.set(index);
                                            if shift { select_range(index) } else { open(id) }
                                        })
                                        set_size=Signal::derive(move || rows.with(Rows::len))/>
                                }.into_any(),
                            }/>
                    </div>
                    <Show when=move || rows.with(|r| r.total == Some(0) && r.error.is_none())>
                        <div class="empty-state" data-testid="list-empty">
                            {move || if in_trash() {
                                view! { <p class="lead">"The trash is empty."</p>
                                    <p>"Memories you delete wait here until you restore them or empty the trash."</p> }.into_any()
                            } else if filtered() {
                                view! { <p class="lead">"No memory matches."</p>
                                    <p><button type="button" on:click=move |_| { browse.clear_filters(); browse.search.set(String::new()); }>"Clear the search and filters"</button></p> }.into_any()
                            } else {
                                view! { <p class="lead">"No memories yet."</p>
                                    <p>"They appear as you chat and rate answers. You can also add one yourself, add documents, or import an export file (Import and export)."</p> }.into_any()
                            }}
                        </div>
                    </Show>
                </div>
                <p class="hint keyboard-hint">
                    "Keyboard: ↑ ↓ move, Space selects, Shift+click or Shift+↑↓ selects a range, Enter opens, Ctrl+A selects all, Ctrl+Z undoes."
                </p>
            </div>
            <EditorPanel/>
        </div>
    }
}

#[component]
fn MemoryRow(
    index: usize,
    memory: Memory,
    active: RwSignal<usize>,
    /// Checkbox clicked: (id, shift held).
    on_toggle: Callback<(MemoryId, bool)>,
    /// Row clicked: (id, shift held).
    on_open: Callback<(MemoryId, bool)>,
    set_size: Signal<usize>,
) -> impl IntoView {
    let browse = expect_context::<Browse>();
    let id = memory.id.clone();
    let selected = {
        let id = id.clone();
        Signal::derive(move || browse.selected.with(|selected| selected.contains(&id)))
    };
    let is_open = {
        let id = id.clone();
        move || {
            browse
                .editing
                .with(|editing| editing.as_ref() == Some(&Editing::Existing(id.clone())))
        }
    };
    let first_line = memory
        .text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_owned();
    let pool = browse.pool_name(&memory.pool);
    let mut meta = vec![
        pool,
        SourceKind::of(&memory.source).label().to_owned(),
        format_date(memory.created_at),
    ];
    if memory.use_count > 0 {
        meta.push(format!("used {}×", memory.use_count));
    }
    if let Some(outcome) = memory.outcome() {
        meta.push(outcome_label(outcome).to_owned());
    }
    let (toggle_id, open_id) = (id.clone(), id.clone());
    view! {
        <div class="memory-row" role="option" id=format!("memory-row-{index}")
            data-testid="memory-row" data-id=id.to_string()
            aria-selected=move || selected.get().to_string()
            aria-posinset=index + 1 aria-setsize=move || set_size.get()
            tabindex=move || if active.get() == index { "0" } else { "-1" }
            class:selected=selected class:open=is_open
            style:top=format!("{}px", index as f64 * ROW_HEIGHT)
            on:focus=move |_| active.set(index)
            on:click=move |event: MouseEvent| on_open.run((open_id.clone(), event.shift_key()))>
            <input type="checkbox" tabindex="-1" class="row-select"
                aria-label=format!("Select: {}", first_line.chars().take(60).collect::<String>())
                prop:checked=selected
                on:mousedown=|event: MouseEvent| event.prevent_default()
                on:click=move |event: MouseEvent| {
                    event.stop_propagation();
                    on_toggle.run((toggle_id.clone(), event.shift_key()));
                }/>
            <span class=format!("kind-badge kind-{}", kind_class(memory.kind))>{memory.kind.label()}</span>
            <span class="row-body">
                <span class="row-text">
                    {memory.pinned.then(|| view! { <span class="pin-badge">"Pinned"</span> })}
                    {first_line.clone()}
                </span>
                <span class="row-meta">{meta.join(" · ")}</span>
            </span>
        </div>
    }
}

/// The CSS class suffix of a kind (colours in the list and on the map).
pub fn kind_class(kind: Kind) -> &'static str {
    match kind {
        Kind::Fact => "fact",
        Kind::Preference => "preference",
        Kind::Case => "case",
        Kind::Correction => "correction",
        Kind::DocumentChunk => "document",
        Kind::Note => "note",
    }
}

/// The kind whose [`kind_class`] is `value` (form values).
pub fn kind_from_value(value: &str) -> Option<Kind> {
    Kind::ALL
        .into_iter()
        .find(|kind| kind_class(*kind) == value)
}

pub fn outcome_value(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Worked => "worked",
        Outcome::DidNotWork => "did_not_work",
        Outcome::Unrated => "unrated",
    }
}

pub fn outcome_from_value(value: &str) -> Option<Outcome> {
    [Outcome::Worked, Outcome::DidNotWork, Outcome::Unrated]
        .into_iter()
        .find(|outcome| outcome_value(*outcome) == value)
}

fn source_value(source: SourceKind) -> &'static str {
    match source {
        SourceKind::Manual => "manual",
        SourceKind::Conversation => "conversation",
        SourceKind::Extraction => "extraction",
        SourceKind::Document => "document",
        SourceKind::Import => "import",
    }
}

#[component]
fn SearchAndFilters() -> impl IntoView {
    let browse = expect_context::<Browse>();
    let typed = RwSignal::new(browse.search.get_untracked());
    let pending = StoredValue::new(None::<TimeoutHandle>);
    let apply_now = move || {
        if let Some(handle) = pending.get_value() {
            handle.clear();
        }
        browse.search.set(typed.get_untracked());
    };
    let on_input = move |event| {
        typed.set(event_target_value(&event));
        if let Some(handle) = pending.get_value() {
            handle.clear();
        }
        pending.set_value(
            set_timeout_with_handle(
                move || browse.search.set(typed.get_untracked()),
                SEARCH_DELAY,
            )
            .ok(),
        );
    };
    let in_trash = move || browse.tab.get() == Tab::Trash;
    view! {
        <form class="memory-search" role="search" on:submit=move |event| {
            event.prevent_default();
            apply_now();
        }>
            <label for="memory-search-text">"Search"</label>
            <input id="memory-search-text" type="search" autocomplete="off"
                placeholder=move || if in_trash() || browse.mode.get() == SearchMode::Exact { "Words the memory contains" } else { "What are you looking for?" }
                prop:value=move || typed.get() on:input=on_input
                on:keydown=move |event: KeyboardEvent| {
                    if event.key() == "Escape" && !typed.get_untracked().is_empty() {
                        event.prevent_default();
                        typed.set(String::new());
                        apply_now();
                    }
                }/>
            <Show when=move || !in_trash()>
                <fieldset class="search-mode">
                    <legend class="visually-hidden">"Search by"</legend>
                    <label>
                        <input type="radio" name="search-mode" value="meaning"
                            prop:checked=move || browse.mode.get() == SearchMode::Meaning
                            on:change=move |_| browse.mode.set(SearchMode::Meaning)/>
                        "By meaning"
                    </label>
                    <label>
                        <input type="radio" name="search-mode" value="exact"
                            prop:checked=move || browse.mode.get() == SearchMode::Exact
                            on:change=move |_| browse.mode.set(SearchMode::Exact)/>
                        "Exact words"
                    </label>
                </fieldset>
            </Show>
        </form>
        <div class="memory-filters" role="group" aria-label="Filters">
            <label>
                "Kind"
                <select data-testid="filter-kind" prop:value=move || browse.kind.get().map(kind_class).unwrap_or("")
                    on:change=move |event| browse.kind.set(kind_from_value(&event_target_value(&event)))>
                    <option value="">"Any kind"</option>
                    {Kind::ALL.into_iter().map(|kind| view! { <option value=kind_class(kind)>{kind.label()}</option> }).collect_view()}
                </select>
            </label>
            <label>
                "Pool"
                <select data-testid="filter-pool" prop:value=move || browse.pool.get().unwrap_or_default()
                    on:change=move |event| {
                        let value = event_target_value(&event);
                        browse.pool.set((!value.is_empty()).then_some(value));
                    }>
                    <option value="">"Any pool"</option>
                    {move || browse.pools.get().into_iter().map(|pool| view! {
                        <option value=pool.id.clone()>{pool.name.clone()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Outcome"
                <select prop:value=move || browse.outcome.get().map(outcome_value).unwrap_or("")
                    on:change=move |event| browse.outcome.set(outcome_from_value(&event_target_value(&event)))>
                    <option value="">"Any (all kinds)"</option>
                    {[Outcome::Worked, Outcome::DidNotWork, Outcome::Unrated].into_iter().map(|outcome| view! {
                        <option value=outcome_value(outcome)>{format!("Cases that {}", match outcome {
                            Outcome::Worked => "worked",
                            Outcome::DidNotWork => "did not work",
                            Outcome::Unrated => "are not rated",
                        })}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Pinned"
                <select prop:value=move || match browse.pinned.get() { None => "", Some(true) => "yes", Some(false) => "no" }
                    on:change=move |event| browse.pinned.set(match event_target_value(&event).as_str() {
                        "yes" => Some(true),
                        "no" => Some(false),
                        _ => None,
                    })>
                    <option value="">"Pinned or not"</option>
                    <option value="yes">"Pinned only"</option>
                    <option value="no">"Not pinned"</option>
                </select>
            </label>
            <label>
                "Source"
                <select prop:value=move || browse.source.get().map(source_value).unwrap_or("")
                    on:change=move |event| {
                        let value = event_target_value(&event);
                        browse.source.set(SourceKind::ALL.into_iter().find(|source| source_value(*source) == value));
                    }>
                    <option value="">"Any source"</option>
                    {SourceKind::ALL.into_iter().map(|source| view! {
                        <option value=source_value(source)>{source.label()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Added from"
                <input type="date" prop:value=move || browse.created_from.get()
                    on:change=move |event| browse.created_from.set(event_target_value(&event))/>
            </label>
            <label>
                "to"
                <input type="date" prop:value=move || browse.created_until.get()
                    on:change=move |event| browse.created_until.set(event_target_value(&event))/>
            </label>
            <label>
                "Order"
                <select data-testid="sort" prop:value=move || browse.sort.get().as_str()
                    disabled=move || browse.meaning_search().is_some()
                    title=move || if browse.meaning_search().is_some() { "A search by meaning lists the best matches first" } else { "" }
                    on:change=move |event| browse.sort.set(SortOrder::from_form_value(&event_target_value(&event)))>
                    {SortOrder::ALL.into_iter().map(|order| view! { <option value=order.as_str()>{order.label()}</option> }).collect_view()}
                </select>
            </label>
            <button type="button" class="link-button" on:click=move |_| browse.clear_filters()>"Clear filters"</button>
        </div>
    }
}
