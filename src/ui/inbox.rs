//! The review inbox (/inbox): memory suggestions automatic extraction made
//! after chat exchanges wait here until the user accepts (as they are or
//! edited) or rejects them. Accepting applies a suggestion exactly as the
//! chat's auto-apply does; a suggestion whose memory changed or vanished since
//! says so and cannot be accepted.

use std::collections::HashMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use wasm_bindgen::JsCast;

use crate::core::learn::extract::{fresh_target, InboxItem, InboxStatus, Proposal};
use crate::core::memory::{Memory, DEFAULT_POOL};
use crate::core::schema::stores;
use crate::web::conversations;
use crate::web::db::Db;

use super::bank_changes::{apply_proposal, stored_memory, wait_for_bank};
use super::memory::format_date_time;
use super::services::Services;

/// One pending suggestion and what the page knows about it.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    item: InboxItem,
    /// The conversation's title (`None`: the conversation was deleted).
    conversation_title: Option<String>,
    /// For an update or delete: the memory as stored now, if it still exists.
    current: Option<Memory>,
    /// Why the suggestion cannot be accepted as it is (its memory changed or
    /// vanished), in plain words.
    stale: Option<String>,
    /// Why accepting or rejecting it failed.
    error: Option<String>,
    /// Being accepted or rejected right now (a second click waits for it).
    deciding: bool,
}

/// The page's state, shared by its rows.
#[derive(Clone, Copy)]
struct Inbox {
    services: Services,
    /// `None` while loading.
    entries: RwSignal<Option<Result<Vec<Entry>, String>>>,
    /// A bulk action is running.
    busy: RwSignal<bool>,
    notice: RwSignal<Option<String>>,
}

/// What the user decided about a suggestion.
enum Decision {
    /// Accept this proposal (the suggestion itself, or the user's edit of it).
    Accept(Proposal),
    Reject,
}

impl Inbox {
    fn db(&self) -> Result<Db, String> {
        self.services
            .ready_db()
            .ok_or_else(|| "The memory store is not open yet (see the status bar).".to_owned())
    }

    fn entry(&self, id: &str) -> Option<Entry> {
        self.entries.with(|entries| {
            entries
                .as_ref()
                .and_then(|entries| entries.as_ref().ok())
                .and_then(|entries| entries.iter().find(|e| e.item.id == id).cloned())
        })
    }

    fn pending_ids(&self) -> Vec<String> {
        self.entries.with(|entries| match entries {
            Some(Ok(entries)) => entries.iter().map(|e| e.item.id.clone()).collect(),
            _ => Vec::new(),
        })
    }

    fn change_entry(&self, id: &str, change: impl FnOnce(&mut Entry)) {
        self.entries.update(|entries| {
            if let Some(Ok(entries)) = entries {
                if let Some(entry) = entries.iter_mut().find(|e| e.item.id == id) {
                    change(entry);
                }
            }
        });
    }

    fn set_error(&self, id: &str, error: Option<String>) {
        self.change_entry(id, |entry| entry.error = error);
    }

    /// Applies (or not) the suggestion, stores the decision and takes it off
    /// the list.
    async fn decide(self, id: &str, decision: Decision) -> Result<(), String> {
        let entry = self
            .entry(id)
            .ok_or_else(|| "This suggestion is no longer in the inbox.".to_owned())?;
        if entry.deciding {
            return Ok(());
        }
        self.change_entry(id, |entry| entry.deciding = true);
        let decided = self.record(entry, decision).await;
        if decided.is_err() {
            self.change_entry(id, |entry| entry.deciding = false);
        }
        decided
    }

    async fn record(self, entry: Entry, decision: Decision) -> Result<(), String> {
        let db = self.db()?;
        let mut item = entry.item;
        item.status = match decision {
            Decision::Accept(proposal) => {
                if let Some(stale) = entry.stale {
                    return Err(stale);
                }
                let pool = item.pool.as_deref().unwrap_or(DEFAULT_POOL);
                apply_proposal(
                    self.services,
                    pool,
                    &item.conversation_id,
                    proposal,
                    item.seen_revision,
                )
                .await?;
                InboxStatus::Accepted
            }
            Decision::Reject => InboxStatus::Rejected,
        };
        db.put(stores::INBOX, &item)
            .await
            .map_err(|e| format!("The decision could not be saved: {e}"))?;
        self.entries.update(|entries| {
            if let Some(Ok(entries)) = entries {
                entries.retain(|e| e.item.id != item.id);
            }
        });
        self.services.inbox_changed.update(|count| *count += 1);
        Ok(())
    }

