use leptos::prelude::*;

use super::services::Services;
use crate::web::pwa::UpdateState;

/// Tells the user a new version is ready. Reloading is always their choice.
#[component]
pub fn UpdateBanner() -> impl IntoView {
    let services = expect_context::<Services>();
    let message = move || match services.update_state.get() {
        UpdateState::Current => None,
        UpdateState::Available => Some("A new version of Casebook is ready."),
        UpdateState::ActivatedElsewhere => {
            Some("Casebook was updated in another tab. Reload this one to use the new version.")
        }
    };
    view! {
        <Show when=move || message().is_some()>
            <div class="update-banner" role="status" data-testid="update-banner">
                <span>{move || message().unwrap_or_default()}</span>
                <button type="button" on:click=move |_| services.apply_update()>"Reload"</button>
            </div>
        </Show>
    }
}
