use leptos::prelude::*;
use leptos::task::spawn_local;

use super::assistants::AssistantsCard;
use super::backups::BackupSettingsCard;
use super::model_switch::ModelSwitchCard;
use super::providers::{ChatSettingsCard, ProviderSettingsCard};
use super::services::{DbState, Services, WorkerState};
use crate::core::schema::stores;
use crate::core::settings::{keys, Theme};

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <section class="page settings" aria-labelledby="settings-title">
            <h1 id="settings-title">"Settings"</h1>
            <ProviderSettingsCard/>
            <ChatSettingsCard/>
            <AssistantsCard/>
            <AppearanceSettings/>
            <StorageSettings/>
            <BackupSettingsCard/>
            <ModelSwitchCard/>
            <Diagnostics/>
            <CompareTexts/>
        </section>
    }
}

#[component]
fn AppearanceSettings() -> impl IntoView {
    let services = expect_context::<Services>();
    // What happened to the last save, shown next to the control.
    let save_status = RwSignal::new(None::<Result<(), String>>);

    let on_change = move |event| {
        let theme = Theme::from_form_value(&event_target_value(&event));
        services.theme.set(theme);
        let Some(db) = services.ready_db() else {
            save_status.set(Some(Err(
                "Not saved: the memory store is not open (see the status bar).".into(),
            )));
            return;
        };
        spawn_local(async move {
            let result = db
                .put_value(stores::SETTINGS, keys::THEME, &theme)
                .await
                .map_err(|error| format!("Not saved: {error}"));
            save_status.set(Some(result));
        });
    };

    view! {
        <fieldset class="card">
            <legend>"Appearance"</legend>
            <label for="theme">"Theme"</label>
            <select id="theme" name="theme" on:change=on_change
                prop:value=move || services.theme.get().as_str()>
                {Theme::ALL.into_iter().map(|theme| view! {
                    <option value=theme.as_str()>{theme.label()}</option>
                }).collect_view()}
            </select>
            <span class="save-status" role="status">
                {move || match save_status.get() {
                    None => String::new(),
                    Some(Ok(())) => "Saved".to_owned(),
                    Some(Err(error)) => error,
                }}
            </span>
        </fieldset>
    }
}

#[component]
fn StorageSettings() -> impl IntoView {
    let services = expect_context::<Services>();
    view! {
        <fieldset class="card">
            <legend>"Storage"</legend>
            <dl class="facts">
                <dt>"Used by Casebook"</dt>
                <dd data-testid="storage-use">{move || match services.storage_use.get() {
                    Some(storage_use) => storage_use.summary(),
                    None => "this browser does not say".to_owned(),
                }}</dd>
                <dt>"Protected from clearing"</dt>
                <dd data-testid="storage-persistent">{move || match services.storage_persistent.get() {
                    None => "checking…",
                    Some(true) => "yes: the browser will not delete your memory to free space",
                    Some(false) => "not yet: the browser may clear it when the disk is full (installing Casebook usually changes that); export regularly",
                }}</dd>
            </dl>
            {move || services.storage_use.get().and_then(|storage_use| storage_use.warning()).map(|warning| view! {
                <p class="error" role="alert">{warning}</p>
            })}
        </fieldset>
    }
}

#[component]
fn Diagnostics() -> impl IntoView {
    let services = expect_context::<Services>();
    let ping_text = RwSignal::new("hello from the page".to_owned());
    let ping_result = RwSignal::new(None::<Result<String, String>>);
    let pinging = RwSignal::new(false);

    let ping = move || {
        pinging.set(true);
        let text = ping_text.get_untracked();
        spawn_local(async move {
            let result = services
                .ping_worker(text)
                .await
                .map(|(echo, round_trip)| {
                    format!("The worker answered “{echo}” in {round_trip:.1} ms")
                })
                .map_err(|error| error.to_string());
            ping_result.set(Some(result));
            pinging.set(false);
        });
    };

    view! {
        <fieldset class="card">
            <legend>"Diagnostics"</legend>
            <dl class="facts">
                <dt>"Background worker"</dt>
                <dd data-testid="worker-info">{move || match services.worker_state.get() {
                    WorkerState::Starting => "starting…".to_owned(),
                    WorkerState::Ready { info, .. } => format!(
                        "version {}, SIMD {}",
                        info.version,
                        if info.simd128 { "on" } else { "off" }
                    ),
                    WorkerState::Failed(error) => error,
                }}</dd>
                <dt>"Memory store"</dt>
                <dd data-testid="db-info">{move || match services.db.get() {
                    DbState::Opening => "opening…".to_owned(),
                    DbState::Ready(db) => format!(
                        "IndexedDB version {}: {}",
                        db.version(),
                        db.store_names().join(", ")
                    ),
                    DbState::Failed(error) => error,
                }}</dd>
            </dl>
            <form class="inline" on:submit=move |event| {
                event.prevent_default();
                ping();
            }>
                <label for="ping-text">"Message to the worker"</label>
                <input id="ping-text" type="text" bind:value=ping_text/>
                <button type="submit" disabled=move || pinging.get()>"Send"</button>
            </form>
            <p data-testid="ping-result" role="status">{move || match ping_result.get() {
                None => String::new(),
                Some(Ok(text)) | Some(Err(text)) => text,
            }}</p>
        </fieldset>
    }
}

/// Lets the user see the embedding model at work: how similar two texts are to it.
#[component]
fn CompareTexts() -> impl IntoView {
    let services = expect_context::<Services>();
    let first = RwSignal::new("How do I reset my password?".to_owned());
    let second = RwSignal::new("Steps to recover a forgotten account password".to_owned());
    let result = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let compare = move || {
        busy.set(true);
        let (a, b) = (first.get_untracked(), second.get_untracked());
        spawn_local(async move {
            let outcome = services
                .compare_texts(a, b)
                .await
                .map(|(similarity, took)| {
                    format!("Similarity {similarity:.3} (embedded in {took:.0} ms)")
                })
                .map_err(|error| error.to_string());
            result.set(Some(outcome));
            busy.set(false);
        });
    };
    view! {
        <fieldset class="card">
            <legend>"Similar texts"</legend>
            <p class="hint">"Memories are found by meaning: compare two texts the way retrieval does."</p>
            <form class="stacked" on:submit=move |event| {
                event.prevent_default();
                compare();
            }>
                <label for="compare-first">"First text"</label>
                <input id="compare-first" type="text" bind:value=first/>
                <label for="compare-second">"Second text"</label>
                <input id="compare-second" type="text" bind:value=second/>
                <button type="submit" disabled=move || busy.get()>"Compare"</button>
            </form>
            <p data-testid="compare-result" role="status">{move || match result.get() {
                _ if busy.get() => "Comparing…".to_owned(),
                None => String::new(),
                Some(Ok(text)) | Some(Err(text)) => text,
            }}</p>
        </fieldset>
    }
}
