//! Export the memory to a file, and import one: the file is checked in full and
//! summarised (a dry run) before anything is written, and then written all at
//! once or not at all. Keys and provider settings are never in the file.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{format_date_time, memories_count, now, Browse};
use crate::core::protocol::MAX_IMPORT_BYTES;
use crate::core::storage::format_bytes;
use crate::core::transfer::{check_file_size, ImportMode, ImportSummary};
use crate::ui::services::Services;
use crate::web::files::download;
use crate::web::{chosen_file, file_bytes};

#[component]
pub fn Transfer() -> impl IntoView {
    view! {
        <div class="transfer">
            <Export/>
            <Import/>
        </div>
    }
}

#[component]
fn Export() -> impl IntoView {
    let services = expect_context::<Services>();
    let browse = expect_context::<Browse>();
    let scope = RwSignal::new(String::new());
    let include_trashed = RwSignal::new(false);
    let include_vectors = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let result = RwSignal::new(None::<Result<String, String>>);

    let export = move || {
        let Ok(worker) = services.worker() else {
            result.set(Some(Err("The background worker is not running.".into())));
            return;
        };
        let pool = Some(scope.get_untracked()).filter(|pool| !pool.is_empty());
        let file_name = export_file_name(pool.as_deref());
        busy.set(true);
        result.set(None);
        spawn_local(async move {
            let outcome = worker
                .export(
                    pool,
                    include_trashed.get_untracked(),
                    include_vectors.get_untracked(),
                )
                .await
                .map_err(|error| error.to_string())
                .and_then(|(json, memories)| {
                    let size = json.len();
                    download(&json, &file_name)
                        .map_err(|error| error.to_string())
                        .map(|()| {
                            format!(
                                "Exported {} to {file_name} ({}).",
                                memories_count(memories),
                                format_bytes(size as f64)
                            )
                        })
                });
            result.set(Some(outcome));
            busy.set(false);
        });
    };

    view! {
        <fieldset class="card">
            <legend>"Export"</legend>
            <p class="hint">
                "Saves your memories, their history, pools and assistants to a JSON file you can keep as a backup "
                "or import elsewhere. API keys and provider settings are never included."
            </p>
            <div class="form-row">
                <label for="export-scope">"What"</label>
                <select id="export-scope" prop:value=move || scope.get()
                    on:change=move |event| scope.set(event_target_value(&event))>
                    <option value="">"Everything"</option>
                    {move || browse.pools.get().into_iter().map(|pool| view! {
                        <option value=pool.id.clone()>{format!("Only the pool “{}”", pool.name)}</option>
                    }).collect_view()}
                </select>
            </div>
            <label class="checkbox">
                <input type="checkbox" prop:checked=move || include_trashed.get()
                    on:change=move |event| include_trashed.set(event_target_checked(&event))/>
                "Include the trash"
            </label>
            <label class="checkbox">
                <input type="checkbox" prop:checked=move || include_vectors.get()
                    on:change=move |event| include_vectors.set(event_target_checked(&event))/>
                "Include the vectors (a much larger file; an app with the same model then need not embed the memories again)"
            </label>
            <div class="editor-actions">
                <button type="button" class="primary" data-testid="export" disabled=move || busy.get()
                    on:click=move |_| export()>{move || if busy.get() { "Exporting…" } else { "Export" }}</button>
            </div>
            {move || result.get().map(|result| match result {
                Ok(text) => view! { <p role="status" data-testid="export-result">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error" role="alert" data-testid="export-result">{text}</p> }.into_any(),
            })}
        </fieldset>
    }
}

/// Where an import stands.
#[derive(Clone, PartialEq)]
enum Step {
    Idle,
    Reading,
    Checking,
    Checked(ImportSummary),
    Importing,
    Imported(ImportSummary),
    Refused(String),
}

#[component]
fn Import() -> impl IntoView {
    let services = expect_context::<Services>();
    let browse = expect_context::<Browse>();
    let mode = RwSignal::new(ImportMode::Merge);
    let step = RwSignal::new(Step::Idle);
    let file = StoredValue::new(None::<(String, Vec<u8>)>);
    let file_name = RwSignal::new(None::<String>);

    let check = move || {
        let Some((_, bytes)) = file.get_value() else {
            return;
        };
        let Ok(worker) = services.worker() else {
            step.set(Step::Refused(
                "The background worker is not running.".into(),
            ));
            return;
        };
        step.set(Step::Checking);
        let mode = mode.get_untracked();
        spawn_local(async move {
            step.set(match worker.check_import(bytes, mode).await {
                Ok(summary) => Step::Checked(summary),
                Err(error) => Step::Refused(error.to_string()),
            });
        });
    };
    let on_file = move |event: leptos::ev::Event| {
        let Some(chosen) = chosen_file(&event) else {
            return;
        };
        let name = chosen.name();
        file_name.set(Some(name.clone()));
        file.set_value(None);
        if let Err(error) = check_file_size(chosen.size() as u64, MAX_IMPORT_BYTES) {
            step.set(Step::Refused(format!(
                "This file cannot be imported: {error}."
            )));
            return;
        }
        step.set(Step::Reading);
        spawn_local(async move {
            match file_bytes(&chosen).await {
                Ok(bytes) => {
                    file.set_value(Some((name, bytes)));
                    check();
                }
                Err(error) => step.set(Step::Refused(format!(
                    "The file could not be read: {error}"
                ))),
            }
        });
    };
    let import = move || {
        let Some((_, bytes)) = file.get_value() else {
            return;
        };
        let Ok(worker) = services.worker() else {
            return;
        };
        step.set(Step::Importing);
        let mode = mode.get_untracked();
        spawn_local(async move {
            step.set(match worker.import(bytes, mode).await {
                Ok((summary, _)) => {
                    file.set_value(None);
                    Step::Imported(summary)
                }
                Err(error) => Step::Refused(error.to_string()),
            });
            browse.changed();
        });
    };
    let set_mode = move |chosen: ImportMode| {
        mode.set(chosen);
        if file.with_value(Option::is_some) {
            check();
        }
    };

    view! {
        <fieldset class="card">
            <legend>"Import"</legend>
            <p class="hint">
                "Brings in a Casebook export file. The whole file is checked first and you see what it would change; "
                "nothing is written until you confirm, and then everything is written at once or nothing is."
            </p>
            <fieldset class="search-mode">
                <legend>"How"</legend>
                <label>
                    <input type="radio" name="import-mode" value="merge" prop:checked=move || mode.get() == ImportMode::Merge
                        on:change=move |_| set_mode(ImportMode::Merge)/>
                    "Merge: add what is new; where both have a memory, the newer revision wins"
                </label>
                <label>
                    <input type="radio" name="import-mode" value="replace" prop:checked=move || mode.get() == ImportMode::Replace
                        on:change=move |_| set_mode(ImportMode::Replace)/>
                    "Replace: your memory (or the file's pool) becomes exactly the file's contents"
                </label>
            </fieldset>
            <label for="import-file">"Export file"</label>
            <input id="import-file" type="file" accept=".json,application/json" data-testid="import-file"
                on:change=on_file/>
            <div class="import-step" data-testid="import-step">
                {move || match step.get() {
                    Step::Idle => ().into_any(),
                    Step::Reading => view! { <p role="status">"Reading the file…"</p> }.into_any(),
                    Step::Checking => view! { <p role="status">"Checking every record in the file…"</p> }.into_any(),
                    Step::Checked(summary) => {
                        let replace = summary.mode == ImportMode::Replace;
                        let deletes = summary.deleted_memories;
                        view! {
                            <div class="import-summary" role="status">
                                <p><strong>"The file is valid. Importing it would change this:"</strong></p>
                                <p data-testid="import-summary">{summary.to_string()}</p>
                                {(replace && deletes > 0).then(|| view! {
                                    <p class="error">{format!("Replacing deletes {} that the file does not have.", memories_count(deletes))}</p>
                                })}
                                <button type="button" class="primary" data-testid="confirm-import"
                                    on:click=move |_| import()>
                                    {if replace { "Replace with the file" } else { "Import" }}
                                </button>
                                <button type="button" on:click=move |_| {
                                    file.set_value(None);
                                    step.set(Step::Idle);
                                }>"Cancel"</button>
                            </div>
                        }.into_any()
                    }
                    Step::Importing => view! { <p role="status">"Importing…"</p> }.into_any(),
                    Step::Imported(summary) => view! {
                        <p role="status" data-testid="import-result">
                            {format!("Imported {} at {}. {summary}", file_name.get().unwrap_or_default(), format_date_time(now()))}
                        </p>
                    }.into_any(),
                    Step::Refused(message) => view! {
                        <p class="error" role="alert" data-testid="import-error">{message}</p>
                        <p class="hint">"Nothing was changed."</p>
                    }.into_any(),
                }}
            </div>
        </fieldset>
    }
}

/// "casebook-2026-01-31.json", or with the pool: "casebook-work-2026-01-31.json".
pub fn export_file_name(pool: Option<&str>) -> String {
    let date = js_sys::Date::new_0();
    let day = format!(
        "{:04}-{:02}-{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date()
    );
    match pool {
        None => format!("casebook-{day}.json"),
        Some(pool) => {
            let safe: String = pool
                .chars()
                .map(|character| {
                    if character.is_alphanumeric() {
                        character
                    } else {
                        '-'
                    }
                })
                .collect();
            format!("casebook-{safe}-{day}.json")
        }
    }
}
