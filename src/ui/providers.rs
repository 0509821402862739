//! Settings → Providers (the LLM profiles answers come from, and their keys)
//! and Settings → Chat (how much memory and history goes into a prompt).

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::services::Services;
use crate::core::chat::{check_chat_settings, ProviderSettings};
use crate::core::compose::ComposeConfig;
use crate::core::llm::{normalize_base_url, ApiKey, ProviderKind, ProviderProfile, PRESETS};
use crate::core::schema::stores;
use crate::core::settings::keys;
use crate::web::db::Db;
use crate::web::llm::{self, KeyPlace};

/// A new id for a record the page creates: a prefix, the time and a random part.
pub fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}{:011x}{:016x}",
        js_sys::Date::now() as u64,
        random_u64()
    )
}

/// 64 random bits (for ids, not secrets).
pub fn random_u64() -> u64 {
    let half = || (js_sys::Math::random() * 4_294_967_296.0) as u64;
    (half() << 32) | half()
}

/// Calls `load` with the database once it is open (once per component).
fn when_db_ready(services: Services, load: impl Fn(Db) + 'static) {
    let started = StoredValue::new(false);
    Effect::new(move |_| {
        if let Some(db) = services.ready_db() {
            if !started.get_value() {
                started.set_value(true);
                load(db);
            }
        }
    });
}

#[component]
pub fn ProviderSettingsCard() -> impl IntoView {
    let services = expect_context::<Services>();
    let settings = RwSignal::new(None::<ProviderSettings>);
    let load_error = RwSignal::new(None::<String>);
    let editing = RwSignal::new(None::<ProviderProfile>);
    let status = RwSignal::new(None::<Result<String, String>>);
    let preset = RwSignal::new(PRESETS[0].id.to_owned());

    when_db_ready(services, move |db| {
        spawn_local(async move {
            match llm::provider_settings(&db).await {
                Ok(loaded) => settings.set(Some(loaded)),
                Err(error) => load_error.set(Some(format!(
                    "The provider settings could not be read: {error}"
                ))),
            }
        });
    });

    let save_settings = move |changed: ProviderSettings, done: String| {
        let Some(db) = services.ready_db() else {
            status.set(Some(Err(
                "Not saved: the memory store is not open (see the status bar).".into(),
            )));
            return;
        };
        spawn_local(async move {
            match llm::save_provider_settings(&db, &changed).await {
                Ok(()) => {
                    settings.set(Some(changed));
                    status.set(Some(Ok(done)));
                }
                Err(error) => status.set(Some(Err(format!("Not saved: {error}")))),
            }
        });
    };

    let add = move |_| {
        let Some(found) = PRESETS.iter().find(|p| p.id == preset.get_untracked()) else {
            return;
        };
        status.set(None);
        editing.set(Some(found.profile(new_id("p"))));
    };

    let editor_done = move |saved: Option<ProviderProfile>| {
        editing.set(None);
        if let (Some(saved), Some(mut changed)) = (saved, settings.get_untracked()) {
            let name = saved.name.clone();
            changed.upsert(saved);
            save_settings(changed, format!("Saved {name}"));
        }
    };

    let profiles = move || {
        settings
            .get()
            .map(|settings| settings.profiles.clone())
            .unwrap_or_default()
    };
    let default_id = move || {
        settings
            .get()
            .and_then(|settings| settings.default_profile().map(|p| p.id.clone()))
    };

    view! {
        <fieldset class="card providers" data-testid="provider-settings">
            <legend>"Providers"</legend>
            <p class="hint">
                "The LLM that writes the answers. API keys stay in this browser: they are kept apart from "
                "the profiles, never exported, and sent only to their own provider's address."
            </p>
            {move || load_error.get().map(|error| view! { <p class="error" role="alert">{error}</p> })}
            {move || (settings.get().is_some() && profiles().is_empty()).then(|| view! {
                <p class="muted">"No provider yet: add one below. Local servers (Ollama, LM Studio, llama.cpp) need no key."</p>
            })}
            <ul class="profile-list">
                <For each=profiles key=|profile| format!("{profile:?}") let:profile>
                    {
                        let id = profile.id.clone();
                        let is_default = {
                            let id = id.clone();
                            Memo::new(move |_| default_id().as_deref() == Some(id.as_str()))
                        };
                        let edit_profile = profile.clone();
                        let make_default = {
                            let id = id.clone();
                            move |_| {
                                if let Some(mut changed) = settings.get_untracked() {
                                    changed.default_profile = Some(id.clone());
                                    save_settings(changed, "Default provider changed".into());
                                }
                            }
                        };
                        let remove = {
                            let id = id.clone();
                            move |_| {
                                if let Some(mut changed) = settings.get_untracked() {
                                    changed.remove(&id);
                                    let id = id.clone();
                                    if let Some(db) = services.ready_db() {
                                        // The key goes with its profile.
                                        spawn_local(async move {
                                            let _ = llm::set_key(&db, &id, "", false).await;
                                        });
                                    }
                                    save_settings(changed, "Provider removed".into());
                                }
                            }
                        };
                        view! {
                            <li class="profile" data-testid="provider-profile">
                                <div class="profile-summary">
                                    <strong>{profile.name.clone()}</strong>
                                    {move || is_default.get().then(|| view! { <span class="badge">"default"</span> })}
                                    <span class="muted">
                                        {format!(" {} · {} · {}", profile.kind.label(), profile.base_url,
                                            if profile.model.is_empty() { "no model chosen" } else { profile.model.as_str() })}
                                    </span>
                                </div>
                                <div class="actions">
                                    <button type="button" on:click=move |_| { status.set(None); editing.set(Some(edit_profile.clone())) }>
                                        {format!("Edit {}", profile.name)}
                                    </button>
                                    {
                                        move || (!is_default.get()).then(|| view! {
                                            <button type="button" on:click=make_default.clone()>"Make default"</button>
                                        })
                                    }
                                    <button type="button" class="danger" on:click=remove>
                                        {format!("Delete {}", profile.name)}
                                    </button>
                                </div>
                            </li>
                        }
                    }
                </For>
            </ul>
            <div class="inline add-provider">
                <label for="provider-preset">"Add a provider"</label>
                <select id="provider-preset" prop:value=move || preset.get()
                    on:change=move |event| preset.set(event_target_value(&event))>
                    {PRESETS.iter().map(|p| view! { <option value=p.id>{p.name}</option> }).collect_view()}
                </select>
                <button type="button" on:click=add>"Add"</button>
            </div>
            {move || editing.get().map(|profile| view! {
                <ProfileEditor profile=profile on_done=editor_done/>
            })}
            <p class="save-status" role="status" data-testid="provider-status">
                {move || match status.get() {
                    None => String::new(),
                    Some(Ok(text)) | Some(Err(text)) => text,
                }}
            </p>
        </fieldset>
    }
}

