//! The IndexedDB schema, as an ordered list of migrations.
//!
//! IndexedDB versions a database with one integer. Each [`Migration`] moves the
//! database from `version - 1` to `version`; opening the database applies every
//! migration newer than the stored version, in order, inside the single
//! `versionchange` transaction the browser gives us. Either all of them commit or
//! none does, so a crash mid-upgrade leaves the old database intact.
//!
//! The schema is data, not code, so it can be checked here natively: versions are
//! contiguous, every step names a store that exists at that point, and the shape
//! of the database at any version can be computed ([`Schema::stores_at`]).

use std::collections::BTreeMap;

use serde_json::Value;
use thiserror::Error;

/// Rewrites one stored record during a migration: `Ok(Some(new))` replaces it,
/// `Ok(None)` deletes it, `Err(reason)` aborts the whole upgrade.
pub type RewriteRecord = fn(Value) -> Result<Option<Value>, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDef {
    pub name: &'static str,
    pub key_path: &'static str,
    pub unique: bool,
    pub multi_entry: bool,
}

#[derive(Debug, Clone, Copy)]
pub enum Step {
    CreateStore {
        name: &'static str,
        /// Records are keyed by this field (IndexedDB in-line keys).
        key_path: &'static str,
    },
    DeleteStore {
        name: &'static str,
    },
    CreateIndex {
        store: &'static str,
        index: IndexDef,
    },
    DeleteIndex {
        store: &'static str,
        name: &'static str,
    },
    /// Rewrites every record of `store` (e.g. to add a field with a default).
    RewriteRecords {
        store: &'static str,
        rewrite: RewriteRecord,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version this migration produces.
    pub version: u32,
    pub description: &'static str,
    pub steps: &'static [Step],
}

#[derive(Debug, Clone, Copy)]
pub struct Schema {
    pub database_name: &'static str,
    pub migrations: &'static [Migration],
}

/// The shape of one object store at a given version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreShape {
    pub key_path: &'static str,
    pub indexes: BTreeMap<&'static str, IndexDef>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SchemaError {
    #[error(
        "migration {position} has version {found}; versions must count up from 1 without gaps"
    )]
    VersionOutOfOrder { position: usize, found: u32 },
    #[error("version {version}: store `{store}` already exists")]
    StoreExists { version: u32, store: &'static str },
    #[error("version {version}: store `{store}` does not exist")]
    NoSuchStore { version: u32, store: &'static str },
    #[error("version {version}: index `{index}` on `{store}` already exists")]
    IndexExists {
        version: u32,
        store: &'static str,
        index: &'static str,
    },
    #[error("version {version}: index `{index}` on `{store}` does not exist")]
    NoSuchIndex {
        version: u32,
        store: &'static str,
        index: &'static str,
    },
}

impl Schema {
    /// The version a fully migrated database has (0 if there are no migrations).
    pub fn latest_version(&self) -> u32 {
        self.migrations.last().map_or(0, |m| m.version)
    }

    /// The migrations a database stored at `stored_version` still needs, in order.
    pub fn pending(&self, stored_version: u32) -> &'static [Migration] {
        let first_pending = self
            .migrations
            .iter()
            .position(|m| m.version > stored_version)
            .unwrap_or(self.migrations.len());
        &self.migrations[first_pending..]
    }

    /// Checks that the migrations are well formed and returns the final shape.
    pub fn validate(&self) -> Result<BTreeMap<&'static str, StoreShape>, SchemaError> {
        self.simulate(self.latest_version())
    }

    /// The stores (and their indexes) a database has at `version`.
    ///
    /// # Panics
    /// If the schema is invalid; [`Schema::validate`] reports why.
    pub fn stores_at(&self, version: u32) -> BTreeMap<&'static str, StoreShape> {
        self.simulate(version)
            .unwrap_or_else(|error| panic!("invalid schema {}: {error}", self.database_name))
    }

    fn simulate(&self, up_to: u32) -> Result<BTreeMap<&'static str, StoreShape>, SchemaError> {
        let mut stores: BTreeMap<&'static str, StoreShape> = BTreeMap::new();
        for (position, migration) in self.migrations.iter().enumerate() {
            if migration.version as usize != position + 1 {
                return Err(SchemaError::VersionOutOfOrder {
                    position,
                    found: migration.version,
                });
            }
            if migration.version > up_to {
                break;
            }
            let version = migration.version;
            for step in migration.steps {
                apply_to_shape(&mut stores, version, step)?;
            }
        }
        Ok(stores)
    }
}

