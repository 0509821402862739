//! Settings → Assistants and memory pools: create, edit and delete assistants
//! (a name, a system prompt, a provider profile, the pool they write into and
//! the pools they also read) and the pools themselves. The rules (names, which
//! pool may be deleted) are `core::assistant`'s.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::services::Services;
use crate::core::assistant::{
    check_assistant, check_assistant_deletion, check_name, check_pool_deletion, new_id, pool_name,
    with_defaults, without_pool, Assistant, Pool,
};
use crate::core::bank::MemoryFilter;
use crate::core::listing::ListQuery;
use crate::core::memory::DEFAULT_POOL;
use crate::core::schema::stores;
use crate::web::db::Db;
use crate::web::llm;

/// The card's state.
#[derive(Clone, Copy)]
struct Roster {
    services: Services,
    pools: RwSignal<Vec<Pool>>,
    assistants: RwSignal<Vec<Assistant>>,
    /// Provider profiles (id, name) an assistant can answer with.
    profiles: RwSignal<Vec<(String, String)>>,
    /// The assistant being edited (`id` empty: a new one).
    editing: RwSignal<Option<Assistant>>,
    status: RwSignal<Option<Result<String, String>>>,
}

impl Roster {
    fn db(&self) -> Result<Db, String> {
        self.services.ready_db().ok_or_else(|| {
            "Not saved: the memory store is not open (see the status bar).".to_owned()
        })
    }

    async fn load(self, db: Db) {
        let pools = db.all::<Pool>(stores::POOLS).await;
        let assistants = db.all::<Assistant>(stores::ASSISTANTS).await;
        match (pools, assistants) {
            (Ok(pools), Ok(assistants)) => {
                let (pools, assistants) = with_defaults(pools, assistants);
                self.pools.set(pools);
                self.assistants.set(assistants);
            }
            (Err(error), _) | (_, Err(error)) => self.status.set(Some(Err(format!(
                "The assistants and pools could not be read: {error}"
            )))),
        }
        if let Ok(settings) = llm::provider_settings(&db).await {
            self.profiles.set(
                settings
                    .profiles
                    .into_iter()
                    .map(|profile| (profile.id, profile.name))
                    .collect(),
            );
        }
    }

    fn pool_name(&self, id: &str) -> String {
        self.pools.with(|pools| pool_name(pools, id))
    }

    fn add_pool(self, name: String, done: impl FnOnce() + 'static) {
        let name = match check_name(&name) {
            Ok(name) => name,
            Err(error) => return self.status.set(Some(Err(error.to_string()))),
        };
        let taken: Vec<String> = self
            .pools
            .with_untracked(|pools| pools.iter().map(|pool| pool.id.clone()).collect());
        let taken: Vec<&str> = taken.iter().map(String::as_str).collect();
        let pool = Pool {
            id: new_id(&name, &taken),
            name,
            description: String::new(),
        };
        let db = match self.db() {
            Ok(db) => db,
            Err(error) => return self.status.set(Some(Err(error))),
        };
        spawn_local(async move {
            match db.put(stores::POOLS, &pool).await {
                Ok(()) => {
                    self.status
                        .set(Some(Ok(format!("Added the pool {}.", pool.name))));
                    self.pools.update(|pools| pools.push(pool));
                    done();
                }
                Err(error) => self
                    .status
                    .set(Some(Err(format!("The pool could not be saved: {error}")))),
            }
        });
    }

    /// Deletes pool `id` if no assistant writes into it and it holds no memory
    /// (live or in the trash); assistants that read it stop reading it.
    async fn delete_pool(self, id: String) {
        let outcome = async {
            let db = self.db()?;
            let worker = self.services.worker().map_err(|e| e.to_string())?;
            let mut memories = 0;
            for trash in [false, true] {
                memories += worker
                    .list_memories(ListQuery {
                        filter: MemoryFilter {
                            pools: vec![id.clone()],
                            ..MemoryFilter::default()
                        },
                        trash,
                        limit: 1,
                        ..ListQuery::default()
                    })
                    .await
                    .map_err(|error| format!("The pool's memories could not be counted: {error}"))?
                    .total;
            }
            let assistants = self.assistants.get_untracked();
            check_pool_deletion(&id, &assistants, memories).map_err(|error| error.to_string())?;
            for changed in without_pool(&assistants, &id)
                .into_iter()
                .filter(|changed| !assistants.contains(changed))
            {
                db.put(stores::ASSISTANTS, &changed)
                    .await
                    .map_err(|error| error.to_string())?;
            }
            db.delete(stores::POOLS, &id)
                .await
                .map_err(|error| error.to_string())?;
            self.assistants.set(without_pool(&assistants, &id));
            Ok::<_, String>(())
        };
        let name = self.pool_name(&id);
        match outcome.await {
            Ok(()) => {
                self.pools
                    .update(|pools| pools.retain(|pool| pool.id != id));
                self.status
                    .set(Some(Ok(format!("Deleted the pool {name}."))));
            }
            Err(error) => self
                .status
                .set(Some(Err(format!("{name} was not deleted: {error}")))),
        }
    }

