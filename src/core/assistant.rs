//! Assistants and memory pools.
//!
//! Every memory belongs to one pool. An assistant writes what it learns into its
//! own pool and reads from it plus any shared pools it is given, so a "work"
//! assistant and a "home" assistant keep their memories apart while both can read
//! a shared "about me" pool.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::core::memory::DEFAULT_POOL;

/// A named pool of memories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// What memories carry in their `pool` field.
    pub id: String,
    pub name: String,
    /// Shown to the user; not used for retrieval.
    #[serde(default)]
    pub description: String,
}

impl Pool {
    pub fn default_pool() -> Pool {
        Pool {
            id: DEFAULT_POOL.to_owned(),
            name: "General".to_owned(),
            description: String::new(),
        }
    }
}

/// An assistant: a system prompt, a provider profile, and the pools it reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assistant {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub system_prompt: String,
    /// The provider profile its answers come from (`None`: the default profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    /// The pool it writes new memories into (and reads).
    pub pool: String,
    /// Further pools it reads but does not write.
    #[serde(default)]
    pub shared_pools: Vec<String>,
}

/// The assistant every new store starts with.
pub const DEFAULT_ASSISTANT: &str = "default";

impl Assistant {
    pub fn default_assistant() -> Assistant {
        Assistant {
            id: DEFAULT_ASSISTANT.to_owned(),
            name: "Assistant".to_owned(),
            system_prompt: String::new(),
            profile_id: None,
            pool: DEFAULT_POOL.to_owned(),
            shared_pools: Vec::new(),
        }
    }

    /// Every pool this assistant reads: its own first, then the shared ones.
    pub fn readable_pools(&self) -> Vec<String> {
        let mut pools = vec![self.pool.clone()];
        for pool in &self.shared_pools {
            if !pools.contains(pool) {
                pools.push(pool.clone());
            }
        }
        pools
    }
}

/// The longest name of a pool or an assistant, in characters.
pub const MAX_NAME_CHARS: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PoolError {
    #[error("Give it a name.")]
    EmptyName,
    #[error("That name is {chars} characters long; {MAX_NAME_CHARS} at most.")]
    NameTooLong { chars: usize },
    #[error("There is no pool {0:?}; choose one of the listed pools.")]
    NoSuchPool(String),
    #[error("The general pool cannot be deleted: new memories go there when nothing else is set.")]
    DefaultPool,
    #[error("{assistants} writes its memories into this pool; give it another pool first.")]
    PoolInUse { assistants: String },
    #[error("This pool still holds {memories} memories; move them to another pool first.")]
    PoolNotEmpty { memories: usize },
    #[error("The default assistant cannot be deleted: the chat needs one to answer.")]
    DefaultAssistant,
}

/// The pools and assistants as stored, completed so that the app always has
/// what it needs: the general pool and the default assistant exist, and every
/// pool an assistant names exists (named after its id if it was lost).
pub fn with_defaults(
    mut pools: Vec<Pool>,
    assistants: Vec<Assistant>,
) -> (Vec<Pool>, Vec<Assistant>) {
    let assistants = with_default_assistant(assistants);
    if !pools.iter().any(|pool| pool.id == DEFAULT_POOL) {
        pools.insert(0, Pool::default_pool());
    }
    let named: Vec<String> = assistants
        .iter()
        .flat_map(Assistant::readable_pools)
        .collect();
    for id in named {
        if !pools.iter().any(|pool| pool.id == id) {
            pools.push(Pool {
                name: id.clone(),
                id,
                description: String::new(),
            });
        }
    }
    (pools, assistants)
}

/// The assistants as stored, with the default assistant first if it is not
/// among them (it is only stored once the user edits it).
pub fn with_default_assistant(mut assistants: Vec<Assistant>) -> Vec<Assistant> {
    if !assistants
        .iter()
        .any(|assistant| assistant.id == DEFAULT_ASSISTANT)
    {
        assistants.insert(0, Assistant::default_assistant());
    }
    assistants
}

/// The name of pool `id` among `pools` (its id if it is unknown, e.g. lost).
pub fn pool_name(pools: &[Pool], id: &str) -> String {
    pools
        .iter()
        .find(|pool| pool.id == id)
        .map_or_else(|| id.to_owned(), |pool| pool.name.clone())
}

