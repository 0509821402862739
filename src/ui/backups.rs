//! Scheduled backups (Settings → Backups): how often, into which file, the
//! check that writes a due backup by itself where the browser allows it, and
//! the reminder shown where it does not.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::memory::{export_file_name, format_date_time, memories_count, now};
use super::services::Services;
use crate::core::backup::{BackupInterval, BackupSettings};
use crate::core::schema::stores;
use crate::core::settings::keys;
use crate::web::db::Db;
use crate::web::files;

/// How often the open app looks for a due backup.
const CHECK_EVERY: Duration = Duration::from_secs(10 * 60);

/// Name offered for the file that scheduled backups replace each time.
const BACKUP_FILE_NAME: &str = "casebook-backup.json";

/// The backup state every page shares (the reminder sits above them all).
#[derive(Clone, Copy)]
pub struct Backups {
    services: Services,
    pub settings: RwSignal<BackupSettings>,
    /// The name of the file backups are written to, if the user chose one.
    pub file: RwSignal<Option<String>>,
    pub reminding: RwSignal<bool>,
    pub busy: RwSignal<bool>,
    /// What the last backup attempt did, in words.
    pub outcome: RwSignal<Option<Result<String, String>>>,
}

/// Creates the backup state and starts the checks: once the store opens, then
/// every [`CHECK_EVERY`].
pub fn provide_backups() {
    let services = expect_context::<Services>();
    let backups = Backups {
        services,
        settings: RwSignal::new(BackupSettings::default()),
        file: RwSignal::new(None),
        reminding: RwSignal::new(false),
        busy: RwSignal::new(false),
        outcome: RwSignal::new(None),
    };
    provide_context(backups);
    let started = StoredValue::new(false);
    Effect::new(move |_| {
        if services.ready_db().is_none() || started.get_value() {
            return;
        }
        started.set_value(true);
        spawn_local(backups.check());
        set_interval(move || spawn_local(backups.check()), CHECK_EVERY);
    });
}

impl Backups {
    fn db(&self) -> Result<Db, String> {
        self.services
            .ready_db()
            .ok_or_else(|| "The memory store is not open (see the status bar).".to_owned())
    }

    /// Reads the schedule afresh (another tab may have backed up since).
    async fn load(self, db: &Db) -> BackupSettings {
        let settings: BackupSettings = db
            .get_value(stores::SETTINGS, keys::BACKUP)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let file = db
            .get_object(stores::SETTINGS, keys::BACKUP_FILE)
            .await
            .ok()
            .flatten();
        self.file.set(file.as_ref().map(files::file_name));
        self.settings.set(settings.clone());
        settings
    }

    async fn save(self, db: &Db, settings: BackupSettings) -> Result<(), String> {
        db.put_value(stores::SETTINGS, keys::BACKUP, &settings)
            .await
            .map_err(|error| format!("The backup settings could not be saved: {error}"))?;
        self.settings.set(settings);
        Ok(())
    }

    /// Writes a due backup into the chosen file if the browser still allows
    /// it; otherwise reminds the user.
    async fn check(self) {
        let Ok(db) = self.db() else {
            return;
        };
        let settings = self.load(&db).await;
        if !settings.is_due(now()) || self.busy.get_untracked() {
            self.reminding.set(false);
            return;
        }
        if self.file.get_untracked().is_some() {
            let outcome = self.back_up(false).await;
            let written = outcome.is_ok();
            self.outcome.set(Some(outcome));
            if written {
                return;
            }
        }
        self.reminding.set(settings.should_remind(now()));
    }

    /// Writes a backup of everything (the trash too, no vectors): into the
    /// chosen file, or as a download. `asked` says the user pressed a button,
    /// so the browser may ask them to allow writing to the file.
    pub async fn back_up(self, asked: bool) -> Result<String, String> {
        self.busy.set(true);
        let outcome = self.write_backup(asked).await;
        self.busy.set(false);
        outcome
    }

    async fn write_backup(self, asked: bool) -> Result<String, String> {
        let db = self.db()?;
        let worker = self.services.worker().map_err(|error| error.to_string())?;
        let file = db
            .get_object(stores::SETTINGS, keys::BACKUP_FILE)
            .await
            .map_err(|error| error.to_string())?;
        // Permission is asked before the export: the browser only lets a page
        // ask right after a click.
        if let Some(file) = &file {
            files::allow_writing(file, asked)
                .await
                .map_err(|error| error.to_string())?;
        }
        super::bank_changes::wait_for_bank(self.services).await?;
        let (json, count) = worker
            .export(None, true, false)
            .await
            .map_err(|error| format!("The backup could not be made: {error}"))?;
        let written_to = match &file {
            Some(file) => {
                files::write_file(file, &json)
                    .await
                    .map_err(|error| error.to_string())?;
                files::file_name(file)
            }
            None => {
                let name = export_file_name(None);
                files::download(&json, &name).map_err(|error| error.to_string())?;
                name
            }
        };
        let mut settings = self.load(&db).await;
        settings.backed_up(now(), &written_to);
        self.save(&db, settings).await?;
        self.reminding.set(false);
        Ok(format!(
            "Backed up {} to {written_to}.",
            memories_count(count)
        ))
    }

    /// "Back up now", from the reminder or the settings card.
    fn back_up_now(self) {
        spawn_local(async move {
            let outcome = self.back_up(true).await;
            self.outcome.set(Some(outcome));
        });
    }