    fn save_assistant(self, draft: Assistant) {
        let pools = self.pools.get_untracked();
        let mut checked = match check_assistant(&draft, &pools) {
            Ok(checked) => checked,
            Err(error) => return self.status.set(Some(Err(error.to_string()))),
        };
        if checked.id.is_empty() {
            let taken: Vec<String> = self
                .assistants
                .with_untracked(|all| all.iter().map(|a| a.id.clone()).collect());
            let taken: Vec<&str> = taken.iter().map(String::as_str).collect();
            checked.id = new_id(&checked.name, &taken);
        }
        let db = match self.db() {
            Ok(db) => db,
            Err(error) => return self.status.set(Some(Err(error))),
        };
        spawn_local(async move {
            match db.put(stores::ASSISTANTS, &checked).await {
                Ok(()) => {
                    self.status
                        .set(Some(Ok(format!("Saved the assistant {}.", checked.name))));
                    self.assistants.update(|all| {
                        match all.iter_mut().find(|a| a.id == checked.id) {
                            Some(existing) => *existing = checked,
                            None => all.push(checked),
                        }
                    });
                    self.editing.set(None);
                }
                Err(error) => self.status.set(Some(Err(format!(
                    "The assistant could not be saved: {error}"
                )))),
            }
        });
    }

    fn delete_assistant(self, assistant: Assistant) {
        if let Err(error) = check_assistant_deletion(&assistant.id) {
            return self.status.set(Some(Err(error.to_string())));
        }
        let db = match self.db() {
            Ok(db) => db,
            Err(error) => return self.status.set(Some(Err(error))),
        };
        spawn_local(async move {
            match db.delete(stores::ASSISTANTS, &assistant.id).await {
                Ok(()) => {
                    self.assistants
                        .update(|all| all.retain(|a| a.id != assistant.id));
                    self.status.set(Some(Ok(format!(
                        "Deleted the assistant {} (its pool and memories are kept).",
                        assistant.name
                    ))));
                }
                Err(error) => self.status.set(Some(Err(format!(
                    "The assistant could not be deleted: {error}"
                )))),
            }
        });
    }
}

