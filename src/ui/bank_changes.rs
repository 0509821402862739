//! Changes to the case bank that more than one page makes: storing a memory
//! with duplicate protection, and applying a proposal of automatic extraction
//! (at once from the chat, or when the user accepts it in the inbox).

use leptos::prelude::*;

use crate::core::bank::MemoryFilter;
use crate::core::changes::MemoryChange;
use crate::core::chat::{duplicate_among, remembered};
use crate::core::learn::dedupe::merge_duplicate;
use crate::core::learn::extract::{fresh_target, Proposal};
use crate::core::learn::revise;
use crate::core::memory::{ChangedBy, Kind, Memory, MemoryId, Millis, Source};
use crate::core::protocol::ChangeOutcome;
use crate::ui::providers::random_u64;

use super::services::{BankState, Services};

/// How long a change (or a question) waits for the case bank to open before
/// giving up.
const BANK_WAIT_MS: u64 = 60_000;
/// How many hits are compared with a new memory to find a duplicate.
const DUPLICATE_HITS: usize = 5;

pub fn now() -> Millis {
    js_sys::Date::now() as Millis
}

pub fn new_memory_id() -> MemoryId {
    MemoryId::new(now(), random_u64())
}

/// Waits until the case bank has opened (a change made right after the page
/// loads).
pub async fn wait_for_bank(services: Services) -> Result<(), String> {
    let mut waited = 0;
    loop {
        match services.bank_state.get_untracked() {
            BankState::Ready(_) => return Ok(()),
            BankState::Failed(error) => {
                return Err(format!("Your memories are unavailable: {error}"))
            }
            BankState::Opening if waited >= BANK_WAIT_MS => {
                return Err("Your memories are still loading; try again in a moment.".into())
            }
            BankState::Opening => {
                super::chat::sleep_ms(100).await;
                waited += 100;
            }
        }
    }
}

/// Applies `changes` and returns the memories saved, or the first failure in
/// plain words.
pub async fn apply(services: Services, changes: Vec<MemoryChange>) -> Result<Vec<Memory>, String> {
    let worker = services.worker().map_err(|e| e.to_string())?;
    let outcomes = worker.apply(changes).await.map_err(|e| e.to_string())?;
    let mut saved = Vec::new();
    for outcome in outcomes {
        match outcome {
            ChangeOutcome::Saved { memory } => saved.push(memory),
            ChangeOutcome::Failed { message, .. } => return Err(message),
            ChangeOutcome::Purged { .. } | ChangeOutcome::Cancelled { .. } => {}
        }
    }
    Ok(saved)
}

/// The memory as stored now (live or in the trash), `None` if it no longer
/// exists.
pub async fn stored_memory(services: Services, id: &MemoryId) -> Result<Option<Memory>, String> {
    let worker = services.worker().map_err(|e| e.to_string())?;
    let (memory, _) = worker
        .memory_history(id.clone())
        .await
        .map_err(|e| format!("The memory could not be read: {e}"))?;
    Ok(memory)
}

/// What [`remember`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Remembered {
    /// The pool already said it; nothing changed.
    AlreadyKnown(Memory),
    /// The pool said it in fewer words: that memory now has the longer wording.
    Merged(Memory),
    /// A new memory.
    Added(Memory),
}

/// Stores `text` as a memory of `pool`, unless the pool already says it: then
/// the existing memory is kept (with the longer wording).
pub async fn remember(
    services: Services,
    pool: &str,
    text: &str,
    kind: Kind,
    source: Source,
    changed_by: ChangedBy,
) -> Result<Remembered, String> {
    wait_for_bank(services).await?;
    let worker = services.worker().map_err(|e| e.to_string())?;
    let filter = MemoryFilter {
        pools: vec![pool.to_owned()],
        ..MemoryFilter::default()
    };
    let hits = worker
        .search(text.to_owned(), DUPLICATE_HITS, filter)
        .await
        .map_err(|e| format!("Your memories could not be searched: {e}"))?
        .hits;
    if let Some(duplicate) = duplicate_among(text, pool, &hits) {
        let existing = hits
            .iter()
            .map(|hit| &hit.memory)
            .find(|memory| memory.id == duplicate.existing)
            .ok_or_else(|| "The matching memory disappeared.".to_owned())?;
        let Some((merged, _)) = merge_duplicate(existing, text, changed_by, now()) else {
            return Ok(Remembered::AlreadyKnown(existing.clone()));
        };
        apply(
            services,
            vec![MemoryChange::Save {
                memory: merged.clone(),
                base_revision: Some(existing.revision),
                changed_by,
            }],
        )
        .await?;
        return Ok(Remembered::Merged(merged));
    }
    let memory = remembered(new_memory_id(), kind, text, pool, source, now());
    let saved = apply(
        services,
        vec![MemoryChange::Save {
            memory,
            base_revision: None,
            changed_by,
        }],
    )
    .await?;
    saved
        .into_iter()
        .next()
        .map(Remembered::Added)
        .ok_or_else(|| "The memory was not saved.".to_owned())
}

/// Applies one checked proposal of automatic extraction from conversation
/// `conversation_id`: an add goes into `pool` through duplicate protection; an
/// update or delete only if its memory is still as the model saw it
/// (`seen_revision`), else the error says what happened to it. Every change is
/// a revision by [`ChangedBy::Extraction`], so it can be undone.
pub async fn apply_proposal(
    services: Services,
    pool: &str,
    conversation_id: &str,
    proposal: Proposal,
    seen_revision: Option<u32>,
) -> Result<(), String> {
    let change = match proposal {
        Proposal::Add { text, kind } => {
            let source = Source::Extraction {
                conversation_id: conversation_id.to_owned(),
            };
            return remember(services, pool, &text, kind, source, ChangedBy::Extraction)
                .await
                .map(|_| ());
        }
        Proposal::Update { id, text } => {
            let memory = unchanged_memory(services, &id, seen_revision).await?;
            let (changed, _) = revise(&memory, ChangedBy::Extraction, now(), |m| m.text = text);
            MemoryChange::Save {
                memory: changed,
                base_revision: Some(memory.revision),
                changed_by: ChangedBy::Extraction,
            }
        }
        Proposal::Delete { id } => {
            let memory = unchanged_memory(services, &id, seen_revision).await?;
            MemoryChange::Trash {
                id,
                base_revision: memory.revision,
                changed_by: ChangedBy::Extraction,
            }
        }
    };
    apply(services, vec![change]).await.map(|_| ())
}

/// The memory `id` if it is still as the model saw it.
async fn unchanged_memory(
    services: Services,
    id: &MemoryId,
    seen_revision: Option<u32>,
) -> Result<Memory, String> {
    wait_for_bank(services).await?;
    let current = stored_memory(services, id).await?;
    fresh_target(seen_revision, current.as_ref())
        .cloned()
        .map_err(|stale| stale.to_string())
}
