use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

use super::backups::{provide_backups, BackupReminder};
use super::chat::{provide_chat_state, ChatPage};
use super::evaluation::{provide_evaluation_state, EvaluationPage};
use super::inbox::{InboxLink, InboxPage};
use super::memory::MemoryPage;
use super::services::Services;
use super::settings::SettingsPage;
use super::status_bar::StatusBar;
use super::undo::{Undo, UndoToast};
use super::update_banner::UpdateBanner;

#[component]
pub fn App() -> impl IntoView {
    let services = Services::start();
    provide_context(services);
    Undo::provide(services);

    // The theme lives on <html> so that the whole page, scrollbars included, follows it.
    Effect::new(move |_| {
        let theme = services.theme.get();
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-theme", theme.as_str());
        }
    });

    view! {
        <Router>
            <Shell/>
        </Router>
    }
}

/// Everything inside the router: state that outlives a page is created here.
#[component]
fn Shell() -> impl IntoView {
    provide_chat_state();
    provide_evaluation_state();
    provide_backups();
    view! {
        <div class="shell">
            <UpdateBanner/>
            <BackupReminder/>
            <header class="topbar">
                <span class="brand">"Casebook"</span>
                <nav aria-label="Main">
                    <A href="/">"Chat"</A>
                    <A href="/memory">"Memory"</A>
                    <A href="/evaluation">"Evaluation"</A>
                    <A href="/settings">"Settings"</A>
                    <InboxLink/>
                </nav>
            </header>
            <main id="main">
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=path!("/") view=ChatPage/>
                    <Route path=path!("/memory") view=MemoryPage/>
                    <Route path=path!("/evaluation") view=EvaluationPage/>
                    <Route path=path!("/settings") view=SettingsPage/>
                    <Route path=path!("/inbox") view=InboxPage/>
                </Routes>
            </main>
            <UndoToast/>
            <StatusBar/>
        </div>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <section class="page">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. " <A href="/">"Go to the chat"</A> "."</p>
        </section>
    }
}
