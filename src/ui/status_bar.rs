use leptos::prelude::*;

use super::services::{BankState, DbState, ModelState, Services, WorkerState};
use crate::core::protocol::{ModelStatus, SwitchStatus};
use crate::core::storage::format_bytes;

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
    let model = move || match services.model_state.get() {
        ModelState::Waiting => ("busy", "Model: waiting for the worker…".to_owned()),
        ModelState::Loading(ModelStatus::Downloading {
            file,
            loaded_bytes,
            total_bytes,
        }) => (
            "busy",
            match total_bytes {
                Some(total) if total > 0 => format!(
                    "Model: downloading {file} {:.0}% ({} of {})",
                    loaded_bytes as f64 * 100.0 / total as f64,
                    format_bytes(loaded_bytes as f64),
                    format_bytes(total as f64)
                ),
                _ => format!(
                    "Model: downloading {file} ({})",
                    format_bytes(loaded_bytes as f64)
                ),
            },
        ),
        ModelState::Loading(_) => ("busy", "Model: preparing…".to_owned()),
        ModelState::Ready(model) => (
            "ok",
            format!(
                "Model: {} ready in {:.1} s{}",
                model.name,
                model.load_ms / 1000.0,
                if model.from_cache {
                    " (from cache)"
                } else {
                    ""
                }
            ),
        ),
        ModelState::Failed(error) => ("error", format!("Model: {error}")),
    };
    let download_fraction = move || match services.model_state.get() {
        ModelState::Loading(ModelStatus::Downloading {
            loaded_bytes,
            total_bytes: Some(total),
            ..
        }) if total > 0 => Some(loaded_bytes as f64 / total as f64),
        _ => None,
    };
    let bank = move || match services.bank_state.get() {
        BankState::Opening => ("busy", "Memory: loading…".to_owned()),
        BankState::Ready(status) => {
            let mut text = format!(
                "Memory: {} {}",
                status.memories,
                if status.memories == 1 {
                    "memory"
                } else {
                    "memories"
                }
            );
            if status.model_id.is_none() {
                text.push_str(" (keyword search only)");
            } else if status.embedded < status.memories {
                text.push_str(&format!(
                    " ({} of {} embedded…)",
                    status.embedded, status.memories
                ));
            }
            if status.rebuilding {
                text.push_str(", rebuilding the index");
            }
            ("ok", text)
        }
        BankState::Failed(error) => ("error", format!("Memory: {error}")),
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
            <span data-testid="status-model" class=move || format!("status {}", model().0)>
                {move || model().1}
                {move || download_fraction().map(|fraction| view! {
                    <progress class="inline-progress" max="1" value=fraction aria-label="Model download"></progress>
                })}
            </span>
            {move || services.model_notice.get().map(|notice| view! {
                <span class="status error" data-testid="status-model-notice">{notice}</span>
            })}
            {move || match services.switch_state.get() {
                Some(SwitchStatus::Running { model, progress }) => Some(view! {
                    <span class="status busy" data-testid="status-switch">
                        {format!("Re-embedding for {}: {} / {}", model.id, progress.done, progress.total)}
                        <progress class="inline-progress" max=progress.total.max(1) value=progress.done
                            aria-label="Re-embedding"></progress>
                    </span>
                }),
                _ => None,
            }}
            <span data-testid="status-bank" class=move || format!("status {}", bank().0)>
                {move || bank().1}
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
