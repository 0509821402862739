//! Switching the embedding model: what still needs a vector of the new model,
//! how far the switch is, when its vectors may replace the old ones, and whether
//! a switch may start at all.
//!
//! A switch never touches the vectors in use: the new model's vectors go to a
//! store of their own (`target_vectors`), each stamped with the model and the
//! memory revision it was computed from, and replace the old ones in one
//! transaction once every memory has a current one. Until then search keeps
//! working on the old vectors.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::core::bank::StoredVector;
use crate::core::index::Version;
use crate::core::memory::{Memory, MemoryId};

/// The settings record naming the model in use and the one a switch moves to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ModelChoice {
    /// The folder (absolute URL) of the model in use; `None`: the default model.
    #[serde(default)]
    pub active: Option<String>,
    /// The folder of the model being switched to, until the switch completes or
    /// is cancelled.
    #[serde(default)]
    pub switching_to: Option<String>,
}

impl ModelChoice {
    /// This choice with a switch to `target` under way.
    pub fn switching(&self, target: &str) -> ModelChoice {
        ModelChoice {
            active: self.active.clone(),
            switching_to: Some(target.to_owned()),
        }
    }

    /// This choice once the switch to `target` completed.
    pub fn completed(target: &str) -> ModelChoice {
        ModelChoice {
            active: Some(target.to_owned()),
            switching_to: None,
        }
    }

    /// This choice with no switch under way.
    pub fn without_switch(&self) -> ModelChoice {
        ModelChoice {
            active: self.active.clone(),
            switching_to: None,
        }
    }
}

/// What a stored target vector was computed with and for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetStamp {
    pub model_id: String,
    /// The memory revision whose text was embedded.
    pub version: Version,
}

impl From<&StoredVector> for TargetStamp {
    fn from(vector: &StoredVector) -> TargetStamp {
        TargetStamp {
            model_id: vector.model_id.clone(),
            version: vector.version,
        }
    }
}

/// Whether `stamp` is a vector of `model_id` for the memory's current text.
fn is_current(memory: &Memory, stamp: Option<&TargetStamp>, model_id: &str) -> bool {
    stamp.is_some_and(|stamp| stamp.model_id == model_id && stamp.version == memory.revision)
}

/// The memories (live and trashed alike) that have no current vector of
/// `model_id` yet, in id order: new ones, ones edited since they were embedded,
/// and ones embedded by another model (a switch that was given another folder).
pub fn needing_target<'a>(
    memories: impl IntoIterator<Item = &'a Memory>,
    stamps: &HashMap<MemoryId, TargetStamp>,
    model_id: &str,
) -> Vec<&'a Memory> {
    let mut pending: Vec<&Memory> = memories
        .into_iter()
        .filter(|memory| !is_current(memory, stamps.get(&memory.id), model_id))
        .collect();
    pending.sort_by(|a, b| a.id.cmp(&b.id));
    pending
}

/// How far a switch is: `done` of `total` memories have a current vector of the
/// new model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SwitchProgress {
    pub done: u64,
    pub total: u64,
}

impl SwitchProgress {
    /// `remaining` of `total` memories still need a vector.
    pub fn of(total: usize, remaining: usize) -> SwitchProgress {
        SwitchProgress {
            done: total.saturating_sub(remaining) as u64,
            total: total as u64,
        }
    }
}

/// The vectors that replace the current ones, if the switch is complete: one
/// current vector of `model_id` for every memory in `memories` (vectors of
/// memories deleted meanwhile are left out). `None` while any memory still
/// lacks one, e.g. because it was edited after the pass looked.
pub fn completed_vectors(
    memories: &[Memory],
    targets: Vec<StoredVector>,
    model_id: &str,
) -> Option<Vec<StoredVector>> {
    let mut by_id: HashMap<MemoryId, StoredVector> = targets
        .into_iter()
        .map(|vector| (vector.memory_id.clone(), vector))
        .collect();
    memories
        .iter()
        .map(|memory| {
            let vector = by_id.remove(&memory.id)?;
            is_current(memory, Some(&TargetStamp::from(&vector)), model_id).then_some(vector)
        })
        .collect()
}

/// Why a switch cannot start.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SwitchError {
    #[error("Type the address of the model's folder (for example models/another-model/).")]
    EmptyUrl,
    #[error("This folder holds {id}, the model already in use: there is nothing to re-embed.")]
    SameModel { id: String },
    #[error("A switch to {url} is under way: cancel it first.")]
    AnotherSwitch { url: String },
}

/// Whether a switch to the model `target_id` in the folder `target_url` starts
/// afresh or resumes one left unfinished (by a reload: its vectors are kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchPlan {
    Start,
    Resume,
}

/// Decides whether the switch to `target_url` (whose model has `target_id`) may
/// run, given the model whose vectors are in use (`None`: no model loaded) and
/// the stored choice.
pub fn plan_switch(
    target_url: &str,
    target_id: &str,
    current_id: Option<&str>,
    choice: &ModelChoice,
) -> Result<SwitchPlan, SwitchError> {
    if current_id == Some(target_id) {
        return Err(SwitchError::SameModel {
            id: target_id.to_owned(),
        });
    }
    match &choice.switching_to {
        Some(url) if url == target_url => Ok(SwitchPlan::Resume),
        Some(url) => Err(SwitchError::AnotherSwitch { url: url.clone() }),
        None => Ok(SwitchPlan::Start),
    }
}

