//! What a change to a memory does, decided before anything is written: the new
//! state, the revision that keeps the old state (for undo and history), and
//! whether the text must be embedded again.
//!
//! Every change names the revision it was made against. If the stored memory has
//! moved on since (another tab, a feedback click), the change is refused rather
//! than silently overwriting: two editors never lose an update.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::core::memory::{ChangedBy, Memory, MemoryId, Millis, Revision};

/// The longest memory text accepted (a document chunk is far shorter; a pasted
/// novel belongs in Documents, which splits it).
pub const MAX_TEXT_BYTES: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MemoryChange {
    /// Adds a memory (`base_revision` None) or replaces one's content.
    Save {
        memory: Memory,
        base_revision: Option<u32>,
        changed_by: ChangedBy,
    },
    /// Moves a memory to the trash: it stays restorable but is never retrieved.
    Trash {
        id: MemoryId,
        base_revision: u32,
        changed_by: ChangedBy,
    },
    /// Takes a memory out of the trash.
    Restore { id: MemoryId, changed_by: ChangedBy },
    /// Deletes a memory and its history for good (emptying the trash).
    Purge { id: MemoryId },
    /// Usage statistics only (use count, last use, citations): no revision, no
    /// re-embedding, and never a conflict (counters are not the user's words).
    RecordUse { memory: Memory },
}