/// The form for one profile. Nothing is stored until "Save"; the key is
/// stored apart from the profile.
#[component]
fn ProfileEditor(
    profile: ProviderProfile,
    on_done: impl Fn(Option<ProviderProfile>) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let services = expect_context::<Services>();
    let id = profile.id.clone();
    let name = RwSignal::new(profile.name.clone());
    let kind = RwSignal::new(profile.kind);
    let base_url = RwSignal::new(profile.base_url.clone());
    let model = RwSignal::new(profile.model.clone());
    let temperature = RwSignal::new(
        profile
            .temperature
            .map(|t| t.to_string())
            .unwrap_or_default(),
    );
    let max_tokens = RwSignal::new(
        profile
            .max_tokens
            .map(|t| t.to_string())
            .unwrap_or_default(),
    );
    let key_text = RwSignal::new(String::new());
    let session_only = RwSignal::new(false);
    let key_place = RwSignal::new(KeyPlace::None);
    let models = RwSignal::new(Vec::<String>::new());
    let models_status = RwSignal::new(None::<Result<String, String>>);
    let errors = RwSignal::new(Vec::<String>::new());
    let saving = RwSignal::new(false);

    {
        let id = id.clone();
        when_db_ready(services, move |db| {
            let id = id.clone();
            spawn_local(async move {
                if let Ok(place) = llm::key_place(&db, &id).await {
                    key_place.set(place);
                    session_only.set(place == KeyPlace::Session);
                }
            });
        });
    }

    // The profile as the form says, or every problem with it.
    let checked_profile = {
        let id = id.clone();
        move || -> Result<ProviderProfile, Vec<String>> {
            let mut problems = Vec::new();
            let name_text = name.get_untracked().trim().to_owned();
            if name_text.is_empty() {
                problems.push("Name: give the profile a name.".to_owned());
            }
            let kind_value = kind.get_untracked();
            let base = match normalize_base_url(kind_value, &base_url.get_untracked()) {
                Ok(base) => base,
                Err(error) => {
                    problems.push(format!("Base URL: {error}"));
                    String::new()
                }
            };
            let temperature_value = match temperature.get_untracked().trim() {
                "" => None,
                text => match text.parse::<f64>() {
                    Ok(value) if (0.0..=2.0).contains(&value) => Some(value),
                    _ => {
                        problems.push(
                            "Temperature: a number from 0 to 2, or empty for the provider's default."
                                .to_owned(),
                        );
                        None
                    }
                },
            };
            let max_tokens_value = match max_tokens.get_untracked().trim() {
                "" => None,
                text => match text.parse::<u32>() {
                    Ok(value) if value > 0 => Some(value),
                    _ => {
                        problems.push(
                            "Max tokens: a whole number above 0, or empty for the provider's default."
                                .to_owned(),
                        );
                        None
                    }
                },
            };
            if !problems.is_empty() {
                return Err(problems);
            }
            Ok(ProviderProfile {
                id: id.clone(),
                name: name_text,
                kind: kind_value,
                base_url: base,
                model: model.get_untracked().trim().to_owned(),
                temperature: temperature_value,
                max_tokens: max_tokens_value,
            })
        }
    };

    let load_models = {
        let checked_profile = checked_profile.clone();
        let id = id.clone();
        move |_| {
            let profile = match checked_profile() {
                Ok(profile) => profile,
                Err(problems) => {
                    errors.set(problems);
                    return;
                }
            };
            errors.set(Vec::new());
            models_status.set(Some(Ok("Asking the provider for its models…".into())));
            let typed = key_text.get_untracked();
            let db = services.ready_db();
            let id = id.clone();
            spawn_local(async move {
                let key = if typed.trim().is_empty() {
                    match db {
                        Some(db) => llm::key_for(&db, &id).await.map_err(|e| e.to_string()),
                        None => Ok(None),
                    }
                } else {
                    ApiKey::parse(&typed).map_err(|e| e.to_string())
                };
                let result = match key {
                    Ok(key) => llm::list_models(&profile, key.as_ref())
                        .await
                        .map_err(|error| error.to_string()),
                    Err(error) => Err(error),
                };
                match result {
                    Ok(names) => {
                        let count = names.len();
                        // The form may have been closed while the provider answered.
                        if model
                            .try_get_untracked()
                            .is_some_and(|typed| typed.trim().is_empty())
                        {
                            if let Some(first) = names.first() {
                                model.set(first.clone());
                            }
                        }
                        models.set(names);
                        models_status.set(Some(Ok(format!(
                            "{count} model{} available",
                            if count == 1 { "" } else { "s" }
                        ))));
                    }
                    Err(error) => models_status.set(Some(Err(error))),
                }
            });
        }
    };

    let save = {
        let on_done = on_done.clone();
        let id = id.clone();
        move || {
            let profile = match checked_profile() {
                Ok(profile) => profile,
                Err(problems) => {
                    errors.set(problems);
                    return;
                }
            };
            let typed = key_text.get_untracked();
            let session = session_only.get_untracked();
            let place = key_place.get_untracked();
            // A blank key field keeps the key there is, unless only where it
            // is kept changed.
            let key_change = if !typed.trim().is_empty() {
                Some(typed)
            } else {
                None
            };
            let moves_key = key_change.is_none()
                && place != KeyPlace::None
                && (place == KeyPlace::Session) != session;
            let Some(db) = services.ready_db() else {
                errors.set(vec![
                    "Not saved: the memory store is not open (see the status bar).".into(),
                ]);
                return;
            };
            saving.set(true);
            let on_done = on_done.clone();
            let id = id.clone();
            spawn_local(async move {
                let result = match (key_change, moves_key) {
                    (Some(text), _) => llm::set_key(&db, &id, &text, session).await,
                    (None, true) => llm::move_key(&db, &id, session).await,
                    (None, false) => Ok(()),
                };
                saving.set(false);
                match result {
                    Ok(()) => on_done(Some(profile)),
                    Err(error) => errors.set(vec![format!("Key: {error}")]),
                }
            });
        }
    };

    let remove_key = {
        let id = id.clone();
        move |_| {
            let Some(db) = services.ready_db() else {
                return;
            };
            let id = id.clone();
            spawn_local(async move {
                match llm::set_key(&db, &id, "", false).await {
                    Ok(()) => key_place.set(KeyPlace::None),
                    Err(error) => errors.set(vec![format!("Key: {error}")]),
                }
            });
        }
    };

    let cancel = {
        let on_done = on_done.clone();
        move |_| on_done(None)
    };
    let field = |suffix: &str| format!("provider-{suffix}");
    let key_page = PRESETS
        .iter()
        .find(|preset| preset.base_url == profile.base_url)
        .and_then(|preset| preset.key_page);

    view! {
        <form class="stacked profile-editor" data-testid="provider-editor"
            on:submit=move |event| { event.prevent_default(); save(); }
            on:keydown=move |event: leptos::ev::KeyboardEvent| {
                if event.key() == "Escape" { on_done(None); }
            }>
            <label for=field("name")>"Name"</label>
            <input id=field("name") type="text" bind:value=name autofocus/>
            <label for=field("kind")>"API"</label>
            <select id=field("kind")
                prop:value=move || match kind.get() { ProviderKind::Anthropic => "anthropic", ProviderKind::OpenAiCompatible => "openai_compatible" }
                on:change=move |event| kind.set(if event_target_value(&event) == "anthropic" { ProviderKind::Anthropic } else { ProviderKind::OpenAiCompatible })>
                {ProviderKind::ALL.into_iter().map(|k| view! {
                    <option value=match k { ProviderKind::Anthropic => "anthropic", ProviderKind::OpenAiCompatible => "openai_compatible" }>{k.label()}</option>
                }).collect_view()}
            </select>
            <label for=field("base-url")>"Base URL"</label>
            <input id=field("base-url") type="url" bind:value=base_url placeholder="https://api.openai.com/v1"/>
            <label for=field("key")>"API key"</label>
            <input id=field("key") type="password" autocomplete="off" bind:value=key_text
                placeholder=move || match key_place.get() {
                    KeyPlace::None => "none (local servers need none)",
                    KeyPlace::Saved => "saved — type a new one to replace it",
                    KeyPlace::Session => "kept for this session — type a new one to replace it",
                }/>
            {key_page.map(|page| view! {
                <span class="hint">"Create a key at " <a href=page target="_blank" rel="noopener noreferrer">{page}</a></span>
            })}
            <label class="checkbox">
                <input type="checkbox" bind:checked=session_only/>
                "Keep this key for this session only (forgotten when the tab closes)"
            </label>
            {move || (key_place.get() != KeyPlace::None).then(|| view! {
                <button type="button" on:click=remove_key.clone()>"Remove the key"</button>
            })}
            <label for=field("model")>"Model"</label>
            <div class="inline">
                <input id=field("model") type="text" list=field("models") bind:value=model/>
                <datalist id=field("models")>
                    {move || models.get().into_iter().map(|name| view! { <option value=name.clone()></option> }).collect_view()}
                </datalist>
                <button type="button" on:click=load_models>"Load models"</button>
            </div>
            {move || (!models.get().is_empty()).then(|| view! {
                <label for=field("model-pick")>"Models the provider offers"</label>
                <select id=field("model-pick") data-testid="model-picker" prop:value=move || model.get()
                    on:change=move |event| model.set(event_target_value(&event))>
                    {move || models.get().into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
                </select>
            })}
            <span class="hint" role="status" data-testid="models-status">{move || match models_status.get() {
                None => String::new(),
                Some(Ok(text)) | Some(Err(text)) => text,
            }}</span>
            <label for=field("temperature")>"Temperature (empty: the provider's default)"</label>
            <input id=field("temperature") type="text" inputmode="decimal" bind:value=temperature/>
            <label for=field("max-tokens")>"Max tokens per answer (empty: the provider's default)"</label>
            <input id=field("max-tokens") type="text" inputmode="numeric" bind:value=max_tokens/>
            <ul class="errors" role="alert">
                {move || errors.get().into_iter().map(|error| view! { <li class="error">{error}</li> }).collect_view()}
            </ul>
            <div class="actions">
                <button type="submit" class="primary" disabled=move || saving.get()>"Save provider"</button>
                <button type="button" on:click=cancel>"Cancel"</button>
            </div>
        </form>
    }
}

#[component]
pub fn ChatSettingsCard() -> impl IntoView {
    let services = expect_context::<Services>();
    let defaults = ComposeConfig::default();
    let cases = RwSignal::new(defaults.max_cases.to_string());
    let memory = RwSignal::new(defaults.memory_budget.to_string());
    let history = RwSignal::new(defaults.history_budget.to_string());
    let total = RwSignal::new(defaults.total_budget.to_string());
    let status = RwSignal::new(None::<Result<String, String>>);

    when_db_ready(services, move |db| {
        spawn_local(async move {
            if let Ok(Some(config)) = db
                .get_value::<ComposeConfig>(stores::SETTINGS, keys::CHAT)
                .await
            {
                cases.set(config.max_cases.to_string());
                memory.set(config.memory_budget.to_string());
                history.set(config.history_budget.to_string());
                total.set(config.total_budget.to_string());
            }
        });
    });

    let save = move || {
        let number = |signal: RwSignal<String>, what: &str| {
            signal
                .get_untracked()
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("{what}: a whole number."))
        };
        let config = (|| {
            Ok::<_, String>(ComposeConfig {
                max_cases: number(cases, "Cases")?,
                memory_budget: number(memory, "Memory budget")?,
                history_budget: number(history, "History budget")?,
                total_budget: number(total, "Prompt budget")?,
            })
        })()
        .and_then(|config| {
            check_chat_settings(&config)
                .map(|()| config)
                .map_err(|error| error.to_string())
        });
        let config = match config {
            Ok(config) => config,
            Err(error) => {
                status.set(Some(Err(error)));
                return;
            }
        };
        let Some(db) = services.ready_db() else {
            status.set(Some(Err(
                "Not saved: the memory store is not open (see the status bar).".into(),
            )));
            return;
        };
        spawn_local(async move {
            let result = db
                .put_value(stores::SETTINGS, keys::CHAT, &config)
                .await
                .map(|()| "Saved".to_owned())
                .map_err(|error| format!("Not saved: {error}"));
            status.set(Some(result));
        });
    };

    view! {
        <fieldset class="card">
            <legend>"Chat"</legend>
            <p class="hint">"How much of your memory and of the conversation goes into each prompt (in estimated tokens)."</p>
            <form class="stacked" on:submit=move |event| { event.prevent_default(); save(); }>
                <label for="chat-cases">"Past cases per answer (Memento found 4 best)"</label>
                <input id="chat-cases" type="number" min="0" max="20" bind:value=cases/>
                <label for="chat-memory-budget">"Memory budget (facts, notes, documents)"</label>
                <input id="chat-memory-budget" type="number" min="0" bind:value=memory/>
                <label for="chat-history-budget">"History budget (earlier turns)"</label>
                <input id="chat-history-budget" type="number" min="0" bind:value=history/>
                <label for="chat-total-budget">"Prompt budget (everything sent)"</label>
                <input id="chat-total-budget" type="number" min="200" bind:value=total/>
                <button type="submit">"Save chat settings"</button>
            </form>
            <p class="save-status" role="status" data-testid="chat-settings-status">{move || match status.get() {
                None => String::new(),
                Some(Ok(text)) | Some(Err(text)) => text,
            }}</p>
        </fieldset>
    }
}