/// A name as it will be stored: trimmed, and refused if empty or too long.
pub fn check_name(name: &str) -> Result<String, PoolError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(PoolError::EmptyName);
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(PoolError::NameTooLong { chars });
    }
    Ok(name.to_owned())
}

/// A new id derived from `name` ("Work notes" → "work-notes"), made unique
/// among `taken` by a number suffix.
pub fn new_id(name: &str, taken: &[&str]) -> String {
    let mut base = String::new();
    for character in name.trim().chars().flat_map(char::to_lowercase) {
        if character.is_alphanumeric() {
            base.push(character);
        } else if !base.is_empty() && !base.ends_with('-') {
            base.push('-');
        }
    }
    let base = base.trim_end_matches('-');
    let base: String = if base.is_empty() {
        "pool".to_owned()
    } else {
        base.chars().take(40).collect()
    };
    if !taken.contains(&base.as_str()) {
        return base;
    }
    (2..)
        .map(|number| format!("{base}-{number}"))
        .find(|candidate| !taken.contains(&candidate.as_str()))
        .unwrap_or(base)
}

/// Checks an assistant before it is saved: a name, and pools that exist.
pub fn check_assistant(assistant: &Assistant, pools: &[Pool]) -> Result<Assistant, PoolError> {
    let name = check_name(&assistant.name)?;
    for pool in assistant.readable_pools() {
        if !pools.iter().any(|known| known.id == pool) {
            return Err(PoolError::NoSuchPool(pool));
        }
    }
    let mut checked = assistant.clone();
    checked.name = name;
    checked.shared_pools = assistant.readable_pools().into_iter().skip(1).collect();
    Ok(checked)
}

/// Whether the pool `id` may be deleted, given the assistants and how many
/// memories (live or in the trash) it holds.
pub fn check_pool_deletion(
    id: &str,
    assistants: &[Assistant],
    memories: usize,
) -> Result<(), PoolError> {
    if id == DEFAULT_POOL {
        return Err(PoolError::DefaultPool);
    }
    let writers: Vec<&str> = assistants
        .iter()
        .filter(|assistant| assistant.pool == id)
        .map(|assistant| assistant.name.as_str())
        .collect();
    if !writers.is_empty() {
        return Err(PoolError::PoolInUse {
            assistants: writers.join(", "),
        });
    }
    if memories > 0 {
        return Err(PoolError::PoolNotEmpty { memories });
    }
    Ok(())
}

/// The assistants once pool `id` is deleted: none reads it any more.
pub fn without_pool(assistants: &[Assistant], id: &str) -> Vec<Assistant> {
    assistants
        .iter()
        .map(|assistant| {
            let mut changed = assistant.clone();
            changed.shared_pools.retain(|pool| pool != id);
            changed
        })
        .collect()
}