    /// Decides one suggestion from its row: errors are shown on the row, and
    /// focus moves to the next suggestion (or the heading when none is left).
    fn decide_one(self, id: String, decision: Decision) {
        spawn_local(async move {
            let ids = self.pending_ids();
            let position = ids.iter().position(|other| *other == id).unwrap_or(0);
            match self.decide(&id, decision).await {
                Ok(()) => {
                    let remaining = self.pending_ids();
                    let next = remaining
                        .get(position)
                        .or_else(|| remaining.last())
                        .map(|next| row_element_id(next));
                    focus_later(next.unwrap_or_else(|| "inbox-title".to_owned()));
                }
                Err(error) => self.set_error(&id, Some(error)),
            }
        });
    }

    /// Accepts (or rejects) every pending suggestion; a suggestion that
    /// cannot be accepted stays, with its reason.
    fn decide_all(self, accept: bool) {
        self.busy.set(true);
        self.notice.set(None);
        spawn_local(async move {
            let mut done = 0;
            let mut failed = 0;
            for id in self.pending_ids() {
                let Some(entry) = self.entry(&id) else {
                    continue;
                };
                let decision = if accept {
                    Decision::Accept(entry.item.proposal)
                } else {
                    Decision::Reject
                };
                match self.decide(&id, decision).await {
                    Ok(()) => done += 1,
                    Err(error) => {
                        failed += 1;
                        self.set_error(&id, Some(error));
                    }
                }
            }
            let verb = if accept { "Accepted" } else { "Rejected" };
            let mut notice = format!("{verb} {done} suggestion{}.", plural(done));
            if failed > 0 {
                notice.push_str(&format!(
                    " {failed} could not be {}; {} still listed with the reason.",
                    verb.to_lowercase(),
                    if failed == 1 { "it is" } else { "they are" }
                ));
            }
            self.notice.set(Some(notice));
            self.busy.set(false);
            focus_later("inbox-title".to_owned());
        });
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

fn row_element_id(item_id: &str) -> String {
    format!("inbox-{item_id}")
}

/// Focuses the element `id` (a row: its first button) once the view has
/// caught up with the list.
fn focus_later(id: String) {
    request_animation_frame(move || {
        let Some(element) = document().get_element_by_id(&id) else {
            return;
        };
        let target = element
            .query_selector("button")
            .ok()
            .flatten()
            .unwrap_or(element);
        if let Ok(target) = target.dyn_into::<web_sys::HtmlElement>() {
            let _ = target.focus();
        }
    });
}

/// The pending suggestions, newest first, with their conversations' titles
/// and the current state of the memories they are about.
async fn load(services: Services, db: Db) -> Result<Vec<Entry>, String> {
    let items = db
        .all::<InboxItem>(stores::INBOX)
        .await
        .map_err(|e| format!("The inbox could not be read: {e}"))?;
    let pending = InboxItem::pending_newest_first(items);
    let bank = if pending.iter().any(|item| item.proposal.target().is_some()) {
        wait_for_bank(services).await
    } else {
        Ok(())
    };
    let mut titles: HashMap<String, Option<String>> = HashMap::new();
    let mut entries = Vec::with_capacity(pending.len());
    for item in pending {
        if !titles.contains_key(&item.conversation_id) {
            let title = conversations::load(&db, &item.conversation_id)
                .await
                .ok()
                .flatten()
                .map(|conversation| conversation.title);
            titles.insert(item.conversation_id.clone(), title);
        }
        let conversation_title = titles.get(&item.conversation_id).cloned().flatten();
        let (current, stale) = match (item.proposal.target(), &bank) {
            (None, _) => (None, None),
            (Some(_), Err(error)) => (None, Some(error.clone())),
            (Some(id), Ok(())) => match stored_memory(services, id).await {
                Ok(current) => {
                    let stale = fresh_target(item.seen_revision, current.as_ref())
                        .err()
                        .map(|stale| stale.to_string());
                    (current, stale)
                }
                Err(error) => (None, Some(error)),
            },
        };
        entries.push(Entry {
            item,
            conversation_title,
            current,
            stale,
            error: None,
            deciding: false,
        });
    }
    Ok(entries)
}

#[component]
pub fn InboxPage() -> impl IntoView {
    let services = expect_context::<Services>();
    let inbox = Inbox {
        services,
        entries: RwSignal::new(None),
        busy: RwSignal::new(false),
        notice: RwSignal::new(None),
    };
    Effect::new(move |_| {
        let Some(db) = services.ready_db() else {
            return;
        };
        spawn_local(async move {
            let loaded = load(services, db).await;
            inbox.entries.set(Some(loaded));
        });
    });

    let count = move || inbox.pending_ids().len();
    view! {
        <section class="page inbox" aria-labelledby="inbox-title">
            <h1 id="inbox-title" tabindex="-1">"Inbox"</h1>
            <p class="muted">
                "Memories the assistant suggests after your conversations. Nothing is remembered, \
                 changed or deleted until you accept it."
            </p>
            {move || inbox.notice.get().map(|notice| view! {
                <p class="inbox-notice" role="status" data-testid="inbox-notice">{notice}</p>
            })}
            {move || match inbox.entries.get() {
                None => view! { <p class="muted" role="status">"Loading the suggestions…"</p> }.into_any(),
                Some(Err(error)) => view! { <p class="error" role="alert">{error}</p> }.into_any(),
                Some(Ok(entries)) if entries.is_empty() => view! {
                    <div class="empty-state" data-testid="inbox-empty">
                        <p>"No suggestions to review."</p>
                        <p class="muted">
                            "After each exchange in the " <A href="/">"chat"</A>
                            ", the model may suggest facts, preferences or notes worth remembering, \
                             or changes to memories it was shown. They wait here so that you decide \
                             what your assistant remembers."
                        </p>
                    </div>
                }.into_any(),
                Some(Ok(_)) => ().into_any(),
            }}
            <Show when=move || { count() > 0 }>
                <div class="inbox-bulk" role="group" aria-label="All suggestions">
                    <span>{move || format!("{} suggestion{} to review", count(), plural(count()))}</span>
                    <button type="button" data-testid="accept-all" disabled=move || inbox.busy.get()
                        on:click=move |_| inbox.decide_all(true)>"Accept all"</button>
                    <button type="button" data-testid="reject-all" disabled=move || inbox.busy.get()
                        on:click=move |_| inbox.decide_all(false)>"Reject all"</button>
                </div>
            </Show>
            <ul class="inbox-list" data-testid="inbox-list">
                <For each=move || inbox.pending_ids() key=|id| id.clone() let:id>
                    <InboxRow inbox=inbox id=id/>
                </For>
            </ul>
        </section>
    }
}

#[component]
fn InboxRow(inbox: Inbox, id: String) -> impl IntoView {
    let Some(entry) = inbox.entry(&id) else {
        return ().into_any();
    };
    let editing = RwSignal::new(None::<String>);
    // Only opening and closing the editor redraws it, not each keystroke.
    let is_editing = Memo::new(move |_| editing.with(Option::is_some));
    let field_id = format!("inbox-edit-{id}");
    let editable = entry.stale.is_none() && !matches!(entry.item.proposal, Proposal::Delete { .. });
    let can_accept = entry.stale.is_none();
    let proposal = entry.item.proposal.clone();
    let proposed_text = match &proposal {
        Proposal::Add { text, .. } | Proposal::Update { text, .. } => text.clone(),
        Proposal::Delete { .. } => String::new(),
    };
    let error = {
        let id = id.clone();
        move || inbox.entry(&id).and_then(|entry| entry.error)
    };
    let deciding = {
        let id = id.clone();
        Memo::new(move |_| inbox.entry(&id).is_some_and(|entry| entry.deciding))
    };
    let disabled = move || inbox.busy.get() || deciding.get();

    let accept = {
        let id = id.clone();
        let proposal = proposal.clone();
        move |_| {
            inbox.set_error(&id, None);
            inbox.decide_one(id.clone(), Decision::Accept(proposal.clone()));
        }
    };
    let accept_edited = {
        let id = id.clone();
        let proposal = proposal.clone();
        move || {
            let text = editing.get_untracked().unwrap_or_default();
            match proposal.clone().with_text(&text) {
                Ok(edited) => {
                    inbox.set_error(&id, None);
                    inbox.decide_one(id.clone(), Decision::Accept(edited));
                }
                Err(empty) => inbox.set_error(&id, Some(empty.to_string())),
            }
        }
    };
    let reject = {
        let id = id.clone();
        move |_| {
            inbox.set_error(&id, None);
            inbox.decide_one(id.clone(), Decision::Reject);
        }
    };
    let start_editing = {
        let proposed_text = proposed_text.clone();
        let field_id = field_id.clone();
        move |_| {
            editing.set(Some(proposed_text.clone()));
            focus_later(field_id.clone());
        }
    };
    let row_id = row_element_id(&id);
    let stop_editing = {
        let row_id = row_id.clone();
        move || {
            editing.set(None);
            focus_later(row_id.clone());
        }
    };

    let what = describe(&entry);
    let from = match entry.conversation_title.clone() {
        Some(title) => {
            let title = if title.trim().is_empty() {
                "a conversation".to_owned()
            } else {
                title
            };
            view! { <A href=format!("/?c={}", entry.item.conversation_id)>{title}</A> }.into_any()
        }
        None => view! { <span>"a conversation since deleted"</span> }.into_any(),
    };
    let when = format_date_time(entry.item.created_at);
    let stale = entry.stale.clone();

    view! {
        <li class="inbox-item" id=row_id data-testid="inbox-item">
            {what}
            <p class="inbox-meta muted small">"Suggested from " {from} " · " <time>{when}</time></p>
            {stale.map(|stale| view! { <p class="inbox-stale" data-testid="inbox-stale">{stale}</p> })}
            {move || is_editing.get().then(|| {
                let accept_edited = accept_edited.clone();
                let on_enter = accept_edited.clone();
                let stop_editing = stop_editing.clone();
                let on_escape = stop_editing.clone();
                view! {
                    <div class="inbox-edit">
                        <label for=field_id.clone()>"Text to remember"</label>
                        <textarea id=field_id.clone() rows="3" data-testid="inbox-edit-text"
                            prop:value=editing.get_untracked().unwrap_or_default()
                            on:input=move |ev| editing.set(Some(event_target_value(&ev)))
                            on:keydown=move |ev: web_sys::KeyboardEvent| {
                                if ev.key() == "Escape" {
                                    ev.prevent_default();
                                    on_escape();
                                } else if ev.key() == "Enter" && !ev.shift_key() {
                                    ev.prevent_default();
                                    on_enter();
                                }
                            }></textarea>
                        <p class="muted small">"Enter accepts, Shift+Enter starts a new line, Escape cancels."</p>
                        <div class="actions">
                            <button type="button" class="primary" data-testid="inbox-accept-edited"
                                on:click=move |_| accept_edited()>"Accept edited"</button>
                            <button type="button" on:click=move |_| stop_editing()>"Cancel"</button>
                        </div>
                    </div>
                }
            })}
            <Show when=move || !is_editing.get()>
                <div class="actions">
                    {can_accept.then(|| view! {
                        <button type="button" class="primary" data-testid="inbox-accept"
                            disabled=disabled
                            on:click=accept.clone()>"Accept"</button>
                    })}
                    {editable.then(|| view! {
                        <button type="button" data-testid="inbox-edit"
                            disabled=disabled
                            on:click=start_editing.clone()>"Edit…"</button>
                    })}
                    <button type="button" data-testid="inbox-reject"
                        disabled=disabled
                        on:click=reject.clone()>"Reject"</button>
                </div>
            </Show>
            {move || error().map(|error| view! { <p class="error" role="alert">{error}</p> })}
        </li>
    }
    .into_any()
}

/// What the suggestion would change, in words.
fn describe(entry: &Entry) -> impl IntoView {
    let current_text = entry
        .current
        .as_ref()
        .map(|memory| memory.text.clone())
        .unwrap_or_else(|| "(the memory is no longer there)".to_owned());
    match &entry.item.proposal {
        Proposal::Add { text, kind } => view! {
            <p class="inbox-what">
                <span class="inbox-op">{format!("Remember a new {}", kind.label().to_lowercase())}</span>
                <span class="inbox-text" data-testid="inbox-text">{text.clone()}</span>
            </p>
        }
        .into_any(),
        Proposal::Update { text, .. } => view! {
            <div class="inbox-what">
                <span class="inbox-op">"Change a memory"</span>
                <div class="inbox-compare">
                    <div><span class="muted small">"Now"</span>
                        <span class="inbox-text inbox-old" data-testid="inbox-current">{current_text}</span></div>
                    <div><span class="muted small">"Proposed"</span>
                        <span class="inbox-text" data-testid="inbox-text">{text.clone()}</span></div>
                </div>
            </div>
        }
        .into_any(),
        Proposal::Delete { .. } => view! {
            <p class="inbox-what">
                <span class="inbox-op">"Delete a memory"</span>
                <span class="inbox-text inbox-old" data-testid="inbox-current">{current_text}</span>
            </p>
        }
        .into_any(),
    }
}

/// The "Inbox" link of the main navigation, with the number of suggestions
/// waiting for review.
#[component]
pub fn InboxLink() -> impl IntoView {
    let services = expect_context::<Services>();
    let pending = RwSignal::new(0);
    Effect::new(move |_| {
        services.inbox_changed.track();
        let Some(db) = services.ready_db() else {
            return;
        };
        spawn_local(async move {
            // The inbox holds a few records per conversation: reading them is cheap.
            if let Ok(items) = db.all::<InboxItem>(stores::INBOX).await {
                let count = items
                    .iter()
                    .filter(|item| item.status == InboxStatus::Pending)
                    .count();
                pending.set(count);
            }
        });
    });
    let count = move || Some(pending.get()).filter(|count| *count > 0);
    view! {
        <A href="/inbox">
            "Inbox"
            {move || count().map(|count| view! {
                <span class="nav-count" data-testid="inbox-count">
                    {count.to_string()}
                    <span class="visually-hidden">{format!(" suggestion{} to review", plural(count))}</span>
                </span>
            })}
        </A>
    }
}
