//! Undo for memory changes, anywhere in the app: a toast with an Undo button
//! after each change, and Ctrl+Z (⌘Z) while the focus is not in a text field.
//!
//! Whoever changes memories offers the changes that reverse it
//! (`core::editing::undo_change` computes them):
//! `expect_context::<Undo>().offer("Moved 3 memories to the trash", changes)`.
//! The last [`MAX_ENTRIES`] offers are kept; Ctrl+Z undoes them newest first.

use std::time::Duration;

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::services::Services;
use crate::core::changes::MemoryChange;
use crate::core::protocol::ChangeOutcome;

/// How many past actions stay undoable.
pub const MAX_ENTRIES: usize = 20;
/// How long the toast stays up.
const TOAST_TIME: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
struct Entry {
    label: String,
    changes: Vec<MemoryChange>,
}

/// What the toast shows.
#[derive(Clone, Debug, PartialEq)]
enum Toast {
    Offer { label: String },
    Working { label: String },
    Undone { label: String },
    Failed { message: String },
}

#[derive(Clone, Copy)]
pub struct Undo {
    services: Services,
    entries: RwSignal<Vec<Entry>, LocalStorage>,
    toast: RwSignal<Option<Toast>>,
    /// Counts the toasts shown, so a timer only hides its own.
    shown: RwSignal<u64>,
    /// Counts completed undos: pages that list memories refresh when it moves.
    pub undone: RwSignal<u64>,
}

impl Undo {
    /// Creates the app's undo history, provides it as context and listens for Ctrl+Z.
    pub fn provide(services: Services) -> Undo {
        let undo = Undo {
            services,
            entries: RwSignal::new_local(Vec::new()),
            toast: RwSignal::new(None),
            shown: RwSignal::new(0),
            undone: RwSignal::new(0),
        };
        provide_context(undo);
        let listener = window_event_listener(ev::keydown, move |event| {
            let undo_keys = (event.ctrl_key() || event.meta_key())
                && !event.shift_key()
                && !event.alt_key()
                && event.key().eq_ignore_ascii_case("z");
            if undo_keys && !typing_in_a_field() && undo.can_undo() {
                event.prevent_default();
                undo.undo_last();
            }
        });
        on_cleanup(move || listener.remove());
        undo
    }

    /// Records an action that `changes` reverse, and offers to undo it. An
    /// action with nothing to reverse is not offered.
    pub fn offer(&self, label: impl Into<String>, changes: Vec<MemoryChange>) {
        if changes.is_empty() {
            return;
        }
        let label = label.into();
        self.entries.update(|entries| {
            entries.push(Entry {
                label: label.clone(),
                changes,
            });
            let excess = entries.len().saturating_sub(MAX_ENTRIES);
            entries.drain(..excess);
        });
        self.show(Toast::Offer { label });
    }

    pub fn can_undo(&self) -> bool {
        self.entries.with_untracked(|entries| !entries.is_empty())
    }

    /// Undoes the most recent action still undoable.
    pub fn undo_last(&self) {
        let Some(entry) = self.entries.try_update(Vec::pop).flatten() else {
            return;
        };
        let services = self.services;
        let undo = *self;
        undo.show(Toast::Working {
            label: entry.label.clone(),
        });
        spawn_local(async move {
            let result = match services.worker() {
                Ok(worker) => worker.apply(entry.changes).await.map_err(|e| e.to_string()),
                Err(error) => Err(error.to_string()),
            };
            let failures: Vec<String> = match result {
                Ok(outcomes) => outcomes
                    .into_iter()
                    .filter_map(|outcome| match outcome {
                        ChangeOutcome::Failed { message, .. } => Some(message),
                        _ => None,
                    })
                    .collect(),
                Err(message) => vec![message],
            };
            undo.undone.update(|count| *count += 1);
            undo.show(match failures.as_slice() {
                [] => Toast::Undone { label: entry.label },
                [only] => Toast::Failed {
                    message: format!("Could not undo “{}”: {only}", entry.label),
                },
                [first, ..] => Toast::Failed {
                    message: format!(
                        "Undoing “{}” failed for {} memories: {first}",
                        entry.label,
                        failures.len()
                    ),
                },
            });
        });
    }

    fn show(&self, toast: Toast) {
        let working = matches!(toast, Toast::Working { .. });
        self.toast.set(Some(toast));
        self.shown.update(|count| *count += 1);
        if working {
            return;
        }
        let shown = self.shown.get_untracked();
        let (toast, counter) = (self.toast, self.shown);
        set_timeout(
            move || {
                if counter.get_untracked() == shown {
                    toast.set(None);
                }
            },
            TOAST_TIME,
        );
    }

    fn dismiss(&self) {
        self.toast.set(None);
    }
}

/// Whether the focus is in something the user types into (where Ctrl+Z undoes
/// typing, not memory changes).
fn typing_in_a_field() -> bool {
    let Some(active) = document().active_element() else {
        return false;
    };
    let tag = active.tag_name().to_ascii_lowercase();
    let editable = active
        .get_attribute("contenteditable")
        .is_some_and(|value| value != "false");
    match tag.as_str() {
        "textarea" | "select" => true,
        "input" => !matches!(
            active.get_attribute("type").as_deref(),
            Some("checkbox" | "radio" | "button" | "submit" | "reset" | "range" | "file")
        ),
        _ => editable,
    }
}

/// The toast that offers Undo after a change (bottom of the window, all pages).
#[component]
pub fn UndoToast() -> impl IntoView {
    let undo = expect_context::<Undo>();
    let toast = move || undo.toast.get();
    view! {
        <div class="undo-toast-region" role="status" aria-live="polite" data-testid="undo-toast">
            {move || toast().map(|toast| {
                let (text, can_undo, failed) = match toast {
                    Toast::Offer { label } => (label, true, false),
                    Toast::Working { label } => (format!("Undoing “{label}”…"), false, false),
                    Toast::Undone { label } => (format!("Undone: {label}"), false, false),
                    Toast::Failed { message } => (message, false, true),
                };
                view! {
                    <div class="undo-toast" class:error=failed>
                        <span class="undo-text">{text}</span>
                        {can_undo.then(|| view! {
                            <button type="button" class="undo-button" title="Undo (Ctrl+Z)"
                                on:click=move |_| undo.undo_last()>"Undo"</button>
                        })}
                        <button type="button" class="undo-dismiss" aria-label="Dismiss"
                            on:click=move |_| undo.dismiss()>"×"</button>
                    </div>
                }
            })}
        </div>
    }
}