/// Whether the assistant `id` may be deleted.
pub fn check_assistant_deletion(id: &str) -> Result<(), PoolError> {
    if id == DEFAULT_ASSISTANT {
        return Err(PoolError::DefaultAssistant);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(id: &str) -> Pool {
        Pool {
            id: id.into(),
            name: id.into(),
            description: String::new(),
        }
    }

    #[test]
    fn an_empty_store_gets_the_general_pool_and_the_default_assistant() {
        let (pools, assistants) = with_defaults(Vec::new(), Vec::new());
        assert_eq!(pools, [Pool::default_pool()]);
        assert_eq!(assistants, [Assistant::default_assistant()]);
    }

    #[test]
    fn stored_records_are_kept_and_lost_pools_come_back_by_id() {
        let work = Assistant {
            id: "work".into(),
            name: "Work".into(),
            pool: "work".into(),
            shared_pools: vec!["about-me".into()],
            ..Assistant::default_assistant()
        };
        let (pools, assistants) = with_defaults(vec![pool("work")], vec![work.clone()]);
        let ids: Vec<&str> = pools.iter().map(|pool| pool.id.as_str()).collect();
        assert_eq!(ids, [DEFAULT_POOL, "work", "about-me"]);
        assert_eq!(assistants.len(), 2);
        assert_eq!(assistants[1], work);
    }

    #[test]
    fn the_default_assistant_is_offered_beside_stored_ones() {
        let work = Assistant {
            id: "work".into(),
            name: "Work".into(),
            ..Assistant::default_assistant()
        };
        let offered = with_default_assistant(vec![work.clone()]);
        assert_eq!(offered, vec![Assistant::default_assistant(), work.clone()]);
        let edited_default = Assistant {
            name: "Mine".into(),
            ..Assistant::default_assistant()
        };
        let stored = vec![work, edited_default];
        assert_eq!(with_default_assistant(stored.clone()), stored);
    }

    #[test]
    fn a_pool_is_named_by_its_name_or_else_its_id() {
        let pools = [Pool::default_pool(), pool("work")];
        assert_eq!(pool_name(&pools, "default"), "General");
        assert_eq!(pool_name(&pools, "lost"), "lost");
    }

    #[test]
    fn ids_are_made_from_names_and_never_collide() {
        assert_eq!(new_id("  Work notes! ", &[]), "work-notes");
        assert_eq!(new_id("Work notes", &["work-notes"]), "work-notes-2");
        assert_eq!(
            new_id("Work notes", &["work-notes", "work-notes-2"]),
            "work-notes-3"
        );
        assert_eq!(new_id("???", &[]), "pool");
        assert_eq!(new_id("Café Lyon", &[]), "café-lyon");
    }

    #[test]
    fn names_are_trimmed_and_must_be_there() {
        assert_eq!(check_name("  Home "), Ok("Home".into()));
        assert_eq!(check_name("   "), Err(PoolError::EmptyName));
        assert!(matches!(
            check_name(&"x".repeat(MAX_NAME_CHARS + 1)),
            Err(PoolError::NameTooLong { .. })
        ));
    }

    #[test]
    fn an_assistant_must_name_pools_that_exist() {
        let pools = [Pool::default_pool(), pool("home")];
        let mut assistant = Assistant {
            name: " Home helper ".into(),
            pool: "home".into(),
            shared_pools: vec![DEFAULT_POOL.into(), "home".into()],
            ..Assistant::default_assistant()
        };
        let checked = check_assistant(&assistant, &pools).unwrap();
        assert_eq!(checked.name, "Home helper");
        assert_eq!(
            checked.shared_pools,
            [DEFAULT_POOL],
            "its own pool is not shared with itself"
        );
        assistant.shared_pools = vec!["gone".into()];
        assert_eq!(
            check_assistant(&assistant, &pools),
            Err(PoolError::NoSuchPool("gone".into()))
        );
    }

    #[test]
    fn a_pool_in_use_or_holding_memories_is_not_deleted() {
        let writer = Assistant {
            name: "Work".into(),
            pool: "work".into(),
            ..Assistant::default_assistant()
        };
        assert_eq!(
            check_pool_deletion(DEFAULT_POOL, &[], 0),
            Err(PoolError::DefaultPool)
        );
        assert_eq!(
            check_pool_deletion("work", std::slice::from_ref(&writer), 0),
            Err(PoolError::PoolInUse {
                assistants: "Work".into()
            })
        );
        assert_eq!(
            check_pool_deletion("old", std::slice::from_ref(&writer), 3),
            Err(PoolError::PoolNotEmpty { memories: 3 })
        );
        assert_eq!(check_pool_deletion("old", &[writer], 0), Ok(()));
        let reader = Assistant {
            shared_pools: vec!["old".into(), "other".into()],
            ..Assistant::default_assistant()
        };
        assert_eq!(without_pool(&[reader], "old")[0].shared_pools, ["other"]);
        assert_eq!(
            check_assistant_deletion(DEFAULT_ASSISTANT),
            Err(PoolError::DefaultAssistant)
        );
    }

    #[test]
    fn an_assistant_reads_its_own_pool_then_shared_ones_once_each() {
        let assistant = Assistant {
            shared_pools: vec!["about-me".into(), DEFAULT_POOL.into(), "about-me".into()],
            ..Assistant::default_assistant()
        };
        assert_eq!(assistant.readable_pools(), [DEFAULT_POOL, "about-me"]);
    }
}
