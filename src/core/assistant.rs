//! Assistants and memory pools.
//!
//! Every memory belongs to one pool. An assistant writes what it learns into its
//! own pool and reads from it plus any shared pools it is given, so a "work"
//! assistant and a "home" assistant keep their memories apart while both can read
//! a shared "about me" pool.

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assistant_reads_its_own_pool_then_shared_ones_once_each() {
        let assistant = Assistant {
            shared_pools: vec!["about-me".into(), DEFAULT_POOL.into(), "about-me".into()],
            ..Assistant::default_assistant()
        };
        assert_eq!(assistant.readable_pools(), [DEFAULT_POOL, "about-me"]);
    }
}
