//! The memory editor: everything the assistant remembers, to read and change.
//!
//! - [`list`]: the virtualised list (only visible rows are rendered; pages are
//!   fetched from the worker as they scroll into view), selection, bulk actions.
//! - [`editor`]: one memory in place: edit, pin, trash, provenance, use, history
//!   with word diffs and restore.
//! - [`transfer`]: export and import (checked and summarised before anything is written).
//! - [`map`]: the 2-D map of the vectors and the timeline.
//! - [`documents`]: files and pasted text added as chunks, and removed with them.

mod documents;
mod editor;
mod list;
mod map;
mod transfer;

pub use transfer::export_file_name;

use std::collections::{HashMap, HashSet};

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;
use wasm_bindgen::JsValue;

use super::services::{BankState, Services};
use super::undo::Undo;
use crate::core::assistant::{pool_name, with_defaults, Assistant, Pool};
use crate::core::bank::MemoryFilter;
use crate::core::editing::MemoryDraft;
use crate::core::listing::{ListQuery, SortOrder, SourceKind};
use crate::core::memory::{Kind, MemoryId, Millis, Outcome};
use crate::core::schema::stores;

/// Which list the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Memories,
    Trash,
    Map,
    Documents,
    Transfer,
}

/// How the search box searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMode {
    /// The chat's hybrid search (meaning and keywords), best first.
    Meaning,
    /// Memories containing the words as typed, in the chosen order.
    Exact,
}

/// What the editor panel shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Editing {
    New,
    Existing(MemoryId),
}

/// The page's state, shared by its parts. `Copy`: every field is a signal.
#[derive(Clone, Copy)]
pub struct Browse {
    pub tab: RwSignal<Tab>,
    pub search: RwSignal<String>,
    pub mode: RwSignal<SearchMode>,
    pub kind: RwSignal<Option<Kind>>,
    pub pool: RwSignal<Option<String>>,
    pub outcome: RwSignal<Option<Outcome>>,
    pub pinned: RwSignal<Option<bool>>,
    pub source: RwSignal<Option<SourceKind>>,
    /// `YYYY-MM-DD` from the date inputs (empty: no bound).
    pub created_from: RwSignal<String>,
    pub created_until: RwSignal<String>,
    pub sort: RwSignal<SortOrder>,
    pub selected: RwSignal<HashSet<MemoryId>>,
    pub editing: RwSignal<Option<Editing>>,
    /// Bumped after every change made from this page: lists and editors refetch.
    pub refresh: RwSignal<u64>,
    pub pools: RwSignal<Vec<Pool>>,
    pub assistants: RwSignal<Vec<Assistant>>,
    /// Unsaved edits by memory (`None`: a new memory), kept while the page is open.
    pub drafts: StoredValue<HashMap<Option<MemoryId>, MemoryDraft>>,
}

impl Browse {
    fn new() -> Browse {
        Browse {
            tab: RwSignal::new(Tab::Memories),
            search: RwSignal::new(String::new()),
            mode: RwSignal::new(SearchMode::Meaning),
            kind: RwSignal::new(None),
            pool: RwSignal::new(None),
            outcome: RwSignal::new(None),
            pinned: RwSignal::new(None),
            source: RwSignal::new(None),
            created_from: RwSignal::new(String::new()),
            created_until: RwSignal::new(String::new()),
            sort: RwSignal::new(SortOrder::default()),
            selected: RwSignal::new(HashSet::new()),
            editing: RwSignal::new(None),
            refresh: RwSignal::new(0),
            pools: RwSignal::new(vec![Pool::default_pool()]),
            assistants: RwSignal::new(vec![Assistant::default_assistant()]),
            drafts: StoredValue::new(HashMap::new()),
        }
    }

    /// Which memories the search and filters allow (tracked).
    pub fn filter(&self) -> MemoryFilter {
        MemoryFilter {
            pools: self.pool.get().into_iter().collect(),
            kinds: self.kind.get().into_iter().collect(),
            outcomes: self.outcome.get().into_iter().collect(),
            pinned: self.pinned.get(),
            exclude: Vec::new(),
        }
    }

    /// The list query for the current tab, filters and exact search (tracked);
    /// offset and limit are left for the list to fill in.
    pub fn query(&self) -> ListQuery {
        let exact = self.mode.get() == SearchMode::Exact || self.tab.get() == Tab::Trash;
        ListQuery {
            contains: if exact {
                self.search.get().trim().to_owned()
            } else {
                String::new()
            },
            filter: self.filter(),
            sources: self.source.get().into_iter().collect(),
            created_from: local_midnight(&self.created_from.get(), 0),
            created_until: local_midnight(&self.created_until.get(), 1),
            trash: self.tab.get() == Tab::Trash,
            sort: self.sort.get(),
            offset: 0,
            limit: 0,
        }
    }

    /// The text to rank by meaning, when that is what the search asks for (tracked).
    pub fn meaning_search(&self) -> Option<String> {
        let text = self.search.get().trim().to_owned();
        (self.mode.get() == SearchMode::Meaning && self.tab.get() != Tab::Trash && !text.is_empty())
            .then_some(text)
    }

    pub fn clear_filters(&self) {
        self.kind.set(None);
        self.pool.set(None);
        self.outcome.set(None);
        self.pinned.set(None);
        self.source.set(None);
        self.created_from.set(String::new());
        self.created_until.set(String::new());
    }

