//! What the memory editor asks for, as [`MemoryChange`]s: an edited draft, an
//! action on many memories at once, and the changes that undo what was done.
//!
//! Every change is made against the revision the editor saw, so an undo never
//! overwrites something that changed after it (it fails as a conflict instead).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::core::changes::MemoryChange;
use crate::core::learn::feedback::case_text;
use crate::core::memory::{CaseFields, ChangedBy, Kind, Memory, MemoryId, Millis, Outcome, Source};

/// One action applied to every selected memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BulkEdit {
    /// Moves them to the trash.
    Trash,
    /// Takes them out of the trash.
    Restore,
    /// Deletes them and their history for good.
    Purge,
    /// Pins (or unpins) them: pinned memories are always considered first.
    Pin { pinned: bool },
    /// Moves them into another pool.
    Move { pool: String },
    /// Copies them into another pool (the copies start with no history or use).
    Copy { pool: String },
}

impl BulkEdit {
    /// "Moved 3 memories to the trash": what the undo offer says was done.
    pub fn done_label(&self, count: usize) -> String {
        let memories = if count == 1 { "memory" } else { "memories" };
        match self {
            BulkEdit::Trash => format!("Moved {count} {memories} to the trash"),
            BulkEdit::Restore => format!("Restored {count} {memories}"),
            BulkEdit::Purge => format!("Deleted {count} {memories} for good"),
            BulkEdit::Pin { pinned: true } => format!("Pinned {count} {memories}"),
            BulkEdit::Pin { pinned: false } => format!("Unpinned {count} {memories}"),
            BulkEdit::Move { pool } => format!("Moved {count} {memories} to pool {pool}"),
            BulkEdit::Copy { pool } => format!("Copied {count} {memories} to pool {pool}"),
        }
    }
}

/// The changes that apply `edit` to `memories` (their current states). Memories
/// the edit would not change (already pinned, already in that pool, not in the
/// trash for a restore...) get no change. `new_id` names each copy.
pub fn bulk_changes(
    edit: &BulkEdit,
    memories: &[Memory],
    mut new_id: impl FnMut(&Memory) -> MemoryId,
    now: Millis,
) -> Vec<MemoryChange> {
    let save = |memory: Memory, base: u32| MemoryChange::Save {
        memory,
        base_revision: Some(base),
        changed_by: ChangedBy::User,
    };
    memories
        .iter()
        .filter_map(|memory| match edit {
            BulkEdit::Trash => memory.trashed_at.is_none().then(|| MemoryChange::Trash {
                id: memory.id.clone(),
                base_revision: memory.revision,
                changed_by: ChangedBy::User,
            }),
            BulkEdit::Restore => memory.trashed_at.is_some().then(|| MemoryChange::Restore {
                id: memory.id.clone(),
                changed_by: ChangedBy::User,
            }),
            BulkEdit::Purge => Some(MemoryChange::Purge {
                id: memory.id.clone(),
            }),
            BulkEdit::Pin { pinned } => (memory.pinned != *pinned).then(|| {
                let mut changed = memory.clone();
                changed.pinned = *pinned;
                save(changed, memory.revision)
            }),
            BulkEdit::Move { pool } => (memory.pool != *pool).then(|| {
                let mut changed = memory.clone();
                changed.pool = pool.clone();
                save(changed, memory.revision)
            }),
            BulkEdit::Copy { pool } => {
                let mut copy = Memory::new(
                    new_id(memory),
                    memory.kind,
                    memory.text.clone(),
                    memory.source.clone(),
                    now,
                );
                copy.case = memory.case.clone();
                copy.pinned = memory.pinned;
                copy.pool = pool.clone();
                Some(MemoryChange::Save {
                    memory: copy,
                    base_revision: None,
                    changed_by: ChangedBy::User,
                })
            }
        })
        .collect()
}

