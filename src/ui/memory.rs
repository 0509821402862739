use leptos::prelude::*;

use super::services::{DbState, Services};
use crate::core::schema::stores;

#[component]
pub fn MemoryPage() -> impl IntoView {
    let services = expect_context::<Services>();
    let count = LocalResource::new(move || async move {
        match services.db.get() {
            DbState::Ready(db) => Some(db.count(stores::MEMORIES).await.map_err(|e| e.to_string())),
            _ => None,
        }
    });

    view! {
        <section class="page memory" aria-labelledby="memory-title">
            <h1 id="memory-title">"Memory"</h1>
            <p class="hint">
                "Everything the assistant remembers is listed here, stored only in this browser."
            </p>
            <Suspense fallback=|| view! { <p class="muted">"Loading memories…"</p> }>
                {move || count.get().map(|count| match count {
                    None => view! { <p class="muted">"Opening the memory store…"</p> }.into_any(),
                    Some(Ok(0)) => view! {
                        <div class="empty-state">
                            <p class="lead">"No memories yet."</p>
                        </div>
                    }.into_any(),
                    Some(Ok(n)) => view! { <p data-testid="memory-count">{n} " memories"</p> }.into_any(),
                    Some(Err(error)) => view! { <p class="error" role="alert">{error}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
