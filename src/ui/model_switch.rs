//! Settings → Embedding model: the model in use, and switching to another one
//! (re-embedding every memory in the background, with progress and Cancel).

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::services::{ModelState, Services, DEFAULT_MODEL};
use crate::core::protocol::{ModelStatus, SwitchStatus};
use crate::core::storage::format_bytes;

#[component]
pub fn ModelSwitchCard() -> impl IntoView {
    let services = expect_context::<Services>();
    let folder = RwSignal::new(String::new());
    // A switch request waiting for the new model to load.
    let starting = RwSignal::new(false);
    let cancelling = RwSignal::new(false);

    let running = move || {
        matches!(
            services.switch_state.get(),
            Some(SwitchStatus::Loading { .. } | SwitchStatus::Running { .. })
        ) || starting.get()
    };
    let in_use = move || match services.model_state.get() {
        ModelState::Ready(model) => Some(model),
        _ => None,
    };
    let using_default =
        move || in_use().is_some_and(|model| Services::is_default_model(&model.base_url));
    let unfinished = move || {
        services
            .model_choice
            .get()
            .switching_to
            .filter(|_| !running())
    };

    let start = move |folder: String| {
        starting.set(true);
        spawn_local(async move {
            // Failures arrive as the switch's state.
            let _ = services.switch_model(&folder).await;
            starting.set(false);
        });
    };
    let cancel = move |_| {
        cancelling.set(true);
        spawn_local(async move {
            if let Err(message) = services.cancel_switch().await {
                services
                    .switch_state
                    .set(Some(SwitchStatus::Failed { message }));
            }
            cancelling.set(false);
        });
    };

    let progress_view = move || {
        match services.switch_state.get() {
        Some(SwitchStatus::Running { model, progress }) => view! {
            <p data-testid="switch-progress">
                {format!(
                    "Re-embedding your memories for {}: {} of {} done. Search keeps using the current model until all are.",
                    model.id, progress.done, progress.total
                )}
            </p>
            <progress max=progress.total.max(1) value=progress.done
                aria-label="Re-embedding progress"></progress>
        }
        .into_any(),
        Some(SwitchStatus::Loading { base_url, status }) => view! {
            <p data-testid="switch-progress">{loading_text(&base_url, &status)}</p>
        }
        .into_any(),
        _ if starting.get() => view! {
            <p data-testid="switch-progress">"Loading the new model…"</p>
        }
        .into_any(),
        _ => ().into_any(),
    }
    };
    let outcome_view = move || match services.switch_state.get() {
        Some(SwitchStatus::Completed { model }) => Some(
            view! {
                <p role="status" data-testid="switch-outcome">
                    {format!("Switched: every memory now has a vector of {}.", model.id)}
                </p>
            }
            .into_any(),
        ),
        Some(SwitchStatus::Cancelled) => Some(
            view! {
                <p role="status" data-testid="switch-outcome">
                    "The switch was cancelled; the model in use and its vectors stay."
                </p>
            }
            .into_any(),
        ),
        Some(SwitchStatus::Failed { message }) if !starting.get() => Some(
            view! {
                <p class="error" role="alert" data-testid="switch-outcome">{message}</p>
            }
            .into_any(),
        ),
        _ => None,
    };

    view! {
        <fieldset class="card" data-testid="model-switch">
            <legend>"Embedding model"</legend>
            <dl class="facts">
                <dt>"In use"</dt>
                <dd data-testid="model-in-use">{move || match in_use() {
                    Some(model) => format!(
                        "{} (id {}, {} dimensions)",
                        model.name, model.id, model.dimension
                    ),
                    None => "not loaded (see the status bar)".to_owned(),
                }}</dd>
                <dt>"Loaded from"</dt>
                <dd data-testid="model-source">{move || in_use()
                    .map(|model| model.base_url)
                    .unwrap_or_default()}</dd>
            </dl>
            {move || services.model_notice.get().map(|notice| view! {
                <p class="error" role="alert">{notice}</p>
            })}
            <p class="hint">
                "Another model is a folder with model.json, model.onnx and tokenizer.json, laid out "
                "like the default one (models/all-minilm-l6-v2/); a relative address is read from "
                "this app's site. Switching re-embeds every memory in the background; search keeps "
                "working with the current model until the new vectors are complete."
            </p>
            <form class="stacked" on:submit=move |event| {
                event.prevent_default();
                start(folder.get_untracked());
            }>
                <label for="model-folder">"Model folder address"</label>
                <input id="model-folder" type="text" bind:value=folder
                    placeholder="models/another-model/" autocomplete="off"/>
                <button type="submit" disabled=running>"Switch"</button>
            </form>
            <div class="switch-progress" role="status" aria-live="polite">
                {progress_view}
                {move || running().then(|| view! {
                    <button type="button" class="secondary" disabled=move || cancelling.get()
                        on:click=cancel>"Cancel"</button>
                })}
            </div>
            {move || unfinished().map(|target| {
                let resume_target = target.clone();
                view! {
                    <p data-testid="switch-unfinished">
                        {format!("A switch to {target} is unfinished (the vectors made so far are kept).")}
                    </p>
                    <div class="editor-actions">
                        <button type="button" class="primary"
                            on:click=move |_| start(resume_target.clone())>"Resume"</button>
                        <button type="button" class="secondary" disabled=move || cancelling.get()
                            on:click=cancel>"Cancel"</button>
                    </div>
                }
            })}
            {outcome_view}
            <div class="editor-actions">
                <button type="button" class="secondary"
                    disabled=move || running() || using_default()
                    on:click=move |_| start(DEFAULT_MODEL.to_owned())>"Use the default model"</button>
            </div>
        </fieldset>
    }
}

/// The new model's loading, in words.
fn loading_text(base_url: &str, status: &ModelStatus) -> String {
    match status {
        ModelStatus::Downloading {
            file,
            loaded_bytes,
            total_bytes,
        } => match total_bytes {
            Some(total) => format!(
                "Downloading {file} from {base_url}: {} of {}…",
                format_bytes(*loaded_bytes as f64),
                format_bytes(*total as f64)
            ),
            None => format!(
                "Downloading {file} from {base_url}: {}…",
                format_bytes(*loaded_bytes as f64)
            ),
        },
        ModelStatus::Preparing => format!("Preparing the model from {base_url}…"),
        ModelStatus::Ready { model } => format!("{} loaded; starting to re-embed…", model.id),
        ModelStatus::Failed { message } => message.clone(),
    }
}