fn apply_to_shape(
    stores: &mut BTreeMap<&'static str, StoreShape>,
    version: u32,
    step: &Step,
) -> Result<(), SchemaError> {
    match *step {
        Step::CreateStore { name, key_path } => {
            if stores.contains_key(name) {
                return Err(SchemaError::StoreExists {
                    version,
                    store: name,
                });
            }
            stores.insert(
                name,
                StoreShape {
                    key_path,
                    indexes: BTreeMap::new(),
                },
            );
        }
        Step::DeleteStore { name } => {
            stores.remove(name).ok_or(SchemaError::NoSuchStore {
                version,
                store: name,
            })?;
        }
        Step::CreateIndex { store, index } => {
            let shape = stores
                .get_mut(store)
                .ok_or(SchemaError::NoSuchStore { version, store })?;
            if shape.indexes.insert(index.name, index).is_some() {
                return Err(SchemaError::IndexExists {
                    version,
                    store,
                    index: index.name,
                });
            }
        }
        Step::DeleteIndex { store, name } => {
            let shape = stores
                .get_mut(store)
                .ok_or(SchemaError::NoSuchStore { version, store })?;
            shape.indexes.remove(name).ok_or(SchemaError::NoSuchIndex {
                version,
                store,
                index: name,
            })?;
        }
        Step::RewriteRecords { store, .. } => {
            if !stores.contains_key(store) {
                return Err(SchemaError::NoSuchStore { version, store });
            }
        }
    }
    Ok(())
}

/// Store names of the Casebook database, in one place so that code never spells
/// them twice.
pub mod stores {
    pub const MEMORIES: &str = "memories";
    pub const VECTORS: &str = "vectors";
    pub const INDEX_SNAPSHOTS: &str = "index_snapshots";
    pub const CONVERSATIONS: &str = "conversations";
    pub const SETTINGS: &str = "settings";
    /// Earlier states of memories (undo, history), keyed `<memory id>/<revision>`.
    pub const REVISIONS: &str = "revisions";
    pub const DOCUMENTS: &str = "documents";
    pub const POOLS: &str = "pools";
    pub const ASSISTANTS: &str = "assistants";
    /// Memory changes proposed by automatic extraction, waiting for review.
    pub const INBOX: &str = "inbox";
    pub const EVALUATIONS: &str = "evaluations";
    /// Vectors of the embedding model being switched to, keyed by memory id
    /// like `vectors`; they replace `vectors` when every memory has one.
    pub const TARGET_VECTORS: &str = "target_vectors";
}

/// Index names, for the same reason.
pub mod indexes {
    /// On `revisions`: every revision of one memory.
    pub const REVISIONS_BY_MEMORY: &str = "by_memory";
}

