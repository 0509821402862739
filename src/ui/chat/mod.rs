//! The chat page: conversations on the side, the open one in the middle, the
//! composer below. Every answer is built from the case bank and shows which
//! memories it was given and which it cited.

mod answer;
mod composer;
mod learning;
mod preview;
mod session;
mod sidebar;
mod thread;

use std::rc::Rc;
use std::time::Duration;

use futures_channel::oneshot;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use super::services::Services;
use composer::Composer;
pub(crate) use session::{compose_prompt, Chat, Context};
use sidebar::Sidebar;
use thread::Thread;

/// Creates the chat's state for the whole session. It lives above the pages
/// (inside the router, which it navigates) so that work still running when the
/// user leaves the chat, such as saving a stopped answer, never touches state
/// that was thrown away with the page.
pub fn provide_chat_state() {
    let services = expect_context::<Services>();
    let navigate = use_navigate();
    provide_context(Chat::new(
        services,
        Rc::new(move |path: &str| navigate(path, NavigateOptions::default())),
    ));
}

#[component]
pub fn ChatPage() -> impl IntoView {
    let services = expect_context::<Services>();
    let chat = expect_context::<Chat>();

    let loaded = StoredValue::new(false);
    let query = use_query_map();
    chat.show(query.with_untracked(|query| query.get("c")));
    Effect::new(move |_| {
        let Some(db) = services.ready_db() else {
            return;
        };
        let wanted = query.with(|query| query.get("c"));
        let first = !loaded.get_value();
        loaded.set_value(true);
        spawn_local(async move {
            if first {
                chat.load(db).await;
            }
            chat.open(wanted).await;
        });
    });
    // Leaving the page stops an answer that is still streaming.
    on_cleanup(move || chat.stop());

    view! {
        <section class="page chat" aria-labelledby="chat-title">
            <h1 id="chat-title" class="visually-hidden">"Chat"</h1>
            <div class="chat-layout">
                <Sidebar/>
                <div class="chat-main">
                    <Thread/>
                    <Composer/>
                </div>
            </div>
        </section>
    }
}

/// Waits `ms` milliseconds.
pub(crate) async fn sleep_ms(ms: u64) {
    let (done, wait) = oneshot::channel::<()>();
    set_timeout(
        move || {
            let _ = done.send(());
        },
        Duration::from_millis(ms),
    );
    let _ = wait.await;
}
