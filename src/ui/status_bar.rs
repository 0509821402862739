use leptos::prelude::*;

use super::services::{DbState, Services, WorkerState};

/// The strip at the bottom of every page: what the background machinery is doing.
#[component]
pub fn StatusBar() -> impl IntoView {
    let services = expect_context::<Services>();

    let worker = move || match services.worker_state.get() {
        WorkerState::Starting => ("busy", "Worker: starting…".to_owned()),
        WorkerState::Ready { round_trip_ms, .. } => (
            "ok",
            format!("Worker: ready ({round_trip_ms:.1} ms round trip)"),
        ),
        WorkerState::Failed(error) => ("error", format!("Worker: {error}")),
    };
    let storage = move || match services.db.get() {
        DbState::Opening => ("busy", "Storage: opening…".to_owned()),
        DbState::Ready(db) => ("ok", format!("Storage: ready (schema v{})", db.version())),
        DbState::Failed(error) => ("error", format!("Storage: {error}")),
    };

    view! {
        <footer class="status-bar" role="status" aria-live="polite">
            <span data-testid="status-worker" class=move || format!("status {}", worker().0)>
                {move || worker().1}
            </span>
            <span data-testid="status-storage" class=move || format!("status {}", storage().0)>
                {move || storage().1}
            </span>
            {move || services.storage_use.get().and_then(|storage_use| storage_use.warning()).map(|warning| view! {
                <span class="status error" data-testid="status-storage-warning">{warning}</span>
            })}
        </footer>
    }
}
