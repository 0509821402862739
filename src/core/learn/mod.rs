//! Learning from experience, Memento-style: the frozen model answers, and the
//! case bank learns from what happened.
//!
//! - [`feedback`]: a rated exchange becomes a case; verdicts move the citation
//!   counts of the memories an answer used.
//! - [`command`]: "Remember …" / "Forget …" typed in the chat.
//! - [`extract`]: the model proposes memory operations after an exchange (Mem0's
//!   add / update / delete / none), checked before anything is applied.
//! - [`dedupe`]: a new memory that says what one already says is merged into it.
//! - [`scorer`]: the learned reranker, trained by the verdicts.

pub mod command;
pub mod dedupe;
pub mod extract;
pub mod feedback;
pub mod scorer;

#[cfg(test)]
mod simulation;

use crate::core::memory::{ChangedBy, Memory, Millis, Revision};

/// `before` changed by `change`, as its next revision, and the [`Revision`]
/// that keeps the old state so the change can be undone.
pub fn revise(
    before: &Memory,
    changed_by: ChangedBy,
    now: Millis,
    change: impl FnOnce(&mut Memory),
) -> (Memory, Revision) {
    let mut after = before.clone();
    change(&mut after);
    after.revision = before.revision.saturating_add(1);
    after.updated_at = now;
    let revision = Revision {
        before: before.clone(),
        changed_by,
        changed_at: now,
    };
    (after, revision)
}
