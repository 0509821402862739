//! The saved conversations, newest first: open, rename, delete (with undo).

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::conversation::Conversation;
use crate::web::conversations;

use super::session::{now, Chat, Notice, Undo};

#[component]
pub fn Sidebar() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let ids = move || {
        chat.list
            .with(|list| list.iter().map(|c| c.id.clone()).collect::<Vec<_>>())
    };
    view! {
        <nav class="conversations" aria-label="Conversations">
            <button type="button" class="primary new-conversation" on:click=move |_| {
                chat.go("/");
                chat.current.set(None);
                chat.temporary.set(false);
            }>"New conversation"</button>
            {move || chat.list_error.get().map(|error| view! { <p class="error" role="alert">{error}</p> })}
            {move || chat.list.with(Vec::is_empty).then(|| view! {
                <p class="muted small">"Your conversations will be listed here."</p>
            })}
            <ul data-testid="conversation-list">
                <For each=ids key=|id| id.clone() let:id>
                    <ConversationItem id=id/>
                </For>
            </ul>
        </nav>
    }
}

#[component]
fn ConversationItem(id: String) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let conversation = {
        let id = id.clone();
        Memo::new(move |_| {
            chat.list
                .with(|list| list.iter().find(|c| c.id == id).cloned())
        })
    };
    let title =
        move || conversation.with(|c| c.as_ref().map(|c| c.title.clone()).unwrap_or_default());
    let renaming = RwSignal::new(false);
    let new_title = RwSignal::new(String::new());
    let is_open = {
        let id = id.clone();
        Memo::new(move |_| {
            chat.current
                .with(|c| c.as_ref().is_some_and(|c| c.id == id))
        })
    };

    let rename = {
        let id = id.clone();
        move || {
            let title = new_title.get_untracked().trim().to_owned();
            renaming.set(false);
            if title.is_empty() {
                return;
            }
            let id = id.clone();
            spawn_local(async move { rename_conversation(chat, id, title).await });
        }
    };
    let delete = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            spawn_local(async move { delete_conversation(chat, id).await });
        }
    };
    let href = format!("/?c={id}");

    view! {
        <li class="conversation-item" class:open=is_open data-testid="conversation-item">
            {move || if renaming.get() {
                let rename = rename.clone();
                let submit = rename.clone();
                view! {
                    <form class="inline" on:submit=move |event| { event.prevent_default(); submit(); }>
                        <label class="visually-hidden" for="rename-conversation">"New title"</label>
                        <input id="rename-conversation" type="text" bind:value=new_title autofocus
                            on:keydown=move |event: leptos::ev::KeyboardEvent| {
                                if event.key() == "Escape" { renaming.set(false); }
                            }
                            on:blur=move |_| if renaming.get_untracked() { rename() }/>
                    </form>
                }.into_any()
            } else {
                view! {
                    <a href=href.clone() aria-current=move || is_open.get().then_some("page")>{title}</a>
                }.into_any()
            }}
            <div class="item-actions">
                <button type="button" class="quiet" aria-label=move || format!("Rename “{}”", title())
                    on:click=move |_| { new_title.set(title()); renaming.set(true); }>"Rename"</button>
                <button type="button" class="quiet" aria-label=move || format!("Delete “{}”", title())
                    on:click=delete>"Delete"</button>
            </div>
        </li>
    }
}

async fn rename_conversation(chat: Chat, id: String, title: String) {
    let Ok(db) = chat.db() else {
        return;
    };
    let is_open = chat
        .current
        .with_untracked(|c| c.as_ref().is_some_and(|c| c.id == id));
    let stored = if is_open {
        chat.change(|conversation| conversation.title = title.clone());
        chat.current.get_untracked()
    } else {
        chat.list
            .with_untracked(|list| list.iter().find(|c| c.id == id).cloned())
            .map(|mut conversation| {
                conversation.title = title.clone();
                conversation.updated_at = now();
                conversation
            })
    };
    let Some(conversation) = stored else {
        return;
    };
    match conversations::save(&db, &conversation).await {
        Ok(()) => chat.list.update(|list| {
            if let Some(entry) = list.iter_mut().find(|c| c.id == id) {
                *entry = conversation;
            }
        }),
        Err(error) => chat.complain(format!("The conversation could not be renamed: {error}")),
    }
}

async fn delete_conversation(chat: Chat, id: String) {
    let Ok(db) = chat.db() else {
        return;
    };
    let is_open = chat
        .current
        .with_untracked(|c| c.as_ref().is_some_and(|c| c.id == id));
    let removed: Option<Conversation> = if is_open {
        chat.stop();
        chat.current.get_untracked()
    } else {
        chat.list
            .with_untracked(|list| list.iter().find(|c| c.id == id).cloned())
    };
    let Some(removed) = removed else {
        return;
    };
    if let Err(error) = conversations::delete(&db, &id).await {
        chat.complain(format!("The conversation could not be deleted: {error}"));
        return;
    }
    chat.list.update(|list| list.retain(|c| c.id != id));
    if is_open {
        chat.current.set(None);
        chat.go("/");
    }
    chat.notice.set(Some(Notice {
        text: format!("Deleted “{}”.", removed.title),
        undo: Some(Undo::Conversation(Box::new(removed))),
        is_error: false,
    }));
}
