use leptos::prelude::*;

#[component]
pub fn ChatPage() -> impl IntoView {
    view! {
        <section class="page chat" aria-labelledby="chat-title">
            <h1 id="chat-title">"Chat"</h1>
            <div class="empty-state">
                <p class="lead">"No conversations yet."</p>
                <p>
                    "Every answer here will be built from the memories you keep in Casebook, "
                    "and will show which ones it used."
                </p>
            </div>
        </section>
    }
}