/// The change that takes a memory from `after` (as stored now) back to
/// `before` (as it was), or `None` when that cannot be done: a memory deleted
/// for good has lost its history, and an unchanged one needs nothing.
pub fn undo_change(before: Option<&Memory>, after: Option<&Memory>) -> Option<MemoryChange> {
    match (before, after) {
        // It was added: a new memory has no history worth keeping.
        (None, Some(after)) => Some(MemoryChange::Purge {
            id: after.id.clone(),
        }),
        (Some(_), None) | (None, None) => None,
        (Some(before), Some(after)) if before == after => None,
        (Some(before), Some(after)) => match (before.trashed_at, after.trashed_at) {
            (None, Some(_)) => Some(MemoryChange::Restore {
                id: after.id.clone(),
                changed_by: ChangedBy::User,
            }),
            (Some(_), None) => Some(MemoryChange::Trash {
                id: after.id.clone(),
                base_revision: after.revision,
                changed_by: ChangedBy::User,
            }),
            _ => Some(MemoryChange::Save {
                memory: before.clone(),
                base_revision: Some(after.revision),
                changed_by: ChangedBy::User,
            }),
        },
    }
}

/// Brings back the content of an `earlier` version of `current`, as a new
/// revision. Whether it is in the trash stays as it is now: restoring an old
/// text is not a way to take a memory out of the trash (or put it back).
pub fn restore_version(current: &Memory, earlier: &Memory) -> MemoryChange {
    let mut memory = earlier.clone();
    memory.id = current.id.clone();
    memory.trashed_at = current.trashed_at;
    MemoryChange::Save {
        memory,
        base_revision: Some(current.revision),
        changed_by: ChangedBy::User,
    }
}

/// Who made a change, as the history says it: "by you", "by your feedback"...
pub fn changed_by_label(changed_by: ChangedBy) -> &'static str {
    match changed_by {
        ChangedBy::User => "by you",
        ChangedBy::Feedback => "by your feedback on an answer",
        ChangedBy::Extraction => "by automatic extraction",
        ChangedBy::Import => "by an import",
    }
}

/// What a change did to a memory, in words, for its history: "Moved to the
/// trash", "Text edited", "Outcome: worked → did not work"...
pub fn describe_change(before: &Memory, after: &Memory) -> Vec<String> {
    let mut said = Vec::new();
    match (before.trashed_at, after.trashed_at) {
        (None, Some(_)) => said.push("Moved to the trash".to_owned()),
        (Some(_), None) => said.push("Restored from the trash".to_owned()),
        _ => {}
    }
    if before.kind != after.kind {
        said.push(format!(
            "Kind: {} → {}",
            before.kind.label(),
            after.kind.label()
        ));
    }
    match (&before.case, &after.case) {
        (Some(old), Some(new)) => {
            if old.question != new.question {
                said.push("Question edited".to_owned());
            }
            if old.answer != new.answer {
                said.push("Answer edited".to_owned());
            }
            if old.outcome != new.outcome {
                said.push(format!(
                    "Outcome: {} → {}",
                    outcome_label(old.outcome),
                    outcome_label(new.outcome)
                ));
            }
            match (&old.correction, &new.correction) {
                (None, Some(_)) => said.push("Correction added".to_owned()),
                (Some(_), None) => said.push("Correction removed".to_owned()),
                (Some(a), Some(b)) if a != b => said.push("Correction edited".to_owned()),
                _ => {}
            }
        }
        _ => {
            if before.text != after.text {
                said.push("Text edited".to_owned());
            }
        }
    }
    if before.pool != after.pool {
        said.push(format!("Moved from pool {} to {}", before.pool, after.pool));
    }
    if before.pinned != after.pinned {
        said.push(if after.pinned { "Pinned" } else { "Unpinned" }.to_owned());
    }
    if said.is_empty() {
        said.push("No change to its content".to_owned());
    }
    said
}

pub fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Worked => "worked",
        Outcome::DidNotWork => "did not work",
        Outcome::Unrated => "not rated",
    }
}

/// What the editor's form holds. Kept separate from [`Memory`] so that nothing
/// the user typed is lost while the form is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryDraft {
    pub kind: Kind,
    /// The memory's text (for a case it is written from the case fields).
    pub text: String,
    pub pool: String,
    pub pinned: bool,
    pub question: String,
    pub answer: String,
    pub outcome: Outcome,
    pub correction: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DraftError {
    #[error("Write the memory's text first.")]
    EmptyText,
    #[error("A case needs the question that was asked.")]
    EmptyQuestion,
    #[error("Choose a pool for the memory.")]
    NoPool,
}