#[component]
pub fn AssistantsCard() -> impl IntoView {
    let services = expect_context::<Services>();
    let roster = Roster {
        services,
        pools: RwSignal::new(vec![Pool::default_pool()]),
        assistants: RwSignal::new(vec![Assistant::default_assistant()]),
        profiles: RwSignal::new(Vec::new()),
        editing: RwSignal::new(None),
        status: RwSignal::new(None),
    };
    let started = StoredValue::new(false);
    Effect::new(move |_| {
        if let Some(db) = services.ready_db() {
            if !started.get_value() {
                started.set_value(true);
                spawn_local(roster.load(db));
            }
        }
    });
    let new_pool = RwSignal::new(String::new());

    view! {
        <fieldset class="card assistants">
            <legend>"Assistants and memory pools"</legend>
            <p class="hint">
                "Each assistant writes what it learns into its own pool and can also read shared pools; "
                "the chat's assistant picker offers every assistant here."
            </p>
            <h3>"Assistants"</h3>
            <ul class="roster" data-testid="assistant-list">
                {move || roster.assistants.get().into_iter().map(|assistant| {
                    let reads = assistant.shared_pools.iter().map(|id| roster.pool_name(id)).collect::<Vec<_>>();
                    let provider = assistant.profile_id.as_ref().map_or_else(
                        || "the default provider".to_owned(),
                        |id| roster.profiles.with(|profiles| {
                            profiles.iter().find(|(known, _)| known == id)
                                .map_or_else(|| id.clone(), |(_, name)| name.clone())
                        }),
                    );
                    let summary = format!(
                        "writes to {}{}, answers with {provider}",
                        roster.pool_name(&assistant.pool),
                        if reads.is_empty() { String::new() } else { format!(", also reads {}", reads.join(", ")) },
                    );
                    let edited = assistant.clone();
                    let deleted = assistant.clone();
                    let name = assistant.name.clone();
                    view! {
                        <li>
                            <strong>{assistant.name.clone()}</strong>
                            <span class="hint">{summary}</span>
                            <button type="button" aria-label=format!("Edit {name}")
                                on:click=move |_| roster.editing.set(Some(edited.clone()))>"Edit"</button>
                            <button type="button" class="danger" aria-label=format!("Delete {name}")
                                on:click=move |_| roster.delete_assistant(deleted.clone())>"Delete"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <button type="button" on:click=move |_| roster.editing.set(Some(Assistant {
                id: String::new(),
                name: String::new(),
                pool: DEFAULT_POOL.to_owned(),
                ..Assistant::default_assistant()
            }))>"New assistant"</button>
            {move || roster.editing.get().map(|_| view! { <AssistantEditor roster=roster/> })}

            <h3>"Memory pools"</h3>
            <ul class="roster" data-testid="pool-list">
                {move || roster.pools.get().into_iter().map(|pool| {
                    let id = pool.id.clone();
                    let name = pool.name.clone();
                    view! {
                        <li>
                            <strong>{pool.name.clone()}</strong>
                            <span class="hint">{pool.id.clone()}</span>
                            <button type="button" class="danger" aria-label=format!("Delete the pool {name}")
                                on:click=move |_| spawn_local(roster.delete_pool(id.clone()))>"Delete"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <form class="inline" on:submit=move |event| {
                event.prevent_default();
                roster.add_pool(new_pool.get_untracked(), move || new_pool.set(String::new()));
            }>
                <label for="new-pool">"New pool"</label>
                <input id="new-pool" type="text" placeholder="e.g. Work" prop:value=move || new_pool.get()
                    on:input=move |event| new_pool.set(event_target_value(&event))/>
                <button type="submit">"Add pool"</button>
            </form>
            {move || roster.status.get().map(|status| match status {
                Ok(text) => view! { <p role="status" data-testid="roster-status">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error" role="alert" data-testid="roster-status">{text}</p> }.into_any(),
            })}
        </fieldset>
    }
}

#[component]
fn AssistantEditor(roster: Roster) -> impl IntoView {
    let draft = RwSignal::new(
        roster
            .editing
            .get_untracked()
            .unwrap_or_else(Assistant::default_assistant),
    );
    let field = move |change: fn(&mut Assistant, String)| {
        move |event: leptos::ev::Event| {
            let value = event_target_value(&event);
            draft.update(|draft| change(draft, value));
        }
    };
    let is_new = draft.with_untracked(|draft| draft.id.is_empty());
    view! {
        <form class="stacked assistant-editor" data-testid="assistant-editor" on:submit=move |event| {
            event.prevent_default();
            roster.save_assistant(draft.get_untracked());
        }>
            <h4>{if is_new { "New assistant" } else { "Edit assistant" }}</h4>
            <label for="assistant-name">"Name"</label>
            <input id="assistant-name" type="text" prop:value=move || draft.with(|d| d.name.clone())
                on:input=field(|d, value| d.name = value)/>
            <label for="assistant-prompt">"System prompt"</label>
            <textarea id="assistant-prompt" rows="3" prop:value=move || draft.with(|d| d.system_prompt.clone())
                on:input=field(|d, value| d.system_prompt = value)></textarea>
            <label for="assistant-provider">"Provider"</label>
            <select id="assistant-provider" prop:value=move || draft.with(|d| d.profile_id.clone().unwrap_or_default())
                on:change=field(|d, value| d.profile_id = Some(value).filter(|id| !id.is_empty()))>
                <option value="">"The default provider"</option>
                {move || roster.profiles.get().into_iter().map(|(id, name)| view! {
                    <option value=id>{name}</option>
                }).collect_view()}
            </select>
            <label for="assistant-pool">"Writes into the pool"</label>
            <select id="assistant-pool" prop:value=move || draft.with(|d| d.pool.clone())
                on:change=field(|d, value| {
                    d.shared_pools.retain(|pool| *pool != value);
                    d.pool = value;
                })>
                {move || roster.pools.get().into_iter().map(|pool| view! {
                    <option value=pool.id.clone()>{pool.name.clone()}</option>
                }).collect_view()}
            </select>
            <fieldset class="shared-pools">
                <legend>"Also reads"</legend>
                {move || {
                    let own = draft.with(|d| d.pool.clone());
                    roster.pools.get().into_iter().filter(|pool| pool.id != own).map(|pool| {
                        let id = pool.id.clone();
                        let checked_id = pool.id.clone();
                        view! {
                            <label class="checkbox">
                                <input type="checkbox"
                                    prop:checked=move || draft.with(|d| d.shared_pools.contains(&checked_id))
                                    on:change=move |event| {
                                        let on = event_target_checked(&event);
                                        draft.update(|d| {
                                            d.shared_pools.retain(|pool| *pool != id);
                                            if on {
                                                d.shared_pools.push(id.clone());
                                            }
                                        });
                                    }/>
                                {pool.name.clone()}
                            </label>
                        }
                    }).collect_view()
                }}
            </fieldset>
            <div class="actions">
                <button type="submit" class="primary">"Save assistant"</button>
                <button type="button" on:click=move |_| roster.editing.set(None)>"Cancel"</button>
            </div>
        </form>
    }
}