    pub fn changed(&self) {
        self.refresh.update(|count| *count += 1);
    }

    /// The name of pool `id` (its id if it is unknown).
    pub fn pool_name(&self, id: &str) -> String {
        self.pools.with(|pools| pool_name(pools, id))
    }

    /// Reads the pools and assistants (with the defaults when none are stored).
    fn load_pools(self, services: Services) {
        let Some(db) = services.ready_db() else {
            return;
        };
        spawn_local(async move {
            let pools = db.all::<Pool>(stores::POOLS).await.unwrap_or_default();
            let assistants = db
                .all::<Assistant>(stores::ASSISTANTS)
                .await
                .unwrap_or_default();
            let (pools, assistants) = with_defaults(pools, assistants);
            self.pools.set(pools);
            self.assistants.set(assistants);
        });
    }
}

#[component]
pub fn MemoryPage() -> impl IntoView {
    let services = expect_context::<Services>();
    let undo = expect_context::<Undo>();
    let browse = Browse::new();
    provide_context(browse);

    // A link such as /memory?memory=<id> opens that memory; a chunk's link
    // to its document (/memory?document=<id>) opens the documents.
    let query = use_query_map();
    Effect::new(move |_| {
        if let Some(id) = query.with(|query| query.get("memory")) {
            browse.editing.set(Some(Editing::Existing(MemoryId(id))));
        }
        if query.with(|query| query.get("document").is_some()) {
            browse.tab.set(Tab::Documents);
        }
    });
    Effect::new(move |_| {
        services.db.track();
        undo.undone.track();
        browse.refresh.track();
        browse.load_pools(services);
    });

    let counts = Memo::new(move |_| match services.bank_state.get() {
        BankState::Ready(status) => Some((status.memories, status.trashed)),
        _ => None,
    });
    let tab_button =
        move |tab: Tab, id: &'static str, label: Box<dyn Fn() -> String + Send + Sync>| {
            view! {
                <button type="button" role="tab" id=id
                    aria-selected=move || (browse.tab.get() == tab).to_string()
                    aria-controls="memory-panel"
                    class:active=move || browse.tab.get() == tab
                    on:click=move |_| {
                        browse.tab.set(tab);
                        browse.selected.set(HashSet::new());
                    }>
                    {label}
                </button>
            }
        };

    view! {
        <section class="page memory" aria-labelledby="memory-title">
            <div class="memory-heading">
                <h1 id="memory-title">"Memory"</h1>
                <p class="hint">
                    "Everything the assistant remembers, stored only in this browser. "
                    "Read it, correct it, or delete what it should forget."
                </p>
            </div>
            <div class="memory-tabs" role="tablist" aria-label="Memory views">
                {tab_button(Tab::Memories, "tab-memories", Box::new(move || match counts.get() {
                    Some((live, _)) => format!("Memories ({live})"),
                    None => "Memories".to_owned(),
                }))}
                {tab_button(Tab::Trash, "tab-trash", Box::new(move || match counts.get() {
                    Some((_, trashed)) => format!("Trash ({trashed})"),
                    None => "Trash".to_owned(),
                }))}
                {tab_button(Tab::Map, "tab-map", Box::new(|| "Map and timeline".to_owned()))}
                {tab_button(Tab::Documents, "tab-documents", Box::new(|| "Documents".to_owned()))}
                {tab_button(Tab::Transfer, "tab-transfer", Box::new(|| "Import and export".to_owned()))}
            </div>
            <div id="memory-panel" role="tabpanel" class="memory-panel">
                {move || match browse.tab.get() {
                    Tab::Memories | Tab::Trash => view! { <list::Browser/> }.into_any(),
                    Tab::Map => view! { <map::MapAndTimeline/> }.into_any(),
                    Tab::Documents => view! { <documents::DocumentsPanel/> }.into_any(),
                    Tab::Transfer => view! { <transfer::Transfer/> }.into_any(),
                }}
            </div>
        </section>
    }
}

/// The time of local midnight at the start of `date` (`YYYY-MM-DD`) plus
/// `days_after` days; `None` for an empty or unreadable date.
fn local_midnight(date: &str, days_after: i32) -> Option<Millis> {
    let mut parts = date.trim().splitn(3, '-');
    let year: u32 = parts.next()?.parse().ok()?;
    let month: i32 = parts.next()?.parse().ok()?;
    let day: i32 = parts.next()?.parse().ok()?;
    let time = js_sys::Date::new_with_year_month_day(year, month - 1, day + days_after).get_time();
    (time.is_finite() && time >= 0.0).then_some(time as Millis)
}

/// A date in the user's language, e.g. "12/03/2026".
pub fn format_date(time: Millis) -> String {
    js_sys::Date::new(&JsValue::from_f64(time as f64))
        .to_locale_date_string("default", &JsValue::UNDEFINED)
        .into()
}

/// A date and time in the user's language.
pub fn format_date_time(time: Millis) -> String {
    js_sys::Date::new(&JsValue::from_f64(time as f64))
        .to_locale_string("default", &JsValue::UNDEFINED)
        .into()
}

/// The current time.
pub fn now() -> Millis {
    js_sys::Date::now() as Millis
}

/// "1 memory", "3 memories".
pub fn memories_count(count: usize) -> String {
    if count == 1 {
        "1 memory".to_owned()
    } else {
        format!("{count} memories")
    }
}