impl MemoryDraft {
    /// An empty note for `pool`.
    pub fn blank(pool: &str) -> MemoryDraft {
        MemoryDraft {
            kind: Kind::Note,
            text: String::new(),
            pool: pool.to_owned(),
            pinned: false,
            question: String::new(),
            answer: String::new(),
            outcome: Outcome::Unrated,
            correction: String::new(),
        }
    }

    /// The form for an existing memory.
    pub fn of(memory: &Memory) -> MemoryDraft {
        let case = memory.case.clone();
        MemoryDraft {
            kind: memory.kind,
            text: memory.text.clone(),
            pool: memory.pool.clone(),
            pinned: memory.pinned,
            question: case
                .as_ref()
                .map(|case| case.question.clone())
                .unwrap_or_default(),
            answer: case
                .as_ref()
                .map(|case| case.answer.clone())
                .unwrap_or_default(),
            outcome: case.as_ref().map_or(Outcome::Unrated, |case| case.outcome),
            correction: case.and_then(|case| case.correction).unwrap_or_default(),
        }
    }

    /// `base` with the form's content (counters, provenance and times are kept).
    pub fn apply_to(&self, mut base: Memory) -> Result<Memory, DraftError> {
        if self.pool.trim().is_empty() {
            return Err(DraftError::NoPool);
        }
        base.kind = self.kind;
        base.pool = self.pool.clone();
        base.pinned = self.pinned;
        if self.kind == Kind::Case {
            let question = self.question.trim();
            if question.is_empty() {
                return Err(DraftError::EmptyQuestion);
            }
            let correction = self.correction.trim();
            let fields = CaseFields {
                question: question.to_owned(),
                answer: self.answer.trim().to_owned(),
                outcome: self.outcome,
                correction: (!correction.is_empty()).then(|| correction.to_owned()),
            };
            base.text = case_text(&fields);
            base.case = Some(fields);
        } else {
            if self.text.trim().is_empty() {
                return Err(DraftError::EmptyText);
            }
            base.text = self.text.clone();
            base.case = None;
        }
        Ok(base)
    }