impl MemoryChange {
    pub fn memory_id(&self) -> &MemoryId {
        match self {
            MemoryChange::Save { memory, .. } | MemoryChange::RecordUse { memory } => &memory.id,
            MemoryChange::Trash { id, .. }
            | MemoryChange::Restore { id, .. }
            | MemoryChange::Purge { id } => id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum ChangeError {
    #[error("This memory was changed elsewhere (another tab, or feedback) while you edited it. Your edit was not saved; reopen the memory to see the current text.")]
    Conflict { id: MemoryId },
    #[error("There is no memory {id} any more (it may have been deleted in another tab).")]
    Missing { id: MemoryId },
    #[error("A memory with id {id} already exists.")]
    AlreadyExists { id: MemoryId },
    #[error("A memory cannot be empty.")]
    EmptyText,
    #[error("This text is {bytes} bytes; a memory holds at most {limit}. Add long texts under Documents, which splits them.")]
    TooLong { bytes: usize, limit: usize },
    #[error("That memory is not in the trash.")]
    NotInTrash { id: MemoryId },
}

/// The outcome of a change, to be written in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The memory's new state; `None` when it is purged.
    pub memory: Option<Memory>,
    /// The previous state, kept as history (none for additions and statistics).
    pub revision: Option<Revision>,
    /// Whether the memory needs a new embedding (new, or its text changed).
    pub embed: bool,
}

/// Decides what `change` does to `current` (the stored memory, if any) at `now`.
pub fn apply_change(
    current: Option<&Memory>,
    change: MemoryChange,
    now: Millis,
) -> Result<Applied, ChangeError> {
    match change {
        MemoryChange::Save {
            mut memory,
            base_revision,
            changed_by,
        } => {
            check_text(&memory.text)?;
            match (current, base_revision) {
                (None, None) => {
                    memory.revision = 1;
                    memory.created_at = memory.created_at.min(now);
                    memory.updated_at = now;
                    Ok(Applied {
                        memory: Some(memory),
                        revision: None,
                        embed: true,
                    })
                }
                (Some(current), None) => Err(ChangeError::AlreadyExists {
                    id: current.id.clone(),
                }),
                (None, Some(_)) => Err(ChangeError::Missing { id: memory.id }),
                (Some(current), Some(base)) => {
                    if current.revision != base {
                        return Err(ChangeError::Conflict { id: memory.id });
                    }
                    let embed = memory.text != current.text;
                    // Counters and provenance belong to the store, not to the editor.
                    memory.created_at = current.created_at;
                    memory.use_count = current.use_count;
                    memory.last_used_at = current.last_used_at;
                    memory.cited_worked = current.cited_worked;
                    memory.cited_did_not_work = current.cited_did_not_work;
                    Ok(revise(current, memory, changed_by, now, embed))
                }
            }
        }
        MemoryChange::Trash {
            id,
            base_revision,
            changed_by,
        } => {
            let current = current.ok_or(ChangeError::Missing { id: id.clone() })?;
            if current.revision != base_revision {
                return Err(ChangeError::Conflict { id });
            }
            let mut trashed = current.clone();
            trashed.trashed_at = Some(now);
            Ok(revise(current, trashed, changed_by, now, false))
        }
        MemoryChange::Restore { id, changed_by } => {
            let current = current.ok_or(ChangeError::Missing { id: id.clone() })?;
            if current.trashed_at.is_none() {
                return Err(ChangeError::NotInTrash { id });
            }
            let mut restored = current.clone();
            restored.trashed_at = None;
            Ok(revise(current, restored, changed_by, now, false))
        }
        MemoryChange::Purge { id } => {
            current.ok_or(ChangeError::Missing { id })?;
            Ok(Applied {
                memory: None,
                revision: None,
                embed: false,
            })
        }
        MemoryChange::RecordUse { memory } => {
            let current = current.ok_or(ChangeError::Missing {
                id: memory.id.clone(),
            })?;
            let mut updated = current.clone();
            updated.use_count = memory.use_count;
            updated.last_used_at = memory.last_used_at;
            updated.cited_worked = memory.cited_worked;
            updated.cited_did_not_work = memory.cited_did_not_work;
            Ok(Applied {
                memory: Some(updated),
                revision: None,
                embed: false,
            })
        }
    }
}

fn revise(
    current: &Memory,
    mut next: Memory,
    changed_by: ChangedBy,
    now: Millis,
    embed: bool,
) -> Applied {
    next.revision = current.revision + 1;
    next.updated_at = now;
    Applied {
        memory: Some(next),
        revision: Some(Revision {
            before: current.clone(),
            changed_by,
            changed_at: now,
        }),
        embed,
    }
}

fn check_text(text: &str) -> Result<(), ChangeError> {
    if text.trim().is_empty() {
        return Err(ChangeError::EmptyText);
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(ChangeError::TooLong {
            bytes: text.len(),
            limit: MAX_TEXT_BYTES,
        });
    }
    Ok(())
}

/// The key of a revision record: sorts a memory's revisions in order.
pub fn revision_key(id: &MemoryId, revision: u32) -> String {
    format!("{id}/{revision:010}")
}

/// Undoing to an earlier revision is a new save of that revision's content, made
/// against the current revision (so history only ever grows).
pub fn restore_revision(current: &Memory, earlier: &Memory) -> MemoryChange {
    let mut memory = earlier.clone();
    memory.id = current.id.clone();
    MemoryChange::Save {
        memory,
        base_revision: Some(current.revision),
        changed_by: ChangedBy::User,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::memory::{Kind, Source};

    fn memory(text: &str) -> Memory {
        Memory::new(MemoryId("m1".into()), Kind::Fact, text, Source::Manual, 100)
    }

    fn save(memory: Memory, base_revision: Option<u32>) -> MemoryChange {
        MemoryChange::Save {
            memory,
            base_revision,
            changed_by: ChangedBy::User,
        }
    }

    #[test]
    fn an_edit_keeps_the_old_text_as_a_revision_and_asks_for_a_new_embedding() {
        let stored = apply_change(None, save(memory("I live in Lyon"), None), 100)
            .unwrap()
            .memory
            .unwrap();
        assert_eq!(stored.revision, 1);
        let mut edited = stored.clone();
        edited.text = "I live in Paris".into();
        let applied = apply_change(Some(&stored), save(edited, Some(1)), 200).unwrap();
        let new = applied.memory.unwrap();
        assert_eq!(
            (new.revision, new.updated_at, new.created_at),
            (2, 200, 100)
        );
        assert!(applied.embed);
        let revision = applied.revision.unwrap();
        assert_eq!(revision.before.text, "I live in Lyon");
        assert_eq!(revision.changed_at, 200);

        let mut pinned = new.clone();
        pinned.pinned = true;
        let applied = apply_change(Some(&new), save(pinned, Some(2)), 300).unwrap();
        assert!(!applied.embed, "pinning does not change what is embedded");
        assert_eq!(applied.memory.unwrap().revision, 3);
    }

    #[test]
    fn an_edit_made_against_an_old_revision_is_refused() {
        let mut stored = memory("v2");
        stored.revision = 2;
        let stale = save(memory("my edit of v1"), Some(1));
        assert_eq!(
            apply_change(Some(&stored), stale, 5),
            Err(ChangeError::Conflict {
                id: MemoryId("m1".into())
            })
        );
    }

    #[test]
    fn an_editor_cannot_reset_usage_counters() {
        let mut stored = memory("fact");
        stored.use_count = 7;
        stored.cited_worked = 3;
        let mut edit = stored.clone();
        edit.use_count = 0;
        edit.cited_worked = 0;
        edit.text = "fact, reworded".into();
        let new = apply_change(Some(&stored), save(edit, Some(1)), 9)
            .unwrap()
            .memory
            .unwrap();
        assert_eq!((new.use_count, new.cited_worked), (7, 3));
    }

    #[test]
    fn trash_and_restore_are_revisions_and_purge_removes() {
        let stored = memory("fact");
        let trash = MemoryChange::Trash {
            id: stored.id.clone(),
            base_revision: 1,
            changed_by: ChangedBy::User,
        };
        let trashed = apply_change(Some(&stored), trash, 10)
            .unwrap()
            .memory
            .unwrap();
        assert_eq!(trashed.trashed_at, Some(10));
        let restore = MemoryChange::Restore {
            id: stored.id.clone(),
            changed_by: ChangedBy::User,
        };
        assert_eq!(
            apply_change(Some(&stored), restore.clone(), 11),
            Err(ChangeError::NotInTrash {
                id: stored.id.clone()
            })
        );
        let restored = apply_change(Some(&trashed), restore, 12).unwrap();
        assert_eq!(restored.memory.as_ref().unwrap().trashed_at, None);
        assert_eq!(restored.memory.unwrap().revision, 3);
        let purged = apply_change(
            Some(&trashed),
            MemoryChange::Purge {
                id: stored.id.clone(),
            },
            13,
        )
        .unwrap();
        assert_eq!(purged.memory, None);
    }

    #[test]
    fn empty_or_huge_text_and_duplicate_ids_are_refused_with_reasons() {
        assert_eq!(
            apply_change(None, save(memory("  \n "), None), 1),
            Err(ChangeError::EmptyText)
        );
        let huge = "x".repeat(MAX_TEXT_BYTES + 1);
        assert!(matches!(
            apply_change(None, save(memory(&huge), None), 1),
            Err(ChangeError::TooLong { .. })
        ));
        let stored = memory("a");
        assert!(matches!(
            apply_change(Some(&stored), save(memory("b"), None), 1),
            Err(ChangeError::AlreadyExists { .. })
        ));
        assert!(matches!(
            apply_change(None, save(memory("b"), Some(1)), 1),
            Err(ChangeError::Missing { .. })
        ));
    }

    #[test]
    fn statistics_change_no_revision_and_nothing_else() {
        let stored = memory("fact");
        let mut used = stored.clone();
        used.use_count = 4;
        used.last_used_at = Some(50);
        used.text = "not allowed to change here".into();
        let applied =
            apply_change(Some(&stored), MemoryChange::RecordUse { memory: used }, 60).unwrap();
        let new = applied.memory.unwrap();
        assert_eq!((new.use_count, new.last_used_at), (4, Some(50)));
        assert_eq!(new.text, "fact");
        assert_eq!(new.revision, 1);
        assert_eq!(applied.revision, None);
    }

    #[test]
    fn restoring_an_old_revision_is_a_new_revision_with_its_text() {
        let mut current = memory("new text");
        current.revision = 3;
        let earlier = memory("old text");
        let change = restore_revision(&current, &earlier);
        let applied = apply_change(Some(&current), change, 99).unwrap();
        let memory = applied.memory.unwrap();
        assert_eq!((memory.text.as_str(), memory.revision), ("old text", 4));
        assert!(applied.embed);
        assert!(revision_key(&memory.id, 2) < revision_key(&memory.id, 10));
    }
}