/// The folder address the user typed, made into a folder (ending in `/`, since
/// the model's files are resolved against it).
pub fn folder_url(input: &str) -> Result<String, SwitchError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(SwitchError::EmptyUrl);
    }
    Ok(if trimmed.ends_with('/') {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::memory::{Kind, Source};

    fn memory(id: &str, revision: u32) -> Memory {
        let mut memory = Memory::new(
            MemoryId(id.into()),
            Kind::Note,
            format!("text of {id}"),
            Source::Manual,
            1,
        );
        memory.revision = revision;
        memory
    }

    fn stamp(model_id: &str, version: Version) -> TargetStamp {
        TargetStamp {
            model_id: model_id.into(),
            version,
        }
    }

    fn vector(id: &str, model_id: &str, version: Version) -> StoredVector {
        StoredVector {
            memory_id: MemoryId(id.into()),
            model_id: model_id.into(),
            version,
            vector: vec![1.0, 0.0],
        }
    }

    #[test]
    fn new_edited_and_other_model_memories_need_a_target_vector() {
        let memories = [
            memory("a", 1),
            memory("b", 3),
            memory("c", 2),
            memory("d", 1),
        ];
        let stamps = HashMap::from([
            (MemoryId("a".into()), stamp("new", 1)),
            // Embedded at revision 2, edited since.
            (MemoryId("b".into()), stamp("new", 2)),
            // Left by a switch to another folder's model.
            (MemoryId("c".into()), stamp("other", 2)),
        ]);
        let pending: Vec<&str> = needing_target(&memories, &stamps, "new")
            .iter()
            .map(|memory| memory.id.as_str())
            .collect();
        assert_eq!(pending, ["b", "c", "d"]);
        assert!(needing_target(&memories[..1], &stamps, "new").is_empty());
    }

    #[test]
    fn progress_counts_memories_with_a_current_vector() {
        assert_eq!(
            SwitchProgress::of(10, 3),
            SwitchProgress { done: 7, total: 10 }
        );
        assert_eq!(
            SwitchProgress::of(0, 0),
            SwitchProgress { done: 0, total: 0 }
        );
        // Memories added meanwhile never make progress negative.
        assert_eq!(SwitchProgress::of(2, 5).done, 0);
    }

    #[test]
    fn the_switch_completes_only_when_every_memory_has_a_current_vector() {
        let memories = [memory("a", 1), memory("b", 2)];
        let complete = completed_vectors(
            &memories,
            vec![
                vector("b", "new", 2),
                vector("a", "new", 1),
                // A memory purged during the switch: its vector is not installed.
                vector("gone", "new", 1),
            ],
            "new",
        )
        .expect("complete");
        let ids: Vec<&str> = complete.iter().map(|v| v.memory_id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);

        let edited_since = vec![vector("a", "new", 1), vector("b", "new", 1)];
        assert_eq!(completed_vectors(&memories, edited_since, "new"), None);
        let missing = vec![vector("a", "new", 1)];
        assert_eq!(completed_vectors(&memories, missing, "new"), None);
        let other_model = vec![vector("a", "new", 1), vector("b", "old", 2)];
        assert_eq!(completed_vectors(&memories, other_model, "new"), None);
        assert_eq!(completed_vectors(&[], Vec::new(), "new"), Some(Vec::new()));
    }

    #[test]
    fn a_switch_starts_resumes_or_says_why_not() {
        let idle = ModelChoice::default();
        assert_eq!(
            plan_switch("https://x/m2/", "m2", Some("m1"), &idle),
            Ok(SwitchPlan::Start)
        );
        // With no model loaded every memory needs the new one anyway.
        assert_eq!(
            plan_switch("https://x/m2/", "m2", None, &idle),
            Ok(SwitchPlan::Start)
        );
        let under_way = idle.switching("https://x/m2/");
        assert_eq!(
            plan_switch("https://x/m2/", "m2", Some("m1"), &under_way),
            Ok(SwitchPlan::Resume)
        );
        assert_eq!(
            plan_switch("https://x/m3/", "m3", Some("m1"), &under_way),
            Err(SwitchError::AnotherSwitch {
                url: "https://x/m2/".into()
            })
        );
        let same = plan_switch("https://x/copy/", "m1", Some("m1"), &idle).unwrap_err();
        assert_eq!(same, SwitchError::SameModel { id: "m1".into() });
        assert!(same.to_string().contains("already in use"));
    }

    #[test]
    fn the_choice_records_a_switch_and_its_end() {
        let choice = ModelChoice {
            active: Some("https://x/m1/".into()),
            switching_to: None,
        };
        let switching = choice.switching("https://x/m2/");
        assert_eq!(switching.active, choice.active);
        assert_eq!(switching.without_switch(), choice);
        assert_eq!(
            ModelChoice::completed("https://x/m2/"),
            ModelChoice {
                active: Some("https://x/m2/".into()),
                switching_to: None
            }
        );
        // Records written before a field existed still read.
        let old: ModelChoice = serde_json::from_str("{}").unwrap();
        assert_eq!(old, ModelChoice::default());
    }

    #[test]
    fn typed_addresses_become_folders_and_blank_ones_are_refused() {
        assert_eq!(folder_url(" models/copy ").unwrap(), "models/copy/");
        assert_eq!(
            folder_url("https://example.org/m/").unwrap(),
            "https://example.org/m/"
        );
        assert_eq!(folder_url("   "), Err(SwitchError::EmptyUrl));
    }
}