    /// The change that saves this form: an edit of `current`, or a new memory
    /// written by the user (`current` None) with id `new_id`.
    pub fn to_change(
        &self,
        current: Option<&Memory>,
        new_id: MemoryId,
        now: Millis,
    ) -> Result<MemoryChange, DraftError> {
        match current {
            Some(current) => Ok(MemoryChange::Save {
                memory: self.apply_to(current.clone())?,
                base_revision: Some(current.revision),
                changed_by: ChangedBy::User,
            }),
            None => {
                let base = Memory::new(new_id, self.kind, "", Source::Manual, now);
                Ok(MemoryChange::Save {
                    memory: self.apply_to(base)?,
                    base_revision: None,
                    changed_by: ChangedBy::User,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::changes::{apply_change, ChangeError};

    fn memory(id: &str, text: &str) -> Memory {
        Memory::new(MemoryId(id.into()), Kind::Fact, text, Source::Manual, 100)
    }

    /// Applies `change` to `current` as the worker would, returning the new state.
    fn run(current: Option<&Memory>, change: MemoryChange, now: Millis) -> Option<Memory> {
        apply_change(current, change, now).unwrap().memory
    }

    #[test]
    fn bulk_edits_skip_memories_they_would_not_change() {
        let mut pinned = memory("a", "pinned already");
        pinned.pinned = true;
        let plain = memory("b", "plain");
        let memories = [pinned.clone(), plain.clone()];
        let no_ids = |_: &Memory| MemoryId("unused".into());
        let pin = bulk_changes(&BulkEdit::Pin { pinned: true }, &memories, no_ids, 5);
        assert_eq!(pin.len(), 1);
        assert_eq!(pin[0].memory_id(), &plain.id);
        assert!(bulk_changes(&BulkEdit::Restore, &memories, no_ids, 5).is_empty());
        let moved = bulk_changes(
            &BulkEdit::Move {
                pool: "default".into(),
            },
            &memories,
            no_ids,
            5,
        );
        assert!(moved.is_empty(), "both are in the default pool already");
    }

    #[test]
    fn moving_and_pinning_are_edits_of_the_revision_seen() {
        let stored = memory("a", "The office is in Lyon");
        let changes = bulk_changes(
            &BulkEdit::Move {
                pool: "work".into(),
            },
            std::slice::from_ref(&stored),
            |_| MemoryId("unused".into()),
            5,
        );
        let moved = run(Some(&stored), changes[0].clone(), 6).unwrap();
        assert_eq!((moved.pool.as_str(), moved.revision), ("work", 2));
        assert_eq!(moved.text, stored.text);
        // Made against revision 1, the same change now conflicts.
        assert_eq!(
            apply_change(Some(&moved), changes[0].clone(), 7).unwrap_err(),
            ChangeError::Conflict {
                id: stored.id.clone()
            }
        );
    }

    #[test]
    fn copies_are_new_memories_in_the_other_pool_without_history_or_use() {
        let mut stored = memory("a", "Answer briefly");
        stored.use_count = 9;
        stored.revision = 4;
        stored.pinned = true;
        let changes = bulk_changes(
            &BulkEdit::Copy {
                pool: "home".into(),
            },
            std::slice::from_ref(&stored),
            |original| MemoryId(format!("{}-copy", original.id)),
            50,
        );
        let copy = run(None, changes[0].clone(), 50).unwrap();
        assert_eq!(copy.id.as_str(), "a-copy");
        assert_eq!(
            (
                copy.pool.as_str(),
                copy.revision,
                copy.use_count,
                copy.pinned
            ),
            ("home", 1, 0, true)
        );
        assert_eq!(copy.text, stored.text);
        assert_eq!(copy.source, stored.source);
    }

    #[test]
    fn undoing_an_edit_restores_the_old_content_as_a_new_revision() {
        let before = memory("a", "I live in Lyon");
        let mut edit = before.clone();
        edit.text = "I live in Paris".into();
        let after = run(
            Some(&before),
            MemoryChange::Save {
                memory: edit,
                base_revision: Some(1),
                changed_by: ChangedBy::User,
            },
            10,
        )
        .unwrap();
        let undo = undo_change(Some(&before), Some(&after)).unwrap();
        let undone = run(Some(&after), undo, 20).unwrap();
        assert_eq!(undone.text, "I live in Lyon");
        assert_eq!(undone.revision, 3, "history only grows");
    }

    #[test]
    fn undoing_trash_restores_and_undoing_restore_trashes() {
        let live = memory("a", "fact");
        let trash = MemoryChange::Trash {
            id: live.id.clone(),
            base_revision: 1,
            changed_by: ChangedBy::User,
        };
        let trashed = run(Some(&live), trash, 10).unwrap();
        let undo = undo_change(Some(&live), Some(&trashed)).unwrap();
        let restored = run(Some(&trashed), undo, 11).unwrap();
        assert_eq!(restored.trashed_at, None);
        let undo_restore = undo_change(Some(&trashed), Some(&restored)).unwrap();
        assert!(run(Some(&restored), undo_restore, 12)
            .unwrap()
            .trashed_at
            .is_some());
    }

    #[test]
    fn undoing_an_addition_deletes_it_and_a_purge_cannot_be_undone() {
        let added = memory("a", "new");
        assert_eq!(
            undo_change(None, Some(&added)),
            Some(MemoryChange::Purge {
                id: added.id.clone()
            })
        );
        assert_eq!(undo_change(Some(&added), None), None);
        assert_eq!(undo_change(Some(&added), Some(&added)), None);
    }

    #[test]
    fn an_undo_made_stale_by_a_later_change_is_refused() {
        let before = memory("a", "v1");
        let mut after = before.clone();
        after.text = "v2".into();
        after.revision = 2;
        let undo = undo_change(Some(&before), Some(&after)).unwrap();
        let mut later = after.clone();
        later.text = "v3 from another tab".into();
        later.revision = 3;
        assert!(matches!(
            apply_change(Some(&later), undo, 30),
            Err(ChangeError::Conflict { .. })
        ));
    }

    #[test]
    fn a_case_draft_writes_its_text_from_the_case_fields() {
        let mut draft = MemoryDraft::blank("default");
        draft.kind = Kind::Case;
        draft.question = "  How do I restart the VPN? ".into();
        draft.answer = "Run vpn restart.".into();
        draft.outcome = Outcome::DidNotWork;
        draft.correction = "Use systemctl restart wg-quick@wg0.".into();
        let change = draft.to_change(None, MemoryId("m1".into()), 100).unwrap();
        let saved = run(None, change, 100).unwrap();
        let case = saved.case.as_ref().unwrap();
        assert_eq!(case.question, "How do I restart the VPN?");
        assert_eq!(case.outcome, Outcome::DidNotWork);
        assert!(saved.text.starts_with("How do I restart the VPN?"));
        assert!(saved.text.contains("Correct answer: Use systemctl"));
        assert_eq!(saved.source, Source::Manual);
        assert_eq!(
            MemoryDraft::of(&saved).correction,
            case.correction.clone().unwrap()
        );
    }

    #[test]
    fn changing_a_case_into_a_note_drops_its_case_fields() {
        let mut draft = MemoryDraft::blank("default");
        draft.kind = Kind::Case;
        draft.question = "Q?".into();
        let case = draft.apply_to(memory("a", "x")).unwrap();
        let mut note = MemoryDraft::of(&case);
        note.kind = Kind::Note;
        let note = note.apply_to(case).unwrap();
        assert_eq!((note.kind, note.case), (Kind::Note, None));
        assert_eq!(note.text, "Q?");
    }

    #[test]
    fn a_change_is_described_by_what_the_user_would_notice() {
        let before = memory("a", "I live in Lyon");
        let mut after = before.clone();
        after.text = "I live in Paris".into();
        after.pinned = true;
        after.pool = "home".into();
        assert_eq!(
            describe_change(&before, &after),
            ["Text edited", "Moved from pool default to home", "Pinned"]
        );
        let mut trashed = before.clone();
        trashed.trashed_at = Some(5);
        assert_eq!(describe_change(&before, &trashed), ["Moved to the trash"]);
        assert_eq!(
            describe_change(&trashed, &before),
            ["Restored from the trash"]
        );
        assert_eq!(
            describe_change(&before, &before),
            ["No change to its content"]
        );

        let mut draft = MemoryDraft::blank("default");
        draft.kind = Kind::Case;
        draft.question = "Q?".into();
        draft.answer = "A.".into();
        let case = draft.apply_to(before.clone()).unwrap();
        draft.outcome = Outcome::DidNotWork;
        draft.correction = "B.".into();
        let rated = draft.apply_to(case.clone()).unwrap();
        assert_eq!(
            describe_change(&case, &rated),
            ["Outcome: not rated → did not work", "Correction added"]
        );
        assert_eq!(
            describe_change(&before, &case),
            ["Kind: Fact → Case", "Text edited"]
        );
    }

    #[test]
    fn restoring_a_version_brings_back_its_content_but_not_its_trash_state() {
        let earlier = memory("a", "I live in Lyon");
        let mut current = earlier.clone();
        current.text = "I live in Paris".into();
        current.revision = 3;
        current.trashed_at = Some(50);
        let restored = run(Some(&current), restore_version(&current, &earlier), 60).unwrap();
        assert_eq!(restored.text, "I live in Lyon");
        assert_eq!((restored.revision, restored.trashed_at), (4, Some(50)));
    }

    #[test]
    fn drafts_that_cannot_be_saved_say_what_is_missing() {
        let blank = MemoryDraft::blank("default");
        assert_eq!(
            blank.apply_to(memory("a", "x")).unwrap_err(),
            DraftError::EmptyText
        );
        let mut case = MemoryDraft::blank("default");
        case.kind = Kind::Case;
        case.text = "text is not enough for a case".into();
        assert_eq!(
            case.apply_to(memory("a", "x")).unwrap_err(),
            DraftError::EmptyQuestion
        );
        let mut no_pool = MemoryDraft::blank(" ");
        no_pool.text = "x".into();
        assert_eq!(
            no_pool.apply_to(memory("a", "x")).unwrap_err(),
            DraftError::NoPool
        );
    }

    #[test]
    fn an_edit_keeps_what_the_form_does_not_show() {
        let mut stored = memory("a", "fact");
        stored.use_count = 3;
        stored.source = Source::Import {
            file_name: "x.json".into(),
        };
        let mut draft = MemoryDraft::of(&stored);
        draft.text = "fact, reworded".into();
        draft.pinned = true;
        let change = draft
            .to_change(Some(&stored), MemoryId("unused".into()), 9)
            .unwrap();
        let saved = run(Some(&stored), change, 9).unwrap();
        assert_eq!(saved.source, stored.source);
        assert_eq!(
            (saved.use_count, saved.pinned, saved.revision),
            (3, true, 2)
        );
    }
}