/// The Casebook database. Append a migration to change it; never edit a released one.
pub const CASEBOOK: Schema = Schema {
    database_name: "casebook",
    migrations: &[
        Migration {
            version: 1,
            description: "memories, their vectors, index snapshots, conversations, settings",
            steps: &[
                Step::CreateStore {
                    name: stores::MEMORIES,
                    key_path: "id",
                },
                Step::CreateStore {
                    name: stores::VECTORS,
                    key_path: "memory_id",
                },
                Step::CreateStore {
                    name: stores::INDEX_SNAPSHOTS,
                    key_path: "name",
                },
                Step::CreateStore {
                    name: stores::CONVERSATIONS,
                    key_path: "id",
                },
                Step::CreateStore {
                    name: stores::SETTINGS,
                    key_path: "key",
                },
            ],
        },
        Migration {
            version: 2,
            description: "revisions, documents, pools, assistants, extraction inbox, evaluations",
            steps: &[
                Step::CreateStore {
                    name: stores::REVISIONS,
                    key_path: "key",
                },
                Step::CreateIndex {
                    store: stores::REVISIONS,
                    index: IndexDef {
                        name: indexes::REVISIONS_BY_MEMORY,
                        key_path: "memory_id",
                        unique: false,
                        multi_entry: false,
                    },
                },
                Step::CreateStore {
                    name: stores::DOCUMENTS,
                    key_path: "id",
                },
                Step::CreateStore {
                    name: stores::POOLS,
                    key_path: "id",
                },
                Step::CreateStore {
                    name: stores::ASSISTANTS,
                    key_path: "id",
                },
                Step::CreateStore {
                    name: stores::INBOX,
                    key_path: "id",
                },
                Step::CreateStore {
                    name: stores::EVALUATIONS,
                    key_path: "id",
                },
            ],
        },
        Migration {
            version: 3,
            description: "vectors of the embedding model being switched to",
            steps: &[Step::CreateStore {
                name: stores::TARGET_VECTORS,
                key_path: "memory_id",
            }],
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn add_title(mut record: Value) -> Result<Option<Value>, String> {
        record["title"] = Value::from("untitled");
        Ok(Some(record))
    }

    const TWO_VERSIONS: Schema = Schema {
        database_name: "test",
        migrations: &[
            Migration {
                version: 1,
                description: "notes",
                steps: &[Step::CreateStore {
                    name: "notes",
                    key_path: "id",
                }],
            },
            Migration {
                version: 2,
                description: "titles and tags",
                steps: &[
                    Step::RewriteRecords {
                        store: "notes",
                        rewrite: add_title,
                    },
                    Step::CreateIndex {
                        store: "notes",
                        index: IndexDef {
                            name: "by_title",
                            key_path: "title",
                            unique: false,
                            multi_entry: false,
                        },
                    },
                    Step::CreateStore {
                        name: "tags",
                        key_path: "name",
                    },
                ],
            },
        ],
    };

    #[test]
    fn casebook_schema_is_valid_and_has_every_store_the_app_uses() {
        let shape = CASEBOOK.validate().expect("valid schema");
        let names: Vec<_> = shape.keys().copied().collect();
        assert_eq!(
            names,
            [
                stores::ASSISTANTS,
                stores::CONVERSATIONS,
                stores::DOCUMENTS,
                stores::EVALUATIONS,
                stores::INBOX,
                stores::INDEX_SNAPSHOTS,
                stores::MEMORIES,
                stores::POOLS,
                stores::REVISIONS,
                stores::SETTINGS,
                stores::TARGET_VECTORS,
                stores::VECTORS
            ]
        );
        assert_eq!(shape[stores::VECTORS].key_path, "memory_id");
        assert!(shape[stores::REVISIONS]
            .indexes
            .contains_key(indexes::REVISIONS_BY_MEMORY));
    }

    #[test]
    fn version_3_adds_only_the_target_vectors_store_keyed_like_vectors() {
        assert_eq!(CASEBOOK.latest_version(), 3);
        let pending: Vec<u32> = CASEBOOK.pending(2).iter().map(|m| m.version).collect();
        assert_eq!(pending, [3]);
        let v2 = CASEBOOK.stores_at(2);
        let v3 = CASEBOOK.stores_at(3);
        assert!(!v2.contains_key(stores::TARGET_VECTORS));
        let added: Vec<_> = v3.keys().filter(|name| !v2.contains_key(*name)).collect();
        assert_eq!(added, [&stores::TARGET_VECTORS]);
        // Every version-2 store keeps its shape.
        for (name, shape) in &v2 {
            assert_eq!(&v3[name], shape, "{name}");
        }
        assert_eq!(
            v3[stores::TARGET_VECTORS].key_path,
            v3[stores::VECTORS].key_path
        );
        assert!(v3[stores::TARGET_VECTORS].indexes.is_empty());
    }

    #[test]
    fn pending_lists_only_newer_migrations_in_order() {
        let versions = |from| -> Vec<u32> {
            TWO_VERSIONS
                .pending(from)
                .iter()
                .map(|m| m.version)
                .collect()
        };
        assert_eq!(versions(0), [1, 2]);
        assert_eq!(versions(1), [2]);
        assert_eq!(versions(2), Vec::<u32>::new());
        assert_eq!(TWO_VERSIONS.latest_version(), 2);
    }

    #[test]
    fn shape_at_each_version_reflects_the_steps_so_far() {
        let v1 = TWO_VERSIONS.stores_at(1);
        assert_eq!(v1.keys().copied().collect::<Vec<_>>(), ["notes"]);
        assert!(v1["notes"].indexes.is_empty());
        let v2 = TWO_VERSIONS.stores_at(2);
        assert_eq!(v2.keys().copied().collect::<Vec<_>>(), ["notes", "tags"]);
        assert!(v2["notes"].indexes.contains_key("by_title"));
    }

    #[test]
    fn malformed_schemas_are_rejected_with_the_offending_version() {
        const GAP: Schema = Schema {
            database_name: "gap",
            migrations: &[Migration {
                version: 2,
                description: "",
                steps: &[],
            }],
        };
        assert_eq!(
            GAP.validate().unwrap_err(),
            SchemaError::VersionOutOfOrder {
                position: 0,
                found: 2
            }
        );

        const REWRITE_MISSING: Schema = Schema {
            database_name: "missing",
            migrations: &[Migration {
                version: 1,
                description: "",
                steps: &[Step::RewriteRecords {
                    store: "ghosts",
                    rewrite: add_title,
                }],
            }],
        };
        assert_eq!(
            REWRITE_MISSING.validate().unwrap_err(),
            SchemaError::NoSuchStore {
                version: 1,
                store: "ghosts"
            }
        );

        const TWICE: Schema = Schema {
            database_name: "twice",
            migrations: &[Migration {
                version: 1,
                description: "",
                steps: &[
                    Step::CreateStore {
                        name: "a",
                        key_path: "id",
                    },
                    Step::CreateStore {
                        name: "a",
                        key_path: "id",
                    },
                ],
            }],
        };
        assert_eq!(
            TWICE.validate().unwrap_err(),
            SchemaError::StoreExists {
                version: 1,
                store: "a"
            }
        );
    }
}