    fn change(self, change: impl FnOnce(&mut BackupSettings) + 'static) {
        spawn_local(async move {
            let outcome = async {
                let db = self.db()?;
                let mut settings = self.load(&db).await;
                change(&mut settings);
                self.save(&db, settings).await
            }
            .await;
            match outcome {
                Ok(()) => self.check().await,
                Err(error) => self.outcome.set(Some(Err(error))),
            }
        });
    }

    /// Asks where backups go; the first one is written there at once.
    fn choose_file(self) {
        spawn_local(async move {
            let outcome = async {
                let Some(file) = files::choose_file(BACKUP_FILE_NAME)
                    .await
                    .map_err(|error| error.to_string())?
                else {
                    return Ok(None);
                };
                let db = self.db()?;
                db.put_object(stores::SETTINGS, keys::BACKUP_FILE, &file)
                    .await
                    .map_err(|error| format!("The chosen file could not be remembered: {error}"))?;
                self.file.set(Some(files::file_name(&file)));
                self.back_up(true).await.map(Some)
            }
            .await;
            if let Some(outcome) = outcome.transpose() {
                self.outcome.set(Some(outcome));
            }
        });
    }

    /// Backups go back to being downloads.
    fn forget_file(self) {
        spawn_local(async move {
            let outcome = match self.db() {
                Ok(db) => db
                    .delete(stores::SETTINGS, keys::BACKUP_FILE)
                    .await
                    .map(|()| {
                        self.file.set(None);
                        "Backups are downloaded from now on.".to_owned()
                    })
                    .map_err(|error| error.to_string()),
                Err(error) => Err(error),
            };
            self.outcome.set(Some(outcome));
        });
    }
}

/// Shown above every page when a backup is due and could not be written by
/// itself.
#[component]
pub fn BackupReminder() -> impl IntoView {
    let backups = expect_context::<Backups>();
    let later = move |_| backups.change(|settings| settings.snooze(now()));
    view! {
        <Show when=move || backups.reminding.get()>
            <div class="update-banner" role="status" data-testid="backup-reminder">
                <span>{move || format!(
                    "A backup of your memory is due (last one: {}).",
                    backups.settings.with(|settings| settings.age_in_words(now()))
                )}</span>
                <button type="button" disabled=move || backups.busy.get()
                    on:click=move |_| backups.back_up_now()>"Back up now"</button>
                <button type="button" class="secondary" on:click=later>"Later"</button>
            </div>
        </Show>
    }
}

#[component]
pub fn BackupSettingsCard() -> impl IntoView {
    let backups = expect_context::<Backups>();
    let on_interval = move |event| {
        let interval = BackupInterval::from_form_value(&event_target_value(&event));
        backups.change(move |settings| settings.interval = interval);
    };
    let last = move || {
        backups
            .settings
            .with(|settings| match settings.last_backup_at {
                None => "No backup yet.".to_owned(),
                Some(at) => format!(
                    "Last backup: {} ({}), to {}.",
                    settings.age_in_words(now()),
                    format_date_time(at),
                    settings.last_backup_to.as_deref().unwrap_or("a file"),
                ),
            })
    };
    let next = move || {
        backups.settings.with(|settings| {
            settings.next_due_at().map(|due| {
                if due <= now() {
                    "Next: now.".to_owned()
                } else {
                    format!("Next: {}.", format_date_time(due))
                }
            })
        })
    };
    view! {
        <fieldset class="card" data-testid="backup-settings">
            <legend>"Backups"</legend>
            <p class="hint">
                "A backup is an export of all your memories, their history, pools and assistants (the trash "
                "too; no keys). Import it on the Memory page to restore."
            </p>
            <div class="form-row">
                <label for="backup-interval">"Back up"</label>
                <select id="backup-interval"
                    prop:value=move || backups.settings.with(|settings| settings.interval.as_str())
                    on:change=on_interval>
                    {BackupInterval::ALL.into_iter().map(|interval| view! {
                        <option value=interval.as_str()>{interval.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            {if files::can_choose_file() {
                view! {
                    <div class="form-row">
                        <span>"Into"</span>
                        <span data-testid="backup-file">{move || backups.file.get().unwrap_or_else(||
                            "a download each time (choose a file to back up without asking)".to_owned())}</span>
                        <button type="button" class="secondary" on:click=move |_| backups.choose_file()>
                            "Choose a file…"</button>
                        {move || backups.file.get().is_some().then(|| view! {
                            <button type="button" class="secondary" on:click=move |_| backups.forget_file()>
                                "Download instead"</button>
                        })}
                    </div>
                    <p class="hint">
                        "A chosen file is replaced by each backup. After the browser restarts it may ask once "
                        "more before Casebook writes to it; until then you are reminded."
                    </p>
                }.into_any()
            } else {
                view! {
                    <p class="hint">
                        "This browser does not let Casebook write to a file by itself: when a backup is due, "
                        "you are reminded and it is downloaded with one click."
                    </p>
                }.into_any()
            }}
            <p data-testid="backup-last">{last}</p>
            {move || next().map(|next| view! { <p class="hint">{next}</p> })}
            <div class="editor-actions">
                <button type="button" class="primary" data-testid="backup-now"
                    disabled=move || backups.busy.get()
                    on:click=move |_| backups.back_up_now()>
                    {move || if backups.busy.get() { "Backing up…" } else { "Back up now" }}</button>
            </div>
            {move || backups.outcome.get().map(|outcome| match outcome {
                Ok(text) => view! { <p role="status" data-testid="backup-outcome">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error" role="alert" data-testid="backup-outcome">{text}</p> }.into_any(),
            })}
        </fieldset>
    }
}
